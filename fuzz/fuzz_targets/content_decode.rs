//! The content decoders (gzip, deflate, br, zstd, stacked) with the decompression-bomb
//! guard: whatever the input, the output of one call never exceeds what was asked for, and
//! once past the threshold the ratio guard holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotnet_http::decode::ContentDecoder;

const CODINGS: [&str; 8] = [
    "gzip",
    "deflate",
    "br",
    "zstd",
    "gzip, gzip",
    "zstd, br",
    "deflate, gzip",
    "br, zstd, gzip, deflate",
];

fuzz_target!(|input: &[u8]| {
    let Some((&control, body)) = input.split_first() else {
        return;
    };
    let coding = CODINGS[usize::from(control & 7)];
    let Ok(Some(decoder)) = ContentDecoder::new(coding) else {
        panic!("{coding} is supported");
    };
    // A low threshold so the guard is exercised on small inputs.
    let threshold = 4096;
    let mut decoder = decoder.with_decompressed_safety_check_threshold(threshold);
    let max_out = 1 + usize::from(control >> 3) * 512;
    let mut out = Vec::new();
    for piece in body.chunks(97) {
        let mut rest = piece;
        loop {
            out.clear();
            match decoder.decode(rest, &mut out, max_out) {
                Ok(progress) => {
                    assert!(out.len() <= max_out && progress.produced == out.len());
                    rest = &rest[progress.consumed..];
                    if rest.is_empty() && progress.produced < max_out {
                        break;
                    }
                }
                Err(_) => return,
            }
            let (inp, outp) = (decoder.total_in(), decoder.total_out());
            assert!(outp <= threshold as u64 || outp <= inp.saturating_mul(100) + max_out as u64);
        }
    }
    let _ = decoder.finish();
});
