//! TcpServer: listening, the pending queue limit, pausing.

use std::cell::Cell;
use std::net::{Ipv4Addr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::EventLoop;
use slotnet_net::{SocketError, SocketState, TcpServer};
use slotnet_testkit::{exec_within, quit, run_for};

const LIMIT: Duration = Duration::from_secs(10);
/// How long to let the loop run when checking that something does not happen.
const QUIET: Duration = Duration::from_millis(100);

fn listening() -> (TcpServer, u16) {
    let server = TcpServer::new();
    assert!(
        server.listen(Ipv4Addr::LOCALHOST, 0),
        "{}",
        server.error_string()
    );
    let port = server.server_port();
    (server, port)
}

fn count_new_connections(server: TcpServer) -> Rc<Cell<usize>> {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    server.new_connection().connect(move |_| c.set(c.get() + 1));
    count
}

/// Runs the loop until `count` reaches `n`.
fn wait_for_count(server: TcpServer, count: &Rc<Cell<usize>>, n: usize) {
    if count.get() >= n {
        return;
    }
    let c = count.clone();
    let conn = server.new_connection().connect(move |_| {
        if c.get() >= n {
            quit();
        }
    });
    assert!(
        exec_within(LIMIT),
        "only {} of {n} connections",
        count.get()
    );
    conn.disconnect();
}

#[test]
fn listen_reports_address_and_errors() {
    let (server, port) = listening();
    assert!(server.is_listening());
    assert_eq!(server.server_address(), Some(Ipv4Addr::LOCALHOST.into()));
    assert!(!server.listen(Ipv4Addr::LOCALHOST, 0));
    assert_eq!(server.server_error(), Some(SocketError::OperationError));

    let other = TcpServer::new();
    assert!(!other.listen(Ipv4Addr::LOCALHOST, port));
    assert_eq!(other.server_error(), Some(SocketError::AddressInUseError));
    assert!(!other.is_listening());
    assert_eq!(other.server_port(), 0);

    server.close();
    assert!(!server.is_listening());
    assert_eq!(server.server_port(), 0);
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    // The port is free again.
    assert!(other.listen(Ipv4Addr::LOCALHOST, port));
}

#[test]
fn max_pending_connections_stops_accepting_until_one_is_taken() {
    let (server, port) = listening();
    server.set_max_pending_connections(2);
    let count = count_new_connections(server);
    let clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap())
        .collect();
    wait_for_count(server, &count, 2);
    // The third connection waits in the kernel's backlog, not in the server.
    run_for(QUIET);
    assert_eq!(count.get(), 2);
    assert!(server.has_pending_connections());

    let first = server.next_pending_connection().unwrap();
    assert_eq!(first.state(), SocketState::Connected);
    assert_eq!(first.peer_port(), clients[0].local_addr().unwrap().port());
    wait_for_count(server, &count, 3);
    assert_eq!(count.get(), 3);

    let second = server.next_pending_connection().unwrap();
    let third = server.next_pending_connection().unwrap();
    assert_eq!(second.peer_port(), clients[1].local_addr().unwrap().port());
    assert_eq!(third.peer_port(), clients[2].local_addr().unwrap().port());
    assert!(server.next_pending_connection().is_none());
    assert!(!server.has_pending_connections());
}

#[test]
fn pause_and_resume_accepting() {
    let (server, port) = listening();
    let count = count_new_connections(server);
    server.pause_accepting();
    assert!(server.is_accepting_paused());
    let _client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    run_for(QUIET);
    assert_eq!(count.get(), 0);
    assert!(!server.has_pending_connections());

    server.resume_accepting();
    wait_for_count(server, &count, 1);
    assert!(server.next_pending_connection().is_some());
}

#[test]
fn pending_sockets_are_children_of_the_server() {
    let (server, port) = listening();
    let count = count_new_connections(server);
    let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    wait_for_count(server, &count, 1);
    let conn = server.next_pending_connection().unwrap();
    assert!(server.destroy());
    assert!(!conn.is_alive());
    assert!(!server.is_listening());
    assert!(server.new_connection().is_closed());
    // The accepted connection was closed with its parent.
    let mut buf = [0u8; 1];
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(std::io::Read::read(&mut client, &mut buf).unwrap(), 0);
    let _ = EventLoop::current();
}
