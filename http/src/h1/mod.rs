//! A sans-IO HTTP/1.1 codec: bytes in, events out, no sockets.
//!
//! Used by both the client (`NetworkAccessManager`'s HTTP/1 connections) and the server:
//!
//! - client: [`encode_request`] writes a request head, [`BodyEncoder`] (or [`encode_chunk`] /
//!   [`encode_last_chunk`]) the body, and a [`ResponseDecoder`] turns received bytes into
//!   [`ResponseEvent`]s; a [`ClientExchange`] puts them together for one request/response
//!   on a connection (upload accounting, keep-alive, the stale keep-alive resend), which
//!   the legacy `Http` drives;
//! - server: a [`RequestDecoder`] turns received bytes into [`RequestEvent`]s (pipelined
//!   requests back to back), [`encode_response_head`] and [`BodyEncoder`] write the answer,
//!   [`H1Error::status_hint`] tells which status to answer a malformed request with.
//!
//! Decoders are fed through a caller-owned `BytesMut`: append what the socket delivered, call
//! `decode` until it returns `Ok(None)`. Heads are parsed with httparse into a stack array and
//! header values are slices of the received buffer; body data is split off the buffer, never
//! copied. Every size is bounded by [`Limits`]: a decoder errors as soon as the buffered part
//! of a head exceeds them, and malformed input is an [`H1Error`], never a panic.

mod body;
mod bytestr;
mod chunked;
mod client_exchange;
mod date;
mod encode;
mod error;
mod fields;
mod framing;
mod limits;
mod parse;
mod request;
mod response;
mod scan;
mod types;

#[cfg(test)]
mod tests;

pub use bytestr::ByteStr;
pub use client_exchange::{ClientExchange, ExchangeError};
pub use date::{date_header_value, fmt_http_date};
pub use encode::{
    encode_chunk, encode_chunk_header, encode_continue, encode_last_chunk,
    encode_last_chunk_with_trailers, encode_request, encode_response_head, BodyEncoder,
};
pub use error::H1Error;
pub use fields::RawFields;
pub use limits::Limits;
pub use request::RequestDecoder;
pub use response::{ResponseDecoder, MAX_INTERIM_RESPONSES};
pub use types::{
    BodyLength, Framing, RequestEvent, RequestHead, ResponseEvent, ResponseHead, TargetForm,
};
