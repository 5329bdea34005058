//! `SslError`: Qt's `QSslError`, an error code with Qt's name and the certificate it concerns.

use std::fmt;

use super::certificate::SslCertificate;

macro_rules! ssl_error_kinds {
    ($( $(#[$doc:meta])* $name:ident => $text:expr, )*) => {
        /// The kind of a certificate verification error, with Qt's `QSslError::SslError` names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SslErrorKind {
            $( $(#[$doc])* $name, )*
        }

        impl SslErrorKind {
            /// Every kind, in Qt's declaration order (useful for tables and tests).
            pub const ALL: &'static [SslErrorKind] = &[$(SslErrorKind::$name),*];

            /// Qt's exact enumerator name, e.g. `"SelfSignedCertificate"`.
            pub fn name(self) -> &'static str {
                match self { $(SslErrorKind::$name => stringify!($name),)* }
            }

            /// The human-readable text Qt's `QSslError::errorString()` gives for this kind.
            pub fn error_string(self) -> &'static str {
                match self { $(SslErrorKind::$name => $text,)* }
            }
        }
    };
}

ssl_error_kinds! {
    /// No error.
    NoError => "No error",
    /// The issuer certificate could not be found.
    UnableToGetIssuerCertificate => "The issuer certificate could not be found",
    /// The certificate signature could not be decrypted.
    UnableToDecryptCertificateSignature => "The certificate signature could not be decrypted",
    /// The public key in the certificate could not be read.
    UnableToDecodeIssuerPublicKey => "The public key in the certificate could not be read",
    /// The signature of the certificate is invalid.
    CertificateSignatureFailed => "The signature of the certificate is invalid",
    /// The certificate is not yet valid.
    CertificateNotYetValid => "The certificate is not yet valid",
    /// The certificate has expired.
    CertificateExpired => "The certificate has expired",
    /// The notBefore field holds an invalid time.
    InvalidNotBeforeField => "The certificate's notBefore field contains an invalid time",
    /// The notAfter field holds an invalid time.
    InvalidNotAfterField => "The certificate's notAfter field contains an invalid time",
    /// The (leaf) certificate is self-signed and not trusted.
    SelfSignedCertificate => "The certificate is self-signed, and untrusted",
    /// The chain's root is self-signed and not trusted.
    SelfSignedCertificateInChain =>
        "The root certificate of the certificate chain is self-signed, and untrusted",
    /// The issuer of the topmost presented certificate is not among the CA certificates.
    UnableToGetLocalIssuerCertificate =>
        "The issuer certificate of a locally looked up certificate could not be found",
    /// No certificate of the presented chain could be verified (a lone untrusted leaf).
    UnableToVerifyFirstCertificate => "No certificates could be verified",
    /// One of the CA certificates is invalid.
    InvalidCaCertificate => "One of the CA certificates is invalid",
    /// The basicConstraints path length was exceeded.
    PathLengthExceeded => "The basicConstraints path length parameter has been exceeded",
    /// The certificate is not meant for this purpose (extended key usage).
    InvalidPurpose => "The supplied certificate is unsuitable for this purpose",
    /// The root CA is not trusted for this purpose.
    CertificateUntrusted => "The root CA certificate is not trusted for this purpose",
    /// The root CA is marked to reject this purpose.
    CertificateRejected => "The root CA certificate is marked to reject the specified purpose",
    /// A candidate issuer's subject did not match the certificate's issuer.
    SubjectIssuerMismatch => "The current candidate issuer certificate was rejected because its subject name did not match the issuer name of the current certificate",
    /// A candidate issuer did not match the authority key identifier.
    AuthorityIssuerSerialNumberMismatch => "The current candidate issuer certificate was rejected because its issuer name and serial number was present and did not match the authority key identifier of the current certificate",
    /// The peer presented no certificate.
    NoPeerCertificate => "The peer did not present any certificate",
    /// The certificate is not valid for the name the client connected to.
    HostNameMismatch => "The host name did not match any of the valid hosts for this certificate",
    /// No TLS support is available.
    NoSslSupport => "No SSL support available",
    /// The certificate is on Qt's blacklist.
    CertificateBlacklisted => "The peer certificate is blacklisted",
    /// The certificate has been revoked.
    CertificateRevoked => "The certificate has been revoked",
    /// The certificate's revocation status is unknown.
    CertificateStatusUnknown => "The certificate's status is unknown",
    /// No OCSP status response was found.
    OcspNoResponseFound => "No OCSP status response found",
    /// The OCSP request was malformed.
    OcspMalformedRequest => "The OCSP status request had invalid syntax",
    /// The OCSP response was malformed.
    OcspMalformedResponse => "OCSP response contains an unexpected number of SingleResponse structures",
    /// The OCSP responder had an internal error.
    OcspInternalError => "OCSP responder reached an inconsistent internal state",
    /// The OCSP responder asked to try later.
    OcspTryLater => "OCSP responder was unable to return a status for the requested certificate",
    /// The OCSP responder requires a signed request (Qt's spelling).
    OcspSigRequred => "The server requires the client to sign the OCSP request in order to construct a response",
    /// The client is not authorised by the OCSP responder.
    OcspUnauthorized => "The client is not authorized to request OCSP status from this server",
    /// The OCSP responder's identity cannot be verified.
    OcspResponseCannotBeTrusted => "OCSP responder's identity cannot be verified",
    /// A certificate in the OCSP response is unknown.
    OcspResponseCertIdUnknown => "The identity of a certificate in an OCSP response cannot be established",
    /// The OCSP response has expired.
    OcspResponseExpired => "The certificate status response has expired",
    /// The OCSP status is unknown.
    OcspStatusUnknown => "The certificate's status is unknown",
    /// Any other error.
    UnspecifiedError => "Unknown error",
}

impl fmt::Display for SslErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One certificate verification error (Qt's `QSslError`): a kind and, for most kinds, the
/// certificate it concerns.
///
/// Two errors are equal when kind and certificate are equal, as in Qt: an entry of an
/// expected-errors list without a certificate does not match an error that has one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SslError {
    kind: SslErrorKind,
    certificate: Option<SslCertificate>,
}

impl SslError {
    /// An error of `kind` concerning `certificate`.
    pub fn new(kind: SslErrorKind, certificate: SslCertificate) -> Self {
        SslError {
            kind,
            certificate: Some(certificate),
        }
    }

    /// An error of `kind` that concerns no certificate (e.g. `NoPeerCertificate`).
    pub fn without_certificate(kind: SslErrorKind) -> Self {
        SslError {
            kind,
            certificate: None,
        }
    }

    /// The kind (Qt's `QSslError::error()`).
    pub fn error(&self) -> SslErrorKind {
        self.kind
    }

    /// Qt's enumerator name, e.g. `"HostNameMismatch"` (what traces print).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The human-readable description, as Qt's `errorString()`.
    pub fn error_string(&self) -> &'static str {
        self.kind.error_string()
    }

    /// The certificate the error concerns, if any.
    pub fn certificate(&self) -> Option<&SslCertificate> {
        self.certificate.as_ref()
    }

    /// The names of `errors` joined by commas, e.g. `"SelfSignedCertificate,HostNameMismatch"`
    /// (the form used in traces such as `reply.sslErrors(...)`).
    pub fn join_names(errors: &[SslError]) -> String {
        let names: Vec<&str> = errors.iter().map(SslError::name).collect();
        names.join(",")
    }
}

impl From<SslErrorKind> for SslError {
    fn from(kind: SslErrorKind) -> Self {
        SslError::without_certificate(kind)
    }
}

impl fmt::Debug for SslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SslError");
        d.field("kind", &self.kind);
        if let Some(cert) = &self.certificate {
            d.field("certificate", &cert.subject_display_name());
        }
        d.finish()
    }
}

impl fmt::Display for SslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_string())
    }
}

impl std::error::Error for SslError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_qt_enumerator_names() {
        assert_eq!(
            SslErrorKind::SelfSignedCertificate.name(),
            "SelfSignedCertificate"
        );
        assert_eq!(SslErrorKind::OcspSigRequred.name(), "OcspSigRequred");
        assert_eq!(SslErrorKind::ALL.first(), Some(&SslErrorKind::NoError));
        assert_eq!(
            SslErrorKind::ALL.last(),
            Some(&SslErrorKind::UnspecifiedError)
        );
        // Every kind has its own name and a non-empty description.
        let mut names: Vec<_> = SslErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SslErrorKind::ALL.len());
        assert!(SslErrorKind::ALL
            .iter()
            .all(|k| !k.error_string().is_empty()));
    }

    #[test]
    fn join_names_matches_trace_format() {
        let errors = [
            SslError::from(SslErrorKind::SelfSignedCertificate),
            SslError::from(SslErrorKind::HostNameMismatch),
        ];
        assert_eq!(
            SslError::join_names(&errors),
            "SelfSignedCertificate,HostNameMismatch"
        );
        assert_eq!(
            errors[1].error_string(),
            "The host name did not match any of the valid hosts for this certificate"
        );
    }
}
