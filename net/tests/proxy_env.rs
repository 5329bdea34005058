//! `DefaultProxy` end to end: the environment (`http_proxy`, `all_proxy`, `no_proxy`), the
//! application proxy and factories decide which in-test proxy a connection goes through.
//!
//! The environment and the application setting are process-wide, so this file holds a
//! single test that walks through every case in order.

use std::sync::Arc;

use slotnet_net::proxy::{
    set_application_proxy_factory, set_use_system_configuration, system_proxy_for_query,
    NetworkProxy, NetworkProxyQuery, ProxyType, QueryType,
};
use slotnet_net::SocketError;
use slotnet_testkit::proxy::*;

#[test]
fn default_proxy_follows_the_application_setting() {
    let target = echo_server(b"");
    let (http_addr, http_log) = http_proxy(HttpProxyConfig::default());
    let (socks_addr, socks_log) = socks5_proxy(None);
    // Set before any name lookup runs (getaddrinfo reads the environment).
    std::env::set_var(
        "http_proxy",
        format!("http://127.0.0.1:{}", http_addr.port()),
    );
    std::env::set_var(
        "ALL_PROXY",
        format!("socks5h://127.0.0.1:{}", socks_addr.port()),
    );
    std::env::set_var("no_proxy", "127.0.0.0/8, example.invalid");
    std::env::remove_var("all_proxy");
    std::env::remove_var("REQUEST_METHOD");

    let q = NetworkProxyQuery::for_host("localhost", 1, "http", QueryType::TcpSocket);
    assert_eq!(system_proxy_for_query(&q)[0].port(), http_addr.port());

    let default = NetworkProxy::default;
    let run = |host: &str, tag: &str| {
        tunnel_with(default(), host, target.port(), &[], b"hi", 2, |c| {
            c.set_protocol_tag(tag)
        })
    };

    // Off by default: the environment is not used.
    let out = run("localhost", "http");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!((http_log.count("conn"), socks_log.count("conn")), (0, 0));

    set_use_system_configuration(true);
    // http → http_proxy.
    let out = run("localhost", "http");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"hi");
    assert_eq!(
        http_log.count(&format!("CONNECT localhost:{}", target.port())),
        1
    );
    // No tag → ALL_PROXY (SOCKS5 with remote resolution).
    let out = run("localhost", "");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(
        socks_log.count(&format!("connect domain localhost:{}", target.port())),
        1
    );
    // no_proxy matches: direct.
    let out = run("127.0.0.1", "http");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!((http_log.count("conn"), socks_log.count("conn")), (1, 1));

    // An application proxy replaces the system configuration.
    NetworkProxy::set_application_proxy(NetworkProxy::new(
        ProxyType::HttpProxy,
        "127.0.0.1",
        http_addr.port(),
    ));
    let out = run("127.0.0.1", "");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(http_log.count("conn"), 2);

    // A factory: proxies that cannot tunnel are skipped.
    let caching = NetworkProxy::new(ProxyType::HttpCachingProxy, "127.0.0.1", 1);
    let socks = NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", socks_addr.port());
    let list = vec![caching.clone(), socks];
    set_application_proxy_factory(Some(Arc::new(move |_: &NetworkProxyQuery| list.clone())));
    let out = run("127.0.0.1", "");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(socks_log.count("conn"), 2);
    // ... and when none can, the connection is refused as Qt does.
    set_application_proxy_factory(Some(Arc::new(move |_: &NetworkProxyQuery| {
        vec![caching.clone()]
    })));
    let out = run("127.0.0.1", "");
    assert_eq!(
        out.error,
        Some(SocketError::UnsupportedSocketOperationError)
    );

    set_application_proxy_factory(None);
    let out = run("localhost", "http");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!((http_log.count("conn"), socks_log.count("conn")), (2, 2));

    // Qt's rules without ALL_PROXY: ftp and plain TCP take http_proxy, every answer ends
    // with NoProxy, and `.corp.local` exempts the subdomains only.
    std::env::remove_var("ALL_PROXY");
    std::env::set_var("no_proxy", ".corp.local");
    let http = NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", http_addr.port());
    for (host, tag, proxied) in [
        ("files.example", "ftp", true),
        ("db.example", "", true),
        ("corp.local", "http", true),
        ("www.corp.local", "http", false),
    ] {
        let q = NetworkProxyQuery::for_host(host, 21, tag, QueryType::TcpSocket);
        let expected = if proxied {
            vec![http.clone(), NetworkProxy::no_proxy()]
        } else {
            vec![NetworkProxy::no_proxy()]
        };
        assert_eq!(system_proxy_for_query(&q), expected, "{host} {tag:?}");
    }
    set_use_system_configuration(true);
    let out = run("localhost", "");
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"hi");
    assert_eq!(
        http_log.count(&format!("CONNECT localhost:{}", target.port())),
        2,
        "a plain TCP connection tunnels through http_proxy"
    );
    set_use_system_configuration(false);
}
