//! The legacy HTTP API: Qt 4's `QHttp` as [`Http`], with [`HttpRequestHeader`] and
//! [`HttpResponseHeader`].
//!
//! New code should use [`NetworkAccessManager`](crate::NetworkAccessManager); this module
//! exists for code ported from Qt 4, and keeps `QHttp`'s model: operations scheduled with
//! ids, run one at a time on one keep-alive connection, reported by `request_started`,
//! `request_finished`, `done` and the progress signals. Each request on the wire is
//! an [`h1::ClientExchange`](crate::h1::ClientExchange), the sans-IO HTTP/1.1 exchange the
//! access manager's connections share (encoding, upload accounting, response decoding,
//! keep-alive and the stale keep-alive resend); this module adds Qt 4's scheduling, signals
//! and error codes, and slotnet's sockets ([`TcpSocket`](slotnet_net::TcpSocket),
//! [`SslSocket`](slotnet_net::SslSocket) for [`ConnectionMode::Https`]).

mod auth;
mod data;
mod engine;
mod exchange;
mod header;
mod http;
mod trace;
mod transport;
mod types;

pub use data::{Destination, RequestData};
pub use engine::AuthRequest;
pub use header::{HttpRequestHeader, HttpResponseHeader};
pub use http::Http;
pub use trace::trace_signals;
pub use types::{ConnectionMode, HttpError, State};
