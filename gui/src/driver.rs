//! Drives the thread's slotnet [`EventLoop`] from glib's main loop (the one GTK runs).
//!
//! slotnet never blocks here: glib does the sleeping. Two glib sources wake it:
//!
//! - a Unix fd source on [`EventLoop::as_raw_fd`], the epoll fd, readable when a socket is
//!   ready or another thread posted to the loop;
//! - a one-shot timeout armed from [`EventLoop::next_timeout`] after every pass, for
//!   slotnet's timers and for work already queued (then the timeout is zero).
//!
//! Each wake-up runs `process_events(Some(Duration::ZERO))`, one non-blocking iteration, and
//! re-arms the timeout. Code that calls slotnet from outside its loop (a GTK button handler
//! starting a download) may queue work without touching the fd: it calls
//! [`SlotnetDriver::kick`] afterwards so the timeout is recomputed.

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::time::Duration;

use glib::{ControlFlow, IOCondition, Priority, SourceId};
use gtk::glib;
use slotnet_http::core::EventLoop;

/// Below GTK's redraw priority: a download saturating the socket still lets the window
/// repaint and handle input between passes.
const PRIORITY: Priority = Priority::DEFAULT_IDLE;

/// Keeps the current thread's slotnet loop running inside glib's default main context.
/// Dropping it detaches the loop.
#[derive(Debug)]
pub struct SlotnetDriver {
    inner: Rc<Inner>,
}

#[derive(Debug)]
struct Inner {
    event_loop: EventLoop,
    fd_source: RefCell<Option<SourceId>>,
    timeout: RefCell<Option<SourceId>>,
}

impl SlotnetDriver {
    /// Attaches the current thread's slotnet loop to glib's default main context (must be
    /// called on the thread that owns that context, GTK's main thread).
    pub fn attach() -> SlotnetDriver {
        let inner = Rc::new(Inner {
            event_loop: EventLoop::current(),
            fd_source: RefCell::new(None),
            timeout: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        let fd = inner.event_loop.as_raw_fd();
        let on_ready = move |_: RawFd, _: IOCondition| match weak.upgrade() {
            Some(inner) => {
                inner.pass();
                ControlFlow::Continue
            }
            None => ControlFlow::Break,
        };
        let id = glib_unix::unix_fd_add_local_full(fd, PRIORITY, IOCondition::IN, on_ready);
        *inner.fd_source.borrow_mut() = Some(id);
        inner.rearm();
        SlotnetDriver { inner }
    }

    /// Recomputes when slotnet next needs a pass. Call it after using slotnet from a
    /// callback that glib ran (a GTK signal handler): what that queued gets its wake-up.
    pub fn kick(&self) {
        self.inner.rearm();
    }
}

impl Inner {
    /// One non-blocking slotnet iteration, then the next wake-up.
    fn pass(self: &Rc<Self>) {
        self.event_loop.process_events(Some(Duration::ZERO));
        self.rearm();
    }

    /// Replaces the pending timeout with one for `next_timeout()` (none when only I/O or
    /// another thread can create work: the fd source covers both).
    fn rearm(self: &Rc<Self>) {
        if let Some(id) = self.timeout.borrow_mut().take() {
            id.remove();
        }
        let Some(wait) = self.event_loop.next_timeout() else {
            return;
        };
        let weak: Weak<Inner> = Rc::downgrade(self);
        let id = glib::timeout_add_local_full(ceil_millis(wait), PRIORITY, move || {
            if let Some(inner) = weak.upgrade() {
                // This source ends by returning Break: forget its id so rearm does not
                // remove it a second time.
                inner.timeout.borrow_mut().take();
                inner.pass();
            }
            ControlFlow::Break
        });
        *self.timeout.borrow_mut() = Some(id);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for id in [
            self.fd_source.get_mut().take(),
            self.timeout.get_mut().take(),
        ]
        .into_iter()
        .flatten()
        {
            id.remove();
        }
    }
}

/// glib timeouts count whole milliseconds: round up, since slotnet timers never fire early
/// and a timeout rounded down would wake glib for a pass with nothing to do.
fn ceil_millis(wait: Duration) -> Duration {
    let millis = wait.as_micros().div_ceil(1000);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::ceil_millis;
    use std::time::Duration;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(ceil_millis(Duration::ZERO), Duration::ZERO);
        assert_eq!(
            ceil_millis(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            ceil_millis(Duration::from_micros(2000)),
            Duration::from_millis(2)
        );
        assert_eq!(
            ceil_millis(Duration::from_micros(2001)),
            Duration::from_millis(3)
        );
    }
}
