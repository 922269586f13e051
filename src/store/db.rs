//! A shard's databases (SELECT 0..N) and the expiry rules over them.
//!
//! Every read or write of a key goes through `Db::lookup*`, which applies lazy expiry in one
//! place: a key past its expiry is deleted on access (or, on a replica, merely hidden).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use super::keyspace::{Entry, Table};
use super::smallstr::SmallStr;
use super::value::Value;

/// Expired keys deleted per active-expire step before the clock is checked again.
const EXPIRE_KEYS_PER_STEP: usize = 256;

#[derive(Default)]
pub struct Db {
    pub table: Table,
    /// WATCHed keys of this database (see `Watched`).
    pub watched: Watched,
    /// Clients blocked on keys of this database.
    pub blocked: super::blocking::Blocked,
    /// Keys deleted by expiry, kept for `expired` keyspace events while `LOG_EXPIRED` is set.
    pub expired_log: Vec<SmallStr>,
    /// Collections deleted because a command emptied them, kept for `del` keyspace events while
    /// `LOG_DELETED` is set.
    pub emptied_log: Vec<SmallStr>,
    /// Keys deleted by expiry, kept for propagation (as DEL) while `PROPAGATE_EXPIRED` is set.
    pub expired_prop: Vec<SmallStr>,
}

/// Whether deletions of emptied collections are logged for keyspace notifications (class g).
pub static LOG_DELETED: AtomicBool = AtomicBool::new(false);

/// Whether expiry deletions are logged for keyspace notifications (`notify-keyspace-events`
/// with `x`); set by the server when the configuration changes.
pub static LOG_EXPIRED: AtomicBool = AtomicBool::new(false);

/// Shards of this process copying a snapshot now (Redis's "active child process"): a new cut
/// (BGSAVE, an AOF rewrite, a full sync) waits until none is, because it would replace the
/// running snapshot and its sink would never be completed.
static SHARDS_SAVING: AtomicUsize = AtomicUsize::new(0);

/// Whether some shard is still copying a snapshot (see `SHARDS_SAVING`).
pub fn snapshot_running() -> bool {
    SHARDS_SAVING.load(Ordering::Acquire) > 0
}

/// We are a replica: keys past their expiry are hidden but not deleted (the master's DELs do
/// that), and the active expire cycle does not run.
pub static REPLICA_MODE: AtomicBool = AtomicBool::new(false);

/// Whether expiry deletions are kept for propagation (the AOF or replicas read the stream); set
/// by the replication feed.
pub static PROPAGATE_EXPIRED: AtomicBool = AtomicBool::new(false);

impl Db {
    /// `key` was deleted because it expired: its watchers see a change, and the event and the
    /// propagation are kept.
    fn expired(
        watched: &mut Watched,
        log: &mut Vec<SmallStr>,
        prop: &mut Vec<SmallStr>,
        key: &[u8],
    ) {
        watched.signal(key);
        if LOG_EXPIRED.load(Ordering::Relaxed) {
            log.push(SmallStr::new(key));
        }
        if PROPAGATE_EXPIRED.load(Ordering::Relaxed) {
            prop.push(SmallStr::new(key));
        }
    }
}

/// The WATCH registry of one database: for each watched key, the dirty flags of the clients
/// watching it. Any change to the key (write, delete, expiry, flush) sets the flags and forgets
/// the key, so a later EXEC of those clients fails. Flags of clients that stopped watching stay
/// until the key changes or `prune` drops them (a flag only the registry still holds is dead).
#[derive(Default)]
pub struct Watched {
    /// Weak: the client holds the only strong reference, so a client that unwatched or closed
    /// leaves entries `prune` can drop (with strong references, a client that watched two keys
    /// kept its flag alive through the other key's entry, and neither was ever pruned).
    keys: hashbrown::HashMap<SmallStr, Vec<Weak<AtomicBool>>, foldhash::fast::RandomState>,
}

impl Watched {
    pub fn watch(&mut self, key: &[u8], flag: Arc<AtomicBool>) {
        let v = self.keys.entry(SmallStr::new(key)).or_default();
        if !v
            .iter()
            .any(|f| std::ptr::eq(f.as_ptr(), Arc::as_ptr(&flag)))
        {
            v.push(Arc::downgrade(&flag));
        }
    }

    /// `key` changed: dirty every client watching it.
    #[inline]
    pub fn signal(&mut self, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        if let Some(flags) = self.keys.remove(key) {
            for f in flags.iter().filter_map(Weak::upgrade) {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Dirties the watchers of every watched key for which `changed` holds (FLUSHDB and
    /// FLUSHALL: the keys that existed; SWAPDB: the keys present on either side).
    pub fn signal_where(&mut self, mut changed: impl FnMut(&[u8]) -> bool) {
        self.keys.retain(|k, flags| {
            if !changed(k) {
                return true;
            }
            for f in flags.iter().filter_map(Weak::upgrade) {
                f.store(true, Ordering::Release);
            }
            false
        });
    }

    /// Drops flags nobody else holds any more (clients that unwatched or closed).
    pub fn prune(&mut self) {
        self.keys.retain(|_, flags| {
            flags.retain(|f| f.strong_count() > 0);
            !flags.is_empty()
        });
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Counters a shard keeps for INFO (summed over shards by the reader).
#[derive(Default, Clone, Copy, Debug)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// The keyspace one event-loop thread owns.
pub struct Shard {
    pub id: usize,
    pub dbs: Vec<Db>,
    pub stats: ShardStats,
    /// Unix time (ms) of the command being executed; set by the server before each command.
    pub now_ms: u64,
    /// Writes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// When false (a replica), expired keys are hidden but not deleted.
    pub expire_enabled: bool,
    /// The running command came from this replica's master: no key is logically expired for
    /// it (the master's DELs expire keys, and its writes must find what it still has), as in
    /// Redis. Set by the server before each command.
    pub from_master: bool,
    /// Where the active expire cycle resumes: (db, segment).
    expire_cursor: (usize, usize),
    /// A command touched a key that blocked clients wait for: serve them after it.
    pub blocked_ready: bool,
    /// A snapshot this shard is still copying: its sink and where the walk resumes.
    save: Option<ShardSave>,
}

struct ShardSave {
    sink: std::sync::Arc<dyn super::keyspace::SegmentSink>,
    db: usize,
    seg: usize,
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.end_save();
    }
}

impl Shard {
    pub fn new(id: usize, databases: usize) -> Shard {
        assert!(databases > 0);
        Shard {
            id,
            dbs: (0..databases).map(|_| Db::default()).collect(),
            stats: ShardStats::default(),
            now_ms: 0,
            from_master: false,
            dirty: 0,
            expire_enabled: true,
            expire_cursor: (0, 0),
            blocked_ready: false,
            save: None,
        }
    }

    /// Starts copying this shard into a snapshot whose cut is now (the caller holds every
    /// shard, so all shards start at the same instant).
    pub fn start_snapshot(&mut self, sink: std::sync::Arc<dyn super::keyspace::SegmentSink>) {
        if self.save.is_none() {
            SHARDS_SAVING.fetch_add(1, Ordering::AcqRel);
        }
        for (d, db) in self.dbs.iter_mut().enumerate() {
            db.table.start_snapshot(sink.clone(), d);
        }
        self.save = Some(ShardSave {
            sink,
            db: 0,
            seg: 0,
        });
    }

    /// Whether this shard is still copying a snapshot.
    pub fn saving(&self) -> bool {
        self.save.is_some()
    }

    /// Whether the background copy waits for the snapshot's readers.
    pub fn save_paused(&self) -> bool {
        self.save.as_ref().is_some_and(|s| s.sink.backlogged())
    }

    /// Copies about `budget_keys` keys of the running snapshot (segments no write has copied
    /// yet); tells the sink when this shard is done.
    pub fn save_step(&mut self, mut budget_keys: usize) {
        let Some(save) = self.save.as_mut() else {
            return;
        };
        if save.sink.abandoned() {
            for db in &mut self.dbs {
                db.table.abandon_snapshot();
            }
            self.end_save();
            return;
        }
        if save.sink.backlogged() {
            return;
        }
        while save.db < self.dbs.len() {
            if !self.dbs[save.db]
                .table
                .save_step(&mut save.seg, &mut budget_keys)
            {
                return;
            }
            save.db += 1;
            save.seg = 0;
        }
        if let Some(done) = self.end_save() {
            done.sink.shard_done();
        }
    }

    /// This shard's snapshot is over (done or given up): it no longer counts as saving.
    fn end_save(&mut self) -> Option<ShardSave> {
        let save = self.save.take();
        if save.is_some() {
            SHARDS_SAVING.fetch_sub(1, Ordering::AcqRel);
        }
        save
    }

    /// Warms the cache for lookups of `keys` in database `index` (see `SegTable::prefetch`).
    pub fn prefetch(&self, index: usize, keys: &[&[u8]]) {
        if let Some(db) = self.dbs.get(index) {
            db.table.prefetch(keys);
        }
    }

    /// Database `index` with the shard's clock, for command execution.
    pub fn db(&mut self, index: usize) -> DbRef<'_> {
        DbRef {
            db: &mut self.dbs[index],
            stats: &mut self.stats,
            now_ms: self.now_ms,
            expiry_clock_ms: if self.from_master { 0 } else { self.now_ms },
            expire_enabled: self.expire_enabled && !REPLICA_MODE.load(Ordering::Relaxed),
            dirty: &mut self.dirty,
            blocked_ready: &mut self.blocked_ready,
        }
    }

    /// Looks for waiters whose key holds data (see `Blocked::touch_waited`); `serve_blocked`
    /// then serves them.
    pub fn touch_waited(&mut self, now_ms: u64) {
        for db in self.dbs.iter_mut() {
            if !db.blocked.is_empty() && db.blocked.touch_waited(&db.table, now_ms) {
                self.blocked_ready = true;
            }
        }
    }

    /// Serves clients blocked on keys that commands filled since the last call.
    pub fn serve_blocked(&mut self, out: &mut Vec<super::blocking::Served>) {
        if !std::mem::take(&mut self.blocked_ready) {
            return;
        }
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if db.blocked.has_ready() {
                let Db {
                    table,
                    watched,
                    blocked,
                    emptied_log,
                    ..
                } = db;
                self.dirty += blocked.serve(i, table, watched, emptied_log, out);
            }
        }
    }

    /// One bounded step of active expiry: deletes expired keys from segments that hold volatile
    /// keys, resuming where the last step stopped, until `deadline_us` (monotonic) passes.
    /// Returns the number of keys deleted.
    pub fn active_expire(&mut self, now_ms: u64, deadline_us: u64) -> usize {
        if !self.expire_enabled || REPLICA_MODE.load(Ordering::Relaxed) {
            return 0;
        }
        let mut deleted = 0;
        let dbs = self.dbs.len();
        let mut visited_dbs = 0;
        while visited_dbs <= dbs {
            let (d, seg) = self.expire_cursor;
            let db = &mut self.dbs[d];
            match db.table.records().volatile_segment_at(seg) {
                None => {
                    self.expire_cursor = ((d + 1) % dbs, 0);
                    visited_dbs += 1;
                }
                Some(s) => {
                    let keys =
                        db.table
                            .records()
                            .expired_in_segment(s, now_ms, EXPIRE_KEYS_PER_STEP);
                    for k in &keys {
                        db.table.remove(k);
                        Db::expired(
                            &mut db.watched,
                            &mut db.expired_log,
                            &mut db.expired_prop,
                            k,
                        );
                    }
                    deleted += keys.len();
                    if keys.len() < EXPIRE_KEYS_PER_STEP {
                        self.expire_cursor = (d, s + 1);
                    }
                    if crate::runtime::clock::mono_us() >= deadline_us {
                        break;
                    }
                }
            }
        }
        self.stats.expired_keys += deleted as u64;
        deleted
    }

    /// Takes the logged expiry deletions as (database, key).
    pub fn take_expired(&mut self, out: &mut Vec<(usize, SmallStr)>) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            out.extend(db.expired_log.drain(..).map(|k| (i, k)));
        }
    }

    /// Takes the expiry deletions kept for propagation as (database, key).
    pub fn take_expired_prop(&mut self, out: &mut Vec<(usize, SmallStr)>) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            out.extend(db.expired_prop.drain(..).map(|k| (i, k)));
        }
    }

    /// Takes the logged deletions of emptied collections as (database, key).
    pub fn take_emptied(&mut self, out: &mut Vec<(usize, SmallStr)>) {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            out.extend(db.emptied_log.drain(..).map(|k| (i, k)));
        }
    }

    pub fn key_count(&self) -> usize {
        self.dbs.iter().map(|d| d.table.len()).sum()
    }
}

/// A database plus the shard state a command needs alongside it.
pub struct DbRef<'a> {
    pub db: &'a mut Db,
    pub stats: &'a mut ShardStats,
    pub now_ms: u64,
    /// The time keys expire against: `now_ms`, or 0 (nothing expired) for the master's
    /// commands on a replica.
    pub expiry_clock_ms: u64,
    pub expire_enabled: bool,
    pub dirty: &'a mut u64,
    pub blocked_ready: &'a mut bool,
}

impl<'a> DbRef<'a> {
    /// Applies lazy expiry to `key`; returns true when the key is (now) absent.
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        let Some(expire_at_ms) = self.db.table.expiry_of(key) else {
            return true;
        };
        if expire_at_ms == 0 || expire_at_ms > self.expiry_clock_ms {
            return false;
        }
        if self.expire_enabled {
            self.db.table.remove(key);
            Db::expired(
                &mut self.db.watched,
                &mut self.db.expired_log,
                &mut self.db.expired_prop,
                key,
            );
            self.stats.expired_keys += 1;
        }
        true
    }

    /// The live entry for `key`, for writing (no hit/miss accounting).
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self
            .db
            .table
            .get_live_mut(key, self.expiry_clock_ms, self.expire_enabled)
        {
            Ok(e) => Some(e),
            Err(expired) => {
                if expired && self.expire_enabled {
                    self.stats.expired_keys += 1;
                    Db::expired(
                        &mut self.db.watched,
                        &mut self.db.expired_log,
                        &mut self.db.expired_prop,
                        key,
                    );
                }
                None
            }
        }
    }

    /// The live entry for `key`, for reading: counts a keyspace hit or miss. One probe of the
    /// table.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Entry> {
        DbRef {
            db: &mut *self.db,
            stats: &mut *self.stats,
            now_ms: self.now_ms,
            expiry_clock_ms: self.expiry_clock_ms,
            expire_enabled: self.expire_enabled,
            dirty: &mut *self.dirty,
            blocked_ready: &mut *self.blocked_ready,
        }
        .into_read(key)
    }

    /// `lookup_read` that hands out the entry for as long as the shard is borrowed (so a
    /// command can hold entries of several keys at once).
    pub fn into_read(self, key: &[u8]) -> Option<&'a mut Entry> {
        let DbRef {
            db,
            stats,
            now_ms,
            expiry_clock_ms,
            expire_enabled,
            ..
        } = self;
        match db.table.get_live_mut(key, expiry_clock_ms, expire_enabled) {
            Ok(e) => {
                stats.keyspace_hits += 1;
                e.access_s = lru_clock(now_ms);
                Some(e)
            }
            Err(expired) => {
                if expired && expire_enabled {
                    stats.expired_keys += 1;
                    Db::expired(
                        &mut db.watched,
                        &mut db.expired_log,
                        &mut db.expired_prop,
                        key,
                    );
                }
                stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Whether `key` exists (live), without touching statistics.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key)
    }

    /// Stores `value` under `key` with the given expiry (0 = none), replacing any old value.
    pub fn set(&mut self, key: &[u8], value: Value, expire_at_ms: u64) {
        self.db.table.insert(Entry {
            key: key.into(),
            value,
            expire_at_ms,
            access_s: lru_clock(self.now_ms),
        });
        self.touched(key);
    }

    /// Sets `key` to the string `bytes` (SET): like `set` with `Value::from_bytes`, but a long
    /// string over the long string just looked up reuses its buffer.
    pub fn set_bytes(&mut self, key: &[u8], bytes: &[u8], expire_at_ms: u64) {
        let access_s = lru_clock(self.now_ms);
        if self
            .db
            .table
            .overwrite_working_str(key, bytes, expire_at_ms, access_s)
        {
            self.touched(key);
        } else {
            self.set(key, Value::from_bytes(bytes), expire_at_ms);
        }
    }

    /// Puts a whole entry back (RENAME, MOVE, COPY, RESTORE): a change like any write, which
    /// may serve clients blocked on the key.
    pub fn insert_entry(&mut self, entry: Entry) {
        self.touched(&entry.key);
        self.db.table.insert(entry);
    }

    /// Removes a live key; returns the entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        if self.expire_if_needed(key) {
            return None;
        }
        let e = self.db.table.remove(key);
        if e.is_some() {
            self.touched(key);
        }
        e
    }

    /// Deletes a collection a command just emptied (Redis never keeps empty ones).
    pub fn remove_emptied(&mut self, key: &[u8]) {
        if self.remove(key).is_some() && LOG_DELETED.load(Ordering::Relaxed) {
            self.db.emptied_log.push(SmallStr::new(key));
        }
    }

    /// Sets (or with 0 clears) the expiry of a live key; false when the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: u64) -> bool {
        if self.expire_if_needed(key) {
            return false;
        }
        self.touched(key);
        self.db.table.set_expire(key, expire_at_ms)
    }

    /// Records a change to `key`: counts it for `save` points and dirties its watchers. Called
    /// by every write path here, and by commands after editing an entry in place (INCR,
    /// APPEND, collection commands).
    #[inline]
    pub fn touched(&mut self, key: &[u8]) {
        *self.dirty += 1;
        self.db.watched.signal(key);
        if self.db.blocked.touched(key) {
            *self.blocked_ready = true;
        }
    }

    /// Registers a client blocked on `key`.
    pub fn block(&mut self, key: &[u8], w: super::blocking::Waiter) {
        self.db.blocked.add(key, w);
    }

    /// WATCH: dirty `flag` when `key` changes.
    pub fn watch(&mut self, key: &[u8], flag: Arc<AtomicBool>) {
        self.db.watched.watch(key, flag);
    }

    pub fn is_expired(&self, e: &Entry) -> bool {
        e.expire_at_ms != 0 && e.expire_at_ms <= self.expiry_clock_ms
    }
}

/// The clock OBJECT IDLETIME measures with: seconds, wrapping in u32.
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchers_signal_and_are_pruned_once_gone() {
        let mut w = Watched::default();
        let flag = Arc::new(AtomicBool::new(false));
        w.watch(b"a", flag.clone());
        w.watch(b"b", flag.clone());
        w.watch(b"b", flag.clone());
        w.prune();
        assert_eq!(w.len(), 2, "a live watcher is kept");
        w.signal(b"a");
        assert!(flag.load(Ordering::Acquire));
        // A client that watched two keys and let go of its flag (UNWATCH, EXEC, close).
        let other = Arc::new(AtomicBool::new(false));
        w.watch(b"c", other.clone());
        w.watch(b"d", other.clone());
        drop(other);
        drop(flag);
        w.prune();
        assert!(w.is_empty(), "{} keys still watched", w.len());
    }
}
