//! Futures on the loop: `spawn_local` (join, abort, detach, wakes from other threads) and
//! `EventLoop::block_on` (from main, nested in a slot and in a spawned future).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use slotnet_core::{spawn_local, yield_now, EventLoop, Object, Timer};

mod common;
use common::hang_guard;

/// A future that becomes ready when [`Gate::open`] is called, from this thread's code.
#[derive(Clone, Default)]
struct Gate {
    open: Rc<Cell<bool>>,
    waker: Rc<RefCell<Option<Waker>>>,
}

impl Gate {
    fn open(&self) {
        self.open.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    fn wait(&self) -> impl Future<Output = ()> + 'static {
        let gate = self.clone();
        std::future::poll_fn(move |cx| {
            if gate.open.get() {
                Poll::Ready(())
            } else {
                *gate.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Sets its flag when dropped (to see when a future's state is dropped).
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn a_spawned_futures_value_is_awaited_through_its_join_handle() {
    let lp = EventLoop::current();
    let gate = Gate::default();
    let wait = gate.wait();
    let answer = lp.spawn_local(async move {
        wait.await;
        6 * 7
    });
    assert!(!answer.is_finished());
    spawn_local(async move {
        let value = answer.await.expect("not aborted");
        EventLoop::current().exit(value);
    });
    let g = gate.clone();
    Timer::single_shot(Duration::from_millis(1), move || g.open());
    let _guard = hang_guard();
    assert_eq!(lp.exec(), 42);
}

#[test]
fn a_spawned_future_starts_on_the_next_iteration_not_inside_spawn_local() {
    let lp = EventLoop::current();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let handle = spawn_local(async move { r.set(true) });
    assert!(!ran.get());
    lp.process_events(Some(Duration::ZERO));
    assert!(ran.get());
    assert!(handle.is_finished());
    assert_eq!(lp.block_on(handle), Ok(()));
}

#[test]
fn abort_drops_the_future_and_its_handle_reports_cancelled() {
    let lp = EventLoop::current();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let handle = spawn_local(async move {
        let _flag = flag;
        std::future::pending::<u32>().await
    });
    lp.process_events(Some(Duration::ZERO));
    assert!(!dropped.get());
    assert!(!handle.is_finished());
    let abort = handle.abort_handle();
    abort.abort();
    assert!(dropped.get());
    assert!(handle.is_finished());
    assert!(abort.is_finished());
    let err = lp.block_on(handle).expect_err("aborted");
    assert!(err.is_cancelled());
}

#[test]
fn abort_wakes_a_task_awaiting_the_handle() {
    let lp = EventLoop::current();
    let victim = spawn_local(std::future::pending::<()>());
    let abort = victim.abort_handle();
    let joiner = spawn_local(async move { victim.await.is_err() });
    lp.process_events(Some(Duration::ZERO));
    assert!(!joiner.is_finished());
    Timer::single_shot(Duration::from_millis(1), move || abort.abort());
    let _guard = hang_guard();
    assert_eq!(lp.block_on(joiner), Ok(true));
}

#[test]
fn dropping_the_join_handle_detaches_the_future() {
    let lp = EventLoop::current();
    let gate = Gate::default();
    let wait = gate.wait();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    drop(spawn_local(async move {
        wait.await;
        d.set(true);
        EventLoop::current().quit();
    }));
    let g = gate.clone();
    Timer::single_shot(Duration::from_millis(1), move || g.open());
    let _guard = hang_guard();
    lp.exec();
    assert!(done.get());
}

#[test]
fn a_wake_from_another_thread_reaches_a_spawned_future() {
    let lp = EventLoop::current();
    let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
    let s = slot.clone();
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let handle = spawn_local(std::future::poll_fn(move |cx| {
        p.set(p.get() + 1);
        if p.get() == 1 {
            *s.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready("woken")
    }));
    lp.process_events(Some(Duration::ZERO));
    let waker = slot.borrow_mut().take().expect("polled once");
    std::thread::spawn(move || waker.wake()).join().unwrap();
    let _guard = hang_guard();
    assert_eq!(lp.block_on(handle), Ok("woken"));
    assert_eq!(polls.get(), 2);
}

/// Ready once another thread has woken it; the waker is handed to that thread at the first
/// poll, so the wake happens while the loop may be sleeping in its poller.
struct WokenElsewhere {
    spawned: bool,
    woken: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Future for WokenElsewhere {
    type Output = &'static str;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        if self.woken.load(std::sync::atomic::Ordering::Acquire) {
            return Poll::Ready("from the other thread");
        }
        if !self.spawned {
            self.spawned = true;
            let (waker, woken) = (cx.waker().clone(), self.woken.clone());
            std::thread::spawn(move || {
                woken.store(true, std::sync::atomic::Ordering::Release);
                waker.wake();
            });
        }
        Poll::Pending
    }
}

#[test]
fn block_on_is_woken_from_another_thread() {
    let lp = EventLoop::current();
    let _guard = hang_guard();
    let value = lp.block_on(WokenElsewhere {
        spawned: false,
        woken: Default::default(),
    });
    assert_eq!(value, "from the other thread");
}

#[test]
fn block_on_runs_timers_and_spawned_futures_meanwhile() {
    let lp = EventLoop::current();
    let gate = Gate::default();
    let g = gate.clone();
    Timer::single_shot(Duration::from_millis(2), move || g.open());
    let helper = spawn_local(async { 5 });
    let _guard = hang_guard();
    let value = lp.block_on(async {
        gate.wait().await;
        helper.await.unwrap() + 1
    });
    assert_eq!(value, 6);
}

#[test]
fn block_on_with_a_future_that_yields_does_not_sleep() {
    // Nothing but the future itself wakes the loop: a yield must not leave the loop waiting
    // for I/O that never comes.
    let lp = EventLoop::current();
    let _guard = hang_guard();
    let value = lp.block_on(async {
        for _ in 0..3 {
            yield_now().await;
        }
        "yielded"
    });
    assert_eq!(value, "yielded");
}

#[test]
fn block_on_nested_in_a_slot_is_a_loop_level_that_exit_does_not_end() {
    let lp = EventLoop::current();
    let doomed = Object::new();
    let trace = Rc::new(RefCell::new(Vec::new()));
    let gate = Gate::default();
    let (t, g) = (trace.clone(), gate.clone());
    Timer::single_shot(Duration::ZERO, move || {
        let el = EventLoop::current();
        t.borrow_mut()
            .push(format!("slot at level {}", el.loop_level()));
        // Asked for by this slot: carried out only after it returns, as in Qt.
        doomed.delete_later();
        // Another slot asks the thread's loop to exit while we wait: our wait goes on.
        let g2 = g.clone();
        Timer::single_shot(Duration::from_millis(1), move || {
            EventLoop::current().quit();
            g2.open();
        });
        let t2 = t.clone();
        let level = el.block_on(async move {
            g.wait().await;
            t2.borrow_mut()
                .push(format!("alive inside: {}", doomed.is_alive()));
            EventLoop::current().loop_level()
        });
        t.borrow_mut().push(format!("waited at level {level}"));
        t.borrow_mut()
            .push(format!("alive after: {}", doomed.is_alive()));
    });
    let _guard = hang_guard();
    assert_eq!(lp.exec(), 0);
    assert_eq!(
        *trace.borrow(),
        [
            "slot at level 1",
            "alive inside: true",
            "waited at level 2",
            "alive after: true",
        ]
    );
    assert!(!doomed.is_alive());
}

#[test]
fn block_on_inside_a_spawned_future_does_not_poll_that_future_again() {
    let lp = EventLoop::current();
    let polls = Rc::new(Cell::new(0));
    let gate = Gate::default();
    let (p, g) = (polls.clone(), gate.clone());
    let outer = spawn_local(async move {
        p.set(p.get() + 1);
        // Wake ourselves, then wait in a nested loop: the run that wake schedules comes while
        // this future is being polled, and must not poll it again (its borrow would panic).
        std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(())
        })
        .await;
        p.set(p.get() + 1);
        let g2 = g.clone();
        Timer::single_shot(Duration::from_millis(1), move || g2.open());
        EventLoop::current().block_on(g.wait());
        p.get()
    });
    let _guard = hang_guard();
    assert_eq!(lp.block_on(outer), Ok(2));
}
