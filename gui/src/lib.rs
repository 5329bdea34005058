//! slotnet-gui: a GTK 4 download manager whose network side is slotnet.
//!
//! GTK runs glib's main loop; slotnet's [`EventLoop`](slotnet_http::core::EventLoop) for the
//! same thread is attached to it as a GSource by [`slotnet_glib::LoopSource`] (no manual
//! wake-ups after calling slotnet from a GTK handler). Each download is a
//! `NetworkReply` whose `download_progress`, `error_occurred` and `finished` signals update
//! a row of the window; its Cancel button calls `abort()`. A [`slow_server::SlowServer`] on
//! its own slotnet thread serves paced downloads on 127.0.0.1 so progress can be watched
//! without a network.
#![warn(missing_docs)]

pub mod demo;
pub mod download;
pub mod slow_server;
pub mod window;
