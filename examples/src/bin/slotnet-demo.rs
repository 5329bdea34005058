//! slotnet-demo: a self-contained tour that needs no network (docs/cli.md).
//!
//! An `HttpServer` runs on 127.0.0.1 (a free port) in its own thread and loop; the main loop
//! drives a `NetworkAccessManager` against it: a GET, a POST, a redirect chain, a 404, an
//! authenticated request and a download with progress. Every signal is printed as it fires,
//! in the format of `slotnet-fetch --trace`. Exits 0 when every step behaved as expected.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use slotnet_core::{EventLoop, Thread, Timer};
use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder, Methods};
use slotnet_http::trace::SignalTrace;
use slotnet_http::{NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::TcpServer;

type Req<'a> = &'a HttpServerRequest;
type Resp = HttpServerResponder;

/// Starts the demo server on its own thread; returns its port and the thread.
fn start_server() -> (u16, Thread) {
    let thread = Thread::start_named("demo-server").expect("spawn the server thread");
    let (tx, rx) = mpsc::channel();
    thread
        .run(move || {
            let server = HttpServer::new();
            server
                .route("/", Method::GET, |_: Req, r: Resp| {
                    r.write_data(StatusCode::OK, "text/plain", "hello")
                })
                .expect("valid route");
            server
                .route("/echo", Methods::ANY, |req: Req, r: Resp| {
                    r.write_data(StatusCode::OK, "text/plain", req.body().clone())
                })
                .expect("valid route");
            server
                .route("/redirect/<arg>", Method::GET, |n: u32, _: Req, r: Resp| {
                    let target = if n <= 1 {
                        "/".to_owned()
                    } else {
                        format!("/redirect/{}", n - 1)
                    };
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        LOCATION,
                        HeaderValue::from_str(&target).expect("ascii path"),
                    );
                    r.write(StatusCode::FOUND, headers, Vec::new());
                })
                .expect("valid route");
            server
                .route("/private", Method::GET, |req: Req, r: Resp| {
                    // "demo:secret" in Basic form.
                    if req.value(AUTHORIZATION.as_str()) == Some("Basic ZGVtbzpzZWNyZXQ=") {
                        r.write_data(StatusCode::OK, "text/plain", "welcome, demo");
                    } else {
                        let mut headers = HeaderMap::new();
                        headers.insert(
                            WWW_AUTHENTICATE,
                            HeaderValue::from_static("Basic realm=\"demo\""),
                        );
                        r.write(StatusCode::UNAUTHORIZED, headers, Vec::new());
                    }
                })
                .expect("valid route");
            server
                .route("/bytes/<arg>", Method::GET, |n: usize, _: Req, r: Resp| {
                    let body: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
                    r.write_data(StatusCode::OK, "application/octet-stream", body);
                })
                .expect("valid route");
            let tcp = TcpServer::new();
            assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0), "listen on 127.0.0.1");
            assert!(server.bind(&tcp));
            tx.send(tcp.server_port()).expect("main thread waits");
        })
        .expect("server loop is running");
    let port = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server started");
    (port, thread)
}

/// Makes a step's request with the manager, against the server's base URL.
type StartRequest = Box<dyn Fn(&NetworkAccessManager, &str) -> NetworkReply>;

/// One step of the tour: what to request and what must come back.
struct Step {
    title: &'static str,
    start: StartRequest,
    expect_error: NetworkError,
    expect_body: Option<&'static [u8]>,
}

thread_local! {
    /// Whether the demo's authenticationRequired slot fills in the credentials.
    static ANSWER_AUTH: Cell<bool> = const { Cell::new(false) };
}

fn steps() -> Vec<Step> {
    vec![
        Step {
            title: "GET /",
            start: Box::new(|m, base| m.get(NetworkRequest::from_url_str(&format!("{base}/")))),
            expect_error: NetworkError::NoError,
            expect_body: Some(b"hello"),
        },
        Step {
            title: "POST /echo",
            start: Box::new(|m, base| {
                let mut req = NetworkRequest::from_url_str(&format!("{base}/echo"));
                req.set_raw_header("Content-Type", "text/plain");
                m.post(req, "posted by slotnet")
            }),
            expect_error: NetworkError::NoError,
            expect_body: Some(b"posted by slotnet"),
        },
        Step {
            title: "GET /redirect/3 (followed, Qt's default policy)",
            start: Box::new(|m, base| {
                m.get(NetworkRequest::from_url_str(&format!("{base}/redirect/3")))
            }),
            expect_error: NetworkError::NoError,
            expect_body: Some(b"hello"),
        },
        Step {
            title: "GET /missing (404: the body stays readable)",
            start: Box::new(|m, base| {
                m.get(NetworkRequest::from_url_str(&format!("{base}/missing")))
            }),
            expect_error: NetworkError::ContentNotFoundError,
            expect_body: None,
        },
        Step {
            title: "GET /private, authenticationRequired left unanswered",
            start: Box::new(|m, base| {
                ANSWER_AUTH.with(|a| a.set(false));
                m.get(NetworkRequest::from_url_str(&format!("{base}/private")))
            }),
            expect_error: NetworkError::AuthenticationRequiredError,
            expect_body: None,
        },
        Step {
            title: "GET /private, authenticationRequired answered by the slot",
            start: Box::new(|m, base| {
                ANSWER_AUTH.with(|a| a.set(true));
                m.get(NetworkRequest::from_url_str(&format!("{base}/private")))
            }),
            expect_error: NetworkError::NoError,
            expect_body: Some(b"welcome, demo"),
        },
        Step {
            title: "GET /bytes/4000000 (a download with progress)",
            start: Box::new(|m, base| {
                m.get(NetworkRequest::from_url_str(&format!(
                    "{base}/bytes/4000000"
                )))
            }),
            expect_error: NetworkError::NoError,
            expect_body: None,
        },
    ]
}

fn run_step(manager: &NetworkAccessManager, base: &str, step: &Step) -> bool {
    println!("\n== {}", step.title);
    let reply = (step.start)(manager, base);
    let trace = SignalTrace::with_sink(|line| println!("  {line}"));
    trace.watch_manager(manager, reply);
    trace.watch_reply(reply);
    let body = Rc::new(RefCell::new(Vec::new()));
    let b = body.clone();
    reply.ready_read().connect(move |_| {
        while let Some(chunk) = reply.read_chunk() {
            b.borrow_mut().extend_from_slice(&chunk);
        }
    });
    let done = Rc::new(Cell::new(false));
    let (d, t, b) = (done.clone(), trace.clone(), body.clone());
    reply.finished().connect(move |_| {
        b.borrow_mut().extend(reply.read_all());
        t.push(SignalTrace::result_line(reply, b.borrow().len() as u64));
        d.set(true);
        EventLoop::current().quit();
    });
    let guard = Timer::new();
    guard.set_single_shot(true);
    guard.timeout().connect(|_| EventLoop::current().exit(1));
    guard.start_interval(Duration::from_secs(20));
    let timed_out = EventLoop::current().exec() != 0;
    guard.destroy();
    let body = body.borrow();
    let ok = !timed_out
        && done.get()
        && reply.error() == step.expect_error
        && step.expect_body.is_none_or(|want| *body == want);
    if !ok {
        println!(
            "  !! unexpected: error={} body={:?}",
            reply.error(),
            String::from_utf8_lossy(&body)
        );
    }
    reply.delete_later();
    ok
}

fn main() {
    let started = Instant::now();
    let (port, server_thread) = start_server();
    let base = format!("http://127.0.0.1:{port}");
    println!("slotnet-demo: HttpServer listening on {base} (its own thread and loop)");
    let manager = NetworkAccessManager::new();
    // Qt's model: the slot fills the authenticator synchronously; left empty, the reply fails
    // with AuthenticationRequiredError.
    manager.authentication_required().connect(|(_reply, auth)| {
        println!(
            "  manager.authenticationRequired({})",
            auth.borrow().realm()
        );
        if ANSWER_AUTH.with(|a| a.get()) {
            let mut auth = auth.borrow_mut();
            auth.set_user("demo");
            auth.set_password("secret");
        }
    });
    let mut failures = 0;
    for step in steps() {
        if !run_step(&manager, &base, &step) {
            failures += 1;
        }
    }
    server_thread.quit_and_join();
    println!(
        "\nslotnet-demo: {} steps, {} failed, {:.0} ms, {} connection(s) opened",
        steps().len(),
        failures,
        started.elapsed().as_secs_f64() * 1e3,
        manager.connections_opened()
    );
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
