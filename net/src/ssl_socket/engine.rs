//! The socket glue behind [`SslSocket`](super::SslSocket): a [`TcpSocket`] (the transport)
//! below, a socket-free [`TlsPump`] (the rustls session and its ciphertext, `pump.rs`) in the
//! middle, the user's plaintext buffers ([`StreamBuffers`]) above.
//!
//! The TCP socket's signals drive everything: its `ready_read` runs a pass of the pump
//! ([`SslCore::pump`]), its `bytes_written` makes room for more ciphertext, its state
//! changes are mirrored; what a pass reports becomes this socket's signals. Memory stays
//! bounded on both paths: the TCP socket's read buffer is limited ([`CIPHER_READ_LIMIT`]) and
//! the pump takes ciphertext from it only while the plaintext buffer has room, so a slow
//! reader stops the TCP socket, which stops reading from the kernel, which closes the TCP
//! window; the pump encrypts only below its high-water mark of queued ciphertext.
//!
//! Re-entrancy: certificate verification runs inside a pass, where the `ssl_errors` slots
//! run synchronously. While the pump works it is taken out of its cell (so a slot can never
//! hit a `RefCell` borrow of it), and every emission is followed by a check of
//! `generation`, which changes whenever a connection ends or starts: a slot may abort,
//! reconnect or destroy the socket at any point.

use std::cell::{Cell, RefCell};

use std::rc::{Rc, Weak};
use std::time::Duration;

use std::cell::RefMut;

use bytes::{Bytes, BytesMut};
use slotnet_core::{AsObject, EventLoop, Object, Signal};

use crate::error::{SocketError, SocketOption, SocketState};
use crate::socket::SocketCore;
use crate::ssl::{
    SessionInfo, SslCertificate, SslConfiguration, SslError, TlsSession, VerifyContext,
};
use crate::stream::{BufferedStream, Signals, StreamBuffers};
use crate::tcp::TcpSocket;
use crate::wait::{Deadline, Step};

use super::conn_state::{ConnState, PeerEnd, TlsStage};
use super::pump::{Pass, PumpEvents, PumpIo, TlsPump};
use super::SslMode;
use crate::write_queue::WriteQueue;

/// Read buffer limit of the TCP socket underneath: how much ciphertext may wait there.
pub(crate) const CIPHER_READ_LIMIT: usize = 64 * 1024;

/// QSslSocket's own signals (the common ones are in [`Signals`]).
pub(crate) struct TlsSignals {
    pub(crate) encrypted: Signal<()>,
    pub(crate) ssl_errors: Signal<Vec<SslError>>,
    pub(crate) peer_verify_error: Signal<SslError>,
    pub(crate) mode_changed: Signal<SslMode>,
    pub(crate) encrypted_bytes_written: Signal<u64>,
}

impl TlsSignals {
    fn new(obj: &Object) -> TlsSignals {
        TlsSignals {
            encrypted: obj.new_signal(),
            ssl_errors: obj.new_signal(),
            peer_verify_error: obj.new_signal(),
            mode_changed: obj.new_signal(),
            encrypted_bytes_written: obj.new_signal(),
        }
    }
}

/// An `SslSocket`'s state, attached to its [`Object`].
pub(crate) struct SslCore {
    obj: Object,
    weak: Weak<SslCore>,
    plain: TcpSocket,
    state: Cell<SocketState>,
    mode: Cell<SslMode>,
    /// `connect_to_host_encrypted`: start the client handshake once connected.
    auto_handshake: Cell<bool>,
    config: RefCell<SslConfiguration>,

    /// The TLS pump; `None` while a pass has it out (`busy`) or when there is no session.
    tls: Cell<Option<Box<TlsPump>>>,
    busy: Cell<bool>,
    /// Work was asked for while the pump was busy: run it again afterwards.
    repump: Cell<bool>,
    pump_posted: Cell<bool>,
    /// The session's verification context (shared with it), reachable from slots.
    verify: RefCell<Option<VerifyContext>>,
    ignore_all: Cell<bool>,
    ignore_list: RefCell<Vec<SslError>>,
    /// The certificate the current `ssl_errors` concern (before the chain is recorded).
    verify_peer_cert: RefCell<Option<SslCertificate>>,
    /// The connection's TLS stage, close request and peer end (`conn_state.rs`).
    conn: Cell<ConnState>,
    /// Bumped when a connection starts or ends: posted work and slots from an older
    /// connection see the change and stop.
    generation: Cell<u64>,

    /// The plaintext read buffer and write queue, the error, the emission bookkeeping.
    pub(crate) buf: StreamBuffers,

    pub(crate) sig: Signals,
    pub(crate) tls_sig: TlsSignals,
}

impl SslCore {
    /// A new socket object over `plain` (or over a new TCP socket).
    pub(crate) fn create(parent: Option<Object>, plain: Option<TcpSocket>) -> Object {
        let obj = Object::with_data(Rc::new(()), parent);
        let plain = match plain {
            Some(tcp) => {
                // Cannot fail: both objects are alive and `obj` is new, so no cycle.
                let _ = tcp.as_object().set_parent(Some(obj));
                // The socket is taken over: slots connected for the plaintext protocol
                // (say, the `ready_read` that read "220 go ahead") would otherwise read the
                // TLS records as text and break the handshake.
                if let Some(core) = SocketCore::get(tcp.as_object()) {
                    core.sig.disconnect_all();
                }
                tcp
            }
            None => TcpSocket::with_parent(&obj),
        };
        plain.set_read_buffer_size(CIPHER_READ_LIMIT);
        let core = Rc::new_cyclic(|weak| SslCore {
            obj,
            weak: weak.clone(),
            plain,
            state: Cell::new(plain.state()),
            mode: Cell::new(SslMode::UnencryptedMode),
            auto_handshake: Cell::new(false),
            config: RefCell::new(SslConfiguration::default()),
            tls: Cell::new(None),
            busy: Cell::new(false),
            repump: Cell::new(false),
            pump_posted: Cell::new(false),
            verify: RefCell::new(None),
            ignore_all: Cell::new(false),
            ignore_list: RefCell::new(Vec::new()),
            verify_peer_cert: RefCell::new(None),
            conn: Cell::new(ConnState::default()),
            generation: Cell::new(0),
            buf: StreamBuffers::default(),
            sig: Signals::new(&obj),
            tls_sig: TlsSignals::new(&obj),
        });
        core.connect_plain();
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        obj
    }

    /// The TCP socket underneath.
    pub(crate) fn plain(&self) -> TcpSocket {
        self.plain
    }

    fn connect_plain(&self) {
        let p = self.plain;
        let w = self.weak.clone();
        p.host_found().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.sig.host_found.emit(());
            }
        });
        let w = self.weak.clone();
        p.connected().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.on_plain_connected();
            }
        });
        let w = self.weak.clone();
        p.state_changed().connect(move |s| {
            if let Some(c) = w.upgrade() {
                c.on_plain_state(*s);
            }
        });
        let w = self.weak.clone();
        p.error_occurred().connect(move |e| {
            if let Some(c) = w.upgrade() {
                c.on_plain_error(*e);
            }
        });
        let w = self.weak.clone();
        p.ready_read().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.pump();
            }
        });
        let w = self.weak.clone();
        p.bytes_written().connect(move |n| {
            if let Some(c) = w.upgrade() {
                c.on_plain_bytes_written(*n);
            }
        });
        let w = self.weak.clone();
        p.read_channel_finished().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.on_plain_read_finished();
            }
        });
        let w = self.weak.clone();
        p.disconnected().connect(move |_| {
            if let Some(c) = w.upgrade() {
                if !c.conn.get().eof_pending() {
                    c.sig.disconnected.emit(());
                }
            }
        });
    }

    // ----- state, errors, configuration ---------------------------------------------------

    pub(crate) fn state(&self) -> SocketState {
        self.state.get()
    }

    /// Applies a transition to the connection state; returns what it says to do.
    fn update_conn<R>(&self, f: impl FnOnce(&mut ConnState) -> R) -> R {
        let mut conn = self.conn.get();
        let result = f(&mut conn);
        self.conn.set(conn);
        result
    }

    /// Whether the connection of `generation` is still the current one.
    fn still(&self, generation: u64) -> bool {
        self.generation.get() == generation && self.obj.is_alive()
    }

    pub(crate) fn mode(&self) -> SslMode {
        self.mode.get()
    }

    fn set_mode(&self, mode: SslMode) {
        if self.mode.replace(mode) != mode {
            self.tls_sig.mode_changed.emit(mode);
        }
    }

    pub(crate) fn is_encrypted(&self) -> bool {
        self.conn.get().is_encrypted()
    }

    pub(crate) fn ssl_configuration(&self) -> SslConfiguration {
        self.config.borrow().clone()
    }

    pub(crate) fn update_configuration(&self, f: impl FnOnce(&mut SslConfiguration)) {
        f(&mut self.config.borrow_mut());
    }

    pub(crate) fn peer_certificate(&self) -> Option<SslCertificate> {
        let recorded = self.config.borrow().peer_certificate().cloned();
        recorded.or_else(|| self.verify_peer_cert.borrow().clone())
    }

    fn verify_context(&self) -> Option<VerifyContext> {
        self.verify.borrow().clone()
    }

    pub(crate) fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.verify_context()
            .map(|c| c.ssl_handshake_errors())
            .unwrap_or_default()
    }

    pub(crate) fn ignore_ssl_errors(&self) {
        self.ignore_all.set(true);
        if let Some(ctx) = self.verify_context() {
            ctx.ignore_ssl_errors();
        }
    }

    pub(crate) fn ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        if let Some(ctx) = self.verify_context() {
            ctx.set_ignore_ssl_errors_list(errors.clone());
        }
        *self.ignore_list.borrow_mut() = errors;
    }

    // ----- connection lifecycle -----------------------------------------------------------

    /// Forgets the per-connection TLS state (the session, queues, flags). Unread plaintext,
    /// the handshake errors and the negotiated session data stay queryable.
    fn end_connection(&self) {
        self.generation.set(self.generation.get() + 1);
        // When the pump has the session out, it drops it on seeing the new generation.
        drop(self.tls.take());
        self.update_conn(ConnState::end);
        self.buf.write_queue.borrow_mut().clear();
        self.buf.read_paused.set(false);
    }

    /// Resets everything for a new connection (or a new handshake on this one).
    fn begin_connection(&self) {
        self.end_connection();
        self.conn.set(ConnState::default());
        self.buf.clear_error();
        *self.verify.borrow_mut() = None;
        *self.verify_peer_cert.borrow_mut() = None;
        self.config
            .borrow_mut()
            .set_session_info(SessionInfo::default());
    }

    pub(crate) fn connect_to_host(&self, host: &str, port: u16, encrypted: bool) {
        if self.state.get() != SocketState::Unconnected {
            self.set_error(
                SocketError::OperationError,
                "Trying to connect while a connection is in progress or established",
            );
            return;
        }
        self.begin_connection();
        self.buf.read_buf.borrow_mut().clear();
        self.auto_handshake.set(encrypted);
        if encrypted {
            // As in Qt: a new encrypted connection forgets `ignore_ssl_errors()` (but keeps
            // the list of expected errors).
            self.ignore_all.set(false);
        }
        let generation = self.generation.get();
        self.set_mode(if encrypted {
            SslMode::SslClientMode
        } else {
            SslMode::UnencryptedMode
        });
        if self.still(generation) {
            self.plain.connect_to_host(host, port);
        }
    }

    /// `start_client_encryption` / `start_server_encryption`.
    pub(crate) fn start_encryption(&self, server: bool) {
        if self.state.get() != SocketState::Connected || self.mode.get() != SslMode::UnencryptedMode
        {
            self.set_error(
                SocketError::OperationError,
                "Encryption can only start on a connected, unencrypted socket",
            );
            return;
        }
        self.begin_tls(server);
    }

    /// Creates the session and sends (client) or waits for (server) the first flight.
    fn begin_tls(&self, server: bool) {
        // Plaintext read before STARTTLS stays readable; everything else starts afresh.
        let unread = std::mem::take(&mut *self.buf.read_buf.borrow_mut());
        let queued = std::mem::take(&mut *self.buf.write_queue.borrow_mut());
        self.begin_connection();
        *self.buf.read_buf.borrow_mut() = unread;
        *self.buf.write_queue.borrow_mut() = queued;
        let generation = self.generation.get();
        let config = self.config.borrow().clone();
        let session = if server {
            log::debug!(target: crate::log_target::SSL, "TLS handshake started (server side)");
            TlsSession::server(&config)
        } else {
            let mut host = self.plain.peer_name();
            if host.is_empty() {
                host = self
                    .plain
                    .peer_address()
                    .map(|ip| ip.to_string())
                    .unwrap_or_default();
            }
            log::debug!(target: crate::log_target::SSL, "TLS handshake started with {host}, ALPN offers: {}", config.allowed_next_protocols().iter().map(|p| String::from_utf8_lossy(p)).collect::<Vec<_>>().join(","));
            TlsSession::client(&config, &host)
        };
        let tls = match session {
            Ok(tls) => tls,
            Err(e) => {
                self.update_conn(ConnState::fail);
                self.report_error(SocketError::SslInvalidUserDataError, &e.to_string());
                if self.still(generation) {
                    self.plain.abort();
                }
                return;
            }
        };
        let pump = TlsPump::new(tls);
        self.install_verify(pump.verify_context());
        self.tls.set(Some(Box::new(pump)));
        self.update_conn(|c| c.tls = TlsStage::Handshaking);
        self.set_mode(if server {
            SslMode::SslServerMode
        } else {
            SslMode::SslClientMode
        });
        if self.still(generation) {
            self.pump();
        }
    }

    fn install_verify(&self, ctx: &VerifyContext) {
        let ctx = ctx.clone();
        if self.ignore_all.get() {
            ctx.ignore_ssl_errors();
        }
        ctx.set_ignore_ssl_errors_list(self.ignore_list.borrow().clone());
        let weak = self.weak.clone();
        ctx.set_ssl_errors_hook(move |errors| {
            if let Some(core) = weak.upgrade() {
                core.on_ssl_errors(errors);
            }
            // The slots decide through `ignore_ssl_errors`, which sets the context's flag.
            false
        });
        *self.verify.borrow_mut() = Some(ctx);
    }

    /// Runs inside the handshake, from the certificate verifier.
    fn on_ssl_errors(&self, errors: &[SslError]) {
        log::debug!(target: crate::log_target::SSL, "Certificate verification errors: {}", SslError::join_names(errors));
        *self.verify_peer_cert.borrow_mut() = errors.iter().find_map(|e| e.certificate().cloned());
        let generation = self.generation.get();
        for error in errors {
            self.tls_sig.peer_verify_error.emit(error.clone());
            if !self.still(generation) {
                return;
            }
        }
        self.tls_sig.ssl_errors.emit(errors.to_vec());
    }

    fn on_plain_connected(&self) {
        let generation = self.generation.get();
        if self.auto_handshake.get() && self.mode.get() == SslMode::SslClientMode {
            // Qt starts the handshake before emitting `connected`.
            self.begin_tls(false);
            // `begin_tls` starts a new generation; only a failure ends the connection.
            if !self.obj.is_alive() || self.state.get() != SocketState::Connected {
                return;
            }
        } else if !self.still(generation) {
            return;
        }
        self.sig.connected.emit(());
    }

    fn on_plain_state(&self, state: SocketState) {
        if self.conn.get().eof_pending() {
            // Replayed by `finish_eof` once the user has read what came before the end.
            return;
        }
        if state == SocketState::Closing && self.state.get() == SocketState::Closing {
            // We started closing (TLS shutdown) before the transport did.
            return;
        }
        if state == SocketState::Unconnected {
            self.end_connection();
        }
        if self.state.replace(state) != state {
            self.sig.state_changed.emit(state);
        }
    }

    fn on_plain_error(&self, error: SocketError) {
        if self.update_conn(|c| c.withhold(error)) {
            return;
        }
        if self.conn.get().failed() {
            // The TLS failure was reported; what the transport says while closing is not news.
            return;
        }
        if !self.update_conn(|c| c.report_close(error)) {
            return;
        }
        self.report_error(error, &self.plain.error_string());
    }

    fn on_plain_bytes_written(&self, n: u64) {
        if self.mode.get() == SslMode::UnencryptedMode {
            self.emit_bytes_written(n);
            return;
        }
        let generation = self.generation.get();
        self.tls_sig.encrypted_bytes_written.emit(n);
        if self.still(generation)
            && (!self.buf.write_queue.borrow().is_empty() || self.conn.get().close_requested)
        {
            // Room for more ciphertext. Posted, not direct: this runs inside the TCP socket's
            // flush, which the pump itself calls.
            self.post_pump();
        }
    }

    /// The transport reached end of file. If bytes still wait behind a full read buffer, the
    /// end of the stream is reported only once the user has read them (`finish_eof`).
    fn on_plain_read_finished(&self) {
        let generation = self.generation.get();
        self.pump();
        if !self.still(generation) {
            return;
        }
        let undelivered = self.buf.read_paused.get()
            || self.buffered_ciphertext() > 0
            || self.plain.bytes_available() > 0;
        if undelivered && self.conn.get().peer_end != PeerEnd::Finished {
            self.update_conn(ConnState::hold_end);
            return;
        }
        if self.update_conn(ConnState::finish_read) {
            self.sig.read_channel_finished.emit(());
        }
    }

    /// The user has read everything the transport delivered before its end of file: report
    /// the end of the stream and the close the transport signalled meanwhile.
    fn finish_eof(&self) {
        let Some(error) = self.update_conn(ConnState::release_end) else {
            return;
        };
        let generation = self.generation.get();
        if self.update_conn(ConnState::finish_read) {
            self.sig.read_channel_finished.emit(());
            if !self.still(generation) {
                return;
            }
        }
        if self.update_conn(|c| c.report_close(error)) {
            self.report_error(error, error.description());
            if !self.still(generation) {
                return;
            }
        }
        self.close_transport();
    }

    /// Closes the transport after what it has queued; if it is closed already (its close
    /// was held back), ends this socket's connection the way the transport would have.
    fn close_transport(&self) {
        if self.plain.state() != SocketState::Unconnected {
            self.plain.disconnect_from_host();
            return;
        }
        let previous = self.state.get();
        self.end_connection();
        if previous == SocketState::Connected {
            self.state.set(SocketState::Closing);
            self.sig.state_changed.emit(SocketState::Closing);
        }
        if previous != SocketState::Unconnected && self.obj.is_alive() {
            self.state.set(SocketState::Unconnected);
            self.sig.state_changed.emit(SocketState::Unconnected);
            if self.obj.is_alive() {
                self.sig.disconnected.emit(());
            }
        }
    }

    /// The peer sent close_notify: like a TCP socket seeing end of file.
    fn on_remote_closed(&self) {
        // Whatever the transport said after this is covered by what follows.
        self.update_conn(ConnState::drop_held_end);
        let generation = self.generation.get();
        if self.update_conn(ConnState::finish_read) {
            self.sig.read_channel_finished.emit(());
            if !self.still(generation) {
                return;
            }
        }
        if self.update_conn(|c| c.report_close(SocketError::RemoteHostClosedError)) {
            self.report_error(
                SocketError::RemoteHostClosedError,
                SocketError::RemoteHostClosedError.description(),
            );
            if !self.still(generation) {
                return;
            }
        }
        // Pending writes are still flushed, then our close_notify answers the peer's.
        self.disconnect_from_host();
    }

    /// A TLS failure: the alert rustls produced has been handed to the transport; report
    /// and close after it.
    fn fail_tls(&self, code: SocketError, error: rustls::Error) {
        let generation = self.generation.get();
        self.update_conn(ConnState::fail);
        drop(self.tls.take());
        let verify_errors = self.ssl_handshake_errors();
        let message = match (&error, verify_errors.first()) {
            (
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented,
                Some(first),
            ) => first.error_string().to_owned(),
            _ => error.to_string(),
        };
        log::debug!(target: crate::log_target::SSL, "TLS error: {} ({message})", code.name());
        self.report_error(code, &message);
        if self.still(generation) {
            self.close_transport();
        }
    }

    // ----- the pump -----------------------------------------------------------------------

    fn post_pump(&self) {
        if self.pump_posted.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        let generation = self.generation.get();
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.pump_posted.set(false);
                if core.still(generation) {
                    core.pump();
                }
            }
        });
    }

    /// Runs a pass of the TLS pump (ciphertext in → plaintext to the read buffer, the write
    /// queue → ciphertext out), hands its output to the transport, then emits what happened.
    fn pump(&self) {
        if self.mode.get() == SslMode::UnencryptedMode {
            self.move_plain_data();
            return;
        }
        if self.busy.get() {
            self.repump.set(true);
            return;
        }
        let Some(mut tls) = self.tls.take() else {
            return;
        };
        let generation = self.generation.get();
        self.busy.set(true);
        let pass = tls.pass(&Glue {
            core: self,
            generation,
        });
        self.busy.set(false);
        let ev = match pass {
            // A slot ended the connection from inside the handshake: drop this session.
            Pass::Stale => return,
            Pass::Done(ev) => {
                if ev.read_paused {
                    self.buf.read_paused.set(true);
                }
                Ok(ev)
            }
            Pass::Failed { code, error } => Err((code, error)),
        };
        // Whatever happened, send what rustls produced (after a failure: its alert).
        let output = tls.take_output();
        self.tls.set(Some(tls));
        if let Some(ciphertext) = output {
            self.plain.write_bytes(ciphertext);
            // Now rather than on the next iteration: a response goes out without delay.
            self.plain.flush();
            if !self.still(generation) {
                return;
            }
        }
        match ev {
            Ok(ev) => self.emit_events(generation, ev),
            Err((code, error)) => self.fail_tls(code, error),
        }
    }

    fn emit_events(&self, generation: u64, ev: PumpEvents) {
        if ev.handshake_done {
            self.update_conn(|c| c.tls = TlsStage::Encrypted);
            if let Some(info) = ev.session_info {
                crate::log_target::handshake_done(&info, || self.plain.peer_name());
                self.config.borrow_mut().set_session_info(info);
            }
            self.tls_sig.encrypted.emit(());
            if !self.still(generation) {
                return;
            }
        }
        if ev.plaintext > 0 {
            self.emit_ready_read();
            if !self.still(generation) {
                return;
            }
        }
        if ev.written > 0 {
            self.emit_bytes_written(ev.written);
            if !self.still(generation) {
                return;
            }
        }
        if ev.close_notify {
            self.on_remote_closed();
            if !self.still(generation) {
                return;
            }
        }
        if ev.close_transport {
            self.close_transport();
            if !self.still(generation) {
                return;
            }
        }
        if ev.input_exhausted && self.conn.get().eof_pending() {
            self.finish_eof();
            if !self.still(generation) {
                return;
            }
        }
        if self.repump.replace(false) {
            self.post_pump();
        }
    }

    /// `UnencryptedMode`: the TCP socket's bytes are the plaintext.
    fn move_plain_data(&self) {
        let room = self.buf.read_room();
        if room == 0 {
            self.buf.read_paused.set(true);
            return;
        }
        let moved = {
            let mut buf = self.buf.read_buf.borrow_mut();
            if room == usize::MAX {
                self.plain.read_buf(&mut buf)
            } else {
                let bytes = self.plain.read_bytes(room);
                buf.extend_from_slice(&bytes);
                bytes.len()
            }
        };
        let exhausted = self.plain.bytes_available() == 0;
        if !exhausted {
            self.buf.read_paused.set(true);
        }
        let generation = self.generation.get();
        if moved > 0 {
            self.emit_ready_read();
        }
        if exhausted && self.still(generation) && self.conn.get().eof_pending() {
            self.finish_eof();
        }
    }

    // ----- signals with Qt's non-recursion --------------------------------------------------

    fn emit_ready_read(&self) {
        self.buf.emit_ready_read(&self.sig.ready_read);
    }

    fn emit_bytes_written(&self, n: u64) {
        self.buf.emit_bytes_written(&self.sig.bytes_written, n);
    }

    // ----- reading ------------------------------------------------------------------------

    pub(crate) fn encrypted_bytes_available(&self) -> usize {
        if self.mode.get() == SslMode::UnencryptedMode {
            return 0;
        }
        self.buffered_ciphertext() + self.plain.bytes_available()
    }

    // ----- writing ------------------------------------------------------------------------

    pub(crate) fn write(&self, data: &[u8]) -> usize {
        if self.mode.get() == SslMode::UnencryptedMode {
            return self.plain.write(data);
        }
        self.queue_slice(data)
    }

    pub(crate) fn write_bytes(&self, data: Bytes) -> usize {
        if self.mode.get() == SslMode::UnencryptedMode {
            return self.plain.write_bytes(data);
        }
        self.queue_bytes(data)
    }

    pub(crate) fn bytes_to_write(&self) -> usize {
        if self.mode.get() == SslMode::UnencryptedMode {
            return self.plain.bytes_to_write();
        }
        self.buf.write_queue.borrow().len()
    }

    pub(crate) fn encrypted_bytes_to_write(&self) -> usize {
        if self.mode.get() == SslMode::UnencryptedMode {
            return 0;
        }
        self.plain.bytes_to_write()
    }

    pub(crate) fn flush(&self) -> bool {
        if self.mode.get() == SslMode::UnencryptedMode {
            return self.plain.flush();
        }
        let before = self.buf.write_queue.borrow().len();
        self.pump();
        let encrypted_some = self.buf.write_queue.borrow().len() < before;
        self.plain.flush() || encrypted_some
    }

    // ----- closing ------------------------------------------------------------------------

    /// Ciphertext the pump has taken from the transport and rustls has not accepted (0 while
    /// a pass runs).
    fn buffered_ciphertext(&self) -> usize {
        let tls = self.tls.take();
        let n = tls.as_ref().map_or(0, |t| t.buffered_ciphertext());
        self.tls.set(tls);
        n
    }

    fn has_session(&self) -> bool {
        if self.busy.get() {
            return true;
        }
        let tls = self.tls.take();
        let present = tls.is_some();
        self.tls.set(tls);
        present
    }

    pub(crate) fn disconnect_from_host(&self) {
        match self.state.get() {
            SocketState::Unconnected | SocketState::Closing => {}
            SocketState::Connected if self.has_session() => {
                let generation = self.generation.get();
                self.state.set(SocketState::Closing);
                self.sig.state_changed.emit(SocketState::Closing);
                if !self.still(generation) {
                    return;
                }
                self.update_conn(|c| c.close_requested = true);
                self.pump();
            }
            _ => self.close_transport(),
        }
    }

    pub(crate) fn abort(&self) {
        let previous = self.state.get();
        self.end_connection();
        self.buf.read_buf.borrow_mut().clear();
        self.plain.abort();
        // The transport reports its own close (mirrored above); our own `Closing` state
        // may be all that is left to end.
        if self.state.get() != SocketState::Unconnected && self.obj.is_alive() {
            self.state.set(SocketState::Unconnected);
            self.sig.state_changed.emit(SocketState::Unconnected);
            if matches!(previous, SocketState::Connected | SocketState::Closing) {
                self.sig.disconnected.emit(());
            }
        }
    }

    pub(crate) fn close(&self) {
        self.disconnect_from_host();
        self.buf.read_buf.borrow_mut().clear();
    }
}

// ----- blocking waits (Qt's waitFor*; see `wait.rs`) ---------------------------------------

impl SslCore {
    fn plain_core(&self) -> Option<Rc<SocketCore>> {
        SocketCore::get(self.plain.as_object())
    }

    /// For a server waiting on several connections: the work the loop would do for this
    /// one next (a posted pump, the transport's deferred reads and writes).
    pub(crate) fn run_deferred(&self, deadline: Deadline) -> bool {
        if self.pump_posted.replace(false) {
            self.pump();
            return true;
        }
        self.plain_core()
            .is_some_and(|plain| plain.run_deferred(deadline))
    }

    /// The transport's descriptor and events, for a wait that polls several connections.
    pub(crate) fn wait_interest(&self) -> Option<libc::pollfd> {
        self.plain_core().and_then(|plain| plain.wait_interest())
    }

    /// Handles what `poll(2)` reported for [`Self::wait_interest`].
    pub(crate) fn on_polled(&self) {
        if let Some(plain) = self.plain_core() {
            plain.on_polled();
        }
    }

    pub(crate) fn wait_for_connected(&self, msecs: i32) -> bool {
        let Some(plain) = self.plain_core() else {
            return false;
        };
        let connected = plain.wait_for_connected(msecs);
        if !connected && plain.error() == Some(SocketError::SocketTimeoutError) {
            self.set_error(
                SocketError::SocketTimeoutError,
                SocketError::SocketTimeoutError.description(),
            );
        }
        connected && self.state.get() == SocketState::Connected
    }

    pub(crate) fn wait_for_encrypted(&self, msecs: i32) -> bool {
        if self.conn.get().is_encrypted() {
            return true;
        }
        if self.mode.get() == SslMode::UnencryptedMode
            || self.state.get() == SocketState::Unconnected
        {
            return false;
        }
        let Some(deadline) = self.wait_connected_first(msecs) else {
            return false;
        };
        self.wait_until(deadline, |c| c.conn.get().tls == TlsStage::Encrypted)
    }

    pub(crate) fn wait_for_bytes_written(&self, msecs: i32) -> bool {
        if self.state.get() == SocketState::Unconnected {
            return false;
        }
        if self.mode.get() == SslMode::UnencryptedMode {
            return self
                .plain_core()
                .is_some_and(|p| p.wait_for_bytes_written(msecs));
        }
        let deadline = Deadline::after_msecs(msecs);
        // As Qt: the handshake first, so that its own records do not count as our bytes.
        if !self.conn.get().is_encrypted() && !self.wait_for_encrypted(msecs) {
            return false;
        }
        let Some(plain) = self.plain_core() else {
            return false;
        };
        if self.buf.write_queue.borrow().is_empty() && plain.bytes_to_write() == 0 {
            return false;
        }
        let before = plain.written_count();
        // Encrypts what the high-water mark allows and hands it to the kernel now.
        self.pump();
        self.wait_until(deadline, |_| plain.written_count() != before)
    }

    pub(crate) fn set_socket_option(&self, option: SocketOption, value: i32) -> bool {
        self.plain.set_socket_option(option, value)
    }

    pub(crate) fn socket_option(&self, option: SocketOption) -> Option<i32> {
        self.plain.socket_option(option)
    }

    pub(crate) fn set_connect_timeout(&self, timeout: Option<Duration>) {
        self.plain.set_connect_timeout(timeout)
    }

    pub(crate) fn connect_timeout(&self) -> Option<Duration> {
        self.plain.connect_timeout()
    }
}

impl BufferedStream for SslCore {
    fn buffers(&self) -> &StreamBuffers {
        &self.buf
    }

    fn signals(&self) -> &Signals {
        &self.sig
    }

    fn object(&self) -> Object {
        self.obj
    }

    fn state(&self) -> SocketState {
        self.state.get()
    }

    fn generation(&self) -> u64 {
        self.generation.get()
    }

    fn accepts_writes(&self) -> bool {
        matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting | SocketState::Connected
        ) && !self.conn.get().failed()
    }

    fn after_queue(&self) {
        self.post_pump();
    }

    /// After the user consumed buffered bytes: resume reading if it had stopped on a full
    /// buffer (posted: no new edge will announce the bytes already waiting).
    fn after_consume(&self) {
        if self.buf.read_paused.get() && self.buf.read_room() > 0 {
            self.buf.read_paused.set(false);
            self.post_pump();
        }
    }

    /// One step of a blocking wait: the pump the loop would run next, else one step of the
    /// transport (whose signals drive the pump, as in the loop).
    fn wait_step(&self, deadline: Deadline) -> Step {
        if self.pump_posted.replace(false) {
            // The posted call still runs later; an extra pass finds nothing to do.
            self.pump();
            return Step::Progressed;
        }
        match self.plain_core() {
            Some(plain) => plain.wait_step(deadline),
            None => Step::Stuck,
        }
    }

    fn wait_connected_first(&self, msecs: i32) -> Option<Deadline> {
        let deadline = Deadline::after_msecs(msecs);
        if matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting
        ) && !self.wait_for_connected(msecs)
        {
            return None;
        }
        Some(deadline)
    }
}

/// The pump's view of an `SslCore` during one pass: the TCP socket's received ciphertext
/// and queue, the user's buffers, and whether connection `generation` is still current.
struct Glue<'a> {
    core: &'a SslCore,
    generation: u64,
}

impl PumpIo for Glue<'_> {
    fn plaintext_room(&self) -> usize {
        self.core.buf.read_room()
    }

    fn plaintext(&self) -> RefMut<'_, BytesMut> {
        self.core.buf.read_buf.borrow_mut()
    }

    fn take_ciphertext(&self, dst: &mut BytesMut) {
        self.core.plain.read_buf(dst);
    }

    fn ciphertext_queued(&self) -> usize {
        self.core.plain.bytes_to_write()
    }

    fn write_queue(&self) -> RefMut<'_, WriteQueue> {
        self.core.buf.write_queue.borrow_mut()
    }

    fn close_requested(&self) -> bool {
        self.core.conn.get().close_requested
    }

    fn still_current(&self) -> bool {
        self.core.still(self.generation)
    }
}
