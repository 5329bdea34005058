//! `LocalServer`, Qt's `QLocalServer`, on Unix domain stream sockets.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use slotnet_core::{AsObject, Object};

use crate::error::SocketError;
use crate::local::{server_path, LocalSocket};
use crate::server::{impl_server_common, ServerCore};
use crate::sys::RawListener;

/// A Unix domain socket server on the event loop (Qt's `QLocalServer`).
///
/// Same accepting API as [`TcpServer`](crate::TcpServer); connections are
/// [`LocalSocket`]s. The socket file is removed when the server stops listening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalServer {
    obj: Object,
}

impl_server_common!(LocalServer, LocalSocket);

impl Default for LocalServer {
    fn default() -> Self {
        LocalServer::new()
    }
}

/// What is at a socket path before listening on it.
enum Existing {
    Nothing,
    /// A socket file nobody accepts on (a crashed server's leftover).
    Stale,
    InUse(SocketError, String),
}

fn inspect(path: &Path) -> Existing {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(_) => return Existing::Nothing,
    };
    if !meta.file_type().is_socket() {
        // Never delete a file that is not a socket.
        return Existing::InUse(
            SocketError::AddressInUseError,
            format!("{} exists and is not a socket", path.display()),
        );
    }
    // Non-blocking, so a live server with a full backlog cannot stall the loop.
    match mio::net::UnixStream::connect(path) {
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => Existing::Stale,
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Existing::InUse(
            SocketError::AddressInUseError,
            format!("a server is listening on {}", path.display()),
        ),
        Err(e) => Existing::InUse(SocketError::from_io(&e), e.to_string()),
        Ok(_) => Existing::InUse(
            SocketError::AddressInUseError,
            format!("a server is listening on {}", path.display()),
        ),
    }
}

impl LocalServer {
    /// A new server, not listening.
    pub fn new() -> LocalServer {
        LocalServer {
            obj: ServerCore::create(None),
        }
    }

    /// A new server owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> LocalServer {
        LocalServer {
            obj: ServerCore::create(Some(parent.as_object())),
        }
    }

    /// Listens on `name`: a path, or a bare name placed in the temporary directory. A stale
    /// socket file (left by a server that is gone: connecting to it is refused) is removed
    /// first; a live server or a file that is not a socket makes this fail with
    /// `AddressInUseError`.
    pub fn listen(&self, name: &str) -> bool {
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
        let path = server_path(name);
        match inspect(&path) {
            Existing::Nothing => {}
            Existing::Stale => {
                if let Err(e) = std::fs::remove_file(&path) {
                    core.set_io_error(&e);
                    return false;
                }
            }
            Existing::InUse(code, message) => {
                core.set_error(code, &message);
                return false;
            }
        }
        let listener = match mio::net::UnixListener::bind(&path) {
            Ok(listener) => listener,
            Err(e) => {
                core.set_io_error(&e);
                return false;
            }
        };
        match core.start(RawListener::Unix(listener), None, Some(path.clone()), name) {
            Ok(()) => true,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                core.set_io_error(&e);
                false
            }
        }
    }

    /// Removes the socket file for `name` (Qt's `removeServer`), for instance one left by a
    /// crashed server. Returns whether a file was removed.
    pub fn remove_server(name: &str) -> bool {
        std::fs::remove_file(server_path(name)).is_ok()
    }

    /// The name given to `listen`.
    pub fn server_name(&self) -> String {
        self.core().map(|c| c.server_name()).unwrap_or_default()
    }

    /// The path of the socket file while listening.
    pub fn full_server_name(&self) -> Option<PathBuf> {
        self.core().and_then(|c| c.socket_path())
    }
}
