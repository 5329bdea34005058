//! Test support: a scripted HTTP/1.1 server on loopback (std threads, raw bytes), so the
//! client can be tested against exact and misbehaving responses.

#![allow(dead_code)]

pub mod tls;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::trace::SignalTrace;
use slotnet_http::{NetworkAccessManager, NetworkReply};

/// A request as the scripted server saw it.
#[derive(Clone, Debug, Default)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which accepted connection (0-based) carried it.
    pub connection: usize,
}

impl SeenRequest {
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
    /// Close it.
    Close,
}

type Handler = dyn Fn(&SeenRequest, &mut TcpStream) -> Next + Send + Sync;

pub struct ScriptedServer {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    /// Connections that ended (the client closed them, or the handler did).
    pub closed: Arc<AtomicUsize>,
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

    /// Like `start`; with `head_only` the body is not read before calling the handler (to
    /// answer while the client is still uploading).
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

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.requests.lock().unwrap().clone()
    }

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
            connection: index,
            ..Default::default()
        };
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                req.headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if !head_only {
            if let Some(len) = req
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
            {
                req.body = vec![0; len];
                if reader.read_exact(&mut req.body).is_err() {
                    return;
                }
            } else if req
                .header("transfer-encoding")
                .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size).ok();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0; n + 2];
                    if reader.read_exact(&mut chunk).is_err() {
                        return;
                    }
                    if n == 0 {
                        break;
                    }
                    req.body.extend_from_slice(&chunk[..n]);
                }
            }
        }
        requests.lock().unwrap().push(req.clone());
        match handler(&req, &mut writer) {
            Next::KeepAlive => {}
            Next::Close => {
                let _ = writer.flush();
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

/// Writes a complete response with a Content-Length body.
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

/// Runs the loop until `reply` finishes (at most 20 s), tracing every signal; returns the
/// trace lines and the body read in `finished`.
pub fn run_traced(manager: &NetworkAccessManager, reply: NetworkReply) -> (Vec<String>, Vec<u8>) {
    run_with_trace(manager, reply, SignalTrace::new())
}

/// `run_traced`, with the manager's authentication signals in the trace as
/// `slotnet-fetch --trace` prints them (`manager.authenticationRequired(REALM)`).
pub fn run_traced_auth(
    manager: &NetworkAccessManager,
    reply: NetworkReply,
) -> (Vec<String>, Vec<u8>) {
    let trace = SignalTrace::new();
    let t = trace.clone();
    manager.authentication_required().connect(move |(r, auth)| {
        if *r == reply {
            t.push(format!(
                "manager.authenticationRequired({})",
                auth.borrow().realm()
            ));
        }
    });
    let t = trace.clone();
    manager
        .proxy_authentication_required()
        .connect(move |(_proxy, auth)| {
            t.push(format!(
                "manager.proxyAuthenticationRequired({})",
                auth.borrow().realm()
            ));
        });
    run_with_trace(manager, reply, trace)
}

fn run_with_trace(
    manager: &NetworkAccessManager,
    reply: NetworkReply,
    trace: SignalTrace,
) -> (Vec<String>, Vec<u8>) {
    trace.watch_manager(manager, reply);
    trace.watch_reply(reply);
    let body = Rc::new(RefCell::new(Vec::new()));
    let b = body.clone();
    reply
        .ready_read()
        .connect(move |_| b.borrow_mut().extend(reply.read_all()));
    let b = body.clone();
    reply.finished().connect(move |_| {
        b.borrow_mut().extend(reply.read_all());
        EventLoop::current().quit();
    });
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(20));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "reply did not finish in time"
    );
    guard.destroy();
    let body = body.borrow().clone();
    (trace.lines(), body)
}

/// Runs the loop until every reply finished.
pub fn run_all(replies: &[NetworkReply]) {
    let left = Rc::new(std::cell::Cell::new(replies.len()));
    for r in replies {
        let left = left.clone();
        r.finished().connect(move |_| {
            left.set(left.get() - 1);
            if left.get() == 0 {
                EventLoop::current().quit();
            }
        });
    }
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(20));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "replies did not finish in time"
    );
    guard.destroy();
}

/// The process's peak resident memory (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What [`read_slowly`] saw.
#[derive(Clone, Copy, Debug)]
pub struct SlowRead {
    /// Bytes read.
    pub received: u64,
    /// The most bytes the reply ever held.
    pub max_buffered: usize,
    /// Every byte matched the expected pattern, in order.
    pub exact: bool,
}

impl SlowRead {
    /// Asserts that `reply` ended without error after delivering `size` bytes, in order and
    /// unchanged, and never held more than `read_buffer` of them.
    pub fn assert_complete(&self, reply: NetworkReply, size: u64, read_buffer: usize) {
        assert_eq!(
            reply.error(),
            slotnet_http::NetworkError::NoError,
            "{}",
            reply.error_string()
        );
        assert_eq!(self.received, size);
        assert!(self.exact, "bytes arrive in order, unchanged");
        assert!(
            self.max_buffered <= read_buffer,
            "the reply held {} bytes",
            self.max_buffered
        );
    }
}

/// Asserts that the process's peak memory grew by less than 64 MiB since `before_kib` (a
/// [`peak_rss_kib`] reading) while a 1 GiB body went through it.
pub fn assert_bounded_memory_for_1_gib(before_kib: u64) {
    let grown_mib = peak_rss_kib().saturating_sub(before_kib) / 1024;
    assert!(
        grown_mib < 64,
        "peak memory grew by {grown_mib} MiB for a 1024 MiB body"
    );
}

/// Reads `reply` one `piece`-sized read per loop iteration (slower than a loopback
/// connection fills it) until it has finished and been emptied, checking the bytes against
/// `period` repeated; `after_piece` gets the total read so far after each read. Fails the
/// test if that takes longer than `guard`.
pub fn read_slowly(
    reply: NetworkReply,
    period: &[u8],
    piece: usize,
    guard: Duration,
    after_piece: impl Fn(u64) + 'static,
) -> SlowRead {
    let state = Rc::new(RefCell::new(SlowRead {
        received: 0,
        max_buffered: 0,
        exact: true,
    }));
    let st = state.clone();
    // Enough of the pattern to compare a piece starting anywhere in a period.
    let expected = period.repeat(piece / period.len() + 2);
    let period_len = period.len() as u64;
    let buf = RefCell::new(vec![0u8; piece]);
    let reader = Timer::new();
    reader.timeout().connect(move |_| {
        let mut s = st.borrow_mut();
        s.max_buffered = s.max_buffered.max(reply.bytes_available());
        let mut buf = buf.borrow_mut();
        let n = reply.read(&mut buf);
        let offset = (s.received % period_len) as usize;
        // Slices compare with memcmp: fast even in a debug build.
        if buf[..n] != expected[offset..offset + n] {
            s.exact = false;
        }
        s.received += n as u64;
        after_piece(s.received);
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    reader.start_interval(Duration::ZERO);
    let timer = Timer::new();
    timer.timeout().connect(|_| EventLoop::current().exit(1));
    timer.start_interval(guard);
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "finished within the guard time"
    );
    reader.destroy();
    timer.destroy();
    let result = *state.borrow();
    result
}
