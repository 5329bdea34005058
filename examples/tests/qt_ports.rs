//! Qt's examples ported to slotnet (examples/qt-ports/), run against loopback servers; each
//! asserts what its Qt original prints.

mod support;

use std::process::Command;

use support::{pem_dir, Serve};

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
    let serve = Serve::start(&[]);
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
    let serve = Serve::start(&[]);
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
    let serve = Serve::start(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()]);
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
