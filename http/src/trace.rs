//! Signal traces in the format of `slotnet-fetch --trace` and the Qt anchor `qnam_trace`:
//! one line per emitted signal, Qt's signal and enum names, so that a slotnet run can be
//! compared line by line with a recorded Qt run.

use std::cell::RefCell;
use std::rc::Rc;

use crate::manager::NetworkAccessManager;
use crate::reply::NetworkReply;
use crate::request::Attribute;
use slotnet_net::ssl::SslError;

/// Collected trace lines; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct SignalTrace {
    lines: Rc<RefCell<Vec<String>>>,
    sink: Option<Sink>,
}

type Sink = Rc<dyn Fn(&str)>;

impl SignalTrace {
    /// An empty trace that only collects lines.
    pub fn new() -> Self {
        Self::default()
    }

    /// A trace that also passes each line to `sink` as it is recorded (e.g. to print it).
    pub fn with_sink(sink: impl Fn(&str) + 'static) -> Self {
        SignalTrace {
            lines: Rc::default(),
            sink: Some(Rc::new(sink)),
        }
    }

    /// Records a line.
    pub fn push(&self, line: String) {
        if let Some(sink) = &self.sink {
            sink(&line);
        }
        self.lines.borrow_mut().push(line);
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }

    /// Connects to the manager's signals that concern `reply` (call before
    /// [`SignalTrace::watch_reply`], and right after creating the reply, so the order matches
    /// Qt's: the manager's slot was connected first).
    pub fn watch_manager(&self, manager: &NetworkAccessManager, reply: NetworkReply) {
        let t = self.clone();
        manager.finished().connect(move |r| {
            if *r == reply {
                t.push("manager.finished()".into())
            }
        });
        let t = self.clone();
        manager.encrypted().connect(move |r| {
            if *r == reply {
                t.push("manager.encrypted()".into())
            }
        });
        let t = self.clone();
        manager.ssl_errors().connect(move |(r, errors)| {
            if *r == reply {
                t.push(format!(
                    "manager.sslErrors({})",
                    SslError::join_names(errors)
                ))
            }
        });
    }

    /// Connects to every signal of `reply`; `finished` also appends the `result` line.
    pub fn watch_reply(&self, reply: NetworkReply) {
        let t = self.clone();
        reply
            .socket_started_connecting()
            .connect(move |_| t.push("reply.socketStartedConnecting()".into()));
        let t = self.clone();
        reply
            .request_sent()
            .connect(move |_| t.push("reply.requestSent()".into()));
        let t = self.clone();
        reply
            .encrypted()
            .connect(move |_| t.push("reply.encrypted()".into()));
        let t = self.clone();
        reply.ssl_errors().connect(move |errors| {
            t.push(format!("reply.sslErrors({})", SslError::join_names(errors)))
        });
        let t = self.clone();
        reply
            .meta_data_changed()
            .connect(move |_| t.push("reply.metaDataChanged()".into()));
        let t = self.clone();
        reply
            .redirected()
            .connect(move |url| t.push(format!("reply.redirected({url})")));
        let t = self.clone();
        reply
            .ready_read()
            .connect(move |_| t.push("reply.readyRead()".into()));
        let t = self.clone();
        reply
            .download_progress()
            .connect(move |(n, total)| t.push(format!("reply.downloadProgress({n}, {total})")));
        let t = self.clone();
        reply
            .upload_progress()
            .connect(move |(n, total)| t.push(format!("reply.uploadProgress({n}, {total})")));
        let t = self.clone();
        reply
            .error_occurred()
            .connect(move |e| t.push(format!("reply.errorOccurred({})", e.name())));
        let t = self.clone();
        reply
            .finished()
            .connect(move |_| t.push("reply.finished()".into()));
    }

    /// The `result` line for a finished reply; `bytes` is the body length the caller read.
    pub fn result_line(reply: NetworkReply, bytes: u64) -> String {
        let status = reply.status_code().unwrap_or(0);
        let http2 = reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        format!(
            "result status={status} error={} bytes={bytes} url={} http2={}",
            reply.error().name(),
            reply.url().map(|u| u.to_string()).unwrap_or_default(),
            u8::from(http2)
        )
    }
}
