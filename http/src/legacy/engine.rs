//! The scheduler of [`Http`](super::Http): the queue of operations with their ids, running
//! them one at a time, finishing them with Qt's signals and error model.
//!
//! Signals are always emitted with no `RefCell` borrowed, so slots may call back into the
//! object (read, schedule, abort, even destroy it). After every emission the code checks
//! the generation counter (`gen`), which moves whenever the running operation ends, and
//! stops if a slot ended it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use slotnet_core::{Object, Signal};
use slotnet_net::ssl::SslError;
use slotnet_net::TcpSocket;

use crate::auth::{AuthSession, Authenticator};

use super::data::{Destination, RequestData};
use super::exchange::Exchange;
use super::header::{HttpRequestHeader, HttpResponseHeader};
use super::transport::Conn;
use super::types::{ConnectionMode, HttpError, State};

/// The arguments of `authentication_required` and `proxy_authentication_required`: host,
/// port, and the authenticator the slot fills in.
pub type AuthRequest = (String, u16, Rc<RefCell<Authenticator>>);

/// The signals of an `Http` object.
pub(super) struct Signals {
    pub(super) state_changed: Signal<State>,
    pub(super) response_header_received: Signal<HttpResponseHeader>,
    pub(super) ready_read: Signal<HttpResponseHeader>,
    pub(super) data_send_progress: Signal<(u64, u64)>,
    pub(super) data_read_progress: Signal<(u64, u64)>,
    pub(super) request_started: Signal<u32>,
    pub(super) request_finished: Signal<(u32, bool)>,
    pub(super) done: Signal<bool>,
    pub(super) authentication_required: Signal<AuthRequest>,
    pub(super) proxy_authentication_required: Signal<AuthRequest>,
    pub(super) ssl_errors: Signal<Vec<SslError>>,
}

impl Signals {
    fn new(obj: &Object) -> Self {
        Signals {
            state_changed: obj.new_signal(),
            response_header_received: obj.new_signal(),
            ready_read: obj.new_signal(),
            data_send_progress: obj.new_signal(),
            data_read_progress: obj.new_signal(),
            request_started: obj.new_signal(),
            request_finished: obj.new_signal(),
            done: obj.new_signal(),
            authentication_required: obj.new_signal(),
            proxy_authentication_required: obj.new_signal(),
            ssl_errors: obj.new_signal(),
        }
    }
}

/// A non-transparent HTTP proxy (Qt's `setProxy(host, port, user, password)`).
#[derive(Clone, Debug)]
pub(super) struct Proxy {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) creds: Option<Authenticator>,
}

/// A scheduled operation.
pub(super) enum Op {
    SetHost {
        host: String,
        port: u16,
        mode: ConnectionMode,
    },
    SetUser(Option<Authenticator>),
    SetProxy(Option<Proxy>),
    SetSocket(Option<TcpSocket>),
    /// An operation that cannot be carried out (a proxy type `Http` does not speak): fails
    /// with `UnknownError` and this text when it runs, so nothing goes out unproxied.
    Refuse(&'static str),
    Close,
    Request {
        header: HttpRequestHeader,
        /// Taken when the request starts.
        data: Option<RequestData>,
        /// Taken when the request starts (into `Inner::to`).
        to: Option<Destination>,
    },
}

pub(super) struct Pending {
    pub(super) id: u32,
    pub(super) op: Op,
}

/// Authentication with a server or a proxy: the protection space state and the
/// credentials in use.
#[derive(Default)]
pub(super) struct AuthState {
    pub(super) session: AuthSession,
    /// The credentials answering the current challenge.
    pub(super) creds: Option<Authenticator>,
    /// Credentials given in advance (`set_user`, `set_proxy`), tried first.
    pub(super) configured: Option<Authenticator>,
}

/// Everything mutable, behind one `RefCell` that is never held across an emission.
pub(super) struct St {
    pub(super) queue: VecDeque<Pending>,
    /// Whether the head of `queue` has started.
    pub(super) running: bool,
    /// Whether the head of `queue` is emitting `request_finished(id, false)`.
    finishing: bool,
    next_id: u32,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) mode: ConnectionMode,
    pub(super) proxy: Option<Proxy>,
    pub(super) user_socket: Option<TcpSocket>,
    /// The TLS configuration of HTTPS connections (`None`: the process-wide default).
    pub(super) ssl_configuration: Option<slotnet_net::ssl::SslConfiguration>,
    pub(super) conn: Option<Conn>,
    pub(super) next_conn_id: u64,
    pub(super) state: State,
    pub(super) error: HttpError,
    pub(super) error_string: String,
    pub(super) last_response: HttpResponseHeader,
    /// The request being transferred.
    pub(super) ex: Option<Exchange>,
    /// Response body not yet read by the user (when no destination device is set).
    pub(super) body: VecDeque<Bytes>,
    pub(super) body_len: usize,
    /// Limit of `body` (0: unlimited); past it the socket is not read any more.
    pub(super) read_buffer_size: usize,
    pub(super) paused: bool,
    pub(super) server_auth: AuthState,
    pub(super) proxy_auth: AuthState,
}

/// The state of an `Http` object, attached to its `Object`.
pub(super) struct Inner {
    pub(super) obj: Object,
    pub(super) weak: Weak<Inner>,
    pub(super) sig: Signals,
    pub(super) st: RefCell<St>,
    /// The running request's destination device (kept apart from `st` so user code can
    /// borrow it while `st` is in use).
    pub(super) to: RefCell<Option<Destination>>,
    /// The running request's source device.
    pub(super) source: RefCell<Option<Box<dyn std::io::Read>>>,
    /// Moves whenever the running operation ends or restarts.
    pub(super) gen: Cell<u64>,
}

impl Inner {
    pub(super) fn create(host: &str, port: u16, mode: ConnectionMode) -> Rc<Inner> {
        let obj = Object::new();
        let inner = Rc::new_cyclic(|weak| Inner {
            obj,
            weak: weak.clone(),
            sig: Signals::new(&obj),
            st: RefCell::new(St {
                queue: VecDeque::new(),
                running: false,
                finishing: false,
                next_id: 1,
                host: host.to_owned(),
                port: if port == 0 { mode.default_port() } else { port },
                mode,
                proxy: None,
                user_socket: None,
                ssl_configuration: None,
                conn: None,
                next_conn_id: 1,
                state: State::Unconnected,
                error: HttpError::NoError,
                error_string: String::new(),
                last_response: HttpResponseHeader::default(),
                ex: None,
                body: VecDeque::new(),
                body_len: 0,
                read_buffer_size: 0,
                paused: false,
                server_auth: AuthState::default(),
                proxy_auth: AuthState::default(),
            }),
            to: RefCell::new(None),
            source: RefCell::new(None),
            gen: Cell::new(0),
        });
        // The object owns the state; the handle finds it again through `Object::data`.
        let _ = obj.set_data(inner.clone());
        inner
    }

    pub(super) fn alive(&self) -> bool {
        self.obj.is_alive()
    }

    /// Whether the running operation is still the one that was running at generation `gen`.
    pub(super) fn same(&self, gen: u64) -> bool {
        self.gen.get() == gen && self.alive()
    }

    fn bump(&self) -> u64 {
        self.gen.set(self.gen.get() + 1);
        self.gen.get()
    }

    pub(super) fn set_state(&self, state: State) {
        let changed = {
            let mut st = self.st.borrow_mut();
            std::mem::replace(&mut st.state, state) != state
        };
        if changed {
            self.sig.state_changed.emit(state);
        }
    }

    /// Schedules `op` and returns its id; the first operation of an empty queue starts on
    /// the next loop iteration (so that every signal can be connected first).
    pub(super) fn add(&self, op: Op) -> u32 {
        let (id, first) = {
            let mut st = self.st.borrow_mut();
            let id = st.next_id;
            st.next_id = st.next_id.checked_add(1).unwrap_or(1);
            st.queue.push_back(Pending { id, op });
            (id, st.queue.len() == 1)
        };
        if first {
            self.schedule_start();
        }
        id
    }

    fn schedule_start(&self) {
        let weak = self.weak.clone();
        self.obj.invoke_later(move || {
            if let Some(inner) = weak.upgrade() {
                inner.start_next();
            }
        });
    }

    /// Starts the operation at the head of the queue, unless one is running.
    fn start_next(&self) {
        let id = {
            let mut st = self.st.borrow_mut();
            if st.running {
                return;
            }
            let Some(head) = st.queue.front() else {
                return;
            };
            let id = head.id;
            st.running = true;
            st.error = HttpError::NoError;
            st.error_string.clear();
            id
        };
        let gen = self.bump();
        self.sig.request_started.emit(id);
        if !self.same(gen) {
            return;
        }
        let op = {
            let mut st = self.st.borrow_mut();
            let Some(head) = st.queue.front_mut() else {
                return;
            };
            // Take what the operation consumes, leave a request's header for
            // `current_request`.
            match &mut head.op {
                Op::Request { data, to, .. } => Op::Request {
                    header: HttpRequestHeader::default(),
                    data: data.take(),
                    to: to.take(),
                },
                Op::SetHost { host, port, mode } => Op::SetHost {
                    host: std::mem::take(host),
                    port: *port,
                    mode: *mode,
                },
                Op::SetUser(user) => Op::SetUser(user.take()),
                Op::SetProxy(proxy) => Op::SetProxy(proxy.take()),
                Op::SetSocket(socket) => Op::SetSocket(socket.take()),
                Op::Refuse(text) => Op::Refuse(text),
                Op::Close => Op::Close,
            }
        };
        match op {
            Op::SetHost { host, port, mode } => {
                {
                    let mut st = self.st.borrow_mut();
                    st.host = host;
                    st.port = if port == 0 { mode.default_port() } else { port };
                    st.mode = mode;
                }
                self.finish_ok();
            }
            Op::SetUser(creds) => {
                {
                    let mut st = self.st.borrow_mut();
                    st.server_auth = AuthState {
                        configured: creds,
                        ..AuthState::default()
                    };
                }
                self.finish_ok();
            }
            Op::SetProxy(proxy) => {
                {
                    let mut st = self.st.borrow_mut();
                    st.proxy_auth = AuthState {
                        configured: proxy.as_ref().and_then(|p| p.creds.clone()),
                        ..AuthState::default()
                    };
                    st.proxy = proxy;
                }
                self.finish_ok();
            }
            Op::SetSocket(socket) => {
                let old = {
                    let mut st = self.st.borrow_mut();
                    st.user_socket = socket;
                    st.conn.take()
                };
                if let Some(conn) = old {
                    conn.shut(false);
                    self.set_state(State::Unconnected);
                }
                if self.same(gen) {
                    self.finish_ok();
                }
            }
            Op::Refuse(text) => self.finish_error(HttpError::UnknownError, text),
            Op::Close => {
                self.close_connection(true);
                if self.same(gen) {
                    self.finish_ok();
                }
            }
            Op::Request { data, to, .. } => {
                *self.to.borrow_mut() = to;
                self.begin_request(data.unwrap_or(RequestData::Empty));
            }
        }
    }

    /// Drops the connection. `graceful`: flush and close, with `Closing` then `Unconnected`
    /// (Qt's close). Otherwise close at once, leaving the state to the caller.
    pub(super) fn close_connection(&self, graceful: bool) {
        let (conn, was_connected) = {
            let mut st = self.st.borrow_mut();
            let conn = st.conn.take();
            // Judged by this object's state, not the socket's: a peer that already closed
            // its side still gets Qt's Closing, Unconnected.
            let connected = matches!(st.state, State::Connected | State::Sending | State::Reading);
            let was_connected = connected && conn.is_some();
            (conn, was_connected)
        };
        if let Some(conn) = conn {
            conn.shut(graceful);
        }
        if graceful {
            let gen = self.gen.get();
            if was_connected {
                self.set_state(State::Closing);
                if !self.same(gen) {
                    return;
                }
            }
            self.set_state(State::Unconnected);
        }
    }

    /// Ends the running operation successfully: `request_finished(id, false)`, then
    /// `done(false)` if nothing else is scheduled, else the next operation starts.
    pub(super) fn finish_ok(&self) {
        let Some(id) = self.st.borrow().queue.front().map(|p| p.id) else {
            return;
        };
        self.st.borrow_mut().finishing = true;
        let gen = self.bump();
        self.sig.request_finished.emit((id, false));
        if !self.same(gen) {
            return;
        }
        let (finished, empty) = {
            let mut st = self.st.borrow_mut();
            st.running = false;
            st.finishing = false;
            let finished = st.queue.pop_front();
            (finished, st.queue.is_empty())
        };
        self.drop_devices();
        drop(finished);
        self.bump();
        if empty {
            self.sig.done.emit(false);
        } else {
            self.schedule_start();
        }
    }

    /// Ends the running operation with an error, as Qt does: `request_finished(id, true)`,
    /// every scheduled operation dropped without signals, `done(true)`, and the connection
    /// closed (`Unconnected`).
    pub(super) fn finish_error(&self, error: HttpError, message: impl Into<String>) {
        self.finish_with_error(error, message.into(), false)
    }

    /// [`Self::finish_error`]; `via_closing`: the connection is closed as Qt 4's
    /// `closeConn` does after an abort, `Closing` then `Unconnected`.
    fn finish_with_error(&self, error: HttpError, message: String, via_closing: bool) {
        if self.st.borrow().finishing {
            // Aborted from a `request_finished(id, false)` slot: that operation has already
            // succeeded; only what follows it is dropped.
            self.clear_pending();
            return;
        }
        let (id, conn) = {
            let mut st = self.st.borrow_mut();
            let Some(id) = st.queue.front().map(|p| p.id) else {
                return;
            };
            st.error = error;
            st.error_string = message;
            st.running = false;
            st.ex = None;
            st.paused = false;
            (id, st.conn.take())
        };
        let gen = self.bump();
        if let Some(conn) = conn {
            conn.shut(false);
        }
        self.sig.request_finished.emit((id, true));
        if !self.alive() {
            return;
        }
        let dropped: Vec<Pending> = {
            let mut st = self.st.borrow_mut();
            if self.gen.get() == gen {
                st.queue.drain(..).collect()
            } else {
                Vec::new()
            }
        };
        self.drop_devices();
        drop(dropped);
        self.sig.done.emit(true);
        if self.alive() && self.st.borrow().conn.is_none() {
            let state = self.st.borrow().state;
            if via_closing && !matches!(state, State::Closing | State::Unconnected) {
                self.set_state(State::Closing);
                if !self.alive() || self.st.borrow().conn.is_some() {
                    return;
                }
            }
            self.set_state(State::Unconnected);
        }
    }

    /// Drops the running request's devices (outside every borrow: their destructors run
    /// user code, such as a `BufWriter` flushing).
    fn drop_devices(&self) {
        let to = self.to.borrow_mut().take();
        let source = self.source.borrow_mut().take();
        drop((to, source));
    }

    /// Qt's `abort()`: the running operation finishes with `Aborted`, the others are
    /// dropped, `done(true)` follows.
    /// Qt 4's `abort()`: the running operation fails with `Aborted`, the rest is dropped,
    /// `done(true)`, then the connection closes through `Closing` (Qt's `closeConn`).
    pub(super) fn abort(&self) {
        if self.st.borrow().queue.is_empty() {
            return;
        }
        self.finish_with_error(HttpError::Aborted, "Request aborted".to_owned(), true);
    }

    /// Qt's `clearPendingRequests()`: drops every scheduled operation except the running
    /// one (or the one about to start).
    pub(super) fn clear_pending(&self) {
        let dropped: Vec<Pending> = {
            let mut st = self.st.borrow_mut();
            if st.queue.len() > 1 {
                st.queue.drain(1..).collect()
            } else {
                Vec::new()
            }
        };
        drop(dropped);
    }
}
