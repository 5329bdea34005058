//! The command-line programs of ../shared/CONTRACT.md, run as a user would.

use std::process::Command;

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
