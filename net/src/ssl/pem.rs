//! PEM encoding (decoding is rustls-pki-types' `PemObject`) and the decode error type.

use std::fmt;

/// A certificate or key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslDecodeError {
    message: String,
}

impl SslDecodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        SslDecodeError {
            message: message.into(),
        }
    }

    /// What went wrong, for logs.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SslDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SslDecodeError {}

/// Encodes `der` as a PEM block with `label` (e.g. `CERTIFICATE`), 64 columns, `\n` endings
/// (RFC 7468), as Qt's `toPem` writes it.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_block_is_one_line_of_padded_base64() {
        assert_eq!(
            encode("TEST", b"foob"),
            "-----BEGIN TEST-----\nZm9vYg==\n-----END TEST-----\n"
        );
    }

    #[test]
    fn pem_lines_are_64_columns() {
        let pem = encode("TEST", &[0xAB; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN TEST-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END TEST-----"));
    }
}
