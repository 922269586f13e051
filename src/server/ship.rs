//! Single-shard commands run on the thread that owns their shard.
//!
//! When the next command of a connection has all its keys on one shard owned by another thread,
//! the connection does not lock that shard: it ships the command to its owner. It gathers the
//! complete commands queued behind it too (a pipeline), as long as each is a plain keyed
//! command whose keys sit on a single shard, up to `SHIP_COMMANDS_MAX`. Commands of its own
//! shard run at once, into a side buffer; the others are copied, per owner, into one `ExecBatch`
//! message each. Every owner runs its batch in order on its own loop (after whoever holds its
//! lock, see `locks.rs`) and answers with one `ExecDone` holding the replies. When every owner
//! has answered, the replies are stitched back in the order of the requests and the connection
//! goes on.
//!
//! Why this keeps Redis's guarantees: each command still runs alone on its shard, in the
//! order the connection sent it relative to every other command of that connection on the same
//! shard. Commands of one batch on different shards touch disjoint keys, so the order between
//! them cannot change any reply; each runs after it was sent and before its reply is written.
//! Anything that is not such a command (keyless commands, which may change client state,
//! multi-shard and keyspace-wide commands) ends the batch and runs after every reply is back.
//!
//! Bounds: a connection has at most one batch in flight per shard, so the messages in flight
//! to one thread are bounded by the number of clients, well under the mailbox capacity.

use std::sync::Arc;

use crate::runtime::clock::mono_ns;

use super::client::{ClientShared, ClientState, ReplyMode};
use super::conn::Conn;
use super::exec::{execute, Env};
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
    /// Where each command's reply ends in `out`.
    pub ends: Vec<u32>,
}

/// A connection's batch while its owners run it.
pub struct Shipped {
    /// The shard of each command, in request order.
    order: Vec<u8>,
    /// Input bytes the batch covers, from `rpos`.
    consumed: usize,
    /// Replies of the commands that ran here, and where each ends.
    local_out: Vec<u8>,
    local_ends: Vec<u32>,
    /// Replies received, by shard.
    done: Vec<Option<Box<ExecDone>>>,
    /// Shards whose replies are still missing.
    waiting: u64,
}

/// Whether a command may be shipped: keyed, one shard at most, no client-state effects.
pub fn shippable(spec: &Spec) -> bool {
    spec.first_key > 0
        && !spec.has(commands::ALL_SHARDS | commands::BLOCKING | commands::CLIENT_STATE)
}

impl Worker {
    /// Ships the command at `rpos` of `slot` (known to live wholly on another shard) and the
    /// shippable commands behind it. Returns whether the connection now waits for replies.
    pub(super) fn ship(&mut self, slot: usize) -> bool {
        let me = self.id;
        let workers = self.shared.workers();
        let limits = Limits {
            bulk_bytes_max: self.limits.proto_max_bulk_len,
            authenticated: self.conns[slot].client.authenticated,
        };
        let mut batches: Vec<Option<ExecBatch>> = (0..workers).map(|_| None).collect();
        let mut local_out = Vec::new();
        let mut local_ends = Vec::new();
        let mut order = Vec::new();
        let conn = &self.conns[slot];
        let token = Conn::token(slot, conn.gen);
        let mut pos = conn.rpos;
        for _ in 0..SHIP_COMMANDS_MAX {
            let conn = &mut self.conns[slot];
            if pos >= conn.rbuf.len() {
                break;
            }
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
            let Some((index, spec)) = commands::table().lookup(args.get(0)) else {
                break;
            };
            if !spec.arity_ok(args.len())
                || !(conn.client.authenticated || spec.has(commands::NO_AUTH))
                || !shippable(spec)
            {
                break;
            }
            let need = super::exec::route(spec, &args, workers);
            if need.count_ones() != 1 {
                break;
            }
            let shard = need.trailing_zeros() as usize;
            if shard == me {
                if !self.lock.is_free() {
                    break;
                }
                let env = Env {
                    shared: &self.shared,
                    limits: &self.limits,
                    me,
                    now_ms: Worker::now_ms_at(self.now_ms, self.clock_ns, self.wake_ns),
                };
                let (finished_ns, line) = execute(
                    &env,
                    self.clock_ns,
                    need,
                    &mut conn.client,
                    &mut local_out,
                    &args,
                    index,
                );
                self.clock_ns = finished_ns;
                local_ends.push(local_out.len() as u32);
                if let Some(line) = line {
                    self.feed_monitors(line);
                }
            } else {
                let conn = &self.conns[slot];
                let batch = batches[shard].get_or_insert_with(|| ExecBatch {
                    from: me,
                    token,
                    db: conn.client.db,
                    resp3: conn.client.resp3,
                    client: conn.client.shared.clone(),
                    input: Vec::new(),
                    count: 0,
                });
                batch
                    .input
                    .extend_from_slice(&conn.rbuf[pos..pos + consumed]);
                batch.count += 1;
            }
            order.push(shard as u8);
            pos += consumed;
        }
        let mut waiting = 0u64;
        for (shard, batch) in batches.into_iter().enumerate() {
            if let Some(batch) = batch {
                waiting |= 1u64 << shard;
                self.shared.send(shard, Msg::Exec(Box::new(batch)));
            }
        }
        let conn = &mut self.conns[slot];
        let consumed = pos - conn.rpos;
        if waiting == 0 {
            // Nothing left the thread (the first command was not shippable after all).
            conn.out.extend_from_slice(&local_out);
            conn.rpos = pos;
            return false;
        }
        conn.shipped = Some(Box::new(Shipped {
            order,
            consumed,
            local_out,
            local_ends,
            done: (0..workers).map(|_| None).collect(),
            waiting,
        }));
        true
    }

    /// An owner's replies arrived: keep them, and once all are in, write every reply in request
    /// order and let the connection go on.
    pub(super) fn on_exec_done(&mut self, done: Box<ExecDone>) {
        let Some(slot) = self.conn_by_token(done.token) else {
            return; // the connection closed meanwhile
        };
        let conn = &mut self.conns[slot];
        let Some(shipped) = conn.shipped.as_mut() else {
            return;
        };
        let bit = 1u64 << done.shard;
        if shipped.waiting & bit == 0 {
            return;
        }
        shipped.waiting &= !bit;
        let shard = done.shard;
        shipped.done[shard] = Some(done);
        if shipped.waiting != 0 {
            return;
        }
        let Some(shipped) = conn.shipped.take() else {
            return;
        };
        stitch(&shipped, self.id, &mut conn.out);
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
        let mut ends = Vec::with_capacity(batch.count as usize);
        let mut pos = 0usize;
        let mut lines = Vec::new();
        for _ in 0..batch.count {
            let outcome = parse_command(
                &batch.input[pos..],
                &mut self.batch_ranges,
                &mut self.batch_scratch,
                &limits,
            );
            let ParseOutcome::Complete { consumed, inline } = outcome else {
                // Unreachable for bytes the sender parsed; answer rather than lose a reply.
                Reply::new(&mut out, client.resp3).err("internal error: unparsable batch");
                ends.push(out.len() as u32);
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
            ends.push(out.len() as u32);
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
                ends,
            })),
        );
    }
}

/// Appends the replies of a finished batch to `out` in request order.
fn stitch(shipped: &Shipped, me: usize, out: &mut Vec<u8>) {
    let mut cursor = vec![0usize; shipped.done.len()];
    for &shard in &shipped.order {
        let shard = shard as usize;
        let i = cursor[shard];
        cursor[shard] += 1;
        let (buf, ends): (&[u8], &[u32]) = if shard == me {
            (&shipped.local_out, &shipped.local_ends)
        } else {
            match &shipped.done[shard] {
                Some(d) => (&d.out, &d.ends),
                None => continue,
            }
        };
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        let Some(&end) = ends.get(i) else { continue };
        out.extend_from_slice(&buf[start..end as usize]);
    }
}
