//! Authenticating to proxies: the credentials handed to the user's slot
//! ([`Authenticator`]), the scheme that turns them into a `Proxy-Authorization` header
//! for HTTP proxies ([`ProxyAuthScheme`], Basic built in), and the in-process cache of
//! credentials that worked, per proxy.
//!
//! The net crate only speaks Basic (RFC 7617) to HTTP proxies; richer schemes (Digest) live
//! in the http crate, which plugs them in through [`ProxyAuthScheme`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use super::types::{NetworkProxy, ProxyType};

/// Credentials cached at most; the least recently used entry goes first.
const CACHE_CAPACITY: usize = 64;

/// The credentials for one authentication request (Qt's `QAuthenticator`), for proxies here
/// and for servers in slotnet-http (which re-exports this type as `auth::Authenticator`).
///
/// The [`ProxiedConnector`](crate::proxy::ProxiedConnector) hands one to its
/// `proxy_authentication_required` slot, with the realm (HTTP proxies) and the user name
/// tried last filled in; the slot sets the user and password. `Debug` never shows the
/// password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Authenticator {
    user: String,
    password: String,
    realm: String,
    options: BTreeMap<String, String>,
}

impl Authenticator {
    /// An empty authenticator.
    pub fn new() -> Authenticator {
        Authenticator::default()
    }

    /// An authenticator holding `user` and `password`.
    pub fn with_credentials(user: impl Into<String>, password: impl Into<String>) -> Authenticator {
        Authenticator {
            user: user.into(),
            password: password.into(),
            ..Authenticator::default()
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Sets the user name.
    pub fn set_user(&mut self, user: impl Into<String>) {
        self.user = user.into();
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Sets the password.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = password.into();
    }

    /// The realm of the proxy's challenge (empty for SOCKS5, which has none).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Sets the realm; it is also recorded as the `realm` option, as in Qt.
    pub fn set_realm(&mut self, realm: impl Into<String>) {
        self.realm = realm.into();
        self.options.insert("realm".to_owned(), self.realm.clone());
    }

    /// The value of option `name` (Qt's `option()`).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// All options.
    pub fn options(&self) -> &BTreeMap<String, String> {
        &self.options
    }

    /// Sets option `name`.
    pub fn set_option(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.options.insert(name.into(), value.into());
    }

    /// Whether nothing is set (Qt's `isNull`).
    pub fn is_null(&self) -> bool {
        self.user.is_empty()
            && self.password.is_empty()
            && self.realm.is_empty()
            && self.options.is_empty()
    }

    /// The user name and password, if a user name is set.
    pub(crate) fn credentials(&self) -> Option<(String, String)> {
        (!self.user.is_empty()).then(|| (self.user.clone(), self.password.clone()))
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("realm", &self.realm)
            .finish()
    }
}

/// Computes the `Proxy-Authorization` value of an HTTP `CONNECT` (the hook through which
/// the http crate adds Digest to what net knows).
///
/// One instance serves one connection attempt, so schemes that count requests (Digest's
/// `nc`) may keep state.
pub trait ProxyAuthScheme {
    /// The header value for a `CONNECT` to `authority` with `credentials`. `challenges` are
    /// the `Proxy-Authenticate` values of the proxy's last 407 answer; empty before the
    /// first one (return a value to authenticate preemptively, or `None` to wait for a
    /// challenge). `None` after a challenge means the scheme cannot answer it: the
    /// connection fails with `ProxyAuthenticationRequiredError`.
    fn authorization(
        &mut self,
        challenges: &[String],
        credentials: &Authenticator,
        authority: &str,
    ) -> Option<String>;
}

/// Basic authentication (RFC 7617), preemptive when credentials are known: the default
/// scheme of [`ProxiedConnector`](crate::proxy::ProxiedConnector).
#[derive(Clone, Copy, Debug, Default)]
pub struct BasicProxyAuth;

impl ProxyAuthScheme for BasicProxyAuth {
    fn authorization(
        &mut self,
        challenges: &[String],
        credentials: &Authenticator,
        _authority: &str,
    ) -> Option<String> {
        let (user, password) = credentials.credentials()?;
        let offered = challenges.is_empty()
            || challenges
                .iter()
                .any(|c| challenge_scheme(c).eq_ignore_ascii_case("basic"));
        offered.then(|| basic_authorization(&user, &password))
    }
}

/// The `Basic` credentials value for `user` and `password` (UTF-8, RFC 7617).
pub fn basic_authorization(user: &str, password: &str) -> String {
    let mut out = String::from("Basic ");
    base64_encode(format!("{user}:{password}").as_bytes(), &mut out);
    out
}

/// The scheme name that starts a challenge (`Basic realm="x"` → `Basic`).
fn challenge_scheme(challenge: &str) -> &str {
    challenge
        .trim_start()
        .split([' ', '\t', ','])
        .next()
        .unwrap_or("")
}

/// The `realm` parameter of the first challenge that has one.
pub fn challenge_realm(challenges: &[String]) -> Option<String> {
    challenges.iter().find_map(|c| param(c, "realm"))
}

/// The value of parameter `name` in an auth-param list (token or quoted string).
fn param(challenge: &str, name: &str) -> Option<String> {
    let bytes = challenge.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Find `name` at a word start, followed by optional spaces and `=`.
        let at_word_start = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b',');
        if at_word_start
            && bytes.len() - i >= name.len()
            && bytes[i..i + name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            let mut j = i + name.len();
            while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'=' {
                j += 1;
                while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
                    j += 1;
                }
                return Some(value_at(&challenge[j..]));
            }
        }
        i += 1;
    }
    None
}

fn value_at(rest: &str) -> String {
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(next) = chars.next() {
                        out.push(next)
                    }
                }
                c => out.push(c),
            }
        }
        out
    } else {
        rest.split([',', ' ', '\t']).next().unwrap_or("").to_owned()
    }
}

/// Standard base64 with padding (RFC 4648), appended to `out`.
fn base64_encode(input: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode_string(input, out);
}

type CacheKey = (ProxyType, String, u16);

static CACHE: Mutex<Vec<(CacheKey, String, String)>> = Mutex::new(Vec::new());

fn with_cache<R>(f: impl FnOnce(&mut Vec<(CacheKey, String, String)>) -> R) -> R {
    // A poisoned lock only means a panic during a plain Vec edit; the data is still sound.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut cache)
}

/// The credentials that last worked for `proxy` in this process (keyed by its type, host
/// and port), if any.
pub fn cached_proxy_credentials(proxy: &NetworkProxy) -> Option<(String, String)> {
    let key = proxy.cache_key();
    with_cache(|cache| {
        let index = cache.iter().position(|(k, _, _)| *k == key)?;
        // Most recently used last.
        let entry = cache.remove(index);
        let found = (entry.1.clone(), entry.2.clone());
        cache.push(entry);
        Some(found)
    })
}

/// Remembers credentials that worked for `proxy` (done by the connector after a successful
/// authentication).
pub fn cache_proxy_credentials(proxy: &NetworkProxy, user: &str, password: &str) {
    let key = proxy.cache_key();
    with_cache(|cache| {
        cache.retain(|(k, _, _)| *k != key);
        if cache.len() >= CACHE_CAPACITY {
            cache.remove(0);
        }
        cache.push((key, user.to_owned(), password.to_owned()));
    });
}

/// Forgets the cached credentials of `proxy` (done when the proxy rejects them).
pub fn forget_proxy_credentials(proxy: &NetworkProxy) {
    let key = proxy.cache_key();
    with_cache(|cache| cache.retain(|(k, _, _)| *k != key));
}

/// Forgets every cached proxy credential.
pub fn clear_proxy_credentials() {
    with_cache(Vec::clear);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 section 10.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            base64_encode(input.as_bytes(), &mut out);
            assert_eq!(out, expected, "{input}");
        }
        // RFC 7617's example.
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn basic_scheme_answers_basic_challenges_only() {
        let creds = Authenticator::with_credentials("u", "p");
        let mut basic = BasicProxyAuth;
        assert_eq!(
            basic.authorization(&[], &creds, "h:1").as_deref(),
            Some("Basic dTpw")
        );
        let digest_only = vec!["Digest realm=\"r\", nonce=\"n\"".to_owned()];
        assert_eq!(basic.authorization(&digest_only, &creds, "h:1"), None);
        let both = vec![digest_only[0].clone(), "BASIC realm=x".to_owned()];
        assert!(basic.authorization(&both, &creds, "h:1").is_some());
        assert_eq!(basic.authorization(&[], &Authenticator::new(), "h:1"), None);
    }

    #[test]
    fn realm_parameter() {
        let c = |s: &str| vec![s.to_owned()];
        assert_eq!(
            challenge_realm(&c(r#"Basic realm="a \"b\", c""#)).as_deref(),
            Some(r#"a "b", c"#)
        );
        assert_eq!(
            challenge_realm(&c("Basic charset=UTF-8, Realm = tiny ")).as_deref(),
            Some("tiny")
        );
        assert_eq!(challenge_realm(&c("Basic xrealm=no")), None);
        assert_eq!(challenge_realm(&c("Basic realm")), None);
        assert_eq!(
            challenge_realm(&c("Basic realm=\"unterminated")).as_deref(),
            Some("unterminated")
        );
    }

    #[test]
    fn cache_is_keyed_by_type_host_and_port() {
        let a = NetworkProxy::new(ProxyType::HttpProxy, "Cache-Test.Example", 1);
        let same = NetworkProxy::new(ProxyType::HttpProxy, "cache-test.example", 1);
        let socks = NetworkProxy::new(ProxyType::Socks5Proxy, "cache-test.example", 1);
        cache_proxy_credentials(&a, "u", "p");
        assert_eq!(
            cached_proxy_credentials(&same),
            Some(("u".to_owned(), "p".to_owned()))
        );
        assert_eq!(cached_proxy_credentials(&socks), None);
        forget_proxy_credentials(&same);
        assert_eq!(cached_proxy_credentials(&a), None);
        let mut auth = Authenticator::new();
        assert!(auth.is_null());
        auth.set_realm("r");
        assert_eq!(auth.option("realm"), Some("r"));
        auth.set_password("secret");
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
