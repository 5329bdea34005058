//! UdpSocket on real loopback datagrams.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;

use slotnet_net::{SocketError, SocketState, UdpSocket, MAX_DATAGRAM_SIZE};
use slotnet_testkit::{exec_within, quit, LIMIT};

fn bound() -> UdpSocket {
    let socket = UdpSocket::new();
    assert!(
        socket.bind(Ipv4Addr::LOCALHOST.into(), 0),
        "{}",
        socket.error_string()
    );
    assert_eq!(socket.state(), SocketState::Bound);
    socket
}

fn addr(socket: UdpSocket) -> SocketAddr {
    socket.local_socket_addr().expect("bound")
}

#[test]
fn datagrams_go_both_ways_with_the_senders_address() {
    let a = bound();
    let b = bound();
    type Seen = Vec<(String, Vec<u8>, SocketAddr)>;
    let got: Rc<RefCell<Seen>> = Rc::default();
    for (name, socket, reply) in [("b", b, Some(b"pong".as_slice())), ("a", a, None)] {
        let got = got.clone();
        socket.ready_read().connect(move |_| {
            while let Some((data, from)) = socket.receive_datagram() {
                got.borrow_mut().push((name.to_owned(), data, from));
                if let Some(reply) = reply {
                    assert_eq!(socket.write_datagram(reply, from), Some(reply.len()));
                } else {
                    quit();
                }
            }
        });
    }
    assert_eq!(a.write_datagram(b"ping", addr(b)), Some(4));
    assert!(exec_within(LIMIT), "no reply came back");
    let got = got.borrow();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], ("b".to_owned(), b"ping".to_vec(), addr(a)));
    assert_eq!(got[1], ("a".to_owned(), b"pong".to_vec(), addr(b)));
}

#[test]
fn pending_datagram_size_and_a_datagram_larger_than_the_buffer() {
    let receiver = bound();
    let sender = UdpSocket::new();
    let big: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    assert_eq!(sender.write_datagram(&big, addr(receiver)), Some(3000));
    assert_eq!(sender.state(), SocketState::Bound, "sending bound it");
    assert_eq!(sender.write_datagram(b"", addr(receiver)), Some(0));
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let log = seen.clone();
    receiver.ready_read().connect(move |_| {
        while receiver.has_pending_datagrams() {
            let size = receiver.pending_datagram_size().unwrap();
            let mut small = [0u8; 100];
            let (n, from) = receiver.read_datagram(&mut small).unwrap();
            assert_eq!(from.port(), sender.local_port());
            log.borrow_mut()
                .push(format!("size {size} read {n} {:?}", &small[..n.min(3)]));
        }
        if log.borrow().len() == 2 {
            quit();
        }
    });
    assert!(exec_within(LIMIT), "datagrams never arrived");
    assert_eq!(
        *seen.borrow(),
        ["size 3000 read 100 [0, 1, 2]", "size 0 read 0 []"],
        "the long datagram is cut to the buffer and its rest discarded"
    );
    assert!(!receiver.has_pending_datagrams());
    assert_eq!(receiver.pending_datagram_size(), None);
}

#[test]
fn ready_read_comes_again_for_datagrams_left_after_a_slot_read_one() {
    let receiver = bound();
    let sender = UdpSocket::new();
    for i in 0..3u8 {
        sender.write_datagram(&[i], addr(receiver));
    }
    let got: Rc<RefCell<Vec<u8>>> = Rc::default();
    let log = got.clone();
    receiver.ready_read().connect(move |_| {
        // One per emission, as a Qt slot that reads a single datagram does.
        let mut buf = [0u8; 8];
        if let Some((1, _)) = receiver.read_datagram(&mut buf) {
            log.borrow_mut().push(buf[0]);
        }
        if log.borrow().len() == 3 {
            quit();
        }
    });
    assert!(exec_within(LIMIT), "got only {:?}", got.borrow());
    assert_eq!(*got.borrow(), [0, 1, 2]);
}

#[test]
fn a_batch_read_takes_several_datagrams_in_one_call() {
    let receiver = bound();
    let sender = UdpSocket::new();
    for i in 0..5u8 {
        sender.write_datagram(&[i; 10], addr(receiver));
    }
    let got: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let log = got.clone();
    receiver.ready_read().connect(move |_| {
        let mut storage = [[0u8; 4]; 8];
        let mut bufs: Vec<&mut [u8]> = storage.iter_mut().map(|b| &mut b[..]).collect();
        let mut out = [(0, SocketAddr::from(([0, 0, 0, 0], 0))); 8];
        loop {
            let n = receiver.read_datagrams(&mut bufs, &mut out);
            if n == 0 {
                break;
            }
            for (i, (len, from)) in out[..n].iter().enumerate() {
                assert_eq!(from.port(), sender.local_port());
                log.borrow_mut().push(bufs[i][..*len].to_vec());
            }
        }
        if log.borrow().len() == 5 {
            quit();
        }
    });
    assert!(exec_within(LIMIT), "got only {:?}", got.borrow());
    let expected: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 4]).collect();
    assert_eq!(*got.borrow(), expected, "each cut to its 4-byte buffer");
}

#[test]
fn a_datagram_over_the_system_limit_is_datagram_too_large() {
    let receiver = bound();
    let sender = bound();
    let errors: Rc<RefCell<Vec<SocketError>>> = Rc::default();
    let log = errors.clone();
    sender
        .error_occurred()
        .connect(move |e| log.borrow_mut().push(*e));
    let huge = vec![0u8; MAX_DATAGRAM_SIZE + 1];
    assert_eq!(sender.write_datagram(&huge, addr(receiver)), None);
    assert_eq!(sender.error(), Some(SocketError::DatagramTooLargeError));
    assert_eq!(*errors.borrow(), [SocketError::DatagramTooLargeError]);
}

#[test]
fn a_closed_port_is_connection_refused_on_the_next_operation() {
    // A port that was bound and closed again: nothing listens there now.
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let socket = UdpSocket::new();
    assert!(socket.connect_to_addr(closed));
    assert_eq!(socket.state(), SocketState::Connected);
    let errors: Rc<RefCell<Vec<SocketError>>> = Rc::default();
    let log = errors.clone();
    socket.error_occurred().connect(move |e| {
        log.borrow_mut().push(*e);
        quit();
    });
    assert_eq!(
        socket.write(b"anyone?"),
        Some(7),
        "the send itself succeeds"
    );
    // The ICMP port-unreachable arrives as an error on the socket: reported by the loop, or
    // by the next send, whichever comes first.
    slotnet_core::Timer::single_shot(std::time::Duration::from_millis(200), move || {
        socket.write(b"again?");
    });
    assert!(exec_within(LIMIT), "the refusal was never reported");
    assert_eq!(errors.borrow()[0], SocketError::ConnectionRefusedError);
    assert_eq!(socket.error(), Some(SocketError::ConnectionRefusedError));
}

#[test]
fn write_on_an_unconnected_socket_is_an_operation_error_and_bind_twice_fails() {
    let socket = bound();
    assert_eq!(socket.write(b"x"), None);
    assert_eq!(socket.error(), Some(SocketError::OperationError));
    assert!(!socket.bind(Ipv4Addr::LOCALHOST.into(), 0));
    let taken = bound();
    let other = UdpSocket::new();
    assert!(!other.bind_addr(addr(taken)));
    assert_eq!(other.error(), Some(SocketError::AddressInUseError));
    socket.close();
    assert_eq!(socket.state(), SocketState::Unconnected);
    assert_eq!(socket.local_port(), 0);
}
