//! `SslSocket`, Qt's `QSslSocket`: a TCP connection with TLS (rustls) on the event loop.
//!
//! The socket owns a [`TcpSocket`] (the transport, as Qt's `QSslSocket` owns its "plain
//! socket") and a sans-IO [`TlsSession`](crate::ssl::TlsSession) between that transport and
//! the user's buffers; the engine that moves bytes between them is in `ssl_socket/engine.rs`.

pub(crate) mod engine;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use slotnet_core::{AsObject, Object, Signal};

use crate::error::{SocketError, SocketOption, SocketState};
use crate::ssl::{
    PeerVerifyMode, SslCertificate, SslCipher, SslConfiguration, SslError, SslKey, SslProtocol,
};
use crate::tcp::TcpSocket;

use engine::SslCore;

/// Whether and how a socket encrypts (Qt's `QSslSocket::SslMode`).
#[allow(clippy::enum_variant_names)] // Qt's names
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// No TLS: the socket behaves like a [`TcpSocket`].
    #[default]
    UnencryptedMode,
    /// The socket is (or is becoming) the client side of a TLS connection.
    SslClientMode,
    /// The socket is (or is becoming) the server side of a TLS connection.
    SslServerMode,
}

impl SslMode {
    /// Qt's name for the mode (`"SslClientMode"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SslMode::UnencryptedMode => "UnencryptedMode",
            SslMode::SslClientMode => "SslClientMode",
            SslMode::SslServerMode => "SslServerMode",
        }
    }
}

/// A TLS connection on the event loop (Qt's `QSslSocket`).
///
/// A `Copy` handle to an [`Object`]. Until encryption starts it behaves exactly like a
/// [`TcpSocket`]; the common socket API is also available through the
/// [`AbstractSocket`](crate::AbstractSocket) trait, so protocol code runs unchanged over TLS.
///
/// - Client: [`connect_to_host_encrypted`](Self::connect_to_host_encrypted), or
///   [`connect_to_host`](Self::connect_to_host) then
///   [`start_client_encryption`](Self::start_client_encryption) (STARTTLS).
/// - Server: [`start_server_encryption`](Self::start_server_encryption) on an accepted
///   connection (see [`SslServer`](crate::SslServer), which does it for you).
///
/// Certificate problems follow Qt's model: they are emitted synchronously on
/// [`ssl_errors`](Self::ssl_errors) (after one [`peer_verify_error`](Self::peer_verify_error)
/// per error) from inside the handshake. A slot that calls
/// [`ignore_ssl_errors`](Self::ignore_ssl_errors) lets the handshake continue, as does an
/// [`ignore_ssl_errors_list`](Self::ignore_ssl_errors_list) covering every error; otherwise
/// the handshake is torn down before any application data is sent, `error_occurred` reports
/// `SslHandshakeFailedError`, and the connection closes (`disconnected`).
///
/// Data written before [`encrypted`](Self::encrypted) is queued and sent once the handshake
/// is done. `ready_read` and the read functions deliver decrypted data; the read buffer limit
/// applies to it (a full buffer stops the reading of ciphertext, so the peer is slowed down).
/// `bytes_written` counts plaintext handed to TLS; `encrypted_bytes_written` counts
/// ciphertext that reached the kernel. `disconnect_from_host` flushes, sends close_notify,
/// then closes; `abort` closes at once.
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_net::SslSocket;
///
/// let socket = SslSocket::new();
/// socket.encrypted().connect(move |_| {
///     socket.write(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
/// });
/// socket.ssl_errors().connect(|errors| {
///     eprintln!("certificate problems: {errors:?}"); // not ignored: the handshake fails
/// });
/// socket.ready_read().connect(move |_| print!("{}", String::from_utf8_lossy(&socket.read_all())));
/// socket.disconnected().connect(|_| EventLoop::current().quit());
/// socket.connect_to_host_encrypted("example.com", 443);
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SslSocket {
    obj: Object,
}

impl Default for SslSocket {
    fn default() -> Self {
        SslSocket::new()
    }
}

impl AsObject for SslSocket {
    fn as_object(&self) -> Object {
        self.obj
    }
}

macro_rules! signal_getter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Signal<$ty> {
            self.core()
                .map_or_else(Signal::closed, |c| c.sig.$name.clone())
        }
    };
}

impl SslSocket {
    /// A new unconnected socket in `UnencryptedMode`.
    pub fn new() -> SslSocket {
        SslSocket {
            obj: SslCore::create(None, None),
        }
    }

    /// A new unconnected socket owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> SslSocket {
        SslSocket {
            obj: SslCore::create(Some(parent.as_object()), None),
        }
    }

    /// Takes over an existing TCP socket (typically a connected one, from a
    /// [`TcpServer`](crate::TcpServer) or [`TcpSocket::from_std`]), for instance after a
    /// plaintext STARTTLS exchange. The TCP socket becomes a child of the new socket and
    /// must no longer be used directly: **every connection to its signals is cut** (a
    /// `ready_read` slot written for the plaintext protocol would otherwise read the TLS
    /// records as text and break the handshake); connect to this socket's signals instead.
    /// Bytes it has buffered are kept. The state is the TCP socket's; call
    /// [`start_server_encryption`](Self::start_server_encryption) or
    /// [`start_client_encryption`](Self::start_client_encryption) next.
    ///
    /// Qt has no such function: its pattern is an `SslSocket` used in plain mode from the
    /// start ([`connect_to_host`](Self::connect_to_host), or a server's accepted
    /// connection wrapped at once), then `start_client_encryption`; that works here too and
    /// needs no take-over.
    pub fn from_tcp_socket(tcp: TcpSocket) -> SslSocket {
        let parent = tcp.as_object().parent();
        SslSocket {
            obj: SslCore::create(parent, Some(tcp)),
        }
    }

    pub(crate) fn core(&self) -> Option<std::rc::Rc<SslCore>> {
        SslCore::get(self.obj)
    }

    /// Whether the socket object still exists.
    pub fn is_alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Destroys the socket object now: the connection is closed at once, without signals.
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }

    /// Destroys the socket when control returns to the event loop.
    pub fn delete_later(&self) {
        self.obj.delete_later()
    }

    // ----- connecting and encryption ------------------------------------------------------

    /// Connects to `host` on `port` and starts the TLS handshake once connected (Qt's
    /// `connectToHostEncrypted`). The server's certificate is checked against `host` (or the
    /// [peer verify name](Self::set_peer_verify_name)). Signals: the TCP ones
    /// (`state_changed`, `host_found`, `connected`), then `encrypted` or, on failure,
    /// `ssl_errors`/`error_occurred`. Ignored (with `OperationError`) unless `Unconnected`.
    pub fn connect_to_host_encrypted(&self, host: &str, port: u16) {
        if let Some(c) = self.core() {
            c.connect_to_host(host, port, true)
        }
    }

    /// Connects without encryption (`UnencryptedMode`), as a [`TcpSocket`] would; call
    /// [`start_client_encryption`](Self::start_client_encryption) later to upgrade.
    pub fn connect_to_host(&self, host: &str, port: u16) {
        if let Some(c) = self.core() {
            c.connect_to_host(host, port, false)
        }
    }

    /// Connects to an address without encryption: [`Self::connect_to_host`] with its IP
    /// literal.
    pub fn connect_to_addr(&self, addr: SocketAddr) {
        self.connect_to_host(&addr.ip().to_string(), addr.port())
    }

    /// Starts the client handshake on a connected, unencrypted socket (STARTTLS). Bytes
    /// already read stay readable as plaintext. Ignored (with `OperationError`) unless the
    /// socket is `Connected` in `UnencryptedMode`; a configuration that cannot be used
    /// reports `SslInvalidUserDataError` and closes the connection.
    pub fn start_client_encryption(&self) {
        if let Some(c) = self.core() {
            c.start_encryption(false)
        }
    }

    /// Starts the server handshake on a connected, unencrypted socket, with the local
    /// certificate and key of [`ssl_configuration`](Self::ssl_configuration).
    pub fn start_server_encryption(&self) {
        if let Some(c) = self.core() {
            c.start_encryption(true)
        }
    }

    /// The socket's mode (`UnencryptedMode` until encryption starts).
    pub fn mode(&self) -> SslMode {
        self.core().map_or(SslMode::UnencryptedMode, |c| c.mode())
    }

    /// Whether the handshake has completed and the connection is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.core().is_some_and(|c| c.is_encrypted())
    }

    // ----- configuration ------------------------------------------------------------------

    /// The socket's TLS configuration; after the handshake it also carries what was
    /// negotiated (ALPN protocol, session protocol and cipher, peer certificate chain).
    pub fn ssl_configuration(&self) -> SslConfiguration {
        self.core()
            .map(|c| c.ssl_configuration())
            .unwrap_or_default()
    }

    /// Sets the TLS configuration used by the next handshake.
    pub fn set_ssl_configuration(&self, config: SslConfiguration) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| *cfg = config)
        }
    }

    /// Checks the server's certificate against `name` instead of the host connected to
    /// (also sent as SNI).
    pub fn set_peer_verify_name(&self, name: &str) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| cfg.set_peer_verify_name(name))
        }
    }

    /// The peer verify name (empty: the host connected to).
    pub fn peer_verify_name(&self) -> String {
        self.ssl_configuration().peer_verify_name().to_owned()
    }

    /// Sets how the peer's certificate is requested and verified.
    pub fn set_peer_verify_mode(&self, mode: PeerVerifyMode) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| cfg.set_peer_verify_mode(mode))
        }
    }

    /// How the peer's certificate is requested and verified.
    pub fn peer_verify_mode(&self) -> PeerVerifyMode {
        self.ssl_configuration().peer_verify_mode()
    }

    /// Sets the local certificate (the configuration's chain becomes just this one).
    pub fn set_local_certificate(&self, certificate: SslCertificate) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| cfg.set_local_certificate(certificate))
        }
    }

    /// Sets the local certificate chain, leaf first.
    pub fn set_local_certificate_chain(&self, chain: Vec<SslCertificate>) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| cfg.set_local_certificate_chain(chain))
        }
    }

    /// Sets the private key of the local certificate.
    pub fn set_private_key(&self, key: SslKey) {
        if let Some(c) = self.core() {
            c.update_configuration(|cfg| cfg.set_private_key(key))
        }
    }

    /// The peer's certificate (leaf), once the peer has presented it. Inside an
    /// `ssl_errors` slot it is the certificate the errors concern.
    pub fn peer_certificate(&self) -> Option<SslCertificate> {
        self.core().and_then(|c| c.peer_certificate())
    }

    /// The peer's certificate chain, leaf first (empty before the handshake).
    pub fn peer_certificate_chain(&self) -> Vec<SslCertificate> {
        self.core()
            .map(|c| c.ssl_configuration().peer_certificate_chain().to_vec())
            .unwrap_or_default()
    }

    /// The protocol version of the session (`UnknownProtocol` before the handshake).
    pub fn session_protocol(&self) -> SslProtocol {
        self.ssl_configuration().session_protocol()
    }

    /// The cipher suite of the session.
    pub fn session_cipher(&self) -> Option<SslCipher> {
        self.ssl_configuration().session_cipher()
    }

    /// The certificate errors the last handshake found, ignored or not (Qt's
    /// `sslHandshakeErrors`).
    pub fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.core()
            .map(|c| c.ssl_handshake_errors())
            .unwrap_or_default()
    }

    /// Ignores the certificate errors of this handshake (Qt's `ignoreSslErrors()`): call it
    /// from a slot connected to [`ssl_errors`](Self::ssl_errors) (or
    /// [`peer_verify_error`](Self::peer_verify_error)), or after `connect_to_host_encrypted`
    /// and before the errors are found. A new `connect_to_host_encrypted` forgets it.
    pub fn ignore_ssl_errors(&self) {
        if let Some(c) = self.core() {
            c.ignore_ssl_errors()
        }
    }

    /// Ignores exactly these errors (kind and certificate), in this and later handshakes:
    /// the handshake continues if every error found is in the list (Qt's
    /// `ignoreSslErrors(const QList<QSslError> &)`).
    pub fn ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        if let Some(c) = self.core() {
            c.ignore_ssl_errors_list(errors)
        }
    }

    // ----- buffers --------------------------------------------------------------------------

    /// The socket's state (`Unconnected` once destroyed). It follows the TCP connection:
    /// `Connected` during the handshake too (see [`Self::is_encrypted`]).
    pub fn state(&self) -> SocketState {
        self.core().map_or(SocketState::Unconnected, |c| c.state())
    }

    /// The last error, if any.
    pub fn error(&self) -> Option<SocketError> {
        self.core().and_then(|c| c.error())
    }

    /// A human-readable description of the last error (empty if none).
    pub fn error_string(&self) -> String {
        self.core().map(|c| c.error_string()).unwrap_or_default()
    }

    /// Decrypted bytes buffered and ready to read.
    pub fn bytes_available(&self) -> usize {
        self.core().map_or(0, |c| c.bytes_available())
    }

    /// Bytes written and not yet handed to TLS (in `UnencryptedMode`: not yet handed to the
    /// kernel).
    pub fn bytes_to_write(&self) -> usize {
        self.core().map_or(0, |c| c.bytes_to_write())
    }

    /// Ciphertext received and not yet decrypted (Qt's `encryptedBytesAvailable`).
    pub fn encrypted_bytes_available(&self) -> usize {
        self.core().map_or(0, |c| c.encrypted_bytes_available())
    }

    /// Ciphertext waiting for the kernel (Qt's `encryptedBytesToWrite`).
    pub fn encrypted_bytes_to_write(&self) -> usize {
        self.core().map_or(0, |c| c.encrypted_bytes_to_write())
    }

    /// Copies up to `buf.len()` buffered bytes into `buf`; returns how many.
    pub fn read(&self, buf: &mut [u8]) -> usize {
        self.core().map_or(0, |c| c.read(buf))
    }

    /// Takes every buffered byte.
    pub fn read_all(&self) -> Vec<u8> {
        self.core().map(|c| c.read_all()).unwrap_or_default()
    }

    /// Takes up to `max` buffered bytes without copying them.
    pub fn read_bytes(&self, max: usize) -> Bytes {
        self.core().map(|c| c.read_bytes(max)).unwrap_or_default()
    }

    /// Moves every buffered byte to the end of `dst` (without copying when `dst` is empty);
    /// returns how many.
    pub fn read_buf(&self, dst: &mut BytesMut) -> usize {
        self.core().map_or(0, |c| c.read_buf(dst))
    }

    /// Runs `f` on the read buffer itself: it may parse in place and `split_to`/`advance`
    /// what it consumed; the rest stays buffered. Not called on a destroyed socket.
    pub fn with_read_buffer(&self, f: &mut dyn FnMut(&mut BytesMut)) {
        if let Some(c) = self.core() {
            c.with_read_buffer(f)
        }
    }

    /// Copies up to `buf.len()` buffered bytes into `buf` without consuming them.
    pub fn peek(&self, buf: &mut [u8]) -> usize {
        self.core().map_or(0, |c| c.peek(buf))
    }

    /// Whether a whole line (ending in `\n`) is buffered.
    pub fn can_read_line(&self) -> bool {
        self.core().is_some_and(|c| c.can_read_line())
    }

    /// Takes bytes up to and including the first `\n`, at most `max_len` (0: no limit), or
    /// every buffered byte if there is no newline.
    pub fn read_line(&self, max_len: usize) -> Vec<u8> {
        self.core()
            .map(|c| c.read_line(max_len))
            .unwrap_or_default()
    }

    /// The read buffer's limit (0: unlimited, the default).
    pub fn read_buffer_size(&self) -> usize {
        self.core().map_or(0, |c| c.read_buffer_size())
    }

    /// Limits how many decrypted bytes are buffered (0: unlimited). When the buffer is full
    /// the socket stops reading ciphertext until the user reads, so a slow consumer slows
    /// the peer down instead of growing memory. (When the peer closes the connection, the
    /// little ciphertext still buffered is decrypted regardless of the limit.)
    pub fn set_read_buffer_size(&self, size: usize) {
        if let Some(c) = self.core() {
            c.set_read_buffer_size(size)
        }
    }

    /// Queues `data` for sending and returns its length; never blocks. With encryption it
    /// is sent once the handshake is done. Returns 0 (and sets `OperationError`) when the
    /// socket is unconnected or closing.
    pub fn write(&self, data: &[u8]) -> usize {
        self.core().map_or(0, |c| c.write(data))
    }

    /// Like [`Self::write`], without copying large chunks into the socket's queue.
    pub fn write_bytes(&self, data: Bytes) -> usize {
        self.core().map_or(0, |c| c.write_bytes(data))
    }

    /// Encrypts what it can and writes as much as the kernel takes right now, without
    /// blocking (Qt's `flush`); returns whether anything was written. Call it (or
    /// [`Self::wait_for_bytes_written`]) after [`Self::write`] before blocking the thread:
    /// otherwise nothing is sent until control is back in the loop.
    pub fn flush(&self) -> bool {
        self.core().is_some_and(|c| c.flush())
    }

    // ----- blocking waits ---------------------------------------------------------------------

    /// Blocks until the TCP connection is established, at most `msecs` milliseconds (-1: no
    /// limit); see [`TcpSocket::wait_for_connected`] for what blocking means here (only this
    /// socket is served; the rest of the loop waits). The handshake of
    /// `connect_to_host_encrypted` has started when it returns true; wait for it with
    /// [`Self::wait_for_encrypted`].
    pub fn wait_for_connected(&self, msecs: i32) -> bool {
        self.core().is_some_and(|c| c.wait_for_connected(msecs))
    }

    /// Blocks until the handshake has completed and `encrypted` has been emitted, at most
    /// `msecs` milliseconds (-1: no limit), connecting first if needed (Qt's
    /// `waitForEncrypted`). `ssl_errors` slots run from inside this call and may ignore the
    /// errors as usual. Returns false in `UnencryptedMode`, when the handshake fails, or on
    /// timeout (`error_occurred(SocketTimeoutError)`; the connection stays). Blocks the
    /// caller's loop like [`TcpSocket::wait_for_connected`].
    pub fn wait_for_encrypted(&self, msecs: i32) -> bool {
        self.core().is_some_and(|c| c.wait_for_encrypted(msecs))
    }

    /// Blocks until new decrypted data has been read and `ready_read` emitted, at most
    /// `msecs` milliseconds (-1: no limit); connects and completes the handshake first if
    /// needed. Timeouts as [`TcpSocket::wait_for_ready_read`].
    pub fn wait_for_ready_read(&self, msecs: i32) -> bool {
        self.core().is_some_and(|c| c.wait_for_ready_read(msecs))
    }

    /// Blocks until written data, encrypted, has reached the kernel, at most `msecs`
    /// milliseconds (-1: no limit); completes the handshake first if needed, as Qt. Returns
    /// false at once when nothing is waiting to be sent.
    pub fn wait_for_bytes_written(&self, msecs: i32) -> bool {
        self.core().is_some_and(|c| c.wait_for_bytes_written(msecs))
    }

    /// Blocks until the socket is `Unconnected`, at most `msecs` milliseconds (-1: no
    /// limit). Returns false when already unconnected, as Qt.
    pub fn wait_for_disconnected(&self, msecs: i32) -> bool {
        self.core().is_some_and(|c| c.wait_for_disconnected(msecs))
    }

    /// Closes the connection once the written data has been sent: the state is `Closing`
    /// meanwhile; with TLS a close_notify alert follows the data; then `Unconnected` and
    /// `disconnected`. Unread bytes stay readable. Cancels a connection attempt in progress.
    pub fn disconnect_from_host(&self) {
        if let Some(c) = self.core() {
            c.disconnect_from_host()
        }
    }

    /// Closes at once, without close_notify, dropping unsent and unread data; emits
    /// `state_changed(Unconnected)` and, if a connection existed, `disconnected`.
    pub fn abort(&self) {
        if let Some(c) = self.core() {
            c.abort()
        }
    }

    /// Qt's `close()`: [`Self::disconnect_from_host`], and unread bytes are dropped.
    pub fn close(&self) {
        if let Some(c) = self.core() {
            c.close()
        }
    }

    // ----- the transport ------------------------------------------------------------------

    /// Sets a TCP option (see [`SocketOption`]).
    pub fn set_socket_option(&self, option: SocketOption, value: i32) -> bool {
        self.core()
            .is_some_and(|c| c.plain().set_socket_option(option, value))
    }

    /// A TCP option's current value.
    pub fn socket_option(&self, option: SocketOption) -> Option<i32> {
        self.core().and_then(|c| c.plain().socket_option(option))
    }

    /// Limits how long the TCP connect may take, name lookup included (`None`: no limit).
    /// The handshake is not included.
    pub fn set_connect_timeout(&self, timeout: Option<Duration>) {
        if let Some(c) = self.core() {
            c.plain().set_connect_timeout(timeout)
        }
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.core().and_then(|c| c.plain().connect_timeout())
    }

    /// The local address and port of the connection.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.plain().local_socket_addr())
    }

    /// The local address of the connection.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.local_socket_addr().map(|a| a.ip())
    }

    /// The local port of the connection (0 when not connected).
    pub fn local_port(&self) -> u16 {
        self.local_socket_addr().map_or(0, |a| a.port())
    }

    /// The peer's address and port.
    pub fn peer_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.plain().peer_socket_addr())
    }

    /// The peer's address.
    pub fn peer_address(&self) -> Option<IpAddr> {
        self.peer_socket_addr().map(|a| a.ip())
    }

    /// The peer's port (0 when not connected).
    pub fn peer_port(&self) -> u16 {
        self.peer_socket_addr().map_or(0, |a| a.port())
    }

    /// The host name given to `connect_to_host*` (empty for accepted connections).
    pub fn peer_name(&self) -> String {
        self.core()
            .map(|c| c.plain().peer_name())
            .unwrap_or_default()
    }

    // ----- signals --------------------------------------------------------------------------

    signal_getter!(
        /// Emitted when the host name has been resolved.
        host_found: ()
    );
    signal_getter!(
        /// Emitted once the TCP connection is established (before the handshake).
        connected: ()
    );
    signal_getter!(
        /// Emitted when an established connection ends (after `state_changed(Unconnected)`).
        disconnected: ()
    );
    signal_getter!(
        /// Emitted on every state change, with the new state.
        state_changed: SocketState
    );
    signal_getter!(
        /// Emitted when an error occurs (`SslHandshakeFailedError` when the handshake
        /// fails, `SslInternalError` for a TLS failure afterwards, or a TCP error).
        error_occurred: SocketError
    );
    signal_getter!(
        /// Emitted when new decrypted bytes are buffered (not recursively).
        ready_read: ()
    );
    signal_getter!(
        /// Emitted when written bytes were encrypted and handed on, with their count (in
        /// `UnencryptedMode`: when they reached the kernel).
        bytes_written: u64
    );
    signal_getter!(
        /// Emitted when the peer ended its stream (close_notify or end of file).
        read_channel_finished: ()
    );
    signal_getter!(
        /// Emitted when the handshake has completed (Qt's `encrypted`).
        encrypted: ()
    );
    signal_getter!(
        /// Emitted synchronously from inside the handshake with every certificate error
        /// found; call [`SslSocket::ignore_ssl_errors`] from the slot to continue.
        ssl_errors: Vec<SslError>
    );
    signal_getter!(
        /// Emitted for each certificate error, before `ssl_errors` (Qt's `peerVerifyError`).
        peer_verify_error: SslError
    );
    signal_getter!(
        /// Emitted when the mode changes (to `SslClientMode` or `SslServerMode`).
        mode_changed: SslMode
    );
    signal_getter!(
        /// Emitted when ciphertext reached the kernel, with its count.
        encrypted_bytes_written: u64
    );
}

impl crate::AbstractSocket for SslSocket {
    fn state(&self) -> SocketState {
        SslSocket::state(self)
    }
    fn error(&self) -> Option<SocketError> {
        SslSocket::error(self)
    }
    fn error_string(&self) -> String {
        SslSocket::error_string(self)
    }
    fn bytes_available(&self) -> usize {
        SslSocket::bytes_available(self)
    }
    fn bytes_to_write(&self) -> usize {
        SslSocket::bytes_to_write(self)
    }
    fn read(&self, buf: &mut [u8]) -> usize {
        SslSocket::read(self, buf)
    }
    fn read_all(&self) -> Vec<u8> {
        SslSocket::read_all(self)
    }
    fn read_bytes(&self, max: usize) -> Bytes {
        SslSocket::read_bytes(self, max)
    }
    fn read_buf(&self, dst: &mut BytesMut) -> usize {
        SslSocket::read_buf(self, dst)
    }
    fn with_read_buffer(&self, f: &mut dyn FnMut(&mut BytesMut)) {
        SslSocket::with_read_buffer(self, f)
    }
    fn peek(&self, buf: &mut [u8]) -> usize {
        SslSocket::peek(self, buf)
    }
    fn can_read_line(&self) -> bool {
        SslSocket::can_read_line(self)
    }
    fn read_line(&self, max_len: usize) -> Vec<u8> {
        SslSocket::read_line(self, max_len)
    }
    fn read_buffer_size(&self) -> usize {
        SslSocket::read_buffer_size(self)
    }
    fn set_read_buffer_size(&self, size: usize) {
        SslSocket::set_read_buffer_size(self, size)
    }
    fn write(&self, data: &[u8]) -> usize {
        SslSocket::write(self, data)
    }
    fn write_bytes(&self, data: Bytes) -> usize {
        SslSocket::write_bytes(self, data)
    }
    fn flush(&self) -> bool {
        SslSocket::flush(self)
    }
    fn wait_for_connected(&self, msecs: i32) -> bool {
        SslSocket::wait_for_connected(self, msecs)
    }
    fn wait_for_ready_read(&self, msecs: i32) -> bool {
        SslSocket::wait_for_ready_read(self, msecs)
    }
    fn wait_for_bytes_written(&self, msecs: i32) -> bool {
        SslSocket::wait_for_bytes_written(self, msecs)
    }
    fn wait_for_disconnected(&self, msecs: i32) -> bool {
        SslSocket::wait_for_disconnected(self, msecs)
    }
    fn disconnect_from_host(&self) {
        SslSocket::disconnect_from_host(self)
    }
    fn abort(&self) {
        SslSocket::abort(self)
    }
    fn connected(&self) -> Signal<()> {
        SslSocket::connected(self)
    }
    fn disconnected(&self) -> Signal<()> {
        SslSocket::disconnected(self)
    }
    fn state_changed(&self) -> Signal<SocketState> {
        SslSocket::state_changed(self)
    }
    fn error_occurred(&self) -> Signal<SocketError> {
        SslSocket::error_occurred(self)
    }
    fn ready_read(&self) -> Signal<()> {
        SslSocket::ready_read(self)
    }
    fn bytes_written(&self) -> Signal<u64> {
        SslSocket::bytes_written(self)
    }
    fn read_channel_finished(&self) -> Signal<()> {
        SslSocket::read_channel_finished(self)
    }
}
