//! The TLS socket glue's per-connection state as one value: where the TLS session is, whether
//! the user asked to close, and how the peer's end of the stream has been reported. The glue
//! keeps it in one `Cell` (no borrow to hold across a signal); the transitions here return
//! what the glue must emit, and the glue emits it afterwards.

use crate::error::SocketError;

/// Where the connection's TLS is, as the socket reports it (readable while a pass of the
/// pump runs, unlike the pump's own phase).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum TlsStage {
    /// No session: unencrypted, or not started yet.
    #[default]
    Off,
    /// The handshake runs.
    Handshaking,
    /// The handshake completed (`encrypted` was emitted).
    Encrypted,
    /// A TLS error was reported; the connection is going away. `encrypted`: whether the
    /// handshake had completed (the socket still says so until the connection ends).
    Failed { encrypted: bool },
}

/// How the end of the peer's stream has been reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum PeerEnd {
    /// Not ended (as far as the user knows).
    #[default]
    Open,
    /// The transport reached end of file (and closed) while bytes still waited behind a
    /// full read buffer: the end-of-stream signals wait until the user has read up to that
    /// point, as a TCP socket only sees end of file then; `withheld` is the transport's
    /// error held back meanwhile.
    Pending { withheld: Option<SocketError> },
    /// `read_channel_finished` has been emitted.
    Finished,
}

/// One connection's state (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnState {
    pub(crate) tls: TlsStage,
    /// `disconnect_from_host`: send close_notify once the write queue is empty.
    pub(crate) close_requested: bool,
    pub(crate) peer_end: PeerEnd,
    /// `RemoteHostClosedError` has been reported for this connection.
    pub(crate) remote_closed_reported: bool,
}

impl ConnState {
    /// Whether the socket reports itself encrypted.
    pub(crate) fn is_encrypted(&self) -> bool {
        matches!(
            self.tls,
            TlsStage::Encrypted | TlsStage::Failed { encrypted: true }
        )
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self.tls, TlsStage::Failed { .. })
    }

    pub(crate) fn eof_pending(&self) -> bool {
        matches!(self.peer_end, PeerEnd::Pending { .. })
    }

    /// The connection ends: the session and a close request go; a failure is remembered
    /// (writes stay refused) until the next connection; the held-back end is dropped.
    pub(crate) fn end(&mut self) {
        self.tls = match self.tls {
            TlsStage::Failed { .. } => TlsStage::Failed { encrypted: false },
            _ => TlsStage::Off,
        };
        self.close_requested = false;
        if self.eof_pending() {
            self.peer_end = PeerEnd::Open;
        }
    }

    /// A TLS error was reported: writes are refused until the next connection.
    pub(crate) fn fail(&mut self) {
        self.tls = TlsStage::Failed {
            encrypted: self.is_encrypted(),
        };
    }

    /// The peer's stream ended for the user: true if `read_channel_finished` is to be
    /// emitted (not yet emitted for this connection).
    pub(crate) fn finish_read(&mut self) -> bool {
        std::mem::replace(&mut self.peer_end, PeerEnd::Finished) != PeerEnd::Finished
    }

    /// The transport ended with bytes undelivered: hold its end back (unless the end was
    /// reported already).
    pub(crate) fn hold_end(&mut self) {
        if self.peer_end != PeerEnd::Finished {
            self.peer_end = PeerEnd::Pending { withheld: None };
        }
    }

    /// The transport reported `error` while its end is held back: keep the first one.
    /// Returns false if nothing is held back (the error is to be handled now).
    pub(crate) fn withhold(&mut self, error: SocketError) -> bool {
        match &mut self.peer_end {
            PeerEnd::Pending { withheld } => {
                withheld.get_or_insert(error);
                true
            }
            _ => false,
        }
    }

    /// The user has read up to the held-back end: `None` if nothing was held back, else
    /// the error to report (the transport's, or `RemoteHostClosedError`). The end itself
    /// is reported with [`Self::finish_read`].
    pub(crate) fn release_end(&mut self) -> Option<SocketError> {
        let PeerEnd::Pending { withheld } = self.peer_end else {
            return None;
        };
        self.peer_end = PeerEnd::Open;
        Some(withheld.unwrap_or(SocketError::RemoteHostClosedError))
    }

    /// The peer sent close_notify: whatever was held back is covered by what follows.
    pub(crate) fn drop_held_end(&mut self) {
        if self.eof_pending() {
            self.peer_end = PeerEnd::Open;
        }
    }

    /// Whether `error` is news: a `RemoteHostClosedError` is reported once per connection.
    pub(crate) fn report_close(&mut self, error: SocketError) -> bool {
        error != SocketError::RemoteHostClosedError
            || !std::mem::replace(&mut self.remote_closed_reported, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_after_the_handshake_still_reads_encrypted_until_the_connection_ends() {
        let mut conn = ConnState {
            tls: TlsStage::Encrypted,
            ..ConnState::default()
        };
        conn.fail();
        assert!(conn.failed() && conn.is_encrypted());
        conn.end();
        assert!(conn.failed() && !conn.is_encrypted());
        let mut fresh = ConnState {
            tls: TlsStage::Handshaking,
            ..ConnState::default()
        };
        fresh.end();
        assert_eq!(fresh.tls, TlsStage::Off);
    }

    #[test]
    fn a_held_back_end_keeps_the_first_error_and_is_released_once() {
        let mut conn = ConnState::default();
        assert!(
            !conn.withhold(SocketError::NetworkError),
            "nothing held back yet"
        );
        conn.hold_end();
        assert!(conn.eof_pending());
        assert!(conn.withhold(SocketError::NetworkError));
        assert!(conn.withhold(SocketError::RemoteHostClosedError));
        assert_eq!(conn.release_end(), Some(SocketError::NetworkError));
        assert_eq!(conn.release_end(), None);
        assert!(conn.finish_read());
        assert!(!conn.finish_read(), "read_channel_finished is emitted once");
        conn.hold_end();
        assert!(
            !conn.eof_pending(),
            "an end already reported is not held back"
        );
    }

    #[test]
    fn a_clean_end_without_an_error_releases_remote_host_closed() {
        let mut conn = ConnState::default();
        conn.hold_end();
        assert_eq!(conn.release_end(), Some(SocketError::RemoteHostClosedError));
    }

    #[test]
    fn remote_host_closed_is_reported_once_other_errors_always() {
        let mut conn = ConnState::default();
        assert!(conn.report_close(SocketError::RemoteHostClosedError));
        assert!(!conn.report_close(SocketError::RemoteHostClosedError));
        assert!(conn.report_close(SocketError::NetworkError));
    }
}
