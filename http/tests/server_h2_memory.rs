//! A client that opens 100 HTTP/2 streams with huge windows and never reads (issue 16): the
//! server's memory for that connection stays bounded, whatever the handlers would answer.
//! Alone in its test binary, so the process's resident memory is this test's.

use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use slotnet_http::server::{HttpServerConfiguration, HttpServerRequest, HttpServerResponder};
use slotnet_testkit::h2::wire::{
    frame, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS, WINDOW_UPDATE,
};
use slotnet_testkit::server::{read_response, TestServer};

/// Each answer's size: 100 of them are 100 MB.
const ANSWER: usize = 1024 * 1024;
const STREAMS: u32 = 100;

/// A HEADERS frame for `GET path` (HPACK: static-table entries and literals).
fn get(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    block.push(0x04); // :path, literal without indexing
    block.push(path.len() as u8);
    block.extend_from_slice(path.as_bytes());
    block.push(0x01); // :authority, literal without indexing
    block.push(9);
    block.extend_from_slice(b"localhost");
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &block)
}

/// The process's resident memory now (VmRSS), in bytes.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kib * 1024
}

#[test]
fn a_hundred_unread_streams_with_huge_windows_hold_a_bounded_amount() {
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let config = HttpServerConfiguration {
        h2c: true,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, move |server| {
        let abstract_server = server.as_abstract();
        server
            .route(
                "/held",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    let held = abstract_server.buffered_output_bytes();
                    resp.write_data(StatusCode::OK, "text/plain", held.to_string());
                },
            )
            .expect("valid route");
        server
            .route(
                "/big",
                Method::GET,
                move |_: &HttpServerRequest, resp: HttpServerResponder| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    resp.write_data(
                        StatusCode::OK,
                        "application/octet-stream",
                        vec![7u8; ANSWER],
                    );
                },
            )
            .expect("valid route");
    });
    let held = || {
        let mut s = std::io::BufReader::new(server.connect());
        s.get_mut()
            .write_all(b"GET /held HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        read_response(&mut s, false)
            .text()
            .parse::<usize>()
            .unwrap()
    };
    let before = rss_bytes();

    let mut attacker = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    attacker.write_all(PREFACE).unwrap();
    // SETTINGS_INITIAL_WINDOW_SIZE = 2^31 - 1, and the connection window opened as far.
    let mut settings = vec![0x00, 0x04];
    settings.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    attacker
        .write_all(&frame(SETTINGS, 0, 0, &settings))
        .unwrap();
    attacker
        .write_all(&frame(
            WINDOW_UPDATE,
            0,
            0,
            &(0x7fff_ffffu32 - 65_535).to_be_bytes(),
        ))
        .unwrap();
    for i in 0..STREAMS {
        attacker.write_all(&get(1 + 2 * i, "/big")).unwrap();
    }
    // Let the server get as far as it goes: until no new answer started for a while.
    let start = Instant::now();
    let mut last = (answered.load(Ordering::SeqCst), Instant::now());
    while last.1.elapsed() < Duration::from_millis(500) && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
        let now = answered.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let held_bytes = held();
    let grown = rss_bytes().saturating_sub(before);
    let started = answered.load(Ordering::SeqCst);
    assert!(started >= 1, "no answer started");
    // The answers not yet started wait (their heads only) until the client reads.
    assert!(
        held_bytes <= 4 * 1024 * 1024,
        "{held_bytes} bytes of answers held for a client that reads nothing"
    );
    // (A few answers started: the kernel's socket buffers took part of them.)
    assert!(started < STREAMS as usize, "every answer started");
    eprintln!("{started} answers started, {held_bytes} bytes held, resident memory +{grown}");
    // Without the bound: 100 MB (h2 held every answer whole).
    assert!(
        grown < 24 * 1024 * 1024,
        "resident memory grew by {grown} bytes"
    );
    // Everyone else is served meanwhile.
    server.assert_serves_fresh_client();
    drop(attacker);
}
