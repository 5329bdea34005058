//! The HTTP client engine behind `NetworkAccessManager`: a connection pool of HTTP/1.1
//! connections driving the sans-IO codec, and the per-reply jobs (redirects, retries).

mod auth;
mod cache;
mod dispatch;
pub(crate) mod exchange;
pub(crate) mod features;
mod h1_conn;
mod h2_pool;
mod job;
mod key;
mod pool;
mod redirect;
pub(crate) mod route;
pub(crate) mod settings;

use std::rc::Rc;

use crate::body::RequestBody;
use crate::manager::{NetworkAccessManager, Transport};
use crate::reply::{NetworkReply, Operation};
use crate::request::NetworkRequest;

use job::Job;
use pool::Pool;

/// The `http:` transport.
pub(crate) struct HttpTransport {
    pool: Rc<Pool>,
}

impl Transport for HttpTransport {
    fn handles(&self, scheme: &str) -> bool {
        scheme == "http" || scheme == "https"
    }

    fn start(
        &self,
        manager: &NetworkAccessManager,
        reply: NetworkReply,
        operation: Operation,
        verb: &str,
        request: NetworkRequest,
        body: RequestBody,
    ) {
        let job = Job::new(manager, &self.pool, reply, operation, verb, request, body);
        job.begin_hop(true);
    }

    fn clear_connection_cache(&self) {
        self.pool.clear_idle();
    }

    fn connections_opened(&self) -> u64 {
        self.pool.connections_opened()
    }

    fn set_connection_idle_expiry(&self, expiry: std::time::Duration) {
        self.pool.set_idle_expiry(expiry);
    }

    fn preconnect(&self, url: &url::Url, tls: Option<slotnet_net::ssl::SslConfiguration>) {
        self.pool.preconnect(url, tls);
    }
}

/// Registers the HTTP transport with a new manager.
pub(crate) fn install(manager: &NetworkAccessManager) {
    manager.add_transport(Rc::new(HttpTransport {
        pool: Pool::new(*manager),
    }));
}
