//! Threads, Qt-style: slots built on and kept on the receiving thread, blocking queued calls,
//! unique connections.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use slotnet_core::{BlockingCallError, EventLoop, Object, Signal, Thread, Timer};

thread_local! {
    static CALLS_HERE: Cell<u32> = const { Cell::new(0) };
}

#[test]
fn a_cross_thread_slot_is_built_and_kept_on_the_receiving_thread() {
    let worker = Thread::start().unwrap();
    let worker_id = worker
        .handle()
        .invoke_blocking(|| std::thread::current().id());
    let main_loop = EventLoop::current().handle();
    let sender = Object::new();
    let numbers: Signal<u32> = sender.new_signal();
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let d = dropped_on.clone();
    let conn = numbers.connect_cross_thread_local(worker.handle(), move || {
        // Built on the worker: !Send state (an Rc, a timer object of the worker's loop).
        struct Probe(Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>);
        impl Drop for Probe {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = Some(std::thread::current().id());
            }
        }
        let sum = Rc::new(Cell::new(0u32));
        let timer = Timer::new();
        let probe = Probe(d);
        move |n: u32| {
            let _ = &probe;
            assert!(slotnet_core::AsObject::as_object(&timer).is_alive());
            sum.set(sum.get() + n);
            CALLS_HERE.with(|c| c.set(c.get() + 1));
            if n == 4 {
                let total = sum.get();
                main_loop.exit(total as i32).unwrap();
            }
        }
    });
    for n in 1..=4 {
        numbers.emit(n);
    }
    Timer::single_shot(Duration::from_secs(20), || EventLoop::current().exit(-1));
    assert_eq!(EventLoop::current().exec(), 10);
    assert_eq!(
        CALLS_HERE.with(|c| c.get()),
        0,
        "never ran on the emitting thread"
    );
    assert_eq!(
        worker
            .handle()
            .invoke_blocking(|| CALLS_HERE.with(|c| c.get())),
        Ok(4)
    );
    // Disconnecting drops the slot on its own thread.
    assert!(conn.disconnect());
    let flushed = worker.handle().invoke_blocking(|| ());
    assert_eq!(flushed, Ok(()));
    assert_eq!(*dropped_on.lock().unwrap(), worker_id.ok());
    assert_eq!(worker.quit_and_join(), Some(0));
}

#[test]
fn a_cross_thread_local_connection_to_an_ended_loop_is_disconnected() {
    let worker = Thread::start().unwrap();
    let handle = worker.handle().clone();
    assert_eq!(worker.quit_and_join(), Some(0));
    let sig: Signal<u8> = Signal::new();
    let conn = sig.connect_cross_thread_local(&handle, || |_: u8| {});
    assert!(!conn.is_connected());
    sig.emit(1); // nothing to deliver to, no panic
}

#[test]
fn a_blocking_call_returns_the_value_computed_on_the_other_loop() {
    let worker = Thread::start().unwrap();
    let main_thread = std::thread::current().id();
    let (value, ran_on) = worker
        .handle()
        .invoke_blocking(move || {
            // Objects made here live on the worker's loop.
            let obj = Object::new();
            obj.set_object_name("made on the worker");
            (obj.object_name().unwrap(), std::thread::current().id())
        })
        .unwrap();
    assert_eq!(value, "made on the worker");
    assert_ne!(ran_on, main_thread);
    worker.quit_and_join();
}

#[test]
fn a_blocking_call_to_the_own_loop_is_an_error_not_a_deadlock() {
    let own = EventLoop::current().handle();
    assert_eq!(
        own.invoke_blocking(|| 1),
        Err(BlockingCallError::CurrentThread)
    );
    // Also from inside a running slot of that loop.
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    Timer::single_shot(Duration::ZERO, move || {
        *r.borrow_mut() = Some(EventLoop::current().handle().invoke_blocking(|| 2));
        EventLoop::current().quit();
    });
    EventLoop::current().exec();
    assert_eq!(
        *result.borrow(),
        Some(Err(BlockingCallError::CurrentThread))
    );
}

#[test]
fn a_blocking_call_to_an_ended_loop_is_an_error_not_a_deadlock() {
    let worker = Thread::start().unwrap();
    let handle = worker.handle().clone();
    assert_eq!(worker.quit_and_join(), Some(0));
    assert_eq!(
        handle.invoke_blocking(|| 1),
        Err(BlockingCallError::LoopEnded)
    );
}

#[test]
fn a_blocking_call_whose_loop_ends_without_running_it_is_an_error_not_a_deadlock() {
    // A thread with a loop that never runs it: the call is accepted (queued), then the
    // thread ends and its loop is dropped with the call still queued.
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        tx.send(EventLoop::current().handle()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    });
    let handle = rx.recv().unwrap();
    assert_eq!(
        handle.invoke_blocking(|| 1),
        Err(BlockingCallError::LoopEnded)
    );
    thread.join().unwrap();
}

#[test]
fn unique_connection_connects_a_key_once() {
    let sender = Object::new();
    let changed: Signal<i32> = sender.new_signal();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let first = changed.connect_unique("count", move |_| c.set(c.get() + 1));
    let c = calls.clone();
    let second = changed.connect_unique("count", move |_| c.set(c.get() + 100));
    assert!(first.is_some());
    assert!(
        second.is_none(),
        "a second slot under the same key is refused"
    );
    changed.emit(1);
    assert_eq!(calls.get(), 1);
    // Other keys, plain connections and per-receiver keys are independent.
    assert!(changed.connect_unique("other", |_| {}).is_some());
    let (a, b) = (Object::new(), Object::new());
    assert!(changed.connect_unique_with(&a, "count", |_| {}).is_some());
    assert!(changed.connect_unique_with(&b, "count", |_| {}).is_some());
    assert!(changed.connect_unique_with(&a, "count", |_| {}).is_none());
    // Once disconnected (or its context destroyed), the key may be connected again.
    first.unwrap().disconnect();
    let c = calls.clone();
    assert!(changed
        .connect_unique("count", move |_| c.set(c.get() + 10))
        .is_some());
    a.destroy();
    assert!(changed
        .connect_unique_with(&a, "count", |_| {})
        .is_some_and(|c| !c.is_connected()));
    changed.emit(1);
    assert_eq!(calls.get(), 11);
}
