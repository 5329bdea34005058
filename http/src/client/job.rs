//! One reply's journey through the HTTP engine: hops (redirects), retries and the decisions
//! taken on each response head. Connections carry jobs; jobs own the reply-facing logic.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::{Rc, Weak};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use slotnet_net::proxy::NetworkProxy;
use slotnet_net::ssl::{SslConfiguration, SslError};
use url::Url;

use super::auth::{url_credentials, SpaceAuth, Step};
use super::cache::{self as cache_glue, Lookup};
use super::exchange::{
    no_carrier, BodyDecision, Carrier, Exchange, Protocol, ResponseStart, REFUSED_CERTIFICATE,
};
use super::key::{PoolKey, TlsKey};
use super::pool::Pool;
use super::redirect::{self, Redirect};
use super::route::{self, Route};
use crate::auth::{AuthTarget, Authenticator};
use crate::body::RequestBody;
use crate::cache::{CacheWriter, NetworkCacheMetaData};
use crate::connection_tls::ConnectionTls;
use crate::decode::{accept_encoding_value, ContentDecoder, DecodeError};
use crate::error::{http_status_error_string, NetworkError};
use crate::h1::{BodyLength, RequestHead, TargetForm};
use crate::h2::Http2Configuration;
use crate::manager::{ManagerState, NetworkAccessManager};
use crate::reply::{NetworkReply, Operation, ReplyBackend};
use crate::request::{Attribute, LoadControl, NetworkRequest, Priority, RedirectPolicy};
use crate::response_headers::ResponseHeaders;

/// Largest piece of decoded body handed to the reply at once.
const DECODE_PIECE: usize = 64 * 1024;
/// At most this many challenges are answered for one reply.
const MAX_AUTH_ROUNDS: u32 = 16;

/// What follows the current response, decided on its head and done at the end of its
/// body (which is read and dropped meanwhile).
enum Next {
    /// Follow a redirect.
    Redirect {
        url: Url,
        method: String,
        keep_body: bool,
        /// UserVerifiedRedirectPolicy: taken only once the application allowed it.
        needs_permission: bool,
    },
    /// Send the same request again with credentials (after a 401 or 407).
    Resend,
    /// The server confirmed the cached entry (304): serve it.
    FromCache(NetworkCacheMetaData),
}

/// Which side asked for credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Server,
    Proxy,
}

/// Where a job is in its journey. Every hop goes Queued → OnTheWire, then on to Done, or
/// through Draining to the next hop (Queued again), to Parked, or to FromCache.
enum Phase {
    /// Waiting for a connection: in a pool's queue, or on its way there.
    Queued,
    /// A connection or HTTP/2 stream carries the hop: the request goes out, and the
    /// response's body, once its head arrived, is delivered to the reply.
    OnTheWire,
    /// The head decided what follows (a redirect, a resend with credentials, a 304 served
    /// from the cache): the body is read and dropped, `Next` is taken at its end.
    Draining(Next),
    /// A redirect whose hop ended waits for `redirect_allowed()`.
    Parked(Next),
    /// A cached entry's body is being served, piece by piece as the reply has room.
    FromCache(Box<dyn Read + Send>),
    /// Finished, failed or aborted: nothing more is reported.
    Done,
}

/// Everything about a job that changes, in one place: borrowed for a few instructions at a
/// time, never while the reply emits a signal or a connection is called.
struct State {
    phase: Phase,
    /// What carries the current hop (none between hops).
    carrier: Weak<dyn Carrier>,
    // The request of the current hop.
    method: String,
    request: NetworkRequest,
    body: RequestBody,
    /// A replayable copy of the body for resends (retry, 307/308); `None` for a reader.
    replay: Option<RequestBody>,
    pool_key: Option<PoolKey>,
    /// Why the current hop has no route (no usable proxy).
    route_error: Option<(NetworkError, String)>,
    /// The cached entry the current attempt revalidates (a 304 serves it).
    revalidating: Option<NetworkCacheMetaData>,
    /// slotnet added Accept-Encoding itself, so it decodes the body (Qt does the same; a
    /// request that sets Accept-Encoding gets the raw body).
    auto_decode: bool,
    // Across hops.
    redirects: u32,
    retried: bool,
    /// Authentication towards the server and towards a forward proxy.
    server_auth: SpaceAuth,
    proxy_auth: SpaceAuth,
    /// Challenges answered so far.
    auth_rounds: u32,
    /// The reply's answers about certificate errors.
    ssl: SslConsent,
    // The response being received.
    /// The error an HTTP status maps to, reported when the body has been delivered.
    status_error: Option<(NetworkError, String)>,
    /// The decoder for the current response's Content-Encoding.
    decoder: Option<ContentDecoder>,
    /// Why the current response's Content-Encoding cannot be decoded (an unknown coding, or
    /// too many stacked): the reply fails at the first body byte instead of handing the
    /// still-encoded bytes to the application as content.
    undecodable: Option<DecodeError>,
    /// The cache entry being written from the current response.
    cache_writer: Option<CacheWriter>,
}

impl State {
    /// The authentication towards `side`.
    fn auth(&mut self, side: Side) -> &mut SpaceAuth {
        match side {
            Side::Server => &mut self.server_auth,
            Side::Proxy => &mut self.proxy_auth,
        }
    }
}

/// What the reply said about certificate errors.
#[derive(Default)]
struct SslConsent {
    /// `ignore_ssl_errors()` was called on the reply outside an `sslErrors` slot: every
    /// certificate error of every connection is accepted in advance.
    ignore_all: bool,
    /// `ignore_ssl_errors()` was called from the `sslErrors` slot being run: it accepts the
    /// errors of that connection only.
    ignored_now: bool,
    /// The reply is being shown `sslErrors`.
    asking: bool,
    /// The connection (`connection_tls::next_connection_id`) whose certificate errors the
    /// reply accepted last (0: none): it is not asked again while it rides that one.
    consented: u64,
    /// The certificate errors `ignore_ssl_errors_list()` accepts in advance.
    expected: Vec<SslError>,
}

/// What `on_end` does, decided under the state's borrow and done without it.
// Lives on the stack for one call: boxing the `Next` would cost an allocation per redirect.
#[allow(clippy::large_enum_variant)]
enum AtEnd {
    /// Nothing (done already, or parked until `redirect_allowed()`).
    Nothing,
    /// Take the next hop.
    Next(Next),
    /// Deliver the end of the response.
    Finish,
}

pub(crate) struct Job {
    me: Weak<Job>,
    reply: NetworkReply,
    pool: Weak<Pool>,
    /// The manager's state (credentials, cookies, HSTS, cache, proxies).
    manager: Weak<ManagerState>,
    operation: Operation,
    policy: RedirectPolicy,
    state: RefCell<State>,
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
        let state = manager.state();
        let job = Rc::new_cyclic(|me| Job {
            me: me.clone(),
            reply,
            pool: Rc::downgrade(pool),
            manager: state.as_ref().map(Rc::downgrade).unwrap_or_default(),
            operation,
            policy,
            state: RefCell::new(State {
                phase: Phase::Queued,
                carrier: no_carrier(),
                method: verb.to_owned(),
                request,
                body,
                replay,
                pool_key: None,
                route_error: None,
                revalidating: None,
                auto_decode: false,
                redirects: 0,
                retried: false,
                server_auth: SpaceAuth::default(),
                proxy_auth: SpaceAuth::default(),
                auth_rounds: 0,
                ssl: SslConsent::default(),
                status_error: None,
                decoder: None,
                undecodable: None,
                cache_writer: None,
            }),
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

    fn manager_state(&self) -> Option<Rc<ManagerState>> {
        self.manager.upgrade()
    }

    /// The route of the current hop (cloning `Route::Direct` allocates nothing).
    fn route(&self) -> Route {
        if self.state.borrow().pool_key.is_none() {
            self.key();
        }
        self.state
            .borrow()
            .pool_key
            .as_ref()
            .map(|k| k.route.clone())
            .unwrap_or_default()
    }

    /// Starts the current hop: consults the cache, then queues the job for a connection.
    /// Called for the first hop (inside `create_request`: failures are reported on a later
    /// iteration) and for each redirect.
    pub(crate) fn begin_hop(&self, first: bool) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        if self.key().is_none() {
            let route_error = self.state.borrow_mut().route_error.take();
            let (error, message) = route_error
                .unwrap_or((NetworkError::ProtocolUnknownError, "Invalid URL".to_owned()));
            self.fail_soon(first, error, message);
            return;
        }
        self.state.borrow_mut().revalidating = None;
        let cache = self.manager_state().and_then(|s| s.features.cache());
        if let (Some(cache), true) = (cache, self.method() == Method::GET) {
            let lookup = {
                // A copy (copy-on-write, cheap): the application's cache runs meanwhile.
                let request = self.state.borrow().request.clone();
                match request.url() {
                    Some(url) => cache_glue::lookup(&cache, &request, url),
                    None => Lookup::Network,
                }
            };
            match lookup {
                Lookup::Network => {}
                Lookup::Revalidate(meta) => self.state.borrow_mut().revalidating = Some(meta),
                Lookup::Serve(meta) => {
                    // From the loop, as a network reply would: the application connects its
                    // slots after `get()` returns.
                    let job = me.clone();
                    slotnet_core::AsObject::as_object(&self.reply)
                        .invoke_later(move || job.serve_from_cache(meta));
                    return;
                }
                Lookup::NotFound => {
                    self.fail_soon(
                        first,
                        NetworkError::ContentNotFoundError,
                        "The content was not found in the cache".into(),
                    );
                    return;
                }
            }
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.enqueue(me);
        }
    }

    /// Fails now, or on the next iteration when still inside `create_request`.
    fn fail_soon(&self, later: bool, error: NetworkError, message: String) {
        match (later, self.me.upgrade()) {
            (true, Some(me)) => slotnet_core::AsObject::as_object(&self.reply)
                .invoke_later(move || me.fail(error, message)),
            _ => self.fail(error, message),
        }
    }

    /// Whether certificate errors may be ignored for the current host (never for a known
    /// HSTS host, RFC 6797 section 8.4).
    fn may_ignore_ssl_errors(&self) -> bool {
        let host = self.key().map(|k| k.host.clone());
        match (self.manager_state(), host) {
            (Some(state), Some(host)) => !state.features.is_hsts_host(&host),
            _ => true,
        }
    }

    /// Whether the application accepted `errors` before they were reported, so that the
    /// handshake goes on without `sslErrors` (Qt's socket emits nothing for errors it was
    /// told to ignore): it called `ignore_ssl_errors()` beforehand, or every one of them is
    /// in its `ignore_ssl_errors_list()`; never for a known HSTS host.
    fn accepts_ssl_errors_in_advance(&self, errors: &[SslError]) -> bool {
        let accepted = {
            let ssl = &self.state.borrow().ssl;
            ssl.ignore_all
                || (!ssl.expected.is_empty() && errors.iter().all(|e| ssl.expected.contains(e)))
        };
        accepted && self.may_ignore_ssl_errors()
    }

    /// The TLS session of the connection carrying the current hop, if any.
    fn carrier_tls(&self) -> Option<Rc<ConnectionTls>> {
        let carrier = self.state.borrow().carrier.upgrade()?;
        carrier.tls()
    }

    /// Whether HTTP/2 may be used (Http2AllowedAttribute, true by default as in Qt 6).
    pub(crate) fn http2_allowed(&self) -> bool {
        self.state
            .borrow()
            .request
            .bool_attribute(Attribute::Http2Allowed, true)
    }

    pub(crate) fn method(&self) -> Method {
        Method::from_bytes(self.state.borrow().method.as_bytes()).unwrap_or(Method::GET)
    }

    /// Cookies, credentials, proxy headers and cache validators for the current attempt.
    fn add_feature_headers(
        &self,
        state: &ManagerState,
        request: &NetworkRequest,
        url: &Url,
        route: &Route,
        head: &mut RequestHead,
    ) {
        let features = &state.features;
        let RequestHead {
            method,
            target,
            headers,
            ..
        } = head;
        let (method, target) = (method.as_str(), target.as_str());
        if request.load_control(Attribute::CookieLoadControl) == LoadControl::Automatic {
            if let Some(jar) = features.cookie_header(url) {
                // Cookies the application set itself come first; Qt would replace them.
                let value = match headers.get(http::header::COOKIE) {
                    Some(own) => format!("{}; {jar}", String::from_utf8_lossy(own.as_bytes())),
                    None => jar,
                };
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(http::header::COOKIE, value);
                }
            }
        }
        let reuse = request.load_control(Attribute::AuthenticationReuse) == LoadControl::Automatic;
        if !headers.contains_key(http::header::AUTHORIZATION) {
            let value = self.state.borrow_mut().server_auth.authorization(
                method,
                target,
                url.path(),
                || AuthTarget::server(url),
                &features.credentials.borrow(),
                reuse,
            );
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                headers.insert(http::header::AUTHORIZATION, v);
            }
        }
        if let Route::Forward(proxy) = route {
            for (name, value) in proxy.raw_headers() {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    headers.insert(n, v);
                }
            }
            if !headers.contains_key(http::header::PROXY_AUTHORIZATION) {
                let value = self.state.borrow_mut().proxy_auth.authorization(
                    method,
                    target,
                    "/",
                    || Some(AuthTarget::proxy(proxy.host_name(), proxy.port())),
                    &features.credentials.borrow(),
                    reuse,
                );
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(http::header::PROXY_AUTHORIZATION, v);
                }
            }
        }
        if let Some(meta) = &self.state.borrow().revalidating {
            for (name, value) in crate::cache::freshness::validators(meta).iter() {
                if !headers.contains_key(name) {
                    headers.insert(name.clone(), value.clone());
                }
            }
        }
        // Qt's AlwaysNetwork: intermediate caches must revalidate too.
        if request.cache_load_control() == crate::CacheLoadControl::AlwaysNetwork
            && matches!(method, "GET" | "HEAD")
            && !headers.contains_key(http::header::CACHE_CONTROL)
        {
            let no_cache = HeaderValue::from_static("no-cache");
            headers.insert(http::header::CACHE_CONTROL, no_cache.clone());
            headers.insert(http::header::PRAGMA, no_cache);
        }
    }

    /// What every response teaches the manager, whatever follows: cookies (Qt stores those
    /// of redirects and 401s too), HSTS policies, and whether credentials worked.
    fn learn_from_head(
        &self,
        state: &ManagerState,
        status: u16,
        url: &Url,
        headers: &ResponseHeaders,
    ) {
        let features = &state.features;
        let save_cookies = self
            .state
            .borrow()
            .request
            .load_control(Attribute::CookieSaveControl)
            == LoadControl::Automatic;
        if save_cookies && headers.get("set-cookie").is_some() {
            features.store_cookies(url, headers.get_all("set-cookie"));
        }
        // Only over TLS without ignored certificate errors (RFC 6797 8.1), first value only.
        // The connection knows: its errors may have been ignored for another request.
        let errors_ignored = || {
            self.state.borrow().ssl.ignore_all
                || self.carrier_tls().is_some_and(|t| t.errors_ignored())
        };
        if url.scheme() == "https" && features.hsts_enabled.get() && !errors_ignored() {
            let sts = headers.get("strict-transport-security");
            if let (Some(value), Some(host)) = (sts, url.host_str()) {
                features.hsts_header(host, value);
            }
        }
        if status != 401 {
            self.state
                .borrow_mut()
                .server_auth
                .succeeded(&mut features.credentials.borrow_mut(), url.path());
        }
        if status != 407 {
            self.state
                .borrow_mut()
                .proxy_auth
                .succeeded(&mut features.credentials.borrow_mut(), "/");
        }
        // SourceIsFromCache stays unset on a network reply, as in Qt (only replies served
        // from the cache, 304 revalidations included, set it to true).
    }

    /// A 401 (or a 407 from a forward proxy) with a challenge: find credentials and send the
    /// request again without showing the response (Qt emits no `metaDataChanged` for it),
    /// or give up and deliver it. `None` when the response is not a challenge to answer.
    fn answer_challenge(
        &self,
        state: &ManagerState,
        status: u16,
        url: &Url,
        headers: &ResponseHeaders,
    ) -> Option<BodyDecision> {
        if status != 401 && status != 407 {
            return None;
        }
        let route = self.route();
        let (side, field) = match (status, &route) {
            (401, _) => (Side::Server, "www-authenticate"),
            (407, Route::Forward(_)) => (Side::Proxy, "proxy-authenticate"),
            _ => return None,
        };
        let own_header = match side {
            Side::Server => "authorization",
            Side::Proxy => "proxy-authorization",
        };
        if self.state.borrow().request.has_raw_header(own_header) {
            // The application answers challenges itself: its 401/407 is the response.
            return None;
        }
        let values: Vec<&str> = headers.get_all(field).collect();
        if values.is_empty() {
            return None;
        }
        log::debug!(target: crate::log_target::AUTHENTICATOR, "{status} from {}: {field}: {}", crate::log_target::Shown(url), values.join(", "));
        let rounds = self.state.borrow().auth_rounds + 1;
        if rounds > MAX_AUTH_ROUNDS {
            return None; // a server (or slot) going round in circles
        }
        self.state.borrow_mut().auth_rounds = rounds;
        let reuse = self
            .state
            .borrow()
            .request
            .load_control(Attribute::AuthenticationReuse)
            == LoadControl::Automatic;
        let features = &state.features;
        let (side, target, own) = match (side, route.proxy()) {
            (Side::Proxy, Some(proxy)) => (
                Side::Proxy,
                AuthTarget::proxy(proxy.host_name(), proxy.port()),
                (!proxy.user().is_empty())
                    .then(|| Authenticator::with_credentials(proxy.user(), proxy.password())),
            ),
            _ => (Side::Server, AuthTarget::server(url)?, url_credentials(url)),
        };
        let step = self.state.borrow_mut().auth(side).challenged(
            &values,
            target,
            own,
            &mut features.credentials.borrow_mut(),
            reuse,
        );
        let step = match step {
            Step::Ask(ask) => {
                let handle = Rc::new(RefCell::new(ask));
                match (side, route.proxy()) {
                    (Side::Proxy, Some(proxy)) => features
                        .proxy_authentication_required
                        .emit((proxy.clone(), handle.clone())),
                    _ => state
                        .authentication_required
                        .emit((self.reply, handle.clone())),
                }
                if self.is_done() {
                    return Some(BodyDecision::Stop); // the slot aborted the reply
                }
                let answer = handle.borrow().clone();
                self.state.borrow_mut().auth(side).answered(&answer)
            }
            other => other,
        };
        log::debug!(target: crate::log_target::AUTHENTICATOR, "{}", if matches!(step, Step::Resend) { "Sending the request again with credentials" } else { "No (new) credentials: the challenge is the response" });
        match step {
            Step::Resend => Some(self.drain_to(Next::Resend)),
            _ => None,
        }
    }

    /// A 304 answering a revalidation: the cached entry, refreshed, is the response.
    fn not_modified(
        &self,
        state: &ManagerState,
        status: u16,
        headers: &ResponseHeaders,
    ) -> Option<BodyDecision> {
        let meta = self.state.borrow_mut().revalidating.take()?;
        log::debug!(target: crate::log_target::CACHE, "Revalidation answered {status}: {}", if status == 304 { "the cached entry is the response" } else { "a new response" });
        if status != 304 {
            return None;
        }
        let cache = state.features.cache()?;
        let received = cache_glue::header_map(headers.iter());
        let merged = meta.merged_with_not_modified(&received, SystemTime::now());
        cache.borrow_mut().update_meta_data(&merged);
        Some(self.drain_to(Next::FromCache(merged)))
    }

    /// Starts writing the response into the cache when it may be stored; a successful
    /// unsafe method (POST, PUT, DELETE) invalidates the URL's entry instead (RFC 9111 4.4).
    fn start_cache_entry(
        &self,
        state: &ManagerState,
        url: &Url,
        status: u16,
        reason: &str,
        headers: &ResponseHeaders,
    ) {
        self.state.borrow_mut().cache_writer = None;
        let Some(cache) = state.features.cache() else {
            return;
        };
        let method = self.method();
        if method != Method::GET {
            if method != Method::HEAD && status < 400 {
                cache.borrow_mut().remove(url);
            }
            return;
        }
        let (decoded, request) = {
            let state = self.state.borrow();
            (state.decoder.is_some(), state.request.clone())
        };
        let writer = cache_glue::start_entry(
            &cache, &request, &method, url, status, reason, headers, decoded,
        );
        self.state.borrow_mut().cache_writer = writer;
    }

    /// Sets up decoding of the response's Content-Encoding; returns the length to report as
    /// the download total (unknown while decoding: Qt counts decoded bytes).
    fn prepare_decoder(
        &self,
        headers: &ResponseHeaders,
        content_length: Option<u64>,
    ) -> Option<u64> {
        self.state.borrow_mut().decoder = None;
        self.state.borrow_mut().undecodable = None;
        if !self.state.borrow().auto_decode || self.method() == Method::HEAD {
            return content_length;
        }
        let encoding = headers.joined("content-encoding").unwrap_or_default();
        // A coding slotnet never advertised, or more than it stacks, fails the reply once a
        // body byte arrives (as curl does); Qt would pass the encoded bytes through as if
        // they were the content. A response without a body stays fine.
        match ContentDecoder::new(&encoding) {
            Err(e) => {
                self.state.borrow_mut().undecodable = Some(e);
                content_length
            }
            Ok(Some(decoder)) => {
                let threshold = self
                    .state
                    .borrow()
                    .request
                    .decompressed_safety_check_threshold();
                self.state.borrow_mut().decoder =
                    Some(decoder.with_decompressed_safety_check_threshold(threshold));
                if let Some(n) = content_length {
                    self.reply
                        .set_attribute(crate::request::Attribute::OriginalContentLength, n as i64);
                }
                None
            }
            Ok(None) => content_length,
        }
    }

    /// Hands (decoded) body data to the reply, and to the cache entry being written.
    fn deliver(&self, data: Bytes) {
        {
            let writer = &mut self.state.borrow_mut().cache_writer;
            if writer.is_some() {
                cache_glue::write_piece(writer, &data);
            }
        }
        self.reply.deliver_data(data);
    }

    /// The whole body was received: the cache entry becomes visible.
    fn commit_cache_entry(&self) {
        let writer = self.state.borrow_mut().cache_writer.take();
        if let (Some(writer), Some(cache)) = (
            writer,
            self.manager_state().and_then(|s| s.features.cache()),
        ) {
            cache.borrow_mut().insert(writer);
        }
    }

    /// The head decided that `next` follows the body, which is read and dropped.
    fn drain_to(&self, next: Next) -> BodyDecision {
        let mut state = self.state.borrow_mut();
        if !matches!(state.phase, Phase::Done) {
            state.phase = Phase::Draining(next);
        }
        BodyDecision::Discard
    }

    /// Starts what follows the hop that ended (the job is queued again, or serves the
    /// cache).
    fn take_next(&self, next: Next) {
        {
            let mut state = self.state.borrow_mut();
            state.phase = Phase::Queued;
            state.cache_writer = None;
            state.decoder = None;
            state.undecodable = None;
        }
        match next {
            Next::Redirect {
                url,
                method,
                keep_body,
                ..
            } => self.follow_redirect(url, method, keep_body),
            Next::Resend => {
                if self.restore_body(true) {
                    if let (Some(pool), Some(me)) = (self.pool.upgrade(), self.me.upgrade()) {
                        pool.enqueue(me);
                    }
                }
            }
            Next::FromCache(meta) => self.serve_from_cache(meta),
        }
    }

    /// Sets up the body for the next attempt; false (and the job failed) when it must be
    /// sent again but cannot be read again.
    fn restore_body(&self, keep_body: bool) -> bool {
        {
            let mut state = self.state.borrow_mut();
            let body = if keep_body {
                state.replay.as_ref().and_then(RequestBody::replay)
            } else {
                None
            };
            match body {
                Some(b) => {
                    state.body = b;
                    return true;
                }
                None if !(keep_body && state.replay.is_none()) => {
                    state.body = RequestBody::Empty;
                    state.replay = Some(RequestBody::Empty);
                    state.request.remove_header("content-type");
                    state.request.remove_header("content-length");
                    return true;
                }
                None => {}
            }
        }
        self.fail(
            NetworkError::ContentReSendError,
            "Need to resend, but the body cannot be read again".into(),
        );
        false
    }

    fn follow_redirect(&self, url: Url, method: String, keep_body: bool) {
        {
            let mut state = self.state.borrow_mut();
            state.redirects += 1;
            state.method = method;
        }
        if !self.restore_body(keep_body) {
            return;
        }
        let same_server = self
            .url()
            .is_some_and(|old| AuthTarget::server(&old) == AuthTarget::server(&url));
        if !same_server {
            // Credentials answer one server's challenge: never sent to another.
            self.state.borrow_mut().server_auth.reset();
        }
        {
            let mut state = self.state.borrow_mut();
            state.request.set_url(url.clone());
            state.pool_key = None;
        }
        self.reply.update_request(|r| r.set_url(url));
        self.begin_hop(false);
    }

    /// Serves a cached entry: the response head, then the body piece by piece as the reply's
    /// buffer allows.
    fn serve_from_cache(&self, meta: NetworkCacheMetaData) {
        if self.is_done() {
            return;
        }
        let cache = self.manager_state().and_then(|s| s.features.cache());
        let reader = match (&cache, meta.url()) {
            (Some(cache), Some(url)) => cache.borrow_mut().data(url),
            _ => None,
        };
        let Some(reader) = reader else {
            // The entry vanished or was damaged: the network it is, unless forbidden.
            if self.state.borrow().request.cache_load_control()
                == crate::CacheLoadControl::AlwaysCache
            {
                self.fail(
                    NetworkError::ContentNotFoundError,
                    "The content was not found in the cache".into(),
                );
            } else if let (Some(pool), Some(me)) = (self.pool.upgrade(), self.me.upgrade()) {
                pool.enqueue(me);
            }
            return;
        };
        {
            let mut state = self.state.borrow_mut();
            state.carrier = no_carrier();
            state.phase = Phase::FromCache(reader);
        }
        let (status, reason, headers, length) = cache_glue::cached_head(&meta);
        self.reply.set_attribute(Attribute::SourceIsFromCache, true);
        if meta.url().is_some_and(|u| u.scheme() == "https") {
            self.reply
                .set_attribute(Attribute::ConnectionEncrypted, true);
        }
        let error = NetworkError::from_http_status(status);
        if error != NetworkError::NoError {
            let shown = meta.url().map(|u| u.to_string()).unwrap_or_default();
            self.state.borrow_mut().status_error =
                Some((error, http_status_error_string(&shown, &reason)));
        }
        self.reply
            .deliver_head(status, &reason, headers, length, None);
        self.pump_cache();
    }

    /// Delivers the cached body while the reply has room; ends the reply at its end.
    fn pump_cache(&self) {
        loop {
            if self.is_done() || !self.reply.wants_data() {
                return; // resumed by `resume_reading`
            }
            let piece = {
                let mut state = self.state.borrow_mut();
                let Phase::FromCache(reader) = &mut state.phase else {
                    return;
                };
                cache_glue::read_piece(reader.as_mut())
            };
            match piece {
                Some(data) => self.reply.deliver_data(data),
                None => {
                    let (error, message) = self
                        .state
                        .borrow_mut()
                        .status_error
                        .take()
                        .unwrap_or((NetworkError::NoError, String::new()));
                    self.finish(error, message);
                    return;
                }
            }
        }
    }

    fn finish(&self, error: NetworkError, message: String) {
        if self.end().is_some() {
            self.reply.finish(error, message);
        }
    }

    /// Enters `Done`: an entry still being written is abandoned (a complete one was
    /// committed), a cached body being served is closed. Returns the carrier the job let
    /// go of, or `None` if it had ended before.
    fn end(&self) -> Option<Weak<dyn Carrier>> {
        let (phase, writer, carrier) = {
            let mut state = self.state.borrow_mut();
            if matches!(state.phase, Phase::Done) {
                return None;
            }
            (
                std::mem::replace(&mut state.phase, Phase::Done),
                state.cache_writer.take(),
                std::mem::replace(&mut state.carrier, no_carrier()),
            )
        };
        // Dropped outside the borrow: a cache's writer or reader may run the application's
        // code.
        drop((phase, writer));
        Some(carrier)
    }

    /// The application aborted (or deleted) the reply: drop the connection it was using.
    fn cancel(&self) {
        let Some(carrier) = self.end() else {
            return;
        };
        if let Some(conn) = carrier.upgrade() {
            conn.job_cancelled();
        }
        if let (Some(pool), Some(key)) = (self.pool.upgrade(), self.key()) {
            pool.schedule_dispatch(key);
        }
    }
}

impl Exchange for Job {
    /// The pool key of the current hop, route included (computed once per hop: it
    /// allocates). `None` for an invalid URL or when no proxy can carry the request.
    fn key(&self) -> Option<PoolKey> {
        if let Some(key) = &self.state.borrow().pool_key {
            return Some(key.clone());
        }
        let key = {
            // A copy (copy-on-write, cheap): the application's proxy factory runs meanwhile.
            let request = self.state.borrow().request.clone();
            let url = request.url()?;
            let state = self.manager_state();
            match route::choose(state.as_ref().map(|s| &s.features), &request, url) {
                Ok(route) => {
                    if let Some(proxy) = route.proxy() {
                        log::debug!(target: crate::log_target::PROXY, "{} goes through {:?} proxy {}:{}", crate::log_target::Shown(url), proxy.proxy_type(), proxy.host_name(), proxy.port());
                    }
                    PoolKey::from_url(
                        url,
                        route,
                        request.bool_attribute(Attribute::Http2Allowed, true),
                        || TlsKey::of(request.ssl_configuration_ref(), request.peer_verify_name()),
                    )
                }
                Err(e) => {
                    self.state.borrow_mut().route_error = Some(e);
                    None
                }
            }
        };
        self.state.borrow_mut().pool_key.clone_from(&key);
        key
    }

    fn priority(&self) -> Priority {
        self.state.borrow().request.priority()
    }

    /// The HTTP/1.1 connections per host the request asks for (`Http1Configuration`).
    fn connections_per_host(&self) -> usize {
        self.state
            .borrow()
            .request
            .http1_configuration()
            .number_of_connections_per_host()
    }

    /// Whether the request may be written behind others on one connection (HTTP
    /// pipelining), by Qt's rules: `HttpPipeliningAllowedAttribute` is set, the method is
    /// GET or HEAD (idempotent) without a body, and no credentials ride in the URL (Qt
    /// keeps authentication out of pipelines).
    fn pipelinable(&self) -> bool {
        let state = self.state.borrow();
        if !(state.method == "GET" || state.method == "HEAD") || !state.body.is_empty() {
            return false;
        }
        let request = &state.request;
        request.bool_attribute(Attribute::HttpPipeliningAllowed, false)
            && request
                .url()
                .is_some_and(|u| u.username().is_empty() && u.password().is_none())
    }

    /// Whether the request asks for HTTP/2 with prior knowledge (`Http2DirectAttribute`);
    /// never through a proxy.
    fn wants_http2_direct(&self) -> bool {
        self.state
            .borrow()
            .request
            .bool_attribute(Attribute::Http2Direct, false)
            && self.route() == Route::Direct
    }

    /// The TLS configuration for a new connection of this job (https only). ALPN offers h2
    /// unless the request forbids HTTP/2 (Qt 6's default allows it).
    fn tls_config(&self) -> Option<SslConfiguration> {
        let http2_allowed = self.http2_allowed();
        let state = self.state.borrow();
        let request = &state.request;
        if request.url()?.scheme() != "https" {
            return None;
        }
        let mut config = request.ssl_configuration();
        if let Some(name) = request.peer_verify_name() {
            config.set_peer_verify_name(name);
        }
        let mut alpn: Vec<Vec<u8>> = Vec::new();
        if http2_allowed {
            alpn.push(b"h2".to_vec());
        }
        alpn.push(b"http/1.1".to_vec());
        config.set_allowed_next_protocols(alpn);
        Some(config)
    }

    /// The HTTP/2 settings of the request as the reply reports it (read once per
    /// connection opened).
    fn http2_configuration(&self) -> Http2Configuration {
        self.reply
            .request()
            .map(|request| request.http2_configuration())
            .unwrap_or_default()
    }

    fn is_done(&self) -> bool {
        matches!(self.state.borrow().phase, Phase::Done) || self.reply.is_finished()
    }

    /// Attaches the hop to what carries it (an HTTP/1.1 connection or an HTTP/2 stream).
    fn attach(&self, carrier: Weak<dyn Carrier>) {
        let mut state = self.state.borrow_mut();
        state.carrier = carrier;
        if matches!(state.phase, Phase::Queued) {
            state.phase = Phase::OnTheWire;
        }
    }

    fn detach(&self) {
        self.state.borrow_mut().carrier = no_carrier();
    }

    /// Runs `f` on a later loop iteration, unless the reply is destroyed first (so that
    /// nothing is reported from inside a call the application made, e.g. `get()`).
    fn later(&self, f: Box<dyn FnOnce()>) {
        slotnet_core::AsObject::as_object(&self.reply).invoke_later(f);
    }

    /// Asks the reply whether it accepts the certificate `errors` of connection
    /// `connection` (an id from `connection_tls::next_connection_id`): yes if it accepted
    /// them in advance (no signal then, as Qt's socket), else it is shown `sslErrors` and
    /// accepts them if its slot calls `ignore_ssl_errors()`. That answer holds for this
    /// connection only: a new connection asks again. Never for a known HSTS host (RFC 6797
    /// 8.4). Not asked again about the connection it last accepted.
    fn consents_to_ssl_errors(&self, connection: u64, errors: &[SslError]) -> bool {
        if errors.is_empty() || self.state.borrow().ssl.consented == connection {
            return true;
        }
        let accepted = self.accepts_ssl_errors_in_advance(errors) || {
            {
                let ssl = &mut self.state.borrow_mut().ssl;
                ssl.ignored_now = false;
                ssl.asking = true;
            }
            self.reply.emit_ssl_errors(errors.to_vec());
            let ignored = {
                let ssl = &mut self.state.borrow_mut().ssl;
                ssl.asking = false;
                std::mem::replace(&mut ssl.ignored_now, false)
            };
            ignored && self.may_ignore_ssl_errors()
        };
        let accepted = accepted && !self.is_done();
        if accepted {
            self.state.borrow_mut().ssl.consented = connection;
        }
        accepted
    }

    /// Whether the reply must be asked about `tls`'s certificate errors before its request
    /// may ride that connection (see [`Job::admit_to`]).
    fn must_be_asked_about(&self, tls: &ConnectionTls) -> bool {
        !tls.errors.is_empty() && self.state.borrow().ssl.consented != tls.id
    }

    /// Whether the reply may ride `tls`, a connection that is already up: its certificate
    /// had no errors, or the reply accepts them (it is shown `sslErrors` if need be, before
    /// its request is sent). A reply that refuses ends with `SslHandshakeFailedError`
    /// (`false`): no request goes out over a certificate its reply was never asked about.
    fn admit_to(&self, tls: &ConnectionTls) -> bool {
        if self.consents_to_ssl_errors(tls.id, &tls.errors) {
            return true;
        }
        self.fail(
            NetworkError::SslHandshakeFailedError,
            REFUSED_CERTIFICATE.to_owned(),
        );
        false
    }

    /// The manager's `proxy_authentication_required` signal, for tunnels opened for this
    /// job (they ask through the connector).
    fn ask_proxy_credentials(&self, proxy: &NetworkProxy, realm: &str) -> Option<Authenticator> {
        let state = self.manager_state()?;
        Some(state.features.ask_proxy_credentials(proxy, realm))
    }

    /// Builds the request head for the current hop, with the headers Qt adds by default.
    fn build_head(&self) -> Option<(RequestHead, BodyLength)> {
        let route = self.route();
        // A copy (copy-on-write: a reference count), so that the state is not borrowed
        // while the manager's features (cookie jar, credentials) are consulted.
        let request = self.state.borrow().request.clone();
        let url = request.url()?;
        let form = match route {
            Route::Forward(_) => TargetForm::Absolute,
            _ => TargetForm::Origin,
        };
        let mut head = RequestHead::from_url(self.method(), url, form);
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
        // Standard names as constants: a `&str` name is parsed and hashed on every lookup.
        use http::header::{ACCEPT_ENCODING, ACCEPT_LANGUAGE, CONNECTION, USER_AGENT};
        let auto_decode = !headers.contains_key(ACCEPT_ENCODING);
        self.state.borrow_mut().auto_decode = auto_decode;
        if auto_decode {
            headers.insert(
                ACCEPT_ENCODING,
                HeaderValue::from_static(accept_encoding_value()),
            );
        }
        let defaults = [
            (CONNECTION, "Keep-Alive"),
            (ACCEPT_LANGUAGE, "en,*"),
            (USER_AGENT, "Mozilla/5.0"),
        ];
        for (name, value) in defaults {
            if !headers.contains_key(&name) {
                headers.insert(name, HeaderValue::from_static(value));
            }
        }
        let length = {
            let body = &self.state.borrow().body;
            match body.size() {
                Some(0) if body.is_empty() => BodyLength::Empty,
                Some(n) => BodyLength::Known(n),
                None => BodyLength::Unknown,
            }
        };
        if length != BodyLength::Empty
            && !headers.contains_key(http::header::CONTENT_TYPE)
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
        if let Some(state) = self.manager_state() {
            self.add_feature_headers(&state, &request, url, &route, &mut head);
        }
        Some((head, length))
    }

    fn url(&self) -> Option<Url> {
        self.state.borrow().request.url().cloned()
    }

    fn body_size(&self) -> Option<u64> {
        self.state.borrow().body.size()
    }

    /// Takes the next piece of the body to send (at most `max` bytes).
    fn next_body_piece(&self, max: usize) -> io::Result<Option<Bytes>> {
        self.state.borrow_mut().body.next_piece(max)
    }

    /// The request waits for a connection being opened (`socketStartedConnecting`).
    fn started_connecting(&self) {
        self.reply.emit_socket_started_connecting();
    }

    /// The connection of the current hop finished its TLS handshake (`encrypted`).
    fn encrypted(&self, tls: &ConnectionTls) {
        self.reply.set_ssl_configuration(tls.configuration.clone());
        self.reply.emit_encrypted();
    }

    /// Upload progress of the current hop (`uploadProgress`; -1: total unknown).
    fn upload_progress(&self, sent: i64, total: i64) {
        self.reply.emit_upload_progress(sent, total);
    }

    /// The whole request reached the connection (`requestSent`).
    fn request_sent(&self) {
        self.reply.emit_request_sent();
    }

    /// A response head arrived for the current hop.
    fn on_head(&self, start: ResponseStart<'_>) -> BodyDecision {
        let ResponseStart {
            status,
            reason,
            headers,
            content_length,
            protocol,
        } = start;
        // Qt sets both on every HTTP reply, false when not used.
        let (pipelined, http2) = match protocol {
            Protocol::Http1 { pipelined } => (pipelined, false),
            Protocol::Http2 => (false, true),
        };
        self.reply
            .set_attribute(Attribute::HttpPipeliningWasUsed, pipelined);
        self.reply.set_attribute(Attribute::Http2WasUsed, http2);
        if self.is_done() {
            return BodyDecision::Stop;
        }
        let url = self.url();
        let state = self.manager_state();
        if let (Some(state), Some(url)) = (&state, &url) {
            self.learn_from_head(state, status, url, &headers);
            if self.is_done() {
                return BodyDecision::Stop;
            }
            if let Some(action) = self.answer_challenge(state, status, url, &headers) {
                return action;
            }
            if let Some(action) = self.not_modified(state, status, &headers) {
                return action;
            }
        }
        let location = headers.get("location").map(str::to_owned);
        // Qt's RedirectionTargetAttribute: the Location as sent.
        let location_as_sent = location
            .clone()
            .filter(|_| redirect::is_redirect_status(status));
        let redirect_target = match (&url, &location) {
            (Some(url), Some(location)) if redirect::is_redirect_status(status) => {
                url.join(location).ok()
            }
            _ => None,
        };
        // A redirect to a known HSTS host goes to its https URL (RFC 6797 8.3).
        let upgraded = redirect_target
            .as_ref()
            .and_then(|t| state.as_ref().and_then(|s| s.features.hsts_upgrade(t)));
        let location = upgraded.as_ref().map(|u| u.to_string()).or(location);
        let max = self.state.borrow().request.maximum_redirects_allowed();
        let decision = match &url {
            Some(url) => redirect::decide(
                status,
                location.as_deref(),
                url,
                &self.state.borrow().method,
                self.policy,
                self.state.borrow().redirects,
                max,
            ),
            None => Redirect::No,
        };
        if url.as_ref().is_some_and(|u| u.scheme() == "https") {
            self.reply
                .set_attribute(crate::request::Attribute::ConnectionEncrypted, true);
            // A reply sent on a connection that was already up saw no `encrypted`: it learns
            // the connection's TLS session here.
            if let Some(tls) = self.carrier_tls() {
                self.reply.set_ssl_configuration(tls.configuration.clone());
            }
        }
        let content_length = self.prepare_decoder(&headers, content_length);
        if let (Redirect::No, Some(state), Some(url)) = (&decision, &state, &url) {
            self.start_cache_entry(state, url, status, reason, &headers);
        }
        self.reply
            .deliver_head(status, reason, headers, content_length, location_as_sent);
        match &decision {
            Redirect::Follow { url: to, .. } | Redirect::Ask { url: to, .. } => {
                log::debug!(target: crate::log_target::REDIRECT, "Redirect {status} from {} to {}", url.as_ref().map_or_else(String::new, |u| crate::log_target::Shown(u).to_string()), crate::log_target::Shown(to))
            }
            Redirect::Refuse { message, .. } => {
                log::debug!(target: crate::log_target::REDIRECT, "Redirect {status} from {} refused: {message}", url.as_ref().map_or_else(String::new, |u| crate::log_target::Shown(u).to_string()))
            }
            Redirect::No => {}
        }
        let needs_permission = matches!(decision, Redirect::Ask { .. });
        match decision {
            Redirect::No => {
                let error = NetworkError::from_http_status(status);
                if error != NetworkError::NoError {
                    let shown = url.map(|u| u.to_string()).unwrap_or_default();
                    self.state.borrow_mut().status_error =
                        Some((error, http_status_error_string(&shown, reason)));
                }
                BodyDecision::Deliver
            }
            Redirect::Follow {
                url,
                method,
                keep_body,
            }
            | Redirect::Ask {
                url,
                method,
                keep_body,
            } => {
                let decision = self.drain_to(Next::Redirect {
                    url: url.clone(),
                    method,
                    keep_body,
                    needs_permission,
                });
                self.reply.deliver_redirect(url);
                decision
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
                BodyDecision::Stop
            }
        }
    }

    /// How many more body bytes the reply's read buffer takes now.
    fn room(&self) -> usize {
        self.reply.buffer_room()
    }

    /// Whether the reply takes body data now (its read buffer is not full).
    fn wants_data(&self) -> bool {
        self.reply.wants_data()
    }

    /// Body data of the current response. Returns false if the job failed on it (a corrupt
    /// or suspicious compressed body): the connection must then be dropped.
    fn on_data(&self, data: Bytes) -> bool {
        if self.is_done() {
            return false;
        }
        let mut guard = self.state.borrow_mut();
        if let Some(e) = guard.undecodable.take_if(|_| !data.is_empty()) {
            drop(guard);
            self.fail(
                NetworkError::UnknownContentError,
                format!("Error decoding the response body: {e}"),
            );
            return false;
        }
        let Some(decoder) = guard.decoder.as_mut() else {
            drop(guard);
            self.deliver(data);
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
            self.deliver(piece);
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
    fn on_end(&self) {
        if self.is_done() {
            return;
        }
        let at_end = {
            let mut state = self.state.borrow_mut();
            match std::mem::replace(&mut state.phase, Phase::Queued) {
                Phase::Draining(
                    next @ Next::Redirect {
                        needs_permission: true,
                        ..
                    },
                ) => {
                    state.phase = Phase::Parked(next);
                    AtEnd::Nothing
                }
                Phase::Draining(next) => AtEnd::Next(next),
                Phase::OnTheWire | Phase::Queued => {
                    state.phase = Phase::OnTheWire;
                    AtEnd::Finish
                }
                other => {
                    state.phase = other;
                    AtEnd::Nothing
                }
            }
        };
        match at_end {
            AtEnd::Nothing => {}
            AtEnd::Next(next) => self.take_next(next),
            AtEnd::Finish => {
                let decoded = self.state.borrow_mut().decoder.take().map(|d| d.finish());
                if let Some(Err(e)) = decoded {
                    self.fail(
                        NetworkError::UnknownContentError,
                        format!("Error decoding the response body: {e}"),
                    );
                    return;
                }
                self.commit_cache_entry();
                let (error, message) = self
                    .state
                    .borrow_mut()
                    .status_error
                    .take()
                    .unwrap_or((NetworkError::NoError, String::new()));
                self.finish(error, message);
            }
        }
    }

    /// Ends the reply with `error` (no more I/O for this job).
    fn fail(&self, error: NetworkError, message: String) {
        self.finish(error, message);
    }

    /// A failed attempt is sent again on a new connection once, with its body rewound.
    fn retry(&self) -> bool {
        let mut state = self.state.borrow_mut();
        if state.retried || state.replay.is_none() {
            return false;
        }
        state.retried = true;
        if let Some(body) = state.replay.as_ref().and_then(RequestBody::replay) {
            state.body = body;
        }
        true
    }
}

impl ReplyBackend for Job {
    fn abort(&self) {
        self.cancel();
    }

    fn ignore_ssl_errors(&self) {
        if self.state.borrow().ssl.asking {
            self.state.borrow_mut().ssl.ignored_now = true;
        } else {
            self.state.borrow_mut().ssl.ignore_all = true;
        }
    }

    fn ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        self.state.borrow_mut().ssl.expected = errors;
    }

    fn resume_reading(&self) {
        if matches!(self.state.borrow().phase, Phase::FromCache(_)) {
            self.pump_cache();
            return;
        }
        let conn = self.state.borrow().carrier.upgrade();
        if let Some(conn) = conn {
            conn.resume();
        }
    }

    fn redirect_allowed(&self) {
        let parked = {
            let mut state = self.state.borrow_mut();
            match std::mem::replace(&mut state.phase, Phase::Queued) {
                Phase::Parked(next) => Some(next),
                // Allowed while its body drains: taken as soon as the body ends.
                Phase::Draining(Next::Redirect {
                    url,
                    method,
                    keep_body,
                    ..
                }) => {
                    state.phase = Phase::Draining(Next::Redirect {
                        url,
                        method,
                        keep_body,
                        needs_permission: false,
                    });
                    None
                }
                other => {
                    state.phase = other;
                    None
                }
            }
        };
        if let Some(next) = parked {
            self.take_next(next);
        }
    }
}

#[cfg(test)]
mod tests {
    //! A job's hop transitions, driven the way connections drive them (a head, body, end)
    //! without a network: what the job decides, what its reply shows, and what it queues.
    use super::*;
    use slotnet_core::AsObject;

    struct Fixture {
        pool: Rc<Pool>,
        job: Rc<Job>,
        reply: NetworkReply,
        _manager: NetworkAccessManager,
    }

    fn start(request: NetworkRequest) -> Fixture {
        let manager = NetworkAccessManager::new();
        let pool = Pool::new(manager);
        let reply = NetworkReply::create(
            Some(manager.as_object()),
            Operation::GetOperation,
            request.clone(),
            None,
        );
        let job = Job::new(
            &manager,
            &pool,
            reply,
            Operation::GetOperation,
            "GET",
            request,
            RequestBody::Empty,
        );
        Fixture {
            pool,
            job,
            reply,
            _manager: manager,
        }
    }

    fn get(url: &str) -> Fixture {
        start(NetworkRequest::from_url_str(url))
    }

    fn head(status: u16, fields: &[(&str, &str)]) -> ResponseStart<'static> {
        let mut headers = ResponseHeaders::with_capacity(fields.len(), 64);
        for (name, value) in fields {
            headers.push(name, value);
        }
        ResponseStart {
            status,
            reason: "",
            headers,
            content_length: None,
            protocol: Protocol::Http1 { pipelined: false },
        }
    }

    impl Fixture {
        fn url(&self) -> String {
            self.job.url().map(|u| u.to_string()).unwrap_or_default()
        }

        fn waiting(&self) -> usize {
            self.job.key().map_or(0, |k| self.pool.waiting(&k))
        }

        fn phase(&self) -> &'static str {
            match self.job.state.borrow().phase {
                Phase::Queued => "queued",
                Phase::OnTheWire => "on the wire",
                Phase::Draining(_) => "draining",
                Phase::Parked(_) => "parked",
                Phase::FromCache(_) => "from cache",
                Phase::Done => "done",
            }
        }
    }

    #[test]
    fn a_hop_goes_from_queued_to_the_wire_to_done() {
        let f = get("http://a.test/one");
        assert_eq!(f.phase(), "queued");
        f.job.attach(no_carrier());
        assert_eq!(f.phase(), "on the wire");
        assert_eq!(f.job.on_head(head(200, &[])), BodyDecision::Deliver);
        assert_eq!(f.phase(), "on the wire");
        f.job.detach();
        f.job.on_end();
        assert_eq!(f.phase(), "done");
        assert!(f.reply.is_finished());
    }

    #[test]
    fn a_redirect_drains_then_queues_the_next_hop() {
        let f = get("http://a.test/one");
        f.job.attach(no_carrier());
        f.job.on_head(head(301, &[("Location", "/two")]));
        assert_eq!(f.phase(), "draining");
        f.job.on_end();
        assert_eq!(f.phase(), "queued");
        assert_eq!(f.url(), "http://a.test/two");
    }

    #[test]
    fn a_redirect_allowed_while_its_body_drains_is_taken_at_its_end() {
        let mut request = NetworkRequest::from_url_str("http://a.test/one");
        request.set_attribute(
            Attribute::RedirectPolicy,
            RedirectPolicy::UserVerifiedRedirectPolicy,
        );
        let f = start(request);
        f.job.on_head(head(307, &[("Location", "/two")]));
        ReplyBackend::redirect_allowed(&*f.job);
        assert_eq!(f.phase(), "draining", "the body still drains");
        assert_eq!(f.url(), "http://a.test/one");
        f.job.on_end();
        assert_eq!(f.phase(), "queued", "not parked: it was allowed already");
        assert_eq!(f.url(), "http://a.test/two");
        assert_eq!(f.waiting(), 1);
    }

    #[test]
    fn an_aborted_parked_job_stays_done_when_allowed_later() {
        let mut request = NetworkRequest::from_url_str("http://a.test/one");
        request.set_attribute(
            Attribute::RedirectPolicy,
            RedirectPolicy::UserVerifiedRedirectPolicy,
        );
        let f = start(request);
        f.job.on_head(head(302, &[("Location", "/two")]));
        f.job.on_end();
        assert_eq!(f.phase(), "parked");
        f.reply.abort();
        assert_eq!(f.phase(), "done");
        ReplyBackend::redirect_allowed(&*f.job);
        assert_eq!(f.phase(), "done");
        assert_eq!(f.url(), "http://a.test/one");
        assert_eq!(f.waiting(), 0);
        assert_eq!(f.reply.error(), NetworkError::OperationCanceledError);
    }

    #[test]
    fn an_unanswered_request_is_retried_once() {
        let f = get("http://a.test/one");
        assert!(f.job.retry(), "the first retry is allowed");
        assert!(!f.job.retry(), "a second one is not");
        assert!(!f.reply.is_finished());
    }

    #[test]
    fn a_final_response_is_delivered_and_ends_the_reply() {
        let f = get("http://a.test/one");
        assert_eq!(f.job.on_head(head(200, &[])), BodyDecision::Deliver);
        assert!(!f.reply.is_finished());
        assert!(f.job.on_data(Bytes::from_static(b"ok")));
        f.job.on_end();
        assert!(f.reply.is_finished());
        assert_eq!(f.reply.error(), NetworkError::NoError);
        assert_eq!(f.reply.read_all(), b"ok");
        assert!(f.job.is_done());
    }

    #[test]
    fn an_error_status_is_reported_once_the_body_is_in() {
        let f = get("http://a.test/missing");
        assert_eq!(f.job.on_head(head(404, &[])), BodyDecision::Deliver);
        assert!(f.job.on_data(Bytes::from_static(b"not here")));
        assert!(!f.reply.is_finished());
        f.job.on_end();
        assert_eq!(f.reply.error(), NetworkError::ContentNotFoundError);
        assert_eq!(f.reply.read_all(), b"not here");
    }

    #[test]
    fn a_followed_redirect_drops_the_body_and_queues_the_next_hop() {
        let f = get("http://a.test/one");
        let decision = f.job.on_head(head(301, &[("Location", "/two")]));
        assert_eq!(decision, BodyDecision::Discard);
        // The hop ends with its body; only then does the next one start.
        assert_eq!(f.url(), "http://a.test/one");
        assert_eq!(f.waiting(), 0);
        f.job.on_end();
        assert_eq!(f.url(), "http://a.test/two");
        assert_eq!(f.reply.url().unwrap().as_str(), "http://a.test/two");
        assert_eq!(f.waiting(), 1, "the next hop waits for a connection");
        assert!(!f.reply.is_finished());
    }

    #[test]
    fn a_redirect_that_needs_permission_parks_until_allowed() {
        let mut request = NetworkRequest::from_url_str("http://a.test/one");
        request.set_attribute(
            Attribute::RedirectPolicy,
            RedirectPolicy::UserVerifiedRedirectPolicy,
        );
        let f = start(request);
        let decision = f.job.on_head(head(302, &[("Location", "http://b.test/")]));
        assert_eq!(decision, BodyDecision::Discard);
        f.job.on_end();
        assert_eq!(
            f.url(),
            "http://a.test/one",
            "parked: no hop before permission"
        );
        assert_eq!(f.waiting(), 0);
        assert!(!f.reply.is_finished());
        ReplyBackend::redirect_allowed(&*f.job);
        assert_eq!(f.url(), "http://b.test/");
        assert_eq!(f.waiting(), 1);
    }

    #[test]
    fn a_redirect_beyond_the_limit_stops_the_job() {
        let mut request = NetworkRequest::from_url_str("http://a.test/one");
        request.set_maximum_redirects_allowed(0);
        let f = start(request);
        let decision = f.job.on_head(head(301, &[("Location", "/two")]));
        assert_eq!(decision, BodyDecision::Stop);
        assert!(f.reply.is_finished());
        assert_eq!(f.reply.error(), NetworkError::TooManyRedirectsError);
        assert_eq!(f.waiting(), 0);
    }

    #[test]
    fn a_challenge_answered_from_the_url_resends_with_credentials() {
        let f = get("http://user:secret@a.test/private");
        let decision = f
            .job
            .on_head(head(401, &[("WWW-Authenticate", "Basic realm=\"r\"")]));
        assert_eq!(decision, BodyDecision::Discard);
        f.job.on_end();
        assert_eq!(f.waiting(), 1, "the same request goes out again");
        assert_eq!(f.url(), "http://user:secret@a.test/private");
        let (head, _) = f.job.build_head().unwrap();
        assert_eq!(
            head.headers.get(http::header::AUTHORIZATION).unwrap(),
            "Basic dXNlcjpzZWNyZXQ="
        );
        assert!(!f.reply.is_finished());
    }

    #[test]
    fn an_aborted_job_ignores_what_its_connection_still_reports() {
        let f = get("http://a.test/one");
        f.reply.abort();
        assert!(f.job.is_done());
        assert_eq!(f.job.on_head(head(200, &[])), BodyDecision::Stop);
        assert!(!f.job.on_data(Bytes::from_static(b"late")));
        assert_eq!(f.reply.error(), NetworkError::OperationCanceledError);
    }
}
