//! Support for the legacy `Http` (QHttp) tests: a shared in-memory device, the signals in
//! Qt's notation, and a loop runner. The server side is the scripted HTTP/1.1 server of
//! [`crate::h1`].

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::legacy::{trace_signals, Http};

/// A `Write` device whose bytes the test can look at afterwards.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records every signal of `http` in Qt's notation.
pub fn record(http: &Http) -> Rc<RefCell<Vec<String>>> {
    let lines = Rc::new(RefCell::new(Vec::new()));
    let l = lines.clone();
    trace_signals(http, move |line| l.borrow_mut().push(line));
    lines
}

/// Runs the loop until `done` is emitted `times` times (at most 10 s).
pub fn run_until_done(http: &Http, times: usize) {
    let left = Rc::new(std::cell::Cell::new(times));
    let l = left.clone();
    let conn = http.done().connect(move |_| {
        l.set(l.get() - 1);
        if l.get() == 0 {
            EventLoop::current().quit();
        }
    });
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(10));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "done was not emitted in time"
    );
    guard.destroy();
    conn.disconnect();
}

/// The trace with each run of `dataReadProgress`/`readyRead` lines (whose number depends
/// on how the bytes were chunked) replaced by one `<body>` line, and consecutive
/// `dataSendProgress` lines by the last one.
pub fn normalized(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let body = line.starts_with("dataReadProgress(") || line == "readyRead()";
        if body {
            if out.last().map(String::as_str) != Some("<body>") {
                out.push("<body>".to_owned());
            }
        } else if line.starts_with("dataSendProgress(")
            && out
                .last()
                .is_some_and(|l| l.starts_with("dataSendProgress("))
        {
            *out.last_mut().unwrap() = line.clone();
        } else {
            out.push(line.clone());
        }
    }
    out
}
