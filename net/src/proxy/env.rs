//! The system proxy configuration on Unix: the `http_proxy`, `https_proxy`, `all_proxy` and
//! `no_proxy` environment variables, read the way curl and most Unix tools read them (the
//! rules are on [`EnvProxyConfig`]).

use std::net::IpAddr;

use url::Url;

use super::query::{NetworkProxyQuery, QueryType};
use super::types::{NetworkProxy, ProxyCapabilities, ProxyType};

/// Longest `no_proxy` value considered (longer values are cut): the list is parsed on every
/// query and should stay cheap.
const NO_PROXY_MAX_LEN: usize = 64 * 1024;

/// The proxy settings read from the environment, with the rules of Qt 6.4's
/// `QNetworkProxyFactory::systemProxyForQuery` on Linux.
///
/// - `http_proxy` applies to `http` (and `ws`) connections, `https_proxy` to `https` (and
///   `wss`), `ftp_proxy` to `ftp`; `all_proxy` (curl's variable, which Qt does not read) to
///   everything when the protocol's own variable is unset; and, as in Qt, `http_proxy` to
///   everything still without a proxy: `ftp`, `https` and plain TCP connections included.
///   The lower-case name wins over the upper-case one; an empty value is unset.
///   `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set: in a CGI program it comes from
///   the client's `Proxy:` header ("httpoxy").
/// - The answer ends with `NoProxy`, as Qt's: `[proxy, NoProxy]`, or `[NoProxy]` when no
///   variable applies or `no_proxy` matches. An HTTP proxy is not offered for a
///   `TcpServer` or `UdpSocket` query (it cannot carry them), as in Qt.
/// - Values are URLs: `http://` (or no scheme) → [`ProxyType::HttpProxy`] (port 8080 when
///   none is given, as Qt), `socks5://` → [`ProxyType::Socks5Proxy`] resolving names
///   locally, `socks5h://` → SOCKS5 with the proxy resolving names (port 1080). Credentials
///   in the URL (`http://user:p%40ss@host:3128`) are percent-decoded. Other schemes (TLS to
///   the proxy, SOCKS4) are not supported and leave the variable unused.
/// - `no_proxy` is a list separated by commas or spaces: `*` (no proxy at all), domain
///   names (`example.com` matches itself and its subdomains; `.example.com` and
///   `*.example.com` only the subdomains, as in Qt, where curl would also match
///   `example.com`), IP addresses, CIDR blocks (`10.0.0.0/8`), any of them with a `:port`
///   (`[::1]:8080` for IPv6). Matching ignores ASCII case and a trailing dot.
///
/// ```
/// use slotnet_net::proxy::{EnvProxyConfig, NetworkProxyQuery, ProxyType, QueryType};
///
/// let env = |name: &str| match name {
///     "https_proxy" => Some("http://proxy.corp:3128".to_owned()),
///     "no_proxy" => Some("localhost,.internal".to_owned()),
///     _ => None,
/// };
/// let config = EnvProxyConfig::from_lookup(env);
/// let q = NetworkProxyQuery::for_host("example.com", 443, "https", QueryType::TcpSocket);
/// assert_eq!(config.proxy_for_query(&q)[0].host_name(), "proxy.corp");
/// let q = NetworkProxyQuery::for_host("db.internal", 443, "https", QueryType::TcpSocket);
/// assert_eq!(config.proxy_for_query(&q)[0].proxy_type(), ProxyType::NoProxy);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvProxyConfig {
    http: Option<NetworkProxy>,
    https: Option<NetworkProxy>,
    ftp: Option<NetworkProxy>,
    all: Option<NetworkProxy>,
    no_proxy: NoProxyList,
}

impl EnvProxyConfig {
    /// The configuration from this process's environment.
    pub fn from_env() -> EnvProxyConfig {
        EnvProxyConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from `lookup`, which maps a variable name to its value (for tests
    /// and for programs that keep settings elsewhere).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> EnvProxyConfig {
        let get = |lower: &str, upper: Option<&str>| {
            std::iter::once(lower)
                .chain(upper)
                .filter_map(&lookup)
                .find(|v| !v.trim().is_empty())
        };
        let cgi = lookup("REQUEST_METHOD").is_some();
        let http_upper = if cgi { None } else { Some("HTTP_PROXY") };
        EnvProxyConfig {
            http: get("http_proxy", http_upper).and_then(|v| parse_proxy_url(&v)),
            https: get("https_proxy", Some("HTTPS_PROXY")).and_then(|v| parse_proxy_url(&v)),
            ftp: get("ftp_proxy", Some("FTP_PROXY")).and_then(|v| parse_proxy_url(&v)),
            all: get("all_proxy", Some("ALL_PROXY")).and_then(|v| parse_proxy_url(&v)),
            no_proxy: get("no_proxy", Some("NO_PROXY"))
                .map(|v| NoProxyList::parse(&v))
                .unwrap_or_default(),
        }
    }

    /// Whether no proxy variable is set.
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.ftp.is_none() && self.all.is_none()
    }

    /// The `no_proxy` list.
    pub fn no_proxy(&self) -> &NoProxyList {
        &self.no_proxy
    }

    /// The proxies for `query`: the variable's proxy followed by `NoProxy`, or `NoProxy`
    /// alone when none applies or `no_proxy` matches the peer. Never empty.
    pub fn proxy_for_query(&self, query: &NetworkProxyQuery) -> Vec<NetworkProxy> {
        let specific = match query.protocol_tag() {
            "http" | "ws" => self.http.as_ref(),
            "https" | "wss" => self.https.as_ref(),
            "ftp" => self.ftp.as_ref(),
            _ => None,
        };
        let chosen = specific.or(self.all.as_ref()).or(self.http.as_ref());
        let carries = |proxy: &NetworkProxy| {
            proxy.proxy_type() != ProxyType::HttpProxy
                || !matches!(
                    query.query_type(),
                    QueryType::TcpServer | QueryType::UdpSocket
                )
        };
        match chosen {
            Some(proxy)
                if carries(proxy)
                    && !self
                        .no_proxy
                        .matches(query.peer_host_name(), query.peer_port()) =>
            {
                vec![proxy.clone(), NetworkProxy::no_proxy()]
            }
            _ => vec![NetworkProxy::no_proxy()],
        }
    }
}

/// Parses a proxy URL as found in `http_proxy` and friends (see [`EnvProxyConfig`]);
/// `None` for an unsupported scheme or a missing host.
pub fn parse_proxy_url(value: &str) -> Option<NetworkProxy> {
    let value = value.trim();
    let owned;
    let text = if value.contains("://") {
        value
    } else {
        owned = format!("http://{value}");
        &owned
    };
    let url = Url::parse(text).ok()?;
    let (kind, default_port, remote_dns) = match url.scheme().to_ascii_lowercase().as_str() {
        "http" => (ProxyType::HttpProxy, 8080, true),
        "socks5" => (ProxyType::Socks5Proxy, 1080, false),
        "socks5h" => (ProxyType::Socks5Proxy, 1080, true),
        _ => return None,
    };
    let host = match url.host()? {
        url::Host::Ipv6(ip) => ip.to_string(),
        host => host.to_string(),
    };
    if host.is_empty() {
        return None;
    }
    // `Url` leaves the default port of `http` implicit: an explicit `:80` must survive.
    let port = url
        .port()
        .or_else(|| explicit_port(text))
        .unwrap_or(default_port);
    let mut proxy = NetworkProxy::new(kind, host, port);
    proxy.set_user(percent_decode(url.username()));
    proxy.set_password(percent_decode(url.password().unwrap_or("")));
    if !remote_dns {
        proxy.set_capabilities(kind.default_capabilities() & !ProxyCapabilities::HOST_NAME_LOOKUP);
    }
    Some(proxy)
}

/// The port written in the authority of `text`, for schemes whose default port `Url`
/// hides (`http://h:80` has `port() == None`).
fn explicit_port(text: &str) -> Option<u16> {
    let rest = &text[text.find("://")? + 3..];
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let (_, port) = host_port.rsplit_once(':')?;
    if port.contains(']') {
        return None; // the colon was inside an IPv6 literal
    }
    port.parse().ok()
}

/// Percent-decoding of a proxy URL's user info (invalid escapes stay as they are, bytes
/// that are not UTF-8 are replaced).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// One `no_proxy` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NoProxyHost {
    /// A domain and its subdomains (lower case, no leading or trailing dot).
    Domain(String),
    /// An address and prefix length (a single address has the full length).
    Network(IpAddr, u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct NoProxyEntry {
    host: NoProxyHost,
    /// `.example.com` / `*.example.com`: not `example.com` itself (Qt's rule).
    subdomains_only: bool,
    port: Option<u16>,
}

/// A parsed `no_proxy` list (see [`EnvProxyConfig`]).
///
/// ```
/// use slotnet_net::proxy::NoProxyList;
///
/// let list = NoProxyList::parse("example.com, 10.0.0.0/8, [::1]:8080");
/// assert!(list.matches("www.EXAMPLE.com.", Some(80)));
/// assert!(!list.matches("notexample.com", Some(80)));
/// assert!(list.matches("10.1.2.3", None));
/// assert!(list.matches("::1", Some(8080)));
/// assert!(!list.matches("::1", Some(80)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxyList {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

impl NoProxyList {
    /// Parses a list; entries that make no sense are skipped.
    pub fn parse(value: &str) -> NoProxyList {
        let mut value = value;
        if value.len() > NO_PROXY_MAX_LEN {
            let mut cut = NO_PROXY_MAX_LEN;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value = &value[..cut];
        }
        let mut list = NoProxyList::default();
        for item in value.split([',', ' ', '\t', '\n']) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                list.all = true;
                continue;
            }
            if let Some(entry) = parse_entry(item) {
                list.entries.push(entry);
            }
        }
        list
    }

    /// Whether the list contains `*` (no proxy for anything).
    pub fn matches_all(&self) -> bool {
        self.all
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        !self.all && self.entries.is_empty()
    }

    /// Whether a connection to `host` (a name or an IP literal, brackets allowed) on `port`
    /// should bypass the proxy.
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        self.entries.iter().any(|entry| {
            if entry.port.is_some() && entry.port != port {
                return false;
            }
            match (&entry.host, ip) {
                (NoProxyHost::Network(net, len), Some(ip)) => in_network(ip, *net, *len),
                (NoProxyHost::Domain(domain), None) => {
                    (host == *domain && !entry.subdomains_only)
                        || (host.len() > domain.len()
                            && host.ends_with(domain.as_str())
                            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
                }
                _ => false,
            }
        })
    }
}

fn parse_entry(item: &str) -> Option<NoProxyEntry> {
    // `[v6]`, `[v6]:port`
    if let Some(rest) = item.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return network_entry(addr, port);
    }
    // A bare IPv6 address or block has several colons and no port.
    if item.matches(':').count() > 1 {
        return network_entry(item, None);
    }
    let (host, port) = match item.split_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (item, None),
    };
    if host.contains('/') || host.parse::<IpAddr>().is_ok() {
        return network_entry(host, port);
    }
    let host = host.strip_prefix('*').unwrap_or(host);
    let subdomains_only = host.starts_with('.');
    let host = host.trim_start_matches('.');
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    Some(NoProxyEntry {
        host: NoProxyHost::Domain(host),
        subdomains_only,
        port,
    })
}

fn network_entry(text: &str, port: Option<u16>) -> Option<NoProxyEntry> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return None;
    }
    Some(NoProxyEntry {
        host: NoProxyHost::Network(addr, len),
        subdomains_only: false,
        port,
    })
}

fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    // An IPv4-mapped IPv6 address is its IPv4 address for matching.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::QueryType;

    fn config(vars: &[(&str, &str)]) -> EnvProxyConfig {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvProxyConfig::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn pick(config: &EnvProxyConfig, host: &str, port: u16, tag: &str) -> NetworkProxy {
        let q = NetworkProxyQuery::for_host(host, port, tag, QueryType::TcpSocket);
        let list = config.proxy_for_query(&q);
        // Qt's shape: the proxy, then NoProxy; or NoProxy alone.
        assert_eq!(list.last(), Some(&NetworkProxy::no_proxy()), "{list:?}");
        assert!(list.len() <= 2, "{list:?}");
        list.into_iter().next().unwrap()
    }

    #[test]
    fn proxy_urls() {
        // (value, type, host, port, user, password, remote name lookup)
        let table: &[(&str, ProxyType, &str, u16, &str, &str, bool)] = &[
            (
                "proxy:3128",
                ProxyType::HttpProxy,
                "proxy",
                3128,
                "",
                "",
                true,
            ),
            (
                "http://proxy",
                ProxyType::HttpProxy,
                "proxy",
                8080,
                "",
                "",
                true,
            ),
            (
                "http://proxy:80/",
                ProxyType::HttpProxy,
                "proxy",
                80,
                "",
                "",
                true,
            ),
            (
                "HTTP://Proxy.Corp:1/",
                ProxyType::HttpProxy,
                "proxy.corp",
                1,
                "",
                "",
                true,
            ),
            (
                "http://u:p%40ss@p:1",
                ProxyType::HttpProxy,
                "p",
                1,
                "u",
                "p@ss",
                true,
            ),
            (
                "http://[::1]:3128",
                ProxyType::HttpProxy,
                "::1",
                3128,
                "",
                "",
                true,
            ),
            (
                "socks5://s",
                ProxyType::Socks5Proxy,
                "s",
                1080,
                "",
                "",
                false,
            ),
            (
                "socks5h://a:b@s:9",
                ProxyType::Socks5Proxy,
                "s",
                9,
                "a",
                "b",
                true,
            ),
            (
                " 10.0.0.1:8000 ",
                ProxyType::HttpProxy,
                "10.0.0.1",
                8000,
                "",
                "",
                true,
            ),
        ];
        for &(value, kind, host, port, user, password, remote) in table {
            let p = parse_proxy_url(value).unwrap_or_else(|| panic!("{value}"));
            assert_eq!(p.proxy_type(), kind, "{value}");
            assert_eq!(p.host_name(), host, "{value}");
            assert_eq!(p.port(), port, "{value}");
            assert_eq!((p.user(), p.password()), (user, password), "{value}");
            assert_eq!(
                p.capabilities()
                    .contains(ProxyCapabilities::HOST_NAME_LOOKUP),
                remote,
                "{value}"
            );
        }
        for bad in [
            "https://p:1",
            "socks4://p",
            "http://",
            "http://:8080",
            "%%%",
        ] {
            assert_eq!(parse_proxy_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn variables_and_precedence() {
        let c = config(&[
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:1"),
            ("HTTPS_PROXY", "http://secure:2"),
            ("all_proxy", "socks5h://all:3"),
        ]);
        assert_eq!(pick(&c, "e.com", 80, "http").host_name(), "lower");
        assert_eq!(pick(&c, "e.com", 80, "ws").host_name(), "lower");
        assert_eq!(pick(&c, "e.com", 443, "https").host_name(), "secure");
        assert_eq!(pick(&c, "e.com", 22, "ssh").host_name(), "all");
        assert_eq!(pick(&c, "e.com", 22, "").host_name(), "all");

        // Upper case alone is used; empty lower-case values count as unset.
        let c = config(&[("http_proxy", " "), ("HTTP_PROXY", "http://upper:1")]);
        assert_eq!(pick(&c, "e.com", 80, "http").host_name(), "upper");
        // ... except HTTP_PROXY in a CGI program.
        let c = config(&[("HTTP_PROXY", "http://upper:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(
            pick(&c, "e.com", 80, "http").proxy_type(),
            ProxyType::NoProxy
        );
        // https falls back to all_proxy.
        let c = config(&[("ALL_PROXY", "socks5://s:1")]);
        assert_eq!(
            pick(&c, "e.com", 443, "https").proxy_type(),
            ProxyType::Socks5Proxy
        );
        // Nothing set: NoProxy; an unsupported scheme is as good as unset.
        let c = config(&[("https_proxy", "https://tls-proxy:443")]);
        assert!(c.is_empty());
        assert_eq!(
            pick(&c, "e.com", 443, "https").proxy_type(),
            ProxyType::NoProxy
        );
    }

    #[test]
    fn no_proxy_table() {
        // (no_proxy, host, port, bypass)
        let table: &[(&str, &str, u16, bool)] = &[
            ("", "example.com", 80, false),
            ("*", "anything", 1, true),
            ("a.com,*", "x", 1, true),
            ("example.com", "example.com", 80, true),
            ("example.com", "www.example.com", 80, true),
            ("example.com", "wwwexample.com", 80, false),
            ("example.com", "example.com.evil", 80, false),
            (".example.com", "example.com", 80, false),
            (".example.com", "www.example.com", 80, true),
            ("*.example.com", "example.com", 80, false),
            ("*.example.com", "a.b.example.com", 80, true),
            ("Example.COM.", "EXAMPLE.com.", 80, true),
            ("example.com:8080", "example.com", 8080, true),
            ("example.com:8080", "example.com", 80, false),
            ("localhost 127.0.0.1", "127.0.0.1", 80, true),
            ("127.0.0.1", "127.0.0.2", 80, false),
            ("10.0.0.0/8", "10.200.1.1", 80, true),
            ("10.0.0.0/8", "11.0.0.1", 80, false),
            ("10.0.0.0/8", "10.example", 80, false),
            ("192.168.1.0/24:443", "192.168.1.9", 443, true),
            ("192.168.1.0/24:443", "192.168.1.9", 80, false),
            ("::1", "::1", 80, true),
            ("::1", "[::1]", 80, true),
            ("[::1]:8080", "::1", 8080, true),
            ("[::1]:8080", "::1", 80, false),
            ("fd00::/8", "fd12::1", 80, true),
            ("127.0.0.0/8", "::ffff:127.0.0.1", 80, true),
            ("0.0.0.0/0", "8.8.8.8", 80, true),
            ("bad:port,other.com", "other.com", 1, true),
            ("1.2.3.4/40", "1.2.3.4", 1, false),
            (", ,\t", "x", 1, false),
        ];
        for &(list, host, port, bypass) in table {
            let c = config(&[("all_proxy", "http://p:1"), ("no_proxy", list)]);
            let expected = if bypass {
                ProxyType::NoProxy
            } else {
                ProxyType::HttpProxy
            };
            assert_eq!(
                pick(&c, host, port, "").proxy_type(),
                expected,
                "no_proxy={list:?} host={host} port={port}"
            );
        }
        // NO_PROXY is read when no_proxy is unset.
        let c = config(&[("all_proxy", "http://p:1"), ("NO_PROXY", "x.org")]);
        assert_eq!(pick(&c, "a.x.org", 1, "").proxy_type(), ProxyType::NoProxy);
    }

    #[test]
    fn qt_fallbacks_and_trailing_no_proxy() {
        let c = config(&[("http_proxy", "http://web:1")]);
        for tag in ["http", "https", "ftp", ""] {
            assert_eq!(pick(&c, "e.com", 21, tag).host_name(), "web", "{tag:?}");
        }
        let q = NetworkProxyQuery::for_host("e.com", 80, "http", QueryType::TcpSocket);
        assert_eq!(
            c.proxy_for_query(&q),
            vec![
                parse_proxy_url("http://web:1").unwrap(),
                NetworkProxy::no_proxy()
            ]
        );
        // An HTTP proxy cannot carry a server or UDP: NoProxy, as Qt.
        for kind in [QueryType::TcpServer, QueryType::UdpSocket] {
            let q = NetworkProxyQuery::for_host("e.com", 80, "", kind);
            assert_eq!(c.proxy_for_query(&q), vec![NetworkProxy::no_proxy()]);
        }
        // ftp_proxy for ftp only; all_proxy before the http_proxy fallback.
        let c = config(&[
            ("http_proxy", "http://web:1"),
            ("ftp_proxy", "http://files:2"),
            ("all_proxy", "socks5://all:3"),
        ]);
        assert_eq!(pick(&c, "e.com", 21, "ftp").host_name(), "files");
        assert_eq!(pick(&c, "e.com", 22, "").host_name(), "all");
        assert_eq!(pick(&c, "e.com", 443, "https").host_name(), "all");
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%20b%"), "a b%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        // A sign is not a hex digit (`u8::from_str_radix` took `%+1` for byte 0x01).
        assert_eq!(percent_decode("%+1%+f"), "%+1%+f");
    }
}
