//! QUIC connections on the loop: a slotnet client and a slotnet server over loopback UDP,
//! with the test PKI's certificates.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;

use slotnet_net::quic::{QuicConnection, QuicEndpoint, QuicError, StreamRead, ALPN_H3};
use slotnet_net::ssl::test_certs::{client_configuration, pki, TestIdentity};
use slotnet_net::ssl::SslError;
use slotnet_testkit::{exec_within, quit, LIMIT};

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// A server whose bidirectional streams answer with what they received, upper-cased, once
/// the client finished its side.
fn upper_case_server(identity: &TestIdentity) -> QuicEndpoint {
    let server = QuicEndpoint::listen(loopback(), &identity.configuration(), &[ALPN_H3]).unwrap();
    server.new_connection().connect(move |_| {
        while let Some(conn) = server.next_pending_connection() {
            let received: Rc<RefCell<Vec<u8>>> = Rc::default();
            conn.ready_read().connect(move |&stream| loop {
                match conn.read(stream, usize::MAX) {
                    StreamRead::Data(bytes) => received.borrow_mut().extend_from_slice(&bytes),
                    StreamRead::Finished => {
                        let answer = received.borrow().to_ascii_uppercase();
                        write_all(conn, stream, answer);
                        break;
                    }
                    _ => break,
                }
            });
        }
    });
    server
}

/// Writes `data` to the stream as flow control allows, then finishes it.
fn write_all(conn: QuicConnection, stream: u64, data: Vec<u8>) {
    let rest = Rc::new(RefCell::new(data));
    let push = {
        let rest = rest.clone();
        move || {
            let mut rest = rest.borrow_mut();
            while !rest.is_empty() {
                let n = conn.write(stream, &rest).expect("the stream was stopped");
                if n == 0 {
                    return;
                }
                rest.drain(..n);
            }
            conn.finish(stream).unwrap();
        }
    };
    push();
    conn.stream_writable().connect(move |&s| {
        if s == stream && !rest.borrow().is_empty() {
            push();
        }
    });
}

/// Collects a stream until its end, then quits the loop.
fn read_to_end(conn: QuicConnection, stream: u64, into: Rc<RefCell<Vec<u8>>>) {
    conn.ready_read().connect(move |&s| {
        if s != stream {
            return;
        }
        loop {
            match conn.read(stream, 64 * 1024) {
                StreamRead::Data(bytes) => into.borrow_mut().extend_from_slice(&bytes),
                StreamRead::Finished => {
                    quit();
                    break;
                }
                // Closed: read to its end already (a late event).
                StreamRead::Blocked | StreamRead::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
        }
    });
}

fn client_to(server: QuicEndpoint) -> QuicConnection {
    let client = QuicEndpoint::bind(loopback()).unwrap();
    client
        .connect(
            &client_configuration(),
            server.local_socket_addr().unwrap(),
            "localhost",
            &[ALPN_H3],
        )
        .unwrap()
}

#[test]
fn a_client_and_a_server_exchange_a_bidirectional_stream() {
    let server = upper_case_server(&pki().server);
    let conn = client_to(server);
    let answer: Rc<RefCell<Vec<u8>>> = Rc::default();
    let answer2 = answer.clone();
    conn.connected().connect(move |_| {
        let stream = conn.open_bi().expect("a stream");
        write_all(conn, stream, b"hello over quic".to_vec());
        read_to_end(conn, stream, answer2.clone());
    });
    conn.error_occurred().connect(|e| panic!("{e}"));
    assert!(exec_within(LIMIT), "no answer");
    assert_eq!(*answer.borrow(), b"HELLO OVER QUIC");
    assert_eq!(conn.negotiated_protocol().as_deref(), Some(ALPN_H3));
    assert!(conn.ssl_handshake_errors().is_empty());
    assert!(conn.is_connected());
}

#[test]
fn four_mebibytes_each_way_go_through_flow_control() {
    let server = upper_case_server(&pki().server);
    let conn = client_to(server);
    let body: Vec<u8> = (0..4 << 20).map(|i| b"abcdefghij"[i % 10]).collect();
    let expected = body.to_ascii_uppercase();
    let answer: Rc<RefCell<Vec<u8>>> = Rc::default();
    let answer2 = answer.clone();
    conn.connected().connect(move |_| {
        let stream = conn.open_bi().unwrap();
        write_all(conn, stream, body.clone());
        read_to_end(conn, stream, answer2.clone());
    });
    assert!(exec_within(LIMIT), "transfer did not finish");
    assert_eq!(answer.borrow().len(), expected.len());
    assert!(*answer.borrow() == expected);
}

#[test]
fn a_certificate_error_is_reported_and_fails_the_handshake() {
    let server = upper_case_server(&pki().self_signed);
    let conn = client_to(server);
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let log = seen.clone();
    conn.ssl_errors()
        .connect(move |errors| log.borrow_mut().push(SslError::join_names(errors)));
    let log = seen.clone();
    conn.connected()
        .connect(move |_| log.borrow_mut().push("connected".into()));
    let log = seen.clone();
    conn.error_occurred().connect(move |e| {
        assert!(matches!(e, QuicError::HandshakeFailed(_)), "{e:?}");
        log.borrow_mut().push("error".into());
    });
    let log = seen.clone();
    conn.disconnected().connect(move |_| {
        log.borrow_mut().push("disconnected".into());
        quit();
    });
    assert!(exec_within(LIMIT), "the handshake never ended");
    assert_eq!(
        *seen.borrow(),
        ["SelfSignedCertificate", "error", "disconnected"]
    );
    assert_eq!(
        SslError::join_names(&conn.ssl_handshake_errors()),
        "SelfSignedCertificate"
    );
    assert!(conn.is_closed());
}

#[test]
fn ignoring_the_certificate_errors_from_the_slot_lets_the_handshake_go_on() {
    let server = upper_case_server(&pki().wrong_host);
    let conn = client_to(server);
    conn.ssl_errors().connect(move |errors| {
        assert_eq!(SslError::join_names(errors), "HostNameMismatch");
        conn.ignore_ssl_errors();
    });
    let answer: Rc<RefCell<Vec<u8>>> = Rc::default();
    let answer2 = answer.clone();
    conn.connected().connect(move |_| {
        let stream = conn.open_bi().unwrap();
        write_all(conn, stream, b"still".to_vec());
        read_to_end(conn, stream, answer2.clone());
    });
    assert!(exec_within(LIMIT), "no answer");
    assert_eq!(*answer.borrow(), b"STILL");
    assert_eq!(
        SslError::join_names(&conn.ssl_handshake_errors()),
        "HostNameMismatch"
    );
}

#[test]
fn closing_tells_the_peer_its_code_and_reason() {
    let server =
        QuicEndpoint::listen(loopback(), &pki().server.configuration(), &[ALPN_H3]).unwrap();
    let errors: Rc<RefCell<Vec<QuicError>>> = Rc::default();
    let log = errors.clone();
    server.new_connection().connect(move |_| {
        let conn = server.next_pending_connection().unwrap();
        let log = log.clone();
        conn.error_occurred()
            .connect(move |e| log.borrow_mut().push(e.clone()));
        conn.disconnected().connect(|_| quit());
    });
    let conn = client_to(server);
    conn.connected()
        .connect(move |_| conn.close(0x100, b"done"));
    assert!(exec_within(LIMIT), "the server never saw the close");
    assert_eq!(
        *errors.borrow(),
        [QuicError::ClosedByPeer {
            code: 0x100,
            reason: "done".into()
        }]
    );
}
