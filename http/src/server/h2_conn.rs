//! One HTTP/2 connection of the server (TLS with ALPN "h2", or cleartext prior knowledge):
//! the h2 crate's server connection driven from the loop (a [`spawn_local`] task), every
//! stream turned into an [`HttpServerRequest`] for the server's handler.
//!
//! Limits, as for HTTP/1.1: the header list (h2's `SETTINGS_MAX_HEADER_LIST_SIZE`, then the
//! exact field count and size: 431), the URL (414), the body (413 as soon as the declared or
//! received length exceeds `max_body_size`), and `max_concurrent_streams` from the
//! [`Http2Configuration`](crate::h2::Http2Configuration). Request bodies buffered by one connection are bounded as a whole
//! ([`BODY_BUDGET_FACTOR`]).
//!
//! Rapid reset (CVE-2023-44487): a client that opens streams and resets them at once makes a
//! server start work whose stream no longer counts towards the concurrency limit. Three
//! defences, each ending the connection with GOAWAY(ENHANCE_YOUR_CALM), all from
//! [`HttpServerConfiguration`] (the builder and guard every HTTP/2 server connection gets,
//! [`HttpServerConfiguration::h2_builder`] and [`HttpServerConfiguration::reset_guard`]):
//! - h2's own limits: streams reset while waiting to be accepted
//!   (`http2_max_pending_accept_reset_streams`) and resets h2 had to send for the client's
//!   protocol errors (`http2_max_local_error_reset_streams`);
//! - more streams being answered than the client may have open: a client can only get there
//!   by resetting streams the server is still working on (handlers answering later);
//! - too many RST_STREAM frames from the client (`http2_max_reset_streams` per
//!   `http2_reset_window`), counted on the input path ([`CheckedIo`]).
//!
//! Idle connections (no stream for `keep_alive_timeout`) get a graceful GOAWAY. A connection
//! that owes output (its socket's queue, or streams waiting for the client's window) and
//! wrote nothing for `send_timeout` is dropped. Memory for a client that does not read is
//! bounded per connection: h2's send buffers share `http2_send_buffer_size`, larger bodies
//! are fed to h2 as the window opens, and past `http2_max_buffered_output` complete requests
//! wait undispatched.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use ::h2::server::{Connection as H2ServerConnection, SendResponse};
use ::h2::{Reason, RecvStream};
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, COOKIE, EXPECT, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use slotnet_core::{deadline_after, EventLoop, Timer};
use slotnet_net::async_io::SocketIo;
use slotnet_net::{AbstractSocket, SocketState};

use super::abstract_server::{ServerCore, Settings};
use super::config::HttpServerConfiguration;
use super::h2_stream::{error_response, H2Stream};
use super::request::{ConnectionInfo, HttpServerRequest};
use super::responder::HttpServerResponder;
use crate::h1::ByteStr;
use crate::h2::io::CheckedIo;
use crate::h2::precheck::FramePrecheck;
use slotnet_core::{spawn_local, AbortHandle};

/// The request bodies one connection buffers (bodies still arriving) are bounded by this
/// many times `max_body_size`; a stream that would go beyond gets 503.
pub(crate) const BODY_BUDGET_FACTOR: u64 = 4;
/// Bounds of one stream's h2 send buffer (its share of `http2_send_buffer_size`).
const SEND_BUFFER_MIN: usize = 16 * 1024;
const SEND_BUFFER_MAX: usize = 256 * 1024;
/// The socket's read buffer: HTTP/2 flow control bounds the rest.
const SOCKET_READ_BUFFER: usize = 256 * 1024;
/// h2 counts 32 bytes of overhead per header field in the header list size.
const FIELD_OVERHEAD: usize = 32;

/// Counts a stream as being answered while it lives (see [`H2Connection::stream_started`]).
pub(crate) struct ActiveGuard {
    conn: Weak<H2Connection>,
}

impl ActiveGuard {
    fn new(conn: &H2Connection) -> ActiveGuard {
        conn.stream_started();
        ActiveGuard {
            conn: conn.weak.clone(),
        }
    }

    /// The connection the stream belongs to.
    pub(crate) fn connection(&self) -> Weak<H2Connection> {
        self.conn.clone()
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.stream_done();
        }
    }
}

/// Counts a stream as waiting for the client's flow-control window while it lives (see
/// [`H2Connection::window_wait`]): output is owed, so the send timeout applies.
pub(crate) struct WindowWait {
    conn: Weak<H2Connection>,
}

impl Drop for WindowWait {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.upgrade() {
            conn.window_waits
                .set(conn.window_waits.get().saturating_sub(1));
        }
    }
}

/// A complete request waiting for the output to drain (see `http2_max_buffered_output`).
struct Deferred {
    parts: http::request::Parts,
    body: Bytes,
    respond: SendResponse<Bytes>,
    guard: ActiveGuard,
}

/// Requests from the loop to the connection's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Serving normally.
    None,
    /// Graceful GOAWAY: finish the streams in flight, accept no new ones.
    Graceful,
    /// GOAWAY(ENHANCE_YOUR_CALM) and close: the client is abusive.
    Calm,
}

pub(crate) struct H2Connection {
    weak: Weak<H2Connection>,
    id: u64,
    server: Weak<ServerCore>,
    pub(crate) settings: Rc<Settings>,
    pub(crate) config: Rc<HttpServerConfiguration>,
    socket: Rc<dyn AbstractSocket>,
    info: ConnectionInfo,
    task: RefCell<Option<AbortHandle>>,
    timer: Timer,
    /// What the task should do on its next poll.
    ending: Cell<Ending>,
    /// The ending the task already passed to h2.
    ended: Cell<Ending>,
    /// The task finished (or was aborted); the socket is closing.
    finished: Cell<bool>,
    /// The socket is gone and the server was told.
    closed: Cell<bool>,
    /// Streams accepted whose answer is not complete.
    active: Cell<usize>,
    /// The client's stream limit (our SETTINGS_MAX_CONCURRENT_STREAMS).
    max_streams: usize,
    /// Request body bytes buffered for streams whose body is still arriving.
    body_bytes: Cell<u64>,
    last_activity: Cell<Instant>,
    /// Socket writes so far (`bytes_written` emissions), and the count the timer last saw.
    writes: Cell<u64>,
    writes_seen: Cell<u64>,
    /// When the timer last saw output progress (or nothing owed).
    progress_at: Cell<Instant>,
    /// Streams waiting for the client's window (see [`WindowWait`]).
    window_waits: Cell<usize>,
    /// Answer bytes queued in the streams' outboxes (see `http2_max_buffered_output`).
    outbox_bytes: Cell<usize>,
    /// Complete requests waiting for the output to drain below `http2_max_buffered_output`.
    deferred: RefCell<VecDeque<Deferred>>,
    /// A call to dispatch the deferred requests is posted.
    resume_posted: Cell<bool>,
    /// When the graceful GOAWAY went out (the connection is dropped if it lingers).
    goaway_at: Cell<Option<Instant>>,
}

impl H2Connection {
    /// Serves HTTP/2 on `socket` (its preface may already be buffered) for `server`.
    pub(crate) fn start(
        server: &Rc<ServerCore>,
        id: u64,
        socket: Rc<dyn AbstractSocket>,
        info: ConnectionInfo,
    ) -> Option<Rc<H2Connection>> {
        if socket.state() != SocketState::Connected {
            return None;
        }
        let config = server.config();
        let h2config = config.http2.clone();
        socket.set_read_buffer_size(SOCKET_READ_BUFFER);
        let timer = Timer::with_parent(&socket.as_object());
        timer.set_single_shot(true);
        let now = Instant::now();
        let conn = Rc::new_cyclic(|weak| H2Connection {
            weak: weak.clone(),
            id,
            server: Rc::downgrade(server),
            settings: server.settings().clone(),
            config,
            socket,
            info,
            task: RefCell::new(None),
            timer,
            ending: Cell::new(Ending::None),
            ended: Cell::new(Ending::None),
            finished: Cell::new(false),
            closed: Cell::new(false),
            active: Cell::new(0),
            max_streams: h2config.max_concurrent_streams() as usize,
            body_bytes: Cell::new(0),
            last_activity: Cell::new(now),
            writes: Cell::new(0),
            writes_seen: Cell::new(0),
            progress_at: Cell::new(now),
            window_waits: Cell::new(0),
            outbox_bytes: Cell::new(0),
            deferred: RefCell::new(VecDeque::new()),
            resume_posted: Cell::new(false),
            goaway_at: Cell::new(None),
        });
        let weak = conn.weak.clone();
        conn.socket.bytes_written().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.writes.set(c.writes.get() + 1);
                c.resume_deferred_later();
            }
        });
        let weak = conn.weak.clone();
        conn.socket.disconnected().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_disconnected();
            }
        });
        let weak = conn.weak.clone();
        conn.timer.timeout().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_timer();
            }
        });
        conn.rearm(conn.config.keep_alive_timeout);
        let builder = conn.builder();
        let precheck = FramePrecheck::new(h2config.max_frame_size(), conn.header_list_size());
        let me = conn.clone();
        let task = spawn_local(async move { me.run(builder, precheck).await }).abort_handle();
        *conn.task.borrow_mut() = Some(task);
        Some(conn)
    }

    fn builder(&self) -> ::h2::server::Builder {
        let mut builder = self.config.h2_builder();
        let send_buffer = (self.config.http2_send_buffer_size / self.max_streams.max(1))
            .clamp(SEND_BUFFER_MIN, SEND_BUFFER_MAX);
        builder
            .max_send_buffer_size(send_buffer)
            .max_header_list_size(u32::try_from(self.header_list_size()).unwrap_or(u32::MAX));
        builder
    }

    /// SETTINGS_MAX_HEADER_LIST_SIZE: the same header sections as over HTTP/1.1 fit (h2
    /// counts 32 bytes per field on top of name and value); the exact limits are checked on
    /// each request.
    fn header_list_size(&self) -> usize {
        self.config
            .max_header_bytes
            .saturating_add(self.config.max_header_count.saturating_mul(FIELD_OVERHEAD))
    }

    /// The connection's task: handshake, then accept streams until h2 says it is over.
    async fn run(self: Rc<Self>, builder: ::h2::server::Builder, precheck: FramePrecheck) {
        let resets = self.config.reset_guard();
        let (io, verdict) = CheckedIo::new(SocketIo::new(self.socket.clone()), precheck, resets);
        if let Ok(mut conn) = builder.handshake::<CheckedIo, Bytes>(io).await {
            poll_fn(|cx| loop {
                self.last_activity.set(Instant::now());
                // A frame the pre-check rejected: GOAWAY with the RFC's code.
                if let Some(reason) = verdict.take() {
                    log::debug!(target: crate::log_target::HTTPSERVER, "HTTP/2 protocol error from the client: GOAWAY {reason:?}");
                    if reason == Reason::ENHANCE_YOUR_CALM {
                        // Over the reset limit: refuse what is still accepted.
                        self.ending.set(Ending::Calm);
                        self.ended.set(Ending::Calm);
                    }
                    conn.abrupt_shutdown(reason);
                }
                self.pass_ending(&mut conn);
                match conn.poll_accept(cx) {
                    // Read in the same bytes as a reset past the limit: refused.
                    Poll::Ready(Some(Ok((_, mut respond)))) if verdict.get().is_some() => {
                        respond.send_reset(Reason::REFUSED_STREAM);
                    }
                    Poll::Ready(Some(Ok((request, respond)))) => self.accept(request, respond),
                    Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            })
            .await;
        }
        self.on_task_finished();
    }

    /// Hands a requested GOAWAY to h2 (once per kind).
    fn pass_ending(&self, conn: &mut H2ServerConnection<CheckedIo, Bytes>) {
        let ending = self.ending.get();
        if ending == self.ended.get() {
            return;
        }
        self.ended.set(ending);
        match ending {
            Ending::None => {}
            Ending::Graceful => {
                self.goaway_at.set(Some(Instant::now()));
                conn.graceful_shutdown();
            }
            Ending::Calm => conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM),
        }
    }

    fn request_ending(&self, ending: Ending) {
        let current = self.ending.get();
        // Calm wins over graceful; nothing undoes either.
        if current == Ending::Calm || current == ending || self.finished.get() {
            return;
        }
        self.ending.set(ending);
        if let Some(task) = self.task.borrow().as_ref() {
            task.wake();
        }
    }

    /// Server shutdown: GOAWAY, let the streams in flight finish, then close.
    pub(crate) fn begin_drain(&self) {
        self.request_ending(Ending::Graceful);
    }

    /// Closes at once (server destroyed).
    pub(crate) fn abort(&self) {
        self.finished.set(true);
        let task = self.task.borrow_mut().take();
        if let Some(task) = task {
            task.abort();
        }
        self.socket.abort();
    }

    /// The client misbehaves (rapid reset): GOAWAY(ENHANCE_YOUR_CALM), then close.
    pub(crate) fn calm_down(&self) {
        self.request_ending(Ending::Calm);
    }

    /// Whether answers can still reach the client.
    pub(crate) fn is_open(&self) -> bool {
        !self.finished.get() && self.ending.get() != Ending::Calm
    }

    /// Answer bytes held in memory for the client: the streams' outboxes and the socket's
    /// queue (h2's own buffers, bounded by `http2_send_buffer_size`, are not visible here).
    pub(crate) fn output_held(&self) -> usize {
        self.socket.bytes_to_write() + self.outbox_bytes.get()
    }

    /// A stream's outbox grew by `added` and shrank by `removed` bytes.
    pub(crate) fn outbox_changed(&self, added: usize, removed: usize) {
        self.outbox_bytes
            .set((self.outbox_bytes.get() + added).saturating_sub(removed));
        if removed > 0 {
            self.resume_deferred_later();
        }
    }

    /// Whether the output is over its budget: complete requests wait.
    fn output_full(&self) -> bool {
        self.output_held() >= self.config.http2_max_buffered_output
    }

    /// Dispatches deferred requests from the loop (never from inside h2's polling) once the
    /// output went below its budget.
    fn resume_deferred_later(&self) {
        if self.deferred.borrow().is_empty() || self.output_full() {
            return;
        }
        if self.resume_posted.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        EventLoop::current().post(move || {
            if let Some(conn) = weak.upgrade() {
                conn.resume_posted.set(false);
                conn.resume_deferred();
            }
        });
    }

    fn resume_deferred(&self) {
        while !self.finished.get() && !self.output_full() {
            let Some(next) = self.deferred.borrow_mut().pop_front() else {
                return;
            };
            self.dispatch_now(next.parts, next.body, next.respond, next.guard);
        }
    }

    /// Since when the connection has had no stream, if it has none.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        (self.is_open() && self.active.get() == 0).then(|| self.last_activity.get())
    }

    // ----- streams ----------------------------------------------------------------------

    /// Marks a stream as waiting for the client's window until the guard drops.
    pub(crate) fn window_wait(&self) -> WindowWait {
        self.window_waits.set(self.window_waits.get() + 1);
        WindowWait {
            conn: self.weak.clone(),
        }
    }

    /// Whether output is owed and nothing was written for `send_timeout` (checked by the
    /// timer, which runs at least every half of it while output is owed).
    fn send_stalled(&self, now: Instant) -> bool {
        let owed = self.window_waits.get() > 0 || self.socket.bytes_to_write() > 0;
        let writes = self.writes.get();
        if !owed || writes != self.writes_seen.replace(writes) {
            self.progress_at.set(now);
            return false;
        }
        now >= deadline_after(self.progress_at.get(), self.config.send_timeout)
    }

    /// Restarts the timer: in `interval`, or sooner while output is owed (the send timeout
    /// is checked on each run).
    fn rearm(&self, interval: Duration) {
        let check = self.config.send_timeout / 2;
        self.timer
            .start_interval(interval.min(check.max(Duration::from_millis(10))));
    }

    /// A stream whose answer started (balanced by [`H2Connection::stream_done`]).
    pub(crate) fn stream_started(&self) {
        self.active.set(self.active.get() + 1);
        // Beyond its own limit, the client must have reset streams we are still answering.
        if self.active.get() > self.max_streams.saturating_mul(2).max(8) {
            self.calm_down();
        }
    }

    /// A stream's answer is complete (or abandoned).
    pub(crate) fn stream_done(&self) {
        self.active.set(self.active.get().saturating_sub(1));
    }

    fn accept(&self, request: Request<RecvStream>, mut respond: SendResponse<Bytes>) {
        let guard = ActiveGuard::new(self);
        if self.ending.get() == Ending::Calm {
            respond.send_reset(Reason::REFUSED_STREAM);
            return;
        }
        let (parts, body) = request.into_parts();
        if let Some(status) = self.check_head(&parts) {
            return error_response(&mut respond, status, &self.config);
        }
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_body_size) {
            return error_response(&mut respond, StatusCode::PAYLOAD_TOO_LARGE, &self.config);
        }
        if body.is_end_stream() {
            return self.dispatch(parts, Bytes::new(), respond, guard);
        }
        let expects_continue = parts
            .headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue {
            let interim = Response::builder()
                .status(StatusCode::CONTINUE)
                .body(())
                .unwrap_or_default();
            let _ = respond.send_informational(interim);
        }
        let Some(me) = self.weak.upgrade() else {
            return;
        };
        spawn_local(async move {
            me.receive(parts, body, respond, guard).await;
        });
    }

    /// The limits a request head must respect: the status of the refusal, if refused.
    fn check_head(&self, parts: &http::request::Parts) -> Option<StatusCode> {
        let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if target_len > self.config.max_url_size {
            return Some(StatusCode::URI_TOO_LONG);
        }
        let fields: usize = parts
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        if parts.headers.len() > self.config.max_header_count
            || fields > self.config.max_header_bytes
        {
            return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        None
    }

    /// Reads a request body (bounded), then dispatches the request.
    async fn receive(
        self: Rc<Self>,
        parts: http::request::Parts,
        mut body: RecvStream,
        mut respond: SendResponse<Bytes>,
        guard: ActiveGuard,
    ) {
        let limit = self.config.max_body_size;
        let budget = limit.saturating_mul(BODY_BUDGET_FACTOR);
        let mut received = BytesMut::new();
        let refusal = loop {
            let chunk = match poll_fn(|cx| body.poll_data(cx)).await {
                None => break None,
                Some(Ok(chunk)) => chunk,
                Some(Err(_)) => {
                    self.unbuffer(received.len());
                    return;
                }
            };
            // Given back at once: the limits below bound what is kept.
            let _ = body.flow_control().release_capacity(chunk.len());
            let total = received.len() as u64 + chunk.len() as u64;
            if total > limit {
                break Some(StatusCode::PAYLOAD_TOO_LARGE);
            }
            let buffered = self.body_bytes.get() + chunk.len() as u64;
            if buffered > budget {
                break Some(StatusCode::SERVICE_UNAVAILABLE);
            }
            self.body_bytes.set(buffered);
            received.extend_from_slice(&chunk);
        };
        self.unbuffer(received.len());
        match refusal {
            // The rest of the body is refused: h2 follows the answer with RST_STREAM(NO_ERROR).
            Some(status) => error_response(&mut respond, status, &self.config),
            None => self.dispatch(parts, received.freeze(), respond, guard),
        }
    }

    fn unbuffer(&self, n: usize) {
        self.body_bytes
            .set(self.body_bytes.get().saturating_sub(n as u64));
    }

    /// Hands a complete request to the server's handler, or keeps it (its head and body,
    /// bounded by the stream and body limits) while the output is over its budget.
    fn dispatch(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        respond: SendResponse<Bytes>,
        guard: ActiveGuard,
    ) {
        if self.output_full() || !self.deferred.borrow().is_empty() {
            self.deferred.borrow_mut().push_back(Deferred {
                parts,
                body,
                respond,
                guard,
            });
            return;
        }
        self.dispatch_now(parts, body, respond, guard);
    }

    fn dispatch_now(
        &self,
        parts: http::request::Parts,
        body: Bytes,
        respond: SendResponse<Bytes>,
        guard: ActiveGuard,
    ) {
        let http::request::Parts {
            method,
            uri,
            mut headers,
            ..
        } = parts;
        let target = match uri.path_and_query() {
            Some(p) => ByteStr::from(p.as_str()),
            None if method == Method::CONNECT => {
                ByteStr::from(uri.authority().map_or("", |a| a.as_str()))
            }
            None => ByteStr::from("/"),
        };
        if !headers.contains_key(HOST) {
            // `:authority` stands in for `Host` (RFC 9113, 8.3.1), so `url()` and handlers
            // reading `Host` work the same over both versions.
            if let Some(value) = uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                headers.insert(HOST, value);
            }
        }
        join_cookies(&mut headers);
        let request = Rc::new(HttpServerRequest::new(
            method,
            target,
            Version::HTTP_2,
            headers,
            body,
            self.info,
        ));
        let stream = H2Stream::new(respond, guard, request.clone());
        let responder = HttpServerResponder::for_h2(stream);
        let handler = self.settings.handler.clone();
        if let Err(responder) = handler.handle_request(&request, responder) {
            handler.missing_handler(&request, responder);
        }
    }

    // ----- ending -----------------------------------------------------------------------

    fn on_task_finished(&self) {
        self.finished.set(true);
        self.timer.stop();
        if self.socket.state() == SocketState::Unconnected {
            self.on_disconnected();
        } else {
            // After the GOAWAY and every answer queued in the socket.
            self.socket.disconnect_from_host();
        }
    }

    fn on_disconnected(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.finished.set(true);
        self.timer.stop();
        // The task (if still pending) sees the end of the stream and finishes by itself.
        if let Some(task) = self.task.borrow().as_ref() {
            task.wake();
        }
        if let Some(server) = self.server.upgrade() {
            server.connection_closed(self.id);
        }
        self.socket.as_object().delete_later();
    }

    fn on_timer(&self) {
        if self.finished.get() {
            return;
        }
        let now = Instant::now();
        if self.send_stalled(now) {
            // The client takes nothing: a window held at zero, or a socket it does not read.
            return self.abort_and_report();
        }
        let timeout = self.config.keep_alive_timeout;
        if let Some(at) = self.goaway_at.get() {
            // A GOAWAY did not end the connection in time (a client that neither finishes
            // its streams nor closes).
            if now >= deadline_after(at, timeout) && self.active.get() == 0 {
                return self.abort_and_report();
            }
        }
        let quiet_until = deadline_after(self.last_activity.get(), timeout);
        if now < quiet_until {
            self.rearm(quiet_until - now);
            return;
        }
        if self.active.get() == 0 {
            // Idle: close politely; the GOAWAY deadline above applies from now.
            self.request_ending(Ending::Graceful);
            self.last_activity.set(now);
        }
        // Otherwise handlers are still working on answers, or answers wait for the client
        // (the send timeout above ends that).
        self.rearm(timeout);
    }

    fn abort_and_report(&self) {
        self.abort();
        self.on_disconnected();
    }
}

impl Drop for H2Connection {
    fn drop(&mut self) {
        self.timer.destroy();
    }
}

/// Joins the `cookie` fields an HTTP/2 client may send separately into one, as HTTP/1.1
/// carries them (RFC 9113, 8.2.3).
fn join_cookies(headers: &mut HeaderMap) {
    // No field name with two values (the usual case) means no cookie to join, without a
    // lookup.
    if headers.len() == headers.keys_len() || headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let mut joined = Vec::new();
    for value in headers.get_all(COOKIE) {
        if !joined.is_empty() {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(value.as_bytes());
    }
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_fields_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        join_cookies(&mut headers);
        assert_eq!(headers.get_all(COOKIE).iter().count(), 1);
        assert_eq!(headers[COOKIE], "a=1; b=2");
    }
}
