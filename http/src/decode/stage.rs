//! The interface between the pipeline and one decoder.

use super::error::{Coding, DecodeError};

/// One content-coding decoder in the pipeline.
///
/// Contract of [`Stage::step`]: it returns once it has consumed all of `input` and can produce
/// nothing more from what it consumed, or once `out` is full, whichever comes first. It may keep
/// bounded internal state (a window, one zstd block), never an unbounded buffer. After its stream
/// ended it consumes and ignores whatever follows (trailing garbage, as browsers do).
pub(super) trait Stage: Send {
    /// Decodes from `input` into `out`; returns `(consumed, written)`.
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError>;

    /// True once the end of the encoded stream was seen and every decoded byte was handed out.
    fn is_complete(&self) -> bool;

    /// True when decoded bytes are waiting for room in `out` (so `finish` would lose them).
    fn has_pending_output(&self) -> bool;

    /// The coding this stage decodes.
    fn coding(&self) -> Coding;
}
