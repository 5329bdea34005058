//! Listening sockets that share a port (`SO_REUSEPORT`), one per event loop, so that a
//! server run on several threads gets its connections spread over them by the kernel.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd};

/// The accept queue length, as mio and std use.
const BACKLOG: libc::c_int = 1024;

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
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else; closed on every error path.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        let on: libc::c_int = 1;
        // SAFETY: a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: a zeroed sockaddr_storage is a valid (unspecified) address; the matching
    // family's fields are filled in below and its length passed to bind(2).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.ip().octets()),
            };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: v6.ip().octets(),
            };
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: storage holds an address of `len` bytes of the socket's family.
    let rc = unsafe {
        libc::bind(
            fd,
            (&storage as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: listen(2) on the bound socket.
    if unsafe { libc::listen(fd, BACKLOG) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(owned))
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
