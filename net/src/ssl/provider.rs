//! The one crypto provider slotnet uses: rustls' ring provider, built once.
//!
//! Every config is built with `builder_with_provider(provider())`, never with the process
//! default, so feature unification that enables a second provider cannot make rustls panic.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

/// The shared ring provider.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}
