//! HTTP cookies (RFC 6265): [`NetworkCookie`] (Qt's `QNetworkCookie`) and
//! [`NetworkCookieJar`] (Qt's `QNetworkCookieJar`).
//!
//! Everything here is pure logic, free of I/O except the jar's explicit
//! [`save`](NetworkCookieJar::save)/[`load`](NetworkCookieJar::load). The network access
//! manager feeds the jar each response's `Set-Cookie` headers through
//! [`NetworkCookieJar::set_cookies_from_url`] and asks it for the `Cookie:` header of each
//! request with [`NetworkCookieJar::cookie_header_for_url`].

mod cookie;
pub(crate) mod date;
mod domain;
mod jar;
mod parse;
pub(crate) mod persist;
// Public suffixes: the public suffix list with `cookies-psl`, the last label without it.
#[cfg(feature = "cookies-psl")]
#[path = "suffix_list.rs"]
mod suffix;
#[cfg(not(feature = "cookies-psl"))]
#[path = "suffix_top_level.rs"]
mod suffix;

pub use cookie::{NetworkCookie, RawForm, SameSite};
pub use jar::{NetworkCookieJar, MAX_COOKIES, MAX_COOKIES_PER_SITE};

#[cfg(all(test, feature = "cookies-psl"))]
mod tests;
