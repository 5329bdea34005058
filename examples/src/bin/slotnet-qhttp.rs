//! slotnet-qhttp: fetch one URL with the legacy `Http` (Qt 4's QHttp) API
//! (docs/cli.md).
//!
//! `slotnet-qhttp [--trace] [--post DATA] [--user USER:PASS] URL`: `set_host` (id 1), then
//! `get` or `post` (id 2); the body goes to stdout. `--trace` prints every signal to stderr
//! as Qt's QHttp documentation writes them (`requestStarted(1)`, `stateChanged(Connecting)`,
//! `dataReadProgress(5388, 0)`, `done(false)`, ...). `--user` answers
//! `authenticationRequired`. Exits 0 when `done(false)`, 1 on an error (a 404 is not one),
//! 2 on a usage error.

use std::cell::Cell;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use slotnet_core::EventLoop;
use slotnet_http::legacy::{trace_signals, ConnectionMode, Http};

const USAGE: &str = "usage: slotnet-qhttp [--trace] [--post DATA] [--user USER:PASS] URL";

struct Options {
    trace: bool,
    post: Option<String>,
    user: Option<(String, String)>,
    url: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut trace, mut post, mut user, mut url) = (false, None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--trace" => trace = true,
            "--post" => post = Some(args.next().ok_or("--post needs DATA")?),
            "--user" => {
                let value = args.next().ok_or("--user needs USER:PASS")?;
                let (u, p) = value.split_once(':').ok_or("--user needs USER:PASS")?;
                user = Some((u.to_owned(), p.to_owned()));
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            _ if url.is_some() => return Err("only one URL".to_owned()),
            _ => url = Some(arg),
        }
    }
    Ok(Options {
        trace,
        post,
        user,
        url: url.ok_or("missing URL")?,
    })
}

/// The parts of an `http://` or `https://` URL that `set_host` and `get` take.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    mode: ConnectionMode,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let (mode, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (ConnectionMode::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (ConnectionMode::Https, rest)
    } else {
        return Err(format!("not an http:// or https:// URL: {url}"));
    };
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let port = match port {
        Some(p) if !p.is_empty() => p.parse().map_err(|_| format!("bad port in {url}"))?,
        _ => mode.default_port(),
    };
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    Ok(Target {
        mode,
        host: host.to_owned(),
        port,
        path,
    })
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("slotnet-qhttp: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let target = match parse_url(&options.url) {
        Ok(t) => t,
        Err(message) => {
            eprintln!("slotnet-qhttp: {message}");
            return ExitCode::from(2);
        }
    };

    let http = Http::new();
    if options.trace {
        // Connected first, so each line comes before what the other slots do.
        trace_signals(&http, |line| eprintln!("{line}"));
    }
    if let Some((user, password)) = options.user {
        http.authentication_required().connect(move |(_, _, auth)| {
            let mut auth = auth.borrow_mut();
            auth.set_user(user.clone());
            auth.set_password(password.clone());
        });
    }
    let write_failed = Rc::new(Cell::new(false));
    let failed = write_failed.clone();
    http.ready_read().connect(move |_| {
        let data = http.read_all();
        if std::io::stdout().write_all(&data).is_err() {
            failed.set(true);
            http.abort();
        }
    });
    http.done()
        .connect(|error| EventLoop::current().exit(i32::from(*error)));

    http.set_host(&target.host, target.port, target.mode);
    match &options.post {
        Some(data) => http.post(&target.path, data.clone(), None),
        None => http.get(&target.path, None),
    };
    let code = EventLoop::current().exec();
    let _ = std::io::stdout().flush();
    if write_failed.get() {
        eprintln!("slotnet-qhttp: cannot write to stdout");
        return ExitCode::from(1);
    }
    if code != 0 {
        eprintln!(
            "slotnet-qhttp: {} ({})",
            http.error_string(),
            http.error().name()
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://example.com").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("example.com", 80, "/")
        );
        let t = parse_url("https://u:p@[::1]:8443/a/b?c=d#frag").unwrap();
        assert_eq!(
            (t.mode, t.host.as_str(), t.port, t.path.as_str()),
            (ConnectionMode::Https, "::1", 8443, "/a/b?c=d")
        );
        let t = parse_url("http://h:81?q").unwrap();
        assert_eq!((t.port, t.path.as_str()), (81, "/?q"));
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://:80/").is_err());
        assert!(parse_url("http://h:x/").is_err());
    }

    #[test]
    fn args() {
        let args = ["--trace", "--post", "a=b", "--user", "u:p:q", "http://h/"];
        let o = parse_args(args.iter().map(|s| s.to_string())).unwrap();
        assert!(o.trace);
        assert_eq!(o.post.as_deref(), Some("a=b"));
        assert_eq!(o.user, Some(("u".to_owned(), "p:q".to_owned())));
        assert!(parse_args(["--user", "nocolon", "u"].iter().map(|s| s.to_string())).is_err());
        assert!(parse_args(std::iter::empty()).is_err());
    }
}
