//! The operating system's CA store (about 18 M instructions to read) is loaded only when a
//! handshake verifies a peer against it. This file holds one test so that nothing else in
//! its process reads the store first.

use slotnet_core::EventLoop;
use slotnet_net::ssl::{system_ca_store_loaded, test_certs, PeerVerifyMode, SslConfiguration};
use slotnet_testkit::ssl::{echo, logged_client, server};
use slotnet_testkit::{exec_within, Log, LIMIT};

/// Connects a client with `config` to an echo server of the test PKI and sends `ping`;
/// true once the echo came back over the encrypted connection.
fn echoed_over_tls(config: SslConfiguration) -> bool {
    let log = Log::default();
    let server = server(test_certs::pki().server.configuration());
    echo(server, &log);
    let client = logged_client(config, &log);
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 4 {
            EventLoop::current().quit();
        }
    });
    client.connect_to_host_encrypted("localhost", server.server_port());
    client.write(b"ping");
    exec_within(LIMIT) && client.is_encrypted() && client.read_all() == b"ping"
}

#[test]
fn a_configuration_that_does_not_verify_never_loads_the_system_store() {
    // The default configuration uses the system store; VerifyNone never consults it.
    let mut unverified = SslConfiguration::default();
    unverified.set_peer_verify_mode(PeerVerifyMode::VerifyNone);
    assert!(unverified.uses_system_ca_certificates());
    assert!(echoed_over_tls(unverified));
    assert!(
        !system_ca_store_loaded(),
        "VerifyNone read the system store"
    );

    // The first handshake that verifies against the system store (plus the test CA) loads it.
    let mut verified = SslConfiguration::default();
    verified.add_ca_certificate(test_certs::pki().ca.clone());
    assert!(echoed_over_tls(verified));
    assert!(system_ca_store_loaded());
}
