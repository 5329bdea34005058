//! Message heads, body lengths and the events the decoders yield.

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use url::{Position, Url};

use super::{ByteStr, RawFields};

/// The head of a request: request line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target exactly as on the wire: origin-form (`/path?query`), absolute-form
    /// (`http://host/path`, to proxies), authority-form (`host:port`, CONNECT) or `*`.
    pub target: ByteStr,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The header fields, in received order.
    pub headers: HeaderMap,
}

/// Which request-target form [`RequestHead::from_url`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the request goes straight to the origin server.
    Origin,
    /// `http://host:port/path?query`: the request goes through an HTTP proxy.
    Absolute,
}

impl RequestHead {
    /// A head with the given method and target, `HTTP/1.1` and no header fields.
    pub fn new(method: Method, target: impl Into<ByteStr>) -> Self {
        RequestHead {
            method,
            target: target.into(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
        }
    }

    /// A head for `url`: the target in the chosen form (user info and fragment left out) and a
    /// `Host` header field (the port only when it is not the scheme's default).
    ///
    /// ```
    /// use slotnet_http::h1::{RequestHead, TargetForm};
    /// let url = url::Url::parse("http://user@example.com:8080/a?b#c").unwrap();
    /// let head = RequestHead::from_url(http::Method::GET, &url, TargetForm::Origin);
    /// assert_eq!(head.target, "/a?b");
    /// assert_eq!(head.headers["host"], "example.com:8080");
    /// ```
    pub fn from_url(method: Method, url: &Url, form: TargetForm) -> Self {
        let authority = &url[Position::BeforeHost..Position::AfterPort];
        let path_and_query = &url[Position::BeforePath..Position::AfterQuery];
        let path_and_query = if path_and_query.is_empty() {
            "/"
        } else {
            path_and_query
        };
        let target = match form {
            TargetForm::Origin => ByteStr::from(path_and_query),
            TargetForm::Absolute => {
                ByteStr::from(format!("{}://{authority}{path_and_query}", url.scheme()))
            }
        };
        let mut head = RequestHead::new(method, target);
        if let Ok(host) = HeaderValue::from_str(authority) {
            head.headers.insert(HOST, host);
        }
        head
    }

    /// A `CONNECT host:port` head (authority-form target and matching `Host`), used to open a
    /// tunnel through a proxy. An IPv6 `host` must be given in brackets.
    pub fn connect(host: &str, port: u16) -> Self {
        let authority = format!("{host}:{port}");
        let mut head = RequestHead::new(Method::CONNECT, authority.clone());
        if let Ok(host) = HeaderValue::from_str(&authority) {
            head.headers.insert(HOST, host);
        }
        head
    }
}

/// The head of a response: status line and header fields.
///
/// Two heads are equal when their status lines and `headers` are; `raw` is not compared (it
/// only adds the case the names were sent in, and is empty in heads built for encoding).
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// `HTTP/1.0` or `HTTP/1.1`. When encoding, this is the version the status line carries;
    /// a server answering an HTTP/1.0 request sets `HTTP_10` so a body of unknown length is
    /// delimited by closing the connection instead of chunked.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as received (possibly empty). When encoding, an empty reason is
    /// replaced by the status code's canonical reason.
    pub reason: ByteStr,
    /// The header fields, in received order. Left empty by a decoder told not to build it
    /// ([`ResponseDecoder::set_header_map`](super::ResponseDecoder::set_header_map)); use
    /// `raw` then.
    pub headers: HeaderMap,
    /// The header fields exactly as received: names in the case they were sent in. Filled
    /// by the decoder; ignored when encoding.
    pub raw: RawFields,
}

impl PartialEq for ResponseHead {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.status == other.status
            && self.reason == other.reason
            && self.headers == other.headers
    }
}

impl Eq for ResponseHead {}

impl ResponseHead {
    /// A `HTTP/1.1` head with the given status, the canonical reason and no header fields.
    pub fn new(status: StatusCode) -> Self {
        ResponseHead {
            version: Version::HTTP_11,
            status,
            reason: ByteStr::from_static(status.canonical_reason().unwrap_or("")),
            headers: HeaderMap::new(),
            raw: RawFields::default(),
        }
    }
}

/// What the sender knows about the length of the body it is about to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all.
    Empty,
    /// Exactly this many bytes: sent with `Content-Length`.
    Known(u64),
    /// Unknown in advance: sent chunked (or, to an HTTP/1.0 client, until the connection
    /// closes).
    Unknown,
}

/// How a body is delimited on the wire.
///
/// The encoders return the framing the body must be written with (for example `Empty` for a
/// response to HEAD even when a length was announced); a [`BodyEncoder`](super::BodyEncoder)
/// applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body bytes follow the head.
    Empty,
    /// Exactly this many bytes follow.
    Length(u64),
    /// The body is a sequence of chunks ending with a zero-size chunk.
    Chunked,
    /// The body runs until the connection is closed.
    CloseDelimited,
}

/// An event produced by [`ResponseDecoder::decode`](super::ResponseDecoder::decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseEvent {
    /// An interim (1xx) response other than 101; the final response follows.
    Interim(StatusCode, HeaderMap),
    /// The head of the final response.
    Head(ResponseHead),
    /// A piece of the body, split off the receive buffer without copying.
    Data(Bytes),
    /// The end of the response.
    End {
        /// Trailer fields of a chunked body (empty otherwise).
        trailers: HeaderMap,
    },
}

/// An event produced by [`RequestDecoder::decode`](super::RequestDecoder::decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// The head of a request.
    Head(RequestHead),
    /// A piece of the body, split off the receive buffer without copying.
    Data(Bytes),
    /// The end of the request.
    End {
        /// Trailer fields of a chunked body (empty otherwise).
        trailers: HeaderMap,
    },
}
