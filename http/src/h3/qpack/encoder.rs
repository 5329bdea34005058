//! The QPACK encoder: static table references and plain literals only. It never inserts
//! into the dynamic table (RFC 9204 allows an encoder that does not), so its field sections
//! never block the peer's decoder, and the peer's decoder stream needs no answer.

use super::prefix_int::{write_int, write_string};
use super::static_table;

/// Encodes `fields` (lower-case names) as a field section: the prefix (Required Insert
/// Count 0, Base 0) and one line per field.
pub(crate) fn encode_field_section<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&[0, 0]);
    for (name, value) in fields {
        match static_table::find(name, value) {
            // Indexed field line, static: 1 1 index(6).
            Some((index, true)) => write_int(index as u64, 6, 0xc0, out),
            // Literal with static name reference: 0 1 N=0 T=1 index(4), value.
            Some((index, false)) => {
                write_int(index as u64, 4, 0x50, out);
                write_string(value, 7, 0x00, out);
            }
            // Literal with literal name: 0 0 1 N=0 H=0 length(3), name, value.
            None => {
                write_string(name, 3, 0x20, out);
                write_string(value, 7, 0x00, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decoder::Decoder;
    use super::*;

    #[test]
    fn rfc_9204_b1_is_what_the_encoder_writes() {
        let mut out = Vec::new();
        encode_field_section([(b":path".as_slice(), b"/index.html".as_slice())], &mut out);
        assert_eq!(out, b"\x00\x00\x51\x0b/index.html");
    }

    #[test]
    fn a_request_head_round_trips_through_the_decoder() {
        let long = "v".repeat(300);
        let fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"localhost:4433"),
            (b":path", b"/a/b?c=d"),
            (b"user-agent", b"slotnet"),
            (b"x-custom-header-name", long.as_bytes()),
            (b"accept", b"*/*"),
        ];
        let mut out = Vec::new();
        encode_field_section(fields.iter().copied(), &mut out);
        let decoded = Decoder::new(0, 1 << 16)
            .decode_field_section(0, &out)
            .unwrap();
        let decoded: Vec<(&[u8], &[u8])> = decoded
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(decoded, fields);
        assert_eq!(out[2], 0xc0 | 17, ":method GET is static index 17");
    }
}
