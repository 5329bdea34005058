//! A 1 GiB HTTP/2 download read through a 64 KiB reply buffer: the stream's flow-control
//! window is granted only as the application reads, so memory stays bounded (the reply
//! never holds more than its read buffer and the process never grows anywhere near the
//! body's size) and every byte arrives in order. Alone in its test binary so the process's
//! peak memory belongs to this test.

mod h2_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use h2_support::{pattern, H2Server};
use slotnet_core::{EventLoop, Timer};
use slotnet_http::h2::Http2Configuration;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkRequest};

const SIZE: u64 = 1 << 30;
const READ_BUFFER: usize = 64 * 1024;
/// The period of the generated body.
const PERIOD: usize = 251;

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
fn a_1_gib_h2_download_read_slowly_keeps_memory_bounded_and_arrives_byte_exact() {
    let server = H2Server::start();
    let rss_before = peak_rss_kib();
    let m = NetworkAccessManager::new();
    let mut request = NetworkRequest::from_url_str(&server.url(&format!("/big/{SIZE}")));
    request.set_attribute(Attribute::Http2Direct, true);
    let reply = m.get(request);
    reply.set_read_buffer_size(READ_BUFFER);

    // (bytes received, most bytes the reply ever held, all bytes matched so far,
    //  most bytes the server got ahead of the application)
    let state = Rc::new(RefCell::new((0u64, 0usize, true, 0u64)));
    let st = state.clone();
    let server_state = server.state.clone();
    const PIECE: usize = 48 * 1024;
    let expected: Vec<u8> = (0..(PIECE + PERIOD) as u64).map(pattern).collect();
    let buf = RefCell::new(vec![0u8; PIECE]);
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
        let sent = server_state.sent.load(Ordering::SeqCst);
        s.3 = s.3.max(sent.saturating_sub(s.0));
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    // Read one 48 KiB piece per loop iteration: slower than the connection could deliver.
    reader.start_interval(Duration::ZERO);
    let guard = Timer::new();
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(300));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "finished within the guard time"
    );

    let (received, max_buffered, exact, worst_lead) = *state.borrow();
    assert_eq!(
        reply.error(),
        NetworkError::NoError,
        "{}",
        reply.error_string()
    );
    assert_eq!(received, SIZE);
    assert!(exact, "bytes arrive in order, unchanged");
    assert!(
        max_buffered <= READ_BUFFER,
        "the reply held {max_buffered} bytes"
    );
    // Flow control: the server is never more than one stream window (plus the reply's
    // buffer and the piece being read) ahead of the application.
    let window = Http2Configuration::default().stream_receive_window_size() as u64;
    let bound = window + (READ_BUFFER + PIECE) as u64;
    assert!(
        worst_lead <= bound,
        "server got {worst_lead} bytes ahead of the reader (bound {bound})"
    );
    let grown_mib = peak_rss_kib().saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 64,
        "peak memory grew by {grown_mib} MiB for a 1024 MiB body"
    );
}
