//! `NetworkAccessManager` (Qt's `QNetworkAccessManager`): creates replies and owns the
//! shared state behind them (connections, credentials, cookies, cache, HSTS).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{AsObject, Object, Signal};

use crate::body::RequestBody;
use crate::error::NetworkError;
use crate::local;
use crate::reply::{NetworkReply, Operation};
use crate::request::{Attribute, NetworkRequest, RedirectPolicy};
use slotnet_net::ssl::SslError;

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
}

pub(crate) struct ManagerState {
    finished: Signal<NetworkReply>,
    encrypted: Signal<NetworkReply>,
    ssl_errors: Signal<(NetworkReply, Vec<SslError>)>,
    redirect_policy: Cell<RedirectPolicy>,
    transfer_timeout: Cell<Option<Duration>>,
    auto_delete_replies: Cell<bool>,
    hook: RefCell<Option<Rc<CreateRequestHook>>>,
    transports: RefCell<Vec<Rc<dyn Transport>>>,
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
            auto_delete_replies: Cell::new(false),
            hook: RefCell::new(None),
            transports: RefCell::new(Vec::new()),
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

    /// Drops idle connections (and, per Qt, cached credentials).
    pub fn clear_connection_cache(&self) {
        if let Some(s) = self.state() {
            let transports = s.transports.borrow().clone();
            for t in transports {
                t.clear_connection_cache();
            }
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

    /// Forgets cached credentials and connections.
    pub fn clear_access_cache(&self) {
        self.clear_connection_cache();
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
        let reply = NetworkReply::create(Some(self.obj), operation, request.clone(), None);
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
