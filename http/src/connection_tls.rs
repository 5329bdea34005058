//! What the requests on a TLS connection learn about it, taken once when its handshake
//! completes and shared (HTTP/1.1 keep-alive or HTTP/2 streams) without copying.

use std::cell::Cell;
use std::rc::Rc;

use slotnet_net::ssl::{SslConfiguration, SslError};
use slotnet_net::SslSocket;

/// A TLS connection's configuration and session, as its replies report them.
pub(crate) struct ConnectionTls {
    /// Which connection this is (see [`next_connection_id`]): a reply that accepted its
    /// certificate errors remembers it, and is not asked again on it.
    pub id: u64,
    /// The configuration with the session: peer chain, protocol, cipher, ALPN.
    pub configuration: Rc<SslConfiguration>,
    /// The certificate errors the handshake found and some reply accepted (empty for a
    /// certificate without errors). Every other reply the connection carries is shown them
    /// first and must accept them too; its `Strict-Transport-Security` headers are not
    /// trusted (RFC 6797 section 8.1).
    pub errors: Vec<SslError>,
}

impl ConnectionTls {
    /// The snapshot of `socket` once `encrypted` (the session no longer changes).
    pub(crate) fn of(socket: &SslSocket, id: u64) -> Rc<ConnectionTls> {
        Rc::new(ConnectionTls {
            id,
            configuration: Rc::new(socket.ssl_configuration()),
            errors: socket.ssl_handshake_errors(),
        })
    }

    /// Whether the handshake's certificate errors were ignored.
    pub(crate) fn errors_ignored(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// A new connection id, never 0 (which means "none") and never reused on this thread.
pub(crate) fn next_connection_id() -> u64 {
    thread_local! {
        static NEXT: Cell<u64> = const { Cell::new(1) };
    }
    NEXT.with(|n| n.replace(n.get() + 1))
}
