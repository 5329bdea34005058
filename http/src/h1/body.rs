//! Body decoding shared by the request and response decoders: no body, `Content-Length`,
//! chunked, or (responses only) delimited by the connection closing.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use super::chunked::ChunkedDecoder;
use super::parse::HeaderSpan;
use super::{Framing, H1Error, Limits};

/// What a body decoder produced.
#[derive(Debug)]
pub(crate) enum BodyEvent {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete; trailer fields (empty unless chunked).
    End(HeaderMap),
}

/// The decoder for one message body.
#[derive(Debug, Clone)]
pub(crate) enum BodyDecoder {
    /// No body: ends at once.
    Empty,
    /// `Content-Length`: this many bytes left.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Box<ChunkedDecoder>),
    /// Until EOF; counts bytes received against `Limits::max_body`.
    Close(u64),
}

impl BodyDecoder {
    /// The decoder for a body framed as `framing`.
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::Empty => BodyDecoder::Empty,
            Framing::Length(n) => BodyDecoder::Length(n),
            Framing::Chunked => BodyDecoder::Chunked(Box::new(ChunkedDecoder::new())),
            Framing::CloseDelimited => BodyDecoder::Close(0),
        }
    }

    /// Decodes the next piece of the body from `buf`; `eof` tells that no more bytes will come.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
        limits: &Limits,
        spans: &mut Vec<HeaderSpan>,
    ) -> Result<Option<BodyEvent>, H1Error> {
        match self {
            BodyDecoder::Empty | BodyDecoder::Length(0) => {
                Ok(Some(BodyEvent::End(HeaderMap::new())))
            }
            BodyDecoder::Length(remaining) => {
                if buf.is_empty() {
                    return if eof {
                        Err(H1Error::TruncatedBody)
                    } else {
                        Ok(None)
                    };
                }
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                *remaining -= n as u64;
                Ok(Some(BodyEvent::Data(buf.split_to(n).freeze())))
            }
            BodyDecoder::Chunked(chunked) => chunked.decode(buf, eof, limits, spans),
            BodyDecoder::Close(received) => {
                if buf.is_empty() {
                    return Ok(eof.then(|| BodyEvent::End(HeaderMap::new())));
                }
                *received = received.saturating_add(buf.len() as u64);
                if limits.max_body.is_some_and(|max| *received > max) {
                    return Err(H1Error::BodyTooLarge);
                }
                Ok(Some(BodyEvent::Data(buf.split().freeze())))
            }
        }
    }
}
