//! Certificate verifiers that report Qt's full `sslErrors` list.
//!
//! webpki stops at the first problem, while Qt (on OpenSSL 3) reports every one of them in a
//! fixed order: host name first, then the chain's trust, then validity periods from the top
//! of the chain down to the leaf. So the verifiers probe separately:
//!
//! - host name: `verify_server_name` on the end-entity certificate;
//! - trust: webpki's chain verification; when it fails on time, it is run again at a moment
//!   inside the chain's validity window to learn whether the chain is otherwise trusted;
//! - why an untrusted chain is untrusted: the presented chain is followed issuer by issuer
//!   (names and signatures); a self-signed top gives `SelfSignedCertificate` (a lone leaf)
//!   or `SelfSignedCertificateInChain`, any other top `UnableToGetLocalIssuerCertificate`,
//!   plus `UnableToVerifyFirstCertificate` when the leaf came alone, as OpenSSL does;
//! - validity: each certificate of the presented chain against the current time.
//!
//! The list then goes to the active [`VerifyContext`](super::VerifyContext), which decides.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::certificate::SslCertificate;
use super::error::{SslError, SslErrorKind};
use super::protocol::PeerVerifyMode;
use super::provider::provider;
use super::trust_anchors::TrustAnchors;
use super::verify;

/// The longest issuer chain followed in a presented certificate list.
const MAX_CHAIN: usize = 16;

/// What webpki's chain verification said, reduced to what decides Qt's errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChainStatus {
    Trusted,
    OutOfTime,
    UnknownIssuer,
    BadSignature,
    Revoked,
    InvalidPurpose,
    Other,
}

fn classify(result: Result<(), rustls::Error>) -> ChainStatus {
    use CertificateError as C;
    let error = match result {
        Ok(()) => return ChainStatus::Trusted,
        Err(rustls::Error::InvalidCertificate(e)) => e,
        Err(_) => return ChainStatus::Other,
    };
    match error {
        C::NotValidForName | C::NotValidForNameContext { .. } => ChainStatus::Trusted,
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            ChainStatus::OutOfTime
        }
        C::UnknownIssuer => ChainStatus::UnknownIssuer,
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm => ChainStatus::BadSignature,
        C::BadSignature
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => ChainStatus::BadSignature,
        C::Revoked => ChainStatus::Revoked,
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => ChainStatus::InvalidPurpose,
        _ => ChainStatus::Other,
    }
}

/// Which chain verification applies (the extended key usage differs).
#[derive(Debug)]
enum Purpose {
    /// A server's certificate, checked by a client.
    Server,
    /// A client's certificate: webpki's client verifier, built with the anchors at the
    /// first check (`None` when there is no trust anchor at all).
    Client(OnceLock<Result<Option<Arc<dyn ClientCertVerifier>>, rustls::Error>>),
}

/// Computes Qt's error list for a presented chain.
#[derive(Debug)]
pub(crate) struct ChainAnalyzer {
    /// Built at the first chain checked: a verifier that never checks one never loads the
    /// system store.
    anchors: TrustAnchors,
    algorithms: WebPkiSupportedAlgorithms,
    purpose: Purpose,
}

impl ChainAnalyzer {
    fn new(anchors: TrustAnchors, for_client_certs: bool) -> Self {
        let purpose = match for_client_certs {
            false => Purpose::Server,
            true => Purpose::Client(OnceLock::new()),
        };
        ChainAnalyzer {
            anchors,
            algorithms: provider().signature_verification_algorithms,
            purpose,
        }
    }

    fn client_verifier(&self) -> Result<Option<Arc<dyn ClientCertVerifier>>, rustls::Error> {
        let Purpose::Client(verifier) = &self.purpose else {
            return Ok(None);
        };
        verifier
            .get_or_init(|| {
                let roots = self.anchors.store();
                if roots.is_empty() {
                    return Ok(None);
                }
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                    .build()
                    .map(Some)
                    .map_err(|e| rustls::Error::General(format!("client verifier: {e}")))
            })
            .clone()
    }

    fn chain_check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        match &self.purpose {
            Purpose::Server => {
                let roots = self.anchors.store();
                if roots.is_empty() {
                    return Err(CertificateError::UnknownIssuer.into());
                }
                let parsed = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_cert_signed_by_trust_anchor(
                    &parsed,
                    roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                )
            }
            Purpose::Client(_) => match self.client_verifier()? {
                Some(verifier) => verifier
                    .verify_client_cert(end_entity, intermediates, now)
                    .map(|_| ()),
                None => Err(CertificateError::UnknownIssuer.into()),
            },
        }
    }

    /// Every error Qt would report for this chain, in Qt's order. `server_name` is checked
    /// when given (clients checking servers). A leaf that cannot be decoded is a hard error.
    pub(crate) fn errors(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: Option<&ServerName<'_>>,
        now: UnixTime,
    ) -> Result<Vec<SslError>, rustls::Error> {
        let leaf = SslCertificate::from_der(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let presented: Vec<SslCertificate> = intermediates
            .iter()
            .filter_map(|der| SslCertificate::from_der(der).ok())
            .collect();
        let mut errors = Vec::new();
        if let Some(name) = server_name {
            let parsed = ParsedCertificate::try_from(end_entity)?;
            if rustls::client::verify_server_name(&parsed, name).is_err() {
                errors.push(SslError::new(SslErrorKind::HostNameMismatch, leaf.clone()));
            }
        }
        let chain = walk_chain(&leaf, &presented);
        let status = match classify(self.chain_check(end_entity, intermediates, now)) {
            ChainStatus::Trusted => return Ok(errors),
            ChainStatus::OutOfTime => {
                let inside = validity_window_midpoint(&chain).unwrap_or(now);
                classify(self.chain_check(end_entity, intermediates, inside))
            }
            other => other,
        };
        errors.extend(self.trust_errors(status, &chain));
        errors.extend(time_errors(&chain, now));
        Ok(errors)
    }

    fn trust_errors(&self, status: ChainStatus, chain: &[SslCertificate]) -> Vec<SslError> {
        let leaf = &chain[0];
        // A self-signed certificate the user added to the CA list is trusted, as in OpenSSL,
        // even when webpki refuses it as an end entity (e.g. it is marked CA:TRUE).
        let leaf_is_trusted_root =
            leaf.is_self_signed() && self.anchors.ca_certificates().contains(leaf);
        let with = |kind, cert: &SslCertificate| SslError::new(kind, cert.clone());
        match status {
            ChainStatus::Trusted | ChainStatus::OutOfTime => Vec::new(),
            _ if leaf_is_trusted_root => Vec::new(),
            ChainStatus::UnknownIssuer => untrusted_chain_errors(chain),
            ChainStatus::Other if leaf.is_self_signed() => {
                vec![with(SslErrorKind::SelfSignedCertificate, leaf)]
            }
            ChainStatus::Other => vec![with(SslErrorKind::UnspecifiedError, leaf)],
            ChainStatus::BadSignature => vec![with(SslErrorKind::CertificateSignatureFailed, leaf)],
            ChainStatus::Revoked => vec![with(SslErrorKind::CertificateRevoked, leaf)],
            ChainStatus::InvalidPurpose => vec![with(SslErrorKind::InvalidPurpose, leaf)],
        }
    }

    fn signature_algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.algorithms
    }
}

/// The presented chain as far as it links up: the leaf, then each issuer found among the
/// presented certificates, until a self-signed certificate or a missing issuer.
fn walk_chain(leaf: &SslCertificate, presented: &[SslCertificate]) -> Vec<SslCertificate> {
    let mut chain = vec![leaf.clone()];
    while chain.len() < MAX_CHAIN {
        let current = &chain[chain.len() - 1];
        if current.is_self_signed() {
            break;
        }
        let issuer = presented
            .iter()
            .find(|c| !chain.contains(c) && current.is_issued_by(c));
        match issuer {
            Some(issuer) => chain.push(issuer.clone()),
            None => break,
        }
    }
    chain
}

/// OpenSSL's verdict on a chain that reaches no trust anchor.
fn untrusted_chain_errors(chain: &[SslCertificate]) -> Vec<SslError> {
    let leaf = &chain[0];
    let top = &chain[chain.len() - 1];
    if top.is_self_signed() {
        let kind = if chain.len() == 1 {
            SslErrorKind::SelfSignedCertificate
        } else {
            SslErrorKind::SelfSignedCertificateInChain
        };
        return vec![SslError::new(kind, top.clone())];
    }
    let mut errors = vec![SslError::new(
        SslErrorKind::UnableToGetLocalIssuerCertificate,
        top.clone(),
    )];
    if chain.len() == 1 {
        errors.push(SslError::new(
            SslErrorKind::UnableToVerifyFirstCertificate,
            leaf.clone(),
        ));
    }
    errors
}

/// Validity errors from the top of the chain down to the leaf (OpenSSL's order).
fn time_errors(chain: &[SslCertificate], now: UnixTime) -> Vec<SslError> {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let mut errors = Vec::new();
    for cert in chain.iter().rev() {
        let (not_before, not_after) = cert.validity_secs();
        if now < not_before {
            errors.push(SslError::new(
                SslErrorKind::CertificateNotYetValid,
                cert.clone(),
            ));
        } else if now > not_after {
            errors.push(SslError::new(
                SslErrorKind::CertificateExpired,
                cert.clone(),
            ));
        }
    }
    errors
}

/// A moment at which every certificate of `chain` is valid (else the leaf alone is), so
/// chain verification can be re-run without the time problem.
fn validity_window_midpoint(chain: &[SslCertificate]) -> Option<UnixTime> {
    let common = chain.iter().fold((i64::MIN, i64::MAX), |(lo, hi), c| {
        let (nb, na) = c.validity_secs();
        (lo.max(nb), hi.min(na))
    });
    let (lo, hi) = if common.0 <= common.1 {
        common
    } else {
        chain[0].validity_secs()
    };
    if lo > hi {
        return None;
    }
    let mid = lo.max(0) + (hi.max(0) - lo.max(0)) / 2;
    let secs = u64::try_from(mid).ok()?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// The rustls error a rejected verification reports (it picks the TLS alert sent).
fn rejection(errors: &[SslError]) -> rustls::Error {
    let error = match errors.first().map(SslError::error) {
        Some(SslErrorKind::HostNameMismatch) => CertificateError::NotValidForName,
        Some(SslErrorKind::CertificateExpired) => CertificateError::Expired,
        Some(SslErrorKind::CertificateNotYetValid) => CertificateError::NotValidYet,
        Some(SslErrorKind::CertificateSignatureFailed) => CertificateError::BadSignature,
        Some(SslErrorKind::CertificateRevoked) => CertificateError::Revoked,
        Some(SslErrorKind::InvalidPurpose) => CertificateError::InvalidPurpose,
        Some(
            SslErrorKind::SelfSignedCertificate
            | SslErrorKind::SelfSignedCertificateInChain
            | SslErrorKind::UnableToGetLocalIssuerCertificate
            | SslErrorKind::UnableToVerifyFirstCertificate,
        ) => CertificateError::UnknownIssuer,
        _ => CertificateError::ApplicationVerificationFailure,
    };
    rustls::Error::InvalidCertificate(error)
}

/// The client side's verifier of server certificates.
#[derive(Debug)]
pub(crate) struct QtServerCertVerifier {
    mode: PeerVerifyMode,
    analyzer: ChainAnalyzer,
}

impl QtServerCertVerifier {
    /// A verifier for `mode` (already resolved for a client) trusting `anchors`.
    pub(crate) fn new(mode: PeerVerifyMode, anchors: TrustAnchors) -> Self {
        QtServerCertVerifier {
            mode,
            analyzer: ChainAnalyzer::new(anchors, false),
        }
    }
}

impl ServerCertVerifier for QtServerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.mode != PeerVerifyMode::VerifyPeer {
            return Ok(ServerCertVerified::assertion());
        }
        let errors = self
            .analyzer
            .errors(end_entity, intermediates, Some(server_name), now)?;
        if verify::decide(&errors) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rejection(&errors))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            self.analyzer.signature_algorithms(),
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            self.analyzer.signature_algorithms(),
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.analyzer.signature_algorithms().supported_schemes()
    }
}

/// The server side's verifier of client certificates (mutual TLS). `QueryPeer` asks for a
/// certificate and accepts whatever comes (or nothing); `VerifyPeer` requires one and sends
/// its errors to the decision.
#[derive(Debug)]
pub(crate) struct QtClientCertVerifier {
    mode: PeerVerifyMode,
    analyzer: ChainAnalyzer,
}

impl QtClientCertVerifier {
    /// A verifier for `mode` (`QueryPeer` or `VerifyPeer`) trusting `anchors`.
    pub(crate) fn new(mode: PeerVerifyMode, anchors: TrustAnchors) -> Self {
        QtClientCertVerifier {
            mode,
            analyzer: ChainAnalyzer::new(anchors, true),
        }
    }
}

impl ClientCertVerifier for QtClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        self.mode != PeerVerifyMode::VerifyNone
    }

    /// rustls asks this when the client's Certificate message arrives, before looking at
    /// it. Never mandatory for rustls: with `VerifyPeer`, an empty answer is Qt's
    /// `NoPeerCertificate`, which goes to the `sslErrors` slots like any certificate error
    /// so that the server can decide; the session checks for it once rustls has processed
    /// the message (see `TlsSession::process_new_packets`).
    fn client_auth_mandatory(&self) -> bool {
        if self.mode == PeerVerifyMode::VerifyPeer {
            verify::note_client_certificate_answer(false);
        }
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Like Qt on OpenSSL, no CA list is sent: the client offers whatever it has.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.mode != PeerVerifyMode::VerifyPeer {
            return Ok(ClientCertVerified::assertion());
        }
        verify::note_client_certificate_answer(true);
        let errors = self.analyzer.errors(end_entity, intermediates, None, now)?;
        if verify::decide(&errors) {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rejection(&errors))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            self.analyzer.signature_algorithms(),
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            self.analyzer.signature_algorithms(),
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.analyzer.signature_algorithms().supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::test_certs;

    fn analyzer(cas: &[SslCertificate]) -> ChainAnalyzer {
        ChainAnalyzer::new(TrustAnchors::new(false, cas.to_vec().into()), false)
    }

    fn names(errors: &[SslError]) -> String {
        SslError::join_names(errors)
    }

    fn localhost() -> ServerName<'static> {
        ServerName::try_from("localhost").unwrap()
    }

    #[test]
    fn chain_walk_follows_presented_issuers() {
        let pki = test_certs::pki();
        let leaf = &pki.intermediate_signed.chain[0];
        let chain = walk_chain(leaf, &pki.intermediate_signed.chain[1..]);
        assert_eq!(chain.len(), 2);
        let with_root = [pki.intermediate_signed.chain[1].clone(), pki.ca.clone()];
        assert_eq!(walk_chain(leaf, &with_root).len(), 3);
        // Unrelated certificates are not followed.
        assert_eq!(
            walk_chain(leaf, &[pki.self_signed.chain[0].clone()]).len(),
            1
        );
    }

    #[test]
    fn intermediate_without_root_reports_issuer_of_the_top() {
        let pki = test_certs::pki();
        let id = &pki.intermediate_signed;
        let der: Vec<_> = id
            .chain
            .iter()
            .map(SslCertificate::certificate_der)
            .collect();
        let errors = analyzer(&[])
            .errors(&der[0], &der[1..], Some(&localhost()), UnixTime::now())
            .unwrap();
        assert_eq!(names(&errors), "UnableToGetLocalIssuerCertificate");
        assert_eq!(errors[0].certificate(), Some(&id.chain[1]));
        // Trusting the root makes the same chain clean.
        let errors = analyzer(std::slice::from_ref(&pki.ca))
            .errors(&der[0], &der[1..], Some(&localhost()), UnixTime::now())
            .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn untrusted_root_sent_along_is_self_signed_in_chain() {
        let pki = test_certs::pki();
        let leaf = pki.server.chain[0].certificate_der();
        let errors = analyzer(&[])
            .errors(
                &leaf,
                &[pki.ca.certificate_der()],
                Some(&localhost()),
                UnixTime::now(),
            )
            .unwrap();
        assert_eq!(names(&errors), "SelfSignedCertificateInChain");
        assert_eq!(errors[0].certificate(), Some(&pki.ca));
    }

    #[test]
    fn self_signed_leaf_in_ca_list_is_trusted() {
        let pki = test_certs::pki();
        let cert = &pki.self_signed.chain[0];
        let errors = analyzer(std::slice::from_ref(cert))
            .errors(
                &cert.certificate_der(),
                &[],
                Some(&localhost()),
                UnixTime::now(),
            )
            .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn undecodable_leaf_is_a_hard_error() {
        let result = analyzer(&[]).errors(
            &CertificateDer::from(vec![0x30, 0x00]),
            &[],
            Some(&localhost()),
            UnixTime::now(),
        );
        assert_eq!(
            result.unwrap_err(),
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
        );
    }

    #[test]
    fn window_midpoint_is_inside_every_certificate() {
        let pki = test_certs::pki();
        let chain = [pki.expired.chain[0].clone(), pki.ca.clone()];
        let t = validity_window_midpoint(&chain).unwrap();
        let t = i64::try_from(t.as_secs()).unwrap();
        for c in &chain {
            let (nb, na) = c.validity_secs();
            assert!(nb <= t && t <= na);
        }
    }
}
