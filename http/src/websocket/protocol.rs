//! The WebSocket protocol after the handshake, for either role, sans-IO: bytes from the
//! peer in ([`Protocol::feed`]), events out ([`Protocol::poll`]), and frames to send queued
//! by the send calls ([`Protocol::take_output`]). It checks everything RFC 6455 asks of a
//! received frame (masking by role, reserved bits and opcodes, control frame size and
//! fragmentation, continuation order, UTF-8 in text and close reasons, close codes that may
//! be sent, the size limits) and reports a violation with the close code to fail with; it
//! answers pings and the peer's close frame itself; with permessage-deflate negotiated it
//! compresses and decompresses messages, the decompressed size bounded by the message limit.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::close_code::CloseCode;
use super::deflate::{DeflateParams, Deflater, InflateError, Inflater};
use super::frame::{
    apply_mask, decode_header, encode_header, FrameHeader, HeaderError, MaskKeys, OpCode,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};

/// Which end of the connection this is: a client masks its frames and expects unmasked
/// ones; a server the opposite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

/// What the peer sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A text frame's text (the valid UTF-8 it completes) and whether it ended the message
    /// (only when [`Protocol::set_frame_events`] asked for frames).
    TextFrame(String, bool),
    /// A binary frame's payload and whether it ended the message (idem).
    BinaryFrame(Bytes, bool),
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping (already answered).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame: its code and reason, if it gave one. Answered with a close
    /// frame unless one was sent before; nothing after it is read.
    Close(Option<(u16, String)>),
}

/// A protocol violation by the peer: the connection must be failed with `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub code: CloseCode,
    /// What was wrong, for the error string.
    pub what: &'static str,
}

impl Violation {
    fn protocol(what: &'static str) -> Violation {
        Violation {
            code: CloseCode::ProtocolError,
            what,
        }
    }
}

/// A message being received.
struct Incoming {
    text: bool,
    compressed: bool,
    /// The payload so far (decompressed).
    data: Vec<u8>,
    /// Where the current frame's payload starts in `data` (for frame events).
    frame_start: usize,
    /// How much of `data` is checked UTF-8 (text).
    valid_up_to: usize,
    /// The current frame's compressed payload (a compressed message only).
    deflated: Vec<u8>,
    /// Wire bytes of the message so far (compressed: the compressed size).
    wire: u64,
}

/// The frame whose payload is being received.
struct Receiving {
    header: FrameHeader,
    got: u64,
}

/// The state of one WebSocket connection after its handshake.
pub(crate) struct Protocol {
    role: Role,
    max_frame: u64,
    max_message: u64,
    outgoing_frame_size: usize,
    frame_events: bool,
    keys: Option<MaskKeys>,
    deflater: Option<Deflater>,
    inflater: Option<Inflater>,
    input: BytesMut,
    frame: Option<Receiving>,
    message: Option<Incoming>,
    control: Vec<u8>,
    events: VecDeque<Event>,
    output: Vec<Bytes>,
    staged: BytesMut,
    close_sent: bool,
    close_received: bool,
    failed: bool,
}

impl Protocol {
    /// A connection in `role`, with permessage-deflate when `deflate` was negotiated.
    pub(crate) fn new(role: Role, deflate: Option<DeflateParams>) -> Protocol {
        let (deflater, inflater) = match deflate {
            Some(p) => {
                let (mine, theirs) = match role {
                    Role::Client => (p.client_no_context_takeover, p.server_no_context_takeover),
                    Role::Server => (p.server_no_context_takeover, p.client_no_context_takeover),
                };
                (Some(Deflater::new(mine)), Some(Inflater::new(theirs)))
            }
            None => (None, None),
        };
        Protocol {
            role,
            max_frame: u64::MAX,
            max_message: u64::MAX,
            outgoing_frame_size: usize::MAX,
            frame_events: false,
            keys: (role == Role::Client).then(MaskKeys::default),
            deflater,
            inflater,
            input: BytesMut::new(),
            frame: None,
            message: None,
            control: Vec::new(),
            events: VecDeque::new(),
            output: Vec::new(),
            staged: BytesMut::new(),
            close_sent: false,
            close_received: false,
            failed: false,
        }
    }

    /// The largest frame payload accepted (1009 beyond).
    pub(crate) fn set_max_frame_size(&mut self, size: u64) {
        self.max_frame = size;
    }

    /// The largest message accepted, decompressed (1009 beyond).
    pub(crate) fn set_max_message_size(&mut self, size: u64) {
        self.max_message = size;
    }

    /// The largest frame payload sent: longer messages are fragmented.
    pub(crate) fn set_outgoing_frame_size(&mut self, size: usize) {
        self.outgoing_frame_size = size.max(1);
    }

    /// Whether [`Event::TextFrame`] and [`Event::BinaryFrame`] are produced.
    pub(crate) fn set_frame_events(&mut self, on: bool) {
        self.frame_events = on;
    }

    /// Whether permessage-deflate is in use.
    pub(crate) fn is_compressed(&self) -> bool {
        self.deflater.is_some()
    }

    /// Whether a close frame was sent.
    #[cfg(test)]
    pub(crate) fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Whether the peer's close frame arrived.
    pub(crate) fn close_received(&self) -> bool {
        self.close_received
    }

    /// Whether a frame or a message is partly received.
    pub(crate) fn in_progress(&self) -> bool {
        self.frame.is_some() || self.message.is_some() || !self.input.is_empty()
    }

    /// Takes the bytes the peer sent (leaving `data` empty; no copy when nothing is
    /// pending).
    pub(crate) fn feed(&mut self, data: &mut BytesMut) {
        if self.close_received || self.failed {
            data.clear();
            return;
        }
        self.input.unsplit(data.split());
    }

    /// The next event, `Ok(None)` when more input is needed. After a violation (and its
    /// close frame, queued here) nothing more is read.
    pub(crate) fn poll(&mut self) -> Result<Option<Event>, Violation> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            if self.failed || self.close_received {
                return Ok(None);
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(v) => {
                    self.failed = true;
                    self.input.clear();
                    self.message = None;
                    self.frame = None;
                    self.send_close(v.code.code(), "");
                    return Err(v);
                }
            }
        }
    }

    /// Reads as far as the input goes; true if it made progress.
    fn step(&mut self) -> Result<bool, Violation> {
        let Some(frame) = &mut self.frame else {
            return self.start_frame();
        };
        if self.input.is_empty() && frame.got < frame.header.len {
            return Ok(false);
        }
        let header = frame.header;
        let n = (header.len - frame.got).min(self.input.len() as u64) as usize;
        let mut chunk = self.input.split_to(n);
        if let Some(mask) = header.mask {
            apply_mask(&mut chunk, mask, frame.got);
        }
        frame.got += n as u64;
        let done = frame.got == header.len;
        if header.opcode.is_control() {
            self.control.extend_from_slice(&chunk);
        } else {
            let message = self.message.as_mut().expect("a data frame has a message");
            if message.compressed {
                message.deflated.extend_from_slice(&chunk);
            } else {
                message.data.extend_from_slice(&chunk);
            }
        }
        if done {
            self.frame = None;
            if header.opcode.is_control() {
                self.end_control(header.opcode)?;
            } else {
                self.end_data(header.fin)?;
            }
        }
        Ok(true)
    }

    /// Decodes and checks the next header.
    fn start_frame(&mut self) -> Result<bool, Violation> {
        let decoded = decode_header(&self.input[..self.input.len().min(MAX_HEADER_LEN)]).map_err(
            |e| match e {
                HeaderError::ReservedOpcode(_) => Violation::protocol("reserved opcode"),
                HeaderError::LengthTooLong => Violation::protocol("frame length over 2^63"),
                HeaderError::NonMinimalLength => {
                    Violation::protocol("frame length not in its shortest form")
                }
            },
        )?;
        let Some((header, len)) = decoded else {
            return Ok(false);
        };
        if header.rsv23 {
            return Err(Violation::protocol("reserved bits set"));
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(Violation::protocol("unmasked client frame")),
            (Role::Client, true) => return Err(Violation::protocol("masked server frame")),
            _ => {}
        }
        if header.opcode.is_control() {
            if header.len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(Violation::protocol("control frame over 125 bytes"));
            }
            if !header.fin {
                return Err(Violation::protocol("fragmented control frame"));
            }
            if header.rsv1 {
                return Err(Violation::protocol("compressed control frame"));
            }
            self.control.clear();
        } else {
            if header.len > self.max_frame {
                return Err(Violation {
                    code: CloseCode::TooMuchData,
                    what: "frame too big",
                });
            }
            match (header.opcode, &mut self.message) {
                (OpCode::Continuation, None) => {
                    return Err(Violation::protocol("continuation frame without a message"));
                }
                (OpCode::Continuation, Some(_)) if header.rsv1 => {
                    return Err(Violation::protocol("RSV1 on a continuation frame"));
                }
                (OpCode::Continuation, Some(m)) => m.frame_start = m.data.len(),
                (_, Some(_)) => {
                    return Err(Violation::protocol("new message inside a fragmented one"));
                }
                (op, None) => {
                    if header.rsv1 && self.inflater.is_none() {
                        return Err(Violation::protocol("RSV1 set without permessage-deflate"));
                    }
                    self.message = Some(Incoming {
                        text: op == OpCode::Text,
                        compressed: header.rsv1,
                        data: Vec::new(),
                        frame_start: 0,
                        valid_up_to: 0,
                        deflated: Vec::new(),
                        wire: 0,
                    });
                }
            }
            let message = self.message.as_mut().expect("just set");
            message.wire += header.len;
            if message.wire > self.max_message {
                return Err(Violation {
                    code: CloseCode::TooMuchData,
                    what: "message too big",
                });
            }
            // Room for the frame, but not more than 1 MiB ahead of its bytes: a header
            // alone must not cost its length in memory.
            if !message.compressed {
                message.data.reserve((header.len as usize).min(1 << 20));
            }
        }
        let _ = self.input.split_to(len);
        self.frame = Some(Receiving { header, got: 0 });
        Ok(true)
    }

    fn end_control(&mut self, opcode: OpCode) -> Result<(), Violation> {
        let payload = Bytes::copy_from_slice(&self.control);
        match opcode {
            OpCode::Ping => {
                if !self.close_sent {
                    self.queue_frame(OpCode::Pong, &payload, true, false);
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => self.events.push_back(Event::Pong(payload)),
            _ => {
                let close = match payload.len() {
                    0 => None,
                    1 => return Err(Violation::protocol("close frame with a 1-byte payload")),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        if !CloseCode::from(code).may_be_sent() {
                            return Err(Violation::protocol("close code that may not be sent"));
                        }
                        let reason = std::str::from_utf8(&payload[2..]).map_err(|_| Violation {
                            code: CloseCode::WrongDatatype,
                            what: "close reason is not UTF-8",
                        })?;
                        Some((code, reason.to_owned()))
                    }
                };
                self.close_received = true;
                self.input.clear();
                if !self.close_sent {
                    // Echo the code (RFC 6455, 5.5.1) and the reason.
                    match &close {
                        Some((code, reason)) => self.send_close(*code, reason),
                        None => self.send_close_empty(),
                    }
                }
                self.events.push_back(Event::Close(close));
            }
        }
        Ok(())
    }

    fn end_data(&mut self, fin: bool) -> Result<(), Violation> {
        let limit = usize::try_from(self.max_message).unwrap_or(usize::MAX);
        let message = self.message.as_mut().expect("a data frame has a message");
        if message.compressed {
            let inflater = self.inflater.as_mut().expect("negotiated");
            let too_big = Violation {
                code: CloseCode::TooMuchData,
                what: "message too big once inflated",
            };
            let corrupt = Violation::protocol("invalid compressed data");
            let result = inflater
                .inflate(&message.deflated, &mut message.data, limit)
                .and_then(|()| {
                    if fin {
                        inflater.finish_message(&mut message.data, limit)
                    } else {
                        Ok(())
                    }
                });
            message.deflated.clear();
            match result {
                Ok(()) => {}
                Err(InflateError::TooBig) => return Err(too_big),
                Err(InflateError::Corrupt) => return Err(corrupt),
            }
        }
        if message.text {
            let rest = &message.data[message.valid_up_to..];
            let valid = match std::str::from_utf8(rest) {
                Ok(s) => s.len(),
                // An incomplete character at the end may be finished by the next frame.
                Err(e) if e.error_len().is_none() && !fin => e.valid_up_to(),
                Err(_) => {
                    return Err(Violation {
                        code: CloseCode::WrongDatatype,
                        what: "invalid UTF-8 in a text message",
                    })
                }
            };
            let from = message.valid_up_to;
            message.valid_up_to += valid;
            if self.frame_events {
                let text = std::str::from_utf8(&message.data[from..message.valid_up_to])
                    .expect("checked")
                    .to_owned();
                self.events.push_back(Event::TextFrame(text, fin));
            }
        } else if self.frame_events {
            let part = Bytes::copy_from_slice(&message.data[message.frame_start..]);
            self.events.push_back(Event::BinaryFrame(part, fin));
        }
        if fin {
            let message = self.message.take().expect("checked above");
            let data = message.data;
            self.events.push_back(if message.text {
                // Checked piece by piece above.
                Event::Text(String::from_utf8(data).map_err(|_| Violation {
                    code: CloseCode::WrongDatatype,
                    what: "invalid UTF-8 in a text message",
                })?)
            } else {
                Event::Binary(Bytes::from(data))
            });
        }
        Ok(())
    }

    // --- sending ---------------------------------------------------------------------------

    /// Whether messages may still be sent (no close frame sent, no violation).
    pub(crate) fn can_send(&self) -> bool {
        !self.close_sent && !self.failed
    }

    /// Queues a text or binary message, compressed when negotiated, in frames of at most
    /// the outgoing frame size; returns the frames' wire size.
    pub(crate) fn send_message(&mut self, text: bool, payload: Bytes) -> usize {
        if !self.can_send() {
            return 0;
        }
        let before = self.queued();
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let (payload, compressed) = match &mut self.deflater {
            Some(deflater) => {
                let mut out = Vec::with_capacity(payload.len() / 2 + 64);
                deflater.compress_message(&payload, &mut out);
                (Bytes::from(out), true)
            }
            None => (payload, false),
        };
        let size = self.outgoing_frame_size;
        let mut at: usize = 0;
        loop {
            let end = payload.len().min(at.saturating_add(size));
            let fin = end == payload.len();
            let op = if at == 0 {
                opcode
            } else {
                OpCode::Continuation
            };
            self.queue_payload(op, payload.slice(at..end), fin, compressed && at == 0);
            at = end;
            if fin {
                break;
            }
        }
        self.queued() - before
    }

    /// Queues a ping (payload cut to 125 bytes).
    pub(crate) fn send_ping(&mut self, payload: &[u8]) {
        if self.can_send() {
            let n = payload.len().min(MAX_CONTROL_PAYLOAD);
            self.queue_frame(OpCode::Ping, &payload[..n], true, false);
        }
    }

    /// Queues a close frame with `code` and `reason` (cut at a character boundary to fit
    /// 125 bytes); nothing more can be sent after it.
    pub(crate) fn send_close(&mut self, code: u16, reason: &str) {
        if self.close_sent {
            return;
        }
        let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut payload = Vec::with_capacity(2 + end);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        self.queue_frame(OpCode::Close, &payload, true, false);
        self.close_sent = true;
    }

    /// Queues a close frame without a code (the answer to one without a code).
    fn send_close_empty(&mut self) {
        if !self.close_sent {
            self.queue_frame(OpCode::Close, &[], true, false);
            self.close_sent = true;
        }
    }

    /// The frames queued since the last call, in order.
    pub(crate) fn take_output(&mut self) -> Vec<Bytes> {
        if !self.staged.is_empty() {
            self.output.push(self.staged.split().freeze());
        }
        std::mem::take(&mut self.output)
    }

    fn queued(&self) -> usize {
        self.staged.len() + self.output.iter().map(Bytes::len).sum::<usize>()
    }

    fn queue_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool, rsv1: bool) {
        let key = self.keys.as_mut().map(MaskKeys::next_key);
        encode_header(
            &mut self.staged,
            fin,
            rsv1,
            opcode,
            key,
            payload.len() as u64,
        );
        let start = self.staged.len();
        self.staged.extend_from_slice(payload);
        if let Some(key) = key {
            apply_mask(&mut self.staged[start..], key, 0);
        }
    }

    /// Like `queue_frame`, but a server's large payload is queued as it is, without a copy.
    fn queue_payload(&mut self, opcode: OpCode, payload: Bytes, fin: bool, rsv1: bool) {
        if self.keys.is_some() || payload.len() < 4096 {
            return self.queue_frame(opcode, &payload, fin, rsv1);
        }
        encode_header(
            &mut self.staged,
            fin,
            rsv1,
            opcode,
            None,
            payload.len() as u64,
        );
        self.output.push(self.staged.split().freeze());
        self.output.push(payload);
    }
}

#[cfg(test)]
mod tests;
