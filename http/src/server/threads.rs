//! [`ServerThreads`]: one server program served by N threads, each running its own loop.
//!
//! Every thread builds its own server with the program's factory (routes, hooks, verifiers
//! and configuration are written once, in the factory) and serves its share of the
//! connections from start to end: a connection never changes threads, so nothing of the
//! per-connection machinery is shared or locked. How connections reach the threads is
//! [`ConnectionSpread`].

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slotnet_core::{EventLoop, LoopHandle};
use slotnet_net::ssl::SslConfiguration;
use slotnet_net::{
    reuse_port_listener, LocalServer, SocketDescriptor, SslServer, TcpServer, TcpSocket,
    REUSE_PORT_BALANCES,
};

use super::abstract_server::AbstractHttpServer;
use super::request::ConnectionInfo;

/// Where the servers of a [`ServerThreads`] listen.
#[derive(Debug, Clone)]
pub enum Listen {
    /// Plain TCP on this address (port 0 picks a free port, the same for every thread).
    Tcp(SocketAddr),
    /// TLS on this address with this configuration (ALPN `h2` and `http/1.1` are offered
    /// when the configuration names no protocols, as [`AbstractHttpServer::bind_ssl`] does).
    Ssl(SocketAddr, SslConfiguration),
    /// A Unix domain socket at this path, served by the first thread only (the kernel does
    /// not spread a local socket's connections over several listeners).
    Local(String),
}

/// How the connections of a [`ServerThreads`] reach its threads.
///
/// Measured on a shared 2-core machine (docs/benchmarks.md, "Server on N loops"; `slotnet-serve
/// --spread`): with keep-alive clients and with a new connection per request the two were
/// within the machine's noise. `ReusePort` is the default where the kernel balances it
/// (Linux, Android): it costs no hand-off, while `Acceptor` pays a cross-thread post and a
/// wake-up per connection and its thread accepts for all, and it is what nginx's
/// `listen ... reuseport` and hyper-based servers that open one listener per core do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionSpread {
    /// One listening socket per thread on the same port (`SO_REUSEPORT`): the kernel picks
    /// a thread for each connection by a hash of its addresses. No hand-off between
    /// threads; the spread is statistical (a thread may get a few more connections), and
    /// a busy thread's listener keeps getting its share. The default where available.
    #[default]
    ReusePort,
    /// One listening socket on the first thread, which accepts every connection and hands
    /// it to the threads in turn (round robin, itself included): an even spread, at the
    /// cost of a cross-thread post per connection. Plain TCP only (TLS listeners are refused
    /// with `Unsupported`: the handshake would run on the acceptor). The choice where
    /// `SO_REUSEPORT` does not balance ([`slotnet_net::REUSE_PORT_BALANCES`] is false).
    Acceptor,
}

impl ConnectionSpread {
    /// [`ReusePort`](Self::ReusePort) where the kernel balances it, else
    /// [`Acceptor`](Self::Acceptor).
    pub fn platform_default() -> ConnectionSpread {
        if REUSE_PORT_BALANCES {
            ConnectionSpread::ReusePort
        } else {
            ConnectionSpread::Acceptor
        }
    }
}

/// Builds one thread's server: called once on each thread, on that thread's loop.
type Factory = dyn Fn() -> AbstractHttpServer + Send + Sync;

thread_local! {
    /// The server of this thread, if it is one of a [`ServerThreads`]'.
    static LOOP_SERVER: Cell<Option<(usize, AbstractHttpServer)>> = const { Cell::new(None) };
}

/// Loops still running, and a condition to wait on them.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    changed: Condvar,
}

/// Counts its thread out when dropped: also when a handler panicked and unwound the thread.
struct RunningGuard(Arc<Running>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut count = self
            .0
            .count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *count -= 1;
        self.0.changed.notify_all();
    }
}

/// A listening socket on its way to the thread that will serve it.
enum LoopListener {
    Tcp(std::net::TcpListener),
    Ssl(std::net::TcpListener, SslConfiguration),
    Local(String),
    /// Accepts for every thread ([`ConnectionSpread::Acceptor`]).
    Acceptor(std::net::TcpListener),
}

/// An HTTP server served by several threads, each with its own event loop, from one
/// program: the way to use more than one core.
///
/// `factory` builds the server of each thread, on that thread: an [`HttpServer`] with its
/// routes, hooks, WebSocket verifiers and configuration, or any [`AbstractHttpServer`].
/// Handlers therefore need not be `Send` or `Sync` (they may hold `Rc`s, timers and other
/// objects of their thread, and answer later from that thread's loop); what they share
/// across threads they share through what the factory captures (`Arc`s, atomics), the way
/// actix-web's per-worker `App` factory works. The factory itself is `Fn + Send + Sync`.
/// Every limit of [`HttpServerConfiguration`](super::HttpServerConfiguration) applies per
/// thread (`max_connections` is per thread, for instance).
///
/// The listeners are opened before this returns (errors such as an address in use come
/// back here), and connections are spread over the threads as `spread` says. Each
/// connection stays on the thread that took it, with all its requests, its HTTP/2 streams
/// or its WebSocket.
///
/// [`shutdown`](Self::shutdown) is the graceful stop of every thread's server (no new
/// connection, answers in flight finished); [`wait`](Self::wait) waits for the threads to
/// end; [`abort`](Self::abort) (also done on drop) closes everything at once.
///
/// [`HttpServer`]: super::HttpServer
///
/// ```
/// use http::{Method, StatusCode};
/// use slotnet_http::server::{
///     ConnectionSpread, HttpServer, HttpServerRequest, HttpServerResponder, Listen, ServerThreads,
/// };
/// use std::io::{Read, Write};
///
/// let threads = ServerThreads::start(
///     2,
///     &[Listen::Tcp("127.0.0.1:0".parse().unwrap())],
///     ConnectionSpread::platform_default(),
///     || {
///         let server = HttpServer::new();
///         server
///             .route("/", Method::GET, |_: &HttpServerRequest, resp: HttpServerResponder| {
///                 resp.write_data(StatusCode::OK, "text/plain", "hello");
///             })
///             .expect("valid route");
///         server
///     },
/// )
/// .unwrap();
/// let addr = threads.local_addrs()[0].unwrap();
/// let mut s = std::net::TcpStream::connect(addr).unwrap();
/// s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
/// let mut answer = String::new();
/// s.read_to_string(&mut answer).unwrap();
/// assert!(answer.ends_with("\r\n\r\nhello"));
/// threads.shutdown();
/// assert!(threads.wait(None));
/// ```
pub struct ServerThreads {
    loops: Vec<LoopHandle>,
    joins: Vec<JoinHandle<()>>,
    addrs: Vec<Option<SocketAddr>>,
    running: Arc<Running>,
}

impl std::fmt::Debug for ServerThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerThreads")
            .field("threads", &self.loops.len())
            .field("addrs", &self.addrs)
            .finish()
    }
}

impl ServerThreads {
    /// Starts `threads` threads (0: one per core, as `std::thread::available_parallelism`
    /// says), each serving `listeners` with a server built by `factory` on it. Fails when a
    /// listener cannot be opened (the threads started are stopped again), when `spread` is
    /// not available here, or when a server refuses a listener.
    pub fn start<F, S>(
        threads: usize,
        listeners: &[Listen],
        spread: ConnectionSpread,
        factory: F,
    ) -> io::Result<ServerThreads>
    where
        F: Fn() -> S + Send + Sync + 'static,
        S: Into<AbstractHttpServer>,
    {
        let n = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (per_loop, addrs) = open_listeners(n, listeners, spread)?;
        let running = Arc::new(Running {
            count: Mutex::new(n),
            changed: Condvar::new(),
        });
        let mut me = ServerThreads {
            loops: Vec::with_capacity(n),
            joins: Vec::with_capacity(n),
            addrs,
            running: running.clone(),
        };
        for i in 0..n {
            let (tx, rx) = std::sync::mpsc::channel();
            let guard = RunningGuard(running.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("slotnet-server-{i}"))
                .spawn(move || {
                    let _guard = guard;
                    let lp = EventLoop::current();
                    if tx.send(lp.handle()).is_err() {
                        return;
                    }
                    lp.exec();
                    // Whatever is left (a forced stop) closes with its server.
                    if let Some((_, server)) = LOOP_SERVER.take() {
                        server.destroy();
                    }
                });
            let join = match spawned {
                Ok(join) => join,
                Err(e) => {
                    // The threads never started count themselves out through their guards.
                    *running
                        .count
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) -= n - i - 1;
                    return Err(e);
                }
            };
            me.joins.push(join);
            match rx.recv() {
                Ok(handle) => me.loops.push(handle),
                Err(_) => return Err(io::Error::other("a server thread ended at start")),
            }
        }
        let factory: Arc<Factory> = Arc::new(move || factory().into());
        for (i, listeners) in per_loop.into_iter().enumerate() {
            let factory = factory.clone();
            let peers = me.loops.clone();
            let set_up = me.loops[i]
                .invoke_blocking(move || set_up_loop(i, &*factory, listeners, peers))
                .map_err(|_| io::Error::other("a server thread ended at start"))?;
            set_up?;
        }
        Ok(me)
    }

    /// How many threads serve.
    pub fn thread_count(&self) -> usize {
        self.loops.len()
    }

    /// The address each listener of [`start`](Self::start) got, in its order (the port
    /// chosen for port 0); `None` for a Unix domain socket.
    pub fn local_addrs(&self) -> &[Option<SocketAddr>] {
        &self.addrs
    }

    /// The index of the calling thread among the threads of its `ServerThreads` (0 for the
    /// first), or `None` on any other thread: for logs, or per-thread state in handlers.
    pub fn current_thread_index() -> Option<usize> {
        LOOP_SERVER.get().map(|(i, _)| i)
    }

    /// Runs `f` with each thread's server, on that thread, and returns what each returned
    /// (in thread order; a thread that has ended is left out): to read
    /// [`connection_count`](AbstractHttpServer::connection_count) or change a setting
    /// everywhere. Blocks until every thread ran it.
    pub fn run_on_each<F, R>(&self, f: F) -> Vec<R>
    where
        F: Fn(&AbstractHttpServer) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        self.loops
            .iter()
            .filter_map(|handle| {
                let f = f.clone();
                handle
                    .invoke_blocking(move || LOOP_SERVER.get().map(|(_, server)| f(&server)))
                    .ok()
                    .flatten()
            })
            .collect()
    }

    /// Graceful stop of every thread's server
    /// ([`AbstractHttpServer::shutdown`]): listeners close, no new request is read,
    /// answers owed are finished; each thread ends once its last connection closed.
    /// Returns at once; [`wait`](Self::wait) for the end.
    pub fn shutdown(&self) {
        for handle in &self.loops {
            let _ = handle.post(|| match LOOP_SERVER.get() {
                Some((_, server)) => {
                    server
                        .shutdown_finished()
                        .connect(|_| EventLoop::current().quit());
                    server.shutdown();
                }
                None => EventLoop::current().quit(),
            });
        }
    }

    /// Stops every thread now: connections are closed without finishing their answers.
    pub fn abort(&self) {
        for handle in &self.loops {
            let _ = handle.quit();
        }
    }

    /// Waits until every thread has ended (after [`shutdown`](Self::shutdown) or
    /// [`abort`](Self::abort)), at most `timeout` (`None`: as long as it takes). Returns
    /// whether they all ended.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| slotnet_core::deadline_after(Instant::now(), t));
        let mut count = self
            .running
            .count
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while *count > 0 {
            count = match deadline {
                None => self
                    .running
                    .changed
                    .wait(count)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.running
                        .changed
                        .wait_timeout(count, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
        true
    }
}

impl Drop for ServerThreads {
    fn drop(&mut self) {
        self.abort();
        for join in self.joins.drain(..) {
            let _ = join.join();
        }
    }
}

/// Opens every listener before any thread serves: one per thread and listener
/// (`ReusePort`), or one per listener on the first thread (`Acceptor`). Returns each
/// thread's listeners and the address of each listener.
#[allow(clippy::type_complexity)]
fn open_listeners(
    n: usize,
    listeners: &[Listen],
    spread: ConnectionSpread,
) -> io::Result<(Vec<Vec<LoopListener>>, Vec<Option<SocketAddr>>)> {
    let mut per_loop: Vec<Vec<LoopListener>> = (0..n).map(|_| Vec::new()).collect();
    let mut addrs = Vec::with_capacity(listeners.len());
    for listen in listeners {
        match (listen, spread) {
            (Listen::Local(path), _) => {
                per_loop[0].push(LoopListener::Local(path.clone()));
                addrs.push(None);
            }
            (Listen::Ssl(..), ConnectionSpread::Acceptor) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "TLS listeners need ConnectionSpread::ReusePort",
                ));
            }
            (Listen::Tcp(addr), ConnectionSpread::Acceptor) => {
                let listener = std::net::TcpListener::bind(addr)?;
                addrs.push(Some(listener.local_addr()?));
                per_loop[0].push(LoopListener::Acceptor(listener));
            }
            (Listen::Tcp(addr) | Listen::Ssl(addr, _), ConnectionSpread::ReusePort) => {
                let first = reuse_port_listener(*addr)?;
                let bound = first.local_addr()?;
                addrs.push(Some(bound));
                let mut sockets = vec![first];
                for _ in 1..n {
                    sockets.push(reuse_port_listener(bound)?);
                }
                for (i, socket) in sockets.into_iter().enumerate() {
                    per_loop[i].push(match listen {
                        Listen::Ssl(_, config) => LoopListener::Ssl(socket, config.clone()),
                        _ => LoopListener::Tcp(socket),
                    });
                }
            }
        }
    }
    Ok((per_loop, addrs))
}

/// Builds thread `index`'s server and binds its listeners, on its loop.
fn set_up_loop(
    index: usize,
    factory: &Factory,
    listeners: Vec<LoopListener>,
    peers: Vec<LoopHandle>,
) -> io::Result<()> {
    let server = factory();
    LOOP_SERVER.set(Some((index, server)));
    let refused = |what: &str, why: String| io::Error::other(format!("{what}: {why}"));
    for listener in listeners {
        match listener {
            LoopListener::Tcp(socket) => {
                let tcp = TcpServer::with_parent(&server);
                tcp.listen_on(socket)?;
                if !server.bind(&tcp) {
                    return Err(refused("bind", tcp.error_string()));
                }
            }
            LoopListener::Ssl(socket, config) => {
                let ssl = SslServer::with_parent(&server);
                ssl.set_ssl_configuration(config);
                ssl.listen_on(socket)?;
                if !server.bind_ssl(&ssl) {
                    return Err(refused("bind_ssl", ssl.error_string()));
                }
            }
            LoopListener::Local(path) => {
                let local = LocalServer::with_parent(&server);
                if !local.listen(&path) || !server.bind_local(&local) {
                    return Err(refused(&path, local.error_string()));
                }
            }
            LoopListener::Acceptor(socket) => {
                let tcp = TcpServer::with_parent(&server);
                tcp.listen_on(socket)?;
                let peers = peers.clone();
                let next = Cell::new(0usize);
                tcp.set_incoming_connection_handler(move |descriptor| {
                    let to = next.get();
                    next.set((to + 1) % peers.len());
                    if to == index {
                        serve_descriptor(&descriptor);
                    } else {
                        // Fails when that thread has ended: the dropped descriptor closes
                        // the connection.
                        let _ = peers[to].post(move || serve_descriptor(&descriptor));
                    }
                });
                // Binding makes the server close it on shutdown (nothing becomes pending).
                if !server.bind(&tcp) {
                    return Err(refused("bind", tcp.error_string()));
                }
            }
        }
    }
    Ok(())
}

/// Serves a connection handed over by the acceptor on this thread's server.
fn serve_descriptor(descriptor: &SocketDescriptor) {
    let Some((_, server)) = LOOP_SERVER.get() else {
        return;
    };
    // Fails only if taken already; dropping the descriptor closes the connection.
    if let Ok(socket) = TcpSocket::from_descriptor(descriptor) {
        let info = ConnectionInfo {
            remote: socket.peer_socket_addr(),
            local: socket.local_socket_addr(),
            secure: false,
        };
        server.add_connection(socket, info);
    }
}
