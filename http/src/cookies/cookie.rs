//! [`NetworkCookie`]: one cookie (Qt's `QNetworkCookie`).

use std::fmt;
use std::time::SystemTime;

use url::Url;

use super::date::format_cookie_date;
use super::domain::{default_path, is_ip_literal, url_host};
use super::parse::parse_set_cookie;

/// The `SameSite` attribute of a cookie (Qt's `QNetworkCookie::SameSite`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// No `SameSite` attribute was given: the user agent's default applies.
    #[default]
    Default,
    /// `SameSite=None`: sent on cross-site requests too (browsers require `Secure` with it).
    None,
    /// `SameSite=Lax`: sent on same-site requests and top-level cross-site navigations.
    Lax,
    /// `SameSite=Strict`: sent on same-site requests only.
    Strict,
}

impl SameSite {
    /// The attribute value as written in a `Set-Cookie` header; `None` for [`SameSite::Default`].
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            SameSite::Default => None,
            SameSite::None => Some("None"),
            SameSite::Lax => Some("Lax"),
            SameSite::Strict => Some("Strict"),
        }
    }
}

/// Which form [`NetworkCookie::to_raw_form`] produces (Qt's `QNetworkCookie::RawForm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawForm {
    /// `name=value`, as sent in a `Cookie:` request header.
    NameAndValueOnly,
    /// `name=value` followed by every attribute, as in a `Set-Cookie:` response header.
    Full,
}

/// One HTTP cookie (Qt's `QNetworkCookie`).
///
/// A cookie without an expiration date is a *session cookie*: it lives until the program
/// ends and is never saved. The domain follows Qt's convention: a leading dot
/// (`.example.com`) means "this domain and its subdomains"; no leading dot means a host-only
/// cookie, sent to exactly that host. [`normalize`](Self::normalize) fills in the defaults
/// from the URL that set the cookie.
///
/// ```
/// use slotnet_http::cookies::{NetworkCookie, RawForm};
/// let cookies = NetworkCookie::parse_cookies("id=42; Path=/app; Secure; HttpOnly");
/// assert_eq!(cookies.len(), 1);
/// assert_eq!(cookies[0].name(), "id");
/// assert_eq!(cookies[0].path(), "/app");
/// assert!(cookies[0].is_secure() && cookies[0].is_session_cookie());
/// assert_eq!(cookies[0].to_raw_form(RawForm::NameAndValueOnly), "id=42");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct NetworkCookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    expiration: Option<SystemTime>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
}

impl NetworkCookie {
    /// A session cookie with this name and value and no other attribute.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        NetworkCookie {
            name: name.into(),
            value: value.into(),
            ..Self::default()
        }
    }

    /// Parses the value of one `Set-Cookie` header. Like Qt, several cookies separated by
    /// newlines are accepted (this is how Qt joins repeated `Set-Cookie` headers). Malformed
    /// cookies are skipped, as RFC 6265 asks; lines that are not UTF-8 are skipped too.
    pub fn parse_cookies(raw: impl AsRef<[u8]>) -> Vec<NetworkCookie> {
        Self::parse_cookies_at(raw.as_ref(), SystemTime::now())
    }

    /// [`parse_cookies`](Self::parse_cookies) with an explicit "now" for `Max-Age`.
    pub(crate) fn parse_cookies_at(raw: &[u8], now: SystemTime) -> Vec<NetworkCookie> {
        raw.split(|b| *b == b'\n')
            .filter_map(|line| std::str::from_utf8(line).ok())
            .filter_map(|line| parse_set_cookie(line.trim_end_matches('\r'), now))
            .collect()
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the cookie's name.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The cookie's value, exactly as the server sent it (quotes included, if any).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Sets the cookie's value.
    pub fn set_value(&mut self, value: impl Into<String>) {
        self.value = value.into();
    }

    /// The domain: `.example.com` for a domain cookie, `example.com` for a host-only cookie,
    /// empty before [`normalize`](Self::normalize) when the server gave no `Domain`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Sets the domain (see [`domain`](Self::domain) for the meaning of a leading dot).
    pub fn set_domain(&mut self, domain: impl Into<String>) {
        self.domain = domain.into();
    }

    /// The path the cookie applies to; empty before [`normalize`](Self::normalize) when the
    /// server gave no `Path`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sets the path.
    pub fn set_path(&mut self, path: impl Into<String>) {
        self.path = path.into();
    }

    /// The expiration date; `None` for a session cookie.
    pub fn expiration_date(&self) -> Option<SystemTime> {
        self.expiration
    }

    /// Sets the expiration date; `None` makes it a session cookie.
    pub fn set_expiration_date(&mut self, expiration: Option<SystemTime>) {
        self.expiration = expiration;
    }

    /// Whether this is a session cookie (no expiration date).
    pub fn is_session_cookie(&self) -> bool {
        self.expiration.is_none()
    }

    /// Whether the cookie has expired at `now` (session cookies never do).
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expiration.is_some_and(|e| e <= now)
    }

    /// Whether the cookie is only sent over secure (`https:`, `wss:`) connections.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Sets the `Secure` flag.
    pub fn set_secure(&mut self, secure: bool) {
        self.secure = secure;
    }

    /// Whether the cookie is hidden from scripts (`HttpOnly`). HTTP requests send it anyway.
    pub fn is_http_only(&self) -> bool {
        self.http_only
    }

    /// Sets the `HttpOnly` flag.
    pub fn set_http_only(&mut self, http_only: bool) {
        self.http_only = http_only;
    }

    /// The `SameSite` policy.
    pub fn same_site_policy(&self) -> SameSite {
        self.same_site
    }

    /// Sets the `SameSite` policy.
    pub fn set_same_site_policy(&mut self, same_site: SameSite) {
        self.same_site = same_site;
    }

    /// Whether `other` has the same name, domain and path: a cookie jar holds at most one
    /// cookie per identifier, and a new one replaces the old.
    pub fn has_same_identifier(&self, other: &NetworkCookie) -> bool {
        self.name == other.name && self.domain == other.domain && self.path == other.path
    }

    /// Fills in the defaults from the URL that set the cookie, as Qt does:
    ///
    /// - no path: the directory of the URL's path, trailing slash included (`/a/b/c` gives
    ///   `/a/b/`);
    /// - no domain: the URL's host, making a host-only cookie;
    /// - a domain without a leading dot that is not an IP address gets one, since a server
    ///   that names a domain means it and its subdomains.
    pub fn normalize(&mut self, url: &Url) {
        if self.path.is_empty() {
            self.path = default_path(url);
        }
        if self.domain.is_empty() {
            self.domain = url_host(url).unwrap_or_default();
        } else if !self.domain.starts_with('.') && !is_ip_literal(&self.domain) {
            self.domain.insert(0, '.');
        }
    }

    /// Serialises the cookie: `name=value` for a `Cookie:` header, or with every attribute
    /// (`; secure; HttpOnly; SameSite=Lax; expires=<RFC 1123 date>; domain=...; path=...`)
    /// in the `Set-Cookie` form, which [`parse_cookies`](Self::parse_cookies) reads back.
    pub fn to_raw_form(&self, form: RawForm) -> String {
        let mut out = if self.name.is_empty() && !self.value.contains('=') {
            // RFC 6265bis: a nameless cookie is sent as its bare value (unless the value holds
            // an '=', which would make its first part read back as a name: then "=value").
            self.value.clone()
        } else {
            format!("{}={}", self.name, self.value)
        };
        if form == RawForm::NameAndValueOnly {
            return out;
        }
        if self.secure {
            out.push_str("; secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site.as_str() {
            out.push_str("; SameSite=");
            out.push_str(same_site);
        }
        if let Some(expiration) = self.expiration {
            out.push_str("; expires=");
            out.push_str(&format_cookie_date(expiration));
        }
        if !self.domain.is_empty() {
            out.push_str("; domain=");
            out.push_str(&self.domain);
        }
        if !self.path.is_empty() {
            out.push_str("; path=");
            out.push_str(&self.path);
        }
        out
    }
}

impl fmt::Debug for NetworkCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetworkCookie({})", self.to_raw_form(RawForm::Full))
    }
}
