//! slotnet-calloop: slotnet's event loop as an event source of a [calloop] `EventLoop`, the
//! loop Smithay compositors and many Wayland clients run.
//!
//! [`LoopSource`] drives the calling thread's slotnet [`EventLoop`] from two calloop
//! sub-sources:
//!
//! - the loop's poller fd ([`EventLoop::as_raw_fd`]), level-triggered: readable when a socket
//!   is ready, another thread posts, or this thread queues work from a calloop callback
//!   (`post`, a timer, `delete_later`, a download started there);
//! - a calloop timer at [`EventLoop::next_timeout`], re-armed after every pass: slotnet's
//!   timers, and work that a pass queued for the next one (then the deadline is now).
//!
//! Each wake-up runs one non-blocking `process_events(Some(Duration::ZERO))` and then the
//! callback given to `insert_source` with how many events the pass handled (most programs
//! ignore it).
//!
//! ```no_run
//! use slotnet_core::Timer;
//! use std::time::Duration;
//!
//! let mut event_loop = calloop::EventLoop::<bool>::try_new().unwrap();
//! event_loop
//!     .handle()
//!     .insert_source(slotnet_calloop::LoopSource::new(), |_handled, _, _done| {})
//!     .unwrap();
//! let signal = event_loop.get_signal();
//! Timer::single_shot(Duration::from_millis(10), move || signal.stop());
//! let mut done = false;
//! event_loop.run(None, &mut done, |_| {}).unwrap();
//! ```
//!
//! The source belongs to the thread that made it (slotnet's loop is per thread), as calloop
//! sources do.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use calloop::generic::Generic;
use calloop::timer::Timer;
use calloop::{EventSource, Interest, Mode, Poll, PostAction, Readiness, Token, TokenFactory};
use slotnet_core::EventLoop;

/// The current thread's slotnet loop as a calloop event source. Its event is the number of
/// events one slotnet pass handled.
pub struct LoopSource {
    event_loop: EventLoop,
    fd: Generic<LoopFd>,
    /// The timer for the deadline slotnet wants next, `None` when only I/O or another thread
    /// can create work; with the deadline it was armed for.
    timer: Option<(Timer, Instant)>,
    /// The deadline the last pass asked for (`None`: no wake-up needed but the fd).
    wanted: Option<Instant>,
}

impl fmt::Debug for LoopSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopSource")
            .field("fd", &self.fd.get_ref().0)
            .field("timer", &self.timer.as_ref().map(|(_, at)| at))
            .finish()
    }
}

impl LoopSource {
    /// A source driving the current thread's slotnet loop; insert it with
    /// `calloop::LoopHandle::insert_source`.
    pub fn new() -> LoopSource {
        let event_loop = EventLoop::current();
        let fd = Generic::new(LoopFd(event_loop.as_raw_fd()), Interest::READ, Mode::Level);
        let wanted = deadline(&event_loop);
        LoopSource {
            event_loop,
            fd,
            timer: None,
            wanted,
        }
    }

    /// The slotnet loop this source drives.
    pub fn event_loop(&self) -> &EventLoop {
        &self.event_loop
    }
}

impl Default for LoopSource {
    fn default() -> Self {
        LoopSource::new()
    }
}

/// When slotnet next needs a pass, as an instant (now when work is queued).
fn deadline(event_loop: &EventLoop) -> Option<Instant> {
    let wait = event_loop.next_timeout()?;
    Some(Instant::now().checked_add(wait).unwrap_or_else(far_future))
}

/// Whether the timer armed for `armed` must be replaced to wake calloop for `wanted`: it
/// fired already, or the two differ by more than a millisecond (deadlines computed as now +
/// `next_timeout` move by nanoseconds from pass to pass: not worth a re-arm each time).
fn needs_rearm(armed: Option<Instant>, wanted: Option<Instant>, now: Instant) -> bool {
    const SLACK: Duration = Duration::from_millis(1);
    match (armed, wanted) {
        (None, None) => false,
        (Some(armed), Some(wanted)) => {
            armed <= now
                || armed.saturating_duration_since(wanted) > SLACK
                || wanted.saturating_duration_since(armed) > SLACK
        }
        _ => true,
    }
}

/// A deadline that never comes in practice, for waits too long for `Instant` to add.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// The poller fd of the thread's loop. It stays open as long as the loop, which the
/// [`LoopSource`] holding this keeps alive.
struct LoopFd(RawFd);

impl AsFd for LoopFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd belongs to the slotnet loop that the enclosing LoopSource holds an
        // `EventLoop` of, so it is open for as long as this value exists.
        unsafe { BorrowedFd::borrow_raw(self.0) }
    }
}

impl EventSource for LoopSource {
    type Event = usize;
    type Metadata = ();
    type Ret = ();
    type Error = io::Error;

    /// Called for the fd or the timer (calloop hands a source only its own tokens): either
    /// way, one slotnet pass.
    fn process_events<F>(
        &mut self,
        _: Readiness,
        _: Token,
        mut callback: F,
    ) -> Result<PostAction, io::Error>
    where
        F: FnMut(usize, &mut ()),
    {
        let handled = self.event_loop.process_events(Some(Duration::ZERO));
        callback(handled, &mut ());
        self.wanted = deadline(&self.event_loop);
        let armed = self.timer.as_ref().map(|&(_, at)| at);
        // Re-armed in `reregister`, which calloop calls next (the fd's registration stays
        // as it is) when the timer fired or slotnet now wants another deadline.
        if needs_rearm(armed, self.wanted, Instant::now()) {
            Ok(PostAction::Reregister)
        } else {
            Ok(PostAction::Continue)
        }
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.fd.register(poll, factory)?;
        self.arm_timer(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        // The first token of the factory is the fd's, unchanged: skip it instead of asking
        // the kernel to re-register an fd whose interest did not change.
        let _fd_token = factory.token();
        self.wanted = deadline(&self.event_loop);
        self.arm_timer(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        if let Some((mut timer, _)) = self.timer.take() {
            timer.unregister(poll)?;
        }
        self.fd.unregister(poll)
    }
}

impl LoopSource {
    /// Replaces the timer with one for the deadline slotnet wants (none if it wants none).
    fn arm_timer(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        if let Some((mut timer, _)) = self.timer.take() {
            timer.unregister(poll)?;
        }
        if let Some(at) = self.wanted {
            let mut timer = Timer::from_deadline(at);
            timer.register(poll, factory)?;
            self.timer = Some((timer, at));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::needs_rearm;
    use std::time::{Duration, Instant};

    #[test]
    fn the_timer_is_rearmed_when_it_fired_or_the_deadline_moved() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        assert!(!needs_rearm(None, None, now));
        assert!(needs_rearm(None, Some(later), now));
        assert!(needs_rearm(Some(later), None, now));
        assert!(!needs_rearm(
            Some(later),
            Some(later + Duration::from_micros(10)),
            now
        ));
        assert!(needs_rearm(
            Some(later),
            Some(later + Duration::from_millis(5)),
            now
        ));
        assert!(needs_rearm(
            Some(later),
            Some(later - Duration::from_millis(5)),
            now
        ));
        assert!(
            needs_rearm(Some(now), Some(now), now),
            "a timer that fired is re-armed"
        );
    }
}
