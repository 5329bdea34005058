//! An in-memory cache: for tests, and for applications that want caching without files.

use std::any::Any;
use std::collections::HashMap;
use std::io::{self, Cursor, Read, Write};

use bytes::Bytes;
use url::Url;

use super::lru::LruIndex;
use super::{
    cache_key, AbstractNetworkCache, CacheSink, CacheWriter, NetworkCacheMetaData,
    DEFAULT_MAXIMUM_CACHE_SIZE,
};

/// A cache in memory with a size limit and least-recently-used eviction. It stores entries
/// whatever their `save_to_disk` flag says.
#[derive(Debug)]
pub struct MemoryCache {
    entries: HashMap<String, (NetworkCacheMetaData, Bytes)>,
    lru: LruIndex<String>,
    max_size: u64,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Collects a body in memory, giving up (and dropping what it has) past the cache's limit.
struct MemorySink {
    buf: Vec<u8>,
    limit: u64,
    too_big: bool,
}

impl Write for MemorySink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.too_big {
            if (self.buf.len() + data.len()) as u64 > self.limit {
                self.too_big = true;
                self.buf = Vec::new();
            } else {
                self.buf.extend_from_slice(data);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl CacheSink for MemorySink {
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// What an entry counts for: its body plus its header bytes.
fn entry_size(meta: &NetworkCacheMetaData, body: &[u8]) -> u64 {
    let headers: usize = meta
        .raw_headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    (body.len() + headers) as u64
}

impl MemoryCache {
    /// An empty cache limited to [`DEFAULT_MAXIMUM_CACHE_SIZE`].
    pub fn new() -> Self {
        MemoryCache {
            entries: HashMap::new(),
            lru: LruIndex::new(),
            max_size: DEFAULT_MAXIMUM_CACHE_SIZE,
        }
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

    /// Evicts least recently used entries until the cache is within 90% of its limit (when
    /// it is over the limit, as Qt's disk cache does); returns the size afterwards.
    pub fn expire(&mut self) -> u64 {
        self.evict(None)
    }

    /// [`expire`](Self::expire), never evicting `keep` (the entry just stored).
    fn evict(&mut self, keep: Option<&str>) -> u64 {
        if self.lru.total() > self.max_size {
            let target = self.max_size / 10 * 9;
            while self.lru.total() > target {
                let Some(key) = self.lru.oldest() else { break };
                if Some(key.as_str()) == keep {
                    break;
                }
                self.lru.remove(&key);
                self.entries.remove(&key);
            }
        }
        self.lru.total()
    }
}

impl AbstractNetworkCache for MemoryCache {
    fn meta_data(&mut self, url: &Url) -> Option<NetworkCacheMetaData> {
        let key = cache_key(url);
        self.lru.touch(&key);
        self.entries.get(&key).map(|(m, _)| m.clone())
    }

    fn update_meta_data(&mut self, meta: &NetworkCacheMetaData) {
        let Some(url) = meta.url() else { return };
        let key = cache_key(url);
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.0 = meta.clone();
            let size = entry_size(&entry.0, &entry.1);
            self.lru.insert(key.clone(), size);
            self.evict(Some(&key));
        }
    }

    fn data(&mut self, url: &Url) -> Option<Box<dyn Read + Send>> {
        let key = cache_key(url);
        self.lru.touch(&key);
        let body = self.entries.get(&key)?.1.clone();
        Some(Box::new(Cursor::new(body)))
    }

    fn remove(&mut self, url: &Url) -> bool {
        let key = cache_key(url);
        self.lru.remove(&key);
        self.entries.remove(&key).is_some()
    }

    fn cache_size(&self) -> u64 {
        self.lru.total()
    }

    fn prepare(&mut self, meta: &NetworkCacheMetaData) -> Option<CacheWriter> {
        meta.url()?;
        let sink = MemorySink {
            buf: Vec::new(),
            limit: self.max_size,
            too_big: false,
        };
        Some(CacheWriter::new(meta.clone(), Box::new(sink)))
    }

    fn insert(&mut self, writer: CacheWriter) -> bool {
        let (meta, sink) = writer.into_parts();
        let Ok(sink) = sink.into_any().downcast::<MemorySink>() else {
            return false;
        };
        let Some(url) = meta.url() else { return false };
        let size = entry_size(&meta, &sink.buf);
        if sink.too_big || size > self.max_size {
            return false;
        }
        let key = cache_key(url);
        self.lru.insert(key.clone(), size);
        self.entries
            .insert(key.clone(), (meta, Bytes::from(sink.buf)));
        self.evict(Some(&key));
        true
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.lru.clear();
    }
}
