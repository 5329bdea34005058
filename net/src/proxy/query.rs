//! [`NetworkProxyQuery`] (Qt's `QNetworkProxyQuery`): what a connection is for, so that a
//! [`ProxyFactory`](crate::proxy::ProxyFactory) can choose a proxy for it.

use url::Url;

/// What kind of connection a query is about (Qt's `QNetworkProxyQuery::QueryType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum QueryType {
    /// An outgoing TCP connection ([`TcpSocket`](crate::TcpSocket),
    /// [`ProxiedConnector`](crate::proxy::ProxiedConnector)).
    #[default]
    TcpSocket,
    /// A UDP socket.
    UdpSocket,
    /// A listening TCP server.
    TcpServer,
    /// A URL request (the network access manager).
    UrlRequest,
}

impl QueryType {
    /// Qt's name for the query type.
    pub fn name(self) -> &'static str {
        match self {
            QueryType::TcpSocket => "TcpSocket",
            QueryType::UdpSocket => "UdpSocket",
            QueryType::TcpServer => "TcpServer",
            QueryType::UrlRequest => "UrlRequest",
        }
    }
}

/// A question to a proxy factory: which proxies to use for this connection (Qt's
/// `QNetworkProxyQuery`).
///
/// ```
/// use slotnet_net::proxy::{NetworkProxyQuery, QueryType};
///
/// let url = url::Url::parse("https://example.com/a").unwrap();
/// let q = NetworkProxyQuery::from_url(&url);
/// assert_eq!(q.query_type(), QueryType::UrlRequest);
/// assert_eq!(q.protocol_tag(), "https");
/// assert_eq!((q.peer_host_name(), q.peer_port()), ("example.com", Some(443)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NetworkProxyQuery {
    query_type: QueryType,
    peer_host_name: String,
    peer_port: Option<u16>,
    local_port: Option<u16>,
    protocol_tag: String,
    url: Option<Url>,
}

impl NetworkProxyQuery {
    /// A `UrlRequest` query for `url`: the protocol tag is its scheme, the peer its host and
    /// port (the scheme's default port when the URL has none).
    pub fn from_url(url: &Url) -> NetworkProxyQuery {
        NetworkProxyQuery {
            query_type: QueryType::UrlRequest,
            peer_host_name: url_host(url),
            peer_port: url.port_or_known_default(),
            local_port: None,
            protocol_tag: url.scheme().to_ascii_lowercase(),
            url: Some(url.clone()),
        }
    }

    /// A query for a connection to `host:port` (for example `QueryType::TcpSocket`), with a
    /// protocol tag such as `"http"` or `"https"` (may be empty).
    pub fn for_host(
        host: &str,
        port: u16,
        protocol_tag: &str,
        query_type: QueryType,
    ) -> NetworkProxyQuery {
        NetworkProxyQuery {
            query_type,
            peer_host_name: host.to_owned(),
            peer_port: Some(port),
            local_port: None,
            protocol_tag: protocol_tag.to_ascii_lowercase(),
            url: None,
        }
    }

    /// A `TcpServer` query for listening on `port`.
    pub fn for_local_port(port: u16, protocol_tag: &str) -> NetworkProxyQuery {
        NetworkProxyQuery {
            query_type: QueryType::TcpServer,
            local_port: Some(port),
            protocol_tag: protocol_tag.to_ascii_lowercase(),
            ..NetworkProxyQuery::default()
        }
    }

    /// The kind of connection.
    pub fn query_type(&self) -> QueryType {
        self.query_type
    }

    /// Sets the kind of connection.
    pub fn set_query_type(&mut self, query_type: QueryType) {
        self.query_type = query_type;
    }

    /// The host to reach (without IPv6 brackets).
    pub fn peer_host_name(&self) -> &str {
        &self.peer_host_name
    }

    /// Sets the host to reach.
    pub fn set_peer_host_name(&mut self, host: &str) {
        self.peer_host_name = host.to_owned();
    }

    /// The port to reach (`None`: unknown).
    pub fn peer_port(&self) -> Option<u16> {
        self.peer_port
    }

    /// Sets the port to reach.
    pub fn set_peer_port(&mut self, port: Option<u16>) {
        self.peer_port = port;
    }

    /// The local port of a server query.
    pub fn local_port(&self) -> Option<u16> {
        self.local_port
    }

    /// Sets the local port.
    pub fn set_local_port(&mut self, port: Option<u16>) {
        self.local_port = port;
    }

    /// The protocol tag (lower case): the URL scheme for URL requests, or what the caller
    /// said (`"http"`, `"https"`, ...).
    pub fn protocol_tag(&self) -> &str {
        &self.protocol_tag
    }

    /// Sets the protocol tag.
    pub fn set_protocol_tag(&mut self, tag: &str) {
        self.protocol_tag = tag.to_ascii_lowercase();
    }

    /// The URL of a URL request.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Sets the URL; the peer and protocol tag follow it, as in Qt.
    pub fn set_url(&mut self, url: &Url) {
        self.peer_host_name = url_host(url);
        self.peer_port = url.port_or_known_default();
        self.protocol_tag = url.scheme().to_ascii_lowercase();
        self.url = Some(url.clone());
    }
}

/// The URL's host without the brackets of an IPv6 literal.
fn url_host(url: &Url) -> String {
    match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_queries_take_peer_and_tag_from_the_url() {
        let url = Url::parse("HTTP://[::1]:8080/x").unwrap();
        let q = NetworkProxyQuery::from_url(&url);
        assert_eq!(q.peer_host_name(), "::1");
        assert_eq!(q.peer_port(), Some(8080));
        assert_eq!(q.protocol_tag(), "http");
        let mut q = NetworkProxyQuery::for_host("h", 25, "SMTP", QueryType::TcpSocket);
        assert_eq!(q.protocol_tag(), "smtp");
        q.set_url(&Url::parse("ftp://f.example/").unwrap());
        assert_eq!((q.peer_host_name(), q.peer_port()), ("f.example", Some(21)));
        let s = NetworkProxyQuery::for_local_port(80, "http");
        assert_eq!(s.query_type(), QueryType::TcpServer);
        assert_eq!(s.local_port(), Some(80));
    }
}
