//! [`AbstractHttpServer`]: binds listeners, owns the connections, hands requests to a
//! [`RequestHandler`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use http::{HeaderMap, StatusCode};
use slotnet_core::{AsObject, Object, Signal};
use slotnet_net::{AbstractSocket, LocalServer, SslServer, TcpServer};

use super::config::HttpServerConfiguration;
use super::connection::Connection;
use super::request::{ConnectionInfo, HttpServerRequest};
use super::responder::HttpServerResponder;

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
    connections: RefCell<HashMap<u64, Rc<Connection>>>,
    next_id: Cell<u64>,
    accept_paused: Cell<bool>,
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

    fn at_capacity(&self) -> bool {
        self.connections.borrow().len() >= self.config.borrow().max_connections
    }

    fn accept_tcp(&self, server: TcpServer) {
        loop {
            if self.at_capacity() {
                self.pause_accepting();
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
            self.add_connection(Box::new(socket), info);
        }
    }

    fn accept_local(&self, server: LocalServer) {
        loop {
            if self.at_capacity() {
                self.pause_accepting();
                return;
            }
            let Some(socket) = server.next_pending_connection() else {
                return;
            };
            self.add_connection(Box::new(socket), ConnectionInfo::default());
        }
    }

    fn accept_ssl(&self, server: SslServer) {
        loop {
            if self.at_capacity() {
                self.pause_accepting();
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
            self.add_connection(Box::new(socket), info);
        }
    }

    fn add_connection(&self, socket: Box<dyn AbstractSocket>, info: ConnectionInfo) {
        let Some(me) = self.weak.upgrade() else {
            return;
        };
        if self.shutting_down.get() {
            socket.abort();
            return;
        }
        // The connection lives as long as this server, whatever happens to its listener.
        let _ = socket.as_object().set_parent(Some(self.obj));
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let socket_obj = socket.as_object();
        match Connection::start(&me, id, socket, info) {
            Some(conn) => {
                self.connections.borrow_mut().insert(id, conn.clone());
                // Bytes that arrived before the connection was taken over.
                conn.process_input();
            }
            None => socket_obj.delete_later(),
        }
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
/// and pipelining, within the limits of its [`HttpServerConfiguration`].
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
            }),
            config: RefCell::new(Rc::new(HttpServerConfiguration::default())),
            tcp: RefCell::new(Vec::new()),
            local: RefCell::new(Vec::new()),
            ssl: RefCell::new(Vec::new()),
            connections: RefCell::new(HashMap::new()),
            next_id: Cell::new(0),
            accept_paused: Cell::new(false),
            shutting_down: Cell::new(false),
            shutdown_finished: obj.new_signal(),
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

    /// Replaces the configuration; connections accepted from now on use it.
    pub fn set_configuration(&self, config: HttpServerConfiguration) {
        if let Some(core) = self.core() {
            *core.config.borrow_mut() = Rc::new(config);
            if core.accept_paused.get() && !core.at_capacity() {
                core.resume_accepting();
            }
        }
    }

    /// Serves the connections of `server` (Qt's `bind`). Returns false (and does nothing) if
    /// it is not listening, as in Qt. The server keeps accepting from it until it is closed
    /// or destroyed; accepted connections become children of this server.
    pub fn bind(&self, server: &TcpServer) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if !server.is_listening() || core.shutting_down.get() {
            return false;
        }
        if core.tcp.borrow().contains(server) {
            return true;
        }
        let weak = core.weak.clone();
        let tcp = *server;
        server.new_connection().connect_with(&self.obj, move |_| {
            if let Some(core) = weak.upgrade() {
                if !core.accept_paused.get() {
                    core.accept_tcp(tcp);
                }
            }
        });
        core.tcp.borrow_mut().push(tcp);
        if core.accept_paused.get() {
            tcp.pause_accepting();
        } else {
            core.accept_tcp(tcp);
        }
        true
    }

    /// Serves the connections of a local (Unix domain socket) server; false if it is not
    /// listening.
    pub fn bind_local(&self, server: &LocalServer) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if !server.is_listening() || core.shutting_down.get() {
            return false;
        }
        if core.local.borrow().contains(server) {
            return true;
        }
        let weak = core.weak.clone();
        let local = *server;
        server.new_connection().connect_with(&self.obj, move |_| {
            if let Some(core) = weak.upgrade() {
                if !core.accept_paused.get() {
                    core.accept_local(local);
                }
            }
        });
        core.local.borrow_mut().push(local);
        if core.accept_paused.get() {
            local.pause_accepting();
        } else {
            core.accept_local(local);
        }
        true
    }

    /// Serves the connections of a TLS server, once their handshake completed (connections
    /// failing the handshake never reach the HTTP layer); false if it is not listening.
    /// Requests are `https:`. The server's ALPN list should offer `http/1.1` only: HTTP/2 is
    /// not served yet.
    pub fn bind_ssl(&self, server: &SslServer) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if !server.is_listening() || core.shutting_down.get() {
            return false;
        }
        if core.ssl.borrow().contains(server) {
            return true;
        }
        let weak = core.weak.clone();
        let ssl = *server;
        server
            .pending_connection_available()
            .connect_with(&self.obj, move |_| {
                if let Some(core) = weak.upgrade() {
                    if !core.accept_paused.get() {
                        core.accept_ssl(ssl);
                    }
                }
            });
        core.ssl.borrow_mut().push(ssl);
        if core.accept_paused.get() {
            ssl.pause_accepting();
        } else {
            core.accept_ssl(ssl);
        }
        true
    }

    /// Serves one already-connected stream of any transport (a TLS socket once its
    /// handshake is done, a socket accepted elsewhere, a socket pair in a test). The socket
    /// becomes a child of this server. Ignored while shutting down (the socket is closed).
    pub fn add_connection<S: AbstractSocket + 'static>(&self, socket: S, info: ConnectionInfo) {
        match self.core() {
            Some(core) => core.add_connection(Box::new(socket), info),
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

    /// Adds a hook run on every response head before it is sent (Qt's
    /// `addAfterRequestHandler`): it may change the status and the header fields, for
    /// instance to add a header to every response or to log requests. Hooks run in the order
    /// they were added. Error answers to malformed requests (which have no request) skip
    /// them.
    pub fn after_request<F>(&self, hook: F)
    where
        F: Fn(&HttpServerRequest, &mut StatusCode, &mut HeaderMap) + 'static,
    {
        if let Some(core) = self.core() {
            core.settings.hooks.borrow_mut().push(Rc::new(hook));
        }
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
        let connections: Vec<Rc<Connection>> =
            core.connections.borrow().values().cloned().collect();
        for conn in connections {
            conn.begin_drain();
        }
        if core.connections.borrow().is_empty() {
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
