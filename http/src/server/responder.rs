//! [`HttpServerResponder`]: the handle a handler answers one request with.

use std::cell::OnceCell;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use slotnet_core::Signal;

use super::connection::Connection;
use super::h2_stream::H2Stream;
use super::pacing::Pacing;
use super::pipeline::{Pump, Source};
use super::request::HttpServerRequest;
use super::response::{HttpServerResponse, ResponseBody};
use crate::h1::{BodyLength, Framing};

/// What a responder needs to find its connection and answer slot.
pub(crate) struct ResponderCtx {
    pub(crate) conn: Weak<Connection>,
    pub(crate) seq: u64,
    pub(crate) request: Rc<HttpServerRequest>,
    /// Whether the client allows the connection to be reused after this request.
    pub(crate) keep_alive: bool,
}

/// Where the answer goes.
enum Target {
    /// An HTTP/1.x connection's answer slot.
    H1(ResponderCtx),
    /// An HTTP/2 stream.
    H2(Box<H2Stream>),
}

/// A streamed HTTP/1.x answer in progress.
struct Stream {
    framing: Framing,
    written: u64,
    close: bool,
    pacing: Rc<Pacing>,
}

/// Why [`HttpServerResponder::write_chunk`] did not take a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteChunkError {
    /// The answer's queue is at its budget ([`HttpServerResponder::bytes_to_write`] reached
    /// [`HttpServerResponder::write_budget`]): nothing was queued, and the piece is handed
    /// back. Write it again after [`drained`](HttpServerResponder::drained).
    Full(Bytes),
    /// The client is gone (connection closed, HTTP/2 stream reset): stop producing.
    Closed,
    /// The piece would go past the length announced to
    /// [`write_begin`](HttpServerResponder::write_begin); nothing was queued.
    TooLong,
    /// No streamed answer is in progress ([`write_begin`](HttpServerResponder::write_begin)
    /// was not called, or failed).
    NotStreaming,
}

impl std::fmt::Display for WriteChunkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteChunkError::Full(piece) => write!(
                f,
                "the answer's send queue is full ({} bytes handed back): write again after drained",
                piece.len()
            ),
            WriteChunkError::Closed => f.write_str("the client is gone"),
            WriteChunkError::TooLong => {
                f.write_str("the piece goes past the length announced by write_begin")
            }
            WriteChunkError::NotStreaming => f.write_str("write_begin was not called"),
        }
    }
}

impl std::error::Error for WriteChunkError {}

/// Answers one request (Qt's `QHttpServerResponder`).
///
/// A handler answers at once, or keeps the responder (moves it into a timer closure, a
/// signal slot, ...) and answers later from the loop: answers go out in request order even
/// when pipelined requests are answered out of order. Methods that complete the answer take
/// `self`, so a request is answered once.
///
/// Streaming: [`write_begin`](Self::write_begin), any number of
/// [`write_chunk`](Self::write_chunk), then [`write_end`](Self::write_end). Without a
/// length the body is chunked (HTTP/1.1), delimited by closing the connection (HTTP/1.0),
/// or sent as DATA frames until END_STREAM (HTTP/2).
///
/// # Pacing a streamed answer
///
/// A pushed body is bounded: an answer may queue
/// [`write_budget`](Self::write_budget) bytes that the client has not taken yet
/// ([`HttpServerConfiguration::max_buffered_output`], 256 KiB by default). While
/// [`bytes_to_write`](Self::bytes_to_write) is below it, `write_chunk` takes the next piece
/// (so the queue can exceed the budget by at most one piece); at or above it, `write_chunk`
/// refuses with [`WriteChunkError::Full`] and hands the piece back. [`drained`](Self::drained)
/// is emitted once the queue has fallen below half the budget. A producer therefore writes
/// while `write_chunk` accepts, then waits for `drained`: the pattern Qt programs write with
/// `responder.socket()->bytesToWrite()` and `bytesWritten`, here per answer and over
/// HTTP/2 too (where the queue is what the client's flow-control window has not admitted).
///
/// ```
/// use bytes::Bytes;
/// use http::{HeaderMap, StatusCode};
/// use slotnet_http::server::{HttpServerResponder, WriteChunkError};
/// use std::cell::{Cell, RefCell};
/// use std::rc::Rc;
///
/// const TOTAL: u64 = 500 << 20;
///
/// /// Writes while the answer accepts more; `drained` calls it again.
/// fn produce(slot: &RefCell<Option<HttpServerResponder>>, sent: &Cell<u64>, block: &Bytes) {
///     let mut slot = slot.borrow_mut();
///     let Some(resp) = slot.as_mut() else { return };
///     while sent.get() < TOTAL {
///         match resp.write_chunk(block.clone()) {
///             Ok(()) => sent.set(sent.get() + block.len() as u64),
///             Err(WriteChunkError::Full(_)) => return, // wait for `drained`
///             Err(_) => {
///                 slot.take(); // the client is gone: stop, and drop the responder
///                 return;
///             }
///         }
///     }
///     if let Some(resp) = slot.take() {
///         resp.write_end();
///     }
/// }
///
/// fn handler(mut resp: HttpServerResponder) {
///     resp.write_begin(StatusCode::OK, HeaderMap::new(), Some(TOTAL));
///     let drained = resp.drained();
///     let slot = Rc::new(RefCell::new(Some(resp)));
///     let sent = Rc::new(Cell::new(0));
///     let block = Bytes::from(vec![b'x'; 1 << 20]);
///     let (s, n, b) = (slot.clone(), sent.clone(), block.clone());
///     // The slot owns the responder; its connection is dropped when the answer ends or
///     // the client goes away, which ends that cycle.
///     drained.connect(move |_| produce(&s, &n, &b));
///     produce(&slot, &sent, &block);
/// }
/// # let _ = handler;
/// ```
///
/// [`HttpServerConfiguration::max_buffered_output`]: super::HttpServerConfiguration::max_buffered_output
///
/// Over HTTP/2 the same calls answer one stream: bodies go out as the client's flow-control
/// window allows, and a file or reader body ([`send_response`](Self::send_response)) is
/// read only as the window opens. Where HTTP/1.1 closes the connection after a body it
/// cannot complete, HTTP/2 resets just that stream (RST_STREAM(INTERNAL_ERROR)).
///
/// **Dropping a responder without answering answers `500 Internal Server Error`**, so that a
/// forgotten request never leaves a client (and every request pipelined behind it) waiting.
/// Dropping it in the middle of a streamed answer closes the connection after the bytes
/// already written: the client sees a truncated body, not a complete wrong one.
///
/// If the connection closed meanwhile, every method does nothing.
pub struct HttpServerResponder {
    ctx: Option<Target>,
    stream: Option<Stream>,
    /// `drained`, made when first asked for or when streaming starts.
    drained: OnceCell<Signal<()>>,
}

impl std::fmt::Debug for HttpServerResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerResponder")
            .field("answered", &self.ctx.is_none())
            .field("streaming", &self.stream.is_some())
            .finish()
    }
}

impl HttpServerResponder {
    pub(crate) fn new(ctx: ResponderCtx) -> Self {
        HttpServerResponder {
            ctx: Some(Target::H1(ctx)),
            stream: None,
            drained: OnceCell::new(),
        }
    }

    /// A responder answering an HTTP/2 stream.
    pub(crate) fn for_h2(stream: H2Stream) -> Self {
        HttpServerResponder {
            ctx: Some(Target::H2(Box::new(stream))),
            stream: None,
            drained: OnceCell::new(),
        }
    }

    /// The HTTP/1.x context, taken (the answer is being completed).
    fn take_h1(&mut self) -> Option<ResponderCtx> {
        match self.ctx.take() {
            Some(Target::H1(ctx)) => Some(ctx),
            other => {
                self.ctx = other;
                None
            }
        }
    }

    /// The HTTP/2 stream, taken (the answer is being completed).
    fn take_h2(&mut self) -> Option<Box<H2Stream>> {
        match self.ctx.take() {
            Some(Target::H2(stream)) => Some(stream),
            other => {
                self.ctx = other;
                None
            }
        }
    }

    /// The request being answered.
    pub fn request(&self) -> Option<&HttpServerRequest> {
        match self.ctx.as_ref()? {
            Target::H1(c) => Some(&c.request),
            Target::H2(s) => Some(s.request()),
        }
    }

    /// Whether the client is still connected (an answer would reach it).
    pub fn is_connected(&self) -> bool {
        match &self.ctx {
            Some(Target::H1(c)) => c.conn.upgrade().is_some_and(|c| c.is_open()),
            Some(Target::H2(s)) => s.is_open(),
            None => false,
        }
    }

    /// Answers with `status`, `headers` and `body` (Qt's `write(data, headers, status)`).
    /// `Content-Length`, `Date` and the connection fields are added; a response to HEAD
    /// carries no body.
    pub fn write(mut self, status: StatusCode, headers: HeaderMap, body: impl Into<Bytes>) {
        let body = body.into();
        if self.stream.is_some() || self.h2_streaming() {
            // Already streaming: the body continues the stream (past the budget if need
            // be: the caller gave it whole).
            let _ = self.push_chunk(body, true);
            return self.write_end();
        }
        if let Some(stream) = self.take_h2() {
            return stream.write(status, headers, body);
        }
        let Some(ctx) = self.take_h1() else {
            return;
        };
        let Some(conn) = ctx.conn.upgrade() else {
            return;
        };
        let (framing, close) =
            conn.encode_head(&ctx, status, headers, BodyLength::Known(body.len() as u64));
        if matches!(framing, Framing::Length(_)) {
            conn.emit_with_body(ctx.seq, body);
        } else {
            conn.emit_scratch(ctx.seq);
        }
        conn.finish(ctx.seq, close);
    }

    /// Answers with `status` and `body` of type `mime_type` (Qt's
    /// `write(data, mimeType, status)`).
    pub fn write_data(self, status: StatusCode, mime_type: &str, body: impl Into<Bytes>) {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type_value(mime_type) {
            headers.insert(CONTENT_TYPE, value);
        }
        self.write(status, headers, body)
    }

    /// Answers with `status` and an empty body (Qt's `write(status)`).
    pub fn write_status(self, status: StatusCode) {
        self.write(status, HeaderMap::new(), Bytes::new())
    }

    /// Answers with `status` and `json`, an already serialised JSON document, as
    /// `application/json` (Qt's `write(QJsonDocument, status)`).
    pub fn write_json(self, status: StatusCode, json: impl Into<Bytes>) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.write(status, headers, json)
    }

    /// Sends a complete [`HttpServerResponse`] (Qt's `sendResponse`). A file or reader
    /// body is read and sent in pieces as the client takes them. A reader that returns
    /// `WouldBlock` is read again when its response's
    /// [`reader_waker`](HttpServerResponse::reader_waker) is woken; a reader that fails, or
    /// ends before the announced length, cuts the answer short (HTTP/1.1 closes the
    /// connection after what was sent, HTTP/2 resets the stream): the client sees an
    /// incomplete body, never a complete wrong one. The reader is dropped when the client
    /// goes away.
    pub fn send_response(mut self, response: HttpServerResponse) {
        let (status, headers, body, waker) = response.into_parts();
        let (source, len) = match body {
            ResponseBody::Bytes(bytes) => return self.write(status, headers, bytes),
            ResponseBody::File { file, offset, len } => {
                (Source::File { file, offset }, BodyLength::Known(len))
            }
            ResponseBody::Reader { reader, len } => (
                Source::Reader { reader, waker },
                len.map_or(BodyLength::Unknown, BodyLength::Known),
            ),
        };
        if self.stream.is_some() || self.h2_streaming() {
            // Misuse after write_begin: nothing sensible to add to that stream.
            return self.write_end();
        }
        if let Some(stream) = self.take_h2() {
            let len = match len {
                BodyLength::Known(n) => Some(n),
                _ => None,
            };
            return stream.send_pulled(status, headers, source, len);
        }
        let Some(ctx) = self.take_h1() else {
            return;
        };
        let Some(conn) = ctx.conn.upgrade() else {
            return;
        };
        let (framing, close) = conn.encode_head(&ctx, status, headers, len);
        conn.emit_scratch(ctx.seq);
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        if framing != Framing::Empty && (remaining > 0 || !matches!(framing, Framing::Length(_))) {
            conn.set_pump(
                ctx.seq,
                Pump {
                    source,
                    framing,
                    remaining,
                    parked: false,
                },
            );
        }
        conn.finish(ctx.seq, close);
    }

    /// Starts a streamed answer: sends the head now. `length` is the exact body length if
    /// known (sent as `Content-Length`), else the body is chunked. Returns false if the
    /// answer was already started or the connection is gone.
    pub fn write_begin(
        &mut self,
        status: StatusCode,
        headers: HeaderMap,
        length: Option<u64>,
    ) -> bool {
        if self.stream.is_some() {
            return false;
        }
        let signal = self.drained.get_or_init(Signal::new).clone();
        let ctx = match &self.ctx {
            Some(Target::H1(ctx)) => ctx,
            Some(Target::H2(stream)) => return stream.begin(status, headers, length, signal),
            None => return false,
        };
        let Some(conn) = ctx.conn.upgrade() else {
            return false;
        };
        let length = match length {
            Some(n) => BodyLength::Known(n),
            None => BodyLength::Unknown,
        };
        let (framing, close) = conn.encode_head(ctx, status, headers, length);
        conn.emit_scratch(ctx.seq);
        let pacing = Pacing::new(signal, conn.stream_budget());
        conn.set_pacing(ctx.seq, pacing.clone());
        self.stream = Some(Stream {
            framing,
            written: 0,
            close,
            pacing,
        });
        true
    }

    /// Queues a piece of a streamed answer (one chunk when chunked), if the answer's queue
    /// is below its [budget](Self::write_budget); see [pacing](Self#pacing-a-streamed-answer).
    /// Nothing is queued when it fails: [`WriteChunkError::Full`] hands the piece back (write
    /// it again after [`drained`](Self::drained)), [`WriteChunkError::Closed`] says the
    /// client is gone, [`WriteChunkError::TooLong`] that the piece would exceed the length
    /// given to [`write_begin`](Self::write_begin).
    pub fn write_chunk(&mut self, data: impl Into<Bytes>) -> Result<(), WriteChunkError> {
        self.push_chunk(data.into(), false)
    }

    /// `write_chunk`; `force` queues past the budget (a whole body handed to `write`).
    fn push_chunk(&mut self, data: Bytes, force: bool) -> Result<(), WriteChunkError> {
        if let Some(Target::H2(stream)) = &self.ctx {
            return stream.chunk(data, force);
        }
        let (Some(Target::H1(ctx)), Some(stream)) = (&self.ctx, &mut self.stream) else {
            return Err(WriteChunkError::NotStreaming);
        };
        let Some(conn) = ctx.conn.upgrade().filter(|c| c.is_open()) else {
            return Err(WriteChunkError::Closed);
        };
        let len = data.len() as u64;
        if matches!(stream.framing, Framing::Length(declared) if stream.written + len > declared) {
            return Err(WriteChunkError::TooLong);
        }
        let level = conn.queued_for(ctx.seq);
        if !force && !stream.pacing.accepts(level) {
            stream.pacing.queued(level);
            return Err(WriteChunkError::Full(data));
        }
        match stream.framing {
            Framing::Empty => {}
            Framing::Length(_) | Framing::CloseDelimited => conn.emit_bytes(ctx.seq, data),
            Framing::Chunked => {
                if len > 0 {
                    conn.chunk_header(len);
                    if data.len() < 4096 {
                        conn.scratch_append(&data);
                        conn.scratch_append(b"\r\n");
                        conn.emit_scratch(ctx.seq);
                    } else {
                        conn.emit_scratch(ctx.seq);
                        conn.emit_bytes(ctx.seq, data);
                        conn.emit(ctx.seq, b"\r\n");
                    }
                }
            }
        }
        stream.written += len;
        stream.pacing.queued(conn.queued_for(ctx.seq));
        Ok(())
    }

    /// Bytes of this answer queued but not yet taken by the client (Qt programs read
    /// `responder.socket()->bytesToWrite()`): over HTTP/1.1 what waits in the connection's
    /// send queue (for an answer behind pipelined ones, plus what waits for them), over
    /// HTTP/2 what the stream's flow-control window has not admitted yet. 0 when no
    /// streamed answer is in progress.
    pub fn bytes_to_write(&self) -> usize {
        match (&self.ctx, &self.stream) {
            (Some(Target::H1(ctx)), Some(_)) => {
                ctx.conn.upgrade().map_or(0, |c| c.queued_for(ctx.seq))
            }
            (Some(Target::H2(stream)), _) => stream.bytes_to_write(),
            _ => 0,
        }
    }

    /// The queue level at which [`write_chunk`](Self::write_chunk) starts refusing pieces:
    /// [`HttpServerConfiguration::max_buffered_output`] of the server (0 before
    /// [`write_begin`](Self::write_begin)).
    ///
    /// [`HttpServerConfiguration::max_buffered_output`]: super::HttpServerConfiguration::max_buffered_output
    pub fn write_budget(&self) -> usize {
        match (&self.ctx, &self.stream) {
            (Some(Target::H1(_)), Some(stream)) => stream.pacing.budget(),
            (Some(Target::H2(stream)), _) => stream.write_budget(),
            _ => 0,
        }
    }

    /// Emitted when a streamed answer's queue, after reaching half its
    /// [budget](Self::write_budget) or refusing a piece, has fallen below half the budget:
    /// write more (Qt's `bytesWritten` pacing, see
    /// [pacing](Self#pacing-a-streamed-answer)). Emitted once more if the client goes away
    /// while the producer waits (its next `write_chunk` then says
    /// [`WriteChunkError::Closed`]); after that, and once the answer is complete, its slots
    /// are disconnected, so a slot may own the responder.
    ///
    /// Always emitted from the event loop, never from inside a responder method.
    pub fn drained(&self) -> Signal<()> {
        self.drained.get_or_init(Signal::new).clone()
    }

    /// Ends a streamed answer. A body shorter than the announced length cannot be repaired:
    /// the connection is closed after it (the client sees it truncated).
    pub fn write_end(mut self) {
        if self.h2_streaming() {
            if let Some(stream) = self.take_h2() {
                stream.end();
            }
            return;
        }
        let Some(stream) = self.stream.take() else {
            // Not started: an empty 200, like Qt's writeEnd after no writeBeginning.
            return self.write_status(StatusCode::OK);
        };
        stream.pacing.finish();
        let Some(ctx) = self.take_h1() else {
            return;
        };
        let Some(conn) = ctx.conn.upgrade() else {
            return;
        };
        let complete = match stream.framing {
            Framing::Length(declared) => stream.written == declared,
            Framing::Chunked => {
                conn.emit(ctx.seq, b"0\r\n\r\n");
                true
            }
            Framing::Empty | Framing::CloseDelimited => true,
        };
        conn.finish(ctx.seq, stream.close || !complete);
    }
}

impl HttpServerResponder {
    /// Whether an HTTP/2 streamed answer was started.
    fn h2_streaming(&self) -> bool {
        matches!(&self.ctx, Some(Target::H2(s)) if s.is_streaming())
    }
}

impl Drop for HttpServerResponder {
    fn drop(&mut self) {
        if self.ctx.is_none() {
            return;
        }
        if self.h2_streaming() {
            // Half-sent: that stream is reset.
            if let Some(stream) = self.take_h2() {
                stream.abandon();
            }
            return;
        }
        if let Some(stream) = self.stream.take() {
            // Half-sent: close after what was written.
            stream.pacing.finish();
            if let Some(ctx) = self.take_h1() {
                if let Some(conn) = ctx.conn.upgrade() {
                    conn.finish(ctx.seq, true);
                }
            }
            return;
        }
        let responder = HttpServerResponder {
            ctx: self.ctx.take(),
            stream: None,
            drained: OnceCell::new(),
        };
        responder.write_status(StatusCode::INTERNAL_SERVER_ERROR);
    }
}

/// The `Content-Type` value for `mime_type`: the common types are constants (no copy, no
/// allocation per answer), others are copied.
fn content_type_value(mime_type: &str) -> Option<HeaderValue> {
    Some(match mime_type {
        "text/plain" => const { HeaderValue::from_static("text/plain") },
        "text/plain; charset=utf-8" => {
            const { HeaderValue::from_static("text/plain; charset=utf-8") }
        }
        "text/html" => const { HeaderValue::from_static("text/html") },
        "text/html; charset=utf-8" => {
            const { HeaderValue::from_static("text/html; charset=utf-8") }
        }
        "application/json" => const { HeaderValue::from_static("application/json") },
        "application/octet-stream" => {
            const { HeaderValue::from_static("application/octet-stream") }
        }
        other => return HeaderValue::from_str(other).ok(),
    })
}
