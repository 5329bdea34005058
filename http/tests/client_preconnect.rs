//! `NetworkAccessManager::connect_to_host` and `connect_to_host_encrypted`: connections
//! (and TLS handshakes) made before the request that uses them, against loopback servers
//! that count the connections and handshakes they see.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slotnet_core::{EventLoop, LoopHandle, Timer};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::test_certs::{self, TestIdentity};
use slotnet_net::ssl::SslConfiguration;
use slotnet_testkit::reply;
use slotnet_testkit::reply::run_traced;
use slotnet_testkit::tls_server::{OnCount, TlsServer, H1_ONLY, H2_AND_H1};

thread_local! {
    /// The test's loop runs in `wait_until`: a server's nudge should stop it.
    static WAITING: Cell<bool> = const { Cell::new(false) };
}

/// Wakes the test's loop if it is waiting in `wait_until` (a no-op otherwise, so a late
/// nudge cannot end a later `exec`).
fn nudge(handle: &LoopHandle) {
    let _ = handle.post(|| {
        if WAITING.with(Cell::get) {
            EventLoop::current().quit();
        }
    });
}

/// Runs the test's loop until `done()` holds; the servers nudge it whenever they count
/// a connection or handshake.
fn wait_until(done: impl Fn() -> bool) {
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(10));
    WAITING.with(|w| w.set(true));
    while !done() {
        assert_eq!(
            EventLoop::current().exec(),
            0,
            "the server saw nothing in time"
        );
    }
    WAITING.with(|w| w.set(false));
    guard.destroy();
}

const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// A plain HTTP/1.1 server answering `hello` to every request, keeping connections open.
struct PlainServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl PlainServer {
    fn start() -> PlainServer {
        let handle = EventLoop::current().handle();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                nudge(&handle);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut chunk) {
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if stream.write_all(HELLO).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        PlainServer { port, accepted }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A [`TlsServer`] answering `hello` that wakes the test's loop whenever it counts a
/// connection or a handshake.
fn tls_server(identity: &'static TestIdentity, alpn: &'static [&'static [u8]]) -> TlsServer {
    let handle = EventLoop::current().handle();
    let on_count: OnCount = Box::new(move || nudge(&handle));
    TlsServer::start_with(identity, alpn, |_| b"hello".to_vec(), Some(on_count))
}

/// The trace of a request sent at once on a connection that is already up.
const REUSED: [&str; 6] = [
    "reply.requestSent()",
    "reply.metaDataChanged()",
    "reply.readyRead()",
    "reply.downloadProgress(5, 5)",
    "manager.finished()",
    "reply.finished()",
];

fn https_request(server: &TlsServer) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&server.url("/hello"));
    req.set_ssl_configuration(test_certs::client_configuration());
    req
}

fn h2_offer() -> SslConfiguration {
    let mut config = test_certs::client_configuration();
    config.set_allowed_next_protocols(vec![b"h2".to_vec()]);
    config
}

fn http2_used(reply: NetworkReply) -> bool {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
        == Some(true)
}

#[test]
fn connect_to_host_prepares_the_connection_the_next_request_uses() {
    let server = PlainServer::start();
    let m = NetworkAccessManager::new();
    let finished = Rc::new(Cell::new(0));
    let f = finished.clone();
    m.finished().connect(move |_| f.set(f.get() + 1));
    m.connect_to_host("127.0.0.1", server.port);
    assert_eq!(m.connections_opened(), 1);
    wait_until(|| server.accepted() == 1);
    assert_eq!(finished.get(), 0, "a preconnect has no reply");
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello")));
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(
        lines, REUSED,
        "no socketStartedConnecting: the connection was up"
    );
    assert_eq!(body, b"hello");
    assert_eq!(m.connections_opened(), 1);
    // An idle connection to the host exists now: another preconnect adds nothing.
    m.connect_to_host("127.0.0.1", server.port);
    assert_eq!(m.connections_opened(), 1);
    let again = m.get(NetworkRequest::from_url_str(&server.url("/hello")));
    let (lines, _) = run_traced(&m, again);
    assert_eq!(lines, REUSED);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_request_made_while_the_preconnect_connects_waits_for_it() {
    let server = PlainServer::start();
    let m = NetworkAccessManager::new();
    m.connect_to_host("127.0.0.1", server.port);
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello")));
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(body, b"hello");
    assert_eq!(lines[0], "reply.socketStartedConnecting()");
    assert_eq!(m.connections_opened(), 1);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn preconnecting_many_times_stays_within_six_connections() {
    let server = PlainServer::start();
    let m = NetworkAccessManager::new();
    for _ in 0..10 {
        m.connect_to_host("127.0.0.1", server.port);
    }
    assert_eq!(m.connections_opened(), 6, "Qt's limit per host");
    wait_until(|| server.accepted() == 6);
    let replies: Vec<_> = (0..6)
        .map(|_| m.get(NetworkRequest::from_url_str(&server.url("/hello"))))
        .collect();
    reply::run_all(&replies);
    for r in &replies {
        assert_eq!(r.error(), NetworkError::NoError);
        assert_eq!(r.read_all(), b"hello");
    }
    assert_eq!(m.connections_opened(), 6);
    assert_eq!(server.accepted(), 6);
}

#[test]
fn a_preconnected_connection_is_an_idle_one_of_the_pool() {
    let server = PlainServer::start();
    let m = NetworkAccessManager::new();
    m.connect_to_host("127.0.0.1", server.port);
    wait_until(|| server.accepted() == 1);
    m.clear_connection_cache();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello")));
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(lines[0], "reply.socketStartedConnecting()");
    assert_eq!(m.connections_opened(), 2);
    assert_eq!(server.accepted(), 2);
}

#[test]
fn connect_to_host_encrypted_does_the_handshake_ahead() {
    let server = tls_server(&test_certs::pki().server, H1_ONLY);
    let m = NetworkAccessManager::new();
    let encrypted = Rc::new(Cell::new(0));
    let e = encrypted.clone();
    m.encrypted().connect(move |_| e.set(e.get() + 1));
    m.connect_to_host_encrypted("127.0.0.1", server.port, test_certs::client_configuration());
    wait_until(|| server.handshakes() == 1);
    let reply = m.get(https_request(&server));
    let (lines, body) = run_traced(&m, reply);
    // No handshake for the request: no socketStartedConnecting, no encrypted (Qt emits it
    // for the first connection to a host only).
    assert_eq!(lines, REUSED);
    assert_eq!(body, b"hello");
    assert_eq!(encrypted.get(), 0);
    assert_eq!(
        reply
            .attribute(Attribute::ConnectionEncrypted)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    assert!(!http2_used(reply), "no h2 offered by the preconnect");
    assert_eq!(m.connections_opened(), 1);
    assert_eq!(server.handshakes(), 1);
}

#[test]
fn an_h2_preconnect_becomes_the_hosts_http2_connection() {
    let server = tls_server(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    // Twice: one HTTP/2 connection per host is enough.
    m.connect_to_host_encrypted("127.0.0.1", server.port, h2_offer());
    m.connect_to_host_encrypted("127.0.0.1", server.port, h2_offer());
    assert_eq!(m.connections_opened(), 1);
    wait_until(|| server.handshakes() == 1);
    // Up and adopted by the HTTP/2 pool: still nothing more to open.
    m.connect_to_host_encrypted("127.0.0.1", server.port, h2_offer());
    let reply = m.get(https_request(&server));
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(lines, REUSED);
    assert_eq!(body, b"hello");
    assert!(http2_used(reply));
    let replies: Vec<_> = (0..10).map(|_| m.get(https_request(&server))).collect();
    reply::run_all(&replies);
    assert!(replies
        .iter()
        .all(|r| r.error() == NetworkError::NoError && http2_used(*r)));
    assert_eq!(m.connections_opened(), 1);
    assert_eq!(server.accepted(), 1);
}

#[test]
fn a_request_that_refuses_http2_does_not_take_an_h2_preconnect() {
    let server = tls_server(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    m.connect_to_host_encrypted("127.0.0.1", server.port, h2_offer());
    let mut req = https_request(&server);
    req.set_attribute(Attribute::Http2Allowed, false);
    let reply = m.get(req);
    let (_, body) = run_traced(&m, reply);
    assert_eq!(body, b"hello");
    assert!(!http2_used(reply));
    assert_eq!(m.connections_opened(), 2, "a connection of its own");
}

#[test]
fn the_peer_name_overload_verifies_the_certificate_against_it() {
    let server = tls_server(&test_certs::pki().wrong_host, H1_ONLY);
    let m = NetworkAccessManager::new();
    m.connect_to_host_encrypted_with_peer_name(
        "127.0.0.1",
        server.port,
        test_certs::client_configuration(),
        "wrong.example",
    );
    wait_until(|| server.handshakes() == 1);
    // The request that checks the certificate against the same name takes the connection
    // (the peer verify name is part of the connection's key, as in Qt); one checking it
    // against the host would not.
    let mut req = https_request(&server);
    req.set_peer_verify_name("wrong.example");
    let reply = m.get(req);
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(lines, REUSED);
    assert_eq!(body, b"hello");
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn a_failed_preconnect_is_silent_and_the_request_reports_its_errors() {
    let server = tls_server(&test_certs::pki().wrong_host, H1_ONLY);
    let m = NetworkAccessManager::new();
    let ssl_errors = Rc::new(RefCell::new(Vec::new()));
    let s = ssl_errors.clone();
    m.ssl_errors()
        .connect(move |(reply, _)| s.borrow_mut().push(*reply));
    // The certificate is not for 127.0.0.1: the handshake fails, with no reply to tell.
    m.connect_to_host_encrypted("127.0.0.1", server.port, test_certs::client_configuration());
    wait_until(|| server.accepted() == 1);
    assert!(ssl_errors.borrow().is_empty());
    let reply = m.get(https_request(&server));
    let (lines, _) = run_traced(&m, reply);
    assert!(
        lines.contains(&"reply.sslErrors(HostNameMismatch)".to_owned()),
        "{lines:?}"
    );
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
    assert_eq!(*ssl_errors.borrow(), [reply]);
    assert_eq!(server.handshakes(), 0);
}

/// A listener that reports the first byte each accepted connection sends, or `None` when
/// it sends nothing within that connection's patience (a plain preconnect waits for its
/// request). The n-th accepted connection gets the n-th patience (the last one repeats):
/// a connection expected to stay silent gets a short one, one expected to speak a long one,
/// so a loaded machine that is slow to build a ClientHello cannot pass for silence.
struct FirstByteServer {
    port: u16,
    seen: Arc<std::sync::Mutex<Vec<Option<u8>>>>,
}

impl FirstByteServer {
    fn start(patience: Vec<Duration>) -> FirstByteServer {
        let handle = EventLoop::current().handle();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let wait = patience[index.min(patience.len() - 1)];
                stream.set_read_timeout(Some(wait)).unwrap();
                let mut byte = [0u8; 1];
                let first = match stream.read(&mut byte) {
                    Ok(1) => Some(byte[0]),
                    _ => None,
                };
                record.lock().unwrap().push(first);
                nudge(&handle);
            }
        });
        FirstByteServer { port, seen }
    }

    fn seen(&self) -> Vec<Option<u8>> {
        self.seen.lock().unwrap().clone()
    }
}

#[test]
fn connect_to_host_prepares_a_tls_connection_for_a_known_hsts_host() {
    /// The first byte of a TLS ClientHello: a handshake record.
    const TLS_HANDSHAKE: u8 = 0x16;
    // The plain preconnect is expected to stay silent: 300 ms tells it; the TLS one is
    // expected to speak, and gets all the time a loaded machine needs.
    let server = FirstByteServer::start(vec![Duration::from_millis(300), Duration::from_secs(30)]);
    // Without HSTS, a plain TCP connection that sends nothing until a request comes.
    let plain = NetworkAccessManager::new();
    plain.connect_to_host("localhost", server.port);
    wait_until(|| server.seen().len() == 1);
    assert_eq!(server.seen(), [None]);
    // The same call for a known HSTS host: the request it prepares for will be sent over
    // https, so the connection starts a TLS handshake at once.
    let m = NetworkAccessManager::new();
    m.set_strict_transport_security_enabled(true);
    m.add_strict_transport_security_hosts(vec![slotnet_http::hsts::HstsPolicy::new(
        std::time::SystemTime::now() + Duration::from_secs(600),
        false,
        "localhost",
    )]);
    m.connect_to_host("localhost", server.port);
    wait_until(|| server.seen().len() == 2);
    assert_eq!(server.seen(), [None, Some(TLS_HANDSHAKE)]);
}
