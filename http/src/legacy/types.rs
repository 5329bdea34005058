//! The enums of the legacy API: [`ConnectionMode`], [`State`] and [`HttpError`], with Qt's
//! names.

use std::fmt;

/// Whether [`Http`](super::Http) talks plain HTTP or HTTP over TLS (Qt's
/// `QHttp::ConnectionMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ConnectionMode {
    /// Plain HTTP (`ConnectionModeHttp`), port 80 by default.
    #[default]
    Http,
    /// HTTP over TLS (`ConnectionModeHttps`), port 443 by default.
    Https,
}

impl ConnectionMode {
    /// The port used when a host is set with port 0: 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            ConnectionMode::Http => 80,
            ConnectionMode::Https => 443,
        }
    }
}

/// The connection state of an [`Http`](super::Http) object (Qt's `QHttp::State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum State {
    /// There is no connection to the host.
    #[default]
    Unconnected,
    /// A host name lookup is in progress.
    HostLookup,
    /// An attempt to connect to the host is in progress.
    Connecting,
    /// The client is sending its request to the server.
    Sending,
    /// The request has been sent and the client is reading the server's response.
    Reading,
    /// The connection is open, but the client is neither sending a request nor waiting for a
    /// response.
    Connected,
    /// The connection is closing down (it is `Unconnected` once closed).
    Closing,
}

impl State {
    /// Qt's name for the state, as the documentation's signal traces write it
    /// (`"Connecting"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            State::Unconnected => "Unconnected",
            State::HostLookup => "HostLookup",
            State::Connecting => "Connecting",
            State::Sending => "Sending",
            State::Reading => "Reading",
            State::Connected => "Connected",
            State::Closing => "Closing",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong with the last request (Qt's `QHttp::Error`).
///
/// Only unexpected behaviour is an error: a response with an error status (404, 500) is a
/// normal response, to be checked with
/// [`HttpResponseHeader::status_code`](super::HttpResponseHeader::status_code).
#[allow(clippy::enum_variant_names)] // Qt's names
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HttpError {
    /// No error occurred.
    #[default]
    NoError,
    /// An error other than those below occurred (TLS failure, a device that failed, ...).
    UnknownError,
    /// The host name lookup failed.
    HostNotFound,
    /// The server refused the connection.
    ConnectionRefused,
    /// The server closed the connection unexpectedly.
    UnexpectedClose,
    /// The server sent an invalid response header.
    InvalidResponseHeader,
    /// The body could not be read correctly because of an error with respect to its length
    /// (a truncated or malformed body).
    WrongContentLength,
    /// The request was aborted with [`Http::abort`](super::Http::abort).
    Aborted,
    /// The web server requires authentication and none (or no working one) was given.
    AuthenticationRequiredError,
    /// The proxy requires authentication and none (or no working one) was given.
    ProxyAuthenticationRequiredError,
}

impl HttpError {
    /// Qt's name for the code (`"HostNotFound"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            HttpError::NoError => "NoError",
            HttpError::UnknownError => "UnknownError",
            HttpError::HostNotFound => "HostNotFound",
            HttpError::ConnectionRefused => "ConnectionRefused",
            HttpError::UnexpectedClose => "UnexpectedClose",
            HttpError::InvalidResponseHeader => "InvalidResponseHeader",
            HttpError::WrongContentLength => "WrongContentLength",
            HttpError::Aborted => "Aborted",
            HttpError::AuthenticationRequiredError => "AuthenticationRequiredError",
            HttpError::ProxyAuthenticationRequiredError => "ProxyAuthenticationRequiredError",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for HttpError {}
