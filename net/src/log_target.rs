//! The [`log`] targets slotnet logs under, named after Qt's logging categories
//! (`QLoggingCategory`): where Qt has a category (`qt.network.ssl`) the target has the same
//! last part (`slotnet::network::ssl`); where Qt only has a compile-time debug macro
//! (`QABSTRACTSOCKET_DEBUG`) slotnet still gives the subject a target of its own.
//!
//! slotnet logs through the `log` facade, as rustls does: nothing is printed unless the
//! application installs a logger (`env_logger`, `simple_logger`, a `tracing` subscriber with
//! `tracing-log`, or its own), and a disabled call site costs one relaxed atomic load. Turn
//! the whole network stack on with `RUST_LOG=slotnet=debug` (env_logger), as
//! `QT_LOGGING_RULES="qt.network.*=true"` does for Qt; `trace` adds per-frame detail.
//!
//! | target | Qt category | what is logged |
//! |---|---|---|
//! | [`SOCKET`] | none (`QABSTRACTSOCKET_DEBUG`) | name lookup, connect attempts, connected, connect failures |
//! | [`PROXY`] | none | proxy tunnels (HTTP `CONNECT`, SOCKS5) set up or refused |
//! | [`SSL`] | `qt.network.ssl` | handshake start and end, protocol, cipher, ALPN, verification errors |
//!
//! slotnet-http adds its own targets (`slotnet_http::log_target`).

/// Sockets: name lookup, each address tried, connected, connect failures.
pub const SOCKET: &str = "slotnet::network::socket";

/// Proxies: the tunnel through an HTTP proxy (`CONNECT`) or a SOCKS5 proxy.
pub const PROXY: &str = "slotnet::network::proxy";

/// TLS (Qt's `qt.network.ssl`): handshake start and end, protocol version, cipher, ALPN,
/// certificate verification errors.
pub const SSL: &str = "slotnet::network::ssl";

/// Logs what a finished handshake negotiated, as `curl -v` shows it: `TLS connection using
/// TLSv1.3 / TLS_AES_128_GCM_SHA256` and the ALPN result (once per handshake, not per record).
pub(crate) fn handshake_done(session: &crate::ssl::SessionInfo, peer: impl FnOnce() -> String) {
    if !log::log_enabled!(target: SSL, log::Level::Debug) {
        return;
    }
    let version = match session.session_protocol {
        crate::ssl::SslProtocol::TlsV1_2 => "TLSv1.2",
        crate::ssl::SslProtocol::TlsV1_3 => "TLSv1.3",
        _ => "TLS",
    };
    let cipher = session
        .session_cipher
        .as_ref()
        .map(crate::ssl::SslCipher::name)
        .unwrap_or_default();
    let peer = peer();
    let resumed = if session.session_resumed {
        " (resumed)"
    } else {
        ""
    };
    log::debug!(target: SSL, "TLS connection using {version} / {cipher}{resumed} with {peer}");
    match &session.negotiated_protocol {
        Some(p) => log::debug!(target: SSL, "ALPN: server accepted {}", String::from_utf8_lossy(p)),
        None => log::debug!(target: SSL, "ALPN: no protocol agreed"),
    }
}
