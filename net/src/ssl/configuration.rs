//! `SslConfiguration`: Qt's `QSslConfiguration`, a value type that builds rustls configs.

use std::fmt;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use rustls::client::Resumption;
use rustls::server::NoClientAuth;
use rustls::{ClientConfig, ServerConfig};

use super::certificate::SslCertificate;
use super::key::SslKey;
use super::protocol::{PeerVerifyMode, SslCipher, SslProtocol};
use super::provider::provider;
use super::resumption::CleanSessionStore;
use super::system_roots::{self, SystemCaSource};
use super::trust_anchors::TrustAnchors;
use super::verifier::{QtClientCertVerifier, QtServerCertVerifier};

/// A configuration could not be turned into a rustls config.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SslSetupError {
    /// rustls supports none of the versions `protocol` allows (TLS 1.0/1.1 only).
    UnsupportedProtocol(SslProtocol),
    /// A local certificate was set without a private key (or the reverse).
    IncompleteLocalIdentity,
    /// A server needs a local certificate and private key.
    NoLocalCertificate,
    /// The peer name is neither a DNS name nor an IP address.
    InvalidPeerName(String),
    /// rustls refused the configuration (e.g. the key does not match the certificate).
    Rustls(rustls::Error),
}

impl fmt::Display for SslSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SslSetupError::UnsupportedProtocol(p) => write!(f, "unsupported protocol {p:?}"),
            SslSetupError::IncompleteLocalIdentity => f.write_str(
                "cannot provide a certificate with no key (or a key with no certificate)",
            ),
            SslSetupError::NoLocalCertificate => {
                f.write_str("a TLS server needs a local certificate and private key")
            }
            SslSetupError::InvalidPeerName(name) => write!(f, "invalid peer name {name:?}"),
            SslSetupError::Rustls(e) => write!(f, "TLS configuration rejected: {e}"),
        }
    }
}

impl std::error::Error for SslSetupError {}

impl From<rustls::Error> for SslSetupError {
    fn from(e: rustls::Error) -> Self {
        SslSetupError::Rustls(e)
    }
}

/// What a handshake negotiated; kept in the configuration a socket reports afterwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionInfo {
    /// The ALPN protocol both sides agreed on (Qt's `nextNegotiatedProtocol`).
    pub negotiated_protocol: Option<Vec<u8>>,
    /// The protocol version in use (`UnknownProtocol` before a handshake).
    pub session_protocol: SslProtocol,
    /// The cipher suite in use.
    pub session_cipher: Option<SslCipher>,
    /// The peer's certificates, leaf first, as presented.
    pub peer_certificate_chain: Vec<SslCertificate>,
    /// Whether the session was resumed (no certificate verification took place).
    pub session_resumed: bool,
}

#[derive(Default)]
struct Built {
    client: OnceLock<Result<Arc<ClientConfig>, SslSetupError>>,
    server: OnceLock<Result<Arc<ServerConfig>, SslSetupError>>,
    trust_fingerprint: OnceLock<[u8; 32]>,
}

/// TLS settings of a socket (Qt's `QSslConfiguration`): a plain value, cheap to clone.
///
/// The rustls configs built from it are cached and shared by its clones (so TLS session
/// resumption works across connections made with the same configuration); any setter
/// starts a fresh cache.
///
/// ```
/// use slotnet_net::ssl::{PeerVerifyMode, SslConfiguration, SslProtocol};
///
/// let mut config = SslConfiguration::default();
/// config.set_protocol(SslProtocol::TlsV1_3OrLater);
/// config.set_allowed_next_protocols(vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
/// assert_eq!(config.peer_verify_mode(), PeerVerifyMode::AutoVerifyPeer);
/// let rustls_config = config.client_config().unwrap();
/// assert_eq!(rustls_config.alpn_protocols.len(), 2);
/// ```
#[derive(Clone)]
pub struct SslConfiguration {
    ca_certificates: Vec<SslCertificate>,
    system_ca_certificates: bool,
    local_certificate_chain: Vec<SslCertificate>,
    private_key: Option<SslKey>,
    peer_verify_mode: PeerVerifyMode,
    peer_verify_name: String,
    protocol: SslProtocol,
    allowed_next_protocols: Vec<Vec<u8>>,
    session: SessionInfo,
    built: Arc<Built>,
}

impl Default for SslConfiguration {
    /// The process-wide default configuration (see
    /// [`default_configuration`](SslConfiguration::default_configuration)).
    fn default() -> Self {
        Self::default_configuration()
    }
}

/// The process-wide default configuration, built in until the application sets one.
fn process_default() -> &'static RwLock<SslConfiguration> {
    static DEFAULT: OnceLock<RwLock<SslConfiguration>> = OnceLock::new();
    DEFAULT.get_or_init(|| RwLock::new(SslConfiguration::built_in()))
}

impl SslConfiguration {
    /// Qt's defaults: system CAs, secure protocols, `AutoVerifyPeer`, nothing else.
    fn built_in() -> Self {
        SslConfiguration {
            ca_certificates: Vec::new(),
            system_ca_certificates: true,
            local_certificate_chain: Vec::new(),
            private_key: None,
            peer_verify_mode: PeerVerifyMode::AutoVerifyPeer,
            peer_verify_name: String::new(),
            protocol: SslProtocol::SecureProtocols,
            allowed_next_protocols: Vec::new(),
            session: SessionInfo::default(),
            built: Arc::default(),
        }
    }
}

impl SslConfiguration {
    /// The process-wide default configuration (Qt's `defaultConfiguration()`), which
    /// `SslConfiguration::default()` returns too: what every socket, server, request and
    /// legacy `Http` starts from unless given a configuration of its own. Until the
    /// application sets one with [`set_default_configuration`](Self::set_default_configuration):
    /// the system's CAs (see [`system_ca_certificates`](Self::system_ca_certificates)), secure
    /// protocols, `AutoVerifyPeer`, no local certificate, no ALPN.
    pub fn default_configuration() -> Self {
        process_default()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the process-wide default configuration (Qt's `setDefaultConfiguration()`),
    /// for example to trust a private CA everywhere: sockets, servers and requests created
    /// afterwards start from it, and the access manager's requests without a configuration
    /// of their own use it from their next connection on (connections opened under the old
    /// default are not shared with them). Session data in `configuration` is dropped.
    pub fn set_default_configuration(configuration: SslConfiguration) {
        let mut configuration = configuration;
        configuration.session = SessionInfo::default();
        *process_default()
            .write()
            .unwrap_or_else(PoisonError::into_inner) = configuration;
    }

    /// Adds `certificates` to the CA certificates of the process-wide default configuration
    /// (Qt's `addDefaultCaCertificates()`), next to the system's.
    pub fn add_default_ca_certificates(certificates: impl IntoIterator<Item = SslCertificate>) {
        process_default()
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add_ca_certificates(certificates);
    }

    /// Adds `certificate` to the default configuration's CA certificates (Qt's
    /// `addDefaultCaCertificate()`).
    pub fn add_default_ca_certificate(certificate: SslCertificate) {
        Self::add_default_ca_certificates([certificate]);
    }

    /// The [trust fingerprint](Self::trust_fingerprint) of the default configuration,
    /// without copying it (computed once per default configuration).
    pub fn default_trust_fingerprint() -> [u8; 32] {
        process_default()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .trust_fingerprint()
    }

    /// The system CA certificates (Qt's `systemCaCertificates()`): the operating system's
    /// store, which a configuration trusts by default (on Linux the distribution's bundle,
    /// or the certificates named by `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set).
    /// Read once per process, on first use. Empty when that store is empty or unreadable:
    /// then the Mozilla roots compiled into the library are trusted instead (trust anchors
    /// only, not certificates), as [`system_ca_certificates_source`] says.
    ///
    /// [`system_ca_certificates_source`]: Self::system_ca_certificates_source
    pub fn system_ca_certificates() -> &'static [SslCertificate] {
        system_roots::certificates()
    }

    /// Where the system CA set that configurations trust by default comes from: the
    /// operating system's store, or the bundled Mozilla roots when that store is empty or
    /// unreadable (slotnet extension; Qt has no fallback).
    pub fn system_ca_certificates_source() -> SystemCaSource {
        system_roots::source()
    }

    fn changed(&mut self) {
        self.built = Arc::default();
    }

    /// The CA certificates added to or set on this configuration (the system set, when in
    /// use, is not listed; see [`uses_system_ca_certificates`](Self::uses_system_ca_certificates)).
    pub fn ca_certificates(&self) -> &[SslCertificate] {
        &self.ca_certificates
    }

    /// Whether the system CA set is trusted besides [`ca_certificates`](Self::ca_certificates).
    pub fn uses_system_ca_certificates(&self) -> bool {
        self.system_ca_certificates
    }

    /// Trusts exactly `certificates`: replaces the list and drops the system set (Qt's
    /// `setCaCertificates`).
    pub fn set_ca_certificates(&mut self, certificates: Vec<SslCertificate>) {
        self.ca_certificates = certificates;
        self.system_ca_certificates = false;
        self.changed();
    }

    /// Trusts `certificates` too (Qt's `addCaCertificates`).
    pub fn add_ca_certificates(&mut self, certificates: impl IntoIterator<Item = SslCertificate>) {
        self.ca_certificates.extend(certificates);
        self.changed();
    }

    /// Trusts `certificate` too (Qt's `addCaCertificate`).
    pub fn add_ca_certificate(&mut self, certificate: SslCertificate) {
        self.add_ca_certificates([certificate]);
    }

    /// Turns the system CA set on or off, keeping the explicit list.
    pub fn set_system_ca_certificates_enabled(&mut self, enabled: bool) {
        self.system_ca_certificates = enabled;
        self.changed();
    }

    /// The local certificate (the first of the local chain).
    pub fn local_certificate(&self) -> Option<&SslCertificate> {
        self.local_certificate_chain.first()
    }

    /// The local certificate chain, leaf first.
    pub fn local_certificate_chain(&self) -> &[SslCertificate] {
        &self.local_certificate_chain
    }

    /// Sets the local certificate alone (Qt's `setLocalCertificate`).
    pub fn set_local_certificate(&mut self, certificate: SslCertificate) {
        self.set_local_certificate_chain(vec![certificate]);
    }

    /// Sets the local certificate chain, leaf first (Qt's `setLocalCertificateChain`).
    pub fn set_local_certificate_chain(&mut self, chain: Vec<SslCertificate>) {
        self.local_certificate_chain = chain;
        self.changed();
    }

    /// The private key of the local certificate.
    pub fn private_key(&self) -> Option<&SslKey> {
        self.private_key.as_ref()
    }

    /// Sets the private key of the local certificate.
    pub fn set_private_key(&mut self, key: SslKey) {
        self.private_key = Some(key);
        self.changed();
    }

    /// How the peer's certificate is requested and verified.
    pub fn peer_verify_mode(&self) -> PeerVerifyMode {
        self.peer_verify_mode
    }

    /// Sets how the peer's certificate is requested and verified.
    pub fn set_peer_verify_mode(&mut self, mode: PeerVerifyMode) {
        self.peer_verify_mode = mode;
        self.changed();
    }

    /// The name the server's certificate is checked against instead of the host connected
    /// to (empty: the host). Also sent as SNI.
    pub fn peer_verify_name(&self) -> &str {
        &self.peer_verify_name
    }

    /// Sets the name to check the server's certificate against (Qt's `setPeerVerifyName`).
    pub fn set_peer_verify_name(&mut self, name: impl Into<String>) {
        // Per connection, not part of the rustls config: the cache stays valid.
        self.peer_verify_name = name.into();
    }

    /// The allowed protocol versions.
    pub fn protocol(&self) -> SslProtocol {
        self.protocol
    }

    /// Sets the allowed protocol versions.
    pub fn set_protocol(&mut self, protocol: SslProtocol) {
        self.protocol = protocol;
        self.changed();
    }

    /// The ALPN protocols offered (client) or accepted in preference order (server).
    pub fn allowed_next_protocols(&self) -> &[Vec<u8>] {
        &self.allowed_next_protocols
    }

    /// Sets the ALPN protocols (e.g. `h2`, `http/1.1`). A server picks the first of its own
    /// list that the client offers; with no overlap the handshake goes on without ALPN, as
    /// in Qt.
    pub fn set_allowed_next_protocols(&mut self, protocols: Vec<Vec<u8>>) {
        self.allowed_next_protocols = protocols;
        self.changed();
    }

    /// The ALPN protocol negotiated by the handshake this configuration was taken from.
    pub fn negotiated_protocol(&self) -> Option<&[u8]> {
        self.session.negotiated_protocol.as_deref()
    }

    /// The protocol version of that handshake (`UnknownProtocol` before one).
    pub fn session_protocol(&self) -> SslProtocol {
        self.session.session_protocol
    }

    /// The cipher suite of that handshake.
    pub fn session_cipher(&self) -> Option<SslCipher> {
        self.session.session_cipher
    }

    /// The peer's certificate (leaf) from that handshake.
    pub fn peer_certificate(&self) -> Option<&SslCertificate> {
        self.session.peer_certificate_chain.first()
    }

    /// The peer's certificate chain from that handshake, leaf first.
    pub fn peer_certificate_chain(&self) -> &[SslCertificate] {
        &self.session.peer_certificate_chain
    }

    /// Records what a handshake negotiated (the socket does this after `encrypted`).
    pub fn set_session_info(&mut self, session: SessionInfo) {
        // Session data does not feed the rustls configs: the cache stays valid.
        self.session = session;
    }

    /// The session data recorded with [`set_session_info`](Self::set_session_info).
    pub fn session_info(&self) -> &SessionInfo {
        &self.session
    }

    /// A SHA-256 digest of everything in this configuration that decides whom a connection
    /// trusts and who it is: the CA certificates and whether the system set is trusted, the
    /// local certificate chain and private key, the protocol range and the peer verify mode.
    /// Two configurations with the same fingerprint make handshakes that trust the same
    /// certificates and present the same identity, so a connection opened with one may
    /// carry requests made with the other (the access manager keys its connections by it).
    ///
    /// Left out: the peer verify name and the ALPN list (a connection's key carries them
    /// separately; the access manager sets the ALPN offer itself) and the session data.
    /// Computed once per configuration value and shared by its clones, like the rustls
    /// configs; any setter that changes a part starts afresh.
    pub fn trust_fingerprint(&self) -> [u8; 32] {
        *self
            .built
            .trust_fingerprint
            .get_or_init(|| self.compute_trust_fingerprint())
    }

    fn compute_trust_fingerprint(&self) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        // Every part is length-prefixed, so that no two different configurations feed the
        // same bytes.
        let mut part = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        part(b"slotnet trust fingerprint v1");
        part(&[u8::from(self.system_ca_certificates)]);
        part(&(self.ca_certificates.len() as u64).to_be_bytes());
        for ca in &self.ca_certificates {
            part(ca.to_der());
        }
        part(&(self.local_certificate_chain.len() as u64).to_be_bytes());
        for cert in &self.local_certificate_chain {
            part(cert.to_der());
        }
        match &self.private_key {
            Some(key) => part(key.to_der()),
            None => part(b"no key"),
        }
        part(format!("{:?}", self.protocol).as_bytes());
        part(format!("{:?}", self.peer_verify_mode).as_bytes());
        let digest = ctx.finish();
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The anchors this configuration's verifiers trust (built when first needed).
    fn trust_anchors(&self) -> TrustAnchors {
        TrustAnchors::new(
            self.system_ca_certificates,
            self.ca_certificates.clone().into(),
        )
    }

    fn local_identity(
        &self,
    ) -> Result<
        Option<(
            Vec<rustls_pki_types::CertificateDer<'static>>,
            rustls_pki_types::PrivateKeyDer<'static>,
        )>,
        SslSetupError,
    > {
        match (self.local_certificate_chain.is_empty(), &self.private_key) {
            (true, None) => Ok(None),
            (false, Some(key)) => Ok(Some((
                self.local_certificate_chain
                    .iter()
                    .map(SslCertificate::certificate_der)
                    .collect(),
                key.private_key_der(),
            ))),
            _ => Err(SslSetupError::IncompleteLocalIdentity),
        }
    }

    /// The rustls client config (built once per configuration value, then shared). It uses
    /// the ring provider, the Qt-style verifier, the local certificate for client
    /// authentication if set, and the ALPN list.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, SslSetupError> {
        self.built
            .client
            .get_or_init(|| self.build_client_config())
            .clone()
    }

    fn build_client_config(&self) -> Result<Arc<ClientConfig>, SslSetupError> {
        let versions = self
            .protocol
            .rustls_versions()
            .ok_or(SslSetupError::UnsupportedProtocol(self.protocol))?;
        let verifier =
            QtServerCertVerifier::new(self.peer_verify_mode.effective(false), self.trust_anchors());
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match self.local_identity()? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.allowed_next_protocols.clone();
        config.resumption = Resumption::store(CleanSessionStore::new());
        Ok(Arc::new(config))
    }

    /// The rustls server config (built once per configuration value, then shared). It needs
    /// a local certificate and key; the peer verify mode decides client authentication.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, SslSetupError> {
        self.built
            .server
            .get_or_init(|| self.build_server_config())
            .clone()
    }

    fn build_server_config(&self) -> Result<Arc<ServerConfig>, SslSetupError> {
        let versions = self
            .protocol
            .rustls_versions()
            .ok_or(SslSetupError::UnsupportedProtocol(self.protocol))?;
        let (chain, key) = self
            .local_identity()?
            .ok_or(SslSetupError::NoLocalCertificate)?;
        let builder =
            ServerConfig::builder_with_provider(provider()).with_protocol_versions(versions)?;
        let builder = match self.peer_verify_mode.effective(true) {
            PeerVerifyMode::VerifyNone => builder.with_client_cert_verifier(Arc::new(NoClientAuth)),
            mode => builder.with_client_cert_verifier(Arc::new(QtClientCertVerifier::new(
                mode,
                self.trust_anchors(),
            ))),
        };
        let mut config = builder.with_single_cert(chain, key)?;
        config.alpn_protocols = self.allowed_next_protocols.clone();
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for SslConfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SslConfiguration")
            .field("ca_certificates", &self.ca_certificates.len())
            .field("system_ca_certificates", &self.system_ca_certificates)
            .field("local_certificate", &self.local_certificate())
            .field("has_private_key", &self.private_key.is_some())
            .field("peer_verify_mode", &self.peer_verify_mode)
            .field("peer_verify_name", &self.peer_verify_name)
            .field("protocol", &self.protocol)
            .field("allowed_next_protocols", &self.allowed_next_protocols)
            .field("session", &self.session)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::test_certs;

    #[test]
    fn value_types_can_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SslConfiguration>();
        send_sync::<SslCertificate>();
        send_sync::<SslKey>();
        send_sync::<crate::ssl::SslError>();
        send_sync::<SessionInfo>();
    }

    #[test]
    fn built_configs_are_cached_until_a_setter_runs() {
        let mut config = SslConfiguration::default();
        let a = config.client_config().unwrap();
        let b = config.clone().client_config().unwrap();
        assert!(Arc::ptr_eq(&a, &b), "clones share the cache");
        config.set_peer_verify_name("example.com");
        assert!(Arc::ptr_eq(&a, &config.client_config().unwrap()));
        config.set_allowed_next_protocols(vec![b"h2".to_vec()]);
        let c = config.client_config().unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.alpn_protocols, [b"h2".to_vec()]);
    }

    #[test]
    fn the_trust_fingerprint_follows_what_decides_trust_and_identity() {
        let pki = test_certs::pki();
        let base = SslConfiguration::default();
        let fp = base.trust_fingerprint();
        assert_eq!(SslConfiguration::default().trust_fingerprint(), fp);
        // Not part of it: the name checked, the ALPN offer, the session.
        let mut same = base.clone();
        same.set_peer_verify_name("other.example");
        same.set_allowed_next_protocols(vec![b"h2".to_vec()]);
        same.set_session_info(SessionInfo {
            session_resumed: true,
            ..SessionInfo::default()
        });
        assert_eq!(same.trust_fingerprint(), fp);
        // Each of these changes it.
        let changes: [&dyn Fn(&mut SslConfiguration); 7] = [
            &|c| c.add_ca_certificate(pki.ca.clone()),
            &|c| c.set_ca_certificates(vec![pki.ca.clone()]),
            &|c| c.set_system_ca_certificates_enabled(false),
            &|c| c.set_local_certificate(pki.client.chain[0].clone()),
            &|c| c.set_private_key(pki.client.key.clone()),
            &|c| c.set_protocol(SslProtocol::TlsV1_3OrLater),
            &|c| c.set_peer_verify_mode(PeerVerifyMode::VerifyNone),
        ];
        let mut seen = vec![fp];
        for change in changes {
            let mut c = base.clone();
            change(&mut c);
            let other = c.trust_fingerprint();
            assert!(!seen.contains(&other), "{c:?}");
            seen.push(other);
        }
        // Another CA set: another fingerprint, even with as many certificates.
        let mut a = base.clone();
        a.set_ca_certificates(vec![pki.ca.clone()]);
        let mut b = base.clone();
        b.set_ca_certificates(vec![pki.self_signed.chain[0].clone()]);
        assert_ne!(a.trust_fingerprint(), b.trust_fingerprint());
    }

    #[test]
    fn ca_lists_add_and_replace() {
        let pki = test_certs::pki();
        let mut config = SslConfiguration::default();
        assert!(config.uses_system_ca_certificates());
        let system = system_roots::store().len();
        assert!(system > 50, "{system} system roots");
        assert_eq!(config.trust_anchors().store().len(), system);
        config.add_ca_certificate(pki.ca.clone());
        assert!(config.uses_system_ca_certificates());
        assert_eq!(config.ca_certificates(), std::slice::from_ref(&pki.ca));
        assert_eq!(config.trust_anchors().store().len(), system + 1);
        config.set_ca_certificates(vec![pki.ca.clone()]);
        assert!(!config.uses_system_ca_certificates());
        assert_eq!(config.trust_anchors().store().len(), 1);
    }

    #[test]
    fn setup_errors() {
        let pki = test_certs::pki();
        let mut config = SslConfiguration::default();
        assert_eq!(
            config.server_config().unwrap_err(),
            SslSetupError::NoLocalCertificate
        );
        config.set_local_certificate(pki.server.chain[0].clone());
        assert_eq!(
            config.client_config().unwrap_err(),
            SslSetupError::IncompleteLocalIdentity
        );
        // A key that does not belong to the certificate.
        config.set_private_key(pki.client.key.clone());
        assert!(matches!(
            config.server_config().unwrap_err(),
            SslSetupError::Rustls(_)
        ));
        config.set_private_key(pki.server.key.clone());
        assert!(config.server_config().is_ok());
        config.set_protocol(SslProtocol::TlsV1_1);
        assert_eq!(
            config.server_config().unwrap_err(),
            SslSetupError::UnsupportedProtocol(SslProtocol::TlsV1_1)
        );
    }
}
