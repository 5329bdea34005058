//! Codec tests: every representative message decoded one-shot, split at every byte offset and
//! byte by byte must give the same events; malformed input gives its specific error; arbitrary
//! bytes never panic and never make a decoder buffer beyond its limits.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, Version};
use proptest::prelude::*;

use super::*;

/// Everything observable about decoding a byte stream.
#[derive(Debug, Clone, PartialEq)]
struct Outcome<E> {
    /// Events, consecutive `Data` merged (how data is cut depends on the split).
    events: Vec<E>,
    /// `expects_continue()` right after each request head (requests only).
    continues: Vec<bool>,
    error: Option<H1Error>,
    keep_alive: bool,
    /// Bytes left in the buffer at the end (if no error).
    rest: Bytes,
}

/// A decoder under test, so one harness drives both.
trait Decoder {
    type Event: Clone + PartialEq + std::fmt::Debug;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Event>, H1Error>;
    fn eof(&mut self);
    fn keep_alive(&self) -> bool;
    fn data(event: &Self::Event) -> Option<&Bytes>;
    fn make_data(data: Bytes) -> Self::Event;
    fn continues_after(&self, _event: &Self::Event) -> Option<bool> {
        None
    }
    /// Whether the decoder stopped consuming (so leftover bytes may exceed the limits).
    fn finished(&self) -> bool;
}

impl Decoder for ResponseDecoder {
    type Event = ResponseEvent;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, H1Error> {
        ResponseDecoder::decode(self, buf)
    }
    fn eof(&mut self) {
        ResponseDecoder::eof(self)
    }
    fn keep_alive(&self) -> bool {
        ResponseDecoder::keep_alive(self)
    }
    fn data(event: &ResponseEvent) -> Option<&Bytes> {
        match event {
            ResponseEvent::Data(data) => Some(data),
            _ => None,
        }
    }
    fn make_data(data: Bytes) -> ResponseEvent {
        ResponseEvent::Data(data)
    }
    fn finished(&self) -> bool {
        self.is_done()
    }
}

impl Decoder for RequestDecoder {
    type Event = RequestEvent;
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, H1Error> {
        RequestDecoder::decode(self, buf)
    }
    fn eof(&mut self) {
        RequestDecoder::eof(self)
    }
    fn keep_alive(&self) -> bool {
        RequestDecoder::keep_alive(self)
    }
    fn data(event: &RequestEvent) -> Option<&Bytes> {
        match event {
            RequestEvent::Data(data) => Some(data),
            _ => None,
        }
    }
    fn make_data(data: Bytes) -> RequestEvent {
        RequestEvent::Data(data)
    }
    fn continues_after(&self, event: &RequestEvent) -> Option<bool> {
        matches!(event, RequestEvent::Head(_)).then(|| self.expects_continue())
    }
    fn finished(&self) -> bool {
        self.is_closed()
    }
}

/// Feeds `pieces` one after the other (then EOF if asked), decoding after each.
fn run<D: Decoder>(mut decoder: D, pieces: &[&[u8]], eof: bool) -> Outcome<D::Event> {
    let mut out = Outcome {
        events: Vec::new(),
        continues: Vec::new(),
        error: None,
        keep_alive: false,
        rest: Bytes::new(),
    };
    let mut buf = BytesMut::new();
    let drain = |decoder: &mut D, buf: &mut BytesMut, out: &mut Outcome<D::Event>| {
        while out.error.is_none() {
            match decoder.decode(buf) {
                Ok(Some(event)) => {
                    if let Some(flag) = decoder.continues_after(&event) {
                        out.continues.push(flag);
                    }
                    let previous = out.events.last().and_then(D::data);
                    match (previous, D::data(&event)) {
                        (Some(previous), Some(data)) => {
                            let mut joined = BytesMut::from(&previous[..]);
                            joined.extend_from_slice(data);
                            out.events.pop();
                            out.events.push(D::make_data(joined.freeze()));
                        }
                        _ => out.events.push(event),
                    }
                }
                Ok(None) => break,
                Err(error) => out.error = Some(error),
            }
        }
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        drain(&mut decoder, &mut buf, &mut out);
    }
    if eof {
        decoder.eof();
        drain(&mut decoder, &mut buf, &mut out);
    }
    out.keep_alive = decoder.keep_alive();
    // After an error the buffer's contents are meaningless (the connection gets closed).
    if out.error.is_none() {
        out.rest = buf.freeze();
    }
    out
}

/// Decodes `wire` one-shot, split in two at every offset, and byte by byte; all must agree.
/// Returns the one-shot outcome for the caller's own assertions.
fn assert_split_invariant<D: Decoder>(
    make: impl Fn() -> D,
    wire: &[u8],
    eof: bool,
) -> Outcome<D::Event> {
    let whole = run(make(), &[wire], eof);
    for at in 0..=wire.len() {
        let split = run(make(), &[&wire[..at], &wire[at..]], eof);
        assert_eq!(
            split,
            whole,
            "split at {at} of {:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(run(make(), &bytes, eof), whole, "byte by byte");
    whole
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, http::HeaderValue::from_static(value));
    }
    map
}

fn response_head(
    version: Version,
    status: u16,
    reason: &'static str,
    fields: &[(&'static str, &'static str)],
) -> ResponseEvent {
    ResponseEvent::Head(ResponseHead {
        version,
        status: StatusCode::from_u16(status).unwrap(),
        reason: ByteStr::from_static(reason),
        headers: headers(fields),
        raw: Default::default(),
    })
}

fn data(bytes: &'static str) -> ResponseEvent {
    ResponseEvent::Data(Bytes::from_static(bytes.as_bytes()))
}

fn end() -> ResponseEvent {
    ResponseEvent::End {
        trailers: HeaderMap::new(),
    }
}

fn response_decoder(method: Method) -> impl Fn() -> ResponseDecoder {
    move || ResponseDecoder::new(&method)
}

#[test]
fn response_with_content_length() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
    assert_eq!(
        out.events,
        vec![
            response_head(
                Version::HTTP_11,
                200,
                "OK",
                &[("content-length", "5"), ("x-a", "b")]
            ),
            data("hello"),
            end()
        ]
    );
    assert_eq!(out.error, None);
    assert!(out.keep_alive);
}

#[test]
fn response_chunked_with_extensions_and_trailers() {
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value;q=\"a b\"\r\nhello\r\n\
        6 ; ext\r\n world\r\n\
        000\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n\
        HTTP/1.1 204 No Content\r\n\r\n";
    let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
    assert_eq!(
        out.events,
        vec![
            response_head(
                Version::HTTP_11,
                200,
                "OK",
                &[("transfer-encoding", "chunked")]
            ),
            data("hello world"),
            ResponseEvent::End {
                trailers: headers(&[("x-checksum", "abc"), ("x-other", "1")])
            }
        ]
    );
    assert!(out.keep_alive);
    // The next response stays in the buffer.
    assert_eq!(&out.rest[..], b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn response_close_delimited() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    let out = assert_split_invariant(response_decoder(Method::GET), wire, true);
    assert_eq!(
        out.events,
        vec![
            response_head(
                Version::HTTP_11,
                200,
                "OK",
                &[("content-type", "text/plain")]
            ),
            data("until the end"),
            end()
        ]
    );
    assert_eq!(out.error, None);
    assert!(!out.keep_alive);
    // Without EOF the body has not ended.
    let open = run(ResponseDecoder::new(&Method::GET), &[wire], false);
    assert_eq!(open.events.len(), 2);
}

#[test]
fn interim_responses_then_final() {
    let wire = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let out = assert_split_invariant(response_decoder(Method::POST), wire, false);
    assert_eq!(
        out.events,
        vec![
            ResponseEvent::Interim(StatusCode::CONTINUE, HeaderMap::new()),
            ResponseEvent::Interim(
                StatusCode::from_u16(103).unwrap(),
                headers(&[("link", "</a.css>")])
            ),
            response_head(Version::HTTP_11, 200, "OK", &[("content-length", "2")]),
            data("ok"),
            end()
        ]
    );
}

#[test]
fn head_response_has_no_body_despite_content_length() {
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let out = assert_split_invariant(response_decoder(Method::HEAD), wire, false);
    assert_eq!(
        out.events,
        vec![
            response_head(Version::HTTP_11, 200, "OK", &[("content-length", "1000")]),
            end()
        ]
    );
    assert!(out.keep_alive);
    assert!(out.rest.is_empty());
}

#[test]
fn no_body_for_204_and_304() {
    for (wire, status) in [
        (
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1"[..],
            204,
        ),
        (
            &b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\nHTTP/1.1"[..],
            304,
        ),
    ] {
        let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
        assert_eq!(out.events.len(), 2);
        assert!(matches!(&out.events[0], ResponseEvent::Head(h) if h.status == status));
        assert_eq!(out.events[1], end());
        assert!(out.keep_alive);
        assert_eq!(&out.rest[..], b"HTTP/1.1");
    }
}

#[test]
fn keep_alive_decisions() {
    let cases: [(&[u8], bool); 5] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
            false,
        ),
    ];
    for (wire, keep_alive) in cases {
        let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
        assert_eq!(out.error, None);
        assert_eq!(out.events.last(), Some(&end()));
        assert_eq!(
            out.keep_alive,
            keep_alive,
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn switching_protocols_leaves_the_rest_in_the_buffer() {
    let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
    assert_eq!(out.events.len(), 2);
    assert_eq!(&out.rest[..], b"\x81\x05hello");
    assert!(!out.keep_alive);
    let mut decoder = ResponseDecoder::new(&Method::GET);
    let mut buf = BytesMut::from(&wire[..]);
    while decoder.decode(&mut buf).unwrap().is_some() {}
    assert!(decoder.is_upgrade());

    let tunnel = b"HTTP/1.1 200 Connection established\r\n\r\nTLS";
    let out = assert_split_invariant(response_decoder(Method::CONNECT), tunnel, false);
    assert_eq!(out.events.len(), 2);
    assert_eq!(&out.rest[..], b"TLS");
}

#[test]
fn empty_reason_phrase_and_reuse_after_reset() {
    let mut decoder = ResponseDecoder::new(&Method::HEAD);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200\r\nContent-Length: 3\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc"[..]);
    let Some(ResponseEvent::Head(head)) = decoder.decode(&mut buf).unwrap() else {
        panic!("no head")
    };
    assert_eq!(head.reason, "");
    assert_eq!(decoder.decode(&mut buf).unwrap(), Some(end()));
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    decoder.reset(&Method::GET);
    let Some(ResponseEvent::Head(head)) = decoder.decode(&mut buf).unwrap() else {
        panic!("no second head")
    };
    assert_eq!(head.reason, "Not Found");
    assert_eq!(decoder.decode(&mut buf).unwrap(), Some(data("abc")));
    assert_eq!(decoder.framing(), Framing::Length(3));
}

#[test]
fn body_data_is_not_copied() {
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    let body_start = buf.as_ptr() as usize + buf.len() - 10;
    let mut decoder = ResponseDecoder::new(&Method::GET);
    decoder.decode(&mut buf).unwrap();
    let Some(ResponseEvent::Data(body)) = decoder.decode(&mut buf).unwrap() else {
        panic!("no data")
    };
    assert_eq!(body.as_ptr() as usize, body_start);
}

fn request_head(
    method: Method,
    target: &'static str,
    version: Version,
    fields: &[(&'static str, &'static str)],
) -> RequestEvent {
    RequestEvent::Head(RequestHead {
        method,
        target: ByteStr::from_static(target),
        version,
        headers: headers(fields),
    })
}

fn request_end(fields: &[(&'static str, &'static str)]) -> RequestEvent {
    RequestEvent::End {
        trailers: headers(fields),
    }
}

fn request_data(bytes: &'static str) -> RequestEvent {
    RequestEvent::Data(Bytes::from_static(bytes.as_bytes()))
}

#[test]
fn pipelined_requests() {
    let wire = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\
        POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\r\n\
        PUT /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n\
        3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n\
        OPTIONS * HTTP/1.0\r\n\r\n";
    let out = assert_split_invariant(RequestDecoder::new, wire, false);
    assert_eq!(
        out.events,
        vec![
            request_head(Method::GET, "/a?x=1", Version::HTTP_11, &[("host", "h")]),
            request_end(&[]),
            request_head(
                Method::POST,
                "/p",
                Version::HTTP_11,
                &[("host", "h"), ("content-length", "3")]
            ),
            request_data("abc"),
            request_end(&[]),
            request_head(
                Method::PUT,
                "/c",
                Version::HTTP_11,
                &[
                    ("host", "h"),
                    ("expect", "100-continue"),
                    ("transfer-encoding", "chunked")
                ]
            ),
            request_data("abcde"),
            request_end(&[("t", "1")]),
            request_head(Method::OPTIONS, "*", Version::HTTP_10, &[]),
            request_end(&[]),
        ]
    );
    assert_eq!(out.continues, vec![false, false, true, false]);
    assert_eq!(out.error, None);
    // The HTTP/1.0 request without keep-alive closes the connection.
    assert!(!out.keep_alive);
}

#[test]
fn connection_close_stops_decoding_and_eof_between_requests_is_clean() {
    let wire = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n";
    let out = assert_split_invariant(RequestDecoder::new, wire, false);
    assert_eq!(out.events.len(), 2);
    assert_eq!(&out.rest[..], b"GET /ignored HTTP/1.1\r\n");

    let wire = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n";
    let out = assert_split_invariant(RequestDecoder::new, wire, true);
    assert_eq!(out.events.len(), 2);
    assert_eq!(out.error, None);

    let mut decoder = RequestDecoder::new();
    let mut buf = BytesMut::new();
    assert!(decoder.is_idle());
    buf.extend_from_slice(b"GET / HT");
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(!decoder.is_idle());
    decoder.eof();
    assert_eq!(decoder.decode(&mut buf), Err(H1Error::IncompleteHead));
}

/// Decodes `wire` (all at once, then EOF) and returns the first error.
fn response_error(method: &Method, limits: Limits, wire: &[u8]) -> Option<H1Error> {
    let out = run(ResponseDecoder::with_limits(method, limits), &[wire], true);
    out.error
}

#[test]
fn malformed_responses() {
    let long_line = format!("HTTP/1.1 200 {}", "a".repeat(9000));
    let too_many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(129));
    let big_header = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(70_000));
    let long_chunk_line = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
        "e".repeat(5000)
    );
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: Vec<(String, H1Error)> = vec![
        (
            "<html><body>hi</body></html>\r\n\r\n".into(),
            H1Error::InvalidStatusLine,
        ),
        ("HTTP/1.1 2x0 OK\r\n\r\n".into(), H1Error::InvalidStatusLine),
        (
            "HTTP/1.1 099 Low\r\n\r\n".into(),
            H1Error::InvalidStatusLine,
        ),
        (
            "HTTP/2.0 200 OK\r\n\r\n".into(),
            H1Error::UnsupportedVersion,
        ),
        (
            "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n".into(),
            H1Error::InvalidHeader,
        ),
        (
            "HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n".into(),
            H1Error::InvalidHeader,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n".into(),
            H1Error::InvalidContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n".into(),
            H1Error::InvalidContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n".into(),
            H1Error::InvalidContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".into(),
            H1Error::ConflictingContentLength,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".into(),
            H1Error::InvalidTransferEncoding,
        ),
        (
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            H1Error::InvalidTransferEncoding,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            H1Error::UnsupportedTransferEncoding,
        ),
        (format!("{chunked}zz\r\n"), H1Error::InvalidChunkSize),
        (format!("{chunked}\r\n"), H1Error::InvalidChunkSize),
        (format!("{chunked}5\n"), H1Error::InvalidChunkSize),
        (
            format!("{chunked}1ffffffffffffffff\r\n"),
            H1Error::ChunkSizeOverflow,
        ),
        (
            format!("{chunked}3\r\nabcX"),
            H1Error::InvalidChunkTerminator,
        ),
        (
            format!("{chunked}0\r\nbad trailer\r\n\r\n"),
            H1Error::InvalidTrailer,
        ),
        (long_chunk_line, H1Error::ChunkLineTooLong),
        (long_line, H1Error::StartLineTooLong),
        (too_many, H1Error::TooManyHeaders),
        (big_header, H1Error::HeadersTooLarge),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".into(),
            H1Error::TruncatedBody,
        ),
        (format!("{chunked}5\r\nab"), H1Error::TruncatedBody),
        (format!("{chunked}5\r\nabcde\r\n"), H1Error::TruncatedBody),
        (
            "HTTP/1.1 200 OK\r\nContent-".into(),
            H1Error::IncompleteHead,
        ),
        (String::new(), H1Error::IncompleteHead),
    ];
    for (wire, expected) in &cases {
        let got = response_error(&Method::GET, Limits::default(), wire.as_bytes());
        assert_eq!(
            got.as_ref(),
            Some(expected),
            "{:?}",
            &wire[..wire.len().min(80)]
        );
        assert!(!expected.to_string().is_empty());
    }
    // Splitting never changes which error is found (the long cases are skipped for speed).
    for (wire, _) in cases.iter().filter(|(w, _)| w.len() < 200) {
        assert_split_invariant(response_decoder(Method::GET), wire.as_bytes(), true);
    }
    let limits = Limits {
        max_body: Some(4),
        ..Limits::default()
    };
    assert_eq!(
        response_error(
            &Method::GET,
            limits,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        ),
        Some(H1Error::BodyTooLarge)
    );
}

fn request_error(limits: Limits, wire: &[u8]) -> Option<H1Error> {
    run(RequestDecoder::with_limits(limits), &[wire], true).error
}

#[test]
fn malformed_requests_map_to_statuses() {
    let small_body = Limits {
        max_body: Some(4),
        ..Limits::default()
    };
    let cases: Vec<(String, Limits, H1Error, u16)> = vec![
        ("GET / HTTP/1.1\r\n\r\n".into(), Limits::default(), H1Error::InvalidHost, 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), Limits::default(), H1Error::InvalidHost, 400),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(), Limits::default(), H1Error::UnsupportedVersion, 505),
        ("GET / FTP/1.1\r\nHost: a\r\n\r\n".into(), Limits::default(), H1Error::InvalidRequestLine, 400),
        ("GET /\r\n\r\n".into(), Limits::default(), H1Error::InvalidRequestLine, 400),
        ("G(T / HTTP/1.1\r\n\r\n".into(), Limits::default(), H1Error::InvalidRequestLine, 400),
        ("GET / HTTP/1.1\r\nHo st: a\r\n\r\n".into(), Limits::default(), H1Error::InvalidHeader, 400),
        (format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000)), Limits::default(), H1Error::StartLineTooLong, 414),
        (
            format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(200)),
            Limits::default(),
            H1Error::TooManyHeaders,
            431,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(70_000)),
            Limits::default(),
            H1Error::HeadersTooLarge,
            431,
        ),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde".into(), small_body, H1Error::BodyTooLarge, 413),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".into(),
            small_body,
            H1Error::BodyTooLarge,
            413,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into(),
            Limits::default(),
            H1Error::UnsupportedTransferEncoding,
            501,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            Limits::default(),
            H1Error::UnsupportedTransferEncoding,
            501,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n".into(),
            Limits::default(),
            H1Error::TransferEncodingWithContentLength,
            400,
        ),
        (
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            Limits::default(),
            H1Error::InvalidTransferEncoding,
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".into(),
            Limits::default(),
            H1Error::ConflictingContentLength,
            400,
        ),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab".into(), Limits::default(), H1Error::TruncatedBody, 400),
    ];
    for (wire, limits, expected, status) in &cases {
        let got = request_error(*limits, wire.as_bytes());
        assert_eq!(
            got.as_ref(),
            Some(expected),
            "{:?}",
            &wire[..wire.len().min(80)]
        );
        assert_eq!(expected.status_hint().as_u16(), *status, "{expected:?}");
    }
    for (wire, limits, _, _) in cases.iter().filter(|(w, ..)| w.len() < 200) {
        let limits = *limits;
        assert_split_invariant(
            move || RequestDecoder::with_limits(limits),
            wire.as_bytes(),
            true,
        );
    }
}

/// An endless header must be rejected once the buffered head exceeds the limit, without
/// waiting for the rest of it.
#[test]
fn oversized_head_is_rejected_as_soon_as_it_exceeds_the_limit() {
    let limits = Limits::default();
    for with_newlines in [false, true] {
        let mut decoder = RequestDecoder::new();
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n");
        let piece: &[u8] = if with_newlines {
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
        } else {
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        };
        let error = loop {
            assert!(buf.len() <= limits.max_head_bytes + piece.len());
            match decoder.decode(&mut buf) {
                Ok(None) => buf.extend_from_slice(piece),
                Ok(Some(event)) => panic!("unexpected {event:?}"),
                Err(error) => break error,
            }
        };
        let expected = if with_newlines {
            H1Error::TooManyHeaders
        } else {
            H1Error::HeadersTooLarge
        };
        assert_eq!(error, expected);
    }
    // With room for the fields, the byte limit is what stops a header block of many lines.
    let many = Limits {
        max_headers: 100_000,
        ..Limits::default()
    };
    let mut decoder = RequestDecoder::with_limits(many);
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a\r\n"[..]);
    let error = loop {
        assert!(buf.len() <= many.max_head_bytes + 16);
        match decoder.decode(&mut buf) {
            Ok(None) => buf.extend_from_slice(b"X-Filler: 12\r\n"),
            Ok(Some(event)) => panic!("unexpected {event:?}"),
            Err(error) => break error,
        }
    };
    assert_eq!(error, H1Error::HeadersTooLarge);
}

#[test]
fn encoded_messages_decode_back() {
    let mut head = RequestHead::from_url(
        Method::POST,
        &url::Url::parse("http://[::1]:8080/up?x=1#frag").unwrap(),
        TargetForm::Absolute,
    );
    head.headers
        .insert("x-custom", http::HeaderValue::from_static("v"));
    assert_eq!(head.target, "http://[::1]:8080/up?x=1");
    let mut wire = BytesMut::new();
    let framing = encode_request(&head, BodyLength::Unknown, &mut wire);
    let mut body = BodyEncoder::new(framing);
    body.encode(b"part one, ", &mut wire).unwrap();
    body.encode(b"part two", &mut wire).unwrap();
    body.finish(&mut wire).unwrap();
    let out = run(RequestDecoder::new(), &[&wire], true);
    let RequestEvent::Head(decoded) = &out.events[0] else {
        panic!("no head")
    };
    assert_eq!(decoded.target, "http://[::1]:8080/up?x=1");
    assert_eq!(decoded.headers["host"], "[::1]:8080");
    assert_eq!(decoded.headers["x-custom"], "v");
    assert_eq!(out.events[1], request_data("part one, part two"));
    assert_eq!(out.error, None);

    let mut response = ResponseHead::new(StatusCode::CREATED);
    response
        .headers
        .insert("etag", http::HeaderValue::from_static("\"1\""));
    let mut wire = BytesMut::new();
    let framing = encode_response_head(&response, &Method::POST, BodyLength::Known(2), &mut wire);
    BodyEncoder::new(framing).encode(b"ok", &mut wire).unwrap();
    let out = run(ResponseDecoder::new(&Method::POST), &[&wire], false);
    let ResponseEvent::Head(decoded) = &out.events[0] else {
        panic!("no head")
    };
    assert_eq!(decoded.status, StatusCode::CREATED);
    assert_eq!(decoded.reason, "Created");
    assert!(decoded.headers.contains_key("date"));
    assert_eq!(out.events[1..], [data("ok"), end()]);
}

/// Small limits so random input reaches them quickly.
fn small_limits() -> Limits {
    Limits {
        max_start_line: 64,
        max_headers: 8,
        max_head_bytes: 256,
        max_chunk_line: 32,
        max_body: Some(4096),
    }
}

const RESPONSE_SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody",
];

const REQUEST_SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
];

/// Feeds `wire` in pieces of the given sizes, asserting after each decode round that a decoder
/// still consuming holds no more than the head limit.
fn feed_checking_bounds<D: Decoder>(
    mut decoder: D,
    wire: &[u8],
    sizes: &[usize],
    limits: &Limits,
    eof: bool,
) {
    let mut buf = BytesMut::new();
    let mut rest = wire;
    let mut sizes = sizes.iter().cycle();
    let round = |decoder: &mut D, buf: &mut BytesMut| -> bool {
        loop {
            match decoder.decode(buf) {
                Ok(Some(_)) => continue,
                Ok(None) => {
                    if !decoder.finished() {
                        assert!(buf.len() <= limits.max_head_bytes, "buffered {}", buf.len());
                    }
                    return true;
                }
                Err(error) => {
                    assert!(!error.to_string().is_empty());
                    // Errors are sticky.
                    assert_eq!(decoder.decode(buf), Err(error));
                    return false;
                }
            }
        }
    };
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if !round(&mut decoder, &mut buf) {
            return;
        }
    }
    if eof {
        decoder.eof();
        round(&mut decoder, &mut buf);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn response_decoder_survives_arbitrary_bytes(
        seed in 0..RESPONSE_SEEDS.len(),
        keep in 0usize..80,
        garbage in proptest::collection::vec(any::<u8>(), 0..400),
        sizes in proptest::collection::vec(1usize..40, 1..8),
        method in prop_oneof![Just(Method::GET), Just(Method::HEAD), Just(Method::CONNECT)],
        eof in any::<bool>(),
    ) {
        let seed = RESPONSE_SEEDS[seed];
        let mut wire = seed[..keep.min(seed.len())].to_vec();
        wire.extend_from_slice(&garbage);
        let limits = small_limits();
        feed_checking_bounds(ResponseDecoder::with_limits(&method, limits), &wire, &sizes, &limits, eof);
    }

    #[test]
    fn request_decoder_survives_arbitrary_bytes(
        seed in 0..REQUEST_SEEDS.len(),
        keep in 0usize..120,
        garbage in proptest::collection::vec(any::<u8>(), 0..400),
        sizes in proptest::collection::vec(1usize..40, 1..8),
        eof in any::<bool>(),
    ) {
        let seed = REQUEST_SEEDS[seed];
        let mut wire = seed[..keep.min(seed.len())].to_vec();
        wire.extend_from_slice(&garbage);
        let limits = small_limits();
        feed_checking_bounds(RequestDecoder::with_limits(limits), &wire, &sizes, &limits, eof);
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_chunking(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(1usize..50, 1..10),
        sizes in proptest::collection::vec(1usize..30, 1..6),
    ) {
        let mut wire = BytesMut::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
        let mut encoder = BodyEncoder::new(Framing::Chunked);
        let mut rest = &body[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*cut).min(rest.len());
            encoder.encode(&rest[..n], &mut wire).unwrap();
            rest = &rest[n..];
        }
        encoder.finish(&mut wire).unwrap();
        let mut pieces = Vec::new();
        let mut remaining = &wire[..];
        for size in sizes.iter().cycle() {
            if remaining.is_empty() {
                break;
            }
            let n = (*size).min(remaining.len());
            pieces.push(&remaining[..n]);
            remaining = &remaining[n..];
        }
        let out = run(ResponseDecoder::new(&Method::GET), &pieces, false);
        prop_assert_eq!(out.error, None);
        let expected_body = match out.events.get(1) {
            Some(ResponseEvent::Data(data)) => data.to_vec(),
            _ => Vec::new(),
        };
        prop_assert_eq!(expected_body, body);
        // A named end: Rust 1.88 (our rust-version) frees the temporary inside the macro.
        let end = end();
        prop_assert_eq!(out.events.last(), Some(&end));
    }
}

/// A decoder that keeps only the raw fields frames every response as the map-building one:
/// same events (heads compare without their fields), same keep-alive verdict, same errors.
#[test]
fn raw_field_decoding_frames_like_the_header_map() {
    let wires: [&[u8]; 7] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
        b"HTTP/1.0 200 OK\r\nCONNECTION: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
        b"HTTP/1.1 200 OK\r\n\r\nuntil close",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\nhi!",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ];
    let raw_only = || {
        let mut decoder = ResponseDecoder::new(&Method::GET);
        decoder.set_header_map(false);
        decoder
    };
    for wire in wires {
        let with_map = run(ResponseDecoder::new(&Method::GET), &[wire], true);
        let raw = assert_split_invariant(raw_only, wire, true);
        let strip = |events: &[ResponseEvent]| -> Vec<ResponseEvent> {
            events
                .iter()
                .map(|e| match e {
                    ResponseEvent::Head(h) => ResponseEvent::Head(ResponseHead {
                        headers: HeaderMap::new(),
                        ..h.clone()
                    }),
                    other => other.clone(),
                })
                .collect()
        };
        let text = String::from_utf8_lossy(wire);
        assert_eq!(strip(&raw.events), strip(&with_map.events), "{text}");
        assert_eq!(raw.keep_alive, with_map.keep_alive, "{text}");
        assert_eq!(raw.error, with_map.error, "{text}");
        if let Some(ResponseEvent::Head(head)) = raw.events.first() {
            assert!(head.headers.is_empty(), "{text}");
            let Some(ResponseEvent::Head(mapped)) = with_map.events.first() else {
                panic!("{text}")
            };
            let from_raw: Vec<(String, Vec<u8>)> = head
                .raw
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
                .collect();
            let from_map: Vec<(String, Vec<u8>)> = mapped
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            assert_eq!(from_raw, from_map, "{text}");
        }
    }
}

/// RFC 9112 section 5.2: a user agent that receives obs-fold in a response replaces each fold
/// with spaces before interpreting the value (as curl does) instead of failing the response.
#[test]
fn obs_fold_in_a_response_header_becomes_spaces() {
    let wire = b"HTTP/1.1 200 OK\r\nX-Folded: first \r\n  second\r\n\tthird\r\n\
        Content-Length: 2\r\n\r\nok";
    let out = assert_split_invariant(response_decoder(Method::GET), wire, false);
    assert_eq!(out.error, None);
    assert_eq!(
        out.events,
        vec![
            response_head(
                Version::HTTP_11,
                200,
                "OK",
                &[
                    ("x-folded", "first     second   third"),
                    ("content-length", "2")
                ]
            ),
            data("ok"),
            end()
        ]
    );
    // The raw fields (what the client's reply shows) carry the same unfolded value.
    let Some(ResponseEvent::Head(head)) = out.events.first() else {
        panic!("no head")
    };
    assert_eq!(
        head.raw.get("x-folded"),
        Some(&b"first     second   third"[..])
    );
    // A raw-fields-only decoder unfolds too.
    let raw_only = || {
        let mut decoder = ResponseDecoder::new(&Method::GET);
        decoder.set_header_map(false);
        decoder
    };
    let raw = assert_split_invariant(raw_only, wire, false);
    let Some(ResponseEvent::Head(head)) = raw.events.first() else {
        panic!("no head")
    };
    assert_eq!(
        head.raw.get("X-Folded"),
        Some(&b"first     second   third"[..])
    );
    assert_eq!(head.raw.get("content-length"), Some(&b"2"[..]));
}

/// A server still rejects obs-fold in a request (RFC 9112 section 5.2 allows either; a fold
/// in a request is a smuggling pattern), and a fold that only hides a bad byte is no excuse.
#[test]
fn obs_fold_stays_an_error_in_requests_and_with_bad_bytes() {
    assert_eq!(
        request_error(
            Limits::default(),
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"
        ),
        Some(H1Error::InvalidHeader)
    );
    assert_eq!(
        response_error(
            &Method::GET,
            Limits::default(),
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\x01\r\n\r\n"
        ),
        Some(H1Error::InvalidHeader)
    );
}

/// A server that sends interim responses forever must not keep the client waiting forever:
/// after `MAX_INTERIM_RESPONSES` of them the response fails, as in CPython, Go and neon.
#[test]
fn endless_interim_responses_are_cut_off() {
    let interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
    let mut decoder = ResponseDecoder::new(&Method::GET);
    let mut buf = BytesMut::new();
    let mut interims = 0;
    let error = loop {
        buf.extend_from_slice(interim);
        match decoder.decode(&mut buf) {
            Ok(Some(ResponseEvent::Interim(..))) => interims += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
        assert!(interims <= MAX_INTERIM_RESPONSES, "never stopped");
    };
    assert_eq!(error, H1Error::TooManyInterimResponses);
    assert_eq!(interims, MAX_INTERIM_RESPONSES);
    assert!(!error.to_string().is_empty());
    // Up to the cap, a final response still comes through; the count restarts per response.
    let mut wire = interim.repeat(MAX_INTERIM_RESPONSES);
    wire.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let mut decoder = ResponseDecoder::new(&Method::GET);
    for _ in 0..2 {
        let out_events = {
            let mut buf = BytesMut::from(&wire[..]);
            let mut events = Vec::new();
            while let Some(event) = decoder.decode(&mut buf).unwrap() {
                events.push(event);
            }
            events
        };
        assert_eq!(out_events.len(), MAX_INTERIM_RESPONSES + 2);
        assert!(matches!(
            out_events[MAX_INTERIM_RESPONSES],
            ResponseEvent::Head(_)
        ));
        decoder.reset(&Method::GET);
    }
}
