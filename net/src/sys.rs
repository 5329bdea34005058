//! The operating-system layer under the sockets: the stream and listener kinds slotnet
//! supports, reads straight into a `BytesMut`'s spare capacity, `SIGPIPE`-free vectored
//! writes, and socket options.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use bytes::BytesMut;
use mio::event::Source;
use mio::{Interest, Registry, Token};

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
        loop {
            // SAFETY: the pointer and length describe writable memory owned by `buf`; recv
            // writes at most `len` bytes into it and reports how many.
            let n = unsafe { libc::recv(self.fd(), spare.as_mut_ptr().cast(), len, 0) };
            if n >= 0 {
                let n = n as usize;
                // SAFETY: recv initialised the first `n` bytes of the spare capacity.
                unsafe { buf.set_len(buf.len() + n) };
                return Ok(n);
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

/// The `setsockopt` level and name for an option, or `None` when it does not apply to a
/// stream socket of this kind.
fn option_key(option: SocketOption, tcp: bool) -> Option<(libc::c_int, libc::c_int)> {
    match option {
        SocketOption::LowDelay if tcp => Some((libc::IPPROTO_TCP, libc::TCP_NODELAY)),
        SocketOption::KeepAlive => Some((libc::SOL_SOCKET, libc::SO_KEEPALIVE)),
        SocketOption::TypeOfService if tcp => Some((libc::IPPROTO_IP, libc::IP_TOS)),
        SocketOption::SendBufferSize => Some((libc::SOL_SOCKET, libc::SO_SNDBUF)),
        SocketOption::ReceiveBufferSize => Some((libc::SOL_SOCKET, libc::SO_RCVBUF)),
        // IP_MTU is Linux's: elsewhere PathMtu is unsupported (Qt reads it on Linux only too).
        #[cfg(target_os = "linux")]
        SocketOption::PathMtu if tcp => Some((libc::IPPROTO_IP, libc::IP_MTU)),
        _ => None,
    }
}

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOPROTOOPT)
}

/// Sets an option on a socket descriptor.
pub(crate) fn set_option(fd: RawFd, tcp: bool, option: SocketOption, value: i32) -> io::Result<()> {
    if option == SocketOption::PathMtu {
        return Err(unsupported());
    }
    let (level, name) = option_key(option, tcp).ok_or_else(unsupported)?;
    let value: libc::c_int = value;
    // SAFETY: passes a pointer to a c_int and its size, as setsockopt expects for these
    // integer options.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads an option from a socket descriptor.
pub(crate) fn get_option(fd: RawFd, tcp: bool, option: SocketOption) -> io::Result<i32> {
    let (level, name) = option_key(option, tcp).ok_or_else(unsupported)?;
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
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
