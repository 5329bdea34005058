//! Prefixed integers and string literals (RFC 7541 section 5, as RFC 9204 section 4.1 uses
//! them).

use super::huffman;

/// Why a read stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The input ends inside the value (an encoder stream instruction may continue later).
    Incomplete,
    /// The value is malformed (over 62 bits, bad Huffman code).
    Invalid(&'static str),
}

/// Reads an integer with an `n`-bit prefix from `buf[*pos..]` (the prefix's high bits, the
/// instruction's flags, are ignored), advancing `pos`.
pub(super) fn read_int(buf: &[u8], pos: &mut usize, n: u8) -> Result<u64, ReadError> {
    let mask = (1u16 << n) as u64 - 1;
    let first = *buf.get(*pos).ok_or(ReadError::Incomplete)?;
    let mut i = *pos + 1;
    let mut value = u64::from(first) & mask;
    if value == mask {
        let mut shift = 0u32;
        loop {
            let b = *buf.get(i).ok_or(ReadError::Incomplete)?;
            i += 1;
            if shift > 56 {
                return Err(ReadError::Invalid("integer too large"));
            }
            value += u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if value >= 1 << 62 {
            return Err(ReadError::Invalid("integer too large"));
        }
    }
    *pos = i;
    Ok(value)
}

/// Appends `value` with an `n`-bit prefix, OR-ing `flags` into the first byte.
pub(super) fn write_int(value: u64, n: u8, flags: u8, out: &mut Vec<u8>) {
    let mask = (1u16 << n) as u64 - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        out.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// Reads a string literal whose Huffman flag is bit `n` of the first byte and whose length
/// has an `n`-bit prefix; `limit` bounds its decoded length.
pub(super) fn read_string(
    buf: &[u8],
    pos: &mut usize,
    n: u8,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let first = *buf.get(*pos).ok_or(ReadError::Incomplete)?;
    let huffman_coded = first & (1 << n) != 0;
    let mut i = *pos;
    let len = read_int(buf, &mut i, n)?;
    let len = usize::try_from(len).map_err(|_| ReadError::Invalid("string too long"))?;
    if len > limit {
        return Err(ReadError::Invalid("string over the size limit"));
    }
    let raw = buf.get(i..i + len).ok_or(ReadError::Incomplete)?;
    let value = if huffman_coded {
        huffman::decode(raw).ok_or(ReadError::Invalid("bad Huffman code"))?
    } else {
        raw.to_vec()
    };
    *pos = i + len;
    Ok(value)
}

/// Appends a string literal without Huffman coding, its length with an `n`-bit prefix.
pub(super) fn write_string(value: &[u8], n: u8, flags: u8, out: &mut Vec<u8>) {
    write_int(value.len() as u64, n, flags, out);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7541_integer_examples() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42, 8 bits.
        for (value, n, bytes) in [
            (10, 5, vec![0x0a]),
            (1337, 5, vec![0x1f, 0x9a, 0x0a]),
            (42, 8, vec![0x2a]),
        ] {
            let mut out = Vec::new();
            write_int(value, n, 0, &mut out);
            assert_eq!(out, bytes);
            let mut pos = 0;
            assert_eq!(read_int(&bytes, &mut pos, n), Ok(value));
            assert_eq!(pos, bytes.len());
        }
        let mut pos = 0;
        assert_eq!(
            read_int(&[0x1f, 0x9a], &mut pos, 5),
            Err(ReadError::Incomplete)
        );
        let huge = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(matches!(
            read_int(&huge, &mut 0, 8),
            Err(ReadError::Invalid(_))
        ));
    }
}
