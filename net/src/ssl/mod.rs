//! TLS on rustls (the `ring` or `aws-lc-rs` provider, by cargo feature): configuration, certificates, Qt's `SslError` model.
//!
//! Everything here is sans-IO; the socket layer drives a [`TlsSession`] with bytes.
//!
//! - [`SslConfiguration`]: Qt's `QSslConfiguration` (CA certificates, local certificate and
//!   key, [`PeerVerifyMode`], [`SslProtocol`] range, ALPN), building shared rustls configs.
//!   By default it trusts the operating system's CA store, as Qt does ([`SystemCaSource`]).
//! - [`SslCertificate`], [`SslKey`]: Qt's `QSslCertificate` and `QSslKey`.
//! - [`SslError`]: Qt's `QSslError` with Qt's names. Verification reports the full list
//!   Qt 6 on OpenSSL reports (e.g. `HostNameMismatch` first, `CertificateExpired` last) to
//!   the connection's [`VerifyContext`], whose hook decides synchronously inside the
//!   handshake, the way a slot connected to `sslErrors` calls `ignoreSslErrors()`.
//! - [`TlsSession`]: one client or server connection: ciphertext in/out, plaintext in/out,
//!   handshake outcome ([`SessionInfo`]).
//! - `test_certs` (tests, or the `test-certs` feature): a CA and the certificates that
//!   produce each error, made with rcgen.
//!
//! ```
//! use slotnet_net::ssl::{SslConfiguration, TlsSession};
//!
//! let client = TlsSession::client(&SslConfiguration::default(), "example.com").unwrap();
//! assert!(client.is_handshaking());
//! client.verify_context().set_ssl_errors_hook(|errors| {
//!     eprintln!("sslErrors({})", slotnet_net::ssl::SslError::join_names(errors));
//!     false // do not ignore: the handshake fails
//! });
//! ```

mod certificate;
mod configuration;
mod error;
mod key;
mod pem;
mod protocol;
mod provider;
mod resumption;
mod session;
mod system_roots;
mod trust_anchors;
mod verifier;
mod verify;

#[cfg(any(test, feature = "test-certs"))]
#[cfg_attr(docsrs, doc(cfg(feature = "test-certs")))]
pub mod test_certs;

#[cfg(test)]
mod handshake_tests;

pub use certificate::{DigestAlgorithm, SslCertificate, SubjectAltName, SubjectInfo};
pub use configuration::{SessionInfo, SslConfiguration, SslSetupError};
pub use error::{SslError, SslErrorKind};
pub use key::{KeyAlgorithm, SslKey};
pub use pem::SslDecodeError;
pub use protocol::{
    PeerVerifyMode, SslCipher, SslProtocol, ALPN_PROTOCOL_HTTP2, NEXT_PROTOCOL_HTTP1_1,
};
pub use provider::provider;
pub use session::TlsSession;
pub use system_roots::SystemCaSource;
pub use verify::{SslErrorsHook, VerifyContext};

/// Whether this process has read the operating system's CA store yet: it is read when the
/// first peer chain is verified against it, never for configurations that do not verify.
/// For tests of that lazy loading.
#[doc(hidden)]
pub fn system_ca_store_loaded() -> bool {
    system_roots::was_loaded()
}
