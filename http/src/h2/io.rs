//! [`CheckedIo`]: a server connection's [`SocketIo`] whose inbound bytes pass the HTTP/2
//! frame pre-check before h2 reads them.
//!
//! The adapter itself is general-purpose and lives in slotnet-net
//! ([`slotnet_net::async_io`]); it is re-exported here under its old path.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use slotnet_net::async_io::{SocketIo, WRITE_HIGH_WATER};

use super::precheck::{FramePrecheck, Rejection, StreamError};

/// RST_STREAM's frame type and WINDOW_UPDATE's (RFC 9113, 6.4 and 6.9).
const RST_STREAM: u8 = 0x3;
const WINDOW_UPDATE: u8 = 0x8;

/// A frame of `kind` on `stream` with a 4-octet payload.
fn frame4(kind: u8, stream: u32, value: u32) -> [u8; 13] {
    let mut f = [0; 13];
    f[2] = 4;
    f[3] = kind;
    f[5..9].copy_from_slice(&stream.to_be_bytes());
    f[9..].copy_from_slice(&value.to_be_bytes());
    f
}

/// What a [`CheckedIo`] found: the GOAWAY code the connection's task must end with.
pub type PrecheckVerdict = Rc<Cell<Option<::h2::Reason>>>;

/// The rapid-reset guard (CVE-2023-44487): at most `limit` RST_STREAM frames from the client
/// per `window`; one more and the connection ends with GOAWAY(ENHANCE_YOUR_CALM). Every
/// HTTP/2 server connection has one, in its [`CheckedIo`]: a client that opens streams and
/// resets them makes the server start work that no longer counts towards its stream limit.
/// Counted where the frames arrive, whatever the stream's state (waiting to be accepted,
/// being answered, answered), so every way of serving HTTP/2 gets the same guard.
#[derive(Debug, Clone)]
pub struct ResetGuard {
    limit: u32,
    window: Duration,
    since: Instant,
    count: u32,
    /// The pre-check's reset count already recorded.
    seen: u64,
}

impl ResetGuard {
    /// A guard allowing `limit` client resets per `window` (see
    /// [`HttpServerConfiguration::http2_max_reset_streams`](crate::server::HttpServerConfiguration::http2_max_reset_streams)).
    pub fn new(limit: u32, window: Duration) -> ResetGuard {
        ResetGuard {
            limit,
            window,
            since: Instant::now(),
            count: 0,
            seen: 0,
        }
    }

    /// Records the resets received up to `total` (a running count) at `now`; true when the
    /// client went over the limit.
    fn record(&mut self, total: u64, now: Instant) -> bool {
        let new = total.saturating_sub(self.seen);
        self.seen = total;
        if new == 0 {
            return false;
        }
        if now.duration_since(self.since) > self.window {
            self.since = now;
            self.count = 0;
        }
        self.count = self
            .count
            .saturating_add(u32::try_from(new).unwrap_or(u32::MAX));
        self.count > self.limit
    }
}

/// A server connection's [`SocketIo`] whose inbound bytes pass a [`FramePrecheck`] before h2
/// reads them.
///
/// - A connection error: the offending frame is withheld from h2 (with everything after
///   it); its code is left in the [`PrecheckVerdict`] and the task woken, which then ends
///   the connection with GOAWAY(code) (h2's `abrupt_shutdown`).
/// - A stream error (DATA on a stream the client ended): the frame is taken out and h2
///   reads a RST_STREAM from the client in its place, so it stops answering the stream as
///   if the client had reset it; once h2 has read that, the client is sent
///   RST_STREAM(STREAM_CLOSED) and a WINDOW_UPDATE giving back the connection window the
///   frame used (h2 never counted it), written between h2's frames when h2 flushes.
///   Only this rare path copies bytes.
///
/// The client's RST_STREAM frames are counted by the [`ResetGuard`]: over its limit, the
/// verdict is GOAWAY(ENHANCE_YOUR_CALM), the same way.
#[derive(Debug)]
pub struct CheckedIo {
    io: SocketIo,
    check: FramePrecheck,
    resets: ResetGuard,
    verdict: PrecheckVerdict,
    /// Checked bytes for h2 that did not fit its buffer (after a stream error), from
    /// `held_pos` on.
    held: Vec<u8>,
    held_pos: usize,
    /// Frames for the client (stream errors' answers), from `answers_pos` on: written once
    /// `held` is delivered (h2 then read the stand-in resets) and h2 flushes.
    answers: Vec<u8>,
    answers_pos: usize,
}

impl CheckedIo {
    /// Wraps `io`; the verdict cell is shared with the connection's task.
    pub fn new(
        io: SocketIo,
        check: FramePrecheck,
        resets: ResetGuard,
    ) -> (CheckedIo, PrecheckVerdict) {
        let verdict = PrecheckVerdict::default();
        let checked = CheckedIo {
            io,
            check,
            resets,
            verdict: verdict.clone(),
            held: Vec::new(),
            held_pos: 0,
            answers: Vec::new(),
            answers_pos: 0,
        };
        (checked, verdict)
    }

    /// Copies held bytes into `buf`; whether any were.
    fn deliver_held(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.held_pos == self.held.len() {
            return false;
        }
        let n = buf.remaining().min(self.held.len() - self.held_pos);
        buf.put_slice(&self.held[self.held_pos..self.held_pos + n]);
        self.held_pos += n;
        if self.held_pos == self.held.len() {
            self.held = Vec::new();
            self.held_pos = 0;
        }
        n > 0
    }

    /// The bytes h2 reads instead of `bytes` once a stream error was found in them (at
    /// `first`, or else while checking from `start`), and the connection error that ended
    /// the check, if one did.
    fn filter(
        &mut self,
        bytes: &[u8],
        mut start: usize,
        mut first: Option<StreamError>,
    ) -> (Vec<u8>, Option<::h2::Reason>) {
        let mut out = Vec::with_capacity(bytes.len() + 13);
        loop {
            let error = match first.take() {
                Some(error) => error,
                None => match self.check.check(&bytes[start..]) {
                    Ok(()) => {
                        out.extend_from_slice(&bytes[start..]);
                        return (out, None);
                    }
                    Err(Rejection::Connection(v)) => {
                        out.extend_from_slice(&bytes[start..start + v.pass]);
                        return (out, Some(v.reason));
                    }
                    Err(Rejection::Stream(error)) => error,
                },
            };
            out.extend_from_slice(&bytes[start..start + error.pass]);
            // In the offending frame's place, for h2: the client "reset" the stream.
            out.extend_from_slice(&frame4(RST_STREAM, error.stream, error.reason.into()));
            self.answers
                .extend_from_slice(&frame4(RST_STREAM, error.stream, error.reason.into()));
            if error.flow_len > 0 {
                self.answers
                    .extend_from_slice(&frame4(WINDOW_UPDATE, 0, error.flow_len));
            }
            start += error.header_end;
            start += self.check.drop_payload(&bytes[start..]);
        }
    }

    /// Writes the stream errors' answers (see [`CheckedIo`]), all of them or `Pending`.
    fn poll_answers(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.answers_pos < self.answers.len() {
            let n = match Pin::new(&mut self.io).poll_write(cx, &self.answers[self.answers_pos..]) {
                Poll::Ready(result) => result?,
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.answers_pos += n;
        }
        self.answers = Vec::new();
        self.answers_pos = 0;
        Poll::Ready(Ok(()))
    }

    /// Answers partly written: they must be finished before h2 writes anything else.
    fn answering(&self) -> bool {
        self.answers_pos > 0
    }
}

impl AsyncRead for CheckedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.deliver_held(buf) {
            return Poll::Ready(Ok(()));
        }
        if me.check.violated() {
            // Nothing more reaches h2: the task is ending the connection.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        if let Poll::Ready(result) = Pin::new(&mut me.io).poll_read(cx, buf) {
            result?;
        } else {
            return Poll::Pending;
        }
        let read = &buf.filled()[before..];
        let dropped = me.check.drop_payload(read);
        let first = if dropped > 0 || read.is_empty() {
            None
        } else {
            match me.check.check(read) {
                Ok(()) => {
                    me.guard_resets(cx);
                    return Poll::Ready(Ok(()));
                }
                Err(Rejection::Connection(violation)) => {
                    buf.set_filled(before + violation.pass);
                    return me.reject(cx, violation.reason, violation.pass);
                }
                Err(Rejection::Stream(error)) => Some(error),
            }
        };
        if read.is_empty() {
            // The end of the stream.
            return Poll::Ready(Ok(()));
        }
        // The rare path: a frame is taken out.
        let bytes = read.to_vec();
        let (out, violation) = me.filter(&bytes, dropped, first);
        buf.set_filled(before);
        me.held = out;
        me.held_pos = 0;
        let delivered = me.deliver_held(buf);
        me.guard_resets(cx);
        if let Some(reason) = violation {
            // Held bytes before the offending frame still go to h2 first.
            return me.reject(cx, reason, usize::from(delivered));
        }
        if delivered {
            Poll::Ready(Ok(()))
        } else {
            // Zero bytes would read as the end of the stream: come back for more.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl CheckedIo {
    /// Feeds the client's resets counted so far to the [`ResetGuard`]; over its limit, the
    /// task is woken to send GOAWAY(ENHANCE_YOUR_CALM) (h2 may read the bytes already
    /// checked; a stream accepted from them is refused).
    fn guard_resets(&mut self, cx: &mut Context<'_>) {
        let total = self.check.resets_received();
        if total > self.resets.seen
            && self.resets.record(total, Instant::now())
            && self.verdict.get().is_none()
        {
            self.verdict.set(Some(::h2::Reason::ENHANCE_YOUR_CALM));
            cx.waker().wake_by_ref();
        }
    }

    /// A connection error: the task is woken to send GOAWAY(`reason`); `passing` says
    /// whether bytes before the offending frame go to h2 now.
    fn reject(
        &mut self,
        cx: &mut Context<'_>,
        reason: ::h2::Reason,
        passing: usize,
    ) -> Poll<io::Result<()>> {
        self.verdict.set(Some(reason));
        cx.waker().wake_by_ref();
        if passing == 0 {
            // Zero bytes would read as the end of the stream.
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

impl AsyncWrite for CheckedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.answering() {
            if let Poll::Ready(Err(e)) = me.poll_answers(cx) {
                return Poll::Ready(Err(e));
            }
            if me.answering() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut me.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.answering() {
            if let Poll::Ready(Err(e)) = me.poll_answers(cx) {
                return Poll::Ready(Err(e));
            }
            if me.answering() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut me.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        // h2 flushes after writing all it had: a frame boundary. The answers go once h2
        // read the stand-in resets (all held bytes delivered).
        if !me.answers.is_empty() && me.held.is_empty() && me.poll_answers(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut me.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_guard_trips_past_its_limit_and_forgets_old_resets() {
        let window = Duration::from_secs(10);
        let mut guard = ResetGuard::new(200, window);
        let start = guard.since;
        for total in 1..=200 {
            assert!(!guard.record(total, start));
        }
        assert!(!guard.record(200, start), "nothing new");
        assert!(guard.record(201, start));
        let later = start + window + Duration::from_millis(1);
        assert!(!guard.record(202, later), "a new window");
        // Many at once count as many.
        let mut burst = ResetGuard::new(200, window);
        assert!(burst.record(201, burst.since));
    }
}
