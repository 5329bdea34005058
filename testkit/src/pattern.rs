//! The test pattern for bulk transfers: a 251-byte cycle (prime, so it never lines up with
//! buffer sizes, and a lost, repeated or misplaced chunk shows).

/// The pattern's period.
pub const PERIOD: u64 = 251;

/// Byte `i` of the pattern.
pub fn pattern_byte(i: u64) -> u8 {
    (i % PERIOD) as u8
}

/// `len` bytes of the pattern starting at stream offset `start`.
pub fn pattern(start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern_byte(start + i)).collect()
}

/// Checks received chunks against the pattern quickly: one reference cycle, compared with
/// slice equality (memcmp) rather than byte by byte, so even a debug build checks a gigabyte
/// in reasonable time.
pub struct PatternChecker {
    reference: Vec<u8>,
    offset: u64,
    bad: bool,
}

impl Default for PatternChecker {
    fn default() -> Self {
        PatternChecker {
            // Long enough that any chunk of up to 256 KiB fits from any phase.
            reference: pattern(0, PERIOD as usize + 256 * 1024),
            offset: 0,
            bad: false,
        }
    }
}

impl PatternChecker {
    /// Checks `data` as the next bytes of the stream; false on a mismatch (which also makes
    /// [`PatternChecker::is_bad`] true for good). The offset advances by `data.len()` either
    /// way.
    pub fn check(&mut self, data: &[u8]) -> bool {
        let mut rest = data;
        let mut ok = true;
        while !rest.is_empty() {
            let phase = (self.offset % PERIOD) as usize;
            let n = rest.len().min(self.reference.len() - phase);
            if ok && rest[..n] != self.reference[phase..phase + n] {
                ok = false;
            }
            self.offset += n as u64;
            rest = &rest[n..];
        }
        self.bad |= !ok;
        ok
    }

    /// Bytes checked so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether any chunk so far did not continue the pattern.
    pub fn is_bad(&self) -> bool {
        self.bad
    }
}
