//! slotnet driven by glib's main loop alone (no display needed): the GUI's integration
//! (slotnet-glib's `LoopSource` on the default context), minus the widgets. Downloads run
//! against the paced local server over loopback; nothing wakes the source by hand.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gtk::glib;
use slotnet_glib::LoopSource;
use slotnet_gui::slow_server::{SlowServer, MAX_BODY};
use slotnet_http::core::{AsObject, Timer};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};

/// glib's default main context belongs to one thread at a time: the tests take turns.
static DEFAULT_CONTEXT: Mutex<()> = Mutex::new(());

/// Runs glib's main loop until `done` is called or 10 s pass; returns false on the timeout.
fn run_glib(start: impl FnOnce(Rc<dyn Fn()>)) -> bool {
    let main_loop = glib::MainLoop::new(None, false);
    let finished = Rc::new(Cell::new(false));
    let (l, f) = (main_loop.clone(), finished.clone());
    start(Rc::new(move || {
        f.set(true);
        l.quit();
    }));
    let l = main_loop.clone();
    let guard = glib::timeout_add_local_once(Duration::from_secs(10), move || l.quit());
    main_loop.run();
    if finished.get() {
        guard.remove();
    }
    finished.get()
}

#[test]
fn a_paced_download_reports_progress_up_to_its_total() {
    let _turn = DEFAULT_CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let server = SlowServer::start(Duration::from_millis(300)).expect("server");
    let _source = LoopSource::attach(&glib::MainContext::default());
    let manager = NetworkAccessManager::new();
    let progress = Rc::new(RefCell::new(Vec::new()));
    let received = Rc::new(Cell::new(0usize));
    let n = 200_000u64;

    let reply = manager.get(NetworkRequest::from_url_str(&server.bytes_url(n)));
    let ok = run_glib(|done| {
        let p = progress.clone();
        reply
            .download_progress()
            .connect(move |&pair| p.borrow_mut().push(pair));
        let r = received.clone();
        reply.ready_read().connect(move |_| {
            while let Some(chunk) = reply.read_chunk() {
                r.set(r.get() + chunk.len());
            }
        });
        reply.finished().connect(move |_| done());
    });

    assert!(ok, "the download did not finish within 10 s");
    assert_eq!(reply.error(), NetworkError::NoError);
    received.set(received.get() + reply.read_all().len());
    assert_eq!(received.get() as u64, n);
    let progress = progress.borrow();
    assert!(
        progress.len() >= 2,
        "a body paced over 80 writes gives several progress reports: {progress:?}"
    );
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(progress.iter().all(|&(_, total)| total == n as i64));
    assert_eq!(progress.last(), Some(&(n as i64, n as i64)));
    server.stop();
}

#[test]
fn abort_from_a_glib_callback_cancels_and_the_reply_is_deleted() {
    let _turn = DEFAULT_CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let server = SlowServer::start(Duration::from_secs(5)).expect("server");
    let _source = LoopSource::attach(&glib::MainContext::default());
    let manager = NetworkAccessManager::new();
    let errors = Rc::new(RefCell::new(Vec::new()));
    let received_at_abort = Rc::new(Cell::new(-1i64));

    let reply = manager.get(NetworkRequest::from_url_str(&server.bytes_url(1_000_000)));
    let ok = run_glib(|done| {
        // What a Cancel button does: abort from a glib callback, outside any slotnet pass.
        let at = received_at_abort.clone();
        reply.download_progress().connect(move |&(got, _)| {
            if at.get() < 0 {
                at.set(got);
                glib::idle_add_local_once(move || reply.abort());
            }
        });
        let e = errors.clone();
        reply
            .error_occurred()
            .connect(move |&error| e.borrow_mut().push(error));
        reply.finished().connect(move |_| reply.delete_later());
        // Deleted by the loop after abort returned: only reached if the source woke up for
        // the deferred delete.
        reply.as_object().destroyed().connect(move |_| done());
    });

    assert!(ok, "the aborted reply was not deleted within 10 s");
    assert_eq!(*errors.borrow(), [NetworkError::OperationCanceledError]);
    assert!(received_at_abort.get() < 1_000_000, "aborted mid-transfer");
    server.stop();
}

#[test]
fn slotnet_timers_fire_from_glib_and_never_early() {
    let _turn = DEFAULT_CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let _source = LoopSource::attach(&glib::MainContext::default());
    let started = Instant::now();
    let fired_after = Rc::new(Cell::new(None));
    let ok = run_glib(|done| {
        let f = fired_after.clone();
        Timer::single_shot(Duration::from_millis(40), move || {
            f.set(Some(started.elapsed()));
            done();
        });
    });
    assert!(ok, "the slotnet timer did not fire within 10 s");
    assert!(fired_after.get().expect("fired") >= Duration::from_millis(40));
}

#[test]
fn oversized_bodies_are_refused() {
    let _turn = DEFAULT_CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let server = SlowServer::start(Duration::from_millis(100)).expect("server");
    let _source = LoopSource::attach(&glib::MainContext::default());
    let manager = NetworkAccessManager::new();
    let reply = manager.get(NetworkRequest::from_url_str(
        &server.bytes_url(MAX_BODY + 1),
    ));
    let ok = run_glib(|done| {
        reply.finished().connect(move |_| done());
    });
    assert!(ok, "no answer within 10 s");
    assert_eq!(reply.status_code(), Some(413));
    assert_ne!(reply.error(), NetworkError::NoError);
    server.stop();
}
