//! A pushed HTTP/2 body (`write_begin`, `write_chunk`..., `write_end`) on its way to h2, paced
//! by the client's flow control.
//!
//! h2 buffers whatever `send_data` is given, without limit, until the client's window admits
//! it. So the responder's pieces wait in an [`Outbox`] of their own, bounded by the answer's
//! budget (`write_chunk` refuses beyond it), and a feeder task hands h2 only what the stream
//! has capacity for (its window, within h2's send buffer). Each time the feeder moved pieces
//! it reports the outbox's level to the answer's [`Pacing`], which emits `drained` when owed.
//! The feeder also watches for the client resetting the stream or the connection ending, and
//! tells the producer.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use ::h2::{Reason, SendStream};
use bytes::Bytes;

use super::h2_conn::{ActiveGuard, H2Connection, WindowWait};
use super::pacing::Pacing;
use super::responder::WriteChunkError;
use slotnet_core::spawn_local;

/// The most capacity asked of h2 at a time (h2's send buffer caps it further).
const RESERVE_MAX: usize = 1024 * 1024;

/// Pieces written by the responder that h2 has not taken yet.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The connection, whose output account counts `queued` (see
    /// [`H2Connection::outbox_changed`]).
    conn: Weak<H2Connection>,
    /// `write_end`: END_STREAM once the queue is out.
    end: bool,
    /// The body cannot be completed: RST_STREAM(INTERNAL_ERROR).
    reset: bool,
    /// The client reset the stream or the connection ended.
    failed: bool,
    /// The feeder, waiting for pieces, capacity or an ending.
    waker: Option<Waker>,
}

impl Outbox {
    /// `queued` grew by `added` and shrank by `removed`: tell the connection's account.
    fn account(&mut self, added: usize, removed: usize) {
        self.queued = self.queued + added - removed;
        if let Some(conn) = self.conn.upgrade() {
            conn.outbox_changed(added, removed);
        }
    }

    /// Drops whatever is queued.
    fn clear(&mut self) {
        self.queue.clear();
        let queued = self.queued;
        self.account(0, queued);
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // A feeder that ended early (connection aborted) gives its share of the account back.
        let queued = self.queued;
        if queued > 0 {
            self.account(0, queued);
        }
    }
}

/// The responder's side of a pushed body.
pub(crate) struct PushedBody {
    outbox: Rc<RefCell<Outbox>>,
    pacing: Rc<Pacing>,
}

impl PushedBody {
    /// Starts the feeder of `send`; `guard` counts the stream as being answered until the
    /// body is complete or abandoned.
    pub(crate) fn start(send: SendStream<Bytes>, guard: ActiveGuard, pacing: Rc<Pacing>) -> Self {
        let outbox = Rc::new(RefCell::new(Outbox::default()));
        outbox.borrow_mut().conn = guard.connection();
        spawn_local(feed(send, outbox.clone(), pacing.clone(), guard));
        PushedBody { outbox, pacing }
    }

    /// Queues a piece if the outbox is below the budget (`force`: whatever the level).
    pub(crate) fn push(&self, data: Bytes, force: bool) -> Result<(), WriteChunkError> {
        let mut outbox = self.outbox.borrow_mut();
        if outbox.failed {
            return Err(WriteChunkError::Closed);
        }
        if !force && !self.pacing.accepts(outbox.queued) {
            self.pacing.queued(outbox.queued);
            return Err(WriteChunkError::Full(data));
        }
        if !data.is_empty() {
            outbox.account(data.len(), 0);
            outbox.queue.push_back(data);
            outbox.wake();
        }
        self.pacing.queued(outbox.queued);
        Ok(())
    }

    /// Bytes queued that h2 has not taken.
    pub(crate) fn queued(&self) -> usize {
        self.outbox.borrow().queued
    }

    /// The budget of the outbox.
    pub(crate) fn budget(&self) -> usize {
        self.pacing.budget()
    }

    /// Whether the client reset the stream or the connection ended.
    pub(crate) fn is_failed(&self) -> bool {
        self.outbox.borrow().failed
    }

    /// Ends the body after what is queued (`complete`), or resets the stream now.
    pub(crate) fn end(&self, complete: bool) {
        self.pacing.finish();
        let mut outbox = self.outbox.borrow_mut();
        if complete {
            outbox.end = true;
        } else {
            outbox.reset = true;
            outbox.clear();
        }
        outbox.wake();
    }
}

/// How a feeder ended.
enum Fed {
    /// The body went to h2 complete (END_STREAM), or was reset on purpose.
    Done,
    /// The client reset the stream, or the connection ended.
    Failed,
}

/// Hands the outbox to h2 as the stream's capacity allows, until the body ends.
async fn feed(
    mut send: SendStream<Bytes>,
    outbox: Rc<RefCell<Outbox>>,
    pacing: Rc<Pacing>,
    guard: ActiveGuard,
) {
    let conn = guard.connection();
    let mut window_wait = None;
    let fed =
        poll_fn(|cx| poll_feed(&mut send, &outbox, &pacing, (&conn, &mut window_wait), cx)).await;
    drop(window_wait);
    if let Fed::Failed = fed {
        {
            let mut outbox = outbox.borrow_mut();
            outbox.failed = true;
            outbox.clear();
        }
        pacing.client_gone();
    }
    drop(guard);
}

/// `window`: the connection, and the feeder's mark as waiting for the client's window
/// (held while h2 has no capacity for queued pieces: the send timeout then applies).
fn poll_feed(
    send: &mut SendStream<Bytes>,
    outbox: &RefCell<Outbox>,
    pacing: &Pacing,
    window: (&Weak<H2Connection>, &mut Option<WindowWait>),
    cx: &mut Context<'_>,
) -> Poll<Fed> {
    let (conn, window_wait) = window;
    loop {
        // Learns of a reset by the client (or the connection's end) whatever we wait for.
        if send.poll_reset(cx).is_ready() {
            return Poll::Ready(Fed::Failed);
        }
        let mut ob = outbox.borrow_mut();
        if ob.reset {
            send.send_reset(Reason::INTERNAL_ERROR);
            return Poll::Ready(Fed::Done);
        }
        if ob.queue.is_empty() {
            if !ob.end {
                ob.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            return Poll::Ready(match send.send_data(Bytes::new(), true) {
                Ok(()) => Fed::Done,
                Err(_) => Fed::Failed,
            });
        }
        let mut room = send.capacity();
        if room == 0 {
            send.reserve_capacity(ob.queued.min(RESERVE_MAX));
            match send.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return Poll::Ready(Fed::Failed),
                Poll::Pending => {
                    // Woken by h2 for capacity, or by the responder for an ending.
                    ob.waker = Some(cx.waker().clone());
                    if window_wait.is_none() {
                        *window_wait = conn.upgrade().map(|c| c.window_wait());
                    }
                    return Poll::Pending;
                }
            }
        }
        *window_wait = None;
        while room > 0 {
            let Some(front) = ob.queue.front_mut() else {
                break;
            };
            let piece = if front.len() <= room {
                ob.queue.pop_front().unwrap_or_default()
            } else {
                front.split_to(room)
            };
            room -= piece.len();
            ob.account(0, piece.len());
            if send.send_data(piece, false).is_err() {
                return Poll::Ready(Fed::Failed);
            }
        }
        let level = ob.queued;
        drop(ob);
        pacing.progress(level);
    }
}
