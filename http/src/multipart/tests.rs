use std::io::{self, Cursor, Read};

use super::*;

/// A reader that yields `len` bytes of a repeating pattern and counts the largest single read
/// it was asked for, to show file parts are streamed, not slurped.
struct Pattern {
    left: u64,
    pos: u64,
    largest_request: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.largest_request
            .fetch_max(buf.len(), std::sync::atomic::Ordering::Relaxed);
        let n = buf.len().min(self.left as usize);
        for b in &mut buf[..n] {
            *b = (self.pos % 251) as u8;
            self.pos += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn small_form() -> HttpMultiPart {
    let mut form = HttpMultiPart::new(ContentType::FormData);
    form.set_boundary("boundary_.oOo._AbC123").unwrap();
    let mut text = HttpPart::new();
    text.set_form_data("title", None);
    text.set_body("Hello");
    form.append(text);
    let mut file = HttpPart::new();
    file.set_form_data("upload", Some("a.txt"));
    file.set_content_type("text/plain").unwrap();
    file.set_body_reader(Box::new(Cursor::new(b"file\r\ndata".to_vec())), Some(10));
    form.append(file);
    form
}

const SMALL_FORM_BYTES: &[u8] = b"--boundary_.oOo._AbC123\r\n\
Content-Disposition: form-data; name=\"title\"\r\n\
\r\n\
Hello\r\n\
--boundary_.oOo._AbC123\r\n\
Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\
Content-Type: text/plain\r\n\
\r\n\
file\r\ndata\r\n\
--boundary_.oOo._AbC123--\r\n";

fn read_in_chunks(mut r: impl Read, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        assert!(n <= chunk);
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn small_form_exact_bytes() {
    let form = small_form();
    assert_eq!(
        form.content_type_header(),
        "multipart/form-data; boundary=boundary_.oOo._AbC123"
    );
    assert_eq!(form.size(), Some(SMALL_FORM_BYTES.len() as u64));
    let reader = form.into_reader();
    assert_eq!(reader.size(), Some(SMALL_FORM_BYTES.len() as u64));
    assert_eq!(read_in_chunks(reader, 4096), SMALL_FORM_BYTES);
}

#[test]
fn tiny_buffers_equal_one_shot() {
    for chunk in [1, 2, 3, 7, 64] {
        assert_eq!(
            read_in_chunks(small_form().into_reader(), chunk),
            SMALL_FORM_BYTES
        );
    }
}

#[test]
fn empty_multipart_and_subtypes() {
    let mut m = HttpMultiPart::default();
    m.set_boundary("b").unwrap();
    assert_eq!(m.content_type_header(), "multipart/mixed; boundary=b");
    m.set_content_type(ContentType::Related);
    assert_eq!(m.content_type_header(), "multipart/related; boundary=b");
    m.set_content_type(ContentType::Alternative);
    assert_eq!(m.content_type_header(), "multipart/alternative; boundary=b");
    assert_eq!(m.size(), Some(7));
    assert_eq!(read_in_chunks(m.into_reader(), 3), b"--b--\r\n");
}

#[test]
fn generated_boundaries_are_random_and_valid() {
    let a = HttpMultiPart::new(ContentType::Mixed);
    let b = HttpMultiPart::new(ContentType::Mixed);
    assert_ne!(a.boundary(), b.boundary());
    for m in [&a, &b] {
        let suffix = m.boundary().strip_prefix("boundary_.oOo._").unwrap();
        assert_eq!(suffix.len(), 32);
        assert!(suffix.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert!(boundary::is_valid(m.boundary()));
    }
}

#[test]
fn boundary_validation_and_quoting() {
    let mut m = HttpMultiPart::new(ContentType::FormData);
    for bad in [
        "",
        "ends with space ",
        "semi;colon",
        &"x".repeat(71),
        "quote\"",
    ] {
        assert_eq!(
            m.set_boundary(bad),
            Err(MultipartError::InvalidBoundary(bad.to_string()))
        );
    }
    m.set_boundary("with space:and/slash").unwrap();
    assert_eq!(
        m.content_type_header(),
        "multipart/form-data; boundary=\"with space:and/slash\""
    );
}

#[test]
fn header_validation_and_form_name_escaping() {
    let mut p = HttpPart::new();
    assert!(matches!(
        p.set_raw_header("Bad Name", "v"),
        Err(MultipartError::InvalidHeaderName(_))
    ));
    assert!(matches!(
        p.set_raw_header("X-Test", "a\r\nInjected: yes"),
        Err(MultipartError::InvalidHeaderValue(_))
    ));
    p.set_raw_header("X-Test", "one").unwrap();
    p.set_raw_header("x-test", "two").unwrap();
    assert_eq!(p.raw_headers().count(), 1);
    assert_eq!(p.raw_header("X-TEST"), Some(&b"two"[..]));
    p.set_form_data("we\"ird\r\nname", Some("f\"ile.txt"));
    assert_eq!(
        p.raw_header("content-disposition"),
        Some(&b"form-data; name=\"we%22ird%0D%0Aname\"; filename=\"f%22ile.txt\""[..])
    );
}

#[test]
fn file_parts_are_streamed_and_sizes_add_up() {
    let largest = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let len = 3 * 1024 * 1024;
    let mut m = HttpMultiPart::new(ContentType::FormData);
    let mut file = HttpPart::new();
    file.set_form_data("big", Some("big.bin"));
    file.set_body_reader(
        Box::new(Pattern {
            left: len,
            pos: 0,
            largest_request: largest.clone(),
        }),
        Some(len),
    );
    m.append(file);
    let size = m.size().unwrap();
    let boundary = m.boundary().to_string();
    let mut reader = m.into_reader();
    let mut buf = [0u8; 8192];
    let mut all = Vec::new();
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    assert_eq!(all.len() as u64, size);
    let head_len = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &all[head_len..head_len + len as usize];
    assert!(body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(all.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
    assert!(largest.load(std::sync::atomic::Ordering::Relaxed) <= 8192);
}

#[test]
fn unknown_size_and_short_reader() {
    let mut m = HttpMultiPart::new(ContentType::Mixed);
    m.set_boundary("b").unwrap();
    let mut p = HttpPart::new();
    p.set_body_reader(Box::new(Cursor::new(b"abc".to_vec())), None);
    m.append(p);
    assert_eq!(m.size(), None);
    let r = m.into_reader();
    assert_eq!(r.size(), None);
    assert_eq!(read_in_chunks(r, 2), b"--b\r\n\r\nabc\r\n--b--\r\n");

    // A reader shorter than its declared size is an error, not a silently short body.
    let mut m = HttpMultiPart::new(ContentType::Mixed);
    let mut p = HttpPart::new();
    p.set_body_reader(Box::new(Cursor::new(b"abc".to_vec())), Some(10));
    m.append(p);
    let mut out = Vec::new();
    let err = m.into_reader().read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

    // A longer one is cut at the declared size, so the announced length stays true.
    let mut m = HttpMultiPart::new(ContentType::Mixed);
    m.set_boundary("b").unwrap();
    let mut p = HttpPart::new();
    p.set_body_reader(Box::new(Cursor::new(b"abcdef".to_vec())), Some(2));
    m.append(p);
    let size = m.size().unwrap();
    let bytes = read_in_chunks(m.into_reader(), 1);
    assert_eq!(bytes, b"--b\r\n\r\nab\r\n--b--\r\n");
    assert_eq!(size, bytes.len() as u64);
}
