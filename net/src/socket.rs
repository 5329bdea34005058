//! The engine shared by [`crate::TcpSocket`] and [`crate::LocalSocket`]: connection set-up,
//! the read and write buffers, the state machine and the signals of QAbstractSocket.
//!
//! Readiness comes edge-triggered from mio, so every path that stops short of `WouldBlock`
//! (a full read buffer, a read budget used up) must arrange the next attempt itself, by
//! posting it to the loop: no new edge will come for bytes already waiting in the kernel.
//!
//! Re-entrancy: signals are emitted with no `RefCell` borrow held, and after each emission
//! the code re-checks that it is still working on the same connection (`attempt`) in the
//! state it expects, because a slot may have aborted, reconnected or destroyed the socket.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::Interest;
use slotnet_core::{AsObject, EventLoop, IoRegistration, Object, Ready, Timer};

use crate::error::{SocketError, SocketOption, SocketState};
use crate::hostinfo::{HostInfo, HostInfoError, LookupId};
use crate::stream::{BufferedStream, Signals, StreamBuffers};
use crate::sys::{self, RawStream};
use crate::wait::{self, Deadline, Step};

/// Bytes read from the kernel per readiness event before yielding to other sockets.
const READ_BUDGET: usize = 1 << 20;
/// First read size; it doubles while reads fill it, up to [`MAX_READ_CHUNK`], so idle
/// connections keep small buffers and busy ones make few syscalls. A read shorter than this
/// brings it back down.
///
/// While the read size is at this minimum, the read buffer is given back whenever the user
/// has read everything, and a read into an empty buffer goes through the stack first: only
/// the bytes that arrived are kept, in an allocation of their size. A connection of small
/// messages (an HTTP keep-alive connection between requests) then holds no buffer at all
/// when idle, where an 8 KiB one per connection was the largest part of its memory.
const MIN_READ_CHUNK: usize = 8 * 1024;
const MAX_READ_CHUNK: usize = 256 * 1024;
/// How often a local connect is retried while the server's backlog is full (`EAGAIN`).
const LOCAL_RETRY: Duration = Duration::from_millis(10);
/// How long local connects are retried at most when no connect timeout is set.
const LOCAL_RETRY_LIMIT: Duration = Duration::from_secs(30);

/// Which kind of stream a socket carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tcp,
    Local,
}

/// Where a connect attempt goes next.
enum Target {
    /// Resolved addresses not tried yet.
    Tcp(VecDeque<SocketAddr>),
    /// The server's path, until it has been tried.
    Local(Option<PathBuf>),
}

struct Io {
    stream: RawStream,
    reg: IoRegistration,
}

/// A socket's state, attached to its [`Object`].
pub(crate) struct SocketCore {
    obj: Object,
    weak: Weak<SocketCore>,
    kind: Kind,
    state: Cell<SocketState>,
    io: RefCell<Option<Io>>,

    /// The read buffer, write queue, error and emission bookkeeping (`stream.rs`).
    pub(crate) buf: StreamBuffers,
    read_chunk: Cell<usize>,
    read_posted: Cell<bool>,

    /// The kernel's send buffer was full: wait for the writable edge.
    write_blocked: Cell<bool>,
    flush_posted: Cell<bool>,
    /// `disconnect_from_host` is waiting for the write queue to drain.
    close_when_flushed: Cell<bool>,
    /// The peer ended its stream (so a later write failure is not news).
    remote_closed: Cell<bool>,

    /// Bumped whenever a connection attempt starts or ends: posted work and callbacks from an
    /// older attempt see the change and do nothing.
    attempt: Cell<u64>,
    lookup: Cell<Option<LookupId>>,
    target: RefCell<Option<Target>>,
    connect_port: Cell<u16>,
    connect_started: Cell<Option<Instant>>,
    connect_timeout: Cell<Option<Duration>>,
    connect_timer: Cell<Option<Timer>>,

    options: RefCell<Vec<(SocketOption, i32)>>,
    peer_name: RefCell<String>,
    server_path: RefCell<Option<PathBuf>>,
    local_addr: Cell<Option<SocketAddr>>,
    peer_addr: Cell<Option<SocketAddr>>,

    /// Counts connections established, so a wait can tell a connection that opened and closed
    /// within its connect phase from one that never opened.
    connected_count: Cell<u64>,
    /// A local connect waits for its retry timer (the server's backlog was full).
    local_retrying: Cell<bool>,

    pub(crate) sig: Signals,
}

impl Drop for SocketCore {
    fn drop(&mut self) {
        if let Some(id) = self.lookup.take() {
            HostInfo::abort_host_lookup(id);
        }
        if let Some(mut io) = self.io.get_mut().take() {
            // Dropping the stream right after closes the descriptor.
            let _ = io.reg.deregister(&mut io.stream);
        }
    }
}

impl SocketCore {
    /// A new unconnected socket object of `kind`.
    pub(crate) fn create(kind: Kind, parent: Option<Object>) -> Object {
        let obj = Object::with_data(Rc::new(()), parent);
        let options = match kind {
            Kind::Tcp => vec![(SocketOption::LowDelay, 1)],
            Kind::Local => Vec::new(),
        };
        let core = Rc::new_cyclic(|weak| SocketCore {
            obj,
            weak: weak.clone(),
            kind,
            state: Cell::new(SocketState::Unconnected),
            io: RefCell::new(None),
            buf: StreamBuffers::default(),
            read_chunk: Cell::new(MIN_READ_CHUNK),
            read_posted: Cell::new(false),
            write_blocked: Cell::new(false),
            flush_posted: Cell::new(false),
            close_when_flushed: Cell::new(false),
            remote_closed: Cell::new(false),
            attempt: Cell::new(0),
            lookup: Cell::new(None),
            target: RefCell::new(None),
            connect_port: Cell::new(0),
            connect_started: Cell::new(None),
            connect_timeout: Cell::new(None),
            connect_timer: Cell::new(None),
            options: RefCell::new(options),
            peer_name: RefCell::new(String::new()),
            server_path: RefCell::new(None),
            local_addr: Cell::new(None),
            peer_addr: Cell::new(None),
            connected_count: Cell::new(0),
            local_retrying: Cell::new(false),
            sig: Signals::new(&obj),
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        obj
    }

    /// A connected socket object around an already-connected stream (accepted connections,
    /// adopted descriptors). No signals are emitted: it starts out `Connected`.
    pub(crate) fn adopt(
        kind: Kind,
        stream: RawStream,
        parent: Option<Object>,
    ) -> io::Result<Object> {
        let obj = SocketCore::create(kind, parent);
        let Some(core) = SocketCore::get(obj) else {
            return Err(io::Error::other("socket object destroyed during creation"));
        };
        core.apply_options(&stream);
        core.local_addr.set(stream.tcp_local_addr());
        core.peer_addr.set(stream.tcp_peer_addr());
        if let Err(e) = core.install(stream) {
            obj.destroy();
            return Err(e);
        }
        core.state.set(SocketState::Connected);
        Ok(obj)
    }

    /// The core of a socket object (`None` once it is destroyed).
    pub(crate) fn get(obj: Object) -> Option<Rc<SocketCore>> {
        obj.data::<SocketCore>()
    }

    // ----- state and errors -------------------------------------------------------------

    pub(crate) fn state(&self) -> SocketState {
        self.state.get()
    }

    /// Whether no slot has ended or replaced connection attempt `attempt`, and the state is
    /// still `state`.
    fn still(&self, attempt: u64, state: SocketState) -> bool {
        self.attempt.get() == attempt && self.state.get() == state && self.obj.is_alive()
    }

    fn next_attempt(&self) -> u64 {
        let n = self.attempt.get() + 1;
        self.attempt.set(n);
        n
    }

    // ----- registration -----------------------------------------------------------------

    fn install(&self, mut stream: RawStream) -> io::Result<()> {
        let weak = self.weak.clone();
        let reg = EventLoop::current().register_io(
            &mut stream,
            Interest::READABLE | Interest::WRITABLE,
            Some(self.obj),
            move |ready| {
                if let Some(core) = weak.upgrade() {
                    core.on_ready(ready);
                }
            },
        )?;
        self.drop_io();
        *self.io.borrow_mut() = Some(Io { stream, reg });
        self.write_blocked.set(false);
        self.buf.read_paused.set(false);
        Ok(())
    }

    fn drop_io(&self) {
        let old = self.io.borrow_mut().take();
        if let Some(mut io) = old {
            // The handler may be running right now: the loop holds its own reference to it.
            let _ = io.reg.deregister(&mut io.stream);
        }
    }

    fn on_ready(&self, ready: Ready) {
        match self.state.get() {
            SocketState::Connecting => self.check_connect(ready),
            SocketState::Connected => {
                let attempt = self.attempt.get();
                if ready.is_writable() || ready.is_write_closed() {
                    self.write_blocked.set(false);
                    if !self.buf.write_queue.borrow().is_empty() {
                        self.flush_now();
                    }
                }
                if self.still(attempt, SocketState::Connected)
                    && (ready.is_readable() || ready.is_read_closed() || ready.is_error())
                {
                    self.read_from_kernel(ready.is_read_closed() || ready.is_error());
                }
            }
            SocketState::Closing => {
                self.write_blocked.set(false);
                self.flush_now();
            }
            _ => {}
        }
    }

    // ----- connecting -------------------------------------------------------------------

    /// Resets per-connection state before a new connect.
    fn begin_connect(&self) -> u64 {
        let attempt = self.next_attempt();
        self.buf.clear_error();
        self.buf.read_buf.borrow_mut().clear();
        self.buf.write_queue.borrow_mut().clear();
        self.close_when_flushed.set(false);
        self.remote_closed.set(false);
        self.local_addr.set(None);
        self.peer_addr.set(None);
        self.connect_started.set(Some(Instant::now()));
        attempt
    }

    /// `connect_to_host`: look the name up, then try each address in turn.
    pub(crate) fn connect_to_host(&self, host: &str, port: u16) {
        if self.state.get() != SocketState::Unconnected {
            self.set_error(
                SocketError::OperationError,
                "Trying to connect while a connection is in progress or established",
            );
            return;
        }
        let attempt = self.begin_connect();
        {
            let mut name = self.peer_name.borrow_mut();
            name.clear();
            name.push_str(host);
        }
        self.connect_port.set(port);
        self.state.set(SocketState::HostLookup);
        self.sig.state_changed.emit(SocketState::HostLookup);
        if !self.still(attempt, SocketState::HostLookup) {
            return;
        }
        self.start_connect_timer();
        let weak = self.weak.clone();
        let id = HostInfo::lookup_for_connect(host, move |info| {
            if let Some(core) = weak.upgrade() {
                core.on_lookup(attempt, info);
            }
        });
        self.lookup.set(Some(id));
    }

    fn on_lookup(&self, attempt: u64, info: &HostInfo) {
        self.lookup.set(None);
        if !self.still(attempt, SocketState::HostLookup) {
            return;
        }
        if info.error() != HostInfoError::NoError || info.addresses().is_empty() {
            let message = if info.error_string().is_empty() {
                SocketError::HostNotFoundError.description()
            } else {
                info.error_string()
            };
            log::debug!(target: crate::log_target::SOCKET, "Could not resolve host: {} ({message})", self.peer_name.borrow());
            self.fail_connect(SocketError::HostNotFoundError, message);
            return;
        }
        let port = self.connect_port.get();
        log::debug!(target: crate::log_target::SOCKET, "Host {}:{port} was resolved: {:?}", self.peer_name.borrow(), info.addresses());
        let addrs = info
            .addresses()
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        *self.target.borrow_mut() = Some(Target::Tcp(addrs));
        self.state.set(SocketState::Connecting);
        self.sig.state_changed.emit(SocketState::Connecting);
        if !self.still(attempt, SocketState::Connecting) {
            return;
        }
        self.sig.host_found.emit(());
        if !self.still(attempt, SocketState::Connecting) {
            return;
        }
        self.connect_next(None);
    }

    /// `connect_to_server` for local sockets: connect to `path` (the attempt itself runs on
    /// the next loop iteration, so errors are never reported from inside this call).
    pub(crate) fn connect_to_path(&self, name: &str, path: PathBuf) {
        if self.state.get() != SocketState::Unconnected {
            self.set_error(
                SocketError::OperationError,
                "Trying to connect while a connection is in progress or established",
            );
            return;
        }
        let attempt = self.begin_connect();
        {
            let mut peer = self.peer_name.borrow_mut();
            peer.clear();
            peer.push_str(name);
        }
        *self.server_path.borrow_mut() = Some(path.clone());
        *self.target.borrow_mut() = Some(Target::Local(Some(path)));
        self.state.set(SocketState::Connecting);
        self.sig.state_changed.emit(SocketState::Connecting);
        if !self.still(attempt, SocketState::Connecting) {
            return;
        }
        self.start_connect_timer();
        let weak = self.weak.clone();
        if name.is_empty() {
            // Qt: ServerNotFoundError, "Invalid name" (reported from the loop, as every
            // other connect error here).
            EventLoop::current().post(move || {
                if let Some(core) = weak.upgrade() {
                    if core.still(attempt, SocketState::Connecting) {
                        core.fail_connect(
                            SocketError::HostNotFoundError,
                            &local_error_text(SocketError::HostNotFoundError),
                        );
                    }
                }
            });
            return;
        }
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.resume_local_connect(attempt);
            }
        });
    }

    /// The deferred local connect attempt, unless a blocking wait made it already.
    fn resume_local_connect(&self, attempt: u64) {
        if self.still(attempt, SocketState::Connecting) && self.io.borrow().is_none() {
            self.local_retrying.set(false);
            self.connect_next(None);
        }
    }

    /// Tries the next address of the target, or fails with the last error once none is left.
    fn connect_next(&self, mut last_error: Option<io::Error>) {
        loop {
            let next = match &mut *self.target.borrow_mut() {
                Some(Target::Tcp(addrs)) => addrs.pop_front().map(|a| {
                    log::debug!(target: crate::log_target::SOCKET, "Trying {a}...");
                    mio::net::TcpStream::connect(a).map(RawStream::Tcp)
                }),
                Some(Target::Local(path)) => path
                    .take()
                    .map(|p| mio::net::UnixStream::connect(p).map(RawStream::Unix)),
                None => return,
            };
            let Some(result) = next else {
                let (code, message) = match (&last_error, self.kind) {
                    (Some(e), Kind::Local) => local_connect_error(e),
                    (Some(e), Kind::Tcp) => (SocketError::from_io(e), e.to_string()),
                    (None, _) => (
                        SocketError::ConnectionRefusedError,
                        SocketError::ConnectionRefusedError.description().to_owned(),
                    ),
                };
                self.fail_connect(code, &message);
                return;
            };
            match result {
                Ok(stream) => {
                    self.apply_options(&stream);
                    match self.install(stream) {
                        // Completion (or failure) arrives as readiness.
                        Ok(()) => return,
                        Err(e) => last_error = Some(e),
                    }
                }
                Err(e) if self.kind == Kind::Local && e.raw_os_error() == Some(libc::EAGAIN) => {
                    self.retry_local_later();
                    return;
                }
                Err(e) => last_error = Some(e),
            }
        }
    }

    /// The server's backlog is full: try again shortly, as Qt does, within the connect
    /// timeout (or [`LOCAL_RETRY_LIMIT`]).
    fn retry_local_later(&self) {
        let limit = self.connect_timeout.get().unwrap_or(LOCAL_RETRY_LIMIT);
        let started = self.connect_started.get().unwrap_or_else(Instant::now);
        if started.elapsed() >= limit {
            self.fail_connect(
                SocketError::SocketTimeoutError,
                &local_error_text(SocketError::SocketTimeoutError),
            );
            return;
        }
        let path = self.server_path.borrow().clone();
        *self.target.borrow_mut() = Some(Target::Local(path));
        let attempt = self.attempt.get();
        let weak = self.weak.clone();
        self.local_retrying.set(true);
        Timer::single_shot_with(LOCAL_RETRY, &self.obj, move || {
            if let Some(core) = weak.upgrade() {
                core.resume_local_connect(attempt);
            }
        });
    }

    fn check_connect(&self, ready: Ready) {
        let result = match self.io.borrow().as_ref() {
            Some(io) => io.stream.connect_finished(),
            None => return,
        };
        match result {
            Ok(false) => {}
            Ok(true) => self.on_connected(ready),
            Err(e) => {
                self.drop_io();
                self.connect_next(Some(e));
            }
        }
    }

    fn on_connected(&self, ready: Ready) {
        self.stop_connect_timer();
        *self.target.borrow_mut() = None;
        if let Some(io) = self.io.borrow().as_ref() {
            self.local_addr.set(io.stream.tcp_local_addr());
            self.peer_addr.set(io.stream.tcp_peer_addr());
        }
        let attempt = self.attempt.get();
        log::debug!(target: crate::log_target::SOCKET, "Connected to {} ({}) port {}", self.peer_name.borrow(), self.peer_addr.get().map_or_else(String::new, |a| a.ip().to_string()), self.connect_port.get());
        self.connected_count.set(self.connected_count.get() + 1);
        self.state.set(SocketState::Connected);
        self.sig.state_changed.emit(SocketState::Connected);
        if !self.still(attempt, SocketState::Connected) {
            return;
        }
        self.sig.connected.emit(());
        if !self.still(attempt, SocketState::Connected) {
            return;
        }
        // Data written while connecting goes out now; the socket has just become writable.
        if !self.buf.write_queue.borrow().is_empty() {
            self.flush_now();
        }
        // Bytes may have arrived with the handshake: that edge was spent on the connect.
        if self.still(attempt, SocketState::Connected)
            && (ready.is_readable() || ready.is_read_closed())
        {
            self.read_from_kernel(true);
        }
    }

    /// Ends a connect attempt with an error, in Qt's order: for TCP (QAbstractSocket) the
    /// state is `Unconnected` first, then `error_occurred`, then
    /// `state_changed(Unconnected)`; a local socket (QLocalSocket) emits `error_occurred`
    /// while still `Connecting`, then becomes `Unconnected`.
    fn fail_connect(&self, code: SocketError, message: &str) {
        log::debug!(target: crate::log_target::SOCKET, "Failed to connect to {}: {} ({message})", self.peer_name.borrow(), code.name());
        let attempt = self.next_attempt();
        self.cancel_connect();
        self.drop_io();
        self.buf.write_queue.borrow_mut().clear();
        self.set_error(code, message);
        if self.kind == Kind::Local {
            self.sig.error_occurred.emit(code);
            // A slot may have aborted or destroyed the socket; do not contradict it.
            if self.attempt.get() == attempt
                && self.obj.is_alive()
                && self.state.replace(SocketState::Unconnected) != SocketState::Unconnected
            {
                self.sig.state_changed.emit(SocketState::Unconnected);
            }
            return;
        }
        self.state.set(SocketState::Unconnected);
        self.sig.error_occurred.emit(code);
        // A slot may have started a new connection already; do not contradict it.
        if self.state.get() == SocketState::Unconnected {
            self.sig.state_changed.emit(SocketState::Unconnected);
        }
    }

    fn cancel_connect(&self) {
        self.local_retrying.set(false);
        if let Some(id) = self.lookup.take() {
            HostInfo::abort_host_lookup(id);
        }
        self.stop_connect_timer();
        *self.target.borrow_mut() = None;
    }

    pub(crate) fn set_connect_timeout(&self, timeout: Option<Duration>) {
        self.connect_timeout.set(timeout);
    }

    pub(crate) fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout.get()
    }

    fn start_connect_timer(&self) {
        let Some(timeout) = self.connect_timeout.get() else {
            return;
        };
        let timer = match self
            .connect_timer
            .get()
            .filter(|t| t.as_object().is_alive())
        {
            Some(timer) => timer,
            None => {
                let timer = Timer::with_parent(&self.obj);
                timer.set_single_shot(true);
                let weak = self.weak.clone();
                timer.timeout().connect(move |_| {
                    if let Some(core) = weak.upgrade() {
                        core.on_connect_timeout();
                    }
                });
                self.connect_timer.set(Some(timer));
                timer
            }
        };
        timer.start_interval(timeout);
    }

    fn stop_connect_timer(&self) {
        if let Some(timer) = self.connect_timer.get() {
            timer.stop();
        }
    }

    fn on_connect_timeout(&self) {
        if matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting
        ) {
            let message = match self.kind {
                Kind::Local => local_error_text(SocketError::SocketTimeoutError),
                Kind::Tcp => SocketError::SocketTimeoutError.description().to_owned(),
            };
            self.fail_connect(SocketError::SocketTimeoutError, &message);
        }
    }

    // ----- reading ----------------------------------------------------------------------

    /// Reads what the kernel has, within the read buffer's limit, then emits `ready_read`.
    /// `drain` reads until `WouldBlock` even after a short read (needed when the edge that
    /// announced the data was consumed earlier, and to notice a FIN behind the data).
    fn read_from_kernel(&self, drain: bool) {
        if self.buf.read_paused.get() {
            return;
        }
        let mut total = 0usize;
        let mut eof = false;
        let mut error = None;
        let mut more = false;
        {
            let io = self.io.borrow();
            let Some(io) = io.as_ref() else {
                return;
            };
            let mut buf = self.buf.read_buf.borrow_mut();
            loop {
                let limit = self.buf.read_limit();
                let room = if limit == 0 {
                    usize::MAX
                } else {
                    limit.saturating_sub(buf.len())
                };
                if room == 0 {
                    self.buf.read_paused.set(true);
                    break;
                }
                if total >= READ_BUDGET {
                    more = true;
                    break;
                }
                let chunk = self.read_chunk.get();
                let want = room.min(chunk);
                let read = if buf.capacity() == 0 && chunk == MIN_READ_CHUNK {
                    recv_via_stack(&io.stream, &mut buf, want)
                } else {
                    if buf.capacity() - buf.len() < want {
                        buf.reserve(want);
                    }
                    io.stream.recv_into(&mut buf, want)
                };
                match read {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        total += n;
                        if n == chunk && chunk < MAX_READ_CHUNK {
                            self.read_chunk.set(chunk * 2);
                        } else if n < MIN_READ_CHUNK {
                            self.read_chunk.set(MIN_READ_CHUNK);
                        }
                        if n < want && !drain {
                            // A short read empties a stream socket's receive queue; new data
                            // brings a new edge.
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        let attempt = self.attempt.get();
        if total > 0 {
            self.emit_ready_read();
        }
        if !self.still(attempt, SocketState::Connected) {
            return;
        }
        if more {
            self.post_read();
        }
        if eof {
            self.on_remote_closed();
        } else if let Some(e) = error {
            self.on_stream_error(e);
        }
    }

    fn post_read(&self) {
        if self.read_posted.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.read_posted.set(false);
                if core.state.get() == SocketState::Connected {
                    core.buf.read_paused.set(false);
                    core.read_from_kernel(true);
                }
            }
        });
    }

    fn emit_ready_read(&self) {
        self.buf.emit_ready_read(&self.sig.ready_read);
    }

    fn on_remote_closed(&self) {
        let attempt = self.attempt.get();
        self.remote_closed.set(true);
        self.sig.read_channel_finished.emit(());
        if !self.still(attempt, SocketState::Connected) {
            return;
        }
        self.set_error(
            SocketError::RemoteHostClosedError,
            SocketError::RemoteHostClosedError.description(),
        );
        self.sig
            .error_occurred
            .emit(SocketError::RemoteHostClosedError);
        if !self.still(attempt, SocketState::Connected) {
            return;
        }
        // Qt's behaviour: pending writes are still flushed (a half-closed peer gets them).
        self.disconnect_from_host();
    }

    fn on_stream_error(&self, e: io::Error) {
        let code = SocketError::from_io(&e);
        let attempt = self.attempt.get();
        let known = self.remote_closed.get() && code == SocketError::RemoteHostClosedError;
        if !known {
            self.set_error(code, &e.to_string());
            self.sig.error_occurred.emit(code);
            if self.attempt.get() != attempt || self.state.get() == SocketState::Unconnected {
                return;
            }
        }
        self.close_now(false);
    }

    // ----- writing ----------------------------------------------------------------------

    pub(crate) fn write(&self, data: &[u8]) -> usize {
        self.queue_slice(data)
    }

    pub(crate) fn write_bytes(&self, data: Bytes) -> usize {
        self.queue_bytes(data)
    }

    /// Qt's `flush`: writes what the kernel takes now.
    pub(crate) fn flush(&self) -> bool {
        self.flush_now()
    }

    pub(crate) fn bytes_to_write(&self) -> usize {
        self.buf.write_queue.borrow().len()
    }

    /// Writes as much of the queue as the kernel takes; emits `bytes_written`; finishes a
    /// pending close. Returns whether anything was written.
    pub(crate) fn flush_now(&self) -> bool {
        let mut written = 0u64;
        let mut error = None;
        {
            let io = self.io.borrow();
            let Some(io) = io.as_ref() else {
                return false;
            };
            let mut queue = self.buf.write_queue.borrow_mut();
            while !queue.is_empty() {
                match queue.write_with(|slices| io.stream.send_vectored(slices)) {
                    Ok(0) => {
                        error = Some(io::Error::from(io::ErrorKind::WriteZero));
                        break;
                    }
                    Ok(n) => written += n as u64,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.write_blocked.set(true);
                        break;
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        let attempt = self.attempt.get();
        if written > 0 {
            self.emit_bytes_written(written);
        }
        if self.attempt.get() != attempt {
            return written > 0;
        }
        if let Some(e) = error {
            self.on_stream_error(e);
        } else if self.close_when_flushed.get()
            && self.state.get() == SocketState::Closing
            && self.buf.write_queue.borrow().is_empty()
        {
            self.close_now(false);
        }
        written > 0
    }

    fn emit_bytes_written(&self, n: u64) {
        self.buf.emit_bytes_written(&self.sig.bytes_written, n);
    }

    // ----- closing ----------------------------------------------------------------------

    /// Qt's `disconnectFromHost`: `Closing` while the write buffer drains, then closed.
    pub(crate) fn disconnect_from_host(&self) {
        match self.state.get() {
            SocketState::Unconnected | SocketState::Closing => {}
            SocketState::Connected => {
                let attempt = self.attempt.get();
                self.state.set(SocketState::Closing);
                self.sig.state_changed.emit(SocketState::Closing);
                if !self.still(attempt, SocketState::Closing) {
                    return;
                }
                self.close_when_flushed.set(true);
                if self.buf.write_queue.borrow().is_empty() {
                    self.close_now(false);
                } else if !self.write_blocked.get() && !self.flush_posted.replace(true) {
                    let weak = self.weak.clone();
                    EventLoop::current().post(move || {
                        if let Some(core) = weak.upgrade() {
                            core.flush_posted.set(false);
                            if core.state.get() == SocketState::Closing {
                                core.flush_now();
                            }
                        }
                    });
                }
            }
            _ => self.close_now(false),
        }
    }

    /// Closes at once: pending writes are dropped; `clear_read` also drops unread bytes.
    /// Emits `state_changed(Unconnected)`, then `disconnected` if a connection existed.
    pub(crate) fn close_now(&self, clear_read: bool) {
        self.next_attempt();
        self.cancel_connect();
        self.drop_io();
        self.buf.write_queue.borrow_mut().clear();
        self.close_when_flushed.set(false);
        self.write_blocked.set(false);
        self.buf.read_paused.set(false);
        if clear_read {
            self.buf.read_buf.borrow_mut().clear();
        }
        let previous = self.state.replace(SocketState::Unconnected);
        if previous != SocketState::Unconnected {
            self.sig.state_changed.emit(SocketState::Unconnected);
            if matches!(previous, SocketState::Connected | SocketState::Closing) {
                self.sig.disconnected.emit(());
            }
        }
    }

    pub(crate) fn abort(&self) {
        self.close_now(true);
    }

    /// Qt's `close()`: `disconnect_from_host`, and unread bytes are dropped.
    pub(crate) fn close(&self) {
        self.disconnect_from_host();
        self.buf.read_buf.borrow_mut().clear();
    }

    // ----- options and addresses --------------------------------------------------------

    fn apply_options(&self, stream: &RawStream) {
        for &(option, value) in self.options.borrow().iter() {
            // An option this kind of socket does not support is simply not applied.
            let _ = sys::set_option(stream, option, value);
        }
    }

    pub(crate) fn set_socket_option(&self, option: SocketOption, value: i32) -> bool {
        if matches!(
            option,
            SocketOption::PathMtu | SocketOption::MulticastTtl | SocketOption::MulticastLoopback
        ) {
            return false;
        }
        {
            let mut options = self.options.borrow_mut();
            options.retain(|(o, _)| *o != option);
            options.push((option, value));
        }
        match self.io.borrow().as_ref() {
            Some(io) => sys::set_option(&io.stream, option, value).is_ok(),
            None => true,
        }
    }

    pub(crate) fn socket_option(&self, option: SocketOption) -> Option<i32> {
        if let Some(io) = self.io.borrow().as_ref() {
            return sys::get_option(&io.stream, option).ok();
        }
        self.options
            .borrow()
            .iter()
            .find(|(o, _)| *o == option)
            .map(|(_, v)| *v)
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get()
    }

    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr.get()
    }

    pub(crate) fn peer_name(&self) -> String {
        self.peer_name.borrow().clone()
    }

    pub(crate) fn server_path(&self) -> Option<PathBuf> {
        self.server_path.borrow().clone()
    }

    pub(crate) fn set_server_path(&self, path: Option<PathBuf>) {
        *self.server_path.borrow_mut() = path;
    }
}

impl BufferedStream for SocketCore {
    fn buffers(&self) -> &StreamBuffers {
        &self.buf
    }

    fn signals(&self) -> &Signals {
        &self.sig
    }

    fn object(&self) -> Object {
        self.obj
    }

    fn state(&self) -> SocketState {
        self.state.get()
    }

    fn generation(&self) -> u64 {
        self.attempt.get()
    }

    fn accepts_writes(&self) -> bool {
        matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting | SocketState::Connected
        )
    }

    /// After the user consumed buffered bytes: if reading had stopped on a full buffer, start
    /// again (on the next iteration: no edge will announce the bytes already waiting).
    fn after_consume(&self) {
        if self.read_chunk.get() == MIN_READ_CHUNK {
            self.buf.read_buf.release_if_empty();
        }
        if self.buf.read_paused.get() && self.state.get() == SocketState::Connected {
            let limit = self.buf.read_limit();
            if limit == 0 || self.buf.read_buf.borrow().len() < limit {
                self.post_read();
            }
        }
    }

    /// Writes on the next iteration, so that several writes from one slot become one
    /// vectored system call.
    fn after_queue(&self) {
        if self.state.get() != SocketState::Connected
            || self.write_blocked.get()
            || self.flush_posted.replace(true)
        {
            return;
        }
        let weak = self.weak.clone();
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.flush_posted.set(false);
                if matches!(
                    core.state.get(),
                    SocketState::Connected | SocketState::Closing
                ) && !core.write_blocked.get()
                {
                    core.flush_now();
                }
            }
        });
    }

    /// One step of a blocking wait: deferred work, else one `poll(2)` of the descriptor.
    fn wait_step(&self, deadline: Deadline) -> Step {
        if self.run_deferred(deadline) {
            return Step::Progressed;
        }
        let Some(fd) = self.wait_interest() else {
            return Step::Stuck;
        };
        let mut fds = [fd];
        match wait::poll(&mut fds, deadline) {
            Ok(0) => Step::TimedOut,
            Ok(_) => {
                self.on_polled();
                Step::Progressed
            }
            Err(e) => {
                self.on_stream_error(e);
                Step::Progressed
            }
        }
    }

    /// Connects first if needed (within the same time limit).
    fn wait_connected_first(&self, msecs: i32) -> Option<Deadline> {
        let deadline = Deadline::after_msecs(msecs);
        let connections = self.connected_count.get();
        if matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting
        ) && !self.wait_for_connected(msecs)
            // A connection that opened and closed within that wait (the peer wrote and hung
            // up) is the caller's to judge: its data or its close may be what is waited for.
            && self.connected_count.get() == connections
        {
            return None;
        }
        Some(deadline)
    }
}

/// Reads at most `max` (at most [`MIN_READ_CHUNK`]) bytes into a stack buffer and appends
/// them to the empty `buf`, which allocates just their size.
fn recv_via_stack(stream: &RawStream, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let mut stack = [MaybeUninit::<u8>::uninit(); MIN_READ_CHUNK];
    let n = stream.recv_uninit(&mut stack[..max.min(MIN_READ_CHUNK)])?;
    // SAFETY: recv initialised the first `n` bytes.
    let received = unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), n) };
    buf.extend_from_slice(received);
    Ok(n)
}

/// A local connect's failure as QLocalSocket reports it: its error code and text
/// ("QLocalSocket::connectToServer: Invalid name" for a missing socket file, "...:
/// Connection refused" for one nobody accepts on, ...).
fn local_connect_error(e: &io::Error) -> (SocketError, String) {
    let code = match e.raw_os_error() {
        Some(libc::ENOENT) => SocketError::HostNotFoundError,
        Some(libc::ECONNREFUSED) | Some(libc::EINVAL) => SocketError::ConnectionRefusedError,
        Some(libc::EACCES) | Some(libc::EPERM) => SocketError::SocketAccessError,
        Some(libc::ETIMEDOUT) => SocketError::SocketTimeoutError,
        _ => SocketError::UnknownSocketError,
    };
    let text = if code == SocketError::UnknownSocketError {
        format!(
            "QLocalSocket::connectToServer: Unknown error {}",
            e.raw_os_error().unwrap_or(0)
        )
    } else {
        local_error_text(code)
    };
    (code, text)
}

/// QLocalSocket's text for a connect error `code`.
fn local_error_text(code: SocketError) -> String {
    let what = match code {
        SocketError::HostNotFoundError => "Invalid name",
        SocketError::ConnectionRefusedError => "Connection refused",
        SocketError::SocketAccessError => "Socket access error",
        SocketError::SocketTimeoutError => "Socket operation timed out",
        SocketError::SocketResourceError => "Socket resource error",
        _ => "Connection error",
    };
    format!("QLocalSocket::connectToServer: {what}")
}

// ----- blocking waits (Qt's waitFor*; see `wait.rs` for the model) ----------------------

impl SocketCore {
    /// What a blocking wait on this socket polls: its descriptor and events, or `None` when
    /// nothing can arrive (no connection, or reading paused and nothing to write).
    pub(crate) fn wait_interest(&self) -> Option<libc::pollfd> {
        let io = self.io.borrow();
        let fd = io.as_ref()?.stream.fd();
        let state = self.state.get();
        let read = state == SocketState::Connected && !self.buf.read_paused.get();
        let write = state == SocketState::Connecting
            || (matches!(state, SocketState::Connected | SocketState::Closing)
                && !self.buf.write_queue.borrow().is_empty());
        (read || write).then(|| wait::pollfd(fd, wait::interest(read, write)))
    }

    /// Handles what `poll(2)` reported for [`Self::wait_interest`]'s descriptor, as the loop
    /// would (the handler reads and writes until `WouldBlock` whatever the flags say).
    pub(crate) fn on_polled(&self) {
        self.on_ready(Ready::all());
    }

    /// Work the loop would do for this socket on its next iteration (a posted read or
    /// flush, a deferred local connect, a host lookup): done now, by a blocking wait.
    /// Returns whether there was any.
    pub(crate) fn run_deferred(&self, deadline: Deadline) -> bool {
        match self.state.get() {
            SocketState::HostLookup => {
                self.lookup_blocking();
                true
            }
            SocketState::Connecting if self.io.borrow().is_none() => {
                if self.local_retrying.get() {
                    wait::sleep(deadline, LOCAL_RETRY);
                }
                self.resume_local_connect(self.attempt.get());
                true
            }
            SocketState::Connected | SocketState::Closing => {
                if self.read_posted.replace(false) && self.state.get() == SocketState::Connected {
                    self.buf.read_paused.set(false);
                    self.read_from_kernel(true);
                    return true;
                }
                if !self.buf.write_queue.borrow().is_empty() && !self.write_blocked.get() {
                    self.flush_now();
                    return true;
                }
                false
            }
            _ => false,
        }
    }

    /// Qt's `waitForConnected` does the lookup itself, blocking: so does this.
    fn lookup_blocking(&self) {
        if let Some(id) = self.lookup.take() {
            HostInfo::abort_host_lookup(id);
        }
        let attempt = self.attempt.get();
        let name = self.peer_name.borrow().clone();
        let info = HostInfo::from_name_for_connect(&name);
        self.on_lookup(attempt, &info);
    }

    /// When the connect timeout ([`Self::set_connect_timeout`]) ends the attempt: its timer
    /// does not fire during a blocking wait, so the wait watches for it.
    fn connect_deadline(&self) -> Option<Instant> {
        let started = self.connect_started.get()?;
        Some(slotnet_core::deadline_after(
            started,
            self.connect_timeout.get()?,
        ))
    }

    /// Qt's `waitForConnected`: on timeout the attempt is abandoned (`SocketTimeoutError`,
    /// state `Unconnected` and `state_changed`, no `error_occurred`), as in Qt.
    pub(crate) fn wait_for_connected(&self, msecs: i32) -> bool {
        let deadline = Deadline::after_msecs(msecs);
        loop {
            match self.state.get() {
                SocketState::Connected => return true,
                SocketState::HostLookup | SocketState::Connecting => {}
                _ => return false,
            }
            let connect_deadline = self.connect_deadline();
            if connect_deadline.is_some_and(|d| Instant::now() >= d) {
                self.on_connect_timeout();
                continue;
            }
            if deadline.expired() {
                break;
            }
            if self.wait_step(deadline.or_earlier(connect_deadline)) == Step::Stuck {
                break;
            }
        }
        if matches!(
            self.state.get(),
            SocketState::HostLookup | SocketState::Connecting
        ) {
            self.next_attempt();
            self.cancel_connect();
            self.drop_io();
            self.buf.write_queue.borrow_mut().clear();
            self.set_error(
                SocketError::SocketTimeoutError,
                SocketError::SocketTimeoutError.description(),
            );
            self.state.set(SocketState::Unconnected);
            self.sig.state_changed.emit(SocketState::Unconnected);
        }
        false
    }

    /// Qt's `waitForBytesWritten`: false at once when nothing is queued; else true once
    /// `bytes_written` has been emitted.
    pub(crate) fn wait_for_bytes_written(&self, msecs: i32) -> bool {
        if self.state.get() == SocketState::Unconnected || self.buf.write_queue.borrow().is_empty()
        {
            return false;
        }
        let Some(deadline) = self.wait_connected_first(msecs) else {
            return false;
        };
        let before = self.buf.written_count();
        self.wait_until(deadline, |c| c.buf.written_count() != before)
    }

    /// How many times `bytes_written` has been emitted (for the TLS socket's waits).
    pub(crate) fn written_count(&self) -> u64 {
        self.buf.written_count()
    }
}
