use std::io::{Read, Write};

use super::{meta, url};
use crate::cache::{AbstractNetworkCache, MemoryCache, NetworkCacheMetaData, NetworkDiskCache};

fn store(cache: &mut dyn AbstractNetworkCache, path: &str, body: &[u8]) -> bool {
    let mut m = meta(&[("etag", "\"e\"")]);
    m.set_url(url(path));
    let mut w = cache.prepare(&m).unwrap();
    w.write_all(body).unwrap();
    cache.insert(w)
}

fn body(cache: &mut dyn AbstractNetworkCache, path: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    cache.data(&url(path))?.read_to_end(&mut out).unwrap();
    Some(out)
}

#[test]
fn roundtrip_remove_clear() {
    let mut c = MemoryCache::new();
    assert!(store(&mut c, "a", b"alpha"));
    assert_eq!(body(&mut c, "a").unwrap(), b"alpha");
    // The fragment is not part of the key.
    assert_eq!(body(&mut c, "a#section").unwrap(), b"alpha");
    assert_eq!(c.meta_data(&url("a")).unwrap().url(), Some(&url("a")));
    assert!(c.cache_size() >= 5);
    assert!(store(&mut c, "a", b"replaced"));
    assert_eq!(body(&mut c, "a").unwrap(), b"replaced");
    assert!(c.remove(&url("a")));
    assert!(!c.remove(&url("a")));
    assert_eq!(c.cache_size(), 0);
    assert!(store(&mut c, "b", b"x"));
    c.clear();
    assert!(body(&mut c, "b").is_none());
    assert!(c.prepare(&NetworkCacheMetaData::new()).is_none());
}

#[test]
fn abandoned_writer_stores_nothing() {
    let mut c = MemoryCache::new();
    let w = c.prepare(&meta(&[])).unwrap();
    drop(w);
    assert!(c.meta_data(&url("r")).is_none());
}

#[test]
fn lru_eviction_and_size_limit() {
    let mut c = MemoryCache::new();
    c.set_maximum_cache_size(1000);
    for i in 0..5 {
        assert!(store(&mut c, &i.to_string(), &[i as u8; 150]));
    }
    // Use "0" so it becomes the most recent; the next inserts evict 1, 2, ... first.
    assert!(body(&mut c, "0").is_some());
    for i in 5..8 {
        assert!(store(&mut c, &i.to_string(), &[i as u8; 150]));
    }
    assert!(c.cache_size() <= 1000);
    assert!(body(&mut c, "0").is_some());
    assert!(body(&mut c, "1").is_none());
    assert!(body(&mut c, "7").is_some());
    // An entry bigger than the whole cache is refused.
    assert!(!store(&mut c, "huge", &[0; 2000]));
    assert!(body(&mut c, "huge").is_none());
}

#[test]
fn update_meta_data_keeps_the_body() {
    let mut c = MemoryCache::new();
    store(&mut c, "r", b"body");
    let mut m = c.meta_data(&url("r")).unwrap();
    m.set_save_to_disk(false);
    c.update_meta_data(&m);
    assert!(!c.meta_data(&url("r")).unwrap().save_to_disk());
    assert_eq!(body(&mut c, "r").unwrap(), b"body");
    // Updating an unknown URL creates nothing.
    m.set_url(url("other"));
    c.update_meta_data(&m);
    assert!(c.meta_data(&url("other")).is_none());
}

#[test]
fn writers_do_not_cross_caches() {
    let dir = super::disk::TempDir::new("cross");
    let mut disk = NetworkDiskCache::new(dir.path()).unwrap();
    let mut mem = MemoryCache::new();
    let w = disk.prepare(&meta(&[])).unwrap();
    assert!(!mem.insert(w));
    let w = mem.prepare(&meta(&[])).unwrap();
    assert!(!disk.insert(w));
}
