//! What slotnet logs through the `log` facade, under the targets documented in
//! `slotnet_http::log_target`, for real requests on loopback. One test binary: `log` has one
//! logger per process (slotnet_testkit::logger captures, each test reads its own thread's
//! records).

use slotnet_http::log_target::{
    AUTHENTICATOR, CONNECTION, HTTP1, HTTP2, HTTPSERVER, REDIRECT, SOCKET, SSL,
};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_net::ssl::test_certs;
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::logger::{capture, Captured, Record};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;
use slotnet_testkit::server::TestServer;

/// The records the calling thread has emitted so far, with lookups that fail showing them all.
struct Seen {
    records: Vec<Record>,
    text: String,
}

impl Seen {
    fn of(logs: &Captured) -> Seen {
        Seen {
            records: logs.this_thread(),
            text: logs.this_thread_text(),
        }
    }

    /// The position of the first record that `matches` (described as `what` if none does).
    fn first(&self, what: &str, matches: impl Fn(&Record) -> bool) -> usize {
        let text = &self.text;
        self.records
            .iter()
            .position(matches)
            .unwrap_or_else(|| panic!("no {what} in\n{text}"))
    }

    /// The position of the first record under `target` whose message is `message`.
    fn at(&self, target: &str, message: &str) -> usize {
        self.first(&format!("{target}: {message:?}"), |r| {
            r.target == target && r.message == message
        })
    }
}

#[test]
fn a_loopback_request_logs_the_connect_the_exchange_and_the_reuse() {
    let logs = capture();
    let server = TestServer::standard();
    let port = server.port;
    let url = format!("http://127.0.0.1:{port}/");
    let m = NetworkAccessManager::new();
    let first = m.get(NetworkRequest::from_url_str(&url));
    run_all(&[first]);
    let second = m.get(NetworkRequest::from_url_str(&url));
    run_all(&[second]);
    assert_eq!(first.error(), NetworkError::NoError);
    assert_eq!(second.error(), NetworkError::NoError);

    let seen = Seen::of(logs);
    let (records, text) = (&seen.records, &seen.text);
    let trying = seen.at(SOCKET, &format!("Trying 127.0.0.1:{port}..."));
    let connected = seen.at(
        SOCKET,
        &format!("Connected to 127.0.0.1 (127.0.0.1) port {port}"),
    );
    let request = seen.at(HTTP1, &format!("> GET / HTTP/1.1 (host 127.0.0.1:{port})"));
    let status = seen.at(HTTP1, &format!("< HTTP/1.1 200 OK (host 127.0.0.1:{port})"));
    let intact = seen.at(
        CONNECTION,
        &format!("Connection with host 127.0.0.1:{port} left intact"),
    );
    let reused = seen.at(
        CONNECTION,
        &format!("Re-using existing connection with host 127.0.0.1:{port}"),
    );
    assert!(
        trying < connected && connected < request && request < status && status < intact,
        "{text}"
    );
    assert!(intact < reused, "{text}");
    // One connect for two requests: the second rode the kept-alive connection.
    let connects = records
        .iter()
        .filter(|r| r.target == SOCKET && r.message.starts_with("Connected to"))
        .count();
    assert_eq!(connects, 1, "{text}");
    // Summaries are debug; nothing slotnet logs here is above it (a plain success is no
    // warning).
    assert!(
        records
            .iter()
            .filter(|r| r.target.starts_with("slotnet"))
            .all(|r| r.level >= log::Level::Debug),
        "{text}"
    );
}

#[test]
fn an_https_request_logs_the_handshake_alpn_and_the_http2_stream() {
    let logs = capture();
    let server = TestServer::start_tls(Default::default(), |_| {});
    let port = server.port;
    let url = format!("https://127.0.0.1:{port}/");
    let m = NetworkAccessManager::new();
    let mut request = NetworkRequest::from_url_str(&url);
    request.set_ssl_configuration(test_certs::client_configuration());
    let reply = m.get(request);
    run_all(&[reply]);
    assert_no_error(reply);

    let seen = Seen::of(logs);
    let (records, text) = (&seen.records, &seen.text);
    let started = seen.at(
        SSL,
        "TLS handshake started with 127.0.0.1, ALPN offers: h2,http/1.1",
    );
    let done = seen.first("handshake summary", |r| {
        r.target == SSL
            && r.message.starts_with("TLS connection using TLSv1.3 / TLS_")
            && r.message.ends_with(" with 127.0.0.1")
    });
    let alpn = seen.at(SSL, "ALPN: server accepted h2");
    let opened = seen.first("stream opened", |r| {
        r.target == HTTP2
            && r.message
                .starts_with(&format!("[1] OPENED stream for GET {url} "))
    });
    let status = seen.at(HTTP2, "[1] < 200 OK");
    assert!(
        started < done && done < alpn && alpn < opened && opened < status,
        "{text}"
    );
    // The server runs on its own thread: its records are not this thread's.
    assert!(!records.iter().any(|r| r.target == HTTPSERVER), "{text}");
}

#[test]
fn redirects_and_authentication_challenges_are_logged() {
    let logs = capture();
    let server = ScriptedServer::start(|req, s| {
        match (req.target.as_str(), req.header("authorization")) {
            ("/old", _) => respond(s, "302 Found", &[("Location", "/new")], b""),
            ("/new", Some(_)) => respond(s, "200 OK", &[], b"ok"),
            _ => respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"logs\"")],
                b"",
            ),
        }
        Next::KeepAlive
    });
    let port = server.port;
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&format!(
        "http://user:secret@127.0.0.1:{port}/old"
    )));
    run_all(&[reply]);
    assert_no_error(reply);

    let seen = Seen::of(logs);
    let text = &seen.text;
    let redirect = seen.at(
        REDIRECT,
        &format!("Redirect 302 from http://127.0.0.1:{port}/old to http://127.0.0.1:{port}/new"),
    );
    let challenge = seen.at(
        AUTHENTICATOR,
        &format!("401 from http://127.0.0.1:{port}/new: www-authenticate: Basic realm=\"logs\""),
    );
    let retry = seen.at(AUTHENTICATOR, "Sending the request again with credentials");
    assert!(redirect < challenge && challenge < retry, "{text}");
    // The password is in the URL, never in the logs.
    assert!(!text.contains("secret"), "{text}");
}
