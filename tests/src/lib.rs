//! Shared helpers for slotnet's cross-crate integration tests (see `tests/`).
