//! HostInfo lookups: asynchronous delivery, abort, the worker path.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Object};
use slotnet_net::{HostInfo, HostInfoError};
use slotnet_testkit::{exec_within, quit};

const LIMIT: Duration = Duration::from_secs(10);

/// Runs one asynchronous lookup to its answer.
fn lookup(name: &str) -> (HostInfo, slotnet_net::LookupId) {
    let answer = Rc::new(RefCell::new(None));
    let a = answer.clone();
    let id = HostInfo::lookup_host(name, move |info| {
        *a.borrow_mut() = Some(info.clone());
        quit();
    });
    assert!(
        answer.borrow().is_none(),
        "never answered from inside lookup_host"
    );
    assert!(exec_within(LIMIT));
    let info = answer.borrow().clone().unwrap();
    (info, id)
}

#[test]
fn ip_literals_get_a_reverse_lookup_as_in_qt() {
    let (info, id) = lookup("127.0.0.1");
    assert_eq!(info.error(), HostInfoError::NoError);
    assert_eq!(info.addresses(), &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert_eq!(info.lookup_id(), Some(id));
    // /etc/hosts maps 127.0.0.1 to localhost (Qt gives the same).
    assert_eq!(info.host_name(), "localhost");
    assert_eq!(HostInfo::from_name("127.0.0.1").host_name(), "localhost");
    // An address without a name keeps its literal.
    let (unnamed, _) = lookup("192.0.2.77");
    assert_eq!(unnamed.error(), HostInfoError::NoError);
    assert_eq!(
        unnamed.addresses(),
        &["192.0.2.77".parse::<IpAddr>().unwrap()]
    );
    assert!(!unnamed.host_name().is_empty());
}

#[test]
fn names_qt_rejects_are_invalid_hostnames() {
    for name in [" localhost ", "[::1]", "exa mple.com"] {
        let (info, _) = lookup(name);
        assert_eq!(info.error(), HostInfoError::HostNotFound, "{name:?}");
        assert_eq!(info.error_string(), "Invalid hostname", "{name:?}");
        assert!(info.addresses().is_empty());
        assert_eq!(info.host_name(), name);
    }
    let (empty, _) = lookup("");
    assert_eq!(empty.error_string(), "No host name given");
    let blocking = HostInfo::from_name("[::1]");
    assert_eq!(blocking.error_string(), "Invalid hostname");
}

#[test]
fn localhost_is_asked_of_the_resolver() {
    let (info, _) = lookup("localhost");
    assert_eq!(
        info.error(),
        HostInfoError::NoError,
        "{}",
        info.error_string()
    );
    // What the system says, not a built-in pair: getaddrinfo's own answer.
    let system: Vec<IpAddr> = {
        use std::net::ToSocketAddrs;
        let mut v: Vec<IpAddr> = Vec::new();
        for a in ("localhost", 0).to_socket_addrs().unwrap() {
            if !v.contains(&a.ip()) {
                v.push(a.ip());
            }
        }
        v
    };
    for ip in info.addresses() {
        assert!(
            system.contains(ip),
            "{ip} not from the resolver ({system:?})"
        );
    }
    assert!(info.addresses().contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
}

#[test]
fn resolver_errors_use_qt_texts() {
    // The reserved .test domain never resolves.
    let (info, _) = lookup("no-such-host.slotnet.test");
    assert_ne!(info.error(), HostInfoError::NoError);
    if info.error() == HostInfoError::HostNotFound {
        assert_eq!(info.error_string(), "Host not found");
    } else {
        // No DNS at all: the resolver's text, as Qt shows gai_strerror's.
        assert!(
            !info
                .error_string()
                .contains("failed to lookup address information"),
            "{}",
            info.error_string()
        );
    }
}

#[test]
fn local_host_and_domain_names() {
    let host = HostInfo::local_host_name();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host, kernel.trim());
    let domain = HostInfo::local_domain_name();
    assert!(!domain.starts_with('.') && !domain.contains(char::is_whitespace));
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
    HostInfo::clear_cache();
    let loop_thread = std::thread::current().id();
    let answer = Rc::new(RefCell::new(None));
    let a = answer.clone();
    HostInfo::lookup_host("localhost", move |info| {
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
    assert!(info.addresses().contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
    // The blocking form agrees (and is served from the cache now).
    assert_eq!(
        HostInfo::from_name("localhost").addresses(),
        info.addresses()
    );
    // Short IPv4 forms are literals, as in Qt.
    assert_eq!(
        HostInfo::from_name("127.1").addresses(),
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
}
