//! The HPACK decoding errors of a connection's header blocks (RFC 7541), found without
//! decoding them: the dynamic table is tracked as entry sizes and name lengths only (what
//! index validity and eviction depend on), and Huffman strings are measured, not decoded.

use std::collections::VecDeque;

use super::huffman;

/// Names of the static table (RFC 7541, appendix A); only their lengths matter here.
const STATIC_NAMES: [&str; 61] = [
    ":authority",
    ":method",
    ":method",
    ":path",
    ":path",
    ":scheme",
    ":scheme",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    ":status",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "accept",
    "access-control-allow-origin",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "cookie",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "link",
    "location",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "refresh",
    "retry-after",
    "server",
    "set-cookie",
    "strict-transport-security",
    "transfer-encoding",
    "user-agent",
    "vary",
    "via",
    "www-authenticate",
];

/// An entry's size counts 32 octets on top of its name and value (RFC 7541, 4.1).
const ENTRY_OVERHEAD: usize = 32;

/// A decoding error (RFC 7541): the connection ends with COMPRESSION_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodingError(pub(crate) &'static str);

/// One dynamic table entry, as far as decoding errors go.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name_len: usize,
    size: usize,
}

/// The decoder state of one direction of a connection (the client's header blocks).
#[derive(Debug)]
pub(crate) struct HpackCheck {
    /// Newest first.
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// Our SETTINGS_HEADER_TABLE_SIZE: size updates may not go beyond it.
    limit: usize,
}

impl HpackCheck {
    /// A decoder whose table may hold `limit` octets (SETTINGS_HEADER_TABLE_SIZE).
    pub(crate) fn new(limit: usize) -> HpackCheck {
        HpackCheck {
            entries: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
        }
    }

    /// Checks one complete header block and applies its table changes.
    pub(crate) fn check_block(&mut self, block: &[u8]) -> Result<(), DecodingError> {
        let mut src = Cursor { block, pos: 0 };
        let mut fields_seen = false;
        while let Some(&first) = block.get(src.pos) {
            if first & 0x80 != 0 {
                // Indexed field.
                let index = src.integer(7)?;
                self.name_len(index)?;
            } else if first & 0x40 != 0 {
                // Literal with incremental indexing: the field enters the table.
                let index = src.integer(6)?;
                let name_len = match index {
                    0 => src.string()?,
                    _ => self.name_len(index)?,
                };
                let value_len = src.string()?;
                self.insert(name_len, value_len);
            } else if first & 0x20 != 0 {
                // Dynamic table size update: only before the first field (RFC 7541, 4.2).
                if fields_seen {
                    return Err(DecodingError("table size update after a field"));
                }
                let size = src.integer(5)?;
                if size > self.limit {
                    return Err(DecodingError("table size update above the limit"));
                }
                self.max_size = size;
                self.evict(0);
                continue;
            } else {
                // Literal without indexing or never indexed.
                let index = src.integer(4)?;
                if index == 0 {
                    src.string()?;
                } else {
                    self.name_len(index)?;
                }
                src.string()?;
            }
            fields_seen = true;
        }
        Ok(())
    }

    /// The name length of the entry at `index` (static, then dynamic table).
    fn name_len(&self, index: usize) -> Result<usize, DecodingError> {
        match index {
            0 => Err(DecodingError("index 0")),
            1..=61 => Ok(STATIC_NAMES[index - 1].len()),
            _ => self
                .entries
                .get(index - 62)
                .map(|e| e.name_len)
                .ok_or(DecodingError("index beyond the tables")),
        }
    }

    fn insert(&mut self, name_len: usize, value_len: usize) {
        let size = name_len + value_len + ENTRY_OVERHEAD;
        if size > self.max_size {
            // Too large for the table: it empties the table (RFC 7541, 4.4).
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict(size);
        self.entries.push_front(Entry { name_len, size });
        self.size += size;
    }

    /// Evicts the oldest entries until `room` more octets fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size,
                None => break,
            }
        }
    }
}

/// Reads representations' integers and strings from a block.
struct Cursor<'a> {
    block: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// An integer with an `n`-bit prefix (RFC 7541, 5.1), at most 2^32 - 1.
    fn integer(&mut self, n: u8) -> Result<usize, DecodingError> {
        const CUT_SHORT: DecodingError = DecodingError("integer cut short");
        let mask = (1u8 << n) - 1;
        let first = *self.block.get(self.pos).ok_or(CUT_SHORT)?;
        self.pos += 1;
        let mut value = u64::from(first & mask);
        if value < u64::from(mask) {
            return Ok(value as usize);
        }
        let mut shift = 0;
        loop {
            let byte = *self.block.get(self.pos).ok_or(CUT_SHORT)?;
            self.pos += 1;
            value += u64::from(byte & 0x7f) << shift;
            if value > u64::from(u32::MAX) {
                return Err(DecodingError("integer overflow"));
            }
            if byte & 0x80 == 0 {
                return Ok(value as usize);
            }
            shift += 7;
            if shift > 28 {
                return Err(DecodingError("integer overflow"));
            }
        }
    }

    /// A string literal (RFC 7541, 5.2): its decoded length.
    fn string(&mut self) -> Result<usize, DecodingError> {
        let huffman = self.block.get(self.pos).is_some_and(|b| b & 0x80 != 0);
        let len = self.integer(7)?;
        let bytes = self
            .block
            .get(self.pos..self.pos.saturating_add(len))
            .ok_or(DecodingError("string cut short"))?;
        self.pos += len;
        if huffman {
            huffman::decoded_len(bytes).ok_or(DecodingError("invalid Huffman code"))
        } else {
            Ok(len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(blocks: &[&[u8]]) -> Result<(), DecodingError> {
        let mut hpack = HpackCheck::new(4096);
        blocks.iter().try_for_each(|b| hpack.check_block(b))
    }

    #[test]
    fn rfc_7541_request_examples_are_valid() {
        // C.3 (no Huffman) and C.4 (Huffman): three requests on one connection each.
        let c3: [&[u8]; 3] = [
            b"\x82\x86\x84\x41\x0fwww.example.com",
            b"\x82\x86\x84\xbe\x58\x08no-cache",
            b"\x82\x87\x85\xbf\x40\x0acustom-key\x0ccustom-value",
        ];
        assert_eq!(check(&c3), Ok(()));
        let c4: [&[u8]; 3] = [
            &[
                0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
                0x90, 0xf4, 0xff,
            ],
            &[
                0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
            ],
            &[
                0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
                0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
            ],
        ];
        assert_eq!(check(&c4), Ok(()));
    }

    #[test]
    fn the_table_tracks_sizes_and_evicts_the_oldest() {
        let mut hpack = HpackCheck::new(4096);
        // C.3.1: `:authority www.example.com` is 57 octets.
        hpack
            .check_block(b"\x82\x86\x84\x41\x0fwww.example.com")
            .unwrap();
        assert_eq!(hpack.size, 57);
        // Down to 60 octets: it stays; a second entry (`cache-control no-cache`, 53) evicts it.
        hpack.check_block(b"\x3f\x1d\x82").unwrap();
        assert_eq!(hpack.size, 57);
        hpack.check_block(b"\x58\x08no-cache").unwrap();
        assert_eq!((hpack.entries.len(), hpack.size), (1, 53));
        assert_eq!(hpack.check_block(b"\xbe"), Ok(()));
        assert!(hpack.check_block(b"\xbf").is_err());
        // An entry larger than the table empties it.
        hpack
            .check_block(&[&b"\x40\x01x\x40"[..], &[b'v'; 64]].concat())
            .unwrap();
        assert_eq!((hpack.entries.len(), hpack.size), (0, 0));
    }

    #[test]
    fn decoding_errors() {
        let errors: [&[u8]; 10] = [
            b"\x80",                         // index 0
            b"\xbe",                         // index 62, empty table
            b"\x7f\x07\x01x",                // literal name index 70
            b"\x82\x20",                     // size update after a field
            b"\x3f\xe2\x1f",                 // size update to 4097
            b"\x82\x04\x05/a",               // string cut short
            b"\x82\x04",                     // string length missing
            b"\xff\xff\xff\xff\xff\xff\x7f", // integer overflow
            b"\x01\x82\x1f\xff",             // Huffman padding of 11 bits
            b"\x01\x84\xff\xff\xff\xff",     // EOS
        ];
        for block in errors {
            assert!(check(&[block]).is_err(), "{block:x?}");
        }
        // Size updates at the start of a block, several of them, are fine.
        assert_eq!(check(&[b"\x20\x3f\xe1\x1f\x82"]), Ok(()));
    }
}
