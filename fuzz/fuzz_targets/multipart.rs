//! Multipart bodies built from arbitrary boundaries, headers and bodies: building never
//! panics, and the bytes read are exactly the announced size.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use slotnet_http::multipart::{ContentType, HttpMultiPart, HttpPart};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let mut fields = text.split('\u{0}');
    let content_type = match fields.next().map(str::len).unwrap_or(0) % 4 {
        0 => ContentType::Mixed,
        1 => ContentType::Related,
        2 => ContentType::FormData,
        _ => ContentType::Alternative,
    };
    let mut form = HttpMultiPart::new(content_type);
    if let Some(boundary) = fields.next() {
        let _ = form.set_boundary(boundary);
    }
    while let (Some(name), Some(value), Some(body)) = (fields.next(), fields.next(), fields.next())
    {
        let mut part = HttpPart::new();
        let _ = part.set_raw_header(name, value.as_bytes());
        let _ = part.set_content_type(value);
        let _ = part.set_content_disposition(value);
        part.set_form_data(name, Some(value));
        part.set_body(body.as_bytes().to_vec());
        form.append(part);
    }
    let _ = form.content_type_header();
    let size = form.size();
    let mut reader = form.into_reader();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    if let Some(size) = size {
        assert_eq!(out.len() as u64, size);
    }
});
