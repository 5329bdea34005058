//! One server on several threads (`ServerThreads`): connections spread over the threads,
//! routes, the after-request hook, the missing handler, HTTP/2 and WebSocket upgrades on
//! every thread, and a graceful stop that finishes the requests in flight.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, StatusCode};
use slotnet_core::{AsObject, Timer};
use slotnet_http::server::{
    ConnectionSpread, HttpServer, HttpServerConfiguration, HttpServerRequest, HttpServerResponder,
    Listen, ServerThreads, WebSocketUpgradeResponse,
};
use slotnet_testkit::h2::wire::{frame, DATA, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS};
use slotnet_testkit::server::{self, read_response, READ_TIMEOUT};

const THREADS: usize = 2;
/// Connections opened to see them spread: with `SO_REUSEPORT` the kernel picks a thread by
/// a hash of each connection's ports, so 24 connections all on one of 2 threads is a 2^-23
/// chance.
const CONNECTIONS: usize = 24;

type Seen = Arc<Mutex<HashSet<ThreadId>>>;

/// The server every thread builds: `/thread` answers the thread's index (and records the
/// OS thread it ran on in `seen`); an after-request hook adds `x-loop`; a missing handler
/// answers 404 `missing on <index>`; `/ws` upgrades echo text prefixed with the index.
fn server(seen: Seen, config: HttpServerConfiguration) -> HttpServer {
    let server = HttpServer::new();
    server.set_configuration(config);
    server
        .route(
            "/thread",
            Method::GET,
            move |_: &HttpServerRequest, resp: HttpServerResponder| {
                seen.lock().unwrap().insert(std::thread::current().id());
                resp.write_data(StatusCode::OK, "text/plain", index().to_string());
            },
        )
        .expect("valid route");
    server.set_missing_handler(|_: &HttpServerRequest, resp: HttpServerResponder| {
        resp.write_data(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("missing on {}", index()),
        );
    });
    server.after_request(|_, _, headers| {
        headers.insert("x-loop", HeaderValue::from(index()));
    });
    let abstract_server = server.as_abstract();
    server.add_web_socket_upgrade_verifier(&abstract_server.as_object(), |req| match req.path() {
        "/ws" => WebSocketUpgradeResponse::Accept,
        _ => WebSocketUpgradeResponse::PassToNext,
    });
    server.new_web_socket_connection().connect(move |_| {
        while let Some(ws) = abstract_server.next_pending_web_socket_connection() {
            ws.text_message_received().connect(move |text: &String| {
                ws.send_text_message(&format!("{} {text}", index()));
            });
        }
    });
    server
}

fn index() -> usize {
    ServerThreads::current_thread_index().expect("runs on a server thread")
}

fn start(spread: ConnectionSpread, config: HttpServerConfiguration) -> (ServerThreads, Seen) {
    let seen = Seen::default();
    let factory_seen = seen.clone();
    let threads = ServerThreads::start(
        THREADS,
        &[Listen::Tcp("127.0.0.1:0".parse().unwrap())],
        spread,
        move || server(factory_seen.clone(), config.clone()),
    )
    .expect("the threads start");
    assert_eq!(threads.thread_count(), THREADS);
    (threads, seen)
}

fn addr(threads: &ServerThreads) -> SocketAddr {
    threads.local_addrs()[0].expect("a TCP address")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// `GET path` over HTTP/1.1 on `s`; the status, body and `x-loop` of the answer.
fn get(s: &mut BufReader<TcpStream>, path: &str) -> (u16, String, Option<String>) {
    s.get_mut()
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    let resp = read_response(s, false);
    (
        resp.status,
        resp.text(),
        resp.header("x-loop").map(str::to_owned),
    )
}

/// Opens `CONNECTIONS` connections at once (so the kernel sees them all) and asks each for
/// `/thread` and a path nobody routes; returns the thread index of each connection.
fn http1_indexes(addr: SocketAddr) -> Vec<usize> {
    let mut conns: Vec<_> = (0..CONNECTIONS)
        .map(|_| BufReader::new(connect(addr)))
        .collect();
    conns
        .iter_mut()
        .map(|c| {
            let (status, body, hook) = get(c, "/thread");
            assert_eq!(status, 200);
            assert_eq!(hook.as_deref(), Some(body.as_str()), "the hook ran there");
            let (status, missing, hook) = get(c, "/nowhere");
            assert_eq!(status, 404);
            assert_eq!(missing, format!("missing on {body}"));
            assert_eq!(hook.as_deref(), Some(body.as_str()));
            body.parse().unwrap()
        })
        .collect()
}

#[test]
fn connections_spread_over_the_threads_with_reuse_port() {
    let (threads, seen) = start(
        ConnectionSpread::ReusePort,
        HttpServerConfiguration::default(),
    );
    let indexes: BTreeSet<usize> = http1_indexes(addr(&threads)).into_iter().collect();
    assert_eq!(indexes, (0..THREADS).collect(), "every thread served some");
    assert_eq!(seen.lock().unwrap().len(), THREADS, "distinct OS threads");
    assert!(!seen.lock().unwrap().contains(&std::thread::current().id()));
    threads.shutdown();
    assert!(threads.wait(Some(READ_TIMEOUT)));
}

#[test]
fn the_acceptor_hands_connections_to_the_threads_in_turn() {
    let (threads, seen) = start(
        ConnectionSpread::Acceptor,
        HttpServerConfiguration::default(),
    );
    // One after the other, each answered before the next connects: the turns are exact.
    let addr = addr(&threads);
    let indexes: Vec<usize> = (0..6)
        .map(|_| {
            let mut c = BufReader::new(connect(addr));
            get(&mut c, "/thread").1.parse().unwrap()
        })
        .collect();
    assert_eq!(indexes, [0, 1, 0, 1, 0, 1]);
    assert_eq!(seen.lock().unwrap().len(), THREADS);
    threads.shutdown();
    assert!(threads.wait(Some(READ_TIMEOUT)));
}

/// A HEADERS frame for `GET path` (HPACK static-table entries and literals, no Huffman).
fn h2_get(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8]; // GET, http, :path literal
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 9]); // :authority literal
    block.extend_from_slice(b"localhost");
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &block)
}

/// The body of stream 1's answer on a raw HTTP/2 connection.
fn h2_body(s: &mut TcpStream) -> String {
    let mut body = Vec::new();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).expect("a frame");
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if head[3] == DATA && stream == 1 {
            body.extend_from_slice(&payload);
            if head[4] & END_STREAM != 0 {
                return String::from_utf8(body).unwrap();
            }
        }
    }
}

#[test]
fn http2_is_served_on_every_thread() {
    let config = HttpServerConfiguration {
        h2c: true,
        ..HttpServerConfiguration::default()
    };
    let (threads, _) = start(ConnectionSpread::ReusePort, config);
    let mut conns: Vec<_> = (0..CONNECTIONS).map(|_| connect(addr(&threads))).collect();
    let indexes: BTreeSet<usize> = conns
        .iter_mut()
        .map(|s| {
            let mut hello = PREFACE.to_vec();
            hello.extend(frame(SETTINGS, 0, 0, &[]));
            hello.extend(h2_get(1, "/thread"));
            s.write_all(&hello).unwrap();
            h2_body(s).parse().unwrap()
        })
        .collect();
    assert_eq!(indexes, (0..THREADS).collect());
    // (A graceful stop would wait for these raw clients to answer the GOAWAY's PING.)
    drop(conns);
    threads.shutdown();
    assert!(threads.wait(Some(READ_TIMEOUT)));
}

#[test]
fn web_sockets_are_upgraded_on_every_thread() {
    let (threads, _) = start(
        ConnectionSpread::ReusePort,
        HttpServerConfiguration::default(),
    );
    let url = format!("ws://{}/ws", addr(&threads));
    let mut clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tungstenite::client(url.as_str(), connect(addr(&threads)))
                .expect("the upgrade succeeds")
                .0
        })
        .collect();
    let indexes: BTreeSet<usize> = clients
        .iter_mut()
        .map(|ws| {
            ws.send(tungstenite::Message::text("hi")).unwrap();
            let answer = ws.read().unwrap().into_text().unwrap();
            let (index, echo) = answer.split_once(' ').unwrap();
            assert_eq!(echo, "hi");
            index.parse().unwrap()
        })
        .collect();
    assert_eq!(indexes, (0..THREADS).collect());
    threads.abort();
    assert!(threads.wait(Some(READ_TIMEOUT)));
}

#[test]
fn a_graceful_stop_finishes_every_request_in_flight() {
    let arrived = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let (a, r) = (arrived.clone(), release.clone());
    let threads = ServerThreads::start(
        THREADS,
        &[Listen::Tcp("127.0.0.1:0".parse().unwrap())],
        ConnectionSpread::ReusePort,
        move || {
            let server = HttpServer::new();
            let (arrived, release) = (a.clone(), r.clone());
            server
                .route(
                    "/held",
                    Method::GET,
                    move |_: &HttpServerRequest, resp: HttpServerResponder| {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        // Answered once the test says so, from this thread's loop.
                        let release = release.clone();
                        let resp = std::cell::Cell::new(Some(resp));
                        let poll = Timer::new();
                        poll.timeout().connect(move |_| {
                            if release.load(Ordering::SeqCst) {
                                if let Some(resp) = resp.take() {
                                    let body = index().to_string();
                                    resp.write_data(StatusCode::OK, "text/plain", body);
                                }
                                poll.destroy();
                            }
                        });
                        poll.start_interval(Duration::from_millis(10));
                    },
                )
                .expect("valid route");
            server
        },
    )
    .unwrap();
    let addr = addr(&threads);
    let mut conns: Vec<_> = (0..CONNECTIONS).map(|_| connect(addr)).collect();
    for c in &mut conns {
        c.write_all(b"GET /held HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
    }
    let deadline = Instant::now() + READ_TIMEOUT;
    while arrived.load(Ordering::SeqCst) < CONNECTIONS {
        assert!(Instant::now() < deadline, "the requests did not all arrive");
        std::thread::sleep(Duration::from_millis(5));
    }
    threads.shutdown();
    // Runs after the shutdown on each thread (posted after it): every server is stopping.
    assert_eq!(
        threads.run_on_each(|s| s.is_shutting_down()),
        [true; THREADS]
    );
    // No new connection is taken once every listener closed.
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        Ok(mut late) => {
            late.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            let _ = late.write_all(b"GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
            let mut buf = [0u8; 64];
            assert!(matches!(late.read(&mut buf), Ok(0) | Err(_)), "served late");
        }
    }
    release.store(true, Ordering::SeqCst);
    let mut served = BTreeSet::new();
    for c in conns {
        let mut r = BufReader::new(c);
        let resp = read_response(&mut r, false);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("connection"), Some("close"));
        served.insert(resp.text().parse::<usize>().unwrap());
        server::assert_closed(&mut r);
    }
    assert_eq!(served, (0..THREADS).collect(), "in flight on every thread");
    assert!(threads.wait(Some(READ_TIMEOUT)), "the threads end");
    assert_eq!(arrived.load(Ordering::SeqCst), CONNECTIONS);
}

#[test]
fn an_address_in_use_is_an_error_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = ServerThreads::start(
        THREADS,
        &[Listen::Tcp(taken.local_addr().unwrap())],
        ConnectionSpread::ReusePort,
        HttpServer::new,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[test]
fn tls_listeners_need_reuse_port() {
    let err = ServerThreads::start(
        THREADS,
        &[Listen::Ssl(
            "127.0.0.1:0".parse().unwrap(),
            slotnet_net::ssl::test_certs::pki().server.configuration(),
        )],
        ConnectionSpread::Acceptor,
        HttpServer::new,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
