//! [`HstsPolicy`]: one host's Strict-Transport-Security policy (Qt's `QHstsPolicy`).

use std::time::SystemTime;

use url::Host;

/// Canonical form of a host for HSTS: lower case, IDNA to ASCII, no trailing dot. IP
/// addresses keep their text (they never get a policy, see
/// [`HstsCache::update_from_header`](super::HstsCache::update_from_header)).
pub(crate) fn normalize_host(host: &str) -> String {
    let host = host.trim_end_matches('.');
    match Host::parse(host) {
        Ok(Host::Domain(d)) => d.to_ascii_lowercase(),
        _ => host.to_ascii_lowercase(),
    }
}

/// A host's HSTS policy (RFC 6797): until `expiry`, requests to `host` (and, with
/// `include_subdomains`, to its subdomains) must use HTTPS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HstsPolicy {
    host: String,
    expiry: SystemTime,
    include_subdomains: bool,
}

impl HstsPolicy {
    /// A policy for `host` (normalized: lower case, punycode, no trailing dot), in Qt's
    /// argument order.
    pub fn new(expiry: SystemTime, include_subdomains: bool, host: &str) -> Self {
        HstsPolicy {
            host: normalize_host(host),
            expiry,
            include_subdomains,
        }
    }

    /// The host the policy is for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sets the host (normalized as in [`new`](Self::new)).
    pub fn set_host(&mut self, host: &str) {
        self.host = normalize_host(host);
    }

    /// When the policy ends.
    pub fn expiry(&self) -> SystemTime {
        self.expiry
    }

    /// Sets when the policy ends.
    pub fn set_expiry(&mut self, expiry: SystemTime) {
        self.expiry = expiry;
    }

    /// Whether the policy also covers every subdomain of the host.
    pub fn include_subdomains(&self) -> bool {
        self.include_subdomains
    }

    /// Sets whether the policy covers subdomains.
    pub fn set_include_subdomains(&mut self, include: bool) {
        self.include_subdomains = include;
    }

    /// Whether the policy has expired now.
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(SystemTime::now())
    }

    /// Whether the policy has expired at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expiry <= now
    }
}
