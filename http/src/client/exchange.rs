//! The boundary between a request's job and the connection that carries one hop of it.
//!
//! A connection (an HTTP/1.1 [`H1Conn`](super::h1_conn::H1Conn) or a stream of an HTTP/2
//! [`H2Conn`](crate::h2::client::H2Conn)) turns the response head it received into a
//! [`ResponseStart`], whatever the protocol, and the job answers with a [`BodyDecision`].
//! The job reaches back through a [`Carrier`]. Nothing here knows either side: this module
//! imports neither jobs nor connections, so both depend on it and not on each other.

use std::rc::Rc;
use std::time::Duration;

use slotnet_net::SocketError;

use crate::connection_tls::ConnectionTls;
use crate::error::NetworkError;
use crate::h1::{Framing, ResponseHead};
use crate::response_headers::ResponseHeaders;

/// At most one progress report (upload or download) per this interval (Qt's throttle).
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What the connection does with the body that follows a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyDecision {
    /// Hand it to the job.
    Deliver,
    /// Read and drop it (a redirect being followed, a challenge answered); an HTTP/1.1
    /// connection stays usable.
    Discard,
    /// The job is over (a refused redirect, an abort from a slot): stop the exchange (close
    /// the HTTP/1.1 connection, reset the HTTP/2 stream) and ignore the rest.
    Stop,
}

/// The protocol a response came over, as the reply's attributes report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.x; `pipelined`: the request was written behind others on its connection.
    Http1 {
        pipelined: bool,
    },
    Http2,
}

/// A response head as the job sees it, the same for both protocols: built once by the
/// connection that received it (the field text as received, no `HeaderMap`).
pub(crate) struct ResponseStart<'a> {
    pub status: u16,
    /// The reason phrase (HTTP/2 has none: the status' standard one stands in for it).
    pub reason: &'a str,
    /// The fields, names in the case they were received in (Qt reports them that way).
    pub headers: ResponseHeaders,
    /// The body's announced length (`Content-Length`; none for a chunked body).
    pub content_length: Option<u64>,
    pub protocol: Protocol,
}

impl<'a> ResponseStart<'a> {
    /// An HTTP/1.x head from the response decoder (built without a `HeaderMap`), framed by
    /// `framing`.
    pub(crate) fn from_h1(head: &'a ResponseHead, framing: Framing, pipelined: bool) -> Self {
        let content_length = head
            .raw
            .get("content-length")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|_| !matches!(framing, Framing::Chunked));
        ResponseStart {
            status: head.status.as_u16(),
            reason: head.reason.as_str(),
            // Names as the server wrote them, as Qt's rawHeaderList() shows them.
            headers: ResponseHeaders::from_raw(&head.raw),
            content_length,
            protocol: Protocol::Http1 { pipelined },
        }
    }

    /// An HTTP/2 head (field names are lowercase on the wire, and reported as received).
    pub(crate) fn from_h2(head: &http::response::Parts) -> ResponseStart<'static> {
        let content_length = head
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = head
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        let mut headers = ResponseHeaders::with_capacity(head.headers.len(), text);
        for (name, value) in &head.headers {
            headers.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        ResponseStart {
            status: head.status.as_u16(),
            reason: head.status.canonical_reason().unwrap_or(""),
            headers,
            content_length,
            protocol: Protocol::Http2,
        }
    }
}

/// What carries a job's current hop, as the job sees it: an HTTP/1.1 connection, or an
/// HTTP/2 stream.
pub(crate) trait Carrier {
    /// The application aborted the job: stop the exchange.
    fn job_cancelled(&self);
    /// The reply's read buffer has room again.
    fn resume(&self);
    /// The connection's TLS session, if it runs over TLS.
    fn tls(&self) -> Option<Rc<ConnectionTls>>;
}

/// No carrier: the weak handle of a job between hops.
pub(crate) fn no_carrier() -> std::rc::Weak<dyn Carrier> {
    std::rc::Weak::<Detached>::new()
}

/// The type behind [`no_carrier`] (never instantiated).
struct Detached;

impl Carrier for Detached {
    fn job_cancelled(&self) {}
    fn resume(&self) {}
    fn tls(&self) -> Option<Rc<ConnectionTls>> {
        None
    }
}

/// Maps a socket error to the reply error Qt reports.
pub(crate) fn network_error_for(e: SocketError) -> NetworkError {
    use SocketError as S;
    match e {
        S::ConnectionRefusedError => NetworkError::ConnectionRefusedError,
        S::RemoteHostClosedError => NetworkError::RemoteHostClosedError,
        S::HostNotFoundError => NetworkError::HostNotFoundError,
        S::SocketTimeoutError => NetworkError::TimeoutError,
        S::SslHandshakeFailedError => NetworkError::SslHandshakeFailedError,
        S::ProxyAuthenticationRequiredError => NetworkError::ProxyAuthenticationRequiredError,
        S::ProxyConnectionRefusedError => NetworkError::ProxyConnectionRefusedError,
        S::ProxyConnectionClosedError => NetworkError::ProxyConnectionClosedError,
        S::ProxyConnectionTimeoutError => NetworkError::ProxyTimeoutError,
        S::ProxyNotFoundError => NetworkError::ProxyNotFoundError,
        S::ProxyProtocolError => NetworkError::UnknownProxyError,
        S::TemporaryError => NetworkError::TemporaryNetworkFailureError,
        _ => NetworkError::UnknownNetworkError,
    }
}
