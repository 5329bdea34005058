//! HTTP/2 on the wire, for tests that write or read frames by hand: the client preface, the
//! frame types and flags they use (RFC 9113 section 6), and a frame builder.

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// DATA frame type.
pub const DATA: u8 = 0x0;
/// HEADERS frame type.
pub const HEADERS: u8 = 0x1;
/// PRIORITY frame type.
pub const PRIORITY: u8 = 0x2;
/// RST_STREAM frame type.
pub const RST_STREAM: u8 = 0x3;
/// SETTINGS frame type.
pub const SETTINGS: u8 = 0x4;
/// PUSH_PROMISE frame type.
pub const PUSH_PROMISE: u8 = 0x5;
/// PING frame type.
pub const PING: u8 = 0x6;
/// GOAWAY frame type.
pub const GOAWAY: u8 = 0x7;
/// WINDOW_UPDATE frame type.
pub const WINDOW_UPDATE: u8 = 0x8;
/// CONTINUATION frame type.
pub const CONTINUATION: u8 = 0x9;

/// SETTINGS and PING: an acknowledgement.
pub const ACK: u8 = 0x1;
/// DATA and HEADERS: the last frame of the stream from this side.
pub const END_STREAM: u8 = 0x1;
/// HEADERS, PUSH_PROMISE and CONTINUATION: the header block ends here.
pub const END_HEADERS: u8 = 0x4;
/// DATA and HEADERS: a pad length byte opens the payload.
pub const PADDED: u8 = 0x8;
/// HEADERS: a stream dependency and weight open the payload.
pub const PRIORITY_FLAG: u8 = 0x20;

/// One frame: the 9-byte header (24-bit length, type, flags, stream id), then `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}
