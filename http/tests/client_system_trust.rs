//! The default TLS configuration trusts the operating system's CA store, as Qt does: the
//! distribution's bundle, or the certificates of `SSL_CERT_FILE` when it is set, read once
//! per process. Each case runs in a process of its own (this test binary, started again
//! with one scenario), so that the environment variable and the process-wide store never
//! reach other tests: a server whose certificate comes from the test CA is trusted with no
//! configuration at all when the bundle holds that CA, and fails when it does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_net::ssl::{test_certs, SslConfiguration, SystemCaSource};
use slotnet_testkit::reply::run_traced;
use slotnet_testkit::tls_server::{TlsServer, H2_AND_H1};

/// The scenario a child process runs.
const SCENARIO: &str = "SLOTNET_SYSTEM_TRUST_SCENARIO";
/// What a child prints once its scenario passed (so that a filtered-out child cannot pass).
const PASSED: &str = "system trust scenario passed";

/// Runs `scenario` in a new process of this test binary, with `SSL_CERT_FILE` set to
/// `bundle` (or unset), and asserts it passed.
fn run_child(scenario: &str, bundle: Option<&Path>) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, scenario)
        .env_remove("SSL_CERT_DIR");
    match bundle {
        Some(path) => command.env("SSL_CERT_FILE", path),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(PASSED),
        "scenario {scenario} failed:\n{stdout}\n{stderr}"
    );
}

/// A bundle path of this process for `scenario` (the child writes it: the test CA is made
/// anew in every process).
fn bundle_path(scenario: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "slotnet-system-trust-{}-{scenario}.pem",
        std::process::id()
    ))
}

fn run_with_bundle(scenario: &str) {
    let path = bundle_path(scenario);
    run_child(scenario, Some(&path));
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_ca_in_ssl_cert_file_is_trusted_with_no_configuration() {
    run_with_bundle("ca-in-bundle");
}

#[test]
fn a_server_fails_once_the_bundle_no_longer_holds_its_ca() {
    run_with_bundle("ca-not-in-bundle");
}

/// With the webpki-roots feature (.ci/run runs this file with it too) the Mozilla roots stand
/// in; with native-roots alone (the default) nothing is trusted, as Qt.
#[test]
fn an_empty_bundle_trusts_nothing_or_the_bundled_mozilla_roots_with_webpki_roots() {
    run_with_bundle("empty-bundle");
}

#[test]
fn without_ssl_cert_file_the_distributions_bundle_is_trusted() {
    run_child("distribution", None);
}

/// The errors of a certificate from the test CA when the CA is not trusted.
const UNKNOWN_ISSUER: &str = "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate";

/// One GET to a server with a certificate of the test CA, with the default configuration:
/// its error, body and the certificate errors it was shown.
fn get_with_default_trust() -> (NetworkError, Vec<u8>, Vec<String>) {
    let server = TlsServer::start(&test_certs::pki().server, H2_AND_H1);
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&server.url("/hello.txt")));
    let (lines, body) = run_traced(&m, reply);
    let shown = lines
        .iter()
        .filter_map(|l| l.strip_prefix("reply.sslErrors("))
        .map(|l| l.trim_end_matches(')').to_owned())
        .collect();
    (reply.error(), body, shown)
}

/// One scenario, in a process of its own (started by the tests above).
#[test]
#[ignore = "run by the other tests of this file, each in a process of its own"]
fn child() {
    let scenario = std::env::var(SCENARIO).expect("started by run_child");
    let pki = test_certs::pki();
    // Written before anything reads the store (it is read once, on first use).
    let bundle = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let write_bundle = |pem: String| std::fs::write(bundle.as_ref().unwrap(), pem).unwrap();
    match scenario.as_str() {
        "ca-in-bundle" => {
            write_bundle(pki.ca.to_pem());
            assert_eq!(
                SslConfiguration::system_ca_certificates_source(),
                SystemCaSource::OperatingSystem
            );
            assert_eq!(
                SslConfiguration::system_ca_certificates(),
                std::slice::from_ref(&pki.ca)
            );
            let (error, body, shown) = get_with_default_trust();
            assert_eq!(error, NetworkError::NoError);
            assert_eq!(body, b"hello");
            assert!(shown.is_empty(), "{shown:?}");
        }
        "ca-not-in-bundle" => {
            // Another certificate, not the CA: the store is readable, and does not hold it.
            write_bundle(pki.self_signed.chain[0].to_pem());
            assert_eq!(
                SslConfiguration::system_ca_certificates_source(),
                SystemCaSource::OperatingSystem
            );
            let (error, body, shown) = get_with_default_trust();
            assert_eq!(error, NetworkError::SslHandshakeFailedError);
            assert!(body.is_empty());
            assert_eq!(shown, [UNKNOWN_ISSUER]);
        }
        "empty-bundle" => {
            write_bundle(String::new());
            // The Mozilla roots stand in for an empty store only when compiled in (the
            // webpki-roots feature); else the system set is the empty store.
            let expected = if cfg!(feature = "webpki-roots") {
                SystemCaSource::BundledMozillaRoots
            } else {
                SystemCaSource::OperatingSystem
            };
            assert_eq!(SslConfiguration::system_ca_certificates_source(), expected);
            assert!(SslConfiguration::system_ca_certificates().is_empty());
            let (error, _, shown) = get_with_default_trust();
            assert_eq!(error, NetworkError::SslHandshakeFailedError);
            assert_eq!(shown, [UNKNOWN_ISSUER]);
        }
        "distribution" => {
            assert_eq!(
                SslConfiguration::system_ca_certificates_source(),
                SystemCaSource::OperatingSystem,
                "the distribution's bundle (Debian: the ca-certificates package)"
            );
            let system = SslConfiguration::system_ca_certificates();
            assert!(system.len() > 50, "{} certificates", system.len());
            assert!(!system.contains(&pki.ca));
            // Qt's full error list, worked out against the system's roots.
            let (error, _, shown) = get_with_default_trust();
            assert_eq!(error, NetworkError::SslHandshakeFailedError);
            assert_eq!(shown, [UNKNOWN_ISSUER]);
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("{PASSED}");
}
