//! Awaiting replies: `NetworkReply: IntoFuture` (the whole response, or the reply's error),
//! `NetworkReply::body_stream` (chunks as they arrive, read-buffer backpressure intact), and
//! dropping an unfinished one aborts its reply.

use std::cell::{Cell, RefCell};
use std::future::IntoFuture;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use slotnet_http::core::{spawn_local, EventLoop, Timer};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::{hang_guard, pattern};

#[test]
fn an_awaited_reply_gives_the_status_headers_and_body() {
    let server = ScriptedServer::start(|_, s| {
        respond(s, "200 OK", &[("X-Kind", "greeting")], b"hello");
        Next::KeepAlive
    });
    let manager = NetworkAccessManager::new();
    let _guard = hang_guard();
    let response = EventLoop::current()
        .block_on(async {
            manager
                .get(NetworkRequest::from_url_str(&server.url("/hi")))
                .await
        })
        .expect("no error");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-kind"], "greeting");
    assert_eq!(response.body().as_ref(), b"hello");
}

#[test]
fn a_body_in_many_pieces_arrives_whole_and_in_order() {
    const SIZE: usize = 3 * 1024 * 1024;
    let server = ScriptedServer::start(|_, s| {
        let body = pattern::pattern(0, SIZE);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n");
        let _ = s.write_all(head.as_bytes());
        for piece in body.chunks(7_000) {
            if s.write_all(piece).is_err() {
                return Next::Close;
            }
        }
        Next::Close
    });
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/big")));
    // A small read buffer: the future must keep draining the reply or the transfer stalls.
    reply.set_read_buffer_size(16 * 1024);
    let _guard = hang_guard();
    let response = EventLoop::current().block_on(reply).expect("no error");
    assert_eq!(response.body().len(), SIZE);
    assert!(*response.body() == pattern::pattern(0, SIZE));
}

#[test]
fn an_http_error_resolves_to_the_replys_error_with_status_and_message() {
    let server = ScriptedServer::start(|_, s| {
        respond(s, "404 Not Found", &[], b"no such thing");
        Next::KeepAlive
    });
    let manager = NetworkAccessManager::new();
    let url = server.url("/missing");
    let _guard = hang_guard();
    let error = EventLoop::current()
        .block_on(
            manager
                .get(NetworkRequest::from_url_str(&url))
                .into_future(),
        )
        .expect_err("404 is an error, as in Qt");
    assert_eq!(error.kind(), NetworkError::ContentNotFoundError);
    assert_eq!(error.status(), Some(404));
    assert!(error.message().contains("Not Found"), "{}", error.message());
}

#[test]
fn a_refused_connection_resolves_to_the_error_without_a_status() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let manager = NetworkAccessManager::new();
    let _guard = hang_guard();
    let error = EventLoop::current()
        .block_on(
            manager
                .get(NetworkRequest::from_url_str(&format!(
                    "http://127.0.0.1:{port}/"
                )))
                .into_future(),
        )
        .expect_err("nobody listens");
    assert_eq!(error.kind(), NetworkError::ConnectionRefusedError);
    assert_eq!(error.status(), None);
}

#[test]
fn dropping_an_unfinished_future_aborts_its_reply() {
    // The server sends the head and part of the body, then stalls.
    let server = ScriptedServer::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npart");
        Next::Hold
    });
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/stall")));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    reply
        .error_occurred()
        .connect(move |e| s.borrow_mut().push(format!("error {e:?}")));
    let s = seen.clone();
    reply
        .finished()
        .connect(move |_| s.borrow_mut().push("finished".into()));
    let task = spawn_local(reply.into_future());
    // Wait until part of the body is in, then give up on it.
    let lp = EventLoop::current();
    let _guard = hang_guard();
    lp.block_on(reply.ready_read().next());
    assert!(reply.is_running());
    task.abort();
    assert_eq!(*seen.borrow(), ["error OperationCanceledError", "finished"]);
    assert_eq!(reply.error(), NetworkError::OperationCanceledError);
    // The reply is let go of once control is back in the loop.
    lp.process_events(Some(Duration::ZERO));
    assert!(!slotnet_http::core::AsObject::as_object(&reply).is_alive());
}

#[test]
fn a_body_stream_yields_chunks_as_they_arrive_within_the_read_buffer() {
    const SIZE: usize = 2 * 1024 * 1024;
    const READ_BUFFER: usize = 64 * 1024;
    let server = ScriptedServer::start(|_, s| {
        let body = pattern::pattern(0, SIZE);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n");
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&body);
        Next::Close
    });
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/stream")));
    reply.set_read_buffer_size(READ_BUFFER);
    let most_held = Rc::new(Cell::new(0usize));
    let held = most_held.clone();
    let consumer = spawn_local(async move {
        let mut stream = reply.body_stream();
        let mut body = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("no error");
            held.set(
                held.get()
                    .max(stream.reply().bytes_available() + chunk.len()),
            );
            body.extend_from_slice(&chunk);
            chunks += 1;
            // A slow consumer: give the loop a few turns per chunk.
            for _ in 0..3 {
                slotnet_http::core::yield_now().await;
            }
        }
        assert_eq!(stream.reply().status_code(), Some(200));
        (body, chunks)
    });
    let _guard = hang_guard();
    let (body, chunks) = EventLoop::current().block_on(consumer).unwrap();
    assert_eq!(body.len(), SIZE);
    assert!(body == pattern::pattern(0, SIZE));
    assert!(chunks > 1, "the body came in pieces, not at the end");
    assert!(
        most_held.get() <= READ_BUFFER,
        "the reply held {} bytes with a {READ_BUFFER}-byte read buffer",
        most_held.get()
    );
}

#[test]
fn a_body_stream_of_a_failed_reply_ends_with_its_error() {
    let server = ScriptedServer::start(|_, s| {
        respond(s, "500 Internal Server Error", &[], b"broken");
        Next::KeepAlive
    });
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/fail")));
    let _guard = hang_guard();
    let items = EventLoop::current().block_on(async move {
        let mut stream = reply.body_stream();
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item.map_err(|e| (e.kind(), e.status())));
        }
        items
    });
    assert_eq!(
        items,
        [
            Ok(bytes::Bytes::from_static(b"broken")),
            Err((NetworkError::InternalServerError, Some(500)))
        ]
    );
}

#[test]
fn a_reply_destroyed_while_awaited_resolves_to_an_error() {
    let server = ScriptedServer::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        Next::Hold
    });
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/slow")));
    // The manager goes away, and its replies with it, as in Qt.
    Timer::single_shot(Duration::from_millis(5), move || {
        slotnet_http::core::AsObject::as_object(&manager).destroy();
    });
    let _guard = hang_guard();
    let error = EventLoop::current()
        .block_on(reply.into_future())
        .expect_err("destroyed");
    assert_eq!(error.kind(), NetworkError::OperationCanceledError);
}
