//! Clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE ...): who waits on which key of a database,
//! in arrival order, and the serving of those waiters once a key has data again.
//!
//! A waiter is registered on every key it waits for, possibly in several shards. Its `done`
//! flag decides who gets it: whoever flips it first (a shard serving it, its timeout, CLIENT
//! UNBLOCK, its connection closing) owns the outcome, and every other registration of it is
//! dropped lazily when met. Serving happens on the thread holding the key's shard right after
//! the command that made the key non-empty, before any other command can touch the key, so
//! waiters are served first come, first served.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::db::Watched;
use super::keyspace::Table;
use super::list::End;
use super::smallstr::SmallStr;
use super::value::Value;

/// What a waiter wants from the first of its keys that has data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOp {
    /// BLPOP / BRPOP (count None) and BLMPOP (count Some).
    ListPop { end: End, count: Option<usize> },
    /// BZPOPMIN / BZPOPMAX (count None) and BZMPOP (count Some).
    ZPop { max: bool, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH: the waiter runs its command again (it needs a second key).
    Retry,
}

/// A blocked client, as registered on one key.
#[derive(Clone, Debug)]
pub struct Waiter {
    /// Where the outcome goes: the client's thread and connection token there.
    pub worker: usize,
    pub token: u64,
    pub resp3: bool,
    pub op: BlockOp,
    pub done: Arc<AtomicBool>,
}

/// What a served waiter receives.
#[derive(Debug)]
pub enum Outcome {
    List(Vec<Vec<u8>>),
    ZSet(Vec<(f64, Vec<u8>)>),
    Retry,
}

#[derive(Debug)]
pub struct Served {
    pub waiter: Waiter,
    /// The database of `key`.
    pub db: usize,
    pub key: Vec<u8>,
    pub outcome: Outcome,
}

/// Waiters of one database.
#[derive(Default)]
pub struct Blocked {
    keys: hashbrown::HashMap<SmallStr, VecDeque<Waiter>, foldhash::fast::RandomState>,
    /// Keys with waiters that a command touched: serve them after it.
    ready: Vec<SmallStr>,
    /// Keys with waiters that held data at the last `touch_waited` (see there).
    stranded: Vec<SmallStr>,
}

impl Blocked {
    pub fn add(&mut self, key: &[u8], w: Waiter) {
        self.keys
            .entry(SmallStr::new(key))
            .or_default()
            .push_back(w);
    }

    /// `key` changed: remember to look at its waiters. Returns whether it has any.
    #[inline]
    pub fn touched(&mut self, key: &[u8]) -> bool {
        if self.keys.is_empty() || !self.keys.contains_key(key) {
            return false;
        }
        if !self.ready.iter().any(|k| &**k == key) {
            self.ready.push(SmallStr::new(key));
        }
        true
    }

    /// Marks every key with waiters ready (SWAPDB brought a whole new dataset under them);
    /// returns whether there was any.
    pub fn touch_all(&mut self) -> bool {
        for key in self.keys.keys() {
            if !self.ready.iter().any(|k| **k == **key) {
                self.ready.push(key.clone());
            }
        }
        !self.keys.is_empty()
    }

    /// Marks ready every key with waiters that holds data in `table`: the safety net for an
    /// element left behind by a waiter woken to retry that never took it (its connection was
    /// killed before it ran again, or its BLMOVE met a wrong-typed destination), which would
    /// otherwise leave the next waiter blocked until the key changes again. Returns whether
    /// any key was marked.
    /// A key is taken only when it also held data at the previous call: a waiter woken to
    /// retry usually takes its element within microseconds, and serving the next waiter
    /// before it ran would put that one ahead of it.
    pub fn touch_waited(&mut self, table: &Table, now_ms: u64) -> bool {
        let mut any = false;
        let before = std::mem::take(&mut self.stranded);
        for key in self.keys.keys() {
            // (An expired key is no data: expiry deletes it, and waiters go on waiting.)
            if !table.contains_live(key, now_ms) {
                continue;
            }
            if before.iter().any(|k| **k == **key) && !self.ready.iter().any(|k| **k == **key) {
                self.ready.push(key.clone());
                any = true;
            } else {
                self.stranded.push(key.clone());
            }
        }
        any
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Serves the waiters of the ready keys from `table`, first come first served, as long as
    /// each key has data. Keys emptied by a pop are deleted; every served key dirties its
    /// watchers. Returns the number of changes made.
    pub fn serve(
        &mut self,
        db: usize,
        table: &mut Table,
        watched: &mut Watched,
        emptied: &mut Vec<SmallStr>,
        out: &mut Vec<Served>,
    ) -> u64 {
        let mut changes = 0;
        for key in std::mem::take(&mut self.ready) {
            let Some(queue) = self.keys.get_mut(&key[..]) else {
                continue;
            };
            while let Some(w) = queue.front() {
                if w.done.load(Ordering::Acquire) {
                    queue.pop_front();
                    continue;
                }
                let Some(e) = table.get_mut(&key) else { break };
                let fits = matches!(
                    (&e.value, w.op),
                    (Value::List(_), BlockOp::ListPop { .. } | BlockOp::Retry)
                        | (Value::ZSet(_), BlockOp::ZPop { .. })
                );
                if !fits {
                    // The key now holds another type: these waiters keep waiting (as in Redis).
                    break;
                }
                let Some(w) = queue.pop_front() else { break };
                if w.done
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    continue; // timed out, unblocked or closed meanwhile
                }
                let outcome = match (&mut e.value, w.op) {
                    (Value::List(l), BlockOp::ListPop { end, count }) => {
                        let n = count.unwrap_or(1).min(l.len());
                        Outcome::List((0..n).filter_map(|_| l.pop(end)).collect())
                    }
                    (Value::ZSet(z), BlockOp::ZPop { max, count }) => {
                        let n = count.unwrap_or(1).min(z.len());
                        let len = z.len();
                        let mut picked: Vec<(f64, Vec<u8>)> = if max {
                            z.range(len - n, len)
                                .into_iter()
                                .map(|(s, m)| (s, m.to_vec()))
                                .collect()
                        } else {
                            z.range(0, n)
                                .into_iter()
                                .map(|(s, m)| (s, m.to_vec()))
                                .collect()
                        };
                        if max {
                            picked.reverse();
                        }
                        for (_, m) in &picked {
                            z.remove(m);
                        }
                        Outcome::ZSet(picked)
                    }
                    _ => Outcome::Retry,
                };
                let retry = matches!(outcome, Outcome::Retry);
                let empty = match &e.value {
                    Value::List(l) => l.is_empty(),
                    Value::ZSet(z) => z.is_empty(),
                    _ => false,
                };
                out.push(Served {
                    waiter: w,
                    db,
                    key: key.to_vec(),
                    outcome,
                });
                if retry {
                    // The woken client pops itself; its own write wakes the next waiter.
                    break;
                }
                changes += 1;
                watched.signal(&key);
                if empty {
                    table.remove(&key);
                    if super::db::LOG_DELETED.load(Ordering::Relaxed) {
                        emptied.push(key.clone());
                    }
                    break;
                }
            }
            if queue.is_empty() {
                self.keys.remove(&key[..]);
            }
        }
        changes
    }

    /// Drops registrations whose waiter is gone (cron).
    pub fn prune(&mut self) {
        self.keys.retain(|_, q| {
            q.retain(|w| !w.done.load(Ordering::Acquire));
            !q.is_empty()
        });
    }

    /// Keys with at least one registration (INFO blocked keys, tests).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
