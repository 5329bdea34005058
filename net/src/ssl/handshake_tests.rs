//! Real TLS handshakes between in-memory client and server sessions.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use super::test_certs::{self, TestIdentity};
use super::*;

/// How a pumped handshake ended on each side.
#[derive(Debug, Default)]
struct Outcome {
    client: Option<rustls::Error>,
    server: Option<rustls::Error>,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.client.is_none() && self.server.is_none()
    }
}

/// Moves ciphertext between the two sessions until both are idle or one fails (its alert is
/// still delivered to the other side).
fn pump(client: &mut TlsSession, server: &mut TlsSession) -> Outcome {
    let mut outcome = Outcome::default();
    for _ in 0..64 {
        let mut to_server = Vec::new();
        client.take_ciphertext(&mut to_server);
        if !to_server.is_empty() && outcome.server.is_none() {
            match server.feed(&to_server) {
                Ok(n) => assert_eq!(n, to_server.len(), "server buffers full during pump"),
                Err(e) => outcome.server = Some(e),
            }
        }
        let mut to_client = Vec::new();
        server.take_ciphertext(&mut to_client);
        if !to_client.is_empty() && outcome.client.is_none() {
            match client.feed(&to_client) {
                Ok(n) => assert_eq!(n, to_client.len(), "client buffers full during pump"),
                Err(e) => outcome.client = Some(e),
            }
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    outcome
}

/// The hook's calls, as comma-joined names.
type Calls = Rc<RefCell<Vec<Vec<SslError>>>>;

fn record_hook(ctx: &VerifyContext, answer: bool) -> Calls {
    let calls: Calls = Rc::default();
    let c = calls.clone();
    ctx.set_ssl_errors_hook(move |errors| {
        c.borrow_mut().push(errors.to_vec());
        answer
    });
    calls
}

fn names(calls: &Calls) -> Vec<String> {
    calls
        .borrow()
        .iter()
        .map(|e| SslError::join_names(e))
        .collect()
}

struct Pair {
    client: TlsSession,
    server: TlsSession,
    calls: Calls,
}

fn pair_with(
    client_config: &SslConfiguration,
    host: &str,
    server_config: &SslConfiguration,
    answer: bool,
) -> Pair {
    let client = TlsSession::client(client_config, host).unwrap();
    let server = TlsSession::server(server_config).unwrap();
    let calls = record_hook(client.verify_context(), answer);
    Pair {
        client,
        server,
        calls,
    }
}

fn pair(id: &TestIdentity, client_config: &SslConfiguration, answer: bool) -> Pair {
    pair_with(client_config, "localhost", &id.configuration(), answer)
}

fn untrusting_client() -> SslConfiguration {
    // Only the system roots, which do not include the test CA.
    SslConfiguration::default()
}

/// Runs a handshake that the hook refuses and returns the error names the hook saw.
fn refused_errors(id: &TestIdentity, client_config: &SslConfiguration, host: &str) -> String {
    let mut p = pair_with(client_config, host, &id.configuration(), false);
    let outcome = pump(&mut p.client, &mut p.server);
    assert!(
        outcome.client.is_some(),
        "client should refuse: {outcome:?}"
    );
    assert!(
        outcome.server.is_some(),
        "server should get the alert: {outcome:?}"
    );
    let calls = names(&p.calls);
    assert_eq!(calls.len(), 1, "hook called once: {calls:?}");
    calls[0].clone()
}

fn read_all(session: &mut TlsSession) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match session.read_plaintext(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read_plaintext: {e}"),
        }
    }
    out
}

fn assert_data_flows(p: &mut Pair) {
    assert_eq!(p.client.write_plaintext(b"ping").unwrap(), 4);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_eq!(read_all(&mut p.server), b"ping");
    assert_eq!(p.server.write_plaintext(b"pong").unwrap(), 4);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_eq!(read_all(&mut p.client), b"pong");
}

#[test]
fn trusted_chain_completes_without_calling_the_hook() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.server, &test_certs::client_configuration(), false);
    assert!(p.client.is_handshaking() && p.server.is_handshaking());
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(!p.client.is_handshaking() && !p.server.is_handshaking());
    assert!(p.calls.borrow().is_empty());
    assert!(p.client.verify_context().ssl_handshake_errors().is_empty());
    let info = p.client.session_info().unwrap();
    assert_eq!(info.peer_certificate_chain, pki.server.chain);
    assert_eq!(info.session_protocol, SslProtocol::TlsV1_3);
    assert_eq!(info.negotiated_protocol, None);
    assert!(info.session_cipher.unwrap().name().starts_with("TLS_"));
    // The server asked for no client certificate (AutoVerifyPeer is QueryPeer there).
    assert!(p
        .server
        .session_info()
        .unwrap()
        .peer_certificate_chain
        .is_empty());
    assert_data_flows(&mut p);
}

#[test]
fn ip_address_host_is_checked_against_ip_san() {
    let pki = test_certs::pki();
    let config = test_certs::client_configuration();
    let mut p = pair_with(&config, "127.0.0.1", &pki.server.configuration(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(p.calls.borrow().is_empty());
    assert_eq!(
        refused_errors(&pki.server, &config, "127.0.0.2"),
        "HostNameMismatch"
    );
}

#[test]
fn unknown_ca_reports_local_issuer_and_first_certificate() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.server, &untrusting_client(), false);
    let outcome = pump(&mut p.client, &mut p.server);
    assert_eq!(
        outcome.client,
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );
    let calls = p.calls.borrow();
    assert_eq!(
        SslError::join_names(&calls[0]),
        "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate"
    );
    let leaf = &pki.server.chain[0];
    assert!(calls[0].iter().all(|e| e.certificate() == Some(leaf)));
    assert_eq!(p.client.verify_context().ssl_handshake_errors(), calls[0]);
}

#[test]
fn self_signed_leaf() {
    let pki = test_certs::pki();
    assert_eq!(
        refused_errors(
            &pki.self_signed,
            &test_certs::client_configuration(),
            "localhost"
        ),
        "SelfSignedCertificate"
    );
    // Trusting the certificate itself makes it clean, as with OpenSSL.
    let mut config = test_certs::client_configuration();
    config.add_ca_certificate(pki.self_signed.chain[0].clone());
    let mut p = pair(&pki.self_signed, &config, false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(p.calls.borrow().is_empty());
}

#[test]
fn name_mismatch_comes_first() {
    let pki = test_certs::pki();
    let trusting = test_certs::client_configuration();
    assert_eq!(
        refused_errors(&pki.wrong_host, &trusting, "localhost"),
        "HostNameMismatch"
    );
    assert_eq!(
        refused_errors(&pki.self_signed, &trusting, "other.example"),
        "HostNameMismatch,SelfSignedCertificate"
    );
    assert_eq!(
        refused_errors(&pki.wrong_host, &untrusting_client(), "localhost"),
        "HostNameMismatch,UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate"
    );
}

#[test]
fn peer_verify_name_replaces_the_host() {
    let pki = test_certs::pki();
    let mut config = test_certs::client_configuration();
    config.set_peer_verify_name("wrong.example");
    let mut p = pair_with(&config, "127.0.0.1", &pki.wrong_host.configuration(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(p.calls.borrow().is_empty());
    assert_eq!(
        refused_errors(&pki.server, &config, "localhost"),
        "HostNameMismatch"
    );
}

#[test]
fn expired_leaf() {
    let pki = test_certs::pki();
    assert_eq!(
        refused_errors(
            &pki.expired,
            &test_certs::client_configuration(),
            "localhost"
        ),
        "CertificateExpired"
    );
    assert_eq!(
        refused_errors(&pki.expired, &untrusting_client(), "localhost"),
        "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate,CertificateExpired"
    );
}

#[test]
fn not_yet_valid_leaf() {
    let pki = test_certs::pki();
    assert_eq!(
        refused_errors(
            &pki.not_yet_valid,
            &test_certs::client_configuration(),
            "localhost"
        ),
        "CertificateNotYetValid"
    );
    assert_eq!(
        refused_errors(&pki.not_yet_valid, &untrusting_client(), "localhost"),
        "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate,CertificateNotYetValid"
    );
}

#[test]
fn intermediate_chain() {
    let pki = test_certs::pki();
    let mut p = pair(
        &pki.intermediate_signed,
        &test_certs::client_configuration(),
        false,
    );
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_eq!(
        p.client.session_info().unwrap().peer_certificate_chain,
        pki.intermediate_signed.chain
    );
    let mut p = pair(&pki.intermediate_signed, &untrusting_client(), false);
    assert!(pump(&mut p.client, &mut p.server).client.is_some());
    let calls = p.calls.borrow();
    assert_eq!(
        SslError::join_names(&calls[0]),
        "UnableToGetLocalIssuerCertificate"
    );
    assert_eq!(
        calls[0][0].certificate(),
        Some(&pki.intermediate_signed.chain[1])
    );
}

#[test]
fn refusal_fails_before_any_application_data() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.self_signed, &untrusting_client(), false);
    // Queued before the handshake: rustls holds it until the handshake completes.
    assert_eq!(p.client.write_plaintext(b"secret").unwrap(), 6);
    let outcome = pump(&mut p.client, &mut p.server);
    assert!(outcome.client.is_some() && outcome.server.is_some());
    // An untrusted issuer is refused with the alert TLS has for it.
    assert_eq!(
        outcome.server,
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::UnknownCA
        ))
    );
    let mut buf = [0u8; 16];
    assert!(p.server.read_plaintext(&mut buf).is_err());
    assert!(p.client.session_info().is_none());
}

#[test]
fn hook_returning_true_lets_data_flow() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.expired, &untrusting_client(), true);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_eq!(names(&p.calls).len(), 1);
    assert_eq!(
        SslError::join_names(&p.client.verify_context().ssl_handshake_errors()),
        "UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate,CertificateExpired"
    );
    assert_data_flows(&mut p);
}

#[test]
fn ignore_from_inside_the_hook_like_a_slot() {
    let pki = test_certs::pki();
    let client = TlsSession::client(&untrusting_client(), "localhost").unwrap();
    let ctx = client.verify_context().clone();
    client.verify_context().set_ssl_errors_hook(move |_| {
        ctx.ignore_ssl_errors();
        false
    });
    let mut p = Pair {
        client,
        server: TlsSession::server(&pki.self_signed.configuration()).unwrap(),
        calls: Rc::default(),
    };
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_data_flows(&mut p);
}

#[test]
fn expected_error_list_is_honoured() {
    let pki = test_certs::pki();
    let cert = pki.self_signed.chain[0].clone();
    let connect = |list: Vec<SslError>, host: &str| {
        let mut p = pair_with(
            &untrusting_client(),
            host,
            &pki.self_signed.configuration(),
            false,
        );
        p.client.verify_context().set_ignore_ssl_errors_list(list);
        let outcome = pump(&mut p.client, &mut p.server);
        // Qt emits sslErrors even when every error was expected.
        assert_eq!(p.calls.borrow().len(), 1);
        outcome.ok()
    };
    let expected = SslError::new(SslErrorKind::SelfSignedCertificate, cert.clone());
    assert!(connect(vec![expected.clone()], "localhost"));
    // Same kind, other certificate: not a match.
    let other = SslError::new(SslErrorKind::SelfSignedCertificate, pki.ca.clone());
    assert!(!connect(vec![other], "localhost"));
    // Without a certificate: not a match either (Qt compares both).
    assert!(!connect(
        vec![SslErrorKind::SelfSignedCertificate.into()],
        "localhost"
    ));
    // Every error must be expected.
    assert!(!connect(vec![expected.clone()], "other.example"));
    let mismatch = SslError::new(SslErrorKind::HostNameMismatch, cert);
    assert!(connect(vec![mismatch, expected], "other.example"));
}

#[test]
fn ignore_all_before_the_handshake() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.not_yet_valid, &untrusting_client(), false);
    p.client.verify_context().ignore_ssl_errors();
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert_eq!(p.calls.borrow().len(), 1);
    assert_data_flows(&mut p);
}

#[test]
fn verify_none_and_query_peer_report_nothing() {
    let pki = test_certs::pki();
    for mode in [PeerVerifyMode::VerifyNone, PeerVerifyMode::QueryPeer] {
        let mut config = untrusting_client();
        config.set_peer_verify_mode(mode);
        let mut p = pair_with(
            &config,
            "other.example",
            &pki.expired.configuration(),
            false,
        );
        assert!(pump(&mut p.client, &mut p.server).ok(), "{mode:?}");
        assert!(p.calls.borrow().is_empty());
        assert_eq!(
            p.client.session_info().unwrap().peer_certificate_chain,
            pki.expired.chain,
            "{mode:?} keeps the chain"
        );
        assert_data_flows(&mut p);
    }
}

fn mutual_server(mode: PeerVerifyMode, trust_ca: bool) -> SslConfiguration {
    let mut config = test_certs::pki().server.configuration();
    config.set_peer_verify_mode(mode);
    if !trust_ca {
        config.set_ca_certificates(Vec::new());
    }
    config
}

#[test]
fn mutual_tls_with_verify_peer() {
    let pki = test_certs::pki();
    let server_config = mutual_server(PeerVerifyMode::VerifyPeer, true);
    let mut p = pair_with(
        &pki.client.configuration(),
        "localhost",
        &server_config,
        false,
    );
    let server_calls = record_hook(p.server.verify_context(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(server_calls.borrow().is_empty());
    assert_eq!(
        p.server.session_info().unwrap().peer_certificate_chain,
        pki.client.chain
    );
    assert_data_flows(&mut p);

    // No client certificate: VerifyPeer requires one; the hook hears of it first
    // (NoPeerCertificate, as Qt) and decides.
    for answer in [false, true] {
        let mut p = pair_with(
            &test_certs::client_configuration(),
            "localhost",
            &server_config,
            false,
        );
        let server_calls = record_hook(p.server.verify_context(), answer);
        let outcome = pump(&mut p.client, &mut p.server);
        assert_eq!(names(&server_calls), ["NoPeerCertificate"]);
        if answer {
            assert!(outcome.ok(), "{outcome:?}");
            assert!(p
                .server
                .session_info()
                .unwrap()
                .peer_certificate_chain
                .is_empty());
            assert_data_flows(&mut p);
        } else {
            assert_eq!(outcome.server, Some(rustls::Error::NoCertificatesPresented));
        }
    }
}

#[test]
fn untrusted_client_certificate_goes_to_the_server_hook() {
    let pki = test_certs::pki();
    let server_config = mutual_server(PeerVerifyMode::VerifyPeer, false);
    for answer in [false, true] {
        let mut p = pair_with(
            &pki.client.configuration(),
            "localhost",
            &server_config,
            false,
        );
        let server_calls = record_hook(p.server.verify_context(), answer);
        let outcome = pump(&mut p.client, &mut p.server);
        assert_eq!(
            names(&server_calls),
            ["UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate"]
        );
        assert_eq!(outcome.ok(), answer, "{outcome:?}");
        assert!(p.calls.borrow().is_empty(), "the client trusted the server");
    }
}

#[test]
fn query_peer_server_requests_but_does_not_require() {
    let pki = test_certs::pki();
    let server_config = mutual_server(PeerVerifyMode::QueryPeer, false);
    let mut p = pair_with(
        &pki.client.configuration(),
        "localhost",
        &server_config,
        false,
    );
    let server_calls = record_hook(p.server.verify_context(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(server_calls.borrow().is_empty());
    assert_eq!(
        p.server.session_info().unwrap().peer_certificate_chain,
        pki.client.chain
    );
    let mut p = pair_with(
        &test_certs::client_configuration(),
        "localhost",
        &server_config,
        false,
    );
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(p
        .server
        .session_info()
        .unwrap()
        .peer_certificate_chain
        .is_empty());
}

fn alpn(client: &[&[u8]], server: &[&[u8]]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let pki = test_certs::pki();
    let mut client_config = test_certs::client_configuration();
    client_config.set_allowed_next_protocols(client.iter().map(|p| p.to_vec()).collect());
    let mut server_config = pki.server.configuration();
    server_config.set_allowed_next_protocols(server.iter().map(|p| p.to_vec()).collect());
    let mut p = pair_with(&client_config, "localhost", &server_config, false);
    let outcome = pump(&mut p.client, &mut p.server);
    assert!(outcome.ok(), "{outcome:?}");
    (
        p.client.session_info().unwrap().negotiated_protocol,
        p.server.session_info().unwrap().negotiated_protocol,
    )
}

#[test]
fn alpn_selection_on_both_sides() {
    let h2 = ALPN_PROTOCOL_HTTP2;
    let h1 = NEXT_PROTOCOL_HTTP1_1;
    let both = |p: &[u8]| (Some(p.to_vec()), Some(p.to_vec()));
    assert_eq!(alpn(&[h2, h1], &[h2, h1]), both(h2));
    assert_eq!(alpn(&[h2, h1], &[h1]), both(h1));
    assert_eq!(alpn(&[h1], &[h2, h1]), both(h1));
    // The server's preference wins.
    assert_eq!(alpn(&[h1, h2], &[h2, h1]), both(h2));
    // No overlap, or no offer: no ALPN, but the handshake succeeds (as in Qt).
    assert_eq!(alpn(&[h2], &[h1]), (None, None));
    assert_eq!(alpn(&[], &[h2, h1]), (None, None));
    assert_eq!(alpn(&[h2, h1], &[]), (None, None));
}

fn versions(client: SslProtocol, server: SslProtocol) -> (Outcome, Option<SessionInfo>) {
    let pki = test_certs::pki();
    let mut client_config = test_certs::client_configuration();
    client_config.set_protocol(client);
    let mut server_config = pki.server.configuration();
    server_config.set_protocol(server);
    let mut p = pair_with(&client_config, "localhost", &server_config, false);
    let outcome = pump(&mut p.client, &mut p.server);
    if outcome.ok() {
        assert_eq!(
            p.client.session_info(),
            p.server.session_info().map(|mut s| {
                s.peer_certificate_chain = pki.server.chain.clone();
                s
            })
        );
    }
    (outcome, p.client.session_info())
}

#[test]
fn protocol_ranges() {
    let (outcome, info) = versions(SslProtocol::TlsV1_2, SslProtocol::SecureProtocols);
    assert!(outcome.ok());
    let info = info.unwrap();
    assert_eq!(info.session_protocol, SslProtocol::TlsV1_2);
    let cipher = info.session_cipher.unwrap();
    assert!(
        cipher.name().starts_with("ECDHE-ECDSA-"),
        "{}",
        cipher.name()
    );
    assert_eq!(cipher.protocol(), SslProtocol::TlsV1_2);

    let (outcome, info) = versions(SslProtocol::SecureProtocols, SslProtocol::TlsV1_3OrLater);
    assert!(outcome.ok());
    assert_eq!(info.unwrap().session_protocol, SslProtocol::TlsV1_3);

    let (outcome, info) = versions(SslProtocol::TlsV1_2, SslProtocol::TlsV1_3);
    assert!(outcome.client.is_some() && outcome.server.is_some());
    assert!(info.is_none());
}

#[test]
fn tls12_reports_the_same_errors() {
    let pki = test_certs::pki();
    let mut config = untrusting_client();
    config.set_protocol(SslProtocol::TlsV1_2);
    assert_eq!(
        refused_errors(&pki.expired, &config, "other.example"),
        "HostNameMismatch,UnableToGetLocalIssuerCertificate,UnableToVerifyFirstCertificate,CertificateExpired"
    );
}

#[test]
fn close_notify_ends_the_stream_cleanly() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.server, &test_certs::client_configuration(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    p.client.write_plaintext(b"bye").unwrap();
    p.client.send_close_notify();
    assert!(pump(&mut p.client, &mut p.server).ok());
    assert!(p.server.received_close_notify());
    let mut buf = [0u8; 8];
    assert_eq!(p.server.read_plaintext(&mut buf).unwrap(), 3);
    assert_eq!(p.server.read_plaintext(&mut buf).unwrap(), 0);
}

#[test]
fn full_send_buffer_accepts_zero_bytes() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.server, &test_certs::client_configuration(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    p.client.set_buffer_limit(Some(4096));
    let chunk = [7u8; 1000];
    let mut queued = 0;
    let mut blocked = false;
    for _ in 0..100 {
        let n = p.client.write_plaintext(&chunk).unwrap();
        if n == 0 {
            blocked = true;
            break;
        }
        queued += n;
    }
    assert!(blocked, "a limited buffer must fill up");
    assert!(queued <= 4096 + chunk.len());
    // Sending the ciphertext makes room again.
    let mut wire = Vec::new();
    p.client.take_ciphertext(&mut wire);
    assert!(p.client.write_plaintext(&chunk).unwrap() > 0);
    assert_eq!(p.server.feed(&wire).unwrap(), wire.len());
    assert_eq!(read_all(&mut p.server).len(), queued);
}

#[test]
fn feed_stops_when_plaintext_is_not_read() {
    let pki = test_certs::pki();
    let mut p = pair(&pki.server, &test_certs::client_configuration(), false);
    assert!(pump(&mut p.client, &mut p.server).ok());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut wire = Vec::new();
    while sent < data.len() {
        sent += p.client.write_plaintext(&data[sent..]).unwrap();
        p.client.take_ciphertext(&mut wire);
    }
    let mut received = Vec::new();
    let mut offset = 0;
    let mut partial_feeds = 0;
    while offset < wire.len() {
        let n = p.server.feed(&wire[offset..]).unwrap();
        if offset + n < wire.len() {
            partial_feeds += 1;
        }
        offset += n;
        let before = received.len();
        received.extend(read_all(&mut p.server));
        assert!(n > 0 || received.len() > before, "no progress");
    }
    assert!(partial_feeds > 0, "rustls' plaintext limit must push back");
    assert_eq!(received, data);
}

#[test]
fn garbage_client_hello_is_refused_with_an_alert() {
    let pki = test_certs::pki();
    let mut server = TlsSession::server(&pki.server.configuration()).unwrap();
    let garbage = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert!(server.feed(garbage).is_err());
    assert!(server.wants_write());
    let mut alert = Vec::new();
    assert!(server.take_ciphertext(&mut alert) > 0);
    assert_eq!(alert[0], 0x15, "a TLS alert record");
    assert!(!server.wants_write());
    assert!(server.is_handshaking());
    assert!(server.session_info().is_none());
}

#[test]
fn server_writes_wait_for_the_client_hello() {
    let pki = test_certs::pki();
    let mut server = TlsSession::server(&pki.server.configuration()).unwrap();
    assert_eq!(server.write_plaintext(b"early").unwrap(), 0);
    assert!(server.connection().is_none());
    assert!(server.is_server());
}

/// Connects twice with the same configurations; returns whether each connection resumed
/// and how often the client's hook was called in total.
fn connect_twice(
    id: &TestIdentity,
    client_config: &SslConfiguration,
    answer: bool,
) -> (Vec<bool>, usize) {
    let server_config = id.configuration();
    let mut resumed = Vec::new();
    let mut hook_calls = 0;
    for _ in 0..2 {
        let mut p = pair_with(client_config, "localhost", &server_config, answer);
        assert!(pump(&mut p.client, &mut p.server).ok());
        // The server's session ticket travels after the handshake: let it arrive.
        assert_data_flows(&mut p);
        resumed.push(p.client.session_info().unwrap().session_resumed);
        hook_calls += p.calls.borrow().len();
    }
    (resumed, hook_calls)
}

#[test]
fn clean_sessions_are_resumed() {
    let pki = test_certs::pki();
    for protocol in [SslProtocol::TlsV1_3, SslProtocol::TlsV1_2] {
        let mut config = test_certs::client_configuration();
        config.set_protocol(protocol);
        let (resumed, hook_calls) = connect_twice(&pki.server, &config, false);
        assert_eq!(resumed, [false, true], "{protocol:?}");
        assert_eq!(hook_calls, 0);
    }
}

#[test]
fn sessions_with_ignored_errors_are_not_resumed() {
    let pki = test_certs::pki();
    for protocol in [SslProtocol::TlsV1_3, SslProtocol::TlsV1_2] {
        let mut config = test_certs::client_configuration();
        config.set_protocol(protocol);
        let (resumed, hook_calls) = connect_twice(&pki.expired, &config, true);
        assert_eq!(resumed, [false, false], "{protocol:?}");
        assert_eq!(hook_calls, 2, "every connection asks the hook");
    }
}
