//! The blocking waits (Qt's `waitFor*`) on loopback: the command-line idiom that never runs
//! the loop, both ends of a local connection on one thread, TLS with the server on another
//! thread, timeouts, and what is (not) delivered while a wait blocks the loop.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use slotnet_core::EventLoop;
use slotnet_net::ssl::test_certs;
use slotnet_net::{
    AbstractSocket, LocalServer, LocalSocket, SocketError, SocketState, SslServer, SslSocket,
    TcpServer, TcpSocket,
};

/// Generous: only a hang guard.
const WAIT: i32 = 20_000;

/// A std server thread that echoes one connection until it closes.
fn std_echo_server() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    });
    port
}

/// A loopback port bound by a socket that does not listen: connecting is refused, and no
/// other test can take the port meanwhile (as it could after dropping a listener).
fn bound_not_listening() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns; `addr` outlives them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        let mut len = len;
        assert_eq!(
            libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len),
            0
        );
        (owned, u16::from_be(addr.sin_port))
    }
}

/// Reads from `socket` until `len` bytes came, waiting with `wait_for_ready_read` when
/// nothing is buffered (Qt's idiom: data may have come with an earlier wait).
fn read_exactly(socket: &dyn AbstractSocket, len: usize) -> Vec<u8> {
    let mut got = socket.read_all();
    while got.len() < len {
        assert!(
            socket.wait_for_ready_read(WAIT),
            "no data: {:?} {}",
            socket.error(),
            socket.error_string()
        );
        got.extend(socket.read_all());
    }
    got
}

#[test]
fn tcp_client_without_running_the_loop() {
    let port = std_echo_server();
    let socket = TcpSocket::new();
    let connected = Rc::new(Cell::new(0));
    let c = connected.clone();
    socket.connected().connect(move |_| c.set(c.get() + 1));
    // A name, so the lookup happens inside the wait, as in Qt.
    socket.connect_to_host("localhost", port);
    assert_eq!(socket.state(), SocketState::HostLookup);
    assert!(socket.wait_for_connected(WAIT), "{}", socket.error_string());
    assert_eq!(socket.state(), SocketState::Connected);
    assert_eq!(
        connected.get(),
        1,
        "connected is emitted from inside the wait"
    );
    assert!(socket.wait_for_connected(WAIT), "already connected: true");

    assert_eq!(socket.write(b"ping\n"), 5);
    assert!(socket.wait_for_bytes_written(WAIT));
    assert!(
        !socket.wait_for_bytes_written(WAIT),
        "nothing queued: false at once, as Qt"
    );
    assert_eq!(read_exactly(&socket, 5), b"ping\n");

    socket.disconnect_from_host();
    assert_eq!(socket.state(), SocketState::Unconnected);
    assert!(!socket.wait_for_disconnected(WAIT), "already unconnected");
    assert_eq!(EventLoop::current().loop_level(), 0);
}

#[test]
fn wait_for_disconnected_sees_the_peer_close() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"bye").unwrap();
    });
    let socket = TcpSocket::new();
    socket.connect_to_host("127.0.0.1", port);
    let disconnected = Rc::new(Cell::new(false));
    let d = disconnected.clone();
    socket.disconnected().connect(move |_| d.set(true));
    assert!(socket.wait_for_disconnected(WAIT));
    peer.join().unwrap();
    assert!(disconnected.get());
    assert_eq!(socket.state(), SocketState::Unconnected);
    assert_eq!(socket.read_all(), b"bye", "unread bytes stay readable");
}

#[test]
fn refused_connect_returns_false_with_the_error() {
    let (_reserved, port) = bound_not_listening();
    let socket = TcpSocket::new();
    socket.connect_to_host("127.0.0.1", port);
    assert!(!socket.wait_for_connected(WAIT));
    assert_eq!(socket.error(), Some(SocketError::ConnectionRefusedError));
    assert_eq!(socket.state(), SocketState::Unconnected);
    assert!(
        !socket.wait_for_ready_read(WAIT),
        "unconnected: false at once"
    );
}

#[test]
fn ready_read_timeout_reports_socket_timeout_and_keeps_the_connection() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = TcpSocket::new();
    socket.connect_to_host("127.0.0.1", port);
    assert!(socket.wait_for_connected(WAIT));
    let (_silent_peer, _) = listener.accept().unwrap();
    let errors = Rc::new(Cell::new(None));
    let e = errors.clone();
    socket
        .error_occurred()
        .connect(move |err| e.set(Some(*err)));
    assert!(!socket.wait_for_ready_read(100));
    assert_eq!(socket.error(), Some(SocketError::SocketTimeoutError));
    assert_eq!(socket.error_string(), "Socket operation timed out");
    assert_eq!(errors.get(), Some(SocketError::SocketTimeoutError));
    assert_eq!(
        socket.state(),
        SocketState::Connected,
        "as Qt: a timeout does not close"
    );
}

#[test]
fn flush_sends_before_the_thread_blocks() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = TcpSocket::new();
    socket.connect_to_host("127.0.0.1", port);
    assert!(socket.wait_for_connected(WAIT));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    // `write` only queues; `flush` hands the bytes to the kernel now, so a blocking call
    // right after (here: a blocking read on this very thread) sees them.
    socket.write(b"hello\n");
    assert_eq!(socket.bytes_to_write(), 6);
    assert!(socket.flush());
    assert_eq!(socket.bytes_to_write(), 0);
    let mut buf = [0u8; 6];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello\n");

    // The same through wait_for_bytes_written.
    socket.write(b"again\n");
    assert!(socket.wait_for_bytes_written(WAIT));
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"again\n");
}

#[test]
fn a_wait_serves_only_its_socket() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let waited = TcpSocket::new();
    let other = TcpSocket::new();
    waited.connect_to_host("127.0.0.1", port);
    assert!(waited.wait_for_connected(WAIT));
    let (mut waited_peer, _) = listener.accept().unwrap();
    other.connect_to_host("127.0.0.1", port);
    assert!(other.wait_for_connected(WAIT));
    let (mut other_peer, _) = listener.accept().unwrap();

    let other_read = Rc::new(Cell::new(false));
    let o = other_read.clone();
    other.ready_read().connect(move |_| o.set(true));
    let posted = Rc::new(Cell::new(false));
    let p = posted.clone();
    EventLoop::current().post(move || p.set(true));

    other_peer.write_all(b"for the other").unwrap();
    waited_peer.write_all(b"for the waited").unwrap();
    let got = read_exactly(&waited, 14);
    assert_eq!(got, b"for the waited");
    assert!(!posted.get(), "posted calls wait for the loop");
    assert!(!other_read.get(), "other sockets wait for the loop");

    // Back in the loop, everything else is delivered.
    let lp = EventLoop::current();
    for _ in 0..200 {
        if posted.get() && other_read.get() {
            break;
        }
        lp.process_events(Some(Duration::from_millis(50)));
    }
    assert!(posted.get() && other_read.get());
    assert_eq!(other.read_all(), b"for the other");
}

#[test]
fn tcp_server_waits_for_a_connection() {
    let server = TcpServer::new();
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
    assert!(
        !server.wait_for_new_connection(0),
        "nobody connected: false at once"
    );
    assert_eq!(server.server_error(), Some(SocketError::SocketTimeoutError));
    let port = server.server_port();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        s.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    assert!(server.wait_for_new_connection(WAIT));
    let conn = server
        .next_pending_connection()
        .expect("a pending connection");
    assert_eq!(read_exactly(&conn, 2), b"hi");
    conn.write(b"ho");
    assert!(conn.wait_for_bytes_written(WAIT));
    assert_eq!(&client.join().unwrap(), b"ho");
}

#[test]
fn local_socket_and_server_on_one_thread() {
    let name = format!("slotnet-wait-{}", std::process::id());
    let server = LocalServer::new();
    assert!(server.listen(&name), "{}", server.error_string());
    let client = LocalSocket::new();
    client.connect_to_server(&name);
    assert_eq!(client.state(), SocketState::Connecting);
    assert!(client.wait_for_connected(WAIT), "{}", client.error_string());
    assert!(server.wait_for_new_connection(WAIT));
    let conn = server.next_pending_connection().unwrap();

    client.write(b"request");
    assert!(client.wait_for_bytes_written(WAIT));
    assert_eq!(read_exactly(&conn, 7), b"request");
    conn.write(b"response");
    conn.disconnect_from_host();
    assert!(conn.state() == SocketState::Unconnected || conn.wait_for_disconnected(WAIT));
    assert!(client.wait_for_disconnected(WAIT));
    assert_eq!(client.read_all(), b"response");

    // A missing server: false, with the error.
    let lost = LocalSocket::new();
    lost.connect_to_server(&format!("{name}-absent"));
    assert!(!lost.wait_for_connected(WAIT));
    assert_eq!(lost.error(), Some(SocketError::HostNotFoundError));
}

#[test]
fn tls_both_sides_with_blocking_waits() {
    let (port_tx, port_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let server = SslServer::new();
        server.set_ssl_configuration(test_certs::pki().server.configuration());
        assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
        port_tx.send(server.server_port()).unwrap();
        assert!(
            server.wait_for_new_connection(WAIT),
            "{}",
            server.error_string()
        );
        let conn = server
            .next_pending_connection()
            .expect("a handshaken connection");
        assert!(conn.is_encrypted());
        let request = read_exactly(&conn, 4);
        conn.write(&request.to_ascii_uppercase());
        assert!(conn.wait_for_bytes_written(WAIT));
        assert!(conn.wait_for_disconnected(WAIT));
    });
    let port = port_rx.recv().unwrap();

    let socket = SslSocket::new();
    socket.set_ssl_configuration(test_certs::client_configuration());
    let encrypted = Rc::new(Cell::new(false));
    let e = encrypted.clone();
    socket.encrypted().connect(move |_| e.set(true));
    socket.connect_to_host_encrypted("127.0.0.1", port);
    assert!(socket.wait_for_encrypted(WAIT), "{}", socket.error_string());
    assert!(encrypted.get() && socket.is_encrypted());
    socket.write(b"ping");
    assert!(socket.wait_for_bytes_written(WAIT));
    assert_eq!(read_exactly(&socket, 4), b"PING");
    socket.disconnect_from_host();
    assert!(socket.state() == SocketState::Unconnected || socket.wait_for_disconnected(WAIT));
    server_thread.join().unwrap();
}

#[test]
fn tls_wait_for_encrypted_fails_on_an_untrusted_server() {
    let (port_tx, port_rx) = mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        let server = SslServer::new();
        server.set_ssl_configuration(test_certs::pki().self_signed.configuration());
        assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
        port_tx.send(server.server_port()).unwrap();
        // The client gives up: no connection completes.
        assert!(!server.wait_for_new_connection(3_000));
    });
    let port = port_rx.recv().unwrap();
    let socket = SslSocket::new();
    socket.set_ssl_configuration(test_certs::client_configuration());
    let errors = Rc::new(Cell::new(0));
    let e = errors.clone();
    socket.ssl_errors().connect(move |_| e.set(e.get() + 1));
    socket.connect_to_host_encrypted("127.0.0.1", port);
    assert!(!socket.wait_for_encrypted(WAIT));
    assert_eq!(
        errors.get(),
        1,
        "ssl_errors is emitted from inside the wait"
    );
    assert_eq!(socket.error(), Some(SocketError::SslHandshakeFailedError));
    assert!(!socket.wait_for_encrypted(WAIT), "unencrypted afterwards");
    server_thread.join().unwrap();
}

#[test]
fn a_connect_timeout_of_duration_max_does_not_overflow_the_wait() {
    let port = std_echo_server();
    let socket = TcpSocket::new();
    socket.set_connect_timeout(Some(Duration::MAX));
    socket.connect_to_host("127.0.0.1", port);
    assert!(socket.wait_for_connected(WAIT), "{}", socket.error_string());
    assert_eq!(socket.state(), SocketState::Connected);
}
