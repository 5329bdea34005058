//! Shared helpers for slotnet's cross-crate integration tests (see `tests/`).
//!
//! The README's example and every example of `docs/guide.md` are compiled and run as
//! doctests of this crate, so they cannot rot.

#[doc = include_str!("../../README.md")]
#[allow(dead_code)]
mod readme {}

#[doc = include_str!("../../docs/guide.md")]
#[allow(dead_code)]
mod guide {}
