//! Setting a connection up: the socket (TCP, or TLS for https), the proxy tunnel, the TLS
//! handshake with Qt's `sslErrors`/`encrypted`, and what ALPN decides (HTTP/2 hands the socket
//! over to the HTTP/2 pool, together with the requests that waited for the answer).

use super::*;

impl H1Conn {
    /// Opens a connection to `key`'s host (through its route); jobs assigned before it
    /// connects wait for it.
    pub(crate) fn open(
        pool: Weak<dyn ConnPool>,
        key: PoolKey,
        tls: Option<SslConfiguration>,
        settings: Settings,
    ) -> Rc<H1Conn> {
        let tunnel = matches!(key.route, Route::Tunnel(_));
        let offers_h2 = tls.as_ref().is_some_and(|c| {
            c.allowed_next_protocols()
                .iter()
                .any(|p| p.as_slice() == b"h2")
        });
        let socket = match &tls {
            Some(config) if !tunnel => {
                let s = SslSocket::new();
                s.set_ssl_configuration(config.clone());
                Socket::Ssl(s)
            }
            _ => Socket::Tcp(TcpSocket::new()),
        };
        socket.io().set_read_buffer_size(settings.h1_read_buffer);
        let conn = Rc::new_cyclic(|me| H1Conn {
            me: me.clone(),
            id: next_connection_id(),
            pool,
            key: key.clone(),
            settings,
            socket: Cell::new(socket),
            connector: Cell::new(None),
            tunnel_tls: RefCell::new(if tunnel { tls } else { None }),
            handed_over: Cell::new(false),
            offers_h2,
            tls: RefCell::new(None),
            riders: RefCell::new(VecDeque::new()),
            state: Cell::new(ConnState::Connecting),
            job: RefCell::new(None),
            decoder: RefCell::new(raw_field_decoder()),
            rbuf: RefCell::new(BytesMut::with_capacity(16 * 1024)),
            held: RefCell::new(None),
            upload: RefCell::new(Upload::default()),
            exchanges: Cell::new(0),
            response_started: Cell::new(false),
            body_action: Cell::new(BodyDecision::Deliver),
            cut_short: Cell::new(false),
            idle_timer: RefCell::new(None),
            processing: Cell::new(false),
            pipeline: RefCell::new(VecDeque::new()),
            pipelining_ok: Cell::new(false),
            http11: Cell::new(false),
            current_pipelined: Cell::new(false),
            discarding: Cell::new(false),
        });
        match (&key.route, socket) {
            (Route::Tunnel(proxy), Socket::Tcp(tcp)) => conn.open_tunnel(tcp, proxy),
            (Route::Forward(proxy), _) => {
                conn.wire(socket);
                socket.io_connect(proxy.host_name(), proxy.port());
            }
            _ => {
                conn.wire(socket);
                socket.io_connect(&key.host, key.port);
            }
        }
        conn
    }

    /// Connects the connection to the socket's signals.
    fn wire(&self, socket: Socket) {
        let weak = self.me.clone();
        let w = weak.clone();
        match socket {
            // TLS: the request goes out once the handshake is done.
            Socket::Ssl(ssl) => {
                ssl.encrypted().connect(move |_| {
                    if let Some(c) = w.upgrade() {
                        c.on_encrypted();
                    }
                });
                let w = weak.clone();
                ssl.ssl_errors().connect(move |errors| {
                    if let Some(c) = w.upgrade() {
                        c.on_ssl_errors(errors);
                    }
                });
            }
            Socket::Tcp(tcp) => {
                tcp.connected().connect(move |_| {
                    if let Some(c) = w.upgrade() {
                        c.on_connected();
                    }
                });
            }
        }
        let io = socket.io();
        let w = weak.clone();
        io.ready_read().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.process();
            }
        });
        let w = weak.clone();
        io.bytes_written().connect(move |n| {
            if let Some(c) = w.upgrade() {
                c.on_bytes_written(*n);
            }
        });
        let w = weak.clone();
        io.read_channel_finished().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.on_eof();
            }
        });
        let w = weak.clone();
        io.disconnected().connect(move |_| {
            if let Some(c) = w.upgrade() {
                c.on_eof();
            }
        });
        let w = weak;
        io.error_occurred().connect(move |e| {
            if let Some(c) = w.upgrade() {
                c.on_error(*e);
            }
        });
    }

    /// Starts a CONNECT or SOCKS5 tunnel to the target; the socket is wired (and TLS
    /// started for https) once it is up.
    fn open_tunnel(&self, tcp: TcpSocket, proxy: &NetworkProxy) {
        let connector = ProxiedConnector::new();
        connector.set_protocol_tag(&self.key.scheme);
        let weak = self.me.clone();
        connector.connected().connect(move |_| {
            if let Some(c) = weak.upgrade() {
                c.on_tunnel_up(tcp);
            }
        });
        let weak = self.me.clone();
        connector.error_occurred().connect(move |e| {
            if let Some(c) = weak.upgrade() {
                c.on_tunnel_failed(*e);
            }
        });
        let weak = self.me.clone();
        connector
            .proxy_authentication_required()
            .connect(move |(proxy, auth)| {
                // Qt asks through the manager's proxyAuthenticationRequired.
                let Some(c) = weak.upgrade() else {
                    return;
                };
                let Some(job) = c.current_job() else {
                    return;
                };
                let realm = auth.borrow().realm().to_owned();
                if let Some(answer) = job.ask_proxy_credentials(proxy, &realm) {
                    let mut auth = auth.borrow_mut();
                    auth.set_user(answer.user());
                    auth.set_password(answer.password());
                }
            });
        self.connector.set(Some(connector));
        connector.connect_to_host(tcp, proxy.clone(), &self.key.host, self.key.port);
    }

    /// The tunnel carries the target's stream: speak HTTP over it, or TLS first.
    fn on_tunnel_up(&self, tcp: TcpSocket) {
        if let Some(connector) = self.connector.take() {
            connector.delete_later();
        }
        if self.state.get() != ConnState::Connecting {
            return;
        }
        let tls = self.tunnel_tls.borrow_mut().take();
        match tls {
            Some(mut config) => {
                if config.peer_verify_name().is_empty() {
                    config.set_peer_verify_name(&self.key.host);
                }
                let ssl = SslSocket::from_tcp_socket(tcp);
                ssl.set_ssl_configuration(config);
                ssl.set_read_buffer_size(self.settings.h1_read_buffer);
                let socket = Socket::Ssl(ssl);
                self.socket.set(socket);
                self.wire(socket);
                ssl.start_client_encryption();
            }
            None => {
                self.wire(Socket::Tcp(tcp));
                self.on_connected();
            }
        }
    }

    fn on_tunnel_failed(&self, error: SocketError) {
        let mut message = String::new();
        if let Some(connector) = self.connector.take() {
            message = connector.error_string();
            connector.delete_later();
        }
        if self.state.get() == ConnState::Closed {
            return;
        }
        if message.is_empty() {
            message = format!("{error:?}");
        }
        let code = network_error_for(error);
        let message = crate::error::transport_error_string(code, &self.key.host, &message);
        self.fail_and_close(code, message);
    }

    /// TLS is up: tell the reply (Qt's `encrypted`), then send, or hand the connection to
    /// HTTP/2 when ALPN chose h2.
    fn on_encrypted(&self) {
        let Socket::Ssl(ssl) = self.socket.get() else {
            return;
        };
        let tls = ConnectionTls::of(&ssl, self.id);
        *self.tls.borrow_mut() = Some(tls.clone());
        if let Some(job) = self.current_job() {
            // Readable from the `encrypted` slots on, as in Qt.
            job.encrypted(&tls);
        }
        let h2 = tls.configuration.negotiated_protocol() == Some(b"h2".as_slice());
        if h2 && self.state.get() == ConnState::Connecting {
            if let (Some(pool), Some(me)) = (self.pool.upgrade(), self.me.upgrade()) {
                let job = self.detach_job();
                let riders = self.riders.take();
                self.handed_over.set(true);
                self.state.set(ConnState::Closed);
                pool.forget(&me);
                pool.adopt_h2(&self.key, ssl, tls, job, riders);
                return;
            }
        }
        // HTTP/1.1 after all: the jobs that waited for the ALPN result go back to the pool,
        // which opens the host's other connections for them on its next dispatch.
        self.return_riders();
        self.on_connected();
    }

    /// Gives the jobs waiting for the ALPN result back to the pool, at the head of the queue
    /// in their order.
    pub(super) fn return_riders(&self) {
        let riders = self.riders.take();
        if riders.is_empty() {
            return;
        }
        let Some(pool) = self.pool.upgrade() else {
            for job in riders {
                job.fail(
                    NetworkError::OperationCanceledError,
                    "The network access manager was deleted".into(),
                );
            }
            return;
        };
        // Pushed to the front one by one: the last first keeps their order.
        for job in riders.into_iter().rev() {
            if !job.is_done() {
                pool.requeue_front(job);
            }
        }
    }

    /// The jobs that would use this connection: the current one and those waiting for the
    /// ALPN result, aborted ones left out.
    fn live_jobs(&self) -> Vec<Rc<dyn Exchange>> {
        self.job
            .borrow()
            .iter()
            .chain(self.riders.borrow().iter())
            .filter(|j| !j.is_done())
            .cloned()
            .collect()
    }

    /// Certificate problems found during the handshake: each job that would use the
    /// connection (the current one and those waiting for its ALPN result, as each request
    /// queued on Qt's HTTP/2 channel) decides for itself: accepted in advance, or shown
    /// `sslErrors` (reply and manager) and accepted if its slot calls `ignore_ssl_errors()`.
    /// The handshake goes on if one of them accepts; those that refused end with
    /// `SslHandshakeFailedError` whatever the others decided, and never ride the connection.
    fn on_ssl_errors(&self, errors: &[SslError]) {
        let Socket::Ssl(ssl) = self.socket.get() else {
            return;
        };
        let mut accepted = false;
        let mut refused = Vec::new();
        // A snapshot: the slots may abort replies or make new requests.
        for job in self.live_jobs() {
            if job.is_done() {
                continue; // aborted by an earlier slot
            }
            if job.consents_to_ssl_errors(self.id, errors) {
                accepted = true;
            } else if !job.is_done() {
                refused.push(job);
            }
        }
        if !accepted {
            // The handshake fails, and with it every job of the connection.
            return;
        }
        ssl.ignore_ssl_errors();
        if refused.is_empty() {
            return;
        }
        let is_refused = |job: &Rc<dyn Exchange>| refused.iter().any(|r| Rc::ptr_eq(r, job));
        self.riders.borrow_mut().retain(|job| !is_refused(job));
        let current_refused = self.job.borrow().as_ref().is_some_and(is_refused);
        if current_refused {
            // Nothing was sent yet: a job that accepted takes its place.
            self.detach_job();
            self.promote_rider();
        }
        // Failed from the loop, not from inside the handshake.
        for job in refused {
            let failing = job.clone();
            job.later(Box::new(move || {
                failing.fail(
                    NetworkError::SslHandshakeFailedError,
                    REFUSED_CERTIFICATE.to_owned(),
                );
            }));
        }
    }
}
