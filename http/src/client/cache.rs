//! A job's use of the manager's cache (Qt's `QAbstractNetworkCache` protocol): the decision
//! before a GET goes out, the conditional headers of a revalidation, and the entry written
//! while a storable response arrives.

use std::io::{Read, Write};
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::features::SharedCache;
use crate::cache::{freshness, CacheDecision, CacheWriter, NetworkCacheMetaData};
use crate::request::NetworkRequest;
use crate::response_headers::ResponseHeaders;

/// Largest piece of a cached body handed to the reply at once.
pub(crate) const CACHE_PIECE: usize = 64 * 1024;

/// Header pairs as a `HeaderMap` (pairs that are not valid header fields are dropped).
pub(crate) fn header_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// What the cache says about a request, before it goes out.
pub(crate) enum Lookup {
    /// No usable entry: load from the network (storing the answer if allowed).
    Network,
    /// Serve this entry without the network.
    Serve(NetworkCacheMetaData),
    /// Ask the server whether this entry is still valid (conditional headers from its
    /// validators, see [`freshness::validators`]).
    Revalidate(NetworkCacheMetaData),
    /// `AlwaysCache` and no usable entry.
    NotFound,
}

/// Consults `cache` for a `GET` of `url` (Qt's `CacheLoadControl` semantics, see
/// [`crate::cache::decide`]). A request that carries its own conditional headers is the
/// application's business: it goes to the network untouched.
pub(crate) fn lookup(cache: &SharedCache, request: &NetworkRequest, url: &Url) -> Lookup {
    let control = request.cache_load_control();
    if control == crate::CacheLoadControl::AlwaysNetwork
        || request.has_raw_header("if-none-match")
        || request.has_raw_header("if-modified-since")
    {
        return Lookup::Network;
    }
    let meta = cache.borrow_mut().meta_data(url);
    let headers = header_map(
        request
            .raw_header_pairs()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let fresh = match &meta {
        Some(meta) => freshness::freshness(&headers, meta, SystemTime::now()),
        None => crate::cache::Freshness::NotCacheable,
    };
    let lookup = match (freshness::decide(control, &fresh), meta) {
        (CacheDecision::UseCache, Some(meta)) => Lookup::Serve(meta),
        (CacheDecision::Revalidate(_), Some(meta)) => Lookup::Revalidate(meta),
        (CacheDecision::FailContentNotFound, _) => Lookup::NotFound,
        _ => Lookup::Network,
    };
    log::debug!(target: crate::log_target::CACHE, "{} for {}", match lookup { Lookup::Serve(_) => "Cache hit", Lookup::Revalidate(_) => "Cache entry to revalidate", Lookup::NotFound => "Cache miss (AlwaysCache: no network)", Lookup::Network => "Cache miss" }, crate::log_target::Shown(url));
    lookup
}

/// Starts an entry for a response, if it may be stored: `decoded` says the body will be
/// written decoded (so the stored Content-Encoding and Content-Length no longer apply).
#[allow(clippy::too_many_arguments)]
pub(crate) fn start_entry(
    cache: &SharedCache,
    request: &NetworkRequest,
    method: &Method,
    url: &Url,
    status: u16,
    reason: &str,
    headers: &ResponseHeaders,
    decoded: bool,
) -> Option<CacheWriter> {
    if !request.cache_save_allowed() || (300..400).contains(&status) {
        // Redirects are followed from the network only: a cached one would have to be
        // followed from the cache too.
        return None;
    }
    let response = header_map(headers.iter());
    let request_headers = header_map(
        request
            .raw_header_pairs()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    if !freshness::is_storable(method, status, &request_headers, &response) {
        if response
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("no-store"))
        {
            cache.borrow_mut().remove(url);
        }
        return None;
    }
    let mut meta = NetworkCacheMetaData::from_response(
        url.clone(),
        status,
        reason,
        &response,
        SystemTime::now(),
    );
    if decoded {
        let mut stored = meta.raw_headers().clone();
        stored.remove(http::header::CONTENT_ENCODING);
        stored.remove(http::header::CONTENT_LENGTH);
        meta.set_raw_headers(stored);
    }
    cache.borrow_mut().prepare(&meta)
}

/// Writes a piece of body into an entry; a failing write abandons the entry (the download
/// goes on).
pub(crate) fn write_piece(writer: &mut Option<CacheWriter>, data: &[u8]) {
    if let Some(w) = writer {
        if w.write_all(data).is_err() {
            *writer = None;
        }
    }
}

/// The response head of a cached entry: status, reason, headers in wire-like case, length.
pub(crate) fn cached_head(
    meta: &NetworkCacheMetaData,
) -> (u16, String, ResponseHeaders, Option<u64>) {
    let status = meta.http_status_code().unwrap_or(200);
    let reason = meta
        .http_reason_phrase()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_owned()
        });
    let mut headers = ResponseHeaders::default();
    for (name, value) in meta.raw_headers() {
        headers.push(
            &canonical_header_name(name.as_str()),
            &String::from_utf8_lossy(value.as_bytes()),
        );
    }
    let length = meta
        .raw_headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    (status, reason, headers, length)
}

/// Reads the next piece of a cached body; `None` at the end (or on a read error, which
/// ends the body early as a damaged entry would).
pub(crate) fn read_piece(reader: &mut (dyn Read + Send)) -> Option<bytes::Bytes> {
    let mut buf = vec![0u8; CACHE_PIECE];
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if filled == 0 {
        return None;
    }
    buf.truncate(filled);
    Some(bytes::Bytes::from(buf))
}

/// `content-type` → `Content-Type`, as servers usually write it: the cache stores names
/// lowercased (in a `HeaderMap`), the network gives them as sent.
pub(crate) fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}
