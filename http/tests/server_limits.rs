//! The server's bounds under attack (issue 16), each reproduced from outside: connection
//! slots, per-connection memory, stalled peers. Each test asserts the bound and that a
//! normal client is still served.

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use slotnet_core::EventLoop;
use slotnet_http::server::{
    HttpServer, HttpServerConfiguration, HttpServerRequest, HttpServerResponder,
};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_net::ssl::test_certs;
use slotnet_testkit::h2::wire::{frame, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS};
use slotnet_testkit::server::{assert_closed, read_response, TestServer};

/// Sends one keep-alive `GET /` on `s` and reads its answer.
fn get_hello(s: &mut BufReader<TcpStream>) {
    s.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let resp = read_response(s, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
}

#[test]
fn idle_connections_are_closed_oldest_first_when_slots_run_out() {
    let config = HttpServerConfiguration {
        max_connections: 3,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    // Three idle connections fill the slots: one that never sent anything (the oldest),
    // then two keep-alive connections between requests.
    let mut never = BufReader::new(server.connect());
    let mut older = BufReader::new(server.connect());
    get_hello(&mut older);
    let mut newer = BufReader::new(server.connect());
    get_hello(&mut newer);
    // A new client is served at once instead of waiting for an idle timeout (15 s); it
    // stays connected.
    let mut fourth = BufReader::new(server.connect());
    get_hello(&mut fourth);
    assert_closed(&mut never);
    // The next one takes the slot of the oldest remaining idle connection.
    let mut fifth = BufReader::new(server.connect());
    get_hello(&mut fifth);
    assert_closed(&mut older);
    for s in [&mut newer, &mut fourth, &mut fifth] {
        get_hello(s);
    }
}

/// GETs `path` from the TLS server on `port` with slotnet's own client (a real TLS
/// handshake, ALPN), on this thread's loop; the body, or the error.
fn https_get(port: u16, path: &str) -> Result<Vec<u8>, NetworkError> {
    let manager = NetworkAccessManager::new();
    let mut request = NetworkRequest::from_url_str(&format!("https://localhost:{port}{path}"));
    request.set_ssl_configuration(test_certs::client_configuration());
    request.set_transfer_timeout(Some(Duration::from_secs(20)));
    let reply = manager.get(request);
    reply.finished().connect(|_| EventLoop::current().quit());
    EventLoop::current().exec();
    match reply.error() {
        NetworkError::NoError => Ok(reply.read_all()),
        error => Err(error),
    }
}

#[test]
fn idle_tcp_connections_to_the_tls_port_do_not_lock_out_https_clients() {
    let server = TestServer::start_tls(HttpServerConfiguration::default(), |_| {});
    // Far more than the TLS server's pending limit (30): connections that never send a
    // ClientHello, each of which would wait out the 5 s handshake timeout.
    let idle: Vec<TcpStream> = (0..250)
        .map(|_| TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap())
        .collect();
    for _ in 0..3 {
        assert_eq!(https_get(server.port, "/").as_deref(), Ok(&b"hello"[..]));
    }
    drop(idle);
}

/// Adds `/held`: the server's `buffered_output_bytes()` as text.
fn held_route(server: &HttpServer) {
    let abstract_server = server.as_abstract();
    server
        .route(
            "/held",
            Method::GET,
            move |_: &HttpServerRequest, resp: HttpServerResponder| {
                let held = abstract_server.buffered_output_bytes();
                resp.write_data(StatusCode::OK, "text/plain", held.to_string());
            },
        )
        .expect("valid route");
}

/// The server's `buffered_output_bytes()`, asked on a fresh connection.
fn held(server: &TestServer) -> usize {
    let mut s = BufReader::new(server.connect());
    s.get_mut()
        .write_all(b"GET /held HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    read_response(&mut s, false).text().parse().unwrap()
}

#[test]
fn pipelining_without_reading_holds_at_most_the_output_budget() {
    let server = TestServer::start(HttpServerConfiguration::default(), held_route);
    assert_eq!(held(&server), 0);
    // 1,000 pipelined requests for 16 KiB each (16 MB of answers), never read: far more
    // than the kernel's socket buffers take.
    const ANSWER: usize = 16 * 1024;
    let request = format!("GET /bytes/{ANSWER} HTTP/1.1\r\nHost: t\r\n\r\n");
    // (40 kB of requests: the kernel takes them all; the answers are what piles up.)
    let mut attacker = server.connect();
    attacker.write_all(request.repeat(1000).as_bytes()).unwrap();
    let budget = HttpServerConfiguration::default().max_buffered_output;
    assert_eq!(budget, 256 * 1024);
    // Once the kernel's buffers are full, answers pile up in the server: never beyond the
    // budget plus one answer, however long the server has to go further.
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < 10 {
        let held = held(&server);
        assert!(
            held <= budget + ANSWER + 1024,
            "{held} bytes held for one connection that does not read"
        );
        if held > 0 {
            samples.push(held);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the kernel took every answer: the test proves nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.assert_serves_fresh_client();
    // Reading resumes the connection: every answer arrives, complete and in order.
    attacker
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut r = BufReader::new(attacker);
    for _ in 0..3 {
        let resp = read_response(&mut r, false);
        assert_eq!(resp.body.len(), ANSWER);
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let config = HttpServerConfiguration {
        send_timeout: Duration::from_millis(500),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, held_route);
    // 32 MB asked for and never read: the socket's queue stays full.
    let mut s = server.connect();
    s.write_all(b"GET /bytes/32000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut seen_held = false;
    loop {
        let held = held(&server);
        seen_held |= held > 0;
        if seen_held && held == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still holding {held} bytes for a client that reads nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.assert_serves_fresh_client();
}

#[test]
fn an_http2_window_held_at_zero_is_dropped_after_the_send_timeout() {
    let config = HttpServerConfiguration {
        h2c: true,
        send_timeout: Duration::from_millis(500),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let mut s = server.connect();
    s.write_all(PREFACE).unwrap();
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: no DATA may be sent until a WINDOW_UPDATE that
    // never comes.
    s.write_all(&frame(SETTINGS, 0, 0, &[0x00, 0x04, 0, 0, 0, 0]))
        .unwrap();
    let mut block = vec![0x82, 0x86, 0x04, 13]; // GET, http, :path literal
    block.extend_from_slice(b"/bytes/100000");
    block.extend_from_slice(&[0x01, 1, b't']); // :authority t
    s.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
        .unwrap();
    // The server sends its SETTINGS, the answer's HEADERS, maybe a GOAWAY, then closes
    // (well before the read timeout).
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let end = std::io::Read::read_to_end(&mut s, &mut rest);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection was not closed"
    );
    server.assert_serves_fresh_client();
}

#[test]
fn an_http2_window_held_at_zero_is_dropped_after_the_send_timeout_with_small_answers() {
    // Answers of at most 16 KiB went to h2 whole and were not tracked: the connection
    // lived on until the idle GOAWAY (here 100 s) instead of the send timeout.
    let config = HttpServerConfiguration {
        h2c: true,
        send_timeout: Duration::from_millis(500),
        keep_alive_timeout: Duration::from_secs(100),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let mut s = server.connect();
    s.write_all(PREFACE).unwrap();
    s.write_all(&frame(SETTINGS, 0, 0, &[0x00, 0x04, 0, 0, 0, 0]))
        .unwrap();
    for (stream, path) in [(1, "/bytes/100"), (3, "/bytes/16000"), (5, "/bytes/1")] {
        let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
        block.extend_from_slice(path.as_bytes());
        block.extend_from_slice(&[0x01, 1, b't']);
        s.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, stream, &block))
            .unwrap();
    }
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let end = std::io::Read::read_to_end(&mut s, &mut rest);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection was not closed"
    );
    server.assert_serves_fresh_client();
}
