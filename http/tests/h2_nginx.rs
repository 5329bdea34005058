//! The access manager against a real nginx speaking HTTP/2 over TLS on loopback (Debian
//! package `nginx`; `.ci/run` installs it, elsewhere the tests are skipped with a note):
//! ALPN, multiplexing on one connection, flow control with a slow reader, errors, the
//! HTTP/1.1 fallback and certificate errors, against a server slotnet did not write.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::{SslError, SslErrorKind};
use slotnet_testkit::nginx::{pattern, small_body, Nginx, BIG_SIZE, HELLO, SMALL_FILES};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

fn http2_was_used(reply: NetworkReply) -> Option<bool> {
    reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
}

/// Opens the manager's HTTP/2 connection to nginx with one request, so that requests made
/// afterwards find it up.
fn open_connection(m: &NetworkAccessManager, nginx: &Nginx) {
    let reply = m.get(nginx.trusting("/hello.txt"));
    run_all(&[reply]);
    assert_no_error(reply);
    assert_eq!(http2_was_used(reply), Some(true));
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn get_over_tls_negotiates_h2_and_is_byte_exact() {
    let Some(nginx) = Nginx::start() else { return };
    let m = NetworkAccessManager::new();
    let reply = m.get(nginx.trusting("/hello.txt"));
    run_all(&[reply]);
    assert_no_error(reply);
    assert_eq!(reply.status_code(), Some(200));
    assert_eq!(http2_was_used(reply), Some(true));
    assert_eq!(
        reply
            .attribute(Attribute::ConnectionEncrypted)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    assert_eq!(reply.read_all(), HELLO);
    assert_eq!(
        reply.raw_header("content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(
        nginx.logged_requests(1),
        [("/hello.txt".to_owned(), "HTTP/2.0".to_owned())]
    );
}

#[test]
fn a_hundred_concurrent_gets_from_cold_share_one_connection() {
    let Some(nginx) = Nginx::start() else { return };
    let m = NetworkAccessManager::new();
    // No connection yet: as in Qt, the first request's TLS connection is the only one; the
    // others wait for its ALPN result, then share it over HTTP/2.
    let replies: Vec<NetworkReply> = (0..SMALL_FILES)
        .map(|n| m.get(nginx.trusting(&format!("/small/{n}.txt"))))
        .collect();
    run_all(&replies);
    for (n, reply) in replies.iter().enumerate() {
        assert_no_error(*reply);
        assert_eq!(http2_was_used(*reply), Some(true), "reply {n}");
        assert_eq!(reply.read_all(), small_body(n), "reply {n}");
    }
    assert_eq!(m.connections_opened(), 1);
    let logged = nginx.logged_requests(SMALL_FILES);
    assert_eq!(logged.len(), SMALL_FILES);
    assert!(logged.iter().all(|(_, protocol)| protocol == "HTTP/2.0"));
}

#[test]
fn a_slow_reader_gets_the_8_mib_file_byte_exact_with_a_bounded_buffer() {
    const READ_BUFFER: usize = 64 * 1024;
    const CHUNK: usize = 32 * 1024;
    let Some(nginx) = Nginx::start() else { return };
    let m = NetworkAccessManager::new();
    let reply = m.get(nginx.trusting("/big.bin"));
    reply.set_read_buffer_size(READ_BUFFER);
    let read = Rc::new(Cell::new(0usize));
    let mismatch = Rc::new(Cell::new(None::<usize>));
    let most_buffered = Rc::new(Cell::new(0usize));
    // The application reads 32 KiB per millisecond tick, whatever arrived: slower than
    // nginx can send over loopback, so flow control has to hold nginx back.
    let ticker = Timer::new();
    ticker.set_interval(Duration::from_millis(1));
    let (r, mm, most) = (read.clone(), mismatch.clone(), most_buffered.clone());
    ticker.timeout().connect(move |_| {
        most.set(most.get().max(reply.bytes_available()));
        let mut buf = vec![0u8; CHUNK];
        let n = reply.read(&mut buf);
        for (i, b) in buf[..n].iter().enumerate() {
            if *b != pattern(r.get() + i) && mm.get().is_none() {
                mm.set(Some(r.get() + i));
            }
        }
        r.set(r.get() + n);
        if reply.is_finished() && reply.bytes_available() == 0 {
            EventLoop::current().quit();
        }
    });
    ticker.start();
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(30));
    assert_eq!(EventLoop::current().exec(), 0, "download did not finish");
    ticker.destroy();
    guard.destroy();
    assert_no_error(reply);
    assert_eq!(http2_was_used(reply), Some(true));
    assert_eq!(mismatch.get(), None, "first wrong byte");
    assert_eq!(read.get(), BIG_SIZE);
    assert!(
        most_buffered.get() <= READ_BUFFER,
        "the reply buffered {} bytes, more than its read buffer",
        most_buffered.get()
    );
}

#[test]
fn not_found_is_content_not_found_error() {
    let Some(nginx) = Nginx::start() else { return };
    let m = NetworkAccessManager::new();
    open_connection(&m, &nginx);
    let replies = [
        m.get(nginx.trusting("/gone")),
        m.get(nginx.trusting("/no/such/file.txt")),
    ];
    run_all(&replies);
    for reply in replies {
        assert_eq!(reply.error(), NetworkError::ContentNotFoundError);
        assert_eq!(reply.status_code(), Some(404));
        assert_eq!(http2_was_used(reply), Some(true));
    }
    assert_eq!(m.connections_opened(), 1);
}

#[test]
fn http2_not_allowed_uses_http_1_1() {
    let Some(nginx) = Nginx::start() else { return };
    let m = NetworkAccessManager::new();
    let mut request = nginx.trusting("/hello.txt");
    request.set_attribute(Attribute::Http2Allowed, false);
    let reply = m.get(request);
    run_all(&[reply]);
    assert_no_error(reply);
    // Qt sets Http2WasUsedAttribute to false on HTTP/1.1 replies.
    assert_eq!(http2_was_used(reply), Some(false));
    assert_eq!(reply.status_code(), Some(200));
    assert_eq!(reply.read_all(), HELLO);
    assert_eq!(
        nginx.logged_requests(1),
        [("/hello.txt".to_owned(), "HTTP/1.1".to_owned())]
    );
}

/// Requests `/hello.txt` without trusting nginx's certificate; `ignore` decides whether the
/// `sslErrors` slot ignores the errors. Returns the reply and the errors reported.
fn untrusted_get(nginx: &Nginx, ignore: bool) -> (NetworkReply, Rc<RefCell<Vec<SslError>>>) {
    let m = NetworkAccessManager::new();
    let reply = m.get(NetworkRequest::from_url_str(&nginx.url("/hello.txt")));
    let errors = Rc::new(RefCell::new(Vec::new()));
    let seen = errors.clone();
    reply.ssl_errors().connect(move |e: &Vec<SslError>| {
        seen.borrow_mut().extend(e.iter().cloned());
        if ignore {
            reply.ignore_ssl_errors();
        }
    });
    run_all(&[reply]);
    (reply, errors)
}

#[test]
fn an_untrusted_certificate_emits_ssl_errors_and_fails_the_handshake() {
    let Some(nginx) = Nginx::start() else { return };
    let (reply, errors) = untrusted_get(&nginx, false);
    assert_eq!(reply.error(), NetworkError::SslHandshakeFailedError);
    let kinds: Vec<SslErrorKind> = errors.borrow().iter().map(SslError::error).collect();
    assert_eq!(kinds, [SslErrorKind::SelfSignedCertificate]);
    assert!(reply.read_all().is_empty());
}

#[test]
fn ignoring_the_ssl_errors_continues_over_h2() {
    let Some(nginx) = Nginx::start() else { return };
    let (reply, errors) = untrusted_get(&nginx, true);
    assert_no_error(reply);
    assert!(!errors.borrow().is_empty());
    assert_eq!(http2_was_used(reply), Some(true));
    assert_eq!(reply.read_all(), HELLO);
}
