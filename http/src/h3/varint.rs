//! QUIC's variable-length integers (RFC 9000 section 16), as HTTP/3 frames use them.

use bytes::BufMut;

/// The largest value a variable-length integer holds (2^62 - 1).
pub(crate) const MAX: u64 = (1 << 62) - 1;

/// Reads an integer from the front of `buf`: the value and the bytes it took, or `None`
/// when `buf` ends inside it.
pub(crate) fn decode(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(..len)?;
    let mut value = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        value = (value << 8) | u64::from(b);
    }
    Some((value, len))
}

/// How many bytes `value` takes.
pub(crate) fn len(value: u64) -> usize {
    match value {
        0..=63 => 1,
        64..=16_383 => 2,
        16_384..=1_073_741_823 => 4,
        _ => 8,
    }
}

/// Appends `value` (at most [`MAX`]) in its shortest form.
pub(crate) fn encode(value: u64, out: &mut impl BufMut) {
    debug_assert!(value <= MAX);
    match len(value) {
        1 => out.put_u8(value as u8),
        2 => out.put_u16(0x4000 | value as u16),
        4 => out.put_u32(0x8000_0000 | value as u32),
        _ => out.put_u64(0xc000_0000_0000_0000 | value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_9000_examples_decode_and_round_trip() {
        // RFC 9000 appendix A.1.
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Some((value, bytes.len())));
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out, bytes);
        }
        assert_eq!(
            decode(&[0x40, 0x25]),
            Some((37, 2)),
            "a longer form is allowed"
        );
        assert_eq!(decode(&[0x9d, 0x7f]), None, "cut short");
        assert_eq!(decode(&[]), None);
    }
}
