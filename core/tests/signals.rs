//! Signal and slot semantics, including everything a slot may do during an emission.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{Connection, EventLoop, Object, Signal, Timer};

fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn slots_run_in_connection_order_with_arguments() {
    let sig: Signal<(u32, &'static str)> = Signal::new();
    let seen = log();
    for tag in ["a", "b", "c"] {
        let seen = seen.clone();
        sig.connect(move |(n, s)| seen.borrow_mut().push(format!("{tag}{n}{s}")));
    }
    sig.emit((1, "x"));
    assert_eq!(*seen.borrow(), ["a1x", "b1x", "c1x"]);
    assert_eq!(sig.receivers(), 3);
}

#[test]
fn slot_disconnects_itself_mid_emission() {
    let sig: Signal<()> = Signal::new();
    let seen = log();
    let me: Rc<RefCell<Option<Connection>>> = Rc::new(RefCell::new(None));
    let (s, m) = (seen.clone(), me.clone());
    let conn = sig.connect(move |_| {
        s.borrow_mut().push("self".into());
        assert!(m.borrow().as_ref().unwrap().disconnect());
    });
    *me.borrow_mut() = Some(conn.clone());
    let s = seen.clone();
    sig.connect(move |_| s.borrow_mut().push("after".into()));
    sig.emit(());
    sig.emit(());
    assert_eq!(*seen.borrow(), ["self", "after", "after"]);
    assert!(!conn.is_connected());
    assert!(
        !conn.disconnect(),
        "second disconnect reports nothing to do"
    );
    assert_eq!(sig.receivers(), 1);
}

#[test]
fn slot_disconnects_a_later_slot_which_is_then_skipped() {
    let sig: Signal<()> = Signal::new();
    let seen = log();
    let later: Rc<RefCell<Option<Connection>>> = Rc::new(RefCell::new(None));
    let l = later.clone();
    sig.connect(move |_| {
        l.borrow().as_ref().unwrap().disconnect();
    });
    let s = seen.clone();
    *later.borrow_mut() = Some(sig.connect(move |_| s.borrow_mut().push("later".into())));
    sig.emit(());
    assert!(seen.borrow().is_empty());
}

#[test]
fn slot_connected_mid_emission_is_not_called_by_that_emission() {
    let sig: Signal<()> = Signal::new();
    let calls = Rc::new(Cell::new(0));
    let (sig2, c) = (sig.clone(), calls.clone());
    let added = Rc::new(Cell::new(false));
    sig.connect(move |_| {
        if !added.replace(true) {
            let c = c.clone();
            sig2.connect(move |_| c.set(c.get() + 1));
        }
    });
    sig.emit(());
    assert_eq!(
        calls.get(),
        0,
        "new slot must wait for the next emission, as in Qt"
    );
    sig.emit(());
    assert_eq!(calls.get(), 1);
}

#[test]
fn slot_destroying_the_sender_skips_the_remaining_slots() {
    let sender = Object::new();
    let sig: Signal<()> = sender.new_signal();
    let seen = log();
    let s = seen.clone();
    sig.connect(move |_| {
        s.borrow_mut().push("first".into());
        assert!(sender.destroy());
    });
    let s = seen.clone();
    sig.connect(move |_| s.borrow_mut().push("second".into()));
    sig.emit(());
    assert_eq!(*seen.borrow(), ["first"]);
    assert!(!sender.is_alive());
    assert!(sig.is_closed());
    // The closed signal refuses new slots and emits nothing.
    let s = seen.clone();
    let conn = sig.connect(move |_| s.borrow_mut().push("late".into()));
    assert!(!conn.is_connected());
    sig.emit(());
    assert_eq!(seen.borrow().len(), 1);
}

#[test]
fn recursive_emission_reenters_slots() {
    let sig: Signal<u32> = Signal::new();
    let seen = log();
    let (s, sig2) = (seen.clone(), sig.clone());
    sig.connect(move |depth| {
        s.borrow_mut().push(format!("a{depth}"));
        if *depth < 3 {
            sig2.emit(depth + 1);
        }
    });
    let s = seen.clone();
    sig.connect(move |depth| s.borrow_mut().push(format!("b{depth}")));
    sig.emit(0);
    assert_eq!(
        *seen.borrow(),
        ["a0", "a1", "a2", "a3", "b3", "b2", "b1", "b0"]
    );
}

#[test]
fn disconnect_during_recursion_is_compacted_after_the_outer_emission() {
    let sig: Signal<u32> = Signal::new();
    let conns: Rc<RefCell<Vec<Connection>>> = Rc::new(RefCell::new(Vec::new()));
    let (sig2, cs) = (sig.clone(), conns.clone());
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    conns.borrow_mut().push(sig.connect(move |depth| {
        c.set(c.get() + 1);
        if *depth == 0 {
            sig2.emit(1);
            // Disconnect everything, including ourselves, while still inside the outer call.
            for conn in cs.borrow().iter() {
                conn.disconnect();
            }
        }
    }));
    let c = calls.clone();
    conns
        .borrow_mut()
        .push(sig.connect(move |_| c.set(c.get() + 10)));
    sig.emit(0);
    // Outer: a (1), inner: a (1) + b (10); outer b skipped after the disconnect.
    assert_eq!(calls.get(), 12);
    assert_eq!(sig.receivers(), 0);
}

#[test]
fn single_shot_connection_runs_once() {
    let sig: Signal<i32> = Signal::new();
    let total = Rc::new(Cell::new(0));
    let t = total.clone();
    let conn = sig.connect_once(move |v| t.set(t.get() + v));
    sig.emit(5);
    sig.emit(7);
    assert_eq!(total.get(), 5);
    assert!(!conn.is_connected());
}

#[test]
fn context_connection_is_dropped_with_the_context() {
    let sig: Signal<()> = Signal::new();
    let context = Object::new();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let conn = sig.connect_with(&context, move |_| c.set(c.get() + 1));
    sig.emit(());
    context.destroy();
    sig.emit(());
    assert_eq!(calls.get(), 1);
    assert!(!conn.is_connected());
    // A context that is already gone gives a dead connection.
    let c = calls.clone();
    let late = sig.connect_with(&context, move |_| c.set(c.get() + 100));
    assert!(!late.is_connected());
    sig.emit(());
    assert_eq!(calls.get(), 1);
}

#[test]
fn queued_connection_runs_on_a_later_iteration() {
    let lp = EventLoop::current();
    let sig: Signal<String> = Signal::new();
    let seen = log();
    let s = seen.clone();
    sig.connect_queued(move |v| s.borrow_mut().push(format!("queued {v}")));
    let s = seen.clone();
    sig.connect(move |v| s.borrow_mut().push(format!("direct {v}")));
    sig.emit("x".into());
    assert_eq!(*seen.borrow(), ["direct x"]);
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(*seen.borrow(), ["direct x", "queued x"]);
}

#[test]
fn queued_call_disconnected_before_delivery_is_dropped() {
    let lp = EventLoop::current();
    let sig: Signal<()> = Signal::new();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let conn = sig.connect_queued(move |_| c.set(c.get() + 1));
    sig.emit(());
    conn.disconnect();
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(calls.get(), 0);
}

#[test]
fn blocked_signals_do_not_emit() {
    let obj = Object::new();
    let a: Signal<()> = obj.new_signal();
    let b: Signal<()> = obj.new_signal();
    let calls = Rc::new(Cell::new(0));
    for s in [&a, &b] {
        let c = calls.clone();
        s.connect(move |_| c.set(c.get() + 1));
    }
    assert!(!obj.block_signals(true));
    a.emit(());
    b.emit(());
    assert_eq!(calls.get(), 0);
    assert!(obj.signals_blocked());
    assert!(obj.block_signals(false));
    a.emit(());
    b.emit(());
    assert_eq!(calls.get(), 2);
}

#[test]
fn quit_from_a_slot_ends_exec() {
    let lp = EventLoop::current();
    let owner = Object::new();
    let sig: Signal<i32> = owner.new_signal();
    sig.connect(|code| EventLoop::current().exit(*code));
    Timer::single_shot(Duration::from_millis(1), move || sig.emit(42));
    assert_eq!(lp.exec(), 42);
    assert!(!lp.is_running());
}
