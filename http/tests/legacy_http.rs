//! The legacy `Http` (QHttp) on loopback: Qt's two documented signal sequences, abort,
//! devices, error statuses, keep-alive and `Connection: close`, authentication.

use std::io::Write;
use std::net::TcpStream;

use slotnet_http::legacy::{
    ConnectionMode, Http, HttpError, HttpRequestHeader, RequestData, State,
};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::legacy::{normalized, record, run_until_done, SharedBuf};

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Qt's first sequence: `setHost` (id 1) then `get` (id 2); the server delimits the body by
/// closing, so the totals are 0 and the connection closes after `done`.
#[test]
fn documented_get_sequence() {
    let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let expected = body.clone();
    let server = ScriptedServer::start(move |_, stream: &mut TcpStream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let _ = stream.write_all(&body[..5388]);
        let _ = stream.flush();
        let _ = stream.write_all(&body[5388..]);
        Next::Close
    });
    let http = Http::new();
    let trace = record(&http);
    let received = SharedBuf::default();
    let r = received.clone();
    http.ready_read().connect(move |_| {
        let chunk = http.read_all();
        r.0.borrow_mut().extend(chunk);
    });
    assert_eq!(
        http.set_host("127.0.0.1", server.port, ConnectionMode::Http),
        1
    );
    assert_eq!(http.get("/index.html", None), 2);
    assert_eq!(
        http.current_id(),
        1,
        "the first operation is current before it starts"
    );
    assert!(http.has_pending_requests());
    run_until_done(&http, 1);

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/index.html");
    assert_eq!(
        seen[0].header("host"),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
    let sent = seen[0].head_len;
    let trace = trace.borrow();
    assert_eq!(
        normalized(&trace),
        lines(&[
            "requestStarted(1)",
            "requestFinished(1, false)",
            "requestStarted(2)",
            "stateChanged(Connecting)",
            "stateChanged(Sending)",
            &format!("dataSendProgress({sent}, {sent})"),
            "stateChanged(Reading)",
            "responseHeaderReceived(200)",
            "<body>",
            "stateChanged(Connected)",
            "requestFinished(2, false)",
            "done(false)",
            "stateChanged(Closing)",
            "stateChanged(Unconnected)",
        ]),
        "{trace:#?}"
    );
    // Every dataReadProgress is followed by its readyRead, with a growing count and total 0.
    let progress: Vec<&String> = trace
        .iter()
        .filter(|l| l.starts_with("dataReadProgress"))
        .collect();
    assert_eq!(
        progress.last().unwrap().as_str(),
        "dataReadProgress(40000, 0)"
    );
    assert_eq!(*received.0.borrow(), expected);
    assert_eq!(http.error(), HttpError::NoError);
    assert_eq!(http.state(), State::Unconnected);
    assert_eq!(http.current_id(), 0);
    assert_eq!(http.last_response().status_code(), 200);
}

/// Qt's second sequence: the lookup of the host fails, the pending post is dropped without
/// signals, and only `done(true)` follows.
#[test]
fn documented_failed_lookup_sequence() {
    let http = Http::new();
    let trace = record(&http);
    assert_eq!(
        http.set_host("www.foo.invalid", 80, ConnectionMode::Http),
        1
    );
    assert_eq!(http.get("/index.html", None), 2);
    assert_eq!(http.post("/register.html", "name=value", None), 3);
    run_until_done(&http, 1);
    assert_eq!(
        *trace.borrow(),
        lines(&[
            "requestStarted(1)",
            "requestFinished(1, false)",
            "requestStarted(2)",
            "stateChanged(HostLookup)",
            "requestFinished(2, true)",
            "done(true)",
            "stateChanged(Unconnected)",
        ])
    );
    assert_eq!(http.error(), HttpError::HostNotFound);
    assert!(
        http.error_string().contains("www.foo.invalid"),
        "{}",
        http.error_string()
    );
    assert!(!http.has_pending_requests());
    assert_eq!(http.current_id(), 0);
}

#[test]
fn abort_finishes_the_current_request_and_drops_the_others() {
    let server = ScriptedServer::start(|_, stream: &mut TcpStream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
        Next::Hold
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let recorded = record(&http);
    let trace = recorded.clone();
    assert_eq!(http.get("/slow", None), 1);
    assert_eq!(http.get("/never", None), 2);
    http.ready_read().connect(move |_| http.abort());
    run_until_done(&http, 1);
    let trace = trace.borrow();
    let tail: Vec<&str> = trace
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(String::as_str)
        .collect();
    // Qt 4 closes through Closing after an abort (closeConn).
    assert_eq!(
        tail,
        [
            "readyRead()",
            "requestFinished(1, true)",
            "done(true)",
            "stateChanged(Closing)",
            "stateChanged(Unconnected)"
        ]
    );
    assert!(!trace.iter().any(|l| l == "requestStarted(2)"));
    assert_eq!(http.error(), HttpError::Aborted);
    assert_eq!(http.error_string(), "Request aborted");
    assert_eq!(server.seen().len(), 1);

    // Nothing scheduled: abort does nothing.
    let before = trace.len();
    drop(trace);
    http.abort();
    slotnet_core::EventLoop::current().process_events(Some(std::time::Duration::ZERO));
    assert_eq!(recorded.borrow().len(), before);
}

#[test]
fn body_written_into_a_device_instead_of_ready_read() {
    let server = ScriptedServer::start(|_, stream: &mut TcpStream| {
        respond(
            stream,
            "200 OK",
            &[("Content-Type", "text/plain")],
            b"into the device",
        );
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    let device = SharedBuf::default();
    let seen_device = std::rc::Rc::new(std::cell::Cell::new(false));
    let s = seen_device.clone();
    http.response_header_received().connect(move |_| {
        s.set(http.current_destination_device(|_| ()).is_some());
    });
    http.get("/file", Some(Box::new(device.clone())));
    run_until_done(&http, 1);
    assert_eq!(*device.0.borrow(), b"into the device");
    assert!(
        seen_device.get(),
        "the device is current during the request"
    );
    let trace = trace.borrow();
    assert!(!trace.iter().any(|l| l == "readyRead()"), "{trace:#?}");
    assert!(
        trace.iter().any(|l| l == "dataReadProgress(15, 15)"),
        "{trace:#?}"
    );
    assert_eq!(http.bytes_available(), 0);
    assert_eq!(http.current_destination_device(|_| ()), None);
    assert_eq!(http.last_response().content_type(), Some("text/plain"));
}

#[test]
fn not_found_is_a_response_not_an_error() {
    let server = ScriptedServer::start(|_, stream: &mut TcpStream| {
        respond(stream, "404 Not Found", &[], b"no such page");
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    let finished = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let f = finished.clone();
    http.request_finished().connect(move |(id, error)| {
        f.borrow_mut().push((*id, *error, http.read_all()));
    });
    let id = http.get("/missing", None);
    run_until_done(&http, 1);
    assert_eq!(
        *finished.borrow(),
        vec![(id, false, b"no such page".to_vec())]
    );
    assert!(trace
        .borrow()
        .contains(&"responseHeaderReceived(404)".to_owned()));
    assert_eq!(trace.borrow().last().unwrap(), "done(false)");
    assert_eq!(http.error(), HttpError::NoError);
    let response = http.last_response();
    assert_eq!(
        (response.status_code(), response.reason_phrase()),
        (404, "Not Found")
    );
    assert_eq!(
        http.state(),
        State::Connected,
        "the connection is kept alive"
    );
}

#[test]
fn keep_alive_connection_carries_both_gets_until_close() {
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        respond(stream, "200 OK", &[], seen.target.as_bytes());
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    let bodies = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let b = bodies.clone();
    http.request_finished()
        .connect(move |_| b.borrow_mut().push(http.read_all()));
    http.get("/one", None);
    http.get("/two", None);
    let close_id = http.close();
    run_until_done(&http, 1);
    assert_eq!(server.connection_count(), 1);
    assert!(server.seen().iter().all(|s| s.connection == 0));
    assert_eq!(
        *bodies.borrow(),
        vec![b"/one".to_vec(), b"/two".to_vec(), Vec::new()]
    );
    let trace = normalized(&trace.borrow());
    let second = trace.iter().position(|l| l == "requestStarted(2)").unwrap();
    let sent = server.seen()[1].head_len;
    assert_eq!(
        trace[second..].to_vec(),
        lines(&[
            "requestStarted(2)",
            "stateChanged(Sending)",
            &format!("dataSendProgress({sent}, {sent})"),
            "stateChanged(Reading)",
            "responseHeaderReceived(200)",
            "<body>",
            "stateChanged(Connected)",
            "requestFinished(2, false)",
            &format!("requestStarted({close_id})"),
            "stateChanged(Closing)",
            "stateChanged(Unconnected)",
            &format!("requestFinished({close_id}, false)"),
            "done(false)",
        ])
    );
}

#[test]
fn connection_close_response_closes_and_the_next_request_reconnects() {
    let server = ScriptedServer::start(|_, stream: &mut TcpStream| {
        respond(stream, "200 OK", &[("Connection", "close")], b"bye");
        Next::Close
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    http.get("/a", None);
    http.get("/b", None);
    run_until_done(&http, 1);
    assert_eq!(server.connection_count(), 2);
    let trace = normalized(&trace.borrow());
    let first_end = trace
        .iter()
        .position(|l| l == "requestFinished(1, false)")
        .unwrap();
    assert_eq!(
        trace[first_end..first_end + 5].to_vec(),
        lines(&[
            "requestFinished(1, false)",
            "stateChanged(Closing)",
            "stateChanged(Unconnected)",
            "requestStarted(2)",
            "stateChanged(Connecting)",
        ])
    );
    assert_eq!(trace.last().unwrap(), "stateChanged(Unconnected)");
}

const AUTH_OK: &str = "Basic dXNlcjpwYXNz"; // user:pass

fn auth_server() -> ScriptedServer {
    ScriptedServer::start(|seen, stream: &mut TcpStream| {
        if seen.header("authorization") == Some(AUTH_OK) {
            respond(stream, "200 OK", &[], b"secret");
        } else {
            respond(
                stream,
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"vault\"")],
                b"denied",
            );
        }
        Next::KeepAlive
    })
}

#[test]
fn basic_auth_asks_once_and_sends_the_credentials() {
    let server = auth_server();
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    let asked = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let a = asked.clone();
    http.authentication_required()
        .connect(move |(host, port, authenticator)| {
            a.borrow_mut().push((
                host.clone(),
                *port,
                authenticator.borrow().realm().to_owned(),
            ));
            let mut authenticator = authenticator.borrow_mut();
            authenticator.set_user("user");
            authenticator.set_password("pass");
        });
    let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let b = body.clone();
    http.request_finished()
        .connect(move |_| b.borrow_mut().push(http.read_all()));
    http.get("/private", None);
    http.get("/private/again", None);
    run_until_done(&http, 1);
    assert_eq!(
        *asked.borrow(),
        vec![("127.0.0.1".to_owned(), server.port, "vault".to_owned())]
    );
    assert_eq!(*body.borrow(), vec![b"secret".to_vec(), b"secret".to_vec()]);
    let seen = server.seen();
    let auths: Vec<Option<&str>> = seen.iter().map(|s| s.header("authorization")).collect();
    // The challenge, the answer, then the second request sends credentials at once.
    assert_eq!(auths, vec![None, Some(AUTH_OK), Some(AUTH_OK)]);
    let trace = trace.borrow();
    assert!(
        !trace.iter().any(|l| l == "responseHeaderReceived(401)"),
        "{trace:#?}"
    );
    assert_eq!(
        trace
            .iter()
            .filter(|l| l.starts_with("requestStarted"))
            .count(),
        2,
        "the retry keeps the request's id"
    );
    assert_eq!(http.error(), HttpError::NoError);
}

#[test]
fn set_user_answers_without_asking_and_missing_credentials_fail() {
    let server = auth_server();
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let asked = std::rc::Rc::new(std::cell::Cell::new(0));
    let a = asked.clone();
    http.authentication_required()
        .connect(move |_| a.set(a.get() + 1));
    http.set_user("user", "pass");
    let id = http.get("/private", None);
    run_until_done(&http, 1);
    assert_eq!(asked.get(), 0);
    assert_eq!(http.read_all(), b"secret");
    assert_eq!(http.current_id(), 0);
    assert!(id > 0);

    // Wrong credentials, and a slot that does not change them: the request fails.
    let other = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&other);
    let a = asked.clone();
    other
        .authentication_required()
        .connect(move |_| a.set(a.get() + 1));
    other.set_user("user", "wrong");
    other.get("/private", None);
    run_until_done(&other, 1);
    assert_eq!(
        asked.get(),
        1,
        "asked once the given credentials were rejected"
    );
    assert_eq!(other.error(), HttpError::AuthenticationRequiredError);
    let trace = trace.borrow();
    assert_eq!(
        trace[trace.len() - 3..].to_vec(),
        lines(&[
            "requestFinished(2, true)",
            "done(true)",
            "stateChanged(Unconnected)"
        ])
    );
}

#[test]
fn post_sends_the_body_and_reports_upload_progress() {
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        respond(stream, "201 Created", &[], &seen.body);
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let trace = record(&http);
    let payload = vec![b'x'; 300_000];
    http.post("/upload", payload.clone(), None);
    // A device of unknown length goes out chunked.
    let mut header = HttpRequestHeader::new("PUT", "/stream");
    header.set_value("Content-Type", "application/octet-stream");
    http.request(
        header,
        RequestData::device(std::io::Cursor::new(b"from a reader".to_vec())),
        None,
    );
    run_until_done(&http, 1);
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].body, payload);
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(seen[1].body, b"from a reader");
    let total = seen[0].head_len + payload.len();
    let trace = trace.borrow();
    let sends: Vec<&String> = trace
        .iter()
        .filter(|l| l.starts_with("dataSendProgress"))
        .collect();
    assert!(
        sends
            .iter()
            .any(|l| **l == format!("dataSendProgress({total}, {total})")),
        "{sends:#?}"
    );
    assert!(
        sends.last().unwrap().ends_with(", 0)"),
        "chunked: total unknown"
    );
    assert!(trace.contains(&"responseHeaderReceived(201)".to_owned()));
}

#[test]
fn broken_responses_map_to_qt_errors() {
    let cases: Vec<(&'static [u8], HttpError)> = vec![
        (b"garbage\r\n\r\n", HttpError::InvalidResponseHeader),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            HttpError::WrongContentLength,
        ),
        (b"", HttpError::UnexpectedClose),
    ];
    for (response, expected) in cases {
        let server = ScriptedServer::start(move |_, stream: &mut TcpStream| {
            let _ = stream.write_all(response);
            Next::Close
        });
        let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
        http.get("/", None);
        run_until_done(&http, 1);
        assert_eq!(
            http.error(),
            expected,
            "{}",
            String::from_utf8_lossy(response)
        );
        assert_eq!(http.state(), State::Unconnected);
    }

    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = Http::with_host("127.0.0.1", port, ConnectionMode::Http);
    http.get("/", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::ConnectionRefused);
}

#[test]
fn head_and_user_socket() {
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        assert_eq!(seen.method, "HEAD");
        let _ =
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nX-Custom: Yes\r\n\r\n");
        Next::KeepAlive
    });
    let socket = slotnet_net::TcpSocket::new();
    let http = Http::new();
    http.set_socket(Some(socket));
    http.set_host("127.0.0.1", server.port, ConnectionMode::Http);
    http.head("/");
    run_until_done(&http, 1);
    let response = http.last_response();
    assert_eq!(response.content_length(), Some(1234));
    assert_eq!(response.keys(), vec!["Content-Length", "X-Custom"]);
    assert_eq!(socket.state(), slotnet_net::SocketState::Connected);
    http.destroy();
    assert!(socket.is_alive(), "a user socket is not owned");
}

#[test]
fn read_buffer_limit_holds_the_server_back_until_the_application_reads() {
    const LIMIT: usize = 8 * 1024;
    let body: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let server = ScriptedServer::start(move |_, stream: &mut TcpStream| {
        respond(stream, "200 OK", &[], &body);
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    http.set_read_buffer_size(LIMIT);
    assert_eq!(http.read_buffer_size(), LIMIT);
    let received = SharedBuf::default();
    let most = std::rc::Rc::new(std::cell::Cell::new(0u64));
    // The application reads at its own pace, not from ready_read.
    let reader = slotnet_core::Timer::new();
    let (r, m) = (received.clone(), most.clone());
    reader.timeout().connect(move |_| {
        m.set(m.get().max(http.bytes_available()));
        let mut chunk = [0u8; 4096];
        let n = http.read(&mut chunk);
        r.0.borrow_mut().extend_from_slice(&chunk[..n]);
    });
    reader.start_interval(std::time::Duration::from_micros(50));
    let (r, m) = (received.clone(), most.clone());
    http.request_finished().connect(move |_| {
        m.set(m.get().max(http.bytes_available()));
        r.0.borrow_mut().extend(http.read_all());
    });
    http.get("/big", None);
    run_until_done(&http, 1);
    reader.destroy();
    assert_eq!(received.0.borrow().len(), expected.len());
    assert!(*received.0.borrow() == expected);
    // At most one socket read (64 KiB) beyond the limit is ever buffered.
    assert!(most.get() <= (LIMIT + 64 * 1024) as u64, "{}", most.get());
    assert_eq!(http.error(), HttpError::NoError);
}

#[test]
fn proxy_gets_absolute_targets_and_its_credentials_after_a_407() {
    let proxy = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        if seen.header("proxy-authorization") == Some("Basic cHU6cHA=") {
            respond(stream, "200 OK", &[], seen.target.as_bytes());
        } else {
            respond(
                stream,
                "407 Proxy Authentication Required",
                &[("Proxy-Authenticate", "Basic realm=\"proxy\"")],
                b"",
            );
        }
        Next::KeepAlive
    });
    let http = Http::new();
    let asked = std::rc::Rc::new(std::cell::Cell::new(0));
    let a = asked.clone();
    http.proxy_authentication_required()
        .connect(move |_| a.set(a.get() + 1));
    http.set_proxy("127.0.0.1", proxy.port, "pu", "pp");
    http.set_host("origin.example", 8080, ConnectionMode::Http);
    http.get("/path?q=1", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(http.read_all(), b"http://origin.example:8080/path?q=1");
    assert_eq!(asked.get(), 0, "set_proxy's credentials answered");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("host"), Some("origin.example:8080"));
    // (HTTPS through a proxy is a CONNECT tunnel: legacy_https tests it.)
}

#[test]
fn set_network_proxy_takes_a_network_proxy() {
    use slotnet_net::{NetworkProxy, ProxyType};
    let proxy = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        if seen.header("proxy-authorization") == Some("Basic cHU6cHA=") {
            respond(stream, "200 OK", &[], seen.target.as_bytes());
        } else {
            respond(
                stream,
                "407 Proxy Authentication Required",
                &[("Proxy-Authenticate", "Basic realm=\"proxy\"")],
                b"",
            );
        }
        Next::KeepAlive
    });
    let http = Http::new();
    let mut p = NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", proxy.port);
    p.set_user("pu");
    p.set_password("pp");
    http.set_network_proxy(&p);
    http.set_host("origin.example", 8080, ConnectionMode::Http);
    http.get("/via-proxy", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(http.read_all(), b"http://origin.example:8080/via-proxy");
    assert_eq!(proxy.seen().len(), 2);

    // NoProxy removes it: the next request goes to the origin (here: nowhere).
    http.set_network_proxy(&NetworkProxy::no_proxy());
    http.set_host("127.0.0.1", 1, ConnectionMode::Http);
    http.get("/direct", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::ConnectionRefused);
    assert_eq!(proxy.seen().len(), 2);

    // SOCKS5 is refused rather than bypassed.
    http.set_network_proxy(&NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", 1));
    http.get("/never", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::UnknownError);
    assert_eq!(http.error_string(), "Proxy type not supported by Http");
}

#[test]
fn keep_alive_connection_closed_by_the_server_is_replaced() {
    // The server answers as if keeping the connection, then closes it: the next request
    // notices the close first and opens a new connection.
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        respond(stream, "200 OK", &[], seen.target.as_bytes());
        Next::Close
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let bodies = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let b = bodies.clone();
    http.request_finished()
        .connect(move |_| b.borrow_mut().push(http.read_all()));
    http.get("/1", None);
    http.get("/2", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(*bodies.borrow(), vec![b"/1".to_vec(), b"/2".to_vec()]);
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn request_lost_on_a_stale_keep_alive_connection_is_sent_again() {
    // The server takes the second request on the first connection and closes without an
    // answer (a keep-alive timeout racing the request): it goes out once more on a new one.
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        if seen.connection == 0 && seen.target == "/2" {
            return Next::Close;
        }
        respond(stream, "200 OK", &[], seen.target.as_bytes());
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    let bodies = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let b = bodies.clone();
    http.request_finished()
        .connect(move |_| b.borrow_mut().push(http.read_all()));
    http.get("/1", None);
    http.get("/2", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(*bodies.borrow(), vec![b"/1".to_vec(), b"/2".to_vec()]);
    let seen: Vec<(usize, String)> = server
        .seen()
        .iter()
        .map(|s| (s.connection, s.target.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, "/1".to_owned()),
            (0, "/2".to_owned()),
            (1, "/2".to_owned())
        ]
    );

    // Only once: a second silent close is an error.
    let server = ScriptedServer::start(|seen, stream: &mut TcpStream| {
        if seen.target == "/2" {
            return Next::Close;
        }
        respond(stream, "200 OK", &[], b"ok");
        Next::KeepAlive
    });
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
    http.get("/1", None);
    http.get("/2", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::UnexpectedClose);
}

#[test]
fn a_request_that_cannot_go_on_the_wire_fails_and_says_why() {
    let server = ScriptedServer::start(|_, stream: &mut TcpStream| {
        respond(stream, "200 OK", &[], b"ok");
        Next::KeepAlive
    });
    let cases = [
        ("Bad Name", "v", "Invalid header field name \"Bad Name\""),
        (
            "X-Split",
            "a\r\nInjected: 1",
            "Invalid value of header field x-split",
        ),
    ];
    for (name, value, expected) in cases {
        let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Http);
        let mut header = HttpRequestHeader::new("GET", "/");
        header.add_value(name, value);
        http.request(header, RequestData::Empty, None);
        run_until_done(&http, 1);
        assert_eq!(http.error(), HttpError::UnknownError);
        assert_eq!(http.error_string(), expected);
    }
    assert!(
        server.seen().is_empty(),
        "nothing malformed reached the server"
    );

    // No host to send to.
    let http = Http::new();
    http.get("/", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::UnknownError);
    assert_eq!(http.error_string(), "No server set to connect to");
}
