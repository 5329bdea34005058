//! Hashing and randomness for Digest: MD5 (the `md5` crate: `ring` has none) and SHA-256
//! (`ring`, already linked for TLS).

use ring::rand::{SecureRandom, SystemRandom};

use super::challenge::DigestAlgorithm;
use super::error::AuthError;

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The lower-case hex digest of `data` with the algorithm's hash function.
pub(crate) fn hex_digest(algorithm: DigestAlgorithm, data: &[u8]) -> String {
    match algorithm {
        DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => to_hex(&md5::compute(data).0),
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => {
            to_hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
        }
    }
}

/// A fresh client nonce: 128 random bits in hex.
pub(crate) fn new_cnonce() -> Result<String, AuthError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::RandomUnavailable)?;
    Ok(to_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // RFC 1321 and FIPS 180-2 test vectors.
        assert_eq!(
            hex_digest(DigestAlgorithm::Md5, b""),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(
            hex_digest(DigestAlgorithm::Md5Sess, b"abc"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex_digest(DigestAlgorithm::Sha256, b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cnonces_are_fresh() {
        let a = new_cnonce().unwrap();
        let b = new_cnonce().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
