//! The process-wide default TLS configuration (Qt's `QSslConfiguration::setDefaultConfiguration`
//! and `addDefaultCaCertificate`): a private CA added once is trusted by the access manager's
//! requests, new `SslSocket`s and the legacy `Http`, with no configuration of their own. One
//! test in a binary of its own, since the default is shared by the whole process.

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::legacy::{ConnectionMode, Http, HttpError};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::{test_certs, SslConfiguration, SslError};
use slotnet_net::SslSocket;
use slotnet_testkit::legacy;
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_traced;
use slotnet_testkit::tls_server::{TlsServer, H2_AND_H1};

/// A GET with no TLS configuration of its own; its error, body and the errors it was shown.
fn get(m: &NetworkAccessManager, server: &TlsServer) -> (NetworkReply, Vec<u8>, Vec<String>) {
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let (lines, body) = run_traced(m, reply);
    let shown = lines
        .into_iter()
        .filter(|l| l.starts_with("reply.sslErrors("))
        .collect();
    (reply, body, shown)
}

/// Connects a new `SslSocket` (no configuration given) to `port`; whether it got
/// `encrypted`, and the errors it was shown.
fn ssl_socket_handshake(port: u16) -> (bool, Vec<String>) {
    let socket = SslSocket::new();
    let shown = Rc::new(RefCell::new(Vec::new()));
    let s = shown.clone();
    socket
        .ssl_errors()
        .connect(move |errors: &Vec<SslError>| s.borrow_mut().push(SslError::join_names(errors)));
    socket.connect_to_host_encrypted("127.0.0.1", port);
    let encrypted = socket.wait_for_encrypted(10_000);
    let shown = shown.borrow().clone();
    socket.abort();
    (encrypted, shown)
}

#[test]
fn the_default_configuration_is_used_by_requests_sockets_and_legacy_http() {
    let pki = test_certs::pki();
    let server = TlsServer::start(&pki.server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let built_in = SslConfiguration::default_configuration();
    assert!(built_in.ca_certificates().is_empty());

    // The test CA is private: not trusted by default.
    let (reply, _, shown) = get(&m, &server);
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
    assert_eq!(shown.len(), 1, "{shown:?}");

    SslConfiguration::add_default_ca_certificate(pki.ca.clone());
    assert_eq!(
        SslConfiguration::default_configuration().ca_certificates(),
        std::slice::from_ref(&pki.ca)
    );
    assert_eq!(
        SslConfiguration::default().ca_certificates(),
        std::slice::from_ref(&pki.ca)
    );
    assert!(SslConfiguration::default().uses_system_ca_certificates());

    // The same manager: the next request trusts it, on a connection of its own.
    let (reply, body, shown) = get(&m, &server);
    assert_no_error(reply);
    assert_eq!(body, b"hello");
    assert!(shown.is_empty(), "{shown:?}");
    assert_eq!(server.accepted(), 2);

    // A new socket starts from the default.
    assert_eq!(
        SslSocket::new().ssl_configuration().ca_certificates(),
        std::slice::from_ref(&pki.ca)
    );
    let (encrypted, shown) = ssl_socket_handshake(server.port);
    assert!(encrypted, "{shown:?}");
    assert!(shown.is_empty(), "{shown:?}");

    // The legacy Http in HTTPS mode, without a configuration of its own.
    let http = Http::with_host("127.0.0.1", server.port, ConnectionMode::Https);
    let errors = Rc::new(RefCell::new(0));
    let e = errors.clone();
    http.ssl_errors().connect(move |_| *e.borrow_mut() += 1);
    http.get("/hello.txt", None);
    legacy::run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(http.read_all(), b"hello");
    assert_eq!(*errors.borrow(), 0);

    // set_default_configuration replaces the default: the CA is no longer trusted by new
    // connections.
    SslConfiguration::set_default_configuration(built_in);
    assert!(SslConfiguration::default().ca_certificates().is_empty());
    let (reply, _, shown) = get(&m, &server);
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let (encrypted, shown) = ssl_socket_handshake(server.port);
    assert!(!encrypted);
    assert_eq!(shown.len(), 1);
}
