//! slotnet-tlsbench: TLS over loopback with `SslSocket`/`SslServer`: bulk throughput (the
//! client sends, the server reads and discards) and handshakes per second (sequential
//! connections, each closed once `encrypted`). Prints `name=value unit` lines.
//!
//! By default the server runs on a second thread with its own event loop (one core each, as
//! `openssl s_server` and `s_client` do); `--one-loop` puts both on one loop and one thread.
//! The certificate is the test PKI's ECDSA P-256 server certificate; `--write-pem DIR` writes
//! it (`cert.pem`, `key.pem`) so that OpenSSL can be measured with the same key type.
//!
//! ```text
//! slotnet-tlsbench [--bytes 1073741824] [--handshakes 2000] [--one-loop] [--write-pem DIR]
//! ```

use std::cell::Cell;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, LoopHandle};
use slotnet_net::ssl::{test_certs, SslConfiguration, SslProtocol};
use slotnet_net::{Bytes, SslServer, SslSocket};

struct Options {
    bytes: u64,
    handshakes: u64,
    one_loop: bool,
    write_pem: Option<String>,
}

const USAGE: &str =
    "usage: slotnet-tlsbench [--bytes N] [--handshakes N] [--one-loop] [--write-pem DIR]";

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        bytes: 1 << 30,
        handshakes: 2000,
        one_loop: false,
        write_pem: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--bytes" => opts.bytes = number("--bytes")?,
            "--handshakes" => opts.handshakes = number("--handshakes")?,
            "--one-loop" => opts.one_loop = true,
            "--write-pem" => {
                opts.write_pem = Some(args.next().ok_or("--write-pem needs a directory")?)
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(opts)
}

/// What a server reports back to the client's thread.
enum ServerEvent {
    Listening(u16),
    /// All bytes of the bulk test arrived, at this instant.
    Received(Instant),
}

/// A server that counts and discards what its connections send; reports when `expect`
/// bytes have arrived. With `expect == 0` (the handshake test) it answers each connection
/// with one byte, which also makes the client read the TLS 1.3 session tickets that precede
/// it (without them no session could be resumed).
fn start_server(expect: u64, report: impl Fn(ServerEvent) + 'static) -> SslServer {
    let server = SslServer::new();
    server.set_ssl_configuration(test_certs::pki().server.configuration());
    if !server.listen(Ipv4Addr::LOCALHOST, 0) {
        eprintln!("cannot listen on 127.0.0.1: {}", server.error_string());
        std::process::exit(1);
    }
    report(ServerEvent::Listening(server.server_port()));
    let report = Rc::new(report);
    let received = Rc::new(Cell::new(0u64));
    server.pending_connection_available().connect(move |_| {
        while let Some(conn) = server.next_pending_connection() {
            if expect == 0 {
                conn.write(b"!");
            }
            let (received, report) = (received.clone(), report.clone());
            conn.ready_read().connect(move |_| {
                // Consume in place: no copy out of the socket's buffer.
                conn.with_read_buffer(&mut |buf| {
                    received.set(received.get() + buf.len() as u64);
                    buf.clear();
                });
                if expect > 0 && received.get() == expect {
                    report(ServerEvent::Received(Instant::now()));
                }
            });
            conn.disconnected().connect(move |_| conn.delete_later());
        }
    });
    server
}

/// Runs a server on its own thread and loop; returns its port and the channel it reports on.
fn server_thread(expect: u64, client: LoopHandle) -> (u16, mpsc::Receiver<ServerEvent>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _server = start_server(expect, move |event| {
            let done = matches!(event, ServerEvent::Received(_));
            let _ = tx.send(event);
            if done {
                // Wake the client's loop so it sees the result.
                let _ = client.post(|| EventLoop::current().quit());
            }
        });
        EventLoop::current().exec();
    });
    match rx.recv() {
        Ok(ServerEvent::Listening(port)) => (port, rx),
        _ => {
            eprintln!("the server thread failed to start");
            std::process::exit(1);
        }
    }
}

/// Sends `total` bytes from a client and returns the time from `encrypted` to the server
/// having received the last byte.
fn throughput(total: u64, one_loop: bool) -> Duration {
    let lp = EventLoop::current();
    let done_at = Rc::new(Cell::new(None));
    let (port, rx, _server) = if one_loop {
        let d = done_at.clone();
        let port = Rc::new(Cell::new(0));
        let p = port.clone();
        let server = start_server(total, move |event| match event {
            ServerEvent::Listening(port) => p.set(port),
            ServerEvent::Received(at) => {
                d.set(Some(at));
                EventLoop::current().quit();
            }
        });
        (port.get(), None, Some(server))
    } else {
        let (port, rx) = server_thread(total, lp.handle());
        (port, Some(rx), None)
    };

    let client = SslSocket::new();
    client.set_ssl_configuration(test_certs::client_configuration());
    let started = Rc::new(Cell::new(None));
    // 1 MiB chunks of one shared buffer, kept 4 MiB ahead of the encryption.
    let chunk = Bytes::from(vec![0u8; 1 << 20]);
    let sent = Rc::new(Cell::new(0u64));
    let feed = {
        let sent = sent.clone();
        move || {
            while sent.get() < total && client.bytes_to_write() < 4 << 20 {
                let n = (total - sent.get()).min(chunk.len() as u64) as usize;
                client.write_bytes(chunk.slice(..n));
                sent.set(sent.get() + n as u64);
            }
        }
    };
    let (s, f) = (started.clone(), feed.clone());
    client.encrypted().connect(move |_| {
        s.set(Some(Instant::now()));
        f();
    });
    client.bytes_written().connect(move |_| feed());
    client.error_occurred().connect(move |e| {
        eprintln!("client error: {} ({})", e.name(), client.error_string());
        std::process::exit(1);
    });
    client.connect_to_host_encrypted("127.0.0.1", port);
    lp.exec();
    if let Some(rx) = rx {
        while let Ok(event) = rx.try_recv() {
            if let ServerEvent::Received(at) = event {
                done_at.set(Some(at));
            }
        }
    }
    let (Some(start), Some(end)) = (started.get(), done_at.get()) else {
        eprintln!("the transfer did not complete");
        std::process::exit(1);
    };
    client.abort();
    end.saturating_duration_since(start)
}

/// Makes `count` sequential connections, each closed once encrypted and the server's one
/// byte has arrived. `full`: every connection gets a configuration of its own, so no session
/// is resumed (the cost of building its rustls config is included). Returns the elapsed
/// time.
fn handshakes(count: u64, full: bool, port: u16) -> Duration {
    let lp = EventLoop::current();
    let done = Rc::new(Cell::new(0u64));
    let base = test_certs::client_configuration();
    let start = Instant::now();
    connect_next(count, full, port, base, done.clone());
    lp.exec();
    if done.get() != count {
        eprintln!("handshakes did not complete");
        std::process::exit(1);
    }
    start.elapsed()
}

fn connect_next(count: u64, full: bool, port: u16, base: SslConfiguration, done: Rc<Cell<u64>>) {
    let socket = SslSocket::new();
    let mut config = base.clone();
    if full {
        // Any setter starts a fresh rustls config, with an empty session cache.
        config.set_protocol(SslProtocol::SecureProtocols);
    }
    socket.set_ssl_configuration(config);
    socket.ready_read().connect(move |_| {
        // The first connection of the resumed run has no session to resume yet.
        let resumed = socket.ssl_configuration().session_info().session_resumed;
        if resumed == full && (full || done.get() > 0) {
            eprintln!("unexpected session resumption state (full: {full})");
            std::process::exit(1);
        }
        socket.abort();
        socket.delete_later();
        done.set(done.get() + 1);
        if done.get() == count {
            EventLoop::current().quit();
        } else {
            let (base, done) = (base.clone(), done.clone());
            EventLoop::current().post(move || connect_next(count, full, port, base, done));
        }
    });
    socket.error_occurred().connect(move |e| {
        eprintln!("handshake error: {} ({})", e.name(), socket.error_string());
        std::process::exit(1);
    });
    socket.connect_to_host_encrypted("127.0.0.1", port);
}

fn write_pem(dir: &str) -> std::io::Result<()> {
    let pki = test_certs::pki();
    let chain: String = pki.server.chain.iter().map(|c| c.to_pem()).collect();
    std::fs::write(format!("{dir}/cert.pem"), chain)?;
    std::fs::write(format!("{dir}/key.pem"), pki.server.key.to_pem())?;
    std::fs::write(format!("{dir}/ca.pem"), pki.ca.to_pem())
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &opts.write_pem {
        if let Err(e) = write_pem(dir) {
            eprintln!("cannot write PEM files to {dir}: {e}");
            return ExitCode::FAILURE;
        }
        println!("wrote {dir}/cert.pem {dir}/key.pem {dir}/ca.pem");
        return ExitCode::SUCCESS;
    }
    let layout = if opts.one_loop {
        "one_loop"
    } else {
        "two_threads"
    };
    println!("layout={layout}");
    if opts.bytes > 0 {
        let elapsed = throughput(opts.bytes, opts.one_loop);
        let mb_s = opts.bytes as f64 / 1e6 / elapsed.as_secs_f64();
        println!("tls_bulk_bytes={} bytes", opts.bytes);
        println!("tls_bulk_seconds={:.3} s", elapsed.as_secs_f64());
        println!("tls_bulk_throughput={mb_s:.0} MB/s");
    }
    if opts.handshakes > 0 {
        let lp = EventLoop::current();
        let (port, _server) = if opts.one_loop {
            let port = Rc::new(Cell::new(0));
            let p = port.clone();
            let server = start_server(0, move |event| {
                if let ServerEvent::Listening(port) = event {
                    p.set(port)
                }
            });
            (port.get(), Some(server))
        } else {
            (server_thread(0, lp.handle()).0, None)
        };
        for (name, full) in [("full", true), ("resumed", false)] {
            let elapsed = handshakes(opts.handshakes, full, port);
            let rate = opts.handshakes as f64 / elapsed.as_secs_f64();
            println!("tls_handshakes_{name}={rate:.0} handshakes/s");
        }
    }
    ExitCode::SUCCESS
}
