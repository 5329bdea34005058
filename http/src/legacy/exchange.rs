//! One request on the wire: connecting, sending the head and body, decoding the response
//! with the sans-IO [`h1`](crate::h1) codec, and the socket events that drive it.

use std::io::{ErrorKind, Write};

use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, HOST, PROXY_AUTHORIZATION};
use http::{HeaderName, HeaderValue, Method, Version};
use slotnet_core::{Connection, Signal};
use slotnet_net::proxy::{NetworkProxy, ProxiedConnector, ProxyType};
use slotnet_net::{SocketError, SocketState, SslSocket, TcpSocket};

use crate::auth::Authenticator;
use crate::h1::{
    encode_request, BodyEncoder, BodyLength, Framing, H1Error, RequestHead, ResponseDecoder,
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
/// Most fields captured from a response head (the decoder's default limit).
const MAX_FIELDS: usize = 128;
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

/// A status line and fields as received, with the field names as the server spelled them
/// (the decoder's `HeaderMap` lowercases them).
struct RawHead {
    status: u16,
    fields: Vec<(String, String)>,
}

/// The transfer state of the running request.
pub(super) struct Exchange {
    pub(super) header: HttpRequestHeader,
    method: Method,
    /// An in-memory body (empty when there is none or it comes from a source device).
    body: Bytes,
    pub(super) has_source: bool,
    pub(super) has_destination: bool,
    pub(super) phase: Phase,
    encoder: Option<BodyEncoder>,
    source_done: bool,
    /// Bytes handed to the socket, and how many of them it reported written.
    queued: u64,
    send_done: u64,
    send_total: u64,
    /// Whether the server answered before the upload was complete.
    upload_stopped: bool,
    decoder: ResponseDecoder,
    rbuf: BytesMut,
    raw_head: Option<RawHead>,
    received_any: bool,
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
    /// Whether the connection carried a request before this one.
    reused: bool,
    stale_retried: bool,
    eof: bool,
    /// The request header asked for `Connection: close`.
    close_requested: bool,
}

impl Exchange {
    fn new(header: HttpRequestHeader, method: Method, data: &RequestData, dest: bool) -> Self {
        let close_requested = header.value("connection").is_some_and(|v| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("close"))
        });
        Exchange {
            header,
            decoder: ResponseDecoder::new(&method),
            method,
            body: match data {
                RequestData::Bytes(b) => b.clone(),
                _ => Bytes::new(),
            },
            has_source: matches!(data, RequestData::Device(_)),
            has_destination: dest,
            phase: Phase::Connecting,
            encoder: None,
            source_done: true,
            queued: 0,
            send_done: 0,
            send_total: 0,
            upload_stopped: false,
            rbuf: BytesMut::new(),
            raw_head: None,
            received_any: false,
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
            reused: false,
            stale_retried: false,
            eof: false,
            close_requested,
        }
    }
}

/// What to do when the connection closes under a request.
enum OnClose {
    Nothing,
    Idle,
    Retry(ConnKey),
    Eof,
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

/// Reads the status line and fields at the front of `buf`, if a whole head is there.
fn capture_head(buf: &[u8]) -> Option<RawHead> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(_)) => Some(RawHead {
            status: response.code?,
            fields: response
                .headers
                .iter()
                .map(|f| (f.name.to_owned(), latin1(f.value)))
                .collect(),
        }),
        _ => None,
    }
}

/// The error a decoding failure is reported with.
fn decode_error(error: &H1Error) -> (HttpError, &'static str) {
    match error {
        H1Error::IncompleteHead => (HttpError::UnexpectedClose, "Connection closed unexpectedly"),
        H1Error::TruncatedBody | H1Error::BodyTooLarge => {
            (HttpError::WrongContentLength, "Wrong content length")
        }
        H1Error::InvalidChunkSize
        | H1Error::ChunkSizeOverflow
        | H1Error::ChunkLineTooLong
        | H1Error::InvalidChunkTerminator
        | H1Error::InvalidTrailer => (HttpError::WrongContentLength, "Invalid HTTP chunked body"),
        _ => (
            HttpError::InvalidResponseHeader,
            "Invalid HTTP response header",
        ),
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
            Err(message) => self.finish_error(HttpError::UnknownError, message),
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
    /// through a proxy), credentials, framing.
    fn build_head(st: &mut St) -> Result<(BytesMut, Framing), String> {
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
        let ex = ex.as_mut().ok_or("no request")?;
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
            let value = HeaderValue::from_str(&host_value).map_err(|_| "Invalid host name")?;
            head.headers.insert(HOST, value);
        }
        for (name, value) in header.values() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("Invalid header field name {name:?}"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("Invalid value of header field {name}"))?;
            head.headers.append(name, value);
        }
        ex.sent_server_creds = None;
        if let (Some(creds), Some(_)) = (&server_auth.creds, server_auth.session.challenge()) {
            let value = server_auth
                .session
                .authorization(ex.method.as_str(), &target, creds)
                .map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(&value).map_err(|_| "Invalid credentials")?;
            head.headers.insert(AUTHORIZATION, value);
            ex.sent_server_creds = Some(creds.clone());
        }
        ex.sent_proxy_creds = None;
        if let (true, Some(creds), Some(_)) =
            (forwarded, &proxy_auth.creds, proxy_auth.session.challenge())
        {
            let value = proxy_auth
                .session
                .authorization(ex.method.as_str(), &target, creds)
                .map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(&value).map_err(|_| "Invalid credentials")?;
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
        let mut out = BytesMut::new();
        let framing = encode_request(&head, length, &mut out);
        Ok((out, framing))
    }

    /// Writes the request on the connected socket.
    pub(super) fn send_request(&self) {
        let built = {
            let mut st = self.st.borrow_mut();
            Self::build_head(&mut st)
        };
        let (head, framing) = match built {
            Ok(built) => built,
            Err(message) => return self.finish_error(HttpError::UnknownError, message),
        };
        let prepared = {
            let mut st = self.st.borrow_mut();
            let St { ex, conn, .. } = &mut *st;
            match (ex.as_mut(), conn.as_mut()) {
                (Some(ex), Some(conn)) => {
                    ex.reused = conn.used;
                    conn.used = true;
                    let body_len = match framing {
                        Framing::Length(_) if !ex.has_source => ex.body.len() as u64,
                        _ => 0,
                    };
                    ex.phase = Phase::Sending;
                    ex.queued = head.len() as u64 + body_len;
                    ex.send_done = 0;
                    ex.send_total = if framing == Framing::Chunked {
                        0
                    } else if let (true, Framing::Length(n)) = (ex.has_source, framing) {
                        ex.queued + n
                    } else {
                        ex.queued
                    };
                    ex.encoder = ex.has_source.then(|| BodyEncoder::new(framing));
                    ex.source_done = !ex.has_source;
                    ex.upload_stopped = false;
                    ex.decoder = ResponseDecoder::new(&ex.method);
                    ex.rbuf.clear();
                    ex.raw_head = None;
                    ex.received_any = false;
                    ex.response = None;
                    ex.read_done = 0;
                    ex.read_total = 0;
                    ex.unreported = false;
                    ex.discard = false;
                    ex.retry = false;
                    ex.eof = false;
                    let body = (body_len > 0).then(|| ex.body.clone());
                    Some((conn.sock, body, ex.has_source))
                }
                _ => None,
            }
        };
        let Some((sock, body, has_source)) = prepared else {
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
                        if ex.phase == Phase::Sending && !ex.source_done && !ex.upload_stopped =>
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
                let Some(encoder) = ex.encoder.as_mut() else {
                    return;
                };
                let result = if n == 0 {
                    ex.source_done = true;
                    encoder.finish(&mut out)
                } else {
                    encoder.encode(&chunk[..n], &mut out)
                };
                ex.queued += out.len() as u64;
                result
            };
            if let Err(e) = encoded {
                return self.finish_error(
                    HttpError::UnknownError,
                    format!("The request body does not match its header: {e}"),
                );
            }
            if !out.is_empty() {
                sock.io().write_bytes(out.freeze());
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
            ex.send_done = (ex.send_done + n).min(ex.queued);
            let complete = ex.source_done && ex.send_done >= ex.queued;
            if complete {
                ex.phase = Phase::Reading;
            }
            (ex.send_done, ex.send_total, complete)
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
        let got = sock.io().read_buf(&mut buffer);
        {
            let mut st = self.st.borrow_mut();
            if let Some(ex) = st.ex.as_mut() {
                ex.received_any |= got > 0;
                ex.rbuf = buffer;
            }
        }
        self.process();
    }

    /// Feeds the received bytes to the decoder and reports what it yields.
    fn process(&self) {
        enum Step {
            Stop,
            Pause,
            Event(Result<Option<ResponseEvent>, H1Error>),
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
                    Some(ex) => {
                        if ex.response.is_none() && !ex.discard {
                            ex.raw_head = capture_head(&ex.rbuf);
                        }
                        Step::Event(ex.decoder.decode(&mut ex.rbuf))
                    }
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
                Step::Event(Err(error)) => {
                    let (code, message) = decode_error(&error);
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
            let mut st = self.st.borrow_mut();
            let proxied = st.proxy.is_some() && st.mode != ConnectionMode::Https;
            let Some(ex) = st.ex.as_mut() else { return };
            let minor = u32::from(head.version != Version::HTTP_10);
            let fields = match ex.raw_head.take() {
                Some(raw) if raw.status == status => raw.fields,
                _ => head
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), latin1(v.as_bytes())))
                    .collect(),
            };
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
                // The server answered before the upload ended: stop sending; the
                // connection cannot carry another request afterwards.
                ex.phase = Phase::Reading;
                ex.upload_stopped = !(ex.source_done && ex.send_done >= ex.queued);
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
            let keep_alive = ex.decoder.keep_alive() && !ex.close_requested && !ex.upload_stopped;
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
            let St { ex, conn, .. } = &mut *st;
            match ex.as_mut() {
                None => OnClose::Idle,
                Some(ex) if ex.phase == Phase::Connecting || ex.eof => OnClose::Nothing,
                Some(ex) => {
                    // A keep-alive connection the server closed just as the request went
                    // out: send it once more on a new connection, as browsers do.
                    let stale = ex.reused
                        && !ex.stale_retried
                        && !ex.received_any
                        && !ex.has_source
                        && ex.response.is_none();
                    if stale {
                        ex.stale_retried = true;
                        match conn.as_ref() {
                            Some(c) => OnClose::Retry(c.key.clone()),
                            None => OnClose::Nothing,
                        }
                    } else {
                        ex.eof = true;
                        OnClose::Eof
                    }
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
            OnClose::Retry(key) => {
                let conn = self.st.borrow_mut().conn.take();
                if let Some(conn) = conn {
                    conn.shut(false);
                }
                self.open_connection(key);
            }
            OnClose::Eof => {
                let paused = {
                    let mut st = self.st.borrow_mut();
                    if let Some(ex) = st.ex.as_mut() {
                        ex.decoder.eof();
                    }
                    st.paused
                };
                if !paused {
                    // Bytes still buffered in the socket are read first.
                    self.on_ready_read(id);
                }
            }
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
fn target(st: &St) -> Result<ConnKey, &'static str> {
    if st.host.is_empty() {
        return Err("No server set to connect to");
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
