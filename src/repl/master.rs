//! The master's side of replication, as shared state every thread can read: the replication
//! IDs and offsets of PSYNC2, the replicas attached (for INFO, ROLE and WAIT), the replicas
//! waiting for a full sync, and the sync counters.
//!
//! A replica's journey (the connection lives on one event-loop thread; `server/replicas.rs`
//! drives it):
//!
//! ```text
//! PSYNC ──► partial possible? ── yes ─► +CONTINUE <replid>, then the backlog from its offset ─┐
//!               │ no                                                                          │
//!               ▼                                                                             ▼
//!         wait_bgsave (queued here) ─► worker 0 takes the cut for every waiting replica ─► online:
//!               +FULLRESYNC <replid> <offset>, then the snapshot in the $EOF: format,         the
//!               then the backlog from <offset>                                              stream
//! ```

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// One replica as INFO replication lists it.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    pub client_id: u64,
    pub ip: String,
    pub listening_port: u16,
    pub state: &'static str,
    /// The offset its last REPLCONF ACK reported, and when (Unix ms).
    pub ack_offset: u64,
    pub ack_ms: u64,
}

/// A replica waiting for the next full-sync cut: its thread and connection token, and whether
/// it takes the `$EOF:` (diskless) framing.
#[derive(Clone, Copy, Debug)]
pub struct Waiting {
    pub worker: usize,
    pub token: u64,
    pub eof_capable: bool,
    pub since_ms: u64,
}

pub struct ReplState {
    ids: Mutex<Ids>,
    pub replicas: Mutex<Vec<ReplicaInfo>>,
    pub waiting: Mutex<Vec<Waiting>>,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Unix ms of the last PING sent into the stream.
    pub last_ping_ms: AtomicU64,
    /// Unix ms when the last replica left (repl-backlog-ttl counts from there).
    pub no_replicas_since_ms: AtomicI64,
    /// Bit `w` set: thread `w` hosts replica connections (woken when the stream moves).
    pub hosts: AtomicU64,
    /// Replicas online whose last ACK is at most `min-replicas-max-lag` old (worker 0's cron).
    pub good_replicas: AtomicU64,
    /// We are a replica whose link is down (for `replica-serve-stale-data no`).
    pub stale: std::sync::atomic::AtomicBool,
    /// A replica joined `waiting`: worker 0 looks at once instead of at its next cron tick,
    /// so `repl-diskless-sync-delay 0` means no wait.
    pub cut_wanted: std::sync::atomic::AtomicBool,
}

/// PSYNC2's identities: the current history (`replid`) and the one it continues (`replid2`,
/// valid up to `second_offset`).
#[derive(Clone, Debug)]
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    pub second_offset: i64,
}

impl Default for ReplState {
    fn default() -> ReplState {
        ReplState {
            ids: Mutex::new(Ids {
                replid: random_id(),
                replid2: "0".repeat(40),
                second_offset: -1,
            }),
            replicas: Default::default(),
            waiting: Default::default(),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            last_ping_ms: AtomicU64::new(0),
            no_replicas_since_ms: AtomicI64::new(-1),
            hosts: AtomicU64::new(0),
            good_replicas: AtomicU64::new(0),
            stale: std::sync::atomic::AtomicBool::new(false),
            cut_wanted: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl ReplState {
    pub fn ids(&self) -> Ids {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether a PSYNC for (`replid`, `offset`) may continue from a backlog holding positions
    /// `[start, end]` (PSYNC2: our own history, or the one we continued up to where we forked).
    pub fn can_continue(ids: &Ids, replid: &str, offset: u64, start: u64, end: u64) -> bool {
        let known = replid == ids.replid
            || (replid == ids.replid2
                && ids.second_offset >= 0
                && offset < ids.second_offset as u64);
        known && offset >= start && offset <= end
    }

    /// A replica becomes a master: a new history, continuing the one it followed (up to
    /// `offset`), so that history's replicas may continue partially (PSYNC2).
    pub fn promote(&self, old_replid: &str, offset: u64) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.replid2 = old_replid.to_string();
        ids.second_offset = offset as i64 + 1;
        ids.replid = random_id();
    }

    /// At start-up, a replica whose dump file recorded its master's history takes it as its
    /// own, so its first PSYNC continues it (Redis's replica does the same).
    pub fn adopt(&self, replid: &str) {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).replid = replid.to_string();
    }

    /// A new history with no past (the backlog was freed).
    pub fn new_history(&self) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.replid = random_id();
        ids.replid2 = "0".repeat(40);
        ids.second_offset = -1;
    }

    pub fn register(&self, info: ReplicaInfo) {
        let mut r = self.replicas.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|x| x.client_id != info.client_id);
        r.push(info);
        self.no_replicas_since_ms.store(-1, Ordering::Relaxed);
    }

    pub fn update(&self, client_id: u64, f: impl FnOnce(&mut ReplicaInfo)) {
        let mut r = self.replicas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = r.iter_mut().find(|x| x.client_id == client_id) {
            f(x);
        }
    }

    pub fn unregister(&self, client_id: u64, now_ms: u64) {
        let mut r = self.replicas.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|x| x.client_id != client_id);
        if r.is_empty() {
            self.no_replicas_since_ms
                .store(now_ms as i64, Ordering::Relaxed);
        }
    }

    pub fn replica_count(&self) -> usize {
        self.replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Replicas online that acknowledged within `max_lag_s` seconds of `now_ms`.
    pub fn count_good(&self, now_ms: u64, max_lag_s: u64) -> u64 {
        self.replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.state == "online" && now_ms.saturating_sub(r.ack_ms) <= max_lag_s * 1000)
            .count() as u64
    }

    /// Replicas that acknowledged at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.state == "online" && r.ack_offset >= offset)
            .count()
    }
}

/// 40 random hex digits (a replication ID, or the `$EOF:` mark of a diskless transfer).
pub fn random_id() -> String {
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        let h = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            (s.len(), std::time::SystemTime::now()),
        );
        s.push_str(&format!("{h:016x}"));
    }
    s.truncate(40);
    s
}
