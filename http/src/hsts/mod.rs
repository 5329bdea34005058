//! HTTP Strict Transport Security (RFC 6797): [`HstsPolicy`] (Qt's `QHstsPolicy`), the
//! [`HstsCache`] of known hosts that turns `http:` URLs into `https:` ones, and the
//! [`HstsStore`] that keeps policies across runs.
//!
//! The network access manager calls [`HstsCache::update_from_header`] for every
//! `Strict-Transport-Security` header received over TLS, and [`HstsCache::upgrade_url`]
//! before sending each request.

mod cache;
mod header;
mod policy;
mod store;

pub use cache::{HstsCache, MAX_POLICIES};
pub use policy::HstsPolicy;
pub use store::HstsStore;
