//! Multipart boundaries: random generation and RFC 2046 validation.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The prefix Qt documents for generated boundaries.
pub(super) const PREFIX: &str = "boundary_.oOo._";

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `boundary_.oOo._` followed by 32 random alphanumerics (about 190 bits).
///
/// The randomness comes from std's randomly keyed SipHash (`RandomState`, seeded from the OS),
/// mixed with a counter and the clock: a boundary only has to be unpredictable enough not to
/// occur in the parts, it is not a secret.
pub(super) fn generate() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::from(PREFIX);
    let mut word = 0u64;
    for i in 0..32 {
        if i % 8 == 0 {
            let mut h = state.build_hasher();
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            h.write_u128(nanos);
            h.write_usize(i);
            word = h.finish();
        }
        out.push(char::from(
            ALPHABET[(word % ALPHABET.len() as u64) as usize],
        ));
        word /= ALPHABET.len() as u64;
    }
    out
}

/// RFC 2046 section 5.1.1: 1 to 70 `bchars`, not ending in a space.
pub(super) fn is_valid(b: &str) -> bool {
    let bchar = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
    (1..=70).contains(&b.len()) && b.bytes().all(bchar) && !b.ends_with(' ')
}

/// True if the boundary can be a parameter value without quotes (a token).
pub(super) fn is_token(b: &str) -> bool {
    b.bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}
