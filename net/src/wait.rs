//! Blocking waits (Qt's `waitForConnected`, `waitForReadyRead`, ...): the time limit and the
//! `poll(2)` call they share.
//!
//! A wait does not run the event loop. It polls only the descriptors of the object waited on
//! (a socket, or a server's listener and its connections in their handshake) and hands their
//! readiness straight to that object's own handler, so only that object's signals are
//! emitted meanwhile: other sockets, timers and posted calls wait until control is back in
//! the loop, exactly as with Qt's `waitFor*`, which block the thread. `poll(2)` is level
//! triggered, so it can run beside the loop's edge-triggered registration: readiness the
//! wait consumes at worst makes the loop's handler find `WouldBlock` later.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Qt's default time limit for the `wait_for_*` functions, in milliseconds.
pub const DEFAULT_WAIT_MSECS: i32 = 30_000;

/// When a wait gives up.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `msecs` from now; a negative value (Qt's -1) never expires.
    pub(crate) fn after_msecs(msecs: i32) -> Deadline {
        if msecs < 0 {
            Deadline(None)
        } else {
            Deadline(Some(Instant::now() + Duration::from_millis(msecs as u64)))
        }
    }

    /// The earlier of this deadline and `other`.
    pub(crate) fn or_earlier(self, other: Option<Instant>) -> Deadline {
        match (self.0, other) {
            (Some(a), Some(b)) => Deadline(Some(a.min(b))),
            (a, b) => Deadline(a.or(b)),
        }
    }

    pub(crate) fn expired(self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }

    /// The time left, for `poll(2)`: milliseconds rounded up, -1 for no limit.
    fn poll_timeout(self) -> libc::c_int {
        match self.0 {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                let ms = left.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        }
    }
}

/// What one step of a wait did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Something was handled: check the condition waited for again.
    Progressed,
    /// The deadline passed with nothing to handle.
    TimedOut,
    /// Nothing can happen any more (no connection, or reading is paused on a full buffer
    /// and nothing is to be written): waiting on would only sleep until the deadline.
    Stuck,
}

/// The loop of every socket's bounded wait once connected: steps until `done` holds, the
/// socket is `gone` (destroyed or unconnected: false), nothing can happen any more (`done`
/// decides), or `deadline` passes (`done` decides once more, then `on_timeout` reports it as Qt
/// does, with the connection kept).
pub(crate) fn until(
    deadline: Deadline,
    done: impl Fn() -> bool,
    gone: impl Fn() -> bool,
    mut step: impl FnMut(Deadline) -> Step,
    on_timeout: impl FnOnce(),
) -> bool {
    loop {
        if done() {
            return true;
        }
        if gone() {
            return false;
        }
        match step(deadline) {
            Step::Progressed => {}
            Step::Stuck => return done(),
            Step::TimedOut => {
                if done() {
                    return true;
                }
                on_timeout();
                return false;
            }
        }
    }
}

/// What a descriptor is polled for.
pub(crate) fn interest(read: bool, write: bool) -> libc::c_short {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    events
}

/// Polls `fds` until one is ready or `deadline` passes; returns how many are ready (0: timed
/// out). Interrupted calls are retried with the time left.
pub(crate) fn poll(fds: &mut [libc::pollfd], deadline: Deadline) -> io::Result<usize> {
    loop {
        for fd in fds.iter_mut() {
            fd.revents = 0;
        }
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd.
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                deadline.poll_timeout(),
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A `pollfd` for `fd`.
pub(crate) fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Sleeps until `deadline` or for `at_most`, whichever comes first.
pub(crate) fn sleep(deadline: Deadline, at_most: Duration) {
    let mut none: [libc::pollfd; 0] = [];
    let capped = deadline.or_earlier(Some(Instant::now() + at_most));
    let _ = poll(&mut none, capped);
}
