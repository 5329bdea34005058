//! The client's HTTP/1.1 response decoder (heads, framing, interim responses, obs-fold,
//! trailers) for each kind of request, fed in pieces.
#![no_main]

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use slotnet_http::h1::{ResponseDecoder, ResponseEvent, MAX_INTERIM_RESPONSES};

fuzz_target!(|input: &[u8]| {
    let Some((&control, wire)) = input.split_first() else {
        return;
    };
    let method = match control & 3 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::CONNECT,
        _ => Method::POST,
    };
    let mut decoder = ResponseDecoder::new(&method);
    decoder.set_header_map(control & 4 == 0);
    let piece = usize::from(control >> 3).max(1);
    let mut buf = BytesMut::new();
    let mut interims = 0;
    for part in wire.chunks(piece).map(Some).chain([None]) {
        match part {
            Some(bytes) => buf.extend_from_slice(bytes),
            None => decoder.eof(),
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(ResponseEvent::Interim(..))) => interims += 1,
                Ok(Some(ResponseEvent::Head(head))) => {
                    // The raw fields and the map agree on what they hold.
                    if control & 4 == 0 {
                        assert_eq!(head.raw.len(), head.headers.len());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        assert!(interims <= MAX_INTERIM_RESPONSES);
        if decoder.is_done() || decoder.is_upgrade() {
            break;
        }
    }
});
