//! `TcpServer`, Qt's `QTcpServer`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use slotnet_core::{AsObject, Object};

use crate::error::SocketError;
use crate::server::{impl_server_common, ServerCore};
use crate::sys::RawListener;
use crate::tcp::TcpSocket;

/// A TCP server on the event loop (Qt's `QTcpServer`).
///
/// Accepted connections become [`TcpSocket`]s (children of the server) queued until
/// [`TcpServer::next_pending_connection`] takes them; `new_connection` is emitted for each.
///
/// ```
/// use slotnet_core::EventLoop;
/// use slotnet_net::TcpServer;
/// use std::net::Ipv4Addr;
///
/// let server = TcpServer::new();
/// assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
/// let port = server.server_port();
/// server.new_connection().connect(move |_| {
///     let client = server.next_pending_connection().unwrap();
///     client.write(b"hello\n");
///     client.disconnect_from_host();
///     EventLoop::current().quit();
/// });
/// let _peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpServer {
    obj: Object,
}

impl_server_common!(TcpServer, TcpSocket);

impl Default for TcpServer {
    fn default() -> Self {
        TcpServer::new()
    }
}

impl TcpServer {
    /// A new server, not listening.
    pub fn new() -> TcpServer {
        TcpServer {
            obj: ServerCore::create(None),
        }
    }

    /// A new server owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> TcpServer {
        TcpServer {
            obj: ServerCore::create(Some(parent.as_object())),
        }
    }

    /// Listens on `address` and `port` (0 picks a free port; see
    /// [`TcpServer::server_port`]). `Ipv6Addr::UNSPECIFIED` accepts IPv4 too where the system
    /// allows dual-stack sockets. Returns false on failure, with `server_error` set
    /// (`AddressInUseError`, `SocketAccessError`, ...).
    pub fn listen(&self, address: impl Into<IpAddr>, port: u16) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if core.is_listening() {
            core.set_error(
                SocketError::OperationError,
                "The server is already listening",
            );
            return false;
        }
        let addr = SocketAddr::new(address.into(), port);
        match mio::net::TcpListener::bind(addr) {
            Ok(listener) => self.start(&core, listener),
            Err(e) => {
                core.set_io_error(&e);
                false
            }
        }
    }

    /// Listens on an already-bound, listening std listener (Qt's `setSocketDescriptor`).
    pub fn listen_on(&self, listener: std::net::TcpListener) -> io::Result<()> {
        let Some(core) = self.core() else {
            return Err(io::Error::other("the server has been destroyed"));
        };
        if core.is_listening() {
            return Err(io::Error::other("the server is already listening"));
        }
        listener.set_nonblocking(true)?;
        let listener = mio::net::TcpListener::from_std(listener);
        if self.start(&core, listener) {
            Ok(())
        } else {
            Err(io::Error::other(core.error_string()))
        }
    }

    fn start(&self, core: &ServerCore, listener: mio::net::TcpListener) -> bool {
        let local = listener.local_addr().ok();
        match core.start(RawListener::Tcp(listener), local, None, "") {
            Ok(()) => true,
            Err(e) => {
                core.set_io_error(&e);
                false
            }
        }
    }

    /// Hands every accepted connection to `handler` instead of making it a pending
    /// [`TcpSocket`]: Qt's overridden `incomingConnection(qintptr socketDescriptor)`, the way
    /// to serve connections on other threads (the Threaded Fortune Server). The handler runs
    /// on the server's thread and gets a [`SocketDescriptor`](crate::SocketDescriptor)
    /// (`Send`), typically passed to a worker thread where
    /// [`TcpSocket::from_descriptor`] builds the socket on that thread's loop.
    /// `new_connection` is still emitted after each call, as in Qt; nothing becomes pending.
    pub fn set_incoming_connection_handler<F>(&self, handler: F)
    where
        F: Fn(crate::SocketDescriptor) + 'static,
    {
        if let Some(core) = self.core() {
            core.set_incoming_handler(std::rc::Rc::new(handler));
        }
    }

    /// The address the server listens on.
    pub fn server_address(&self) -> Option<IpAddr> {
        self.server_socket_addr().map(|a| a.ip())
    }

    /// The port the server listens on (0 when not listening).
    pub fn server_port(&self) -> u16 {
        self.server_socket_addr().map_or(0, |a| a.port())
    }

    /// The address and port the server listens on.
    pub fn server_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.local_addr())
    }
}
