//! The server over HTTP/2 (cleartext prior knowledge), driven by the project's own client
//! (`NetworkAccessManager` with `Http2Direct`) and by raw frames for the preface and
//! rapid-reset cases.

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use http::{Method, StatusCode};
use slotnet_core::{EventLoop, Timer};
use slotnet_http::h2::Http2Configuration;
use slotnet_http::server::{
    HttpServerConfiguration, HttpServerRequest, HttpServerResponder, HttpServerResponse, Methods,
};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_testkit::h2::wire::{
    frame, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PING, PREFACE, RST_STREAM, SETTINGS,
};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;
use slotnet_testkit::server::{TestServer, READ_TIMEOUT};

fn h2c() -> HttpServerConfiguration {
    HttpServerConfiguration {
        h2c: true,
        ..HttpServerConfiguration::default()
    }
}

fn request(server: &TestServer, path: &str) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&format!("http://127.0.0.1:{}{path}", server.port));
    req.set_attribute(Attribute::Http2Direct, true);
    req
}

fn used_h2(reply: NetworkReply) -> bool {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
        == Some(true)
}

fn assert_ok(reply: NetworkReply) {
    assert_no_error(reply);
    assert!(used_h2(reply), "the reply did not use HTTP/2");
}

/// Byte `i` of the generated bodies.
fn pattern(i: u64) -> u8 {
    (i % 251) as u8
}

/// A reader of `len` pattern bytes that counts what the server pulled from it.
struct CountingReader {
    pos: u64,
    len: u64,
    pulled: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.len - self.pos) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = pattern(self.pos + i as u64);
        }
        self.pos += n as u64;
        self.pulled.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

/// Routes on top of the standard ones: `/pull/<n>` (a counted reader body), `/version`
/// (the request's version and URL), `/hold` (never answered until reset; counted).
fn extra_routes(
    pulled: Arc<AtomicU64>,
    held: Arc<AtomicUsize>,
) -> impl FnOnce(&slotnet_http::server::HttpServer) + Send {
    move |server| {
        server
            .route(
                "/pull/<arg>",
                Method::GET,
                move |n: u64, _: &HttpServerRequest, resp: HttpServerResponder| {
                    let reader = CountingReader {
                        pos: 0,
                        len: n,
                        pulled: pulled.clone(),
                    };
                    resp.send_response(HttpServerResponse::from_reader(
                        StatusCode::OK,
                        "application/octet-stream",
                        reader,
                        None,
                    ));
                },
            )
            .expect("valid route");
        server
            .route(
                "/version",
                Methods::ANY,
                |req: &HttpServerRequest, resp: HttpServerResponder| {
                    let text = format!("{:?} {} {}", req.version(), req.method(), req.url());
                    resp.write_data(StatusCode::OK, "text/plain", text);
                },
            )
            .expect("valid route");
        let kept: Rc<std::cell::RefCell<Vec<HttpServerResponder>>> = Rc::default();
        server
            .route(
                "/hold",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    held.fetch_add(1, Ordering::SeqCst);
                    kept.borrow_mut().push(resp);
                },
            )
            .expect("valid route");
    }
}

fn start(config: HttpServerConfiguration) -> (TestServer, Arc<AtomicU64>, Arc<AtomicUsize>) {
    start_with(config, Http2Configuration::default())
}

fn start_with(
    config: HttpServerConfiguration,
    h2: Http2Configuration,
) -> (TestServer, Arc<AtomicU64>, Arc<AtomicUsize>) {
    let pulled = Arc::new(AtomicU64::new(0));
    let held = Arc::new(AtomicUsize::new(0));
    let routes = extra_routes(pulled.clone(), held.clone());
    let server = TestServer::start(config, move |server| {
        server.set_http2_configuration(h2);
        routes(server);
    });
    (server, pulled, held)
}

// ----- through the client -----------------------------------------------------------------

#[test]
fn get_over_h2c_prior_knowledge() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let hello = m.get(request(&server, "/"));
    let version = m.get(request(&server, "/version?x=1"));
    run_all(&[hello, version]);
    assert_ok(hello);
    assert_eq!(hello.status_code(), Some(200));
    assert_eq!(hello.read_all(), b"hello");
    assert_eq!(
        hello.raw_header("content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(hello.raw_header("content-length").as_deref(), Some("5"));
    assert!(hello.raw_header("date").is_some());
    assert_ok(version);
    // `:authority` stands in for `Host`, so the request URL is the one the client used.
    let expected = format!("HTTP/2.0 GET http://127.0.0.1:{}/version?x=1", server.port);
    assert_eq!(String::from_utf8(version.read_all()).unwrap(), expected);
    assert_eq!(m.connections_opened(), 1);
    // HTTP/1.1 clients are still served on the same listener.
    server.assert_serves_fresh_client();
}

#[test]
fn post_echoes_a_3_mb_body() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let data: Vec<u8> = (0..3_000_000u64).map(pattern).collect();
    let mut req = request(&server, "/echo");
    req.set_raw_header("content-type", "application/x-test");
    let reply = m.post(req, data.clone());
    run_all(&[reply]);
    assert_ok(reply);
    assert_eq!(
        reply.raw_header("content-type").as_deref(),
        Some("application/x-test")
    );
    assert!(reply.read_all() == data, "echoed body differs");
}

#[test]
fn a_hundred_concurrent_streams_on_one_connection() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let replies: Vec<NetworkReply> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                m.get(request(&server, &format!("/delay/{}", 20 + i % 7)))
            } else {
                m.get(request(&server, &format!("/bytes/{}", 1000 * i)))
            }
        })
        .collect();
    run_all(&replies);
    for (i, reply) in replies.iter().enumerate() {
        assert_ok(*reply);
        let body = reply.read_all();
        if i % 2 == 0 {
            assert_eq!(body, format!("delayed {}", 20 + i % 7).as_bytes());
        } else {
            assert_eq!(body.len(), 1000 * i);
            assert!(body.iter().enumerate().all(|(j, b)| *b == (j % 256) as u8));
        }
    }
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn streamed_answers_become_data_frames() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, "/stream/5"));
    run_all(&[reply]);
    assert_ok(reply);
    assert_eq!(reply.raw_header("content-length"), None);
    assert_eq!(reply.raw_header("transfer-encoding"), None);
    let expected: String = (0..5).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8(reply.read_all()).unwrap(), expected);
}

#[test]
fn a_slow_reader_makes_the_server_pull_only_as_the_window_opens() {
    const TOTAL: u64 = 8 * 1024 * 1024;
    const READ_BUFFER: usize = 64 * 1024;
    /// What the server reads ahead of the window at most (one piece).
    const PIECE: u64 = 64 * 1024;
    let (server, pulled, _) = start(h2c());
    let window = Http2Configuration::default().stream_receive_window_size() as u64;
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, &format!("/pull/{TOTAL}")));
    reply.set_read_buffer_size(READ_BUFFER);
    let read = Rc::new(Cell::new(0u64));
    let mismatch = Rc::new(Cell::new(None));
    let worst_lead = Rc::new(Cell::new(0u64));
    // 16 KiB per millisecond: far slower than loopback.
    let ticker = Timer::new();
    ticker.set_interval(Duration::from_millis(1));
    let (r, mm, lead, p) = (
        read.clone(),
        mismatch.clone(),
        worst_lead.clone(),
        pulled.clone(),
    );
    ticker.timeout().connect(move |_| {
        let mut buf = vec![0u8; 16 * 1024];
        let n = reply.read(&mut buf);
        for (i, b) in buf[..n].iter().enumerate() {
            let offset = r.get() + i as u64;
            if *b != pattern(offset) && mm.get().is_none() {
                mm.set(Some(offset));
            }
        }
        r.set(r.get() + n as u64);
        lead.set(
            lead.get()
                .max(p.load(Ordering::SeqCst).saturating_sub(r.get())),
        );
        if r.get() == TOTAL && reply.is_finished() {
            EventLoop::current().quit();
        }
    });
    ticker.start();
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(30));
    assert_eq!(EventLoop::current().exec(), 0, "download did not finish");
    ticker.destroy();
    guard.destroy();
    assert_ok(reply);
    assert_eq!(read.get(), TOTAL);
    assert_eq!(mismatch.get(), None, "first wrong byte");
    // The server's reader ran at most one window (plus the client's buffer and one piece)
    // ahead of the application: not the 8 MiB it could have read at once.
    let bound = window + READ_BUFFER as u64 + PIECE;
    assert!(
        worst_lead.get() <= bound,
        "the server pulled {} bytes ahead of the reader (bound {bound})",
        worst_lead.get()
    );
    assert!(worst_lead.get() > 0);
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let head = m.head(request(&server, "/bytes/1234"));
    let pulled_head = m.head(request(&server, "/pull/100000"));
    run_all(&[head, pulled_head]);
    assert_ok(head);
    assert_eq!(head.status_code(), Some(200));
    assert_eq!(head.raw_header("content-length").as_deref(), Some("1234"));
    assert!(head.read_all().is_empty());
    assert_ok(pulled_head);
    assert!(pulled_head.read_all().is_empty());
}

#[test]
fn unrouted_paths_get_the_missing_handlers_404() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, "/no/such/route"));
    run_all(&[reply]);
    assert!(used_h2(reply));
    assert_eq!(reply.status_code(), Some(404));
    assert_eq!(reply.error(), NetworkError::ContentNotFoundError);
}

#[test]
fn bodies_over_the_limit_get_413() {
    let config = HttpServerConfiguration {
        max_body_size: 10_000,
        ..h2c()
    };
    let (server, _, _) = start(config);
    let m = NetworkAccessManager::new();
    // Announced with Content-Length: refused before any of it is read.
    let declared = m.post(request(&server, "/echo"), vec![7u8; 50_000]);
    run_all(&[declared]);
    assert!(used_h2(declared));
    assert_eq!(declared.status_code(), Some(413));
    // Within the limit, on the same connection.
    let small = m.post(request(&server, "/echo"), vec![7u8; 10_000]);
    run_all(&[small]);
    assert_ok(small);
    assert_eq!(small.read_all().len(), 10_000);
}

#[test]
fn shutdown_sends_goaway_and_finishes_streams_in_flight() {
    let (tx, rx) = mpsc::channel::<&'static str>();
    let server = TestServer::start(h2c(), move |server| {
        let t = tx.clone();
        server
            .shutdown_finished()
            .connect(move |_| t.send("finished").unwrap());
        let srv = server.as_abstract();
        server
            .route(
                "/last",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    // Shut down while this stream is in flight; it is still answered.
                    srv.shutdown();
                    tx.send("shutdown").unwrap();
                    Timer::single_shot(Duration::from_millis(100), move || {
                        resp.write_data(StatusCode::OK, "text/plain", "last answer");
                    });
                },
            )
            .expect("valid route");
    });
    let m = NetworkAccessManager::new();
    let first = m.get(request(&server, "/"));
    run_all(&[first]);
    assert_ok(first);
    let last = m.get(request(&server, "/last"));
    run_all(&[last]);
    assert_ok(last);
    assert_eq!(last.read_all(), b"last answer");
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), "shutdown");
    // The connection closes once its last stream is done (the client holds it open).
    assert_eq!(rx.recv_timeout(READ_TIMEOUT).unwrap(), "finished");
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn oversized_heads_get_414_and_431() {
    let config = HttpServerConfiguration {
        max_url_size: 100,
        max_header_count: 20,
        ..h2c()
    };
    let (server, _, _) = start(config);
    let m = NetworkAccessManager::new();
    let long = m.get(request(&server, &format!("/{}", "a".repeat(200))));
    let mut many = request(&server, "/");
    for i in 0..30 {
        many.set_raw_header(&format!("x-field-{i}"), "v");
    }
    let many = m.get(many);
    let fine = m.get(request(&server, "/"));
    run_all(&[long, many, fine]);
    assert_eq!(long.status_code(), Some(414));
    assert_eq!(many.status_code(), Some(431));
    assert_ok(fine);
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn a_dropped_responder_answers_500() {
    let (server, _, _) = start(h2c());
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, "/drop"));
    run_all(&[reply]);
    assert!(used_h2(reply));
    assert_eq!(reply.status_code(), Some(500));
}

// ----- raw frames -------------------------------------------------------------------------

const CANCEL: u32 = 0x8;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// A HEADERS frame for `GET path` (HPACK: static-table entries and literals, no Huffman).
fn get(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    block.push(0x04); // :path, literal without indexing
    block.push(path.len() as u8);
    block.extend_from_slice(path.as_bytes());
    block.push(0x01); // :authority, literal without indexing
    block.push(9);
    block.extend_from_slice(b"localhost");
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &block)
}

fn rst(stream: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes())
}

struct Frame {
    kind: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// Reads one frame; `None` at the end of the connection (EOF or reset).
fn read_frame(s: &mut TcpStream) -> Option<Frame> {
    let mut head = [0u8; 9];
    match s.read_exact(&mut head) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None
        }
        Err(e) => panic!("reading a frame: {e}"),
    }
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).ok()?;
    Some(Frame {
        kind: head[3],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// Reads until the server closes; returns the GOAWAY error codes seen.
fn goaways_until_closed(s: &mut TcpStream) -> Vec<u32> {
    let mut codes = Vec::new();
    while let Some(f) = read_frame(s) {
        if f.kind == GOAWAY && f.payload.len() >= 8 {
            codes.push(u32::from_be_bytes([
                f.payload[4],
                f.payload[5],
                f.payload[6],
                f.payload[7],
            ]));
        }
    }
    codes
}

fn connect(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[test]
fn a_preface_split_across_reads_is_recognised() {
    let (server, _, _) = start(h2c());
    let mut s = connect(&server);
    // Three separate writes (with TCP_NODELAY and a pause, separate segments): the server
    // must wait for the whole preface before deciding.
    for piece in [&PREFACE[..1], &PREFACE[1..10], &PREFACE[10..]] {
        s.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    s.write_all(&frame(SETTINGS, 0, 0, &[])).unwrap();
    s.write_all(&get(1, "/")).unwrap();
    let mut status = None;
    let mut body = Vec::new();
    while let Some(f) = read_frame(&mut s) {
        match f.kind {
            // HPACK static index 8: `:status 200`.
            HEADERS if f.stream == 1 => status = f.payload.first().copied(),
            DATA if f.stream == 1 => {
                body.extend_from_slice(&f.payload);
                if body.len() == 5 {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(status, Some(0x88));
    assert_eq!(body, b"hello");
}

#[test]
fn a_body_growing_past_the_limit_gets_413_and_the_stream_is_closed() {
    let config = HttpServerConfiguration {
        max_body_size: 20_000,
        ..h2c()
    };
    let (server, _, _) = start(config);
    let mut s = connect(&server);
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    // POST /echo without a length, then DATA past the limit.
    let mut block = vec![0x83, 0x86, 0x04, 5];
    block.extend_from_slice(b"/echo");
    block.extend([0x01, 9]);
    block.extend_from_slice(b"localhost");
    out.extend(frame(HEADERS, END_HEADERS, 1, &block));
    for _ in 0..3 {
        out.extend(frame(DATA, 0, 1, &[b'x'; 10_000]));
    }
    s.write_all(&out).unwrap();
    let mut status = None;
    let mut reset = None;
    while let Some(f) = read_frame(&mut s) {
        match f.kind {
            HEADERS if f.stream == 1 => status = Some(f.payload),
            RST_STREAM if f.stream == 1 => {
                reset = Some(u32::from_be_bytes(f.payload[..4].try_into().unwrap()));
                break;
            }
            _ => {}
        }
    }
    // `:status 413` is not in the static table: h2 sends it as a literal (0x48: indexed
    // name `:status`) with the digits Huffman-coded (0x83: 3 bytes, `413`).
    let status = status.expect("a response head");
    assert!(
        status.starts_with(&[0x48, 0x83, 0x68, 0x2c, 0xff]),
        "{status:x?}"
    );
    // The rest of the body is refused with RST_STREAM(NO_ERROR) (RFC 9113, 8.1).
    assert_eq!(reset, Some(0));
}

#[test]
fn idle_connections_get_a_goaway() {
    let config = HttpServerConfiguration {
        keep_alive_timeout: Duration::from_millis(200),
        ..h2c()
    };
    let (server, _, _) = start(config);
    let mut s = connect(&server);
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    out.extend(get(1, "/"));
    s.write_all(&out).unwrap();
    // Frames are read (and SETTINGS left unacknowledged) until the server closes.
    let codes = goaways_until_closed(&mut s);
    assert_eq!(
        codes.first(),
        Some(&0),
        "GOAWAY(NO_ERROR) expected, got {codes:?}"
    );
}

#[test]
fn without_h2c_a_preface_is_an_unsupported_version() {
    let (server, _, _) = start(HttpServerConfiguration::default());
    let mut s = connect(&server);
    s.write_all(PREFACE).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 505 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn a_rapid_reset_flood_is_cut_off_and_others_are_still_served() {
    let (server, _, _) = start(h2c());
    let mut s = connect(&server);
    let mut attack = PREFACE.to_vec();
    attack.extend(frame(SETTINGS, 0, 0, &[]));
    for i in 0..2000u32 {
        let stream = 2 * i + 1;
        attack.extend(get(stream, "/"));
        attack.extend(rst(stream));
    }
    // The server may close before reading it all.
    let _ = s.write_all(&attack);
    let codes = goaways_until_closed(&mut s);
    assert!(
        codes.contains(&ENHANCE_YOUR_CALM),
        "expected GOAWAY(ENHANCE_YOUR_CALM), got {codes:?}"
    );
    // A well-behaved client is served.
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, "/"));
    run_all(&[reply]);
    assert_ok(reply);
    assert_eq!(reply.read_all(), b"hello");
}

#[test]
fn resetting_streams_the_server_is_still_answering_is_cut_off() {
    // Streams reset after the handler took them (answers pending) no longer count towards
    // the client's stream limit; a client piling them up is disconnected.
    let mut h2 = Http2Configuration::default();
    h2.set_max_concurrent_streams(10);
    let (server, _, held) = start_with(h2c(), h2);
    let mut s = connect(&server);
    let mut opening = PREFACE.to_vec();
    opening.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&opening).unwrap();
    let mut codes = Vec::new();
    let batch = |round: u32| -> Vec<u32> { (0..10).map(|i| 20 * round + 2 * i + 1).collect() };
    for round in 0..2u32 {
        let streams = batch(round);
        let gets: Vec<u8> = streams.iter().flat_map(|&id| get(id, "/hold")).collect();
        s.write_all(&gets).unwrap();
        // Wait until the handler holds them all.
        let want = 10 * (round as usize + 1);
        for _ in 0..1000 {
            if held.load(Ordering::SeqCst) >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(held.load(Ordering::SeqCst), want);
        let resets: Vec<u8> = streams.iter().flat_map(|&id| rst(id)).collect();
        s.write_all(&resets).unwrap();
    }
    // Twenty answers pending, none of them counted by h2 any more: the next stream is one
    // too many.
    let gets: Vec<u8> = batch(2).iter().flat_map(|&id| get(id, "/hold")).collect();
    let _ = s.write_all(&gets);
    codes.extend(goaways_until_closed(&mut s));
    assert!(
        codes.contains(&ENHANCE_YOUR_CALM),
        "expected GOAWAY(ENHANCE_YOUR_CALM), got {codes:?}"
    );
    // Cut off past twice the stream limit, not before.
    assert_eq!(held.load(Ordering::SeqCst), 20);
    let m = NetworkAccessManager::new();
    let reply = m.get(request(&server, "/"));
    run_all(&[reply]);
    assert_ok(reply);
}

/// Opens streams in batches of ten on `s`, waits until `held` says the server's handler took
/// them all, then resets them; `rounds` batches. Returns the GOAWAY codes seen once the
/// server closed (or the reads stopped).
fn hold_then_reset(s: &mut TcpStream, held: &AtomicUsize, rounds: u32) -> Vec<u32> {
    let mut opening = PREFACE.to_vec();
    opening.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&opening).unwrap();
    for round in 0..rounds {
        let streams: Vec<u32> = (0..10).map(|i| 20 * round + 2 * i + 1).collect();
        let gets: Vec<u8> = streams.iter().flat_map(|&id| get(id, "/hold")).collect();
        if s.write_all(&gets).is_err() {
            break;
        }
        let want = 10 * (round as usize + 1);
        for _ in 0..2000 {
            if held.load(Ordering::SeqCst) >= want {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if held.load(Ordering::SeqCst) < want {
            // Cut off: the server stopped taking streams.
            break;
        }
        let mut resets: Vec<u8> = streams.iter().flat_map(|&id| rst(id)).collect();
        // A PING after them: its ACK says the server read the resets and carries on; a
        // GOAWAY instead says it cut the connection off (read before sending more, so the
        // close finds no unread bytes and the GOAWAY is not lost to a TCP reset).
        resets.extend(frame(PING, 0, 0, &[7; 8]));
        if s.write_all(&resets).is_err() {
            break;
        }
        loop {
            match read_frame(s) {
                None => return Vec::new(),
                Some(f) if f.kind == PING => break,
                Some(f) if f.kind == GOAWAY => {
                    let mut codes = vec![u32::from_be_bytes([
                        f.payload[4],
                        f.payload[5],
                        f.payload[6],
                        f.payload[7],
                    ])];
                    codes.extend(goaways_until_closed(s));
                    return codes;
                }
                Some(_) => {}
            }
        }
    }
    goaways_until_closed(s)
}

#[test]
fn resets_past_the_configured_limit_get_enhance_your_calm() {
    // Resets of streams the handler holds, ten at a time: within the stream limit and the
    // pending-accept limit, so only the reset count can trip.
    let config = HttpServerConfiguration {
        http2_max_reset_streams: 30,
        ..h2c()
    };
    let (server, _, held) = start(config);
    let mut s = connect(&server);
    let codes = hold_then_reset(&mut s, &held, 6);
    assert!(
        codes.contains(&ENHANCE_YOUR_CALM),
        "expected GOAWAY(ENHANCE_YOUR_CALM), got {codes:?}"
    );
    // The fourth batch's resets (31 to 40) went over: no fifth batch was sent.
    assert_eq!(held.load(Ordering::SeqCst), 40);
    server.assert_serves_fresh_client();
}

#[test]
fn serve_connection_has_the_same_rapid_reset_guard() {
    // The low-level entry (h2::server::serve_connection) used to build h2 without the
    // server's reset guard: 200 resets of held streams went unnoticed. It now trips at the
    // server's default limit (200 per 10 s) like every HTTP/2 server connection.
    use slotnet_http::h2::server::serve_connection;
    let held = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let counter = held.clone();
    let thread = std::thread::spawn(move || {
        let lp = EventLoop::current();
        let tcp = slotnet_net::TcpServer::new();
        assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0));
        let kept = Rc::new(std::cell::RefCell::new(Vec::new()));
        tcp.new_connection().connect(move |_| {
            while let Some(socket) = tcp.next_pending_connection() {
                let (counter, kept) = (counter.clone(), kept.clone());
                serve_connection(socket, &Http2Configuration::default(), move |_, respond| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    kept.borrow_mut().push(respond);
                });
            }
        });
        tx.send((tcp.server_port(), lp.handle())).unwrap();
        lp.exec();
    });
    let (port, handle) = rx.recv().unwrap();
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let codes = hold_then_reset(&mut s, &held, 25);
    assert!(
        codes.contains(&ENHANCE_YOUR_CALM),
        "expected GOAWAY(ENHANCE_YOUR_CALM), got {codes:?} after {} streams",
        held.load(Ordering::SeqCst)
    );
    assert_eq!(
        held.load(Ordering::SeqCst),
        210,
        "cut off after the 201st reset"
    );
    handle.quit().unwrap();
    thread.join().unwrap();
}
