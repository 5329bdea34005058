//! `QuicEndpoint`: one UDP socket and the quinn-proto endpoint that routes its datagrams.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use quinn_proto::{ConnectionHandle, DatagramEvent, EndpointConfig, Transmit};
use slotnet_core::{AsObject, Object, Signal};

use super::config::{self, QuicSetupError};
use super::connection::{ConnCore, QuicConnection};
use crate::ssl::SslConfiguration;
use crate::UdpSocket;

/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 16;
/// Room per received datagram: QUIC's largest on common paths is far below (quinn-proto
/// probes up to 1452 bytes by default); a larger one is cut and fails to decrypt.
const RECV_SIZE: usize = 4096;

/// The client config last built, and what it was built from.
struct CachedClientConfig {
    fingerprint: [u8; 32],
    verify_name: String,
    alpn: Vec<Vec<u8>>,
    config: quinn_proto::ClientConfig,
}

pub(crate) struct EndpointCore {
    pub(crate) obj: Object,
    weak: Weak<EndpointCore>,
    socket: UdpSocket,
    pub(crate) endpoint: RefCell<quinn_proto::Endpoint>,
    conns: RefCell<HashMap<ConnectionHandle, Rc<ConnCore>>>,
    accepting: bool,
    pending: RefCell<VecDeque<QuicConnection>>,
    new_connection: Signal<()>,
    recv_storage: RefCell<Vec<u8>>,
    client_config: RefCell<Option<CachedClientConfig>>,
}

/// A QUIC endpoint on the event loop: a UDP socket, the connections on it, and (for a
/// server) the connections it accepts.
///
/// A `Copy` handle to an [`Object`]; destroying it closes the socket and drops its
/// connections. See the [module docs](super) for how it is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuicEndpoint {
    obj: Object,
}

impl AsObject for QuicEndpoint {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl QuicEndpoint {
    /// A client endpoint on a UDP socket bound to `addr` (port 0: an ephemeral one).
    pub fn bind(addr: SocketAddr) -> Result<QuicEndpoint, QuicSetupError> {
        Self::create(addr, None)
    }

    /// A server endpoint on `addr`, presenting `ssl`'s certificate and accepting the ALPN
    /// protocols `alpn` (QUIC requires one to match). It can connect out as well.
    pub fn listen(
        addr: SocketAddr,
        ssl: &SslConfiguration,
        alpn: &[&[u8]],
    ) -> Result<QuicEndpoint, QuicSetupError> {
        let server = config::server_config(ssl, alpn)?;
        Self::create(addr, Some(Arc::new(server)))
    }

    fn create(
        addr: SocketAddr,
        server: Option<Arc<quinn_proto::ServerConfig>>,
    ) -> Result<QuicEndpoint, QuicSetupError> {
        let obj = Object::with_data(Rc::new(()), None);
        let socket = UdpSocket::with_parent(&obj);
        if !socket.bind_addr(addr) {
            let message = socket.error_string();
            obj.destroy();
            return Err(QuicSetupError::Bind(std::io::Error::other(message)));
        }
        let accepting = server.is_some();
        let endpoint =
            quinn_proto::Endpoint::new(Arc::new(EndpointConfig::default()), server, true, None);
        let core = Rc::new_cyclic(|weak| EndpointCore {
            obj,
            weak: weak.clone(),
            socket,
            endpoint: RefCell::new(endpoint),
            conns: RefCell::new(HashMap::new()),
            accepting,
            pending: RefCell::new(VecDeque::new()),
            new_connection: obj.new_signal(),
            recv_storage: RefCell::new(vec![0; BATCH * RECV_SIZE]),
            client_config: RefCell::new(None),
        });
        let weak = Rc::downgrade(&core);
        socket.ready_read().connect(move |_| {
            if let Some(core) = weak.upgrade() {
                core.on_ready_read();
            }
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        Ok(QuicEndpoint { obj })
    }

    fn core(&self) -> Option<Rc<EndpointCore>> {
        self.obj.data::<EndpointCore>()
    }

    /// The object behind this handle.
    pub fn object(&self) -> Object {
        self.obj
    }

    /// The UDP socket's address.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.socket.local_socket_addr())
    }

    /// Starts a connection to `remote`, verifying its certificate for `host` (or for
    /// `ssl`'s `peer_verify_name` if set, which is also sent as SNI) under `ssl`'s trust
    /// rules, offering the ALPN protocols `alpn`. The handshake runs on the loop; watch
    /// [`QuicConnection::connected`] and [`QuicConnection::disconnected`]. Certificate errors
    /// go to the connection's [`verify_context`](QuicConnection::verify_context) and
    /// `ssl_errors` signal.
    pub fn connect(
        &self,
        ssl: &SslConfiguration,
        remote: SocketAddr,
        host: &str,
        alpn: &[&[u8]],
    ) -> Result<QuicConnection, QuicSetupError> {
        let core = self
            .core()
            .ok_or_else(|| QuicSetupError::Connect("the endpoint was destroyed".into()))?;
        let name = if ssl.peer_verify_name().is_empty() {
            host
        } else {
            ssl.peer_verify_name()
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let client = core.client_config(ssl, alpn)?;
        let started = core
            .endpoint
            .borrow_mut()
            .connect(Instant::now(), client, remote, name);
        let (handle, conn) = started.map_err(|e| QuicSetupError::Connect(e.to_string()))?;
        let conn = ConnCore::create(&core, handle, conn);
        core.conns.borrow_mut().insert(handle, conn.clone());
        conn.schedule();
        Ok(conn.handle())
    }

    /// Emitted when a server endpoint accepted a connection (its handshake is under way):
    /// take it with [`QuicEndpoint::next_pending_connection`].
    pub fn new_connection(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.new_connection.clone())
    }

    /// The next accepted connection not taken yet.
    pub fn next_pending_connection(&self) -> Option<QuicConnection> {
        self.core()?.pending.borrow_mut().pop_front()
    }

    /// How many connections the endpoint is carrying (closing ones included, until their
    /// draining period ends).
    pub fn connection_count(&self) -> usize {
        self.core().map_or(0, |c| c.conns.borrow().len())
    }
}

impl EndpointCore {
    fn client_config(
        &self,
        ssl: &SslConfiguration,
        alpn: &[&[u8]],
    ) -> Result<quinn_proto::ClientConfig, QuicSetupError> {
        let fingerprint = ssl.trust_fingerprint();
        let mut cached = self.client_config.borrow_mut();
        if let Some(c) = cached.as_ref() {
            if c.fingerprint == fingerprint
                && c.verify_name == ssl.peer_verify_name()
                && c.alpn.iter().map(Vec::as_slice).eq(alpn.iter().copied())
            {
                return Ok(c.config.clone());
            }
        }
        let config = config::client_config(ssl, alpn)?;
        *cached = Some(CachedClientConfig {
            fingerprint,
            verify_name: ssl.peer_verify_name().to_owned(),
            alpn: alpn.iter().map(|p| p.to_vec()).collect(),
            config: config.clone(),
        });
        Ok(config)
    }

    /// Sends a transmit's datagrams (several when quinn-proto segmented it).
    pub(crate) fn send(&self, buf: &[u8], transmit: &Transmit) {
        let data = &buf[..transmit.size];
        match transmit.segment_size {
            Some(size) if size < data.len() => {
                for segment in data.chunks(size) {
                    self.socket.write_datagram(segment, transmit.destination);
                }
            }
            // A full kernel buffer drops the datagram: QUIC's loss recovery resends.
            _ => {
                self.socket.write_datagram(data, transmit.destination);
            }
        }
    }

    pub(crate) fn forget(&self, handle: ConnectionHandle) {
        self.conns.borrow_mut().remove(&handle);
    }

    fn on_ready_read(&self) {
        let mut touched: Vec<Rc<ConnCore>> = Vec::new();
        let mut accepted: Vec<QuicConnection> = Vec::new();
        let mut out = [(0usize, SocketAddr::from(([0, 0, 0, 0], 0))); BATCH];
        loop {
            let datagrams: Vec<(SocketAddr, BytesMut)> = {
                let mut storage = self.recv_storage.borrow_mut();
                let mut bufs: Vec<&mut [u8]> = storage.chunks_mut(RECV_SIZE).collect();
                let n = self.socket.read_datagrams(&mut bufs, &mut out);
                out[..n]
                    .iter()
                    .zip(bufs)
                    .map(|(&(len, from), buf)| (from, BytesMut::from(&buf[..len])))
                    .collect()
            };
            if datagrams.is_empty() {
                break;
            }
            for (from, data) in datagrams {
                self.handle_datagram(from, data, &mut touched, &mut accepted);
            }
        }
        touched.dedup_by(|a, b| Rc::ptr_eq(a, b));
        for conn in touched {
            conn.drive();
        }
        if !accepted.is_empty() {
            self.pending.borrow_mut().extend(accepted);
            self.new_connection.emit(());
        }
    }

    fn handle_datagram(
        &self,
        from: SocketAddr,
        data: BytesMut,
        touched: &mut Vec<Rc<ConnCore>>,
        accepted: &mut Vec<QuicConnection>,
    ) {
        let now = Instant::now();
        let mut buf = Vec::new();
        let event = self
            .endpoint
            .borrow_mut()
            .handle(now, from, None, None, data, &mut buf);
        match event {
            Some(DatagramEvent::ConnectionEvent(handle, event)) => {
                let conn = self.conns.borrow().get(&handle).cloned();
                if let Some(conn) = conn {
                    conn.handle_event(event);
                    if !touched.last().is_some_and(|c| Rc::ptr_eq(c, &conn)) {
                        touched.push(conn);
                    }
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if !self.accepting {
                    self.endpoint.borrow_mut().ignore(incoming);
                    return;
                }
                let result = self
                    .endpoint
                    .borrow_mut()
                    .accept(incoming, now, &mut buf, None);
                match result {
                    Ok((handle, conn)) => {
                        let Some(me) = self.weak.upgrade() else {
                            return;
                        };
                        let conn = ConnCore::create(&me, handle, conn);
                        self.conns.borrow_mut().insert(handle, conn.clone());
                        accepted.push(conn.handle());
                        touched.push(conn);
                    }
                    Err(e) => {
                        if let Some(transmit) = e.response {
                            self.send(&buf, &transmit);
                        }
                    }
                }
            }
            Some(DatagramEvent::Response(transmit)) => self.send(&buf, &transmit),
            None => {}
        }
    }
}
