//! The buffered-stream core that the plain sockets ([`SocketCore`](crate::socket::SocketCore):
//! TCP and local) and the TLS socket ([`SslCore`](crate::ssl_socket::engine::SslCore)) share:
//! the user's read buffer and write queue, the last error, the common signals with Qt's
//! non-recursive `ready_read`/`bytes_written`, and the blocking waits built on them.
//!
//! A core owns a [`StreamBuffers`] and implements [`BufferedStream`] (where its bytes come
//! from and go to, what ends a connection); the trait's provided methods are the buffer API
//! that `impl_stream_socket!` turns into each socket handle's public methods. What differs
//! between the transports stays in the cores: a plain socket reads the kernel into the
//! buffer and flushes the queue to it, a TLS socket decrypts into the buffer and encrypts
//! from the queue.

use std::cell::{Cell, RefCell};

use bytes::{Bytes, BytesMut};
use slotnet_core::{Object, Signal};

use crate::error::{SocketError, SocketState};
use crate::read_buffer::ReadBuffer;
use crate::wait::{self, Deadline, Step};
use crate::write_queue::WriteQueue;

/// The signals every stream socket has (QAbstractSocket's, plus `read_channel_finished` from
/// QIODevice). A TLS socket has these and its own.
pub(crate) struct Signals {
    pub(crate) host_found: Signal<()>,
    pub(crate) connected: Signal<()>,
    pub(crate) disconnected: Signal<()>,
    pub(crate) state_changed: Signal<SocketState>,
    pub(crate) error_occurred: Signal<SocketError>,
    pub(crate) ready_read: Signal<()>,
    pub(crate) bytes_written: Signal<u64>,
    pub(crate) read_channel_finished: Signal<()>,
}

impl Signals {
    /// The signals, owned by `obj`.
    pub(crate) fn new(obj: &Object) -> Signals {
        Signals {
            host_found: obj.new_signal(),
            connected: obj.new_signal(),
            disconnected: obj.new_signal(),
            state_changed: obj.new_signal(),
            error_occurred: obj.new_signal(),
            ready_read: obj.new_signal(),
            bytes_written: obj.new_signal(),
            read_channel_finished: obj.new_signal(),
        }
    }

    /// Cuts every connection to these signals (a TLS socket taking this one over: slots
    /// written for the plaintext stream must not see the TLS records).
    pub(crate) fn disconnect_all(&self) {
        self.host_found.disconnect_all();
        self.connected.disconnect_all();
        self.disconnected.disconnect_all();
        self.state_changed.disconnect_all();
        self.error_occurred.disconnect_all();
        self.ready_read.disconnect_all();
        self.bytes_written.disconnect_all();
        self.read_channel_finished.disconnect_all();
    }
}

/// The user-facing buffers of a stream socket and the bookkeeping around them.
#[derive(Default)]
pub(crate) struct StreamBuffers {
    /// Bytes received (decrypted, for TLS) and not yet read by the user.
    pub(crate) read_buf: ReadBuffer,
    /// Most bytes kept in `read_buf` (0: no limit).
    read_limit: Cell<usize>,
    /// Reading stopped on a full `read_buf`; the user's next read resumes it.
    pub(crate) read_paused: Cell<bool>,
    /// Bytes written by the user and not yet handed on (to the kernel, or to TLS).
    pub(crate) write_queue: RefCell<WriteQueue>,

    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,

    in_ready_read: Cell<bool>,
    ready_read_again: Cell<bool>,
    in_bytes_written: Cell<bool>,
    bytes_written_pending: Cell<u64>,
    /// Counts `ready_read` and `bytes_written` emissions (nested ones included), for the
    /// blocking waits to see that one happened.
    ready_read_count: Cell<u64>,
    written_count: Cell<u64>,
}

impl StreamBuffers {
    /// The read buffer's limit (0: none).
    pub(crate) fn read_limit(&self) -> usize {
        self.read_limit.get()
    }

    /// How many more bytes the read buffer may take (`usize::MAX`: no limit).
    pub(crate) fn read_room(&self) -> usize {
        let limit = self.read_limit.get();
        if limit == 0 {
            usize::MAX
        } else {
            limit.saturating_sub(self.read_buf.len())
        }
    }

    pub(crate) fn error(&self) -> Option<SocketError> {
        self.error.get()
    }

    /// The error's text: the one set with it, else the code's description.
    pub(crate) fn error_string(&self) -> String {
        match self.error.get() {
            None => String::new(),
            Some(code) => {
                let s = self.error_string.borrow();
                if s.is_empty() {
                    code.description().to_owned()
                } else {
                    s.clone()
                }
            }
        }
    }

    pub(crate) fn set_error(&self, code: SocketError, message: &str) {
        self.error.set(Some(code));
        let mut s = self.error_string.borrow_mut();
        s.clear();
        s.push_str(message);
    }

    pub(crate) fn clear_error(&self) {
        self.error.set(None);
        self.error_string.borrow_mut().clear();
    }

    /// Emits `ready_read` as Qt does: not recursively (a slot running a nested loop); the
    /// outer emission repeats once instead.
    pub(crate) fn emit_ready_read(&self, signal: &Signal<()>) {
        self.ready_read_count.set(self.ready_read_count.get() + 1);
        if self.in_ready_read.replace(true) {
            self.ready_read_again.set(true);
            return;
        }
        loop {
            signal.emit(());
            if !self.ready_read_again.replace(false) {
                break;
            }
        }
        self.in_ready_read.set(false);
    }

    /// Emits `bytes_written(n)` as Qt does: not recursively; a nested emission adds to what
    /// the outer one reports next.
    pub(crate) fn emit_bytes_written(&self, signal: &Signal<u64>, n: u64) {
        self.written_count.set(self.written_count.get() + 1);
        if self.in_bytes_written.replace(true) {
            self.bytes_written_pending
                .set(self.bytes_written_pending.get() + n);
            return;
        }
        let mut n = n;
        loop {
            signal.emit(n);
            n = self.bytes_written_pending.replace(0);
            if n == 0 {
                break;
            }
        }
        self.in_bytes_written.set(false);
    }

    /// How many times `ready_read` has been emitted.
    pub(crate) fn ready_read_count(&self) -> u64 {
        self.ready_read_count.get()
    }

    /// How many times `bytes_written` has been emitted.
    pub(crate) fn written_count(&self) -> u64 {
        self.written_count.get()
    }
}

/// A socket core with [`StreamBuffers`]: the buffer API, the error, and the waits that do not
/// depend on the transport. Statically dispatched: each core gets its own copy.
pub(crate) trait BufferedStream {
    /// The core's buffers.
    fn buffers(&self) -> &StreamBuffers;
    /// The common signals.
    fn signals(&self) -> &Signals;
    /// The socket's object.
    fn object(&self) -> Object;
    /// The socket's state.
    fn state(&self) -> SocketState;
    /// Changes whenever a connection ends or starts, so that work begun for one connection
    /// (a posted call, a closure run with the buffer taken out) can tell it is stale.
    fn generation(&self) -> u64;
    /// After the user consumed buffered bytes: resume reading if it had stopped on a full
    /// buffer.
    fn after_consume(&self);
    /// Whether `write` may queue bytes now.
    fn accepts_writes(&self) -> bool;
    /// Bytes were queued: arrange for them to be sent.
    fn after_queue(&self);
    /// One step of a blocking wait (see `wait.rs`).
    fn wait_step(&self, deadline: Deadline) -> Step;
    /// Connects first if needed (within the same time limit); `None` if that failed.
    fn wait_connected_first(&self, msecs: i32) -> Option<Deadline>;

    // ----- reading ----------------------------------------------------------------------

    fn bytes_available(&self) -> usize {
        self.buffers().read_buf.len()
    }

    fn read(&self, out: &mut [u8]) -> usize {
        let n = self.buffers().read_buf.read(out);
        self.after_consume();
        n
    }

    fn read_all(&self) -> Vec<u8> {
        let taken = self.buffers().read_buf.take_all();
        self.after_consume();
        taken
    }

    fn read_bytes(&self, max: usize) -> Bytes {
        let out = self.buffers().read_buf.take(max);
        self.after_consume();
        out
    }

    fn read_buf(&self, dst: &mut BytesMut) -> usize {
        let n = self.buffers().read_buf.move_into(dst);
        self.after_consume();
        n
    }

    fn with_read_buffer(&self, f: &mut dyn FnMut(&mut BytesMut)) {
        let generation = self.generation();
        self.buffers()
            .read_buf
            .with(f, || self.generation() == generation);
        self.after_consume();
    }

    fn peek(&self, out: &mut [u8]) -> usize {
        self.buffers().read_buf.peek(out)
    }

    fn can_read_line(&self) -> bool {
        self.buffers().read_buf.has_line()
    }

    fn read_line(&self, max: usize) -> Vec<u8> {
        let line = self.buffers().read_buf.take_line(max);
        self.after_consume();
        line
    }

    fn read_buffer_size(&self) -> usize {
        self.buffers().read_limit.get()
    }

    fn set_read_buffer_size(&self, size: usize) {
        self.buffers().read_limit.set(size);
        self.after_consume();
    }

    // ----- writing ----------------------------------------------------------------------

    /// Whether bytes may be queued; sets `OperationError` if not.
    fn can_write(&self) -> bool {
        if self.accepts_writes() {
            true
        } else {
            self.set_error(SocketError::OperationError, "Socket is not connected");
            false
        }
    }

    /// Queues a copy of `data`; returns its length (0 if the socket takes no writes).
    fn queue_slice(&self, data: &[u8]) -> usize {
        if data.is_empty() || !self.can_write() {
            return 0;
        }
        self.buffers().write_queue.borrow_mut().push_slice(data);
        self.after_queue();
        data.len()
    }

    /// Queues `data` (large chunks without a copy); returns its length.
    fn queue_bytes(&self, data: Bytes) -> usize {
        let len = data.len();
        if len == 0 || !self.can_write() {
            return 0;
        }
        self.buffers().write_queue.borrow_mut().push_bytes(data);
        self.after_queue();
        len
    }

    // ----- errors -----------------------------------------------------------------------

    fn error(&self) -> Option<SocketError> {
        self.buffers().error()
    }

    fn error_string(&self) -> String {
        self.buffers().error_string()
    }

    fn set_error(&self, code: SocketError, message: &str) {
        self.buffers().set_error(code, message);
    }

    /// Sets the error and emits `error_occurred`.
    fn report_error(&self, code: SocketError, message: &str) {
        self.set_error(code, message);
        self.signals().error_occurred.emit(code);
    }

    // ----- blocking waits (Qt's waitFor*; see `wait.rs`) --------------------------------

    /// Steps until `done`; a timeout is reported as Qt does (the error is set and emitted;
    /// the connection stays).
    fn wait_until(&self, deadline: Deadline, done: impl Fn(&Self) -> bool) -> bool {
        wait::until(
            deadline,
            || done(self),
            || !self.object().is_alive() || self.state() == SocketState::Unconnected,
            |deadline| self.wait_step(deadline),
            || {
                self.report_error(
                    SocketError::SocketTimeoutError,
                    SocketError::SocketTimeoutError.description(),
                )
            },
        )
    }

    /// Qt's `waitForReadyRead`: true once `ready_read` has been emitted with new data.
    fn wait_for_ready_read(&self, msecs: i32) -> bool {
        if self.state() == SocketState::Unconnected {
            return false;
        }
        let Some(deadline) = self.wait_connected_first(msecs) else {
            return false;
        };
        let before = self.buffers().ready_read_count();
        self.wait_until(deadline, |c| c.buffers().ready_read_count() != before)
    }

    /// Qt's `waitForDisconnected`: true once the socket is `Unconnected` (the peer closed,
    /// or a `disconnect_from_host` finished).
    fn wait_for_disconnected(&self, msecs: i32) -> bool {
        if self.state() == SocketState::Unconnected {
            return false;
        }
        let Some(deadline) = self.wait_connected_first(msecs) else {
            return false;
        };
        let generation = self.generation();
        self.wait_until(deadline, |c| {
            c.generation() != generation || c.state() == SocketState::Unconnected
        })
    }
}
