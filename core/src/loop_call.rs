//! Calling a loop from any thread and awaiting the answer: [`LoopHandle::call`] and
//! [`LoopHandle::call_async`], whose [`LoopCall`] future is `Send`, so a tokio task (or any
//! executor) can await work done on a slotnet thread without blocking its own thread.

use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::event_loop::{LoopEnded, LoopHandle};
use crate::executor::spawn_local;

enum CallState<T> {
    /// Not answered yet: who awaits the answer, and (for `call_async`) the task on the loop
    /// that computes it, to be woken if the caller gives up.
    Waiting {
        caller: Option<Waker>,
        worker: Option<Waker>,
    },
    Done(Result<T, LoopEnded>),
    Taken,
}

/// What a call and its [`LoopCall`] share across the two threads.
struct CallShared<T> {
    state: Mutex<CallState<T>>,
    /// The `LoopCall` was dropped: the loop side may stop working on it.
    cancelled: AtomicBool,
}

impl<T> CallShared<T> {
    fn complete(&self, result: Result<T, LoopEnded>) {
        let caller = match self.state.lock() {
            Ok(mut state) => match std::mem::replace(&mut *state, CallState::Done(result)) {
                CallState::Waiting { caller, .. } => caller,
                // Answered twice cannot happen (one completer); keep the first answer.
                other => {
                    *state = other;
                    None
                }
            },
            Err(_) => None,
        };
        if let Some(caller) = caller {
            caller.wake();
        }
    }

    /// Notes the loop-side task's waker (so a cancelled caller can wake it).
    fn set_worker(&self, waker: &Waker) {
        if let Ok(mut state) = self.state.lock() {
            if let CallState::Waiting { worker, .. } = &mut *state {
                if !worker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                    *worker = Some(waker.clone());
                }
            }
        }
    }
}

/// Sends the answer; if it is dropped without answering (the loop ended with the call
/// still queued, or the call panicked), the caller gets [`LoopEnded`].
struct Completer<T> {
    shared: Arc<CallShared<T>>,
    answered: bool,
}

impl<T> Completer<T> {
    fn answer(mut self, value: T) {
        self.answered = true;
        self.shared.complete(Ok(value));
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.complete(Err(LoopEnded));
        }
    }
}

/// The answer of [`LoopHandle::call`] or [`LoopHandle::call_async`]: a `Send` future of the
/// call's value, or [`LoopEnded`] if the loop's thread ended before answering.
///
/// Dropping it stops a `call_async` future on the loop at its next poll; a `call` already
/// queued still runs (a closure is not interrupted), its value is dropped.
#[must_use = "a future does nothing unless awaited"]
pub struct LoopCall<T> {
    shared: Arc<CallShared<T>>,
}

impl<T> fmt::Debug for LoopCall<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answered = self
            .shared
            .state
            .lock()
            .is_ok_and(|s| !matches!(*s, CallState::Waiting { .. }));
        f.debug_struct("LoopCall")
            .field("answered", &answered)
            .finish()
    }
}

impl<T> Future for LoopCall<T> {
    type Output = Result<T, LoopEnded>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Ok(mut state) = self.shared.state.lock() else {
            return Poll::Ready(Err(LoopEnded));
        };
        match std::mem::replace(&mut *state, CallState::Taken) {
            CallState::Done(result) => Poll::Ready(result),
            CallState::Taken => Poll::Ready(Err(LoopEnded)),
            CallState::Waiting { caller, worker } => {
                let caller = match caller {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *state = CallState::Waiting {
                    caller: Some(caller),
                    worker,
                };
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for LoopCall<T> {
    fn drop(&mut self) {
        self.shared.cancelled.store(true, Ordering::Release);
        let worker = match self.shared.state.lock() {
            Ok(mut state) => match &mut *state {
                CallState::Waiting { worker, .. } => worker.take(),
                _ => None,
            },
            Err(_) => None,
        };
        if let Some(worker) = worker {
            worker.wake();
        }
    }
}

fn new_call<T>() -> (LoopCall<T>, Completer<T>) {
    let shared = Arc::new(CallShared {
        state: Mutex::new(CallState::Waiting {
            caller: None,
            worker: None,
        }),
        cancelled: AtomicBool::new(false),
    });
    (
        LoopCall {
            shared: shared.clone(),
        },
        Completer {
            shared,
            answered: false,
        },
    )
}

impl LoopHandle {
    /// Runs `f` on the loop's thread (posted, in order with this thread's other posts) and
    /// gives a `Send` future of its value: the async form of
    /// [`invoke_blocking`](Self::invoke_blocking), for a tokio task or any other executor,
    /// which keeps running while it waits. It resolves with [`LoopEnded`] if the loop's thread
    /// ends before running `f` (or `f` panics there). Calling the loop's own thread works too:
    /// `f` runs on a later iteration.
    ///
    /// ```
    /// use slotnet_core::{EventLoop, Thread};
    ///
    /// let worker = Thread::start().unwrap();
    /// let answer = worker.handle().call(|| 6 * 7);
    /// // Any executor can await it; here this thread's loop does.
    /// assert_eq!(EventLoop::current().block_on(answer), Ok(42));
    /// ```
    pub fn call<T, F>(&self, f: F) -> LoopCall<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (call, completer) = new_call();
        // On failure the closure, and the completer in it, are dropped: LoopEnded.
        let _ = self.post(move || completer.answer(f()));
        call
    }

    /// Builds a future on the loop's thread with `make` (the future need not be `Send`: it may
    /// hold the loop's objects, such as a reply), runs it there with
    /// [`spawn_local`](crate::spawn_local), and gives a `Send` future of its output. Dropping
    /// the returned [`LoopCall`] drops the future on the loop (which, for an awaited reply,
    /// aborts the request). It resolves with [`LoopEnded`] if the loop's thread ends first.
    ///
    /// ```
    /// use slotnet_core::{yield_now, EventLoop, Thread};
    ///
    /// let worker = Thread::start().unwrap();
    /// let answer = worker.handle().call_async(|| async {
    ///     let local = std::rc::Rc::new(21); // !Send state, on the worker only
    ///     yield_now().await;
    ///     *local * 2
    /// });
    /// assert_eq!(EventLoop::current().block_on(answer), Ok(42));
    /// ```
    pub fn call_async<T, Fut, F>(&self, make: F) -> LoopCall<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let (call, completer) = new_call();
        let _ = self.post(move || {
            let future = make();
            spawn_local(async move {
                let mut future = pin!(future);
                let shared = completer.shared.clone();
                let output = std::future::poll_fn(|cx| {
                    if shared.cancelled.load(Ordering::Acquire) {
                        return Poll::Ready(None);
                    }
                    shared.set_worker(cx.waker());
                    future.as_mut().poll(cx).map(Some)
                })
                .await;
                if let Some(value) = output {
                    completer.answer(value);
                }
            });
        });
        call
    }
}
