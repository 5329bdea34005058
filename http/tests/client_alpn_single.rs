//! Many https requests started at once for a host with no connection: like Qt, the manager
//! opens one TLS connection offering h2 and lets the others wait for its ALPN result. h2
//! means all of them share that connection; HTTP/1.1 means the host's other connections are
//! opened then; a failed handshake fails them all, each with its own `sslErrors`. Real TLS
//! handshakes on loopback against servers that count the connections they accept.

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::trace::SignalTrace;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::test_certs::{self, TestIdentity};
use slotnet_net::ssl::SslError;
use slotnet_testkit::reply::run_all;
use slotnet_testkit::tls_server::{TlsServer, H1_ONLY, H2_AND_H1};

/// What the servers answer for `path`: long enough to span several reads, different for
/// every path, so a mixed-up or truncated body shows.
fn body_for(path: &str) -> Vec<u8> {
    format!("{path};").repeat(50).into_bytes()
}

fn start(identity: &'static TestIdentity, alpn: &'static [&'static [u8]]) -> TlsServer {
    TlsServer::start_with(identity, alpn, body_for, None)
}

fn trusting(server: &TlsServer, path: &str) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&server.url(path));
    req.set_ssl_configuration(test_certs::client_configuration());
    req
}

fn http2_was_used(reply: NetworkReply) -> Option<bool> {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
}

/// Starts `n` GETs for `/r/<i>` at once (the manager dispatches them together on its next
/// loop iteration), each configured by `setup`.
fn start_gets(
    m: &NetworkAccessManager,
    server: &TlsServer,
    n: usize,
    setup: impl Fn(usize, &mut NetworkRequest),
) -> Vec<NetworkReply> {
    (0..n)
        .map(|i| {
            let mut req = trusting(server, &format!("/r/{i}"));
            setup(i, &mut req);
            m.get(req)
        })
        .collect()
}

/// Starts `n` GETs for `/r/<i>` at once, with the default TLS configuration (which does
/// not trust the test certificates).
fn untrusting_gets(m: &NetworkAccessManager, server: &TlsServer, n: usize) -> Vec<NetworkReply> {
    (0..n)
        .map(|i| {
            m.get(NetworkRequest::from_url_str(
                &server.url(&format!("/r/{i}")),
            ))
        })
        .collect()
}

fn assert_bodies(replies: &[NetworkReply]) {
    for (i, reply) in replies.iter().enumerate() {
        assert_body(i, *reply);
    }
}

/// `reply` (for `/r/<i>`) succeeded with its own body.
fn assert_body(i: usize, reply: NetworkReply) {
    assert_eq!(
        reply.error(),
        NetworkError::NoError,
        "reply {i}: {}",
        reply.error_string()
    );
    assert_eq!(reply.status_code(), Some(200), "reply {i}");
    assert_eq!(reply.read_all(), body_for(&format!("/r/{i}")), "reply {i}");
}

#[test]
fn fifty_requests_from_cold_share_one_h2_connection() {
    let server = start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let replies = start_gets(&m, &server, 50, |_, _| {});
    run_all(&replies);
    assert_bodies(&replies);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(http2_was_used(*reply), Some(true), "reply {i}");
    }
    assert_eq!(server.accepted(), 1, "TCP connections the server accepted");
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn only_the_first_request_is_told_encrypted() {
    // Qt emits `encrypted` for the request that opened the connection, not for the ones
    // that waited for its ALPN result and then shared it.
    let server = start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let replies = start_gets(&m, &server, 5, |_, _| {});
    let encrypted = Rc::new(RefCell::new(Vec::new()));
    for (i, reply) in replies.iter().enumerate() {
        let seen = encrypted.clone();
        reply
            .encrypted()
            .connect(move |_| seen.borrow_mut().push(i));
    }
    run_all(&replies);
    assert_bodies(&replies);
    assert_eq!(*encrypted.borrow(), [0]);
}

#[test]
fn a_server_without_h2_gets_the_queue_over_several_http1_connections() {
    let server = start(&test_certs::pki().server, H1_ONLY);
    let m = NetworkAccessManager::new();
    let replies = start_gets(&m, &server, 50, |_, _| {});
    run_all(&replies);
    assert_bodies(&replies);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(http2_was_used(*reply), Some(false), "reply {i}");
    }
    let accepted = server.accepted();
    // One connection learns that the server speaks HTTP/1.1 only; then the queue is served
    // in parallel, within Qt's six connections per host.
    assert!(
        (2..=6).contains(&accepted),
        "{accepted} connections accepted"
    );
    assert_eq!(m.connections_opened(), accepted as u64);
}

#[test]
fn a_failed_handshake_fails_every_waiting_request_with_its_own_ssl_errors() {
    const N: usize = 10;
    let server = start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let replies = untrusting_gets(&m, &server, N);
    let traces: Vec<SignalTrace> = replies
        .iter()
        .map(|reply| {
            let trace = SignalTrace::new();
            trace.watch_manager(&m, *reply);
            trace.watch_reply(*reply);
            trace
        })
        .collect();
    run_all(&replies);
    for (i, (reply, trace)) in replies.iter().zip(&traces).enumerate() {
        assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError, "{i}");
        let lines = trace.lines();
        // docs/qt-traces/https-selfsigned.txt, for every reply.
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
            ],
            "reply {i}"
        );
        assert!(reply.read_all().is_empty());
    }
    // One handshake failed for all of them, as on Qt's single HTTP/2 channel.
    assert_eq!(server.accepted(), 1);
}

#[test]
fn only_the_waiting_requests_that_ignore_the_ssl_errors_ride_the_connection() {
    const N: usize = 8;
    let server = start(&test_certs::pki().self_signed, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let replies = untrusting_gets(&m, &server, N);
    // Not the first one (the request the connection was opened for): waiting ones.
    let ignoring = |i: usize| i == 3 || i == 6;
    let told = Rc::new(RefCell::new(Vec::new()));
    for (i, reply) in replies.iter().enumerate() {
        let (told, reply) = (told.clone(), *reply);
        reply.ssl_errors().connect(move |errors: &Vec<SslError>| {
            assert_eq!(SslError::join_names(errors), "SelfSignedCertificate");
            told.borrow_mut().push(i);
            if ignoring(i) {
                reply.ignore_ssl_errors();
            }
        });
    }
    run_all(&replies);
    // Each was asked once, and each decided for itself.
    assert_eq!(*told.borrow(), (0..N).collect::<Vec<_>>());
    for (i, reply) in replies.iter().enumerate() {
        if ignoring(i) {
            assert_body(i, *reply);
            assert_eq!(http2_was_used(*reply), Some(true));
        } else {
            assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError, "{i}");
            assert!(reply.read_all().is_empty(), "{i}");
        }
    }
    assert_eq!(server.accepted(), 1);
}

#[test]
fn requests_without_http2_open_their_own_connections_meanwhile() {
    let server = start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    // Every seventh request forbids HTTP/2: 0, 7, 14.
    let h1_only = |i: usize| i.is_multiple_of(7);
    let replies = start_gets(&m, &server, 20, |i, req| {
        if h1_only(i) {
            req.set_attribute(Attribute::Http2Allowed, false);
        }
    });
    run_all(&replies);
    assert_bodies(&replies);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(http2_was_used(*reply), Some(!h1_only(i)), "reply {i}");
    }
    // The first request that allows HTTP/2 opens the connection the others wait for; each
    // request without HTTP/2 opens one of its own (an h2 offer must not carry it).
    assert_eq!(server.accepted(), 1 + 3);
}

#[test]
fn an_idle_connection_opened_without_http2_does_not_keep_http2_from_the_next_request() {
    let server = start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let first = start_gets(&m, &server, 1, |_, req| {
        req.set_attribute(Attribute::Http2Allowed, false);
    });
    run_all(&first);
    assert_eq!(http2_was_used(first[0]), Some(false));
    // The first connection now waits idle in the pool, speaking HTTP/1.1. The next request
    // allows HTTP/2 (the default): it gets a connection of its own that offers h2.
    let second = start_gets(&m, &server, 3, |_, _| {});
    run_all(&second);
    assert_bodies(&second);
    for reply in &second {
        assert_eq!(http2_was_used(*reply), Some(true));
    }
    assert_eq!(server.accepted(), 2);
    // And a request refusing HTTP/2 again takes the idle HTTP/1.1 connection.
    let third = start_gets(&m, &server, 1, |_, req| {
        req.set_attribute(Attribute::Http2Allowed, false);
    });
    run_all(&third);
    assert_eq!(http2_was_used(third[0]), Some(false));
    assert_eq!(server.accepted(), 2);
}

#[test]
fn aborting_the_request_that_opened_the_connection_lets_the_waiting_ones_use_it() {
    let server = start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let replies = start_gets(&m, &server, 6, |_, _| {});
    let (first, last) = (replies[0], replies[5]);
    // The last request starts waiting after the others: the handshake is still under way
    // (it needs the server's answer, which cannot come within this dispatch).
    last.socket_started_connecting()
        .connect(move |_| first.abort());
    run_all(&replies);
    assert_eq!(first.error(), NetworkError::OperationCanceledError);
    for (i, reply) in replies.iter().enumerate().skip(1) {
        assert_body(i, *reply);
        assert_eq!(http2_was_used(*reply), Some(true), "reply {i}");
    }
    assert_eq!(server.accepted(), 1);
}
