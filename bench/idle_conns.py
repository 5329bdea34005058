#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, makes one small request on each (HTTP/1.1 GET,
or with --h2 an HTTP/2 prior-knowledge GET), reads the answer, then holds them idle.
Prints "ready N" on stdout once every connection has been answered, then waits for stdin
to close (the caller measures the server meanwhile)."""
import socket, sys, time

def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    h2 = "--h2" in sys.argv
    path = b"/hello.txt" if "--nginx" in sys.argv else b"/"
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    if h2:
        # Preface, empty SETTINGS, HEADERS(GET path) with END_STREAM|END_HEADERS (HPACK literals).
        block = bytes([0x82, 0x86, 0x04, len(path)]) + path + bytes([0x01, 9]) + b"localhost"
        hdr = len(block).to_bytes(3, "big") + bytes([1, 5]) + (1).to_bytes(4, "big")
        req = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]) + hdr + block
    else:
        req = b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    for s in socks:
        s.sendall(req)
    for s in socks:
        s.settimeout(30)
        got = b""
        while b"hello" not in got:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("a connection closed early")
            got += chunk
    print("ready", len(socks), flush=True)
    sys.stdin.read()

main()
