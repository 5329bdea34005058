//! HTTP/2 servers that misbehave (cleartext, prior knowledge, raw frames written by hand):
//! each ends the reply with a clear `NetworkError` in bounded time and memory, and the
//! manager keeps working for the next request.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_testkit::h2::wire::{
    frame, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS,
};
use slotnet_testkit::h2::H2Server;
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

/// A server running `script` on every connection it accepts, on its own thread.
struct HostileServer {
    port: u16,
    /// Bytes the scripts managed to write (to show the client stopped reading early).
    written: Arc<AtomicU64>,
}

impl HostileServer {
    fn start(script: fn(&mut TcpStream, &AtomicU64)) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let w = w.clone();
                std::thread::spawn(move || {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(20)))
                        .unwrap();
                    script(&mut stream, &w);
                });
            }
        });
        HostileServer { port, written }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// Reads the client's preface, sends empty SETTINGS, acknowledges the client's, and returns
/// the stream id of the first request (`None` if the client went away first).
fn handshake_until_request(s: &mut TcpStream) -> Option<u32> {
    let mut preface = [0u8; 24];
    s.read_exact(&mut preface).ok()?;
    assert_eq!(preface, PREFACE);
    s.write_all(&frame(SETTINGS, 0, 0, &[])).ok()?;
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).ok()?;
        let len = (head[0] as usize) << 16 | (head[1] as usize) << 8 | head[2] as usize;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).ok()?;
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        match head[3] {
            SETTINGS if head[4] & 1 == 0 => s.write_all(&frame(SETTINGS, 1, 0, &[])).ok()?,
            HEADERS => return Some(id),
            _ => {}
        }
    }
}

/// Keeps the connection open until the client closes it (so a reply that finishes has
/// been ended by the client's own verdict, not by the server going away).
fn drain(s: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(1..) = s.read(&mut buf) {}
}

fn h2c_get(m: &NetworkAccessManager, url: &str) -> NetworkReply {
    let mut request = NetworkRequest::from_url_str(url);
    request.set_attribute(Attribute::Http2Direct, true);
    let reply = m.get(request);
    run_all(&[reply]);
    reply
}

/// Runs a request against `script`'s server and returns the reply, after checking that the
/// same manager still completes a request to a well-behaved HTTP/2 server.
fn against(script: fn(&mut TcpStream, &AtomicU64)) -> (NetworkReply, HostileServer) {
    let server = HostileServer::start(script);
    let m = NetworkAccessManager::new();
    let reply = h2c_get(&m, &server.url());
    let good = H2Server::start();
    let next = h2c_get(&m, &good.url("/path/next"));
    assert_no_error(next);
    assert_eq!(next.read_all(), b"/path/next");
    (reply, server)
}

fn assert_error(reply: NetworkReply, expected: NetworkError) {
    assert_eq!(reply.error(), expected, "{}", reply.error_string());
    assert!(!reply.error_string().is_empty());
    assert!(reply.is_finished());
}

#[test]
fn an_http1_answer_to_prior_knowledge_is_a_protocol_failure() {
    let (reply, _server) = against(|s, _| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        drain(s);
    });
    assert_error(reply, NetworkError::ProtocolFailure);
}

#[test]
fn an_undecodable_header_block_is_a_protocol_failure() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            // HPACK index 0 does not exist (RFC 7541 6.1).
            let _ = s.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, id, &[0x80]));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
}

#[test]
fn a_response_without_status_is_a_protocol_failure() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            // One literal field `x: y` (without indexing, new name) and no `:status`.
            let block = [0x00, 0x01, b'x', 0x01, b'y'];
            let _ = s.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
}

#[test]
fn data_on_the_connection_stream_is_a_protocol_failure() {
    let (reply, _server) = against(|s, _| {
        if handshake_until_request(s).is_some() {
            let _ = s.write_all(&frame(DATA, 0, 0, b"stray"));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
}

#[test]
fn a_frame_larger_than_announced_is_refused_without_waiting_for_it() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            let _ = s.write_all(&frame(HEADERS, END_HEADERS, id, &[0x88]));
            // A DATA frame header announcing 16 MiB - 1 (the client allows 16 KiB); its
            // payload never comes: the client must not wait for it.
            let mut head = frame(DATA, 0, id, &[]);
            head[..3].copy_from_slice(&[0xff, 0xff, 0xff]);
            let _ = s.write_all(&head);
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
}

#[test]
fn an_endless_header_block_is_cut_off() {
    const FLOOD: u64 = 256 << 20;
    let (reply, server) = against(|s, written| {
        if let Some(id) = handshake_until_request(s) {
            // `:status: 200`, then CONTINUATION frames that never end the header block,
            // each full of literal fields.
            let _ = s.write_all(&frame(HEADERS, 0, id, &[0x88]));
            let name = [b'a'; 100];
            let value = [b'b'; 100];
            let mut payload = Vec::new();
            while payload.len() + 204 <= 16 * 1024 {
                payload.extend_from_slice(&[0x00, 100]);
                payload.extend_from_slice(&name);
                payload.push(100);
                payload.extend_from_slice(&value);
            }
            let continuation = frame(CONTINUATION, 0, id, &payload);
            while written.load(Ordering::SeqCst) < FLOOD {
                if s.write_all(&continuation).is_err() {
                    return;
                }
                written.fetch_add(continuation.len() as u64, Ordering::SeqCst);
            }
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
    assert!(
        server.written.load(Ordering::SeqCst) < FLOOD,
        "the client read all {FLOOD} bytes of an unfinished header block"
    );
}

#[test]
fn an_endless_stream_of_interim_responses_fails_as_over_http1() {
    let (reply, _server) = against(|s, written| {
        if let Some(id) = handshake_until_request(s) {
            // `:status: 103` (literal, indexed name), again and again, never a final head.
            let interim = frame(HEADERS, END_HEADERS, id, &[0x08, 3, b'1', b'0', b'3']);
            for _ in 0..100_000 {
                if s.write_all(&interim).is_err() {
                    return;
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
    assert!(
        reply
            .error_string()
            .contains("too many interim (1xx) responses"),
        "{}",
        reply.error_string()
    );
}

#[test]
fn a_hundred_interim_responses_then_the_final_one_are_accepted() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            let interim = frame(HEADERS, END_HEADERS, id, &[0x08, 3, b'1', b'0', b'3']);
            for _ in 0..100 {
                let _ = s.write_all(&interim);
            }
            // `:status: 200`, then the body.
            let _ = s.write_all(&frame(HEADERS, END_HEADERS, id, &[0x88]));
            let _ = s.write_all(&frame(DATA, END_STREAM, id, b"final"));
            drain(s);
        }
    });
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"final");
}

#[test]
fn a_server_closing_before_the_response_is_remote_host_closed() {
    let (reply, _server) = against(|s, _| {
        handshake_until_request(s);
        // Dropping the stream closes the connection.
    });
    assert_error(reply, NetworkError::RemoteHostClosedError);
}

/// An HPACK literal field without indexing, with a new name (RFC 7541, 6.2.2).
fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        // Length: a 7-bit prefix integer (RFC 7541, 5.1), no Huffman.
        let mut n = s.len();
        if n < 127 {
            out.push(n as u8);
        } else {
            out.push(127);
            n -= 127;
            while n >= 128 {
                out.push((n % 128) as u8 | 0x80);
                n /= 128;
            }
            out.push(n as u8);
        }
        out.extend_from_slice(s);
    }
    let mut out = vec![0x00];
    string(&mut out, name);
    string(&mut out, value);
    out
}

/// `:status 200` and `fields` literal fields `x-field-N: value`, as HEADERS then
/// CONTINUATION frames of at most 16 KiB, END_STREAM set.
fn head_with_fields(id: u32, fields: usize, value: &[u8]) -> Vec<u8> {
    let mut block = vec![0x88];
    for i in 0..fields {
        block.extend(literal(format!("x-field-{i}").as_bytes(), value));
    }
    let mut out = Vec::new();
    let mut pieces = block.chunks(16 * 1024).peekable();
    let mut kind = HEADERS;
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        let flags = if kind == HEADERS { END_STREAM } else { 0 };
        out.extend(frame(
            kind,
            flags | if last { END_HEADERS } else { 0 },
            id,
            piece,
        ));
        kind = CONTINUATION;
    }
    out
}

/// The same head over HTTP/1.1: `fields` fields after the status line, no body.
fn http1_head_with_fields(fields: usize, value: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n".to_vec();
    for i in 1..fields {
        out.extend_from_slice(format!("x-field-{i}: ").as_bytes());
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What the access manager reports for a response head of `fields` fields over HTTP/1.1.
fn http1_verdict(fields: usize, value: &'static [u8]) -> (NetworkError, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&http1_head_with_fields(fields, value));
            drain(&mut s);
        }
    });
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&format!(
        "http://127.0.0.1:{port}/"
    )));
    run_all(&[reply]);
    (reply.error(), reply.error_string())
}

#[test]
fn a_head_with_more_fields_than_http1_allows_fails_as_over_http1() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            // 129 small fields: far below any byte limit, one field too many.
            let _ = s.write_all(&head_with_fields(id, 129, b"v"));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
    let over_http1 = http1_verdict(129, b"v");
    assert_eq!(over_http1.0, NetworkError::ProtocolFailure);
    assert_eq!(reply.error_string(), over_http1.1);
    assert!(reply.error_string().contains("too many header fields"));
}

#[test]
fn a_head_larger_than_http1_allows_fails_as_over_http1() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            // 100 fields of 700 bytes: 70 KB, over the 64 KiB head limit.
            let _ = s.write_all(&head_with_fields(id, 100, &[b'v'; 700]));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
    assert!(
        reply.error_string().contains("header"),
        "{}",
        reply.error_string()
    );
}

#[test]
fn a_head_of_ten_thousand_fields_and_10_mb_is_refused() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            let _ = s.write_all(&head_with_fields(id, 10_000, &[b'v'; 1000]));
            drain(s);
        }
    });
    assert_error(reply, NetworkError::ProtocolFailure);
    assert!(
        reply.error_string().contains("header"),
        "{}",
        reply.error_string()
    );
    assert!(reply.raw_header_list().is_empty());
}

#[test]
fn a_head_at_the_http1_limits_is_accepted() {
    let (reply, _server) = against(|s, _| {
        if let Some(id) = handshake_until_request(s) {
            // 128 fields (HTTP/1.1 allows 128 with content-length among them).
            let _ = s.write_all(&head_with_fields(id, 128, &[b'v'; 400]));
            drain(s);
        }
    });
    assert_no_error(reply);
    assert_eq!(reply.raw_header_list().len(), 128);
    let over_http1 = http1_verdict(128, &[b'v'; 400]);
    assert_eq!(over_http1.0, NetworkError::NoError, "{}", over_http1.1);
}
