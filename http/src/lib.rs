//! # slotnet-http
//!
//! The network access API (`NetworkAccessManager`, `NetworkRequest`, `NetworkReply`), the
//! HTTP/1.1 and HTTP/2 engines, the HTTP server and the legacy `Http` (QHttp) API.
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `tls-ring` | yes | rustls with the `ring` crypto provider |
//! | `tls-aws-lc` | | rustls with the `aws-lc-rs` provider: post-quantum hybrid key exchange (X25519MLKEM768) offered first; builds the aws-lc C library. Wins over `tls-ring` when both are on |
//! | `native-roots` | yes | the operating system's CA store as the system CA set (as Qt) |
//! | `webpki-roots` | | the Mozilla roots compiled in: the system set without `native-roots`, the stand-in for an empty system store with it |
//! | `gzip` | yes | `gzip` and `deflate` content decoding, advertised in `Accept-Encoding` |
//! | `brotli` | yes | `br` content decoding, advertised in `Accept-Encoding` |
//! | `zstd` | yes | `zstd` content decoding, advertised in `Accept-Encoding` |
//! | `cookies-psl` | yes | the public suffix list for cookie domains (`Domain=co.uk` refused); without it only top-level domains count as public suffixes |
//! | `websocket` | | [`websocket`]: the WebSocket client (Qt's `QWebSocket`) and protocol (frames, close codes, permessage-deflate) |
//! | `server` | | [`server`]: the HTTP server (Qt's `QHttpServer`), with its WebSocket upgrades; turns on `websocket` |
//! | `legacy` | | [`legacy`]: the Qt 4 `QHttp` API |
//!
//! One TLS provider is required: without `tls-ring` and `tls-aws-lc` the build stops with a
//! message saying so (as rustls-based crates do). A coding that is not compiled in is not
//! advertised, and a response that uses it anyway fails as an unsupported encoding.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod body;
pub mod cache;
mod client;
mod connection_tls;
pub mod cookies;
pub mod decode;
mod error;
mod from_http;
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;
pub mod h2;
// The HTTP/3 wire format (frames, QPACK); the client and server exchanges on QUIC streams
// that will use it are not written yet, so outside its own tests it is unused for now.
#[allow(dead_code, unused_imports)]
mod h3;
pub mod hsts;
#[cfg(feature = "legacy")]
#[cfg_attr(docsrs, doc(cfg(feature = "legacy")))]
pub mod legacy;
mod local;
pub mod log_target;
mod manager;
pub mod multipart;
mod reply;
mod reply_future;
mod request;
mod response_headers;
mod send_client;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
pub mod trace;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

pub use body::RequestBody;
pub use client::settings::Http1Configuration;
pub use error::{http_status_error_string, NetworkError};
pub use from_http::HttpRequestError;
pub use manager::{CreateRequestHook, NetworkAccessManager};
pub use reply::{NetworkReply, Operation, ReplyError};
pub use reply_future::{ReplyFuture, ReplyResult, ReplyStream};
pub use request::{
    format_http_date, httpdate_parse, Attribute, AttributeValue, CacheLoadControl, HeaderValue,
    KnownHeader, LoadControl, NetworkRequest, Priority, RedirectPolicy,
    DEFAULT_DECOMPRESSED_SAFETY_THRESHOLD, DEFAULT_MAX_REDIRECTS,
};
pub use send_client::{SendClient, SendClientError};

/// The `http` crate this one is built on (for `StatusCode`, `HeaderMap`, `Request`), so that
/// users name the same version.
pub use http;
pub use slotnet_core as core;
pub use slotnet_net as net;
/// The `url` crate whose `Url` the requests and replies use, so that users name the same
/// version.
pub use url;

/// Registers the network transports with a new manager.
pub(crate) fn install_transports(manager: &NetworkAccessManager) {
    client::install(manager);
}
