//! Cross-shard atomicity: ordered shard locks, granted by the thread that owns each shard.
//!
//! The scheme. Every shard has one lock, managed by its owner thread only (no atomics, no shared
//! lock words). A command computes the set of shards its keys live on (all shards for
//! keyspace-wide commands). If that set is just the local shard and its lock is free, the command
//! runs at once: the fast path, no messages. If it is one other shard, the command is usually
//! shipped to that shard's owner (`ship.rs`), which runs it as its own local command: when its
//! lock is free, or else as a `Holder::Batch` queued on the lock like any other holder. (Not
//! shipped, and so taking the lock path below: commands that change client state such as
//! WATCH, blocking commands, and any command of a client with CLIENT REPLY OFF/SKIP or in
//! MONITOR mode; see `ship::shippable` and `Worker::may_ship`.) Otherwise (several
//! shards, or the local lock is taken) the connection acquires the locks one at a
//! time in ascending shard order: the local one directly, remote ones by a `LockRequest` message
//! answered by `LockGrant`. Each owner grants its lock to one holder at a time, FIFO. While the
//! lock of a shard is held elsewhere, its owner thread keeps serving keyless commands and other
//! messages, but runs nothing that touches that shard (not even active expiry).
//!
//! Once the connection holds every lock it needs it runs the command on its own thread, reading
//! and writing the locked shards directly (`ShardView`), then releases them (`Unlock`).
//!
//! Why it is atomic and serializable: every command, single-key or not, touches a shard only while
//! holding its lock, so two commands that share a shard are ordered by that lock, and a
//! multi-shard command holds all its locks across its whole execution (two-phase locking: all
//! acquired before any release). No reader can see half of an MSET or RENAME.
//!
//! Why it cannot deadlock: locks are requested in ascending shard order and waiting is
//! asynchronous (a waiting connection is parked; its thread keeps running its loop and answering
//! lock requests), so the wait-for graph follows increasing shard ids and has no cycle.

use std::collections::VecDeque;

/// Who holds or waits for a shard lock: a connection of this thread, or of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Local(u64),
    Remote {
        worker: usize,
        token: u64,
    },
    /// A batch of shipped single-shard commands parked on this thread (`ship.rs`).
    Batch(u64),
    /// The start-up load (`load.rs`): holds every lock from the start until it ends; never
    /// a waiter.
    Loader,
}

/// The lock of the shard this thread owns.
#[derive(Default)]
pub struct ShardLock {
    holder: Option<Holder>,
    waiters: VecDeque<Holder>,
}

impl ShardLock {
    /// A lock already held by `h` (the start-up loader's, see `load.rs`).
    pub fn held_by(h: Holder) -> ShardLock {
        ShardLock {
            holder: Some(h),
            waiters: VecDeque::new(),
        }
    }

    /// Free and nobody queued: the fast path may run without taking it.
    #[inline]
    pub fn is_free(&self) -> bool {
        self.holder.is_none() && self.waiters.is_empty()
    }

    pub fn holder(&self) -> Option<Holder> {
        self.holder
    }

    /// Takes the lock for `h` if it is free, else queues `h`. Returns whether `h` now holds it.
    pub fn acquire(&mut self, h: Holder) -> bool {
        if self.is_free() {
            self.holder = Some(h);
            true
        } else {
            self.waiters.push_back(h);
            false
        }
    }

    /// Releases the lock and returns the next waiter, which now holds it. `alive` tells whether a
    /// local waiter still exists (a closed connection is skipped).
    pub fn release(&mut self, mut alive: impl FnMut(u64) -> bool) -> Option<Holder> {
        self.holder = None;
        while let Some(h) = self.waiters.pop_front() {
            if let Holder::Local(t) = h {
                if !alive(t) {
                    continue;
                }
            }
            self.holder = Some(h);
            return Some(h);
        }
        None
    }

    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }
}

/// One step of acquiring the shard locks in `need`, in ascending shard order, for `token` on
/// thread `me`: takes our own shard's lock directly when it is next (queueing `token` when it
/// is busy), or asks the next remote owner once through `request(shard)`. True when every lock
/// in `need` is held; false when a grant must come first (it arrives as `LockGrant` or through
/// `grant_local`, and the caller steps again).
pub fn acquire_in_order(
    me: usize,
    need: u64,
    held: &mut u64,
    requested: &mut u64,
    lock: &mut ShardLock,
    token: u64,
    mut request: impl FnMut(usize),
) -> bool {
    loop {
        let missing = need & !*held;
        if missing == 0 {
            return true;
        }
        let next = missing.trailing_zeros() as usize;
        let bit = 1u64 << next;
        if next == me {
            if lock.acquire(Holder::Local(token)) {
                *held |= bit;
                continue;
            }
            return false;
        }
        if *requested & bit == 0 {
            *requested |= bit;
            request(next);
        }
        return false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_skips_dead_waiters() {
        let mut l = ShardLock::default();
        assert!(l.acquire(Holder::Local(1)));
        assert!(!l.acquire(Holder::Local(2)));
        assert!(!l.acquire(Holder::Remote {
            worker: 1,
            token: 9
        }));
        assert!(!l.is_free());
        assert_eq!(
            l.release(|t| t != 2),
            Some(Holder::Remote {
                worker: 1,
                token: 9
            })
        );
        assert_eq!(l.release(|_| true), None);
        assert!(l.is_free());
    }
}
