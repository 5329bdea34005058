//! The guide's wait-for-a-reply helpers ("Coming from reqwest"): called from `main` they leave
//! no object behind; nested inside each other, each returns only when its own reply is done.

use slotnet_core::EventLoop;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};

/// The guide's `get_text`, as printed there.
fn get_text(manager: &NetworkAccessManager, url: &str) -> Result<String, NetworkError> {
    let reply = manager.get(NetworkRequest::from_url_str(url));
    reply.finished().connect(|_| EventLoop::current().quit());
    EventLoop::current().exec();
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
    lp.process_events(Some(std::time::Duration::ZERO));
    assert_eq!(lp.object_count(), start);
}
