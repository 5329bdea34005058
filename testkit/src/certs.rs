//! Certificates for tests: the test PKI of [`slotnet_net::ssl::test_certs`] (an rcgen-made CA,
//! server leaves for every certificate error, a client certificate), with the configurations
//! and PEM files tests ask for.

use std::path::{Path, PathBuf};

use slotnet_net::ssl::SslConfiguration;

pub use slotnet_net::ssl::test_certs::{client_configuration, pki, TestIdentity, TestPki};

/// The client configuration that trusts the test CA (and nothing else, no system roots).
pub fn trusting() -> SslConfiguration {
    client_configuration()
}

/// The configuration of a server presenting the test PKI's CA-signed `localhost` /
/// `127.0.0.1` certificate.
pub fn server_configuration() -> SslConfiguration {
    pki().server.configuration()
}

/// Writes the test PKI's server identity as PEM files into `dir` (created if missing):
/// `cert.pem` (the chain, leaf first), `key.pem` (its private key) and `ca.pem` (the CA),
/// for programs that read files (slotnet-serve, curl, openssl, nginx).
pub fn write_pem(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let pki = pki();
    let chain: String = pki.server.chain.iter().map(|c| c.to_pem()).collect();
    std::fs::write(dir.join("cert.pem"), chain)?;
    std::fs::write(dir.join("key.pem"), pki.server.key.to_pem())?;
    std::fs::write(dir.join("ca.pem"), pki.ca.to_pem())
}

/// [`write_pem`] into a directory of the system's temporary directory named after `name`
/// and the process id; returns the directory.
pub fn pem_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slotnet-pem-{name}-{}", std::process::id()));
    write_pem(&dir).unwrap_or_else(|e| panic!("writing PEM files to {}: {e}", dir.display()));
    dir
}
