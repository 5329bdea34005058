//! `data:` and `file:` replies: the same signal sequence as HTTP, errors as Qt maps them.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::trace::SignalTrace;
use slotnet_http::{
    Attribute, HeaderValue, KnownHeader, NetworkAccessManager, NetworkError, NetworkReply,
    NetworkRequest, Operation, RequestBody,
};

/// Runs the loop until `reply` finishes (bounded), returning the trace and the body read in
/// the `finished` slot.
fn run(manager: &NetworkAccessManager, reply: NetworkReply) -> (Vec<String>, Vec<u8>) {
    let trace = SignalTrace::new();
    trace.watch_manager(manager, reply);
    trace.watch_reply(reply);
    let body = Rc::new(RefCell::new(Vec::new()));
    let b = body.clone();
    reply.finished().connect(move |_| {
        b.borrow_mut().extend(reply.read_all());
        EventLoop::current().quit();
    });
    Timer::single_shot(Duration::from_secs(10), || EventLoop::current().exit(1));
    assert_eq!(EventLoop::current().exec(), 0, "reply did not finish");
    let body = body.borrow().clone();
    (trace.lines(), body)
}

#[test]
fn data_url_get_emits_qts_sequence() {
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(
        "data:text/plain;base64,aGVsbG8=",
    ));
    let (lines, body) = run(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(5, 5)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"hello");
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(
        reply.header(KnownHeader::ContentTypeHeader),
        Some(HeaderValue::Text("text/plain".into()))
    );
    assert!(reply.is_finished());
    assert_eq!(reply.operation(), Operation::GetOperation);
}

#[test]
fn file_url_streams_a_large_file_in_pieces_with_backpressure() {
    let dir = std::env::temp_dir().join(format!("slotnet-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&data)
        .unwrap();

    let m = NetworkAccessManager::new();
    let url = url::Url::from_file_path(&path).unwrap();
    let reply = m.get(NetworkRequest::new(url));
    reply.set_read_buffer_size(64 * 1024);
    let got = Rc::new(RefCell::new(Vec::new()));
    let max_buffered = Rc::new(Cell::new(0usize));
    let (g, mb) = (got.clone(), max_buffered.clone());
    // A slow reader: takes 16 KiB per timer tick.
    let reader = Timer::new();
    reader.timeout().connect(move |_| {
        mb.set(mb.get().max(reply.bytes_available()));
        let mut buf = vec![0u8; 16 * 1024];
        let n = reply.read(&mut buf);
        g.borrow_mut().extend_from_slice(&buf[..n]);
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    reader.start_interval(Duration::from_micros(10));
    Timer::single_shot(Duration::from_secs(30), || EventLoop::current().exit(1));
    assert_eq!(EventLoop::current().exec(), 0);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert!(*got.borrow() == data, "file arrives byte-exact");
    assert!(
        max_buffered.get() <= 64 * 1024,
        "buffered {} > 64 KiB",
        max_buffered.get()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_errors_map_like_qt() {
    let m = NetworkAccessManager::new();
    let missing = m.get(NetworkRequest::from_url_str(
        "file:///definitely/not/here.txt",
    ));
    let (lines, _) = run(&m, missing);
    assert_eq!(
        lines,
        [
            "reply.errorOccurred(ContentNotFoundError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    let dir = m.get(NetworkRequest::new(
        url::Url::from_directory_path(std::env::temp_dir()).unwrap(),
    ));
    run(&m, dir);
    assert_eq!(dir.error(), NetworkError::ContentOperationNotPermittedError);
    let put = m.put(NetworkRequest::from_url_str("data:,x"), "body");
    run(&m, put);
    assert_eq!(put.error(), NetworkError::ProtocolInvalidOperationError);
}

#[test]
fn unknown_scheme_and_invalid_url_fail_asynchronously() {
    let m = NetworkAccessManager::new();
    let gopher = m.get(NetworkRequest::from_url_str("gopher://example.invalid/"));
    assert!(
        gopher.is_running(),
        "errors arrive on a later iteration, as in Qt"
    );
    run(&m, gopher);
    assert_eq!(gopher.error(), NetworkError::ProtocolUnknownError);
    let invalid = m.get(NetworkRequest::from_url_str("::nonsense"));
    run(&m, invalid);
    assert_eq!(invalid.error(), NetworkError::ProtocolUnknownError);
}

#[test]
fn abort_emits_synchronously_and_closes_the_reply() {
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str("data:,abc"));
    let trace = SignalTrace::new();
    trace.watch_manager(&m, reply);
    trace.watch_reply(reply);
    reply.abort();
    assert_eq!(
        trace.lines(),
        [
            "reply.errorOccurred(OperationCanceledError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert!(!reply.is_open());
    reply.abort(); // a second abort does nothing
    EventLoop::current().process_events(Some(Duration::ZERO));
    assert_eq!(trace.lines().len(), 4, "nothing more after abort");
}

#[test]
fn hook_can_rewrite_requests_and_auto_delete_works() {
    let m = NetworkAccessManager::new();
    m.set_create_request_hook(|_op, req: &mut NetworkRequest, _body: &mut RequestBody| {
        req.set_url("data:,rewritten".parse().unwrap());
        None
    });
    m.set_auto_delete_replies(true);
    assert!(m.auto_delete_replies());
    let reply = m.get(NetworkRequest::from_url_str("data:,original"));
    let (_, body) = run(&m, reply);
    assert_eq!(body, b"rewritten");
    EventLoop::current().process_events(Some(Duration::ZERO));
    assert!(
        !slotnet_core::AsObject::as_object(&reply).is_alive(),
        "deleted after finished"
    );
    assert!(
        reply.read_all().is_empty(),
        "a deleted reply reads as empty, no panic"
    );
    assert_eq!(reply.attribute(Attribute::HttpStatusCode), None);
}
