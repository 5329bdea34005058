//! The legacy (QHttp) header parser: request and response heads, and their text form read
//! back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotnet_http::legacy::{HttpRequestHeader, HttpResponseHeader};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    if let Some(header) = HttpResponseHeader::parse(text) {
        let _ = header.content_length();
        let again = HttpResponseHeader::parse(&header.to_string());
        assert!(again.is_some(), "a parsed header's text form must parse");
    }
    if let Some(header) = HttpRequestHeader::parse(text) {
        let _ = header.content_type();
        let _ = HttpRequestHeader::parse(&header.to_string());
    }
});
