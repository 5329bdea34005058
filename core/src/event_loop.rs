//! The per-thread event loop: readiness from mio, timers, posted calls and deferred deletes.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::fmt;
use std::io;
// The poller's descriptor for foreign loops: Unix only (mio's Windows poller is an IOCP
// handle, which GLib and calloop do not watch).
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::io::{IoRegistration, IoTable, Ready};
use crate::object::{self, Arena, Object, ObjectId};
use crate::timer::fire_node_timer;
use crate::timer_queue::{TimerAction, TimerKey, TimerQueue};

type LocalTask = Box<dyn FnOnce()>;
type RemoteTask = Box<dyn FnOnce() + Send>;

const WAKER_TOKEN: Token = Token(usize::MAX);
/// Calls taken from other threads per iteration, so a flooding thread cannot starve I/O.
const REMOTE_BATCH: usize = 65_536;

/// State shared between a loop and the [`LoopHandle`]s other threads hold.
struct Remote {
    waker: Waker,
    /// Set by the first post after the loop last drained its channel; later posts skip the
    /// (syscall-costly) wake-up.
    notified: AtomicBool,
    ended: AtomicBool,
    /// The loop's thread: a blocking call from it to itself would wait forever.
    thread: ThreadId,
}

pub(crate) struct LoopInner {
    poll: RefCell<Poll>,
    registry: Registry,
    events: RefCell<Option<Events>>,
    ready_scratch: RefCell<Vec<(Token, Ready)>>,
    /// Readiness a panicking handler left undispatched, handed back by a [`Batch`] guard and
    /// dispatched first on the next iteration (mio is edge-triggered: a lost event is a
    /// socket that never hears from the loop again).
    ready_backlog: RefCell<Vec<(Token, Ready)>>,
    /// Due timers a panicking slot left unfired, for the same reason.
    due_backlog: RefCell<Vec<(TimerKey, TimerAction)>>,
    pub(crate) arena: RefCell<Arena>,
    pub(crate) io: RefCell<IoTable>,
    pub(crate) timers: RefCell<TimerQueue>,
    posted: RefCell<VecDeque<LocalTask>>,
    remote: Arc<Remote>,
    remote_rx: Receiver<RemoteTask>,
    remote_tx: Sender<RemoteTask>,
    /// One entry per running `exec()` (of the thread's loop or of a
    /// [`LocalLoop`](crate::LocalLoop)), innermost last.
    frames: RefCell<Vec<Frame>>,
    /// Objects to delete once control is back in a loop at most this deep.
    deferred_deletes: RefCell<Vec<(ObjectId, usize)>>,
    iterations: Cell<u64>,
    /// How many `process_events` calls are running (nested loops add one each): work queued
    /// meanwhile is seen before the loop waits again, so it needs no wake-up.
    dispatching: Cell<usize>,
    /// Whether work queued from this thread must wake the poller: none runs, and no wake-up
    /// was made since the last one ended. One flag, so that a post checks a single byte.
    wake_on_queue: Cell<bool>,
    /// Slots of cross-thread connections that live on this thread
    /// (`Signal::connect_cross_thread_local`), by connection id; each is an `Rc<dyn Fn(A)>`.
    thread_slots: RefCell<HashMap<u64, Box<dyn Any>>>,
}

impl Drop for LoopInner {
    fn drop(&mut self) {
        self.remote.ended.store(true, Ordering::Release);
    }
}

thread_local! {
    static CURRENT: Rc<LoopInner> = Rc::new(LoopInner::new().expect("slotnet: cannot create the event loop's poller"));
}

/// Runs `f` with this thread's loop, or returns `None` while the thread is shutting down
/// (its loop is being dropped), so destructors never panic.
pub(crate) fn with_loop<R>(f: impl FnOnce(&Rc<LoopInner>) -> R) -> Option<R> {
    CURRENT.try_with(|l| f(l)).ok()
}

/// Keeps a slot built on this thread for the cross-thread connection `id`.
pub(crate) fn install_thread_slot(id: u64, slot: Box<dyn Any>) {
    with_loop(|l| l.thread_slots.borrow_mut().insert(id, slot));
}

/// The slot of the cross-thread connection `id`, if it lives on this thread.
pub(crate) fn thread_slot<S: Any + Clone>(id: u64) -> Option<S> {
    with_loop(|l| {
        l.thread_slots
            .borrow()
            .get(&id)
            .and_then(|s| s.downcast_ref::<S>())
            .cloned()
    })
    .flatten()
}

/// Drops the slot of the cross-thread connection `id` (outside the table's borrow: its
/// captures' destructors may use the loop).
pub(crate) fn remove_thread_slot(id: u64) {
    let slot = with_loop(|l| l.thread_slots.borrow_mut().remove(&id)).flatten();
    drop(slot);
}

/// Queues a call on this thread's loop (used by queued connections).
pub(crate) fn post_local(task: LocalTask) {
    with_loop(|l| {
        l.posted.borrow_mut().push_back(task);
        l.wake_if_idle();
    });
}

impl LoopInner {
    fn new() -> io::Result<LoopInner> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER_TOKEN)?;
        let (remote_tx, remote_rx) = crossbeam_channel::unbounded();
        Ok(LoopInner {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Some(Events::with_capacity(1024))),
            ready_scratch: RefCell::new(Vec::new()),
            ready_backlog: RefCell::new(Vec::new()),
            due_backlog: RefCell::new(Vec::new()),
            arena: RefCell::new(Arena::default()),
            io: RefCell::new(IoTable::default()),
            timers: RefCell::new(TimerQueue::default()),
            posted: RefCell::new(VecDeque::new()),
            remote: Arc::new(Remote {
                waker,
                notified: AtomicBool::new(false),
                ended: AtomicBool::new(false),
                thread: std::thread::current().id(),
            }),
            remote_rx,
            remote_tx,
            frames: RefCell::new(Vec::new()),
            deferred_deletes: RefCell::new(Vec::new()),
            iterations: Cell::new(0),
            dispatching: Cell::new(0),
            wake_on_queue: Cell::new(true),
            thread_slots: RefCell::new(HashMap::new()),
        })
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    fn has_immediate_work(&self) -> bool {
        !self.posted.borrow().is_empty()
            || !self.remote_rx.is_empty()
            || self.deletes_ready()
            || !self.ready_backlog.borrow().is_empty()
            || !self.due_backlog.borrow().is_empty()
    }

    fn deletes_ready(&self) -> bool {
        let depth = self.frames.borrow().len();
        self.deferred_deletes
            .borrow()
            .iter()
            .any(|&(_, at)| delete_due(at, depth))
    }

    pub(crate) fn defer_delete(&self, id: ObjectId) {
        let depth = self.frames.borrow().len();
        self.deferred_deletes.borrow_mut().push((id, depth));
        self.wake_if_idle();
    }

    /// Called after this thread queued work (a posted call, a timer, a deferred delete): when
    /// no `process_events` is running (a GTK or calloop callback, `main` before `exec`), makes
    /// the poller's fd readable so that a foreign loop watching only the fd comes back. Inside
    /// `process_events` nothing is done: the loop looks at its queues before it waits again,
    /// so the hot path makes no syscall. One wake-up between two iterations at most.
    #[inline]
    pub(crate) fn wake_if_idle(&self) {
        if self.wake_on_queue.get() {
            self.wake_from_idle();
        }
    }

    #[cold]
    fn wake_from_idle(&self) {
        self.wake_on_queue.set(false);
        // Shared with cross-thread posts: whoever sets it first writes to the eventfd.
        if !self.remote.notified.swap(true, Ordering::AcqRel) {
            // A failed wake-up means the poller is gone, i.e. the loop is ending.
            let _ = self.remote.waker.wake();
        }
    }

    /// Counts a `process_events` starting; queued work needs no wake-up until it ends.
    fn enter_dispatch(&self) -> Dispatching<'_> {
        self.dispatching.set(self.dispatching.get() + 1);
        self.wake_on_queue.set(false);
        Dispatching(self)
    }
}

/// Uncounts a running `process_events` when it returns or a panic unwinds through it; the
/// outermost one re-arms the wake-up for work queued after it.
struct Dispatching<'a>(&'a LoopInner);

impl Drop for Dispatching<'_> {
    fn drop(&mut self) {
        let depth = self.0.dispatching.get() - 1;
        self.0.dispatching.set(depth);
        if depth == 0 {
            self.0.wake_on_queue.set(true);
        }
    }
}

/// Whether a `delete_later` requested at loop level `at` is carried out at level `depth`: by
/// the level it was requested at or an outer one, never by a loop nested deeper (the slot
/// that asked may still be running). One requested outside any loop (level 0) is carried out
/// as soon as a loop runs, as Qt does: "if deleteLater() is called before the event loop
/// starts, the object will be deleted once the event loop is started".
fn delete_due(at: usize, depth: usize) -> bool {
    at == 0 || depth <= at
}

/// Whether an `exec()` was asked to return, and with which code; shared between the running
/// `exec()` and whoever may end it (the thread's loop, or a [`LocalLoop`](crate::LocalLoop)
/// handle).
#[derive(Default)]
pub(crate) struct FrameState {
    exit: Cell<Option<i32>>,
    running: Cell<bool>,
}

impl FrameState {
    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    /// Asks the running `exec()` to return `code`; nothing if it is not running (as Qt's
    /// `QEventLoop::exec` clears a pending exit when it starts).
    pub(crate) fn exit(&self, code: i32) {
        if self.running.get() {
            self.exit.set(Some(code));
        }
    }
}

/// A running `exec()`.
struct Frame {
    state: Rc<FrameState>,
    /// Started by [`EventLoop::exec`], so [`EventLoop::exit`] may end it; a
    /// [`LocalLoop`](crate::LocalLoop)'s frame is ended only through its own handle.
    thread_loop: bool,
}

/// Removes a frame when its `exec()` returns or a panic unwinds through it, so that
/// `loop_level()` and the deferred deletes' bookkeeping stay right after a panic.
struct FrameGuard<'a> {
    inner: &'a LoopInner,
}

impl Drop for FrameGuard<'_> {
    fn drop(&mut self) {
        let frame = self.inner.frames.borrow_mut().pop();
        if let Some(frame) = frame {
            frame.state.running.set(false);
        }
    }
}

/// A batch of readiness events or due timers being dispatched: if a handler panics, the
/// ones not reached yet go to the loop's backlog instead of being dropped with the stack.
struct Batch<'a, 'v, T> {
    rest: std::vec::Drain<'v, T>,
    backlog: &'a RefCell<Vec<T>>,
}

impl<T> Drop for Batch<'_, '_, T> {
    fn drop(&mut self) {
        if self.rest.len() > 0 {
            self.backlog.borrow_mut().extend(self.rest.by_ref());
        }
    }
}

/// Destroys the objects whose deferred delete is due, one by one; if a `destroyed` slot
/// panics, the ones not reached yet go back to the list instead of being forgotten.
struct DueDeletes<'a> {
    inner: &'a LoopInner,
    rest: std::vec::IntoIter<(ObjectId, usize)>,
}

impl Drop for DueDeletes<'_> {
    fn drop(&mut self) {
        if self.rest.len() > 0 {
            let rest = std::mem::take(&mut self.rest);
            self.inner.deferred_deletes.borrow_mut().extend(rest);
        }
    }
}

/// Error returned when posting to a loop whose thread has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopEnded;

impl fmt::Display for LoopEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the target event loop has ended")
    }
}

impl std::error::Error for LoopEnded {}

/// Why [`LoopHandle::invoke_blocking`] could not return the call's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockingCallError {
    /// The target loop is the calling thread's own: waiting for it would never end (Qt
    /// detects the same "dead lock" for a `BlockingQueuedConnection` and warns).
    CurrentThread,
    /// The target loop's thread has ended, or ended (or the call panicked) before the call
    /// returned.
    LoopEnded,
}

impl fmt::Display for BlockingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockingCallError::CurrentThread => {
                "a blocking call to the current thread's own loop would deadlock"
            }
            BlockingCallError::LoopEnded => "the target event loop ended before the call returned",
        })
    }
}

impl std::error::Error for BlockingCallError {}

/// A `Send + Clone` handle to a thread's loop, for other threads to post work to it.
///
/// ```
/// use slotnet_core::EventLoop;
///
/// let lp = EventLoop::current();
/// let handle = lp.handle();
/// std::thread::spawn(move || {
///     handle.post(|| EventLoop::current().exit(7)).unwrap();
/// });
/// assert_eq!(lp.exec(), 7);
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    tx: Sender<RemoteTask>,
    remote: Arc<Remote>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("ended", &self.is_ended())
            .finish()
    }
}

impl LoopHandle {
    /// Runs `f` on the loop's thread, in posting order relative to this thread's other posts.
    /// Wakes the loop if it is waiting. Fails once the loop's thread has ended.
    pub fn post<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), LoopEnded> {
        if self.remote.ended.load(Ordering::Acquire) {
            return Err(LoopEnded);
        }
        self.tx.send(Box::new(f)).map_err(|_| LoopEnded)?;
        if !self.remote.notified.swap(true, Ordering::AcqRel) {
            // A failed wake-up means the poller is gone, i.e. the loop is ending.
            let _ = self.remote.waker.wake();
        }
        Ok(())
    }

    /// Runs `f` on the loop's thread and waits for its value: a blocking queued call (Qt's
    /// `QMetaObject::invokeMethod` with `Qt::BlockingQueuedConnection`). The calling thread
    /// blocks (its own loop does not run meanwhile) until the target loop has run the call,
    /// in posting order after what this thread posted before.
    ///
    /// Returns [`BlockingCallError::CurrentThread`] at once when the target is the calling
    /// thread's own loop, and [`BlockingCallError::LoopEnded`] when the target's thread has
    /// ended or ends before running the call (or the call panics there), instead of waiting
    /// forever. As in Qt, two threads making blocking calls to each other at the same time
    /// deadlock; and the call waits as long as the target is busy or not running its loop.
    ///
    /// ```
    /// use slotnet_core::{BlockingCallError, EventLoop, Thread};
    ///
    /// let worker = Thread::start().unwrap();
    /// let answer = worker.handle().invoke_blocking(|| 6 * 7).unwrap();
    /// assert_eq!(answer, 42);
    /// let own = EventLoop::current().handle();
    /// assert_eq!(own.invoke_blocking(|| 1), Err(BlockingCallError::CurrentThread));
    /// ```
    pub fn invoke_blocking<R, F>(&self, f: F) -> Result<R, BlockingCallError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.remote.thread == std::thread::current().id() {
            return Err(BlockingCallError::CurrentThread);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.post(move || {
            // The caller may have stopped waiting only if it panicked; nothing to do then.
            let _ = tx.send(f());
        })
        .map_err(|_| BlockingCallError::LoopEnded)?;
        // The sender is dropped unsent when the loop's channel is dropped with the call still
        // queued (its thread ended) or when the call unwinds: both wake this receive.
        rx.recv().map_err(|_| BlockingCallError::LoopEnded)
    }

    /// Asks the loop's innermost [`EventLoop::exec`] to return `code` (see
    /// [`EventLoop::exit`]: a [`LocalLoop`](crate::LocalLoop) waiting inside it returns first,
    /// on its own terms).
    pub fn exit(&self, code: i32) -> Result<(), LoopEnded> {
        self.post(move || EventLoop::current().exit(code))
    }

    /// Asks the loop's innermost [`EventLoop::exec`] to return 0.
    pub fn quit(&self) -> Result<(), LoopEnded> {
        self.exit(0)
    }

    /// Whether the loop's thread has ended (posting would fail).
    pub fn is_ended(&self) -> bool {
        self.remote.ended.load(Ordering::Acquire)
    }
}

/// This thread's event loop (Qt's `QEventLoop` and the event dispatcher behind it).
///
/// There is one loop per thread, created on first use; `EventLoop` values are cheap handles to
/// it and are `!Send`. Everything that lives on the loop (objects, timers, sockets) belongs to
/// the thread that created it.
///
/// ```
/// use slotnet_core::{EventLoop, Timer};
/// use std::time::Duration;
///
/// let lp = EventLoop::current();
/// Timer::single_shot(Duration::from_millis(5), || EventLoop::current().exit(3));
/// assert_eq!(lp.exec(), 3);
/// ```
#[derive(Clone)]
pub struct EventLoop {
    inner: Rc<LoopInner>,
}

/// The poller's descriptor as a borrowed fd, for APIs that take `AsFd` (a foreign loop's
/// "watch this fd" call); the same descriptor as [`EventLoop::as_raw_fd`].
#[cfg(unix)]
impl AsFd for EventLoop {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor belongs to the loop's poller, which `self.inner` (an `Rc`)
        // keeps alive and never replaces or closes while any handle exists; the borrow is
        // tied to `self`.
        unsafe { BorrowedFd::borrow_raw(self.inner.poll.borrow().as_raw_fd()) }
    }
}

/// [`EventLoop::as_raw_fd`] through the standard trait.
#[cfg(unix)]
impl AsRawFd for EventLoop {
    fn as_raw_fd(&self) -> RawFd {
        EventLoop::as_raw_fd(self)
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("level", &self.loop_level())
            .field("objects", &self.inner.arena.borrow().len())
            .field("timers", &self.inner.timers.borrow().len())
            .finish()
    }
}

impl EventLoop {
    /// This thread's loop (created on first use).
    pub fn current() -> EventLoop {
        EventLoop {
            inner: CURRENT.with(|l| l.clone()),
        }
    }

    /// A handle other threads use to post calls to this loop.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            tx: self.inner.remote_tx.clone(),
            remote: self.inner.remote.clone(),
        }
    }

    /// Runs the loop until [`EventLoop::exit`] or [`EventLoop::quit`] is called from inside it,
    /// and returns the exit code. May be called from inside a slot (a nested loop, as in Qt's
    /// modal-wait idiom); `exit` then ends the innermost `EventLoop::exec`. To wait for one
    /// thing from inside a slot, prefer a [`LocalLoop`](crate::LocalLoop): only its own `quit`
    /// ends it.
    ///
    /// # Panics
    ///
    /// A panic in a slot, handler, timer or posted call unwinds out of `exec()` (and out of
    /// [`process_events`](Self::process_events)) to the caller, as an exception leaving a slot
    /// does in Qt. The loop stays usable: this `exec()`'s level is removed (`loop_level()` is
    /// back to what it was), and the work of that iteration not done yet (other readiness
    /// events, timers due in the same batch, posted calls, deferred deletes) stays queued and
    /// runs on the next iteration of whichever loop runs next.
    pub fn exec(&self) -> i32 {
        self.run_frame(Rc::new(FrameState::default()), true)
    }

    /// Runs a frame of the loop until its state is asked to exit.
    pub(crate) fn run_frame(&self, state: Rc<FrameState>, thread_loop: bool) -> i32 {
        self.run_frame_with(state, thread_loop, || {})
    }

    /// Runs a frame of the loop until its state is asked to exit, calling `after_each` after
    /// every iteration (`block_on` polls its future there).
    pub(crate) fn run_frame_with(
        &self,
        state: Rc<FrameState>,
        thread_loop: bool,
        mut after_each: impl FnMut(),
    ) -> i32 {
        state.exit.set(None);
        state.running.set(true);
        self.inner.frames.borrow_mut().push(Frame {
            state: state.clone(),
            thread_loop,
        });
        let _frame = FrameGuard { inner: &self.inner };
        loop {
            if let Some(code) = state.exit.get() {
                return code;
            }
            self.process_events(None);
            after_each();
        }
    }

    /// Makes the innermost running [`EventLoop::exec`] return `code` once control is back in
    /// it (a [`LocalLoop`](crate::LocalLoop) running inside it first returns on its own
    /// terms). Does nothing if no `EventLoop::exec` is running, as in Qt.
    pub fn exit(&self, code: i32) {
        let frames = self.inner.frames.borrow();
        if let Some(frame) = frames.iter().rev().find(|f| f.thread_loop) {
            frame.state.exit(code);
        }
    }

    /// `exit(0)`.
    pub fn quit(&self) {
        self.exit(0)
    }

    /// Whether an `exec()` is running on this thread.
    pub fn is_running(&self) -> bool {
        !self.inner.frames.borrow().is_empty()
    }

    /// How many `exec()` calls are running (nesting depth), those of
    /// [`LocalLoop`](crate::LocalLoop)s included.
    pub fn loop_level(&self) -> usize {
        self.inner.frames.borrow().len()
    }

    /// How many iterations (calls to `process_events`) have run, for diagnostics and tests.
    pub fn iterations(&self) -> u64 {
        self.inner.iterations.get()
    }

    /// Queues `f` to run on this loop's next iteration (Qt's queued `invokeMethod`).
    ///
    /// Posted from outside the loop's own dispatch (before `exec`, or from a foreign loop's
    /// callback while it drives this one), the call also makes [`EventLoop::as_raw_fd`]
    /// readable, so the foreign loop comes back to run it.
    pub fn post<F: FnOnce() + 'static>(&self, f: F) {
        self.inner.posted.borrow_mut().push_back(Box::new(f));
        self.inner.wake_if_idle();
    }

    /// The poller's file descriptor, for a foreign loop (GTK, winit, calloop) to watch: when it
    /// is readable, or when [`EventLoop::next_timeout`] has passed, call
    /// `process_events(Some(Duration::ZERO))`.
    ///
    /// It becomes readable when a socket is ready, when another thread posts, and when this
    /// thread queues work (`post`, a timer, `delete_later`) while no `process_events` runs,
    /// e.g. from the foreign loop's own callbacks. Work queued *during* `process_events`
    /// does not touch the fd: ask [`EventLoop::next_timeout`] after each call (the
    /// `slotnet-glib` and `slotnet-calloop` crates do both).
    #[cfg(unix)]
    pub fn as_raw_fd(&self) -> RawFd {
        self.inner.poll.borrow().as_raw_fd()
    }

    /// How long a foreign loop may sleep before calling `process_events` again: `Some(ZERO)`
    /// when work is already queued, the time to the next timer, or `None` when only I/O or
    /// another thread can create work (watch [`EventLoop::as_raw_fd`]).
    pub fn next_timeout(&self) -> Option<Duration> {
        if self.inner.has_immediate_work() {
            return Some(Duration::ZERO);
        }
        let next = self.inner.timers.borrow_mut().next_deadline()?;
        Some(next.saturating_duration_since(Instant::now()))
    }

    /// Runs one iteration: waits for I/O at most `max_wait` (`None`: until something happens;
    /// never past the next timer, never when work is queued), then dispatches readiness,
    /// calls posted from other threads, due timers, posted calls, and deferred deletes.
    /// Returns how many of those were handled.
    pub fn process_events(&self, max_wait: Option<Duration>) -> usize {
        let inner = &*self.inner;
        inner.iterations.set(inner.iterations.get() + 1);
        let _dispatching = inner.enter_dispatch();
        let mut timeout = max_wait;
        if inner.has_immediate_work() {
            timeout = Some(Duration::ZERO);
        } else if let Some(deadline) = inner.timers.borrow_mut().next_deadline() {
            let until = deadline.saturating_duration_since(Instant::now());
            timeout = Some(timeout.map_or(until, |t| t.min(until)));
        }
        let mut handled = 0;
        handled += self.poll_io(timeout);
        handled += self.drain_remote();
        handled += self.fire_timers();
        handled += self.run_posted();
        handled += self.run_deferred_deletes();
        handled
    }

    fn poll_io(&self, timeout: Option<Duration>) -> usize {
        let inner = &*self.inner;
        let mut ready = std::mem::take(&mut *inner.ready_scratch.borrow_mut());
        ready.clear();
        ready.append(&mut inner.ready_backlog.borrow_mut());
        {
            let mut events = inner
                .events
                .borrow_mut()
                .take()
                .unwrap_or_else(|| Events::with_capacity(256));
            let result = inner.poll.borrow_mut().poll(&mut events, timeout);
            if result.is_ok() {
                ready.extend(
                    events
                        .iter()
                        .filter(|e| e.token() != WAKER_TOKEN)
                        .map(|e| (e.token(), Ready::from_event(e))),
                );
            }
            // EINTR and friends: nothing happened; the caller loops.
            *inner.events.borrow_mut() = Some(events);
        }
        let count = ready.len();
        {
            let mut batch = Batch {
                rest: ready.drain(..),
                backlog: &inner.ready_backlog,
            };
            for (token, readiness) in batch.rest.by_ref() {
                let handler = inner.io.borrow().handler(token);
                if let Some(handler) = handler {
                    handler(readiness);
                }
            }
        }
        *inner.ready_scratch.borrow_mut() = ready;
        count
    }

    fn drain_remote(&self) -> usize {
        let inner = &*self.inner;
        inner.remote.notified.store(false, Ordering::SeqCst);
        let mut count = 0;
        while count < REMOTE_BATCH {
            match inner.remote_rx.try_recv() {
                Ok(task) => {
                    task();
                    count += 1;
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        count
    }

    fn fire_timers(&self) -> usize {
        let inner = &*self.inner;
        let now = Instant::now();
        // Take everything due first: timers armed by these slots wait for the next iteration,
        // so a zero-interval timer cannot starve I/O. Those a panicking slot left unfired in
        // the previous batch come first.
        let mut due = std::mem::take(&mut *inner.due_backlog.borrow_mut());
        {
            let mut timers = inner.timers.borrow_mut();
            while let Some(item) = timers.pop_due(now) {
                due.push(item);
            }
        }
        let count = due.len();
        let mut batch = Batch {
            rest: due.drain(..),
            backlog: &inner.due_backlog,
        };
        for (key, action) in batch.rest.by_ref() {
            match action {
                TimerAction::Once(f) => f(),
                TimerAction::Node(id) => fire_node_timer(id, key, now),
            }
        }
        count
    }

    fn run_posted(&self) -> usize {
        let inner = &*self.inner;
        // Only what was queued before this phase: calls posted by these calls run next time.
        let n = inner.posted.borrow().len();
        for _ in 0..n {
            let task = inner.posted.borrow_mut().pop_front();
            match task {
                Some(task) => task(),
                None => return n,
            }
        }
        n
    }

    fn run_deferred_deletes(&self) -> usize {
        let inner = &*self.inner;
        let depth = inner.frames.borrow().len();
        let ready: Vec<(ObjectId, usize)> = {
            let mut list = inner.deferred_deletes.borrow_mut();
            if list.is_empty() {
                return 0;
            }
            let mut ready = Vec::new();
            list.retain(|&entry| {
                if delete_due(entry.1, depth) {
                    ready.push(entry);
                    false
                } else {
                    true
                }
            });
            ready
        };
        let count = ready.len();
        let mut due = DueDeletes {
            inner,
            rest: ready.into_iter(),
        };
        for (id, _) in due.rest.by_ref() {
            if let Some(obj) = Object::from_id(id) {
                obj.destroy();
            }
        }
        count
    }

    /// Watches a mio source; `handler` runs on this thread whenever it becomes ready. When
    /// `owner` is destroyed the registration is dropped with it. The source is registered
    /// edge-triggered (mio's model): read or write until `WouldBlock` before waiting again.
    pub fn register_io<S, F>(
        &self,
        source: &mut S,
        interest: Interest,
        owner: Option<Object>,
        handler: F,
    ) -> io::Result<IoRegistration>
    where
        S: mio::event::Source + ?Sized,
        F: Fn(Ready) + 'static,
    {
        let token = self
            .inner
            .io
            .borrow_mut()
            .insert(owner.map(|o| o.id()), Rc::new(handler));
        if let Err(e) = self.inner.registry.register(source, token, interest) {
            self.inner.io.borrow_mut().remove(token);
            return Err(e);
        }
        if let Some(owner) = owner {
            if !object::attach_io(owner.id(), token) {
                self.inner.io.borrow_mut().remove(token);
                let _ = self.inner.registry.deregister(source);
                return Err(io::Error::other("owner object has been destroyed"));
            }
        }
        Ok(IoRegistration::new(token))
    }

    /// Number of live objects on this loop (for leak checks in tests).
    pub fn object_count(&self) -> usize {
        self.inner.arena.borrow().len()
    }

    /// Number of armed timers on this loop.
    pub fn timer_count(&self) -> usize {
        self.inner.timers.borrow().len()
    }
}
