//! [`Socks5Handshake`]: the client side of a SOCKS5 `CONNECT` (RFC 1928) with
//! username/password authentication (RFC 1929), sans-IO.
//!
//! Errors follow Qt's `QSocks5SocketEngine`: a malformed answer → `ProxyProtocolError`; the
//! proxy accepting none of the offered methods or rejecting the credentials → a request for
//! credentials (`AuthenticationRequired`), then `ProxyAuthenticationRequiredError`; the
//! reply codes: general failure → `NetworkError`, not allowed → `SocketAccessError`,
//! network unreachable → `NetworkError`, host unreachable → `HostNotFoundError`, refused
//! → `ConnectionRefusedError`, TTL expired → `NetworkError`, command or address type not
//! supported → `UnsupportedSocketOperationError`, unknown codes → `UnknownSocketError`.
//! When a host name was sent, codes 1 and 2 mean `HostNotFoundError` (Dante reports failed
//! name resolution that way).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{Buf, BytesMut};

use super::auth::Authenticator;
use super::handshake::{HandshakeEvent, ProxyError};
use crate::error::SocketError;

const VERSION: u8 = 5;
const METHOD_NONE: u8 = 0x00;
const METHOD_USER_PASSWORD: u8 = 0x02;
const METHOD_UNACCEPTABLE: u8 = 0xff;
const USER_PASSWORD_VERSION: u8 = 1;
const CMD_CONNECT: u8 = 1;
const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// Where a SOCKS5 request goes, or the address a proxy reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Socks5Address {
    /// An IP address.
    Ip(IpAddr),
    /// A host name, resolved by the proxy.
    Domain(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing sent, or waiting for `start` after an authentication failure.
    Idle,
    AwaitingMethod,
    AwaitingAuth,
    AwaitingReply,
    Done,
    Failed,
}

/// The client side of a SOCKS5 `CONNECT` handshake: queue the greeting with
/// [`start`](Self::start), send [`take_output`](Self::take_output) to the proxy, and
/// [`feed`](Self::feed) its answers, sending any new output after each call, until it
/// reports something other than `NeedMore`.
///
/// ```
/// use bytes::BytesMut;
/// use slotnet_net::proxy::{HandshakeEvent, Socks5Handshake};
///
/// let mut hs = Socks5Handshake::new("example.com", 80).unwrap();
/// hs.start();
/// assert_eq!(hs.take_output(), [5, 1, 0]); // version 5, one method: no authentication
/// let mut input = BytesMut::from(&[5u8, 0][..]);
/// assert_eq!(hs.feed(&mut input), HandshakeEvent::NeedMore);
/// let request = hs.take_output();
/// assert_eq!(&request[..5], &[5, 1, 0, 3, 11]); // CONNECT, domain of 11 bytes
/// let mut input = BytesMut::from(&[5u8, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90][..]);
/// assert_eq!(hs.feed(&mut input), HandshakeEvent::Established);
/// ```
#[derive(Debug)]
pub struct Socks5Handshake {
    target: Socks5Address,
    port: u16,
    credentials: Option<(Vec<u8>, Vec<u8>)>,
    credentials_rejected: bool,
    bound: Option<(Socks5Address, u16)>,
    state: State,
    out: Vec<u8>,
}

impl Socks5Handshake {
    /// A handshake for a tunnel to `host` (an IP literal, or a name the proxy resolves) and
    /// `port`. Names longer than SOCKS5 allows (255 bytes) fail with `HostNotFoundError`.
    pub fn new(host: &str, port: u16) -> Result<Socks5Handshake, ProxyError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let target = match bare.parse::<IpAddr>() {
            Ok(ip) => Socks5Address::Ip(ip),
            Err(_) if !host.is_empty() && host.len() <= 255 => {
                Socks5Address::Domain(host.to_owned())
            }
            Err(_) => {
                return Err(ProxyError::new(
                    SocketError::HostNotFoundError,
                    format!("Invalid host name for a SOCKS5 request: {host:?}"),
                ))
            }
        };
        Ok(Socks5Handshake {
            target,
            port,
            credentials: None,
            credentials_rejected: false,
            bound: None,
            state: State::Idle,
            out: Vec::new(),
        })
    }

    /// Uses these credentials from the next [`start`](Self::start) on (the user/password
    /// method is offered only when a user name is set). Fails with
    /// `ProxyAuthenticationRequiredError` when a field is longer than RFC 1929's 255 bytes.
    pub fn set_credentials(&mut self, credentials: &Authenticator) -> Result<(), ProxyError> {
        let user = credentials.user().as_bytes();
        let password = credentials.password().as_bytes();
        if user.len() > 255 || password.len() > 255 {
            return Err(ProxyError::new(
                SocketError::ProxyAuthenticationRequiredError,
                "Proxy authentication failed: user name or password longer than 255 bytes",
            ));
        }
        self.credentials = (!user.is_empty()).then(|| (user.to_vec(), password.to_vec()));
        Ok(())
    }

    /// Whether the last `AuthenticationRequired` came from the proxy rejecting credentials
    /// (rather than from it wanting some).
    pub fn credentials_rejected(&self) -> bool {
        self.credentials_rejected
    }

    /// The address the proxy reported for its side of the tunnel, once established.
    pub fn bound_address(&self) -> Option<&(Socks5Address, u16)> {
        self.bound.as_ref()
    }

    /// Queues the greeting (again, on a new connection after `AuthenticationRequired`).
    /// Ignored unless the handshake is new or waiting for a retry.
    pub fn start(&mut self) {
        if self.state != State::Idle {
            return;
        }
        if self.credentials.is_some() {
            self.out
                .extend_from_slice(&[VERSION, 2, METHOD_NONE, METHOD_USER_PASSWORD]);
        } else {
            self.out.extend_from_slice(&[VERSION, 1, METHOD_NONE]);
        }
        self.state = State::AwaitingMethod;
    }

    /// Takes the bytes to send to the proxy.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Consumes the proxy's answers from the front of `input`. New bytes to send may be
    /// queued (see [`take_output`](Self::take_output)). After `Established`, what is left
    /// in `input` came from the target.
    pub fn feed(&mut self, input: &mut BytesMut) -> HandshakeEvent {
        loop {
            let event = match self.state {
                State::Idle => return HandshakeEvent::NeedMore,
                State::Done => return HandshakeEvent::Established,
                State::Failed => {
                    return HandshakeEvent::Failed(protocol_error("handshake already failed"))
                }
                State::AwaitingMethod => self.on_method(input),
                State::AwaitingAuth => self.on_auth(input),
                State::AwaitingReply => self.on_reply(input),
            };
            match event {
                // A step completed and the next one may already be buffered.
                None => continue,
                Some(HandshakeEvent::Failed(e)) => {
                    self.state = State::Failed;
                    return HandshakeEvent::Failed(e);
                }
                Some(event) => return event,
            }
        }
    }

    fn on_method(&mut self, input: &mut BytesMut) -> Option<HandshakeEvent> {
        if input.len() < 2 {
            return Some(HandshakeEvent::NeedMore);
        }
        let (version, method) = (input[0], input[1]);
        input.advance(2);
        if version != VERSION {
            return Some(HandshakeEvent::Failed(protocol_error(
                "the proxy does not speak SOCKS5",
            )));
        }
        match method {
            METHOD_NONE => {
                self.send_request();
                None
            }
            METHOD_USER_PASSWORD => {
                let Some((user, password)) = &self.credentials else {
                    return Some(HandshakeEvent::Failed(protocol_error(
                        "the proxy chose a method that was not offered",
                    )));
                };
                self.out.push(USER_PASSWORD_VERSION);
                self.out.push(user.len() as u8);
                self.out.extend_from_slice(user);
                self.out.push(password.len() as u8);
                self.out.extend_from_slice(password);
                self.state = State::AwaitingAuth;
                None
            }
            METHOD_UNACCEPTABLE => {
                // No acceptable method: the proxy wants credentials we did not offer (or
                // none it knows). RFC 1928 says the client closes the connection.
                self.credentials_rejected = false;
                self.state = State::Idle;
                Some(HandshakeEvent::AuthenticationRequired { reconnect: true })
            }
            _ => Some(HandshakeEvent::Failed(protocol_error(
                "the proxy chose a method that was not offered",
            ))),
        }
    }

    fn on_auth(&mut self, input: &mut BytesMut) -> Option<HandshakeEvent> {
        if input.len() < 2 {
            return Some(HandshakeEvent::NeedMore);
        }
        let (version, status) = (input[0], input[1]);
        input.advance(2);
        // RFC 1929 says version 1; some servers echo the SOCKS version instead.
        if version != USER_PASSWORD_VERSION && version != VERSION {
            return Some(HandshakeEvent::Failed(protocol_error(
                "bad username/password reply version",
            )));
        }
        if status != 0 {
            // RFC 1929: the server closes the connection after a failure.
            self.credentials_rejected = true;
            self.state = State::Idle;
            return Some(HandshakeEvent::AuthenticationRequired { reconnect: true });
        }
        self.send_request();
        None
    }

    fn send_request(&mut self) {
        self.out.extend_from_slice(&[VERSION, CMD_CONNECT, 0]);
        match &self.target {
            Socks5Address::Ip(IpAddr::V4(ip)) => {
                self.out.push(ATYP_IPV4);
                self.out.extend_from_slice(&ip.octets());
            }
            Socks5Address::Ip(IpAddr::V6(ip)) => {
                self.out.push(ATYP_IPV6);
                self.out.extend_from_slice(&ip.octets());
            }
            Socks5Address::Domain(name) => {
                self.out.push(ATYP_DOMAIN);
                // `new` checked the length.
                self.out.push(name.len() as u8);
                self.out.extend_from_slice(name.as_bytes());
            }
        }
        self.out.extend_from_slice(&self.port.to_be_bytes());
        self.state = State::AwaitingReply;
    }

    fn on_reply(&mut self, input: &mut BytesMut) -> Option<HandshakeEvent> {
        if input.len() < 4 {
            return Some(HandshakeEvent::NeedMore);
        }
        let (version, reply, reserved, atyp) = (input[0], input[1], input[2], input[3]);
        if version != VERSION || reserved != 0 {
            return Some(HandshakeEvent::Failed(protocol_error("malformed reply")));
        }
        if reply != 0 {
            // The address of a failure reply is meaningless; the connection ends anyway.
            return Some(HandshakeEvent::Failed(self.reply_error(reply)));
        }
        let addr_len = match atyp {
            ATYP_IPV4 => 4,
            ATYP_IPV6 => 16,
            ATYP_DOMAIN => match input.get(4) {
                Some(&n) => 1 + n as usize,
                None => return Some(HandshakeEvent::NeedMore),
            },
            _ => {
                return Some(HandshakeEvent::Failed(protocol_error(
                    "unknown address type in reply",
                )))
            }
        };
        let total = 4 + addr_len + 2;
        if input.len() < total {
            return Some(HandshakeEvent::NeedMore);
        }
        let addr = &input[4..4 + addr_len];
        let address = match atyp {
            ATYP_IPV4 => Socks5Address::Ip(IpAddr::V4(Ipv4Addr::new(
                addr[0], addr[1], addr[2], addr[3],
            ))),
            ATYP_IPV6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(addr);
                Socks5Address::Ip(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => Socks5Address::Domain(String::from_utf8_lossy(&addr[1..]).into_owned()),
        };
        let port = u16::from_be_bytes([input[total - 2], input[total - 1]]);
        input.advance(total);
        self.bound = Some((address, port));
        self.state = State::Done;
        Some(HandshakeEvent::Established)
    }

    fn reply_error(&self, reply: u8) -> ProxyError {
        use SocketError::*;
        let by_name = matches!(self.target, Socks5Address::Domain(_));
        let (code, message) = match reply {
            1 | 2 if by_name => (HostNotFoundError, "Host not found"),
            1 => (NetworkError, "General SOCKSv5 server failure"),
            2 => (
                SocketAccessError,
                "Connection not allowed by SOCKSv5 server",
            ),
            3 => (NetworkError, "Network unreachable"),
            4 => (HostNotFoundError, "Host not found"),
            5 => (ConnectionRefusedError, "Connection refused"),
            6 => (NetworkError, "TTL expired"),
            7 => (
                UnsupportedSocketOperationError,
                "SOCKSv5 command not supported",
            ),
            8 => (
                UnsupportedSocketOperationError,
                "Address type not supported",
            ),
            other => {
                return ProxyError::new(
                    UnknownSocketError,
                    format!("Unknown SOCKSv5 proxy error code 0x{other:02x}"),
                )
            }
        };
        ProxyError::new(code, message)
    }
}

fn protocol_error(detail: &str) -> ProxyError {
    ProxyError::new(
        SocketError::ProxyProtocolError,
        format!("SOCKS version 5 protocol error: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::handshake::feed_split;

    /// Runs a whole exchange: `answers` is what the proxy sends (all at once, cut at every
    /// position, and byte by byte); returns the final event, the output sent and the
    /// leftover. Every split must agree.
    fn exchange(
        host: &str,
        creds: Option<(&str, &str)>,
        answers: &[u8],
    ) -> (HandshakeEvent, Vec<u8>, Vec<u8>) {
        let run = |cuts: &[usize]| {
            let mut hs = Socks5Handshake::new(host, 0x1f90).unwrap();
            if let Some((u, p)) = creds {
                hs.set_credentials(&Authenticator::with_credentials(u, p))
                    .unwrap();
            }
            hs.start();
            let mut sent = hs.take_output();
            let (events, rest) = feed_split(answers, cuts, |b| {
                let e = hs.feed(b);
                sent.extend(hs.take_output());
                e
            });
            (events.last().unwrap().clone(), sent, rest.to_vec())
        };
        let whole = run(&[]);
        for cut in 0..=answers.len() {
            assert_eq!(run(&[cut]), whole, "cut at {cut}");
        }
        let bytewise: Vec<usize> = (1..answers.len()).collect();
        assert_eq!(run(&bytewise), whole, "byte by byte");
        whole
    }

    const OK_V4: &[u8] = &[5, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39];

    #[test]
    fn no_auth_domain_target() {
        let mut answers = vec![5, 0];
        answers.extend_from_slice(OK_V4);
        answers.extend_from_slice(b"payload");
        let (event, sent, rest) = exchange("example.com", None, &answers);
        assert_eq!(event, HandshakeEvent::Established);
        let mut expected = vec![5, 1, 0, 5, 1, 0, 3, 11];
        expected.extend_from_slice(b"example.com");
        expected.extend_from_slice(&[0x1f, 0x90]);
        assert_eq!(sent, expected);
        assert_eq!(rest, b"payload");
    }

    #[test]
    fn user_password_ip_targets() {
        let mut answers = vec![5, 2, 1, 0];
        answers.extend_from_slice(&[5, 0, 0, 4]);
        answers.extend_from_slice(&[0; 16]);
        answers.extend_from_slice(&[0, 80]);
        let (event, sent, rest) = exchange("::1", Some(("bob", "pw")), &answers);
        assert_eq!(event, HandshakeEvent::Established);
        let mut expected = vec![
            5, 2, 0, 2, 1, 3, b'b', b'o', b'b', 2, b'p', b'w', 5, 1, 0, 4,
        ];
        expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        expected.extend_from_slice(&[0x1f, 0x90]);
        assert_eq!(sent, expected);
        assert!(rest.is_empty());

        let mut hs = Socks5Handshake::new("[10.1.2.3]", 1).unwrap();
        hs.start();
        hs.take_output();
        let mut input = BytesMut::from(&[5u8, 0, 5, 0, 0, 3, 4, b'h', b'o', b's', b't', 0, 7][..]);
        assert_eq!(hs.feed(&mut input), HandshakeEvent::Established);
        assert_eq!(&hs.take_output()[..8], &[5, 1, 0, 1, 10, 1, 2, 3]);
        assert_eq!(
            hs.bound_address(),
            Some(&(Socks5Address::Domain("host".into()), 7))
        );
    }

    #[test]
    fn authentication_failures_ask_for_credentials() {
        // The proxy accepts none of our methods.
        let (event, _, _) = exchange("h", None, &[5, 0xff]);
        assert_eq!(
            event,
            HandshakeEvent::AuthenticationRequired { reconnect: true }
        );
        // The proxy rejects our credentials; a retry starts over with new ones.
        let mut hs = Socks5Handshake::new("h", 1).unwrap();
        hs.set_credentials(&Authenticator::with_credentials("u", "bad"))
            .unwrap();
        hs.start();
        let mut input = BytesMut::from(&[5u8, 2, 1, 1][..]);
        assert_eq!(
            hs.feed(&mut input),
            HandshakeEvent::AuthenticationRequired { reconnect: true }
        );
        assert!(hs.credentials_rejected());
        hs.take_output();
        hs.set_credentials(&Authenticator::with_credentials("u", "good"))
            .unwrap();
        hs.start();
        assert_eq!(hs.take_output(), [5, 2, 0, 2]);
        let too_long = "x".repeat(256);
        assert_eq!(
            hs.set_credentials(&Authenticator::with_credentials(too_long, "p"))
                .unwrap_err()
                .code,
            SocketError::ProxyAuthenticationRequiredError
        );
    }

    #[test]
    fn reply_codes() {
        use SocketError::*;
        let table: &[(&str, u8, SocketError)] = &[
            ("10.0.0.1", 1, NetworkError),
            ("10.0.0.1", 2, SocketAccessError),
            ("name.example", 1, HostNotFoundError),
            ("name.example", 2, HostNotFoundError),
            ("10.0.0.1", 3, NetworkError),
            ("10.0.0.1", 4, HostNotFoundError),
            ("10.0.0.1", 5, ConnectionRefusedError),
            ("10.0.0.1", 6, NetworkError),
            ("10.0.0.1", 7, UnsupportedSocketOperationError),
            ("10.0.0.1", 8, UnsupportedSocketOperationError),
            ("10.0.0.1", 9, UnknownSocketError),
        ];
        for &(host, reply, code) in table {
            let (event, _, _) = exchange(host, None, &[5, 0, 5, reply, 0, 1, 0, 0, 0, 0, 0, 0]);
            match event {
                HandshakeEvent::Failed(e) => assert_eq!(e.code, code, "{host} reply {reply}"),
                other => panic!("{host} reply {reply}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        let table: &[&[u8]] = &[
            &[4, 0],                         // SOCKS4 server
            b"HTTP/1.1 400 Bad Request\r\n", // an HTTP proxy
            &[5, 7],                         // a method not offered
            &[5, 2],                         // user/password without credentials offered
            &[5, 0, 4, 0, 0, 1],             // reply with a bad version
            &[5, 0, 5, 0, 1, 1],             // non-zero reserved byte
            &[5, 0, 5, 0, 0, 9, 0, 0],       // unknown address type
        ];
        for answers in table {
            let (event, _, _) = exchange("h", None, answers);
            match event {
                HandshakeEvent::Failed(e) => assert_eq!(e.code, SocketError::ProxyProtocolError),
                other => panic!("{answers:?}: {other:?}"),
            }
        }
        let (event, _, _) = exchange("h", Some(("u", "p")), &[5, 2, 9, 0]);
        assert!(
            matches!(event, HandshakeEvent::Failed(e) if e.code == SocketError::ProxyProtocolError)
        );
        // Incomplete answers just wait.
        let (event, _, _) = exchange("h", None, &[5, 0, 5, 0, 0, 3, 200, 1, 2]);
        assert_eq!(event, HandshakeEvent::NeedMore);
    }

    #[test]
    fn bad_targets() {
        assert!(Socks5Handshake::new("", 1).is_err());
        assert!(Socks5Handshake::new(&"a".repeat(256), 1).is_err());
        assert!(Socks5Handshake::new(&"a".repeat(255), 1).is_ok());
    }

    #[test]
    fn arbitrary_answers_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..3000 {
            let mut hs = Socks5Handshake::new("h", 1).unwrap();
            hs.set_credentials(&Authenticator::with_credentials("u", "p"))
                .unwrap();
            hs.start();
            let mut input = BytesMut::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.extend_from_slice(&[[0u8, 1, 2, 3, 4, 5, 0xff][(seed % 7) as usize]]);
            }
            let _ = hs.feed(&mut input);
        }
    }
}
