//! Decoding the Huffman code of RFC 7541 Appendix B (peers code most strings with it; the
//! encoder here sends plain literals).

use std::sync::OnceLock;

use super::huffman_table::CODES;

/// A binary tree over the codes: `nodes[i]` holds the two children of node `i`; a child is
/// a node index, or a symbol with [`LEAF`] set. 0 means no child (an invalid code).
struct Tree {
    nodes: Vec<[u16; 2]>,
}

const LEAF: u16 = 0x8000;

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut nodes = vec![[0u16; 2]];
        for (symbol, &(code, len)) in CODES.iter().enumerate() {
            let mut node = 0usize;
            for bit in (0..len).rev() {
                let b = ((code >> bit) & 1) as usize;
                if bit == 0 {
                    nodes[node][b] = LEAF | symbol as u16;
                } else {
                    if nodes[node][b] == 0 {
                        nodes.push([0; 2]);
                        nodes[node][b] = (nodes.len() - 1) as u16;
                    }
                    node = nodes[node][b] as usize;
                }
            }
        }
        Tree { nodes }
    })
}

/// Decodes `input`; `None` for an invalid code, EOS in the string, or padding that is not
/// a prefix of EOS (all ones) of at most 7 bits.
pub(super) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let tree = tree();
    let mut out = Vec::with_capacity(input.len() * 8 / 5);
    let mut node = 0usize;
    // Bits consumed since the last symbol, and whether all of them were ones.
    let mut pending = 0u32;
    let mut all_ones = true;
    for &byte in input {
        for bit in (0..8).rev() {
            let b = ((byte >> bit) & 1) as usize;
            let next = tree.nodes[node][b];
            pending += 1;
            all_ones &= b == 1;
            if next == 0 {
                return None;
            }
            if next & LEAF != 0 {
                out.push((next & !LEAF) as u8);
                node = 0;
                pending = 0;
                all_ones = true;
            } else {
                node = next as usize;
            }
        }
    }
    (pending <= 7 && all_ones).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn the_rfc_7541_huffman_examples_decode() {
        // RFC 7541 C.4.1 and C.6.1.
        assert_eq!(
            decode(&hex("f1e3c2e5f23a6ba0ab90f4ff")).unwrap(),
            b"www.example.com"
        );
        assert_eq!(decode(&hex("a8eb10649cbf")).unwrap(), b"no-cache");
        assert_eq!(
            decode(&hex("d07abe941054d444a8200595040b8166e082a62d1bff")).unwrap(),
            b"Mon, 21 Oct 2013 20:13:21 GMT"
        );
        assert_eq!(decode(&[]).unwrap(), b"");
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        // "a" is 00011 (5 bits): padded with 111 it is valid; with 000 it is not.
        assert_eq!(decode(&[0b0001_1111]).unwrap(), b"a");
        assert_eq!(decode(&[0b0001_1000]), None);
        // A whole byte of padding (8 ones) is too long.
        assert_eq!(decode(&[0b0001_1111, 0xff]), None);
        // EOS itself (30 ones) is not a symbol.
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xfc]), None);
    }
}
