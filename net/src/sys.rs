//! The operating-system layer under the sockets: the stream and listener kinds slotnet
//! supports, reads straight into a `BytesMut`'s spare capacity, `SIGPIPE`-free vectored
//! writes, and socket options.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use bytes::BytesMut;
use mio::event::Source;
use mio::{Interest, Registry, Token};
use socket2::SockRef;

use crate::error::SocketOption;

/// A connected (or connecting) stream socket of one of the supported kinds.
#[derive(Debug)]
pub(crate) enum RawStream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl RawStream {
    pub(crate) fn fd(&self) -> RawFd {
        match self {
            RawStream::Tcp(s) => s.as_raw_fd(),
            RawStream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// The pending socket error (`SO_ERROR`), which also clears it.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            RawStream::Tcp(s) => s.take_error(),
            RawStream::Unix(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed: `Ok(true)` connected, `Ok(false)` still
    /// in progress, `Err` failed.
    pub(crate) fn connect_finished(&self) -> io::Result<bool> {
        if let Some(err) = self.take_error()? {
            return Err(err);
        }
        let peer = match self {
            RawStream::Tcp(s) => s.peer_addr().map(|_| ()),
            RawStream::Unix(s) => s.peer_addr().map(|_| ()),
        };
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn tcp_local_addr(&self) -> Option<SocketAddr> {
        match self {
            RawStream::Tcp(s) => s.local_addr().ok(),
            RawStream::Unix(_) => None,
        }
    }

    pub(crate) fn tcp_peer_addr(&self) -> Option<SocketAddr> {
        match self {
            RawStream::Tcp(s) => s.peer_addr().ok(),
            RawStream::Unix(_) => None,
        }
    }

    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self, RawStream::Tcp(_))
    }

    /// Reads at most `max` bytes into `buf`'s spare capacity (which the caller has reserved).
    pub(crate) fn recv_into(&self, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
        let spare = buf.spare_capacity_mut();
        let len = spare.len().min(max);
        let n = self.recv_uninit(&mut spare[..len])?;
        // SAFETY: recv initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        Ok(n)
    }

    /// Reads into `out` (which need not be initialised); returns how many bytes it wrote.
    pub(crate) fn recv_uninit(&self, out: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        loop {
            // SAFETY: the pointer and length describe writable memory; recv writes at most
            // `out.len()` bytes into it and reports how many.
            let n = unsafe { libc::recv(self.fd(), out.as_mut_ptr().cast(), out.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Writes as much of `bufs` as the kernel takes, with `MSG_NOSIGNAL` so that a closed peer
    /// is an `EPIPE` error rather than a `SIGPIPE` that would kill a program that kept the
    /// default signal disposition.
    pub(crate) fn send_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: a zeroed msghdr is a valid empty message.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // IoSlice is guaranteed ABI-compatible with iovec on Unix; sendmsg does not write
        // through the pointer despite its type.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len().min(MAX_IOV) as _;
        loop {
            // SAFETY: msg points at `bufs`, valid for the duration of the call.
            let n = unsafe { libc::sendmsg(self.fd(), &msg, libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// The descriptor as a borrowed fd, so that socket2's `SockRef` can set options on it.
impl AsFd for RawStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            RawStream::Tcp(s) => s.as_fd(),
            RawStream::Unix(s) => s.as_fd(),
        }
    }
}

/// How many buffers one `sendmsg` takes at most (Linux's `UIO_MAXIOV` is 1024).
pub(crate) const MAX_IOV: usize = 64;

impl Source for RawStream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.register(r, t, i),
            RawStream::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.reregister(r, t, i),
            RawStream::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            RawStream::Tcp(s) => s.deregister(r),
            RawStream::Unix(s) => s.deregister(r),
        }
    }
}

/// A listening socket of one of the supported kinds.
#[derive(Debug)]
pub(crate) enum RawListener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

impl RawListener {
    pub(crate) fn fd(&self) -> RawFd {
        match self {
            RawListener::Tcp(l) => l.as_raw_fd(),
            RawListener::Unix(l) => l.as_raw_fd(),
        }
    }

    /// Accepts one connection (already non-blocking and close-on-exec).
    pub(crate) fn accept(&self) -> io::Result<RawStream> {
        match self {
            RawListener::Tcp(l) => l.accept().map(|(s, _)| RawStream::Tcp(s)),
            RawListener::Unix(l) => l.accept().map(|(s, _)| RawStream::Unix(s)),
        }
    }
}

impl Source for RawListener {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            RawListener::Tcp(l) => l.register(r, t, i),
            RawListener::Unix(l) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            RawListener::Tcp(l) => l.reregister(r, t, i),
            RawListener::Unix(l) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            RawListener::Tcp(l) => l.deregister(r),
            RawListener::Unix(l) => l.deregister(r),
        }
    }
}

// Socket options go through socket2 (`SockRef` over the stream's descriptor): it knows each
// option's level, name and value type on every platform it supports, which a port to another
// system would otherwise have to repeat here. Only the path MTU stays raw `libc`: socket2 has
// no `IP_MTU` (a Linux option; Qt reads it on Linux only too).

/// Sets an option on a connected (or connecting) stream socket. Options that do not apply to
/// this kind of socket (TCP's on a Unix domain socket) and the read-only path MTU fail with
/// `ENOPROTOOPT`, as the kernel answers for an unknown option.
pub(crate) fn set_option(stream: &RawStream, option: SocketOption, value: i32) -> io::Result<()> {
    let socket = SockRef::from(stream);
    let tcp = stream.is_tcp();
    match option {
        SocketOption::LowDelay if tcp => socket.set_tcp_nodelay(value != 0),
        SocketOption::KeepAlive => socket.set_keepalive(value != 0),
        SocketOption::TypeOfService if tcp => socket.set_tos_v4(buffer_or_tos(value)?),
        SocketOption::SendBufferSize => socket.set_send_buffer_size(buffer_or_tos(value)? as usize),
        SocketOption::ReceiveBufferSize => {
            socket.set_recv_buffer_size(buffer_or_tos(value)? as usize)
        }
        _ => Err(unsupported()),
    }
}

/// Reads an option from a connected (or connecting) stream socket, as an integer as Qt's
/// `socketOption` answers (booleans 0 or 1; buffer sizes as the kernel reports them, which on
/// Linux is twice what was set, for its bookkeeping).
pub(crate) fn get_option(stream: &RawStream, option: SocketOption) -> io::Result<i32> {
    let socket = SockRef::from(stream);
    let tcp = stream.is_tcp();
    let clamp = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    match option {
        SocketOption::LowDelay if tcp => socket.tcp_nodelay().map(i32::from),
        SocketOption::KeepAlive => socket.keepalive().map(i32::from),
        SocketOption::TypeOfService if tcp => socket.tos_v4().map(|tos| clamp(tos as usize)),
        SocketOption::SendBufferSize => socket.send_buffer_size().map(clamp),
        SocketOption::ReceiveBufferSize => socket.recv_buffer_size().map(clamp),
        #[cfg(target_os = "linux")]
        SocketOption::PathMtu if tcp => path_mtu(stream.fd()),
        _ => Err(unsupported()),
    }
}

/// A type-of-service byte or a buffer size: never negative (the kernel would read a negative
/// size as a huge unsigned one).
fn buffer_or_tos(value: i32) -> io::Result<u32> {
    u32::try_from(value).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOPROTOOPT)
}

/// The path MTU the kernel has found for a connected socket (`IP_MTU`, Linux only): raw
/// `getsockopt` because socket2 does not offer this option.
#[cfg(target_os = "linux")]
fn path_mtu(fd: RawFd) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_MTU,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    /// A connected TCP stream (the listener keeps the peer's end open).
    fn connected_tcp() -> (RawStream, TcpListener) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        std_stream.set_nonblocking(true).unwrap();
        let stream = RawStream::Tcp(mio::net::TcpStream::from_std(std_stream));
        (stream, listener)
    }

    /// What the kernel says, asked with a plain getsockopt (not through socket2).
    fn kernel_value(stream: &RawStream, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are valid for writes of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                stream.fd(),
                level,
                name,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        value
    }

    #[test]
    fn options_set_reach_the_kernel_and_read_back() {
        let (stream, _listener) = connected_tcp();
        for on in [1, 0] {
            set_option(&stream, SocketOption::LowDelay, on).unwrap();
            set_option(&stream, SocketOption::KeepAlive, on).unwrap();
            let nodelay = kernel_value(&stream, libc::IPPROTO_TCP, libc::TCP_NODELAY);
            let keepalive = kernel_value(&stream, libc::SOL_SOCKET, libc::SO_KEEPALIVE);
            assert_eq!((nodelay != 0, keepalive != 0), (on == 1, on == 1));
            assert_eq!(get_option(&stream, SocketOption::LowDelay).unwrap(), on);
            assert_eq!(get_option(&stream, SocketOption::KeepAlive).unwrap(), on);
        }
        set_option(&stream, SocketOption::TypeOfService, 0x10).unwrap();
        assert_eq!(kernel_value(&stream, libc::IPPROTO_IP, libc::IP_TOS), 0x10);
        assert_eq!(
            get_option(&stream, SocketOption::TypeOfService).unwrap(),
            0x10
        );

        set_option(&stream, SocketOption::ReceiveBufferSize, 64 * 1024).unwrap();
        set_option(&stream, SocketOption::SendBufferSize, 64 * 1024).unwrap();
        let rcvbuf = kernel_value(&stream, libc::SOL_SOCKET, libc::SO_RCVBUF);
        let sndbuf = kernel_value(&stream, libc::SOL_SOCKET, libc::SO_SNDBUF);
        // Linux doubles what was asked (its bookkeeping); others keep it. Either way the
        // getter answers what the kernel says.
        assert!(
            rcvbuf >= 64 * 1024 && sndbuf >= 64 * 1024,
            "{rcvbuf} {sndbuf}"
        );
        assert_eq!(
            get_option(&stream, SocketOption::ReceiveBufferSize).unwrap(),
            rcvbuf
        );
        assert_eq!(
            get_option(&stream, SocketOption::SendBufferSize).unwrap(),
            sndbuf
        );
    }

    #[test]
    fn a_negative_size_is_invalid_and_a_read_only_or_foreign_option_unsupported() {
        let (stream, _listener) = connected_tcp();
        let err = set_option(&stream, SocketOption::SendBufferSize, -1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let err = set_option(&stream, SocketOption::PathMtu, 1500).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOPROTOOPT));

        let (unix, _peer) = mio::net::UnixStream::pair().unwrap();
        let unix = RawStream::Unix(unix);
        let err = set_option(&unix, SocketOption::LowDelay, 1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOPROTOOPT));
        assert!(get_option(&unix, SocketOption::TypeOfService).is_err());
        set_option(&unix, SocketOption::SendBufferSize, 64 * 1024).unwrap();
        assert!(get_option(&unix, SocketOption::SendBufferSize).unwrap() >= 64 * 1024);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_path_mtu_of_a_loopback_connection_is_read_from_the_kernel() {
        let (stream, _listener) = connected_tcp();
        let mtu = get_option(&stream, SocketOption::PathMtu).unwrap();
        assert_eq!(mtu, kernel_value(&stream, libc::IPPROTO_IP, libc::IP_MTU));
        assert!(mtu > 0);
    }
}
