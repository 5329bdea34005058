//! The trust anchors a verifier checks chains against: the system's CA set (when the
//! configuration uses it) and the configuration's own CA certificates, put together when the
//! first chain is checked. Until then nothing is read: a configuration that never verifies a
//! peer (`VerifyNone`) never loads the system store (about 18 M instructions).

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;

use super::certificate::SslCertificate;
use super::system_roots;

/// A configuration's trust anchors, built on first use (see the module documentation).
#[derive(Debug)]
pub(crate) struct TrustAnchors {
    system: bool,
    ca_certificates: Arc<[SslCertificate]>,
    store: OnceLock<Arc<RootCertStore>>,
}

impl TrustAnchors {
    /// The system set if `system`, plus `ca_certificates`.
    pub(crate) fn new(system: bool, ca_certificates: Arc<[SslCertificate]>) -> TrustAnchors {
        TrustAnchors {
            system,
            ca_certificates,
            store: OnceLock::new(),
        }
    }

    /// The configuration's own CA certificates.
    pub(crate) fn ca_certificates(&self) -> &[SslCertificate] {
        &self.ca_certificates
    }

    /// The anchors (the system store is loaded now if needed and not loaded yet).
    pub(crate) fn store(&self) -> &Arc<RootCertStore> {
        self.store.get_or_init(|| self.build())
    }

    fn build(&self) -> Arc<RootCertStore> {
        if self.system && self.ca_certificates.is_empty() {
            // The common case: the system set alone, shared.
            return system_roots::store().clone();
        }
        let mut roots = RootCertStore::empty();
        if self.system {
            roots.extend(system_roots::store().roots.iter().cloned());
        }
        // A CA certificate webpki cannot turn into a trust anchor is left out: it would
        // fail every verification it took part in anyway.
        let _ = roots.add_parsable_certificates(
            self.ca_certificates
                .iter()
                .map(SslCertificate::certificate_der),
        );
        Arc::new(roots)
    }
}
