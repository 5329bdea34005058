//! Listening sockets that share a port (`SO_REUSEPORT`), one per event loop, so that a
//! server run on several threads gets its connections spread over them by the kernel.

use std::io;
use std::net::{SocketAddr, TcpListener};

/// The accept queue length, as mio and std use.
const BACKLOG: i32 = 1024;

/// Whether this platform spreads the connections of one port over several listening
/// sockets (`SO_REUSEPORT` with load balancing: Linux and Android; BSDs and macOS accept the
/// option but give every connection to one socket).
pub const REUSE_PORT_BALANCES: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// A listening TCP socket on `addr` with `SO_REUSEADDR` and `SO_REUSEPORT` set, so that
/// more listeners can bind the same address and port: the kernel then hands each new
/// connection to one of them (by a hash of its addresses, on Linux), which is how nginx's
/// `listen ... reuseport` spreads connections over its workers. Port 0 picks a free port;
/// bind the next listeners to the port the first one got
/// ([`TcpListener::local_addr`]). Give the result to
/// [`TcpServer::listen_on`](crate::TcpServer::listen_on) or
/// [`SslServer::listen_on`](crate::SslServer::listen_on) on each loop.
///
/// Fails with `Unsupported` where [`REUSE_PORT_BALANCES`] is false.
pub fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    if !REUSE_PORT_BALANCES {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_REUSEPORT does not balance connections on this platform",
        ));
    }
    bind(addr)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    // socket2 opens the socket close-on-exec, as std does.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn bind(_addr: SocketAddr) -> io::Result<TcpListener> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpStream};

    #[test]
    fn two_listeners_share_a_port_and_both_get_connections() {
        let first = reuse_port_listener((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = reuse_port_listener(addr).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        // A plain listener may not join them.
        assert!(TcpListener::bind(addr).is_err());
        let clients: Vec<_> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let drain = |l: &TcpListener| std::iter::from_fn(|| l.accept().ok()).count();
        let (a, b) = (drain(&first), drain(&second));
        assert_eq!(a + b, clients.len());
        // The kernel hashes each connection's ports: 64 all on one side is a 2^-63 chance.
        assert!(a > 0 && b > 0, "first {a}, second {b}");
    }

    #[test]
    fn ipv6_loopback_binds_when_the_host_has_it() {
        match reuse_port_listener((std::net::Ipv6Addr::LOCALHOST, 0).into()) {
            Ok(l) => assert!(l.local_addr().unwrap().is_ipv6()),
            // Containers without IPv6.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}"),
        }
    }
}
