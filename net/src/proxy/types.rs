//! [`NetworkProxy`] (Qt's `QNetworkProxy`): a proxy's type, address, credentials and
//! capabilities.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// The kind of proxy (Qt's `QNetworkProxy::ProxyType`).
#[allow(clippy::enum_variant_names)] // Qt's names
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProxyType {
    /// Use the application's proxy setting (see [`NetworkProxy::application_proxy`] and
    /// [`set_application_proxy_factory`](crate::proxy::set_application_proxy_factory)).
    DefaultProxy,
    /// SOCKS version 5 (RFC 1928, with RFC 1929 user/password authentication).
    Socks5Proxy,
    /// No proxy: connect directly.
    #[default]
    NoProxy,
    /// An HTTP proxy that tunnels any TCP connection with `CONNECT`.
    HttpProxy,
    /// An HTTP proxy for HTTP requests only (absolute-form requests, no tunnelling).
    HttpCachingProxy,
}

impl ProxyType {
    /// Qt's name for the type (`"Socks5Proxy"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ProxyType::DefaultProxy => "DefaultProxy",
            ProxyType::Socks5Proxy => "Socks5Proxy",
            ProxyType::NoProxy => "NoProxy",
            ProxyType::HttpProxy => "HttpProxy",
            ProxyType::HttpCachingProxy => "HttpCachingProxy",
        }
    }

    /// The capabilities Qt gives a proxy of this type unless they are set explicitly.
    pub fn default_capabilities(self) -> ProxyCapabilities {
        use ProxyCapabilities as C;
        match self {
            ProxyType::DefaultProxy | ProxyType::NoProxy => {
                C::TUNNELING | C::LISTENING | C::UDP_TUNNELING
            }
            ProxyType::Socks5Proxy => {
                C::TUNNELING | C::LISTENING | C::UDP_TUNNELING | C::HOST_NAME_LOOKUP
            }
            ProxyType::HttpProxy => C::TUNNELING | C::CACHING | C::HOST_NAME_LOOKUP,
            ProxyType::HttpCachingProxy => C::CACHING | C::HOST_NAME_LOOKUP,
        }
    }
}

impl fmt::Display for ProxyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a proxy can do (Qt's `QNetworkProxy::Capabilities`), a set of flags with Qt's values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProxyCapabilities(u32);

impl ProxyCapabilities {
    /// Qt's `TunnelingCapability`: it tunnels TCP connections (HTTP `CONNECT`, SOCKS5).
    pub const TUNNELING: ProxyCapabilities = ProxyCapabilities(0x01);
    /// Qt's `ListeningCapability`: it can listen for incoming connections (SOCKS5 `BIND`).
    pub const LISTENING: ProxyCapabilities = ProxyCapabilities(0x02);
    /// Qt's `UdpTunnelingCapability`: it relays UDP datagrams.
    pub const UDP_TUNNELING: ProxyCapabilities = ProxyCapabilities(0x04);
    /// Qt's `CachingCapability`: it can cache HTTP responses (HTTP proxies).
    pub const CACHING: ProxyCapabilities = ProxyCapabilities(0x08);
    /// Qt's `HostNameLookupCapability`: the proxy resolves host names itself, so the name is
    /// sent to it instead of being looked up locally.
    pub const HOST_NAME_LOOKUP: ProxyCapabilities = ProxyCapabilities(0x10);

    /// No capability.
    pub const fn empty() -> ProxyCapabilities {
        ProxyCapabilities(0)
    }

    /// The flags as Qt's integer value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set from Qt's integer value; unknown bits are dropped.
    pub const fn from_bits_truncate(bits: u32) -> ProxyCapabilities {
        ProxyCapabilities(bits & 0x1f)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: ProxyCapabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for ProxyCapabilities {
    type Output = ProxyCapabilities;
    fn bitor(self, rhs: ProxyCapabilities) -> ProxyCapabilities {
        ProxyCapabilities(self.0 | rhs.0)
    }
}

impl BitOrAssign for ProxyCapabilities {
    fn bitor_assign(&mut self, rhs: ProxyCapabilities) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for ProxyCapabilities {
    type Output = ProxyCapabilities;
    fn bitand(self, rhs: ProxyCapabilities) -> ProxyCapabilities {
        ProxyCapabilities(self.0 & rhs.0)
    }
}

impl Not for ProxyCapabilities {
    type Output = ProxyCapabilities;
    fn not(self) -> ProxyCapabilities {
        ProxyCapabilities(!self.0 & 0x1f)
    }
}

impl fmt::Debug for ProxyCapabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(ProxyCapabilities, &str); 5] = [
            (ProxyCapabilities::TUNNELING, "TunnelingCapability"),
            (ProxyCapabilities::LISTENING, "ListeningCapability"),
            (ProxyCapabilities::UDP_TUNNELING, "UdpTunnelingCapability"),
            (ProxyCapabilities::CACHING, "CachingCapability"),
            (
                ProxyCapabilities::HOST_NAME_LOOKUP,
                "HostNameLookupCapability",
            ),
        ];
        let mut set = f.debug_set();
        for (flag, name) in NAMES {
            if self.contains(flag) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// A network proxy (Qt's `QNetworkProxy`): type, host, port, optional credentials,
/// capabilities, and extra headers for HTTP proxies.
///
/// A plain value: cheap to clone, `Send + Sync`, compared field by field. Changing the type
/// resets the capabilities to the new type's defaults unless they were set explicitly, as
/// in Qt. `Debug` never shows the password.
///
/// ```
/// use slotnet_net::proxy::{NetworkProxy, ProxyCapabilities, ProxyType};
///
/// let proxy = NetworkProxy::new(ProxyType::Socks5Proxy, "127.0.0.1", 1080);
/// assert!(proxy.capabilities().contains(ProxyCapabilities::HOST_NAME_LOOKUP));
/// let proxy = proxy.with_credentials("alice", "secret");
/// assert_eq!(proxy.user(), "alice");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NetworkProxy {
    kind: ProxyType,
    host: String,
    port: u16,
    user: String,
    password: String,
    capabilities: ProxyCapabilities,
    explicit_capabilities: bool,
    headers: Vec<(String, String)>,
}

impl Default for NetworkProxy {
    /// A `DefaultProxy`: "use the application's setting", as Qt's default-constructed proxy.
    fn default() -> Self {
        NetworkProxy::of_type(ProxyType::DefaultProxy)
    }
}

impl fmt::Debug for NetworkProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkProxy")
            .field("type", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

impl NetworkProxy {
    /// A proxy of `kind` at `host:port`, without credentials.
    pub fn new(kind: ProxyType, host: impl Into<String>, port: u16) -> NetworkProxy {
        NetworkProxy {
            kind,
            host: host.into(),
            port,
            user: String::new(),
            password: String::new(),
            capabilities: kind.default_capabilities(),
            explicit_capabilities: false,
            headers: Vec::new(),
        }
    }

    /// A proxy of `kind` with no address (`NoProxy`, `DefaultProxy`).
    pub fn of_type(kind: ProxyType) -> NetworkProxy {
        NetworkProxy::new(kind, String::new(), 0)
    }

    /// `NoProxy`: connect directly.
    pub fn no_proxy() -> NetworkProxy {
        NetworkProxy::of_type(ProxyType::NoProxy)
    }

    /// This proxy with `user` and `password` set (builder style).
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> NetworkProxy {
        self.user = user.into();
        self.password = password.into();
        self
    }

    /// The proxy type.
    pub fn proxy_type(&self) -> ProxyType {
        self.kind
    }

    /// Sets the type; the capabilities follow unless set explicitly.
    pub fn set_type(&mut self, kind: ProxyType) {
        self.kind = kind;
        if !self.explicit_capabilities {
            self.capabilities = kind.default_capabilities();
        }
    }

    /// The proxy's host name or address.
    pub fn host_name(&self) -> &str {
        &self.host
    }

    /// Sets the proxy's host name or address.
    pub fn set_host_name(&mut self, host: impl Into<String>) {
        self.host = host.into();
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets the proxy's port.
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The user name for authenticating to the proxy (empty: none).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Sets the user name.
    pub fn set_user(&mut self, user: impl Into<String>) {
        self.user = user.into();
    }

    /// The password for authenticating to the proxy.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Sets the password.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = password.into();
    }

    /// The proxy's capabilities (the type's defaults unless set explicitly).
    pub fn capabilities(&self) -> ProxyCapabilities {
        self.capabilities
    }

    /// Sets the capabilities explicitly; they then survive [`set_type`](Self::set_type).
    pub fn set_capabilities(&mut self, capabilities: ProxyCapabilities) {
        self.capabilities = capabilities;
        self.explicit_capabilities = true;
    }

    /// Whether the proxy caches (Qt's `isCachingProxy`): it has `CachingCapability`.
    pub fn is_caching_proxy(&self) -> bool {
        self.capabilities.contains(ProxyCapabilities::CACHING)
    }

    /// Whether the proxy can tunnel a TCP connection (Qt's `isTransparentProxy`).
    pub fn is_transparent_proxy(&self) -> bool {
        self.capabilities.contains(ProxyCapabilities::TUNNELING)
    }

    /// Extra headers sent to an HTTP proxy with `CONNECT` (Qt's `rawHeader` list).
    pub fn raw_headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Sets an extra header for HTTP proxies, replacing one of the same name (compared
    /// ignoring ASCII case). Names or values with CR or LF are refused (returns false):
    /// they would let a value inject headers.
    pub fn set_raw_header(&mut self, name: &str, value: &str) -> bool {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if name.is_empty() || bad(name) || bad(value) || name.contains(':') {
            return false;
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        true
    }

    /// The key under which credentials for this proxy are cached: type, lower-case host,
    /// port.
    pub(crate) fn cache_key(&self) -> (ProxyType, String, u16) {
        (self.kind, self.host.to_ascii_lowercase(), self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_follow_type_unless_explicit() {
        let mut p = NetworkProxy::new(ProxyType::HttpProxy, "proxy", 3128);
        assert!(p.is_transparent_proxy());
        assert!(p.is_caching_proxy());
        p.set_type(ProxyType::HttpCachingProxy);
        assert!(!p.is_transparent_proxy());
        p.set_capabilities(ProxyCapabilities::TUNNELING);
        p.set_type(ProxyType::Socks5Proxy);
        assert_eq!(p.capabilities(), ProxyCapabilities::TUNNELING);
        assert_eq!(
            format!("{:?}", ProxyType::Socks5Proxy.default_capabilities()),
            "{TunnelingCapability, ListeningCapability, UdpTunnelingCapability, \
             HostNameLookupCapability}"
        );
        assert_eq!(ProxyType::HttpProxy.default_capabilities().bits(), 0x19);
        assert_eq!(
            (!ProxyCapabilities::TUNNELING).bits(),
            0x1e,
            "complement stays within Qt's flags"
        );
    }

    #[test]
    fn debug_hides_password_and_headers_refuse_injection() {
        let mut p = NetworkProxy::new(ProxyType::HttpProxy, "h", 1).with_credentials("u", "pw");
        assert!(!format!("{p:?}").contains("pw"));
        assert!(p.set_raw_header("User-Agent", "a"));
        assert!(p.set_raw_header("user-agent", "b"));
        assert_eq!(
            p.raw_headers(),
            &[("user-agent".to_owned(), "b".to_owned())]
        );
        assert!(!p.set_raw_header("X", "a\r\nEvil: 1"));
        assert!(!p.set_raw_header("X: y", "a"));
        assert_eq!(
            NetworkProxy::default().proxy_type(),
            ProxyType::DefaultProxy
        );
    }
}
