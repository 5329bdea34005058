use http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};
use http::{HeaderMap, Method};

use super::{at, date, headers, meta, t0, url};
use crate::cache::freshness::{freshness, is_storable, validators};
use crate::cache::{
    decide, CacheControl, CacheDecision, CacheLoadControl, Freshness, NetworkCacheMetaData,
};

fn fresh_at(m: &NetworkCacheMetaData, secs: i64) -> Freshness {
    freshness(&HeaderMap::new(), m, at(secs))
}

fn is_stale(f: &Freshness) -> bool {
    matches!(f, Freshness::Stale { .. })
}

#[test]
fn cache_control_parsing() {
    let cc = CacheControl::parse(&headers(&[
        ("cache-control", "Max-Age=60, private=\"a, b\", no-cache"),
        (
            "cache-control",
            "max-age=5, must-revalidate, s-maxage=99999999999",
        ),
    ]));
    assert_eq!(cc.max_age, Some(60)); // the first occurrence wins
    assert!(cc.private && cc.no_cache && cc.must_revalidate && !cc.no_store);
    assert_eq!(cc.s_maxage, Some(2_147_483_648)); // overflow clamps to 2^31
    let cc = CacheControl::parse(&headers(&[("cache-control", "max-age=abc, max-stale")]));
    assert_eq!(cc.max_age, Some(0)); // invalid reads as stale
    assert_eq!(cc.max_stale, Some(None));
    let pragma = headers(&[("pragma", "no-cache")]);
    assert!(CacheControl::parse_request(&pragma).no_cache);
    let both = headers(&[("pragma", "no-cache"), ("cache-control", "max-age=5")]);
    assert!(!CacheControl::parse_request(&both).no_cache);
}

#[test]
fn max_age_with_date() {
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100"),
        ("etag", "\"v1\""),
    ]);
    assert_eq!(fresh_at(&m, 50), Freshness::Fresh);
    match fresh_at(&m, 150) {
        Freshness::Stale {
            validators,
            must_revalidate,
        } => {
            assert!(!must_revalidate);
            assert_eq!(validators.get(IF_NONE_MATCH).unwrap(), "\"v1\"");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.expiration_date(), Some(at(100)));
}

#[test]
fn age_header_counts() {
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100"),
        ("age", "80"),
    ]);
    assert_eq!(fresh_at(&m, 10), Freshness::Fresh);
    assert!(is_stale(&fresh_at(&m, 30)));
    assert_eq!(m.expiration_date(), Some(at(20)));
}

#[test]
fn s_maxage_is_ignored_by_a_private_cache() {
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "s-maxage=1000, max-age=10"),
    ]);
    assert!(is_stale(&fresh_at(&m, 50)));
    let m = meta(&[("date", &date(0)), ("cache-control", "s-maxage=1000")]);
    assert!(is_stale(&fresh_at(&m, 1)));
}

#[test]
fn expires_and_its_precedence() {
    let m = meta(&[("date", &date(0)), ("expires", &date(60))]);
    assert_eq!(fresh_at(&m, 30), Freshness::Fresh);
    assert!(is_stale(&fresh_at(&m, 61)));
    // An invalid Expires means already expired.
    let m = meta(&[
        ("date", &date(0)),
        ("expires", "0"),
        ("last-modified", &date(-100_000)),
    ]);
    assert!(is_stale(&fresh_at(&m, 1)));
    // max-age wins over Expires.
    let m = meta(&[
        ("date", &date(0)),
        ("expires", &date(1000)),
        ("cache-control", "max-age=10"),
    ]);
    assert!(is_stale(&fresh_at(&m, 20)));
}

#[test]
fn heuristic_is_ten_percent_of_last_modified_age() {
    let m = meta(&[("date", &date(0)), ("last-modified", &date(-1000))]);
    assert_eq!(fresh_at(&m, 50), Freshness::Fresh);
    assert!(is_stale(&fresh_at(&m, 150)));
    // Not for a status that is not heuristically cacheable.
    let m = NetworkCacheMetaData::from_response(
        url("r"),
        302,
        "Found",
        &headers(&[("date", &date(0)), ("last-modified", &date(-1000))]),
        t0(),
    );
    assert!(is_stale(&fresh_at(&m, 1)));
}

#[test]
fn no_store_no_cache_must_revalidate_private() {
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100, no-store"),
    ]);
    assert_eq!(fresh_at(&m, 1), Freshness::NotCacheable);
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100, no-cache"),
    ]);
    assert!(matches!(
        fresh_at(&m, 1),
        Freshness::Stale {
            must_revalidate: true,
            ..
        }
    ));
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100, must-revalidate"),
    ]);
    assert_eq!(fresh_at(&m, 1), Freshness::Fresh);
    assert!(matches!(
        fresh_at(&m, 101),
        Freshness::Stale {
            must_revalidate: true,
            ..
        }
    ));
    let m = meta(&[
        ("date", &date(0)),
        ("cache-control", "private, max-age=100"),
    ]);
    assert_eq!(fresh_at(&m, 1), Freshness::Fresh);
    assert_eq!(
        freshness(&HeaderMap::new(), &NetworkCacheMetaData::new(), t0()),
        Freshness::NotCacheable
    );
}

#[test]
fn request_directives() {
    let m = meta(&[("date", &date(0)), ("cache-control", "max-age=100")]);
    let req = |v: &[(&str, &str)]| freshness(&headers(v), &m, at(20));
    assert!(is_stale(&req(&[("cache-control", "no-cache")])));
    assert!(is_stale(&req(&[("pragma", "no-cache")])));
    assert!(is_stale(&req(&[("cache-control", "max-age=0")])));
    assert!(is_stale(&req(&[("cache-control", "max-age=10")])));
    assert_eq!(req(&[("cache-control", "max-age=30")]), Freshness::Fresh);
    assert!(is_stale(&req(&[("cache-control", "min-fresh=90")])));
    assert_eq!(req(&[("cache-control", "min-fresh=50")]), Freshness::Fresh);
    // max-stale accepts a stale response, within its bound, unless it must be revalidated.
    let stale_by_50 = |v: &str, m: &NetworkCacheMetaData| {
        freshness(&headers(&[("cache-control", v)]), m, at(150))
    };
    assert_eq!(stale_by_50("max-stale=60", &m), Freshness::Fresh);
    assert_eq!(stale_by_50("max-stale", &m), Freshness::Fresh);
    assert!(is_stale(&stale_by_50("max-stale=10", &m)));
    let strict = meta(&[
        ("date", &date(0)),
        ("cache-control", "max-age=100, must-revalidate"),
    ]);
    assert!(is_stale(&stale_by_50("max-stale", &strict)));
}

#[test]
fn without_date_the_stored_expiration_decides() {
    let m = meta(&[("cache-control", "max-age=100")]);
    assert_eq!(m.expiration_date(), Some(at(100)));
    assert_eq!(fresh_at(&m, 50), Freshness::Fresh);
    assert!(is_stale(&fresh_at(&m, 101)));
    let m = meta(&[]);
    assert_eq!(m.expiration_date(), None);
    assert!(is_stale(&fresh_at(&m, 0)));
}

#[test]
fn validators_from_etag_and_last_modified() {
    let m = meta(&[("etag", "W/\"x\""), ("last-modified", &date(-10))]);
    let v = validators(&m);
    assert_eq!(v.get(IF_NONE_MATCH).unwrap(), "W/\"x\"");
    assert_eq!(v.get(IF_MODIFIED_SINCE).unwrap(), date(-10).as_str());
    let mut m = meta(&[]);
    assert!(validators(&m).is_empty());
    m.set_last_modified(Some(at(-5)));
    assert_eq!(
        validators(&m).get(IF_MODIFIED_SINCE).unwrap(),
        date(-5).as_str()
    );
}

#[test]
fn decisions_for_each_load_control() {
    use CacheDecision::*;
    use CacheLoadControl::*;
    let v = headers(&[("if-none-match", "\"a\"")]);
    let stale = Freshness::Stale {
        validators: v.clone(),
        must_revalidate: false,
    };
    let strict = Freshness::Stale {
        validators: v.clone(),
        must_revalidate: true,
    };
    let no_validators = Freshness::Stale {
        validators: HeaderMap::new(),
        must_revalidate: false,
    };
    let none = Freshness::NotCacheable;
    let fresh = Freshness::Fresh;
    let cases = [
        (AlwaysNetwork, &fresh, Network),
        (AlwaysNetwork, &stale, Network),
        (PreferNetwork, &fresh, UseCache),
        (PreferNetwork, &stale, Revalidate(v.clone())),
        (PreferNetwork, &strict, Revalidate(v.clone())),
        (PreferNetwork, &no_validators, Network),
        (PreferNetwork, &none, Network),
        (PreferCache, &fresh, UseCache),
        (PreferCache, &stale, Revalidate(v.clone())),
        (PreferCache, &no_validators, Network),
        (PreferCache, &strict, Revalidate(v.clone())),
        (PreferCache, &none, Network),
        (AlwaysCache, &fresh, UseCache),
        (AlwaysCache, &stale, UseCache),
        (AlwaysCache, &strict, FailContentNotFound),
        (AlwaysCache, &none, FailContentNotFound),
    ];
    for (lc, f, expected) in cases {
        assert_eq!(decide(lc, f), expected, "{lc:?} {f:?}");
    }
}

#[test]
fn storability() {
    let get = Method::GET;
    let none = HeaderMap::new();
    assert!(is_storable(&get, 200, &none, &none));
    assert!(!is_storable(&Method::POST, 200, &none, &none));
    assert!(!is_storable(&Method::HEAD, 200, &none, &none));
    assert!(!is_storable(&get, 206, &none, &none));
    assert!(!is_storable(&get, 304, &none, &none));
    assert!(!is_storable(&get, 500, &none, &none));
    assert!(!is_storable(&get, 302, &none, &none));
    assert!(is_storable(
        &get,
        302,
        &none,
        &headers(&[("cache-control", "max-age=5")])
    ));
    assert!(is_storable(
        &get,
        302,
        &none,
        &headers(&[("expires", &date(5))])
    ));
    assert!(!is_storable(
        &get,
        200,
        &none,
        &headers(&[("cache-control", "no-store")])
    ));
    assert!(!is_storable(
        &get,
        200,
        &headers(&[("cache-control", "no-store")]),
        &none
    ));
    assert!(is_storable(
        &get,
        200,
        &none,
        &headers(&[("cache-control", "private")])
    ));
    assert!(!is_storable(
        &get,
        200,
        &none,
        &headers(&[("vary", "Accept-Encoding")])
    ));
    let auth = headers(&[("authorization", "Basic eDp5")]);
    assert!(!is_storable(&get, 200, &auth, &none));
    assert!(is_storable(
        &get,
        200,
        &auth,
        &headers(&[("cache-control", "public")])
    ));
    assert!(is_storable(
        &get,
        200,
        &auth,
        &headers(&[("cache-control", "must-revalidate")])
    ));
}

#[test]
fn not_modified_merges_headers() {
    let stored = meta(&[
        ("date", &date(0)),
        ("etag", "\"a\""),
        ("content-length", "10"),
        ("content-encoding", "gzip"),
        ("cache-control", "max-age=10"),
        ("x-kept", "yes"),
    ]);
    let not_modified = headers(&[
        ("date", &date(100)),
        ("etag", "\"b\""),
        ("content-length", "0"),
        ("cache-control", "max-age=60"),
        ("connection", "close, x-hop"),
        ("x-hop", "1"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ]);
    let merged = stored.merged_with_not_modified(&not_modified, at(100));
    let h = merged.raw_headers();
    assert_eq!(h.get("etag").unwrap(), "\"b\"");
    assert_eq!(h.get("content-length").unwrap(), "10");
    assert_eq!(h.get("content-encoding").unwrap(), "gzip");
    assert_eq!(h.get("x-kept").unwrap(), "yes");
    assert!(h.get("connection").is_none() && h.get("x-hop").is_none());
    assert_eq!(h.get_all("set-cookie").iter().count(), 2);
    assert_eq!(merged.expiration_date(), Some(at(160)));
    assert_eq!(fresh_at(&merged, 130), Freshness::Fresh);
    assert_eq!(merged.http_status_code(), Some(200));
}

#[test]
fn hop_by_hop_fields_are_not_stored() {
    let m = meta(&[
        ("connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("etag", "\"a\""),
    ]);
    let h = m.raw_headers();
    assert_eq!(h.len(), 1);
    assert!(h.contains_key("etag"));
}
