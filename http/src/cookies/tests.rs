//! Jar-level tests: what a sequence of `Set-Cookie` headers leads to being sent.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use url::Url;

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// A jar after `url` answered with these `Set-Cookie` lines; panics if any was refused.
fn jar_with(set_by: &str, lines: &[&str]) -> NetworkCookieJar {
    let mut jar = NetworkCookieJar::new();
    for line in lines {
        assert!(
            jar.set_cookies_from_url(NetworkCookie::parse_cookies(line), &url(set_by)),
            "refused {line:?}"
        );
    }
    jar
}

fn names_for(jar: &NetworkCookieJar, target: &str) -> Vec<String> {
    jar.cookies_for_url(&url(target))
        .iter()
        .map(|c| c.name().to_owned())
        .collect()
}

/// A unique scratch directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "slotnet-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn qt_normalisation_examples() {
    let table = [
        // (Set-Cookie, URL, expected domain, expected path)
        (
            "a=b",
            "http://www.example.com/a/b/c",
            "www.example.com",
            "/a/b/",
        ),
        (
            "a=b",
            "http://www.example.com/a/b/",
            "www.example.com",
            "/a/b/",
        ),
        ("a=b", "http://www.example.com", "www.example.com", "/"),
        (
            "a=b; domain=example.com",
            "http://www.example.com/x",
            ".example.com",
            "/",
        ),
        (
            "a=b; domain=.example.com",
            "http://www.example.com/",
            ".example.com",
            "/",
        ),
        (
            "a=b; path=/p",
            "http://www.example.com/q/r",
            "www.example.com",
            "/p",
        ),
        (
            "a=b; domain=127.0.0.1",
            "http://127.0.0.1/",
            "127.0.0.1",
            "/",
        ),
        ("a=b", "http://[::1]:8080/x/y", "::1", "/x/"),
        ("a=b", "http://WWW.Example.COM./", "www.example.com", "/"),
    ];
    for (line, target, domain, path) in table {
        let mut cookie = NetworkCookie::parse_cookies(line).remove(0);
        cookie.normalize(&url(target));
        assert_eq!(cookie.domain(), domain, "{line} from {target}");
        assert_eq!(cookie.path(), path, "{line} from {target}");
    }
}

#[test]
fn domain_cookies_reach_subdomains_host_only_cookies_do_not() {
    let jar = jar_with(
        "http://www.example.com/",
        &["dom=1; Domain=example.com", "host=2"],
    );
    let table: &[(&str, &[&str])] = &[
        ("http://www.example.com/", &["dom", "host"]),
        ("http://example.com/", &["dom"]),
        ("http://a.b.example.com/", &["dom"]),
        ("http://sub.www.example.com/", &["dom"]),
        ("http://example.org/", &[]),
        ("http://notexample.com/", &[]),
    ];
    for (target, expected) in table {
        assert_eq!(names_for(&jar, target), *expected, "{target}");
    }
}

#[test]
fn foreign_domains_and_public_suffixes_are_rejected() {
    let table = [
        // (URL, Set-Cookie, accepted)
        ("http://www.example.com/", "a=b; Domain=other.com", false),
        ("http://www.example.com/", "a=b; Domain=ample.com", false),
        (
            "http://www.example.com/",
            "a=b; Domain=sub.www.example.com",
            false,
        ),
        ("http://www.example.com/", "a=b; Domain=com", false),
        ("http://www.example.com/", "a=b; Domain=.com", false),
        ("http://www.example.co.uk/", "a=b; Domain=co.uk", false),
        ("http://user.github.io/", "a=b; Domain=github.io", false),
        ("http://127.0.0.1/", "a=b; Domain=0.0.1", false),
        ("http://127.0.0.1/", "a=b; Domain=127.0.0.1", true),
        (
            "http://www.example.co.uk/",
            "a=b; Domain=example.co.uk",
            true,
        ),
        (
            "http://www.example.com/",
            "a=b; Domain=www.example.com",
            true,
        ),
        ("http://user.github.io/", "a=b; Domain=user.github.io", true),
        ("file:///etc/passwd", "a=b", false),
    ];
    for (target, line, accepted) in table {
        let mut jar = NetworkCookieJar::new();
        assert_eq!(
            jar.set_cookies_from_url(NetworkCookie::parse_cookies(line), &url(target)),
            accepted,
            "{line} from {target}"
        );
        assert_eq!(jar.len(), usize::from(accepted));
    }
}

#[test]
fn public_suffix_equal_to_the_host_makes_a_host_only_cookie() {
    let jar = jar_with("https://github.io/", &["a=b; Domain=github.io"]);
    assert_eq!(jar.all_cookies()[0].domain(), "github.io");
    assert_eq!(names_for(&jar, "https://github.io/"), ["a"]);
    assert!(names_for(&jar, "https://user.github.io/").is_empty());
}

#[test]
fn path_matching_through_the_jar() {
    let jar = jar_with(
        "http://h.example/docs/index.html",
        &["dflt=1", "root=2; path=/", "exact=3; path=/docs/api"],
    );
    let table: &[(&str, &[&str])] = &[
        ("http://h.example/docs/api/x", &["exact", "dflt", "root"]),
        ("http://h.example/docs/api", &["exact", "dflt", "root"]),
        ("http://h.example/docs/", &["dflt", "root"]),
        ("http://h.example/docs", &["root"]),
        ("http://h.example/docsx", &["root"]),
        ("http://h.example/docs/apix", &["dflt", "root"]),
        ("http://h.example/", &["root"]),
    ];
    for (target, expected) in table {
        assert_eq!(names_for(&jar, target), *expected, "{target}");
    }
}

#[test]
fn order_is_longest_path_then_oldest() {
    let jar = jar_with(
        "http://h.example/",
        &[
            "late=1; path=/",
            "deep=2; path=/a/b",
            "mid=3; path=/a",
            "early=4; path=/a/",
        ],
    );
    assert_eq!(
        names_for(&jar, "http://h.example/a/b/c"),
        ["deep", "early", "mid", "late"]
    );
    assert_eq!(
        jar.cookie_header_for_url(&url("http://h.example/a/b"))
            .as_deref(),
        Some("deep=2; early=4; mid=3; late=1")
    );
    assert_eq!(
        jar.cookie_header_for_url(&url("http://other.example/")),
        None
    );
}

#[test]
fn secure_cookies_need_secure_urls_both_ways() {
    let jar = jar_with("https://h.example/", &["s=1; Secure", "p=2"]);
    assert_eq!(names_for(&jar, "https://h.example/"), ["s", "p"]);
    assert_eq!(names_for(&jar, "wss://h.example/"), ["s", "p"]);
    assert_eq!(names_for(&jar, "http://h.example/"), ["p"]);

    let mut jar = NetworkCookieJar::new();
    assert!(!jar.set_cookies_from_url(
        NetworkCookie::parse_cookies("s=1; Secure"),
        &url("http://h.example/")
    ));
    assert!(jar.is_empty());
}

#[test]
fn expiry_and_deletion_by_the_server() {
    let mut jar = jar_with(
        "http://h.example/",
        &["keep=1; Max-Age=3600", "gone=2; Max-Age=3600", "sess=3"],
    );
    assert_eq!(
        names_for(&jar, "http://h.example/"),
        ["keep", "gone", "sess"]
    );

    // Max-Age=0 (and an Expires in the past) delete the stored cookie; nothing is added.
    assert!(!jar.set_cookies_from_url(
        NetworkCookie::parse_cookies("gone=x; Max-Age=0"),
        &url("http://h.example/")
    ));
    assert!(!jar.set_cookies_from_url(
        NetworkCookie::parse_cookies("sess=x; expires=Thu, 01 Jan 1970 00:00:01 GMT"),
        &url("http://h.example/")
    ));
    assert_eq!(names_for(&jar, "http://h.example/"), ["keep"]);

    // A cookie whose time has come is no longer sent, even before it is purged.
    let mut stale = NetworkCookie::new("stale", "1");
    stale.set_domain("h.example");
    stale.set_path("/");
    stale.set_expiration_date(Some(SystemTime::now() + Duration::from_secs(60)));
    assert!(jar.insert_cookie(stale));
    let later = SystemTime::now() + Duration::from_secs(120);
    let sent: Vec<_> = jar
        .cookies_for_url_at(&url("http://h.example/"), later)
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(sent, ["keep"]);
    jar.remove_expired(later);
    assert_eq!(jar.len(), 1);
}

#[test]
fn same_identifier_replaces_and_keeps_its_place() {
    let mut jar = jar_with(
        "http://h.example/",
        &["a=1", "b=2", "a=3", "a=4; path=/other"],
    );
    let all = jar.all_cookies();
    let summary: Vec<_> = all
        .iter()
        .map(|c| format!("{}={}@{}", c.name(), c.value(), c.path()))
        .collect();
    assert_eq!(summary, ["a=3@/", "b=2@/", "a=4@/other"]);

    // A domain cookie with the same name is a different cookie.
    assert!(jar.set_cookies_from_url(
        NetworkCookie::parse_cookies("a=5; domain=h.example"),
        &url("http://h.example/")
    ));
    assert_eq!(jar.len(), 4);
    assert_eq!(
        jar.cookie_header_for_url(&url("http://h.example/"))
            .as_deref(),
        Some("a=3; b=2; a=5")
    );
}

#[test]
fn insert_update_delete() {
    let mut jar = NetworkCookieJar::new();
    let mut c = NetworkCookie::new("n", "v1");
    c.set_domain(".example.com");
    c.set_path("/");
    assert!(!jar.update_cookie(c.clone()), "nothing to update yet");
    assert!(jar.insert_cookie(c.clone()));
    c.set_value("v2");
    assert!(jar.update_cookie(c.clone()));
    assert_eq!(jar.all_cookies(), [c.clone()]);
    assert!(jar.delete_cookie(&c));
    assert!(!jar.delete_cookie(&c));
    assert!(jar.is_empty());

    jar.set_all_cookies(vec![c.clone(), NetworkCookie::new("x", "y")]);
    assert_eq!(jar.len(), 2);
    jar.clear();
    assert!(jar.is_empty());
}

#[test]
fn cookies_per_site_are_bounded() {
    let mut jar = NetworkCookieJar::new();
    let target = url("http://a.example.com/");
    for i in 0..MAX_COOKIES_PER_SITE + 20 {
        let line = format!("c{i}=v; domain=example.com");
        assert!(jar.set_cookies_from_url(NetworkCookie::parse_cookies(line), &target));
    }
    // Another site is counted separately.
    assert!(jar.set_cookies_from_url(
        NetworkCookie::parse_cookies("other=1"),
        &url("http://example.org/")
    ));
    assert_eq!(jar.len(), MAX_COOKIES_PER_SITE + 1);
    let names = names_for(&jar, "http://a.example.com/");
    assert_eq!(
        names.first().map(String::as_str),
        Some("c20"),
        "oldest evicted first"
    );
    assert_eq!(names.len(), MAX_COOKIES_PER_SITE);
}

#[test]
fn raw_form_roundtrip() {
    let line = "id=a3fWa; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure; HttpOnly; \
                SameSite=Strict; Domain=example.com; Path=/docs";
    let cookie = NetworkCookie::parse_cookies(line).remove(0);
    let full = cookie.to_raw_form(RawForm::Full);
    assert_eq!(
        full,
        "id=a3fWa; secure; HttpOnly; SameSite=Strict; expires=Wed, 21 Oct 2037 07:28:00 GMT; \
         domain=example.com; path=/docs"
    );
    assert_eq!(
        NetworkCookie::parse_cookies(&full),
        std::slice::from_ref(&cookie)
    );
    assert_eq!(cookie.to_raw_form(RawForm::NameAndValueOnly), "id=a3fWa");
}

#[test]
fn save_and_load_roundtrip() {
    let dir = ScratchDir::new("cookies");
    let path = dir.0.join("cookies.txt");
    let jar = jar_with(
        "https://www.example.com/app/page",
        &[
            "persist=1; Max-Age=86400; Domain=example.com; Secure; HttpOnly; SameSite=Lax",
            "hostonly=2; Max-Age=86400",
            "session=3",
        ],
    );
    jar.save(&path).unwrap();

    let mut loaded = NetworkCookieJar::new();
    assert_eq!(loaded.load(&path).unwrap(), 2);
    let expected: Vec<_> = jar
        .all_cookies()
        .into_iter()
        .filter(|c| !c.is_session_cookie())
        .collect();
    assert_eq!(loaded.all_cookies(), expected);
    // Host-only stays host-only after the trip.
    assert_eq!(
        names_for(&loaded, "https://www.example.com/app/x"),
        ["persist", "hostonly"]
    );
    assert_eq!(
        names_for(&loaded, "https://cdn.example.com/app/x"),
        ["persist"]
    );

    // Garbage lines are skipped, not fatal; a missing file is an error.
    std::fs::write(&path, "# comment\n\u{1}bad\nno domain=1; path=/\n").unwrap();
    assert_eq!(NetworkCookieJar::new().load(&path).unwrap(), 0);
    assert!(NetworkCookieJar::new().load(dir.0.join("missing")).is_err());
}
