//! TLS streams over loopback: backpressure with a slow reader, orderly shutdown with
//! close_notify (checked by an independent rustls peer), abort, end of stream, and the
//! server's handshake timeout.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use slotnet_core::{EventLoop, Timer};
use slotnet_net::ssl::test_certs;
use slotnet_net::{SocketError, SocketState, SslSocket, TcpSocket};
use slotnet_testkit::certs::trusting;
use slotnet_testkit::pattern::{pattern, PatternChecker};
use slotnet_testkit::ssl::{logged_client, server};
use slotnet_testkit::{exec_within, run_until, Counter, Log, LIMIT};

const TOTAL: u64 = 64 << 20;
const READ_LIMIT: usize = 64 * 1024;
const READ_PER_TICK: usize = 16 * 1024;
const WRITE_CHUNK: usize = 251 * 1024;

#[test]
fn a_slow_reader_bounds_its_buffers_and_receives_every_byte() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    // The sender writes as fast as the socket takes it: a new chunk whenever less than one
    // chunk waits, so its own queue stays small and TLS backpressure is what limits it.
    let block = Bytes::from(pattern(0, WRITE_CHUNK));
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        let sent = Rc::new(Cell::new(0u64));
        let block = block.clone();
        let feed = move || {
            while sent.get() < TOTAL && conn.bytes_to_write() < WRITE_CHUNK {
                let n = (TOTAL - sent.get()).min(WRITE_CHUNK as u64) as usize;
                conn.write_bytes(block.slice(..n));
                sent.set(sent.get() + n as u64);
            }
            if sent.get() == TOTAL {
                conn.disconnect_from_host();
            }
        };
        feed();
        conn.bytes_written().connect(move |_| feed());
    });

    let client = SslSocket::new();
    client.set_ssl_configuration(trusting());
    client.set_read_buffer_size(READ_LIMIT);
    let checker = Rc::new(RefCell::new(PatternChecker::default()));
    let max_plain = Rc::new(Cell::new(0usize));
    let max_cipher = Rc::new(Cell::new(0usize));
    let record = {
        let (mp, mc) = (max_plain.clone(), max_cipher.clone());
        move || {
            mp.set(mp.get().max(client.bytes_available()));
            mc.set(mc.get().max(client.encrypted_bytes_available()));
        }
    };
    let r = record.clone();
    client.ready_read().connect(move |_| r());
    // The end of the stream is reported once the last byte is in the read buffer (which
    // stayed within its limit meanwhile).
    let c = checker.clone();
    client.read_channel_finished().connect(move |_| {
        let delivered = c.borrow().offset() + client.bytes_available() as u64;
        assert_eq!(delivered, TOTAL, "end of stream before the data");
    });

    // The consumer: at most 16 KiB per loop iteration, from a zero-interval timer, never
    // from ready_read, so the network is always the faster side.
    let timer = Timer::with_parent(&client);
    let c = checker.clone();
    let buf = RefCell::new(vec![0u8; READ_PER_TICK]);
    timer.timeout().connect(move |_| {
        record();
        let mut buf = buf.borrow_mut();
        let n = client.read(&mut buf);
        c.borrow_mut().check(&buf[..n]);
        if c.borrow().offset() == TOTAL && client.state() == SocketState::Unconnected {
            EventLoop::current().quit();
        }
    });
    timer.start_interval(Duration::ZERO);
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert!(
        exec_within(Duration::from_secs(120)),
        "timed out at {} bytes",
        checker.borrow().offset()
    );
    let checker = checker.borrow();
    assert!(
        !checker.is_bad(),
        "corrupted stream near {}",
        checker.offset()
    );
    assert_eq!(checker.offset(), TOTAL);
    // The buffer filled up (the reader really was the slow side) and never went past the
    // limit, not even when the peer closed.
    assert_eq!(max_plain.get(), READ_LIMIT);
    // Ciphertext waiting below: the TCP socket's limit plus one chunk taken from it.
    assert!(
        max_cipher.get() <= 2 * 64 * 1024,
        "{} bytes of ciphertext buffered",
        max_cipher.get()
    );
    assert_eq!(client.error(), Some(SocketError::RemoteHostClosedError));
}

/// A std thread running an independent rustls client that reads until the stream ends;
/// returns how it ended: the bytes and whether the end was clean (close_notify).
fn rustls_peer(port: u16) -> std::thread::JoinHandle<(Vec<u8>, std::io::Result<()>)> {
    let config = trusting().client_config().unwrap();
    std::thread::spawn(move || {
        let conn =
            rustls::ClientConnection::new(Arc::clone(&config), "localhost".try_into().unwrap())
                .unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(b"go").unwrap();
        let mut data = Vec::new();
        let end = stream.read_to_end(&mut data).map(|_| ());
        (data, end)
    })
}

#[test]
fn disconnect_from_host_flushes_then_sends_close_notify() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    let log = Log::default();
    let payload = Bytes::from(pattern(0, 4 << 20));
    let l = log.clone();
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        let (l1, payload) = (l.clone(), payload.clone());
        conn.ready_read().connect(move |_| {
            let l = &l1;
            conn.read_all();
            // 4 MiB, far more than one pass of the socket sends, then close at once.
            conn.write_bytes(payload.clone());
            conn.disconnect_from_host();
            l.push(format!("state:{}", conn.state().name()));
            l.push(format!("write_while_closing:{}", conn.write(b"late")));
        });
        let l2 = l.clone();
        conn.disconnected()
            .connect(move |_| l2.push("disconnected"));
    });
    let peer = rustls_peer(server.server_port());
    assert!(run_until(LIMIT, || peer.is_finished()));
    let (data, end) = peer.join().unwrap();
    assert!(end.is_ok(), "unclean end: {end:?}");
    assert_eq!(data.len(), 4 << 20);
    assert!(data == pattern(0, 4 << 20), "corrupted data");
    let l = log.clone();
    assert!(run_until(LIMIT, move || l.contains("disconnected")));
    assert_eq!(
        log.entries(),
        [
            "state:ClosingState",
            "write_while_closing:0",
            "disconnected"
        ]
    );
}

#[test]
fn abort_closes_without_close_notify() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        conn.ready_read().connect(move |_| {
            conn.read_all();
            conn.write(b"never sent");
            conn.abort();
            assert_eq!(conn.state(), SocketState::Unconnected);
            assert_eq!(conn.bytes_to_write(), 0);
        });
    });
    let peer = rustls_peer(server.server_port());
    assert!(run_until(LIMIT, || peer.is_finished()));
    let (data, end) = peer.join().unwrap();
    assert!(data.is_empty());
    assert_eq!(
        end.unwrap_err().kind(),
        std::io::ErrorKind::UnexpectedEof,
        "a TCP close without close_notify is a truncation for the peer"
    );
}

#[test]
fn the_peers_close_ends_the_stream_after_the_data() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    let log = Log::default();
    let l = log.clone();
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        let l = l.clone();
        conn.disconnected()
            .connect(move |_| l.push("server.disconnected"));
        conn.write(b"bye");
        conn.disconnect_from_host();
    });
    let client = logged_client(trusting(), &log);
    let l = log.clone();
    client.ready_read().connect(move |_| {
        l.push(format!(
            "client.data:{}",
            String::from_utf8_lossy(&client.read_all())
        ))
    });
    let l = log.clone();
    client
        .read_channel_finished()
        .connect(move |_| l.push("client.read_channel_finished"));
    let l = log.clone();
    client
        .state_changed()
        .connect(move |s| l.push(format!("client.state:{}", s.name())));
    client.connect_to_host_encrypted("localhost", server.server_port());
    let l = log.clone();
    assert!(
        run_until(LIMIT, move || l.contains("client.disconnected")
            && l.contains("server.disconnected")),
        "{:?}",
        log.entries()
    );
    let client_events: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("client.") && !e.contains("HostLookup"))
        .collect();
    assert_eq!(
        client_events,
        [
            "client.state:ConnectingState",
            "client.state:ConnectedState",
            "client.connected",
            "client.encrypted",
            "client.data:bye",
            "client.read_channel_finished",
            "client.error:RemoteHostClosedError",
            "client.state:ClosingState",
            "client.state:UnconnectedState",
            "client.disconnected",
        ]
    );
    assert!(!client.is_encrypted());
    assert_eq!(client.state(), SocketState::Unconnected);
}

#[test]
fn the_server_ends_handshakes_that_take_too_long() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    server.set_handshake_timeout(Some(Duration::from_millis(100)));
    let log = Log::default();
    let l = log.clone();
    server
        .error_occurred()
        .connect(move |(_, e)| l.push(format!("server.error:{}", e.name())));
    let l = log.clone();
    server
        .new_connection()
        .connect(move |_| l.push("server.new_connection"));
    // A client that connects and says nothing.
    let silent = TcpSocket::new();
    let l = log.clone();
    silent
        .disconnected()
        .connect(move |_| l.push("silent.disconnected"));
    silent.connect_to_host("127.0.0.1", server.server_port());
    let l = log.clone();
    assert!(run_until(LIMIT, move || l.contains("silent.disconnected")));
    assert_eq!(
        log.entries(),
        [
            "server.new_connection",
            "server.error:SocketTimeoutError",
            "silent.disconnected"
        ]
    );
    assert_eq!(server.handshaking_connections(), 0);
    assert!(!server.has_pending_connections());
}

#[test]
fn garbage_instead_of_a_client_hello_fails_with_an_alert() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    let log = Log::default();
    let l = log.clone();
    server
        .error_occurred()
        .connect(move |(_, e)| l.push(format!("server.error:{}", e.name())));
    let client = TcpSocket::new();
    client.connected().connect(move |_| {
        client.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    });
    let received = Rc::new(RefCell::new(Vec::new()));
    let r = received.clone();
    client
        .ready_read()
        .connect(move |_| r.borrow_mut().extend(client.read_all()));
    let l = log.clone();
    client
        .disconnected()
        .connect(move |_| l.push("client.disconnected"));
    client.connect_to_host("127.0.0.1", server.server_port());
    let l = log.clone();
    assert!(run_until(LIMIT, move || l.contains("client.disconnected")));
    assert_eq!(
        log.entries(),
        [
            "server.error:SslHandshakeFailedError",
            "client.disconnected"
        ]
    );
    // A TLS alert record (content type 21) came back before the close.
    assert_eq!(received.borrow().first(), Some(&21u8));
}

#[test]
fn a_full_server_stops_accepting_until_a_connection_is_taken() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    server.set_max_pending_connections(1);
    let encrypted = Rc::new(Cell::new(0));
    let connect = || {
        let c = SslSocket::new();
        c.set_ssl_configuration(trusting());
        let e = encrypted.clone();
        c.encrypted().connect(move |_| e.set(e.get() + 1));
        c.connect_to_host_encrypted("localhost", server.server_port());
        c
    };
    // The first handshake completes and is not taken: the server is full.
    let _first_client = connect();
    let e = encrypted.clone();
    assert!(run_until(LIMIT, move || e.get() == 1));
    // The second client waits in the kernel's backlog.
    let _second_client = connect();
    slotnet_testkit::run_until(Duration::from_millis(200), || false);
    assert_eq!(encrypted.get(), 1);
    assert!(server.has_pending_connections());
    let first = server.next_pending_connection().unwrap();
    assert!(first.is_encrypted());
    assert!(run_until(LIMIT, || server.has_pending_connections()));
    assert_eq!(encrypted.get(), 2);
    assert!(server.next_pending_connection().is_some());
}

#[test]
fn silent_connections_cannot_lock_out_a_real_client() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    server.set_max_handshaking_connections(8);
    let timeouts = Counter::default();
    let t = timeouts.clone();
    server.error_occurred().connect(move |(_, e)| {
        assert_eq!(*e, SocketError::SocketTimeoutError);
        t.bump();
    });
    // Far more than the pending limit (30) and the handshake budget (8): clients that
    // connect and never send a ClientHello.
    let silent: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(("127.0.0.1", server.server_port())).unwrap())
        .collect();
    assert!(run_until(LIMIT, || timeouts.get() >= 32));
    // Still 8 in their handshake (the newest); the oldest were ended to make room.
    assert_eq!(server.handshaking_connections(), 8);
    let mut oldest = &silent[0];
    oldest.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(oldest.read(&mut [0u8; 16]).unwrap_or(0), 0, "closed");
    // A real client completes its handshake at once.
    let client = SslSocket::new();
    client.set_ssl_configuration(trusting());
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert!(run_until(LIMIT, || server.has_pending_connections()));
    let conn = server.next_pending_connection().unwrap();
    assert!(conn.is_encrypted());
    assert!(run_until(LIMIT, || client.is_encrypted()));
    drop(silent);
}
