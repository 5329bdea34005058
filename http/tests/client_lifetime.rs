//! Replies are children of their manager, as in Qt: destroying a `NetworkAccessManager`
//! destroys its replies (each emits `destroyed`, none emits `finished`), closes their
//! connections and the idle ones in its pool, and leaves no object behind on the loop.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{AsObject, EventLoop, Timer};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkReply, NetworkRequest};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::h2::{RawAction, RawH2Server};
use slotnet_testkit::reply::run_all;

/// Runs the loop until `done()` holds (checked every few milliseconds); fails the test with
/// `what` if that takes more than 20 s (a hang guard, not a speed requirement).
fn wait_until(what: &str, done: impl Fn() -> bool + 'static) {
    let poll = Timer::new();
    poll.timeout().connect(move |_| {
        if done() {
            EventLoop::current().quit();
        }
    });
    poll.start_interval(Duration::from_millis(2));
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(20));
    let code = EventLoop::current().exec();
    poll.destroy();
    guard.destroy();
    assert_eq!(code, 0, "timed out waiting until {what}");
}

/// What the replies emitted, in order (`destroyed`, `finished`, `errorOccurred`, ...).
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn watch(&self, index: usize, reply: NetworkReply) {
        let log = self.0.clone();
        reply
            .as_object()
            .destroyed()
            .connect(move |_| log.borrow_mut().push(format!("{index}: destroyed")));
        let log = self.0.clone();
        reply
            .finished()
            .connect(move |_| log.borrow_mut().push(format!("{index}: finished")));
        let log = self.0.clone();
        reply
            .error_occurred()
            .connect(move |e| log.borrow_mut().push(format!("{index}: error {e:?}")));
    }

    fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// A server that answers every request with a head announcing 1000 bytes and 10 of them,
/// then waits for the client to close the connection.
fn stalling_server() -> ScriptedServer {
    ScriptedServer::start(|_req, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
        let _ = stream.flush();
        let mut byte = [0u8; 1];
        // Returns on the client's close (or the support server's read timeout).
        while matches!(stream.read(&mut byte), Ok(n) if n > 0) {}
        Next::Close
    })
}

fn h2_request(url: &str) -> NetworkRequest {
    let mut request = NetworkRequest::from_url_str(url);
    request.set_attribute(Attribute::Http2Direct, true);
    request
}

/// Asserts what destroying the manager must have done to `replies`: each emitted
/// `destroyed` once and nothing else, and each handle now reports a dead object.
fn assert_destroyed_silently(log: &Log, replies: &[NetworkReply]) {
    let expected: Vec<String> = (0..replies.len())
        .map(|i| format!("{i}: destroyed"))
        .collect();
    let mut lines = log.lines();
    lines.sort();
    assert_eq!(lines, expected, "only destroyed, no finished or error");
    for reply in replies {
        assert!(!reply.as_object().is_alive());
        assert!(!reply.is_running());
        assert!(!reply.is_finished());
    }
}

#[test]
fn destroying_the_manager_destroys_in_flight_http1_replies_and_closes_their_connections() {
    let server = stalling_server();
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let log = Log::default();
    // Six connections to the host, two requests waiting in the queue for one of them.
    let replies: Vec<NetworkReply> = (0..8)
        .map(|i| manager.get(NetworkRequest::from_url_str(&server.url(&format!("/{i}")))))
        .collect();
    let heads = Rc::new(Cell::new(0));
    for (i, reply) in replies.iter().enumerate() {
        log.watch(i, *reply);
        let heads = heads.clone();
        reply
            .meta_data_changed()
            .connect(move |_| heads.set(heads.get() + 1));
    }
    let h = heads.clone();
    wait_until("six responses have started", move || h.get() == 6);
    assert!(replies.iter().all(|r| r.is_running()));

    manager.as_object().destroy();

    assert_destroyed_silently(&log, &replies);
    assert_eq!(EventLoop::current().object_count(), objects_before);
    wait_until("the server saw its six connections closed", move || {
        server.closed_count() == 6
    });
    assert_eq!(EventLoop::current().object_count(), objects_before);
}

#[test]
fn a_manager_deleted_later_from_a_slot_takes_its_replies_with_it() {
    let server = stalling_server();
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let log = Log::default();
    let replies = [
        manager.get(NetworkRequest::from_url_str(&server.url("/a"))),
        manager.get(NetworkRequest::from_url_str(&server.url("/b"))),
    ];
    for (i, reply) in replies.iter().enumerate() {
        log.watch(i, *reply);
    }
    // Qt's idiom: the manager is deleted from a slot of one of its replies.
    replies[0]
        .ready_read()
        .connect(move |_| manager.as_object().delete_later());
    let gone = manager.as_object();
    wait_until("the manager is gone", move || !gone.is_alive());
    assert_destroyed_silently(&log, &replies);
    wait_until("the server saw both connections closed", move || {
        server.closed_count() == 2
    });
    assert_eq!(EventLoop::current().object_count(), objects_before);
}

#[test]
fn destroying_the_manager_destroys_in_flight_http2_replies_and_closes_the_connection() {
    let server = RawH2Server::start(|_, _| (RawAction::Ignore, None));
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let log = Log::default();
    let replies: Vec<NetworkReply> = (0..3)
        .map(|i| manager.get(h2_request(&server.url(&format!("/{i}")))))
        .collect();
    for (i, reply) in replies.iter().enumerate() {
        log.watch(i, *reply);
    }
    let streams = server.streams.clone();
    wait_until("the server saw three streams", move || {
        streams.lock().unwrap().first().map_or(0, Vec::len) == 3
    });

    manager.as_object().destroy();

    assert_destroyed_silently(&log, &replies);
    assert_eq!(EventLoop::current().object_count(), objects_before);
    let closed = server.closed.clone();
    wait_until("the server saw the connection closed", move || {
        closed.load(std::sync::atomic::Ordering::SeqCst) == 1
    });
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(EventLoop::current().object_count(), objects_before);
}

#[test]
fn destroying_the_manager_closes_its_idle_http1_connections() {
    let server = ScriptedServer::start(|_req, stream| {
        respond(stream, "200 OK", &[], b"hello");
        Next::KeepAlive
    });
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let replies = [
        manager.get(NetworkRequest::from_url_str(&server.url("/a"))),
        manager.get(NetworkRequest::from_url_str(&server.url("/b"))),
    ];
    run_all(&replies);
    assert!(replies.iter().all(|r| r.read_all() == b"hello"));
    let connections = server.connection_count();
    assert!(connections >= 1);
    assert_eq!(server.closed_count(), 0, "kept alive in the pool");

    manager.as_object().destroy();

    // Finished replies go with their manager too.
    assert!(replies.iter().all(|r| !r.as_object().is_alive()));
    assert_eq!(EventLoop::current().object_count(), objects_before);
    wait_until("the server saw the idle connections closed", move || {
        server.closed_count() == connections
    });
}

#[test]
fn destroying_the_manager_closes_its_idle_http2_connection() {
    let server = RawH2Server::start(|_, _| (RawAction::Ok, None));
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let replies = [
        manager.get(h2_request(&server.url("/a"))),
        manager.get(h2_request(&server.url("/b"))),
    ];
    run_all(&replies);
    assert!(replies.iter().all(|r| r.status_code() == Some(200)));
    let closed = server.closed.clone();
    assert_eq!(closed.load(std::sync::atomic::Ordering::SeqCst), 0);

    manager.as_object().destroy();

    assert_eq!(EventLoop::current().object_count(), objects_before);
    wait_until("the server saw the connection closed", move || {
        closed.load(std::sync::atomic::Ordering::SeqCst) == 1
    });
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn a_reply_deleted_before_its_manager_is_not_destroyed_twice() {
    let server = stalling_server();
    let objects_before = EventLoop::current().object_count();
    let manager = NetworkAccessManager::new();
    let log = Log::default();
    let reply = manager.get(NetworkRequest::from_url_str(&server.url("/a")));
    log.watch(0, reply);
    let started = Rc::new(Cell::new(false));
    let s = started.clone();
    reply.meta_data_changed().connect(move |_| s.set(true));
    wait_until("the response has started", move || started.get());
    reply.as_object().destroy();
    manager.as_object().destroy();
    assert_eq!(log.lines(), ["0: destroyed"]);
    assert_eq!(EventLoop::current().object_count(), objects_before);
    wait_until("the server saw the connection closed", move || {
        server.closed_count() == 1
    });
}
