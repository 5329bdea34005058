//! [`HttpRequestHeader`] and [`HttpResponseHeader`]: Qt's `QHttpRequestHeader` and
//! `QHttpResponseHeader`, header sections whose field names keep their spelling and are
//! looked up case-insensitively.

use std::fmt;

/// The header fields shared by requests and responses (Qt's `QHttpHeader`): an ordered list
/// of `(name, value)` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn value(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn all_values(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn set_value(&mut self, key: &str, value: &str) {
        match self.0.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(first) => {
                self.0[first].1 = value.to_owned();
                let mut index = 0;
                self.0.retain(|(k, _)| {
                    index += 1;
                    index - 1 == first || !k.eq_ignore_ascii_case(key)
                });
            }
            None => self.0.push((key.to_owned(), value.to_owned())),
        }
    }

    fn remove_all(&mut self, key: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            write!(f, "{k}: {v}\r\n")?;
        }
        f.write_str("\r\n")
    }

    /// Parses `Name: value` lines (folded continuation lines are joined to the previous
    /// value). Returns `None` for a line without a colon.
    fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Fields> {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                let (_, value) = fields.last_mut()?;
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
        Some(Fields(fields))
    }
}

/// Splits a header text into lines, accepting `\r\n` or `\n` endings.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// Parses a non-empty string of ASCII digits (`str::parse` alone also takes a leading `+`).
fn parse_digits<T: std::str::FromStr>(digits: &str) -> Option<T> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Parses `HTTP/1.1` into `(1, 1)`.
fn parse_version(token: &str) -> Option<(u32, u32)> {
    let (major, minor) = token.strip_prefix("HTTP/")?.split_once('.')?;
    Some((parse_digits(major)?, parse_digits(minor)?))
}

macro_rules! field_methods {
    () => {
        /// The value of the first field named `key` (case-insensitive), if any.
        pub fn value(&self, key: &str) -> Option<&str> {
            self.fields.value(key)
        }

        /// Every value of the fields named `key`, in order.
        pub fn all_values(&self, key: &str) -> Vec<&str> {
            self.fields.all_values(key)
        }

        /// Sets field `key` to `value`: the first field of that name gets the value and the
        /// others are removed; a new field is appended if there was none.
        pub fn set_value(&mut self, key: &str, value: &str) {
            self.fields.set_value(key, value)
        }

        /// Appends a field, keeping existing fields of the same name.
        pub fn add_value(&mut self, key: &str, value: &str) {
            self.fields.0.push((key.to_owned(), value.to_owned()))
        }

        /// Removes the first field named `key`.
        pub fn remove_value(&mut self, key: &str) {
            if let Some(i) = self
                .fields
                .0
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(key))
            {
                self.fields.0.remove(i);
            }
        }

        /// Removes every field named `key`.
        pub fn remove_all_values(&mut self, key: &str) {
            self.fields.remove_all(key)
        }

        /// Whether a field named `key` exists.
        pub fn has_key(&self, key: &str) -> bool {
            self.fields.value(key).is_some()
        }

        /// The field names, in order, as spelled when set or received (a name occurring
        /// twice is listed twice, as in Qt).
        pub fn keys(&self) -> Vec<String> {
            self.fields.0.iter().map(|(k, _)| k.clone()).collect()
        }

        /// Every `(name, value)` pair, in order.
        pub fn values(&self) -> &[(String, String)] {
            &self.fields.0
        }

        /// The `Content-Length` value, if present and a valid number.
        pub fn content_length(&self) -> Option<u64> {
            self.value("content-length")
                .and_then(|v| v.trim().parse().ok())
        }

        /// Whether a `Content-Length` field exists.
        pub fn has_content_length(&self) -> bool {
            self.has_key("content-length")
        }

        /// Sets the `Content-Length` field.
        pub fn set_content_length(&mut self, len: u64) {
            self.set_value("Content-Length", &len.to_string())
        }

        /// The media type of `Content-Type` (without parameters such as `charset`), if
        /// present.
        pub fn content_type(&self) -> Option<&str> {
            self.value("content-type")
                .map(|v| v.split(';').next().unwrap_or("").trim())
        }

        /// Whether a `Content-Type` field exists.
        pub fn has_content_type(&self) -> bool {
            self.has_key("content-type")
        }

        /// Sets the `Content-Type` field.
        pub fn set_content_type(&mut self, content_type: &str) {
            self.set_value("Content-Type", content_type)
        }

        /// Whether the header is valid (Qt's `isValid`): built or parsed from a well-formed
        /// start line. Default headers are invalid.
        pub fn is_valid(&self) -> bool {
            self.valid
        }

        /// The major HTTP version (1 in `HTTP/1.1`).
        pub fn major_version(&self) -> u32 {
            self.major
        }

        /// The minor HTTP version (1 in `HTTP/1.1`).
        pub fn minor_version(&self) -> u32 {
            self.minor
        }
    };
}

/// A request header (Qt's `QHttpRequestHeader`): method, path, version and fields.
///
/// [`to_string`](ToString::to_string) gives the wire form, the start line and fields each
/// ending in CRLF, followed by an empty line.
///
/// ```
/// use slotnet_http::legacy::HttpRequestHeader;
/// let mut header = HttpRequestHeader::new("GET", "/index.html");
/// header.set_value("Host", "example.com");
/// assert_eq!(header.to_string(), "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n");
/// assert_eq!(header.value("host"), Some("example.com"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequestHeader {
    valid: bool,
    method: String,
    path: String,
    major: u32,
    minor: u32,
    fields: Fields,
}

impl HttpRequestHeader {
    /// A valid `HTTP/1.1` header for `method` and `path`, without fields.
    pub fn new(method: &str, path: &str) -> Self {
        Self::with_version(method, path, 1, 1)
    }

    /// A valid header with an explicit version.
    pub fn with_version(method: &str, path: &str, major: u32, minor: u32) -> Self {
        HttpRequestHeader {
            valid: true,
            method: method.to_owned(),
            path: path.to_owned(),
            major,
            minor,
            fields: Fields::default(),
        }
    }

    /// Parses a header text (request line, fields; `\r\n` or `\n` line endings). Returns
    /// `None` if the request line or a field line is malformed.
    ///
    /// ```
    /// use slotnet_http::legacy::HttpRequestHeader;
    /// let h = HttpRequestHeader::parse("POST /form HTTP/1.0\r\nContent-Length: 3\r\n\r\n").unwrap();
    /// assert_eq!((h.method(), h.path(), h.minor_version()), ("POST", "/form", 0));
    /// assert_eq!(h.content_length(), Some(3));
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = lines(text);
        let mut parts = lines.next()?.split_whitespace();
        let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (major, minor) = parse_version(version)?;
        let mut header = Self::with_version(method, path, major, minor);
        header.fields = Fields::parse(lines)?;
        Some(header)
    }

    /// Sets method, path and version (Qt's `setRequest`); the header becomes valid.
    pub fn set_request(&mut self, method: &str, path: &str, major: u32, minor: u32) {
        self.valid = true;
        self.method = method.to_owned();
        self.path = path.to_owned();
        self.major = major;
        self.minor = minor;
    }

    /// The method (`GET`, `POST`, ...).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request path (or absolute URI) exactly as sent.
    pub fn path(&self) -> &str {
        &self.path
    }

    field_methods!();
}

impl fmt::Display for HttpRequestHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} HTTP/{}.{}\r\n",
            self.method, self.path, self.major, self.minor
        )?;
        self.fields.write(f)
    }
}

/// A response header (Qt's `QHttpResponseHeader`): status code, reason phrase, version and
/// fields, with the field names spelled as the server sent them.
///
/// ```
/// use slotnet_http::legacy::HttpResponseHeader;
/// let h = HttpResponseHeader::parse("HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\n\r\n").unwrap();
/// assert_eq!((h.status_code(), h.reason_phrase()), (404, "Not Found"));
/// assert_eq!(h.content_type(), Some("text/html"));
/// assert_eq!(h.keys(), vec!["Content-Type".to_owned()]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponseHeader {
    valid: bool,
    status: u16,
    reason: String,
    major: u32,
    minor: u32,
    fields: Fields,
}

impl HttpResponseHeader {
    /// A valid header with this status line and no fields.
    pub fn new(status_code: u16, reason: &str, major: u32, minor: u32) -> Self {
        HttpResponseHeader {
            valid: true,
            status: status_code,
            reason: reason.to_owned(),
            major,
            minor,
            fields: Fields::default(),
        }
    }

    /// Parses a header text (status line, fields). Returns `None` if malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = lines(text);
        let status_line = lines.next()?;
        let (version, rest) = status_line.split_once(' ')?;
        let (major, minor) = parse_version(version)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        // Three digits from 100 up (RFC 9110 section 15), so the text form reads back.
        if code.len() != 3 {
            return None;
        }
        let code: u16 = parse_digits(code).filter(|c| *c >= 100)?;
        let mut header = Self::new(code, reason.trim(), major, minor);
        header.fields = Fields::parse(lines)?;
        Some(header)
    }

    /// Builds a header from a received status line and the fields as received.
    pub(crate) fn received(
        status: u16,
        reason: &str,
        minor: u32,
        fields: Vec<(String, String)>,
    ) -> Self {
        let mut header = Self::new(status, reason, 1, minor);
        header.fields = Fields(fields);
        header
    }

    /// Sets the status line (Qt's `setStatusLine`); the header becomes valid.
    pub fn set_status_line(&mut self, code: u16, reason: &str, major: u32, minor: u32) {
        self.valid = true;
        self.status = code;
        self.reason = reason.to_owned();
        self.major = major;
        self.minor = minor;
    }

    /// The status code (200, 404, ...).
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// The reason phrase as received (possibly empty).
    pub fn reason_phrase(&self) -> &str {
        &self.reason
    }

    field_methods!();
}

impl fmt::Display for HttpResponseHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP/{}.{} {} {}\r\n",
            self.major, self.minor, self.status, self.reason
        )?;
        self.fields.write(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_value_replaces_the_first_and_drops_duplicates() {
        let mut h = HttpRequestHeader::new("GET", "/");
        h.add_value("Accept", "a");
        h.add_value("X", "1");
        h.add_value("accept", "b");
        h.set_value("ACCEPT", "c");
        assert_eq!(h.keys(), vec!["Accept", "X"]);
        assert_eq!(h.all_values("accept"), vec!["c"]);
        h.remove_all_values("x");
        assert!(!h.has_key("X"));
    }

    #[test]
    fn parse_rejects_malformed_text_and_round_trips() {
        assert!(HttpRequestHeader::parse("GET /").is_none());
        assert!(HttpRequestHeader::parse("GET / HTTP/x").is_none());
        assert!(HttpRequestHeader::parse("GET / HTTP/1.1\r\nno colon\r\n").is_none());
        assert!(HttpResponseHeader::parse("HTTP/1.1 2000 OK\r\n").is_none());
        assert!(HttpResponseHeader::parse("").is_none());
        let text = "HTTP/1.0 200 OK\r\nServer: x\r\n folded\r\n\r\n";
        let h = HttpResponseHeader::parse(text).unwrap();
        assert_eq!(h.value("server"), Some("x folded"));
        assert_eq!(h.to_string(), "HTTP/1.0 200 OK\r\nServer: x folded\r\n\r\n");
        assert!(!HttpResponseHeader::default().is_valid());
    }

    /// Found by the `legacy_header` fuzz target: `020` parsed as status 20, whose text form
    /// (`HTTP/1.1 20 OK`) no longer parsed. A status code is three digits from 100 up, and
    /// numbers are digits only (Rust's integer parser also takes a leading `+`).
    #[test]
    fn status_codes_and_versions_are_plain_digits_and_the_text_form_parses_again() {
        for text in [
            "HTTP/1.1 020 OK\r\n",
            "HTTP/1.1 +20 OK\r\n",
            "HTTP/1.1 099 Low\r\n",
            "HTTP/+1.1 200 OK\r\n",
            "HTTP/1.+1 200 OK\r\n",
        ] {
            assert!(HttpResponseHeader::parse(text).is_none(), "{text:?}");
        }
        assert!(HttpRequestHeader::parse("GET / HTTP/1.+1\r\n").is_none());
        let fuzzed = "HTTP/1.1 101 OK\r\nContent-Length: 5\r\u{b}Content-Type: text/html\r\n\
                      X-Multi: a: b\u{0}";
        let h = HttpResponseHeader::parse(fuzzed).unwrap();
        assert_eq!(HttpResponseHeader::parse(&h.to_string()), Some(h));
    }
}
