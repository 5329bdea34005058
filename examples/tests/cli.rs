//! The command-line programs of docs/cli.md, run as a user would.

use std::process::Command;

use slotnet_testkit::certs::pem_dir;
use slotnet_testkit::process::SlotnetServe;

#[test]
fn demo_runs_offline_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_slotnet-demo"))
        .output()
        .expect("run slotnet-demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}");
    for line in [
        "reply.redirected(",
        "reply.errorOccurred(ContentNotFoundError)",
        "reply.uploadProgress(17, 17)",
        "manager.authenticationRequired(demo)",
        "7 steps, 0 failed",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn fetch_rejects_a_bad_command_line_with_exit_2() {
    for args in [
        &[][..],
        &["--parallel", "0", "http://x/"][..],
        &["--bogus"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_slotnet-fetch"))
            .args(args)
            .output()
            .expect("run slotnet-fetch");
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
    }
}

#[test]
fn fetch_traces_data_urls_and_reports_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_slotnet-fetch"))
        .args(["--trace", "data:,hi", "file:///no/such/file"])
        .output()
        .expect("run slotnet-fetch");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one URL failed:\n{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi");
    assert!(stderr.contains("0 reply.readyRead()"), "{stderr}");
    assert!(
        stderr.contains("0 result status=200 error=NoError bytes=2 url=data:,hi http2=0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 reply.errorOccurred(ContentNotFoundError)"),
        "{stderr}"
    );
    assert!(stderr.contains("error: ContentNotFoundError: "), "{stderr}");
}

#[test]
fn fetch_bench_prints_one_summary_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_slotnet-fetch"))
        .args(["--bench", "--repeat", "50", "data:,x"])
        .output()
        .expect("run slotnet-fetch");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with("requests=50 ok=50 errors=0 seconds="),
        "{stdout}"
    );
    assert!(lines[0].contains(" rps="), "{stdout}");
}

// ----- TLS and HTTP/2 flags, against slotnet-serve ------------------------------------------

/// Runs slotnet-fetch; returns (exit code, stdout, stderr).
fn fetch(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_slotnet-fetch"))
        .args(args)
        .output()
        .expect("run slotnet-fetch");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tls_serve(dir: &std::path::Path) -> SlotnetServe {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    serve(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()])
}

#[test]
fn fetch_with_cacert_gets_https_over_http2_and_traces_encrypted() {
    let dir = pem_dir("cacert");
    let serve = tls_serve(&dir);
    assert!(serve.url.starts_with("https://"), "{}", serve.url);
    let ca = dir.join("ca.pem");
    let url = format!("{}/", serve.url);
    let (code, stdout, stderr) = fetch(&["--trace", "--cacert", ca.to_str().unwrap(), &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hello");
    let lines: Vec<&str> = stderr.lines().collect();
    let at = |l: &str| lines.iter().position(|x| *x == l);
    // Qt's order: the manager's slot runs before the reply's, both before requestSent.
    let (m, r, sent) = (
        at("manager.encrypted()").expect(&stderr),
        at("reply.encrypted()").expect(&stderr),
        at("reply.requestSent()").expect(&stderr),
    );
    assert!(m < r && r < sent, "{stderr}");
    assert!(!stderr.contains("sslErrors"), "{stderr}");
    assert_eq!(
        lines.last().copied(),
        Some(format!("result status=200 error=NoError bytes=5 url={url} http2=1").as_str()),
        "{stderr}"
    );

    // --http1.1 keeps h2 out of ALPN.
    let (code, _, stderr) = fetch(&[
        "--trace",
        "--http1.1",
        "--cacert",
        ca.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.trim_end().ends_with("http2=0"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn fetch_reports_ssl_errors_and_k_ignores_them() {
    let dir = pem_dir("insecure");
    let serve = tls_serve(&dir);
    let url = format!("{}/", serve.url);
    // The default configuration does not trust the test CA.
    let (code, stdout, stderr) = fetch(&["--trace", &url]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("manager.sslErrors("), "{stderr}");
    assert!(stderr.contains("reply.sslErrors("), "{stderr}");
    assert!(
        stderr.contains("reply.errorOccurred(SslHandshakeFailedError)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: SslHandshakeFailedError: "),
        "{stderr}"
    );
    assert!(!stderr.contains("reply.requestSent()"), "{stderr}");

    // -k ignores them from the sslErrors slot: the request goes through.
    let (code, stdout, stderr) = fetch(&["--trace", "-k", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hello");
    let errors = stderr.find("reply.sslErrors(").expect(&stderr);
    let encrypted = stderr.find("reply.encrypted()").expect(&stderr);
    assert!(errors < encrypted, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn fetch_http2_prior_knowledge_speaks_h2c() {
    let serve = serve(&["--h2c"]);
    let url = format!("{}/", serve.url);
    let (code, stdout, stderr) = fetch(&["--trace", "--http2-prior-knowledge", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hello");
    assert!(stderr.trim_end().ends_with("http2=1"), "{stderr}");
    // Without the flag, a cleartext URL is fetched over HTTP/1.1.
    let (code, _, stderr) = fetch(&["--trace", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.trim_end().ends_with("http2=0"), "{stderr}");
}

// ----- request and response flags, against slotnet-serve -------------------------------------

#[test]
fn fetch_sends_method_body_and_headers_and_writes_the_output_file() {
    let serve = serve(&[]);
    // -X with -d: the body goes to /echo and comes back.
    let (code, stdout, stderr) = fetch(&[
        "-X",
        "PUT",
        "-d",
        "payload",
        "-H",
        "Content-Type: text/x-test",
        &format!("{}/echo", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "payload");
    // -H reaches the server; -i prints the status line and headers before the body.
    let (code, stdout, stderr) = fetch(&[
        "-i",
        "-H",
        "X-Slotnet-Test: forty-two",
        &format!("{}/headers", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("HTTP/1.1 200"), "{stdout}");
    let (head, body) = stdout.split_once("\r\n\r\n").expect(&stdout);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(body.contains("forty-two"), "{body}");
    // -o writes the body to a file, nothing to stdout.
    let out = std::env::temp_dir().join(format!("slotnet-cli-out-{}", std::process::id()));
    let (code, stdout, stderr) = fetch(&[
        "-o",
        out.to_str().unwrap(),
        &format!("{}/bytes/300000", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "");
    let written = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(written.len(), 300_000);
    assert!(written.iter().enumerate().all(|(i, b)| *b == i as u8));
}

#[test]
fn fetch_head_redirect_auth_and_timeout_flags() {
    let serve = serve(&[]);
    let url = |path: &str| format!("{}{path}", serve.url);
    // -I: a HEAD request, no body, the announced length in the trace.
    let (code, stdout, stderr) = fetch(&["--trace", "-I", &url("/bytes/1234")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("reply.downloadProgress(0, 1234)"),
        "{stderr}"
    );
    // Redirects are followed by default (/redirect/2 -> /redirect/1 -> /redirect/0 -> /) ...
    let (code, stdout, stderr) = fetch(&["--trace", &url("/redirect/2")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hello");
    assert_eq!(stderr.matches("reply.redirected(").count(), 3, "{stderr}");
    // ... not with --no-follow (the 302 is the answer) ...
    let (code, _, stderr) = fetch(&["--trace", "--no-follow", &url("/redirect/2")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("reply.redirected("), "{stderr}");
    assert!(
        stderr.contains("result status=302 error=NoError"),
        "{stderr}"
    );
    // ... and --max-redirs bounds them.
    let (code, _, stderr) = fetch(&["--max-redirs", "1", &url("/redirect/3")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: TooManyRedirectsError: "),
        "{stderr}"
    );
    // -u answers authenticationRequired; without it the 401 stands.
    let auth = url("/basic-auth/alice/secret");
    let (code, stdout, stderr) = fetch(&["--trace", "-u", "alice:secret", &auth]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stdout.is_empty());
    assert!(
        stderr.contains("manager.authenticationRequired(slotnet)"),
        "{stderr}"
    );
    let (code, _, stderr) = fetch(&[&auth]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: AuthenticationRequiredError: "),
        "{stderr}"
    );
    // --timeout: an answer slower than the timeout ends in TimeoutError.
    let (code, _, stderr) = fetch(&["--timeout", "200", &url("/delay/3000")]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error: TimeoutError: "), "{stderr}");
}

#[test]
fn fetch_several_urls_prefix_their_trace_lines_and_bench_counts_every_request() {
    let serve = serve(&[]);
    let (a, b) = (
        format!("{}/", serve.url),
        format!("{}/status/404", serve.url),
    );
    let (code, _, stderr) = fetch(&["--trace", &a, &b]);
    assert_eq!(code, Some(1), "the 404 fails:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "0 result status=200 error=NoError bytes=5 url={a} http2=0"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 reply.errorOccurred(ContentNotFoundError)"),
        "{stderr}"
    );
    assert!(stderr.contains("error: ContentNotFoundError: "), "{stderr}");
    // --bench with --repeat and --parallel: every request counted, one line.
    let (code, stdout, stderr) = fetch(&["--bench", "--repeat", "200", "--parallel", "8", &a]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with("requests=200 ok=200 errors=0 seconds="),
        "{stdout}"
    );
    // --progress draws a bar on stderr even when it is not a terminal.
    let (code, _, stderr) = fetch(&[
        "--progress",
        "-o",
        "/dev/null",
        &format!("{}/bytes/2000000", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("100.0%"), "{stderr:?}");
}

// ----- several URLs: bodies stream in order with bounded memory ----------------------------

/// A loopback server for the ordering test: `/slow` answers 1000 bytes of `S` in two parts,
/// the second only once `release` is set; `/endless` streams chunks of `E` until `release`
/// is set and 8 MiB more went out, counting what it wrote (so what the client let it write).
struct OrderServer {
    port: u16,
    release: std::sync::Arc<std::sync::atomic::AtomicBool>,
    endless_written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl OrderServer {
    const SLOW_LEN: usize = 1000;
    const AFTER_RELEASE: u64 = 8 << 20;

    fn start() -> OrderServer {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let release = Arc::new(AtomicBool::new(false));
        let endless_written = Arc::new(AtomicU64::new(0));
        let (rel, written) = (release.clone(), endless_written.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (rel, written) = (rel.clone(), written.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    let target = line.split(' ').nth(1).unwrap_or("").to_owned();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                    }
                    if target == "/slow" {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            Self::SLOW_LEN
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(&[b'S'; 10]);
                        while !rel.load(Ordering::SeqCst) {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        let _ = stream.write_all(&[b'S'; Self::SLOW_LEN - 10]);
                        return;
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                    );
                    let mut chunk = b"10000\r\n".to_vec();
                    chunk.extend_from_slice(&[b'E'; 0x10000]);
                    chunk.extend_from_slice(b"\r\n");
                    let mut after_release = 0;
                    while after_release < Self::AFTER_RELEASE {
                        if stream.write_all(&chunk).is_err() {
                            return;
                        }
                        written.fetch_add(0x10000, Ordering::SeqCst);
                        if rel.load(Ordering::SeqCst) {
                            after_release += 0x10000;
                        }
                    }
                    let _ = stream.write_all(b"0\r\n\r\n");
                });
            }
        });
        OrderServer {
            port,
            release,
            endless_written,
        }
    }
}

/// The resident set of a process in KiB (Linux), 0 if unknown.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Two URLs, the first slow, the second an endless-until-told body: while the first is in
/// flight, slotnet-fetch must not read the second's body into memory (the server is held by
/// TCP backpressure and the process stays small), and the output is the first body, then the
/// second, complete and in order.
#[test]
fn fetch_streams_several_bodies_in_order_without_buffering_later_ones() {
    use std::io::Read;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let server = OrderServer::start();
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut child = Command::new(env!("CARGO_BIN_EXE_slotnet-fetch"))
        .args([format!("{base}/slow"), format!("{base}/endless")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run slotnet-fetch");
    let mut stdout = child.stdout.take().unwrap();
    let output = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let started = Instant::now();
    while server.endless_written.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the second request never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give a buffering client ample time to swallow hundreds of megabytes.
    std::thread::sleep(Duration::from_secs(3));
    let written_while_waiting = server.endless_written.load(Ordering::SeqCst);
    let rss = rss_kib(child.id());
    server.release.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("slotnet-fetch did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    assert!(status.success(), "{stderr}");
    assert!(
        written_while_waiting < 32 << 20,
        "the server wrote {written_while_waiting} bytes of the second body while the first was \
         in flight: they were buffered"
    );
    assert!(rss > 0 && rss < 64 * 1024, "slotnet-fetch held {rss} KiB");
    let out = output.join().unwrap();
    let total = server.endless_written.load(Ordering::SeqCst) as usize;
    assert_eq!(out.len(), OrderServer::SLOW_LEN + total, "{stderr}");
    assert!(out[..OrderServer::SLOW_LEN].iter().all(|&b| b == b'S'));
    assert!(out[OrderServer::SLOW_LEN..].iter().all(|&b| b == b'E'));
}

#[test]
fn serve_threads_serves_every_request_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    let mut serve = serve(&["--threads", "2", "--h2c"]);
    let addr = serve.url.strip_prefix("http://").unwrap().to_owned();
    // Several connections at once: the kernel spreads them over the two threads.
    let mut conns: Vec<_> = (0..8)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    for c in &mut conns {
        c.write_all(b"GET /bytes/3 HTTP/1.0\r\n\r\n").unwrap();
    }
    for mut c in conns {
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).unwrap();
        assert!(answer.starts_with(b"HTTP/1.0 200 OK\r\n"));
        assert!(answer.ends_with(b"\r\n\r\n\x00\x01\x02"));
    }
    let (code, out, _) = fetch(&[
        "--http2-prior-knowledge",
        "--trace",
        &format!("http://{addr}/"),
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("hello"), "{out}");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(serve.pid() as i32, libc::SIGTERM) }, 0);
    assert_eq!(serve.wait().code(), Some(0));
}

#[test]
fn fetch_cookie_jar_keeps_session_cookies_for_the_next_run_as_curl_c_does() {
    let serve = serve(&[]);
    let jar = std::env::temp_dir().join(format!("slotnet-cli-jar-{}", std::process::id()));
    let _ = std::fs::remove_file(&jar);
    // A login sets a session cookie (no Expires, no Max-Age) and redirects to /cookies.
    let (code, stdout, stderr) = fetch(&[
        "--cookie-jar",
        jar.to_str().unwrap(),
        &format!("{}/cookies/set?login=abc", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"login\":\"abc\""), "{stdout}");
    // The next run, a new process, still sends it.
    let (code, stdout, stderr) = fetch(&[
        "--cookie-jar",
        jar.to_str().unwrap(),
        &format!("{}/cookies", serve.url),
    ]);
    let saved = std::fs::read_to_string(&jar).unwrap_or_default();
    let _ = std::fs::remove_file(&jar);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("\"login\":\"abc\""),
        "{stdout}\njar:\n{saved}"
    );
}

#[test]
fn fetch_v_shows_the_connection_and_the_exchange_as_curl_v_does() {
    let serve = serve(&[]);
    let (code, stdout, stderr) = fetch(&[
        "-v",
        "-H",
        "X-Slotnet-Test: seven",
        &format!("{}/redirect/0", serve.url),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "hello");
    let port = serve.url.rsplit(':').next().unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    let has = |line: &str| lines.contains(&line);
    assert!(has(&format!("*   Trying 127.0.0.1:{port}...")), "{stderr}");
    assert!(has("> GET /redirect/0 HTTP/1.1"), "{stderr}");
    assert!(has("> X-Slotnet-Test: seven"), "{stderr}");
    assert!(
        has(&format!(
            "* Issue another request to this URL: '{}/'",
            serve.url
        )),
        "{stderr}"
    );
    assert!(has("> GET / HTTP/1.1"), "{stderr}");
    assert!(has("< HTTP/1.1 200 OK"), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("< content-length: 5")),
        "{stderr}"
    );
    // The request lines come before the response's.
    let sent = lines.iter().position(|l| *l == "> GET / HTTP/1.1").unwrap();
    let answered = lines
        .iter()
        .position(|l| *l == "< HTTP/1.1 200 OK")
        .unwrap();
    assert!(sent < answered, "{stderr}");
}

#[test]
fn fetch_v_shows_the_connect_the_tls_handshake_and_the_reuse_from_the_library_logs() {
    let dir = pem_dir("verbose-tls");
    let serve = tls_serve(&dir);
    let ca = dir.join("ca.pem");
    let url = format!("{}/", serve.url);
    let port = serve.url.rsplit(':').next().unwrap();
    // Two requests one after the other: the second takes the first one's connection.
    for (http1, reused) in [
        (
            false,
            "* Re-using existing HTTP/2 connection with host 127.0.0.1:",
        ),
        (true, "* Re-using existing connection with host 127.0.0.1:"),
    ] {
        let mut args = vec!["-v", "--parallel", "1", "--cacert", ca.to_str().unwrap()];
        if http1 {
            args.push("--http1.1");
        }
        args.extend([url.as_str(), url.as_str()]);
        let (code, stdout, stderr) = fetch(&args);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stdout, "hellohello");
        let lines: Vec<&str> = stderr.lines().collect();
        let at = |line: &str| {
            lines
                .iter()
                .position(|l| *l == line)
                .unwrap_or_else(|| panic!("no {line:?} in\n{stderr}"))
        };
        let trying = at(&format!("*   Trying 127.0.0.1:{port}..."));
        let connected = at(&format!("* Connected to 127.0.0.1 (127.0.0.1) port {port}"));
        let offer = if http1 { "http/1.1" } else { "h2,http/1.1" };
        let handshake = at(&format!(
            "* TLS handshake started with 127.0.0.1, ALPN offers: {offer}"
        ));
        let using = lines
            .iter()
            .position(|l| l.starts_with("* TLS connection using TLSv1.3 / TLS_"))
            .unwrap_or_else(|| panic!("no TLS summary in\n{stderr}"));
        let alpn = at(if http1 {
            "* ALPN: server accepted http/1.1"
        } else {
            "* ALPN: server accepted h2"
        });
        let reuse = at(&format!("{reused}{port}"));
        assert!(
            trying < connected && connected < handshake && handshake < using && using < alpn,
            "{stderr}"
        );
        assert!(alpn < reuse, "{stderr}");
        // One connection for both requests.
        let connects = lines
            .iter()
            .filter(|l| l.starts_with("* Connected to"))
            .count();
        assert_eq!(connects, 1, "{stderr}");
        // The exchange itself still comes as curl's heads (with the URL's index), not as
        // log lines.
        assert!(lines.contains(&"1 > GET / HTTP/1.1"), "{stderr}");
    }
}

/// Starts this package's `slotnet-serve` with `args` on a free loopback port.
fn serve(args: &[&str]) -> SlotnetServe {
    SlotnetServe::start(env!("CARGO_BIN_EXE_slotnet-serve"), args)
}
