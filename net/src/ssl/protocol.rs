//! Protocol versions (`SslProtocol`), peer verification modes and negotiated cipher suites.

use std::fmt;

use rustls::{CipherSuite, ProtocolVersion, SupportedCipherSuite, SupportedProtocolVersion};

/// ALPN name of HTTP/2 (Qt's `QSslConfiguration::ALPNProtocolHTTP2`).
pub const ALPN_PROTOCOL_HTTP2: &[u8] = b"h2";
/// ALPN name of HTTP/1.1 (Qt's `QSslConfiguration::NextProtocolHttp1_1`).
pub const NEXT_PROTOCOL_HTTP1_1: &[u8] = b"http/1.1";

/// A TLS protocol version or range (Qt's `QSsl::SslProtocol`; DTLS is left out).
///
/// rustls speaks TLS 1.2 and 1.3 only: ranges that start lower are narrowed to 1.2 and up,
/// and the exact versions `TlsV1_0`/`TlsV1_1` cannot be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslProtocol {
    /// TLS 1.0 exactly (unsupported).
    TlsV1_0,
    /// TLS 1.1 exactly (unsupported).
    TlsV1_1,
    /// TLS 1.2 exactly.
    TlsV1_2,
    /// Any supported version (here: TLS 1.2 and 1.3).
    AnyProtocol,
    /// The versions considered secure (TLS 1.2 and 1.3); the default.
    #[default]
    SecureProtocols,
    /// TLS 1.0 and later (here: 1.2 and 1.3).
    TlsV1_0OrLater,
    /// TLS 1.1 and later (here: 1.2 and 1.3).
    TlsV1_1OrLater,
    /// TLS 1.2 and later.
    TlsV1_2OrLater,
    /// TLS 1.3 exactly.
    TlsV1_3,
    /// TLS 1.3 and later.
    TlsV1_3OrLater,
    /// No or an unknown protocol (e.g. the session protocol before a handshake).
    UnknownProtocol,
}

static TLS12_AND_13: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

impl SslProtocol {
    /// The rustls versions this setting allows, or `None` if rustls supports none of them.
    pub fn rustls_versions(self) -> Option<&'static [&'static SupportedProtocolVersion]> {
        match self {
            SslProtocol::TlsV1_2 => Some(TLS12_ONLY),
            SslProtocol::TlsV1_3 | SslProtocol::TlsV1_3OrLater => Some(TLS13_ONLY),
            SslProtocol::AnyProtocol
            | SslProtocol::SecureProtocols
            | SslProtocol::TlsV1_0OrLater
            | SslProtocol::TlsV1_1OrLater
            | SslProtocol::TlsV1_2OrLater => Some(TLS12_AND_13),
            SslProtocol::TlsV1_0 | SslProtocol::TlsV1_1 | SslProtocol::UnknownProtocol => None,
        }
    }

    /// The protocol of a negotiated rustls version.
    pub fn from_rustls(version: ProtocolVersion) -> SslProtocol {
        match version {
            ProtocolVersion::TLSv1_0 => SslProtocol::TlsV1_0,
            ProtocolVersion::TLSv1_1 => SslProtocol::TlsV1_1,
            ProtocolVersion::TLSv1_2 => SslProtocol::TlsV1_2,
            ProtocolVersion::TLSv1_3 => SslProtocol::TlsV1_3,
            _ => SslProtocol::UnknownProtocol,
        }
    }
}

/// How a peer's certificate is requested and verified (Qt's `QSslSocket::PeerVerifyMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerVerifyMode {
    /// Do not request a certificate (a server) and do not verify one (a client): no errors.
    VerifyNone,
    /// Request a certificate but do not require it to be valid: no errors are reported, the
    /// peer's chain is still available after the handshake.
    QueryPeer,
    /// Require a valid certificate; errors go to the `sslErrors` decision.
    VerifyPeer,
    /// `VerifyPeer` for clients, `QueryPeer` for servers (the default).
    #[default]
    AutoVerifyPeer,
}

impl PeerVerifyMode {
    /// The mode in effect once `AutoVerifyPeer` is resolved for a client or a server.
    pub fn effective(self, is_server: bool) -> PeerVerifyMode {
        match (self, is_server) {
            (PeerVerifyMode::AutoVerifyPeer, false) => PeerVerifyMode::VerifyPeer,
            (PeerVerifyMode::AutoVerifyPeer, true) => PeerVerifyMode::QueryPeer,
            (mode, _) => mode,
        }
    }
}

/// A negotiated cipher suite (Qt's `QSslCipher`), named as OpenSSL (and so Qt) names it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SslCipher {
    suite: CipherSuite,
    info: &'static CipherInfo,
}

struct CipherInfo {
    suite: CipherSuite,
    name: &'static str,
    kx: &'static str,
    auth: &'static str,
    enc: &'static str,
    bits: u32,
}

impl PartialEq for CipherInfo {
    fn eq(&self, other: &Self) -> bool {
        self.suite == other.suite
    }
}
impl Eq for CipherInfo {}

const fn info(
    suite: CipherSuite,
    name: &'static str,
    kx: &'static str,
    auth: &'static str,
    enc: &'static str,
    bits: u32,
) -> CipherInfo {
    CipherInfo {
        suite,
        name,
        kx,
        auth,
        enc,
        bits,
    }
}

/// The suites of rustls' ring provider, with OpenSSL's names and descriptions.
static CIPHERS: &[CipherInfo] = &[
    info(
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
        "any",
        "any",
        "AESGCM(256)",
        256,
    ),
    info(
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
        "any",
        "any",
        "AESGCM(128)",
        128,
    ),
    info(
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
        "any",
        "any",
        "CHACHA20/POLY1305(256)",
        256,
    ),
    info(
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDH",
        "ECDSA",
        "AESGCM(256)",
        256,
    ),
    info(
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDH",
        "ECDSA",
        "AESGCM(128)",
        128,
    ),
    info(
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDH",
        "ECDSA",
        "CHACHA20/POLY1305(256)",
        256,
    ),
    info(
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDH",
        "RSA",
        "AESGCM(256)",
        256,
    ),
    info(
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDH",
        "RSA",
        "AESGCM(128)",
        128,
    ),
    info(
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDH",
        "RSA",
        "CHACHA20/POLY1305(256)",
        256,
    ),
];

static UNKNOWN: CipherInfo = info(CipherSuite::Unknown(0), "", "", "", "", 0);

impl SslCipher {
    /// The cipher of a negotiated rustls suite.
    pub fn from_rustls(suite: SupportedCipherSuite) -> SslCipher {
        let id = suite.suite();
        let info = CIPHERS.iter().find(|c| c.suite == id).unwrap_or(&UNKNOWN);
        SslCipher { suite: id, info }
    }

    /// OpenSSL's name, as Qt's `QSslCipher::name()`: `TLS_AES_256_GCM_SHA384`,
    /// `ECDHE-RSA-AES128-GCM-SHA256`, ... (the IANA name for a suite not in the table).
    pub fn name(&self) -> String {
        if self.info.name.is_empty() {
            self.iana_name()
        } else {
            self.info.name.to_owned()
        }
    }

    /// The IANA/rustls name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub fn iana_name(&self) -> String {
        format!("{:?}", self.suite)
    }

    /// The protocol the suite belongs to (`TlsV1_3` or `TlsV1_2`).
    pub fn protocol(&self) -> SslProtocol {
        match self.suite {
            CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => SslProtocol::TlsV1_3,
            _ if self.info.bits > 0 => SslProtocol::TlsV1_2,
            _ => SslProtocol::UnknownProtocol,
        }
    }

    /// The key exchange method as OpenSSL describes it (`"ECDH"`, `"any"` for TLS 1.3).
    pub fn key_exchange_method(&self) -> &'static str {
        self.info.kx
    }

    /// The authentication method (`"RSA"`, `"ECDSA"`, `"any"` for TLS 1.3).
    pub fn authentication_method(&self) -> &'static str {
        self.info.auth
    }

    /// The encryption method (e.g. `"AESGCM(256)"`).
    pub fn encryption_method(&self) -> &'static str {
        self.info.enc
    }

    /// The key size in bits (Qt's `supportedBits` and `usedBits`, equal for these suites).
    pub fn supported_bits(&self) -> u32 {
        self.info.bits
    }
}

impl fmt::Debug for SslCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SslCipher({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_of_the_provider_has_an_openssl_name() {
        let provider = crate::ssl::provider::provider();
        for suite in &provider.cipher_suites {
            let cipher = SslCipher::from_rustls(*suite);
            assert!(cipher.supported_bits() >= 128, "{:?}", suite.suite());
            assert_ne!(cipher.protocol(), SslProtocol::UnknownProtocol);
            let expected = if suite.version().version == ProtocolVersion::TLSv1_3 {
                SslProtocol::TlsV1_3
            } else {
                SslProtocol::TlsV1_2
            };
            assert_eq!(cipher.protocol(), expected);
        }
        let aes128 = provider
            .cipher_suites
            .iter()
            .find(|s| s.suite() == rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
            .unwrap();
        let c = SslCipher::from_rustls(*aes128);
        assert_eq!(c.name(), "TLS_AES_128_GCM_SHA256");
        assert_eq!(c.iana_name(), "TLS13_AES_128_GCM_SHA256");
    }

    #[test]
    fn protocol_ranges_map_to_rustls_versions() {
        assert_eq!(SslProtocol::TlsV1_2.rustls_versions().unwrap().len(), 1);
        assert_eq!(
            SslProtocol::TlsV1_3OrLater.rustls_versions().unwrap()[0].version,
            ProtocolVersion::TLSv1_3
        );
        assert_eq!(
            SslProtocol::SecureProtocols
                .rustls_versions()
                .unwrap()
                .len(),
            2
        );
        assert!(SslProtocol::TlsV1_0.rustls_versions().is_none());
        assert!(SslProtocol::UnknownProtocol.rustls_versions().is_none());
    }

    #[test]
    fn auto_verify_peer_resolves_like_qt() {
        assert_eq!(
            PeerVerifyMode::AutoVerifyPeer.effective(false),
            PeerVerifyMode::VerifyPeer
        );
        assert_eq!(
            PeerVerifyMode::AutoVerifyPeer.effective(true),
            PeerVerifyMode::QueryPeer
        );
        assert_eq!(
            PeerVerifyMode::VerifyNone.effective(false),
            PeerVerifyMode::VerifyNone
        );
    }
}
