//! A real nginx (Debian package `nginx`) serving HTTPS with HTTP/2 on loopback, for tests.
//!
//! Each [`Nginx`] runs its own nginx process from a fresh temporary directory holding
//! everything it touches (configuration, certificate, key, documents, logs, pid and temp
//! paths), so it runs the same as root or not. nginx runs in the foreground as a single
//! process (`daemon off`, `master_process off`), so killing the child on drop stops it all.
//!
//! The certificate is the test PKI's self-signed one for `localhost` and `127.0.0.1`:
//! untrusted by default (certificate errors to test), trusted when a request adds it as a CA
//! ([`Nginx::trusting`]).
//!
//! Documents:
//!
//! - `/hello.txt`: [`HELLO`]
//! - `/small/N.txt` for N in 0..[`SMALL_FILES`]: [`small_body`]`(N)`
//! - `/big.bin`: [`BIG_SIZE`] bytes of [`pattern`]
//! - `/gone`: `return 404`; any other missing path is a 404 too

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use slotnet_http::NetworkRequest;
use slotnet_net::ssl::test_certs;
use slotnet_net::ssl::{SslCertificate, SslConfiguration};

/// The body of `/hello.txt`.
pub const HELLO: &[u8] = b"hello from nginx over h2\n";
/// How many `/small/N.txt` documents there are.
pub const SMALL_FILES: usize = 100;
/// The size of `/big.bin` (8 MiB).
pub const BIG_SIZE: usize = 8 * 1024 * 1024;

/// The byte at `offset` of `/big.bin` (a period that is not a power of two, so a chunk
/// delivered at the wrong offset shows).
pub fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

/// The body of `/small/N.txt`.
pub fn small_body(n: usize) -> Vec<u8> {
    format!("small document {n}\n")
        .repeat(n % 7 + 1)
        .into_bytes()
}

/// A running nginx, stopped (and its directory removed) on drop.
pub struct Nginx {
    /// The HTTPS (h2 + http/1.1) port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where nginx is installed, if it is.
fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A port nothing listens on right now (nginx binds it a moment later; a clash is retried).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.local_addr().expect("local address").port()
}

fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    log_format protocol '$request_uri $server_protocol';
    access_log {d}/access.log protocol;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    types {{
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/www;
        location = /gone {{
            return 404;
        }}
    }}
}}
"
    )
}

/// Waits until the nginx `child` accepts connections on `port`; false if it exited or
/// `limit` passed.
fn wait_listening(child: &mut Child, port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        // Polling an external process's start-up: there is no signal to wait for.
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

impl Nginx {
    /// Starts nginx, or returns `None` after printing a note when it is not installed.
    pub fn start() -> Option<Nginx> {
        let Some(binary) = binary() else {
            eprintln!("note: nginx is not installed (Debian package `nginx`); skipped");
            return None;
        };
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "slotnet-http-nginx-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).expect("creating the nginx directory");
        std::fs::create_dir_all(dir.join("www/small")).expect("creating the document root");
        let identity = &test_certs::pki().self_signed;
        write(&dir.join("cert.pem"), identity.chain[0].to_pem());
        write(&dir.join("key.pem"), identity.key.to_pem());
        write(&dir.join("www/hello.txt"), HELLO);
        for n in 0..SMALL_FILES {
            write(&dir.join(format!("www/small/{n}.txt")), small_body(n));
        }
        let big: Vec<u8> = (0..BIG_SIZE).map(pattern).collect();
        write(&dir.join("www/big.bin"), big);
        // A port taken between `free_port` and nginx's bind makes nginx exit: try again.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            write(&dir.join("nginx.conf"), config(&dir, port));
            let mut child = Command::new(&binary)
                .arg("-p")
                .arg(&dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            if wait_listening(&mut child, port, Duration::from_secs(5)) {
                return Some(Nginx { port, dir, child });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_error = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("nginx did not start; its error log:\n{last_error}");
    }

    /// The requests nginx has logged, as (path, protocol) pairs such as
    /// `("/hello.txt", "HTTP/2.0")`, once there are at least `count` of them (nginx writes
    /// a line when it has answered, which can be a moment after the client has the
    /// response). Panics if they do not show up within 5 s.
    pub fn logged_requests(&self, count: usize) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
            let lines: Vec<(String, String)> = log
                .lines()
                .filter_map(|line| line.split_once(' '))
                .map(|(path, protocol)| (path.to_owned(), protocol.to_owned()))
                .collect();
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged {} requests, expected {count}",
                lines.len()
            );
            // Polling an external process's log file: there is no signal to wait for.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The https URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The server's (self-signed) certificate.
    pub fn certificate(&self) -> SslCertificate {
        test_certs::pki().self_signed.chain[0].clone()
    }

    /// A TLS configuration that trusts this server's certificate (and nothing else).
    pub fn trusting_configuration(&self) -> SslConfiguration {
        let mut config = SslConfiguration::default();
        config.set_ca_certificates(vec![self.certificate()]);
        config
    }

    /// A request for `path` whose TLS configuration trusts this server.
    pub fn trusting(&self, path: &str) -> NetworkRequest {
        let mut request = NetworkRequest::from_url_str(&self.url(path));
        request.set_ssl_configuration(self.trusting_configuration());
        request
    }
}
