//! Push-streamed answers with backpressure (`write_chunk` refuses past the answer's budget,
//! `drained` asks for more, `bytes_to_write` tells the level) and pulled bodies whose reader
//! is not ready yet (`WouldBlock`, then `ReaderWaker::wake` from another thread), over
//! HTTP/1.1 (raw sockets) and HTTP/2 (the project's client, cleartext prior knowledge),
//! with the bad cases: a client that goes away mid-stream, a reader that fails.

use std::cell::{Cell, RefCell};
use std::io::{self, BufReader, Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use slotnet_core::{AsObject, EventLoop, Timer};
use slotnet_http::server::{
    HttpServer, HttpServerConfiguration, HttpServerRequest, HttpServerResponder,
    HttpServerResponse, WriteChunkError,
};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::server::{read_response, TestServer};

/// The answers' budget in these tests.
const BUDGET: usize = 256 * 1024;
/// The body repeats `i % PERIOD`; blocks are whole periods, so any block boundary keeps it.
const PERIOD: usize = 251;
const BLOCK: usize = PERIOD * 256;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % PERIOD) as u8).collect()
}

fn is_pattern(body: &[u8]) -> bool {
    let period = pattern(PERIOD);
    body.chunks(PERIOD).all(|c| c == &period[..c.len()])
}

fn config() -> HttpServerConfiguration {
    HttpServerConfiguration {
        max_buffered_output: BUDGET,
        h2c: true,
        ..HttpServerConfiguration::default()
    }
}

/// What the producer on the server saw.
#[derive(Default)]
struct Stats {
    /// `write_chunk` said `Full`.
    refused: AtomicUsize,
    /// The highest `bytes_to_write()` after a piece was accepted or refused.
    max_level: AtomicUsize,
    /// `write_budget()` while streaming.
    budget: AtomicUsize,
    drained: AtomicUsize,
    /// `write_chunk` said `Closed`.
    closed: AtomicBool,
    /// The producer (owned by its `drained` slot) was dropped.
    released: AtomicBool,
    sent: AtomicU64,
    /// A refused piece came back whole.
    handed_back: AtomicBool,
}

/// Sets `released` when the producer is dropped.
struct ReleaseGuard(Arc<Stats>);

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        self.0.released.store(true, Ordering::SeqCst);
    }
}

/// Pushes `total` pattern bytes in blocks, as fast as the answer accepts them.
struct Producer {
    resp: RefCell<Option<HttpServerResponder>>,
    sent: Cell<u64>,
    total: u64,
    block: Bytes,
    stats: Arc<Stats>,
    _guard: ReleaseGuard,
}

impl Producer {
    /// Writes while `write_chunk` accepts; `drained` calls it again.
    fn produce(&self) {
        let mut slot = self.resp.borrow_mut();
        let Some(resp) = slot.as_mut() else {
            return;
        };
        while self.sent.get() < self.total {
            let n = (self.total - self.sent.get()).min(BLOCK as u64) as usize;
            let result = resp.write_chunk(self.block.slice(..n));
            let level = resp.bytes_to_write();
            self.stats.max_level.fetch_max(level, Ordering::SeqCst);
            self.stats
                .budget
                .store(resp.write_budget(), Ordering::SeqCst);
            match result {
                Ok(()) => {
                    self.sent.set(self.sent.get() + n as u64);
                    self.stats.sent.store(self.sent.get(), Ordering::SeqCst);
                }
                Err(WriteChunkError::Full(piece)) => {
                    if piece.len() == n {
                        self.stats.handed_back.store(true, Ordering::SeqCst);
                    }
                    self.stats.refused.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Err(_) => {
                    self.stats.closed.store(true, Ordering::SeqCst);
                    slot.take();
                    return;
                }
            }
        }
        if let Some(resp) = slot.take() {
            resp.write_end();
        }
    }
}

/// `/push/<n>`: n pattern bytes pushed in blocks, chunked over HTTP/1.1.
fn push_route(server: &HttpServer, stats: Arc<Stats>) {
    server
        .route(
            "/push/<arg>",
            Method::GET,
            move |total: u64, _: &HttpServerRequest, mut resp: HttpServerResponder| {
                assert_eq!(resp.bytes_to_write(), 0);
                assert_eq!(
                    resp.write_chunk("early"),
                    Err(WriteChunkError::NotStreaming)
                );
                assert!(resp.write_begin(StatusCode::OK, HeaderMap::new(), None));
                let drained = resp.drained();
                let producer = Rc::new(Producer {
                    resp: RefCell::new(Some(resp)),
                    sent: Cell::new(0),
                    total,
                    block: Bytes::from(pattern(BLOCK)),
                    stats: stats.clone(),
                    _guard: ReleaseGuard(stats.clone()),
                });
                let p = producer.clone();
                drained.connect(move |_| {
                    p.stats.drained.fetch_add(1, Ordering::SeqCst);
                    p.produce();
                });
                producer.produce();
            },
        )
        .expect("valid route");
}

fn start_push() -> (TestServer, Arc<Stats>) {
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    let server = TestServer::start(config(), move |server| push_route(server, s));
    (server, stats)
}

/// Waits (hang guard only) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs this thread's loop until `done` holds (hang guard only).
fn run_until(what: &str, done: impl Fn() -> bool + 'static) {
    let check = Timer::new();
    check.timeout().connect(move |_| {
        if done() {
            EventLoop::current().quit();
        }
    });
    check.start_interval(Duration::from_millis(2));
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(30));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "timed out waiting until {what}"
    );
    check.destroy();
    guard.destroy();
}

fn h2_request(server: &TestServer, path: &str) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&format!("http://127.0.0.1:{}{path}", server.port));
    req.set_attribute(Attribute::Http2Direct, true);
    req
}

fn assert_h2_ok(reply: NetworkReply) {
    assert_no_error(reply);
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
}

/// Checks what the producer saw once the whole body went through a reader that started
/// reading only after the first refusal.
fn assert_paced(stats: &Stats, total: u64) {
    assert!(stats.refused.load(Ordering::SeqCst) >= 1);
    assert!(
        stats.handed_back.load(Ordering::SeqCst),
        "Full hands the piece back"
    );
    assert!(
        stats.drained.load(Ordering::SeqCst) >= 1,
        "drained resumed the producer"
    );
    assert_eq!(stats.budget.load(Ordering::SeqCst), BUDGET);
    // Accepted below the budget, so at most one block (and its chunk framing) beyond it.
    let max = stats.max_level.load(Ordering::SeqCst);
    assert!(
        (BUDGET..BUDGET + BLOCK + 64).contains(&max),
        "queue level {max} for a budget of {BUDGET}"
    );
    assert_eq!(stats.sent.load(Ordering::SeqCst), total);
    assert!(!stats.closed.load(Ordering::SeqCst));
    // The answer is complete: the `drained` slot (which owned the producer) is gone.
    wait_until("the producer is released", || {
        stats.released.load(Ordering::SeqCst)
    });
}

#[test]
fn h1_write_chunk_refuses_past_the_budget_and_drained_resumes_the_producer() {
    // More than the kernel's socket buffers take, so the answer's own queue fills.
    const TOTAL: u64 = (BLOCK * 512) as u64;
    let (server, stats) = start_push();
    let mut s = server.connect();
    s.write_all(format!("GET /push/{TOTAL} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    wait_until("the answer refuses a piece", || {
        stats.refused.load(Ordering::SeqCst) > 0
    });
    assert!(stats.sent.load(Ordering::SeqCst) < TOTAL);
    let resp = read_response(&mut BufReader::new(s), false);
    assert_eq!(resp.status, 200);
    assert!(resp.chunked);
    assert_eq!(resp.body.len() as u64, TOTAL);
    assert!(
        is_pattern(&resp.body),
        "the body arrives in order, unchanged"
    );
    assert_paced(&stats, TOTAL);
}

#[test]
fn h2_write_chunk_refuses_past_the_budget_and_drained_resumes_the_producer() {
    const TOTAL: u64 = (BLOCK * 128) as u64;
    let (server, stats) = start_push();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, &format!("/push/{TOTAL}")));
    reply.set_read_buffer_size(64 * 1024);
    // Nothing is read until the server's outbox is full: the client's window closes.
    let st = stats.clone();
    run_until("the answer refuses a piece", move || {
        st.refused.load(Ordering::SeqCst) > 0
    });
    assert!(stats.sent.load(Ordering::SeqCst) < TOTAL);
    let body = Rc::new(RefCell::new(Vec::new()));
    let b = body.clone();
    reply
        .ready_read()
        .connect(move |_| b.borrow_mut().extend(reply.read_all()));
    body.borrow_mut().extend(reply.read_all());
    run_until("the reply finishes", move || reply.is_finished());
    body.borrow_mut().extend(reply.read_all());
    assert_h2_ok(reply);
    assert_eq!(body.borrow().len() as u64, TOTAL);
    assert!(
        is_pattern(&body.borrow()),
        "the body arrives in order, unchanged"
    );
    assert_paced(&stats, TOTAL);
}

#[test]
fn h1_client_gone_mid_stream_tells_the_waiting_producer_and_releases_it() {
    let (server, stats) = start_push();
    let mut s = server.connect();
    s.write_all(b"GET /push/1000000000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 4096];
    assert!(s.read(&mut first).unwrap() > 0);
    wait_until("the producer waits for drained", || {
        stats.refused.load(Ordering::SeqCst) > 0
    });
    drop(s);
    // `drained` once more, `write_chunk` says Closed, and the slot owning the producer (and
    // the responder) is dropped.
    wait_until("the producer learns the client is gone", || {
        stats.closed.load(Ordering::SeqCst)
    });
    wait_until("the producer is released", || {
        stats.released.load(Ordering::SeqCst)
    });
    server.assert_serves_fresh_client();
}

#[test]
fn h2_client_reset_mid_stream_tells_the_waiting_producer_and_releases_it() {
    let (server, stats) = start_push();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, "/push/1000000000000"));
    reply.set_read_buffer_size(64 * 1024);
    let st = stats.clone();
    run_until("the producer waits for drained", move || {
        st.refused.load(Ordering::SeqCst) > 0
    });
    reply.abort(); // RST_STREAM(CANCEL)
    let st = stats.clone();
    run_until("the producer learns the client is gone", move || {
        st.closed.load(Ordering::SeqCst) && st.released.load(Ordering::SeqCst)
    });
    // The connection still serves.
    let again = m.get(h2_request(&server, "/"));
    run_until("the next request", move || again.is_finished());
    assert_h2_ok(again);
    assert_eq!(again.read_all(), b"hello");
}

#[test]
fn h2_connection_gone_mid_stream_tells_the_waiting_producer_and_releases_it() {
    let (server, stats) = start_push();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, "/push/1000000000000"));
    reply.set_read_buffer_size(64 * 1024);
    let st = stats.clone();
    run_until("the producer waits for drained", move || {
        st.refused.load(Ordering::SeqCst) > 0
    });
    // Destroying the manager closes its connection: no RST_STREAM, the socket just ends.
    m.as_object().destroy();
    let st = stats.clone();
    run_until("the producer learns the client is gone", move || {
        st.closed.load(Ordering::SeqCst) && st.released.load(Ordering::SeqCst)
    });
}

// ----- pulled bodies whose reader is not ready --------------------------------------------

/// Reads what a producer thread sends; `WouldBlock` while nothing is there. An empty piece
/// stands for a read error.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    piece: Vec<u8>,
    would_block: Arc<AtomicUsize>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.piece.is_empty() {
            self.piece = match self.rx.try_recv() {
                Ok(piece) if piece.is_empty() => {
                    return Err(io::Error::other("the source failed"));
                }
                Ok(piece) => piece,
                Err(TryRecvError::Empty) => {
                    self.would_block.fetch_add(1, Ordering::SeqCst);
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Err(TryRecvError::Disconnected) => return Ok(0),
            };
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece.drain(..n);
        Ok(n)
    }
}

/// What the thread feeding a reader saw.
#[derive(Default)]
struct Feed {
    would_block: Arc<AtomicUsize>,
    /// Pieces the reader took (its channel accepted them).
    sent: AtomicUsize,
    /// A send failed: the server dropped the reader.
    reader_dropped: AtomicBool,
}

/// `/later/<n>`: n pieces of one block each, made by a thread every few milliseconds, then
/// the end. `/fail/<n>`: the same, then a read error. `/forever`: pieces until the reader is
/// dropped.
fn later_routes(server: &HttpServer, feed: Arc<Feed>) {
    for (path, fail) in [("/later/<arg>", false), ("/fail/<arg>", true)] {
        let feed = feed.clone();
        server
            .route(
                path,
                Method::GET,
                move |n: usize, _: &HttpServerRequest, resp: HttpServerResponder| {
                    resp.send_response(fed_response(feed.clone(), Some(n), fail));
                },
            )
            .expect("valid route");
    }
    server
        .route(
            "/forever",
            Method::GET,
            move |_: &HttpServerRequest, resp: HttpServerResponder| {
                resp.send_response(fed_response(feed.clone(), None, false));
            },
        )
        .expect("valid route");
}

/// A reader body fed by a thread (`pieces` blocks, or until the reader is dropped).
fn fed_response(feed: Arc<Feed>, pieces: Option<usize>, fail: bool) -> HttpServerResponse {
    let (tx, rx) = channel();
    let reader = ChannelReader {
        rx,
        piece: Vec::new(),
        would_block: feed.would_block.clone(),
    };
    let response =
        HttpServerResponse::from_reader(StatusCode::OK, "application/octet-stream", reader, None);
    let waker = response.reader_waker().expect("a reader body has a waker");
    std::thread::spawn(move || {
        let block = pattern(BLOCK);
        let mut i = 0;
        while pieces.is_none_or(|n| i < n) {
            // Slower than the server reads: the reader is often not ready.
            std::thread::sleep(Duration::from_millis(3));
            if tx.send(block.clone()).is_err() {
                feed.reader_dropped.store(true, Ordering::SeqCst);
                return;
            }
            feed.sent.fetch_add(1, Ordering::SeqCst);
            waker.wake();
            i += 1;
        }
        if fail {
            let _ = tx.send(Vec::new());
        }
        drop(tx);
        waker.wake();
    });
    response
}

fn start_later() -> (TestServer, Arc<Feed>) {
    let feed = Arc::new(Feed::default());
    let f = feed.clone();
    let server = TestServer::start(config(), move |server| later_routes(server, f));
    (server, feed)
}

#[test]
fn h1_reader_not_ready_waits_for_its_waker_instead_of_closing() {
    let (server, feed) = start_later();
    let mut s = server.connect();
    s.write_all(b"GET /later/40 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 40 * BLOCK);
    assert!(is_pattern(&resp.body));
    assert!(
        feed.would_block.load(Ordering::SeqCst) > 0,
        "the reader was not ready at times"
    );
    // The connection stayed usable: the pipelined request is answered after it.
    let next = read_response(&mut r, false);
    assert_eq!(next.body, b"hello");
}

#[test]
fn h2_reader_not_ready_waits_for_its_waker_instead_of_resetting() {
    let (server, feed) = start_later();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, "/later/40"));
    run_until("the reply finishes", move || reply.is_finished());
    assert_h2_ok(reply);
    let body = reply.read_all();
    assert_eq!(body.len(), 40 * BLOCK);
    assert!(is_pattern(&body));
    assert!(
        feed.would_block.load(Ordering::SeqCst) > 0,
        "the reader was not ready at times"
    );
}

#[test]
fn h1_reader_error_after_waiting_cuts_the_body_short() {
    let (server, _) = start_later();
    let mut s = server.connect();
    s.write_all(b"GET /fail/5 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    // The server closes after what it sent: no last chunk.
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("transfer-encoding: chunked\r\n"));
    assert!(
        raw.len() > 5 * BLOCK,
        "the pieces before the error were sent"
    );
    assert!(
        !raw.ends_with(b"0\r\n\r\n"),
        "no last chunk: the client sees it incomplete"
    );
}

#[test]
fn h2_reader_error_after_waiting_resets_the_stream() {
    let (server, _) = start_later();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, "/fail/5"));
    run_until("the reply finishes", move || reply.is_finished());
    assert_eq!(reply.status_code(), Some(200));
    assert_ne!(
        reply.error(),
        NetworkError::NoError,
        "the body is incomplete"
    );
}

#[test]
fn h1_client_gone_while_the_reader_waits_drops_the_reader() {
    let (server, feed) = start_later();
    let mut s = server.connect();
    s.write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 4096];
    assert!(s.read(&mut first).unwrap() > 0);
    drop(s);
    // The producer learns it from its channel: the server dropped the reader.
    wait_until("the reader is dropped", || {
        feed.reader_dropped.load(Ordering::SeqCst)
    });
    server.assert_serves_fresh_client();
}

#[test]
fn h2_client_reset_while_the_reader_waits_drops_the_reader() {
    let (server, feed) = start_later();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server, "/forever"));
    let f = feed.clone();
    run_until("some of the body arrived", move || {
        f.sent.load(Ordering::SeqCst) > 3 && reply.bytes_available() > 0
    });
    reply.abort();
    let f = feed.clone();
    run_until("the reader is dropped", move || {
        f.reader_dropped.load(Ordering::SeqCst)
    });
}
