//! `TcpSocket`, Qt's `QTcpSocket`.

use std::io;
use std::net::{IpAddr, SocketAddr};

use slotnet_core::{AsObject, Object, Signal};

use crate::abstract_socket::impl_stream_socket;
use crate::error::SocketOption;
use crate::socket::{Kind, SocketCore};
use crate::sys::RawStream;

/// A TCP connection on the event loop (Qt's `QTcpSocket`).
///
/// A `Copy` handle to an [`Object`]; destroying the object (or its parent) closes the
/// connection. The common socket API (reading, writing, signals, closing) is also available
/// through the [`AbstractSocket`](crate::AbstractSocket) trait.
///
/// `TCP_NODELAY` is on by default (request/response protocols want it); turn it off with
/// `set_socket_option(SocketOption::LowDelay, 0)`.
///
/// ```no_run
/// use slotnet_core::EventLoop;
/// use slotnet_net::TcpSocket;
///
/// let socket = TcpSocket::new();
/// socket.connected().connect(move |_| {
///     socket.write(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
/// });
/// socket.ready_read().connect(move |_| print!("{}", String::from_utf8_lossy(&socket.read_all())));
/// socket.disconnected().connect(|_| EventLoop::current().quit());
/// socket.connect_to_host("example.com", 80);
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpSocket {
    obj: Object,
}

impl_stream_socket!(TcpSocket => SocketCore, plain);

impl Default for TcpSocket {
    fn default() -> Self {
        TcpSocket::new()
    }
}

impl TcpSocket {
    /// A new unconnected socket.
    pub fn new() -> TcpSocket {
        TcpSocket {
            obj: SocketCore::create(Kind::Tcp, None),
        }
    }

    /// A new unconnected socket owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> TcpSocket {
        TcpSocket {
            obj: SocketCore::create(Kind::Tcp, Some(parent.as_object())),
        }
    }

    /// Wraps an already-connected std stream (it is made non-blocking). The socket starts
    /// `Connected`, with no signals emitted.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpSocket> {
        stream.set_nonblocking(true)?;
        TcpSocket::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// A socket on this thread's loop for a connection accepted elsewhere (Qt's
    /// `setSocketDescriptor` on a new socket, as the Threaded Fortune Server's thread does):
    /// takes the stream out of `descriptor` and wraps it like [`TcpSocket::from_std`]. Fails
    /// if a clone of the descriptor was taken already.
    pub fn from_descriptor(descriptor: &crate::SocketDescriptor) -> io::Result<TcpSocket> {
        let stream = descriptor.take().ok_or_else(|| {
            io::Error::other("the socket descriptor was already taken by another socket")
        })?;
        TcpSocket::from_std(stream)
    }

    /// Wraps an already-connected, non-blocking mio stream. The socket starts `Connected`.
    pub fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpSocket> {
        TcpSocket::adopt(RawStream::Tcp(stream), None)
    }

    pub(crate) fn adopt(stream: RawStream, parent: Option<Object>) -> io::Result<TcpSocket> {
        SocketCore::adopt(Kind::Tcp, stream, parent).map(|obj| TcpSocket { obj })
    }

    pub(crate) fn from_object(obj: Object) -> TcpSocket {
        TcpSocket { obj }
    }

    /// Connects to `host` (a name, an IP literal, or `localhost`) on `port`.
    ///
    /// The state becomes `HostLookup` at once; the lookup runs off the loop (see
    /// [`HostInfo`](crate::HostInfo)); then `state_changed(Connecting)`, `host_found`, and
    /// each address is tried in turn until one accepts: `state_changed(Connected)`,
    /// `connected`. If none does, the error of the last attempt is reported
    /// (`error_occurred`, then `state_changed(Unconnected)`). Ignored (with
    /// `OperationError`) unless the socket is `Unconnected`.
    pub fn connect_to_host(&self, host: &str, port: u16) {
        if let Some(core) = self.core() {
            core.connect_to_host(host, port)
        }
    }

    /// Connects to an address: [`TcpSocket::connect_to_host`] with its IP literal.
    pub fn connect_to_addr(&self, addr: SocketAddr) {
        self.connect_to_host(&addr.ip().to_string(), addr.port())
    }

    /// The local address and port of the connection.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.local_addr())
    }

    /// The local address of the connection.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.local_socket_addr().map(|a| a.ip())
    }

    /// The local port of the connection (0 when not connected).
    pub fn local_port(&self) -> u16 {
        self.local_socket_addr().map_or(0, |a| a.port())
    }

    /// The peer's address and port.
    pub fn peer_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.peer_addr())
    }

    /// The peer's address.
    pub fn peer_address(&self) -> Option<IpAddr> {
        self.peer_socket_addr().map(|a| a.ip())
    }

    /// The peer's port (0 when not connected).
    pub fn peer_port(&self) -> u16 {
        self.peer_socket_addr().map_or(0, |a| a.port())
    }

    /// The host name given to `connect_to_host` (empty for accepted connections).
    pub fn peer_name(&self) -> String {
        self.core().map(|c| c.peer_name()).unwrap_or_default()
    }

    /// Emitted when the host name has been resolved, before the connect attempts.
    pub fn host_found(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.sig.host_found.clone())
    }

    /// Turns `TCP_NODELAY` on or off ([`SocketOption::LowDelay`]).
    pub fn set_no_delay(&self, on: bool) -> bool {
        self.set_socket_option(SocketOption::LowDelay, on as i32)
    }

    /// Turns TCP keep-alive probes on or off ([`SocketOption::KeepAlive`]).
    pub fn set_keep_alive(&self, on: bool) -> bool {
        self.set_socket_option(SocketOption::KeepAlive, on as i32)
    }
}
