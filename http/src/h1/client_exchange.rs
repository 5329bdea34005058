//! Client side: one request/response exchange on a connection, without the connection.
//!
//! A [`ClientExchange`] is what an HTTP/1.1 client does for one request (the legacy
//! [`Http`](crate::legacy::Http) drives it; the access manager's connections, which still
//! keep their own copy of this logic, are to follow), as a state machine fed with bytes and
//! byte counts: it encodes the request head and body into buffers the caller
//! writes, accounts the bytes the transport reports written (upload progress, whether the
//! request is completely sent, what belongs to requests written behind it), decodes the
//! response into [`ResponseEvent`]s, and decides the two things that follow from all of it:
//! whether the connection can carry another request ([`ClientExchange::keep_alive`]), and,
//! when the connection closes before any byte of the response, whether to send the request
//! again on a new one ([`ExchangeError::Resend`]: a keep-alive connection the server timed
//! out just as the request went out).
//!
//! ```
//! use bytes::BytesMut;
//! use slotnet_http::h1::{BodyLength, ClientExchange, RequestHead, ResponseEvent};
//!
//! let head = RequestHead::new(http::Method::GET, "/");
//! let mut exchange = ClientExchange::new(&head.method, false, true);
//! let mut out = BytesMut::new();
//! exchange.start(&head, BodyLength::Empty, &mut out);
//! // ... the caller writes `out`; the transport reports the bytes written:
//! assert_eq!(exchange.bytes_written(out.len() as u64), 0);
//! assert!(exchange.is_sent());
//! let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
//! assert!(matches!(exchange.decode(&mut input)?, Some(ResponseEvent::Head(_))));
//! assert_eq!(exchange.decode(&mut input)?, Some(ResponseEvent::Data("hi".into())));
//! assert!(matches!(exchange.decode(&mut input)?, Some(ResponseEvent::End { .. })));
//! assert!(exchange.keep_alive());
//! # Ok::<(), slotnet_http::h1::ExchangeError>(())
//! ```

use std::fmt;

use bytes::{Bytes, BytesMut};
use http::header::CONNECTION;
use http::Method;

use super::framing::has_token;
use super::{
    encode_request, BodyEncoder, BodyLength, Framing, H1Error, Limits, RequestHead,
    ResponseDecoder, ResponseEvent,
};

/// Where the request's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upload {
    /// Nothing encoded yet ([`ClientExchange::start`] not called).
    NotStarted,
    /// The head is encoded; body pieces may follow until [`ClientExchange::finish_body`].
    Body,
    /// Everything is encoded; some of it may still wait in the transport.
    Encoded,
    /// The server answered before the request was completely written: the rest is not sent.
    Stopped,
}

/// Why an exchange ended without a complete response. Every variant but `Resend` leaves the
/// connection unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeError {
    /// The connection closed before any byte of the response, and it had carried a request
    /// before (a keep-alive connection the server timed out as the request went out), and
    /// the request may be sent again: send it once more, on a new connection.
    Resend,
    /// The connection closed before any byte of the response (and the request is not to be
    /// sent again).
    ClosedBeforeResponse,
    /// The connection closed in the middle of the response: a partial head
    /// ([`H1Error::IncompleteHead`]) or a body shorter than announced
    /// ([`H1Error::TruncatedBody`]).
    Truncated(H1Error),
    /// The response is malformed (status line, header fields, framing, chunked body) or
    /// exceeds the decoder's [`Limits`].
    Malformed(H1Error),
}

impl ExchangeError {
    /// The codec error behind it (`None` for a close before the response).
    pub fn h1_error(&self) -> Option<&H1Error> {
        match self {
            ExchangeError::Resend | ExchangeError::ClosedBeforeResponse => None,
            ExchangeError::Truncated(e) | ExchangeError::Malformed(e) => Some(e),
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Resend => f.write_str("stale keep-alive connection: send again"),
            ExchangeError::ClosedBeforeResponse => {
                f.write_str("connection closed before the response")
            }
            ExchangeError::Truncated(e) | ExchangeError::Malformed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExchangeError {}

/// One HTTP/1.1 request and its response on a connection, socket-free: bytes and byte counts
/// in, buffers to write and [`ResponseEvent`]s out.
///
/// The caller (the connection):
/// 1. [`start`](Self::start)s the request, writing the head into a buffer, then gives the
///    body with [`send_body`](Self::send_body) and [`finish_body`](Self::finish_body) (at its
///    own pace, e.g. while the transport's queue is short), writing what they return;
/// 2. reports the transport's written byte counts to [`bytes_written`](Self::bytes_written),
///    which says how many belong to requests written behind this one;
/// 3. appends received bytes to a buffer and calls [`decode`](Self::decode) until it returns
///    `Ok(None)`; when the peer closes, calls [`closed`](Self::closed) and decodes again (a
///    close-delimited body ends, anything else that was cut short is an error);
/// 4. after `End`, asks [`keep_alive`](Self::keep_alive) whether the connection may carry
///    the next request, and [`reuse`](Self::reuse)s the exchange for it.
///
/// Bad input never panics: a malformed response is an [`ExchangeError::Malformed`], and
/// every size is bounded by the decoder's [`Limits`].
#[derive(Debug)]
pub struct ClientExchange {
    decoder: ResponseDecoder,
    encoder: BodyEncoder,
    upload: Upload,
    /// Length of the encoded head.
    head_len: u64,
    /// Bytes of this request encoded so far (head, framing and body).
    queued: u64,
    /// Bytes of this request the transport reported written.
    written: u64,
    /// The connection carried a request before this one.
    reused: bool,
    /// The request may be sent again if the connection turns out stale.
    resendable: bool,
    /// The request asked for `Connection: close`.
    close_requested: bool,
    /// A byte of the response was seen.
    received: bool,
    /// The final response's head was decoded.
    head_seen: bool,
}

impl ClientExchange {
    /// An exchange for a request with `method`; `reused`: the connection carried a request
    /// before; `resendable`: the request may be sent again on a new connection if this one
    /// turns out stale (its body can be replayed, and it was not resent already).
    pub fn new(method: &Method, reused: bool, resendable: bool) -> Self {
        Self::with_decoder(ResponseDecoder::new(method), reused, resendable)
    }

    /// [`ClientExchange::new`] with a decoder of the caller's, made for the request's method
    /// (its own [`Limits`], or no `HeaderMap` in heads: [`ResponseDecoder::set_header_map`]).
    pub fn with_decoder(decoder: ResponseDecoder, reused: bool, resendable: bool) -> Self {
        ClientExchange {
            decoder,
            encoder: BodyEncoder::new(Framing::Empty),
            upload: Upload::NotStarted,
            head_len: 0,
            queued: 0,
            written: 0,
            reused,
            resendable,
            close_requested: false,
            received: false,
            head_seen: false,
        }
    }

    /// [`ClientExchange::new`] with the decoder's limits.
    pub fn with_limits(method: &Method, limits: Limits, reused: bool, resendable: bool) -> Self {
        Self::with_decoder(
            ResponseDecoder::with_limits(method, limits),
            reused,
            resendable,
        )
    }

    /// Prepares the next exchange on the same connection (a request with `method`), keeping
    /// the decoder's limits, buffers and whether the peer closed.
    pub fn reuse(&mut self, method: &Method, reused: bool, resendable: bool) {
        self.decoder.reset(method);
        self.encoder = BodyEncoder::new(Framing::Empty);
        self.upload = Upload::NotStarted;
        self.head_len = 0;
        self.queued = 0;
        self.written = 0;
        self.reused = reused;
        self.resendable = resendable;
        self.close_requested = false;
        self.received = false;
        self.head_seen = false;
    }

    /// Encodes the request head into `out` and returns the framing the body will be sent
    /// with. Without a body (`BodyLength::Empty`) the request is completely encoded;
    /// otherwise its body follows through [`send_body`](Self::send_body) and
    /// [`finish_body`](Self::finish_body).
    pub fn start(&mut self, head: &RequestHead, body: BodyLength, out: &mut BytesMut) -> Framing {
        let before = out.len();
        let framing = encode_request(head, body, out);
        self.head_len = (out.len() - before) as u64;
        self.queued = self.head_len;
        self.encoder = BodyEncoder::new(framing);
        self.close_requested = has_token(&head.headers, &CONNECTION, "close");
        self.upload = if body == BodyLength::Empty {
            Upload::Encoded
        } else {
            Upload::Body
        };
        framing
    }

    /// Queues a piece of the body: chunk framing goes into `out`, and the data itself is
    /// returned, uncopied, to be written after `out` (`None`: nothing more to write, for a
    /// chunked body whose piece went into `out`, or a body the framing drops). A piece past
    /// the announced `Content-Length`, or one after the body ended or was stopped, is an
    /// error and queues nothing.
    pub fn send_body(&mut self, data: Bytes, out: &mut BytesMut) -> Result<Option<Bytes>, H1Error> {
        if self.upload != Upload::Body {
            return Err(self.late_body(data.len() as u64));
        }
        let before = out.len();
        let pass = self.encoder.pass_through(data.len() as u64)?;
        let data = if pass {
            self.queued += data.len() as u64;
            Some(data).filter(|d| !d.is_empty())
        } else {
            self.encoder.encode(&data, out)?;
            None
        };
        self.queued += (out.len() - before) as u64;
        Ok(data)
    }

    /// Ends the body: the last chunk of a chunked body goes into `out`; a `Content-Length`
    /// body that is short is an error.
    pub fn finish_body(&mut self, out: &mut BytesMut) -> Result<(), H1Error> {
        if self.upload != Upload::Body {
            return Ok(());
        }
        let before = out.len();
        self.encoder.finish(out)?;
        self.queued += (out.len() - before) as u64;
        self.upload = Upload::Encoded;
        Ok(())
    }

    fn late_body(&self, len: u64) -> H1Error {
        H1Error::BodyLengthMismatch {
            declared: self.encoder.written(),
            written: self.encoder.written().saturating_add(len),
        }
    }

    /// Accounts `n` bytes the transport reported written, and returns how many of them
    /// were not this request's (they belong to requests written behind it).
    pub fn bytes_written(&mut self, n: u64) -> u64 {
        let own = n.min(self.queued - self.written);
        self.written += own;
        n - own
    }

    /// Whether the request is completely encoded and written (or was stopped by an early
    /// response).
    pub fn is_sent(&self) -> bool {
        match self.upload {
            Upload::Encoded => self.written == self.queued,
            Upload::Stopped => true,
            Upload::NotStarted | Upload::Body => false,
        }
    }

    /// Whether more body is wanted: the head went out, the body has not ended and no
    /// response stopped it.
    pub fn wants_body(&self) -> bool {
        self.upload == Upload::Body
    }

    /// Whether the server answered before the request was completely written (its body is
    /// then not sent further, and the connection cannot be reused).
    pub fn upload_stopped(&self) -> bool {
        self.upload == Upload::Stopped
    }

    /// Bytes of the request written so far, head included.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes of the request body written so far (framing of a chunked body included).
    pub fn body_written(&self) -> u64 {
        self.written.saturating_sub(self.head_len)
    }

    /// Bytes of this request handed out to be written and not yet reported written.
    pub fn unwritten(&self) -> u64 {
        self.queued - self.written
    }

    /// The request's whole size on the wire, head included, when it is known in advance:
    /// `None` for a chunked body.
    pub fn send_total(&self) -> Option<u64> {
        match self.encoder.framing() {
            Framing::Empty => Some(self.head_len),
            Framing::Length(n) => Some(self.head_len + n),
            Framing::Chunked | Framing::CloseDelimited => None,
        }
    }

    /// Whether the final response's head was decoded.
    pub fn response_started(&self) -> bool {
        self.head_seen
    }

    /// Decodes the next event from the front of `buf` (the bytes received, appended by the
    /// caller), removing the bytes it used. `Ok(None)`: more bytes are needed, or the
    /// response has ended.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, ExchangeError> {
        self.received |= !buf.is_empty();
        match self.decoder.decode(buf) {
            Ok(Some(ResponseEvent::Head(head))) => {
                self.head_seen = true;
                if !self.is_sent() {
                    // The server answered early (413, 401, a redirect): the rest of the
                    // request is not sent, and the connection is not reused.
                    self.upload = Upload::Stopped;
                }
                Ok(Some(ResponseEvent::Head(head)))
            }
            Ok(event) => Ok(event),
            Err(H1Error::IncompleteHead) if !self.received => Err(if self.resend_on_loss() {
                ExchangeError::Resend
            } else {
                ExchangeError::ClosedBeforeResponse
            }),
            Err(e @ (H1Error::IncompleteHead | H1Error::TruncatedBody)) => {
                Err(ExchangeError::Truncated(e))
            }
            Err(e) => Err(ExchangeError::Malformed(e)),
        }
    }

    /// The peer closed the connection: no bytes will arrive beyond those received. Decode
    /// the rest: a close-delimited body ends, a cut one is an error, and with nothing
    /// received at all the error says whether to send the request again.
    pub fn closed(&mut self) {
        self.decoder.eof();
    }

    /// Whether the request should be sent again on a new connection if this one is lost now
    /// (closed, or reset): it was reused, nothing of the response came, and the request may
    /// be resent.
    pub fn resend_on_loss(&self) -> bool {
        self.reused && self.resendable && !self.received
    }

    /// Whether the connection may carry another request after this response: the response
    /// allows it (HTTP/1.1 without `Connection: close`, HTTP/1.0 with `keep-alive`, a body
    /// not delimited by the close), the request did not ask for `Connection: close`, and it
    /// was completely sent.
    pub fn keep_alive(&self) -> bool {
        self.decoder.keep_alive() && !self.close_requested && self.upload == Upload::Encoded
    }

    /// How the response body is delimited (meaningful after the head).
    pub fn response_framing(&self) -> Framing {
        self.decoder.framing()
    }

    /// Whether the response has ended.
    pub fn is_done(&self) -> bool {
        self.decoder.is_done()
    }
}

#[cfg(test)]
mod tests;
