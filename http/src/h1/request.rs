//! Server side: decoding requests, incrementally and back to back (pipelining).

use bytes::BytesMut;
use http::header::CONTENT_LENGTH;
use http::Version;

use super::body::{BodyDecoder, BodyEvent};
use super::framing::{
    content_length, expects_continue, has_single_host, transfer_coding, wants_keep_alive,
    TransferCoding,
};
use super::parse::{parse_request_head, HeaderSpan};
use super::scan::HeadScan;
use super::{Framing, H1Error, Limits, RequestEvent, RequestHead};

#[derive(Debug)]
enum State {
    /// Waiting for (the rest of) a request head.
    Head,
    Body(BodyDecoder),
    /// The last request asked to close the connection, or the peer closed it.
    Closed,
    Failed(H1Error),
}

/// Decodes the requests arriving on one connection, from bytes fed incrementally.
///
/// Append received bytes to a `BytesMut` and call [`decode`](Self::decode) until it returns
/// `Ok(None)`. Each request yields `Head` `Data`* `End`; after `End` the next (pipelined)
/// request is decoded from the remaining bytes, unless the request asked to close the
/// connection. On an error, answer [`H1Error::status_hint`] and close the connection.
///
/// A server that answers a request with 101 Switching Protocols, or opens a CONNECT tunnel,
/// stops calling `decode` after that request's `End`: the bytes left in the buffer belong to
/// the new protocol.
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_http::h1::{RequestDecoder, RequestEvent};
///
/// let mut decoder = RequestDecoder::new();
/// let mut buf = BytesMut::from(&b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
/// let mut targets = Vec::new();
/// while let Some(event) = decoder.decode(&mut buf)? {
///     if let RequestEvent::Head(head) = event {
///         targets.push(head.target.to_string());
///     }
/// }
/// assert_eq!(targets, ["/a", "/b"]);
/// # Ok::<(), slotnet_http::h1::H1Error>(())
/// ```
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    state: State,
    scan: HeadScan,
    spans: Vec<HeaderSpan>,
    framing: Framing,
    keep_alive: bool,
    expects_continue: bool,
    eof: bool,
}

impl Default for RequestDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestDecoder {
    /// A decoder with default limits (no body size limit).
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        RequestDecoder {
            limits,
            state: State::Head,
            scan: HeadScan::default(),
            spans: Vec::new(),
            framing: Framing::Empty,
            keep_alive: true,
            expects_continue: false,
            eof: false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Signals that the client closed (its sending side of) the connection.
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Decodes the next event from the front of `buf`, removing the bytes it used.
    ///
    /// `Ok(None)` means more bytes are needed, or that no further request will be decoded
    /// (the connection closed cleanly between requests, or the last request did not allow
    /// keep-alive). An error is final: every later call returns it again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, H1Error> {
        let result = self.step(buf);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
            self.keep_alive = false;
            self.expects_continue = false;
        }
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, H1Error> {
        match &mut self.state {
            State::Failed(error) => Err(error.clone()),
            State::Closed => Ok(None),
            State::Head => self.decode_head(buf),
            State::Body(body) => match body.decode(buf, self.eof, &self.limits, &mut self.spans)? {
                None => Ok(None),
                Some(BodyEvent::Data(data)) => Ok(Some(RequestEvent::Data(data))),
                Some(BodyEvent::End(trailers)) => {
                    self.expects_continue = false;
                    self.scan.reset();
                    self.state = if self.keep_alive {
                        State::Head
                    } else {
                        State::Closed
                    };
                    Ok(Some(RequestEvent::End { trailers }))
                }
            },
        }
    }

    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, H1Error> {
        let limits = &self.limits;
        let ready = self
            .scan
            .ready(buf, Some(limits.max_start_line), limits.max_head_bytes)?;
        let head = if ready {
            parse_request_head(buf, limits, &mut self.spans)?
        } else {
            None
        };
        let Some(head) = head else {
            if !self.eof {
                return Ok(None);
            }
            // Empty lines between requests are ignored (RFC 9112 section 2.2), so a close
            // after them is still a clean close.
            if buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                self.state = State::Closed;
                return Ok(None);
            }
            return Err(H1Error::IncompleteHead);
        };
        if head.version == Version::HTTP_11 && !has_single_host(&head.headers) {
            return Err(H1Error::InvalidHost);
        }
        let framing = self.framing_of(&head)?;
        self.framing = framing;
        self.keep_alive = wants_keep_alive(head.version, &head.headers);
        self.expects_continue =
            framing != Framing::Empty && expects_continue(head.version, &head.headers);
        self.state = State::Body(BodyDecoder::new(framing));
        Ok(Some(RequestEvent::Head(head)))
    }

    /// Body framing of a request (RFC 9112 section 6.3): chunked, `Content-Length` or none.
    fn framing_of(&self, head: &RequestHead) -> Result<Framing, H1Error> {
        match transfer_coding(&head.headers)? {
            TransferCoding::Absent => match content_length(&head.headers)? {
                Some(n) if self.limits.max_body.is_some_and(|max| n > max) => {
                    Err(H1Error::BodyTooLarge)
                }
                Some(n) => Ok(Framing::Length(n)),
                None => Ok(Framing::Empty),
            },
            _ if head.version == Version::HTTP_10 => Err(H1Error::InvalidTransferEncoding),
            _ if head.headers.contains_key(CONTENT_LENGTH) => {
                Err(H1Error::TransferEncodingWithContentLength)
            }
            TransferCoding::Chunked => Ok(Framing::Chunked),
            TransferCoding::ChunkedAfterOthers => Err(H1Error::UnsupportedTransferEncoding),
        }
    }

    /// Whether the current request sent `Expect: 100-continue` and its body has not ended: the
    /// client waits for `100 Continue` (see [`encode_continue`](super::encode_continue))
    /// before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// Whether the client allows another request on this connection after the current one:
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    /// False after an error.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive && !matches!(self.state, State::Failed(_))
    }

    /// How the current request's body is delimited (meaningful after `Head`).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Whether the decoder is between requests with no byte of a next request examined yet
    /// (the moment an idle timeout applies).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && !self.scan.started()
    }

    /// Whether no further request will be decoded (the client closed the connection or the
    /// last request asked to close it).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }
}
