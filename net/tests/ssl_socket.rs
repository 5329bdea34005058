//! SslSocket and SslServer over real loopback TLS: round trips, signal order, ALPN,
//! STARTTLS, and the AbstractSocket interface.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;

use slotnet_core::{AsObject, EventLoop};
use slotnet_net::ssl::{
    test_certs, SslConfiguration, SslProtocol, ALPN_PROTOCOL_HTTP2, NEXT_PROTOCOL_HTTP1_1,
};
use slotnet_net::{AbstractSocket, SocketState, SslMode, SslServer, SslSocket, TcpServer};
use slotnet_testkit::certs::trusting;
use slotnet_testkit::ssl::{echo, logged_client, server};
use slotnet_testkit::{exec_within, Log, LIMIT};

#[test]
fn client_and_server_round_trip_with_a_trusted_certificate() {
    let pki = test_certs::pki();
    let log = Log::default();
    let server = server(pki.server.configuration());
    echo(server, &log);
    let l = log.clone();
    server
        .new_connection()
        .connect(move |_| l.push("server.new_connection"));
    let l = log.clone();
    server
        .started_encryption_handshake()
        .connect(move |s| l.push(format!("server.started:{}", s.mode().name())));

    let client = logged_client(trusting(), &log);
    let l = log.clone();
    client
        .mode_changed()
        .connect(move |m| l.push(format!("client.mode:{}", m.name())));
    let l = log.clone();
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 9 {
            l.push(format!(
                "client.data:{}",
                String::from_utf8_lossy(&client.read_all())
            ));
            EventLoop::current().quit();
        }
    });
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert_eq!(client.mode(), SslMode::SslClientMode);
    // Written before the connection exists: queued until the handshake is done.
    assert_eq!(client.write(b"ping-"), 5);
    assert_eq!(client.write(b"pong"), 4);
    assert!(!client.is_encrypted());
    assert!(exec_within(LIMIT), "timed out: {:?}", log.entries());

    let entries = log.entries();
    let pos = |e: &str| {
        entries
            .iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("{e} missing from {entries:?}"))
    };
    assert!(pos("client.mode:SslClientMode") < pos("client.connected"));
    assert!(pos("client.connected") < pos("client.encrypted"));
    assert!(pos("server.new_connection") < pos("server.started:UnencryptedMode"));
    assert!(pos("server.started:UnencryptedMode") < pos("server.pending"));
    assert!(pos("server.pending") < pos("server.data:ping-pong"));
    assert!(pos("client.encrypted") < pos("client.data:ping-pong"));
    assert!(!entries.iter().any(|e| e.contains("error")), "{entries:?}");

    assert!(client.is_encrypted());
    assert_eq!(client.state(), SocketState::Connected);
    assert_eq!(client.session_protocol(), SslProtocol::TlsV1_3);
    assert!(client.session_cipher().is_some());
    assert_eq!(client.peer_certificate(), Some(pki.server.chain[0].clone()));
    assert_eq!(client.peer_certificate_chain(), pki.server.chain);
    assert!(client.ssl_handshake_errors().is_empty());
    assert_eq!(client.peer_port(), server.server_port());
    assert_eq!(client.bytes_to_write(), 0);
}

#[test]
fn server_connections_report_their_negotiated_session() {
    let pki = test_certs::pki();
    let server = server(pki.server.configuration());
    let accepted: Rc<RefCell<Option<SslSocket>>> = Rc::default();
    let a = accepted.clone();
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        assert!(server.next_pending_connection().is_none());
        *a.borrow_mut() = Some(conn);
        EventLoop::current().quit();
    });
    let client = SslSocket::new();
    client.set_ssl_configuration(trusting());
    client.connect_to_host_encrypted("127.0.0.1", server.server_port());
    assert!(exec_within(LIMIT));
    let conn = accepted.borrow().unwrap();
    assert_eq!(conn.mode(), SslMode::SslServerMode);
    assert!(conn.is_encrypted());
    assert_eq!(conn.session_protocol(), SslProtocol::TlsV1_3);
    // AutoVerifyPeer on a server is QueryPeer: no client certificate was asked for.
    assert!(conn.peer_certificate().is_none());
    assert_eq!(conn.as_object().parent(), Some(server.as_object()));
}

/// Negotiates with the given ALPN lists; returns (client's, server's) negotiated protocol.
fn alpn(client: &[&[u8]], server_list: &[&[u8]]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut server_config = test_certs::pki().server.configuration();
    server_config.set_allowed_next_protocols(server_list.iter().map(|p| p.to_vec()).collect());
    let server = server(server_config);
    let server_side: Rc<RefCell<Option<SslConfiguration>>> = Rc::default();
    let client_side: Rc<RefCell<Option<SslConfiguration>>> = Rc::default();
    let s = server_side.clone();
    let c = client_side.clone();
    let check_done = move || {
        if s.borrow().is_some() && c.borrow().is_some() {
            EventLoop::current().quit();
        }
    };
    let (s, done) = (server_side.clone(), check_done.clone());
    server.pending_connection_available().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        *s.borrow_mut() = Some(conn.ssl_configuration());
        done();
    });
    let mut config = trusting();
    config.set_allowed_next_protocols(client.iter().map(|p| p.to_vec()).collect());
    let socket = SslSocket::new();
    socket.set_ssl_configuration(config);
    let c = client_side.clone();
    socket.encrypted().connect(move |_| {
        *c.borrow_mut() = Some(socket.ssl_configuration());
        check_done();
    });
    socket.connect_to_host_encrypted("localhost", server.server_port());
    assert!(exec_within(LIMIT));
    let client_proto = client_side
        .borrow()
        .as_ref()
        .unwrap()
        .negotiated_protocol()
        .map(<[u8]>::to_vec);
    let server_proto = server_side
        .borrow()
        .as_ref()
        .unwrap()
        .negotiated_protocol()
        .map(<[u8]>::to_vec);
    server.destroy();
    socket.destroy();
    (client_proto, server_proto)
}

#[test]
fn alpn_negotiates_h2_or_http11_on_both_sides() {
    let both: &[&[u8]] = &[ALPN_PROTOCOL_HTTP2, NEXT_PROTOCOL_HTTP1_1];
    let h2 = Some(ALPN_PROTOCOL_HTTP2.to_vec());
    let h1 = Some(NEXT_PROTOCOL_HTTP1_1.to_vec());
    assert_eq!(alpn(both, both), (h2.clone(), h2));
    assert_eq!(
        alpn(&[NEXT_PROTOCOL_HTTP1_1], both),
        (h1.clone(), h1.clone())
    );
    // The server's preference order decides.
    assert_eq!(
        alpn(both, &[NEXT_PROTOCOL_HTTP1_1, ALPN_PROTOCOL_HTTP2]),
        (h1.clone(), h1)
    );
    // No overlap: the handshake goes on without ALPN, as in Qt.
    assert_eq!(alpn(&[ALPN_PROTOCOL_HTTP2], &[b"spdy/3"]), (None, None));
}

/// Protocol code written once against the trait (as the HTTP engine is).
fn send_line(socket: &dyn AbstractSocket, line: &str) -> usize {
    socket.write(line.as_bytes())
}

#[test]
fn starttls_upgrades_a_plain_connection() {
    let pki = test_certs::pki();
    let log = Log::default();
    // A plain TCP server whose connection is wrapped and upgraded after a cleartext
    // exchange ("STARTTLS\n" → "GO\n").
    let tcp_server = TcpServer::new();
    assert!(tcp_server.listen(Ipv4Addr::LOCALHOST, 0));
    let l = log.clone();
    tcp_server.new_connection().connect(move |_| {
        let conn = SslSocket::from_tcp_socket(tcp_server.next_pending_connection().unwrap());
        assert_eq!(conn.state(), SocketState::Connected);
        conn.set_ssl_configuration(pki.server.configuration());
        let l2 = l.clone();
        conn.ready_read().connect(move |_| {
            if conn.mode() == SslMode::UnencryptedMode {
                if conn.can_read_line() {
                    let line = conn.read_line(0);
                    l2.push(format!(
                        "server.plain:{}",
                        String::from_utf8_lossy(&line).trim()
                    ));
                    conn.write(b"GO\n");
                    conn.start_server_encryption();
                }
            } else {
                let data = conn.read_all();
                l2.push(format!("server.tls:{}", String::from_utf8_lossy(&data)));
                send_line(&conn, "secret-reply");
            }
        });
    });

    let client = logged_client(trusting(), &log);
    client.connected().connect(move |_| {
        send_line(&client, "STARTTLS\n");
    });
    let l = log.clone();
    client.ready_read().connect(move |_| {
        if client.mode() == SslMode::UnencryptedMode {
            if client.can_read_line() {
                l.push(format!(
                    "client.plain:{}",
                    String::from_utf8_lossy(&client.read_line(0)).trim()
                ));
                client.start_client_encryption();
                client.write(b"secret");
            }
        } else if client.bytes_available() == 12 {
            l.push(format!(
                "client.tls:{}",
                String::from_utf8_lossy(&client.read_all())
            ));
            EventLoop::current().quit();
        }
    });
    client.connect_to_host("localhost", tcp_server.server_port());
    assert_eq!(client.mode(), SslMode::UnencryptedMode);
    assert!(exec_within(LIMIT), "timed out: {:?}", log.entries());
    assert_eq!(
        log.entries(),
        [
            "client.connected",
            "server.plain:STARTTLS",
            "client.plain:GO",
            "client.encrypted",
            "server.tls:secret",
            "client.tls:secret-reply"
        ]
    );
    assert_eq!(client.mode(), SslMode::SslClientMode);
}

/// The STARTTLS trap: both sides speak the plaintext protocol on a `TcpSocket` with their
/// own `ready_read` slots, then hand the socket to `SslSocket::from_tcp_socket`. The old
/// slots must not see the TLS records.
#[test]
fn from_tcp_socket_takes_the_socket_over_for_starttls() {
    let pki = test_certs::pki();
    let log = Log::default();
    let plain_slot_calls = Rc::new(RefCell::new((0, 0)));

    let tcp_server = TcpServer::new();
    assert!(tcp_server.listen(Ipv4Addr::LOCALHOST, 0));
    let l = log.clone();
    let calls = plain_slot_calls.clone();
    tcp_server.new_connection().connect(move |_| {
        let conn = tcp_server.next_pending_connection().unwrap();
        let l = l.clone();
        let calls = calls.clone();
        conn.ready_read().connect(move |_| {
            calls.borrow_mut().0 += 1;
            // A plaintext line reader, as a Qt program has it.
            let line = String::from_utf8_lossy(&conn.read_line(0))
                .trim()
                .to_owned();
            l.push(format!("server.plain:{line}"));
            if line == "STARTTLS" {
                conn.write(b"220 go ahead\r\n");
                let tls = SslSocket::from_tcp_socket(conn);
                tls.set_ssl_configuration(pki.server.configuration());
                let l2 = l.clone();
                tls.ready_read().connect(move |_| {
                    let data = tls.read_all();
                    l2.push(format!("server.tls:{}", String::from_utf8_lossy(&data)));
                    tls.write(b"secret-reply");
                });
                tls.start_server_encryption();
            }
        });
    });

    let plain = slotnet_net::TcpSocket::new();
    plain.connected().connect(move |_| {
        plain.write(b"STARTTLS\r\n");
    });
    let l = log.clone();
    let calls = plain_slot_calls.clone();
    plain.ready_read().connect(move |_| {
        calls.borrow_mut().1 += 1;
        let line = String::from_utf8_lossy(&plain.read_line(0))
            .trim()
            .to_owned();
        l.push(format!("client.plain:{line}"));
        if line.starts_with("220") {
            let tls = SslSocket::from_tcp_socket(plain);
            tls.set_ssl_configuration(trusting());
            let l2 = l.clone();
            tls.encrypted().connect(move |_| {
                l2.push("client.encrypted");
                tls.write(b"secret");
            });
            let l2 = l.clone();
            tls.ready_read().connect(move |_| {
                if tls.bytes_available() == 12 {
                    l2.push(format!(
                        "client.tls:{}",
                        String::from_utf8_lossy(&tls.read_all())
                    ));
                    EventLoop::current().quit();
                }
            });
            let l2 = l.clone();
            tls.error_occurred()
                .connect(move |e| l2.push(format!("client.error:{}", e.name())));
            tls.set_peer_verify_name("localhost");
            tls.start_client_encryption();
        }
    });
    plain.connect_to_host("127.0.0.1", tcp_server.server_port());
    assert!(exec_within(LIMIT), "timed out: {:?}", log.entries());
    assert_eq!(
        log.entries(),
        [
            "server.plain:STARTTLS",
            "client.plain:220 go ahead",
            "client.encrypted",
            "server.tls:secret",
            "client.tls:secret-reply"
        ]
    );
    assert_eq!(
        *plain_slot_calls.borrow(),
        (1, 1),
        "the plaintext slots never saw a TLS record"
    );
}

#[test]
fn a_dead_handle_reports_an_unconnected_socket() {
    let socket = SslSocket::new();
    socket.destroy();
    assert!(!socket.is_alive());
    assert_eq!(socket.state(), SocketState::Unconnected);
    assert_eq!(socket.write(b"x"), 0);
    assert_eq!(socket.mode(), SslMode::UnencryptedMode);
    assert!(!socket.encrypted().is_connected());
    socket.connect_to_host_encrypted("localhost", 1);
    let server = SslServer::new();
    server.destroy();
    assert!(!server.listen(Ipv4Addr::LOCALHOST, 0));
    assert!(server.next_pending_connection().is_none());
}

#[test]
fn a_server_without_a_certificate_fails_the_handshake_on_both_sides() {
    let log = Log::default();
    // The default configuration has no local certificate: the server side cannot start.
    let server = server(SslConfiguration::default());
    echo(server, &log);
    let client = logged_client(trusting(), &log);
    let l = log.clone();
    client.disconnected().connect(move |_| {
        l.push("done");
        EventLoop::current().quit();
    });
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert!(exec_within(LIMIT), "timed out: {:?}", log.entries());
    assert!(
        log.contains("server.error:SslInvalidUserDataError"),
        "{:?}",
        log.entries()
    );
    assert!(!log.contains("client.encrypted"));
    assert!(!log.contains("server.pending"));
}
