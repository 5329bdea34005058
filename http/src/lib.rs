//! # slotnet-http
//!
//! The network access API (`NetworkAccessManager`, `NetworkRequest`, `NetworkReply`), the
//! HTTP/1.1 and HTTP/2 engines, the HTTP server and the legacy `Http` (QHttp) API.
#![warn(missing_docs)]

pub mod h1;

pub use slotnet_core as core;
pub use slotnet_net as net;
