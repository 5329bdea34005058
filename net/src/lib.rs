//! # slotnet-net
//!
//! Sockets on the slotnet event loop: TCP, Unix domain sockets, TLS on rustls with Qt's
//! `sslErrors` model, name lookup on worker threads, and proxies.
#![warn(missing_docs)]

pub mod ssl;
