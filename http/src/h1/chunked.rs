//! Incremental decoder for the chunked transfer coding (RFC 9112 section 7.1).
//!
//! Chunk-size lines are parsed one byte at a time through a small state machine, so a line
//! split anywhere between two reads costs nothing extra; chunk data is split off the buffer
//! without copying. Line endings inside the framing must be CRLF: accepting a bare LF here is
//! a known request-smuggling vector.

use bytes::{Buf, BytesMut};

use super::body::BodyEvent;
use super::parse::{parse_trailers, HeaderSpan};
use super::scan::HeadScan;
use super::{H1Error, Limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk-size.
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    /// Chunk extensions, skipped up to CR.
    Extension,
    /// The LF ending a chunk-size line.
    SizeLf,
    /// Chunk data; `ChunkedDecoder::remaining` bytes left.
    Data,
    /// The CR after chunk data.
    DataCr,
    /// The LF after chunk data.
    DataLf,
    /// The trailer section after the last chunk.
    Trailers,
    /// The body is complete.
    Done,
}

/// Decoder state for one chunked body.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Size being parsed, then data bytes left in the current chunk.
    remaining: u64,
    /// Hex digits seen in the current chunk-size.
    digits: usize,
    /// Bytes seen in the current chunk-size line.
    line_len: usize,
    /// Sum of all chunk sizes so far, checked against `Limits::max_body`.
    total: u64,
    trailer_scan: HeadScan,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            digits: 0,
            line_len: 0,
            total: 0,
            trailer_scan: HeadScan::default(),
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
        let need_more = || {
            if eof {
                Err(H1Error::TruncatedBody)
            } else {
                Ok(None)
            }
        };
        loop {
            match self.state {
                State::Data => {
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                        continue;
                    }
                    if buf.is_empty() {
                        return need_more();
                    }
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    self.remaining -= n as u64;
                    return Ok(Some(BodyEvent::Data(buf.split_to(n).freeze())));
                }
                State::Trailers => {
                    if !self.trailer_scan.ready(buf, None, limits.max_head_bytes)? {
                        return need_more();
                    }
                    return match parse_trailers(buf, limits, spans)? {
                        Some(trailers) => {
                            self.state = State::Done;
                            Ok(Some(BodyEvent::End(trailers)))
                        }
                        None => need_more(),
                    };
                }
                State::Done => return Ok(None),
                _ => {
                    let consumed = self.read_framing(buf, limits)?;
                    buf.advance(consumed);
                    if !matches!(self.state, State::Data | State::Trailers) {
                        return need_more();
                    }
                }
            }
        }
    }

    /// Runs the framing state machine over `bytes` until it reaches chunk data or the trailer
    /// section, or the bytes run out. Returns how many bytes it consumed.
    fn read_framing(&mut self, bytes: &[u8], limits: &Limits) -> Result<usize, H1Error> {
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(
                self.state,
                State::Size | State::SizeSpace | State::Extension | State::SizeLf
            ) {
                self.line_len += 1;
                if self.line_len > limits.max_chunk_line {
                    return Err(H1Error::ChunkLineTooLong);
                }
            }
            self.state = match (self.state, b) {
                (State::Size, _) if b.is_ascii_hexdigit() => {
                    let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                    self.remaining = self
                        .remaining
                        .checked_mul(16)
                        .and_then(|n| n.checked_add(digit))
                        .ok_or(H1Error::ChunkSizeOverflow)?;
                    self.digits += 1;
                    State::Size
                }
                (State::Size, _) if self.digits == 0 => return Err(H1Error::InvalidChunkSize),
                (State::Size | State::SizeSpace, b' ' | b'\t') => State::SizeSpace,
                (State::Size | State::SizeSpace, b';') => State::Extension,
                (State::Size | State::SizeSpace | State::Extension, b'\r') => State::SizeLf,
                (State::Size | State::SizeSpace, _) => return Err(H1Error::InvalidChunkSize),
                // A bare LF inside an extension would end the line for lenient parsers only.
                (State::Extension, b'\n') => return Err(H1Error::InvalidChunkSize),
                (State::Extension, _) => State::Extension,
                (State::SizeLf, b'\n') => {
                    let next = self.end_size_line(limits)?;
                    self.state = next;
                    return Ok(i + 1);
                }
                (State::SizeLf, _) => return Err(H1Error::InvalidChunkSize),
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => {
                    self.remaining = 0;
                    self.digits = 0;
                    self.line_len = 0;
                    State::Size
                }
                (State::DataCr | State::DataLf, _) => return Err(H1Error::InvalidChunkTerminator),
                (State::Data | State::Trailers | State::Done, _) => return Ok(i),
            };
        }
        Ok(bytes.len())
    }

    /// A chunk-size line is complete: the state that follows it.
    fn end_size_line(&mut self, limits: &Limits) -> Result<State, H1Error> {
        if self.remaining == 0 {
            self.trailer_scan.reset();
            return Ok(State::Trailers);
        }
        self.total = self
            .total
            .checked_add(self.remaining)
            .ok_or(H1Error::BodyTooLarge)?;
        if limits.max_body.is_some_and(|max| self.total > max) {
            return Err(H1Error::BodyTooLarge);
        }
        Ok(State::Data)
    }
}
