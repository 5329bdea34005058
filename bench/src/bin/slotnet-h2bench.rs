//! slotnet-h2bench: small GETs over one cleartext HTTP/2 connection (prior knowledge), with a
//! fixed number of requests in flight, client (`NetworkAccessManager`) and server
//! (`slotnet_http::h2::server`) on one event loop. Prints requests per second.
//!
//! ```text
//! slotnet-h2bench [--requests 20000] [--streams 100]
//! ```

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use slotnet_bench::start_h2_hello_server;
use slotnet_core::EventLoop;
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkRequest};

struct Options {
    requests: u64,
    streams: u64,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        requests: 20_000,
        streams: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--requests" => opts.requests = value("--requests")?,
            "--streams" => opts.streams = value("--streams")?,
            "-h" | "--help" => {
                return Err("usage: slotnet-h2bench [--requests N] [--streams N]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let port = match start_h2_hello_server() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let url = format!("http://127.0.0.1:{port}/hello");
    let manager = NetworkAccessManager::new();
    let issued = Rc::new(Cell::new(0u64));
    let done = Rc::new(Cell::new(0u64));
    let failed = Rc::new(Cell::new(0u64));
    let total = opts.requests;

    // Each finished reply starts the next request, keeping `streams` in flight.
    fn issue(
        manager: NetworkAccessManager,
        url: Rc<String>,
        issued: Rc<Cell<u64>>,
        done: Rc<Cell<u64>>,
        failed: Rc<Cell<u64>>,
        total: u64,
    ) {
        if issued.get() == total {
            return;
        }
        issued.set(issued.get() + 1);
        let mut request = NetworkRequest::from_url_str(&url);
        request.set_attribute(Attribute::Http2Direct, true);
        let reply = manager.get(request);
        reply.finished().connect(move |_| {
            if reply.error() != NetworkError::NoError || reply.read_all() != b"hello" {
                failed.set(failed.get() + 1);
            }
            reply.delete_later();
            done.set(done.get() + 1);
            if done.get() == total {
                EventLoop::current().quit();
            } else {
                issue(
                    manager,
                    url.clone(),
                    issued.clone(),
                    done.clone(),
                    failed.clone(),
                    total,
                );
            }
        });
    }

    let url = Rc::new(url);
    let start = Instant::now();
    for _ in 0..opts.streams.min(total) {
        issue(
            manager,
            url.clone(),
            issued.clone(),
            done.clone(),
            failed.clone(),
            total,
        );
    }
    EventLoop::current().exec();
    let elapsed = start.elapsed();
    let rate = done.get() as f64 / elapsed.as_secs_f64();
    println!(
        "{} requests, {} in flight, one h2c connection ({} opened): {:.3} s, {:.0} requests/s, {} failed",
        done.get(),
        opts.streams,
        manager.connections_opened(),
        elapsed.as_secs_f64(),
        rate,
        failed.get()
    );
    if failed.get() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
