//! What a cache stores besides the body (Qt's `QNetworkCacheMetaData`).

use std::time::SystemTime;

use http::header::{self, HeaderName};
use http::HeaderMap;
use url::Url;

use crate::{Attribute, AttributeValue};

use super::freshness;

/// Information about a cached resource: its URL, the response header fields, its last
/// modification and expiration dates, whether it may be written to disk, and the status line
/// (Qt's `QNetworkCacheMetaData`).
///
/// Metadata without a URL is invalid ([`is_valid`](Self::is_valid)), like Qt's default
/// constructed object; caches refuse it.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkCacheMetaData {
    url: Option<Url>,
    headers: HeaderMap,
    last_modified: Option<SystemTime>,
    expiration_date: Option<SystemTime>,
    save_to_disk: bool,
    status_code: Option<u16>,
    reason_phrase: Option<String>,
}

impl Default for NetworkCacheMetaData {
    fn default() -> Self {
        NetworkCacheMetaData {
            url: None,
            headers: HeaderMap::new(),
            last_modified: None,
            expiration_date: None,
            save_to_disk: true,
            status_code: None,
            reason_phrase: None,
        }
    }
}

/// Header fields a cache never stores or updates: hop-by-hop fields (RFC 9111 section 3.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Fields listed in `Connection` are hop-by-hop too.
fn is_hop_by_hop(name: &HeaderName, headers: &HeaderMap) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
        || headers.get_all(header::CONNECTION).iter().any(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(name.as_str()))
        })
}

/// A header's value parsed as an HTTP date.
pub(super) fn date_header(headers: &HeaderMap, name: HeaderName) -> Option<SystemTime> {
    let v = headers.get(name)?.to_str().ok()?;
    httpdate::parse_http_date(v.trim()).ok()
}

impl NetworkCacheMetaData {
    /// Empty, invalid metadata (no URL).
    pub fn new() -> Self {
        Self::default()
    }

    /// Metadata for a response about to be cached: stores its end-to-end header fields, takes
    /// `Last-Modified`, and computes the expiration date from `Cache-Control`, `Expires`,
    /// `Date`, `Age` and the heuristic (10% of the time since `Last-Modified`), with
    /// `response_time` standing in for a missing `Date`.
    pub fn from_response(
        url: Url,
        status: u16,
        reason: &str,
        headers: &HeaderMap,
        response_time: SystemTime,
    ) -> Self {
        let mut meta = NetworkCacheMetaData {
            url: Some(url),
            status_code: Some(status),
            reason_phrase: Some(reason.to_string()),
            ..Self::default()
        };
        for (name, value) in headers {
            if !is_hop_by_hop(name, headers) {
                meta.headers.append(name.clone(), value.clone());
            }
        }
        meta.refresh_dates(response_time);
        meta
    }

    /// Recomputes `last_modified` and `expiration_date` from the stored header fields.
    fn refresh_dates(&mut self, response_time: SystemTime) {
        self.last_modified = date_header(&self.headers, header::LAST_MODIFIED);
        self.expiration_date = freshness::expiration(self, response_time);
    }

    /// The metadata after a `304 Not Modified` revalidated it (RFC 9111 section 4.3.4): each
    /// field of the 304 replaces the stored field of that name, except `Content-Length`,
    /// `Content-Encoding` and hop-by-hop fields (the stored body is unchanged, so its length
    /// and coding are too); then the dates are recomputed with `now` as the response time.
    pub fn merged_with_not_modified(&self, not_modified: &HeaderMap, now: SystemTime) -> Self {
        let mut meta = self.clone();
        let mut replaced: Vec<HeaderName> = Vec::new();
        for (name, value) in not_modified {
            if is_hop_by_hop(name, not_modified)
                || name == header::CONTENT_LENGTH
                || name == header::CONTENT_ENCODING
            {
                continue;
            }
            if replaced.contains(name) {
                meta.headers.append(name.clone(), value.clone());
            } else {
                meta.headers.insert(name.clone(), value.clone());
                replaced.push(name.clone());
            }
        }
        meta.refresh_dates(now);
        meta
    }

    /// True if the metadata has a URL.
    pub fn is_valid(&self) -> bool {
        self.url.is_some()
    }

    /// The resource's URL.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Sets the resource's URL.
    pub fn set_url(&mut self, url: Url) {
        self.url = Some(url);
    }

    /// The stored response header fields (Qt's `rawHeaders`).
    pub fn raw_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Replaces the stored response header fields.
    pub fn set_raw_headers(&mut self, headers: HeaderMap) {
        self.headers = headers;
    }

    /// When the resource was last modified.
    pub fn last_modified(&self) -> Option<SystemTime> {
        self.last_modified
    }

    /// Sets when the resource was last modified.
    pub fn set_last_modified(&mut self, t: Option<SystemTime>) {
        self.last_modified = t;
    }

    /// When the stored response stops being fresh.
    pub fn expiration_date(&self) -> Option<SystemTime> {
        self.expiration_date
    }

    /// Sets when the stored response stops being fresh.
    pub fn set_expiration_date(&mut self, t: Option<SystemTime>) {
        self.expiration_date = t;
    }

    /// Whether the entry may be written to disk (default true); a disk cache refuses entries
    /// where this is false.
    pub fn save_to_disk(&self) -> bool {
        self.save_to_disk
    }

    /// Sets whether the entry may be written to disk.
    pub fn set_save_to_disk(&mut self, allow: bool) {
        self.save_to_disk = allow;
    }

    /// The HTTP status code of the stored response.
    pub fn http_status_code(&self) -> Option<u16> {
        self.status_code
    }

    /// The reason phrase of the stored response.
    pub fn http_reason_phrase(&self) -> Option<&str> {
        self.reason_phrase.as_deref()
    }

    /// Sets the status code and reason phrase.
    pub fn set_status(&mut self, code: u16, reason: &str) {
        self.status_code = Some(code);
        self.reason_phrase = Some(reason.to_string());
    }

    /// An attribute, Qt style. Only `HttpStatusCode` and `HttpReasonPhrase` are stored.
    pub fn attribute(&self, attribute: Attribute) -> Option<AttributeValue> {
        match attribute {
            Attribute::HttpStatusCode => self.status_code.map(|c| AttributeValue::Int(c.into())),
            Attribute::HttpReasonPhrase => self.reason_phrase.clone().map(AttributeValue::Text),
            _ => None,
        }
    }

    /// Sets an attribute, Qt style; returns false (and stores nothing) for attributes other
    /// than `HttpStatusCode` (an integer in 100..=999) and `HttpReasonPhrase` (text).
    pub fn set_attribute(&mut self, attribute: Attribute, value: AttributeValue) -> bool {
        match (attribute, value) {
            (Attribute::HttpStatusCode, AttributeValue::Int(c)) if (100..=999).contains(&c) => {
                self.status_code = u16::try_from(c).ok();
                true
            }
            (Attribute::HttpReasonPhrase, AttributeValue::Text(t)) => {
                self.reason_phrase = Some(t);
                true
            }
            _ => false,
        }
    }
}
