//! MIME multipart bodies (Qt's `QHttpMultiPart` and `QHttpPart`), encoded as a stream.
//!
//! [`HttpMultiPart`] collects [`HttpPart`]s; [`HttpMultiPart::into_reader`] turns it into a
//! [`MultipartReader`] that produces the encoded body piece by piece into the caller's buffer,
//! pulling file parts from their readers as it goes, so an upload of a large file never holds
//! more than the caller's buffer.
//!
//! ```
//! use std::io::Read;
//! use slotnet_http::multipart::{ContentType, HttpMultiPart, HttpPart};
//!
//! let mut form = HttpMultiPart::new(ContentType::FormData);
//! form.set_boundary("XyZ").unwrap();
//! let mut field = HttpPart::new();
//! field.set_form_data("name", None);
//! field.set_body("value");
//! form.append(field);
//! assert_eq!(form.content_type_header(), "multipart/form-data; boundary=XyZ");
//!
//! let mut body = form.into_reader();
//! let size = body.size();
//! let mut bytes = Vec::new();
//! body.read_to_end(&mut bytes).unwrap();
//! assert_eq!(size, Some(bytes.len() as u64));
//! assert_eq!(
//!     bytes,
//!     b"--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nvalue\r\n--XyZ--\r\n"
//! );
//! ```

mod boundary;
mod part;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Read};

pub use part::HttpPart;

use part::PartBody;

/// The multipart subtype (Qt's `QHttpMultiPart::ContentType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ContentType {
    /// `multipart/mixed` (Qt's default).
    #[default]
    Mixed,
    /// `multipart/related`.
    Related,
    /// `multipart/form-data`, for HTML form uploads.
    FormData,
    /// `multipart/alternative`.
    Alternative,
}

impl ContentType {
    /// The media type, e.g. `multipart/form-data`.
    pub fn media_type(self) -> &'static str {
        match self {
            ContentType::Mixed => "multipart/mixed",
            ContentType::Related => "multipart/related",
            ContentType::FormData => "multipart/form-data",
            ContentType::Alternative => "multipart/alternative",
        }
    }
}

/// Invalid input to the multipart builder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultipartError {
    /// A header field name that is not an RFC 9110 token.
    InvalidHeaderName(String),
    /// A header field value with CR, LF or another control character (field name given).
    InvalidHeaderValue(String),
    /// A boundary that RFC 2046 does not allow (1-70 of its characters, no trailing space).
    InvalidBoundary(String),
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultipartError::InvalidHeaderName(n) => write!(f, "invalid header name {n:?}"),
            MultipartError::InvalidHeaderValue(n) => write!(f, "invalid value for header {n}"),
            MultipartError::InvalidBoundary(b) => write!(f, "invalid multipart boundary {b:?}"),
        }
    }
}

impl std::error::Error for MultipartError {}

/// A multipart message under construction (Qt's `QHttpMultiPart`).
pub struct HttpMultiPart {
    content_type: ContentType,
    boundary: String,
    parts: Vec<HttpPart>,
}

impl fmt::Debug for HttpMultiPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMultiPart")
            .field("content_type", &self.content_type)
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

impl Default for HttpMultiPart {
    fn default() -> Self {
        Self::new(ContentType::Mixed)
    }
}

impl HttpMultiPart {
    /// An empty multipart message with a fresh random boundary (`boundary_.oOo._` followed
    /// by 32 random alphanumerics, as Qt documents).
    pub fn new(content_type: ContentType) -> Self {
        HttpMultiPart {
            content_type,
            boundary: boundary::generate(),
            parts: Vec::new(),
        }
    }

    /// Changes the subtype.
    pub fn set_content_type(&mut self, content_type: ContentType) {
        self.content_type = content_type;
    }

    /// The subtype.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The boundary between parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Sets the boundary (rarely needed: the generated one is random). It must not occur in
    /// any part; RFC 2046 limits it to 1-70 characters of `A-Za-z0-9'()+_,-./:=?` and space.
    pub fn set_boundary(&mut self, boundary: &str) -> Result<(), MultipartError> {
        if !boundary::is_valid(boundary) {
            return Err(MultipartError::InvalidBoundary(boundary.to_string()));
        }
        self.boundary = boundary.to_string();
        Ok(())
    }

    /// Appends a part.
    pub fn append(&mut self, part: HttpPart) {
        self.parts.push(part);
    }

    /// The parts appended so far.
    pub fn parts(&self) -> &[HttpPart] {
        &self.parts
    }

    /// The `Content-Type` header value for the request, with the boundary parameter.
    pub fn content_type_header(&self) -> String {
        content_type_header(self.content_type, &self.boundary)
    }

    /// The encoded body's length, known when every part's body size is known.
    pub fn size(&self) -> Option<u64> {
        let b = self.boundary.len() as u64;
        let mut total = 0u64;
        for (i, part) in self.parts.iter().enumerate() {
            // [CRLF] "--" boundary CRLF headers CRLF body
            let lead = if i == 0 { 0 } else { 2 };
            total += lead + 2 + b + 2 + part.headers_len() + 2 + part.body_size()?;
        }
        // [CRLF] "--" boundary "--" CRLF
        let lead = if self.parts.is_empty() { 0 } else { 2 };
        Some(total + lead + 2 + b + 4)
    }

    /// Starts encoding: the returned reader produces the body.
    pub fn into_reader(self) -> MultipartReader {
        MultipartReader {
            size: self.size(),
            content_type_header: self.content_type_header(),
            boundary: self.boundary,
            parts: self.parts.into_iter(),
            index: 0,
            pending: Vec::new(),
            pending_pos: 0,
            body: None,
            closed: false,
        }
    }
}

fn content_type_header(content_type: ContentType, boundary: &str) -> String {
    if boundary::is_token(boundary) {
        format!("{}; boundary={boundary}", content_type.media_type())
    } else {
        format!("{}; boundary=\"{boundary}\"", content_type.media_type())
    }
}

/// The body of the part being sent.
enum BodyCursor {
    Bytes(bytes::Bytes),
    Reader {
        reader: Box<dyn Read + Send>,
        /// Bytes still owed when the size is known.
        left: Option<u64>,
    },
}

/// Produces an encoded multipart body (implements [`Read`]).
///
/// Delimiters and part headers are formatted one part at a time (a few hundred bytes); bodies
/// go straight from their bytes or readers into the caller's buffer.
pub struct MultipartReader {
    size: Option<u64>,
    content_type_header: String,
    boundary: String,
    parts: std::vec::IntoIter<HttpPart>,
    index: usize,
    /// Delimiter and header bytes waiting to be copied out.
    pending: Vec<u8>,
    pending_pos: usize,
    body: Option<BodyCursor>,
    closed: bool,
}

impl fmt::Debug for MultipartReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultipartReader")
            .field("size", &self.size)
            .field("boundary", &self.boundary)
            .field("part", &self.index)
            .finish()
    }
}

impl MultipartReader {
    /// The total length of the body, if every part's size was known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The `Content-Type` header value (with the boundary).
    pub fn content_type_header(&self) -> &str {
        &self.content_type_header
    }

    /// Queues the next delimiter (and part headers), or the close delimiter.
    fn advance(&mut self) -> bool {
        self.pending.clear();
        self.pending_pos = 0;
        let lead: &[u8] = if self.index == 0 { b"" } else { b"\r\n" };
        match self.parts.next() {
            Some(part) => {
                self.pending.extend_from_slice(lead);
                self.pending.extend_from_slice(b"--");
                self.pending.extend_from_slice(self.boundary.as_bytes());
                self.pending.extend_from_slice(b"\r\n");
                part.encode_headers(&mut self.pending);
                self.pending.extend_from_slice(b"\r\n");
                self.body = Some(match part.body {
                    PartBody::Bytes(b) => BodyCursor::Bytes(b),
                    PartBody::Reader { reader, size } => BodyCursor::Reader { reader, left: size },
                });
                self.index += 1;
                true
            }
            None if !self.closed => {
                self.pending.extend_from_slice(lead);
                self.pending.extend_from_slice(b"--");
                self.pending.extend_from_slice(self.boundary.as_bytes());
                self.pending.extend_from_slice(b"--\r\n");
                self.closed = true;
                true
            }
            None => false,
        }
    }

    /// Reads from the current body; `Ok(0)` when it is done.
    fn read_body(body: &mut BodyCursor, buf: &mut [u8]) -> io::Result<usize> {
        match body {
            BodyCursor::Bytes(b) => {
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                let _ = b.split_to(n);
                Ok(n)
            }
            BodyCursor::Reader { reader, left } => {
                let want = match left {
                    Some(0) => return Ok(0),
                    Some(l) => buf.len().min(usize::try_from(*l).unwrap_or(usize::MAX)),
                    None => buf.len(),
                };
                let n = reader.read(&mut buf[..want])?;
                if let Some(l) = left {
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "multipart part body ended before its declared size",
                        ));
                    }
                    *l -= n as u64;
                }
                Ok(n)
            }
        }
    }
}

impl Read for MultipartReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pending_pos < self.pending.len() {
                let src = &self.pending[self.pending_pos..];
                let n = src.len().min(buf.len());
                buf[..n].copy_from_slice(&src[..n]);
                self.pending_pos += n;
                return Ok(n);
            }
            if let Some(body) = &mut self.body {
                let n = Self::read_body(body, buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.body = None;
            }
            if !self.advance() {
                return Ok(0);
            }
        }
    }
}
