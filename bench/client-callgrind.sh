#!/usr/bin/env bash
# Instructions per request of the client (callgrind), independent of the machine's load:
# (Ir of a run with 6,000 requests - Ir of a run with 1,000) / 5,000, which removes start-up,
# connection set-up and TLS handshakes. Only the client process is counted.
#   bench/client-callgrind.sh SLOTNET_FETCH HTTP_PORT HTTPS_PORT
# against a server with /hello.txt on HTTP_PORT (HTTP/1.1) and HTTPS_PORT (TLS, h2 and
# http/1.1 by ALPN), e.g. nginx with bench/nginx.conf (ports 29080 and 29443).
set -euo pipefail
FETCH=$1 HTTP=${2:-29080} HTTPS=${3:-29443}
OUT=$(mktemp -d)
ir() { # ir N ARGS...: total instructions of one run
    local n=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$n" "$FETCH" --bench --repeat "$n" "$@" \
        > /dev/null 2> "$OUT/log.$n"
    sed -n 's/^summary: //p' "$OUT/cg.$n"
}
per_request() {
    local label=$1; shift
    local a b
    a=$(ir 1000 "$@"); b=$(ir 6000 "$@")
    printf '%s: %d instructions per request\n' "$label" $(((b - a) / 5000))
}
per_request "HTTP/1.1, 6 in flight" --parallel 6 "http://127.0.0.1:$HTTP/hello.txt"
per_request "HTTP/1.1 over TLS, 6 in flight" -k --http1.1 --parallel 6 "https://127.0.0.1:$HTTPS/hello.txt"
per_request "HTTP/2 over TLS, 50 in flight" -k --parallel 50 "https://127.0.0.1:$HTTPS/hello.txt"
rm -rf "$OUT"
