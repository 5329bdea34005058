//! HTTP/1.1 pipelining (Qt's `HttpPipeliningAllowedAttribute`): requests written behind the
//! one being answered, at most [`Settings::pipeline_depth`] in flight, and what happens to them when the
//! connection ends early (they go back to the pool's queue, in order).

use super::*;

impl H1Conn {
    /// Whether another request may be written now behind those in flight (Qt's rules for
    /// HTTP pipelining): the server answered keep-alive HTTP/1.1 before, fewer than
    /// [`Settings::pipeline_depth`] requests are in flight, and the current request was pipelinable
    /// itself and is completely sent.
    pub(crate) fn can_pipeline(&self) -> bool {
        // Cheap checks first: dispatch asks every busy connection of a host.
        if self.state.get() != ConnState::Busy
            || !self.pipelining_ok.get()
            || self.cut_short.get()
            || self.pipeline.borrow().len() + 1 >= self.settings.pipeline_depth
            || !self.upload.borrow().sent
        {
            return false;
        }
        self.job
            .borrow()
            .as_ref()
            .is_some_and(|j| j.pipelinable() && !j.is_done())
    }

    /// Writes `job`'s request behind those in flight; its response is read after theirs.
    /// The caller checked [`H1Conn::can_pipeline`] and [`Exchange::pipelinable`].
    pub(crate) fn pipeline_job(&self, job: Rc<dyn Exchange>) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        if !self.admits(&*job) {
            return;
        }
        let head = match job.build_head() {
            Some((head, BodyLength::Empty)) => head,
            Some(_) => {
                // Not bodiless after all (`pipelinable` rules this out): send it alone.
                if let Some(pool) = self.pool.upgrade() {
                    pool.requeue_front(job);
                }
                return;
            }
            None => {
                job.fail(NetworkError::ProtocolUnknownError, "Invalid URL".into());
                return;
            }
        };
        let mut out = BytesMut::with_capacity(512);
        encode_request(&head, BodyLength::Empty, &mut out);
        let len = out.len() as u64;
        job.attach(Rc::downgrade(&me) as Weak<dyn Carrier>);
        self.pipeline.borrow_mut().push_back(Pipelined {
            job,
            method: head.method,
            head_len: len,
            unsent: len,
        });
        self.socket.get().io().write_bytes(out.freeze());
    }

    /// Accounts `n` written bytes to the pipelined requests, oldest first; each one whose
    /// head is completely written gets its `requestSent`.
    pub(super) fn pipelined_written(&self, mut n: u64) {
        while n > 0 {
            let done = {
                let mut pipeline = self.pipeline.borrow_mut();
                let Some(entry) = pipeline.iter_mut().find(|p| p.unsent > 0) else {
                    return;
                };
                let part = n.min(entry.unsent);
                entry.unsent -= part;
                n -= part;
                (entry.unsent == 0).then(|| entry.job.clone())
            };
            if let Some(job) = done {
                if !job.is_done() {
                    job.request_sent();
                }
            }
        }
    }

    /// Lets the pool write waiting requests behind the current one, if the connection can
    /// pipeline.
    pub(super) fn offer_pipeline_room(&self) {
        if self.can_pipeline() {
            if let Some(pool) = self.pool.upgrade() {
                pool.pipeline_room(&self.key);
            }
        }
    }

    /// Makes the oldest pipelined request the current one; false if there is none.
    pub(super) fn promote_next(&self) -> bool {
        let Some(next) = self.pipeline.borrow_mut().pop_front() else {
            return false;
        };
        self.decoder.borrow_mut().reset(&next.method);
        self.response_started.set(false);
        self.body_action.set(BodyDecision::Deliver);
        self.cut_short.set(false);
        self.current_pipelined.set(true);
        self.discarding.set(next.job.is_done());
        *self.held.borrow_mut() = None;
        *self.upload.borrow_mut() = Upload {
            unsent: next.unsent,
            head_len: next.head_len,
            head_written: next.head_len - next.unsent,
            sent: next.unsent == 0,
            ..Upload::default()
        };
        *self.job.borrow_mut() = Some(next.job);
        true
    }

    /// Sends the pipelined requests (not answered yet, idempotent) back to the pool, in
    /// order, for other connections.
    pub(super) fn requeue_pipeline(&self) {
        if self.pipeline.borrow().is_empty() {
            return;
        }
        let jobs: Vec<Rc<dyn Exchange>> = self
            .pipeline
            .borrow_mut()
            .drain(..)
            .map(|p| p.job)
            .collect();
        let pool = self.pool.upgrade();
        // Pushed to the front one by one: the last first keeps their order.
        for job in jobs.into_iter().rev() {
            job.detach();
            if job.is_done() {
                continue;
            }
            match &pool {
                Some(pool) => pool.requeue_front(job),
                None => job.fail(
                    NetworkError::OperationCanceledError,
                    "The network access manager was deleted".into(),
                ),
            }
        }
    }
}
