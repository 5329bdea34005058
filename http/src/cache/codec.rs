//! Binary encoding of [`NetworkCacheMetaData`] for the disk cache.
//!
//! Little-endian, length-prefixed fields; decoding checks every length against the input and
//! fixed limits, so a garbled file is an error, never a panic or a huge allocation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use url::Url;

use super::NetworkCacheMetaData;
use crate::{Attribute, AttributeValue};

const VERSION: u8 = 1;
/// Most header fields a stored entry may have.
const MAX_HEADERS: u32 = 10_000;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_time(out: &mut Vec<u8>, t: Option<SystemTime>) {
    match t {
        None => out.push(0),
        Some(t) => {
            out.push(1);
            let secs = match t.duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
            };
            out.extend_from_slice(&secs.to_le_bytes());
        }
    }
}

/// Encodes metadata.
pub(super) fn encode(meta: &NetworkCacheMetaData) -> Vec<u8> {
    let mut out = vec![VERSION];
    put_bytes(&mut out, meta.url().map_or("", |u| u.as_str()).as_bytes());
    put_time(&mut out, meta.last_modified());
    put_time(&mut out, meta.expiration_date());
    out.push(u8::from(meta.save_to_disk()));
    out.extend_from_slice(&meta.http_status_code().unwrap_or(0).to_le_bytes());
    match meta.http_reason_phrase() {
        Some(r) => {
            out.push(1);
            put_bytes(&mut out, r.as_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(meta.raw_headers().len() as u32).to_le_bytes());
    for (name, value) in meta.raw_headers() {
        put_bytes(&mut out, name.as_str().as_bytes());
        put_bytes(&mut out, value.as_bytes());
    }
    out
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (head, tail) = self.b.split_at(n);
        self.b = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn time(&mut self) -> Option<Option<SystemTime>> {
        match self.u8()? {
            0 => Some(None),
            1 => {
                let secs = i64::from_le_bytes(self.take(8)?.try_into().ok()?);
                let t = if secs >= 0 {
                    UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
                } else {
                    UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
                };
                Some(Some(t))
            }
            _ => None,
        }
    }
}

/// Decodes metadata; `None` if the bytes are not a complete, valid encoding.
pub(super) fn decode(b: &[u8]) -> Option<NetworkCacheMetaData> {
    let mut c = Cursor { b };
    if c.u8()? != VERSION {
        return None;
    }
    let mut meta = NetworkCacheMetaData::new();
    let url = std::str::from_utf8(c.bytes()?).ok()?;
    meta.set_url(Url::parse(url).ok()?);
    meta.set_last_modified(c.time()?);
    meta.set_expiration_date(c.time()?);
    meta.set_save_to_disk(match c.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    });
    let status = c.u16()?;
    let reason = match c.u8()? {
        0 => None,
        1 => Some(std::str::from_utf8(c.bytes()?).ok()?.to_string()),
        _ => return None,
    };
    if status != 0
        && !meta.set_attribute(
            Attribute::HttpStatusCode,
            AttributeValue::Int(status.into()),
        )
    {
        return None;
    }
    if let Some(reason) = reason {
        meta.set_attribute(Attribute::HttpReasonPhrase, AttributeValue::Text(reason));
    }
    let count = c.u32()?;
    if count > MAX_HEADERS {
        return None;
    }
    let mut headers = HeaderMap::new();
    for _ in 0..count {
        let name = HeaderName::from_bytes(c.bytes()?).ok()?;
        let value = HeaderValue::from_bytes(c.bytes()?).ok()?;
        headers.append(name, value);
    }
    meta.set_raw_headers(headers);
    if !c.b.is_empty() {
        return None;
    }
    Some(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_or_garbled_encodings_are_rejected_without_panicking() {
        let mut headers = HeaderMap::new();
        headers.insert("etag", HeaderValue::from_static("\"x\""));
        let mut meta = NetworkCacheMetaData::from_response(
            Url::parse("http://h/p").unwrap(),
            200,
            "OK",
            &headers,
            UNIX_EPOCH + Duration::from_secs(1000),
        );
        meta.set_last_modified(Some(UNIX_EPOCH - Duration::from_secs(5)));
        let bytes = encode(&meta);
        assert_eq!(decode(&bytes), Some(meta));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            let _ = decode(&b); // may or may not decode; must not panic
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode(&long), None);
    }
}
