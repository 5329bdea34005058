//! Proxies in the access manager: plain http forwarded by an HTTP proxy (absolute-form
//! targets, Proxy-Authorization after a 407), https through CONNECT, anything through
//! SOCKS5, the manager's proxy, factory and per-request proxy, the application proxy, and
//! Qt's proxy errors. In-test proxies on loopback, plus tinyproxy and microsocks (Debian
//! packages `tinyproxy`, `microsocks`) when installed; those tests are skipped with a note
//! otherwise.
//!
//! The application proxy is process-wide: only `application_proxy_is_the_default` leaves
//! a manager on `DefaultProxy`; every other test sets its proxy explicitly.

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use slotnet_core::Thread;
use slotnet_http::auth::basic_authorization;
use slotnet_http::net::proxy::{
    set_application_proxy_factory, NetworkProxy, NetworkProxyQuery, ProxyType,
};
use slotnet_http::{Attribute, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};
use slotnet_net::ssl::test_certs;
use slotnet_net::SslServer;
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::process;
use slotnet_testkit::proxy;
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

fn proxy(kind: ProxyType, port: u16) -> NetworkProxy {
    NetworkProxy::new(kind, "127.0.0.1", port)
}

fn manager_with(p: NetworkProxy) -> NetworkAccessManager {
    let m = NetworkAccessManager::new();
    m.set_proxy(p);
    m
}

fn fetch(m: &NetworkAccessManager, url: &str) -> NetworkReply {
    let reply = m.get(NetworkRequest::from_url_str(url));
    run_all(&[reply]);
    reply
}

/// Counts `proxyAuthenticationRequired` and answers with `answer` (None: leave empty).
fn answer_proxy(
    m: &NetworkAccessManager,
    answer: Option<(&'static str, &'static str)>,
) -> Rc<RefCell<Vec<String>>> {
    let realms = Rc::new(RefCell::new(Vec::new()));
    let r = realms.clone();
    m.proxy_authentication_required()
        .connect(move |(_proxy, auth)| {
            r.borrow_mut().push(auth.borrow().realm().to_owned());
            if let Some((user, password)) = answer {
                auth.borrow_mut().set_user(user);
                auth.borrow_mut().set_password(password);
            }
        });
    realms
}

/// A forwarding "proxy" that answers itself: `407` without the right Proxy-Authorization
/// when `credentials` are set, else 200 with `<method> <target>` as the body.
fn forward_proxy(credentials: Option<(&'static str, &'static str)>) -> ScriptedServer {
    let expected = credentials.map(|(u, p)| basic_authorization(u, p).unwrap());
    ScriptedServer::start(move |req, s| {
        if let Some(expected) = &expected {
            if req.header("proxy-authorization") != Some(expected.as_str()) {
                respond(
                    s,
                    "407 Proxy Authentication Required",
                    &[("Proxy-Authenticate", "Basic realm=\"forward realm\"")],
                    b"who are you",
                );
                return Next::KeepAlive;
            }
        }
        respond(
            s,
            "200 OK",
            &[],
            format!("{} {}", req.method, req.target).as_bytes(),
        );
        Next::KeepAlive
    })
}

fn origin() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        respond(
            s,
            "200 OK",
            &[],
            format!("origin {}", req.target).as_bytes(),
        );
        Next::KeepAlive
    })
}

#[test]
fn plain_http_goes_to_the_proxy_in_absolute_form() {
    let p = forward_proxy(None);
    let m = manager_with(proxy(ProxyType::HttpProxy, p.port));
    let reply = fetch(&m, "http://example.invalid:8081/path?q=1");
    assert_no_error(reply);
    assert_eq!(
        reply.read_all(),
        b"GET http://example.invalid:8081/path?q=1"
    );
    let seen = &p.seen()[0];
    assert_eq!(seen.header("host"), Some("example.invalid:8081"));
    assert_eq!(seen.header("proxy-authorization"), None);
    // A caching proxy carries plain http the same way, but never https.
    let m = manager_with(proxy(ProxyType::HttpCachingProxy, p.port));
    assert_eq!(
        fetch(&m, "http://example.invalid/").error(),
        NetworkError::NoError
    );
    let https = fetch(&m, "https://example.invalid/");
    assert_eq!(https.error(), NetworkError::ProxyNotFoundError);
}

#[test]
fn forward_proxy_authentication_asks_caches_and_goes_preemptive() {
    let p = forward_proxy(Some(("alice", "s3cret")));
    let m = manager_with(proxy(ProxyType::HttpProxy, p.port));
    let realms = answer_proxy(&m, Some(("alice", "s3cret")));
    let first = fetch(&m, "http://example.invalid/a");
    assert_no_error(first);
    assert_eq!(*realms.borrow(), ["forward realm"]);
    let second = fetch(&m, "http://other.invalid/b");
    assert_eq!(second.error(), NetworkError::NoError);
    assert_eq!(realms.borrow().len(), 1, "cached");
    let seen = p.seen();
    assert_eq!(seen.len(), 3, "407, retry, then preemptive");
    assert!(seen[2].header("proxy-authorization").is_some());

    // The proxy's own credentials answer without asking.
    let m = manager_with(proxy(ProxyType::HttpProxy, p.port).with_credentials("alice", "s3cret"));
    let realms = answer_proxy(&m, None);
    assert_eq!(
        fetch(&m, "http://example.invalid/").error(),
        NetworkError::NoError
    );
    assert!(realms.borrow().is_empty());
}

#[test]
fn unanswered_proxy_authentication_is_proxy_authentication_required() {
    let p = forward_proxy(Some(("alice", "s3cret")));
    let m = manager_with(proxy(ProxyType::HttpProxy, p.port));
    let realms = answer_proxy(&m, None);
    let reply = fetch(&m, "http://example.invalid/");
    assert_eq!(
        reply.error(),
        NetworkError::ProxyAuthenticationRequiredError
    );
    assert_eq!(reply.status_code(), Some(407));
    assert_eq!(reply.read_all(), b"who are you");
    assert_eq!(realms.borrow().len(), 1);
}

#[test]
fn socks5_carries_http_and_asks_for_credentials() {
    let target = origin();
    let (addr, log) = proxy::socks5_proxy(Some(("bob".into(), "hunter2".into())));
    let m = manager_with(proxy(ProxyType::Socks5Proxy, addr.port()));
    let realms = answer_proxy(&m, Some(("bob", "hunter2")));
    let first = fetch(&m, &target.url("/one"));
    assert_no_error(first);
    assert_eq!(first.read_all(), b"origin /one");
    assert_eq!(realms.borrow().len(), 1);
    // Keep-alive through the tunnel: no second SOCKS session.
    let second = fetch(&m, &target.url("/two"));
    assert_eq!(second.read_all(), b"origin /two");
    assert_eq!(log.count("auth bob:hunter2 ok"), 1);
    assert_eq!(target.connection_count(), 1);
}

#[test]
fn proxy_errors_are_qts() {
    let closed = process::closed_port();
    for kind in [ProxyType::HttpProxy, ProxyType::Socks5Proxy] {
        let m = manager_with(proxy(kind, closed));
        let reply = fetch(&m, "http://example.invalid/");
        assert_eq!(
            reply.error(),
            NetworkError::ProxyConnectionRefusedError,
            "{kind:?}: {}",
            reply.error_string()
        );
    }
    let m = manager_with(proxy(ProxyType::HttpProxy, closed));
    assert_eq!(
        fetch(&m, "https://example.invalid/").error(),
        NetworkError::ProxyConnectionRefusedError
    );
    // SOCKS5 reports the target's refusal as the target's.
    let (addr, _) = proxy::socks5_proxy(None);
    let m = manager_with(proxy(ProxyType::Socks5Proxy, addr.port()));
    let reply = fetch(&m, &format!("http://127.0.0.1:{closed}/"));
    assert_eq!(
        reply.error(),
        NetworkError::ConnectionRefusedError,
        "{}",
        reply.error_string()
    );
    // A tunnel whose proxy wants credentials nobody gives.
    let (addr, _) = proxy::http_proxy(proxy::HttpProxyConfig {
        credentials: Some(("a".into(), "b".into())),
        ..Default::default()
    });
    let m = manager_with(proxy(ProxyType::HttpProxy, addr.port()));
    let realms = answer_proxy(&m, None);
    let reply = fetch(&m, "https://127.0.0.1:9/");
    assert_eq!(
        reply.error(),
        NetworkError::ProxyAuthenticationRequiredError
    );
    assert_eq!(*realms.borrow(), ["test realm"]);
}

/// An https server on its own thread answering `hello` over HTTP/1.1 (or h2 with `h2`).
struct TlsServer {
    port: u16,
    _thread: Thread,
}

fn tls_server(h2: bool) -> TlsServer {
    let thread = Thread::start_named("proxy-tls-server").unwrap();
    let (tx, rx) = mpsc::channel();
    thread
        .run(move || {
            let server = SslServer::new();
            let mut config = test_certs::pki().server.configuration();
            let mut alpn = vec![b"http/1.1".to_vec()];
            if h2 {
                alpn.insert(0, b"h2".to_vec());
            }
            config.set_allowed_next_protocols(alpn);
            server.set_ssl_configuration(config);
            assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
            tx.send(server.server_port()).unwrap();
            server.pending_connection_available().connect(move |_| {
                while let Some(socket) = server.next_pending_connection() {
                    if socket.ssl_configuration().negotiated_protocol() == Some(b"h2".as_slice()) {
                        let conn = slotnet_http::h2::server::serve_connection(
                            socket,
                            &slotnet_http::h2::Http2Configuration::default(),
                            |_req, mut respond| {
                                slotnet_http::core::spawn_local(async move {
                                    let head = http::Response::builder()
                                        .status(200)
                                        .header("content-length", 5)
                                        .body(())
                                        .unwrap();
                                    if let Ok(mut s) = respond.send_response(head, false) {
                                        let _ = slotnet_http::h2::server::send_body(
                                            &mut s,
                                            bytes::Bytes::from_static(b"hello"),
                                            true,
                                        )
                                        .await;
                                    }
                                });
                            },
                        );
                        std::mem::forget(conn); // lives as long as its socket
                        continue;
                    }
                    let pending = Rc::new(RefCell::new(Vec::new()));
                    socket.ready_read().connect(move |_| {
                        pending.borrow_mut().extend(socket.read_all());
                        let mut buf = pending.borrow_mut();
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            socket.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                        }
                    });
                }
            });
        })
        .unwrap();
    let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    TlsServer {
        port,
        _thread: thread,
    }
}

fn https_get(m: &NetworkAccessManager, port: u16, http2: bool) -> NetworkReply {
    let mut req = NetworkRequest::from_url_str(&format!("https://localhost:{port}/hello"));
    req.set_ssl_configuration(test_certs::client_configuration());
    req.set_attribute(Attribute::Http2Allowed, http2);
    let reply = m.get(req);
    run_all(&[reply]);
    reply
}

#[test]
fn https_goes_through_connect_with_tls_inside_and_h2_by_alpn() {
    let server = tls_server(true);
    let (addr, log) = proxy::http_proxy(proxy::HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let m = manager_with(proxy(ProxyType::HttpProxy, addr.port()));
    let realms = answer_proxy(&m, Some(("alice", "s3cret")));
    let encrypted = Rc::new(Cell::new(0));
    let e = encrypted.clone();
    m.encrypted().connect(move |_| e.set(e.get() + 1));
    let reply = https_get(&m, server.port, false);
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
    assert_eq!(encrypted.get(), 1);
    assert_eq!(*realms.borrow(), ["test realm"]);
    assert!(log.entries().contains(&format!(
        "CONNECT localhost:{} auth=alice:s3cret",
        server.port
    )));
    // ALPN chooses h2 inside the tunnel (a manager of its own: the first one keeps its
    // HTTP/1.1 connection for reuse). The tunnel's credentials are cached process-wide.
    let m = manager_with(proxy(ProxyType::HttpProxy, addr.port()));
    let more = answer_proxy(&m, None);
    let reply = https_get(&m, server.port, true);
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
    assert_eq!(
        reply
            .attribute(Attribute::Http2WasUsed)
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    assert!(
        more.borrow().is_empty(),
        "the tunnel's credentials are cached"
    );
}

#[test]
fn factory_and_per_request_proxies() {
    let p = forward_proxy(None);
    let direct = origin();
    let m = NetworkAccessManager::new();
    let port = p.port;
    m.set_proxy_factory(Some(Arc::new(move |q: &NetworkProxyQuery| {
        if q.peer_host_name() == "example.invalid" {
            vec![NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", port)]
        } else {
            vec![NetworkProxy::no_proxy()]
        }
    })));
    assert_eq!(
        fetch(&m, "http://example.invalid/x").read_all(),
        b"GET http://example.invalid/x"
    );
    assert_eq!(fetch(&m, &direct.url("/y")).read_all(), b"origin /y");
    // set_proxy replaces the factory; a request's own proxy wins over both.
    m.set_proxy(NetworkProxy::no_proxy());
    assert!(m.proxy_factory().is_none());
    assert_eq!(m.proxy().proxy_type(), ProxyType::NoProxy);
    let mut req = NetworkRequest::from_url_str("http://example.invalid/z");
    req.set_proxy(Some(proxy(ProxyType::HttpProxy, port)));
    let reply = m.get(req);
    run_all(&[reply]);
    assert_eq!(reply.read_all(), b"GET http://example.invalid/z");
}

#[test]
fn application_proxy_is_the_default() {
    let p = forward_proxy(None);
    let port = p.port;
    set_application_proxy_factory(Some(Arc::new(move |q: &NetworkProxyQuery| {
        // Only this test's host: other tests' managers have explicit proxies anyway.
        if q.peer_host_name() == "app-proxy.invalid" {
            vec![NetworkProxy::new(ProxyType::HttpProxy, "127.0.0.1", port)]
        } else {
            vec![NetworkProxy::no_proxy()]
        }
    })));
    let m = NetworkAccessManager::new();
    assert_eq!(m.proxy().proxy_type(), ProxyType::DefaultProxy);
    let reply = fetch(&m, "http://app-proxy.invalid/app");
    set_application_proxy_factory(None);
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"GET http://app-proxy.invalid/app");
}

// --- real proxies from Debian -------------------------------------------------------------

#[test]
fn tinyproxy_forwards_http_and_tunnels_https() {
    let Some(binary) = process::find_binary("tinyproxy") else {
        eprintln!("note: tinyproxy is not installed (Debian package `tinyproxy`); skipped");
        return;
    };
    let port = process::free_port();
    let dir = process::TempDir::new("tinyproxy");
    let config = dir.path().join("tinyproxy.conf");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 16\nAllow 127.0.0.1\n\
             BasicAuth alice s3cret\nLogLevel Critical\n"
        ),
    )
    .unwrap();
    let _proxy = process::start_listening(&binary, &["-d", "-c", config.to_str().unwrap()], port);
    let target = origin();
    let m = manager_with(proxy(ProxyType::HttpProxy, port));
    let realms = answer_proxy(&m, Some(("alice", "s3cret")));
    let reply = fetch(&m, &target.url("/via-tinyproxy"));
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"origin /via-tinyproxy");
    assert_eq!(*realms.borrow(), ["Tinyproxy"]);
    let tls = tls_server(false);
    let reply = https_get(&m, tls.port, false);
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
}

#[test]
fn microsocks_carries_http_and_https() {
    let Some(binary) = process::find_binary("microsocks") else {
        eprintln!("note: microsocks is not installed (Debian package `microsocks`); skipped");
        return;
    };
    let port = process::free_port();
    let port_text = port.to_string();
    let _proxy = process::start_listening(
        &binary,
        &[
            "-i",
            "127.0.0.1",
            "-p",
            &port_text,
            "-u",
            "bob",
            "-P",
            "hunter2",
        ],
        port,
    );
    let target = origin();
    let m = manager_with(proxy(ProxyType::Socks5Proxy, port));
    let realms = answer_proxy(&m, Some(("bob", "hunter2")));
    let reply = fetch(&m, &target.url("/via-microsocks"));
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"origin /via-microsocks");
    assert_eq!(realms.borrow().len(), 1);
    let tls = tls_server(false);
    let reply = https_get(&m, tls.port, false);
    assert_no_error(reply);
    assert_eq!(reply.read_all(), b"hello");
}
