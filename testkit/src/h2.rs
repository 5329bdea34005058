//! The HTTP/2 peers: an h2 server served by slotnet's own HTTP/2 driver on a second slotnet
//! thread (its own loop, no tokio), a raw-frame HTTP/2 server on std threads for exact
//! GOAWAY / RST_STREAM scripts, and [`wire`] for tests that write frames by hand.

pub mod wire;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::h2::server::SendResponse;
use ::h2::{Reason, RecvStream};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use slotnet_core::Thread;
use slotnet_http::core::spawn_local;
use slotnet_http::h2::server::{read_body, send_body, serve_connection, ServerConnection};
use slotnet_http::h2::Http2Configuration;
use slotnet_net::TcpServer;
use wire::{frame, PREFACE};

use crate::pattern::pattern_byte;

/// What the server has seen and done (shared with the test thread).
#[derive(Default)]
pub struct ServerState {
    /// Connections accepted so far.
    pub connections: AtomicUsize,
    /// Request paths in arrival order, with the connection index.
    pub requests: Mutex<Vec<(usize, String)>>,
    /// Body bytes of `/big/N` downloads handed to h2 (within the client's window).
    pub sent: AtomicU64,
    /// Responses whose stream the client reset while they were being sent.
    pub resets_seen: AtomicUsize,
}

impl ServerState {
    /// The request paths in arrival order (all connections).
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p.clone())
            .collect()
    }
}

thread_local! {
    /// The server thread's live connections (for `kill_connections`).
    static CONNECTIONS: RefCell<Vec<ServerConnection>> = const { RefCell::new(Vec::new()) };
}

/// An HTTP/2 (h2c) server on its own slotnet thread. Routes:
///
/// - `/hello.txt`: `hello` (text/plain)
/// - `/echo`: the request body
/// - `/path/...`: the path itself
/// - `/big/N`: N bytes of the test pattern ([`pattern_byte`]), sent as the client's window allows
/// - `/reset`: RST_STREAM(INTERNAL_ERROR)
/// - `/partial`: a head announcing 100000 bytes and 1000 of them, then nothing
/// - `/goaway/...`: GOAWAY on this connection, then `ok`
/// - `/status/404`: 404 with a body
pub struct H2Server {
    /// The port it listens on (127.0.0.1, cleartext h2 with prior knowledge).
    pub port: u16,
    /// What it has seen and done.
    pub state: Arc<ServerState>,
    thread: Option<Thread>,
}

impl Drop for H2Server {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            t.quit_and_join();
        }
    }
}

impl H2Server {
    /// Starts a server with the default HTTP/2 settings.
    pub fn start() -> H2Server {
        Self::with_config(Http2Configuration::default())
    }

    /// Starts a server with `config` (windows, stream limits).
    pub fn with_config(config: Http2Configuration) -> H2Server {
        let thread = Thread::start_named("h2-test-server").unwrap();
        let state = Arc::new(ServerState::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        thread
            .run(move || {
                let server = TcpServer::new();
                assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
                tx.send(server.server_port()).unwrap();
                server.new_connection().connect(move |_| {
                    while let Some(socket) = server.next_pending_connection() {
                        let index = st.connections.fetch_add(1, Ordering::SeqCst);
                        let me: Rc<RefCell<Option<ServerConnection>>> = Rc::default();
                        let (st, me2) = (st.clone(), me.clone());
                        let conn = serve_connection(socket, &config, move |req, respond| {
                            handle(&st, index, &me2, req, respond)
                        });
                        *me.borrow_mut() = Some(conn.clone());
                        CONNECTIONS.with(|c| c.borrow_mut().push(conn));
                    }
                });
            })
            .unwrap();
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        H2Server {
            port,
            state,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Aborts every connection (no GOAWAY): the server "dies".
    pub fn kill_connections(&self) {
        if let Some(t) = &self.thread {
            t.run(|| {
                CONNECTIONS.with(|c| {
                    for conn in c.borrow_mut().drain(..) {
                        conn.abort();
                    }
                })
            })
            .unwrap();
        }
    }
}

fn head(status: u16, len: Option<usize>, content_type: Option<&str>) -> Response<()> {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
    if let Some(len) = len {
        b = b.header("content-length", len);
    }
    if let Some(t) = content_type {
        b = b.header("content-type", t);
    }
    b.body(()).unwrap()
}

async fn respond_bytes(mut respond: SendResponse<Bytes>, status: u16, body: Bytes) {
    if let Ok(mut stream) =
        respond.send_response(head(status, Some(body.len()), None), body.is_empty())
    {
        let _ = send_body(&mut stream, body, true).await;
    }
}

fn handle(
    state: &Arc<ServerState>,
    index: usize,
    me: &Rc<RefCell<Option<ServerConnection>>>,
    req: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) {
    let path = req.uri().path().to_owned();
    state.requests.lock().unwrap().push((index, path.clone()));
    let state = state.clone();
    let me = me.clone();
    spawn_local(async move {
        let mut body = req.into_body();
        if path == "/hello.txt" {
            if let Ok(mut s) = respond.send_response(head(200, Some(5), Some("text/plain")), false)
            {
                let _ = send_body(&mut s, Bytes::from_static(b"hello"), true).await;
            }
        } else if path == "/echo" {
            match read_body(&mut body, 64 << 20).await {
                Ok(data) => respond_bytes(respond, 200, data).await,
                Err(_) => respond.send_reset(Reason::INTERNAL_ERROR),
            }
        } else if path.starts_with("/path/") {
            respond_bytes(respond, 200, Bytes::from(path.into_bytes())).await;
        } else if let Some(n) = path.strip_prefix("/big/") {
            let total: u64 = n.parse().unwrap();
            let Ok(mut s) = respond.send_response(head(200, Some(total as usize), None), false)
            else {
                return;
            };
            // Chunks of a whole number of pattern periods all start at offset 0 of the
            // pattern: one buffer serves them all (a 1 GiB body costs no per-byte work).
            const CHUNK: u64 = 251 * 128;
            let block = Bytes::from((0..CHUNK).map(pattern_byte).collect::<Vec<u8>>());
            let mut offset = 0u64;
            while offset < total {
                let len = (total - offset).min(CHUNK);
                let chunk = block.slice(..len as usize);
                if send_body(&mut s, chunk, offset + len == total)
                    .await
                    .is_err()
                {
                    state.resets_seen.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                offset += len;
                state.sent.fetch_add(len, Ordering::SeqCst);
            }
        } else if path == "/reset" {
            respond.send_reset(Reason::INTERNAL_ERROR);
        } else if path == "/partial" {
            if let Ok(mut s) = respond.send_response(head(200, Some(100_000), None), false) {
                let chunk: Vec<u8> = (0..1000).map(pattern_byte).collect();
                let _ = send_body(&mut s, Bytes::from(chunk), false).await;
                // Then nothing: the test kills the connection.
                std::future::pending::<()>().await;
            }
        } else if path.starts_with("/goaway/") {
            if let Some(conn) = me.borrow().as_ref() {
                conn.graceful_shutdown();
            }
            respond_bytes(respond, 200, Bytes::from_static(b"ok")).await;
        } else if path == "/status/404" {
            respond_bytes(respond, 404, Bytes::from_static(b"not found")).await;
        } else {
            respond_bytes(respond, 500, Bytes::new()).await;
        }
    });
}

// ----- a raw-frame HTTP/2 server ------------------------------------------------------------

/// What the raw server does with a request stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawAction {
    /// Answer `200` with an empty body.
    Ok,
    /// Leave it unanswered (a later GOAWAY decides its fate).
    Ignore,
    /// RST_STREAM(REFUSED_STREAM).
    Refuse,
    /// Close the connection without a word (an idle timeout racing the request).
    Drop,
}

/// Decides, per connection index and the stream ids seen so far on it, what to do: the
/// actions for the newest stream, and optionally a GOAWAY (last stream id) to send after it.
pub type RawScript = dyn Fn(usize, &[u32]) -> (RawAction, Option<u32>) + Send + Sync;

/// A minimal HTTP/2 server speaking raw frames on std threads; requests' header blocks are
/// not decoded (HPACK), only counted per stream.
pub struct RawH2Server {
    /// The port it listens on (127.0.0.1, prior knowledge).
    pub port: u16,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (closed by the client, or dropped by the script).
    pub closed: Arc<AtomicUsize>,
    /// Stream ids seen, per connection.
    pub streams: Arc<Mutex<Vec<Vec<u32>>>>,
}

impl RawH2Server {
    /// Starts a server that asks `script` what to do with each request stream: it gets the
    /// connection index and the stream ids seen on that connection so far (newest last).
    pub fn start<F>(script: F) -> RawH2Server
    where
        F: Fn(usize, &[u32]) -> (RawAction, Option<u32>) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<RawScript> = Arc::new(script);
        let (c, d, s) = (connections.clone(), closed.clone(), streams.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let index = c.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(Vec::new());
                let (script, d, s) = (script.clone(), d.clone(), s.clone());
                std::thread::spawn(move || {
                    raw_connection(stream, index, &*script, &s);
                    d.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        RawH2Server {
            port,
            connections,
            closed,
            streams,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

fn raw_connection(
    mut stream: TcpStream,
    index: usize,
    script: &RawScript,
    streams: &Mutex<Vec<Vec<u32>>>,
) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut preface = [0u8; 24];
    if stream.read_exact(&mut preface).is_err() || preface != PREFACE {
        return;
    }
    // Our SETTINGS (defaults).
    if stream.write_all(&frame(4, 0, 0, &[])).is_err() {
        return;
    }
    let mut seen = Vec::new();
    loop {
        let mut header = [0u8; 9];
        if stream.read_exact(&mut header).is_err() {
            return;
        }
        let len = (header[0] as usize) << 16 | (header[1] as usize) << 8 | header[2] as usize;
        let kind = header[3];
        let flags = header[4];
        let id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        if stream.read_exact(&mut payload).is_err() {
            return;
        }
        let mut out = Vec::new();
        match kind {
            // SETTINGS without ACK: acknowledge.
            4 if flags & 1 == 0 => out.extend(frame(4, 1, 0, &[])),
            // HEADERS: a new request.
            1 => {
                seen.push(id);
                streams.lock().unwrap()[index].push(id);
                let (action, goaway) = script(index, &seen);
                match action {
                    // :status 200 (HPACK static index 8), END_HEADERS | END_STREAM.
                    RawAction::Ok => out.extend(frame(1, 0x4 | 0x1, id, &[0x88])),
                    RawAction::Ignore => {}
                    RawAction::Refuse => out.extend(frame(3, 0, id, &7u32.to_be_bytes())),
                    RawAction::Drop => return,
                }
                if let Some(last) = goaway {
                    let mut p = last.to_be_bytes().to_vec();
                    p.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
                    out.extend(frame(7, 0, 0, &p));
                }
            }
            _ => {}
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}
