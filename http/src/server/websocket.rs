//! WebSocket upgrades of the HTTP/1.1 server (Qt's `addWebSocketUpgradeVerifier`,
//! `newWebSocketConnection`, and a `QWebSocket` subset).
//!
//! The upgrade handshake (RFC 6455, 4.2) and the permessage-deflate negotiation (RFC 7692)
//! are answered here; frames, fragmentation, masking, control frames, compression and the
//! close handshake are the sans-IO [`Protocol`] the client shares, fed with the bytes the
//! socket read, its frames queued on the socket.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use slotnet_core::{deadline_after, AsObject, Object, Signal, Timer};
use slotnet_net::AbstractSocket;
use url::Url;

use super::connection::Connection;
use super::request::HttpServerRequest;
use crate::websocket::deflate::{self, DeflateParams};
use crate::websocket::protocol::{Event, Protocol, Role, Violation};
use crate::websocket::CloseCode;

/// Default largest message accepted (all fragments together): 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Input is not processed while more than this waits to be sent (a peer that floods pings
/// without reading the pongs cannot grow the output queue without bound).
const MAX_QUEUED_OUTPUT: usize = 8 << 20;
/// How long the peer has to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// After a protocol error the close frame was sent: input is dropped until the peer has been
/// quiet this long (closing with unread input would reset the connection and could destroy
/// the close frame before the peer reads it), at most [`FAIL_LINGER`].
const FAIL_QUIET: Duration = Duration::from_millis(100);
const FAIL_LINGER: Duration = Duration::from_secs(2);

/// What a verifier says about a WebSocket upgrade request (Qt's
/// `QHttpServerWebSocketUpgradeResponse`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebSocketUpgradeResponse {
    /// Upgrade: the connection becomes a [`WebSocket`].
    Accept,
    /// Refuse with `403 Forbidden`.
    Deny,
    /// Let the next verifier decide (if none accepts or denies, the request goes to the
    /// missing handler).
    PassToNext,
}

/// Why a [`WebSocket`] failed (emitted by [`WebSocket::error_occurred`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebSocketError {
    /// A message exceeded the maximum size (closed with 1009).
    MessageTooBig,
    /// A text message was not valid UTF-8 (closed with 1007).
    InvalidUtf8,
    /// The peer broke the protocol (closed with 1002).
    Protocol,
    /// The peer closed the connection without the close handshake.
    ConnectionReset,
    /// The peer did not answer our close frame in time.
    CloseTimeout,
    /// The peer sent nothing, not even a pong, for the idle timeout (closed with 1001), or
    /// did not complete a message within the message timeout (closed with 1008); see
    /// [`HttpServerConfiguration`](super::HttpServerConfiguration).
    Timeout,
}

impl std::fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WebSocketError::MessageTooBig => "message too big",
            WebSocketError::InvalidUtf8 => "text message is not valid UTF-8",
            WebSocketError::Protocol => "WebSocket protocol error",
            WebSocketError::ConnectionReset => "connection closed without the close handshake",
            WebSocketError::CloseTimeout => "close handshake timed out",
            WebSocketError::Timeout => "idle or message timeout",
        })
    }
}

impl std::error::Error for WebSocketError {}

/// A verifier as registered, with the object whose lifetime bounds it.
type Verifier = Rc<dyn Fn(&HttpServerRequest) -> WebSocketUpgradeResponse>;

/// The WebSocket part of a server: its verifiers and accepted sockets not yet taken.
pub(crate) struct WebSocketHub {
    verifiers: RefCell<Vec<(Object, Verifier)>>,
    pending: RefCell<VecDeque<WebSocket>>,
    new_connection: Signal<()>,
}

impl WebSocketHub {
    pub(crate) fn new(owner: Object) -> Self {
        WebSocketHub {
            verifiers: RefCell::new(Vec::new()),
            pending: RefCell::new(VecDeque::new()),
            new_connection: owner.new_signal(),
        }
    }

    pub(crate) fn add_verifier(&self, context: Object, verifier: Verifier) {
        self.verifiers.borrow_mut().push((context, verifier));
    }

    /// Asks the verifiers in order (with no borrow held: one may add another); the first
    /// that accepts or denies decides.
    pub(crate) fn verify(&self, request: &HttpServerRequest) -> WebSocketUpgradeResponse {
        self.verifiers
            .borrow_mut()
            .retain(|(ctx, _)| ctx.is_alive());
        let mut i = 0;
        loop {
            let verifier = self.verifiers.borrow().get(i).map(|(_, v)| v.clone());
            let Some(verifier) = verifier else {
                return WebSocketUpgradeResponse::PassToNext;
            };
            match verifier(request) {
                WebSocketUpgradeResponse::PassToNext => i += 1,
                decided => return decided,
            }
        }
    }

    pub(crate) fn new_connection(&self) -> Signal<()> {
        self.new_connection.clone()
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending.borrow_mut().retain(|ws| ws.is_alive());
        !self.pending.borrow().is_empty()
    }

    pub(crate) fn next_pending(&self) -> Option<WebSocket> {
        let mut pending = self.pending.borrow_mut();
        while let Some(ws) = pending.pop_front() {
            if ws.is_alive() {
                return Some(ws);
            }
        }
        None
    }

    fn push(&self, ws: WebSocket) {
        self.pending.borrow_mut().push_back(ws);
        self.new_connection.emit(());
    }
}

/// Whether the comma-separated header `name` has the token `token` (case-insensitive).
fn has_token(request: &HttpServerRequest, name: &str, token: &str) -> bool {
    request.headers().get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The `Sec-WebSocket-Key` of a valid WebSocket upgrade request (RFC 6455, 4.2.1), `None`
/// for any other request.
pub(crate) fn upgrade_key(request: &HttpServerRequest) -> Option<&str> {
    if request.method() != http::Method::GET
        || request.version() != http::Version::HTTP_11
        || !has_token(request, "upgrade", "websocket")
        || !has_token(request, "connection", "upgrade")
        || request.value("sec-websocket-version").map(str::trim) != Some("13")
    {
        return None;
    }
    let key = request.value("sec-websocket-key")?.trim();
    // A base64-encoded 16-byte nonce.
    let decoded = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
    (decoded.len() == 16).then_some(key)
}

/// The permessage-deflate agreement for an upgrade `request` (the client offered something
/// the server can honour) and the response field's value.
fn negotiate_deflate(request: &HttpServerRequest) -> Option<(DeflateParams, String)> {
    let offers = request
        .headers()
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS);
    deflate::server_accept(offers.iter().filter_map(|v| v.to_str().ok()))
}

/// The `101 Switching Protocols` answer to an upgrade with `key`, with permessage-deflate
/// when agreed (`deflate`: the response field's value) and the fields `extra` (from the
/// after-request hooks) that do not belong to the handshake.
fn switching_protocols(key: &str, deflate: Option<&str>, extra: &http::HeaderMap) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        crate::websocket::handshake::accept_key(key)
    )
    .into_bytes();
    if let Some(response) = deflate {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(response.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // Fields the after-request hooks added; the handshake's own fields are not theirs to
    // change (a client would refuse the upgrade).
    for (name, value) in extra {
        if [
            http::header::UPGRADE,
            http::header::CONNECTION,
            http::header::SEC_WEBSOCKET_ACCEPT,
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            http::header::CONTENT_LENGTH,
            http::header::TRANSFER_ENCODING,
        ]
        .contains(name)
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// We sent a close frame and wait for the answer.
    Closing,
    /// A protocol error was answered with a close frame; input is dropped.
    Failing,
    Closed,
}

struct WsCore {
    weak: Weak<WsCore>,
    conn: Rc<Connection>,
    proto: RefCell<Protocol>,
    /// The largest message accepted (decompressed).
    max_message: Cell<usize>,
    url: Url,
    peer: Option<SocketAddr>,
    timer: Timer,
    state: Cell<State>,
    since: Cell<Instant>,
    /// When input last arrived, and whether the idle ping went out since.
    last_input: Cell<Instant>,
    pinged: Cell<bool>,
    /// Since when a message has been partly received.
    partial_since: Cell<Option<Instant>>,
    idle_timeout: Duration,
    message_timeout: Duration,
    /// Input waits until the output queue drains.
    blocked: Cell<bool>,
    processing: Cell<bool>,
    close_code: Cell<u16>,
    close_reason: RefCell<String>,
    text: Signal<String>,
    binary: Signal<Bytes>,
    pong: Signal<Bytes>,
    disconnected: Signal<()>,
    error: Signal<WebSocketError>,
}

/// An accepted WebSocket connection (Qt's `QWebSocket`, server side).
///
/// A `Copy` handle to an [`Object`] living on the server's loop. It is destroyed with its
/// connection: after [`disconnected`](Self::disconnected) was emitted (on the next loop
/// iteration), or when the server is destroyed. Pings are answered automatically,
/// fragmented messages are delivered whole, and the peer's close frame is answered.
///
/// Bounded as every connection: a message larger than
/// [`max_allowed_incoming_message_size`](Self::max_allowed_incoming_message_size) fails it
/// (1009); one that does not arrive completely within
/// [`HttpServerConfiguration::web_socket_message_timeout`](super::HttpServerConfiguration::web_socket_message_timeout)
/// fails it (1008); a peer that sends nothing for half the
/// [`web_socket_idle_timeout`](super::HttpServerConfiguration::web_socket_idle_timeout) is
/// pinged (its pong is reported by [`pong`](Self::pong)), and closed with 1001 at the end of
/// it. WebSockets count towards `max_connections`; when it is reached, an idle WebSocket may
/// be closed (at once) to make room, after every idle HTTP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebSocket {
    obj: Object,
}

impl AsObject for WebSocket {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl WebSocket {
    /// Answers the upgrade `request` (with `key`) on `conn` with `101` and the fields
    /// `extra`, takes the connection over and hands the new socket to the server's `hub`.
    pub(crate) fn start(
        conn: Rc<Connection>,
        key: &str,
        request: &HttpServerRequest,
        extra: &http::HeaderMap,
        hub: &WebSocketHub,
    ) {
        let deflate = if conn.config().web_socket_per_message_deflate {
            negotiate_deflate(request)
        } else {
            None
        };
        conn.socket().write(&switching_protocols(
            key,
            deflate.as_ref().map(|(_, value)| value.as_str()),
            extra,
        ));
        let socket_obj = conn.socket().as_object();
        let obj = Object::with_data(Rc::new(()), Some(socket_obj));
        let mut proto = Protocol::new(Role::Server, deflate.map(|(p, _)| p));
        proto.set_max_frame_size(DEFAULT_MAX_MESSAGE_SIZE as u64);
        proto.set_max_message_size(DEFAULT_MAX_MESSAGE_SIZE as u64);
        let timer = Timer::with_parent(&obj);
        timer.set_single_shot(true);
        let core = Rc::new_cyclic(|weak| WsCore {
            weak: weak.clone(),
            conn: conn.clone(),
            proto: RefCell::new(proto),
            max_message: Cell::new(DEFAULT_MAX_MESSAGE_SIZE),
            url: request.url(),
            peer: request.remote_socket_addr(),
            timer,
            state: Cell::new(State::Open),
            since: Cell::new(Instant::now()),
            last_input: Cell::new(Instant::now()),
            pinged: Cell::new(false),
            partial_since: Cell::new(None),
            idle_timeout: conn.config().web_socket_idle_timeout,
            message_timeout: conn.config().web_socket_message_timeout,
            blocked: Cell::new(false),
            processing: Cell::new(false),
            close_code: Cell::new(0),
            close_reason: RefCell::new(String::new()),
            text: obj.new_signal(),
            binary: obj.new_signal(),
            pong: obj.new_signal(),
            disconnected: obj.new_signal(),
            error: obj.new_signal(),
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core.clone());
        core.connect_signals();
        let weak = core.weak.clone();
        conn.set_upgraded(Rc::new(move || {
            if let Some(core) = weak.upgrade() {
                core.close(CloseCode::GoingAway, "server shutting down");
            }
        }));
        core.arm_idle_timer(Instant::now());
        hub.push(WebSocket { obj });
        // Frames that arrived with the request (after the slots could set limits).
        core.process();
    }

    fn core(&self) -> Option<Rc<WsCore>> {
        self.obj.data::<WsCore>()
    }

    /// Whether the object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the socket; an open connection is aborted (no close handshake).
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// Whether messages can be sent (open, no close frame sent or received).
    pub fn is_valid(&self) -> bool {
        self.core()
            .is_some_and(|c| c.state.get() == State::Open && c.proto.borrow().can_send())
    }

    /// Sends a text message; returns the bytes of payload queued (0 if not open).
    pub fn send_text_message(&self, text: &str) -> usize {
        self.send(true, Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Sends a binary message; returns the bytes of payload queued (0 if not open).
    pub fn send_binary_message(&self, data: impl Into<Bytes>) -> usize {
        self.send(false, data.into())
    }

    /// Sends a ping (payload at most 125 bytes); [`pong`](Self::pong) reports the answer.
    /// False if not open or the payload is too long.
    pub fn ping(&self, payload: impl Into<Bytes>) -> bool {
        let payload = payload.into();
        let Some(core) = self.core() else {
            return false;
        };
        if payload.len() > 125 || core.state.get() != State::Open {
            return false;
        }
        core.proto.borrow_mut().send_ping(&payload);
        core.flush_output();
        true
    }

    /// Whether permessage-deflate was negotiated on this connection.
    pub fn is_compressed(&self) -> bool {
        self.core()
            .is_some_and(|c| c.proto.borrow().is_compressed())
    }

    fn send(&self, text: bool, payload: Bytes) -> usize {
        let Some(core) = self.core() else {
            return 0;
        };
        if core.state.get() != State::Open || !core.proto.borrow().can_send() {
            return 0;
        }
        let len = payload.len();
        core.proto.borrow_mut().send_message(text, payload);
        core.flush_output();
        len
    }

    /// Starts the close handshake with `code` (1000 for a normal close) and `reason` (cut
    /// to fit a control frame); the connection closes when the peer answers, or after a
    /// timeout.
    pub fn close(&self, code: u16, reason: &str) {
        if let Some(core) = self.core() {
            core.close(CloseCode::from(code), reason);
        }
    }

    /// The close code the peer sent (or we sent on an error); 0 before any close.
    pub fn close_code(&self) -> u16 {
        self.core().map_or(0, |c| c.close_code.get())
    }

    /// The close reason that goes with [`close_code`](Self::close_code).
    pub fn close_reason(&self) -> String {
        self.core()
            .map(|c| c.close_reason.borrow().clone())
            .unwrap_or_default()
    }

    /// The URL of the upgrade request.
    pub fn request_url(&self) -> Option<Url> {
        self.core().map(|c| c.url.clone())
    }

    /// The peer's address (`None` for a local socket).
    pub fn peer_address(&self) -> Option<IpAddr> {
        self.core().and_then(|c| c.peer.map(|a| a.ip()))
    }

    /// The peer's port (0 if unknown).
    pub fn peer_port(&self) -> u16 {
        self.core().and_then(|c| c.peer).map_or(0, |a| a.port())
    }

    /// The largest message accepted (all fragments together); a larger one closes the
    /// connection with 1009.
    pub fn max_allowed_incoming_message_size(&self) -> usize {
        self.core()
            .map_or(DEFAULT_MAX_MESSAGE_SIZE, |c| c.max_message.get())
    }

    /// Sets the largest message accepted (default [`DEFAULT_MAX_MESSAGE_SIZE`]).
    pub fn set_max_allowed_incoming_message_size(&self, size: usize) {
        if let Some(core) = self.core() {
            core.max_message.set(size);
            let mut proto = core.proto.borrow_mut();
            proto.set_max_message_size(size as u64);
            proto.set_max_frame_size(size as u64);
        }
    }

    /// Emitted for each complete text message.
    pub fn text_message_received(&self) -> Signal<String> {
        self.core().map_or_else(Signal::closed, |c| c.text.clone())
    }

    /// Emitted for each complete binary message.
    pub fn binary_message_received(&self) -> Signal<Bytes> {
        self.core()
            .map_or_else(Signal::closed, |c| c.binary.clone())
    }

    /// Emitted with the payload of each pong received.
    pub fn pong(&self) -> Signal<Bytes> {
        self.core().map_or_else(Signal::closed, |c| c.pong.clone())
    }

    /// Emitted once when the connection has closed.
    pub fn disconnected(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.disconnected.clone())
    }

    /// Emitted when the connection fails (before [`disconnected`](Self::disconnected)).
    pub fn error_occurred(&self) -> Signal<WebSocketError> {
        self.core().map_or_else(Signal::closed, |c| c.error.clone())
    }
}

impl Drop for WsCore {
    fn drop(&mut self) {
        // Nobody would read the connection any more.
        if self.state.get() != State::Closed {
            self.socket().abort();
        }
    }
}

impl WsCore {
    fn socket(&self) -> &dyn AbstractSocket {
        self.conn.socket()
    }

    fn connect_signals(&self) {
        let socket = self.socket();
        let weak = self.weak.clone();
        socket.ready_read().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.process();
            }
        });
        let weak = self.weak.clone();
        socket.read_channel_finished().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_eof();
            }
        });
        let weak = self.weak.clone();
        socket.bytes_written().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                if core.blocked.get() {
                    core.process();
                }
            }
        });
        let weak = self.weak.clone();
        socket.disconnected().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_disconnected();
            }
        });
        let weak = self.weak.clone();
        self.timer.timeout().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_timer();
            }
        });
    }

    /// Queues the protocol's frames on the socket.
    fn flush_output(&self) {
        let out = self.proto.borrow_mut().take_output();
        if self.state.get() == State::Closed {
            return;
        }
        for chunk in out {
            self.socket().write_bytes(chunk);
        }
    }

    /// The peer finished sending: after its close frame that is the end; before it, the
    /// connection was dropped without the close handshake.
    fn on_eof(&self) {
        self.process();
        if matches!(self.state.get(), State::Closed | State::Failing) {
            return;
        }
        if !self.proto.borrow().close_received() {
            self.error.emit(WebSocketError::ConnectionReset);
        }
        self.shut_down();
    }

    /// Moves the socket's input to the protocol and handles the messages it completes.
    fn process(&self) {
        if self.processing.replace(true) {
            return;
        }
        loop {
            match self.state.get() {
                State::Closed => break,
                State::Failing => {
                    let mut dropped = 0;
                    self.socket().with_read_buffer(&mut |buf| {
                        dropped += buf.len();
                        buf.clear();
                    });
                    if Instant::now() >= self.since.get() + FAIL_LINGER {
                        self.shut_down();
                    } else if dropped > 0 {
                        self.timer.start_interval(FAIL_QUIET);
                    }
                    break;
                }
                State::Open | State::Closing => {}
            }
            if self.socket().bytes_to_write() > MAX_QUEUED_OUTPUT {
                self.blocked.set(true);
                break;
            }
            self.blocked.set(false);
            let result = {
                let mut proto = self.proto.borrow_mut();
                let mut arrived = false;
                self.socket().with_read_buffer(&mut |buf| {
                    arrived |= !buf.is_empty();
                    proto.feed(buf);
                });
                if arrived {
                    self.input_arrived(proto.in_progress());
                }
                proto.poll()
            };
            self.flush_output();
            // Slots run with no borrow held: they may send or close.
            match result {
                Ok(Some(Event::Text(text))) => self.text.emit(text),
                Ok(Some(Event::Binary(data))) => self.binary.emit(data),
                Ok(Some(Event::Pong(data))) => self.pong.emit(data),
                Ok(Some(Event::Ping(_)))
                | Ok(Some(Event::TextFrame(..)))
                | Ok(Some(Event::BinaryFrame(..))) => {}
                // The peer's code and reason, unless this answers our own close.
                Ok(Some(Event::Close(frame))) => {
                    match frame.filter(|_| self.state.get() == State::Open) {
                        Some((code, reason)) => {
                            self.close_code.set(code);
                            *self.close_reason.borrow_mut() = reason;
                        }
                        None if self.close_code.get() == 0 => {
                            self.close_code.set(CloseCode::MissingStatusCode.code());
                        }
                        None => {}
                    }
                    // Handshake complete (our answer is queued): the server closes the TCP
                    // connection first.
                    self.shut_down();
                    break;
                }
                Ok(None) => break,
                Err(violation) => self.fail(violation),
            }
        }
        self.processing.set(false);
    }

    /// Answers a broken peer with a close frame (queued by the protocol), then drops its
    /// input until it is quiet.
    fn fail(&self, violation: Violation) {
        if matches!(self.state.get(), State::Failing | State::Closed) {
            return;
        }
        let error = match violation.code {
            CloseCode::TooMuchData => WebSocketError::MessageTooBig,
            CloseCode::WrongDatatype => WebSocketError::InvalidUtf8,
            _ => WebSocketError::Protocol,
        };
        self.fail_with(violation.code, error);
    }

    /// Fails the connection with `code` (a close frame unless one went out already).
    fn fail_with(&self, code: CloseCode, error: WebSocketError) {
        if matches!(self.state.get(), State::Failing | State::Closed) {
            return;
        }
        self.state.set(State::Failing);
        self.close_code.set(code.code());
        self.proto.borrow_mut().send_close(code.code(), "");
        self.flush_output();
        self.since.set(Instant::now());
        self.timer.start_interval(FAIL_QUIET);
        self.error.emit(error);
    }

    fn close(&self, code: CloseCode, reason: &str) {
        if self.state.get() != State::Open {
            return;
        }
        // A close frame's payload is at most 125 bytes: 2 for the code, the rest reason.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        self.state.set(State::Closing);
        self.close_code.set(code.code());
        *self.close_reason.borrow_mut() = reason[..end].to_owned();
        self.proto
            .borrow_mut()
            .send_close(code.code(), &reason[..end]);
        self.flush_output();
        self.since.set(Instant::now());
        self.timer.start_interval(CLOSE_TIMEOUT);
    }

    fn on_timer(&self) {
        match self.state.get() {
            State::Closing => {
                self.error.emit(WebSocketError::CloseTimeout);
                self.socket().abort();
            }
            // The peer has been quiet since its last input.
            State::Failing => self.shut_down(),
            State::Open => self.check_timeouts(),
            State::Closed => {}
        }
    }

    /// Input arrived; `partial`: a message (or frame) is now partly received.
    fn input_arrived(&self, partial: bool) {
        let now = Instant::now();
        self.last_input.set(now);
        self.pinged.set(false);
        match (partial, self.partial_since.get()) {
            (true, None) => self.partial_since.set(Some(now)),
            (false, Some(_)) => self.partial_since.set(None),
            _ => {}
        }
    }

    /// The idle and partial-message timeouts, checked when the timer fires (input only
    /// moves deadlines; the timer is not restarted for it).
    fn check_timeouts(&self) {
        let now = Instant::now();
        if let Some(since) = self.partial_since.get() {
            if now >= deadline_after(since, self.message_timeout) {
                return self.fail_with(CloseCode::PolicyViolated, WebSocketError::Timeout);
            }
        }
        let idle_end = deadline_after(self.last_input.get(), self.idle_timeout);
        if now >= idle_end {
            self.error.emit(WebSocketError::Timeout);
            return self.close(CloseCode::GoingAway, "idle timeout");
        }
        if now >= deadline_after(self.last_input.get(), self.idle_timeout / 2)
            && !self.pinged.replace(true)
        {
            // A live peer answers with a pong, which counts as input.
            self.proto.borrow_mut().send_ping(&[]);
            self.flush_output();
        }
        self.arm_idle_timer(now);
    }

    /// Runs the timer until the next idle or partial-message deadline.
    fn arm_idle_timer(&self, now: Instant) {
        let last = self.last_input.get();
        let mut next = if self.pinged.get() {
            deadline_after(last, self.idle_timeout)
        } else {
            deadline_after(last, self.idle_timeout / 2)
        };
        if let Some(since) = self.partial_since.get() {
            next = next.min(deadline_after(since, self.message_timeout));
        } else {
            // A message may start before the next check.
            next = next.min(deadline_after(now, self.message_timeout));
        }
        let wait = next
            .saturating_duration_since(now)
            .max(Duration::from_millis(10));
        self.timer.start_interval(wait);
    }

    /// Closes the TCP connection after what is queued.
    fn shut_down(&self) {
        if self.state.replace(State::Closed) == State::Closed {
            return;
        }
        self.timer.stop();
        self.socket().disconnect_from_host();
    }

    fn on_disconnected(&self) {
        self.state.set(State::Closed);
        self.timer.stop();
        self.disconnected.emit(());
    }
}
