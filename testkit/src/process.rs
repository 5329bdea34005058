//! Real programs in tests (nginx, curl, h2load, tinyproxy, microsocks, slotnet's own CLI
//! programs): loopback ports for them, finding and starting them, killing them on drop, and
//! temporary files and directories they read. A test whose program is missing skips with a
//! printed note ([`tool_available`]).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// A port on loopback where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A free loopback port for an external program (bound, then released). Never the same
/// port twice in this process: two tests starting programs in parallel could otherwise be
/// given the same port, and one would talk to the other's program.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = closed_port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Finds `name` in the usual binary directories.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// A child process killed when dropped.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something listens on `127.0.0.1:port` (the program has started); false
/// after `limit`.
pub fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        // Polling an external process's start-up: there is no signal to wait for.
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Starts `program` with `args` (no stdin, output discarded) and waits until it listens on
/// `127.0.0.1:port`; panics if it cannot start, exits, or does not listen within 5 s.
pub fn start_listening(program: &Path, args: &[&str], port: u16) -> ChildGuard {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut guard = ChildGuard(child);
    assert!(
        wait_listening(port, Duration::from_secs(5)),
        "{} does not listen on port {port}",
        program.display()
    );
    assert!(
        matches!(guard.0.try_wait(), Ok(None)),
        "{} exited",
        program.display()
    );
    guard
}

/// Whether `tool` runs (`tool --version`); if not, prints a note naming the Debian `package`
/// that has it, so the calling test can return early (skip).
pub fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("note: {tool} is not installed; skipping (Debian package: {package})");
    }
    found
}

/// Runs curl with `args`, silent but showing errors (`-sS`) and with a 20 s limit for the
/// whole transfer (a hang guard).
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("running curl")
}

/// A program's standard output as text, after asserting that it succeeded (its standard
/// error in the failure message).
pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A unique path in the system's temporary directory: `slotnet-<name>-<pid>-<n>`.
fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "slotnet-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A temporary file holding given bytes, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// A new file holding `data`.
    pub fn with(data: &[u8]) -> TempFile {
        let path = temp_path("file");
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }

    /// curl's argument for uploading the file: `@PATH`.
    pub fn arg(&self) -> String {
        format!("@{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A temporary directory, removed with its contents on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new, empty directory whose name contains `name`.
    pub fn new(name: &str) -> TempDir {
        let path = temp_path(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `slotnet-serve` (the CLI program of slotnet-examples) on a free loopback port,
/// killed when dropped. Only the examples' own tests know where the binary is
/// (`env!("CARGO_BIN_EXE_slotnet-serve")`), so they pass it in.
pub struct SlotnetServe {
    child: std::process::Child,
    /// The first listener's URL, e.g. `https://127.0.0.1:PORT`.
    pub url: String,
}

impl SlotnetServe {
    /// Starts `binary --listen 127.0.0.1:0 --quiet ARGS...` and reads the listener it
    /// prints on its first line (`listening on URL`).
    pub fn start(binary: &str, args: &[&str]) -> SlotnetServe {
        use std::io::BufRead;
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run slotnet-serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("slotnet-serve prints its listener");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        SlotnetServe { child, url }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for slotnet-serve")
    }
}

impl Drop for SlotnetServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
