//! The server's HTTP/1.1 request decoder: arbitrary bytes, fed in pieces, never panic and
//! never make it buffer past its limits.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use slotnet_http::h1::{Limits, RequestDecoder, RequestEvent};

fuzz_target!(|input: &[u8]| {
    let Some((&split, wire)) = input.split_first() else {
        return;
    };
    let limits = Limits {
        max_body: Some(1 << 20),
        ..Limits::default()
    };
    let mut decoder = RequestDecoder::with_limits(limits);
    let mut buf = BytesMut::new();
    let piece = usize::from(split).max(1);
    let mut body = 0u64;
    for part in wire.chunks(piece).map(Some).chain([None]) {
        match part {
            Some(bytes) => buf.extend_from_slice(bytes),
            None => decoder.eof(),
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(RequestEvent::Data(data))) => body += data.len() as u64,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        assert!(body <= 1 << 20, "body past max_body");
        if decoder.is_closed() {
            break;
        }
    }
});
