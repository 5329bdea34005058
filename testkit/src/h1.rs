//! The scripted HTTP/1.1 server: on loopback, std threads, raw bytes, so a client (the access
//! manager, or the legacy `Http`) can be tested against exact and misbehaving responses.
//!
//! The server parses each request (head, then a `Content-Length` or chunked body), records
//! it, and hands it to the test's handler, which writes whatever bytes it likes to the stream
//! and says what happens to the connection next ([`Next`]).
//!
//! ```no_run
//! use slotnet_testkit::h1::{respond, Next, ScriptedServer};
//! let server = ScriptedServer::start(|req, stream| {
//!     respond(stream, "200 OK", &[("Content-Type", "text/plain")], req.target.as_bytes());
//!     Next::KeepAlive
//! });
//! let url = server.url("/hello");
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the scripted server saw it.
#[derive(Clone, Debug, Default)]
pub struct SeenRequest {
    /// The method, as sent.
    pub method: String,
    /// The request target, as sent (origin form, or absolute form through a proxy).
    pub target: String,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty when the server was started with `head_only`).
    pub body: Vec<u8>,
    /// Bytes of the head, request line to empty line included.
    pub head_len: usize,
    /// Which accepted connection (0-based) carried it.
    pub connection: usize,
}

impl SeenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler wants after answering.
pub enum Next {
    /// Keep the connection for the next request.
    KeepAlive,
    /// Close it (both directions, after flushing).
    Close,
    /// Keep the connection open without reading more, until the client goes away (a
    /// stalled server).
    Hold,
}

type Handler = dyn Fn(&SeenRequest, &mut TcpStream) -> Next + Send + Sync;

/// A scripted HTTP/1.1 server on 127.0.0.1; it runs until the process ends.
pub struct ScriptedServer {
    /// The port it listens on.
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (the client closed them, or the handler did).
    pub closed: Arc<AtomicUsize>,
    /// Every request seen, in arrival order.
    pub requests: Arc<Mutex<Vec<SeenRequest>>>,
}

impl ScriptedServer {
    /// Starts a server whose `handler` writes the raw response for each request.
    pub fn start<F>(handler: F) -> ScriptedServer
    where
        F: Fn(&SeenRequest, &mut TcpStream) -> Next + Send + Sync + 'static,
    {
        Self::start_with(false, handler)
    }

    /// Like [`ScriptedServer::start`]; with `head_only` the body is not read before calling
    /// the handler (to answer while the client is still uploading).
    pub fn start_with<F>(head_only: bool, handler: F) -> ScriptedServer
    where
        F: Fn(&SeenRequest, &mut TcpStream) -> Next + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (c, d, r) = (connections.clone(), closed.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let (handler, d, r) = (handler.clone(), d.clone(), r.clone());
                std::thread::spawn(move || {
                    serve_connection(stream, index, head_only, &*handler, &r);
                    d.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        ScriptedServer {
            port,
            connections,
            closed,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The requests seen so far, in arrival order.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// How many connections have been accepted.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// How many connections have ended.
    pub fn closed_count(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

fn serve_connection(
    stream: TcpStream,
    index: usize,
    head_only: bool,
    handler: &Handler,
    requests: &Mutex<Vec<SeenRequest>>,
) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = line.split_whitespace();
        let mut req = SeenRequest {
            method: parts.next().unwrap_or("").to_owned(),
            target: parts.next().unwrap_or("").to_owned(),
            head_len: line.len(),
            connection: index,
            ..Default::default()
        };
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            req.head_len += h.len();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                req.headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if !head_only && read_body(&mut reader, &mut req).is_err() {
            return;
        }
        requests.lock().unwrap().push(req.clone());
        match handler(&req, &mut writer) {
            Next::KeepAlive => {}
            Next::Close => {
                let _ = writer.flush();
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Next::Hold => {
                // Wait until the client goes away.
                let mut sink = Vec::new();
                let _ = reader.read_to_end(&mut sink);
                return;
            }
        }
    }
}

/// Reads the body `req`'s head announces (`Content-Length` or chunked) into `req.body`.
fn read_body(reader: &mut BufReader<TcpStream>, req: &mut SeenRequest) -> std::io::Result<()> {
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        req.body = vec![0; len];
        reader.read_exact(&mut req.body)?;
    } else if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(())
}

/// Writes a complete response: the status line (`status` is e.g. `"200 OK"`), a
/// `Content-Length` for `body`, the `headers`, then `body`. Write errors are ignored (the
/// client may have gone, which is what some tests check).
pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes);
}
