//! `SocketDescriptor`: an accepted connection on its way to another thread, Qt's
//! `qintptr socketDescriptor` of `QTcpServer::incomingConnection` and
//! `QAbstractSocket::setSocketDescriptor`.

use std::fmt;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

/// An accepted TCP connection that is not a socket object yet: what a [`TcpServer`]'s
/// [incoming-connection handler](crate::TcpServer::set_incoming_connection_handler) receives,
/// to be turned into a [`TcpSocket`] on whichever thread's loop should serve it with
/// [`TcpSocket::from_descriptor`].
///
/// Where Qt passes a bare integer, this owns the connection: it is `Clone + Send` (so it can
/// travel through a cross-thread signal, like `qintptr`), the first
/// [`take`](Self::take) gets the stream, and if nobody takes it the connection is closed when
/// the last clone is dropped instead of leaking.
///
/// [`TcpServer`]: crate::TcpServer
/// [`TcpSocket`]: crate::TcpSocket
/// [`TcpSocket::from_descriptor`]: crate::TcpSocket::from_descriptor
#[derive(Clone)]
pub struct SocketDescriptor {
    stream: Arc<Mutex<Option<TcpStream>>>,
    fd: RawFd,
}

impl fmt::Debug for SocketDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketDescriptor")
            .field("fd", &self.fd)
            .field("taken", &self.is_taken())
            .finish()
    }
}

impl From<TcpStream> for SocketDescriptor {
    fn from(stream: TcpStream) -> Self {
        SocketDescriptor {
            fd: stream.as_raw_fd(),
            stream: Arc::new(Mutex::new(Some(stream))),
        }
    }
}

impl SocketDescriptor {
    /// The descriptor's number (Qt's `qintptr` value), for logs.
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// Takes the connection (non-blocking); `None` if a clone took it already.
    pub fn take(&self) -> Option<TcpStream> {
        self.stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Whether the connection has been taken.
    pub fn is_taken(&self) -> bool {
        self.stream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_none()
    }
}
