//! The event loop of one thread: accept, receive, parse, run, send; then one submit.
//!
//! Each turn: reap completions (new connections, received bytes, finished sends, mailbox
//! wake-ups), run what they made runnable, queue the sends, and submit everything in one
//! `io_uring_enter` that also waits for the next completion or the next cron tick. Nothing spins:
//! an idle server sleeps in that wait and wakes `hz` times a second for cron.

use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use slab::Slab;

use super::client::{ClientShared, ClientState};
use super::conn::{Conn, RECV_BYTES_MIN};
use super::locks::{Holder, ShardLock};
use super::{log, Msg, Shared};
use crate::config::{Config, OutputLimit};
use crate::runtime::clock::{mono_ns, mono_us, unix_ms};
use crate::runtime::{Completion, Ring};

/// Keys a background-save step copies between checks of its time budget.
const SAVE_STEP_KEYS: usize = 2_000;
/// Time an idle loop turn spends copying a snapshot before it looks for I/O again.
const IDLE_SAVE_SLICE_US: u64 = 200;
/// The share of each cron tick (per mille) a busy loop gives a running snapshot: the least,
/// while the writes kept for replicas waiting on it are under the first pressure mark (per
/// mille of their output limit), rising to the most at the second.
const SAVE_BUSY_SHARE_PERMILLE: (u64, u64) = (60, 750);
const SAVE_PRESSURE_PERMILLE: (u64, u64) = (250, 750);

/// The share of a busy cron tick (per mille) a snapshot gets when the bytes kept for the
/// replicas waiting on it are at `pressure_permille` of their limit (see `save_step`).
pub(super) fn save_share_permille(pressure_permille: u64) -> u64 {
    let (least, most) = SAVE_BUSY_SHARE_PERMILLE;
    let (low, high) = SAVE_PRESSURE_PERMILLE;
    let p = pressure_permille.clamp(low, high);
    least + (most - least) * (p - low) / (high - low)
}
const KIND_SHIFT: u32 = 60;
const KIND_ACCEPT: u64 = 1;
const KIND_RECV: u64 = 2;
const KIND_SEND: u64 = 3;
const KIND_WAKE: u64 = 4;
/// A blocked connection's watch for its client hanging up.
pub(super) const KIND_HUP: u64 = 5;
/// Submission-queue entries per ring.
const RING_ENTRIES: u32 = 4096;
/// Largest single send handed to the kernel.
const SEND_BYTES_MAX: usize = 1 << 30;

pub(super) fn op_token(kind: u64, slot: usize, gen: u32) -> u64 {
    (kind << KIND_SHIFT) | (((gen as u64) & 0x0fff_ffff) << 32) | slot as u64
}

/// Config values read on the request path, refreshed when `config_epoch` moves.
pub struct Limits {
    pub epoch: u64,
    pub proto_max_bulk_len: u64,
    pub query_buffer_bytes_max: u64,
    pub obuf_normal: OutputLimit,
    pub obuf_replica: OutputLimit,
    pub obuf_pubsub: OutputLimit,
    pub maxclients: u64,
    pub timeout_s: u64,
    pub auth_required: bool,
    pub protected_mode: bool,
    pub hz: u32,
    pub slowlog_slower_than_us: i64,
    pub slowlog_len_max: u64,
    pub latency_threshold_ms: u64,
    /// `latency-tracking`: per-command latency histograms (INFO latencystats).
    pub latency_tracking: bool,
    pub databases: usize,
    pub tcp_keepalive_s: u64,
    /// `rdb-key-save-delay`: µs per key a background save spends (a test knob; 0 = full speed).
    pub rdb_key_save_delay_us: i64,
    /// `stop-writes-on-bgsave-error yes` and save points configured: a failed background save
    /// stops writes (MISCONF).
    pub stop_writes_on_save_error: bool,
    /// `save` points as (seconds, changes).
    pub save_points: Vec<(u64, u64)>,
    /// Compact-encoding thresholds of the collection types.
    pub hash: crate::store::hash::HashLimits,
    pub list: crate::store::list::ListLimits,
    pub set: crate::store::set::SetLimits,
    pub zset: crate::store::zset::ZSetLimits,
    /// `notify-keyspace-events` classes (0: off).
    pub notify: u32,
    /// `auto-aof-rewrite-percentage` (0: off) and `auto-aof-rewrite-min-size`.
    pub aof_rewrite_percent: u64,
    /// `appendonly`.
    pub appendonly: bool,
    /// `replica-read-only`.
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`.
    pub replica_serve_stale: bool,
    /// `min-replicas-to-write` (0: off) and `min-replicas-max-lag` (seconds).
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag_s: u64,
    /// `repl-diskless-sync-delay` (seconds; 0 when `repl-diskless-sync no`) and
    /// `repl-diskless-sync-max-replicas`.
    pub repl_sync_delay_s: u64,
    pub repl_sync_max_replicas: usize,
    /// `repl-ping-replica-period` in seconds.
    pub repl_ping_period_s: u64,
    /// `repl-timeout` and `repl-backlog-ttl` in seconds.
    pub repl_timeout_s: u64,
    pub repl_backlog_ttl_s: u64,
    pub aof_rewrite_min_bytes: u64,
}

impl Limits {
    pub fn from_config(c: &Config, epoch: u64) -> Limits {
        Limits {
            epoch,
            proto_max_bulk_len: c.proto_max_bulk_len,
            query_buffer_bytes_max: c.client_query_buffer_limit,
            obuf_normal: c.client_output_buffer_limit_normal,
            obuf_replica: c.client_output_buffer_limit_replica,
            obuf_pubsub: c.client_output_buffer_limit_pubsub,
            maxclients: c.maxclients,
            timeout_s: c.timeout_s,
            auth_required: c.requirepass.is_some(),
            protected_mode: c.protected_mode,
            hz: c.hz.clamp(1, 500),
            rdb_key_save_delay_us: c.get_int("rdb-key-save-delay").unwrap_or(0),
            save_points: super::savepoint::save_points(
                &c.get_matching(b"save")
                    .first()
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            ),
            stop_writes_on_save_error: c.get_bool("stop-writes-on-bgsave-error").unwrap_or(true)
                && c.get_matching(b"save")
                    .first()
                    .is_some_and(|(_, v)| !v.is_empty()),
            slowlog_slower_than_us: c.slowlog_log_slower_than_us,
            slowlog_len_max: c.slowlog_max_len,
            latency_threshold_ms: c.latency_monitor_threshold_ms,
            latency_tracking: c.get_bool("latency-tracking").unwrap_or(true),
            databases: c.databases,
            tcp_keepalive_s: c.tcp_keepalive_s,
            hash: crate::store::hash::HashLimits {
                entries_max: config_usize(c, "hash-max-listpack-entries", 512),
                value_bytes_max: config_usize(c, "hash-max-listpack-value", 64),
            },
            list: crate::store::list::ListLimits {
                node_size: c
                    .get("list-max-listpack-size")
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(-2),
            },
            set: crate::store::set::SetLimits {
                intset_entries_max: config_usize(c, "set-max-intset-entries", 512),
            },
            notify: c.notify_keyspace_events(),
            appendonly: c.get_bool("appendonly").unwrap_or(false),
            replica_read_only: c.get_bool("replica-read-only").unwrap_or(true),
            replica_serve_stale: c.get_bool("replica-serve-stale-data").unwrap_or(true),
            min_replicas_to_write: c.get_int("min-replicas-to-write").unwrap_or(0).max(0) as u64,
            min_replicas_max_lag_s: c.get_int("min-replicas-max-lag").unwrap_or(10).max(0) as u64,
            repl_sync_delay_s: if c.get_bool("repl-diskless-sync").unwrap_or(true) {
                c.get_int("repl-diskless-sync-delay").unwrap_or(5).max(0) as u64
            } else {
                0
            },
            repl_sync_max_replicas: c
                .get_int("repl-diskless-sync-max-replicas")
                .unwrap_or(0)
                .max(0) as usize,
            repl_ping_period_s: c.get_int("repl-ping-replica-period").unwrap_or(10).max(1) as u64,
            repl_timeout_s: c.get_int("repl-timeout").unwrap_or(60).max(1) as u64,
            repl_backlog_ttl_s: c.get_int("repl-backlog-ttl").unwrap_or(3600).max(0) as u64,
            aof_rewrite_percent: c.get_int("auto-aof-rewrite-percentage").unwrap_or(100) as u64,
            aof_rewrite_min_bytes: c.get_int("auto-aof-rewrite-min-size").unwrap_or(64 << 20)
                as u64,
            zset: crate::store::zset::ZSetLimits {
                entries_max: config_usize(c, "zset-max-listpack-entries", 128),
                value_bytes_max: config_usize(c, "zset-max-listpack-value", 64),
            },
        }
    }
}

/// A numeric directive without a typed field, read through CONFIG GET's formatting.
fn config_usize(c: &Config, name: &str, default: usize) -> usize {
    c.get(name)
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, |v| v.min(usize::MAX as u64) as usize)
}

pub struct Worker {
    pub id: usize,
    pub shared: Arc<Shared>,
    pub ring: Ring,
    pub conns: Slab<Conn>,
    pub lock: ShardLock,
    /// Connections whose parked command may now advance (a lock was granted).
    pub ready: VecDeque<u64>,
    /// Connections with input left over after a full turn of commands.
    pub runnable: VecDeque<u64>,
    pub limits: Limits,
    pub now_ms: u64,
    /// Monotonic clock (ns) read after the last command ran: the next command's start time, so
    /// each command costs one clock read.
    pub clock_ns: u64,
    /// `clock_ns` when the loop last woke, when `now_ms` was read.
    pub(super) wake_ns: u64,
    listeners: Vec<RawFd>,
    next_gen: u32,
    completions: Vec<Completion>,
    wake_buf: Box<u64>,
    wake_armed: bool,
    next_cron_us: u64,
    /// Shipped batches waiting for this shard's lock, by id, and the next id.
    pub parked_batches: std::collections::HashMap<u64, Box<super::ship::ExecBatch>>,
    pub next_batch_id: u64,
    /// Parse space for running shipped batches.
    pub batch_ranges: Vec<(u32, u32)>,
    pub batch_scratch: Vec<u8>,
    /// Messages waiting for room in other threads' mailboxes.
    pub overflow: super::pubsub::Overflow,
    /// Deadlines of blocked connections: (Unix ms, token), earliest first.
    pub timers: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u64)>>,
    last_prune_s: u64,
    /// Worker 0 acquiring every shard for a due save point (`savepoint.rs`).
    pub cron_save: Option<super::savepoint::CronSave>,
    /// Tokens of this thread's replica connections (`replicas.rs`).
    pub replica_slots: Vec<u64>,
    /// Tokens of connections in WAIT.
    pub wait_slots: Vec<u64>,
    /// Tokens of connections whose REPLICAOF NO ONE waits for the link to drain.
    pub promote_slots: Vec<u64>,
    /// Our shard has a snapshot to copy: idle loop turns work on it (see `idle_save_step`).
    snapshot_pending: bool,
    /// The stream position this thread last saw (to notice that it moved).
    pub stream_seen: u64,
}

impl Worker {
    pub fn new(id: usize, shared: Arc<Shared>, listeners: Vec<RawFd>) -> Result<Worker, String> {
        let ring = Ring::new(RING_ENTRIES)?;

        let limits = {
            let c = shared.config();
            Limits::from_config(&c, shared.config_epoch.load(Ordering::Acquire))
        };
        // The start-up load holds every shard until it ends (`load.rs`).
        let lock = if shared.save.loading.load(Ordering::Acquire) {
            ShardLock::held_by(Holder::Loader)
        } else {
            ShardLock::default()
        };
        Ok(Worker {
            id,
            shared,
            ring,
            conns: Slab::new(),
            lock,
            ready: VecDeque::new(),
            runnable: VecDeque::new(),
            limits,
            now_ms: unix_ms(),
            clock_ns: mono_ns(),
            listeners,
            next_gen: 1,
            completions: Vec::with_capacity(1024),
            wake_buf: Box::new(0),
            wake_armed: false,
            next_cron_us: 0,
            parked_batches: Default::default(),
            next_batch_id: 0,
            batch_ranges: Vec::new(),
            batch_scratch: Vec::new(),
            overflow: Default::default(),
            timers: Default::default(),
            last_prune_s: 0,
            wake_ns: mono_ns(),
            cron_save: None,
            replica_slots: Vec::new(),
            wait_slots: Vec::new(),
            promote_slots: Vec::new(),
            snapshot_pending: false,
            stream_seen: 0,
        })
    }

    /// Runs until shutdown is requested.
    pub fn run(&mut self) {
        self.publish_limits();
        for (i, &fd) in self.listeners.iter().enumerate() {
            self.ring.accept(fd, op_token(KIND_ACCEPT, i, 0));
        }
        self.arm_wake();
        loop {
            if self.shared.shutdown.load(Ordering::Acquire) != 0 {
                self.close_all();
                return;
            }
            let now_us = mono_us();
            self.flush_overflow();
            let wait = if !self.overflow.is_empty() {
                // Other threads' mailboxes were full: look again soon.
                Duration::from_micros(200)
            } else if self.snapshot_pending {
                // A snapshot has work left: only look for I/O, then use the idle time on it.
                Duration::ZERO
            } else if self.runnable.is_empty() && self.next_cron_us > now_us {
                let cron = Duration::from_micros(self.next_cron_us - now_us);
                match self.next_block_deadline_ms() {
                    // Wake for the earliest blocked client's deadline (millisecond precision).
                    Some(d) => cron.min(Duration::from_millis(d.saturating_sub(unix_ms()))),
                    None => cron,
                }
            } else {
                Duration::ZERO
            };
            self.replicate_turn();
            if self.shared.feed.aof_waiting() {
                // Replies queued this turn go out with the submit below: their writes reach
                // the AOF file first (and its fsync, with appendfsync always).
                self.shared.aof.flush(&self.shared.feed);
            }
            let mailbox = &self.shared.mailboxes[self.id];
            let wait = if mailbox.about_to_sleep() {
                wait
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.ring.submit_and_wait(1, Some(wait)) {
                log::warning(&format!("io_uring wait failed: {e}"));
            }
            self.shared.mailboxes[self.id].awake();
            self.now_ms = unix_ms();
            self.clock_ns = mono_ns();
            self.wake_ns = self.clock_ns;
            self.refresh_limits();
            let mut batch = std::mem::take(&mut self.completions);
            self.ring.drain(&mut batch);
            let idle = batch.is_empty();
            for c in batch.drain(..) {
                self.on_completion(c);
            }
            self.completions = batch;
            if idle && self.snapshot_pending {
                self.idle_save_step();
            }
            self.drain_mailbox();
            if !self.timers.is_empty() {
                self.expire_blocks();
            }
            self.run_ready();
            if mono_us() >= self.next_cron_us {
                self.cron();
                self.next_cron_us = mono_us() + 1_000_000 / self.limits.hz as u64;
            }
        }
    }

    fn refresh_limits(&mut self) {
        let epoch = self.shared.config_epoch.load(Ordering::Acquire);
        if epoch != self.limits.epoch {
            let c = self.shared.config();
            self.limits = Limits::from_config(&c, epoch);
            let backlog_bytes = c.get_int("repl-backlog-size").unwrap_or(1 << 20).max(1) as usize;
            let pinned_limit = c.client_output_buffer_limit_replica.hard_bytes as usize;
            drop(c);
            if self.id == 0 {
                // CONFIG SET reaches an existing backlog, as in Redis.
                self.shared.feed.apply_config(backlog_bytes, pinned_limit);
            }
            self.publish_limits();
        }
    }

    /// Settings the store reads without a worker at hand.
    fn publish_limits(&self) {
        use crate::config::notify::{EXPIRED, GENERIC, KEYEVENT, KEYSPACE};
        let n = self.limits.notify;
        let on = n & (KEYSPACE | KEYEVENT) != 0;
        crate::store::db::LOG_EXPIRED.store(on && n & EXPIRED != 0, Ordering::Relaxed);
        crate::store::db::LOG_DELETED.store(on && n & GENERIC != 0, Ordering::Relaxed);
    }

    fn arm_wake(&mut self) {
        if self.wake_armed {
            return;
        }
        let fd = self.shared.mailboxes[self.id].eventfd();
        let buf: *mut u64 = &mut *self.wake_buf;
        // SAFETY: `wake_buf` is boxed (stable address) and lives as long as the worker, which
        // outlives every operation on its ring.
        unsafe { self.ring.read8(fd, buf, op_token(KIND_WAKE, 0, 0)) };
        self.wake_armed = true;
    }

    fn on_completion(&mut self, c: Completion) {
        let kind = c.token >> KIND_SHIFT;
        let slot = (c.token & 0xffff_ffff) as usize;
        let gen = ((c.token >> 32) & 0x0fff_ffff) as u32;
        match kind {
            KIND_ACCEPT => {
                if c.result >= 0 {
                    // Dealt round the threads: whichever thread the kernel woke, the
                    // connection goes to the next one in turn.
                    let n = self.shared.workers();
                    let to = self.shared.accepted.fetch_add(1, Ordering::Relaxed) % n;
                    if to == self.id {
                        self.on_accept(c.result);
                    } else {
                        self.shared.send(to, Msg::AdoptClient { fd: c.result });
                    }
                } else if c.result != -libc::EAGAIN && c.result != -libc::EINTR {
                    log::warning(&format!(
                        "Accepting client connection: {}",
                        std::io::Error::from_raw_os_error(-c.result)
                    ));
                }
                // Re-armed after each connection, so the next one goes to another thread.
                if let Some(&fd) = self.listeners.get(slot) {
                    self.ring.accept(fd, c.token);
                }
            }
            KIND_WAKE => {
                self.wake_armed = false;
                self.arm_wake();
            }
            KIND_RECV => self.on_recv(slot, gen, c),
            // Positive: the poll saw the client hang up. Negative: removed on unblock.
            KIND_HUP if c.result > 0 && self.conn_is(slot, gen) => {
                self.conns[slot].hup_armed = false;
                if self.conns[slot].blocked.is_some() {
                    self.close(slot);
                }
            }
            KIND_SEND => {
                if !self.conn_is(slot, gen) {
                    return;
                }
                self.on_sent(slot, c.result);
            }
            _ => {}
        }
    }

    fn conn_is(&self, slot: usize, gen: u32) -> bool {
        self.conns
            .get(slot)
            .is_some_and(|c| (c.gen & 0x0fff_ffff) == gen)
    }

    /// The slot of a live connection with this lock token.
    pub fn conn_by_token(&self, token: u64) -> Option<usize> {
        let slot = (token & 0xffff_ffff) as usize;
        let gen = (token >> 32) as u32;
        self.conns
            .get(slot)
            .filter(|c| c.gen == gen && !c.closing)
            .map(|_| slot)
    }

    /// Serves one end of the replication link's socketpair as our master's connection,
    /// listed with the master's address (`host:port`) as Redis lists it.
    fn adopt_master(&mut self, fd: RawFd, addr: String) {
        let id = self.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(ClientShared::new(
            id,
            self.id,
            fd,
            addr,
            String::new(),
            self.now_ms,
        ));
        self.shared.clients[self.id]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, shared.clone());
        self.shared.stats[self.id]
            .connected_clients
            .fetch_add(1, Ordering::Relaxed);
        shared
            .kind
            .store(super::client::KIND_MASTER, Ordering::Relaxed);
        let mut client = ClientState::new(shared, true);
        client.is_master = true;
        client.reply_mode = super::client::ReplyMode::Off;
        let gen = self.next_gen;
        self.next_gen = (self.next_gen.wrapping_add(1) & 0x0fff_ffff).max(1);
        let slot = self.conns.insert(Conn::new(fd, gen, client, self.now_ms));
        let token = Conn::token(slot, gen);
        self.conns[slot].client.token = token;
        self.post_recv(slot);
    }

    fn on_accept(&mut self, fd: RawFd) {
        let stats = &self.shared.stats[self.id];
        stats.connections_received.fetch_add(1, Ordering::Relaxed);
        let connected = self.shared.total(|s| &s.connected_clients);
        if connected >= self.limits.maxclients {
            reject(fd, b"-ERR max number of clients reached\r\n");
            stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (addr, laddr, loopback) = peer_names(fd);
        if self.limits.protected_mode && !self.limits.auth_required && !loopback {
            reject(fd, PROTECTED_MODE_TEXT.as_bytes());
            stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            return;
        }
        set_socket_options(fd, self.limits.tcp_keepalive_s);
        let id = self.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(ClientShared::new(id, self.id, fd, addr, laddr, self.now_ms));
        self.shared.clients[self.id]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, shared.clone());
        stats.connected_clients.fetch_add(1, Ordering::Relaxed);
        let gen = self.next_gen;
        self.next_gen = (self.next_gen.wrapping_add(1) & 0x0fff_ffff).max(1);
        let client = ClientState::new(shared, !self.limits.auth_required);
        let slot = self.conns.insert(Conn::new(fd, gen, client, self.now_ms));
        let token = Conn::token(slot, gen);
        self.conns[slot].client.token = token;
        self.conns[slot]
            .client
            .shared
            .token
            .store(token, Ordering::Release);
        self.post_recv(slot);
    }

    /// Arms a receive unless one is in flight or the connection is parked or closing.
    ///
    /// One single-shot receive at a time, straight into the connection's buffer: measured here
    /// against a multishot receive from a provided-buffer ring (which needs a copy out of the
    /// shared buffer), the single-shot form used less CPU per request at -P 1 and -P 16.
    pub fn post_recv(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        if conn.recv_inflight || conn.closing || conn.parked() || conn.close_after_flush {
            return;
        }
        let room = conn.prepare_recv().min(u32::MAX as usize);
        // SAFETY: the spare capacity of `rbuf` is not read or moved until this receive
        // completes: `process` runs only after completion, and `post_recv` is the only place that
        // reallocates, guarded by `recv_inflight`.
        unsafe {
            let ptr = conn.rbuf.as_mut_ptr().add(conn.rbuf.len());
            self.ring.recv(
                conn.fd,
                ptr,
                room as u32,
                op_token(KIND_RECV, slot, conn.gen),
            );
        }
        conn.recv_inflight = true;
    }

    /// A receive finished: the bytes are already in the connection's buffer; run what is
    /// complete.
    fn on_recv(&mut self, slot: usize, gen: u32, c: Completion) {
        if !self.conn_is(slot, gen) {
            return;
        }
        self.conns[slot].recv_inflight = false;
        if c.result == 0 && self.conns[slot].blocked.is_some() {
            // A blocked client went away: free it now, as Redis does.
            self.close(slot);
            return;
        }
        if c.result == 0 && !self.conns[slot].closing {
            // The client half-closed: everything it sent has run; close once the replies are out.
            self.conns[slot].close_after_flush = true;
            self.flush(slot);
            return;
        }
        if c.result < 0 || self.conns[slot].closing {
            if c.result < 0 && c.result != -libc::ECONNRESET && !self.conns[slot].closing {
                log::verbose(&format!(
                    "Reading from client: {}",
                    std::io::Error::from_raw_os_error(-c.result)
                ));
            }
            self.close(slot);
            return;
        }
        let conn = &mut self.conns[slot];
        let n = c.result as usize;
        // SAFETY: the kernel wrote `n` bytes into the spare capacity we handed it (see
        // `post_recv`), directly after the initialized part.
        unsafe { conn.rbuf.set_len(conn.rbuf.len() + n) };
        conn.last_interaction_ms = self.now_ms;
        let st = &self.shared.stats[self.id].net_input_bytes;
        st.store(st.load(Ordering::Relaxed) + n as u64, Ordering::Relaxed);
        let conn = &self.conns[slot];
        if conn.blocked.is_some()
            && conn.pending_input() as u64 > self.limits.query_buffer_bytes_max
        {
            log::warning(&format!(
                "Closing blocked client that reached max query buffer length: id={} addr={}",
                conn.client.id, conn.client.shared.addr
            ));
            self.close(slot);
            return;
        }
        self.process(slot);
    }

    /// Hands queued replies to the kernel if no send is in flight.
    pub fn flush(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        if conn.send_inflight || conn.closing {
            return;
        }
        if conn.out.is_empty() {
            if conn.close_after_flush {
                self.close(slot);
            }
            return;
        }
        std::mem::swap(&mut conn.out, &mut conn.sending);
        conn.sent = 0;
        self.post_send(slot);
    }

    fn post_send(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        let len = (conn.sending.len() - conn.sent).min(SEND_BYTES_MAX);
        // SAFETY: `sending` is neither modified nor reallocated while `send_inflight` is set;
        // replies produced meanwhile go to `out`.
        unsafe {
            let ptr = conn.sending.as_ptr().add(conn.sent);
            self.ring.send(
                conn.fd,
                ptr,
                len as u32,
                op_token(KIND_SEND, slot, conn.gen),
            );
        }
        conn.send_inflight = true;
    }

    fn on_sent(&mut self, slot: usize, result: i32) {
        let conn = &mut self.conns[slot];
        conn.send_inflight = false;
        if result < 0 || conn.closing {
            if result < 0 && result != -libc::EPIPE && result != -libc::ECONNRESET {
                log::verbose(&format!(
                    "Error writing to client: {}",
                    std::io::Error::from_raw_os_error(-result)
                ));
            }
            self.close(slot);
            return;
        }
        let st = &self.shared.stats[self.id].net_output_bytes;
        st.store(
            st.load(Ordering::Relaxed) + result as u64,
            Ordering::Relaxed,
        );
        conn.sent += result as usize;
        if conn.sent < conn.sending.len() {
            self.post_send(slot);
            return;
        }
        conn.sending.clear();
        conn.sent = 0;
        if conn.sending.capacity() > 4 * 1024 * 1024 {
            conn.sending = Vec::with_capacity(RECV_BYTES_MIN);
        }
        self.flush(slot);
        // A connection parked on a full output buffer may continue.
        if self.conns.get(slot).is_some_and(|c| !c.closing) {
            self.post_recv(slot);
        }
    }

    /// Starts closing: wakes in-flight operations, releases locks; the slot is freed once no
    /// operation still points into its buffers.
    pub fn close(&mut self, slot: usize) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        if !conn.closing {
            conn.closing = true;
            // SAFETY: plain syscall on a socket we own; makes in-flight recv/send complete.
            unsafe { libc::shutdown(conn.fd, libc::SHUT_RDWR) };
            let held = conn.held;
            conn.held = 0;
            conn.need = 0;
            self.release(held);
            self.stop_monitor(slot);
            self.replica_closed(slot);
            if let Some(b) = self.conns[slot].blocked.take() {
                // Claim the flag so no shard serves (and loses an element to) a dead client.
                b.done.store(true, Ordering::Release);
                self.shared.stats[self.id]
                    .blocked_clients
                    .fetch_sub(1, Ordering::Relaxed);
            }
            if let Some(subs) = self.conns[slot].client.subs.take() {
                super::pubsub::unsubscribe_all(
                    &self.shared,
                    self.id,
                    &self.conns[slot].client,
                    &subs,
                );
            }
            let id = self.conns[slot].client.id;
            self.shared.clients[self.id]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            self.shared.stats[self.id]
                .connected_clients
                .fetch_sub(1, Ordering::Relaxed);
        }
        let conn = &self.conns[slot];
        if !conn.recv_inflight && !conn.send_inflight {
            // SAFETY: no operation references this socket or its buffers any more.
            unsafe { libc::close(conn.fd) };
            self.conns.remove(slot);
        }
    }

    /// Takes a connection out of MONITOR mode (RESET, close).
    pub fn stop_monitor(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        if !conn.monitor {
            return;
        }
        conn.monitor = false;
        conn.client.shared.monitor.store(false, Ordering::Relaxed);
        let token = Conn::token(slot, conn.gen);
        let me = self.id;
        self.shared
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&(w, t)| !(w == me && t == token));
        self.shared.monitor_count.fetch_sub(1, Ordering::Relaxed);
    }

    fn close_all(&mut self) {
        let slots: Vec<usize> = self.conns.iter().map(|(s, _)| s).collect();
        for s in slots {
            let fd = self.conns[s].fd;
            // SAFETY: the process is about to exit; the ring is dropped with the worker.
            unsafe { libc::close(fd) };
        }
    }

    /// Releases the locks in `held` (local directly, remote by message).
    pub fn release(&mut self, held: u64) {
        let me = self.id;
        for shard in 0..self.shared.workers() {
            if held & (1u64 << shard) == 0 {
                continue;
            }
            if shard == me {
                self.release_local();
            } else {
                self.shared.send(shard, Msg::Unlock);
            }
        }
    }

    fn release_local(&mut self) {
        // A parked batch runs and releases at once, so the grant moves on to the next holder.
        loop {
            let conns = &self.conns;
            let saving = self.cron_save.is_some();
            let next = self.lock.release(|t| {
                if t == super::savepoint::SAVE_TOKEN {
                    return saving;
                }
                let slot = (t & 0xffff_ffff) as usize;
                conns
                    .get(slot)
                    .is_some_and(|c| c.gen == (t >> 32) as u32 && !c.closing)
            });
            if let Some(Holder::Batch(id)) = next {
                if let Some(batch) = self.parked_batches.remove(&id) {
                    self.run_batch(&batch);
                }
                continue;
            }
            self.grant_local(next);
            return;
        }
    }

    /// Hands this shard's lock to `next`, which `ShardLock::release` chose.
    fn grant_local(&mut self, next: Option<Holder>) {
        match next {
            None | Some(Holder::Batch(_) | Holder::Loader) => {}
            Some(Holder::Local(super::savepoint::SAVE_TOKEN)) => self.on_save_grant(self.id),
            Some(Holder::Local(token)) => {
                let slot = (token & 0xffff_ffff) as usize;
                self.conns[slot].held |= 1u64 << self.id;
                self.ready.push_back(token);
            }
            Some(Holder::Remote { worker, token }) => {
                self.shared.send(
                    worker,
                    Msg::LockGrant {
                        shard: self.id,
                        token,
                    },
                );
            }
        }
    }

    fn drain_mailbox(&mut self) {
        let shared = self.shared.clone();
        let mb = &shared.mailboxes[self.id];
        mb.take_notification();
        // Bounded per turn so a flood of messages cannot starve the sockets.
        for _ in 0..65_536 {
            let Some(msg) = mb.pop() else { break };
            match msg {
                Msg::LockRequest { from, token } => {
                    let h = Holder::Remote {
                        worker: from,
                        token,
                    };
                    if self.lock.acquire(h) {
                        self.shared.send(
                            from,
                            Msg::LockGrant {
                                shard: self.id,
                                token,
                            },
                        );
                    }
                }
                Msg::LockGrant { shard, token } if token == super::savepoint::SAVE_TOKEN => {
                    self.on_save_grant(shard)
                }
                Msg::LockGrant { shard, token } => match self.conn_by_token(token) {
                    Some(slot) if self.conns[slot].need & (1u64 << shard) != 0 => {
                        self.conns[slot].held |= 1u64 << shard;
                        self.ready.push_back(token);
                    }
                    _ => self.shared.send(shard, Msg::Unlock),
                },
                Msg::Unlock => self.release_local(),
                Msg::Exec(batch) => self.on_exec(batch),
                Msg::ExecDone(done) => self.on_exec_done(*done),
                Msg::Unblocked { token, reply } => {
                    if let Some(slot) = self.conn_by_token(token) {
                        self.unblock(slot, reply);
                    }
                }
                Msg::ClientUnblock { token } => self.on_client_unblock(token),
                Msg::Publish {
                    token,
                    pattern,
                    message,
                } => self.deliver(token, pattern.as_deref(), &message),
                Msg::Monitor { token, line } => {
                    if let Some(slot) = self.conn_by_token(token) {
                        self.deliver_monitor_line(slot, &line);
                    }
                }
                Msg::Wake => self.check_kills(),
                Msg::FullSync {
                    token,
                    sink,
                    reader,
                    offset,
                    replid,
                    eof_capable,
                } => self.on_full_sync(token, sink, reader, offset, replid, eof_capable),
                Msg::AdoptMaster { fd, addr } => self.adopt_master(fd, addr),
                Msg::AdoptClient { fd } => self.on_accept(fd),
            }
        }
    }

    fn run_ready(&mut self) {
        while let Some(token) = self.ready.pop_front() {
            if let Some(slot) = self.conn_by_token(token) {
                self.advance(slot);
            }
        }
        for _ in 0..self.runnable.len() {
            let Some(token) = self.runnable.pop_front() else {
                break;
            };
            if let Some(slot) = self.conn_by_token(token) {
                if !self.conns[slot].parked() {
                    self.process(slot);
                }
            }
        }
    }

    fn check_kills(&mut self) {
        let killed: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closing && c.client.shared.kill.load(Ordering::Relaxed))
            .map(|(s, _)| s)
            .collect();
        for slot in killed {
            let c = &self.conns[slot];
            if c.need != 0 || c.held != 0 || c.shipped.is_some() {
                // Not closed under a command that holds locks or waits for a shipped batch:
                // it is closed once that ends (`process` runs nothing more for it).
                self.conns[slot].close_after_flush = true;
                continue;
            }
            self.close(slot);
        }
    }

    /// Unix ms for the command about to run: the wake-up time advanced by the monotonic clock
    /// read after the previous command, so two commands on different threads, one after the
    /// other, never see time go backwards by a whole loop turn.
    pub fn command_now_ms(&self) -> u64 {
        Self::now_ms_at(self.now_ms, self.clock_ns, self.wake_ns)
    }

    /// `command_now_ms` from the fields, for callers that hold other borrows of the worker.
    pub fn now_ms_at(wake_ms: u64, clock_ns: u64, wake_ns: u64) -> u64 {
        wake_ms + clock_ns.saturating_sub(wake_ns) / 1_000_000
    }

    /// Copies part of our shard into a background save in progress: a share of the cron tick,
    /// or with `rdb-key-save-delay` one key per that many µs of the tick. The share is small
    /// (6 %) so a busy server keeps serving at nearly its full rate (writes only copy the
    /// records they change aside, see `store::keyspace`), and grows with the writes kept for
    /// replicas waiting on the snapshot (up to 75 % as they near their output limit), so a
    /// sync under a sustained write load still ends before its replica would be dropped.
    /// Idle loop turns copy at full speed (`idle_save_step`).
    fn save_step(&mut self) {
        let shared = self.shared.clone();
        // SAFETY: as in `cron`: our own shard's lock is free and this thread is its owner.
        let mut view = unsafe { super::view::ShardView::new(&shared.shards, 1u64 << self.id) };
        let shard = view.shard(self.id);
        self.shared.stats[self.id]
            .dirty
            .store(shard.dirty, Ordering::Relaxed);
        if !shard.saving() {
            return;
        }
        let tick_us = 1_000_000 / self.limits.hz as i64;
        let delay_us = self.limits.rdb_key_save_delay_us;
        if delay_us > 0 {
            shard.save_step((tick_us / delay_us).max(1) as usize);
            return;
        }
        let share_permille = save_share_permille(self.shared.feed.pin_pressure_permille());
        let deadline = mono_us() + tick_us as u64 * share_permille / 1000;
        while shard.saving() && !shard.save_paused() && mono_us() < deadline {
            shard.save_step(SAVE_STEP_KEYS);
        }
        self.snapshot_pending = shard.saving() && !shard.save_paused();
    }

    /// A loop turn that found no I/O copies a little more of a snapshot (about 0.2 ms, so a
    /// client that writes meanwhile waits little), so an idle or lightly loaded thread finishes
    /// a save or a full sync at full speed, while a busy one only gives it a share of each cron
    /// tick (`save_step`).
    fn idle_save_step(&mut self) {
        if !self.lock.is_free() || self.limits.rdb_key_save_delay_us > 0 {
            self.snapshot_pending = false;
            return;
        }
        let shared = self.shared.clone();
        // SAFETY: as in `cron`: our own shard's lock is free and this thread is its owner.
        let mut view = unsafe { super::view::ShardView::new(&shared.shards, 1u64 << self.id) };
        let shard = view.shard(self.id);
        let deadline = mono_us() + IDLE_SAVE_SLICE_US;
        while shard.saving() && !shard.save_paused() && mono_us() < deadline {
            shard.save_step(SAVE_STEP_KEYS / 4);
        }
        self.snapshot_pending = shard.saving() && !shard.save_paused();
    }

    /// Periodic work, `hz` times a second: active expiry, waiters left with data, and
    /// idle-client timeouts.
    fn cron(&mut self) {
        self.check_kills();
        if self.lock.is_free() && !crate::store::db::REPLICA_MODE.load(Ordering::Relaxed) {
            self.serve_stranded();
        }
        if self.lock.is_free() && self.shared.active_expire.load(Ordering::Relaxed) {
            // 25% of a tick at most, like Redis's slow expire cycle.
            let deadline = mono_us() + 250_000 / self.limits.hz as u64;
            let shared = self.shared.clone();
            // SAFETY: the lock of our own shard is free and this thread is its owner, so no other
            // thread may touch the shard until we grant the lock, which cannot happen during this
            // call.
            let mut view = unsafe { super::view::ShardView::new(&shared.shards, 1u64 << self.id) };
            let shard = view.shard(self.id);
            shard.active_expire(self.now_ms, deadline);
            if self.shared.feed.active() {
                // Keys the cycle deleted reach the AOF and replicas as DELs, appended while
                // this thread still holds its shard.
                let mut keys = Vec::new();
                shard.take_expired_prop(&mut keys);
                let dels: Vec<(usize, Vec<u8>)> = keys
                    .iter()
                    .map(|(db, k)| (*db, crate::repl::propagate::encode(&[b"DEL", k])))
                    .collect();
                self.shared.feed.append(&dels, false);
            }
            let mut expired = Vec::new();
            if crate::store::db::LOG_EXPIRED.load(Ordering::Relaxed) {
                shard.take_expired(&mut expired);
            }
            // Once a second: forget WATCH and blocking registrations of departed clients.
            if self.now_ms / 1000 != self.last_prune_s {
                self.last_prune_s = self.now_ms / 1000;
                for db in &mut shard.dbs {
                    db.watched.prune();
                    db.blocked.prune();
                }
            }
            if !expired.is_empty() {
                let events: Vec<super::pubsub::KeyEvent> = expired
                    .into_iter()
                    .map(|(db, key)| super::pubsub::KeyEvent {
                        db,
                        event: "expired",
                        key: key.to_vec(),
                    })
                    .collect();
                let mut deliveries = Vec::new();
                super::pubsub::key_event_deliveries(
                    &self.shared,
                    self.limits.notify,
                    &events,
                    &mut deliveries,
                );
                self.deliver_all(deliveries);
            }
        }
        if self.lock.is_free() {
            self.save_step();
        }
        if self.shared.aof.is_on() {
            // Writes of idle moments, and the once-a-second fsync of `everysec`.
            self.shared.aof.flush(&self.shared.feed);
        }
        self.maybe_save_point();
        if self.id == 0 {
            self.ping_replicas();
            self.replication_cron();
        }
        self.check_waits();
        if self.limits.timeout_s > 0 {
            let limit_ms = self.limits.timeout_s * 1000;
            let idle: Vec<usize> = self
                .conns
                .iter()
                .filter(|(_, c)| {
                    // Replicas and our master's connection are never idle clients (as in
                    // Redis: a quiet master is repl-timeout's business).
                    !c.closing
                        && !c.monitor
                        && !c.parked()
                        && c.replica.is_none()
                        && !c.client.is_master
                        && self.now_ms.saturating_sub(c.last_interaction_ms) > limit_ms
                })
                .map(|(s, _)| s)
                .collect();
            for slot in idle {
                log::verbose("Closing idle client");
                self.close(slot);
            }
        }
    }
}

const PROTECTED_MODE_TEXT: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Writes a short error and closes (maxclients, protected mode): a blocking best-effort write.
fn reject(fd: RawFd, text: &[u8]) {
    // SAFETY: `text` is a live slice; fd is a freshly accepted socket we own and close here.
    unsafe {
        libc::send(
            fd,
            text.as_ptr() as *const libc::c_void,
            text.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
        libc::close(fd);
    }
}

fn set_socket_options(fd: RawFd, keepalive_s: u64) {
    let one: libc::c_int = 1;
    let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt reads `sz` bytes from live integers.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            sz,
        );
        if keepalive_s > 0 {
            let idle = keepalive_s.min(i32::MAX as u64) as libc::c_int;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_KEEPALIVE,
                &one as *const _ as *const libc::c_void,
                sz,
            );
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_KEEPIDLE,
                &idle as *const _ as *const libc::c_void,
                sz,
            );
        }
    }
}

/// ("ip:port" of the peer, "ip:port" of our side, whether the peer is loopback).
fn peer_names(fd: RawFd) -> (String, String, bool) {
    fn name(fd: RawFd, peer: bool) -> Option<std::net::SocketAddr> {
        // SAFETY: sockaddr_storage is large enough for any address; len is in/out.
        unsafe {
            let mut ss: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let p = &mut ss as *mut _ as *mut libc::sockaddr;
            let rc = if peer {
                libc::getpeername(fd, p, &mut len)
            } else {
                libc::getsockname(fd, p, &mut len)
            };
            if rc != 0 {
                return None;
            }
            match ss.ss_family as i32 {
                libc::AF_INET => {
                    let a = &*(p as *const libc::sockaddr_in);
                    let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                    Some(std::net::SocketAddr::new(
                        ip.into(),
                        u16::from_be(a.sin_port),
                    ))
                }
                libc::AF_INET6 => {
                    let a = &*(p as *const libc::sockaddr_in6);
                    let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                    Some(std::net::SocketAddr::new(
                        ip.into(),
                        u16::from_be(a.sin6_port),
                    ))
                }
                _ => None,
            }
        }
    }
    let peer = name(fd, true);
    let local = name(fd, false);
    let loopback = peer.map(|p| match p.ip() {
        std::net::IpAddr::V4(v) => v.is_loopback(),
        std::net::IpAddr::V6(v) => {
            v.is_loopback() || v.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
        }
    });
    let fmt =
        |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "?:0".into());
    (fmt(peer), fmt(local), loopback.unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_share_rises_with_replica_pressure() {
        let (least, most) = SAVE_BUSY_SHARE_PERMILLE;
        assert_eq!(save_share_permille(0), least);
        assert_eq!(save_share_permille(SAVE_PRESSURE_PERMILLE.0), least);
        assert_eq!(save_share_permille(SAVE_PRESSURE_PERMILLE.1), most);
        assert_eq!(save_share_permille(1000), most);
        let mut last = 0;
        for p in (0..=1000).step_by(10) {
            let s = save_share_permille(p);
            assert!(s >= last, "share falls at pressure {p}");
            last = s;
        }
        assert!(save_share_permille(500) > least && save_share_permille(500) < most);
    }
}
