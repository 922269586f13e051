//! `ShardView`: the shards a command may touch while it runs.
//!
//! A command runs either on the thread that owns its shard (local commands, and single-shard
//! commands shipped there, see `ship.rs`), or, when it spans shards, on its connection's thread
//! after that thread has acquired the lock of every shard involved (see `locks.rs`). The view
//! hands out one `&mut Shard` at a time, and only for shards whose lock is held (a thread holds
//! its own shard's lock implicitly while that lock is free).

use std::cell::UnsafeCell;
use std::marker::PhantomData;

use crate::store::db::DbRef;
use crate::store::{shard_of, Shard};

/// A shard's data, owned by the thread whose lock it is.
pub struct ShardCell(UnsafeCell<Shard>);

// SAFETY: a ShardCell is only dereferenced through `ShardView`, which exists only while the
// current thread holds that shard's lock. Locks are granted one holder at a time by the owning
// thread, and grants and releases travel through the mailboxes (release/acquire), so every access
// happens-after the previous holder's last access.
unsafe impl Sync for ShardCell {}

impl ShardCell {
    pub fn new(shard: Shard) -> ShardCell {
        ShardCell(UnsafeCell::new(shard))
    }

    /// Exclusive access through exclusive ownership (start-up, before any thread runs).
    pub fn get_mut(&mut self) -> &mut Shard {
        self.0.get_mut()
    }
}

pub struct ShardView<'a> {
    cells: &'a [ShardCell],
    held: u64,
    /// The client's selected database, used by `db`.
    pub dbi: usize,
    /// Unix time (ms) of the running command: the clock expiry is judged by.
    pub now_ms: u64,
    _borrow: PhantomData<&'a mut Shard>,
}

impl<'a> ShardView<'a> {
    /// # Safety
    /// The caller holds the lock of every shard whose bit is set in `held`, for all of `'a`.
    pub unsafe fn new(cells: &'a [ShardCell], held: u64) -> ShardView<'a> {
        ShardView {
            cells,
            held,
            dbi: 0,
            now_ms: 0,
            _borrow: PhantomData,
        }
    }

    /// A view of no shards (keyless commands).
    pub fn empty(cells: &'a [ShardCell]) -> ShardView<'a> {
        ShardView {
            cells,
            held: 0,
            dbi: 0,
            now_ms: 0,
            _borrow: PhantomData,
        }
    }

    /// The same shards for a shorter borrow (a command running commands, like AOF replay).
    pub fn reborrow(&mut self) -> ShardView<'_> {
        ShardView {
            cells: self.cells,
            held: self.held,
            dbi: self.dbi,
            now_ms: self.now_ms,
            _borrow: PhantomData,
        }
    }

    pub fn count(&self) -> usize {
        self.cells.len()
    }

    pub fn held_mask(&self) -> u64 {
        self.held
    }

    /// Whether every shard is held (keyspace-wide commands).
    pub fn holds_all(&self) -> bool {
        self.held.count_ones() as usize == self.cells.len()
    }

    /// Shard `i`. Panics when its lock is not held: that is a routing bug, never input-driven.
    pub fn shard(&mut self, i: usize) -> &mut Shard {
        assert!(
            self.held & (1u64 << i) != 0,
            "shard {i} used without its lock"
        );
        // SAFETY: the lock for shard `i` is held (checked above; see `new`), and `&mut self`
        // ensures one live reference at a time.
        unsafe { &mut *self.cells[i].0.get() }
    }

    /// The shard that owns `key`.
    pub fn shard_for(&mut self, key: &[u8]) -> &mut Shard {
        let i = shard_of(key, self.cells.len());
        self.shard(i)
    }

    /// The selected database on the shard that owns `key`.
    pub fn db(&mut self, key: &[u8]) -> DbRef<'_> {
        let dbi = self.dbi;
        self.db_at(dbi, key)
    }

    /// Database `index` on the shard that owns `key` (MOVE, COPY ... DB, SWAPDB).
    pub fn db_at(&mut self, index: usize, key: &[u8]) -> DbRef<'_> {
        let now = self.now_ms;
        let shard = self.shard_for(key);
        shard.now_ms = now;
        shard.db(index)
    }

    /// Indexes of the held shards, ascending.
    pub fn held(&self) -> impl Iterator<Item = usize> {
        let held = self.held;
        (0..self.cells.len()).filter(move |i| held & (1u64 << i) != 0)
    }
}
