//! Errors of the content decoder.

use std::fmt;

/// A content coding slotnet knows (`identity` is not one: it needs no decoder). Which of them
/// this build decodes depends on the cargo features `gzip`, `brotli` and `zstd`
/// ([`is_available`](Self::is_available)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip` or `x-gzip` (RFC 1952).
    Gzip,
    /// `deflate`: a zlib stream (RFC 1950), or a raw deflate stream as some servers send.
    Deflate,
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878, with the 8 MiB window limit of RFC 9659).
    Zstd,
}

impl Coding {
    /// The coding's token as it appears in `Content-Encoding`/`Accept-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// Whether this build decodes the coding (its cargo feature is on: `gzip` for `gzip` and
    /// `deflate`, `brotli` for `br`, `zstd` for `zstd`).
    pub const fn is_available(self) -> bool {
        match self {
            Coding::Gzip | Coding::Deflate => cfg!(feature = "gzip"),
            Coding::Brotli => cfg!(feature = "brotli"),
            Coding::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// The largest output/input ratio accepted once the safety threshold is passed (Qt 6's
    /// values: 40 for the deflate family, 100 for brotli and zstd).
    pub fn max_ratio(self) -> u64 {
        match self {
            Coding::Gzip | Coding::Deflate => 40,
            Coding::Brotli | Coding::Zstd => 100,
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Why a body could not be decoded.
///
/// A reply that meets one of these ends with `UnknownContentError`, as in Qt. Once a
/// [`ContentDecoder`](super::ContentDecoder) returned an error it keeps returning it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// `Content-Encoding` names a coding slotnet does not implement (e.g. `compress`).
    UnsupportedEncoding(String),
    /// `Content-Encoding` stacks more codings than [`MAX_STACKED_CODINGS`](super::MAX_STACKED_CODINGS).
    TooManyEncodings,
    /// The encoded bytes are not valid for the coding.
    Corrupt {
        /// The coding whose data is malformed.
        coding: Coding,
        /// What is wrong, for logs.
        detail: String,
    },
    /// The body ended before the encoded stream did.
    Truncated(Coding),
    /// The decompressed size passed the safety threshold with an output/input ratio above the
    /// coding's limit: probably a decompression bomb.
    BombSuspected {
        /// Encoded bytes consumed so far.
        input: u64,
        /// Decoded bytes produced so far.
        output: u64,
    },
    /// [`finish`](super::ContentDecoder::finish) was called while decoded bytes were still
    /// waiting to be read with `decode(&[], ..)`.
    OutputPending,
}

impl DecodeError {
    // Used by the decoders, none of which may be compiled in.
    #[cfg_attr(
        not(any(feature = "gzip", feature = "brotli", feature = "zstd")),
        allow(dead_code)
    )]
    pub(crate) fn corrupt(coding: Coding, detail: impl Into<String>) -> Self {
        DecodeError::Corrupt {
            coding,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnsupportedEncoding(c) => write!(f, "unsupported content coding {c:?}"),
            DecodeError::TooManyEncodings => f.write_str("too many stacked content codings"),
            DecodeError::Corrupt { coding, detail } => {
                write!(f, "corrupt {coding} data: {detail}")
            }
            DecodeError::Truncated(c) => write!(f, "{c} stream ended early"),
            DecodeError::BombSuspected { input, output } => write!(
                f,
                "decompression bomb suspected ({input} bytes decompressed to {output})"
            ),
            DecodeError::OutputPending => f.write_str("decoded output was not drained"),
        }
    }
}

impl std::error::Error for DecodeError {}
