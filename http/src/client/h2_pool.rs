//! The client engine's side of HTTP/2: one multiplexed connection per host for the pool, and
//! exchanges ([`Exchange`]: a job's hop) seen as stream handlers.
//!
//! Two ways in: a request with `Http2Direct` (cleartext prior knowledge, h2c) makes this pool
//! open a TCP connection that speaks HTTP/2 from its first byte; an https request goes to the
//! HTTP/1.1 pool, whose TLS handshake offers ALPN "h2", and a connection that negotiated it is
//! handed over here ([`H2Pool::adopt`]). Either way the connection's HTTP/2 settings are those
//! of the request that opened it, as in Qt.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Version};
use slotnet_net::{AbstractSocket, SslSocket, TcpSocket};
use url::Position;

use super::exchange::{BodyDecision, Carrier, Exchange, ResponseStart};
use super::key::PoolKey;
use super::settings::Settings;
use crate::connection_tls::ConnectionTls;
use crate::error::NetworkError;
use crate::h1::BodyLength;
use crate::h2::client::{ConnEvent, H2Conn, OutgoingRequest, StreamHandler, StreamLink};
use crate::h2::Http2Configuration;

/// Request headers that are meaningless (and forbidden) in HTTP/2 (RFC 9113, 8.2.2), plus
/// `host`, which becomes `:authority`.
const CONNECTION_HEADERS: [HeaderName; 6] = [
    http::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::HOST,
];

/// Where the HTTP/2 pool sends the https exchanges that no HTTP/2 connection carries: the
/// HTTP/1.1 pool's queue (implemented by `client::pool::Pool`).
pub(crate) trait Http1Queue {
    /// Queues `job` for an HTTP/1.1 connection (at the head of its queue if `front`).
    fn enqueue_h1(&self, job: Rc<dyn Exchange>, front: bool);
}

/// The HTTP/2 connections of one manager: at most one usable connection per host and port,
/// plus connections draining after a GOAWAY.
pub(crate) struct H2Pool {
    me: Weak<H2Pool>,
    active: RefCell<HashMap<PoolKey, Rc<H2Conn>>>,
    draining: RefCell<Vec<Rc<H2Conn>>>,
    opened: Cell<u64>,
    settings: Cell<Settings>,
    fallback: RefCell<Weak<dyn Http1Queue>>,
}

impl H2Pool {
    pub(crate) fn new(settings: Settings) -> Rc<H2Pool> {
        Rc::new_cyclic(|me| H2Pool {
            me: me.clone(),
            active: RefCell::new(HashMap::new()),
            draining: RefCell::new(Vec::new()),
            opened: Cell::new(0),
            settings: Cell::new(settings),
            fallback: RefCell::new(Weak::<NoQueue>::new()),
        })
    }

    /// Whether `job` opens (or joins) a cleartext HTTP/2 connection with prior knowledge;
    /// https jobs reach HTTP/2 through ALPN instead.
    pub(crate) fn wants(job: &dyn Exchange) -> bool {
        job.wants_http2_direct() && job.key().is_some_and(|k| k.scheme == "http")
    }

    /// Takes new settings (idle expiry: for connections opened from now on).
    pub(crate) fn set_settings(&self, settings: Settings) {
        self.settings.set(settings);
    }

    /// Connections opened so far.
    pub(crate) fn connections_opened(&self) -> u64 {
        self.opened.get()
    }

    /// Whether a usable connection to `key`'s host is up (a preconnect would add nothing).
    pub(crate) fn has_usable(&self, key: &PoolKey) -> bool {
        self.active.borrow().get(key).is_some_and(|c| c.is_usable())
    }

    /// Sends `job` over the host's connection (opened if needed); `front` for a retry.
    pub(crate) fn enqueue(&self, job: Rc<dyn Exchange>, front: bool) {
        let Some(key) = job.key() else {
            job.fail(NetworkError::ProtocolUnknownError, "Invalid URL".into());
            return;
        };
        if key.scheme == "https" {
            // TLS connections are opened by the HTTP/1.1 pool (ALPN decides); only a live
            // adopted connection carries https jobs here.
            if let Err(job) = self.try_submit(job, front) {
                self.to_http1_pool(job, front);
            }
            return;
        }
        let existing = self
            .active
            .borrow()
            .get(&key)
            .filter(|c| c.is_usable())
            .cloned();
        let conn = match existing {
            Some(conn) => conn,
            None => self.open(&key, &job.http2_configuration()),
        };
        conn.submit(
            Rc::new(ExchangeStream {
                job,
                pool: self.me.clone(),
                announced: Cell::new(false),
            }),
            front,
        );
    }

    /// Sends `job` over an existing usable connection to its host, or gives it back.
    pub(crate) fn try_submit(
        &self,
        job: Rc<dyn Exchange>,
        front: bool,
    ) -> Result<(), Rc<dyn Exchange>> {
        let Some(key) = job.key() else {
            return Err(job);
        };
        let existing = self
            .active
            .borrow()
            .get(&key)
            .filter(|c| c.is_usable())
            .cloned();
        match existing {
            Some(conn) => {
                log::debug!(target: crate::log_target::CONNECTION, "Re-using existing HTTP/2 connection with host {}:{}", key.host, key.port);
                if let Some(tls) = conn.tls().filter(|tls| job.must_be_asked_about(tls)) {
                    self.ask_then_submit(job, tls, front);
                    return Ok(());
                }
                conn.submit(
                    Rc::new(ExchangeStream {
                        job,
                        pool: self.me.clone(),
                        announced: Cell::new(true),
                    }),
                    front,
                );
                Ok(())
            }
            None => Err(job),
        }
    }

    /// Shows `job`'s reply the certificate errors that another reply accepted for a
    /// connection (`tls`) before its request may ride it; a reply that refuses fails. Done
    /// from the loop (this may be called inside `get()`, before the application connected
    /// its slots), after which the job goes to the connection if it is still usable, else
    /// to the HTTP/1.1 pool.
    fn ask_then_submit(&self, job: Rc<dyn Exchange>, tls: Rc<ConnectionTls>, front: bool) {
        let pool = self.me.clone();
        let asked = job.clone();
        asked.later(Box::new(move || {
            if job.is_done() || !job.admit_to(&tls) {
                return;
            }
            let Some(pool) = pool.upgrade() else {
                return;
            };
            if let Err(job) = pool.try_submit(job, front) {
                pool.to_http1_pool(job, front);
            }
        }));
    }

    /// Hands `job` to the HTTP/1.1 pool (no HTTP/2 connection carries it); fails it if the
    /// manager is gone. The `fallback` cell is not borrowed while the job fails (its reply's
    /// slots run).
    fn to_http1_pool(&self, job: Rc<dyn Exchange>, front: bool) {
        let fallback = self.fallback.borrow().upgrade();
        match fallback {
            Some(pool) => pool.enqueue_h1(job, front),
            None => job.fail(
                NetworkError::OperationCanceledError,
                "The network access manager was deleted".into(),
            ),
        }
    }

    /// Where https jobs go when no HTTP/2 connection to their host is up.
    pub(crate) fn set_fallback(&self, pool: Weak<dyn Http1Queue>) {
        *self.fallback.borrow_mut() = pool;
    }

    /// Takes over a TLS connection on which ALPN chose h2, with the job that opened it (whose
    /// request's HTTP/2 configuration the connection uses; the default one if that job was
    /// aborted during the handshake).
    pub(crate) fn adopt(
        &self,
        key: &PoolKey,
        socket: SslSocket,
        tls: Rc<ConnectionTls>,
        job: Option<Rc<dyn Exchange>>,
    ) {
        let pool = self.me.clone();
        let conn = H2Conn::new(
            Rc::new(socket) as Rc<dyn AbstractSocket>,
            &job.as_ref()
                .map(|job| job.http2_configuration())
                .unwrap_or_default(),
            self.settings.get().idle_expiry,
            Box::new(move |conn, event| {
                if let Some(pool) = pool.upgrade() {
                    pool.on_event(conn, event);
                }
            }),
        );
        conn.set_tls(tls);
        conn.set_peer_name(&key.host);
        log::debug!(target: crate::log_target::HTTP2, "Using HTTP/2 with host {}:{} (ALPN h2)", key.host, key.port);
        // Not counted in `opened`: the HTTP/1.1 pool opened (and counted) this connection.
        let replaced = self.active.borrow_mut().insert(key.clone(), conn.clone());
        if let Some(old) = replaced {
            self.draining.borrow_mut().push(old);
        }
        if let Some(job) = job {
            conn.submit(
                Rc::new(ExchangeStream {
                    job,
                    pool: self.me.clone(),
                    announced: Cell::new(true),
                }),
                true,
            );
        }
        conn.transport_ready();
    }

    /// Opens a cleartext connection with prior knowledge, under `config`.
    fn open(&self, key: &PoolKey, config: &Http2Configuration) -> Rc<H2Conn> {
        let socket = TcpSocket::new();
        socket.set_read_buffer_size(self.settings.get().h2_read_buffer);
        let pool = self.me.clone();
        let conn = H2Conn::new(
            Rc::new(socket) as Rc<dyn AbstractSocket>,
            config,
            self.settings.get().idle_expiry,
            Box::new(move |conn, event| {
                if let Some(pool) = pool.upgrade() {
                    pool.on_event(conn, event);
                }
            }),
        );
        conn.set_peer_name(&key.host);
        log::debug!(target: crate::log_target::HTTP2, "Using HTTP/2 with host {}:{} (prior knowledge)", key.host, key.port);
        let weak = Rc::downgrade(&conn);
        socket.connected().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.transport_ready();
            }
        });
        self.opened.set(self.opened.get() + 1);
        let replaced = self.active.borrow_mut().insert(key.clone(), conn.clone());
        if let Some(old) = replaced {
            // An unusable connection still finishing its streams.
            self.draining.borrow_mut().push(old);
        }
        socket.connect_to_host(&key.host, key.port);
        conn
    }

    fn on_event(&self, conn: &Rc<H2Conn>, event: ConnEvent) {
        let key = self
            .active
            .borrow()
            .iter()
            .find(|(_, c)| Rc::ptr_eq(c, conn))
            .map(|(k, _)| k.clone());
        let was_active = key.and_then(|k| self.active.borrow_mut().remove(&k));
        match event {
            ConnEvent::Retired => {
                if was_active.is_some() {
                    self.draining.borrow_mut().push(conn.clone());
                }
            }
            ConnEvent::Closed => {
                let gone: Vec<_> = {
                    let mut draining = self.draining.borrow_mut();
                    let (gone, keep) = draining.drain(..).partition(|c| Rc::ptr_eq(c, conn));
                    *draining = keep;
                    gone
                };
                // Dropped here, outside the borrows (the caller still holds its own Rc).
                drop(gone);
            }
        }
        drop(was_active);
    }

    /// Closes the connections that have nothing in flight.
    pub(crate) fn clear_idle(&self) {
        let idle: Vec<Rc<H2Conn>> = self
            .active
            .borrow()
            .values()
            .chain(self.draining.borrow().iter())
            .filter(|c| c.is_idle())
            .cloned()
            .collect();
        for conn in idle {
            conn.close();
        }
    }
}

/// No HTTP/1.1 queue (the type behind an unset fallback; never instantiated).
struct NoQueue;

impl Http1Queue for NoQueue {
    fn enqueue_h1(&self, _job: Rc<dyn Exchange>, _front: bool) {}
}

/// An exchange (a job's current hop) as an HTTP/2 stream.
struct ExchangeStream {
    job: Rc<dyn Exchange>,
    pool: Weak<H2Pool>,
    /// `socketStartedConnecting` was already emitted for this job (an https job whose TLS
    /// connection was adopted after ALPN chose h2).
    announced: Cell<bool>,
}

impl Carrier for StreamLink {
    fn job_cancelled(&self) {
        self.cancel();
    }

    fn resume(&self) {
        StreamLink::resume(self);
    }

    fn tls(&self) -> Option<Rc<ConnectionTls>> {
        StreamLink::tls(self)
    }
}

impl ExchangeStream {
    fn send_again(&self, front: bool) {
        self.job.detach();
        match self.pool.upgrade() {
            Some(pool) => pool.enqueue(self.job.clone(), front),
            None => self.job.fail(
                NetworkError::OperationCanceledError,
                "The network access manager was deleted".into(),
            ),
        }
    }
}

impl StreamHandler for ExchangeStream {
    fn is_done(&self) -> bool {
        self.job.is_done()
    }

    fn started_connecting(&self) {
        if !self.announced.replace(true) {
            self.job.started_connecting();
        }
    }

    fn opened(&self, link: Rc<StreamLink>) {
        let carrier: Weak<dyn Carrier> = Rc::downgrade(&link) as Weak<dyn Carrier>;
        self.job.attach(carrier);
    }

    fn build_request(&self) -> Result<OutgoingRequest, String> {
        let (head, length) = self.job.build_head().ok_or("Invalid URL")?;
        let url = self.job.url().ok_or("Invalid URL")?;
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        let uri = format!("{}://{}{}", url.scheme(), authority, head.target.as_str());
        let mut request = http::Request::builder()
            .method(head.method)
            .uri(uri)
            .version(Version::HTTP_2)
            .body(())
            .map_err(|e| format!("Invalid request: {e}"))?;
        // The head's map is moved, not copied: removing the few connection-specific fields
        // costs less than re-inserting every other one.
        let headers: &mut HeaderMap = request.headers_mut();
        *headers = head.headers;
        for name in &CONNECTION_HEADERS {
            headers.remove(name);
        }
        let is_trailers = |v: &HeaderValue| v.as_bytes().eq_ignore_ascii_case(b"trailers");
        if !headers.get_all(http::header::TE).iter().all(is_trailers) {
            // Only `te: trailers` may cross into HTTP/2.
            let keep = headers.get_all(http::header::TE).iter().any(is_trailers);
            headers.remove(http::header::TE);
            if keep {
                headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
            }
        }
        if let BodyLength::Known(n) = length {
            if !headers.contains_key(http::header::CONTENT_LENGTH) {
                headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        Ok(OutgoingRequest {
            request,
            has_body: length != BodyLength::Empty,
            body_size: match length {
                BodyLength::Known(n) => Some(n),
                _ => None,
            },
        })
    }

    fn next_body_piece(&self, max: usize) -> io::Result<Option<Bytes>> {
        self.job.next_body_piece(max)
    }

    fn upload_progress(&self, sent: u64, total: Option<u64>) {
        let total = total.map_or(-1, |t| t as i64);
        self.job.upload_progress(sent as i64, total);
    }

    fn request_sent(&self) {
        self.job.request_sent();
    }

    fn response_head(&self, head: ResponseStart<'_>) -> BodyDecision {
        let decision = self.job.on_head(head);
        if decision == BodyDecision::Stop {
            self.job.detach();
        }
        decision
    }

    fn room(&self) -> usize {
        self.job.room()
    }

    fn data(&self, data: Bytes) {
        self.job.on_data(data);
    }

    fn trailers(&self, _trailers: HeaderMap) {
        // Qt's QNetworkReply does not expose trailers; they are read (so the stream ends
        // cleanly) and dropped.
    }

    fn end(&self) {
        self.job.detach();
        self.job.on_end();
    }

    fn failed(&self, error: NetworkError, message: String, retry: bool) {
        if retry && self.job.retry() {
            // Not processed (RFC 9113, 8.7), or lost with a connection the server closed as
            // idle: sent once more, on a new stream.
            self.send_again(true);
        } else {
            self.job.detach();
            self.job.fail(error, message);
        }
    }

    fn requeue(&self) {
        if !self.job.is_done() {
            self.send_again(true);
        }
    }
}
