//! [`HstsCache`]: the known HSTS hosts and the upgrade of `http:` URLs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use url::{Host, Url};

use super::header::parse_sts;
use super::policy::{normalize_host, HstsPolicy};

/// At most this many policies are kept; when full, the one expiring first is dropped.
pub const MAX_POLICIES: usize = 10_000;

/// The longest policy honoured (about 100 years): larger `max-age` values are capped so
/// that `SystemTime` arithmetic cannot overflow.
const MAX_AGE_CAP: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Whether `host` is an IP literal, with or without IPv6 brackets.
fn is_ip_literal(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// The known HSTS hosts (RFC 6797 "Known HSTS Host" list), as Qt's network access manager
/// keeps them when `set_strict_transport_security_enabled(true)`.
///
/// ```
/// use slotnet_http::hsts::HstsCache;
/// use std::time::SystemTime;
/// use url::Url;
/// let mut cache = HstsCache::new();
/// // Only for a response that arrived over TLS:
/// assert!(cache.update_from_header("example.com", "max-age=31536000; includeSubDomains",
///                                  SystemTime::now()));
/// let url = Url::parse("http://www.example.com/login").unwrap();
/// assert_eq!(cache.upgrade_url(&url).unwrap().as_str(), "https://www.example.com/login");
/// ```
#[derive(Clone, Debug, Default)]
pub struct HstsCache {
    policies: HashMap<String, HstsPolicy>,
}

impl HstsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a `Strict-Transport-Security` header received from `host` at `now`.
    ///
    /// **The caller must only call this for responses received over a secure transport
    /// (TLS) without certificate errors**: RFC 6797 section 8.1 says the header is ignored
    /// on plain HTTP, where anyone on the path could have forged it. Likewise only the first
    /// such header of a response should be passed.
    ///
    /// `max-age=0` removes the host's policy; IP-literal hosts are ignored (RFC 6797 8.1.1).
    /// Returns whether the header was valid and applied (the cache may have changed, so a
    /// persistent store should be written).
    pub fn update_from_header(&mut self, host: &str, header_value: &str, now: SystemTime) -> bool {
        if host.is_empty() || is_ip_literal(host) {
            return false;
        }
        let Some(directives) = parse_sts(header_value) else {
            return false;
        };
        let max_age = Duration::from_secs(directives.max_age).min(MAX_AGE_CAP);
        let expiry = now.checked_add(max_age).unwrap_or(now);
        self.update_known_host(
            HstsPolicy::new(expiry, directives.include_subdomains, host),
            now,
        );
        true
    }

    /// Adds or replaces policies, e.g. from a persistent store or a preload list (Qt's
    /// `addStrictTransportSecurityHosts`). An already expired policy removes its host.
    pub fn add_policies(&mut self, policies: impl IntoIterator<Item = HstsPolicy>) {
        let now = SystemTime::now();
        for policy in policies {
            self.update_known_host(policy, now);
        }
    }

    fn update_known_host(&mut self, policy: HstsPolicy, now: SystemTime) {
        if policy.host().is_empty() || is_ip_literal(policy.host()) {
            return;
        }
        if policy.is_expired_at(now) {
            self.policies.remove(policy.host());
            return;
        }
        if !self.policies.contains_key(policy.host()) && self.policies.len() >= MAX_POLICIES {
            self.make_room(now);
        }
        self.policies.insert(policy.host().to_owned(), policy);
    }

    /// Frees one slot: expired policies first, else the one expiring soonest.
    fn make_room(&mut self, now: SystemTime) {
        self.remove_expired(now);
        if self.policies.len() < MAX_POLICIES {
            return;
        }
        if let Some(host) = self
            .policies
            .values()
            .min_by_key(|p| p.expiry())
            .map(|p| p.host().to_owned())
        {
            self.policies.remove(&host);
        }
    }

    /// The unexpired policies, sorted by host (Qt's `strictTransportSecurityHosts`).
    pub fn policies(&self) -> Vec<HstsPolicy> {
        let now = SystemTime::now();
        let mut list: Vec<HstsPolicy> = self
            .policies
            .values()
            .filter(|p| !p.is_expired_at(now))
            .cloned()
            .collect();
        list.sort_by(|a, b| a.host().cmp(b.host()));
        list
    }

    /// Whether `host` is a known HSTS host now: it has a policy of its own, or a
    /// superdomain has one with `includeSubDomains` (RFC 6797 section 8.2).
    pub fn is_known_host(&self, host: &str) -> bool {
        self.is_known_host_at(host, SystemTime::now())
    }

    /// [`is_known_host`](Self::is_known_host) at `now`.
    pub fn is_known_host_at(&self, host: &str, now: SystemTime) -> bool {
        if host.is_empty() || is_ip_literal(host) {
            return false;
        }
        let host = normalize_host(host);
        let live = |name: &str| self.policies.get(name).filter(|p| !p.is_expired_at(now));
        // A congruent match decides on its own, include_subdomains or not.
        if live(&host).is_some() {
            return true;
        }
        let mut rest = host.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if live(parent).is_some_and(HstsPolicy::include_subdomains) {
                return true;
            }
            rest = parent;
        }
        false
    }

    /// The HTTPS URL to use instead of `url` when `url` is `http:` and its host is a known
    /// HSTS host; `None` otherwise. As RFC 6797 section 8.3 (and Qt) says, an explicit
    /// port 80 becomes 443 (the `url` crate already drops `:80` from `http:` URLs, so it
    /// simply disappears) and any other explicit port is kept.
    pub fn upgrade_url(&self, url: &Url) -> Option<Url> {
        if url.scheme() != "http" {
            return None;
        }
        let host = match url.host()? {
            Host::Domain(d) => d,
            Host::Ipv4(_) | Host::Ipv6(_) => return None,
        };
        if !self.is_known_host(host) {
            return None;
        }
        let mut upgraded = url.clone();
        upgraded.set_scheme("https").ok()?;
        Some(upgraded)
    }

    /// Drops every policy that has expired at `now`.
    pub fn remove_expired(&mut self, now: SystemTime) {
        self.policies.retain(|_, p| !p.is_expired_at(now));
    }

    /// Number of policies held (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether no policy is held.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Forgets every policy.
    pub fn clear(&mut self) {
        self.policies.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR: &str = "max-age=31536000";

    fn cache_with(entries: &[(&str, &str)]) -> HstsCache {
        let mut cache = HstsCache::new();
        for (host, header) in entries {
            assert!(
                cache.update_from_header(host, header, SystemTime::now()),
                "{host}: {header}"
            );
        }
        cache
    }

    #[test]
    fn known_hosts_table() {
        let cache = cache_with(&[
            ("example.com", "max-age=31536000; includeSubDomains"),
            ("plain.org", YEAR),
            ("sub.plain.org", "max-age=100"),
        ]);
        let table = [
            ("example.com", true),
            ("EXAMPLE.COM.", true),
            ("www.example.com", true),
            ("a.b.example.com", true),
            ("notexample.com", false),
            ("com", false),
            ("plain.org", true),
            ("www.plain.org", false),
            ("sub.plain.org", true),
            ("x.sub.plain.org", false),
            ("", false),
            ("127.0.0.1", false),
        ];
        for (host, known) in table {
            assert_eq!(cache.is_known_host(host), known, "{host}");
        }
    }

    #[test]
    fn congruent_policy_without_subdomains_does_not_hide_a_parent_one() {
        // RFC 6797 8.2 checks the exact host first; when it has no match, superdomains with
        // includeSubDomains still apply to deeper hosts.
        let cache = cache_with(&[
            ("example.com", "max-age=1000; includeSubDomains"),
            ("www.example.com", "max-age=1000"),
        ]);
        assert!(cache.is_known_host("a.www.example.com"));
    }

    #[test]
    fn max_age_zero_removes_and_invalid_headers_change_nothing() {
        let mut cache = cache_with(&[("example.com", YEAR)]);
        assert!(!cache.update_from_header("example.com", "max-age=oops", SystemTime::now()));
        assert!(cache.is_known_host("example.com"));
        assert!(cache.update_from_header("example.com", "max-age=0", SystemTime::now()));
        assert!(!cache.is_known_host("example.com"));
        assert!(cache.is_empty());
    }

    #[test]
    fn ip_literals_are_ignored() {
        let mut cache = HstsCache::new();
        for host in ["127.0.0.1", "::1", "[::1]"] {
            assert!(
                !cache.update_from_header(host, YEAR, SystemTime::now()),
                "{host}"
            );
        }
        cache.add_policies([HstsPolicy::new(
            SystemTime::now() + Duration::from_secs(60),
            true,
            "10.0.0.1",
        )]);
        assert!(cache.is_empty());
        let url = Url::parse("http://127.0.0.1/").unwrap();
        assert_eq!(cache.upgrade_url(&url), None);
    }

    #[test]
    fn expiry() {
        let now = SystemTime::now();
        let mut cache = HstsCache::new();
        assert!(cache.update_from_header("example.com", "max-age=60", now));
        assert!(cache.is_known_host_at("example.com", now + Duration::from_secs(59)));
        assert!(!cache.is_known_host_at("example.com", now + Duration::from_secs(60)));
        cache.remove_expired(now + Duration::from_secs(61));
        assert!(cache.is_empty());

        // Absurd max-age values are capped, not overflowed.
        assert!(cache.update_from_header("example.com", "max-age=18446744073709551615", now));
        assert!(cache.is_known_host_at("example.com", now + Duration::from_secs(86_400 * 3650)));

        // An expired policy given to add_policies removes the host.
        cache.add_policies([HstsPolicy::new(
            now - Duration::from_secs(1),
            false,
            "example.com",
        )]);
        assert!(cache.is_empty());
    }

    #[test]
    fn upgrade_urls() {
        let cache = cache_with(&[("example.com", "max-age=31536000; includeSubDomains")]);
        let table = [
            ("http://example.com/", Some("https://example.com/")),
            (
                "http://example.com:80/a?b#c",
                Some("https://example.com/a?b#c"),
            ),
            (
                "http://www.example.com:8080/x",
                Some("https://www.example.com:8080/x"),
            ),
            (
                "http://user:pw@example.com/",
                Some("https://user:pw@example.com/"),
            ),
            ("https://example.com/", None),
            ("ftp://example.com/", None),
            ("http://other.com/", None),
        ];
        for (input, expected) in table {
            let upgraded = cache.upgrade_url(&Url::parse(input).unwrap());
            assert_eq!(upgraded.as_ref().map(Url::as_str), expected, "{input}");
        }
    }

    #[test]
    fn policies_listing_and_bound() {
        let cache = cache_with(&[
            ("b.example", YEAR),
            ("a.example", "max-age=10; includeSubDomains"),
        ]);
        let listed = cache.policies();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].host(), "a.example");
        assert!(listed[0].include_subdomains());
        assert!(!listed[1].include_subdomains());

        let mut cache = HstsCache::new();
        let now = SystemTime::now();
        let soonest = HstsPolicy::new(now + Duration::from_secs(5), false, "soonest.example");
        cache.add_policies([soonest]);
        cache.add_policies((0..MAX_POLICIES).map(|i| {
            HstsPolicy::new(
                now + Duration::from_secs(1000),
                false,
                &format!("h{i}.example"),
            )
        }));
        assert_eq!(cache.len(), MAX_POLICIES);
        assert!(
            !cache.is_known_host("soonest.example"),
            "the soonest to expire was evicted"
        );
        assert!(cache.is_known_host("h0.example"));
    }
}
