//! WebSockets (RFC 6455): the client ([`WebSocket`], Qt's `QWebSocket`), and the protocol
//! both roles share with the server's upgraded connections
//! ([`server::WebSocket`](crate::server::WebSocket)): the sans-IO frame codec, the
//! protocol state (fragmentation, control frames, UTF-8, close codes, limits) and
//! permessage-deflate (RFC 7692).

mod client;
mod close_code;
pub(crate) mod deflate;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod protocol;

pub use client::{
    WebSocket, WebSocketHandshakeOptions, DEFAULT_OUTGOING_FRAME_SIZE, MAX_INCOMING_FRAME_SIZE,
    MAX_INCOMING_MESSAGE_SIZE, MAX_OUTGOING_FRAME_SIZE,
};
pub use close_code::CloseCode;
