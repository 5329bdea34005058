//! Trust is decided per request (issue 14): a TLS connection is shared only by requests
//! with the same trust settings (peer verify name, CA set, client identity, ...), every
//! reply shown `sslErrors` decides for itself, and every new connection asks again. Real
//! TLS handshakes on loopback, over HTTP/1.1 and HTTP/2, against servers that count the
//! connections they accept.

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::{test_certs, PeerVerifyMode, SslConfiguration, SslError};
use slotnet_testkit::reply::{run_all, run_traced};
use slotnet_testkit::tls_server::{TlsServer, H1_ONLY, H2_AND_H1};

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

/// A GET with the default configuration (which does not trust the test certificates).
fn untrusting(server: &TlsServer) -> NetworkRequest {
    NetworkRequest::from_url_str(&server.url("/hello.txt"))
}

/// Makes `reply`'s `sslErrors` slot call `ignore_ssl_errors()`.
fn ignore_in_slot(reply: NetworkReply) {
    reply
        .ssl_errors()
        .connect(move |_: &Vec<SslError>| reply.ignore_ssl_errors());
}

#[test]
fn each_reply_waiting_for_the_handshake_decides_for_itself() {
    const N: usize = 6;
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().self_signed, offer);
        let m = NetworkAccessManager::new();
        // Started together: they all wait for one handshake (ALPN is not known yet), and
        // every one of them is shown its errors. The odd ones ignore them.
        let replies: Vec<_> = (0..N).map(|_| m.get(untrusting(&server))).collect();
        let shown: Vec<_> = replies.iter().map(|r| record_ssl_errors(*r)).collect();
        for reply in replies.iter().skip(1).step_by(2) {
            ignore_in_slot(*reply);
        }
        run_all(&replies);
        for (i, reply) in replies.iter().enumerate() {
            if i % 2 == 1 {
                assert_eq!(reply.error(), NetworkError::NoError, "{alpn} reply {i}");
                assert_eq!(reply.read_all(), b"hello", "{alpn} reply {i}");
                assert_eq!(http2_was_used(*reply), Some(alpn == "h2"));
                // Over HTTP/1.1 a reply that goes on to a connection of its own is asked
                // again there.
                assert!(
                    shown[i]
                        .borrow()
                        .iter()
                        .all(|names| names == "SelfSignedCertificate"),
                    "{alpn} reply {i}"
                );
            } else {
                assert_eq!(
                    reply.error(),
                    NetworkError::SslHandshakeFailedError,
                    "{alpn} reply {i}: another reply's consent does not carry it"
                );
                assert!(reply.read_all().is_empty(), "{alpn} reply {i}");
                assert_eq!(*shown[i].borrow(), ["SelfSignedCertificate"], "{alpn}");
            }
        }
        if alpn == "h2" {
            assert_eq!(server.accepted(), 1);
        }
    }
}

#[test]
fn a_reply_that_does_not_ignore_fails_whatever_a_concurrent_one_decided() {
    // The issue's first case: reply A ignores the errors in its slot, reply B checks the
    // certificate against another name and does not ignore what it is shown.
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().self_signed, offer);
        let m = NetworkAccessManager::new();
        let a = m.get(untrusting(&server));
        ignore_in_slot(a);
        let mut req = untrusting(&server);
        req.set_peer_verify_name("wrong.example");
        let b = m.get(req);
        let shown_b = record_ssl_errors(b);
        run_all(&[a, b]);
        assert_eq!(a.error(), NetworkError::NoError, "{alpn}");
        assert_eq!(a.read_all(), b"hello");
        assert_eq!(b.error(), NetworkError::SslHandshakeFailedError, "{alpn}");
        assert_eq!(b.status_code(), None, "{alpn}");
        assert_eq!(
            *shown_b.borrow(),
            ["HostNameMismatch,SelfSignedCertificate"],
            "{alpn}"
        );
    }
}

#[test]
fn a_later_reply_on_a_connection_whose_errors_were_ignored_is_asked_first() {
    let self_signed = test_certs::pki().self_signed.chain[0].clone();
    for (alpn, offer) in BOTH {
        let server = TlsServer::start(&test_certs::pki().self_signed, offer);
        let m = NetworkAccessManager::new();
        let first = m.get(untrusting(&server));
        ignore_in_slot(first);
        let (_, body) = run_traced(&m, first);
        assert_eq!(body, b"hello", "{alpn}");

        // Same trust settings, so the same connection: but this reply never accepted its
        // certificate. It is shown the errors before its request is sent, and refuses.
        let refusing = m.get(untrusting(&server));
        let (lines, body) = run_traced(&m, refusing);
        assert_eq!(
            lines,
            [
                "manager.sslErrors(SelfSignedCertificate)",
                "reply.sslErrors(SelfSignedCertificate)",
                "reply.errorOccurred(SslHandshakeFailedError)",
                "reply.downloadProgress(0, 0)",
                "manager.finished()",
                "reply.finished()",
            ],
            "{alpn}"
        );
        assert!(body.is_empty());

        // One that accepts in its slot rides the connection (no new handshake, no
        // `encrypted`).
        let accepting = m.get(untrusting(&server));
        ignore_in_slot(accepting);
        let (lines, body) = run_traced(&m, accepting);
        assert_eq!(body, b"hello", "{alpn}");
        assert_eq!(
            lines[..2],
            [
                "manager.sslErrors(SelfSignedCertificate)",
                "reply.sslErrors(SelfSignedCertificate)"
            ]
        );
        assert!(!lines.iter().any(|l| l.contains("encrypted")), "{lines:?}");

        // Accepted beforehand, by list or by `ignore_ssl_errors()`: no signal.
        // (One at a time: two at once would open a second HTTP/1.1 connection.)
        let listed = m.get(untrusting(&server));
        listed.ignore_ssl_errors_list(vec![SslError::new(
            slotnet_net::ssl::SslErrorKind::SelfSignedCertificate,
            self_signed.clone(),
        )]);
        let (lines, body) = run_traced(&m, listed);
        assert_eq!(body, b"hello", "{alpn}");
        assert!(!lines.iter().any(|l| l.contains("sslErrors")), "{lines:?}");
        let blanket = m.get(untrusting(&server));
        blanket.ignore_ssl_errors();
        let (lines, body) = run_traced(&m, blanket);
        assert_eq!(body, b"hello", "{alpn}");
        assert!(!lines.iter().any(|l| l.contains("sslErrors")), "{lines:?}");
        assert_eq!(server.accepted(), 1, "{alpn}: one connection throughout");
    }
}

/// The issue's trace of real Qt 6.4 (`qnam_trace --insecure`: the slot ignores the errors
/// every time it is called) for a redirect between two TLS servers whose certificates have
/// errors: every connection asks again, and each tells `encrypted`.
fn qt_redirect_trace(target: &str) -> Vec<String> {
    let errors = "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate";
    let connection = [
        format!("manager.sslErrors({errors})"),
        format!("reply.sslErrors({errors})"),
        "manager.encrypted()".to_owned(),
        "reply.encrypted()".to_owned(),
        "reply.metaDataChanged()".to_owned(),
    ];
    let mut lines = connection.to_vec();
    lines.push(format!("reply.redirected({target})"));
    lines.extend(connection);
    lines.push("manager.finished()".to_owned());
    lines.push("reply.finished()".to_owned());
    lines
}

/// The lines of a trace for the signals the issue's trace lists (the others, such as
/// `requestSent` and `downloadProgress`, are left out there).
fn as_in_the_issue(lines: &[String]) -> Vec<String> {
    let listed = [
        "sslErrors",
        "encrypted",
        "metaDataChanged",
        "redirected",
        "finished",
    ];
    lines
        .iter()
        .filter(|l| listed.iter().any(|name| l.contains(&format!(".{name}("))))
        .cloned()
        .collect()
}

/// Two servers with certificates of the test CA, which the default configuration does not
/// trust; the first redirects to the second's `/small.txt`.
fn redirect_pair(offer: &'static [&'static [u8]]) -> (TlsServer, TlsServer, String) {
    let pki = test_certs::pki();
    let target_server = TlsServer::start(&pki.server, offer);
    let target = target_server.url("/small.txt");
    let redirecting = TlsServer::start_redirecting(&pki.server, offer, target.clone());
    (redirecting, target_server, target)
}

#[test]
fn a_redirect_to_another_tls_server_asks_again_as_qt_does() {
    for (alpn, offer) in BOTH {
        let (first, second, target) = redirect_pair(offer);
        let m = NetworkAccessManager::new();
        let reply = m.get(untrusting(&first));
        let shown = record_ssl_errors(reply);
        ignore_in_slot(reply);
        let (lines, body) = run_traced(&m, reply);
        assert_eq!(
            as_in_the_issue(&lines),
            qt_redirect_trace(&target),
            "{alpn}"
        );
        assert_eq!(reply.error(), NetworkError::NoError, "{alpn}");
        assert_eq!(body, b"hello");
        assert_eq!(reply.url().map(|u| u.to_string()), Some(target));
        assert_eq!(shown.borrow().len(), 2, "{alpn}");
        assert_eq!(http2_was_used(reply), Some(alpn == "h2"));
        assert_eq!((first.accepted(), second.accepted()), (1, 1));
    }
}

#[test]
fn ignoring_in_the_slot_does_not_carry_over_to_the_redirects_connection() {
    for (alpn, offer) in BOTH {
        let (first, _second, target) = redirect_pair(offer);
        let m = NetworkAccessManager::new();
        let reply = m.get(untrusting(&first));
        // Ignores the first connection's errors only.
        let calls = Rc::new(std::cell::Cell::new(0));
        let c = calls.clone();
        reply.ssl_errors().connect(move |_: &Vec<SslError>| {
            c.set(c.get() + 1);
            if c.get() == 1 {
                reply.ignore_ssl_errors();
            }
        });
        let (lines, body) = run_traced(&m, reply);
        assert_eq!(
            calls.get(),
            2,
            "{alpn}: asked again for the second connection"
        );
        assert_eq!(
            reply.error(),
            NetworkError::SslHandshakeFailedError,
            "{alpn}: {lines:?}"
        );
        assert!(body.is_empty());
        assert!(
            lines.contains(&format!("reply.redirected({target})")),
            "{lines:?}"
        );
    }
}

#[test]
fn errors_accepted_beforehand_hold_for_every_connection_of_the_reply() {
    let expected = || {
        let leaf = test_certs::pki().server.chain[0].clone();
        vec![
            SslError::new(
                slotnet_net::ssl::SslErrorKind::UnableToGetLocalIssuerCertificate,
                leaf.clone(),
            ),
            SslError::new(
                slotnet_net::ssl::SslErrorKind::UnableToVerifyFirstCertificate,
                leaf,
            ),
        ]
    };
    for (alpn, offer) in BOTH {
        for by_list in [true, false] {
            let (first, _second, target) = redirect_pair(offer);
            let m = NetworkAccessManager::new();
            let reply = m.get(untrusting(&first));
            if by_list {
                reply.ignore_ssl_errors_list(expected());
            } else {
                reply.ignore_ssl_errors();
            }
            let (lines, body) = run_traced(&m, reply);
            assert_eq!(reply.error(), NetworkError::NoError, "{alpn}: {lines:?}");
            assert_eq!(body, b"hello");
            // No sslErrors (accepted in advance), and `encrypted` for both connections.
            let expected_lines: Vec<String> = qt_redirect_trace(&target)
                .into_iter()
                .filter(|l| !l.contains("sslErrors"))
                .collect();
            assert_eq!(as_in_the_issue(&lines), expected_lines, "{alpn}");
        }
    }
}
