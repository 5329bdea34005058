//! slotnet's documentation, tested: the README's example and every example of `docs/guide.md`
//! are compiled and run as doctests of this crate, so they cannot rot.
//!
//! Why a crate of its own: the guide spans every crate of the workspace (core, net, http and
//! the GLib and calloop embeddings), so its examples need all of them as dependencies, which
//! no library crate should carry even as dev-dependencies. Integration tests live with the
//! crate whose behaviour they check (`net/tests`, `http/tests`, `examples/tests`), and their
//! shared peers in slotnet-testkit.

#[doc = include_str!("../../README.md")]
#[allow(dead_code)]
mod readme {}

#[doc = include_str!("../../docs/guide.md")]
#[allow(dead_code)]
mod guide {}
