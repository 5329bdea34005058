//! slotnet-corebench: micro-benchmarks of slotnet-core, the same scenarios as the Qt anchor
//! `qsignal_bench` (a Qt 6 program of the benchmark anchors, see docs/benchmarks.md), one `name=value unit` per line.
//!
//! ```text
//! slotnet-corebench [--only emit,queued,chained,timers,xthread] [--quick]
//! ```
//!
//! - `emit_{0,1,10}_slot(s)_ns`: a `Signal<i32>` with 0/1/10 direct slots adding to a counter;
//!   N calibrated to about a second (0.1 s with `--quick`), median of 3 runs.
//! - `queued_calls_per_s`: N same-thread `EventLoop::post` calls, then the loop drains them.
//! - `chained_calls_per_s`: N same-thread posts made from inside the loop, each posted call
//!   posting the next, 100 chains at once (no Qt counterpart: it isolates a post made while
//!   the loop dispatches, the common case in a running program).
//! - `timers_100k_overshoot_ms`: 100k `Timer::single_shot` with random 0..100 ms delays
//!   (fixed seed); time from the first arming until the last fired, minus the largest delay.
//! - `cross_thread_posts_per_s`: a worker thread posts N calls to the main loop through a
//!   `LoopHandle` while the main loop runs.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, Signal, Timer};

fn print(name: &str, value: f64, unit: &str) {
    println!("{name}={value:.6} {unit}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_emit(slots: usize, name: &str, target: Duration) {
    let sig: Signal<i32> = Signal::new();
    let counter = Rc::new(Cell::new(0i64));
    for _ in 0..slots {
        let c = counter.clone();
        sig.connect(move |v| c.set(c.get() + i64::from(*v)));
    }
    let run = |n: u64| {
        let start = Instant::now();
        for _ in 0..n {
            sig.emit(black_box(1));
        }
        start.elapsed().as_nanos() as f64
    };
    let mut n = 100_000u64;
    let mut ns = run(n);
    while ns < 50e6 && n < (1 << 34) {
        n *= 4;
        ns = run(n);
    }
    let n = ((n as f64) * (target.as_nanos() as f64 / ns)).max(1.0) as u64;
    let per_emit: Vec<f64> = (0..3).map(|_| run(n) / n as f64).collect();
    black_box(counter.get());
    print(name, median(per_emit), "ns/emit");
}

fn bench_queued(n: u64) {
    let lp = EventLoop::current();
    let counter = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    for _ in 0..n {
        let c = counter.clone();
        lp.post(move || {
            c.set(c.get() + 1);
            if c.get() == n {
                EventLoop::current().quit();
            }
        });
    }
    let post_ns = start.elapsed().as_nanos() as f64;
    lp.exec();
    let total_ns = start.elapsed().as_nanos() as f64;
    print("queued_n", n as f64, "calls");
    print("queued_post_ns", post_ns / n as f64, "ns/call");
    print(
        "queued_drain_ns",
        (total_ns - post_ns) / n as f64,
        "ns/call",
    );
    print("queued_calls_per_s", n as f64 / (total_ns / 1e9), "calls/s");
}

fn bench_chained(n: u64) {
    const CHAINS: u64 = 100;
    let lp = EventLoop::current();
    let counter = Rc::new(Cell::new(0u64));
    fn link(counter: Rc<Cell<u64>>, n: u64) {
        let c = counter.get() + 1;
        counter.set(c);
        if c == n {
            EventLoop::current().quit();
        } else if c + CHAINS <= n {
            EventLoop::current().post(move || link(counter, n));
        }
    }
    let start = Instant::now();
    for _ in 0..CHAINS.min(n) {
        let c = counter.clone();
        // The first link of each chain is posted from outside; every later one from inside.
        lp.post(move || link(c, n));
    }
    lp.exec();
    let total_ns = start.elapsed().as_nanos() as f64;
    print("chained_n", n as f64, "calls");
    print(
        "chained_calls_per_s",
        n as f64 / (total_ns / 1e9),
        "calls/s",
    );
}

fn bench_timers(count: usize, max_ms: u64) {
    let lp = EventLoop::current();
    // Same generator family as the anchor's intent (fixed seed, uniform 0..=max_ms).
    let mut seed = 12345u64;
    let intervals: Vec<u64> = (0..count)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % (max_ms + 1)
        })
        .collect();
    let largest = *intervals.iter().max().unwrap_or(&0);
    let late = Rc::new(std::cell::RefCell::new(Vec::with_capacity(count)));
    let fired = Rc::new(Cell::new(0usize));
    let start = Instant::now();
    for &ms in &intervals {
        let due = start.elapsed().as_secs_f64() * 1e3 + ms as f64;
        let (late, fired) = (late.clone(), fired.clone());
        Timer::single_shot(Duration::from_millis(ms), move || {
            late.borrow_mut()
                .push(start.elapsed().as_secs_f64() * 1e3 - due);
            fired.set(fired.get() + 1);
            if fired.get() == count {
                EventLoop::current().quit();
            }
        });
    }
    let setup_ms = start.elapsed().as_secs_f64() * 1e3;
    Timer::single_shot(Duration::from_secs(60), || EventLoop::current().exit(1));
    let rc = lp.exec();
    let all_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut late = late.borrow().clone();
    late.sort_by(f64::total_cmp);
    print("timer_count", count as f64, "timers");
    print("timer_fired", fired.get() as f64, "timers");
    print("timer_setup_ms", setup_ms, "ms");
    print("timer_all_fired_ms", all_ms, "ms");
    print("timer_ideal_ms", largest as f64, "ms");
    let key = if count == 100_000 {
        "timers_100k_overshoot_ms"
    } else {
        "timers_overshoot_ms"
    };
    print(key, all_ms - largest as f64, "ms");
    if !late.is_empty() {
        print("timer_late_p50_ms", late[late.len() / 2], "ms");
        print("timer_late_p99_ms", late[late.len() * 99 / 100], "ms");
        print("timer_late_max_ms", late[late.len() - 1], "ms");
        print(
            "timer_early_count",
            late.iter().filter(|&&l| l < -0.001).count() as f64,
            "timers",
        );
    }
    if rc != 0 {
        eprintln!("slotnet-corebench: timer benchmark hit its 60 s safety bound");
    }
}

thread_local! {
    static XTHREAD_COUNT: Cell<u64> = const { Cell::new(0) };
}

fn bench_cross_thread(n: u64) {
    let lp = EventLoop::current();
    XTHREAD_COUNT.with(|c| c.set(0));
    let handle = lp.handle();
    let start = Instant::now();
    let worker = std::thread::spawn(move || {
        let t = Instant::now();
        for _ in 0..n {
            handle
                .post(move || {
                    let done = XTHREAD_COUNT.with(|c| {
                        c.set(c.get() + 1);
                        c.get() == n
                    });
                    if done {
                        EventLoop::current().quit();
                    }
                })
                .expect("main loop is running");
        }
        t.elapsed().as_nanos() as f64
    });
    lp.exec();
    let total_ns = start.elapsed().as_nanos() as f64;
    let post_ns = worker.join().expect("worker thread");
    print("xthread_n", n as f64, "calls");
    print("xthread_post_ns", post_ns / n as f64, "ns/call");
    print(
        "cross_thread_posts_per_s",
        n as f64 / (total_ns / 1e9),
        "calls/s",
    );
}

fn main() {
    let mut only = String::new();
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => only = args.next().unwrap_or_default(),
            "--quick" => quick = true,
            _ => {
                eprintln!(
                    "usage: slotnet-corebench [--only emit,queued,chained,timers,xthread] [--quick]"
                );
                std::process::exit(2);
            }
        }
    }
    let wanted = |what: &str| only.is_empty() || only.split(',').any(|w| w == what);
    let emit_time = Duration::from_millis(if quick { 100 } else { 1000 });
    let n = if quick { 100_000 } else { 1_000_000 };
    if wanted("emit") {
        bench_emit(0, "emit_0_slots_ns", emit_time);
        bench_emit(1, "emit_1_slot_ns", emit_time);
        bench_emit(10, "emit_10_slots_ns", emit_time);
    }
    if wanted("queued") {
        bench_queued(n);
    }
    if wanted("chained") {
        bench_chained(n);
    }
    if wanted("timers") {
        bench_timers(if quick { 10_000 } else { 100_000 }, 100);
    }
    if wanted("xthread") {
        bench_cross_thread(n);
    }
}
