//! A 1 GiB download read through a 64 KiB reply buffer: memory stays bounded (the reply
//! never holds more than its read buffer and the process never grows anywhere near the
//! body's size) and every byte arrives in order. Alone in its test binary so the process's
//! peak memory belongs to this test.

use std::io::Write;
use std::time::Duration;

use slotnet_http::{NetworkAccessManager, NetworkRequest};
use slotnet_testkit::h1::{Next, ScriptedServer};
use slotnet_testkit::reply::{assert_bounded_memory_for_1_gib, peak_rss_kib, read_slowly};

const SIZE: u64 = 1 << 30;
const READ_BUFFER: usize = 64 * 1024;
/// The body repeats this many bytes of a pattern that is not a power of two long, so a chunk
/// delivered twice, skipped or reordered shows up.
const PERIOD: usize = 65_521;

fn pattern() -> Vec<u8> {
    (0..PERIOD).map(|i| (i % 251) as u8).collect()
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

    // One 48 KiB piece per loop iteration: slower than the socket fills the buffer.
    let read = read_slowly(
        reply,
        &pattern(),
        48 * 1024,
        Duration::from_secs(300),
        |_| {},
    );
    read.assert_complete(reply, SIZE, READ_BUFFER);
    assert_bounded_memory_for_1_gib(rss_before);
}
