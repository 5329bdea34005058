//! A GLib main loop (no display, no GTK) drives slotnet through `LoopSource`: a real download
//! from a loopback server (the testkit's), timers and posts made from GLib callbacks, cross-thread posts.
//! Nothing here calls slotnet's `exec` or `process_events`, and nothing "kicks" the source.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use glib::{MainContext, MainLoop};
use slotnet_glib::LoopSource;
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

/// `glib::idle_add_local*` and `timeout_add_local*` (what a GTK program calls) attach to
/// GLib's global default context, which one thread at a time may run: the tests take turns.
static DEFAULT_CONTEXT: Mutex<()> = Mutex::new(());

/// Runs a GLib main loop on the default context with this thread's slotnet loop attached,
/// until `start`'s loop is quit or 10 s pass (a hang guard); returns whether it was quit.
fn run_glib(start: impl FnOnce(&MainLoop)) -> bool {
    let _turn = DEFAULT_CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let context = MainContext::default();
    let _slotnet = LoopSource::attach(&context);
    let main_loop = MainLoop::new(Some(&context), false);
    let timed_out = Rc::new(Cell::new(false));
    let (l, t) = (main_loop.clone(), timed_out.clone());
    let guard = glib::timeout_add_local_once(Duration::from_secs(10), move || {
        t.set(true);
        l.quit();
    });
    start(&main_loop);
    main_loop.run();
    if !timed_out.get() {
        guard.remove();
    }
    !timed_out.get()
}

#[test]
fn a_glib_main_loop_drives_a_download_from_a_loopback_server() {
    let server = TestServer::standard();
    let manager = NetworkAccessManager::new();
    let n = 3 << 20;
    let body = Rc::new(RefCell::new(Vec::new()));
    let reply = Rc::new(Cell::new(None));
    let ok = run_glib(|main_loop| {
        // Started from a GLib callback, as a GTK button handler would.
        let (main_loop, body, r) = (main_loop.clone(), body.clone(), reply.clone());
        let url = bytes_url(&server, n);
        glib::idle_add_local_once(move || {
            let reply = manager.get(NetworkRequest::from_url_str(&url));
            r.set(Some(reply));
            let b = body.clone();
            reply.ready_read().connect(move |_| {
                while let Some(chunk) = reply.read_chunk() {
                    b.borrow_mut().extend_from_slice(&chunk);
                }
            });
            reply.finished().connect(move |_| main_loop.quit());
        });
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
fn a_slotnet_timer_started_from_a_glib_callback_fires_and_never_early() {
    let fired_after = Rc::new(Cell::new(None));
    let ok = run_glib(|main_loop| {
        let (main_loop, f) = (main_loop.clone(), fired_after.clone());
        glib::idle_add_local_once(move || {
            let started = Instant::now();
            Timer::single_shot(Duration::from_millis(40), move || {
                f.set(Some(started.elapsed()));
                main_loop.quit();
            });
        });
    });
    assert!(ok, "the slotnet timer did not fire within 10 s");
    assert!(fired_after.get().expect("fired") >= Duration::from_millis(40));
}

#[test]
fn a_repeating_slotnet_timer_keeps_firing_under_glib() {
    let ticks = Rc::new(Cell::new(0));
    let ok = run_glib(|main_loop| {
        let timer = Timer::new();
        let (main_loop, t) = (main_loop.clone(), ticks.clone());
        timer.timeout().connect(move |_| {
            t.set(t.get() + 1);
            if t.get() == 5 {
                main_loop.quit();
            }
        });
        timer.start_interval(Duration::from_millis(5));
    });
    assert!(ok, "five ticks did not come within 10 s");
    assert_eq!(ticks.get(), 5);
}

#[test]
fn same_thread_and_cross_thread_posts_run_from_glib() {
    let ran = Rc::new(RefCell::new(Vec::new()));
    let ok = run_glib(|main_loop| {
        let (main_loop, r) = (main_loop.clone(), ran.clone());
        glib::idle_add_local_once(move || {
            EventLoop::current().post(move || {
                r.borrow_mut().push("same thread");
                let handle = EventLoop::current().handle();
                std::thread::spawn(move || {
                    handle
                        .post(move || {
                            RAN_REMOTE.with(|d| d.set(true));
                            main_loop.quit();
                        })
                        .expect("loop alive");
                });
            });
        });
    });
    assert!(ok, "the posts did not run within 10 s");
    assert_eq!(*ran.borrow(), ["same thread"]);
    assert!(
        RAN_REMOTE.with(|d| d.get()),
        "the cross-thread post ran here"
    );
}

thread_local! { static RAN_REMOTE: Cell<bool> = const { Cell::new(false) }; }

#[test]
fn a_dropped_source_no_longer_drives_the_loop() {
    let context = MainContext::new();
    let source = LoopSource::attach(&context);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    EventLoop::current().post(move || r.set(true));
    drop(source);
    while context.iteration(false) {}
    assert!(!ran.get(), "a detached loop ran a posted call");
    EventLoop::current().process_events(Some(Duration::ZERO));
    assert!(ran.get());
}
