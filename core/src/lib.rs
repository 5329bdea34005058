//! # slotnet-core
//!
//! The foundation of slotnet: a single-threaded event loop that owns Qt-like objects, typed
//! signals and slots, timers, and threads that each run a loop of their own.
//!
//! - [`EventLoop`]: one per thread; `exec()`, `process_events()`, `post()`, and
//!   `as_raw_fd()`/`next_timeout()` for embedding in another loop.
//! - [`LocalLoop`]: Qt's `QEventLoop` object, a wait that only its own `quit` ends.
//! - [`LoopHandle`]: `Send + Clone`; other threads post closures through it, or await a
//!   call's value from any executor ([`LoopHandle::call`], [`LoopCall`]).
//! - [`Object`]: a node in the loop's object tree (parent, children, name, `destroyed`,
//!   `delete_later`), addressed by a generational id. Handles are `Copy` and `!Send`.
//! - [`Signal`]: typed signals with direct, single-shot, context-bound, queued and cross-thread
//!   connections; [`Signal::next`] and [`Signal::stream`] await them ([`signal_future`]).
//! - [`Timer`]: Qt's `QTimer`, on an O(log n) timer queue.
//! - [`Thread`]: Qt's `QThread`, a thread with its own loop.
//! - [`spawn_local`] and [`EventLoop::block_on`]: futures on the loop ([`executor`]).
//!
//! ```
//! use slotnet_core::{EventLoop, Object, Signal, Timer};
//! use std::time::Duration;
//!
//! let lp = EventLoop::current();
//! let owner = Object::new();
//! let greeted: Signal<String> = owner.new_signal();
//! greeted.connect(|name| println!("hello, {name}"));
//! greeted.connect(|_| EventLoop::current().quit());
//! Timer::single_shot(Duration::from_millis(1), move || greeted.emit("world".into()));
//! assert_eq!(lp.exec(), 0);
//! ```

mod event_loop;
pub mod executor;
mod io;
mod local_loop;
mod loop_call;
mod object;
mod signal;
pub mod signal_future;
mod thread;
mod timer;
mod timer_queue;

pub use event_loop::{BlockingCallError, EventLoop, LoopEnded, LoopHandle};
pub use executor::{spawn_local, yield_now, AbortHandle, JoinError, JoinHandle};
pub use io::{IoRegistration, Ready};
pub use local_loop::LocalLoop;
pub use loop_call::LoopCall;
pub use object::{AsObject, BoundToItsLoopThread, Destroyed, Object, ObjectId};
pub use signal::{Connection, LazySignal, Signal};
pub use signal_future::{SignalNext, SignalStream};
pub use thread::Thread;
pub use timer::{deadline_after, Timer};

/// The mio version slotnet registers sources with (sockets in slotnet-net use it).
pub use mio;
