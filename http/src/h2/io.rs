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

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use slotnet_net::async_io::{SocketIo, WRITE_HIGH_WATER};

use super::precheck::FramePrecheck;

/// What a [`CheckedIo`] found: the GOAWAY code the connection's task must end with.
pub type PrecheckVerdict = Rc<Cell<Option<::h2::Reason>>>;

/// A server connection's [`SocketIo`] whose inbound bytes pass a [`FramePrecheck`] before h2
/// reads them. The first frame the check rejects is withheld from h2 (with everything after
/// it); its code is left in the [`PrecheckVerdict`] and the task woken, which then ends the
/// connection with GOAWAY(code) (h2's `abrupt_shutdown`). Writes go straight through.
#[derive(Debug)]
pub struct CheckedIo {
    io: SocketIo,
    check: FramePrecheck,
    verdict: PrecheckVerdict,
}

impl CheckedIo {
    /// Wraps `io`; the verdict cell is shared with the connection's task.
    pub fn new(io: SocketIo, check: FramePrecheck) -> (CheckedIo, PrecheckVerdict) {
        let verdict = PrecheckVerdict::default();
        let checked = CheckedIo {
            io,
            check,
            verdict: verdict.clone(),
        };
        (checked, verdict)
    }
}

impl AsyncRead for CheckedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        if me.check.violated() {
            // Nothing more reaches h2: the task is ending the connection.
            return Poll::Pending;
        }
        if let Poll::Ready(result) = Pin::new(&mut me.io).poll_read(cx, buf) {
            result?;
        } else {
            return Poll::Pending;
        }
        let Err(violation) = me.check.check(&buf.filled()[before..]) else {
            return Poll::Ready(Ok(()));
        };
        buf.set_filled(before + violation.pass);
        me.verdict.set(Some(violation.reason));
        cx.waker().wake_by_ref();
        if violation.pass == 0 {
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
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
