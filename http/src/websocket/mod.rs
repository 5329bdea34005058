//! WebSockets (RFC 6455): the client ([`WebSocket`], Qt's `QWebSocket`), and the protocol
//! both roles share with the server's upgraded connections
//! ([`server::WebSocket`](crate::server::WebSocket)): the sans-IO frame codec, the
//! protocol state (fragmentation, control frames, UTF-8, close codes, limits) and
//! permessage-deflate (RFC 7692).

// The client half of the codec (handshake key, deflate offer) has no caller until the
// client lands.
#![allow(dead_code)]

mod close_code;
pub(crate) mod deflate;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod protocol;

pub use close_code::CloseCode;
