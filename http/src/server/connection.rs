//! One HTTP/1.1 connection of the server: reads requests off any [`AbstractSocket`], hands
//! them to the handler, and writes the answers back in request order.
//!
//! Bounded by construction: the socket's read buffer is limited (a whole head fits, not
//! more); a request body is limited by the decoder; at most `max_pipelined_requests` answers
//! are owed and at most `max_buffered_output` answer bytes wait for a slow reader before the
//! connection stops reading further requests. One timer per connection covers the idle,
//! slow-head, stalled-body and stalled-reader cases; it is only restarted when the
//! connection changes phase to one whose deadline comes sooner than the timer's, and when it
//! fires it checks the real deadline (activity, and phases with later deadlines, push
//! deadlines back without touching the timer).
//!
//! Re-entrancy: handlers run with no `RefCell` borrow held, and may answer at once (from
//! inside [`Connection::process_input`]) or later from the loop. A `processing` flag keeps
//! an answer given from inside the read loop from starting a nested read loop.

use std::cell::{Cell, RefCell};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_TYPE, SERVER};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use slotnet_core::{deadline_after, Timer};
use slotnet_net::{AbstractSocket, SocketState};

use super::abstract_server::{ServerCore, Settings};
use super::config::HttpServerConfiguration;
use super::pacing::{is_not_ready, Pacing};
use super::pipeline::{Pipeline, Pump, Source};
use super::request::{ConnectionInfo, HttpServerRequest};
use super::responder::{HttpServerResponder, ResponderCtx};
use super::websocket::{upgrade_key, WebSocket, WebSocketUpgradeResponse};
use crate::h1::{
    encode_chunk_header, encode_response_head, BodyLength, ByteStr, Framing, H1Error,
    RequestDecoder, RequestEvent, RequestHead, ResponseHead,
};
use slotnet_core::spawn_local;

/// Bytes of a pulled body (file, reader) read per piece.
const PUMP_CHUNK: usize = 64 * 1024;
/// A pulled body is read further only while less than this is queued on the socket.
const PUMP_HIGH_WATER: usize = 256 * 1024;
/// Bodies at least this long go to the socket as their own `Bytes` (no copy).
const COPY_LIMIT: usize = 4096;
/// After an error answer, input is still read and dropped before closing: closing with
/// unread input makes the kernel send a reset, which can destroy the answer before the
/// client reads it (a client still sending an oversized upload would never see its 413).
/// Lingering ends when the client closes, when nothing arrived for `LINGER_QUIET` (the
/// client stopped sending and waits for the answer or the close), after `LINGER_TIME`, or
/// after `LINGER_MAX_BYTES`.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_QUIET: Duration = Duration::from_millis(100);
const LINGER_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The size of a header section as sent (`name: value\r\n` per field). The decoder bounds
/// request line and fields together; this applies the header part's own limit.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The next piece of a pulled body.
enum Piece {
    /// Bytes framed for the wire.
    Data(Bytes),
    /// The body is complete.
    End,
    /// The reader has nothing yet (`WouldBlock`): wait for its waker.
    NotReady,
    /// The source failed or ended before the announced length.
    Failed,
}

/// Reads the next piece of a pulled body, framed for the wire (the last chunk of a chunked
/// body is the final piece).
fn read_piece(pump: &mut Pump) -> Piece {
    let want = match pump.framing {
        Framing::Empty => return Piece::End,
        Framing::Length(_) if pump.remaining == 0 => return Piece::End,
        Framing::Length(_) => usize::try_from(pump.remaining)
            .unwrap_or(PUMP_CHUNK)
            .min(PUMP_CHUNK),
        Framing::Chunked | Framing::CloseDelimited => PUMP_CHUNK,
    };
    // Room for a chunk size line in front and the CRLF after.
    const FRAME: usize = 20;
    let mut buf = vec![0u8; want + FRAME + 2];
    let n = loop {
        let target = &mut buf[FRAME..FRAME + want];
        let read = match &mut pump.source {
            Source::File { file, offset } => file.read_at(target, *offset).inspect(|n| {
                *offset += *n as u64;
            }),
            Source::Reader { reader, waker } => {
                // A wake from now on means news after this read.
                waker.reset();
                reader.read(target)
            }
        };
        match read {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if is_not_ready(&e) => return Piece::NotReady,
            Err(_) => return Piece::Failed,
        }
    };
    match pump.framing {
        Framing::Length(_) => {
            if n == 0 {
                return Piece::Failed;
            }
            pump.remaining -= n as u64;
            Piece::Data(Bytes::from(buf).slice(FRAME..FRAME + n))
        }
        Framing::Chunked => {
            if n == 0 {
                pump.framing = Framing::Empty;
                return Piece::Data(Bytes::from_static(b"0\r\n\r\n"));
            }
            let mut line = BytesMut::with_capacity(FRAME);
            encode_chunk_header(n as u64, &mut line);
            let start = FRAME - line.len();
            buf[start..FRAME].copy_from_slice(&line);
            buf[FRAME + n..FRAME + n + 2].copy_from_slice(b"\r\n");
            Piece::Data(Bytes::from(buf).slice(start..FRAME + n + 2))
        }
        _ if n == 0 => Piece::End,
        _ => Piece::Data(Bytes::from(buf).slice(FRAME..FRAME + n)),
    }
}

/// What the connection is waiting for; decides which timeout applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests, nothing owed.
    Idle,
    /// Part of a request head arrived (the slow-head timeout runs from its first byte).
    Head,
    /// A request body is arriving.
    Body,
    /// Answers are owed (a handler is working, or the client is reading them), or written
    /// and still queued on the socket.
    Busy,
}

/// A request whose head arrived and whose body is being received.
struct Partial {
    head: RequestHead,
    seq: u64,
    body: BodyBuf,
    keep_alive: bool,
}

/// A request body being received: one piece is kept as it is, several are joined.
enum BodyBuf {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl BodyBuf {
    fn push(&mut self, data: Bytes) {
        *self = match std::mem::replace(self, BodyBuf::Empty) {
            BodyBuf::Empty => BodyBuf::One(data),
            BodyBuf::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                BodyBuf::Many(joined)
            }
            BodyBuf::Many(mut joined) => {
                joined.extend_from_slice(&data);
                BodyBuf::Many(joined)
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            BodyBuf::Empty => Bytes::new(),
            BodyBuf::One(b) => b,
            BodyBuf::Many(b) => b.freeze(),
        }
    }
}

/// The outcome of decoding from the read buffer.
enum Step {
    /// More bytes are needed.
    NeedMore,
    /// A head with `Expect: 100-continue` arrived; its body is wanted.
    Continue(u64),
    /// A complete request.
    Request(Partial),
    /// The client sent something invalid.
    Error(H1Error),
    /// No further request will come (the last one asked to close).
    Closed,
}

/// Lets [`Connection::advance`] decide under a borrow and act after releasing it.
enum Next {
    Stop,
    Pump,
    Close,
    Flush(Option<Bytes>),
}

pub(crate) struct Connection {
    weak: Weak<Connection>,
    id: u64,
    server: Weak<ServerCore>,
    settings: Rc<Settings>,
    config: Rc<HttpServerConfiguration>,
    socket: Box<dyn AbstractSocket>,
    info: ConnectionInfo,
    timer: Timer,
    decoder: RefCell<RequestDecoder>,
    partial: RefCell<Option<Partial>>,
    pipeline: RefCell<Pipeline>,
    /// Reused to encode heads and small bodies.
    scratch: RefCell<BytesMut>,
    /// `process_input` is running (a handler answering from inside it must not re-enter).
    processing: Cell<bool>,
    /// Reading stopped on backpressure; resumed when answers go out.
    input_blocked: Cell<bool>,
    /// No further request is read (an error, `Connection: close`, or closing).
    read_stopped: Cell<bool>,
    /// The server is shutting down: finish what is owed, then close.
    draining: Cell<bool>,
    /// `disconnect_from_host` was called.
    closing: Cell<bool>,
    /// The socket is gone.
    closed: Cell<bool>,
    /// Close by lingering (see [`LINGER_TIME`]) once the answers are out.
    linger: Cell<bool>,
    /// Lingering: input is read and dropped until the client closes or time is up.
    lingering: Cell<bool>,
    discarded: Cell<usize>,
    phase: Cell<Phase>,
    phase_since: Cell<Instant>,
    /// When the timer fires; `None` when it is not running. Kept here because asking the
    /// timer (`Timer::is_active`) costs an object lookup on every request.
    timer_due: Cell<Option<Instant>>,
    last_read: Cell<Instant>,
    last_write: Cell<Instant>,
    /// Upgraded to a WebSocket, which now owns the socket's signals; called on drain.
    upgraded: RefCell<Option<Rc<dyn Fn()>>>,
}

impl Connection {
    /// Takes over `socket` (connected) for server `server`; returns `None` if it is already
    /// closed. Bytes already buffered on the socket are processed at once.
    pub(crate) fn start(
        server: &Rc<ServerCore>,
        id: u64,
        socket: Box<dyn AbstractSocket>,
        info: ConnectionInfo,
    ) -> Option<Rc<Connection>> {
        if socket.state() != SocketState::Connected {
            return None;
        }
        let config = server.config();
        socket.set_read_buffer_size(config.read_buffer_size());
        let timer = Timer::with_parent(&socket.as_object());
        timer.set_single_shot(true);
        let now = Instant::now();
        let conn = Rc::new_cyclic(|weak| Connection {
            weak: weak.clone(),
            id,
            server: Rc::downgrade(server),
            settings: server.settings().clone(),
            decoder: RefCell::new(RequestDecoder::with_limits(config.decoder_limits())),
            config,
            socket,
            info,
            timer,
            partial: RefCell::new(None),
            pipeline: RefCell::new(Pipeline::default()),
            scratch: RefCell::new(BytesMut::new()),
            processing: Cell::new(false),
            input_blocked: Cell::new(false),
            read_stopped: Cell::new(false),
            draining: Cell::new(false),
            closing: Cell::new(false),
            closed: Cell::new(false),
            linger: Cell::new(false),
            lingering: Cell::new(false),
            discarded: Cell::new(0),
            phase: Cell::new(Phase::Idle),
            phase_since: Cell::new(now),
            timer_due: Cell::new(None),
            last_read: Cell::new(now),
            last_write: Cell::new(now),
            upgraded: RefCell::new(None),
        });
        conn.connect_signals();
        conn.arm_timer(now, conn.config.keep_alive_timeout);
        Some(conn)
    }

    fn connect_signals(&self) {
        let socket = &self.socket;
        let weak = self.weak.clone();
        socket.ready_read().connect(move |_| {
            if let Some(conn) = weak.upgrade() {
                conn.last_read.set(Instant::now());
                conn.process_input();
            }
        });
        let weak = self.weak.clone();
        socket.bytes_written().connect(move |_| {
            if let Some(conn) = weak.upgrade() {
                conn.last_write.set(Instant::now());
                conn.advance();
            }
        });
        let weak = self.weak.clone();
        socket.read_channel_finished().connect(move |_| {
            if let Some(conn) = weak.upgrade() {
                conn.decoder.borrow_mut().eof();
                conn.process_input();
            }
        });
        let weak = self.weak.clone();
        socket.disconnected().connect(move |_| {
            if let Some(conn) = weak.upgrade() {
                conn.on_disconnected();
            }
        });
        let weak = self.weak.clone();
        self.timer.timeout().connect(move |_| {
            if let Some(conn) = weak.upgrade() {
                conn.on_timer();
            }
        });
    }

    // ----- reading requests -------------------------------------------------------------

    /// Decodes and dispatches buffered requests while allowed.
    pub(crate) fn process_input(&self) {
        if self.is_upgraded() {
            return;
        }
        if self.lingering.get() {
            return self.discard_input();
        }
        if self.processing.replace(true) {
            return;
        }
        loop {
            if self.read_stopped.get() || self.closing.get() || self.closed.get() {
                break;
            }
            if self.draining.get() && self.partial.borrow().is_none() {
                self.read_stopped.set(true);
                break;
            }
            if self.must_wait() {
                self.input_blocked.set(true);
                break;
            }
            self.input_blocked.set(false);
            match self.decode_step() {
                Step::NeedMore => break,
                Step::Continue(seq) => self.emit(seq, b"HTTP/1.1 100 Continue\r\n\r\n"),
                Step::Request(partial) => self.dispatch(partial),
                Step::Error(error) => {
                    self.reject(error);
                    break;
                }
                Step::Closed => {
                    self.read_stopped.set(true);
                    break;
                }
            }
        }
        self.processing.set(false);
        self.after_progress();
    }

    /// Backpressure: too many answers owed, or too much output unread by the client.
    fn must_wait(&self) -> bool {
        // A request whose head arrived already has its slot: let its body in.
        let owed = self.pipeline.borrow().len() - usize::from(self.partial.borrow().is_some());
        owed >= self.config.max_pipelined_requests.max(1)
            || self.output_held() > self.config.max_buffered_output
    }

    /// Answer bytes held in memory for a client that has not taken them: the socket's queue
    /// and the answers buffered behind an incomplete earlier one. Reading further requests
    /// stops past `max_buffered_output`, so this stays below it plus one answer whatever the
    /// number of pipelined requests.
    pub(crate) fn output_held(&self) -> usize {
        let behind: usize = self
            .pipeline
            .borrow()
            .iter()
            .map(|slot| slot.buffered.len())
            .sum();
        self.socket.bytes_to_write() + behind
    }

    fn decode_step(&self) -> Step {
        let mut step = Step::NeedMore;
        let mut decoder = self.decoder.borrow_mut();
        let mut partial = self.partial.borrow_mut();
        let pipeline = &self.pipeline;
        let max_header_bytes = self.config.max_header_bytes;
        self.socket.with_read_buffer(&mut |buf| {
            step = loop {
                match decoder.decode(buf) {
                    Ok(Some(RequestEvent::Head(head))) => {
                        if header_bytes(&head.headers) > max_header_bytes {
                            break Step::Error(H1Error::HeadersTooLarge);
                        }
                        let seq = pipeline.borrow_mut().push();
                        *partial = Some(Partial {
                            head,
                            seq,
                            body: BodyBuf::Empty,
                            keep_alive: decoder.keep_alive(),
                        });
                        if decoder.expects_continue() {
                            break Step::Continue(seq);
                        }
                    }
                    Ok(Some(RequestEvent::Data(data))) => {
                        if let Some(p) = partial.as_mut() {
                            p.body.push(data);
                        }
                    }
                    Ok(Some(RequestEvent::End { .. })) => {
                        if let Some(p) = partial.take() {
                            break Step::Request(p);
                        }
                    }
                    Ok(None) if decoder.is_closed() => break Step::Closed,
                    Ok(None) => break Step::NeedMore,
                    Err(error) => break Step::Error(error),
                }
            };
        });
        step
    }

    fn dispatch(&self, partial: Partial) {
        let Partial {
            head,
            seq,
            body,
            keep_alive,
        } = partial;
        let request = Rc::new(HttpServerRequest::new(
            head.method,
            head.target,
            head.version,
            head.headers,
            body.into_bytes(),
            self.info,
        ));
        let upgrade =
            upgrade_key(&request).map(|key| (key, self.settings.web_socket.verify(&request)));
        if let Some((key, WebSocketUpgradeResponse::Accept)) = upgrade {
            // Answered by the 101 itself: no responder (whose drop would answer 500).
            return self.upgrade(seq, key, &request);
        }
        let responder = HttpServerResponder::new(ResponderCtx {
            conn: self.weak.clone(),
            seq,
            request: request.clone(),
            keep_alive,
        });
        let handler = self.settings.handler.clone();
        match upgrade {
            Some((_, WebSocketUpgradeResponse::Deny)) => {
                return responder.write_status(StatusCode::FORBIDDEN);
            }
            Some((_, WebSocketUpgradeResponse::PassToNext)) => {
                return handler.missing_handler(&request, responder);
            }
            _ => {}
        }
        if let Err(responder) = handler.handle_request(&request, responder) {
            handler.missing_handler(&request, responder);
        }
    }

    /// Answers an accepted WebSocket upgrade with `101` and hands the socket to a
    /// [`WebSocket`]. Upgrading behind unanswered pipelined requests is refused (the `101`
    /// must be the last HTTP answer on the connection).
    fn upgrade(&self, seq: u64, key: &str, request: &HttpServerRequest) {
        let Some(me) = self.weak.upgrade() else {
            return;
        };
        if !self.pipeline.borrow().is_front(seq) || self.draining.get() {
            return self.answer_error(StatusCode::SERVICE_UNAVAILABLE, false);
        }
        self.pipeline.borrow_mut().pop_front();
        self.read_stopped.set(true);
        self.stop_timer();
        // The hooks see the 101 as they see every answer, and may add fields to it; a status
        // they set is ignored: the verifier accepted the upgrade, the client expects the 101.
        // (Qt 6's QHttpServer never shows the upgrade to its after-request handlers: there it
        // bypasses the router, so a logging hook would miss it.)
        let mut status = StatusCode::SWITCHING_PROTOCOLS;
        let mut headers = HeaderMap::new();
        if let Some(server) = &self.config.server_header {
            headers.insert(SERVER, server.clone());
        }
        self.settings
            .run_after_request(request, &mut status, &mut headers);
        WebSocket::start(me, key, request, &headers, &self.settings.web_socket);
    }

    /// The socket (for the [`WebSocket`] it was handed to).
    pub(crate) fn socket(&self) -> &dyn AbstractSocket {
        self.socket.as_ref()
    }

    /// Marks the connection as upgraded: it no longer reads or writes HTTP; `on_drain` is
    /// called when the server shuts down.
    pub(crate) fn set_upgraded(&self, on_drain: Rc<dyn Fn()>) {
        *self.upgraded.borrow_mut() = Some(on_drain);
    }

    /// Whether the connection was upgraded to a WebSocket.
    pub(crate) fn is_upgraded(&self) -> bool {
        self.upgraded.borrow().is_some()
    }

    /// Answers a malformed request with the status it deserves and stops reading.
    fn reject(&self, error: H1Error) {
        log::debug!(target: crate::log_target::HTTPSERVER, "Malformed request: {error} (answered {})", error.status_hint().as_u16());
        self.read_stopped.set(true);
        if matches!(error, H1Error::IncompleteHead | H1Error::TruncatedBody) {
            // The client is gone: nobody would read an answer.
            self.partial.borrow_mut().take();
            self.close_gracefully();
            return;
        }
        self.answer_error(error.status_hint(), true);
    }

    /// Writes an error answer in the current request's slot (or a new one) and closes after it.
    ///
    /// `linger`: drop the client's further input for a while before closing (it may still be
    /// sending what was refused).
    fn answer_error(&self, status: StatusCode, linger: bool) {
        self.linger.set(linger);
        let seq = match self.partial.borrow_mut().take() {
            Some(p) => p.seq,
            None => self.pipeline.borrow_mut().push(),
        };
        let head = ResponseHead::new(status);
        let reason = status.canonical_reason().unwrap_or("Error");
        let mut head = head;
        head.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        head.headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
        if let Some(server) = &self.config.server_header {
            head.headers.insert(SERVER, server.clone());
        }
        let body_len = reason.len() as u64 + 1;
        {
            let mut scratch = self.scratch.borrow_mut();
            encode_response_head(
                &head,
                &Method::GET,
                BodyLength::Known(body_len),
                &mut scratch,
            );
            scratch.extend_from_slice(reason.as_bytes());
            scratch.extend_from_slice(b"\n");
        }
        self.emit_scratch(seq);
        self.finish(seq, true);
    }

    // ----- writing answers --------------------------------------------------------------

    /// Encodes a response head for the request of `ctx` into the scratch buffer (not sent
    /// yet), after the after-request hooks ran. Returns the body framing and whether the
    /// connection closes after this answer.
    pub(crate) fn encode_head(
        &self,
        ctx: &ResponderCtx,
        mut status: StatusCode,
        mut headers: HeaderMap,
        length: BodyLength,
    ) -> (Framing, bool) {
        self.settings
            .run_after_request(&ctx.request, &mut status, &mut headers);
        if let Some(server) = &self.config.server_header {
            if !headers.contains_key(SERVER) {
                headers.insert(SERVER, server.clone());
            }
        }
        let version = ctx.request.version();
        let user_close = headers.get_all(CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        });
        let close = user_close || !ctx.keep_alive || self.draining.get();
        if close {
            if !user_close {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
        } else if version == Version::HTTP_10 {
            headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        }
        let head = ResponseHead {
            version: if version == Version::HTTP_10 {
                Version::HTTP_10
            } else {
                Version::HTTP_11
            },
            status,
            reason: ByteStr::new(),
            headers,
            raw: Default::default(),
        };
        let framing = encode_response_head(
            &head,
            ctx.request.method(),
            length,
            &mut self.scratch.borrow_mut(),
        );
        (framing, close || framing == Framing::CloseDelimited)
    }

    /// Appends body bytes to the scratch buffer (after a head), for small bodies.
    pub(crate) fn scratch_append(&self, data: &[u8]) {
        self.scratch.borrow_mut().extend_from_slice(data);
    }

    /// Appends a chunk size line to the scratch buffer.
    pub(crate) fn chunk_header(&self, len: u64) {
        encode_chunk_header(len, &mut self.scratch.borrow_mut());
    }

    /// Whether answers can still reach the client.
    pub(crate) fn is_open(&self) -> bool {
        !self.closing.get() && !self.closed.get()
    }

    /// Sends the scratch buffer for answer `seq` and clears it.
    pub(crate) fn emit_scratch(&self, seq: u64) {
        let mut scratch = self.scratch.borrow_mut();
        if !scratch.is_empty() {
            let taken = std::mem::take(&mut *scratch);
            drop(scratch);
            self.emit(seq, &taken);
            let mut taken = taken;
            taken.clear();
            *self.scratch.borrow_mut() = taken;
        }
    }

    /// Sends bytes of answer `seq`: straight to the socket when it is the front answer,
    /// buffered otherwise.
    pub(crate) fn emit(&self, seq: u64, data: &[u8]) {
        if self.closed.get() || data.is_empty() {
            return;
        }
        let mut pipeline = self.pipeline.borrow_mut();
        if pipeline.is_front(seq) {
            drop(pipeline);
            self.socket.write(data);
        } else if let Some(slot) = pipeline.get_mut(seq) {
            slot.buffered.extend_from_slice(data);
        }
    }

    /// Like [`Connection::emit`] for a body piece, without copying large pieces.
    pub(crate) fn emit_bytes(&self, seq: u64, data: Bytes) {
        if data.len() < COPY_LIMIT {
            return self.emit(seq, &data);
        }
        if self.closed.get() {
            return;
        }
        let mut pipeline = self.pipeline.borrow_mut();
        if pipeline.is_front(seq) {
            drop(pipeline);
            self.socket.write_bytes(data);
        } else if let Some(slot) = pipeline.get_mut(seq) {
            slot.buffered.extend_from_slice(&data);
        }
    }

    /// Sends a head plus small body in one piece, or the head then the body as it is.
    pub(crate) fn emit_with_body(&self, seq: u64, body: Bytes) {
        if body.len() < COPY_LIMIT {
            self.scratch_append(&body);
            self.emit_scratch(seq);
        } else {
            self.emit_scratch(seq);
            self.emit_bytes(seq, body);
        }
    }

    /// Attaches a pulled body to answer `seq`; it is read and sent once earlier answers are
    /// out, as fast as the client takes it.
    pub(crate) fn set_pump(&self, seq: u64, pump: Pump) {
        if let Some(slot) = self.pipeline.borrow_mut().get_mut(seq) {
            slot.pump = Some(pump);
        }
    }

    /// Marks answer `seq` complete; `close` closes the connection after it.
    pub(crate) fn finish(&self, seq: u64, close: bool) {
        {
            let mut pipeline = self.pipeline.borrow_mut();
            let Some(slot) = pipeline.get_mut(seq) else {
                return;
            };
            slot.done = true;
            slot.close |= close;
        }
        if close {
            self.read_stopped.set(true);
        }
        self.advance();
    }

    /// Sends what the front answers have ready, retires complete answers, closes after an
    /// answer that asked for it, and resumes reading when backpressure has eased.
    fn advance(&self) {
        if self.closed.get() || self.is_upgraded() {
            return;
        }
        loop {
            let next = {
                let mut pipeline = self.pipeline.borrow_mut();
                match pipeline.front_mut() {
                    None => Next::Stop,
                    Some(slot) if slot.pump.is_some() => Next::Pump,
                    Some(slot) if !slot.done => Next::Stop,
                    Some(_) => match pipeline.pop_front() {
                        Some(slot) if slot.close => Next::Close,
                        _ => Next::Flush(
                            pipeline
                                .front_mut()
                                .map(|s| s.buffered.split().freeze())
                                .filter(|b| !b.is_empty()),
                        ),
                    },
                }
            };
            match next {
                Next::Stop => break,
                Next::Pump => {
                    if !self.pump() {
                        break;
                    }
                }
                Next::Close => {
                    if self.linger.get() {
                        self.start_linger();
                    } else {
                        self.close_gracefully();
                    }
                    return;
                }
                Next::Flush(Some(bytes)) => {
                    self.socket.write_bytes(bytes);
                }
                Next::Flush(None) => {}
            }
        }
        self.pace();
        if self.processing.get() {
            return;
        }
        if self.input_blocked.get() && !self.must_wait() {
            self.process_input();
        } else {
            self.after_progress();
        }
    }

    /// Sends the next pieces of the front answer's pulled body; returns whether it is done.
    fn pump(&self) -> bool {
        loop {
            if self.socket.bytes_to_write() >= PUMP_HIGH_WATER {
                return false;
            }
            let piece = {
                let mut pipeline = self.pipeline.borrow_mut();
                let Some(slot) = pipeline.front_mut() else {
                    return false;
                };
                let Some(pump) = slot.pump.as_mut() else {
                    return true;
                };
                if pump.parked {
                    return false;
                }
                let piece = read_piece(pump);
                match piece {
                    Piece::End => slot.pump = None,
                    Piece::NotReady => pump.parked = true,
                    _ => {}
                }
                piece
            };
            match piece {
                Piece::Data(bytes) => {
                    self.socket.write_bytes(bytes);
                }
                Piece::End => return true,
                Piece::NotReady => {
                    self.wait_for_reader();
                    return false;
                }
                Piece::Failed => {
                    // The announced body cannot be completed: close after what was sent, so
                    // the client sees it cut short (fewer bytes than announced, or no last
                    // chunk) rather than a complete wrong body.
                    self.pipeline
                        .borrow_mut()
                        .front_mut()
                        .map(|s| s.pump.take());
                    self.close_gracefully();
                    return false;
                }
            }
        }
    }

    /// The front answer's reader is not ready: read again once its waker is woken (from any
    /// thread). Dropping the reader (the connection closed) wakes it too.
    fn wait_for_reader(&self) {
        let waker = match self
            .pipeline
            .borrow_mut()
            .front_mut()
            .and_then(|s| s.pump.as_ref())
        {
            Some(Pump {
                source: Source::Reader { waker, .. },
                ..
            }) => waker.clone(),
            _ => return,
        };
        let weak = self.weak.clone();
        spawn_local(async move {
            std::future::poll_fn(|cx| waker.poll_woken(cx)).await;
            let Some(conn) = weak.upgrade() else {
                return;
            };
            if let Some(pump) = conn
                .pipeline
                .borrow_mut()
                .front_mut()
                .and_then(|s| s.pump.as_mut())
            {
                pump.parked = false;
            }
            conn.advance();
        });
    }

    // ----- pacing pushed answers ----------------------------------------------------------

    /// What a pushed answer may queue before `write_chunk` refuses more.
    pub(crate) fn stream_budget(&self) -> usize {
        self.config.max_buffered_output
    }

    /// Attaches a pushed answer's pacing to its slot.
    pub(crate) fn set_pacing(&self, seq: u64, pacing: Rc<Pacing>) {
        if let Some(slot) = self.pipeline.borrow_mut().get_mut(seq) {
            slot.pacing = Some(pacing);
        }
    }

    /// The bytes of answer `seq` not yet taken by the client: the socket's queue (an answer
    /// behind others waits for theirs too) plus what the answer buffered behind them.
    pub(crate) fn queued_for(&self, seq: u64) -> usize {
        let own = self
            .pipeline
            .borrow_mut()
            .get_mut(seq)
            .map_or(0, |slot| slot.buffered.len());
        self.socket.bytes_to_write() + own
    }

    /// Tells pushed answers how far their queues went down (`drained` when owed).
    fn pace(&self) {
        let pipeline = self.pipeline.borrow();
        // Asking the socket costs an object lookup: only when an answer is paced.
        if pipeline.iter().all(|slot| slot.pacing.is_none()) {
            return;
        }
        let queue = self.socket.bytes_to_write();
        for slot in pipeline.iter() {
            if let Some(pacing) = &slot.pacing {
                pacing.progress(queue + slot.buffered.len());
            }
        }
    }

    // ----- closing and timeouts ---------------------------------------------------------

    /// Server shutdown: finish the answers owed, read no new request, then close.
    pub(crate) fn begin_drain(&self) {
        self.draining.set(true);
        let upgraded = self.upgraded.borrow().clone();
        if let Some(close) = upgraded {
            return close();
        }
        self.after_progress();
    }

    /// Everything owed went out after an error answer: drop further input for a while, then
    /// close.
    fn start_linger(&self) {
        if self.lingering.replace(true) || self.closing.get() {
            return;
        }
        self.read_stopped.set(true);
        self.partial.borrow_mut().take();
        let now = Instant::now();
        self.phase_since.set(now);
        self.arm_timer(now, LINGER_QUIET);
        self.discard_input();
    }

    fn discard_input(&self) {
        let mut n = 0;
        self.socket.with_read_buffer(&mut |buf| {
            n += buf.len();
            buf.clear();
        });
        let total = self.discarded.get().saturating_add(n);
        self.discarded.set(total);
        if total > LINGER_MAX_BYTES {
            self.close_gracefully();
        }
    }

    fn close_gracefully(&self) {
        if self.closing.replace(true) {
            return;
        }
        self.read_stopped.set(true);
        self.stop_timer();
        // May emit `disconnected` right away (nothing left to flush).
        self.socket.disconnect_from_host();
    }

    /// Closes at once (server destroyed or a hopeless client).
    pub(crate) fn abort(&self) {
        self.closing.set(true);
        self.socket.abort();
    }

    fn on_disconnected(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.closing.set(true);
        self.stop_timer();
        self.partial.borrow_mut().take();
        for slot in self.pipeline.borrow().iter() {
            if let Some(pacing) = &slot.pacing {
                pacing.client_gone();
            }
        }
        if let Some(server) = self.server.upgrade() {
            server.connection_closed(self.id);
        }
        self.socket.as_object().delete_later();
    }

    /// After reading or writing: close a draining connection that owes nothing, and switch
    /// the timer when the phase changed.
    fn after_progress(&self) {
        if self.closing.get() || self.closed.get() || self.lingering.get() || self.is_upgraded() {
            return;
        }
        let phase = self.current_phase();
        if phase == Phase::Idle && (self.draining.get() || self.read_stopped.get()) {
            self.close_gracefully();
            return;
        }
        if phase != self.phase.get() {
            // The phase changes on reading or writing, whose slot has just stored the time:
            // no clock read here (two per keep-alive request, Idle -> Busy -> Idle).
            let now = self.last_read.get().max(self.last_write.get());
            self.phase.set(phase);
            self.phase_since.set(now);
            // A timer due sooner stays: `on_timer` then re-arms it for the real deadline. A
            // keep-alive connection flips Idle -> Busy -> Idle on every request (the answer
            // waits in the socket's queue for a moment), and restarting the timer each time
            // cost about 2,000 instructions per request, 15 % of a small GET.
            let timeout = self.timeout_of(phase);
            if self
                .timer_due
                .get()
                .is_none_or(|due| deadline_after(now, timeout) < due)
            {
                self.arm_timer(now, timeout);
            }
        }
    }

    /// (Re)starts the connection's timer to fire `after` from `now`.
    fn arm_timer(&self, now: Instant, after: Duration) {
        self.timer_due.set(Some(deadline_after(now, after)));
        self.timer.start_interval(after);
    }

    fn stop_timer(&self) {
        self.timer_due.set(None);
        self.timer.stop();
    }

    /// Since when the connection has been idle (between requests, nothing owed; for a
    /// WebSocket, nothing received and nothing written: one where only the server sends,
    /// to a client that reads, is in use), if it is.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if !self.is_open() {
            return None;
        }
        if self.is_upgraded() {
            return Some(self.last_read.get().max(self.last_write.get()));
        }
        if self.current_phase() != Phase::Idle {
            return None;
        }
        Some(self.last_read.get().max(self.last_write.get()))
    }

    /// The server configuration the connection obeys.
    pub(crate) fn config(&self) -> &HttpServerConfiguration {
        &self.config
    }

    fn current_phase(&self) -> Phase {
        if self.partial.borrow().is_some() {
            Phase::Body
        } else if !self.decoder.borrow().is_idle() {
            Phase::Head
        } else if !self.pipeline.borrow().is_empty() || self.socket.bytes_to_write() > 0 {
            // Answers owed, or written and not yet taken by the client.
            Phase::Busy
        } else {
            Phase::Idle
        }
    }

    fn timeout_of(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Head => self.config.header_timeout,
            // Answers owed: the send timeout applies while they wait for the client.
            Phase::Busy => self.config.send_timeout,
            _ => self.config.keep_alive_timeout,
        }
    }

    fn on_timer(&self) {
        self.timer_due.set(None);
        if self.closing.get() || self.closed.get() || self.is_upgraded() {
            return;
        }
        if self.lingering.get() {
            let now = Instant::now();
            let quiet_until = self.last_read.get().max(self.phase_since.get()) + LINGER_QUIET;
            if now >= quiet_until || now >= self.phase_since.get() + LINGER_TIME {
                self.close_gracefully();
            } else {
                self.arm_timer(now, quiet_until - now);
            }
            return;
        }
        let now = Instant::now();
        let phase = self.current_phase();
        let since = if phase == self.phase.get() {
            self.phase_since.get()
        } else {
            now
        };
        let timeout = self.timeout_of(phase);
        let deadline = match phase {
            Phase::Idle => deadline_after(
                since.max(self.last_read.get()).max(self.last_write.get()),
                timeout,
            ),
            Phase::Head => deadline_after(since, timeout),
            Phase::Body => deadline_after(since.max(self.last_read.get()), timeout),
            Phase::Busy if self.socket.bytes_to_write() == 0 => deadline_after(now, timeout),
            Phase::Busy => deadline_after(since.max(self.last_write.get()), timeout),
        };
        if deadline > now {
            self.phase.set(phase);
            self.phase_since.set(since);
            self.arm_timer(now, deadline - now);
            return;
        }
        match phase {
            Phase::Idle => self.close_gracefully(),
            Phase::Head | Phase::Body => {
                self.read_stopped.set(true);
                // A client that slow gets no lingering.
                self.answer_error(StatusCode::REQUEST_TIMEOUT, false);
                // If earlier answers are still owed the 408 waits behind them; do not wait
                // for a client that stopped sending.
                if !self.closing.get() {
                    self.abort();
                }
            }
            // The client does not read what it asked for.
            Phase::Busy => self.abort(),
        }
    }
}
