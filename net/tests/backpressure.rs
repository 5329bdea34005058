//! A slow consumer slows a fast peer down: the read buffer limit holds, nothing is lost.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::Timer;
use slotnet_net::{SocketState, TcpSocket};
use slotnet_testkit::pattern::{pattern, PatternChecker};
use slotnet_testkit::{exec_within, quit};

const TOTAL: u64 = 200 << 20;
const LIMIT: usize = 64 * 1024;
const READ_PER_TICK: usize = 16 * 1024;

/// A std thread that writes `TOTAL` pattern bytes as fast as the socket takes them (blocking
/// whenever the kernel buffers are full), then closes.
fn fast_peer() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // 251 * 1024 bytes: a whole number of pattern cycles, so every write starts at
        // phase 0 and one buffer serves the whole stream.
        let block = pattern(0, 251 * 1024);
        let mut sent = 0u64;
        while sent < TOTAL {
            let n = (TOTAL - sent).min(block.len() as u64) as usize;
            stream.write_all(&block[..n]).unwrap();
            sent += n as u64;
        }
    });
    (port, handle)
}

#[test]
fn slow_reader_bounds_its_buffer_and_receives_every_byte() {
    let (port, peer) = fast_peer();
    let socket = TcpSocket::new();
    socket.set_read_buffer_size(LIMIT);

    let checker = Rc::new(RefCell::new(PatternChecker::default()));
    let max_seen = Rc::new(Cell::new(0usize));
    let corrupt = Rc::new(Cell::new(false));
    let ticks = Rc::new(Cell::new(0u64));

    // The consumer: at most 16 KiB per loop iteration, from a zero-interval timer, never
    // from ready_read, so the socket is always the faster side.
    let timer = Timer::with_parent(&socket);
    let (c, m, bad, t) = (
        checker.clone(),
        max_seen.clone(),
        corrupt.clone(),
        ticks.clone(),
    );
    let chunk_ref = RefCell::new(vec![0u8; READ_PER_TICK]);
    timer.timeout().connect(move |_| {
        t.set(t.get() + 1);
        m.set(m.get().max(socket.bytes_available()));
        let mut buf = chunk_ref.borrow_mut();
        let n = socket.read(&mut buf);
        if !c.borrow_mut().check(&buf[..n]) {
            bad.set(true);
            quit();
        }
        if socket.state() == SocketState::Unconnected && socket.bytes_available() == 0 {
            quit();
        }
    });
    let m = max_seen.clone();
    socket
        .ready_read()
        .connect(move |_| m.set(m.get().max(socket.bytes_available())));
    socket.connected().connect(move |_| {
        timer.start_interval(Duration::ZERO);
    });
    socket.connect_to_host("127.0.0.1", port);
    assert!(exec_within(Duration::from_secs(60)));
    peer.join().unwrap();

    assert!(
        !corrupt.get(),
        "data mismatch at offset {}",
        checker.borrow().offset()
    );
    assert_eq!(checker.borrow().offset(), TOTAL);
    assert!(max_seen.get() <= LIMIT, "buffered {} bytes", max_seen.get());
    // The limit was actually reached (the peer was faster), so the pause/resume path ran.
    assert_eq!(max_seen.get(), LIMIT);
    // 200 MiB at 16 KiB a tick: the consumer, not the peer, set the pace.
    assert!(ticks.get() >= TOTAL / READ_PER_TICK as u64);
}
