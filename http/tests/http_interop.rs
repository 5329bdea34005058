//! The `http` crate's types at slotnet's edges: a reply's `status()` and `headers()`, a whole
//! `http::Request` sent with `send_http_request`, the head's `TryFrom` into a
//! `NetworkRequest`, and the `http` and `url` re-exports.

use slotnet_http::http::{self, header, HeaderValue, Method, StatusCode};
use slotnet_http::url::Url;
use slotnet_http::{HttpRequestError, NetworkAccessManager, NetworkRequest};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::run_all;

fn server() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        match req.target.as_str() {
            "/cookies" => respond(
                s,
                "201 Created",
                &[
                    ("Set-Cookie", "a=1"),
                    ("X-Thing", "one"),
                    ("Set-Cookie", "b=2; Path=/"),
                ],
                b"made",
            ),
            "/echo" => respond(s, "200 OK", &[], &req.body),
            _ => respond(s, "404 Not Found", &[], b""),
        }
        Next::KeepAlive
    })
}

#[test]
fn a_reply_gives_its_status_and_every_header_field_as_http_types() {
    let server = server();
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/cookies")));
    run_all(std::slice::from_ref(&reply));

    assert_eq!(reply.status(), Some(StatusCode::CREATED));
    let headers = reply.headers();
    // Repeated fields stay separate values (raw_header joins them, Qt's way).
    let cookies: Vec<_> = headers.get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
    assert_eq!(
        reply.raw_header("set-cookie").as_deref(),
        Some("a=1\nb=2; Path=/")
    );
    assert_eq!(
        headers.get("x-thing"),
        Some(&HeaderValue::from_static("one"))
    );
    assert_eq!(headers.get(header::CONTENT_LENGTH).unwrap(), "4");
    assert_eq!(reply.read_all(), b"made");
}

#[test]
fn a_reply_without_a_response_has_no_status_and_no_headers() {
    // A port that was just free: the connection is refused, no response arrives.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&format!(
        "http://127.0.0.1:{port}/"
    )));
    run_all(std::slice::from_ref(&reply));
    assert_eq!(reply.status(), None);
    assert!(reply.headers().is_empty());
}

#[test]
fn send_http_request_sends_the_method_headers_and_body() {
    let server = server();
    let manager = NetworkAccessManager::new();
    let request = http::Request::builder()
        .method(Method::PATCH)
        .uri(server.url("/echo"))
        .header("X-Custom", "yes")
        .header(header::ACCEPT, "text/plain")
        .header(header::ACCEPT, "text/html")
        .body(&b"patched body"[..])
        .unwrap();
    let reply = manager.send_http_request(request).unwrap();
    run_all(std::slice::from_ref(&reply));
    assert_eq!(reply.status(), Some(StatusCode::OK));
    assert_eq!(reply.read_all(), b"patched body");

    let seen = server.seen();
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].body, b"patched body");
    assert_eq!(seen[0].header("x-custom"), Some("yes"));
    assert_eq!(seen[0].header("accept"), Some("text/plain, text/html"));

    let post = http::Request::post(server.url("/echo"))
        .body(String::from("form=1"))
        .unwrap();
    let reply = manager.send_http_request(post).unwrap();
    run_all(std::slice::from_ref(&reply));
    assert_eq!(reply.read_all(), b"form=1");
    assert_eq!(server.seen()[1].method, "POST");
}

#[test]
fn the_head_converts_to_a_network_request_and_bad_heads_are_errors() {
    let (head, ()) = http::Request::get("https://example.org/a?b=c")
        .header(header::COOKIE, "x=1")
        .header(header::COOKIE, "y=2")
        .body(())
        .unwrap()
        .into_parts();
    let request = NetworkRequest::try_from(&head).unwrap();
    assert_eq!(
        request.url(),
        Some(&Url::parse("https://example.org/a?b=c").unwrap())
    );
    assert_eq!(request.raw_header("cookie").as_deref(), Some("x=1; y=2"));

    let (relative, ()) = http::Request::get("/only/a/path")
        .body(())
        .unwrap()
        .into_parts();
    assert_eq!(
        NetworkRequest::try_from(&relative).unwrap_err(),
        HttpRequestError::RelativeUri("/only/a/path".into())
    );

    let manager = NetworkAccessManager::new();
    let bad_header = http::Request::get("http://127.0.0.1:9/")
        .header("x-bytes", HeaderValue::from_bytes(b"\xff\xfe").unwrap())
        .body(Vec::new())
        .unwrap();
    let err = manager.send_http_request(bad_header).unwrap_err();
    assert_eq!(err, HttpRequestError::NonUtf8Header("x-bytes".into()));
    assert_eq!(
        err.to_string(),
        "the value of request header x-bytes is not UTF-8"
    );
}
