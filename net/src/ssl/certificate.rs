//! `SslCertificate`: Qt's `QSslCertificate`, an immutable, cheaply cloned X.509 certificate.
//!
//! The fields Qt exposes are decoded once with x509-parser when the certificate is made; the
//! DER bytes are kept for rustls and for `to_der`/`to_pem`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use x509_parser::oid_registry::{
    Oid, OID_PKCS9_EMAIL_ADDRESS, OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME,
    OID_X509_DN_QUALIFIER, OID_X509_LOCALITY_NAME, OID_X509_ORGANIZATIONAL_UNIT,
    OID_X509_ORGANIZATION_NAME, OID_X509_SERIALNUMBER, OID_X509_STATE_OR_PROVINCE_NAME,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Error, X509Name};

use super::pem::{self, SslDecodeError};

/// A field of a certificate's subject or issuer name (Qt's `QSslCertificate::SubjectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectInfo {
    /// O
    Organization,
    /// CN
    CommonName,
    /// L
    LocalityName,
    /// OU
    OrganizationalUnitName,
    /// C
    CountryName,
    /// ST
    StateOrProvinceName,
    /// dnQualifier
    DistinguishedNameQualifier,
    /// serialNumber (of the subject, not the certificate's serial number)
    SerialNumber,
    /// emailAddress
    EmailAddress,
}

impl SubjectInfo {
    fn oid(self) -> Oid<'static> {
        match self {
            SubjectInfo::Organization => OID_X509_ORGANIZATION_NAME,
            SubjectInfo::CommonName => OID_X509_COMMON_NAME,
            SubjectInfo::LocalityName => OID_X509_LOCALITY_NAME,
            SubjectInfo::OrganizationalUnitName => OID_X509_ORGANIZATIONAL_UNIT,
            SubjectInfo::CountryName => OID_X509_COUNTRY_NAME,
            SubjectInfo::StateOrProvinceName => OID_X509_STATE_OR_PROVINCE_NAME,
            SubjectInfo::DistinguishedNameQualifier => OID_X509_DN_QUALIFIER,
            SubjectInfo::SerialNumber => OID_X509_SERIALNUMBER,
            SubjectInfo::EmailAddress => OID_PKCS9_EMAIL_ADDRESS,
        }
    }
}

/// One subject alternative name (Qt's `QSsl::AlternativeNameEntryType` with its value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectAltName {
    /// A DNS name (`DnsEntry`), possibly a wildcard such as `*.example.com`.
    Dns(String),
    /// An e-mail address (`EmailEntry`).
    Email(String),
    /// An IP address (`IpAddressEntry`).
    IpAddress(IpAddr),
}

/// The hash algorithm of [`SslCertificate::digest_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-1 (legacy fingerprints only).
    Sha1,
    /// SHA-256 (what [`SslCertificate::digest`] uses).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// A decoded distinguished name: its DER (compared when chaining) and its attributes.
#[derive(Debug)]
struct Name {
    der: Vec<u8>,
    attributes: Vec<(String, String)>,
}

impl Name {
    fn decode(name: &X509Name<'_>) -> Name {
        let attributes = name
            .iter_attributes()
            .filter_map(|attr| {
                // Values that are not strings (rare binary attributes) are left out, as Qt does.
                let value = attr.as_str().ok()?;
                Some((attr.attr_type().to_id_string(), value.to_owned()))
            })
            .collect();
        Name {
            der: name.as_raw().to_vec(),
            attributes,
        }
    }

    fn values(&self, info: SubjectInfo) -> Vec<String> {
        let oid = info.oid().to_id_string();
        self.attributes
            .iter()
            .filter(|(o, _)| *o == oid)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn display_name(&self) -> String {
        [
            SubjectInfo::CommonName,
            SubjectInfo::Organization,
            SubjectInfo::OrganizationalUnitName,
        ]
        .into_iter()
        .find_map(|info| self.values(info).into_iter().next())
        .unwrap_or_default()
    }
}

struct Inner {
    der: CertificateDer<'static>,
    version: u32,
    serial: Vec<u8>,
    subject: Name,
    issuer: Name,
    not_before: i64,
    not_after: i64,
    alt_names: Vec<SubjectAltName>,
    is_ca: bool,
    self_signed: bool,
}

/// An X.509 certificate (Qt's `QSslCertificate`). Cloning is cheap (shared); equality and
/// hashing compare the DER encoding.
#[derive(Clone)]
pub struct SslCertificate {
    inner: Arc<Inner>,
}

impl SslCertificate {
    /// Decodes one DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Result<SslCertificate, SslDecodeError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| SslDecodeError::new(format!("invalid certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(SslDecodeError::new("trailing data after certificate"));
        }
        let alt_names = match cert.subject_alternative_name() {
            Ok(Some(ext)) => ext
                .value
                .general_names
                .iter()
                .filter_map(alt_name)
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                return Err(SslDecodeError::new(format!(
                    "invalid subjectAltName extension: {e}"
                )))
            }
        };
        let subject = Name::decode(cert.subject());
        let issuer = Name::decode(cert.issuer());
        let self_signed = subject.der == issuer.der && signature_matches(&cert, &cert);
        let inner = Inner {
            version: cert.version().0 + 1,
            serial: cert.raw_serial().to_vec(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            is_ca: cert.is_ca(),
            alt_names,
            subject,
            issuer,
            self_signed,
            der: CertificateDer::from(der.to_vec()),
        };
        Ok(SslCertificate {
            inner: Arc::new(inner),
        })
    }

    /// Decodes the first certificate of a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<SslCertificate, SslDecodeError> {
        Self::from_pem_list(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| SslDecodeError::new("no certificate in PEM data"))
    }

    /// Decodes every `CERTIFICATE` block of a PEM text, in order (Qt's `fromData` with PEM).
    /// Other blocks (keys, parameters) are skipped; an empty result is not an error.
    pub fn from_pem_list(pem: &[u8]) -> Result<Vec<SslCertificate>, SslDecodeError> {
        CertificateDer::pem_slice_iter(pem)
            .map(|item| {
                let der = item.map_err(|e| SslDecodeError::new(format!("invalid PEM: {e}")))?;
                SslCertificate::from_der(&der)
            })
            .collect()
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The PEM encoding (`-----BEGIN CERTIFICATE-----` ...).
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.inner.der)
    }

    /// The DER bytes as rustls takes them.
    pub fn certificate_der(&self) -> CertificateDer<'static> {
        self.inner.der.clone()
    }

    /// The X.509 version: 1, 2 or 3.
    pub fn version(&self) -> u32 {
        self.inner.version
    }

    /// The serial number in Qt's format: lowercase hex bytes joined by colons (`"01:a2:ff"`).
    pub fn serial_number(&self) -> String {
        let hex: Vec<String> = self
            .inner
            .serial
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        hex.join(":")
    }

    /// The serial number's bytes (big-endian, as encoded).
    pub fn serial_number_bytes(&self) -> &[u8] {
        &self.inner.serial
    }

    /// The values of one field of the subject name (usually zero or one).
    pub fn subject_info(&self, info: SubjectInfo) -> Vec<String> {
        self.inner.subject.values(info)
    }

    /// The values of one field of the issuer name.
    pub fn issuer_info(&self, info: SubjectInfo) -> Vec<String> {
        self.inner.issuer.values(info)
    }

    /// The subject's common name, else its organization, else its organizational unit (Qt's
    /// `subjectDisplayName`); empty if none of them is present.
    pub fn subject_display_name(&self) -> String {
        self.inner.subject.display_name()
    }

    /// Like [`subject_display_name`](Self::subject_display_name), for the issuer.
    pub fn issuer_display_name(&self) -> String {
        self.inner.issuer.display_name()
    }

    /// The subject name's attributes as (dotted OID, value) pairs, in certificate order.
    pub fn subject_attributes(&self) -> &[(String, String)] {
        &self.inner.subject.attributes
    }

    /// The DER encoding of the subject name (what TLS sends as a CA hint).
    pub fn subject_der(&self) -> &[u8] {
        &self.inner.subject.der
    }

    /// The DER encoding of the issuer name.
    pub fn issuer_der(&self) -> &[u8] {
        &self.inner.issuer.der
    }

    /// The subject alternative names (DNS names, e-mail addresses, IP addresses).
    pub fn subject_alternative_names(&self) -> &[SubjectAltName] {
        &self.inner.alt_names
    }

    /// The start of the validity period (notBefore).
    pub fn effective_date(&self) -> SystemTime {
        to_system_time(self.inner.not_before)
    }

    /// The end of the validity period (notAfter).
    pub fn expiry_date(&self) -> SystemTime {
        to_system_time(self.inner.not_after)
    }

    /// notBefore and notAfter in seconds since the Unix epoch (negative before 1970).
    pub(crate) fn validity_secs(&self) -> (i64, i64) {
        (self.inner.not_before, self.inner.not_after)
    }

    /// The SHA-256 digest of the DER encoding (the usual fingerprint).
    pub fn digest(&self) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, &self.inner.der);
        let mut out = [0; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// The digest of the DER encoding with `algorithm` (Qt's `digest(algorithm)`).
    pub fn digest_with(&self, algorithm: DigestAlgorithm) -> Vec<u8> {
        let alg = match algorithm {
            DigestAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlgorithm::Sha256 => &ring::digest::SHA256,
            DigestAlgorithm::Sha384 => &ring::digest::SHA384,
            DigestAlgorithm::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(alg, &self.inner.der).as_ref().to_vec()
    }

    /// Whether the certificate is issued by itself: subject and issuer are the same name and
    /// its own key verifies its signature (an unsupported signature algorithm counts as a
    /// match, like OpenSSL's name-and-key-identifier check).
    pub fn is_self_signed(&self) -> bool {
        self.inner.self_signed
    }

    /// Whether the basicConstraints extension marks this as a CA certificate.
    pub fn is_ca(&self) -> bool {
        self.inner.is_ca
    }

    /// Always false: slotnet keeps no blacklist (Qt's list holds a few 2011 certificates).
    pub fn is_blacklisted(&self) -> bool {
        false
    }

    /// Whether `issuer` issued this certificate: names chain and `issuer`'s key verifies the
    /// signature (names alone when the algorithm is not supported).
    pub fn is_issued_by(&self, issuer: &SslCertificate) -> bool {
        if self.inner.issuer.der != issuer.inner.subject.der {
            return false;
        }
        match (
            X509Certificate::from_der(&self.inner.der),
            X509Certificate::from_der(&issuer.inner.der),
        ) {
            (Ok((_, this)), Ok((_, by))) => signature_matches(&this, &by),
            _ => false,
        }
    }

    /// Whether the certificate is valid at `time` (between notBefore and notAfter).
    pub fn is_valid_at(&self, time: SystemTime) -> bool {
        let t = to_unix_secs(time);
        self.inner.not_before <= t && t <= self.inner.not_after
    }
}

fn signature_matches(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    match cert.verify_signature(Some(issuer.public_key())) {
        Ok(()) => true,
        Err(X509Error::SignatureUnsupportedAlgorithm) => true,
        Err(_) => false,
    }
}

fn alt_name(name: &GeneralName<'_>) -> Option<SubjectAltName> {
    match name {
        GeneralName::DNSName(s) => Some(SubjectAltName::Dns((*s).to_owned())),
        GeneralName::RFC822Name(s) => Some(SubjectAltName::Email((*s).to_owned())),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| SubjectAltName::IpAddress(IpAddr::from(b))),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| SubjectAltName::IpAddress(IpAddr::from(b))),
            _ => None,
        },
        _ => None,
    }
}

fn to_system_time(secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    t.unwrap_or(UNIX_EPOCH)
}

pub(crate) fn to_unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

impl PartialEq for SslCertificate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.der == other.inner.der
    }
}

impl Eq for SslCertificate {}

impl Hash for SslCertificate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.der.as_ref().hash(state);
    }
}

impl fmt::Debug for SslCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SslCertificate")
            .field("subject", &self.subject_display_name())
            .field("issuer", &self.issuer_display_name())
            .field("serial", &self.serial_number())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::test_certs;

    #[test]
    fn decodes_fields_of_a_ca_signed_leaf() {
        let pki = test_certs::pki();
        let leaf = &pki.server.chain[0];
        assert_eq!(leaf.version(), 3);
        assert_eq!(leaf.subject_info(SubjectInfo::CommonName), ["localhost"]);
        assert_eq!(
            leaf.subject_info(SubjectInfo::Organization),
            ["slotnet tests"]
        );
        assert_eq!(
            leaf.issuer_info(SubjectInfo::CommonName),
            ["slotnet test CA"]
        );
        assert_eq!(leaf.issuer_display_name(), "slotnet test CA");
        assert_eq!(
            leaf.subject_alternative_names(),
            [
                SubjectAltName::Dns("localhost".into()),
                SubjectAltName::IpAddress("127.0.0.1".parse().unwrap()),
            ]
        );
        assert!(!leaf.is_self_signed());
        assert!(!leaf.is_ca());
        assert!(leaf.is_issued_by(&pki.ca));
        assert!(!leaf.is_issued_by(&pki.self_signed.chain[0]));
        assert!(pki.ca.is_self_signed());
        assert!(pki.ca.is_ca());
        assert!(leaf.is_valid_at(SystemTime::now()));
        assert!(leaf.effective_date() < leaf.expiry_date());
        assert_eq!(leaf.subject_der(), leaf.subject_der());
        assert_eq!(leaf.issuer_der(), pki.ca.subject_der());
    }

    #[test]
    fn serial_number_uses_qt_format() {
        let pki = test_certs::pki();
        let leaf = &pki.server.chain[0];
        assert_eq!(leaf.serial_number_bytes(), [0x01, 0x02, 0xab]);
        assert_eq!(leaf.serial_number(), "01:02:ab");
    }

    #[test]
    fn dates_before_1970_and_far_future_convert() {
        let pki = test_certs::pki();
        let expired = &pki.expired.chain[0];
        assert_eq!(
            to_unix_secs(expired.expiry_date()),
            expired.validity_secs().1
        );
        assert!(!expired.is_valid_at(SystemTime::now()));
        assert_eq!(
            to_system_time(-86_400),
            UNIX_EPOCH - Duration::from_secs(86_400)
        );
        assert_eq!(to_unix_secs(UNIX_EPOCH - Duration::from_secs(5)), -5);
    }

    #[test]
    fn pem_round_trip_and_lists() {
        let pki = test_certs::pki();
        let leaf = &pki.server.chain[0];
        let pem = leaf.to_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(SslCertificate::from_pem(pem.as_bytes()).unwrap(), *leaf);
        let both = format!("{}{}", pem, pki.ca.to_pem());
        let list = SslCertificate::from_pem_list(both.as_bytes()).unwrap();
        assert_eq!(list, [leaf.clone(), pki.ca.clone()]);
        assert!(SslCertificate::from_pem_list(b"no pem here")
            .unwrap()
            .is_empty());
        assert!(SslCertificate::from_pem(b"no pem here").is_err());
    }

    #[test]
    fn digest_is_sha256_of_der() {
        let leaf = &test_certs::pki().server.chain[0];
        let expected = ring::digest::digest(&ring::digest::SHA256, leaf.to_der());
        assert_eq!(leaf.digest().as_slice(), expected.as_ref());
        assert_eq!(leaf.digest_with(DigestAlgorithm::Sha256), expected.as_ref());
        assert_eq!(leaf.digest_with(DigestAlgorithm::Sha1).len(), 20);
        assert_eq!(leaf.digest_with(DigestAlgorithm::Sha512).len(), 64);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(SslCertificate::from_der(b"").is_err());
        assert!(SslCertificate::from_der(&[0x30, 0x82, 0xff, 0xff, 0x00]).is_err());
        let leaf = &test_certs::pki().server.chain[0];
        let der = leaf.to_der();
        // Every truncation of a real certificate is rejected cleanly.
        for len in (0..der.len()).step_by(7) {
            assert!(SslCertificate::from_der(&der[..len]).is_err());
        }
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert!(SslCertificate::from_der(&trailing).is_err());
        let bad_pem = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(SslCertificate::from_pem_list(bad_pem).is_err());
    }
}
