//! One HTTP/1.1 client connection: drives the sans-IO codec from socket signals, one job
//! (request/response exchange) at a time, or, with HTTP pipelining, up to
//! [`Settings::pipeline_depth`] requests written ahead of their responses.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use slotnet_core::Timer;
use slotnet_net::proxy::{NetworkProxy, ProxiedConnector};
use slotnet_net::ssl::{SslConfiguration, SslError};
use slotnet_net::{AbstractSocket, SocketError, SslSocket, TcpSocket};

use super::exchange::{
    network_error_for, BodyDecision, Carrier, Exchange, ResponseStart, REFUSED_CERTIFICATE,
};
use super::key::PoolKey;
use super::route::Route;
use super::settings::{Settings, PROGRESS_INTERVAL};
use crate::connection_tls::{next_connection_id, ConnectionTls};
use crate::error::{transport_error_string, NetworkError};
use crate::h1::{encode_request, BodyEncoder, BodyLength, ResponseDecoder, ResponseEvent};

mod pipeline;
mod setup;

/// The pool an HTTP/1.1 connection belongs to, as the connection sees it (implemented by
/// `client::pool::Pool`): where a connection goes when its exchange ends, and where the
/// exchanges it cannot carry go back to.
pub(crate) trait ConnPool {
    /// An exchange ended: keep the connection for reuse (`keep_alive`) or close it, then
    /// serve the host's waiting jobs.
    fn release(&self, conn: &Rc<H1Conn>, keep_alive: bool);
    /// Forgets a connection (closed, failed, expired or handed over).
    fn forget(&self, conn: &Rc<H1Conn>);
    /// Serves the waiting jobs of `key`'s host on a later iteration.
    fn schedule_dispatch(&self, key: PoolKey);
    /// Puts an exchange back at the head of its queue (not answered: a retry, a pipelined
    /// request whose connection ended, a job that waited for an ALPN result).
    fn requeue_front(&self, job: Rc<dyn Exchange>);
    /// The connection may take pipelined requests.
    fn pipeline_room(&self, key: &PoolKey);
    /// ALPN chose h2: the HTTP/2 pool takes the socket over, with the current job and those
    /// that waited for the answer.
    fn adopt_h2(
        &self,
        key: &PoolKey,
        socket: SslSocket,
        tls: Rc<ConnectionTls>,
        job: Option<Rc<dyn Exchange>>,
        riders: VecDeque<Rc<dyn Exchange>>,
    );
}

/// The transport under a connection: plain TCP, or TLS for https.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Socket {
    Tcp(TcpSocket),
    Ssl(SslSocket),
}

impl Socket {
    fn io(&self) -> &dyn AbstractSocket {
        match self {
            Socket::Tcp(s) => s,
            Socket::Ssl(s) => s,
        }
    }

    /// Connects to `host:port` (with TLS for an https socket).
    fn io_connect(&self, host: &str, port: u16) {
        match self {
            Socket::Tcp(s) => s.connect_to_host(host, port),
            Socket::Ssl(s) => s.connect_to_host_encrypted(host, port),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    Connecting,
    Idle,
    Busy,
    Closed,
}

/// Upload bookkeeping for the request being sent.
#[derive(Default)]
struct Upload {
    /// Request bytes queued in the socket and not yet reported written.
    unsent: u64,
    head_len: u64,
    head_written: u64,
    body_total: Option<u64>,
    body_written: u64,
    /// The body is still being produced piece by piece.
    streaming: bool,
    encoder: Option<BodyEncoder>,
    has_body: bool,
    sent: bool,
    last_progress: Option<Instant>,
}

/// A request written behind the one whose response is being read (HTTP pipelining). Only
/// GET and HEAD without a body are pipelined, so the request is its head alone.
struct Pipelined {
    job: Rc<dyn Exchange>,
    /// The request's method (the response to a HEAD has no body).
    method: http::Method,
    head_len: u64,
    /// Bytes of the head not yet reported written by the socket.
    unsent: u64,
}

pub(crate) struct H1Conn {
    me: Weak<H1Conn>,
    /// This connection's id (`connection_tls::next_connection_id`), which its TLS session
    /// and the HTTP/2 connection it may become keep.
    id: u64,
    pool: Weak<dyn ConnPool>,
    pub(crate) key: PoolKey,
    /// The pool's settings when the connection was opened (pipeline depth, buffers).
    settings: Settings,
    /// TCP until a tunnelled https connection turns it into TLS.
    socket: Cell<Socket>,
    /// The proxy handshake of a tunnel, while it runs.
    connector: Cell<Option<ProxiedConnector>>,
    /// The TLS configuration to start once a tunnel is up (https through a proxy).
    tunnel_tls: RefCell<Option<SslConfiguration>>,
    /// The socket was handed to an HTTP/2 connection (ALPN chose h2): do not close it.
    handed_over: Cell<bool>,
    /// The TLS handshake offers h2 (ALPN): only jobs that allow HTTP/2 may wait for it.
    offers_h2: bool,
    /// The TLS session, once the handshake completed.
    tls: RefCell<Option<Rc<ConnectionTls>>>,
    /// Jobs that allow HTTP/2 waiting for this connection's ALPN result, oldest first (Qt
    /// queues them on its single HTTP/2 channel): they share the connection if ALPN chooses
    /// h2, go back to the pool if it chooses HTTP/1.1, and share its fate if the connection
    /// fails before that. Not attached to the connection: an aborted one is just skipped.
    riders: RefCell<VecDeque<Rc<dyn Exchange>>>,
    state: Cell<ConnState>,
    job: RefCell<Option<Rc<dyn Exchange>>>,
    decoder: RefCell<ResponseDecoder>,
    rbuf: RefCell<BytesMut>,
    /// Body bytes decoded but not yet accepted by a full reply buffer.
    held: RefCell<Option<Bytes>>,
    upload: RefCell<Upload>,
    exchanges: Cell<u32>,
    response_started: Cell<bool>,
    body_action: Cell<BodyDecision>,
    /// The server answered before the request body was fully sent: do not reuse.
    cut_short: Cell<bool>,
    idle_timer: RefCell<Option<Timer>>,
    processing: Cell<bool>,
    /// Requests written after the current one, oldest first; their responses follow the
    /// current one's in this order.
    pipeline: RefCell<VecDeque<Pipelined>>,
    /// The server answered with a keep-alive HTTP/1.1 response: it may be sent pipelined
    /// requests (Qt's `PipeliningProbablySupported`).
    pipelining_ok: Cell<bool>,
    /// The current response's head said HTTP/1.1.
    http11: Cell<bool>,
    /// The current job was sent pipelined (Qt's `HttpPipeliningWasUsedAttribute`).
    current_pipelined: Cell<bool>,
    /// The current job was aborted while pipelined: its response is read and dropped so
    /// that the ones behind it stay in step.
    discarding: Cell<bool>,
}

impl Carrier for H1Conn {
    fn job_cancelled(&self) {
        H1Conn::job_cancelled(self)
    }
    fn resume(&self) {
        H1Conn::resume(self)
    }
    fn tls(&self) -> Option<Rc<ConnectionTls>> {
        H1Conn::tls(self)
    }
}

impl Drop for H1Conn {
    fn drop(&mut self) {
        if let Some(connector) = self.connector.take() {
            connector.destroy();
        }
        if !self.handed_over.get() {
            let socket = self.socket.get();
            socket.io().abort();
            match socket {
                Socket::Tcp(s) => s.destroy(),
                Socket::Ssl(s) => s.destroy(),
            };
        }
        if let Some(t) = self.idle_timer.borrow_mut().take() {
            t.destroy();
        }
    }
}

/// Maps an error of a connection to a forward proxy.
fn proxy_error_for(e: SocketError) -> NetworkError {
    match e {
        SocketError::ConnectionRefusedError => NetworkError::ProxyConnectionRefusedError,
        SocketError::HostNotFoundError => NetworkError::ProxyNotFoundError,
        SocketError::SocketTimeoutError => NetworkError::ProxyTimeoutError,
        SocketError::RemoteHostClosedError => NetworkError::ProxyConnectionClosedError,
        other => network_error_for(other),
    }
}

impl H1Conn {
    pub(crate) fn is_idle(&self) -> bool {
        self.state.get() == ConnState::Idle
    }

    /// Still connecting and without a job: a preconnect (`connect_to_host`) that the next
    /// request for the host should take rather than open a connection of its own.
    pub(crate) fn awaits_first_job(&self) -> bool {
        self.state.get() == ConnState::Connecting && self.job.borrow().is_none()
    }

    /// Whether the connection is being set up with an h2 offer (a second HTTP/2 preconnect
    /// to the host would be useless, and jobs that allow HTTP/2 wait for its ALPN result).
    pub(crate) fn connecting_with_h2_offer(&self) -> bool {
        self.offers_h2 && self.state.get() == ConnState::Connecting
    }

    /// Whether the connection offered h2 and got HTTP/1.1: the server's current answer, so
    /// that the host's other connections may be opened without waiting.
    pub(crate) fn settled_on_http1_after_h2_offer(&self) -> bool {
        self.offers_h2 && matches!(self.state.get(), ConnState::Idle | ConnState::Busy)
    }

    /// Lets `job` wait for this connection's ALPN result (the caller checked
    /// [`H1Conn::connecting_with_h2_offer`] and that the job allows HTTP/2).
    pub(crate) fn add_rider(&self, job: Rc<dyn Exchange>) {
        // As for a job assigned to a connecting connection: its socket is on its way.
        job.started_connecting();
        self.riders.borrow_mut().push_back(job);
    }

    /// Gives the connection its next job: sent now if connected, else once connected.
    pub(crate) fn assign(&self, job: Rc<dyn Exchange>) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let connecting = self.state.get() == ConnState::Connecting;
        if !connecting && !self.admits(&*job) {
            return;
        }
        if let Some(t) = *self.idle_timer.borrow() {
            t.stop();
        }
        job.attach(Rc::downgrade(&me) as Weak<dyn Carrier>);
        if connecting {
            job.started_connecting();
        }
        *self.job.borrow_mut() = Some(job);
        if !connecting {
            self.state.set(ConnState::Busy);
            self.send();
        }
    }

    /// Whether `job` may ride this connection, which is up: a reply is shown the
    /// certificate errors another reply accepted for it and must accept them too (it fails
    /// otherwise, and the connection stays for the others).
    fn admits(&self, job: &dyn Exchange) -> bool {
        match self.tls() {
            Some(tls) => job.admit_to(&tls),
            None => true,
        }
    }

    fn current_job(&self) -> Option<Rc<dyn Exchange>> {
        self.job.borrow().clone()
    }

    fn on_connected(&self) {
        if self.state.get() != ConnState::Connecting {
            return;
        }
        if let Socket::Tcp(s) = self.socket.get() {
            s.set_no_delay(true);
        }
        self.state.set(ConnState::Busy);
        if self.current_job().is_some() {
            self.send();
        } else {
            self.release(true);
        }
    }

    /// Writes the request head and as much body as fits the upload window.
    fn send(&self) {
        let Some(job) = self.current_job() else {
            return;
        };
        let Some((head, length)) = job.build_head() else {
            self.fail_and_close(NetworkError::ProtocolUnknownError, "Invalid URL".into());
            return;
        };
        self.decoder.borrow_mut().reset(&head.method);
        self.response_started.set(false);
        self.body_action.set(BodyDecision::Deliver);
        self.cut_short.set(false);
        self.current_pipelined.set(false);
        self.discarding.set(false);
        *self.held.borrow_mut() = None;
        log::debug!(target: crate::log_target::HTTP1, "> {} {} HTTP/1.1 (host {}:{})", head.method, head.target, self.key.host, self.key.port);
        let mut out = BytesMut::with_capacity(512);
        let framing = encode_request(&head, length, &mut out);
        let head_len = out.len() as u64;
        *self.upload.borrow_mut() = Upload {
            unsent: head_len,
            head_len,
            body_total: job.body_size(),
            has_body: length != BodyLength::Empty,
            streaming: length != BodyLength::Empty,
            encoder: Some(BodyEncoder::new(framing)),
            ..Upload::default()
        };
        self.socket.get().io().write_bytes(out.freeze());
        self.pump_body(&job);
    }

    /// Queues more of the request body while the socket's queue is below the window.
    fn pump_body(&self, job: &Rc<dyn Exchange>) {
        loop {
            if !self.upload.borrow().streaming || self.cut_short.get() {
                return;
            }
            if self.socket.get().io().bytes_to_write() >= self.settings.upload_window {
                return;
            }
            let piece = match job.next_body_piece(self.settings.upload_window) {
                Ok(p) => p,
                Err(e) => {
                    self.fail_and_close(
                        NetworkError::UnknownContentError,
                        format!("Error reading the request body: {e}"),
                    );
                    return;
                }
            };
            let mut out = BytesMut::new();
            let result = {
                let mut up = self.upload.borrow_mut();
                let Upload {
                    encoder, streaming, ..
                } = &mut *up;
                let encoder = encoder.as_mut().expect("encoder set in send");
                match &piece {
                    Some(data) => encoder.encode(data, &mut out),
                    None => {
                        *streaming = false;
                        encoder.finish(&mut out)
                    }
                }
            };
            if let Err(e) = result {
                self.fail_and_close(
                    NetworkError::UnknownContentError,
                    format!("Request body does not match its announced length: {e}"),
                );
                return;
            }
            if !out.is_empty() {
                self.upload.borrow_mut().unsent += out.len() as u64;
                self.socket.get().io().write_bytes(out.freeze());
            }
            if piece.is_none() {
                self.maybe_request_sent(job);
                return;
            }
        }
    }

    fn on_bytes_written(&self, n: u64) {
        let Some(job) = self.current_job() else {
            return;
        };
        // The current request's bytes come first; the rest belong to pipelined requests.
        let (progress, theirs) = {
            let mut up = self.upload.borrow_mut();
            if up.sent {
                drop(up);
                self.pipelined_written(n);
                return;
            }
            let n_all = n;
            let n = n.min(up.unsent);
            up.unsent -= n;
            let head_part = n.min(up.head_len - up.head_written);
            up.head_written += head_part;
            let body_part = n - head_part;
            let progress = if up.has_body && body_part > 0 {
                // Framing overhead (chunk headers) makes this approximate for chunked bodies;
                // the cap keeps it within the total.
                up.body_written += body_part;
                if let Some(total) = up.body_total {
                    up.body_written = up.body_written.min(total);
                }
                let now = Instant::now();
                let due = up
                    .last_progress
                    .is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
                let complete = Some(up.body_written) == up.body_total;
                if due && !complete {
                    up.last_progress = Some(now);
                    Some((
                        up.body_written as i64,
                        up.body_total.map_or(-1, |t| t as i64),
                    ))
                } else {
                    None
                }
            } else {
                None
            };
            (progress, n_all - n)
        };
        if let Some((sent, total)) = progress {
            job.upload_progress(sent, total);
        }
        self.pump_body(&job);
        self.maybe_request_sent(&job);
        if theirs > 0 {
            self.pipelined_written(theirs);
        }
    }

    /// Emits the final upload progress and `requestSent` once every byte reached the kernel.
    fn maybe_request_sent(&self, job: &Rc<dyn Exchange>) {
        let (has_body, total) = {
            let up = self.upload.borrow();
            if up.sent || up.streaming || up.unsent > 0 {
                return;
            }
            (up.has_body, up.body_written)
        };
        self.upload.borrow_mut().sent = true;
        if has_body {
            let total = self.upload.borrow().body_total.unwrap_or(total) as i64;
            job.upload_progress(total, total);
        }
        if self.discarding.get() {
            return; // an aborted pipelined request: its reply has finished
        }
        job.request_sent();
        self.offer_pipeline_room();
    }

    /// Reads and decodes what the socket has, feeding the current job.
    pub(crate) fn process(&self) {
        if self.processing.replace(true) {
            return; // re-entered from a slot; the outer call continues
        }
        let _guard = ProcessingGuard(&self.processing);
        let Some(me) = self.me.upgrade() else {
            return;
        };
        loop {
            let Some(job) = self.current_job() else {
                if self.state.get() == ConnState::Idle
                    && self.socket.get().io().bytes_available() > 0
                {
                    // Bytes nobody asked for: the connection is out of sync.
                    self.drop_connection();
                }
                return;
            };
            if !self.deliver_held(&job) {
                return; // the reply's buffer is full
            }
            if self.response_started.get()
                && self.body_action.get() == BodyDecision::Deliver
                && !job.wants_data()
            {
                return;
            }
            self.socket.get().io().read_buf(&mut self.rbuf.borrow_mut());
            let event = {
                let mut rbuf = self.rbuf.borrow_mut();
                self.decoder.borrow_mut().decode(&mut rbuf)
            };
            match event {
                Ok(None) => return,
                Ok(Some(event)) => {
                    if !self.handle(&me, &job, event) {
                        return;
                    }
                }
                Err(e) => {
                    let truncated = matches!(
                        e,
                        crate::h1::H1Error::TruncatedBody | crate::h1::H1Error::IncompleteHead
                    );
                    if truncated && !self.response_started.get() && self.rbuf.borrow().is_empty() {
                        // Closed before a byte of this response (one that was pipelined
                        // behind a response that ended just before the close).
                        self.connection_lost_before_response();
                        return;
                    }
                    let (error, message) = if truncated {
                        (
                            NetworkError::RemoteHostClosedError,
                            "Connection closed".to_owned(),
                        )
                    } else {
                        (
                            NetworkError::ProtocolFailure,
                            format!("Invalid response: {e}"),
                        )
                    };
                    self.fail_and_close(error, message);
                    return;
                }
            }
        }
    }

    /// Handles one decoder event; returns whether to keep decoding.
    fn handle(&self, me: &Rc<H1Conn>, job: &Rc<dyn Exchange>, event: ResponseEvent) -> bool {
        match event {
            ResponseEvent::Interim(..) => true,
            ResponseEvent::Head(head) => {
                log::debug!(target: crate::log_target::HTTP1, "< {:?} {} {} (host {}:{})", head.version, head.status.as_u16(), head.reason, self.key.host, self.key.port);
                self.response_started.set(true);
                self.http11.set(head.version == http::Version::HTTP_11);
                if self.discarding.get() {
                    self.body_action.set(BodyDecision::Discard);
                    return true;
                }
                let uploading = {
                    let up = self.upload.borrow();
                    !up.sent && (up.streaming || up.unsent > 0)
                };
                if uploading {
                    // The server answered before taking the whole body (413, 401, a
                    // redirect): stop sending, and do not reuse the connection.
                    self.cut_short.set(true);
                    self.upload.borrow_mut().streaming = false;
                }
                let framing = self.decoder.borrow().framing();
                let start = ResponseStart::from_h1(&head, framing, self.current_pipelined.get());
                let action = job.on_head(start);
                self.body_action.set(action);
                if action == BodyDecision::Stop {
                    self.detach_job();
                    self.drop_connection();
                    return false;
                }
                self.same_job(job)
            }
            ResponseEvent::Data(data) => {
                if self.body_action.get() == BodyDecision::Deliver {
                    self.hand_over(job, data);
                }
                self.same_job(job)
            }
            ResponseEvent::End { .. } => {
                let keep = self.decoder.borrow().keep_alive()
                    && !self.cut_short.get()
                    && self.upload.borrow().sent;
                if keep && self.http11.get() {
                    self.pipelining_ok.set(true);
                }
                self.exchanges.set(self.exchanges.get() + 1);
                self.detach_job();
                let discarded = self.discarding.replace(false);
                // The next pipelined response follows on the same connection; without
                // keep-alive the requests behind go to other connections.
                let next = keep && self.promote_next();
                if !next {
                    self.requeue_pipeline();
                    self.release_rc(me, keep);
                }
                if !discarded {
                    job.on_end();
                }
                if next {
                    self.offer_pipeline_room();
                }
                next
            }
        }
    }

    fn same_job(&self, job: &Rc<dyn Exchange>) -> bool {
        self.current_job().is_some_and(|j| Rc::ptr_eq(&j, job))
            && (!job.is_done() || self.discarding.get())
    }

    /// Gives body data to the reply, keeping what does not fit its read buffer.
    fn hand_over(&self, job: &Rc<dyn Exchange>, mut data: Bytes) {
        let room = job.room();
        if room < data.len() {
            let rest = data.split_off(room);
            *self.held.borrow_mut() = Some(rest);
        }
        if !data.is_empty() && !job.on_data(data) && job.is_done() {
            // The job failed on its body (a corrupt compressed stream): the rest of the
            // response is unread, so the connection cannot be reused.
            self.detach_job();
            self.drop_connection();
        }
    }

    /// Delivers held-back data; returns false while the reply still has no room.
    fn deliver_held(&self, job: &Rc<dyn Exchange>) -> bool {
        let held = self.held.borrow_mut().take();
        if let Some(data) = held {
            self.hand_over(job, data);
        }
        self.held.borrow().is_none()
    }

    /// The connection's TLS session (`None` over plain TCP, or before the handshake).
    pub(crate) fn tls(&self) -> Option<Rc<ConnectionTls>> {
        self.tls.borrow().clone()
    }

    /// The reply's buffer drained: continue reading.
    pub(crate) fn resume(&self) {
        self.process();
    }

    fn on_eof(&self) {
        if self.state.get() == ConnState::Closed {
            return;
        }
        self.decoder.borrow_mut().eof();
        if self.current_job().is_none() {
            self.drop_connection();
            return;
        }
        let nothing_received = !self.response_started.get()
            && self.rbuf.borrow().is_empty()
            && self.socket.get().io().bytes_available() == 0;
        if nothing_received {
            self.connection_lost_before_response();
            return;
        }
        // Decode what is left: a close-delimited body ends here, a short one is an error.
        self.process();
        let Some(job) = self.current_job() else {
            return;
        };
        let paused = self.held.borrow().is_some()
            || (self.body_action.get() == BodyDecision::Deliver && !job.wants_data());
        if !paused {
            self.fail_and_close(
                NetworkError::RemoteHostClosedError,
                "Connection closed".into(),
            );
        }
        // Paused: resume() decodes the rest once the application reads.
    }

    /// The server closed before answering: retry once on a fresh connection if this was a
    /// reused keep-alive connection (the server timed it out), else report the close.
    fn connection_lost_before_response(&self) {
        let Some(job) = self.current_job() else {
            return;
        };
        if self.discarding.get() {
            // An aborted pipelined request: nothing to retry or report.
            self.detach_job();
            self.drop_connection();
            return;
        }
        let reused = self.exchanges.get() > 0;
        if reused && job.retry() {
            self.detach_job();
            self.drop_connection();
            if let Some(pool) = self.pool.upgrade() {
                pool.requeue_front(job);
            }
        } else {
            self.fail_and_close(
                NetworkError::RemoteHostClosedError,
                "Connection closed".into(),
            );
        }
    }

    fn on_error(&self, error: SocketError) {
        if self.state.get() == ConnState::Closed {
            return;
        }
        if error == SocketError::RemoteHostClosedError {
            self.on_eof();
            return;
        }
        if self.state.get() == ConnState::Busy
            && self.exchanges.get() > 0
            && !self.response_started.get()
        {
            self.connection_lost_before_response();
            return;
        }
        let detail = self.socket.get().io().error_string();
        let connecting = self.state.get() == ConnState::Connecting;
        let code = match (&self.key.route, connecting) {
            // The socket talks to the proxy: Qt names the proxy in the error.
            (Route::Forward(_), true) => proxy_error_for(error),
            _ => network_error_for(error),
        };
        let message = transport_error_string(code, &self.key.host, &detail);
        self.fail_and_close(code, message);
    }

    /// Ends the current job with `error` and closes the connection. Jobs waiting for its
    /// ALPN result end with the same error: Qt fails every request queued on the channel.
    fn fail_and_close(&self, error: NetworkError, message: String) {
        let job = self.detach_job();
        let riders = self.riders.take();
        self.drop_connection();
        if let Some(job) = job {
            job.fail(error, message.clone());
        }
        for rider in riders {
            rider.fail(error, message.clone());
        }
    }

    /// A job of this connection was aborted by the application. The current one leaves a
    /// half-read response, which makes the connection unusable (the pipelined requests go
    /// elsewhere). A pipelined one that is not answered yet stays in line: its response is
    /// read and dropped when its turn comes, so the connection stays in step.
    pub(crate) fn job_cancelled(&self) {
        let current_cancelled = match &*self.job.borrow() {
            // The current job of a connection is done only when it was just aborted, or
            // when it is an aborted pipelined one whose response is being dropped.
            Some(job) => job.is_done() && !self.discarding.get(),
            None => true,
        };
        if current_cancelled {
            if self.state.get() == ConnState::Connecting && self.promote_rider() {
                return; // nothing was sent yet: the connection goes on for the next job
            }
            self.detach_job();
            self.drop_connection();
        }
    }

    /// Makes the oldest live job waiting for the ALPN result the current one (the current
    /// one was aborted during the handshake); false if there is none.
    fn promote_rider(&self) -> bool {
        let next = {
            let mut riders = self.riders.borrow_mut();
            loop {
                match riders.pop_front() {
                    Some(job) if job.is_done() => continue,
                    other => break other,
                }
            }
        };
        let (Some(job), Some(me)) = (next, self.me.upgrade()) else {
            return false;
        };
        self.detach_job();
        job.attach(Rc::downgrade(&me) as Weak<dyn Carrier>);
        *self.job.borrow_mut() = Some(job);
        true
    }

    fn detach_job(&self) -> Option<Rc<dyn Exchange>> {
        let job = self.job.borrow_mut().take();
        if let Some(j) = &job {
            j.detach();
        }
        *self.held.borrow_mut() = None;
        job
    }

    fn release(&self, keep: bool) {
        if let Some(me) = self.me.upgrade() {
            self.release_rc(&me, keep);
        }
    }

    fn release_rc(&self, me: &Rc<H1Conn>, keep: bool) {
        match self.pool.upgrade() {
            Some(pool) => pool.release(me, keep),
            None => self.close(),
        }
    }

    /// Removes the connection from the pool and closes it.
    fn drop_connection(&self) {
        if let (Some(pool), Some(me)) = (self.pool.upgrade(), self.me.upgrade()) {
            pool.forget(&me);
            if self.state.get() != ConnState::Closed {
                pool.schedule_dispatch(self.key.clone());
            }
        }
        self.requeue_pipeline();
        self.return_riders();
        self.close();
    }

    /// Parks the connection for reuse; it closes itself after `expiry` unused.
    pub(crate) fn make_idle(&self, expiry: Duration) {
        self.state.set(ConnState::Idle);
        // One timer per connection, re-armed for every idle period (no object churn per
        // request).
        let timer = *self.idle_timer.borrow();
        let timer = timer.unwrap_or_else(|| {
            let timer = Timer::new();
            timer.set_single_shot(true);
            let weak = self.me.clone();
            timer.timeout().connect(move |_| {
                if let Some(c) = weak.upgrade() {
                    if c.is_idle() {
                        c.drop_connection();
                    }
                }
            });
            *self.idle_timer.borrow_mut() = Some(timer);
            timer
        });
        timer.start_interval(expiry);
    }

    pub(crate) fn close(&self) {
        if self.state.replace(ConnState::Closed) == ConnState::Closed {
            return;
        }
        self.socket.get().io().abort();
        if let Some(t) = self.idle_timer.borrow_mut().take() {
            t.destroy();
        }
    }
}

struct ProcessingGuard<'a>(&'a Cell<bool>);

impl Drop for ProcessingGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// A response decoder that leaves the fields as received (the reply keeps them that way, and
/// the `HeaderMap` would cost a hash and an allocation or two per field).
fn raw_field_decoder() -> ResponseDecoder {
    let mut decoder = ResponseDecoder::new(&http::Method::GET);
    decoder.set_header_map(false);
    decoder
}
