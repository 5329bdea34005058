//! The HTTP server under test: an [`HttpServer`] running on its own loop thread with the
//! standard test routes, raw blocking clients, and a small HTTP/1.1 response reader.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use http::{Method, StatusCode};
use slotnet_core::AsObject;
use slotnet_core::{EventLoop, LoopHandle, Timer};
use slotnet_http::server::{
    HttpServer, HttpServerConfiguration, HttpServerRequest, HttpServerResponder, Methods,
};
use slotnet_net::ssl::test_certs;
use slotnet_net::{SslServer, TcpServer};

/// How long a test client waits for any single read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A server on its own thread and loop; stopped and joined when dropped.
pub struct TestServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    handle: LoopHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with `config`, the standard test routes, then `setup`'s additions.
    pub fn start<F>(config: HttpServerConfiguration, setup: F) -> TestServer
    where
        F: FnOnce(&HttpServer) + Send + 'static,
    {
        Self::start_on(false, config, setup)
    }

    /// Like [`TestServer::start`], over TLS (an `SslServer` with the test PKI's server
    /// certificate, ALPN `h2` and `http/1.1`).
    pub fn start_tls<F>(config: HttpServerConfiguration, setup: F) -> TestServer
    where
        F: FnOnce(&HttpServer) + Send + 'static,
    {
        Self::start_on(true, config, setup)
    }

    fn start_on<F>(tls: bool, config: HttpServerConfiguration, setup: F) -> TestServer
    where
        F: FnOnce(&HttpServer) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let lp = EventLoop::current();
            let server = HttpServer::new();
            server.set_configuration(config);
            standard_routes(&server);
            setup(&server);
            let port = if tls {
                let ssl = SslServer::with_parent(&server.as_object());
                ssl.set_ssl_configuration(test_certs::pki().server.configuration());
                assert!(ssl.listen(Ipv4Addr::LOCALHOST, 0));
                assert!(server.bind_ssl(&ssl));
                ssl.server_port()
            } else {
                let tcp = TcpServer::with_parent(&server.as_object());
                assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0));
                assert!(server.bind(&tcp));
                tcp.server_port()
            };
            tx.send((port, lp.handle())).unwrap();
            lp.exec();
            server.destroy();
        });
        let (port, handle) = rx.recv().expect("server thread started");
        TestServer {
            port,
            handle,
            thread: Some(thread),
        }
    }

    /// A server with the default configuration and the standard routes.
    pub fn standard() -> TestServer {
        Self::start(HttpServerConfiguration::default(), |_| {})
    }

    /// Runs `f` on the server's loop thread.
    pub fn run<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.handle.post(f).unwrap();
    }

    /// Opens a raw client connection.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Asserts that a fresh client still gets `GET /` answered.
    pub fn assert_serves_fresh_client(&self) {
        let mut s = self.connect();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r, false);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"hello");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.handle.quit();
        if let Some(t) = self.thread.take() {
            let result = t.join();
            if !std::thread::panicking() {
                result.expect("server thread panicked");
            }
        }
    }
}

/// Routes every test can use:
/// `/` hello; `/echo` the body back; `/delay/<ms>` answers `delayed <ms>` after a timer;
/// `/bytes/<n>` n bytes; `/stream/<n>` n chunked lines; `/drop` drops the responder.
pub fn standard_routes(server: &HttpServer) {
    server
        .route(
            "/",
            Method::GET,
            |_: &HttpServerRequest, resp: HttpServerResponder| {
                resp.write_data(StatusCode::OK, "text/plain", "hello");
            },
        )
        .expect("valid route");
    server
        .route(
            "/echo",
            Methods::ANY,
            |req: &HttpServerRequest, resp: HttpServerResponder| {
                let ct = req
                    .value("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                resp.write_data(StatusCode::OK, &ct, req.body().clone());
            },
        )
        .expect("valid route");
    server
        .route(
            "/delay/<arg>",
            Method::GET,
            |ms: u64, _: &HttpServerRequest, resp: HttpServerResponder| {
                Timer::single_shot(Duration::from_millis(ms), move || {
                    resp.write_data(StatusCode::OK, "text/plain", format!("delayed {ms}"));
                });
            },
        )
        .expect("valid route");
    server
        .route(
            "/bytes/<arg>",
            Method::GET,
            |n: usize, _: &HttpServerRequest, resp: HttpServerResponder| {
                let body: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
                resp.write_data(StatusCode::OK, "application/octet-stream", body);
            },
        )
        .expect("valid route");
    server
        .route(
            "/stream/<arg>",
            Method::GET,
            |n: u32, _: &HttpServerRequest, mut resp: HttpServerResponder| {
                resp.write_begin(StatusCode::OK, http::HeaderMap::new(), None);
                for i in 0..n {
                    // A few short lines: far below the budget.
                    if resp.write_chunk(format!("line {i}\n")).is_err() {
                        break;
                    }
                }
                resp.write_end();
            },
        )
        .expect("valid route");
    server
        .route(
            "/drop",
            Method::GET,
            |_: &HttpServerRequest, resp: HttpServerResponder| {
                drop(resp);
            },
        )
        .expect("valid route");
}

/// A response as read off the wire.
#[derive(Debug, Default)]
pub struct Response {
    /// The version of the status line, e.g. `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The header fields in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body came chunked.
    pub chunked: bool,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn read_line<R: BufRead>(r: &mut R) -> String {
    let mut line = String::new();
    let n = r.read_line(&mut line).expect("reading a response line");
    assert!(
        n > 0,
        "connection closed while a response line was expected"
    );
    line.trim_end_matches(['\r', '\n']).to_owned()
}

/// Reads one response (interim 1xx responses are returned as such). `head_only` for
/// answers to HEAD, which have no body whatever their headers say.
pub fn read_response<R: BufRead>(r: &mut R, head_only: bool) -> Response {
    let status_line = read_line(r);
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut resp = Response {
        version,
        status,
        ..Response::default()
    };
    loop {
        let line = read_line(r);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header line");
        resp.headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        return resp;
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        resp.chunked = true;
        loop {
            let size_line = read_line(r);
            let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            if size == 0 {
                // Trailers until the empty line.
                while !read_line(r).is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            r.read_exact(&mut chunk).unwrap();
            resp.body.extend_from_slice(&chunk);
            assert_eq!(read_line(r), "", "chunk data must end with CRLF");
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().unwrap();
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).unwrap();
    } else {
        r.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

/// Asserts that the server closes the connection: the next read sees EOF (or a reset),
/// after any bytes still in flight.
pub fn assert_closed<R: Read>(r: &mut R) {
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the server to close the connection, got {e}"),
        }
    }
}

/// Sends `request` on a new connection and reads one response.
pub fn roundtrip(server: &TestServer, request: &[u8]) -> (Response, BufReader<TcpStream>) {
    let mut s = server.connect();
    s.write_all(request).unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    (resp, r)
}
