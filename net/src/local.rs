//! `LocalSocket`, Qt's `QLocalSocket`, on Unix domain stream sockets.

use std::io;
use std::path::{Path, PathBuf};

use slotnet_core::{AsObject, Object};

use crate::abstract_socket::impl_stream_socket;
use crate::socket::{Kind, SocketCore};
use crate::sys::RawStream;

/// The socket path for a local server name, as Qt resolves it: a name containing a `/` is
/// a path; a bare name is placed in the temporary directory.
pub(crate) fn server_path(name: &str) -> PathBuf {
    if name.contains('/') {
        PathBuf::from(name)
    } else {
        std::env::temp_dir().join(name)
    }
}

/// A Unix domain stream connection on the event loop (Qt's `QLocalSocket`).
///
/// Same API as [`TcpSocket`](crate::TcpSocket) (through the
/// [`AbstractSocket`](crate::AbstractSocket) methods), without host lookup: the states are
/// `Unconnected`, `Connecting`, `Connected` and `Closing`. Errors use [`SocketError`]:
/// a missing server is `HostNotFoundError` (Qt's `ServerNotFoundError` has the same value),
/// a closed peer is `RemoteHostClosedError` (Qt's `PeerClosedError`).
///
/// [`SocketError`]: crate::SocketError
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalSocket {
    obj: Object,
}

impl_stream_socket!(LocalSocket => SocketCore, plain);

impl Default for LocalSocket {
    fn default() -> Self {
        LocalSocket::new()
    }
}

impl LocalSocket {
    /// A new unconnected socket.
    pub fn new() -> LocalSocket {
        LocalSocket {
            obj: SocketCore::create(Kind::Local, None),
        }
    }

    /// A new unconnected socket owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> LocalSocket {
        LocalSocket {
            obj: SocketCore::create(Kind::Local, Some(parent.as_object())),
        }
    }

    /// Wraps an already-connected std stream (made non-blocking); starts `Connected`.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<LocalSocket> {
        stream.set_nonblocking(true)?;
        LocalSocket::adopt(
            RawStream::Unix(mio::net::UnixStream::from_std(stream)),
            None,
        )
    }

    pub(crate) fn adopt(stream: RawStream, parent: Option<Object>) -> io::Result<LocalSocket> {
        SocketCore::adopt(Kind::Local, stream, parent).map(|obj| LocalSocket { obj })
    }

    pub(crate) fn from_object(obj: Object) -> LocalSocket {
        LocalSocket { obj }
    }

    /// Connects to the local server `name`: a path, or a bare name looked for in the
    /// temporary directory (as [`LocalServer::listen`](crate::LocalServer::listen) places
    /// it). `state_changed(Connecting)` is emitted at once; the attempt runs on the next loop
    /// iteration. Ignored (with `OperationError`) unless the socket is `Unconnected`.
    pub fn connect_to_server(&self, name: &str) {
        if let Some(core) = self.core() {
            core.connect_to_path(name, server_path(name))
        }
    }

    /// The name given to `connect_to_server` (empty for accepted connections).
    pub fn server_name(&self) -> String {
        self.core().map(|c| c.peer_name()).unwrap_or_default()
    }

    /// The path of the server's socket file, once `connect_to_server` was called.
    pub fn full_server_name(&self) -> Option<PathBuf> {
        self.core().and_then(|c| c.server_path())
    }

    pub(crate) fn set_full_server_name(&self, path: &Path) {
        if let Some(core) = self.core() {
            core.set_server_path(Some(path.to_owned()))
        }
    }
}
