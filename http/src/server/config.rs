//! [`HttpServerConfiguration`]: the limits and timeouts every connection of a server obeys.

use std::time::Duration;

use http::HeaderValue;

use crate::h1::Limits;
use crate::h2::Http2Configuration;

/// Limits and timeouts of an [`AbstractHttpServer`](super::AbstractHttpServer) (Qt's
/// `QHttpServerConfiguration`, extended with the limits a server exposed to the Internet
/// needs): every tunable of the server, HTTP/1.1 and HTTP/2, in one place.
///
/// | field | default | nginx / Qt name |
/// | --- | --- | --- |
/// | `max_url_size` | 64 KiB | nginx `large_client_header_buffers` (size) |
/// | `max_header_bytes` | 64 KiB | nginx `large_client_header_buffers`; h2: `SETTINGS_MAX_HEADER_LIST_SIZE` from it |
/// | `max_header_count` | 128 | — |
/// | `max_body_size` | 32 MiB | nginx `client_max_body_size` |
/// | `keep_alive_timeout` | 15 s | nginx `keepalive_timeout` (75 s); h2: idle GOAWAY |
/// | `header_timeout` | 10 s | nginx `client_header_timeout` (60 s) |
/// | `send_timeout` | 60 s | nginx `send_timeout` |
/// | `web_socket_idle_timeout` | 60 s | nginx `proxy_read_timeout` |
/// | `web_socket_message_timeout` | 30 s | — |
/// | `web_socket_per_message_deflate` | on | nginx passes it through; Qt's `QWebSocketServer` has none |
/// | `max_connections` | 10,000 | nginx `worker_connections` |
/// | `max_pipelined_requests` | 16 | — |
/// | `max_buffered_output` | 256 KiB | — |
/// | `server_header` | none | nginx `server_tokens` |
/// | `h2c` | off | nginx `listen ... http2` on a plain port |
/// | `http2` | [`Http2Configuration::default`] | Qt `QHttp2Configuration` (`setHttp2Configuration`): windows, frame size, `max_concurrent_streams` (nginx `http2_max_concurrent_streams`, 128) |
/// | `http2_max_buffered_output` | 1 MiB | nginx `http2_chunk_size`-sized per-stream buffers |
/// | `http2_send_buffer_size` | 2 MiB | h2 `max_send_buffer_size` (per stream: this / streams, 16-256 KiB) |
/// | `http2_max_reset_streams`, `http2_reset_window` | 200 per 10 s | nginx 1.25.3's rapid-reset fix; h2o `http2-max-streams-reset` |
/// | `http2_max_pending_accept_reset_streams` | 20 | h2 `max_pending_accept_reset_streams` |
/// | `http2_max_local_error_reset_streams` | 256 | h2 `max_local_error_reset_streams` (1024) |
///
/// Whatever a client sends, a connection's memory stays bounded by these numbers: a request
/// that exceeds one is answered with the matching status (414, 431, 413, 408) and the
/// connection is closed. A client that does not read holds at most `max_buffered_output`
/// (256 KiB) plus one answer on an HTTP/1.1 connection, whatever it pipelines, and about
/// 4 MiB on an HTTP/2 connection whatever the number of streams (1 MiB of answers, then
/// requests wait undispatched; h2's send buffers 2 MiB in all); `send_timeout` drops it
/// when it takes nothing at all. At `max_connections` idle connections make room for new
/// ones. `docs/reliability.md` lists every bound.
/// A timeout set to `Duration::MAX` never expires.
///
/// ```
/// use slotnet_http::server::HttpServerConfiguration;
/// use std::time::Duration;
///
/// let config = HttpServerConfiguration {
///     max_body_size: 1 << 20,
///     keep_alive_timeout: Duration::from_secs(5),
///     ..HttpServerConfiguration::default()
/// };
/// assert_eq!(config.max_header_count, 128);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpServerConfiguration {
    /// Longest request target (the URL on the request line); longer gets 414. Default 64 KiB.
    pub max_url_size: usize,
    /// Largest header section (all fields together); larger gets 431. Default 64 KiB.
    pub max_header_bytes: usize,
    /// Most header fields in a request; more gets 431. Default 128.
    pub max_header_count: usize,
    /// Largest request body (by `Content-Length` or as chunks arrive); larger gets 413 and
    /// the rest of the body is not read. Default 32 MiB.
    pub max_body_size: u64,
    /// How long an idle keep-alive connection (or a request body that stopped arriving) is
    /// kept open. Default 15 s.
    pub keep_alive_timeout: Duration,
    /// How long a client may take to send a complete request head once it started one
    /// (against "slowloris" clients); past it the answer is 408 and the connection closes.
    /// Default 10 s.
    pub header_timeout: Duration,
    /// How long answers may wait for the client to take a single byte (nginx's
    /// `send_timeout`): when output is owed (queued on the socket, or HTTP/2 data waiting
    /// for the client's flow-control window) and nothing was written for this long, the
    /// connection is dropped. Against clients that stop reading, or hold an HTTP/2 window at
    /// zero, to pin connections and memory. Default 60 s.
    pub send_timeout: Duration,
    /// How long an open [`WebSocket`](super::WebSocket) may receive nothing at all: halfway
    /// through, the server sends a ping (any live peer answers it with a pong, which counts
    /// as input); at the end it closes with 1001 and `error_occurred(Timeout)`. Against idle
    /// or dead peers pinning connections (nginx's `proxy_read_timeout` is 60 s; Qt's
    /// `QWebSocket` has none). Default 60 s.
    pub web_socket_idle_timeout: Duration,
    /// How long a WebSocket message may take to arrive completely, from its first byte (all
    /// its fragments; pings between them do not extend it); past it the connection is failed
    /// with 1008 and `error_occurred(Timeout)`. Against peers holding partial messages
    /// (up to the maximum message size each) in memory. Default 30 s.
    pub web_socket_message_timeout: Duration,
    /// Whether a WebSocket upgrade that offers permessage-deflate (RFC 7692, as browsers
    /// do) gets it: messages are then compressed both ways. Offers asking the server for a
    /// window below 15 bits are declined (its deflate backend writes 15-bit windows only).
    /// Default on.
    pub web_socket_per_message_deflate: bool,
    /// Most simultaneous connections (WebSockets included). At that number a new client
    /// takes the place of the connection idle the longest (an HTTP/1.1 connection between
    /// requests or that never sent one, an HTTP/2 connection without streams; failing
    /// those, the WebSocket longest without input), which is closed, as nginx reuses
    /// keep-alive connections; when none is idle the server stops
    /// accepting (clients wait in the kernel's backlog) until one closes or becomes idle
    /// (checked every 100 ms). Default 10,000.
    pub max_connections: usize,
    /// Most requests of one connection waiting for their answers (pipelining); beyond it the
    /// server stops reading that connection until answers go out. Default 16.
    pub max_pipelined_requests: usize,
    /// Most answer bytes held in memory for one HTTP/1.1 connection whose client does not
    /// read (the socket's queue plus pipelined answers waiting behind an earlier one);
    /// beyond it the server stops reading that connection's further requests until output
    /// drains, so a client pipelining any number of requests without reading costs at most
    /// this plus one answer. Also what a pushed answer may queue before `write_chunk`
    /// refuses more. Default 256 KiB (nginx answers pipelined requests one at a time).
    pub max_buffered_output: usize,
    /// A `Server` header added to every response that has none (default none).
    pub server_header: Option<HeaderValue>,
    /// Accept cleartext HTTP/2 with prior knowledge (`h2c`, RFC 9113 3.3) on plain
    /// connections: one that opens with the HTTP/2 client preface is served as HTTP/2, any
    /// other as HTTP/1.1. Off by default (a preface then gets 505 like any other unsupported
    /// version). The `Upgrade: h2c` mechanism is not supported (RFC 9113 deprecated it).
    /// Over TLS, ALPN decides instead.
    pub h2c: bool,
    /// The HTTP/2 settings new HTTP/2 connections announce and obey (Qt's
    /// `QHttp2Configuration`, also set through
    /// [`set_http2_configuration`](super::AbstractHttpServer::set_http2_configuration)):
    /// receive windows, frame size, and `max_concurrent_streams`, the streams a client may
    /// have open at once on one connection. Default [`Http2Configuration::default`].
    pub http2: Http2Configuration,
    /// Answer bytes one HTTP/2 connection may hold for its client (bodies waiting for the
    /// client's window, the socket's queue) before further complete requests wait
    /// undispatched (their heads only) until it drains: a client that opens many streams and
    /// reads nothing cannot make the handlers pile up answers. Default 1 MiB (with h2's send
    /// buffers and one answer, a connection holds at most about 4 MiB).
    pub http2_max_buffered_output: usize,
    /// h2's send buffers of one connection together: each stream's is this divided by
    /// `max_concurrent_streams`, between 16 KiB and 256 KiB (h2's default is 400 KiB per
    /// stream: 40 MB for 100 streams whose client does not read). Default 2 MiB.
    pub http2_send_buffer_size: usize,
    /// Rapid reset (CVE-2023-44487): RST_STREAM frames a client may send per
    /// `http2_reset_window`; one more and the connection ends with
    /// GOAWAY(ENHANCE_YOUR_CALM). Counted as the frames arrive, whatever the stream's state.
    /// Default 200.
    pub http2_max_reset_streams: u32,
    /// The window `http2_max_reset_streams` counts in. Default 10 s.
    pub http2_reset_window: Duration,
    /// Streams the client may reset before the server accepted them, at once, before the
    /// connection is closed with GOAWAY(ENHANCE_YOUR_CALM) (h2's
    /// `max_pending_accept_reset_streams`). Default 20.
    pub http2_max_pending_accept_reset_streams: usize,
    /// Streams h2 may reset because of the client's protocol errors before it closes the
    /// connection (h2's `max_local_error_reset_streams`). Default 256.
    pub http2_max_local_error_reset_streams: usize,
}

impl Default for HttpServerConfiguration {
    fn default() -> Self {
        HttpServerConfiguration {
            max_url_size: 64 * 1024,
            max_header_bytes: 64 * 1024,
            max_header_count: 128,
            max_body_size: 32 * 1024 * 1024,
            keep_alive_timeout: Duration::from_secs(15),
            header_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            web_socket_idle_timeout: Duration::from_secs(60),
            web_socket_message_timeout: Duration::from_secs(30),
            web_socket_per_message_deflate: true,
            max_connections: 10_000,
            max_pipelined_requests: 16,
            max_buffered_output: 256 * 1024,
            server_header: None,
            h2c: false,
            http2: Http2Configuration::default(),
            http2_max_buffered_output: 1024 * 1024,
            http2_send_buffer_size: 2 * 1024 * 1024,
            http2_max_reset_streams: 200,
            http2_reset_window: Duration::from_secs(10),
            http2_max_pending_accept_reset_streams: 20,
            http2_max_local_error_reset_streams: 256,
        }
    }
}

/// Room for the method, spaces, version and CRLF around the target on the request line.
const REQUEST_LINE_OVERHEAD: usize = 32;

impl HttpServerConfiguration {
    /// The HTTP/1.1 decoder limits these settings translate to.
    pub(crate) fn decoder_limits(&self) -> Limits {
        let start_line = self.max_url_size.saturating_add(REQUEST_LINE_OVERHEAD);
        Limits {
            max_start_line: start_line,
            max_headers: self.max_header_count,
            // The decoder counts the request line in the head; the URL has its own limit.
            max_head_bytes: start_line.saturating_add(self.max_header_bytes),
            max_chunk_line: 4 * 1024,
            max_body: Some(self.max_body_size),
        }
    }

    /// The h2 server builder for these settings: windows and stream limits from `http2`, and
    /// h2's own reset limits. The one way every HTTP/2 server connection is built (with the
    /// [`ResetGuard`](crate::h2::io::ResetGuard) of [`Self::reset_guard`] on its input).
    pub(crate) fn h2_builder(&self) -> ::h2::server::Builder {
        let mut builder = self.http2.server_builder();
        builder
            .max_pending_accept_reset_streams(self.http2_max_pending_accept_reset_streams)
            .max_local_error_reset_streams(Some(self.http2_max_local_error_reset_streams));
        builder
    }

    /// The rapid-reset guard these settings ask for.
    pub(crate) fn reset_guard(&self) -> crate::h2::io::ResetGuard {
        crate::h2::io::ResetGuard::new(self.http2_max_reset_streams, self.http2_reset_window)
    }

    /// The socket read buffer limit: a whole head must fit, plus room to read ahead.
    pub(crate) fn read_buffer_size(&self) -> usize {
        self.decoder_limits()
            .max_head_bytes
            .saturating_add(64 * 1024)
    }
}
