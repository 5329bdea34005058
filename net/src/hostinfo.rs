//! `HostInfo`, Qt's `QHostInfo`: host name lookups on a small pool of worker threads, with the
//! result delivered on the requesting thread's event loop.
//!
//! The loop thread never blocks on DNS: the blocking `getaddrinfo` runs in a worker, and the
//! answer is posted back through a [`LoopHandle`](slotnet_core::LoopHandle). IP literals and `localhost` are answered
//! without a lookup, and names under the reserved `.invalid` domain (RFC 6761) fail without
//! one; these answers too arrive on a later loop iteration, so callers see the same ordering
//! whatever the name. Successful lookups are cached for [`CACHE_TTL`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
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
    pub fn lookup_host<F: FnOnce(&HostInfo) + 'static>(name: &str, callback: F) -> LookupId {
        let id = LookupId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
        PENDING.with(|p| p.borrow_mut().insert(id, Box::new(callback)));
        let name = name.trim().to_owned();
        if let Some(answer) = immediate_answer(&name) {
            EventLoop::current().post(move || deliver(id, answer));
            return id;
        }
        let key = name.to_ascii_lowercase();
        if let Some(addresses) = cache_get(&key) {
            let answer = HostInfo::found(&name, addresses);
            EventLoop::current().post(move || deliver(id, answer));
            return id;
        }
        let handle = EventLoop::current().handle();
        Pool::get().submit(Box::new(move || {
            let answer = resolve(&name);
            if answer.error == HostInfoError::NoError {
                cache_put(key, answer.addresses.clone());
            }
            // A loop that has ended no longer wants the answer.
            let _ = handle.post(move || deliver(id, answer));
        }));
        id
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

    /// Looks `name` up, blocking the calling thread (Qt's `QHostInfo::fromName`). Never call
    /// it on a thread whose loop serves sockets.
    pub fn from_name(name: &str) -> HostInfo {
        let name = name.trim();
        if let Some(answer) = immediate_answer(name) {
            return answer;
        }
        let key = name.to_ascii_lowercase();
        if let Some(addresses) = cache_get(&key) {
            return HostInfo::found(name, addresses);
        }
        let answer = resolve(name);
        if answer.error == HostInfoError::NoError {
            cache_put(key, answer.addresses.clone());
        }
        answer
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

/// Answers that need no resolver: IP literals (IPv6 optionally in brackets), `localhost`,
/// and the reserved `.invalid` domain.
fn immediate_answer(name: &str) -> Option<HostInfo> {
    if name.is_empty() {
        return Some(HostInfo::failed(
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
        return Some(HostInfo::found(name, vec![ip]));
    }
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        // IPv4 first: most local servers bind 127.0.0.1 only.
        return Some(HostInfo::found(
            name,
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        ));
    }
    if lower == "invalid" || lower.ends_with(".invalid") {
        return Some(HostInfo::failed(
            name,
            HostInfoError::HostNotFound,
            "Host not found",
        ));
    }
    None
}

/// The blocking lookup, run on a worker thread.
fn resolve(name: &str) -> HostInfo {
    match (name, 0u16).to_socket_addrs() {
        Ok(addrs) => {
            let mut addresses: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !addresses.contains(&addr.ip()) {
                    addresses.push(addr.ip());
                }
            }
            if addresses.is_empty() {
                HostInfo::failed(name, HostInfoError::HostNotFound, "Host not found")
            } else {
                HostInfo::found(name, addresses)
            }
        }
        // std does not expose getaddrinfo's EAI code; a failed lookup is "not found" as far
        // as a caller can act on it, and the message keeps the resolver's reason.
        Err(e) => HostInfo::failed(name, HostInfoError::HostNotFound, &e.to_string()),
    }
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

    #[test]
    fn literals_need_no_lookup() {
        let v6 = immediate_answer("[::1]").unwrap();
        assert_eq!(v6.addresses(), &[IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        let local = immediate_answer("LocalHost").unwrap();
        assert_eq!(local.addresses().len(), 2);
        let invalid = immediate_answer("something.invalid").unwrap();
        assert_eq!(invalid.error(), HostInfoError::HostNotFound);
        assert!(immediate_answer("example.com").is_none());
        assert_eq!(
            immediate_answer("").unwrap().error(),
            HostInfoError::HostNotFound
        );
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
