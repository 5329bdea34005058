//! A local HTTP server whose downloads take a while, so progress bars visibly move.
//!
//! It runs a slotnet [`HttpServer`] on 127.0.0.1 (a free port) in its own slotnet [`Thread`]
//! and event loop, separate from the GUI thread's loop. `GET /bytes/<n>` answers `n` bytes
//! with a `Content-Length` (so the client knows the total), written in equal chunks on a
//! repeating timer spread over the server's pace (about four seconds by default).

use std::io;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use slotnet_http::core::{EventLoop, Thread, Timer};
use slotnet_http::net::TcpServer;
use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder, WriteChunkError};

/// The largest body `/bytes/<n>` serves. The server writes ahead of a slow reader, so this is
/// also a bound on what one response can hold in memory.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

/// How many timer ticks a paced body is spread over.
const TICKS: u64 = 80;

/// A running slow server; stopped (thread quit and joined) on [`SlowServer::stop`] or drop.
#[derive(Debug)]
pub struct SlowServer {
    port: u16,
    thread: Option<Thread>,
}

impl SlowServer {
    /// Starts the server, pacing every `/bytes/<n>` answer over about `pace`.
    pub fn start(pace: Duration) -> io::Result<SlowServer> {
        let thread = Thread::start_named("slow-server")?;
        let (tx, rx) = mpsc::channel();
        thread
            .run(move || {
                // Runs on the server thread: the loop keeps the server and listener alive
                // (handles are ids into it), so nothing needs to outlive this closure.
                let _ = tx.send(serve(pace));
            })
            .map_err(|_| io::Error::other("the server thread's loop ended"))?;
        let port = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| io::Error::other("the server thread did not answer"))??;
        Ok(SlowServer {
            port,
            thread: Some(thread),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/bytes/<n>`.
    pub fn bytes_url(&self, n: u64) -> String {
        format!("http://127.0.0.1:{}/bytes/{n}", self.port)
    }

    /// Stops the server thread and waits for it.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(thread) = self.thread.take() {
            thread.quit_and_join();
        }
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Sets up the server on the current (server) thread; returns its port.
fn serve(pace: Duration) -> io::Result<u16> {
    let server = HttpServer::new();
    let tick = pace / TICKS as u32;
    server
        .route(
            "/bytes/<arg>",
            Method::GET,
            move |n: u64, _: &HttpServerRequest, responder: HttpServerResponder| {
                send_paced(responder, n, tick)
            },
        )
        .map_err(io::Error::other)?;
    let tcp = TcpServer::new();
    if !tcp.listen(Ipv4Addr::LOCALHOST, 0) {
        return Err(io::Error::other("cannot listen on 127.0.0.1"));
    }
    if !server.bind(&tcp) {
        return Err(io::Error::other("cannot bind the HTTP server"));
    }
    Ok(tcp.server_port())
}

/// Answers `n` bytes (0, 1, 2, ..., 255, 0, ...) in [`TICKS`] pieces, one per `tick`.
fn send_paced(mut responder: HttpServerResponder, n: u64, tick: Duration) {
    if n > MAX_BODY {
        return responder.write_status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if n == 0 || !responder.write_begin(StatusCode::OK, headers, Some(n)) {
        return responder.write_end();
    }
    let piece = n.div_ceil(TICKS);
    let timer = Timer::new();
    // The slot owns the responder; `take` it out to finish (write_end consumes it).
    let responder = std::cell::RefCell::new(Some(responder));
    let sent = std::cell::Cell::new(0u64);
    timer.timeout().connect(move |_| {
        let mut slot = responder.borrow_mut();
        let Some(r) = slot.as_mut() else {
            return;
        };
        let len = piece.min(n - sent.get());
        let chunk: Vec<u8> = (sent.get()..sent.get() + len)
            .map(|i| (i % 256) as u8)
            .collect();
        let alive = match r.write_chunk(chunk) {
            Ok(()) => true,
            // The client lags behind: the same piece again on the next tick.
            Err(WriteChunkError::Full(_)) => return,
            Err(_) => false,
        };
        sent.set(sent.get() + len);
        if !alive || sent.get() == n {
            // Done, or the client went away (a cancelled download): dropping a half-sent
            // responder closes the connection, a complete one is ended normally.
            if let Some(r) = slot.take() {
                if alive {
                    r.write_end();
                }
            }
            // Not destroyed from inside its own slot: stopped now, deleted by the loop.
            timer.stop();
            EventLoop::current().post(move || {
                timer.destroy();
            });
        }
    });
    timer.start_interval(tick);
}
