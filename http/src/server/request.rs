//! [`HttpServerRequest`]: a complete request as a handler sees it.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderMap, Method, Version};
use url::Url;

use crate::h1::ByteStr;

/// Where a connection comes from: what a transport tells the server when it hands over a
/// connection (see [`AbstractHttpServer::add_connection`](super::AbstractHttpServer::add_connection)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionInfo {
    /// The client's address (`None` for a Unix domain socket).
    pub remote: Option<SocketAddr>,
    /// The server's address of the connection (`None` for a Unix domain socket).
    pub local: Option<SocketAddr>,
    /// Whether the transport is encrypted (the request URLs are then `https:`).
    pub secure: bool,
}

/// A request received by the server (Qt's `QHttpServerRequest`), complete with its body.
///
/// Cheap to clone: the target, header values and body share the bytes received.
#[derive(Debug, Clone)]
pub struct HttpServerRequest {
    method: Method,
    target: ByteStr,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
    info: ConnectionInfo,
}

impl HttpServerRequest {
    pub(crate) fn new(
        method: Method,
        target: ByteStr,
        version: Version,
        headers: HeaderMap,
        body: Bytes,
        info: ConnectionInfo,
    ) -> Self {
        HttpServerRequest {
            method,
            target,
            version,
            headers,
            body,
            info,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target exactly as received (`/path?query`, or an absolute URL).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path part of the target, still percent-encoded (`/a%20b` for `/a%20b?x=1`).
    pub fn path(&self) -> &str {
        split_target(&self.target).0
    }

    /// The query part of the target without the `?`, still percent-encoded.
    pub fn query(&self) -> Option<&str> {
        split_target(&self.target).1
    }

    /// The query's name/value pairs, decoded (`+` is a space), in order.
    pub fn query_items(&self) -> Vec<(String, String)> {
        self.query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The decoded value of the first query item named `name`.
    pub fn query_item_value(&self, name: &str) -> Option<String> {
        let query = self.query()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The absolute URL of the request (Qt's `url()`): the scheme of the transport, the
    /// authority from the `Host` header (the local address when it is missing or invalid),
    /// then the target. Built on each call.
    pub fn url(&self) -> Url {
        let scheme = if self.info.secure { "https" } else { "http" };
        if !self.target.starts_with('/') {
            if let Ok(url) = Url::parse(&self.target) {
                if url.has_host() {
                    return url;
                }
            }
        }
        let path = if self.target.starts_with('/') {
            self.target.as_str()
        } else {
            "/"
        };
        let host = self
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@', '\\']));
        if let Some(host) = host {
            if let Ok(url) = Url::parse(&format!("{scheme}://{host}{path}")) {
                return url;
            }
        }
        let authority = match self.info.local {
            Some(addr) => addr.to_string(),
            None => "localhost".to_owned(),
        };
        Url::parse(&format!("{scheme}://{authority}{path}"))
            .or_else(|_| Url::parse(&format!("{scheme}://{authority}/")))
            .unwrap_or_else(|_| Url::parse("http://localhost/").expect("static URL"))
    }

    /// The HTTP version (`HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields, in received order.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of header `name` as text (Qt's `value()`); `None` if absent or not
    /// visible ASCII.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request body (empty when there was none).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The client's address and port (`None` over a Unix domain socket).
    pub fn remote_socket_addr(&self) -> Option<SocketAddr> {
        self.info.remote
    }

    /// The client's address (`None` over a Unix domain socket).
    pub fn remote_address(&self) -> Option<IpAddr> {
        self.info.remote.map(|a| a.ip())
    }

    /// The client's port (0 over a Unix domain socket).
    pub fn remote_port(&self) -> u16 {
        self.info.remote.map_or(0, |a| a.port())
    }

    /// The server's address and port of the connection.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        self.info.local
    }

    /// The server's address of the connection.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.info.local.map(|a| a.ip())
    }

    /// The server's port of the connection (0 over a Unix domain socket).
    pub fn local_port(&self) -> u16 {
        self.info.local.map_or(0, |a| a.port())
    }

    /// Whether the request came over an encrypted transport.
    pub fn is_secure(&self) -> bool {
        self.info.secure
    }
}

/// Splits a request target into its path and query, for origin-form (`/p?q`) and
/// absolute-form (`http://host/p?q`) targets alike. `*` and authority-form targets have an
/// empty path.
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    let rest = if target.starts_with('/') {
        target
    } else if let Some(after_scheme) = target.find("://").map(|i| &target[i + 3..]) {
        match after_scheme.find(['/', '?']) {
            Some(i) => &after_scheme[i..],
            None => "/",
        }
    } else {
        ""
    };
    let rest = rest.split('#').next().unwrap_or_default();
    match rest.split_once('?') {
        Some((path, query)) => (if path.is_empty() { "/" } else { path }, Some(query)),
        None => (rest, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, host: Option<&'static str>) -> HttpServerRequest {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(HOST, http::HeaderValue::from_static(host));
        }
        HttpServerRequest::new(
            Method::GET,
            ByteStr::from(target),
            Version::HTTP_11,
            headers,
            Bytes::new(),
            ConnectionInfo {
                remote: None,
                local: Some("127.0.0.1:8080".parse().unwrap()),
                secure: false,
            },
        )
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1&y"), ("/a/b", Some("x=1&y")));
        assert_eq!(split_target("/"), ("/", None));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", Some("q")));
        assert_eq!(split_target("http://h:1?q"), ("/", Some("q")));
        assert_eq!(split_target("http://h"), ("/", None));
        assert_eq!(split_target("*"), ("", None));
    }

    #[test]
    fn url_is_built_from_host_or_local_address() {
        let r = request("/p?a=b%20c&d=e+f", Some("example.com:81"));
        assert_eq!(r.url().as_str(), "http://example.com:81/p?a=b%20c&d=e+f");
        assert_eq!(
            r.query_items(),
            vec![
                ("a".to_owned(), "b c".to_owned()),
                ("d".to_owned(), "e f".to_owned())
            ]
        );
        assert_eq!(r.query_item_value("d").as_deref(), Some("e f"));
        assert_eq!(
            request("/x", None).url().as_str(),
            "http://127.0.0.1:8080/x"
        );
        assert_eq!(
            request("/x", Some("bad host@evil")).url().as_str(),
            "http://127.0.0.1:8080/x"
        );
        assert_eq!(
            request("http://other/y", Some("h")).url().as_str(),
            "http://other/y"
        );
    }
}
