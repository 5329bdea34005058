//! A calloop `EventLoop` drives slotnet through `LoopSource`: a real download from a
//! loopback server (the testkit's), timers and posts made from calloop callbacks, cross-thread posts.
//! Nothing here calls slotnet's `exec` or `process_events`, and nothing "kicks" the source.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer as CalloopTimer};
use calloop::{EventLoop as Calloop, LoopHandle, LoopSignal};
use slotnet_calloop::LoopSource;
use slotnet_http::core::{EventLoop, Timer};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_testkit::server::TestServer;

/// `http://127.0.0.1:<port>/bytes/<n>` of the test server: `n` bytes 0, 1, .., 255, 0, ..
fn bytes_url(server: &TestServer, n: usize) -> String {
    format!("http://127.0.0.1:{}/bytes/{n}", server.port)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 256) as u8).collect()
}

/// Runs a calloop loop with this thread's slotnet loop inserted until `start`'s signal
/// stops it or 10 s pass (a hang guard); returns whether it was stopped in time.
fn run_calloop(start: impl FnOnce(&LoopHandle<'static, ()>, LoopSignal)) -> bool {
    let mut calloop: Calloop<'static, ()> = Calloop::try_new().expect("calloop");
    let handle = calloop.handle();
    handle
        .insert_source(LoopSource::new(), |_, _, _| {})
        .expect("insert the slotnet source");
    let timed_out = Rc::new(Cell::new(false));
    let (t, signal) = (timed_out.clone(), calloop.get_signal());
    handle
        .insert_source(
            CalloopTimer::from_duration(Duration::from_secs(10)),
            move |_, _, _| {
                t.set(true);
                signal.stop();
                TimeoutAction::Drop
            },
        )
        .expect("insert the guard");
    start(&handle, calloop.get_signal());
    calloop.run(None, &mut (), |_| {}).expect("calloop run");
    !timed_out.get()
}

#[test]
fn a_calloop_loop_drives_a_download_from_a_loopback_server() {
    let server = TestServer::standard();
    let manager = NetworkAccessManager::new();
    let n = 3 << 20;
    let body = Rc::new(RefCell::new(Vec::new()));
    let reply = Rc::new(Cell::new(None));
    let ok = run_calloop(|handle, signal| {
        // Started from a calloop callback, outside any slotnet pass.
        let (body, r) = (body.clone(), reply.clone());
        let url = bytes_url(&server, n);
        handle
            .insert_source(CalloopTimer::immediate(), move |_, _, _| {
                let reply = manager.get(NetworkRequest::from_url_str(&url));
                r.set(Some(reply));
                let b = body.clone();
                reply.ready_read().connect(move |_| {
                    while let Some(chunk) = reply.read_chunk() {
                        b.borrow_mut().extend_from_slice(&chunk);
                    }
                });
                let signal = signal.clone();
                reply.finished().connect(move |_| signal.stop());
                TimeoutAction::Drop
            })
            .expect("insert");
    });
    assert!(ok, "the download did not finish within 10 s");
    let reply = reply.get().expect("started");
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(reply.status_code(), Some(200));
    body.borrow_mut().extend_from_slice(&reply.read_all());
    assert!(
        *body.borrow() == pattern(n),
        "the body arrived whole and in order"
    );
}

#[test]
fn a_slotnet_timer_started_from_a_calloop_callback_fires_and_never_early() {
    let fired_after = Rc::new(Cell::new(None));
    let f = fired_after.clone();
    let ok = run_calloop(|handle, signal| {
        handle
            .insert_source(CalloopTimer::immediate(), move |_, _, _| {
                let started = Instant::now();
                let (f, signal) = (f.clone(), signal.clone());
                Timer::single_shot(Duration::from_millis(40), move || {
                    f.set(Some(started.elapsed()));
                    signal.stop();
                });
                TimeoutAction::Drop
            })
            .expect("insert");
    });
    assert!(ok, "the slotnet timer did not fire within 10 s");
    assert!(fired_after.get().expect("fired") >= Duration::from_millis(40));
}

#[test]
fn a_repeating_slotnet_timer_keeps_firing_under_calloop() {
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ok = run_calloop(|_, signal| {
        let timer = Timer::new();
        timer.timeout().connect(move |_| {
            t.set(t.get() + 1);
            if t.get() == 5 {
                signal.stop();
            }
        });
        timer.start_interval(Duration::from_millis(5));
    });
    assert!(ok, "five ticks did not come within 10 s");
    assert_eq!(ticks.get(), 5);
}

thread_local! { static RAN_REMOTE: Cell<bool> = const { Cell::new(false) }; }

#[test]
fn same_thread_and_cross_thread_posts_run_from_calloop() {
    let ran = Rc::new(RefCell::new(Vec::new()));
    let r = ran.clone();
    let ok = run_calloop(|handle, signal| {
        handle
            .insert_source(CalloopTimer::immediate(), move |_, _, _| {
                let (r, signal) = (r.clone(), signal.clone());
                EventLoop::current().post(move || {
                    r.borrow_mut().push("same thread");
                    let handle = EventLoop::current().handle();
                    std::thread::spawn(move || {
                        handle
                            .post(move || {
                                RAN_REMOTE.with(|d| d.set(true));
                                signal.stop();
                            })
                            .expect("loop alive");
                    });
                });
                TimeoutAction::Drop
            })
            .expect("insert");
    });
    assert!(ok, "the posts did not run within 10 s");
    assert_eq!(*ran.borrow(), ["same thread"]);
    assert!(
        RAN_REMOTE.with(|d| d.get()),
        "the cross-thread post ran here"
    );
}

#[test]
fn a_removed_source_no_longer_drives_the_loop() {
    let mut calloop: Calloop<'static, ()> = Calloop::try_new().expect("calloop");
    let token = calloop
        .handle()
        .insert_source(LoopSource::new(), |_, _, _| {})
        .expect("insert");
    calloop.handle().remove(token);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    EventLoop::current().post(move || r.set(true));
    calloop
        .dispatch(Some(Duration::ZERO), &mut ())
        .expect("dispatch");
    assert!(!ran.get(), "a removed source ran a posted call");
    EventLoop::current().process_events(Some(Duration::ZERO));
    assert!(ran.get());
}
