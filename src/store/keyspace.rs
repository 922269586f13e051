//! A segmented hash table: a directory of fixed-size segments, each split on its own.
//!
//! This is extendible hashing. The directory has 2^global_depth slots, indexed by bits 32.. of the
//! key's hash; each slot points at a segment (a small hashbrown table) with its own local depth.
//! When a segment reaches `SEGMENT_ENTRIES_MAX` it splits in two on its next hash bit, and only
//! that segment's entries move: growth never rehashes the whole table, so no insert ever pauses
//! for long, and a snapshot can walk (and copy-on-write) the table one segment at a time.
//!
//! SCAN uses a reverse-binary cursor over the directory bits, like Redis's dictScan: a segment of
//! depth d covers every hash whose low directory bits equal its pattern, and incrementing the
//! reversed cursor at width d never skips a pattern, even when segments split between calls. So
//! every key present for the whole scan is returned (some may be returned twice).

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use super::smallstr::SmallStr;
use super::value::Value;

/// Entries per segment before it splits (the unit of copy-on-write for snapshots). A hashbrown
/// table of 1024 buckets holds 7/8 of that before it would double; splitting there instead keeps
/// every segment at 1024 buckets, between 44% and 88% full.
pub const SEGMENT_ENTRIES_MAX: usize = 896;
/// Buckets a segment is created with.
const SEGMENT_CAPACITY: usize = SEGMENT_ENTRIES_MAX;
/// Directory bits at most (2^24 segments × 1024 entries is far past any memory we have).
const DEPTH_MAX: u32 = 24;
const DIR_SHIFT: u32 = 32;

static SEED: OnceLock<foldhash::fast::FixedState> = OnceLock::new();

/// The hash of a key. Seeded per process (so clients cannot aim collisions) and fixed for the
/// life of the process (so every thread routes a key the same way).
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    SEED.get_or_init(|| {
        let mut seed = [0u8; 8];
        // SAFETY: getrandom writes at most 8 bytes into the 8-byte buffer.
        unsafe { libc::getrandom(seed.as_mut_ptr() as *mut libc::c_void, 8, 0) };
        foldhash::fast::FixedState::with_seed(u64::from_ne_bytes(seed))
    })
    .hash_one(key)
}

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

struct Segment {
    depth: u32,
    /// Entries with an expiry, so the active expire cycle can skip segments without any.
    volatile: u32,
    map: HashTable<Box<Entry>>,
}

pub struct Table {
    dir: Vec<u32>,
    segments: Vec<Segment>,
    global_depth: u32,
    len: usize,
    volatile: usize,
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

#[inline]
// hashbrown hands the hasher a `&T`, and `T` here is `Box<Entry>`.
#[allow(clippy::borrowed_box)]
fn hash_of(e: &Box<Entry>) -> u64 {
    key_hash(&e.key)
}

impl Table {
    pub fn new() -> Table {
        Table {
            dir: vec![0],
            segments: vec![Segment {
                depth: 0,
                volatile: 0,
                map: HashTable::new(),
            }],
            global_depth: 0,
            len: 0,
            volatile: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys that carry an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    #[inline]
    fn slot(&self, hash: u64) -> usize {
        ((hash >> DIR_SHIFT) as usize) & ((1usize << self.global_depth) - 1)
    }

    #[inline]
    fn seg_index(&self, hash: u64) -> usize {
        self.dir[self.slot(hash)] as usize
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let h = key_hash(key);
        self.segments[self.seg_index(h)]
            .map
            .find(h, |e| &*e.key == key)
            .map(|b| &**b)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        self.segments[s]
            .map
            .find_mut(h, |e| &*e.key == key)
            .map(|b| &mut **b)
    }

    /// One probe: the entry if present and not expired at `now_ms`; otherwise `Err(expired)`.
    /// An expired entry is deleted when `delete_expired` (masters) and kept (replicas) otherwise.
    pub fn get_live_mut(
        &mut self,
        key: &[u8],
        now_ms: u64,
        delete_expired: bool,
    ) -> Result<&mut Entry, bool> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        match seg.map.find_entry(h, |e| &*e.key == key) {
            Err(_) => Err(false),
            Ok(occ) => {
                let e = occ.get();
                if e.expire_at_ms != 0 && e.expire_at_ms <= now_ms {
                    if delete_expired {
                        occ.remove();
                        seg.volatile -= 1;
                        self.volatile -= 1;
                        self.len -= 1;
                    }
                    Err(true)
                } else {
                    Ok(&mut **occ.into_mut())
                }
            }
        }
    }

    /// Inserts or replaces; returns the previous entry.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let h = key_hash(&entry.key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        let new_volatile = (entry.expire_at_ms != 0) as u32;
        match seg.map.find_entry(h, |e| e.key == entry.key) {
            Ok(mut occ) => {
                // Same key: reuse the allocation.
                let old = std::mem::replace(&mut **occ.get_mut(), entry);
                let old_volatile = (old.expire_at_ms != 0) as u32;
                seg.volatile = seg.volatile + new_volatile - old_volatile;
                self.volatile = self.volatile + new_volatile as usize - old_volatile as usize;
                Some(old)
            }
            Err(_) => {
                seg.map.insert_unique(h, Box::new(entry), hash_of);
                seg.volatile += new_volatile;
                self.volatile += new_volatile as usize;
                self.len += 1;
                if seg.map.len() >= SEGMENT_ENTRIES_MAX {
                    self.split(s);
                }
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        let Ok(occ) = seg.map.find_entry(h, |e| &*e.key == key) else {
            return None;
        };
        let (e, _) = occ.remove();
        if e.expire_at_ms != 0 {
            seg.volatile -= 1;
            self.volatile -= 1;
        }
        self.len -= 1;
        Some(*e)
    }

    /// Sets or clears the expiry of an existing key, keeping the volatile counts right.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64) -> bool {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        let Some(e) = seg.map.find_mut(h, |e| &*e.key == key) else {
            return false;
        };
        let was = (e.expire_at_ms != 0) as u32;
        let now = (expire_at_ms != 0) as u32;
        e.expire_at_ms = expire_at_ms;
        seg.volatile = seg.volatile + now - was;
        self.volatile = self.volatile + now as usize - was as usize;
        true
    }

    fn split(&mut self, s: usize) {
        let depth = self.segments[s].depth;
        if depth >= DEPTH_MAX {
            return; // the segment just keeps growing; hashbrown still works, only COW gets coarser
        }
        if depth == self.global_depth {
            // Double the directory: the upper half mirrors the lower.
            let n = self.dir.len();
            self.dir.extend_from_within(0..n);
            self.global_depth += 1;
        }
        let bit = 1u64 << (DIR_SHIFT + depth);
        let mut moved = HashTable::with_capacity(SEGMENT_CAPACITY);
        let mut moved_volatile = 0;
        for e in self.segments[s].map.extract_if(|e| hash_of(e) & bit != 0) {
            moved_volatile += (e.expire_at_ms != 0) as u32;
            moved.insert_unique(hash_of(&e), e, hash_of);
        }
        let old = &mut self.segments[s];
        old.depth = depth + 1;
        old.volatile -= moved_volatile;
        let new_index = self.segments.len() as u32;
        self.segments.push(Segment {
            depth: depth + 1,
            volatile: moved_volatile,
            map: moved,
        });
        // Every directory slot that pointed at `s` and has the new bit set now points at the new
        // segment.
        let slot_bit = 1usize << depth;
        for (i, d) in self.dir.iter_mut().enumerate() {
            if *d as usize == s && i & slot_bit != 0 {
                *d = new_index;
            }
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        *self = Table::new();
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segments
            .iter()
            .flat_map(|s| s.map.iter().map(|b| &**b))
    }

    /// Number of segments (for tests and INFO).
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// One SCAN step: calls `f` on every entry of the segment the cursor points at and returns
    /// the next cursor (0 when the scan is complete).
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry)) -> u64 {
        let slot = (cursor as usize) & ((1usize << self.global_depth) - 1);
        let seg = &self.segments[self.dir[slot] as usize];
        for e in seg.map.iter() {
            f(e);
        }
        let mask: u64 = (1u64 << seg.depth) - 1;
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// Visits the segments whose entries carry expiries, starting at segment `from`, until `f`
    /// returns false; calls `f` with mutable access to each such segment's volatile entries
    /// through `expire_segment`. Returns the segment index to resume at (0 after a full pass).
    pub fn volatile_segment_at(&self, from: usize) -> Option<usize> {
        (from..self.segments.len()).find(|&i| self.segments[i].volatile > 0)
    }

    /// Keys of segment `seg` whose expiry is at or before `now_ms` (at most `limit`).
    pub fn expired_in_segment(&self, seg: usize, now_ms: u64, limit: usize) -> Vec<SmallStr> {
        self.segments
            .get(seg)
            .map(|s| {
                s.map
                    .iter()
                    .filter(|e| e.expire_at_ms != 0 && e.expire_at_ms <= now_ms)
                    .take(limit)
                    .map(|e| e.key.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A uniformly chosen segment, then an entry within it (RANDOMKEY). `r` is a random number.
    pub fn random_entry(&self, mut r: u64) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        // Bounded retries over non-empty segments keep this O(segment size).
        for _ in 0..64 {
            let seg = &self.segments[(r % self.segments.len() as u64) as usize];
            r = r
                .rotate_left(17)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(1);
            if seg.map.is_empty() {
                continue;
            }
            let n = (r % seg.map.len() as u64) as usize;
            return seg.map.iter().nth(n).map(|b| &**b);
        }
        self.iter().next()
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
