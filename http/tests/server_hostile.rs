//! Hostile and broken clients: each case checks the server's answer, that the connection is
//! closed when it should be, and that a fresh client is still served afterwards.

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{Method, StatusCode};
use slotnet_core::Timer;
use slotnet_http::server::{HttpServerConfiguration, HttpServerRequest, HttpServerResponder};
use slotnet_testkit::server::{assert_closed, read_response, roundtrip, TestServer};

/// Sends `request`, expects `status` with `Connection: close`, then the close.
fn expect_rejected(server: &TestServer, request: &[u8], status: u16) {
    let (resp, mut r) = roundtrip(server, request);
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
    server.assert_serves_fresh_client();
}

#[test]
fn garbage_gets_400_and_close() {
    let server = TestServer::standard();
    expect_rejected(
        &server,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        400,
    );
    expect_rejected(&server, b"hello there\r\n\r\n", 400);
    expect_rejected(&server, b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400);
    // HTTP/1.1 without Host.
    expect_rejected(&server, b"GET / HTTP/1.1\r\n\r\n", 400);
    // Smuggling pattern: both framings.
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn garbage_after_a_good_request_answers_the_good_one_first() {
    let server = TestServer::standard();
    let (resp, mut r) = roundtrip(
        &server,
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n\x00\x01\x02 junk\r\n\r\n",
    );
    assert_eq!(resp.body, b"hello");
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 400);
    assert_closed(&mut r);
}

#[test]
fn unsupported_version_and_h2_preface_get_505() {
    let server = TestServer::standard();
    expect_rejected(&server, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
    expect_rejected(&server, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

#[test]
fn huge_header_line_gets_431() {
    let server = TestServer::standard();
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 100 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    expect_rejected(&server, &request, 431);
}

#[test]
fn ten_thousand_headers_get_431() {
    let server = TestServer::standard();
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..10_000 {
        request.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    expect_rejected(&server, &request, 431);
}

#[test]
fn url_over_64_kib_gets_414() {
    let server = TestServer::standard();
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat_n(b'a', 65 * 1024));
    request.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_rejected(&server, &request, 414);
    // Just under the limit is fine (no route: 404).
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat_n(b'a', 60 * 1024));
    request.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
    let (resp, _) = roundtrip(&server, &request);
    assert_eq!(resp.status, 404);
}

#[test]
fn bad_chunk_size_gets_400() {
    let server = TestServer::standard();
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400,
    );
    expect_rejected(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        400,
    );
}

#[test]
fn body_over_the_limit_gets_413() {
    let config = HttpServerConfiguration {
        max_body_size: 1000,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    // By Content-Length, with the body on its way.
    let mut request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'x', 200_000));
    expect_rejected(&server, &request, 413);
    // Chunked: found out while the chunks arrive.
    let mut request =
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(b"258\r\n");
        request.extend(std::iter::repeat_n(b'y', 600));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    expect_rejected(&server, &request, 413);
    // At the limit exactly: accepted.
    let mut request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'z', 1000));
    let (resp, _) = roundtrip(&server, &request);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 1000);
}

#[test]
fn slowloris_is_closed_after_the_header_timeout() {
    let config = HttpServerConfiguration {
        header_timeout: Duration::from_secs(1),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let stream = server.connect();
    let mut writer = stream.try_clone().unwrap();
    let start = Instant::now();
    let dripper = std::thread::spawn(move || {
        let head =
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for b in head.iter().cycle().take(100) {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut r = BufReader::new(stream);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 408);
    assert_closed(&mut r);
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(5), "closed after {elapsed:?}");
    server.assert_serves_fresh_client();
    dripper.join().unwrap();
}

#[test]
fn a_thousand_idle_connections_do_not_stop_service() {
    let server = TestServer::standard();
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..10 {
        idle.extend((0..100).map(|_| server.connect()));
        // Served between batches; this also keeps the kernel's accept backlog (128) from
        // overflowing while the loop takes the connections over.
        server.assert_serves_fresh_client();
    }
    // Some of them start a request and stop in the middle.
    for s in idle.iter().take(100) {
        (&*s).write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    }
    for _ in 0..3 {
        server.assert_serves_fresh_client();
    }
    drop(idle);
    server.assert_serves_fresh_client();
}

#[test]
fn client_that_never_reads_is_not_read_either() {
    let server = TestServer::standard();
    let mut s = server.connect();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let batch: Vec<u8> = b"GET /bytes/100000 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(100);
    let mut written = 0usize;
    let blocked = loop {
        match s.write(&batch) {
            Ok(n) => written += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("unexpected write error {e}"),
        }
        // Each request asks for 100 kB: without backpressure the server would queue
        // gigabytes here. Kernel buffers on both sides hold at most a few MB of requests.
        if written > 64 * 1024 * 1024 {
            break false;
        }
    };
    assert!(
        blocked,
        "the server kept reading {written} bytes of requests"
    );
    server.assert_serves_fresh_client();
    // Reading resumes the connection: the first answers arrive intact.
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..3 {
        let resp = read_response(&mut r, false);
        assert_eq!(resp.body.len(), 100_000);
        assert!(resp
            .body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i % 256) as u8));
    }
}

#[test]
fn max_connections_pauses_accepting_while_every_connection_is_busy() {
    let config = HttpServerConfiguration {
        max_connections: 2,
        ..HttpServerConfiguration::default()
    };
    // `/hold` answers after 1.5 s and counts the requests it got.
    let held = Arc::new(AtomicUsize::new(0));
    let counter = held.clone();
    let server = TestServer::start(config, move |server| {
        server
            .route(
                "/hold",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Timer::single_shot(Duration::from_millis(1500), move || {
                        resp.write_data(StatusCode::OK, "text/plain", "held");
                    });
                },
            )
            .expect("valid route");
    });
    // Both slots hold a request being answered: neither can be reclaimed.
    let busy: Vec<BufReader<TcpStream>> = (0..2)
        .map(|_| {
            let mut s = server.connect();
            s.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            BufReader::new(s)
        })
        .collect();
    let start = Instant::now();
    while held.load(Ordering::SeqCst) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "requests not received"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The third waits in the kernel's backlog.
    let mut third = server.connect();
    third
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let err = third
        .read(&mut byte)
        .expect_err("served beyond max_connections");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    // Once answered, the busy ones are idle keep-alive connections: the third is taken
    // over and answered.
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let resp = read_response(&mut BufReader::new(third), false);
    assert_eq!(resp.body, b"hello");
    for mut r in busy {
        assert_eq!(read_response(&mut r, false).body, b"held");
    }
}

#[test]
fn half_closed_client_still_gets_its_answer() {
    let server = TestServer::standard();
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /bytes/10 HTTP/1.0\r\n\r\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.body.len(), 10);
    assert_closed(&mut r);
}

#[test]
fn client_closing_mid_request_is_harmless() {
    let server = TestServer::standard();
    for partial in [
        &b"GET / HT"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"GET /delay/50 HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let mut s = server.connect();
        s.write_all(partial).unwrap();
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(100));
    server.assert_serves_fresh_client();
}
