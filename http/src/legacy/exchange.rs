//! One request on the wire: connecting, building the head, and the socket events that drive
//! the sans-IO [`ClientExchange`] (which encodes the request, accounts what the socket
//! wrote, decodes the response and decides keep-alive and the stale keep-alive resend),
//! turned into `Http`'s signals.

use std::io::{ErrorKind, Write};

use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, HOST, PROXY_AUTHORIZATION};
use http::{HeaderName, HeaderValue, Method, Version};
use slotnet_core::{Connection, Signal};
use slotnet_net::proxy::{NetworkProxy, ProxiedConnector, ProxyType};
use slotnet_net::{SocketError, SocketState, SslSocket, TcpSocket};

use crate::auth::AuthError;
use crate::auth::Authenticator;
use crate::h1::{
    BodyLength, ClientExchange, ExchangeError, H1Error, RequestHead, ResponseDecoder,
    ResponseEvent, ResponseHead,
};

use super::auth::Challenge;
use super::data::RequestData;
use super::engine::{Inner, Op, St};
use super::header::{HttpRequestHeader, HttpResponseHeader};
use super::transport::{Conn, ConnKey, Sock};
use super::types::{ConnectionMode, HttpError, State};

/// Read buffer limit of the sockets created here: past it they stop reading from the
/// kernel until the response decoder has taken the bytes.
const SOCKET_READ_BUFFER: usize = 64 * 1024;
/// A source device is read while fewer bytes than this wait in the socket's write buffer.
const UPLOAD_HIGH_WATER: usize = 64 * 1024;
/// How much is read from a source device at a time.
const UPLOAD_CHUNK: usize = 16 * 1024;
/// Most times one request is sent again after 401/407 answers.
pub(super) const MAX_AUTH_ATTEMPTS: u32 = 8;

/// Where the request is in its exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the connection (and TLS handshake).
    Connecting,
    /// Head and body are being written.
    Sending,
    /// The response is being read.
    Reading,
}

/// The transfer state of the running request: what `Http` adds around the sans-IO
/// [`ClientExchange`] of its current attempt (which encodes the request, accounts what the
/// socket wrote, decodes the response and decides keep-alive and the stale resend).
pub(super) struct Exchange {
    pub(super) header: HttpRequestHeader,
    method: Method,
    /// An in-memory body (empty when there is none or it comes from a source device).
    body: Bytes,
    pub(super) has_source: bool,
    pub(super) has_destination: bool,
    pub(super) phase: Phase,
    /// The current attempt on the wire (replaced by every send).
    wire: ClientExchange,
    /// `data_send_progress`'s total: the request's size on the wire, 0 when chunked.
    send_total: u64,
    rbuf: BytesMut,
    pub(super) response: Option<HttpResponseHeader>,
    read_done: u64,
    read_total: u64,
    unreported: bool,
    /// The response is a 401/407 answered by sending the request again: its body is
    /// dropped and it is not reported.
    discard: bool,
    retry: bool,
    pub(super) attempts: u32,
    pub(super) sent_server_creds: Option<Authenticator>,
    pub(super) sent_proxy_creds: Option<Authenticator>,
    pub(super) tried_configured_server: bool,
    pub(super) tried_configured_proxy: bool,
    /// The request was already sent again after a stale keep-alive connection.
    stale_retried: bool,
    /// The connection closed under the response; what is buffered is decoded to the end.
    eof: bool,
}

impl Exchange {
    fn new(header: HttpRequestHeader, method: Method, data: &RequestData, dest: bool) -> Self {
        Exchange {
            header,
            wire: ClientExchange::with_decoder(decoder(&method), false, false),
            method,
            body: match data {
                RequestData::Bytes(b) => b.clone(),
                _ => Bytes::new(),
            },
            has_source: matches!(data, RequestData::Device(_)),
            has_destination: dest,
            phase: Phase::Connecting,
            send_total: 0,
            rbuf: BytesMut::new(),
            response: None,
            read_done: 0,
            read_total: 0,
            unreported: false,
            discard: false,
            retry: false,
            attempts: 0,
            sent_server_creds: None,
            sent_proxy_creds: None,
            tried_configured_server: false,
            tried_configured_proxy: false,
            stale_retried: false,
            eof: false,
        }
    }
}

/// What to do when the connection closes.
enum OnClose {
    /// Nothing: it is still being set up, or already closed under the response.
    Nothing,
    /// No request runs: forget the connection.
    Idle,
    /// Decode the rest of the response (now, or once the application made room).
    Eof { paused: bool },
}

/// A response decoder for `method` that keeps the fields as received only (the response
/// header is built from them, with the names' case).
fn decoder(method: &Method) -> ResponseDecoder {
    let mut decoder = ResponseDecoder::new(method);
    decoder.set_header_map(false);
    decoder
}

/// `host` or `host:port` (port left out when it is the mode's default), IPv6 in brackets.
fn host_field(host: &str, port: u16, mode: ConnectionMode) -> String {
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port == mode.default_port() {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Maps bytes to chars one to one (Latin-1), as Qt reads header values.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// The error a response that could not be read is reported with (Qt 4's codes and texts).
fn read_error(error: &ExchangeError) -> (HttpError, &'static str) {
    const CLOSED: (HttpError, &str) =
        (HttpError::UnexpectedClose, "Connection closed unexpectedly");
    match error {
        ExchangeError::Resend | ExchangeError::ClosedBeforeResponse => CLOSED,
        ExchangeError::Truncated(H1Error::IncompleteHead) => CLOSED,
        ExchangeError::Truncated(_) | ExchangeError::Malformed(H1Error::BodyTooLarge) => {
            (HttpError::WrongContentLength, "Wrong content length")
        }
        ExchangeError::Malformed(
            H1Error::InvalidChunkSize
            | H1Error::ChunkSizeOverflow
            | H1Error::ChunkLineTooLong
            | H1Error::InvalidChunkTerminator
            | H1Error::InvalidTrailer,
        ) => (HttpError::WrongContentLength, "Invalid HTTP chunked body"),
        ExchangeError::Malformed(_) => (
            HttpError::InvalidResponseHeader,
            "Invalid HTTP response header",
        ),
    }
}

/// Why a request could not be put on the wire: no server to send it to, or no head to be
/// built from the `HttpRequestHeader` and the credentials (reported as `UnknownError` with
/// this text).
#[derive(Debug)]
pub(super) enum SendError {
    /// No host was set (`set_host`).
    NoServer,
    /// No request is running.
    NoRequest,
    /// The host name cannot be a `Host` field value.
    InvalidHost,
    /// A field name of the header is not a valid HTTP token.
    InvalidFieldName(String),
    /// A field value of the header has bytes HTTP does not allow (CR, LF, NUL).
    InvalidFieldValue(HeaderName),
    /// The credentials for the challenge could not be computed.
    Credentials(AuthError),
    /// The computed credentials are not a valid field value.
    InvalidCredentials,
}

impl From<AuthError> for SendError {
    fn from(error: AuthError) -> Self {
        SendError::Credentials(error)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NoServer => f.write_str("No server set to connect to"),
            SendError::NoRequest => f.write_str("no request"),
            SendError::InvalidHost => f.write_str("Invalid host name"),
            SendError::InvalidFieldName(name) => write!(f, "Invalid header field name {name:?}"),
            SendError::InvalidFieldValue(name) => {
                write!(f, "Invalid value of header field {name}")
            }
            SendError::Credentials(error) => error.fmt(f),
            SendError::InvalidCredentials => f.write_str("Invalid credentials"),
        }
    }
}

impl Inner {
    fn link<A: 'static>(&self, signal: Signal<A>, f: impl Fn(&Inner, &A) + 'static) -> Connection {
        let weak = self.weak.clone();
        signal.connect_with(&self.obj, move |args| {
            if let Some(inner) = weak.upgrade() {
                f(&inner, args)
            }
        })
    }

    fn is_conn(&self, id: u64) -> bool {
        self.st.borrow().conn.as_ref().is_some_and(|c| c.id == id)
    }

    fn conn_sock(&self) -> Option<Sock> {
        self.st.borrow().conn.as_ref().map(|c| c.sock)
    }

    /// Starts the request at the head of the queue.
    pub(super) fn begin_request(&self, data: RequestData) {
        let header = match self.st.borrow().queue.front().map(|p| &p.op) {
            Some(Op::Request { header, .. }) => header.clone(),
            _ => return,
        };
        let Ok(method) = Method::from_bytes(header.method().as_bytes()) else {
            return self.finish_error(HttpError::UnknownError, "Invalid request method");
        };
        let has_destination = self.to.borrow().is_some();
        let exchange = Exchange::new(header, method, &data, has_destination);
        if let RequestData::Device(reader) = data {
            *self.source.borrow_mut() = Some(reader);
        }
        let key = {
            let mut st = self.st.borrow_mut();
            st.body.clear();
            st.body_len = 0;
            st.paused = false;
            st.ex = Some(exchange);
            target(&st)
        };
        match key {
            Ok(key) => self.connect_and_send(key),
            Err(error) => self.finish_error(HttpError::UnknownError, error.to_string()),
        }
    }

    /// Sends on the open connection if it goes to `key`, else opens a new one.
    fn connect_and_send(&self, key: ConnKey) {
        let (reuse, old) = {
            let mut st = self.st.borrow_mut();
            let reuse = st
                .conn
                .as_ref()
                .is_some_and(|c| c.key == key && c.sock.is_ready());
            let old = if reuse { None } else { st.conn.take() };
            (reuse, old)
        };
        if reuse {
            return self.send_request();
        }
        if let Some(old) = old {
            old.shut(false);
        }
        self.open_connection(key);
    }

    fn open_connection(&self, key: ConnKey) {
        if key.tunnel.is_some() {
            return self.open_tunnel(key);
        }
        let user_socket = self.st.borrow().user_socket;
        let (sock, owned) = if key.tls {
            if user_socket.is_some() {
                return self.finish_error(
                    HttpError::UnknownError,
                    "The socket given to set_socket cannot carry HTTPS",
                );
            }
            let socket = SslSocket::with_parent(&self.obj);
            self.configure_tls(socket);
            socket.set_read_buffer_size(SOCKET_READ_BUFFER);
            (Sock::Ssl(socket), true)
        } else if let Some(socket) = user_socket {
            if socket.state() != SocketState::Unconnected {
                socket.abort();
            }
            (Sock::Tcp(socket), false)
        } else {
            let socket = TcpSocket::with_parent(&self.obj);
            socket.set_read_buffer_size(SOCKET_READ_BUFFER);
            (Sock::Tcp(socket), true)
        };
        let id = {
            let mut st = self.st.borrow_mut();
            st.next_conn_id += 1;
            st.next_conn_id
        };
        let links = self.wire(sock, id);
        {
            let mut st = self.st.borrow_mut();
            if let Some(ex) = st.ex.as_mut() {
                ex.phase = Phase::Connecting;
            }
            st.conn = Some(Conn {
                id,
                sock,
                owned,
                key: key.clone(),
                links,
                used: false,
            });
        }
        match sock {
            Sock::Tcp(s) => s.connect_to_host(&key.host, key.port),
            Sock::Ssl(s) => s.connect_to_host_encrypted(&key.host, key.port),
        }
    }

    /// Gives an HTTPS socket the configuration set with `set_ssl_configuration` (else it
    /// keeps the process-wide default it started from).
    fn configure_tls(&self, socket: SslSocket) {
        let config = self.st.borrow().ssl_configuration.clone();
        if let Some(config) = config {
            socket.set_ssl_configuration(config);
        }
    }

    /// HTTPS through an HTTP proxy: a `CONNECT` tunnel to the server (with the proxy's
    /// credentials given to `set_proxy`), then TLS with the server inside it; the request
    /// goes out once `encrypted`, as on a direct connection.
    fn open_tunnel(&self, key: ConnKey) {
        let Some((proxy_host, proxy_port)) = key.tunnel.clone() else {
            return;
        };
        let mut proxy = NetworkProxy::new(ProxyType::HttpProxy, &proxy_host, proxy_port);
        let creds = self
            .st
            .borrow()
            .proxy
            .as_ref()
            .and_then(|p| p.creds.clone());
        if let Some(creds) = creds {
            proxy.set_user(creds.user());
            proxy.set_password(creds.password());
        }
        let tcp = TcpSocket::with_parent(&self.obj);
        let connector = ProxiedConnector::with_parent(&self.obj);
        let id = {
            let mut st = self.st.borrow_mut();
            st.next_conn_id += 1;
            st.next_conn_id
        };
        let links = vec![
            self.link(connector.connected(), move |i, _| {
                connector.delete_later();
                i.on_tunnel_up(id, tcp)
            }),
            self.link(connector.error_occurred(), move |i, e| {
                i.on_tunnel_failed(id, connector, *e)
            }),
        ];
        {
            let mut st = self.st.borrow_mut();
            if let Some(ex) = st.ex.as_mut() {
                ex.phase = Phase::Connecting;
            }
            st.conn = Some(Conn {
                id,
                sock: Sock::Tcp(tcp),
                owned: true,
                key: key.clone(),
                links,
                used: false,
            });
        }
        self.set_state(State::Connecting);
        connector.connect_to_host(tcp, proxy, &key.host, key.port);
    }

    /// The tunnel carries the server's stream: TLS inside it.
    fn on_tunnel_up(&self, id: u64, tcp: TcpSocket) {
        if !self.is_conn(id) {
            return;
        }
        let ssl = SslSocket::from_tcp_socket(tcp);
        let host = self
            .st
            .borrow()
            .conn
            .as_ref()
            .map(|c| c.key.host.clone())
            .unwrap_or_default();
        let mut config = self
            .st
            .borrow()
            .ssl_configuration
            .clone()
            .unwrap_or_default();
        if config.peer_verify_name().is_empty() {
            config.set_peer_verify_name(host);
        }
        ssl.set_ssl_configuration(config);
        ssl.set_read_buffer_size(SOCKET_READ_BUFFER);
        let sock = Sock::Ssl(ssl);
        let links = self.wire(sock, id);
        if let Some(conn) = self.st.borrow_mut().conn.as_mut() {
            conn.sock = sock;
            conn.links.extend(links);
        }
        ssl.start_client_encryption();
    }

    /// The proxy refused or failed the tunnel.
    fn on_tunnel_failed(&self, id: u64, connector: ProxiedConnector, error: SocketError) {
        let message = connector.error_string();
        connector.delete_later();
        if !self.is_conn(id) {
            return;
        }
        let code = match error {
            SocketError::ProxyAuthenticationRequiredError => {
                HttpError::ProxyAuthenticationRequiredError
            }
            SocketError::ProxyConnectionRefusedError | SocketError::ConnectionRefusedError => {
                HttpError::ConnectionRefused
            }
            SocketError::ProxyNotFoundError | SocketError::HostNotFoundError => {
                HttpError::HostNotFound
            }
            _ => HttpError::UnknownError,
        };
        let message = if message.is_empty() {
            error.description().to_owned()
        } else {
            message
        };
        let conn = self.st.borrow_mut().conn.take();
        if let Some(conn) = conn {
            conn.shut(false);
        }
        self.finish_error(code, &message);
    }

    /// Connects the socket's signals to this object's handlers, tagged with the
    /// connection id so that a replaced socket's late events are ignored.
    fn wire(&self, sock: Sock, id: u64) -> Vec<Connection> {
        let io = sock.io();
        let mut links = vec![
            self.link(io.state_changed(), move |i, s| i.on_socket_state(id, *s)),
            self.link(io.ready_read(), move |i, _| i.on_ready_read(id)),
            self.link(io.bytes_written(), move |i, n| i.on_bytes_written(id, *n)),
            self.link(io.read_channel_finished(), move |i, _| i.on_closed(id)),
            self.link(io.disconnected(), move |i, _| i.on_closed(id)),
            self.link(io.error_occurred(), move |i, e| i.on_socket_error(id, *e)),
        ];
        match sock {
            Sock::Tcp(s) => links.push(self.link(s.connected(), move |i, _| i.on_connected(id))),
            Sock::Ssl(s) => {
                links.push(self.link(s.encrypted(), move |i, _| i.on_connected(id)));
                links.push(self.link(s.ssl_errors(), move |i, errors| {
                    if i.is_conn(id) {
                        i.sig.ssl_errors.emit(errors.clone());
                    }
                }));
            }
        }
        links
    }

    fn on_socket_state(&self, id: u64, state: SocketState) {
        let looking_up = {
            let st = self.st.borrow();
            match (&st.conn, &st.ex) {
                (Some(c), Some(_)) if c.id == id => {
                    let host = c.key.host.trim_start_matches('[').trim_end_matches(']');
                    host.parse::<std::net::IpAddr>().is_err()
                }
                _ => return,
            }
        };
        match state {
            // An IP literal needs no lookup: like Qt's first documented sequence, the state
            // goes straight to Connecting.
            SocketState::HostLookup if looking_up => self.set_state(State::HostLookup),
            SocketState::Connecting => self.set_state(State::Connecting),
            _ => {}
        }
    }

    fn on_connected(&self, id: u64) {
        let waiting = self.is_conn(id)
            && self
                .st
                .borrow()
                .ex
                .as_ref()
                .is_some_and(|ex| ex.phase == Phase::Connecting);
        if waiting {
            self.send_request();
        }
    }

    /// Builds the head as it goes on the wire: `Host`, the request target (absolute-form
    /// through a proxy), credentials; and the length of the body that follows.
    fn build_head(st: &mut St) -> Result<(RequestHead, BodyLength), SendError> {
        let St {
            ex,
            host,
            port,
            mode,
            proxy,
            server_auth,
            proxy_auth,
            ..
        } = st;
        let ex = ex.as_mut().ok_or(SendError::NoRequest)?;
        let header = &ex.header;
        let host_value = host_field(host, *port, *mode);
        let path = if header.path().is_empty() {
            "/"
        } else {
            header.path()
        };
        // A proxy that forwards (plain HTTP) gets the absolute form and its credentials; a
        // tunnel's requests are the origin's business only.
        let forwarded = proxy.is_some() && *mode != ConnectionMode::Https;
        let target = if forwarded && path.starts_with('/') {
            format!("http://{host_value}{path}")
        } else {
            path.to_owned()
        };
        let mut head = RequestHead::new(ex.method.clone(), target.clone());
        if (header.major_version(), header.minor_version()) == (1, 0) {
            head.version = Version::HTTP_10;
        }
        if !header.has_key("host") {
            let value = HeaderValue::from_str(&host_value).map_err(|_| SendError::InvalidHost)?;
            head.headers.insert(HOST, value);
        }
        for (name, value) in header.values() {
            let field = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SendError::InvalidFieldName(name.clone()))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| SendError::InvalidFieldValue(field.clone()))?;
            head.headers.append(field, value);
        }
        ex.sent_server_creds = None;
        if let (Some(creds), Some(_)) = (&server_auth.creds, server_auth.session.challenge()) {
            let value = server_auth
                .session
                .authorization(ex.method.as_str(), &target, creds)?;
            let value = HeaderValue::from_str(&value).map_err(|_| SendError::InvalidCredentials)?;
            head.headers.insert(AUTHORIZATION, value);
            ex.sent_server_creds = Some(creds.clone());
        }
        ex.sent_proxy_creds = None;
        if let (true, Some(creds), Some(_)) =
            (forwarded, &proxy_auth.creds, proxy_auth.session.challenge())
        {
            let value = proxy_auth
                .session
                .authorization(ex.method.as_str(), &target, creds)?;
            let value = HeaderValue::from_str(&value).map_err(|_| SendError::InvalidCredentials)?;
            head.headers.insert(PROXY_AUTHORIZATION, value);
            ex.sent_proxy_creds = Some(creds.clone());
        }
        let length = if ex.has_source {
            header
                .content_length()
                .map_or(BodyLength::Unknown, BodyLength::Known)
        } else if ex.body.is_empty() {
            BodyLength::Empty
        } else {
            BodyLength::Known(ex.body.len() as u64)
        };
        Ok((head, length))
    }

    /// Writes the request on the connected socket: a new attempt of the sans-IO exchange
    /// encodes it (an in-memory body goes out uncopied; a source device's is pumped).
    pub(super) fn send_request(&self) {
        let built = {
            let mut st = self.st.borrow_mut();
            Self::build_head(&mut st)
        };
        let (head, length) = match built {
            Ok(built) => built,
            Err(error) => return self.finish_error(HttpError::UnknownError, error.to_string()),
        };
        let prepared = {
            let mut st = self.st.borrow_mut();
            let St { ex, conn, .. } = &mut *st;
            match (ex.as_mut(), conn.as_mut()) {
                (Some(ex), Some(conn)) => {
                    // Sent again after a stale keep-alive connection at most once, and
                    // never when the body came from a device (it cannot be read twice).
                    let resendable = !ex.has_source && !ex.stale_retried;
                    ex.wire =
                        ClientExchange::with_decoder(decoder(&ex.method), conn.used, resendable);
                    conn.used = true;
                    let mut out = BytesMut::new();
                    ex.wire.start(&head, length, &mut out);
                    let mut body = None;
                    if !ex.has_source && length != BodyLength::Empty {
                        // The length announced is the body's: neither can fail.
                        body = ex.wire.send_body(ex.body.clone(), &mut out).ok().flatten();
                        let _ = ex.wire.finish_body(&mut out);
                    }
                    ex.phase = Phase::Sending;
                    ex.send_total = ex.wire.send_total().unwrap_or(0);
                    ex.rbuf.clear();
                    ex.response = None;
                    ex.read_done = 0;
                    ex.read_total = 0;
                    ex.unreported = false;
                    ex.discard = false;
                    ex.retry = false;
                    ex.eof = false;
                    Some((conn.sock, out, body, ex.has_source))
                }
                _ => None,
            }
        };
        let Some((sock, head, body, has_source)) = prepared else {
            return;
        };
        let gen = self.gen.get();
        self.set_state(State::Sending);
        if !self.same(gen) {
            return;
        }
        sock.io().write_bytes(head.freeze());
        if let Some(body) = body {
            sock.io().write_bytes(body);
        }
        if has_source {
            self.pump_source();
        }
    }

    /// Reads the source device while the socket's write buffer is low.
    fn pump_source(&self) {
        loop {
            let sock = {
                let st = self.st.borrow();
                match (&st.ex, &st.conn) {
                    (Some(ex), Some(conn))
                        if ex.phase == Phase::Sending && ex.wire.wants_body() =>
                    {
                        conn.sock
                    }
                    _ => return,
                }
            };
            if sock.io().bytes_to_write() >= UPLOAD_HIGH_WATER {
                return;
            }
            let mut chunk = vec![0; UPLOAD_CHUNK];
            let read = match self.source.try_borrow_mut() {
                Ok(mut source) => source.as_mut().map_or(Ok(0), |r| r.read(&mut chunk)),
                Err(_) => return,
            };
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return self.finish_error(
                        HttpError::UnknownError,
                        format!("Cannot read the request body: {e}"),
                    )
                }
            };
            let mut out = BytesMut::new();
            let encoded = {
                let mut st = self.st.borrow_mut();
                let Some(ex) = st.ex.as_mut() else { return };
                if n == 0 {
                    ex.wire.finish_body(&mut out).map(|()| None)
                } else {
                    chunk.truncate(n);
                    ex.wire.send_body(Bytes::from(chunk), &mut out)
                }
            };
            let data = match encoded {
                Ok(data) => data,
                Err(e) => {
                    return self.finish_error(
                        HttpError::UnknownError,
                        format!("The request body does not match its header: {e}"),
                    )
                }
            };
            if !out.is_empty() {
                sock.io().write_bytes(out.freeze());
            }
            if let Some(data) = data {
                sock.io().write_bytes(data);
            }
            if n == 0 {
                return;
            }
        }
    }

    fn on_bytes_written(&self, id: u64, n: u64) {
        if !self.is_conn(id) {
            return;
        }
        let (done, total, complete) = {
            let mut st = self.st.borrow_mut();
            let Some(ex) = st.ex.as_mut().filter(|ex| ex.phase == Phase::Sending) else {
                return;
            };
            ex.wire.bytes_written(n);
            let complete = ex.wire.is_sent();
            if complete {
                ex.phase = Phase::Reading;
            }
            (ex.wire.written(), ex.send_total, complete)
        };
        let gen = self.gen.get();
        self.sig.data_send_progress.emit((done, total));
        if !self.same(gen) {
            return;
        }
        if complete {
            self.set_state(State::Reading);
        } else {
            self.pump_source();
        }
    }

    pub(super) fn on_ready_read(&self, id: u64) {
        let Some(sock) = self.conn_sock().filter(|_| self.is_conn(id)) else {
            return;
        };
        let buffer = {
            let mut st = self.st.borrow_mut();
            let paused = st.paused;
            match st.ex.as_mut() {
                Some(ex) if ex.phase != Phase::Connecting => {
                    if paused {
                        return;
                    }
                    Some(std::mem::take(&mut ex.rbuf))
                }
                _ => None,
            }
        };
        let Some(mut buffer) = buffer else {
            // Bytes on an idle connection answer nothing: drop them.
            drop(sock.io().read_all());
            return;
        };
        sock.io().read_buf(&mut buffer);
        if let Some(ex) = self.st.borrow_mut().ex.as_mut() {
            ex.rbuf = buffer;
        }
        self.process();
    }

    /// Feeds the received bytes to the decoder and reports what it yields.
    fn process(&self) {
        enum Step {
            Stop,
            Pause,
            Event(Result<Option<ResponseEvent>, ExchangeError>),
        }
        let gen = self.gen.get();
        loop {
            if !self.same(gen) {
                return;
            }
            let step = {
                let mut st = self.st.borrow_mut();
                let full = st.read_buffer_size > 0 && st.body_len >= st.read_buffer_size;
                match st.ex.as_mut() {
                    None => Step::Stop,
                    Some(ex) if ex.phase == Phase::Connecting => Step::Stop,
                    Some(ex) if full && ex.response.is_some() && !ex.has_destination => Step::Pause,
                    Some(ex) => Step::Event(ex.wire.decode(&mut ex.rbuf)),
                }
            };
            match step {
                Step::Stop => return,
                Step::Pause => {
                    self.st.borrow_mut().paused = true;
                    break;
                }
                Step::Event(Ok(None)) => break,
                Step::Event(Ok(Some(ResponseEvent::Interim(..)))) => {}
                Step::Event(Ok(Some(ResponseEvent::Head(head)))) => self.on_head(head),
                Step::Event(Ok(Some(ResponseEvent::Data(data)))) => self.on_data(data),
                Step::Event(Ok(Some(ResponseEvent::End { .. }))) => {
                    self.report_read(gen);
                    if self.same(gen) {
                        self.on_end();
                    }
                    return;
                }
                Step::Event(Err(ExchangeError::Resend)) => return self.resend_on_new_connection(),
                Step::Event(Err(error)) => {
                    let (code, message) = read_error(&error);
                    return self.finish_error(code, message);
                }
            }
        }
        self.report_read(gen);
    }

    /// Emits `data_read_progress` and `ready_read` for the data decoded since the last
    /// report (once per batch of received bytes, not per piece).
    fn report_read(&self, gen: u64) {
        let report = {
            let mut st = self.st.borrow_mut();
            match st.ex.as_mut() {
                Some(ex) if ex.unreported => {
                    ex.unreported = false;
                    Some((
                        ex.read_done,
                        ex.read_total,
                        ex.response.clone().unwrap_or_default(),
                        !ex.has_destination,
                    ))
                }
                _ => None,
            }
        };
        let Some((done, total, header, ready_read)) = report else {
            return;
        };
        self.sig.data_read_progress.emit((done, total));
        if ready_read && self.same(gen) {
            self.sig.ready_read.emit(header);
        }
    }

    fn on_head(&self, head: ResponseHead) {
        let status = head.status.as_u16();
        let (header, proxied) = {
            let st = self.st.borrow();
            let proxied = st.proxy.is_some() && st.mode != ConnectionMode::Https;
            if st.ex.is_none() {
                return;
            }
            let minor = u32::from(head.version != Version::HTTP_10);
            // The names as the server spelled them (Qt 4 keeps them so).
            let fields = head
                .raw
                .iter()
                .map(|(name, value)| (name.to_owned(), latin1(value)))
                .collect();
            let header = HttpResponseHeader::received(status, head.reason.as_str(), minor, fields);
            (header, proxied)
        };
        let gen = self.gen.get();
        if status == 401 || (status == 407 && proxied) {
            match self.challenge(status == 407, &header) {
                Challenge::NotHandled => {}
                Challenge::Resend => {
                    if let Some(ex) = self.st.borrow_mut().ex.as_mut() {
                        ex.discard = true;
                        ex.retry = true;
                    }
                    return;
                }
                Challenge::Fail(code, message) => return self.finish_error(code, message),
                Challenge::Stopped => return,
            }
        }
        let to_reading = {
            let mut st = self.st.borrow_mut();
            let St {
                ex,
                last_response,
                server_auth,
                proxy_auth,
                ..
            } = &mut *st;
            let Some(ex) = ex.as_mut() else { return };
            if status != 401 && ex.sent_server_creds.is_some() {
                server_auth.session.succeeded();
            }
            if status != 407 && ex.sent_proxy_creds.is_some() {
                proxy_auth.session.succeeded();
            }
            ex.read_total = header.content_length().unwrap_or(0);
            ex.response = Some(header.clone());
            *last_response = header.clone();
            let to_reading = ex.phase == Phase::Sending;
            if to_reading {
                // The server answered before the upload ended: stop sending (the exchange
                // keeps the connection from carrying another request afterwards).
                ex.phase = Phase::Reading;
            }
            to_reading
        };
        if to_reading {
            self.set_state(State::Reading);
            if !self.same(gen) {
                return;
            }
        }
        self.sig.response_header_received.emit(header);
    }

    fn on_data(&self, data: Bytes) {
        let to_device = {
            let mut st = self.st.borrow_mut();
            let Some(ex) = st.ex.as_mut() else { return };
            if ex.discard {
                return;
            }
            ex.read_done += data.len() as u64;
            ex.unreported = true;
            if ex.has_destination {
                true
            } else {
                st.body_len += data.len();
                st.body.push_back(data.clone());
                false
            }
        };
        if to_device {
            let written = match self.to.try_borrow_mut() {
                Ok(mut to) => to.as_mut().map_or(Ok(()), |w| w.write_all(&data)),
                Err(_) => Err(std::io::Error::other("the device is in use")),
            };
            if let Err(e) = written {
                self.finish_error(
                    HttpError::UnknownError,
                    format!("Cannot write the response body: {e}"),
                );
            }
        }
    }

    fn on_end(&self) {
        let (retry, keep_alive, attempts, has_destination) = {
            let mut st = self.st.borrow_mut();
            let Some(ex) = st.ex.as_mut() else { return };
            let keep_alive = ex.wire.keep_alive();
            if ex.retry {
                ex.attempts += 1;
            }
            (ex.retry, keep_alive, ex.attempts, ex.has_destination)
        };
        if retry {
            if attempts > MAX_AUTH_ATTEMPTS {
                return self.finish_error(
                    HttpError::AuthenticationRequiredError,
                    "Authentication failed",
                );
            }
            if keep_alive {
                return self.send_request();
            }
            let old = self.st.borrow_mut().conn.take();
            if let Some(old) = old {
                let key = old.key.clone();
                old.shut(false);
                self.open_connection(key);
            }
            return;
        }
        if has_destination {
            let flushed = match self.to.try_borrow_mut() {
                Ok(mut to) => to.as_mut().map_or(Ok(()), |w| w.flush()),
                Err(_) => Ok(()),
            };
            if let Err(e) = flushed {
                return self.finish_error(
                    HttpError::UnknownError,
                    format!("Cannot write the response body: {e}"),
                );
            }
        }
        let conn_id = {
            let mut st = self.st.borrow_mut();
            st.ex = None;
            st.conn.as_ref().map(|c| c.id)
        };
        let gen = self.gen.get();
        self.set_state(State::Connected);
        if !self.same(gen) {
            return;
        }
        self.finish_ok();
        // As in Qt's first documented sequence: the connection closes after `done` when
        // the response asked for it.
        if !keep_alive && self.alive() && conn_id.is_some_and(|id| self.is_conn(id)) {
            self.close_connection(true);
        }
    }

    fn on_closed(&self, id: u64) {
        if !self.is_conn(id) {
            return;
        }
        let action = {
            let mut st = self.st.borrow_mut();
            let paused = st.paused;
            match st.ex.as_mut() {
                None => OnClose::Idle,
                Some(ex) if ex.phase == Phase::Connecting || ex.eof => OnClose::Nothing,
                Some(ex) => {
                    // What is buffered is decoded to the end: a close-delimited body ends,
                    // a cut one fails, and a reused connection closed before any byte of
                    // the response is the exchange's `Resend`.
                    ex.eof = true;
                    ex.wire.closed();
                    OnClose::Eof { paused }
                }
            }
        };
        match action {
            OnClose::Nothing => {}
            OnClose::Idle => {
                let conn = self.st.borrow_mut().conn.take();
                if let Some(conn) = conn {
                    conn.shut(false);
                }
                self.set_state(State::Unconnected);
            }
            // Paused: `resume` decodes the rest once the application reads.
            OnClose::Eof { paused: true } => {}
            // Bytes still buffered in the socket are read first.
            OnClose::Eof { paused: false } => self.on_ready_read(id),
        }
    }

    /// A keep-alive connection the server closed just as the request went out: send it once
    /// more on a new connection, as browsers do.
    fn resend_on_new_connection(&self) {
        let old = {
            let mut st = self.st.borrow_mut();
            if let Some(ex) = st.ex.as_mut() {
                ex.stale_retried = true;
            }
            st.conn.take()
        };
        if let Some(old) = old {
            let key = old.key.clone();
            old.shut(false);
            self.open_connection(key);
        }
    }

    fn on_socket_error(&self, id: u64, error: SocketError) {
        if !self.is_conn(id) {
            return;
        }
        if error == SocketError::RemoteHostClosedError {
            return self.on_closed(id);
        }
        let (running, host, sock) = {
            let st = self.st.borrow();
            let Some(conn) = st.conn.as_ref() else { return };
            (st.ex.is_some(), conn.key.host.clone(), conn.sock)
        };
        if !running {
            let conn = self.st.borrow_mut().conn.take();
            if let Some(conn) = conn {
                conn.shut(false);
            }
            return self.set_state(State::Unconnected);
        }
        let (code, message) = match error {
            SocketError::HostNotFoundError => {
                (HttpError::HostNotFound, format!("Host {host} not found"))
            }
            SocketError::ConnectionRefusedError => (
                HttpError::ConnectionRefused,
                "Connection refused".to_owned(),
            ),
            _ => {
                let text = sock.io().error_string();
                let text = if text.is_empty() {
                    error.description().to_owned()
                } else {
                    text
                };
                (HttpError::UnknownError, text)
            }
        };
        self.finish_error(code, message);
    }

    /// Continues after the user read response data that the buffer limit had held back.
    pub(super) fn resume(&self) {
        let id = {
            let mut st = self.st.borrow_mut();
            // Still full: stay paused (reading more from the socket would only move the
            // bytes into the decoder's buffer); the next read tries again.
            let full = st.read_buffer_size > 0 && st.body_len >= st.read_buffer_size;
            if !st.paused || full {
                return;
            }
            st.paused = false;
            st.conn.as_ref().map(|c| c.id)
        };
        if let Some(id) = id {
            self.on_ready_read(id);
        }
    }
}

/// Where requests go: the origin server, or the proxy.
fn target(st: &St) -> Result<ConnKey, SendError> {
    if st.host.is_empty() {
        return Err(SendError::NoServer);
    }
    match &st.proxy {
        // TLS end to end, through a CONNECT tunnel (as Qt 4 does).
        Some(proxy) if st.mode == ConnectionMode::Https => Ok(ConnKey {
            host: st.host.clone(),
            port: st.port,
            tls: true,
            tunnel: Some((proxy.host.clone(), proxy.port)),
        }),
        Some(proxy) => Ok(ConnKey {
            host: proxy.host.clone(),
            port: proxy.port,
            tls: false,
            tunnel: None,
        }),
        None => Ok(ConnKey {
            host: st.host.clone(),
            port: st.port,
            tls: st.mode == ConnectionMode::Https,
            tunnel: None,
        }),
    }
}
