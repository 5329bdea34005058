//! The object tree: parents, names, destruction, deferred deletion and dangling handles.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{Destroyed, EventLoop, Object, Signal, Timer};

#[test]
fn children_are_destroyed_with_their_parent_after_its_destroyed_signal() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let root = Object::new();
    root.set_object_name("root");
    let child = Object::with_parent(&root);
    child.set_object_name("child");
    let grandchild = Object::with_parent(&child);
    grandchild.set_object_name("grandchild");
    for (obj, name) in [(root, "root"), (child, "child"), (grandchild, "grandchild")] {
        let order = order.clone();
        obj.destroyed()
            .connect(move |_| order.borrow_mut().push(name));
    }
    assert_eq!(root.children(), vec![child]);
    assert_eq!(grandchild.parent(), Some(child));
    assert!(root.destroy());
    assert_eq!(*order.borrow(), ["root", "child", "grandchild"]);
    for obj in [root, child, grandchild] {
        assert!(!obj.is_alive());
    }
    assert!(!root.destroy(), "destroying twice reports it");
}

#[test]
fn destroyed_signal_carries_the_id() {
    let obj = Object::new();
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    obj.destroyed().connect(move |id| g.set(Some(*id)));
    let id = obj.id();
    obj.destroy();
    assert_eq!(got.get(), Some(id));
}

#[test]
fn dangling_handles_report_and_never_reach_a_reused_slot() {
    let old = Object::new();
    old.set_object_name("old");
    let old_id = old.id();
    old.destroy();
    // Create objects until the arena slot is reused.
    let fresh: Vec<Object> = (0..8).map(|_| Object::new()).collect();
    for f in &fresh {
        f.set_object_name("fresh");
    }
    assert!(!old.is_alive());
    assert_eq!(old.object_name(), None);
    assert!(!old.set_object_name("x"));
    assert_eq!(old.parent(), None);
    assert!(old.children().is_empty());
    assert_eq!(old.set_parent(Some(fresh[0])), Err(Destroyed));
    assert_eq!(Object::from_id(old_id), None);
    assert!(old.data::<u32>().is_none());
    assert!(old.destroyed().is_closed());
    old.delete_later(); // no-op, no panic
    for f in &fresh {
        assert_eq!(f.object_name().as_deref(), Some("fresh"));
        f.destroy();
    }
}

#[test]
fn set_parent_moves_and_refuses_cycles() {
    let a = Object::new();
    let b = Object::new();
    let c = Object::with_parent(&a);
    c.set_parent(Some(b)).unwrap();
    assert!(a.children().is_empty());
    assert_eq!(b.children(), vec![c]);
    assert_eq!(b.set_parent(Some(c)), Err(Destroyed), "a cycle is refused");
    assert_eq!(b.set_parent(Some(b)), Err(Destroyed));
    c.set_parent(None::<Object>).unwrap();
    assert_eq!(c.parent(), None);
    b.destroy();
    assert!(c.is_alive(), "no longer b's child");
    a.destroy();
    c.destroy();
}

#[test]
fn find_child_searches_depth_first() {
    let root = Object::new();
    let a = Object::with_parent(&root);
    let a1 = Object::with_parent(&a);
    a1.set_object_name("target");
    let b = Object::with_parent(&root);
    b.set_object_name("target");
    assert_eq!(root.find_child("target"), Some(a1));
    assert_eq!(root.find_child("missing"), None);
    root.destroy();
}

#[test]
fn delete_later_waits_for_the_loop_and_is_idempotent() {
    let lp = EventLoop::current();
    let obj = Object::new();
    let sig: Signal<()> = obj.new_signal();
    let destroyed = Rc::new(Cell::new(0));
    let d = destroyed.clone();
    obj.destroyed().connect(move |_| d.set(d.get() + 1));
    sig.connect(move |_| {
        // From inside the object's own slot, twice.
        obj.delete_later();
        obj.delete_later();
        assert!(
            obj.is_alive(),
            "still alive until control returns to the loop"
        );
    });
    sig.emit(());
    assert!(obj.is_alive());
    lp.process_events(Some(Duration::ZERO));
    assert!(!obj.is_alive());
    assert_eq!(destroyed.get(), 1);
}

#[test]
fn delete_later_inside_a_nested_loop_waits_for_the_outer_level() {
    let lp = EventLoop::current();
    let obj = Object::new();
    let alive_in_nested = Rc::new(Cell::new(false));
    let a = alive_in_nested.clone();
    Timer::single_shot(Duration::ZERO, move || {
        obj.delete_later(); // requested at level 1
        let a = a.clone();
        Timer::single_shot(Duration::from_millis(2), move || {
            a.set(obj.is_alive());
            EventLoop::current().quit(); // ends the nested loop
        });
        EventLoop::current().exec(); // level 2
        EventLoop::current().quit(); // then end level 1
    });
    lp.exec();
    assert!(alive_in_nested.get(), "not deleted by the nested loop");
    lp.process_events(Some(Duration::ZERO));
    assert!(!obj.is_alive());
}

#[test]
fn data_is_dropped_with_the_object() {
    struct Probe(Rc<Cell<bool>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let obj = Object::with_data(Rc::new(Probe(dropped.clone())), None);
    assert!(obj.data::<Probe>().is_some());
    assert!(obj.data::<String>().is_none(), "wrong type gives None");
    obj.destroy();
    assert!(dropped.get());
}

#[test]
fn invoke_later_skips_destroyed_objects() {
    let lp = EventLoop::current();
    let calls = Rc::new(Cell::new(0));
    let live = Object::new();
    let dead = Object::new();
    for obj in [live, dead] {
        let c = calls.clone();
        obj.invoke_later(move || c.set(c.get() + 1));
    }
    dead.destroy();
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(calls.get(), 1);
    live.destroy();
}

#[test]
fn delete_later_before_exec_is_carried_out_once_exec_starts() {
    // Qt: "if deleteLater() is called before the event loop starts, the object will be deleted
    // once the event loop is started".
    let lp = EventLoop::current();
    let obj = Object::new();
    obj.delete_later();
    let alive_at_start = Rc::new(Cell::new(true));
    let a = alive_at_start.clone();
    lp.post(move || {
        // The first posted call of the first iteration: the delete comes right after.
        a.set(obj.is_alive());
        EventLoop::current().post(|| EventLoop::current().quit());
    });
    lp.exec();
    assert!(
        alive_at_start.get(),
        "not deleted before control reached the loop"
    );
    assert!(
        !obj.is_alive(),
        "deleted by the exec() that started after delete_later()"
    );
}

#[test]
fn wait_helper_called_fifty_times_from_main_leaves_no_object_behind() {
    // The shape of the guide's `get_text` helper: create an object, run the loop until it is
    // done, read it, `delete_later()` it, return to `main` (outside any exec).
    fn wait_for_work() -> u32 {
        let work = Object::new();
        let done: Signal<u32> = work.new_signal();
        done.connect(|_| EventLoop::current().quit());
        Timer::single_shot(Duration::ZERO, move || done.emit(7));
        EventLoop::current().exec();
        work.delete_later();
        7
    }
    let lp = EventLoop::current();
    let start = lp.object_count();
    for _ in 0..50 {
        assert_eq!(wait_for_work(), 7);
    }
    // Each exec() deleted the previous call's object; only the last one is still pending.
    assert_eq!(lp.object_count(), start + 1);
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(lp.object_count(), start);
}
