//! `HostInfo`, Qt's `QHostInfo`: host name lookups on a small pool of worker threads, with the
//! result delivered on the requesting thread's event loop.
//!
//! The loop thread never blocks on DNS: the blocking `getaddrinfo` (or, for an IP literal,
//! the reverse lookup with `getnameinfo`, as Qt does) runs in a worker, and the answer is
//! posted back through a [`LoopHandle`](slotnet_core::LoopHandle). Every name goes to the
//! system resolver, `localhost` included (as Qt); names under the reserved `.invalid` domain
//! (RFC 6761) fail without a lookup; these answers too arrive on a later loop iteration, so
//! callers see the same ordering whatever the name. Successful forward lookups are cached for
//! [`CACHE_TTL`].
//!
//! Sockets connecting to a host use a variant without the reverse lookup: an IP literal
//! (IPv6 with or without brackets, as URLs write it) is answered at once, as Qt's
//! `connectToHost` does, and `localhost` (and `*.localhost`) is the loopback addresses
//! without a lookup, as RFC 6761 asks and curl does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use slotnet_core::{AsObject, EventLoop};

/// How long a successful lookup is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Cache entries kept at most (expired ones are dropped first when it is full).
const CACHE_CAPACITY: usize = 512;
/// Worker threads doing blocking lookups at most.
const MAX_WORKERS: usize = 4;

/// What went wrong with a lookup (Qt's `QHostInfo::HostInfoError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HostInfoError {
    /// The lookup succeeded.
    #[default]
    NoError,
    /// No address was found for the name.
    HostNotFound,
    /// Another error (resolver failure).
    UnknownError,
}

impl HostInfoError {
    /// Qt's name for the code.
    pub fn name(self) -> &'static str {
        match self {
            HostInfoError::NoError => "NoError",
            HostInfoError::HostNotFound => "HostNotFound",
            HostInfoError::UnknownError => "UnknownError",
        }
    }
}

impl fmt::Display for HostInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for HostInfoError {}

/// Identifies a lookup started with [`HostInfo::lookup_host`] (Qt's lookup id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(u64);

impl LookupId {
    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for LookupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The result of a host name lookup (Qt's `QHostInfo`).
///
/// ```
/// use slotnet_core::EventLoop;
/// use slotnet_net::{HostInfo, HostInfoError};
///
/// HostInfo::lookup_host("127.0.0.1", |info| {
///     assert_eq!(info.error(), HostInfoError::NoError);
///     assert_eq!(info.addresses(), &["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
///     EventLoop::current().quit();
/// });
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    host_name: String,
    addresses: Vec<IpAddr>,
    error: HostInfoError,
    error_string: String,
    lookup_id: Option<LookupId>,
}

impl HostInfo {
    fn found(name: &str, addresses: Vec<IpAddr>) -> HostInfo {
        HostInfo {
            host_name: name.to_owned(),
            addresses,
            error: HostInfoError::NoError,
            error_string: String::new(),
            lookup_id: None,
        }
    }

    fn failed(name: &str, error: HostInfoError, message: &str) -> HostInfo {
        HostInfo {
            host_name: name.to_owned(),
            addresses: Vec::new(),
            error,
            error_string: message.to_owned(),
            lookup_id: None,
        }
    }

    /// The name that was looked up.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// The addresses found, in the resolver's order of preference (empty on error).
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addresses
    }

    /// The error code ([`HostInfoError::NoError`] on success).
    pub fn error(&self) -> HostInfoError {
        self.error
    }

    /// A human-readable description of the error (empty on success).
    pub fn error_string(&self) -> &str {
        &self.error_string
    }

    /// The id [`HostInfo::lookup_host`] returned for this lookup (`None` for
    /// [`HostInfo::from_name`]).
    pub fn lookup_id(&self) -> Option<LookupId> {
        self.lookup_id
    }

    /// Looks `name` up without blocking the loop; `callback` runs on this thread's loop with
    /// the result, on a later iteration, unless [`HostInfo::abort_host_lookup`] is called
    /// first.
    ///
    /// As Qt's `lookupHost`: an IP literal gets a reverse lookup (`"127.0.0.1"` gives the
    /// host name `localhost` with the address 127.0.0.1; without a name the host name is the
    /// literal); a name is looked up as given (no trimming: `" localhost "` and `"[::1]"` fail
    /// with `HostNotFound` and "Invalid hostname"; an empty name with "No host name given");
    /// resolver failures say "Host not found" (`HostNotFound`) or the resolver's own text
    /// (`UnknownError`).
    pub fn lookup_host<F: FnOnce(&HostInfo) + 'static>(name: &str, callback: F) -> LookupId {
        start_lookup(plan_qt(name), Box::new(callback))
    }

    /// The lookup a socket's `connect_to_host` makes: IP literals (IPv6 in brackets too) are
    /// answered without a reverse lookup, surrounding spaces are ignored.
    pub(crate) fn lookup_for_connect<F: FnOnce(&HostInfo) + 'static>(
        name: &str,
        callback: F,
    ) -> LookupId {
        start_lookup(plan_connect(name), Box::new(callback))
    }

    /// The blocking form of [`HostInfo::lookup_for_connect`] (for the blocking waits).
    pub(crate) fn from_name_for_connect(name: &str) -> HostInfo {
        run_plan(plan_connect(name))
    }

    /// Like [`HostInfo::lookup_host`], but the callback is not called if `context` has been
    /// destroyed by then (Qt's receiver object).
    pub fn lookup_host_with<C, F>(name: &str, context: &C, callback: F) -> LookupId
    where
        C: AsObject,
        F: FnOnce(&HostInfo) + 'static,
    {
        let context = context.as_object();
        HostInfo::lookup_host(name, move |info| {
            if context.is_alive() {
                callback(info)
            }
        })
    }

    /// Cancels a lookup: its callback will not be called. Unknown or finished ids are ignored.
    pub fn abort_host_lookup(id: LookupId) {
        // `try_with`: sockets abort their lookups from destructors, which may run while the
        // thread is shutting down.
        let callback = PENDING.try_with(|p| p.borrow_mut().remove(&id));
        // Dropped outside the borrow: its captures may run code that starts lookups.
        drop(callback);
    }

    /// Looks `name` up, blocking the calling thread (Qt's `QHostInfo::fromName`), with the
    /// rules of [`HostInfo::lookup_host`]. Never call it on a thread whose loop serves
    /// sockets.
    pub fn from_name(name: &str) -> HostInfo {
        run_plan(plan_qt(name))
    }

    /// This machine's host name (Qt's `QHostInfo::localHostName`), empty if unknown.
    pub fn local_host_name() -> String {
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is writable for its length; gethostname NUL-terminates on success
        // (the last byte stays 0 if it truncates).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        if rc != 0 {
            return String::new();
        }
        CStr::from_bytes_until_nul(&buf)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// This machine's DNS domain (Qt's `QHostInfo::localDomainName`): what the resolver
    /// appends to bare names (`LOCALDOMAIN`, else the last `domain` or `search` line of
    /// /etc/resolv.conf, else the domain part of the host name); empty if none.
    pub fn local_domain_name() -> String {
        if let Ok(env) = std::env::var("LOCALDOMAIN") {
            if let Some(first) = env.split_whitespace().next() {
                return first.to_owned();
            }
        }
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if let Some(domain) = resolv_conf_domain(&conf) {
            return domain;
        }
        let host = HostInfo::local_host_name();
        host.split_once('.')
            .map(|(_, domain)| domain.to_owned())
            .unwrap_or_default()
    }

    /// Forgets every cached lookup.
    pub fn clear_cache() {
        if let Ok(mut cache) = cache().lock() {
            cache.clear();
        }
    }

    /// How many lookups started on this thread are still waiting for their answer.
    pub fn pending_lookups() -> usize {
        PENDING.with(|p| p.borrow().len())
    }
}

type Callback = Box<dyn FnOnce(&HostInfo)>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Callbacks of this thread's lookups in flight: they are `!Send`, so they stay here and
    /// only the answer crosses threads.
    static PENDING: RefCell<HashMap<LookupId, Callback>> = RefCell::new(HashMap::new());
}

fn deliver(id: LookupId, mut answer: HostInfo) {
    let callback = PENDING.with(|p| p.borrow_mut().remove(&id));
    if let Some(callback) = callback {
        answer.lookup_id = Some(id);
        callback(&answer);
    }
}

/// What a lookup needs.
enum Plan {
    /// Known without the resolver.
    Answer(HostInfo),
    /// `getaddrinfo` for `query` (the ASCII form of `name`).
    Forward { name: String, query: String },
    /// `getnameinfo` for an IP literal.
    Reverse { name: String, ip: IpAddr },
}

fn start_lookup(plan: Plan, callback: Callback) -> LookupId {
    let id = LookupId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    PENDING.with(|p| p.borrow_mut().insert(id, callback));
    let plan = match plan {
        Plan::Forward { name, query } => match cache_get(&query) {
            Some(addresses) => Plan::Answer(HostInfo::found(&name, addresses)),
            None => Plan::Forward { name, query },
        },
        other => other,
    };
    if let Plan::Answer(answer) = plan {
        EventLoop::current().post(move || deliver(id, answer));
        return id;
    }
    let handle = EventLoop::current().handle();
    Pool::get().submit(Box::new(move || {
        let answer = run_plan(plan);
        // A loop that has ended no longer wants the answer.
        let _ = handle.post(move || deliver(id, answer));
    }));
    id
}

/// Runs a plan on this thread (blocking for the resolver).
fn run_plan(plan: Plan) -> HostInfo {
    match plan {
        Plan::Answer(answer) => answer,
        Plan::Forward { name, query } => {
            if let Some(addresses) = cache_get(&query) {
                return HostInfo::found(&name, addresses);
            }
            let answer = resolve(&name, &query);
            if answer.error == HostInfoError::NoError {
                cache_put(query, answer.addresses.clone());
            }
            answer
        }
        Plan::Reverse { name, ip } => {
            let host_name = reverse(ip).unwrap_or(name);
            HostInfo::found(&host_name, vec![ip])
        }
    }
}

/// Qt's rules for `lookupHost`/`fromName`.
fn plan_qt(name: &str) -> Plan {
    if name.is_empty() {
        return Plan::Answer(HostInfo::failed(
            name,
            HostInfoError::HostNotFound,
            "No host name given",
        ));
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Plan::Reverse {
            name: name.to_owned(),
            ip,
        };
    }
    // Qt's test is whether the name has an ACE form (`QUrl::toAce`); brackets, spaces and
    // the other characters a host name cannot hold do not.
    let query = match url::Host::parse(name) {
        Ok(url::Host::Domain(ace)) if !name.contains(['[', ']']) => ace,
        // Short IPv4 forms ("127.1"), which Qt's address parser takes too.
        Ok(url::Host::Ipv4(ip)) => {
            return Plan::Reverse {
                name: name.to_owned(),
                ip: IpAddr::V4(ip),
            }
        }
        _ => {
            return Plan::Answer(HostInfo::failed(
                name,
                HostInfoError::HostNotFound,
                "Invalid hostname",
            ))
        }
    };
    plan_domain(name, query)
}

/// The rules for a socket's connect: surrounding spaces ignored, IP literals (IPv6 in
/// brackets too) answered as they are.
fn plan_connect(name: &str) -> Plan {
    let name = name.trim();
    if name.is_empty() {
        return Plan::Answer(HostInfo::failed(
            name,
            HostInfoError::HostNotFound,
            "No host name given",
        ));
    }
    let literal = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Plan::Answer(HostInfo::found(name, vec![ip]));
    }
    let query = name.to_ascii_lowercase();
    let bare = query.trim_end_matches('.');
    if bare == "localhost" || bare.ends_with(".localhost") {
        // RFC 6761 (and curl): a connection to localhost never leaves the machine, whatever
        // the resolver says, and needs no lookup. IPv4 first: most local servers bind
        // 127.0.0.1 only. (`HostInfo::lookup_host` asks the resolver, as Qt.)
        return Plan::Answer(HostInfo::found(
            name,
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        ));
    }
    plan_domain(name, query)
}

/// A domain name: the reserved `.invalid` domain fails at once; the rest is for the
/// resolver.
fn plan_domain(name: &str, query: String) -> Plan {
    let bare = query.trim_end_matches('.');
    if bare == "invalid" || bare.ends_with(".invalid") {
        return Plan::Answer(HostInfo::failed(
            name,
            HostInfoError::HostNotFound,
            "Host not found",
        ));
    }
    Plan::Forward {
        name: name.to_owned(),
        query,
    }
}

/// The blocking forward lookup (`getaddrinfo`), run on a worker thread. Errors as Qt
/// reports them: no such name is `HostNotFound` "Host not found", anything else
/// `UnknownError` with the resolver's text.
fn resolve(name: &str, query: &str) -> HostInfo {
    let Ok(c_query) = CString::new(query) else {
        return HostInfo::failed(name, HostInfoError::HostNotFound, "Invalid hostname");
    };
    // SAFETY: zeroed addrinfo is a valid "no hints" value; the fields set are plain ints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    hints.ai_socktype = libc::SOCK_STREAM;
    // As Qt: only address families the machine has configured.
    hints.ai_flags = libc::AI_ADDRCONFIG;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C string and hints; on success `list` is freed below.
    let mut rc =
        unsafe { libc::getaddrinfo(c_query.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc == libc::EAI_BADFLAGS {
        hints.ai_flags = 0;
        // SAFETY: as above.
        rc = unsafe { libc::getaddrinfo(c_query.as_ptr(), std::ptr::null(), &hints, &mut list) };
    }
    if rc != 0 {
        return if matches!(rc, libc::EAI_NONAME | libc::EAI_FAIL | libc::EAI_NODATA) {
            HostInfo::failed(name, HostInfoError::HostNotFound, "Host not found")
        } else {
            // SAFETY: gai_strerror returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
            HostInfo::failed(name, HostInfoError::UnknownError, &text.to_string_lossy())
        };
    }
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: `cursor` walks the list getaddrinfo returned, not yet freed.
        let entry = unsafe { &*cursor };
        if let Some(addr) = sockaddr_ip(entry.ai_addr, entry.ai_addrlen) {
            if !addresses.contains(&addr) {
                addresses.push(addr);
            }
        }
        cursor = entry.ai_next;
    }
    // SAFETY: `list` came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(list) };
    if addresses.is_empty() {
        HostInfo::failed(name, HostInfoError::HostNotFound, "Host not found")
    } else {
        HostInfo::found(name, addresses)
    }
}

/// The IP of a socket address from the resolver.
fn sockaddr_ip(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<IpAddr> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: the resolver gives `len` valid bytes at `addr`; the family says which
    // structure they hold, and the length is checked before reading it.
    unsafe {
        match i32::from((*addr).sa_family) {
            libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
                let v4 = &*(addr as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
            }
            libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let v6 = &*(addr as *const libc::sockaddr_in6);
                Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

/// The reverse lookup (`getnameinfo`, as Qt): the name, or `None` when the resolver has
/// none.
fn reverse(ip: IpAddr) -> Option<String> {
    let mut host = [0u8; 1025]; // NI_MAXHOST
    let rc = match SocketAddr::new(ip, 0) {
        SocketAddr::V4(v4) => {
            // SAFETY: zeroed sockaddr_in is valid; the fields set are plain values.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            // SAFETY: `sa` and `host` are valid for the lengths passed.
            unsafe {
                libc::getnameinfo(
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr().cast(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    0,
                )
            }
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = v6.ip().octets();
            // SAFETY: as above.
            unsafe {
                libc::getnameinfo(
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr().cast(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    0,
                )
            }
        }
    };
    if rc != 0 {
        return None;
    }
    let name = CStr::from_bytes_until_nul(&host)
        .ok()?
        .to_string_lossy()
        .into_owned();
    (!name.is_empty()).then_some(name)
}

/// The default domain in resolv.conf: the last `domain` or `search` line wins (as glibc
/// reads it); `search` gives its first entry.
fn resolv_conf_domain(conf: &str) -> Option<String> {
    let mut domain = None;
    for line in conf.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("domain") | Some("search") => {
                if let Some(first) = words.next() {
                    domain = Some(first.trim_end_matches('.').to_owned());
                }
            }
            _ => {}
        }
    }
    domain.filter(|d| !d.is_empty())
}

type CacheMap = HashMap<String, (Instant, Vec<IpAddr>)>;

fn cache() -> &'static Mutex<CacheMap> {
    static CACHE: OnceLock<Mutex<CacheMap>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cache_get(key: &str) -> Option<Vec<IpAddr>> {
    let mut cache = cache().lock().ok()?;
    match cache.get(key) {
        Some((at, addrs)) if at.elapsed() < CACHE_TTL => Some(addrs.clone()),
        Some(_) => {
            cache.remove(key);
            None
        }
        None => None,
    }
}

fn cache_put(key: String, addresses: Vec<IpAddr>) {
    let Ok(mut cache) = cache().lock() else {
        return;
    };
    if cache.len() >= CACHE_CAPACITY {
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
    }
    if cache.len() >= CACHE_CAPACITY {
        let oldest = cache
            .iter()
            .min_by_key(|(_, (at, _))| *at)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            cache.remove(&oldest);
        }
    }
    cache.insert(key, (Instant::now(), addresses));
}

type Job = Box<dyn FnOnce() + Send>;

/// The process-wide lookup workers, started on demand up to [`MAX_WORKERS`] and kept for
/// the life of the process (they sleep on the job channel when idle).
struct Pool {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    workers: AtomicUsize,
    idle: AtomicUsize,
}

impl Pool {
    fn get() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded();
            Pool {
                tx,
                rx,
                workers: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
            }
        })
    }

    fn submit(&'static self, job: Job) {
        // The channel outlives every sender: the pool is never dropped.
        let _ = self.tx.send(job);
        if self.idle.load(Ordering::Acquire) == 0 {
            let started = self
                .workers
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < MAX_WORKERS).then_some(n + 1)
                })
                .is_ok();
            if started {
                let spawned = std::thread::Builder::new()
                    .name("slotnet-hostinfo".into())
                    .spawn(move || self.work());
                if spawned.is_err() {
                    self.workers.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
    }

    fn work(&self) {
        loop {
            self.idle.fetch_add(1, Ordering::AcqRel);
            let job = self.rx.recv();
            self.idle.fetch_sub(1, Ordering::AcqRel);
            match job {
                Ok(job) => job(),
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(plan: Plan) -> Option<HostInfo> {
        match plan {
            Plan::Answer(a) => Some(a),
            _ => None,
        }
    }

    #[test]
    fn qt_rules_reject_what_qt_rejects() {
        let invalid = |name: &str| {
            let a = answer(plan_qt(name)).unwrap();
            assert_eq!(a.error(), HostInfoError::HostNotFound, "{name}");
            a.error_string().to_owned()
        };
        assert_eq!(invalid(" localhost "), "Invalid hostname");
        assert_eq!(invalid("[::1]"), "Invalid hostname");
        assert_eq!(invalid("a b"), "Invalid hostname");
        assert_eq!(invalid(""), "No host name given");
        assert_eq!(invalid("something.invalid"), "Host not found");
        assert!(matches!(plan_qt("127.0.0.1"), Plan::Reverse { .. }));
        assert!(matches!(plan_qt("::1"), Plan::Reverse { .. }));
        assert!(matches!(plan_qt("localhost"), Plan::Forward { .. }));
    }

    #[test]
    fn connect_rules_answer_literals_at_once() {
        let v6 = answer(plan_connect("[::1]")).unwrap();
        assert_eq!(v6.addresses(), &[IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert_eq!(
            answer(plan_connect("LocalHost")).unwrap().addresses().len(),
            2
        );
        assert!(matches!(
            plan_connect(" example.com "),
            Plan::Forward { .. }
        ));
    }

    #[test]
    fn resolv_conf_last_domain_or_search_wins() {
        assert_eq!(
            resolv_conf_domain("nameserver 1.1.1.1\nsearch corp.example other.example\n"),
            Some("corp.example".into())
        );
        assert_eq!(
            resolv_conf_domain("search a.example\ndomain b.example.\n"),
            Some("b.example".into())
        );
        assert_eq!(resolv_conf_domain("nameserver 10.0.0.1\n"), None);
    }

    #[test]
    fn cache_expires_nothing_fresh() {
        cache_put(
            "cached.test".into(),
            vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))],
        );
        assert_eq!(
            cache_get("cached.test"),
            Some(vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))])
        );
        assert_eq!(cache_get("absent.test"), None);
    }
}
