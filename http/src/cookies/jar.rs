//! [`NetworkCookieJar`]: the RFC 6265 cookie store (Qt's `QNetworkCookieJar`).

use std::time::SystemTime;

use url::Url;

use super::cookie::{NetworkCookie, RawForm};
use super::domain::{
    domain_matches, is_ip_literal, is_public_suffix, path_matches, request_path, site_of, url_host,
};
use super::parse::MAX_NAME_VALUE_LEN;

/// At most this many cookies per site (registrable domain), as in Chromium; the oldest go
/// first. Keeps one server from filling memory with cookies.
pub const MAX_COOKIES_PER_SITE: usize = 180;
/// At most this many cookies in one jar; the oldest go first.
pub const MAX_COOKIES: usize = 3000;

#[derive(Clone, Debug)]
struct Stored {
    cookie: NetworkCookie,
    /// Insertion order; kept when a cookie is replaced (RFC 6265 5.3 step 11.3), used to
    /// sort cookies with equal paths and to pick eviction victims.
    created: u64,
    /// The cookie's registrable domain, cached for the per-site limit.
    site: String,
}

impl Stored {
    fn new(cookie: NetworkCookie, created: u64) -> Self {
        let site = site_of(cookie.domain());
        Stored {
            cookie,
            created,
            site,
        }
    }
}

/// Whether requests to `url` travel encrypted, which `Secure` cookies require.
pub(crate) fn is_secure_url(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "wss")
}

/// A cookie jar (Qt's `QNetworkCookieJar`): stores cookies received in `Set-Cookie` headers
/// and says which ones to send with a request.
///
/// Compared with Qt's jar it also rejects cookies whose domain is a public suffix (`.com`,
/// `.co.uk`), refuses `Secure` cookies set over plain HTTP (RFC 6265bis, as browsers do),
/// bounds the number of cookies per site and in total, and can save persistent cookies to a
/// file.
///
/// ```
/// use slotnet_http::cookies::{NetworkCookie, NetworkCookieJar};
/// use url::Url;
/// let mut jar = NetworkCookieJar::new();
/// let url = Url::parse("https://www.example.com/shop/cart").unwrap();
/// assert!(jar.set_cookies_from_url(
///     NetworkCookie::parse_cookies("session=abc; Domain=example.com; Path=/"),
///     &url,
/// ));
/// let other = Url::parse("http://static.example.com/logo.png").unwrap();
/// assert_eq!(jar.cookie_header_for_url(&other).as_deref(), Some("session=abc"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct NetworkCookieJar {
    cookies: Vec<Stored>,
    next_created: u64,
}

impl NetworkCookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every cookie in the jar, expired ones included, oldest first.
    pub fn all_cookies(&self) -> Vec<NetworkCookie> {
        self.cookies.iter().map(|s| s.cookie.clone()).collect()
    }

    /// Replaces the jar's contents with `cookies`, unvalidated (as Qt's `setAllCookies`),
    /// keeping only the newest [`MAX_COOKIES`].
    pub fn set_all_cookies(&mut self, cookies: Vec<NetworkCookie>) {
        self.cookies.clear();
        for cookie in cookies {
            let created = self.bump();
            self.cookies.push(Stored::new(cookie, created));
        }
        self.enforce_limits(None);
    }

    /// Number of cookies in the jar.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The cookies to send with a request to `url`: those whose domain and path match, not
    /// expired, `Secure` ones only for `https:`/`wss:`. Longest path first, then oldest first
    /// (RFC 6265 section 5.4).
    pub fn cookies_for_url(&self, url: &Url) -> Vec<NetworkCookie> {
        self.cookies_for_url_at(url, SystemTime::now())
    }

    pub(crate) fn cookies_for_url_at(&self, url: &Url, now: SystemTime) -> Vec<NetworkCookie> {
        let Some(host) = url_host(url) else {
            return Vec::new();
        };
        let path = request_path(url);
        let secure = is_secure_url(url);
        let mut matching: Vec<&Stored> = self
            .cookies
            .iter()
            .filter(|s| {
                let c = &s.cookie;
                domain_matches(c.domain(), &host)
                    && path_matches(c.path(), path)
                    && (secure || !c.is_secure())
                    && !c.is_expired_at(now)
            })
            .collect();
        matching.sort_by(|a, b| {
            b.cookie
                .path()
                .len()
                .cmp(&a.cookie.path().len())
                .then(a.created.cmp(&b.created))
        });
        matching.into_iter().map(|s| s.cookie.clone()).collect()
    }

    /// The value of the `Cookie:` header for a request to `url` (`a=1; b=2`), or `None` when
    /// no cookie applies.
    pub fn cookie_header_for_url(&self, url: &Url) -> Option<String> {
        let cookies = self.cookies_for_url(url);
        if cookies.is_empty() {
            return None;
        }
        let parts: Vec<String> = cookies
            .iter()
            .map(|c| c.to_raw_form(RawForm::NameAndValueOnly))
            .collect();
        Some(parts.join("; "))
    }

    /// Stores the cookies a response from `url` set (Qt's `setCookiesFromUrl`). Each cookie
    /// is [normalized](NetworkCookie::normalize) against `url`, then
    /// [validated](Self::validate_cookie); valid ones replace any cookie with the same
    /// name, domain and path, and an already expired one deletes it. Returns whether at
    /// least one cookie was stored.
    ///
    /// A `Domain` equal to the host that is itself a public suffix (a site hosted directly on
    /// `github.io`, say) makes a host-only cookie, as RFC 6265 section 5.3 step 5 says.
    pub fn set_cookies_from_url(&mut self, cookies: Vec<NetworkCookie>, url: &Url) -> bool {
        self.set_cookies_from_url_at(cookies, url, SystemTime::now())
    }

    pub(crate) fn set_cookies_from_url_at(
        &mut self,
        cookies: Vec<NetworkCookie>,
        url: &Url,
        now: SystemTime,
    ) -> bool {
        let host = url_host(url);
        let mut added = false;
        for mut cookie in cookies {
            cookie.normalize(url);
            if let (Some(host), Some(base)) = (&host, cookie.domain().strip_prefix('.')) {
                if base == host && is_public_suffix(base) {
                    let host_only = host.clone();
                    cookie.set_domain(host_only);
                }
            }
            if self.validate_cookie(&cookie, url) && self.insert_cookie_at(cookie, now) {
                added = true;
            }
        }
        added
    }

    /// Whether `cookie` (already normalized) may be set by a response from `url` (Qt's
    /// `validateCookie`): the URL's host must domain-match the cookie's domain, the domain
    /// must not be a public suffix other than the host itself, a `Secure` cookie needs a
    /// secure URL, and `name=value` must fit in 4096 bytes.
    pub fn validate_cookie(&self, cookie: &NetworkCookie, url: &Url) -> bool {
        let Some(host) = url_host(url) else {
            return false;
        };
        let domain = cookie.domain();
        if domain.is_empty() || cookie.path().is_empty() || !domain_matches(domain, &host) {
            return false;
        }
        if let Some(base) = domain.strip_prefix('.') {
            if is_ip_literal(base) || (base != host && is_public_suffix(base)) {
                return false;
            }
        }
        if cookie.is_secure() && !is_secure_url(url) {
            return false;
        }
        cookie.name().len() + cookie.value().len() <= MAX_NAME_VALUE_LEN
    }

    /// Adds `cookie` unvalidated, replacing one with the same identifier (Qt's
    /// `insertCookie`). An expired cookie is not added but still removes its namesake.
    /// Returns whether the cookie was added.
    pub fn insert_cookie(&mut self, cookie: NetworkCookie) -> bool {
        self.insert_cookie_at(cookie, SystemTime::now())
    }

    pub(crate) fn insert_cookie_at(&mut self, cookie: NetworkCookie, now: SystemTime) -> bool {
        let old = self
            .cookies
            .iter()
            .position(|s| s.cookie.has_same_identifier(&cookie))
            .map(|i| self.cookies.remove(i));
        if cookie.is_expired_at(now) {
            return false;
        }
        let created = match old {
            Some(old) => old.created,
            None => self.bump(),
        };
        let stored = Stored::new(cookie, created);
        let site = stored.site.clone();
        self.cookies.push(stored);
        // Keep creation order so eviction and `all_cookies` stay oldest first.
        self.cookies.sort_by_key(|s| s.created);
        self.remove_expired(now);
        self.enforce_limits(Some(&site));
        true
    }

    /// Replaces the cookie with the same identifier as `cookie` (Qt's `updateCookie`).
    /// Returns `false`, changing nothing, when there is none.
    pub fn update_cookie(&mut self, cookie: NetworkCookie) -> bool {
        if !self
            .cookies
            .iter()
            .any(|s| s.cookie.has_same_identifier(&cookie))
        {
            return false;
        }
        self.insert_cookie(cookie);
        true
    }

    /// Removes the cookie with the same identifier as `cookie` (Qt's `deleteCookie`).
    /// Returns whether one was removed.
    pub fn delete_cookie(&mut self, cookie: &NetworkCookie) -> bool {
        let before = self.cookies.len();
        self.cookies
            .retain(|s| !s.cookie.has_same_identifier(cookie));
        self.cookies.len() != before
    }

    /// Drops every cookie that has expired at `now`.
    pub fn remove_expired(&mut self, now: SystemTime) {
        self.cookies.retain(|s| !s.cookie.is_expired_at(now));
    }

    /// Removes every cookie.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    fn bump(&mut self) -> u64 {
        self.next_created += 1;
        self.next_created
    }

    /// Evicts the oldest cookies of `site` beyond [`MAX_COOKIES_PER_SITE`], then the oldest
    /// overall beyond [`MAX_COOKIES`]. `self.cookies` is sorted oldest first.
    fn enforce_limits(&mut self, site: Option<&str>) {
        if let Some(site) = site {
            let mut count = self.cookies.iter().filter(|s| s.site == site).count();
            if count > MAX_COOKIES_PER_SITE {
                self.cookies.retain(|s| {
                    if count > MAX_COOKIES_PER_SITE && s.site == site {
                        count -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        if self.cookies.len() > MAX_COOKIES {
            let excess = self.cookies.len() - MAX_COOKIES;
            self.cookies.drain(..excess);
        }
    }
}
