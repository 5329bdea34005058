//! `SslServer`, Qt's `QSslServer`: a TCP server whose connections are [`SslSocket`]s in
//! server mode, handed out once their handshake has completed.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::Duration;

use slotnet_core::{AsObject, Connection, Object, Signal, Timer};

use crate::error::SocketError;
use crate::server::DEFAULT_MAX_PENDING;
use crate::ssl::{SslConfiguration, SslError};
use crate::ssl_socket::SslSocket;
use crate::tcp::TcpSocket;
use crate::tcp_server::TcpServer;
use crate::wait::{self, Deadline};

/// How long a client may take to complete the handshake by default (Qt 6.5's default).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections may be in their handshake at once by default; past it the oldest
/// handshake is ended to make room (see [`SslServer::set_max_handshaking_connections`]).
pub const DEFAULT_MAX_HANDSHAKING: usize = 1024;

/// The handshake timeout of connections accepted while more than half of the handshake
/// budget is in use (if shorter than the configured one): a flood of clients that never
/// send a ClientHello ends sooner.
pub const PRESSURE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);

struct ServerSignals {
    new_connection: Signal<()>,
    pending_connection_available: Signal<()>,
    accept_error: Signal<SocketError>,
    started_encryption_handshake: Signal<SslSocket>,
    ssl_errors: Signal<(SslSocket, Vec<SslError>)>,
    peer_verify_error: Signal<(SslSocket, SslError)>,
    error_occurred: Signal<(SslSocket, SocketError)>,
    handshake_interrupted_on_error: Signal<(SslSocket, SslError)>,
}

/// A connection whose handshake is running, with the connections relaying its signals.
struct Handshaking {
    socket: SslSocket,
    relays: Vec<Connection>,
}

struct ServerCore {
    obj: Object,
    weak: Weak<ServerCore>,
    tcp: TcpServer,
    config: RefCell<SslConfiguration>,
    handshake_timeout: Cell<Option<Duration>>,
    /// Oldest first.
    handshaking: RefCell<VecDeque<Handshaking>>,
    max_handshaking: Cell<usize>,
    pending: RefCell<VecDeque<SslSocket>>,
    max_pending: Cell<usize>,
    /// The user paused accepting (as opposed to the server pausing on a full queue).
    user_paused: Cell<bool>,
    /// Connections that completed their handshake so far (for the blocking wait).
    completed: Cell<u64>,
    sig: ServerSignals,
}

/// A TLS server on the event loop (Qt's `QSslServer`).
///
/// Each accepted TCP connection becomes an [`SslSocket`] (a child of the server) in
/// `SslServerMode` with the server's [`SslConfiguration`] (local certificate chain and key,
/// ALPN list, client-certificate verify mode), and its handshake starts at once:
///
/// - `new_connection` when a connection is accepted (before the handshake, as in Qt: do
///   not call `next_pending_connection` from it), `started_encryption_handshake(socket)`;
/// - `ssl_errors(socket, errors)` and `peer_verify_error(socket, error)` for client
///   certificates (call `socket.ignore_ssl_errors()` from the slot to accept them);
/// - `pending_connection_available` once the handshake completed: the socket is then
///   returned by [`next_pending_connection`](Self::next_pending_connection);
/// - `error_occurred(socket, error)` when a handshake fails (the socket is then closed and
///   deleted), including `SocketTimeoutError` when it takes longer than the
///   [handshake timeout](Self::set_handshake_timeout), so that slow or malicious clients
///   cannot pin connections.
///
/// Completed connections not yet taken count against
/// [`max_pending_connections`](Self::max_pending_connections); at the limit the server stops
/// accepting until one is taken. Connections in their handshake have a budget of their own
/// ([`max_handshaking_connections`](Self::max_handshaking_connections), larger): when it is
/// full, a new connection ends the oldest handshake (`error_occurred(socket,
/// SocketTimeoutError)`) instead of waiting, and while more than half of it is used new
/// connections get a handshake timeout of at most [`PRESSURE_HANDSHAKE_TIMEOUT`]. Idle
/// connections that never send a ClientHello can therefore not lock real clients out (Qt
/// 6.4 counted handshakes against the pending limit: 30 silent connections blocked it).
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_net::ssl::{SslCertificate, SslConfiguration, SslKey};
/// use slotnet_net::SslServer;
/// use std::net::Ipv4Addr;
///
/// let mut config = SslConfiguration::default();
/// let chain = std::fs::read("server-chain.pem").unwrap();
/// config.set_local_certificate_chain(SslCertificate::from_pem_list(&chain).unwrap());
/// config.set_private_key(SslKey::from_pem(&std::fs::read("server-key.pem").unwrap()).unwrap());
///
/// let server = SslServer::new();
/// server.set_ssl_configuration(config);
/// assert!(server.listen(Ipv4Addr::LOCALHOST, 8443));
/// server.pending_connection_available().connect(move |_| {
///     while let Some(client) = server.next_pending_connection() {
///         client.write(b"hello over TLS\n");
///         client.disconnect_from_host();
///     }
/// });
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SslServer {
    obj: Object,
}

impl AsObject for SslServer {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for SslServer {
    fn default() -> Self {
        SslServer::new()
    }
}

macro_rules! server_signal {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Signal<$ty> {
            self.core()
                .map_or_else(Signal::closed, |c| c.sig.$name.clone())
        }
    };
}

impl SslServer {
    /// A new server, not listening, with a default configuration (set one with a local
    /// certificate and key before clients connect).
    pub fn new() -> SslServer {
        SslServer {
            obj: ServerCore::create(None),
        }
    }

    /// A new server owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> SslServer {
        SslServer {
            obj: ServerCore::create(Some(parent.as_object())),
        }
    }

    fn core(&self) -> Option<Rc<ServerCore>> {
        self.obj.data::<ServerCore>()
    }

    /// Whether the server object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the server now: it stops listening, and its connections (children) close.
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// Destroys the server when control returns to the event loop.
    pub fn delete_later(&self) {
        self.obj.delete_later()
    }

    /// The configuration accepted connections get.
    pub fn ssl_configuration(&self) -> SslConfiguration {
        self.core()
            .map(|c| c.config.borrow().clone())
            .unwrap_or_default()
    }

    /// Sets the configuration for connections accepted from now on: local certificate
    /// chain and private key, ALPN protocols, peer verify mode for client certificates.
    pub fn set_ssl_configuration(&self, config: SslConfiguration) {
        if let Some(c) = self.core() {
            *c.config.borrow_mut() = config;
        }
    }

    /// How long a handshake may take (`None`: no limit). Default:
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn handshake_timeout(&self) -> Option<Duration> {
        self.core().and_then(|c| c.handshake_timeout.get())
    }

    /// Sets how long a handshake may take, from the accept on, for connections accepted
    /// from now on. Past it the connection is aborted and `error_occurred(socket,
    /// SocketTimeoutError)` emitted.
    pub fn set_handshake_timeout(&self, timeout: Option<Duration>) {
        if let Some(c) = self.core() {
            c.handshake_timeout.set(timeout);
        }
    }

    /// Listens on `address` and `port` (0 picks a free port). Returns false on failure,
    /// with `server_error` set.
    pub fn listen(&self, address: impl Into<IpAddr>, port: u16) -> bool {
        self.core().is_some_and(|c| c.tcp.listen(address, port))
    }

    /// Hands every accepted TCP connection to `handler` before any TLS, instead of starting
    /// its handshake here: Qt's overridden `QSslServer::incomingConnection`, to serve TLS
    /// connections on other threads. On the receiving thread, build the socket and start the
    /// handshake there: `SslSocket::from_tcp_socket(TcpSocket::from_descriptor(&d)?)`, then
    /// `set_ssl_configuration(config)` (an [`SslConfiguration`] is `Send`) and
    /// `start_server_encryption()`. This server's handshake signals, budget and timeout do not
    /// apply to those connections; nothing becomes pending here.
    pub fn set_incoming_connection_handler<F>(&self, handler: F)
    where
        F: Fn(crate::SocketDescriptor) + 'static,
    {
        if let Some(c) = self.core() {
            c.tcp.set_incoming_connection_handler(handler)
        }
    }

    /// Listens on an already-bound, listening std listener.
    pub fn listen_on(&self, listener: std::net::TcpListener) -> std::io::Result<()> {
        match self.core() {
            Some(c) => c.tcp.listen_on(listener),
            None => Err(std::io::Error::other("the server has been destroyed")),
        }
    }

    /// Whether the server is listening.
    pub fn is_listening(&self) -> bool {
        self.core().is_some_and(|c| c.tcp.is_listening())
    }

    /// Stops listening. Connections (pending or in their handshake) stay.
    pub fn close(&self) {
        if let Some(c) = self.core() {
            c.tcp.close();
        }
    }

    /// The address the server listens on.
    pub fn server_address(&self) -> Option<IpAddr> {
        self.core().and_then(|c| c.tcp.server_address())
    }

    /// The port the server listens on (0 when not listening).
    pub fn server_port(&self) -> u16 {
        self.core().map_or(0, |c| c.tcp.server_port())
    }

    /// The address and port the server listens on.
    pub fn server_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.tcp.server_socket_addr())
    }

    /// The last error from `listen` or accepting, if any.
    pub fn server_error(&self) -> Option<SocketError> {
        self.core().and_then(|c| c.tcp.server_error())
    }

    /// A human-readable description of the last error (empty if none).
    pub fn error_string(&self) -> String {
        self.core()
            .map(|c| c.tcp.error_string())
            .unwrap_or_default()
    }

    /// Takes the oldest connection whose handshake completed. It stays a child of the server
    /// until given another parent.
    pub fn next_pending_connection(&self) -> Option<SslSocket> {
        self.core().and_then(|c| c.next_pending())
    }

    /// Blocks until a connection has completed its handshake and can be taken with
    /// [`next_pending_connection`](Self::next_pending_connection) (`pending_connection_available`
    /// emitted), at most `msecs` milliseconds (0: only what is ready now; -1: no limit).
    ///
    /// Qt's `QSslServer` inherits `waitForNewConnection` from `QTcpServer`, which returns
    /// once the TCP connection is accepted, before its handshake, when
    /// `nextPendingConnection` still has nothing to give; this waits for what the caller
    /// wants. Like Qt's it blocks the thread and the caller's loop: only the listener and the
    /// connections in their handshake are served meanwhile (their `ssl_errors` slots run
    /// from inside this call); the handshake timeout is not enforced during the wait. On
    /// timeout `server_error` is `SocketTimeoutError`.
    pub fn wait_for_new_connection(&self, msecs: i32) -> bool {
        self.core()
            .is_some_and(|c| c.wait_for_new_connection(msecs))
    }

    /// Whether connections with a completed handshake are waiting to be taken.
    pub fn has_pending_connections(&self) -> bool {
        self.core()
            .is_some_and(|c| c.pending.borrow().iter().any(|s| s.is_alive()))
    }

    /// How many connections are in their handshake.
    pub fn handshaking_connections(&self) -> usize {
        self.core().map_or(0, |c| c.handshaking.borrow().len())
    }

    /// How many connections with a completed handshake may wait to be taken (30 by default,
    /// as in Qt); at the limit the server stops accepting.
    pub fn max_pending_connections(&self) -> usize {
        self.core()
            .map_or(DEFAULT_MAX_PENDING, |c| c.max_pending.get())
    }

    /// Sets how many connections with a completed handshake may wait to be taken.
    pub fn set_max_pending_connections(&self, n: usize) {
        if let Some(c) = self.core() {
            c.max_pending.set(n);
            c.update_accepting();
        }
    }

    /// How many connections may be in their handshake at once
    /// ([`DEFAULT_MAX_HANDSHAKING`] by default); a connection accepted beyond it ends the
    /// oldest handshake.
    pub fn max_handshaking_connections(&self) -> usize {
        self.core()
            .map_or(DEFAULT_MAX_HANDSHAKING, |c| c.max_handshaking.get())
    }

    /// Sets how many connections may be in their handshake at once (at least 1).
    pub fn set_max_handshaking_connections(&self, n: usize) {
        if let Some(c) = self.core() {
            c.max_handshaking.set(n.max(1));
        }
    }

    /// Stops accepting connections (they wait in the kernel's backlog).
    pub fn pause_accepting(&self) {
        if let Some(c) = self.core() {
            c.user_paused.set(true);
            c.tcp.pause_accepting();
        }
    }

    /// Accepts connections again after [`Self::pause_accepting`].
    pub fn resume_accepting(&self) {
        if let Some(c) = self.core() {
            c.user_paused.set(false);
            c.update_accepting();
        }
    }

    server_signal!(
        /// Emitted when a connection is accepted, before its handshake (Qt's
        /// `newConnection`).
        new_connection: ()
    );
    server_signal!(
        /// Emitted when a connection completed its handshake and can be taken with
        /// [`SslServer::next_pending_connection`].
        pending_connection_available: ()
    );
    server_signal!(
        /// Emitted when accepting fails (e.g. `SocketResourceError`); the server retries.
        accept_error: SocketError
    );
    server_signal!(
        /// Emitted when an accepted connection starts its handshake.
        started_encryption_handshake: SslSocket
    );
    server_signal!(
        /// Emitted synchronously inside a handshake with the errors of the client's
        /// certificate; call `socket.ignore_ssl_errors()` from the slot to accept it.
        ssl_errors: (SslSocket, Vec<SslError>)
    );
    server_signal!(
        /// Emitted for each error of a client's certificate, before `ssl_errors`.
        peer_verify_error: (SslSocket, SslError)
    );
    server_signal!(
        /// Emitted when a connection fails during its handshake (it is then closed and
        /// deleted).
        error_occurred: (SslSocket, SocketError)
    );
    server_signal!(
        /// Emitted when certificate errors that were not ignored ended a handshake, with the
        /// first of them.
        handshake_interrupted_on_error: (SslSocket, SslError)
    );
}

impl ServerCore {
    fn create(parent: Option<Object>) -> Object {
        let obj = Object::with_data(Rc::new(()), parent);
        let tcp = TcpServer::with_parent(&obj);
        // Connections are taken from the TCP server as soon as they are accepted; the
        // limit that matters is ours (handshaking + pending).
        tcp.set_max_pending_connections(usize::MAX);
        let core = Rc::new_cyclic(|weak| ServerCore {
            obj,
            weak: weak.clone(),
            tcp,
            config: RefCell::new(SslConfiguration::default()),
            handshake_timeout: Cell::new(Some(DEFAULT_HANDSHAKE_TIMEOUT)),
            handshaking: RefCell::new(VecDeque::new()),
            max_handshaking: Cell::new(DEFAULT_MAX_HANDSHAKING),
            pending: RefCell::new(VecDeque::new()),
            max_pending: Cell::new(DEFAULT_MAX_PENDING),
            user_paused: Cell::new(false),
            completed: Cell::new(0),
            sig: ServerSignals {
                new_connection: obj.new_signal(),
                pending_connection_available: obj.new_signal(),
                accept_error: obj.new_signal(),
                started_encryption_handshake: obj.new_signal(),
                ssl_errors: obj.new_signal(),
                peer_verify_error: obj.new_signal(),
                error_occurred: obj.new_signal(),
                handshake_interrupted_on_error: obj.new_signal(),
            },
        });
        let weak = core.weak.clone();
        tcp.new_connection().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.accept_all();
            }
        });
        let weak = core.weak.clone();
        tcp.accept_error().connect(move |e| {
            if let Some(core) = weak.upgrade() {
                core.sig.accept_error.emit(*e);
            }
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        obj
    }

    /// Completed connections waiting to be taken.
    fn waiting(&self) -> usize {
        self.pending.borrow_mut().retain(|s| s.is_alive());
        self.pending.borrow().len()
    }

    /// Pauses the TCP server at the limit and resumes it below.
    fn update_accepting(&self) {
        if self.user_paused.get() || self.waiting() >= self.max_pending.get() {
            self.tcp.pause_accepting();
        } else {
            self.tcp.resume_accepting();
        }
    }

    fn accept_all(&self) {
        while let Some(tcp) = self.tcp.next_pending_connection() {
            if !self.obj.is_alive() {
                return;
            }
            self.start(tcp);
        }
        self.update_accepting();
    }

    fn start(&self, tcp: TcpSocket) {
        let budget = self.max_handshaking.get();
        while self.handshaking.borrow().len() >= budget {
            let oldest = self.handshaking.borrow().front().map(|h| h.socket);
            match oldest {
                Some(socket) => self.on_timeout(socket),
                None => break,
            }
        }
        let under_pressure = self.handshaking.borrow().len() >= budget / 2;
        let socket = SslSocket::from_tcp_socket(tcp);
        // The TCP socket was the server's child; its wrapper takes that place.
        let _ = socket.as_object().set_parent(Some(self.obj));
        socket.set_ssl_configuration(self.config.borrow().clone());
        let relays = self.relay(socket);
        self.handshaking
            .borrow_mut()
            .push_back(Handshaking { socket, relays });
        let timeout = match self.handshake_timeout.get() {
            Some(t) if under_pressure => Some(t.min(PRESSURE_HANDSHAKE_TIMEOUT)),
            other => other,
        };
        if let Some(timeout) = timeout {
            let weak = self.weak.clone();
            Timer::single_shot_with(timeout, &socket, move || {
                if let Some(core) = weak.upgrade() {
                    core.on_timeout(socket);
                }
            });
        }
        self.sig.new_connection.emit(());
        if !socket.is_alive() || !self.obj.is_alive() {
            return;
        }
        self.sig.started_encryption_handshake.emit(socket);
        if socket.is_alive() && socket.mode() == crate::SslMode::UnencryptedMode {
            socket.start_server_encryption();
        }
    }

    /// Connects the socket's handshake-time signals to the server's.
    fn relay(&self, socket: SslSocket) -> Vec<Connection> {
        let mut relays = Vec::new();
        let weak = self.weak.clone();
        relays.push(socket.ssl_errors().connect(move |errors| {
            if let Some(core) = weak.upgrade() {
                core.sig.ssl_errors.emit((socket, errors.clone()));
            }
        }));
        let weak = self.weak.clone();
        relays.push(socket.peer_verify_error().connect(move |error| {
            if let Some(core) = weak.upgrade() {
                core.sig.peer_verify_error.emit((socket, error.clone()));
            }
        }));
        let weak = self.weak.clone();
        relays.push(socket.encrypted().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_encrypted(socket);
            }
        }));
        let weak = self.weak.clone();
        relays.push(socket.error_occurred().connect(move |error| {
            if let Some(core) = weak.upgrade() {
                core.on_handshake_error(socket, *error);
            }
        }));
        relays
    }

    /// Removes `socket` from the handshaking list (disconnecting its relays); returns
    /// whether it was there.
    fn finish_handshake(&self, socket: SslSocket) -> bool {
        let entry = {
            let mut list = self.handshaking.borrow_mut();
            // Usually the oldest (handshakes complete in about the order they started).
            let index = list.iter().position(|h| h.socket == socket);
            index.and_then(|i| list.remove(i))
        };
        match entry {
            Some(entry) => {
                for relay in entry.relays {
                    relay.disconnect();
                }
                true
            }
            None => false,
        }
    }

    fn on_encrypted(&self, socket: SslSocket) {
        if !self.finish_handshake(socket) {
            return;
        }
        self.completed.set(self.completed.get() + 1);
        self.pending.borrow_mut().push_back(socket);
        self.update_accepting();
        self.sig.pending_connection_available.emit(());
    }

    fn on_handshake_error(&self, socket: SslSocket, error: SocketError) {
        if !self.finish_handshake(socket) {
            return;
        }
        if error == SocketError::SslHandshakeFailedError {
            let verify_errors = socket.ssl_handshake_errors();
            if let Some(first) = verify_errors.into_iter().next() {
                self.sig
                    .handshake_interrupted_on_error
                    .emit((socket, first));
            }
        }
        self.sig.error_occurred.emit((socket, error));
        self.discard(socket);
        self.update_accepting();
    }

    fn on_timeout(&self, socket: SslSocket) {
        if !self.finish_handshake(socket) {
            return;
        }
        self.sig
            .error_occurred
            .emit((socket, SocketError::SocketTimeoutError));
        socket.abort();
        socket.delete_later();
        self.update_accepting();
    }

    /// Deletes a failed connection once its alert has been sent (the socket closes itself
    /// after a failed handshake).
    fn discard(&self, socket: SslSocket) {
        if socket.state() == crate::SocketState::Unconnected {
            socket.delete_later();
        } else {
            socket
                .disconnected()
                .connect_once(move |_| socket.delete_later());
            // A peer that never reads cannot keep it: the timeout (or this) ends it.
            let timeout = self
                .handshake_timeout
                .get()
                .unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
            Timer::single_shot_with(timeout, &socket, move || {
                socket.abort();
                socket.delete_later();
            });
        }
    }

    fn wait_for_new_connection(&self, msecs: i32) -> bool {
        let Some(tcp) = crate::server::ServerCore::get(self.tcp.as_object()) else {
            return false;
        };
        let deadline = Deadline::after_msecs(msecs);
        let before = self.completed.get();
        loop {
            if self.completed.get() != before {
                return true;
            }
            if !self.obj.is_alive() {
                return false;
            }
            let sockets: Vec<SslSocket> =
                self.handshaking.borrow().iter().map(|h| h.socket).collect();
            let engines: Vec<_> = sockets.iter().filter_map(|s| s.core()).collect();
            let mut progressed = tcp.run_deferred_accept();
            for engine in &engines {
                progressed |= engine.run_deferred(deadline);
            }
            if progressed {
                continue;
            }
            let mut fds = Vec::with_capacity(engines.len() + 1);
            let mut owners = Vec::with_capacity(engines.len() + 1);
            if let Some(fd) = tcp.listener_interest() {
                fds.push(fd);
                owners.push(None);
            }
            for engine in &engines {
                if let Some(fd) = engine.wait_interest() {
                    fds.push(fd);
                    owners.push(Some(engine.clone()));
                }
            }
            if fds.is_empty() {
                return false;
            }
            match wait::poll(&mut fds, deadline) {
                Ok(0) => {
                    tcp.set_error(
                        SocketError::SocketTimeoutError,
                        SocketError::SocketTimeoutError.description(),
                    );
                    return false;
                }
                Ok(_) => {
                    for (fd, owner) in fds.iter().zip(&owners) {
                        if fd.revents == 0 {
                            continue;
                        }
                        match owner {
                            None => tcp.on_listener_polled(),
                            Some(engine) => engine.on_polled(),
                        }
                    }
                }
                Err(e) => {
                    tcp.set_io_error(&e);
                    return false;
                }
            }
        }
    }

    fn next_pending(&self) -> Option<SslSocket> {
        let next = loop {
            let socket = self.pending.borrow_mut().pop_front()?;
            if socket.is_alive() {
                break socket;
            }
        };
        self.update_accepting();
        Some(next)
    }
}
