//! HTTP/3 frames (RFC 9114 section 7), sans-IO: an incremental reader that hands out DATA
//! payloads as they arrive (never buffering a whole body) and other frames whole, and the
//! writers for the frames slotnet sends.

use bytes::{Buf, Bytes, BytesMut};

use super::varint;

/// Frame types (RFC 9114 section 7.2).
pub(crate) mod kind {
    pub(crate) const DATA: u64 = 0x00;
    pub(crate) const HEADERS: u64 = 0x01;
    pub(crate) const CANCEL_PUSH: u64 = 0x03;
    pub(crate) const SETTINGS: u64 = 0x04;
    pub(crate) const PUSH_PROMISE: u64 = 0x05;
    pub(crate) const GOAWAY: u64 = 0x07;
    pub(crate) const MAX_PUSH_ID: u64 = 0x0d;
}

/// Settings identifiers (RFC 9114 section 7.2.4.1, RFC 9204 section 5).
pub(crate) mod setting {
    pub(crate) const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    pub(crate) const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    pub(crate) const QPACK_BLOCKED_STREAMS: u64 = 0x07;
}

/// HTTP/3 error codes (RFC 9114 section 8.1).
pub(crate) mod code {
    pub(crate) const NO_ERROR: u64 = 0x100;
    pub(crate) const GENERAL_PROTOCOL_ERROR: u64 = 0x101;
    pub(crate) const FRAME_UNEXPECTED: u64 = 0x105;
    pub(crate) const FRAME_ERROR: u64 = 0x106;
    pub(crate) const EXCESSIVE_LOAD: u64 = 0x107;
    pub(crate) const SETTINGS_ERROR: u64 = 0x109;
    pub(crate) const REQUEST_CANCELLED: u64 = 0x10c;
}

/// What the reader produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A piece of a DATA frame's payload (a frame may come in several pieces).
    Data(Bytes),
    /// A HEADERS frame's encoded field section, whole.
    Headers(Bytes),
    /// SETTINGS, as `(identifier, value)` pairs.
    Settings(Vec<(u64, u64)>),
    /// GOAWAY with its stream (or push) id.
    GoAway(u64),
    /// Any other known frame, whole (CANCEL_PUSH, PUSH_PROMISE, MAX_PUSH_ID).
    Other(u64, Bytes),
}

/// A malformed frame: the connection closes with this HTTP/3 error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameError {
    /// The HTTP/3 error code.
    pub(crate) code: u64,
    /// What was wrong.
    pub(crate) why: &'static str,
}

/// Reads frames from one stream's bytes.
pub(crate) struct FrameReader {
    /// Bytes of DATA payload still to come in the current frame.
    data_left: u64,
    /// Bytes of an unknown frame still to skip.
    skip_left: u64,
    /// Largest non-DATA frame accepted whole.
    max_frame: usize,
}

impl FrameReader {
    /// A reader accepting non-DATA frames up to `max_frame` bytes.
    pub(crate) fn new(max_frame: usize) -> FrameReader {
        FrameReader {
            data_left: 0,
            skip_left: 0,
            max_frame,
        }
    }

    /// Whether the input ended on a frame boundary (a stream may only end there).
    pub(crate) fn at_boundary(&self) -> bool {
        self.data_left == 0 && self.skip_left == 0
    }

    /// The next frame (or piece of DATA) from the front of `buf`, consuming it; `None`
    /// when more bytes are needed.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.skip_left > 0 {
                let n = self.skip_left.min(buf.len() as u64) as usize;
                buf.advance(n);
                self.skip_left -= n as u64;
                if self.skip_left > 0 {
                    return Ok(None);
                }
            }
            if self.data_left > 0 {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = self.data_left.min(buf.len() as u64) as usize;
                self.data_left -= n as u64;
                return Ok(Some(Frame::Data(buf.split_to(n).freeze())));
            }
            let Some((kind, a)) = varint::decode(buf) else {
                return Ok(None);
            };
            let Some((len, b)) = varint::decode(&buf[a..]) else {
                return Ok(None);
            };
            match kind {
                kind::DATA => {
                    buf.advance(a + b);
                    self.data_left = len;
                    if len == 0 {
                        return Ok(Some(Frame::Data(Bytes::new())));
                    }
                    continue;
                }
                // HTTP/2 frame types with no HTTP/3 meaning (RFC 9114 section 7.2.8).
                0x02 | 0x06 | 0x08 | 0x09 => {
                    return Err(FrameError {
                        code: code::FRAME_UNEXPECTED,
                        why: "an HTTP/2 frame type",
                    })
                }
                kind::HEADERS
                | kind::SETTINGS
                | kind::GOAWAY
                | kind::CANCEL_PUSH
                | kind::PUSH_PROMISE
                | kind::MAX_PUSH_ID => {}
                _ => {
                    // Unknown and reserved types are skipped (section 9).
                    buf.advance(a + b);
                    self.skip_left = len;
                    continue;
                }
            }
            if len > self.max_frame as u64 {
                return Err(FrameError {
                    code: code::EXCESSIVE_LOAD,
                    why: "frame over the size limit",
                });
            }
            let len = len as usize;
            if buf.len() < a + b + len {
                return Ok(None);
            }
            buf.advance(a + b);
            let payload = buf.split_to(len).freeze();
            return parse(kind, payload).map(Some);
        }
    }
}

fn parse(kind: u64, payload: Bytes) -> Result<Frame, FrameError> {
    let malformed = |why| FrameError {
        code: code::FRAME_ERROR,
        why,
    };
    match kind {
        kind::HEADERS => Ok(Frame::Headers(payload)),
        kind::SETTINGS => {
            let mut settings = Vec::new();
            let mut rest = &payload[..];
            while !rest.is_empty() {
                let (id, a) = varint::decode(rest).ok_or(malformed("SETTINGS cut short"))?;
                let (value, b) =
                    varint::decode(&rest[a..]).ok_or(malformed("SETTINGS cut short"))?;
                rest = &rest[a + b..];
                // HTTP/2 settings must not appear (section 7.2.4.1).
                if matches!(id, 0x02..=0x05) {
                    return Err(FrameError {
                        code: code::SETTINGS_ERROR,
                        why: "an HTTP/2 setting",
                    });
                }
                if settings.iter().any(|&(seen, _)| seen == id) {
                    return Err(FrameError {
                        code: code::SETTINGS_ERROR,
                        why: "a setting twice",
                    });
                }
                settings.push((id, value));
            }
            Ok(Frame::Settings(settings))
        }
        kind::GOAWAY => {
            let (id, a) = varint::decode(&payload).ok_or(malformed("GOAWAY cut short"))?;
            if a != payload.len() {
                return Err(malformed("GOAWAY too long"));
            }
            Ok(Frame::GoAway(id))
        }
        other => Ok(Frame::Other(other, payload)),
    }
}

/// Appends a frame header.
pub(crate) fn write_header(kind: u64, len: u64, out: &mut Vec<u8>) {
    varint::encode(kind, out);
    varint::encode(len, out);
}

/// Appends a SETTINGS frame.
pub(crate) fn write_settings(settings: &[(u64, u64)], out: &mut Vec<u8>) {
    let len: usize = settings
        .iter()
        .map(|&(id, v)| varint::len(id) + varint::len(v))
        .sum();
    write_header(kind::SETTINGS, len as u64, out);
    for &(id, v) in settings {
        varint::encode(id, out);
        varint::encode(v, out);
    }
}

/// Appends a GOAWAY frame.
pub(crate) fn write_goaway(id: u64, out: &mut Vec<u8>) {
    write_header(kind::GOAWAY, varint::len(id) as u64, out);
    varint::encode(id, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(reader: &mut FrameReader, buf: &mut BytesMut) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(f) = reader.next(buf).unwrap() {
            frames.push(f);
        }
        frames
    }

    #[test]
    fn frames_come_out_whole_or_as_data_pieces_whatever_the_input_split() {
        let mut wire = Vec::new();
        write_settings(
            &[(setting::QPACK_MAX_TABLE_CAPACITY, 4096), (0x21, 7)],
            &mut wire,
        );
        write_header(kind::HEADERS, 3, &mut wire);
        wire.extend_from_slice(&[0, 0, 0xd9]);
        write_header(0x21, 2, &mut wire); // a reserved type: skipped
        wire.extend_from_slice(b"zz");
        write_header(kind::DATA, 10, &mut wire);
        wire.extend_from_slice(b"0123456789");
        write_goaway(8, &mut wire);
        // Byte by byte: the same frames, DATA in pieces.
        let mut reader = FrameReader::new(1024);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for &b in &wire {
            buf.extend_from_slice(&[b]);
            frames.extend(read_all(&mut reader, &mut buf));
        }
        let data: Vec<u8> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Data(d) => Some(d.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(data, b"0123456789");
        let others: Vec<&Frame> = frames
            .iter()
            .filter(|f| !matches!(f, Frame::Data(_)))
            .collect();
        assert_eq!(
            others,
            [
                &Frame::Settings(vec![(1, 4096), (0x21, 7)]),
                &Frame::Headers(Bytes::from_static(&[0, 0, 0xd9])),
                &Frame::GoAway(8),
            ]
        );
        assert!(reader.at_boundary());
        // All at once: DATA in one piece.
        let mut reader = FrameReader::new(1024);
        let mut buf = BytesMut::from(&wire[..]);
        let frames = read_all(&mut reader, &mut buf);
        assert_eq!(frames[2], Frame::Data(Bytes::from_static(b"0123456789")));
    }

    #[test]
    fn malformed_frames_are_errors_with_their_codes() {
        let cases: [(&[u8], u64); 4] = [
            (&[0x02, 0x00], code::FRAME_UNEXPECTED),
            (&[0x04, 0x02, 0x02, 0x00], code::SETTINGS_ERROR),
            (&[0x04, 0x04, 0x01, 0x00, 0x01, 0x00], code::SETTINGS_ERROR),
            (&[0x07, 0x02, 0x01, 0x01], code::FRAME_ERROR),
        ];
        for (wire, expected) in cases {
            let err = FrameReader::new(64)
                .next(&mut BytesMut::from(wire))
                .unwrap_err();
            assert_eq!(err.code, expected, "{wire:?}: {}", err.why);
        }
        let mut huge = Vec::new();
        write_header(kind::HEADERS, 1 << 20, &mut huge);
        let err = FrameReader::new(64)
            .next(&mut BytesMut::from(&huge[..]))
            .unwrap_err();
        assert_eq!(err.code, code::EXCESSIVE_LOAD, "refused before buffering");
    }
}
