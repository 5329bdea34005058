//! What the requests on a TLS connection learn about it, taken once when its handshake
//! completes and shared (HTTP/1.1 keep-alive or HTTP/2 streams) without copying.

use std::rc::Rc;

use slotnet_net::ssl::SslConfiguration;
use slotnet_net::SslSocket;

/// A TLS connection's configuration and session, as its replies report them.
pub(crate) struct ConnectionTls {
    /// The configuration with the session: peer chain, protocol, cipher, ALPN.
    pub configuration: Rc<SslConfiguration>,
    /// The handshake found certificate errors, which were ignored: the connection's
    /// `Strict-Transport-Security` headers are not trusted (RFC 6797 section 8.1).
    pub errors_ignored: bool,
}

impl ConnectionTls {
    /// The snapshot of `socket` once `encrypted` (the session no longer changes).
    pub(crate) fn of(socket: &SslSocket) -> Rc<ConnectionTls> {
        Rc::new(ConnectionTls {
            configuration: Rc::new(socket.ssl_configuration()),
            errors_ignored: !socket.ssl_handshake_errors().is_empty(),
        })
    }
}
