//! Header semantics that decide how a message body is delimited and whether the connection
//! survives it (RFC 9112 sections 6 and 9.3).

use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, Version};

use super::fields::FieldSource;
use super::H1Error;

/// The `Content-Length` of a message: `None` when absent.
///
/// Repeated fields and comma-separated lists are accepted when every value agrees (RFC 9110
/// section 8.6); anything but digits is rejected.
pub(crate) fn content_length(headers: &impl FieldSource) -> Result<Option<u64>, H1Error> {
    let mut length = None;
    for value in headers.values(&CONTENT_LENGTH) {
        for item in value.split(|&b| b == b',') {
            let n = parse_decimal(item.trim_ascii()).ok_or(H1Error::InvalidContentLength)?;
            match length {
                Some(previous) if previous != n => return Err(H1Error::ConflictingContentLength),
                _ => length = Some(n),
            }
        }
    }
    Ok(length)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// What the `Transfer-Encoding` field list says about framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferCoding {
    /// No `Transfer-Encoding` field.
    Absent,
    /// Exactly `chunked`.
    Chunked,
    /// Other codings followed by a final `chunked` (e.g. `gzip, chunked`).
    ChunkedAfterOthers,
}

/// Classifies the `Transfer-Encoding` fields of a message.
pub(crate) fn transfer_coding(headers: &impl FieldSource) -> Result<TransferCoding, H1Error> {
    let mut fields = headers.values(&TRANSFER_ENCODING).peekable();
    if fields.peek().is_none() {
        return Ok(TransferCoding::Absent);
    }
    let mut codings = 0usize;
    let mut chunked_seen = false;
    let mut last_is_chunked = false;
    for value in fields {
        for item in value.split(|&b| b == b',') {
            // A coding may carry parameters (`name;param=value`); only the name matters here.
            let name = item
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if name.is_empty() {
                continue; // Empty list elements are allowed by the list syntax.
            }
            codings += 1;
            last_is_chunked = name.eq_ignore_ascii_case(b"chunked");
            if last_is_chunked {
                if chunked_seen {
                    return Err(H1Error::InvalidTransferEncoding);
                }
                chunked_seen = true;
            }
        }
    }
    match (codings, chunked_seen, last_is_chunked) {
        (0, _, _) => Err(H1Error::InvalidTransferEncoding),
        (1, _, true) => Ok(TransferCoding::Chunked),
        (_, _, true) => Ok(TransferCoding::ChunkedAfterOthers),
        // `chunked` present but not final: the length cannot be determined.
        (_, true, false) => Err(H1Error::InvalidTransferEncoding),
        (_, false, false) => Err(H1Error::UnsupportedTransferEncoding),
    }
}

/// Whether any `name` field holds `token` in its comma-separated list (case-insensitive).
pub(crate) fn has_token(headers: &impl FieldSource, name: &HeaderName, token: &str) -> bool {
    headers.values(name).any(|value| {
        value
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Whether the sender of a message with these headers allows the connection to be reused:
/// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
pub(crate) fn wants_keep_alive(version: Version, headers: &impl FieldSource) -> bool {
    if version == Version::HTTP_11 {
        !has_token(headers, &CONNECTION, "close")
    } else {
        has_token(headers, &CONNECTION, "keep-alive") && !has_token(headers, &CONNECTION, "close")
    }
}

/// Whether an HTTP/1.1 request asks for `100 Continue` before sending its body.
pub(crate) fn expects_continue(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_11
        && headers.get(EXPECT).is_some_and(|v| {
            v.as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"100-continue")
        })
}

/// Whether a request has exactly one `Host` field, as HTTP/1.1 requires (RFC 9112 section 3.2).
pub(crate) fn has_single_host(headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(HOST).iter();
    hosts.next().is_some() && hosts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(name, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn content_length_values() {
        assert_eq!(content_length(&HeaderMap::new()), Ok(None));
        assert_eq!(
            content_length(&map("content-length", &["42"])),
            Ok(Some(42))
        );
        assert_eq!(
            content_length(&map("content-length", &["7, 7", "7"])),
            Ok(Some(7))
        );
        assert_eq!(
            content_length(&map("content-length", &["7", "8"])),
            Err(H1Error::ConflictingContentLength)
        );
        for bad in ["-1", "+1", "", "1a", "0x10", "18446744073709551616", "1 2"] {
            assert_eq!(
                content_length(&map("content-length", &[bad])),
                Err(H1Error::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            content_length(&map("content-length", &["18446744073709551615"])),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn transfer_codings() {
        let te = |v: &[&'static str]| transfer_coding(&map("transfer-encoding", v));
        assert_eq!(
            transfer_coding(&HeaderMap::new()),
            Ok(TransferCoding::Absent)
        );
        assert_eq!(te(&["Chunked"]), Ok(TransferCoding::Chunked));
        assert_eq!(
            te(&["gzip", "chunked"]),
            Ok(TransferCoding::ChunkedAfterOthers)
        );
        assert_eq!(
            te(&["gzip, chunked"]),
            Ok(TransferCoding::ChunkedAfterOthers)
        );
        assert_eq!(
            te(&["chunked, gzip"]),
            Err(H1Error::InvalidTransferEncoding)
        );
        assert_eq!(
            te(&["chunked", "chunked"]),
            Err(H1Error::InvalidTransferEncoding)
        );
        assert_eq!(te(&[""]), Err(H1Error::InvalidTransferEncoding));
        assert_eq!(te(&["gzip"]), Err(H1Error::UnsupportedTransferEncoding));
    }

    #[test]
    fn keep_alive_rules() {
        let conn = |v: &[&'static str]| map("connection", v);
        assert!(wants_keep_alive(Version::HTTP_11, &HeaderMap::new()));
        assert!(!wants_keep_alive(
            Version::HTTP_11,
            &conn(&["Upgrade, Close"])
        ));
        assert!(!wants_keep_alive(Version::HTTP_10, &HeaderMap::new()));
        assert!(wants_keep_alive(Version::HTTP_10, &conn(&["Keep-Alive"])));
    }
}
