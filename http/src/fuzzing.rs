//! Entry points for the `cargo fuzz` targets in `fuzz/` (see docs/fuzzing.md).
//!
//! Not part of the API: hidden from the documentation, no stability promise. Most targets use
//! the public parsers directly; this module only reaches the few parsers that are internal
//! (cookie dates, `data:` URLs) and drives the server's WebSocket protocol the way the server
//! does, without a socket.

use std::time::SystemTime;

// The WebSocket entry points drive the server's protocol: they exist with the server.
#[cfg(feature = "server")]
use bytes::BytesMut;

#[cfg(feature = "server")]
use crate::websocket::deflate::DeflateParams;
#[cfg(feature = "server")]
use crate::websocket::protocol::{Protocol, Role};

/// Parses a cookie date (RFC 6265 section 5.1.1), as `Expires` attributes are parsed.
pub fn cookie_date(input: &str) -> Option<SystemTime> {
    crate::cookies::date::parse_cookie_date(input)
}

/// Decodes a `data:` URL as a `data:` request does: its media type and bytes, `None` if the
/// string is not a URL or the URL is malformed.
pub fn data_url(input: &str) -> Option<(String, Vec<u8>)> {
    let url = url::Url::parse(input).ok()?;
    crate::local::decode_data_url(&url).map(|d| (d.media_type, d.data))
}

/// What the server's WebSocket protocol made of some input.
#[cfg(feature = "server")]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketOutcome {
    /// Complete messages (text, binary, ping, pong, close) delivered.
    pub messages: usize,
    /// Bytes the server wrote back (pongs, close frames).
    pub written: usize,
    /// Whether the protocol ended (an error or a close).
    pub ended: bool,
}

/// Feeds `input` (frames a client sent after the upgrade) to a server-side WebSocket
/// configured as `HttpServer` configures it, `piece` bytes at a time, reading messages as the
/// server's connection does after each arrival.
#[cfg(feature = "server")]
pub fn websocket_server(input: &[u8], piece: usize) -> WebSocketOutcome {
    websocket_server_with(input, piece, false)
}

/// [`websocket_server`] with permessage-deflate negotiated when `deflate` (the inflater's
/// size limit and corrupt-input paths).
#[cfg(feature = "server")]
pub fn websocket_server_with(input: &[u8], piece: usize, deflate: bool) -> WebSocketOutcome {
    let max = crate::server::DEFAULT_MAX_MESSAGE_SIZE as u64;
    let mut ws = Protocol::new(Role::Server, deflate.then(DeflateParams::default));
    ws.set_max_frame_size(max);
    ws.set_max_message_size(max);
    let mut outcome = WebSocketOutcome::default();
    for part in input.chunks(piece.max(1)) {
        ws.feed(&mut BytesMut::from(part));
        loop {
            match ws.poll() {
                Ok(Some(_)) => outcome.messages += 1,
                Ok(None) => break,
                Err(_) => {
                    outcome.ended = true;
                    outcome.written += ws.take_output().iter().map(|b| b.len()).sum::<usize>();
                    return outcome;
                }
            }
            outcome.written += ws.take_output().iter().map(|b| b.len()).sum::<usize>();
        }
        if ws.close_received() {
            outcome.ended = true;
            return outcome;
        }
    }
    outcome
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn entry_points_parse_what_the_real_paths_parse() {
        let (_, data) = data_url("data:;base64,aGk=").unwrap();
        assert_eq!(data, b"hi");
        assert!(data_url("not a url").is_none());
        assert!(cookie_date("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert!(cookie_date("no date here").is_none());
        // A masked text frame "hi", then a masked ping, split byte by byte: two messages and
        // a pong written back.
        let text = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        let ping = [0x89, 0x80, 9, 9, 9, 9];
        let frames = [&text[..], &ping[..]].concat();
        let out = websocket_server(&frames, 1);
        assert_eq!(out.messages, 2);
        assert!(!out.ended);
        assert!(out.written > 0);
        // An unmasked client frame is a protocol error.
        assert!(websocket_server(&[0x81, 0x01, b'x'], 64).ended);
    }
}
