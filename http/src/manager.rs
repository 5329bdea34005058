//! `NetworkAccessManager` (Qt's `QNetworkAccessManager`): creates replies and owns the
//! shared state behind them (connections, credentials, cookies, cache, HSTS).

use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use slotnet_core::{AsObject, Object, Signal};
use slotnet_net::proxy::{forget_proxy_credentials, NetworkProxy, ProxyFactory, ProxyType};

use crate::auth::Authenticator;
use crate::body::RequestBody;
use crate::cache::AbstractNetworkCache;
use crate::client::features::ClientFeatures;
use crate::client::settings::DEFAULT_IDLE_EXPIRY;
use crate::cookies::NetworkCookieJar;
use crate::error::NetworkError;
use crate::hsts::HstsPolicy;
use crate::local;
use crate::multipart::HttpMultiPart;
use crate::reply::{NetworkReply, Operation};
use crate::request::{Attribute, NetworkRequest, RedirectPolicy};
use slotnet_net::ssl::{SslConfiguration, SslError};

/// The hook that stands in for Qt's virtual `createRequest`: it may rewrite the request, or
/// return a reply of its own to use instead of the built-in transports.
pub type CreateRequestHook =
    dyn Fn(Operation, &mut NetworkRequest, &mut RequestBody) -> Option<NetworkReply>;

/// A transport for URL schemes beyond `data:` and `file:` (the HTTP engine registers one).
pub(crate) trait Transport {
    /// Whether this transport handles `scheme`.
    fn handles(&self, scheme: &str) -> bool;
    /// Starts `reply` for `request`.
    fn start(
        &self,
        manager: &NetworkAccessManager,
        reply: NetworkReply,
        operation: Operation,
        verb: &str,
        request: NetworkRequest,
        body: RequestBody,
    );
    /// Drops idle connections and cached credentials.
    fn clear_connection_cache(&self) {}
    /// How many connections this transport has opened (statistics, tests).
    fn connections_opened(&self) -> u64 {
        0
    }
    /// How long idle connections are kept from now on (see
    /// [`NetworkAccessManager::set_connection_idle_expiry`]).
    fn set_connection_idle_expiry(&self, _expiry: Duration) {}
    /// Opens a connection to `url`'s host and port ahead of a request (`tls` for https);
    /// see [`NetworkAccessManager::connect_to_host`].
    fn preconnect(&self, _url: &url::Url, _tls: Option<SslConfiguration>) {}
}

pub(crate) struct ManagerState {
    finished: Signal<NetworkReply>,
    encrypted: Signal<NetworkReply>,
    ssl_errors: Signal<(NetworkReply, Vec<SslError>)>,
    redirect_policy: Cell<RedirectPolicy>,
    transfer_timeout: Cell<Option<Duration>>,
    idle_expiry: Cell<Duration>,
    auto_delete_replies: Cell<bool>,
    hook: RefCell<Option<Rc<CreateRequestHook>>>,
    transports: RefCell<Vec<Rc<dyn Transport>>>,
    /// The server asks for credentials nobody knows (the reply, and the authenticator the
    /// slot fills in, as Qt passes a `QAuthenticator*`).
    pub(crate) authentication_required: Signal<(NetworkReply, Rc<RefCell<Authenticator>>)>,
    /// Credentials, cookies, HSTS, cache and proxies (read by the HTTP engine).
    pub(crate) features: ClientFeatures,
}

/// Sends requests and hands back `NetworkReply` objects (Qt's `QNetworkAccessManager`).
///
/// ```
/// use slotnet_core::EventLoop;
/// use slotnet_http::{NetworkAccessManager, NetworkRequest};
///
/// let manager = NetworkAccessManager::new();
/// let reply = manager.get(NetworkRequest::from_url_str("data:,hello"));
/// reply.finished().connect(move |_| {
///     assert_eq!(reply.read_all(), b"hello");
///     EventLoop::current().quit();
/// });
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkAccessManager {
    obj: Object,
}

impl AsObject for NetworkAccessManager {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for NetworkAccessManager {
    fn default() -> Self {
        NetworkAccessManager::new()
    }
}

impl NetworkAccessManager {
    /// A manager with Qt's defaults (NoLessSafeRedirectPolicy, no transfer timeout, replies
    /// not deleted automatically).
    pub fn new() -> NetworkAccessManager {
        Self::create(None)
    }

    /// A manager owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> NetworkAccessManager {
        Self::create(Some(parent.as_object()))
    }

    fn create(parent: Option<Object>) -> NetworkAccessManager {
        let obj = Object::with_data(Rc::new(()), parent);
        let state = ManagerState {
            finished: obj.new_signal(),
            encrypted: obj.new_signal(),
            ssl_errors: obj.new_signal(),
            redirect_policy: Cell::new(RedirectPolicy::NoLessSafeRedirectPolicy),
            transfer_timeout: Cell::new(None),
            idle_expiry: Cell::new(DEFAULT_IDLE_EXPIRY),
            auto_delete_replies: Cell::new(false),
            hook: RefCell::new(None),
            transports: RefCell::new(Vec::new()),
            authentication_required: obj.new_signal(),
            features: ClientFeatures::new(obj),
        };
        let _ = obj.set_data(Rc::new(state));
        let manager = NetworkAccessManager { obj };
        crate::install_transports(&manager);
        manager
    }

    pub(crate) fn state(&self) -> Option<Rc<ManagerState>> {
        self.obj.data::<ManagerState>()
    }

    pub(crate) fn add_transport(&self, transport: Rc<dyn Transport>) {
        if let Some(s) = self.state() {
            s.transports.borrow_mut().push(transport);
        }
    }

    // --- signals ---------------------------------------------------------------------------

    /// Emitted for every reply when it finishes, before the reply's own `finished`.
    pub fn finished(&self) -> Signal<NetworkReply> {
        self.state()
            .map(|s| s.finished.clone())
            .unwrap_or_else(Signal::closed)
    }

    /// Emitted when a reply's TLS handshake succeeded, before the reply's `encrypted`.
    pub fn encrypted(&self) -> Signal<NetworkReply> {
        self.state()
            .map(|s| s.encrypted.clone())
            .unwrap_or_else(Signal::closed)
    }

    /// Emitted with a reply's certificate errors, before the reply's `sslErrors`.
    pub fn ssl_errors(&self) -> Signal<(NetworkReply, Vec<SslError>)> {
        self.state()
            .map(|s| s.ssl_errors.clone())
            .unwrap_or_else(Signal::closed)
    }

    /// Emitted, synchronously, when a server asks for credentials (401) that are neither in
    /// the URL nor in the credential cache: the slot sets the user and password on the
    /// authenticator (whose realm is filled in). Leaving them empty, or giving the ones the
    /// server just rejected, ends the reply with `AuthenticationRequiredError` and the 401
    /// response, as in Qt. Credentials that work are cached per scheme, URL user, host, port
    /// and realm, and Basic ones are sent preemptively to the same directory afterwards.
    ///
    /// ```no_run
    /// use slotnet_http::{NetworkAccessManager, NetworkRequest};
    ///
    /// let manager = NetworkAccessManager::new();
    /// manager.authentication_required().connect(|(_reply, auth)| {
    ///     let mut auth = auth.borrow_mut();
    ///     auth.set_user("alice");
    ///     auth.set_password("secret");
    /// });
    /// manager.get(NetworkRequest::from_url_str("http://127.0.0.1:8080/basic-auth/alice/secret"));
    /// ```
    pub fn authentication_required(&self) -> Signal<(NetworkReply, Rc<RefCell<Authenticator>>)> {
        self.state()
            .map(|s| s.authentication_required.clone())
            .unwrap_or_else(Signal::closed)
    }

    /// Emitted, synchronously, when a proxy asks for credentials (407, or a SOCKS5 proxy
    /// refusing anonymous access) that are not known; the slot fills in the authenticator
    /// as for [`authentication_required`](Self::authentication_required). Empty or
    /// rejected credentials end the reply with `ProxyAuthenticationRequiredError`.
    pub fn proxy_authentication_required(
        &self,
    ) -> Signal<(NetworkProxy, Rc<RefCell<Authenticator>>)> {
        self.state()
            .map(|s| s.features.proxy_authentication_required.clone())
            .unwrap_or_else(Signal::closed)
    }

    // --- settings --------------------------------------------------------------------------

    /// The redirect policy for requests that do not set their own.
    pub fn redirect_policy(&self) -> RedirectPolicy {
        self.state()
            .map(|s| s.redirect_policy.get())
            .unwrap_or_default()
    }

    /// Sets the default redirect policy.
    pub fn set_redirect_policy(&self, policy: RedirectPolicy) {
        if let Some(s) = self.state() {
            s.redirect_policy.set(policy);
        }
    }

    /// The default inactivity timeout (`None`: off, Qt's default).
    pub fn transfer_timeout(&self) -> Option<Duration> {
        self.state().and_then(|s| s.transfer_timeout.get())
    }

    /// Sets the default inactivity timeout for requests that do not set their own.
    pub fn set_transfer_timeout(&self, timeout: Option<Duration>) {
        if let Some(s) = self.state() {
            s.transfer_timeout.set(timeout.filter(|t| !t.is_zero()));
        }
    }

    /// How long a connection the manager keeps for reuse may stay idle before it is closed
    /// (default 120 s, the expiry of Qt's connection cache; slotnet extension: Qt has no
    /// setter for it).
    pub fn connection_idle_expiry(&self) -> Duration {
        self.state()
            .map_or(DEFAULT_IDLE_EXPIRY, |s| s.idle_expiry.get())
    }

    /// Sets how long an idle connection (HTTP/1.1 or HTTP/2) is kept for reuse before it
    /// is closed. It applies to connections that become idle from now on (HTTP/1.1) and to
    /// HTTP/2 connections opened from now on; connections already waiting keep the time
    /// they were given. [`clear_connection_cache`](Self::clear_connection_cache) closes idle
    /// connections at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use slotnet_http::NetworkAccessManager;
    ///
    /// let manager = NetworkAccessManager::new();
    /// assert_eq!(manager.connection_idle_expiry(), Duration::from_secs(120));
    /// manager.set_connection_idle_expiry(Duration::from_secs(5));
    /// assert_eq!(manager.connection_idle_expiry(), Duration::from_secs(5));
    /// ```
    pub fn set_connection_idle_expiry(&self, expiry: Duration) {
        let Some(state) = self.state() else {
            return;
        };
        state.idle_expiry.set(expiry);
        let transports = state.transports.borrow().clone();
        for transport in transports {
            transport.set_connection_idle_expiry(expiry);
        }
    }

    /// Whether replies delete themselves after `finished`.
    pub fn auto_delete_replies(&self) -> bool {
        self.state()
            .map(|s| s.auto_delete_replies.get())
            .unwrap_or(false)
    }

    /// Makes replies delete themselves (`delete_later`) after `finished`.
    pub fn set_auto_delete_replies(&self, enabled: bool) {
        if let Some(s) = self.state() {
            s.auto_delete_replies.set(enabled);
        }
    }

    /// Installs the hook that stands in for Qt's virtual `createRequest`.
    pub fn set_create_request_hook<F>(&self, hook: F)
    where
        F: Fn(Operation, &mut NetworkRequest, &mut RequestBody) -> Option<NetworkReply> + 'static,
    {
        if let Some(s) = self.state() {
            *s.hook.borrow_mut() = Some(Rc::new(hook));
        }
    }

    /// The URL schemes this manager can fetch.
    pub fn supported_schemes(&self) -> Vec<String> {
        let mut schemes = vec!["data".to_owned(), "file".to_owned()];
        if let Some(s) = self.state() {
            for scheme in ["http", "https"] {
                if s.transports.borrow().iter().any(|t| t.handles(scheme)) {
                    schemes.push(scheme.to_owned());
                }
            }
        }
        schemes
    }

    /// Closes idle connections (those in use finish their work first).
    pub fn clear_connection_cache(&self) {
        if let Some(s) = self.state() {
            let transports = s.transports.borrow().clone();
            for t in transports {
                t.clear_connection_cache();
            }
        }
    }

    /// Opens a connection to `host_name` at `port` before a request needs it (Qt's
    /// `connectToHost`): the TCP handshake (through the manager's proxy, if any) is done
    /// ahead, and the next `http:` request to that host and port is sent at once on it
    /// instead of waiting for a connection of its own, lowering its latency.
    ///
    /// The connection waits idle in the pool like a kept-alive one (and is closed like one
    /// after two minutes unused, or by [`clear_connection_cache`](Self::clear_connection_cache)).
    /// A request made while it is still connecting takes it too. For a known HSTS host (see
    /// [`set_strict_transport_security_enabled`](Self::set_strict_transport_security_enabled))
    /// the connection is a TLS one to the https port (80 becomes 443), as the request will
    /// be upgraded too. Nothing is opened when the host already has an idle connection or
    /// its six connections. No signal is emitted for a preconnect, and a failed one is
    /// silent: the next request opens a connection of its own and reports its errors.
    ///
    /// ```no_run
    /// use slotnet_http::{NetworkAccessManager, NetworkRequest};
    ///
    /// let manager = NetworkAccessManager::new();
    /// manager.connect_to_host("example.com", 80);
    /// // ... later: no connection set-up before this request goes out.
    /// manager.get(NetworkRequest::from_url_str("http://example.com/"));
    /// ```
    pub fn connect_to_host(&self, host_name: &str, port: u16) {
        self.preconnect("http", host_name, port, None);
    }

    /// Opens a TLS connection to `host_name` at `port` before a request needs it (Qt's
    /// `connectToHostEncrypted`): the TCP and TLS handshakes are done ahead, with
    /// `ssl_configuration`, and the next `https:` request to that host and port uses the
    /// connection without a handshake of its own (so that reply emits no `encrypted`: Qt
    /// documents `encrypted` for the first connection to a host only).
    ///
    /// HTTP/2: when the configuration's
    /// [`allowed_next_protocols`](SslConfiguration::allowed_next_protocols) contain `h2`
    /// and the server agrees, the connection becomes the host's multiplexed HTTP/2
    /// connection, which the next requests allowing HTTP/2 share. One such connection per
    /// host is enough: calling this again for the host while it is up (or being set up)
    /// does nothing. Without `h2` in the list, the connection speaks HTTP/1.1 (Qt has no
    /// way to switch a connection to HTTP/2 after its handshake either).
    ///
    /// Certificate errors cannot be ignored for a preconnect: there is no reply to emit
    /// `sslErrors` on, so the handshake fails and the connection is dropped silently; the
    /// next request opens its own connection and reports `sslErrors` as usual (set a
    /// configuration that trusts the server, e.g. its CA, to preconnect to it). Otherwise
    /// as [`connect_to_host`](Self::connect_to_host).
    pub fn connect_to_host_encrypted(
        &self,
        host_name: &str,
        port: u16,
        ssl_configuration: SslConfiguration,
    ) {
        self.preconnect("https", host_name, port, Some(ssl_configuration));
    }

    /// [`connect_to_host_encrypted`](Self::connect_to_host_encrypted), verifying the
    /// server's certificate against `peer_name` instead of `host_name` (Qt 6's overload
    /// with `peerName`; an empty name means `host_name`).
    pub fn connect_to_host_encrypted_with_peer_name(
        &self,
        host_name: &str,
        port: u16,
        mut ssl_configuration: SslConfiguration,
        peer_name: &str,
    ) {
        if !peer_name.is_empty() {
            ssl_configuration.set_peer_verify_name(peer_name);
        }
        self.preconnect("https", host_name, port, Some(ssl_configuration));
    }

    fn preconnect(&self, scheme: &str, host: &str, port: u16, mut tls: Option<SslConfiguration>) {
        let Some(state) = self.state() else {
            return;
        };
        // An IPv6 address is written in brackets in a URL.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let Ok(mut url) = url::Url::parse(&format!("{scheme}://{host}:{port}/")) else {
            return; // not a host name: no connection to prepare
        };
        if let Some(upgraded) = state.features.hsts_upgrade(&url) {
            // A known HSTS host is only ever reached over https (RFC 6797 8.3), so the
            // request this prepares for will be too: prepare that connection, as such a
            // request would open it by default (offering h2, which Qt 6 allows by default).
            url = upgraded;
            let mut config = SslConfiguration::default();
            config.set_allowed_next_protocols(vec![b"h2".to_vec()]);
            tls = Some(config);
        }
        let tls = tls.map(|mut config| {
            // Offer h2 only if the application asked for it, and HTTP/1.1 in any case.
            let h2 = config
                .allowed_next_protocols()
                .iter()
                .any(|p| p.as_slice() == b"h2");
            let mut alpn = Vec::new();
            if h2 {
                alpn.push(b"h2".to_vec());
            }
            alpn.push(b"http/1.1".to_vec());
            config.set_allowed_next_protocols(alpn);
            config
        });
        let transport = state
            .transports
            .borrow()
            .iter()
            .find(|t| t.handles(url.scheme()))
            .cloned();
        if let Some(transport) = transport {
            transport.preconnect(&url, tls);
        }
    }

    /// How many network connections this manager has opened so far (slotnet extension, for
    /// checking connection reuse).
    pub fn connections_opened(&self) -> u64 {
        self.state()
            .map(|s| {
                s.transports
                    .borrow()
                    .iter()
                    .map(|t| t.connections_opened())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Forgets cached credentials (for servers and for this manager's proxy) and closes
    /// idle connections, as Qt's `clearAccessCache`.
    pub fn clear_access_cache(&self) {
        if let Some(s) = self.state() {
            s.features.credentials.borrow_mut().clear();
            let proxy = s.features.proxy.borrow().clone();
            if let Some(proxy) = proxy {
                forget_proxy_credentials(&proxy);
            }
        }
        self.clear_connection_cache();
    }

    // --- cookies ---------------------------------------------------------------------------

    /// Replaces the cookie jar (Qt's `setCookieJar`). A jar can be shared by several
    /// managers. Requests send its cookies and store the `Set-Cookie`s of every response,
    /// redirects included, unless `CookieLoadControl` / `CookieSaveControl` say `Manual`.
    pub fn set_cookie_jar(&self, jar: Rc<RefCell<NetworkCookieJar>>) {
        if let Some(s) = self.state() {
            *s.features.cookie_jar.borrow_mut() = Some(jar);
        }
    }

    /// The cookie jar; an empty one is created (and kept) if none was set, as in Qt.
    pub fn cookie_jar(&self) -> Rc<RefCell<NetworkCookieJar>> {
        match self.state() {
            Some(s) => s.features.jar(),
            None => Rc::new(RefCell::new(NetworkCookieJar::new())),
        }
    }

    // --- cache -----------------------------------------------------------------------------

    /// Sets (or, with `None`, removes) the cache (Qt's `setCache`): GET requests are then
    /// answered from it according to their `CacheLoadControl`, revalidated with
    /// `If-None-Match`/`If-Modified-Since`, and storable responses are saved (unless
    /// `CacheSaveControl` is false).
    pub fn set_cache(&self, cache: Option<Box<dyn AbstractNetworkCache>>) {
        if let Some(s) = self.state() {
            *s.features.cache.borrow_mut() = cache.map(|c| Rc::new(RefCell::new(c)));
        }
    }

    /// The cache, if one is set (shared with the manager: use it between requests).
    pub fn cache(&self) -> Option<Rc<RefCell<Box<dyn AbstractNetworkCache>>>> {
        self.state().and_then(|s| s.features.cache())
    }

    // --- proxies ---------------------------------------------------------------------------

    /// Sets the proxy for this manager's requests (Qt's `setProxy`); it removes a proxy
    /// factory. `DefaultProxy` (the default) follows the application setting
    /// (`NetworkProxy::set_application_proxy`, `set_application_proxy_factory`). Plain
    /// http goes through an HTTP proxy as absolute-form requests, https through `CONNECT`,
    /// anything through SOCKS5.
    pub fn set_proxy(&self, proxy: NetworkProxy) {
        if let Some(s) = self.state() {
            *s.features.proxy_factory.borrow_mut() = None;
            *s.features.proxy.borrow_mut() =
                (proxy.proxy_type() != ProxyType::DefaultProxy).then_some(proxy);
        }
    }

    /// The proxy set with [`set_proxy`](Self::set_proxy) (`DefaultProxy` if none).
    pub fn proxy(&self) -> NetworkProxy {
        self.state()
            .and_then(|s| s.features.proxy.borrow().clone())
            .unwrap_or_default()
    }

    /// Chooses proxies per request with `factory` (Qt's `setProxyFactory`), asked with a
    /// `UrlRequest` query; the first proxy that can carry the request is used. Replaces a
    /// proxy set with [`set_proxy`](Self::set_proxy); `None` removes the factory.
    pub fn set_proxy_factory(&self, factory: Option<Arc<dyn ProxyFactory>>) {
        if let Some(s) = self.state() {
            *s.features.proxy.borrow_mut() = None;
            *s.features.proxy_factory.borrow_mut() = factory;
        }
    }

    /// The proxy factory, if one is set.
    pub fn proxy_factory(&self) -> Option<Arc<dyn ProxyFactory>> {
        self.state()
            .and_then(|s| s.features.proxy_factory.borrow().clone())
    }

    // --- HSTS ------------------------------------------------------------------------------

    /// Turns HTTP Strict Transport Security on or off (off by default, as in Qt). When on,
    /// `Strict-Transport-Security` headers received over TLS are remembered, `http:` URLs
    /// of known hosts are sent as `https:`, and certificate errors of those hosts cannot be
    /// ignored.
    pub fn set_strict_transport_security_enabled(&self, enabled: bool) {
        if let Some(s) = self.state() {
            s.features.hsts_enabled.set(enabled);
        }
    }

    /// Whether HSTS is on.
    pub fn is_strict_transport_security_enabled(&self) -> bool {
        self.state().is_some_and(|s| s.features.hsts_enabled.get())
    }

    /// Adds known HSTS hosts (a preload list, say); an expired policy removes its host.
    pub fn add_strict_transport_security_hosts(&self, policies: Vec<HstsPolicy>) {
        if let Some(s) = self.state() {
            s.features.add_hsts_policies(policies);
        }
    }

    /// The known HSTS hosts whose policy has not expired, sorted by host.
    pub fn strict_transport_security_hosts(&self) -> Vec<HstsPolicy> {
        self.state()
            .map(|s| s.features.hsts.borrow().policies())
            .unwrap_or_default()
    }

    /// Keeps the HSTS policies in `dir` across runs (Qt's
    /// `enableStrictTransportSecurityStore`): enabling reads the stored policies into the
    /// manager, and every change is written back. Without a directory, the user's cache
    /// directory (`$XDG_CACHE_HOME/slotnet` or `~/.cache/slotnet`) is used. An unreadable
    /// store is reported, the store stays enabled for writing.
    pub fn enable_strict_transport_security_store(
        &self,
        enabled: bool,
        dir: Option<&Path>,
    ) -> io::Result<()> {
        match self.state() {
            Some(s) => s.features.enable_hsts_store(enabled, dir),
            None => Ok(()),
        }
    }

    /// Whether the HSTS store is enabled.
    pub fn is_strict_transport_security_store_enabled(&self) -> bool {
        self.state()
            .is_some_and(|s| s.features.hsts_store.borrow().is_some())
    }

    // --- operations ------------------------------------------------------------------------

    /// GET.
    pub fn get(&self, request: NetworkRequest) -> NetworkReply {
        self.create_request(Operation::GetOperation, "GET", request, RequestBody::Empty)
    }

    /// GET with a body (Qt 6.8's `get(request, data)`).
    pub fn get_with_body(
        &self,
        request: NetworkRequest,
        body: impl Into<RequestBody>,
    ) -> NetworkReply {
        self.create_request(Operation::GetOperation, "GET", request, body.into())
    }

    /// HEAD.
    pub fn head(&self, request: NetworkRequest) -> NetworkReply {
        self.create_request(
            Operation::HeadOperation,
            "HEAD",
            request,
            RequestBody::Empty,
        )
    }

    /// POST with a body.
    pub fn post(&self, request: NetworkRequest, body: impl Into<RequestBody>) -> NetworkReply {
        self.create_request(Operation::PostOperation, "POST", request, body.into())
    }

    /// PUT with a body.
    pub fn put(&self, request: NetworkRequest, body: impl Into<RequestBody>) -> NetworkReply {
        self.create_request(Operation::PutOperation, "PUT", request, body.into())
    }

    /// POST of a multipart body (Qt's `post(request, QHttpMultiPart*)`): the Content-Type
    /// with the boundary is set on the request, the parts are streamed (file parts are read
    /// as they are sent, never held in memory).
    pub fn post_multipart(
        &self,
        request: NetworkRequest,
        multipart: HttpMultiPart,
    ) -> NetworkReply {
        self.send_custom_request_multipart(request, "POST", multipart)
    }

    /// PUT of a multipart body, see [`NetworkAccessManager::post_multipart`].
    pub fn put_multipart(&self, request: NetworkRequest, multipart: HttpMultiPart) -> NetworkReply {
        self.send_custom_request_multipart(request, "PUT", multipart)
    }

    /// Any method with a multipart body, see [`NetworkAccessManager::post_multipart`].
    pub fn send_custom_request_multipart(
        &self,
        mut request: NetworkRequest,
        verb: &str,
        multipart: HttpMultiPart,
    ) -> NetworkReply {
        request.set_raw_header("Content-Type", multipart.content_type_header());
        let size = multipart.size();
        let body = RequestBody::from_reader(multipart.into_reader(), size);
        match verb {
            "POST" => self.post(request, body),
            "PUT" => self.put(request, body),
            other => self.send_custom_request(request, other, body),
        }
    }

    /// DELETE.
    pub fn delete_resource(&self, request: NetworkRequest) -> NetworkReply {
        self.create_request(
            Operation::DeleteOperation,
            "DELETE",
            request,
            RequestBody::Empty,
        )
    }

    /// Any method (`verb`), with or without a body.
    pub fn send_custom_request(
        &self,
        request: NetworkRequest,
        verb: &str,
        body: impl Into<RequestBody>,
    ) -> NetworkReply {
        let mut request = request;
        request.set_attribute(Attribute::CustomVerb, verb);
        let op = match verb {
            "GET" => Operation::GetOperation,
            "HEAD" => Operation::HeadOperation,
            "POST" => Operation::PostOperation,
            "PUT" => Operation::PutOperation,
            "DELETE" => Operation::DeleteOperation,
            _ => Operation::CustomOperation,
        };
        self.create_request(op, verb, request, body.into())
    }

    /// Creates the reply for any operation: the hook first, then the transport for the URL's
    /// scheme. Errors (unknown scheme, invalid URL) are reported through the reply's signals
    /// on a later iteration, as in Qt.
    pub fn create_request(
        &self,
        operation: Operation,
        verb: &str,
        mut request: NetworkRequest,
        mut body: RequestBody,
    ) -> NetworkReply {
        let state = self.state();
        if let Some(hook) = state.as_ref().and_then(|s| s.hook.borrow().clone()) {
            if let Some(reply) = hook(operation, &mut request, &mut body) {
                return reply;
            }
        }
        if let Some(upgraded) = state
            .as_ref()
            .and_then(|s| request.url().and_then(|u| s.features.hsts_upgrade(u)))
        {
            // A known HSTS host is only ever asked over https (RFC 6797 8.3), as Qt does
            // before creating the reply.
            request.set_url(upgraded);
        }
        // The reply is the manager's child, as in Qt: destroying the manager destroys it
        // (its `destroyed` aborts the transfer, see `client::job`), never `finished`.
        let reply =
            NetworkReply::create(Some(self.obj), operation, request.clone(), Some(self.obj));
        let Some(state) = state else {
            fail_later(
                reply,
                NetworkError::OperationCanceledError,
                "The network access manager was deleted".into(),
            );
            return reply;
        };
        // The reply tells the manager about finished/encrypted/sslErrors before emitting its
        // own signal (see `reply_event`), which is Qt's order: there the manager's slot is
        // connected first.
        if !body.is_empty() {
            reply.mark_has_upload();
        }
        let timeout = request.transfer_timeout().or(state.transfer_timeout.get());
        reply.set_transfer_timeout(timeout);
        let Some(url) = request.url().cloned() else {
            fail_later(
                reply,
                NetworkError::ProtocolUnknownError,
                "Protocol \"\" is unknown".into(),
            );
            return reply;
        };
        match url.scheme() {
            "data" => local::start_data(reply, &url, operation),
            "file" => local::start_file(reply, &url, operation),
            scheme => {
                let transport = state
                    .transports
                    .borrow()
                    .iter()
                    .find(|t| t.handles(scheme))
                    .cloned();
                match transport {
                    Some(t) => t.start(self, reply, operation, verb, request, body),
                    None => fail_later(
                        reply,
                        NetworkError::ProtocolUnknownError,
                        format!("Protocol \"{scheme}\" is unknown"),
                    ),
                }
            }
        }
        reply
    }
}

/// What a reply reports to its manager, just before emitting the same signal itself.
pub(crate) enum ReplyEvent<'a> {
    Finished,
    Encrypted,
    SslErrors(&'a [SslError]),
}

impl NetworkAccessManager {
    pub(crate) fn from_object(obj: Object) -> NetworkAccessManager {
        NetworkAccessManager { obj }
    }

    /// Emits the manager's signal for `reply`'s event (and schedules auto-deletion).
    pub(crate) fn reply_event(&self, reply: NetworkReply, event: ReplyEvent<'_>) {
        let Some(s) = self.state() else {
            return;
        };
        match event {
            ReplyEvent::Finished => {
                s.finished.emit(reply);
                if s.auto_delete_replies.get() || request_wants_auto_delete(&reply) {
                    reply.delete_later();
                }
            }
            ReplyEvent::Encrypted => s.encrypted.emit(reply),
            ReplyEvent::SslErrors(errors) => s.ssl_errors.emit((reply, errors.to_vec())),
        }
    }
}

fn request_wants_auto_delete(reply: &NetworkReply) -> bool {
    reply
        .request()
        .map(|r| r.bool_attribute(Attribute::AutoDeleteReplyOnFinish, false))
        .unwrap_or(false)
}

/// Reports an error on the next iteration, so that slots connected after the call see it.
pub(crate) fn fail_later(reply: NetworkReply, error: NetworkError, message: String) {
    reply
        .as_object()
        .invoke_later(move || reply.finish(error, message));
}
