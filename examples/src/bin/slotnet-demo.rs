//! slotnet-demo: a self-contained tour that needs no network.
//!
//! Today it shows the core: objects and signals, timers, a worker thread posting back to the
//! main loop, and deferred deletion. It grows into the HTTP demo of ../shared/CONTRACT.md
//! (a server and a NetworkAccessManager on loopback) as those parts land.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, Object, Signal, Thread, Timer};

fn main() {
    let lp = EventLoop::current();
    let start = Instant::now();
    let stamp = move || format!("[{:>4} ms]", start.elapsed().as_millis());

    // An object with a typed signal, and two slots.
    let counter = Object::new();
    counter.set_object_name("counter");
    let value_changed: Signal<u32> = counter.new_signal();
    value_changed.connect(move |v| println!("{} counter.valueChanged({v})", stamp()));
    counter
        .destroyed()
        .connect(move |_| println!("{} counter.destroyed()", stamp()));

    // A repeating timer drives the counter; it stops itself after three ticks.
    let ticker = Timer::with_parent(&counter);
    let ticks = Rc::new(Cell::new(0u32));
    {
        let (ticks, value_changed) = (ticks.clone(), value_changed.clone());
        ticker.timeout().connect(move |_| {
            ticks.set(ticks.get() + 1);
            value_changed.emit(ticks.get());
            if ticks.get() == 3 {
                ticker.stop();
                println!("{} ticker stopped itself", stamp());
            }
        });
    }
    ticker.start_interval(Duration::from_millis(20));

    // A worker thread with its own loop computes something and posts the answer back.
    let worker = Thread::start_named("demo-worker").expect("spawn worker thread");
    let main = lp.handle();
    worker
        .run(move || {
            let sum: u64 = (1..=1_000_000u64).sum();
            let name = std::thread::current().name().unwrap_or("?").to_owned();
            main.post(move || {
                println!(
                    "{} result from thread {name:?}: sum(1..=1e6) = {sum}",
                    stamp()
                );
            })
            .expect("main loop is alive");
        })
        .expect("worker loop is alive");

    // After the ticks: delete the counter later, then quit.
    Timer::single_shot(Duration::from_millis(100), move || {
        println!("{} counter.delete_later()", stamp());
        counter.delete_later();
        Timer::single_shot(Duration::from_millis(1), || EventLoop::current().quit());
    });

    let code = lp.exec();
    assert_eq!(ticks.get(), 3);
    assert!(!counter.is_alive());
    worker.quit_and_join();
    println!("{} loop finished with code {code}", stamp());
    std::process::exit(code);
}
