//! Chunked transfer decoding: arbitrary chunk lines, extensions, data and trailers after a
//! chunked response head. The data delivered never exceeds the bytes received.
#![no_main]

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use slotnet_http::h1::{ResponseDecoder, ResponseEvent};

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

fuzz_target!(|input: &[u8]| {
    let Some((&split, body)) = input.split_first() else {
        return;
    };
    let mut decoder = ResponseDecoder::new(&Method::GET);
    let mut buf = BytesMut::from(HEAD);
    let mut delivered = 0usize;
    let mut ended = false;
    for part in body
        .chunks(usize::from(split).max(1))
        .map(Some)
        .chain([None])
    {
        match part {
            Some(bytes) => buf.extend_from_slice(bytes),
            None => decoder.eof(),
        }
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(ResponseEvent::Data(data))) => delivered += data.len(),
                Ok(Some(ResponseEvent::End { .. })) => ended = true,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if ended {
            break;
        }
    }
    assert!(delivered <= body.len());
});
