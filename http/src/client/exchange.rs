//! The boundary between a request's job and the connection that carries one hop of it.
//!
//! The pools and connections see a job only as an [`Exchange`]: they ask where it goes
//! (its [`PoolKey`], priority, TLS settings), build its request from it, report progress to
//! it, and drive its response through it. A connection (an HTTP/1.1
//! [`H1Conn`](super::h1_conn::H1Conn) or a stream of an HTTP/2
//! [`H2Conn`](crate::h2::client::H2Conn)) turns the response head it received into a
//! [`ResponseStart`], whatever the protocol, and the exchange answers with a
//! [`BodyDecision`]. The job reaches back through a [`Carrier`]. Nothing here knows either
//! side: this module imports neither jobs nor connections, so both depend on it and not on
//! each other.

use std::io;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use slotnet_net::proxy::NetworkProxy;
use slotnet_net::ssl::{SslConfiguration, SslError};
use slotnet_net::SocketError;
use url::Url;

use super::key::PoolKey;
use crate::auth::Authenticator;
use crate::connection_tls::ConnectionTls;
use crate::error::NetworkError;
use crate::h1::{BodyLength, Framing, RequestHead, ResponseHead};
use crate::h2::Http2Configuration;
use crate::request::Priority;
use crate::response_headers::ResponseHeaders;

/// Why a reply that refused a connection's certificate errors failed.
pub(crate) const REFUSED_CERTIFICATE: &str =
    "The TLS handshake failed: the certificate errors were not ignored";

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

/// One request's current hop as the pools and connections drive it (implemented by
/// `client::job::Job`). Both the HTTP/1.1 connection and the HTTP/2 stream go through this
/// and nothing else: the request head and body out, progress and the response in.
pub(crate) trait Exchange {
    // Where it goes (asked by the pools while it waits).

    /// The pool key of the hop: `None` for an invalid URL or when no proxy can carry it.
    fn key(&self) -> Option<PoolKey>;
    /// The request's priority (the order in its host's queue).
    fn priority(&self) -> Priority;
    /// The HTTP/1.1 connections per host the request asks for.
    fn connections_per_host(&self) -> usize;
    /// May be written behind other requests on one connection (HTTP pipelining).
    fn pipelinable(&self) -> bool;
    /// Asks for cleartext HTTP/2 with prior knowledge.
    fn wants_http2_direct(&self) -> bool;
    /// The TLS configuration for a connection opened for it (https only).
    fn tls_config(&self) -> Option<SslConfiguration>;
    /// The HTTP/2 settings for a connection opened for it.
    fn http2_configuration(&self) -> Http2Configuration;
    /// Finished (or aborted): nothing more is reported to it.
    fn is_done(&self) -> bool;

    // What carries it.

    /// Attaches the hop to what carries it (an HTTP/1.1 connection or an HTTP/2 stream).
    fn attach(&self, carrier: Weak<dyn Carrier>);
    /// The hop has no carrier any more.
    fn detach(&self);
    /// Runs `f` on a later loop iteration, unless the reply is destroyed first.
    fn later(&self, f: Box<dyn FnOnce()>);
    /// Whether it accepts connection `connection`'s certificate `errors` (its reply may be
    /// shown `sslErrors`).
    fn consents_to_ssl_errors(&self, connection: u64, errors: &[SslError]) -> bool;
    /// Whether it must be asked about `tls`'s certificate errors before riding it.
    fn must_be_asked_about(&self, tls: &ConnectionTls) -> bool;
    /// Whether it may ride `tls`, a connection that is up (it fails if it refuses).
    fn admit_to(&self, tls: &ConnectionTls) -> bool;
    /// The credentials a proxy tunnel opened for it asks for (the manager's signal).
    fn ask_proxy_credentials(&self, proxy: &NetworkProxy, realm: &str) -> Option<Authenticator>;

    // The request.

    /// The request head of the hop and how its body is framed.
    fn build_head(&self) -> Option<(RequestHead, BodyLength)>;
    /// The hop's URL.
    fn url(&self) -> Option<Url>;
    /// The body's size, when known.
    fn body_size(&self) -> Option<u64>;
    /// The next piece of the body (at most `max` bytes); `None` at its end.
    fn next_body_piece(&self, max: usize) -> io::Result<Option<Bytes>>;
    /// A connection is being opened for it (`socketStartedConnecting`).
    fn started_connecting(&self);
    /// Its connection finished the TLS handshake (`encrypted`).
    fn encrypted(&self, tls: &ConnectionTls);
    /// Upload progress (`uploadProgress`; -1: total unknown).
    fn upload_progress(&self, sent: i64, total: i64);
    /// The whole request reached the connection (`requestSent`).
    fn request_sent(&self);

    // The response.

    /// A response head arrived: what to do with its body.
    fn on_head(&self, start: ResponseStart<'_>) -> BodyDecision;
    /// How many more body bytes it takes now.
    fn room(&self) -> usize;
    /// Whether it takes body bytes now.
    fn wants_data(&self) -> bool;
    /// Body bytes; false if it failed on them (the connection must then be dropped).
    fn on_data(&self, data: Bytes) -> bool;
    /// The response is complete (the connection was already released).
    fn on_end(&self);
    /// The exchange failed: the job ends with `error`.
    fn fail(&self, error: NetworkError, message: String);
    /// The request was not answered and may go out once more on a new connection: true
    /// if it may (its body is rewound), false if it was retried before or cannot be resent.
    fn retry(&self) -> bool;
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
