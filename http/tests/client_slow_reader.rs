//! A 1 GiB download read through a 64 KiB reply buffer: memory stays bounded (the reply
//! never holds more than its read buffer and the process never grows anywhere near the
//! body's size) and every byte arrives in order. Alone in its test binary so the process's
//! peak memory belongs to this test.

mod support;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use support::{Next, ScriptedServer};

const SIZE: u64 = 1 << 30;
const READ_BUFFER: usize = 64 * 1024;
/// The body repeats this many bytes of a pattern that is not a power of two long, so a chunk
/// delivered twice, skipped or reordered shows up.
const PERIOD: usize = 65_521;

fn pattern() -> Vec<u8> {
    (0..PERIOD).map(|i| (i % 251) as u8).collect()
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_1_gib_download_read_slowly_keeps_memory_bounded_and_arrives_byte_exact() {
    let server = ScriptedServer::start(|_, s| {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n");
        if s.write_all(head.as_bytes()).is_err() {
            return Next::Close;
        }
        let pattern = pattern();
        let mut sent = 0u64;
        while sent < SIZE {
            let offset = (sent % PERIOD as u64) as usize;
            let n = ((PERIOD - offset) as u64).min(SIZE - sent) as usize;
            if s.write_all(&pattern[offset..offset + n]).is_err() {
                return Next::Close;
            }
            sent += n as u64;
        }
        Next::Close
    });
    let rss_before = peak_rss_kib();
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/1gib")));
    reply.set_read_buffer_size(READ_BUFFER);

    // (bytes received, most bytes the reply ever held, all bytes matched so far)
    let state = Rc::new(RefCell::new((0u64, 0usize, true)));
    let st = state.clone();
    let expected = pattern().repeat(2);
    let buf = RefCell::new(vec![0u8; 48 * 1024]);
    let reader = Timer::new();
    reader.timeout().connect(move |_| {
        let mut s = st.borrow_mut();
        s.1 = s.1.max(reply.bytes_available());
        let mut buf = buf.borrow_mut();
        let n = reply.read(&mut buf);
        let offset = (s.0 % PERIOD as u64) as usize;
        // Slices compare with memcmp: fast even in a debug build.
        if buf[..n] != expected[offset..offset + n] {
            s.2 = false;
        }
        s.0 += n as u64;
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    // Read one 48 KiB piece per loop iteration: slower than the socket fills the buffer.
    reader.start_interval(Duration::ZERO);
    let guard = Timer::new();
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(300));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "finished within the guard time"
    );

    let (received, max_buffered, exact) = *state.borrow();
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(received, SIZE);
    assert!(exact, "bytes arrive in order, unchanged");
    assert!(
        max_buffered <= READ_BUFFER,
        "the reply held {max_buffered} bytes"
    );
    let grown_mib = peak_rss_kib().saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 64,
        "peak memory grew by {grown_mib} MiB for a 1024 MiB body"
    );
}
