//! Helpers shared by the socket integration tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};

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

/// Runs the loop until `limit` has passed (for checking that something does *not* happen).
pub fn run_for(limit: Duration) {
    Timer::single_shot(limit, || EventLoop::current().quit());
    EventLoop::current().exec();
}

/// Quits the loop.
pub fn quit() {
    EventLoop::current().quit();
}

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
}

/// Byte `i` of the test pattern: a 251-byte cycle (prime, so it never lines up with buffer
/// sizes and a lost or repeated chunk shows).
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// `len` bytes of the pattern starting at stream offset `start`.
pub fn pattern(start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern_byte(start + i)).collect()
}

/// Checks a received chunk against the pattern quickly: one reference cycle, compared with
/// slice equality (memcmp) rather than byte by byte.
pub struct PatternChecker {
    reference: Vec<u8>,
    offset: u64,
}

impl Default for PatternChecker {
    fn default() -> Self {
        PatternChecker {
            // Long enough that any chunk of up to 64 KiB fits from any phase.
            reference: pattern(0, 251 + 256 * 1024),
            offset: 0,
        }
    }
}

impl PatternChecker {
    /// Checks `data` as the next bytes of the stream; false on a mismatch.
    pub fn check(&mut self, data: &[u8]) -> bool {
        let mut rest = data;
        while !rest.is_empty() {
            let phase = (self.offset % 251) as usize;
            let n = rest.len().min(self.reference.len() - phase);
            if rest[..n] != self.reference[phase..phase + n] {
                return false;
            }
            self.offset += n as u64;
            rest = &rest[n..];
        }
        true
    }

    /// Bytes checked so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}
