//! The keyspace's table: keys to records, on the segmented table of `segtable.rs`.
//!
//! Each key is one `Record` (`record.rs`): header, key and a small value in one allocation sized
//! to fit, so a key costs its bytes plus a few, not a fixed-size struct plus separate buffers.
//! Commands, though, work on a plain `Entry` (key, `Value`, expiry, access time). The table
//! bridges the two with one *working entry*: a lookup for use unpacks the record into it (a
//! boxed value moves, small inline bytes are copied) and hands out `&mut Entry`; the next call
//! that touches the table first packs it back (`settle`). So at most one entry per table is
//! unpacked, and everything that reads records directly (`records()`: iteration, SCAN, the
//! expire cycle, snapshots) sees them settled. Entries with an expiry are counted per segment,
//! so the active expire cycle visits only segments that have some.
//!
//! Snapshots without fork: `start_snapshot` marks the instant of the cut; from then on, every
//! call that may change a key (any lookup for use, insert, remove, expiry change, clear) first
//! preserves that key's state at the cut (`before_change`), and `save_step` serializes the
//! segments in the background of the owning loop, at the pace the loop gives it. Preserving is
//! per record, so a write costs a copy of one record, not the serialization of a segment (which
//! made a full sync under a write load pay for most of the snapshot on the write path):
//! - a record not yet preserved, in a segment not yet serialized, is copied aside (`Cow::
//!   preserved`, serialized at the next step) and flagged `snap_skip`;
//! - a record created after the cut in such a segment is flagged at birth;
//! - serializing a segment skips flagged records and clears the flags.
//!
//! So the sink receives every key exactly as it was at the cut, once. A record whose value is
//! boxed (a list or large collection) would be copied whole: its segment is serialized at once
//! instead, as is every segment written once the copies aside are a tenth of the table
//! (`PRESERVED_TABLE_DIVISOR`; memory stays bounded whatever the write load, and the next
//! background step serializes them and makes room). Invariants while a snapshot runs: the working entry's
//! record is flagged or its segment serialized (it was preserved before the lookup that
//! unpacked it; `start_snapshot` settles first); no record is flagged outside a snapshot
//! (every segment is serialized before the snapshot ends, and that clears them).
use super::record::Record;
use super::segtable::{Item, SegTable};
use super::smallstr::SmallStr;
use super::value::Value;
use std::sync::Arc;

pub use super::record::ValueRef;
pub use super::segtable::{key_hash, SEGMENT_ENTRIES_MAX};

/// One key and its value, unpacked. `expire_at_ms` is a Unix time in milliseconds, 0 when the
/// key is persistent. `access_s` is the server clock (seconds) of the last access, for OBJECT
/// IDLETIME.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: SmallStr,
    pub value: Value,
    pub expire_at_ms: u64,
    pub access_s: u32,
}

impl Item for Record {
    #[inline]
    fn key(&self) -> &[u8] {
        Record::key(self)
    }

    #[inline]
    fn counted(&self) -> bool {
        self.has_expiry()
    }

    #[inline]
    fn prefetch(&self) {
        Record::prefetch(self)
    }
}

/// The records of a table, settled (no entry unpacked): what readers that walk the table see.
#[derive(Default)]
pub struct Records {
    t: SegTable<Record>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Record> {
        self.t.get(key)
    }

    /// All records, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.t.iter()
    }

    /// One SCAN step: calls `f` on every record of the segment the cursor points at and returns
    /// the next cursor (0 when the scan is complete).
    pub fn scan(&self, cursor: u64, f: impl FnMut(&Record)) -> u64 {
        self.t.scan(cursor, f)
    }

    /// The first segment at or after `from` that holds keys with an expiry.
    pub fn volatile_segment_at(&self, from: usize) -> Option<usize> {
        self.t.counted_segment_at(from)
    }

    /// Keys of segment `seg` whose expiry is at or before `now_ms` (at most `limit`).
    pub fn expired_in_segment(&self, seg: usize, now_ms: u64, limit: usize) -> Vec<SmallStr> {
        self.t
            .segment_items(seg)
            .filter(|r| r.has_expiry() && r.expire_at_ms() <= now_ms)
            .take(limit)
            .map(|r| SmallStr::new(r.key()))
            .collect()
    }

    /// A uniformly chosen segment, then a record within it (RANDOMKEY). `r` is a random number.
    pub fn random(&self, r: u64) -> Option<&Record> {
        self.t.random(r)
    }
}

/// Where a snapshot in progress sends what it copies (implemented by `persist::snapshot`).
pub trait SegmentSink: Send + Sync {
    /// Serializes the records of one segment of database `db`, as they are now.
    fn segment(&self, db: usize, records: &mut dyn Iterator<Item = &Record>);
    /// One shard has copied all of its segments.
    fn shard_done(&self);
    /// The sink's readers are behind: the background copy pauses (copies that writes force
    /// still happen).
    fn backlogged(&self) -> bool {
        false
    }
    /// Nobody will read the rest (every replica of a full sync left): the snapshot stops.
    fn abandoned(&self) -> bool {
        false
    }
    /// A table now holds `delta_bytes` more (or fewer) bytes of records copied aside for this
    /// snapshot (what INFO reports as the save's copy-on-write size).
    fn aside(&self, _delta_bytes: isize) {}
}

/// Records copied aside (see the module doc) before writes fall back to serializing their
/// segment at once: a tenth of the table (about 8 % more memory for strings of 100 bytes, the
/// bound a fork-free BGSAVE keeps to), and never more than these bytes.
const PRESERVED_TABLE_DIVISOR: usize = 10;
const PRESERVED_BYTES_MAX: usize = 64 << 20;
/// Copied-aside records serialized per sink call.
const PRESERVED_CHUNK_RECORDS: usize = 512;

/// A snapshot in progress over one table: where its segments go, and as which database.
struct Cow {
    sink: Arc<dyn SegmentSink>,
    db: usize,
    /// Records as they were at the cut, copied before their first change.
    preserved: Vec<Record>,
    preserved_bytes: usize,
    /// Records flagged `snap_skip` so far (segments are cleared of flags only when some are).
    flagged: usize,
}

#[derive(Default)]
pub struct Table {
    records: Records,
    /// The unpacked entry while `thawed`; its record in `records` is stale until `settle`.
    work: Option<Entry>,
    cow: Option<Cow>,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Keys that carry an expiry.
    pub fn volatile_len(&mut self) -> usize {
        self.settle();
        self.records.t.counted_len()
    }

    /// Number of segments (for tests and INFO).
    pub fn segments(&self) -> usize {
        self.records.t.segments()
    }

    /// The records, with the working entry packed back first.
    pub fn records(&mut self) -> &Records {
        self.settle();
        &self.records
    }

    /// Warms the cache for the lookups of `keys` (see `SegTable::prefetch`). The working
    /// entry's record may be stale, but it is only prefetched, never read.
    pub fn prefetch(&self, keys: &[&[u8]]) {
        self.records.t.prefetch(keys);
    }

    /// Packs the working entry, if any, back into its record.
    pub fn settle(&mut self) {
        let Some(e) = self.work.take() else { return };
        let Entry {
            key,
            value,
            expire_at_ms,
            access_s,
        } = e;
        let found = self
            .records
            .t
            .update(&key, |r| r.put_value(value, expire_at_ms, access_s));
        debug_assert!(found, "the working entry's record is in the table");
    }

    /// Unpacks `r` into the working slot (which `settle` emptied).
    fn thaw<'a>(work: &'a mut Option<Entry>, r: &mut Record) -> &'a mut Entry {
        debug_assert!(work.is_none());
        work.insert(Entry {
            key: SmallStr::new(r.key()),
            expire_at_ms: r.expire_at_ms(),
            access_s: r.access_s(),
            value: r.take_value(),
        })
    }

    /// Whether `key` has an entry not expired at `now_ms`, without unpacking or moving
    /// anything.
    pub fn contains_live(&self, key: &[u8], now_ms: u64) -> bool {
        let live = |at: u64| at == 0 || at > now_ms;
        match &self.work {
            Some(e) if &*e.key == key => live(e.expire_at_ms),
            _ => self
                .records
                .t
                .get(key)
                .is_some_and(|r| live(r.expire_at_ms())),
        }
    }

    /// The entry of `key`, unpacked for reading and writing (expiry changes go through
    /// `set_expire`, which keeps the counts right).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.work.as_ref().is_some_and(|e| &*e.key == key) {
            return self.work.as_mut();
        }
        self.before_change(key);
        self.settle();
        let r = self.records.t.get_mut(key)?;
        Some(Self::thaw(&mut self.work, r))
    }

    /// One probe: the entry if present and not expired at `now_ms`; otherwise `Err(expired)`.
    /// An expired entry is deleted when `delete_expired` (masters) and kept (replicas) otherwise.
    pub fn get_live_mut(
        &mut self,
        key: &[u8],
        now_ms: u64,
        delete_expired: bool,
    ) -> Result<&mut Entry, bool> {
        if let Some(e) = &self.work {
            if &*e.key == key {
                if e.expire_at_ms != 0 && e.expire_at_ms <= now_ms {
                    self.settle();
                } else {
                    return Ok(self.work.as_mut().expect("checked just above"));
                }
            }
        }
        self.before_change(key);
        self.settle();
        let r = self.records.t.get_live_mut(
            key,
            |r| r.has_expiry() && r.expire_at_ms() <= now_ms,
            delete_expired,
        )?;
        Ok(Self::thaw(&mut self.work, r))
    }

    /// Whether `key` is stored (expired or not), and its expiry.
    pub fn expiry_of(&mut self, key: &[u8]) -> Option<u64> {
        self.records().get(key).map(Record::expire_at_ms)
    }

    /// Inserts or replaces (in place, reusing the old record's allocation when it can).
    /// Returns the previous value.
    pub fn insert(&mut self, entry: Entry) -> Option<Value> {
        if let Some(w) = self.work.as_mut().filter(|w| w.key == entry.key) {
            // Overwriting the working entry (SET after its lookup): no probe now, one at settle.
            w.expire_at_ms = entry.expire_at_ms;
            w.access_s = entry.access_s;
            return Some(std::mem::replace(&mut w.value, entry.value));
        }
        self.before_change(&entry.key);
        self.settle();
        let mut old = None;
        // Created after the cut, in a segment the snapshot has still to serialize: skipped.
        let born_after_cut = self.cow.as_ref().is_some_and(|_| {
            !self
                .records
                .t
                .is_saved(self.records.t.segment_of(&entry.key))
        });
        let made = self.records.t.upsert(
            entry,
            |e| &e.key,
            |e| {
                let mut r = Record::new(&e.key, e.value, e.expire_at_ms, e.access_s);
                r.set_snap_skip(born_after_cut);
                r
            },
            |r, e| old = Some(r.replace(e.value, e.expire_at_ms, e.access_s)),
        );
        if made && born_after_cut {
            if let Some(cow) = self.cow.as_mut() {
                cow.flagged += 1;
            }
        }
        old
    }

    /// SET over the working entry (just looked up) when both it and `bytes` are long strings:
    /// the bytes go into its buffer (`SmallStr::overwrite`). False, nothing done, otherwise.
    pub fn overwrite_working_str(
        &mut self,
        key: &[u8],
        bytes: &[u8],
        expire_at_ms: u64,
        access_s: u32,
    ) -> bool {
        let Some(w) = self.work.as_mut().filter(|w| &*w.key == key) else {
            return false;
        };
        let Value::Str(s) = &mut w.value else {
            return false;
        };
        if !s.overwrite(bytes) {
            return false;
        }
        w.expire_at_ms = expire_at_ms; // `settle` brings the volatile counts up to date
        w.access_s = access_s;
        true
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if self.work.as_ref().is_some_and(|w| &*w.key == key) {
            // The record is stale (its boxed value, if any, moved into the working entry);
            // dropping it frees only its own memory.
            drop(self.records.t.remove(key));
            return self.work.take();
        }
        self.before_change(key);
        self.settle();
        let mut r = self.records.t.remove(key)?;
        Some(Entry {
            key: SmallStr::new(key),
            expire_at_ms: r.expire_at_ms(),
            access_s: r.access_s(),
            value: r.take_value(),
        })
    }

    /// Sets or clears the expiry of an existing key, keeping the volatile counts right.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64) -> bool {
        if let Some(w) = self.work.as_mut().filter(|w| &*w.key == key) {
            w.expire_at_ms = expire_at_ms; // `settle` brings the volatile counts up to date
            return true;
        }
        self.before_change(key);
        self.settle();
        self.records.t.update(key, |r| r.set_expire(expire_at_ms))
    }

    /// Prepares an empty table for about `keys` keys (loading a file that says how many).
    pub fn reserve(&mut self, keys: usize) {
        if self.is_empty() && self.cow.is_none() {
            self.work = None;
            self.records.t = SegTable::with_capacity(keys);
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        if self.cow.is_some() {
            // The snapshot keeps what was there at its cut: copy it all before it goes.
            let (mut seg, mut budget) = (0, usize::MAX);
            self.save_step(&mut seg, &mut budget);
        }
        self.work = None;
        self.records.t.clear();
    }

    /// Starts a snapshot of this table as database `db` (the cut is now): every key goes to
    /// `sink` as it is now, preserved before its first change or serialized with its segment
    /// by `save_step`.
    pub fn start_snapshot(&mut self, sink: Arc<dyn SegmentSink>, db: usize) {
        self.settle();
        self.abandon_snapshot();
        for s in 0..self.records.t.segments() {
            self.records.t.set_saved(s, false);
        }
        self.cow = Some(Cow {
            sink,
            db,
            preserved: Vec::new(),
            preserved_bytes: 0,
            flagged: 0,
        });
    }

    /// Gives up a snapshot still running (its sink gets no more), clearing the flags it left
    /// on the records of segments it had not serialized.
    pub fn abandon_snapshot(&mut self) {
        let Some(cow) = self.cow.take() else {
            return;
        };
        cow.sink.aside(-(cow.preserved_bytes as isize));
        if cow.flagged == 0 {
            return;
        }
        for s in 0..self.records.t.segments() {
            if !self.records.t.is_saved(s) {
                for r in self.records.t.segment_items_mut(s) {
                    r.set_snap_skip(false);
                }
            }
        }
    }

    /// Serializes records copied aside, then segments not serialized yet from `*seg` on, until
    /// about `*budget_keys` keys were serialized (deducted). True when the table is done (its
    /// snapshot ends here).
    pub fn save_step(&mut self, seg: &mut usize, budget_keys: &mut usize) -> bool {
        if self.cow.is_none() {
            return true;
        }
        self.settle();
        loop {
            *budget_keys = budget_keys.saturating_sub(self.flush_preserved(*budget_keys));
            if *seg >= self.records.t.segments() {
                break;
            }
            if *budget_keys == 0 {
                return false;
            }
            if !self.records.t.is_saved(*seg) {
                let copied = self.save_segment(*seg);
                *budget_keys = budget_keys.saturating_sub(copied.max(1));
            }
            *seg += 1;
        }
        // Every segment is serialized, so nothing more is copied aside.
        let cow = self.cow.as_ref().expect("checked above");
        if !cow.preserved.is_empty() {
            return false;
        }
        self.cow = None;
        true
    }

    /// Serializes up to about `budget_keys` of the records copied aside (a chunk at least);
    /// returns how many.
    fn flush_preserved(&mut self, budget_keys: usize) -> usize {
        let Some(cow) = self.cow.as_mut() else {
            return 0;
        };
        let mut sent = 0;
        while !cow.preserved.is_empty() && (sent == 0 || sent < budget_keys) {
            let n = cow.preserved.len().min(PRESERVED_CHUNK_RECORDS);
            let chunk = cow.preserved.split_off(cow.preserved.len() - n);
            cow.sink.segment(cow.db, &mut chunk.iter());
            let bytes = chunk.iter().map(Record::footprint_bytes).sum::<usize>();
            cow.preserved_bytes -= bytes;
            cow.sink.aside(-(bytes as isize));
            sent += n;
        }
        debug_assert!(!cow.preserved.is_empty() || cow.preserved_bytes == 0);
        sent
    }

    /// Serializes segment `s` (without the records flagged `snap_skip`, whose flags it
    /// clears); returns its key count.
    fn save_segment(&mut self, s: usize) -> usize {
        let cow = self.cow.as_ref().expect("a snapshot is running");
        // Records and their heap strings are scattered: serializing them one by one waits on
        // two cache misses per key (three quarters of a snapshot's time, profiled). Loads are
        // started ahead instead: the record `AHEAD` keys on, the bytes of the one halfway.
        const AHEAD: usize = 16;
        let items: Vec<&Record> = self.records.t.segment_items(s).collect();
        let keys = items.len();
        let mut records = (0..keys)
            .map(|i| {
                if let Some(r) = items.get(i + AHEAD) {
                    r.prefetch();
                }
                if let Some(r) = items.get(i + AHEAD / 2) {
                    r.prefetch_payload();
                }
                items[i]
            })
            .filter(|r| !r.snap_skip());
        cow.sink.segment(cow.db, &mut records);
        if cow.flagged > 0 {
            for r in self.records.t.segment_items_mut(s) {
                r.set_snap_skip(false);
            }
        }
        self.records.t.set_saved(s, true);
        keys
    }

    /// Copy-on-write: called before anything that may change `key`.
    #[inline]
    fn before_change(&mut self, key: &[u8]) {
        if self.cow.is_some() {
            self.preserve(key);
        }
    }

    /// Keeps `key`'s state at the cut for the snapshot (see the module doc).
    #[cold]
    fn preserve(&mut self, key: &[u8]) {
        debug_assert!(self.work.as_ref().is_none_or(|w| {
            let s = self.records.t.segment_of(&w.key);
            self.records.t.is_saved(s) || self.records.t.get(&w.key).is_some_and(Record::snap_skip)
        }));
        let s = self.records.t.segment_of(key);
        if self.records.t.is_saved(s) {
            return;
        }
        let room = (self.records.len() / PRESERVED_TABLE_DIVISOR).max(SEGMENT_ENTRIES_MAX);
        let cow = self.cow.as_mut().expect("a snapshot runs");
        let full = cow.preserved_bytes >= PRESERVED_BYTES_MAX || cow.preserved.len() >= room;
        let serialize_segment = match self.records.t.get_mut(key) {
            // Absent at the cut (`insert` flags the record it creates), or already kept.
            None => false,
            Some(r) if r.snap_skip() => false,
            Some(r) if r.is_boxed() || full => true,
            Some(r) => {
                let copy = r.clone();
                r.set_snap_skip(true);
                let bytes = copy.footprint_bytes();
                cow.flagged += 1;
                cow.preserved_bytes += bytes;
                cow.sink.aside(bytes as isize);
                cow.preserved.push(copy);
                false
            }
        };
        if serialize_segment {
            self.save_segment(s);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_stays_24_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
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
            assert!(t.records().get(format!("key:{i}").as_bytes()).is_some());
        }
        for i in 0..10_000u32 {
            assert!(t.remove(format!("key:{i}").as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10_000);
        assert!(t.records().get(b"key:1").is_none());
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
            cursor = t.records().scan(cursor, |r| {
                seen.insert(r.key().to_vec());
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

    /// (database, key, value) as a snapshot copied it.
    type Copied = (usize, Vec<u8>, Vec<u8>);

    /// Collects what a snapshot copies.
    #[derive(Default)]
    struct Collect {
        got: std::sync::Mutex<Vec<Copied>>,
        done: std::sync::atomic::AtomicUsize,
        /// Bytes held aside as the table reports them (back to 0 once it is done).
        aside: std::sync::atomic::AtomicIsize,
    }

    impl SegmentSink for Collect {
        fn segment(&self, db: usize, records: &mut dyn Iterator<Item = &Record>) {
            let mut got = self.got.lock().unwrap();
            for r in records {
                got.push((db, r.key().to_vec(), string_of(&r.value())));
            }
        }
        fn shard_done(&self) {
            self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        fn aside(&self, delta_bytes: isize) {
            let was = self
                .aside
                .fetch_add(delta_bytes, std::sync::atomic::Ordering::Relaxed);
            assert!(was + delta_bytes >= 0, "more released than held aside");
        }
    }

    /// A string's bytes; other values (lists, in the snapshot test) by their debug form.
    fn string_of(v: &Value) -> Vec<u8> {
        v.to_bytes()
            .unwrap_or_else(|| format!("{v:?}").into_bytes())
    }

    proptest::proptest! {
        /// Random inserts, removals, in-place edits through the working entry, expiry changes
        /// and reads of settled records, against a map.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..6, 0u16..400, 0usize..40), 1..3000)) {
            let mut t = Table::new();
            let mut model: BTreeMap<Vec<u8>, (Vec<u8>, u64)> = BTreeMap::new();
            for (op, k, n) in ops {
                let key = format!("k{k}").into_bytes();
                match op {
                    0 => {
                        let v = vec![b'a' + (n % 26) as u8; n];
                        let old = t.insert(Entry { key: key.as_slice().into(), value: Value::from_bytes(&v), expire_at_ms: 0, access_s: 0 });
                        let was = model.insert(key, (v, 0));
                        proptest::prop_assert_eq!(old.map(|o| string_of(&o)), was.map(|w| w.0));
                    }
                    1 => {
                        let got = t.remove(&key).map(|e| (string_of(&e.value), e.expire_at_ms));
                        proptest::prop_assert_eq!(got, model.remove(&key));
                    }
                    2 => {
                        // Edit in place: append n bytes (a short value may become a long one).
                        let e = t.get_mut(&key);
                        proptest::prop_assert_eq!(e.is_some(), model.contains_key(&key));
                        if let Some(e) = e {
                            let mut v = string_of(&e.value);
                            v.extend(std::iter::repeat_n(b'x', n));
                            e.value = Value::Str(SmallStr::from_vec(v.clone()));
                            e.access_s = n as u32;
                            model.get_mut(&key).unwrap().0 = v;
                        }
                    }
                    3 => {
                        let ms = if n % 2 == 0 { 0 } else { 1000 + n as u64 };
                        let present = t.set_expire(&key, ms);
                        proptest::prop_assert_eq!(present, model.contains_key(&key));
                        if let Some(m) = model.get_mut(&key) { m.1 = ms; }
                    }
                    4 => {
                        // A lookup that expires keys due at `now` (n), like a master's read.
                        let now = 1000 + n as u64;
                        let got = t.get_live_mut(&key, now, true).map(|e| string_of(&e.value));
                        match model.get(&key) {
                            None => proptest::prop_assert_eq!(got, Err(false)),
                            Some((v, ms)) if *ms != 0 && *ms <= now => {
                                proptest::prop_assert_eq!(got, Err(true));
                                model.remove(&key);
                            }
                            Some((v, _)) => proptest::prop_assert_eq!(got, Ok(v.clone())),
                        }
                    }
                    _ => {
                        let got = t.records().get(&key).map(|r| (string_of(&r.value()), r.expire_at_ms()));
                        proptest::prop_assert_eq!(got, model.get(&key).cloned());
                    }
                }
            }
            proptest::prop_assert_eq!(t.len(), model.len());
            let volatile = model.values().filter(|m| m.1 != 0).count();
            proptest::prop_assert_eq!(t.volatile_len(), volatile);
            let mut all: Vec<_> = t.records().iter()
                .map(|r| (r.key().to_vec(), (string_of(&r.value()), r.expire_at_ms()))).collect();
            all.sort();
            proptest::prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
        }
    }

    /// A value of one of the record's storage kinds, chosen by `n`: inline string, long
    /// string (bytes on the heap) or list (boxed).
    fn value_for(n: usize) -> Value {
        match n % 3 {
            0 => Value::from_bytes(format!("v{n}").as_bytes()),
            1 => Value::from_bytes(&vec![b'a' + (n % 26) as u8; 100 + n]),
            _ => {
                let items: Vec<Vec<u8>> = (0..n % 7 + 1)
                    .map(|i| format!("e{i}").into_bytes())
                    .collect();
                let limits = super::super::list::ListLimits::default();
                Value::List(Box::new(super::super::list::List::from_iter(
                    items.iter().map(|v| v.as_slice()),
                    &limits,
                )))
            }
        }
    }

    fn contents(t: &mut Table, db: usize) -> Vec<Copied> {
        let mut all: Vec<Copied> = t
            .records()
            .iter()
            .map(|r| (db, r.key().to_vec(), string_of(&r.value())))
            .collect();
        all.sort();
        all
    }

    proptest::proptest! {
        /// A snapshot started at some point receives exactly the table as it was then (each key
        /// once), whatever inserts (with splits), removals, edits, expiry changes, expiring
        /// lookups, clears and a new cut race the background copy; and the next snapshot, taken with
        /// nothing racing it, receives the table as it is then (no record is left flagged).
        #[test]
        fn snapshot_is_the_table_at_the_cut(
            before in proptest::collection::vec((0u16..3000, 0usize..60), 0..3000),
            ops in proptest::collection::vec((0u8..7, 0u16..6000, 0usize..60), 0..3000),
        ) {
            let mut t = Table::new();
            for (k, n) in before {
                let mut e = entry(format!("k{k}").as_bytes());
                e.value = value_for(n);
                t.insert(e);
            }
            // Unpack one entry before the cut: the cut must settle it.
            if let Some(e) = t.get_mut(b"k1") {
                e.value = Value::from_bytes(b"edited-before-cut");
            }
            let mut want = contents(&mut t, 7);
            let mut sink = std::sync::Arc::new(Collect::default());
            t.start_snapshot(sink.clone(), 7);
            let mut seg = 0;
            for (op, k, n) in ops {
                let key = format!("k{k}").into_bytes();
                match op {
                    // A new cut while this one runs (a replica left and came back): the new
                    // one replaces it and must not miss what the old one flagged.
                    6 if n == 1 => {
                        want = contents(&mut t, 7);
                        sink = std::sync::Arc::new(Collect::default());
                        t.start_snapshot(sink.clone(), 7);
                        seg = 0;
                    }
                    0 => { let mut e = entry(&key); e.value = value_for(n); t.insert(e); }
                    1 => { t.remove(&key); }
                    2 => if let Some(e) = t.get_mut(&key) { e.value = value_for(n + 1); },
                    3 => { let mut budget = n; t.save_step(&mut seg, &mut budget); }
                    4 => { let _ = t.get_live_mut(&key, 1000 + n as u64, true); }
                    5 => if n == 0 { t.clear(); } else { t.set_expire(&key, 1000 + n as u64); },
                    _ => { t.records(); } // settles the working entry
                }
            }
            let mut budget = usize::MAX;
            proptest::prop_assert!(t.save_step(&mut seg, &mut budget));
            let mut got = sink.got.lock().unwrap().clone();
            got.sort();
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(sink.aside.load(std::sync::atomic::Ordering::Relaxed), 0);

            let now = contents(&mut t, 3);
            let sink = std::sync::Arc::new(Collect::default());
            t.start_snapshot(sink.clone(), 3);
            let (mut seg, mut budget) = (0, usize::MAX);
            proptest::prop_assert!(t.save_step(&mut seg, &mut budget));
            let mut got = sink.got.lock().unwrap().clone();
            got.sort();
            proptest::prop_assert_eq!(got, now);
        }
    }
}
