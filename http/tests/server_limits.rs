//! The server's bounds under attack (issue 16), each reproduced from outside: connection
//! slots, per-connection memory, stalled peers. Each test asserts the bound and that a
//! normal client is still served.

mod server_support;

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use server_support::{assert_closed, read_response, TestServer};
use slotnet_core::EventLoop;
use slotnet_http::server::HttpServerConfiguration;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_net::ssl::test_certs;

/// Sends one keep-alive `GET /` on `s` and reads its answer.
fn get_hello(s: &mut BufReader<TcpStream>) {
    s.get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let resp = read_response(s, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
}

#[test]
fn idle_connections_are_closed_oldest_first_when_slots_run_out() {
    let config = HttpServerConfiguration {
        max_connections: 3,
        ..HttpServerConfiguration::default()
    };
    let server = TestServer::start(config, |_| {});
    // Three idle connections fill the slots: one that never sent anything (the oldest),
    // then two keep-alive connections between requests.
    let mut never = BufReader::new(server.connect());
    let mut older = BufReader::new(server.connect());
    get_hello(&mut older);
    let mut newer = BufReader::new(server.connect());
    get_hello(&mut newer);
    // A new client is served at once instead of waiting for an idle timeout (15 s); it
    // stays connected.
    let mut fourth = BufReader::new(server.connect());
    get_hello(&mut fourth);
    assert_closed(&mut never);
    // The next one takes the slot of the oldest remaining idle connection.
    let mut fifth = BufReader::new(server.connect());
    get_hello(&mut fifth);
    assert_closed(&mut older);
    for s in [&mut newer, &mut fourth, &mut fifth] {
        get_hello(s);
    }
}

/// GETs `path` from the TLS server on `port` with slotnet's own client (a real TLS
/// handshake, ALPN), on this thread's loop; the body, or the error.
fn https_get(port: u16, path: &str) -> Result<Vec<u8>, NetworkError> {
    let manager = NetworkAccessManager::new();
    let mut request = NetworkRequest::from_url_str(&format!("https://localhost:{port}{path}"));
    request.set_ssl_configuration(test_certs::client_configuration());
    request.set_transfer_timeout(Some(Duration::from_secs(20)));
    let reply = manager.get(request);
    reply.finished().connect(|_| EventLoop::current().quit());
    EventLoop::current().exec();
    match reply.error() {
        NetworkError::NoError => Ok(reply.read_all()),
        error => Err(error),
    }
}

#[test]
fn idle_tcp_connections_to_the_tls_port_do_not_lock_out_https_clients() {
    let server = TestServer::start_tls(HttpServerConfiguration::default(), |_| {});
    // Far more than the TLS server's pending limit (30): connections that never send a
    // ClientHello, each of which would wait out the 5 s handshake timeout.
    let idle: Vec<TcpStream> = (0..250)
        .map(|_| TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap())
        .collect();
    for _ in 0..3 {
        assert_eq!(https_get(server.port, "/").as_deref(), Ok(&b"hello"[..]));
    }
    drop(idle);
}
