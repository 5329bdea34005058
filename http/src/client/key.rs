//! Which connections a request may share: [`PoolKey`], the pool's key for a request's
//! connection (scheme, host, port, route, h2 offer and TLS trust), shared by the HTTP/1.1
//! and HTTP/2 pools and the jobs that compute it.

use std::rc::Rc;

use slotnet_net::ssl::SslConfiguration;
use url::Url;

use super::route::Route;

/// Where a connection goes: scheme, host and port, the way there (connections through
/// different proxies are never shared), and for https whether the connection's TLS handshake
/// offers h2 and whom it trusts ([`TlsKey`]). Requests that allow HTTP/2 and those that do
/// not never share a connection, as in Qt (whose connection cache keys them apart): an
/// HTTP/1.1 connection opened for a request that refused HTTP/2 must not keep a later request
/// from getting it. Requests with different trust settings never share one either: a
/// connection's certificate was checked against its own settings only.
///
/// Cloned and hashed several times per request (job, pool maps, connection), so the parts
/// live behind one `Rc` and the hash is computed once.
#[derive(Clone, Debug)]
pub(crate) struct PoolKey(Rc<(KeyParts, u64)>);

/// The parts of a [`PoolKey`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyParts {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub route: Route,
    /// An https connection for requests that allow HTTP/2: its handshake offers h2 (a
    /// preconnect's may not, see `Pool::preconnect`). Always false for http.
    pub h2_offer: bool,
    /// What the TLS handshake trusts (https only).
    pub tls: Option<TlsKey>,
}

/// Everything about an https request that decides which certificate its connection accepts
/// and which identity it presents: the name the certificate is checked against and the
/// [trust fingerprint](SslConfiguration::trust_fingerprint) of its TLS configuration (CA
/// set, system CAs, client certificate and key, protocol range, verify mode), which each
/// configuration computes once and its clones share, so building a key costs a copy.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TlsKey {
    /// The peer verify name (empty: the host).
    pub peer_verify_name: String,
    pub fingerprint: [u8; 32],
}

impl TlsKey {
    /// The trust of a connection made with `config` (the default configuration when
    /// `None`), checking the certificate against `peer_verify_name` when given, else the
    /// configuration's own name.
    pub(crate) fn of(config: Option<&SslConfiguration>, peer_verify_name: Option<&str>) -> TlsKey {
        let fingerprint = match config {
            Some(config) => config.trust_fingerprint(),
            // The process-wide default, as it is now (it may be replaced).
            None => SslConfiguration::default_trust_fingerprint(),
        };
        let name = peer_verify_name
            .or_else(|| config.map(SslConfiguration::peer_verify_name))
            .unwrap_or_default();
        TlsKey {
            peer_verify_name: name.to_owned(),
            fingerprint,
        }
    }
}

impl PoolKey {
    /// The key for `url` over `route`; `http2_allowed` is the request's
    /// Http2AllowedAttribute; `tls` is used for https only.
    pub(crate) fn from_url(
        url: &Url,
        route: Route,
        http2_allowed: bool,
        tls: impl FnOnce() -> TlsKey,
    ) -> Option<PoolKey> {
        let https = url.scheme() == "https";
        Some(PoolKey::new(KeyParts {
            h2_offer: http2_allowed && https,
            scheme: url.scheme().to_owned(),
            host: url
                .host_str()?
                .trim_matches(|c| c == '[' || c == ']')
                .to_owned(),
            port: url.port_or_known_default()?,
            route,
            tls: https.then(tls),
        }))
    }

    fn new(parts: KeyParts) -> PoolKey {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(&parts);
        PoolKey(Rc::new((parts, hash)))
    }
}

impl std::ops::Deref for PoolKey {
    type Target = KeyParts;

    fn deref(&self) -> &KeyParts {
        &self.0 .0
    }
}

impl PartialEq for PoolKey {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || (self.0 .1 == other.0 .1 && self.0 .0 == other.0 .0)
    }
}

impl Eq for PoolKey {}

impl std::hash::Hash for PoolKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 .1)
    }
}
