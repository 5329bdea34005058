//! Driving a [`NetworkReply`] of the access manager from a test: run it to the end with a
//! trace of every signal, wait for several, read one slowly, and bound the memory a large
//! transfer may take.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::event_loop::{exec_within, LIMIT};
use slotnet_core::{EventLoop, Timer};
use slotnet_http::trace::SignalTrace;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkReply};

/// Asserts that `reply` ended without an error, showing its error string if it did not.
#[track_caller]
pub fn assert_no_error(reply: NetworkReply) {
    assert_eq!(
        reply.error(),
        NetworkError::NoError,
        "{}",
        reply.error_string()
    );
}

/// Runs the loop until `reply` finishes (at most 20 s), tracing every signal; returns the
/// trace lines and the body read in `finished`.
pub fn run_traced(manager: &NetworkAccessManager, reply: NetworkReply) -> (Vec<String>, Vec<u8>) {
    run_with_trace(manager, reply, SignalTrace::new())
}

/// `run_traced`, with the manager's authentication signals in the trace as
/// `slotnet-fetch --trace` prints them (`manager.authenticationRequired(REALM)`).
pub fn run_traced_auth(
    manager: &NetworkAccessManager,
    reply: NetworkReply,
) -> (Vec<String>, Vec<u8>) {
    let trace = SignalTrace::new();
    let t = trace.clone();
    manager.authentication_required().connect(move |(r, auth)| {
        if *r == reply {
            t.push(format!(
                "manager.authenticationRequired({})",
                auth.borrow().realm()
            ));
        }
    });
    let t = trace.clone();
    manager
        .proxy_authentication_required()
        .connect(move |(_proxy, auth)| {
            t.push(format!(
                "manager.proxyAuthenticationRequired({})",
                auth.borrow().realm()
            ));
        });
    run_with_trace(manager, reply, trace)
}

fn run_with_trace(
    manager: &NetworkAccessManager,
    reply: NetworkReply,
    trace: SignalTrace,
) -> (Vec<String>, Vec<u8>) {
    trace.watch_manager(manager, reply);
    trace.watch_reply(reply);
    let body = Rc::new(RefCell::new(Vec::new()));
    let b = body.clone();
    reply
        .ready_read()
        .connect(move |_| b.borrow_mut().extend(reply.read_all()));
    let b = body.clone();
    reply.finished().connect(move |_| {
        b.borrow_mut().extend(reply.read_all());
        EventLoop::current().quit();
    });
    assert!(exec_within(LIMIT), "reply did not finish in time");
    let body = body.borrow().clone();
    (trace.lines(), body)
}

/// Runs the loop until every reply finished.
pub fn run_all(replies: &[NetworkReply]) {
    let left = Rc::new(std::cell::Cell::new(replies.len()));
    for r in replies {
        let left = left.clone();
        r.finished().connect(move |_| {
            left.set(left.get() - 1);
            if left.get() == 0 {
                EventLoop::current().quit();
            }
        });
    }
    assert!(exec_within(LIMIT), "replies did not finish in time");
}

/// The process's peak resident memory (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What [`read_slowly`] saw.
#[derive(Clone, Copy, Debug)]
pub struct SlowRead {
    /// Bytes read.
    pub received: u64,
    /// The most bytes the reply ever held.
    pub max_buffered: usize,
    /// Every byte matched the expected pattern, in order.
    pub exact: bool,
}

impl SlowRead {
    /// Asserts that `reply` ended without error after delivering `size` bytes, in order and
    /// unchanged, and never held more than `read_buffer` of them.
    pub fn assert_complete(&self, reply: NetworkReply, size: u64, read_buffer: usize) {
        assert_eq!(
            reply.error(),
            slotnet_http::NetworkError::NoError,
            "{}",
            reply.error_string()
        );
        assert_eq!(self.received, size);
        assert!(self.exact, "bytes arrive in order, unchanged");
        assert!(
            self.max_buffered <= read_buffer,
            "the reply held {} bytes",
            self.max_buffered
        );
    }
}

/// Asserts that the process's peak memory grew by less than 64 MiB since `before_kib` (a
/// [`peak_rss_kib`] reading) while a 1 GiB body went through it.
pub fn assert_bounded_memory_for_1_gib(before_kib: u64) {
    let grown_mib = peak_rss_kib().saturating_sub(before_kib) / 1024;
    assert!(
        grown_mib < 64,
        "peak memory grew by {grown_mib} MiB for a 1024 MiB body"
    );
}

/// Reads `reply` one `piece`-sized read per loop iteration (slower than a loopback
/// connection fills it) until it has finished and been emptied, checking the bytes against
/// `period` repeated; `after_piece` gets the total read so far after each read. Fails the
/// test if that takes longer than `guard`.
pub fn read_slowly(
    reply: NetworkReply,
    period: &[u8],
    piece: usize,
    guard: Duration,
    after_piece: impl Fn(u64) + 'static,
) -> SlowRead {
    let state = Rc::new(RefCell::new(SlowRead {
        received: 0,
        max_buffered: 0,
        exact: true,
    }));
    let st = state.clone();
    // Enough of the pattern to compare a piece starting anywhere in a period.
    let expected = period.repeat(piece / period.len() + 2);
    let period_len = period.len() as u64;
    let buf = RefCell::new(vec![0u8; piece]);
    let reader = Timer::new();
    reader.timeout().connect(move |_| {
        let mut s = st.borrow_mut();
        s.max_buffered = s.max_buffered.max(reply.bytes_available());
        let mut buf = buf.borrow_mut();
        let n = reply.read(&mut buf);
        let offset = (s.received % period_len) as usize;
        // Slices compare with memcmp: fast even in a debug build.
        if buf[..n] != expected[offset..offset + n] {
            s.exact = false;
        }
        s.received += n as u64;
        after_piece(s.received);
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    reader.start_interval(Duration::ZERO);
    let timer = Timer::new();
    timer.timeout().connect(|_| EventLoop::current().exit(1));
    timer.start_interval(guard);
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "finished within the guard time"
    );
    reader.destroy();
    timer.destroy();
    let result = *state.borrow();
    result
}
