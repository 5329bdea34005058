//! quinn-proto configs from slotnet's [`SslConfiguration`]: the same rustls configs the
//! HTTPS path uses (reused, not rebuilt), limited to TLS 1.3 and the given ALPN list.

use std::fmt;
use std::sync::Arc;

use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};

use crate::ssl::{SslConfiguration, SslProtocol, SslSetupError};

/// Why a QUIC endpoint or connection could not be set up.
#[derive(Debug)]
pub enum QuicSetupError {
    /// The TLS configuration is unusable (no certificate for a server, a bad key...).
    Tls(SslSetupError),
    /// The TLS configuration cannot do QUIC (no TLS 1.3 AES-128-GCM suite).
    NoQuicCipherSuite,
    /// The UDP socket could not be bound.
    Bind(std::io::Error),
    /// quinn-proto refused the connection (an invalid address or server name).
    Connect(String),
}

impl fmt::Display for QuicSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuicSetupError::Tls(e) => write!(f, "TLS configuration: {e}"),
            QuicSetupError::NoQuicCipherSuite => {
                f.write_str("the TLS configuration has no cipher suite QUIC can use")
            }
            QuicSetupError::Bind(e) => write!(f, "binding the UDP socket: {e}"),
            QuicSetupError::Connect(e) => write!(f, "starting the connection: {e}"),
        }
    }
}

impl std::error::Error for QuicSetupError {}

impl From<SslSetupError> for QuicSetupError {
    fn from(e: SslSetupError) -> Self {
        QuicSetupError::Tls(e)
    }
}

/// `ssl` as QUIC needs it: TLS 1.3 only, offering `alpn`.
fn for_quic(ssl: &SslConfiguration, alpn: &[&[u8]]) -> SslConfiguration {
    let mut ssl = ssl.clone();
    ssl.set_protocol(SslProtocol::TlsV1_3OrLater);
    ssl.set_allowed_next_protocols(alpn.iter().map(|p| p.to_vec()).collect());
    ssl
}

/// A client config: `ssl`'s trust rules and client identity, offering `alpn`.
pub(crate) fn client_config(
    ssl: &SslConfiguration,
    alpn: &[&[u8]],
) -> Result<quinn_proto::ClientConfig, QuicSetupError> {
    let rustls = for_quic(ssl, alpn).client_config()?;
    let crypto =
        QuicClientConfig::try_from(rustls).map_err(|_| QuicSetupError::NoQuicCipherSuite)?;
    Ok(quinn_proto::ClientConfig::new(Arc::new(crypto)))
}

/// A server config: `ssl`'s certificate and key, accepting `alpn`.
pub(crate) fn server_config(
    ssl: &SslConfiguration,
    alpn: &[&[u8]],
) -> Result<quinn_proto::ServerConfig, QuicSetupError> {
    let rustls = for_quic(ssl, alpn).server_config()?;
    let crypto =
        QuicServerConfig::try_from(rustls).map_err(|_| QuicSetupError::NoQuicCipherSuite)?;
    Ok(quinn_proto::ServerConfig::with_crypto(Arc::new(crypto)))
}
