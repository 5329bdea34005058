//! The application's proxy setting (Qt's `QNetworkProxy::setApplicationProxy` and
//! `QNetworkProxyFactory`): one process-wide choice between a fixed proxy, a factory, or
//! the system configuration.

use std::sync::{Arc, RwLock};

use super::env::EnvProxyConfig;
use super::query::NetworkProxyQuery;
use super::types::{NetworkProxy, ProxyType};

/// Chooses proxies per connection (Qt's `QNetworkProxyFactory`).
///
/// Installed process-wide with [`set_application_proxy_factory`]; it is then asked, from
/// whatever thread opens a connection, for each connection whose proxy is
/// [`ProxyType::DefaultProxy`]. The first usable proxy of the answer is used.
pub trait ProxyFactory: Send + Sync {
    /// The proxies to try for `query`, best first. An empty answer means `NoProxy`.
    fn query_proxy(&self, query: &NetworkProxyQuery) -> Vec<NetworkProxy>;
}

/// A factory answering from the environment ([`EnvProxyConfig::from_env`], read on each
/// query so that changes to the environment are seen).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemProxyFactory;

impl ProxyFactory for SystemProxyFactory {
    fn query_proxy(&self, query: &NetworkProxyQuery) -> Vec<NetworkProxy> {
        system_proxy_for_query(query)
    }
}

impl<F> ProxyFactory for F
where
    F: Fn(&NetworkProxyQuery) -> Vec<NetworkProxy> + Send + Sync,
{
    fn query_proxy(&self, query: &NetworkProxyQuery) -> Vec<NetworkProxy> {
        self(query)
    }
}

/// The application-wide setting.
#[derive(Clone)]
enum Setting {
    Proxy(NetworkProxy),
    Factory(Arc<dyn ProxyFactory>),
    /// The environment, read on each query.
    System,
}

static SETTING: RwLock<Option<Setting>> = RwLock::new(None);

fn setting() -> Option<Setting> {
    // A poisoned lock only means a writer panicked mid-assignment of a plain value.
    SETTING.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether an application-wide proxy setting exists (a proxy, a factory, or the system
/// configuration). Without one, [`proxy_for_query`] always answers "no proxy", so a caller on a
/// hot path (the HTTP client, once per request) can skip building a query.
pub fn has_application_proxy_setting() -> bool {
    SETTING.read().map(|s| s.is_some()).unwrap_or(true)
}

fn set_setting(value: Option<Setting>) {
    *SETTING.write().unwrap_or_else(|e| e.into_inner()) = value;
}

/// The proxies the system configuration gives for `query` (Qt's
/// `QNetworkProxyFactory::systemProxyForQuery`): on Unix, the `*_proxy` environment
/// variables (see [`EnvProxyConfig`]). Never empty.
pub fn system_proxy_for_query(query: &NetworkProxyQuery) -> Vec<NetworkProxy> {
    EnvProxyConfig::from_env().proxy_for_query(query)
}

/// Installs `factory` as the application's proxy factory (`None` removes it: no proxy),
/// replacing a proxy set with [`NetworkProxy::set_application_proxy`], as in Qt.
pub fn set_application_proxy_factory(factory: Option<Arc<dyn ProxyFactory>>) {
    set_setting(factory.map(Setting::Factory));
}

/// Whether the system configuration decides (Qt's `usesSystemConfiguration`).
pub fn uses_system_configuration() -> bool {
    matches!(setting(), Some(Setting::System))
}

/// Uses the system configuration (the environment) for every connection, or stops using
/// it (Qt's `setUseSystemConfiguration`). Off by default, as in Qt: environment variables
/// affect a program only when it asks for it.
pub fn set_use_system_configuration(enable: bool) {
    if enable {
        set_setting(Some(Setting::System));
    } else if uses_system_configuration() {
        set_application_proxy_factory(None);
    }
}

/// The proxies to use for `query` according to the application setting (Qt's
/// `QNetworkProxyFactory::proxyForQuery`): the factory's answer, the application proxy, or
/// `NoProxy`. Never empty; `DefaultProxy` entries are replaced by `NoProxy`.
pub fn proxy_for_query(query: &NetworkProxyQuery) -> Vec<NetworkProxy> {
    let mut list = match setting() {
        None => Vec::new(),
        Some(Setting::Proxy(proxy)) => vec![proxy],
        Some(Setting::Factory(factory)) => factory.query_proxy(query),
        Some(Setting::System) => system_proxy_for_query(query),
    };
    for proxy in &mut list {
        if proxy.proxy_type() == ProxyType::DefaultProxy {
            *proxy = NetworkProxy::no_proxy();
        }
    }
    if list.is_empty() {
        list.push(NetworkProxy::no_proxy());
    }
    list
}

impl NetworkProxy {
    /// The application's proxy (Qt's `applicationProxy`): the proxy set with
    /// [`set_application_proxy`](Self::set_application_proxy), or the factory's first answer
    /// for a default query; `NoProxy` unless something was set.
    pub fn application_proxy() -> NetworkProxy {
        proxy_for_query(&NetworkProxyQuery::default())
            .into_iter()
            .next()
            .unwrap_or_else(NetworkProxy::no_proxy)
    }

    /// Sets the proxy used by connections whose proxy is `DefaultProxy` (Qt's
    /// `setApplicationProxy`). It replaces any factory, the system configuration included.
    /// Process-wide.
    pub fn set_application_proxy(proxy: NetworkProxy) {
        set_setting(Some(Setting::Proxy(proxy)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::QueryType;

    /// The setting is process-wide: one test walks through every case so that parallel
    /// tests never observe each other's setting.
    #[test]
    fn application_setting() {
        let q = NetworkProxyQuery::for_host("example.com", 80, "http", QueryType::TcpSocket);
        set_application_proxy_factory(None);
        assert_eq!(proxy_for_query(&q), vec![NetworkProxy::no_proxy()]);
        assert_eq!(NetworkProxy::application_proxy(), NetworkProxy::no_proxy());

        let http = NetworkProxy::new(ProxyType::HttpProxy, "proxy", 3128);
        NetworkProxy::set_application_proxy(http.clone());
        assert_eq!(proxy_for_query(&q), vec![http.clone()]);
        assert_eq!(NetworkProxy::application_proxy(), http);

        // A factory replaces the proxy; it sees the query; empty answers become NoProxy.
        let socks = NetworkProxy::new(ProxyType::Socks5Proxy, "socks", 1080);
        let s = socks.clone();
        set_application_proxy_factory(Some(Arc::new(move |q: &NetworkProxyQuery| {
            if q.peer_host_name() == "example.com" {
                vec![s.clone(), NetworkProxy::default()]
            } else {
                Vec::new()
            }
        })));
        assert_eq!(
            proxy_for_query(&q),
            vec![socks.clone(), NetworkProxy::no_proxy()]
        );
        let other = NetworkProxyQuery::for_host("other", 1, "", QueryType::TcpSocket);
        assert_eq!(proxy_for_query(&other), vec![NetworkProxy::no_proxy()]);
        assert!(!uses_system_configuration());

        set_use_system_configuration(true);
        assert!(uses_system_configuration());
        // Setting a proxy turns the system configuration off, as in Qt.
        NetworkProxy::set_application_proxy(http);
        assert!(!uses_system_configuration());
        set_use_system_configuration(true);
        set_use_system_configuration(false);
        assert!(!uses_system_configuration());
        assert_eq!(NetworkProxy::application_proxy(), NetworkProxy::no_proxy());
    }
}
