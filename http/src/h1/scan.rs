//! Deciding when an incomplete head is worth handing to httparse, and enforcing the head
//! limits while it is still incomplete.
//!
//! httparse re-parses from the first byte on every call, so calling it on every arrival would
//! make a head delivered in small pieces cost quadratic time. [`HeadScan`] looks at every byte
//! once and asks for a parse only when one can decide something: on the very first bytes and
//! when the start line is complete (so garbage is rejected at once), when an empty line
//! arrives (the head may be complete), and when the buffer reaches the head size limit (to
//! report the most specific error). A head therefore costs a handful of parses whatever the
//! split.

use super::H1Error;

/// Incremental bookkeeping for one head (or trailer section) being received.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeadScan {
    /// Bytes of the buffer already examined.
    scanned: usize,
    /// Offset of the first byte of the start line (leading empty lines are skipped).
    line_start: Option<usize>,
    /// Whether the start line is complete and was found within its limit.
    line_checked: bool,
}

impl HeadScan {
    /// Forgets everything: the next bytes start a new head.
    pub(crate) fn reset(&mut self) {
        *self = HeadScan::default();
    }

    /// Whether any byte of the current head has been examined.
    pub(crate) fn started(&self) -> bool {
        self.scanned > 0
    }

    /// Examines the bytes that arrived since the last call. Returns whether a parse attempt
    /// can decide something, or [`H1Error::StartLineTooLong`] if the start line is already
    /// known to be too long.
    ///
    /// `max_start_line` is `None` for trailer sections, which have no start line.
    pub(crate) fn ready(
        &mut self,
        buf: &[u8],
        max_start_line: Option<usize>,
        max_head: usize,
    ) -> Result<bool, H1Error> {
        if buf.len() < self.scanned {
            // The caller consumed bytes behind our back; start over rather than misjudge.
            self.reset();
        }
        let old = self.scanned;
        if old == buf.len() {
            return Ok(false);
        }
        self.scanned = buf.len();
        let line_done = match max_start_line {
            Some(max_line) => self.check_start_line(buf, old, max_line)?,
            None => false,
        };
        // Short-circuits: when a parse happens anyway it sees any empty line in these bytes.
        Ok(old == 0
            || line_done
            || buf.len() >= max_head
            || buf[old..]
                .iter()
                .enumerate()
                .any(|(k, &b)| b == b'\n' && ends_empty_line(buf, old + k)))
    }

    /// Tracks the start line; returns true when it completed within these new bytes.
    fn check_start_line(
        &mut self,
        buf: &[u8],
        old: usize,
        max_line: usize,
    ) -> Result<bool, H1Error> {
        if self.line_checked {
            return Ok(false);
        }
        let start = match self.line_start {
            Some(start) => start,
            None => match buf[old..].iter().position(|&b| b != b'\r' && b != b'\n') {
                Some(pos) => {
                    self.line_start = Some(old + pos);
                    old + pos
                }
                None => return Ok(false),
            },
        };
        let from = old.max(start);
        match buf[from..].iter().position(|&b| b == b'\n') {
            Some(pos) => {
                if from + pos + 1 - start > max_line {
                    return Err(H1Error::StartLineTooLong);
                }
                self.line_checked = true;
                Ok(true)
            }
            None if buf.len() - start > max_line => Err(H1Error::StartLineTooLong),
            None => Ok(false),
        }
    }
}

/// Whether the `\n` at `i` ends an empty line (`\n` or `\r\n` alone). The buffer start counts
/// as a line start: a trailer section begins right after the last chunk's line.
fn ends_empty_line(buf: &[u8], i: usize) -> bool {
    i == 0 || buf[i - 1] == b'\n' || (buf[i - 1] == b'\r' && (i == 1 || buf[i - 2] == b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_a_parse_only_when_it_can_decide_something() {
        let mut scan = HeadScan::default();
        let msg = b"HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\n";
        let mut asked = Vec::new();
        for end in 1..=msg.len() {
            if scan.ready(&msg[..end], Some(100), 1000).unwrap() {
                asked.push(end);
            }
        }
        assert_eq!(asked, vec![1, 17, 31]);
        let mut trailers = HeadScan::default();
        assert!(trailers.ready(b"\r", None, 1000).unwrap());
        assert!(trailers.ready(b"\r\n", None, 1000).unwrap());
    }

    #[test]
    fn start_line_limit_counts_from_the_first_non_empty_line() {
        let mut scan = HeadScan::default();
        assert!(scan.ready(b"\r\n\r\nGET /abc", Some(8), 1000).is_ok());
        assert_eq!(
            scan.ready(b"\r\n\r\nGET /abcd", Some(8), 1000),
            Err(H1Error::StartLineTooLong)
        );
        let mut scan = HeadScan::default();
        assert_eq!(
            scan.ready(b"GET /abcdefg\r\n", Some(8), 1000),
            Err(H1Error::StartLineTooLong)
        );
    }

    #[test]
    fn reaching_the_head_limit_asks_for_a_parse() {
        let mut scan = HeadScan::default();
        assert_eq!(scan.ready(&[b'a'; 5], None, 10), Ok(true));
        assert_eq!(scan.ready(&[b'a'; 9], None, 10), Ok(false));
        assert_eq!(scan.ready(&[b'a'; 9], None, 10), Ok(false));
        assert_eq!(scan.ready(&[b'a'; 10], None, 10), Ok(true));
    }
}
