//! The client exchange driven with byte slices: request out with its accounting, response
//! in, the keep-alive and resend decisions, and bad input giving the right error.

use bytes::{Bytes, BytesMut};
use http::header::CONNECTION;
use http::{HeaderValue, Method, StatusCode};
use proptest::prelude::*;

use super::*;

/// An exchange for `method` started with `body`, and the bytes it wrote.
fn started(method: Method, body: BodyLength, reused: bool) -> (ClientExchange, BytesMut) {
    let head = RequestHead::new(method.clone(), "/x");
    let mut exchange = ClientExchange::new(&method, reused, true);
    let mut out = BytesMut::new();
    exchange.start(&head, body, &mut out);
    (exchange, out)
}

/// Feeds `input` in one piece (then EOF if `close`) and collects events until the response
/// ends, more is needed, or an error.
fn run(
    exchange: &mut ClientExchange,
    input: &[u8],
    close: bool,
) -> (Vec<ResponseEvent>, Option<ExchangeError>) {
    let mut buf = BytesMut::from(input);
    let mut events = Vec::new();
    let mut step = |exchange: &mut ClientExchange, buf: &mut BytesMut| loop {
        match exchange.decode(buf) {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    };
    if let Some(e) = step(exchange, &mut buf) {
        return (events, Some(e));
    }
    if close {
        exchange.closed();
        if let Some(e) = step(exchange, &mut buf) {
            return (events, Some(e));
        }
    }
    (events, None)
}

fn data_of(events: &[ResponseEvent]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            ResponseEvent::Data(d) => Some(d.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn a_get_is_sent_answered_and_keeps_the_connection() {
    let (mut exchange, out) = started(Method::GET, BodyLength::Empty, false);
    assert!(out.starts_with(b"GET /x HTTP/1.1\r\n"));
    assert_eq!(exchange.send_total(), Some(out.len() as u64));
    assert!(!exchange.is_sent(), "nothing reported written yet");
    assert!(!exchange.wants_body());
    assert_eq!(exchange.bytes_written(5), 0);
    assert_eq!(exchange.unwritten(), out.len() as u64 - 5);
    // Ten more bytes than the request: they belong to a request written behind it.
    assert_eq!(exchange.bytes_written(out.len() as u64 + 5), 10);
    assert!(exchange.is_sent());
    assert_eq!(exchange.written(), out.len() as u64);
    let (events, error) = run(
        &mut exchange,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        false,
    );
    assert_eq!(error, None);
    assert!(matches!(&events[0], ResponseEvent::Interim(s, _) if *s == StatusCode::CONTINUE));
    assert!(matches!(&events[1], ResponseEvent::Head(h) if h.status == 200));
    assert_eq!(data_of(&events), b"hello");
    assert!(matches!(events.last(), Some(ResponseEvent::End { .. })));
    assert!(exchange.response_started());
    assert!(exchange.is_done());
    assert!(exchange.keep_alive());
    assert!(!exchange.upload_stopped());
}

#[test]
fn a_body_with_a_length_goes_out_uncopied_and_is_accounted() {
    let (mut exchange, head) = started(Method::POST, BodyLength::Known(10), false);
    let head_len = head.len() as u64;
    assert_eq!(exchange.send_total(), Some(head_len + 10));
    assert!(exchange.wants_body());
    let mut out = BytesMut::new();
    let piece = Bytes::from_static(b"01234");
    let passed = exchange.send_body(piece.clone(), &mut out).unwrap();
    assert_eq!(passed.as_ref().map(|p| p.as_ptr()), Some(piece.as_ptr()));
    assert!(out.is_empty());
    // Past the announced length: an error, nothing queued.
    let too_much = exchange.send_body(Bytes::from_static(b"0123456789"), &mut out);
    assert!(matches!(too_much, Err(H1Error::BodyLengthMismatch { .. })));
    // Short at the end: an error too.
    let mut short = started(Method::POST, BodyLength::Known(10), false).0;
    short
        .send_body(Bytes::from_static(b"abc"), &mut out)
        .unwrap();
    assert!(short.finish_body(&mut out).is_err());

    exchange
        .send_body(Bytes::from_static(b"56789"), &mut out)
        .unwrap();
    exchange.finish_body(&mut out).unwrap();
    assert!(out.is_empty());
    assert!(!exchange.wants_body());
    assert_eq!(exchange.bytes_written(head_len + 3), 0);
    assert_eq!(exchange.body_written(), 3);
    assert!(!exchange.is_sent());
    exchange.bytes_written(7);
    assert_eq!(exchange.body_written(), 10);
    assert!(exchange.is_sent());
    // No body after the end.
    assert!(exchange
        .send_body(Bytes::from_static(b"x"), &mut out)
        .is_err());
}

#[test]
fn a_body_of_unknown_length_is_chunked() {
    let (mut exchange, head) = started(Method::PUT, BodyLength::Unknown, false);
    assert!(head.ends_with(b"transfer-encoding: chunked\r\n\r\n"));
    assert_eq!(exchange.send_total(), None);
    let mut out = BytesMut::new();
    let passed = exchange
        .send_body(Bytes::from_static(b"hello"), &mut out)
        .unwrap();
    assert_eq!(passed, None);
    exchange.finish_body(&mut out).unwrap();
    assert_eq!(&out[..], b"5\r\nhello\r\n0\r\n\r\n");
    exchange.bytes_written(head.len() as u64 + out.len() as u64);
    assert!(exchange.is_sent());
    assert_eq!(exchange.body_written(), out.len() as u64);
}

#[test]
fn an_early_answer_stops_the_upload_and_the_connection_is_not_reused() {
    let (mut exchange, head) = started(Method::POST, BodyLength::Known(1000), false);
    exchange.bytes_written(head.len() as u64);
    let mut out = BytesMut::new();
    exchange
        .send_body(Bytes::from(vec![b'x'; 100]), &mut out)
        .unwrap();
    let (events, error) = run(
        &mut exchange,
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    assert_eq!(error, None);
    assert!(matches!(events.last(), Some(ResponseEvent::End { .. })));
    assert!(exchange.upload_stopped());
    assert!(!exchange.wants_body());
    assert!(exchange.is_sent(), "nothing more is owed");
    assert!(!exchange.keep_alive());
}

#[test]
fn keep_alive_follows_the_request_and_the_response() {
    // The request asked to close.
    let mut head = RequestHead::new(Method::GET, "/");
    head.headers
        .insert(CONNECTION, HeaderValue::from_static("close"));
    let mut exchange = ClientExchange::new(&Method::GET, false, true);
    let mut out = BytesMut::new();
    exchange.start(&head, BodyLength::Empty, &mut out);
    exchange.bytes_written(out.len() as u64);
    run(
        &mut exchange,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    assert!(exchange.is_done());
    assert!(!exchange.keep_alive());

    // The response asked to close, or is HTTP/1.0 without keep-alive, or close-delimited.
    for response in [
        &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nto the end",
    ] {
        let (mut exchange, out) = started(Method::GET, BodyLength::Empty, false);
        exchange.bytes_written(out.len() as u64);
        let (events, error) = run(&mut exchange, response, true);
        assert_eq!(error, None, "{}", String::from_utf8_lossy(response));
        assert!(matches!(events.last(), Some(ResponseEvent::End { .. })));
        assert!(
            !exchange.keep_alive(),
            "{}",
            String::from_utf8_lossy(response)
        );
    }

    // HTTP/1.0 with keep-alive keeps it.
    let (mut exchange, out) = started(Method::GET, BodyLength::Empty, false);
    exchange.bytes_written(out.len() as u64);
    run(
        &mut exchange,
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    assert!(exchange.keep_alive());
}

#[test]
fn a_reused_connection_closed_before_the_response_resends_once() {
    // Reused, nothing received, resendable: send again.
    let (mut exchange, _) = started(Method::GET, BodyLength::Empty, true);
    assert!(exchange.resend_on_loss());
    let (events, error) = run(&mut exchange, b"", true);
    assert!(events.is_empty());
    assert_eq!(error, Some(ExchangeError::Resend));

    // A fresh connection: the close is reported.
    let (mut exchange, _) = started(Method::GET, BodyLength::Empty, false);
    assert_eq!(
        run(&mut exchange, b"", true).1,
        Some(ExchangeError::ClosedBeforeResponse)
    );

    // Already resent once (or a body that cannot be replayed): reported.
    let mut exchange = ClientExchange::new(&Method::GET, true, false);
    assert!(!exchange.resend_on_loss());
    assert_eq!(
        run(&mut exchange, b"", true).1,
        Some(ExchangeError::ClosedBeforeResponse)
    );

    // Part of a head came: the server did answer; the cut is reported, not resent.
    let (mut exchange, _) = started(Method::GET, BodyLength::Empty, true);
    let (_, error) = run(&mut exchange, b"HTTP/1.1 200", true);
    assert_eq!(
        error,
        Some(ExchangeError::Truncated(H1Error::IncompleteHead))
    );
    assert!(!exchange.resend_on_loss());
}

#[test]
fn reuse_starts_a_new_exchange_on_the_same_connection() {
    let (mut exchange, out) = started(Method::GET, BodyLength::Empty, false);
    exchange.bytes_written(out.len() as u64);
    let (_, error) = run(
        &mut exchange,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        false,
    );
    assert_eq!(error, None);
    assert!(exchange.keep_alive());
    exchange.reuse(&Method::HEAD, true, true);
    assert!(!exchange.response_started());
    assert!(!exchange.is_sent());
    let head = RequestHead::new(Method::HEAD, "/");
    let mut out = BytesMut::new();
    exchange.start(&head, BodyLength::Empty, &mut out);
    exchange.bytes_written(out.len() as u64);
    // A HEAD response has no body whatever its Content-Length says.
    let (events, error) = run(
        &mut exchange,
        b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        false,
    );
    assert_eq!(error, None);
    assert!(matches!(events.last(), Some(ResponseEvent::End { .. })));
    assert!(exchange.keep_alive());
}

#[test]
fn bad_responses_give_the_right_error() {
    let limits = Limits {
        max_head_bytes: 256,
        ..Limits::default()
    };
    let oversized = format!("HTTP/1.1 200 OK\r\nX-Filler: {}\r\n\r\n", "a".repeat(1000));
    let cases: Vec<(&[u8], bool, ExchangeError)> = vec![
        (
            b"garbage\r\n\r\n",
            false,
            ExchangeError::Malformed(H1Error::InvalidStatusLine),
        ),
        (
            b"HTTP/1.1 abc Nope\r\n\r\n",
            false,
            ExchangeError::Malformed(H1Error::InvalidStatusLine),
        ),
        (
            oversized.as_bytes(),
            false,
            ExchangeError::Malformed(H1Error::HeadersTooLarge),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            true,
            ExchangeError::Truncated(H1Error::TruncatedBody),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            true,
            ExchangeError::Truncated(H1Error::TruncatedBody),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false,
            ExchangeError::Malformed(H1Error::InvalidChunkSize),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            false,
            ExchangeError::Malformed(H1Error::ConflictingContentLength),
        ),
    ];
    for (input, close, expected) in cases {
        let mut exchange = ClientExchange::with_limits(&Method::GET, limits, true, true);
        let mut out = BytesMut::new();
        exchange.start(
            &RequestHead::new(Method::GET, "/"),
            BodyLength::Empty,
            &mut out,
        );
        exchange.bytes_written(out.len() as u64);
        let (_, error) = run(&mut exchange, input, close);
        assert_eq!(
            error.as_ref(),
            Some(&expected),
            "{}",
            String::from_utf8_lossy(input)
        );
        assert!(!exchange.keep_alive());
        assert!(error.unwrap().h1_error().is_some());
    }
}

#[test]
fn a_response_body_arrives_in_pieces() {
    let (mut exchange, out) = started(Method::GET, BodyLength::Empty, false);
    exchange.bytes_written(out.len() as u64);
    let response =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for &byte in response.iter() {
        buf.extend_from_slice(&[byte]);
        while let Some(event) = exchange.decode(&mut buf).unwrap() {
            events.push(event);
        }
    }
    assert_eq!(data_of(&events), b"abcde");
    assert!(matches!(events.last(), Some(ResponseEvent::End { .. })));
    assert_eq!(exchange.response_framing(), Framing::Chunked);
    assert!(exchange.keep_alive());
}

/// Decodes until more is needed; the error, if one came.
fn drain(exchange: &mut ClientExchange, buf: &mut BytesMut) -> Option<ExchangeError> {
    loop {
        match exchange.decode(buf) {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

proptest! {
    /// Arbitrary bytes, cut anywhere, closed or not: never a panic, and an error is final.
    #[test]
    fn arbitrary_responses_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..512),
        cut in 0usize..512,
        close in any::<bool>(),
    ) {
        let (mut exchange, out) = started(Method::GET, BodyLength::Empty, true);
        exchange.bytes_written(out.len() as u64);
        let cut = cut.min(input.len());
        let mut buf = BytesMut::from(&input[..cut]);
        let mut failed = drain(&mut exchange, &mut buf);
        if failed.is_none() {
            buf.extend_from_slice(&input[cut..]);
            failed = drain(&mut exchange, &mut buf);
        }
        if failed.is_none() && close {
            exchange.closed();
            failed = drain(&mut exchange, &mut buf);
        }
        if let Some(e) = failed {
            prop_assert!(!exchange.keep_alive());
            prop_assert_eq!(exchange.decode(&mut buf).err(), Some(e));
        }
    }
}
