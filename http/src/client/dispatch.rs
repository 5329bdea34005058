//! Where a host's waiting jobs go, in Qt's order of preference: an idle connection, behind
//! the requests of a connection that pipelines, a preconnected connection still being set
//! up, the one connection whose ALPN result (h2 or HTTP/1.1) is awaited, or a new connection
//! up to the host's limit. Pure bookkeeping over what connections and jobs say of
//! themselves ([`PooledConn`], [`WaitingJob`]); the pool carries the steps out.

use std::collections::VecDeque;
use std::rc::Rc;

/// What dispatch asks of a connection.
pub(crate) trait PooledConn {
    /// Connected, with nothing to do.
    fn is_idle(&self) -> bool;
    /// May take another request behind those in flight (HTTP pipelining).
    fn can_pipeline(&self) -> bool;
    /// Still connecting and without a job (a preconnect).
    fn awaits_first_job(&self) -> bool;
    /// Being set up with an h2 offer (its ALPN result is not known yet).
    fn connecting_with_h2_offer(&self) -> bool;
    /// Offered h2 and got HTTP/1.1.
    fn settled_on_http1_after_h2_offer(&self) -> bool;
}

/// What dispatch asks of a waiting job.
pub(crate) trait WaitingJob {
    /// Finished (aborted) while waiting: dropped from the queue.
    fn is_done(&self) -> bool;
    /// May be written behind other requests on one connection.
    fn pipelinable(&self) -> bool;
}

/// What dispatch does next for a host.
#[derive(Debug)]
pub(crate) enum Step<C, J: ?Sized> {
    /// Give the job to an idle (or preconnected) connection.
    Assign(Rc<C>, Rc<J>),
    /// Write the job's request behind those in flight on a pipelining connection.
    Pipeline(Rc<C>, Rc<J>),
    /// Let the job wait for a connection's ALPN result.
    Ride(Rc<C>, Rc<J>),
    /// Open a connection for the job.
    Open(Rc<J>),
    Done,
}

/// One host's HTTP/1.1 connections and waiting jobs.
pub(crate) struct HostPool<C, J: ?Sized> {
    pub conns: Vec<Rc<C>>,
    /// Waiting jobs: high, normal, low priority.
    pub queue: [VecDeque<Rc<J>>; 3],
    pub dispatch_scheduled: bool,
    /// At most this many connections (the request that created the host's pool decides,
    /// as in Qt).
    pub limit: usize,
    /// [`Settings::queue_scan`](super::settings::Settings::queue_scan).
    scan: usize,
}

impl<C: PooledConn, J: WaitingJob + ?Sized> HostPool<C, J> {
    pub(crate) fn new(limit: usize, scan: usize) -> Self {
        HostPool {
            conns: Vec::new(),
            queue: Default::default(),
            dispatch_scheduled: false,
            limit,
            scan,
        }
    }

    fn pop_job(&mut self) -> Option<Rc<J>> {
        for q in &mut self.queue {
            while let Some(job) = q.pop_front() {
                if !job.is_done() {
                    return Some(job);
                }
            }
        }
        None
    }

    /// The first waiting job (by priority, then age, among the first `scan` of each
    /// priority) for which `suits` holds. Finished jobs met on the way are dropped.
    fn pop_suitable(&mut self, suits: impl Fn(&J) -> bool) -> Option<Rc<J>> {
        for q in &mut self.queue {
            let mut i = 0;
            while i < q.len().min(self.scan) {
                if q[i].is_done() {
                    q.remove(i);
                } else if suits(&q[i]) {
                    return q.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        None
    }

    /// Where the next waiting job goes.
    pub(crate) fn next_step(&mut self) -> Step<C, J> {
        if !self.has_waiting() {
            return Step::Done;
        }
        if let Some(conn) = self.conns.iter().find(|c| c.is_idle()).cloned() {
            return self
                .pop_job()
                .map_or(Step::Done, |job| Step::Assign(conn, job));
        }
        if let Some(conn) = self.conns.iter().find(|c| c.can_pipeline()).cloned() {
            if let Some(job) = self.pop_suitable(J::pipelinable) {
                return Step::Pipeline(conn, job);
            }
        }
        if let Some(conn) = self.conns.iter().find(|c| c.awaits_first_job()).cloned() {
            return self
                .pop_job()
                .map_or(Step::Done, |job| Step::Assign(conn, job));
        }
        if let Some(probe) = self.alpn_probe() {
            // The jobs wait for the ALPN result (they all allow HTTP/2: the key says so).
            return self
                .pop_job()
                .map_or(Step::Done, |job| Step::Ride(probe, job));
        }
        if self.conns.len() < self.limit {
            return self.pop_job().map_or(Step::Done, Step::Open);
        }
        Step::Done
    }

    /// The connection whose TLS handshake offers h2 while no connection to the host has
    /// settled on HTTP/1.1 after such an offer: until its ALPN result is known, opening more
    /// connections for jobs that allow HTTP/2 would waste them if it turns out to be h2.
    fn alpn_probe(&self) -> Option<Rc<C>> {
        let mut probe = None;
        for conn in &self.conns {
            if conn.settled_on_http1_after_h2_offer() {
                return None;
            }
            if probe.is_none() && conn.connecting_with_h2_offer() {
                probe = Some(conn);
            }
        }
        probe.cloned()
    }

    pub(crate) fn has_waiting(&self) -> bool {
        self.queue.iter().any(|q| !q.is_empty())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.conns.is_empty() && !self.has_waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Default)]
    struct FakeConn {
        idle: Cell<bool>,
        pipelining: Cell<bool>,
        preconnect: Cell<bool>,
        h2_offer_pending: Cell<bool>,
        settled_http1: Cell<bool>,
    }

    impl PooledConn for FakeConn {
        fn is_idle(&self) -> bool {
            self.idle.get()
        }
        fn can_pipeline(&self) -> bool {
            self.pipelining.get()
        }
        fn awaits_first_job(&self) -> bool {
            self.preconnect.get()
        }
        fn connecting_with_h2_offer(&self) -> bool {
            self.h2_offer_pending.get()
        }
        fn settled_on_http1_after_h2_offer(&self) -> bool {
            self.settled_http1.get()
        }
    }

    #[derive(Debug, Default)]
    struct FakeJob {
        name: &'static str,
        done: Cell<bool>,
        pipelinable: bool,
    }

    impl WaitingJob for FakeJob {
        fn is_done(&self) -> bool {
            self.done.get()
        }
        fn pipelinable(&self) -> bool {
            self.pipelinable
        }
    }

    fn job(name: &'static str) -> Rc<FakeJob> {
        Rc::new(FakeJob {
            name,
            ..FakeJob::default()
        })
    }

    fn pool(limit: usize) -> HostPool<FakeConn, FakeJob> {
        HostPool::new(limit, 64)
    }

    /// The step, as (kind, index of the connection in `conns`, job name).
    fn step(host: &mut HostPool<FakeConn, FakeJob>) -> (&'static str, Option<usize>, &'static str) {
        let step = host.next_step();
        let index = |c: &Rc<FakeConn>| host.conns.iter().position(|x| Rc::ptr_eq(x, c));
        match step {
            Step::Assign(c, j) => ("assign", index(&c), j.name),
            Step::Pipeline(c, j) => ("pipeline", index(&c), j.name),
            Step::Ride(c, j) => ("ride", index(&c), j.name),
            Step::Open(j) => ("open", None, j.name),
            Step::Done => ("done", None, ""),
        }
    }

    #[test]
    fn opens_connections_up_to_the_limit_then_waits() {
        let mut host = pool(2);
        for name in ["a", "b", "c"] {
            host.queue[1].push_back(job(name));
        }
        assert_eq!(step(&mut host), ("open", None, "a"));
        host.conns.push(Rc::default()); // busy
        assert_eq!(step(&mut host), ("open", None, "b"));
        host.conns.push(Rc::default());
        assert_eq!(step(&mut host), ("done", None, ""), "two connections busy");
        assert!(host.has_waiting());
        host.conns[1].idle.set(true);
        assert_eq!(step(&mut host), ("assign", Some(1), "c"));
        assert!(!host.has_waiting());
    }

    #[test]
    fn prefers_an_idle_connection_then_pipelining_then_a_preconnect() {
        let mut host = pool(6);
        host.conns = (0..3).map(|_| Rc::default()).collect();
        host.conns[0].preconnect.set(true);
        host.conns[1].pipelining.set(true);
        host.conns[2].idle.set(true);
        host.queue[1].push_back(Rc::new(FakeJob {
            name: "a",
            pipelinable: true,
            ..FakeJob::default()
        }));
        assert_eq!(step(&mut host), ("assign", Some(2), "a"));
        host.conns[2].idle.set(false);
        host.queue[1].push_back(Rc::new(FakeJob {
            name: "b",
            pipelinable: true,
            ..FakeJob::default()
        }));
        assert_eq!(step(&mut host), ("pipeline", Some(1), "b"));
        // A job that may not be pipelined skips the pipelining connection.
        host.queue[1].push_back(job("c"));
        assert_eq!(step(&mut host), ("assign", Some(0), "c"));
    }

    #[test]
    fn pipelining_takes_the_first_pipelinable_job_by_priority() {
        let mut host = pool(1);
        host.conns.push(Rc::default());
        host.conns[0].pipelining.set(true);
        host.queue[0].push_back(job("high, not pipelinable"));
        host.queue[1].push_back(Rc::new(FakeJob {
            name: "normal",
            pipelinable: true,
            ..FakeJob::default()
        }));
        assert_eq!(step(&mut host), ("pipeline", Some(0), "normal"));
        assert_eq!(
            step(&mut host),
            ("done", None, ""),
            "at the limit, nothing to pipeline"
        );
        assert_eq!(host.queue[0].len(), 1);
    }

    #[test]
    fn jobs_wait_for_the_alpn_result_of_an_h2_offer() {
        let mut host = pool(6);
        host.conns.push(Rc::default());
        host.conns[0].h2_offer_pending.set(true);
        host.queue[1].push_back(job("a"));
        host.queue[1].push_back(job("b"));
        assert_eq!(step(&mut host), ("ride", Some(0), "a"));
        assert_eq!(step(&mut host), ("ride", Some(0), "b"));
        // Once a connection of the host settled on HTTP/1.1, others are opened at once.
        host.conns.push(Rc::default());
        host.conns[1].settled_http1.set(true);
        host.queue[1].push_back(job("c"));
        assert_eq!(step(&mut host), ("open", None, "c"));
    }

    #[test]
    fn priorities_and_finished_jobs() {
        let mut host = pool(6);
        host.queue[2].push_back(job("low"));
        host.queue[1].push_back(job("normal"));
        let aborted = job("high, aborted");
        aborted.done.set(true);
        host.queue[0].push_back(aborted);
        host.queue[0].push_back(job("high"));
        assert_eq!(step(&mut host), ("open", None, "high"));
        assert_eq!(step(&mut host), ("open", None, "normal"));
        assert_eq!(step(&mut host), ("open", None, "low"));
        assert_eq!(step(&mut host), ("done", None, ""));
        assert!(host.is_empty());
    }
}
