//! Pure cache logic (RFC 9111 for a private cache): may a response be stored, is a stored
//! response fresh, and what should a request with a given `CacheLoadControl` do about it.
//!
//! Nothing here touches a clock or a file: callers pass `now`, so every rule is testable.

use std::time::{Duration, SystemTime};

use http::header::{
    AUTHORIZATION, DATE, ETAG, EXPIRES, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

pub use crate::CacheLoadControl;

use super::cache_control::CacheControl;
use super::meta::{date_header, NetworkCacheMetaData};

/// Status codes a cache may give a heuristic freshness lifetime (RFC 9110 section 15.1),
/// less 206 which slotnet does not store.
const HEURISTICALLY_CACHEABLE: [u16; 11] = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

/// Is a stored response usable, and how.
#[derive(Clone, Debug, PartialEq)]
pub enum Freshness {
    /// Usable without asking the server.
    Fresh,
    /// Usable only after the server confirms it (a conditional request), unless the load
    /// control allows stale data and `must_revalidate` is false.
    Stale {
        /// `If-None-Match` / `If-Modified-Since` to add to the request (may be empty, then
        /// revalidating is just loading again).
        validators: HeaderMap,
        /// The response (`must-revalidate`, `no-cache`) or request (`no-cache`) forbids
        /// using it stale even when offline.
        must_revalidate: bool,
    },
    /// No entry, or one that must not be used (`no-store`, invalid metadata).
    NotCacheable,
}

/// What to do with a request, given its load control and the cache entry's freshness.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheDecision {
    /// Answer from the cache.
    UseCache,
    /// Send a conditional request with these header fields; a 304 answers from the cache
    /// (after [`NetworkCacheMetaData::merged_with_not_modified`]).
    Revalidate(HeaderMap),
    /// Load from the network.
    Network,
    /// Fail with `ContentNotFoundError` (an `AlwaysCache` request without a usable entry).
    FailContentNotFound,
}

/// The freshness lifetime in seconds given by the response itself (RFC 9111 section 4.2.1):
/// `max-age` (`s-maxage` is for shared caches and ignored), else `Expires - Date` (an invalid
/// `Expires` such as `0` means already expired), else 10% of `Date - Last-Modified` for
/// heuristically cacheable status codes, as Qt does.
fn freshness_lifetime(
    meta: &NetworkCacheMetaData,
    cc: &CacheControl,
    date: SystemTime,
) -> Option<u64> {
    if let Some(max_age) = cc.max_age {
        return Some(max_age);
    }
    let h = meta.raw_headers();
    if h.contains_key(EXPIRES) {
        return Some(match date_header(h, EXPIRES) {
            Some(expires) => expires.duration_since(date).map_or(0, |d| d.as_secs()),
            None => 0,
        });
    }
    let status = meta.http_status_code().unwrap_or(200);
    if !HEURISTICALLY_CACHEABLE.contains(&status) {
        return None;
    }
    let last_modified = date_header(h, LAST_MODIFIED).or(meta.last_modified())?;
    Some(date.duration_since(last_modified).ok()?.as_secs() / 10)
}

/// The `Age` header in seconds (0 when absent or invalid).
fn age_value(h: &HeaderMap) -> u64 {
    h.get(http::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// When a response stops being fresh: `Date` (or `response_time` when it has none) plus its
/// freshness lifetime minus its `Age`. `None` when the response gives no lifetime at all.
pub fn expiration(meta: &NetworkCacheMetaData, response_time: SystemTime) -> Option<SystemTime> {
    let h = meta.raw_headers();
    let cc = CacheControl::parse(h);
    let date = date_header(h, DATE).unwrap_or(response_time);
    let lifetime = freshness_lifetime(meta, &cc, date)?;
    let end = date.checked_add(Duration::from_secs(lifetime))?;
    Some(
        end.checked_sub(Duration::from_secs(age_value(h)))
            .unwrap_or(date),
    )
}

/// Seconds from `a` to `b`, negative when `b` is earlier.
fn signed_secs(a: SystemTime, b: SystemTime) -> i64 {
    match b.duration_since(a) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The conditional request fields for a stored response: `If-None-Match` from `ETag`,
/// `If-Modified-Since` from `Last-Modified` (or the metadata's last-modified date).
pub fn validators(meta: &NetworkCacheMetaData) -> HeaderMap {
    let h = meta.raw_headers();
    let mut v = HeaderMap::new();
    if let Some(etag) = h.get(ETAG) {
        v.insert(IF_NONE_MATCH, etag.clone());
    }
    if let Some(lm) = h.get(LAST_MODIFIED) {
        v.insert(IF_MODIFIED_SINCE, lm.clone());
    } else if let Some(t) = meta.last_modified() {
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
            v.insert(IF_MODIFIED_SINCE, value);
        }
    }
    v
}

/// The freshness of a stored response for a request (RFC 9111 section 4.2).
///
/// The current age is `Age + (now - Date)`; without a `Date`, the metadata's expiration date
/// (computed when the response was stored) decides. Request directives honoured: `no-cache`
/// (and `Pragma: no-cache`), `max-age`, `min-fresh`, `max-stale`.
pub fn freshness(request: &HeaderMap, meta: &NetworkCacheMetaData, now: SystemTime) -> Freshness {
    if !meta.is_valid() {
        return Freshness::NotCacheable;
    }
    let h = meta.raw_headers();
    let rcc = CacheControl::parse(h);
    let qcc = CacheControl::parse_request(request);
    if rcc.no_store {
        return Freshness::NotCacheable;
    }
    let validators = validators(meta);
    if rcc.no_cache || qcc.no_cache {
        return Freshness::Stale {
            validators,
            must_revalidate: true,
        };
    }
    let must_revalidate = rcc.must_revalidate;
    let (age, remaining) = match date_header(h, DATE) {
        Some(date) => {
            let age =
                age_value(h).saturating_add(now.duration_since(date).map_or(0, |d| d.as_secs()));
            let remaining = match freshness_lifetime(meta, &rcc, date) {
                Some(lifetime) => Some(lifetime as i64 - age.min(i64::MAX as u64) as i64),
                None => meta.expiration_date().map(|e| signed_secs(now, e)),
            };
            (Some(age), remaining)
        }
        None => (None, meta.expiration_date().map(|e| signed_secs(now, e))),
    };
    let mut fresh = remaining.is_some_and(|r| r > 0);
    let mut forced_by_request = false;
    if let Some(max_age) = qcc.max_age {
        if max_age == 0 || age.is_some_and(|a| a > max_age) {
            fresh = false;
            forced_by_request = true;
        }
    }
    if let (Some(min_fresh), Some(r)) = (qcc.min_fresh, remaining) {
        if r < min_fresh as i64 {
            fresh = false;
            forced_by_request = true;
        }
    }
    if !fresh && !must_revalidate && !forced_by_request {
        if let (Some(max_stale), Some(r)) = (qcc.max_stale, remaining) {
            fresh = max_stale.is_none_or(|m| r.unsigned_abs() <= m);
        }
    }
    if fresh {
        Freshness::Fresh
    } else {
        Freshness::Stale {
            validators,
            must_revalidate,
        }
    }
}

/// May a response be stored by a private cache (RFC 9111 section 3)?
///
/// Only `GET` responses with a final status other than 206 and 304; never with `no-store` in
/// the request or response; never with a `Vary` field (slotnet's caches key entries by URL
/// alone, so a varying response could be served to the wrong request); for a request with
/// `Authorization`, only if the response says `public`, `must-revalidate` or `s-maxage`; and
/// only with explicit freshness (`max-age`, `Expires`), `public`/`private`, or a
/// heuristically cacheable status.
pub fn is_storable(
    method: &Method,
    status: u16,
    request: &HeaderMap,
    response: &HeaderMap,
) -> bool {
    if method != Method::GET || !(200..=999).contains(&status) || status == 206 || status == 304 {
        return false;
    }
    let rcc = CacheControl::parse(response);
    let qcc = CacheControl::parse(request);
    if rcc.no_store || qcc.no_store {
        return false;
    }
    if response
        .get_all(VARY)
        .iter()
        .any(|v| !v.as_bytes().trim_ascii().is_empty())
    {
        return false;
    }
    if request.contains_key(AUTHORIZATION)
        && !(rcc.public || rcc.must_revalidate || rcc.s_maxage.is_some())
    {
        return false;
    }
    rcc.max_age.is_some()
        || response.contains_key(EXPIRES)
        || rcc.public
        || rcc.private
        || HEURISTICALLY_CACHEABLE.contains(&status)
}

/// What a request does with the cache (what Qt 6.4's `CacheLoadControl` does):
///
/// | load control    | fresh    | stale                 | stale, must revalidate | none/unusable |
/// |-----------------|----------|-----------------------|------------------------|---------------|
/// | `AlwaysNetwork` | network  | network               | network                | network       |
/// | `PreferNetwork` | cache    | revalidate            | revalidate             | network       |
/// | `PreferCache`   | cache    | revalidate            | revalidate             | network       |
/// | `AlwaysCache`   | cache    | cache                 | content not found      | content not found |
///
/// "Revalidate" without validators is plain network. `PreferCache` on a stale entry: Qt's
/// documentation says it may return "possibly stale (but not expired)" items, but Qt 6.4's
/// code (`loadFromCacheIfAllowed`) serves only fresh entries whatever the load control and
/// sends the others to the network with their validators; this follows the code.
pub fn decide(load_control: CacheLoadControl, freshness: &Freshness) -> CacheDecision {
    let revalidate = |validators: &HeaderMap| {
        if validators.is_empty() {
            CacheDecision::Network
        } else {
            CacheDecision::Revalidate(validators.clone())
        }
    };
    match (load_control, freshness) {
        (CacheLoadControl::AlwaysNetwork, _) => CacheDecision::Network,
        (_, Freshness::Fresh) => CacheDecision::UseCache,
        (
            CacheLoadControl::AlwaysCache,
            Freshness::Stale {
                must_revalidate: false,
                ..
            },
        ) => CacheDecision::UseCache,
        (CacheLoadControl::AlwaysCache, _) => CacheDecision::FailContentNotFound,
        (_, Freshness::Stale { validators, .. }) => revalidate(validators),
        (_, Freshness::NotCacheable) => CacheDecision::Network,
    }
}
