//! HTTP CONNECT tunnels through an in-test proxy: plain, with Basic authentication (asked
//! through the signal, cached, preemptive), wrong credentials, refused targets, proxies
//! that are absent, silent, or not HTTP.

use std::time::Duration;

use slotnet_net::proxy::{
    cached_proxy_credentials, Authenticator, NetworkProxy, ProxyAuthScheme, ProxyType,
};
use slotnet_net::{SocketError, SocketState};
use slotnet_testkit::process::*;
use slotnet_testkit::proxy::*;

fn http(addr: std::net::SocketAddr) -> NetworkProxy {
    NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", addr.port())
}

fn with_auth(close_after_407: bool) -> HttpProxyConfig {
    HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        close_after_407,
        ..HttpProxyConfig::default()
    }
}

#[test]
fn tunnel_without_authentication() {
    let target = echo_server(b"");
    let (proxy, log) = http_proxy(HttpProxyConfig::default());
    let out = tunnel(http(proxy), "localhost", target.port(), &[], b"ping", 4);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"ping");
    assert_eq!(
        log.entries(),
        vec![
            "conn".to_owned(),
            format!("CONNECT localhost:{} auth=-", target.port()),
            "200".to_owned()
        ],
        "the name goes to the proxy (HostNameLookupCapability)"
    );
    assert!(out.prompts.is_empty());
}

#[test]
fn bytes_sent_with_the_proxy_answer_reach_the_reader() {
    // The target talks first and the proxy sends its greeting in the same write as the
    // 200: the handshake must leave it in the socket's buffer and announce it.
    let target = echo_server(b"HELLO ");
    let (proxy, _) = http_proxy(HttpProxyConfig {
        coalesce_first_bytes: true,
        ..HttpProxyConfig::default()
    });
    // Nothing is sent: only the announcement of the buffered bytes can end the loop.
    let out = tunnel(http(proxy), "127.0.0.1", target.port(), &[], b"", 6);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"HELLO ");
}

#[test]
fn credentials_asked_once_then_cached_and_sent_preemptively() {
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(false));
    let proxy = http(proxy_addr);
    let out = tunnel(
        proxy.clone(),
        "127.0.0.1",
        target.port(),
        &[Some(("alice", "s3cret"))],
        b"one",
        3,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"one");
    assert_eq!(out.prompts, vec![("test realm".to_owned(), String::new())]);
    // The keep-alive 407 was answered on the same connection.
    assert_eq!(log.count("conn"), 1);
    assert_eq!(log.count("407"), 1);
    assert_eq!(
        cached_proxy_credentials(&proxy),
        Some(("alice".to_owned(), "s3cret".to_owned()))
    );

    // Second connection: no prompt, credentials sent with the first request.
    let out = tunnel(proxy, "127.0.0.1", target.port(), &[], b"two", 3);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert!(out.prompts.is_empty());
    assert_eq!(log.count("407"), 1);
    assert_eq!(
        log.entries().last().map(String::as_str),
        Some("200"),
        "{:?}",
        log.entries()
    );
    assert!(log.entries().contains(&format!(
        "CONNECT 127.0.0.1:{} auth=alice:s3cret",
        target.port()
    )));
}

#[test]
fn proxy_closing_after_407_means_a_new_connection() {
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(true));
    let out = tunnel(
        http(proxy_addr),
        "127.0.0.1",
        target.port(),
        &[Some(("alice", "s3cret"))],
        b"ping",
        4,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"ping");
    assert_eq!(log.count("conn"), 2, "{:?}", log.entries());
}

#[test]
fn credentials_on_the_proxy_are_used_without_asking() {
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(false));
    let proxy = http(proxy_addr).with_credentials("alice", "s3cret");
    let out = tunnel(proxy, "127.0.0.1", target.port(), &[], b"ok", 2);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert!(out.prompts.is_empty());
    assert_eq!(log.count("407"), 0);
}

#[test]
fn wrong_credentials_are_retried_once_per_new_answer() {
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(false));
    let proxy = http(proxy_addr).with_credentials("alice", "wrong");
    // Prompt 1 (after the proxy's own credentials failed): another wrong password.
    // Prompt 2: the same wrong password again: the connector gives up.
    let out = tunnel(
        proxy,
        "127.0.0.1",
        target.port(),
        &[Some(("alice", "wrong2")), Some(("alice", "wrong2"))],
        b"x",
        1,
    );
    assert_eq!(
        out.error,
        Some(SocketError::ProxyAuthenticationRequiredError)
    );
    assert_eq!(
        out.prompts,
        vec![
            ("test realm".to_owned(), String::new()),
            ("test realm".to_owned(), String::new())
        ]
    );
    assert_eq!(log.count("407"), 2);
    assert_eq!(out.socket_state, Some(SocketState::Unconnected));
}

#[test]
fn an_empty_answer_fails_with_proxy_authentication_required() {
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(true));
    let out = tunnel(
        http(proxy_addr),
        "127.0.0.1",
        target.port(),
        &[None],
        b"x",
        1,
    );
    assert_eq!(
        out.error,
        Some(SocketError::ProxyAuthenticationRequiredError)
    );
    assert_eq!(out.prompts.len(), 1);
    assert_eq!(log.count("conn"), 1);
    assert_eq!(out.socket_state, Some(SocketState::Unconnected));
}

#[test]
fn an_unanswerable_challenge_fails_without_looping() {
    /// A scheme that never answers (as Basic does for a Digest-only proxy).
    struct Never;
    impl ProxyAuthScheme for Never {
        fn authorization(&mut self, _: &[String], _: &Authenticator, _: &str) -> Option<String> {
            None
        }
    }
    let target = echo_server(b"");
    let (proxy_addr, log) = http_proxy(with_auth(false));
    let out = tunnel_with(
        http(proxy_addr),
        "127.0.0.1",
        target.port(),
        &[Some(("alice", "s3cret"))],
        b"x",
        1,
        |c| c.set_auth_scheme_factory(|| Box::new(Never)),
    );
    assert_eq!(
        out.error,
        Some(SocketError::ProxyAuthenticationRequiredError)
    );
    assert_eq!(log.count("CONNECT"), 1);
}

#[test]
fn refused_and_unknown_targets() {
    let (proxy_addr, _) = http_proxy(HttpProxyConfig::default());
    let out = tunnel(http(proxy_addr), "127.0.0.1", closed_port(), &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ConnectionRefusedError));
    let out = tunnel(http(proxy_addr), "no-such-host.invalid", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::HostNotFoundError));
    assert_eq!(out.socket_state, Some(SocketState::Unconnected));
}

#[test]
fn unreachable_proxy_is_proxy_connection_refused() {
    let proxy = NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", closed_port());
    let out = tunnel(proxy, "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyConnectionRefusedError));
    let proxy = NetworkProxy::new(ProxyType::HttpProxy, "proxy.invalid", 3128);
    let out = tunnel(proxy, "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyNotFoundError));
}

#[test]
fn broken_proxies() {
    // Not HTTP at all.
    let addr = replying_server(b"SSH-2.0-OpenSSH_9.2\r\n");
    let out = tunnel(http(addr), "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyProtocolError));
    // Closes halfway through its answer.
    let addr = replying_server(b"HTTP/1.1 200 Conn");
    let out = tunnel(http(addr), "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyConnectionClosedError));
    // Never answers.
    let addr = silent_server();
    let out = tunnel_with(http(addr), "127.0.0.1", 80, &[], b"x", 1, |c| {
        c.set_timeout(Some(Duration::from_millis(200)))
    });
    assert_eq!(out.error, Some(SocketError::ProxyConnectionTimeoutError));
    assert_eq!(out.socket_state, Some(SocketState::Unconnected));
}

#[test]
fn proxies_that_cannot_tunnel_are_refused_and_no_proxy_connects_directly() {
    let caching = NetworkProxy::new(ProxyType::HttpCachingProxy, "127.0.0.1", 3128);
    let out = tunnel(caching, "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(
        out.error,
        Some(SocketError::UnsupportedSocketOperationError)
    );
    let target = echo_server(b"");
    let out = tunnel(
        NetworkProxy::no_proxy(),
        "127.0.0.1",
        target.port(),
        &[],
        b"direct",
        6,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"direct");
    let out = tunnel(
        NetworkProxy::no_proxy(),
        "127.0.0.1",
        closed_port(),
        &[],
        b"x",
        1,
    );
    assert_eq!(out.error, Some(SocketError::ConnectionRefusedError));
}
