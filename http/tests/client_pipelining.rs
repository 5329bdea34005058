//! HTTP/1.1 pipelining (`Attribute::HttpPipeliningAllowed`) against a loopback server that
//! records, for every request, how many requests of its connection were waiting for an
//! answer when it arrived: a request that arrives while another is unanswered was
//! pipelined.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use slotnet_http::trace::SignalTrace;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_testkit::reply::run_all;

/// How long the server waits for more requests before answering those it has (a batching
/// server: it lets a pipelining client fill its pipeline; the first request of a
/// connection is answered at once). Only the tail of a test ever waits this long.
const BATCH_WINDOW: Duration = Duration::from_millis(150);
/// Qt's pipeline length: the server answers as soon as this many requests wait.
const PIPELINE: usize = 3;

/// A request as the server received it.
#[derive(Clone, Debug)]
struct Seen {
    conn: usize,
    method: String,
    path: String,
    /// Methods of the requests of the same connection received earlier and not answered.
    behind: Vec<String>,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    /// Per connection, the most requests waiting for an answer at once.
    max_outstanding: Vec<usize>,
    /// Connection 0 had a full pipeline waiting.
    first_full: bool,
}

/// What the first connection does once a full pipeline waits on it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FirstConn {
    /// Answers them all, as every connection does.
    Normal,
    /// Answers the first request (keep-alive) and closes the connection.
    CloseAfterFirst,
    /// Answers the first request with `Connection: close` and closes the connection.
    ConnectionClose,
}

#[derive(Clone, Copy)]
struct Options {
    first: FirstConn,
    /// Connections other than the first answer nothing until the first has had a full
    /// pipeline: the pool cannot serve waiting requests anywhere else meanwhile, so the
    /// ones it pipelines are known in advance.
    hold_others: bool,
}

type Shared = Arc<(Mutex<Log>, Condvar)>;

struct PipeServer {
    port: u16,
    shared: Shared,
}

impl PipeServer {
    fn start(options: Options) -> PipeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared: Shared = Arc::default();
        let s = shared.clone();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                s.0.lock().unwrap().max_outstanding.push(0);
                let s = s.clone();
                std::thread::spawn(move || serve(stream, index, options, &s));
            }
        });
        PipeServer { port, shared }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.0.lock().unwrap().seen.clone()
    }

    fn max_outstanding(&self) -> Vec<usize> {
        self.shared.0.lock().unwrap().max_outstanding.clone()
    }

    fn first_full(&self) -> bool {
        self.shared.0.lock().unwrap().first_full
    }

    /// The connections that carried `path`, in order.
    fn carriers(&self, path: &str) -> Vec<usize> {
        self.seen()
            .iter()
            .filter(|s| s.path == path)
            .map(|s| s.conn)
            .collect()
    }
}

/// The body the server sends for `/r{i}` (and anything else): distinct per path, so a
/// reply holding another request's body is caught.
fn body_for(path: &str) -> Vec<u8> {
    let n = path.trim_start_matches("/r").parse::<usize>().unwrap_or(0);
    format!("body of {path};").repeat(n + 1).into_bytes()
}

/// Odd `/r{i}` are answered chunked, the rest with a Content-Length.
fn chunked(path: &str) -> bool {
    path.trim_start_matches("/r")
        .parse::<usize>()
        .is_ok_and(|n| n % 2 == 1)
}

fn response(req: &Seen, close: bool) -> Vec<u8> {
    let body = body_for(&req.path);
    let connection = if close { "Connection: close\r\n" } else { "" };
    let mut out = if chunked(&req.path) {
        format!("HTTP/1.1 200 OK\r\n{connection}Transfer-Encoding: chunked\r\n\r\n").into_bytes()
    } else {
        format!(
            "HTTP/1.1 200 OK\r\n{connection}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes()
    };
    if req.method != "HEAD" {
        if chunked(&req.path) {
            out.extend(format!("{:x}\r\n", body.len()).bytes());
            out.extend(&body);
            out.extend(b"\r\n0\r\n\r\n");
        } else {
            out.extend(&body);
        }
    }
    out
}

/// Takes one complete request off the front of `buf`, if there is one.
fn parse_request(buf: &mut Vec<u8>) -> Option<(String, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let method = start.next()?.to_owned();
    let path = start.next()?.to_owned();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if buf.len() < end + length {
        return None;
    }
    buf.drain(..end + length);
    Some((method, path))
}

fn serve(mut stream: TcpStream, conn: usize, options: Options, shared: &Shared) {
    let (log, changed) = &**shared;
    let mut buf = Vec::new();
    let mut pending: VecDeque<Seen> = VecDeque::new();
    let mut answered = 0;
    let mut waited = false;
    loop {
        while let Some((method, path)) = parse_request(&mut buf) {
            let seen = Seen {
                conn,
                method,
                path,
                behind: pending.iter().map(|p| p.method.clone()).collect(),
            };
            pending.push_back(seen.clone());
            let mut log = log.lock().unwrap();
            log.seen.push(seen);
            let max = &mut log.max_outstanding[conn];
            *max = (*max).max(pending.len());
            if conn == 0 && pending.len() >= PIPELINE {
                log.first_full = true;
                changed.notify_all();
            }
        }
        if !pending.is_empty() && (answered == 0 || pending.len() >= PIPELINE || waited) {
            if options.hold_others && conn != 0 {
                let guard = log.lock().unwrap();
                // Bounded, so a client that never pipelines fails its test instead of hanging.
                let _ = changed
                    .wait_timeout_while(guard, Duration::from_secs(10), |l| !l.first_full)
                    .unwrap();
            }
            if conn == 0 && options.first != FirstConn::Normal && pending.len() >= PIPELINE {
                let close = options.first == FirstConn::ConnectionClose;
                let first = pending.pop_front().unwrap();
                let _ = stream.write_all(&response(&first, close));
                let _ = stream.flush();
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            let mut out = Vec::new();
            for req in pending.drain(..) {
                out.extend(response(&req, false));
                answered += 1;
            }
            // All in one write: the client decodes several responses from one read.
            if stream.write_all(&out).is_err() {
                return;
            }
            waited = false;
        }
        let wait = if pending.is_empty() {
            Duration::from_secs(20)
        } else {
            BATCH_WINDOW
        };
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 16 * 1024];
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if pending.is_empty() {
                    return;
                }
                waited = true;
            }
            Err(_) => return,
        }
    }
}

fn request(server: &PipeServer, path: &str, pipelining: bool) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(&server.url(path));
    if pipelining {
        req.set_attribute(Attribute::HttpPipeliningAllowed, true);
    }
    req
}

fn pipelining_used(reply: NetworkReply) -> bool {
    reply
        .attribute(Attribute::HttpPipeliningWasUsed)
        .and_then(|v| v.as_bool())
        == Some(true)
}

/// One request first, so the pool holds a keep-alive HTTP/1.1 connection (pipelining
/// starts on such a connection only).
fn warm_up(m: &NetworkAccessManager, server: &PipeServer, pipelining: bool) {
    let warm = m.get(request(server, "/warm", pipelining));
    run_all(&[warm]);
    assert_eq!(warm.error(), NetworkError::NoError);
}

fn assert_body(reply: NetworkReply, path: &str) {
    assert_eq!(
        reply.error(),
        NetworkError::NoError,
        "{path}: {}",
        reply.error_string()
    );
    assert_eq!(reply.status_code(), Some(200), "{path}");
    assert_eq!(
        String::from_utf8_lossy(&reply.read_all()),
        String::from_utf8_lossy(&body_for(path)),
        "{path}"
    );
}

/// Warm-up, then eight GETs at once: `/r0` goes to the warm connection, `/r1`..`/r5` open
/// the five other connections (held by the server), and `/r6`, `/r7` can only be
/// pipelined behind `/r0`.
fn eight_gets(m: &NetworkAccessManager, server: &PipeServer) -> Vec<NetworkReply> {
    warm_up(m, server, true);
    (0..8)
        .map(|i| m.get(request(server, &format!("/r{i}"), true)))
        .collect()
}

#[test]
fn gets_and_heads_are_pipelined_three_at_most_and_answered_in_order() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: false,
    });
    let m = NetworkAccessManager::new();
    warm_up(&m, &server, true);
    let replies: Vec<(String, NetworkReply)> = (0..18)
        .map(|i| {
            let path = format!("/r{i}");
            let req = request(&server, &path, true);
            let reply = if i % 3 == 2 { m.head(req) } else { m.get(req) };
            (path, reply)
        })
        .collect();
    let all: Vec<NetworkReply> = replies.iter().map(|(_, r)| *r).collect();
    run_all(&all);
    for (i, (path, reply)) in replies.iter().enumerate() {
        if i % 3 == 2 {
            assert_eq!(reply.error(), NetworkError::NoError, "{path}");
            assert_eq!(reply.status_code(), Some(200), "{path}");
            assert!(reply.read_all().is_empty(), "HEAD has no body: {path}");
        } else {
            assert_body(*reply, path);
        }
    }
    let max = server.max_outstanding();
    assert!(max.len() <= 6, "at most six connections: {max:?}");
    assert!(max.iter().all(|&n| n <= PIPELINE), "{max:?}");
    assert!(
        max.iter().any(|&n| n >= 2),
        "several requests arrived on a connection before the first was answered: {max:?}"
    );
    // Each request was sent once: nothing was lost or retried.
    let seen = server.seen();
    assert_eq!(seen.len(), 19, "{seen:?}");
    assert!(seen.iter().all(|s| s.behind.len() < PIPELINE));
    let pipelined = seen.iter().filter(|s| !s.behind.is_empty()).count();
    let flagged = all.iter().filter(|r| pipelining_used(**r)).count();
    assert!(flagged > 0);
    // Qt sets the attribute on every reply: false on those sent alone.
    assert!(all.iter().all(|r| r
        .attribute(Attribute::HttpPipeliningWasUsed)
        .and_then(|v| v.as_bool())
        .is_some()));
    assert!(
        flagged >= pipelined,
        "HttpPipeliningWasUsed on every reply that went behind another ({flagged} < {pipelined})"
    );
    assert!(m.connections_opened() <= 6);
}

#[test]
fn nothing_is_pipelined_without_the_attribute() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: false,
    });
    let m = NetworkAccessManager::new();
    warm_up(&m, &server, false);
    let replies: Vec<_> = (0..8)
        .map(|i| m.get(request(&server, &format!("/r{i}"), false)))
        .collect();
    run_all(&replies);
    for (i, r) in replies.iter().enumerate() {
        assert_body(*r, &format!("/r{i}"));
        assert!(!pipelining_used(*r));
    }
    assert!(server.seen().iter().all(|s| s.behind.is_empty()));
    assert!(server.max_outstanding().iter().all(|&n| n == 1));
}

#[test]
fn post_is_never_pipelined() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: false,
    });
    let m = NetworkAccessManager::new();
    warm_up(&m, &server, true);
    let replies: Vec<_> = (0..16)
        .map(|i| {
            let req = request(&server, &format!("/r{i}"), true);
            if i % 2 == 0 {
                m.post(req, format!("upload {i}"))
            } else {
                m.get(req)
            }
        })
        .collect();
    run_all(&replies);
    for (i, r) in replies.iter().enumerate() {
        assert_body(*r, &format!("/r{i}"));
    }
    for s in server.seen() {
        if s.method == "POST" {
            assert!(s.behind.is_empty(), "POST sent behind {:?}", s.behind);
        }
        assert!(
            s.behind.iter().all(|m| m == "GET"),
            "{} {} sent behind {:?}",
            s.method,
            s.path,
            s.behind
        );
    }
}

#[test]
fn a_pipelined_reply_emits_the_signals_of_a_reused_connection() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: true,
    });
    let m = NetworkAccessManager::new();
    let replies = eight_gets(&m, &server);
    let trace = SignalTrace::new();
    trace.watch_manager(&m, replies[6]);
    trace.watch_reply(replies[6]);
    run_all(&replies);
    for (i, r) in replies.iter().enumerate() {
        assert_body(*r, &format!("/r{i}"));
    }
    assert!(server.first_full());
    assert_eq!(server.carriers("/r6"), [0]);
    assert_eq!(server.carriers("/r7"), [0]);
    let len = body_for("/r6").len();
    assert_eq!(
        trace.lines(),
        [
            "reply.requestSent()".to_owned(),
            "reply.metaDataChanged()".into(),
            "reply.readyRead()".into(),
            format!("reply.downloadProgress({len}, {len})"),
            "manager.finished()".into(),
            "reply.finished()".into(),
        ]
    );
    assert!(pipelining_used(replies[6]));
    assert!(pipelining_used(replies[7]));
    assert!(!pipelining_used(replies[0]), "/r0 was sent first");
}

/// The server closes the connection after the first of three pipelined responses: the two
/// requests behind it were not answered, and are sent again on other connections.
fn close_after_first(first: FirstConn) {
    let server = PipeServer::start(Options {
        first,
        hold_others: true,
    });
    let m = NetworkAccessManager::new();
    let replies = eight_gets(&m, &server);
    run_all(&replies);
    for (i, r) in replies.iter().enumerate() {
        assert_body(*r, &format!("/r{i}"));
    }
    assert!(server.first_full());
    assert_eq!(server.carriers("/r0"), [0]);
    for path in ["/r6", "/r7"] {
        let carriers = server.carriers(path);
        assert_eq!(carriers.len(), 2, "{path} sent again: {carriers:?}");
        assert_eq!(carriers[0], 0);
        assert_ne!(carriers[1], 0);
    }
}

#[test]
fn a_close_after_the_first_pipelined_response_resends_the_others() {
    close_after_first(FirstConn::CloseAfterFirst);
}

#[test]
fn connection_close_on_the_first_pipelined_response_resends_the_others() {
    close_after_first(FirstConn::ConnectionClose);
}

#[test]
fn aborting_a_pipelined_request_keeps_the_connection_in_step() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: true,
    });
    let m = NetworkAccessManager::new();
    let replies = eight_gets(&m, &server);
    let r6 = replies[6];
    // Written, not answered yet (the server waits for the whole pipeline).
    r6.request_sent().connect(move |_| r6.abort());
    run_all(&replies);
    assert_eq!(r6.error(), NetworkError::OperationCanceledError);
    for i in [0, 1, 2, 3, 4, 5, 7] {
        assert_body(replies[i], &format!("/r{i}"));
    }
    // /r6's response was read and dropped, and /r7's came after it on the same connection.
    assert_eq!(server.carriers("/r6"), [0]);
    assert_eq!(server.carriers("/r7"), [0]);
    assert!(pipelining_used(replies[7]));
}

#[test]
fn aborting_the_request_being_answered_resends_the_pipelined_ones() {
    let server = PipeServer::start(Options {
        first: FirstConn::Normal,
        hold_others: true,
    });
    let m = NetworkAccessManager::new();
    let replies = eight_gets(&m, &server);
    let r0 = replies[0];
    r0.meta_data_changed().connect(move |_| r0.abort());
    run_all(&replies);
    assert_eq!(r0.error(), NetworkError::OperationCanceledError);
    for (i, r) in replies.iter().enumerate().skip(1) {
        assert_body(*r, &format!("/r{i}"));
    }
    assert!(server.first_full());
    for path in ["/r6", "/r7"] {
        let carriers = server.carriers(path);
        assert_eq!(carriers.len(), 2, "{path} sent again: {carriers:?}");
        assert_eq!(carriers[0], 0);
    }
}
