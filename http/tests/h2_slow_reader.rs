//! A 1 GiB HTTP/2 download read through a 64 KiB reply buffer: the stream's flow-control
//! window is granted only as the application reads, so memory stays bounded (the reply
//! never holds more than its read buffer and the process never grows anywhere near the
//! body's size) and every byte arrives in order. Alone in its test binary so the process's
//! peak memory belongs to this test.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use slotnet_http::h2::Http2Configuration;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkRequest};
use slotnet_testkit::h2::H2Server;
use slotnet_testkit::pattern::pattern_byte;
use slotnet_testkit::reply::{assert_bounded_memory_for_1_gib, peak_rss_kib, read_slowly};

const SIZE: u64 = 1 << 30;
const READ_BUFFER: usize = 64 * 1024;
/// The period of the generated body.
const PERIOD: usize = 251;
/// The application's read size.
const PIECE: usize = 48 * 1024;

#[test]
fn a_1_gib_h2_download_read_slowly_keeps_memory_bounded_and_arrives_byte_exact() {
    let server = H2Server::start();
    let rss_before = peak_rss_kib();
    let m = NetworkAccessManager::new();
    let mut request = NetworkRequest::from_url_str(&server.url(&format!("/big/{SIZE}")));
    request.set_attribute(Attribute::Http2Direct, true);
    let reply = m.get(request);
    reply.set_read_buffer_size(READ_BUFFER);

    // What the server managed to send beyond what the application read.
    let worst_lead = Rc::new(Cell::new(0u64));
    let (lead, server_state) = (worst_lead.clone(), server.state.clone());
    // One 48 KiB piece per loop iteration: slower than the connection could deliver.
    let period: Vec<u8> = (0..PERIOD as u64).map(pattern_byte).collect();
    let read = read_slowly(
        reply,
        &period,
        PIECE,
        Duration::from_secs(300),
        move |read| {
            let sent = server_state.sent.load(Ordering::SeqCst);
            lead.set(lead.get().max(sent.saturating_sub(read)));
        },
    );
    read.assert_complete(reply, SIZE, READ_BUFFER);
    let worst_lead = worst_lead.get();
    // Flow control: the server is never more than one stream window (plus the reply's
    // buffer and the piece being read) ahead of the application.
    let window = Http2Configuration::default().stream_receive_window_size() as u64;
    let bound = window + (READ_BUFFER + PIECE) as u64;
    assert!(
        worst_lead <= bound,
        "server got {worst_lead} bytes ahead of the reader (bound {bound})"
    );
    assert_bounded_memory_for_1_gib(rss_before);
}
