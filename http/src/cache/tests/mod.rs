mod disk;
mod freshness;
mod memory;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::NetworkCacheMetaData;

/// A fixed "now" for the freshness rules.
pub(super) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(super) fn at(secs: i64) -> SystemTime {
    if secs >= 0 {
        t0() + Duration::from_secs(secs as u64)
    } else {
        t0() - Duration::from_secs(secs.unsigned_abs())
    }
}

pub(super) fn date(secs: i64) -> String {
    httpdate::fmt_http_date(at(secs))
}

pub(super) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

pub(super) fn url(path: &str) -> Url {
    Url::parse(&format!("http://example.com/{path}")).unwrap()
}

/// Metadata of a 200 response received at t0.
pub(super) fn meta(pairs: &[(&str, &str)]) -> NetworkCacheMetaData {
    NetworkCacheMetaData::from_response(url("r"), 200, "OK", &headers(pairs), t0())
}
