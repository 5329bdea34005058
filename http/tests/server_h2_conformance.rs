//! The server's HTTP/2 error handling against RFC 9113 and RFC 7541, case by case in the
//! manner of h2spec's generic, http2 and hpack sections: raw frames over h2c (prior
//! knowledge), each case on a fresh connection, asserting the error code read off the wire
//! (GOAWAY, or RST_STREAM for a stream error) or that the server goes on serving.
//!
//! Each test runs one group of cases and reports every case that failed, with its section.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use slotnet_http::server::HttpServerConfiguration;
use slotnet_testkit::h2::wire::{
    frame, ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS, PADDED, PING,
    PREFACE, PRIORITY, PRIORITY_FLAG, PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE,
};
use slotnet_testkit::server::TestServer;

// Error codes (RFC 9113, section 7).
const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const STREAM_CLOSED: u32 = 0x5;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;
const COMPRESSION_ERROR: u32 = 0x9;

// SETTINGS identifiers (RFC 9113, section 6.5.2).
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;

/// A request the standard routes answer only after three seconds: its stream stays
/// half-closed (remote) for the whole case.
const SLOW: &str = "/delay/3000";

/// What the server must do after a case's frames.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A connection error: GOAWAY with one of these codes, then the connection closes.
    Connection(&'static [u32]),
    /// A stream error on this stream: RST_STREAM with one of these codes, or GOAWAY with one
    /// of them (RFC 9113, 5.4.1: any stream error may be treated as a connection error).
    Stream(u32, &'static [u32]),
    /// A stream error answered as one: RST_STREAM on this stream with one of these codes
    /// (no GOAWAY), after which the connection goes on (a PING sent afterwards is
    /// acknowledged, with no frame on that stream in between).
    StreamReset(u32, &'static [u32]),
    /// No error: a PING sent afterwards is acknowledged.
    Fine,
    /// The request on this stream is answered (a response HEADERS frame).
    Served(u32),
}

/// One step of a case.
enum Step {
    Send(Vec<u8>),
    /// Reads until the server ends this stream (its response is complete).
    AwaitEnd(u32),
}

struct Case {
    section: &'static str,
    name: &'static str,
    steps: Vec<Step>,
    expect: Expect,
}

fn case(section: &'static str, name: &'static str, frames: Vec<u8>, expect: Expect) -> Case {
    Case {
        section,
        name,
        steps: vec![Step::Send(frames)],
        expect,
    }
}

// ----- frames and header blocks -------------------------------------------------------------

/// HPACK for `:method GET`, `:scheme http`, `:path` (literal, no Huffman), `:authority
/// localhost` (literal without indexing).
fn get_block(path: &str) -> Vec<u8> {
    block(0x82, path)
}

/// The same with `:method POST`.
fn post_block(path: &str) -> Vec<u8> {
    block(0x83, path)
}

fn block(method: u8, path: &str) -> Vec<u8> {
    let mut b = vec![method, 0x86, 0x04, path.len() as u8];
    b.extend_from_slice(path.as_bytes());
    b.extend_from_slice(&[0x01, 9]);
    b.extend_from_slice(b"localhost");
    b
}

/// A whole GET request on `stream`.
fn get(stream: u32, path: &str) -> Vec<u8> {
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &get_block(path))
}

/// A POST head on `stream`, its body to follow.
fn post(stream: u32, path: &str) -> Vec<u8> {
    frame(HEADERS, END_HEADERS, stream, &post_block(path))
}

fn settings(values: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, value) in values {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&value.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

fn rst(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// PRIORITY (or HEADERS priority fields): exclusive bit clear, `depends_on`, weight 16.
fn priority_fields(depends_on: u32) -> Vec<u8> {
    let mut p = depends_on.to_be_bytes().to_vec();
    p.push(15);
    p
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A GET block whose `:authority` value is the given HPACK string (H bit and length
/// included).
fn get_with_authority_string(string: &[u8]) -> Vec<u8> {
    let mut b = vec![0x82, 0x86, 0x84, 0x01];
    b.extend_from_slice(string);
    b
}

// ----- the client side ----------------------------------------------------------------------

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn code(&self) -> u32 {
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        self.payload
            .get(at..at + 4)
            .map_or(u32::MAX, |b| u32::from_be_bytes(b.try_into().unwrap()))
    }
}

/// Reads one frame: `Ok(None)` at the end of the connection, `Err` on a timeout.
fn read_frame(s: &mut TcpStream) -> Result<Option<Frame>, String> {
    let mut head = [0u8; 9];
    match s.read_exact(&mut head) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(format!("no answer ({e})")),
    }
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut payload = vec![0u8; len];
    if s.read_exact(&mut payload).is_err() {
        return Ok(None);
    }
    Ok(Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    }))
}

/// Connection preface and SETTINGS exchange, as h2spec does before each case.
fn handshake(server: &TestServer) -> Result<TcpStream, String> {
    let mut s = server.connect();
    let mut opening = PREFACE.to_vec();
    opening.extend(frame(SETTINGS, 0, 0, &[]));
    s.write_all(&opening).map_err(|e| e.to_string())?;
    loop {
        let f = read_frame(&mut s)?.ok_or("closed during the handshake")?;
        if f.kind == SETTINGS && f.flags & ACK == 0 {
            break;
        }
    }
    s.write_all(&frame(SETTINGS, ACK, 0, &[]))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

fn name_of(code: u32) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        _ => return format!("code {code:#x}"),
    };
    name.to_owned()
}

fn names(codes: &[u32]) -> String {
    codes
        .iter()
        .map(|&c| name_of(c))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Runs one case on a fresh connection: `Err` says what the server did instead.
fn run(server: &TestServer, case: &Case) -> Result<(), String> {
    let mut s = handshake(server)?;
    for step in &case.steps {
        match step {
            // The server may close before reading everything.
            Step::Send(bytes) => {
                let _ = s.write_all(bytes);
            }
            Step::AwaitEnd(id) => loop {
                let f = read_frame(&mut s)?.ok_or("closed before the response")?;
                if f.stream == *id && f.flags & END_STREAM != 0 && matches!(f.kind, DATA | HEADERS)
                {
                    break;
                }
                if f.kind == GOAWAY || (f.kind == RST_STREAM && f.stream == *id) {
                    return Err(format!("{} before the response", name_of(f.code())));
                }
            },
        }
    }
    match case.expect {
        Expect::Connection(codes) => loop {
            let Some(f) = read_frame(&mut s)? else {
                return Err(format!("closed without GOAWAY ({})", names(codes)));
            };
            if f.kind == GOAWAY {
                if !codes.contains(&f.code()) {
                    return Err(format!(
                        "GOAWAY({}), not {}",
                        name_of(f.code()),
                        names(codes)
                    ));
                }
                // Then the connection ends.
                while read_frame(&mut s)?.is_some() {}
                return Ok(());
            }
            if f.kind == RST_STREAM {
                return Err(format!(
                    "RST_STREAM({}) on stream {}, not GOAWAY({})",
                    name_of(f.code()),
                    f.stream,
                    names(codes)
                ));
            }
        },
        Expect::Stream(id, codes) => loop {
            let Some(f) = read_frame(&mut s)? else {
                return Err(format!("closed without an error ({})", names(codes)));
            };
            let error = match f.kind {
                GOAWAY => f.code(),
                RST_STREAM if f.stream == id => f.code(),
                _ => continue,
            };
            if !codes.contains(&error) {
                let kind = if f.kind == GOAWAY {
                    "GOAWAY"
                } else {
                    "RST_STREAM"
                };
                return Err(format!("{kind}({}), not {}", name_of(error), names(codes)));
            }
            return Ok(());
        },
        Expect::StreamReset(id, codes) => {
            loop {
                let f = read_frame(&mut s)?.ok_or("closed without RST_STREAM")?;
                match f.kind {
                    RST_STREAM if f.stream == id && codes.contains(&f.code()) => break,
                    GOAWAY | RST_STREAM => {
                        return Err(format!(
                            "{}({}) on stream {}, not RST_STREAM({}) on {id}",
                            if f.kind == GOAWAY {
                                "GOAWAY"
                            } else {
                                "RST_STREAM"
                            },
                            name_of(f.code()),
                            f.stream,
                            names(codes)
                        ))
                    }
                    _ => {}
                }
            }
            let _ = s.write_all(&frame(PING, 0, 0, b"slotnet!"));
            loop {
                let f = read_frame(&mut s)?.ok_or("closed after RST_STREAM")?;
                match f.kind {
                    PING if f.flags & ACK != 0 && f.payload == b"slotnet!" => return Ok(()),
                    GOAWAY => {
                        return Err(format!("GOAWAY({}) after RST_STREAM", name_of(f.code())))
                    }
                    _ if f.stream == id => {
                        return Err(format!("a frame of type {} on the reset stream", f.kind))
                    }
                    _ => {}
                }
            }
        }
        Expect::Fine => {
            let _ = s.write_all(&frame(PING, 0, 0, b"slotnet!"));
            loop {
                let f = read_frame(&mut s)?.ok_or("closed instead of going on")?;
                match f.kind {
                    PING if f.flags & ACK != 0 && f.payload == b"slotnet!" => return Ok(()),
                    GOAWAY | RST_STREAM => {
                        return Err(format!("unexpected error {}", name_of(f.code())))
                    }
                    _ => {}
                }
            }
        }
        Expect::Served(id) => loop {
            let f = read_frame(&mut s)?.ok_or("closed before answering")?;
            match f.kind {
                HEADERS if f.stream == id => return Ok(()),
                GOAWAY => return Err(format!("GOAWAY({})", name_of(f.code()))),
                RST_STREAM if f.stream == id => {
                    return Err(format!("RST_STREAM({})", name_of(f.code())))
                }
                _ => {}
            }
        },
    }
}

/// Runs every case against one server; fails listing each case that did not pass, and
/// checks that a well-behaved client is still served afterwards.
fn run_all(cases: Vec<Case>) {
    let server = TestServer::start(
        HttpServerConfiguration {
            h2c: true,
            ..HttpServerConfiguration::default()
        },
        |_| {},
    );
    let total = cases.len();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            run(&server, c)
                .err()
                .map(|e| format!("  {} {}: {e}", c.section, c.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let fine = case(
        "-",
        "a well-behaved request",
        get(1, "/"),
        Expect::Served(1),
    );
    assert_eq!(run(&server, &fine), Ok(()));
}

// ----- the cases ----------------------------------------------------------------------------

#[test]
fn frame_lengths_get_frame_size_error() {
    let big_block = {
        let mut b = get_block("/");
        // A literal without indexing (`x-pad`) filling the frame past 16,384 octets.
        b.extend_from_slice(&[0x00, 5]);
        b.extend_from_slice(b"x-pad");
        b.extend_from_slice(&[0x7f, 0x81, 0x80, 0x01]); // length 127 + 16,385 - 1 = 16,511
        b.resize(b.len() + 16_511, b'p');
        b
    };
    run_all(vec![
        case(
            "4.2",
            "DATA of SETTINGS_MAX_FRAME_SIZE octets is accepted",
            cat(&[
                post(1, "/echo"),
                frame(DATA, END_STREAM, 1, &[b'd'; 16_384]),
            ]),
            Expect::Served(1),
        ),
        case(
            "4.2",
            "DATA larger than SETTINGS_MAX_FRAME_SIZE",
            cat(&[
                post(1, "/echo"),
                frame(DATA, END_STREAM, 1, &[b'd'; 16_385]),
            ]),
            Expect::Stream(1, &[FRAME_SIZE_ERROR]),
        ),
        case(
            "4.2",
            "HEADERS larger than SETTINGS_MAX_FRAME_SIZE",
            frame(HEADERS, END_HEADERS | END_STREAM, 1, &big_block),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.3",
            "PRIORITY with a length other than 5 octets",
            cat(&[get(1, SLOW), frame(PRIORITY, 0, 1, &[0, 0, 0, 3])]),
            Expect::Stream(1, &[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.4",
            "RST_STREAM with a length other than 4 octets",
            cat(&[get(1, SLOW), frame(RST_STREAM, 0, 1, &[0, 0, 0])]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.5",
            "SETTINGS ACK with a payload",
            frame(SETTINGS, ACK, 0, &[0, 3, 0, 0, 0, 100]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.5",
            "SETTINGS with a length other than a multiple of 6 octets",
            frame(SETTINGS, 0, 0, &[0, 3, 0]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.7",
            "PING with a length other than 8 octets",
            frame(PING, 0, 0, &[0; 6]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.9",
            "WINDOW_UPDATE with a length other than 4 octets",
            frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
        case(
            "6.8",
            "GOAWAY shorter than 8 octets",
            frame(GOAWAY, 0, 0, &[0, 0, 0, 0]),
            Expect::Connection(&[FRAME_SIZE_ERROR]),
        ),
    ]);
}

#[test]
fn settings_and_control_frames_are_checked() {
    run_all(vec![
        case(
            "6.5",
            "SETTINGS on a stream other than 0",
            frame(SETTINGS, 0, 1, &[]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.5.2",
            "SETTINGS_ENABLE_PUSH other than 0 or 1",
            settings(&[(ENABLE_PUSH, 2)]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.5.2",
            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
            settings(&[(INITIAL_WINDOW_SIZE, 1 << 31)]),
            Expect::Connection(&[FLOW_CONTROL_ERROR]),
        ),
        case(
            "6.5.2",
            "SETTINGS_INITIAL_WINDOW_SIZE of 2^31-1 is accepted",
            settings(&[(INITIAL_WINDOW_SIZE, (1 << 31) - 1)]),
            Expect::Fine,
        ),
        case(
            "6.5.2",
            "SETTINGS_MAX_FRAME_SIZE below 16,384",
            settings(&[(MAX_FRAME_SIZE, 16_383)]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.5.2",
            "SETTINGS_MAX_FRAME_SIZE above 2^24-1",
            settings(&[(MAX_FRAME_SIZE, 1 << 24)]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.5.2",
            "an unknown SETTINGS identifier is ignored",
            settings(&[(0xff, 1)]),
            Expect::Fine,
        ),
        case(
            "6.5.3",
            "several values of one setting",
            settings(&[(MAX_CONCURRENT_STREAMS, 10), (MAX_CONCURRENT_STREAMS, 20)]),
            Expect::Fine,
        ),
        case(
            "6.7",
            "a PING ACK is not answered",
            frame(PING, ACK, 0, b"unasked!"),
            Expect::Fine,
        ),
        case(
            "6.7",
            "PING on a stream other than 0",
            frame(PING, 0, 1, &[0; 8]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.8",
            "GOAWAY on a stream other than 0",
            frame(GOAWAY, 0, 1, &[0; 8]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.9",
            "WINDOW_UPDATE of 0 on the connection",
            window_update(0, 0),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.9",
            "WINDOW_UPDATE of 0 on a stream",
            cat(&[get(1, SLOW), window_update(1, 0)]),
            Expect::Stream(1, &[PROTOCOL_ERROR]),
        ),
        case(
            "6.9.1",
            "the connection window beyond 2^31-1",
            window_update(0, (1 << 31) - 1),
            Expect::Connection(&[FLOW_CONTROL_ERROR]),
        ),
        case(
            "6.9.1",
            "a stream window beyond 2^31-1",
            cat(&[get(1, SLOW), window_update(1, (1 << 31) - 1)]),
            Expect::Stream(1, &[FLOW_CONTROL_ERROR]),
        ),
        case(
            "6.3",
            "PRIORITY on stream 0",
            frame(PRIORITY, 0, 0, &priority_fields(1)),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.3.1",
            "PRIORITY depending on its own stream",
            cat(&[get(1, SLOW), frame(PRIORITY, 0, 1, &priority_fields(1))]),
            Expect::Stream(1, &[PROTOCOL_ERROR]),
        ),
        case(
            "6.4",
            "RST_STREAM on stream 0",
            rst(0, CANCEL),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.5",
            "an unknown frame type is ignored",
            frame(0xfe, 0, 0, b"whatever"),
            Expect::Fine,
        ),
        case(
            "4.1",
            "undefined flags are ignored",
            frame(PING, 0x16, 0, b"flagged!"),
            Expect::Fine,
        ),
        case(
            "8.4",
            "PUSH_PROMISE from a client",
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2, 0x82]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
    ]);
}

#[test]
fn stream_states_get_stream_closed_and_protocol_error() {
    let closed_then = |extra: Vec<u8>, expect: Expect, name| Case {
        section: "5.1",
        name,
        steps: vec![
            Step::Send(get(1, "/")),
            Step::AwaitEnd(1),
            Step::Send(extra),
        ],
        expect,
    };
    let either: &[u32] = &[STREAM_CLOSED, PROTOCOL_ERROR];
    run_all(vec![
        case(
            "5.1",
            "idle: DATA",
            frame(DATA, END_STREAM, 1, b"x"),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1",
            "idle: RST_STREAM",
            rst(1, CANCEL),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1",
            "idle: WINDOW_UPDATE",
            window_update(1, 100),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1",
            "idle: CONTINUATION",
            frame(CONTINUATION, END_HEADERS, 1, &get_block("/")),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1",
            "half-closed (remote): DATA",
            cat(&[get(1, SLOW), frame(DATA, END_STREAM, 1, b"x")]),
            Expect::StreamReset(1, &[STREAM_CLOSED]),
        ),
        case(
            "5.1",
            "half-closed (remote): HEADERS",
            cat(&[get(1, SLOW), get(1, SLOW)]),
            Expect::Stream(1, &[STREAM_CLOSED]),
        ),
        case(
            "5.1",
            "half-closed (remote): CONTINUATION",
            cat(&[
                get(1, SLOW),
                frame(CONTINUATION, END_HEADERS, 1, &get_block("/")),
            ]),
            Expect::Stream(1, either),
        ),
        case(
            "6.1",
            "DATA on a stream neither open nor half-closed (local)",
            cat(&[get(1, SLOW), frame(DATA, 0, 1, b"late")]),
            Expect::StreamReset(1, &[STREAM_CLOSED]),
        ),
        case(
            "5.1",
            "closed: DATA after RST_STREAM",
            cat(&[
                post(1, "/echo"),
                rst(1, CANCEL),
                frame(DATA, END_STREAM, 1, b"x"),
            ]),
            Expect::StreamReset(1, &[STREAM_CLOSED]),
        ),
        case(
            "5.1",
            "closed: HEADERS after RST_STREAM",
            cat(&[post(1, "/echo"), rst(1, CANCEL), get(1, "/")]),
            Expect::Stream(1, &[STREAM_CLOSED]),
        ),
        case(
            "5.1",
            "closed: CONTINUATION after RST_STREAM",
            cat(&[
                post(1, "/echo"),
                rst(1, CANCEL),
                frame(CONTINUATION, END_HEADERS, 1, &get_block("/")),
            ]),
            Expect::Stream(1, either),
        ),
        closed_then(
            frame(DATA, END_STREAM, 1, b"x"),
            Expect::Stream(1, &[STREAM_CLOSED]),
            "closed: DATA after END_STREAM",
        ),
        closed_then(
            get(1, "/"),
            Expect::Stream(1, &[STREAM_CLOSED]),
            "closed: HEADERS after END_STREAM",
        ),
        closed_then(
            frame(CONTINUATION, END_HEADERS, 1, &get_block("/")),
            Expect::Stream(1, either),
            "closed: CONTINUATION after END_STREAM",
        ),
        case(
            "5.1.1",
            "an even-numbered stream identifier",
            get(2, "/"),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1.1",
            "a stream identifier smaller than a previous one",
            cat(&[get(5, SLOW), get(3, "/")]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.1.2",
            "more streams than SETTINGS_MAX_CONCURRENT_STREAMS",
            (0..101u32).flat_map(|i| get(2 * i + 1, SLOW)).collect(),
            Expect::Stream(201, &[REFUSED_STREAM, PROTOCOL_ERROR]),
        ),
        case(
            "6.1",
            "DATA on stream 0",
            frame(DATA, END_STREAM, 0, b"x"),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.1",
            "DATA with a pad length beyond the payload",
            cat(&[
                post(1, "/echo"),
                frame(DATA, PADDED | END_STREAM, 1, &[6, 1, 2, 3]),
            ]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.2",
            "HEADERS on stream 0",
            frame(HEADERS, END_HEADERS | END_STREAM, 0, &get_block("/")),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.2",
            "HEADERS with a pad length beyond the payload",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM | PADDED,
                1,
                &cat(&[vec![200], get_block("/")]),
            ),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.2",
            "padded HEADERS are served",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM | PADDED,
                1,
                &cat(&[vec![4], get_block("/"), vec![0; 4]]),
            ),
            Expect::Served(1),
        ),
        case(
            "6.2",
            "HEADERS with priority fields are served",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM | PRIORITY_FLAG,
                1,
                &cat(&[priority_fields(0), get_block("/")]),
            ),
            Expect::Served(1),
        ),
        case(
            "5.3.1",
            "HEADERS depending on its own stream",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM | PRIORITY_FLAG,
                1,
                &cat(&[priority_fields(1), get_block("/")]),
            ),
            Expect::Stream(1, &[PROTOCOL_ERROR]),
        ),
        case(
            "8.1",
            "a second HEADERS without END_STREAM",
            cat(&[
                post(1, "/echo"),
                frame(HEADERS, END_HEADERS, 1, &[0x40, 1, b'x', 1, b'y']),
            ]),
            Expect::Stream(1, &[PROTOCOL_ERROR]),
        ),
        case(
            "8.1",
            "a request with a body is served",
            cat(&[post(1, "/echo"), frame(DATA, END_STREAM, 1, b"body")]),
            Expect::Served(1),
        ),
    ]);
}

#[test]
fn header_blocks_and_continuation() {
    let block = get_block("/");
    let (first, rest) = block.split_at(3);
    let (second, third) = rest.split_at(4);
    run_all(vec![
        case(
            "6.10",
            "a header block over several CONTINUATION frames is served",
            cat(&[
                frame(HEADERS, END_STREAM, 1, first),
                frame(CONTINUATION, 0, 1, second),
                frame(CONTINUATION, END_HEADERS, 1, third),
            ]),
            Expect::Served(1),
        ),
        case(
            "6.10",
            "CONTINUATION after HEADERS with END_HEADERS",
            cat(&[get(1, SLOW), frame(CONTINUATION, END_HEADERS, 1, &[0x82])]),
            Expect::Stream(1, &[PROTOCOL_ERROR, STREAM_CLOSED]),
        ),
        case(
            "6.10",
            "CONTINUATION after a frame other than HEADERS",
            cat(&[
                post(1, "/echo"),
                frame(DATA, 0, 1, b"x"),
                frame(CONTINUATION, END_HEADERS, 1, &[0x82]),
            ]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.10",
            "CONTINUATION without HEADERS, its block undecodable",
            frame(CONTINUATION, END_HEADERS, 1, &[0x80]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "6.10",
            "CONTINUATION on stream 0",
            cat(&[
                frame(HEADERS, END_STREAM, 1, first),
                frame(CONTINUATION, END_HEADERS, 0, rest),
            ]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "4.3",
            "PRIORITY while a header block is open",
            cat(&[
                frame(HEADERS, END_STREAM, 1, first),
                frame(PRIORITY, 0, 1, &priority_fields(0)),
            ]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "4.3",
            "HEADERS to another stream while a header block is open",
            cat(&[frame(HEADERS, END_STREAM, 1, first), get(3, "/")]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "5.5",
            "an unknown frame type inside a header block",
            cat(&[
                frame(HEADERS, END_STREAM, 1, first),
                frame(0xfe, 0, 1, b"x"),
                frame(CONTINUATION, END_HEADERS, 1, rest),
            ]),
            Expect::Connection(&[PROTOCOL_ERROR]),
        ),
        case(
            "4.3",
            "an invalid header block fragment (a string cut short)",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &[0x82, 0x86, 0x44, 0x05, b'/', b'a'],
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
    ]);
}

#[test]
fn hpack_errors_get_compression_error() {
    // "www.example.com", Huffman-coded (RFC 7541, C.4.1).
    let example = [
        0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
    ];
    // `:authority localhost`, literal with incremental indexing (becomes index 62).
    let indexed_authority = cat(&[vec![0x82, 0x86, 0x84, 0x41, 9], b"localhost".to_vec()]);
    // `x-a: 123456789` twice more (entry size 3 + 9 + 32 = 44 each).
    let entry = |name: &[u8]| cat(&[vec![0x40, 3], name.to_vec(), vec![9], b"123456789".to_vec()]);
    run_all(vec![
        case(
            "2.3.3",
            "an indexed field beyond the tables",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &[0x82, 0x86, 0x84, 0xbe],
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "2.3.3",
            "a literal whose name index is beyond the tables",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &cat(&[get_block("/"), vec![0x7f, 0x07, 1, b'x']]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "6.1",
            "an indexed field with index 0",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &cat(&[get_block("/"), vec![0x80]]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "4.2",
            "a dynamic table size update at the end of a block",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &cat(&[get_block("/"), vec![0x20]]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "6.3",
            "a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &cat(&[vec![0x3f, 0xe2, 0x1f], get_block("/")]), // 4,097
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "5.2",
            "Huffman padding longer than 7 bits",
            // "a" (00011) padded with 11 one bits.
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &get_with_authority_string(&[0x82, 0x1f, 0xff]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "5.2",
            "Huffman padding with zero bits",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &get_with_authority_string(&[0x81, 0x18]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "5.2",
            "a Huffman string containing EOS",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &get_with_authority_string(&[0x84, 0xff, 0xff, 0xff, 0xff]),
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "5.1",
            "an integer past 2^32",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &[0x82, 0x86, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            ),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "5.2",
            "a Huffman-coded :authority is served",
            frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &cat(&[vec![0x82, 0x86, 0x84, 0x01], example.to_vec()]),
            ),
            Expect::Served(1),
        ),
        case(
            "2.3.2",
            "a dynamic table entry is used by the next request",
            cat(&[
                frame(HEADERS, END_HEADERS | END_STREAM, 1, &indexed_authority),
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    3,
                    &[0x82, 0x86, 0x84, 0xbe],
                ),
            ]),
            Expect::Served(3),
        ),
        case(
            "6.3",
            "a table size update to 0 evicts every entry",
            cat(&[
                frame(HEADERS, END_HEADERS | END_STREAM, 1, &indexed_authority),
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    3,
                    &[0x20, 0x82, 0x86, 0x84, 0xbe],
                ),
            ]),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "4.4",
            "entries beyond the table size are evicted, the newest kept",
            cat(&[
                // Room for two 44-octet entries only: the third evicts the first.
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    1,
                    &cat(&[
                        vec![0x3f, 0x3e],
                        get_block("/"),
                        entry(b"x-a"),
                        entry(b"x-b"),
                        entry(b"x-c"),
                    ]),
                ),
                // x-c is 62 and x-b 63: both can be referenced...
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    3,
                    &cat(&[get_block("/"), vec![0xbe, 0xbf]]),
                ),
                // ...x-a is gone.
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    5,
                    &cat(&[get_block("/"), vec![0xc0]]),
                ),
            ]),
            Expect::Connection(&[COMPRESSION_ERROR]),
        ),
        case(
            "4.4",
            "the two newest entries stay usable",
            cat(&[
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    1,
                    &cat(&[
                        vec![0x3f, 0x3e],
                        get_block("/"),
                        entry(b"x-a"),
                        entry(b"x-b"),
                        entry(b"x-c"),
                    ]),
                ),
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    3,
                    &cat(&[get_block("/"), vec![0xbe, 0xbf]]),
                ),
            ]),
            Expect::Served(3),
        ),
    ]);
}

#[test]
fn valid_hpack_representations_are_served() {
    // `x-k: v` in every representation (RFC 7541, 6), the name and value Huffman-coded in
    // some: "x-k" is not in the static table; `user-agent` (58) is.
    let huffman_v = [0x81, 0xef]; // "v": 1110111 + 1 padding bit
    let with = |field: Vec<u8>| cat(&[get_block("/"), field]);
    let cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("indexed (static)", with(vec![0x90])), // accept-encoding: gzip, deflate
        (
            "literal with incremental indexing, indexed name",
            with(vec![0x7a, 1, b'v']),
        ),
        (
            "literal with incremental indexing, new name",
            with(cat(&[vec![0x40, 3], b"x-k".to_vec(), huffman_v.to_vec()])),
        ),
        (
            "literal without indexing, indexed name",
            with(cat(&[vec![0x0f, 0x2b], huffman_v.to_vec()])),
        ),
        (
            "literal without indexing, new name",
            with(cat(&[vec![0x00, 3], b"x-k".to_vec(), vec![1, b'v']])),
        ),
        (
            "literal never indexed, indexed name",
            with(vec![0x1f, 0x2b, 1, b'v']),
        ),
        (
            "literal never indexed, new name",
            with(cat(&[vec![0x10, 3], b"x-k".to_vec(), huffman_v.to_vec()])),
        ),
        (
            "a table size update first",
            cat(&[vec![0x3f, 0xe1, 0x1f], get_block("/")]),
        ),
    ];
    run_all(
        cases
            .into_iter()
            .map(|(name, block)| {
                case(
                    "generic 5",
                    name,
                    frame(HEADERS, END_HEADERS | END_STREAM, 1, &block),
                    Expect::Served(1),
                )
            })
            .collect(),
    );
}

#[test]
fn frames_on_streams_in_every_state_that_are_allowed() {
    let closed = |extra: Vec<u8>, name| Case {
        section: "generic 3",
        name,
        steps: vec![
            Step::Send(get(1, "/")),
            Step::AwaitEnd(1),
            Step::Send(extra),
        ],
        expect: Expect::Fine,
    };
    run_all(vec![
        case(
            "generic 3",
            "PRIORITY on an idle stream",
            frame(PRIORITY, 0, 7, &priority_fields(0)),
            Expect::Fine,
        ),
        case(
            "generic 3",
            "PRIORITY on a half-closed (remote) stream",
            cat(&[get(1, SLOW), frame(PRIORITY, 0, 1, &priority_fields(0))]),
            Expect::Fine,
        ),
        closed(
            frame(PRIORITY, 0, 1, &priority_fields(0)),
            "PRIORITY on a closed stream",
        ),
        case(
            "generic 3",
            "WINDOW_UPDATE on a half-closed (remote) stream",
            cat(&[get(1, SLOW), window_update(1, 1000)]),
            Expect::Fine,
        ),
        case(
            "generic 3",
            "RST_STREAM on a half-closed (remote) stream",
            cat(&[get(1, SLOW), rst(1, CANCEL)]),
            Expect::Fine,
        ),
        case(
            "generic 3",
            "WINDOW_UPDATE on the connection",
            window_update(0, 1000),
            Expect::Fine,
        ),
        case(
            "generic 3",
            "padded DATA",
            cat(&[
                post(1, "/echo"),
                frame(DATA, PADDED | END_STREAM, 1, &[3, b'a', b'b', 0, 0, 0]),
            ]),
            Expect::Served(1),
        ),
        case(
            "generic 3",
            "DATA in several frames",
            cat(&[
                post(1, "/echo"),
                frame(DATA, 0, 1, b"ab"),
                frame(DATA, 0, 1, b""),
                frame(DATA, END_STREAM, 1, b"cd"),
            ]),
            Expect::Served(1),
        ),
        case(
            "generic 3",
            "trailers end a request",
            cat(&[
                post(1, "/echo"),
                frame(DATA, 0, 1, b"ab"),
                frame(
                    HEADERS,
                    END_HEADERS | END_STREAM,
                    1,
                    &[0x40, 1, b't', 1, b'1'],
                ),
            ]),
            Expect::Served(1),
        ),
    ]);
}

#[test]
fn a_data_frame_answered_with_rst_stream_gives_its_connection_window_back() {
    // h2 never sees a DATA frame taken out for a stream error, so it would never give back
    // the connection window the client spent on it: the server sends that WINDOW_UPDATE.
    let server = TestServer::start(
        HttpServerConfiguration {
            h2c: true,
            ..HttpServerConfiguration::default()
        },
        |_| {},
    );
    let mut s = handshake(&server).unwrap();
    // Split so that the DATA frame's payload arrives after its header.
    s.write_all(&cat(&[
        get(1, SLOW),
        frame(DATA, 0, 1, &[7; 300])[..9].to_vec(),
    ]))
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    s.write_all(&[7; 300]).unwrap();
    let mut reset = false;
    loop {
        let f = read_frame(&mut s).unwrap().expect("closed");
        match f.kind {
            RST_STREAM if f.stream == 1 => {
                assert_eq!(name_of(f.code()), "STREAM_CLOSED");
                reset = true;
            }
            WINDOW_UPDATE if f.stream == 0 && f.payload == 300u32.to_be_bytes() => break,
            GOAWAY => panic!("GOAWAY({})", name_of(f.code())),
            _ => {}
        }
    }
    assert!(reset, "the window came back without RST_STREAM");
    // The connection goes on: another request is served.
    s.write_all(&get(3, "/")).unwrap();
    loop {
        let f = read_frame(&mut s).unwrap().expect("closed");
        if f.kind == HEADERS && f.stream == 3 {
            break;
        }
        assert!(f.kind != GOAWAY, "GOAWAY({})", name_of(f.code()));
    }
}
