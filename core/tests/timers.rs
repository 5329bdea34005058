//! Timer semantics: never early, stop/restart from slots, single shot, many timers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, Object, Timer};

#[test]
fn single_shot_timers_never_fire_early_and_fire_in_deadline_order() {
    let lp = EventLoop::current();
    let start = Instant::now();
    let fired = Rc::new(RefCell::new(Vec::new()));
    for ms in [30u64, 10, 20, 0, 10] {
        let f = fired.clone();
        Timer::single_shot(Duration::from_millis(ms), move || {
            f.borrow_mut().push((ms, start.elapsed()));
        });
    }
    Timer::single_shot(Duration::from_millis(40), || EventLoop::current().quit());
    lp.exec();
    let fired = fired.borrow();
    let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, [0, 10, 10, 20, 30]);
    for (ms, at) in fired.iter() {
        assert!(
            *at >= Duration::from_millis(*ms),
            "{ms} ms timer fired at {at:?}"
        );
    }
}

#[test]
fn repeating_timer_stops_itself_from_its_own_slot() {
    let lp = EventLoop::current();
    let timer = Timer::new();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    timer.timeout().connect(move |_| {
        t.set(t.get() + 1);
        if t.get() == 3 {
            timer.stop();
            assert!(!timer.is_active());
            assert_eq!(timer.remaining_time(), None);
            // Thirty intervals more: a stopped timer must stay silent through them. Counted
            // from the third tick, not from the start, so a loaded machine that runs late
            // cannot quit the loop before the timer had its three ticks.
            Timer::single_shot(Duration::from_millis(30), || EventLoop::current().quit());
        }
    });
    timer.start_interval(Duration::from_millis(1));
    assert!(timer.is_active());
    // Only a hang guard: the slot above quits long before.
    Timer::single_shot(Duration::from_secs(20), || EventLoop::current().quit());
    lp.exec();
    assert_eq!(ticks.get(), 3);
    timer.destroy();
}

#[test]
fn single_shot_timer_object_and_restart() {
    let lp = EventLoop::current();
    let timer = Timer::new();
    timer.set_single_shot(true);
    assert!(timer.is_single_shot());
    timer.set_interval(Duration::from_millis(5));
    assert_eq!(timer.interval(), Duration::from_millis(5));
    let start = Instant::now();
    let fired_at = Rc::new(RefCell::new(Vec::new()));
    let f = fired_at.clone();
    timer
        .timeout()
        .connect(move |_| f.borrow_mut().push(start.elapsed()));
    timer.start();
    // Restarting pushes the deadline back.
    Timer::single_shot(Duration::from_millis(3), move || {
        timer.start();
    });
    Timer::single_shot(Duration::from_millis(25), || EventLoop::current().quit());
    lp.exec();
    let fired_at = fired_at.borrow();
    assert_eq!(fired_at.len(), 1);
    assert!(
        fired_at[0] >= Duration::from_millis(8),
        "restart honoured: {:?}",
        fired_at[0]
    );
    assert!(!timer.is_active());
    timer.destroy();
}

#[test]
fn remaining_time_counts_down() {
    let timer = Timer::new();
    assert_eq!(timer.remaining_time(), None);
    timer.start_interval(Duration::from_secs(10));
    let left = timer.remaining_time().unwrap();
    assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(9));
    timer.stop();
    assert!(!timer.is_active());
    timer.destroy();
    assert!(!timer.is_active());
    assert!(timer.timeout().is_closed());
    assert!(!timer.start(), "a destroyed timer reports it");
}

#[test]
fn destroying_a_timer_or_its_parent_stops_it() {
    let lp = EventLoop::current();
    let parent = Object::new();
    let timer = Timer::with_parent(&parent);
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    timer.timeout().connect(move |_| f.set(true));
    timer.start_interval(Duration::from_millis(1));
    let before = lp.timer_count();
    parent.destroy();
    assert_eq!(lp.timer_count(), before - 1);
    Timer::single_shot(Duration::from_millis(10), || EventLoop::current().quit());
    lp.exec();
    assert!(!fired.get());
}

#[test]
fn single_shot_with_context_is_skipped_when_the_context_is_gone() {
    let lp = EventLoop::current();
    let ctx = Object::new();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    Timer::single_shot_with(Duration::from_millis(1), &ctx, move || f.set(true));
    ctx.destroy();
    Timer::single_shot(Duration::from_millis(5), || EventLoop::current().quit());
    lp.exec();
    assert!(!fired.get());
}

#[test]
fn zero_interval_repeating_timer_does_not_starve_other_work() {
    let lp = EventLoop::current();
    let spinner = Timer::new();
    let spins = Rc::new(Cell::new(0u64));
    let s = spins.clone();
    spinner.timeout().connect(move |_| s.set(s.get() + 1));
    spinner.start_interval(Duration::ZERO);
    let posted = Rc::new(Cell::new(false));
    let p = posted.clone();
    lp.post(move || p.set(true));
    Timer::single_shot(Duration::from_millis(5), || EventLoop::current().quit());
    lp.exec();
    assert!(posted.get());
    assert!(spins.get() > 0);
    spinner.destroy();
}

#[test]
fn many_timers_all_fire_once_none_early() {
    const N: usize = 100_000;
    let lp = EventLoop::current();
    let start = Instant::now();
    let fired = Rc::new(Cell::new(0usize));
    let early = Rc::new(Cell::new(0usize));
    let mut seed = 12345u64;
    for _ in 0..N {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = (seed >> 33) % 50;
        let due = Instant::now() + Duration::from_millis(ms);
        let (f, e) = (fired.clone(), early.clone());
        Timer::single_shot(Duration::from_millis(ms), move || {
            if Instant::now() < due {
                e.set(e.get() + 1);
            }
            f.set(f.get() + 1);
            if f.get() == N {
                EventLoop::current().quit();
            }
        });
    }
    Timer::single_shot(Duration::from_secs(30), || EventLoop::current().exit(1));
    assert_eq!(lp.exec(), 0, "all timers fired before the safety bound");
    assert_eq!(fired.get(), N);
    assert_eq!(early.get(), 0);
    assert!(start.elapsed() >= Duration::from_millis(49));
}

#[test]
fn single_shot_with_a_context_deleted_later_before_exec_does_not_fire() {
    let lp = EventLoop::current();
    let ctx = Object::new();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    ctx.delete_later();
    Timer::single_shot_with(Duration::from_millis(5), &ctx, move || f.set(true));
    Timer::single_shot(Duration::from_millis(30), || EventLoop::current().quit());
    lp.exec();
    assert!(!ctx.is_alive());
    assert!(!fired.get(), "fired after its context was deleted");
}

#[test]
fn single_shot_with_a_context_deleted_later_in_a_slot_does_not_fire() {
    let lp = EventLoop::current();
    let ctx = Object::new();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    Timer::single_shot_with(Duration::from_millis(20), &ctx, move || f.set(true));
    Timer::single_shot(Duration::ZERO, move || ctx.delete_later());
    Timer::single_shot(Duration::from_millis(50), || EventLoop::current().quit());
    lp.exec();
    assert!(!fired.get(), "fired after its context was deleted");
}

#[test]
fn single_shot_with_a_context_fires_while_its_deferred_delete_is_still_pending() {
    // As Qt (the single-shot checks a QPointer to the context): until the deferred delete is
    // carried out the context exists, so a timer due in the same batch still runs.
    let lp = EventLoop::current();
    let ctx = Object::new();
    let fired = Rc::new(Cell::new(false));
    Timer::single_shot(Duration::ZERO, move || ctx.delete_later());
    let f = fired.clone();
    Timer::single_shot_with(Duration::ZERO, &ctx, move || f.set(ctx.is_alive()));
    std::thread::sleep(Duration::from_millis(2));
    lp.process_events(Some(Duration::ZERO));
    assert!(fired.get());
    assert!(!ctx.is_alive(), "deleted at the end of that iteration");
}

#[test]
fn start_msec_sets_the_interval_and_starts() {
    // Qt's QTimer::start(int msec).
    let lp = EventLoop::current();
    let timer = Timer::new();
    timer.set_single_shot(true);
    timer.timeout().connect(|_| EventLoop::current().quit());
    let started = Instant::now();
    assert!(timer.start_msec(15));
    assert_eq!(timer.interval(), Duration::from_millis(15));
    assert!(timer.is_active());
    lp.exec();
    assert!(started.elapsed() >= Duration::from_millis(15));
    assert!(!timer.is_active());
}

#[test]
fn a_timer_of_duration_max_waits_forever_instead_of_panicking() {
    // `Duration::MAX` is how a Rust caller says "never" (a server timeout turned off).
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    Timer::single_shot(Duration::MAX, move || f.set(true));
    let t = Timer::new();
    t.set_single_shot(false);
    assert!(t.start_interval(Duration::MAX));
    assert!(t.is_active());
    let f = fired.clone();
    t.timeout().connect(move |_| f.set(true));
    // The loop still runs, and the others fire.
    Timer::single_shot(Duration::from_millis(5), || EventLoop::current().quit());
    EventLoop::current().exec();
    assert!(!fired.get());
    assert!(t.is_active());
    assert!(t
        .remaining_time()
        .is_some_and(|left| left > Duration::from_secs(3600)));
}
