//! In-test proxies and targets on std::net and threads: an echo target, an HTTP `CONNECT`
//! proxy and a SOCKS5 proxy (each optionally demanding credentials), a silent server, and
//! [`tunnel`], which connects a [`ProxiedConnector`] through one of them on the current loop.
//! Real proxies from Debian (tinyproxy, microsocks) are started with [`crate::process`].

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread;

use slotnet_core::EventLoop;
use slotnet_net::proxy::{NetworkProxy, ProxiedConnector};
use slotnet_net::{SocketError, SocketState, TcpSocket};

use crate::event_loop::{exec_within, LIMIT};

fn spawn_acceptor(listener: TcpListener, handler: impl Fn(TcpStream) + Send + Sync + 'static) {
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handler = handler.clone();
            thread::spawn(move || handler(stream));
        }
    });
}

/// An echo server; `greeting` is sent first on every connection (to test bytes that
/// arrive together with the proxy's answer).
pub fn echo_server(greeting: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    spawn_acceptor(listener, move |mut stream| {
        let _ = stream.write_all(greeting);
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    addr
}

/// A server that accepts and never says anything.
pub fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    spawn_acceptor(listener, |mut stream| {
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    });
    addr
}

/// A server that answers anything with `reply` and closes.
pub fn replying_server(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    spawn_acceptor(listener, move |mut stream| {
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
        let _ = stream.write_all(reply);
    });
    addr
}

/// Copies both ways between the client and the target until either side closes.
fn relay(client: TcpStream, target: TcpStream) {
    let (mut c2, mut t2) = (client.try_clone().unwrap(), target.try_clone().unwrap());
    let up = thread::spawn(move || {
        let mut client = client;
        let mut target = target;
        let _ = std::io::copy(&mut client, &mut target);
        let _ = target.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut t2, &mut c2);
    let _ = c2.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// What a test proxy saw, in order.
#[derive(Clone, Default)]
pub struct ProxyLog(Arc<Mutex<Vec<String>>>);

impl ProxyLog {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// How many entries are `words` or start with `words` followed by a space.
    pub fn count(&self, words: &str) -> usize {
        self.entries()
            .iter()
            .filter(|e| {
                e.strip_prefix(words)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
            })
            .count()
    }
}

/// How the HTTP test proxy behaves.
#[derive(Clone, Default)]
pub struct HttpProxyConfig {
    /// Credentials it demands (Basic), if any.
    pub credentials: Option<(String, String)>,
    /// Whether it closes the connection after a 407 (else it keeps it, with a body).
    pub close_after_407: bool,
    /// Whether it waits for the target's first bytes and sends them in the same write as
    /// its 200 answer (so the client reads both at once).
    pub coalesce_first_bytes: bool,
}

/// Decodes standard base64 (test use only: returns None on anything odd).
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let take = chunk.len().checked_sub(1)?;
        out.extend_from_slice(&n.to_be_bytes()[1..1 + take]);
    }
    Some(out)
}

/// Reads a request head (up to the blank line); None on close.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// An HTTP proxy that only does `CONNECT`. Log entries: `conn` per connection,
/// `CONNECT <authority> auth=<user:pass or ->` per request, `407`, `200`, `503`, `404`.
pub fn http_proxy(config: HttpProxyConfig) -> (SocketAddr, ProxyLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = ProxyLog::default();
    let log2 = log.clone();
    spawn_acceptor(listener, move |mut stream| {
        log2.push("conn".into());
        while let Some(head) = read_head(&mut stream) {
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or("");
            let authority = request_line.split(' ').nth(1).unwrap_or("").to_owned();
            let auth = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
                .and_then(|(_, v)| v.trim().strip_prefix("Basic ").map(str::to_owned))
                .and_then(|b| base64_decode(&b))
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            log2.push(format!(
                "CONNECT {authority} auth={}",
                auth.as_deref().unwrap_or("-")
            ));
            if let Some((user, password)) = &config.credentials {
                if auth.as_deref() != Some(&format!("{user}:{password}")) {
                    log2.push("407".into());
                    let body = "authentication required";
                    let connection = if config.close_after_407 {
                        "close"
                    } else {
                        "keep-alive"
                    };
                    let reply = format!(
                        "HTTP/1.1 407 Proxy Authentication Required\r\n\
                         Proxy-Authenticate: Basic realm=\"test realm\"\r\n\
                         Connection: {connection}\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).is_err() || config.close_after_407 {
                        return;
                    }
                    continue;
                }
            }
            let target = authority.to_socket_addrs().ok().and_then(|mut a| a.next());
            let Some(target) = target else {
                log2.push("404".into());
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                return;
            };
            match TcpStream::connect(target) {
                Ok(mut upstream) => {
                    log2.push("200".into());
                    let mut answer = b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec();
                    if config.coalesce_first_bytes {
                        let mut first = [0u8; 1024];
                        let n = upstream.read(&mut first).unwrap_or(0);
                        answer.extend_from_slice(&first[..n]);
                    }
                    let _ = stream.write_all(&answer);
                    relay(stream, upstream);
                }
                Err(_) => {
                    log2.push("503".into());
                    let _ = stream.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                    );
                }
            }
            return;
        }
    });
    (addr, log)
}

/// A SOCKS5 proxy (RFC 1928/1929, CONNECT only). Log entries: `conn`, `methods <list>`,
/// `auth <user:pass> ok|fail`, `connect domain <name:port>` or `connect ip <addr>`, and
/// the reply code `rep <n>`.
pub fn socks5_proxy(credentials: Option<(String, String)>) -> (SocketAddr, ProxyLog) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = ProxyLog::default();
    let log2 = log.clone();
    spawn_acceptor(listener, move |mut s| {
        log2.push("conn".into());
        let _ = socks5_session(&mut s, &credentials, &log2);
    });
    (addr, log)
}

fn read_exact(s: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

fn socks5_session(
    s: &mut TcpStream,
    credentials: &Option<(String, String)>,
    log: &ProxyLog,
) -> std::io::Result<()> {
    let head = read_exact(s, 2)?;
    let methods = read_exact(s, head[1] as usize)?;
    log.push(format!("methods {methods:?}"));
    let wanted = if credentials.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        s.write_all(&[5, 0xff])?;
        return Ok(());
    }
    s.write_all(&[5, wanted])?;
    if let Some((user, password)) = credentials {
        let v = read_exact(s, 2)?;
        let u = read_exact(s, v[1] as usize)?;
        let plen = read_exact(s, 1)?;
        let p = read_exact(s, plen[0] as usize)?;
        let given = format!(
            "{}:{}",
            String::from_utf8_lossy(&u),
            String::from_utf8_lossy(&p)
        );
        let ok = given == format!("{user}:{password}");
        log.push(format!("auth {given} {}", if ok { "ok" } else { "fail" }));
        s.write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            return Ok(());
        }
    }
    let req = read_exact(s, 4)?;
    let target: Option<SocketAddr> = match req[3] {
        1 => {
            let a = read_exact(s, 6)?;
            let addr =
                SocketAddr::from(([a[0], a[1], a[2], a[3]], u16::from_be_bytes([a[4], a[5]])));
            log.push(format!("connect ip {addr}"));
            Some(addr)
        }
        4 => {
            let a = read_exact(s, 18)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let addr = SocketAddr::from((octets, u16::from_be_bytes([a[16], a[17]])));
            log.push(format!("connect ip {addr}"));
            Some(addr)
        }
        3 => {
            let len = read_exact(s, 1)?;
            let name = read_exact(s, len[0] as usize)?;
            let port = read_exact(s, 2)?;
            let name = format!(
                "{}:{}",
                String::from_utf8_lossy(&name),
                u16::from_be_bytes([port[0], port[1]])
            );
            log.push(format!("connect domain {name}"));
            name.to_socket_addrs().ok().and_then(|mut a| a.next())
        }
        _ => None,
    };
    let reply = |code: u8| [5, code, 0, 1, 127, 0, 0, 1, 0, 0];
    let Some(target) = target else {
        log.push("rep 4".into());
        return s.write_all(&reply(4));
    };
    match TcpStream::connect(target) {
        Ok(upstream) => {
            log.push("rep 0".into());
            s.write_all(&reply(0))?;
            relay(s.try_clone()?, upstream);
            Ok(())
        }
        Err(_) => {
            log.push("rep 5".into());
            s.write_all(&reply(5))
        }
    }
}

/// What a [`tunnel`] attempt did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The connector's error, if it failed.
    pub error: Option<SocketError>,
    /// The connector's error string.
    pub error_string: String,
    /// Bytes read from the tunnel.
    pub received: Vec<u8>,
    /// Each `proxy_authentication_required`: (realm, user it carried).
    pub prompts: Vec<(String, String)>,
    /// The socket's state at the end.
    pub socket_state: Option<SocketState>,
}

/// Connects through `proxy` to `host:port`; answers credential prompts with `answers` in
/// turn (`None`: leave empty); once connected writes `send` and reads until `expect` bytes
/// came back. Fails the test if the loop hangs.
pub fn tunnel(
    proxy: NetworkProxy,
    host: &str,
    port: u16,
    answers: &[Option<(&str, &str)>],
    send: &'static [u8],
    expect: usize,
) -> Outcome {
    tunnel_with(proxy, host, port, answers, send, expect, |_| {})
}

/// [`tunnel`] with a hook to configure the connector first.
pub fn tunnel_with(
    proxy: NetworkProxy,
    host: &str,
    port: u16,
    answers: &[Option<(&str, &str)>],
    send: &'static [u8],
    expect: usize,
    setup: impl FnOnce(&ProxiedConnector),
) -> Outcome {
    let outcome = Rc::new(RefCell::new(Outcome::default()));
    let answers: Vec<Option<(String, String)>> = answers
        .iter()
        .map(|a| a.map(|(u, p)| (u.to_owned(), p.to_owned())))
        .collect();
    let socket = TcpSocket::new();
    let connector = ProxiedConnector::new();
    setup(&connector);
    let o = outcome.clone();
    connector
        .proxy_authentication_required()
        .connect(move |(_, auth)| {
            let mut o = o.borrow_mut();
            let mut auth = auth.borrow_mut();
            o.prompts
                .push((auth.realm().to_owned(), auth.user().to_owned()));
            if let Some(Some((user, password))) = answers.get(o.prompts.len() - 1) {
                auth.set_user(user.clone());
                auth.set_password(password.clone());
            }
        });
    let o = outcome.clone();
    connector.error_occurred().connect(move |e| {
        o.borrow_mut().error = Some(*e);
        EventLoop::current().quit();
    });
    let o = outcome.clone();
    connector.connected().connect(move |_| {
        assert_eq!(socket.state(), SocketState::Connected);
        let o = o.clone();
        socket.ready_read().connect(move |_| {
            let mut o = o.borrow_mut();
            o.received.extend(socket.read_all());
            if o.received.len() >= expect {
                EventLoop::current().quit();
            }
        });
        if send.is_empty() && expect == 0 {
            EventLoop::current().quit();
        } else if !send.is_empty() {
            socket.write(send);
        }
    });
    connector.connect_to_host(socket, proxy, host, port);
    assert!(exec_within(LIMIT), "the loop hung");
    let mut result = outcome.take();
    result.error_string = connector.error_string();
    result.socket_state = Some(socket.state());
    connector.destroy();
    socket.destroy();
    result
}
