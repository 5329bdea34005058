//! permessage-deflate (RFC 7692): the extension's negotiation and the per-message
//! compressor and decompressor.
//!
//! The deflate backend is flate2's default, miniz_oxide, which compresses and decompresses
//! raw deflate with a 32 KiB window (15 bits) only. Decompressing needs nothing else: a
//! 32 KiB window reads any stream written with a smaller one. Compressing with a smaller
//! window is impossible, so slotnet never agrees to write with fewer than 15 bits: a server
//! declines an offer whose `server_max_window_bits` is below 15 (RFC 7692 7.1.2.1 lets it),
//! and a client never offers `client_max_window_bits` (so a server may not ask for it).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub(crate) const EXTENSION: &str = "permessage-deflate";
/// The tail every sync-flushed message ends with, removed by the sender and restored by the
/// receiver (RFC 7692, 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What the two sides agreed for one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeflateParams {
    /// The server starts every message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty window.
    pub client_no_context_takeover: bool,
    /// The server's window (a hint for the client's decompressor; 15 when absent).
    pub server_max_window_bits: Option<u8>,
    /// The client's window (15 when absent).
    pub client_max_window_bits: Option<u8>,
}

/// One extension of a `Sec-WebSocket-Extensions` value: its name and parameters.
type Extension<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>);

/// Splits the header values into extensions (`name; p1; p2=v, name2`); quoted values lose
/// their quotes.
fn parse_extensions<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Extension<'a>> {
    let mut out = Vec::new();
    for value in values {
        for ext in value.split(',') {
            let mut parts = ext.split(';').map(str::trim);
            let Some(name) = parts.next().filter(|n| !n.is_empty()) else {
                continue;
            };
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                })
                .collect();
            out.push((name, params));
        }
    }
    out
}

/// A window size parameter's value: 8 to 15.
fn window_bits(value: Option<&str>) -> Option<u8> {
    value?.parse().ok().filter(|b| (8..=15).contains(b))
}

/// The client's offer.
pub(crate) fn client_offer() -> &'static str {
    EXTENSION
}

/// The server's choice among the client's offers (`Sec-WebSocket-Extensions` values): the
/// first permessage-deflate offer it can honour, with the response value to send.
pub(crate) fn server_accept<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Option<(DeflateParams, String)> {
    'offers: for (name, params) in parse_extensions(values) {
        if !name.eq_ignore_ascii_case(EXTENSION) {
            continue;
        }
        let mut agreed = DeflateParams::default();
        let mut seen = Vec::new();
        for (key, value) in params {
            if seen.contains(&key) {
                continue 'offers; // a parameter twice: an invalid offer (7.1)
            }
            seen.push(key);
            match key {
                "server_no_context_takeover" if value.is_none() => {
                    agreed.server_no_context_takeover = true;
                }
                "client_no_context_takeover" if value.is_none() => {
                    agreed.client_no_context_takeover = true;
                }
                "server_max_window_bits" => match window_bits(value) {
                    // Only a 15-bit window can be written (see the module's note).
                    Some(15) => agreed.server_max_window_bits = Some(15),
                    _ => continue 'offers,
                },
                "client_max_window_bits" => match value {
                    // The client may use less; the response need not say anything (7.1.2.2).
                    None => {}
                    Some(_) => match window_bits(value) {
                        Some(bits) => agreed.client_max_window_bits = Some(bits),
                        None => continue 'offers,
                    },
                },
                _ => continue 'offers,
            }
        }
        let mut response = EXTENSION.to_owned();
        if agreed.server_no_context_takeover {
            response.push_str("; server_no_context_takeover");
        }
        if agreed.client_no_context_takeover {
            response.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = agreed.server_max_window_bits {
            response.push_str(&format!("; server_max_window_bits={bits}"));
        }
        if let Some(bits) = agreed.client_max_window_bits {
            response.push_str(&format!("; client_max_window_bits={bits}"));
        }
        return Some((agreed, response));
    }
    None
}

/// The client's check of the server's `Sec-WebSocket-Extensions` answer to
/// [`client_offer`]: `Ok(None)` when it declined, an error for an answer that breaks the
/// offer (the client must then fail the connection, 7.1.2.2 and RFC 6455 9.1).
pub(crate) fn client_check<'a>(
    values: impl Iterator<Item = &'a str>,
    offered: bool,
) -> Result<Option<DeflateParams>, String> {
    let extensions = parse_extensions(values);
    let mut agreed = None;
    for (name, params) in extensions {
        if !name.eq_ignore_ascii_case(EXTENSION) || !offered {
            return Err(format!(
                "the server chose the extension {name} that was not offered"
            ));
        }
        if agreed.is_some() {
            return Err("the server chose permessage-deflate twice".into());
        }
        let mut p = DeflateParams::default();
        for (key, value) in params {
            match (key, value) {
                ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
                ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
                ("server_max_window_bits", v) if window_bits(v).is_some() => {
                    p.server_max_window_bits = window_bits(v);
                }
                // Not offered (the compressor only writes 15-bit windows).
                _ => return Err(format!("unexpected permessage-deflate parameter {key}")),
            }
        }
        agreed = Some(p);
    }
    Ok(agreed)
}

/// Why a compressed message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates past the size limit.
    TooBig,
    /// It is not valid deflate data.
    Corrupt,
}

/// The compressor of one direction of a connection.
pub(crate) struct Deflater {
    compress: Compress,
    /// Every message starts with an empty window.
    reset_each_message: bool,
}

impl Deflater {
    pub(crate) fn new(reset_each_message: bool) -> Deflater {
        Deflater {
            compress: Compress::new(Compression::default(), false),
            reset_each_message,
        }
    }

    /// Appends `data` compressed as one message (sync-flushed, tail removed) to `out`.
    pub(crate) fn compress_message(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let base = self.compress.total_in();
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve((data.len() / 4).clamp(1024, 1 << 20));
            }
            let consumed = (self.compress.total_in() - base) as usize;
            // Cannot fail: the stream is raw deflate written only here.
            let _ = self
                .compress
                .compress_vec(&data[consumed..], out, FlushCompress::Sync);
            let consumed = (self.compress.total_in() - base) as usize;
            // Done when all input is in and the flush did not fill the output.
            if consumed == data.len() && out.len() < out.capacity() {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset_each_message {
            self.compress.reset();
        }
    }
}

/// The decompressor of one direction of a connection.
pub(crate) struct Inflater {
    decompress: Decompress,
    reset_each_message: bool,
}

impl Inflater {
    pub(crate) fn new(reset_each_message: bool) -> Inflater {
        Inflater {
            decompress: Decompress::new(false),
            reset_each_message,
        }
    }

    /// Inflates `data` (a frame's payload) onto `out`, which may not grow past `limit`
    /// bytes: memory stays bounded whatever the ratio (a "zip bomb" stops at the limit).
    pub(crate) fn inflate(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let base = self.decompress.total_in();
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    // Full at the limit: any more output is too much. Probe with one byte.
                    let mut probe = Vec::with_capacity(1);
                    let consumed = (self.decompress.total_in() - base) as usize;
                    self.decompress
                        .decompress_vec(&data[consumed..], &mut probe, FlushDecompress::Sync)
                        .map_err(|_| InflateError::Corrupt)?;
                    if !probe.is_empty() {
                        return Err(InflateError::TooBig);
                    }
                    let consumed = (self.decompress.total_in() - base) as usize;
                    if consumed == data.len() {
                        return Ok(());
                    }
                    continue;
                }
                let grow = (data.len() * 4).clamp(4096, 1 << 20).min(limit - out.len());
                out.reserve_exact(grow);
            }
            let consumed = (self.decompress.total_in() - base) as usize;
            let status = self
                .decompress
                .decompress_vec(&data[consumed..], out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let consumed = (self.decompress.total_in() - base) as usize;
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if status == Status::StreamEnd && consumed < data.len() {
                // A final block (BFINAL) ends the stream; anything after it is garbage.
                return Err(InflateError::Corrupt);
            }
            if consumed == data.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the removed tail, resets the window if agreed.
    pub(crate) fn finish_message(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let result = self.inflate(&TAIL, out, limit);
        if self.reset_each_message {
            self.decompress.reset(false);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(deflater: &mut Deflater, inflater: &mut Inflater, message: &[u8]) -> usize {
        let mut wire = Vec::new();
        deflater.compress_message(message, &mut wire);
        let mut out = Vec::new();
        inflater.inflate(&wire, &mut out, 1 << 30).unwrap();
        inflater.finish_message(&mut out, 1 << 30).unwrap();
        assert_eq!(out, message);
        wire.len()
    }

    #[test]
    fn messages_round_trip_and_context_takeover_shrinks_repeats() {
        let text: Vec<u8> = (0..300u32)
            .flat_map(|i| format!("{} ", i * 7919 % 1000).into_bytes())
            .collect();
        let (mut d, mut i) = (Deflater::new(false), Inflater::new(false));
        let first = roundtrip(&mut d, &mut i, &text);
        let second = roundtrip(&mut d, &mut i, &text);
        assert!(
            second < first / 4,
            "with the window kept: {second} vs {first}"
        );
        roundtrip(&mut d, &mut i, b"");
        let (mut d, mut i) = (Deflater::new(true), Inflater::new(true));
        let first = roundtrip(&mut d, &mut i, &text);
        let second = roundtrip(&mut d, &mut i, &text);
        assert_eq!(first, second, "no context takeover: every message alike");
    }

    #[test]
    fn rfc_7692_example_inflates() {
        // 7.2.3.1: "Hello" compressed.
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        i.finish_message(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn a_bomb_stops_at_the_limit_with_bounded_memory() {
        let zeros = vec![0u8; 8 << 20];
        let mut wire = Vec::new();
        Deflater::new(true).compress_message(&zeros, &mut wire);
        assert!(wire.len() < 16 << 10, "{} bytes", wire.len());
        let mut out = Vec::new();
        let limit = 1 << 20;
        assert_eq!(
            Inflater::new(false).inflate(&wire, &mut out, limit),
            Err(InflateError::TooBig)
        );
        assert!(out.capacity() <= limit, "capacity {}", out.capacity());
        // Exactly at the limit is fine.
        let mut out = Vec::new();
        let mut i = Inflater::new(false);
        i.inflate(&wire, &mut out, 8 << 20).unwrap();
        i.finish_message(&mut out, 8 << 20).unwrap();
        assert_eq!(out.len(), 8 << 20);
    }

    #[test]
    fn garbage_is_corrupt() {
        let mut out = Vec::new();
        assert_eq!(
            Inflater::new(false).inflate(&[0xff; 32], &mut out, 1000),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn the_server_accepts_what_it_can_write_and_declines_small_windows() {
        let (p, response) =
            server_accept(["permessage-deflate; client_max_window_bits"].into_iter()).unwrap();
        assert_eq!(p, DeflateParams::default());
        assert_eq!(response, "permessage-deflate");
        let (p, response) = server_accept(
            [
                "permessage-deflate; server_max_window_bits=10, permessage-deflate; \
                 server_no_context_takeover; client_no_context_takeover; client_max_window_bits=12",
            ]
            .into_iter(),
        )
        .unwrap();
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        assert_eq!(p.client_max_window_bits, Some(12));
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             client_max_window_bits=12"
        );
        assert_eq!(
            server_accept(["permessage-deflate; server_max_window_bits=9"].into_iter()),
            None
        );
        assert_eq!(server_accept(["x-webkit-deflate-frame"].into_iter()), None);
        assert_eq!(
            server_accept(["permessage-deflate; unknown_param"].into_iter()),
            None
        );
        assert!(
            server_accept(["permessage-deflate; server_max_window_bits=15"].into_iter()).is_some()
        );
    }

    #[test]
    fn the_client_takes_valid_answers_and_refuses_what_it_did_not_offer() {
        assert_eq!(client_check([].into_iter(), true), Ok(None));
        assert_eq!(
            client_check(
                ["permessage-deflate; server_max_window_bits=12; server_no_context_takeover"]
                    .into_iter(),
                true
            ),
            Ok(Some(DeflateParams {
                server_no_context_takeover: true,
                server_max_window_bits: Some(12),
                ..DeflateParams::default()
            }))
        );
        assert!(client_check(["permessage-deflate"].into_iter(), false).is_err());
        assert!(client_check(
            ["permessage-deflate; client_max_window_bits=10"].into_iter(),
            true
        )
        .is_err());
        assert!(client_check(
            ["permessage-deflate; server_max_window_bits=7"].into_iter(),
            true
        )
        .is_err());
        assert!(client_check(["foo"].into_iter(), true).is_err());
    }
}
