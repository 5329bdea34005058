//! Running the current thread's event loop from a test, always with a hang guard: a test whose
//! signal never comes fails after a limit instead of blocking the suite.

use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, Timer};

/// The usual limit of a test's loop: long enough for a loaded machine, short enough that a
/// hung test fails in reasonable time.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs the loop until a slot quits it ([`quit`] or `EventLoop::current().quit()`); false if
/// `limit` passed first (a hung test fails instead of blocking the suite).
///
/// ```no_run
/// # use std::time::Duration;
/// use slotnet_testkit::{exec_within, quit};
/// slotnet_core::Timer::single_shot(Duration::from_millis(1), quit);
/// assert!(exec_within(Duration::from_secs(10)), "the loop hung");
/// ```
pub fn exec_within(limit: Duration) -> bool {
    let watchdog = Timer::new();
    watchdog.set_single_shot(true);
    watchdog
        .timeout()
        .connect(|_| EventLoop::current().exit(99));
    watchdog.start_interval(limit);
    let code = EventLoop::current().exec();
    watchdog.destroy();
    code == 0
}

/// Runs the loop until `limit` has passed (for checking that something does *not* happen).
pub fn run_for(limit: Duration) {
    Timer::single_shot(limit, || EventLoop::current().quit());
    EventLoop::current().exec();
}

/// Runs the loop until `done` holds (checked after every loop iteration); false after
/// `limit`.
pub fn run_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let lp = EventLoop::current();
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        lp.process_events(Some(Duration::from_millis(50)));
    }
    true
}

/// A single-shot timer that panics after [`LIMIT`]: for a test that runs the loop through
/// something other than [`exec_within`] (`block_on`, an awaited reply) and must fail, not hang,
/// when a wake never arrives. Keep the returned timer alive for the test's duration.
pub fn hang_guard() -> Timer {
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard
        .timeout()
        .connect(|_| panic!("the loop was never woken"));
    guard.start_interval(LIMIT);
    guard
}

/// Quits the current thread's loop (ends an [`exec_within`] with success).
pub fn quit() {
    EventLoop::current().quit();
}
