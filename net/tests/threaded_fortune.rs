//! The Threaded Fortune Server, Qt-style: the server's thread accepts, hands each connection
//! (a `SocketDescriptor`, Qt's `incomingConnection(qintptr)`) to a worker thread through a
//! cross-thread connection whose slot was built on, and stays on, that worker; the worker
//! builds the socket on its own loop (Qt's `setSocketDescriptor`), writes a fortune and
//! closes. Real clients on loopback, plain TCP and TLS.

use std::cell::Cell;
use std::io::Read;
use std::net::{Ipv4Addr, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotnet_core::{EventLoop, Object, Signal, Thread, Timer};
use slotnet_net::ssl::test_certs;
use slotnet_net::{SocketDescriptor, SslServer, SslSocket, TcpServer, TcpSocket};

const FORTUNES: &[&str] = &[
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
];

thread_local! {
    /// Connections served by this (worker) thread.
    static SERVED: Cell<usize> = const { Cell::new(0) };
}

/// Built on a worker thread: the slot that serves one handed-off connection there. Its
/// state (`next`) and the sockets it creates are !Send and never leave the worker.
fn fortune_slot() -> impl Fn(SocketDescriptor) {
    let next = Rc::new(Cell::new(0usize));
    move |descriptor| {
        let socket = TcpSocket::from_descriptor(&descriptor).expect("a descriptor is taken once");
        let fortune = FORTUNES[next.get() % FORTUNES.len()];
        next.set(next.get() + 1);
        let thread = std::thread::current();
        socket
            .disconnected()
            .connect(move |_| socket.delete_later());
        socket.write(format!("{fortune} [{}]\n", thread.name().unwrap_or("?")).as_bytes());
        socket.disconnect_from_host();
        SERVED.with(|s| s.set(s.get() + 1));
    }
}

/// Runs the loop until `exit(0)`, with a generous hang guard.
fn exec_guarded() -> i32 {
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(99));
    guard.start_interval(Duration::from_secs(30));
    let code = EventLoop::current().exec();
    guard.destroy();
    code
}

/// Blocking clients on their own threads (Qt's Blocking Fortune Client): each reads to EOF;
/// the main loop is told when all are done.
fn spawn_clients(port: u16, count: usize) -> Arc<Mutex<Vec<String>>> {
    let results = Arc::new(Mutex::new(Vec::new()));
    let main_loop = EventLoop::current().handle();
    for _ in 0..count {
        let (results, main_loop) = (results.clone(), main_loop.clone());
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            let mut all = results.lock().unwrap();
            all.push(text);
            if all.len() == count {
                main_loop.quit().unwrap();
            }
        });
    }
    results
}

#[test]
fn threaded_fortune_server_serves_every_connection_on_a_worker_thread() {
    let workers: Vec<Thread> = (0..2)
        .map(|i| Thread::start_named(&format!("fortune-worker-{i}")).unwrap())
        .collect();
    let server = TcpServer::new();
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));

    // One hand-off signal per worker, each connected to a slot built on that worker.
    let owner = Object::new();
    let hand_offs: Vec<Signal<SocketDescriptor>> = workers
        .iter()
        .map(|worker| {
            let hand_off: Signal<SocketDescriptor> = owner.new_signal();
            let conn = hand_off.connect_cross_thread_local(worker.handle(), fortune_slot);
            assert!(conn.is_connected());
            hand_off
        })
        .collect();
    // incomingConnection: round-robin over the workers.
    let next = Cell::new(0usize);
    server.set_incoming_connection_handler(move |descriptor| {
        let i = next.get();
        next.set(i + 1);
        hand_offs[i % hand_offs.len()].emit(descriptor);
    });
    // new_connection is still emitted per connection, as in Qt; a unique connection guards
    // against counting twice if this setup ran again.
    let handed = Rc::new(Cell::new(0));
    let h = handed.clone();
    let count = move |_: &()| h.set(h.get() + 1);
    assert!(server
        .new_connection()
        .connect_unique("count hand-offs", count.clone())
        .is_some());
    assert!(server
        .new_connection()
        .connect_unique("count hand-offs", count)
        .is_none());

    let results = spawn_clients(server.server_port(), 8);
    assert_eq!(exec_guarded(), 0, "the clients did not all get a fortune");

    let results = results.lock().unwrap().clone();
    assert_eq!(results.len(), 8);
    for text in &results {
        let line = text
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{text:?}"));
        assert!(
            FORTUNES.iter().any(|f| line.starts_with(f)),
            "not a fortune: {line:?}"
        );
        assert!(
            line.ends_with("[fortune-worker-0]") || line.ends_with("[fortune-worker-1]"),
            "not served by a worker: {line:?}"
        );
    }
    // A blocking queued call reads each worker's own count.
    for worker in &workers {
        let served = worker.handle().invoke_blocking(|| SERVED.with(|s| s.get()));
        assert_eq!(served, Ok(4));
    }
    assert_eq!(
        SERVED.with(|s| s.get()),
        0,
        "nothing served on the server's thread"
    );
    assert_eq!(handed.get(), 8);
    assert!(!server.has_pending_connections());
    // Every worker socket deleted itself after closing (bounded wait: the close may still be
    // in flight on the worker when the client has seen EOF).
    for worker in &workers {
        let mut left = usize::MAX;
        for _ in 0..200 {
            left = worker
                .handle()
                .invoke_blocking(|| EventLoop::current().object_count())
                .unwrap();
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(left, 0, "sockets left on a worker");
    }
    for worker in workers {
        assert_eq!(worker.quit_and_join(), Some(0));
    }
}

#[test]
fn threaded_tls_fortune_server_hands_connections_off_before_the_handshake() {
    let worker = Thread::start_named("tls-fortune-worker").unwrap();
    let config = test_certs::pki().server.configuration();
    let server = SslServer::new();
    server.set_ssl_configuration(config.clone());
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));

    let hand_off: Signal<SocketDescriptor> = Signal::new();
    hand_off.connect_cross_thread_local(worker.handle(), move || {
        // On the worker: the configuration was sent here (it is Send); sockets stay here.
        move |descriptor: SocketDescriptor| {
            let tcp = TcpSocket::from_descriptor(&descriptor).unwrap();
            let socket = SslSocket::from_tcp_socket(tcp);
            socket.set_ssl_configuration(config.clone());
            socket.encrypted().connect(move |_| {
                let thread = std::thread::current();
                socket.write(format!("{} [{}]\n", FORTUNES[0], thread.name().unwrap()).as_bytes());
                socket.disconnect_from_host();
            });
            socket
                .disconnected()
                .connect(move |_| socket.delete_later());
            socket.start_server_encryption();
        }
    });
    server.set_incoming_connection_handler(move |descriptor| hand_off.emit(descriptor));

    // The client: an SslSocket on the main thread's loop, trusting the test CA.
    let client = SslSocket::new();
    client.set_ssl_configuration(test_certs::client_configuration());
    let text = Rc::new(std::cell::RefCell::new(Vec::new()));
    let encrypted = Rc::new(Cell::new(false));
    let (t, e) = (text.clone(), encrypted.clone());
    client.encrypted().connect(move |_| e.set(true));
    client
        .ready_read()
        .connect(move |_| t.borrow_mut().extend(client.read_all()));
    client
        .disconnected()
        .connect(|_| EventLoop::current().quit());
    client.connect_to_host_encrypted("localhost", server.server_port());
    assert_eq!(exec_guarded(), 0);

    assert!(encrypted.get());
    assert_eq!(
        String::from_utf8_lossy(&text.borrow()),
        format!("{} [tls-fortune-worker]\n", FORTUNES[0])
    );
    // Nothing was handshaken or queued on the server's own thread.
    assert!(!server.has_pending_connections());
    assert_eq!(server.handshaking_connections(), 0);
    assert_eq!(worker.quit_and_join(), Some(0));
}

#[test]
fn a_descriptor_is_taken_once_and_closed_if_nobody_takes_it() {
    let server = TcpServer::new();
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
    let outcomes = Rc::new(std::cell::RefCell::new(Vec::new()));
    let o = outcomes.clone();
    server.set_incoming_connection_handler(move |descriptor| {
        let first = descriptor.clone();
        let socket = TcpSocket::from_descriptor(&first);
        let again = TcpSocket::from_descriptor(&descriptor);
        o.borrow_mut().push((socket.is_ok(), again.is_err()));
        // Closing the socket we built, and never taking the next one, both end at the peer.
        if let Ok(socket) = socket {
            socket.abort();
            socket.delete_later();
        }
        EventLoop::current().quit();
    });
    let port = server.server_port();
    let peer = std::thread::spawn(move || {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 1];
        stream.read(&mut buf).map(|n| n == 0).unwrap_or(true)
    });
    assert_eq!(exec_guarded(), 0);
    assert_eq!(*outcomes.borrow(), [(true, true)]);
    assert!(peer.join().unwrap(), "the peer saw the connection closed");

    // A descriptor dropped untaken closes the connection instead of leaking it.
    server.set_incoming_connection_handler(|descriptor| {
        assert!(!descriptor.is_taken());
        drop(descriptor);
        EventLoop::current().quit();
    });
    let peer = std::thread::spawn(move || {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 1];
        stream.read(&mut buf).map(|n| n == 0).unwrap_or(false)
    });
    assert_eq!(exec_guarded(), 0);
    assert!(peer.join().unwrap(), "EOF at the peer");
}
