//! Helpers shared by the TLS socket tests (tests/ssl_*.rs).
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_net::ssl::{test_certs, SslConfiguration, SslError};
use slotnet_net::{SocketError, SslServer, SslSocket};

/// Runs the loop until a slot quits it; false if `limit` passed first (a hung test fails
/// instead of blocking the suite).
pub fn exec_within(limit: Duration) -> bool {
    let watchdog = Timer::new();
    watchdog.set_single_shot(true);
    watchdog
        .timeout()
        .connect(|_| EventLoop::current().exit(99));
    watchdog.start_interval(limit);
    let code = EventLoop::current().exec();
    watchdog.destroy();
    code == 0
}

/// Runs the loop until the predicate holds (checked after every iteration); false after
/// `limit`.
pub fn run_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let lp = EventLoop::current();
    while !done() {
        if std::time::Instant::now() >= deadline {
            return false;
        }
        lp.process_events(Some(Duration::from_millis(50)));
    }
    true
}

/// The usual time limit of a test's loop.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A shared event log for asserting signal order.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    pub fn contains(&self, entry: &str) -> bool {
        self.0.borrow().iter().any(|e| e == entry)
    }

    pub fn count(&self, entry: &str) -> usize {
        self.0.borrow().iter().filter(|e| *e == entry).count()
    }
}

/// A listening server on 127.0.0.1 with `config`.
pub fn server(config: SslConfiguration) -> SslServer {
    let server = SslServer::new();
    server.set_ssl_configuration(config);
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0), "listen failed");
    server
}

/// Makes `server` echo everything its connections receive, logging server-side events to
/// `log` (`server.pending`, `server.data:<text>`, `server.error:<code>`).
pub fn echo(server: SslServer, log: &Log) {
    let l = log.clone();
    server.pending_connection_available().connect(move |_| {
        while let Some(conn) = server.next_pending_connection() {
            l.push("server.pending");
            let l2 = l.clone();
            conn.ready_read().connect(move |_| {
                let data = conn.read_all();
                l2.push(format!("server.data:{}", String::from_utf8_lossy(&data)));
                conn.write(&data);
            });
        }
    });
    let l = log.clone();
    server.error_occurred().connect(move |(_, e)| {
        l.push(format!("server.error:{}", e.name()));
    });
}

/// A client socket with `config`, logging its signals to `log` as `client.<signal>`.
pub fn logged_client(config: SslConfiguration, log: &Log) -> SslSocket {
    let socket = SslSocket::new();
    socket.set_ssl_configuration(config);
    let l = log.clone();
    socket
        .connected()
        .connect(move |_| l.push("client.connected"));
    let l = log.clone();
    socket
        .encrypted()
        .connect(move |_| l.push("client.encrypted"));
    let l = log.clone();
    socket.ssl_errors().connect(move |errors| {
        l.push(format!(
            "client.ssl_errors:{}",
            SslError::join_names(errors)
        ))
    });
    let l = log.clone();
    socket
        .error_occurred()
        .connect(move |e| l.push(format!("client.error:{}", e.name())));
    let l = log.clone();
    socket
        .disconnected()
        .connect(move |_| l.push("client.disconnected"));
    socket
}

/// The client configuration that trusts the test CA.
pub fn trusting() -> SslConfiguration {
    test_certs::client_configuration()
}

/// Counts emissions.
#[derive(Clone, Default)]
pub struct Counter(Rc<Cell<usize>>);

impl Counter {
    pub fn bump(&self) {
        self.0.set(self.0.get() + 1);
    }
    pub fn get(&self) -> usize {
        self.0.get()
    }
}

/// `SocketError` names, for readable assertions.
pub fn name(e: SocketError) -> &'static str {
    e.name()
}

/// Byte `i` of the test pattern: a 251-byte cycle (prime, so it never lines up with buffer
/// sizes and a lost or repeated chunk shows).
pub fn pattern(start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| ((start + i) % 251) as u8).collect()
}

/// Checks that received chunks continue the pattern.
#[derive(Default)]
pub struct PatternChecker {
    pub offset: u64,
    pub bad: bool,
}

impl PatternChecker {
    pub fn check(&mut self, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            if b != ((self.offset + i as u64) % 251) as u8 {
                self.bad = true;
                break;
            }
        }
        self.offset += data.len() as u64;
    }
}
