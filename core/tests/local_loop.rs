//! `LocalLoop` (Qt's `QEventLoop` object): each wait returns only when its own loop is quit,
//! whatever the nesting order; `EventLoop::exec`/`exit` keep working around it.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, LocalLoop, Object, Signal, Timer};

type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, line: impl Into<String>) {
    log.borrow_mut().push(line.into());
}

/// Something that finishes later: `finished` is emitted when `finish()` runs (from a timer or
/// a posted call), like a reply.
#[derive(Clone)]
struct Work {
    finished: Signal<()>,
    done: Rc<RefCell<bool>>,
}

impl Work {
    fn new(owner: &Object) -> Work {
        Work {
            finished: owner.new_signal(),
            done: Rc::new(RefCell::new(false)),
        }
    }

    fn finish(&self) {
        *self.done.borrow_mut() = true;
        self.finished.emit(());
    }

    fn is_done(&self) -> bool {
        *self.done.borrow()
    }
}

/// The wait-for-a-reply helper: runs a local loop until `work` has finished.
fn wait_for(work: &Work) {
    let wait = LocalLoop::new();
    let w = wait.clone();
    work.finished.connect(move |_| w.quit());
    wait.exec();
}

#[test]
fn inner_wait_survives_the_outer_work_finishing_first() {
    // A waits for work due at 20 ms; B, run inside A's wait, waits for work due much later.
    // A's work finishes while B waits: B must keep waiting for its own work, then A's wait
    // returns right after B's.
    let lp = EventLoop::current();
    let owner = Object::new();
    let (a, b) = (Work::new(&owner), Work::new(&owner));
    let log: Log = Rc::default();
    let (l, a2, b2) = (log.clone(), a.clone(), b.clone());
    Timer::single_shot(Duration::ZERO, move || {
        push(&l, "A waits");
        let a3 = a2.clone();
        Timer::single_shot(Duration::from_millis(20), move || a3.finish());
        let (l2, a_in_b, b3) = (l.clone(), a2.clone(), b2.clone());
        Timer::single_shot(Duration::from_millis(1), move || {
            push(&l2, "B waits");
            // B's work finishes only after A's has (so the order cannot depend on timing).
            let (b4, l3) = (b3.clone(), l2.clone());
            a_in_b.finished.connect(move |_| {
                push(&l3, "A's work done");
                let b5 = b4.clone();
                Timer::single_shot(Duration::from_millis(30), move || b5.finish());
            });
            wait_for(&b3);
            push(&l2, format!("B returned, B done: {}", b3.is_done()));
        });
        wait_for(&a2);
        push(&l, format!("A returned, A done: {}", a2.is_done()));
        EventLoop::current().quit();
    });
    Timer::single_shot(Duration::from_secs(20), || EventLoop::current().exit(1));
    assert_eq!(lp.exec(), 0);
    assert_eq!(
        *log.borrow(),
        [
            "A waits",
            "B waits",
            "A's work done",
            "B returned, B done: true",
            "A returned, A done: true"
        ]
    );
    assert_eq!(lp.loop_level(), 0);
}

#[test]
fn outer_wait_goes_on_after_the_inner_work_finishes_first() {
    // The other order: B's work (inside A's wait) finishes first; B returns, A keeps waiting
    // until its own work is done.
    let lp = EventLoop::current();
    let owner = Object::new();
    let (a, b) = (Work::new(&owner), Work::new(&owner));
    let log: Log = Rc::default();
    let (l, a2, b2) = (log.clone(), a.clone(), b.clone());
    Timer::single_shot(Duration::ZERO, move || {
        push(&l, "A waits");
        let (l2, a3, b3) = (l.clone(), a2.clone(), b2.clone());
        Timer::single_shot(Duration::from_millis(1), move || {
            push(&l2, "B waits");
            let b4 = b3.clone();
            Timer::single_shot(Duration::from_millis(5), move || b4.finish());
            wait_for(&b3);
            push(
                &l2,
                format!(
                    "B returned, B done: {}, A done: {}",
                    b3.is_done(),
                    a3.is_done()
                ),
            );
            // A's work finishes only after B's wait has returned.
            let a4 = a3.clone();
            Timer::single_shot(Duration::from_millis(20), move || a4.finish());
        });
        wait_for(&a2);
        push(&l, format!("A returned, A done: {}", a2.is_done()));
        EventLoop::current().quit();
    });
    Timer::single_shot(Duration::from_secs(20), || EventLoop::current().exit(1));
    assert_eq!(lp.exec(), 0);
    assert_eq!(
        *log.borrow(),
        [
            "A waits",
            "B waits",
            "B returned, B done: true, A done: false",
            "A returned, A done: true"
        ]
    );
}

#[test]
fn quitting_the_outer_loop_while_the_inner_runs_returns_after_the_inner() {
    let outer = LocalLoop::new();
    let inner = LocalLoop::new();
    let log: Log = Rc::default();
    let (o, i, l) = (outer.clone(), inner.clone(), log.clone());
    Timer::single_shot(Duration::ZERO, move || {
        let (o2, l2) = (o.clone(), l.clone());
        Timer::single_shot(Duration::from_millis(1), move || {
            push(&l2, "outer quit");
            o2.quit();
        });
        let (i2, l3) = (i.clone(), l.clone());
        Timer::single_shot(Duration::from_millis(10), move || {
            push(&l3, "inner quit");
            i2.exit(5);
        });
        let code = i.exec();
        push(&l, format!("inner returned {code}"));
    });
    assert_eq!(outer.exec(), 0);
    push(&log, "outer returned");
    assert_eq!(
        *log.borrow(),
        [
            "outer quit",
            "inner quit",
            "inner returned 5",
            "outer returned"
        ]
    );
    assert!(!outer.is_running() && !inner.is_running());
}

#[test]
fn event_loop_exit_ends_the_thread_loop_not_a_local_wait() {
    // A program's top-level loop is quit while a helper waits in a LocalLoop: the helper's
    // wait finishes its work first, then the top-level exec returns.
    let lp = EventLoop::current();
    let log: Log = Rc::default();
    let l = log.clone();
    Timer::single_shot(Duration::ZERO, move || {
        let wait = LocalLoop::new();
        Timer::single_shot(Duration::from_millis(1), || EventLoop::current().exit(3));
        let (w, l2) = (wait.clone(), l.clone());
        Timer::single_shot(Duration::from_millis(10), move || {
            assert_eq!(EventLoop::current().loop_level(), 2);
            push(&l2, "work done");
            w.quit();
        });
        wait.exec();
        push(&l, "wait returned");
    });
    assert_eq!(lp.exec(), 3);
    assert_eq!(*log.borrow(), ["work done", "wait returned"]);
    assert_eq!(lp.loop_level(), 0);
}

#[test]
fn exec_of_a_running_local_loop_returns_minus_one_and_exit_before_exec_is_forgotten() {
    let wait = LocalLoop::new();
    wait.exit(9); // not running: forgotten, as Qt's exec() clears a pending exit
    let w = wait.clone();
    let nested = Rc::new(RefCell::new(None));
    let n = nested.clone();
    Timer::single_shot(Duration::from_millis(1), move || {
        *n.borrow_mut() = Some(w.exec()); // already running
        w.exit(4);
    });
    assert_eq!(wait.exec(), 4);
    assert_eq!(*nested.borrow(), Some(-1));
}
