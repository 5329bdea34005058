//! The manager-wide state behind the HTTP engine's optional features: credentials, cookies,
//! HSTS, the cache and the proxy setting. `NetworkAccessManager` owns one `ClientFeatures`
//! and exposes it through its public setters; jobs read it on each hop.
//!
//! Every feature that is off costs a `Cell`/`RefCell` check and no allocation, so that a
//! plain request on the hot path does not pay for them.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

use slotnet_core::{Object, Signal};
use slotnet_net::proxy::{NetworkProxy, ProxyFactory};
use url::Url;

use crate::auth::{Authenticator, CredentialCache};
use crate::cache::AbstractNetworkCache;
use crate::cookies::{NetworkCookie, NetworkCookieJar};
use crate::hsts::{HstsCache, HstsPolicy, HstsStore};

/// The arguments of `proxy_authentication_required`: the proxy, and the authenticator the
/// slot fills in (Qt passes a `QAuthenticator*`).
pub(crate) type ProxyAuthRequest = (NetworkProxy, Rc<RefCell<Authenticator>>);
/// A cookie jar shared by the manager and the application.
pub(crate) type SharedJar = Rc<RefCell<NetworkCookieJar>>;
/// A cache shared by the manager and the application.
pub(crate) type SharedCache = Rc<RefCell<Box<dyn AbstractNetworkCache>>>;

/// Optional features of one manager.
pub(crate) struct ClientFeatures {
    pub(crate) proxy_authentication_required: Signal<ProxyAuthRequest>,
    /// Server and (forward) proxy credentials that worked, per protection space.
    pub(crate) credentials: RefCell<CredentialCache>,
    /// Created on first use (the first `Set-Cookie`, or `cookie_jar()`), as in Qt.
    pub(crate) cookie_jar: RefCell<Option<SharedJar>>,
    pub(crate) hsts_enabled: Cell<bool>,
    pub(crate) hsts: RefCell<HstsCache>,
    pub(crate) hsts_store: RefCell<Option<HstsStore>>,
    pub(crate) cache: RefCell<Option<SharedCache>>,
    /// The manager's proxy; `None` means `DefaultProxy` (the application setting).
    pub(crate) proxy: RefCell<Option<NetworkProxy>>,
    pub(crate) proxy_factory: RefCell<Option<Arc<dyn ProxyFactory>>>,
}

impl ClientFeatures {
    pub(crate) fn new(obj: Object) -> ClientFeatures {
        ClientFeatures {
            proxy_authentication_required: obj.new_signal(),
            credentials: RefCell::new(CredentialCache::new()),
            cookie_jar: RefCell::new(None),
            hsts_enabled: Cell::new(false),
            hsts: RefCell::new(HstsCache::new()),
            hsts_store: RefCell::new(None),
            cache: RefCell::new(None),
            proxy: RefCell::new(None),
            proxy_factory: RefCell::new(None),
        }
    }

    // --- proxy credentials -----------------------------------------------------------------

    /// Asks the application for `proxy`'s credentials in `realm` through the manager's
    /// `proxy_authentication_required` (Qt's `proxyAuthenticationRequired`), for a tunnel
    /// that a proxy refused: returns what the slots filled in (empty if none answered).
    pub(crate) fn ask_proxy_credentials(&self, proxy: &NetworkProxy, realm: &str) -> Authenticator {
        let mut ask = Authenticator::new();
        ask.set_realm(realm);
        let handle = Rc::new(RefCell::new(ask));
        self.proxy_authentication_required
            .emit((proxy.clone(), handle.clone()));
        let answer = handle.borrow().clone();
        answer
    }

    // --- cookies ---------------------------------------------------------------------------

    /// The jar, created empty if there is none yet.
    pub(crate) fn jar(&self) -> SharedJar {
        self.cookie_jar
            .borrow_mut()
            .get_or_insert_with(|| Rc::new(RefCell::new(NetworkCookieJar::new())))
            .clone()
    }

    /// The `Cookie` value for a request to `url`; `None` without a jar or a matching cookie
    /// (no allocation when the jar is missing or empty).
    pub(crate) fn cookie_header(&self, url: &Url) -> Option<String> {
        let jar = self.cookie_jar.borrow().clone()?;
        let jar = jar.borrow();
        if jar.is_empty() {
            return None;
        }
        jar.cookie_header_for_url(url)
    }

    /// Stores the cookies of the `Set-Cookie` values of a response from `url`.
    pub(crate) fn store_cookies<'a>(&self, url: &Url, values: impl Iterator<Item = &'a str>) {
        let mut cookies: Vec<NetworkCookie> = Vec::new();
        for value in values {
            cookies.extend(NetworkCookie::parse_cookies(value));
        }
        if !cookies.is_empty() {
            self.jar().borrow_mut().set_cookies_from_url(cookies, url);
        }
    }

    // --- HSTS ------------------------------------------------------------------------------

    /// The https URL for `url` if HSTS is on and its host is known (RFC 6797 8.3).
    pub(crate) fn hsts_upgrade(&self, url: &Url) -> Option<Url> {
        if !self.hsts_enabled.get() || url.scheme() != "http" {
            return None;
        }
        let hsts = self.hsts.borrow();
        if hsts.is_empty() {
            return None;
        }
        hsts.upgrade_url(url)
    }

    /// Whether `host` is a known HSTS host (certificate errors cannot be ignored for it).
    pub(crate) fn is_hsts_host(&self, host: &str) -> bool {
        self.hsts_enabled.get() && self.hsts.borrow().is_known_host(host)
    }

    /// Applies a `Strict-Transport-Security` value received over TLS from `host` and writes
    /// the store when one is enabled.
    pub(crate) fn hsts_header(&self, host: &str, value: &str) {
        if !self.hsts_enabled.get() {
            return;
        }
        let changed = self
            .hsts
            .borrow_mut()
            .update_from_header(host, value, SystemTime::now());
        if changed {
            self.save_hsts();
        }
    }

    /// Adds policies (from the application or a store) and writes the store.
    pub(crate) fn add_hsts_policies(&self, policies: Vec<HstsPolicy>) {
        self.hsts.borrow_mut().add_policies(policies);
        self.save_hsts();
    }

    fn save_hsts(&self) {
        let store = self.hsts_store.borrow().clone();
        if let Some(store) = store {
            // A store that cannot be written only loses persistence: the cache stays right.
            let _ = store.write_policies(&self.hsts.borrow().policies());
        }
    }

    /// Turns the persistent store on (reading it into the cache) or off.
    pub(crate) fn enable_hsts_store(&self, enabled: bool, dir: Option<&Path>) -> io::Result<()> {
        if !enabled {
            *self.hsts_store.borrow_mut() = None;
            return Ok(());
        }
        let dir = dir.map(Path::to_path_buf).unwrap_or_else(default_hsts_dir);
        let store = HstsStore::new(dir);
        let stored = store.read_policies(SystemTime::now());
        *self.hsts_store.borrow_mut() = Some(store);
        let stored = stored?;
        // Policies learnt before the store was enabled are kept and written to it too.
        self.add_hsts_policies(stored);
        Ok(())
    }

    // --- cache -----------------------------------------------------------------------------

    pub(crate) fn cache(&self) -> Option<SharedCache> {
        self.cache.borrow().clone()
    }
}

/// Where the HSTS store lives when no directory is given: `$XDG_CACHE_HOME/slotnet`, else
/// `~/.cache/slotnet`, else the temporary directory (Qt uses the application's cache
/// location).
fn default_hsts_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("slotnet")
}
