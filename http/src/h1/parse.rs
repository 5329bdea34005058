//! httparse wrappers that turn a complete head in the receive buffer into owned heads without
//! copying header values.
//!
//! httparse parses into a stack array of borrowed headers. The positions of names and values
//! are recorded (in a scratch vector the decoder reuses), the head is split off the buffer and
//! frozen, and every `HeaderValue` becomes a cheap slice of that frozen head.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::{ByteStr, H1Error, Limits, RawFields, RequestHead, ResponseHead};

/// Header slots kept on the stack; a larger `Limits::max_headers` falls back to the heap.
const STACK_HEADERS: usize = 128;

/// A byte range inside the head being parsed.
type Span = (usize, usize);

/// Where one header field's name and value lie in the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderSpan {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// The range `part` occupies inside `base`, or an empty range if it lies elsewhere (httparse
/// returns a static `""` for a missing reason phrase).
fn span_of(base: &[u8], part: &[u8]) -> Span {
    let base_start = base.as_ptr() as usize;
    let part_start = part.as_ptr() as usize;
    if part_start >= base_start && part_start + part.len() <= base_start + base.len() {
        let start = part_start - base_start;
        (start, start + part.len())
    } else {
        (0, 0)
    }
}

/// The bytes of `span` in the frozen head. httparse only returns slices of the parsed part,
/// so the range always fits; an empty fallback keeps a surprise from becoming a panic.
fn slice(head: &Bytes, span: Span) -> Bytes {
    if span.0 <= span.1 && span.1 <= head.len() {
        head.slice(span.0..span.1)
    } else {
        Bytes::new()
    }
}

/// Like [`slice`], borrowed.
fn bytes_of(head: &[u8], span: Span) -> &[u8] {
    head.get(span.0..span.1).unwrap_or_default()
}

fn record_spans(base: &[u8], headers: &[httparse::Header<'_>], spans: &mut Vec<HeaderSpan>) {
    spans.clear();
    spans.extend(headers.iter().map(|h| HeaderSpan {
        name: span_of(base, h.name.as_bytes()),
        value: span_of(base, h.value),
    }));
}

fn build_header_map(
    head: &Bytes,
    spans: &[HeaderSpan],
    invalid: H1Error,
) -> Result<HeaderMap, H1Error> {
    let mut map = HeaderMap::try_with_capacity(spans.len()).map_err(|_| H1Error::TooManyHeaders)?;
    for span in spans {
        let name =
            HeaderName::from_bytes(bytes_of(head, span.name)).map_err(|_| invalid.clone())?;
        let value =
            HeaderValue::from_maybe_shared(slice(head, span.value)).map_err(|_| invalid.clone())?;
        map.try_append(name, value)
            .map_err(|_| H1Error::TooManyHeaders)?;
    }
    Ok(map)
}

fn version_from_minor(minor: u8) -> Version {
    if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    }
}

/// Whether `token` looks like an HTTP version httparse refused (`HTTP/2`, `HTTP/1.2`), as
/// opposed to garbage.
fn is_other_http_version(token: &[u8]) -> bool {
    token.len() > 5 && token[..5].eq_ignore_ascii_case(b"HTTP/") && token[5].is_ascii_digit()
}

/// The buffer without leading empty lines, which httparse skips too.
fn skip_empty_lines(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    &buf[start..]
}

/// Uninitialised header slots for httparse, on the stack unless the limits ask for more.
type StackSlots<'b> = [MaybeUninit<httparse::Header<'b>>; STACK_HEADERS];

fn header_slots<'s, 'b>(
    stack: &'s mut StackSlots<'b>,
    heap: &'s mut Vec<MaybeUninit<httparse::Header<'b>>>,
    max_headers: usize,
) -> &'s mut [MaybeUninit<httparse::Header<'b>>] {
    if max_headers <= STACK_HEADERS {
        &mut stack[..max_headers]
    } else {
        heap.resize(max_headers, MaybeUninit::uninit());
        heap
    }
}

fn new_stack_slots<'b>() -> StackSlots<'b> {
    [const { MaybeUninit::uninit() }; STACK_HEADERS]
}

/// What a complete status line and header section parsed to: head length, minor version,
/// status code and where the reason phrase lies.
type ParsedStatus = (usize, u8, u16, Span);

/// One httparse pass over a response head, recording the field positions in `spans`.
fn parse_status_and_fields<'b>(
    base: &'b [u8],
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut Vec<HeaderSpan>,
    allow_obs_fold: bool,
) -> Result<Option<ParsedStatus>, H1Error> {
    let mut response = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(allow_obs_fold)
        .parse_response_with_uninit_headers(&mut response, base, slots)
    {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => {
            record_spans(base, response.headers, spans);
            let reason = span_of(base, response.reason.unwrap_or_default().as_bytes());
            let minor = response.version.unwrap_or(1);
            Ok(Some((len, minor, response.code.unwrap_or(0), reason)))
        }
        Err(httparse::Error::TooManyHeaders) => Err(H1Error::TooManyHeaders),
        Err(_) if response.reason.is_some() => Err(H1Error::InvalidHeader),
        Err(httparse::Error::Version) if is_other_http_version(skip_empty_lines(base)) => {
            Err(H1Error::UnsupportedVersion)
        }
        Err(_) => Err(H1Error::InvalidStatusLine),
    }
}

/// Whether a line of `head` starts with whitespace: an obs-fold (RFC 9112 section 5.2), or a
/// space before the first field, which stays an error.
fn has_folded_line(head: &[u8]) -> bool {
    head.windows(2)
        .any(|w| w[0] == b'\n' && (w[1] == b' ' || w[1] == b'\t'))
}

/// Replaces every obs-fold in the value at `span` with spaces, in place (RFC 9112 section
/// 5.2: "replace each received obs-fold with one or more SP octets"), together with the
/// whitespace around it, and returns the value's span without leading or trailing spaces.
/// The value keeps its length, so the other spans stay valid.
fn unfold_value(head: &mut [u8], span: Span) -> Span {
    let Some(value) = head.get_mut(span.0..span.1) else {
        return span;
    };
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = 0;
    while i < value.len() {
        if value[i] != b'\r' && value[i] != b'\n' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && is_ws(value[start - 1]) {
            start -= 1;
        }
        let mut end = i;
        while end < value.len() && is_ws(value[end]) {
            end += 1;
        }
        value[start..end].fill(b' ');
        i = end;
    }
    let leading = value.iter().take_while(|&&b| b == b' ').count();
    let trailing = value[leading..]
        .iter()
        .rev()
        .take_while(|&&b| b == b' ')
        .count();
    (span.0 + leading, span.1 - trailing)
}

/// Parses a status line and header fields from the front of `buf`. Returns `None` if the head
/// is incomplete (and still within limits); on success the head is removed from `buf`.
///
/// The fields always come as [`RawFields`]; `header_map` says whether to also build the
/// `HeaderMap` (which checks names and values once more and costs a hash per field).
///
/// A field folded over several lines (obs-fold) is accepted and unfolded with spaces, as RFC
/// 9112 asks of a user agent. The strict parse runs first, so only a head that fails it pays
/// for the second, lenient one.
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    limits: &Limits,
    spans: &mut Vec<HeaderSpan>,
    header_map: bool,
) -> Result<Option<ResponseHead>, H1Error> {
    let window = buf.len().min(limits.max_head_bytes);
    let (mut stack, mut heap) = (new_stack_slots(), Vec::new());
    let slots = header_slots(&mut stack, &mut heap, limits.max_headers);
    let base = &buf[..window];
    let mut folded = false;
    let mut parsed = parse_status_and_fields(base, slots, spans, false);
    if parsed == Err(H1Error::InvalidHeader) && has_folded_line(base) {
        folded = true;
        parsed = parse_status_and_fields(base, slots, spans, true);
    }
    let Some((len, minor, code, reason)) = parsed? else {
        return incomplete(buf, limits);
    };
    let status = StatusCode::from_u16(code).map_err(|_| H1Error::InvalidStatusLine)?;
    if folded {
        for span in spans.iter_mut() {
            span.value = unfold_value(&mut buf[..len], span.value);
        }
    }
    let head = buf.split_to(len).freeze();
    let headers = if header_map {
        build_header_map(&head, spans, H1Error::InvalidHeader)?
    } else {
        HeaderMap::new()
    };
    let reason = ByteStr::from_utf8(slice(&head, reason)).unwrap_or_default();
    Ok(Some(ResponseHead {
        version: version_from_minor(minor),
        status,
        reason,
        headers,
        raw: RawFields::new(head, spans.clone()),
    }))
}

/// Parses a request line and header fields from the front of `buf`, like
/// [`parse_response_head`].
pub(crate) fn parse_request_head(
    buf: &mut BytesMut,
    limits: &Limits,
    spans: &mut Vec<HeaderSpan>,
) -> Result<Option<RequestHead>, H1Error> {
    let window = buf.len().min(limits.max_head_bytes);
    let (mut stack, mut heap) = (new_stack_slots(), Vec::new());
    let slots = header_slots(&mut stack, &mut heap, limits.max_headers);
    let parsed = {
        let base = &buf[..window];
        let mut request = httparse::Request::new(&mut []);
        match request.parse_with_uninit_headers(base, slots) {
            Ok(httparse::Status::Partial) => Ok(None),
            Ok(httparse::Status::Complete(len)) => {
                record_spans(base, request.headers, spans);
                let method = span_of(base, request.method.unwrap_or_default().as_bytes());
                let target = span_of(base, request.path.unwrap_or_default().as_bytes());
                let minor = request.version.unwrap_or(1);
                Ok(Some((len, method, target, minor)))
            }
            Err(httparse::Error::TooManyHeaders) => Err(H1Error::TooManyHeaders),
            Err(_) if request.version.is_some() => Err(H1Error::InvalidHeader),
            Err(httparse::Error::Version) => {
                let line = skip_empty_lines(base);
                let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
                let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
                if is_other_http_version(version) {
                    Err(H1Error::UnsupportedVersion)
                } else {
                    Err(H1Error::InvalidRequestLine)
                }
            }
            Err(_) => Err(H1Error::InvalidRequestLine),
        }
    }?;
    let Some((len, method, target, minor)) = parsed else {
        return incomplete(buf, limits);
    };
    let head = buf.split_to(len).freeze();
    let method =
        Method::from_bytes(bytes_of(&head, method)).map_err(|_| H1Error::InvalidRequestLine)?;
    let target =
        ByteStr::from_utf8(slice(&head, target)).map_err(|_| H1Error::InvalidRequestLine)?;
    let headers = build_header_map(&head, spans, H1Error::InvalidHeader)?;
    Ok(Some(RequestHead {
        method,
        target,
        version: version_from_minor(minor),
        headers,
    }))
}

/// Parses a trailer section (trailer fields and the final empty line) from the front of `buf`.
pub(crate) fn parse_trailers(
    buf: &mut BytesMut,
    limits: &Limits,
    spans: &mut Vec<HeaderSpan>,
) -> Result<Option<HeaderMap>, H1Error> {
    let window = buf.len().min(limits.max_head_bytes);
    let base = &buf[..window];
    let mut stack;
    let mut heap;
    let slots: &mut [httparse::Header<'_>] = if limits.max_headers <= STACK_HEADERS {
        stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
        &mut stack[..limits.max_headers]
    } else {
        heap = vec![httparse::EMPTY_HEADER; limits.max_headers];
        &mut heap
    };
    let len = match httparse::parse_headers(base, slots) {
        Ok(httparse::Status::Partial) => return incomplete(buf, limits),
        Ok(httparse::Status::Complete((len, headers))) => {
            record_spans(base, headers, spans);
            len
        }
        Err(httparse::Error::TooManyHeaders) => return Err(H1Error::TooManyHeaders),
        Err(_) => return Err(H1Error::InvalidTrailer),
    };
    let section = buf.split_to(len).freeze();
    build_header_map(&section, spans, H1Error::InvalidTrailer).map(Some)
}

/// The verdict on an incomplete head: wait for more, unless the limit is already reached.
fn incomplete<T>(buf: &BytesMut, limits: &Limits) -> Result<Option<T>, H1Error> {
    if buf.len() >= limits.max_head_bytes {
        Err(H1Error::HeadersTooLarge)
    } else {
        Ok(None)
    }
}
