//! The server against a real client: curl (skipped with a note when it is not installed).

use slotnet_http::server::HttpServerConfiguration;
use slotnet_testkit::process::{self, curl, TempFile};
use slotnet_testkit::server::TestServer;

fn curl_available() -> bool {
    process::tool_available("curl", "curl")
}

fn url(server: &TestServer, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", server.port)
}

fn payload(len: usize) -> (TempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    (TempFile::with(&data), data)
}

#[test]
fn curl_get_head_and_http_10() {
    if !curl_available() {
        return;
    }
    let server = TestServer::standard();
    let out = curl(&[&url(&server, "/")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"hello");

    let out = curl(&["-I", &url(&server, "/bytes/1234")]);
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 1234"), "{head}");

    let out = curl(&["--http1.0", &url(&server, "/bytes/300")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), 300);
}

#[test]
fn curl_reuses_the_connection() {
    if !curl_available() {
        return;
    }
    let server = TestServer::standard();
    let out = curl(&["-v", &url(&server, "/"), &url(&server, "/stream/2")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"helloline 0\nline 1\n");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Re-using existing connection"), "{log}");
}

#[test]
fn curl_uploads_with_100_continue_and_chunked() {
    if !curl_available() {
        return;
    }
    let server = TestServer::standard();
    let (file, data) = payload(3 * 1024 * 1024);
    let out = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Content-Type: application/x-test",
        "--data-binary",
        &file.arg(),
        &url(&server, "/echo"),
    ]);
    assert!(
        out.status.success(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == data, "echoed body differs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("HTTP/1.1 100 Continue"), "{log}");

    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &file.arg(),
        &url(&server, "/echo"),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == data, "echoed chunked body differs");
}

#[test]
fn curl_gets_413_before_sending_an_oversized_body() {
    if !curl_available() {
        return;
    }
    let config = HttpServerConfiguration {
        max_body_size: 1024 * 1024,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    let (file, _) = payload(2 * 1024 * 1024);
    let out = curl(&[
        "-v",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_upload}",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &file.arg(),
        &url(&server, "/echo"),
    ]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.starts_with("413 "), "{summary}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("100 Continue"), "{log}");
    // Without Expect the body is on its way: the 413 still arrives (lingering close).
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Expect:",
        "--data-binary",
        &file.arg(),
        &url(&server, "/echo"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
    server.assert_serves_fresh_client();
}
