//! Backpressure for answers the handler pushes (`write_begin`, `write_chunk`...): how much one
//! answer may queue (its budget), and the `drained` signal that tells its producer to write
//! more, Qt's `bytesToWrite()`/`bytesWritten` pacing.
//!
//! The connection side (an HTTP/1.1 connection, or an HTTP/2 stream's feeder) reports the
//! answer's queue level after each piece it sends ([`Pacing::progress`]); the responder side
//! reports it after each piece it queues or refuses ([`Pacing::queued`]). `drained` is owed
//! once the level reached the low-water mark and emitted once it fell below it, so a producer
//! that stopped at the budget is called back exactly once per stop.
//!
//! `drained` is emitted from a posted call, never from inside a responder method: a slot may
//! always borrow whatever cell holds the responder.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use slotnet_core::{EventLoop, Signal};

/// The pacing state one streamed answer shares between its responder and its connection.
pub(crate) struct Pacing {
    signal: Signal<()>,
    /// Bytes the answer may queue; `write_chunk` is refused at or above it.
    budget: usize,
    /// The level reached the low-water mark since the last `drained`.
    owed: Cell<bool>,
    /// The client is gone or the answer is complete: nothing more is emitted.
    closed: Cell<bool>,
}

impl std::fmt::Debug for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacing")
            .field("budget", &self.budget)
            .field("owed", &self.owed.get())
            .field("closed", &self.closed.get())
            .finish()
    }
}

impl Pacing {
    pub(crate) fn new(signal: Signal<()>, budget: usize) -> Rc<Pacing> {
        Rc::new(Pacing {
            signal,
            budget: budget.max(1),
            owed: Cell::new(false),
            closed: Cell::new(false),
        })
    }

    /// The queue level at or above which pieces are refused.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Below this level, `drained` is emitted (half the budget: the producer has time to
    /// write more before the connection runs dry). At least 1, so that an empty queue is
    /// always below it: with a budget of 1 (`max_buffered_output` 0 or 1) half of it is 0,
    /// which no level is below, and a producer stopped at the budget would wait forever.
    fn low_water(&self) -> usize {
        (self.budget / 2).max(1)
    }

    /// Whether a piece may be queued at `level` (one piece may take the level past the
    /// budget; the next is refused).
    pub(crate) fn accepts(&self, level: usize) -> bool {
        level < self.budget
    }

    /// The responder queued a piece, or refused one, at `level`.
    pub(crate) fn queued(&self, level: usize) {
        if level >= self.low_water() {
            self.owed.set(true);
        }
    }

    /// The connection sent some of the queue: `level` is what is left.
    pub(crate) fn progress(&self, level: usize) {
        if self.owed.get() && level < self.low_water() && !self.closed.get() {
            self.owed.set(false);
            self.post(false);
        }
    }

    /// The client went away: `drained` is emitted one last time (the producer's next
    /// `write_chunk` tells it why), then its slots are dropped, which also breaks the cycle
    /// of a slot that owns its responder.
    pub(crate) fn client_gone(&self) {
        if !self.closed.replace(true) {
            self.post(true);
        }
    }

    /// The answer is complete (or abandoned): nothing more to pace.
    pub(crate) fn finish(&self) {
        self.closed.set(true);
        self.signal.disconnect_all();
    }

    fn post(&self, last: bool) {
        let signal = self.signal.clone();
        EventLoop::current().post(move || {
            signal.emit(());
            if last {
                signal.disconnect_all();
            }
        });
    }
}

/// Wakes a pulled body whose reader returned [`io::ErrorKind::WouldBlock`]
/// (see [`HttpServerResponse::reader_waker`](super::HttpServerResponse::reader_waker)).
///
/// `Send + Sync + Clone`: a producer on another thread calls [`wake`](Self::wake) after it
/// made data (or the end of the body) available to the reader; the server reads again on its
/// own loop. A wake with nothing waiting is remembered, so none is lost between the reader's
/// `WouldBlock` and the server starting to wait.
#[derive(Clone, Default)]
pub struct ReaderWaker {
    inner: Arc<WakeState>,
}

#[derive(Default)]
struct WakeState {
    woken: AtomicBool,
    waiting: Mutex<Option<Waker>>,
}

impl std::fmt::Debug for ReaderWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderWaker")
            .field("woken", &self.inner.woken.load(Ordering::Relaxed))
            .finish()
    }
}

impl ReaderWaker {
    /// A waker nobody waits on yet.
    pub fn new() -> ReaderWaker {
        ReaderWaker::default()
    }

    /// Tells the server that the reader has something to give (data, its end or an error):
    /// the server reads again. Cheap, callable from any thread, any number of times.
    pub fn wake(&self) {
        self.inner.woken.store(true, Ordering::SeqCst);
        let waiting = self
            .inner
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    /// Forgets earlier wakes: called right before each read.
    pub(crate) fn reset(&self) {
        self.inner.woken.store(false, Ordering::SeqCst);
    }

    /// Ready once [`wake`](Self::wake) was called since the last [`reset`](Self::reset).
    pub(crate) fn poll_woken(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.woken.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.inner.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // A wake between the check and the registration found no waker: look again.
        if self.inner.woken.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Whether a read failed only because the reader has nothing yet.
pub(crate) fn is_not_ready(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Counts `drained` emissions of a pacing with `budget`.
    fn paced(budget: usize) -> (Rc<Pacing>, Rc<Cell<usize>>) {
        let signal: Signal<()> = Signal::new();
        let drained = Rc::new(Cell::new(0));
        let d = drained.clone();
        signal.connect(move |_| d.set(d.get() + 1));
        (Pacing::new(signal, budget), drained)
    }

    fn run_posted() {
        EventLoop::current().process_events(Some(Duration::ZERO));
    }

    #[test]
    fn a_producer_stopped_at_the_budget_hears_drained_once_the_queue_empties() {
        for budget in [0, 1, 2, 3, 256 * 1024] {
            let (pacing, drained) = paced(budget);
            // One piece takes the level to the budget: the next is refused.
            let level = pacing.budget();
            pacing.queued(level);
            assert!(!pacing.accepts(level), "budget {budget}");
            pacing.progress(level);
            run_posted();
            assert_eq!(drained.get(), 0, "budget {budget}: nothing sent yet");
            pacing.progress(0);
            run_posted();
            assert_eq!(drained.get(), 1, "budget {budget}: the queue is empty");
            pacing.progress(0);
            run_posted();
            assert_eq!(drained.get(), 1, "budget {budget}: once per stop");
        }
    }
}
