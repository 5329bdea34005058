//! The one crypto provider slotnet uses, chosen by a cargo feature and built once: rustls'
//! `ring` provider (`tls-ring`, the default) or its `aws-lc-rs` provider (`tls-aws-lc`, which
//! adds the post-quantum hybrid key exchange X25519MLKEM768 and offers it first). With both
//! features on, `aws-lc-rs` is used.
//!
//! Every config is built with `builder_with_provider(provider())`, never with the process
//! default, so feature unification that enables a second provider cannot make rustls panic.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

#[cfg(not(any(feature = "tls-ring", feature = "tls-aws-lc")))]
compile_error!(
    "slotnet-net needs a TLS crypto provider: enable the `tls-ring` feature (the default) or \
     `tls-aws-lc` (with `default-features = false`, add one of them to `features`)"
);

/// The shared provider.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(chosen())).clone()
}

#[cfg(feature = "tls-aws-lc")]
fn chosen() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

#[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
fn chosen() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

#[cfg(test)]
mod tests {
    use super::provider;

    #[cfg(feature = "tls-aws-lc")]
    #[test]
    fn aws_lc_offers_the_post_quantum_hybrid_first() {
        let groups = &provider().kx_groups;
        assert_eq!(groups[0].name(), rustls::NamedGroup::X25519MLKEM768);
    }

    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    #[test]
    fn ring_offers_x25519_first() {
        let groups = &provider().kx_groups;
        assert_eq!(groups[0].name(), rustls::NamedGroup::X25519);
    }
}
