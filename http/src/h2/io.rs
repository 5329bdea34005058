//! [`SocketIo`]: tokio's `AsyncRead`/`AsyncWrite` over a slotnet socket, so the h2 crate can
//! run on the slotnet loop.
//!
//! Reads take what the socket has buffered and return `Pending` when it is empty; the socket's
//! `ready_read` (or the end of the connection) wakes the reader. Writes queue in the socket
//! and return `Pending` once [`WRITE_HIGH_WATER`] bytes wait for the kernel; `bytes_written`
//! wakes the writer. Nothing here blocks and nothing polls in a loop.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::Buf;
use slotnet_core::Connection;
use slotnet_net::{AbstractSocket, SocketState};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::precheck::FramePrecheck;

/// Bytes queued in the socket beyond which writes report `Pending` (backpressure towards h2).
pub const WRITE_HIGH_WATER: usize = 256 * 1024;

/// What the signal slots share with the adapter.
#[derive(Default)]
struct Wakers {
    read: RefCell<Option<Waker>>,
    write: RefCell<Option<Waker>>,
    /// The peer ended its stream (or the connection ended).
    eof: Cell<bool>,
}

impl Wakers {
    fn wake_read(&self) {
        let waker = self.read.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wake_write(&self) {
        let waker = self.write.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// An `AsyncRead + AsyncWrite` view of a connected slotnet socket (TCP, local or TLS).
///
/// The socket keeps its own buffers and keeps flushing on the loop; `poll_flush` therefore
/// completes at once, and `poll_shutdown` starts a graceful close
/// (`disconnect_from_host`). Dropping the adapter disconnects its slots; it does not close
/// the socket.
pub struct SocketIo {
    socket: Rc<dyn AbstractSocket>,
    wakers: Rc<Wakers>,
    slots: Vec<Connection>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo")
            .field("state", &self.socket.state())
            .field("bytes_available", &self.socket.bytes_available())
            .field("bytes_to_write", &self.socket.bytes_to_write())
            .finish()
    }
}

impl Drop for SocketIo {
    fn drop(&mut self) {
        for slot in &self.slots {
            slot.disconnect();
        }
    }
}

impl SocketIo {
    /// Wraps `socket` (normally already connected or encrypted).
    pub fn new(socket: Rc<dyn AbstractSocket>) -> SocketIo {
        let wakers = Rc::new(Wakers::default());
        let mut slots = Vec::with_capacity(4);
        let w = wakers.clone();
        slots.push(socket.ready_read().connect(move |_| w.wake_read()));
        let w = wakers.clone();
        slots.push(socket.bytes_written().connect(move |_| w.wake_write()));
        let w = wakers.clone();
        slots.push(socket.read_channel_finished().connect(move |_| {
            w.eof.set(true);
            w.wake_read();
        }));
        let w = wakers.clone();
        slots.push(socket.disconnected().connect(move |_| {
            w.eof.set(true);
            w.wake_read();
            w.wake_write();
        }));
        let w = wakers.clone();
        slots.push(socket.error_occurred().connect(move |_| {
            w.wake_read();
            w.wake_write();
        }));
        SocketIo {
            socket,
            wakers,
            slots,
        }
    }

    /// The socket.
    pub fn socket(&self) -> &Rc<dyn AbstractSocket> {
        &self.socket
    }

    fn ended(&self) -> bool {
        self.wakers.eof.get() || self.socket.state() == SocketState::Unconnected
    }

    fn write_error(&self) -> Option<io::Error> {
        match self.socket.state() {
            SocketState::Unconnected | SocketState::Closing => Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the connection is closed",
            )),
            _ => None,
        }
    }
}

impl AsyncRead for SocketIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.socket.bytes_available() > 0 {
            // Copied straight from the socket's buffer into the codec's uninitialised spare
            // room: zero-filling it first (to hand `read` a `&mut [u8]`) would cost as much
            // as the copy itself.
            self.socket.with_read_buffer(&mut |src| {
                let n = src.len().min(buf.remaining());
                buf.put_slice(&src[..n]);
                src.advance(n);
            });
            return Poll::Ready(Ok(()));
        }
        if self.ended() {
            return Poll::Ready(Ok(())); // end of stream
        }
        *self.wakers.read.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for SocketIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.write_error() {
            return Poll::Ready(Err(e));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let queued = self.socket.bytes_to_write();
        if queued >= WRITE_HIGH_WATER {
            *self.wakers.write.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let room = WRITE_HIGH_WATER - queued;
        let n = self.socket.write(&buf[..buf.len().min(room)]);
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the socket refused the write",
            )));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.write_error() {
            return Poll::Ready(Err(e));
        }
        let queued = self.socket.bytes_to_write();
        if queued >= WRITE_HIGH_WATER {
            *self.wakers.write.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut room = WRITE_HIGH_WATER - queued;
        let mut total = 0;
        for slice in bufs {
            if room == 0 {
                break;
            }
            let take = slice.len().min(room);
            if take == 0 {
                continue;
            }
            let n = self.socket.write(&slice[..take]);
            if n == 0 {
                break;
            }
            total += n;
            room -= n;
            if n < slice.len() {
                break;
            }
        }
        if total == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the socket refused the write",
            )));
        }
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket flushes its queue on the loop by itself (several writes from one
        // iteration become one system call); backpressure is applied in `poll_write`.
        match self.write_error() {
            Some(e) if self.socket.bytes_to_write() > 0 => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.socket.disconnect_from_host();
        Poll::Ready(Ok(()))
    }
}

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
