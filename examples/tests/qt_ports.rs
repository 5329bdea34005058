//! Qt's examples ported to slotnet (examples/qt-ports/), run against loopback servers; each
//! asserts what its Qt original prints.

use std::process::Command;

use slotnet_testkit::certs::pem_dir;
use slotnet_testkit::process::SlotnetServe;

/// Runs a ported program; returns (exit code, stdout, stderr).
fn run(program: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run the ported program");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("slotnet-qt-ports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const DOWNLOAD_MANAGER: &str = env!("CARGO_BIN_EXE_qt-download-manager");

#[test]
fn download_manager_downloads_in_turn_follows_redirects_and_reports_failures() {
    let serve = serve(&[]);
    let dir = scratch_dir("downloads");
    let urls = [
        format!("{}/bytes/100000", serve.url),
        format!("{}/redirect/2", serve.url),
        format!("{}/status/404", serve.url),
    ];
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    args.extend(urls.iter().map(String::as_str));
    let (code, stdout, stderr) = run(DOWNLOAD_MANAGER, &args);
    // What Qt's downloadmanager prints for the same three URLs.
    assert_eq!(
        stdout,
        format!(
            "Downloading {0}...\nSucceeded.\n\
             Downloading {1}...\nSucceeded.\n\
             Downloading {2}...\nFailed: Error transferring {2} - server replied: Not Found\n\
             2/3 files downloaded successfully\n",
            urls[0], urls[1], urls[2]
        )
    );
    assert_eq!(code, Some(1), "not every file was downloaded");
    assert_eq!(std::fs::read(dir.join("100000")).unwrap().len(), 100_000);
    // The redirect was followed to "/", whose answer was saved under the URL's name.
    assert_eq!(std::fs::read(dir.join("2")).unwrap(), b"hello");
    assert!(stderr.contains("progress 100000/100000"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn download_manager_aborts_a_download_midway_from_its_slot() {
    let serve = serve(&[]);
    let dir = scratch_dir("abort");
    let url = format!("{}/bytes/50000000", serve.url);
    let (code, stdout, _) = run(
        DOWNLOAD_MANAGER,
        &[
            "--dir",
            dir.to_str().unwrap(),
            "--abort-after",
            "100000",
            &url,
        ],
    );
    assert_eq!(
        stdout,
        format!(
            "Downloading {url}...\nFailed: Operation canceled\n0/1 files downloaded successfully\n"
        )
    );
    assert_eq!(code, Some(1));
    let saved = std::fs::read(dir.join("50000000")).unwrap().len();
    assert!(
        (100_000..50_000_000).contains(&saved),
        "stopped midway, after the limit: {saved} bytes"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn download_manager_ssl_errors_slot_decides_per_host() {
    let pem = pem_dir("qt-ports");
    let (cert, key) = (pem.join("cert.pem"), pem.join("key.pem"));
    let serve = serve(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()]);
    let url = format!("{}/bytes/10", serve.url);
    let dir = scratch_dir("tls");

    // Not trusted: the slot prints the errors and lets the handshake fail, as Qt's example.
    let (code, stdout, stderr) = run(DOWNLOAD_MANAGER, &["--dir", dir.to_str().unwrap(), &url]);
    assert_eq!(code, Some(1));
    let first_error = stderr
        .lines()
        .find_map(|l| l.strip_prefix("SSL error: "))
        .unwrap_or_else(|| panic!("no SSL error printed: {stderr}"));
    assert_eq!(
        stdout,
        format!(
            "Downloading {url}...\nFailed: SSL handshake failed: {first_error}\n\
             0/1 files downloaded successfully\n"
        )
    );

    // Trusted by the user: the slot ignores the errors and the download goes through.
    let (code, stdout, stderr) = run(
        DOWNLOAD_MANAGER,
        &["--dir", dir.to_str().unwrap(), "--trust", "127.0.0.1", &url],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        format!("Downloading {url}...\nSucceeded.\n1/1 files downloaded successfully\n")
    );
    assert!(stderr.contains("SSL error: "), "the errors are still shown");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A ported server program, killed when dropped; `port` is from its first line.
struct Program {
    child: std::process::Child,
    port: u16,
}

impl Program {
    /// Starts `program` and reads the port from its first stdout line, which must contain
    /// `http://127.0.0.1:PORT/`.
    fn start(program: &str) -> Program {
        use std::io::BufRead;
        let mut child = Command::new(program)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the ported server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the server prints where it listens");
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert_eq!(
            line,
            format!("Running on http://127.0.0.1:{port}/ (Press CTRL+C to quit)\n")
        );
        Program { child, port }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a new connection: (status, headers in lower case, body).
fn http_get(port: u16, path: &str, extra: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

const HTTP_SERVER: &str = env!("CARGO_BIN_EXE_qt-http-server");

#[test]
fn http_server_answers_the_simple_example_routes_as_qt() {
    let server = Program::start(HTTP_SERVER);
    let host = format!("127.0.0.1:{}", server.port);
    let expect = [
        ("/", "Hello world".to_owned()),
        ("/query", format!("{host}/query/")),
        ("/query/7", format!("{host}/query/7")),
        ("/query/7/log", format!("{host}/query/7/log")),
        ("/query/7/log/0.5", format!("{host}/query/7/log/0.5")),
        ("/user/42", "User 42".to_owned()),
        ("/user/42/detail", "User 42 detail".to_owned()),
        (
            "/user/42/detail/2024",
            "User 42 detail year - 2024".to_owned(),
        ),
        ("/json/", r#"{"key1":"1","key2":"2","key3":"3"}"#.to_owned()),
        ("/remote_address", "127.0.0.1".to_owned()),
    ];
    for (path, body) in expect {
        let (status, headers, got) = http_get(server.port, path, "");
        assert_eq!((status, got.as_str()), (200, body.as_str()), "{path}");
        assert!(
            headers.contains(&("server".to_owned(), "Qt HTTP Server".to_owned())),
            "the after-request hook's header on {path}"
        );
    }
    // A typed argument that does not parse matches no route: 404.
    assert_eq!(http_get(server.port, "/user/alice", "").0, 404);
    let (status, headers, _) = http_get(server.port, "/auth", "");
    assert_eq!(status, 401);
    assert!(headers.contains(&(
        "www-authenticate".to_owned(),
        "Basic realm=\"Simple example\", charset=\"UTF-8\"".to_owned()
    )));
    let (status, _, body) = http_get(
        server.port,
        "/auth",
        "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n",
    );
    assert_eq!((status, body.as_str()), (200, "Success"));
}

#[test]
fn http_server_echoes_web_socket_messages() {
    use std::io::{BufRead, BufReader, Read, Write};
    let server = Program::start(HTTP_SERVER);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    // RFC 6455's sample key and its accept value.
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    assert_eq!(head[0], "HTTP/1.1 101 Switching Protocols");
    assert!(head.contains(&"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned()));
    // The after-request hook saw the 101 too.
    assert!(
        head.iter()
            .any(|l| l.eq_ignore_ascii_case("server: Qt HTTP Server")),
        "{head:?}"
    );
    // A masked text frame "hello" (FIN, opcode 1).
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 5];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).unwrap();
    let mut echoed = [0u8; 7];
    reader.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"\x81\x05hello", "an unmasked text frame back");
}

#[test]
fn rest_client_posts_puts_deletes_authenticates_keeps_cookies_and_times_out() {
    let serve = serve(&[]);
    let (code, stdout, stderr) = run(env!("CARGO_BIN_EXE_qt-rest-client"), &[&serve.url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "POST /echo -> 200 {\"name\":\"slotnet\",\"kind\":\"library\"}\n\
         PUT /echo -> 200 {\"name\":\"slotnet\",\"kind\":\"crate\"}\n\
         DELETE /echo -> 200\n\
         authenticationRequired realm=slotnet\n\
         GET /basic-auth/alice/secret -> 200 {\"authenticated\":true,\"user\":\"alice\"}\n\
         GET /cookies/set?session=42 -> 200 {\"cookies\":{\"session\":\"42\"}}\n\
         GET /cookies -> 200 {\"cookies\":{\"session\":\"42\"}}\n\
         GET /delay/10000 -> error TimeoutError: Operation timed out\n"
    );
}

/// The threaded fortune server, killed when dropped; `port` is from its banner.
struct FortuneServer {
    child: std::process::Child,
    port: u16,
}

impl FortuneServer {
    fn start() -> FortuneServer {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_qt-threaded-fortune-server"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the fortune server");
        let mut banner = String::new();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        while !banner.contains("Run the Fortune Client example now.") {
            assert!(reader.read_line(&mut banner).unwrap() > 0, "{banner:?}");
        }
        let port = banner
            .lines()
            .find_map(|l| l.strip_prefix("port: "))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {banner:?}"));
        // The example's text.
        assert_eq!(
            banner,
            format!(
                "The server is running on\n\nIP: 127.0.0.1\nport: {port}\n\n\
                 Run the Fortune Client example now.\n"
            )
        );
        FortuneServer { child, port }
    }
}

impl Drop for FortuneServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const FORTUNES: &[&str] = &[
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
    "You might have mail.",
    "You cannot kill time without injuring eternity.",
    "Computers are not intelligent. They only think they are.",
];

#[test]
fn threaded_fortune_server_and_client_exchange_fortunes_as_qts_do() {
    let server = FortuneServer::start();
    let port = server.port.to_string();
    let (code, stdout, stderr) = run(
        env!("CARGO_BIN_EXE_qt-fortune-client"),
        &["127.0.0.1", &port, "--count", "5"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let fortunes: Vec<&str> = stdout.lines().collect();
    assert_eq!(fortunes.len(), 5, "{stdout}");
    for pair in fortunes.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "a repeated fortune is not shown, as in Qt"
        );
    }
    assert!(fortunes.iter().all(|f| FORTUNES.contains(f)), "{stdout}");

    // Several clients at once: every connection is served (by the worker threads).
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let port = port.clone();
            std::thread::spawn(move || {
                run(
                    env!("CARGO_BIN_EXE_qt-fortune-client"),
                    &["127.0.0.1", &port, "--count", "2"],
                )
            })
        })
        .collect();
    for client in clients {
        let (code, stdout, _) = client.join().unwrap();
        assert_eq!(code, Some(0));
        assert_eq!(stdout.lines().count(), 2);
    }
}

#[test]
fn fortune_server_writes_a_qdatastream_qstring() {
    use std::io::Read;
    let server = FortuneServer::start();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    // quint32 byte length, big-endian, then UTF-16BE: what Qt's Fortune Client reads.
    let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 4 + len, "one string, then the server closes");
    let units: Vec<u16> = bytes[4..]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let fortune = String::from_utf16(&units).unwrap();
    assert!(FORTUNES.contains(&fortune.as_str()), "{fortune:?}");
}

#[test]
fn fortune_client_reports_a_refused_connection_as_qts_does() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let (code, stdout, _) = run(
        env!("CARGO_BIN_EXE_qt-fortune-client"),
        &["127.0.0.1", &port],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout,
        "Fortune Client: The connection was refused by the peer. Make sure the fortune server \
         is running, and check that the host name and port settings are correct.\n"
    );
}

/// Starts this package's `slotnet-serve` with `args` on a free loopback port.
fn serve(args: &[&str]) -> SlotnetServe {
    SlotnetServe::start(env!("CARGO_BIN_EXE_slotnet-serve"), args)
}
