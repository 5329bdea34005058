//! Socket states, errors and options, with Qt's names (`QAbstractSocket::SocketState`,
//! `SocketError`, `SocketOption`).

use std::fmt;
use std::io;

/// The state of a socket (Qt's `QAbstractSocket::SocketState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SocketState {
    /// Not connected.
    #[default]
    Unconnected,
    /// Looking up the host name given to `connect_to_host`.
    HostLookup,
    /// The connection is being established.
    Connecting,
    /// The connection is established.
    Connected,
    /// Bound to an address and port (servers use `Listening`).
    Bound,
    /// Listening for connections (servers).
    Listening,
    /// About to close: the write buffer is being flushed (see `disconnect_from_host`).
    Closing,
}

impl SocketState {
    /// Qt's name for the state (`"ConnectedState"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SocketState::Unconnected => "UnconnectedState",
            SocketState::HostLookup => "HostLookupState",
            SocketState::Connecting => "ConnectingState",
            SocketState::Connected => "ConnectedState",
            SocketState::Bound => "BoundState",
            SocketState::Listening => "ListeningState",
            SocketState::Closing => "ClosingState",
        }
    }
}

impl fmt::Display for SocketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong with a socket (Qt's `QAbstractSocket::SocketError`; the variant names are
/// Qt's, so that [`SocketError::name`] gives the exact Qt spelling).
///
/// Local sockets use the same codes: Qt's `QLocalSocket::ServerNotFoundError` is
/// `HostNotFoundError` and `PeerClosedError` is `RemoteHostClosedError`, as in Qt where the
/// local codes are aliases of these.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketError {
    /// The peer refused the connection (or it timed out at the TCP level).
    ConnectionRefusedError,
    /// The remote host closed the connection.
    RemoteHostClosedError,
    /// The host address (or local server name) was not found.
    HostNotFoundError,
    /// The operation lacked the required privileges.
    SocketAccessError,
    /// The system ran out of a resource (too many open files, memory).
    SocketResourceError,
    /// The operation timed out.
    SocketTimeoutError,
    /// A datagram was larger than the operating system's limit.
    DatagramTooLargeError,
    /// A network error occurred (unreachable network, cable unplugged).
    NetworkError,
    /// The address is already in use by another socket.
    AddressInUseError,
    /// The address does not belong to this host.
    SocketAddressNotAvailableError,
    /// The operation is not supported by the operating system or the socket type.
    UnsupportedSocketOperationError,
    /// The proxy requires authentication.
    ProxyAuthenticationRequiredError,
    /// The TLS handshake failed.
    SslHandshakeFailedError,
    /// The last operation has not finished yet (still in progress in the background).
    UnfinishedSocketOperationError,
    /// The proxy server refused the connection.
    ProxyConnectionRefusedError,
    /// The proxy server closed the connection unexpectedly.
    ProxyConnectionClosedError,
    /// The proxy server timed out or stopped responding.
    ProxyConnectionTimeoutError,
    /// The proxy address was not found.
    ProxyNotFoundError,
    /// The proxy's response could not be understood.
    ProxyProtocolError,
    /// The operation is not allowed in the socket's current state.
    OperationError,
    /// The TLS library reported an internal error.
    SslInternalError,
    /// Invalid data (certificate, key, cipher) was given to the TLS library.
    SslInvalidUserDataError,
    /// A temporary error occurred (the operation would block); try again later.
    TemporaryError,
    /// An unidentified error.
    UnknownSocketError,
}

impl SocketError {
    /// Qt's exact name for the code (`"ConnectionRefusedError"`, ...).
    pub fn name(self) -> &'static str {
        use SocketError::*;
        match self {
            ConnectionRefusedError => "ConnectionRefusedError",
            RemoteHostClosedError => "RemoteHostClosedError",
            HostNotFoundError => "HostNotFoundError",
            SocketAccessError => "SocketAccessError",
            SocketResourceError => "SocketResourceError",
            SocketTimeoutError => "SocketTimeoutError",
            DatagramTooLargeError => "DatagramTooLargeError",
            NetworkError => "NetworkError",
            AddressInUseError => "AddressInUseError",
            SocketAddressNotAvailableError => "SocketAddressNotAvailableError",
            UnsupportedSocketOperationError => "UnsupportedSocketOperationError",
            ProxyAuthenticationRequiredError => "ProxyAuthenticationRequiredError",
            SslHandshakeFailedError => "SslHandshakeFailedError",
            UnfinishedSocketOperationError => "UnfinishedSocketOperationError",
            ProxyConnectionRefusedError => "ProxyConnectionRefusedError",
            ProxyConnectionClosedError => "ProxyConnectionClosedError",
            ProxyConnectionTimeoutError => "ProxyConnectionTimeoutError",
            ProxyNotFoundError => "ProxyNotFoundError",
            ProxyProtocolError => "ProxyProtocolError",
            OperationError => "OperationError",
            SslInternalError => "SslInternalError",
            SslInvalidUserDataError => "SslInvalidUserDataError",
            TemporaryError => "TemporaryError",
            UnknownSocketError => "UnknownSocketError",
        }
    }

    /// A generic human-readable description (a socket's `error_string()` is more specific
    /// when the system gave a reason).
    pub fn description(self) -> &'static str {
        use SocketError::*;
        match self {
            ConnectionRefusedError => "Connection refused",
            RemoteHostClosedError => "The remote host closed the connection",
            HostNotFoundError => "Host not found",
            SocketAccessError => "Permission denied",
            SocketResourceError => "Insufficient resources",
            SocketTimeoutError => "Socket operation timed out",
            DatagramTooLargeError => "Datagram was too large to send",
            NetworkError => "Network unreachable",
            AddressInUseError => "Address in use",
            SocketAddressNotAvailableError => "The address is not available",
            UnsupportedSocketOperationError => "Unsupported socket operation",
            ProxyAuthenticationRequiredError => "Proxy authentication required",
            SslHandshakeFailedError => "TLS handshake failed",
            UnfinishedSocketOperationError => "Operation on socket is not finished",
            ProxyConnectionRefusedError => "Connection refused by the proxy",
            ProxyConnectionClosedError => "Proxy connection closed prematurely",
            ProxyConnectionTimeoutError => "Proxy connection timed out",
            ProxyNotFoundError => "Proxy host not found",
            ProxyProtocolError => "Invalid proxy response",
            OperationError => "Operation not permitted in the current state",
            SslInternalError => "TLS internal error",
            SslInvalidUserDataError => "Invalid TLS user data",
            TemporaryError => "Temporary error, try again",
            UnknownSocketError => "Unknown error",
        }
    }

    /// Maps an operating-system error to the closest code.
    pub fn from_io(err: &io::Error) -> SocketError {
        use io::ErrorKind as K;
        if let Some(code) = err.raw_os_error() {
            match code {
                libc::ECONNREFUSED => return SocketError::ConnectionRefusedError,
                libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED => {
                    return SocketError::RemoteHostClosedError
                }
                libc::ETIMEDOUT => return SocketError::SocketTimeoutError,
                libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN => {
                    return SocketError::NetworkError
                }
                libc::EADDRINUSE => return SocketError::AddressInUseError,
                libc::EADDRNOTAVAIL => return SocketError::SocketAddressNotAvailableError,
                libc::EACCES | libc::EPERM => return SocketError::SocketAccessError,
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => {
                    return SocketError::SocketResourceError
                }
                libc::EMSGSIZE => return SocketError::DatagramTooLargeError,
                libc::ENOENT => return SocketError::HostNotFoundError,
                libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::EOPNOTSUPP => {
                    return SocketError::UnsupportedSocketOperationError
                }
                libc::EAGAIN => return SocketError::TemporaryError,
                _ => {}
            }
        }
        match err.kind() {
            K::ConnectionRefused => SocketError::ConnectionRefusedError,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                SocketError::RemoteHostClosedError
            }
            K::TimedOut => SocketError::SocketTimeoutError,
            K::AddrInUse => SocketError::AddressInUseError,
            K::AddrNotAvailable => SocketError::SocketAddressNotAvailableError,
            K::PermissionDenied => SocketError::SocketAccessError,
            K::NotFound => SocketError::HostNotFoundError,
            K::WouldBlock => SocketError::TemporaryError,
            K::Unsupported => SocketError::UnsupportedSocketOperationError,
            K::OutOfMemory => SocketError::SocketResourceError,
            _ => SocketError::UnknownSocketError,
        }
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for SocketError {}

/// Options that can be set on a socket (Qt's `QAbstractSocket::SocketOption`). Values are
/// integers as in Qt (`1`/`0` for the boolean ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketOption {
    /// `TCP_NODELAY`: disable Nagle's algorithm. On by default for [`crate::TcpSocket`], as
    /// request/response protocols want it.
    LowDelay,
    /// `SO_KEEPALIVE`: send TCP keep-alive probes on an idle connection.
    KeepAlive,
    /// Multicast TTL: not applicable to stream sockets (setting it fails).
    MulticastTtl,
    /// Multicast loopback: not applicable to stream sockets (setting it fails).
    MulticastLoopback,
    /// `IP_TOS`: the type-of-service byte of outgoing IPv4 packets.
    TypeOfService,
    /// `SO_SNDBUF`: the kernel's send buffer size.
    SendBufferSize,
    /// `SO_RCVBUF`: the kernel's receive buffer size.
    ReceiveBufferSize,
    /// `IP_MTU`: the path MTU (read-only, connected TCP sockets).
    PathMtu,
}

impl SocketOption {
    /// Qt's name for the option (`"LowDelayOption"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SocketOption::LowDelay => "LowDelayOption",
            SocketOption::KeepAlive => "KeepAliveOption",
            SocketOption::MulticastTtl => "MulticastTtlOption",
            SocketOption::MulticastLoopback => "MulticastLoopbackOption",
            SocketOption::TypeOfService => "TypeOfServiceOption",
            SocketOption::SendBufferSize => "SendBufferSizeSocketOption",
            SocketOption::ReceiveBufferSize => "ReceiveBufferSizeSocketOption",
            SocketOption::PathMtu => "PathMtuSocketOption",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_qt_names() {
        assert_eq!(
            SocketError::ConnectionRefusedError.name(),
            "ConnectionRefusedError"
        );
        assert_eq!(
            SocketError::SocketAddressNotAvailableError.name(),
            "SocketAddressNotAvailableError"
        );
        assert_eq!(SocketError::UnknownSocketError.name(), "UnknownSocketError");
        assert_eq!(SocketState::Closing.name(), "ClosingState");
        assert_eq!(SocketOption::LowDelay.name(), "LowDelayOption");
    }

    #[test]
    fn io_errors_map_to_codes() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            SocketError::from_io(&refused),
            SocketError::ConnectionRefusedError
        );
        let reset = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(
            SocketError::from_io(&reset),
            SocketError::RemoteHostClosedError
        );
        let files = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            SocketError::from_io(&files),
            SocketError::SocketResourceError
        );
        let other = io::Error::other("strange");
        assert_eq!(
            SocketError::from_io(&other),
            SocketError::UnknownSocketError
        );
    }
}
