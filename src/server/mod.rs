//! The server: connections, routing, cross-shard locking and the event loop of each thread.
//!
//! Owns connection state and the order in which commands run. It does not know what a command
//! does (that is `commands/`) nor how bytes reach the kernel (that is `runtime/`).
//!
//! Threads: `threads` event-loop workers, each with its own io_uring, its own shard of the
//! keyspace and the connections it accepted from the shared listening sockets. A command whose
//! keys all live on another thread's shard is usually shipped there (`ship.rs`; the exceptions
//! take the locks instead, see `locks.rs`); one that spans shards
//! takes their locks in order and runs atomically (`locks.rs`).

pub mod blocked;
pub mod client;
pub mod conn;
pub mod exec;
pub mod histogram;
pub mod load;
pub mod locks;
pub mod log;
pub mod multi;
pub mod pubsub;
pub mod replicas;
pub mod savepoint;
pub mod ship;
pub mod slowlog;
pub mod start;
pub mod view;
pub mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::runtime::Mailbox;
use client::ClientShared;
use view::ShardCell;

/// Distinct error prefixes INFO errorstats tracks (Redis's limit too).
pub const ERROR_KINDS_MAX: usize = 128;
/// Bytes of an error's first word kept as its kind.
const ERROR_KIND_BYTES_MAX: usize = 64;

/// `Shared::shutdown` values: running (0), then why it stops, which decides the final save.
pub const SHUTDOWN_DEFAULT: u8 = 1;
pub const SHUTDOWN_SAVE: u8 = 2;
pub const SHUTDOWN_NOSAVE: u8 = 3;
/// The start-up load failed: stop without saving, exit code 1.
pub const SHUTDOWN_LOAD_FAILED: u8 = 4;

/// Messages between event-loop threads.
pub enum Msg {
    /// Asks the receiver for the lock of its shard on behalf of connection `token` of `from`.
    LockRequest { from: usize, token: u64 },
    /// The lock of `shard` is granted to connection `token` of the receiver.
    LockGrant { shard: usize, token: u64 },
    /// The sender is done with the receiver's shard.
    Unlock,
    /// Single-shard commands for the receiver's shard, shipped by one connection (`ship.rs`).
    Exec(Box<ship::ExecBatch>),
    /// The replies to an `Exec`, for the connection that shipped it.
    ExecDone(Box<ship::ExecDone>),
    /// A published message for subscriber `token` of the receiver.
    Publish {
        token: u64,
        pattern: Option<Vec<u8>>,
        message: Arc<pubsub::Message>,
    },
    /// A blocked client `token` of the receiver was served (`reply`), or must run its command
    /// again (None).
    Unblocked { token: u64, reply: Option<Vec<u8>> },
    /// CLIENT UNBLOCK claimed blocked client `token` of the receiver.
    ClientUnblock { token: u64 },
    /// A line for the MONITOR client `token` of the receiver.
    Monitor { token: u64, line: Vec<u8> },
    /// Serve this newly accepted client connection (connections are dealt round the threads).
    AdoptClient { fd: i32 },
    /// Serve this socket as the connection of our master (one end of the replication link's
    /// socketpair): its commands may write on a read-only replica and get no replies.
    AdoptMaster { fd: i32, addr: String },
    /// The full-sync cut was taken for replica `token` of the receiver: send +FULLRESYNC, then
    /// the snapshot as reader `reader` of `sink`, then the stream from `offset`.
    FullSync {
        token: u64,
        sink: Arc<crate::persist::snapshot::StreamSink>,
        reader: usize,
        offset: u64,
        replid: String,
        eof_capable: bool,
    },
    /// Look at shared state again: kill flags, config, shutdown.
    Wake,
}

/// Counters of one worker; written only by that worker (relaxed), summed by INFO.
#[derive(Default)]
#[repr(align(64))]
pub struct WorkerStats {
    pub commands_processed: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub connected_clients: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub unexpected_error_replies: AtomicU64,
    pub total_error_replies: AtomicU64,
    /// Connections blocked on keys right now.
    pub blocked_clients: AtomicU64,
    /// Changes to this thread's shard since the last save, published by its cron.
    pub dirty: AtomicU64,
    /// Per command or subcommand run on this thread (`command::stat_index`): INFO commandstats.
    pub commands: Box<[CommandStats]>,
}

/// One command's counters on one thread (Redis's `cmdstat_<name>` fields).
#[derive(Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    /// Time spent running it, in ns (shown in µs).
    pub time_ns: AtomicU64,
    /// Refused before running (arity, auth, MISCONF, -LOADING ...).
    pub rejected_calls: AtomicU64,
    /// Ran and replied an error.
    pub failed_calls: AtomicU64,
    /// How long each run took (`latency-tracking yes`), made at the first run.
    pub latency: std::sync::OnceLock<histogram::Histogram>,
}

impl WorkerStats {
    /// Counters for every command of the table.
    pub fn new() -> WorkerStats {
        WorkerStats {
            commands: (0..crate::commands::command::stat_slots())
                .map(|_| CommandStats::default())
                .collect(),
            ..WorkerStats::default()
        }
    }

    /// Adds one to a counter only this thread writes (no read-modify-write instruction).
    #[inline]
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
    }
}

/// State shared by every thread. Everything on the request path is an atomic or is only touched
/// under a shard lock; the mutexes guard control-plane state (config, registry, slowlog).
pub struct Shared {
    pub config: Mutex<Config>,
    /// Bumped on every CONFIG SET so workers refresh their cached limits.
    pub config_epoch: AtomicU64,
    pub shards: Vec<ShardCell>,
    pub mailboxes: Vec<Mailbox<Msg>>,
    pub stats: Vec<WorkerStats>,
    /// Clients of each worker, by id.
    pub clients: Vec<Mutex<HashMap<u64, Arc<ClientShared>>>>,
    pub next_client_id: AtomicU64,
    pub run_id: String,
    pub start_ms: u64,
    pub port: u16,
    /// 0 running; 1 shutdown requested without save; 2 with save.
    pub shutdown: AtomicU8,
    pub slowlog: Mutex<slowlog::SlowLog>,
    pub latency: Mutex<slowlog::Latency>,
    /// Error replies by their first word (INFO errorstats); errors are rare, so one lock.
    pub errors: Mutex<HashMap<String, u64>>,
    pub monitors: Mutex<Vec<(usize, u64)>>,
    /// Pub/sub subscriptions of every thread's clients.
    pub pubsub: std::sync::RwLock<pubsub::Registry>,
    pub monitor_count: AtomicUsize,
    /// Accepted connections so far: the next one is served by thread `accepted % threads`.
    pub accepted: AtomicUsize,
    /// Saves: LASTSAVE, INFO persistence, the background save in progress.
    pub save: Arc<crate::persist::snapshot::SaveStatus>,
    pub stat_numcommands_reset_ms: AtomicU64,
    pub active_expire: AtomicBool,
    pub executable: String,
    /// The write stream (propagated commands) for the AOF and replicas.
    pub feed: Arc<crate::repl::feed::Feed>,
    /// The append-only file (off unless `appendonly yes`).
    pub aof: Arc<crate::persist::aof::Aof>,
    /// Replication, the master's side: IDs, replicas, syncs waiting for a cut.
    pub repl: crate::repl::master::ReplState,
    /// The link to our master while we are a replica (REPLICAOF / `replicaof`).
    pub link: Mutex<Option<crate::repl::replica::Link>>,
}

impl Shared {
    pub fn workers(&self) -> usize {
        self.shards.len()
    }

    /// Sends a message, retrying while the target mailbox is full (it drains every loop turn).
    pub fn send(&self, to: usize, msg: Msg) {
        let mut msg = msg;
        let mut spins = 0u32;
        loop {
            match self.mailboxes[to].push(msg) {
                Ok(()) => return,
                Err(m) => {
                    msg = m;
                    spins += 1;
                    if spins > 64 {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Counts an error reply (`-PREFIX text\r\n`) under its first word, for INFO errorstats.
    /// Past `ERROR_KINDS_MAX` kinds new ones are not tracked (as Redis caps its table).
    pub fn count_error(&self, reply: &[u8]) {
        let body = reply.strip_prefix(b"-").unwrap_or(reply);
        let end = body
            .iter()
            .position(|&c| c == b' ' || c == b'\r')
            .unwrap_or(body.len());
        let kind = String::from_utf8_lossy(&body[..end.min(ERROR_KIND_BYTES_MAX)]);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // Allocates only for a kind not seen yet.
        if let Some(n) = errors.get_mut(kind.as_ref()) {
            *n += 1;
        } else if errors.len() < ERROR_KINDS_MAX {
            errors.insert(kind.into_owned(), 1);
        }
    }

    /// The status of our replication link, while we are a replica.
    pub fn link_status(&self) -> Option<Arc<crate::repl::replica::LinkStatus>> {
        self.link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|l| l.status.clone())
    }

    /// The replication history we serve (FULLRESYNC, +CONTINUE, INFO): our own, or while we
    /// are a replica that has synced, our master's ID with its offsets, so that our replicas
    /// follow the same history as the master's other replicas (PSYNC2), as on Redis, and the
    /// past history the link learned (replid2).
    pub fn repl_ids(&self) -> crate::repl::master::Ids {
        let mut ids = self.repl.ids();
        if let Some(link) = self.link_status() {
            let master = link
                .replid
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if !master.is_empty() {
                ids.replid = master;
            }
            if let Some((replid2, second_offset)) =
                link.past.lock().unwrap_or_else(|e| e.into_inner()).clone()
            {
                ids.replid2 = replid2;
                ids.second_offset = second_offset;
            }
        }
        ids
    }

    /// Kills every client of `kind` (`client::KIND_REPLICA`, `KIND_MASTER`...), as
    /// `kill_client` does one.
    pub fn kill_kind(&self, kind: u8) {
        for c in self.all_clients() {
            if c.kind.load(Ordering::Relaxed) == kind {
                self.kill_client(&c);
            }
        }
    }

    /// Closes client `c` on its own thread (after a command it has parked, if any).
    pub fn kill_client(&self, c: &ClientShared) {
        // Release: a thread running the client's shipped commands checks the flag (Acquire)
        // before each, so nothing of the client runs once CLIENT KILL has answered.
        c.kill.store(true, Ordering::Release);
        let _ = self.mailboxes[c.worker].push(Msg::Wake);
    }

    /// Asks worker `w` to look at shared state again (see `wake_all`).
    pub fn wake(&self, w: usize) {
        let _ = self.mailboxes[w].push(Msg::Wake);
    }

    /// Asks every worker to look at shared state again. A full mailbox already guarantees a
    /// wake-up, so a failed push is fine (and never spins, even when a worker wakes itself).
    pub fn wake_all(&self) {
        for w in 0..self.workers() {
            let _ = self.mailboxes[w].push(Msg::Wake);
        }
    }

    pub fn total(&self, f: impl Fn(&WorkerStats) -> &AtomicU64) -> u64 {
        self.stats
            .iter()
            .map(|s| f(s).load(Ordering::Relaxed))
            .sum()
    }

    /// A snapshot of every client, across workers.
    pub fn all_clients(&self) -> Vec<Arc<ClientShared>> {
        let mut v: Vec<_> = self
            .clients
            .iter()
            .flat_map(|m| {
                m.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn config(&self) -> std::sync::MutexGuard<'_, Config> {
        self.config.lock().unwrap_or_else(|e| e.into_inner())
    }
}
