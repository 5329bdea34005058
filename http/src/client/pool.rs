//! The connection pool: per host and port, at most six HTTP/1.1 connections (or the number
//! of the request's `Http1Configuration`, see [`Settings`]), idle ones kept
//! for reuse, and a queue of waiting jobs ordered by priority. Waiting jobs go, in this
//! order of preference (Qt's), to an idle connection, behind the requests of a connection
//! that pipelines, to a preconnected connection still being set up, or to a new connection.
//!
//! Https requests that allow HTTP/2 and those that refuse it are pooled apart (see
//! [`PoolKey`]). The former get one connection, not six, while no connection of theirs has
//! settled on a protocol (as in Qt): they wait for the ALPN result of its h2 offer, then
//! share it over HTTP/2 or, when the server chose HTTP/1.1, are served by up to six
//! connections. Nothing about the host's answer is remembered beyond its connections.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::Duration;

use slotnet_net::ssl::SslConfiguration;
use url::Url;

use super::dispatch::{HostPool, Step, WaitingJob};
use super::exchange::Exchange;
use super::h1_conn::{ConnPool, H1Conn};
use super::h2_pool::{H2Pool, Http1Queue};
use super::key::{PoolKey, TlsKey};
use super::route;
use super::settings::Settings;
use crate::connection_tls::ConnectionTls;
use crate::error::NetworkError;
use crate::manager::NetworkAccessManager;
use crate::request::{NetworkRequest, Priority};

pub(crate) struct Pool {
    me: Weak<Pool>,
    manager: NetworkAccessManager,
    hosts: RefCell<HashMap<PoolKey, HostPool<H1Conn, dyn Exchange>>>,
    connections_opened: Cell<u64>,
    settings: Cell<Settings>,
    /// HTTP/2 connections (one multiplexed connection per host), see `super::h2_pool`.
    h2: Rc<H2Pool>,
}

fn queue_index(p: Priority) -> usize {
    match p {
        Priority::HighPriority => 0,
        Priority::NormalPriority => 1,
        Priority::LowPriority => 2,
    }
}

impl Pool {
    pub(crate) fn new(manager: NetworkAccessManager) -> Rc<Pool> {
        Rc::new_cyclic(|me| {
            let settings = Settings::default();
            let h2 = H2Pool::new(settings);
            h2.set_fallback(me.clone() as Weak<dyn Http1Queue>);
            Pool {
                me: me.clone(),
                manager,
                hosts: RefCell::new(HashMap::new()),
                connections_opened: Cell::new(0),
                settings: Cell::new(settings),
                h2,
            }
        })
    }

    /// How long idle connections are kept: those that become idle from now on.
    pub(crate) fn set_idle_expiry(&self, expiry: Duration) {
        let settings = Settings {
            idle_expiry: expiry,
            ..self.settings.get()
        };
        self.settings.set(settings);
        self.h2.set_settings(settings);
    }

    /// A new host pool for `limit` connections.
    fn host_pool(&self, limit: usize) -> HostPool<H1Conn, dyn Exchange> {
        HostPool::new(limit, self.settings.get().queue_scan)
    }

    /// How many jobs wait for a connection to `key` (unit tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self, key: &PoolKey) -> usize {
        self.hosts
            .borrow()
            .get(key)
            .map_or(0, |h| h.queue.iter().map(|q| q.len()).sum())
    }

    /// How many connections this pool has opened in all (for tests and statistics).
    pub(crate) fn connections_opened(&self) -> u64 {
        self.connections_opened.get() + self.h2.connections_opened()
    }

    /// Queues a job; it is dispatched on a later loop iteration, so the application has
    /// connected its slots before any signal is emitted.
    pub(crate) fn enqueue(&self, job: Rc<dyn Exchange>) {
        let Some(key) = job.key() else {
            job.fail(NetworkError::ProtocolUnknownError, "Invalid URL".into());
            return;
        };
        if H2Pool::wants(&*job) {
            self.h2.enqueue(job, false);
            return;
        }
        let job = if key.h2_offer {
            // An HTTP/2 connection to the host may already be up.
            match self.h2.try_submit(job, false) {
                Ok(()) => return,
                Err(job) => job,
            }
        } else {
            job
        };
        self.enqueue_h1(job, false);
    }

    /// Queues a job for an HTTP/1.1 connection (https ones may still turn to HTTP/2 when ALPN
    /// chooses it).
    pub(crate) fn enqueue_h1(&self, job: Rc<dyn Exchange>, front: bool) {
        let Some(key) = job.key() else {
            return;
        };
        let index = queue_index(job.priority());
        {
            let mut hosts = self.hosts.borrow_mut();
            let host = hosts
                .entry(key.clone())
                .or_insert_with(|| self.host_pool(job.connections_per_host()));
            let queue = &mut host.queue[index];
            if front {
                queue.push_front(job);
            } else {
                queue.push_back(job);
            }
        }
        self.schedule_dispatch(key);
    }

    pub(crate) fn schedule_dispatch(&self, key: PoolKey) {
        let first = {
            let mut hosts = self.hosts.borrow_mut();
            let limit = self.settings.get().connections_per_host;
            let host = hosts
                .entry(key.clone())
                .or_insert_with(|| self.host_pool(limit));
            !std::mem::replace(&mut host.dispatch_scheduled, true)
        };
        if first {
            let me = self.me.clone();
            slotnet_core::AsObject::as_object(&self.manager).invoke_later(move || {
                if let Some(pool) = me.upgrade() {
                    pool.dispatch(&key);
                }
            });
        }
    }

    /// Hands waiting jobs to idle connections, behind the requests of pipelining ones, to
    /// preconnected ones, and opens new ones up to the limit (Qt's order of preference).
    pub(crate) fn dispatch(&self, key: &PoolKey) {
        if let Some(host) = self.hosts.borrow_mut().get_mut(key) {
            host.dispatch_scheduled = false;
        }
        loop {
            let step = {
                let mut hosts = self.hosts.borrow_mut();
                let Some(host) = hosts.get_mut(key) else {
                    return;
                };
                host.next_step()
            };
            // The connection calls run outside the borrow: they emit signals whose slots
            // may send requests.
            match step {
                Step::Done => break,
                Step::Assign(conn, job) => {
                    log::debug!(target: crate::log_target::CONNECTION, "Re-using existing connection with host {}:{}", key.host, key.port);
                    conn.assign(job)
                }
                Step::Pipeline(conn, job) => {
                    log::debug!(target: crate::log_target::CONNECTION, "Pipelining on a connection with host {}:{}", key.host, key.port);
                    conn.pipeline_job(job)
                }
                Step::Ride(conn, job) => conn.add_rider(job),
                Step::Open(job) => {
                    log::debug!(target: crate::log_target::CONNECTION, "Opening a connection to {}://{}:{} (route {:?})", key.scheme, key.host, key.port, key.route);
                    let conn = H1Conn::open(
                        self.me.clone() as Weak<dyn ConnPool>,
                        key.clone(),
                        job.tls_config(),
                        self.settings.get(),
                    );
                    self.connections_opened
                        .set(self.connections_opened.get() + 1);
                    if let Some(host) = self.hosts.borrow_mut().get_mut(key) {
                        host.conns.push(conn.clone());
                    }
                    conn.assign(job);
                }
            }
        }
        let mut hosts = self.hosts.borrow_mut();
        if hosts.get(key).is_some_and(HostPool::is_empty) {
            hosts.remove(key);
        }
    }

    /// Opens a connection to `url`'s host and port before any request needs it (Qt's
    /// `connectToHost` and `connectToHostEncrypted`, `tls` for the latter). Once connected
    /// (and through its TLS handshake) it waits in the pool like a kept-alive connection,
    /// idle expiry included, and the next request to the host takes it; a request made
    /// while it is still being set up waits for it instead of opening another. A TLS
    /// handshake whose ALPN chose h2 makes it the host's HTTP/2 connection.
    ///
    /// Nothing is opened when it would not help: the host has an idle connection or its six
    /// connections, or, for an h2 offer, an HTTP/2 connection is up or being set up (one
    /// is enough). Failures are silent (there is no reply to report them on): the next
    /// request opens a connection of its own and reports its errors, `sslErrors` included.
    pub(crate) fn preconnect(&self, url: &Url, tls: Option<SslConfiguration>) {
        let request = NetworkRequest::new(url.clone());
        let state = self.manager.state();
        let Ok(route) = route::choose(state.as_ref().map(|s| &s.features), &request, url) else {
            return; // no proxy can carry it: the request will report that
        };
        // The preconnect stands for a request with Qt's default attributes, which allow
        // HTTP/2 (so requests that refuse it do not take the connection, whatever its ALPN
        // offered), as Qt's preconnect request does.
        let Some(key) = PoolKey::from_url(url, route, true, || TlsKey::of(tls.as_ref(), None))
        else {
            return;
        };
        let offers_h2 = tls.as_ref().is_some_and(|c| {
            c.allowed_next_protocols()
                .iter()
                .any(|p| p.as_slice() == b"h2")
        });
        if offers_h2 && self.h2.has_usable(&key) {
            return;
        }
        {
            let hosts = self.hosts.borrow();
            if let Some(host) = hosts.get(&key) {
                let useless = host.conns.len() >= host.limit
                    || host.conns.iter().any(|c| c.is_idle())
                    || (offers_h2 && host.conns.iter().any(|c| c.connecting_with_h2_offer()));
                if useless {
                    return;
                }
            }
        }
        let settings = self.settings.get();
        let conn = H1Conn::open(
            self.me.clone() as Weak<dyn ConnPool>,
            key.clone(),
            tls,
            settings,
        );
        self.connections_opened
            .set(self.connections_opened.get() + 1);
        self.hosts
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| self.host_pool(settings.connections_per_host))
            .conns
            .push(conn);
    }

    /// Forgets a connection (closed, failed or expired).
    fn remove(&self, conn: &Rc<H1Conn>) {
        let mut hosts = self.hosts.borrow_mut();
        if let Some(host) = hosts.get_mut(&conn.key) {
            host.conns.retain(|c| !Rc::ptr_eq(c, conn));
            if host.is_empty() {
                hosts.remove(&conn.key);
            }
        }
    }

    /// Closes every idle connection.
    pub(crate) fn clear_idle(&self) {
        self.h2.clear_idle();
        let idle: Vec<Rc<H1Conn>> = self
            .hosts
            .borrow()
            .values()
            .flat_map(|h| h.conns.iter().filter(|c| c.is_idle()).cloned())
            .collect();
        for conn in idle {
            self.remove(&conn);
            conn.close();
        }
    }
}

impl ConnPool for Pool {
    /// A connection finished an exchange: keep it for reuse, or drop it. Then serve waiting
    /// jobs for the host.
    fn release(&self, conn: &Rc<H1Conn>, keep_alive: bool) {
        log::debug!(target: crate::log_target::CONNECTION, "Connection with host {}:{} {}", conn.key.host, conn.key.port, if keep_alive { "left intact" } else { "closed" });
        if keep_alive {
            conn.make_idle(self.settings.get().idle_expiry);
        } else {
            self.remove(conn);
            conn.close();
        }
        self.dispatch(&conn.key);
    }

    fn forget(&self, conn: &Rc<H1Conn>) {
        self.remove(conn);
    }

    fn schedule_dispatch(&self, key: PoolKey) {
        Pool::schedule_dispatch(self, key);
    }

    /// Puts a job back at the head of its queue (a retry after a stale keep-alive connection).
    fn requeue_front(&self, job: Rc<dyn Exchange>) {
        if job.key().is_none() {
            return;
        }
        if H2Pool::wants(&*job) {
            self.h2.enqueue(job, true);
            return;
        }
        self.enqueue_h1(job, true);
    }

    /// A connection can take pipelined requests: serve the host's waiting jobs (on a later
    /// iteration, so requests made meanwhile join).
    fn pipeline_room(&self, key: &PoolKey) {
        let waiting = self
            .hosts
            .borrow()
            .get(key)
            .is_some_and(HostPool::has_waiting);
        if waiting {
            self.schedule_dispatch(key.clone());
        }
    }

    /// A TLS connection negotiated h2: the HTTP/2 pool takes it (and its first job) over,
    /// then the jobs that waited for its ALPN result (`riders`, in their order) and those
    /// waiting in the host's queue.
    fn adopt_h2(
        &self,
        key: &PoolKey,
        socket: slotnet_net::SslSocket,
        tls: Rc<ConnectionTls>,
        job: Option<Rc<dyn Exchange>>,
        riders: VecDeque<Rc<dyn Exchange>>,
    ) {
        self.h2.adopt(key, socket, tls, job);
        // Jobs waiting for this host can now share the multiplexed connection.
        let mut waiting: Vec<Rc<dyn Exchange>> =
            riders.into_iter().filter(|j| !j.is_done()).collect();
        {
            let mut hosts = self.hosts.borrow_mut();
            if let Some(host) = hosts.get_mut(key) {
                waiting.extend(host.queue.iter_mut().flat_map(|q| q.drain(..)));
            }
        }
        for job in waiting {
            if let Err(job) = self.h2.try_submit(job, false) {
                self.enqueue_h1(job, false);
            }
        }
    }
}

impl Http1Queue for Pool {
    fn enqueue_h1(&self, job: Rc<dyn Exchange>, front: bool) {
        Pool::enqueue_h1(self, job, front);
    }
}

impl super::dispatch::PooledConn for H1Conn {
    fn is_idle(&self) -> bool {
        H1Conn::is_idle(self)
    }
    fn can_pipeline(&self) -> bool {
        H1Conn::can_pipeline(self)
    }
    fn awaits_first_job(&self) -> bool {
        H1Conn::awaits_first_job(self)
    }
    fn connecting_with_h2_offer(&self) -> bool {
        H1Conn::connecting_with_h2_offer(self)
    }
    fn settled_on_http1_after_h2_offer(&self) -> bool {
        H1Conn::settled_on_http1_after_h2_offer(self)
    }
}

impl WaitingJob for dyn Exchange {
    fn is_done(&self) -> bool {
        Exchange::is_done(self)
    }
    fn pipelinable(&self) -> bool {
        Exchange::pipelinable(self)
    }
}
