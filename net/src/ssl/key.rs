//! `SslKey`: a private key (Qt's `QSslKey` for private keys) in PKCS#8, PKCS#1 or SEC1 form.

use std::fmt;
use std::sync::Arc;

use rustls::SignatureAlgorithm;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

use super::pem::{self, SslDecodeError};
use super::provider::provider;

/// The algorithm of a key (Qt's `QSsl::KeyAlgorithm`). Ed25519 keys, which Qt has no name
/// for, are `Opaque`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// An algorithm without a Qt name (here: Ed25519).
    Opaque,
    /// RSA.
    Rsa,
    /// DSA (never produced: rustls cannot sign with DSA).
    Dsa,
    /// Elliptic curve (ECDSA).
    Ec,
    /// Diffie-Hellman (never produced).
    Dh,
}

struct Inner {
    key: PrivateKeyDer<'static>,
    algorithm: KeyAlgorithm,
}

/// An unencrypted private key usable for signing with the ring provider. Cloning is cheap;
/// `Debug` never prints key material.
#[derive(Clone)]
pub struct SslKey {
    inner: Arc<Inner>,
}

impl SslKey {
    /// Decodes the first private key of a PEM text (`PRIVATE KEY`, `RSA PRIVATE KEY` or
    /// `EC PRIVATE KEY`). Encrypted keys are not supported.
    pub fn from_pem(pem: &[u8]) -> Result<SslKey, SslDecodeError> {
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| SslDecodeError::new(format!("no usable private key in PEM: {e}")))?;
        Self::from_key_der(key)
    }

    /// Decodes a DER private key; PKCS#8, PKCS#1 and SEC1 are told apart by their structure.
    pub fn from_der(der: &[u8]) -> Result<SslKey, SslDecodeError> {
        let key = PrivateKeyDer::try_from(der.to_vec())
            .map_err(|e| SslDecodeError::new(format!("invalid private key: {e}")))?;
        Self::from_key_der(key)
    }

    fn from_key_der(key: PrivateKeyDer<'static>) -> Result<SslKey, SslDecodeError> {
        // Loading it through the provider both validates the key and tells its algorithm.
        let signing = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| SslDecodeError::new(format!("unsupported private key: {e}")))?;
        let algorithm = match signing.algorithm() {
            SignatureAlgorithm::RSA => KeyAlgorithm::Rsa,
            SignatureAlgorithm::ECDSA => KeyAlgorithm::Ec,
            SignatureAlgorithm::DSA => KeyAlgorithm::Dsa,
            _ => KeyAlgorithm::Opaque,
        };
        Ok(SslKey {
            inner: Arc::new(Inner { key, algorithm }),
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.inner.algorithm
    }

    /// The DER encoding (in the form it was given).
    pub fn to_der(&self) -> &[u8] {
        self.inner.key.secret_der()
    }

    /// The PEM encoding, labelled by form (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`).
    pub fn to_pem(&self) -> String {
        let label = match &self.inner.key {
            PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
            PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
            _ => "PRIVATE KEY",
        };
        pem::encode(label, self.to_der())
    }

    /// The key as rustls takes it.
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        self.inner.key.clone_key()
    }
}

impl PartialEq for SslKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_der() == other.to_der()
    }
}

impl Eq for SslKey {}

impl fmt::Debug for SslKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SslKey")
            .field("algorithm", &self.inner.algorithm)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::test_certs;

    #[test]
    fn pem_round_trip_keeps_the_key() {
        let key = &test_certs::pki().server.key;
        assert_eq!(key.algorithm(), KeyAlgorithm::Ec);
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(SslKey::from_pem(pem.as_bytes()).unwrap(), *key);
        assert_eq!(SslKey::from_der(key.to_der()).unwrap(), *key);
        assert!(!format!("{key:?}").contains(&format!("{:?}", &key.to_der()[..8])));
    }

    #[test]
    fn bad_keys_are_errors() {
        assert!(SslKey::from_pem(b"").is_err());
        assert!(SslKey::from_pem(test_certs::pki().ca.to_pem().as_bytes()).is_err());
        assert!(SslKey::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        let pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(SslKey::from_pem(pem.as_bytes()).is_err());
    }
}
