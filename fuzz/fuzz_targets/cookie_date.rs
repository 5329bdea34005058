//! Cookie dates (RFC 6265 section 5.1.1), as `Expires` attributes are read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = slotnet_http::fuzzing::cookie_date(text);
    }
});
