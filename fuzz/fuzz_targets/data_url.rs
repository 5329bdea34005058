//! `data:` URLs (RFC 2397): media types, base64 and percent-encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let url = format!("data:{text}");
    if let Some((_, data)) = slotnet_http::fuzzing::data_url(&url) {
        // Decoding never makes more bytes than the URL had characters.
        assert!(data.len() <= url.len());
    }
});
