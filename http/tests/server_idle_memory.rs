//! What an idle keep-alive HTTP/1.1 connection costs the server in memory (issue 20): after
//! one request each, 200 connections left open hold less than 5 KiB of heap each. The
//! socket's read buffer (8 KiB, the largest part before) is allocated when bytes come and
//! given back once they are read, so an idle connection keeps its objects (socket, timer,
//! connection state, signal connections) and a few small buffers (about 4.3 KB in all).
//!
//! Counted by a global allocator that tracks the bytes allocated and not yet freed, so the
//! figure is the heap, not the resident memory (which depends on the allocator's caching).
//! The only test of its binary: nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;

use slotnet_testkit::server::TestServer;

/// Bytes allocated and not yet freed, by every thread of the process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call goes to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Idle connections held at once.
const CONNECTIONS: usize = 200;
/// An idle connection holding an 8 KiB read buffer (12.8 KB in all) fails this.
const MAX_PER_CONNECTION: isize = 5 * 1024;

/// Sends `GET /` and reads the whole answer (`hello`, the standard route), without a
/// buffered reader: the client keeps no heap buffer per connection.
fn get_hello(s: &mut TcpStream) {
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    let mut got = 0;
    while !buf[..got].ends_with(b"\r\n\r\nhello") {
        let n = s.read(&mut buf[got..]).expect("the answer arrives");
        assert!(n > 0, "the server closed a keep-alive connection");
        got += n;
    }
    let head = String::from_utf8_lossy(&buf[..got]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// Waits until the server's loop has run everything due before now (the work after each
/// answer's write runs in the same loop callback as the write itself).
fn settle(server: &TestServer) {
    let (tx, rx) = mpsc::channel();
    server.run(move || tx.send(()).unwrap());
    rx.recv().unwrap();
}

#[test]
fn an_idle_keep_alive_connection_holds_no_read_buffer_and_under_5_kib_of_heap() {
    let server = TestServer::standard();
    // Everything allocated once per server or per process (the first connection's lazy
    // set-up, the connection table's first growth) happens before counting.
    let mut warm: Vec<TcpStream> = (0..8).map(|_| server.connect()).collect();
    for s in &mut warm {
        get_hello(s);
    }
    let mut idle = Vec::with_capacity(CONNECTIONS);
    settle(&server);
    let before = LIVE.load(Ordering::SeqCst);
    for _ in 0..CONNECTIONS {
        let mut s = server.connect();
        get_hello(&mut s);
        idle.push(s);
    }
    settle(&server);
    let after = LIVE.load(Ordering::SeqCst);
    let per_connection = (after - before) / CONNECTIONS as isize;
    eprintln!("{CONNECTIONS} idle connections: {per_connection} bytes of heap each");
    assert!(
        per_connection <= MAX_PER_CONNECTION,
        "an idle keep-alive connection holds {per_connection} bytes of heap (at most {MAX_PER_CONNECTION} wanted)"
    );
    // They are still served: one more request on each of a few.
    for s in idle.iter_mut().take(5) {
        get_hello(s);
    }
}
