//! An https server for the client tests: on its own slotnet thread, with a test identity and
//! the ALPN protocols it accepts; it answers every GET (200 with a body, or a redirect) over
//! h2 when ALPN picks it, else over HTTP/1.1 with keep-alive, and counts the TCP connections
//! it accepts and the TLS handshakes that complete.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use slotnet_core::Thread;
use slotnet_http::core::spawn_local;
use slotnet_http::h2::server::{send_body, serve_connection};
use slotnet_http::h2::Http2Configuration;
use slotnet_net::ssl::test_certs::TestIdentity;
use slotnet_net::{SslServer, SslSocket};

/// ALPN offer of a server that speaks h2 and HTTP/1.1.
pub const H2_AND_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN offer of a server that speaks HTTP/1.1 only.
pub const H1_ONLY: &[&[u8]] = &[b"http/1.1"];

/// What a server answers for a request path.
pub type BodyFor = fn(&str) -> Vec<u8>;

/// Called on the server's thread whenever it counts a connection or a handshake (to wake a
/// test that waits for one).
pub type OnCount = Box<dyn Fn() + Send>;

/// An https server on its own slotnet thread (stopped when dropped).
pub struct TlsServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    _thread: Thread,
}

fn hello(_path: &str) -> Vec<u8> {
    b"hello".to_vec()
}

/// What a server answers: 200 with `body_for(path)`, or a 302 to `location`.
#[derive(Clone)]
struct Answer {
    body_for: BodyFor,
    location: Option<String>,
}

impl TlsServer {
    /// A server answering `hello` to every path.
    pub fn start(identity: &'static TestIdentity, alpn: &'static [&'static [u8]]) -> TlsServer {
        Self::start_with(identity, alpn, hello, None)
    }

    /// A server answering every path with a `302 Found` to `location` (empty body).
    pub fn start_redirecting(
        identity: &'static TestIdentity,
        alpn: &'static [&'static [u8]],
        location: String,
    ) -> TlsServer {
        let answer = Answer {
            body_for: |_| Vec::new(),
            location: Some(location),
        };
        Self::start_answering(identity, alpn, answer, None)
    }

    /// A server answering `body_for(path)`; `on_count` runs after each count.
    pub fn start_with(
        identity: &'static TestIdentity,
        alpn: &'static [&'static [u8]],
        body_for: BodyFor,
        on_count: Option<OnCount>,
    ) -> TlsServer {
        let answer = Answer {
            body_for,
            location: None,
        };
        Self::start_answering(identity, alpn, answer, on_count)
    }

    fn start_answering(
        identity: &'static TestIdentity,
        alpn: &'static [&'static [u8]],
        answer: Answer,
        on_count: Option<OnCount>,
    ) -> TlsServer {
        let accepted = Arc::new(AtomicUsize::new(0));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (a, h) = (accepted.clone(), handshakes.clone());
        let thread = Thread::start_named("tls-test-server").unwrap();
        let (tx, rx) = mpsc::channel();
        thread
            .run(move || {
                let on_count: Rc<dyn Fn()> = match on_count {
                    Some(f) => Rc::new(f),
                    None => Rc::new(|| {}),
                };
                let server = SslServer::new();
                let mut config = identity.configuration();
                config.set_allowed_next_protocols(alpn.iter().map(|p| p.to_vec()).collect());
                server.set_ssl_configuration(config);
                assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
                tx.send(server.server_port()).unwrap();
                let on_accept = on_count.clone();
                server.new_connection().connect(move |_| {
                    a.fetch_add(1, Ordering::SeqCst);
                    on_accept();
                });
                server.pending_connection_available().connect(move |_| {
                    while let Some(socket) = server.next_pending_connection() {
                        h.fetch_add(1, Ordering::SeqCst);
                        on_count();
                        serve(socket, answer.clone());
                    }
                });
            })
            .unwrap();
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        TlsServer {
            port,
            accepted,
            handshakes,
            _thread: thread,
        }
    }

    /// `https://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

fn serve(socket: SslSocket, answer: Answer) {
    if socket.ssl_configuration().negotiated_protocol() == Some(b"h2".as_slice()) {
        let conn = serve_connection(
            socket,
            &Http2Configuration::default(),
            move |req, mut respond| {
                let body = Bytes::from((answer.body_for)(req.uri().path()));
                let mut head = Response::builder();
                head = match &answer.location {
                    Some(location) => head.status(StatusCode::FOUND).header("location", location),
                    None => head.status(StatusCode::OK),
                };
                let head = head.header("content-length", body.len()).body(()).unwrap();
                spawn_local(async move {
                    if let Ok(mut s) = respond.send_response(head, false) {
                        let _ = send_body(&mut s, body, true).await;
                    }
                });
            },
        );
        std::mem::forget(conn); // lives as long as its socket
    } else {
        let pending = Rc::new(RefCell::new(Vec::new()));
        socket.ready_read().connect(move |_| {
            pending.borrow_mut().extend(socket.read_all());
            let mut buf = pending.borrow_mut();
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                let path = head.split(' ').nth(1).unwrap_or("/");
                let body = (answer.body_for)(path);
                let status = match &answer.location {
                    Some(location) => format!("302 Found\r\nLocation: {location}"),
                    None => "200 OK".to_owned(),
                };
                let mut out = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                out.extend_from_slice(&body);
                socket.write(&out);
            }
        });
    }
}
