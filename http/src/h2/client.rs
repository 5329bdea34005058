//! One HTTP/2 client connection: h2's connection future and its streams, polled from the loop
//! by a [`Driver`] with one waker key for the connection and one per stream.
//!
//! The application side of each stream is a [`StreamHandler`] (the client engine's job). The
//! connection never calls a handler while it holds a borrow of its own state: every poll
//! step takes what it needs, releases the state, then reports to the handler, so a handler
//! (and the user slots behind it) may abort streams, submit requests or drop the manager.
//!
//! Flow control follows the reply: a stream only takes data from h2 while its handler has
//! room, and releases window capacity only for the bytes it handed over, so a slow reader
//! stops granting window and the server stops sending.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::h2::client::{Connection, ResponseFuture, SendRequest};
use ::h2::{Reason, RecvStream, SendStream};
use bytes::Bytes;
use http::HeaderMap;
use slotnet_core::{Connection as SlotConnection, Timer};
use slotnet_net::{AbstractSocket, SocketError};

use super::{network_error_for_reason, Http2Configuration};
use crate::client::exchange::{network_error_for, BodyDecision, ResponseStart};
use crate::client::settings::PROGRESS_INTERVAL;
use crate::connection_tls::ConnectionTls;
use crate::error::NetworkError;
use slotnet_core::executor::{Driver, KeyMap, Task};
use slotnet_net::async_io::SocketIo;

/// Waker key of the connection itself; streams use keys from 1 up.
const CONN_KEY: u64 = 0;
/// Largest piece of request body taken from the handler at a time.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Rounds of woken keys handled per run before giving the loop a turn.
const MAX_ROUNDS: usize = 8;

/// A request ready to go out on a stream.
pub(crate) struct OutgoingRequest {
    pub request: http::Request<()>,
    /// Whether a body follows the head.
    pub has_body: bool,
    /// The body's length when known.
    pub body_size: Option<u64>,
}

/// The application side of one stream. Calls come from the loop, never while the connection's
/// state is borrowed.
pub(crate) trait StreamHandler {
    /// Whether the handler no longer wants its stream (aborted while queued).
    fn is_done(&self) -> bool;
    /// The request waits for a connection that is being opened.
    fn started_connecting(&self);
    /// The stream opened; `link` lets the application cancel it or resume reading.
    fn opened(&self, link: Rc<StreamLink>);
    /// The request to send (`Err`: a message, the request cannot be expressed).
    fn build_request(&self) -> Result<OutgoingRequest, String>;
    /// The next piece of the body (`None` at the end).
    fn next_body_piece(&self, max: usize) -> io::Result<Option<Bytes>>;
    /// Upload progress.
    fn upload_progress(&self, sent: u64, total: Option<u64>);
    /// The whole request was handed to the connection.
    fn request_sent(&self);
    /// The response head arrived.
    fn response_head(&self, head: ResponseStart<'_>) -> BodyDecision;
    /// How many more body bytes the handler accepts now (0: pause until [`StreamLink`] is
    /// told to resume).
    fn room(&self) -> usize;
    /// Response body bytes.
    fn data(&self, data: Bytes);
    /// The response's trailers.
    fn trailers(&self, trailers: HeaderMap);
    /// The response is complete.
    fn end(&self);
    /// The stream failed. `retry`: the request may be sent again: the server said it did not
    /// process it (REFUSED_STREAM, or above a GOAWAY's last stream), or its connection died
    /// before any response after serving others (a server closing an idle connection).
    fn failed(&self, error: NetworkError, message: String, retry: bool);
    /// The request was never sent (its connection went away first): send it elsewhere.
    fn requeue(&self);
}

/// The application's handle on an open stream (the job keeps it to cancel or resume).
pub(crate) struct StreamLink {
    conn: Weak<H2Conn>,
    key: u64,
    cancelled: Cell<bool>,
}

impl StreamLink {
    /// Resets the stream (RST_STREAM CANCEL) on the next poll; the handler hears nothing more.
    pub(crate) fn cancel(&self) {
        if !self.cancelled.replace(true) {
            self.wake();
        }
    }

    /// The handler has room again: continue delivering.
    pub(crate) fn resume(&self) {
        self.wake();
    }

    /// The TLS session of the stream's connection, if it runs over TLS.
    pub(crate) fn tls(&self) -> Option<Rc<ConnectionTls>> {
        self.conn.upgrade()?.tls.borrow().clone()
    }

    fn wake(&self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.driver.wake(self.key);
        }
    }
}

struct OpenConn {
    send: SendRequest<Bytes>,
    conn: Connection<SocketIo, Bytes>,
}

/// Lifecycle news for the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnEvent {
    /// No new streams go on this connection (GOAWAY, error, idle close): route new requests
    /// elsewhere. Streams in progress may still finish.
    Retired,
    /// The connection is gone: drop it.
    Closed,
}

type Handshake = Pin<
    Box<
        dyn Future<Output = Result<(SendRequest<Bytes>, Connection<SocketIo, Bytes>), ::h2::Error>>,
    >,
>;

/// Where a connection reports its [`ConnEvent`]s (the pool).
pub(crate) type EventSink = Box<dyn Fn(&Rc<H2Conn>, ConnEvent)>;

enum Phase {
    /// Waiting for the transport (TCP connect, TLS handshake).
    Connecting,
    Handshaking(Handshake),
    /// Boxed: h2's connection state is large, the other phases are small.
    Open(Box<OpenConn>),
    Closed,
}

#[derive(Default)]
struct Upload {
    /// Body still being sent.
    streaming: bool,
    has_body: bool,
    total: Option<u64>,
    sent: u64,
    pending: Option<Bytes>,
    last_progress: Option<Instant>,
    /// `request_sent` still to be reported (bodiless requests report it on the first step).
    announce: bool,
}

struct StreamRec {
    handler: Rc<dyn StreamHandler>,
    link: Rc<StreamLink>,
    response: Option<ResponseFuture>,
    body: Option<RecvStream>,
    send: Option<SendStream<Bytes>>,
    upload: Upload,
    decision: BodyDecision,
    got_head: bool,
    /// Interim (1xx) heads received so far (h2 queues them apart from the final head).
    interim: usize,
    /// `poll_data` reported the end; trailers come next.
    data_done: bool,
    /// Polled from h2 but not yet accepted by the handler (window not released for it).
    held: Option<Bytes>,
}

/// One poll step's outcome, reported to the handler with no borrow held.
enum Step {
    /// Waiting for h2 (a waker is registered).
    Pending,
    /// Waiting for the handler to make room.
    Paused,
    /// Nothing to report for this stream (unknown key).
    Gone,
    Progress(u64, Option<u64>),
    RequestSent(Option<(u64, Option<u64>)>),
    Head(http::response::Parts),
    Data(Bytes),
    Trailers(HeaderMap),
    End,
    Failed(NetworkError, String, bool),
    /// Reset on the application's request; nothing to report.
    Cancelled,
}

/// Work decided while the state was borrowed, done afterwards.
enum Deferred {
    Opened(Rc<dyn StreamHandler>, Rc<StreamLink>),
    Fail(Rc<dyn StreamHandler>, NetworkError, String),
    Requeue(Rc<dyn StreamHandler>),
}

/// An HTTP/2 client connection multiplexing [`StreamHandler`]s.
pub(crate) struct H2Conn {
    me: Weak<H2Conn>,
    driver: Driver,
    socket: Rc<dyn AbstractSocket>,
    /// The TLS session underneath (a connection adopted after ALPN chose h2).
    tls: RefCell<Option<Rc<ConnectionTls>>>,
    config: Http2Configuration,
    phase: RefCell<Phase>,
    streams: RefCell<KeyMap<StreamRec>>,
    /// Submitted, not yet seen by a poll (`true`: at the front).
    incoming: RefCell<Vec<(Rc<dyn StreamHandler>, bool)>>,
    /// Waiting for a stream slot.
    queue: RefCell<VecDeque<Rc<dyn StreamHandler>>>,
    next_key: Cell<u64>,
    /// The h2 handshake completed once (so unsent requests may go to a new connection).
    was_open: Cell<bool>,
    /// Streams that completed (a response was received in full).
    completed: Cell<u64>,
    retired: Cell<bool>,
    closed_reported: Cell<bool>,
    /// Why the connection ended, for the streams it takes down.
    close_error: RefCell<Option<(NetworkError, String)>>,
    socket_error: RefCell<Option<(NetworkError, String)>>,
    /// The host the socket connects to (for Qt's "Host HOST not found").
    peer_name: RefCell<String>,
    events: EventSink,
    idle_timer: Cell<Option<Timer>>,
    idle_expiry: Duration,
    slots: RefCell<Vec<SlotConnection>>,
}

impl Drop for H2Conn {
    fn drop(&mut self) {
        // Unregister first: dropping the h2 state below wakes our wakers.
        self.driver.shutdown();
        for slot in self.slots.get_mut().drain(..) {
            slot.disconnect();
        }
        if let Some(t) = self.idle_timer.take() {
            t.destroy();
        }
        self.socket.abort();
        self.socket.as_object().destroy();
    }
}

impl Task for H2Conn {
    fn run(self: Rc<Self>) {
        for _ in 0..MAX_ROUNDS {
            let ready = self.driver.take_ready();
            if ready.is_empty() {
                break;
            }
            for key in ready {
                if key == CONN_KEY {
                    self.poll_connection();
                } else {
                    self.poll_stream(key);
                }
            }
        }
        // Keys still ready have a run posted already (their wake scheduled it).
        self.after_pass();
    }
}

impl H2Conn {
    /// A connection over `socket`, which the caller connects; call [`H2Conn::transport_ready`]
    /// once it is connected (and encrypted), or [`H2Conn::transport_failed`].
    pub(crate) fn new(
        socket: Rc<dyn AbstractSocket>,
        config: &Http2Configuration,
        idle_expiry: Duration,
        events: EventSink,
    ) -> Rc<H2Conn> {
        let conn = Rc::new_cyclic(|me: &Weak<H2Conn>| {
            let task: Weak<dyn Task> = me.clone();
            H2Conn {
                me: me.clone(),
                driver: Driver::new(task),
                socket: socket.clone(),
                tls: RefCell::new(None),
                config: config.clone(),
                phase: RefCell::new(Phase::Connecting),
                streams: RefCell::new(KeyMap::default()),
                incoming: RefCell::new(Vec::new()),
                queue: RefCell::new(VecDeque::new()),
                next_key: Cell::new(CONN_KEY + 1),
                was_open: Cell::new(false),
                completed: Cell::new(0),
                retired: Cell::new(false),
                closed_reported: Cell::new(false),
                close_error: RefCell::new(None),
                socket_error: RefCell::new(None),
                peer_name: RefCell::new(String::new()),
                events,
                idle_timer: Cell::new(None),
                idle_expiry,
                slots: RefCell::new(Vec::new()),
            }
        });
        let weak = Rc::downgrade(&conn);
        let slot = socket.error_occurred().connect(move |e| {
            if let Some(c) = weak.upgrade() {
                c.on_socket_error(*e);
            }
        });
        conn.slots.borrow_mut().push(slot);
        conn
    }

    /// Whether new requests may go on this connection.
    pub(crate) fn is_usable(&self) -> bool {
        !self.retired.get()
    }

    /// Queues a request; it goes out once a stream slot is free.
    pub(crate) fn submit(&self, handler: Rc<dyn StreamHandler>, front: bool) {
        self.incoming.borrow_mut().push((handler, front));
        self.stop_idle_timer();
        self.driver.wake(CONN_KEY);
    }

    /// Records the host the socket connects to (named in a failure's text).
    pub(crate) fn set_peer_name(&self, host: &str) {
        *self.peer_name.borrow_mut() = host.to_owned();
    }

    /// Records the TLS session the connection runs over (streams report it to their
    /// replies).
    pub(crate) fn set_tls(&self, tls: Rc<ConnectionTls>) {
        *self.tls.borrow_mut() = Some(tls);
    }

    /// The TLS session the connection runs over (`None` for h2c).
    pub(crate) fn tls(&self) -> Option<Rc<ConnectionTls>> {
        self.tls.borrow().clone()
    }

    /// The transport is connected: start the HTTP/2 handshake.
    pub(crate) fn transport_ready(&self) {
        if !matches!(*self.phase.borrow(), Phase::Connecting) {
            return;
        }
        let io = SocketIo::new(self.socket.clone());
        let handshake = self
            .config
            .client_builder()
            .handshake::<SocketIo, Bytes>(io);
        *self.phase.borrow_mut() = Phase::Handshaking(Box::pin(handshake));
        self.driver.wake(CONN_KEY);
    }

    /// The transport could not be set up: queued requests fail with `error`.
    pub(crate) fn transport_failed(&self, error: NetworkError, message: String) {
        self.close_error
            .borrow_mut()
            .get_or_insert((error, message));
        self.enter_closed();
    }

    /// Closes the connection now (idle expiry, cache cleared, manager gone).
    pub(crate) fn close(&self) {
        self.close_error.borrow_mut().get_or_insert((
            NetworkError::OperationCanceledError,
            "Connection closed".into(),
        ));
        self.enter_closed();
        self.after_pass();
    }

    /// Whether nothing is in flight or waiting.
    pub(crate) fn is_idle(&self) -> bool {
        self.streams.borrow().is_empty()
            && self.queue.borrow().is_empty()
            && self.incoming.borrow().is_empty()
    }

    fn on_socket_error(&self, error: SocketError) {
        let mapped = network_error_for(error);
        let message = crate::error::transport_error_string(
            mapped,
            &self.peer_name.borrow(),
            &self.socket.error_string(),
        );
        self.socket_error
            .borrow_mut()
            .get_or_insert((mapped, message.clone()));
        if matches!(*self.phase.borrow(), Phase::Connecting) {
            self.transport_failed(mapped, message);
        } else {
            self.driver.wake(CONN_KEY);
        }
    }

    /// Stops taking requests and drops the h2 connection; streams learn it on their next poll.
    fn enter_closed(&self) {
        log::debug!(target: crate::log_target::HTTP2, "HTTP/2 connection with {} closed", self.peer_name.borrow());
        let old = std::mem::replace(&mut *self.phase.borrow_mut(), Phase::Closed);
        drop(old);
        self.socket.abort();
        self.retire();
        // Every stream and the queue must hear about it.
        self.driver.wake(CONN_KEY);
        let keys: Vec<u64> = self.streams.borrow().keys().copied().collect();
        for key in keys {
            self.driver.wake(key);
        }
    }

    fn retire(&self) {
        if self.retired.replace(true) {
            return;
        }
        if let Some(me) = self.me.upgrade() {
            (self.events)(&me, ConnEvent::Retired);
        }
    }

    fn is_closed(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Closed)
    }

    /// The error streams report when the connection took them down.
    fn connection_error(&self) -> (NetworkError, String) {
        if let Some(e) = self.socket_error.borrow().clone() {
            if e.0 != NetworkError::RemoteHostClosedError || self.close_error.borrow().is_none() {
                return e;
            }
        }
        self.close_error.borrow().clone().unwrap_or((
            NetworkError::RemoteHostClosedError,
            "Connection closed".into(),
        ))
    }

    fn classify(&self, e: &::h2::Error, got_head: bool) -> (NetworkError, String, bool) {
        log::debug!(target: crate::log_target::HTTP2, "{} {} ({}): {e}", if e.is_go_away() { "GOAWAY" } else if e.is_reset() { "RST_STREAM" } else { "error" }, if e.is_remote() { "from the peer" } else { "here" }, self.peer_name.borrow());
        if let Some(reason) = e.reason() {
            let refused = e.is_reset() && reason == Reason::REFUSED_STREAM;
            let not_processed = e.is_go_away() && reason == Reason::NO_ERROR;
            if e.is_remote() && !got_head && (refused || not_processed) {
                let (error, message) = network_error_for_reason(reason);
                return (error, message, true);
            }
            if e.is_library() {
                return (
                    NetworkError::ProtocolFailure,
                    format!("HTTP/2 protocol error: {e}"),
                    false,
                );
            }
            let (error, message) = network_error_for_reason(reason);
            return (error, message, false);
        }
        if e.is_io() || self.is_closed() {
            return self.lost(got_head);
        }
        (
            NetworkError::ProtocolFailure,
            format!("HTTP/2 error: {e}"),
            false,
        )
    }

    /// A stream the connection took down. Like HTTP/1.1 on a reused connection (and Qt), a
    /// request that got no response on a connection that already served others is sent once
    /// more: the server most likely closed it as idle while the request was on its way.
    fn lost(&self, got_head: bool) -> (NetworkError, String, bool) {
        let (error, message) = self.connection_error();
        (error, message, !got_head && self.completed.get() > 0)
    }

    // ----- the connection ---------------------------------------------------------------

    fn poll_connection(&self) {
        let mut deferred = Vec::new();
        self.take_incoming(&mut deferred);
        let waker = self.driver.waker(CONN_KEY);
        let mut cx = Context::from_waker(&waker);
        let mut ended: Option<Option<::h2::Error>> = None;
        {
            let mut phase = self.phase.borrow_mut();
            if let Phase::Handshaking(fut) = &mut *phase {
                match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(Ok((send, conn))) => {
                        log::debug!(target: crate::log_target::HTTP2, "HTTP/2 connection with {} started (preface and SETTINGS sent)", self.peer_name.borrow());
                        *phase = Phase::Open(Box::new(OpenConn { send, conn }));
                        self.was_open.set(true);
                    }
                    Poll::Ready(Err(e)) => ended = Some(Some(e)),
                    Poll::Pending => {}
                }
            }
            if let Phase::Open(open) = &mut *phase {
                let OpenConn { send, conn } = &mut **open;
                match Pin::new(conn).poll(&mut cx) {
                    Poll::Ready(Ok(())) => ended = Some(None),
                    Poll::Ready(Err(e)) => ended = Some(Some(e)),
                    Poll::Pending => {
                        if !self.retired.get() {
                            if let Err(e) = self.open_streams(send, &mut cx, &mut deferred) {
                                ended = Some(Some(e));
                            }
                        }
                    }
                }
            }
        }
        if let Some(error) = ended {
            if let Some(e) = error {
                let (code, message, _) = self.classify(&e, true);
                let code = if e.is_io() {
                    self.connection_error()
                } else {
                    (code, message)
                };
                self.close_error.borrow_mut().get_or_insert(code);
            }
            self.enter_closed();
        }
        if self.is_closed() || self.retired.get() {
            // Nothing queued here will be sent: elsewhere if this connection worked, else fail.
            let queued: Vec<_> = self.queue.borrow_mut().drain(..).collect();
            let (error, message) = self.connection_error();
            for handler in queued {
                if self.was_open.get() {
                    deferred.push(Deferred::Requeue(handler));
                } else {
                    deferred.push(Deferred::Fail(handler, error, message.clone()));
                }
            }
        }
        self.run_deferred(deferred);
    }

    fn take_incoming(&self, deferred: &mut Vec<Deferred>) {
        let incoming: Vec<_> = self.incoming.borrow_mut().drain(..).collect();
        if incoming.is_empty() {
            return;
        }
        let connecting = matches!(
            *self.phase.borrow(),
            Phase::Connecting | Phase::Handshaking(_)
        );
        for (handler, front) in incoming {
            if self.is_closed() && !self.was_open.get() {
                // The connection failed before it ever opened (host not found, refused):
                // another one would fail the same way, over and over.
                let (error, message) = self.connection_error();
                deferred.push(Deferred::Fail(handler, error, message));
                continue;
            }
            if self.is_closed() || self.retired.get() {
                deferred.push(Deferred::Requeue(handler));
                continue;
            }
            if connecting {
                handler.started_connecting();
            }
            let mut queue = self.queue.borrow_mut();
            if front {
                queue.push_front(handler);
            } else {
                queue.push_back(handler);
            }
        }
    }

    /// Opens streams for queued requests while the peer's limit and h2 allow.
    fn open_streams(
        &self,
        send: &mut SendRequest<Bytes>,
        cx: &mut Context<'_>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<(), ::h2::Error> {
        loop {
            if self.queue.borrow().is_empty() {
                return Ok(());
            }
            if self.streams.borrow().len() >= send.current_max_send_streams() {
                return Ok(()); // a finishing stream wakes the connection
            }
            match send.poll_ready(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Ready(Ok(())) => {}
            }
            let Some(handler) = self.queue.borrow_mut().pop_front() else {
                return Ok(());
            };
            if handler.is_done() {
                continue;
            }
            let outgoing = match handler.build_request() {
                Ok(o) => o,
                Err(message) => {
                    deferred.push(Deferred::Fail(
                        handler,
                        NetworkError::ProtocolUnknownError,
                        message,
                    ));
                    continue;
                }
            };
            let OutgoingRequest {
                request,
                has_body,
                body_size,
            } = outgoing;
            let summary = log::log_enabled!(target: crate::log_target::HTTP2, log::Level::Debug)
                .then(|| format!("{} {}", request.method(), request.uri()));
            match send.send_request(request, !has_body) {
                Ok((response, stream)) => {
                    if let Some(summary) = summary {
                        log::debug!(target: crate::log_target::HTTP2, "[{}] OPENED stream for {summary} (peer allows {} concurrent streams)", u32::from(stream.stream_id()), send.current_max_send_streams());
                    }
                    let key = self.next_key.get();
                    self.next_key.set(key + 1);
                    let link = Rc::new(StreamLink {
                        conn: self.me.clone(),
                        key,
                        cancelled: Cell::new(false),
                    });
                    let rec = StreamRec {
                        handler: handler.clone(),
                        link: link.clone(),
                        response: Some(response),
                        body: None,
                        send: Some(stream),
                        upload: Upload {
                            streaming: has_body,
                            has_body,
                            total: body_size,
                            announce: !has_body,
                            ..Upload::default()
                        },
                        decision: BodyDecision::Deliver,
                        got_head: false,
                        interim: 0,
                        data_done: false,
                        held: None,
                    };
                    self.streams.borrow_mut().insert(key, rec);
                    deferred.push(Deferred::Opened(handler, link));
                    self.driver.wake(key);
                }
                Err(e) if e.is_go_away() => {
                    // The server is going away: this request goes to a new connection.
                    self.retire();
                    deferred.push(Deferred::Requeue(handler));
                    return Ok(());
                }
                Err(e) => {
                    let (error, message, _) = self.classify(&e, false);
                    deferred.push(Deferred::Fail(handler, error, message));
                }
            }
        }
    }

    fn run_deferred(&self, deferred: Vec<Deferred>) {
        for d in deferred {
            match d {
                Deferred::Opened(handler, link) => handler.opened(link),
                Deferred::Fail(handler, error, message) => handler.failed(error, message, false),
                Deferred::Requeue(handler) => handler.requeue(),
            }
        }
    }

    /// End of a run: report closure, start the idle timer.
    fn after_pass(&self) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        if self.is_closed() {
            if self.is_idle() && !self.closed_reported.replace(true) {
                self.stop_idle_timer();
                (self.events)(&me, ConnEvent::Closed);
            }
            return;
        }
        if self.is_idle() && !self.retired.get() && self.was_open.get() {
            self.start_idle_timer();
        } else if self.is_idle() && self.retired.get() {
            // Drained after a GOAWAY: nothing more will happen on it.
            self.close();
        }
    }

    fn start_idle_timer(&self) {
        if let Some(t) = self.idle_timer.get() {
            if !t.is_active() {
                t.start();
            }
            return;
        }
        let timer = Timer::new();
        timer.set_single_shot(true);
        timer.set_interval(self.idle_expiry);
        let weak = self.me.clone();
        timer.timeout().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                if c.is_idle() {
                    c.close();
                }
            }
        });
        timer.start();
        self.idle_timer.set(Some(timer));
    }

    fn stop_idle_timer(&self) {
        if let Some(t) = self.idle_timer.get() {
            t.stop();
        }
    }

    // ----- streams ----------------------------------------------------------------------

    fn poll_stream(&self, key: u64) {
        let waker = self.driver.waker(key);
        let mut cx = Context::from_waker(&waker);
        loop {
            let (step, handler) = self.step(key, &mut cx);
            let Some(handler) = handler else {
                return;
            };
            match step {
                Step::Gone | Step::Cancelled | Step::Paused => {}
                Step::Pending => {
                    if self.is_closed() {
                        // The connection is gone and h2 has nothing more for this stream.
                        let got_head = self.remove_stream(key).is_some_and(|r| r.got_head);
                        let (error, message, retry) = self.lost(got_head);
                        handler.failed(error, message, retry);
                    }
                }
                Step::Progress(sent, total) => {
                    handler.upload_progress(sent, total);
                    continue;
                }
                Step::RequestSent(progress) => {
                    if let Some((sent, total)) = progress {
                        handler.upload_progress(sent, total);
                    }
                    handler.request_sent();
                    continue;
                }
                Step::Head(parts) => {
                    let decision = handler.response_head(ResponseStart::from_h2(&parts));
                    if let Some(rec) = self.streams.borrow_mut().get_mut(&key) {
                        if decision == BodyDecision::Stop {
                            // Reset by the next step.
                            rec.link.cancelled.set(true);
                        } else {
                            rec.decision = decision;
                        }
                    }
                    continue;
                }
                Step::Data(data) => {
                    handler.data(data);
                    continue;
                }
                Step::Trailers(trailers) => {
                    handler.trailers(trailers);
                    handler.end();
                }
                Step::End => handler.end(),
                Step::Failed(error, message, unprocessed) => {
                    handler.failed(error, message, unprocessed)
                }
            }
            return;
        }
    }

    fn remove_stream(&self, key: u64) -> Option<StreamRec> {
        let rec = self.streams.borrow_mut().remove(&key);
        if rec.is_some() {
            self.driver.forget(key);
            // A slot is free: queued requests may go.
            self.driver.wake(CONN_KEY);
        }
        rec
    }

    /// One step of a stream; the handler is returned to report the step to.
    fn step(&self, key: u64, cx: &mut Context<'_>) -> (Step, Option<Rc<dyn StreamHandler>>) {
        let mut removed = None;
        let result = {
            let mut streams = self.streams.borrow_mut();
            let Some(rec) = streams.get_mut(&key) else {
                return (Step::Gone, None);
            };
            let handler = rec.handler.clone();
            let step = Self::advance(rec, cx, self);
            if matches!(
                step,
                Step::End | Step::Trailers(_) | Step::Failed(..) | Step::Cancelled
            ) {
                if matches!(step, Step::End | Step::Trailers(_)) {
                    self.completed.set(self.completed.get() + 1);
                }
                removed = streams.remove(&key);
            }
            (step, Some(handler))
        };
        if let Some(mut rec) = removed {
            self.driver.forget(key);
            self.driver.wake(CONN_KEY);
            if let Some(send) = rec.send.as_mut() {
                if rec.upload.streaming || rec.link.cancelled.get() {
                    // Stop an upload the response made pointless, or an aborted exchange.
                    send.send_reset(Reason::CANCEL);
                }
            }
            drop(rec);
        }
        result
    }

    /// Takes the interim (1xx) heads h2 received (it skips them when the final head is
    /// polled, without a limit): beyond [`MAX_INTERIM_RESPONSES`] the reply fails as over
    /// HTTP/1.1 (the stream is reset when the step removes it).
    ///
    /// [`MAX_INTERIM_RESPONSES`]: crate::h1::MAX_INTERIM_RESPONSES
    fn count_interim(
        interim: &mut usize,
        response: &mut ResponseFuture,
        cx: &mut Context<'_>,
    ) -> Option<Step> {
        while let Poll::Ready(Some(Ok(_))) = response.poll_informational(cx) {
            *interim += 1;
            if *interim > crate::h1::MAX_INTERIM_RESPONSES {
                let e = crate::h1::H1Error::TooManyInterimResponses;
                return Some(Step::Failed(
                    NetworkError::ProtocolFailure,
                    format!("Invalid response: {e}"),
                    false,
                ));
            }
        }
        None
    }

    fn advance(rec: &mut StreamRec, cx: &mut Context<'_>, conn: &H2Conn) -> Step {
        // Aborted by the application, or finished by the handler on its own (a body it
        // could not decode): stop the stream.
        if rec.link.cancelled.get() || (rec.got_head && rec.handler.is_done()) {
            rec.link.cancelled.set(true);
            return Step::Cancelled;
        }
        if std::mem::take(&mut rec.upload.announce) {
            return Step::RequestSent(None);
        }
        if rec.upload.streaming {
            if let Some(step) = Self::upload(rec, cx) {
                return step;
            }
        }
        if let Some(response) = rec.response.as_mut() {
            if let Some(step) = Self::count_interim(&mut rec.interim, response, cx) {
                rec.link.cancelled.set(true);
                return step;
            }
            return match Pin::new(response).poll(cx) {
                Poll::Pending => Step::Pending,
                Poll::Ready(Ok(resp)) => {
                    let (parts, body) = resp.into_parts();
                    log::debug!(target: crate::log_target::HTTP2, "[{}] < {}", u32::from(body.stream_id()), parts.status);
                    rec.response = None;
                    if let Some(e) = head_over_limits(&parts.headers) {
                        // The stream is reset (CANCEL) when the step removes it.
                        rec.link.cancelled.set(true);
                        return Step::Failed(
                            NetworkError::ProtocolFailure,
                            format!("Invalid response: {e}"),
                            false,
                        );
                    }
                    rec.body = Some(body);
                    rec.got_head = true;
                    Step::Head(parts)
                }
                Poll::Ready(Err(e)) => {
                    let (error, mut message, unprocessed) = conn.classify(&e, false);
                    if let Some(refused) = refused_head_message(&e) {
                        message = refused;
                    }
                    Step::Failed(error, message, unprocessed)
                }
            };
        }
        let Some(body) = rec.body.as_mut() else {
            return Step::Pending;
        };
        if rec.data_done {
            return match body.poll_trailers(cx) {
                Poll::Pending => Step::Pending,
                Poll::Ready(Ok(Some(trailers))) => Step::Trailers(trailers),
                Poll::Ready(Ok(None)) => Step::End,
                Poll::Ready(Err(e)) => {
                    let (error, message, _) = conn.classify(&e, true);
                    Step::Failed(error, message, false)
                }
            };
        }
        let deliver = rec.decision == BodyDecision::Deliver;
        if deliver {
            let room = rec.handler.room();
            if let Some(held) = rec.held.as_mut() {
                if room == 0 {
                    return Step::Paused;
                }
                let n = room.min(held.len());
                let part = held.split_to(n);
                if held.is_empty() {
                    rec.held = None;
                }
                let _ = body.flow_control().release_capacity(n);
                return Step::Data(part);
            }
            if room == 0 {
                return Step::Paused;
            }
        }
        loop {
            match body.poll_data(cx) {
                Poll::Pending => return Step::Pending,
                Poll::Ready(None) => {
                    rec.data_done = true;
                    // Trailers (or the end) are known now; a stream that ended with its
                    // DATA frame reports the end on this same step.
                    return match body.poll_trailers(cx) {
                        Poll::Pending => Step::Pending,
                        Poll::Ready(Ok(Some(trailers))) => Step::Trailers(trailers),
                        Poll::Ready(Ok(None)) => Step::End,
                        Poll::Ready(Err(e)) => {
                            let (error, message, _) = conn.classify(&e, true);
                            Step::Failed(error, message, false)
                        }
                    };
                }
                Poll::Ready(Some(Err(e))) => {
                    let (error, message, _) = conn.classify(&e, true);
                    return Step::Failed(error, message, false);
                }
                Poll::Ready(Some(Ok(mut data))) => {
                    if data.is_empty() {
                        continue;
                    }
                    if !deliver {
                        let _ = body.flow_control().release_capacity(data.len());
                        continue;
                    }
                    let room = rec.handler.room();
                    if data.len() > room {
                        rec.held = Some(data.split_off(room));
                    }
                    let _ = body.flow_control().release_capacity(data.len());
                    log::trace!(target: crate::log_target::HTTP2, "[{}] DATA of {} bytes taken: window released", u32::from(body.stream_id()), data.len());
                    return Step::Data(data);
                }
            }
        }
    }

    /// Sends request body within the stream's send capacity. Returns a step to report, or
    /// `None` when blocked on capacity or done.
    fn upload(rec: &mut StreamRec, cx: &mut Context<'_>) -> Option<Step> {
        let Some(send) = rec.send.as_mut() else {
            rec.upload.streaming = false;
            return None;
        };
        let up = &mut rec.upload;
        loop {
            if up.pending.is_none() {
                match rec.handler.next_body_piece(UPLOAD_CHUNK) {
                    Ok(Some(piece)) if piece.is_empty() => continue,
                    Ok(Some(piece)) => up.pending = Some(piece),
                    Ok(None) => {
                        up.streaming = false;
                        if send.send_data(Bytes::new(), true).is_err() {
                            return None; // the receive side reports what happened
                        }
                        let total = up.total.unwrap_or(up.sent);
                        return Some(Step::RequestSent(
                            up.has_body.then_some((up.sent, Some(total))),
                        ));
                    }
                    Err(e) => {
                        return Some(Step::Failed(
                            NetworkError::UnknownContentError,
                            format!("Error reading the request body: {e}"),
                            false,
                        ));
                    }
                }
            }
            let Some(piece) = up.pending.as_mut() else {
                continue;
            };
            send.reserve_capacity(piece.len());
            let capacity = send.capacity();
            if capacity == 0 {
                match send.poll_capacity(cx) {
                    Poll::Ready(Some(Ok(_))) => continue,
                    Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                        // The stream was reset or closed: stop; the response side reports.
                        up.streaming = false;
                        up.pending = None;
                        return None;
                    }
                    Poll::Pending => return None,
                }
            }
            let n = capacity.min(piece.len());
            let chunk = piece.split_to(n);
            if piece.is_empty() {
                up.pending = None;
            }
            let complete = up.pending.is_none() && up.total == Some(up.sent + n as u64);
            if send.send_data(chunk, complete).is_err() {
                up.streaming = false;
                up.pending = None;
                return None;
            }
            up.sent += n as u64;
            if complete {
                up.streaming = false;
                return Some(Step::RequestSent(Some((up.sent, up.total))));
            }
            let now = Instant::now();
            let due = up
                .last_progress
                .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
            if due {
                up.last_progress = Some(now);
                return Some(Step::Progress(up.sent, up.total));
            }
        }
    }
}

/// Whether a response head goes beyond the limits an HTTP/1.1 head has
/// ([`Limits`](crate::h1::Limits)): the same error, with the same words, whichever version
/// carried the response. Fields count with `": "` and CRLF, as on the HTTP/1.1 wire.
fn head_over_limits(headers: &HeaderMap) -> Option<crate::h1::H1Error> {
    let limits = crate::h1::Limits::default();
    if headers.len() > limits.max_headers {
        return Some(crate::h1::H1Error::TooManyHeaders);
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (bytes > limits.max_head_bytes).then_some(crate::h1::H1Error::HeadersTooLarge)
}

/// The message for an error h2 raised by itself while a response head was awaited, when it
/// comes from the head: a header list beyond [`response_header_list_size`] or a malformed
/// one (the stream is reset with PROTOCOL_ERROR), a header block far beyond it or spread
/// over too many CONTINUATION frames (the connection ends with ENHANCE_YOUR_CALM).
///
/// [`response_header_list_size`]: super::response_header_list_size
fn refused_head_message(e: &::h2::Error) -> Option<String> {
    if !e.is_library() {
        return None;
    }
    match e.reason()? {
        Reason::PROTOCOL_ERROR if e.is_reset() => {
            Some("Invalid response: header section too large or malformed".to_owned())
        }
        Reason::ENHANCE_YOUR_CALM if e.is_go_away() => {
            Some(format!("Invalid response: header section too large ({e})"))
        }
        _ => None,
    }
}
