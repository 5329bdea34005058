//! Huffman-coded HPACK strings (RFC 7541, section 5.2 and appendix B): their decoded length
//! and their validity (no EOS symbol; padding of at most 7 bits, all ones), found without
//! producing the decoded octets.
//!
//! The code is canonical (codes of one length are consecutive in symbol order, shorter codes
//! first), so the code lengths alone define it. From them a 4-bit automaton is built once:
//! its states are the inner nodes of the code tree, each input nibble moves to another node
//! and completes at most one symbol (the shortest code has 5 bits).

use std::sync::OnceLock;

/// Code lengths of symbols 0 to 255, then EOS (RFC 7541, appendix B).
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

const EOS: u16 = 256;
/// Inner nodes of the code tree (257 leaves).
const NODES: usize = 256;

/// A transition: the next node (low 8 bits), [`EMITS`], [`FAILS`].
type Step = u16;
/// The nibble completed a symbol.
const EMITS: Step = 1 << 8;
/// The nibble completed EOS: the string is invalid.
const FAILS: Step = 1 << 9;

struct Automaton {
    steps: Vec<[Step; 16]>,
    /// Nodes where a string may end: the root, and the all-ones path up to 7 bits deep
    /// (a prefix of EOS used as padding).
    accepting: [bool; NODES],
}

#[derive(Clone, Copy)]
enum Child {
    Node(u8),
    Leaf(u16),
}

fn automaton() -> &'static Automaton {
    static AUTOMATON: OnceLock<Automaton> = OnceLock::new();
    AUTOMATON.get_or_init(build)
}

fn build() -> Automaton {
    // The code tree, from canonical codes.
    let mut symbols: Vec<u16> = (0..=EOS).collect();
    symbols.sort_by_key(|&s| (CODE_LENGTHS[usize::from(s)], s));
    let mut children: Vec<[Option<Child>; 2]> = vec![[None, None]];
    let mut code: u32 = 0;
    let mut previous_len = CODE_LENGTHS[usize::from(symbols[0])];
    for (i, &symbol) in symbols.iter().enumerate() {
        let len = CODE_LENGTHS[usize::from(symbol)];
        if i > 0 {
            code = (code + 1) << (len - previous_len);
        }
        previous_len = len;
        let mut node = 0usize;
        for depth in (0..len).rev() {
            let bit = ((code >> depth) & 1) as usize;
            if depth == 0 {
                children[node][bit] = Some(Child::Leaf(symbol));
            } else {
                node = match children[node][bit] {
                    Some(Child::Node(n)) => usize::from(n),
                    _ => {
                        children.push([None, None]);
                        let n = children.len() - 1;
                        children[node][bit] = Some(Child::Node(n as u8));
                        n
                    }
                };
            }
        }
    }
    debug_assert_eq!(children.len(), NODES);
    let child = |node: usize, bit: usize| children[node][bit].unwrap_or(Child::Leaf(EOS));
    let steps = (0..NODES)
        .map(|start| {
            let mut row = [0; 16];
            for (nibble, step) in row.iter_mut().enumerate() {
                let mut node = start;
                let mut flags = 0;
                for shift in (0..4).rev() {
                    match child(node, (nibble >> shift) & 1) {
                        Child::Node(n) => node = usize::from(n),
                        Child::Leaf(EOS) => {
                            flags |= FAILS;
                            break;
                        }
                        Child::Leaf(_) => {
                            flags |= EMITS;
                            node = 0;
                        }
                    }
                }
                *step = node as Step | flags;
            }
            row
        })
        .collect();
    let mut accepting = [false; NODES];
    accepting[0] = true;
    let mut node = 0;
    for _ in 0..7 {
        if let Child::Node(n) = child(node, 1) {
            node = usize::from(n);
            accepting[node] = true;
        }
    }
    Automaton { steps, accepting }
}

/// The length of the decoded string, or `None` if the Huffman code is invalid (it contains
/// EOS, or ends with more than 7 bits of padding or padding that is not all ones).
pub(crate) fn decoded_len(src: &[u8]) -> Option<usize> {
    let automaton = automaton();
    let mut node = 0usize;
    let mut len = 0usize;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = automaton.steps[node][usize::from(nibble)];
            if step & FAILS != 0 {
                return None;
            }
            len += usize::from(step & EMITS != 0);
            node = usize::from(step as u8);
        }
    }
    automaton.accepting[node].then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7541_examples_decode_to_their_length() {
        // C.4.1 "www.example.com", C.4.2 "no-cache", C.6.1 "302", "private",
        // "Mon, 21 Oct 2013 20:13:21 GMT".
        let cases: [(&[u8], usize); 5] = [
            (
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
                15,
            ),
            (&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], 8),
            (&[0x64, 0x02], 3),
            (&[0xae, 0xc3, 0x77, 0x1a, 0x4b], 7),
            (
                &[
                    0xd0, 0x7a, 0xbe, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20, 0x05, 0x95, 0x04,
                    0x0b, 0x81, 0x66, 0xe0, 0x82, 0xa6, 0x2d, 0x1b, 0xff,
                ],
                29,
            ),
        ];
        for (code, len) in cases {
            assert_eq!(decoded_len(code), Some(len), "{code:x?}");
        }
        assert_eq!(decoded_len(&[]), Some(0));
    }

    #[test]
    fn every_octet_alone_is_valid() {
        // Each symbol's code, padded with ones to whole octets, decodes to one symbol.
        let mut symbols: Vec<u16> = (0..=EOS).collect();
        symbols.sort_by_key(|&s| (CODE_LENGTHS[usize::from(s)], s));
        let mut code: u64 = 0;
        let mut previous = CODE_LENGTHS[usize::from(symbols[0])];
        for (i, &symbol) in symbols.iter().enumerate() {
            let len = CODE_LENGTHS[usize::from(symbol)];
            if i > 0 {
                code = (code + 1) << (len - previous);
            }
            previous = len;
            let bits = u32::from(len).div_ceil(8) * 8;
            let padded = (code << (bits - u32::from(len))) | ((1 << (bits - u32::from(len))) - 1);
            let octets: Vec<u8> = (0..bits / 8)
                .rev()
                .map(|i| (padded >> (8 * i)) as u8)
                .collect();
            let expected = (symbol != EOS).then_some(1);
            assert_eq!(decoded_len(&octets), expected, "symbol {symbol}");
        }
    }

    #[test]
    fn bad_padding_and_eos_are_invalid() {
        // "a" is 00011: padded with 3 ones it is valid, with zeros or 11 ones it is not.
        assert_eq!(decoded_len(&[0x1f]), Some(1));
        assert_eq!(decoded_len(&[0x18]), None);
        assert_eq!(decoded_len(&[0x1f, 0xff]), None);
        // A whole octet of padding alone.
        assert_eq!(decoded_len(&[0xff]), None);
        // EOS (30 ones).
        assert_eq!(decoded_len(&[0xff, 0xff, 0xff, 0xff]), None);
    }
}
