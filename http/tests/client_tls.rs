//! https in the access manager: Qt's sslErrors model on the reply and the manager, ALPN
//! choosing HTTP/2 or HTTP/1.1, real TLS handshakes on loopback with rcgen certificates.

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::{test_certs, SslCertificate, SslError, SslErrorKind};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::{run_all, run_traced};
use slotnet_testkit::tls_server::{TlsServer, H1_ONLY, H2_AND_H1};

fn url(server: &TlsServer) -> String {
    server.url("/hello.txt")
}

#[test]
fn self_signed_certificate_fails_the_handshake_like_qt() {
    let server = TlsServer::start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
    let (lines, _) = run_traced(&m, reply);
    // docs/qt-traces/https-selfsigned.txt
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
    // Qt: "SSL handshake failed" and the socket's text, the first certificate error's.
    assert_eq!(
        reply.error_string(),
        "SSL handshake failed: The certificate is self-signed, and untrusted"
    );
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
    // docs/qt-traces/https-insecure.txt (http2=1: Qt 6 negotiates h2 by default)
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
        assert_no_error(*r);
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

fn trusting_get(m: &NetworkAccessManager, server: &TlsServer) -> NetworkReply {
    let mut req = NetworkRequest::from_url_str(&url(server));
    req.set_ssl_configuration(test_certs::client_configuration());
    m.get(req)
}

#[test]
fn the_reply_reports_its_connections_tls_session_from_encrypted_on() {
    let pki = test_certs::pki();
    for (alpn, expected_alpn) in [(H2_AND_H1, &b"h2"[..]), (H1_ONLY, &b"http/1.1"[..])] {
        let server = TlsServer::start(&pki.server, alpn);
        let m = NetworkAccessManager::new();
        let first = trusting_get(&m, &server);
        // What the application sees from its `encrypted` slot.
        let in_slot: Rc<RefCell<Option<Vec<SslCertificate>>>> = Rc::default();
        let seen = in_slot.clone();
        first.encrypted().connect(move |_| {
            *seen.borrow_mut() = first
                .ssl_configuration()
                .map(|c| c.peer_certificate_chain().to_vec());
        });
        let (_, body) = run_traced(&m, first);
        assert_eq!(body, b"hello");
        assert_eq!(
            in_slot.borrow().as_deref(),
            Some(pki.server.chain.as_slice())
        );
        let session = first.ssl_configuration().expect("a TLS session");
        assert_eq!(session.peer_certificate(), Some(&pki.server.chain[0]));
        assert!(session.session_cipher().is_some());
        assert_eq!(session.negotiated_protocol(), Some(expected_alpn));

        // A request on the connection that is already up emits no `encrypted`, and still
        // knows the session.
        let second = trusting_get(&m, &server);
        let (lines, _) = run_traced(&m, second);
        assert!(!lines.iter().any(|l| l == "reply.encrypted()"), "{lines:?}");
        let session = second.ssl_configuration().expect("a TLS session");
        assert_eq!(
            session.peer_certificate_chain(),
            pki.server.chain.as_slice()
        );
        assert_eq!(session.negotiated_protocol(), Some(expected_alpn));
        assert_eq!(m.connections_opened(), 1);
    }
}

#[test]
fn a_plain_http_reply_has_no_tls_session() {
    let server = ScriptedServer::start(|_, s| {
        respond(s, "200 OK", &[], b"hello");
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/")));
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert!(reply.ssl_configuration().is_none());
}

/// The self-signed test server's certificate.
fn self_signed_certificate() -> SslCertificate {
    test_certs::pki().self_signed.chain[0].clone()
}

#[test]
fn errors_expected_beforehand_let_the_handshake_through_without_ssl_errors() {
    let server = TlsServer::start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
    reply.ignore_ssl_errors_list(vec![SslError::new(
        SslErrorKind::SelfSignedCertificate,
        self_signed_certificate(),
    )]);
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError, "{lines:?}");
    assert_eq!(body, b"hello");
    // Qt's socket emits nothing for errors it was told to expect.
    assert!(!lines.iter().any(|l| l.contains("sslErrors")), "{lines:?}");
    assert_eq!(
        lines[..3],
        [
            "reply.socketStartedConnecting()",
            "manager.encrypted()",
            "reply.encrypted()"
        ]
    );
}

#[test]
fn an_expected_list_missing_an_error_reports_them_all_and_fails() {
    let pki = test_certs::pki();
    let server = TlsServer::start(&pki.self_signed, H2_AND_H1);
    // The right kind for another certificate, and another kind for the right certificate:
    // neither equals the error found (kind and certificate must both match).
    for expected in [
        SslError::new(
            SslErrorKind::SelfSignedCertificate,
            pki.server.chain[0].clone(),
        ),
        SslError::new(SslErrorKind::HostNameMismatch, self_signed_certificate()),
    ] {
        let m = NetworkAccessManager::new();
        let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
        reply.ignore_ssl_errors_list(vec![expected]);
        let (lines, _) = run_traced(&m, reply);
        assert_eq!(lines[1], "manager.sslErrors(SelfSignedCertificate)");
        assert_eq!(lines[2], "reply.sslErrors(SelfSignedCertificate)");
        assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
    }
}

#[test]
fn ignore_ssl_errors_called_beforehand_continues_without_ssl_errors() {
    let server = TlsServer::start(&test_certs::pki().self_signed, H1_ONLY);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&url(&server)));
    reply.ignore_ssl_errors();
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(reply.error(), NetworkError::NoError, "{lines:?}");
    assert_eq!(body, b"hello");
    assert!(!lines.iter().any(|l| l.contains("sslErrors")), "{lines:?}");
    assert!(lines.iter().any(|l| l == "reply.encrypted()"), "{lines:?}");
}

#[test]
fn every_certificate_problem_fails_the_reply_unless_ignored() {
    let pki = test_certs::pki();
    // (server identity, trust the test CA, the errors Qt reports for it)
    let cases = [
        (&pki.self_signed, false, "SelfSignedCertificate"),
        (
            &pki.server,
            false,
            "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate",
        ),
        (&pki.expired, true, "CertificateExpired"),
        (&pki.not_yet_valid, true, "CertificateNotYetValid"),
        (&pki.wrong_host, true, "HostNameMismatch"),
    ];
    for (identity, trust_ca, names) in cases {
        let server = TlsServer::start(identity, H2_AND_H1);
        for ignore in [false, true] {
            let m = NetworkAccessManager::new();
            let mut req = NetworkRequest::from_url_str(&url(&server));
            if trust_ca {
                req.set_ssl_configuration(test_certs::client_configuration());
            }
            let reply = m.get(req);
            let reported: Rc<RefCell<Vec<String>>> = Rc::default();
            let seen = reported.clone();
            reply.ssl_errors().connect(move |errors: &Vec<SslError>| {
                seen.borrow_mut().push(SslError::join_names(errors));
                if ignore {
                    reply.ignore_ssl_errors();
                }
            });
            let (_, body) = run_traced(&m, reply);
            assert_eq!(*reported.borrow(), [names], "reported once, in Qt's terms");
            if ignore {
                assert_eq!(reply.error(), NetworkError::NoError, "{names}");
                assert_eq!(body, b"hello");
            } else {
                assert_eq!(
                    reply.error(),
                    NetworkError::SslHandshakeFailedError,
                    "{names}"
                );
                assert!(body.is_empty());
            }
        }
    }
}
