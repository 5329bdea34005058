//! HSTS in the access manager: `Strict-Transport-Security` learnt over TLS (never over
//! plain http), `http:` URLs and redirects of known hosts sent as `https:`, certificate
//! errors that cannot be ignored for known hosts, and the persistent store read back by a
//! new manager. Real TLS on loopback with rcgen certificates for `localhost`.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use slotnet_core::Thread;
use slotnet_http::hsts::HstsPolicy;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::test_certs::{self, TestIdentity};
use slotnet_net::ssl::{SslError, SslErrorKind};
use slotnet_net::SslServer;
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

/// An https server (HTTP/1.1) answering `hello` with `sts` as its Strict-Transport-Security.
struct TlsServer {
    port: u16,
    _thread: Thread,
}

fn tls_server(identity: &'static TestIdentity, sts: &'static str) -> TlsServer {
    let thread = Thread::start_named("hsts-test-server").unwrap();
    let (tx, rx) = mpsc::channel();
    thread
        .run(move || {
            let server = SslServer::new();
            let mut config = identity.configuration();
            config.set_allowed_next_protocols(vec![b"http/1.1".to_vec()]);
            server.set_ssl_configuration(config);
            assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
            tx.send(server.server_port()).unwrap();
            server.pending_connection_available().connect(move |_| {
                while let Some(socket) = server.next_pending_connection() {
                    let pending = Rc::new(RefCell::new(Vec::new()));
                    socket.ready_read().connect(move |_| {
                        pending.borrow_mut().extend(socket.read_all());
                        let mut buf = pending.borrow_mut();
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let answer = format!(
                                "HTTP/1.1 200 OK\r\nStrict-Transport-Security: {sts}\r\n\
                                 Content-Length: 5\r\n\r\nhello"
                            );
                            socket.write(answer.as_bytes());
                        }
                    });
                }
            });
        })
        .unwrap();
    let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    TlsServer {
        port,
        _thread: thread,
    }
}

fn hsts_manager() -> NetworkAccessManager {
    let m = NetworkAccessManager::new();
    m.set_strict_transport_security_enabled(true);
    m
}

fn get(m: &NetworkAccessManager, url: &str) -> NetworkReply {
    let mut req = NetworkRequest::from_url_str(url);
    req.set_ssl_configuration(test_certs::client_configuration());
    let reply = m.get(req);
    run_all(&[reply]);
    reply
}

fn hosts(m: &NetworkAccessManager) -> Vec<String> {
    m.strict_transport_security_hosts()
        .iter()
        .map(|p| p.host().to_owned())
        .collect()
}

#[test]
fn a_policy_learnt_over_tls_upgrades_http_urls() {
    let server = tls_server(&test_certs::pki().server, "max-age=3600");
    let m = hsts_manager();
    assert!(m.is_strict_transport_security_enabled());
    let reply = get(&m, &format!("https://localhost:{}/first", server.port));
    assert_no_error(reply);
    assert_eq!(hosts(&m), ["localhost"]);
    let policy = &m.strict_transport_security_hosts()[0];
    assert!(!policy.include_subdomains());
    assert!(policy.expiry() > SystemTime::now() + Duration::from_secs(3500));
    // The TLS server's port spoken to as http: HSTS makes it https (the port is kept).
    let reply = get(&m, &format!("http://localhost:{}/second", server.port));
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
    assert_eq!(
        reply.url().unwrap().as_str(),
        format!("https://localhost:{}/second", server.port)
    );
    // max-age=0 would remove it; HSTS off ignores the header altogether.
    let off = NetworkAccessManager::new();
    get(&off, &format!("https://localhost:{}/", server.port));
    assert!(off.strict_transport_security_hosts().is_empty());
}

#[test]
fn headers_over_plain_http_are_ignored_and_redirects_are_upgraded() {
    let tls = tls_server(&test_certs::pki().server, "max-age=3600");
    let tls_port = tls.port;
    let plain = ScriptedServer::start(move |req, s| {
        if req.target == "/redirect" {
            let location = format!("http://localhost:{tls_port}/after");
            respond(s, "302 Found", &[("Location", &location)], b"");
        } else {
            respond(
                s,
                "200 OK",
                &[("Strict-Transport-Security", "max-age=3600")],
                b"plain",
            );
        }
        Next::KeepAlive
    });
    let m = hsts_manager();
    let reply = get(&m, &format!("http://localhost:{}/", plain.port));
    assert_eq!(reply.read_all(), b"plain");
    assert!(hosts(&m).is_empty(), "RFC 6797 8.1: not over plain http");
    m.add_strict_transport_security_hosts(vec![HstsPolicy::new(
        SystemTime::now() + Duration::from_secs(600),
        false,
        "localhost",
    )]);
    // The plain server itself is now only reachable over https: it is not, so this fails
    // instead of talking in the clear...
    let refused = get(&m, &format!("http://localhost:{}/", plain.port));
    assert_ne!(refused.error(), NetworkError::NoError);
    // ...and a redirect to http://localhost is followed over https.
    let reply = get(&m, &format!("http://127.0.0.1:{}/redirect", plain.port));
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
    assert_eq!(
        reply.url().unwrap().as_str(),
        format!("https://localhost:{tls_port}/after")
    );
}

#[test]
fn certificate_errors_cannot_be_ignored_for_known_hosts() {
    let server = tls_server(&test_certs::pki().self_signed, "max-age=3600");
    let url = format!("https://localhost:{}/", server.port);
    let ignore_all = |m: &NetworkAccessManager| {
        m.ssl_errors()
            .connect(|(reply, _errors)| reply.ignore_ssl_errors());
    };
    // Not a known host: ignoring works, and the header is not trusted (errors ignored).
    let m = hsts_manager();
    ignore_all(&m);
    let reply = m.get(NetworkRequest::from_url_str(&url));
    run_all(&[reply]);
    assert_no_error(reply);
    assert!(
        hosts(&m).is_empty(),
        "a header seen with ignored errors is not trusted"
    );
    // A known host: the same slot cannot get past the errors.
    let m = hsts_manager();
    ignore_all(&m);
    m.add_strict_transport_security_hosts(vec![HstsPolicy::new(
        SystemTime::now() + Duration::from_secs(600),
        true,
        "localhost",
    )]);
    let reply = m.get(NetworkRequest::from_url_str(&url));
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);

    // The same with the errors expected beforehand: accepted for an unknown host (and
    // its header not trusted), refused for a known one.
    let expected = || {
        vec![SslError::new(
            SslErrorKind::SelfSignedCertificate,
            test_certs::pki().self_signed.chain[0].clone(),
        )]
    };
    let m = hsts_manager();
    let reply = m.get(NetworkRequest::from_url_str(&url));
    reply.ignore_ssl_errors_list(expected());
    run_all(&[reply]);
    assert_no_error(reply);
    assert!(hosts(&m).is_empty(), "not trusted");
    // (A new manager: this one keeps the connection whose errors were accepted, and a
    // request reuses an established connection without a new handshake, as in Qt.)
    let m = hsts_manager();
    m.add_strict_transport_security_hosts(vec![HstsPolicy::new(
        SystemTime::now() + Duration::from_secs(600),
        true,
        "localhost",
    )]);
    let reply = m.get(NetworkRequest::from_url_str(&url));
    reply.ignore_ssl_errors_list(expected());
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
}

#[test]
fn a_connection_whose_errors_were_ignored_never_teaches_a_policy() {
    let server = tls_server(&test_certs::pki().self_signed, "max-age=3600");
    let url = format!("https://localhost:{}/", server.port);
    let m = hsts_manager();
    let first = m.get(NetworkRequest::from_url_str(&url));
    first
        .ssl_errors()
        .connect(move |_| first.ignore_ssl_errors());
    run_all(&[first]);
    assert_eq!(first.error(), NetworkError::NoError);
    // The next request reuses that connection once it accepted the errors too (it is
    // asked before its request is sent): the connection's certificate was never verified,
    // so its header is not trusted either.
    let second = m.get(NetworkRequest::from_url_str(&url));
    second
        .ssl_errors()
        .connect(move |_| second.ignore_ssl_errors());
    run_all(&[second]);
    assert_eq!(second.error(), NetworkError::NoError);
    assert_eq!(m.connections_opened(), 1, "the connection was reused");
    assert!(hosts(&m).is_empty(), "{:?}", hosts(&m));
}

#[test]
fn the_store_is_read_back_by_a_new_manager() {
    let server = tls_server(&test_certs::pki().server, "max-age=3600; includeSubDomains");
    let dir = std::env::temp_dir().join(format!("slotnet-hsts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let m = hsts_manager();
    m.enable_strict_transport_security_store(true, Some(&dir))
        .unwrap();
    assert!(m.is_strict_transport_security_store_enabled());
    let reply = get(&m, &format!("https://localhost:{}/", server.port));
    assert_no_error(reply);
    assert!(dir.join("hstsstore").is_file());

    let fresh = NetworkAccessManager::new();
    assert!(fresh.strict_transport_security_hosts().is_empty());
    fresh
        .enable_strict_transport_security_store(true, Some(&dir))
        .unwrap();
    let policies = fresh.strict_transport_security_hosts();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].host(), "localhost");
    assert!(policies[0].include_subdomains());
    fresh.set_strict_transport_security_enabled(true);
    let reply = get(&fresh, &format!("http://localhost:{}/", server.port));
    assert_no_error(reply);
    assert_eq!(reply.url().unwrap().scheme(), "https");
    let _ = std::fs::remove_dir_all(&dir);
}
