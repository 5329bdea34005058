//! A capturing [`log`](::log) logger, for tests that check what slotnet logs.
//!
//! `log` has one logger per process, so a test binary that checks logs installs this one
//! ([`capture`]) and its tests read back the records their own thread emitted
//! ([`Captured::this_thread`]): tests of one binary run on parallel threads, and slotnet logs
//! on the thread whose loop does the work (a server on its own thread logs there).

use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

/// One captured log record.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record's level.
    pub level: ::log::Level,
    /// Its target (`slotnet::network::ssl`, ...).
    pub target: String,
    /// The formatted message.
    pub message: String,
    thread: ThreadId,
}

/// The records captured so far, process-wide.
pub struct Captured {
    records: Mutex<Vec<Record>>,
}

impl ::log::Log for Captured {
    fn enabled(&self, _: &::log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &::log::Record<'_>) {
        let record = Record {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
            thread: std::thread::current().id(),
        };
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    fn flush(&self) {}
}

impl Captured {
    /// The records emitted on the calling thread so far, in order.
    pub fn this_thread(&self) -> Vec<Record> {
        let me = std::thread::current().id();
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.thread == me)
            .cloned()
            .collect()
    }

    /// The calling thread's records as `target: message` lines (for assertion messages).
    pub fn this_thread_text(&self) -> String {
        self.this_thread()
            .iter()
            .map(|r| format!("{} {}: {}\n", r.level, r.target, r.message))
            .collect()
    }
}

static CAPTURED: OnceLock<&'static Captured> = OnceLock::new();

/// Installs the capturing logger (once per process, every level enabled) and returns it.
/// Panics if another logger was installed first.
pub fn capture() -> &'static Captured {
    CAPTURED.get_or_init(|| {
        let captured: &'static Captured = Box::leak(Box::new(Captured {
            records: Mutex::new(Vec::new()),
        }));
        ::log::set_logger(captured).expect("no other logger in this test binary");
        ::log::set_max_level(::log::LevelFilter::Trace);
        captured
    })
}
