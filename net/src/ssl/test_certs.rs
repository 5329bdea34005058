//! Test PKI made with rcgen: a CA and the certificates every TLS test case needs.
//!
//! Compiled for this crate's tests and, with the `test-certs` feature, for other crates'
//! tests (`slotnet-net = { ..., features = ["test-certs"] }` in their dev-dependencies).
//! Not for production use: the keys are generated once per process and kept in memory.
//!
//! Typical use: `test_certs::pki().server.configuration()` for a server on
//! localhost/127.0.0.1, and `test_certs::client_configuration()` for a client that trusts
//! only the test CA; the other identities of [`TestPki`] produce each certificate error.

use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};

use super::certificate::SslCertificate;
use super::configuration::SslConfiguration;
use super::key::SslKey;

/// A certificate chain (leaf first) with the leaf's private key.
#[derive(Debug, Clone)]
pub struct TestIdentity {
    /// The chain a server (or client) presents, leaf first.
    pub chain: Vec<SslCertificate>,
    /// The leaf's private key.
    pub key: SslKey,
}

impl TestIdentity {
    /// A configuration presenting this identity (for a server, or a client doing mutual
    /// TLS), trusting only the test CA.
    pub fn configuration(&self) -> SslConfiguration {
        let mut config = client_configuration();
        config.set_local_certificate_chain(self.chain.clone());
        config.set_private_key(self.key.clone());
        config
    }
}

/// The test PKI. All leaves are valid for `localhost` and `127.0.0.1` unless said otherwise.
#[derive(Debug)]
pub struct TestPki {
    /// The root CA ("slotnet test CA"), self-signed.
    pub ca: SslCertificate,
    /// CA-signed server certificate, CN `localhost`, O `slotnet tests`, serial `01:02:ab`.
    pub server: TestIdentity,
    /// Self-signed server certificate.
    pub self_signed: TestIdentity,
    /// CA-signed server certificate valid only in 2000.
    pub expired: TestIdentity,
    /// CA-signed server certificate valid only from 2100 to 2101.
    pub not_yet_valid: TestIdentity,
    /// CA-signed server certificate for `wrong.example` only.
    pub wrong_host: TestIdentity,
    /// Server certificate signed by an intermediate CA; the chain holds leaf and
    /// intermediate (not the root).
    pub intermediate_signed: TestIdentity,
    /// CA-signed client certificate (extended key usage clientAuth), CN `slotnet test client`.
    pub client: TestIdentity,
}

/// The PKI, generated on first use and shared by all tests of the process.
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| generate().expect("rcgen could not make the test PKI"))
}

/// A client configuration that trusts only the test CA (no system roots).
pub fn client_configuration() -> SslConfiguration {
    let mut config = SslConfiguration::default();
    config.set_ca_certificates(vec![pki().ca.clone()]);
    config
}

const LOCAL_NAMES: &[&str] = &["localhost", "127.0.0.1"];

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "slotnet tests");
    dn
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf_params(
    names: &[&str],
    purpose: ExtendedKeyUsagePurpose,
) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(names.clone())?;
    params.distinguished_name = name(names.first().map_or("slotnet test", String::as_str));
    params.extended_key_usages = vec![purpose];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn identity(
    params: &CertificateParams,
    issuer: &Issuer<'_, KeyPair>,
    extra_chain: &[SslCertificate],
) -> Result<TestIdentity, rcgen::Error> {
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    let mut chain =
        vec![SslCertificate::from_der(cert.der()).expect("rcgen made a bad certificate")];
    chain.extend_from_slice(extra_chain);
    Ok(TestIdentity {
        chain,
        key: SslKey::from_der(&key.serialize_der()).expect("rcgen made a bad key"),
    })
}

fn generate() -> Result<TestPki, rcgen::Error> {
    let ca = CertifiedIssuer::self_signed(ca_params("slotnet test CA"), KeyPair::generate()?)?;
    let ca_cert = SslCertificate::from_der(ca.der()).expect("rcgen made a bad CA");
    let server_auth = ExtendedKeyUsagePurpose::ServerAuth;

    let mut server_params = leaf_params(LOCAL_NAMES, server_auth.clone())?;
    server_params.serial_number = Some(SerialNumber::from_slice(&[0x01, 0x02, 0xab]));
    let server = identity(&server_params, &ca, &[])?;

    let self_signed_params = leaf_params(LOCAL_NAMES, server_auth.clone())?;
    let self_signed_key = KeyPair::generate()?;
    let self_signed_cert = self_signed_params.self_signed(&self_signed_key)?;
    let self_signed = TestIdentity {
        chain: vec![SslCertificate::from_der(self_signed_cert.der()).expect("bad certificate")],
        key: SslKey::from_der(&self_signed_key.serialize_der()).expect("bad key"),
    };

    let mut expired_params = leaf_params(LOCAL_NAMES, server_auth.clone())?;
    expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let expired = identity(&expired_params, &ca, &[])?;

    let mut future_params = leaf_params(LOCAL_NAMES, server_auth.clone())?;
    future_params.not_before = rcgen::date_time_ymd(2100, 1, 1);
    future_params.not_after = rcgen::date_time_ymd(2101, 1, 1);
    let not_yet_valid = identity(&future_params, &ca, &[])?;

    let wrong_host = identity(
        &leaf_params(&["wrong.example"], server_auth.clone())?,
        &ca,
        &[],
    )?;

    let intermediate = CertifiedIssuer::signed_by(
        ca_params("slotnet test intermediate CA"),
        KeyPair::generate()?,
        &ca,
    )?;
    let intermediate_cert = SslCertificate::from_der(intermediate.der()).expect("bad certificate");
    let intermediate_signed = identity(
        &leaf_params(LOCAL_NAMES, server_auth)?,
        &intermediate,
        &[intermediate_cert],
    )?;

    let mut client_params = leaf_params(
        &["client.slotnet.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    client_params.distinguished_name = name("slotnet test client");
    let client = identity(&client_params, &ca, &[])?;

    Ok(TestPki {
        ca: ca_cert,
        server,
        self_signed,
        expired,
        not_yet_valid,
        wrong_host,
        intermediate_signed,
        client,
    })
}
