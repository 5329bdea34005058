//! `TlsSession`: one sans-IO TLS connection (client or server) for the socket layer.
//!
//! The socket feeds it ciphertext from the wire, takes ciphertext to send, and moves
//! plaintext in and out; the session never touches a socket. Certificate verification runs
//! inside [`TlsSession::process_new_packets`] with this session's [`VerifyContext`] active,
//! so the `sslErrors` hook runs synchronously on the caller's thread.
//!
//! A server session first reads the ClientHello with rustls' `Acceptor` so that an ALPN
//! offer without overlap continues without ALPN (as Qt does) instead of failing.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::server::{AcceptedAlert, Acceptor};
use rustls::{ClientConnection, Connection, HandshakeKind, ServerConfig};
use rustls_pki_types::ServerName;

use super::certificate::SslCertificate;
use super::configuration::{SessionInfo, SslConfiguration, SslSetupError};
use super::protocol::{SslCipher, SslProtocol};
use super::verify::VerifyContext;

enum State {
    /// A server waiting for the complete ClientHello.
    Accepting {
        acceptor: Box<Acceptor>,
        config: Arc<ServerConfig>,
    },
    /// The handshake or the session proper.
    Active(Box<Connection>),
    /// The ClientHello was refused; only the alert (if any) remains to be sent.
    Refused,
}

/// One TLS connection, client or server, without I/O of its own.
pub struct TlsSession {
    state: State,
    verify: VerifyContext,
    /// An alert the `Acceptor` produced when it refused the ClientHello.
    pending_alert: Option<AcceptedAlert>,
    buffer_limit: Option<Option<usize>>,
    peer_closed: bool,
}

impl TlsSession {
    /// A client session to `host` (a DNS name or an IP address, IPv6 with or without
    /// brackets). The server's certificate is checked against the configuration's
    /// `peer_verify_name` if set, else against `host`; that name is also sent as SNI.
    pub fn client(config: &SslConfiguration, host: &str) -> Result<TlsSession, SslSetupError> {
        let name = if config.peer_verify_name().is_empty() {
            host
        } else {
            config.peer_verify_name()
        };
        let server_name = server_name(name)?;
        let conn = ClientConnection::new(config.client_config()?, server_name)?;
        Ok(Self::with_state(State::Active(Box::new(conn.into()))))
    }

    /// A server session.
    pub fn server(config: &SslConfiguration) -> Result<TlsSession, SslSetupError> {
        let config = config.server_config()?;
        Ok(Self::with_state(State::Accepting {
            acceptor: Box::default(),
            config,
        }))
    }

    fn with_state(state: State) -> TlsSession {
        TlsSession {
            state,
            verify: VerifyContext::new(),
            pending_alert: None,
            buffer_limit: None,
            peer_closed: false,
        }
    }

    /// The context whose hook and ignore lists decide on certificate errors.
    pub fn verify_context(&self) -> &VerifyContext {
        &self.verify
    }

    /// Whether this is a server session.
    pub fn is_server(&self) -> bool {
        match &self.state {
            State::Accepting { .. } | State::Refused => true,
            State::Active(conn) => matches!(**conn, Connection::Server(_)),
        }
    }

    /// Limits the ciphertext and early plaintext rustls buffers for sending (rustls'
    /// default: 64 KiB; `None`: unlimited). Past it, [`write_plaintext`](Self::write_plaintext)
    /// accepts 0 bytes.
    pub fn set_buffer_limit(&mut self, limit: Option<usize>) {
        self.buffer_limit = Some(limit);
        if let State::Active(conn) = &mut self.state {
            conn.set_buffer_limit(limit);
        }
    }

    /// Reads ciphertext from `rd` (e.g. a non-blocking socket) into rustls' buffer; call
    /// [`process_new_packets`](Self::process_new_packets) afterwards. `Ok(0)` means `rd` is at
    /// its end. An error of kind `Other` can mean rustls' buffers are full: read plaintext
    /// first.
    pub fn read_tls(&mut self, rd: &mut dyn Read) -> io::Result<usize> {
        match &mut self.state {
            State::Accepting { acceptor, .. } => acceptor.read_tls(rd),
            State::Active(conn) => conn.read_tls(rd),
            State::Refused => Err(io::Error::other("TLS session was refused")),
        }
    }

    /// Processes the ciphertext read so far: advances the handshake (running certificate
    /// verification and the `sslErrors` hook) and decrypts application data. After an
    /// error, send what [`write_tls`](Self::write_tls) still has (the alert) and close.
    pub fn process_new_packets(&mut self) -> Result<(), rustls::Error> {
        let _active = self.verify.enter();
        if let State::Accepting { acceptor, config } = &mut self.state {
            let accepted = match acceptor.accept() {
                Ok(None) => return Ok(()),
                Ok(Some(accepted)) => accepted,
                Err((error, alert)) => return Err(self.refuse(error, alert)),
            };
            let config = alpn_config(config, accepted.client_hello().alpn());
            let mut conn = match accepted.into_connection(config) {
                Ok(conn) => conn,
                Err((error, alert)) => return Err(self.refuse(error, alert)),
            };
            if let Some(limit) = self.buffer_limit {
                conn.set_buffer_limit(limit);
            }
            self.state = State::Active(Box::new(Connection::from(conn)));
        }
        match &mut self.state {
            State::Active(conn) => {
                let io = conn.process_new_packets()?;
                self.peer_closed |= io.peer_has_closed();
                if self.verify.take_missing_client_certificate() {
                    return self.decide_missing_client_certificate();
                }
                Ok(())
            }
            State::Accepting { .. } | State::Refused => Ok(()),
        }
    }

    /// A server requiring a client certificate got none: Qt's `NoPeerCertificate` goes to
    /// the `sslErrors` hook (still inside the handshake: rustls has processed the client's
    /// last flight, but nothing of it has been handed on). Ignored, the session goes on
    /// without a client certificate. Otherwise it ends here, its pending output (session
    /// tickets, early data) dropped: rustls has no way to send a `certificate_required`
    /// alert at this point, so the client sees the connection close.
    fn decide_missing_client_certificate(&mut self) -> Result<(), rustls::Error> {
        let error = super::error::SslError::from(super::error::SslErrorKind::NoPeerCertificate);
        if self.verify.decide(&[error]) {
            return Ok(());
        }
        self.state = State::Refused;
        Err(rustls::Error::NoCertificatesPresented)
    }

    fn refuse(&mut self, error: rustls::Error, alert: AcceptedAlert) -> rustls::Error {
        self.pending_alert = Some(alert);
        self.state = State::Refused;
        error
    }

    /// Feeds ciphertext from a buffer and processes it. Returns how many bytes were taken:
    /// fewer than `ciphertext.len()` when rustls' plaintext buffer is full, so read
    /// plaintext and feed the rest later.
    pub fn feed(&mut self, ciphertext: &[u8]) -> Result<usize, rustls::Error> {
        let mut rest = ciphertext;
        while !rest.is_empty() {
            match self.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(_) => self.process_new_packets()?,
                // rustls refuses more input while decrypted data waits to be read.
                Err(_) => break,
            }
        }
        Ok(ciphertext.len() - rest.len())
    }

    /// Whether rustls has ciphertext to send.
    pub fn wants_write(&self) -> bool {
        match &self.state {
            State::Active(conn) => conn.wants_write(),
            State::Accepting { .. } | State::Refused => self.pending_alert.is_some(),
        }
    }

    /// Writes pending ciphertext to `wr` (e.g. a non-blocking socket); call while
    /// [`wants_write`](Self::wants_write). A `WouldBlock` error leaves the rest pending.
    pub fn write_tls(&mut self, wr: &mut dyn Write) -> io::Result<usize> {
        if let Some(alert) = &mut self.pending_alert {
            let n = alert.write(wr)?;
            if n == 0 {
                self.pending_alert = None;
            }
            return Ok(n);
        }
        match &mut self.state {
            State::Active(conn) => conn.write_tls(wr),
            State::Accepting { .. } | State::Refused => Ok(0),
        }
    }

    /// Appends all pending ciphertext to `out`; returns how many bytes were added.
    pub fn take_ciphertext(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        while self.wants_write() {
            match self.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out.len() - start
    }

    /// Reads decrypted application data. `Ok(0)` means the peer sent close_notify (clean
    /// end of stream); `Err(WouldBlock)` means no data yet; `Err(UnexpectedEof)` means the
    /// transport ended (`read_tls` gave 0) without close_notify.
    pub fn read_plaintext(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Active(conn) => conn.reader().read(buf),
            State::Accepting { .. } => Err(io::ErrorKind::WouldBlock.into()),
            State::Refused => Err(io::Error::other("TLS session was refused")),
        }
    }

    /// Appends up to `max` bytes of decrypted application data to `out`, copied straight out
    /// of rustls's buffer (no zero-filled staging area, as [`read_plaintext`] needs), and
    /// returns how many. Results as [`read_plaintext`]: `Ok(0)` for `max > 0` is
    /// close_notify, `Err(WouldBlock)` no data yet, `Err(UnexpectedEof)` an unclean end.
    ///
    /// [`read_plaintext`]: Self::read_plaintext
    pub fn read_plaintext_into(&mut self, out: &mut BytesMut, max: usize) -> io::Result<usize> {
        match &mut self.state {
            State::Active(conn) => {
                let mut reader = conn.reader();
                let chunk = reader.fill_buf()?;
                let n = chunk.len().min(max);
                out.extend_from_slice(&chunk[..n]);
                reader.consume(n);
                Ok(n)
            }
            State::Accepting { .. } => Err(io::ErrorKind::WouldBlock.into()),
            State::Refused => Err(io::Error::other("TLS session was refused")),
        }
    }

    /// Queues application data for encryption (sent after the handshake if it is still
    /// running). Returns how much was taken; `0` for a non-empty `data` means the send
    /// buffer is full ("would block"): send ciphertext, then retry. A server session still
    /// waiting for the ClientHello takes nothing.
    pub fn write_plaintext(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.state {
            State::Active(conn) => conn.writer().write(data),
            State::Accepting { .. } => Ok(0),
            State::Refused => Err(io::Error::other("TLS session was refused")),
        }
    }

    /// Whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        match &self.state {
            State::Active(conn) => conn.is_handshaking(),
            State::Accepting { .. } | State::Refused => true,
        }
    }

    /// Whether the peer sent close_notify.
    pub fn received_close_notify(&self) -> bool {
        self.peer_closed
    }

    /// Queues a close_notify alert (then send ciphertext and shut the socket's write side).
    pub fn send_close_notify(&mut self) {
        if let State::Active(conn) = &mut self.state {
            conn.send_close_notify();
        }
    }

    /// What the handshake negotiated, once it is complete.
    pub fn session_info(&self) -> Option<SessionInfo> {
        let State::Active(conn) = &self.state else {
            return None;
        };
        if conn.is_handshaking() {
            return None;
        }
        Some(SessionInfo {
            negotiated_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
            session_protocol: conn
                .protocol_version()
                .map_or(SslProtocol::UnknownProtocol, SslProtocol::from_rustls),
            session_cipher: conn.negotiated_cipher_suite().map(SslCipher::from_rustls),
            peer_certificate_chain: self.peer_certificate_chain(),
            session_resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
        })
    }

    /// The peer's certificates, leaf first (empty before the peer sent them, or when a
    /// client sent none). Certificates that cannot be decoded are left out.
    pub fn peer_certificate_chain(&self) -> Vec<SslCertificate> {
        let State::Active(conn) = &self.state else {
            return Vec::new();
        };
        conn.peer_certificates()
            .unwrap_or_default()
            .iter()
            .filter_map(|der| SslCertificate::from_der(der).ok())
            .collect()
    }

    /// The rustls connection, for what this wrapper does not cover (`None` while a server
    /// waits for the ClientHello).
    pub fn connection(&self) -> Option<&Connection> {
        match &self.state {
            State::Active(conn) => Some(conn),
            State::Accepting { .. } | State::Refused => None,
        }
    }
}

/// The server config to answer this ClientHello with: without ALPN when the client offered
/// protocols none of which the server accepts (rustls would otherwise fail the handshake).
fn alpn_config<'a>(
    config: &Arc<ServerConfig>,
    offered: Option<impl Iterator<Item = &'a [u8]>>,
) -> Arc<ServerConfig> {
    let Some(mut offered) = offered else {
        return config.clone();
    };
    if config.alpn_protocols.is_empty()
        || offered.any(|p| config.alpn_protocols.iter().any(|ours| ours == p))
    {
        return config.clone();
    }
    let mut without = ServerConfig::clone(config);
    without.alpn_protocols.clear();
    Arc::new(without)
}

fn server_name(host: &str) -> Result<ServerName<'static>, SslSetupError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned())
        .map_err(|_| SslSetupError::InvalidPeerName(host.to_owned()))
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Accepting { .. } => "accepting",
            State::Active(_) if self.is_handshaking() => "handshaking",
            State::Active(_) => "established",
            State::Refused => "refused",
        };
        f.debug_struct("TlsSession")
            .field("server", &self.is_server())
            .field("state", &state)
            .field("peer_closed", &self.peer_closed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_names() {
        assert!(server_name("localhost").is_ok());
        assert!(matches!(
            server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert_eq!(
            server_name("bad name").unwrap_err(),
            SslSetupError::InvalidPeerName("bad name".into())
        );
    }
}
