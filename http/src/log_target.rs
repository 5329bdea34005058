//! The [`log`] targets slotnet logs under, named after Qt's logging categories: this
//! crate's own and, re-exported, slotnet-net's ([`SOCKET`], [`PROXY`], [`SSL`]). See
//! docs/guide.md, "Logging", for how to turn them on; nothing is logged (and a call site
//! costs one relaxed atomic load) until the application installs a logger.
//!
//! | target | Qt category | what is logged |
//! |---|---|---|
//! | [`SOCKET`] | none (`QABSTRACTSOCKET_DEBUG`) | name lookup, connect attempts, connected, connect failures |
//! | [`PROXY`] | none | the proxy a request takes; tunnels (`CONNECT`, SOCKS5) set up or refused |
//! | [`SSL`] | `qt.network.ssl` | handshake start and end, protocol, cipher, ALPN, verification errors |
//! | [`CONNECTION`] | none (`QHTTPNETWORKCONNECTION_DEBUG`) | connections opened, reused, kept alive or closed |
//! | [`HTTP1`] | none | request line and response status of each HTTP/1.1 exchange |
//! | [`HTTP2`] | `qt.network.http2`, `qt.network.http2.connection` | connection up, streams opened, status, `GOAWAY`, `RST_STREAM`; window updates at `trace` |
//! | [`CACHE`] | none | cache hit, miss, revalidation |
//! | [`AUTHENTICATOR`] | `qt.network.authenticator` | 401/407 challenges, retries with credentials |
//! | [`REDIRECT`] | none (`qt.network.access.manager` in Qt 6.5+ says little) | redirects followed or refused |
//! | [`HTTPSERVER`] | `qt.httpserver` | the server: accepted connections, request line and status, protocol errors |

pub use slotnet_net::log_target::{PROXY, SOCKET, SSL};

/// The access manager's connections: opened, reused from the pool, kept alive or closed.
pub const CONNECTION: &str = "slotnet::network::connection";

/// HTTP/1.1 exchanges in summary: the request line, the response status.
pub const HTTP1: &str = "slotnet::network::http1";

/// HTTP/2 (Qt's `qt.network.http2`): connection up, streams opened and answered, `GOAWAY`,
/// `RST_STREAM` and other errors; flow-control window updates at `trace`.
pub const HTTP2: &str = "slotnet::network::http2";

/// The network cache: hit, miss, revalidation.
pub const CACHE: &str = "slotnet::network::cache";

/// Authentication (Qt's `qt.network.authenticator`): challenges and retries.
pub const AUTHENTICATOR: &str = "slotnet::network::authenticator";

/// Redirects: from, to, status; refused redirects.
pub const REDIRECT: &str = "slotnet::network::redirect";

/// The HTTP server (Qt's `qt.httpserver`): accepted connections, request line and status,
/// protocol errors.
pub const HTTPSERVER: &str = "slotnet::httpserver";

/// A URL as logs show it: without its user name and password (a log is no place for
/// credentials; curl -v leaves them out too).
pub(crate) struct Shown<'a>(pub(crate) &'a url::Url);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.0;
        if url.username().is_empty() && url.password().is_none() {
            return f.write_str(url.as_str());
        }
        write!(
            f,
            "{}://{}",
            url.scheme(),
            &url[url::Position::BeforeHost..]
        )
    }
}
