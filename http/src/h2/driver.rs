//! Polling futures from the slotnet loop: wakers that schedule a re-poll, and a tiny local
//! executor ([`spawn_local`]).
//!
//! There is no tokio runtime. A [`Driver`] belongs to one [`Task`] (an `Rc` state machine
//! living on the loop's thread) and hands out `std::task::Waker`s, one per *key* (the
//! HTTP/2 client uses one key for the connection and one per stream). Waking a key records it
//! in the driver's ready list and schedules one run of the task on the loop:
//!
//! - on the loop's own thread the run is posted with [`EventLoop::post`] (no system call);
//! - from another thread it goes through the loop's [`LoopHandle`], which wakes the poller.
//!
//! Runs are coalesced: however many wakes happen before the task runs, it runs once, and the
//! task learns which keys were woken with [`Driver::take_ready`]. When nothing is woken,
//! nothing runs: there is no busy polling.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};

use slotnet_core::{EventLoop, LoopHandle};

/// Hashes the small integer keys of this module's maps (task ids, waker keys, stream keys)
/// with one multiplication. They are counters slotnet hands out, never chosen by a peer, so
/// SipHash's protection against crafted keys buys nothing here, and these maps are looked
/// up several times per request.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct KeyHasher(u64);

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

/// A map keyed by the driver's integer keys.
pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

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
                EventLoop::current().post(move || me.run());
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

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

thread_local! {
    /// Spawned tasks own themselves through this table until they finish or are aborted.
    static SPAWNED: RefCell<KeyMap<Rc<Spawned>>> = RefCell::new(KeyMap::default());
}

/// A future spawned with [`spawn_local`].
struct Spawned {
    id: u64,
    driver: Driver,
    future: RefCell<Option<LocalFuture>>,
    /// Being polled (a nested loop inside the future must not poll it again).
    polling: Cell<bool>,
    /// Woken while being polled from a nested loop: poll again once the outer poll is done.
    repoll: Cell<bool>,
    aborted: Cell<bool>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Unregister before the future's fields drop: their destructors may wake us.
        self.driver.shutdown();
    }
}

impl Task for Spawned {
    fn run(self: Rc<Self>) {
        self.driver.take_ready();
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
                Some(fut) => fut.as_mut().poll(&mut cx).is_ready(),
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

impl Spawned {
    fn finish(&self) {
        let fut = self.future.borrow_mut().take();
        self.driver.shutdown();
        let id = self.id;
        // Dropped outside every borrow: the future's destructors may spawn or wake.
        let me = SPAWNED
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.remove(&id)))
            .ok()
            .flatten();
        drop(fut);
        drop(me);
    }
}

/// A handle to a future spawned with [`spawn_local`]. Dropping it does not stop the future.
#[derive(Clone)]
pub struct SpawnHandle {
    task: Weak<Spawned>,
}

impl fmt::Debug for SpawnHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl SpawnHandle {
    /// Whether the future completed or was aborted.
    pub fn is_finished(&self) -> bool {
        // A future being polled (the borrow fails) is not finished.
        self.task
            .upgrade()
            .is_none_or(|t| t.future.try_borrow().is_ok_and(|f| f.is_none()))
    }

    /// Drops the future (now, or right after its current poll if it is being polled).
    pub fn abort(&self) {
        if let Some(task) = self.task.upgrade() {
            task.aborted.set(true);
            if !task.polling.get() {
                task.finish();
            }
        }
    }

    /// Polls the future again on the loop's next iteration (for state it reads that no waker
    /// announces, such as a flag set by a control handle).
    pub fn wake(&self) {
        if let Some(task) = self.task.upgrade() {
            task.driver.wake(0);
        }
    }
}

/// Runs `future` on this thread's loop: it is polled on the next iteration, then whenever its
/// waker fires. The future owns itself until it completes (or [`SpawnHandle::abort`]).
///
/// ```
/// use slotnet_core::EventLoop;
/// use slotnet_http::h2::driver::spawn_local;
///
/// spawn_local(async {
///     EventLoop::current().exit(5);
/// });
/// assert_eq!(EventLoop::current().exec(), 5);
/// ```
pub fn spawn_local<F: Future<Output = ()> + 'static>(future: F) -> SpawnHandle {
    let task = Rc::new_cyclic(|me: &Weak<Spawned>| {
        let weak: Weak<dyn Task> = me.clone();
        let driver = Driver::new(weak);
        Spawned {
            id: driver.shared.id,
            driver,
            future: RefCell::new(Some(Box::pin(future))),
            polling: Cell::new(false),
            repoll: Cell::new(false),
            aborted: Cell::new(false),
        }
    });
    let handle = SpawnHandle {
        task: Rc::downgrade(&task),
    };
    task.driver.wake(0);
    let id = task.id;
    let _ = SPAWNED.try_with(|s| s.borrow_mut().insert(id, task));
    handle
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

    #[test]
    fn a_wake_from_another_thread_reaches_the_loop() {
        let waker_slot: Rc<RefCell<Option<Waker>>> = Rc::default();
        let slot = waker_slot.clone();
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        spawn_local(std::future::poll_fn(move |cx| {
            p.set(p.get() + 1);
            if p.get() == 1 {
                *slot.borrow_mut() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            EventLoop::current().quit();
            Poll::Ready(())
        }));
        // The first poll stores the waker; a thread then wakes it.
        EventLoop::current().process_events(Some(Duration::ZERO));
        let waker = waker_slot.borrow_mut().take().expect("polled once");
        std::thread::spawn(move || waker.wake()).join().unwrap();
        EventLoop::current().exec();
        assert_eq!(polls.get(), 2);
    }

    #[test]
    fn abort_drops_the_future() {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let flag = Flag(dropped.clone());
        let handle = spawn_local(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        EventLoop::current().process_events(Some(Duration::ZERO));
        assert!(!dropped.get());
        assert!(!handle.is_finished());
        handle.abort();
        assert!(dropped.get());
        assert!(handle.is_finished());
    }
}
