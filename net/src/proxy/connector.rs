//! [`ProxiedConnector`]: connects a [`TcpSocket`] to a host through a proxy, driving the
//! sans-IO handshakes ([`HttpConnectHandshake`], [`Socks5Handshake`]) over the socket.
//!
//! The connector borrows the socket for the duration of the handshake: it connects the
//! socket to the proxy, talks to the proxy through the socket's buffers, and hands the socket
//! back `Connected` with the tunnel up (bytes the target sent early stay in its read buffer).
//! TcpSocket itself knows nothing about proxies.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::{Rc, Weak};
use std::time::Duration;

use slotnet_core::{AsObject, Connection, EventLoop, Object, Signal, Timer};

use super::auth::{
    cache_proxy_credentials, cached_proxy_credentials, forget_proxy_credentials, Authenticator,
    ProxyAuthScheme,
};
use super::factory::proxy_for_query;
use super::handshake::{HandshakeEvent, ProxyError};
use super::http_connect::HttpConnectHandshake;
use super::query::{NetworkProxyQuery, QueryType};
use super::socks5::Socks5Handshake;
use super::types::{NetworkProxy, ProxyCapabilities, ProxyType};
use crate::error::{SocketError, SocketState};
use crate::hostinfo::{HostInfo, HostInfoError, LookupId};
use crate::socket::SocketCore;
use crate::tcp::TcpSocket;

/// The arguments of [`ProxiedConnector::proxy_authentication_required`]: the proxy, and the
/// authenticator the slot fills in (Qt passes a `QAuthenticator*`).
pub type ProxyAuthenticationRequest = (NetworkProxy, Rc<RefCell<Authenticator>>);

type SchemeFactory = Rc<dyn Fn() -> Box<dyn ProxyAuthScheme>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Looking the target up locally (a proxy without `HostNameLookupCapability`).
    Resolving,
    /// No proxy: the socket connects to the target itself.
    Direct,
    ConnectingProxy,
    Handshaking,
    Done,
    Failed,
}

enum Handshake {
    Http(HttpConnectHandshake),
    Socks(Socks5Handshake),
}

impl Handshake {
    fn start(&mut self) -> Vec<u8> {
        match self {
            Handshake::Http(h) => {
                h.start();
                h.take_output()
            }
            Handshake::Socks(h) => {
                h.start();
                h.take_output()
            }
        }
    }

    fn feed(&mut self, input: &mut bytes::BytesMut) -> (HandshakeEvent, Vec<u8>) {
        match self {
            Handshake::Http(h) => (h.feed(input), h.take_output()),
            Handshake::Socks(h) => (h.feed(input), h.take_output()),
        }
    }

    /// Installs credentials for the next attempt; an error if they cannot be used.
    fn set_credentials(&mut self, auth: &Authenticator) -> Result<(), ProxyError> {
        match self {
            Handshake::Http(h) => {
                if h.set_credentials(auth) {
                    Ok(())
                } else {
                    Err(ProxyError::new(
                        SocketError::ProxyAuthenticationRequiredError,
                        "Proxy authentication failed: the proxy's authentication scheme is \
                         not supported",
                    ))
                }
            }
            Handshake::Socks(h) => h.set_credentials(auth),
        }
    }

    fn realm(&self) -> Option<String> {
        match self {
            Handshake::Http(h) => h.realm(),
            Handshake::Socks(_) => None,
        }
    }
}

struct Signals {
    connected: Signal<()>,
    error_occurred: Signal<SocketError>,
    proxy_authentication_required: Signal<ProxyAuthenticationRequest>,
}

struct ConnectorCore {
    obj: Object,
    weak: Weak<ConnectorCore>,
    phase: Cell<Phase>,
    /// Bumped by every `connect_to_host` and `abort`: callbacks of older attempts see it.
    generation: Cell<u64>,
    socket: Cell<Option<TcpSocket>>,
    proxy: RefCell<NetworkProxy>,
    host: RefCell<String>,
    port: Cell<u16>,
    protocol_tag: RefCell<String>,
    handshake: RefCell<Option<Handshake>>,
    /// Credentials sent in the current attempt (to cache them on success, or to know that
    /// they were rejected).
    tried: RefCell<Option<(String, String)>>,
    /// Credentials the proxy rejected during this attempt: never tried again, so that a
    /// slot (or the proxy's own credentials) cannot make the attempt loop.
    rejected: RefCell<Vec<(String, String)>>,
    links: RefCell<Vec<Connection>>,
    lookup: Cell<Option<LookupId>>,
    timeout: Cell<Option<Duration>>,
    timer: Cell<Option<Timer>>,
    scheme: RefCell<Option<SchemeFactory>>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    sig: Signals,
}

impl Drop for ConnectorCore {
    fn drop(&mut self) {
        if let Some(id) = self.lookup.take() {
            HostInfo::abort_host_lookup(id);
        }
    }
}

/// Connects a [`TcpSocket`] to a host through a proxy (the socket-level part of Qt's
/// `QAbstractSocket::setProxy`): an HTTP `CONNECT` tunnel, SOCKS5, or no proxy at all.
///
/// Call [`connect_to_host`](Self::connect_to_host) with an unconnected socket; the connector
/// connects it to the proxy, performs the handshake, and emits [`connected`](Self::connected)
/// once the socket carries the target's stream, or [`error_occurred`](Self::error_occurred)
/// (after aborting the socket) with Qt's error codes: `ProxyConnectionRefusedError`,
/// `ProxyNotFoundError`, `ProxyConnectionClosedError`, `ProxyConnectionTimeoutError`,
/// `ProxyAuthenticationRequiredError`, `ProxyProtocolError`, or the target's
/// `ConnectionRefusedError`/`HostNotFoundError`/... as the proxy reports them.
///
/// Until `connected`, the socket's own signals describe the connection to the proxy: do not
/// read from the socket before `connected` (the handshake consumes the proxy's answer from
/// its read buffer). Bytes the target sent right after the proxy's answer stay buffered and
/// a `ready_read` for them follows `connected`.
///
/// When the proxy asks for credentials (HTTP 407, SOCKS5 rejection) and none are known,
/// [`proxy_authentication_required`](Self::proxy_authentication_required) is emitted
/// synchronously; the slot fills in the authenticator. New credentials are tried once;
/// empty ones, or ones the proxy already rejected during this attempt, end it with
/// `ProxyAuthenticationRequiredError`.
/// Credentials that worked are cached in-process per proxy (type, host, port) and tried
/// first next time.
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_net::proxy::{NetworkProxy, ProxiedConnector, ProxyType};
/// use slotnet_net::TcpSocket;
///
/// let socket = TcpSocket::new();
/// let connector = ProxiedConnector::new();
/// connector.connected().connect(move |_| {
///     socket.write(b"HEAD / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
///     socket.ready_read().connect(move |_| print!("{}", String::from_utf8_lossy(&socket.read_all())));
///     socket.disconnected().connect(|_| EventLoop::current().quit());
/// });
/// connector.proxy_authentication_required().connect(|(_proxy, auth)| {
///     auth.borrow_mut().set_user("alice");
///     auth.borrow_mut().set_password("secret");
/// });
/// connector.error_occurred().connect(|e| {
///     eprintln!("{e:?}");
///     EventLoop::current().quit();
/// });
/// let proxy = NetworkProxy::new(ProxyType::HttpProxy, "proxy.example", 3128);
/// connector.connect_to_host(socket, proxy, "example.com", 80);
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProxiedConnector {
    obj: Object,
}

impl AsObject for ProxiedConnector {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for ProxiedConnector {
    fn default() -> Self {
        ProxiedConnector::new()
    }
}

impl ProxiedConnector {
    /// A new idle connector.
    pub fn new() -> ProxiedConnector {
        ProxiedConnector::create(None)
    }

    /// A new idle connector owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> ProxiedConnector {
        ProxiedConnector::create(Some(parent.as_object()))
    }

    fn create(parent: Option<Object>) -> ProxiedConnector {
        let obj = Object::with_data(Rc::new(()), parent);
        let core = Rc::new_cyclic(|weak| ConnectorCore {
            obj,
            weak: weak.clone(),
            phase: Cell::new(Phase::Idle),
            generation: Cell::new(0),
            socket: Cell::new(None),
            proxy: RefCell::new(NetworkProxy::no_proxy()),
            host: RefCell::new(String::new()),
            port: Cell::new(0),
            protocol_tag: RefCell::new(String::new()),
            handshake: RefCell::new(None),
            tried: RefCell::new(None),
            rejected: RefCell::new(Vec::new()),
            links: RefCell::new(Vec::new()),
            lookup: Cell::new(None),
            timeout: Cell::new(None),
            timer: Cell::new(None),
            scheme: RefCell::new(None),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            sig: Signals {
                connected: obj.new_signal(),
                error_occurred: obj.new_signal(),
                proxy_authentication_required: obj.new_signal(),
            },
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        ProxiedConnector { obj }
    }

    fn core(&self) -> Option<Rc<ConnectorCore>> {
        self.obj.data::<ConnectorCore>()
    }

    /// Whether the connector object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the connector now (an attempt in progress is abandoned; the socket is left
    /// as it is).
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// Destroys the connector when control returns to the loop.
    pub fn delete_later(&self) {
        self.obj.delete_later()
    }

    /// Connects `socket` (which must be `Unconnected`) to `host:port` through `proxy`.
    ///
    /// `DefaultProxy` asks the application setting
    /// ([`proxy_for_query`](crate::proxy::proxy_for_query), with a `TcpSocket` query carrying the
    /// [protocol tag](Self::set_protocol_tag)) and uses the first proxy that can tunnel.
    /// `NoProxy` connects directly. `HttpProxy` tunnels with `CONNECT`, `Socks5Proxy` with
    /// SOCKS5; the host name is sent to the proxy when it has `HostNameLookupCapability`,
    /// else looked up here first. A proxy that cannot tunnel (`HttpCachingProxy`) fails
    /// with `UnsupportedSocketOperationError`. Errors found before anything starts are
    /// reported on a later loop iteration, never from inside this call.
    pub fn connect_to_host(&self, socket: TcpSocket, proxy: NetworkProxy, host: &str, port: u16) {
        if let Some(core) = self.core() {
            core.connect_to_host(socket, proxy, host, port)
        }
    }

    /// Abandons the attempt in progress: the socket is aborted, no signal is emitted.
    pub fn abort(&self) {
        if let Some(core) = self.core() {
            core.abort()
        }
    }

    /// The protocol tag for `DefaultProxy` queries (`"http"`, `"https"`, ...; empty by
    /// default), so that the environment's `https_proxy` applies to TLS connections.
    pub fn set_protocol_tag(&self, tag: &str) {
        if let Some(core) = self.core() {
            *core.protocol_tag.borrow_mut() = tag.to_ascii_lowercase();
        }
    }

    /// Limits how long the whole attempt may take (proxy connection and handshake; `None`,
    /// the default: no limit beyond the socket's own connect timeout). Past it the attempt
    /// fails with `ProxyConnectionTimeoutError` (`SocketTimeoutError` without a proxy).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        if let Some(core) = self.core() {
            core.timeout.set(timeout)
        }
    }

    /// Replaces how HTTP proxies' challenges are answered (Basic by default): `factory`
    /// makes one scheme per attempt. This is the hook through which the http crate adds
    /// Digest.
    pub fn set_auth_scheme_factory<F>(&self, factory: F)
    where
        F: Fn() -> Box<dyn ProxyAuthScheme> + 'static,
    {
        if let Some(core) = self.core() {
            *core.scheme.borrow_mut() = Some(Rc::new(factory));
        }
    }

    /// The socket of the current or last attempt.
    pub fn socket(&self) -> Option<TcpSocket> {
        self.core().and_then(|c| c.socket.get())
    }

    /// The proxy actually used (a `DefaultProxy` resolved through the application setting).
    pub fn proxy(&self) -> Option<NetworkProxy> {
        self.core().map(|c| c.proxy.borrow().clone())
    }

    /// Whether an attempt is in progress.
    pub fn is_connecting(&self) -> bool {
        self.core()
            .is_some_and(|c| !matches!(c.phase.get(), Phase::Idle | Phase::Done | Phase::Failed))
    }

    /// Whether the last attempt succeeded (the tunnel is up).
    pub fn is_connected(&self) -> bool {
        self.core().is_some_and(|c| c.phase.get() == Phase::Done)
    }

    /// The error of the last attempt, if it failed.
    pub fn error(&self) -> Option<SocketError> {
        self.core().and_then(|c| c.error.get())
    }

    /// A description of the last error (empty if none).
    pub fn error_string(&self) -> String {
        self.core()
            .map(|c| c.error_string.borrow().clone())
            .unwrap_or_default()
    }

    /// Emitted when the socket carries the target's stream.
    pub fn connected(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.connected.clone())
    }

    /// Emitted when the attempt fails (the socket has been aborted).
    pub fn error_occurred(&self) -> Signal<SocketError> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.error_occurred.clone())
    }

    /// Emitted, synchronously, when the proxy wants credentials that are not known: the
    /// slot sets the user and password on the authenticator (which carries the HTTP
    /// proxy's realm, and no credentials). Leaving them empty, or
    /// giving credentials the proxy already rejected in this attempt, fails it with
    /// `ProxyAuthenticationRequiredError`.
    pub fn proxy_authentication_required(&self) -> Signal<ProxyAuthenticationRequest> {
        self.core().map_or_else(Signal::closed, |c| {
            c.sig.proxy_authentication_required.clone()
        })
    }
}

impl ConnectorCore {
    fn connect_to_host(&self, socket: TcpSocket, proxy: NetworkProxy, host: &str, port: u16) {
        if !matches!(self.phase.get(), Phase::Idle | Phase::Done | Phase::Failed) {
            self.set_error(
                SocketError::OperationError,
                "A proxied connection is already in progress",
            );
            return;
        }
        let generation = self.reset();
        self.socket.set(Some(socket));
        *self.host.borrow_mut() = host.to_owned();
        self.port.set(port);
        self.phase.set(Phase::Resolving);

        if socket.state() != SocketState::Unconnected {
            return self.fail_later(
                generation,
                ProxyError::new(
                    SocketError::OperationError,
                    "The socket is already connecting or connected",
                ),
            );
        }
        let proxy = match self.resolve_proxy(proxy, host, port) {
            Ok(p) => p,
            Err(e) => return self.fail_later(generation, e),
        };
        *self.proxy.borrow_mut() = proxy.clone();
        self.start_timer(generation);
        self.link(socket);

        if proxy.proxy_type() == ProxyType::NoProxy {
            self.phase.set(Phase::Direct);
            socket.connect_to_host(host, port);
            return;
        }
        let remote_lookup = proxy
            .capabilities()
            .contains(ProxyCapabilities::HOST_NAME_LOOKUP);
        if remote_lookup || host.parse::<IpAddr>().is_ok() {
            self.begin_proxy(generation, host);
            return;
        }
        let weak = self.weak.clone();
        let id = HostInfo::lookup_for_connect(host, move |info| {
            if let Some(core) = weak.upgrade() {
                core.lookup.set(None);
                if core.current(generation, Phase::Resolving) {
                    match info.addresses().first() {
                        Some(ip) if info.error() == HostInfoError::NoError => {
                            core.begin_proxy(generation, &ip.to_string())
                        }
                        _ => core.fail(ProxyError::new(
                            SocketError::HostNotFoundError,
                            if info.error_string().is_empty() {
                                "Host not found"
                            } else {
                                info.error_string()
                            },
                        )),
                    }
                }
            }
        });
        self.lookup.set(Some(id));
    }

    /// Picks the proxy to use: `DefaultProxy` through the application setting; checks that
    /// it can tunnel.
    fn resolve_proxy(
        &self,
        proxy: NetworkProxy,
        host: &str,
        port: u16,
    ) -> Result<NetworkProxy, ProxyError> {
        let usable = |p: &NetworkProxy| match p.proxy_type() {
            ProxyType::NoProxy => true,
            ProxyType::HttpProxy | ProxyType::Socks5Proxy => p.is_transparent_proxy(),
            _ => false,
        };
        let unsupported = || {
            ProxyError::new(
                SocketError::UnsupportedSocketOperationError,
                "The proxy type is invalid for this operation (it cannot tunnel)",
            )
        };
        if proxy.proxy_type() != ProxyType::DefaultProxy {
            return if usable(&proxy) {
                Ok(proxy)
            } else {
                Err(unsupported())
            };
        }
        let query = NetworkProxyQuery::for_host(
            host,
            port,
            &self.protocol_tag.borrow(),
            QueryType::TcpSocket,
        );
        proxy_for_query(&query)
            .into_iter()
            .find(usable)
            .ok_or_else(unsupported)
    }

    /// Builds the handshake for `target` (the name, or its address when resolved locally)
    /// and connects the socket to the proxy.
    fn begin_proxy(&self, generation: u64, target: &str) {
        let proxy = self.proxy.borrow().clone();
        let port = self.port.get();
        let handshake = match proxy.proxy_type() {
            ProxyType::HttpProxy => HttpConnectHandshake::new(target, port).map(|mut h| {
                if let Some(factory) = self.scheme.borrow().as_ref() {
                    h.set_auth_scheme(factory());
                }
                h.set_extra_headers(proxy.raw_headers());
                Handshake::Http(h)
            }),
            _ => Socks5Handshake::new(target, port).map(Handshake::Socks),
        };
        let mut handshake = match handshake {
            Ok(h) => h,
            Err(e) => return self.fail_later(generation, e),
        };
        // Credentials: the proxy's own, else those that worked before.
        let known = if proxy.user().is_empty() {
            cached_proxy_credentials(&proxy)
        } else {
            Some((proxy.user().to_owned(), proxy.password().to_owned()))
        };
        if let Some((user, password)) = known {
            let auth = Authenticator::with_credentials(user.clone(), password.clone());
            // Credentials a scheme cannot send preemptively are kept for the challenge.
            if handshake.set_credentials(&auth).is_ok() {
                *self.tried.borrow_mut() = Some((user, password));
            }
        }
        *self.handshake.borrow_mut() = Some(handshake);
        self.connect_to_proxy();
    }

    fn connect_to_proxy(&self) {
        let Some(socket) = self.socket.get() else {
            return;
        };
        self.phase.set(Phase::ConnectingProxy);
        let proxy = self.proxy.borrow().clone();
        log::debug!(target: crate::log_target::PROXY, "Connecting to {:?} {}:{} for a tunnel to {}:{}", proxy.proxy_type(), proxy.host_name(), proxy.port(), self.host.borrow(), self.port.get());
        socket.connect_to_host(proxy.host_name(), proxy.port());
    }

    // ----- socket events ----------------------------------------------------------------

    fn link(&self, socket: TcpSocket) {
        let mut links = self.links.borrow_mut();
        let weak = self.weak.clone();
        links.push(socket.connected().connect_with(&self.obj, move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_connected();
            }
        }));
        let weak = self.weak.clone();
        links.push(socket.ready_read().connect_with(&self.obj, move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_ready_read();
            }
        }));
        let weak = self.weak.clone();
        links.push(
            socket
                .error_occurred()
                .connect_with(&self.obj, move |code| {
                    if let Some(core) = weak.upgrade() {
                        core.on_socket_error(*code);
                    }
                }),
        );
        let weak = self.weak.clone();
        links.push(
            socket
                .as_object()
                .destroyed()
                .connect_with(&self.obj, move |_| {
                    if let Some(core) = weak.upgrade() {
                        core.fail(ProxyError::new(
                            SocketError::OperationError,
                            "The socket was destroyed during the proxy handshake",
                        ));
                    }
                }),
        );
    }

    fn unlink(&self) {
        let links = std::mem::take(&mut *self.links.borrow_mut());
        for link in links {
            link.disconnect();
        }
    }

    fn on_connected(&self) {
        match self.phase.get() {
            Phase::Direct => self.succeed(),
            Phase::ConnectingProxy => {
                self.phase.set(Phase::Handshaking);
                let out = match self.handshake.borrow_mut().as_mut() {
                    Some(h) => h.start(),
                    None => return,
                };
                self.send(&out);
            }
            _ => {}
        }
    }

    fn on_ready_read(&self) {
        if self.phase.get() != Phase::Handshaking {
            return;
        }
        let Some(socket) = self.socket.get() else {
            return;
        };
        let mut result = None;
        socket.with_read_buffer(&mut |buf| {
            if let Some(h) = self.handshake.borrow_mut().as_mut() {
                result = Some(h.feed(buf));
            }
        });
        let Some((event, out)) = result else {
            return;
        };
        self.send(&out);
        match event {
            HandshakeEvent::NeedMore => {}
            HandshakeEvent::Established => self.succeed(),
            HandshakeEvent::AuthenticationRequired { reconnect } => self.authenticate(reconnect),
            HandshakeEvent::Failed(e) => self.fail(e),
        }
    }

    fn on_socket_error(&self, code: SocketError) {
        let Some(socket) = self.socket.get() else {
            return;
        };
        let message = socket.error_string();
        let mapped = match (self.phase.get(), code) {
            (Phase::Direct, _) => ProxyError::new(code, message),
            (Phase::ConnectingProxy, SocketError::ConnectionRefusedError) => ProxyError::new(
                SocketError::ProxyConnectionRefusedError,
                "Connection to proxy refused",
            ),
            (Phase::ConnectingProxy, SocketError::HostNotFoundError) => {
                ProxyError::new(SocketError::ProxyNotFoundError, "Proxy host not found")
            }
            (Phase::ConnectingProxy, SocketError::SocketTimeoutError) => ProxyError::new(
                SocketError::ProxyConnectionTimeoutError,
                "Connection to proxy timed out",
            ),
            (Phase::ConnectingProxy | Phase::Handshaking, SocketError::RemoteHostClosedError) => {
                ProxyError::new(
                    SocketError::ProxyConnectionClosedError,
                    "Connection to proxy closed prematurely",
                )
            }
            (Phase::ConnectingProxy | Phase::Handshaking, _) => ProxyError::new(code, message),
            _ => return,
        };
        self.fail(mapped);
    }

    fn send(&self, out: &[u8]) {
        if let (false, Some(socket)) = (out.is_empty(), self.socket.get()) {
            socket.write(out);
        }
    }

    // ----- authentication ---------------------------------------------------------------

    fn authenticate(&self, reconnect: bool) {
        let generation = self.generation.get();
        let proxy = self.proxy.borrow().clone();
        let failed = self.tried.borrow_mut().take();
        if let Some(failed) = &failed {
            forget_proxy_credentials(&proxy);
            self.rejected.borrow_mut().push(failed.clone());
        }
        let fresh = |c: &(String, String)| !self.rejected.borrow().contains(c);
        // Credentials known without asking: learnt by another connection meanwhile, or set
        // on the proxy (kept for the challenge by a scheme that does not send them
        // preemptively).
        let own = (!proxy.user().is_empty())
            .then(|| (proxy.user().to_owned(), proxy.password().to_owned()));
        let mut next = cached_proxy_credentials(&proxy)
            .filter(fresh)
            .or(own.filter(fresh));
        if next.is_none() {
            let auth = Rc::new(RefCell::new(Authenticator::new()));
            // Only the realm is filled in: as in Qt, the slot starts from empty credentials,
            // so leaving them untouched means "no answer".
            if let Some(realm) = self.handshake.borrow().as_ref().and_then(|h| h.realm()) {
                auth.borrow_mut().set_realm(realm);
            }
            log::debug!(target: crate::log_target::PROXY, "Proxy {}:{} asks for credentials", proxy.host_name(), proxy.port());
            self.sig
                .proxy_authentication_required
                .emit((proxy.clone(), auth.clone()));
            if !self.current(generation, Phase::Handshaking) {
                return; // the slot aborted or restarted the connector
            }
            next = auth.borrow().credentials().filter(fresh);
        }
        let Some((user, password)) = next else {
            let message = if failed.is_some() {
                "Proxy authentication failed"
            } else {
                "Proxy authentication required"
            };
            return self.fail(ProxyError::new(
                SocketError::ProxyAuthenticationRequiredError,
                message,
            ));
        };
        let auth = Authenticator::with_credentials(user.clone(), password.clone());
        let installed = match self.handshake.borrow_mut().as_mut() {
            Some(h) => h.set_credentials(&auth),
            None => return,
        };
        if let Err(e) = installed {
            return self.fail(e);
        }
        *self.tried.borrow_mut() = Some((user, password));
        if reconnect {
            if let Some(socket) = self.socket.get() {
                // The abort's own signals (state changes) are not errors for us.
                self.phase.set(Phase::ConnectingProxy);
                socket.abort();
                if self.current(generation, Phase::ConnectingProxy) {
                    self.connect_to_proxy();
                }
            }
        } else {
            let out = match self.handshake.borrow_mut().as_mut() {
                Some(h) => h.start(),
                None => return,
            };
            self.send(&out);
        }
    }

    // ----- outcome ----------------------------------------------------------------------

    fn succeed(&self) {
        log::debug!(target: crate::log_target::PROXY, "Tunnel to {}:{} through {}:{} established", self.host.borrow(), self.port.get(), self.proxy.borrow().host_name(), self.proxy.borrow().port());
        let generation = self.generation.get();
        self.phase.set(Phase::Done);
        self.finish();
        if let Some((user, password)) = self.tried.borrow_mut().take() {
            cache_proxy_credentials(&self.proxy.borrow(), &user, &password);
        }
        self.sig.connected.emit(());
        if self.generation.get() != generation {
            return;
        }
        // Bytes the target sent along with the proxy's answer are already buffered: no
        // kernel event will announce them, so announce them once the loop is back.
        if let Some(socket) = self.socket.get() {
            if socket.bytes_available() > 0 {
                EventLoop::current().post(move || {
                    if socket.bytes_available() > 0 {
                        if let Some(core) = SocketCore::get(socket.as_object()) {
                            core.sig.ready_read.emit(());
                        }
                    }
                });
            }
        }
    }

    fn fail(&self, error: ProxyError) {
        if matches!(self.phase.get(), Phase::Idle | Phase::Done | Phase::Failed) {
            return;
        }
        log::debug!(target: crate::log_target::PROXY, "Tunnel to {}:{} failed: {} ({})", self.host.borrow(), self.port.get(), error.code.name(), error.message);
        self.phase.set(Phase::Failed);
        self.finish();
        self.tried.borrow_mut().take();
        self.set_error(error.code, &error.message);
        if let Some(socket) = self.socket.get() {
            if socket.state() != SocketState::Unconnected {
                socket.abort();
            }
        }
        self.sig.error_occurred.emit(error.code);
    }

    /// Reports `error` on a later iteration (errors found inside `connect_to_host`).
    fn fail_later(&self, generation: u64, error: ProxyError) {
        let weak = self.weak.clone();
        self.obj.invoke_later(move || {
            if let Some(core) = weak.upgrade() {
                if core.generation.get() == generation {
                    core.fail(error);
                }
            }
        });
    }

    /// Stops listening to the socket and the clock.
    fn finish(&self) {
        self.unlink();
        if let Some(timer) = self.timer.take() {
            timer.destroy();
        }
        if let Some(id) = self.lookup.take() {
            HostInfo::abort_host_lookup(id);
        }
        self.handshake.borrow_mut().take();
    }

    fn abort(&self) {
        self.reset();
        if let Some(socket) = self.socket.get() {
            socket.abort();
        }
    }

    /// Ends any attempt silently and starts a new generation.
    fn reset(&self) -> u64 {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        self.finish();
        self.phase.set(Phase::Idle);
        self.tried.borrow_mut().take();
        self.rejected.borrow_mut().clear();
        self.error.set(None);
        self.error_string.borrow_mut().clear();
        generation
    }

    fn start_timer(&self, generation: u64) {
        let Some(limit) = self.timeout.get() else {
            return;
        };
        let timer = Timer::with_parent(&self.obj);
        timer.set_single_shot(true);
        let weak = self.weak.clone();
        timer.timeout().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                if core.generation.get() == generation {
                    let error = if core.phase.get() == Phase::Direct
                        || core.proxy.borrow().proxy_type() == ProxyType::NoProxy
                    {
                        ProxyError::new(SocketError::SocketTimeoutError, "Connection timed out")
                    } else {
                        ProxyError::new(
                            SocketError::ProxyConnectionTimeoutError,
                            "Connection to proxy timed out",
                        )
                    };
                    core.fail(error);
                }
            }
        });
        timer.start_interval(limit);
        self.timer.set(Some(timer));
    }

    fn current(&self, generation: u64, phase: Phase) -> bool {
        self.generation.get() == generation && self.phase.get() == phase && self.obj.is_alive()
    }

    fn set_error(&self, code: SocketError, message: &str) {
        self.error.set(Some(code));
        *self.error_string.borrow_mut() = message.to_owned();
    }
}
