//! What several core test files share. (slotnet-testkit has the same helpers, but it depends
//! on net and http, which core's tests should not build.)

use std::time::Duration;

use slotnet_core::Timer;

/// A single-shot timer that panics after 30 s: a test that runs the loop through `block_on`
/// or a future fails instead of hanging when a wake never arrives (a hang guard only: the
/// loop is expected to finish long before). Keep the returned timer alive during the test.
pub fn hang_guard() -> Timer {
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard
        .timeout()
        .connect(|_| panic!("the loop was never woken"));
    guard.start_interval(Duration::from_secs(30));
    guard
}
