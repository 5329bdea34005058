//! slotnet-serve: an `HttpServer` with httpbin-like routes (see docs/cli.md).
//!
//! ```text
//! slotnet-serve [--listen ADDR:PORT]... [--unix PATH] [--root DIR] [--quiet]
//!               [--tls CERT KEY] [--h2c] [--threads N] [--spread reuseport|acceptor]
//! ```
//!
//! Prints `listening on http://ADDR:PORT` (`https://` with `--tls`, and `unix:PATH`) on
//! stdout, one request log line per request on stderr; SIGINT/SIGTERM stop accepting, finish
//! the answers in flight and exit 0 (a second signal exits at once).
//!
//! HTTP/2: `--tls` listeners offer ALPN `h2` and `http/1.1`; `--h2c` makes the plain TCP
//! (and Unix socket) listeners also accept cleartext HTTP/2 with prior knowledge. Every route
//! works over both versions (the streamed routes become DATA frames).
//!
//! `--threads N` serves the same listeners and routes on N threads, each with its own loop
//! (`ServerThreads`: one `SO_REUSEPORT` listener per thread on Linux; 0 = one per core;
//! 1, the default, serves on the main thread). A Unix socket is served by the first thread.
//! `--spread acceptor` makes the first thread accept every TCP connection and hand it to the
//! threads in turn instead (`ConnectionSpread::Acceptor`, plain TCP only), for comparing the
//! two ways (bench/server-threads.sh).

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use http::header::{
    ACCEPT_RANGES, AUTHORIZATION, CONTENT_ENCODING, CONTENT_RANGE, CONTENT_TYPE, COOKIE, ETAG,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, LOCATION, RANGE, SET_COOKIE,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use slotnet_core::mio::{unix::SourceFd, Interest};
use slotnet_core::{EventLoop, Timer};
use slotnet_http::h1::fmt_http_date;
use slotnet_http::httpdate_parse;
use slotnet_http::server::{
    mime_type_for_path, push_json_string, ConnectionSpread, HttpServer, HttpServerConfiguration,
    HttpServerRequest, HttpServerResponder, HttpServerResponse, Listen, Methods, ServerThreads,
};
use slotnet_net::ssl::{SslCertificate, SslConfiguration, SslKey};
use slotnet_net::{LocalServer, SslServer, TcpServer};

/// How long a shutdown may wait for answers in flight before the program exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: slotnet-serve [--listen ADDR:PORT]... [--unix PATH] [--root DIR] \
                     [--quiet] [--tls CERT KEY] [--h2c] [--threads N] \
                     [--spread reuseport|acceptor]";

// ----- command line ---------------------------------------------------------------------

#[derive(Debug, Default)]
struct Options {
    listen: Vec<SocketAddr>,
    unix: Option<String>,
    root: Option<PathBuf>,
    quiet: bool,
    tls: Option<(PathBuf, PathBuf)>,
    h2c: bool,
    /// Server threads (0: one per core).
    threads: usize,
    /// How connections reach the threads (`None`: the platform's default).
    spread: Option<ConnectionSpread>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut opts = Options {
        threads: 1,
        ..Options::default()
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let spec = value("--listen")?;
                let addr = spec
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or(format!("--listen: bad address {spec:?} (want ADDR:PORT)"))?;
                opts.listen.push(addr);
            }
            "--unix" => opts.unix = Some(value("--unix")?),
            "--root" => opts.root = Some(PathBuf::from(value("--root")?)),
            "--quiet" => opts.quiet = true,
            "--tls" => {
                let cert = value("--tls")?;
                let key = value("--tls")?;
                opts.tls = Some((cert.into(), key.into()));
            }
            "--h2c" => opts.h2c = true,
            "--threads" => {
                let n = value("--threads")?;
                opts.threads = n
                    .parse()
                    .map_err(|_| format!("--threads: bad count {n:?} (want a number)"))?;
            }
            "--spread" => {
                opts.spread = Some(match value("--spread")?.as_str() {
                    "reuseport" => ConnectionSpread::ReusePort,
                    "acceptor" => ConnectionSpread::Acceptor,
                    other => {
                        return Err(format!(
                            "--spread: unknown way {other:?} (want reuseport or acceptor)"
                        ))
                    }
                });
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if opts.listen.is_empty() {
        opts.listen.push(SocketAddr::from(([127, 0, 0, 1], 8080)));
    }
    Ok(opts)
}

// ----- signals ----------------------------------------------------------------------------

/// The write end of the self-pipe the signal handler writes to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // Async-signal-safe; a full pipe already holds a wake-up, so the result is moot.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Installs SIGINT/SIGTERM handlers that wake the loop through a pipe; `on_signal` runs on
/// the loop for each signal.
fn watch_signals(on_signal_in_loop: impl Fn() + 'static) -> io::Result<()> {
    let mut fds = [0 as RawFd; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    SIGNAL_PIPE.store(write_fd, Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The registration lives as long as the program; the handler drains the pipe.
    EventLoop::current().register_io(
        &mut SourceFd(&read_fd),
        Interest::READABLE,
        None,
        move |_| {
            let mut buf = [0u8; 64];
            let mut got = false;
            while unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {
                got = true;
            }
            if got {
                on_signal_in_loop();
            }
        },
    )?;
    Ok(())
}

// ----- small encoders ---------------------------------------------------------------------

/// Decodes standard base64 (padding optional); `None` on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The request headers as a JSON object (repeated fields joined with ", ").
fn headers_json(headers: &HeaderMap) -> String {
    let mut out = String::from("{");
    for (i, name) in headers.keys().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name.as_str());
        out.push(':');
        let joined: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        push_json_string(&mut out, &joined.join(", "));
    }
    out.push('}');
    out
}

/// A JSON object from string pairs.
fn object_json<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, k);
        out.push(':');
        push_json_string(&mut out, v);
    }
    out.push('}');
    out
}

/// Byte `i` of `/bytes/<n>` is `i % 256`: a reader producing that pattern without holding
/// the body in memory.
struct PatternReader {
    pos: u64,
    len: u64,
}

impl Read for PatternReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min((self.len - self.pos) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = ((self.pos + i as u64) % 256) as u8;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

fn pattern_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 256) as u8).collect()
}

/// `/stream/<n>`: one JSON line per `read`, so each line is its own chunk.
struct LineStream {
    next: u64,
    count: u64,
    url: String,
}

impl Read for LineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.next == self.count {
            return Ok(0);
        }
        let mut line = format!("{{\"id\":{},\"url\":", self.next);
        push_json_string(&mut line, &self.url);
        line.push_str("}\n");
        if line.len() > buf.len() {
            return Err(io::Error::other("stream line longer than the read buffer"));
        }
        buf[..line.len()].copy_from_slice(line.as_bytes());
        self.next += 1;
        Ok(line.len())
    }
}

// ----- static files -----------------------------------------------------------------------

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No usable range (absent, malformed, several ranges): send everything.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_range(header: &str, len: u64) -> RangeAsk {
    let Some(spec) = header
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("bytes="))
        .map(|_| header[6..].trim())
    else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix: the last `last` bytes.
        return match last.parse::<u64>() {
            Ok(0) => RangeAsk::Unsatisfiable,
            Ok(_) if len == 0 => RangeAsk::Unsatisfiable,
            Ok(n) => RangeAsk::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeAsk::Whole,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeAsk::Whole;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return RangeAsk::Whole,
        }
    };
    if start >= len {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part(start, end.min(len - 1))
}

/// Resolves `rel` (percent-decoded, from the URL) under `root`; `None` for anything that
/// could leave it: `..`, absolute paths, or a symbolic link pointing outside.
fn resolve_under(root: &Path, rel: &str) -> Option<PathBuf> {
    if rel.contains(['\\', '\0']) {
        return None;
    }
    let mut path = root.to_path_buf();
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(part) => path.push(part),
            _ => return None,
        }
    }
    let real = path.canonicalize().ok()?;
    real.starts_with(root).then_some(real)
}

fn header(req: &HttpServerRequest, name: http::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    list.split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

fn serve_file(root: &Path, rel: &str, req: &HttpServerRequest, resp: HttpServerResponder) {
    let Some(mut path) = resolve_under(root, rel) else {
        return resp.write_status(StatusCode::NOT_FOUND);
    };
    if path.is_dir() {
        path.push("index.html");
    }
    let Ok(file) = File::open(&path) else {
        return resp.write_status(StatusCode::NOT_FOUND);
    };
    let Some(meta) = file.metadata().ok().filter(|m| m.is_file()) else {
        return resp.write_status(StatusCode::NOT_FOUND);
    };
    let len = meta.len();
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    let mtime_secs = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mtime_nanos = mtime.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let etag = format!("\"{len:x}-{mtime_nanos:x}\"");
    let last_modified = fmt_http_date(UNIX_EPOCH + Duration::from_secs(mtime_secs));

    let mut headers = HeaderMap::new();
    let set = |headers: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(&mut headers, ETAG, &etag);
    set(&mut headers, LAST_MODIFIED, &last_modified);
    set(&mut headers, ACCEPT_RANGES, "bytes");

    // Conditional GET: If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    let not_modified = match header(req, IF_NONE_MATCH) {
        Some(list) => etag_matches(list, &etag),
        None => header(req, IF_MODIFIED_SINCE)
            .and_then(httpdate_parse)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|since| mtime_secs <= since.as_secs()),
    };
    if not_modified {
        return resp.write(StatusCode::NOT_MODIFIED, headers, Vec::new());
    }

    // If-Range: the range only applies to the representation the client already has.
    let range_valid = header(req, IF_RANGE).is_none_or(|v| v == etag || v == last_modified);
    let ask = match header(req, RANGE) {
        Some(range) if range_valid => parse_range(range, len),
        _ => RangeAsk::Whole,
    };
    set(&mut headers, CONTENT_TYPE, mime_type_for_path(&path));
    let (status, offset, count) = match ask {
        RangeAsk::Whole => (StatusCode::OK, 0, len),
        RangeAsk::Part(start, end) => {
            set(
                &mut headers,
                CONTENT_RANGE,
                &format!("bytes {start}-{end}/{len}"),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAsk::Unsatisfiable => {
            headers.remove(CONTENT_TYPE);
            set(&mut headers, CONTENT_RANGE, &format!("bytes */{len}"));
            return resp.write(StatusCode::RANGE_NOT_SATISFIABLE, headers, Vec::new());
        }
    };
    let mut response = HttpServerResponse::from_file_part(file, offset, count);
    response.set_status(status);
    *response.headers_mut() = headers;
    resp.send_response(response);
}

// ----- TLS --------------------------------------------------------------------------------

/// The server's TLS configuration from PEM files: the certificate chain (leaf first) and its
/// key. ALPN offers `h2`, then `http/1.1`.
fn tls_configuration(cert: &Path, key: &Path) -> Result<SslConfiguration, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let chain = SslCertificate::from_pem_list(&read(cert)?)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let key = SslKey::from_pem(&read(key)?).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut config = SslConfiguration::default();
    config.set_local_certificate_chain(chain);
    config.set_private_key(key);
    config.set_allowed_next_protocols(vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    config
        .server_config()
        .map_err(|e| format!("unusable certificate or key: {e}"))?;
    Ok(config)
}

// ----- routes -----------------------------------------------------------------------------

fn text(resp: HttpServerResponder, status: StatusCode, body: impl Into<String>) {
    resp.write_data(status, "text/plain; charset=utf-8", body.into());
}

fn json(resp: HttpServerResponder, status: StatusCode, mut body: String) {
    body.push('\n');
    resp.write_json(status, body);
}

fn add_routes(server: &HttpServer, root: Option<PathBuf>) {
    type Req<'a> = &'a HttpServerRequest;
    type Resp = HttpServerResponder;

    server
        .route("/", Method::GET, |_: Req, resp: Resp| {
            resp.write_data(StatusCode::OK, "text/plain", "hello");
        })
        .expect("valid route");

    server
        .route("/bytes/<arg>", Method::GET, |n: u64, _: Req, resp: Resp| {
            const MIME: &str = "application/octet-stream";
            if n <= 64 * 1024 {
                return resp.write_data(StatusCode::OK, MIME, pattern_bytes(n as usize));
            }
            let reader = PatternReader { pos: 0, len: n };
            resp.send_response(HttpServerResponse::from_reader(
                StatusCode::OK,
                MIME,
                reader,
                Some(n),
            ));
        })
        .expect("valid route");

    server
        .route("/echo", Methods::ANY, |req: Req, resp: Resp| {
            let mut headers = HeaderMap::new();
            if let Some(ct) = req.headers().get(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, ct.clone());
            }
            resp.write(StatusCode::OK, headers, req.body().clone());
        })
        .expect("valid route");

    server
        .route("/headers", Method::GET, |req: Req, resp: Resp| {
            json(resp, StatusCode::OK, headers_json(req.headers()));
        })
        .expect("valid route");

    server
        .route(
            "/status/<arg>",
            Method::GET,
            |code: u16, _: Req, resp: Resp| {
                match StatusCode::from_u16(code) {
                    // An interim status cannot be a final answer.
                    Ok(status) if code >= 200 => resp.write_status(status),
                    _ => text(resp, StatusCode::BAD_REQUEST, "bad status code\n"),
                }
            },
        )
        .expect("valid route");

    server
        .route(
            "/redirect/<arg>",
            Method::GET,
            |n: u32, _: Req, resp: Resp| {
                let location = match n {
                    0 => "/".to_owned(),
                    n => format!("/redirect/{}", n - 1),
                };
                let mut headers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&location) {
                    headers.insert(LOCATION, v);
                }
                resp.write(StatusCode::FOUND, headers, Vec::new());
            },
        )
        .expect("valid route");

    server
        .route(
            "/basic-auth/<arg>/<arg>",
            Method::GET,
            |user: String, pass: String, req: Req, resp: Resp| {
                let given = header(req, AUTHORIZATION)
                    .and_then(|v| v.strip_prefix("Basic ").or(v.strip_prefix("basic ")))
                    .and_then(|b64| base64_decode(b64.trim()))
                    .and_then(|raw| String::from_utf8(raw).ok());
                if given.as_deref() == Some(&format!("{user}:{pass}")) {
                    let mut body = String::from("{\"authenticated\":true,\"user\":");
                    push_json_string(&mut body, &user);
                    body.push('}');
                    return json(resp, StatusCode::OK, body);
                }
                let mut headers = HeaderMap::new();
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"slotnet\""),
                );
                resp.write(StatusCode::UNAUTHORIZED, headers, Vec::new());
            },
        )
        .expect("valid route");

    server
        .route(
            "/delay/<arg>",
            Method::GET,
            |ms: u64, _: Req, resp: Resp| {
                Timer::single_shot(Duration::from_millis(ms), move || {
                    json(resp, StatusCode::OK, format!("{{\"delay\":{ms}}}"));
                });
            },
        )
        .expect("valid route");

    server
        .route(
            "/stream/<arg>",
            Method::GET,
            |n: u64, req: Req, resp: Resp| {
                let lines = LineStream {
                    next: 0,
                    count: n,
                    url: req.url().to_string(),
                };
                resp.send_response(HttpServerResponse::from_reader(
                    StatusCode::OK,
                    "application/json",
                    lines,
                    None,
                ));
            },
        )
        .expect("valid route");

    server
        .route("/gzip", Method::GET, |req: Req, resp: Resp| {
            let mut doc = String::from("{\"gzipped\":true,\"method\":");
            push_json_string(&mut doc, req.method().as_str());
            doc.push_str(",\"headers\":");
            doc.push_str(&headers_json(req.headers()));
            doc.push_str("}\n");
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            let gz = encoder
                .write_all(doc.as_bytes())
                .and_then(|_| encoder.finish());
            match gz {
                Ok(gz) => {
                    let mut headers = HeaderMap::new();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    resp.write(StatusCode::OK, headers, gz);
                }
                Err(_) => resp.write_status(StatusCode::INTERNAL_SERVER_ERROR),
            }
        })
        .expect("valid route");

    server
        .route("/cookies/set", Method::GET, |req: Req, resp: Resp| {
            let mut headers = HeaderMap::new();
            for (name, value) in req.query_items() {
                if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}; Path=/")) {
                    headers.append(SET_COOKIE, v);
                }
            }
            headers.insert(LOCATION, HeaderValue::from_static("/cookies"));
            resp.write(StatusCode::FOUND, headers, Vec::new());
        })
        .expect("valid route");

    server
        .route("/cookies", Method::GET, |req: Req, resp: Resp| {
            let pairs: Vec<(String, String)> = req
                .headers()
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.split_once('='))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let cookies = object_json(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            json(resp, StatusCode::OK, format!("{{\"cookies\":{cookies}}}"));
        })
        .expect("valid route");

    server
        .route(
            "/files/<path>",
            Method::GET,
            move |rel: String, req: Req, resp: Resp| match &root {
                Some(root) => serve_file(root, &rel, req, resp),
                None => resp.write_status(StatusCode::NOT_FOUND),
            },
        )
        .expect("valid route");
}

// ----- main -------------------------------------------------------------------------------

fn run(opts: Options) -> i32 {
    let tls = match &opts.tls {
        Some((cert, key)) => match tls_configuration(cert, key) {
            Ok(config) => Some(config),
            Err(e) => {
                eprintln!("slotnet-serve: --tls: {e}");
                return 2;
            }
        },
        None => None,
    };
    let root = match &opts.root {
        Some(root) => match root.canonicalize() {
            Ok(root) if root.is_dir() => Some(root),
            _ => {
                eprintln!("slotnet-serve: --root {}: not a directory", root.display());
                return 2;
            }
        },
        None => None,
    };

    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if threads > 1 {
        return run_threads(&opts, threads, tls, root);
    }
    let lp = EventLoop::current();
    let server = build_server(opts.h2c, opts.quiet, root);

    let mut stdout = io::stdout().lock();
    for addr in &opts.listen {
        if let Some(config) = &tls {
            let ssl = SslServer::new();
            ssl.set_ssl_configuration(config.clone());
            if !ssl.listen(addr.ip(), addr.port()) || !server.bind_ssl(&ssl) {
                eprintln!(
                    "slotnet-serve: cannot listen on {addr}: {}",
                    ssl.error_string()
                );
                return 1;
            }
            let actual = ssl.server_socket_addr().unwrap_or(*addr);
            let _ = writeln!(stdout, "listening on https://{actual}");
            continue;
        }
        let tcp = TcpServer::new();
        if !tcp.listen(addr.ip(), addr.port()) || !server.bind(&tcp) {
            eprintln!(
                "slotnet-serve: cannot listen on {addr}: {}",
                tcp.error_string()
            );
            return 1;
        }
        let actual = tcp.server_socket_addr().unwrap_or(*addr);
        let _ = writeln!(stdout, "listening on http://{actual}");
    }
    if let Some(path) = &opts.unix {
        let local = LocalServer::new();
        if !local.listen(path) || !server.bind_local(&local) {
            eprintln!(
                "slotnet-serve: cannot listen on unix:{path}: {}",
                local.error_string()
            );
            return 1;
        }
        let _ = writeln!(stdout, "listening on unix:{path}");
    }
    let _ = stdout.flush();
    drop(stdout);

    let signals = Rc::new(Cell::new(0u32));
    let s = server.clone();
    let watched = watch_signals(move || {
        signals.set(signals.get() + 1);
        if signals.get() > 1 {
            // A second signal: stop waiting for answers in flight.
            EventLoop::current().quit();
            return;
        }
        s.shutdown();
        Timer::single_shot(SHUTDOWN_GRACE, || EventLoop::current().quit());
    });
    if let Err(e) = watched {
        eprintln!("slotnet-serve: cannot watch signals: {e}");
        return 1;
    }
    server
        .shutdown_finished()
        .connect(|_| EventLoop::current().quit());
    lp.exec();
    // Stop listening (a local socket file is removed) even after a forced exit.
    server.destroy();
    0
}

/// The server with its configuration, routes and request log: built once, or once per
/// thread with `--threads`.
fn build_server(h2c: bool, quiet: bool, root: Option<PathBuf>) -> HttpServer {
    let server = HttpServer::new();
    server.set_configuration(HttpServerConfiguration {
        server_header: Some(HeaderValue::from_static("slotnet")),
        h2c,
        ..HttpServerConfiguration::default()
    });
    add_routes(&server, root);
    if !quiet {
        server.after_request(|req, status, _| {
            let remote = req
                .remote_socket_addr()
                .map_or_else(|| "-".to_owned(), |a| a.to_string());
            eprintln!(
                "{remote} \"{} {} {:?}\" {}",
                req.method(),
                req.target(),
                req.version(),
                status.as_u16()
            );
        });
    }
    server
}

/// `--threads N` with N > 1: the same server on N threads (`ServerThreads`); this thread
/// only watches the signals.
fn run_threads(
    opts: &Options,
    threads: usize,
    tls: Option<SslConfiguration>,
    root: Option<PathBuf>,
) -> i32 {
    let mut listeners: Vec<Listen> = opts
        .listen
        .iter()
        .map(|addr| match &tls {
            Some(config) => Listen::Ssl(*addr, config.clone()),
            None => Listen::Tcp(*addr),
        })
        .collect();
    if let Some(path) = &opts.unix {
        listeners.push(Listen::Local(path.clone()));
    }
    let (h2c, quiet) = (opts.h2c, opts.quiet);
    let served = ServerThreads::start(
        threads,
        &listeners,
        opts.spread
            .unwrap_or_else(ConnectionSpread::platform_default),
        move || build_server(h2c, quiet, root.clone()),
    );
    let served = match served {
        Ok(served) => Rc::new(served),
        Err(e) => {
            eprintln!("slotnet-serve: cannot listen: {e}");
            return 1;
        }
    };
    let mut stdout = io::stdout().lock();
    for (listen, addr) in listeners.iter().zip(served.local_addrs()) {
        let _ = match (listen, addr) {
            (Listen::Local(path), _) => writeln!(stdout, "listening on unix:{path}"),
            (Listen::Ssl(..), Some(addr)) => writeln!(stdout, "listening on https://{addr}"),
            (_, addr) => writeln!(stdout, "listening on http://{}", addr.expect("TCP")),
        };
    }
    let _ = stdout.flush();
    drop(stdout);

    let signals = Rc::new(Cell::new(0u32));
    let s = served.clone();
    let watched = watch_signals(move || {
        signals.set(signals.get() + 1);
        if signals.get() > 1 {
            // A second signal: stop waiting for answers in flight.
            s.abort();
            return;
        }
        s.shutdown();
        let s = s.clone();
        Timer::single_shot(SHUTDOWN_GRACE, move || s.abort());
    });
    if let Err(e) = watched {
        eprintln!("slotnet-serve: cannot watch signals: {e}");
        return 1;
    }
    // The threads end on their own after a stop; look for that now and then.
    let ended = Timer::new();
    let s = served.clone();
    ended.timeout().connect(move |_| {
        if s.wait(Some(Duration::ZERO)) {
            EventLoop::current().quit();
        }
    });
    ended.start_interval(Duration::from_millis(50));
    EventLoop::current().exec();
    0
}

fn main() {
    let code = match parse_args(std::env::args().skip(1)) {
        Ok(opts) => run(opts),
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                0
            } else {
                eprintln!("slotnet-serve: {message}\n{USAGE}");
                2
            }
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAsk::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAsk::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), RangeAsk::Part(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeAsk::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAsk::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAsk::Whole);
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a b").is_none());
    }

    #[test]
    fn paths_stay_under_the_root() {
        let root = std::env::temp_dir().canonicalize().unwrap();
        assert!(resolve_under(&root, "../etc/passwd").is_none());
        assert!(resolve_under(&root, "/etc/passwd").is_none());
        assert!(resolve_under(&root, "a\\..\\b").is_none());
    }
}
