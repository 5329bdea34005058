//! The server's HTTP/2 against real clients: curl (`--http2-prior-knowledge`, and `--http2`
//! over TLS with ALPN) and h2load (Debian package nghttp2-client). Each test is skipped with
//! a note when its tool is not installed.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::mpsc;

use slotnet_http::server::HttpServerConfiguration;
use slotnet_net::ssl::test_certs;
use slotnet_net::SslServer;
use slotnet_testkit::process::{curl, stdout, tool_available};
use slotnet_testkit::server::TestServer;

/// A server with h2c on its TCP listener and a TLS listener (port sent back) whose
/// configuration has no ALPN list: `bind_ssl` must offer h2 and http/1.1.
fn start() -> (TestServer, u16) {
    let (tx, rx) = mpsc::channel();
    let config = HttpServerConfiguration {
        h2c: true,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, move |server| {
        let ssl = SslServer::with_parent(server);
        ssl.set_ssl_configuration(test_certs::pki().server.configuration());
        assert!(ssl.listen(Ipv4Addr::LOCALHOST, 0));
        assert!(server.bind_ssl(&ssl));
        let alpn = ssl.ssl_configuration().allowed_next_protocols().to_vec();
        assert_eq!(alpn, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        tx.send(ssl.server_port()).unwrap();
    });
    let tls_port = rx.recv().unwrap();
    (server, tls_port)
}

#[test]
fn curl_with_prior_knowledge() {
    if !tool_available("curl", "curl") {
        return;
    }
    let (server, _) = start();
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        " %{http_version}",
        &format!("{base}/"),
    ]);
    assert_eq!(stdout(&out), "hello 2");
    let out = curl(&[
        "--http2-prior-knowledge",
        "-d",
        "some=data",
        "-H",
        "content-type: text/x-test",
        &format!("{base}/echo"),
    ]);
    assert_eq!(stdout(&out), "some=data");
    let out = curl(&["--http2-prior-knowledge", &format!("{base}/stream/3")]);
    assert_eq!(stdout(&out), "line 0\nline 1\nline 2\n");
    let out = curl(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        &format!("{base}/bytes/2000000"),
    ]);
    assert_eq!(stdout(&out), "200 2000000");
    // One URL per curl: curl 7.88 fails to reuse a prior-knowledge connection
    // (curl/curl#10634, fixed in 8.0); h2load covers many requests per connection.
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        " %{http_version}",
        &format!("{base}/delay/10"),
    ]);
    assert_eq!(stdout(&out), "delayed 10 2");
    // Plain HTTP/1.1 on the same listener.
    let out = curl(&["-w", " %{http_version}", &format!("{base}/")]);
    assert_eq!(stdout(&out), "hello 1.1");
}

#[test]
fn curl_over_tls_negotiates_h2_with_alpn() {
    if !tool_available("curl", "curl") {
        return;
    }
    let (_server, tls_port) = start();
    let base = format!("https://127.0.0.1:{tls_port}");
    let out = curl(&[
        "--http2",
        "-k",
        "-w",
        " %{http_version}",
        &format!("{base}/"),
    ]);
    assert_eq!(stdout(&out), "hello 2");
    let out = curl(&["--http2", "-k", "-d", "tls=yes", &format!("{base}/echo")]);
    assert_eq!(stdout(&out), "tls=yes");
    // A client that only speaks HTTP/1.1 gets it.
    let out = curl(&[
        "--http1.1",
        "-k",
        "-w",
        " %{http_version}",
        &format!("{base}/"),
    ]);
    assert_eq!(stdout(&out), "hello 1.1");
}

/// Parses h2load's `requests: N total, N started, N done, N succeeded, ...` line.
fn succeeded(report: &str) -> Option<(u64, u64)> {
    let line = report.lines().find(|l| l.starts_with("requests:"))?;
    let field = |name: &str| -> Option<u64> {
        line.split(',')
            .find(|f| f.trim_end().ends_with(name))?
            .split_whitespace()
            .find_map(|w| w.parse().ok())
    };
    Some((field("total")?, field("succeeded")?))
}

#[test]
fn h2load_requests_all_succeed() {
    if !tool_available("h2load", "nghttp2-client") {
        return;
    }
    let (server, tls_port) = start();
    for url in [
        format!("http://127.0.0.1:{}/", server.port),
        format!("https://127.0.0.1:{tls_port}/"),
    ] {
        let out = Command::new("h2load")
            .args(["-n", "2000", "-c", "4", "-m", "10", &url])
            .output()
            .expect("running h2load");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "h2load failed: {report}");
        assert_eq!(succeeded(&report), Some((2000, 2000)), "{url}: {report}");
        assert!(report.contains("2000 2xx"), "{report}");
    }
}
