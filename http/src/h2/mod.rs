//! HTTP/2 on the slotnet loop, on top of the [h2](https://docs.rs/h2) crate, without a tokio
//! runtime.
//!
//! - [`slotnet_net::async_io::SocketIo`] makes any slotnet socket an `AsyncRead + AsyncWrite`
//!   for h2; [`io::CheckedIo`] runs the server's inbound bytes through [`precheck`] first.
//! - h2's futures are polled from the loop by core's executor
//!   ([`slotnet_core::executor`]): wakers that schedule a (coalesced) re-poll, and
//!   [`spawn_local`](slotnet_core::spawn_local) for the server's connection and stream tasks.
//! - The client engine (crate-internal) multiplexes `NetworkAccessManager` requests over one
//!   connection per host: flow control tied to the reply's read buffer, RST_STREAM on abort,
//!   retries of streams the server never processed (GOAWAY, REFUSED_STREAM), and the peer's
//!   concurrent-stream limit (excess requests wait in a queue).
//! - [`server`] serves HTTP/2 connections (used by the HTTP server and by tests); the
//!   client's frames pass [`precheck`] first, so protocol errors get RFC 9113's codes.
//!
//! Requests use HTTP/2 in cleartext ("prior knowledge", h2c) when they set
//! [`Attribute::Http2Direct`](crate::Attribute::Http2Direct); replies that used HTTP/2 report
//! [`Attribute::Http2WasUsed`](crate::Attribute::Http2WasUsed).

pub(crate) mod client;
pub mod io;
pub mod precheck;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

use crate::error::NetworkError;

/// HTTP/2 settings (Qt's `QHttp2Configuration`).
///
/// The client takes them from the request that opens a connection
/// ([`NetworkRequest::set_http2_configuration`](crate::NetworkRequest::set_http2_configuration));
/// the server from
/// [`AbstractHttpServer::set_http2_configuration`](crate::server::AbstractHttpServer::set_http2_configuration).
///
/// The defaults differ from Qt's on purpose: Qt's `QNetworkRequest` asks for a 2 GiB session
/// window and a 20 MiB window per stream, so a server may push that much at an application
/// that reads slowly. slotnet's defaults keep memory bounded: a reply whose application reads
/// slowly holds at most its read buffer plus one stream window.
///
/// | setting | slotnet default | `QNetworkRequest`'s default | `QHttp2Configuration()` |
/// | --- | --- | --- | --- |
/// | session receive window | 16 MiB | 2,147,483,647 | 65,535 |
/// | stream receive window | 1 MiB | 21,474,836 | 65,535 |
/// | max frame size | 16,384 | 16,384 | 16,384 |
/// | server push | off (always) | off | off |
/// | Huffman coding of headers | on (always) | on | on |
/// | max concurrent streams (Qt 6.9) | 100 | 100 | 100 |
///
/// Setting Qt's windows gives Qt's behaviour (fast bulk downloads, unbounded per-reply
/// memory if the application does not read).
///
/// ```
/// use slotnet_http::h2::Http2Configuration;
///
/// let mut config = Http2Configuration::default();
/// config.set_stream_receive_window_size(256 * 1024);
/// assert_eq!(config.stream_receive_window_size(), 256 * 1024);
/// assert!(!config.server_push_enabled());
/// assert!(config.huffman_compression_enabled());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http2Configuration {
    stream_window: u32,
    session_window: u32,
    max_frame_size: u32,
    max_concurrent_streams: u32,
    server_push: bool,
}

/// The largest flow-control window HTTP/2 allows (2^31 - 1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// The smallest and largest SETTINGS_MAX_FRAME_SIZE HTTP/2 allows.
pub const FRAME_SIZE_RANGE: std::ops::RangeInclusive<u32> = 16_384..=16_777_215;

impl Default for Http2Configuration {
    fn default() -> Self {
        Http2Configuration {
            stream_window: 1024 * 1024,
            session_window: 16 * 1024 * 1024,
            max_frame_size: 16_384,
            max_concurrent_streams: 100,
            server_push: false,
        }
    }
}

impl Http2Configuration {
    /// The receive window of each stream, in bytes (default 1 MiB).
    pub fn stream_receive_window_size(&self) -> u32 {
        self.stream_window
    }

    /// Sets the per-stream receive window; returns false (and changes nothing) outside
    /// 1..=2^31-1.
    pub fn set_stream_receive_window_size(&mut self, size: u32) -> bool {
        if size == 0 || size > MAX_WINDOW_SIZE {
            return false;
        }
        self.stream_window = size;
        true
    }

    /// The receive window of the whole connection, in bytes (default 16 MiB).
    pub fn session_receive_window_size(&self) -> u32 {
        self.session_window
    }

    /// Sets the connection's receive window; returns false outside 1..=2^31-1.
    pub fn set_session_receive_window_size(&mut self, size: u32) -> bool {
        if size == 0 || size > MAX_WINDOW_SIZE {
            return false;
        }
        self.session_window = size;
        true
    }

    /// The largest frame payload accepted from the peer (default 16,384).
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Sets the largest frame payload accepted; returns false outside [`FRAME_SIZE_RANGE`].
    pub fn set_max_frame_size(&mut self, size: u32) -> bool {
        if !FRAME_SIZE_RANGE.contains(&size) {
            return false;
        }
        self.max_frame_size = size;
        true
    }

    /// How many streams the peer may open towards us (servers) and how many a client opens
    /// before the server's SETTINGS say otherwise (default 100).
    pub fn max_concurrent_streams(&self) -> u32 {
        self.max_concurrent_streams
    }

    /// Sets the concurrent-stream limit (at least 1).
    pub fn set_max_concurrent_streams(&mut self, n: u32) {
        self.max_concurrent_streams = n.max(1);
    }

    /// Whether server push is accepted (always false: slotnet announces
    /// SETTINGS_ENABLE_PUSH 0, so servers do not push; Qt's default is the same).
    pub fn server_push_enabled(&self) -> bool {
        self.server_push
    }

    /// Whether HPACK Huffman-codes header strings (always true: the h2 crate always does,
    /// which is Qt's default; Qt documents its setter as having no effect so far).
    pub fn huffman_compression_enabled(&self) -> bool {
        true
    }

    pub(crate) fn client_builder(&self) -> ::h2::client::Builder {
        let mut b = ::h2::client::Builder::new();
        b.initial_window_size(self.stream_window)
            .initial_connection_window_size(self.session_window)
            .max_frame_size(self.max_frame_size)
            .enable_push(self.server_push)
            .initial_max_send_streams(self.max_concurrent_streams as usize)
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(response_header_list_size());
        b
    }

    /// An h2 server builder with these settings.
    pub fn server_builder(&self) -> ::h2::server::Builder {
        let mut b = ::h2::server::Builder::new();
        b.initial_window_size(self.stream_window)
            .initial_connection_window_size(self.session_window)
            .max_frame_size(self.max_frame_size)
            .max_concurrent_streams(self.max_concurrent_streams);
        b
    }
}

/// SETTINGS_MAX_HEADER_LIST_SIZE the client announces: the HTTP/1.1 response head limits
/// ([`Limits`](crate::h1::Limits): 128 fields, 64 KiB) in HTTP/2's accounting (32 octets per
/// field on top of name and value). h2 keeps no field past it (the stream fails) and drops
/// the connection past four times it; heads within it are checked exactly as over HTTP/1.1.
pub(crate) fn response_header_list_size() -> u32 {
    let limits = crate::h1::Limits::default();
    let size = limits.max_head_bytes + limits.max_headers * 32;
    u32::try_from(size).unwrap_or(u32::MAX)
}

/// The reply error for an HTTP/2 error code received in RST_STREAM or GOAWAY, with a message.
pub fn network_error_for_reason(reason: ::h2::Reason) -> (NetworkError, String) {
    use ::h2::Reason as R;
    let (error, message) = match reason {
        R::NO_ERROR => (
            NetworkError::RemoteHostClosedError,
            "The server ended the stream before the response was complete",
        ),
        R::PROTOCOL_ERROR => (NetworkError::ProtocolFailure, "HTTP/2 protocol error"),
        R::INTERNAL_ERROR => (NetworkError::InternalServerError, "Internal server error"),
        R::FLOW_CONTROL_ERROR => (NetworkError::ProtocolFailure, "HTTP/2 flow control error"),
        R::SETTINGS_TIMEOUT => (
            NetworkError::TimeoutError,
            "HTTP/2 SETTINGS were not acknowledged",
        ),
        R::STREAM_CLOSED => (
            NetworkError::ProtocolFailure,
            "The server received frames on a closed stream",
        ),
        R::FRAME_SIZE_ERROR => (NetworkError::ProtocolFailure, "HTTP/2 frame size error"),
        R::REFUSED_STREAM => (
            NetworkError::ProtocolFailure,
            "The server refused the stream",
        ),
        R::CANCEL => (
            NetworkError::ProtocolFailure,
            "The server cancelled the stream",
        ),
        R::COMPRESSION_ERROR => (
            NetworkError::ProtocolFailure,
            "HTTP/2 header compression error",
        ),
        R::CONNECT_ERROR => (
            NetworkError::UnknownNetworkError,
            "The tunnel of a CONNECT request failed",
        ),
        R::ENHANCE_YOUR_CALM => (
            NetworkError::UnknownServerError,
            "The server reports excessive load (ENHANCE_YOUR_CALM)",
        ),
        R::INADEQUATE_SECURITY => (
            NetworkError::ContentAccessDenied,
            "The server finds the transport's security inadequate",
        ),
        R::HTTP_1_1_REQUIRED => (
            NetworkError::ProtocolFailure,
            "The server requires HTTP/1.1 for this request",
        ),
        other => {
            return (
                NetworkError::ProtocolFailure,
                format!(
                    "Stream reset with unknown HTTP/2 error code {}",
                    u32::from(other)
                ),
            )
        }
    };
    (error, message.to_owned())
}
