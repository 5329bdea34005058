//! [`Http`], the handle users hold: scheduling operations, reading the response, the
//! signals.

use std::io::Read;
use std::rc::Rc;

use slotnet_core::{AsObject, Object, Signal};
use slotnet_net::ssl::SslError;
use slotnet_net::TcpSocket;

use crate::auth::Authenticator;

use super::data::{Destination, RequestData};
use super::engine::{AuthRequest, Inner, Op, Proxy};
use super::header::{HttpRequestHeader, HttpResponseHeader};
use super::transport::Sock;
use super::types::{ConnectionMode, HttpError, State};

/// Qt 4's `QHttp`: HTTP requests scheduled in order on one keep-alive connection, each
/// identified by an id and reported through signals.
///
/// Every operation — [`set_host`](Self::set_host), [`set_user`](Self::set_user),
/// [`set_proxy`](Self::set_proxy), [`set_socket`](Self::set_socket),
/// [`close`](Self::close) and the requests ([`get`](Self::get), [`post`](Self::post),
/// [`head`](Self::head), [`request`](Self::request)) — returns at once with an id (1, 2,
/// ...) and runs later, one at a time, in order. Each one emits
/// [`request_started(id)`](Self::request_started) and
/// [`request_finished(id, error)`](Self::request_finished); when the queue is empty,
/// [`done(error)`](Self::done) follows. The first operation starts when control returns to
/// the event loop, so every slot can be connected first.
///
/// With `http.set_host("example.com", 80, ConnectionMode::Http)` (id 1) and
/// `http.get("/index.html", None)` (id 2), the signals are, as in Qt's documentation:
///
/// ```text
/// requestStarted(1)
/// requestFinished(1, false)
/// requestStarted(2)
/// stateChanged(HostLookup)        (not for an IP address)
/// stateChanged(Connecting)
/// stateChanged(Sending)
/// dataSendProgress(77, 77)
/// stateChanged(Reading)
/// responseHeaderReceived(200)
/// dataReadProgress(5388, 0)       (total 0: the length is unknown)
/// readyRead()
/// dataReadProgress(18300, 0)
/// readyRead()
/// stateChanged(Connected)
/// requestFinished(2, false)
/// done(false)
/// stateChanged(Closing)           (only if the response asked to close)
/// stateChanged(Unconnected)
/// ```
///
/// Errors follow Qt's model: only unexpected behaviour is an error (a 404 is an ordinary
/// response; check [`HttpResponseHeader::status_code`]). When an operation fails it
/// finishes with `request_finished(id, true)`, every other scheduled operation is dropped
/// without signals, and `done(true)` follows; [`error`](Self::error) and
/// [`error_string`](Self::error_string) tell what happened.
///
/// The connection is kept alive between requests; it closes only when a response asks for
/// it (`Connection: close`, or an HTTP/1.0 response without keep-alive), on
/// [`close`](Self::close), or when the host changes.
///
/// The response body is delivered through [`ready_read`](Self::ready_read) and
/// [`read`](Self::read)/[`read_all`](Self::read_all), or written into the `to` device given
/// with the request. Unlike Qt, the amount of unread body data can be bounded with
/// [`set_read_buffer_size`](Self::set_read_buffer_size).
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_http::legacy::{ConnectionMode, Http};
///
/// let http = Http::new();
/// http.set_host("example.com", 80, ConnectionMode::Http);
/// http.get("/", None);
/// http.ready_read().connect(move |_| print!("{}", String::from_utf8_lossy(&http.read_all())));
/// http.done().connect(|error| EventLoop::current().exit(*error as i32));
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Http {
    obj: Object,
}

impl AsObject for Http {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

macro_rules! signal_getter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Signal<$ty> {
            self.inner()
                .map_or_else(Signal::closed, |i| i.sig.$name.clone())
        }
    };
}

impl Http {
    /// An object without a host (set one with [`set_host`](Self::set_host)).
    pub fn new() -> Http {
        Http::with_host("", 80, ConnectionMode::Http)
    }

    /// An object whose requests go to `host` on `port` (0: the mode's default port) in
    /// `mode`. Unlike `set_host`, this is not a scheduled operation and gets no id.
    pub fn with_host(host: &str, port: u16, mode: ConnectionMode) -> Http {
        Http {
            obj: Inner::create(host, port, mode).obj,
        }
    }

    fn inner(&self) -> Option<Rc<Inner>> {
        self.obj.data::<Inner>()
    }

    fn schedule(&self, op: Op) -> u32 {
        self.inner().map_or(0, |i| i.add(op))
    }

    /// Whether the object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the object now: the connection closes without signals.
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// Destroys the object when control returns to the event loop.
    pub fn delete_later(&self) {
        self.obj.delete_later()
    }

    // ----- scheduled operations -----------------------------------------------------------

    /// Schedules a change of server: later requests go to `host` on `port` (0: 80 for
    /// `Http`, 443 for `Https`) in `mode`. Returns the operation's id.
    pub fn set_host(&self, host: &str, port: u16, mode: ConnectionMode) -> u32 {
        self.schedule(Op::SetHost {
            host: host.to_owned(),
            port,
            mode,
        })
    }

    /// Schedules credentials for servers that require authentication: they answer the
    /// first 401 challenge without `authentication_required` being emitted. An empty
    /// `user` removes them.
    pub fn set_user(&self, user: &str, password: &str) -> u32 {
        let creds = (!user.is_empty()).then(|| Authenticator::with_credentials(user, password));
        self.schedule(Op::SetUser(creds))
    }

    /// Schedules the use of a non-transparent HTTP proxy (such as Squid) at `host:port`
    /// for later requests; `user` and `password` (if `user` is not empty) answer its first
    /// 407 challenge. An empty `host` removes the proxy. HTTPS through the proxy is not
    /// supported (the request fails with `UnknownError`).
    ///
    /// Unlike Qt, where it must come before `set_host`, the proxy applies to every request
    /// scheduled after it.
    pub fn set_proxy(&self, host: &str, port: u16, user: &str, password: &str) -> u32 {
        let proxy = (!host.is_empty()).then(|| Proxy {
            host: host.to_owned(),
            port,
            creds: (!user.is_empty()).then(|| Authenticator::with_credentials(user, password)),
        });
        self.schedule(Op::SetProxy(proxy))
    }

    /// Schedules the use of `proxy` for later requests (Qt 4's
    /// `setProxy(const QNetworkProxy &)`): an `HttpProxy` or `HttpCachingProxy` is used as
    /// [`set_proxy`](Self::set_proxy) would (its user and password answer its first 407),
    /// `NoProxy` removes the proxy, `DefaultProxy` takes the application proxy
    /// ([`NetworkProxy::application_proxy`](slotnet_net::NetworkProxy::application_proxy))
    /// now. A SOCKS5 proxy is not supported by `Http`: the operation then fails with
    /// `UnknownError` (and the requests scheduled after it are dropped, as after any
    /// error) instead of letting them go out without the proxy.
    pub fn set_network_proxy(&self, proxy: &slotnet_net::NetworkProxy) -> u32 {
        use slotnet_net::ProxyType;
        let proxy = match proxy.proxy_type() {
            ProxyType::DefaultProxy => slotnet_net::NetworkProxy::application_proxy(),
            _ => proxy.clone(),
        };
        match proxy.proxy_type() {
            ProxyType::NoProxy | ProxyType::DefaultProxy => self.set_proxy("", 0, "", ""),
            ProxyType::HttpProxy | ProxyType::HttpCachingProxy => self.set_proxy(
                proxy.host_name(),
                proxy.port(),
                proxy.user(),
                proxy.password(),
            ),
            _ => self.schedule(Op::Refuse("Proxy type not supported by Http")),
        }
    }

    /// Schedules the use of `socket` (a user-supplied socket, not owned: it is never
    /// deleted here) for the connections of later requests; `None` goes back to internal
    /// sockets. The socket carries plain HTTP only.
    pub fn set_socket(&self, socket: Option<TcpSocket>) -> u32 {
        self.schedule(Op::SetSocket(socket))
    }

    /// Schedules closing the connection (useful with keep-alive connections): `Closing`,
    /// then `Unconnected`.
    pub fn close(&self) -> u32 {
        self.schedule(Op::Close)
    }

    /// Schedules a GET for `path` (an absolute path such as `/index.html`, already
    /// percent-encoded). With `to`, the body is written into that device and `ready_read`
    /// is not emitted; the device is dropped after `request_finished`.
    pub fn get(&self, path: &str, to: Option<Destination>) -> u32 {
        let mut header = HttpRequestHeader::new("GET", path);
        header.set_value("Connection", "Keep-Alive");
        self.request(header, RequestData::Empty, to)
    }

    /// Schedules a POST of `data` (bytes or a [`RequestData::device`]) to `path`, with
    /// `Content-Type: application/x-www-form-urlencoded`.
    pub fn post(&self, path: &str, data: impl Into<RequestData>, to: Option<Destination>) -> u32 {
        let mut header = HttpRequestHeader::new("POST", path);
        header.set_value("Connection", "Keep-Alive");
        header.set_content_type("application/x-www-form-urlencoded");
        self.request(header, data, to)
    }

    /// Schedules a HEAD for `path`; read the answer with
    /// [`last_response`](Self::last_response) once it finished.
    pub fn head(&self, path: &str) -> u32 {
        let mut header = HttpRequestHeader::new("HEAD", path);
        header.set_value("Connection", "Keep-Alive");
        self.request(header, RequestData::Empty, None)
    }

    /// Schedules a request with a header of your own. `Host` is added if missing;
    /// `Content-Length` (or chunked coding, for a device of unknown length) is derived
    /// from `data`.
    pub fn request(
        &self,
        header: HttpRequestHeader,
        data: impl Into<RequestData>,
        to: Option<Destination>,
    ) -> u32 {
        self.schedule(Op::Request {
            header,
            data: Some(data.into()),
            to,
        })
    }

    // ----- queue control ------------------------------------------------------------------

    /// Aborts the running operation, which finishes with `request_finished(id, true)` and
    /// error `Aborted`; the scheduled ones are dropped without signals; `done(true)`
    /// follows and the connection is closed. Does nothing when nothing is scheduled.
    pub fn abort(&self) {
        if let Some(i) = self.inner() {
            i.abort()
        }
    }

    /// Drops every scheduled operation except the running one.
    pub fn clear_pending_requests(&self) {
        if let Some(i) = self.inner() {
            i.clear_pending()
        }
    }

    /// Whether operations are scheduled besides the running one.
    pub fn has_pending_requests(&self) -> bool {
        self.inner().is_some_and(|i| i.st.borrow().queue.len() > 1)
    }

    /// The id of the running operation (or of the one about to start), 0 if none.
    pub fn current_id(&self) -> u32 {
        self.inner()
            .and_then(|i| i.st.borrow().queue.front().map(|p| p.id))
            .unwrap_or(0)
    }

    /// The request header of the running request; an invalid header if the running
    /// operation is not a request or nothing runs.
    pub fn current_request(&self) -> HttpRequestHeader {
        self.inner()
            .and_then(|i| match i.st.borrow().queue.front().map(|p| &p.op) {
                Some(Op::Request { header, .. }) => Some(header.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Runs `f` on the running request's source device (Qt's `currentSourceDevice`);
    /// `None` if the request has no device body (or the device is in use).
    pub fn current_source_device<R>(&self, f: impl FnOnce(&mut dyn Read) -> R) -> Option<R> {
        let inner = self.inner()?;
        let mut source = inner.source.try_borrow_mut().ok()?;
        source.as_mut().map(|r| f(r.as_mut()))
    }

    /// Runs `f` on the running request's destination device (Qt's
    /// `currentDestinationDevice`); `None` if the body goes to `ready_read` (or the device is
    /// in use).
    pub fn current_destination_device<R>(
        &self,
        f: impl FnOnce(&mut dyn std::io::Write) -> R,
    ) -> Option<R> {
        let inner = self.inner()?;
        let mut to = inner.to.try_borrow_mut().ok()?;
        to.as_mut().map(|w| f(w.as_mut()))
    }

    /// The response header of the current or most recently finished request (invalid
    /// before any response).
    pub fn last_response(&self) -> HttpResponseHeader {
        self.inner()
            .map(|i| i.st.borrow().last_response.clone())
            .unwrap_or_default()
    }

    // ----- reading the response -----------------------------------------------------------

    /// Bytes of response body ready to read.
    pub fn bytes_available(&self) -> u64 {
        self.inner().map_or(0, |i| i.st.borrow().body_len as u64)
    }

    /// Copies up to `buf.len()` bytes of response body into `buf`; returns how many.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let Some(inner) = self.inner() else { return 0 };
        let n = {
            let mut st = inner.st.borrow_mut();
            let mut n = 0;
            while n < buf.len() {
                let Some(front) = st.body.front_mut() else {
                    break;
                };
                let take = front.len().min(buf.len() - n);
                buf[n..n + take].copy_from_slice(&front.split_to(take));
                if front.is_empty() {
                    st.body.pop_front();
                }
                n += take;
            }
            st.body_len -= n;
            n
        };
        self.after_read(&inner);
        n
    }

    /// Takes all the response body ready to read.
    pub fn read_all(&self) -> Vec<u8> {
        let Some(inner) = self.inner() else {
            return Vec::new();
        };
        let out = {
            let mut st = inner.st.borrow_mut();
            let mut out = Vec::with_capacity(st.body_len);
            for piece in st.body.drain(..) {
                out.extend_from_slice(&piece);
            }
            st.body_len = 0;
            out
        };
        self.after_read(&inner);
        out
    }

    fn after_read(&self, inner: &Rc<Inner>) {
        if inner.st.borrow().paused {
            let weak = Rc::downgrade(inner);
            self.obj.invoke_later(move || {
                if let Some(inner) = weak.upgrade() {
                    inner.resume();
                }
            });
        }
    }

    /// Bounds the response body kept for [`read`](Self::read) (0: unlimited, the default,
    /// as in Qt). When the limit is reached the connection is not read any more until the
    /// application reads, so the server is slowed down instead of memory growing. With a
    /// limit, read in [`ready_read`](Self::ready_read) (or use a `to` device): a request
    /// whose unread body exceeds the limit does not finish.
    pub fn set_read_buffer_size(&self, size: usize) {
        if let Some(i) = self.inner() {
            i.st.borrow_mut().read_buffer_size = size;
            self.after_read(&i);
        }
    }

    /// The limit set with [`set_read_buffer_size`](Self::set_read_buffer_size).
    pub fn read_buffer_size(&self) -> usize {
        self.inner().map_or(0, |i| i.st.borrow().read_buffer_size)
    }

    // ----- state --------------------------------------------------------------------------

    /// The connection state.
    pub fn state(&self) -> State {
        self.inner()
            .map_or(State::Unconnected, |i| i.st.borrow().state)
    }

    /// The last error (reset to `NoError` when an operation starts).
    pub fn error(&self) -> HttpError {
        self.inner()
            .map_or(HttpError::NoError, |i| i.st.borrow().error)
    }

    /// A human-readable description of the last error (empty if none; "Unknown error"
    /// is never invented).
    pub fn error_string(&self) -> String {
        self.inner()
            .map(|i| i.st.borrow().error_string.clone())
            .unwrap_or_default()
    }

    /// Sets the TLS configuration of the HTTPS connections opened from now on (slotnet
    /// extension: Qt 4's `QHttp` has none, and used the default configuration); without
    /// one they use the process-wide default,
    /// [`SslConfiguration::default_configuration`](slotnet_net::ssl::SslConfiguration::default_configuration).
    /// A private CA is trusted with `add_ca_certificate` on the configuration given here.
    pub fn set_ssl_configuration(&self, configuration: slotnet_net::ssl::SslConfiguration) {
        if let Some(inner) = self.inner() {
            inner.st.borrow_mut().ssl_configuration = Some(configuration);
        }
    }

    /// The TLS configuration of HTTPS connections: the one set with
    /// [`set_ssl_configuration`](Self::set_ssl_configuration), else the process-wide default.
    pub fn ssl_configuration(&self) -> slotnet_net::ssl::SslConfiguration {
        self.inner()
            .and_then(|i| i.st.borrow().ssl_configuration.clone())
            .unwrap_or_default()
    }

    /// Lets the TLS handshake continue despite the errors reported by
    /// [`ssl_errors`](Self::ssl_errors); call it from a slot connected to that signal.
    pub fn ignore_ssl_errors(&self) {
        let sock = self
            .inner()
            .and_then(|i| i.st.borrow().conn.as_ref().map(|c| c.sock));
        if let Some(Sock::Ssl(socket)) = sock {
            socket.ignore_ssl_errors();
        }
    }

    // ----- signals ------------------------------------------------------------------------

    signal_getter!(
        /// Emitted when an operation starts, with its id.
        request_started: u32
    );
    signal_getter!(
        /// Emitted when an operation finishes, with its id and whether it failed.
        request_finished: (u32, bool)
    );
    signal_getter!(
        /// Emitted after the last scheduled operation finished, with whether an error
        /// occurred.
        done: bool
    );
    signal_getter!(
        /// Emitted when the connection state changes.
        state_changed: State
    );
    signal_getter!(
        /// Emitted when a response header has been received.
        response_header_received: HttpResponseHeader
    );
    signal_getter!(
        /// Emitted when response body data can be read (not when the request has a `to`
        /// device), with the response header.
        ready_read: HttpResponseHeader
    );
    signal_getter!(
        /// Emitted as the request goes out: bytes sent (head included) and the total, 0
        /// when unknown (a chunked device body).
        data_send_progress: (u64, u64)
    );
    signal_getter!(
        /// Emitted as the response body arrives: bytes received and the total, 0 when
        /// unknown (no `Content-Length`).
        data_read_progress: (u64, u64)
    );
    signal_getter!(
        /// Emitted when the server asks for credentials that `set_user` did not provide
        /// (or that it rejected): host, port and an authenticator to fill in from the
        /// slot (directly connected: a queued slot would be too late). An authenticator
        /// left without user, or holding credentials just rejected, makes the request fail
        /// with `AuthenticationRequiredError`.
        authentication_required: AuthRequest
    );
    signal_getter!(
        /// Like [`authentication_required`](Self::authentication_required), for the proxy:
        /// proxy host, proxy port, authenticator.
        proxy_authentication_required: AuthRequest
    );
    signal_getter!(
        /// Emitted synchronously from the TLS handshake with the certificate errors found;
        /// call [`ignore_ssl_errors`](Self::ignore_ssl_errors) from the slot to continue,
        /// otherwise the request fails with `UnknownError`.
        ssl_errors: Vec<SslError>
    );
}
