//! The answer side of one HTTP/2 stream: what [`HttpServerResponder`] does when its request
//! came over HTTP/2.
//!
//! - A body given whole (`write`) goes to h2 at once when small and the client's window
//!   admits it; otherwise it is fed to h2 through an outbox as the client's flow-control
//!   window opens, so that h2 holds at most its (lowered) send buffer of it, the
//!   connection's output budget counts the rest and the send timeout sees it owed.
//! - Pieces written by the handler (`write_begin`/`write_chunk`/`write_end`) wait in a
//!   bounded outbox and go to h2 as the window opens ([`PushedBody`]): `write_chunk` refuses
//!   beyond the answer's budget and `drained` asks for more.
//! - Pulled bodies (files, readers) are read by a task of their own, one piece at a time and
//!   only once the window has room: a slow client keeps at most one piece plus h2's send
//!   buffer of such a body in memory, however large it is.
//!
//! Heads get what HTTP/1.1 heads get (after-request hooks, `Server`, `Date`,
//! `Content-Length` when known), minus the fields HTTP/2 forbids (`Connection` and the
//! like). A body that cannot be completed (shorter than announced, a failing reader, a
//! responder dropped mid-stream) ends with RST_STREAM(INTERNAL_ERROR): the client sees an
//! error, never a complete wrong body.
//!
//! [`HttpServerResponder`]: super::HttpServerResponder

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::rc::{Rc, Weak};
use std::task::Poll;

use ::h2::server::SendResponse;
use ::h2::{Reason, SendStream};
use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, SERVER, TE, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use super::config::HttpServerConfiguration;
use super::h2_conn::{ActiveGuard, H2Connection};
use super::h2_push::PushedBody;
use super::pacing::{is_not_ready, Pacing};
use super::pipeline::Source;
use super::request::HttpServerRequest;
use super::responder::WriteChunkError;
use crate::h1::date_header_value;
use slotnet_core::spawn_local;
use slotnet_core::Signal;

/// Bytes of a pulled body read per piece.
const PUMP_CHUNK: usize = 64 * 1024;
/// Whole bodies up to this size go to h2 at once when the client's window admits them;
/// larger ones, and any the window does not admit yet, are fed as it opens.
const DIRECT_BODY: usize = 16 * 1024;

/// Whether a response with `status` to a `method` request carries a body.
fn body_allowed(method: &Method, status: StatusCode) -> bool {
    !(method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Removes the fields HTTP/2 forbids in a response (RFC 9113, 8.2.2), including those a
/// `Connection` field names.
fn strip_connection_fields(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|t| HeaderName::from_bytes(t.trim_ascii()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    if headers
        .get(TE)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
        headers.remove(TE);
    }
}

/// Whether `name` is a field HTTP/2 forbids in a response (RFC 9113, 8.2.2); `TE` only with
/// a value other than `trailers`, which [`strip_connection_fields`] checks.
fn is_connection_specific(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == TE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// A response head for HTTP/2: `status`, `headers` (sanitised), `server` unless the headers
/// name one, `Date`, and `Content-Length` when the body length is known and the status has a
/// body.
///
/// One pass over the fields finds what needs doing: most answers carry a handful of fields
/// and none to remove, and a lookup per name (hashing it) cost more than the rest of the
/// head together.
fn response_head(
    status: StatusCode,
    mut headers: HeaderMap,
    length: Option<u64>,
    server: Option<&HeaderValue>,
) -> Response<()> {
    let (mut forbidden, mut has_length, mut has_date, mut has_server) =
        (false, false, false, false);
    for name in headers.keys() {
        forbidden |= is_connection_specific(name);
        has_length |= name == CONTENT_LENGTH;
        has_date |= name == DATE;
        has_server |= name == SERVER;
    }
    if forbidden {
        strip_connection_fields(&mut headers);
    }
    if has_length {
        headers.remove(CONTENT_LENGTH);
    }
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if let (false, Some(n)) = (no_body, length) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }
    if let (false, Some(server)) = (has_server, server) {
        headers.insert(SERVER, server.clone());
    }
    if !has_date {
        headers.insert(DATE, date_header_value());
    }
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Answers a request refused before it reached the handler (limits): `status` with its
/// reason as text. The after-request hooks do not run (there is no request), as for
/// HTTP/1.1's error answers.
pub(crate) fn error_response(
    respond: &mut SendResponse<Bytes>,
    status: StatusCode,
    config: &HttpServerConfiguration,
) {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = Bytes::from(format!("{reason}\n"));
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let head = response_head(
        status,
        headers,
        Some(body.len() as u64),
        config.server_header.as_ref(),
    );
    if let Ok(mut send) = respond.send_response(head, false) {
        let _ = send.send_data(body, true);
    }
}

/// Whether the client's windows admit `len` bytes of the stream now (claiming them for it):
/// h2 then sends a body handed to it whole without waiting.
fn window_admits(send: &mut SendStream<Bytes>, len: usize) -> bool {
    send.reserve_capacity(len);
    send.capacity() >= len
}

/// The state of an answer.
struct State {
    /// Until the head is sent.
    respond: Option<SendResponse<Bytes>>,
    /// The body being pushed (`write_begin` with a body allowed).
    pushed: Option<PushedBody>,
    /// Counts the stream as being answered until the answer is complete.
    guard: Option<ActiveGuard>,
    /// `write_begin` was called.
    streaming: bool,
    /// The announced length of a streamed body, and what was written of it.
    declared: Option<u64>,
    written: u64,
    /// The stream failed (reset, connection gone).
    failed: bool,
}

/// One HTTP/2 stream's answer, owned by its responder.
pub(crate) struct H2Stream {
    conn: Weak<H2Connection>,
    request: Rc<HttpServerRequest>,
    state: RefCell<State>,
}

impl H2Stream {
    pub(crate) fn new(
        respond: SendResponse<Bytes>,
        guard: ActiveGuard,
        request: Rc<HttpServerRequest>,
    ) -> H2Stream {
        H2Stream {
            conn: guard.connection(),
            request,
            state: RefCell::new(State {
                respond: Some(respond),
                pushed: None,
                guard: Some(guard),
                streaming: false,
                declared: None,
                written: 0,
                failed: false,
            }),
        }
    }

    /// The request being answered.
    pub(crate) fn request(&self) -> &HttpServerRequest {
        &self.request
    }

    /// Whether answers can still reach the client.
    pub(crate) fn is_open(&self) -> bool {
        let state = self.state.borrow();
        !state.failed
            && !state.pushed.as_ref().is_some_and(PushedBody::is_failed)
            && self.conn.upgrade().is_some_and(|c| c.is_open())
    }

    /// Whether `write_begin` was called.
    pub(crate) fn is_streaming(&self) -> bool {
        self.state.borrow().streaming
    }

    /// The head after the hooks, and whether a body follows it.
    fn head(
        &self,
        mut status: StatusCode,
        mut headers: HeaderMap,
        length: Option<u64>,
    ) -> (Response<()>, bool) {
        let conn = self.conn.upgrade();
        if let Some(conn) = &conn {
            conn.settings
                .run_after_request(&self.request, &mut status, &mut headers);
        }
        let server = conn.as_ref().and_then(|c| c.config.server_header.as_ref());
        let allowed = body_allowed(self.request.method(), status);
        (response_head(status, headers, length, server), allowed)
    }

    /// The client reset the stream (or the connection is gone): no more sending. (Client
    /// resets are counted against the rapid-reset limit where they arrive, in the frame
    /// pre-check's input path.)
    fn fail(&self) {
        let guard = {
            let mut state = self.state.borrow_mut();
            state.failed = true;
            state.pushed = None;
            state.respond = None;
            state.guard.take()
        };
        drop(guard);
    }

    /// Sends the head; `Some(stream)` when a body follows.
    fn send_head(&self, head: Response<()>, end: bool) -> Result<Option<SendStream<Bytes>>, ()> {
        let respond = self.state.borrow_mut().respond.take();
        let Some(mut respond) = respond else {
            return Err(());
        };
        match respond.send_response(head, end) {
            Ok(send) => Ok((!end).then_some(send)),
            Err(_) => {
                self.fail();
                Err(())
            }
        }
    }

    fn complete(&self) {
        let guard = self.state.borrow_mut().guard.take();
        drop(guard);
    }

    /// A whole answer. A small body goes to h2 at once; a larger one is fed to h2 as the
    /// client's window opens (counted in the connection's output budget meanwhile), so h2
    /// never buffers more than its send buffer of it.
    pub(crate) fn write(&self, status: StatusCode, headers: HeaderMap, body: Bytes) {
        let (head, allowed) = self.head(status, headers, Some(body.len() as u64));
        let end = !allowed || body.is_empty();
        let Ok(Some(mut send)) = self.send_head(head, end) else {
            return self.complete();
        };
        if body.len() > DIRECT_BODY || !window_admits(&mut send, body.len()) {
            // Fed as the window opens, so a window held shut counts as output owed (the
            // send timeout applies) instead of h2 keeping the body out of sight.
            let guard = self.state.borrow_mut().guard.take();
            if let Some(guard) = guard {
                let fed = PushedBody::start(send, guard, Pacing::new(Signal::closed(), usize::MAX));
                // Cannot be refused: forced, and the feeder has not run yet.
                let _ = fed.push(body, true);
                fed.end(true);
            }
            return;
        }
        if send.send_data(body, true).is_err() {
            return self.fail();
        }
        self.complete();
    }

    /// A whole answer whose body is pulled from `source` as the client takes it.
    pub(crate) fn send_pulled(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        source: Source,
        len: Option<u64>,
    ) {
        let (head, allowed) = self.head(status, headers, len);
        let end = !allowed || len == Some(0);
        let Ok(send) = self.send_head(head, end) else {
            return;
        };
        let guard = self.state.borrow_mut().guard.take();
        if let (Some(send), Some(guard)) = (send, guard) {
            spawn_local(pump(send, source, len, guard));
        }
    }

    /// Starts a streamed answer: the head goes now; `drained` is the responder's signal.
    pub(crate) fn begin(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        length: Option<u64>,
        drained: Signal<()>,
    ) -> bool {
        {
            let state = self.state.borrow();
            if state.streaming || state.respond.is_none() {
                return false;
            }
        }
        let (head, allowed) = self.head(status, headers, length);
        let end = !allowed || length == Some(0);
        let Ok(send) = self.send_head(head, end) else {
            return false;
        };
        let budget = self
            .conn
            .upgrade()
            .map_or(0, |c| c.config.max_buffered_output);
        let mut state = self.state.borrow_mut();
        state.streaming = true;
        state.declared = length;
        if let Some(send) = send {
            if let Some(guard) = state.guard.take() {
                state.pushed = Some(PushedBody::start(send, guard, Pacing::new(drained, budget)));
            }
        }
        true
    }

    /// A piece of a streamed answer (see `HttpServerResponder::write_chunk`); `force`
    /// queues it whatever the outbox holds.
    pub(crate) fn chunk(&self, data: Bytes, force: bool) -> Result<(), WriteChunkError> {
        if !self.is_open() {
            return Err(WriteChunkError::Closed);
        }
        let len = data.len() as u64;
        let mut state = self.state.borrow_mut();
        if !state.streaming {
            return Err(WriteChunkError::NotStreaming);
        }
        if state.declared.is_some_and(|d| state.written + len > d) {
            return Err(WriteChunkError::TooLong);
        }
        if let Some(pushed) = &state.pushed {
            pushed.push(data, force)?;
        }
        state.written += len;
        Ok(())
    }

    /// Bytes of the pushed body the client's window has not admitted yet.
    pub(crate) fn bytes_to_write(&self) -> usize {
        self.state
            .borrow()
            .pushed
            .as_ref()
            .map_or(0, PushedBody::queued)
    }

    /// The pushed body's budget (0 when nothing is being pushed).
    pub(crate) fn write_budget(&self) -> usize {
        self.state
            .borrow()
            .pushed
            .as_ref()
            .map_or(0, PushedBody::budget)
    }

    /// Ends a streamed answer; a body shorter than announced is reset (the client sees it
    /// incomplete).
    pub(crate) fn end(&self) {
        let (pushed, short) = {
            let mut state = self.state.borrow_mut();
            let short = state.declared.is_some_and(|d| state.written < d);
            (state.pushed.take(), short)
        };
        if let Some(pushed) = pushed {
            pushed.end(!short);
        }
        self.complete();
    }

    /// The responder was dropped in the middle of a streamed answer.
    pub(crate) fn abandon(&self) {
        let pushed = self.state.borrow_mut().pushed.take();
        if let Some(pushed) = pushed {
            pushed.end(false);
        }
        self.complete();
    }
}

/// Reads the next piece of a pulled body into `buf`.
fn read_source(source: &mut Source, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        let read = match source {
            Source::File { file, offset } => file.read_at(buf, *offset).inspect(|n| {
                *offset += *n as u64;
            }),
            Source::Reader { reader, waker } => {
                // A wake from now on means news after this read.
                waker.reset();
                reader.read(buf)
            }
        };
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Waits until the client's window has room for more of the stream.
async fn wait_capacity(send: &mut SendStream<Bytes>, conn: &Weak<H2Connection>) -> Result<(), ()> {
    send.reserve_capacity(PUMP_CHUNK);
    // Output is owed while the window is shut: the send timeout applies.
    let _waiting = conn.upgrade().map(|c| c.window_wait());
    poll_fn(|cx| loop {
        if send.capacity() > 0 {
            return Poll::Ready(Ok(()));
        }
        match send.poll_capacity(cx) {
            Poll::Ready(Some(Ok(_))) => continue,
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return Poll::Ready(Err(())),
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// Waits until a reader that was not ready is woken; `Err` if the client reset the stream
/// (or the connection ended) meanwhile.
async fn wait_reader(send: &mut SendStream<Bytes>, source: &Source) -> Result<(), ()> {
    let Source::Reader { waker, .. } = source else {
        return Ok(());
    };
    poll_fn(|cx| {
        if send.poll_reset(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        waker.poll_woken(cx).map(Ok)
    })
    .await
}

/// Sends a pulled body: one piece per opening of the window, each read only then.
async fn pump(
    mut send: SendStream<Bytes>,
    mut source: Source,
    mut remaining: Option<u64>,
    guard: ActiveGuard,
) {
    let conn = guard.connection();
    loop {
        if remaining == Some(0) {
            let _ = send.send_data(Bytes::new(), true);
            break;
        }
        if wait_capacity(&mut send, &conn).await.is_err() {
            break;
        }
        // No more than h2 has capacity for: it would buffer the rest.
        let chunk = send.capacity().clamp(1, PUMP_CHUNK);
        let want = remaining.map_or(chunk, |r| usize::try_from(r).unwrap_or(chunk).min(chunk));
        let mut buf = vec![0u8; want];
        match read_source(&mut source, &mut buf) {
            Ok(0) if remaining.is_none() => {
                let _ = send.send_data(Bytes::new(), true);
                break;
            }
            Ok(n) if n > 0 => {
                buf.truncate(n);
                if let Some(r) = remaining.as_mut() {
                    *r -= n as u64;
                }
                if send.send_data(Bytes::from(buf), false).is_err() {
                    break;
                }
            }
            Err(e) if is_not_ready(&e) => {
                if wait_reader(&mut send, &source).await.is_err() {
                    break;
                }
            }
            // Ended before the announced length, or failed: cut the stream short.
            _ => {
                send.send_reset(Reason::INTERNAL_ERROR);
                break;
            }
        }
    }
    drop(guard);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_specific_fields_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("close, x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(TE, HeaderValue::from_static("gzip"));
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        strip_connection_fields(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn heads_announce_lengths_only_where_a_body_can_be() {
        let head = response_head(StatusCode::OK, HeaderMap::new(), Some(5), None);
        assert_eq!(head.headers()[CONTENT_LENGTH], "5");
        assert!(head.headers().contains_key(DATE));
        let head = response_head(StatusCode::NO_CONTENT, HeaderMap::new(), Some(0), None);
        assert!(!head.headers().contains_key(CONTENT_LENGTH));
        let head = response_head(StatusCode::OK, HeaderMap::new(), None, None);
        assert!(!head.headers().contains_key(CONTENT_LENGTH));
        assert!(!body_allowed(&Method::HEAD, StatusCode::OK));
        assert!(!body_allowed(&Method::GET, StatusCode::NOT_MODIFIED));
        assert!(body_allowed(&Method::GET, StatusCode::NOT_FOUND));
    }

    #[test]
    fn heads_are_cleaned_and_completed_in_one_pass() {
        let server = HeaderValue::from_static("slotnet");
        // The handler's own Server, Date and Content-Length: the first two are kept, the
        // length is the body's.
        let mut headers = HeaderMap::new();
        headers.insert(SERVER, HeaderValue::from_static("mine"));
        headers.insert(
            DATE,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("99"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        let head = response_head(StatusCode::OK, headers, Some(5), Some(&server));
        assert_eq!(head.headers()[SERVER], "mine");
        assert_eq!(head.headers()[DATE], "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(head.headers()[CONTENT_LENGTH], "5");
        assert_eq!(head.headers()[TE], "trailers");
        assert_eq!(head.headers().len(), 4);
        // Fields HTTP/2 forbids go, those a Connection field names too; Server is added.
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("x-hop"));
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let head = response_head(StatusCode::OK, headers, None, Some(&server));
        let names: Vec<&str> = head.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["content-type", "server", "date"]);
    }
}
