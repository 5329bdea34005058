//! The HTTP/2 client (cleartext prior knowledge) against an h2 server driven by slotnet's own
//! HTTP/2 driver on a second slotnet thread, and against a raw-frame server for exact GOAWAY
//! and RST_STREAM scripts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::h2::Http2Configuration;
use slotnet_http::{
    Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest, RequestBody,
};
use slotnet_testkit::h2::{H2Server, RawAction, RawH2Server};
use slotnet_testkit::pattern::pattern_byte;
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::{run_all, run_traced};

fn h2_request(url: &str) -> NetworkRequest {
    let mut req = NetworkRequest::from_url_str(url);
    req.set_attribute(Attribute::Http2Direct, true);
    req
}

fn used_h2(reply: NetworkReply) -> bool {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
        == Some(true)
}

#[test]
fn get_matches_the_qt_h2c_trace() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server.url("/hello.txt")));
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/h2c-prior-knowledge.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(5, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello");
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(reply.status_code(), Some(200));
    assert!(used_h2(reply));
    assert_eq!(
        reply.raw_header("Content-Type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(server.state.paths(), ["/hello.txt"]);
}

#[test]
fn post_reports_upload_progress_like_qt() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let reply = m.post(h2_request(&server.url("/echo")), "hello=world");
    let (lines, body) = run_traced(&m, reply);
    // docs/qt-traces/post-body.txt (same sequence over HTTP/2)
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.uploadProgress(11, 11)",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(11, 11)",
            "reply.uploadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello=world");
}

#[test]
fn a_streamed_body_reports_upload_progress_like_qt() {
    // As over HTTP/1.1 (client_h1): Qt's HTTP reply ends an upload with uploadProgress(0, 0)
    // after the real (n, n), whatever the body is made of.
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let body = RequestBody::from_reader(std::io::Cursor::new(b"hello=world".to_vec()), Some(11));
    let reply = m.post(h2_request(&server.url("/echo")), body);
    let (lines, echoed) = run_traced(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.uploadProgress(11, 11)",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(11, 11)",
            "reply.uploadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(echoed, b"hello=world");
}

#[test]
fn a_large_upload_respects_flow_control_and_arrives_intact() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let data: Vec<u8> = (0..3_000_000u64).map(pattern_byte).collect();
    let reply = m.post(h2_request(&server.url("/echo")), data.clone());
    let progress = Rc::new(RefCell::new(Vec::new()));
    let p = progress.clone();
    reply
        .upload_progress()
        .connect(move |(sent, total)| p.borrow_mut().push((*sent, *total)));
    let sent_at_request_sent = Rc::new(Cell::new(None));
    let (p, s) = (progress.clone(), sent_at_request_sent.clone());
    reply
        .request_sent()
        .connect(move |_| s.set(p.borrow().last().copied()));
    run_all(&[reply]);
    assert_no_error(reply);
    assert!(reply.read_all() == data, "echoed body differs");
    let total = data.len() as i64;
    assert_eq!(sent_at_request_sent.get(), Some((total, total)));
    let progress = progress.borrow();
    assert!(progress
        .windows(2)
        .all(|w| w[0].0 <= w[1].0 || w[1] == (0, 0)));
    assert_eq!(progress.last(), Some(&(0, 0)));
}

#[test]
fn a_hundred_concurrent_requests_share_one_connection() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let replies: Vec<NetworkReply> = (0..100)
        .map(|i| m.get(h2_request(&server.url(&format!("/path/{i}")))))
        .collect();
    run_all(&replies);
    for (i, reply) in replies.iter().enumerate() {
        assert_no_error(*reply);
        assert_eq!(reply.read_all(), format!("/path/{i}").as_bytes());
        assert!(used_h2(*reply));
    }
    assert_eq!(m.connections_opened(), 1);
    assert_eq!(server.state.connections.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.paths().len(), 100);
}

#[test]
fn requests_beyond_the_servers_stream_limit_wait_their_turn() {
    let mut config = Http2Configuration::default();
    config.set_max_concurrent_streams(4);
    let server = H2Server::with_config(config);
    let m = NetworkAccessManager::new();
    // Two rounds: the second starts once the server's SETTINGS (limit 4) are known.
    for round in 0..2 {
        let replies: Vec<NetworkReply> = (0..40)
            .map(|i| m.get(h2_request(&server.url(&format!("/path/{round}/{i}")))))
            .collect();
        run_all(&replies);
        for (i, reply) in replies.iter().enumerate() {
            assert_no_error(*reply);
            assert_eq!(reply.read_all(), format!("/path/{round}/{i}").as_bytes());
        }
    }
    assert_eq!(m.connections_opened(), 1);
    assert_eq!(server.state.paths().len(), 80);
}

#[test]
fn a_slow_reader_keeps_memory_bounded_and_gets_every_byte() {
    const TOTAL: u64 = 8 * 1024 * 1024;
    const READ_BUFFER: usize = 64 * 1024;
    let server = H2Server::start();
    let window = Http2Configuration::default().stream_receive_window_size() as u64;
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server.url(&format!("/big/{TOTAL}"))));
    reply.set_read_buffer_size(READ_BUFFER);
    let read = Rc::new(Cell::new(0u64));
    let mismatch = Rc::new(Cell::new(None));
    let worst_lead = Rc::new(Cell::new(0u64));
    // Read 16 KiB per millisecond: far slower than loopback can send.
    let ticker = Timer::new();
    ticker.set_interval(Duration::from_millis(1));
    let state = server.state.clone();
    let (r, mm, lead) = (read.clone(), mismatch.clone(), worst_lead.clone());
    ticker.timeout().connect(move |_| {
        assert!(reply.bytes_available() <= READ_BUFFER);
        let mut buf = vec![0u8; 16 * 1024];
        let n = reply.read(&mut buf);
        for (i, b) in buf[..n].iter().enumerate() {
            let offset = r.get() + i as u64;
            if *b != pattern_byte(offset) && mm.get().is_none() {
                mm.set(Some(offset));
            }
        }
        r.set(r.get() + n as u64);
        // What the server managed to send beyond what the application read.
        let sent = state.sent.load(Ordering::SeqCst);
        lead.set(lead.get().max(sent.saturating_sub(r.get())));
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
    assert_no_error(reply);
    assert_eq!(read.get(), TOTAL);
    assert_eq!(mismatch.get(), None, "first wrong byte");
    // Flow control: never more than one stream window (plus the reply's buffer) ahead.
    let bound = window + READ_BUFFER as u64;
    assert!(
        worst_lead.get() <= bound,
        "server got {} bytes ahead of the reader (bound {bound})",
        worst_lead.get()
    );
    assert!(worst_lead.get() > 0);
}

#[test]
fn a_stream_reset_by_the_server_fails_only_that_reply() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let a = m.get(h2_request(&server.url("/hello.txt")));
    let b = m.get(h2_request(&server.url("/reset")));
    let c = m.get(h2_request(&server.url("/path/c")));
    let trace_b = slotnet_http::trace::SignalTrace::new();
    trace_b.watch_reply(b);
    run_all(&[a, b, c]);
    assert_eq!(a.error(), NetworkError::NoError);
    assert_eq!(a.read_all(), b"hello");
    assert_eq!(c.error(), NetworkError::NoError);
    assert_eq!(c.read_all(), b"/path/c");
    assert_eq!(b.error(), NetworkError::InternalServerError);
    assert_eq!(
        trace_b.lines(),
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.errorOccurred(InternalServerError)",
            "reply.downloadProgress(0, 0)",
            "reply.finished()",
        ]
    );
    assert_eq!(m.connections_opened(), 1);
    // The connection is still good for more.
    let d = m.get(h2_request(&server.url("/hello.txt")));
    run_all(&[d]);
    assert_eq!(d.error(), NetworkError::NoError);
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn aborting_a_reply_resets_its_stream_only() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let big = m.get(h2_request(&server.url("/big/50000000")));
    big.set_read_buffer_size(32 * 1024);
    let small = m.get(h2_request(&server.url("/hello.txt")));
    big.ready_read().connect(move |_| big.abort());
    run_all(&[big, small]);
    assert_eq!(big.error(), NetworkError::OperationCanceledError);
    assert_eq!(small.error(), NetworkError::NoError);
    // The server's sender notices the reset (RST_STREAM CANCEL).
    let after = m.get(h2_request(&server.url("/hello.txt")));
    run_all(&[after]);
    assert_eq!(after.read_all(), b"hello");
    assert_eq!(m.connections_opened(), 1);
    for _ in 0..200 {
        if server.state.resets_seen.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.state.resets_seen.load(Ordering::SeqCst), 1);
    assert!(server.state.sent.load(Ordering::SeqCst) < 50_000_000);
}

#[test]
fn the_server_dying_mid_stream_fails_the_reply_with_what_arrived() {
    let server = Rc::new(H2Server::start());
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server.url("/partial")));
    let received = Rc::new(RefCell::new(Vec::new()));
    let (rx, s) = (received.clone(), server.clone());
    reply.ready_read().connect(move |_| {
        rx.borrow_mut().extend(reply.read_all());
        if rx.borrow().len() == 1000 {
            s.kill_connections();
        }
    });
    let trace = slotnet_http::trace::SignalTrace::new();
    trace.watch_reply(reply);
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::RemoteHostClosedError);
    assert_eq!(received.borrow().len(), 1000);
    let lines = trace.lines();
    assert_eq!(lines.last().map(String::as_str), Some("reply.finished()"));
    assert!(lines.contains(&"reply.errorOccurred(RemoteHostClosedError)".to_owned()));
    assert!(lines.contains(&"reply.downloadProgress(1000, 100000)".to_owned()));
}

#[test]
fn a_graceful_goaway_moves_later_requests_to_a_new_connection() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let first: Vec<NetworkReply> = (0..5)
        .map(|i| m.get(h2_request(&server.url(&format!("/path/a{i}")))))
        .collect();
    run_all(&first);
    // This request makes the server send GOAWAY; requests made afterwards must not be lost.
    let trigger = m.get(h2_request(&server.url("/goaway/1")));
    let later: Rc<RefCell<Vec<NetworkReply>>> = Rc::default();
    let l = later.clone();
    let m2 = m;
    let srv = server.url("");
    trigger.meta_data_changed().connect(move |_| {
        for i in 0..5 {
            l.borrow_mut()
                .push(m2.get(h2_request(&format!("{srv}/path/b{i}"))));
        }
    });
    run_all(&[trigger]);
    assert_eq!(trigger.error(), NetworkError::NoError);
    assert_eq!(trigger.read_all(), b"ok");
    let later = later.borrow().clone();
    run_all(&later);
    for (i, reply) in later.iter().enumerate() {
        assert_no_error(*reply);
        assert_eq!(reply.read_all(), format!("/path/b{i}").as_bytes());
    }
    assert_eq!(server.state.connections.load(Ordering::SeqCst), 2);
    assert_eq!(m.connections_opened(), 2);
}

#[test]
fn streams_above_a_goaways_last_stream_id_are_retried_elsewhere() {
    // Connection 0 answers stream 1 only, then says GOAWAY(last_stream_id = 1) once it has
    // seen three streams; connection 1 answers everything.
    let server = RawH2Server::start(|conn, seen| {
        if conn > 0 {
            return (RawAction::Ok, None);
        }
        match seen.len() {
            1 => (RawAction::Ok, None),
            3 => (RawAction::Ignore, Some(1)),
            _ => (RawAction::Ignore, None),
        }
    });
    let m = NetworkAccessManager::new();
    let replies: Vec<NetworkReply> = (0..3)
        .map(|i| m.get(h2_request(&server.url(&format!("/r{i}")))))
        .collect();
    run_all(&replies);
    for reply in &replies {
        assert_no_error(*reply);
        assert_eq!(reply.status_code(), Some(200));
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    let streams = server.streams.lock().unwrap().clone();
    assert_eq!(streams[0], [1, 3, 5]);
    assert_eq!(
        streams[1].len(),
        2,
        "the two unprocessed requests, sent again"
    );
}

#[test]
fn a_refused_stream_is_sent_again() {
    // The second stream of the connection is refused (REFUSED_STREAM); its retry is answered.
    let server = RawH2Server::start(|_, seen| match seen.len() {
        2 => (RawAction::Refuse, None),
        _ => (RawAction::Ok, None),
    });
    let m = NetworkAccessManager::new();
    let a = m.get(h2_request(&server.url("/a")));
    let b = m.get(h2_request(&server.url("/b")));
    run_all(&[a, b]);
    assert_eq!(a.error(), NetworkError::NoError);
    assert_no_error(b);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert_eq!(server.streams.lock().unwrap()[0], [1, 3, 5]);
}

#[test]
fn a_request_lost_with_a_reused_connection_is_sent_again() {
    // Connection 0 answers its first stream, then closes when the second arrives, as a
    // server timing out an idle connection would.
    let server = RawH2Server::start(|conn, seen| match (conn, seen.len()) {
        (0, 2) => (RawAction::Drop, None),
        _ => (RawAction::Ok, None),
    });
    let m = NetworkAccessManager::new();
    let a = m.get(h2_request(&server.url("/a")));
    run_all(&[a]);
    assert_eq!(a.error(), NetworkError::NoError);
    let b = m.get(h2_request(&server.url("/b")));
    run_all(&[b]);
    assert_no_error(b);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    // A POST whose body cannot be replayed is not sent twice: it fails.
    let server = RawH2Server::start(|conn, seen| match (conn, seen.len()) {
        (0, 2) => (RawAction::Drop, None),
        _ => (RawAction::Ok, None),
    });
    let a = m.get(h2_request(&server.url("/a")));
    run_all(&[a]);
    let body =
        slotnet_http::RequestBody::from_reader(std::io::Cursor::new(b"data".to_vec()), Some(4));
    let c = m.post(h2_request(&server.url("/c")), body);
    run_all(&[c]);
    assert_eq!(c.error(), NetworkError::RemoteHostClosedError);
}

#[test]
fn http_errors_keep_the_body_and_qts_order() {
    let server = H2Server::start();
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request(&server.url("/status/404")));
    let (lines, body) = run_traced(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.errorOccurred(ContentNotFoundError)",
            "reply.downloadProgress(9, 9)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"not found");
}

#[test]
fn connection_refused_fails_every_waiting_request() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let m = NetworkAccessManager::new();
    let url = format!("http://127.0.0.1:{port}/x");
    let a = m.get(h2_request(&url));
    let b = m.get(h2_request(&url));
    run_all(&[a, b]);
    assert_eq!(a.error(), NetworkError::ConnectionRefusedError);
    assert_eq!(b.error(), NetworkError::ConnectionRefusedError);
    assert_eq!(a.error_string(), "Connection refused");
    assert_eq!(b.error_string(), "Connection refused");
}

#[test]
fn an_unknown_host_is_named_as_qt_names_it() {
    let m = NetworkAccessManager::new();
    let reply = m.get(h2_request("http://no-such-host.invalid/x"));
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::HostNotFoundError);
    assert_eq!(reply.error_string(), "Host no-such-host.invalid not found");
}
