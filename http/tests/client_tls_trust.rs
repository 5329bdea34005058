//! Trust is decided per request (issue 14): a TLS connection is shared only by requests
//! with the same trust settings (peer verify name, CA set, client identity, ...), every
//! reply shown `sslErrors` decides for itself, and every new connection asks again. Real
//! TLS handshakes on loopback, over HTTP/1.1 and HTTP/2, against servers that count the
//! connections they accept.

mod support;

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::{test_certs, PeerVerifyMode, SslConfiguration, SslError};
use support::run_traced;
use support::tls::{TlsServer, H1_ONLY, H2_AND_H1};

const BOTH: [(&str, &[&[u8]]); 2] = [("http/1.1", H1_ONLY), ("h2", H2_AND_H1)];

fn http2_was_used(reply: NetworkReply) -> Option<bool> {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
}

/// A GET trusting the test CA.
fn trusting(server: &TlsServer) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&server.url("/hello.txt"));
    req.set_ssl_configuration(test_certs::client_configuration());
    req
}

/// The certificate errors each reply was shown, in order.
fn record_ssl_errors(reply: NetworkReply) -> Rc<RefCell<Vec<String>>> {
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    reply
        .ssl_errors()
        .connect(move |errors: &Vec<SslError>| s.borrow_mut().push(SslError::join_names(errors)));
    seen
}

/// Runs a first trusted request to completion: its connection is then up for reuse.
fn warm_up(m: &NetworkAccessManager, server: &TlsServer, alpn: &str) {
    let first = m.get(trusting(server));
    let (_, body) = run_traced(m, first);
    assert_eq!(body, b"hello", "{alpn}");
    assert_eq!(http2_was_used(first), Some(alpn == "h2"), "{alpn}");
    assert_eq!(server.accepted(), 1, "{alpn}");
}

#[test]
fn another_peer_verify_name_does_not_ride_a_trusted_connection() {
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().server, offer);
        let m = NetworkAccessManager::new();
        warm_up(&m, &server, alpn);
        // The certificate is for localhost and 127.0.0.1, not for this name: the request
        // must get a connection of its own, whose handshake reports the mismatch.
        let mut req = trusting(&server);
        req.set_peer_verify_name("wrong.example");
        let reply = m.get(req);
        let shown = record_ssl_errors(reply);
        let (_, body) = run_traced(&m, reply);
        assert_eq!(*shown.borrow(), ["HostNameMismatch"], "{alpn}");
        assert_eq!(
            reply.error(),
            NetworkError::SslHandshakeFailedError,
            "{alpn}"
        );
        assert!(body.is_empty(), "{alpn}");
        assert_eq!(server.accepted(), 2, "{alpn}");
    }
}

#[test]
fn another_ca_set_does_not_ride_a_trusted_connection() {
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().server, offer);
        let m = NetworkAccessManager::new();
        warm_up(&m, &server, alpn);
        // The default configuration does not trust the test CA.
        let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello.txt")));
        let shown = record_ssl_errors(reply);
        run_traced(&m, reply);
        assert_eq!(
            *shown.borrow(),
            ["UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate"],
            "{alpn}"
        );
        assert_eq!(
            reply.error(),
            NetworkError::SslHandshakeFailedError,
            "{alpn}"
        );
        assert_eq!(server.accepted(), 2, "{alpn}");
    }
}

#[test]
fn another_client_identity_or_verify_mode_gets_its_own_connection() {
    let pki = test_certs::pki();
    let with_identity = |c: &mut SslConfiguration| {
        c.set_local_certificate(pki.client.chain[0].clone());
        c.set_private_key(pki.client.key.clone());
    };
    let without_verification = |c: &mut SslConfiguration| {
        c.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
    };
    let changes: [&dyn Fn(&mut SslConfiguration); 2] = [&with_identity, &without_verification];
    for (alpn, offer) in BOTH {
        for change in changes {
            let server = TlsServer::start(&pki.server, offer);
            let m = NetworkAccessManager::new();
            warm_up(&m, &server, alpn);
            let mut config = test_certs::client_configuration();
            change(&mut config);
            let mut req = trusting(&server);
            req.set_ssl_configuration(config);
            let reply = m.get(req);
            let (lines, body) = run_traced(&m, reply);
            assert_eq!(body, b"hello", "{alpn}");
            assert!(lines.iter().any(|l| l == "reply.encrypted()"), "{lines:?}");
            assert_eq!(server.accepted(), 2, "{alpn}");
        }
    }
}

#[test]
fn an_equal_configuration_made_anew_shares_the_connection() {
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().server, offer);
        let m = NetworkAccessManager::new();
        warm_up(&m, &server, alpn);
        // Another value, built the same way (and with another ALPN list, which the manager
        // decides itself): the same trust, so the same connection.
        let mut config = test_certs::client_configuration();
        config.set_allowed_next_protocols(vec![b"spdy/3".to_vec()]);
        for _ in 0..3 {
            let mut req = trusting(&server);
            req.set_ssl_configuration(config.clone());
            let reply = m.get(req);
            let (_, body) = run_traced(&m, reply);
            assert_eq!(reply.error(), NetworkError::NoError, "{alpn}");
            assert_eq!(body, b"hello");
        }
        assert_eq!(m.connections_opened(), 1, "{alpn}");
        assert_eq!(server.accepted(), 1, "{alpn}");
    }
}

#[test]
fn a_preconnect_serves_only_requests_with_its_trust() {
    let server = TlsServer::start(&test_certs::pki().server, H1_ONLY);
    let m = NetworkAccessManager::new();
    m.connect_to_host_encrypted("127.0.0.1", server.port, test_certs::client_configuration());
    // A request with the default configuration (not trusting the test CA) must not take the
    // preconnected connection, wherever its handshake is.
    let untrusting = m.get(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let shown = record_ssl_errors(untrusting);
    run_traced(&m, untrusting);
    assert_eq!(untrusting.error(), NetworkError::SslHandshakeFailedError);
    assert_eq!(shown.borrow().len(), 1);
    // One with the preconnect's trust takes it.
    let reply = m.get(trusting(&server));
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(body, b"hello");
    assert!(!lines.iter().any(|l| l == "reply.encrypted()"), "{lines:?}");
    assert_eq!(m.connections_opened(), 2);
}
