//! [`CredentialCache`]: credentials remembered per protection space, so the user is asked
//! once per realm and later requests can authenticate preemptively.

use url::Url;

use super::authenticator::Authenticator;
use super::challenge::AuthMethod;
use super::response::basic_authorization;

/// At most this many credentials are remembered; the least recently used goes first.
pub const MAX_CREDENTIALS: usize = 256;
/// At most this many protection-space paths are remembered per credential.
const MAX_SPACES: usize = 16;

/// Who asked for credentials: a server (keyed like Qt by scheme, the URL's user name, host
/// and port) or a proxy (keyed by its host and port).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuthTarget {
    /// An origin server.
    Server {
        /// URL scheme, lower case.
        scheme: String,
        /// The user name in the URL (`http://user@host/`), empty if none: different URL
        /// users keep different credentials.
        user: String,
        /// Host, lower case.
        host: String,
        /// Port, the scheme's default when the URL has none.
        port: u16,
    },
    /// A proxy.
    Proxy {
        /// Proxy host, lower case.
        host: String,
        /// Proxy port.
        port: u16,
    },
}

impl AuthTarget {
    /// The server target of `url`; `None` for URLs without a host or known port.
    pub fn server(url: &Url) -> Option<Self> {
        Some(AuthTarget::Server {
            scheme: url.scheme().to_ascii_lowercase(),
            user: url.username().to_owned(),
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// The target of the proxy at `host:port`.
    pub fn proxy(host: &str, port: u16) -> Self {
        AuthTarget::Proxy {
            host: host.to_ascii_lowercase(),
            port,
        }
    }
}

/// Credentials remembered for one realm of one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedCredential {
    realm: String,
    authenticator: Authenticator,
    method: Option<AuthMethod>,
}

impl CachedCredential {
    /// The realm they were given for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// User, password and realm.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// The method they last succeeded with, if they have.
    pub fn method(&self) -> Option<AuthMethod> {
        self.method
    }
}

#[derive(Clone, Debug)]
struct Entry {
    target: AuthTarget,
    credential: CachedCredential,
    /// Path prefixes (directories) where the credentials succeeded: the protection space
    /// of RFC 7617 section 2.2.
    spaces: Vec<String>,
    last_used: u64,
}

/// Remembered credentials (what Qt keeps in its network authentication cache).
///
/// ```
/// use slotnet_http::auth::{AuthMethod, AuthTarget, Authenticator, CredentialCache};
/// use url::Url;
/// let mut cache = CredentialCache::new();
/// let url = Url::parse("http://example.com/private/index.html").unwrap();
/// let target = AuthTarget::server(&url).unwrap();
/// cache.insert(&target, "members", &Authenticator::with_credentials("u", "p"));
/// cache.record_success(&target, "members", url.path(), AuthMethod::Basic);
/// // A later request below /private/ can send Basic credentials straight away.
/// let later = Url::parse("http://example.com/private/img/logo.png").unwrap();
/// assert!(cache.preemptive_authorization(&AuthTarget::server(&later).unwrap(), later.path())
///     .is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub struct CredentialCache {
    entries: Vec<Entry>,
    clock: u64,
}

impl CredentialCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn position(&self, target: &AuthTarget, realm: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.target == *target && e.credential.realm == realm)
    }

    /// Remembers the user and password of `authenticator` for `realm` at `target`,
    /// replacing what was there (its protection spaces are forgotten: they were proven
    /// with the old credentials).
    pub fn insert(&mut self, target: &AuthTarget, realm: &str, authenticator: &Authenticator) {
        let mut stored =
            Authenticator::with_credentials(authenticator.user(), authenticator.password());
        stored.set_realm(realm);
        let credential = CachedCredential {
            realm: realm.to_owned(),
            authenticator: stored,
            method: None,
        };
        let last_used = self.tick();
        match self.position(target, realm) {
            Some(i) => {
                let entry = &mut self.entries[i];
                entry.credential = credential;
                entry.spaces.clear();
                entry.last_used = last_used;
            }
            None => {
                if self.entries.len() >= MAX_CREDENTIALS {
                    if let Some(oldest) = self
                        .entries
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, e)| e.last_used)
                        .map(|(i, _)| i)
                    {
                        self.entries.swap_remove(oldest);
                    }
                }
                self.entries.push(Entry {
                    target: target.clone(),
                    credential,
                    spaces: Vec::new(),
                    last_used,
                });
            }
        }
    }

    /// The credentials for `realm` at `target` (realm filled in), if remembered.
    pub fn lookup(&self, target: &AuthTarget, realm: &str) -> Option<Authenticator> {
        self.position(target, realm)
            .map(|i| self.entries[i].credential.authenticator.clone())
    }

    /// Records that the credentials for `realm` at `target` were accepted for a request to
    /// `path` with `method`. Requests at or below the path's directory may then
    /// authenticate preemptively (see [`lookup_for_path`](Self::lookup_for_path)). Does
    /// nothing if no credentials are remembered for the realm.
    pub fn record_success(
        &mut self,
        target: &AuthTarget,
        realm: &str,
        path: &str,
        method: AuthMethod,
    ) {
        let Some(i) = self.position(target, realm) else {
            return;
        };
        let last_used = self.tick();
        let entry = &mut self.entries[i];
        entry.credential.method = Some(method);
        entry.last_used = last_used;
        let space = directory_of(path);
        if entry.spaces.iter().any(|s| space.starts_with(s.as_str())) {
            return;
        }
        // A wider space replaces the narrower ones it covers.
        entry.spaces.retain(|s| !s.starts_with(space.as_str()));
        if entry.spaces.len() >= MAX_SPACES {
            entry.spaces.remove(0);
        }
        entry.spaces.push(space);
    }

    /// The credentials last proven for a request to `path` at `target`: those whose
    /// protection space contains `path` (for a proxy, any path), most recently used first.
    pub fn lookup_for_path(&self, target: &AuthTarget, path: &str) -> Option<&CachedCredential> {
        let proxy = matches!(target, AuthTarget::Proxy { .. });
        let path = if path.is_empty() { "/" } else { path };
        self.entries
            .iter()
            .filter(|e| e.target == *target && e.credential.method.is_some())
            .filter(|e| proxy || e.spaces.iter().any(|s| path.starts_with(s.as_str())))
            .max_by_key(|e| e.last_used)
            .map(|e| &e.credential)
    }

    /// The `Authorization` value to send with a request to `path` at `target` before any
    /// challenge, as Qt does after a first success: only for credentials proven with
    /// Basic (Digest needs the server's nonce, which an [`AuthSession`](super::AuthSession)
    /// keeps).
    pub fn preemptive_authorization(&self, target: &AuthTarget, path: &str) -> Option<String> {
        let credential = self.lookup_for_path(target, path)?;
        if credential.method != Some(AuthMethod::Basic) {
            return None;
        }
        let auth = &credential.authenticator;
        basic_authorization(auth.user(), auth.password()).ok()
    }

    /// Forgets the credentials for `realm` at `target` (after they were rejected). Returns
    /// whether there were any.
    pub fn remove(&mut self, target: &AuthTarget, realm: &str) -> bool {
        match self.position(target, realm) {
            Some(i) => {
                self.entries.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Number of remembered credentials.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything (Qt's `clearAccessCache` drops credentials too).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// The directory of a request path, with its trailing slash (`/a/b/c` gives `/a/b/`); the
/// query is not part of it.
fn directory_of(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    match path.rfind('/') {
        Some(i) => path[..=i].to_owned(),
        None => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DigestAlgorithm;

    fn target(url: &str) -> AuthTarget {
        AuthTarget::server(&Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn keys_distinguish_scheme_user_host_port_and_realm() {
        let mut cache = CredentialCache::new();
        let base = target("http://example.com/");
        cache.insert(&base, "r", &Authenticator::with_credentials("u", "p"));
        let found = cache
            .lookup(&target("http://EXAMPLE.com:80/other"), "r")
            .unwrap();
        assert_eq!(
            (found.user(), found.password(), found.realm()),
            ("u", "p", "r")
        );
        for other in [
            "https://example.com/",
            "http://example.com:8080/",
            "http://www.example.com/",
            "http://someone@example.com/",
        ] {
            assert_eq!(cache.lookup(&target(other), "r"), None, "{other}");
        }
        assert_eq!(cache.lookup(&base, "other realm"), None);
        assert_eq!(
            cache.lookup(&AuthTarget::proxy("example.com", 80), "r"),
            None
        );

        cache.insert(&base, "r", &Authenticator::with_credentials("u2", "p2"));
        assert_eq!(cache.len(), 1, "replaced, not added");
        assert_eq!(cache.lookup(&base, "r").unwrap().user(), "u2");
        assert!(cache.remove(&base, "r"));
        assert!(!cache.remove(&base, "r"));
    }

    #[test]
    fn basic_is_sent_preemptively_below_the_proven_directory() {
        let mut cache = CredentialCache::new();
        let t = target("http://example.com/");
        cache.insert(
            &t,
            "r",
            &Authenticator::with_credentials("Aladdin", "open sesame"),
        );
        assert_eq!(
            cache.preemptive_authorization(&t, "/docs/a"),
            None,
            "not proven yet"
        );
        cache.record_success(&t, "r", "/docs/index.html?x=/y/", AuthMethod::Basic);
        let table = [
            ("/docs/index.html", true),
            ("/docs/", true),
            ("/docs/deep/er", true),
            ("/docs", false),
            ("/doc", false),
            ("/", false),
            ("/other/docs/", false),
        ];
        for (path, sent) in table {
            assert_eq!(
                cache.preemptive_authorization(&t, path).is_some(),
                sent,
                "{path}"
            );
        }
        assert_eq!(
            cache.preemptive_authorization(&t, "/docs/x").as_deref(),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        // Widening the space covers the rest of the host.
        cache.record_success(&t, "r", "/", AuthMethod::Basic);
        assert!(cache.preemptive_authorization(&t, "/other/docs/").is_some());
        // New credentials for the realm must prove themselves again.
        cache.insert(&t, "r", &Authenticator::with_credentials("x", "y"));
        assert_eq!(cache.preemptive_authorization(&t, "/docs/x"), None);
    }

    #[test]
    fn digest_credentials_are_found_but_not_sent_blindly() {
        let mut cache = CredentialCache::new();
        let t = target("https://example.com/");
        cache.insert(&t, "r", &Authenticator::with_credentials("u", "p"));
        cache.record_success(&t, "r", "/a/b", AuthMethod::Digest(DigestAlgorithm::Sha256));
        let found = cache.lookup_for_path(&t, "/a/c").unwrap();
        assert_eq!(found.realm(), "r");
        assert_eq!(
            found.method(),
            Some(AuthMethod::Digest(DigestAlgorithm::Sha256))
        );
        assert_eq!(cache.preemptive_authorization(&t, "/a/c"), None);
    }

    #[test]
    fn proxies_are_keyed_by_host_and_port_and_ignore_paths() {
        let mut cache = CredentialCache::new();
        let proxy = AuthTarget::proxy("Proxy.Local", 3128);
        cache.insert(&proxy, "squid", &Authenticator::with_credentials("u", "p"));
        cache.record_success(&proxy, "squid", "", AuthMethod::Basic);
        assert!(cache
            .preemptive_authorization(&AuthTarget::proxy("proxy.local", 3128), "/x")
            .is_some());
        assert!(cache
            .preemptive_authorization(&AuthTarget::proxy("proxy.local", 8080), "/x")
            .is_none());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded_with_least_recently_used_eviction() {
        let mut cache = CredentialCache::new();
        let keep = target("http://keep.example/");
        cache.insert(&keep, "r", &Authenticator::with_credentials("u", "p"));
        for i in 0..MAX_CREDENTIALS {
            if i == MAX_CREDENTIALS / 2 {
                // Using `keep` makes it recent.
                cache.record_success(&keep, "r", "/", AuthMethod::Basic);
            }
            let t = target(&format!("http://h{i}.example/"));
            cache.insert(&t, "r", &Authenticator::with_credentials("u", "p"));
        }
        assert_eq!(cache.len(), MAX_CREDENTIALS);
        assert!(cache.lookup(&keep, "r").is_some());
        assert!(cache.lookup(&target("http://h0.example/"), "r").is_none());
    }
}
