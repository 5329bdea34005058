//! `NetworkRequest` (Qt's `QNetworkRequest`): a URL, headers and typed attributes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use slotnet_net::proxy::NetworkProxy;
use slotnet_net::ssl::SslConfiguration;
use url::Url;

use crate::client::settings::Http1Configuration;
use crate::h2::Http2Configuration;

/// The headers Qt knows by name (`QNetworkRequest::KnownHeaders`), with typed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum KnownHeader {
    ContentTypeHeader,
    ContentLengthHeader,
    LocationHeader,
    LastModifiedHeader,
    CookieHeader,
    SetCookieHeader,
    ContentDispositionHeader,
    UserAgentHeader,
    ServerHeader,
    IfModifiedSinceHeader,
    ETagHeader,
    IfMatchHeader,
    IfNoneMatchHeader,
}

impl KnownHeader {
    /// The header's wire name.
    pub fn name(self) -> &'static str {
        use KnownHeader::*;
        match self {
            ContentTypeHeader => "Content-Type",
            ContentLengthHeader => "Content-Length",
            LocationHeader => "Location",
            LastModifiedHeader => "Last-Modified",
            CookieHeader => "Cookie",
            SetCookieHeader => "Set-Cookie",
            ContentDispositionHeader => "Content-Disposition",
            UserAgentHeader => "User-Agent",
            ServerHeader => "Server",
            IfModifiedSinceHeader => "If-Modified-Since",
            ETagHeader => "ETag",
            IfMatchHeader => "If-Match",
            IfNoneMatchHeader => "If-None-Match",
        }
    }

    /// Parses a raw value into the header's typed form; `None` if it does not parse (Qt then
    /// returns an invalid QVariant).
    pub fn parse(self, raw: &str) -> Option<HeaderValue> {
        use KnownHeader::*;
        let raw = raw.trim();
        match self {
            ContentLengthHeader => raw.parse().ok().map(HeaderValue::Number),
            LocationHeader => Url::parse(raw).ok().map(HeaderValue::Url),
            LastModifiedHeader | IfModifiedSinceHeader => {
                httpdate_parse(raw).map(HeaderValue::Date)
            }
            IfMatchHeader | IfNoneMatchHeader => Some(HeaderValue::List(
                raw.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )),
            _ => Some(HeaderValue::Text(raw.to_owned())),
        }
    }
}

/// A typed value of a [`KnownHeader`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    /// Free text (Content-Type, User-Agent, Server, ETag, cookies as sent).
    Text(String),
    /// A number (Content-Length).
    Number(u64),
    /// An absolute URL (Location).
    Url(Url),
    /// A date (Last-Modified, If-Modified-Since).
    Date(SystemTime),
    /// A comma-separated list (If-Match, If-None-Match).
    List(Vec<String>),
}

impl HeaderValue {
    /// The wire form of the value.
    pub fn to_raw(&self) -> String {
        match self {
            HeaderValue::Text(s) => s.clone(),
            HeaderValue::Number(n) => n.to_string(),
            HeaderValue::Url(u) => u.to_string(),
            HeaderValue::Date(t) => format_http_date(*t),
            HeaderValue::List(items) => items.join(", "),
        }
    }
}

impl From<&str> for HeaderValue {
    fn from(s: &str) -> Self {
        HeaderValue::Text(s.to_owned())
    }
}
impl From<String> for HeaderValue {
    fn from(s: String) -> Self {
        HeaderValue::Text(s)
    }
}
impl From<u64> for HeaderValue {
    fn from(n: u64) -> Self {
        HeaderValue::Number(n)
    }
}
impl From<Url> for HeaderValue {
    fn from(u: Url) -> Self {
        HeaderValue::Url(u)
    }
}
impl From<SystemTime> for HeaderValue {
    fn from(t: SystemTime) -> Self {
        HeaderValue::Date(t)
    }
}

/// Request and reply attributes (`QNetworkRequest::Attribute`) that slotnet supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Attribute {
    // Reply attributes (set by slotnet on the reply).
    HttpStatusCode,
    HttpReasonPhrase,
    /// The Location of a redirect response as sent, as Qt keeps it: `AttributeValue::Url`
    /// when absolute, `AttributeValue::Text` when relative (resolve it against the reply's
    /// URL; a followed redirect's resolved URL is what `redirected` carries).
    RedirectionTarget,
    ConnectionEncrypted,
    SourceIsFromCache,
    Http2WasUsed,
    OriginalContentLength,
    // Request attributes.
    CacheLoadControl,
    CacheSaveControl,
    HttpPipeliningAllowed,
    HttpPipeliningWasUsed,
    CustomVerb,
    CookieLoadControl,
    CookieSaveControl,
    AuthenticationReuse,
    Http2Allowed,
    Http2Direct,
    RedirectPolicy,
    AutoDeleteReplyOnFinish,
    ConnectionCacheExpiryTimeout,
    DoNotBufferUploadData,
    EmitAllUploadProgressSignals,
    /// User attributes, as Qt's `User + n`.
    User(u32),
}

impl Attribute {
    /// Qt's enumerator name (`Http2AllowedAttribute`).
    pub fn name(self) -> String {
        use Attribute::*;
        let base = match self {
            HttpStatusCode => "HttpStatusCode",
            HttpReasonPhrase => "HttpReasonPhrase",
            RedirectionTarget => "RedirectionTarget",
            ConnectionEncrypted => "ConnectionEncrypted",
            SourceIsFromCache => "SourceIsFromCache",
            Http2WasUsed => "Http2WasUsed",
            OriginalContentLength => "OriginalContentLength",
            CacheLoadControl => "CacheLoadControl",
            CacheSaveControl => "CacheSaveControl",
            HttpPipeliningAllowed => "HttpPipeliningAllowed",
            HttpPipeliningWasUsed => "HttpPipeliningWasUsed",
            CustomVerb => "CustomVerb",
            CookieLoadControl => "CookieLoadControl",
            CookieSaveControl => "CookieSaveControl",
            AuthenticationReuse => "AuthenticationReuse",
            Http2Allowed => "Http2Allowed",
            Http2Direct => "Http2Direct",
            RedirectPolicy => "RedirectPolicy",
            AutoDeleteReplyOnFinish => "AutoDeleteReplyOnFinish",
            ConnectionCacheExpiryTimeout => "ConnectionCacheExpiryTimeout",
            DoNotBufferUploadData => "DoNotBufferUploadData",
            EmitAllUploadProgressSignals => "EmitAllUploadProgressSignals",
            User(n) => return format!("User+{n}"),
        };
        format!("{base}Attribute")
    }
}

/// Qt's `QNetworkRequest::CacheLoadControl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CacheLoadControl {
    /// Always load from the network; do not check the cache. GET and HEAD requests carry
    /// `Cache-Control: no-cache` and `Pragma: no-cache` (unless the request sets its own
    /// `Cache-Control`), so that intermediate caches revalidate too, as in Qt; the answer
    /// replaces the cached copy.
    AlwaysNetwork,
    /// Default: load from the cache if the entry is fresh, else from the network.
    #[default]
    PreferNetwork,
    /// Load from the cache if the entry is fresh, else from the network, revalidating a
    /// stale entry: what Qt 6.4 does (its documentation promises possibly stale entries;
    /// its code, like this, serves only fresh ones).
    PreferCache,
    /// Only the cache; a miss fails with ContentNotFoundError.
    AlwaysCache,
}

/// Qt's `QNetworkRequest::LoadControl` (for cookies and authentication reuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LoadControl {
    /// Use the manager's cookies/credentials automatically.
    #[default]
    Automatic,
    /// Leave them to the application.
    Manual,
}

/// Qt's `QNetworkRequest::RedirectPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RedirectPolicy {
    /// Redirects are not followed: the 3xx reply is an ordinary reply.
    ManualRedirectPolicy,
    /// Default: follow, except from https to http (InsecureRedirectError).
    #[default]
    NoLessSafeRedirectPolicy,
    /// Follow only to the same scheme, host and port.
    SameOriginRedirectPolicy,
    /// Emit `redirected` and wait for the application's `redirect_allowed()`.
    UserVerifiedRedirectPolicy,
}

/// Qt's `QNetworkRequest::Priority`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Sent before normal and low priority requests waiting for the same host.
    HighPriority,
    /// The default.
    #[default]
    NormalPriority,
    /// Sent after the others.
    LowPriority,
}

/// A typed attribute value (Qt stores QVariants; slotnet keeps the type).
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum AttributeValue {
    Bool(bool),
    Int(i64),
    Text(String),
    Url(Url),
    CacheLoadControl(CacheLoadControl),
    LoadControl(LoadControl),
    RedirectPolicy(RedirectPolicy),
}

impl AttributeValue {
    /// The value as a bool, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttributeValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The value as an integer, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            AttributeValue::Int(n) => Some(*n),
            _ => None,
        }
    }
    /// The value as text, if it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            AttributeValue::Text(s) => Some(s),
            _ => None,
        }
    }
    /// The value as a URL, if it is one.
    pub fn as_url(&self) -> Option<&Url> {
        match self {
            AttributeValue::Url(u) => Some(u),
            _ => None,
        }
    }
}

macro_rules! attribute_from {
    ($($t:ty => $v:ident),*) => {
        $(impl From<$t> for AttributeValue {
            fn from(x: $t) -> Self {
                AttributeValue::$v(x.into())
            }
        })*
    };
}
attribute_from!(bool => Bool, i64 => Int, i32 => Int, u16 => Int, String => Text, &str => Text,
    Url => Url, CacheLoadControl => CacheLoadControl, LoadControl => LoadControl,
    RedirectPolicy => RedirectPolicy);

/// Qt's default redirect limit.
pub const DEFAULT_MAX_REDIRECTS: u32 = 50;
/// Qt's default decompressed safety check threshold (10 MiB).
pub const DEFAULT_DECOMPRESSED_SAFETY_THRESHOLD: i64 = 10 * 1024 * 1024;

/// A request: URL, headers, attributes and per-request settings (Qt's `QNetworkRequest`).
///
/// ```
/// use slotnet_http::{NetworkRequest, KnownHeader, Attribute};
///
/// let mut req = NetworkRequest::new("http://127.0.0.1:8080/get".parse().unwrap());
/// req.set_header(KnownHeader::UserAgentHeader, "slotnet-doc");
/// req.set_raw_header("X-Trace", "1");
/// req.set_attribute(Attribute::Http2Allowed, false);
/// assert_eq!(req.raw_header("user-agent").as_deref(), Some("slotnet-doc"));
/// assert_eq!(req.attribute(Attribute::Http2Allowed).and_then(|v| v.as_bool()), Some(false));
/// ```
#[derive(Clone)]
pub struct NetworkRequest {
    /// Shared until one copy changes (Qt's implicit sharing): a request is cloned several
    /// times per exchange (reply, job, redirects), settings are rarely changed after.
    d: Arc<RequestData>,
}

/// The contents of a [`NetworkRequest`].
#[derive(Clone, Debug)]
struct RequestData {
    url: Option<Url>,
    headers: Vec<(String, String)>,
    attributes: BTreeMap<Attribute, AttributeValue>,
    priority: Priority,
    max_redirects: u32,
    transfer_timeout: Option<Duration>,
    decompressed_safety_threshold: i64,
    peer_verify_name: Option<String>,
    ssl_configuration: Option<SslConfiguration>,
    proxy: Option<NetworkProxy>,
    http2_configuration: Http2Configuration,
    http1_configuration: Http1Configuration,
}

/// Requests compare by URL, headers, attributes and settings; the TLS configuration is not
/// compared (it has no equality).
impl PartialEq for NetworkRequest {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.d, &*other.d);
        Arc::ptr_eq(&self.d, &other.d)
            || (a.url == b.url
                && a.headers == b.headers
                && a.attributes == b.attributes
                && a.priority == b.priority
                && a.max_redirects == b.max_redirects
                && a.transfer_timeout == b.transfer_timeout
                && a.decompressed_safety_threshold == b.decompressed_safety_threshold
                && a.peer_verify_name == b.peer_verify_name
                && a.proxy == b.proxy
                && a.http2_configuration == b.http2_configuration
                && a.http1_configuration == b.http1_configuration)
    }
}

impl fmt::Debug for NetworkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.d.fmt(f)
    }
}

impl Default for NetworkRequest {
    fn default() -> Self {
        NetworkRequest::with_data(RequestData {
            url: None,
            headers: Vec::new(),
            attributes: BTreeMap::new(),
            priority: Priority::NormalPriority,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            transfer_timeout: None,
            decompressed_safety_threshold: DEFAULT_DECOMPRESSED_SAFETY_THRESHOLD,
            peer_verify_name: None,
            ssl_configuration: None,
            proxy: None,
            http2_configuration: Http2Configuration::default(),
            http1_configuration: Http1Configuration::default(),
        })
    }
}

impl NetworkRequest {
    /// A request for `url` with Qt's defaults.
    pub fn new(url: Url) -> Self {
        let mut request = NetworkRequest::default();
        request.set_url(url);
        request
    }

    fn with_data(d: RequestData) -> Self {
        NetworkRequest { d: Arc::new(d) }
    }

    /// The contents, unshared first if another copy holds them too.
    fn d_mut(&mut self) -> &mut RequestData {
        Arc::make_mut(&mut self.d)
    }

    /// Parses `url`; an unparsable URL gives a request without URL (the reply then fails with
    /// ProtocolUnknownError, as Qt does for an invalid URL).
    pub fn from_url_str(url: &str) -> Self {
        let mut request = NetworkRequest::default();
        request.d_mut().url = Url::parse(url).ok();
        request
    }

    /// The URL, if valid.
    pub fn url(&self) -> Option<&Url> {
        self.d.url.as_ref()
    }

    /// Sets the URL.
    pub fn set_url(&mut self, url: Url) {
        self.d_mut().url = Some(url);
    }

    /// A known header's typed value.
    pub fn header(&self, header: KnownHeader) -> Option<HeaderValue> {
        self.raw_header(header.name())
            .and_then(|raw| header.parse(&raw))
    }

    /// Sets a known header from a typed value.
    pub fn set_header(&mut self, header: KnownHeader, value: impl Into<HeaderValue>) {
        self.set_raw_header(header.name(), value.into().to_raw());
    }

    /// Removes a header (known or raw).
    pub fn remove_header(&mut self, name: &str) {
        self.d_mut()
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// A raw header's value (case-insensitive name; several values are joined with ", ").
    pub fn raw_header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .d
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Whether the header is set.
    pub fn has_raw_header(&self, name: &str) -> bool {
        self.d
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Sets a raw header, replacing earlier values of the same name.
    pub fn set_raw_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(pos) = self
            .d
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            self.d_mut().headers[pos].1 = value;
            let mut i = pos + 1;
            while i < self.d_mut().headers.len() {
                if self.d_mut().headers[i].0.eq_ignore_ascii_case(name) {
                    self.d_mut().headers.remove(i);
                } else {
                    i += 1;
                }
            }
        } else {
            self.d_mut().headers.push((name.to_owned(), value));
        }
    }

    /// Names of the headers set, in order.
    pub fn raw_header_list(&self) -> Vec<String> {
        self.d.headers.iter().map(|(n, _)| n.clone()).collect()
    }

    /// All headers as (name, value) pairs, in order.
    pub fn raw_header_pairs(&self) -> &[(String, String)] {
        &self.d.headers
    }

    /// An attribute's value, if set.
    pub fn attribute(&self, attribute: Attribute) -> Option<&AttributeValue> {
        self.d.attributes.get(&attribute)
    }

    /// Sets an attribute.
    pub fn set_attribute(&mut self, attribute: Attribute, value: impl Into<AttributeValue>) {
        self.d_mut().attributes.insert(attribute, value.into());
    }

    /// Removes an attribute (back to its default).
    pub fn clear_attribute(&mut self, attribute: Attribute) {
        self.d_mut().attributes.remove(&attribute);
    }

    /// A boolean attribute, or `default` if unset or of another type.
    pub fn bool_attribute(&self, attribute: Attribute, default: bool) -> bool {
        self.attribute(attribute)
            .and_then(AttributeValue::as_bool)
            .unwrap_or(default)
    }

    /// The redirect policy set on the request, if any.
    pub fn redirect_policy(&self) -> Option<RedirectPolicy> {
        match self.attribute(Attribute::RedirectPolicy) {
            Some(AttributeValue::RedirectPolicy(p)) => Some(*p),
            _ => None,
        }
    }

    /// The cache load control (default PreferNetwork).
    pub fn cache_load_control(&self) -> CacheLoadControl {
        match self.attribute(Attribute::CacheLoadControl) {
            Some(AttributeValue::CacheLoadControl(c)) => *c,
            _ => CacheLoadControl::PreferNetwork,
        }
    }

    /// A load control attribute (`CookieLoadControl`, `CookieSaveControl`,
    /// `AuthenticationReuse`); `Automatic` unless set to `Manual`.
    pub fn load_control(&self, attribute: Attribute) -> LoadControl {
        match self.attribute(attribute) {
            Some(AttributeValue::LoadControl(c)) => *c,
            _ => LoadControl::Automatic,
        }
    }

    /// Whether a response may be saved in the manager's cache (`CacheSaveControl`: true
    /// unless set to false, as in Qt).
    pub fn cache_save_allowed(&self) -> bool {
        self.bool_attribute(Attribute::CacheSaveControl, true)
    }

    /// The proxy for this request only (a slotnet extension), if set: it overrides the
    /// manager's proxy and proxy factory. `DefaultProxy` means "the manager's choice".
    pub fn proxy(&self) -> Option<&NetworkProxy> {
        self.d.proxy.as_ref()
    }

    /// Sets (or, with `None`, clears) the proxy for this request only.
    pub fn set_proxy(&mut self, proxy: Option<NetworkProxy>) {
        self.d_mut().proxy = proxy;
    }

    /// The priority.
    pub fn priority(&self) -> Priority {
        self.d.priority
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, priority: Priority) {
        self.d_mut().priority = priority;
    }

    /// Maximum redirects followed (default 50).
    pub fn maximum_redirects_allowed(&self) -> u32 {
        self.d.max_redirects
    }

    /// Sets the maximum number of redirects followed.
    pub fn set_maximum_redirects_allowed(&mut self, max: u32) {
        self.d_mut().max_redirects = max;
    }

    /// The inactivity timeout, if set (overrides the manager's).
    pub fn transfer_timeout(&self) -> Option<Duration> {
        self.d.transfer_timeout
    }

    /// Sets the inactivity timeout; `None` or zero disables it.
    pub fn set_transfer_timeout(&mut self, timeout: Option<Duration>) {
        self.d_mut().transfer_timeout = timeout.filter(|t| !t.is_zero());
    }

    /// The decompression-bomb guard threshold in bytes (-1: disabled).
    pub fn decompressed_safety_check_threshold(&self) -> i64 {
        self.d.decompressed_safety_threshold
    }

    /// Sets the decompression-bomb guard threshold (-1 disables the check).
    pub fn set_decompressed_safety_check_threshold(&mut self, threshold: i64) {
        self.d_mut().decompressed_safety_threshold = threshold;
    }

    /// The name the peer's certificate is checked against, if not the URL's host.
    pub fn peer_verify_name(&self) -> Option<&str> {
        self.d.peer_verify_name.as_deref()
    }

    /// Sets the name the certificate is verified against.
    pub fn set_peer_verify_name(&mut self, name: impl Into<String>) {
        self.d_mut().peer_verify_name = Some(name.into());
    }

    /// The TLS configuration for https requests (Qt's default configuration when unset:
    /// the system's CA certificates, peer verification on).
    pub fn ssl_configuration(&self) -> SslConfiguration {
        self.d.ssl_configuration.clone().unwrap_or_default()
    }

    /// The TLS configuration set on the request, without a copy (`None`: the default).
    pub(crate) fn ssl_configuration_ref(&self) -> Option<&SslConfiguration> {
        self.d.ssl_configuration.as_ref()
    }

    /// Sets the TLS configuration used for this request's connection.
    pub fn set_ssl_configuration(&mut self, configuration: SslConfiguration) {
        self.d_mut().ssl_configuration = Some(configuration);
    }

    /// The HTTP/2 settings for the connection this request may open (Qt's
    /// `http2Configuration()`): the one set with
    /// [`set_http2_configuration`](Self::set_http2_configuration), or
    /// [`Http2Configuration::default()`] (whose windows are smaller than Qt's, see there).
    pub fn http2_configuration(&self) -> Http2Configuration {
        self.d.http2_configuration.clone()
    }

    /// Sets the HTTP/2 settings (Qt's `setHttp2Configuration`). As in Qt, they apply when
    /// this request opens the HTTP/2 connection to its host (over TLS when ALPN chooses h2, or
    /// in cleartext with [`Attribute::Http2Direct`]); a request that reuses an open
    /// connection travels under the settings of the request that opened it.
    ///
    /// ```
    /// use slotnet_http::h2::Http2Configuration;
    /// use slotnet_http::NetworkRequest;
    ///
    /// let mut config = Http2Configuration::default();
    /// assert!(config.set_stream_receive_window_size(128 * 1024));
    /// assert!(config.set_max_frame_size(32 * 1024));
    /// let mut request = NetworkRequest::from_url_str("https://example.com/");
    /// request.set_http2_configuration(config.clone());
    /// assert_eq!(request.http2_configuration(), config);
    /// assert_ne!(request, NetworkRequest::from_url_str("https://example.com/"));
    /// ```
    pub fn set_http2_configuration(&mut self, configuration: Http2Configuration) {
        self.d_mut().http2_configuration = configuration;
    }

    /// The HTTP/1.1 settings for the connections this request may open (Qt's
    /// `http1Configuration()`, Qt 6.5): the one set with
    /// [`set_http1_configuration`](Self::set_http1_configuration), or the default (six
    /// connections per host).
    pub fn http1_configuration(&self) -> Http1Configuration {
        self.d.http1_configuration
    }

    /// Sets the HTTP/1.1 settings (Qt's `setHttp1Configuration`). As in Qt, they apply when
    /// this request finds no connection to its host and port: its
    /// [`number_of_connections_per_host`](Http1Configuration::number_of_connections_per_host)
    /// then bounds the connections the pool opens to that host for it and for the requests
    /// that share them while any of them lives.
    pub fn set_http1_configuration(&mut self, configuration: Http1Configuration) {
        self.d_mut().http1_configuration = configuration;
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); times before 1970 as the epoch,
/// after the year 9999 as its last second.
pub fn format_http_date(t: SystemTime) -> String {
    crate::h1::fmt_http_date(t)
}

/// Parses the three HTTP date formats (IMF-fixdate, RFC 850, asctime).
///
/// Hand-written rather than `httpdate::parse_http_date`, for Qt fidelity: like Qt's
/// `QNetworkHeadersPrivate::fromHttpDate` it takes what servers send beyond RFC 9110 (a
/// `UTC` zone, one-digit days, any case of the names), which `httpdate` rejects.
pub fn httpdate_parse(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let parts: Vec<&str> = s.split([' ', ',', '-']).filter(|p| !p.is_empty()).collect();
    // IMF: Sun 06 Nov 1994 08:49:37 GMT ; RFC 850: Sunday 06 Nov 94 08:49:37 GMT ;
    // asctime: Sun Nov 6 08:49:37 1994
    let (day, month, year, time) = match parts.as_slice() {
        [_, d, mon, y, t, "GMT"] | [_, d, mon, y, t, "UTC"] => (*d, *mon, *y, *t),
        [_, mon, d, t, y] => (*d, *mon, *y, *t),
        _ => return None,
    };
    let day: u32 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as u32 + 1;
    let mut year: i64 = year.parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    if day == 0 || day > 31 || *h > 23 || *mi > 59 || *se > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + (*h * 3600 + *mi * 60 + *se) as i64;
    if secs < 0 {
        return Some(SystemTime::UNIX_EPOCH);
    }
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_share_until_one_changes_and_then_are_independent() {
        let mut original = NetworkRequest::from_url_str("http://example.com/a");
        original.set_raw_header("X-One", "1");
        let mut copy = original.clone();
        assert_eq!(copy, original);
        copy.set_raw_header("X-One", "changed");
        copy.set_attribute(Attribute::Http2Allowed, false);
        copy.set_url(Url::parse("http://example.com/b").unwrap());
        assert_eq!(original.raw_header("x-one").as_deref(), Some("1"));
        assert_eq!(original.attribute(Attribute::Http2Allowed), None);
        assert_eq!(original.url().map(Url::path), Some("/a"));
        assert_eq!(copy.raw_header("x-one").as_deref(), Some("changed"));
        assert_ne!(copy, original);
    }

    #[test]
    fn http_dates_roundtrip_in_all_three_formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        for s in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(httpdate_parse(s), Some(t), "{s}");
        }
        assert_eq!(httpdate_parse("yesterday"), None);
        assert_eq!(httpdate_parse("Sun, 99 Nov 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn raw_headers_are_case_insensitive_and_replaced() {
        let mut r = NetworkRequest::from_url_str("http://h/");
        r.set_raw_header("X-A", "1");
        r.set_raw_header("x-a", "2");
        assert_eq!(r.raw_header("X-A").as_deref(), Some("2"));
        assert_eq!(r.raw_header_list(), ["X-A"]);
        r.set_header(KnownHeader::ContentLengthHeader, 42u64);
        assert_eq!(
            r.header(KnownHeader::ContentLengthHeader),
            Some(HeaderValue::Number(42))
        );
        r.remove_header("content-length");
        assert!(!r.has_raw_header("Content-Length"));
    }

    #[test]
    fn invalid_url_gives_no_url_and_defaults_are_qts() {
        let r = NetworkRequest::from_url_str("::not a url");
        assert!(r.url().is_none());
        assert_eq!(r.maximum_redirects_allowed(), 50);
        assert_eq!(r.priority(), Priority::NormalPriority);
        assert_eq!(r.cache_load_control(), CacheLoadControl::PreferNetwork);
        assert_eq!(r.decompressed_safety_check_threshold(), 10 * 1024 * 1024);
        assert_eq!(Attribute::Http2Allowed.name(), "Http2AllowedAttribute");
    }
}
