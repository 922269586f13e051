//! The keyspace's table: keys to entries, on the segmented table of `segtable.rs`.
//!
//! Each key is one `Entry` (key, value, expiry, access time) in its own 64-byte allocation; the
//! table's buckets hold the 8-byte pointers. Entries with an expiry are counted per segment, so
//! the active expire cycle visits only segments that have some.

use super::segtable::{Item, SegTable};
use super::smallstr::SmallStr;
use super::value::Value;

pub use super::segtable::{key_hash, SEGMENT_ENTRIES_MAX};

/// One key and its value. `expire_at_ms` is a Unix time in milliseconds, 0 when the key is
/// persistent. `access_s` is the server clock (seconds) of the last access, for OBJECT IDLETIME.
///
/// 64 bytes, one allocation per key: the table holds 8-byte pointers to entries (so a split moves
/// pointers, and a half-empty bucket costs 8 bytes, not 64), and a short key and short value sit
/// inline in the entry, so a GET touches the control bytes, the bucket and this one cache line.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: SmallStr,
    pub value: Value,
    pub expire_at_ms: u64,
    pub access_s: u32,
}

impl Item for Box<Entry> {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.key
    }

    #[inline]
    fn counted(&self) -> bool {
        self.expire_at_ms != 0
    }
}

#[derive(Default)]
pub struct Table {
    t: SegTable<Box<Entry>>,
}

impl Table {
    pub fn new() -> Table {
        Table { t: SegTable::new() }
    }

    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Keys that carry an expiry.
    pub fn volatile_len(&self) -> usize {
        self.t.counted_len()
    }

    /// Number of segments (for tests and INFO).
    pub fn segments(&self) -> usize {
        self.t.segments()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.t.get(key).map(|b| &**b)
    }

    /// Mutable access to an entry's value and access time (expiry changes go through
    /// `set_expire`, which keeps the counts right).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.t.get_mut(key).map(|b| &mut **b)
    }

    /// One probe: the entry if present and not expired at `now_ms`; otherwise `Err(expired)`.
    /// An expired entry is deleted when `delete_expired` (masters) and kept (replicas) otherwise.
    pub fn get_live_mut(
        &mut self,
        key: &[u8],
        now_ms: u64,
        delete_expired: bool,
    ) -> Result<&mut Entry, bool> {
        self.t
            .get_live_mut(
                key,
                |e| e.expire_at_ms != 0 && e.expire_at_ms <= now_ms,
                delete_expired,
            )
            .map(|b| &mut **b)
    }

    /// Inserts or replaces (reusing the old entry's allocation); returns the previous entry.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let mut old = None;
        self.t.upsert(
            entry,
            |e| &e.key,
            Box::new,
            |b, e| old = Some(std::mem::replace(&mut **b, e)),
        );
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.t.remove(key).map(|b| *b)
    }

    /// Sets or clears the expiry of an existing key, keeping the volatile counts right.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64) -> bool {
        self.t.update(key, |e| e.expire_at_ms = expire_at_ms)
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.t.clear();
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.t.iter().map(|b| &**b)
    }

    /// One SCAN step: calls `f` on every entry of the segment the cursor points at and returns
    /// the next cursor (0 when the scan is complete).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry)) -> u64 {
        self.t.scan(cursor, |b| f(b))
    }

    /// The first segment at or after `from` that holds keys with an expiry.
    pub fn volatile_segment_at(&self, from: usize) -> Option<usize> {
        self.t.counted_segment_at(from)
    }

    /// Keys of segment `seg` whose expiry is at or before `now_ms` (at most `limit`).
    pub fn expired_in_segment(&self, seg: usize, now_ms: u64, limit: usize) -> Vec<SmallStr> {
        self.t
            .segment_items(seg)
            .filter(|e| e.expire_at_ms != 0 && e.expire_at_ms <= now_ms)
            .take(limit)
            .map(|e| e.key.clone())
            .collect()
    }

    /// A uniformly chosen segment, then an entry within it (RANDOMKEY). `r` is a random number.
    pub fn random_entry(&self, r: u64) -> Option<&Entry> {
        self.t.random(r).map(|b| &**b)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert_eq!(std::mem::size_of::<super::Entry>(), 64);
    }

    use super::*;
    use std::collections::{BTreeMap, HashSet};

    fn entry(k: &[u8]) -> Entry {
        Entry {
            key: k.into(),
            value: Value::from_bytes(k),
            expire_at_ms: 0,
            access_s: 0,
        }
    }

    #[test]
    fn grows_by_splitting() {
        let mut t = Table::new();
        for i in 0..20_000u32 {
            assert!(t.insert(entry(format!("key:{i}").as_bytes())).is_none());
        }
        assert_eq!(t.len(), 20_000);
        assert!(t.segments() > 16);
        for i in 0..20_000u32 {
            assert!(t.get(format!("key:{i}").as_bytes()).is_some());
        }
        for i in 0..10_000u32 {
            assert!(t.remove(format!("key:{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10_000);
        assert!(t.get(b"key:1").is_none());
    }

    #[test]
    fn scan_returns_every_stable_key_while_growing() {
        let mut t = Table::new();
        for i in 0..3000u32 {
            t.insert(entry(format!("old:{i}").as_bytes()));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut added = 0u32;
        loop {
            cursor = t.scan(cursor, |e| {
                seen.insert(e.key.clone());
            });
            // Grow the table between calls so segments split under the cursor.
            for _ in 0..500 {
                t.insert(entry(format!("new:{added}").as_bytes()));
                added += 1;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..3000u32 {
            assert!(
                seen.contains(format!("old:{i}").as_bytes()),
                "missed old:{i}"
            );
        }
    }

    #[test]
    fn volatile_counts() {
        let mut t = Table::new();
        let mut e = entry(b"a");
        e.expire_at_ms = 5;
        t.insert(e);
        t.insert(entry(b"b"));
        assert_eq!(t.volatile_len(), 1);
        t.set_expire(b"b", 7);
        assert_eq!(t.volatile_len(), 2);
        t.insert(entry(b"a"));
        assert_eq!(t.volatile_len(), 1);
        t.remove(b"b");
        assert_eq!(t.volatile_len(), 0);
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..3, 0u16..3000), 1..4000)) {
            let mut t = Table::new();
            let mut model = BTreeMap::new();
            for (op, k) in ops {
                let key = format!("k{k}").into_bytes();
                match op {
                    0 => { t.insert(entry(&key)); model.insert(key, ()); }
                    1 => { proptest::prop_assert_eq!(t.remove(&key).is_some(), model.remove(&key).is_some()); }
                    _ => { proptest::prop_assert_eq!(t.get(&key).is_some(), model.contains_key(&key)); }
                }
            }
            proptest::prop_assert_eq!(t.len(), model.len());
            proptest::prop_assert_eq!(t.iter().count(), model.len());
        }
    }
}
