//! The Fortune examples' wire format: one `QString` written by a `QDataStream` (a big-endian
//! `quint32` byte length, then UTF-16BE), so these ports talk to Qt's own Fortune programs.

// The server encodes, the client decodes: each uses one half.
#![allow(dead_code)]

/// Encodes `text` as `QDataStream << QString` does.
pub fn encode(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = Vec::with_capacity(4 + units.len() * 2);
    out.extend_from_slice(&((units.len() * 2) as u32).to_be_bytes());
    for unit in units {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

/// Decodes one `QString` from the start of `buf` (Qt's read transaction): `None` while it is
/// incomplete; the text and the bytes it took when complete. Invalid UTF-16 is replaced.
pub fn decode(buf: &[u8]) -> Option<(String, usize)> {
    let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?);
    if len == u32::MAX {
        // A null QString.
        return Some((String::new(), 4));
    }
    let len = len as usize;
    let data = buf.get(4..4 + len)?;
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    Some((String::from_utf16_lossy(&units), 4 + len))
}
