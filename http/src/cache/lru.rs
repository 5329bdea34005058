//! Size accounting and least-recently-used order for the caches.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Entries with a size and a use order: `touch` marks one as just used, `oldest` names the
/// least recently used. Every operation is O(log n).
#[derive(Debug)]
pub(super) struct LruIndex<K> {
    entries: HashMap<K, (u64, u64)>,
    order: BTreeMap<u64, K>,
    next_tick: u64,
    total: u64,
}

impl<K: Clone + Eq + Hash> LruIndex<K> {
    pub(super) fn new() -> Self {
        LruIndex {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            total: 0,
        }
    }

    /// Adds or replaces an entry, as the most recently used.
    pub(super) fn insert(&mut self, key: K, size: u64) {
        self.remove(&key);
        let tick = self.tick();
        self.order.insert(tick, key.clone());
        self.entries.insert(key, (size, tick));
        self.total += size;
    }

    /// Marks an entry as just used; false if it is unknown.
    pub(super) fn touch(&mut self, key: &K) -> bool {
        let tick = self.tick();
        match self.entries.get_mut(key) {
            Some((_, old)) => {
                let k = self.order.remove(old);
                *old = tick;
                if let Some(k) = k {
                    self.order.insert(tick, k);
                }
                true
            }
            None => false,
        }
    }

    /// Removes an entry; returns its size.
    pub(super) fn remove(&mut self, key: &K) -> Option<u64> {
        let (size, tick) = self.entries.remove(key)?;
        self.order.remove(&tick);
        self.total -= size;
        Some(size)
    }

    /// The least recently used entry.
    pub(super) fn oldest(&self) -> Option<K> {
        self.order.values().next().cloned()
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.total = 0;
    }

    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use super::LruIndex;

    #[test]
    fn order_and_sizes() {
        let mut lru = LruIndex::new();
        lru.insert("a", 10);
        lru.insert("b", 20);
        lru.insert("c", 30);
        assert_eq!(lru.total(), 60);
        assert_eq!(lru.oldest(), Some("a"));
        assert!(lru.touch(&"a"));
        assert_eq!(lru.oldest(), Some("b"));
        lru.insert("b", 5); // replacing counts as a use and fixes the size
        assert_eq!(lru.total(), 45);
        assert_eq!(lru.oldest(), Some("c"));
        assert_eq!(lru.remove(&"c"), Some(30));
        assert_eq!(lru.oldest(), Some("a"));
        assert!(!lru.touch(&"zzz"));
        lru.clear();
        assert_eq!((lru.total(), lru.oldest()), (0, None));
    }
}
