//! TLS socket peers on the current thread's loop: a listening [`SslServer`], an echo on it,
//! and a client socket that logs its signals.

use std::net::Ipv4Addr;

use slotnet_net::ssl::{SslConfiguration, SslError};
use slotnet_net::{SslServer, SslSocket};

use crate::log::Log;

/// A server listening on 127.0.0.1 (a free port) with `config`.
pub fn server(config: SslConfiguration) -> SslServer {
    let server = SslServer::new();
    server.set_ssl_configuration(config);
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0), "listen failed");
    server
}

/// Makes `server` echo everything its connections receive, logging server-side events to
/// `log` (`server.pending`, `server.data:<text>`, `server.error:<code>`).
pub fn echo(server: SslServer, log: &Log) {
    let l = log.clone();
    server.pending_connection_available().connect(move |_| {
        while let Some(conn) = server.next_pending_connection() {
            l.push("server.pending");
            let l2 = l.clone();
            conn.ready_read().connect(move |_| {
                let data = conn.read_all();
                l2.push(format!("server.data:{}", String::from_utf8_lossy(&data)));
                conn.write(&data);
            });
        }
    });
    let l = log.clone();
    server.error_occurred().connect(move |(_, e)| {
        l.push(format!("server.error:{}", e.name()));
    });
}

/// A client socket with `config`, logging its signals to `log` as `client.connected`,
/// `client.encrypted`, `client.ssl_errors:<names>`, `client.error:<code>` and
/// `client.disconnected`.
pub fn logged_client(config: SslConfiguration, log: &Log) -> SslSocket {
    let socket = SslSocket::new();
    socket.set_ssl_configuration(config);
    let l = log.clone();
    socket
        .connected()
        .connect(move |_| l.push("client.connected"));
    let l = log.clone();
    socket
        .encrypted()
        .connect(move |_| l.push("client.encrypted"));
    let l = log.clone();
    socket.ssl_errors().connect(move |errors| {
        l.push(format!(
            "client.ssl_errors:{}",
            SslError::join_names(errors)
        ))
    });
    let l = log.clone();
    socket
        .error_occurred()
        .connect(move |e| l.push(format!("client.error:{}", e.name())));
    let l = log.clone();
    socket
        .disconnected()
        .connect(move |_| l.push("client.disconnected"));
    socket
}
