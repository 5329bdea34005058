//! A pre-check of the frames an HTTP/2 client sends, run on a server connection's inbound
//! bytes before the h2 crate reads them: bytes in, verdict out.
//!
//! h2 finds most protocol errors itself but answers several of them with PROTOCOL_ERROR
//! where RFC 9113 and RFC 7541 ask for a specific code. This check finds those first:
//!
//! - FRAME_SIZE_ERROR: PRIORITY, RST_STREAM, PING, WINDOW_UPDATE, GOAWAY or SETTINGS of the
//!   wrong length, a SETTINGS ACK with a payload, any frame above our
//!   SETTINGS_MAX_FRAME_SIZE (RFC 9113, 4.2 and 6);
//! - FLOW_CONTROL_ERROR: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (6.5.2);
//! - STREAM_CLOSED: DATA or HEADERS on a stream the client already ended (END_STREAM or
//!   RST_STREAM), half-closed (remote) or closed (5.1); for DATA a stream error
//!   ([`StreamError`]), for HEADERS a connection error (its header block must be decoded to
//!   keep the HPACK state both sides share, and h2 would decode it only to end the
//!   connection);
//! - COMPRESSION_ERROR: a header block HPACK cannot decode (RFC 7541): index 0 or beyond the
//!   tables, a table size update after a field or above the limit, an invalid Huffman
//!   string, an integer overflow, a block cut short.
//!
//! A connection error ([`Violation`]) ends the connection with GOAWAY and that code. A stream
//! error ([`StreamError`]) takes the offending frame out of the bytes h2 reads (its header
//! now, its payload as it arrives, [`FramePrecheck::drop_payload`]); the caller answers it
//! with RST_STREAM. A stream error whose frame header began in an earlier read (some of it
//! already passed to h2) is a connection error instead (RFC 9113, 5.4: any stream error
//! may be). Everything else passes to h2, which stays the judge of the rest of the
//! protocol.
//!
//! The fast path parses 9-byte frame headers and skips payloads; only SETTINGS and header
//! blocks are read (in place when a frame arrived whole). HPACK is checked without being
//! decoded ([`hpack`]). Memory is bounded: one frame's payload at most (it is never larger
//! than SETTINGS_MAX_FRAME_SIZE), one header block up to a limit (past it, HPACK is no
//! longer checked and h2 alone judges), and a bounded window of recent streams.

mod hpack;
mod huffman;

use std::collections::VecDeque;

use ::h2::Reason;

use self::hpack::HpackCheck;

/// The client connection preface (RFC 9113, 3.4): h2 checks it; it is skipped here.
const PREFACE_LEN: usize = 24;
const HEADER_LEN: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
/// The largest flow-control window (RFC 9113, 6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The HPACK table size h2 announces (it keeps the default SETTINGS_HEADER_TABLE_SIZE).
const HEADER_TABLE_SIZE: usize = 4096;
/// Client streams whose state is remembered; older ones are forgotten (then h2 alone
/// judges frames on them).
const RECENT_STREAMS: usize = 256;

/// A frame the client must not have sent: the connection ends with GOAWAY(`reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// How many octets of the checked bytes come before the offending frame (h2 may read
    /// them); the offending frame and everything after it must not reach h2.
    pub pass: usize,
    /// The error code for the GOAWAY.
    pub reason: Reason,
}

/// A frame the client may not send on its stream, to be answered with RST_STREAM(`reason`)
/// while the connection goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamError {
    /// How many octets of the checked bytes come before the offending frame (h2 may read
    /// them).
    pub pass: usize,
    /// Where the offending frame's header ends in the checked bytes: its payload follows,
    /// to be taken out with [`FramePrecheck::drop_payload`], then checking goes on.
    pub header_end: usize,
    /// The stream.
    pub stream: u32,
    /// The error code for the RST_STREAM.
    pub reason: Reason,
    /// The frame's flow-controlled length: the client counted it against the connection's
    /// window, which h2 (never seeing the frame) will not give back.
    pub flow_len: u32,
}

/// What a check rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A connection error: GOAWAY.
    Connection(Violation),
    /// A stream error: RST_STREAM, and the connection goes on.
    Stream(StreamError),
}

/// What a frame header tells (see [`FramePrecheck::on_head`]).
enum HeadError {
    Connection(Reason),
    Stream(Reason),
}

impl From<Reason> for HeadError {
    fn from(reason: Reason) -> HeadError {
        HeadError::Connection(reason)
    }
}

/// A frame header (RFC 9113, 4.1).
#[derive(Debug, Clone, Copy)]
struct Head {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl Head {
    fn parse(h: &[u8; HEADER_LEN]) -> Head {
        Head {
            len: (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// The client's side of a stream, as far as the client's own frames tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Above every stream the client opened.
    Idle,
    /// Opened, not ended by the client.
    Open,
    /// The client sent END_STREAM or RST_STREAM on it: it may send no more DATA or HEADERS.
    Ended,
    /// Not remembered (never opened, or forgotten): h2 judges.
    Unknown,
}

/// The client-initiated streams seen recently, in id order.
#[derive(Debug, Default)]
struct ClientStreams {
    highest: u32,
    /// (stream id, ended by the client)
    recent: VecDeque<(u32, bool)>,
}

impl ClientStreams {
    fn side(&self, id: u32) -> Side {
        if id > self.highest {
            return Side::Idle;
        }
        match self.recent.binary_search_by_key(&id, |&(s, _)| s) {
            Ok(i) if self.recent[i].1 => Side::Ended,
            Ok(_) => Side::Open,
            Err(_) => Side::Unknown,
        }
    }

    fn open(&mut self, id: u32, ended: bool) {
        if self.recent.len() == RECENT_STREAMS {
            self.recent.pop_front();
        }
        self.recent.push_back((id, ended));
        self.highest = id;
    }

    fn end(&mut self, id: u32) {
        if let Ok(i) = self.recent.binary_search_by_key(&id, |&(s, _)| s) {
            self.recent[i].1 = true;
        }
    }
}

/// The pre-check of one server connection's inbound bytes (see the module documentation).
#[derive(Debug)]
pub struct FramePrecheck {
    max_frame_size: usize,
    max_block: usize,
    preface_left: usize,
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// The frame whose payload is arriving, and how much of it is still to come.
    frame: Option<Head>,
    remaining: usize,
    /// The arriving payload belongs to a frame taken out for a stream error.
    dropping: bool,
    /// The payload of the current frame, when it is read and did not arrive whole.
    payload: Vec<u8>,
    /// A header block open (HEADERS without END_HEADERS): its fragments so far.
    block: Vec<u8>,
    in_block: bool,
    /// The stream of the open header block.
    block_stream: u32,
    /// `None` once a header block went past `max_block` (HPACK is no longer checked).
    hpack: Option<HpackCheck>,
    streams: ClientStreams,
    failed: Option<Reason>,
    /// RST_STREAM frames the client sent on its streams (the rapid-reset guard counts them).
    resets: u64,
}

impl FramePrecheck {
    /// A check for a connection that announced `max_frame_size` (SETTINGS_MAX_FRAME_SIZE);
    /// header blocks up to `max_block` octets are checked for HPACK errors.
    pub fn new(max_frame_size: u32, max_block: usize) -> FramePrecheck {
        FramePrecheck {
            max_frame_size: max_frame_size as usize,
            max_block,
            preface_left: PREFACE_LEN,
            header: [0; HEADER_LEN],
            header_len: 0,
            frame: None,
            remaining: 0,
            dropping: false,
            payload: Vec::new(),
            block: Vec::new(),
            in_block: false,
            block_stream: 0,
            hpack: Some(HpackCheck::new(HEADER_TABLE_SIZE)),
            streams: ClientStreams::default(),
            failed: None,
            resets: 0,
        }
    }

    /// How many RST_STREAM frames the client sent on its streams so far.
    pub fn resets_received(&self) -> u64 {
        self.resets
    }

    /// Whether a violation was found (nothing more may reach h2).
    pub fn violated(&self) -> bool {
        self.failed.is_some()
    }

    /// How many of `bytes` (the next the client sent) belong to the payload of a frame
    /// taken out for a stream error: they must not reach h2. Call before [`Self::check`]
    /// and check the rest.
    pub fn drop_payload(&mut self, bytes: &[u8]) -> usize {
        if !self.dropping {
            return 0;
        }
        let n = self.remaining.min(bytes.len());
        self.remaining -= n;
        if self.remaining == 0 {
            self.dropping = false;
            self.frame = None;
        }
        n
    }

    /// Checks the next `bytes` the client sent (after [`Self::drop_payload`]). Checking
    /// stops at the first rejection; after a stream error it goes on with the bytes after
    /// the offending frame's header. Once a connection error was found, every later call
    /// reports it again (with nothing to pass).
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), Rejection> {
        if let Some(reason) = self.failed {
            return Err(Rejection::Connection(Violation { pass: 0, reason }));
        }
        debug_assert!(!self.dropping || bytes.is_empty());
        let mut pos = self.preface_left.min(bytes.len());
        self.preface_left -= pos;
        // Where the current frame starts in `bytes` (0: in an earlier call), and whether
        // its header began in `bytes`.
        let mut frame_start = 0;
        let mut header_here = false;
        while pos < bytes.len() {
            let Some(head) = self.frame else {
                if self.header_len == 0 {
                    frame_start = pos;
                    header_here = true;
                }
                let take = (HEADER_LEN - self.header_len).min(bytes.len() - pos);
                self.header[self.header_len..self.header_len + take]
                    .copy_from_slice(&bytes[pos..pos + take]);
                self.header_len += take;
                pos += take;
                if self.header_len < HEADER_LEN {
                    break;
                }
                self.header_len = 0;
                let head = Head::parse(&self.header);
                match self.on_head(head) {
                    Ok(()) => {}
                    Err(HeadError::Stream(reason)) if header_here => {
                        self.frame = (head.len > 0).then_some(head);
                        self.remaining = head.len;
                        self.dropping = head.len > 0;
                        return Err(Rejection::Stream(StreamError {
                            pass: frame_start,
                            header_end: pos,
                            stream: head.stream,
                            reason,
                            flow_len: head.len as u32,
                        }));
                    }
                    Err(HeadError::Stream(reason) | HeadError::Connection(reason)) => {
                        return Err(Rejection::Connection(self.fail(frame_start, reason)));
                    }
                }
                self.frame = Some(head);
                self.remaining = head.len;
                if head.len == 0 {
                    self.frame = None;
                    let result = match self.reads_payload(head) {
                        true => self.on_payload(head, &[]),
                        false => Ok(()),
                    };
                    if let Err(reason) = result {
                        return Err(Rejection::Connection(self.fail(frame_start, reason)));
                    }
                }
                continue;
            };
            let take = self.remaining.min(bytes.len() - pos);
            let chunk = &bytes[pos..pos + take];
            pos += take;
            self.remaining -= take;
            if !self.reads_payload(head) {
                if self.remaining == 0 {
                    self.frame = None;
                }
                continue;
            }
            let result = if self.remaining == 0 && self.payload.is_empty() {
                // The whole payload arrived at once: checked in place.
                self.frame = None;
                self.on_payload(head, chunk)
            } else {
                self.payload.extend_from_slice(chunk);
                if self.remaining > 0 {
                    continue;
                }
                self.frame = None;
                let payload = std::mem::take(&mut self.payload);
                let result = self.on_payload(head, &payload);
                self.payload = payload;
                self.payload.clear();
                result
            };
            if let Err(reason) = result {
                return Err(Rejection::Connection(self.fail(frame_start, reason)));
            }
        }
        Ok(())
    }

    fn fail(&mut self, pass: usize, reason: Reason) -> Violation {
        self.failed = Some(reason);
        self.payload = Vec::new();
        self.block = Vec::new();
        Violation { pass, reason }
    }

    /// Whether the payload of `head` is read (SETTINGS values, header blocks).
    fn reads_payload(&self, head: Head) -> bool {
        match head.kind {
            SETTINGS => head.stream == 0 && !head.has(ACK),
            HEADERS | CONTINUATION => self.hpack.is_some(),
            _ => false,
        }
    }

    /// What a frame header alone tells.
    fn on_head(&mut self, head: Head) -> Result<(), HeadError> {
        if head.len > self.max_frame_size {
            return Err(Reason::FRAME_SIZE_ERROR.into());
        }
        let stray = match head.kind {
            CONTINUATION => !self.in_block || head.stream != self.block_stream,
            HEADERS => self.in_block || head.stream == 0,
            _ => self.in_block,
        };
        if stray {
            // A frame h2 rejects as a connection error (PROTOCOL_ERROR) before decoding
            // any header block in it: h2 has the last word. Header blocks are no longer
            // followed (the connection is ending).
            self.hpack = None;
            self.block = Vec::new();
            self.in_block = false;
            return Ok(());
        }
        let wrong_len = match head.kind {
            PRIORITY => head.len != 5,
            RST_STREAM | WINDOW_UPDATE => head.len != 4,
            PING => head.len != 8,
            GOAWAY => head.len < 8,
            SETTINGS if head.stream == 0 => {
                !head.len.is_multiple_of(6) || (head.has(ACK) && head.len != 0)
            }
            _ => false,
        };
        if wrong_len {
            return Err(Reason::FRAME_SIZE_ERROR.into());
        }
        let client_stream = head.stream % 2 == 1;
        match head.kind {
            DATA if client_stream => match self.streams.side(head.stream) {
                Side::Ended => return Err(HeadError::Stream(Reason::STREAM_CLOSED)),
                Side::Open if head.has(END_STREAM) => self.streams.end(head.stream),
                _ => {}
            },
            HEADERS => {
                self.in_block = !head.has(END_HEADERS);
                self.block_stream = head.stream;
                self.block.clear();
                if client_stream {
                    match self.streams.side(head.stream) {
                        Side::Ended => return Err(Reason::STREAM_CLOSED.into()),
                        Side::Idle => self.streams.open(head.stream, head.has(END_STREAM)),
                        Side::Open if head.has(END_STREAM) => self.streams.end(head.stream),
                        _ => {}
                    }
                }
            }
            RST_STREAM if client_stream => {
                self.resets += 1;
                self.streams.end(head.stream);
            }
            CONTINUATION => self.in_block = !head.has(END_HEADERS),
            _ => {}
        }
        Ok(())
    }

    /// What a frame's payload tells (frames [`Self::reads_payload`] selects).
    fn on_payload(&mut self, head: Head, payload: &[u8]) -> Result<(), Reason> {
        match head.kind {
            SETTINGS => {
                for setting in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([setting[0], setting[1]]);
                    let value =
                        u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
                    if id == SETTINGS_INITIAL_WINDOW_SIZE && value > MAX_WINDOW {
                        return Err(Reason::FLOW_CONTROL_ERROR);
                    }
                }
                Ok(())
            }
            HEADERS => {
                let fragment = header_fragment(head, payload).ok_or(Reason::PROTOCOL_ERROR)?;
                if head.has(END_HEADERS) {
                    self.check_block(fragment)
                } else {
                    self.extend_block(fragment);
                    Ok(())
                }
            }
            CONTINUATION if head.has(END_HEADERS) && !self.block.is_empty() => {
                self.extend_block(payload);
                let block = std::mem::take(&mut self.block);
                let result = self.check_block(&block);
                self.block = block;
                self.block.clear();
                result
            }
            CONTINUATION if head.has(END_HEADERS) => self.check_block(payload),
            CONTINUATION => {
                self.extend_block(payload);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn extend_block(&mut self, fragment: &[u8]) {
        if self.block.len() + fragment.len() > self.max_block {
            // Beyond what is checked: h2 alone judges from here on.
            self.hpack = None;
            self.block = Vec::new();
            return;
        }
        self.block.extend_from_slice(fragment);
    }

    fn check_block(&mut self, block: &[u8]) -> Result<(), Reason> {
        match &mut self.hpack {
            Some(hpack) => hpack
                .check_block(block)
                .map_err(|_| Reason::COMPRESSION_ERROR),
            None => Ok(()),
        }
    }
}

/// The header block fragment of a HEADERS payload (without padding and priority fields),
/// or `None` if the padding does not fit (RFC 9113, 6.2: PROTOCOL_ERROR).
fn header_fragment(head: Head, payload: &[u8]) -> Option<&[u8]> {
    let mut start = 0;
    let mut pad = 0;
    if head.has(PADDED) {
        pad = usize::from(*payload.first()?);
        start = 1;
    }
    if head.has(PRIORITY_FLAG) {
        start += 5;
    }
    let end = payload.len().checked_sub(pad)?;
    payload.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn opening() -> Vec<u8> {
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        out.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
        out
    }

    const GET: &[u8] = &[0x82, 0x86, 0x84, 0x41, 1, b'h'];

    /// Feeds `bytes` in pieces of `piece` octets; the first violation.
    fn feed(bytes: &[u8], piece: usize) -> Result<(), (usize, Reason)> {
        let mut check = FramePrecheck::new(16_384, 65_536);
        let mut offset = 0;
        for chunk in bytes.chunks(piece) {
            match check.check(chunk) {
                Ok(()) => {}
                Err(Rejection::Connection(v)) => return Err((offset + v.pass, v.reason)),
                Err(Rejection::Stream(e)) => return Err((offset + e.pass, e.reason)),
            }
            offset += chunk.len();
        }
        Ok(())
    }

    /// The same verdict, at the same place, whatever the read sizes.
    fn verdict(bytes: &[u8]) -> Result<(), (usize, Reason)> {
        let whole = feed(bytes, bytes.len());
        for piece in [1, 2, 7, 9, 10, 100] {
            let split = feed(bytes, piece);
            match (whole, split) {
                (Ok(()), Ok(())) => {}
                // With split reads, the offending frame's first octets may have passed in an
                // earlier read (h2 then holds part of a frame), never anything after it.
                (Err((at, r)), Err((split_at, s))) => {
                    assert_eq!(r, s, "piece {piece}");
                    assert!(
                        split_at == at || (split_at > at && split_at % piece == 0),
                        "piece {piece}: {split_at} for {at}"
                    );
                }
                other => panic!("piece {piece}: {other:?}"),
            }
        }
        whole
    }

    #[test]
    fn a_normal_exchange_passes_whatever_the_read_sizes() {
        let mut bytes = opening();
        bytes.extend(frame(SETTINGS, ACK, 0, &[]));
        bytes.extend(frame(HEADERS, END_HEADERS, 1, GET));
        bytes.extend(frame(DATA, 0, 1, &[7; 3000]));
        bytes.extend(frame(DATA, END_STREAM, 1, &[7; 10]));
        bytes.extend(frame(HEADERS, END_STREAM, 3, &GET[..3]));
        bytes.extend(frame(CONTINUATION, END_HEADERS, 3, &[0x84, 0xbe]));
        bytes.extend(frame(PING, 0, 0, &[1; 8]));
        bytes.extend(frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
        bytes.extend(frame(PRIORITY, 0, 5, &[0, 0, 0, 0, 16]));
        bytes.extend(frame(RST_STREAM, 0, 3, &[0, 0, 0, 8]));
        bytes.extend(frame(0xee, 0, 0, b"unknown"));
        assert_eq!(verdict(&bytes), Ok(()));
    }

    #[test]
    fn wrong_lengths_are_frame_size_errors_at_their_frame() {
        let start = opening().len();
        for bad in [
            frame(PRIORITY, 0, 1, &[0; 4]),
            frame(RST_STREAM, 0, 1, &[0; 3]),
            frame(SETTINGS, 0, 0, &[0; 5]),
            frame(SETTINGS, ACK, 0, &[0; 6]),
            frame(PING, 0, 0, &[0; 9]),
            frame(GOAWAY, 0, 0, &[0; 7]),
            frame(WINDOW_UPDATE, 0, 0, &[0; 5]),
            frame(DATA, 0, 1, &[0; 16_385]),
        ] {
            let mut bytes = opening();
            bytes.extend(&bad);
            bytes.extend(frame(PING, 0, 0, &[0; 8]));
            assert_eq!(
                verdict(&bytes),
                Err((start, Reason::FRAME_SIZE_ERROR)),
                "{:x?}",
                &bad[..9]
            );
        }
    }

    #[test]
    fn initial_window_size_above_the_maximum_is_a_flow_control_error() {
        let mut bytes = opening();
        bytes.extend(frame(SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]));
        assert_eq!(
            verdict(&bytes),
            Err((opening().len(), Reason::FLOW_CONTROL_ERROR))
        );
        let mut bytes = opening();
        bytes.extend(frame(SETTINGS, 0, 0, &[0, 4, 0x7f, 0xff, 0xff, 0xff]));
        assert_eq!(verdict(&bytes), Ok(()));
    }

    #[test]
    fn frames_on_streams_the_client_ended_are_stream_closed() {
        let mut base = opening();
        base.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, GET));
        base.extend(frame(HEADERS, END_HEADERS, 3, GET));
        base.extend(frame(RST_STREAM, 0, 3, &[0, 0, 0, 8]));
        let at = base.len();
        for (stream, late) in [
            (1, frame(DATA, 0, 1, b"x")),
            (1, frame(HEADERS, END_HEADERS | END_STREAM, 1, GET)),
            (3, frame(DATA, 0, 3, b"x")),
        ] {
            let mut bytes = base.clone();
            bytes.extend(late);
            assert_eq!(
                verdict(&bytes),
                Err((at, Reason::STREAM_CLOSED)),
                "stream {stream}"
            );
        }
        // Trailers end an open stream; DATA after them is too late.
        let mut bytes = opening();
        bytes.extend(frame(HEADERS, END_HEADERS, 1, GET));
        bytes.extend(frame(DATA, 0, 1, b"x"));
        bytes.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &[0x40, 1, b't', 1, b'1'],
        ));
        let at = bytes.len();
        bytes.extend(frame(DATA, 0, 1, b"x"));
        assert_eq!(verdict(&bytes), Err((at, Reason::STREAM_CLOSED)));
    }

    #[test]
    fn data_on_an_ended_stream_is_a_stream_error_and_checking_goes_on_after_it() {
        let mut base = opening();
        base.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, GET));
        let at = base.len();
        let mut bytes = base.clone();
        bytes.extend(frame(DATA, 0, 1, &[7; 300]));
        let after = bytes.len();
        bytes.extend(frame(PING, 0, 0, &[0; 8]));
        bytes.extend(frame(PING, 0, 0, &[0; 7]));
        // Whole: the error, then its payload is dropped, then the rest is checked.
        let mut check = FramePrecheck::new(16_384, 65_536);
        let Err(Rejection::Stream(e)) = check.check(&bytes) else {
            panic!("no stream error");
        };
        assert_eq!((e.pass, e.header_end, e.stream), (at, at + 9, 1));
        assert_eq!((e.reason, e.flow_len), (Reason::STREAM_CLOSED, 300));
        assert_eq!(check.drop_payload(&bytes[e.header_end..]), 300);
        assert_eq!(check.drop_payload(&bytes[after..]), 0);
        let Err(Rejection::Connection(v)) = check.check(&bytes[after..]) else {
            panic!("the bad PING after it was not found");
        };
        assert_eq!((v.pass, v.reason), (17, Reason::FRAME_SIZE_ERROR));
        // The payload arriving in pieces is dropped piece by piece.
        let mut check = FramePrecheck::new(16_384, 65_536);
        let Err(Rejection::Stream(e)) = check.check(&bytes[..at + 9 + 100]) else {
            panic!("no stream error");
        };
        assert_eq!(check.drop_payload(&bytes[e.header_end..at + 9 + 100]), 100);
        assert_eq!(check.drop_payload(&bytes[at + 109..]), 200);
        assert_eq!(check.check(&bytes[after..after + 17]), Ok(()));
        // A header split across reads after its first octet was passed: a connection error.
        let mut check = FramePrecheck::new(16_384, 65_536);
        assert_eq!(check.check(&bytes[..at + 2]), Ok(()));
        assert_eq!(
            check.check(&bytes[at + 2..]),
            Err(Rejection::Connection(Violation {
                pass: 0,
                reason: Reason::STREAM_CLOSED
            }))
        );
    }

    #[test]
    fn bad_hpack_is_a_compression_error_across_continuations() {
        let mut bytes = opening();
        bytes.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, GET));
        bytes.extend(frame(HEADERS, END_STREAM, 3, &[0x82, 0x86]));
        bytes.extend(frame(CONTINUATION, 0, 3, &[0x84]));
        // Index 63: only one dynamic entry (62) exists. The block is judged when complete:
        // h2 holds the first fragments and never gets the last.
        let at = bytes.len();
        bytes.extend(frame(CONTINUATION, END_HEADERS, 3, &[0xbf]));
        assert_eq!(verdict(&bytes), Err((at, Reason::COMPRESSION_ERROR)));
        // Padding and priority fields are not part of the block.
        let mut bytes = opening();
        let mut payload = vec![2, 0, 0, 0, 0, 16];
        payload.extend(GET);
        payload.extend([0, 0]);
        bytes.extend(frame(
            HEADERS,
            END_HEADERS | PADDED | PRIORITY_FLAG,
            1,
            &payload,
        ));
        bytes.extend(frame(HEADERS, END_HEADERS, 3, &[0x82, 0xbe]));
        assert_eq!(verdict(&bytes), Ok(()));
    }

    #[test]
    fn frames_h2_rejects_before_decoding_are_left_to_h2() {
        // Undecodable blocks (index 0) where h2 answers PROTOCOL_ERROR without decoding them:
        // a CONTINUATION without HEADERS, one for another stream, HEADERS inside a block,
        // HEADERS on stream 0.
        let bad = [0x80];
        let mut cases = Vec::new();
        cases.push(frame(CONTINUATION, END_HEADERS, 1, &bad));
        let mut other_stream = frame(HEADERS, 0, 1, GET);
        other_stream.extend(frame(CONTINUATION, END_HEADERS, 3, &bad));
        cases.push(other_stream);
        let mut nested = frame(HEADERS, 0, 1, GET);
        nested.extend(frame(HEADERS, END_HEADERS, 3, &bad));
        cases.push(nested);
        cases.push(frame(HEADERS, END_HEADERS, 0, &bad));
        for case in cases {
            let mut bytes = opening();
            bytes.extend(case);
            assert_eq!(verdict(&bytes), Ok(()));
        }
    }

    #[test]
    fn past_a_violation_nothing_passes() {
        let mut check = FramePrecheck::new(16_384, 65_536);
        let mut bytes = opening();
        bytes.extend(frame(PING, 0, 0, &[0; 7]));
        assert!(check.check(&bytes).is_err());
        assert_eq!(
            check.check(&frame(PING, 0, 0, &[0; 8])),
            Err(Rejection::Connection(Violation {
                pass: 0,
                reason: Reason::FRAME_SIZE_ERROR
            }))
        );
    }

    #[test]
    fn an_oversized_header_block_is_left_to_h2() {
        let mut check = FramePrecheck::new(16_384, 100);
        let mut bytes = opening();
        bytes.extend(frame(HEADERS, 0, 1, &[0x00; 80]));
        bytes.extend(frame(CONTINUATION, END_HEADERS, 1, &[0x00; 80]));
        // Not checked any more (h2 rejects such blocks by itself), and not kept.
        bytes.extend(frame(HEADERS, END_HEADERS, 3, &[0x80]));
        assert_eq!(check.check(&bytes), Ok(()));
        assert!(check.block.capacity() == 0 && check.hpack.is_none());
    }
}
