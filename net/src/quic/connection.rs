//! `QuicConnection`: one quinn-proto connection driven by the loop, its streams as signals.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::Instant;

use bytes::Bytes;
use quinn_proto::{
    ConnectionError, ConnectionEvent, ConnectionHandle, Dir, Event, ReadError, ReadableError,
    StreamEvent, StreamId, VarInt, WriteError,
};
use slotnet_core::{AsObject, EventLoop, Object, Signal, Timer};

use super::endpoint::EndpointCore;
use crate::ssl::{SslError, VerifyContext};

/// Why a connection ended (other than by [`QuicConnection::close`] on this side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuicError {
    /// The TLS handshake failed (a certificate refused on either side, no common ALPN
    /// protocol...): QUIC's CRYPTO_ERROR with the TLS alert.
    HandshakeFailed(String),
    /// No packet from the peer within the idle timeout (or no answer at all).
    TimedOut,
    /// The peer's application closed the connection with this code (HTTP/3's
    /// `H3_NO_ERROR` is 0x100).
    ClosedByPeer {
        /// The application error code.
        code: u64,
        /// The peer's reason text.
        reason: String,
    },
    /// The peer's or this side's QUIC stack closed the connection with a transport error.
    Transport(String),
    /// The peer reset the connection (stateless reset: it lost the connection's state).
    Reset,
}

impl fmt::Display for QuicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuicError::HandshakeFailed(s) => write!(f, "QUIC handshake failed: {s}"),
            QuicError::TimedOut => f.write_str("QUIC connection timed out"),
            QuicError::ClosedByPeer { code, reason } => {
                write!(
                    f,
                    "QUIC connection closed by the peer (code {code:#x}): {reason}"
                )
            }
            QuicError::Transport(s) => write!(f, "QUIC transport error: {s}"),
            QuicError::Reset => f.write_str("QUIC connection reset by the peer"),
        }
    }
}

impl std::error::Error for QuicError {}

impl QuicError {
    /// `None` for this side's own close.
    fn from_lost(reason: &ConnectionError) -> Option<QuicError> {
        let is_crypto = |code: u64| (0x100..0x200).contains(&code);
        Some(match reason {
            ConnectionError::LocallyClosed => return None,
            ConnectionError::TimedOut => QuicError::TimedOut,
            ConnectionError::Reset => QuicError::Reset,
            ConnectionError::ApplicationClosed(close) => QuicError::ClosedByPeer {
                code: close.error_code.into_inner(),
                reason: String::from_utf8_lossy(&close.reason).into_owned(),
            },
            ConnectionError::TransportError(e) if is_crypto(u64::from(e.code)) => {
                QuicError::HandshakeFailed(e.to_string())
            }
            ConnectionError::ConnectionClosed(close) if is_crypto(u64::from(close.error_code)) => {
                QuicError::HandshakeFailed(close.to_string())
            }
            other => QuicError::Transport(other.to_string()),
        })
    }
}

/// What a read from a stream gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamRead {
    /// Bytes, in order.
    Data(Bytes),
    /// Nothing now: `ready_read` will say when more came.
    Blocked,
    /// The peer finished the stream and everything was read.
    Finished,
    /// The peer reset the stream with this code.
    Reset(u64),
    /// No such stream, or it was read to its end already.
    Closed,
}

/// Why a write to a stream failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamWriteError {
    /// The peer asked to stop the stream (STOP_SENDING) with this code.
    Stopped(u64),
    /// No such stream, or it was finished or reset already, or the connection is closed.
    Closed,
}

impl fmt::Display for StreamWriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamWriteError::Stopped(code) => write!(f, "stream stopped by the peer ({code:#x})"),
            StreamWriteError::Closed => f.write_str("stream closed"),
        }
    }
}

impl std::error::Error for StreamWriteError {}

struct Signals {
    connected: Signal<()>,
    disconnected: Signal<()>,
    error_occurred: Signal<QuicError>,
    ssl_errors: Signal<Vec<SslError>>,
    stream_opened: Signal<u64>,
    ready_read: Signal<u64>,
    stream_writable: Signal<u64>,
    stream_finished: Signal<u64>,
    stream_stopped: Signal<(u64, u64)>,
    streams_available: Signal<()>,
}

pub(crate) struct ConnCore {
    obj: Object,
    weak: Weak<ConnCore>,
    endpoint: Weak<EndpointCore>,
    handle: ConnectionHandle,
    conn: RefCell<quinn_proto::Connection>,
    /// quinn-proto's next deadline, on the loop's timer queue. Owned by the endpoint: a
    /// connection whose handle was destroyed still closes and drains properly.
    timer: Timer,
    verify: VerifyContext,
    drive_posted: Cell<bool>,
    connected: Cell<bool>,
    closed: Cell<bool>,
    error: RefCell<Option<QuicError>>,
    transmit_buf: RefCell<Vec<u8>>,
    sig: Signals,
}

/// One QUIC connection (client or server side) on a [`QuicEndpoint`](super::QuicEndpoint).
///
/// A `Copy` handle to an [`Object`]. Streams are named by their QUIC stream id (`u64`):
/// [`open_bi`](Self::open_bi) / [`open_uni`](Self::open_uni) start one,
/// [`stream_opened`](Self::stream_opened) reports the peer's. Reads and writes never block:
/// [`read`](Self::read) gives what has arrived, [`write`](Self::write) takes what flow
/// control allows (0 when blocked; `stream_writable` says when to try again).
///
/// Destroying the handle closes the connection (code 0); it still drains on the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuicConnection {
    obj: Object,
}

impl AsObject for QuicConnection {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl ConnCore {
    pub(crate) fn create(
        endpoint: &Rc<EndpointCore>,
        handle: ConnectionHandle,
        conn: quinn_proto::Connection,
    ) -> Rc<ConnCore> {
        let obj = Object::with_data(Rc::new(()), None);
        let timer = Timer::with_parent(&endpoint.obj);
        timer.set_single_shot(true);
        let verify = VerifyContext::new();
        let core = Rc::new_cyclic(|weak: &Weak<ConnCore>| ConnCore {
            obj,
            weak: weak.clone(),
            endpoint: Rc::downgrade(endpoint),
            handle,
            conn: RefCell::new(conn),
            timer,
            verify: verify.clone(),
            drive_posted: Cell::new(false),
            connected: Cell::new(false),
            closed: Cell::new(false),
            error: RefCell::new(None),
            transmit_buf: RefCell::new(Vec::new()),
            sig: Signals {
                connected: obj.new_signal(),
                disconnected: obj.new_signal(),
                error_occurred: obj.new_signal(),
                ssl_errors: obj.new_signal(),
                stream_opened: obj.new_signal(),
                ready_read: obj.new_signal(),
                stream_writable: obj.new_signal(),
                stream_finished: obj.new_signal(),
                stream_stopped: obj.new_signal(),
                streams_available: obj.new_signal(),
            },
        });
        let weak = Rc::downgrade(&core);
        timer.timeout().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.conn.borrow_mut().handle_timeout(Instant::now());
                core.drive();
            }
        });
        // The hook runs inside the handshake (inside `handle_event`): it only reports; the
        // decision is the context's (`ignore_ssl_errors` from a slot, or beforehand).
        let ssl_errors = core.sig.ssl_errors.clone();
        verify.set_ssl_errors_hook(move |errors| {
            ssl_errors.emit(errors.to_vec());
            false
        });
        let weak = Rc::downgrade(&core);
        obj.destroyed().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                if !core.closed.get() {
                    core.conn
                        .borrow_mut()
                        .close(Instant::now(), VarInt::from_u32(0), Bytes::new());
                    core.schedule();
                }
            }
        });
        let _ = obj.set_data(core.clone());
        core
    }

    pub(crate) fn handle(&self) -> QuicConnection {
        QuicConnection { obj: self.obj }
    }

    /// Feeds an event from the endpoint; certificate verification may run inside.
    pub(crate) fn handle_event(&self, event: ConnectionEvent) {
        let _active = self.verify.enter();
        self.conn.borrow_mut().handle_event(event);
    }

    /// Drives the connection soon (once, however many calls ask before it runs).
    pub(crate) fn schedule(&self) {
        if self.drive_posted.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.drive_posted.set(false);
                core.drive();
            }
        });
    }

    /// Exchanges endpoint events, sends what is ready, re-arms the timer, then emits the
    /// connection's events (with no borrow held: slots may call back in).
    pub(crate) fn drive(&self) {
        let Some(endpoint) = self.endpoint.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut drained = false;
        loop {
            let event = self.conn.borrow_mut().poll_endpoint_events();
            let Some(event) = event else {
                break;
            };
            drained |= event.is_drained();
            let back = endpoint
                .endpoint
                .borrow_mut()
                .handle_event(self.handle, event);
            if let Some(back) = back {
                self.handle_event(back);
            }
        }
        {
            let mut buf = self.transmit_buf.borrow_mut();
            loop {
                buf.clear();
                let transmit = self.conn.borrow_mut().poll_transmit(now, 1, &mut buf);
                match transmit {
                    Some(t) => endpoint.send(&buf, &t),
                    None => break,
                }
            }
        }
        let deadline = self.conn.borrow_mut().poll_timeout();
        match deadline {
            Some(at) if !drained => {
                self.timer
                    .start_interval(at.saturating_duration_since(Instant::now()));
            }
            _ => self.timer.stop(),
        }
        let mut events = Vec::new();
        {
            let mut conn = self.conn.borrow_mut();
            while let Some(event) = conn.poll() {
                events.push(event);
            }
        }
        if drained {
            endpoint.forget(self.handle);
            self.timer.destroy();
        }
        drop(endpoint);
        for event in events {
            if !self.obj.is_alive() {
                return;
            }
            self.emit(event);
        }
    }

    fn emit(&self, event: Event) {
        match event {
            Event::HandshakeDataReady | Event::DatagramReceived | Event::DatagramsUnblocked => {}
            Event::Connected => {
                self.connected.set(true);
                self.sig.connected.emit(());
            }
            Event::ConnectionLost { reason } => {
                if self.closed.replace(true) {
                    return;
                }
                let error = QuicError::from_lost(&reason);
                *self.error.borrow_mut() = error.clone();
                if let Some(error) = error {
                    self.sig.error_occurred.emit(error);
                }
                if self.obj.is_alive() {
                    self.sig.disconnected.emit(());
                }
            }
            Event::Stream(StreamEvent::Opened { dir }) => loop {
                let id = self.conn.borrow_mut().streams().accept(dir);
                let Some(id) = id else {
                    break;
                };
                // A new stream gets no `Readable` event of its own: what came with it is
                // announced as if it had.
                let id = VarInt::from(id).into_inner();
                self.sig.stream_opened.emit(id);
                if !self.obj.is_alive() {
                    break;
                }
                self.sig.ready_read.emit(id);
                if !self.obj.is_alive() {
                    break;
                }
            },
            Event::Stream(StreamEvent::Readable { id }) => {
                self.sig.ready_read.emit(VarInt::from(id).into_inner())
            }
            Event::Stream(StreamEvent::Writable { id }) => {
                self.sig.stream_writable.emit(VarInt::from(id).into_inner())
            }
            Event::Stream(StreamEvent::Finished { id }) => {
                self.sig.stream_finished.emit(VarInt::from(id).into_inner())
            }
            Event::Stream(StreamEvent::Stopped { id, error_code }) => self
                .sig
                .stream_stopped
                .emit((VarInt::from(id).into_inner(), error_code.into_inner())),
            Event::Stream(StreamEvent::Available { .. }) => self.sig.streams_available.emit(()),
        }
    }
}

fn stream_id(id: u64) -> Option<StreamId> {
    VarInt::from_u64(id).ok().map(StreamId::from)
}

impl QuicConnection {
    fn core(&self) -> Option<Rc<ConnCore>> {
        self.obj.data::<ConnCore>()
    }

    /// The object behind this handle.
    pub fn object(&self) -> Object {
        self.obj
    }

    /// Emitted when the handshake has completed.
    pub fn connected(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.connected.clone())
    }

    /// Emitted once when the connection has ended, after `error_occurred` if it failed.
    pub fn disconnected(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.disconnected.clone())
    }

    /// Emitted with the reason when the connection fails or the peer closes it.
    pub fn error_occurred(&self) -> Signal<QuicError> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.error_occurred.clone())
    }

    /// Emitted inside the handshake with the certificate errors found (Qt's `sslErrors`).
    /// A slot may only call [`QuicConnection::ignore_ssl_errors`] (or this connection's
    /// [`verify_context`](Self::verify_context)) to let the handshake go on.
    pub fn ssl_errors(&self) -> Signal<Vec<SslError>> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.ssl_errors.clone())
    }

    /// Emitted with the id of each stream the peer opened.
    pub fn stream_opened(&self) -> Signal<u64> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.stream_opened.clone())
    }

    /// Emitted with a stream's id when it has data (or its end, or a reset) to read.
    pub fn ready_read(&self) -> Signal<u64> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.ready_read.clone())
    }

    /// Emitted with a stream's id when a write that was blocked may go on.
    pub fn stream_writable(&self) -> Signal<u64> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.stream_writable.clone())
    }

    /// Emitted with a stream's id when everything written to it, and its end, was
    /// acknowledged by the peer.
    pub fn stream_finished(&self) -> Signal<u64> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.stream_finished.clone())
    }

    /// Emitted with a stream's id and the peer's code when the peer asked to stop it.
    pub fn stream_stopped(&self) -> Signal<(u64, u64)> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.stream_stopped.clone())
    }

    /// Emitted when the peer allowed more streams.
    pub fn streams_available(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.streams_available.clone())
    }

    /// The context deciding on certificate errors (set a hook or ignore lists before the
    /// handshake, as with [`TlsSession`](crate::ssl::TlsSession)).
    pub fn verify_context(&self) -> Option<VerifyContext> {
        self.core().map(|c| c.verify.clone())
    }

    /// Lets the handshake continue despite the certificate errors (Qt's
    /// `ignoreSslErrors()`), before the handshake or from an `ssl_errors` slot.
    pub fn ignore_ssl_errors(&self) {
        if let Some(core) = self.core() {
            core.verify.ignore_ssl_errors();
        }
    }

    /// The certificate errors the handshake found, ignored or not.
    pub fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.core()
            .map(|c| c.verify.ssl_handshake_errors())
            .unwrap_or_default()
    }

    /// Whether the handshake has completed and the connection has not ended.
    pub fn is_connected(&self) -> bool {
        self.core()
            .is_some_and(|c| c.connected.get() && !c.closed.get())
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.core().is_none_or(|c| c.closed.get())
    }

    /// Why the connection ended (`None` while open, or after a local close).
    pub fn error(&self) -> Option<QuicError> {
        self.core().and_then(|c| c.error.borrow().clone())
    }

    /// The peer's address.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        let core = self.core()?;
        let conn = core.conn.try_borrow().ok()?;
        Some(conn.remote_address())
    }

    /// The ALPN protocol agreed in the handshake.
    pub fn negotiated_protocol(&self) -> Option<Vec<u8>> {
        let core = self.core()?;
        let conn = core.conn.try_borrow().ok()?;
        let data = conn.crypto_session().handshake_data()?;
        let data = data
            .downcast::<quinn_proto::crypto::rustls::HandshakeData>()
            .ok()?;
        data.protocol
    }

    /// The current round-trip time estimate.
    pub fn rtt(&self) -> Option<std::time::Duration> {
        let core = self.core()?;
        let conn = core.conn.try_borrow().ok()?;
        Some(conn.rtt())
    }

    fn open(&self, dir: Dir) -> Option<u64> {
        let core = self.core()?;
        let id = core.conn.try_borrow_mut().ok()?.streams().open(dir)?;
        Some(VarInt::from(id).into_inner())
    }

    /// Opens a bidirectional stream (`None` while the peer's stream limit is reached:
    /// `streams_available` says when to try again; or when closed).
    pub fn open_bi(&self) -> Option<u64> {
        self.open(Dir::Bi)
    }

    /// Opens a unidirectional stream (see [`QuicConnection::open_bi`]).
    pub fn open_uni(&self) -> Option<u64> {
        self.open(Dir::Uni)
    }

    /// Writes as much of `data` as flow and congestion control allow now: the count taken
    /// (0 when blocked: wait for `stream_writable`).
    pub fn write(&self, stream: u64, data: &[u8]) -> Result<usize, StreamWriteError> {
        let core = self.core().ok_or(StreamWriteError::Closed)?;
        let id = stream_id(stream).ok_or(StreamWriteError::Closed)?;
        let result = {
            let mut conn = core
                .conn
                .try_borrow_mut()
                .map_err(|_| StreamWriteError::Closed)?;
            conn.send_stream(id).write(data)
        };
        match result {
            Ok(n) => {
                core.schedule();
                Ok(n)
            }
            Err(WriteError::Blocked) => Ok(0),
            Err(WriteError::Stopped(code)) => Err(StreamWriteError::Stopped(code.into_inner())),
            Err(WriteError::ClosedStream) => Err(StreamWriteError::Closed),
        }
    }

    /// Ends the stream's sending side after what was written (FIN).
    pub fn finish(&self, stream: u64) -> Result<(), StreamWriteError> {
        let core = self.core().ok_or(StreamWriteError::Closed)?;
        let id = stream_id(stream).ok_or(StreamWriteError::Closed)?;
        let result = core
            .conn
            .try_borrow_mut()
            .map_err(|_| StreamWriteError::Closed)?
            .send_stream(id)
            .finish();
        core.schedule();
        result.map_err(|e| match e {
            quinn_proto::FinishError::Stopped(code) => StreamWriteError::Stopped(code.into_inner()),
            quinn_proto::FinishError::ClosedStream => StreamWriteError::Closed,
        })
    }

    /// Abandons the stream's sending side with `code` (RESET_STREAM).
    pub fn reset(&self, stream: u64, code: u64) {
        self.with_stream(stream, |conn, id| {
            let _ = conn
                .send_stream(id)
                .reset(VarInt::from_u64(code).unwrap_or(VarInt::MAX));
        });
    }

    /// Asks the peer to stop sending on the stream, with `code` (STOP_SENDING); what
    /// arrives after is discarded.
    pub fn stop(&self, stream: u64, code: u64) {
        self.with_stream(stream, |conn, id| {
            let _ = conn
                .recv_stream(id)
                .stop(VarInt::from_u64(code).unwrap_or(VarInt::MAX));
        });
    }

    fn with_stream(&self, stream: u64, f: impl FnOnce(&mut quinn_proto::Connection, StreamId)) {
        let (Some(core), Some(id)) = (self.core(), stream_id(stream)) else {
            return;
        };
        if let Ok(mut conn) = core.conn.try_borrow_mut() {
            f(&mut conn, id);
        }
        core.schedule();
    }

    /// Reads the next piece of the stream, at most `max` bytes.
    pub fn read(&self, stream: u64, max: usize) -> StreamRead {
        let (Some(core), Some(id)) = (self.core(), stream_id(stream)) else {
            return StreamRead::Closed;
        };
        let Ok(mut conn) = core.conn.try_borrow_mut() else {
            return StreamRead::Blocked;
        };
        let mut recv = conn.recv_stream(id);
        let mut chunks = match recv.read(true) {
            Ok(chunks) => chunks,
            Err(ReadableError::ClosedStream) | Err(ReadableError::IllegalOrderedRead) => {
                return StreamRead::Closed
            }
        };
        let outcome = match chunks.next(max) {
            Ok(Some(chunk)) => StreamRead::Data(chunk.bytes),
            Ok(None) => StreamRead::Finished,
            Err(ReadError::Blocked) => StreamRead::Blocked,
            Err(ReadError::Reset(code)) => StreamRead::Reset(code.into_inner()),
        };
        let transmit = chunks.finalize().should_transmit();
        drop(conn);
        if transmit {
            core.schedule();
        }
        outcome
    }

    /// Closes the connection with the application error `code` and `reason`; the peer is
    /// told, the streams end, `disconnected` follows (with no `error_occurred`).
    pub fn close(&self, code: u64, reason: &[u8]) {
        let Some(core) = self.core() else {
            return;
        };
        if let Ok(mut conn) = core.conn.try_borrow_mut() {
            conn.close(
                Instant::now(),
                VarInt::from_u64(code).unwrap_or(VarInt::MAX),
                Bytes::copy_from_slice(reason),
            );
        }
        core.schedule();
    }
}
