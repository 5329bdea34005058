//! [`AuthError`]: why a challenge could not be parsed or answered.

use std::fmt;

/// Why an authentication challenge could not be parsed or answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// A `WWW-Authenticate`/`Proxy-Authenticate` value that does not follow RFC 7235.
    MalformedChallenge {
        /// Byte offset in the header value where parsing failed.
        position: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// None of the offered challenges uses a scheme (or Digest algorithm/qop) slotnet
    /// supports.
    NoSupportedChallenge,
    /// A Digest challenge lacks a parameter it needs (`nonce`).
    MissingParameter(&'static str),
    /// Basic authentication cannot carry a user name containing `:` (RFC 7617 section 2).
    InvalidUserName,
    /// The system's random number generator failed while making a client nonce.
    RandomUnavailable,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MalformedChallenge { position, reason } => {
                write!(
                    f,
                    "malformed authentication challenge at byte {position}: {reason}"
                )
            }
            AuthError::NoSupportedChallenge => {
                f.write_str("no supported authentication scheme offered")
            }
            AuthError::MissingParameter(name) => {
                write!(f, "authentication challenge lacks the {name:?} parameter")
            }
            AuthError::InvalidUserName => {
                f.write_str("a user name containing ':' cannot be sent with Basic authentication")
            }
            AuthError::RandomUnavailable => f.write_str("no randomness for the client nonce"),
        }
    }
}

impl std::error::Error for AuthError {}
