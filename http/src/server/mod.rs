//! The HTTP server: Qt's `QAbstractHttpServer`, `QHttpServer`, `QHttpServerRequest`,
//! `QHttpServerResponder` and `QHttpServerResponse`.
//!
//! - [`AbstractHttpServer`]: binds [`TcpServer`](slotnet_net::TcpServer)s,
//!   [`SslServer`](slotnet_net::SslServer)s and [`LocalServer`](slotnet_net::LocalServer)s
//!   (or takes connected sockets of any transport through
//!   [`AbstractHttpServer::add_connection`]) and hands each request to a [`RequestHandler`].
//! - [`HttpServer`]: the same with routes (`/user/<arg>` with typed arguments), a missing
//!   handler and after-request hooks.
//! - [`HttpServerRequest`] (complete with its body), [`HttpServerResponder`] (answer now or
//!   later, whole or streamed), [`HttpServerResponse`] (bytes, text, JSON or a file).
//! - [`HttpServerConfiguration`]: limits and timeouts.
//! - [`ServerThreads`]: the same server on N threads, each with its own loop, to use every
//!   core (a factory builds each thread's server; connections spread by `SO_REUSEPORT` or
//!   one acceptor, see [`ConnectionSpread`]).
//! - [`WebSocket`]: HTTP/1.1 upgrades accepted by a verifier
//!   ([`AbstractHttpServer::add_web_socket_upgrade_verifier`]) become WebSockets (text and
//!   binary messages, ping/pong, the close handshake, a maximum message size).
//!
//! HTTP/1.1 with keep-alive, pipelining (answers in request order), chunked bodies both
//! ways, `Expect: 100-continue`, HEAD, HTTP/1.0 clients. Malformed requests get 400 (or
//! 414/431/413/501/505) and the connection closes; nothing a client sends can panic the
//! server, stall other connections or make memory grow without bound.
//!
//! HTTP/2 over TLS (ALPN `h2`) and in cleartext with prior knowledge
//! ([`HttpServerConfiguration::h2c`]): each stream is a request for the same handler, bodies
//! go out as the client's flow-control window allows (files and readers are read only as it
//! opens), the same limits apply (413/414/431 answers or stream resets), and clients that
//! reset streams in floods (CVE-2023-44487, "rapid reset") are disconnected with
//! GOAWAY(ENHANCE_YOUR_CALM). Graceful shutdown sends GOAWAY and lets streams in flight
//! finish.
//!
//! ```
//! use http::{Method, StatusCode};
//! use slotnet_core::EventLoop;
//! use slotnet_http::server::{HttpServer, HttpServerRequest, HttpServerResponder};
//! use slotnet_net::TcpServer;
//! use std::io::{Read, Write};
//! use std::net::Ipv4Addr;
//!
//! let server = HttpServer::new();
//! server.route("/hello/<arg>", Method::GET, |name: String, _: &HttpServerRequest, resp: HttpServerResponder| {
//!     resp.write_data(StatusCode::OK, "text/plain", format!("hello {name}"));
//!     EventLoop::current().quit();
//! }).expect("valid route");
//! let tcp = TcpServer::new();
//! assert!(tcp.listen(Ipv4Addr::LOCALHOST, 0));
//! assert!(server.bind(&tcp));
//!
//! let port = tcp.server_port();
//! let client = std::thread::spawn(move || {
//!     let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
//!     s.write_all(b"GET /hello/world HTTP/1.0\r\n\r\n").unwrap();
//!     let mut answer = String::new();
//!     s.read_to_string(&mut answer).unwrap();
//!     answer
//! });
//! EventLoop::current().exec();
//! # // Let the answer go out before the server is dropped.
//! # let lp = EventLoop::current();
//! # while server.connection_count() > 0 { lp.process_events(Some(std::time::Duration::from_millis(10))); }
//! let answer = client.join().unwrap();
//! assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"));
//! assert!(answer.ends_with("\r\n\r\nhello world"));
//! ```

mod abstract_server;
mod config;
mod connection;
mod h2_conn;
mod h2_push;
mod h2_stream;
mod http_server;
mod json;
mod mime;
mod pacing;
mod pipeline;
mod request;
mod responder;
mod response;
mod router;
mod sniff;
mod threads;
mod websocket;

pub use abstract_server::{AbstractHttpServer, AfterRequestHook, RequestHandler};
pub use config::HttpServerConfiguration;
pub use http_server::HttpServer;
pub use json::{json_string, push_json_string};
pub use mime::mime_type_for_path;
pub use pacing::ReaderWaker;
pub use request::{ConnectionInfo, HttpServerRequest};
pub use responder::{HttpServerResponder, WriteChunkError};
pub use response::{HttpServerResponse, ResponseBody};
pub use router::{Methods, RouteError, RouteHandler};
pub use threads::{ConnectionSpread, Listen, ServerThreads};
pub use websocket::{
    WebSocket, WebSocketError, WebSocketUpgradeResponse, DEFAULT_MAX_MESSAGE_SIZE,
};
