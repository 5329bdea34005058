//! [`FrameTracker`]: follows WebSocket frame boundaries (RFC 6455, 5.2) in the peer's bytes,
//! without buffering any, to tell whether a message is partly received. tungstenite keeps
//! that to itself; the partial-message timeout needs it.

/// Where the peer's byte stream is, frame-wise.
#[derive(Debug, Default)]
pub(crate) struct FrameTracker {
    /// The header being read (at most 14 bytes) and how much of it arrived.
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    remaining: u64,
    /// The current frame's FIN bit and opcode (once its header is complete).
    fin: bool,
    opcode: u8,
    /// A data frame without FIN arrived: the message continues in later frames.
    in_message: bool,
}

impl FrameTracker {
    /// Follows `data`; returns whether a data message (text or binary) completed in it.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> bool {
        let mut completed = false;
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.remaining -= n as u64;
                data = &data[n..];
                if self.remaining == 0 {
                    completed |= self.end_frame();
                }
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            if Some(self.have) == self.header_len() {
                self.start_frame();
                if self.remaining == 0 {
                    completed |= self.end_frame();
                }
            }
        }
        completed
    }

    /// Whether a message or a frame is partly received.
    pub(crate) fn in_progress(&self) -> bool {
        self.in_message || self.have > 0 || self.remaining > 0
    }

    /// The header's full length, once its first two bytes are known.
    fn header_len(&self) -> Option<usize> {
        if self.have < 2 {
            return None;
        }
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        Some(2 + extended + mask)
    }

    fn start_frame(&mut self) {
        let h = &self.header;
        self.fin = h[0] & 0x80 != 0;
        self.opcode = h[0] & 0x0f;
        self.remaining = match h[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            n => u64::from(n),
        };
        self.have = 0;
    }

    /// The current frame is complete; returns whether it ended a data message.
    fn end_frame(&mut self) -> bool {
        // Control frames (opcode 8 and up) may come between a message's fragments.
        if self.opcode >= 8 {
            return false;
        }
        self.in_message = !self.fin;
        self.fin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, opcode: u8, payload_len: usize) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload_len {
            0..=125 => out.push(0x80 | payload_len as u8),
            126..=65535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(payload_len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(payload_len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]); // mask key
        out.extend(std::iter::repeat_n(0u8, payload_len));
        out
    }

    #[test]
    fn whole_messages_leave_nothing_in_progress_even_fed_byte_by_byte() {
        let mut t = FrameTracker::default();
        let bytes = [
            frame(true, 1, 5),
            frame(true, 2, 300),
            frame(true, 2, 70_000),
        ]
        .concat();
        let mut completed = 0;
        for b in &bytes {
            completed += usize::from(t.feed(std::slice::from_ref(b)));
        }
        assert_eq!(completed, 3);
        assert!(!t.in_progress());
    }

    #[test]
    fn fragments_and_interleaved_pings_keep_the_message_in_progress() {
        let mut t = FrameTracker::default();
        assert!(!t.feed(&frame(false, 2, 10)));
        assert!(t.in_progress());
        assert!(!t.feed(&frame(true, 9, 4))); // a ping between fragments
        assert!(t.in_progress());
        assert!(!t.feed(&frame(false, 0, 10)));
        assert!(t.feed(&frame(true, 0, 10)));
        assert!(!t.in_progress());
    }

    #[test]
    fn a_partial_frame_is_in_progress() {
        let mut t = FrameTracker::default();
        let f = frame(true, 1, 100);
        assert!(!t.feed(&f[..50]));
        assert!(t.in_progress());
        assert!(t.feed(&f[50..]));
        assert!(!t.in_progress());
    }
}
