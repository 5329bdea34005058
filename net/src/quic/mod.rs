//! QUIC on the event loop: `quinn-proto`'s sans-IO state machine driven by slotnet.
//!
//! A [`QuicEndpoint`] owns a [`UdpSocket`](crate::UdpSocket) and a `quinn_proto::Endpoint`:
//! datagrams read on `ready_read` (in `recvmmsg` batches on Linux) go into
//! `Endpoint::handle`, and from there into their [`QuicConnection`]. A connection is driven
//! after every input (datagrams, a timer, a write): its endpoint events are exchanged, its
//! `poll_transmit` datagrams are sent, its `poll_timeout` deadline goes on the loop's timer
//! queue (one [`Timer`](slotnet_core::Timer) per connection), and its events become signals.
//!
//! TLS is the HTTPS path's: the rustls configs are built by [`SslConfiguration`] (ring
//! provider, the Qt-style verifier with its full `sslErrors` list, the system store or the
//! configured CAs), restricted to TLS 1.3 as QUIC requires. Certificate errors go to the
//! connection's [`VerifyContext`], entered around every call that can advance the
//! handshake, exactly as [`TlsSession`](crate::ssl::TlsSession) does for TCP.
//!
//! [`SslConfiguration`]: crate::ssl::SslConfiguration
//! [`VerifyContext`]: crate::ssl::VerifyContext

mod config;
mod connection;
mod endpoint;

pub use config::QuicSetupError;
pub use connection::{QuicConnection, QuicError, StreamRead, StreamWriteError};
pub use endpoint::QuicEndpoint;

/// The ALPN protocol name of HTTP/3 (RFC 9114).
pub const ALPN_H3: &[u8] = b"h3";
