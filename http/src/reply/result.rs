//! [`ReplyError`]: a finished reply's outcome as an error value (made by
//! [`NetworkReply::result`](crate::NetworkReply::result)), for `?` into `Box<dyn Error>`,
//! `anyhow` and the like.

use std::fmt;

use url::Url;

use crate::error::NetworkError;

/// Why a reply failed: Qt's error code, the HTTP status if a response arrived, the URL and
/// Qt's message ([`NetworkReply::error_string`](crate::NetworkReply::error_string)). Made by
/// [`NetworkReply::result`](crate::NetworkReply::result).
///
/// Its `Display` gives the code, the status and the message, and the URL when the message
/// does not already name it: `ConnectionRefusedError: Connection refused (http://...)`,
/// `ContentNotFoundError (HTTP 404): Error transferring http://... - server replied: Not Found`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyError {
    kind: NetworkError,
    status: Option<u16>,
    url: Option<Url>,
    message: String,
}

impl ReplyError {
    /// An error that did not come from a finished reply's own fields (a reply destroyed
    /// while something waited for it).
    pub(crate) fn new(kind: NetworkError, url: Option<Url>, message: String) -> ReplyError {
        ReplyError::with_status(kind, None, url, message)
    }

    /// An error with the HTTP status the reply received, if any.
    pub(crate) fn with_status(
        kind: NetworkError,
        status: Option<u16>,
        url: Option<Url>,
        message: String,
    ) -> ReplyError {
        ReplyError {
            kind,
            status,
            url,
            message,
        }
    }

    /// Qt's error code (`NetworkReply::error`).
    pub fn kind(&self) -> NetworkError {
        self.kind
    }

    /// The HTTP status code, if the server answered (`404` for `ContentNotFoundError`).
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The URL of the reply (the last redirect target if it was redirected).
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Qt's human-readable message (`NetworkReply::error_string`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        match &self.url {
            Some(url) if !self.message.contains(url.as_str()) => write!(f, " ({url})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ReplyError {}
