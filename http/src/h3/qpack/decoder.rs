//! The QPACK decoder: the dynamic table built from the peer's encoder stream, field
//! sections decoded against it, and the decoder stream's acknowledgments.

use std::collections::VecDeque;

use super::prefix_int::{read_int, read_string, write_int, ReadError};
use super::static_table::ENTRIES;
use super::QpackError;

/// Per-entry overhead in the table size (RFC 9204 section 3.2.1).
const ENTRY_OVERHEAD: usize = 32;

/// A decoded field section: `(name, value)` pairs in order.
pub(crate) type FieldSection = Vec<(Vec<u8>, Vec<u8>)>;

/// The decoding side of one HTTP/3 connection's QPACK.
pub(crate) struct Decoder {
    /// The capacity this side advertised (SETTINGS_QPACK_MAX_TABLE_CAPACITY).
    max_capacity: usize,
    capacity: usize,
    /// Entries, oldest first; `inserted` counts every insert ever made.
    entries: VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    inserted: u64,
    /// Inserts acknowledged to the encoder (Insert Count Increment or Section
    /// Acknowledgment).
    acknowledged: u64,
    /// An encoder stream instruction that has not arrived whole yet.
    partial: Vec<u8>,
    /// Bytes to send on this side's decoder stream.
    outgoing: Vec<u8>,
    /// Largest decoded field section, in RFC 9114's size (names + values + 32 each).
    max_section_size: usize,
}

fn decompression(why: &'static str) -> impl Fn(ReadError) -> QpackError {
    move |e| match e {
        ReadError::Incomplete => QpackError::Decompression(why),
        ReadError::Invalid(why) => QpackError::Decompression(why),
    }
}

impl Decoder {
    /// A decoder allowing the peer a table of `max_capacity` bytes, and decoded sections
    /// up to `max_section_size`.
    pub(crate) fn new(max_capacity: usize, max_section_size: usize) -> Decoder {
        Decoder {
            max_capacity,
            capacity: 0,
            entries: VecDeque::new(),
            size: 0,
            inserted: 0,
            acknowledged: 0,
            partial: Vec::new(),
            outgoing: Vec::new(),
            max_section_size,
        }
    }

    /// How many entries were inserted so far.
    pub(crate) fn insert_count(&self) -> u64 {
        self.inserted
    }

    /// Takes the bytes to send on the decoder stream.
    pub(crate) fn take_decoder_stream_bytes(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outgoing)
    }

    /// The entry with absolute index `index`, if it is still in the table.
    fn entry(&self, index: u64) -> Option<&(Vec<u8>, Vec<u8>)> {
        let oldest = self.inserted - self.entries.len() as u64;
        let at = index.checked_sub(oldest)?;
        self.entries.get(usize::try_from(at).ok()?)
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some((n, v)) = self.entries.pop_front() else {
                break;
            };
            self.size -= n.len() + v.len() + ENTRY_OVERHEAD;
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) -> Result<(), ReadError> {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            return Err(ReadError::Invalid("entry larger than the table"));
        }
        self.evict_to(self.capacity - size);
        self.entries.push_back((name, value));
        self.size += size;
        self.inserted += 1;
        Ok(())
    }

    /// Feeds bytes from the peer's encoder stream, applying every complete instruction;
    /// the inserts are acknowledged on the decoder stream.
    pub(crate) fn feed_encoder_stream(&mut self, data: &[u8]) -> Result<(), QpackError> {
        self.partial.extend_from_slice(data);
        let buf = std::mem::take(&mut self.partial);
        let mut pos = 0;
        let result = loop {
            if pos == buf.len() {
                break Ok(());
            }
            let mut at = pos;
            match self.instruction(&buf, &mut at) {
                Ok(()) => pos = at,
                Err(ReadError::Incomplete) => break Ok(()),
                Err(ReadError::Invalid(why)) => break Err(QpackError::EncoderStream(why)),
            }
        };
        result.as_ref().map_err(Clone::clone)?;
        self.partial = buf[pos..].to_vec();
        // An instruction can be no longer than the largest entry and its two lengths.
        if self.partial.len() > self.max_capacity + 64 {
            return Err(QpackError::EncoderStream("instruction over the table size"));
        }
        if self.inserted > self.acknowledged {
            write_int(
                self.inserted - self.acknowledged,
                6,
                0x00,
                &mut self.outgoing,
            );
            self.acknowledged = self.inserted;
        }
        Ok(())
    }

    /// Applies one encoder instruction (RFC 9204 section 4.3).
    fn instruction(&mut self, buf: &[u8], pos: &mut usize) -> Result<(), ReadError> {
        let first = buf[*pos];
        let limit = self.max_capacity;
        if first & 0x80 != 0 {
            // Insert with name reference: 1 T index(6), value.
            let is_static = first & 0x40 != 0;
            let index = read_int(buf, pos, 6)?;
            let value = read_string(buf, pos, 7, limit)?;
            let name = if is_static {
                ENTRIES
                    .get(index as usize)
                    .ok_or(ReadError::Invalid("static index out of range"))?
                    .0
                    .as_bytes()
                    .to_vec()
            } else {
                let absolute = self
                    .inserted
                    .checked_sub(index + 1)
                    .ok_or(ReadError::Invalid("dynamic index out of range"))?;
                self.entry(absolute)
                    .ok_or(ReadError::Invalid("dynamic entry evicted"))?
                    .0
                    .clone()
            };
            self.insert(name, value)
        } else if first & 0x40 != 0 {
            // Insert with literal name: 01 H length(5) name, value.
            let name = read_string(buf, pos, 5, limit)?;
            let value = read_string(buf, pos, 7, limit)?;
            self.insert(name, value)
        } else if first & 0x20 != 0 {
            // Set dynamic table capacity: 001 capacity(5).
            let capacity = read_int(buf, pos, 5)?;
            if capacity > self.max_capacity as u64 {
                return Err(ReadError::Invalid("capacity over the advertised maximum"));
            }
            self.capacity = capacity as usize;
            self.evict_to(self.capacity);
            Ok(())
        } else {
            // Duplicate: 000 index(5).
            let index = read_int(buf, pos, 5)?;
            let absolute = self
                .inserted
                .checked_sub(index + 1)
                .ok_or(ReadError::Invalid("dynamic index out of range"))?;
            let (name, value) = self
                .entry(absolute)
                .ok_or(ReadError::Invalid("dynamic entry evicted"))?
                .clone();
            self.insert(name, value)
        }
    }

    /// The Required Insert Count from its encoded form (RFC 9204 section 4.5.1.1).
    fn required_insert_count(&self, encoded: u64) -> Result<u64, QpackError> {
        if encoded == 0 {
            return Ok(0);
        }
        let max_entries = (self.max_capacity / ENTRY_OVERHEAD) as u64;
        let full_range = 2 * max_entries;
        if encoded > full_range {
            return Err(QpackError::Decompression("invalid required insert count"));
        }
        let max_value = self.inserted + max_entries;
        let max_wrapped = (max_value / full_range) * full_range;
        let mut required = max_wrapped + encoded - 1;
        if required > max_value {
            if required <= full_range {
                return Err(QpackError::Decompression("invalid required insert count"));
            }
            required -= full_range;
        }
        if required == 0 {
            return Err(QpackError::Decompression("invalid required insert count"));
        }
        Ok(required)
    }

    /// Decodes the field section of a HEADERS frame on stream `stream_id`.
    pub(crate) fn decode_field_section(
        &mut self,
        stream_id: u64,
        block: &[u8],
    ) -> Result<FieldSection, QpackError> {
        let err = decompression("field section cut short");
        let mut pos = 0;
        let encoded = read_int(block, &mut pos, 8).map_err(&err)?;
        let required = self.required_insert_count(encoded)?;
        let sign = *block.get(pos).ok_or(QpackError::Decompression("no base"))? & 0x80 != 0;
        let delta = read_int(block, &mut pos, 7).map_err(&err)?;
        let base = if sign {
            required
                .checked_sub(delta + 1)
                .ok_or(QpackError::Decompression("negative base"))?
        } else {
            required + delta
        };
        if required > self.inserted {
            return Err(QpackError::Blocked);
        }
        let limit = self.max_section_size;
        let mut fields = FieldSection::new();
        let mut total = 0usize;
        while pos < block.len() {
            let first = block[pos];
            let (name, value) = if first & 0x80 != 0 {
                // Indexed field line: 1 T index(6).
                let index = read_int(block, &mut pos, 6).map_err(&err)?;
                if first & 0x40 != 0 {
                    self.static_entry(index)?
                } else {
                    self.relative(base, index, required)?
                }
            } else if first & 0x40 != 0 {
                // Literal with name reference: 01 N T index(4), value.
                let index = read_int(block, &mut pos, 4).map_err(&err)?;
                let name = if first & 0x10 != 0 {
                    self.static_entry(index)?.0
                } else {
                    self.relative(base, index, required)?.0
                };
                let value = read_string(block, &mut pos, 7, limit).map_err(&err)?;
                (name, value)
            } else if first & 0x20 != 0 {
                // Literal with literal name: 001 N H length(3) name, value.
                let name = read_string(block, &mut pos, 3, limit).map_err(&err)?;
                let value = read_string(block, &mut pos, 7, limit).map_err(&err)?;
                (name, value)
            } else if first & 0x10 != 0 {
                // Indexed field line with post-base index: 0001 index(4).
                let index = read_int(block, &mut pos, 4).map_err(&err)?;
                self.post_base(base, index, required)?
            } else {
                // Literal with post-base name reference: 0000 N index(3), value.
                let index = read_int(block, &mut pos, 3).map_err(&err)?;
                let name = self.post_base(base, index, required)?.0;
                let value = read_string(block, &mut pos, 7, limit).map_err(&err)?;
                (name, value)
            };
            total += name.len() + value.len() + ENTRY_OVERHEAD;
            if total > limit {
                return Err(QpackError::Decompression(
                    "field section over the size limit",
                ));
            }
            fields.push((name, value));
        }
        if required > 0 {
            // Section Acknowledgment: 1 stream id(7).
            write_int(stream_id, 7, 0x80, &mut self.outgoing);
            self.acknowledged = self.acknowledged.max(required);
        }
        Ok(fields)
    }

    fn static_entry(&self, index: u64) -> Result<(Vec<u8>, Vec<u8>), QpackError> {
        let (n, v) = ENTRIES
            .get(index as usize)
            .ok_or(QpackError::Decompression("static index out of range"))?;
        Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
    }

    fn dynamic(&self, absolute: u64, required: u64) -> Result<(Vec<u8>, Vec<u8>), QpackError> {
        if absolute >= required {
            return Err(QpackError::Decompression(
                "reference past the required insert count",
            ));
        }
        self.entry(absolute)
            .cloned()
            .ok_or(QpackError::Decompression("dynamic entry evicted"))
    }

    fn relative(
        &self,
        base: u64,
        index: u64,
        required: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), QpackError> {
        let absolute = base
            .checked_sub(index + 1)
            .ok_or(QpackError::Decompression("relative index out of range"))?;
        self.dynamic(absolute, required)
    }

    fn post_base(
        &self,
        base: u64,
        index: u64,
        required: u64,
    ) -> Result<(Vec<u8>, Vec<u8>), QpackError> {
        self.dynamic(base + index, required)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn text(fields: &FieldSection) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rfc_9204_b1_a_literal_with_a_static_name() {
        let mut d = Decoder::new(220, 1 << 16);
        let fields = d
            .decode_field_section(0, &hex("0000 510b 2f69 6e64 6578 2e68 746d 6c"))
            .unwrap();
        assert_eq!(text(&fields), pairs(&[(":path", "/index.html")]));
        assert!(
            d.take_decoder_stream_bytes().is_empty(),
            "no dynamic reference, no ack"
        );
    }

    #[test]
    fn rfc_9204_b2_to_b4_the_dynamic_table_in_use() {
        let mut d = Decoder::new(220, 1 << 16);
        // B.2: capacity 220, two inserts (one with a Huffman-coded value).
        d.feed_encoder_stream(&hex(
            "3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468",
        ))
        .unwrap();
        assert_eq!(d.insert_count(), 2);
        assert_eq!(
            d.take_decoder_stream_bytes(),
            [0x02],
            "Insert Count Increment 2"
        );
        let fields = d.decode_field_section(4, &hex("0381 10 11")).unwrap();
        assert_eq!(
            text(&fields),
            pairs(&[(":authority", "www.example.com"), (":path", "/sample/path")])
        );
        assert_eq!(
            d.take_decoder_stream_bytes(),
            [0x84],
            "Section Acknowledgment, stream 4"
        );
        // B.3: an insert with a literal name.
        d.feed_encoder_stream(&hex(
            "4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565",
        ))
        .unwrap();
        assert_eq!(d.take_decoder_stream_bytes(), [0x01]);
        // B.4: a duplicate, then a section using it and the static table.
        d.feed_encoder_stream(&hex("02")).unwrap();
        assert_eq!(d.take_decoder_stream_bytes(), [0x01]);
        let fields = d.decode_field_section(8, &hex("0500 80c1 81")).unwrap();
        assert_eq!(
            text(&fields),
            pairs(&[
                (":authority", "www.example.com"),
                (":path", "/"),
                ("custom-key", "custom-value"),
            ])
        );
        assert_eq!(d.take_decoder_stream_bytes(), [0x88]);
    }

    #[test]
    fn eviction_and_instructions_split_across_reads() {
        let mut d = Decoder::new(100, 1 << 16);
        // Capacity 100 holds one entry of 32 + 2 + 40 bytes, not two.
        let mut insert = vec![0x20 | 0x1f, 100 - 31];
        insert.extend([0x42, b'k', b'1', 40]);
        insert.extend([b'v'; 40]);
        d.feed_encoder_stream(&insert[..5]).unwrap();
        assert_eq!(d.insert_count(), 0, "the insert is not whole yet");
        d.feed_encoder_stream(&insert[5..]).unwrap();
        assert_eq!(d.insert_count(), 1);
        let mut second = vec![0x42, b'k', b'2', 40];
        second.extend([b'w'; 40]);
        d.feed_encoder_stream(&second).unwrap();
        assert_eq!(d.insert_count(), 2);
        // Entry 0 is gone: a section referring to it (relative index 1 from base 2) fails.
        // Required Insert Count 2, encoded as 2 mod (2 * MaxEntries 3) + 1.
        let encoded_required = 3;
        let err = d.decode_field_section(0, &[encoded_required as u8, 0x00, 0x81]);
        assert_eq!(err, Err(QpackError::Decompression("dynamic entry evicted")));
        let ok = d
            .decode_field_section(0, &[encoded_required as u8, 0x00, 0x80])
            .unwrap();
        assert_eq!(ok[0].0, b"k2");
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let mut d = Decoder::new(220, 1 << 10);
        assert_eq!(
            d.decode_field_section(0, &hex("0000 ff7f")),
            Err(QpackError::Decompression("static index out of range"))
        );
        assert_eq!(
            d.decode_field_section(0, &hex("0300 80")),
            Err(QpackError::Blocked),
            "references inserts not received"
        );
        assert!(d.decode_field_section(0, &hex("00")).is_err(), "no base");
        assert!(
            d.feed_encoder_stream(&hex("3fff01")).is_err(),
            "capacity over the maximum"
        );
        let mut big = Decoder::new(220, 64);
        let mut section = vec![0, 0, 0x5f, 0x0b, 100];
        section.extend([b'x'; 100]);
        assert!(
            big.decode_field_section(0, &section).is_err(),
            "over the section limit"
        );
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = Decoder::new(220, 1 << 10).decode_field_section(0, &junk);
            let _ = Decoder::new(220, 1 << 10).feed_encoder_stream(&junk);
        }
    }
}
