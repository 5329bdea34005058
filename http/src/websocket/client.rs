//! [`WebSocket`]: the WebSocket client (Qt's `QWebSocket`), a node on the loop like a
//! `NetworkReply`. It connects as the access manager's requests do (directly, or through an
//! HTTP CONNECT or SOCKS5 tunnel chosen by the manager's proxy settings; TLS for `wss://`
//! with the request's own trust and Qt's `sslErrors`), sends the opening handshake with the
//! manager's cookies, checks the server's answer, then runs the shared sans-IO
//! [`Protocol`] over the socket.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use slotnet_core::{AsObject, Object, Signal, Timer};
use slotnet_net::proxy::{NetworkProxy, ProxiedConnector, ProxyType};
use slotnet_net::ssl::{SslConfiguration, SslError};
use slotnet_net::{AbstractSocket, SocketError, SocketState, SslSocket, TcpSocket};
use url::Url;

use super::close_code::CloseCode;
use super::deflate;
use super::handshake::{accept_key, new_key};
use super::protocol::{Event, Protocol, Role};
use crate::client::route::{self, Route};
use crate::manager::NetworkAccessManager;
use crate::request::NetworkRequest;

/// Qt's largest incoming frame (`QWebSocket::maxIncomingFrameSize()`), also the default of
/// [`WebSocket::max_allowed_incoming_frame_size`]: `INT_MAX - 1`.
pub const MAX_INCOMING_FRAME_SIZE: u64 = i32::MAX as u64 - 1;
/// Qt's largest incoming message (`QWebSocket::maxIncomingMessageSize()`), also the default
/// of [`WebSocket::max_allowed_incoming_message_size`]: `INT_MAX - 1`.
pub const MAX_INCOMING_MESSAGE_SIZE: u64 = i32::MAX as u64 - 1;
/// Qt's largest outgoing frame (`QWebSocket::maxOutgoingFrameSize()`).
pub const MAX_OUTGOING_FRAME_SIZE: u64 = i32::MAX as u64 - 1;
/// Qt's default outgoing frame size: 512 KiB.
pub const DEFAULT_OUTGOING_FRAME_SIZE: u64 = 512 * 1024;
/// The longest response head accepted for the handshake.
const MAX_HANDSHAKE_RESPONSE: usize = 64 * 1024;
/// How long the server has to close the connection after the close handshake (or to answer
/// our close frame).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of the opening handshake (Qt's `QWebSocketHandshakeOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebSocketHandshakeOptions {
    subprotocols: Vec<String>,
}

impl WebSocketHandshakeOptions {
    /// No subprotocols.
    pub fn new() -> Self {
        Self::default()
    }

    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// Sets the subprotocols to offer.
    pub fn set_subprotocols<S: Into<String>>(&mut self, protocols: impl IntoIterator<Item = S>) {
        self.subprotocols = protocols.into_iter().map(Into::into).collect();
    }
}

/// The transport under the WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sock {
    Tcp(TcpSocket),
    Ssl(SslSocket),
}

impl Sock {
    fn io(&self) -> &dyn AbstractSocket {
        match self {
            Sock::Tcp(s) => s,
            Sock::Ssl(s) => s,
        }
    }
}

/// Where the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Connecting (TCP, tunnel, TLS).
    Connecting,
    /// The handshake request is sent; reading the response head.
    Handshake,
    Open,
    /// A close frame was sent (by us, or in answer to the server's): waiting for the end.
    Closing,
    Done,
}

struct Settings {
    max_frame: Cell<u64>,
    max_message: Cell<u64>,
    outgoing_frame_size: Cell<u64>,
    compression: Cell<bool>,
    origin: RefCell<String>,
    manager: Cell<Option<NetworkAccessManager>>,
    proxy: RefCell<Option<NetworkProxy>>,
    ssl_configuration: RefCell<Option<SslConfiguration>>,
    ignore_all_ssl_errors: Cell<bool>,
    expected_ssl_errors: RefCell<Vec<SslError>>,
}

struct Signals {
    connected: Signal<()>,
    disconnected: Signal<()>,
    state_changed: Signal<SocketState>,
    about_to_close: Signal<()>,
    text_message_received: Signal<String>,
    binary_message_received: Signal<Bytes>,
    text_frame_received: Signal<(String, bool)>,
    binary_frame_received: Signal<(Bytes, bool)>,
    pong: Signal<(u64, Bytes)>,
    error_occurred: Signal<SocketError>,
    ssl_errors: Signal<Vec<SslError>>,
    bytes_written: Signal<u64>,
}

struct Core {
    me: Weak<Core>,
    obj: Object,
    settings: Settings,
    sig: Signals,
    state: Cell<SocketState>,
    phase: Cell<Phase>,
    socket: Cell<Option<Sock>>,
    connector: Cell<Option<ProxiedConnector>>,
    /// TLS to start once a tunnel is up (`wss://` through a proxy).
    tunnel_tls: RefCell<Option<SslConfiguration>>,
    request: RefCell<NetworkRequest>,
    url: RefCell<Option<Url>>,
    key: RefCell<String>,
    subprotocols: RefCell<Vec<String>>,
    offered_deflate: Cell<bool>,
    head: RefCell<BytesMut>,
    proto: RefCell<Option<Protocol>>,
    processing: Cell<bool>,
    /// The subprotocol and extensions the server chose.
    subprotocol: RefCell<String>,
    compressed: Cell<bool>,
    close_code: Cell<u16>,
    close_reason: RefCell<String>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    ping_sent: Cell<Option<Instant>>,
    /// The user asked for `ignore_ssl_errors` from an `ssl_errors` slot.
    ssl_ignored_now: Cell<bool>,
    timer: Timer,
}

/// A WebSocket client connection (Qt's `QWebSocket`).
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_http::websocket::WebSocket;
///
/// let ws = WebSocket::new();
/// ws.connected().connect(move |_| {
///     ws.send_text_message("hello");
/// });
/// ws.text_message_received().connect(move |text| {
///     println!("{text}");
///     ws.close(1000, "done");
/// });
/// ws.disconnected().connect(|_| EventLoop::current().quit());
/// ws.open("ws://127.0.0.1:8080/ws/echo");
/// EventLoop::current().exec();
/// ```
///
/// Qt's defaults: incoming frames and messages up to [`MAX_INCOMING_FRAME_SIZE`] and
/// [`MAX_INCOMING_MESSAGE_SIZE`] (`INT_MAX - 1`, as Qt; lower them against peers that are
/// not trusted: a message is held in memory whole), outgoing frames of 512 KiB. Pings are
/// answered automatically. permessage-deflate (which Qt lacks) is offered when
/// [`set_compression_enabled`](Self::set_compression_enabled) is on; the decompressed size
/// of a message is bounded by the incoming message limit (1009 past it).
///
/// A protocol violation by the server (a masked frame, reserved bits or opcodes, invalid
/// UTF-8 in a text message, an oversized or fragmented control frame, a continuation without
/// a start, a close code that may not be sent, a message over the limits) fails the
/// connection: the close frame with the code RFC 6455 asks for (1002, 1007 or 1009) is sent,
/// [`close_code`](Self::close_code) reports it, and `error_occurred` is emitted (Qt only
/// closes) with `UnknownSocketError` and an [`error_string`](Self::error_string) naming the
/// violation, before `disconnected`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WebSocket {
    obj: Object,
}

impl AsObject for WebSocket {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for WebSocket {
    fn default() -> Self {
        WebSocket::new()
    }
}

macro_rules! signal_getters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Signal<$ty> {
                self.core().map_or_else(Signal::closed, |c| c.sig.$name.clone())
            }
        )*
    };
}

impl WebSocket {
    /// An unconnected socket.
    pub fn new() -> WebSocket {
        Self::create(None)
    }

    /// An unconnected socket owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> WebSocket {
        Self::create(Some(parent.as_object()))
    }

    fn create(parent: Option<Object>) -> WebSocket {
        let obj = Object::with_data(Rc::new(()), parent);
        let timer = Timer::with_parent(&obj);
        timer.set_single_shot(true);
        let core = Rc::new_cyclic(|me| Core {
            me: me.clone(),
            obj,
            settings: Settings {
                max_frame: Cell::new(MAX_INCOMING_FRAME_SIZE),
                max_message: Cell::new(MAX_INCOMING_MESSAGE_SIZE),
                outgoing_frame_size: Cell::new(DEFAULT_OUTGOING_FRAME_SIZE),
                compression: Cell::new(false),
                origin: RefCell::new(String::new()),
                manager: Cell::new(None),
                proxy: RefCell::new(None),
                ssl_configuration: RefCell::new(None),
                ignore_all_ssl_errors: Cell::new(false),
                expected_ssl_errors: RefCell::new(Vec::new()),
            },
            sig: Signals {
                connected: obj.new_signal(),
                disconnected: obj.new_signal(),
                state_changed: obj.new_signal(),
                about_to_close: obj.new_signal(),
                text_message_received: obj.new_signal(),
                binary_message_received: obj.new_signal(),
                text_frame_received: obj.new_signal(),
                binary_frame_received: obj.new_signal(),
                pong: obj.new_signal(),
                error_occurred: obj.new_signal(),
                ssl_errors: obj.new_signal(),
                bytes_written: obj.new_signal(),
            },
            state: Cell::new(SocketState::Unconnected),
            phase: Cell::new(Phase::Idle),
            socket: Cell::new(None),
            connector: Cell::new(None),
            tunnel_tls: RefCell::new(None),
            request: RefCell::new(NetworkRequest::default()),
            url: RefCell::new(None),
            key: RefCell::new(String::new()),
            subprotocols: RefCell::new(Vec::new()),
            offered_deflate: Cell::new(false),
            head: RefCell::new(BytesMut::new()),
            proto: RefCell::new(None),
            processing: Cell::new(false),
            subprotocol: RefCell::new(String::new()),
            compressed: Cell::new(false),
            close_code: Cell::new(CloseCode::Normal.code()),
            close_reason: RefCell::new(String::new()),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            ping_sent: Cell::new(None),
            ssl_ignored_now: Cell::new(false),
            timer,
        });
        let _ = obj.set_data(core.clone());
        let weak = core.me.clone();
        core.timer.timeout().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_close_timeout();
            }
        });
        WebSocket { obj }
    }

    fn core(&self) -> Option<Rc<Core>> {
        self.obj.data::<Core>()
    }

    /// Whether the object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Deletes the socket when control returns to the loop (Qt's `deleteLater`).
    pub fn delete_later(&self) {
        self.obj.delete_later();
    }

    // --- opening -----------------------------------------------------------------------

    /// Opens a WebSocket to `url` (`ws://` or `wss://`), Qt's `open(QUrl)`. A URL that does
    /// not parse, or another scheme, fails with `error_occurred`.
    pub fn open(&self, url: &str) {
        match Url::parse(url) {
            Ok(url) => self.open_request(NetworkRequest::new(url)),
            Err(e) => {
                if let Some(core) = self.core() {
                    core.fail_to_open(SocketError::UnsupportedSocketOperationError, {
                        format!("Invalid URL: {e}")
                    });
                }
            }
        }
    }

    /// Opens a WebSocket for `request` (Qt's `open(QNetworkRequest)`): its URL, its raw
    /// headers sent with the handshake, its TLS configuration and peer verify name for
    /// `wss://`, its proxy.
    pub fn open_request(&self, request: NetworkRequest) {
        self.open_with_options(request, WebSocketHandshakeOptions::default());
    }

    /// Opens with handshake `options` (subprotocols), Qt's
    /// `open(QNetworkRequest, QWebSocketHandshakeOptions)`.
    pub fn open_with_options(&self, request: NetworkRequest, options: WebSocketHandshakeOptions) {
        if let Some(core) = self.core() {
            core.open(request, options);
        }
    }

    // --- settings ----------------------------------------------------------------------

    /// Uses `manager`'s proxy settings (proxy, factory, application proxy; HTTP proxies
    /// are asked for a CONNECT tunnel) and cookie jar (its cookies sent on the handshake,
    /// the `Set-Cookie` fields of the answer stored); proxy credentials are asked through
    /// its `proxy_authentication_required`. A slotnet extension: Qt's `QWebSocket` has no
    /// access manager.
    pub fn set_network_access_manager(&self, manager: &NetworkAccessManager) {
        if let Some(core) = self.core() {
            core.settings.manager.set(Some(*manager));
        }
    }

    /// Sets the proxy (Qt's `setProxy`); it wins over the manager's settings.
    pub fn set_proxy(&self, proxy: NetworkProxy) {
        if let Some(core) = self.core() {
            *core.settings.proxy.borrow_mut() = Some(proxy);
        }
    }

    /// The proxy set with [`set_proxy`](Self::set_proxy) (`DefaultProxy` when none).
    pub fn proxy(&self) -> NetworkProxy {
        self.core()
            .and_then(|c| c.settings.proxy.borrow().clone())
            .unwrap_or_else(|| NetworkProxy::new(ProxyType::DefaultProxy, "", 0))
    }

    /// Sets the TLS configuration for `wss://` (Qt's `setSslConfiguration`); a request's own
    /// configuration wins.
    pub fn set_ssl_configuration(&self, configuration: SslConfiguration) {
        if let Some(core) = self.core() {
            *core.settings.ssl_configuration.borrow_mut() = Some(configuration);
        }
    }

    /// The TLS configuration: the session's once encrypted, else the one set.
    pub fn ssl_configuration(&self) -> SslConfiguration {
        let Some(core) = self.core() else {
            return SslConfiguration::default();
        };
        if let Some(Sock::Ssl(ssl)) = core.socket.get() {
            return ssl.ssl_configuration();
        }
        let set = core.settings.ssl_configuration.borrow().clone();
        set.unwrap_or_default()
    }

    /// Accepts the certificate errors of this connection: from an
    /// [`ssl_errors`](Self::ssl_errors) slot, the handshake goes on; before opening, every
    /// error is accepted in advance (Qt's `ignoreSslErrors()`).
    pub fn ignore_ssl_errors(&self) {
        if let Some(core) = self.core() {
            if core.phase.get() == Phase::Connecting {
                core.ssl_ignored_now.set(true);
            } else {
                core.settings.ignore_all_ssl_errors.set(true);
            }
        }
    }

    /// Accepts exactly these certificate errors in advance (Qt's
    /// `ignoreSslErrors(QList<QSslError>)`).
    pub fn ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        if let Some(core) = self.core() {
            *core.settings.expected_ssl_errors.borrow_mut() = errors;
        }
    }

    /// The `Origin` sent with the handshake (Qt passes it to the constructor).
    pub fn set_origin(&self, origin: &str) {
        if let Some(core) = self.core() {
            *core.settings.origin.borrow_mut() = origin.to_owned();
        }
    }

    /// The origin (Qt's `origin()`).
    pub fn origin(&self) -> String {
        self.core()
            .map(|c| c.settings.origin.borrow().clone())
            .unwrap_or_default()
    }

    /// Whether the handshake offers permessage-deflate (RFC 7692). Off by default, as Qt
    /// (which has no compression); set before [`open`](Self::open).
    pub fn set_compression_enabled(&self, enabled: bool) {
        if let Some(core) = self.core() {
            core.settings.compression.set(enabled);
        }
    }

    /// Whether the server agreed to permessage-deflate on this connection.
    pub fn is_compressed(&self) -> bool {
        self.core().is_some_and(|c| c.compressed.get())
    }

    /// Sets the largest incoming frame accepted (Qt's name; clamped to
    /// [`MAX_INCOMING_FRAME_SIZE`]); a larger one fails the connection with 1009.
    pub fn set_max_allowed_incoming_frame_size(&self, size: u64) {
        if let Some(core) = self.core() {
            let size = size.min(MAX_INCOMING_FRAME_SIZE);
            core.settings.max_frame.set(size);
            if let Some(p) = core.proto.borrow_mut().as_mut() {
                p.set_max_frame_size(size);
            }
        }
    }

    /// The largest incoming frame accepted (default [`MAX_INCOMING_FRAME_SIZE`]).
    pub fn max_allowed_incoming_frame_size(&self) -> u64 {
        self.core()
            .map_or(MAX_INCOMING_FRAME_SIZE, |c| c.settings.max_frame.get())
    }

    /// Sets the largest incoming message accepted, all fragments together and
    /// decompressed (Qt's name; clamped to [`MAX_INCOMING_MESSAGE_SIZE`]); a larger one
    /// fails the connection with 1009.
    pub fn set_max_allowed_incoming_message_size(&self, size: u64) {
        if let Some(core) = self.core() {
            let size = size.min(MAX_INCOMING_MESSAGE_SIZE);
            core.settings.max_message.set(size);
            if let Some(p) = core.proto.borrow_mut().as_mut() {
                p.set_max_message_size(size);
            }
        }
    }

    /// The largest incoming message accepted (default [`MAX_INCOMING_MESSAGE_SIZE`]).
    pub fn max_allowed_incoming_message_size(&self) -> u64 {
        self.core()
            .map_or(MAX_INCOMING_MESSAGE_SIZE, |c| c.settings.max_message.get())
    }

    /// Sets the largest frame sent (Qt's name; 1 to [`MAX_OUTGOING_FRAME_SIZE`]): longer
    /// messages go out fragmented.
    pub fn set_outgoing_frame_size(&self, size: u64) {
        if let Some(core) = self.core() {
            let size = size.clamp(1, MAX_OUTGOING_FRAME_SIZE);
            core.settings.outgoing_frame_size.set(size);
            if let Some(p) = core.proto.borrow_mut().as_mut() {
                p.set_outgoing_frame_size(size as usize);
            }
        }
    }

    /// The largest frame sent (default [`DEFAULT_OUTGOING_FRAME_SIZE`]).
    pub fn outgoing_frame_size(&self) -> u64 {
        self.core().map_or(DEFAULT_OUTGOING_FRAME_SIZE, |c| {
            c.settings.outgoing_frame_size.get()
        })
    }

    // --- sending -------------------------------------------------------------------------

    /// Sends a text message; returns the bytes of the message queued (0 when not open).
    pub fn send_text_message(&self, text: &str) -> u64 {
        self.send(true, Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Sends a binary message; returns the bytes of the message queued (0 when not open).
    pub fn send_binary_message(&self, data: impl Into<Bytes>) -> u64 {
        self.send(false, data.into())
    }

    fn send(&self, text: bool, payload: Bytes) -> u64 {
        let Some(core) = self.core() else {
            return 0;
        };
        if core.phase.get() != Phase::Open {
            return 0;
        }
        let len = payload.len() as u64;
        let queued = match core.proto.borrow_mut().as_mut() {
            Some(p) if p.can_send() => p.send_message(text, payload) > 0,
            _ => false,
        };
        core.flush_output();
        if queued {
            len
        } else {
            0
        }
    }

    /// Sends a ping with `payload` (cut to 125 bytes); [`pong`](Self::pong) reports the
    /// answer with the milliseconds since this call.
    pub fn ping(&self, payload: &[u8]) {
        let Some(core) = self.core() else {
            return;
        };
        if core.phase.get() != Phase::Open {
            return;
        }
        core.ping_sent.set(Some(Instant::now()));
        if let Some(p) = core.proto.borrow_mut().as_mut() {
            p.send_ping(payload);
        }
        core.flush_output();
    }

    /// Starts the close handshake with `code` and `reason` (cut to 123 bytes at a character
    /// boundary), Qt's `close()`; `disconnected` follows when the server has answered and
    /// closed the connection, or after a timeout. Before the connection is open it is
    /// aborted.
    pub fn close(&self, code: u16, reason: &str) {
        if let Some(core) = self.core() {
            core.close(code, reason);
        }
    }

    /// Drops the connection at once, without the close handshake (Qt's `abort`).
    pub fn abort(&self) {
        if let Some(core) = self.core() {
            core.abort();
        }
    }

    // --- state ---------------------------------------------------------------------------

    /// The state (Qt's `QAbstractSocket::SocketState`): `Connecting` from `open` to the
    /// end of the handshake, `Connected`, `Closing`, `Unconnected`.
    pub fn state(&self) -> SocketState {
        self.core()
            .map_or(SocketState::Unconnected, |c| c.state.get())
    }

    /// Whether the socket is open (Qt's `isValid`).
    pub fn is_valid(&self) -> bool {
        self.state() == SocketState::Connected
    }

    /// The close code: the server's, or the one sent (Qt's `closeCode`, 1000 before any
    /// close; 1006 when the connection ended without a close frame).
    pub fn close_code(&self) -> u16 {
        self.core()
            .map_or(CloseCode::Normal.code(), |c| c.close_code.get())
    }

    /// The close reason that goes with [`close_code`](Self::close_code).
    pub fn close_reason(&self) -> String {
        self.core()
            .map(|c| c.close_reason.borrow().clone())
            .unwrap_or_default()
    }

    /// The last error (Qt's `error()`).
    pub fn error(&self) -> Option<SocketError> {
        self.core().and_then(|c| c.error.get())
    }

    /// A description of the last error (Qt's `errorString()`).
    pub fn error_string(&self) -> String {
        self.core()
            .map(|c| c.error_string.borrow().clone())
            .unwrap_or_default()
    }

    /// The URL opened (Qt's `requestUrl`).
    pub fn request_url(&self) -> Option<Url> {
        self.core().and_then(|c| c.url.borrow().clone())
    }

    /// The request opened (Qt's `request`).
    pub fn request(&self) -> NetworkRequest {
        self.core()
            .map(|c| c.request.borrow().clone())
            .unwrap_or_default()
    }

    /// The subprotocol the server chose (Qt's `subprotocol`), empty for none.
    pub fn subprotocol(&self) -> String {
        self.core()
            .map(|c| c.subprotocol.borrow().clone())
            .unwrap_or_default()
    }

    /// Bytes queued on the socket and not yet written (Qt's `bytesToWrite`).
    pub fn bytes_to_write(&self) -> u64 {
        self.core()
            .and_then(|c| c.socket.get())
            .map_or(0, |s| s.io().bytes_to_write() as u64)
    }

    /// The peer's address, once connected.
    pub fn peer_address(&self) -> Option<std::net::IpAddr> {
        self.core()
            .and_then(|c| c.socket.get())
            .and_then(|s| match s {
                Sock::Tcp(t) => t.peer_address(),
                Sock::Ssl(t) => t.peer_address(),
            })
    }

    signal_getters! {
        /// Emitted when the handshake succeeded.
        connected: ();
        /// Emitted once when the connection has ended.
        disconnected: ();
        /// Emitted when [`state`](Self::state) changes.
        state_changed: SocketState;
        /// Emitted before the close handshake starts (Qt's `aboutToClose`).
        about_to_close: ();
        /// Emitted for each complete text message.
        text_message_received: String;
        /// Emitted for each complete binary message.
        binary_message_received: Bytes;
        /// Emitted for each text frame: its text (whole characters; one split by the frame
        /// boundary goes with the next frame) and whether it is the message's last frame.
        text_frame_received: (String, bool);
        /// Emitted for each binary frame: its payload and whether it is the last frame.
        binary_frame_received: (Bytes, bool);
        /// Emitted for each pong: milliseconds since the last [`ping`](Self::ping), and the
        /// payload.
        pong: (u64, Bytes);
        /// Emitted when an error occurs (Qt's `errorOccurred`), before `disconnected`.
        error_occurred: SocketError;
        /// Emitted, synchronously inside the TLS handshake, with the certificate errors of a
        /// `wss://` connection; a slot that calls [`ignore_ssl_errors`](Self::ignore_ssl_errors)
        /// lets it go on.
        ssl_errors: Vec<SslError>;
        /// Emitted when frame bytes were written to the network.
        bytes_written: u64;
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Some(s) = self.socket.get() {
            s.io().abort();
        }
        if let Some(c) = self.connector.get() {
            c.abort();
        }
    }
}

impl Core {
    fn set_state(&self, state: SocketState) {
        if self.state.replace(state) != state {
            self.sig.state_changed.emit(state);
        }
    }

    fn set_error(&self, error: SocketError, message: String) {
        self.error.set(Some(error));
        *self.error_string.borrow_mut() = message;
    }

    /// Fails before anything was connected: error, then back to unconnected (queued, so
    /// that the caller of `open` can connect slots first, as with Qt's queued errors).
    fn fail_to_open(&self, error: SocketError, message: String) {
        self.set_error(error, message);
        let weak = self.me.clone();
        self.obj.invoke_later(move || {
            if let Some(c) = weak.upgrade() {
                c.sig.error_occurred.emit(error);
                c.finish();
            }
        });
    }

    fn features_route(&self, request: &NetworkRequest, url: &Url) -> Result<Route, String> {
        let manager = self.settings.manager.get();
        let state = manager.and_then(|m| m.state());
        let mut request = request.clone();
        if request.proxy().is_none() {
            if let Some(p) = self.settings.proxy.borrow().clone() {
                request.set_proxy(Some(p));
            }
        }
        // The route of the http(s) URL the handshake is: plain HTTP forwarding cannot carry a
        // WebSocket, so an HTTP proxy is asked for a CONNECT tunnel instead.
        let mut http_url = url.clone();
        let _ = http_url.set_scheme(if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        });
        match route::choose(state.as_ref().map(|s| &s.features), &request, &http_url) {
            Ok(Route::Forward(p)) if p.proxy_type() == ProxyType::HttpProxy => Ok(Route::Tunnel(p)),
            Ok(Route::Forward(_)) => Err("a caching proxy cannot carry a WebSocket".into()),
            Ok(route) => Ok(route),
            Err((_, message)) => Err(message),
        }
    }

    fn open(&self, request: NetworkRequest, options: WebSocketHandshakeOptions) {
        if self.phase.get() != Phase::Idle && self.phase.get() != Phase::Done {
            self.abort();
        }
        self.reset();
        let url = request.url().cloned();
        *self.request.borrow_mut() = request.clone();
        *self.url.borrow_mut() = url.clone();
        *self.subprotocols.borrow_mut() = options.subprotocols;
        let Some(url) = url else {
            return self.fail_to_open(
                SocketError::UnsupportedSocketOperationError,
                "Invalid URL".into(),
            );
        };
        let secure = match url.scheme() {
            "ws" => false,
            "wss" => true,
            other => {
                return self.fail_to_open(
                    SocketError::UnsupportedSocketOperationError,
                    format!("Unsupported WebSocket scheme: {other}"),
                )
            }
        };
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return self.fail_to_open(SocketError::HostNotFoundError, "The URL has no host".into());
        };
        let host = host.trim_matches(|c| c == '[' || c == ']').to_owned();
        let route = match self.features_route(&request, &url) {
            Ok(route) => route,
            Err(message) => return self.fail_to_open(SocketError::ProxyNotFoundError, message),
        };
        let tls = secure.then(|| {
            let mut config = request
                .ssl_configuration_ref()
                .cloned()
                .or_else(|| self.settings.ssl_configuration.borrow().clone())
                .unwrap_or_default();
            if let Some(name) = request.peer_verify_name() {
                config.set_peer_verify_name(name);
            }
            config
        });
        self.phase.set(Phase::Connecting);
        self.set_state(SocketState::Connecting);
        match route {
            Route::Tunnel(proxy) => {
                *self.tunnel_tls.borrow_mut() = tls;
                let tcp = TcpSocket::with_parent(&self.obj);
                self.open_tunnel(tcp, proxy, &host, port, &url);
            }
            _ => match tls {
                Some(config) => {
                    let ssl = SslSocket::with_parent(&self.obj);
                    ssl.set_ssl_configuration(config);
                    self.wire(Sock::Ssl(ssl));
                    ssl.connect_to_host_encrypted(&host, port);
                }
                None => {
                    let tcp = TcpSocket::with_parent(&self.obj);
                    self.wire(Sock::Tcp(tcp));
                    tcp.connect_to_host(&host, port);
                }
            },
        }
    }

    fn reset(&self) {
        self.error.set(None);
        self.error_string.borrow_mut().clear();
        self.close_code.set(CloseCode::Normal.code());
        self.close_reason.borrow_mut().clear();
        self.subprotocol.borrow_mut().clear();
        self.compressed.set(false);
        self.head.borrow_mut().clear();
        *self.proto.borrow_mut() = None;
        self.ping_sent.set(None);
    }

    fn open_tunnel(&self, tcp: TcpSocket, proxy: NetworkProxy, host: &str, port: u16, url: &Url) {
        let connector = ProxiedConnector::with_parent(&self.obj);
        connector.set_protocol_tag(if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        });
        let weak = self.me.clone();
        connector.connected().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_tunnel_up(tcp);
            }
        });
        let weak = self.me.clone();
        connector.error_occurred().connect(move |e| {
            if let Some(c) = weak.upgrade() {
                let message = c
                    .connector
                    .get()
                    .map(|k| k.error_string())
                    .unwrap_or_default();
                c.fail(*e, message);
            }
        });
        let weak = self.me.clone();
        connector
            .proxy_authentication_required()
            .connect(move |(proxy, auth)| {
                // Asked through the manager, as its requests do.
                let Some(c) = weak.upgrade() else {
                    return;
                };
                if let Some(state) = c.settings.manager.get().and_then(|m| m.state()) {
                    let realm = auth.borrow().realm().to_owned();
                    let answer = state.features.ask_proxy_credentials(proxy, &realm);
                    let mut auth = auth.borrow_mut();
                    auth.set_user(answer.user());
                    auth.set_password(answer.password());
                }
            });
        self.connector.set(Some(connector));
        connector.connect_to_host(tcp, proxy, host, port);
    }

    fn on_tunnel_up(&self, tcp: TcpSocket) {
        if let Some(connector) = self.connector.take() {
            connector.delete_later();
        }
        if self.phase.get() != Phase::Connecting {
            return;
        }
        let tls = self.tunnel_tls.borrow_mut().take();
        match tls {
            Some(mut config) => {
                if config.peer_verify_name().is_empty() {
                    let host = self
                        .url
                        .borrow()
                        .as_ref()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_default();
                    config.set_peer_verify_name(host.trim_matches(|c| c == '[' || c == ']'));
                }
                let ssl = SslSocket::from_tcp_socket(tcp);
                ssl.set_ssl_configuration(config);
                self.wire(Sock::Ssl(ssl));
                ssl.start_client_encryption();
            }
            None => {
                self.wire(Sock::Tcp(tcp));
                self.send_handshake();
            }
        }
    }

    /// Connects to the socket's signals.
    fn wire(&self, sock: Sock) {
        self.socket.set(Some(sock));
        let weak = self.me.clone();
        match sock {
            Sock::Ssl(ssl) => {
                ssl.encrypted().connect(move |_| {
                    if let Some(c) = weak.upgrade() {
                        c.send_handshake();
                    }
                });
                let weak = self.me.clone();
                ssl.ssl_errors().connect(move |errors| {
                    if let Some(c) = weak.upgrade() {
                        c.on_ssl_errors(ssl, errors);
                    }
                });
            }
            Sock::Tcp(tcp) => {
                tcp.connected().connect(move |_| {
                    if let Some(c) = weak.upgrade() {
                        c.send_handshake();
                    }
                });
            }
        }
        let io = sock.io();
        let weak = self.me.clone();
        io.ready_read().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.process();
            }
        });
        let weak = self.me.clone();
        io.bytes_written().connect(move |n| {
            if let Some(c) = weak.upgrade() {
                if matches!(c.phase.get(), Phase::Open | Phase::Closing) {
                    c.sig.bytes_written.emit(*n);
                }
            }
        });
        let weak = self.me.clone();
        io.read_channel_finished().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.process();
                c.on_peer_closed();
            }
        });
        let weak = self.me.clone();
        io.disconnected().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_peer_closed();
            }
        });
        let weak = self.me.clone();
        io.error_occurred().connect(move |e| {
            if let Some(c) = weak.upgrade() {
                c.on_socket_error(*e);
            }
        });
    }

    /// Certificate problems: accepted in advance, or shown to the `ssl_errors` slots.
    fn on_ssl_errors(&self, ssl: SslSocket, errors: &[SslError]) {
        let accepted_in_advance = self.settings.ignore_all_ssl_errors.get() || {
            let expected = self.settings.expected_ssl_errors.borrow();
            !expected.is_empty() && errors.iter().all(|e| expected.contains(e))
        };
        if accepted_in_advance {
            ssl.ignore_ssl_errors();
            return;
        }
        self.ssl_ignored_now.set(false);
        self.sig.ssl_errors.emit(errors.to_vec());
        if self.ssl_ignored_now.replace(false) {
            ssl.ignore_ssl_errors();
        }
    }

    /// The handshake request (RFC 6455, 4.1).
    fn send_handshake(&self) {
        let Some(sock) = self.socket.get() else {
            return;
        };
        if self.phase.get() != Phase::Connecting {
            return;
        }
        let Some(url) = self.url.borrow().clone() else {
            return;
        };
        let key = new_key();
        let mut out = String::with_capacity(512);
        out.push_str("GET ");
        out.push_str(url.path());
        if let Some(q) = url.query() {
            out.push('?');
            out.push_str(q);
        }
        out.push_str(" HTTP/1.1\r\nHost: ");
        out.push_str(url.host_str().unwrap_or_default());
        if let Some(port) = url.port() {
            out.push_str(&format!(":{port}"));
        }
        out.push_str("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
        out.push_str(&key);
        out.push_str("\r\nSec-WebSocket-Version: 13\r\n");
        let origin = self.settings.origin.borrow().clone();
        if !origin.is_empty() {
            out.push_str(&format!("Origin: {origin}\r\n"));
        }
        let protocols = self.subprotocols.borrow().join(", ");
        if !protocols.is_empty() {
            out.push_str(&format!("Sec-WebSocket-Protocol: {protocols}\r\n"));
        }
        let offer = self.settings.compression.get();
        self.offered_deflate.set(offer);
        if offer {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                deflate::client_offer()
            ));
        }
        if let Some(state) = self.settings.manager.get().and_then(|m| m.state()) {
            let mut cookie_url = url.clone();
            let _ = cookie_url.set_scheme(if url.scheme() == "wss" {
                "https"
            } else {
                "http"
            });
            if let Some(cookies) = state.features.cookie_header(&cookie_url) {
                out.push_str(&format!("Cookie: {cookies}\r\n"));
            }
        }
        for (name, value) in self.request.borrow().raw_header_pairs() {
            // The handshake's own fields are not the request's to set.
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "host" | "upgrade" | "connection" | "sec-websocket-key" | "sec-websocket-version"
            ) || value.contains(['\r', '\n'])
            {
                continue;
            }
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        *self.key.borrow_mut() = key;
        self.phase.set(Phase::Handshake);
        sock.io().write(out.as_bytes());
    }

    /// Reads the socket: the handshake response, then frames.
    fn process(&self) {
        if self.processing.replace(true) {
            return;
        }
        loop {
            match self.phase.get() {
                Phase::Handshake => {
                    if !self.read_handshake() {
                        break;
                    }
                }
                Phase::Open | Phase::Closing => {
                    if !self.read_frames() {
                        break;
                    }
                }
                _ => break,
            }
        }
        self.processing.set(false);
    }

    /// Reads the response head; true when the connection opened and frames may follow.
    fn read_handshake(&self) -> bool {
        let Some(sock) = self.socket.get() else {
            return false;
        };
        let mut head = self.head.borrow_mut();
        sock.io().with_read_buffer(&mut |buf| {
            head.unsplit(buf.split());
        });
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let parsed = response.parse(&head);
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if head.len() <= MAX_HANDSHAKE_RESPONSE => {
                return false;
            }
            Ok(httparse::Status::Partial) => {
                drop(head);
                self.fail(
                    SocketError::ConnectionRefusedError,
                    "The handshake response is too long".into(),
                );
                return false;
            }
            Err(e) => {
                drop(head);
                self.fail(
                    SocketError::ConnectionRefusedError,
                    format!("Invalid handshake response: {e}"),
                );
                return false;
            }
        };
        let checked = self.check_response(&response);
        let set_cookies: Vec<String> = response
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|h| std::str::from_utf8(h.value).ok().map(str::to_owned))
            .collect();
        let rest = head.split_off(len);
        head.clear();
        drop(head);
        if !set_cookies.is_empty() {
            if let (Some(state), Some(url)) = (
                self.settings.manager.get().and_then(|m| m.state()),
                self.url.borrow().clone(),
            ) {
                let mut cookie_url = url.clone();
                let _ = cookie_url.set_scheme(if url.scheme() == "wss" {
                    "https"
                } else {
                    "http"
                });
                state
                    .features
                    .store_cookies(&cookie_url, set_cookies.iter().map(String::as_str));
            }
        }
        let deflate = match checked {
            Ok(deflate) => deflate,
            Err(message) => {
                self.fail(SocketError::ConnectionRefusedError, message);
                return false;
            }
        };
        let mut proto = Protocol::new(Role::Client, deflate);
        proto.set_max_frame_size(self.settings.max_frame.get());
        proto.set_max_message_size(self.settings.max_message.get());
        proto.set_outgoing_frame_size(self.settings.outgoing_frame_size.get() as usize);
        let mut rest = rest;
        proto.feed(&mut rest);
        *self.proto.borrow_mut() = Some(proto);
        self.compressed.set(deflate.is_some());
        self.phase.set(Phase::Open);
        self.set_state(SocketState::Connected);
        self.sig.connected.emit(());
        true
    }

    /// Checks the server's answer (RFC 6455, 4.1, the client's checks); the deflate
    /// agreement when it is fine.
    fn check_response(
        &self,
        response: &httparse::Response<'_, '_>,
    ) -> Result<Option<deflate::DeflateParams>, String> {
        let code = response.code.unwrap_or(0);
        if code != 101 {
            return Err(format!(
                "Unhandled http status code: {code} ({})",
                response.reason.unwrap_or("")
            ));
        }
        let values = |name: &str| {
            response
                .headers
                .iter()
                .filter(move |h| h.name.eq_ignore_ascii_case(name))
                .filter_map(|h| std::str::from_utf8(h.value).ok())
                .collect::<Vec<_>>()
        };
        let has_token = |name: &str, token: &str| {
            values(name)
                .iter()
                .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        if !has_token("upgrade", "websocket") {
            return Err("The server did not upgrade to websocket".into());
        }
        if !has_token("connection", "upgrade") {
            return Err("The server's Connection field lacks upgrade".into());
        }
        let expected = accept_key(&self.key.borrow());
        if values("sec-websocket-accept").first().map(|v| v.trim()) != Some(expected.as_str()) {
            return Err("Sec-WebSocket-Accept does not match the key".into());
        }
        let chosen = values("sec-websocket-protocol");
        if let Some(p) = chosen.first() {
            let p = p.trim();
            if !self.subprotocols.borrow().iter().any(|o| o == p) {
                return Err(format!("The server chose a subprotocol not offered: {p}"));
            }
            *self.subprotocol.borrow_mut() = p.to_owned();
        }
        deflate::client_check(
            values("sec-websocket-extensions").into_iter(),
            self.offered_deflate.get(),
        )
    }

    /// Runs the protocol over what arrived; true if an event was handled (more may follow).
    fn read_frames(&self) -> bool {
        let Some(sock) = self.socket.get() else {
            return false;
        };
        let result = {
            let mut proto = self.proto.borrow_mut();
            let Some(proto) = proto.as_mut() else {
                return false;
            };
            proto.set_frame_events(
                self.sig.text_frame_received.is_connected()
                    || self.sig.binary_frame_received.is_connected(),
            );
            sock.io().with_read_buffer(&mut |buf| proto.feed(buf));
            proto.poll()
        };
        self.flush_output();
        // Slots run with no borrow held: they may send, close or delete the socket.
        match result {
            Ok(Some(event)) => {
                self.handle(event);
                true
            }
            Ok(None) => false,
            Err(violation) => {
                self.close_code.set(violation.code.code());
                self.close_reason.borrow_mut().clear();
                self.set_error(
                    SocketError::UnknownSocketError,
                    format!("WebSocket protocol error: {}", violation.what),
                );
                self.sig
                    .error_occurred
                    .emit(SocketError::UnknownSocketError);
                // Failing the connection (RFC 6455, 7.1.7): the close frame is queued; the
                // TCP connection closes after it.
                self.phase.set(Phase::Closing);
                self.set_state(SocketState::Closing);
                sock.io().disconnect_from_host();
                self.timer.start_interval(CLOSE_TIMEOUT);
                false
            }
        }
    }

    fn handle(&self, event: Event) {
        match event {
            Event::Text(text) => self.sig.text_message_received.emit(text),
            Event::Binary(data) => self.sig.binary_message_received.emit(data),
            Event::TextFrame(text, last) => self.sig.text_frame_received.emit((text, last)),
            Event::BinaryFrame(data, last) => self.sig.binary_frame_received.emit((data, last)),
            Event::Ping(_) => {}
            Event::Pong(payload) => {
                let elapsed = self
                    .ping_sent
                    .get()
                    .map_or(0, |t| t.elapsed().as_millis() as u64);
                self.sig.pong.emit((elapsed, payload));
            }
            Event::Close(frame) => {
                // The server's code and reason, unless this answers our own close.
                if self.phase.get() == Phase::Open {
                    match frame {
                        Some((code, reason)) => {
                            self.close_code.set(code);
                            *self.close_reason.borrow_mut() = reason;
                        }
                        None => self.close_code.set(CloseCode::MissingStatusCode.code()),
                    }
                    self.sig.about_to_close.emit(());
                }
                // Both close frames are out: the server closes the TCP connection; if it
                // does not in time, we do.
                self.phase.set(Phase::Closing);
                self.set_state(SocketState::Closing);
                self.timer.start_interval(CLOSE_TIMEOUT);
            }
        }
    }

    fn flush_output(&self) {
        let Some(sock) = self.socket.get() else {
            return;
        };
        let out = match self.proto.borrow_mut().as_mut() {
            Some(p) => p.take_output(),
            None => return,
        };
        for chunk in out {
            sock.io().write_bytes(chunk);
        }
    }

    fn close(&self, code: u16, reason: &str) {
        match self.phase.get() {
            Phase::Open => {}
            Phase::Connecting | Phase::Handshake => {
                self.close_code.set(code);
                *self.close_reason.borrow_mut() = reason.to_owned();
                return self.abort();
            }
            _ => return,
        }
        self.sig.about_to_close.emit(());
        if self.phase.get() != Phase::Open {
            return; // a slot closed or aborted it
        }
        self.close_code.set(code);
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        *self.close_reason.borrow_mut() = reason[..end].to_owned();
        if let Some(p) = self.proto.borrow_mut().as_mut() {
            p.send_close(code, &reason[..end]);
        }
        self.flush_output();
        self.phase.set(Phase::Closing);
        self.set_state(SocketState::Closing);
        self.timer.start_interval(CLOSE_TIMEOUT);
    }

    fn abort(&self) {
        if let Some(c) = self.connector.take() {
            c.abort();
            c.delete_later();
        }
        if let Some(s) = self.socket.get() {
            s.io().abort();
        }
        self.finish();
    }

    /// The server did not close in time after the close handshake (or did not answer ours).
    fn on_close_timeout(&self) {
        if self.phase.get() == Phase::Closing {
            self.abort();
        }
    }

    /// The server closed its side (or the connection dropped).
    fn on_peer_closed(&self) {
        match self.phase.get() {
            Phase::Done | Phase::Idle => {}
            Phase::Closing => {
                if let Some(s) = self.socket.get() {
                    s.io().disconnect_from_host();
                }
                self.finish();
            }
            Phase::Open => {
                // No close frame: an abnormal end (1006).
                self.close_code.set(CloseCode::AbnormalDisconnection.code());
                self.set_error(
                    SocketError::RemoteHostClosedError,
                    "The remote host closed the connection".into(),
                );
                self.sig
                    .error_occurred
                    .emit(SocketError::RemoteHostClosedError);
                self.finish();
            }
            Phase::Connecting | Phase::Handshake => {
                // The socket's own error (a failed TLS handshake) says more, if it has one.
                let sock_error = self
                    .socket
                    .get()
                    .and_then(|s| s.io().error().map(|e| (e, s.io().error_string())));
                let (error, message) = sock_error.unwrap_or((
                    SocketError::RemoteHostClosedError,
                    "The remote host closed the connection during the handshake".into(),
                ));
                self.fail(error, message);
            }
        }
    }

    fn on_socket_error(&self, error: SocketError) {
        if matches!(self.phase.get(), Phase::Done | Phase::Idle) {
            return;
        }
        if error == SocketError::RemoteHostClosedError
            && matches!(self.phase.get(), Phase::Open | Phase::Closing)
        {
            return self.on_peer_closed();
        }
        let message = self
            .socket
            .get()
            .map(|s| s.io().error_string())
            .unwrap_or_default();
        if self.phase.get() == Phase::Open {
            self.close_code.set(CloseCode::AbnormalDisconnection.code());
        }
        if self.phase.get() == Phase::Closing {
            // The close handshake was under way: the end came early, but it is the end.
            return self.finish();
        }
        self.fail(error, message);
    }

    /// Fails the connection with `error`: the error, then the end.
    fn fail(&self, error: SocketError, message: String) {
        if matches!(self.phase.get(), Phase::Done | Phase::Idle) {
            return;
        }
        // Done first: aborting the socket below emits its own signals, which must not
        // fail the connection a second time.
        let was = self.phase.replace(Phase::Done);
        self.set_error(error, message);
        self.sig.error_occurred.emit(error);
        if let Some(c) = self.connector.take() {
            c.abort();
            c.delete_later();
        }
        self.end(was);
    }

    /// The end: unconnected, `disconnected` once.
    fn finish(&self) {
        let was = self.phase.replace(Phase::Done);
        self.end(was);
    }

    /// Ends a connection that was in phase `was`.
    fn end(&self, was: Phase) {
        self.timer.stop();
        if let Some(s) = self.socket.take() {
            // Deleted from the loop: this may run inside one of its signals.
            s.io().abort();
            match s {
                Sock::Tcp(t) => t.delete_later(),
                Sock::Ssl(t) => t.delete_later(),
            }
        }
        if was == Phase::Done || was == Phase::Idle && self.state.get() == SocketState::Unconnected
        {
            return;
        }
        self.set_state(SocketState::Unconnected);
        // Also after a failed connection attempt, as Qt.
        self.sig.disconnected.emit(());
    }
}
