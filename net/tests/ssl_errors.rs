//! Qt's sslErrors model over real loopback TLS: errors emitted synchronously from inside the
//! handshake, ignored from the slot or by an expected list, or fatal before any application
//! data reaches the server; and mutual TLS.

use slotnet_core::EventLoop;
use slotnet_net::ssl::{
    test_certs, test_certs::TestIdentity, PeerVerifyMode, SslConfiguration, SslError, SslErrorKind,
};
use slotnet_net::{SocketState, SslServer, SslSocket};
use slotnet_testkit::certs::trusting;
use slotnet_testkit::ssl::{echo, logged_client, server};
use slotnet_testkit::{run_until, Log, LIMIT};

/// The certificate cases of the test PKI: name, identity, client configuration, expected
/// errors (Qt's names, in Qt's order).
fn cases() -> Vec<(
    &'static str,
    &'static TestIdentity,
    SslConfiguration,
    &'static str,
)> {
    let pki = test_certs::pki();
    vec![
        (
            "self-signed",
            &pki.self_signed,
            trusting(),
            "SelfSignedCertificate",
        ),
        (
            "unknown CA",
            &pki.server,
            // Only the system roots, which do not include the test CA.
            SslConfiguration::default(),
            "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate",
        ),
        ("expired", &pki.expired, trusting(), "CertificateExpired"),
        (
            "not yet valid",
            &pki.not_yet_valid,
            trusting(),
            "CertificateNotYetValid",
        ),
        (
            "wrong host",
            &pki.wrong_host,
            trusting(),
            "HostNameMismatch",
        ),
    ]
}

/// Runs a client that writes "hello" right away against an echo server with
/// `server_config`. `prepare` runs before connecting; `ignore_in_slot` makes the client's
/// `ssl_errors` slot call `ignore_ssl_errors()`. Returns the log once the echo came back,
/// or once the client was disconnected and the server reported its side.
fn run(
    server_config: SslConfiguration,
    client_config: SslConfiguration,
    ignore_in_slot: bool,
    prepare: impl FnOnce(SslSocket),
) -> Log {
    let log = Log::default();
    let server = server(server_config);
    echo(server, &log);
    let client = logged_client(client_config, &log);
    let l = log.clone();
    client.peer_verify_error().connect(move |e| {
        l.push(format!("client.peer_verify_error:{}", e.name()));
    });
    let l = log.clone();
    client.ssl_errors().connect(move |errors| {
        // Synchronous, from inside the handshake: nothing is encrypted yet, and the
        // certificate the errors are about is available.
        assert!(!client.is_encrypted());
        assert_eq!(client.state(), SocketState::Connected);
        assert_eq!(
            client.peer_certificate().as_ref(),
            errors[0].certificate(),
            "peer certificate inside the slot"
        );
        l.push("client.in_handshake");
        if ignore_in_slot {
            client.ignore_ssl_errors();
        }
    });
    let l = log.clone();
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 5 {
            l.push(format!(
                "client.data:{}",
                String::from_utf8_lossy(&client.read_all())
            ));
        }
    });
    prepare(client);
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert_eq!(client.write(b"hello"), 5);
    let l = log.clone();
    let finished = run_until(LIMIT, move || {
        l.contains("client.data:hello")
            || (l.contains("client.disconnected")
                && l.entries().iter().any(|e| e.starts_with("server.error:")))
    });
    assert!(finished, "timed out: {:?}", log.entries());
    client.destroy();
    server.destroy();
    log
}

fn assert_errors_reported(case: &str, log: &Log, expected: &str) {
    let entries = log.entries();
    assert_eq!(
        log.count(&format!("client.ssl_errors:{expected}")),
        1,
        "{case}: {entries:?}"
    );
    assert_eq!(log.count("client.in_handshake"), 1, "{case}: {entries:?}");
    // One peer_verify_error per error, in order, before ssl_errors.
    let verify: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.strip_prefix("client.peer_verify_error:"))
        .collect();
    assert_eq!(verify.join(","), expected, "{case}");
    let last_verify = entries
        .iter()
        .rposition(|e| e.starts_with("client.peer_verify_error:"))
        .unwrap();
    let ssl_errors = entries
        .iter()
        .position(|e| e.starts_with("client.ssl_errors:"))
        .unwrap();
    assert!(last_verify < ssl_errors, "{case}: {entries:?}");
}

fn assert_succeeded(case: &str, log: &Log) {
    let entries = log.entries();
    assert!(log.contains("client.encrypted"), "{case}: {entries:?}");
    assert!(log.contains("server.data:hello"), "{case}: {entries:?}");
    assert!(log.contains("client.data:hello"), "{case}: {entries:?}");
    assert!(
        !entries
            .iter()
            .any(|e| e.starts_with("client.error:") || e.starts_with("server.error:")),
        "{case}: {entries:?}"
    );
}

fn assert_failed_before_data(case: &str, log: &Log) {
    let entries = log.entries();
    assert!(
        log.contains("client.error:SslHandshakeFailedError"),
        "{case}: {entries:?}"
    );
    assert!(log.contains("client.disconnected"), "{case}: {entries:?}");
    assert!(!log.contains("client.encrypted"), "{case}: {entries:?}");
    // The server got the client's alert: its handshake failed, it never saw any data.
    assert!(
        log.contains("server.error:SslHandshakeFailedError"),
        "{case}: {entries:?}"
    );
    assert!(!log.contains("server.pending"), "{case}: {entries:?}");
    assert!(
        !entries.iter().any(|e| e.starts_with("server.data:")),
        "{case}: {entries:?}"
    );
    // The error is reported before the connection goes away.
    let error = log
        .entries()
        .iter()
        .position(|e| e == "client.error:SslHandshakeFailedError");
    let gone = log
        .entries()
        .iter()
        .position(|e| e == "client.disconnected");
    assert!(error < gone, "{case}: {entries:?}");
}

#[test]
fn every_certificate_error_can_be_ignored_from_the_slot() {
    for (case, identity, config, expected) in cases() {
        let log = run(identity.configuration(), config, true, |_| {});
        assert_errors_reported(case, &log, expected);
        assert_succeeded(case, &log);
    }
}

#[test]
fn every_certificate_error_not_ignored_fails_the_handshake_before_any_data() {
    for (case, identity, config, expected) in cases() {
        let log = run(identity.configuration(), config, false, |_| {});
        assert_errors_reported(case, &log, expected);
        assert_failed_before_data(case, &log);
    }
}

#[test]
fn the_error_string_is_the_first_certificate_error() {
    let pki = test_certs::pki();
    let socket_error = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let e = socket_error.clone();
    let log = run(
        pki.wrong_host.configuration(),
        trusting(),
        false,
        move |client| {
            client.error_occurred().connect(move |_| {
                *e.borrow_mut() = client.error_string();
            });
        },
    );
    assert_failed_before_data("wrong host", &log);
    assert_eq!(
        *socket_error.borrow(),
        SslErrorKind::HostNameMismatch.error_string()
    );
}

#[test]
fn an_expected_error_list_set_beforehand_is_honoured() {
    let pki = test_certs::pki();
    let cert = pki.self_signed.chain[0].clone();
    let exact = vec![SslError::new(SslErrorKind::SelfSignedCertificate, cert)];
    let log = run(
        pki.self_signed.configuration(),
        trusting(),
        false,
        move |c| c.ignore_ssl_errors_list(exact),
    );
    // sslErrors is still emitted (as in Qt), and the handshake continues.
    assert_errors_reported("exact list", &log, "SelfSignedCertificate");
    assert_succeeded("exact list", &log);

    // The right kind about another certificate does not match (Qt compares both).
    let other = vec![SslError::new(
        SslErrorKind::SelfSignedCertificate,
        pki.server.chain[0].clone(),
    )];
    let log = run(
        pki.self_signed.configuration(),
        trusting(),
        false,
        move |c| c.ignore_ssl_errors_list(other),
    );
    assert_failed_before_data("other certificate", &log);

    // A list that covers only some of the errors does not do.
    let partial = vec![SslError::new(
        SslErrorKind::SelfSignedCertificate,
        pki.self_signed.chain[0].clone(),
    )];
    let mut config = trusting();
    config.set_peer_verify_name("other.example");
    let log = run(pki.self_signed.configuration(), config, false, move |c| {
        c.ignore_ssl_errors_list(partial)
    });
    assert_errors_reported(
        "partial list",
        &log,
        "HostNameMismatch,SelfSignedCertificate",
    );
    assert_failed_before_data("partial list", &log);
}

#[test]
fn ignore_ssl_errors_applies_to_the_handshake_it_was_called_for() {
    let pki = test_certs::pki();
    // After connect_to_host_encrypted and before the errors: honoured.
    let server = server(pki.expired.configuration());
    let log = Log::default();
    echo(server, &log);
    let client = logged_client(trusting(), &log);
    let l = log.clone();
    client.ready_read().connect(move |_| {
        l.push(format!(
            "client.data:{}",
            String::from_utf8_lossy(&client.read_all())
        ));
        EventLoop::current().quit();
    });
    client.connect_to_host_encrypted("localhost", server.server_port());
    client.ignore_ssl_errors();
    client.write(b"x");
    assert!(slotnet_testkit::exec_within(LIMIT), "{:?}", log.entries());
    assert!(log.contains("client.ssl_errors:CertificateExpired"));
    assert!(log.contains("client.data:x"), "{:?}", log.entries());

    // Before connect_to_host_encrypted: forgotten, as in Qt.
    let log = run(pki.expired.configuration(), trusting(), false, |c| {
        c.ignore_ssl_errors()
    });
    assert_failed_before_data("ignored too early", &log);
}

fn mutual_server_config(mode: PeerVerifyMode) -> SslConfiguration {
    let mut config = test_certs::pki().server.configuration();
    config.set_peer_verify_mode(mode);
    config
}

/// Runs a client with `client_config` against a server requiring client certificates;
/// returns the log and the client certificate the server saw.
fn mutual(
    server_config: SslConfiguration,
    client_config: SslConfiguration,
    server_ignores: bool,
) -> (Log, Option<slotnet_net::ssl::SslCertificate>) {
    let log = Log::default();
    let server = server(server_config);
    echo(server, &log);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let l = log.clone();
    server.ssl_errors().connect(move |(socket, errors)| {
        l.push(format!(
            "server.ssl_errors:{}",
            SslError::join_names(errors)
        ));
        if server_ignores {
            socket.ignore_ssl_errors();
        }
    });
    let l = log.clone();
    server
        .handshake_interrupted_on_error()
        .connect(move |(_, error)| l.push(format!("server.interrupted:{}", error.name())));
    // Record the client certificate on the server side once the handshake completed.
    let s = seen.clone();
    let l = log.clone();
    record_peer(server, s, l);
    let client = logged_client(client_config, &log);
    let l = log.clone();
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 5 {
            l.push(format!(
                "client.data:{}",
                String::from_utf8_lossy(&client.read_all())
            ));
        }
    });
    client.connect_to_host_encrypted("localhost", server.server_port());
    client.write(b"hello");
    let l = log.clone();
    let finished = run_until(LIMIT, move || {
        l.contains("client.data:hello")
            || (l.contains("client.disconnected")
                && l.entries().iter().any(|e| e.starts_with("server.error:")))
    });
    assert!(finished, "timed out: {:?}", log.entries());
    client.destroy();
    server.destroy();
    let cert = seen.borrow().clone();
    (log, cert)
}

/// Records the peer certificate of each server-side connection when it is encrypted.
fn record_peer(
    server: SslServer,
    seen: std::rc::Rc<std::cell::RefCell<Option<slotnet_net::ssl::SslCertificate>>>,
    log: Log,
) {
    server
        .started_encryption_handshake()
        .connect(move |socket| {
            let (seen, log, socket) = (seen.clone(), log.clone(), *socket);
            socket.encrypted().connect(move |_| {
                log.push("server.encrypted");
                *seen.borrow_mut() = socket.peer_certificate();
            });
        });
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let pki = test_certs::pki();
    let (log, cert) = mutual(
        mutual_server_config(PeerVerifyMode::VerifyPeer),
        pki.client.configuration(),
        false,
    );
    assert_succeeded("mutual", &log);
    assert!(log.contains("server.encrypted"));
    assert_eq!(cert, Some(pki.client.chain[0].clone()));
}

#[test]
fn mutual_tls_without_a_client_certificate_fails() {
    let (log, cert) = mutual(
        mutual_server_config(PeerVerifyMode::VerifyPeer),
        trusting(),
        false,
    );
    let entries = log.entries();
    // As Qt: the server hears of it through sslErrors first, and may ignore it.
    assert!(
        log.contains("server.ssl_errors:NoPeerCertificate"),
        "{entries:?}"
    );
    assert!(
        log.contains("server.interrupted:NoPeerCertificate"),
        "{entries:?}"
    );
    assert!(
        log.contains("server.error:SslHandshakeFailedError"),
        "{entries:?}"
    );
    // TLS 1.3 lets the client finish first; the server then closes the connection (its
    // decision comes after rustls processed the client's flight, when rustls can no longer
    // send a certificate_required alert).
    assert!(
        log.contains("client.error:RemoteHostClosedError"),
        "{entries:?}"
    );
    assert!(!log.contains("server.pending"), "{entries:?}");
    assert!(!log.contains("server.encrypted"), "{entries:?}");
    assert!(
        !entries.iter().any(|e| e.starts_with("server.data:")),
        "{entries:?}"
    );
    assert_eq!(cert, None);
}

#[test]
fn a_server_that_ignores_no_peer_certificate_accepts_the_client() {
    let (log, cert) = mutual(
        mutual_server_config(PeerVerifyMode::VerifyPeer),
        trusting(),
        true,
    );
    let entries = log.entries();
    assert_eq!(
        log.count("server.ssl_errors:NoPeerCertificate"),
        1,
        "{entries:?}"
    );
    assert_succeeded("no certificate, ignored", &log);
    assert!(log.contains("server.encrypted"), "{entries:?}");
    assert!(log.contains("server.data:hello"), "{entries:?}");
    assert_eq!(cert, None);
}

#[test]
fn untrusted_client_certificates_go_to_the_servers_ssl_errors() {
    let pki = test_certs::pki();
    let mut config = mutual_server_config(PeerVerifyMode::VerifyPeer);
    // Trust nothing, so the client's certificate has an unknown issuer.
    config.set_ca_certificates(Vec::new());
    let expected =
        "server.ssl_errors:UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate";

    let (log, cert) = mutual(config.clone(), pki.client.configuration(), true);
    assert!(log.contains(expected), "{:?}", log.entries());
    assert_succeeded("server ignores", &log);
    assert_eq!(cert, Some(pki.client.chain[0].clone()));

    let (log, _) = mutual(config, pki.client.configuration(), false);
    let entries = log.entries();
    assert!(log.contains(expected), "{entries:?}");
    assert!(
        log.contains("server.interrupted:UnableToGetLocalIssuerCertificate"),
        "{entries:?}"
    );
    assert!(
        log.contains("server.error:SslHandshakeFailedError"),
        "{entries:?}"
    );
    assert!(!log.contains("server.encrypted"), "{entries:?}");
    assert!(
        !entries.iter().any(|e| e.starts_with("server.data:")),
        "{entries:?}"
    );
}
