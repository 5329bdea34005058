//! Authentication in the access manager against scripted loopback servers: Qt's order (URL
//! credentials, cache, `authenticationRequired`), Qt's traces for a right, a wrong and no
//! answer (docs/qt-traces/basic-auth-*.txt), the credential cache with
//! preemptive Basic, resending bodies, and Digest with a stale nonce.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use slotnet_http::auth::basic_authorization;
use slotnet_http::{
    Attribute, LoadControl, NetworkAccessManager, NetworkError, NetworkRequest, RequestBody,
};
use slotnet_testkit::h1::{respond, Next, ScriptedServer, SeenRequest};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::{run_all, run_traced_auth};

const OK_BODY: &[u8] = br#"{"authenticated": true, "user": "user"}"#;

/// httpbin's `/basic-auth/user/passwd`: 200 with the right Basic credentials, else 401
/// (with `body` as the 401's body).
fn basic_server(body: &'static [u8]) -> ScriptedServer {
    let good = basic_authorization("user", "passwd").unwrap();
    ScriptedServer::start(move |req, s| {
        if req.header("authorization") == Some(good.as_str()) {
            respond(
                s,
                "200 OK",
                &[("Content-Type", "application/json")],
                OK_BODY,
            );
        } else {
            respond(
                s,
                "401 UNAUTHORIZED",
                &[("WWW-Authenticate", "Basic realm=\"Fake Realm\"")],
                body,
            );
        }
        Next::KeepAlive
    })
}

/// Answers every `authenticationRequired` with `user:password`; counts the prompts.
fn answer(m: &NetworkAccessManager, user: &'static str, password: &'static str) -> Rc<Cell<u32>> {
    let prompts = Rc::new(Cell::new(0));
    let p = prompts.clone();
    m.authentication_required().connect(move |(_reply, auth)| {
        p.set(p.get() + 1);
        let mut auth = auth.borrow_mut();
        assert_eq!(auth.realm(), "Fake Realm");
        assert!(
            auth.user().is_empty(),
            "the slot starts from empty credentials"
        );
        auth.set_user(user);
        auth.set_password(password);
    });
    prompts
}

fn get(m: &NetworkAccessManager, url: &str) -> slotnet_http::NetworkReply {
    m.get(NetworkRequest::from_url_str(url))
}

#[test]
fn basic_auth_ok_matches_the_qt_trace() {
    let server = basic_server(b"");
    let m = NetworkAccessManager::new();
    answer(&m, "user", "passwd");
    let reply = get(&m, &server.url("/basic-auth/user/passwd"));
    let (lines, body) = run_traced_auth(&m, reply);
    // docs/qt-traces/basic-auth-ok.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "manager.authenticationRequired(Fake Realm)",
            "reply.requestSent()",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            &format!("reply.downloadProgress({0}, {0})", OK_BODY.len()),
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, OK_BODY);
    assert_eq!(reply.status_code(), Some(200));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(
        seen[1].header("authorization"),
        Some(basic_authorization("user", "passwd").unwrap().as_str())
    );
    assert_eq!(
        server.connection_count(),
        1,
        "the 401's connection is reused"
    );
}

#[test]
fn basic_auth_wrong_asks_twice_then_gives_up_like_qt() {
    let server = basic_server(b"");
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "wrong");
    let reply = get(&m, &server.url("/basic-auth/user/passwd"));
    let (lines, _) = run_traced_auth(&m, reply);
    // docs/qt-traces/basic-auth-wrong.txt
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "manager.authenticationRequired(Fake Realm)",
            "reply.requestSent()",
            "manager.authenticationRequired(Fake Realm)",
            "reply.metaDataChanged()",
            "reply.errorOccurred(AuthenticationRequiredError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(prompts.get(), 2);
    assert_eq!(reply.error(), NetworkError::AuthenticationRequiredError);
    assert_eq!(reply.status_code(), Some(401));
}

#[test]
fn no_credentials_end_with_the_401_and_its_body() {
    let server = basic_server(b"<h1>401 please log in</h1>");
    let m = NetworkAccessManager::new();
    let prompts = Rc::new(Cell::new(0));
    let p = prompts.clone();
    m.authentication_required()
        .connect(move |_| p.set(p.get() + 1));
    let reply = get(&m, &server.url("/basic-auth/user/passwd"));
    let (lines, body) = run_traced_auth(&m, reply);
    // docs/qt-traces/basic-auth-no-credentials.txt, with a body to read.
    assert_eq!(
        lines,
        [
            "reply.socketStartedConnecting()",
            "reply.requestSent()",
            "manager.authenticationRequired(Fake Realm)",
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.errorOccurred(AuthenticationRequiredError)",
            "reply.downloadProgress(26, 26)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(prompts.get(), 1);
    assert_eq!(body, b"<h1>401 please log in</h1>");
    assert_eq!(
        reply.raw_header("www-authenticate").as_deref(),
        Some("Basic realm=\"Fake Realm\"")
    );
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn url_credentials_first_then_the_cache_then_preemptive_basic() {
    let server = basic_server(b"");
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "nobody", "nothing");
    // 1. The URL's user info answers the challenge: no prompt.
    let url = format!(
        "http://user:passwd@127.0.0.1:{}/basic-auth/user/passwd",
        server.port
    );
    let reply = get(&m, &url);
    run_all(&[reply]);
    assert_no_error(reply);
    assert_eq!(prompts.get(), 0);
    assert_eq!(server.seen().len(), 2);
    // 2. The same URL again: the cached Basic credentials go with the first request.
    let again = get(&m, &url);
    run_all(&[again]);
    assert_eq!(again.error(), NetworkError::NoError);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "no challenge this time");
    assert!(seen[2].header("authorization").is_some());
    // 3. Without AuthenticationReuse the request goes out bare and is challenged, and
    // the cache (not the application) answers.
    let mut manual = NetworkRequest::from_url_str(&url);
    manual.set_attribute(Attribute::AuthenticationReuse, LoadControl::Manual);
    let manual_reply = m.get(manual);
    run_all(&[manual_reply]);
    assert_eq!(manual_reply.error(), NetworkError::NoError);
    let seen = server.seen();
    assert_eq!(seen.len(), 5, "challenged, then the URL's credentials");
    assert_eq!(seen[3].header("authorization"), None);
    assert_eq!(prompts.get(), 0);
}

#[test]
fn the_cache_serves_later_requests_and_clear_access_cache_forgets() {
    let server = basic_server(b"");
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "passwd");
    let first = get(&m, &server.url("/basic-auth/user/passwd"));
    run_all(&[first]);
    assert_eq!(first.error(), NetworkError::NoError);
    assert_eq!(prompts.get(), 1);
    // Same directory: preemptive. Another path on the same server: challenged, answered
    // from the cache for the realm, without asking.
    let second = get(&m, &server.url("/basic-auth/user/other"));
    let third = get(&m, &server.url("/elsewhere"));
    run_all(&[second, third]);
    assert_eq!(second.error(), NetworkError::NoError);
    assert_eq!(third.error(), NetworkError::NoError);
    assert_eq!(prompts.get(), 1);
    let seen = server.seen();
    let for_path =
        |p: &str| -> Vec<SeenRequest> { seen.iter().filter(|r| r.target == p).cloned().collect() };
    assert_eq!(for_path("/basic-auth/user/other").len(), 1);
    assert_eq!(for_path("/elsewhere").len(), 2);
    // A manager of its own knows nothing.
    let other = NetworkAccessManager::new();
    let other_prompts = answer(&other, "user", "passwd");
    let r = get(&other, &server.url("/basic-auth/user/passwd"));
    run_all(&[r]);
    assert_eq!(other_prompts.get(), 1);
    // clear_access_cache: asked again.
    m.clear_access_cache();
    let after = get(&m, &server.url("/basic-auth/user/passwd"));
    run_all(&[after]);
    assert_eq!(after.error(), NetworkError::NoError);
    assert_eq!(prompts.get(), 2);
}

#[test]
fn changed_password_rejects_the_cached_credentials_and_asks_again() {
    let password = Arc::new(std::sync::Mutex::new("one".to_owned()));
    let p2 = password.clone();
    let server = ScriptedServer::start(move |req, s| {
        let good = basic_authorization("user", &p2.lock().unwrap()).unwrap();
        if req.header("authorization") == Some(good.as_str()) {
            respond(s, "200 OK", &[], b"ok");
        } else {
            respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"Fake Realm\"")],
                b"",
            );
        }
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let answers = Rc::new(RefCell::new(vec!["two", "one"]));
    let a = answers.clone();
    m.authentication_required().connect(move |(_r, auth)| {
        let pw = a.borrow_mut().pop().unwrap_or("");
        auth.borrow_mut().set_user("user");
        auth.borrow_mut().set_password(pw);
    });
    let r = get(&m, &server.url("/a"));
    run_all(&[r]);
    assert_eq!(r.error(), NetworkError::NoError);
    *password.lock().unwrap() = "two".to_owned();
    let r = get(&m, &server.url("/a"));
    run_all(&[r]);
    assert_no_error(r);
    assert!(answers.borrow().is_empty(), "asked a second time");
    let seen = server.seen();
    // 401, one; then preemptive one (401), two (200).
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[2].header("authorization"),
        Some(basic_authorization("user", "one").unwrap().as_str())
    );
}

#[test]
fn bodies_are_sent_again_and_reader_bodies_cannot_be() {
    let good = basic_authorization("user", "passwd").unwrap();
    let server = ScriptedServer::start(move |req, s| {
        if req.header("authorization") == Some(good.as_str()) {
            respond(s, "200 OK", &[], &req.body);
        } else {
            respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"Fake Realm\"")],
                b"",
            );
        }
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "passwd");
    let reply = m.post(
        NetworkRequest::from_url_str(&server.url("/echo")),
        "hello body",
    );
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::NoError);
    assert_eq!(reply.read_all(), b"hello body");
    let seen = server.seen();
    assert_eq!(seen[0].body, b"hello body");
    assert_eq!(seen[1].body, b"hello body");

    // A reader is read once: after the prompt, Qt's ContentReSendError. Another path
    // (not below the proven directory) so the cache cannot answer preemptively.
    let m2 = NetworkAccessManager::new();
    let prompts2 = answer(&m2, "user", "passwd");
    let body = RequestBody::from_reader(std::io::Cursor::new(b"streamed".to_vec()), Some(8));
    let reply = m2.post(NetworkRequest::from_url_str(&server.url("/upload")), body);
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::ContentReSendError);
    assert_eq!(prompts.get(), 1);
    assert_eq!(prompts2.get(), 1);
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", md5::compute(s.as_bytes()))
}

fn param<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .trim_start_matches("Digest ")
        .split(", ")
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .map(|v| v.trim_matches('"'))
}

#[test]
fn digest_with_a_stale_nonce_is_retried_without_asking() {
    // The first valid answer (nonce n1) is declared stale with a new nonce n2; answers with
    // n2 are accepted.
    let stale_sent = Arc::new(AtomicUsize::new(0));
    let st = stale_sent.clone();
    let server = ScriptedServer::start(move |req, s| {
        let challenge = |nonce: &str, stale: bool| {
            format!(
                "Digest realm=\"Fake Realm\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{}",
                if stale { ", stale=true" } else { "" }
            )
        };
        let Some(auth) = req.header("authorization") else {
            respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge("n1", false))],
                b"",
            );
            return Next::KeepAlive;
        };
        let field = |k| param(auth, k).unwrap_or("").to_owned();
        let ha1 = md5_hex("user:Fake Realm:passwd");
        let ha2 = md5_hex(&format!("{}:{}", req.method, field("uri")));
        let expected = md5_hex(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            field("nonce"),
            field("nc"),
            field("cnonce")
        ));
        let valid = field("response") == expected && field("uri") == req.target;
        if !valid {
            respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge("n1", false))],
                b"",
            );
        } else if field("nonce") == "n1" {
            st.fetch_add(1, Ordering::SeqCst);
            respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge("n2", true))],
                b"",
            );
        } else {
            respond(s, "200 OK", &[], b"digest ok");
        }
        Next::KeepAlive
    });
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "passwd");
    let reply = get(&m, &server.url("/digest?x=1"));
    let (lines, body) = run_traced_auth(&m, reply);
    assert_no_error(reply);
    assert_eq!(body, b"digest ok");
    assert_eq!(prompts.get(), 1, "the stale nonce is retried silently");
    assert_eq!(stale_sent.load(Ordering::SeqCst), 1);
    assert_eq!(server.seen().len(), 3);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.as_str() == "reply.metaDataChanged()")
            .count(),
        1,
        "neither 401 shows: {lines:?}"
    );
    // Wrong digest credentials: asked twice (the same answer again), then the 401.
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "wrong");
    let reply = get(&m, &server.url("/digest"));
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::AuthenticationRequiredError);
    assert_eq!(prompts.get(), 2);
}

#[test]
fn an_authorization_header_of_the_application_is_left_alone() {
    let server = basic_server(b"denied");
    let m = NetworkAccessManager::new();
    let prompts = answer(&m, "user", "passwd");
    let mut req = NetworkRequest::from_url_str(&server.url("/basic-auth/user/passwd"));
    req.set_raw_header("Authorization", "Basic bm9ib2R5Om5vdGhpbmc=");
    let reply = m.get(req);
    run_all(&[reply]);
    assert_eq!(reply.error(), NetworkError::AuthenticationRequiredError);
    assert_eq!(reply.read_all(), b"denied");
    assert_eq!(prompts.get(), 0);
    assert_eq!(server.seen().len(), 1);
}
