//! Single-shard commands run on the thread that owns their shard.
//!
//! When the next command of a connection has all its keys on one shard owned by another thread,
//! the connection does not lock that shard: it ships the command to its owner. It gathers the
//! complete commands queued behind it too (a pipeline), as long as each is a plain keyed
//! command whose keys sit on that same shard, up to `SHIP_COMMANDS_MAX`, and copies them into
//! one `ExecBatch` message. The owner runs the batch in order on its own loop (after whoever
//! holds its lock, see `locks.rs`) and answers with one `ExecDone` holding the replies, which
//! the connection writes out before it goes on with its next command.
//!
//! Why it keeps Redis's guarantees: every command of a connection starts only after the one
//! before it finished, as in Redis, so no client, replica or AOF can see a connection's
//! commands take effect out of the order it sent them (a pipeline `SET data; LPUSH jobs`
//! never wakes a `BLPOP jobs` waiter before `data` is written). A batch is therefore a run of
//! consecutive commands for one shard: a command for any other shard (this thread's included)
//! ends it and runs after the replies are back. Each command of a batch still runs alone on
//! its shard. Anything that is not such a command (keyless commands, which may change client
//! state, multi-shard and keyspace-wide commands) ends the batch too.
//!
//! The cost: a pipeline whose keys alternate between shards pays one round trip per run of
//! same-shard commands, not one per pipeline. (Until 2026-12-08 a batch went to every owner at
//! once and ran side by side, which let other clients observe a later write before an earlier
//! one.)
//!
//! Bounds: a connection has at most one batch in flight, so the messages in flight to one
//! thread are bounded by the number of clients, well under the mailbox capacity.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::runtime::clock::mono_ns;

use super::client::{ClientShared, ClientState, ReplyMode};
use super::conn::Conn;
use super::exec::{check, execute, Env};
use super::locks::Holder;
use super::worker::Worker;
use super::Msg;
use crate::commands::{self, Spec};
use crate::resp::{parse_command, Args, Limits, ParseOutcome, Reply};

/// Commands one shipped batch may hold.
pub const SHIP_COMMANDS_MAX: usize = 256;

/// Commands shipped by one connection to one owner, in the order they were sent.
pub struct ExecBatch {
    pub from: usize,
    pub token: u64,
    pub db: usize,
    pub resp3: bool,
    pub client: Arc<ClientShared>,
    /// The requests as received, back to back (RESP or inline).
    pub input: Vec<u8>,
    pub count: u32,
}

/// An owner's replies to one `ExecBatch`.
pub struct ExecDone {
    pub shard: usize,
    pub token: u64,
    pub out: Vec<u8>,
    /// The stream's end after the batch's last write (0 if it wrote nothing), for WAIT.
    pub woff: u64,
}

/// A connection's batch while its owner runs it.
pub struct Shipped {
    /// The shard the batch went to.
    shard: usize,
    /// Input bytes the batch covers, from `rpos`.
    consumed: usize,
}

/// Whether a command may be shipped: keyed, one shard at most, no client-state effects.
pub fn shippable(spec: &Spec) -> bool {
    spec.first_key > 0
        && !spec.has(commands::ALL_SHARDS | commands::BLOCKING | commands::CLIENT_STATE)
}

impl Worker {
    /// Ships the command at `rpos` of `slot` (known to live wholly on another shard) and the
    /// shippable commands for the same shard right behind it. Returns whether the connection
    /// now waits for replies.
    pub(super) fn ship(&mut self, slot: usize) -> bool {
        let workers = self.shared.workers();
        let limits = Limits {
            bulk_bytes_max: self.limits.proto_max_bulk_len,
            authenticated: self.conns[slot].client.authenticated,
        };
        // Every command of the batch passes the checks a command run here would (READONLY,
        // NOREPLICAS, MISCONF, MASTERDOWN, LOADING, subscribed mode...); one that would be
        // refused ends the batch and gets its error when it comes up.
        let refusals = self.refusals();
        let mut refused = Vec::new();
        let conn = &mut self.conns[slot];
        let mut target: Option<usize> = None;
        let mut input = Vec::new();
        let mut count = 0u32;
        let mut pos = conn.rpos;
        while (count as usize) < SHIP_COMMANDS_MAX && pos < conn.rbuf.len() {
            let (consumed, inline) = match parse_command(
                &conn.rbuf[pos..],
                &mut conn.ranges,
                &mut conn.scratch,
                &limits,
            ) {
                ParseOutcome::Complete { consumed, inline } => (consumed, inline),
                _ => break,
            };
            let base: &[u8] = if inline {
                &conn.scratch
            } else {
                &conn.rbuf[pos..]
            };
            let args = Args::new(base, &conn.ranges);
            let checked = check(&mut refused, &conn.client, conn.monitor, &refusals, &args);
            let Ok((_, spec)) = checked else {
                break;
            };
            if !shippable(spec) {
                break;
            }
            let need = super::exec::route(spec, &args, workers);
            if need.count_ones() != 1 {
                break;
            }
            let shard = need.trailing_zeros() as usize;
            if shard == self.id || *target.get_or_insert(shard) != shard {
                break;
            }
            input.extend_from_slice(&conn.rbuf[pos..pos + consumed]);
            count += 1;
            pos += consumed;
        }
        let Some(shard) = target.filter(|_| count > 0) else {
            // The first command was not shippable after all: the caller runs it another way.
            return false;
        };
        let batch = ExecBatch {
            from: self.id,
            token: Conn::token(slot, conn.gen),
            db: conn.client.db,
            resp3: conn.client.resp3,
            client: conn.client.shared.clone(),
            input,
            count,
        };
        conn.shipped = Some(Box::new(Shipped {
            shard,
            consumed: pos - conn.rpos,
        }));
        self.shared.send(shard, Msg::Exec(Box::new(batch)));
        true
    }

    /// The owner's replies arrived: write them and let the connection go on.
    pub(super) fn on_exec_done(&mut self, done: ExecDone) {
        let Some(slot) = self.conn_by_token(done.token) else {
            return; // the connection closed meanwhile
        };
        let conn = &mut self.conns[slot];
        if conn.shipped.as_ref().map(|s| s.shard) != Some(done.shard) {
            return;
        }
        let Some(shipped) = conn.shipped.take() else {
            return;
        };
        conn.out.extend_from_slice(&done.out);
        conn.client.woff = conn.client.woff.max(done.woff);
        conn.rpos += shipped.consumed;
        let token = Conn::token(slot, conn.gen);
        self.runnable.push_back(token);
    }

    /// A batch arrived for this thread's shard: run it now, or when the lock is free.
    pub(super) fn on_exec(&mut self, batch: Box<ExecBatch>) {
        if self.lock.is_free() {
            self.run_batch(&batch);
            return;
        }
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        self.parked_batches.insert(id, batch);
        let taken = self.lock.acquire(Holder::Batch(id));
        debug_assert!(!taken, "the lock was not free");
    }

    /// Runs a shipped batch on this thread's shard and sends the replies back.
    pub(super) fn run_batch(&mut self, batch: &ExecBatch) {
        let me = self.id;
        // The batch's first command is timed from now, not from this thread's last command.
        self.clock_ns = mono_ns();
        let mut client = ClientState::new(batch.client.clone(), true);
        client.db = batch.db;
        client.resp3 = batch.resp3;
        client.reply_mode = ReplyMode::On;
        // The sender checked every bound already; the owner only re-reads the same bytes.
        let limits = Limits {
            bulk_bytes_max: u64::MAX,
            authenticated: true,
        };
        let mut out = Vec::with_capacity(64 * batch.count as usize);
        let mut pos = 0usize;
        let mut lines = Vec::new();
        for _ in 0..batch.count {
            if batch.client.kill.load(Ordering::Acquire) {
                // CLIENT KILL already answered for this client: it runs nothing more (its
                // connection closes without these replies).
                break;
            }
            let outcome = parse_command(
                &batch.input[pos..],
                &mut self.batch_ranges,
                &mut self.batch_scratch,
                &limits,
            );
            let ParseOutcome::Complete { consumed, inline } = outcome else {
                // Unreachable for bytes the sender parsed; answer rather than lose a reply.
                Reply::new(&mut out, client.resp3).err("internal error: unparsable batch");
                continue;
            };
            let args = if inline {
                Args::new(&self.batch_scratch, &self.batch_ranges)
            } else {
                Args::framed(&batch.input[pos..], &self.batch_ranges)
            };
            match commands::table().lookup(args.get(0)) {
                Some((index, _)) => {
                    let env = Env {
                        shared: &self.shared,
                        limits: &self.limits,
                        me,
                        now_ms: self.command_now_ms(),
                    };
                    let (finished_ns, line) = execute(
                        &env,
                        self.clock_ns,
                        1u64 << me,
                        &mut client,
                        &mut out,
                        &args,
                        index,
                    );
                    self.clock_ns = finished_ns;
                    lines.extend(line);
                }
                None => {
                    Reply::new(&mut out, client.resp3).error(&commands::unknown_command_text(&args))
                }
            }
            pos += consumed;
        }
        for line in lines {
            self.feed_monitors(line);
        }
        let woken = std::mem::take(&mut client.woken);
        if !woken.is_empty() {
            self.deliver_woken(woken);
        }
        if !client.events.is_empty() {
            let mut deliveries = Vec::new();
            super::pubsub::key_event_deliveries(
                &self.shared,
                self.limits.notify,
                &client.events,
                &mut deliveries,
            );
            self.deliver_all(deliveries);
        }
        self.shared.send(
            batch.from,
            Msg::ExecDone(Box::new(ExecDone {
                shard: me,
                token: batch.token,
                out,
                woff: client.woff,
            })),
        );
    }
}
