//! TcpSocket on real loopback connections.

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Object};
use slotnet_net::{AbstractSocket, SocketError, SocketOption, SocketState, TcpServer, TcpSocket};
use slotnet_testkit::pattern::pattern;
use slotnet_testkit::{exec_within, quit, Log};

const LIMIT: Duration = Duration::from_secs(10);

/// A server whose connections echo what they receive.
fn echo_server() -> TcpServer {
    let server = TcpServer::new();
    assert!(
        server.listen(Ipv4Addr::LOCALHOST, 0),
        "{}",
        server.error_string()
    );
    server.new_connection().connect(move |_| {
        while let Some(conn) = server.next_pending_connection() {
            conn.ready_read().connect(move |_| {
                conn.write(&conn.read_all());
            });
        }
    });
    server
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

fn log_states(socket: TcpSocket, log: &Log) {
    let l = log.clone();
    socket
        .state_changed()
        .connect(move |s| l.push(format!("state:{}", s.name())));
    let l = log.clone();
    socket
        .error_occurred()
        .connect(move |e| l.push(format!("error:{}:{}", e.name(), socket.state().name())));
    let l = log.clone();
    socket.host_found().connect(move |_| l.push("host_found"));
    let l = log.clone();
    socket.connected().connect(move |_| l.push("connected"));
    let l = log.clone();
    socket
        .disconnected()
        .connect(move |_| l.push("disconnected"));
}

#[test]
fn echo_roundtrip_with_signals_and_addresses() {
    let server = echo_server();
    let port = server.server_port();
    assert_ne!(port, 0);

    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    let payload = pattern(0, 300_000);
    let received = Rc::new(RefCell::new(Vec::new()));
    let written = Rc::new(Cell::new(0u64));
    let w = written.clone();
    client.bytes_written().connect(move |n| w.set(w.get() + n));
    let (r, expected) = (received.clone(), payload.len());
    client.ready_read().connect(move |_| {
        r.borrow_mut().extend(client.read_all());
        if r.borrow().len() >= expected {
            quit();
        }
    });

    client.connect_to_host("127.0.0.1", port);
    assert_eq!(client.state(), SocketState::HostLookup);
    // Written while looking up: queued, sent once connected.
    assert_eq!(client.write(&payload), payload.len());
    assert_eq!(client.bytes_to_write(), payload.len());
    assert!(exec_within(LIMIT));

    assert_eq!(*received.borrow(), payload);
    assert_eq!(written.get(), payload.len() as u64);
    assert_eq!(client.bytes_to_write(), 0);
    assert_eq!(
        log.entries(),
        [
            "state:HostLookupState",
            "state:ConnectingState",
            "host_found",
            "state:ConnectedState",
            "connected"
        ]
    );
    assert_eq!(client.state(), SocketState::Connected);
    assert_eq!(client.peer_port(), port);
    assert_eq!(client.peer_address(), Some(Ipv4Addr::LOCALHOST.into()));
    assert_eq!(client.peer_name(), "127.0.0.1");
    assert_ne!(client.local_port(), 0);
    assert_eq!(client.error(), None);
}

#[test]
fn localhost_is_connected_without_a_resolver() {
    let server = echo_server();
    let client = TcpSocket::new();
    client.connected().connect(move |_| {
        client.write(b"line one\nline two\n");
    });
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 18 {
            quit();
        }
    });
    client.connect_to_host("localhost", server.server_port());
    assert!(exec_within(LIMIT));
    assert!(client.can_read_line());
    let mut peeked = [0u8; 4];
    assert_eq!(client.peek(&mut peeked), 4);
    assert_eq!(&peeked, b"line");
    assert_eq!(client.read_line(0), b"line one\n");
    assert_eq!(client.read_line(4), b"line");
    assert_eq!(client.read_line(0), b" two\n");
    assert!(!client.can_read_line());
    assert_eq!(client.bytes_available(), 0);
}

#[test]
fn connection_refused_reports_in_qt_order() {
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    client.state_changed().connect(|s| {
        if *s == SocketState::Unconnected {
            quit()
        }
    });
    client.connect_to_host("127.0.0.1", closed_port());
    assert!(exec_within(LIMIT));
    assert_eq!(
        log.entries(),
        [
            "state:HostLookupState",
            "state:ConnectingState",
            "host_found",
            "error:ConnectionRefusedError:UnconnectedState",
            "state:UnconnectedState"
        ]
    );
    assert_eq!(client.error(), Some(SocketError::ConnectionRefusedError));
    assert!(!client.error_string().is_empty());
}

#[test]
fn every_resolved_address_is_tried() {
    // "localhost" gives 127.0.0.1 then ::1; a server on ::1 only is reached on the second.
    let server = TcpServer::new();
    if !server.listen(std::net::Ipv6Addr::LOCALHOST, 0) {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    }
    let port = server.server_port();
    // Make sure 127.0.0.1 refuses that port.
    if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
        eprintln!("port {port} is taken on 127.0.0.1; skipping");
        return;
    }
    let client = TcpSocket::new();
    client.connected().connect(|_| quit());
    client.error_occurred().connect(|_| quit());
    client.connect_to_host("localhost", port);
    assert!(exec_within(LIMIT));
    assert_eq!(client.state(), SocketState::Connected);
    assert_eq!(
        client.peer_address(),
        Some(std::net::Ipv6Addr::LOCALHOST.into())
    );
}

#[test]
fn host_not_found_for_invalid_domain() {
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    client.state_changed().connect(|s| {
        if *s == SocketState::Unconnected {
            quit()
        }
    });
    client.connect_to_host("something.invalid", 80);
    assert!(exec_within(LIMIT));
    assert_eq!(
        log.entries(),
        [
            "state:HostLookupState",
            "error:HostNotFoundError:UnconnectedState",
            "state:UnconnectedState"
        ]
    );
    assert_eq!(client.error(), Some(SocketError::HostNotFoundError));
}

#[test]
fn connect_timeout_against_a_full_backlog() {
    // A listener whose accept queue is full drops new SYNs (Linux), so a connect to it hangs:
    // a local stand-in for an unreachable host that sends nothing off the machine.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    // SAFETY: re-listening on our own descriptor with a backlog of 0 (one queued connection).
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let port = listener.local_addr().unwrap().port();
    let _filler = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    // A second queued connection may fit on some kernels; fill with non-blocking attempts.
    let _more: Vec<_> = (0..3)
        .filter_map(|_| mio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port).into()).ok())
        .collect();

    let client = TcpSocket::new();
    client.set_connect_timeout(Some(Duration::from_millis(300)));
    let log = Log::default();
    log_states(client, &log);
    client.state_changed().connect(|s| {
        if *s == SocketState::Unconnected {
            quit()
        }
    });
    client.connect_to_host("127.0.0.1", port);
    assert!(exec_within(LIMIT));
    assert_eq!(client.error(), Some(SocketError::SocketTimeoutError));
    assert_eq!(
        log.entries(),
        [
            "state:HostLookupState",
            "state:ConnectingState",
            "host_found",
            "error:SocketTimeoutError:UnconnectedState",
            "state:UnconnectedState"
        ]
    );
}

#[test]
fn remote_close_gives_data_then_error_then_disconnected() {
    let server = TcpServer::new();
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
    server.new_connection().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        conn.write(b"bye");
        conn.disconnect_from_host();
    });
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    let l = log.clone();
    client.ready_read().connect(move |_| l.push("ready_read"));
    let l = log.clone();
    client
        .read_channel_finished()
        .connect(move |_| l.push("read_channel_finished"));
    client.disconnected().connect(|_| quit());
    client.connect_to_host("127.0.0.1", server.server_port());
    assert!(exec_within(LIMIT));
    let entries = log.entries();
    let tail = &entries[entries.iter().position(|e| e == "connected").unwrap() + 1..];
    assert_eq!(
        tail,
        [
            "ready_read",
            "read_channel_finished",
            "error:RemoteHostClosedError:ConnectedState",
            "state:ClosingState",
            "state:UnconnectedState",
            "disconnected"
        ]
    );
    // Unread bytes stay readable after the disconnection, as in Qt.
    assert_eq!(client.state(), SocketState::Unconnected);
    assert_eq!(client.read_all(), b"bye");
    assert_eq!(client.write(b"late"), 0);
    assert_eq!(client.error(), Some(SocketError::OperationError));
}

/// A std peer thread that reads until EOF and returns the bytes received.
fn draining_peer() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        // A reset instead of EOF would show as a short result, which the test catches.
        let _ = stream.read_to_end(&mut all);
        all
    });
    (port, handle)
}

#[test]
fn disconnect_from_host_flushes_everything_first() {
    let (port, peer) = draining_peer();
    let payload = pattern(0, 16 << 20);
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    let data = payload.clone();
    client.connected().connect(move |_| {
        assert_eq!(client.write(&data), data.len());
        client.disconnect_from_host();
        // The kernel cannot have taken 16 MiB yet: the socket waits in Closing.
        assert_eq!(client.state(), SocketState::Closing);
        assert!(client.bytes_to_write() > 0);
    });
    client.disconnected().connect(|_| quit());
    client.connect_to_host("127.0.0.1", port);
    assert!(exec_within(LIMIT));
    let received = peer.join().unwrap();
    assert_eq!(received.len(), payload.len());
    assert!(received == payload);
    let entries = log.entries();
    assert_eq!(
        &entries[entries.len() - 3..],
        [
            "state:ClosingState",
            "state:UnconnectedState",
            "disconnected"
        ]
    );
    assert_eq!(client.error(), None);
}

#[test]
fn abort_drops_pending_writes_at_once() {
    let (port, peer) = draining_peer();
    let payload = pattern(0, 4 << 20);
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    client.connected().connect(move |_| {
        client.write(&payload);
        client.abort();
        // Synchronous: no Closing state, nothing left queued.
        assert_eq!(client.state(), SocketState::Unconnected);
        assert_eq!(client.bytes_to_write(), 0);
        quit();
    });
    client.connect_to_host("127.0.0.1", port);
    assert!(exec_within(LIMIT));
    assert!(peer.join().unwrap().len() < 4 << 20);
    let entries = log.entries();
    assert_eq!(
        &entries[entries.len() - 2..],
        ["state:UnconnectedState", "disconnected"]
    );
}

#[test]
fn destroying_a_socket_closes_it_and_handles_report_it() {
    let server = TcpServer::new();
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
    let parent = Object::new();
    let client = TcpSocket::with_parent(&parent);
    let server_side_closed = Rc::new(Cell::new(false));
    let closed = server_side_closed.clone();
    server.new_connection().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        let closed = closed.clone();
        conn.disconnected().connect(move |_| {
            closed.set(true);
            quit();
        });
    });
    client.connected().connect(move |_| {
        // Destroying the parent takes the socket with it, from inside its own slot.
        parent.destroy();
    });
    client.connect_to_host("127.0.0.1", server.server_port());
    assert!(exec_within(LIMIT));
    assert!(server_side_closed.get());
    assert!(!client.is_alive());
    assert_eq!(client.state(), SocketState::Unconnected);
    assert_eq!(client.write(b"x"), 0);
    assert_eq!(client.read_all(), b"");
    assert_eq!(client.peer_port(), 0);
    assert!(client.ready_read().is_closed());
    client.connect_to_host("127.0.0.1", 1);
    client.abort();
    assert!(!client.destroy());
    let dynamic: &dyn AbstractSocket = &client;
    assert_eq!(dynamic.state(), SocketState::Unconnected);
    assert!(!dynamic.as_object().is_alive());
}

#[test]
fn options_apply_before_and_after_connecting() {
    let server = echo_server();
    let client = TcpSocket::new();
    assert_eq!(client.socket_option(SocketOption::LowDelay), Some(1));
    assert!(client.set_keep_alive(true));
    client.connected().connect(|_| quit());
    client.connect_to_host("127.0.0.1", server.server_port());
    assert!(exec_within(LIMIT));
    assert_eq!(client.socket_option(SocketOption::LowDelay), Some(1));
    assert_eq!(client.socket_option(SocketOption::KeepAlive), Some(1));
    assert!(client.set_no_delay(false));
    assert_eq!(client.socket_option(SocketOption::LowDelay), Some(0));
    assert!(!client.set_socket_option(SocketOption::MulticastTtl, 1));
}

#[test]
fn adopted_std_stream_and_zero_copy_buffers() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut s, b"hello world").unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    let stream = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let socket = TcpSocket::from_std(stream).unwrap();
    assert_eq!(socket.state(), SocketState::Connected);
    let generic: Box<dyn AbstractSocket> = Box::new(socket);
    socket.ready_read().connect(move |_| {
        if socket.bytes_available() < 11 {
            return;
        }
        let mut consumed = Vec::new();
        socket.with_read_buffer(&mut |buf| {
            consumed.extend_from_slice(&buf.split_to(6));
        });
        assert_eq!(consumed, b"hello ");
        let mut dst = slotnet_net::BytesMut::new();
        assert_eq!(socket.read_buf(&mut dst), 5);
        assert_eq!(&dst[..], b"world");
        socket.write_bytes(slotnet_net::Bytes::from(vec![b'z'; 10_000]));
        socket.write_bytes(slotnet_net::Bytes::from_static(b"!"));
        socket.disconnect_from_host();
    });
    socket.disconnected().connect(|_| quit());
    assert!(exec_within(LIMIT));
    assert_eq!(generic.state(), SocketState::Unconnected);
    let back = peer.join().unwrap();
    assert_eq!(back.len(), 10_001);
    assert_eq!(back[10_000], b'!');
    let _ = EventLoop::current();
}

#[test]
fn a_socket_reconnects_after_an_error_and_after_a_disconnect() {
    let server = echo_server();
    let client = TcpSocket::new();
    client.error_occurred().connect(|_| quit());
    client.connect_to_host("127.0.0.1", closed_port());
    assert!(exec_within(LIMIT));
    assert_eq!(client.error(), Some(SocketError::ConnectionRefusedError));

    let round = Rc::new(Cell::new(0));
    let r = round.clone();
    client.connected().connect(move |_| {
        client.write(b"again");
    });
    client.ready_read().connect(move |_| {
        if client.bytes_available() == 5 {
            assert_eq!(client.read_all(), b"again");
            r.set(r.get() + 1);
            client.disconnect_from_host();
        }
    });
    let r = round.clone();
    client.disconnected().connect(move |_| {
        if r.get() < 2 {
            // Reconnecting from the disconnected slot itself.
            client.connect_to_host("127.0.0.1", server.server_port());
        } else {
            quit();
        }
    });
    client.connect_to_host("127.0.0.1", server.server_port());
    assert!(exec_within(LIMIT));
    assert_eq!(round.get(), 2);
    // A successful connect clears the previous error.
    assert_eq!(client.error(), None);
}

#[test]
fn a_reset_by_the_peer_is_remote_host_closed() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Reset only once the client has seen its connection (it writes a byte on
        // `connected`): a reset that beats the connect's completion fails the connect
        // instead, with no `disconnected`, which is not what this test is about.
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        // SO_LINGER with a zero timeout: close sends RST instead of FIN.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid linger struct and its size on our own descriptor.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(stream);
    });
    let client = TcpSocket::new();
    let log = Log::default();
    log_states(client, &log);
    client.connected().connect(move |_| {
        client.write(b"x");
    });
    client.disconnected().connect(|_| quit());
    client.connect_to_host("127.0.0.1", port);
    assert!(exec_within(LIMIT));
    peer.join().unwrap();
    let entries = log.entries();
    let tail = &entries[entries.iter().position(|e| e == "connected").unwrap() + 1..];
    assert_eq!(
        tail,
        [
            "error:RemoteHostClosedError:ConnectedState",
            "state:UnconnectedState",
            "disconnected"
        ]
    );
}
