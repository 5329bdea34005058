//! `NetworkReply` (Qt's `QNetworkReply`): a sequential read device with Qt's signals.
//!
//! Transports (HTTP/1.1, HTTP/2, `file:`, `data:`) feed a reply through the crate-internal
//! `deliver_*` and `finish` methods; those methods own Qt's signal order, so every transport
//! emits the same sequence:
//!
//! ```text
//! socketStartedConnecting  (a new connection was opened)
//! encrypted / sslErrors    (TLS)
//! uploadProgress(n, n)     (when a body was sent)
//! requestSent
//! metaDataChanged          (per response head; redirect hops then emit redirected(url))
//! readyRead                (per chunk of body; downloadProgress throttled to one per 100 ms)
//! errorOccurred(E)         (only on error)
//! downloadProgress(n, total)
//! uploadProgress(0, 0)     (when the request had a body, see below)
//! finished                 (the manager's `finished` first, then the reply's)
//! ```
//!
//! The closing `uploadProgress(0, 0)` comes after the real `(n, n)` too, whatever the body
//! (bytes, a reader, HTTP/1.1 or HTTP/2), because Qt's HTTP reply does so: its finish emits
//! `(0, 0)` for a request with a body unless upload progress was recorded, and the HTTP reply
//! never records it (only Qt's non-HTTP replies do). Qt 6.4 shows it in every recorded run
//! (anchors/qt/traces/post-body.txt, put-body.txt). A progress bar should ignore a `(0, 0)`
//! that follows a `(n, n)`; a request without a body emits no `uploadProgress` at all.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use slotnet_core::{AsObject, LazySignal, Object, Signal, Timer};
use url::Url;

use crate::client::settings::PROGRESS_INTERVAL;
use crate::error::NetworkError;
use crate::manager::{NetworkAccessManager, ReplyEvent};
use crate::request::{Attribute, AttributeValue, HeaderValue, KnownHeader, NetworkRequest};
use crate::response_headers::ResponseHeaders;
use slotnet_net::ssl::{SslConfiguration, SslError};

mod http_types;
mod result;
pub use result::ReplyError;

/// The operation a reply performs (`QNetworkAccessManager::Operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operation {
    HeadOperation,
    GetOperation,
    PutOperation,
    PostOperation,
    DeleteOperation,
    CustomOperation,
    UnknownOperation,
}

impl Operation {
    /// Qt's enumerator name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::HeadOperation => "HeadOperation",
            Operation::GetOperation => "GetOperation",
            Operation::PutOperation => "PutOperation",
            Operation::PostOperation => "PostOperation",
            Operation::DeleteOperation => "DeleteOperation",
            Operation::CustomOperation => "CustomOperation",
            Operation::UnknownOperation => "UnknownOperation",
        }
    }
}

/// What a transport does when the application acts on the reply.
pub(crate) trait ReplyBackend {
    /// Stop the transfer and release the connection (no signals: the reply emits them).
    fn abort(&self);
    /// The application read from a full buffer: reading from the network may resume.
    fn resume_reading(&self) {}
    /// `ignore_ssl_errors()` was called on the reply.
    fn ignore_ssl_errors(&self) {}
    /// `ignore_ssl_errors_list()` was called on the reply.
    fn ignore_ssl_errors_list(&self, _errors: Vec<SslError>) {}
    /// `redirect_allowed()` was called (UserVerifiedRedirectPolicy).
    fn redirect_allowed(&self) {}
}

/// The reply's signals, created on its object.
pub(crate) struct ReplySignals {
    pub finished: LazySignal<()>,
    pub ready_read: LazySignal<()>,
    pub download_progress: LazySignal<(i64, i64)>,
    pub upload_progress: LazySignal<(i64, i64)>,
    pub meta_data_changed: LazySignal<()>,
    pub redirected: LazySignal<Url>,
    pub redirect_allowed: LazySignal<()>,
    pub error_occurred: LazySignal<NetworkError>,
    pub request_sent: LazySignal<()>,
    pub socket_started_connecting: LazySignal<()>,
    pub encrypted: LazySignal<()>,
    pub ssl_errors: LazySignal<Vec<SslError>>,
}

pub(crate) struct ReplyState {
    pub(crate) signals: ReplySignals,
    manager: Option<Object>,
    operation: Operation,
    request: RefCell<NetworkRequest>,
    url: RefCell<Option<Url>>,
    error: Cell<NetworkError>,
    error_string: RefCell<String>,
    attributes: RefCell<BTreeMap<Attribute, AttributeValue>>,
    /// The TLS configuration and session of the connection the reply used.
    ssl_configuration: RefCell<Option<Rc<SslConfiguration>>>,
    headers: RefCell<ResponseHeaders>,
    buffer: RefCell<VecDeque<Bytes>>,
    buffered: Cell<usize>,
    read_buffer_size: Cell<usize>,
    received: Cell<i64>,
    total: Cell<i64>,
    progress_choke: Cell<Option<Instant>>,
    has_upload: Cell<bool>,
    finished: Cell<bool>,
    open: Cell<bool>,
    backend: RefCell<Option<Rc<dyn ReplyBackend>>>,
    timeout: RefCell<Option<Timer>>,
    timeout_interval: Cell<Option<Duration>>,
}

/// The reply to a request made through a `NetworkAccessManager` (Qt's `QNetworkReply`).
///
/// It is an object on the loop: connect to its signals, read the body as it arrives (or all at
/// once in `finished`), and `delete_later()` it when done (or set the manager's
/// `auto_delete_replies`). A handle to a deleted reply reports it (`None`, empty reads).
///
/// As in Qt, the reply is a child of the manager that made it: destroying the manager
/// destroys the reply (a running one emits `destroyed`, not `finished`, and its transfer
/// stops).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkReply {
    obj: Object,
}

impl AsObject for NetworkReply {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl NetworkReply {
    pub(crate) fn create(
        manager: Option<Object>,
        operation: Operation,
        request: NetworkRequest,
        parent: Option<Object>,
    ) -> NetworkReply {
        let obj = Object::with_data(Rc::new(()), parent);
        let signals = ReplySignals {
            finished: LazySignal::new(obj),
            ready_read: LazySignal::new(obj),
            download_progress: LazySignal::new(obj),
            upload_progress: LazySignal::new(obj),
            meta_data_changed: LazySignal::new(obj),
            redirected: LazySignal::new(obj),
            redirect_allowed: LazySignal::new(obj),
            error_occurred: LazySignal::new(obj),
            request_sent: LazySignal::new(obj),
            socket_started_connecting: LazySignal::new(obj),
            encrypted: LazySignal::new(obj),
            ssl_errors: LazySignal::new(obj),
        };
        let url = request.url().cloned();
        let state = ReplyState {
            signals,
            manager,
            operation,
            request: RefCell::new(request),
            url: RefCell::new(url),
            error: Cell::new(NetworkError::NoError),
            error_string: RefCell::new(String::new()),
            attributes: RefCell::new(BTreeMap::new()),
            ssl_configuration: RefCell::new(None),
            headers: RefCell::new(ResponseHeaders::default()),
            buffer: RefCell::new(VecDeque::new()),
            buffered: Cell::new(0),
            read_buffer_size: Cell::new(0),
            received: Cell::new(0),
            total: Cell::new(-1),
            progress_choke: Cell::new(None),
            has_upload: Cell::new(false),
            finished: Cell::new(false),
            open: Cell::new(true),
            backend: RefCell::new(None),
            timeout: RefCell::new(None),
            timeout_interval: Cell::new(None),
        };
        // Cannot fail: the object was just created.
        let _ = obj.set_data(Rc::new(state));
        NetworkReply { obj }
    }

    pub(crate) fn state(&self) -> Option<Rc<ReplyState>> {
        self.obj.data::<ReplyState>()
    }

    fn signal<A: 'static>(&self, pick: impl FnOnce(&ReplySignals) -> &LazySignal<A>) -> Signal<A> {
        self.state()
            .map(|s| pick(&s.signals).get())
            .unwrap_or_else(Signal::closed)
    }

    // --- signals ---------------------------------------------------------------------------

    /// Emitted once when the reply is done (successfully or not); the body stays readable.
    pub fn finished(&self) -> Signal<()> {
        self.signal(|s| &s.finished)
    }
    /// Emitted when new body data can be read.
    pub fn ready_read(&self) -> Signal<()> {
        self.signal(|s| &s.ready_read)
    }
    /// `(received, total)`; total is -1 while unknown.
    pub fn download_progress(&self) -> Signal<(i64, i64)> {
        self.signal(|s| &s.download_progress)
    }
    /// `(sent, total)` for the request body.
    pub fn upload_progress(&self) -> Signal<(i64, i64)> {
        self.signal(|s| &s.upload_progress)
    }
    /// Emitted when the response headers (metadata) arrive or change.
    pub fn meta_data_changed(&self) -> Signal<()> {
        self.signal(|s| &s.meta_data_changed)
    }
    /// Emitted with the new absolute URL when a redirect is followed (or, with
    /// UserVerifiedRedirectPolicy, about to be).
    pub fn redirected(&self) -> Signal<Url> {
        self.signal(|s| &s.redirected)
    }
    /// Emitted when the application allowed a redirect (UserVerifiedRedirectPolicy).
    pub fn redirect_allowed_signal(&self) -> Signal<()> {
        self.signal(|s| &s.redirect_allowed)
    }
    /// Emitted when the reply fails, before `finished`.
    pub fn error_occurred(&self) -> Signal<NetworkError> {
        self.signal(|s| &s.error_occurred)
    }
    /// Emitted each time the request (head and body) has been written out.
    pub fn request_sent(&self) -> Signal<()> {
        self.signal(|s| &s.request_sent)
    }
    /// Emitted when a new connection is being opened for the request.
    pub fn socket_started_connecting(&self) -> Signal<()> {
        self.signal(|s| &s.socket_started_connecting)
    }
    /// Emitted when the TLS handshake succeeded.
    pub fn encrypted(&self) -> Signal<()> {
        self.signal(|s| &s.encrypted)
    }
    /// Emitted with the certificate errors found during the handshake (Qt's names via
    /// `SslError::name`); call
    /// `ignore_ssl_errors()` from a slot to continue.
    pub fn ssl_errors(&self) -> Signal<Vec<SslError>> {
        self.signal(|s| &s.ssl_errors)
    }

    // --- the read device -------------------------------------------------------------------

    /// Bytes that can be read now.
    pub fn bytes_available(&self) -> usize {
        self.state().map(|s| s.buffered.get()).unwrap_or(0)
    }

    /// Reads up to `buf.len()` bytes; returns how many were read.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let Some(state) = self.state() else {
            return 0;
        };
        let mut done = 0;
        {
            let mut queue = state.buffer.borrow_mut();
            while done < buf.len() {
                let Some(front) = queue.front_mut() else {
                    break;
                };
                let n = front.len().min(buf.len() - done);
                buf[done..done + n].copy_from_slice(&front[..n]);
                front.advance(n);
                if front.is_empty() {
                    queue.pop_front();
                }
                done += n;
            }
        }
        self.consumed(&state, done);
        done
    }

    /// Reads everything buffered.
    pub fn read_all(&self) -> Vec<u8> {
        let Some(state) = self.state() else {
            return Vec::new();
        };
        let chunks: Vec<Bytes> = state.buffer.borrow_mut().drain(..).collect();
        let mut out = Vec::with_capacity(state.buffered.get());
        for c in &chunks {
            out.extend_from_slice(c);
        }
        self.consumed(&state, out.len());
        out
    }

    /// Takes the next buffered chunk without copying (slotnet's zero-copy read).
    pub fn read_chunk(&self) -> Option<Bytes> {
        let state = self.state()?;
        let chunk = state.buffer.borrow_mut().pop_front()?;
        self.consumed(&state, chunk.len());
        Some(chunk)
    }

    /// Copies up to `buf.len()` bytes without consuming them.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        let Some(state) = self.state() else {
            return 0;
        };
        let queue = state.buffer.borrow();
        let mut done = 0;
        for chunk in queue.iter() {
            if done == buf.len() {
                break;
            }
            let n = chunk.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&chunk[..n]);
            done += n;
        }
        done
    }

    fn consumed(&self, state: &Rc<ReplyState>, n: usize) {
        if n == 0 {
            return;
        }
        let before = state.buffered.get();
        state.buffered.set(before - n);
        let limit = state.read_buffer_size.get();
        if limit != 0 && before >= limit && state.buffered.get() < limit {
            let backend = state.backend.borrow().clone();
            if let Some(backend) = backend {
                // Resume from the loop, not from inside the application's read call.
                self.obj.invoke_later(move || backend.resume_reading());
            }
        }
    }

    /// Limits how much body is buffered (0: unlimited, the default). When the buffer is full
    /// the transport stops reading from the network until the application reads.
    pub fn set_read_buffer_size(&self, size: usize) {
        if let Some(state) = self.state() {
            state.read_buffer_size.set(size);
        }
    }

    /// The read buffer limit (0: unlimited).
    pub fn read_buffer_size(&self) -> usize {
        self.state().map(|s| s.read_buffer_size.get()).unwrap_or(0)
    }

    /// Whether the reply can still be read (false after `close` or `abort`).
    pub fn is_open(&self) -> bool {
        self.state().map(|s| s.open.get()).unwrap_or(false)
    }

    // --- metadata --------------------------------------------------------------------------

    /// The error, `NoError` while running or on success.
    pub fn error(&self) -> NetworkError {
        self.state()
            .map(|s| s.error.get())
            .unwrap_or(NetworkError::NoError)
    }

    /// A human-readable description of the error.
    pub fn error_string(&self) -> String {
        self.state()
            .map(|s| s.error_string.borrow().clone())
            .unwrap_or_default()
    }

    /// The outcome as a `Result`: `Ok(())` when [`error`](Self::error) is `NoError`, else a
    /// [`ReplyError`] with the code, status, URL and message. Meant for a finished reply
    /// (in the `finished` slot or after waiting): a running reply has no error yet, so it is
    /// `Ok(())` too.
    ///
    /// As in Qt, an HTTP error status is an error (`ContentNotFoundError` for 404), while
    /// the body stays readable.
    pub fn result(&self) -> Result<(), ReplyError> {
        let kind = self.error();
        if kind == NetworkError::NoError {
            return Ok(());
        }
        Err(ReplyError::with_status(
            kind,
            self.status_code(),
            self.url(),
            self.error_string(),
        ))
    }

    /// A reply attribute (status code, reason phrase, redirection target, ...).
    pub fn attribute(&self, attribute: Attribute) -> Option<AttributeValue> {
        self.state()?.attributes.borrow().get(&attribute).cloned()
    }

    /// The HTTP status code, if a response arrived.
    pub fn status_code(&self) -> Option<u16> {
        self.attribute(Attribute::HttpStatusCode)
            .and_then(|v| v.as_int())
            .map(|n| n as u16)
    }

    /// A known response header's typed value.
    pub fn header(&self, header: KnownHeader) -> Option<HeaderValue> {
        self.raw_header(header.name())
            .and_then(|raw| header.parse(&raw))
    }

    /// A raw response header (case-insensitive; several values joined with ", ", except
    /// Set-Cookie which Qt joins with newlines).
    pub fn raw_header(&self, name: &str) -> Option<String> {
        self.state()?.headers.borrow().joined(name)
    }

    /// Whether the response has the header.
    pub fn has_raw_header(&self, name: &str) -> bool {
        self.state()
            .is_some_and(|s| s.headers.borrow().get(name).is_some())
    }

    /// Names of the response headers, in the order and the case the server sent them. As in
    /// Qt, a repeated field appears once, where its last occurrence was, with the values
    /// joined by `", "` (by a newline for `Set-Cookie`).
    pub fn raw_header_list(&self) -> Vec<String> {
        self.raw_header_pairs()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// The response headers as (name, value) pairs, in order, repeated fields merged as in
    /// [`raw_header_list`](Self::raw_header_list).
    pub fn raw_header_pairs(&self) -> Vec<(String, String)> {
        self.state()
            .map(|s| s.headers.borrow().merged_pairs())
            .unwrap_or_default()
    }

    /// The URL of the content: the request's, or the last redirect target.
    pub fn url(&self) -> Option<Url> {
        self.state()?.url.borrow().clone()
    }

    /// The request as sent (including headers the manager added).
    pub fn request(&self) -> Option<NetworkRequest> {
        Some(self.state()?.request.borrow().clone())
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.state()
            .map(|s| s.operation)
            .unwrap_or(Operation::UnknownOperation)
    }

    /// The manager's object (the manager that created this reply).
    pub fn manager_object(&self) -> Option<Object> {
        self.state()?.manager
    }

    /// Whether the reply has finished.
    pub fn is_finished(&self) -> bool {
        self.state().map(|s| s.finished.get()).unwrap_or(false)
    }

    /// Whether the reply is still running.
    pub fn is_running(&self) -> bool {
        self.state().map(|s| !s.finished.get()).unwrap_or(false)
    }

    // --- actions ---------------------------------------------------------------------------

    /// Aborts the transfer now: `errorOccurred(OperationCanceledError)`, the last progress and
    /// `finished` are emitted before this returns; the reply is closed (unreadable) afterwards,
    /// as in Qt. Does nothing on a finished reply.
    pub fn abort(&self) {
        let Some(state) = self.state() else {
            return;
        };
        if state.finished.get() {
            return;
        }
        let backend = state.backend.borrow_mut().take();
        if let Some(backend) = backend {
            backend.abort();
        }
        self.finish(
            NetworkError::OperationCanceledError,
            "Operation canceled".into(),
        );
        self.close();
    }

    /// Closes the read side: buffered data is dropped and no more is delivered. A running
    /// transfer is aborted first.
    pub fn close(&self) {
        let Some(state) = self.state() else {
            return;
        };
        if !state.finished.get() {
            self.abort();
            return;
        }
        state.open.set(false);
        state.buffer.borrow_mut().clear();
        state.buffered.set(0);
    }

    /// With UserVerifiedRedirectPolicy: follow the redirect announced by `redirected`.
    pub fn redirect_allowed(&self) {
        let Some(state) = self.state() else {
            return;
        };
        let backend = state.backend.borrow().clone();
        if let Some(backend) = backend {
            state.signals.redirect_allowed.emit(());
            backend.redirect_allowed();
        }
    }

    /// Continue a TLS handshake despite certificate errors (Qt's `ignoreSslErrors()`). From
    /// a slot of [`ssl_errors`](Self::ssl_errors) (the reply's or the manager's), it accepts
    /// the errors reported, for that connection only: a redirect's or a retry's new
    /// connection asks again. Called beforehand (right after the request was made), it
    /// accepts whatever any of the reply's handshakes finds, and `ssl_errors` is not emitted,
    /// as Qt's socket emits nothing for errors it was told to ignore. It decides for this
    /// reply only: another reply waiting for the same handshake, or sent later on the same
    /// connection, is asked for itself. Has no effect for HSTS hosts (RFC 6797 section 8.4).
    pub fn ignore_ssl_errors(&self) {
        let Some(state) = self.state() else {
            return;
        };
        let backend = state.backend.borrow().clone();
        if let Some(backend) = backend {
            backend.ignore_ssl_errors();
        }
    }

    /// Accepts exactly these certificate errors (Qt's `ignoreSslErrors(const QList<QSslError>
    /// &)`), typically called right after the request was made: when every error the
    /// handshake finds equals one of `errors` (kind and certificate, see [`SslError`]), the
    /// handshake continues without `ssl_errors` being emitted; otherwise all of them are
    /// reported as usual, and a slot may still call
    /// [`ignore_ssl_errors`](Self::ignore_ssl_errors). A later call replaces the list. Has no
    /// effect for HSTS hosts.
    ///
    /// ```no_run
    /// use slotnet_http::{NetworkAccessManager, NetworkRequest};
    /// use slotnet_net::ssl::{SslCertificate, SslError, SslErrorKind};
    ///
    /// # fn pinned() -> SslCertificate { unimplemented!() }
    /// let manager = NetworkAccessManager::new();
    /// let reply = manager.get(NetworkRequest::from_url_str("https://device.local/status"));
    /// // The device presents a self-signed certificate the application knows.
    /// reply.ignore_ssl_errors_list(vec![SslError::new(
    ///     SslErrorKind::SelfSignedCertificate,
    ///     pinned(),
    /// )]);
    /// ```
    pub fn ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        let Some(state) = self.state() else {
            return;
        };
        let backend = state.backend.borrow().clone();
        if let Some(backend) = backend {
            backend.ignore_ssl_errors_list(errors);
        }
    }

    /// The TLS configuration of the connection the reply used (Qt's `sslConfiguration()`),
    /// with its session: the peer's certificate chain, the negotiated protocol version, cipher
    /// and ALPN protocol. Known from `encrypted` on, and for a reply sent on a connection that
    /// was already up (which emits no `encrypted`) from `metaDataChanged` on. `None` for a
    /// reply that used no TLS (Qt returns a null configuration). During `ssl_errors` the
    /// certificates are those the errors carry.
    pub fn ssl_configuration(&self) -> Option<SslConfiguration> {
        let state = self.state()?;
        let configuration = state.ssl_configuration.borrow();
        configuration.as_deref().cloned()
    }

    /// Schedules deletion of the reply (see `Object::delete_later`).
    pub fn delete_later(&self) {
        self.obj.delete_later();
    }

    // --- the transport side (crate-internal) -----------------------------------------------

    pub(crate) fn set_backend(&self, backend: Option<Rc<dyn ReplyBackend>>) {
        if let Some(state) = self.state() {
            *state.backend.borrow_mut() = backend;
        }
    }

    pub(crate) fn set_url(&self, url: Url) {
        if let Some(state) = self.state() {
            *state.url.borrow_mut() = Some(url);
        }
    }

    pub(crate) fn update_request(&self, f: impl FnOnce(&mut NetworkRequest)) {
        if let Some(state) = self.state() {
            f(&mut state.request.borrow_mut());
        }
    }

    pub(crate) fn set_ssl_configuration(&self, configuration: Rc<SslConfiguration>) {
        if let Some(state) = self.state() {
            *state.ssl_configuration.borrow_mut() = Some(configuration);
        }
    }

    pub(crate) fn set_attribute(&self, attribute: Attribute, value: impl Into<AttributeValue>) {
        if let Some(state) = self.state() {
            state
                .attributes
                .borrow_mut()
                .insert(attribute, value.into());
        }
    }

    /// Whether the application's buffer has room (the transport should keep reading).
    pub(crate) fn wants_data(&self) -> bool {
        match self.state() {
            Some(s) => {
                let limit = s.read_buffer_size.get();
                s.open.get() && (limit == 0 || s.buffered.get() < limit)
            }
            None => false,
        }
    }

    /// Room left in the read buffer (`usize::MAX` when unlimited).
    pub(crate) fn buffer_room(&self) -> usize {
        match self.state() {
            Some(s) => match s.read_buffer_size.get() {
                0 => usize::MAX,
                limit => limit.saturating_sub(s.buffered.get()),
            },
            None => 0,
        }
    }

    pub(crate) fn mark_has_upload(&self) {
        if let Some(s) = self.state() {
            s.has_upload.set(true);
        }
    }

    pub(crate) fn emit_socket_started_connecting(&self) {
        if let Some(s) = self.state() {
            s.signals.socket_started_connecting.emit(());
        }
    }

    pub(crate) fn emit_upload_progress(&self, sent: i64, total: i64) {
        if let Some(s) = self.state() {
            s.signals.upload_progress.emit((sent, total));
        }
        self.touch();
    }

    pub(crate) fn emit_request_sent(&self) {
        if let Some(s) = self.state() {
            s.signals.request_sent.emit(());
        }
        self.touch();
    }

    pub(crate) fn emit_encrypted(&self) {
        if let Some(s) = self.state() {
            self.tell_manager(&s, ReplyEvent::Encrypted);
            s.signals.encrypted.emit(());
        }
    }

    pub(crate) fn emit_ssl_errors(&self, errors: Vec<SslError>) {
        if let Some(s) = self.state() {
            self.tell_manager(&s, ReplyEvent::SslErrors(&errors));
            s.signals.ssl_errors.emit(errors);
        }
    }

    /// A response head arrived: status, reason and headers replace the previous ones.
    /// `total` is the body length if known; `location` the Location of a 3xx as sent (Qt's
    /// RedirectionTargetAttribute: a URL when absolute, the text as sent when relative).
    /// Emits `metaDataChanged`.
    pub(crate) fn deliver_head(
        &self,
        status: u16,
        reason: &str,
        headers: ResponseHeaders,
        total: Option<u64>,
        location: Option<String>,
    ) {
        let Some(s) = self.state() else {
            return;
        };
        {
            let mut attrs = s.attributes.borrow_mut();
            attrs.insert(
                Attribute::HttpStatusCode,
                AttributeValue::Int(status.into()),
            );
            attrs.insert(
                Attribute::HttpReasonPhrase,
                AttributeValue::Text(reason.to_owned()),
            );
            match location {
                Some(location) => attrs.insert(
                    Attribute::RedirectionTarget,
                    match Url::parse(&location) {
                        Ok(url) => AttributeValue::Url(url),
                        Err(_) => AttributeValue::Text(location),
                    },
                ),
                None => attrs.remove(&Attribute::RedirectionTarget),
            };
        }
        *s.headers.borrow_mut() = headers;
        s.total.set(total.map(|t| t as i64).unwrap_or(-1));
        s.received.set(0);
        s.progress_choke.set(None);
        self.touch();
        s.signals.meta_data_changed.emit(());
    }

    /// Announces a followed redirect (after `deliver_head` of the 3xx, whose Location as
    /// sent stays the RedirectionTargetAttribute, as in Qt).
    pub(crate) fn deliver_redirect(&self, target: Url) {
        let Some(s) = self.state() else {
            return;
        };
        *s.url.borrow_mut() = Some(target.clone());
        s.signals.redirected.emit(target);
    }

    /// Body data: buffered, `readyRead`, then `downloadProgress` if 100 ms have passed since
    /// the last one (the first chunk starts the clock, as in Qt).
    pub(crate) fn deliver_data(&self, data: Bytes) {
        let Some(s) = self.state() else {
            return;
        };
        if data.is_empty() || !s.open.get() || s.finished.get() {
            return;
        }
        s.received.set(s.received.get() + data.len() as i64);
        s.buffered.set(s.buffered.get() + data.len());
        s.buffer.borrow_mut().push_back(data);
        self.touch();
        s.signals.ready_read.emit(());
        let now = Instant::now();
        match s.progress_choke.get() {
            None => s.progress_choke.set(Some(now)),
            Some(last) if now.duration_since(last) >= PROGRESS_INTERVAL => {
                s.progress_choke.set(Some(now));
                s.signals
                    .download_progress
                    .emit((s.received.get(), s.total.get()));
            }
            Some(_) => {}
        }
    }

    /// Ends the reply with Qt's closing sequence. A second call does nothing.
    pub(crate) fn finish(&self, error: NetworkError, message: String) {
        let Some(s) = self.state() else {
            return;
        };
        if s.finished.replace(true) {
            return;
        }
        if let Some(timer) = s.timeout.borrow_mut().take() {
            timer.destroy();
        }
        s.backend.borrow_mut().take();
        if error != NetworkError::NoError {
            s.error.set(error);
            *s.error_string.borrow_mut() = message;
            s.signals.error_occurred.emit(error);
        }
        let received = s.received.get();
        let total = if s.total.get() < 0 {
            received
        } else {
            s.total.get()
        };
        s.signals.download_progress.emit((received, total));
        if s.has_upload.get() {
            s.signals.upload_progress.emit((0, 0));
        }
        self.tell_manager(&s, ReplyEvent::Finished);
        s.signals.finished.emit(());
    }

    /// Arms (or disables) the inactivity timeout: the reply fails with TimeoutError when no
    /// progress happens for `interval`.
    pub(crate) fn set_transfer_timeout(&self, interval: Option<Duration>) {
        let Some(s) = self.state() else {
            return;
        };
        s.timeout_interval.set(interval);
        if let Some(old) = s.timeout.borrow_mut().take() {
            old.destroy();
        }
        let Some(interval) = interval else {
            return;
        };
        let timer = Timer::with_parent(&self.obj);
        timer.set_single_shot(true);
        let me = *self;
        timer.timeout().connect(move |_| me.time_out());
        timer.start_interval(interval);
        *s.timeout.borrow_mut() = Some(timer);
    }

    fn time_out(&self) {
        let Some(s) = self.state() else {
            return;
        };
        if s.finished.get() {
            return;
        }
        let backend = s.backend.borrow_mut().take();
        if let Some(backend) = backend {
            backend.abort();
        }
        self.finish(NetworkError::TimeoutError, "Operation timed out".into());
    }

    fn tell_manager(&self, state: &ReplyState, event: ReplyEvent<'_>) {
        if let Some(manager) = state.manager {
            NetworkAccessManager::from_object(manager).reply_event(*self, event);
        }
    }

    /// Progress happened: push the inactivity timeout back.
    fn touch(&self) {
        if let Some(s) = self.state() {
            if let Some(timer) = *s.timeout.borrow() {
                timer.start();
            }
        }
    }
}
