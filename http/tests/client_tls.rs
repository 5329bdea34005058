//! https in the access manager: Qt's sslErrors model on the reply and the manager, ALPN
//! choosing HTTP/2 or HTTP/1.1, real TLS handshakes on loopback with rcgen certificates.

mod support;

use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_net::ssl::test_certs;
use slotnet_net::ssl::SslError;
use support::tls::{TlsServer, H1_ONLY, H2_AND_H1};
use support::{run_all, run_traced};

fn url(server: &TlsServer) -> String {
    server.url("/hello.txt")
}

#[test]
fn self_signed_certificate_fails_the_handshake_like_qt() {
    let server = TlsServer::start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
    let (lines, _) = run_traced(&m, reply);
    // ../shared/anchors/qt/traces/https-selfsigned.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "manager.sslErrors(SelfSignedCertificate)",
            "reply.sslErrors(SelfSignedCertificate)",
            "reply.errorOccurred(SslHandshakeFailedError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
}

#[test]
fn ignoring_ssl_errors_from_the_slot_continues_over_h2() {
    let server = TlsServer::start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
    reply.ssl_errors().connect(move |errors: &Vec<SslError>| {
        assert_eq!(SslError::join_names(errors), "SelfSignedCertificate");
        reply.ignore_ssl_errors();
    });
    let (lines, body) = run_traced(&m, reply);
    // ../shared/anchors/qt/traces/https-insecure.txt (http2=1: Qt 6 negotiates h2 by default)
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "manager.sslErrors(SelfSignedCertificate)",
            "reply.sslErrors(SelfSignedCertificate)",
            "manager.encrypted()",
            "reply.encrypted()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(5, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello");
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    assert_eq!(
        reply
            .attribute(Attribute::ConnectionEncrypted)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
}

#[test]
fn a_trusted_ca_gives_no_errors_and_http1_when_h2_is_refused() {
    let server = TlsServer::start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let mut req = NetworkRequest::from_url_str(&url(&server));
    req.set_ssl_configuration(test_certs::client_configuration());
    req.set_attribute(Attribute::Http2Allowed, false);
    let reply = m.get(req);
    let (lines, body) = run_traced(&m, reply);
    assert!(!lines.iter().any(|l| l.contains("sslErrors")), "{lines:?}");
    assert!(lines.contains(&"reply.encrypted()".to_owned()));
    assert_eq!(body, b"hello");
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(false)
    );
    assert_eq!(
        reply
            .attribute(Attribute::ConnectionEncrypted)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
}

#[test]
fn a_server_without_h2_falls_back_to_http1_and_reuses_the_connection() {
    let server = TlsServer::start(&test_certs::pki().server, H1_ONLY);
    let m = NetworkAccessManager::new();
    let make = || {
        let mut req = NetworkRequest::from_url_str(&url(&server));
        req.set_ssl_configuration(test_certs::client_configuration());
        m.get(req)
    };
    let first = make();
    let (_, body) = run_traced(&m, first);
    assert_eq!(body, b"hello");
    let second = make();
    let (lines, _) = run_traced(&m, second);
    assert_eq!(second.error(), NetworkError::NoError);
    assert!(
        !lines.contains(&"reply.socketStartedConnecting()".to_owned()),
        "keep-alive reuse"
    );
    assert!(
        !lines.contains(&"reply.encrypted()".to_owned()),
        "encrypted only on the first connection, as Qt says"
    );
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn many_https_requests_share_one_h2_connection() {
    let server = TlsServer::start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let first = {
        let mut req = NetworkRequest::from_url_str(&url(&server));
        req.set_ssl_configuration(test_certs::client_configuration());
        m.get(req)
    };
    run_traced(&m, first);
    let replies: Vec<_> = (0..50)
        .map(|_| {
            let mut req = NetworkRequest::from_url_str(&url(&server));
            req.set_ssl_configuration(test_certs::client_configuration());
            m.get(req)
        })
        .collect();
    run_all(&replies);
    for r in &replies {
        assert_eq!(r.error(), NetworkError::NoError, "{}", r.error_string());
        assert_eq!(r.read_all(), b"hello");
        assert_eq!(
            r.attribute(Attribute::Http2WasUsed)
                .and_then(|v| v.as_bool()),
            Some(true)
        );
    }
    assert_eq!(m.connections_opened(), 1, "one multiplexed connection");
}

#[test]
fn wrong_host_name_is_reported_first() {
    let server = TlsServer::start(&test_certs::pki().wrong_host, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let mut req = NetworkRequest::from_url_str(&url(&server));
    req.set_ssl_configuration(test_certs::client_configuration());
    let reply = m.get(req);
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(lines[1], "manager.sslErrors(HostNameMismatch)");
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
}
