//! Encoding request and response heads and bodies into an output buffer.
//!
//! The framing headers (`Content-Length`, `Transfer-Encoding`) are derived from the
//! [`BodyLength`] argument; fields of those names in the head are not written, so the framing
//! on the wire always matches what the encoder tells the caller to send.

use bytes::{BufMut, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::date::date_header_value;
use super::{BodyLength, Framing, H1Error, RequestHead, ResponseHead};

/// Writes a request head (request line, `Host` first, the other fields, framing fields and
/// the empty line) and returns how the body must be framed.
///
/// The request line carries `head.target` as given: origin-form for an origin server,
/// absolute-form for a proxy (see [`RequestHead::from_url`]). Requests go out as HTTP/1.1,
/// or HTTP/1.0 if `head.version` says so and the body length is not
/// [`BodyLength::Unknown`] (HTTP/1.0 has no chunked coding). An empty POST, PUT or PATCH
/// carries `Content-Length: 0`, which many servers require.
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_http::h1::{encode_request, BodyLength, Framing, RequestHead};
///
/// let mut head = RequestHead::new(http::Method::POST, "/upload");
/// head.headers.insert("host", "example.com".parse().unwrap());
/// let mut out = BytesMut::new();
/// assert_eq!(encode_request(&head, BodyLength::Unknown, &mut out), Framing::Chunked);
/// assert_eq!(
///     &out[..],
///     b"POST /upload HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n"
/// );
/// ```
pub fn encode_request(head: &RequestHead, body: BodyLength, out: &mut BytesMut) -> Framing {
    out.reserve(estimate_head_len(&head.headers) + head.target.len() + 64);
    out.put_slice(head.method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(if head.target.is_empty() {
        b"/"
    } else {
        head.target.as_bytes()
    });
    let http_10 = head.version == Version::HTTP_10 && body != BodyLength::Unknown;
    out.put_slice(if http_10 {
        b" HTTP/1.0\r\n"
    } else {
        b" HTTP/1.1\r\n"
    });
    // Host first: RFC 9112 section 3.2 asks for it right after the request line.
    if let Some(host) = head.headers.get(HOST) {
        put_field(out, HOST.as_str(), host);
    }
    put_fields(out, &head.headers, |name| {
        name == HOST || name == CONTENT_LENGTH || name == TRANSFER_ENCODING
    });
    let framing = match body {
        BodyLength::Empty => {
            let body_expected =
                head.method == Method::POST || head.method == Method::PUT || head.method == "PATCH";
            if body_expected {
                put_content_length(out, 0);
            }
            Framing::Empty
        }
        BodyLength::Known(n) => {
            put_content_length(out, n);
            Framing::Length(n)
        }
        BodyLength::Unknown => {
            out.put_slice(b"transfer-encoding: chunked\r\n");
            Framing::Chunked
        }
    };
    out.put_slice(b"\r\n");
    framing
}

/// Writes a response head (status line, fields, `Date` unless present, framing fields and the
/// empty line) and returns how the body must be framed.
///
/// `request_method` is the method of the request being answered. Responses to HEAD, and 1xx,
/// 204 and 304 responses, get [`Framing::Empty`]: no body bytes are sent even when a length is
/// announced (HEAD and 304 announce the length a GET would have had). A body of unknown length
/// is chunked for HTTP/1.1 and, when `head.version` is HTTP/1.0, delimited by closing the
/// connection (with `Connection: close`).
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_http::h1::{encode_response_head, BodyLength, Framing, ResponseHead};
///
/// let head = ResponseHead::new(http::StatusCode::OK);
/// let mut out = BytesMut::new();
/// let framing = encode_response_head(&head, &http::Method::HEAD, BodyLength::Known(5), &mut out);
/// assert_eq!(framing, Framing::Empty);
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// assert!(out.ends_with(b"content-length: 5\r\n\r\n"));
/// ```
pub fn encode_response_head(
    head: &ResponseHead,
    request_method: &Method,
    body: BodyLength,
    out: &mut BytesMut,
) -> Framing {
    let status = head.status;
    let http_10 = head.version == Version::HTTP_10;
    out.reserve(estimate_head_len(&head.headers) + head.reason.len() + 96);
    out.put_slice(if http_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    let reason = if head.reason.is_empty() {
        status.canonical_reason().unwrap_or("")
    } else {
        head.reason.as_str()
    };
    out.put_slice(reason.as_bytes());
    out.put_slice(b"\r\n");

    let (announced, framing) = response_framing(status, request_method, http_10, body);
    let close = announced == Announce::Close;
    put_fields(out, &head.headers, |name| {
        name == CONTENT_LENGTH || name == TRANSFER_ENCODING || (close && name == CONNECTION)
    });
    if !status.is_informational() && !head.headers.contains_key(DATE) {
        put_field(out, DATE.as_str(), &date_header_value());
    }
    match announced {
        Announce::Nothing => {}
        Announce::Length(n) => put_content_length(out, n),
        Announce::Chunked => out.put_slice(b"transfer-encoding: chunked\r\n"),
        Announce::Close => out.put_slice(b"connection: close\r\n"),
    }
    out.put_slice(b"\r\n");
    framing
}

/// The framing fields a response head announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announce {
    Nothing,
    Length(u64),
    Chunked,
    Close,
}

fn response_framing(
    status: StatusCode,
    request_method: &Method,
    http_10: bool,
    body: BodyLength,
) -> (Announce, Framing) {
    if status.is_informational() || status == StatusCode::NO_CONTENT {
        return (Announce::Nothing, Framing::Empty);
    }
    if status == StatusCode::NOT_MODIFIED {
        let announced = match body {
            BodyLength::Known(n) => Announce::Length(n),
            _ => Announce::Nothing,
        };
        return (announced, Framing::Empty);
    }
    let (announced, framing) = match body {
        BodyLength::Empty => (Announce::Length(0), Framing::Empty),
        BodyLength::Known(n) => (Announce::Length(n), Framing::Length(n)),
        BodyLength::Unknown if http_10 => (Announce::Close, Framing::CloseDelimited),
        BodyLength::Unknown => (Announce::Chunked, Framing::Chunked),
    };
    if request_method == Method::HEAD {
        // Same fields as for GET where that is harmless; an unknown length is not announced.
        let announced = match announced {
            Announce::Length(n) => Announce::Length(n),
            _ => Announce::Nothing,
        };
        return (announced, Framing::Empty);
    }
    (announced, framing)
}

/// Writes the interim response `HTTP/1.1 100 Continue`, sent to a client waiting with
/// `Expect: 100-continue`.
pub fn encode_continue(out: &mut BytesMut) {
    out.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// Writes one chunk of a chunked body (size line, data, CRLF). Empty `data` writes nothing:
/// a zero-size chunk would end the body.
pub fn encode_chunk(data: &[u8], out: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    encode_chunk_header(data.len() as u64, out);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Writes only the size line of a chunk of `len` bytes, for callers that send the data from
/// their own buffer (vectored writes); the data must be followed by CRLF.
pub fn encode_chunk_header(len: u64, out: &mut BytesMut) {
    put_hex(out, len);
    out.put_slice(b"\r\n");
}

/// Writes the last chunk and the empty trailer section that end a chunked body.
pub fn encode_last_chunk(out: &mut BytesMut) {
    out.put_slice(b"0\r\n\r\n");
}

/// Writes the last chunk followed by `trailers`, ending a chunked body.
pub fn encode_last_chunk_with_trailers(trailers: &HeaderMap, out: &mut BytesMut) {
    out.put_slice(b"0\r\n");
    put_fields(out, trailers, |_| false);
    out.put_slice(b"\r\n");
}

/// Frames body bytes according to the [`Framing`] an encoder returned, and checks that a
/// `Content-Length` body is exactly as long as announced.
#[derive(Debug, Clone)]
pub struct BodyEncoder {
    framing: Framing,
    written: u64,
}

impl BodyEncoder {
    /// An encoder for a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        BodyEncoder {
            framing,
            written: 0,
        }
    }

    /// The framing applied.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Body bytes encoded so far (for [`Framing::Empty`], bytes dropped).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes still owed for a `Content-Length` body (`None` for other framings).
    pub fn remaining(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n.saturating_sub(self.written)),
            _ => None,
        }
    }

    /// Encodes body bytes into `out`. With [`Framing::Empty`] (a response to HEAD, a 204 or
    /// 304) they are dropped, so one code path can serve GET and HEAD. Writing past the
    /// announced `Content-Length` is an error and writes nothing.
    pub fn encode(&mut self, data: &[u8], out: &mut BytesMut) -> Result<(), H1Error> {
        let len = data.len() as u64;
        match self.framing {
            Framing::Empty => {}
            Framing::Length(declared) => {
                let written = self.written.saturating_add(len);
                if written > declared {
                    return Err(H1Error::BodyLengthMismatch { declared, written });
                }
                out.put_slice(data);
            }
            Framing::Chunked => encode_chunk(data, out),
            Framing::CloseDelimited => out.put_slice(data),
        }
        self.written = self.written.saturating_add(len);
        Ok(())
    }

    /// For a body sent as is (`Content-Length` or close-delimited): counts `len` bytes the
    /// caller writes itself, uncopied, and returns true (an error past the announced length,
    /// counting nothing). For the other framings returns false: encode the data instead.
    pub(super) fn pass_through(&mut self, len: u64) -> Result<bool, H1Error> {
        match self.framing {
            Framing::Length(declared) => {
                let written = self.written.saturating_add(len);
                if written > declared {
                    return Err(H1Error::BodyLengthMismatch { declared, written });
                }
            }
            Framing::CloseDelimited => {}
            Framing::Empty | Framing::Chunked => return Ok(false),
        }
        self.written = self.written.saturating_add(len);
        Ok(true)
    }

    /// Ends the body: the last chunk for a chunked body; an error if a `Content-Length` body
    /// is short.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<(), H1Error> {
        self.finish_with_trailers(&HeaderMap::new(), out)
    }

    /// Ends the body, sending `trailers` if it is chunked (other framings cannot carry them and
    /// drop them).
    pub fn finish_with_trailers(
        &mut self,
        trailers: &HeaderMap,
        out: &mut BytesMut,
    ) -> Result<(), H1Error> {
        match self.framing {
            Framing::Length(declared) if self.written != declared => {
                Err(H1Error::BodyLengthMismatch {
                    declared,
                    written: self.written,
                })
            }
            Framing::Chunked => {
                encode_last_chunk_with_trailers(trailers, out);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn estimate_head_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

fn put_field(out: &mut BytesMut, name: &str, value: &HeaderValue) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

fn put_fields(out: &mut BytesMut, headers: &HeaderMap, skip: impl Fn(&HeaderName) -> bool) {
    for (name, value) in headers {
        if !skip(name) {
            put_field(out, name.as_str(), value);
        }
    }
}

fn put_content_length(out: &mut BytesMut, n: u64) {
    out.put_slice(b"content-length: ");
    put_decimal(out, n);
    out.put_slice(b"\r\n");
}

fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

fn put_hex(out: &mut BytesMut, mut n: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &BytesMut) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers() {
        let mut out = BytesMut::new();
        put_decimal(&mut out, 0);
        out.put_u8(b' ');
        put_decimal(&mut out, u64::MAX);
        out.put_u8(b' ');
        put_hex(&mut out, 0);
        out.put_u8(b' ');
        put_hex(&mut out, 0x1abc);
        assert_eq!(text(&out), "0 18446744073709551615 0 1abc");
    }

    #[test]
    fn request_writes_host_first_and_replaces_framing_fields() {
        let mut head = RequestHead::new(Method::PUT, "/x");
        head.headers
            .insert("accept", HeaderValue::from_static("*/*"));
        head.headers
            .insert("content-length", HeaderValue::from_static("999"));
        head.headers.insert("host", HeaderValue::from_static("h"));
        let mut out = BytesMut::new();
        assert_eq!(
            encode_request(&head, BodyLength::Known(3), &mut out),
            Framing::Length(3)
        );
        assert_eq!(
            text(&out),
            "PUT /x HTTP/1.1\r\nhost: h\r\naccept: */*\r\ncontent-length: 3\r\n\r\n"
        );
    }

    #[test]
    fn connect_uses_authority_form() {
        let mut out = BytesMut::new();
        let framing = encode_request(
            &RequestHead::connect("example.com", 443),
            BodyLength::Empty,
            &mut out,
        );
        assert_eq!(framing, Framing::Empty);
        assert_eq!(
            text(&out),
            "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n"
        );
    }

    #[test]
    fn empty_post_has_content_length_zero_but_get_has_none() {
        let mut out = BytesMut::new();
        encode_request(
            &RequestHead::new(Method::POST, "/"),
            BodyLength::Empty,
            &mut out,
        );
        assert_eq!(text(&out), "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
        out.clear();
        encode_request(
            &RequestHead::new(Method::GET, "/"),
            BodyLength::Empty,
            &mut out,
        );
        assert_eq!(text(&out), "GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn http_10_request_with_unknown_length_goes_out_as_http_11() {
        let mut head = RequestHead::new(Method::POST, "/");
        head.version = Version::HTTP_10;
        let mut out = BytesMut::new();
        encode_request(&head, BodyLength::Known(1), &mut out);
        assert!(text(&out).starts_with("POST / HTTP/1.0\r\n"));
        out.clear();
        encode_request(&head, BodyLength::Unknown, &mut out);
        assert!(text(&out).starts_with("POST / HTTP/1.1\r\n"));
    }

    fn response(
        status: u16,
        method: Method,
        version: Version,
        body: BodyLength,
    ) -> (String, Framing) {
        let mut head = ResponseHead::new(StatusCode::from_u16(status).unwrap());
        head.version = version;
        head.headers.insert("date", HeaderValue::from_static("D"));
        let mut out = BytesMut::new();
        let framing = encode_response_head(&head, &method, body, &mut out);
        (text(&out).to_owned(), framing)
    }

    #[test]
    fn response_framing_table() {
        use BodyLength::*;
        let v11 = Version::HTTP_11;
        let cases = [
            (
                200,
                Method::GET,
                v11,
                Known(5),
                "content-length: 5\r\n",
                Framing::Length(5),
            ),
            (
                200,
                Method::GET,
                v11,
                Empty,
                "content-length: 0\r\n",
                Framing::Empty,
            ),
            (
                200,
                Method::GET,
                v11,
                Unknown,
                "transfer-encoding: chunked\r\n",
                Framing::Chunked,
            ),
            (
                200,
                Method::GET,
                Version::HTTP_10,
                Unknown,
                "connection: close\r\n",
                Framing::CloseDelimited,
            ),
            (
                200,
                Method::HEAD,
                v11,
                Known(5),
                "content-length: 5\r\n",
                Framing::Empty,
            ),
            (200, Method::HEAD, v11, Unknown, "", Framing::Empty),
            (204, Method::GET, v11, Known(5), "", Framing::Empty),
            (
                304,
                Method::GET,
                v11,
                Known(5),
                "content-length: 5\r\n",
                Framing::Empty,
            ),
            (304, Method::GET, v11, Unknown, "", Framing::Empty),
        ];
        for (status, method, version, body, fields, expected) in cases {
            let (wire, framing) = response(status, method.clone(), version, body);
            assert_eq!(framing, expected, "{status} {method} {body:?}");
            let after_date = wire.split_once("date: D\r\n").unwrap().1;
            assert_eq!(
                after_date,
                format!("{fields}\r\n"),
                "{status} {method} {body:?}"
            );
        }
    }

    #[test]
    fn response_adds_date_and_keeps_custom_reason() {
        let mut head = ResponseHead::new(StatusCode::NOT_FOUND);
        head.reason = "Nope".into();
        let mut out = BytesMut::new();
        encode_response_head(&head, &Method::GET, BodyLength::Empty, &mut out);
        let wire = text(&out);
        assert!(wire.starts_with("HTTP/1.1 404 Nope\r\ndate: "), "{wire}");
        assert!(
            wire.ends_with(" GMT\r\ncontent-length: 0\r\n\r\n"),
            "{wire}"
        );
    }

    #[test]
    fn body_encoder_frames_and_checks_lengths() {
        let mut out = BytesMut::new();
        let mut chunked = BodyEncoder::new(Framing::Chunked);
        chunked.encode(b"hello world, hi", &mut out).unwrap();
        chunked.encode(b"", &mut out).unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", HeaderValue::from_static("1"));
        chunked.finish_with_trailers(&trailers, &mut out).unwrap();
        assert_eq!(text(&out), "f\r\nhello world, hi\r\n0\r\nx-sum: 1\r\n\r\n");

        out.clear();
        let mut fixed = BodyEncoder::new(Framing::Length(3));
        fixed.encode(b"ab", &mut out).unwrap();
        assert_eq!(fixed.remaining(), Some(1));
        assert_eq!(
            fixed.encode(b"cd", &mut out),
            Err(H1Error::BodyLengthMismatch {
                declared: 3,
                written: 4
            })
        );
        assert_eq!(
            fixed.finish(&mut out),
            Err(H1Error::BodyLengthMismatch {
                declared: 3,
                written: 2
            })
        );
        fixed.encode(b"c", &mut out).unwrap();
        fixed.finish(&mut out).unwrap();
        assert_eq!(text(&out), "abc");

        out.clear();
        let mut head_body = BodyEncoder::new(Framing::Empty);
        head_body.encode(b"dropped", &mut out).unwrap();
        head_body.finish(&mut out).unwrap();
        assert!(out.is_empty());
    }
}
