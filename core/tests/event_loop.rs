//! The loop itself: exec/exit, nesting, posting, cross-thread delivery, foreign-loop driving.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, LoopEnded, Object, Signal, Thread, Timer};

#[test]
fn posted_calls_run_in_fifo_order_on_the_next_iteration() {
    let lp = EventLoop::current();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..5 {
        let s = seen.clone();
        lp.post(move || s.borrow_mut().push(i));
    }
    let s = seen.clone();
    lp.post(move || {
        // Posted from a posted call: runs next iteration, not this one.
        let s2 = s.clone();
        EventLoop::current().post(move || s2.borrow_mut().push(99));
    });
    assert!(seen.borrow().is_empty());
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(*seen.borrow(), [0, 1, 2, 3, 4]);
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(*seen.borrow(), [0, 1, 2, 3, 4, 99]);
}

#[test]
fn nested_exec_from_a_slot_returns_to_the_outer_loop() {
    let lp = EventLoop::current();
    let trace = Rc::new(RefCell::new(Vec::new()));
    let t = trace.clone();
    Timer::single_shot(Duration::ZERO, move || {
        t.borrow_mut().push(format!(
            "outer slot, level {}",
            EventLoop::current().loop_level()
        ));
        let t2 = t.clone();
        Timer::single_shot(Duration::from_millis(1), move || {
            t2.borrow_mut().push(format!(
                "inner, level {}",
                EventLoop::current().loop_level()
            ));
            EventLoop::current().exit(5);
        });
        let code = EventLoop::current().exec();
        t.borrow_mut().push(format!("nested returned {code}"));
        EventLoop::current().exit(9);
    });
    assert_eq!(lp.exec(), 9);
    assert_eq!(
        *trace.borrow(),
        ["outer slot, level 1", "inner, level 2", "nested returned 5"]
    );
}

#[test]
fn exit_without_a_running_exec_does_nothing() {
    let lp = EventLoop::current();
    lp.exit(3); // ignored, as in Qt
    Timer::single_shot(Duration::from_millis(1), || EventLoop::current().exit(4));
    assert_eq!(lp.exec(), 4);
}

#[test]
fn four_threads_post_100k_calls_each_exactly_once_in_per_thread_order() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 100_000;
    let lp = EventLoop::current();
    let next = Rc::new(RefCell::new(vec![0usize; THREADS]));
    let total = Rc::new(Cell::new(0usize));
    let violations = Rc::new(Cell::new(0usize));
    // Remote calls are `Send`; they reach this thread's state through a thread-local.
    type Sink = Box<dyn Fn(usize, usize)>;
    thread_local! {
        static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
    }
    {
        let (next, total, violations) = (next.clone(), total.clone(), violations.clone());
        SINK.with(|s| {
            *s.borrow_mut() = Some(Box::new(move |thread, seq| {
                let mut next = next.borrow_mut();
                if next[thread] != seq {
                    violations.set(violations.get() + 1);
                }
                next[thread] = seq + 1;
                total.set(total.get() + 1);
                if total.get() == THREADS * PER_THREAD {
                    EventLoop::current().quit();
                }
            }));
        });
    }
    let handle = lp.handle();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                for seq in 0..PER_THREAD {
                    handle
                        .post(move || SINK.with(|s| (s.borrow().as_ref().unwrap())(thread, seq)))
                        .unwrap();
                }
            })
        })
        .collect();
    lp.exec();
    for w in workers {
        w.join().unwrap();
    }
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(
        total.get(),
        THREADS * PER_THREAD,
        "every call delivered exactly once"
    );
    assert_eq!(violations.get(), 0, "per-thread order kept");
    assert_eq!(*next.borrow(), vec![PER_THREAD; THREADS]);
    SINK.with(|s| s.borrow_mut().take());
}

#[test]
fn posting_to_an_ended_loop_fails() {
    let thread = Thread::start().unwrap();
    let handle = thread.handle().clone();
    assert!(!handle.is_ended());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    handle
        .post(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(thread.quit_and_join(), Some(0));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(handle.is_ended());
    assert_eq!(handle.post(|| {}), Err(LoopEnded));
}

#[test]
fn thread_runs_closures_on_its_own_loop() {
    let worker = Thread::start_named("worker").unwrap();
    let main = EventLoop::current().handle();
    let main_id = std::thread::current().id();
    worker
        .run(move || {
            let here = std::thread::current();
            assert_ne!(here.id(), main_id);
            let name = here.name().unwrap_or("").to_owned();
            // Objects and timers work on the worker's own loop.
            let t = Timer::new();
            t.set_single_shot(true);
            t.timeout().connect(move |_| {
                let name = name.clone();
                main.post(move || {
                    assert_eq!(name, "worker");
                    EventLoop::current().exit(11)
                })
                .unwrap();
            });
            t.start_interval(Duration::from_millis(1));
        })
        .unwrap();
    assert_eq!(EventLoop::current().exec(), 11);
    worker.exit(3).unwrap();
    assert_eq!(worker.join(), Some(3));
}

#[test]
fn cross_thread_connection_delivers_on_the_receiving_loop() {
    let main = EventLoop::current();
    let main_thread = std::thread::current().id();
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let worker = Thread::start().unwrap();
    let (r, h) = (received.clone(), main.handle());
    let main_handle = main.handle();
    worker
        .run(move || {
            // The signal lives on the worker; its slot runs on the main loop.
            let sig: Signal<u32> = Object::new().new_signal();
            sig.connect_cross_thread(&main_handle, move |v| {
                assert_eq!(std::thread::current().id(), main_thread);
                r.lock().unwrap().push(v);
                if v == 3 {
                    EventLoop::current().quit();
                }
            });
            for v in 1..=3 {
                sig.emit(v);
            }
            drop(h);
        })
        .unwrap();
    main.exec();
    assert_eq!(*received.lock().unwrap(), [1, 2, 3]);
}

/// A "GUI" loop that knows only poll(2), the loop's fd, `next_timeout()` and
/// `process_events(0)` drives timers, posted calls and cross-thread posts.
#[test]
fn a_foreign_loop_can_drive_slotnet_with_poll_on_its_fd() {
    let lp = EventLoop::current();
    let fd = lp.as_raw_fd();
    let fired = Rc::new(RefCell::new(Vec::new()));
    let f = fired.clone();
    Timer::single_shot(Duration::from_millis(20), move || {
        f.borrow_mut().push("timer")
    });
    let f = fired.clone();
    lp.post(move || f.borrow_mut().push("posted"));
    let handle = lp.handle();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(40));
        handle
            .post(|| {
                EventLoop::current().post(|| {}); // schedule more work from the remote call
                REMOTE_DONE.with(|d| d.set(true));
            })
            .unwrap();
    });
    thread_local! { static REMOTE_DONE: Cell<bool> = const { Cell::new(false) }; }
    let start = Instant::now();
    let mut wakeups = 0;
    while !(REMOTE_DONE.with(|d| d.get()) && fired.borrow().len() == 2) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "foreign loop stalled"
        );
        let timeout_ms = match lp.next_timeout() {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as i32 + 1,
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        assert!(n >= 0);
        lp.process_events(Some(Duration::ZERO));
        wakeups += 1;
    }
    sender.join().unwrap();
    assert_eq!(*fired.borrow(), ["posted", "timer"]);
    assert!(
        wakeups < 1000,
        "the foreign loop slept instead of spinning ({wakeups} wakeups)"
    );
}

/// Whether the loop's fd is readable right now: poll(2) with a zero timeout, as a foreign
/// loop that watches only the fd would see it.
fn fd_is_readable(lp: &EventLoop) -> bool {
    let mut pfd = libc::pollfd {
        fd: lp.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
    n == 1 && pfd.revents & libc::POLLIN != 0
}

/// Runs iterations until no work is queued for now and the fd is quiet (a fresh loop may
/// carry wake-ups from its creation).
fn settle(lp: &EventLoop) {
    for _ in 0..100 {
        lp.process_events(Some(Duration::ZERO));
        if lp.next_timeout() != Some(Duration::ZERO) && !fd_is_readable(lp) {
            return;
        }
    }
    panic!("the loop did not settle");
}

/// A GTK callback posting to the loop that GTK drives through its fd: the fd must wake
/// GTK, with no manual kick (issue 19: gui/ had to call `SlotnetDriver::kick`).
#[test]
fn a_same_thread_post_outside_dispatch_makes_the_fd_readable() {
    let lp = EventLoop::current();
    settle(&lp);
    assert!(!fd_is_readable(&lp));
    let ran = Rc::new(Cell::new(0));
    let r = ran.clone();
    lp.post(move || r.set(r.get() + 1));
    assert!(fd_is_readable(&lp), "a same-thread post left the fd quiet");
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(ran.get(), 1);
    assert!(!fd_is_readable(&lp), "the iteration consumed the wake-up");
    // And again: the wake-up is armed anew after each iteration.
    let r = ran.clone();
    lp.post(move || r.set(r.get() + 1));
    assert!(fd_is_readable(&lp));
    settle(&lp);
    assert_eq!(ran.get(), 2);
}

/// A timer started from a foreign loop's callback: the fd wakes the foreign loop, which then
/// learns the new deadline from `next_timeout`.
#[test]
fn a_timer_started_outside_dispatch_makes_the_fd_readable() {
    let lp = EventLoop::current();
    settle(&lp);
    Timer::single_shot(Duration::from_secs(3600), || {});
    assert!(fd_is_readable(&lp), "single_shot left the fd quiet");
    settle(&lp);
    let timer = Timer::new();
    timer.start_interval(Duration::from_secs(3600));
    assert!(fd_is_readable(&lp), "Timer::start left the fd quiet");
    settle(&lp);
    assert!(lp.next_timeout().unwrap() > Duration::from_secs(3000));
}

/// `delete_later` from a foreign loop's callback (a Cancel button deleting a reply).
#[test]
fn a_delete_later_outside_dispatch_makes_the_fd_readable() {
    let lp = EventLoop::current();
    let obj = Object::new();
    settle(&lp);
    obj.delete_later();
    assert!(fd_is_readable(&lp), "delete_later left the fd quiet");
    settle(&lp);
    assert!(!obj.is_alive());
}

/// Inside the loop's own dispatch a post costs no wake-up (no syscall on the hot path): the
/// work shows in `next_timeout` instead, which a foreign loop asks after each iteration.
#[test]
fn a_post_from_inside_dispatch_leaves_the_fd_alone_and_shows_in_next_timeout() {
    let lp = EventLoop::current();
    settle(&lp);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    // Posted from outside (wakes the fd); when it runs, it posts again from inside dispatch.
    lp.post(move || EventLoop::current().post(move || r.set(true)));
    lp.process_events(Some(Duration::ZERO));
    assert!(
        !ran.get(),
        "a call posted by a posted call runs on the next iteration"
    );
    assert!(
        !fd_is_readable(&lp),
        "a post made during dispatch woke the fd"
    );
    assert_eq!(lp.next_timeout(), Some(Duration::ZERO));
    lp.process_events(Some(Duration::ZERO));
    assert!(ran.get());
}

/// Code that takes any `AsFd` (as a foreign loop's "watch this descriptor" call does) gets the
/// loop's poller: the same descriptor as `as_raw_fd`, readable once work is posted from
/// outside the loop's own dispatch.
#[test]
fn the_loop_is_as_fd_for_apis_that_take_borrowed_descriptors() {
    use std::os::fd::{AsFd, AsRawFd};
    fn readable_now(source: &impl AsFd) -> bool {
        let mut pfd = libc::pollfd {
            fd: source.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        assert!(n >= 0, "poll failed: {}", std::io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLIN != 0
    }
    let lp = EventLoop::current();
    assert_eq!(lp.as_fd().as_raw_fd(), EventLoop::as_raw_fd(&lp));
    settle(&lp);
    assert!(!readable_now(&lp));
    lp.post(|| {});
    assert!(readable_now(&lp));
    lp.process_events(Some(Duration::ZERO));
}
