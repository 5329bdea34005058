//! Content decoding (`Content-Encoding`): gzip, deflate, br and zstd, stacked in any order,
//! with Qt 6's decompression-bomb guard.
//!
//! [`ContentDecoder`] is sans-IO and streaming: the caller pushes encoded bytes and says how
//! many decoded bytes it can take; the decoder never produces more than that, so a reply whose
//! reader is slow never holds more than its read buffer plus the decoders' fixed state (a
//! window and, for zstd, one block), whatever the compression ratio.
//!
//! ```
//! use slotnet_http::decode::ContentDecoder;
//!
//! let mut dec = ContentDecoder::new("identity").unwrap();
//! assert!(dec.is_none()); // nothing to decode
//! let mut dec = ContentDecoder::new("gzip").unwrap().unwrap();
//! let mut out = Vec::new();
//! // A gzip member holding "hi".
//! let body = [
//!     0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xcb, 0xc8, 4, 0, 0xac, 0x2a, 0x93, 0xd8, 2, 0,
//!     0, 0,
//! ];
//! let progress = dec.decode(&body, &mut out, 64 * 1024).unwrap();
//! assert_eq!(progress.consumed, body.len());
//! dec.finish().unwrap();
//! assert_eq!(out, b"hi");
//! ```

#[cfg(feature = "brotli")]
mod brotli;
mod error;
#[cfg(feature = "gzip")]
mod flate;
mod stage;
#[cfg(feature = "zstd")]
mod zstd;

#[cfg(all(test, feature = "gzip", feature = "brotli", feature = "zstd"))]
mod tests;

#[cfg(test)]
mod feature_tests {
    use super::*;

    #[test]
    fn accept_encoding_names_only_the_codings_compiled_in() {
        for zstd in [false, true] {
            for brotli in [false, true] {
                for gzip in [false, true] {
                    let value = accept_encoding_for(zstd, brotli, gzip);
                    let tokens: Vec<&str> = value.split(", ").collect();
                    assert_eq!(tokens.contains(&"zstd"), zstd, "{value}");
                    assert_eq!(tokens.contains(&"br"), brotli, "{value}");
                    assert_eq!(tokens.contains(&"gzip"), gzip, "{value}");
                    assert_eq!(tokens.contains(&"deflate"), gzip, "{value}");
                    assert_eq!(value == "identity", !(zstd || brotli || gzip));
                }
            }
        }
    }

    #[test]
    fn this_builds_codings_are_advertised_and_decoded_the_others_refused() {
        let advertised: Vec<&str> = accept_encoding_value().split(", ").collect();
        for (token, coding) in [
            ("gzip", Coding::Gzip),
            ("deflate", Coding::Deflate),
            ("br", Coding::Brotli),
            ("zstd", Coding::Zstd),
        ] {
            assert_eq!(advertised.contains(&token), coding.is_available());
            match ContentDecoder::new(token) {
                Ok(Some(decoder)) => {
                    assert!(coding.is_available());
                    assert_eq!(decoder.codings(), [coding]);
                }
                Err(DecodeError::UnsupportedEncoding(t)) => {
                    assert!(!coding.is_available());
                    assert_eq!(t, token);
                }
                other => panic!("{token}: {other:?}"),
            }
        }
    }
}

pub use error::{Coding, DecodeError};

use stage::Stage;

/// The most content codings one response may stack (`Content-Encoding: gzip, br` is two).
/// More is refused: each decoder holds a window, and nobody legitimately stacks more.
pub const MAX_STACKED_CODINGS: usize = 4;

/// Qt 6's default decompressed safety check threshold: the ratio check starts once this many
/// bytes were decoded.
pub const DEFAULT_SAFETY_THRESHOLD: i64 = 10 * 1024 * 1024;

/// Size of the buffers between stacked decoders, and the largest piece a single decoder call
/// writes into the caller's vector at once.
const PIPE_SIZE: usize = 32 * 1024;

/// The `Accept-Encoding` value slotnet sends: every coding [`ContentDecoder`] can decode in
/// this build (the cargo features `zstd`, `brotli`, `gzip`), `identity` when none is.
pub const fn accept_encoding_value() -> &'static str {
    accept_encoding_for(
        Coding::Zstd.is_available(),
        Coding::Brotli.is_available(),
        Coding::Gzip.is_available(),
    )
}

/// The `Accept-Encoding` value for the codings compiled in, most preferred first (Qt's order).
const fn accept_encoding_for(zstd: bool, brotli: bool, gzip: bool) -> &'static str {
    match (zstd, brotli, gzip) {
        (true, true, true) => "zstd, br, gzip, deflate",
        (true, true, false) => "zstd, br",
        (true, false, true) => "zstd, gzip, deflate",
        (true, false, false) => "zstd",
        (false, true, true) => "br, gzip, deflate",
        (false, true, false) => "br",
        (false, false, true) => "gzip, deflate",
        (false, false, false) => "identity",
    }
}

/// The decoder of one coding ([`ContentDecoder::new`] lets through only the available ones).
fn stage_for(coding: Coding) -> Box<dyn Stage> {
    match coding {
        #[cfg(feature = "gzip")]
        Coding::Gzip => Box::new(flate::GzipStage::new()),
        #[cfg(feature = "gzip")]
        Coding::Deflate => Box::new(flate::DeflateStage::new()),
        #[cfg(feature = "brotli")]
        Coding::Brotli => Box::new(brotli::BrotliStage::new()),
        #[cfg(feature = "zstd")]
        Coding::Zstd => Box::new(zstd::ZstdStage::new()),
        #[allow(unreachable_patterns)]
        unavailable => unreachable!("{unavailable} is not compiled in, new() refuses it"),
    }
}

/// What one [`ContentDecoder::decode`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeProgress {
    /// Encoded bytes consumed from the front of `input`.
    pub consumed: usize,
    /// Decoded bytes appended to `out`.
    pub produced: usize,
}

/// A bounded buffer between two stacked decoders.
struct Pipe {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Pipe {
    fn new() -> Self {
        Pipe {
            buf: vec![0; PIPE_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The free space at the back, after moving unread bytes to the front if that helps.
    fn space(&mut self) -> &mut [u8] {
        if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }
}

/// A streaming decoder for a response body's `Content-Encoding`.
///
/// Create it with [`ContentDecoder::new`], push the body with [`decode`](Self::decode), drain
/// with `decode(&[], ..)` until it produces less than asked, then call
/// [`finish`](Self::finish) at the end of the body to learn whether the stream was complete.
pub struct ContentDecoder {
    /// Decoders in decoding order: the last coding applied comes first.
    stages: Vec<Box<dyn Stage>>,
    /// `pipes[i]` carries the output of `stages[i]` to `stages[i + 1]`.
    pipes: Vec<Pipe>,
    threshold: Option<u64>,
    max_ratio: u64,
    total_in: u64,
    total_out: u64,
    failed: Option<DecodeError>,
}

impl std::fmt::Debug for ContentDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentDecoder")
            .field("codings", &self.codings())
            .field("total_in", &self.total_in)
            .field("total_out", &self.total_out)
            .finish()
    }
}

impl ContentDecoder {
    /// A decoder for a `Content-Encoding` header value (several header lines joined with
    /// `", "`). Codings are listed in the order they were applied, so they are undone from the
    /// last to the first. Names are case-insensitive; `x-gzip` is `gzip`; `identity` and empty
    /// list elements are skipped.
    ///
    /// Returns `Ok(None)` when there is nothing to decode, and
    /// [`DecodeError::UnsupportedEncoding`] for a coding slotnet does not know (the reply must
    /// not hand undecodable bytes to the application as if they were the content).
    pub fn new(content_encoding: &str) -> Result<Option<Self>, DecodeError> {
        let mut codings = Vec::new();
        for token in content_encoding.split(',') {
            let token = token.trim_matches([' ', '\t']);
            let coding = match token.to_ascii_lowercase().as_str() {
                "" | "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => return Err(DecodeError::UnsupportedEncoding(token.to_string())),
            };
            // A coding whose feature is off is one this build cannot decode.
            if !coding.is_available() {
                return Err(DecodeError::UnsupportedEncoding(token.to_string()));
            }
            if codings.len() == MAX_STACKED_CODINGS {
                return Err(DecodeError::TooManyEncodings);
            }
            codings.push(coding);
        }
        if codings.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self::from_codings(&codings)))
    }

    /// A decoder for codings given in the order they were applied (at least one).
    fn from_codings(applied: &[Coding]) -> Self {
        let stages: Vec<Box<dyn Stage>> = applied.iter().rev().map(|&c| stage_for(c)).collect();
        // Stacked codings are checked against the most permissive limit among them, applied
        // to the whole chain: a gzip-in-gzip bomb multiplies its ratios and still trips it.
        let max_ratio = applied.iter().map(|c| c.max_ratio()).max().unwrap_or(40);
        ContentDecoder {
            pipes: (1..stages.len()).map(|_| Pipe::new()).collect(),
            stages,
            threshold: Some(DEFAULT_SAFETY_THRESHOLD as u64),
            max_ratio,
            total_in: 0,
            total_out: 0,
            failed: None,
        }
    }

    /// Sets the decompressed safety check threshold (Qt's
    /// `QNetworkRequest::setDecompressedSafetyCheckThreshold`): once more than `threshold`
    /// bytes were decoded, an output/input ratio above the coding's limit (40 for gzip and
    /// deflate, 100 for br and zstd) fails with [`DecodeError::BombSuspected`]. A negative
    /// value (Qt uses -1) disables the check. The default is 10 MiB.
    pub fn set_decompressed_safety_check_threshold(&mut self, threshold: i64) {
        self.threshold = u64::try_from(threshold).ok();
    }

    /// Builder form of [`set_decompressed_safety_check_threshold`](Self::set_decompressed_safety_check_threshold).
    pub fn with_decompressed_safety_check_threshold(mut self, threshold: i64) -> Self {
        self.set_decompressed_safety_check_threshold(threshold);
        self
    }

    /// The codings this decoder undoes, in the order they were applied.
    pub fn codings(&self) -> Vec<Coding> {
        self.stages.iter().rev().map(|s| s.coding()).collect()
    }

    /// Encoded bytes consumed so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Decoded bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Consumes encoded bytes from the front of `input` and appends at most `max_out` decoded
    /// bytes to `out`.
    ///
    /// It returns as soon as all of `input` is consumed or `max_out` bytes were produced. When
    /// `produced < max_out`, everything that can be decoded from the bytes seen so far has been
    /// produced; when `produced == max_out`, call again (with the unconsumed rest of `input`,
    /// or `&[]`) once there is room. `out` never grows by more than `max_out`.
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<DecodeProgress, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.run(input, out, max_out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<DecodeProgress, DecodeError> {
        let mut progress = DecodeProgress::default();
        let last = self.stages.len() - 1;
        while progress.produced < max_out {
            let mut moved = false;
            // Downstream first, so the pipes drain before upstream stages refill them.
            for i in (0..=last).rev() {
                let (before, after) = self.pipes.split_at_mut(i);
                let (c, w) = {
                    let src: &[u8] = if i == 0 {
                        &input[progress.consumed..]
                    } else {
                        before[i - 1].data()
                    };
                    if i == last {
                        let room = (max_out - progress.produced).min(PIPE_SIZE);
                        let old = out.len();
                        out.resize(old + room, 0);
                        let r = self.stages[i].step(src, &mut out[old..]);
                        let written = r.as_ref().map_or(0, |r| r.1);
                        out.truncate(old + written);
                        r?
                    } else {
                        self.stages[i].step(src, after[0].space())?
                    }
                };
                if i == 0 {
                    progress.consumed += c;
                    self.total_in += c as u64;
                } else {
                    before[i - 1].consume(c);
                }
                if i == last {
                    progress.produced += w;
                    self.total_out += w as u64;
                    self.check_ratio()?;
                } else {
                    after[0].end += w;
                }
                moved |= c > 0 || w > 0;
            }
            if !moved {
                break;
            }
        }
        Ok(progress)
    }

    fn check_ratio(&self) -> Result<(), DecodeError> {
        match self.threshold {
            Some(t)
                if self.total_out > t
                    && self.total_out > self.total_in.saturating_mul(self.max_ratio) =>
            {
                Err(DecodeError::BombSuspected {
                    input: self.total_in,
                    output: self.total_out,
                })
            }
            _ => Ok(()),
        }
    }

    /// True once every encoded stream ended and all decoded bytes were handed out.
    pub fn is_finished(&self) -> bool {
        self.stages.iter().all(|s| s.is_complete())
            && self.pipes.iter().all(|p| p.data().is_empty())
    }

    /// Call at the end of the body: `Ok` if the encoded stream was complete and fully drained.
    ///
    /// [`DecodeError::Truncated`] if the body stopped before the end of a stream,
    /// [`DecodeError::OutputPending`] if decoded bytes still wait for `decode(&[], ..)`. An
    /// empty body is accepted (some servers label empty bodies `gzip`; browsers accept that).
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.total_in == 0 {
            return Ok(());
        }
        let pending = self.stages.iter().any(|s| s.has_pending_output())
            || self.pipes.iter().any(|p| !p.data().is_empty());
        if pending {
            return Err(DecodeError::OutputPending);
        }
        // The first incomplete stage in decoding order is the one whose input was cut short.
        match self.stages.iter().find(|s| !s.is_complete()) {
            Some(s) => Err(DecodeError::Truncated(s.coding())),
            None => Ok(()),
        }
    }
}
