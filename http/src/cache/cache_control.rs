//! `Cache-Control` directives (RFC 9111 section 5.2).

use http::header::{CACHE_CONTROL, PRAGMA};
use http::HeaderMap;

/// RFC 9111 section 1.2.2: a delta-seconds too large to represent is taken as 2^31.
const DELTA_SECONDS_MAX: u64 = 2_147_483_648;

/// The directives slotnet's private cache acts on. Unknown directives are ignored; when a
/// directive appears twice, the first occurrence wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache` (qualified forms such as `no-cache="Set-Cookie"` are treated as unqualified,
    /// which RFC 9111 allows and is the safe reading).
    pub no_cache: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `private` (allowed in slotnet's private cache).
    pub private: bool,
    /// `public`.
    pub public: bool,
    /// `max-age`; an invalid value reads as 0 (stale), as RFC 9111 asks.
    pub max_age: Option<u64>,
    /// `s-maxage` (parsed, but ignored for freshness: it is for shared caches only).
    pub s_maxage: Option<u64>,
    /// Request `max-stale`: `Some(None)` accepts any staleness.
    pub max_stale: Option<Option<u64>>,
    /// Request `min-fresh`.
    pub min_fresh: Option<u64>,
}

fn delta_seconds(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .unwrap_or(DELTA_SECONDS_MAX)
            .min(DELTA_SECONDS_MAX),
    )
}

/// Splits a header value on commas that are not inside a quoted string.
fn split_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
}

impl CacheControl {
    /// The directives of every `Cache-Control` field in `headers`.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut cc = CacheControl::default();
        for value in headers.get_all(CACHE_CONTROL) {
            let value = String::from_utf8_lossy(value.as_bytes());
            for item in split_list(&value) {
                let (name, arg) = match item.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (item.trim(), None),
                };
                cc.apply(&name.to_ascii_lowercase(), arg);
            }
        }
        cc
    }

    /// Request directives: `Cache-Control`, or `Pragma: no-cache` when there is no
    /// `Cache-Control` (RFC 9111 section 5.4, HTTP/1.0 compatibility).
    pub fn parse_request(headers: &HeaderMap) -> Self {
        let mut cc = Self::parse(headers);
        if !headers.contains_key(CACHE_CONTROL) {
            cc.no_cache = headers.get_all(PRAGMA).iter().any(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
            });
        }
        cc
    }

    fn apply(&mut self, name: &str, arg: Option<&str>) {
        let seconds = |slot: &mut Option<u64>| {
            if slot.is_none() {
                *slot = Some(arg.and_then(delta_seconds).unwrap_or(0));
            }
        };
        match name {
            "no-store" => self.no_store = true,
            "no-cache" => self.no_cache = true,
            "must-revalidate" => self.must_revalidate = true,
            "private" => self.private = true,
            "public" => self.public = true,
            "max-age" => seconds(&mut self.max_age),
            "s-maxage" => seconds(&mut self.s_maxage),
            "min-fresh" => seconds(&mut self.min_fresh),
            "max-stale" if self.max_stale.is_none() => {
                self.max_stale = Some(arg.map(|a| delta_seconds(a).unwrap_or(0)));
            }
            _ => {}
        }
    }
}
