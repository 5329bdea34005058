//! [`AbstractHttpServer`]: binds listeners, owns the connections, hands requests to a
//! [`RequestHandler`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use slotnet_core::{AsObject, Object, Signal, Timer};
use slotnet_net::{AbstractSocket, LocalServer, SocketState, SslServer, SslSocket, TcpServer};

use super::config::HttpServerConfiguration;
use super::connection::Connection;
use super::h2_conn::H2Connection;
use super::request::{ConnectionInfo, HttpServerRequest};
use super::responder::HttpServerResponder;
use super::sniff::{sniff_socket, Sniff, Sniffer};
use super::websocket::{WebSocket, WebSocketHub, WebSocketUpgradeResponse};
use crate::h2::Http2Configuration;

/// The ALPN protocol id of HTTP/2 over TLS.
const ALPN_H2: &[u8] = b"h2";
/// At `max_connections` with no idle connection to close, accepting pauses and is retried
/// this often (a busy connection may have become idle); nginx similarly stops accepting for
/// a while when its connections run out.
const RECLAIM_RETRY: Duration = Duration::from_millis(100);

/// The ALPN protocol id of HTTP/1.1.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// What a server does with requests: Qt's virtual `handleRequest` and `missingHandler`.
///
/// Implemented for closures `Fn(&HttpServerRequest, HttpServerResponder) ->
/// Result<(), HttpServerResponder>`.
pub trait RequestHandler: 'static {
    /// Handles `request`: answer through `responder` now, or keep it to answer later, and
    /// return `Ok(())`. Return `Err(responder)` (untouched) when the request is not handled:
    /// [`missing_handler`](Self::missing_handler) gets it.
    fn handle_request(
        &self,
        request: &HttpServerRequest,
        responder: HttpServerResponder,
    ) -> Result<(), HttpServerResponder>;

    /// Answers a request nobody handled; by default `404 Not Found` with an empty body.
    fn missing_handler(&self, request: &HttpServerRequest, responder: HttpServerResponder) {
        let _ = request;
        responder.write_status(StatusCode::NOT_FOUND);
    }
}

impl<F> RequestHandler for F
where
    F: Fn(&HttpServerRequest, HttpServerResponder) -> Result<(), HttpServerResponder> + 'static,
{
    fn handle_request(
        &self,
        request: &HttpServerRequest,
        responder: HttpServerResponder,
    ) -> Result<(), HttpServerResponder> {
        self(request, responder)
    }
}

/// A hook run on every response head before it is sent (see
/// [`AbstractHttpServer::after_request`]).
pub type AfterRequestHook = dyn Fn(&HttpServerRequest, &mut StatusCode, &mut HeaderMap);

/// What every connection of a server shares (no reference back to the server, so
/// connections do not keep it alive).
pub(crate) struct Settings {
    pub(crate) handler: Rc<dyn RequestHandler>,
    hooks: RefCell<Vec<Rc<AfterRequestHook>>>,
    pub(crate) web_socket: WebSocketHub,
}

impl Settings {
    /// Runs the after-request hooks (with no borrow held: a hook may add hooks).
    pub(crate) fn run_after_request(
        &self,
        request: &HttpServerRequest,
        status: &mut StatusCode,
        headers: &mut HeaderMap,
    ) {
        let mut i = 0;
        loop {
            let hook = self.hooks.borrow().get(i).cloned();
            let Some(hook) = hook else {
                break;
            };
            hook(request, status, headers);
            i += 1;
        }
        log::debug!(target: crate::log_target::HTTPSERVER, "{} {} -> {}", request.method(), request.target(), status.as_u16());
    }
}

/// A connection of the server, by protocol.
#[derive(Clone)]
enum Served {
    /// HTTP/1.x.
    H1(Rc<Connection>),
    /// HTTP/2.
    H2(Rc<H2Connection>),
    /// A plain connection whose first bytes will tell (h2c prior knowledge or HTTP/1.1).
    Sniffing(Rc<Sniffer>),
}

impl Served {
    fn abort(&self) {
        match self {
            Served::H1(c) => c.abort(),
            Served::H2(c) => c.abort(),
            Served::Sniffing(c) => c.close(),
        }
    }

    /// Since when the connection has been idle (nothing asked, nothing owed), if it is:
    /// such a connection may be closed to make room for a new one. The rank comes first:
    /// idle HTTP connections (0) go before idle WebSockets (1).
    fn idle_since(&self) -> Option<(u8, Instant)> {
        match self {
            Served::H1(c) => Some((u8::from(c.is_upgraded()), c.idle_since()?)),
            Served::H2(c) => Some((0, c.idle_since()?)),
            Served::Sniffing(c) => Some((0, c.idle_since())),
        }
    }

    /// Answer bytes held in memory for the client (see
    /// [`AbstractHttpServer::buffered_output_bytes`]).
    fn output_held(&self) -> usize {
        match self {
            Served::H1(c) => c.output_held(),
            Served::H2(c) => c.output_held(),
            Served::Sniffing(_) => 0,
        }
    }

    fn begin_drain(&self) {
        match self {
            Served::H1(c) => c.begin_drain(),
            Served::H2(c) => c.begin_drain(),
            // Nothing asked yet, nothing owed.
            Served::Sniffing(c) => c.close(),
        }
    }
}

pub(crate) struct ServerCore {
    obj: Object,
    weak: Weak<ServerCore>,
    settings: Rc<Settings>,
    config: RefCell<Rc<HttpServerConfiguration>>,
    tcp: RefCell<Vec<TcpServer>>,
    local: RefCell<Vec<LocalServer>>,
    ssl: RefCell<Vec<SslServer>>,
    connections: RefCell<HashMap<u64, Served>>,
    next_id: Cell<u64>,
    accept_paused: Cell<bool>,
    /// Retries accepting while paused at `max_connections` ([`RECLAIM_RETRY`]).
    reclaim_retry: Timer,
    shutting_down: Cell<bool>,
    shutdown_finished: Signal<()>,
}

impl Drop for ServerCore {
    fn drop(&mut self) {
        let connections: Vec<_> = self.connections.get_mut().drain().map(|(_, c)| c).collect();
        for conn in connections {
            conn.abort();
        }
    }
}

impl ServerCore {
    pub(crate) fn config(&self) -> Rc<HttpServerConfiguration> {
        self.config.borrow().clone()
    }

    pub(crate) fn settings(&self) -> &Rc<Settings> {
        &self.settings
    }

    pub(crate) fn http2_config(&self) -> Http2Configuration {
        self.config.borrow().http2.clone()
    }

    fn at_capacity(&self) -> bool {
        self.connections.borrow().len() >= self.config.borrow().max_connections
    }

    /// Whether a new connection may be taken: below `max_connections`, or at it once the
    /// connection idle the longest was closed for a connection `waiting` to be taken (as
    /// nginx reuses keep-alive connections). When a waiting connection finds no room,
    /// accepting pauses (clients wait in the kernel's backlog) until a connection closes or
    /// [`RECLAIM_RETRY`] passed (one may have become idle).
    fn make_room(&self, waiting: bool) -> bool {
        if !self.at_capacity() {
            return true;
        }
        if !waiting {
            return false;
        }
        if self.reclaim_idle() && !self.at_capacity() {
            return true;
        }
        self.pause_accepting();
        self.reclaim_retry.start_interval(RECLAIM_RETRY);
        false
    }

    /// Closes the connection idle the longest, if any is idle (HTTP before WebSockets, which
    /// are closed at once, without a close frame); returns whether one was.
    /// A scan of the table, only when it is full: no cost while below the limit.
    fn reclaim_idle(&self) -> bool {
        let oldest = self
            .connections
            .borrow()
            .values()
            .filter_map(|c| Some((c.idle_since()?, c.clone())))
            .min_by_key(|(rank_since, _)| *rank_since)
            .map(|(_, c)| c);
        match oldest {
            // Reports its close at once (`connection_closed`).
            Some(conn) => {
                conn.abort();
                true
            }
            None => false,
        }
    }

    fn accept_tcp(&self, server: TcpServer) {
        loop {
            if !self.make_room(server.has_pending_connections()) {
                return;
            }
            let Some(socket) = server.next_pending_connection() else {
                return;
            };
            let info = ConnectionInfo {
                remote: socket.peer_socket_addr(),
                local: socket.local_socket_addr(),
                secure: false,
            };
            self.add_connection(Box::new(socket), info, false);
        }
    }

    fn accept_local(&self, server: LocalServer) {
        loop {
            if !self.make_room(server.has_pending_connections()) {
                return;
            }
            let Some(socket) = server.next_pending_connection() else {
                return;
            };
            self.add_connection(Box::new(socket), ConnectionInfo::default(), false);
        }
    }

    fn accept_ssl(&self, server: SslServer) {
        loop {
            if !self.make_room(server.has_pending_connections()) {
                return;
            }
            // Handed out once its handshake completed.
            let Some(socket) = server.next_pending_connection() else {
                return;
            };
            let info = ConnectionInfo {
                remote: socket.peer_socket_addr(),
                local: socket.local_socket_addr(),
                secure: true,
            };
            let h2 = negotiated_h2(&socket);
            self.add_connection(Box::new(socket), info, h2);
        }
    }

    /// Takes over a connected socket. `h2`: TLS negotiated HTTP/2 (ALPN); otherwise a
    /// plain connection may still turn out to be HTTP/2 by its first bytes (h2c).
    fn add_connection(&self, socket: Box<dyn AbstractSocket>, info: ConnectionInfo, h2: bool) {
        if self.weak.upgrade().is_none() {
            return;
        }
        if self.shutting_down.get() {
            socket.abort();
            return;
        }
        // The connection lives as long as this server, whatever happens to its listener.
        let _ = socket.as_object().set_parent(Some(self.obj));
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        log::debug!(target: crate::log_target::HTTPSERVER, "Accepted connection {id} from {}{}", info.remote.map_or_else(|| "a local socket".to_owned(), |a| a.to_string()), if info.secure { " (TLS)" } else { "" });
        // Prior knowledge is for cleartext only: over TLS, ALPN decides (RFC 9113, 3.3).
        let sniff = self.config.borrow().h2c && !info.secure && !h2;
        if !sniff {
            return self.promote(id, socket, info, h2);
        }
        match sniff_socket(socket.as_ref()) {
            Sniff::NeedMore if socket.state() != SocketState::Connected => {
                socket.as_object().delete_later();
            }
            Sniff::NeedMore => {
                let Some(me) = self.weak.upgrade() else {
                    return;
                };
                let sniffer = Sniffer::start(&me, id, socket, info);
                self.connections
                    .borrow_mut()
                    .insert(id, Served::Sniffing(sniffer));
            }
            verdict => self.promote(id, socket, info, verdict == Sniff::Http2),
        }
    }

    /// Serves connection `id` with the protocol it speaks (replacing its sniffer, if any).
    pub(crate) fn promote(
        &self,
        id: u64,
        socket: Box<dyn AbstractSocket>,
        info: ConnectionInfo,
        h2: bool,
    ) {
        let Some(me) = self.weak.upgrade() else {
            socket.abort();
            return;
        };
        let socket_obj = socket.as_object();
        if h2 {
            let socket: Rc<dyn AbstractSocket> = Rc::from(socket);
            match H2Connection::start(&me, id, socket, info) {
                Some(conn) => {
                    let old = self.connections.borrow_mut().insert(id, Served::H2(conn));
                    drop(old);
                }
                None => {
                    self.forget(id);
                    socket_obj.delete_later();
                }
            }
            return;
        }
        match Connection::start(&me, id, socket, info) {
            Some(conn) => {
                let old = self
                    .connections
                    .borrow_mut()
                    .insert(id, Served::H1(conn.clone()));
                drop(old);
                // Bytes that arrived before the connection was taken over.
                conn.process_input();
            }
            None => {
                self.forget(id);
                socket_obj.delete_later();
            }
        }
    }

    /// Drops connection `id` from the table (it never started).
    fn forget(&self, id: u64) {
        let old = self.connections.borrow_mut().remove(&id);
        drop(old);
    }

    fn pause_accepting(&self) {
        if self.accept_paused.replace(true) {
            return;
        }
        for server in self.tcp.borrow().iter() {
            server.pause_accepting();
        }
        for server in self.local.borrow().iter() {
            server.pause_accepting();
        }
        for server in self.ssl.borrow().iter() {
            server.pause_accepting();
        }
    }

    fn resume_accepting(&self) {
        if !self.accept_paused.replace(false) {
            return;
        }
        let tcp = self.tcp.borrow().clone();
        let local = self.local.borrow().clone();
        for server in tcp {
            server.resume_accepting();
            // Connections already accepted and announced wait in its queue.
            self.accept_tcp(server);
        }
        for server in local {
            server.resume_accepting();
            self.accept_local(server);
        }
        let ssl = self.ssl.borrow().clone();
        for server in ssl {
            server.resume_accepting();
            self.accept_ssl(server);
        }
    }

    pub(crate) fn connection_closed(&self, id: u64) {
        let removed = self.connections.borrow_mut().remove(&id);
        drop(removed);
        if self.shutting_down.get() {
            if self.connections.borrow().is_empty() {
                self.shutdown_finished.emit(());
            }
        } else if self.accept_paused.get() && !self.at_capacity() {
            self.resume_accepting();
        }
    }
}

/// An HTTP server without routing (Qt's `QAbstractHttpServer`): binds TCP and local
/// listeners and hands every request to a [`RequestHandler`].
///
/// A `Copy` handle to an [`Object`]; destroying it (or its parent) closes every connection.
/// Connections are served on the thread that created the server, HTTP/1.1 with keep-alive
/// and pipelining, or HTTP/2 (TLS with ALPN `h2`, or cleartext prior knowledge when
/// [`HttpServerConfiguration::h2c`] is set), within the limits of its
/// [`HttpServerConfiguration`] and [`Http2Configuration`]. The handler sees the same
/// [`HttpServerRequest`]s and answers through the same [`HttpServerResponder`] whatever the
/// protocol.
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_http::server::{AbstractHttpServer, HttpServerRequest, HttpServerResponder};
/// use slotnet_net::TcpServer;
/// use std::net::Ipv4Addr;
///
/// let server = AbstractHttpServer::new(|req: &HttpServerRequest, responder: HttpServerResponder| {
///     if req.path() != "/" {
///         return Err(responder); // 404 from the missing handler
///     }
///     responder.write_data(http::StatusCode::OK, "text/plain", "hello");
///     Ok(())
/// });
/// let tcp = TcpServer::new();
/// assert!(tcp.listen(Ipv4Addr::LOCALHOST, 8080));
/// assert!(server.bind(&tcp));
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbstractHttpServer {
    obj: Object,
}

impl AsObject for AbstractHttpServer {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl AbstractHttpServer {
    /// A server handing requests to `handler`, with the default configuration.
    pub fn new<H: RequestHandler>(handler: H) -> AbstractHttpServer {
        Self::with_handler(Rc::new(handler), None)
    }

    pub(crate) fn with_handler(
        handler: Rc<dyn RequestHandler>,
        parent: Option<Object>,
    ) -> AbstractHttpServer {
        let obj = Object::with_data(Rc::new(()), parent);
        let core = Rc::new_cyclic(|weak| ServerCore {
            obj,
            weak: weak.clone(),
            settings: Rc::new(Settings {
                handler,
                hooks: RefCell::new(Vec::new()),
                web_socket: WebSocketHub::new(obj),
            }),
            config: RefCell::new(Rc::new(HttpServerConfiguration::default())),
            tcp: RefCell::new(Vec::new()),
            local: RefCell::new(Vec::new()),
            ssl: RefCell::new(Vec::new()),
            connections: RefCell::new(HashMap::new()),
            next_id: Cell::new(0),
            accept_paused: Cell::new(false),
            reclaim_retry: {
                let timer = Timer::with_parent(&obj);
                timer.set_single_shot(true);
                timer
            },
            shutting_down: Cell::new(false),
            shutdown_finished: obj.new_signal(),
        });
        let weak = core.weak.clone();
        core.reclaim_retry.timeout().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                if !core.shutting_down.get() {
                    core.resume_accepting();
                }
            }
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        AbstractHttpServer { obj }
    }

    fn core(&self) -> Option<Rc<ServerCore>> {
        self.obj.data::<ServerCore>()
    }

    /// Whether the server object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the server: every connection is closed at once.
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// The configuration new connections get.
    pub fn configuration(&self) -> HttpServerConfiguration {
        self.core()
            .map(|c| (*c.config()).clone())
            .unwrap_or_default()
    }

    /// Replaces the configuration; connections accepted from now on use it. It includes the
    /// HTTP/2 settings ([`HttpServerConfiguration::http2`]): set those in it, or call
    /// [`set_http2_configuration`](Self::set_http2_configuration) after this.
    pub fn set_configuration(&self, config: HttpServerConfiguration) {
        if let Some(core) = self.core() {
            *core.config.borrow_mut() = Rc::new(config);
            if core.accept_paused.get() && !core.at_capacity() {
                core.resume_accepting();
            }
        }
    }

    /// The HTTP/2 settings new HTTP/2 connections get (Qt's `http2Configuration`).
    pub fn http2_configuration(&self) -> Http2Configuration {
        self.core().map(|c| c.http2_config()).unwrap_or_default()
    }

    /// Replaces the HTTP/2 settings; the next HTTP/2 connection uses them (Qt's
    /// `setHttp2Configuration`). Its `max_concurrent_streams` is the number of streams a
    /// client may have open at once on one connection. The same as setting
    /// [`HttpServerConfiguration::http2`] (the one settings type of the server).
    pub fn set_http2_configuration(&self, config: Http2Configuration) {
        if let Some(core) = self.core() {
            let mut all = (*core.config()).clone();
            all.http2 = config;
            *core.config.borrow_mut() = Rc::new(all);
        }
    }

    /// Serves the connections of `server` (Qt's `bind`). Returns false (and does nothing) if
    /// it is not listening, as in Qt. The server keeps accepting from it until it is closed
    /// or destroyed; accepted connections become children of this server.
    pub fn bind(&self, server: &TcpServer) -> bool {
        let tcp = *server;
        self.bind_listener(
            server.is_listening(),
            |core| &core.tcp,
            tcp,
            server.new_connection(),
            ServerCore::accept_tcp,
            move || tcp.pause_accepting(),
        )
    }

    /// Serves the connections of a local (Unix domain socket) server; false if it is not
    /// listening.
    pub fn bind_local(&self, server: &LocalServer) -> bool {
        let local = *server;
        self.bind_listener(
            server.is_listening(),
            |core| &core.local,
            local,
            server.new_connection(),
            ServerCore::accept_local,
            move || local.pause_accepting(),
        )
    }

    /// Serves the connections of a TLS server, once their handshake completed (connections
    /// failing the handshake never reach the HTTP layer); false if it is not listening.
    /// Requests are `https:`.
    ///
    /// HTTP/2 is chosen by ALPN: a connection that negotiated `h2` is served as HTTP/2, any
    /// other as HTTP/1.1. If the server's [`SslConfiguration`](slotnet_net::ssl::SslConfiguration)
    /// has no ALPN list, it is given `h2` and `http/1.1` (in that order of preference) here;
    /// to serve HTTP/1.1 only, set the list to `http/1.1` before binding.
    pub fn bind_ssl(&self, server: &SslServer) -> bool {
        // Offer h2 only to a server this call will actually bind.
        let will_bind = self
            .core()
            .is_some_and(|core| !core.shutting_down.get() && !core.ssl.borrow().contains(server));
        if will_bind && server.is_listening() {
            let mut tls = server.ssl_configuration();
            if tls.allowed_next_protocols().is_empty() {
                tls.set_allowed_next_protocols(vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()]);
                server.set_ssl_configuration(tls);
            }
        }
        let ssl = *server;
        self.bind_listener(
            server.is_listening(),
            |core| &core.ssl,
            ssl,
            // Connections reach HTTP once their handshake is done.
            server.pending_connection_available(),
            ServerCore::accept_ssl,
            move || ssl.pause_accepting(),
        )
    }

    /// What the three `bind*` methods share: refuse a listener that is not listening (or a
    /// server shutting down), bind each listener once, accept on `ready` unless accepting is
    /// paused, and take what is already pending.
    fn bind_listener<L: Copy + PartialEq + 'static>(
        &self,
        listening: bool,
        bound: fn(&ServerCore) -> &RefCell<Vec<L>>,
        listener: L,
        ready: Signal<()>,
        accept: fn(&ServerCore, L),
        pause: impl Fn(),
    ) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if !listening || core.shutting_down.get() {
            return false;
        }
        if bound(&core).borrow().contains(&listener) {
            return true;
        }
        let weak = core.weak.clone();
        ready.connect_with(&self.obj, move |_| {
            if let Some(core) = weak.upgrade() {
                if !core.accept_paused.get() {
                    accept(&core, listener);
                }
            }
        });
        bound(&core).borrow_mut().push(listener);
        if core.accept_paused.get() {
            pause();
        } else {
            accept(&core, listener);
        }
        true
    }

    /// Serves one already-connected stream of any transport (a TLS socket once its
    /// handshake is done, a socket accepted elsewhere, a socket pair in a test). The socket
    /// becomes a child of this server. Ignored while shutting down (the socket is closed).
    ///
    /// An [`SslSocket`] whose handshake negotiated `h2` (ALPN) is served as HTTP/2; a plain
    /// stream as HTTP/1.1, or as HTTP/2 if [`HttpServerConfiguration::h2c`] is set and it
    /// opens with the HTTP/2 client preface.
    pub fn add_connection<S: AbstractSocket + 'static>(&self, socket: S, info: ConnectionInfo) {
        // A TLS socket that negotiated "h2" speaks HTTP/2 from its first byte.
        let h2 = (&socket as &dyn Any)
            .downcast_ref::<SslSocket>()
            .is_some_and(negotiated_h2);
        match self.core() {
            Some(core) => core.add_connection(Box::new(socket), info, h2),
            None => socket.abort(),
        }
    }

    /// The ports of the bound TCP and TLS servers that are listening (Qt's `serverPorts`).
    pub fn server_ports(&self) -> Vec<u16> {
        let tcp = self
            .servers()
            .into_iter()
            .filter(|s| s.is_listening())
            .map(|s| s.server_port());
        let ssl = self
            .ssl_servers()
            .into_iter()
            .filter(|s| s.is_listening())
            .map(|s| s.server_port());
        tcp.chain(ssl).collect()
    }

    /// The bound TLS servers.
    pub fn ssl_servers(&self) -> Vec<SslServer> {
        self.core()
            .map(|c| {
                c.ssl
                    .borrow()
                    .iter()
                    .copied()
                    .filter(|s| s.is_alive())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bound TCP servers (Qt's `servers`).
    pub fn servers(&self) -> Vec<TcpServer> {
        self.core()
            .map(|c| {
                c.tcp
                    .borrow()
                    .iter()
                    .copied()
                    .filter(|s| s.is_alive())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bound local servers (Qt's `localServers`).
    pub fn local_servers(&self) -> Vec<LocalServer> {
        self.core()
            .map(|c| {
                c.local
                    .borrow()
                    .iter()
                    .copied()
                    .filter(|s| s.is_alive())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.core().map_or(0, |c| c.connections.borrow().len())
    }

    /// Answer bytes held in memory, over all connections, for clients that have not taken
    /// them yet (socket queues, answers waiting behind earlier ones, HTTP/2 data handed to
    /// the protocol and not yet written): what slow or non-reading clients cost. Each
    /// connection's share is bounded (see [`HttpServerConfiguration::max_buffered_output`]);
    /// for monitoring. Computed on call, over every connection.
    pub fn buffered_output_bytes(&self) -> usize {
        self.core().map_or(0, |c| {
            c.connections
                .borrow()
                .values()
                .map(Served::output_held)
                .sum()
        })
    }

    /// Adds a hook run on every response head before it is sent (Qt's
    /// `addAfterRequestHandler`): it may change the status and the header fields, for
    /// instance to add a header to every response or to log requests. Hooks run in the order
    /// they were added. Error answers to malformed requests (which have no request) skip
    /// them. An accepted WebSocket upgrade passes through them once, with status `101`: the
    /// fields they add go out with the `101` (not the handshake's own), a status they set is
    /// ignored (the verifier accepted the upgrade). Qt 6's QHttpServer does not show upgrades
    /// to its after-request handlers at all; slotnet does, so that a logging hook sees every
    /// answer.
    pub fn after_request<F>(&self, hook: F)
    where
        F: Fn(&HttpServerRequest, &mut StatusCode, &mut HeaderMap) + 'static,
    {
        if let Some(core) = self.core() {
            core.settings.hooks.borrow_mut().push(Rc::new(hook));
        }
    }

    /// Adds a verifier for WebSocket upgrade requests (Qt's `addWebSocketUpgradeVerifier`),
    /// kept while `context` lives. Verifiers are asked in the order they were added; the
    /// first that accepts or denies decides. An accepted upgrade is answered with
    /// `101 Switching Protocols` and becomes a [`WebSocket`] announced by
    /// [`new_web_socket_connection`](Self::new_web_socket_connection); a denied one gets
    /// `403 Forbidden`; one no verifier decides goes to the missing handler.
    ///
    /// Upgrades are HTTP/1.1 only (RFC 6455): `GET` with `Upgrade: websocket`,
    /// `Connection: upgrade`, `Sec-WebSocket-Version: 13` and a valid `Sec-WebSocket-Key`.
    pub fn add_web_socket_upgrade_verifier<C, F>(&self, context: &C, verifier: F)
    where
        C: AsObject,
        F: Fn(&HttpServerRequest) -> WebSocketUpgradeResponse + 'static,
    {
        if let Some(core) = self.core() {
            core.settings
                .web_socket
                .add_verifier(context.as_object(), Rc::new(verifier));
        }
    }

    /// Emitted when an upgraded connection is ready (Qt's `newWebSocketConnection`); take it
    /// with [`next_pending_web_socket_connection`](Self::next_pending_web_socket_connection).
    pub fn new_web_socket_connection(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.settings.web_socket.new_connection())
    }

    /// Whether accepted WebSockets wait to be taken.
    pub fn has_pending_web_socket_connections(&self) -> bool {
        self.core()
            .is_some_and(|c| c.settings.web_socket.has_pending())
    }

    /// The next accepted WebSocket not yet taken (oldest first).
    pub fn next_pending_web_socket_connection(&self) -> Option<WebSocket> {
        self.core()
            .and_then(|c| c.settings.web_socket.next_pending())
    }

    /// Graceful shutdown: stops listening on every bound server, reads no new request,
    /// finishes the answers owed (with `Connection: close`), and closes each connection
    /// once it owes nothing. [`shutdown_finished`](Self::shutdown_finished) is emitted when
    /// the last connection has closed (on the next loop iteration if there is none).
    pub fn shutdown(&self) {
        let Some(core) = self.core() else {
            return;
        };
        if core.shutting_down.replace(true) {
            return;
        }
        for server in core.tcp.borrow().iter() {
            server.close();
        }
        for server in core.local.borrow().iter() {
            server.close();
        }
        for server in core.ssl.borrow().iter() {
            server.close();
        }
        let connections: Vec<Served> = core.connections.borrow().values().cloned().collect();
        // With connections, the last one to close emits `shutdown_finished`.
        let none = connections.is_empty();
        for conn in connections {
            conn.begin_drain();
        }
        if none {
            let signal = core.shutdown_finished.clone();
            self.obj.invoke_later(move || signal.emit(()));
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.core().is_some_and(|c| c.shutting_down.get())
    }

    /// Emitted once after [`shutdown`](Self::shutdown), when no connection is left.
    pub fn shutdown_finished(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.shutdown_finished.clone())
    }
}

/// Whether the TLS handshake of `socket` chose HTTP/2 (ALPN "h2").
fn negotiated_h2(socket: &SslSocket) -> bool {
    socket.ssl_configuration().negotiated_protocol() == Some(ALPN_H2)
}
