//! The HTTP/1.1 client against scripted loopback servers: Qt's signal sequences (compare
//! docs/qt-traces), error mappings, redirects, the pool, misbehaving servers.

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_core::EventLoop;
use slotnet_http::{
    Attribute, NetworkAccessManager, NetworkError, NetworkRequest, RedirectPolicy, RequestBody,
};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::{run_all, run_traced};

fn hello_server() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        match req.target.as_str() {
            "/hello.txt" => respond(s, "200 OK", &[("Content-Type", "text/plain")], b"hello"),
            "/missing.txt" => respond(s, "404 Not Found", &[], b"<html>not found</html>"),
            "/echo" => respond(s, "200 OK", &[], &req.body),
            t if t.starts_with("/status/") => {
                let code = &t[8..];
                respond(s, &format!("{code} Whatever"), &[], b"")
            }
            _ => respond(s, "500 Internal Server Error", &[], b"oops"),
        }
        Next::KeepAlive
    })
}

#[test]
fn get_200_matches_the_qt_trace() {
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/get-200-small.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(5, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello");
    assert_eq!(reply.status_code(), Some(200));
    assert_eq!(
        reply
            .attribute(Attribute::HttpReasonPhrase)
            .and_then(|v| v.as_text().map(str::to_owned)),
        Some("OK".into())
    );
    assert_eq!(
        reply.raw_header("content-type").as_deref(),
        Some("text/plain")
    );
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.header("user-agent"), Some("Mozilla/5.0"));
    assert_eq!(
        seen.header("host"),
        Some(&*format!("127.0.0.1:{}", server.port))
    );
}

#[test]
fn http_404_delivers_the_body_then_the_error() {
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/missing.txt")));
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/get-404.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.errorOccurred(ContentNotFoundError)",
            "reply.downloadProgress(22, 22)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"<html>not found</html>");
    assert_eq!(reply.error(), NetworkError::ContentNotFoundError);
    assert!(
        reply.error_string().contains("server replied: Not Found"),
        "{}",
        reply.error_string()
    );
}

#[test]
fn every_status_maps_to_qts_error() {
    let server = hello_server();
    let m = NetworkAccessManager::new();
    for (code, error) in [
        (400, NetworkError::ProtocolInvalidOperationError),
        (401, NetworkError::AuthenticationRequiredError),
        (403, NetworkError::ContentAccessDenied),
        (405, NetworkError::ContentOperationNotPermittedError),
        (409, NetworkError::ContentConflictError),
        (410, NetworkError::ContentGoneError),
        (418, NetworkError::ProtocolInvalidOperationError),
        (422, NetworkError::UnknownContentError),
        (500, NetworkError::InternalServerError),
        (501, NetworkError::OperationNotImplementedError),
        (503, NetworkError::ServiceUnavailableError),
        (504, NetworkError::UnknownServerError),
        (204, NetworkError::NoError),
    ] {
        let reply = m.get(NetworkRequest::from_url_str(
            &server.url(&format!("/status/{code}")),
        ));
        run_traced(&m, reply);
        assert_eq!(reply.error(), error, "status {code}");
        assert_eq!(reply.status_code(), Some(code));
    }
    assert_eq!(
        server.connection_count(),
        1,
        "all on one keep-alive connection"
    );
}

#[test]
fn post_reports_upload_progress_like_qt() {
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let reply = m.post(
        NetworkRequest::from_url_str(&server.url("/echo")),
        "hello world",
    );
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/post-body.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.uploadProgress(11, 11)",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(11, 11)",
            "reply.uploadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello world");
    let seen = &server.seen()[0];
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.header("content-length"), Some("11"));
}

#[test]
fn a_streamed_body_reports_upload_progress_like_qt() {
    // Qt's HTTP reply ends every upload with uploadProgress(0, 0), after the real (n, n):
    // its finish only skips it when upload progress was recorded, which the HTTP reply
    // never records (post-body.txt and put-body.txt show it for 3 runs out of 3). A body
    // read from a device (slotnet's reader) gives the same sequence as a byte array.
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let body = RequestBody::from_reader(std::io::Cursor::new(b"hello world".to_vec()), Some(11));
    let reply = m.post(NetworkRequest::from_url_str(&server.url("/echo")), body);
    let (lines, echoed) = run_traced(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.uploadProgress(11, 11)",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(11, 11)",
            "reply.uploadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(echoed, b"hello world");
}

#[test]
fn delete_without_a_body_matches_the_qt_trace() {
    // docs/qt-traces/delete.txt: no uploadProgress at all without a body.
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let reply = m.delete_resource(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(5, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
}

#[test]
fn streamed_upload_of_unknown_size_goes_chunked() {
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let body = RequestBody::from_reader(std::io::Cursor::new(data.clone()), None);
    let mut req = NetworkRequest::from_url_str(&server.url("/echo"));
    req.set_raw_header("Content-Type", "application/octet-stream");
    let reply = m.put(req, body);
    let (_, echoed) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(
        server.seen()[0].header("transfer-encoding"),
        Some("chunked")
    );
    assert!(echoed == data, "body arrives intact");
}

#[test]
fn head_reports_the_announced_length() {
    let server = ScriptedServer::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.head(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/head.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.downloadProgress(0, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert!(body.is_empty());
}

fn redirect_server() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        let t = req.target.as_str();
        if let Some(n) = t.strip_prefix("/relative-redirect/") {
            let n: u32 = n.parse().unwrap();
            let loc = if n <= 1 {
                "/get".to_owned()
            } else {
                format!("/relative-redirect/{}", n - 1)
            };
            respond(s, "302 Found", &[("Location", &loc)], b"redirect body");
        } else if t == "/see-other" {
            respond(s, "303 See Other", &[("Location", "/get")], b"");
        } else if t == "/temporary" {
            respond(s, "307 Temporary Redirect", &[("Location", "/get")], b"");
        } else if t == "/loop" {
            respond(s, "302 Found", &[("Location", "/loop")], b"");
        } else if t == "/bad-location" {
            respond(s, "302 Found", &[("Location", "http://[::1")], b"");
        } else {
            let body = format!(
                "{} {} {}",
                req.method,
                req.target,
                String::from_utf8_lossy(&req.body)
            );
            respond(s, "200 OK", &[], body.as_bytes());
        }
        Next::KeepAlive
    })
}

#[test]
fn redirects_are_followed_with_qts_signals_per_hop() {
    let server = redirect_server();
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(
        &server.url("/relative-redirect/3"),
    ));
    let (lines, body) = run_traced(&m, reply);
    let u = |p: &str| server.url(p);
    // docs/qt-traces/redirect-follow-3.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()".to_owned(),
            "reply.requestSent()".into(),
            "reply.metaDataChanged()".into(),
            format!("reply.redirected({})", u("/relative-redirect/2")),
            "reply.requestSent()".into(),
            "reply.metaDataChanged()".into(),
            format!("reply.redirected({})", u("/relative-redirect/1")),
            "reply.requestSent()".into(),
            "reply.metaDataChanged()".into(),
            format!("reply.redirected({})", u("/get")),
            "reply.requestSent()".into(),
            "reply.metaDataChanged()".into(),
            "reply.readyRead()".into(),
            "reply.downloadProgress(9, 9)".into(),
            "manager.finished()".into(),
            "reply.finished()".into(),
        ]
    );
    assert_eq!(body, b"GET /get ");
    assert_eq!(reply.url().unwrap().as_str(), u("/get"));
    assert_eq!(
        server.connection_count(),
        1,
        "hops reuse the keep-alive connection"
    );
}

#[test]
fn redirect_methods_change_as_qt_does() {
    let server = redirect_server();
    let m = NetworkAccessManager::new();
    let see_other = m.post(
        NetworkRequest::from_url_str(&server.url("/see-other")),
        "data",
    );
    let (_, body) = run_traced(&m, see_other);
    assert_eq!(body, b"GET /get ");
    let temporary = m.post(
        NetworkRequest::from_url_str(&server.url("/temporary")),
        "data",
    );
    let (_, body) = run_traced(&m, temporary);
    assert_eq!(body, b"POST /get data", "307 keeps method and body");
}

#[test]
fn manual_policy_and_redirect_errors() {
    let server = redirect_server();
    let m = NetworkAccessManager::new();
    m.set_redirect_policy(RedirectPolicy::ManualRedirectPolicy);
    let manual = m.get(NetworkRequest::from_url_str(
        &server.url("/relative-redirect/1"),
    ));
    let (lines, body) = run_traced(&m, manual);
    assert!(!lines.iter().any(|l| l.starts_with("reply.redirected")));
    assert_eq!(body, b"redirect body");
    assert_eq!(manual.status_code(), Some(302));
    // The Location as sent, as Qt's RedirectionTargetAttribute: a relative one stays
    // relative (resolve it against the reply's URL to follow it by hand).
    let target = manual.attribute(Attribute::RedirectionTarget);
    assert_eq!(target.as_ref().and_then(|v| v.as_text()), Some("/get"));
    assert_eq!(
        manual.url().unwrap().join("/get").unwrap().as_str(),
        server.url("/get")
    );
    m.set_redirect_policy(RedirectPolicy::NoLessSafeRedirectPolicy);

    let mut req = NetworkRequest::from_url_str(&server.url("/loop"));
    req.set_maximum_redirects_allowed(3);
    let looping = m.get(req);
    run_traced(&m, looping);
    assert_eq!(looping.error(), NetworkError::TooManyRedirectsError);

    let bad = m.get(NetworkRequest::from_url_str(&server.url("/bad-location")));
    run_traced(&m, bad);
    assert_eq!(bad.error(), NetworkError::ProtocolUnknownError);

    // The manager keeps working afterwards.
    let ok = m.get(NetworkRequest::from_url_str(&server.url("/get")));
    run_traced(&m, ok);
    assert_eq!(ok.error(), NetworkError::NoError);
}

#[test]
fn the_redirection_target_is_the_location_as_sent() {
    let server = redirect_server();
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(
        &server.url("/relative-redirect/2"),
    ));
    let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = seen.clone();
    reply.redirected().connect(move |url: &url::Url| {
        let target = reply.attribute(Attribute::RedirectionTarget);
        let as_sent = target.as_ref().and_then(|v| v.as_text()).map(str::to_owned);
        s.borrow_mut().push((as_sent, url.to_string()));
    });
    run_traced(&m, reply);
    // Relative Locations stay relative in the attribute; `redirected` has the resolved URL.
    assert_eq!(
        *seen.borrow(),
        [
            (
                Some("/relative-redirect/1".to_owned()),
                server.url("/relative-redirect/1")
            ),
            (Some("/get".to_owned()), server.url("/get")),
        ]
    );
    assert_eq!(reply.url().unwrap().as_str(), server.url("/get"));

    // An absolute Location is a URL.
    let absolute = ScriptedServer::start(|_, s| {
        respond(
            s,
            "301 Moved",
            &[("Location", "http://example.com/moved")],
            b"",
        );
        Next::KeepAlive
    });
    m.set_redirect_policy(RedirectPolicy::ManualRedirectPolicy);
    let reply = m.get(NetworkRequest::from_url_str(&absolute.url("/")));
    run_traced(&m, reply);
    assert_eq!(
        reply
            .attribute(Attribute::RedirectionTarget)
            .and_then(|v| v.as_url().map(|u| u.to_string())),
        Some("http://example.com/moved".to_owned())
    );
}

#[test]
fn user_verified_redirects_wait_for_permission() {
    let server = redirect_server();
    let m = NetworkAccessManager::new();
    let mut req = NetworkRequest::from_url_str(&server.url("/relative-redirect/1"));
    req.set_attribute(
        Attribute::RedirectPolicy,
        RedirectPolicy::UserVerifiedRedirectPolicy,
    );
    let reply = m.get(req);
    let asked = Rc::new(Cell::new(0));
    let a = asked.clone();
    reply.redirected().connect(move |_| {
        a.set(a.get() + 1);
        reply.redirect_allowed();
    });
    let (_, body) = run_traced(&m, reply);
    assert_eq!(asked.get(), 1);
    assert_eq!(body, b"GET /get ");
}

#[test]
fn connection_refused_matches_the_qt_trace() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&format!(
        "http://127.0.0.1:{port}/"
    )));
    let (lines, _) = run_traced(&m, reply);
    // docs/qt-traces/connection-refused.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.errorOccurred(ConnectionRefusedError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    // Qt's text (QHttpNetworkConnection), not the OS's "Connection refused (os error 111)".
    assert_eq!(reply.error_string(), "Connection refused");
}

#[test]
fn host_not_found() {
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str("http://no-such-host.invalid/"));
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::HostNotFoundError);
    assert_eq!(lines[1], "reply.errorOccurred(HostNotFoundError)");
    // As qnam_trace prints it: "# errorString: Host nonexistent.invalid not found".
    assert_eq!(reply.error_string(), "Host no-such-host.invalid not found");
}

#[test]
fn keep_alive_reuse_and_the_six_connection_limit() {
    let server = ScriptedServer::start(|_, s| {
        std::thread::sleep(Duration::from_millis(50)); // keep connections busy in parallel
        respond(s, "200 OK", &[], b"x");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let replies: Vec<_> = (0..7)
        .map(|_| m.get(NetworkRequest::from_url_str(&server.url("/"))))
        .collect();
    run_all(&replies);
    assert!(replies.iter().all(|r| r.error() == NetworkError::NoError));
    assert_eq!(
        server.connection_count(),
        6,
        "7 parallel requests use 6 connections"
    );
    let again: Vec<_> = (0..3)
        .map(|_| m.get(NetworkRequest::from_url_str(&server.url("/"))))
        .collect();
    run_all(&again);
    assert_eq!(server.connection_count(), 6, "idle connections are reused");
    assert_eq!(m.connections_opened(), 6);
}

#[test]
fn stale_keep_alive_connection_is_retried_once() {
    // The server answers, then closes every connection after its first request.
    let server = ScriptedServer::start(|_, s| {
        respond(s, "200 OK", &[], b"ok");
        Next::Close
    });
    let m = NetworkAccessManager::new();
    for _ in 0..3 {
        let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
        let (_, body) = run_traced(&m, reply);
        assert_no_error(reply);
        assert_eq!(body, b"ok");
        // Let the close arrive before the next request, most of the time.
        EventLoop::current().process_events(Some(Duration::from_millis(20)));
    }
}

fn misbehaving(script: &'static [u8]) -> NetworkError {
    let server = ScriptedServer::start(move |_, s| {
        let _ = s.write_all(script);
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_traced(&m, reply);
    let error = reply.error();
    // The manager keeps working for the next request.
    let good = hello_server();
    let next = m.get(NetworkRequest::from_url_str(&good.url("/hello.txt")));
    let (_, body) = run_traced(&m, next);
    assert_eq!(body, b"hello");
    error
}

#[test]
fn truncated_body_is_remote_host_closed() {
    assert_eq!(
        misbehaving(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"),
        NetworkError::RemoteHostClosedError
    );
}

#[test]
fn a_server_closing_mid_body_says_connection_closed_as_qt() {
    let server = ScriptedServer::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::RemoteHostClosedError);
    assert_eq!(reply.error_string(), "Connection closed");
}

#[test]
fn garbage_status_line_is_a_protocol_failure() {
    assert_eq!(
        misbehaving(b"<html>this is not http</html>\r\n\r\n"),
        NetworkError::ProtocolFailure
    );
}

#[test]
fn bad_chunk_size_is_a_protocol_failure() {
    assert_eq!(
        misbehaving(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
        ),
        NetworkError::ProtocolFailure
    );
}

#[test]
fn close_mid_chunked_body_is_remote_host_closed() {
    assert_eq!(
        misbehaving(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        NetworkError::RemoteHostClosedError
    );
}

#[test]
fn close_delimited_body_ends_cleanly() {
    assert_eq!(
        misbehaving(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"),
        NetworkError::NoError
    );
}

#[test]
fn a_one_mebibyte_header_line_is_a_protocol_failure() {
    let server = ScriptedServer::start(|_, s| {
        let mut out = b"HTTP/1.1 200 OK\r\nX-Huge: ".to_vec();
        out.extend(std::iter::repeat_n(b'a', 1 << 20));
        out.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        let _ = s.write_all(&out);
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::ProtocolFailure);
}

#[test]
fn headers_dribbling_slowly_hit_the_transfer_timeout() {
    let server = ScriptedServer::start(|_, s| {
        for b in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".iter() {
            if s.write_all(&[*b]).is_err() {
                return Next::Close;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let mut req = NetworkRequest::from_url_str(&server.url("/"));
    req.set_transfer_timeout(Some(Duration::from_millis(150)));
    let started = Instant::now();
    let reply = m.get(req);
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::TimeoutError);
    assert!(reply.error_string().contains("timed out"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(lines.contains(&"reply.errorOccurred(TimeoutError)".to_owned()));
}

#[test]
fn abort_mid_body_then_the_manager_still_works() {
    let server = ScriptedServer::start(|req, s| {
        if req.target == "/slow" {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nx");
            std::thread::sleep(Duration::from_millis(500));
            return Next::Close;
        }
        respond(s, "200 OK", &[], b"fine");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/slow")));
    // Abort from the loop right after the first data, as the Qt scenario's timer does.
    reply.ready_read().connect_queued(move |_| reply.abort());
    let (lines, _) = run_traced(&m, reply);
    // docs/qt-traces/abort-after-100ms.txt
    assert_eq!(
        &lines[3..],
        [
            "reply.readyRead()",
            "reply.errorOccurred(OperationCanceledError)",
            "reply.downloadProgress(1, 30)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    let next = m.get(NetworkRequest::from_url_str(&server.url("/fast")));
    let (_, body) = run_traced(&m, next);
    assert_eq!(body, b"fine");
}

#[test]
fn early_final_response_stops_the_upload() {
    // The server rejects after reading only the head, while the client is still uploading.
    let server = ScriptedServer::start_with(true, |_, s| {
        respond(
            s,
            "413 Payload Too Large",
            &[("Connection", "close")],
            b"too big",
        );
        // Close politely, as servers do (a lingering close): stop writing, drain a while, so
        // the kernel does not reset the connection under the client's feet.
        let _ = s.shutdown(std::net::Shutdown::Write);
        s.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let mut sink = vec![0u8; 1 << 16];
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match std::io::Read::read(s, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let big = vec![7u8; 64 * 1024 * 1024];
    let started = Instant::now();
    let reply = m.post(NetworkRequest::from_url_str(&server.url("/upload")), big);
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.status_code(), Some(413));
    assert_eq!(reply.error(), NetworkError::UnknownContentError);
    assert_eq!(body, b"too big");
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_bodies_are_decoded_and_progress_counts_decoded_bytes() {
    let plain: Vec<u8> = b"slotnet ".repeat(1000);
    let packed = gzip(&plain);
    let packed_len = packed.len();
    let server = ScriptedServer::start(move |req, s| {
        assert_eq!(
            req.header("accept-encoding"),
            Some("zstd, br, gzip, deflate")
        );
        respond(s, "200 OK", &[("Content-Encoding", "gzip")], &packed);
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/gzip")));
    let (lines, body) = run_traced(&m, reply);
    assert!(body == plain, "decoded transparently");
    // docs/qt-traces/gzip.txt: the final progress counts decoded bytes.
    assert!(lines.contains(&format!("reply.downloadProgress({0}, {0})", plain.len())));
    assert_eq!(
        reply
            .attribute(Attribute::OriginalContentLength)
            .and_then(|v| v.as_int()),
        Some(packed_len as i64)
    );
}

#[test]
fn an_explicit_accept_encoding_gets_the_raw_body() {
    let packed = gzip(b"raw please");
    let expected = packed.clone();
    let server = ScriptedServer::start(move |_, s| {
        respond(s, "200 OK", &[("Content-Encoding", "gzip")], &packed);
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let mut req = NetworkRequest::from_url_str(&server.url("/"));
    req.set_raw_header("Accept-Encoding", "gzip");
    let reply = m.get(req);
    let (_, body) = run_traced(&m, reply);
    assert_eq!(body, expected);
}

#[test]
fn decompression_bombs_and_corrupt_bodies_fail_cleanly() {
    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]); // ratio ~1000:1
    let mut corrupt = gzip(b"hello hello hello hello");
    let n = corrupt.len();
    corrupt[n / 2] ^= 0xff;
    let server = ScriptedServer::start(move |req, s| {
        let body = if req.target == "/bomb" {
            &bomb
        } else {
            &corrupt
        };
        respond(s, "200 OK", &[("Content-Encoding", "gzip")], body);
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/bomb")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::UnknownContentError);
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/corrupt")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::UnknownContentError);
    // With the guard disabled the big body is fine.
    let mut req = NetworkRequest::from_url_str(&server.url("/bomb"));
    req.set_decompressed_safety_check_threshold(-1);
    let reply = m.get(req);
    let total = Rc::new(Cell::new(0usize));
    let t = total.clone();
    reply.ready_read().connect(move |_| {
        while let Some(c) = reply.read_chunk() {
            t.set(t.get() + c.len());
        }
    });
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(total.get(), 64 * 1024 * 1024);
}

#[test]
fn multipart_form_is_streamed_with_its_boundary() {
    use slotnet_http::multipart::{ContentType, HttpMultiPart, HttpPart};
    let server = hello_server();
    let m = NetworkAccessManager::new();
    let mut form = HttpMultiPart::new(ContentType::FormData);
    let mut field = HttpPart::new();
    field.set_form_data("greeting", None);
    field.set_body("hello");
    form.append(field);
    let mut file = HttpPart::new();
    file.set_form_data("upload", Some("data.bin"));
    file.set_body(vec![7u8; 100_000]);
    form.append(file);
    let content_type = form.content_type_header();
    let expected_len = form.size().unwrap();
    let reply = m.post_multipart(NetworkRequest::from_url_str(&server.url("/echo")), form);
    let (lines, echoed) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    let seen = &server.seen()[0];
    assert_eq!(seen.header("content-type"), Some(content_type.as_str()));
    assert_eq!(
        seen.header("content-length"),
        Some(&*expected_len.to_string())
    );
    assert_eq!(echoed.len() as u64, expected_len);
    let text = String::from_utf8_lossy(&echoed);
    assert!(
        text.contains("name=\"greeting\"\r\n\r\nhello\r\n"),
        "{text:.200}"
    );
    assert!(text.contains("filename=\"data.bin\""));
    assert!(lines.contains(&format!(
        "reply.uploadProgress({expected_len}, {expected_len})"
    )));
}

#[test]
fn header_names_keep_the_servers_case_and_repeats_merge_as_in_qt() {
    let server = ScriptedServer::start(|_req, s| {
        let fields = [
            ("x-lower", "1"),
            ("X-MiXed-Case", "2"),
            ("Set-Cookie", "a=1"),
            ("Vary", "A"),
            ("set-cookie", "b=2"),
            ("vary", "B"),
        ];
        respond(s, "200 OK", &fields, b"ok");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_all(std::slice::from_ref(&reply));
    assert_eq!(reply.error(), NetworkError::NoError);
    // Qt: "Duplicate headers are merged together and take place of the latter duplicate."
    assert_eq!(
        reply.raw_header_list(),
        [
            "Content-Length",
            "x-lower",
            "X-MiXed-Case",
            "set-cookie",
            "vary"
        ]
    );
    let pairs = reply.raw_header_pairs();
    assert_eq!(pairs[3], ("set-cookie".into(), "a=1\nb=2".into()));
    assert_eq!(pairs[4], ("vary".into(), "A, B".into()));
    assert_eq!(reply.raw_header("X-LOWER").as_deref(), Some("1"));
    assert_eq!(reply.raw_header("x-mixed-case").as_deref(), Some("2"));
    assert!(reply.has_raw_header("VARY"));
}

/// RFC 9112 section 5.2: a folded header line in a response is unfolded with spaces, as curl
/// does; the reply sees the joined value and the body.
#[test]
fn a_folded_response_header_is_unfolded() {
    let server = ScriptedServer::start(|_, s| {
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\nok");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(reply.raw_header("X-Folded").as_deref(), Some("one   two"));
    assert_eq!(body, b"ok");
}

/// A server that answers with 1xx responses forever: the reply fails with ProtocolFailure
/// (after `MAX_INTERIM_RESPONSES`) instead of waiting forever.
#[test]
fn endless_interim_responses_are_a_protocol_failure() {
    let server = ScriptedServer::start(|_, s| {
        while s
            .write_all(b"HTTP/1.1 102 Processing\r\nX-Pad: 0123456789\r\n\r\n")
            .is_ok()
        {}
        Next::Close
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::ProtocolFailure);
    assert!(
        reply.error_string().contains("interim"),
        "{}",
        reply.error_string()
    );
    // A few interim responses before the final one are fine.
    let server = ScriptedServer::start(|_, s| {
        let _ = s.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
              HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        );
        Next::KeepAlive
    });
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(body, b"ok");
}

/// A body in a content coding slotnet never advertised (or stacked deeper than it decodes)
/// must not reach the application as if it were the content with NoError: it fails with
/// UnknownContentError, as curl fails ("Unrecognized content encoding type"). Qt passes such
/// bodies through undecoded; see docs/qt-mapping.md.
#[test]
fn unknown_or_too_deeply_stacked_content_codings_fail() {
    let stacked = {
        let mut body = b"deep".to_vec();
        for _ in 0..5 {
            body = gzip(&body);
        }
        body
    };
    let server = ScriptedServer::start(move |req, s| {
        match req.target.as_str() {
            "/compress" => respond(
                s,
                "200 OK",
                &[("Content-Encoding", "compress")],
                b"\x1f\x9d",
            ),
            "/stacked" => respond(
                s,
                "200 OK",
                &[("Content-Encoding", "gzip, gzip, gzip, gzip, gzip")],
                &stacked,
            ),
            "/four" => {
                let mut body = b"four".to_vec();
                for _ in 0..4 {
                    body = gzip(&body);
                }
                respond(
                    s,
                    "200 OK",
                    &[("Content-Encoding", "gzip,gzip,gzip,gzip")],
                    &body,
                )
            }
            // An unknown coding on a response without a body is harmless.
            _ => respond(
                s,
                "204 No Content",
                &[("Content-Encoding", "compress")],
                b"",
            ),
        }
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/compress")));
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::UnknownContentError);
    assert!(
        reply.error_string().contains("compress"),
        "{}",
        reply.error_string()
    );
    assert!(body.is_empty(), "raw bytes reached the application");
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/stacked")));
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::UnknownContentError);
    assert!(
        reply.error_string().contains("stacked"),
        "{}",
        reply.error_string()
    );
    assert!(body.is_empty(), "raw bytes reached the application");
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/four")));
    let (_, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(body, b"four");
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/empty")));
    run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(
        reply
            .attribute(Attribute::HttpStatusCode)
            .and_then(|v| v.as_int()),
        Some(204)
    );
}
