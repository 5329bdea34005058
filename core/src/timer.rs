//! `Timer`, Qt's `QTimer`: single-shot and repeating timers on the loop.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::event_loop::with_loop;
use crate::object::{AsObject, Object, ObjectId};
use crate::signal::Signal;
use crate::timer_queue::{TimerAction, TimerKey};

struct TimerState {
    interval: Cell<Duration>,
    single_shot: Cell<bool>,
    key: Cell<Option<TimerKey>>,
    timeout: Signal<()>,
}

impl Drop for TimerState {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            with_loop(|l| l.timers.borrow_mut().cancel(key));
        }
    }
}

/// A timer object (Qt's `QTimer`): emits [`Timer::timeout`] after its interval, once or
/// repeatedly. It never fires early. Destroying it (or its parent) stops it.
///
/// ```
/// use slotnet_core::{EventLoop, Timer};
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let ticks = Rc::new(Cell::new(0));
/// let timer = Timer::new();
/// let t = ticks.clone();
/// timer.timeout().connect(move |_| {
///     t.set(t.get() + 1);
///     if t.get() == 3 {
///         EventLoop::current().quit();
///     }
/// });
/// timer.start_interval(Duration::from_millis(1));
/// EventLoop::current().exec();
/// assert_eq!(ticks.get(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timer {
    obj: Object,
}

impl AsObject for Timer {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Timer {
    fn create(parent: Option<Object>) -> Timer {
        let obj = Object::with_data(Rc::new(()), parent);
        let state = Rc::new(TimerState {
            interval: Cell::new(Duration::ZERO),
            single_shot: Cell::new(false),
            key: Cell::new(None),
            timeout: obj.new_signal(),
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(state);
        Timer { obj }
    }

    /// An inactive repeating timer with a zero interval.
    pub fn new() -> Timer {
        Timer::create(None)
    }

    /// An inactive timer owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> Timer {
        Timer::create(Some(parent.as_object()))
    }

    fn state(&self) -> Option<Rc<TimerState>> {
        self.obj.data::<TimerState>()
    }

    /// Runs `f` once after `delay` (Qt's `QTimer::singleShot`). Cheap: no object is created.
    pub fn single_shot<F: FnOnce() + 'static>(delay: Duration, f: F) {
        let deadline = deadline_after(Instant::now(), delay);
        with_loop(|l| {
            l.timers
                .borrow_mut()
                .arm(deadline, TimerAction::Once(Box::new(f)));
            l.wake_if_idle();
        });
    }

    /// Like [`Timer::single_shot`], but `f` is not called if `context` is destroyed first
    /// (Qt's `singleShot(msec, context, functor)`). As in Qt, a context passed to
    /// `delete_later` exists until that deferred delete is carried out (at the end of the
    /// loop iteration): a timer due before then still runs, one due after it does not.
    pub fn single_shot_with<C: AsObject, F: FnOnce() + 'static>(
        delay: Duration,
        context: &C,
        f: F,
    ) {
        let context = context.as_object();
        Timer::single_shot(delay, move || {
            if context.is_alive() {
                f()
            }
        });
    }

    /// Emitted when the timer expires.
    pub fn timeout(&self) -> Signal<()> {
        self.state()
            .map(|s| s.timeout.clone())
            .unwrap_or_else(Signal::closed)
    }

    /// Starts (or restarts) the timer with its current interval.
    pub fn start(&self) -> bool {
        let Some(state) = self.state() else {
            return false;
        };
        let deadline = deadline_after(Instant::now(), state.interval.get());
        let old = state.key.take();
        let key = with_loop(|l| {
            let key = {
                let mut timers = l.timers.borrow_mut();
                match old.and_then(|k| timers.rearm(k, deadline)) {
                    Some(k) => k,
                    None => timers.arm(deadline, TimerAction::Node(self.obj.id())),
                }
            };
            // A foreign loop sleeping until the old next_timeout would miss a sooner deadline.
            l.wake_if_idle();
            key
        });
        state.key.set(key);
        key.is_some()
    }

    /// Sets the interval and starts (or restarts) the timer (Qt's
    /// `start(std::chrono::milliseconds)`).
    pub fn start_interval(&self, interval: Duration) -> bool {
        self.set_interval(interval);
        self.start()
    }

    /// Sets the interval to `msec` milliseconds and starts (or restarts) the timer: Qt's
    /// `start(int msec)` (Rust has no overloading, and [`Timer::start`] is Qt's `start()`).
    #[doc(alias = "start")]
    pub fn start_msec(&self, msec: u64) -> bool {
        self.start_interval(Duration::from_millis(msec))
    }

    /// Stops the timer; `timeout` will not be emitted until it is started again.
    pub fn stop(&self) {
        if let Some(state) = self.state() {
            if let Some(key) = state.key.take() {
                with_loop(|l| l.timers.borrow_mut().cancel(key));
            }
        }
    }

    /// Sets the interval. A running timer is restarted with it, as in Qt.
    pub fn set_interval(&self, interval: Duration) {
        if let Some(state) = self.state() {
            state.interval.set(interval);
            if self.is_active() {
                self.start();
            }
        }
    }

    /// The interval (zero for a destroyed timer).
    pub fn interval(&self) -> Duration {
        self.state().map(|s| s.interval.get()).unwrap_or_default()
    }

    /// Makes the timer fire once per start (`true`) or repeatedly (`false`, the default).
    pub fn set_single_shot(&self, single_shot: bool) {
        if let Some(state) = self.state() {
            state.single_shot.set(single_shot);
        }
    }

    /// Whether the timer fires once per start.
    pub fn is_single_shot(&self) -> bool {
        self.state().map(|s| s.single_shot.get()).unwrap_or(false)
    }

    /// Whether the timer is running.
    pub fn is_active(&self) -> bool {
        self.state()
            .and_then(|s| s.key.get())
            .and_then(|k| with_loop(|l| l.timers.borrow().deadline(k)).flatten())
            .is_some()
    }

    /// Time left before the next `timeout`, or `None` when the timer is not running
    /// (Qt returns -1).
    pub fn remaining_time(&self) -> Option<Duration> {
        let key = self.state()?.key.get()?;
        let deadline = with_loop(|l| l.timers.borrow().deadline(key)).flatten()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// Destroys the timer object (stopping it).
    pub fn destroy(&self) -> bool {
        self.obj.destroy()
    }
}

/// Called by the loop when a `Timer` object's entry comes due.
pub(crate) fn fire_node_timer(id: ObjectId, key: TimerKey, now: Instant) {
    let Some(state) = Object::from_id(id).and_then(|o| o.data::<TimerState>()) else {
        return;
    };
    if state.key.get() != Some(key) {
        // Stopped or restarted by an earlier slot in this same batch.
        return;
    }
    if state.single_shot.get() {
        state.key.set(None);
    } else {
        let interval = state.interval.get();
        let next = deadline_after(now, interval);
        let key = with_loop(|l| l.timers.borrow_mut().arm(next, TimerAction::Node(id)));
        state.key.set(key);
    }
    state.timeout.emit(());
}

/// `now + delay`, or a deadline a century away when that sum overflows `Instant`
/// (`Duration::MAX`, which a caller passes to mean "never"): timers and timeouts computed with
/// it wait, they never panic with "overflow when adding duration to instant".
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// assert_eq!(slotnet_core::deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// assert!(slotnet_core::deadline_after(now, Duration::MAX) > now + Duration::from_secs(1 << 30));
/// ```
pub fn deadline_after(now: Instant, delay: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(delay)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}
