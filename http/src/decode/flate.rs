//! `gzip` and `deflate` stages on top of flate2's raw inflater.
//!
//! flate2's `Decompress` is push-based and writes into a caller-sized slice, which is what a
//! bounded streaming decoder needs; the gzip framing (RFC 1952) is parsed here incrementally so
//! no header byte is ever re-parsed and a long file name cannot grow a buffer.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::error::{Coding, DecodeError};
use super::stage::Stage;

/// A raw or zlib-wrapped inflater that reports consumption and production per call.
struct Inflate {
    z: Decompress,
    coding: Coding,
    pending: bool,
}

impl Inflate {
    fn new(zlib_header: bool, coding: Coding) -> Self {
        Inflate {
            z: Decompress::new(zlib_header),
            coding,
            pending: false,
        }
    }

    /// Inflates until `out` is full, the input is exhausted, or the stream ended.
    /// Returns `(consumed, written, stream_end)`.
    fn run(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize, bool), DecodeError> {
        let (mut consumed, mut written) = (0usize, 0usize);
        while written < out.len() {
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(
                    &input[consumed..],
                    &mut out[written..],
                    FlushDecompress::None,
                )
                .map_err(|e| DecodeError::corrupt(self.coding, e.to_string()))?;
            let c = (self.z.total_in() - in0) as usize;
            let w = (self.z.total_out() - out0) as usize;
            consumed += c;
            written += w;
            if status == Status::StreamEnd {
                self.pending = false;
                return Ok((consumed, written, true));
            }
            if c == 0 && w == 0 {
                break;
            }
        }
        // A full output slice may hide more output buffered inside the inflater.
        self.pending = written == out.len();
        Ok((consumed, written, false))
    }
}

/// Incremental parser for the gzip member header (RFC 1952 section 2.3).
struct GzHeader {
    phase: Phase,
    flags: u8,
    fixed: [u8; 10],
    have: usize,
    crc: Crc,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fixed,
    ExtraLen { len: [u8; 2], have: usize },
    Extra { left: usize },
    Name,
    Comment,
    HeaderCrc { crc: [u8; 2], have: usize },
    Done,
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

impl GzHeader {
    fn new() -> Self {
        GzHeader {
            phase: Phase::Fixed,
            flags: 0,
            fixed: [0; 10],
            have: 0,
            crc: Crc::new(),
        }
    }

    fn corrupt(detail: &str) -> DecodeError {
        DecodeError::corrupt(Coding::Gzip, detail)
    }

    /// Consumes header bytes; returns how many were used. The header is complete when
    /// `self.phase == Phase::Done`.
    fn feed(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut pos = 0;
        while pos < input.len() && self.phase != Phase::Done {
            let byte_start = pos;
            match &mut self.phase {
                Phase::Fixed => {
                    let take = (10 - self.have).min(input.len() - pos);
                    self.fixed[self.have..self.have + take]
                        .copy_from_slice(&input[pos..pos + take]);
                    self.have += take;
                    pos += take;
                    if self.have == 10 {
                        if self.fixed[0] != 0x1f || self.fixed[1] != 0x8b {
                            return Err(Self::corrupt("bad magic"));
                        }
                        if self.fixed[2] != 8 {
                            return Err(Self::corrupt("compression method is not deflate"));
                        }
                        self.flags = self.fixed[3];
                        if self.flags & FRESERVED != 0 {
                            return Err(Self::corrupt("reserved flag bits set"));
                        }
                        self.crc.update(&self.fixed);
                        self.phase = self.after(Phase::Fixed);
                    }
                    continue; // the fixed part was added to the CRC as a whole
                }
                Phase::ExtraLen { len, have } => {
                    len[*have] = input[pos];
                    *have += 1;
                    pos += 1;
                    if *have == 2 {
                        let left = u16::from_le_bytes(*len) as usize;
                        self.phase = if left == 0 {
                            self.after(Phase::Extra { left: 0 })
                        } else {
                            Phase::Extra { left }
                        };
                    }
                }
                Phase::Extra { left } => {
                    let take = (*left).min(input.len() - pos);
                    *left -= take;
                    pos += take;
                    if *left == 0 {
                        self.phase = self.after(Phase::Extra { left: 0 });
                    }
                }
                Phase::Name | Phase::Comment => {
                    let which = self.phase;
                    match input[pos..].iter().position(|&b| b == 0) {
                        Some(i) => {
                            pos += i + 1;
                            self.phase = self.after(which);
                        }
                        None => pos = input.len(),
                    }
                }
                Phase::HeaderCrc { crc, have } => {
                    crc[*have] = input[pos];
                    *have += 1;
                    pos += 1;
                    if *have == 2 {
                        let expected = u16::from_le_bytes(*crc);
                        if expected != (self.crc.sum() & 0xffff) as u16 {
                            return Err(Self::corrupt("header CRC mismatch"));
                        }
                        self.phase = Phase::Done;
                    }
                    continue; // the header CRC does not cover itself
                }
                Phase::Done => {}
            }
            self.crc.update(&input[byte_start..pos]);
        }
        Ok(pos)
    }

    /// The phase that follows `done`, skipping the optional fields the flags do not announce.
    fn after(&self, done: Phase) -> Phase {
        let order = [
            (
                FEXTRA,
                Phase::ExtraLen {
                    len: [0; 2],
                    have: 0,
                },
            ),
            (FNAME, Phase::Name),
            (FCOMMENT, Phase::Comment),
            (
                FHCRC,
                Phase::HeaderCrc {
                    crc: [0; 2],
                    have: 0,
                },
            ),
        ];
        let start = match done {
            Phase::Fixed => 0,
            Phase::ExtraLen { .. } | Phase::Extra { .. } => 1,
            Phase::Name => 2,
            Phase::Comment => 3,
            Phase::HeaderCrc { .. } | Phase::Done => 4,
        };
        order[start..]
            .iter()
            .find(|(flag, _)| self.flags & flag != 0)
            .map(|(_, phase)| *phase)
            .unwrap_or(Phase::Done)
    }
}

enum GzState {
    Header(GzHeader),
    Body,
    Trailer {
        buf: [u8; 8],
        have: usize,
    },
    /// A member ended; the next bytes are another member (`1f 8b`) or ignored garbage.
    AfterMember {
        magic: [u8; 2],
        have: usize,
    },
    Trailing,
}

/// The `gzip` stage: one or more gzip members, each CRC32- and length-checked.
pub(super) struct GzipStage {
    state: GzState,
    inflate: Inflate,
    crc: Crc,
}

impl GzipStage {
    pub(super) fn new() -> Self {
        GzipStage {
            state: GzState::Header(GzHeader::new()),
            inflate: Inflate::new(false, Coding::Gzip),
            crc: Crc::new(),
        }
    }

    fn start_member(&mut self) {
        self.inflate = Inflate::new(false, Coding::Gzip);
        self.crc.reset();
        self.state = GzState::Header(GzHeader::new());
    }
}

impl Stage for GzipStage {
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        let (mut consumed, mut written) = (0usize, 0usize);
        loop {
            let rest = &input[consumed..];
            match &mut self.state {
                GzState::Header(h) => {
                    consumed += h.feed(rest)?;
                    if h.phase != Phase::Done {
                        break;
                    }
                    self.state = GzState::Body;
                }
                GzState::Body => {
                    if written == out.len() {
                        break;
                    }
                    let (c, w, end) = self.inflate.run(rest, &mut out[written..])?;
                    self.crc.update(&out[written..written + w]);
                    consumed += c;
                    written += w;
                    if end {
                        self.state = GzState::Trailer {
                            buf: [0; 8],
                            have: 0,
                        };
                    } else if c == 0 || written == out.len() {
                        break;
                    }
                }
                GzState::Trailer { buf, have } => {
                    let take = (8 - *have).min(rest.len());
                    buf[*have..*have + take].copy_from_slice(&rest[..take]);
                    *have += take;
                    consumed += take;
                    if *have < 8 {
                        break;
                    }
                    let crc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    let isize = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    if crc != self.crc.sum() {
                        return Err(DecodeError::corrupt(Coding::Gzip, "CRC32 mismatch"));
                    }
                    // ISIZE is the length modulo 2^32.
                    if isize != self.crc.amount() {
                        return Err(DecodeError::corrupt(Coding::Gzip, "length mismatch"));
                    }
                    self.state = GzState::AfterMember {
                        magic: [0; 2],
                        have: 0,
                    };
                }
                GzState::AfterMember { magic, have } => {
                    if rest.is_empty() {
                        break;
                    }
                    magic[*have] = rest[0];
                    *have += 1;
                    consumed += 1;
                    if magic[..*have] != [0x1f, 0x8b][..*have] {
                        self.state = GzState::Trailing;
                    } else if *have == 2 {
                        self.start_member();
                        if let GzState::Header(h) = &mut self.state {
                            h.feed(&[0x1f, 0x8b])?;
                        }
                    }
                }
                GzState::Trailing => {
                    consumed = input.len();
                    break;
                }
            }
        }
        Ok((consumed, written))
    }

    fn is_complete(&self) -> bool {
        matches!(self.state, GzState::AfterMember { .. } | GzState::Trailing)
    }

    fn has_pending_output(&self) -> bool {
        matches!(self.state, GzState::Body) && self.inflate.pending
    }

    fn coding(&self) -> Coding {
        Coding::Gzip
    }
}

/// The `deflate` stage: a zlib stream, or a raw deflate stream when the first two bytes are not
/// a zlib header (some servers send raw deflate; browsers accept both).
pub(super) struct DeflateStage {
    sniff: [u8; 2],
    sniffed: usize,
    /// Sniffed bytes not yet given to the inflater.
    replay: usize,
    inflate: Option<Inflate>,
    ended: bool,
}

impl DeflateStage {
    pub(super) fn new() -> Self {
        DeflateStage {
            sniff: [0; 2],
            sniffed: 0,
            replay: 0,
            inflate: None,
            ended: false,
        }
    }

    /// RFC 1950: CM = 8, CINFO <= 7 and the header is a multiple of 31. A raw deflate stream
    /// can only match when its first block is a stored block with non-zero padding bits, which
    /// encoders do not write.
    fn is_zlib_header(b: [u8; 2]) -> bool {
        b[0] & 0x0f == 8 && b[0] >> 4 <= 7 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
    }
}

impl Stage for DeflateStage {
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        if self.ended {
            return Ok((input.len(), 0));
        }
        let mut consumed = 0;
        if self.inflate.is_none() {
            let take = (2 - self.sniffed).min(input.len());
            self.sniff[self.sniffed..self.sniffed + take].copy_from_slice(&input[..take]);
            self.sniffed += take;
            consumed += take;
            if self.sniffed < 2 {
                return Ok((consumed, 0));
            }
            let zlib = Self::is_zlib_header(self.sniff);
            self.inflate = Some(Inflate::new(zlib, Coding::Deflate));
            self.replay = 2;
        }
        let Some(inflate) = self.inflate.as_mut() else {
            return Ok((consumed, 0));
        };
        let mut written = 0;
        if self.replay > 0 {
            // Feed the sniffed bytes together with what follows them, so an inflater that wants
            // more than two bytes before it moves can still make progress.
            let follow = (input.len() - consumed).min(64);
            let mut joined = [0u8; 66];
            joined[..self.replay].copy_from_slice(&self.sniff[2 - self.replay..]);
            joined[self.replay..self.replay + follow]
                .copy_from_slice(&input[consumed..consumed + follow]);
            let (c, w, end) = inflate.run(&joined[..self.replay + follow], out)?;
            written += w;
            if c >= self.replay {
                consumed += c - self.replay;
                self.replay = 0;
            } else {
                self.replay -= c;
            }
            if end {
                self.ended = true;
                return Ok((input.len(), written));
            }
            if self.replay > 0 {
                return Ok((consumed, written));
            }
        }
        if written < out.len() {
            let (c, w, end) = inflate.run(&input[consumed..], &mut out[written..])?;
            consumed += c;
            written += w;
            if end {
                self.ended = true;
                consumed = input.len();
            }
        }
        Ok((consumed, written))
    }

    fn is_complete(&self) -> bool {
        self.ended
    }

    fn has_pending_output(&self) -> bool {
        !self.ended && self.inflate.as_ref().is_some_and(|i| i.pending)
    }

    fn coding(&self) -> Coding {
        Coding::Deflate
    }
}
