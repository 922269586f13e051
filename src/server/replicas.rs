//! Replica connections on the master: a connection that sent PSYNC or SYNC is fed by its own
//! thread from then on, never by command replies.
//!
//! States, read top to bottom:
//! 1. `AwaitCut` — queued for a full sync. Worker 0's cron (`savepoint.rs`) takes one cut for
//!    every waiting replica (after `repl-diskless-sync-delay`, or at once when
//!    `repl-diskless-sync-max-replicas` are waiting) and sends each one `Msg::FullSync`.
//! 2. `Transfer` — "+FULLRESYNC <replid> <offset>", then the snapshot from a shared
//!    `StreamSink`: in the `$EOF:<mark>` framing (capa eof), or whole with `$<len>`.
//! 3. `Online` — the stream from the backlog, from the cut's offset (or the PSYNC offset of a
//!    partial resync). The position is pinned in the feed, so the ring grows rather than
//!    overwrite what this replica has not been sent, up to `client-output-buffer-limit
//!    replica`; a replica left further behind is dropped with Redis's log line and retries.
//!
//! Every loop turn in which the stream moved, this thread pumps its replicas and wakes the
//! other threads that host replicas; a sink with new snapshot bytes wakes its readers' threads.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::conn::Conn;
use super::worker::Worker;
use super::{log, Msg, Shared};
use crate::persist::snapshot::StreamSink;
use crate::server::client::{ReplicaStart, ReplyMode};

/// Bytes queued on a replica's socket before the pump waits for the kernel to take them.
const QUEUED_BYTES_MAX: usize = 1 << 20;

pub enum ReplicaConn {
    AwaitCut,
    Transfer {
        sink: Arc<StreamSink>,
        reader: usize,
        offset: u64,
        /// The `$EOF:` mark (diskless framing), or None for `$<len>` (the whole file first).
        mark: Option<String>,
        whole: Vec<u8>,
    },
    Online {
        pos: u64,
        /// After a diskless transfer the stream waits for the replica's first REPLCONF ACK:
        /// it finds the `$EOF:` mark only at the end of what it reads, so nothing may follow
        /// the mark until it has loaded (Redis does the same).
        await_ack: bool,
    },
}

impl Worker {
    /// PSYNC/SYNC made this connection a replica.
    pub(super) fn become_replica(&mut self, slot: usize, start: ReplicaStart) {
        let conn = &mut self.conns[slot];
        // Whatever it sends from now on (REPLCONF ACK) gets no reply.
        conn.client.reply_mode = ReplyMode::Off;
        conn.client
            .shared
            .kind
            .store(crate::server::client::KIND_REPLICA, Ordering::Relaxed);
        let state = match start {
            ReplicaStart::AwaitCut => ReplicaConn::AwaitCut,
            ReplicaStart::Continue { pos } => {
                self.shared.feed.pin(conn.client.id, pos);
                ReplicaConn::Online {
                    pos,
                    await_ack: false,
                }
            }
        };
        conn.replica = Some(Box::new(state));
        self.replica_slots.push(Conn::token(slot, conn.gen));
        self.shared
            .repl
            .hosts
            .fetch_or(1u64 << self.id, Ordering::Relaxed);
        self.pump_replica(slot);
    }

    /// The cut for a waiting replica was taken (`Msg::FullSync`).
    pub(super) fn on_full_sync(
        &mut self,
        token: u64,
        sink: Arc<StreamSink>,
        reader: usize,
        offset: u64,
        replid: String,
        eof_capable: bool,
    ) {
        let Some(slot) = self.conn_by_token(token) else {
            sink.leave(reader);
            return;
        };
        let conn = &mut self.conns[slot];
        if conn.closing || !matches!(conn.replica.as_deref(), Some(ReplicaConn::AwaitCut)) {
            sink.leave(reader);
            return;
        }
        self.shared.feed.pin(conn.client.id, offset);
        self.shared
            .repl
            .update(conn.client.id, |r| r.state = "send_bulk");
        // A replica that asked with SYNC (redis-cli --rdb does) expects the payload at once.
        if !conn.client.replconf.as_ref().is_some_and(|r| r.pre_psync) {
            conn.out
                .extend_from_slice(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes());
        }
        let mark = eof_capable.then(crate::repl::master::random_id);
        if let Some(m) = &mark {
            conn.out
                .extend_from_slice(format!("$EOF:{m}\r\n").as_bytes());
        }
        log::notice(&format!(
            "Starting BGSAVE for SYNC with target: {}",
            if mark.is_some() {
                "replicas sockets"
            } else {
                "disk"
            }
        ));
        conn.replica = Some(Box::new(ReplicaConn::Transfer {
            sink,
            reader,
            offset,
            mark,
            whole: Vec::new(),
        }));
        self.pump_replica(slot);
    }

    /// Moves snapshot or stream bytes to every replica of this thread.
    pub(super) fn pump_replicas(&mut self) {
        let tokens = std::mem::take(&mut self.replica_slots);
        let mut kept = Vec::with_capacity(tokens.len());
        for token in tokens {
            if let Some(slot) = self.conn_by_token(token) {
                if self.conns[slot].replica.is_some() && !self.conns[slot].closing {
                    kept.push(token);
                    self.pump_replica(slot);
                }
            }
        }
        kept.append(&mut self.replica_slots);
        self.replica_slots = kept;
        if self.replica_slots.is_empty() {
            self.shared
                .repl
                .hosts
                .fetch_and(!(1u64 << self.id), Ordering::Relaxed);
        }
    }

    fn pump_replica(&mut self, slot: usize) {
        let shared = self.shared.clone();
        let conn = &mut self.conns[slot];
        let id = conn.client.id;
        let Some(state) = conn.replica.as_deref_mut() else {
            return;
        };
        if conn.out.len() >= QUEUED_BYTES_MAX {
            return; // the kernel first
        }
        let room = QUEUED_BYTES_MAX - conn.out.len();
        let mut online_at = None;
        let acked = conn.client.repl_acked;
        match state {
            ReplicaConn::AwaitCut => {}
            ReplicaConn::Transfer {
                sink,
                reader,
                offset,
                mark,
                whole,
            } => {
                let complete = match mark {
                    Some(_) => sink.read(*reader, &mut conn.out, room),
                    None => sink.read(*reader, whole, usize::MAX),
                };
                if complete {
                    match mark {
                        Some(m) => conn.out.extend_from_slice(m.as_bytes()),
                        None => {
                            conn.out
                                .extend_from_slice(format!("${}\r\n", whole.len()).as_bytes());
                            conn.out.extend_from_slice(whole);
                        }
                    }
                    sink.leave(*reader);
                    online_at = Some((*offset, mark.is_some()));
                }
            }
            ReplicaConn::Online { pos, await_ack } => {
                if *await_ack && acked {
                    *await_ack = false;
                }
                if !*await_ack && *pos < shared.feed.published() {
                    let queued = conn.out.len();
                    match shared.feed.read(*pos, room, &mut conn.out) {
                        // Killed meanwhile (checked after the read): what was read may follow
                        // a history this replica must not see (`REPLCONF ringkv-new-history`
                        // kills before the link appends it), so it is not sent.
                        Some(_) if conn.client.shared.kill.load(Ordering::Acquire) => {
                            conn.out.truncate(queued);
                        }
                        Some(next) => {
                            *pos = next;
                            shared.feed.pin(id, next);
                        }
                        None => {
                            log::warning(&format!(
                                "Client id={id} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                                conn.client.shared.addr
                            ));
                            self.close(slot);
                            return;
                        }
                    }
                }
            }
        }
        let rdb_only = conn.client.replconf.as_ref().is_some_and(|r| r.rdb_only);
        if online_at.is_some() && rdb_only {
            // It wanted the snapshot and nothing more: closed once that is written.
            log::notice(&format!(
                "RDB transfer completed, rdb only replica ({}) should be disconnected asap",
                replica_name(&conn.client)
            ));
            conn.close_after_flush = true;
            // Nothing more to pump (the sink was left above), no stream to keep for it, and
            // no longer a replica to count.
            conn.replica = Some(Box::new(ReplicaConn::AwaitCut));
            shared.feed.unpin(id);
            shared.repl.unregister(id, self.now_ms);
            self.flush(slot);
            return;
        }
        if let Some((pos, await_ack)) = online_at {
            conn.client.repl_acked = false;
            conn.replica = Some(Box::new(ReplicaConn::Online { pos, await_ack }));
            shared.repl.update(id, |r| r.state = "online");
            log::notice(&format!(
                "Synchronization with replica {} succeeded",
                replica_name(&conn.client)
            ));
            // Stream what accumulated during the transfer at once.
            return self.pump_replica(slot);
        }
        self.flush(slot);
    }

    /// A replica connection closes: forget it everywhere.
    pub(super) fn replica_closed(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        let Some(state) = conn.replica.take() else {
            return;
        };
        let id = conn.client.id;
        if let ReplicaConn::Transfer { sink, reader, .. } = *state {
            sink.leave(reader);
        }
        let token = Conn::token(slot, conn.gen);
        self.shared.feed.unpin(id);
        self.shared.repl.unregister(id, self.now_ms);
        self.shared
            .repl
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| !(w.worker == self.id && w.token == token));
        log::notice(&format!(
            "Connection with replica {} lost.",
            replica_name(&conn.client)
        ));
    }

    /// Worker 0's cron: a PING into the stream every `repl-ping-replica-period` while replicas
    /// are attached, so they can tell a quiet master from a dead link.
    pub(super) fn ping_replicas(&mut self) {
        let repl = &self.shared.repl;
        if repl.replica_count() == 0 || crate::store::db::REPLICA_MODE.load(Ordering::Relaxed) {
            return; // a replica's replicas get its master's PINGs
        }
        let last = repl.last_ping_ms.load(Ordering::Relaxed);
        if self.now_ms.saturating_sub(last) < self.limits.repl_ping_period_s * 1000 {
            return;
        }
        repl.last_ping_ms.store(self.now_ms, Ordering::Relaxed);
        self.shared
            .feed
            .append_raw(&crate::repl::propagate::encode(&[b"PING"]));
    }

    /// Worker 0's cron: the good-replica count min-replicas-to-write needs, and whether we are
    /// a replica with its link down (replica-serve-stale-data).
    pub(super) fn replication_cron(&mut self) {
        let repl = &self.shared.repl;
        let good = repl.count_good(self.now_ms, self.limits.min_replicas_max_lag_s);
        repl.good_replicas.store(good, Ordering::Relaxed);
        let stale = self
            .shared
            .link_status()
            .is_some_and(|status| !status.up.load(Ordering::Acquire));
        repl.stale.store(stale, Ordering::Relaxed);
        self.drop_timed_out_replicas();
        self.free_idle_backlog();
    }

    /// Replicas online that sent no ACK for `repl-timeout` are disconnected (they reconnect
    /// and continue if they are alive after all).
    fn drop_timed_out_replicas(&mut self) {
        let timeout_ms = self.limits.repl_timeout_s * 1000;
        let late: Vec<(u64, String)> = self
            .shared
            .repl
            .replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.state == "online" && self.now_ms.saturating_sub(r.ack_ms) > timeout_ms)
            .map(|r| (r.client_id, format!("{}:{}", r.ip, r.listening_port)))
            .collect();
        for (id, name) in late {
            log::warning(&format!(
                "Disconnecting timedout replica (streaming sync): {name}"
            ));
            for c in self.shared.all_clients().into_iter().filter(|c| c.id == id) {
                c.kill.store(true, Ordering::Relaxed);
                let _ = self.shared.mailboxes[c.worker].push(Msg::Wake);
            }
            self.shared.repl.update(id, |r| r.ack_ms = self.now_ms);
        }
    }

    /// With no replica for `repl-backlog-ttl` seconds a master frees its backlog (and starts a
    /// new history, so no replica continues across the gap), as Redis does.
    fn free_idle_backlog(&mut self) {
        let ttl_s = self.limits.repl_backlog_ttl_s;
        let since = self
            .shared
            .repl
            .no_replicas_since_ms
            .load(Ordering::Relaxed);
        if ttl_s == 0
            || since < 0
            || crate::store::db::REPLICA_MODE.load(Ordering::Relaxed)
            || self.now_ms.saturating_sub(since as u64) < ttl_s * 1000
            || !self.shared.feed.drop_backlog()
        {
            return;
        }
        self.shared.repl.new_history();
        log::notice(&format!(
            "Replication backlog freed after {ttl_s} seconds without connected replicas."
        ));
    }

    /// WAIT found too few acknowledgements: park the connection until enough replicas have
    /// acknowledged `offset` or the deadline (Unix ms, 0 = none) passes. Replicas are asked to
    /// acknowledge at once (REPLCONF GETACK in the stream), as Redis does.
    pub(super) fn start_wait(&mut self, slot: usize, offset: u64, replicas: u64, deadline_ms: u64) {
        let conn = &mut self.conns[slot];
        conn.repl_wait = Some((offset, replicas, deadline_ms));
        self.wait_slots.push(Conn::token(slot, conn.gen));
        self.shared
            .feed
            .append_raw(&crate::repl::propagate::encode(&[
                b"REPLCONF",
                b"GETACK",
                b"*",
            ]));
    }

    /// Parks `slot`, whose next command (still at `rpos`) is a promotion, until the link
    /// drained (`promotion_must_wait`).
    pub(super) fn park_promotion(&mut self, slot: usize) {
        let conn = &mut self.conns[slot];
        conn.promote_wait = Some(crate::runtime::clock::unix_ms() + PROMOTION_DRAIN_MS_MAX);
        self.promote_slots.push(Conn::token(slot, conn.gen));
    }

    /// Lets the parked promotions run once the link drained or their wait is over.
    fn check_promotions(&mut self) {
        if self.promote_slots.is_empty() {
            return;
        }
        let now = crate::runtime::clock::unix_ms();
        for token in std::mem::take(&mut self.promote_slots) {
            let Some(slot) = self.conn_by_token(token) else {
                continue;
            };
            let Some(deadline) = self.conns[slot].promote_wait else {
                continue;
            };
            if promotion_settled(&self.shared, now >= deadline) {
                self.conns[slot].promote_wait = None;
                self.process(slot);
            } else {
                self.promote_slots.push(token);
            }
        }
    }

    /// Answers the WAITs whose replicas acknowledged or whose time is up.
    pub(super) fn check_waits(&mut self) {
        if self.wait_slots.is_empty() {
            return;
        }
        let now = crate::runtime::clock::unix_ms();
        let tokens = std::mem::take(&mut self.wait_slots);
        for token in tokens {
            let Some(slot) = self.conn_by_token(token) else {
                continue;
            };
            let Some((offset, want, deadline)) = self.conns[slot].repl_wait else {
                continue;
            };
            let acked = self.shared.repl.acked(offset) as u64;
            if acked >= want || (deadline != 0 && now >= deadline) {
                let conn = &mut self.conns[slot];
                conn.repl_wait = None;
                crate::resp::Reply::new(&mut conn.out, conn.client.resp3).int(acked as i64);
                self.flush(slot);
                self.process(slot);
            } else {
                self.wait_slots.push(token);
            }
        }
    }

    /// Before the loop submits: when the stream moved, feed this thread's replicas and wake
    /// the other threads that host some.
    pub(super) fn replicate_turn(&mut self) {
        // A plain load first: the swap's read-modify-write stays off the usual turn.
        let cut = &self.shared.repl.cut_wanted;
        if self.id == 0 && cut.load(Ordering::Relaxed) && cut.swap(false, Ordering::AcqRel) {
            self.maybe_save_point();
        }
        let end = self.shared.feed.published();
        let moved = end != self.stream_seen;
        self.stream_seen = end;
        if moved {
            let hosts = self.shared.repl.hosts.load(Ordering::Relaxed) & !(1u64 << self.id);
            for w in (0..self.shared.workers()).filter(|w| hosts & (1u64 << w) != 0) {
                let _ = self.shared.mailboxes[w].push(Msg::Wake);
            }
        }
        if !self.replica_slots.is_empty() {
            self.pump_replicas();
        }
        self.check_waits();
        self.check_promotions();
    }
}

/// With every shard held (worker 0's cron): one cut for every replica waiting for a full sync,
/// shared by all of them.
pub fn start_full_sync(shared: &Arc<Shared>, shards: &mut super::view::ShardView) {
    // The stream after the cut starts with its own SELECT.
    let offset = shared.feed.select_next();
    if let Some(link) = shared.link_status() {
        // We are a replica: the dataset is what our connection has applied, the backlog what
        // the link has received. A cut between the two would give the new replica a snapshot
        // without the writes in between and a stream that starts after them. The shards are
        // held, so `applied` cannot move now: cut only where they agree (the link appends a
        // batch to the backlog just after handing it over, so they agree again once our
        // connection has run it; the replicas wait, and the next tick tries again).
        if link.applied.load(Ordering::Acquire) != offset {
            return;
        }
    }
    let waiting: Vec<_> = std::mem::take(
        &mut *shared
            .repl
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    if waiting.is_empty() {
        return;
    }
    let ids = shared.repl_ids();
    let compress = shared.config().get_bool("rdbcompression").unwrap_or(true);
    let mut header = crate::commands::persistence::aux(&ids.replid, false);
    for (k, v) in header.iter_mut() {
        if *k == "repl-offset" {
            *v = offset.to_string();
        }
    }
    let weak = Arc::downgrade(shared);
    let readers_on: Vec<usize> = waiting.iter().map(|w| w.worker).collect();
    let notify = Box::new(move || {
        if let Some(s) = weak.upgrade() {
            for &w in &readers_on {
                let _ = s.mailboxes[w].push(Msg::Wake);
            }
        }
    });
    let held: Vec<usize> = shards.held().collect();
    let sizes = crate::commands::persistence::db_sizes(shards);
    let sink = StreamSink::start(
        (&header, &sizes),
        compress,
        held.len(),
        waiting.len(),
        notify,
    );
    for (reader, w) in waiting.iter().enumerate() {
        shared.send(
            w.worker,
            Msg::FullSync {
                token: w.token,
                sink: sink.clone(),
                reader,
                offset,
                replid: ids.replid.clone(),
                eof_capable: w.eof_capable,
            },
        );
    }
    for i in held {
        shards.shard(i).start_snapshot(sink.clone());
    }
}

/// "ip:listening-port" as Redis names a replica in its log.
fn replica_name(c: &crate::server::client::ClientState) -> String {
    let addr = &c.shared.addr;
    let ip = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
    match &c.replconf {
        Some(r) if r.listening_port != 0 => {
            format!("{}:{}", r.ip.as_deref().unwrap_or(ip), r.listening_port)
        }
        _ => addr.clone(),
    }
}

/// The master's history and offset that the dataset is exactly at, on a replica whose link
/// is up with nothing handed over but not yet applied (see `Link::consistent_point`); None
/// otherwise. Written into dump files (`repl-id`, `repl-offset`).
pub fn dump_repl_info(srv: &Shared) -> Option<(String, u64)> {
    let link = srv.link.lock().unwrap_or_else(|e| e.into_inner());
    link.as_ref()?.consistent_point()
}

/// How long REPLICAOF NO ONE waits for our connection to apply what the link already handed
/// it (normally a few milliseconds; a connection that died or sits inside a transaction the
/// master never finished would never get there).
pub const PROMOTION_DRAIN_MS_MAX: u64 = 2000;

/// How long a settled promotion may take to run before it must wait for the link again.
const PROMOTION_READY_MS: u64 = 1000;

/// Before REPLICAOF NO ONE runs: pauses the link (nothing more of the old master's stream
/// reaches our connection; the promotion then stops it) and says whether the promotion must
/// wait for our connection to apply what the link already handed it. Redis applies nothing
/// after answering; neither do we, and our backlog, which holds all of it, stays the history
/// we promote. The pause outlasts the wait and ends by itself: a promotion that does not
/// happen after all (its client left, WATCH aborted its EXEC) leaves the link running.
pub fn promotion_must_wait(srv: &Shared) -> bool {
    let link = srv.link.lock().unwrap_or_else(|e| e.into_inner());
    let Some(l) = link.as_ref() else {
        return false;
    };
    let now = crate::runtime::clock::unix_ms();
    if l.status.promotion_ready_until_ms.load(Ordering::Acquire) > now {
        return false;
    }
    l.pause(now + PROMOTION_DRAIN_MS_MAX + PROMOTION_READY_MS);
    if l.drained() {
        l.status
            .promotion_ready_until_ms
            .store(now + PROMOTION_READY_MS, Ordering::Release);
        return false;
    }
    true
}

/// Whether a promotion parked by `promotion_must_wait` may run now: the link drained (or
/// `give_up`: the wait is over, logged), or the link is gone.
pub fn promotion_settled(srv: &Shared, give_up: bool) -> bool {
    let link = srv.link.lock().unwrap_or_else(|e| e.into_inner());
    let Some(l) = link.as_ref() else {
        return true;
    };
    let now = crate::runtime::clock::unix_ms();
    // Ready, or a link that is not paused (another REPLICAOF replaced the one we paused): the
    // command runs again and decides anew.
    if l.status.promotion_ready_until_ms.load(Ordering::Acquire) > now || !l.status.paused() {
        return true;
    }
    let drained = l.drained();
    if !drained && !give_up {
        return false;
    }
    if !drained {
        log::warning(&format!(
            "Promoting before the master's stream handed over was applied (applied {} of {}): waited {PROMOTION_DRAIN_MS_MAX} ms",
            l.status.applied.load(Ordering::Acquire),
            l.status.offset.load(Ordering::Acquire)
        ));
    }
    l.status
        .promotion_ready_until_ms
        .store(now + PROMOTION_READY_MS, Ordering::Release);
    true
}

/// REPLICAOF / SLAVEOF and the `replicaof` directive: follow `target`, or with None (NO ONE)
/// become a master again. Switching masters keeps the cached (replid, offset) so the new
/// master may continue partially; promotion starts a new history whose past (replid2, up to
/// second_repl_offset) other replicas of the old master can still continue from (PSYNC2).
pub fn set_master(srv: &Shared, target: Option<(String, u16)>, who: &str) -> Result<(), String> {
    use crate::store::db::REPLICA_MODE;
    let mut link = srv.link.lock().unwrap_or_else(|e| e.into_inner());
    let (cached, past, replaced) = match link.take() {
        Some(l) => {
            l.stop();
            let replaced = l.status.replaced.load(Ordering::Acquire);
            (Some(l.cached()), l.past(), replaced)
        }
        None => (None, None, false),
    };
    let Some((host, port)) = target else {
        if let Some((old_id, old_off)) = cached {
            log::notice("Discarding previously cached master state.");
            if old_id.is_empty() && replaced {
                // A full sync's snapshot replaced the dataset but the sync never finished:
                // neither our old history nor the master's describes it.
                srv.repl.new_history();
            } else {
                let (old_id, old_off) = if old_id.is_empty() {
                    // Never synced: the history we leave behind is our own.
                    (srv.repl.ids().replid, srv.feed.end())
                } else {
                    (old_id, old_off)
                };
                srv.repl.promote(&old_id, old_off);
                log::notice(&format!(
                    "Setting secondary replication ID to {old_id}, valid up to offset: {}. New replication ID is {}",
                    old_off + 1,
                    srv.repl.ids().replid
                ));
            }
            // Our master's connection goes: after the drain it has nothing left to apply, and
            // should the drain have given up, what it still holds must not run after the
            // +OK (Redis frees its master client here too).
            srv.kill_kind(super::client::KIND_MASTER);
            // Our own replicas are told of the new ID the way Redis tells them: they are
            // dropped, come back and continue partially (`+CONTINUE <new id>`). Kept, they
            // would go on under the old ID past its end, and their next reconnection would
            // cost a full sync.
            srv.kill_kind(super::client::KIND_REPLICA);
        }
        REPLICA_MODE.store(false, Ordering::Relaxed);
        log::set_role(b'M');
        // Our own writes follow the master's stream: the first one selects its database.
        srv.feed.force_select();
        log::notice(&format!("MASTER MODE enabled ({who})"));
        return Ok(());
    };
    let mut fds = [0i32; 2];
    // SAFETY: socketpair writes two descriptors into the array we own; both are checked below.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "Can't create the replication link: {}",
            std::io::Error::last_os_error()
        ));
    }
    let (config, _) = {
        let c = srv.config();
        let auth = c
            .get_bytes("masterauth")
            .filter(|p| !p.is_empty())
            .map(|p| (c.get_str("masteruser").filter(|u| !u.is_empty()), p));
        let backlog = c.get_int("repl-backlog-size").unwrap_or(1 << 20).max(1) as usize;
        (
            crate::repl::replica::LinkConfig {
                host: host.clone(),
                port,
                auth,
                listening_port: c.port,
                backlog_bytes: backlog,
                disk_load: (c.get_enum("repl-diskless-load") == Some("disabled"))
                    .then(|| c.dbfilename.clone()),
                timeout: std::time::Duration::from_secs(
                    c.get_int("repl-timeout").unwrap_or(60).max(1) as u64,
                ),
            },
            backlog,
        )
    };
    REPLICA_MODE.store(true, Ordering::Relaxed);
    log::set_role(b'S');
    log::notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
    log::notice(&format!("REPLICAOF {host}:{port} enabled ({who})"));
    // Our own history is what a new master may continue (PSYNC2), else the old master's.
    let psync_from = cached.or_else(|| {
        let end = srv.feed.end();
        (end > 0).then(|| (srv.repl.ids().replid, end))
    });
    srv.send(
        0,
        Msg::AdoptMaster {
            fd: fds[0],
            addr: format!("{host}:{port}"),
        },
    );
    *link = Some(crate::repl::replica::Link::start(
        config,
        fds[1],
        psync_from,
        past,
        srv.feed.clone(),
    ));
    Ok(())
}
