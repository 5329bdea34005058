//! The HTTP cache: the [`AbstractNetworkCache`] interface (Qt's `QAbstractNetworkCache`),
//! [`NetworkDiskCache`] (Qt's `QNetworkDiskCache`), an in-memory [`MemoryCache`], the
//! [`NetworkCacheMetaData`] they store, and the pure freshness rules in [`freshness`].
//!
//! Writing an entry follows Qt's protocol: [`prepare`](AbstractNetworkCache::prepare) returns
//! a [`CacheWriter`] for the body, [`insert`](AbstractNetworkCache::insert) commits it; a
//! writer dropped without `insert` (the download failed) leaves no entry behind.
//!
//! ```
//! use std::io::{Read, Write};
//! use slotnet_http::cache::{AbstractNetworkCache, MemoryCache, NetworkCacheMetaData};
//!
//! let url = url::Url::parse("http://example.com/a").unwrap();
//! let mut meta = NetworkCacheMetaData::new();
//! meta.set_url(url.clone());
//! let mut cache = MemoryCache::new();
//! let mut writer = cache.prepare(&meta).unwrap();
//! writer.write_all(b"body").unwrap();
//! assert!(cache.insert(writer));
//! let mut body = String::new();
//! cache.data(&url).unwrap().read_to_string(&mut body).unwrap();
//! assert_eq!(body, "body");
//! ```

mod cache_control;
mod codec;
mod disk;
pub mod freshness;
mod lru;
mod memory;
mod meta;

#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::io::{self, Read, Write};

use url::Url;

pub use cache_control::CacheControl;
pub use disk::NetworkDiskCache;
pub use freshness::{decide, CacheDecision, CacheLoadControl, Freshness};
pub use memory::MemoryCache;
pub use meta::NetworkCacheMetaData;

/// Qt's default maximum cache size: 50 MiB.
pub const DEFAULT_MAXIMUM_CACHE_SIZE: u64 = 50 * 1024 * 1024;

/// The destination of a body being written into a cache. Each cache implements it for its
/// own writer type and recovers that type in `insert` through [`into_any`](Self::into_any).
pub trait CacheSink: Write + Send {
    /// The sink as `Any`, so the cache that made it can downcast it.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A body being written into a cache (what Qt's `prepare()` returns as a `QIODevice`).
///
/// Write the body, then hand it to [`AbstractNetworkCache::insert`]. Dropping it instead
/// abandons the entry. Write errors inside a cache never fail the download: a sink that
/// cannot store an entry accepts and drops the bytes, and `insert` then returns false.
pub struct CacheWriter {
    meta: NetworkCacheMetaData,
    sink: Box<dyn CacheSink>,
}

impl fmt::Debug for CacheWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheWriter")
            .field("url", &self.meta.url())
            .finish()
    }
}

impl CacheWriter {
    /// A writer for `meta` writing into `sink` (for cache implementations).
    pub fn new(meta: NetworkCacheMetaData, sink: Box<dyn CacheSink>) -> Self {
        CacheWriter { meta, sink }
    }

    /// The metadata the entry will be stored with.
    pub fn meta_data(&self) -> &NetworkCacheMetaData {
        &self.meta
    }

    /// Splits the writer (for cache implementations, in `insert`).
    pub fn into_parts(self) -> (NetworkCacheMetaData, Box<dyn CacheSink>) {
        (self.meta, self.sink)
    }
}

impl Write for CacheWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// The interface of a network cache (Qt's `QAbstractNetworkCache`).
///
/// URLs are compared without their fragment. Methods take `&mut self` because even lookups
/// update the least-recently-used order.
pub trait AbstractNetworkCache {
    /// The metadata stored for `url`, if any.
    fn meta_data(&mut self, url: &Url) -> Option<NetworkCacheMetaData>;

    /// Replaces the metadata of an existing entry (e.g. after a 304), keeping its body.
    /// Does nothing if there is no entry for the metadata's URL.
    fn update_meta_data(&mut self, meta: &NetworkCacheMetaData);

    /// A reader over the body stored for `url`. A damaged entry is removed and never served.
    fn data(&mut self, url: &Url) -> Option<Box<dyn Read + Send>>;

    /// Removes the entry for `url`; true if there was one.
    fn remove(&mut self, url: &Url) -> bool;

    /// The bytes the cache currently uses.
    fn cache_size(&self) -> u64;

    /// Starts an entry; `None` if this cache will not store it (invalid metadata, or
    /// `save_to_disk` false for a disk cache).
    fn prepare(&mut self, meta: &NetworkCacheMetaData) -> Option<CacheWriter>;

    /// Commits an entry started with [`prepare`](Self::prepare), replacing any entry for the
    /// same URL, and evicts old entries if the cache grew over its limit. False if the entry
    /// was not stored (too big for the cache, write error, writer from another cache).
    fn insert(&mut self, writer: CacheWriter) -> bool;

    /// Removes every entry.
    fn clear(&mut self);
}

/// The key an URL is stored under: the URL without its fragment.
pub(crate) fn cache_key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.into()
}
