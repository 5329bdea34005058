//! Tunnels through real proxies from Debian: tinyproxy (HTTP `CONNECT` with Basic
//! authentication) and microsocks (SOCKS5 with username/password), started on loopback with
//! a configuration in a temporary directory. Each test is skipped, with a note on stderr,
//! when its program is not installed (Debian packages `tinyproxy` and `microsocks`).

use slotnet_net::proxy::{NetworkProxy, ProxyType};
use slotnet_net::SocketError;
use slotnet_testkit::process::*;
use slotnet_testkit::proxy::*;

#[test]
fn tinyproxy_connect_with_basic_auth() {
    let Some(binary) = find_binary("tinyproxy") else {
        eprintln!("note: tinyproxy is not installed (Debian package `tinyproxy`); skipped");
        return;
    };
    let dir = TempDir::new("tinyproxy");
    let port = free_port();
    let config = dir.0.join("tinyproxy.conf");
    // No ConnectPort line: CONNECT to any port is allowed.
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 16\nAllow 127.0.0.1\n\
             BasicAuth alice s3cret\nLogLevel Critical\n"
        ),
    )
    .unwrap();
    let _proxy = start_listening(&binary, &["-d", "-c", config.to_str().unwrap()], port);
    let target = echo_server(b"");
    let proxy = NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", port);

    // Wrong credentials, then no answer.
    let out = tunnel(
        proxy.clone().with_credentials("alice", "wrong"),
        "127.0.0.1",
        target.port(),
        &[None],
        b"x",
        1,
    );
    assert_eq!(
        out.error,
        Some(SocketError::ProxyAuthenticationRequiredError),
        "{}",
        out.error_string
    );
    assert_eq!(out.prompts, vec![("Tinyproxy".to_owned(), String::new())]);

    // Asked through the signal; tinyproxy closes after its 407, so this reconnects.
    let out = tunnel(
        proxy.clone(),
        "127.0.0.1",
        target.port(),
        &[Some(("alice", "s3cret"))],
        b"through tinyproxy",
        17,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"through tinyproxy");
    assert_eq!(out.prompts.len(), 1);

    // tinyproxy answers "500 Unable to connect" for a refused target: not a status Qt
    // maps to a target error, so a protocol error.
    let out = tunnel(proxy, "127.0.0.1", closed_port(), &[], b"x", 1);
    assert_eq!(out.error, Some(SocketError::ProxyProtocolError));
}

#[test]
fn microsocks_with_user_password() {
    let Some(binary) = find_binary("microsocks") else {
        eprintln!("note: microsocks is not installed (Debian package `microsocks`); skipped");
        return;
    };
    let port = free_port();
    let port_text = port.to_string();
    let _proxy = start_listening(
        &binary,
        &[
            "-i",
            "127.0.0.1",
            "-p",
            &port_text,
            "-u",
            "bob",
            "-P",
            "hunter2",
        ],
        port,
    );
    let target = echo_server(b"");
    let proxy = NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", port);

    let out = tunnel(
        proxy.clone().with_credentials("bob", "wrong"),
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

    // No credentials at first: microsocks refuses no-auth, the slot supplies them.
    let out = tunnel(
        proxy.clone(),
        "localhost",
        target.port(),
        &[Some(("bob", "hunter2"))],
        b"through microsocks",
        18,
    );
    assert_eq!(out.error, None, "{}", out.error_string);
    assert_eq!(out.received, b"through microsocks");
    assert_eq!(out.prompts.len(), 1);

    // Cached now; a refused target is reported as such.
    let out = tunnel(proxy, "127.0.0.1", closed_port(), &[], b"x", 1);
    assert_eq!(
        out.error,
        Some(SocketError::ConnectionRefusedError),
        "{}",
        out.error_string
    );
    assert!(out.prompts.is_empty());
}
