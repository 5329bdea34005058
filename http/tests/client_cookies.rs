//! Cookies in the access manager: `Set-Cookie` stored on every response (redirect hops
//! included) and `Cookie` sent from the jar, Qt's Cookie{Load,Save}Control attributes, a
//! jar shared between managers and saved to a file.

use std::cell::RefCell;
use std::rc::Rc;

use slotnet_http::cookies::{NetworkCookie, NetworkCookieJar};
use slotnet_http::{Attribute, LoadControl, NetworkAccessManager, NetworkRequest};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::run_all;

/// `/set?name=value` sets a cookie; `/login` sets one and redirects to `/home`; anything
/// else answers with the Cookie header it received (or `-`).
fn cookie_server() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        let target = req.target.clone();
        if let Some(pair) = target.strip_prefix("/set?") {
            let cookie = format!("{pair}; Path=/; Max-Age=3600");
            respond(s, "200 OK", &[("Set-Cookie", &cookie)], b"set");
        } else if target == "/login" {
            respond(
                s,
                "302 Found",
                &[
                    ("Location", "/home"),
                    ("Set-Cookie", "session=xyz; Path=/; HttpOnly"),
                    ("Set-Cookie", "theme=dark; Path=/"),
                ],
                b"",
            );
        } else {
            let seen = req.header("cookie").unwrap_or("-").to_owned();
            respond(s, "200 OK", &[], seen.as_bytes());
        }
        Next::KeepAlive
    })
}

fn fetch(m: &NetworkAccessManager, request: NetworkRequest) -> Vec<u8> {
    let reply = m.get(request);
    run_all(&[reply]);
    assert_no_error(reply);
    reply.read_all()
}

fn req(server: &ScriptedServer, path: &str) -> NetworkRequest {
    NetworkRequest::from_url_str(&server.url(path))
}

#[test]
fn cookies_set_by_a_response_go_with_later_requests() {
    let server = cookie_server();
    let m = NetworkAccessManager::new();
    assert_eq!(fetch(&m, req(&server, "/echo")), b"-");
    fetch(&m, req(&server, "/set?a=1"));
    fetch(&m, req(&server, "/set?b=2"));
    assert_eq!(fetch(&m, req(&server, "/echo")), b"a=1; b=2");
    let names: Vec<String> = m
        .cookie_jar()
        .borrow()
        .all_cookies()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn redirect_hops_store_and_send_cookies() {
    let server = cookie_server();
    let m = NetworkAccessManager::new();
    let body = fetch(&m, req(&server, "/login"));
    assert_eq!(body, b"session=xyz; theme=dark");
    let seen = server.seen();
    assert_eq!(seen[0].header("cookie"), None);
    assert_eq!(seen[1].target, "/home");
}

#[test]
fn manual_load_and_save_controls_are_honoured() {
    let server = cookie_server();
    let m = NetworkAccessManager::new();
    let mut no_save = req(&server, "/set?ignored=1");
    no_save.set_attribute(Attribute::CookieSaveControl, LoadControl::Manual);
    fetch(&m, no_save);
    assert!(m.cookie_jar().borrow().is_empty());
    fetch(&m, req(&server, "/set?kept=1"));
    let mut no_load = req(&server, "/echo");
    no_load.set_attribute(Attribute::CookieLoadControl, LoadControl::Manual);
    assert_eq!(fetch(&m, no_load), b"-");
    // The application's own Cookie header comes first; the jar's cookies follow.
    let mut own = req(&server, "/echo");
    own.set_raw_header("Cookie", "mine=1");
    assert_eq!(fetch(&m, own), b"mine=1; kept=1");
}

#[test]
fn a_shared_jar_serves_two_managers_and_survives_a_file() {
    let server = cookie_server();
    let jar = Rc::new(RefCell::new(NetworkCookieJar::new()));
    let first = NetworkAccessManager::new();
    let second = NetworkAccessManager::new();
    first.set_cookie_jar(jar.clone());
    second.set_cookie_jar(jar.clone());
    fetch(&first, req(&server, "/set?shared=yes"));
    assert_eq!(fetch(&second, req(&server, "/echo")), b"shared=yes");

    let dir = std::env::temp_dir().join(format!("slotnet-cookies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jar.txt");
    jar.borrow().save(&file).unwrap();
    let mut loaded = NetworkCookieJar::new();
    assert_eq!(loaded.load(&file).unwrap(), 1);
    let third = NetworkAccessManager::new();
    third.set_cookie_jar(Rc::new(RefCell::new(loaded)));
    assert_eq!(fetch(&third, req(&server, "/echo")), b"shared=yes");
    // A cookie the application puts into the jar is sent too.
    let url = url::Url::parse(&server.url("/")).unwrap();
    third
        .cookie_jar()
        .borrow_mut()
        .set_cookies_from_url(NetworkCookie::parse_cookies("extra=1; Path=/"), &url);
    assert_eq!(fetch(&third, req(&server, "/echo")), b"shared=yes; extra=1");
    let _ = std::fs::remove_dir_all(&dir);
}
