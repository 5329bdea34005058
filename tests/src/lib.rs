//! Shared helpers for slotnet's cross-crate integration tests (see `tests/`).
//!
//! The README's example is compiled and run as a doctest of this crate, so it cannot rot.

#[doc = include_str!("../../README.md")]
#[allow(dead_code)]
mod readme {}
