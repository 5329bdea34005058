//! The legacy `Http` in `Https` mode against an `SslServer` on loopback: `ssl_errors` for a
//! self-signed certificate, continued with `ignore_ssl_errors` or failing without it.

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;

use slotnet_http::legacy::{ConnectionMode, Http, HttpError, State};
use slotnet_net::ssl::{test_certs, SslCertificate, SslConfiguration, SslErrorKind, SslKey};
use slotnet_net::SslServer;
use slotnet_testkit::legacy::{record, run_until_done};
use slotnet_testkit::proxy;

/// A self-signed certificate for localhost and 127.0.0.1, valid for a century (made with
/// `openssl req -x509 -newkey ec ...`; the key is a test key and nothing else).
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIB/jCCAaOgAwIBAgIUcuf5epp0wIiEXgg1SlNF2+VQkMUwCgYIKoZIzj0EAwIw
MzESMBAGA1UEAwwJbG9jYWxob3N0MR0wGwYDVQQKDBRzbG90bmV0IGxlZ2FjeSB0
ZXN0czAgFw0yNjExMjIwNTE3MTlaGA8yMTI2MTAyOTA1MTcxOVowMzESMBAGA1UE
AwwJbG9jYWxob3N0MR0wGwYDVQQKDBRzbG90bmV0IGxlZ2FjeSB0ZXN0czBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABBqrZU67gPZX4hRyLvWp3pDEebKx+FYqunMT
vhOfYBOspdqpKqIrLZq17wg+ycOwgCf2MjSLWo6lLISHmerDRmejgZIwgY8wHQYD
VR0OBBYEFE7DcKfd6Ae7XfezyOmIqkfl+FCiMB8GA1UdIwQYMBaAFE7DcKfd6Ae7
XfezyOmIqkfl+FCiMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAAATAMBgNVHRMB
Af8EAjAAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIHgDAKBggq
hkjOPQQDAgNJADBGAiEA9xEfznftkLhANOT3dNoPXXyYI5XfHvThjZO/kXyQaysC
IQDfi1JijSCPTQVO8rdFtb8Ixl1W1ppQXPCMUA0eZeQsnw==
-----END CERTIFICATE-----
";

const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQggk6cp15rRgWjTAz6
v+CTJrwvQaGqeomxGkc0Je+KbIShRANCAAQaq2VOu4D2V+IUci71qd6QxHmysfhW
KrpzE74Tn2ATrKXaqSqiKy2ate8IPsnDsIAn9jI0i1qOpSyEh5nqw0Zn
-----END PRIVATE KEY-----
";

/// An HTTPS server on this thread's loop answering every request with `hello`; returns
/// it and the request heads it received.
fn https_server() -> (SslServer, Rc<RefCell<Vec<String>>>) {
    let mut config = SslConfiguration::default();
    config.set_local_certificate(SslCertificate::from_pem(CERT.as_bytes()).unwrap());
    config.set_private_key(SslKey::from_pem(KEY.as_bytes()).unwrap());
    https_server_with(config)
}

/// `https_server` with the identity of `config`.
fn https_server_with(config: SslConfiguration) -> (SslServer, Rc<RefCell<Vec<String>>>) {
    let server = SslServer::new();
    server.set_ssl_configuration(config);
    assert!(server.listen(Ipv4Addr::LOCALHOST, 0));
    let heads = Rc::new(RefCell::new(Vec::new()));
    let h = heads.clone();
    server.pending_connection_available().connect(move |_| {
        while let Some(socket) = server.next_pending_connection() {
            let pending = Rc::new(RefCell::new(Vec::new()));
            let h = h.clone();
            socket.ready_read().connect(move |_| {
                pending.borrow_mut().extend(socket.read_all());
                let text = String::from_utf8_lossy(&pending.borrow()).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    h.borrow_mut().push(text[..end].to_owned());
                    pending.borrow_mut().drain(..end + 4);
                    socket.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
                }
            });
        }
    });
    (server, heads)
}

#[test]
fn https_reports_ssl_errors_and_continues_when_ignored() {
    let (server, heads) = https_server();
    let http = Http::new();
    let trace = record(&http);
    let errors = Rc::new(RefCell::new(Vec::new()));
    let e = errors.clone();
    http.ssl_errors().connect(move |list| {
        e.borrow_mut().extend(list.iter().map(|err| err.error()));
        http.ignore_ssl_errors();
    });
    http.set_host("127.0.0.1", server.server_port(), ConnectionMode::Https);
    http.get("/secure", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert!(
        errors
            .borrow()
            .contains(&SslErrorKind::SelfSignedCertificate),
        "{:?}",
        errors.borrow()
    );
    assert_eq!(http.read_all(), b"hello");
    assert_eq!(heads.borrow().len(), 1);
    assert!(heads.borrow()[0].starts_with("GET /secure HTTP/1.1\r\n"));
    let trace = trace.borrow();
    let ssl = trace
        .iter()
        .position(|l| l.starts_with("sslErrors("))
        .unwrap();
    let sending = trace
        .iter()
        .position(|l| l == "stateChanged(Sending)")
        .unwrap();
    assert!(ssl < sending, "{trace:#?}");
    assert_eq!(http.state(), State::Connected);
}

#[test]
fn https_fails_when_ssl_errors_are_not_ignored() {
    let (server, heads) = https_server();
    let http = Http::with_host("127.0.0.1", server.server_port(), ConnectionMode::Https);
    let trace = record(&http);
    http.get("/secure", None);
    http.get("/dropped", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::UnknownError);
    assert!(!http.error_string().is_empty());
    assert!(heads.borrow().is_empty(), "no request went out");
    let trace = trace.borrow();
    assert_eq!(
        trace[trace.len() - 3..].to_vec(),
        [
            "requestFinished(1, true)",
            "done(true)",
            "stateChanged(Unconnected)"
        ]
    );
    assert!(!trace.iter().any(|l| l == "requestStarted(2)"));
}

#[test]
fn set_ssl_configuration_trusts_a_private_ca() {
    let (server, heads) = https_server_with(test_certs::pki().server.configuration());
    let port = server.server_port();
    // Without it: the CA is unknown.
    let http = Http::with_host("127.0.0.1", port, ConnectionMode::Https);
    http.get("/secure", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::UnknownError);
    assert!(heads.borrow().is_empty());
    // With a configuration trusting the test CA: no ssl_errors, the request goes out.
    let http = Http::with_host("127.0.0.1", port, ConnectionMode::Https);
    http.set_ssl_configuration(test_certs::client_configuration());
    assert_eq!(
        http.ssl_configuration().ca_certificates(),
        std::slice::from_ref(&test_certs::pki().ca)
    );
    let shown = Rc::new(RefCell::new(0));
    let s = shown.clone();
    http.ssl_errors().connect(move |_| *s.borrow_mut() += 1);
    http.get("/secure", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(http.read_all(), b"hello");
    assert_eq!(*shown.borrow(), 0);
    assert_eq!(heads.borrow().len(), 1);
}

#[test]
fn https_goes_through_an_http_connect_proxy_with_tls_inside() {
    let (server, heads) = https_server_with(test_certs::pki().server.configuration());
    let port = server.server_port();
    let (proxy, log) = proxy::http_proxy(proxy::HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let http = Http::with_host("localhost", port, ConnectionMode::Https);
    http.set_ssl_configuration(test_certs::client_configuration());
    http.set_proxy("127.0.0.1", proxy.port(), "alice", "s3cret");
    http.get("/secure", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::NoError, "{}", http.error_string());
    assert_eq!(http.read_all(), b"hello");
    assert!(
        log.entries()
            .contains(&format!("CONNECT localhost:{port} auth=alice:s3cret")),
        "{:?}",
        log.entries()
    );
    // Inside the tunnel: the origin form, and the proxy's credentials stay with the proxy.
    let heads = heads.borrow();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("GET /secure HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        !heads[0]
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "{}",
        heads[0]
    );
}

#[test]
fn a_connect_proxy_demanding_credentials_fails_with_proxy_authentication_required() {
    let (server, heads) = https_server_with(test_certs::pki().server.configuration());
    let (proxy, _log) = proxy::http_proxy(proxy::HttpProxyConfig {
        credentials: Some(("alice".into(), "s3cret".into())),
        ..Default::default()
    });
    let http = Http::with_host("localhost", server.server_port(), ConnectionMode::Https);
    http.set_ssl_configuration(test_certs::client_configuration());
    http.set_proxy("127.0.0.1", proxy.port(), "", "");
    http.get("/secure", None);
    run_until_done(&http, 1);
    assert_eq!(http.error(), HttpError::ProxyAuthenticationRequiredError);
    assert!(heads.borrow().is_empty());
}
