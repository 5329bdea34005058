//! Futures on the loop: [`spawn_local`] and [`EventLoop::block_on`], and the wakers under
//! them ([`Driver`]) for protocol engines that poll many futures of their own.
//!
//! There is no runtime besides the loop. A [`Driver`] belongs to one [`Task`] (an `Rc` state
//! machine living on the loop's thread) and hands out `std::task::Waker`s, one per *key* (the
//! HTTP/2 client uses one key for the connection and one per stream). Waking a key records it
//! in the driver's ready list and schedules one run of the task on the loop:
//!
//! - on the loop's own thread the run is posted with [`EventLoop::post`] (no system call);
//! - from another thread it goes through the loop's [`LoopHandle`], which wakes the poller.
//!
//! Runs are coalesced: however many wakes happen before the task runs, it runs once, and the
//! task learns which keys were woken with [`Driver::take_ready`]. When nothing is woken,
//! nothing runs: there is no busy polling.
//!
//! [`spawn_local`] is a task with one key that polls one future, as glib's
//! `MainContext::spawn_local` and tokio's `LocalSet::spawn_local` do: the future need not be
//! `Send`, runs only on this thread, starts on the loop's next iteration, and its
//! [`JoinHandle`] can be awaited for the output or aborted; dropping the handle detaches the
//! future (it keeps running).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::{pin, Pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use crate::event_loop::{post_local, EventLoop, FrameState, LoopHandle};

/// Hashes the small integer keys of the executor's maps (task ids, waker keys, stream keys)
/// with one multiplication. They are counters slotnet hands out, never chosen by a peer, so
/// SipHash's protection against crafted keys buys nothing here, and these maps are looked
/// up several times per request.
#[derive(Default, Clone, Copy, Debug)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: an odd multiplier keeps distinct keys distinct in the low bits
        // (the bucket) and spreads them into the high bits (hashbrown's tag).
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by integer keys slotnet hands out (a [`Driver`]'s waker keys), hashed with
/// [`KeyHasher`].
pub type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// A state machine the loop polls when one of its driver's wakers fires.
pub trait Task {
    /// Called on the loop's thread after one or more wakes. Use [`Driver::take_ready`] to
    /// learn which keys were woken, and poll those with [`Driver::waker`]'s wakers.
    fn run(self: Rc<Self>);
}

/// Ids of the tasks alive on this thread; a run posted for a task that is gone does nothing.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TASKS: RefCell<KeyMap<Weak<dyn Task>>> = RefCell::new(KeyMap::default());
}

/// The part of a driver that wakers share (it is `Send + Sync`).
struct Shared {
    id: u64,
    thread: ThreadId,
    handle: LoopHandle,
    /// A run is posted and has not started yet.
    scheduled: AtomicBool,
    ready: Mutex<Vec<Arc<KeyWaker>>>,
}

impl Shared {
    /// Posts one run of the task unless one is already pending.
    fn schedule(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if thread::current().id() == self.thread {
            // A wake from the task's own thread, possibly while its state is being torn down:
            // only post for a task that is still registered (this also keeps thread-exit
            // destructors away from the loop).
            let alive = TASKS
                .try_with(|t| t.try_borrow().is_ok_and(|t| t.contains_key(&self.id)))
                .unwrap_or(false);
            if alive {
                let me = self.clone();
                post_local(Box::new(move || me.run()));
            } else {
                self.scheduled.store(false, Ordering::Release);
            }
        } else {
            let me = self.clone();
            if self.handle.post(move || me.run()).is_err() {
                // The loop is gone; so is the task.
                self.scheduled.store(false, Ordering::Release);
            }
        }
    }

    /// Runs the task (on its thread).
    fn run(&self) {
        self.scheduled.store(false, Ordering::Release);
        let task = TASKS
            .try_with(|t| t.borrow().get(&self.id).and_then(Weak::upgrade))
            .ok()
            .flatten();
        if let Some(task) = task {
            task.run();
        }
    }
}

/// The waker of one key of a driver.
struct KeyWaker {
    key: u64,
    /// Already in the ready list (so a burst of wakes records the key once).
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for KeyWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            if let Ok(mut ready) = self.shared.ready.lock() {
                ready.push(self.clone());
            }
        }
        self.shared.schedule();
    }
}

/// Hands out wakers for a [`Task`] and schedules its runs on the loop (see the module docs).
///
/// Create it inside `Rc::new_cyclic` so it can register the task's `Weak`. Dropping the driver
/// unregisters the task: later wakes do nothing.
pub struct Driver {
    shared: Arc<Shared>,
    /// Wakers by key, created on first use.
    wakers: RefCell<KeyMap<Arc<KeyWaker>>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("id", &self.shared.id)
            .field("keys", &self.wakers.borrow().len())
            .finish()
    }
}

impl Driver {
    /// A driver for `task`, on this thread's loop.
    pub fn new(task: Weak<dyn Task>) -> Driver {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // During thread teardown there is nothing left to drive; the driver then stays inert.
        let _ = TASKS.try_with(|t| t.borrow_mut().insert(id, task));
        Driver {
            shared: Arc::new(Shared {
                id,
                thread: thread::current().id(),
                handle: EventLoop::current().handle(),
                scheduled: AtomicBool::new(false),
                ready: Mutex::new(Vec::new()),
            }),
            wakers: RefCell::new(KeyMap::default()),
        }
    }

    fn key_waker(&self, key: u64) -> Arc<KeyWaker> {
        self.wakers
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(KeyWaker {
                    key,
                    queued: AtomicBool::new(false),
                    shared: self.shared.clone(),
                })
            })
            .clone()
    }

    /// The waker for `key` (the same one on every call until [`Driver::forget`]).
    pub fn waker(&self, key: u64) -> Waker {
        Waker::from(self.key_waker(key))
    }

    /// Drops the cached waker of `key` (a finished stream). Wakers already handed out keep
    /// working; the task should ignore keys it no longer knows.
    pub fn forget(&self, key: u64) {
        self.wakers.borrow_mut().remove(&key);
    }

    /// Wakes `key` (schedules a run that will report it).
    pub fn wake(&self, key: u64) {
        self.key_waker(key).wake_by_ref();
    }

    /// The keys woken since the last call, each once, in waking order.
    pub fn take_ready(&self) -> Vec<u64> {
        let woken = match self.shared.ready.lock() {
            Ok(mut ready) => std::mem::take(&mut *ready),
            Err(_) => Vec::new(),
        };
        woken
            .into_iter()
            .map(|w| {
                w.queued.store(false, Ordering::Release);
                w.key
            })
            .collect()
    }

    /// Forgets which keys were woken (a task with one key needs no list), keeping the list's
    /// memory for the next wakes.
    fn clear_ready(&self) {
        if let Ok(mut ready) = self.shared.ready.lock() {
            for w in ready.drain(..) {
                w.queued.store(false, Ordering::Release);
            }
        }
    }

    /// Whether keys are waiting to be handled.
    pub fn has_ready(&self) -> bool {
        self.shared.ready.lock().is_ok_and(|r| !r.is_empty())
    }

    /// Unregisters the task now (a driver that is being torn down): later wakes do nothing.
    pub fn shutdown(&self) {
        let id = self.shared.id;
        let _ = TASKS.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                t.remove(&id);
            }
        });
        // Wakers in the ready list hold the shared state: break that cycle.
        if let Ok(mut ready) = self.shared.ready.lock() {
            ready.clear();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// What every spawned future offers its handles, whatever its output type.
trait SpawnedTask {
    fn abort(&self);
    fn is_finished(&self) -> bool;
    fn wake(&self);
    /// Drops the future without running anything else (the thread is ending).
    fn drop_future(&self);
}

/// The spawned futures of this thread, which own themselves through it until they finish or
/// are aborted. When the thread ends, its futures are dropped first, so that a future holding
/// its own [`JoinHandle`] (through some object) does not keep itself alive.
#[derive(Default)]
struct SpawnedTable(KeyMap<Rc<dyn SpawnedTask>>);

impl Drop for SpawnedTable {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.drop_future();
        }
    }
}

thread_local! {
    static SPAWNED: RefCell<SpawnedTable> = RefCell::new(SpawnedTable::default());
}

/// A future spawned with [`spawn_local`].
struct Spawned<T> {
    id: u64,
    driver: Driver,
    future: RefCell<Option<LocalFuture<T>>>,
    /// The future's value, until the [`JoinHandle`] takes it.
    output: RefCell<Option<T>>,
    /// The task awaiting the [`JoinHandle`].
    joiner: RefCell<Option<Waker>>,
    /// Being polled (a nested loop inside the future must not poll it again).
    polling: Cell<bool>,
    /// Woken while being polled from a nested loop: poll again once the outer poll is done.
    repoll: Cell<bool>,
    aborted: Cell<bool>,
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        // Unregister before the future's fields drop: their destructors may wake us.
        self.driver.shutdown();
    }
}

impl<T: 'static> Task for Spawned<T> {
    fn run(self: Rc<Self>) {
        self.driver.clear_ready();
        if self.polling.get() {
            // Re-entered from a nested loop: rescheduling now would spin that loop.
            self.repoll.set(true);
            return;
        }
        if self.aborted.get() {
            self.finish();
            return;
        }
        self.polling.set(true);
        let waker = self.driver.waker(0);
        let mut cx = Context::from_waker(&waker);
        let done = {
            let mut slot = self.future.borrow_mut();
            match slot.as_mut() {
                Some(fut) => match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(value) => {
                        *self.output.borrow_mut() = Some(value);
                        true
                    }
                    Poll::Pending => false,
                },
                None => true,
            }
        };
        self.polling.set(false);
        if done || self.aborted.get() {
            self.finish();
        } else if self.repoll.replace(false) {
            self.driver.wake(0);
        }
    }
}

impl<T> Spawned<T> {
    fn finish(&self) {
        let fut = self.future.borrow_mut().take();
        self.driver.shutdown();
        let id = self.id;
        // Dropped outside every borrow: the future's destructors may spawn or wake.
        let me = SPAWNED
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.0.remove(&id)))
            .ok()
            .flatten();
        drop(fut);
        // The joiner hears of it only once the future's destructor has run (as in tokio).
        let joiner = self.joiner.borrow_mut().take();
        if let Some(joiner) = joiner {
            joiner.wake();
        }
        drop(me);
    }
}

impl<T: 'static> SpawnedTask for Spawned<T> {
    fn abort(&self) {
        self.aborted.set(true);
        if !self.polling.get() {
            self.finish();
        }
    }

    fn is_finished(&self) -> bool {
        // A future being polled (the borrow fails) is not finished.
        self.future.try_borrow().is_ok_and(|f| f.is_none())
    }

    fn wake(&self) {
        self.driver.wake(0);
    }

    fn drop_future(&self) {
        let fut = self.future.try_borrow_mut().ok().and_then(|mut f| f.take());
        drop(fut);
    }
}

/// Why a [`JoinHandle`] has no value: the future was aborted before it completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinError {
    _cancelled: (),
}

impl JoinError {
    /// Whether the future was aborted (always true: a panic in a future unwinds out of the
    /// loop instead, as a panic in a slot does).
    pub fn is_cancelled(&self) -> bool {
        true
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the spawned future was aborted before it completed")
    }
}

impl std::error::Error for JoinError {}

/// The handle of a future spawned with [`spawn_local`] (tokio's and glib's `JoinHandle`).
///
/// Awaiting it gives the future's value, or [`JoinError`] if it was aborted first. Dropping it
/// detaches the future: it keeps running, and its value is dropped. It is `!Send`, like the
/// future: await it on the same thread's loop.
pub struct JoinHandle<T> {
    task: Rc<Spawned<T>>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field(
                "finished",
                &self.task.future.try_borrow().is_ok_and(|f| f.is_none()),
            )
            .finish()
    }
}

impl<T: 'static> JoinHandle<T> {
    /// Drops the future (now, or right after its current poll if it is being polled from a
    /// loop nested inside it). Awaiting the handle then gives [`JoinError`], unless the future
    /// had already completed.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the future completed or was aborted.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Polls the future again on the loop's next iteration (for state it reads that no waker
    /// announces, such as a flag set by a control handle).
    pub fn wake(&self) {
        self.task.wake();
    }

    /// A handle that can abort the future without owning its value (it can be cloned and
    /// kept after the `JoinHandle` is awaited or dropped).
    pub fn abort_handle(&self) -> AbortHandle {
        let task: Rc<dyn SpawnedTask> = self.task.clone();
        AbortHandle {
            task: Rc::downgrade(&task),
        }
    }
}

impl<T: 'static> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(value) = self.task.output.borrow_mut().take() {
            return Poll::Ready(Ok(value));
        }
        if self.task.is_finished() {
            return Poll::Ready(Err(JoinError { _cancelled: () }));
        }
        let mut joiner = self.task.joiner.borrow_mut();
        if !joiner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *joiner = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Aborts a spawned future without owning its value (tokio's `AbortHandle`); cheap to clone.
/// It does not keep the future alive.
#[derive(Clone)]
pub struct AbortHandle {
    task: Weak<dyn SpawnedTask>,
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl AbortHandle {
    /// Drops the future (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        if let Some(task) = self.task.upgrade() {
            task.abort();
        }
    }

    /// Whether the future completed or was aborted.
    pub fn is_finished(&self) -> bool {
        self.task.upgrade().is_none_or(|t| t.is_finished())
    }

    /// Polls the future again on the loop's next iteration (see [`JoinHandle::wake`]).
    pub fn wake(&self) {
        if let Some(task) = self.task.upgrade() {
            task.wake();
        }
    }
}

/// Runs `future` on this thread's loop: it is polled on the loop's next iteration, then
/// whenever its waker fires (from any thread). The future owns itself until it completes or is
/// aborted; the returned [`JoinHandle`] gives its value. Same as [`EventLoop::spawn_local`].
///
/// ```
/// use slotnet_core::{spawn_local, EventLoop};
///
/// let answer = spawn_local(async { 6 * 7 });
/// spawn_local(async move {
///     let value = answer.await.unwrap();
///     EventLoop::current().exit(value);
/// });
/// assert_eq!(EventLoop::current().exec(), 42);
/// ```
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let task = Rc::new_cyclic(|me: &Weak<Spawned<F::Output>>| {
        let weak: Weak<dyn Task> = me.clone();
        let driver = Driver::new(weak);
        Spawned {
            id: driver.shared.id,
            driver,
            future: RefCell::new(Some(Box::pin(future))),
            output: RefCell::new(None),
            joiner: RefCell::new(None),
            polling: Cell::new(false),
            repoll: Cell::new(false),
            aborted: Cell::new(false),
        }
    });
    task.driver.wake(0);
    let id = task.id;
    let owned: Rc<dyn SpawnedTask> = task.clone();
    let _ = SPAWNED.try_with(|s| s.borrow_mut().0.insert(id, owned));
    JoinHandle { task }
}

/// The waker of [`EventLoop::block_on`]'s future.
struct BlockOnWaker {
    woken: AtomicBool,
    thread: ThreadId,
    handle: LoopHandle,
}

impl BlockOnWaker {
    /// After a poll: a future woken during its own poll (a yield) must be polled again
    /// without the next iteration sleeping for I/O that may never come.
    fn keep_awake_if_woken(&self) {
        if self.woken.load(Ordering::Acquire) {
            post_local(Box::new(|| {}));
        }
    }
}

impl Wake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.woken.swap(true, Ordering::AcqRel) {
            return;
        }
        // On the loop's thread the flag is enough: the iteration running now ends and
        // `block_on` polls. Another thread must wake a poller that may be sleeping.
        if thread::current().id() != self.thread {
            let _ = self.handle.post(|| {});
        }
    }
}

impl EventLoop {
    /// Runs `future` on this loop: see [`spawn_local`].
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        spawn_local(future)
    }

    /// Runs the loop until `future` is ready and returns its value (anything that is
    /// [`IntoFuture`], such as an awaitable reply, is taken too): the future need not be
    /// `'static` or `Send`, and everything else on the loop (slots, timers, sockets, spawned
    /// futures) runs meanwhile.
    ///
    /// It may be called from `main` and, as a nested loop, from inside a slot or a spawned
    /// future, as a [`LocalLoop`](crate::LocalLoop) may: only the future's completion ends it
    /// ([`EventLoop::exit`] does not), a `delete_later` asked for by the slot that waits is
    /// carried out after the slot returns, and a spawned future that waits is not polled
    /// again until its wait ends.
    ///
    /// ```
    /// use slotnet_core::{EventLoop, Timer};
    /// use std::time::Duration;
    ///
    /// let lp = EventLoop::current();
    /// let later = lp.spawn_local(async { "done" });
    /// assert_eq!(lp.block_on(later), Ok("done"));
    /// ```
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        let mut future = pin!(future.into_future());
        let waker = Arc::new(BlockOnWaker {
            woken: AtomicBool::new(false),
            thread: thread::current().id(),
            handle: self.handle(),
        });
        let as_waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&as_waker);
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        waker.keep_awake_if_woken();
        let state = Rc::new(FrameState::default());
        let mut output = None;
        self.run_frame_with(state.clone(), false, || {
            if !waker.woken.swap(false, Ordering::AcqRel) {
                return;
            }
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(value) => {
                    output = Some(value);
                    state.exit(0);
                }
                Poll::Pending => waker.keep_awake_if_woken(),
            }
        });
        match output {
            Some(value) => value,
            None => unreachable!("block_on's frame ends only when its future is ready"),
        }
    }
}

/// A future that is pending once, then ready: lets a long-running future give the loop a
/// turn (for example between two large writes).
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wakes_are_coalesced_into_one_run() {
        struct Counter {
            driver: RefCell<Option<Driver>>,
            runs: Cell<u32>,
            keys: RefCell<Vec<u64>>,
        }
        impl Task for Counter {
            fn run(self: Rc<Self>) {
                self.runs.set(self.runs.get() + 1);
                let keys = self.driver.borrow().as_ref().unwrap().take_ready();
                self.keys.borrow_mut().extend(keys);
                EventLoop::current().quit();
            }
        }
        let task = Rc::new(Counter {
            driver: RefCell::new(None),
            runs: Cell::new(0),
            keys: RefCell::new(Vec::new()),
        });
        let weak: Weak<dyn Task> = Rc::downgrade(&task) as Weak<dyn Task>;
        *task.driver.borrow_mut() = Some(Driver::new(weak));
        let waker = task.driver.borrow().as_ref().unwrap().waker(3);
        waker.wake_by_ref();
        waker.wake_by_ref();
        task.driver.borrow().as_ref().unwrap().wake(7);
        EventLoop::current().exec();
        assert_eq!(task.runs.get(), 1);
        assert_eq!(*task.keys.borrow(), [3, 7]);
        // Nothing woken: nothing runs.
        let before = task.runs.get();
        EventLoop::current().process_events(Some(Duration::ZERO));
        assert_eq!(task.runs.get(), before);
    }
}
