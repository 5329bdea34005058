//! [`AbstractSocket`]: what every stream socket offers (TCP, local, TLS), so that protocol
//! code (the HTTP engine) can be written once over `&dyn AbstractSocket` or a generic.

use bytes::{Bytes, BytesMut};
use slotnet_core::{AsObject, Signal};

use crate::error::{SocketError, SocketState};

/// The common interface of stream sockets (Qt's `QAbstractSocket` as a trait). Object-safe.
///
/// All methods are safe to call on a destroyed socket: queries report an empty or
/// `Unconnected` socket, operations do nothing, and signals are closed.
pub trait AbstractSocket: AsObject {
    /// The socket's state.
    fn state(&self) -> SocketState;
    /// The last error, if any.
    fn error(&self) -> Option<SocketError>;
    /// A human-readable description of the last error (empty if none).
    fn error_string(&self) -> String;

    /// Bytes buffered and ready to read.
    fn bytes_available(&self) -> usize;
    /// Bytes queued and not yet handed to the kernel.
    fn bytes_to_write(&self) -> usize;
    /// Copies up to `buf.len()` buffered bytes into `buf`; returns how many.
    fn read(&self, buf: &mut [u8]) -> usize;
    /// Takes every buffered byte.
    fn read_all(&self) -> Vec<u8>;
    /// Takes up to `max` buffered bytes without copying them.
    fn read_bytes(&self, max: usize) -> Bytes;
    /// Moves every buffered byte to the end of `dst` (without copying when `dst` is empty);
    /// returns how many.
    fn read_buf(&self, dst: &mut BytesMut) -> usize;
    /// Runs `f` on the read buffer itself: it may parse in place and `split_to`/`advance`
    /// what it consumed; the rest stays buffered.
    fn with_read_buffer(&self, f: &mut dyn FnMut(&mut BytesMut));
    /// Copies up to `buf.len()` buffered bytes into `buf` without consuming them.
    fn peek(&self, buf: &mut [u8]) -> usize;
    /// Whether a whole line (ending in `\n`) is buffered.
    fn can_read_line(&self) -> bool;
    /// Takes bytes up to and including the first `\n`, at most `max_len` (0: no limit), or
    /// every buffered byte if there is no newline.
    fn read_line(&self, max_len: usize) -> Vec<u8>;
    /// The read buffer's limit (0: unlimited).
    fn read_buffer_size(&self) -> usize;
    /// Limits how many bytes are buffered from the kernel (0: unlimited). When the buffer is
    /// full the socket stops reading until the user reads, so the peer is slowed down.
    fn set_read_buffer_size(&self, size: usize);

    /// Queues `data` for sending; never blocks. Returns the bytes queued (0 when the socket
    /// is not connecting or connected).
    fn write(&self, data: &[u8]) -> usize;
    /// Queues `data` without copying it (large chunks are sent from the `Bytes` itself).
    fn write_bytes(&self, data: Bytes) -> usize;
    /// Writes as much as the kernel takes right now, without blocking (Qt's `flush`);
    /// returns whether anything was written.
    fn flush(&self) -> bool;

    /// Blocks until connected, at most `msecs` (-1: no limit); see
    /// [`TcpSocket::wait_for_connected`](crate::TcpSocket::wait_for_connected).
    fn wait_for_connected(&self, msecs: i32) -> bool;
    /// Blocks until new data has been read and `ready_read` emitted, at most `msecs`.
    fn wait_for_ready_read(&self, msecs: i32) -> bool;
    /// Blocks until queued bytes have been written and `bytes_written` emitted, at most
    /// `msecs`.
    fn wait_for_bytes_written(&self, msecs: i32) -> bool;
    /// Blocks until the socket is unconnected, at most `msecs`.
    fn wait_for_disconnected(&self, msecs: i32) -> bool;

    /// Closes after the write buffer is flushed (state `Closing` meanwhile).
    fn disconnect_from_host(&self);
    /// Closes at once, dropping buffered data.
    fn abort(&self);

    /// Emitted once the connection is established.
    fn connected(&self) -> Signal<()>;
    /// Emitted when a connection ends.
    fn disconnected(&self) -> Signal<()>;
    /// Emitted on every state change.
    fn state_changed(&self) -> Signal<SocketState>;
    /// Emitted when an error occurs (before the state changes it causes).
    fn error_occurred(&self) -> Signal<SocketError>;
    /// Emitted when new bytes are buffered.
    fn ready_read(&self) -> Signal<()>;
    /// Emitted when queued bytes reached the kernel, with their count.
    fn bytes_written(&self) -> Signal<u64>;
    /// Emitted when the peer ended its stream (end of file).
    fn read_channel_finished(&self) -> Signal<()>;
}

/// Picks the doc comment of a generated method by the kind of socket: `plain` (TCP, local)
/// or `tls`, where the TLS socket's behaviour needs its own words.
macro_rules! stream_doc {
    (plain, [$(#[$plain:meta])*] [$(#[$tls:meta])*] $($item:tt)*) => {
        $(#[$plain])* $($item)*
    };
    (tls, [$(#[$plain:meta])*] [$(#[$tls:meta])*] $($item:tt)*) => {
        $(#[$tls])* $($item)*
    };
}

/// Generates a stream socket handle's public API and its [`AbstractSocket`] implementation:
/// `impl_stream_socket!(TcpSocket => SocketCore, plain)`. The handle has an `obj: Object`
/// field whose data is the core, a [`BufferedStream`](crate::stream::BufferedStream) that
/// also has the transport methods called here (`write`, `flush`, `wait_for_connected`, ...).
/// `plain` or `tls` picks the doc comments.
macro_rules! impl_stream_socket {
    ($ty:ident => $core:ty, $kind:ident) => {
        // The trait's methods are the buffer API the generated methods call.
        const _: () = {
            use $crate::stream::BufferedStream as _;

            impl $ty {
                /// The socket's core (`None` once the object is destroyed).
                pub(crate) fn core(&self) -> Option<std::rc::Rc<$core>> {
                    self.obj.data::<$core>()
                }

                /// Whether the socket object still exists.
                pub fn is_alive(&self) -> bool {
                    self.obj.is_alive()
                }

                /// Destroys the socket object now: the connection is closed at once, without
                /// signals, and this handle (and its copies) report a destroyed socket.
                pub fn destroy(&self) -> bool {
                    self.obj.destroy()
                }

                /// Destroys the socket when control returns to the event loop.
                pub fn delete_later(&self) {
                    self.obj.delete_later()
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// The socket's state (`Unconnected` once destroyed).
                ] [
                    /// The socket's state (`Unconnected` once destroyed). It follows the TCP
                    /// connection: `Connected` during the handshake too (see
                    /// [`Self::is_encrypted`]).
                ]
                pub fn state(&self) -> $crate::SocketState {
                    self.core()
                        .map_or($crate::SocketState::Unconnected, |c| c.state())
                });

                /// The last error, if any (Qt returns `UnknownSocketError` for none).
                pub fn error(&self) -> Option<$crate::SocketError> {
                    self.core().and_then(|c| c.error())
                }

                /// A human-readable description of the last error (empty if none).
                pub fn error_string(&self) -> String {
                    self.core().map(|c| c.error_string()).unwrap_or_default()
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Bytes buffered and ready to read.
                ] [
                    /// Decrypted bytes buffered and ready to read.
                ]
                pub fn bytes_available(&self) -> usize {
                    self.core().map_or(0, |c| c.bytes_available())
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Bytes queued and not yet handed to the kernel.
                ] [
                    /// Bytes written and not yet handed to TLS (in `UnencryptedMode`: not yet
                    /// handed to the kernel).
                ]
                pub fn bytes_to_write(&self) -> usize {
                    self.core().map_or(0, |c| c.bytes_to_write())
                });

                /// Copies up to `buf.len()` buffered bytes into `buf`; returns how many.
                pub fn read(&self, buf: &mut [u8]) -> usize {
                    self.core().map_or(0, |c| c.read(buf))
                }

                /// Takes every buffered byte.
                pub fn read_all(&self) -> Vec<u8> {
                    self.core().map(|c| c.read_all()).unwrap_or_default()
                }

                /// Takes up to `max` buffered bytes without copying them.
                pub fn read_bytes(&self, max: usize) -> bytes::Bytes {
                    self.core().map(|c| c.read_bytes(max)).unwrap_or_default()
                }

                /// Moves every buffered byte to the end of `dst` (without copying when `dst`
                /// is empty); returns how many.
                pub fn read_buf(&self, dst: &mut bytes::BytesMut) -> usize {
                    self.core().map_or(0, |c| c.read_buf(dst))
                }

                /// Runs `f` on the read buffer itself: it may parse in place and
                /// `split_to`/`advance` what it consumed; the rest stays buffered. Not called
                /// on a destroyed socket.
                pub fn with_read_buffer(&self, f: &mut dyn FnMut(&mut bytes::BytesMut)) {
                    if let Some(c) = self.core() {
                        c.with_read_buffer(f)
                    }
                }

                /// Copies up to `buf.len()` buffered bytes into `buf` without consuming them.
                pub fn peek(&self, buf: &mut [u8]) -> usize {
                    self.core().map_or(0, |c| c.peek(buf))
                }

                /// Whether a whole line (ending in `\n`) is buffered.
                pub fn can_read_line(&self) -> bool {
                    self.core().is_some_and(|c| c.can_read_line())
                }

                /// Takes bytes up to and including the first `\n`, at most `max_len` (0: no
                /// limit), or every buffered byte if there is no newline.
                pub fn read_line(&self, max_len: usize) -> Vec<u8> {
                    self.core()
                        .map(|c| c.read_line(max_len))
                        .unwrap_or_default()
                }

                /// The read buffer's limit (0: unlimited, the default).
                pub fn read_buffer_size(&self) -> usize {
                    self.core().map_or(0, |c| c.read_buffer_size())
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Limits how many bytes are buffered from the kernel (0: unlimited). When
                    /// the buffer is full the socket stops reading until the user reads, so a
                    /// slow consumer slows the peer down instead of growing memory.
                ] [
                    /// Limits how many decrypted bytes are buffered (0: unlimited). When the
                    /// buffer is full the socket stops reading ciphertext until the user reads,
                    /// so a slow consumer slows the peer down instead of growing memory. (When
                    /// the peer closes the connection, the little ciphertext still buffered is
                    /// decrypted regardless of the limit.)
                ]
                pub fn set_read_buffer_size(&self, size: usize) {
                    if let Some(c) = self.core() {
                        c.set_read_buffer_size(size)
                    }
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Queues `data` for sending and returns its length; never blocks. The
                    /// kernel gets it on a later loop iteration, then `bytes_written` is
                    /// emitted. Data written while connecting is sent once connected. Returns 0
                    /// (and sets `OperationError`) when the socket is unconnected or closing.
                    ///
                    /// Nothing is sent before control is back in the loop: before a call that
                    /// blocks the thread (waiting for a child process, a blocking read
                    /// elsewhere), call [`Self::flush`] (sends what the kernel takes now) or
                    /// [`Self::wait_for_bytes_written`] (waits until it did), as in Qt.
                ] [
                    /// Queues `data` for sending and returns its length; never blocks. With
                    /// encryption it is sent once the handshake is done. Returns 0 (and sets
                    /// `OperationError`) when the socket is unconnected or closing.
                ]
                pub fn write(&self, data: &[u8]) -> usize {
                    self.core().map_or(0, |c| c.write(data))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Like [`Self::write`], without copying large chunks.
                ] [
                    /// Like [`Self::write`], without copying large chunks into the socket's
                    /// queue.
                ]
                pub fn write_bytes(&self, data: bytes::Bytes) -> usize {
                    self.core().map_or(0, |c| c.write_bytes(data))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Writes as much of the write buffer as the kernel takes right now,
                    /// without blocking (Qt's `flush`), emitting `bytes_written`; returns
                    /// whether anything was written. Normally not needed: the loop sends on its
                    /// next iteration.
                ] [
                    /// Encrypts what it can and writes as much as the kernel takes right now,
                    /// without blocking (Qt's `flush`); returns whether anything was written.
                    /// Call it (or [`Self::wait_for_bytes_written`]) after [`Self::write`]
                    /// before blocking the thread: otherwise nothing is sent until control is
                    /// back in the loop.
                ]
                pub fn flush(&self) -> bool {
                    self.core().is_some_and(|c| c.flush())
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Blocks until the socket is connected, at most `msecs` milliseconds (-1:
                    /// no limit; Qt's default is
                    /// [`DEFAULT_WAIT_MSECS`](crate::DEFAULT_WAIT_MSECS)). Returns true at once
                    /// when already connected, false when not connecting.
                    ///
                    /// Like Qt's `waitForConnected` this blocks the thread, and the caller's
                    /// event loop with it: only this socket is served meanwhile (its host
                    /// lookup is done right here, blocking, as Qt does; its signals are emitted
                    /// from inside the call), while other sockets, timers and posted calls wait
                    /// until control is back in the loop. On timeout the attempt is abandoned
                    /// as in Qt: the error is `SocketTimeoutError`, the state `Unconnected`
                    /// (with `state_changed`, without `error_occurred`). Use it in command-line
                    /// programs, tests and worker threads; in an event-driven program prefer
                    /// the `connected` signal.
                ] [
                    /// Blocks until the TCP connection is established, at most `msecs`
                    /// milliseconds (-1: no limit); see
                    /// [`TcpSocket::wait_for_connected`](crate::TcpSocket::wait_for_connected)
                    /// for what blocking means here (only this socket is served; the rest of
                    /// the loop waits). The handshake of `connect_to_host_encrypted` has
                    /// started when it returns true; wait for it with
                    /// [`Self::wait_for_encrypted`].
                ]
                pub fn wait_for_connected(&self, msecs: i32) -> bool {
                    self.core().is_some_and(|c| c.wait_for_connected(msecs))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Blocks until new data has been read and `ready_read` emitted (from
                    /// inside this call), at most `msecs` milliseconds (-1: no limit); connects
                    /// first if the socket is still connecting. Returns false when
                    /// unconnected, on error, or on timeout (then
                    /// `error_occurred(SocketTimeoutError)` is emitted and the connection
                    /// stays, as in Qt). Blocks the caller's loop like
                    /// [`Self::wait_for_connected`]; queued writes are sent meanwhile.
                ] [
                    /// Blocks until new decrypted data has been read and `ready_read` emitted,
                    /// at most `msecs` milliseconds (-1: no limit); connects and completes the
                    /// handshake first if needed. Timeouts as
                    /// [`TcpSocket::wait_for_ready_read`](crate::TcpSocket::wait_for_ready_read).
                ]
                pub fn wait_for_ready_read(&self, msecs: i32) -> bool {
                    self.core().is_some_and(|c| c.wait_for_ready_read(msecs))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Blocks until queued bytes have reached the kernel and `bytes_written`
                    /// has been emitted, at most `msecs` milliseconds (-1: no limit). Returns
                    /// false at once when nothing is queued, as Qt. Blocks the caller's loop
                    /// like [`Self::wait_for_connected`]; a timeout is reported as in
                    /// [`Self::wait_for_ready_read`].
                ] [
                    /// Blocks until written data, encrypted, has reached the kernel, at most
                    /// `msecs` milliseconds (-1: no limit); completes the handshake first if
                    /// needed, as Qt. Returns false at once when nothing is waiting to be sent.
                ]
                pub fn wait_for_bytes_written(&self, msecs: i32) -> bool {
                    self.core().is_some_and(|c| c.wait_for_bytes_written(msecs))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Blocks until the socket is `Unconnected` (the peer closed, an error, or
                    /// a [`Self::disconnect_from_host`] finished sending), at most `msecs`
                    /// milliseconds (-1: no limit). Returns false when already unconnected, as
                    /// Qt. Blocks the caller's loop like [`Self::wait_for_connected`].
                ] [
                    /// Blocks until the socket is `Unconnected`, at most `msecs` milliseconds
                    /// (-1: no limit). Returns false when already unconnected, as Qt.
                ]
                pub fn wait_for_disconnected(&self, msecs: i32) -> bool {
                    self.core().is_some_and(|c| c.wait_for_disconnected(msecs))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Closes the connection once the write buffer has been flushed: the state
                    /// is `Closing` meanwhile, then `Unconnected`, and `disconnected` is
                    /// emitted. Unread bytes stay readable. Cancels a connection attempt in
                    /// progress.
                ] [
                    /// Closes the connection once the written data has been sent: the state is
                    /// `Closing` meanwhile; with TLS a close_notify alert follows the data;
                    /// then `Unconnected` and `disconnected`. Unread bytes stay readable.
                    /// Cancels a connection attempt in progress.
                ]
                pub fn disconnect_from_host(&self) {
                    if let Some(c) = self.core() {
                        c.disconnect_from_host()
                    }
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Closes at once, dropping the write buffer and unread bytes; emits
                    /// `state_changed(Unconnected)` and, if a connection existed,
                    /// `disconnected`.
                ] [
                    /// Closes at once, without close_notify, dropping unsent and unread data;
                    /// emits `state_changed(Unconnected)` and, if a connection existed,
                    /// `disconnected`.
                ]
                pub fn abort(&self) {
                    if let Some(c) = self.core() {
                        c.abort()
                    }
                });

                /// Qt's `close()`: [`Self::disconnect_from_host`], and unread bytes are
                /// dropped.
                pub fn close(&self) {
                    if let Some(c) = self.core() {
                        c.close()
                    }
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Sets an option (see [`SocketOption`](crate::SocketOption)); options set
                    /// before connecting are applied to the connection. Returns false if the
                    /// system refused it or it does not apply to this kind of socket.
                ] [
                    /// Sets a TCP option (see [`SocketOption`](crate::SocketOption)).
                ]
                pub fn set_socket_option(&self, option: $crate::SocketOption, value: i32) -> bool {
                    self.core()
                        .is_some_and(|c| c.set_socket_option(option, value))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// An option's current value (from the system when connected).
                ] [
                    /// A TCP option's current value.
                ]
                pub fn socket_option(&self, option: $crate::SocketOption) -> Option<i32> {
                    self.core().and_then(|c| c.socket_option(option))
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Limits how long `connect` may take, name lookup included (`None`: no
                    /// limit, the default). Past it the attempt fails with
                    /// `SocketTimeoutError`.
                ] [
                    /// Limits how long the TCP connect may take, name lookup included
                    /// (`None`: no limit). The handshake is not included.
                ]
                pub fn set_connect_timeout(&self, timeout: Option<std::time::Duration>) {
                    if let Some(c) = self.core() {
                        c.set_connect_timeout(timeout)
                    }
                });

                /// The connect timeout.
                pub fn connect_timeout(&self) -> Option<std::time::Duration> {
                    self.core().and_then(|c| c.connect_timeout())
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Emitted once the connection is established (after
                    /// `state_changed(Connected)`).
                ] [
                    /// Emitted once the TCP connection is established (before the handshake).
                ]
                pub fn connected(&self) -> slotnet_core::Signal<()> {
                    self.core()
                        .map_or_else(slotnet_core::Signal::closed, |c| c.sig.connected.clone())
                });

                /// Emitted when an established connection ends (after
                /// `state_changed(Unconnected)`).
                pub fn disconnected(&self) -> slotnet_core::Signal<()> {
                    self.core()
                        .map_or_else(slotnet_core::Signal::closed, |c| c.sig.disconnected.clone())
                }

                /// Emitted on every state change, with the new state.
                pub fn state_changed(&self) -> slotnet_core::Signal<$crate::SocketState> {
                    self.core().map_or_else(slotnet_core::Signal::closed, |c| {
                        c.sig.state_changed.clone()
                    })
                }

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Emitted when an error occurs. A failed connect emits it after the state
                    /// has become `Unconnected` and before `state_changed(Unconnected)`, as in
                    /// Qt.
                ] [
                    /// Emitted when an error occurs (`SslHandshakeFailedError` when the
                    /// handshake fails, `SslInternalError` for a TLS failure afterwards, or a
                    /// TCP error).
                ]
                pub fn error_occurred(&self) -> slotnet_core::Signal<$crate::SocketError> {
                    self.core().map_or_else(slotnet_core::Signal::closed, |c| {
                        c.sig.error_occurred.clone()
                    })
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Emitted when new bytes are buffered (not recursively: a slot that runs
                    /// a nested loop gets one more emission afterwards instead).
                ] [
                    /// Emitted when new decrypted bytes are buffered (not recursively).
                ]
                pub fn ready_read(&self) -> slotnet_core::Signal<()> {
                    self.core()
                        .map_or_else(slotnet_core::Signal::closed, |c| c.sig.ready_read.clone())
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Emitted when queued bytes reached the kernel, with their count.
                ] [
                    /// Emitted when written bytes were encrypted and handed on, with their
                    /// count (in `UnencryptedMode`: when they reached the kernel).
                ]
                pub fn bytes_written(&self) -> slotnet_core::Signal<u64> {
                    self.core().map_or_else(slotnet_core::Signal::closed, |c| {
                        c.sig.bytes_written.clone()
                    })
                });

                $crate::abstract_socket::stream_doc!($kind, [
                    /// Emitted when the peer ended its stream (end of file), before the
                    /// `RemoteHostClosedError`.
                ] [
                    /// Emitted when the peer ended its stream (close_notify or end of file).
                ]
                pub fn read_channel_finished(&self) -> slotnet_core::Signal<()> {
                    self.core().map_or_else(slotnet_core::Signal::closed, |c| {
                        c.sig.read_channel_finished.clone()
                    })
                });
            }
        };

        impl slotnet_core::AsObject for $ty {
            fn as_object(&self) -> slotnet_core::Object {
                self.obj
            }
        }

        impl $crate::AbstractSocket for $ty {
            fn state(&self) -> $crate::SocketState {
                $ty::state(self)
            }
            fn error(&self) -> Option<$crate::SocketError> {
                $ty::error(self)
            }
            fn error_string(&self) -> String {
                $ty::error_string(self)
            }
            fn bytes_available(&self) -> usize {
                $ty::bytes_available(self)
            }
            fn bytes_to_write(&self) -> usize {
                $ty::bytes_to_write(self)
            }
            fn read(&self, buf: &mut [u8]) -> usize {
                $ty::read(self, buf)
            }
            fn read_all(&self) -> Vec<u8> {
                $ty::read_all(self)
            }
            fn read_bytes(&self, max: usize) -> bytes::Bytes {
                $ty::read_bytes(self, max)
            }
            fn read_buf(&self, dst: &mut bytes::BytesMut) -> usize {
                $ty::read_buf(self, dst)
            }
            fn with_read_buffer(&self, f: &mut dyn FnMut(&mut bytes::BytesMut)) {
                $ty::with_read_buffer(self, f)
            }
            fn peek(&self, buf: &mut [u8]) -> usize {
                $ty::peek(self, buf)
            }
            fn can_read_line(&self) -> bool {
                $ty::can_read_line(self)
            }
            fn read_line(&self, max_len: usize) -> Vec<u8> {
                $ty::read_line(self, max_len)
            }
            fn read_buffer_size(&self) -> usize {
                $ty::read_buffer_size(self)
            }
            fn set_read_buffer_size(&self, size: usize) {
                $ty::set_read_buffer_size(self, size)
            }
            fn write(&self, data: &[u8]) -> usize {
                $ty::write(self, data)
            }
            fn write_bytes(&self, data: bytes::Bytes) -> usize {
                $ty::write_bytes(self, data)
            }
            fn flush(&self) -> bool {
                $ty::flush(self)
            }
            fn wait_for_connected(&self, msecs: i32) -> bool {
                $ty::wait_for_connected(self, msecs)
            }
            fn wait_for_ready_read(&self, msecs: i32) -> bool {
                $ty::wait_for_ready_read(self, msecs)
            }
            fn wait_for_bytes_written(&self, msecs: i32) -> bool {
                $ty::wait_for_bytes_written(self, msecs)
            }
            fn wait_for_disconnected(&self, msecs: i32) -> bool {
                $ty::wait_for_disconnected(self, msecs)
            }
            fn disconnect_from_host(&self) {
                $ty::disconnect_from_host(self)
            }
            fn abort(&self) {
                $ty::abort(self)
            }
            fn connected(&self) -> slotnet_core::Signal<()> {
                $ty::connected(self)
            }
            fn disconnected(&self) -> slotnet_core::Signal<()> {
                $ty::disconnected(self)
            }
            fn state_changed(&self) -> slotnet_core::Signal<$crate::SocketState> {
                $ty::state_changed(self)
            }
            fn error_occurred(&self) -> slotnet_core::Signal<$crate::SocketError> {
                $ty::error_occurred(self)
            }
            fn ready_read(&self) -> slotnet_core::Signal<()> {
                $ty::ready_read(self)
            }
            fn bytes_written(&self) -> slotnet_core::Signal<u64> {
                $ty::bytes_written(self)
            }
            fn read_channel_finished(&self) -> slotnet_core::Signal<()> {
                $ty::read_channel_finished(self)
            }
        }
    };
}

pub(crate) use impl_stream_socket;
pub(crate) use stream_doc;
