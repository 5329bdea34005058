//! # slotnet-net
//!
//! Sockets on the slotnet event loop: TCP, Unix domain sockets, TLS on rustls with Qt's
//! `sslErrors` model, name lookup on worker threads, and proxies.
//!
//! - [`TcpSocket`] / [`TcpServer`]: Qt's `QTcpSocket` / `QTcpServer`.
//! - [`UdpSocket`]: Qt's `QUdpSocket` (datagrams; `recvmmsg` batching on Linux).
//! - [`LocalSocket`] / [`LocalServer`]: Qt's `QLocalSocket` / `QLocalServer` (Unix domain).
//! - [`SslSocket`] / [`SslServer`]: Qt's `QSslSocket` / `QSslServer` (TLS on rustls, see
//!   [`ssl`]).
//! - [`AbstractSocket`]: the object-safe trait all stream sockets implement, for protocol code
//!   that should not care about the transport.
//! - [`quic`]: QUIC connections on the loop ([`quic::QuicEndpoint`], quinn-proto driven by
//!   the loop, the HTTPS path's TLS rules), the transport of HTTP/3.
//! - [`HostInfo`]: Qt's `QHostInfo`, lookups that never block the loop.
//! - [`NetworkProxy`], [`ProxiedConnector`] and the rest of [`proxy`]: Qt's `QNetworkProxy`
//!   family (HTTP `CONNECT`, SOCKS5, environment variables, factories).
//! - [`async_io::SocketIo`]: tokio's `AsyncRead`/`AsyncWrite` over any of these sockets, so
//!   async protocol crates (h2) run on the loop without a tokio runtime.
//! - [`SocketState`], [`SocketError`], [`SocketOption`]: Qt's enums, with Qt's names.
//!
//! Sockets never block: `write` queues, the kernel gets the bytes on a later iteration, and
//! `bytes_written` reports them. A read buffer limit ([`TcpSocket::set_read_buffer_size`])
//! makes a slow reader slow its peer down instead of growing memory.
//!
//! ```
//! use slotnet_core::EventLoop;
//! use slotnet_net::{TcpServer, TcpSocket};
//! use std::net::Ipv4Addr;
//!
//! // An echo server and a client on one loop.
//! let server = TcpServer::new();
//! assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
//! server.new_connection().connect(move |_| {
//!     let conn = server.next_pending_connection().unwrap();
//!     conn.ready_read().connect(move |_| {
//!         conn.write(&conn.read_all());
//!     });
//! });
//!
//! let client = TcpSocket::new();
//! client.connected().connect(move |_| {
//!     client.write(b"ping");
//! });
//! client.ready_read().connect(move |_| {
//!     if client.bytes_available() == 4 {
//!         assert_eq!(client.read_all(), b"ping");
//!         EventLoop::current().quit();
//!     }
//! });
//! client.connect_to_host("127.0.0.1", server.server_port());
//! EventLoop::current().exec();
//! ```
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `tls-ring` | yes | rustls with the `ring` crypto provider |
//! | `tls-aws-lc` | | rustls with the `aws-lc-rs` provider (post-quantum hybrid key exchange X25519MLKEM768 offered first); wins when both are on |
//! | `native-roots` | yes | the operating system's CA store as the system CA set |
//! | `webpki-roots` | | the Mozilla roots compiled in (the system set without `native-roots`, the stand-in for an empty store with it) |
//! | `test-certs` | | `ssl::test_certs`, a generated PKI for tests |
//!
//! One provider is required: without either the build stops with a message naming them
//! (see [`ssl::SystemCaSource`] for what the roots features give).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod abstract_socket;
pub mod async_io;
mod descriptor;
mod error;
mod hostinfo;
mod local;
mod local_server;
pub mod log_target;
pub mod proxy;
pub mod quic;
mod read_buffer;
mod reuse_port;
mod server;
mod socket;
pub mod ssl;
mod ssl_server;
mod ssl_socket;
mod stream;
mod sys;
mod tcp;
mod tcp_server;
mod udp;
mod wait;
mod write_queue;

pub use abstract_socket::AbstractSocket;
pub use descriptor::SocketDescriptor;
pub use error::{SocketError, SocketOption, SocketState};
pub use hostinfo::{HostInfo, HostInfoError, LookupId, CACHE_TTL};
pub use local::LocalSocket;
pub use local_server::LocalServer;
pub use proxy::{NetworkProxy, NetworkProxyQuery, ProxiedConnector, ProxyFactory, ProxyType};
pub use reuse_port::{reuse_port_listener, REUSE_PORT_BALANCES};
pub use ssl_server::{
    SslServer, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKING, PRESSURE_HANDSHAKE_TIMEOUT,
};
pub use ssl_socket::{SslMode, SslSocket};
pub use tcp::TcpSocket;
pub use tcp_server::TcpServer;
pub use udp::{UdpSocket, MAX_DATAGRAM_SIZE};
pub use wait::DEFAULT_WAIT_MSECS;

/// The byte buffer types the socket API uses (the `bytes` crate).
pub use bytes::{Bytes, BytesMut};
