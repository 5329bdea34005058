//! Test support for the legacy `Http` tests: a scripted HTTP/1.1 server on loopback (std
//! threads writing raw responses), a shared in-memory device, and a loop runner that
//! records the signals in Qt's notation.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_http::legacy::{trace_signals, Http};

/// A request as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes of the head, request line to empty line included.
    pub head_len: usize,
    /// Which accepted connection (0-based) carried it.
    pub connection: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler wants after answering.
pub enum Next {
    KeepAlive,
    Close,
    /// Keep the connection open without reading more (a stalled server).
    Hold,
}

type Handler = dyn Fn(&Seen, &mut TcpStream) -> Next + Send + Sync;

pub struct Server {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn start<F>(handler: F) -> Server
    where
        F: Fn(&Seen, &mut TcpStream) -> Next + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (c, r) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let (handler, r) = (handler.clone(), r.clone());
                std::thread::spawn(move || serve(stream, index, &*handler, &r));
            }
        });
        Server {
            port,
            connections,
            requests,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.requests.lock().unwrap().clone()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve(stream: TcpStream, index: usize, handler: &Handler, requests: &Mutex<Vec<Seen>>) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut seen = Seen {
            head_len: line.len(),
            connection: index,
            ..Default::default()
        };
        let mut parts = line.split_whitespace();
        seen.method = parts.next().unwrap_or("").to_owned();
        seen.target = parts.next().unwrap_or("").to_owned();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            seen.head_len += h.len();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                seen.headers
                    .push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if let Some(len) = seen
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            seen.body = vec![0; len];
            if reader.read_exact(&mut seen.body).is_err() {
                return;
            }
        } else if seen
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).ok();
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                if reader.read_exact(&mut chunk).is_err() {
                    return;
                }
                if n == 0 {
                    break;
                }
                seen.body.extend_from_slice(&chunk[..n]);
            }
        }
        requests.lock().unwrap().push(seen.clone());
        match handler(&seen, &mut writer) {
            Next::KeepAlive => {}
            Next::Close => {
                let _ = writer.flush();
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Next::Hold => {
                // Wait until the client goes away.
                let mut sink = Vec::new();
                let _ = reader.read_to_end(&mut sink);
                return;
            }
        }
    }
}

/// Writes a response with a `Content-Length` body and the given extra fields.
pub fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes);
}

/// A `Write` device whose bytes the test can look at afterwards.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records every signal of `http` in Qt's notation.
pub fn record(http: &Http) -> Rc<RefCell<Vec<String>>> {
    let lines = Rc::new(RefCell::new(Vec::new()));
    let l = lines.clone();
    trace_signals(http, move |line| l.borrow_mut().push(line));
    lines
}

/// Runs the loop until `done` is emitted `times` times (at most 10 s).
pub fn run_until_done(http: &Http, times: usize) {
    let left = Rc::new(std::cell::Cell::new(times));
    let l = left.clone();
    let conn = http.done().connect(move |_| {
        l.set(l.get() - 1);
        if l.get() == 0 {
            EventLoop::current().quit();
        }
    });
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(10));
    assert_eq!(
        EventLoop::current().exec(),
        0,
        "done was not emitted in time"
    );
    guard.destroy();
    conn.disconnect();
}

/// The trace with each run of `dataReadProgress`/`readyRead` lines (whose number depends
/// on how the bytes were chunked) replaced by one `<body>` line, and consecutive
/// `dataSendProgress` lines by the last one.
pub fn normalized(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let body = line.starts_with("dataReadProgress(") || line == "readyRead()";
        if body {
            if out.last().map(String::as_str) != Some("<body>") {
                out.push("<body>".to_owned());
            }
        } else if line.starts_with("dataSendProgress(")
            && out
                .last()
                .is_some_and(|l| l.starts_with("dataSendProgress("))
        {
            *out.last_mut().unwrap() = line.clone();
        } else {
            out.push(line.clone());
        }
    }
    out
}
