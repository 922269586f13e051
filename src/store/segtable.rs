//! A segmented hash table: a directory of fixed-size segments, each split on its own.
//!
//! This is extendible hashing. The directory has 2^global_depth slots, indexed by bits 32.. of an
//! item's key hash; each slot points at a segment (a small hashbrown table) with its own local
//! depth. When a segment reaches `SEGMENT_ENTRIES_MAX` it splits in two on its next hash bit, and
//! only that segment's items move: growth never rehashes the whole table, so no insert ever
//! pauses for long, and a snapshot can walk (and copy-on-write) the table one segment at a time.
//!
//! SCAN uses a reverse-binary cursor over the directory bits, like Redis's dictScan: a segment of
//! depth d covers every hash whose low directory bits equal its pattern, and incrementing the
//! reversed cursor at width d never skips a pattern, even when segments split between calls. So
//! every item present for the whole scan is returned (some may be returned twice).
//!
//! The keyspace uses it for keys (`keyspace.rs`), and the large encodings of hashes and sets use
//! it for their fields and members, so HSCAN and SSCAN keep the same guarantee.

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Items per segment before it splits (the unit of copy-on-write for snapshots). A hashbrown
/// table of 1024 buckets holds 7/8 of that before it would double; splitting there instead keeps
/// every split segment at 1024 buckets, between 44% and 88% full.
pub const SEGMENT_ENTRIES_MAX: usize = 896;
/// Buckets a segment made by a split starts with.
const SEGMENT_CAPACITY: usize = SEGMENT_ENTRIES_MAX;
/// Directory bits at most (2^24 segments × 896 items is far past any memory we have).
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

/// What a segmented table stores: something with a key, and optionally a flag the table counts
/// per segment (keys with an expiry, so the expire cycle can skip segments without any).
pub trait Item {
    fn key(&self) -> &[u8];
    fn counted(&self) -> bool {
        false
    }
    /// Asks the CPU to start loading what `key()` will read, without waiting for it (items that
    /// live behind a pointer override this; see `SegTable::prefetch`).
    #[inline]
    fn prefetch(&self) {}
}

/// Starts loading the cache line at `p` without waiting for it (a hint: never faults, even for
/// an address that is not mapped).
#[inline(always)]
pub fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: PREFETCHT0 is a hint; it reads nothing architecturally and cannot fault, so
        // any address is sound. SSE is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Keys `SegTable::prefetch` takes at once.
pub const PREFETCH_KEYS_MAX: usize = 16;

#[derive(Clone)]
struct Segment<T> {
    depth: u32,
    /// Items whose `counted()` is true.
    counted: u32,
    /// A snapshot in progress has copied this segment (inherited by both halves of a split).
    saved: bool,
    map: HashTable<T>,
}

#[derive(Clone)]
pub struct SegTable<T> {
    dir: Vec<u32>,
    segments: Vec<Segment<T>>,
    global_depth: u32,
    len: usize,
    counted: usize,
}

impl<T: Item> Default for SegTable<T> {
    fn default() -> Self {
        SegTable::new()
    }
}

#[inline]
fn hash_item<T: Item>(t: &T) -> u64 {
    key_hash(t.key())
}

impl<T: Item> SegTable<T> {
    pub fn new() -> SegTable<T> {
        SegTable {
            dir: vec![0],
            segments: vec![Segment {
                depth: 0,
                counted: 0,
                saved: false,
                map: HashTable::new(),
            }],
            global_depth: 0,
            len: 0,
            counted: 0,
        }
    }

    /// An empty table already split for about `items` items (a load that knows its size skips
    /// the splits, and the rehashing they do, on the way there).
    pub fn with_capacity(items: usize) -> SegTable<T> {
        let mut depth = 0u32;
        while depth < DEPTH_MAX && (items >> depth) > SEGMENT_ENTRIES_MAX * 3 / 4 {
            depth += 1;
        }
        let n = 1usize << depth;
        SegTable {
            dir: (0..n as u32).collect(),
            segments: (0..n)
                .map(|_| Segment {
                    depth,
                    counted: 0,
                    saved: false,
                    map: HashTable::with_capacity(SEGMENT_CAPACITY),
                })
                .collect(),
            global_depth: depth,
            len: 0,
            counted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Items whose `counted()` is true.
    pub fn counted_len(&self) -> usize {
        self.counted
    }

    /// Number of segments (for tests and INFO).
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    #[inline]
    fn seg_index(&self, hash: u64) -> usize {
        let slot = ((hash >> DIR_SHIFT) as usize) & ((1usize << self.global_depth) - 1);
        self.dir[slot] as usize
    }

    pub fn get(&self, key: &[u8]) -> Option<&T> {
        let h = key_hash(key);
        self.segments[self.seg_index(h)]
            .map
            .find(h, |t| t.key() == key)
    }

    /// Warms the cache for lookups of up to `PREFETCH_KEYS_MAX` keys that are about to run (a
    /// pipeline's next commands). A lookup is three dependent misses in a large table (control
    /// bytes, slot, the item's memory); one key after another they stall three times each.
    /// Here pass 1 finds each key's likely slot from the control bytes alone (the loads of
    /// different keys overlap) and prefetches it; pass 2 reads the slots (now arriving) and
    /// prefetches the items. Nothing is compared, so a tag collision only wastes a prefetch.
    pub fn prefetch(&self, keys: &[&[u8]]) {
        debug_assert!(
            keys.len() <= PREFETCH_KEYS_MAX,
            "callers batch at most that many"
        );
        let mut slots: [Option<&T>; PREFETCH_KEYS_MAX] = [None; PREFETCH_KEYS_MAX];
        for (slot, key) in slots.iter_mut().zip(keys) {
            let h = key_hash(key);
            *slot = self.segments[self.seg_index(h)].map.find(h, |_| true);
            if let Some(t) = *slot {
                prefetch_line(t as *const T);
            }
        }
        for t in slots.iter().flatten() {
            t.prefetch();
        }
    }

    /// Mutable access. The caller must not change the item's key or `counted()` (use `update`).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        self.segments[s].map.find_mut(h, |t| t.key() == key)
    }

    /// One probe: the item, unless `dead` says it is gone, in which case it is removed when
    /// `remove_dead` and `Err(true)` is returned. `Err(false)`: no such key.
    pub fn get_live_mut(
        &mut self,
        key: &[u8],
        dead: impl FnOnce(&T) -> bool,
        remove_dead: bool,
    ) -> Result<&mut T, bool> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        match seg.map.find_entry(h, |t| t.key() == key) {
            Err(_) => Err(false),
            Ok(occ) => {
                if dead(occ.get()) {
                    if remove_dead {
                        let (t, _) = occ.remove();
                        let c = t.counted() as u32;
                        seg.counted -= c;
                        self.counted -= c as usize;
                        self.len -= 1;
                    }
                    Err(true)
                } else {
                    Ok(occ.into_mut())
                }
            }
        }
    }

    /// Changes the item of `key` through `f`, keeping the counts right. False when absent.
    pub fn update(&mut self, key: &[u8], f: impl FnOnce(&mut T)) -> bool {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        let Some(t) = seg.map.find_mut(h, |t| t.key() == key) else {
            return false;
        };
        let was = t.counted() as u32;
        f(t);
        debug_assert!(t.key() == key, "update changed the key");
        let now = t.counted() as u32;
        seg.counted = seg.counted + now - was;
        self.counted = self.counted + now as usize - was as usize;
        true
    }

    /// Stores `v`: as a new item made by `make` when its key (`key_of`) is absent, else by
    /// handing the present item and `v` to `replace` (in place: a boxed item keeps its
    /// allocation). Returns whether the key was new.
    pub fn upsert<V>(
        &mut self,
        v: V,
        key_of: impl Fn(&V) -> &[u8],
        make: impl FnOnce(V) -> T,
        replace: impl FnOnce(&mut T, V),
    ) -> bool {
        let h = key_hash(key_of(&v));
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        match seg.map.find_entry(h, |t| t.key() == key_of(&v)) {
            Ok(mut occ) => {
                let t = occ.get_mut();
                let was = t.counted() as u32;
                replace(t, v);
                let now = t.counted() as u32;
                seg.counted = seg.counted + now - was;
                self.counted = self.counted + now as usize - was as usize;
                false
            }
            Err(_) => {
                let t = make(v);
                let c = t.counted() as u32;
                seg.map.insert_unique(h, t, hash_item);
                seg.counted += c;
                self.counted += c as usize;
                self.len += 1;
                if seg.map.len() >= SEGMENT_ENTRIES_MAX {
                    self.split(s);
                }
                true
            }
        }
    }

    /// Inserts or replaces; returns the previous item.
    pub fn insert(&mut self, item: T) -> Option<T> {
        let mut old = None;
        self.upsert(
            item,
            |t| t.key(),
            |t| t,
            |t, new| old = Some(std::mem::replace(t, new)),
        );
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        let h = key_hash(key);
        let s = self.seg_index(h);
        let seg = &mut self.segments[s];
        let Ok(occ) = seg.map.find_entry(h, |t| t.key() == key) else {
            return None;
        };
        let (t, _) = occ.remove();
        let c = t.counted() as u32;
        seg.counted -= c;
        self.counted -= c as usize;
        self.len -= 1;
        Some(t)
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
        let mut moved_counted = 0;
        for t in self.segments[s].map.extract_if(|t| hash_item(t) & bit != 0) {
            moved_counted += t.counted() as u32;
            moved.insert_unique(hash_item(&t), t, hash_item);
        }
        let old = &mut self.segments[s];
        old.depth = depth + 1;
        old.counted -= moved_counted;
        let saved = old.saved;
        let new_index = self.segments.len() as u32;
        self.segments.push(Segment {
            depth: depth + 1,
            counted: moved_counted,
            saved,
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
        *self = SegTable::new();
    }

    /// All items, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.segments.iter().flat_map(|s| s.map.iter())
    }

    /// One SCAN step: calls `f` on every item of the segment the cursor points at and returns
    /// the next cursor (0 when the scan is complete).
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a T)) -> u64 {
        let slot = (cursor as usize) & ((1usize << self.global_depth) - 1);
        let seg = &self.segments[self.dir[slot] as usize];
        for t in seg.map.iter() {
            f(t);
        }
        let mask: u64 = (1u64 << seg.depth) - 1;
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// The segment `key` lives in (or would be inserted into).
    #[inline]
    pub fn segment_of(&self, key: &[u8]) -> usize {
        self.seg_index(key_hash(key))
    }

    /// Whether a snapshot in progress has copied segment `seg`.
    #[inline]
    pub fn is_saved(&self, seg: usize) -> bool {
        self.segments[seg].saved
    }

    pub fn set_saved(&mut self, seg: usize, saved: bool) {
        self.segments[seg].saved = saved;
    }

    /// The first segment at or after `from` that holds counted items.
    pub fn counted_segment_at(&self, from: usize) -> Option<usize> {
        (from..self.segments.len()).find(|&i| self.segments[i].counted > 0)
    }

    /// The items of segment `seg` (empty when out of range).
    pub fn segment_items(&self, seg: usize) -> impl Iterator<Item = &T> {
        self.segments
            .get(seg)
            .into_iter()
            .flat_map(|s| s.map.iter())
    }

    /// The items of segment `seg`, for changes that leave their keys alone.
    pub fn segment_items_mut(&mut self, seg: usize) -> impl Iterator<Item = &mut T> {
        self.segments
            .get_mut(seg)
            .into_iter()
            .flat_map(|s| s.map.iter_mut())
    }

    /// A uniformly chosen segment, then an item within it. `r` is a random number.
    pub fn random(&self, mut r: u64) -> Option<&T> {
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
            return seg.map.iter().nth(n);
        }
        self.iter().next()
    }
}
