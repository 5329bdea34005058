//! The `br` stage on brotli-decompressor's push API.

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};

use super::error::{Coding, DecodeError};
use super::stage::Stage;

/// Decodes a brotli stream. The decoder is created "strict": RFC 7932 windows only (at most
/// 16 MiB), not the large-window extension that could make it allocate up to 1 GiB.
pub(super) struct BrotliStage {
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    total_out: usize,
    ended: bool,
    pending: bool,
}

impl BrotliStage {
    pub(super) fn new() -> Self {
        BrotliStage {
            state: BrotliState::new_strict(
                StandardAlloc::default(),
                StandardAlloc::default(),
                StandardAlloc::default(),
            ),
            total_out: 0,
            ended: false,
            pending: false,
        }
    }
}

impl Stage for BrotliStage {
    fn step(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), DecodeError> {
        if self.ended {
            return Ok((input.len(), 0));
        }
        if out.is_empty() {
            return Ok((0, 0));
        }
        let (mut avail_in, mut in_off) = (input.len(), 0usize);
        let (mut avail_out, mut out_off) = (out.len(), 0usize);
        let result = BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            input,
            &mut avail_out,
            &mut out_off,
            out,
            &mut self.total_out,
            &mut self.state,
        );
        self.pending = false;
        match result {
            BrotliResult::ResultSuccess => {
                self.ended = true;
                // Bytes after the end of the stream are ignored.
                Ok((input.len(), out_off))
            }
            BrotliResult::NeedsMoreInput => Ok((in_off, out_off)),
            BrotliResult::NeedsMoreOutput => {
                self.pending = true;
                Ok((in_off, out_off))
            }
            BrotliResult::ResultFailure => Err(DecodeError::corrupt(
                Coding::Brotli,
                format!("{:?}", self.state.error_code),
            )),
        }
    }

    fn is_complete(&self) -> bool {
        self.ended
    }

    fn has_pending_output(&self) -> bool {
        self.pending
    }

    fn coding(&self) -> Coding {
        Coding::Brotli
    }
}
