//! Shared by the tests of the command-line programs: a `slotnet-serve` process and a test
//! PKI written as PEM files.

#![allow(dead_code)]

use std::process::Command;

/// A `slotnet-serve` process, killed when dropped.
pub struct Serve {
    child: std::process::Child,
    /// The first listener's URL, e.g. `https://127.0.0.1:PORT`.
    pub url: String,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_slotnet-serve"))
            .args(["--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stdout(std::process::Stdio::piped())
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
        Serve { child, url }
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

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test PKI as PEM files (`cert.pem`, `key.pem`, `ca.pem`) in a directory of its own,
/// written by `slotnet-tlsbench --write-pem`.
pub fn pem_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("slotnet-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_slotnet-tlsbench"))
        .arg("--write-pem")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run slotnet-tlsbench");
    assert!(status.success(), "slotnet-tlsbench --write-pem failed");
    dir
}
