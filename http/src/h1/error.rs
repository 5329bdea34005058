//! Errors of the HTTP/1.1 codec and the status a server answers them with.

use std::fmt;

use http::StatusCode;

/// Everything that can go wrong while decoding (or, for the few encoder checks, encoding) an
/// HTTP/1.1 message.
///
/// Every malformed input has its own variant so callers (and tests) can tell them apart; a
/// server maps an error to its answer with [`H1Error::status_hint`]. After a decoder returned
/// an error it keeps returning the same error: the connection's framing is lost and it must be
/// closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H1Error {
    /// The request line or status line is longer than `Limits::max_start_line`.
    StartLineTooLong,
    /// The head (start line plus header fields) or a trailer section is larger than
    /// `Limits::max_head_bytes`.
    HeadersTooLarge,
    /// The head or trailer section has more fields than `Limits::max_headers`.
    TooManyHeaders,
    /// The bytes where a status line was expected are not one (e.g. an HTML page, or a
    /// non-numeric status code).
    InvalidStatusLine,
    /// The request line is malformed (bad method token, missing target, bad version token).
    InvalidRequestLine,
    /// The message claims an HTTP version other than 1.0 or 1.1 (e.g. `HTTP/2.0`).
    UnsupportedVersion,
    /// A header field has an invalid name, value or line ending.
    InvalidHeader,
    /// A `Content-Length` value is not a non-negative decimal number that fits in 64 bits.
    InvalidContentLength,
    /// Several `Content-Length` values disagree.
    ConflictingContentLength,
    /// A request carries both `Transfer-Encoding` and `Content-Length` (a request smuggling
    /// pattern, rejected as RFC 9112 section 6.3 permits).
    TransferEncodingWithContentLength,
    /// `Transfer-Encoding` is malformed: `chunked` is not the final coding, appears twice, the
    /// list is empty, or the message is HTTP/1.0 (which has no transfer codings).
    InvalidTransferEncoding,
    /// A request uses a transfer coding other than `chunked` alone; the server does not
    /// implement it.
    UnsupportedTransferEncoding,
    /// An HTTP/1.1 request has no `Host` header field, or more than one.
    InvalidHost,
    /// A chunk-size is missing or contains a non-hexadecimal character.
    InvalidChunkSize,
    /// A chunk-size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size line (size plus extensions) is longer than `Limits::max_chunk_line`.
    ChunkLineTooLong,
    /// Chunk data is not followed by CRLF.
    InvalidChunkTerminator,
    /// A trailer field is malformed.
    InvalidTrailer,
    /// The body is larger than `Limits::max_body`.
    BodyTooLarge,
    /// More than [`MAX_INTERIM_RESPONSES`](super::MAX_INTERIM_RESPONSES) interim (1xx)
    /// responses came before the final response.
    TooManyInterimResponses,
    /// The connection closed before a complete message head arrived.
    IncompleteHead,
    /// The connection closed before the end of a `Content-Length` or chunked body.
    TruncatedBody,
    /// Encoder: the body written does not match the length announced in the head.
    BodyLengthMismatch {
        /// The length announced in the head.
        declared: u64,
        /// The number of bytes written (so far, if too many).
        written: u64,
    },
}

impl H1Error {
    /// The status code a server should answer this error with before closing the connection.
    ///
    /// Errors that only occur on the client side or on EOF map to 400 as well; a client never
    /// answers them.
    pub fn status_hint(&self) -> StatusCode {
        match self {
            H1Error::StartLineTooLong => StatusCode::URI_TOO_LONG,
            H1Error::HeadersTooLarge | H1Error::TooManyHeaders => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            H1Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            H1Error::UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            H1Error::UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            H1Error::BodyLengthMismatch { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for H1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            H1Error::StartLineTooLong => "request or status line too long",
            H1Error::HeadersTooLarge => "header section too large",
            H1Error::TooManyHeaders => "too many header fields",
            H1Error::InvalidStatusLine => "invalid HTTP status line",
            H1Error::InvalidRequestLine => "invalid HTTP request line",
            H1Error::UnsupportedVersion => "unsupported HTTP version",
            H1Error::InvalidHeader => "invalid header field",
            H1Error::InvalidContentLength => "invalid Content-Length",
            H1Error::ConflictingContentLength => "conflicting Content-Length values",
            H1Error::TransferEncodingWithContentLength => {
                "request has both Transfer-Encoding and Content-Length"
            }
            H1Error::InvalidTransferEncoding => "invalid Transfer-Encoding",
            H1Error::UnsupportedTransferEncoding => "unsupported transfer coding",
            H1Error::InvalidHost => "missing or duplicate Host header",
            H1Error::InvalidChunkSize => "invalid chunk size",
            H1Error::ChunkSizeOverflow => "chunk size too large",
            H1Error::ChunkLineTooLong => "chunk size line too long",
            H1Error::InvalidChunkTerminator => "chunk data not followed by CRLF",
            H1Error::InvalidTrailer => "invalid trailer field",
            H1Error::BodyTooLarge => "message body too large",
            H1Error::TooManyInterimResponses => "too many interim (1xx) responses",
            H1Error::IncompleteHead => "connection closed before a complete message head",
            H1Error::TruncatedBody => "connection closed before the end of the message body",
            H1Error::BodyLengthMismatch { declared, written } => {
                return write!(
                    f,
                    "body length mismatch: declared {declared} bytes, wrote {written}"
                );
            }
        };
        f.write_str(text)
    }
}

impl std::error::Error for H1Error {}
