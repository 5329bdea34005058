//! QPACK (RFC 9204), sans-IO: a decoder that keeps the dynamic table the peer's encoder
//! builds on its encoder stream, and a static-table-only encoder (allowed by the RFC: it
//! never inserts, so it never blocks a peer's stream and needs no acknowledgments).

mod decoder;
mod encoder;
mod huffman;
mod huffman_table;
mod prefix_int;
mod static_table;

pub(crate) use decoder::{Decoder, FieldSection};
pub(crate) use encoder::encode_field_section;

use std::fmt;

/// A QPACK error, with the HTTP/3 error code the connection closes with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QpackError {
    /// A field section could not be decoded (QPACK_DECOMPRESSION_FAILED, 0x200).
    Decompression(&'static str),
    /// An encoder stream instruction was invalid (QPACK_ENCODER_STREAM_ERROR, 0x201).
    EncoderStream(&'static str),
    /// A field section needs dynamic table entries not received yet, and this decoder
    /// allows no blocked streams (SETTINGS_QPACK_BLOCKED_STREAMS 0).
    Blocked,
}

impl QpackError {
    /// The HTTP/3 error code (RFC 9204 section 6).
    pub(crate) fn code(&self) -> u64 {
        match self {
            QpackError::Decompression(_) | QpackError::Blocked => 0x200,
            QpackError::EncoderStream(_) => 0x201,
        }
    }
}

impl fmt::Display for QpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QpackError::Decompression(why) => write!(f, "QPACK decompression failed: {why}"),
            QpackError::EncoderStream(why) => write!(f, "QPACK encoder stream error: {why}"),
            QpackError::Blocked => {
                f.write_str("QPACK field section references entries not received")
            }
        }
    }
}

impl std::error::Error for QpackError {}
