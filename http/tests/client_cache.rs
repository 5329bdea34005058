//! The cache in the access manager: fresh entries served without the network (with a
//! network reply's signal sequence, minus the socket signals), revalidation with
//! `If-None-Match`/`If-Modified-Since` and 304s, Qt's CacheLoadControl and
//! CacheSaveControl, decoded bodies, invalidation by unsafe methods, a disk cache shared
//! by two managers.

use std::io::Write;

use slotnet_http::cache::{MemoryCache, NetworkDiskCache};
use slotnet_http::{
    Attribute, CacheLoadControl, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest,
};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::assert_no_error;
use slotnet_testkit::reply::{run_all, run_traced};

const ETAG: &str = "\"v1-etag\"";
const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

/// `/fresh`: max-age=600. `/etag`: no-cache with an ETag (304 on a match).
/// `/modified`: no-cache with Last-Modified (304 on If-Modified-Since). `/gzip`: a gzip
/// body, max-age=600. `/private-no-store`: no-store. Bodies name the request's number.
fn cache_server() -> ScriptedServer {
    let count = std::sync::atomic::AtomicUsize::new(0);
    ScriptedServer::start(move |req, s| {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = format!("response {n}");
        match req.target.as_str() {
            "/fresh" => respond(
                s,
                "200 OK",
                &[("Cache-Control", "max-age=600")],
                body.as_bytes(),
            ),
            "/stale" if req.header("if-none-match") == Some(ETAG) => {
                respond(s, "304 Not Modified", &[("ETag", ETAG)], b"")
            }
            "/stale" => respond(
                s,
                "200 OK",
                &[("Cache-Control", "max-age=0"), ("ETag", ETAG)],
                body.as_bytes(),
            ),
            "/etag" if req.header("if-none-match") == Some(ETAG) => respond(
                s,
                "304 Not Modified",
                &[("ETag", ETAG), ("X-Fresh", "yes")],
                b"",
            ),
            "/etag" => respond(
                s,
                "200 OK",
                &[("Cache-Control", "no-cache"), ("ETag", ETAG)],
                body.as_bytes(),
            ),
            "/modified" if req.header("if-modified-since") == Some(LAST_MODIFIED) => {
                respond(s, "304 Not Modified", &[], b"")
            }
            "/modified" => respond(
                s,
                "200 OK",
                &[
                    ("Cache-Control", "no-cache"),
                    ("Last-Modified", LAST_MODIFIED),
                ],
                body.as_bytes(),
            ),
            "/gzip" => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(body.as_bytes()).unwrap();
                let data = gz.finish().unwrap();
                respond(
                    s,
                    "200 OK",
                    &[
                        ("Cache-Control", "max-age=600"),
                        ("Content-Encoding", "gzip"),
                    ],
                    &data,
                );
            }
            _ => respond(
                s,
                "200 OK",
                &[("Cache-Control", "no-store")],
                body.as_bytes(),
            ),
        }
        Next::KeepAlive
    })
}

fn cached_manager() -> NetworkAccessManager {
    let m = NetworkAccessManager::new();
    m.set_cache(Some(Box::new(MemoryCache::new())));
    m
}

fn get(m: &NetworkAccessManager, request: NetworkRequest) -> NetworkReply {
    let reply = m.get(request);
    run_all(&[reply]);
    reply
}

fn req(server: &ScriptedServer, path: &str) -> NetworkRequest {
    NetworkRequest::from_url_str(&server.url(path))
}

fn from_cache(reply: NetworkReply) -> Option<bool> {
    reply
        .attribute(Attribute::SourceIsFromCache)
        .and_then(|v| v.as_bool())
}

#[test]
fn fresh_entries_are_served_without_the_network() {
    let server = cache_server();
    let m = cached_manager();
    let first = get(&m, req(&server, "/fresh"));
    assert_eq!(first.read_all(), b"response 0");
    assert_eq!(from_cache(first), None, "unset on a network reply, as Qt");
    let second = m.get(req(&server, "/fresh"));
    let (lines, body) = run_traced(&m, second);
    assert_eq!(
        lines,
        [
            "reply.metaDataChanged()",
            "reply.readyRead()",
            "reply.downloadProgress(10, 10)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(body, b"response 0");
    assert_eq!(from_cache(second), Some(true));
    assert_eq!(second.status_code(), Some(200));
    assert_eq!(
        second.raw_header("cache-control").as_deref(),
        Some("max-age=600")
    );
    assert_eq!(server.seen().len(), 1);
    // AlwaysNetwork goes out anyway, tells intermediate caches to revalidate (as Qt), and
    // replaces the entry.
    let mut always = req(&server, "/fresh");
    always.set_attribute(Attribute::CacheLoadControl, CacheLoadControl::AlwaysNetwork);
    let third = get(&m, always.clone());
    assert_eq!(third.read_all(), b"response 1");
    assert_eq!(from_cache(third), None);
    let sent = &server.seen()[1];
    assert_eq!(sent.header("cache-control"), Some("no-cache"));
    assert_eq!(sent.header("pragma"), Some("no-cache"));
    let replaced = get(&m, req(&server, "/fresh"));
    assert_eq!(replaced.read_all(), b"response 1");
    assert_eq!(from_cache(replaced), Some(true));
    // The request's own Cache-Control is kept (and then Qt adds no Pragma either).
    always.set_raw_header("Cache-Control", "max-age=0");
    get(&m, always);
    let sent = &server.seen()[2];
    assert_eq!(sent.header("cache-control"), Some("max-age=0"));
    assert_eq!(sent.header("pragma"), None);
}

#[test]
fn prefer_cache_revalidates_a_stale_entry_as_qt_does() {
    let server = cache_server();
    let m = cached_manager();
    assert_eq!(get(&m, req(&server, "/stale")).read_all(), b"response 0");
    let mut prefer = req(&server, "/stale");
    prefer.set_attribute(Attribute::CacheLoadControl, CacheLoadControl::PreferCache);
    let reply = get(&m, prefer);
    assert_eq!(
        reply.read_all(),
        b"response 0",
        "the 304 serves the cached body"
    );
    assert_eq!(from_cache(reply), Some(true));
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "Qt 6.4 asks the server about a stale entry");
    assert_eq!(seen[1].header("if-none-match"), Some(ETAG));
}

#[test]
fn stale_entries_are_revalidated_and_304_serves_the_cached_body() {
    let server = cache_server();
    let m = cached_manager();
    assert_eq!(get(&m, req(&server, "/etag")).read_all(), b"response 0");
    let second = get(&m, req(&server, "/etag"));
    assert_no_error(second);
    assert_eq!(second.read_all(), b"response 0");
    assert_eq!(second.status_code(), Some(200));
    assert_eq!(from_cache(second), Some(true));
    assert_eq!(
        second.raw_header("x-fresh").as_deref(),
        Some("yes"),
        "304 fields merged"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("if-none-match"), Some(ETAG));

    assert_eq!(get(&m, req(&server, "/modified")).read_all(), b"response 2");
    let again = get(&m, req(&server, "/modified"));
    assert_eq!(again.read_all(), b"response 2");
    assert_eq!(
        server.seen()[3].header("if-modified-since"),
        Some(LAST_MODIFIED)
    );
    // PreferCache revalidates as well.
    let mut prefer = req(&server, "/etag");
    prefer.set_attribute(Attribute::CacheLoadControl, CacheLoadControl::PreferCache);
    assert_eq!(get(&m, prefer).read_all(), b"response 0");
    assert_eq!(server.seen().len(), 5);
}

#[test]
fn always_cache_misses_are_content_not_found() {
    let server = cache_server();
    let m = cached_manager();
    let mut only_cache = req(&server, "/fresh");
    only_cache.set_attribute(Attribute::CacheLoadControl, CacheLoadControl::AlwaysCache);
    let reply = m.get(only_cache.clone());
    let (lines, _) = run_traced(&m, reply);
    assert_eq!(
        lines,
        [
            "reply.errorOccurred(ContentNotFoundError)",
            "reply.downloadProgress(0, 0)",
            "manager.finished()",
            "reply.finished()",
        ]
    );
    assert_eq!(reply.error(), NetworkError::ContentNotFoundError);
    assert!(server.seen().is_empty());
    get(&m, req(&server, "/fresh"));
    let hit = get(&m, only_cache);
    assert_eq!(hit.error(), NetworkError::NoError);
    assert_eq!(hit.read_all(), b"response 0");
}

#[test]
fn save_control_no_store_and_unsafe_methods() {
    let server = cache_server();
    let m = cached_manager();
    let mut no_save = req(&server, "/fresh");
    no_save.set_attribute(Attribute::CacheSaveControl, false);
    get(&m, no_save);
    assert_eq!(get(&m, req(&server, "/fresh")).read_all(), b"response 1");
    get(&m, req(&server, "/other"));
    assert_eq!(
        get(&m, req(&server, "/other")).read_all(),
        b"response 3",
        "no-store"
    );
    // A POST to the URL invalidates its entry.
    let post = m.post(req(&server, "/fresh"), "x");
    run_all(&[post]);
    assert_eq!(get(&m, req(&server, "/fresh")).read_all(), b"response 5");
    assert!(m.cache().unwrap().borrow().cache_size() > 0);
}

#[test]
fn decoded_bodies_are_cached_decoded() {
    let server = cache_server();
    let m = cached_manager();
    assert_eq!(get(&m, req(&server, "/gzip")).read_all(), b"response 0");
    let hit = get(&m, req(&server, "/gzip"));
    assert_eq!(from_cache(hit), Some(true));
    assert_eq!(hit.read_all(), b"response 0");
    assert_eq!(hit.raw_header("content-encoding"), None);
}

#[test]
fn a_disk_cache_outlives_its_manager() {
    let server = cache_server();
    let dir = std::env::temp_dir().join(format!("slotnet-client-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = NetworkAccessManager::new();
    first.set_cache(Some(Box::new(NetworkDiskCache::new(&dir).unwrap())));
    assert_eq!(
        get(&first, req(&server, "/fresh")).read_all(),
        b"response 0"
    );
    let second = NetworkAccessManager::new();
    second.set_cache(Some(Box::new(NetworkDiskCache::new(&dir).unwrap())));
    let hit = get(&second, req(&server, "/fresh"));
    assert_eq!(from_cache(hit), Some(true));
    assert_eq!(hit.read_all(), b"response 0");
    assert_eq!(server.seen().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_small_read_buffer_paces_a_cached_body() {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let body = big.clone();
    let server = ScriptedServer::start(move |_, s| {
        respond(s, "200 OK", &[("Cache-Control", "max-age=600")], &body);
        Next::KeepAlive
    });
    let m = cached_manager();
    get(&m, req(&server, "/big"));
    let reply = m.get(req(&server, "/big"));
    reply.set_read_buffer_size(10_000);
    let received = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let max_buffered = std::rc::Rc::new(std::cell::Cell::new(0));
    let mb = max_buffered.clone();
    reply
        .ready_read()
        .connect(move |_| mb.set(mb.get().max(reply.bytes_available())));
    // The application reads later, from a timer: until then the buffer stays full.
    let reader = slotnet_core::Timer::new();
    let r = received.clone();
    reader
        .timeout()
        .connect(move |_| r.borrow_mut().extend(reply.read_all()));
    reader.start_interval(std::time::Duration::from_millis(1));
    run_all(&[reply]);
    reader.destroy();
    received.borrow_mut().extend(reply.read_all());
    assert_eq!(from_cache(reply), Some(true));
    assert!(*received.borrow() == big);
    // At most one piece beyond the limit, never the whole body at once.
    assert!(
        max_buffered.get() <= 10_000 + 64 * 1024,
        "{}",
        max_buffered.get()
    );
}
