//! `save <seconds> <changes>` points: worker 0 starts a background save when enough changes
//! are old enough, as Redis's serverCron does. The same trigger starts AOF rewrites that were
//! scheduled (BGREWRITEAOF during a save, CONFIG SET appendonly yes) or that the AOF's growth
//! calls for (`auto-aof-rewrite-percentage` / `-min-size`).
//!
//! A background save's cut must be taken while every shard is held, like the BGSAVE command
//! does (`persist::snapshot`). Cron has no connection, so worker 0 acquires the shard locks
//! under a reserved holder token (`SAVE_TOKEN`) with the same protocol connections use:
//! ascending shard order, the local lock directly, remote ones by LockRequest/LockGrant. When
//! it holds them all it starts the save and releases them. Changes are counted per shard by
//! its owner and published in `WorkerStats::dirty` each cron tick.

use std::sync::atomic::Ordering;

use super::locks::acquire_in_order;
use super::worker::Worker;
use super::{log, Msg};
use crate::runtime::clock::unix_ms;

/// The lock-holder token of the save-point acquisition (no connection has it: connection
/// tokens carry a 32-bit slot, never all ones).
pub const SAVE_TOKEN: u64 = u64::MAX;
/// After a failed background save, the next attempt waits this long (Redis's retry delay).
const RETRY_DELAY_S: u64 = 5;

/// Shard locks the save-point trigger needs, holds and has asked for, and what it starts.
pub struct CronSave {
    need: u64,
    held: u64,
    requested: u64,
    job: Job,
}

/// What worker 0 starts once it holds every shard.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Job {
    Bgsave,
    AofRewrite,
    /// The cut for the replicas waiting for a full sync (`replicas.rs`).
    ReplSync,
}

/// Parses the `save` directive's value ("3600 1 300 100") into (seconds, changes) pairs.
pub fn save_points(value: &str) -> Vec<(u64, u64)> {
    let nums: Vec<u64> = value
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

impl Worker {
    /// On worker 0's cron: starts acquiring every shard when a save point is due, or when a
    /// BGSAVE SCHEDULE waits for the previous save to end.
    pub fn maybe_save_point(&mut self) {
        if self.id != 0 || self.cron_save.is_some() {
            return;
        }
        let status = &self.shared.save;
        let aof = &self.shared.aof;
        if aof.is_on()
            && !self.limits.appendonly
            && !aof.status.rewrite_in_progress.load(Ordering::Acquire)
        {
            // A rewrite BGREWRITEAOF ran with the AOF configured off: the files are complete
            // now, so stop appending to them.
            aof.close(&self.shared.feed);
        }
        if status.in_progress.load(Ordering::Acquire)
            || aof.status.rewrite_in_progress.load(Ordering::Acquire)
            || crate::store::db::snapshot_running()
        {
            return; // one snapshot at a time (a full sync's included)
        }
        if self.full_sync_due() {
            self.acquire_for(Job::ReplSync);
            return;
        }
        if aof.status.rewrite_scheduled.swap(false, Ordering::AcqRel) {
            self.acquire_for(Job::AofRewrite);
            return;
        }
        if aof.wants_rewrite(
            self.limits.aof_rewrite_percent,
            self.limits.aof_rewrite_min_bytes,
        ) {
            let cur = aof.status.current_bytes.load(Ordering::Relaxed);
            let base = aof.status.base_bytes.load(Ordering::Relaxed).max(1);
            log::notice(&format!(
                "Starting automatic rewriting of AOF on {}% growth",
                cur.saturating_sub(base) * 100 / base
            ));
            self.acquire_for(Job::AofRewrite);
            return;
        }
        if status.scheduled.swap(false, Ordering::AcqRel) {
            self.acquire_for(Job::Bgsave);
            return;
        }
        if self.limits.save_points.is_empty() {
            return;
        }
        let now_s = unix_ms() / 1000;
        let since_s = now_s.saturating_sub(status.lastsave_s.load(Ordering::Relaxed));
        let failed = !status.last_bgsave_ok.load(Ordering::Relaxed);
        let last_try_s = status.last_try_s.load(Ordering::Relaxed);
        if failed && now_s.saturating_sub(last_try_s) < RETRY_DELAY_S {
            return;
        }
        let changes: u64 = self
            .shared
            .stats
            .iter()
            .map(|s| s.dirty.load(Ordering::Relaxed))
            .sum();
        let Some(&(secs, _)) = self
            .limits
            .save_points
            .iter()
            .find(|&&(secs, min_changes)| changes >= min_changes && since_s >= secs)
        else {
            return;
        };
        log::notice(&format!("{changes} changes in {secs} seconds. Saving..."));
        self.acquire_for(Job::Bgsave);
    }

    /// Replicas wait for a full sync and the diskless delay has passed for the first of them
    /// (or as many as `repl-diskless-sync-max-replicas` wait).
    fn full_sync_due(&self) -> bool {
        let waiting = self
            .shared
            .repl
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(first) = waiting.iter().map(|w| w.since_ms).min() else {
            return false;
        };
        let full = self.limits.repl_sync_max_replicas > 0
            && waiting.len() >= self.limits.repl_sync_max_replicas;
        full || unix_ms().saturating_sub(first) >= self.limits.repl_sync_delay_s * 1000
    }

    /// Starts taking every shard lock for `job`.
    fn acquire_for(&mut self, job: Job) {
        let all = (1u64 << self.shared.workers()) - 1;
        self.cron_save = Some(CronSave {
            need: all,
            held: 0,
            requested: 0,
            job,
        });
        self.advance_save();
    }

    /// A lock for the save-point trigger was granted (`shard` is ours or a remote one).
    pub fn on_save_grant(&mut self, shard: usize) {
        match self.cron_save.as_mut() {
            Some(s) if s.need & (1u64 << shard) != 0 => {
                s.held |= 1u64 << shard;
                self.advance_save();
            }
            // Nothing is waiting for it any more: give it back.
            _ if shard == self.id => self.release(1u64 << shard),
            _ => self.shared.send(shard, Msg::Unlock),
        }
    }

    /// Acquires the next lock in shard order; with all of them, starts the save and releases.
    fn advance_save(&mut self) {
        let me = self.id;
        let Some(s) = self.cron_save.as_mut() else {
            return;
        };
        let shared = &self.shared;
        let all_held = acquire_in_order(
            me,
            s.need,
            &mut s.held,
            &mut s.requested,
            &mut self.lock,
            SAVE_TOKEN,
            |next| {
                let token = SAVE_TOKEN;
                shared.send(next, Msg::LockRequest { from: me, token })
            },
        );
        if !all_held {
            return; // a grant comes through `LockGrant` or `grant_local`, then we step again
        }
        let Some(CronSave { held, job, .. }) = self.cron_save.take() else {
            return;
        };
        let shared = self.shared.clone();
        {
            // SAFETY: this thread holds the lock of every shard in `held` (all of them), granted
            // through the lock protocol, so no other thread touches them until `release` below.
            let mut view = unsafe { super::view::ShardView::new(&shared.shards, held) };
            // Exact now: every shard is held, so none starts or ends a snapshot meanwhile.
            let busy = crate::store::db::snapshot_running();
            match job {
                // A BGSAVE or BGREWRITEAOF took its cut while we waited for the locks: ours
                // waits for it (a replica stays in the waiting list; a save is rescheduled).
                Job::Bgsave if busy => shared.save.scheduled.store(true, Ordering::Release),
                _ if busy => {}
                Job::Bgsave => {
                    shared
                        .save
                        .last_try_s
                        .store(unix_ms() / 1000, Ordering::Relaxed);
                    crate::commands::persistence::start_background_save(&shared, &mut view);
                }
                Job::ReplSync => super::replicas::start_full_sync(&shared, &mut view),
                Job::AofRewrite => {
                    // Failures are logged and shown in INFO; auto-rewrite tries again later.
                    let _ = crate::commands::aof::start_rewrite(&shared, &mut view);
                }
            }
        }
        self.release(held);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_save_points() {
        assert_eq!(
            super::save_points("3600 1 300 100 60 10000"),
            vec![(3600, 1), (300, 100), (60, 10000)]
        );
        assert!(super::save_points("").is_empty());
    }
}
