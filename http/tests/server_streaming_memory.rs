//! 500 MB pushed (`write_begin`, then `write_chunk` of 1 MiB blocks as fast as the answer
//! accepts them, `drained` for more) to clients that read slower than the producer writes,
//! over HTTP/1.1 and HTTP/2: the server's peak memory grows by less than 32 MiB (issue 23: it
//! grew to 475 MB before `write_chunk` refused pieces past the answer's budget).
//!
//! The server runs in a child process (this test binary again, running
//! [`stream_server_process`]), so its peak memory (`VmHWM`) is its own and not the client's.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use slotnet_core::EventLoop;
use slotnet_http::server::{
    HttpServer, HttpServerConfiguration, HttpServerRequest, HttpServerResponder, WriteChunkError,
};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkRequest};
use slotnet_net::TcpServer;
use slotnet_testkit::reply;
use slotnet_testkit::reply::read_slowly;

/// Set in the child's environment: run the server.
const CHILD_ENV: &str = "SLOTNET_STREAM_SERVER_PROCESS";
const PERIOD: usize = 251;
/// About 1 MiB, whole periods.
const BLOCK: usize = PERIOD * 4178;
/// About 500 MB.
const TOTAL: u64 = BLOCK as u64 * 477;
/// The client's reads: one piece, then a pause (about 128 MB/s at most; the server's
/// producer is far faster, so the answer's queue is what fills).
const PIECE: usize = 128 * 1024;
const PAUSE: Duration = Duration::from_millis(1);
const MAX_GROWTH_MIB: u64 = 32;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % PERIOD) as u8).collect()
}

// ----- the server process -----------------------------------------------------------------

/// The server of this test when run as the child process (does nothing otherwise): prints
/// `PORT <n>`, serves `/push/<n>` (n bytes pushed with pacing, chunked over HTTP/1.1) and
/// `/refused` (how many times `write_chunk` said `Full`), and exits when its stdin closes.
#[test]
fn stream_server_process() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let server = HttpServer::new();
    server.set_configuration(HttpServerConfiguration {
        h2c: true,
        ..HttpServerConfiguration::default()
    });
    let refused = Rc::new(Cell::new(0u64));
    let block = Bytes::from(pattern(BLOCK));
    let r = refused.clone();
    server
        .route(
            "/push/<arg>",
            Method::GET,
            move |total: u64, _: &HttpServerRequest, mut resp: HttpServerResponder| {
                resp.write_begin(StatusCode::OK, HeaderMap::new(), None);
                let drained = resp.drained();
                let producer = Rc::new(Producer {
                    resp: RefCell::new(Some(resp)),
                    sent: Cell::new(0),
                    total,
                    block: block.clone(),
                    refused: r.clone(),
                });
                let p = producer.clone();
                drained.connect(move |_| p.produce());
                producer.produce();
            },
        )
        .expect("a valid route");
    server
        .route(
            "/refused",
            Method::GET,
            move |_: &HttpServerRequest, resp: HttpServerResponder| {
                resp.write_data(StatusCode::OK, "text/plain", refused.get().to_string());
            },
        )
        .expect("a valid route");
    let tcp = TcpServer::new();
    assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0));
    assert!(server.bind(&tcp));
    println!("PORT {}", tcp.server_port());
    std::io::stdout().flush().unwrap();
    EventLoop::current().exec();
}

/// Writes blocks while the answer accepts them; `drained` calls it again.
struct Producer {
    resp: RefCell<Option<HttpServerResponder>>,
    sent: Cell<u64>,
    total: u64,
    block: Bytes,
    refused: Rc<Cell<u64>>,
}

impl Producer {
    fn produce(&self) {
        let mut slot = self.resp.borrow_mut();
        let Some(resp) = slot.as_mut() else {
            return;
        };
        while self.sent.get() < self.total {
            let n = (self.total - self.sent.get()).min(BLOCK as u64) as usize;
            // A fresh block each time, as a real producer makes its data: a queue that
            // grew would hold all of them.
            let piece = Bytes::from(self.block[..n].to_vec());
            match resp.write_chunk(piece) {
                Ok(()) => self.sent.set(self.sent.get() + n as u64),
                Err(WriteChunkError::Full(_)) => {
                    self.refused.set(self.refused.get() + 1);
                    return;
                }
                Err(_) => {
                    slot.take();
                    return;
                }
            }
        }
        if let Some(resp) = slot.take() {
            resp.write_end();
        }
    }
}

// ----- the client side --------------------------------------------------------------------

/// The server process; killed when dropped.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["stream_server_process", "--exact", "--nocapture"])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server process starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the server process prints its port")
                .unwrap();
            if let Some(port) = line.strip_prefix("PORT ") {
                break port.trim().parse().unwrap();
            }
        };
        ServerProcess { child, port }
    }

    /// The server's peak resident memory (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// One request on a fresh connection, read whole (small answers only).
    fn get_small(&self, path: &str) -> String {
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    fn refused(&self) -> u64 {
        self.get_small("/refused").trim().parse().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a chunked body of `TOTAL` pattern bytes from `s` slowly; returns the body length.
fn read_chunked_slowly(s: TcpStream) -> u64 {
    let mut r = BufReader::with_capacity(PIECE, s);
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        assert!(!line.is_empty(), "the head ended early");
    }
    let expected = pattern(PERIOD).repeat(PIECE / PERIOD + 2);
    let mut buf = vec![0u8; PIECE];
    let mut received = 0u64;
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let size = u64::from_str_radix(line.trim(), 16).expect("a chunk size line");
        if size == 0 {
            break;
        }
        let mut left = size;
        while left > 0 {
            let want = left.min(PIECE as u64) as usize;
            let n = r.read(&mut buf[..want]).unwrap();
            assert!(n > 0, "the body ended early");
            let offset = (received % PERIOD as u64) as usize;
            assert!(
                buf[..n] == expected[offset..offset + n],
                "byte {received} on"
            );
            received += n as u64;
            left -= n as u64;
            std::thread::sleep(PAUSE);
        }
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "\r\n");
    }
    received
}

#[test]
fn pushing_500_mb_to_slow_clients_keeps_the_server_under_32_mib_over_http1_and_http2() {
    let server = ServerProcess::start();
    // Warm up both protocols so that their one-time allocations are in the baseline.
    assert_eq!(server.refused(), 0);
    let m = NetworkAccessManager::new();
    let request = |path: &str| {
        let mut req =
            NetworkRequest::from_url_str(&format!("http://127.0.0.1:{}{path}", server.port));
        req.set_attribute(Attribute::Http2Direct, true);
        req
    };
    let warm = m.get(request("/push/1000"));
    reply::run_all(&[warm]);
    assert_eq!(warm.read_all().len(), 1000);
    let before = server.peak_rss_kib();

    // HTTP/1.1: a raw socket read in 128 KiB pieces with a pause after each.
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(format!("GET /push/{TOTAL} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(read_chunked_slowly(s), TOTAL);
    let refused_h1 = server.refused();
    let grown_h1 = server.peak_rss_kib().saturating_sub(before) / 1024;

    // HTTP/2 (cleartext prior knowledge): the project's client through a 128 KiB buffer.
    let reply = m.get(request(&format!("/push/{TOTAL}")));
    reply.set_read_buffer_size(PIECE);
    let read = read_slowly(
        reply,
        &pattern(PERIOD),
        PIECE,
        Duration::from_secs(600),
        |_| std::thread::sleep(PAUSE),
    );
    read.assert_complete(reply, TOTAL, PIECE);
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    let refused_h2 = server.refused() - refused_h1;
    let grown = server.peak_rss_kib().saturating_sub(before) / 1024;

    eprintln!(
        "server peak memory growth: {grown_h1} MiB after HTTP/1.1, {grown} MiB after HTTP/2 \
         ({refused_h1} and {refused_h2} refusals for {TOTAL} bytes each)"
    );
    // The producer was faster than the readers: the budget, not the reader, bounded it.
    assert!(refused_h1 > 0 && refused_h2 > 0);
    assert!(
        grown_h1 < MAX_GROWTH_MIB,
        "HTTP/1.1: the server grew by {grown_h1} MiB"
    );
    assert!(
        grown < MAX_GROWTH_MIB,
        "HTTP/2: the server grew by {grown} MiB"
    );
}
