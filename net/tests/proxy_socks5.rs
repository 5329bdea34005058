//! SOCKS5 tunnels through an in-test proxy: remote and local name resolution,
//! username/password authentication (given, asked for, wrong), refused and unknown targets,
//! absent and broken proxies.

use slotnet_net::proxy::{NetworkProxy, ProxyCapabilities, ProxyType};
use slotnet_net::{SocketError, SocketState};
use slotnet_testkit::process::*;
use slotnet_testkit::proxy::*;

fn socks(addr: std::net::SocketAddr) -> NetworkProxy {
    NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", addr.port())
}

fn creds() -> Option<(String, String)> {
    Some(("bob".into(), "hunter2".into()))
}

#[test]
fn tunnel_with_remote_name_resolution() {
    let target = echo_server(b"");
    let (proxy, log) = socks5_proxy(None);
    let out = tunnel(socks(proxy), "localhost", target.port(), &[], b"ping", 4);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"ping");
    assert_eq!(
        log.entries(),
        vec![
            "conn".to_owned(),
            "methods [0]".to_owned(),
            format!("connect domain localhost:{}", target.port()),
            "rep 0".to_owned()
        ]
    );
}

#[test]
fn without_host_name_lookup_the_name_is_resolved_locally() {
    let target = echo_server(b"");
    let (proxy_addr, log) = socks5_proxy(None);
    let mut proxy = socks(proxy_addr);
    proxy.set_capabilities(
        ProxyType::Socks5Proxy.default_capabilities() & !ProxyCapabilities::HOST_NAME_LOOKUP,
    );
    let out = tunnel(proxy, "localhost", target.port(), &[], b"ping", 4);
    assert_eq!(out.error, None, "{}", out.error_string);
    let connect = log
        .entries()
        .into_iter()
        .find(|e| e.starts_with("connect"))
        .unwrap();
    assert!(connect.starts_with("connect ip "), "{connect}");
    assert!(
        connect.ends_with(&format!(":{}", target.port())),
        "{connect}"
    );
}

#[test]
fn the_early_bytes_of_the_target_are_kept() {
    let target = echo_server(b"220 ready\r\n");
    let (proxy, _) = socks5_proxy(None);
    let out = tunnel(socks(proxy), "127.0.0.1", target.port(), &[], b"", 11);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"220 ready\r\n");
}

#[test]
fn user_password_from_the_proxy() {
    let target = echo_server(b"");
    let (proxy_addr, log) = socks5_proxy(creds());
    let proxy = socks(proxy_addr).with_credentials("bob", "hunter2");
    let out = tunnel(proxy, "127.0.0.1", target.port(), &[], b"pong", 4);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"pong");
    assert!(out.prompts.is_empty());
    assert_eq!(
        &log.entries()[..3],
        &["conn", "methods [0, 2]", "auth bob:hunter2 ok"]
    );
}

#[test]
fn credentials_asked_when_the_proxy_accepts_no_offered_method() {
    let target = echo_server(b"");
    let (proxy_addr, log) = socks5_proxy(creds());
    // A port of its own: the credential cache is per proxy, and other tests use others.
    let out = tunnel(
        socks(proxy_addr),
        "127.0.0.1",
        target.port(),
        &[Some(("bob", "hunter2"))],
        b"x",
        1,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.prompts, vec![(String::new(), String::new())]);
    // First connection: no-auth only, refused (0xff); second: with credentials.
    assert_eq!(log.count("conn"), 2, "{:?}", log.entries());
    assert_eq!(log.count("methods [0]"), 1);
    assert_eq!(
        log.count("methods [0, 2]"),
        1,
        "only the second offers user/password"
    );
    assert_eq!(log.count("auth bob:hunter2 ok"), 1);

    // Cached: the next connection authenticates at once.
    let out = tunnel(socks(proxy_addr), "127.0.0.1", target.port(), &[], b"y", 1);
    assert_eq!(out.error, None, "{}", out.error_string);
    assert!(out.prompts.is_empty());
    assert_eq!(log.count("conn"), 3);
}

#[test]
fn wrong_credentials_then_right_ones() {
    let target = echo_server(b"");
    let (proxy_addr, log) = socks5_proxy(creds());
    let proxy = socks(proxy_addr).with_credentials("bob", "wrong");
    let out = tunnel(
        proxy,
        "127.0.0.1",
        target.port(),
        &[Some(("bob", "hunter2"))],
        b"z",
        1,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.prompts, vec![(String::new(), String::new())]);
    assert_eq!(log.count("auth bob:wrong fail"), 1);
    assert_eq!(log.count("auth bob:hunter2 ok"), 1);
}

#[test]
fn wrong_credentials_and_no_answer() {
    let (proxy_addr, log) = socks5_proxy(creds());
    let proxy = socks(proxy_addr).with_credentials("bob", "wrong");
    let out = tunnel(proxy, "127.0.0.1", 80, &[None], b"z", 1);
    assert_eq!(
        out.error,
        Some(SocketError::ProxyAuthenticationRequiredError)
    );
    assert_eq!(out.socket_state, Some(SocketState::Unconnected));
    assert_eq!(log.count("conn"), 1, "{:?}", log.entries());
}

#[test]
fn target_errors_come_from_the_reply() {
    let (proxy, log) = socks5_proxy(None);
    let out = tunnel(socks(proxy), "127.0.0.1", closed_port(), &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ConnectionRefusedError));
    let out = tunnel(socks(proxy), "no-such-host.invalid", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::HostNotFoundError));
    assert_eq!(log.count("rep 5"), 1);
    assert_eq!(log.count("rep 4"), 1);
}

#[test]
fn absent_and_broken_proxies() {
    let proxy = NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", closed_port());
    let out = tunnel(proxy, "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyConnectionRefusedError));
    // An HTTP server where a SOCKS5 proxy was expected.
    let addr = replying_server(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    let out = tunnel(socks(addr), "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyProtocolError));
    // A proxy that closes after choosing a method.
    let addr = replying_server(&[5, 0]);
    let out = tunnel(socks(addr), "127.0.0.1", 80, &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyConnectionClosedError));
}
