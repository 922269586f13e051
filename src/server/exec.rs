//! From received bytes to replies: parse, check, route, lock, run.
//!
//! `process` runs a connection's buffered commands in order. A command whose shards are all
//! local and free runs at once; otherwise the connection parks it (leaving its bytes in the
//! buffer) and acquires the locks (`advance`); when the last one arrives the command is parsed
//! again from the same bytes and run, and processing continues with the next one.

use std::sync::atomic::Ordering;

use super::client::{ClientAction, ClientState, ReplyMode};
use super::conn::Conn;
use super::slowlog::{SlowEntry, SLOWLOG_ARGS_MAX, SLOWLOG_ARG_BYTES_MAX};
use super::view::ShardView;
use super::worker::Worker;
use super::{log, Msg};
use crate::commands::{self, Ctx, Spec};
use crate::resp::{
    parse_command, parse_command_resume, peek_second_arg, Args, Limits, ParseOutcome, Reply,
};
use crate::runtime::clock::{mono_ns, unix_us};
use crate::store::shard_of;

/// Commands run per connection before yielding to others (fairness under deep pipelines).
const COMMANDS_PER_TURN_MAX: usize = 4096;
/// Queued commands that may join a parked command's lock batch.
const BATCH_COMMANDS_MAX: usize = 256;
/// Pipelined commands whose keys are looked up together before they run (`touch_ahead`).
const TOUCH_AHEAD_COMMANDS: usize = crate::store::segtable::PREFETCH_KEYS_MAX;

enum Step {
    /// Ran (or answered with an error); continue.
    Done(usize),
    /// Parked waiting for locks.
    Parked,
    /// Stop processing this connection (incomplete input, closing, or turn budget used).
    Stop,
}

impl Worker {
    /// Runs as many buffered commands of `slot` as possible, then flushes and re-arms receive.
    pub fn process(&mut self, slot: usize) {
        // A command's time runs from the previous command's end (one clock read each); reading
        // the clock here too keeps other connections' work out of this one's first command.
        self.clock_ns = mono_ns();
        let mut budget_used = true;
        for i in 0..COMMANDS_PER_TURN_MAX {
            // Checked before every command, not only after one: a connection killed (CLIENT
            // KILL) or told QUIT while it waited for a shipped batch or for locks comes back
            // here with the flag already set, and must run nothing more.
            let conn = &self.conns[slot];
            if conn.closing
                || conn.close_after_flush
                || conn.client.shared.kill.load(Ordering::Acquire)
            {
                // (A kill noticed here, before the thread's own `check_kills`, closes the
                // connection through it a moment later.)
                budget_used = false;
                break;
            }
            if i % TOUCH_AHEAD_COMMANDS == 0 {
                self.touch_ahead(slot);
            }
            match self.step(slot) {
                Step::Done(consumed) => self.conns[slot].rpos += consumed,
                Step::Parked | Step::Stop => {
                    budget_used = false;
                    break;
                }
            }
        }
        if self.conns.get(slot).is_none_or(|c| c.closing) {
            return;
        }
        if self.output_over_limit(slot) {
            log::warning(&format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.conns[slot].client.id, self.conns[slot].client.shared.addr
            ));
            self.close(slot);
            return;
        }
        self.flush(slot);
        if budget_used {
            // Input left after a full turn: continue next turn, after the other connections.
            let conn = &self.conns[slot];
            self.runnable.push_back(Conn::token(slot, conn.gen));
            return;
        }
        if self.conns.get(slot).is_some_and(|c| !c.closing) {
            self.post_recv(slot);
        }
    }

    fn output_over_limit(&self, slot: usize) -> bool {
        let conn = &self.conns[slot];
        // MONITOR clients get the replica class's limit, as in Redis.
        let l = if conn.monitor {
            self.limits.obuf_replica
        } else if conn.client.subscribed() {
            self.limits.obuf_pubsub
        } else {
            self.limits.obuf_normal
        };
        if l.hard_bytes == 0 {
            return false;
        }
        (conn.out.len() + conn.sending.len().saturating_sub(conn.sent)) as u64 > l.hard_bytes
    }

    /// Queues a MONITOR line for the monitor in `slot`, closing it when it falls too far behind.
    pub fn deliver_monitor_line(&mut self, slot: usize, line: &[u8]) {
        self.conns[slot].out.extend_from_slice(line);
        if self.output_over_limit(slot) {
            log::warning(&format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.conns[slot].client.id, self.conns[slot].client.shared.addr
            ));
            self.close(slot);
            return;
        }
        self.flush(slot);
    }

    fn parse_limits(&self, slot: usize) -> Limits {
        Limits {
            bulk_bytes_max: self.limits.proto_max_bulk_len,
            authenticated: self.conns[slot].client.authenticated,
        }
    }

    /// Warms the cache for the keys of the next `TOUCH_AHEAD_COMMANDS` buffered commands of
    /// `slot` that our own (free) shard owns, before any of them runs. A key lookup in a large
    /// keyspace is two or three dependent cache misses; prefetched for a pipeline's keys
    /// together (`SegTable::prefetch`) they overlap, and the commands find their entries
    /// cached. The key is taken to be the second argument (true of nearly every keyed command;
    /// a wrong guess only wastes a prefetch), found by a quick scan rather than a full parse;
    /// a pipeline that repeats one key is left alone.
    fn touch_ahead(&mut self, slot: usize) {
        let shards = self.shared.workers();
        let me = self.id;
        let conn = &self.conns[slot];
        if !self.lock.is_free() || conn.resume.is_some() || conn.parked() {
            return;
        }
        let mut keys: [&[u8]; TOUCH_AHEAD_COMMANDS] = [&[]; TOUCH_AHEAD_COMMANDS];
        let mut n = 0;
        let mut rest = conn.rbuf.get(conn.rpos..).unwrap_or_default();
        while n < TOUCH_AHEAD_COMMANDS {
            let Some((consumed, at, len)) = peek_second_arg(rest) else {
                break;
            };
            let key = &rest[at..at + len];
            if shard_of(key, shards) == me {
                if n == 1 && key == keys[0] {
                    // One hot key (LPUSH mylist ...): already cached, not worth the scan.
                    return;
                }
                keys[n] = key;
                n += 1;
            }
            rest = &rest[consumed..];
        }
        if n < 2 {
            return;
        }
        // SAFETY: as in `cron`: our own shard's lock is free (checked above) and this thread
        // is its owner, so nobody else can hold it while we read.
        let mut view = unsafe { ShardView::new(&self.shared.shards, 1u64 << me) };
        view.shard(me).prefetch(conn.client.db, &keys[..n]);
    }

    /// Parses and runs (or parks) the next command of `slot`.
    fn step(&mut self, slot: usize) -> Step {
        let limits = self.parse_limits(slot);
        let me = self.id;
        let shards = self.shared.workers();
        let conn = &mut self.conns[slot];
        if conn.parked() || conn.rpos >= conn.rbuf.len() {
            return Step::Stop;
        }
        let outcome = parse_command_resume(
            &conn.rbuf[conn.rpos..],
            &mut conn.ranges,
            &mut conn.scratch,
            &limits,
            &mut conn.resume,
        );
        let (consumed, inline) = match outcome {
            ParseOutcome::Incomplete => {
                if conn.pending_input() as u64 > self.limits.query_buffer_bytes_max {
                    log::warning(&format!(
                        "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: {:?})",
                        conn.client.id,
                        conn.client.shared.addr,
                        String::from_utf8_lossy(&conn.rbuf[conn.rpos..conn.rpos + 64.min(conn.pending_input())])
                    ));
                    self.close(slot);
                }
                return Step::Stop;
            }
            ParseOutcome::Empty { consumed } => return Step::Done(consumed),
            ParseOutcome::Error(text) => {
                log::verbose(&format!(
                    "Protocol error ({}) from client: id={} addr={}",
                    text.trim_start_matches("Protocol error: "),
                    conn.client.id,
                    conn.client.shared.addr
                ));
                Reply::new(&mut conn.out, conn.client.resp3).err(text);
                conn.close_after_flush = true;
                return Step::Stop;
            }
            ParseOutcome::Complete { consumed, inline } => (consumed, inline),
        };
        let Some((index, need)) = self.checked(slot, inline, consumed, shards) else {
            return Step::Done(consumed);
        };
        if self.promotion_first(slot, index, inline) {
            self.park_promotion(slot);
            return Step::Parked;
        }
        let mine = 1u64 << me;
        if need == 0 || (need == mine && self.lock.is_free()) {
            self.run_command(slot, index, need, inline);
            return Step::Done(consumed);
        }
        if need.count_ones() == 1 && need != mine && self.may_ship(slot, index) && self.ship(slot) {
            return Step::Parked;
        }
        // Park: take the locks (also the fallback when shipping declined the command). The
        // complete commands queued behind this one join it, so a pipeline pays one lock round
        // trip per batch rather than per command.
        let need = need | self.batch_need(slot, consumed, shards);
        let conn = &mut self.conns[slot];
        conn.need = need;
        conn.held = 0;
        conn.requested = 0;
        self.advance(slot);
        if self.conns.get(slot).is_some_and(|c| c.need == 0) {
            // Everything was local and free after all: it already ran and advanced rpos.
            return Step::Done(0);
        }
        Step::Parked
    }

    /// Whether the command just parsed (table `index`) promotes this replica (REPLICAOF NO ONE,
    /// or an EXEC with one queued) and must first wait until our connection applied all the
    /// link handed it: otherwise the old master's writes on their way inside this server land
    /// after the `+OK`, on top of the new master's own (`replicas::promotion_must_wait`).
    fn promotion_first(&mut self, slot: usize, index: u32, inline: bool) -> bool {
        let exec = super::multi::is_exec(index);
        if !exec && !super::multi::is_replicaof(index) {
            return false;
        }
        let conn = &self.conns[slot];
        let promotes = if exec {
            // A doomed transaction (queueing error, WATCH failed) promotes nothing.
            let doomed = conn.client.watch_failed(self.now_ms);
            conn.client
                .multi
                .as_ref()
                .is_some_and(|m| m.promotes && !m.errored && !doomed)
        } else {
            let base: &[u8] = if inline {
                &conn.scratch
            } else {
                &conn.rbuf[conn.rpos..]
            };
            conn.client.multi.is_none()
                && super::multi::is_promotion(&Args::new(base, &conn.ranges))
        };
        promotes && !conn.client.is_master && super::replicas::promotion_must_wait(&self.shared)
    }

    /// Whether the command just parsed (table `index`) may be shipped to its shard's owner: a
    /// plain keyed command, from a client whose replies are not being suppressed or watched.
    fn may_ship(&self, slot: usize, index: u32) -> bool {
        let conn = &self.conns[slot];
        conn.client.reply_mode == ReplyMode::On
            && !conn.monitor
            && super::ship::shippable(&commands::table().specs[index as usize])
    }

    /// Moves a parked command forward: acquires the next lock in shard order, or, when all are
    /// held, runs it, releases the locks and continues with the connection's next commands.
    pub fn advance(&mut self, slot: usize) {
        let me = self.id;
        let conn = &mut self.conns[slot];
        let token = Conn::token(slot, conn.gen);
        let shared = &self.shared;
        let all_held = super::locks::acquire_in_order(
            me,
            conn.need,
            &mut conn.held,
            &mut conn.requested,
            &mut self.lock,
            token,
            |next| shared.send(next, Msg::LockRequest { from: me, token }),
        );
        if !all_held {
            return;
        }
        // All locks held: run the parked command and every following complete command whose
        // shards are among the held ones, then release.
        let held = self.conns[slot].held;
        for _ in 0..COMMANDS_PER_TURN_MAX {
            if !self.run_if_covered(slot, held) {
                break;
            }
        }
        let conn = &mut self.conns[slot];
        conn.need = 0;
        conn.held = 0;
        conn.requested = 0;
        self.release(held);
        if self.conns.get(slot).is_some_and(|c| !c.closing) {
            self.process(slot);
        }
    }

    /// Shards needed by the complete commands queued after the first `skip` bytes of input
    /// (at most `BATCH_COMMANDS_MAX` of them; stops at anything that is not a plain command).
    fn batch_need(&mut self, slot: usize, skip: usize, shards: usize) -> u64 {
        let limits = self.parse_limits(slot);
        let conn = &mut self.conns[slot];
        let mut pos = conn.rpos + skip;
        let mut need = 0u64;
        for _ in 0..BATCH_COMMANDS_MAX {
            if pos >= conn.rbuf.len() {
                break;
            }
            match parse_command(
                &conn.rbuf[pos..],
                &mut conn.ranges,
                &mut conn.scratch,
                &limits,
            ) {
                ParseOutcome::Complete { consumed, inline } => {
                    let base: &[u8] = if inline {
                        &conn.scratch
                    } else {
                        &conn.rbuf[pos..]
                    };
                    let args = Args::new(base, &conn.ranges);
                    match commands::table().lookup(args.get(0)) {
                        Some((_, spec)) if spec.arity_ok(args.len()) => {
                            need |= route(spec, &args, shards)
                        }
                        _ => break,
                    }
                    pos += consumed;
                }
                ParseOutcome::Empty { consumed } => pos += consumed,
                _ => break,
            }
        }
        need
    }

    /// Runs the command at `rpos` if it is complete and every shard it needs is in `held`;
    /// returns whether it consumed input (and the batch may go on).
    fn run_if_covered(&mut self, slot: usize, held: u64) -> bool {
        let limits = self.parse_limits(slot);
        let shards = self.shared.workers();
        let conn = &mut self.conns[slot];
        if conn.closing || conn.close_after_flush || conn.rpos >= conn.rbuf.len() {
            return false;
        }
        let (consumed, inline) = match parse_command(
            &conn.rbuf[conn.rpos..],
            &mut conn.ranges,
            &mut conn.scratch,
            &limits,
        ) {
            ParseOutcome::Complete { consumed, inline } => (consumed, inline),
            ParseOutcome::Empty { consumed } => {
                conn.rpos += consumed;
                return true;
            }
            _ => return false,
        };
        let Some((index, need)) = self.checked(slot, inline, consumed, shards) else {
            self.conns[slot].rpos += consumed;
            return true;
        };
        if need & !held != 0 {
            return false;
        }
        self.run_command(slot, index, held, inline);
        self.conns[slot].rpos += consumed;
        true
    }

    /// The server states that refuse commands right now (see `check`), read once per command
    /// or per shipped batch.
    pub(super) fn refusals(&self) -> Refusals {
        // Writes are refused while the last background save failed (stop-writes-on-bgsave-error
        // with save points configured), as Redis does.
        let misconf = if self.limits.stop_writes_on_save_error
            && !self.shared.save.last_bgsave_ok.load(Ordering::Relaxed)
        {
            Some(MISCONF.to_string())
        } else if !self.shared.aof.status.last_write_ok.load(Ordering::Relaxed) {
            Some(format!(
                "MISCONF Errors writing to the AOF file: {}",
                self.shared.aof.status.last_write_error()
            ))
        } else {
            None
        };
        let replica_mode = crate::store::db::REPLICA_MODE.load(Ordering::Relaxed);
        let repl = &self.shared.repl;
        let loading = self.shared.save.loading.load(Ordering::Acquire);
        Refusals {
            misconf,
            read_only: self.limits.replica_read_only && replica_mode,
            too_few_replicas: self.limits.min_replicas_to_write > 0
                && repl.good_replicas.load(Ordering::Relaxed) < self.limits.min_replicas_to_write
                && !replica_mode,
            stale: !self.limits.replica_serve_stale && repl.stale.load(Ordering::Relaxed),
            loading,
        }
    }

    /// Checks the command just parsed at `rpos` (known, arity, auth) and routes it: its table
    /// index and the shards it needs. On a failed check the error reply is queued and counted.
    /// Inside MULTI, a command that is not part of the transaction protocol is queued instead
    /// (`+QUEUED`), and EXEC is routed to every shard the queued commands touch; both return
    /// None or the EXEC routing here, so callers never run a queued command.
    fn checked(
        &mut self,
        slot: usize,
        inline: bool,
        consumed: usize,
        shards: usize,
    ) -> Option<(u32, u64)> {
        let refusals = self.refusals();
        let conn = &mut self.conns[slot];
        let Conn {
            rbuf,
            rpos,
            scratch,
            ranges,
            out,
            client,
            monitor,
            ..
        } = conn;
        let base: &[u8] = if inline { scratch } else { &rbuf[*rpos..] };
        let args = Args::new(base, ranges);
        let reply_start = out.len();
        match check(out, client, *monitor, &refusals, &args) {
            Ok((index, spec)) if client.multi.is_some() => {
                let raw = &rbuf[*rpos..*rpos + consumed];
                super::multi::queue_or_route(out, client, spec, &args, raw, shards)
                    .map(|need| (index, need))
            }
            // While the start-up load holds every shard, INFO answers from what it can read
            // without them (`loading:1`, no keyspace lines); DEBUG waits for the load to end.
            Ok((index, spec)) if refusals.loading && spec.name == "info" => Some((index, 0)),
            Ok((index, spec)) => Some((index, route(spec, &args, shards))),
            Err(known) => {
                if out.get(reply_start) == Some(&b'-') {
                    self.shared.count_error(&out[reply_start..]);
                }
                let slot = known.and_then(|i| crate::commands::command::stat_index(i, &args));
                if let Some(slot) = slot {
                    let stats = &self.shared.stats[self.id].commands[slot];
                    super::WorkerStats::bump(&stats.rejected_calls, 1);
                }
                let exec_refused = known.is_some_and(super::multi::is_exec);
                if exec_refused && client.multi.is_some() {
                    // EXECABORT: the transaction is discarded, as by DISCARD.
                    client.multi = None;
                    client.unwatch();
                } else if let Some(m) = client.multi.as_mut() {
                    m.errored = true;
                }
                self.shared.stats[self.id]
                    .total_error_replies
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Runs the command at `rpos` of `slot` with the shards in `held` locked.
    pub(super) fn run_command(&mut self, slot: usize, index: u32, held: u64, inline: bool) {
        let env = Env {
            shared: &self.shared,
            limits: &self.limits,
            me: self.id,
            now_ms: self.command_now_ms(),
        };
        let conn = &mut self.conns[slot];
        let Conn {
            rbuf,
            rpos,
            scratch,
            ranges,
            out,
            client,
            ..
        } = conn;
        let args = if inline {
            Args::new(scratch, ranges)
        } else {
            Args::framed(&rbuf[*rpos..], ranges)
        };
        let reply_start = out.len();
        let (finished_ns, monitor_lines) = if client.multi.is_some() && super::multi::is_exec(index)
        {
            super::multi::exec(&env, self.clock_ns, held, client, out)
        } else {
            let (f, line) = execute(&env, self.clock_ns, held, client, out, &args, index);
            (f, line.into_iter().collect())
        };
        self.clock_ns = finished_ns;
        match client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => out.truncate(reply_start),
            ReplyMode::SkipThis => {
                out.truncate(reply_start);
                client.reply_mode = ReplyMode::On;
            }
            ReplyMode::Skip => client.reply_mode = ReplyMode::SkipThis,
        }
        let action = client.action.take();
        let deliveries = std::mem::take(&mut client.outbox);
        let woken = std::mem::take(&mut client.woken);
        let mut deliveries = deliveries;
        if !client.events.is_empty() {
            let events = std::mem::take(&mut client.events);
            super::pubsub::key_event_deliveries(
                &self.shared,
                self.limits.notify,
                &events,
                &mut deliveries,
            );
        }
        if !deliveries.is_empty() {
            self.deliver_all(deliveries);
        }
        if !woken.is_empty() {
            self.deliver_woken(woken);
        }
        for line in monitor_lines {
            self.feed_monitors(line);
        }
        if let Some(action) = action {
            self.act(slot, action);
        }
    }

    /// Hands a MONITOR line to every monitor: directly for this thread's, by message for the
    /// others'. A full mailbox drops the line for that monitor rather than stall the loop (a
    /// monitor that cannot keep up loses lines; the data path never waits for it).
    pub(super) fn feed_monitors(&mut self, line: Vec<u8>) {
        let targets = self
            .shared
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (w, token) in targets {
            if w == self.id {
                if let Some(slot) = self.conn_by_token(token) {
                    self.deliver_monitor_line(slot, &line);
                }
            } else if self.shared.mailboxes[w]
                .push(Msg::Monitor {
                    token,
                    line: line.clone(),
                })
                .is_err()
            {
                log::verbose("MONITOR line dropped: the monitor's thread is behind");
            }
        }
    }

    fn act(&mut self, slot: usize, action: ClientAction) {
        match action {
            ClientAction::CloseAfterReply => self.conns[slot].close_after_flush = true,
            ClientAction::Monitor => {
                let conn = &mut self.conns[slot];
                if !conn.monitor {
                    conn.monitor = true;
                    conn.client.shared.monitor.store(true, Ordering::Relaxed);
                    let token = Conn::token(slot, conn.gen);
                    self.shared
                        .monitors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((self.id, token));
                    self.shared.monitor_count.fetch_add(1, Ordering::Relaxed);
                }
            }
            ClientAction::Reset => self.stop_monitor(slot),
            ClientAction::Block {
                deadline_ms,
                done,
                null_array,
            } => self.block(slot, deadline_ms, done, null_array),
            ClientAction::BecomeReplica(start) => self.become_replica(slot, start),
            ClientAction::Wait {
                offset,
                replicas,
                deadline_ms,
            } => self.start_wait(slot, offset, replicas, deadline_ms),
            ClientAction::Shutdown { save } => {
                let code = match save {
                    Some(true) => super::SHUTDOWN_SAVE,
                    Some(false) => super::SHUTDOWN_NOSAVE,
                    None => super::SHUTDOWN_DEFAULT,
                };
                self.shared.shutdown.store(code, Ordering::Release);
                self.shared.wake_all();
            }
        }
    }
}

/// The keyspace events of pops served to blocked clients (`client.woken[from..]`), as Redis
/// raises them after the command that filled the key.
fn pop_events(env: &Env, client: &mut ClientState, from: usize) {
    if client.woken.len() == from {
        return;
    }
    let events = pop_key_events(env.limits.notify, &client.woken[from..]);
    client.events.extend(events);
}

/// The keyspace events (under notify `flags`) of the pops in `served`.
pub(super) fn pop_key_events(
    flags: u32,
    served: &[crate::store::blocking::Served],
) -> Vec<super::pubsub::KeyEvent> {
    use crate::config::notify::{KEYEVENT, KEYSPACE, LIST, ZSET};
    use crate::store::blocking::{BlockOp, Outcome};
    use crate::store::list::End;
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        return Vec::new();
    }
    served
        .iter()
        .filter_map(|s| {
            let (class, event) = match (&s.outcome, s.waiter.op) {
                (Outcome::Retry, _) => return None,
                (_, BlockOp::ListPop { end: End::Left, .. }) => (LIST, "lpop"),
                (_, BlockOp::ListPop { .. }) => (LIST, "rpop"),
                (_, BlockOp::ZPop { max: true, .. }) => (ZSET, "zpopmax"),
                _ => (ZSET, "zpopmin"),
            };
            (flags & class != 0).then(|| super::pubsub::KeyEvent {
                db: s.db,
                event,
                key: s.key.clone(),
            })
        })
        .collect()
}

/// What a command runs with besides its connection: shared state, cached limits, the thread.
pub(super) struct Env<'a> {
    pub shared: &'a super::Shared,
    pub limits: &'a super::worker::Limits,
    pub me: usize,
    pub now_ms: u64,
}

/// Runs one command with the shards in `held` locked (or owned), appending its reply to `out`,
/// and does the bookkeeping every command gets wherever it runs: counters, slowlog, latency.
/// Returns when it finished (ns, monotonic) and the MONITOR line to feed, if any.
pub(super) fn execute(
    env: &Env,
    started_ns: u64,
    held: u64,
    client: &mut ClientState,
    out: &mut Vec<u8>,
    args: &Args,
    index: u32,
) -> (u64, Option<Vec<u8>>) {
    let shared = env.shared;
    let spec = &commands::table().specs[index as usize];
    let reply_start = out.len();
    // Our master's commands reach our backlog as the master sent them (the link appends
    // them raw): only an AOF needs them encoded again.
    let feed_on = held != 0
        && if aof_only(client) {
            shared.feed.aof_on()
        } else {
            shared.feed.active()
        };
    let mark = client.prop.cmds.len();
    let before = if feed_on {
        client.prop.on = true;
        client.prop.rewritten = false;
        change_counts(shared, held)
    } else {
        (0, 0)
    };
    {
        // SAFETY: the caller holds the lock of every shard in `held` (a remote lock granted to
        // this connection, or this thread's own shard while its lock is free or held for the
        // running command), and keeps holding it until this call returns.
        let mut view = unsafe { ShardView::new(&shared.shards, held) };
        view.dbi = client.db;
        view.now_ms = env.now_ms;
        for i in 0..shared.shards.len().min(64) {
            if held & (1u64 << i) != 0 {
                view.shard(i).from_master = client.is_master;
            }
        }
        let mut ctx = Ctx {
            shards: view,
            out: Reply::new(out, client.resp3),
            client,
            srv: shared,
            worker: env.me,
            now_ms: env.now_ms,
            limits: env.limits,
        };
        (spec.handler)(&mut ctx, *args);
    }
    if feed_on {
        client.prop.on = false;
        let changed = change_counts(shared, held).0 != before.0;
        if !client.prop.rewritten && changed && spec.has(commands::WRITE) {
            client.prop.as_received = Some(client.db);
        }
    }
    if held != 0 {
        // Serve clients blocked on keys this command filled, before anything else runs.
        // SAFETY: as above, the locks of `held` are still held.
        let mut view = unsafe { ShardView::new(&shared.shards, held) };
        let log_expired = crate::store::db::LOG_EXPIRED.load(Ordering::Relaxed);
        let log_deleted = crate::store::db::LOG_DELETED.load(Ordering::Relaxed);
        let (mut expired, mut emptied) = (Vec::new(), Vec::new());
        for i in 0..shared.shards.len().min(64) {
            if held & (1u64 << i) != 0 {
                let shard = view.shard(i);
                // Inside EXEC, clients are served once the whole transaction ran
                // (`serve_blocked_after_exec`): none may see part of it.
                if !client.in_exec {
                    let served_before = client.woken.len();
                    shard.serve_blocked(&mut client.woken);
                    pop_events(env, client, served_before);
                    if feed_on {
                        propagate_pops(client, served_before);
                    }
                }
                if log_expired {
                    shard.take_expired(&mut expired);
                }
                if log_deleted {
                    shard.take_emptied(&mut emptied);
                }
            }
        }
        let tagged = expired
            .into_iter()
            .map(|k| ("expired", k))
            .chain(emptied.into_iter().map(|k| ("del", k)));
        for (event, (db, key)) in tagged {
            client.events.push(super::pubsub::KeyEvent {
                db,
                event,
                key: key.to_vec(),
            });
        }
    }
    if feed_on {
        finish_propagation(shared, held, client, args, mark, before.1);
    }
    let finished_ns = mono_ns();
    let duration_ns = finished_ns.saturating_sub(started_ns);
    let duration_us = duration_ns / 1000;
    if client.is_master && crate::commands::replication::is_link_bookkeeping(args) {
        // Our link's own bookkeeping, not a command of the master's: it shows in no
        // statistic and as no client's last command.
        client
            .shared
            .last_interaction_ms
            .store(env.now_ms, Ordering::Relaxed);
        return (finished_ns, None);
    }
    let stats = &shared.stats[env.me];
    stats.commands_processed.store(
        stats.commands_processed.load(Ordering::Relaxed) + 1,
        Ordering::Relaxed,
    );
    let failed = out.get(reply_start) == Some(&b'-');
    if let Some(slot) = crate::commands::command::stat_index(index, args) {
        let command = &stats.commands[slot];
        super::WorkerStats::bump(&command.calls, 1);
        super::WorkerStats::bump(&command.time_ns, duration_ns);
        if env.limits.latency_tracking {
            command
                .latency
                .get_or_init(Default::default)
                .record(duration_ns);
        }
        if failed {
            super::WorkerStats::bump(&command.failed_calls, 1);
        }
    }
    if failed {
        stats.total_error_replies.fetch_add(1, Ordering::Relaxed);
        shared.count_error(&out[reply_start..]);
    }
    client.shared.last_cmd.store(index, Ordering::Relaxed);
    client
        .shared
        .last_interaction_ms
        .store(env.now_ms, Ordering::Relaxed);
    let monitor_line = if shared.monitor_count.load(Ordering::Relaxed) > 0
        && !spec.has(commands::SKIP_MONITOR | commands::ADMIN)
    {
        Some(monitor_line(client.db, &client.shared.addr, args))
    } else {
        None
    };
    let limits = env.limits;
    if limits.slowlog_slower_than_us >= 0
        && duration_us as i64 >= limits.slowlog_slower_than_us
        && !spec.has(commands::SKIP_SLOWLOG)
    {
        record_slow(shared, args, duration_us, client, limits.slowlog_len_max);
    }
    if limits.latency_threshold_ms > 0 && duration_us / 1000 >= limits.latency_threshold_ms {
        let event = if spec.has(commands::FAST) {
            "fast-command"
        } else {
            "command"
        };
        shared
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(event, env.now_ms / 1000, duration_us / 1000);
    }
    (finished_ns, monitor_line)
}

/// (writes, expiry deletions) summed over the shards in `held`, to tell whether a command
/// changed data and expired keys.
fn change_counts(shared: &super::Shared, held: u64) -> (u64, u64) {
    // SAFETY: called from `execute`, whose caller holds the locks of `held` throughout.
    let mut view = unsafe { ShardView::new(&shared.shards, held) };
    let mut sum = (0, 0);
    for i in (0..shared.shards.len().min(64)).filter(|i| held & (1u64 << i) != 0) {
        let shard = view.shard(i);
        sum.0 += shard.dirty;
        sum.1 += shard.stats.expired_keys;
    }
    sum
}

/// The plain pops that repeat what serving blocked clients did (`client.woken[from..]`):
/// BLPOP's pop propagates as LPOP, BLMPOP's as LPOP with a count, BZPOPMIN's as ZPOPMIN ...
fn propagate_pops(client: &mut ClientState, from: usize) {
    let cmds = pop_commands(&client.woken[from..]);
    client.prop.cmds.extend(cmds);
}

/// The pops in `served` as the non-blocking commands replicas and the AOF get.
pub(super) fn pop_commands(served: &[crate::store::blocking::Served]) -> Vec<(usize, Vec<u8>)> {
    use crate::store::blocking::{BlockOp, Outcome};
    use crate::store::list::End;
    let mut cmds = Vec::new();
    for s in served {
        let (name, n, count) = match (&s.outcome, s.waiter.op) {
            (Outcome::List(v), BlockOp::ListPop { end, count }) => {
                let name: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
                (name, v.len(), count)
            }
            (Outcome::ZSet(v), BlockOp::ZPop { max, count }) => {
                let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
                (name, v.len(), count)
            }
            _ => continue,
        };
        let n = n.to_string();
        let cmd = match count {
            Some(_) => crate::repl::propagate::encode(&[name, &s.key, n.as_bytes()]),
            None => crate::repl::propagate::encode(&[name, &s.key]),
        };
        cmds.push((s.db, cmd));
    }
    cmds
}

/// Puts the DELs of keys the command expired before its own propagation (they happened first)
/// and, outside EXEC, appends the lot to the feed while the shards are still held.
fn finish_propagation(
    shared: &super::Shared,
    held: u64,
    client: &mut ClientState,
    args: &Args,
    mark: usize,
    expired_before: u64,
) {
    let expired = change_counts(shared, held).1 != expired_before;
    let own = client.prop.as_received.take();
    if let (Some(db), false, false, 0) = (own, expired, client.in_exec, client.prop.cmds.len()) {
        // The common case, a write that propagates alone as received: no copy of its own.
        if let Some(frame) = args.frame() {
            let one = [(db, frame)];
            if aof_only(client) {
                shared.feed.append_aof_only(&one, false);
            } else {
                shared.feed.append(&one, false);
                client.woff = shared.feed.end();
            }
            return;
        }
    }
    if let Some(db) = own {
        // Before whatever serving blocked clients added (its pops ran after it).
        let cmd = crate::repl::propagate::encode_args(args);
        client.prop.cmds.insert(mark, (db, cmd));
    }
    if expired {
        // SAFETY: as in `change_counts`.
        let mut view = unsafe { ShardView::new(&shared.shards, held) };
        let mut keys = Vec::new();
        for i in (0..shared.shards.len().min(64)).filter(|i| held & (1u64 << i) != 0) {
            view.shard(i).take_expired_prop(&mut keys);
        }
        let dels = keys
            .iter()
            .map(|(db, k)| (*db, crate::repl::propagate::encode(&[b"DEL", k])));
        client.prop.cmds.splice(mark..mark, dels);
    }
    if !client.in_exec {
        append_propagated(shared, client, false);
    }
}

/// Whether the client's writes go to the AOF only, not to the replication stream: on a
/// replica, whose replicas get its master's stream as received, both for the commands of that
/// master (already in the stream) and for local writes on a writable replica (`replica-read-only
/// no`), which Redis keeps local too.
fn aof_only(client: &ClientState) -> bool {
    client.is_master || crate::store::db::REPLICA_MODE.load(Ordering::Relaxed)
}

/// After EXEC ran its transaction (locks of `held` still held): serves the clients blocked on
/// keys it filled, and propagates their pops after the transaction's block, as Redis does.
pub(super) fn serve_blocked_after_exec(env: &Env, client: &mut ClientState, held: u64) {
    let shared = env.shared;
    let feed_on = if aof_only(client) {
        shared.feed.aof_on()
    } else {
        shared.feed.active()
    };
    // SAFETY: called from `multi::exec`, whose caller holds the locks of `held` throughout.
    let mut view = unsafe { ShardView::new(&shared.shards, held) };
    for i in (0..shared.shards.len().min(64)).filter(|i| held & (1u64 << i) != 0) {
        let served_before = client.woken.len();
        view.shard(i).serve_blocked(&mut client.woken);
        pop_events(env, client, served_before);
        if feed_on {
            propagate_pops(client, served_before);
        }
    }
    if feed_on {
        append_propagated(shared, client, false);
    }
}

/// Hands the client's propagated commands to the stream (a transaction's as one block).
pub(super) fn append_propagated(
    shared: &super::Shared,
    client: &mut ClientState,
    transaction: bool,
) {
    if aof_only(client) {
        shared.feed.append_aof_only(&client.prop.cmds, transaction);
    } else if !client.prop.cmds.is_empty() {
        shared.feed.append(&client.prop.cmds, transaction);
        client.woff = shared.feed.end();
    }
    client.prop.cmds.clear();
}

/// The shards a command needs: those its keys live on, or all of them for keyspace-wide
/// commands.
pub(super) fn route(spec: &Spec, args: &Args, shards: usize) -> u64 {
    if let Some(f) = spec.route {
        return f(args, shards);
    }
    if spec.has(commands::ALL_SHARDS) {
        return if shards >= 64 {
            u64::MAX
        } else {
            (1u64 << shards) - 1
        };
    }
    let mut m = 0u64;
    spec.for_each_key_pos(args.len(), |i| m |= 1u64 << shard_of(args.get(i), shards));
    m
}

const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently \
    unable to persist to disk. Commands that may modify the data set are disabled, because this \
    instance is configured to report errors during writes if RDB snapshotting fails \
    (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB \
    error.";

/// The server states that refuse some commands, read once per command.
pub(super) struct Refusals {
    /// The MISCONF text while a save or an AOF write failed.
    misconf: Option<String>,
    /// A read-only replica refuses writes.
    read_only: bool,
    /// Fewer good replicas than `min-replicas-to-write`.
    too_few_replicas: bool,
    /// A replica whose master link is down, with `replica-serve-stale-data no`.
    stale: bool,
    /// The start-up load is running.
    loading: bool,
}

/// Pre-routing checks, in Redis's order: known command, arity, authentication, then the
/// server states in `refusals`. On failure the error is already queued.
pub(super) fn check(
    out: &mut Vec<u8>,
    client: &ClientState,
    monitor: bool,
    refusals: &Refusals,
    args: &Args,
) -> Result<(u32, &'static Spec), Option<u32>> {
    let Refusals {
        ref misconf,
        read_only,
        too_few_replicas,
        stale,
        loading,
    } = *refusals;
    let mut reply = Reply::new(out, client.resp3);
    let Some((index, spec)) = commands::table().lookup(args.get(0)) else {
        reply.error(&commands::unknown_command_text(args));
        return Err(None);
    };
    // EXEC of a transaction counts as a write if a queued command writes, and is refused with
    // EXECABORT naming the refusal (the caller then discards the transaction), as in Redis.
    let exec = client.multi.as_ref().filter(|_| spec.name == "exec");
    let mut reply = |text: &str| match exec {
        Some(_) => reply.error(&format!(
            "EXECABORT Transaction discarded because of: {}",
            text.strip_prefix("ERR ").unwrap_or(text)
        )),
        None => reply.error(text),
    };
    if !spec.arity_ok(args.len()) {
        reply(&format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
        return Err(Some(index));
    }
    if !client.authenticated && !spec.has(commands::NO_AUTH) {
        reply("NOAUTH Authentication required.");
        return Err(Some(index));
    }
    let writes = spec.has(commands::WRITE) || exec.is_some_and(|m| m.writes);
    let denies_stale = !spec.has(commands::STALE) || exec.is_some_and(|m| m.denies_stale);
    if read_only && writes && !client.is_master {
        reply("READONLY You can't write against a read only replica.");
        return Err(Some(index));
    }
    if too_few_replicas && writes && !client.is_master {
        reply("NOREPLICAS Not enough good replicas to write.");
        return Err(Some(index));
    }
    if stale && denies_stale && !client.is_master {
        reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
        return Err(Some(index));
    }
    if let Some(text) = misconf.as_deref().filter(|_| writes || spec.name == "ping") {
        reply(text);
        return Err(Some(index));
    }
    let mut reply = Reply::new(out, client.resp3);
    if client.subscribed()
        && !client.resp3
        && !matches!(
            spec.name,
            "subscribe"
                | "ssubscribe"
                | "psubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "punsubscribe"
                | "ping"
                | "quit"
                | "reset"
        )
    {
        reply.err(&format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
        return Err(Some(index));
    }
    if loading && !spec.has(commands::LOADING) {
        reply.error("LOADING Redis is loading the dataset in memory");
        return Err(Some(index));
    }
    if monitor && !matches!(spec.name, "quit" | "reset" | "monitor") {
        // A MONITOR client only listens (Redis ignores its commands except QUIT/RESET).
        return Err(None);
    }
    Ok((index, spec))
}

/// A MONITOR line: `+<unix time.µs> [<db> <addr>] "arg" ...`, escaped like Redis.
fn monitor_line(db: usize, addr: &str, args: &Args) -> Vec<u8> {
    let us = unix_us();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        us / 1_000_000,
        us % 1_000_000,
        db,
        addr
    )
    .into_bytes();
    for a in args.iter() {
        line.extend_from_slice(b" \"");
        for &c in a {
            match c {
                b'\\' => line.extend_from_slice(b"\\\\"),
                b'"' => line.extend_from_slice(b"\\\""),
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                b'\t' => line.extend_from_slice(b"\\t"),
                7 => line.extend_from_slice(b"\\a"),
                8 => line.extend_from_slice(b"\\b"),
                32..=126 => line.push(c),
                _ => line.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
            }
        }
        line.push(b'"');
    }
    line.extend_from_slice(b"\r\n");
    line
}

fn record_slow(
    shared: &super::Shared,
    args: &Args,
    duration_us: u64,
    client: &ClientState,
    len_max: u64,
) {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let argc = args.len();
    for (i, a) in args.iter().enumerate() {
        if i == SLOWLOG_ARGS_MAX - 1 && argc > SLOWLOG_ARGS_MAX {
            kept.push(format!("... ({} more arguments)", argc - i).into_bytes());
            break;
        }
        if a.len() > SLOWLOG_ARG_BYTES_MAX {
            let mut v = a[..SLOWLOG_ARG_BYTES_MAX].to_vec();
            v.extend_from_slice(
                format!("... ({} more bytes)", a.len() - SLOWLOG_ARG_BYTES_MAX).as_bytes(),
            );
            kept.push(v);
        } else {
            kept.push(a.to_vec());
        }
    }
    let entry = SlowEntry {
        id: 0,
        time_s: unix_us() / 1_000_000,
        duration_us,
        args: kept,
        addr: client.shared.addr.clone(),
        name: client.shared.name().unwrap_or_default(),
    };
    shared
        .slowlog
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(entry, len_max as usize);
}
