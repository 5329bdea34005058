//! The client pool's settings (issue 20): connections per host from the request's
//! `Http1Configuration` (Qt's `QHttp1Configuration::numberOfConnectionsPerHost`), and the
//! idle expiry set on the manager. The loopback server counts the connections it accepts.

use std::time::Duration;

use slotnet_http::{Http1Configuration, NetworkAccessManager, NetworkError, NetworkRequest};
use slotnet_testkit::event_loop::run_for;
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::run_all;

/// A server whose answers take a while, so that parallel requests keep their connections
/// busy and the pool opens as many as it may.
fn slow_server() -> ScriptedServer {
    ScriptedServer::start(|_, s| {
        std::thread::sleep(Duration::from_millis(50));
        respond(s, "200 OK", &[], b"x");
        Next::KeepAlive
    })
}

fn request(server: &ScriptedServer, connections: Option<usize>) -> NetworkRequest {
    let mut request = NetworkRequest::from_url_str(&server.url("/"));
    if let Some(n) = connections {
        let mut config = Http1Configuration::default();
        config.set_number_of_connections_per_host(n);
        request.set_http1_configuration(config);
    }
    request
}

#[test]
fn http1_configuration_bounds_the_connections_per_host() {
    let server = slow_server();
    let m = NetworkAccessManager::new();
    let replies: Vec<_> = (0..6).map(|_| m.get(request(&server, Some(2)))).collect();
    run_all(&replies);
    assert!(replies.iter().all(|r| r.error() == NetworkError::NoError));
    assert!(replies.iter().all(|r| r.read_all() == b"x"));
    assert_eq!(
        server.connection_count(),
        2,
        "6 parallel requests on 2 connections"
    );
    assert_eq!(m.connections_opened(), 2);
}

#[test]
fn the_request_that_opens_the_host_decides_its_connection_count() {
    // As in Qt: the configuration counts when the host has no connection yet; requests
    // with the default one then share what the first opened.
    let server = slow_server();
    let m = NetworkAccessManager::new();
    let mut replies = vec![m.get(request(&server, Some(1)))];
    replies.extend((0..4).map(|_| m.get(request(&server, None))));
    run_all(&replies);
    assert!(replies.iter().all(|r| r.error() == NetworkError::NoError));
    assert_eq!(server.connection_count(), 1);
    // Without a configuration, Qt's six.
    let other = slow_server();
    let m = NetworkAccessManager::new();
    let replies: Vec<_> = (0..8).map(|_| m.get(request(&other, None))).collect();
    run_all(&replies);
    assert_eq!(other.connection_count(), 6);
}

#[test]
fn out_of_range_connection_counts_are_ignored() {
    let mut config = Http1Configuration::default();
    config.set_number_of_connections_per_host(0);
    assert_eq!(config.number_of_connections_per_host(), 6);
    config.set_number_of_connections_per_host(256);
    assert_eq!(config.number_of_connections_per_host(), 6);
    config.set_number_of_connections_per_host(255);
    assert_eq!(config.number_of_connections_per_host(), 255);
}

#[test]
fn the_idle_expiry_set_on_the_manager_closes_idle_connections() {
    let server = ScriptedServer::start(|_, s| {
        respond(s, "200 OK", &[], b"x");
        Next::KeepAlive
    });
    // The default keeps the connection across a pause.
    let kept = NetworkAccessManager::new();
    run_all(&[kept.get(request(&server, None))]);
    run_for(Duration::from_millis(600));
    run_all(&[kept.get(request(&server, None))]);
    assert_eq!(kept.connections_opened(), 1);
    assert_eq!(server.connection_count(), 1);
    // A short expiry closes it during the same pause: the next request opens another.
    let m = NetworkAccessManager::new();
    m.set_connection_idle_expiry(Duration::from_millis(50));
    assert_eq!(m.connection_idle_expiry(), Duration::from_millis(50));
    let first = m.get(request(&server, None));
    run_all(&[first]);
    assert_eq!(first.error(), NetworkError::NoError);
    run_for(Duration::from_millis(600));
    let second = m.get(request(&server, None));
    run_all(&[second]);
    assert_eq!(second.error(), NetworkError::NoError);
    assert_eq!(m.connections_opened(), 2, "the idle connection expired");
    assert_eq!(server.connection_count(), 3);
}
