//! Blocked connections (Redis's blocked.c, connection side).
//!
//! A blocking command that finds nothing registers the client on its keys (`store::blocking`)
//! and asks for `ClientAction::Block`: the connection parks, remembering its request (a BLMOVE
//! woken to retry runs it again) and its deadline. Four things can end the block, and the
//! waiter's `done` flag makes exactly one of them win: a shard serving the waiter right after a
//! command filled one of its keys (the reply, built here, travels to the client's thread), the
//! deadline (a timer per thread, so timeouts have millisecond precision), CLIENT UNBLOCK, and
//! the connection closing.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::conn::Conn;
use super::worker::{op_token, Worker, KIND_HUP};
use super::Msg;
use crate::resp::{parse_command, Limits, ParseOutcome, Reply};
use crate::store::blocking::{BlockOp, Outcome, Served};

/// A parked blocked connection.
pub struct BlockedConn {
    pub done: Arc<AtomicBool>,
    pub deadline_ms: u64,
    pub null_array: bool,
    /// The blocking request as received, for a retry.
    pub raw: Vec<u8>,
}

/// The reply a served waiter gets, or None for "run your command again".
fn encode(s: &Served) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut r = Reply::new(&mut buf, s.waiter.resp3);
    match (&s.outcome, s.waiter.op) {
        (Outcome::Retry, _) => return None,
        (Outcome::List(items), BlockOp::ListPop { count: None, .. }) => {
            r.array(2);
            r.bulk(&s.key);
            r.bulk(items.first().map_or(&b""[..], |v| &v[..]));
        }
        (Outcome::List(items), _) => {
            r.array(2);
            r.bulk(&s.key);
            r.array(items.len());
            for v in items {
                r.bulk(v);
            }
        }
        (Outcome::ZSet(items), BlockOp::ZPop { count: None, .. }) => {
            r.array(3);
            r.bulk(&s.key);
            let (score, member) = items.first().cloned().unwrap_or_default();
            r.bulk(&member);
            r.score(score);
        }
        (Outcome::ZSet(items), _) => {
            r.array(2);
            r.bulk(&s.key);
            r.array(items.len());
            for (score, member) in items {
                r.array(2);
                r.bulk(member);
                r.score(*score);
            }
        }
    }
    Some(buf)
}

impl Worker {
    /// Parks connection `slot` on the block its command asked for.
    pub(super) fn block(
        &mut self,
        slot: usize,
        deadline_ms: u64,
        done: Arc<AtomicBool>,
        null_array: bool,
    ) {
        let limits = Limits {
            bulk_bytes_max: u64::MAX,
            authenticated: true,
        };
        let conn = &mut self.conns[slot];
        // The command is still at `rpos` (it is consumed after this returns): keep its bytes.
        let raw = match parse_command(
            &conn.rbuf[conn.rpos..],
            &mut conn.ranges,
            &mut conn.scratch,
            &limits,
        ) {
            ParseOutcome::Complete { consumed, .. } => {
                conn.rbuf[conn.rpos..conn.rpos + consumed].to_vec()
            }
            _ => Vec::new(),
        };
        *conn
            .client
            .shared
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(done.clone());
        self.shared.stats[self.id]
            .blocked_clients
            .fetch_add(1, Ordering::Relaxed);
        let conn = &mut self.conns[slot];
        conn.blocked = Some(Box::new(BlockedConn {
            done,
            deadline_ms,
            null_array,
            raw,
        }));
        if !conn.hup_armed {
            conn.hup_armed = true;
            let (fd, token) = (conn.fd, op_token(KIND_HUP, slot, conn.gen));
            self.ring.poll_hangup(fd, token);
        }
        let conn = &self.conns[slot];
        if deadline_ms != 0 {
            let token = Conn::token(slot, conn.gen);
            self.timers.push(Reverse((deadline_ms, token)));
        }
    }

    /// Tells the clients a command served: directly for this thread's, by message otherwise.
    pub(super) fn deliver_woken(&mut self, woken: Vec<Served>) {
        for s in woken {
            let reply = encode(&s);
            if s.waiter.worker == self.id {
                if let Some(slot) = self.conn_by_token(s.waiter.token) {
                    self.unblock(slot, reply);
                }
            } else {
                self.post(
                    s.waiter.worker,
                    Msg::Unblocked {
                        token: s.waiter.token,
                        reply,
                    },
                );
            }
        }
    }

    /// Cron, with our own shard's lock free: serves waiters whose key holds data that nobody
    /// served them (`Blocked::touch_waited`: a waiter woken to retry that never took the
    /// element), and propagates and announces the pops as a command's would be.
    pub(super) fn serve_stranded(&mut self) {
        let shared = self.shared.clone();
        // SAFETY: as in `cron`: the lock of our own shard is free and this thread is its
        // owner, so no other thread touches the shard during this call.
        let mut view = unsafe { super::view::ShardView::new(&shared.shards, 1u64 << self.id) };
        let shard = view.shard(self.id);
        shard.touch_waited(self.now_ms);
        let mut served = Vec::new();
        shard.serve_blocked(&mut served);
        if served.is_empty() {
            return;
        }
        if shared.feed.active() {
            shared
                .feed
                .append(&super::exec::pop_commands(&served), false);
        }
        let mut events = super::exec::pop_key_events(self.limits.notify, &served);
        if crate::store::db::LOG_DELETED.load(Ordering::Relaxed) {
            let mut emptied = Vec::new();
            shard.take_emptied(&mut emptied);
            events.extend(
                emptied
                    .into_iter()
                    .map(|(db, key)| super::pubsub::KeyEvent {
                        db,
                        event: "del",
                        key: key.to_vec(),
                    }),
            );
        }
        if !events.is_empty() {
            let mut deliveries = Vec::new();
            super::pubsub::key_event_deliveries(
                &shared,
                self.limits.notify,
                &events,
                &mut deliveries,
            );
            self.deliver_all(deliveries);
        }
        self.deliver_woken(served);
    }

    /// Ends the block of `slot`: queues `reply`, or with None puts the request back to run
    /// again; then the connection goes on with its input.
    pub(super) fn unblock(&mut self, slot: usize, reply: Option<Vec<u8>>) {
        let conn = &mut self.conns[slot];
        let Some(b) = conn.blocked.take() else {
            return;
        };
        self.shared.stats[self.id]
            .blocked_clients
            .fetch_sub(1, Ordering::Relaxed);
        *conn
            .client
            .shared
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        match reply {
            Some(bytes) => conn.out.extend_from_slice(&bytes),
            None => {
                let at = conn.rpos;
                conn.rbuf.splice(at..at, b.raw);
            }
        }
        let token = Conn::token(slot, conn.gen);
        if conn.hup_armed {
            conn.hup_armed = false;
            let hup = op_token(KIND_HUP, slot, conn.gen);
            self.ring.poll_remove(hup);
        }
        self.flush(slot);
        self.runnable.push_back(token);
    }

    /// The timeout (or CLIENT UNBLOCK) reply of a blocked connection.
    fn timeout_reply(&self, slot: usize, error: bool) -> Vec<u8> {
        let conn = &self.conns[slot];
        let mut buf = Vec::new();
        let mut r = Reply::new(&mut buf, conn.client.resp3);
        if error {
            r.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else if conn.blocked.as_ref().is_some_and(|b| b.null_array) {
            r.null_array();
        } else {
            r.null();
        }
        buf
    }

    /// Ends the blocks whose deadline passed (their `done` flag still unclaimed).
    pub(super) fn expire_blocks(&mut self) {
        while let Some(&Reverse((deadline_ms, token))) = self.timers.peek() {
            if deadline_ms > self.now_ms {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.conn_by_token(token) else {
                continue;
            };
            let won = self.conns[slot].blocked.as_ref().is_some_and(|b| {
                b.deadline_ms == deadline_ms
                    && b.done
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
            });
            if won {
                let reply = self.timeout_reply(slot, false);
                self.unblock(slot, Some(reply));
            }
        }
    }

    /// Milliseconds until the next block deadline, if any.
    pub(super) fn next_block_deadline_ms(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((d, _))| *d)
    }

    /// CLIENT UNBLOCK won the flag of connection `token`: answer it.
    pub(super) fn on_client_unblock(&mut self, token: u64) {
        let Some(slot) = self.conn_by_token(token) else {
            return;
        };
        if self.conns[slot].blocked.is_none() {
            return;
        }
        let reason = self.conns[slot]
            .client
            .shared
            .unblock_reason
            .swap(super::client::UNBLOCK_TIMEOUT, Ordering::AcqRel);
        if reason == super::client::UNBLOCK_ROLE_CHANGE {
            let mut buf = Vec::new();
            Reply::new(&mut buf, self.conns[slot].client.resp3).error(
                "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
            );
            self.conns[slot].close_after_flush = true;
            self.unblock(slot, Some(buf));
            return;
        }
        let reply = self.timeout_reply(slot, reason == super::client::UNBLOCK_ERROR);
        self.unblock(slot, Some(reply));
    }
}
