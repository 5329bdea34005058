//! The connection an [`Http`](super::Http) object holds: a TCP or TLS socket, whether it is
//! ours, where it goes, and the slot connections made to it.

use slotnet_core::{Connection, Object};
use slotnet_net::{AbstractSocket, SocketState, SslSocket, TcpSocket};

/// The socket of a connection.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sock {
    /// Plain HTTP (internal socket or the user's, see `Http::set_socket`).
    Tcp(TcpSocket),
    /// HTTPS.
    Ssl(SslSocket),
}

impl Sock {
    /// The common socket interface.
    pub(super) fn io(&self) -> &dyn AbstractSocket {
        match self {
            Sock::Tcp(s) => s,
            Sock::Ssl(s) => s,
        }
    }

    fn object(&self) -> Object {
        self.io().as_object()
    }

    /// Whether a request can be sent on it right now.
    pub(super) fn is_ready(&self) -> bool {
        match self {
            Sock::Tcp(s) => s.state() == SocketState::Connected,
            Sock::Ssl(s) => s.state() == SocketState::Connected && s.is_encrypted(),
        }
    }
}

/// Where a connection goes: the origin server, or the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ConnKey {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: bool,
    /// HTTPS through the HTTP proxy at this address: a `CONNECT` tunnel to `host:port`
    /// with TLS inside.
    pub(super) tunnel: Option<(String, u16)>,
}

/// An open (or opening) connection.
pub(super) struct Conn {
    /// Tells this connection's socket events from those of a replaced one.
    pub(super) id: u64,
    pub(super) sock: Sock,
    /// Whether the socket was created here (and is deleted here) or supplied by the user.
    pub(super) owned: bool,
    pub(super) key: ConnKey,
    /// The slot connections made to the socket, cut when the connection is dropped.
    pub(super) links: Vec<Connection>,
    /// Whether a request was already sent on it (a closed keep-alive connection is then
    /// retried once on a new one).
    pub(super) used: bool,
}

impl Conn {
    /// Stops listening to the socket and closes it: gracefully (flushing, close_notify)
    /// or at once. Sockets created here are deleted once closed; the user's are left alone.
    pub(super) fn shut(self, graceful: bool) {
        for link in &self.links {
            link.disconnect();
        }
        let io = self.sock.io();
        if graceful {
            io.disconnect_from_host();
        } else {
            io.abort();
        }
        if !self.owned {
            return;
        }
        let obj = self.sock.object();
        if io.state() == SocketState::Unconnected {
            obj.delete_later();
        } else {
            io.disconnected().connect_once(move |_| obj.delete_later());
        }
    }
}
