//! slotnet-fetch: a curl-like client on `NetworkAccessManager` (docs/cli.md).
//!
//! Every URL goes through one manager; `--parallel N` bounds the requests in flight,
//! `--repeat K` fetches each URL K times, `--trace` prints every signal in the format of the Qt
//! anchor `qnam_trace`, `--bench` discards bodies and prints one summary line.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slotnet_core::EventLoop;
use slotnet_http::cache::NetworkDiskCache;
use slotnet_http::cookies::NetworkCookieJar;
use slotnet_http::net::proxy::parse_proxy_url;
use slotnet_http::trace::SignalTrace;
use slotnet_http::{
    Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest, RedirectPolicy,
    RequestBody,
};
use slotnet_net::ssl::{SslCertificate, SslConfiguration};

const USAGE: &str = "usage: slotnet-fetch [OPTIONS] URL...
  -X, --request METHOD      method (default GET; POST with -d)
  -d, --data DATA           request body; @FILE streams the file
  -H, --header 'N: V'       extra request header (repeatable)
  -o, --output FILE         write bodies there (default stdout)
  -I, --head                HEAD request
  -i, --include             print status line and headers before the body
      --no-follow           do not follow redirects (ManualRedirectPolicy)
      --max-redirs N        maximum redirects (default 50)
  -u, --user USER:PASS      credentials for authenticationRequired
      --proxy URL           http://host:port or socks5://host:port
      --proxy-user USER:PASS
  -k, --insecure            ignore TLS certificate errors
      --cacert FILE         PEM CA certificates to trust
      --http1.1             HTTP/1.1 only
      --http2-prior-knowledge  cleartext HTTP/2 without upgrade
      --timeout MS          transfer (inactivity) timeout
      --cookie-jar FILE     load cookies before, save after (session ones too)
      --cache DIR           use a NetworkDiskCache in DIR
      --trace               print every signal to stderr
  -v, --verbose             show connections, request and response heads on stderr
      --parallel N          requests in flight (default 6)
      --repeat K            fetch each URL K times
      --bench               discard bodies, print one summary line
      --progress / --no-progress";

/// The parsed command line.
#[derive(Default)]
struct Options {
    method: Option<String>,
    data: Option<String>,
    headers: Vec<(String, String)>,
    output: Option<String>,
    head: bool,
    include: bool,
    no_follow: bool,
    max_redirs: Option<u32>,
    user: Option<String>,
    proxy: Option<String>,
    proxy_user: Option<String>,
    insecure: bool,
    cacert: Option<String>,
    http1_only: bool,
    h2_prior_knowledge: bool,
    timeout: Option<Duration>,
    cookie_jar: Option<String>,
    cache: Option<String>,
    trace: bool,
    verbose: bool,
    parallel: usize,
    repeat: usize,
    bench: bool,
    progress: Option<bool>,
    urls: Vec<String>,
}

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options {
        parallel: 6,
        repeat: 1,
        ..Options::default()
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-X" | "--request" => o.method = Some(value(&arg)?),
            "-d" | "--data" => o.data = Some(value(&arg)?),
            "-H" | "--header" => {
                let h = value(&arg)?;
                let (n, v) = h
                    .split_once(':')
                    .ok_or_else(|| format!("bad header {h:?}: expected 'Name: value'"))?;
                o.headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
            "-o" | "--output" => o.output = Some(value(&arg)?),
            "-I" | "--head" => o.head = true,
            "-i" | "--include" => o.include = true,
            "--no-follow" => o.no_follow = true,
            "--max-redirs" => {
                o.max_redirs = Some(value(&arg)?.parse().map_err(|_| "bad --max-redirs")?)
            }
            "-u" | "--user" => o.user = Some(value(&arg)?),
            "--proxy" => o.proxy = Some(value(&arg)?),
            "--proxy-user" => o.proxy_user = Some(value(&arg)?),
            "-k" | "--insecure" => o.insecure = true,
            "--cacert" => o.cacert = Some(value(&arg)?),
            "--http1.1" => o.http1_only = true,
            "--http2-prior-knowledge" => o.h2_prior_knowledge = true,
            "--timeout" => {
                let ms: u64 = value(&arg)?.parse().map_err(|_| "bad --timeout")?;
                o.timeout = Some(Duration::from_millis(ms));
            }
            "--cookie-jar" => o.cookie_jar = Some(value(&arg)?),
            "--cache" => o.cache = Some(value(&arg)?),
            "--trace" => o.trace = true,
            "-v" | "--verbose" => o.verbose = true,
            "--parallel" => {
                o.parallel = value(&arg)?.parse().map_err(|_| "bad --parallel")?;
                if o.parallel == 0 {
                    return Err("--parallel must be at least 1".into());
                }
            }
            "--repeat" => o.repeat = value(&arg)?.parse().map_err(|_| "bad --repeat")?,
            "--bench" => o.bench = true,
            "--progress" => o.progress = Some(true),
            "--no-progress" => o.progress = Some(false),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => o.urls.push(arg),
        }
    }
    if o.urls.is_empty() {
        return Err("no URL given".into());
    }
    for (flag, value) in [("--user", &o.user), ("--proxy-user", &o.proxy_user)] {
        if value.as_deref().is_some_and(|v| !v.contains(':')) {
            return Err(format!("{flag} expects USER:PASS"));
        }
    }
    if let Some(proxy) = &o.proxy {
        if parse_proxy_url(proxy).is_none() {
            return Err(format!(
                "bad --proxy {proxy:?}: expected http://host:port or socks5://host:port"
            ));
        }
    }
    Ok(o)
}

/// `USER:PASS` split at the first colon (the password may contain colons).
fn credentials(value: &str) -> (String, String) {
    let (user, password) = value.split_once(':').unwrap_or((value, ""));
    (user.to_owned(), password.to_owned())
}

/// Applies `-u`, `--proxy`, `--proxy-user`, `--cookie-jar` and `--cache` to the manager.
/// Returns the cookie jar to save at the end, if any.
fn configure_features(
    manager: &NetworkAccessManager,
    opts: &Options,
) -> Result<Option<Rc<RefCell<NetworkCookieJar>>>, String> {
    if let Some(user) = &opts.user {
        // Answer every prompt with the same credentials, as qnam_trace does: a server that
        // rejects them is asked twice, then Qt (and slotnet) give up.
        let (user, password) = credentials(user);
        manager
            .authentication_required()
            .connect(move |(_reply, auth)| {
                let mut auth = auth.borrow_mut();
                auth.set_user(user.clone());
                auth.set_password(password.clone());
            });
    }
    if let Some(proxy) = &opts.proxy {
        // Checked in parse_args.
        if let Some(proxy) = parse_proxy_url(proxy) {
            manager.set_proxy(proxy);
        }
    }
    if let Some(user) = &opts.proxy_user {
        let (user, password) = credentials(user);
        manager
            .proxy_authentication_required()
            .connect(move |(_proxy, auth)| {
                let mut auth = auth.borrow_mut();
                auth.set_user(user.clone());
                auth.set_password(password.clone());
            });
    }
    if let Some(dir) = &opts.cache {
        let cache =
            NetworkDiskCache::new(dir).map_err(|e| format!("cannot use cache {dir}: {e}"))?;
        manager.set_cache(Some(Box::new(cache)));
    }
    let Some(path) = &opts.cookie_jar else {
        return Ok(None);
    };
    let mut jar = NetworkCookieJar::new();
    match jar.load(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read cookie jar {path}: {e}")),
    }
    let jar = Rc::new(RefCell::new(jar));
    manager.set_cookie_jar(jar.clone());
    Ok(Some(jar))
}

/// Where bodies go: stdout or a file, in URL order.
enum Sink {
    Stdout(std::io::Stdout),
    File(File),
    Discard,
}

impl Sink {
    fn write(&mut self, data: &[u8]) {
        let result = match self {
            Sink::Stdout(s) => s.write_all(data),
            Sink::File(f) => f.write_all(data),
            Sink::Discard => Ok(()),
        };
        if let Err(e) = result {
            eprintln!("error: writing output: {e}");
            std::process::exit(1);
        }
    }
}

/// One request to make.
struct Task {
    index: usize,
    url: String,
}

/// How much of a reply's body may wait in memory until its turn to be written: its read
/// buffer. Beyond that the connection stops reading and TCP holds the server back.
const WAITING_READ_BUFFER: usize = 256 * 1024;

/// A reply whose body goes to the output when its turn comes (output stays in URL order).
struct Ordered {
    reply: NetworkReply,
    trace: Option<SignalTrace>,
    /// Body bytes read from the reply so far.
    received: Cell<u64>,
    /// Whether `-i`'s status line and headers were written.
    head_written: Cell<bool>,
    finished: Cell<bool>,
}

/// Shared state of the run.
struct Run {
    opts: Options,
    manager: NetworkAccessManager,
    queue: RefCell<VecDeque<Task>>,
    in_flight: Cell<usize>,
    total: usize,
    done: Cell<usize>,
    ok: Cell<usize>,
    errors: Cell<usize>,
    sink: RefCell<Sink>,
    /// Replies started and not yet written out, by URL index. Only the one at `next_output`
    /// is read; the others keep at most their read buffer.
    ordered: RefCell<Vec<Option<Rc<Ordered>>>>,
    next_output: Cell<usize>,
    progress: bool,
    /// The TLS configuration from --cacert (`None`: the system's roots).
    tls: Option<SslConfiguration>,
    /// The last request built, by URL.
    template: RefCell<Option<(String, NetworkRequest)>>,
}

impl Run {
    fn request_for(&self, url: &str) -> NetworkRequest {
        // Parsed once per distinct URL: --repeat makes thousands of identical requests.
        if let Some((cached, req)) = &*self.template.borrow() {
            if cached == url {
                return req.clone();
            }
        }
        let mut req = NetworkRequest::from_url_str(url);
        for (n, v) in &self.opts.headers {
            req.set_raw_header(n, v.clone());
        }
        if self.opts.no_follow {
            req.set_attribute(
                Attribute::RedirectPolicy,
                RedirectPolicy::ManualRedirectPolicy,
            );
        }
        if let Some(max) = self.opts.max_redirs {
            req.set_maximum_redirects_allowed(max);
        }
        if self.opts.http1_only {
            req.set_attribute(Attribute::Http2Allowed, false);
        }
        if self.opts.h2_prior_knowledge {
            req.set_attribute(Attribute::Http2Direct, true);
        }
        if let Some(config) = &self.tls {
            req.set_ssl_configuration(config.clone());
        }
        if let Some(t) = self.opts.timeout {
            req.set_transfer_timeout(Some(t));
        }
        *self.template.borrow_mut() = Some((url.to_owned(), req.clone()));
        req
    }

    fn body(&self) -> Result<RequestBody, String> {
        match self.opts.data.as_deref() {
            None => Ok(RequestBody::Empty),
            Some(d) => match d.strip_prefix('@') {
                Some(path) => {
                    let f = File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
                    let size = f.metadata().ok().map(|m| m.len());
                    Ok(RequestBody::from_reader(f, size))
                }
                None => Ok(RequestBody::from(d.to_owned())),
            },
        }
    }

    fn method(&self) -> String {
        if let Some(m) = &self.opts.method {
            return m.to_uppercase();
        }
        if self.opts.head {
            "HEAD".into()
        } else if self.opts.data.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    }
}

fn start_next(run: &Rc<Run>) {
    while run.in_flight.get() < run.opts.parallel {
        let Some(task) = run.queue.borrow_mut().pop_front() else {
            return;
        };
        run.in_flight.set(run.in_flight.get() + 1);
        let body = match run.body() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        };
        let request = run.request_for(&task.url);
        let method = run.method();
        let reply = match method.as_str() {
            "GET" if body.is_empty() => run.manager.get(request),
            "HEAD" => run.manager.head(request),
            "POST" => run.manager.post(request, body),
            "PUT" => run.manager.put(request, body),
            "DELETE" if body.is_empty() => run.manager.delete_resource(request),
            other => run.manager.send_custom_request(request, other, body),
        };
        watch(run, reply, task.index);
    }
}

fn watch(run: &Rc<Run>, reply: NetworkReply, index: usize) {
    let multi = run.total > 1;
    let trace = if run.opts.trace {
        let prefix = if multi {
            format!("{index} ")
        } else {
            String::new()
        };
        let t = SignalTrace::with_sink(move |line| eprintln!("{prefix}{line}"));
        t.watch_manager(&run.manager, reply);
        let auth = t.clone();
        run.manager
            .authentication_required()
            .connect(move |(r, authenticator)| {
                if *r == reply {
                    auth.push(format!(
                        "manager.authenticationRequired({})",
                        authenticator.borrow().realm()
                    ));
                }
            });
        t.watch_reply(reply);
        Some(t)
    } else {
        None
    };
    if run.opts.verbose {
        watch_verbose(
            reply,
            if multi {
                format!("{index} ")
            } else {
                String::new()
            },
        );
    }
    if run.progress {
        let last = Rc::new(Cell::new(Instant::now() - Duration::from_secs(1)));
        reply.download_progress().connect(move |(n, total)| {
            let now = Instant::now();
            if now.duration_since(last.get()) < Duration::from_millis(100) && n != total {
                return;
            }
            last.set(now);
            draw_progress(*n, *total);
        });
    }
    if run.opts.bench {
        watch_bench(run, reply, trace);
        return;
    }
    // A reply that is not next in line keeps its body in its bounded read buffer; the one
    // that is streams to the output as it arrives.
    reply.set_read_buffer_size(WAITING_READ_BUFFER);
    let ordered = Rc::new(Ordered {
        reply,
        trace,
        received: Cell::new(0),
        head_written: Cell::new(false),
        finished: Cell::new(false),
    });
    run.ordered.borrow_mut()[index] = Some(ordered.clone());
    let r = run.clone();
    reply.ready_read().connect(move |_| {
        if r.next_output.get() == index {
            write_in_order(&r);
        }
    });
    let r = run.clone();
    reply.finished().connect(move |_| {
        if r.progress {
            eprintln!();
        }
        ordered.finished.set(true);
        r.in_flight.set(r.in_flight.get() - 1);
        write_in_order(&r);
        start_next(&r);
    });
}

/// `-v`, the connection's part: the library's own log records (name lookup, connect, proxy
/// tunnels, TLS, the connection pool, HTTP/2, authentication, the cache), printed on stderr
/// as `curl -v` prints its `*` lines. Left out are the targets whose story the reply's
/// signals tell below in curl's words: the HTTP/1.1 summaries (the `>` and `<` heads show
/// them in full) and redirects (`Issue another request`). The records carry no reply, so
/// with several URLs these lines have no index prefix.
struct VerboseLog;

impl log::Log for VerboseLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let target = metadata.target();
        metadata.level() <= log::Level::Debug
            && target.starts_with("slotnet::network")
            && target != slotnet_http::log_target::HTTP1
            && target != slotnet_http::log_target::REDIRECT
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        // curl indents its connect attempts: `*   Trying 127.0.0.1:443...`.
        let indent = if message.starts_with("Trying ") {
            "   "
        } else {
            " "
        };
        eprintln!("*{indent}{message}");
    }

    fn flush(&self) {}
}

static VERBOSE_LOG: VerboseLog = VerboseLog;

/// `-v`, the exchange's part, from the reply's signals: `>` for the request head, `<` for
/// the response head, `*` for redirects, on stderr. The request head is the request as the
/// manager made it (its own headers such as `Host` and `Connection` are added by the engine
/// below it and not shown).
fn watch_verbose(reply: NetworkReply, prefix: String) {
    let prefix = Rc::new(prefix);
    let p = prefix.clone();
    reply.request_sent().connect(move |_| {
        let Some(request) = reply.request() else {
            return;
        };
        let Some(url) = request.url() else { return };
        let mut target = url.path().to_owned();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let method = match reply.operation() {
            slotnet_http::Operation::HeadOperation => "HEAD".to_owned(),
            slotnet_http::Operation::GetOperation => "GET".to_owned(),
            slotnet_http::Operation::PostOperation => "POST".to_owned(),
            slotnet_http::Operation::PutOperation => "PUT".to_owned(),
            slotnet_http::Operation::DeleteOperation => "DELETE".to_owned(),
            _ => request
                .attribute(Attribute::CustomVerb)
                .and_then(|v| v.as_text().map(str::to_owned))
                .unwrap_or_else(|| "?".to_owned()),
        };
        let mut head = format!("{p}> {method} {target} HTTP/1.1\n");
        for (name, value) in request.raw_header_pairs() {
            head.push_str(&format!("{p}> {name}: {value}\n"));
        }
        head.push_str(&format!("{p}>"));
        eprintln!("{head}");
    });
    let p = prefix.clone();
    reply.meta_data_changed().connect(move |_| {
        let mut head = String::new();
        for line in head_text(reply).lines() {
            head.push_str(format!("{p}< {line}").trim_end());
            head.push('\n');
        }
        eprint!("{head}");
    });
    reply.redirected().connect(move |url| {
        eprintln!("{prefix}* Issue another request to this URL: '{url}'");
    });
}

/// `--bench`: bodies are read and dropped, the reply is accounted for when it finishes.
fn watch_bench(run: &Rc<Run>, reply: NetworkReply, trace: Option<SignalTrace>) {
    let received = Rc::new(Cell::new(0u64));
    let rec = received.clone();
    reply.ready_read().connect(move |_| {
        while let Some(chunk) = reply.read_chunk() {
            rec.set(rec.get() + chunk.len() as u64);
        }
    });
    let r = run.clone();
    reply.finished().connect(move |_| {
        while let Some(chunk) = reply.read_chunk() {
            received.set(received.get() + chunk.len() as u64);
        }
        r.in_flight.set(r.in_flight.get() - 1);
        account(&r, reply, trace.as_ref(), received.get());
        start_next(&r);
    });
}

/// Writes what the reply next in URL order has received; once that reply has finished and
/// its body is out, the next one takes its turn.
fn write_in_order(run: &Run) {
    loop {
        let i = run.next_output.get();
        let Some(ordered) = run.ordered.borrow().get(i).cloned().flatten() else {
            return;
        };
        let reply = ordered.reply;
        while let Some(chunk) = reply.read_chunk() {
            ordered
                .received
                .set(ordered.received.get() + chunk.len() as u64);
            write_head_once(run, &ordered);
            run.sink.borrow_mut().write(&chunk);
        }
        if !ordered.finished.get() {
            return;
        }
        write_head_once(run, &ordered);
        run.ordered.borrow_mut()[i] = None;
        run.next_output.set(i + 1);
        account(run, reply, ordered.trace.as_ref(), ordered.received.get());
    }
}

/// `-i`: the status line and headers, before the first body byte (or alone).
fn write_head_once(run: &Run, ordered: &Ordered) {
    if run.opts.include && !ordered.head_written.replace(true) {
        let head = head_text(ordered.reply);
        run.sink.borrow_mut().write(head.as_bytes());
    }
}

/// A reply is done (and its body written): its `result` line, its error, the counts.
fn account(run: &Run, reply: NetworkReply, trace: Option<&SignalTrace>, received: u64) {
    if let Some(t) = trace {
        t.push(SignalTrace::result_line(reply, received));
    }
    let error = reply.error();
    if error == NetworkError::NoError {
        run.ok.set(run.ok.get() + 1);
    } else {
        run.errors.set(run.errors.get() + 1);
        if !run.opts.bench {
            eprintln!("error: {}: {}", error.name(), reply.error_string());
        }
    }
    reply.delete_later();
    run.done.set(run.done.get() + 1);
    if run.done.get() == run.total {
        EventLoop::current().quit();
    }
}

fn head_text(reply: NetworkReply) -> String {
    let status = reply.status_code().unwrap_or(0);
    let reason = reply
        .attribute(Attribute::HttpReasonPhrase)
        .and_then(|v| v.as_text().map(str::to_owned))
        .unwrap_or_default();
    let http2 = reply
        .attribute(Attribute::Http2WasUsed)
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let mut s = if http2 {
        format!("HTTP/2 {status}\r\n")
    } else {
        format!("HTTP/1.1 {status} {reason}\r\n")
    };
    for (n, v) in reply.raw_header_pairs() {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s
}

fn draw_progress(n: i64, total: i64) {
    const WIDTH: usize = 30;
    let mb = |b: i64| b as f64 / 1e6;
    let line = if total > 0 {
        let frac = (n as f64 / total as f64).clamp(0.0, 1.0);
        let filled = (frac * WIDTH as f64) as usize;
        format!(
            "\r[{}{}] {:5.1}% {:.1}/{:.1} MB",
            "=".repeat(filled),
            " ".repeat(WIDTH - filled),
            frac * 100.0,
            mb(n),
            mb(total)
        )
    } else {
        format!("\r{:.1} MB", mb(n))
    };
    let mut err = std::io::stderr();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1).collect()) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("slotnet-fetch: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sink = if opts.bench {
        Sink::Discard
    } else if let Some(path) = &opts.output {
        match File::create(path) {
            Ok(f) => Sink::File(f),
            Err(e) => {
                eprintln!("slotnet-fetch: cannot create {path}: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Sink::Stdout(std::io::stdout())
    };
    if opts.verbose {
        // The first logger wins; this program installs no other.
        if log::set_logger(&VERBOSE_LOG).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
    let mut queue = VecDeque::new();
    for round in 0..opts.repeat {
        for (i, url) in opts.urls.iter().enumerate() {
            queue.push_back(Task {
                index: round * opts.urls.len() + i,
                url: url.clone(),
            });
        }
    }
    let total = queue.len();
    let progress = opts
        .progress
        .unwrap_or(total == 1 && std::io::stderr().is_terminal())
        && !opts.bench;
    let tls = match &opts.cacert {
        None => None,
        Some(path) => {
            let pem = match std::fs::read(path) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("slotnet-fetch: cannot read {path}: {e}");
                    return ExitCode::from(2);
                }
            };
            match SslCertificate::from_pem_list(&pem) {
                Ok(certs) if !certs.is_empty() => {
                    let mut config = SslConfiguration::default();
                    config.add_ca_certificates(certs);
                    Some(config)
                }
                _ => {
                    eprintln!("slotnet-fetch: no PEM certificate in {path}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let manager = NetworkAccessManager::new();
    if opts.insecure {
        // -k: ignore certificate errors from the sslErrors slot, as a Qt program would.
        manager
            .ssl_errors()
            .connect(|(reply, _errors)| reply.ignore_ssl_errors());
    }
    if let Some(t) = opts.timeout {
        manager.set_transfer_timeout(Some(t));
    }
    let jar = match configure_features(&manager, &opts) {
        Ok(jar) => jar,
        Err(e) => {
            eprintln!("slotnet-fetch: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.trace {
        // The proxy's question concerns a connection, not one reply: no index prefix.
        manager
            .proxy_authentication_required()
            .connect(|(_proxy, auth)| {
                eprintln!(
                    "manager.proxyAuthenticationRequired({})",
                    auth.borrow().realm()
                )
            });
    }
    let bench = opts.bench;
    let run = Rc::new(Run {
        opts,
        manager,
        queue: RefCell::new(queue),
        in_flight: Cell::new(0),
        total,
        done: Cell::new(0),
        ok: Cell::new(0),
        errors: Cell::new(0),
        sink: RefCell::new(sink),
        ordered: RefCell::new(vec![None; if bench { 0 } else { total }]),
        next_output: Cell::new(0),
        progress,
        template: RefCell::new(None),
        tls,
    });
    let started = Instant::now();
    if total > 0 {
        start_next(&run);
        EventLoop::current().exec();
    }
    let seconds = started.elapsed().as_secs_f64();
    if run.opts.bench {
        println!(
            "requests={} ok={} errors={} seconds={:.3} rps={:.0}",
            total,
            run.ok.get(),
            run.errors.get(),
            seconds,
            total as f64 / seconds
        );
    }
    if let Sink::Stdout(s) = &mut *run.sink.borrow_mut() {
        let _ = s.flush();
    }
    if let (Some(jar), Some(path)) = (jar, &run.opts.cookie_jar) {
        // Session cookies too, as `curl -c`: the next run is the same session (a login).
        if let Err(e) = jar.borrow().save_with_session_cookies(path) {
            eprintln!("slotnet-fetch: cannot save cookie jar {path}: {e}");
        }
    }
    if run.errors.get() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
