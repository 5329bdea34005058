//! [`SocketIo`]: tokio's `AsyncRead`/`AsyncWrite` over a slotnet socket, so async protocol
//! crates (the HTTP/2 client and server of slotnet-http run the h2 crate on it) can run on the
//! slotnet loop without a tokio runtime.
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
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{AbstractSocket, SocketState};

/// Bytes queued in the socket beyond which writes report `Pending` (backpressure towards the
/// protocol above).
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    use slotnet_core::{EventLoop, Timer};

    use super::*;
    use crate::{TcpServer, TcpSocket};

    /// Counts its wakes and quits the loop on each, so a test runs the loop until the
    /// adapter's slots wake the task.
    #[derive(Default)]
    struct QuitWaker {
        wakes: AtomicUsize,
    }

    impl Wake for QuitWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            EventLoop::current().quit();
        }
    }

    /// Runs the loop until something quits it; false if a generous hang guard fired first.
    fn exec_guarded() -> bool {
        let guard = Timer::new();
        guard.set_single_shot(true);
        guard.timeout().connect(|_| EventLoop::current().exit(99));
        guard.start_interval(Duration::from_secs(20));
        let code = EventLoop::current().exec();
        guard.destroy();
        code == 0
    }

    /// A connected client socket wrapped in a `SocketIo`, and the server's end of it.
    fn connected_pair() -> (SocketIo, TcpSocket, TcpServer) {
        let server = TcpServer::new();
        assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
        let accepted: Rc<RefCell<Option<TcpSocket>>> = Rc::default();
        let slot = accepted.clone();
        let srv = server;
        server.new_connection().connect(move |_| {
            *slot.borrow_mut() = srv.next_pending_connection();
            EventLoop::current().quit();
        });
        let client = TcpSocket::new();
        client.connect_to_host("127.0.0.1", server.server_port());
        while accepted.borrow().is_none() || client.state() != SocketState::Connected {
            assert!(exec_guarded(), "no connection");
        }
        let peer = accepted.borrow_mut().take().unwrap();
        (SocketIo::new(Rc::new(client)), peer, server)
    }

    fn poll_read_into(io: &mut SocketIo, cx: &mut Context<'_>, out: &mut Vec<u8>) -> Poll<usize> {
        let mut storage = [0u8; 64];
        let mut buf = ReadBuf::new(&mut storage);
        match Pin::new(io).poll_read(cx, &mut buf) {
            Poll::Ready(result) => {
                result.expect("read error");
                out.extend_from_slice(buf.filled());
                Poll::Ready(buf.filled().len())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    #[test]
    fn reads_wait_for_ready_read_and_end_with_the_peer() {
        let (mut io, peer, _server) = connected_pair();
        let waker_state = Arc::new(QuitWaker::default());
        let waker = Waker::from(waker_state.clone());
        let mut cx = Context::from_waker(&waker);
        let mut got = Vec::new();

        assert!(poll_read_into(&mut io, &mut cx, &mut got).is_pending());
        peer.write(b"pong");
        assert!(exec_guarded(), "ready_read never woke the reader");
        assert!(waker_state.wakes.load(Ordering::SeqCst) >= 1);
        while got.len() < 4 {
            match poll_read_into(&mut io, &mut cx, &mut got) {
                Poll::Ready(n) => assert!(n > 0, "end of stream before the data"),
                Poll::Pending => assert!(exec_guarded()),
            }
        }
        assert_eq!(got, b"pong");

        // The peer hangs up: the reader is woken and reads the end of the stream (0 bytes).
        peer.disconnect_from_host();
        loop {
            match poll_read_into(&mut io, &mut cx, &mut got) {
                Poll::Ready(n) => {
                    assert_eq!(n, 0);
                    break;
                }
                Poll::Pending => assert!(exec_guarded(), "the end of stream never woke the reader"),
            }
        }
        assert_eq!(got, b"pong");
    }

    #[test]
    fn writes_stop_at_the_high_water_mark_until_bytes_are_written() {
        let (mut io, peer, _server) = connected_pair();
        let waker_state = Arc::new(QuitWaker::default());
        let waker = Waker::from(waker_state.clone());
        let mut cx = Context::from_waker(&waker);

        // Nothing reaches the kernel before the loop runs: the socket queues up to the mark.
        let big = vec![7u8; WRITE_HIGH_WATER + 1000];
        let first = match Pin::new(&mut io).poll_write(&mut cx, &big) {
            Poll::Ready(n) => n.expect("write"),
            Poll::Pending => panic!("an empty queue reported backpressure"),
        };
        assert_eq!(first, WRITE_HIGH_WATER);
        assert!(Pin::new(&mut io)
            .poll_write(&mut cx, &big[first..])
            .is_pending());

        // The loop flushes the queue; bytes_written wakes the writer, which then takes the rest.
        let received = Rc::new(Cell::new(0usize));
        let count = received.clone();
        let reader = peer;
        peer.ready_read().connect(move |_| {
            count.set(count.get() + reader.read_all().len());
        });
        assert!(exec_guarded(), "bytes_written never woke the writer");
        let rest = loop {
            match Pin::new(&mut io).poll_write(&mut cx, &big[first..]) {
                Poll::Ready(n) => break n.expect("write"),
                Poll::Pending => assert!(exec_guarded()),
            }
        };
        assert_eq!(rest, 1000);
        while received.get() < big.len() {
            Timer::single_shot(Duration::from_millis(10), || EventLoop::current().quit());
            assert!(exec_guarded());
        }
        assert_eq!(received.get(), big.len());
    }

    #[test]
    fn writes_after_the_connection_closed_fail_with_broken_pipe() {
        let (mut io, _peer, _server) = connected_pair();
        let waker = Waker::from(Arc::new(QuitWaker::default()));
        let mut cx = Context::from_waker(&waker);
        io.socket().abort();
        match Pin::new(&mut io).poll_write(&mut cx, b"late") {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("expected BrokenPipe, got {other:?}"),
        }
    }
}
