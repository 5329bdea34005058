//! Per-request HTTP/2 settings (Qt's `QNetworkRequest::setHttp2Configuration`): the request
//! that opens a connection decides the SETTINGS the client announces, in cleartext (prior
//! knowledge) and over TLS (ALPN); requests that reuse the connection change nothing.
//!
//! The servers here read the client's frames raw, so the tests see exactly what went on the
//! wire: the SETTINGS parameters and the connection-level WINDOW_UPDATE.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use slotnet_core::Thread;
use slotnet_http::h2::Http2Configuration;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkReply, NetworkRequest};
use slotnet_net::ssl::test_certs;
use slotnet_net::SslServer;
use slotnet_testkit::h2::wire::{frame, PREFACE};
use slotnet_testkit::h2::H2Server;
use slotnet_testkit::pattern::pattern_byte;
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
/// The window every HTTP/2 connection starts with (RFC 9113, 6.9.2).
const DEFAULT_WINDOW: u64 = 65_535;

/// What one connection's client sent.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// Every SETTINGS frame that was not an ACK, as (identifier, value) lists.
    settings: Vec<Vec<(u16, u32)>>,
    /// The sum of WINDOW_UPDATE increments on stream 0.
    session_increments: u64,
    /// Request HEADERS frames.
    requests: usize,
}

impl Seen {
    fn setting(&self, id: u16) -> Option<u32> {
        self.settings
            .first()?
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    }
}

/// A sans-IO HTTP/2 server side that records the client's frames and answers every request
/// with `200` and no body.
struct Recorder {
    buf: Vec<u8>,
    preface_done: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    index: usize,
}

impl Recorder {
    fn new(seen: &Arc<Mutex<Vec<Seen>>>) -> Recorder {
        let mut all = seen.lock().unwrap();
        all.push(Seen::default());
        Recorder {
            buf: Vec::new(),
            preface_done: false,
            seen: seen.clone(),
            index: all.len() - 1,
        }
    }

    /// Takes bytes from the client; returns the bytes to send back.
    fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        if !self.preface_done {
            if self.buf.len() < PREFACE.len() {
                return out;
            }
            assert_eq!(&self.buf[..PREFACE.len()], PREFACE, "client preface");
            self.buf.drain(..PREFACE.len());
            self.preface_done = true;
            // Our SETTINGS: all defaults.
            out.extend(frame(4, 0, 0, &[]));
        }
        while self.buf.len() >= 9 {
            let len =
                (self.buf[0] as usize) << 16 | (self.buf[1] as usize) << 8 | self.buf[2] as usize;
            if self.buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (self.buf[3], self.buf[4]);
            let id = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]])
                & 0x7fff_ffff;
            let payload: Vec<u8> = self.buf[9..9 + len].to_vec();
            self.buf.drain(..9 + len);
            let mut all = self.seen.lock().unwrap();
            let seen = &mut all[self.index];
            match kind {
                4 if flags & 1 == 0 => {
                    let params = payload
                        .chunks_exact(6)
                        .map(|p| {
                            (
                                u16::from_be_bytes([p[0], p[1]]),
                                u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                            )
                        })
                        .collect();
                    seen.settings.push(params);
                    out.extend(frame(4, 1, 0, &[]));
                }
                8 if id == 0 && payload.len() == 4 => {
                    let inc = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                    seen.session_increments += u64::from(inc & 0x7fff_ffff);
                }
                1 => {
                    seen.requests += 1;
                    // :status 200 (HPACK static index 8), END_HEADERS | END_STREAM.
                    out.extend(frame(1, 0x4 | 0x1, id, &[0x88]));
                }
                _ => {}
            }
        }
        out
    }
}

/// A cleartext (prior knowledge) recording server on std threads.
struct PlainServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl PlainServer {
    fn start() -> PlainServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let all = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut recorder = Recorder::new(&all);
                std::thread::spawn(move || {
                    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let out = recorder.feed(&buf[..n]);
                        if !out.is_empty() && stream.write_all(&out).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        PlainServer { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TLS recording server (ALPN h2) on its own slotnet thread.
struct TlsServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _thread: Thread,
}

impl TlsServer {
    fn start() -> TlsServer {
        let thread = Thread::start_named("h2-settings-tls").unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let all = seen.clone();
        let (tx, rx) = mpsc::channel();
        thread
            .run(move || {
                let server = SslServer::new();
                let mut config = test_certs::pki().server.configuration();
                config.set_allowed_next_protocols(vec![b"h2".to_vec()]);
                server.set_ssl_configuration(config);
                assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
                tx.send(server.server_port()).unwrap();
                server.pending_connection_available().connect(move |_| {
                    while let Some(socket) = server.next_pending_connection() {
                        let recorder = std::cell::RefCell::new(Recorder::new(&all));
                        socket.ready_read().connect(move |_| {
                            let out = recorder.borrow_mut().feed(&socket.read_all());
                            if !out.is_empty() {
                                socket.write(&out);
                            }
                        });
                    }
                });
            })
            .unwrap();
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        TlsServer {
            port,
            seen,
            _thread: thread,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Settings no default has: any of them on the wire proves the request's configuration won.
fn custom_configuration() -> Http2Configuration {
    let mut config = Http2Configuration::default();
    assert!(config.set_stream_receive_window_size(20_000));
    assert!(config.set_session_receive_window_size(300_000));
    assert!(config.set_max_frame_size(20_000));
    config
}

fn h2c_request(url: &str, config: Option<&Http2Configuration>) -> NetworkRequest {
    let mut request = NetworkRequest::from_url_str(url);
    request.set_attribute(Attribute::Http2Direct, true);
    if let Some(config) = config {
        request.set_http2_configuration(config.clone());
    }
    request
}

fn assert_ok_over_h2(reply: NetworkReply) {
    assert_no_error(reply);
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
}

fn assert_announces(seen: &Seen, config: &Http2Configuration) {
    assert_eq!(
        seen.setting(SETTINGS_INITIAL_WINDOW_SIZE),
        Some(config.stream_receive_window_size()),
        "{seen:?}"
    );
    assert_eq!(
        seen.setting(SETTINGS_MAX_FRAME_SIZE).unwrap_or(16_384),
        config.max_frame_size(),
        "{seen:?}"
    );
    assert_eq!(seen.setting(SETTINGS_ENABLE_PUSH), Some(0), "{seen:?}");
    assert_eq!(
        DEFAULT_WINDOW + seen.session_increments,
        u64::from(config.session_receive_window_size()),
        "{seen:?}"
    );
}

#[test]
fn the_request_that_opens_an_h2c_connection_sets_its_settings() {
    let server = PlainServer::start();
    let config = custom_configuration();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2c_request(&server.url("/a"), Some(&config)));
    run_all(&[reply]);
    assert_ok_over_h2(reply);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_announces(&seen[0], &config);
}

#[test]
fn requests_reusing_a_connection_do_not_change_its_settings() {
    let server = PlainServer::start();
    let first = custom_configuration();
    let mut second = Http2Configuration::default();
    assert!(second.set_stream_receive_window_size(777_777));
    assert!(second.set_max_frame_size(65_536));
    let m = NetworkAccessManager::new();
    let reply = m.get(h2c_request(&server.url("/first"), Some(&first)));
    run_all(&[reply]);
    assert_ok_over_h2(reply);
    let replies: Vec<NetworkReply> = (0..3)
        .map(|i| {
            m.get(h2c_request(
                &server.url(&format!("/again/{i}")),
                Some(&second),
            ))
        })
        .collect();
    run_all(&replies);
    for reply in &replies {
        assert_ok_over_h2(*reply);
    }
    assert_eq!(m.connections_opened(), 1);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].requests, 4);
    // One SETTINGS frame for the connection's life: the first request's.
    assert_eq!(seen[0].settings.len(), 1, "{:?}", seen[0]);
    assert_announces(&seen[0], &first);
}

#[test]
fn a_request_without_a_configuration_announces_the_defaults() {
    let server = PlainServer::start();
    let m = NetworkAccessManager::new();
    let request = h2c_request(&server.url("/plain"), None);
    assert_eq!(request.http2_configuration(), Http2Configuration::default());
    let reply = m.get(request);
    run_all(&[reply]);
    assert_ok_over_h2(reply);
    assert_announces(&server.seen()[0], &Http2Configuration::default());
}

#[test]
fn the_request_that_opens_a_tls_connection_sets_its_settings_through_alpn() {
    let server = TlsServer::start();
    let config = custom_configuration();
    let m = NetworkAccessManager::new();
    let mut request =
        NetworkRequest::from_url_str(&format!("https://127.0.0.1:{}/tls", server.port));
    request.set_ssl_configuration(test_certs::client_configuration());
    request.set_http2_configuration(config.clone());
    let reply = m.get(request);
    run_all(&[reply]);
    assert_ok_over_h2(reply);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_announces(&seen[0], &config);
}

#[test]
fn a_small_stream_window_still_delivers_a_large_body_byte_exact() {
    const TOTAL: usize = 1024 * 1024;
    let server = H2Server::start();
    let mut config = Http2Configuration::default();
    // The smallest useful window: the server must wait for a WINDOW_UPDATE after every
    // 16 KiB frame.
    assert!(config.set_stream_receive_window_size(16_384));
    assert!(config.set_session_receive_window_size(16_384));
    let m = NetworkAccessManager::new();
    let reply = m.get(h2c_request(
        &server.url(&format!("/big/{TOTAL}")),
        Some(&config),
    ));
    run_all(&[reply]);
    assert_ok_over_h2(reply);
    let body = reply.read_all();
    assert_eq!(body.len(), TOTAL);
    assert!(body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i as u64)));
}
