//! WebSocket frames as the server receives them after an upgrade (masking, fragmentation,
//! control frames, close codes, UTF-8, size limits, permessage-deflate), fed in pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotnet_http::fuzzing::websocket_server_with;

fuzz_target!(|input: &[u8]| {
    let Some((&split, frames)) = input.split_first() else {
        return;
    };
    // The high bit of the first byte turns permessage-deflate on, the rest is the piece size.
    let outcome = websocket_server_with(frames, usize::from(split & 0x7f), split & 0x80 != 0);
    // Nothing is answered that was not asked for: each answer (pong or close) is a frame of
    // at most 2 + 8 + 125 bytes.
    assert!(outcome.written <= (outcome.messages + 1) * 135);
});
