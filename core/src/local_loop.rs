//! `LocalLoop`, Qt's `QEventLoop` object: a wait that only its own `quit` ends.

use std::fmt;
use std::rc::Rc;

use crate::event_loop::{EventLoop, FrameState};

/// A local event loop (Qt's `QEventLoop` object): [`exec`](Self::exec) runs this thread's
/// loop until *this* object's [`quit`](Self::quit) or [`exit`](Self::exit) is called.
///
/// This is how a function waits for one thing (a reply, a socket, a timer) while the rest of
/// the program keeps running, as `QEventLoop loop; connect(reply, &QNetworkReply::finished,
/// &loop, &QEventLoop::quit); loop.exec();` does in Qt. Unlike a nested
/// [`EventLoop::exec`], which any `EventLoop::exit` ends, a `LocalLoop` cannot be ended by
/// someone else's quit: when two waits nest (a slot waits, and a slot run during that wait
/// waits too), each returns only when its own work is done. Quitting an outer `LocalLoop`
/// while an inner one runs makes the outer return as soon as the inner one has returned, as
/// in Qt; [`EventLoop::exit`] never ends a `LocalLoop`.
///
/// Handles are cheap clones of one loop object (capture a clone in the slot that quits it)
/// and are `!Send`, like every object of the loop.
///
/// ```
/// use slotnet_core::{LocalLoop, Timer};
/// use std::time::Duration;
///
/// let wait = LocalLoop::new();
/// let w = wait.clone();
/// Timer::single_shot(Duration::from_millis(5), move || w.exit(42));
/// assert_eq!(wait.exec(), 42);
/// assert!(!wait.is_running());
/// ```
#[derive(Clone, Default)]
pub struct LocalLoop {
    state: Rc<FrameState>,
}

impl fmt::Debug for LocalLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLoop")
            .field("running", &self.is_running())
            .finish()
    }
}

impl LocalLoop {
    /// A local loop on this thread, not running.
    pub fn new() -> LocalLoop {
        LocalLoop::default()
    }

    /// Runs this thread's loop until this object's `exit`/`quit` is called, and returns the
    /// code. Returns -1 at once if this object's `exec` is already running (Qt: "instance
    /// has already called exec()").
    ///
    /// An `exit` called before `exec` starts is forgotten, as in Qt: connect the quitting
    /// slot, then call `exec`, and check first whether what you wait for has already
    /// happened. Panics in slots unwind out of `exec` as described at [`EventLoop::exec`].
    pub fn exec(&self) -> i32 {
        if self.state.is_running() {
            return -1;
        }
        EventLoop::current().run_frame(self.state.clone(), false)
    }

    /// Makes this loop's `exec` return `code` once control is back in it (after any loop
    /// running inside it has returned). Does nothing if it is not running.
    pub fn exit(&self, code: i32) {
        self.state.exit(code)
    }

    /// `exit(0)`.
    pub fn quit(&self) {
        self.exit(0)
    }

    /// Whether this loop's `exec` is running.
    pub fn is_running(&self) -> bool {
        self.state.is_running()
    }
}
