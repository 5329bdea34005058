//! HTTP/3 (RFC 9114) wire format, sans-IO: frames and QPACK (RFC 9204).
//!
//! Written here rather than taken from the `h3` crate: `h3` runs on async traits of its own
//! (poll-based QUIC streams with wakers), which would need an adapter and futures between
//! slotnet's signal-driven QUIC connection and the exchange code, and its QPACK decoder
//! refuses a dynamic table (it advertises capacity 0), while RFC 9204 interop asks ours to
//! accept one. The wire format is small and stateless apart from QPACK's table, which
//! matches the project's sans-IO codecs (h1, the HTTP/2 frame checks).
//!
//! Not yet used by a client or server: the QUIC streams carrying it are
//! `slotnet_net::quic`; the request/response exchange on them is the next step.

pub(crate) mod frame;
pub(crate) mod qpack;
pub(crate) mod varint;
