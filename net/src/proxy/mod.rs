//! Proxies (Qt's `QNetworkProxy` family): describing proxies, choosing them per connection,
//! and connecting through them.
//!
//! - [`NetworkProxy`], [`ProxyType`], [`ProxyCapabilities`]: a proxy and what it can do.
//! - [`NetworkProxyQuery`], [`ProxyFactory`], [`proxy_for_query`],
//!   [`set_application_proxy_factory`], [`NetworkProxy::set_application_proxy`]: the
//!   application-wide choice of proxies.
//! - [`system_proxy_for_query`], [`EnvProxyConfig`], [`NoProxyList`]: the `http_proxy`,
//!   `https_proxy`, `all_proxy` and `no_proxy` environment variables.
//! - [`HttpConnectHandshake`], [`Socks5Handshake`]: the proxy protocols, sans-IO (bytes in,
//!   [`HandshakeEvent`]s and bytes out).
//! - [`ProxiedConnector`]: drives a handshake over a [`TcpSocket`](crate::TcpSocket) and
//!   hands the socket back with the tunnel up.
//! - [`Authenticator`], [`ProxyAuthScheme`], [`BasicProxyAuth`]: proxy credentials,
//!   cached in-process per proxy ([`cached_proxy_credentials`]).

mod auth;
mod connector;
mod env;
mod factory;
mod handshake;
mod http_connect;
mod query;
mod socks5;
mod types;

pub use auth::{
    basic_authorization, cache_proxy_credentials, cached_proxy_credentials, challenge_realm,
    clear_proxy_credentials, forget_proxy_credentials, Authenticator, BasicProxyAuth,
    ProxyAuthScheme,
};
pub use connector::{ProxiedConnector, ProxyAuthenticationRequest};
pub use env::{parse_proxy_url, EnvProxyConfig, NoProxyList};
pub use factory::{
    has_application_proxy_setting, proxy_for_query, set_application_proxy_factory,
    set_use_system_configuration, system_proxy_for_query, uses_system_configuration, ProxyFactory,
    SystemProxyFactory,
};
pub use handshake::{HandshakeEvent, ProxyError};
pub use http_connect::HttpConnectHandshake;
pub use query::{NetworkProxyQuery, QueryType};
pub use socks5::{Socks5Address, Socks5Handshake};
pub use types::{NetworkProxy, ProxyCapabilities, ProxyType};
