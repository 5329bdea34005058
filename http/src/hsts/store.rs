//! [`HstsStore`]: HSTS policies kept in a directory across program runs (what Qt's
//! `enableStrictTransportSecurityStore(true, storeDir)` does).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cache::MAX_POLICIES;
use super::policy::HstsPolicy;
use crate::cookies::persist::{read_bounded, write_atomically};

const HEADER: &str = "# slotnet hsts store 1";

/// A store file larger than this was not written by [`HstsStore`]: refuse it.
const MAX_FILE_LEN: u64 = 4 * 1024 * 1024;

/// A directory holding HSTS policies in one file, [`HstsStore::FILE_NAME`], one policy per
/// line: `host<TAB>expiry (Unix seconds)<TAB>include_subdomains (0 or 1)`.
///
/// Writes are atomic (temporary file, then rename); reading skips expired policies and
/// malformed lines. The store does no caching of its own: the network access manager
/// reads it into its [`HstsCache`](super::HstsCache) when the store is enabled and writes
/// the cache's [`policies`](super::HstsCache::policies) back after each change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HstsStore {
    dir: PathBuf,
}

impl HstsStore {
    /// The name of the file inside the store's directory.
    pub const FILE_NAME: &'static str = "hstsstore";

    /// A store in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        HstsStore { dir: dir.into() }
    }

    /// The store's directory.
    pub fn directory(&self) -> &Path {
        &self.dir
    }

    /// The full path of the store's file.
    pub fn file_path(&self) -> PathBuf {
        self.dir.join(Self::FILE_NAME)
    }

    /// Reads the policies still valid at `now`. A store never written yields no policy.
    pub fn read_policies(&self, now: SystemTime) -> io::Result<Vec<HstsPolicy>> {
        let text = match read_bounded(&self.file_path(), MAX_FILE_LEN) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(parse_line)
            .filter(|p| !p.is_expired_at(now))
            .take(MAX_POLICIES)
            .collect())
    }

    /// Replaces the stored policies with `policies` (expired ones are left out), atomically.
    pub fn write_policies(&self, policies: &[HstsPolicy]) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let now = SystemTime::now();
        let mut text = String::from(HEADER);
        text.push('\n');
        for policy in policies.iter().filter(|p| !p.is_expired_at(now)) {
            // Normalized hosts never hold these; a hand-made one that does is not stored.
            if policy.host().is_empty() || policy.host().contains(['\t', '\n', '\r']) {
                continue;
            }
            let expiry = policy
                .expiry()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                policy.host(),
                expiry,
                u8::from(policy.include_subdomains())
            ));
        }
        write_atomically(&self.file_path(), text.as_bytes())
    }
}

fn parse_line(line: &str) -> Option<HstsPolicy> {
    let mut fields = line.split('\t');
    let host = fields.next().filter(|h| !h.is_empty())?;
    let expiry: u64 = fields.next()?.parse().ok()?;
    let include_subdomains = match fields.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    if fields.next().is_some() {
        return None;
    }
    let expiry = UNIX_EPOCH.checked_add(Duration::from_secs(expiry))?;
    Some(HstsPolicy::new(expiry, include_subdomains, host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsts::HstsCache;

    /// A unique scratch directory, removed on drop.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static NEXT: AtomicU32 = AtomicU32::new(0);
            ScratchDir(std::env::temp_dir().join(format!(
                "slotnet-hsts-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )))
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn roundtrip_into_a_fresh_cache() {
        let scratch = ScratchDir::new();
        let store = HstsStore::new(scratch.0.join("nested/dir"));
        let now = SystemTime::now();
        assert_eq!(store.read_policies(now).unwrap(), [], "never written");

        let mut cache = HstsCache::new();
        assert!(cache.update_from_header("example.com", "max-age=3600; includeSubDomains", now));
        assert!(cache.update_from_header("plain.org", "max-age=7200", now));
        store.write_policies(&cache.policies()).unwrap();

        let mut fresh = HstsCache::new();
        fresh.add_policies(store.read_policies(SystemTime::now()).unwrap());
        assert!(fresh.is_known_host("www.example.com"));
        assert!(fresh.is_known_host("plain.org"));
        assert!(!fresh.is_known_host("www.plain.org"));
        let read = fresh.policies();
        assert_eq!(read.len(), 2);
        // Expiry survives with one-second resolution.
        let original = cache.policies();
        for (a, b) in original.iter().zip(&read) {
            assert_eq!(a.host(), b.host());
            assert_eq!(a.include_subdomains(), b.include_subdomains());
            let diff = a
                .expiry()
                .duration_since(b.expiry())
                .unwrap_or_else(|e| e.duration());
            assert!(diff < Duration::from_secs(1), "{diff:?}");
        }

        // Later the one-hour policy has expired and is not read back.
        let later = now + Duration::from_secs(5000);
        let hosts: Vec<_> = store
            .read_policies(later)
            .unwrap()
            .iter()
            .map(|p| p.host().to_owned())
            .collect();
        assert_eq!(hosts, ["plain.org"]);

        // Rewriting replaces the file's contents; no temporary file is left behind.
        store.write_policies(&[]).unwrap();
        assert_eq!(store.read_policies(now).unwrap(), []);
        let names: Vec<_> = fs::read_dir(store.directory())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [HstsStore::FILE_NAME]);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let scratch = ScratchDir::new();
        let store = HstsStore::new(&scratch.0);
        fs::create_dir_all(&scratch.0).unwrap();
        let far = 4_102_444_800u64; // 2100-01-01
        fs::write(
            store.file_path(),
            format!(
                "# header\n\
                 good.example\t{far}\t1\n\
                 bad-flag.example\t{far}\tyes\n\
                 bad-expiry.example\tsoon\t0\n\
                 extra.example\t{far}\t0\tmore\n\
                 \t{far}\t0\n\
                 short.example\n\
                 old.example\t1000\t0\n"
            ),
        )
        .unwrap();
        let policies = store.read_policies(SystemTime::now()).unwrap();
        assert_eq!(policies.len(), 1);
        assert_eq!(policies[0].host(), "good.example");
        assert!(policies[0].include_subdomains());
    }
}
