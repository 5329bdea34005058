//! How a request reaches its server: directly, through an HTTP proxy that forwards plain
//! `http:` requests (absolute-form targets), or through a tunnel (HTTP `CONNECT`, SOCKS5).
//! The choice follows Qt: the request's own proxy (a slotnet extension), else the manager's
//! proxy factory, else the manager's proxy, else the application setting.

use slotnet_net::proxy::{
    has_application_proxy_setting, proxy_for_query, NetworkProxy, NetworkProxyQuery, ProxyType,
};
use url::Url;

use super::features::ClientFeatures;
use crate::error::NetworkError;
use crate::request::NetworkRequest;

/// The path of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// Straight to the server.
    #[default]
    Direct,
    /// Plain http handed to an HTTP proxy, which forwards each request.
    Forward(NetworkProxy),
    /// A byte stream to the server through a proxy (CONNECT or SOCKS5), TLS on top for https.
    Tunnel(NetworkProxy),
}

impl Route {
    /// The proxy of the route, if any.
    pub(crate) fn proxy(&self) -> Option<&NetworkProxy> {
        match self {
            Route::Direct => None,
            Route::Forward(p) | Route::Tunnel(p) => Some(p),
        }
    }
}

/// The route `proxy` gives to a request for `scheme`, or `None` if it cannot carry it.
fn route_for(proxy: &NetworkProxy, scheme: &str) -> Option<Route> {
    let https = scheme == "https";
    match proxy.proxy_type() {
        ProxyType::NoProxy => Some(Route::Direct),
        ProxyType::HttpProxy if https => proxy
            .is_transparent_proxy()
            .then(|| Route::Tunnel(proxy.clone())),
        ProxyType::HttpProxy | ProxyType::HttpCachingProxy if !https => {
            Some(Route::Forward(proxy.clone()))
        }
        ProxyType::Socks5Proxy => proxy
            .is_transparent_proxy()
            .then(|| Route::Tunnel(proxy.clone())),
        _ => None,
    }
}

/// The first usable route among `proxies`.
fn first_usable(proxies: &[NetworkProxy], url: &Url) -> Result<Route, (NetworkError, String)> {
    proxies
        .iter()
        .find_map(|p| route_for(p, url.scheme()))
        .ok_or_else(|| {
            (
                NetworkError::ProxyNotFoundError,
                "No suitable proxy found".to_owned(),
            )
        })
}

/// The application's choice for `url` (`DefaultProxy`).
fn application_route(url: &Url) -> Result<Route, (NetworkError, String)> {
    if !has_application_proxy_setting() {
        return Ok(Route::Direct); // the common case, without building a query
    }
    first_usable(&proxy_for_query(&NetworkProxyQuery::from_url(url)), url)
}

/// Chooses the route of a request for `url`.
pub(crate) fn choose(
    features: Option<&ClientFeatures>,
    request: &NetworkRequest,
    url: &Url,
) -> Result<Route, (NetworkError, String)> {
    if let Some(proxy) = request.proxy() {
        if proxy.proxy_type() != ProxyType::DefaultProxy {
            return first_usable(std::slice::from_ref(proxy), url);
        }
    }
    let Some(features) = features else {
        return application_route(url);
    };
    let factory = features.proxy_factory.borrow().clone();
    if let Some(factory) = factory {
        let mut proxies = factory.query_proxy(&NetworkProxyQuery::from_url(url));
        if proxies.is_empty() {
            proxies.push(NetworkProxy::no_proxy());
        }
        if proxies
            .iter()
            .all(|p| p.proxy_type() == ProxyType::DefaultProxy)
        {
            return application_route(url);
        }
        return first_usable(&proxies, url);
    }
    let proxy = features.proxy.borrow().clone();
    match proxy {
        Some(p) if p.proxy_type() != ProxyType::DefaultProxy => {
            first_usable(std::slice::from_ref(&p), url)
        }
        _ => application_route(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_types_carry_what_qt_lets_them_carry() {
        let http = NetworkProxy::new(ProxyType::HttpProxy, "p", 3128);
        let caching = NetworkProxy::new(ProxyType::HttpCachingProxy, "p", 3128);
        let socks = NetworkProxy::new(ProxyType::Socks5Proxy, "s", 1080);
        assert_eq!(route_for(&http, "http"), Some(Route::Forward(http.clone())));
        assert_eq!(route_for(&http, "https"), Some(Route::Tunnel(http.clone())));
        assert_eq!(
            route_for(&caching, "http"),
            Some(Route::Forward(caching.clone()))
        );
        assert_eq!(route_for(&caching, "https"), None);
        assert_eq!(
            route_for(&socks, "http"),
            Some(Route::Tunnel(socks.clone()))
        );
        assert_eq!(
            route_for(&NetworkProxy::no_proxy(), "https"),
            Some(Route::Direct)
        );
        let url = Url::parse("https://h/").unwrap();
        assert_eq!(
            first_usable(&[caching], &url).unwrap_err().0,
            NetworkError::ProxyNotFoundError
        );
    }

    #[test]
    fn the_requests_proxy_wins() {
        let mut request = NetworkRequest::from_url_str("http://h/");
        let socks = NetworkProxy::new(ProxyType::Socks5Proxy, "s", 1080);
        request.set_proxy(Some(socks.clone()));
        let url = request.url().unwrap().clone();
        assert_eq!(choose(None, &request, &url), Ok(Route::Tunnel(socks)));
        request.set_proxy(Some(NetworkProxy::no_proxy()));
        assert_eq!(choose(None, &request, &url), Ok(Route::Direct));
    }
}
