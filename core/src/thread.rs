//! `Thread`, Qt's `QThread`: an OS thread running its own event loop.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::event_loop::{EventLoop, LoopEnded, LoopHandle};

/// A thread with its own [`EventLoop`], running `exec()` until asked to quit.
///
/// Objects created by closures run on it live on that thread. Dropping a `Thread` quits its
/// loop and joins it.
///
/// ```
/// use slotnet_core::{EventLoop, Thread};
///
/// let worker = Thread::start().unwrap();
/// let main = EventLoop::current().handle();
/// worker
///     .run(move || {
///         let answer = 6 * 7; // computed on the worker's thread
///         main.post(move || EventLoop::current().exit(answer)).unwrap();
///     })
///     .unwrap();
/// assert_eq!(EventLoop::current().exec(), 42);
/// assert_eq!(worker.quit_and_join(), Some(0));
/// ```
#[derive(Debug)]
pub struct Thread {
    handle: LoopHandle,
    join: Option<JoinHandle<i32>>,
}

impl Thread {
    /// Spawns a thread and starts its loop.
    pub fn start() -> io::Result<Thread> {
        Thread::start_named("slotnet-thread")
    }

    /// Spawns a named thread and starts its loop.
    pub fn start_named(name: &str) -> io::Result<Thread> {
        let (tx, rx) = mpsc::channel();
        let join = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let lp = EventLoop::current();
                // The receiver waits for this; if it is gone nobody can stop us anyway.
                let _ = tx.send(lp.handle());
                lp.exec()
            })?;
        let handle = rx
            .recv()
            .map_err(|_| io::Error::other("thread ended before its loop started"))?;
        Ok(Thread {
            handle,
            join: Some(join),
        })
    }

    /// The thread's loop handle (clone it to post from elsewhere).
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }

    /// Runs `f` on the thread's loop.
    pub fn run<F: FnOnce() + Send + 'static>(&self, f: F) -> Result<(), LoopEnded> {
        self.handle.post(f)
    }

    /// Asks the thread's loop to return `code` from `exec()` (the thread then ends). A
    /// [`LocalLoop`](crate::LocalLoop) waiting on that thread is not ended by this: the
    /// thread's `exec()` returns once that wait has returned (give such waits a timeout).
    pub fn exit(&self, code: i32) -> Result<(), LoopEnded> {
        self.handle.exit(code)
    }

    /// `exit(0)`.
    pub fn quit(&self) -> Result<(), LoopEnded> {
        self.exit(0)
    }

    /// Waits for the thread to end; returns its loop's exit code (`None` if it panicked).
    pub fn join(mut self) -> Option<i32> {
        self.join.take().and_then(|j| j.join().ok())
    }

    /// Quits the loop and waits for the thread.
    pub fn quit_and_join(self) -> Option<i32> {
        let _ = self.quit();
        self.join()
    }

    /// Whether the thread's loop has ended.
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|j| j.is_finished())
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        if let Some(join) = self.join.take() {
            let _ = self.handle.quit();
            let _ = join.join();
        }
    }
}
