use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{at, date, headers, meta, t0, url};
use crate::cache::{AbstractNetworkCache, NetworkCacheMetaData, NetworkDiskCache};

/// A directory removed when the test ends.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "slotnet-cache-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn store(cache: &mut NetworkDiskCache, path: &str, body: &[u8]) -> bool {
    let mut m = meta(&[("etag", "\"e\"")]);
    m.set_url(url(path));
    let mut w = cache.prepare(&m).unwrap();
    w.write_all(body).unwrap();
    cache.insert(w)
}

fn body(cache: &mut NetworkDiskCache, path: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    cache.data(&url(path))?.read_to_end(&mut out).unwrap();
    Some(out)
}

/// Every entry file under the cache directory.
fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in fs::read_dir(dir.join("data")).unwrap().flatten() {
        for f in fs::read_dir(sub.path()).unwrap().flatten() {
            files.push(f.path());
        }
    }
    files
}

fn prepared_files(dir: &Path) -> usize {
    fs::read_dir(dir.join("prepared")).map_or(0, |d| d.count())
}

#[test]
fn roundtrip_and_reopen() {
    let dir = TempDir::new("roundtrip");
    let mut m = NetworkCacheMetaData::from_response(
        url("page"),
        203,
        "Non-Authoritative",
        &headers(&[
            ("date", &date(0)),
            ("cache-control", "max-age=100"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("last-modified", &date(-50)),
        ]),
        t0(),
    );
    m.set_save_to_disk(true);
    let body_bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    {
        let mut c = NetworkDiskCache::new(dir.path()).unwrap();
        assert_eq!(c.maximum_cache_size(), 50 * 1024 * 1024);
        let mut w = c.prepare(&m).unwrap();
        for chunk in body_bytes.chunks(7000) {
            w.write_all(chunk).unwrap();
        }
        assert!(c.insert(w));
        assert!(c.cache_size() > 300_000);
        assert_eq!(prepared_files(dir.path()), 0);
    }
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    assert!(c.cache_size() > 300_000);
    let got = c.meta_data(&url("page")).unwrap();
    assert_eq!(got, m);
    assert_eq!(got.http_status_code(), Some(203));
    assert_eq!(got.http_reason_phrase(), Some("Non-Authoritative"));
    assert_eq!(got.last_modified(), Some(at(-50)));
    assert_eq!(got.expiration_date(), Some(at(100)));
    assert_eq!(got.raw_headers().get_all("set-cookie").iter().count(), 2);
    assert_eq!(body(&mut c, "page#frag").unwrap(), body_bytes);
    let files = entry_files(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(c.file_meta_data(&files[0]), Some(m));
}

#[test]
fn abandoned_writer_leaves_nothing() {
    let dir = TempDir::new("abandon");
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    let mut w = c.prepare(&meta(&[])).unwrap();
    w.write_all(b"partial").unwrap();
    assert_eq!(prepared_files(dir.path()), 1);
    drop(w);
    assert_eq!(prepared_files(dir.path()), 0);
    assert!(c.meta_data(&url("r")).is_none());
    assert!(entry_files(dir.path()).is_empty());
}

#[test]
fn crash_leftovers_and_torn_entries_are_cleaned_on_open() {
    let dir = TempDir::new("crash");
    {
        let mut c = NetworkDiskCache::new(dir.path()).unwrap();
        assert!(store(&mut c, "a", b"aaaa"));
        assert!(store(&mut c, "b", b"bbbb"));
        // A process dying mid-write leaves its temporary file behind.
        let mut w = c.prepare(&meta(&[])).unwrap();
        w.write_all(b"half").unwrap();
        std::mem::forget(w);
    }
    assert_eq!(prepared_files(dir.path()), 1);
    // Tear one entry (as a power loss after an fsync-free rename can).
    let files = entry_files(dir.path());
    let torn = &files[0];
    let len = fs::metadata(torn).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(torn).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    assert_eq!(prepared_files(dir.path()), 0);
    assert_eq!(entry_files(dir.path()).len(), 1);
    let survivors = [body(&mut c, "a"), body(&mut c, "b")];
    assert_eq!(survivors.iter().flatten().count(), 1);
}

#[test]
fn garbled_entries_are_never_served() {
    let dir = TempDir::new("garbled");
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    let payload = b"the real payload, long enough to flip a byte in".repeat(10);
    assert!(store(&mut c, "r", &payload));
    let path = entry_files(dir.path()).remove(0);
    let original = fs::read(&path).unwrap();

    // A flipped body byte: the metadata still reads, the body is refused and deleted.
    let mut bytes = original.clone();
    let n = bytes.len();
    bytes[n - 24 - 5] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    assert!(c.meta_data(&url("r")).is_some());
    assert!(c.data(&url("r")).is_none());
    assert!(!path.exists());
    assert_eq!(c.cache_size(), 0);

    // A flipped metadata byte: nothing is served.
    let mut bytes = original.clone();
    bytes[20] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    assert!(c.meta_data(&url("r")).is_none());
    assert!(c.data(&url("r")).is_none());

    // A zero-filled file of the right length (delayed allocation after a crash).
    fs::write(&path, vec![0u8; original.len()]).unwrap();
    assert!(c.data(&url("r")).is_none());
    assert!(!path.exists());
}

#[test]
fn eviction_keeps_recently_used_entries() {
    let dir = TempDir::new("evict");
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    c.set_maximum_cache_size(10_000);
    for i in 0..5 {
        assert!(store(&mut c, &i.to_string(), &[i as u8; 1500]));
    }
    assert!(body(&mut c, "0").is_some()); // now the most recently used
    for i in 5..9 {
        assert!(store(&mut c, &i.to_string(), &[i as u8; 1500]));
    }
    assert!(c.cache_size() <= 10_000);
    assert!(body(&mut c, "0").is_some());
    assert!(body(&mut c, "1").is_none());
    assert!(body(&mut c, "8").is_some());
    let on_disk: u64 = entry_files(dir.path())
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, c.cache_size());
    // Lowering the limit evicts at once.
    c.set_maximum_cache_size(2_000);
    assert!(c.cache_size() <= 2_000);
    assert_eq!(c.expire(), c.cache_size());
    // Too big for the cache: refused, and the temporary file is gone.
    assert!(!store(&mut c, "big", &[0; 5000]));
    assert!(body(&mut c, "big").is_none());
    assert_eq!(prepared_files(dir.path()), 0);
}

#[test]
fn save_to_disk_false_is_refused() {
    let dir = TempDir::new("nosave");
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    let mut m = meta(&[]);
    m.set_save_to_disk(false);
    assert!(c.prepare(&m).is_none());
    assert!(c.prepare(&NetworkCacheMetaData::new()).is_none());
}

#[test]
fn update_replace_remove_clear() {
    let dir = TempDir::new("update");
    let mut c = NetworkDiskCache::new(dir.path()).unwrap();
    assert!(store(&mut c, "r", b"first body"));
    let size1 = c.cache_size();
    let mut m = c.meta_data(&url("r")).unwrap();
    m.set_raw_headers(headers(&[("etag", "\"new\""), ("x-extra", "1")]));
    c.update_meta_data(&m);
    assert_eq!(c.meta_data(&url("r")).unwrap(), m);
    assert_eq!(body(&mut c, "r").unwrap(), b"first body");
    assert!(c.cache_size() > size1);
    // Replacing an entry keeps one file and the right size.
    assert!(store(&mut c, "r", b"second"));
    assert_eq!(body(&mut c, "r").unwrap(), b"second");
    assert_eq!(entry_files(dir.path()).len(), 1);
    assert_eq!(
        fs::metadata(&entry_files(dir.path())[0]).unwrap().len(),
        c.cache_size()
    );
    assert!(c.remove(&url("r")));
    assert!(!c.remove(&url("r")));
    assert_eq!(c.cache_size(), 0);
    assert!(store(&mut c, "x", b"1"));
    assert!(store(&mut c, "y", b"2"));
    c.clear();
    assert_eq!(c.cache_size(), 0);
    assert!(entry_files(dir.path()).is_empty());
    assert!(body(&mut c, "x").is_none());
}
