//! Awaiting a loop's answer from elsewhere: `LoopHandle::call` and `call_async`, their
//! `LoopEnded` when the loop's thread is gone, and cancellation when the caller drops them.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slotnet_core::{yield_now, EventLoop, LoopEnded, Thread};

mod common;
use common::hang_guard;

/// Whether a `call` future can cross threads (what a tokio task needs).
fn assert_send<T: Send>(value: T) -> T {
    value
}

#[test]
fn call_runs_on_the_loops_thread_and_resolves_with_its_value() {
    let worker = Thread::start().unwrap();
    let here = std::thread::current().id();
    let answer = assert_send(
        worker
            .handle()
            .call(move || std::thread::current().id() != here),
    );
    let _guard = hang_guard();
    assert_eq!(EventLoop::current().block_on(answer), Ok(true));
}

#[test]
fn call_to_the_callers_own_loop_runs_on_a_later_iteration() {
    let lp = EventLoop::current();
    let answer = lp.handle().call(|| "later");
    let _guard = hang_guard();
    assert_eq!(lp.block_on(answer), Ok("later"));
}

#[test]
fn call_to_an_ended_loop_resolves_with_loop_ended() {
    let worker = Thread::start().unwrap();
    let handle = worker.handle().clone();
    worker.quit_and_join();
    assert_eq!(
        EventLoop::current().block_on(handle.call(|| 1)),
        Err(LoopEnded)
    );
    assert_eq!(
        EventLoop::current().block_on(handle.call_async(|| async { 1 })),
        Err(LoopEnded)
    );
}

#[test]
fn call_async_runs_a_non_send_future_on_the_loop() {
    let worker = Thread::start().unwrap();
    let answer = assert_send(worker.handle().call_async(|| async {
        let local = Rc::new(20); // !Send: it never leaves the worker
        for _ in 0..3 {
            yield_now().await;
        }
        *local + 22
    }));
    let _guard = hang_guard();
    assert_eq!(EventLoop::current().block_on(answer), Ok(42));
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_call_async_drops_its_future_on_the_loop() {
    let worker = Thread::start().unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let (s, d) = (started.clone(), dropped.clone());
    let call = worker.handle().call_async(move || async move {
        let _flag = DropFlag(d);
        s.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await
    });
    let limit = std::time::Instant::now() + Duration::from_secs(30);
    while !started.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < limit,
            "the future never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!dropped.load(Ordering::SeqCst));
    drop(call);
    while !dropped.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < limit,
            "the future was never dropped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
