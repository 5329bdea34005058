//! slotnet-asyncbench: what awaiting replies costs next to driving them by slots. The same
//! small GETs over one cleartext HTTP/2 connection, client and server on one loop (as
//! slotnet-h2bench), with a fixed number in flight, made in one run two ways:
//!
//! - **slots**: each reply's `finished` slot checks it and starts the next request;
//! - **async**: `streams` futures spawned with `spawn_local`, each awaiting its GETs
//!   (`manager.get(request).await`) one after another.
//!
//! The rounds alternate (slots, async, slots, async, ...) so that a machine's load falls on
//! both alike; the best round of each is compared. `--only slots|async` runs one way only
//! (for callgrind).
//!
//! ```text
//! slotnet-asyncbench [--requests 20000] [--streams 50] [--rounds 3] [--only slots|async]
//! ```

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_bench::start_h2_hello_server;
use slotnet_core::{spawn_local, EventLoop};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkRequest};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Slots,
    Async,
}

struct Options {
    requests: u64,
    streams: u64,
    rounds: u64,
    only: Option<Way>,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        requests: 20_000,
        streams: 50,
        rounds: 3,
        only: None,
    };
    let usage =
        "usage: slotnet-asyncbench [--requests N] [--streams N] [--rounds N] [--only slots|async]";
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
            "--rounds" => opts.rounds = value("--rounds")?,
            "--only" => {
                opts.only = match args.next().as_deref() {
                    Some("slots") => Some(Way::Slots),
                    Some("async") => Some(Way::Async),
                    _ => return Err(usage.into()),
                }
            }
            _ => return Err(usage.into()),
        }
    }
    Ok(opts)
}

fn request(url: &str) -> NetworkRequest {
    let mut request = NetworkRequest::from_url_str(url);
    request.set_attribute(Attribute::Http2Direct, true);
    request
}

/// Counts of one round.
#[derive(Default)]
struct Tally {
    issued: Cell<u64>,
    done: Cell<u64>,
    failed: Cell<u64>,
}

/// `total` GETs, `streams` in flight, each finished reply's slot starting the next.
fn run_slots(manager: NetworkAccessManager, url: &Rc<String>, total: u64, streams: u64) -> u64 {
    fn issue(manager: NetworkAccessManager, url: Rc<String>, tally: Rc<Tally>, total: u64) {
        if tally.issued.get() == total {
            return;
        }
        tally.issued.set(tally.issued.get() + 1);
        let reply = manager.get(request(&url));
        reply.finished().connect(move |_| {
            if reply.error() != NetworkError::NoError || reply.read_all() != b"hello" {
                tally.failed.set(tally.failed.get() + 1);
            }
            reply.delete_later();
            tally.done.set(tally.done.get() + 1);
            if tally.done.get() == total {
                EventLoop::current().quit();
            } else {
                issue(manager, url.clone(), tally.clone(), total);
            }
        });
    }
    let tally = Rc::new(Tally::default());
    for _ in 0..streams.min(total) {
        issue(manager, url.clone(), tally.clone(), total);
    }
    EventLoop::current().exec();
    tally.failed.get()
}

/// `total` GETs made by `streams` spawned futures, each awaiting one reply after another.
fn run_async(manager: NetworkAccessManager, url: &Rc<String>, total: u64, streams: u64) -> u64 {
    let tally = Rc::new(Tally::default());
    for _ in 0..streams.min(total) {
        let (url, tally) = (url.clone(), tally.clone());
        spawn_local(async move {
            while tally.issued.get() < total {
                tally.issued.set(tally.issued.get() + 1);
                match manager.get(request(&url)).await {
                    Ok(response) if response.body().as_ref() == b"hello" => {}
                    _ => tally.failed.set(tally.failed.get() + 1),
                }
                tally.done.set(tally.done.get() + 1);
            }
            if tally.done.get() == total {
                EventLoop::current().quit();
            }
        });
    }
    EventLoop::current().exec();
    tally.failed.get()
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
    let url = Rc::new(format!("http://127.0.0.1:{port}/hello"));
    let manager = NetworkAccessManager::new();
    let ways: Vec<Way> = match opts.only {
        Some(way) => vec![way],
        None => vec![Way::Slots, Way::Async],
    };
    let mut best = [Duration::MAX; 2];
    let mut failed = 0;
    for round in 1..=opts.rounds {
        for &way in &ways {
            let start = Instant::now();
            failed += match way {
                Way::Slots => run_slots(manager, &url, opts.requests, opts.streams),
                Way::Async => run_async(manager, &url, opts.requests, opts.streams),
            };
            let elapsed = start.elapsed();
            let (name, slot) = match way {
                Way::Slots => ("slots", 0),
                Way::Async => ("async", 1),
            };
            best[slot] = best[slot].min(elapsed);
            println!(
                "round {round} {name}: {} GETs, {} in flight: {:.3} s, {:.0} requests/s",
                opts.requests,
                opts.streams,
                elapsed.as_secs_f64(),
                opts.requests as f64 / elapsed.as_secs_f64()
            );
        }
    }
    if opts.only.is_none() {
        let (slots, awaited) = (best[0].as_secs_f64(), best[1].as_secs_f64());
        println!(
            "best: slots {:.0} requests/s, async {:.0} requests/s; async takes {:+.1} % time",
            opts.requests as f64 / slots,
            opts.requests as f64 / awaited,
            (awaited / slots - 1.0) * 100.0
        );
    }
    println!(
        "connections opened: {}, failed: {failed}",
        manager.connections_opened()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
