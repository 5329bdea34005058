//! [`SendClient`]: the slotnet client for async code on other threads (a tokio or axum
//! program): a `Send + Sync + Clone` handle to a slotnet [`Thread`] that owns a
//! [`NetworkAccessManager`], with `async` `get`, `post` and `send` taking and giving the
//! `http` crate's types.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use slotnet_core::{LoopEnded, LoopHandle, Thread};

use crate::from_http::HttpRequestError;
use crate::manager::NetworkAccessManager;
use crate::reply::ReplyError;

thread_local! {
    /// The manager of the client thread this runs on (each `SendClient` has its own thread).
    static MANAGER: RefCell<Option<NetworkAccessManager>> = const { RefCell::new(None) };
}

/// This thread's client manager, made on first use.
fn thread_manager() -> NetworkAccessManager {
    MANAGER.with(|m| *m.borrow_mut().get_or_insert_with(NetworkAccessManager::new))
}

/// Why a [`SendClient`] request gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClientError {
    /// The request could not become a slotnet request (a relative URI, a header that is not
    /// text); nothing was sent.
    Request(HttpRequestError),
    /// The reply failed: Qt's error code, the HTTP status if one arrived, the message (an
    /// HTTP error status such as 404 is an error, as in Qt).
    Reply(ReplyError),
    /// The client's thread has ended.
    Ended,
}

impl fmt::Display for SendClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendClientError::Request(e) => e.fmt(f),
            SendClientError::Reply(e) => e.fmt(f),
            SendClientError::Ended => f.write_str("the client's thread has ended"),
        }
    }
}

impl std::error::Error for SendClientError {}

impl From<LoopEnded> for SendClientError {
    fn from(_: LoopEnded) -> Self {
        SendClientError::Ended
    }
}

/// The thread, stopped (quit and joined) when the last clone of the client goes.
#[derive(Debug)]
struct ClientThread {
    thread: Thread,
}

/// A `Send + Sync` handle to a [`NetworkAccessManager`] running on a slotnet thread of its
/// own, for async code on any executor (tokio, axum handlers): each call posts the request to
/// that thread and resolves when its reply finishes, without blocking the caller's thread.
///
/// Clones share the thread and its manager (one connection pool, cookie jar and cache); the
/// thread stops when the last clone is dropped. Dropping a request's future before it
/// resolves aborts the request on the client thread.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use slotnet_http::SendClient;
///
/// let client = SendClient::new()?;
/// let response = client.get("https://example.org/").await?;
/// println!("{} ({} bytes)", response.status(), response.body().len());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SendClient {
    inner: Arc<ClientThread>,
}

impl SendClient {
    /// Starts the client's thread; its manager has the default settings.
    pub fn new() -> io::Result<SendClient> {
        SendClient::with_setup(|_| {})
    }

    /// Starts the client's thread and calls `setup` there with its manager first, to
    /// configure it (TLS configuration, proxy, redirect policy, cookie jar, ...).
    pub fn with_setup<F>(setup: F) -> io::Result<SendClient>
    where
        F: FnOnce(&NetworkAccessManager) + Send + 'static,
    {
        let thread = Thread::start_named("slotnet-send-client")?;
        thread
            .handle()
            .post(move || setup(&thread_manager()))
            .map_err(|_| io::Error::other("the client's thread ended at once"))?;
        Ok(SendClient {
            inner: Arc::new(ClientThread { thread }),
        })
    }

    /// The client thread's loop, to run other work next to the manager.
    pub fn loop_handle(&self) -> LoopHandle {
        self.inner.thread.handle().clone()
    }

    /// Sends `request` (method, URI, headers, body), as
    /// [`NetworkAccessManager::send_http_request`] does, and resolves with the response and
    /// its whole body, or the error.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, SendClientError> {
        self.inner
            .thread
            .handle()
            .call_async(move || async move {
                let reply = thread_manager()
                    .send_http_request(request)
                    .map_err(SendClientError::Request)?;
                reply.await.map_err(SendClientError::Reply)
            })
            .await?
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<http::Response<Bytes>, SendClientError> {
        self.send(request(http::Method::GET, url, Bytes::new())?)
            .await
    }

    /// `POST url` with `body`.
    pub async fn post(
        &self,
        url: &str,
        body: impl Into<Bytes>,
    ) -> Result<http::Response<Bytes>, SendClientError> {
        self.send(request(http::Method::POST, url, body.into())?)
            .await
    }
}

/// An `http` request for `url`, checked as a URL first (so a bad one reports why).
fn request(
    method: http::Method,
    url: &str,
    body: Bytes,
) -> Result<http::Request<Bytes>, SendClientError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| SendClientError::Request(HttpRequestError::InvalidUrl(url.into(), e)))?;
    http::Request::builder()
        .method(method)
        .uri(parsed.as_str())
        .body(body)
        .map_err(|_| SendClientError::Request(HttpRequestError::RelativeUri(url.into())))
}
