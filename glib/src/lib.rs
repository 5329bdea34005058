//! slotnet-glib: slotnet's event loop inside a GLib main context, the loop GTK runs.
//!
//! [`LoopSource::attach`] adds one `GSource` to a [`glib::MainContext`] that drives the
//! calling thread's slotnet [`EventLoop`]:
//!
//! - *prepare* asks [`EventLoop::next_timeout`]: ready at once when work is queued, otherwise
//!   GLib sleeps no longer than the next slotnet timer (rounded up to whole milliseconds, so
//!   GLib never wakes before the timer is due);
//! - the loop's poller fd ([`EventLoop::as_raw_fd`]) is polled by GLib with the source's other
//!   fds: it becomes readable when a socket is ready, another thread posts, or this thread
//!   queues work from a GLib callback (a GTK button handler calling `post`, starting a timer
//!   or a download);
//! - *dispatch* runs one non-blocking `process_events(Some(Duration::ZERO))`.
//!
//! No "kick" is needed after calling slotnet from a GTK handler: *prepare* runs before every
//! GLib poll and sees the new work.
//!
//! ```no_run
//! use slotnet_core::Timer;
//! use std::time::Duration;
//!
//! let context = glib::MainContext::default();
//! let _slotnet = slotnet_glib::LoopSource::attach(&context);
//! let main_loop = glib::MainLoop::new(Some(&context), false);
//! let quit = main_loop.clone();
//! Timer::single_shot(Duration::from_millis(10), move || quit.quit());
//! main_loop.run();
//! ```
//!
//! The context must be iterated by the thread that attached the source (slotnet's loop is
//! per thread): on any other thread the source never becomes ready. A panic in a slot that
//! runs from GLib aborts the program, as a panic in any GLib callback does.

use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::os::raw::c_int;
use std::ptr;
use std::thread::{self, ThreadId};
use std::time::Duration;

use glib::ffi;
use glib::translate::{from_glib_full, IntoGlib};
use glib::{MainContext, Priority, Source};
use slotnet_core::EventLoop;

/// The current thread's slotnet loop, attached to a GLib main context; detached when dropped.
///
/// `!Send`: it belongs to the thread whose loop it drives.
pub struct LoopSource {
    source: Source,
    _thread_bound: PhantomData<*const ()>,
}

impl fmt::Debug for LoopSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopSource")
            .field("destroyed", &self.source.is_destroyed())
            .finish()
    }
}

impl LoopSource {
    /// Attaches the current thread's slotnet loop to `context` at GLib's default priority
    /// (that of fd and timeout sources).
    pub fn attach(context: &MainContext) -> LoopSource {
        LoopSource::attach_with_priority(context, Priority::DEFAULT)
    }

    /// Attaches the current thread's slotnet loop to `context` at `priority`. A GTK program
    /// that lets heavy transfers yield to redrawing and input picks a lower one, e.g.
    /// [`Priority::DEFAULT_IDLE`] (below GTK's redraw priority).
    pub fn attach_with_priority(context: &MainContext, priority: Priority) -> LoopSource {
        let source = new_source(EventLoop::current().as_raw_fd(), priority);
        source.attach(Some(context));
        LoopSource {
            source,
            _thread_bound: PhantomData,
        }
    }

    /// The GLib source (to read its priority, name or context).
    pub fn source(&self) -> &Source {
        &self.source
    }
}

impl Drop for LoopSource {
    fn drop(&mut self) {
        self.source.destroy();
    }
}

/// The `GSource` GLib allocates for us: its header first, then our fields.
#[repr(C)]
struct LoopGSource {
    base: ffi::GSource,
    /// The thread whose slotnet loop this source drives.
    thread: ThreadId,
    /// `g_source_add_unix_fd`'s tag for the poller fd, to read what GLib's poll saw.
    fd_tag: ffi::gpointer,
}

static FUNCS: ffi::GSourceFuncs = ffi::GSourceFuncs {
    prepare: Some(prepare),
    check: Some(check),
    dispatch: Some(dispatch),
    // Nothing to free: the fields are plain values.
    finalize: None,
    closure_callback: None,
    closure_marshal: None,
};

fn new_source(fd: c_int, priority: Priority) -> Source {
    let size = u32::try_from(mem::size_of::<LoopGSource>()).expect("a small struct");
    // SAFETY: FUNCS lives forever and GLib only reads it (the pointer is `*mut` for
    // historical reasons); `size` covers the GSource header that starts LoopGSource. The
    // fields after the header are initialised before the source is attached anywhere, and
    // `from_glib_full` takes over the one reference g_source_new returned.
    unsafe {
        let raw = ffi::g_source_new(ptr::addr_of!(FUNCS).cast_mut(), size);
        let this = raw.cast::<LoopGSource>();
        ptr::addr_of_mut!((*this).thread).write(thread::current().id());
        let tag = ffi::g_source_add_unix_fd(raw, fd, ffi::G_IO_IN);
        ptr::addr_of_mut!((*this).fd_tag).write(tag);
        ffi::g_source_set_priority(raw, priority.into_glib());
        ffi::g_source_set_name(raw, c"slotnet".as_ptr());
        from_glib_full(raw)
    }
}

/// The thread's slotnet loop, if `source` belongs to the calling thread.
///
/// # Safety
///
/// `source` is a live source made by [`new_source`].
unsafe fn own_loop(source: *mut ffi::GSource) -> Option<EventLoop> {
    // SAFETY: the caller's contract; `thread` was written before the source was attached.
    let thread = unsafe { (*source.cast::<LoopGSource>()).thread };
    (thread == thread::current().id()).then(EventLoop::current)
}

unsafe extern "C" fn prepare(source: *mut ffi::GSource, timeout: *mut c_int) -> ffi::gboolean {
    // SAFETY: GLib calls this with our source; `timeout` points to its timeout variable.
    let (event_loop, timeout) = unsafe { (own_loop(source), &mut *timeout) };
    let wait = event_loop.and_then(|l| l.next_timeout());
    *timeout = wait.map_or(-1, glib_millis);
    (wait == Some(Duration::ZERO)).into_glib()
}

unsafe extern "C" fn check(source: *mut ffi::GSource) -> ffi::gboolean {
    // SAFETY: GLib calls this with our source.
    let Some(event_loop) = (unsafe { own_loop(source) }) else {
        return ffi::GFALSE;
    };
    // SAFETY: the tag was returned by g_source_add_unix_fd for this source.
    let seen =
        unsafe { ffi::g_source_query_unix_fd(source, (*source.cast::<LoopGSource>()).fd_tag) };
    let readable = seen & (ffi::G_IO_IN | ffi::G_IO_ERR | ffi::G_IO_HUP) != 0;
    (readable || event_loop.next_timeout() == Some(Duration::ZERO)).into_glib()
}

unsafe extern "C" fn dispatch(
    source: *mut ffi::GSource,
    _callback: ffi::GSourceFunc,
    _data: ffi::gpointer,
) -> ffi::gboolean {
    // SAFETY: GLib calls this with our source.
    if let Some(event_loop) = unsafe { own_loop(source) } {
        event_loop.process_events(Some(Duration::ZERO));
    }
    ffi::G_SOURCE_CONTINUE
}

/// A wait in GLib's unit, whole milliseconds, rounded up: slotnet timers never fire early,
/// and a wait rounded down would wake GLib for a pass with nothing due yet.
fn glib_millis(wait: Duration) -> c_int {
    let millis = wait.as_micros().div_ceil(1000);
    c_int::try_from(millis).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::glib_millis;
    use std::time::Duration;

    #[test]
    fn waits_round_up_to_whole_milliseconds() {
        assert_eq!(glib_millis(Duration::ZERO), 0);
        assert_eq!(glib_millis(Duration::from_micros(1)), 1);
        assert_eq!(glib_millis(Duration::from_micros(2000)), 2);
        assert_eq!(glib_millis(Duration::from_micros(2001)), 3);
        assert_eq!(glib_millis(Duration::MAX), c_int::MAX);
    }

    use std::os::raw::c_int;
}
