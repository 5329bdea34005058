//! The engine shared by [`crate::TcpServer`] and [`crate::LocalServer`]: accepting
//! connections into a bounded pending queue, pausing, and the servers' signals.
//!
//! The listener is edge-triggered, so whenever accepting stops before `WouldBlock` (paused,
//! queue full, budget used up) the code that lifts the stop posts a new accept attempt.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::Duration;

use mio::Interest;
use slotnet_core::{AsObject, EventLoop, IoRegistration, Object, Signal, Timer};

use crate::descriptor::SocketDescriptor;
use crate::error::SocketError;
use crate::local::LocalSocket;
use crate::sys::{RawListener, RawStream};
use crate::tcp::TcpSocket;
use crate::wait::{self, Deadline};

/// Qt's default for `maxPendingConnections`.
pub(crate) const DEFAULT_MAX_PENDING: usize = 30;
/// Connections accepted per readiness event before yielding to other sources.
const ACCEPT_BUDGET: usize = 128;
/// Retry delay after an accept failure such as running out of descriptors; the backlog
/// keeps the waiting connections meanwhile.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What `TcpServer::set_incoming_connection_handler` installs.
pub(crate) type IncomingHandler = Rc<dyn Fn(SocketDescriptor)>;

struct Listening {
    listener: RawListener,
    reg: IoRegistration,
}

pub(crate) struct ServerCore {
    obj: Object,
    weak: Weak<ServerCore>,
    listening: RefCell<Option<Listening>>,
    pending: RefCell<VecDeque<Object>>,
    max_pending: Cell<usize>,
    paused: Cell<bool>,
    /// Accepting stopped on a full queue (not at `WouldBlock`).
    stalled: Cell<bool>,
    accept_posted: Cell<bool>,
    retry_armed: Cell<bool>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    local_addr: Cell<Option<SocketAddr>>,
    /// The socket file of a local server, removed when it stops listening.
    socket_path: RefCell<Option<PathBuf>>,
    server_name: RefCell<String>,
    /// Connections accepted so far, for the blocking wait to see a new one.
    accepted: Cell<u64>,
    pub(crate) new_connection: Signal<()>,
    pub(crate) accept_error: Signal<SocketError>,
    /// Qt's overridden `incomingConnection`: accepted TCP connections go here instead of
    /// becoming pending sockets.
    incoming_handler: RefCell<Option<IncomingHandler>>,
}

impl Drop for ServerCore {
    fn drop(&mut self) {
        self.stop_listening();
    }
}

impl ServerCore {
    pub(crate) fn create(parent: Option<Object>) -> Object {
        let obj = Object::with_data(Rc::new(()), parent);
        let core = Rc::new_cyclic(|weak| ServerCore {
            obj,
            weak: weak.clone(),
            listening: RefCell::new(None),
            pending: RefCell::new(VecDeque::new()),
            max_pending: Cell::new(DEFAULT_MAX_PENDING),
            paused: Cell::new(false),
            stalled: Cell::new(false),
            accept_posted: Cell::new(false),
            retry_armed: Cell::new(false),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            local_addr: Cell::new(None),
            socket_path: RefCell::new(None),
            server_name: RefCell::new(String::new()),
            accepted: Cell::new(0),
            new_connection: obj.new_signal(),
            accept_error: obj.new_signal(),
            incoming_handler: RefCell::new(None),
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        obj
    }

    pub(crate) fn get(obj: Object) -> Option<Rc<ServerCore>> {
        obj.data::<ServerCore>()
    }

    pub(crate) fn set_error(&self, code: SocketError, message: &str) {
        self.error.set(Some(code));
        let mut s = self.error_string.borrow_mut();
        s.clear();
        s.push_str(message);
    }

    pub(crate) fn set_io_error(&self, e: &io::Error) {
        self.set_error(SocketError::from_io(e), &e.to_string());
    }

    pub(crate) fn error(&self) -> Option<SocketError> {
        self.error.get()
    }

    pub(crate) fn error_string(&self) -> String {
        self.error_string.borrow().clone()
    }

    pub(crate) fn is_listening(&self) -> bool {
        self.listening.borrow().is_some()
    }

    /// Starts accepting on `listener`. `path` is the socket file of a local server.
    pub(crate) fn start(
        &self,
        mut listener: RawListener,
        local_addr: Option<SocketAddr>,
        path: Option<PathBuf>,
        name: &str,
    ) -> io::Result<()> {
        let weak = self.weak.clone();
        let reg = EventLoop::current().register_io(
            &mut listener,
            Interest::READABLE,
            Some(self.obj),
            move |_| {
                if let Some(core) = weak.upgrade() {
                    core.accept_ready();
                }
            },
        )?;
        *self.listening.borrow_mut() = Some(Listening { listener, reg });
        self.local_addr.set(local_addr);
        *self.socket_path.borrow_mut() = path;
        {
            let mut n = self.server_name.borrow_mut();
            n.clear();
            n.push_str(name);
        }
        self.error.set(None);
        self.error_string.borrow_mut().clear();
        // Connections may already be waiting (an adopted listener): their edge is gone.
        self.post_accept();
        Ok(())
    }

    /// Stops listening; a local server's socket file is removed. Pending connections stay.
    pub(crate) fn stop_listening(&self) {
        let old = self.listening.borrow_mut().take();
        if let Some(mut l) = old {
            let _ = l.reg.deregister(&mut l.listener);
        }
        if let Some(path) = self.socket_path.borrow_mut().take() {
            // Someone else may have removed it already; nothing to do then.
            let _ = std::fs::remove_file(path);
        }
        self.local_addr.set(None);
        self.stalled.set(false);
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get()
    }

    pub(crate) fn socket_path(&self) -> Option<PathBuf> {
        self.socket_path.borrow().clone()
    }

    pub(crate) fn server_name(&self) -> String {
        self.server_name.borrow().clone()
    }

    fn accept_ready(&self) {
        self.accept();
    }

    fn post_accept(&self) {
        if self.accept_posted.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        EventLoop::current().post(move || {
            if let Some(core) = weak.upgrade() {
                core.accept_posted.set(false);
                core.accept();
            }
        });
    }

    /// Accepts while allowed; each connection becomes a pending socket (a child of the
    /// server) and `new_connection` is emitted for it.
    fn accept(&self) {
        for _ in 0..ACCEPT_BUDGET {
            if self.paused.get() || !self.obj.is_alive() {
                return;
            }
            if self.pending.borrow().len() >= self.max_pending.get() {
                // Sockets destroyed while pending do not count.
                self.pending.borrow_mut().retain(|o| o.is_alive());
                if self.pending.borrow().len() >= self.max_pending.get() {
                    self.stalled.set(true);
                    return;
                }
            }
            let result = match self.listening.borrow().as_ref() {
                Some(l) => l.listener.accept(),
                None => return,
            };
            match result {
                Ok(stream) => {
                    let Some(stream) = self.hand_off(stream) else {
                        continue;
                    };
                    let socket = match &stream {
                        RawStream::Tcp(_) => {
                            TcpSocket::adopt(stream, Some(self.obj)).map(|s| s.as_object())
                        }
                        RawStream::Unix(_) => {
                            let path = self.socket_path.borrow().clone();
                            LocalSocket::adopt(stream, Some(self.obj)).map(|s| {
                                if let Some(path) = path {
                                    s.set_full_server_name(&path);
                                }
                                s.as_object()
                            })
                        }
                    };
                    match socket {
                        Ok(obj) => {
                            self.accepted.set(self.accepted.get() + 1);
                            self.pending.borrow_mut().push_back(obj);
                            self.new_connection.emit(());
                        }
                        Err(e) => self.report_accept_error(&e),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    self.report_accept_error(&e);
                    self.retry_later();
                    return;
                }
            }
        }
        // Budget used up: continue after the other sources had their turn.
        self.post_accept();
    }

    pub(crate) fn set_incoming_handler(&self, handler: IncomingHandler) {
        *self.incoming_handler.borrow_mut() = Some(handler);
    }

    /// Gives an accepted TCP connection to the incoming-connection handler, if one is set
    /// (then `new_connection` is emitted, as Qt emits it after `incomingConnection`);
    /// otherwise returns it to become a pending socket.
    fn hand_off(&self, stream: RawStream) -> Option<RawStream> {
        let handler = self.incoming_handler.borrow().clone();
        match (stream, handler) {
            (RawStream::Tcp(tcp), Some(handler)) => {
                self.accepted.set(self.accepted.get() + 1);
                handler(SocketDescriptor::from(std::net::TcpStream::from(tcp)));
                self.new_connection.emit(());
                None
            }
            (stream, _) => Some(stream),
        }
    }

    fn report_accept_error(&self, e: &io::Error) {
        let code = SocketError::from_io(e);
        self.set_error(code, &e.to_string());
        self.accept_error.emit(code);
    }

    fn retry_later(&self) {
        if self.retry_armed.replace(true) {
            return;
        }
        let weak = self.weak.clone();
        Timer::single_shot_with(ACCEPT_RETRY, &self.obj, move || {
            if let Some(core) = weak.upgrade() {
                core.retry_armed.set(false);
                core.accept();
            }
        });
    }

    /// Takes the oldest pending connection's object.
    pub(crate) fn next_pending(&self) -> Option<Object> {
        let next = loop {
            let obj = self.pending.borrow_mut().pop_front()?;
            // A pending socket destroyed by its owner (or by the tree) is skipped.
            if obj.is_alive() {
                break obj;
            }
        };
        if self.stalled.replace(false) {
            self.post_accept();
        }
        Some(next)
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending.borrow().iter().any(|o| o.is_alive())
    }

    pub(crate) fn max_pending(&self) -> usize {
        self.max_pending.get()
    }

    pub(crate) fn set_max_pending(&self, n: usize) {
        self.max_pending.set(n);
        if self.stalled.replace(false) {
            self.post_accept();
        }
    }

    pub(crate) fn pause(&self) {
        self.paused.set(true);
    }

    pub(crate) fn resume(&self) {
        if self.paused.replace(false) && self.is_listening() {
            self.post_accept();
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.get()
    }
}

// ----- blocking wait (Qt's waitForNewConnection; see `wait.rs`) ---------------------------

impl ServerCore {
    /// What a blocking wait polls: the listener, unless accepting is paused or stalled.
    pub(crate) fn listener_interest(&self) -> Option<libc::pollfd> {
        if self.paused.get() || self.stalled.get() {
            return None;
        }
        let listening = self.listening.borrow();
        let fd = listening.as_ref()?.listener.fd();
        Some(wait::pollfd(fd, libc::POLLIN))
    }

    /// Runs the accept the loop would run next (after a pause, a full queue, a used-up
    /// budget); returns whether there was one.
    pub(crate) fn run_deferred_accept(&self) -> bool {
        if self.accept_posted.replace(false) {
            self.accept();
            true
        } else {
            false
        }
    }

    /// Accepts what `poll(2)` announced for [`Self::listener_interest`].
    pub(crate) fn on_listener_polled(&self) {
        self.accept();
    }

    pub(crate) fn wait_for_new_connection(&self, msecs: i32) -> bool {
        let deadline = Deadline::after_msecs(msecs);
        let before = self.accepted.get();
        loop {
            if self.accepted.get() != before {
                return true;
            }
            if !self.obj.is_alive() {
                return false;
            }
            if self.run_deferred_accept() {
                continue;
            }
            let Some(fd) = self.listener_interest() else {
                return false;
            };
            match wait::poll(&mut [fd], deadline) {
                Ok(0) => {
                    self.set_error(
                        SocketError::SocketTimeoutError,
                        SocketError::SocketTimeoutError.description(),
                    );
                    return false;
                }
                Ok(_) => self.on_listener_polled(),
                Err(e) => {
                    self.set_io_error(&e);
                    return false;
                }
            }
        }
    }
}

/// Generates the methods [`crate::TcpServer`] and [`crate::LocalServer`] share, for a handle
/// with an `obj: Object` field whose data is a `ServerCore`.
macro_rules! impl_server_common {
    ($ty:ident, $socket:ident) => {
        impl $ty {
            fn core(&self) -> Option<std::rc::Rc<$crate::server::ServerCore>> {
                $crate::server::ServerCore::get(self.obj)
            }

            /// Whether the server object still exists.
            pub fn is_alive(&self) -> bool {
                self.obj.is_alive()
            }

            /// Destroys the server now: it stops listening, and pending connections (its
            /// children) are closed.
            pub fn destroy(&self) -> bool {
                self.obj.destroy()
            }

            /// Destroys the server when control returns to the event loop.
            pub fn delete_later(&self) {
                self.obj.delete_later()
            }

            /// Whether the server is listening.
            pub fn is_listening(&self) -> bool {
                self.core().is_some_and(|c| c.is_listening())
            }

            /// Stops listening. Pending connections stay available.
            pub fn close(&self) {
                if let Some(c) = self.core() {
                    c.stop_listening()
                }
            }

            /// The last error (from `listen` or accepting), if any.
            pub fn server_error(&self) -> Option<$crate::SocketError> {
                self.core().and_then(|c| c.error())
            }

            /// A human-readable description of the last error (empty if none).
            pub fn error_string(&self) -> String {
                self.core().map(|c| c.error_string()).unwrap_or_default()
            }

            /// Takes the oldest accepted connection not yet taken. It stays a child of the
            /// server (destroyed with it) until given another parent.
            pub fn next_pending_connection(&self) -> Option<$socket> {
                self.core()
                    .and_then(|c| c.next_pending())
                    .map($socket::from_object)
            }

            /// Blocks until a new connection has been accepted (and `new_connection`
            /// emitted), at most `msecs` milliseconds (0, Qt's default: only what is already
            /// waiting in the kernel; -1: no limit); true when one was. On timeout
            /// `server_error` is `SocketTimeoutError` (Qt's `timedOut`). Like Qt's
            /// `waitForNewConnection` it blocks the thread and the caller's loop: only this
            /// server's listener is served meanwhile; the accepted sockets, other objects,
            /// timers and posted calls wait until control is back in the loop. Returns
            /// false at once when not listening or when accepting is paused.
            pub fn wait_for_new_connection(&self, msecs: i32) -> bool {
                self.core()
                    .is_some_and(|c| c.is_listening() && c.wait_for_new_connection(msecs))
            }

            /// Whether accepted connections are waiting to be taken.
            pub fn has_pending_connections(&self) -> bool {
                self.core().is_some_and(|c| c.has_pending())
            }

            /// How many connections may wait to be taken (30 by default, as in Qt).
            pub fn max_pending_connections(&self) -> usize {
                self.core()
                    .map_or($crate::server::DEFAULT_MAX_PENDING, |c| c.max_pending())
            }

            /// Sets how many connections may wait to be taken; at that number the server
            /// stops accepting from the kernel (further clients wait in the kernel's backlog)
            /// until one is taken.
            pub fn set_max_pending_connections(&self, n: usize) {
                if let Some(c) = self.core() {
                    c.set_max_pending(n)
                }
            }

            /// Stops accepting connections (they wait in the kernel's backlog).
            pub fn pause_accepting(&self) {
                if let Some(c) = self.core() {
                    c.pause()
                }
            }

            /// Accepts connections again after [`Self::pause_accepting`].
            pub fn resume_accepting(&self) {
                if let Some(c) = self.core() {
                    c.resume()
                }
            }

            /// Whether accepting is paused.
            pub fn is_accepting_paused(&self) -> bool {
                self.core().is_some_and(|c| c.is_paused())
            }

            /// Emitted for each accepted connection, once it is pending.
            pub fn new_connection(&self) -> slotnet_core::Signal<()> {
                self.core()
                    .map_or_else(slotnet_core::Signal::closed, |c| c.new_connection.clone())
            }

            /// Emitted when accepting fails (for instance `SocketResourceError` when out of
            /// file descriptors); the server retries shortly.
            pub fn accept_error(&self) -> slotnet_core::Signal<$crate::SocketError> {
                self.core()
                    .map_or_else(slotnet_core::Signal::closed, |c| c.accept_error.clone())
            }
        }

        impl slotnet_core::AsObject for $ty {
            fn as_object(&self) -> slotnet_core::Object {
                self.obj
            }
        }
    };
}

pub(crate) use impl_server_common;
