//! Session resumption that never skips a decision on certificate errors.
//!
//! A resumed session does not run certificate verification again. If the session of a
//! connection whose errors were ignored (by its `sslErrors` hook) were stored, a later
//! connection with the same configuration could resume it and never see those errors. So
//! sessions are stored only for connections that verified without errors: rustls stores
//! them from inside `process_new_packets`, where that connection's
//! [`VerifyContext`](super::VerifyContext) is active and knows.

use std::sync::Arc;

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::NamedGroup;
use rustls_pki_types::ServerName;

use super::verify;

/// How many servers' sessions a client configuration remembers (rustls' default).
const SESSIONS: usize = 256;

/// An in-memory session cache that refuses sessions of connections with certificate errors.
#[derive(Debug)]
pub(crate) struct CleanSessionStore {
    inner: ClientSessionMemoryCache,
}

impl CleanSessionStore {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CleanSessionStore {
            inner: ClientSessionMemoryCache::new(SESSIONS),
        })
    }
}

impl ClientSessionStore for CleanSessionStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        if verify::active_is_clean() {
            self.inner.set_tls12_session(server_name, value);
        }
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        if verify::active_is_clean() {
            self.inner.insert_tls13_ticket(server_name, value);
        }
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}
