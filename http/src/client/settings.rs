//! Every tunable of the client engine in one place, with Qt's name for it and its default.
//!
//! | setting | Qt | default | where it is set |
//! | --- | --- | --- | --- |
//! | [`connections_per_host`](Settings::connections_per_host) | `QHttp1Configuration::numberOfConnectionsPerHost` | 6 | per request: [`NetworkRequest::set_http1_configuration`](crate::NetworkRequest::set_http1_configuration) |
//! | [`pipeline_depth`](Settings::pipeline_depth) | `defaultPipelineLength` (qhttpnetworkconnection.cpp) | 3 | fixed |
//! | [`idle_expiry`](Settings::idle_expiry) | the connection cache's expiry (`QNetworkAccessCache`) | 120 s | per manager: [`NetworkAccessManager::set_connection_idle_expiry`](crate::NetworkAccessManager::set_connection_idle_expiry) |
//! | HTTP/2 windows, frame size, stream limit | `QHttp2Configuration` | see [`Http2Configuration`](crate::h2::Http2Configuration) | per request: [`NetworkRequest::set_http2_configuration`](crate::NetworkRequest::set_http2_configuration) |
//! | [`h1_read_buffer`](Settings::h1_read_buffer) | `QAbstractSocket::readBufferSize` (unlimited in Qt) | 1 MiB | fixed |
//! | [`h2_read_buffer`](Settings::h2_read_buffer) | (HTTP/2 flow control bounds the rest) | 256 KiB | fixed |
//! | [`upload_window`](Settings::upload_window) | (Qt reads 16 KiB pieces of an upload) | 256 KiB | fixed |
//! | [`queue_scan`](Settings::queue_scan) | (none) | 64 | fixed |

use std::time::Duration;

/// At most one progress report (upload or download) per this interval (Qt's throttle).
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// How long an idle connection is kept by default (the expiry of Qt's connection cache).
pub(crate) const DEFAULT_IDLE_EXPIRY: Duration = Duration::from_secs(120);

/// The client engine's tunables (see the module's table). One value per manager, kept by its
/// pool; connections copy what they need when they are opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// HTTP/1.1 connections per host and port, unless the request that opens the host's
    /// connections says otherwise (Qt's `QHttp1Configuration::numberOfConnectionsPerHost`).
    pub connections_per_host: usize,
    /// Requests in flight on one pipelining connection, the one being answered included
    /// (Qt's `defaultPipelineLength`).
    pub pipeline_depth: usize,
    /// How long an idle connection, HTTP/1.1 or HTTP/2, is kept for reuse.
    pub idle_expiry: Duration,
    /// How much an HTTP/1.1 connection's socket buffers from the kernel before it stops
    /// reading (backpressure towards the server).
    pub h1_read_buffer: usize,
    /// How much an HTTP/2 connection's socket buffers; flow control bounds the rest.
    pub h2_read_buffer: usize,
    /// How much of a streamed request body is queued in the socket at a time.
    pub upload_window: usize,
    /// How many waiting jobs of a priority dispatch looks through for one that suits a
    /// connection (pipelining, a preconnect offering h2): it keeps dispatch cheap when many
    /// jobs wait; the ones further back are served as the queue moves.
    pub queue_scan: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connections_per_host: Http1Configuration::DEFAULT_CONNECTIONS_PER_HOST,
            pipeline_depth: 3,
            idle_expiry: DEFAULT_IDLE_EXPIRY,
            h1_read_buffer: 1024 * 1024,
            h2_read_buffer: 256 * 1024,
            upload_window: 256 * 1024,
            queue_scan: 64,
        }
    }
}

/// HTTP/1.1 settings of a request (Qt's `QHttp1Configuration`, Qt 6.5+).
///
/// They apply when the request opens the connections to its host and port, as in Qt: the
/// request that finds no connection to its host decides how many its host gets, and later
/// requests share them while they live.
///
/// ```
/// use slotnet_http::{Http1Configuration, NetworkRequest};
///
/// let mut config = Http1Configuration::default();
/// assert_eq!(config.number_of_connections_per_host(), 6);
/// config.set_number_of_connections_per_host(2);
/// let mut request = NetworkRequest::from_url_str("http://example.com/");
/// request.set_http1_configuration(config);
/// assert_eq!(request.http1_configuration().number_of_connections_per_host(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Http1Configuration {
    connections_per_host: u8,
}

impl Http1Configuration {
    /// Qt's default number of parallel connections per host and port.
    pub const DEFAULT_CONNECTIONS_PER_HOST: usize = 6;

    /// How many HTTP/1.1 connections the pool opens at most to one host and port (Qt's
    /// `numberOfConnectionsPerHost`, default 6).
    pub fn number_of_connections_per_host(&self) -> usize {
        usize::from(self.connections_per_host)
    }

    /// Sets the number of connections per host (Qt's `setNumberOfConnectionsPerHost`):
    /// from 1 to 255, as in Qt; a number outside that range is ignored (the value stays as
    /// it was).
    pub fn set_number_of_connections_per_host(&mut self, amount: usize) {
        if let Ok(amount @ 1..=255) = u8::try_from(amount) {
            self.connections_per_host = amount;
        }
    }
}

impl Default for Http1Configuration {
    fn default() -> Self {
        Http1Configuration {
            connections_per_host: Self::DEFAULT_CONNECTIONS_PER_HOST as u8,
        }
    }
}
