//! The server's bounds under attack (issue 16), each reproduced from outside: connection
//! slots, per-connection memory, stalled peers. Each test asserts the bound and that a
//! normal client is still served.

mod server_support;

use std::io::{BufReader, Write};
use std::net::TcpStream;

use server_support::{assert_closed, read_response, TestServer};
use slotnet_http::server::HttpServerConfiguration;

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
