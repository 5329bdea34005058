//! The system's CA certificates, as Qt trusts them by default: the operating system's store
//! (on Linux the distribution's bundle, or the files named by `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, read through the `rustls-native-certs` crate), loaded once per process on
//! first use because reading and parsing a few hundred certificates is slow (about 18 M
//! instructions): a handshake asks for it only when it verifies a peer's chain, so
//! configurations that never verify (`VerifyNone`) never load it. When that store
//! is empty or unreadable, the Mozilla roots compiled into the library (`webpki-roots`)
//! stand in for it, and [`SystemCaSource`] says so.
//!
//! Which of the two exist is chosen by cargo features: `native-roots` (the default) reads the
//! operating system's store, `webpki-roots` compiles the Mozilla roots in. With both, the
//! bundled roots stand in for an empty store; with `webpki-roots` alone they are the system
//! set; with neither the system set is empty and only the CA certificates a configuration
//! adds are trusted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

use super::certificate::SslCertificate;

/// Where the system CA set comes from (see
/// [`SslConfiguration::system_ca_certificates_source`](super::SslConfiguration::system_ca_certificates_source)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SystemCaSource {
    /// The operating system's store: the distribution's bundle, or the certificates of
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set (as OpenSSL, and so Qt on Linux,
    /// reads them).
    OperatingSystem,
    /// The Mozilla roots compiled into the library (the `webpki-roots` feature), because the
    /// operating system's store was empty or could not be read, or is not read at all
    /// (without the `native-roots` feature).
    BundledMozillaRoots,
    /// No system set: the library was built with neither the `native-roots` nor the
    /// `webpki-roots` feature, so only CA certificates added to a configuration are trusted.
    None,
}

/// The system set, loaded once.
struct SystemRoots {
    source: SystemCaSource,
    /// The store's certificates as found (empty for the bundled roots, which are trust
    /// anchors only).
    ders: Vec<CertificateDer<'static>>,
    /// Their trust anchors, shared by every configuration that adds no CA of its own.
    store: Arc<RootCertStore>,
}

fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(load)
}

/// Set once the store was read (see [`was_loaded`]).
static LOADED: AtomicBool = AtomicBool::new(false);

/// Whether this process has read the system store (for tests of the lazy loading).
pub(crate) fn was_loaded() -> bool {
    LOADED.load(Ordering::Relaxed)
}

fn load() -> SystemRoots {
    LOADED.store(true, Ordering::Relaxed);
    operating_system()
        .or_else(bundled)
        .unwrap_or_else(|| SystemRoots {
            source: SystemCaSource::None,
            ders: Vec::new(),
            store: Arc::new(RootCertStore::empty()),
        })
}

/// The operating system's store, `None` when it holds no usable certificate and the bundled
/// roots can stand in for it.
#[cfg(feature = "native-roots")]
fn operating_system() -> Option<SystemRoots> {
    // Errors (an unreadable file among readable ones) leave out what could not be read, as
    // OpenSSL does; only an empty result falls back.
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _unparsable) = store.add_parsable_certificates(found.certs.iter().cloned());
    if added == 0 && cfg!(feature = "webpki-roots") {
        return None;
    }
    Some(SystemRoots {
        source: SystemCaSource::OperatingSystem,
        ders: found.certs,
        store: Arc::new(store),
    })
}

#[cfg(not(feature = "native-roots"))]
fn operating_system() -> Option<SystemRoots> {
    None
}

/// The Mozilla roots compiled into the library.
#[cfg(feature = "webpki-roots")]
fn bundled() -> Option<SystemRoots> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Some(SystemRoots {
        source: SystemCaSource::BundledMozillaRoots,
        ders: Vec::new(),
        store: Arc::new(store),
    })
}

#[cfg(not(feature = "webpki-roots"))]
fn bundled() -> Option<SystemRoots> {
    None
}

/// Where the system set comes from.
pub(crate) fn source() -> SystemCaSource {
    system_roots().source
}

/// The system set's trust anchors.
pub(crate) fn store() -> &'static Arc<RootCertStore> {
    &system_roots().store
}

/// The system set's certificates (parsed on first request only: the handshakes need the
/// anchors alone). Empty when the bundled roots stand in.
pub(crate) fn certificates() -> &'static [SslCertificate] {
    static CERTIFICATES: OnceLock<Vec<SslCertificate>> = OnceLock::new();
    CERTIFICATES.get_or_init(|| {
        system_roots()
            .ders
            .iter()
            .filter_map(|der| SslCertificate::from_der(der).ok())
            .collect()
    })
}
