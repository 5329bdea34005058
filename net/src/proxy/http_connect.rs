//! [`HttpConnectHandshake`]: the client side of an HTTP `CONNECT` tunnel (RFC 9110
//! section 9.3.6), sans-IO.
//!
//! Qt's mapping of the proxy's answer: any 2xx opens the tunnel; 407 asks for credentials
//! (so does 401 with its `WWW-Authenticate` challenges, which tinyproxy sends when it rejects
//! credentials: before the tunnel exists only the proxy can answer, so it is the proxy's
//! request for credentials, where Qt would report a protocol error);
//! 403 and 405 → `SocketAccessError` ("Proxy denied connection"), 404 → `HostNotFoundError`,
//! 503 → `ConnectionRefusedError` (what proxies answer when the target refuses), anything
//! else, or bytes that are not an HTTP response → `ProxyProtocolError`.

use bytes::{Buf, BytesMut};

use super::auth::{challenge_realm, Authenticator, BasicProxyAuth, ProxyAuthScheme};
use super::handshake::{HandshakeEvent, ProxyError};
use crate::error::SocketError;

/// Longest response head accepted from a proxy.
const MAX_HEAD: usize = 16 * 1024;
/// Most header lines in a response head.
const MAX_HEADERS: usize = 64;
/// Largest 407 body skipped to reuse the connection; a bigger one means reconnecting.
const MAX_SKIPPED_BODY: u64 = 64 * 1024;
/// Interim (1xx) responses tolerated before the final one.
const MAX_INTERIM: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing sent, or waiting for `start` after a 407.
    Idle,
    AwaitingHead,
    /// Discarding the body of a 407 answer before reusing the connection.
    SkippingBody(u64),
    Done,
    Failed,
}

/// The client side of an HTTP `CONNECT` handshake: queue the request with
/// [`start`](Self::start), send [`take_output`](Self::take_output) to the proxy, and
/// [`feed`](Self::feed) what the proxy answers until it reports something other than
/// `NeedMore`.
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_net::proxy::{HandshakeEvent, HttpConnectHandshake};
///
/// let mut hs = HttpConnectHandshake::new("example.com", 443).unwrap();
/// hs.start();
/// assert!(hs.take_output().starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
/// let mut input = BytesMut::from(&b"HTTP/1.1 200 Connection established\r\n\r\nhello"[..]);
/// assert_eq!(hs.feed(&mut input), HandshakeEvent::Established);
/// assert_eq!(&input[..], b"hello"); // the target's first bytes
/// ```
pub struct HttpConnectHandshake {
    authority: String,
    headers: Vec<(String, String)>,
    scheme: Box<dyn ProxyAuthScheme>,
    authorization: Option<String>,
    challenges: Vec<String>,
    credentials_sent: bool,
    interim: u32,
    status: Option<u16>,
    state: State,
    out: Vec<u8>,
}

impl std::fmt::Debug for HttpConnectHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnectHandshake")
            .field("authority", &self.authority)
            .field("state", &self.state)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl HttpConnectHandshake {
    /// A handshake for a tunnel to `host:port`, answering challenges with Basic. Fails with
    /// `HostNotFoundError` for a host that cannot be written in a request line.
    pub fn new(host: &str, port: u16) -> Result<HttpConnectHandshake, ProxyError> {
        let valid = !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b));
        if !valid {
            return Err(ProxyError::new(
                SocketError::HostNotFoundError,
                format!("Invalid host name for a proxy tunnel: {host:?}"),
            ));
        }
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(HttpConnectHandshake {
            authority,
            headers: Vec::new(),
            scheme: Box::new(BasicProxyAuth),
            authorization: None,
            challenges: Vec::new(),
            credentials_sent: false,
            interim: 0,
            status: None,
            state: State::Idle,
            out: Vec::new(),
        })
    }

    /// Replaces the authentication scheme (Basic by default), e.g. with the http crate's
    /// Digest support.
    pub fn set_auth_scheme(&mut self, scheme: Box<dyn ProxyAuthScheme>) {
        self.scheme = scheme;
    }

    /// Extra header lines for the request (see
    /// [`NetworkProxy::raw_headers`](crate::proxy::NetworkProxy::raw_headers)); `Host` and
    /// `Proxy-Authorization` are always the handshake's own.
    pub fn set_extra_headers(&mut self, headers: &[(String, String)]) {
        self.headers = headers
            .iter()
            .filter(|(n, _)| {
                !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("proxy-authorization")
            })
            .cloned()
            .collect();
    }

    /// The `host:port` the tunnel goes to (IPv6 in brackets).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sets the credentials for the next request: before any challenge, for preemptive
    /// authentication; after a 407, to answer its challenges. Returns whether the request
    /// will carry a `Proxy-Authorization` header (false: the scheme cannot use them).
    pub fn set_credentials(&mut self, credentials: &Authenticator) -> bool {
        self.authorization =
            self.scheme
                .authorization(&self.challenges, credentials, &self.authority);
        self.authorization.is_some()
    }

    /// Queues the `CONNECT` request (again, after a 407). Ignored unless the handshake is
    /// new or waiting for a retry.
    pub fn start(&mut self) {
        if self.state != State::Idle {
            return;
        }
        let mut req = format!(
            "CONNECT {0} HTTP/1.1\r\nHost: {0}\r\nProxy-Connection: keep-alive\r\n",
            self.authority
        );
        for (name, value) in &self.headers {
            req.push_str(name);
            req.push_str(": ");
            req.push_str(value);
            req.push_str("\r\n");
        }
        if let Some(auth) = &self.authorization {
            req.push_str("Proxy-Authorization: ");
            req.push_str(auth);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.credentials_sent = self.authorization.is_some();
        self.out.extend_from_slice(req.as_bytes());
        self.state = State::AwaitingHead;
    }

    /// Takes the bytes to send to the proxy.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Whether the last request carried credentials (so a 407 answer rejects them).
    pub fn credentials_sent(&self) -> bool {
        self.credentials_sent
    }

    /// The `Proxy-Authenticate` challenges of the last 407 answer.
    pub fn challenges(&self) -> &[String] {
        &self.challenges
    }

    /// The realm of the last 407 answer's challenges.
    pub fn realm(&self) -> Option<String> {
        challenge_realm(&self.challenges)
    }

    /// The status code of the last final answer.
    pub fn status_code(&self) -> Option<u16> {
        self.status
    }

    /// Consumes the proxy's answer from the front of `input`. After `Established`, what is
    /// left in `input` came from the target through the tunnel.
    pub fn feed(&mut self, input: &mut BytesMut) -> HandshakeEvent {
        loop {
            match self.state {
                State::Idle => return HandshakeEvent::NeedMore,
                State::Done => return HandshakeEvent::Established,
                State::Failed => {
                    return HandshakeEvent::Failed(ProxyError::new(
                        SocketError::ProxyProtocolError,
                        "The proxy handshake has already failed",
                    ))
                }
                State::SkippingBody(remaining) => {
                    let n = remaining.min(input.len() as u64);
                    input.advance(n as usize);
                    if n < remaining {
                        self.state = State::SkippingBody(remaining - n);
                        return HandshakeEvent::NeedMore;
                    }
                    self.state = State::Idle;
                    return HandshakeEvent::AuthenticationRequired { reconnect: false };
                }
                State::AwaitingHead => match self.parse_head(input) {
                    Ok(None) => return HandshakeEvent::NeedMore,
                    Ok(Some(head)) => {
                        if let Some(event) = self.on_head(head) {
                            return event;
                        }
                        // An interim answer: parse the next head.
                    }
                    Err(e) => return self.fail(e),
                },
            }
        }
    }

    fn fail(&mut self, e: ProxyError) -> HandshakeEvent {
        self.state = State::Failed;
        HandshakeEvent::Failed(e)
    }

    /// Parses one response head off `input`; `None` if incomplete.
    fn parse_head(&mut self, input: &mut BytesMut) -> Result<Option<Head>, ProxyError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let not_http = |detail: String| {
            ProxyError::new(
                SocketError::ProxyProtocolError,
                format!("Did not receive HTTP response from proxy: {detail}"),
            )
        };
        let len = match response.parse(input) {
            Ok(httparse::Status::Partial) => {
                if input.len() > MAX_HEAD {
                    return Err(not_http("response head too long".into()));
                }
                return Ok(None);
            }
            Ok(httparse::Status::Complete(len)) => len,
            Err(e) => return Err(not_http(e.to_string())),
        };
        if len > MAX_HEAD {
            return Err(not_http("response head too long".into()));
        }
        let mut head = Head {
            status: response.code.unwrap_or(0),
            minor_version: response.version.unwrap_or(0),
            challenges: Vec::new(),
            www_challenges: Vec::new(),
            connection: None,
            content_length: None,
            bad_length: false,
            chunked: false,
        };
        for h in response.headers.iter() {
            let value = String::from_utf8_lossy(h.value).trim().to_owned();
            if h.name.eq_ignore_ascii_case("proxy-authenticate") {
                head.challenges.push(value);
            } else if h.name.eq_ignore_ascii_case("www-authenticate") {
                head.www_challenges.push(value);
            } else if h.name.eq_ignore_ascii_case("proxy-connection")
                || (h.name.eq_ignore_ascii_case("connection") && head.connection.is_none())
            {
                // Proxy-Connection wins over Connection, as in Qt.
                head.connection = Some(value.to_ascii_lowercase());
            } else if h.name.eq_ignore_ascii_case("content-length") {
                match value.parse::<u64>() {
                    Ok(n) if head.content_length.is_none_or(|m| m == n) => {
                        head.content_length = Some(n)
                    }
                    _ => head.bad_length = true,
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = true;
            }
        }
        input.advance(len);
        Ok(Some(head))
    }

    /// Acts on a complete head; `None` for an interim answer.
    fn on_head(&mut self, head: Head) -> Option<HandshakeEvent> {
        match head.status {
            100..=199 => {
                self.interim += 1;
                if self.interim > MAX_INTERIM {
                    return Some(self.fail(ProxyError::new(
                        SocketError::ProxyProtocolError,
                        "Too many interim responses from proxy",
                    )));
                }
                None
            }
            200..=299 => {
                self.status = Some(head.status);
                self.state = State::Done;
                Some(HandshakeEvent::Established)
            }
            401 | 407 => {
                self.status = Some(head.status);
                let mut head = head;
                if head.challenges.is_empty() {
                    head.challenges = std::mem::take(&mut head.www_challenges);
                }
                if head.challenges.is_empty() {
                    return Some(self.fail(ProxyError::new(
                        SocketError::ProxyProtocolError,
                        "Error parsing authentication request from proxy",
                    )));
                }
                self.challenges = head.challenges.clone();
                // Qt's rule: the connection header decides; without one, HTTP/1.1 keeps
                // the connection and HTTP/1.0 closes it. Reuse also needs a body whose end
                // is known and small.
                let will_close = match head.connection.as_deref() {
                    Some(c) if c.split(',').any(|t| t.trim() == "close") => true,
                    Some(c) if c.split(',').any(|t| t.trim() == "keep-alive") => false,
                    _ => head.minor_version == 0,
                };
                let body = match (head.chunked, head.bad_length, head.content_length) {
                    (false, false, Some(n)) if n <= MAX_SKIPPED_BODY => Some(n),
                    _ => None,
                };
                match body {
                    Some(n) if !will_close => {
                        self.state = State::SkippingBody(n);
                        // Loop again in `feed` to skip what is buffered.
                        None
                    }
                    _ => {
                        self.state = State::Idle;
                        Some(HandshakeEvent::AuthenticationRequired { reconnect: true })
                    }
                }
            }
            code => {
                self.status = Some(code);
                let error = match code {
                    403 | 405 => {
                        ProxyError::new(SocketError::SocketAccessError, "Proxy denied connection")
                    }
                    404 => ProxyError::new(SocketError::HostNotFoundError, "Host not found"),
                    503 => {
                        ProxyError::new(SocketError::ConnectionRefusedError, "Connection refused")
                    }
                    _ => ProxyError::new(
                        SocketError::ProxyProtocolError,
                        format!("Error communicating with HTTP proxy (status {code})"),
                    ),
                };
                Some(self.fail(error))
            }
        }
    }
}

struct Head {
    status: u16,
    minor_version: u8,
    challenges: Vec<String>,
    www_challenges: Vec<String>,
    connection: Option<String>,
    content_length: Option<u64>,
    bad_length: bool,
    chunked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::handshake::feed_split;

    fn handshake() -> HttpConnectHandshake {
        let mut hs = HttpConnectHandshake::new("target.example", 443).unwrap();
        hs.start();
        hs.take_output();
        hs
    }

    /// Feeds `input` cut at every position (and byte by byte); every split must give the
    /// same final event and leftover.
    fn every_split(input: &[u8]) -> (HandshakeEvent, Vec<u8>) {
        let mut results = Vec::new();
        for cut in 0..=input.len() {
            let mut hs = handshake();
            let (events, rest) = feed_split(input, &[cut], |b| hs.feed(b));
            results.push((events.last().unwrap().clone(), rest.to_vec()));
        }
        let mut hs = handshake();
        let cuts: Vec<usize> = (1..input.len()).collect();
        let (events, rest) = feed_split(input, &cuts, |b| hs.feed(b));
        assert!(events[..events.len() - 1]
            .iter()
            .all(|e| *e == HandshakeEvent::NeedMore));
        results.push((events.last().unwrap().clone(), rest.to_vec()));
        for r in &results[1..] {
            assert_eq!(*r, results[0], "input {:?}", String::from_utf8_lossy(input));
        }
        results.swap_remove(0)
    }

    #[test]
    fn request_format() {
        let mut hs = HttpConnectHandshake::new("::1", 8443).unwrap();
        hs.set_extra_headers(&[
            ("User-Agent".into(), "slotnet".into()),
            ("Host".into(), "evil".into()),
        ]);
        assert!(hs.set_credentials(&Authenticator::with_credentials("Aladdin", "open sesame")));
        hs.start();
        assert_eq!(
            String::from_utf8(hs.take_output()).unwrap(),
            "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Connection: keep-alive\r\n\
             User-Agent: slotnet\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert!(hs.credentials_sent());
        // Only once per state.
        hs.start();
        assert!(hs.take_output().is_empty());
        for bad in ["", "a b", "a\r\nX: y", "a/b", &"x".repeat(256)] {
            assert_eq!(
                HttpConnectHandshake::new(bad, 1).unwrap_err().code,
                SocketError::HostNotFoundError
            );
        }
    }

    #[test]
    fn success_keeps_tunnel_bytes() {
        let (event, rest) =
            every_split(b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\n\x16\x03tunnel");
        assert_eq!(event, HandshakeEvent::Established);
        assert_eq!(rest, b"\x16\x03tunnel");
        // Any 2xx, even with a Content-Length (ignored for CONNECT), after an interim answer.
        let (event, rest) = every_split(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 OK\r\nContent-Length: 5\r\n\r\nabc",
        );
        assert_eq!(event, HandshakeEvent::Established);
        assert_eq!(rest, b"abc");
    }

    #[test]
    fn status_mapping() {
        let table: &[(&[u8], SocketError)] = &[
            (
                b"HTTP/1.1 403 Forbidden\r\n\r\n",
                SocketError::SocketAccessError,
            ),
            (b"HTTP/1.1 405 No\r\n\r\n", SocketError::SocketAccessError),
            (
                b"HTTP/1.1 404 Not Found\r\n\r\n",
                SocketError::HostNotFoundError,
            ),
            (
                b"HTTP/1.1 503 Unavailable\r\n\r\n",
                SocketError::ConnectionRefusedError,
            ),
            (
                b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
                SocketError::ProxyProtocolError,
            ),
            (
                b"HTTP/1.1 301 Moved\r\n\r\n",
                SocketError::ProxyProtocolError,
            ),
            (b"SSH-2.0-OpenSSH_9.2\r\n", SocketError::ProxyProtocolError),
            (b"\x05\x00", SocketError::ProxyProtocolError),
            (b"HTTP/1.1 2000 OK\r\n\r\n", SocketError::ProxyProtocolError),
            (
                b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
                SocketError::ProxyProtocolError,
            ),
            (
                b"HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n",
                SocketError::ProxyProtocolError, // a 407 without a challenge
            ),
        ];
        for (input, code) in table {
            let mut hs = handshake();
            let mut buf = BytesMut::from(*input);
            match hs.feed(&mut buf) {
                HandshakeEvent::Failed(e) => {
                    assert_eq!(e.code, *code, "{:?}", String::from_utf8_lossy(input))
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
            // Failure is sticky.
            assert!(matches!(
                hs.feed(&mut BytesMut::new()),
                HandshakeEvent::Failed(_)
            ));
        }
    }

    #[test]
    fn limits() {
        // An endless head.
        let mut hs = handshake();
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: "[..]);
        buf.extend_from_slice(&vec![b'a'; MAX_HEAD]);
        assert!(matches!(hs.feed(&mut buf), HandshakeEvent::Failed(_)));
        // Too many headers.
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            input.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        let mut hs = handshake();
        assert!(matches!(
            hs.feed(&mut BytesMut::from(&input[..])),
            HandshakeEvent::Failed(_)
        ));
        // Endless interim answers.
        let input = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM as usize + 1);
        let mut hs = handshake();
        assert!(matches!(
            hs.feed(&mut BytesMut::from(&input[..])),
            HandshakeEvent::Failed(_)
        ));
    }

    #[test]
    fn auth_on_the_same_connection() {
        let answer: &[u8] = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
            Proxy-Authenticate: Digest realm=\"d\", nonce=\"n\"\r\n\
            Proxy-Authenticate: Basic realm=\"office\"\r\n\
            Content-Length: 10\r\n\r\n0123456789";
        let (event, rest) = every_split(answer);
        assert_eq!(
            event,
            HandshakeEvent::AuthenticationRequired { reconnect: false }
        );
        assert!(rest.is_empty());

        let mut hs = handshake();
        assert!(!hs.credentials_sent());
        let mut buf = BytesMut::from(answer);
        assert_eq!(
            hs.feed(&mut buf),
            HandshakeEvent::AuthenticationRequired { reconnect: false }
        );
        assert_eq!(hs.realm().as_deref(), Some("d"));
        assert_eq!(hs.challenges().len(), 2);
        assert!(hs.set_credentials(&Authenticator::with_credentials("u", "p")));
        hs.start();
        let request = String::from_utf8(hs.take_output()).unwrap();
        assert!(
            request.contains("\r\nProxy-Authorization: Basic dTpw\r\n"),
            "{request}"
        );
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]);
        assert_eq!(hs.feed(&mut buf), HandshakeEvent::Established);
    }

    #[test]
    fn auth_needs_a_new_connection() {
        for answer in [
            &b"HTTP/1.0 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\n\r\nbody until close",
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nContent-Length: 99999999\r\n\r\n",
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\nContent-Length: -1\r\n\r\n",
        ] {
            let (event, _) = every_split(answer);
            assert_eq!(
                event,
                HandshakeEvent::AuthenticationRequired { reconnect: true },
                "{:?}",
                String::from_utf8_lossy(answer)
            );
        }
        // HTTP/1.0 with an explicit keep-alive reuses the connection.
        let (event, _) = every_split(
            b"HTTP/1.0 407 Auth\r\nProxy-Authenticate: Basic realm=x\r\n\
              Proxy-Connection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(
            event,
            HandshakeEvent::AuthenticationRequired { reconnect: false }
        );
    }

    #[test]
    fn tinyproxy_rejects_credentials_with_401() {
        let (event, _) = every_split(
            b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\
              Connection: close\r\n\r\n<html>",
        );
        assert_eq!(
            event,
            HandshakeEvent::AuthenticationRequired { reconnect: true }
        );
        let mut hs = handshake();
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm=t\r\n\r\n"[..]);
        hs.feed(&mut buf);
        assert_eq!(hs.realm().as_deref(), Some("t"));
        assert_eq!(hs.status_code(), Some(401));
        // Without any challenge it is not HTTP as a proxy speaks it.
        let mut hs = handshake();
        let mut buf = BytesMut::from(&b"HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n"[..]);
        assert!(
            matches!(hs.feed(&mut buf), HandshakeEvent::Failed(e) if e.code == SocketError::ProxyProtocolError)
        );
    }

    #[test]
    fn basic_cannot_answer_digest() {
        let mut hs = handshake();
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 407 Auth\r\nProxy-Authenticate: Digest realm=\"d\", nonce=\"1\"\r\n\
               Content-Length: 0\r\n\r\n"[..],
        );
        assert!(matches!(
            hs.feed(&mut buf),
            HandshakeEvent::AuthenticationRequired { .. }
        ));
        assert!(!hs.set_credentials(&Authenticator::with_credentials("u", "p")));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: random-ish bytes after a valid status line prefix.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut input = b"HTTP/1.1 ".to_vec();
            let len = (seed % 64) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.push(b"0123456789 :\r\nHTTP/1.407Content-Length"[(seed % 38) as usize]);
            }
            let mut hs = handshake();
            let _ = hs.feed(&mut BytesMut::from(&input[..]));
        }
    }
}
