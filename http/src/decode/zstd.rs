//! The `zstd` stage on ruzstd's frame decoder.
//!
//! ruzstd decodes whole blocks, so this stage cuts the input into units itself: it parses the
//! frame header and each 3-byte block header (RFC 8878 section 3.1.1), gathers exactly one
//! block (at most 128 KiB plus its header) and hands it over. That keeps memory bounded by
//! the window (at most 8 MiB, the limit RFC 9659 sets for HTTP) plus one block, and lets the
//! stage stop decoding whenever the consumer's buffer is full.

use std::io::Read;

use ruzstd::decoding::FrameDecoder;

use super::error::{Coding, DecodeError};
use super::stage::Stage;

const MAGIC: u32 = 0xFD2F_B528;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// RFC 9659: HTTP zstd encoders must not use a window larger than 8 MiB.
const MAX_WINDOW: u64 = 8 * 1024 * 1024;
/// RFC 8878: a block never decodes to more than 128 KiB.
const MAX_BLOCK: usize = 128 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Gathering the 4-byte magic number of the next frame.
    Magic,
    /// Gathering the size field of a skippable frame.
    SkipSize,
    /// Dropping the content of a skippable frame.
    Skip(u64),
    /// Gathering the frame header (its length is known after the descriptor byte).
    FrameHeader,
    /// Gathering a 3-byte block header.
    BlockHeader,
    /// Gathering a block (header and content).
    Block { last: bool },
    /// Gathering the 4-byte content checksum.
    Checksum,
    /// The frame is decoded; its output is being drained.
    Drain,
    /// Ignoring bytes after the last frame.
    Trailing,
}

/// Decodes one or more zstd frames (skippable frames are skipped).
pub(super) struct ZstdStage {
    dec: FrameDecoder,
    buf: Vec<u8>,
    need: usize,
    state: State,
    frames_done: u64,
    has_checksum: bool,
}

fn corrupt(detail: impl Into<String>) -> DecodeError {
    DecodeError::corrupt(Coding::Zstd, detail)
}

impl ZstdStage {
    pub(super) fn new() -> Self {
        let mut dec = FrameDecoder::new();
        dec.set_max_window_size(MAX_WINDOW);
        ZstdStage {
            dec,
            buf: Vec::new(),
            need: 4,
            state: State::Magic,
            frames_done: 0,
            has_checksum: false,
        }
    }

    fn expect(&mut self, state: State, need: usize) {
        self.state = state;
        self.need = need;
    }

    /// Acts on a fully gathered unit in `self.buf`.
    fn process_unit(&mut self) -> Result<(), DecodeError> {
        match self.state {
            State::Magic => {
                let magic =
                    u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                if magic == MAGIC {
                    self.expect(State::FrameHeader, 5);
                } else if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
                    self.expect(State::SkipSize, 8);
                } else if self.frames_done > 0 {
                    self.buf.clear();
                    self.state = State::Trailing;
                } else {
                    return Err(corrupt("bad magic number"));
                }
            }
            State::SkipSize => {
                let size = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
                self.buf.clear();
                self.expect(State::Skip(u64::from(size)), 0);
                if size == 0 {
                    self.expect(State::Magic, 4);
                }
            }
            State::FrameHeader => self.frame_header()?,
            State::BlockHeader => {
                let raw = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], 0]);
                let last = raw & 1 == 1;
                let size = (raw >> 3) as usize;
                let content = match (raw >> 1) & 3 {
                    0 | 2 => size,
                    1 => 1,
                    _ => return Err(corrupt("reserved block type")),
                };
                if size > MAX_BLOCK {
                    return Err(corrupt("block larger than 128 KiB"));
                }
                self.expect(State::Block { last }, 3 + content);
            }
            State::Block { last } => {
                let (read, _) = self
                    .dec
                    .decode_from_to(&self.buf, &mut [])
                    .map_err(|e| corrupt(e.to_string()))?;
                if read != self.buf.len() {
                    return Err(corrupt("block not consumed"));
                }
                self.buf.clear();
                if !last {
                    self.expect(State::BlockHeader, 3);
                } else if self.has_checksum {
                    self.expect(State::Checksum, 4);
                } else {
                    self.expect(State::Drain, 0);
                }
            }
            State::Checksum => {
                self.dec
                    .decode_from_to(&self.buf, &mut [])
                    .map_err(|e| corrupt(e.to_string()))?;
                self.buf.clear();
                self.expect(State::Drain, 0);
            }
            State::Skip(_) | State::Drain | State::Trailing => {}
        }
        Ok(())
    }

    /// Parses the frame header once its descriptor byte is known, and starts the frame once
    /// the whole header is there.
    fn frame_header(&mut self) -> Result<(), DecodeError> {
        let fhd = self.buf[4];
        let single_segment = fhd & 0x20 != 0;
        if fhd & 0x08 != 0 {
            return Err(corrupt("reserved frame header bit set"));
        }
        let dict_len = [0usize, 1, 2, 4][usize::from(fhd & 3)];
        let fcs_len = match fhd >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let len = 5 + usize::from(!single_segment) + dict_len + fcs_len;
        if self.buf.len() < len {
            self.need = len;
            return Ok(());
        }
        let mut pos = 5;
        let window = if single_segment {
            let fcs = &self.buf[5 + dict_len..len];
            let mut bytes = [0u8; 8];
            bytes[..fcs.len()].copy_from_slice(fcs);
            let value = u64::from_le_bytes(bytes);
            if fcs.len() == 2 {
                value + 256
            } else {
                value
            }
        } else {
            let wd = self.buf[5];
            pos += 1;
            let base = 1u64 << (10 + u32::from(wd >> 3));
            base + (base / 8) * u64::from(wd & 7)
        };
        if window > MAX_WINDOW {
            return Err(corrupt("window larger than 8 MiB"));
        }
        if self.buf[pos..pos + dict_len].iter().any(|&b| b != 0) {
            return Err(corrupt("frame needs a dictionary"));
        }
        self.has_checksum = fhd & 0x04 != 0;
        self.dec
            .reset(&self.buf[..])
            .map_err(|e| corrupt(e.to_string()))?;
        self.buf.clear();
        self.expect(State::BlockHeader, 3);
        Ok(())
    }

    /// Called once a frame's output is fully drained: checks its checksum.
    fn end_frame(&mut self) -> Result<(), DecodeError> {
        if let (Some(stored), Some(computed)) = (
            self.dec.get_checksum_from_data(),
            self.dec.get_calculated_checksum(),
        ) {
            if stored != computed {
                return Err(corrupt("content checksum mismatch"));
            }
        }
        self.frames_done += 1;
        self.expect(State::Magic, 4);
        Ok(())
    }
}

impl Stage for ZstdStage {
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        let (mut consumed, mut written) = (0usize, 0usize);
        loop {
            // Hand out decoded bytes before decoding more, so at most one block sits beyond
            // the window.
            if self.dec.can_collect() > 0 {
                if written == out.len() {
                    break;
                }
                let n = self
                    .dec
                    .read(&mut out[written..])
                    .map_err(|e| corrupt(e.to_string()))?;
                written += n;
                if n > 0 {
                    continue;
                }
            }
            match self.state {
                State::Drain => {
                    self.end_frame()?;
                    continue;
                }
                State::Trailing => {
                    consumed = input.len();
                    break;
                }
                State::Skip(left) => {
                    let take =
                        (input.len() - consumed).min(usize::try_from(left).unwrap_or(usize::MAX));
                    consumed += take;
                    let left = left - take as u64;
                    if left == 0 {
                        self.expect(State::Magic, 4);
                        continue;
                    }
                    self.state = State::Skip(left);
                    break;
                }
                _ => {}
            }
            if self.buf.len() < self.need {
                let take = (self.need - self.buf.len()).min(input.len() - consumed);
                self.buf
                    .extend_from_slice(&input[consumed..consumed + take]);
                consumed += take;
                if self.buf.len() < self.need {
                    break;
                }
            }
            self.process_unit()?;
        }
        Ok((consumed, written))
    }

    fn is_complete(&self) -> bool {
        self.frames_done > 0
            && matches!(self.state, State::Magic | State::Trailing)
            && self.dec.can_collect() == 0
    }

    fn has_pending_output(&self) -> bool {
        self.dec.can_collect() > 0
    }

    fn coding(&self) -> Coding {
        Coding::Zstd
    }
}
