//! Client side: decoding the response to a request, incrementally.

use bytes::BytesMut;
use http::{Method, StatusCode, Version};

use super::body::{BodyDecoder, BodyEvent};
use super::fields::FieldSource;
use super::framing::{content_length, transfer_coding, wants_keep_alive, TransferCoding};
use super::parse::{parse_response_head, HeaderSpan};
use super::scan::HeadScan;
use super::{Framing, H1Error, Limits, ResponseEvent, ResponseHead};

/// What about the request changes how its response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    /// HEAD: the response never has a body.
    Head,
    /// CONNECT: a 2xx response turns the connection into a tunnel.
    Connect,
    /// Anything else.
    Other,
}

impl RequestKind {
    fn of(method: &Method) -> Self {
        if method == Method::HEAD {
            RequestKind::Head
        } else if method == Method::CONNECT {
            RequestKind::Connect
        } else {
            RequestKind::Other
        }
    }
}

/// The most interim (1xx) responses accepted before one final response. A server that keeps
/// sending them would otherwise keep the client waiting forever; legitimate servers send one
/// or two (`100 Continue`, `103 Early Hints`). CPython, Ruby and fasthttp stop at 100 too.
pub const MAX_INTERIM_RESPONSES: usize = 100;

#[derive(Debug)]
enum State {
    Head,
    Body(BodyDecoder),
    Done,
    Failed(H1Error),
}

/// Decodes one HTTP/1.x response from bytes fed incrementally.
///
/// Append received bytes to a `BytesMut` and call [`decode`](Self::decode) until it returns
/// `Ok(None)` (more bytes needed). Events come in the order `Interim`* `Head` `Data`* `End`,
/// with at most [`MAX_INTERIM_RESPONSES`] `Interim` events
/// ([`H1Error::TooManyInterimResponses`] beyond).
/// Body data is split off the buffer without copying. When the peer closes the connection,
/// call [`eof`](Self::eof) and keep calling `decode`: a close-delimited body then ends, a
/// truncated one errors.
///
/// After `End`, bytes left in the buffer belong to the next response (call
/// [`reset`](Self::reset) with the next request's method) or, after a 101 or a successful
/// CONNECT ([`is_upgrade`](Self::is_upgrade)), to the new protocol.
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_http::h1::{ResponseDecoder, ResponseEvent};
///
/// let mut decoder = ResponseDecoder::new(&http::Method::GET);
/// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// let Some(ResponseEvent::Head(head)) = decoder.decode(&mut buf)? else { panic!() };
/// assert_eq!(head.status, 200);
/// assert_eq!(decoder.decode(&mut buf)?, Some(ResponseEvent::Data("hi".into())));
/// assert!(matches!(decoder.decode(&mut buf)?, Some(ResponseEvent::End { .. })));
/// assert!(decoder.keep_alive());
/// # Ok::<(), slotnet_http::h1::H1Error>(())
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    limits: Limits,
    request: RequestKind,
    state: State,
    scan: HeadScan,
    spans: Vec<HeaderSpan>,
    framing: Framing,
    keep_alive: bool,
    upgrade: bool,
    eof: bool,
    header_map: bool,
    /// Interim responses received since the last final one.
    interims: usize,
}

impl ResponseDecoder {
    /// A decoder for the response to a request with `request_method`, with default limits.
    pub fn new(request_method: &Method) -> Self {
        Self::with_limits(request_method, Limits::default())
    }

    /// A decoder for the response to a request with `request_method`.
    pub fn with_limits(request_method: &Method, limits: Limits) -> Self {
        ResponseDecoder {
            limits,
            request: RequestKind::of(request_method),
            state: State::Head,
            scan: HeadScan::default(),
            spans: Vec::new(),
            framing: Framing::Empty,
            keep_alive: false,
            upgrade: false,
            eof: false,
            header_map: true,
            interims: 0,
        }
    }

    /// Whether heads carry an `http::HeaderMap` in [`ResponseHead::headers`] (the default) or
    /// only [`ResponseHead::raw`]. A client that keeps the fields as received saves a hash
    /// and an allocation or two per field by turning the map off.
    pub fn set_header_map(&mut self, enabled: bool) {
        self.header_map = enabled;
    }

    /// Prepares for the next response on the same connection (to a request with
    /// `request_method`), keeping the limits and the EOF flag.
    pub fn reset(&mut self, request_method: &Method) {
        self.request = RequestKind::of(request_method);
        self.state = State::Head;
        self.scan.reset();
        self.framing = Framing::Empty;
        self.keep_alive = false;
        self.upgrade = false;
        self.interims = 0;
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Signals that the peer closed the connection: no bytes beyond those already buffered
    /// will arrive.
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Decodes the next event from the front of `buf`, removing the bytes it used.
    ///
    /// `Ok(None)` means more bytes are needed (or, after `End`, that this response is
    /// complete). An error is final: every later call returns it again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, H1Error> {
        let result = self.step(buf);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
            self.keep_alive = false;
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, H1Error> {
        match &mut self.state {
            State::Failed(error) => Err(error.clone()),
            State::Done => Ok(None),
            State::Head => self.decode_head(buf),
            State::Body(body) => match body.decode(buf, self.eof, &self.limits, &mut self.spans)? {
                None => Ok(None),
                Some(BodyEvent::Data(data)) => Ok(Some(ResponseEvent::Data(data))),
                Some(BodyEvent::End(trailers)) => {
                    self.state = State::Done;
                    Ok(Some(ResponseEvent::End { trailers }))
                }
            },
        }
    }

    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, H1Error> {
        let need_more = if self.eof {
            Err(H1Error::IncompleteHead)
        } else {
            Ok(None)
        };
        let limits = &self.limits;
        if !self
            .scan
            .ready(buf, Some(limits.max_start_line), limits.max_head_bytes)?
        {
            return need_more;
        }
        let Some(head) = parse_response_head(buf, limits, &mut self.spans, self.header_map)? else {
            return need_more;
        };
        self.scan.reset();
        if head.status.is_informational() && head.status != StatusCode::SWITCHING_PROTOCOLS {
            if self.interims == MAX_INTERIM_RESPONSES {
                return Err(H1Error::TooManyInterimResponses);
            }
            self.interims += 1;
            return Ok(Some(ResponseEvent::Interim(head.status, head.headers)));
        }
        let (framing, keep_alive, upgrade) = self.framing_of(&head)?;
        self.framing = framing;
        self.keep_alive = keep_alive;
        self.upgrade = upgrade;
        self.state = State::Body(BodyDecoder::new(framing));
        Ok(Some(ResponseEvent::Head(head)))
    }

    /// Body framing, keep-alive and upgrade for a final response (RFC 9112 section 6.3).
    fn framing_of(&self, head: &ResponseHead) -> Result<(Framing, bool, bool), H1Error> {
        let status = head.status;
        if status == StatusCode::SWITCHING_PROTOCOLS
            || (self.request == RequestKind::Connect && status.is_success())
        {
            return Ok((Framing::Empty, false, true));
        }
        let keep_alive = wants_keep_alive(head.version, &head.raw);
        if self.request == RequestKind::Head
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok((Framing::Empty, keep_alive, false));
        }
        match transfer_coding(&head.raw)? {
            TransferCoding::Absent => match content_length(&head.raw)? {
                Some(n) => {
                    if self.limits.max_body.is_some_and(|max| n > max) {
                        return Err(H1Error::BodyTooLarge);
                    }
                    Ok((Framing::Length(n), keep_alive, false))
                }
                None => Ok((Framing::CloseDelimited, false, false)),
            },
            TransferCoding::Chunked | TransferCoding::ChunkedAfterOthers => {
                if head.version == Version::HTTP_10 {
                    return Err(H1Error::InvalidTransferEncoding);
                }
                // Transfer-Encoding overrides Content-Length, but a message carrying both was
                // possibly crafted to desynchronise; don't trust the connection afterwards.
                let both = head.raw.contains(&http::header::CONTENT_LENGTH);
                Ok((Framing::Chunked, keep_alive && !both, false))
            }
        }
    }

    /// Whether the connection can carry another request once this response has ended:
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`, and a
    /// body not delimited by closing. False after an error or an upgrade.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive && !matches!(self.state, State::Failed(_))
    }

    /// Whether the response was a 101 Switching Protocols or a 2xx to CONNECT: the bytes after
    /// its head belong to another protocol and are left in the buffer.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }

    /// How the current response's body is delimited (meaningful after `Head`).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether `End` has been returned for the current response.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}
