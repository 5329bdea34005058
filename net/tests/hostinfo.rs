//! HostInfo lookups: asynchronous delivery, abort, the worker path.

mod common;

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use common::{exec_within, quit};
use slotnet_core::{EventLoop, Object};
use slotnet_net::{HostInfo, HostInfoError};

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn literals_are_answered_on_a_later_iteration() {
    let answer = Rc::new(RefCell::new(None));
    let a = answer.clone();
    let id = HostInfo::lookup_host("[::1]", move |info| {
        *a.borrow_mut() = Some(info.clone());
        quit();
    });
    assert!(
        answer.borrow().is_none(),
        "never answered from inside lookup_host"
    );
    assert!(exec_within(LIMIT));
    let info = answer.borrow().clone().unwrap();
    assert_eq!(info.error(), HostInfoError::NoError);
    assert_eq!(info.addresses(), &["::1".parse::<IpAddr>().unwrap()]);
    assert_eq!(info.lookup_id(), Some(id));
    assert_eq!(info.host_name(), "[::1]");
}

#[test]
fn aborted_lookups_never_call_back() {
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    let id = HostInfo::lookup_host("localhost", move |_| c.set(true));
    HostInfo::abort_host_lookup(id);
    // The answer was posted before this quit, so it has been handled by the time we stop.
    EventLoop::current().post(quit);
    assert!(exec_within(LIMIT));
    assert!(!called.get());
    assert_eq!(HostInfo::pending_lookups(), 0);
}

#[test]
fn lookups_with_a_destroyed_context_are_dropped() {
    let context = Object::new();
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    HostInfo::lookup_host_with("127.0.0.1", &context, move |_| c.set(true));
    context.destroy();
    EventLoop::current().post(quit);
    assert!(exec_within(LIMIT));
    assert!(!called.get());
}

#[test]
fn reserved_invalid_domain_is_not_found() {
    let error = Rc::new(Cell::new(HostInfoError::NoError));
    let e = error.clone();
    HostInfo::lookup_host("something.invalid", move |info| {
        e.set(info.error());
        assert!(info.addresses().is_empty());
        quit();
    });
    assert!(exec_within(LIMIT));
    assert_eq!(error.get(), HostInfoError::HostNotFound);
}

#[test]
fn resolver_path_runs_on_a_worker_and_is_cached() {
    // "127.1" is not a Rust IP literal, so it goes to the system resolver (getaddrinfo
    // accepts the inet_aton short form without any network access).
    HostInfo::clear_cache();
    let loop_thread = std::thread::current().id();
    let answer = Rc::new(RefCell::new(None));
    let a = answer.clone();
    HostInfo::lookup_host("127.1", move |info| {
        assert_eq!(std::thread::current().id(), loop_thread);
        *a.borrow_mut() = Some(info.clone());
        quit();
    });
    assert!(exec_within(LIMIT));
    let info = answer.borrow().clone().unwrap();
    assert_eq!(
        info.error(),
        HostInfoError::NoError,
        "{}",
        info.error_string()
    );
    assert_eq!(info.addresses(), &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    // The blocking form agrees (and is served from the cache now).
    assert_eq!(HostInfo::from_name("127.1").addresses(), info.addresses());
}
