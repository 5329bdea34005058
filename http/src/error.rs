//! `NetworkError`, Qt's `QNetworkReply::NetworkError`, and how HTTP statuses map onto it.

use std::fmt;

/// Why a reply failed, with Qt's names and numeric values (`QNetworkReply::NetworkError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
#[allow(missing_docs)] // each variant is documented by its Qt name and `description()`
pub enum NetworkError {
    #[default]
    NoError = 0,
    // Network layer errors (1-99)
    ConnectionRefusedError = 1,
    RemoteHostClosedError = 2,
    HostNotFoundError = 3,
    TimeoutError = 4,
    OperationCanceledError = 5,
    SslHandshakeFailedError = 6,
    TemporaryNetworkFailureError = 7,
    NetworkSessionFailedError = 8,
    BackgroundRequestNotAllowedError = 9,
    TooManyRedirectsError = 10,
    InsecureRedirectError = 11,
    UnknownNetworkError = 99,
    // Proxy errors (101-199)
    ProxyConnectionRefusedError = 101,
    ProxyConnectionClosedError = 102,
    ProxyNotFoundError = 103,
    ProxyTimeoutError = 104,
    ProxyAuthenticationRequiredError = 105,
    UnknownProxyError = 199,
    // Content errors (201-299)
    ContentAccessDenied = 201,
    ContentOperationNotPermittedError = 202,
    ContentNotFoundError = 203,
    AuthenticationRequiredError = 204,
    ContentReSendError = 205,
    ContentConflictError = 206,
    ContentGoneError = 207,
    UnknownContentError = 299,
    // Protocol errors (301-399)
    ProtocolUnknownError = 301,
    ProtocolInvalidOperationError = 302,
    ProtocolFailure = 399,
    // Server-side errors (401-499)
    InternalServerError = 401,
    OperationNotImplementedError = 402,
    ServiceUnavailableError = 403,
    UnknownServerError = 499,
}

impl NetworkError {
    /// Qt's enumerator name, as printed in traces (`ContentNotFoundError`).
    pub fn name(self) -> &'static str {
        use NetworkError::*;
        match self {
            NoError => "NoError",
            ConnectionRefusedError => "ConnectionRefusedError",
            RemoteHostClosedError => "RemoteHostClosedError",
            HostNotFoundError => "HostNotFoundError",
            TimeoutError => "TimeoutError",
            OperationCanceledError => "OperationCanceledError",
            SslHandshakeFailedError => "SslHandshakeFailedError",
            TemporaryNetworkFailureError => "TemporaryNetworkFailureError",
            NetworkSessionFailedError => "NetworkSessionFailedError",
            BackgroundRequestNotAllowedError => "BackgroundRequestNotAllowedError",
            TooManyRedirectsError => "TooManyRedirectsError",
            InsecureRedirectError => "InsecureRedirectError",
            UnknownNetworkError => "UnknownNetworkError",
            ProxyConnectionRefusedError => "ProxyConnectionRefusedError",
            ProxyConnectionClosedError => "ProxyConnectionClosedError",
            ProxyNotFoundError => "ProxyNotFoundError",
            ProxyTimeoutError => "ProxyTimeoutError",
            ProxyAuthenticationRequiredError => "ProxyAuthenticationRequiredError",
            UnknownProxyError => "UnknownProxyError",
            ContentAccessDenied => "ContentAccessDenied",
            ContentOperationNotPermittedError => "ContentOperationNotPermittedError",
            ContentNotFoundError => "ContentNotFoundError",
            AuthenticationRequiredError => "AuthenticationRequiredError",
            ContentReSendError => "ContentReSendError",
            ContentConflictError => "ContentConflictError",
            ContentGoneError => "ContentGoneError",
            UnknownContentError => "UnknownContentError",
            ProtocolUnknownError => "ProtocolUnknownError",
            ProtocolInvalidOperationError => "ProtocolInvalidOperationError",
            ProtocolFailure => "ProtocolFailure",
            InternalServerError => "InternalServerError",
            OperationNotImplementedError => "OperationNotImplementedError",
            ServiceUnavailableError => "ServiceUnavailableError",
            UnknownServerError => "UnknownServerError",
        }
    }

    /// Qt's numeric value.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// A generic English description, used when no more specific message is known.
    pub fn description(self) -> &'static str {
        use NetworkError::*;
        match self {
            NoError => "No error",
            ConnectionRefusedError => "Connection refused",
            RemoteHostClosedError => "Connection closed",
            HostNotFoundError => "Host not found",
            TimeoutError => "Operation timed out",
            OperationCanceledError => "Operation canceled",
            SslHandshakeFailedError => "SSL handshake failed",
            TemporaryNetworkFailureError => "Temporary network failure",
            NetworkSessionFailedError => "Network session error",
            BackgroundRequestNotAllowedError => "Background request not allowed",
            TooManyRedirectsError => "Too many redirects",
            InsecureRedirectError => "Insecure redirect",
            UnknownNetworkError => "Unknown network error",
            ProxyConnectionRefusedError => "Proxy connection refused",
            ProxyConnectionClosedError => "Proxy connection closed prematurely",
            ProxyNotFoundError => "Proxy host not found",
            ProxyTimeoutError => "Proxy connection timed out",
            ProxyAuthenticationRequiredError => "Proxy requires authentication",
            UnknownProxyError => "Unknown proxy error",
            ContentAccessDenied => "Access denied",
            ContentOperationNotPermittedError => "Operation not permitted",
            ContentNotFoundError => "Not found",
            AuthenticationRequiredError => "Host requires authentication",
            ContentReSendError => "Request body could not be sent again",
            ContentConflictError => "Conflict",
            ContentGoneError => "Gone",
            UnknownContentError => "Unknown content error",
            ProtocolUnknownError => "Protocol unknown",
            ProtocolInvalidOperationError => "Invalid operation for this protocol",
            ProtocolFailure => "Protocol error",
            InternalServerError => "Internal server error",
            OperationNotImplementedError => "Operation not implemented",
            ServiceUnavailableError => "Service unavailable",
            UnknownServerError => "Unknown server error",
        }
    }

    /// The error Qt reports for an HTTP status, or `NoError` below 400.
    pub fn from_http_status(status: u16) -> NetworkError {
        use NetworkError::*;
        match status {
            0..=399 => NoError,
            400 | 418 => ProtocolInvalidOperationError,
            401 => AuthenticationRequiredError,
            403 => ContentAccessDenied,
            404 => ContentNotFoundError,
            405 => ContentOperationNotPermittedError,
            407 => ProxyAuthenticationRequiredError,
            409 => ContentConflictError,
            410 => ContentGoneError,
            500 => InternalServerError,
            501 => OperationNotImplementedError,
            503 => ServiceUnavailableError,
            502 | 504..=599 => UnknownServerError,
            _ => UnknownContentError,
        }
    }

    /// Whether this error class means the server answered (content and server errors), so
    /// the body is readable.
    pub fn is_http_status_error(self) -> bool {
        let code = self.code();
        (201..=299).contains(&code)
            || (401..=499).contains(&code)
            || self == Self::ProtocolInvalidOperationError
    }
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for NetworkError {}

/// Qt's message for an HTTP error status: `Error transferring URL - server replied: REASON`.
pub fn http_status_error_string(url: &str, reason: &str) -> String {
    format!("Error transferring {url} - server replied: {reason}")
}

/// The text Qt's HTTP engine gives a reply that failed at the transport (the error details
/// of `QHttpNetworkConnection`): "Connection refused", "Host HOST not found", "Connection
/// closed", "Socket operation timed out", "SSL handshake failed: DETAIL". `host` is the host
/// the connection was for; `detail` is the socket's own text, which Qt keeps for the other
/// errors (proxy errors, for instance).
pub(crate) fn transport_error_string(error: NetworkError, host: &str, detail: &str) -> String {
    use NetworkError::*;
    match error {
        HostNotFoundError => format!("Host {host} not found"),
        ConnectionRefusedError => "Connection refused".to_owned(),
        RemoteHostClosedError => "Connection closed".to_owned(),
        TimeoutError => "Socket operation timed out".to_owned(),
        ProxyAuthenticationRequiredError => "Proxy requires authentication".to_owned(),
        SslHandshakeFailedError if detail.is_empty() => "SSL handshake failed".to_owned(),
        SslHandshakeFailedError => format!("SSL handshake failed: {detail}"),
        _ => detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::NetworkError::*;
    use super::*;

    #[test]
    fn status_mapping_matches_qt() {
        let table = [
            (200, NoError),
            (302, NoError),
            (400, ProtocolInvalidOperationError),
            (401, AuthenticationRequiredError),
            (402, UnknownContentError),
            (403, ContentAccessDenied),
            (404, ContentNotFoundError),
            (405, ContentOperationNotPermittedError),
            (407, ProxyAuthenticationRequiredError),
            (409, ContentConflictError),
            (410, ContentGoneError),
            (413, UnknownContentError),
            (418, ProtocolInvalidOperationError),
            (500, InternalServerError),
            (501, OperationNotImplementedError),
            (502, UnknownServerError),
            (503, ServiceUnavailableError),
            (599, UnknownServerError),
            (600, UnknownContentError),
        ];
        for (status, error) in table {
            assert_eq!(
                NetworkError::from_http_status(status),
                error,
                "status {status}"
            );
        }
    }

    #[test]
    fn transport_texts_are_qts() {
        let text = |e| transport_error_string(e, "example.invalid", "os text (os error 111)");
        assert_eq!(text(ConnectionRefusedError), "Connection refused");
        assert_eq!(text(HostNotFoundError), "Host example.invalid not found");
        assert_eq!(text(RemoteHostClosedError), "Connection closed");
        assert_eq!(text(TimeoutError), "Socket operation timed out");
        assert_eq!(text(ProxyConnectionRefusedError), "os text (os error 111)");
        assert_eq!(
            transport_error_string(SslHandshakeFailedError, "h", "The certificate has expired"),
            "SSL handshake failed: The certificate has expired"
        );
    }

    #[test]
    fn names_and_codes_are_qts() {
        assert_eq!(ContentNotFoundError.name(), "ContentNotFoundError");
        assert_eq!(ContentNotFoundError.code(), 203);
        assert_eq!(UnknownServerError.code(), 499);
        assert_eq!(OperationCanceledError.to_string(), "OperationCanceledError");
    }
}
