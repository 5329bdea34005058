//! LocalSocket and LocalServer on Unix domain sockets.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use slotnet_net::{AbstractSocket, LocalServer, LocalSocket, SocketError, SocketState};
use slotnet_testkit::pattern::pattern;
use slotnet_testkit::{exec_within, quit, Log};

const LIMIT: Duration = Duration::from_secs(10);

/// A fresh socket path for one test.
fn socket_path(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slotnet-local-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("server.sock")
}

/// Echoes through the generic trait, as protocol code would.
fn echo(conn: Rc<dyn AbstractSocket>) {
    let c = conn.clone();
    conn.ready_read().connect(move |_| {
        c.write(&c.read_all());
    });
}

#[test]
fn roundtrip_through_a_local_server() {
    let path = socket_path("roundtrip");
    let name = path.to_str().unwrap().to_owned();
    let server = LocalServer::new();
    assert!(server.listen(&name), "{}", server.error_string());
    assert_eq!(server.full_server_name(), Some(path.clone()));
    server.new_connection().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        echo(Rc::new(conn));
    });

    let client = LocalSocket::new();
    let log = Log::default();
    let l = log.clone();
    client.state_changed().connect(move |s| l.push(s.name()));
    let payload = pattern(7, 1 << 20);
    let received = Rc::new(RefCell::new(Vec::new()));
    let (r, n) = (received.clone(), payload.len());
    client.ready_read().connect(move |_| {
        r.borrow_mut().extend(client.read_all());
        if r.borrow().len() == n {
            client.disconnect_from_host();
        }
    });
    client.disconnected().connect(|_| quit());
    client.connect_to_server(&name);
    client.write(&payload);
    assert!(exec_within(LIMIT));
    assert!(*received.borrow() == payload);
    assert_eq!(
        log.entries(),
        [
            "ConnectingState",
            "ConnectedState",
            "ClosingState",
            "UnconnectedState"
        ]
    );
    assert_eq!(client.server_name(), name);

    server.close();
    assert!(!path.exists(), "the socket file is removed on close");
}

#[test]
fn missing_server_is_host_not_found() {
    let path = socket_path("missing");
    let client = LocalSocket::new();
    let log = Log::default();
    let l = log.clone();
    client.state_changed().connect(move |s| l.push(s.name()));
    let l = log.clone();
    client.error_occurred().connect(move |e| l.push(e.name()));
    client.state_changed().connect(|s| {
        if *s == SocketState::Unconnected {
            quit()
        }
    });
    client.connect_to_server(path.to_str().unwrap());
    assert!(exec_within(LIMIT));
    assert_eq!(
        log.entries(),
        ["ConnectingState", "HostNotFoundError", "UnconnectedState"]
    );
    assert_eq!(client.error(), Some(SocketError::HostNotFoundError));
}

/// Connects to `name` and returns (error, state seen inside the error slot, error string).
fn failed_connect(name: &str) -> (Option<SocketError>, SocketState, String) {
    let client = LocalSocket::new();
    let seen = std::rc::Rc::new(std::cell::Cell::new(SocketState::Unconnected));
    let s = seen.clone();
    client
        .error_occurred()
        .connect(move |_| s.set(client.state()));
    client.state_changed().connect(|s| {
        if *s == SocketState::Unconnected {
            quit()
        }
    });
    client.connect_to_server(name);
    assert!(exec_within(LIMIT));
    assert_eq!(client.state(), SocketState::Unconnected);
    (client.error(), seen.get(), client.error_string())
}

#[test]
fn connect_errors_come_while_connecting_with_qts_texts() {
    let missing = socket_path("missing-texts");
    assert_eq!(
        failed_connect(missing.to_str().unwrap()),
        (
            Some(SocketError::HostNotFoundError),
            SocketState::Connecting,
            "QLocalSocket::connectToServer: Invalid name".to_owned()
        )
    );
    // A socket file nobody accepts on (a crashed server's leftover).
    let stale = socket_path("stale-texts");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert_eq!(
        failed_connect(stale.to_str().unwrap()),
        (
            Some(SocketError::ConnectionRefusedError),
            SocketState::Connecting,
            "QLocalSocket::connectToServer: Connection refused".to_owned()
        )
    );
    let _ = std::fs::remove_file(&stale);
    assert_eq!(
        failed_connect(""),
        (
            Some(SocketError::HostNotFoundError),
            SocketState::Connecting,
            "QLocalSocket::connectToServer: Invalid name".to_owned()
        )
    );
}

#[test]
fn stale_socket_files_are_replaced_but_live_ones_and_other_files_are_not() {
    let path = socket_path("stale");
    let name = path.to_str().unwrap();
    // A server that went away without cleaning up leaves its socket file behind.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = LocalServer::new();
    assert!(server.listen(name), "{}", server.error_string());

    // A second server on the live path is refused.
    let second = LocalServer::new();
    assert!(!second.listen(name));
    assert_eq!(second.server_error(), Some(SocketError::AddressInUseError));
    assert!(server.is_listening());

    // A regular file is never deleted.
    let file = path.with_file_name("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let third = LocalServer::new();
    assert!(!third.listen(file.to_str().unwrap()));
    assert_eq!(third.server_error(), Some(SocketError::AddressInUseError));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    // The live server still accepts.
    let client = LocalSocket::new();
    client.connected().connect(|_| quit());
    client.connect_to_server(name);
    assert!(exec_within(LIMIT));
    assert_eq!(client.state(), SocketState::Connected);
    server.destroy();
    assert!(!path.exists());
}

#[test]
fn remote_close_on_a_local_socket() {
    let path = socket_path("remote-close");
    let name = path.to_str().unwrap().to_owned();
    let server = LocalServer::new();
    assert!(server.listen(&name));
    server.new_connection().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        conn.write(b"done");
        conn.disconnect_from_host();
    });
    let client = LocalSocket::new();
    let errors = Log::default();
    let e = errors.clone();
    client
        .error_occurred()
        .connect(move |err| e.push(err.name()));
    client.disconnected().connect(|_| quit());
    client.connect_to_server(&name);
    assert!(exec_within(LIMIT));
    assert_eq!(errors.entries(), ["RemoteHostClosedError"]);
    assert_eq!(client.read_all(), b"done");
}
