//! `SslSocket`, Qt's `QSslSocket`: a TCP connection with TLS (rustls) on the event loop.
//!
//! The socket owns a [`TcpSocket`] (the transport, as Qt's `QSslSocket` owns its "plain
//! socket") and a sans-IO [`TlsSession`](crate::ssl::TlsSession) between that transport and
//! the user's buffers; the engine that moves bytes between them is in `ssl_socket/engine.rs`.

mod conn_state;
pub(crate) mod engine;
mod pump;

use std::net::{IpAddr, SocketAddr};

use slotnet_core::{AsObject, Object, Signal};

use crate::abstract_socket::impl_stream_socket;
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

/// A getter for one of the TLS socket's own signals (`tls_sig`).
macro_rules! signal_getter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(&self) -> Signal<$ty> {
            self.core()
                .map_or_else(Signal::closed, |c| c.tls_sig.$name.clone())
        }
    };
}

impl_stream_socket!(SslSocket => SslCore, tls);

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

    // ----- ciphertext and the handshake ----------------------------------------------------------------

    /// Ciphertext received and not yet decrypted (Qt's `encryptedBytesAvailable`).
    pub fn encrypted_bytes_available(&self) -> usize {
        self.core().map_or(0, |c| c.encrypted_bytes_available())
    }

    /// Ciphertext waiting for the kernel (Qt's `encryptedBytesToWrite`).
    pub fn encrypted_bytes_to_write(&self) -> usize {
        self.core().map_or(0, |c| c.encrypted_bytes_to_write())
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

    // ----- the transport ------------------------------------------------------------------

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

    /// Emitted when the host name has been resolved.
    pub fn host_found(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.host_found.clone())
    }
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
