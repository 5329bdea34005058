//! One part of a MIME multipart message (Qt's `QHttpPart`).

use std::fmt;
use std::io::Read;

use bytes::Bytes;

use super::MultipartError;

/// Where a part's body comes from.
pub(super) enum PartBody {
    /// Bytes held in memory.
    Bytes(Bytes),
    /// A reader pulled while the multipart body is read, never buffered whole (e.g. a file).
    Reader {
        reader: Box<dyn Read + Send>,
        size: Option<u64>,
    },
}

/// One part of an [`HttpMultiPart`](super::HttpMultiPart): header fields and a body (Qt's
/// `QHttpPart`).
///
/// ```
/// use slotnet_http::multipart::HttpPart;
///
/// let mut part = HttpPart::new();
/// part.set_form_data("comment", None);
/// part.set_body("hello");
/// assert_eq!(
///     part.raw_header("content-disposition"),
///     Some(&b"form-data; name=\"comment\""[..])
/// );
/// ```
pub struct HttpPart {
    headers: Vec<(String, Vec<u8>)>,
    pub(super) body: PartBody,
}

impl Default for HttpPart {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HttpPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpPart")
            .field("headers", &self.headers.len())
            .field("body_size", &self.body_size())
            .finish()
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Percent-encodes what cannot appear inside a quoted form-data name or file name, as the
/// HTML standard's multipart/form-data encoding does (`"` as `%22`, CR as `%0D`, LF as `%0A`).
fn escape_form_value(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

impl HttpPart {
    /// An empty part: no header fields, empty body.
    pub fn new() -> Self {
        HttpPart {
            headers: Vec::new(),
            body: PartBody::Bytes(Bytes::new()),
        }
    }

    /// Sets a header field, replacing any field of the same name (names are
    /// case-insensitive; the spelling given is the one sent).
    ///
    /// Fails for a name that is not an RFC 9110 token, or a value holding CR, LF or another
    /// control character (which would let a value inject header fields or a boundary).
    pub fn set_raw_header(
        &mut self,
        name: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), MultipartError> {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(MultipartError::InvalidHeaderName(name.to_string()));
        }
        let value = value.as_ref();
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(MultipartError::InvalidHeaderValue(name.to_string()));
        }
        let value = value.to_vec();
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_string(), value)),
        }
        Ok(())
    }

    /// The value of a header field (case-insensitive name).
    pub fn raw_header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    /// The header fields in the order they will be sent.
    pub fn raw_headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), &v[..]))
    }

    /// Sets `Content-Type` (Qt's `ContentTypeHeader`).
    pub fn set_content_type(&mut self, value: &str) -> Result<(), MultipartError> {
        self.set_raw_header("Content-Type", value)
    }

    /// Sets `Content-Disposition` (Qt's `ContentDispositionHeader`).
    pub fn set_content_disposition(&mut self, value: &str) -> Result<(), MultipartError> {
        self.set_raw_header("Content-Disposition", value)
    }

    /// Sets `Content-Disposition: form-data; name="..."` and, for a file field,
    /// `; filename="..."`. Quotes, CR and LF in the names are percent-encoded as browsers do,
    /// so this never fails.
    pub fn set_form_data(&mut self, name: &str, file_name: Option<&str>) {
        let mut value = format!("form-data; name=\"{}\"", escape_form_value(name));
        if let Some(file_name) = file_name {
            value.push_str(&format!("; filename=\"{}\"", escape_form_value(file_name)));
        }
        // The escaped value has no control characters left except tab, which is allowed.
        let value: String = value
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("Content-Disposition"));
        self.headers
            .push(("Content-Disposition".to_string(), value.into_bytes()));
    }

    /// Sets the body to bytes held in memory (Qt's `setBody`).
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = PartBody::Bytes(body.into());
    }

    /// Sets the body to a reader that is pulled while the multipart body is sent (Qt's
    /// `setBodyDevice`); a file is never loaded into memory.
    ///
    /// With `Some(size)`, exactly `size` bytes are read (a reader that ends earlier makes the
    /// multipart reader fail, since the announced length would be wrong); with `None`, the
    /// reader is read to its end and the multipart size is unknown.
    pub fn set_body_reader(&mut self, reader: Box<dyn Read + Send>, size: Option<u64>) {
        self.body = PartBody::Reader { reader, size };
    }

    /// The body's length, if known.
    pub fn body_size(&self) -> Option<u64> {
        match &self.body {
            PartBody::Bytes(b) => Some(b.len() as u64),
            PartBody::Reader { size, .. } => *size,
        }
    }

    /// The header block as sent: `Name: value\r\n` per field.
    pub(super) fn encode_headers(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The length of [`encode_headers`](Self::encode_headers)' output.
    pub(super) fn headers_len(&self) -> u64 {
        self.headers
            .iter()
            .map(|(n, v)| (n.len() + v.len() + 4) as u64)
            .sum()
    }
}
