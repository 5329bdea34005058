//! What the sans-IO proxy handshakes ([`HttpConnectHandshake`](super::HttpConnectHandshake),
//! [`Socks5Handshake`](super::Socks5Handshake)) report after being fed the proxy's bytes.

use std::fmt;

use crate::error::SocketError;

/// The outcome of feeding a handshake (see the handshakes' `feed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeEvent {
    /// The proxy's answer is incomplete: feed more bytes.
    NeedMore,
    /// The tunnel is up. Bytes left in the input after the proxy's answer are the target's.
    Established,
    /// The proxy wants (other) credentials. Supply them with the handshake's
    /// `set_credentials`, then call `start` again: on a new connection to the proxy if
    /// `reconnect` (the proxy closes this one), else on the same connection.
    AuthenticationRequired {
        /// Whether the retry needs a new connection to the proxy.
        reconnect: bool,
    },
    /// The handshake failed; the connection to the proxy should be closed.
    Failed(ProxyError),
}

/// A failed proxy handshake: Qt's error code and a description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyError {
    /// The socket error code, with Qt's mapping of proxy answers.
    pub code: SocketError,
    /// A human-readable description.
    pub message: String,
}

impl ProxyError {
    /// An error with `code` and `message`.
    pub fn new(code: SocketError, message: impl Into<String>) -> ProxyError {
        ProxyError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.name())
    }
}

impl std::error::Error for ProxyError {}

/// Test helper: feeds `input` to a handshake in pieces cut at `cuts` until it reports
/// something other than `NeedMore`; returns the events and the input left over (what the
/// handshake did not consume, followed by the pieces never fed).
#[cfg(test)]
pub(crate) fn feed_split(
    input: &[u8],
    cuts: &[usize],
    mut feed: impl FnMut(&mut bytes::BytesMut) -> HandshakeEvent,
) -> (Vec<HandshakeEvent>, bytes::BytesMut) {
    let mut buf = bytes::BytesMut::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        buf.extend_from_slice(&input[start..cut]);
        start = cut;
        let event = feed(&mut buf);
        let stop = event != HandshakeEvent::NeedMore;
        events.push(event);
        if stop {
            break;
        }
    }
    buf.extend_from_slice(&input[start..]);
    (events, buf)
}
