//! qt-download-manager: Qt's "Download Manager" example (examples/network/downloadmanager)
//! ported to slotnet as a Qt programmer would write it.
//!
//! Downloads its URLs one after the other into the current directory (or `--dir DIR`),
//! printing what Qt's example prints: `Downloading URL...`, then `Succeeded.` or
//! `Failed: ERROR STRING`, and at the end `N/M files downloaded successfully`. Redirects are
//! followed (Qt 6's default policy). Progress goes to stderr as `progress RECEIVED/TOTAL`
//! lines, in place of the example's text progress bar. Two additions show the slots a real
//! download manager needs:
//!
//! - `--trust HOST`: the `sslErrors` slot decides: it prints every error (`SSL error: TEXT`, as
//!   Qt's download example does) and ignores them only for a host the user trusts.
//! - `--abort-after BYTES`: a download that has received that many bytes is aborted from its
//!   `readyRead` slot (it then fails with Qt's "Operation canceled").

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use slotnet_core::EventLoop;
use slotnet_http::{NetworkAccessManager, NetworkReply, NetworkRequest};
use slotnet_net::ssl::SslError;

/// The state of the manager between slots (Qt's `DownloadManager` members).
struct DownloadManager {
    manager: NetworkAccessManager,
    queue: RefCell<VecDeque<String>>,
    dir: PathBuf,
    trusted: Vec<String>,
    abort_after: Option<i64>,
    total_count: Cell<usize>,
    downloaded_count: Cell<usize>,
    output: RefCell<Option<File>>,
}

impl DownloadManager {
    fn append(&self, url: String) {
        self.queue.borrow_mut().push_back(url);
        self.total_count.set(self.total_count.get() + 1);
    }

    /// Qt's `saveFileName`: the last path segment, "download" if none, made unique.
    fn save_file_name(&self, url: &str) -> PathBuf {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let path = path.split_once("://").map_or(path, |(_, rest)| rest);
        let base = path
            .split_once('/')
            .and_then(|(_, p)| p.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("download")
            .to_owned();
        let mut path = self.dir.join(&base);
        let mut i = 0;
        while path.exists() {
            path = self.dir.join(format!("{base}.{i}"));
            i += 1;
        }
        path
    }

    fn start_next_download(self: &Rc<Self>) {
        let next = self.queue.borrow_mut().pop_front();
        let Some(url) = next else {
            println!(
                "{}/{} files downloaded successfully",
                self.downloaded_count.get(),
                self.total_count.get()
            );
            EventLoop::current().quit();
            return;
        };
        let path = self.save_file_name(&url);
        match File::create(&path) {
            Ok(file) => *self.output.borrow_mut() = Some(file),
            Err(e) => {
                eprintln!(
                    "Problem opening save file '{}' for download '{url}': {e}",
                    path.display()
                );
                return self.start_next_download();
            }
        }
        let reply = self.manager.get(NetworkRequest::from_url_str(&url));
        self.connect_reply(reply);
        println!("Downloading {url}...");
    }

    fn connect_reply(self: &Rc<Self>, reply: NetworkReply) {
        reply.download_progress().connect(move |(received, total)| {
            eprintln!("progress {received}/{total}");
        });
        let me = self.clone();
        let received = Cell::new(0i64);
        reply.ready_read().connect(move |_| {
            // Written as it arrives: memory stays flat whatever the size.
            if let Some(file) = me.output.borrow_mut().as_mut() {
                while let Some(chunk) = reply.read_chunk() {
                    received.set(received.get() + chunk.len() as i64);
                    let _ = file.write_all(&chunk);
                }
            }
            if me.abort_after.is_some_and(|limit| received.get() >= limit) {
                // From a slot, as a "Cancel" button would: finished follows at once.
                reply.abort();
            }
        });
        let me = self.clone();
        reply.ssl_errors().connect(move |errors: &Vec<SslError>| {
            for error in errors {
                eprintln!("SSL error: {}", error.error_string());
            }
            let host = reply.url().and_then(|u| u.host_str().map(str::to_owned));
            if host.is_some_and(|h| me.trusted.contains(&h)) {
                reply.ignore_ssl_errors();
            }
        });
        let me = self.clone();
        reply.finished().connect(move |_| {
            me.output.borrow_mut().take();
            if reply.error() != slotnet_http::NetworkError::NoError {
                println!("Failed: {}", reply.error_string());
            } else {
                println!("Succeeded.");
                me.downloaded_count.set(me.downloaded_count.get() + 1);
            }
            reply.delete_later();
            let me = me.clone();
            // As the example: the next download starts from the loop, not from this slot.
            slotnet_core::Timer::single_shot(std::time::Duration::ZERO, move || {
                me.start_next_download()
            });
        });
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from(".");
    let mut trusted = Vec::new();
    let mut abort_after = None;
    let mut urls = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(args.next().unwrap_or_default()),
            "--trust" => trusted.push(args.next().unwrap_or_default()),
            "--abort-after" => abort_after = args.next().and_then(|n| n.parse().ok()),
            url => urls.push(url.to_owned()),
        }
    }
    if urls.is_empty() {
        eprintln!(
            "usage: qt-download-manager [--dir DIR] [--trust HOST] [--abort-after BYTES] URL..."
        );
        return ExitCode::from(2);
    }
    let manager = Rc::new(DownloadManager {
        manager: NetworkAccessManager::new(),
        queue: RefCell::default(),
        dir,
        trusted,
        abort_after,
        total_count: Cell::new(0),
        downloaded_count: Cell::new(0),
        output: RefCell::default(),
    });
    for url in urls {
        manager.append(url);
    }
    let m = manager.clone();
    slotnet_core::Timer::single_shot(std::time::Duration::ZERO, move || m.start_next_download());
    EventLoop::current().exec();
    if manager.downloaded_count.get() == manager.total_count.get() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
