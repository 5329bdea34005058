//! WebSocket frames (RFC 6455, 5.2): header encoding and decoding, and masking. Sans-IO:
//! bytes in, bytes out; the checks that depend on the connection (role, extensions,
//! message state) are the [`protocol`](super::protocol)'s.

use bytes::BufMut;

/// Frame opcodes (RFC 6455, 5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    /// The opcode of the 4-bit value, `None` for the reserved ones (3-7, 0xB-0xF).
    pub(crate) fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            8 => OpCode::Close,
            9 => OpCode::Ping,
            10 => OpCode::Pong,
            _ => return None,
        })
    }

    pub(crate) fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0,
            OpCode::Text => 1,
            OpCode::Binary => 2,
            OpCode::Close => 8,
            OpCode::Ping => 9,
            OpCode::Pong => 10,
        }
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented.
    pub(crate) fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// The largest payload of a control frame.
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest frame header: 2 bytes, 8 of extended length, 4 of mask.
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub fin: bool,
    /// RSV1: the message is compressed (permessage-deflate); RSV2 and RSV3 are never valid.
    pub rsv1: bool,
    pub rsv23: bool,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
}

/// Why a header is malformed whatever the connection's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// A reserved opcode.
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set (RFC 6455, 5.2).
    LengthTooLong,
    /// A length in a longer form than needed (126 for < 126, 127 for < 65536).
    NonMinimalLength,
}

/// Decodes the header at the start of `buf`: `Ok(None)` when more bytes are needed, else
/// the header and its length in bytes.
pub(crate) fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, HeaderError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(HeaderError::ReservedOpcode(b0 & 0x0f))?;
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => {
            let Some(b) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u64::from(u16::from_be_bytes([b[0], b[1]]));
            if len < 126 {
                return Err(HeaderError::NonMinimalLength);
            }
            (len, 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else {
                return Ok(None);
            };
            let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
            if len >> 63 != 0 {
                return Err(HeaderError::LengthTooLong);
            }
            if len < 65536 {
                return Err(HeaderError::NonMinimalLength);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        let Some(m) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([m[0], m[1], m[2], m[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv23: b0 & 0x30 != 0,
            opcode,
            mask,
            len,
        },
        at,
    )))
}

/// Appends the header of a frame to `out`.
pub(crate) fn encode_header(
    out: &mut impl BufMut,
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    len: u64,
) {
    out.put_u8((u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.put_u8(mask_bit | len as u8),
        126..=65535 => {
            out.put_u8(mask_bit | 126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(mask_bit | 127);
            out.put_u64(len);
        }
    }
    if let Some(mask) = mask {
        out.put_slice(&mask);
    }
}

/// XORs `data` with `mask`, `data[0]` being byte `offset` of the payload (so a payload can
/// be unmasked in pieces as it arrives).
pub(crate) fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: u64) {
    let rot = (offset % 4) as usize;
    let key = [
        mask[rot],
        mask[(rot + 1) % 4],
        mask[(rot + 2) % 4],
        mask[(rot + 3) % 4],
    ];
    // Eight bytes at a time: the key repeats every 4, so a doubled key covers a u64.
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Fresh masking keys for a client's frames (RFC 6455, 5.3: unpredictable, from a strong
/// source of entropy). The operating system's generator (through ring, already a
/// dependency) fills a buffer of keys at a time: one system call per 64 frames.
pub(crate) struct MaskKeys {
    rng: ring::rand::SystemRandom,
    buf: [u8; 256],
    used: usize,
}

impl Default for MaskKeys {
    fn default() -> Self {
        MaskKeys {
            rng: ring::rand::SystemRandom::new(),
            buf: [0; 256],
            used: 256,
        }
    }
}

impl MaskKeys {
    /// The next key.
    pub(crate) fn next_key(&mut self) -> [u8; 4] {
        use ring::rand::SecureRandom;
        if self.used == self.buf.len() {
            // The system generator does not fail on Linux once the process runs; should it,
            // the old keys XORed with a counter still differ from frame to frame.
            if self.rng.fill(&mut self.buf).is_err() {
                for (i, b) in self.buf.iter_mut().enumerate() {
                    *b = b.wrapping_add(i as u8).rotate_left(3);
                }
            }
            self.used = 0;
        }
        let key = self.buf[self.used..self.used + 4]
            .try_into()
            .expect("4 bytes");
        self.used += 4;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(fin: bool, rsv1: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: u64) {
        let mut out = Vec::new();
        encode_header(&mut out, fin, rsv1, opcode, mask, len);
        let (h, n) = decode_header(&out).unwrap().unwrap();
        assert_eq!(n, out.len());
        assert_eq!(
            h,
            FrameHeader {
                fin,
                rsv1,
                rsv23: false,
                opcode,
                mask,
                len
            }
        );
        // Every shorter prefix asks for more.
        for i in 0..out.len() {
            assert_eq!(decode_header(&out[..i]), Ok(None));
        }
    }

    #[test]
    fn headers_round_trip_in_all_three_length_forms() {
        for len in [0, 1, 125, 126, 65535, 65536, 1 << 40] {
            roundtrip(true, false, OpCode::Binary, None, len);
            roundtrip(false, true, OpCode::Text, Some([1, 2, 3, 4]), len);
        }
        roundtrip(true, false, OpCode::Ping, Some([9, 9, 9, 9]), 125);
    }

    #[test]
    fn rfc_6455_examples_decode() {
        // 5.7: a single-frame unmasked text message "Hello", and the masked one.
        let (h, n) = decode_header(&[0x81, 0x05, 0x48]).unwrap().unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.len, h.mask, n),
            (true, OpCode::Text, 5, None, 2)
        );
        let mut masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = decode_header(&masked).unwrap().unwrap();
        apply_mask(&mut masked[n..], h.mask.unwrap(), 0);
        assert_eq!(&masked[n..], b"Hello");
    }

    #[test]
    fn malformed_headers_are_refused() {
        for op in [3u8, 7, 0xb, 0xf] {
            assert_eq!(
                decode_header(&[0x80 | op, 0]),
                Err(HeaderError::ReservedOpcode(op))
            );
        }
        let mut long = vec![0x82, 127];
        long.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(decode_header(&long), Err(HeaderError::LengthTooLong));
        assert_eq!(
            decode_header(&[0x82, 126, 0, 5]),
            Err(HeaderError::NonMinimalLength)
        );
        let mut medium = vec![0x82, 127];
        medium.extend_from_slice(&100u64.to_be_bytes());
        assert_eq!(decode_header(&medium), Err(HeaderError::NonMinimalLength));
        let (h, _) = decode_header(&[0xf2, 0]).unwrap().unwrap();
        assert!(h.rsv1 && h.rsv23);
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mask = [0xde, 0xad, 0xbe, 0xef];
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ mask[i % 4]);
        }
        let mut pieces = data.clone();
        let mut at = 0;
        for size in [1, 3, 8, 13, 100, 875] {
            apply_mask(&mut pieces[at..at + size], mask, at as u64);
            at += size;
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn mask_keys_differ_from_frame_to_frame() {
        let mut keys = MaskKeys::default();
        let all: Vec<[u8; 4]> = (0..200).map(|_| keys.next_key()).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        // 200 random 32-bit keys: a repeat has a probability of about 5e-6.
        assert!(distinct.len() >= 199, "{} distinct", distinct.len());
    }
}
