//! One reply's journey through the HTTP engine: hops (redirects), retries and the decisions
//! taken on each response head. Connections carry jobs; jobs own the reply-facing logic.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::conn::Conn;
use super::pool::{Pool, PoolKey};
use super::redirect::{self, Redirect};
use crate::body::RequestBody;
use crate::decode::{accept_encoding_value, ContentDecoder};
use crate::error::{http_status_error_string, NetworkError};
use crate::h1::{BodyLength, RequestHead, TargetForm};
use crate::manager::NetworkAccessManager;
use crate::reply::{NetworkReply, Operation, ReplyBackend};
use crate::request::{Attribute, NetworkRequest, RedirectPolicy};

/// What carries a job's current hop: an HTTP/1.1 connection, or an HTTP/2 stream
/// (`crate::h2`).
pub(crate) trait Carrier {
    /// The application aborted the job: stop the exchange.
    fn job_cancelled(&self);
    /// The reply's read buffer has room again.
    fn resume(&self);
}

impl Carrier for Conn {
    fn job_cancelled(&self) {
        Conn::job_cancelled(self)
    }
    fn resume(&self) {
        Conn::resume(self)
    }
}

/// Largest piece of decoded body handed to the reply at once.
const DECODE_PIECE: usize = 64 * 1024;

/// What the connection should do with the body that follows a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyAction {
    /// Hand it to the reply.
    Deliver,
    /// Read and drop it (a redirect being followed); the connection stays usable.
    Discard,
    /// The job is over (refused redirect): close the connection, ignore the rest.
    Stop,
}

/// The next hop, decided on a redirect head and taken at the end of its body.
struct NextHop {
    url: Url,
    method: String,
    keep_body: bool,
    /// UserVerifiedRedirectPolicy: taken only once the application allowed it.
    needs_permission: bool,
}

pub(crate) struct Job {
    me: Weak<Job>,
    pub(crate) reply: NetworkReply,
    pool: Weak<Pool>,
    operation: Operation,
    method: RefCell<String>,
    request: RefCell<NetworkRequest>,
    body: RefCell<RequestBody>,
    /// A replayable copy of the body for resends (retry, 307/308); `None` for a reader.
    replay: RefCell<Option<RequestBody>>,
    policy: RedirectPolicy,
    redirects: Cell<u32>,
    retried: Cell<bool>,
    done: Cell<bool>,
    conn: RefCell<Weak<dyn Carrier>>,
    next_hop: RefCell<Option<NextHop>>,
    /// A hop that ended and waits for `redirect_allowed()`.
    parked: Cell<bool>,
    allowed: Cell<bool>,
    /// The error an HTTP status maps to, reported when the body has been delivered.
    status_error: RefCell<Option<(NetworkError, String)>>,
    /// slotnet added Accept-Encoding itself, so it decodes the body (Qt does the same; a
    /// request that sets Accept-Encoding gets the raw body).
    auto_decode: Cell<bool>,
    pool_key: RefCell<Option<PoolKey>>,
    /// `ignore_ssl_errors()` was called on the reply.
    ssl_ignored: Cell<bool>,
    /// The decoder for the current response's Content-Encoding.
    decoder: RefCell<Option<ContentDecoder>>,
}

impl Job {
    pub(crate) fn new(
        manager: &NetworkAccessManager,
        pool: &Rc<Pool>,
        reply: NetworkReply,
        operation: Operation,
        verb: &str,
        request: NetworkRequest,
        body: RequestBody,
    ) -> Rc<Job> {
        let policy = request
            .redirect_policy()
            .unwrap_or_else(|| manager.redirect_policy());
        let replay = body.replay();
        let job = Rc::new_cyclic(|me| Job {
            me: me.clone(),
            reply,
            pool: Rc::downgrade(pool),
            operation,
            method: RefCell::new(verb.to_owned()),
            request: RefCell::new(request),
            body: RefCell::new(body),
            replay: RefCell::new(replay),
            policy,
            redirects: Cell::new(0),
            retried: Cell::new(false),
            done: Cell::new(false),
            conn: RefCell::new(Weak::<Conn>::new()),
            next_hop: RefCell::new(None),
            parked: Cell::new(false),
            allowed: Cell::new(false),
            status_error: RefCell::new(None),
            auto_decode: Cell::new(false),
            pool_key: RefCell::new(None),
            ssl_ignored: Cell::new(false),
            decoder: RefCell::new(None),
        });
        reply.set_backend(Some(job.clone()));
        // A reply deleted while running aborts its transfer, as in Qt.
        let weak = Rc::downgrade(&job);
        slotnet_core::AsObject::as_object(&reply)
            .destroyed()
            .connect(move |_| {
                if let Some(job) = weak.upgrade() {
                    job.cancel();
                }
            });
        job
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.get() || self.reply.is_finished()
    }

    /// The pool key of the current hop (computed once per hop: it allocates).
    pub(crate) fn key(&self) -> Option<PoolKey> {
        let mut cached = self.pool_key.borrow_mut();
        if cached.is_none() {
            *cached = self.request.borrow().url().and_then(PoolKey::from_url);
        }
        cached.clone()
    }

    /// Whether the application ignored the certificate errors reported so far.
    pub(crate) fn ssl_errors_ignored(&self) -> bool {
        self.ssl_ignored.get()
    }

    /// The TLS configuration for a new connection of this job (https only). ALPN offers h2
    /// unless the request forbids HTTP/2 (Qt 6's default allows it).
    pub(crate) fn tls_config(&self) -> Option<slotnet_net::ssl::SslConfiguration> {
        let request = self.request.borrow();
        if request.url()?.scheme() != "https" {
            return None;
        }
        let mut config = request.ssl_configuration();
        if let Some(name) = request.peer_verify_name() {
            config.set_peer_verify_name(name);
        }
        let mut alpn: Vec<Vec<u8>> = Vec::new();
        if self.http2_allowed() {
            alpn.push(b"h2".to_vec());
        }
        alpn.push(b"http/1.1".to_vec());
        config.set_allowed_next_protocols(alpn);
        Some(config)
    }

    /// Whether HTTP/2 may be used (Http2AllowedAttribute, true by default as in Qt 6).
    pub(crate) fn http2_allowed(&self) -> bool {
        self.request
            .borrow()
            .bool_attribute(Attribute::Http2Allowed, true)
    }

    pub(crate) fn priority(&self) -> crate::request::Priority {
        self.request.borrow().priority()
    }

    pub(crate) fn url(&self) -> Option<Url> {
        self.request.borrow().url().cloned()
    }

    pub(crate) fn method(&self) -> Method {
        Method::from_bytes(self.method.borrow().as_bytes()).unwrap_or(Method::GET)
    }

    pub(crate) fn attach(&self, conn: &Rc<Conn>) {
        let conn: Weak<Conn> = Rc::downgrade(conn);
        *self.conn.borrow_mut() = conn;
    }

    /// Attaches the hop to another carrier (an HTTP/2 stream).
    pub(crate) fn attach_carrier(&self, carrier: Weak<dyn Carrier>) {
        *self.conn.borrow_mut() = carrier;
    }

    pub(crate) fn detach(&self) {
        *self.conn.borrow_mut() = Weak::<Conn>::new();
    }

    /// Whether the request asks for HTTP/2 with prior knowledge (`Http2DirectAttribute`).
    pub(crate) fn wants_http2_direct(&self) -> bool {
        self.request
            .borrow()
            .bool_attribute(Attribute::Http2Direct, false)
    }

    /// Whether a failed attempt may be sent again on a new connection.
    pub(crate) fn can_retry(&self) -> bool {
        !self.retried.get() && self.replay.borrow().is_some()
    }

    pub(crate) fn mark_retried(&self) {
        self.retried.set(true);
        if let Some(body) = self.replay.borrow().as_ref().and_then(RequestBody::replay) {
            *self.body.borrow_mut() = body;
        }
    }

    /// Builds the request head for the current hop, with the headers Qt adds by default.
    pub(crate) fn build_head(&self) -> Option<(RequestHead, BodyLength)> {
        let request = self.request.borrow();
        let url = request.url()?;
        let mut head = RequestHead::from_url(self.method(), url, TargetForm::Origin);
        let headers: &mut HeaderMap = &mut head.headers;
        for (name, value) in request.raw_header_pairs() {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                continue; // a header that cannot go on the wire safely is dropped
            };
            headers.append(name, value);
        }
        let auto_decode = !headers.contains_key("accept-encoding");
        self.auto_decode.set(auto_decode);
        if auto_decode {
            headers.insert(
                "accept-encoding",
                HeaderValue::from_static(accept_encoding_value()),
            );
        }
        let defaults: [(&str, &str); 3] = [
            ("connection", "Keep-Alive"),
            ("accept-language", "en,*"),
            ("user-agent", "Mozilla/5.0"),
        ];
        for (name, value) in defaults {
            if !headers.contains_key(name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        let body = self.body.borrow();
        let length = match body.size() {
            Some(0) if body.is_empty() => BodyLength::Empty,
            Some(n) => BodyLength::Known(n),
            None => BodyLength::Unknown,
        };
        if length != BodyLength::Empty
            && !headers.contains_key("content-type")
            && matches!(
                self.operation,
                Operation::PostOperation | Operation::PutOperation
            )
        {
            // Qt warns and defaults to this for POST/PUT without a Content-Type.
            headers.insert(
                "content-type",
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        Some((head, length))
    }

    /// Takes the next piece of the body to send (at most `max` bytes).
    pub(crate) fn next_body_piece(&self, max: usize) -> std::io::Result<Option<Bytes>> {
        self.body.borrow_mut().next_piece(max)
    }

    pub(crate) fn body_size(&self) -> Option<u64> {
        self.body.borrow().size()
    }

    /// A response head arrived for the current hop.
    pub(crate) fn on_head(
        &self,
        status: u16,
        reason: &str,
        headers: Vec<(String, String)>,
        content_length: Option<u64>,
    ) -> BodyAction {
        if self.is_done() {
            return BodyAction::Stop;
        }
        let url = self.url();
        let location = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone());
        let max = self.request.borrow().maximum_redirects_allowed();
        let decision = match &url {
            Some(url) => redirect::decide(
                status,
                location.as_deref(),
                url,
                &self.method.borrow(),
                self.policy,
                self.redirects.get(),
                max,
            ),
            None => Redirect::No,
        };
        if url.as_ref().is_some_and(|u| u.scheme() == "https") {
            self.reply
                .set_attribute(crate::request::Attribute::ConnectionEncrypted, true);
        }
        let redirect_target = match (&url, &location) {
            (Some(url), Some(location)) if redirect::is_redirect_status(status) => {
                url.join(location).ok()
            }
            _ => None,
        };
        let content_length = self.prepare_decoder(&headers, content_length);
        self.reply
            .deliver_head(status, reason, headers, content_length, redirect_target);
        match decision {
            Redirect::No => {
                let error = NetworkError::from_http_status(status);
                if error != NetworkError::NoError {
                    let shown = url.map(|u| u.to_string()).unwrap_or_default();
                    *self.status_error.borrow_mut() =
                        Some((error, http_status_error_string(&shown, reason)));
                }
                BodyAction::Deliver
            }
            Redirect::Follow {
                url,
                method,
                keep_body,
            } => {
                *self.next_hop.borrow_mut() = Some(NextHop {
                    url: url.clone(),
                    method,
                    keep_body,
                    needs_permission: false,
                });
                self.reply.deliver_redirect(url);
                BodyAction::Discard
            }
            Redirect::Ask {
                url,
                method,
                keep_body,
            } => {
                self.allowed.set(false);
                *self.next_hop.borrow_mut() = Some(NextHop {
                    url: url.clone(),
                    method,
                    keep_body,
                    needs_permission: true,
                });
                self.reply.deliver_redirect(url);
                BodyAction::Discard
            }
            Redirect::Refuse {
                error,
                message,
                url,
            } => {
                if let Some(url) = url {
                    self.reply.set_url(url);
                }
                self.fail(error, message);
                BodyAction::Stop
            }
        }
    }

    /// Sets up decoding of the response's Content-Encoding; returns the length to report as
    /// the download total (unknown while decoding: Qt counts decoded bytes).
    fn prepare_decoder(
        &self,
        headers: &[(String, String)],
        content_length: Option<u64>,
    ) -> Option<u64> {
        *self.decoder.borrow_mut() = None;
        if !self.auto_decode.get() || self.method() == Method::HEAD {
            return content_length;
        }
        let encoding = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(",");
        // An unsupported coding (never advertised) is passed through undecoded.
        match ContentDecoder::new(&encoding) {
            Ok(Some(decoder)) => {
                let threshold = self.request.borrow().decompressed_safety_check_threshold();
                *self.decoder.borrow_mut() =
                    Some(decoder.with_decompressed_safety_check_threshold(threshold));
                if let Some(n) = content_length {
                    self.reply
                        .set_attribute(crate::request::Attribute::OriginalContentLength, n as i64);
                }
                None
            }
            _ => content_length,
        }
    }

    /// Body data of the current response. Returns false if the job failed on it (a corrupt
    /// or suspicious compressed body): the connection must then be dropped.
    pub(crate) fn on_data(&self, data: Bytes) -> bool {
        if self.is_done() {
            return false;
        }
        let mut guard = self.decoder.borrow_mut();
        let Some(decoder) = guard.as_mut() else {
            drop(guard);
            self.reply.deliver_data(data);
            return !self.is_done();
        };
        let mut pieces = Vec::new();
        let mut input = &data[..];
        let result = loop {
            let mut out = Vec::new();
            match decoder.decode(input, &mut out, DECODE_PIECE) {
                Ok(progress) => {
                    input = &input[progress.consumed..];
                    let produced = progress.produced;
                    if !out.is_empty() {
                        pieces.push(Bytes::from(out));
                    }
                    if input.is_empty() && produced < DECODE_PIECE {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        drop(guard);
        for piece in pieces {
            self.reply.deliver_data(piece);
        }
        if let Err(e) = result {
            self.fail(
                NetworkError::UnknownContentError,
                format!("Error decoding the response body: {e}"),
            );
            return false;
        }
        !self.is_done()
    }

    /// The current hop's response is complete (the connection was already released).
    pub(crate) fn on_end(&self) {
        if self.is_done() {
            return;
        }
        let hop = self.next_hop.borrow().as_ref().map(|h| h.needs_permission);
        match hop {
            Some(true) if !self.allowed.get() => self.parked.set(true),
            Some(_) => self.take_next_hop(),
            None => {
                let decoded = self.decoder.borrow_mut().take().map(|d| d.finish());
                if let Some(Err(e)) = decoded {
                    self.fail(
                        NetworkError::UnknownContentError,
                        format!("Error decoding the response body: {e}"),
                    );
                    return;
                }
                let (error, message) = self
                    .status_error
                    .borrow_mut()
                    .take()
                    .unwrap_or((NetworkError::NoError, String::new()));
                self.finish(error, message);
            }
        }
    }

    fn take_next_hop(&self) {
        let Some(hop) = self.next_hop.borrow_mut().take() else {
            return;
        };
        self.parked.set(false);
        self.redirects.set(self.redirects.get() + 1);
        *self.method.borrow_mut() = hop.method;
        let body = if hop.keep_body {
            self.replay.borrow().as_ref().and_then(RequestBody::replay)
        } else {
            None
        };
        match body {
            Some(b) => *self.body.borrow_mut() = b,
            None if hop.keep_body && self.replay.borrow().is_none() => {
                self.fail(
                    NetworkError::ContentReSendError,
                    "Need to resend, but the body cannot be read again".into(),
                );
                return;
            }
            None => {
                *self.body.borrow_mut() = RequestBody::Empty;
                *self.replay.borrow_mut() = Some(RequestBody::Empty);
                self.request.borrow_mut().remove_header("content-type");
                self.request.borrow_mut().remove_header("content-length");
            }
        }
        self.request.borrow_mut().set_url(hop.url.clone());
        *self.pool_key.borrow_mut() = None;
        let url = hop.url;
        self.reply.update_request(|r| r.set_url(url));
        if let (Some(pool), Some(me)) = (self.pool.upgrade(), self.me.upgrade()) {
            pool.enqueue(me);
        }
    }

    /// Ends the reply with `error` (no more I/O for this job).
    pub(crate) fn fail(&self, error: NetworkError, message: String) {
        self.finish(error, message);
    }

    fn finish(&self, error: NetworkError, message: String) {
        if self.done.replace(true) {
            return;
        }
        self.detach();
        self.reply.finish(error, message);
    }

    /// The application aborted (or deleted) the reply: drop the connection it was using.
    fn cancel(&self) {
        if self.done.replace(true) {
            return;
        }
        let conn = self.conn.borrow().upgrade();
        self.detach();
        if let Some(conn) = conn {
            conn.job_cancelled();
        }
        if let (Some(pool), Some(key)) = (self.pool.upgrade(), self.key()) {
            pool.schedule_dispatch(key);
        }
    }
}

impl ReplyBackend for Job {
    fn abort(&self) {
        self.cancel();
    }

    fn ignore_ssl_errors(&self) {
        self.ssl_ignored.set(true);
    }

    fn resume_reading(&self) {
        let conn = self.conn.borrow().upgrade();
        if let Some(conn) = conn {
            conn.resume();
        }
    }

    fn redirect_allowed(&self) {
        self.allowed.set(true);
        if self.parked.get() {
            self.take_next_hop();
        }
    }
}
