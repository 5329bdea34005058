//! The server over TLS (`SslServer` bound with `bind_ssl`), checked with curl.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use http::{Method, StatusCode};
use slotnet_core::EventLoop;
use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder};
use slotnet_net::ssl::test_certs;
use slotnet_net::SslServer;
use slotnet_testkit::server;

struct TlsServer {
    port: u16,
    handle: slotnet_core::LoopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.handle.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start() -> TlsServer {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let lp = EventLoop::current();
        let server = HttpServer::new();
        server::standard_routes(&server);
        server
            .route(
                "/whoami",
                Method::GET,
                |req: &HttpServerRequest, resp: HttpServerResponder| {
                    let text = format!("{} secure={}", req.url(), req.is_secure());
                    resp.write_data(StatusCode::OK, "text/plain", text);
                },
            )
            .expect("valid route");
        let mut config = test_certs::pki().server.configuration();
        config.set_allowed_next_protocols(vec![b"http/1.1".to_vec()]);
        let ssl = SslServer::new();
        ssl.set_ssl_configuration(config);
        assert!(ssl.listen(Ipv4Addr::LOCALHOST, 0));
        assert!(server.bind_ssl(&ssl));
        assert_eq!(server.server_ports(), vec![ssl.server_port()]);
        tx.send((ssl.server_port(), lp.handle())).unwrap();
        lp.exec();
        server.destroy();
        ssl.destroy();
    });
    let (port, handle) = rx.recv().unwrap();
    TlsServer {
        port,
        handle,
        thread: Some(thread),
    }
}

#[test]
fn https_requests_over_ssl_server() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("note: curl is not installed; skipping (Debian package: curl)");
        return;
    }
    let server = start();
    let ca = std::env::temp_dir().join(format!("slotnet-tls-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, test_certs::pki().ca.to_pem()).unwrap();

    // A client that does not speak TLS fails its handshake without disturbing anyone.
    let mut plain = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut junk = Vec::new();
    let _ = plain.read_to_end(&mut junk);
    assert!(!junk.starts_with(b"HTTP/"), "plaintext got an HTTP answer");

    let base = format!("https://localhost:{}", server.port);
    let out = Command::new("curl")
        .args(["-sS", "-v", "--max-time", "20", "--cacert"])
        .arg(&ca)
        .arg(format!("{base}/whoami"))
        .arg(format!("{base}/stream/2"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&ca);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{base}/whoami secure=trueline 0\nline 1\n")
    );
    assert!(log.contains("ALPN") && log.contains("http/1.1"), "{log}");
    assert!(log.contains("Re-using existing connection"), "{log}");
}
