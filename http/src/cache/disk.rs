//! A cache in a directory (Qt's `QNetworkDiskCache`).
//!
//! Each entry is one file, `data/<2 hex>/<16 hex>.cache`, named by a 64-bit FNV-1a hash of the
//! URL (the URL is stored inside and compared, so a hash collision is a miss, never a wrong
//! answer). Layout:
//!
//! ```text
//! "SNHCACH1" | meta_len u32 | metadata | body | meta_crc u32 | body_crc u32 | body_len u64 | "SNHC-END"
//! ```
//!
//! An entry is written to `prepared/` and renamed into place only once complete, so a crash
//! mid-write leaves at most a stray temporary file (deleted on the next open), never a partial
//! entry under its final name. There is no fsync: after a power loss a renamed file may still
//! come back truncated or zero-filled, which the lengths and CRC-32s catch; such an entry is
//! deleted, not served.

use std::any::Any;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crc32fast::Hasher as Crc;
use url::Url;

use super::lru::LruIndex;
use super::{
    cache_key, codec, AbstractNetworkCache, CacheSink, CacheWriter, NetworkCacheMetaData,
    DEFAULT_MAXIMUM_CACHE_SIZE,
};

const MAGIC: &[u8; 8] = b"SNHCACH1";
const END_MAGIC: &[u8; 8] = b"SNHC-END";
const PREFIX_LEN: u64 = 12;
const TRAILER_LEN: u64 = 24;
/// Largest metadata section accepted when reading (a garbled length must not allocate).
const MAX_META_LEN: u32 = 4 * 1024 * 1024;
const DATA_DIR: &str = "data";
const PREPARED_DIR: &str = "prepared";
const EXTENSION: &str = "cache";

/// 64-bit FNV-1a: stable across Rust versions and runs (std's hasher is neither).
fn file_stem(key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// An entry file whose framing (magic numbers and lengths) is consistent.
struct EntryFile {
    file: File,
    meta_len: u32,
    body_len: u64,
    meta_crc: u32,
    body_crc: u32,
    file_len: u64,
}

impl EntryFile {
    /// Opens `path`; `Ok(None)` if it is not a complete entry (torn, truncated, foreign).
    fn open(path: &Path) -> io::Result<Option<EntryFile>> {
        let mut file = File::open(path)?;
        let file_len = file.metadata()?.len();
        if file_len < PREFIX_LEN + TRAILER_LEN {
            return Ok(None);
        }
        let mut prefix = [0u8; PREFIX_LEN as usize];
        file.read_exact(&mut prefix)?;
        file.seek(SeekFrom::End(-(TRAILER_LEN as i64)))?;
        let mut trailer = [0u8; TRAILER_LEN as usize];
        file.read_exact(&mut trailer)?;
        let word =
            |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let meta_len = word(&prefix, 8);
        let mut body_len = [0u8; 8];
        body_len.copy_from_slice(&trailer[8..16]);
        let body_len = u64::from_le_bytes(body_len);
        let consistent = &prefix[..8] == MAGIC
            && &trailer[16..] == END_MAGIC
            && meta_len <= MAX_META_LEN
            && (PREFIX_LEN + u64::from(meta_len))
                .checked_add(body_len)
                .and_then(|n| n.checked_add(TRAILER_LEN))
                == Some(file_len);
        if !consistent {
            return Ok(None);
        }
        Ok(Some(EntryFile {
            file,
            meta_len,
            body_len,
            meta_crc: word(&trailer, 0),
            body_crc: word(&trailer, 4),
            file_len,
        }))
    }

    /// The metadata, if its CRC matches and it decodes.
    fn read_meta(&mut self) -> io::Result<Option<NetworkCacheMetaData>> {
        self.file.seek(SeekFrom::Start(PREFIX_LEN))?;
        let mut meta = vec![0u8; self.meta_len as usize];
        self.file.read_exact(&mut meta)?;
        let mut crc = Crc::new();
        crc.update(&meta);
        if crc.finalize() != self.meta_crc {
            return Ok(None);
        }
        Ok(codec::decode(&meta))
    }

    fn body_start(&self) -> u64 {
        PREFIX_LEN + u64::from(self.meta_len)
    }

    /// Streams the body through `sink` (may be `io::sink()`); true if its CRC matches.
    fn copy_body(&mut self, sink: &mut dyn Write) -> io::Result<bool> {
        self.file.seek(SeekFrom::Start(self.body_start()))?;
        let mut reader = BufReader::new((&mut self.file).take(self.body_len));
        let mut crc = Crc::new();
        let mut read_len = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            read_len += n as u64;
            crc.update(&buf[..n]);
            sink.write_all(&buf[..n])?;
        }
        Ok(crc.finalize() == self.body_crc && read_len == self.body_len)
    }
}

/// Writes the framing prefix and metadata of a new entry file.
fn write_prefix(w: &mut impl Write, meta: &[u8]) -> io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&(meta.len() as u32).to_le_bytes())?;
    w.write_all(meta)
}

fn write_trailer(
    w: &mut impl Write,
    meta_crc: u32,
    body_crc: u32,
    body_len: u64,
) -> io::Result<()> {
    w.write_all(&meta_crc.to_le_bytes())?;
    w.write_all(&body_crc.to_le_bytes())?;
    w.write_all(&body_len.to_le_bytes())?;
    w.write_all(END_MAGIC)
}

/// A body being written to a temporary file in `prepared/`.
struct DiskSink {
    file: Option<BufWriter<File>>,
    temp: PathBuf,
    stem: String,
    meta_crc: u32,
    body_crc: Crc,
    body_len: u64,
    limit: u64,
    committed: bool,
}

impl DiskSink {
    /// Gives up on the entry: later writes are accepted and dropped, `insert` refuses it.
    fn abandon(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.temp);
    }

    /// Writes the trailer and moves the file into place; returns the entry's size.
    fn commit(&mut self, dest: &Path) -> io::Result<u64> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("cache entry abandoned"))?;
        write_trailer(
            &mut file,
            self.meta_crc,
            self.body_crc.clone().finalize(),
            self.body_len,
        )?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let size = file.metadata()?.len();
        drop(file);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(&self.temp, dest)?;
        self.committed = true;
        Ok(size)
    }
}

impl Write for DiskSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(file) = &mut self.file {
            if self.body_len + data.len() as u64 > self.limit {
                self.abandon();
            } else if file.write_all(data).is_ok() {
                self.body_crc.update(data);
                self.body_len += data.len() as u64;
            } else {
                self.abandon();
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for DiskSink {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl CacheSink for DiskSink {
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A cache of files in a directory, limited in size, evicting the least recently used
/// entries (Qt's `QNetworkDiskCache`, which evicts by age; recency keeps hot entries).
///
/// One process should own a cache directory at a time. The file operations are blocking, as
/// Qt's are; entries are bounded by the maximum cache size.
#[derive(Debug)]
pub struct NetworkDiskCache {
    dir: PathBuf,
    max_size: u64,
    lru: LruIndex<String>,
    temp_counter: u64,
}

impl NetworkDiskCache {
    /// A cache in `dir` (created if needed) with Qt's default limit of 50 MiB. Existing
    /// entries are indexed (oldest modification first); torn entries and temporary files left
    /// by a crash are deleted.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let mut cache = NetworkDiskCache {
            dir: dir.into(),
            max_size: DEFAULT_MAXIMUM_CACHE_SIZE,
            lru: LruIndex::new(),
            temp_counter: 0,
        };
        cache.scan()?;
        Ok(cache)
    }

    /// The cache directory.
    pub fn cache_directory(&self) -> &Path {
        &self.dir
    }

    /// Moves the cache to another directory (its entries are indexed as in [`new`](Self::new)).
    pub fn set_cache_directory(&mut self, dir: impl Into<PathBuf>) -> io::Result<()> {
        self.dir = dir.into();
        self.scan()
    }

    /// The size limit in bytes.
    pub fn maximum_cache_size(&self) -> u64 {
        self.max_size
    }

    /// Sets the size limit, evicting entries if the cache is now over it.
    pub fn set_maximum_cache_size(&mut self, size: u64) {
        self.max_size = size;
        self.expire();
    }

    /// The metadata of an entry file (Qt's `fileMetaData`); `None` if it is not a valid entry.
    pub fn file_meta_data(&self, path: &Path) -> Option<NetworkCacheMetaData> {
        EntryFile::open(path).ok()??.read_meta().ok()?
    }

    /// If the cache is over its limit, deletes least recently used entries until it is under
    /// 90% of it (as Qt does); returns the cache size afterwards.
    pub fn expire(&mut self) -> u64 {
        self.evict(None)
    }

    fn evict(&mut self, keep: Option<&str>) -> u64 {
        if self.lru.total() > self.max_size {
            let target = self.max_size / 10 * 9;
            while self.lru.total() > target {
                let Some(stem) = self.lru.oldest() else { break };
                if Some(stem.as_str()) == keep {
                    break;
                }
                let _ = fs::remove_file(self.entry_path(&stem));
                self.lru.remove(&stem);
            }
        }
        self.lru.total()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join(DATA_DIR)
    }

    fn prepared_dir(&self) -> PathBuf {
        self.dir.join(PREPARED_DIR)
    }

    fn entry_path(&self, stem: &str) -> PathBuf {
        self.data_dir()
            .join(&stem[..2])
            .join(format!("{stem}.{EXTENSION}"))
    }

    /// Rebuilds the index from the directory.
    fn scan(&mut self) -> io::Result<()> {
        self.lru.clear();
        fs::create_dir_all(self.data_dir())?;
        if let Ok(stale) = fs::read_dir(self.prepared_dir()) {
            for entry in stale.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        for sub in fs::read_dir(self.data_dir())?.flatten() {
            let Ok(files) = fs::read_dir(sub.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let stem = match path.file_stem().and_then(|s| s.to_str()) {
                    Some(s) if path.extension().is_some_and(|e| e == EXTENSION) => s.to_string(),
                    _ => continue,
                };
                match EntryFile::open(&path) {
                    Ok(Some(entry)) if stem.len() == 16 => {
                        let mtime = file
                            .metadata()
                            .and_then(|m| m.modified())
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        found.push((mtime, stem, entry.file_len));
                    }
                    _ => {
                        let _ = fs::remove_file(&path);
                    }
                }
            }
        }
        found.sort();
        for (_, stem, size) in found {
            self.lru.insert(stem, size);
        }
        Ok(())
    }

    /// Opens the entry for `url` and checks its framing and metadata (URL included).
    /// A damaged entry is deleted.
    fn open_checked(&mut self, url: &Url) -> Option<(EntryFile, NetworkCacheMetaData, String)> {
        let key = cache_key(url);
        let stem = file_stem(&key);
        let path = self.entry_path(&stem);
        let opened = EntryFile::open(&path);
        let mut entry = match opened {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.drop_entry(&stem);
                return None;
            }
            Err(_) => {
                // Missing (or unreadable): forget it.
                self.lru.remove(&stem);
                return None;
            }
        };
        let meta = match entry.read_meta() {
            Ok(Some(m)) => m,
            _ => {
                self.drop_entry(&stem);
                return None;
            }
        };
        if meta.url().map(cache_key).as_deref() != Some(key.as_str()) {
            return None; // a different URL with the same hash
        }
        if !self.lru.touch(&stem) {
            self.lru.insert(stem.clone(), entry.file_len);
        }
        // Record the use on disk too, so the order survives a restart.
        let _ = entry.file.set_modified(SystemTime::now());
        Some((entry, meta, stem))
    }

    fn drop_entry(&mut self, stem: &str) {
        let _ = fs::remove_file(self.entry_path(stem));
        self.lru.remove(&stem.to_string());
    }

    fn create_temp(&mut self) -> io::Result<(File, PathBuf)> {
        fs::create_dir_all(self.prepared_dir())?;
        loop {
            self.temp_counter += 1;
            let path = self.prepared_dir().join(format!(
                "{}-{}.tmp",
                std::process::id(),
                self.temp_counter
            ));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => return Ok((f, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Rewrites an entry with new metadata and the same (verified) body.
    fn rewrite(&mut self, meta: &NetworkCacheMetaData) -> io::Result<bool> {
        let Some(url) = meta.url() else {
            return Ok(false);
        };
        let Some((mut entry, _, stem)) = self.open_checked(url) else {
            return Ok(false);
        };
        let encoded = codec::encode(meta);
        let mut crc = Crc::new();
        crc.update(&encoded);
        let (file, temp) = self.create_temp()?;
        let mut w = BufWriter::new(file);
        let result = (|| {
            write_prefix(&mut w, &encoded)?;
            if !entry.copy_body(&mut w)? {
                return Ok(false);
            }
            write_trailer(&mut w, crc.finalize(), entry.body_crc, entry.body_len)?;
            w.flush()?;
            fs::rename(&temp, self.entry_path(&stem))?;
            Ok(true)
        })();
        match result {
            Ok(true) => {
                let size = PREFIX_LEN + encoded.len() as u64 + entry.body_len + TRAILER_LEN;
                self.lru.insert(stem.clone(), size);
                self.evict(Some(&stem));
                Ok(true)
            }
            other => {
                let _ = fs::remove_file(&temp);
                if matches!(other, Ok(false)) {
                    self.drop_entry(&stem); // the stored body was damaged
                }
                other
            }
        }
    }
}

impl AbstractNetworkCache for NetworkDiskCache {
    fn meta_data(&mut self, url: &Url) -> Option<NetworkCacheMetaData> {
        self.open_checked(url).map(|(_, meta, _)| meta)
    }

    fn update_meta_data(&mut self, meta: &NetworkCacheMetaData) {
        let _ = self.rewrite(meta);
    }

    fn data(&mut self, url: &Url) -> Option<Box<dyn Read + Send>> {
        let (mut entry, _, stem) = self.open_checked(url)?;
        // Verify the whole body before handing out a single byte of it.
        if !entry.copy_body(&mut io::sink()).ok()? {
            self.drop_entry(&stem);
            return None;
        }
        entry.file.seek(SeekFrom::Start(entry.body_start())).ok()?;
        Some(Box::new(BufReader::new(entry.file).take(entry.body_len)))
    }

    fn remove(&mut self, url: &Url) -> bool {
        let stem = file_stem(&cache_key(url));
        let removed = fs::remove_file(self.entry_path(&stem)).is_ok();
        self.lru.remove(&stem);
        removed
    }

    fn cache_size(&self) -> u64 {
        self.lru.total()
    }

    fn prepare(&mut self, meta: &NetworkCacheMetaData) -> Option<CacheWriter> {
        let url = meta.url()?;
        if !meta.save_to_disk() {
            return None;
        }
        let stem = file_stem(&cache_key(url));
        let encoded = codec::encode(meta);
        let mut crc = Crc::new();
        crc.update(&encoded);
        let (file, temp) = self.create_temp().ok()?;
        let mut file = BufWriter::new(file);
        if write_prefix(&mut file, &encoded).is_err() {
            let _ = fs::remove_file(&temp);
            return None;
        }
        let sink = DiskSink {
            file: Some(file),
            temp,
            stem,
            meta_crc: crc.finalize(),
            body_crc: Crc::new(),
            body_len: 0,
            limit: self.max_size,
            committed: false,
        };
        Some(CacheWriter::new(meta.clone(), Box::new(sink)))
    }

    fn insert(&mut self, writer: CacheWriter) -> bool {
        let (_, sink) = writer.into_parts();
        let Ok(mut sink) = sink.into_any().downcast::<DiskSink>() else {
            return false;
        };
        let dest = self.entry_path(&sink.stem);
        match sink.commit(&dest) {
            Ok(size) if size <= self.max_size => {
                self.lru.insert(sink.stem.clone(), size);
                self.evict(Some(&sink.stem));
                true
            }
            Ok(_) => {
                self.drop_entry(&sink.stem);
                false
            }
            Err(_) => false,
        }
    }

    fn clear(&mut self) {
        let _ = fs::remove_dir_all(self.data_dir());
        let _ = fs::remove_dir_all(self.prepared_dir());
        let _ = fs::create_dir_all(self.data_dir());
        self.lru.clear();
    }
}
