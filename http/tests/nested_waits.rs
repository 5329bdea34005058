//! The guide's wait-for-a-reply helper ("Coming from reqwest"): called from `main` it leaves
//! no object behind; nested inside each other (a slot run during one wait waits too), each
//! returns only when its own reply is done, in either order, with real replies from a
//! loopback server.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use slotnet_core::{EventLoop, LocalLoop, Timer};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};

/// The guide's `get_text`, as printed there.
fn get_text(manager: &NetworkAccessManager, url: &str) -> Result<String, NetworkError> {
    let reply = manager.get(NetworkRequest::from_url_str(url));
    let wait = LocalLoop::new();
    let w = wait.clone();
    reply.finished().connect(move |_| w.quit());
    wait.exec();
    let result = match reply.error() {
        NetworkError::NoError => Ok(String::from_utf8_lossy(&reply.read_all()).into_owned()),
        error => Err(error),
    };
    reply.delete_later();
    result
}

#[test]
fn get_text_called_fifty_times_from_main_leaves_no_reply_alive() {
    let lp = EventLoop::current();
    let manager = NetworkAccessManager::new();
    let start = lp.object_count();
    for i in 0..50 {
        let text = get_text(&manager, &format!("data:,call%20{i}")).unwrap();
        assert_eq!(text, format!("call {i}"));
    }
    // Every exec() carried out the previous call's delete_later(); the last one waits for the
    // loop to run once more, as in Qt.
    assert!(
        lp.object_count() <= start + 1,
        "{} objects left behind",
        lp.object_count() - start
    );
    lp.process_events(Some(Duration::ZERO));
    assert_eq!(lp.object_count(), start);
}

/// A loopback server that answers `/name` with "body of name" once the test releases `name`.
struct GatedServer {
    server: ScriptedServer,
    gate: Arc<(Mutex<HashSet<String>>, Condvar)>,
}

impl GatedServer {
    fn start() -> GatedServer {
        let gate: Arc<(Mutex<HashSet<String>>, Condvar)> = Arc::default();
        let g = gate.clone();
        let server = ScriptedServer::start(move |req, stream| {
            let name = req.target.trim_start_matches('/').to_owned();
            let (released, cv) = &*g;
            let guard = released.lock().unwrap();
            // A hang guard only: the test releases every name it requests.
            let (_guard, _) = cv
                .wait_timeout_while(guard, Duration::from_secs(20), |r| !r.contains(&name))
                .unwrap();
            respond(stream, "200 OK", &[], format!("body of {name}").as_bytes());
            Next::KeepAlive
        });
        GatedServer { server, gate }
    }

    fn release(&self, name: &str) {
        let (released, cv) = &*self.gate;
        released.lock().unwrap().insert(name.to_owned());
        cv.notify_all();
    }

    fn url(&self, name: &str) -> String {
        self.server.url(&format!("/{name}"))
    }
}

#[test]
fn inner_wait_keeps_waiting_when_the_outer_reply_finishes_first() {
    let server = Arc::new(GatedServer::start());
    let manager = NetworkAccessManager::new();
    // The outer reply finishing releases the inner one, so the inner is always later.
    let s = server.clone();
    manager.finished().connect(move |reply| {
        if reply.url().is_some_and(|u| u.path() == "/outer") {
            s.release("inner");
        }
    });
    let (s, m) = (server.clone(), manager);
    let inner_result = Rc::new(RefCell::new(None));
    let r = inner_result.clone();
    // Runs inside the outer wait.
    Timer::single_shot(Duration::from_millis(1), move || {
        s.release("outer");
        let text = get_text(&m, &s.url("inner"));
        *r.borrow_mut() = Some(text);
    });
    let outer = get_text(&manager, &server.url("outer"));
    assert_eq!(outer, Ok("body of outer".to_owned()));
    assert_eq!(
        *inner_result.borrow(),
        Some(Ok("body of inner".to_owned())),
        "the inner wait returned before its own reply was done"
    );
}

#[test]
fn outer_wait_keeps_waiting_when_the_inner_reply_finishes_first() {
    let server = Arc::new(GatedServer::start());
    let manager = NetworkAccessManager::new();
    let (s, m) = (server.clone(), manager);
    let inner_result = Rc::new(RefCell::new(None));
    let r = inner_result.clone();
    Timer::single_shot(Duration::from_millis(1), move || {
        s.release("inner");
        let text = get_text(&m, &s.url("inner"));
        *r.borrow_mut() = Some(text);
        // The outer reply is answered only now that the inner wait has returned.
        s.release("outer");
    });
    let outer = get_text(&manager, &server.url("outer"));
    assert_eq!(*inner_result.borrow(), Some(Ok("body of inner".to_owned())));
    assert_eq!(
        outer,
        Ok("body of outer".to_owned()),
        "the outer wait returned before its own reply was done"
    );
}
