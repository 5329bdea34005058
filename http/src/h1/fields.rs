//! [`RawFields`]: header fields exactly as they were received, and [`FieldSource`], the view
//! of a field section that the framing rules need.
//!
//! Building an `http::HeaderMap` costs a hash, a lowercased name and an allocation or two per
//! field; a client that only copies the fields into its reply (as Qt's `rawHeaderPairs` keeps
//! them: names in the case the server sent) does not need one. [`RawFields`] is the received
//! head plus the positions of each name and value in it: one allocation for the whole section.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName};

use super::parse::HeaderSpan;

/// The header fields of a received head, in the order and the case they arrived in.
///
/// Names and values borrow from the received bytes (no copy). httparse has already checked
/// that names are tokens and values contain no control characters; values may still hold
/// bytes above 0x7f (obsolete text).
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_http::h1::{ResponseDecoder, ResponseEvent};
///
/// let mut decoder = ResponseDecoder::new(&http::Method::GET);
/// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-Trace: a\r\nx-trace: b\r\n\r\n"[..]);
/// let Some(ResponseEvent::Head(head)) = decoder.decode(&mut buf)? else { panic!() };
/// let names: Vec<&str> = head.raw.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["X-Trace", "x-trace"]);
/// assert_eq!(head.raw.get("X-TRACE"), Some(&b"a"[..]));
/// # Ok::<(), slotnet_http::h1::H1Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawFields {
    block: Bytes,
    spans: Vec<HeaderSpan>,
}

impl RawFields {
    /// Fields at `spans` inside `block` (the received head).
    pub(crate) fn new(block: Bytes, spans: Vec<HeaderSpan>) -> Self {
        RawFields { block, spans }
    }

    /// How many fields (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The fields in received order: name as sent, value as bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.spans.iter().map(|span| self.field(span))
    }

    /// The value of the first field called `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.spans
            .iter()
            .find(|span| self.bytes(span.name).eq_ignore_ascii_case(name))
            .map(|span| self.bytes(span.value))
    }

    /// The values of every field called `name` (compared case-insensitively), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        // Compared as bytes: lookups run several times per response (framing, then the
        // client), and names need no UTF-8 check to be compared.
        let name = name.as_bytes();
        self.spans
            .iter()
            .filter(move |span| self.bytes(span.name).eq_ignore_ascii_case(name))
            .map(|span| self.bytes(span.value))
    }

    fn bytes(&self, span: (usize, usize)) -> &[u8] {
        self.block.get(span.0..span.1).unwrap_or_default()
    }

    fn field(&self, span: &HeaderSpan) -> (&str, &[u8]) {
        // httparse only accepts token characters in names, so this never falls back.
        let name = std::str::from_utf8(self.bytes(span.name)).unwrap_or_default();
        (name, self.bytes(span.value))
    }
}

impl fmt::Debug for RawFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())),
            )
            .finish()
    }
}

/// A field section the framing rules can ask for the values of one field: a `HeaderMap` or
/// [`RawFields`].
pub(crate) trait FieldSource {
    /// The values of every field called `name` (a lowercase standard name), in order.
    fn values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a;

    /// Whether a field called `name` is present.
    fn contains(&self, name: &HeaderName) -> bool {
        self.values(name).next().is_some()
    }
}

impl FieldSource for HeaderMap {
    fn values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name).into_iter().map(|v| v.as_bytes())
    }
}

impl FieldSource for RawFields {
    fn values<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.get_all(name.as_str())
    }
}
