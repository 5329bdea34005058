//! Test support shared by slotnet's integration tests (`net/tests`, `http/tests`,
//! `examples/tests`). Read this first before writing a test: the peer you need is probably
//! here.
//!
//! Every helper talks real protocols over loopback: real sockets, real TLS handshakes with the
//! generated test PKI, real HTTP/2 frames, real proxies. Nothing here mocks slotnet itself.
//!
//! | Module | What it gives a test |
//! |---|---|
//! | [`event_loop`] | run the current thread's loop with a hang guard: [`exec_within`], [`run_for`], [`run_until`] |
//! | [`log`] | [`Log`] of signal names in order, [`Counter`] of emissions |
//! | [`logger`] | a capturing `log` logger: what slotnet logged on this thread, by target ([`logger::capture`]) |
//! | [`pattern`] | the 251-byte test pattern and a fast [`PatternChecker`](pattern::PatternChecker) |
//! | [`certs`] | the test PKI ([`certs::pki`]), trusting client configurations, PEM files |
//! | [`ssl`] | TLS socket peers: a listening [`SslServer`](slotnet_net::SslServer), an echo, a logging client |
//! | [`h1`] | the scripted HTTP/1.1 server ([`h1::ScriptedServer`]) on std threads: exact and misbehaving responses |
//! | [`reply`] | drive a [`NetworkReply`](slotnet_http::NetworkReply): traces, slow readers, memory bounds |
//! | [`tls_server`] | an https server (h2 or HTTP/1.1 by ALPN) on its own slotnet thread |
//! | [`h2`] | the HTTP/2 peers: [`h2::H2Server`] (slotnet's driver) and [`h2::RawH2Server`] (raw frames); [`h2::wire`] |
//! | [`server`] | an [`HttpServer`](slotnet_http::server::HttpServer) on its own thread, raw clients, a response reader |
//! | [`legacy`] | the legacy `Http` tests: signal traces in Qt's notation, a shared device |
//! | [`proxy`] | an HTTP `CONNECT` proxy and a SOCKS5 proxy (with credentials), echo/silent targets, [`proxy::tunnel`] |
//! | [`process`] | real programs: free ports, [`process::ChildGuard`], curl, temporary files, a `slotnet-serve` process |
//! | [`nginx`] | a real nginx serving HTTPS with HTTP/2 from a temporary directory |
//!
//! Rules the helpers follow (and a new helper must too): every wait has a generous limit that
//! only guards against a hang, never a limit that a slow machine could miss; peers that need a
//! program from Debian ([`nginx`], curl, tinyproxy) let the test skip with a printed note when
//! it is not installed.
//!
//! The crate is a dev-dependency only (`publish = false`):
//!
//! ```toml
//! [dev-dependencies]
//! slotnet-testkit.workspace = true
//! ```

#![deny(missing_docs)]

pub mod certs;
pub mod event_loop;
pub mod h1;
pub mod h2;
pub mod legacy;
pub mod log;
pub mod logger;
pub mod nginx;
pub mod pattern;
pub mod process;
pub mod proxy;
pub mod reply;
pub mod server;
pub mod ssl;
pub mod tls_server;

pub use event_loop::{exec_within, hang_guard, quit, run_for, run_until, LIMIT};
pub use log::{Counter, Log};
