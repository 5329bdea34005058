//! Awaiting a reply: `NetworkReply` is an [`IntoFuture`] resolving at `finished` with the
//! whole response, and [`NetworkReply::body_stream`] yields the body as it arrives.
//!
//! Both watch the reply through its `readyRead` and `finished` signals (slots that only wake
//! the task), and read it with its own calls, so the reply's read-buffer limit
//! ([`NetworkReply::set_read_buffer_size`]) keeps working: body is taken from the reply only
//! when the future or stream is polled, and a full buffer stops the transport until then.
//! Dropping one before the reply finished aborts the reply (`OperationCanceledError`), as
//! dropping a reqwest future cancels its request. Either way the reply is deleted
//! (`delete_later`) once the future or stream is done with it.

use std::cell::RefCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use slotnet_core::{AsObject, Connection};

use crate::error::NetworkError;
use crate::reply::{NetworkReply, ReplyError};

/// The task waiting for a reply, woken by the reply's slots.
#[derive(Default)]
struct WakeCell {
    waker: RefCell<Option<Waker>>,
}

impl WakeCell {
    fn wake(&self) {
        let waker = self.waker.try_borrow_mut().ok().and_then(|mut w| w.take());
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn register(&self, cx: &Context<'_>) {
        let mut waker = self.waker.borrow_mut();
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *waker = Some(cx.waker().clone());
        }
    }
}

/// Lives in a slot of the reply: wakes the task when the slot runs, and when the slot is
/// dropped (the reply was destroyed and its signals closed).
struct Alarm(Rc<WakeCell>);

impl Drop for Alarm {
    fn drop(&mut self) {
        self.0.wake();
    }
}

/// A reply watched by a future or a stream.
struct Watch {
    reply: NetworkReply,
    wake: Rc<WakeCell>,
    connections: [Connection; 2],
    /// The reply finished (or went away) and the result was handed out.
    done: bool,
}

impl Watch {
    fn new(reply: NetworkReply) -> Watch {
        let wake = Rc::new(WakeCell::default());
        let alarm = Alarm(wake.clone());
        let on_data = reply.ready_read().connect(move |_| alarm.0.wake());
        let alarm = Alarm(wake.clone());
        let on_finish = reply.finished().connect(move |_| alarm.0.wake());
        Watch {
            reply,
            wake,
            connections: [on_data, on_finish],
            done: false,
        }
    }

    fn is_gone(&self) -> bool {
        !self.reply.as_object().is_alive()
    }

    fn gone_error(&self) -> ReplyError {
        ReplyError::new(
            NetworkError::OperationCanceledError,
            None,
            "the reply was destroyed before it finished".into(),
        )
    }

    /// Done with the reply: stop watching it and let it go.
    fn release(&mut self) {
        self.done = true;
        for connection in &self.connections {
            connection.disconnect();
        }
        self.reply.delete_later();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for connection in &self.connections {
            connection.disconnect();
        }
        // Not finished: nobody will read the answer. Aborting emits `finished` (with
        // OperationCanceledError) to the application's own slots, as `abort` always does.
        if self.reply.is_running() {
            self.reply.abort();
        }
        self.reply.delete_later();
    }
}

/// The body read so far: one chunk kept as it came (no copy), more gathered in one buffer.
#[derive(Default)]
enum Body {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Body {
    fn push(&mut self, chunk: Bytes) {
        *self = match std::mem::take(self) {
            Body::Empty => Body::One(chunk),
            Body::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                Body::Many(all)
            }
            Body::Many(mut all) => {
                all.extend_from_slice(&chunk);
                Body::Many(all)
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::One(bytes) => bytes,
            Body::Many(all) => all.freeze(),
        }
    }
}

/// What awaiting a [`NetworkReply`] gives: the response (status, headers and the whole body)
/// when the reply finished without error, else its [`ReplyError`] (Qt's error code, the HTTP
/// status if one arrived, the message), as [`NetworkReply::result`] reports it.
pub type ReplyResult = Result<http::Response<Bytes>, ReplyError>;

/// The future of an awaited [`NetworkReply`] (see [`NetworkReply::into_future`]).
#[must_use = "a future does nothing unless awaited; dropping it aborts the reply"]
pub struct ReplyFuture {
    watch: Watch,
    body: Body,
}

impl fmt::Debug for ReplyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyFuture")
            .field("reply", &self.watch.reply)
            .field("done", &self.watch.done)
            .finish()
    }
}

impl ReplyFuture {
    /// The reply being awaited (for its signals, progress or attributes meanwhile).
    pub fn reply(&self) -> NetworkReply {
        self.watch.reply
    }

    fn response(&mut self) -> http::Response<Bytes> {
        let reply = self.watch.reply;
        let mut response = http::Response::new(std::mem::take(&mut self.body).into_bytes());
        // A reply without an HTTP status (file:, data:) that succeeded reads as 200 OK.
        if let Some(status) = reply.status() {
            *response.status_mut() = status;
        }
        *response.headers_mut() = reply.headers();
        response
    }
}

impl Future for ReplyFuture {
    type Output = ReplyResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ReplyResult> {
        let this = self.get_mut();
        if this.watch.done {
            return Poll::Ready(Err(ReplyError::new(
                NetworkError::OperationCanceledError,
                None,
                "the reply's result was already taken".into(),
            )));
        }
        let reply = this.watch.reply;
        while let Some(chunk) = reply.read_chunk() {
            this.body.push(chunk);
        }
        if this.watch.is_gone() {
            let error = this.watch.gone_error();
            this.watch.release();
            return Poll::Ready(Err(error));
        }
        if reply.is_finished() {
            let result = reply.result().map(|()| this.response());
            this.watch.release();
            return Poll::Ready(result);
        }
        this.watch.wake.register(cx);
        Poll::Pending
    }
}

/// A reply can be awaited: it resolves when the reply finishes, with the response or the
/// error (see [`ReplyResult`]). Dropping the future before that aborts the reply
/// (`OperationCanceledError`); once awaited, the reply is deleted (`delete_later`).
///
/// ```no_run
/// use slotnet_http::core::EventLoop;
/// use slotnet_http::{NetworkAccessManager, NetworkRequest};
///
/// let manager = NetworkAccessManager::new();
/// let request = NetworkRequest::new("http://127.0.0.1:8080/hello.txt".parse().unwrap());
/// let response = EventLoop::current().block_on(async {
///     manager.get(request).await
/// });
/// match response {
///     Ok(response) => println!("{}: {:?}", response.status(), response.body()),
///     Err(error) => eprintln!("{error}"),
/// }
/// ```
impl IntoFuture for NetworkReply {
    type Output = ReplyResult;
    type IntoFuture = ReplyFuture;

    fn into_future(self) -> ReplyFuture {
        ReplyFuture {
            watch: Watch::new(self),
            body: Body::Empty,
        }
    }
}

/// The body of a reply as a stream of chunks, as they arrive (see
/// [`NetworkReply::body_stream`]): `Ok(chunk)` items, then the end, or one `Err` with the
/// reply's [`ReplyError`] if it failed. Dropping it before the end aborts the reply.
#[must_use = "a stream does nothing unless polled; dropping it aborts the reply"]
pub struct ReplyStream {
    watch: Watch,
}

impl fmt::Debug for ReplyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyStream")
            .field("reply", &self.watch.reply)
            .field("done", &self.watch.done)
            .finish()
    }
}

impl ReplyStream {
    /// The reply being read: its status, headers and attributes while the body streams.
    pub fn reply(&self) -> NetworkReply {
        self.watch.reply
    }

    /// The next chunk: `None` at the end. The same as `StreamExt::next` without pulling in
    /// a futures crate.
    // The name `StreamExt::next` has; this is a stream, not an iterator.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<Result<Bytes, ReplyError>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_chunk(cx))
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ReplyError>>> {
        if self.watch.done {
            return Poll::Ready(None);
        }
        let reply = self.watch.reply;
        if let Some(chunk) = reply.read_chunk() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        if self.watch.is_gone() {
            let error = self.watch.gone_error();
            self.watch.release();
            return Poll::Ready(Some(Err(error)));
        }
        if reply.is_finished() {
            let result = reply.result();
            // The reply stays readable for `reply()` until the stream is dropped.
            self.watch.done = true;
            for connection in &self.watch.connections {
                connection.disconnect();
            }
            return Poll::Ready(result.err().map(Err));
        }
        self.watch.wake.register(cx);
        Poll::Pending
    }
}

impl Drop for ReplyStream {
    fn drop(&mut self) {
        if self.watch.done {
            // Finished: only the reply object is left to let go of.
            self.watch.reply.delete_later();
        }
        // Otherwise the watch's own drop aborts and deletes it.
    }
}

impl futures_core::Stream for ReplyStream {
    type Item = Result<Bytes, ReplyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl NetworkReply {
    /// The body as a stream of chunks, each yielded as soon as it arrived (zero-copy, as
    /// [`read_chunk`](Self::read_chunk)), then the end, or the reply's error. The reply's
    /// read-buffer limit ([`set_read_buffer_size`](Self::set_read_buffer_size)) still holds:
    /// body is taken only when the stream is polled, so a slow consumer slows the server
    /// down instead of growing memory. Dropping the stream before the end aborts the reply
    /// (`OperationCanceledError`); the reply is deleted (`delete_later`) when the stream is
    /// dropped.
    pub fn body_stream(self) -> ReplyStream {
        ReplyStream {
            watch: Watch::new(self),
        }
    }
}
