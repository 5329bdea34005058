//! The loop after a panic: a panic in a slot unwinds out of `exec()`, and the loop stays
//! usable: its level is back, later `exec()`s work, `delete_later` is honoured, and no other
//! timer, posted call or readiness event of the same iteration is lost.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::mio::net::UnixStream;
use slotnet_core::mio::Interest;
use slotnet_core::{EventLoop, LocalLoop, Object, Timer};

fn quiet_panics() {
    // Keep the expected panics out of the test output.
    std::panic::set_hook(Box::new(|_| {}));
}

#[test]
fn a_panicking_slot_leaves_the_loop_usable() {
    quiet_panics();
    let lp = EventLoop::current();
    let obj = Object::new();
    obj.delete_later(); // requested before the loop starts
    Timer::single_shot(Duration::ZERO, || panic!("slot failed"));
    let result = catch_unwind(AssertUnwindSafe(|| lp.exec()));
    assert!(result.is_err(), "the panic propagates out of exec()");
    assert_eq!(lp.loop_level(), 0);
    assert!(!lp.is_running());

    // delete_later is still honoured, by the next exec.
    let victim = Object::new();
    victim.delete_later();
    Timer::single_shot(Duration::from_millis(1), || EventLoop::current().exit(2));
    assert_eq!(lp.exec(), 2);
    assert!(!victim.is_alive());
    assert!(!obj.is_alive());
}

#[test]
fn a_panic_in_a_nested_exec_unwinds_only_to_the_slot_that_catches_it() {
    quiet_panics();
    let lp = EventLoop::current();
    let levels = Rc::new(RefCell::new(Vec::new()));
    let l = levels.clone();
    Timer::single_shot(Duration::ZERO, move || {
        Timer::single_shot(Duration::ZERO, || panic!("inner slot failed"));
        let wait = LocalLoop::new();
        let caught = catch_unwind(AssertUnwindSafe(|| wait.exec()));
        l.borrow_mut()
            .push((caught.is_err(), EventLoop::current().loop_level()));
        assert!(!wait.is_running());
        // The local loop can be run again.
        let w = wait.clone();
        Timer::single_shot(Duration::from_millis(1), move || w.exit(6));
        l.borrow_mut()
            .push((wait.exec() == 6, EventLoop::current().loop_level()));
        EventLoop::current().quit();
    });
    assert_eq!(lp.exec(), 0);
    assert_eq!(*levels.borrow(), [(true, 1), (true, 1)]);
    assert_eq!(lp.loop_level(), 0);
}

#[test]
fn a_panicking_timer_loses_no_other_timer_of_its_batch_nor_posted_calls() {
    quiet_panics();
    let lp = EventLoop::current();
    let fired = Rc::new(RefCell::new(Vec::new()));
    // Three single-shots and a timer object, all due in the same batch; the second panics.
    for i in 0..3 {
        let f = fired.clone();
        Timer::single_shot(Duration::ZERO, move || {
            if i == 1 {
                panic!("timer {i} failed");
            }
            f.borrow_mut().push(format!("single-shot {i}"));
        });
    }
    let timer = Timer::new();
    timer.set_single_shot(true);
    let f = fired.clone();
    timer
        .timeout()
        .connect(move |_| f.borrow_mut().push("timer object".into()));
    timer.start_interval(Duration::ZERO);
    // Posted calls queued behind a panicking one.
    let f = fired.clone();
    lp.post(move || f.borrow_mut().push("posted 0".into()));
    lp.post(|| panic!("posted call failed"));
    let f = fired.clone();
    lp.post(move || f.borrow_mut().push("posted 2".into()));
    std::thread::sleep(Duration::from_millis(2));

    let mut panics = 0;
    for _ in 0..10 {
        match catch_unwind(AssertUnwindSafe(|| lp.process_events(Some(Duration::ZERO)))) {
            Ok(_) => {}
            Err(_) => panics += 1,
        }
    }
    assert_eq!(panics, 2);
    assert_eq!(
        *fired.borrow(),
        [
            "single-shot 0",
            "single-shot 2",
            "timer object",
            "posted 0",
            "posted 2"
        ]
    );
}

#[test]
fn a_panicking_readiness_handler_loses_no_other_sources_event() {
    quiet_panics();
    let lp = EventLoop::current();
    let heard = Rc::new(Cell::new(0));
    let mut peers = Vec::new();
    let mut sources = Vec::new();
    // Two sockets made readable before one poll: their edges arrive in the same batch.
    for _ in 0..2 {
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        let h = heard.clone();
        lp.register_io(&mut ours, Interest::READABLE, None, move |_| {
            h.set(h.get() + 1);
            if h.get() == 1 {
                panic!("handler failed");
            }
        })
        .unwrap();
        theirs.write_all(b"x").unwrap();
        sources.push(ours);
        peers.push(theirs);
    }
    let first = catch_unwind(AssertUnwindSafe(|| {
        lp.process_events(Some(Duration::from_secs(5)))
    }));
    assert!(first.is_err());
    assert_eq!(heard.get(), 1);
    // The second edge is not polled again (nothing new was written): it must have been kept.
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(heard.get(), 2);
}
