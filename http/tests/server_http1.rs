//! HTTP/1.1 semantics of the server, with raw std clients on loopback.

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode};
use slotnet_http::server::{
    HttpServerConfiguration, HttpServerRequest, HttpServerResponder, WriteChunkError,
};
use slotnet_testkit::server::{assert_closed, read_response, roundtrip, TestServer};

#[test]
fn get_has_date_length_and_body() {
    let server = TestServer::standard();
    let (resp, _) = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.version, "HTTP/1.1");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    let date = resp.header("date").expect("Date header");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert_eq!(resp.header("server"), None);
}

#[test]
fn keep_alive_reuses_the_connection() {
    let server = TestServer::standard();
    let mut s = server.connect();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..5 {
        s.write_all(format!("GET /bytes/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        let resp = read_response(&mut r, false);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body.len(), i);
        assert_eq!(resp.header("connection"), None);
    }
}

#[test]
fn pipelined_answers_keep_request_order() {
    let server = TestServer::standard();
    let mut s = server.connect();
    // The first answer comes last from its handler (a timer), the others at once.
    s.write_all(
        b"GET /delay/150 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /delay/0 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let bodies: Vec<String> = (0..4)
        .map(|_| read_response(&mut r, false).text())
        .collect();
    assert_eq!(bodies, ["delayed 150", "delayed 0", "hello", "abc"]);
}

#[test]
fn chunked_request_body_is_joined() {
    let server = TestServer::standard();
    let (resp, _) = roundtrip(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n5;ext=1\r\ndefgh\r\n0\r\nTrailer: x\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/x-test"));
    assert_eq!(resp.body, b"abcdefgh");
}

#[test]
fn body_split_across_writes() {
    let server = TestServer::standard();
    let mut s = server.connect();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234")
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    s.write_all(b"56789").unwrap();
    let resp = read_response(&mut BufReader::new(s), false);
    assert_eq!(resp.body, b"0123456789");
}

#[test]
fn chunked_response_one_chunk_per_write() {
    let server = TestServer::standard();
    let (resp, _) = roundtrip(&server, b"GET /stream/3 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(resp.chunked);
    assert_eq!(resp.text(), "line 0\nline 1\nline 2\n");
    assert_eq!(resp.header("content-length"), None);
}

#[test]
fn streamed_response_to_http_10_is_close_delimited() {
    let server = TestServer::standard();
    let (resp, mut r) = roundtrip(&server, b"GET /stream/2 HTTP/1.0\r\n\r\n");
    assert_eq!(resp.version, "HTTP/1.0");
    assert!(!resp.chunked);
    assert_eq!(resp.text(), "line 0\nline 1\n");
    assert_closed(&mut r);
}

#[test]
fn expect_continue_gets_100_then_the_answer() {
    let server = TestServer::standard();
    let mut s = server.connect();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let interim = read_response(&mut r, false);
    assert_eq!(interim.status, 100);
    s.write_all(b"body").unwrap();
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"body");
}

#[test]
fn expect_continue_over_the_limit_gets_413_without_100() {
    let config = HttpServerConfiguration {
        max_body_size: 1000,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let (resp, mut r) = roundtrip(
        &server,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(resp.status, 413);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
    server.assert_serves_fresh_client();
}

#[test]
fn head_has_length_but_no_body() {
    let server = TestServer::standard();
    let mut s = server.connect();
    s.write_all(b"HEAD /bytes/100 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_response(&mut r, true);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100"));
    // The next answer starts right after the head: no body bytes were sent.
    let next = read_response(&mut r, false);
    assert_eq!(next.body, b"hello");
}

#[test]
fn connection_close_is_honoured() {
    let server = TestServer::standard();
    let (resp, mut r) = roundtrip(
        &server,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    // The request after `Connection: close` is not answered.
    assert_closed(&mut r);
}

#[test]
fn http_10_closes_unless_keep_alive() {
    let server = TestServer::standard();
    let (resp, mut r) = roundtrip(&server, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(resp.version, "HTTP/1.0");
    assert_eq!(resp.body, b"hello");
    assert_closed(&mut r);

    let mut s = server.connect();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..2 {
        s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut r, false);
        assert_eq!(resp.body, b"hello");
        assert_eq!(resp.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn missing_route_and_unparsable_argument_are_404() {
    let server = TestServer::standard();
    let (resp, _) = roundtrip(&server, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 404);
    let (resp, _) = roundtrip(&server, b"GET /bytes/ten HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 404);
    let (resp, _) = roundtrip(
        &server,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(resp.status, 404);
}

#[test]
fn a_refused_route_says_why_and_serves_nothing() {
    type Req<'a> = &'a HttpServerRequest;
    type Resp = HttpServerResponder;
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let e = errors.clone();
    let server = TestServer::start(HttpServerConfiguration::default(), move |server| {
        let mut e = e.lock().unwrap();
        // One placeholder, a handler taking two path arguments.
        let mismatch = server.route(
            "/pair/<arg>",
            Method::GET,
            |a: u8, b: u8, _: Req, r: Resp| {
                r.write_data(StatusCode::OK, "text/plain", format!("{a} {b}"))
            },
        );
        e.push(mismatch.unwrap_err());
        let no_slash = server.route("plain", Method::GET, |_: Req, r: Resp| {
            r.write_status(StatusCode::OK)
        });
        e.push(no_slash.unwrap_err());
        let glued = server.route("/item<arg>", Method::GET, |_: u8, _: Req, r: Resp| {
            r.write_status(StatusCode::OK)
        });
        e.push(glued.unwrap_err());
    });
    let texts: Vec<String> = errors
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        texts,
        [
            r#"route "/pair/<arg>": the pattern has 1 placeholder but the handler takes 2 path arguments"#,
            r#"route "plain": a pattern must start with '/'"#,
            r#"route "/item<arg>": a placeholder (<arg>, <path>) must be a whole path segment, found "item<arg>""#,
        ]
    );
    // Nothing was added: those paths get the missing handler's 404.
    for path in ["/pair/1", "/plain", "plain", "/item1", "/item<arg>"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        let (resp, _) = roundtrip(&server, request.as_bytes());
        assert_eq!(resp.status, 404, "{path}");
    }
}

#[test]
fn custom_missing_handler_and_after_request_hooks() {
    let server = TestServer::start(HttpServerConfiguration::default(), |server| {
        server.set_missing_handler(|req: &HttpServerRequest, resp: HttpServerResponder| {
            resp.write_data(StatusCode::IM_A_TEAPOT, "text/plain", req.path().to_owned());
        });
        server.after_request(|req, status, headers| {
            headers.insert("x-hook", HeaderValue::from_static("1"));
            if req.path() == "/rewrite" {
                *status = StatusCode::GONE;
            }
        });
    });
    let (resp, _) = roundtrip(&server, b"GET /x%20y HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 418);
    assert_eq!(resp.text(), "/x%20y");
    assert_eq!(resp.header("x-hook"), Some("1"));
    let (resp, _) = roundtrip(&server, b"GET /rewrite HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 410);
    let (resp, _) = roundtrip(&server, b"GET /stream/1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.header("x-hook"), Some("1"));
}

#[test]
fn dropped_responder_answers_500_and_the_connection_goes_on() {
    let server = TestServer::standard();
    let mut s = server.connect();
    s.write_all(b"GET /drop HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).status, 500);
    assert_eq!(read_response(&mut r, false).body, b"hello");
}

#[test]
fn request_accessors_and_typed_arguments() {
    let server = TestServer::start(HttpServerConfiguration::default(), |server| {
        server
            .route(
                "/info/<arg>/<arg>",
                Method::GET,
                |name: String, n: u8, req: &HttpServerRequest, resp: HttpServerResponder| {
                    let text = format!(
                        "{name} {n} {} {:?} {} {}",
                        req.url(),
                        req.query_items(),
                        req.remote_address().unwrap(),
                        req.local_port() != 0,
                    );
                    resp.write_data(StatusCode::OK, "text/plain", text);
                },
            )
            .expect("valid route");
    });
    let (resp, _) = roundtrip(
        &server,
        b"GET /info/a%2Fb/7?x=1&y=a+b HTTP/1.1\r\nHost: example.org:81\r\n\r\n",
    );
    assert_eq!(
        resp.text(),
        "a/b 7 http://example.org:81/info/a%2Fb/7?x=1&y=a+b [(\"x\", \"1\"), (\"y\", \"a b\")] 127.0.0.1 true"
    );
    // u8 overflow does not parse: no route.
    let (resp, _) = roundtrip(&server, b"GET /info/a/300 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 404);
}

#[test]
fn streaming_with_length_and_server_header() {
    let config = HttpServerConfiguration {
        server_header: Some(HeaderValue::from_static("slotnet-test")),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |server| {
        server
            .route(
                "/sized",
                Method::GET,
                |_: &HttpServerRequest, mut resp: HttpServerResponder| {
                    resp.write_begin(StatusCode::OK, http::HeaderMap::new(), Some(6));
                    assert_eq!(resp.write_chunk("abc"), Ok(()));
                    assert_eq!(resp.write_chunk("too long"), Err(WriteChunkError::TooLong));
                    Timer::single_shot(Duration::from_millis(20), move || {
                        assert_eq!(resp.write_chunk("def"), Ok(()));
                        resp.write_end();
                    });
                },
            )
            .expect("valid route");
    });
    let (resp, _) = roundtrip(&server, b"GET /sized HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.header("content-length"), Some("6"));
    assert_eq!(resp.header("server"), Some("slotnet-test"));
    assert_eq!(resp.body, b"abcdef");
}

use slotnet_core::Timer;
use slotnet_testkit::server;

#[test]
fn files_are_served_with_guessed_type() {
    let dir = std::env::temp_dir().join(format!("slotnet-server-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("page.html"), "<p>hi</p>").unwrap();
    let root = dir.clone();
    let server = TestServer::start(HttpServerConfiguration::default(), move |server| {
        server
            .route(
                "/f/<arg>",
                Method::GET,
                move |name: String, _: &HttpServerRequest, resp: HttpServerResponder| {
                    resp.send_response(slotnet_http::server::HttpServerResponse::from_file(
                        root.join(name),
                    ));
                },
            )
            .expect("valid route");
    });
    let mut s = server.connect();
    s.write_all(
        b"GET /f/big.bin HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /f/page.html HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /f/missing HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(resp.body == big, "file body differs");
    let resp = read_response(&mut r, false);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(resp.text(), "<p>hi</p>");
    assert_eq!(read_response(&mut r, false).status, 404);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn local_socket_server() {
    use slotnet_core::EventLoop;
    use slotnet_http::server::HttpServer;
    use slotnet_net::LocalServer;
    let path = std::env::temp_dir().join(format!("slotnet-http-{}.sock", std::process::id()));
    let p = path.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let lp = EventLoop::current();
        let server = HttpServer::new();
        server::standard_routes(&server);
        let local = LocalServer::new();
        assert!(local.listen(p.to_str().unwrap()));
        assert!(server.bind_local(&local));
        assert_eq!(server.local_servers(), vec![local]);
        assert!(server.server_ports().is_empty());
        tx.send(lp.handle()).unwrap();
        lp.exec();
        server.destroy();
        local.destroy();
    });
    let handle = rx.recv().unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: local\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut BufReader::new(&mut s), false);
    assert_eq!(resp.body, b"hello");
    handle.quit().unwrap();
    thread.join().unwrap();
}

#[test]
fn bind_refuses_a_server_that_is_not_listening() {
    let server = slotnet_http::server::HttpServer::new();
    let tcp = slotnet_net::TcpServer::new();
    assert!(!server.bind(&tcp));
    assert!(server.servers().is_empty());
    assert!(tcp.listen(std::net::Ipv4Addr::LOCALHOST, 0));
    assert!(server.bind(&tcp));
    assert_eq!(server.server_ports(), vec![tcp.server_port()]);
}

#[test]
fn shutdown_finishes_answers_in_flight() {
    let server = TestServer::start(HttpServerConfiguration::default(), |server| {
        let s = server.clone();
        server
            .route(
                "/shutdown",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    s.shutdown();
                    resp.write_status(StatusCode::NO_CONTENT);
                },
            )
            .expect("valid route");
        server.shutdown_finished().connect(|_| {
            slotnet_core::EventLoop::current().quit();
        });
    });
    // A slow request in flight on one connection, an idle keep-alive connection on another.
    let mut slow = server.connect();
    slow.write_all(b"GET /delay/200 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut idle = server.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut idle = BufReader::new(idle);
    assert_eq!(read_response(&mut idle, false).status, 200);
    std::thread::sleep(Duration::from_millis(20));
    let (resp, mut r) = roundtrip(&server, b"GET /shutdown HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
    assert_closed(&mut idle);
    let mut slow = BufReader::new(slow);
    let resp = read_response(&mut slow, false);
    assert_eq!(resp.text(), "delayed 200");
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut slow);
    // No longer listening.
    assert!(std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err());
}

#[test]
fn keep_alive_timeout_closes_idle_connections() {
    let config = HttpServerConfiguration {
        keep_alive_timeout: Duration::from_millis(200),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let (resp, mut r) = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 200);
    let start = std::time::Instant::now();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(150));
}

/// The keep-alive timeout counts from the last request, not from the connection's start:
/// the timer armed at the start fires before that and must only push the deadline back.
#[test]
fn keep_alive_timeout_counts_from_the_last_request() {
    let config = HttpServerConfiguration {
        keep_alive_timeout: Duration::from_secs(3),
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let mut s = server.connect();
    let mut r = BufReader::new(s.try_clone().unwrap());
    std::thread::sleep(Duration::from_secs(2));
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
    // Past the first 3 s, within 3 s of the request.
    std::thread::sleep(Duration::from_millis(1500));
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
    let start = std::time::Instant::now();
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(start.elapsed() >= Duration::from_secs(2));
}

/// Produces `count` lines, one per `read`.
struct Lines {
    next: usize,
    count: usize,
}

impl std::io::Read for Lines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.next == self.count {
            return Ok(0);
        }
        let line = format!("row {}\n", self.next);
        buf[..line.len()].copy_from_slice(line.as_bytes());
        self.next += 1;
        Ok(line.len())
    }
}

#[test]
fn reader_bodies_are_pulled_chunked_or_sized() {
    use slotnet_http::server::HttpServerResponse;
    let server = TestServer::start(HttpServerConfiguration::default(), |server| {
        server
            .route(
                "/lines/<arg>",
                Method::GET,
                |n: usize, _: &HttpServerRequest, resp: HttpServerResponder| {
                    let reader = Lines { next: 0, count: n };
                    resp.send_response(HttpServerResponse::from_reader(
                        StatusCode::OK,
                        "text/plain",
                        reader,
                        None,
                    ));
                },
            )
            .expect("valid route");
        server
            .route(
                "/zeros/<arg>",
                Method::GET,
                |n: u64, _: &HttpServerRequest, resp: HttpServerResponder| {
                    let reader = std::io::repeat(0).take(n);
                    resp.send_response(HttpServerResponse::from_reader(
                        StatusCode::OK,
                        "application/octet-stream",
                        reader,
                        Some(n),
                    ));
                },
            )
            .expect("valid route");
        server
            .route(
                "/short",
                Method::GET,
                |_: &HttpServerRequest, resp: HttpServerResponder| {
                    // Announces more than the reader has: the client must see a cut body.
                    let reader = std::io::repeat(1).take(10);
                    resp.send_response(HttpServerResponse::from_reader(
                        StatusCode::OK,
                        "application/octet-stream",
                        reader,
                        Some(20),
                    ));
                },
            )
            .expect("valid route");
    });
    let mut s = server.connect();
    s.write_all(
        b"GET /lines/3 HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /lines/3 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /zeros/5000000 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert!(resp.chunked);
    assert_eq!(resp.text(), "row 0\nrow 1\nrow 2\n");
    let head = read_response(&mut r, true);
    assert_eq!(head.status, 200);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.body.len(), 5_000_000);
    assert!(resp.body.iter().all(|b| *b == 0));
    assert_eq!(read_response(&mut r, false).body, b"hello");

    let (resp_head, mut r) = {
        let mut s = server.connect();
        s.write_all(b"GET /short HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut r = BufReader::new(s);
        let mut status = String::new();
        std::io::BufRead::read_line(&mut r, &mut status).unwrap();
        (status, r)
    };
    assert!(resp_head.starts_with("HTTP/1.1 200"));
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    let body_start = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        rest.len() - body_start,
        10,
        "the body is cut where the reader ended"
    );
}
