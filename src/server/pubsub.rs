//! Pub/sub across threads (Redis's pubsub.c, delivery side).
//!
//! One registry, shared by all threads, maps channels, patterns and shard channels to their
//! subscribers (a worker and a connection token). PUBLISH, on any thread, reads it under a
//! read lock, counts the receivers and hands each delivery to the subscriber's thread: directly
//! when it is its own, else as a `Msg::Publish` through that thread's mailbox. Messages from one
//! publisher to one thread travel through one FIFO (the mailbox, or this thread's overflow queue
//! for it when the mailbox is full), so every subscriber sees one publisher's messages in
//! publish order. A subscriber that cannot keep up is closed by the pubsub output-buffer limit,
//! as in Redis; the publisher never waits for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::conn::Conn;
use super::worker::Worker;
use super::{log, Msg};
use crate::config::glob_match;
use crate::resp::Reply;

/// A subscribed connection: its thread and its token there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subscriber {
    pub worker: usize,
    pub token: u64,
}

/// The three namespaces of subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    pub fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    pub fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// Who listens to what, across every thread.
#[derive(Default)]
pub struct Registry {
    channels: HashMap<Vec<u8>, Vec<Subscriber>>,
    patterns: HashMap<Vec<u8>, Vec<Subscriber>>,
    shard_channels: HashMap<Vec<u8>, Vec<Subscriber>>,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Vec<Subscriber>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    fn map_ref(&self, kind: Kind) -> &HashMap<Vec<u8>, Vec<Subscriber>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    pub fn add(&mut self, kind: Kind, name: &[u8], s: Subscriber) {
        let v = self.map(kind).entry(name.to_vec()).or_default();
        if !v.contains(&s) {
            v.push(s);
        }
    }

    pub fn remove(&mut self, kind: Kind, name: &[u8], s: Subscriber) {
        let map = self.map(kind);
        if let Some(v) = map.get_mut(name) {
            v.retain(|x| *x != s);
            if v.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Every delivery a PUBLISH (or SPUBLISH, for `Kind::Shard`) of `channel` makes.
    pub fn targets(&self, kind: Kind, channel: &[u8]) -> Vec<(Subscriber, Option<&[u8]>)> {
        let mut out = Vec::new();
        let direct = if kind == Kind::Shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        if let Some(v) = direct.get(channel) {
            out.extend(v.iter().map(|s| (*s, None)));
        }
        if kind == Kind::Channel {
            for (pattern, subs) in &self.patterns {
                if glob_match(pattern, channel, false) {
                    out.extend(subs.iter().map(|s| (*s, Some(&pattern[..]))));
                }
            }
        }
        out
    }

    /// Active channels (with at least one subscriber) matching `pattern`.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map_ref(kind)
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
            .cloned()
            .collect()
    }

    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map_ref(kind).get(name).map_or(0, |v| v.len())
    }

    pub fn len(&self, kind: Kind) -> usize {
        self.map_ref(kind).len()
    }
}

/// One published message, shared by all its deliveries.
#[derive(Debug)]
pub struct Message {
    pub kind: Kind,
    pub channel: Vec<u8>,
    pub payload: Vec<u8>,
}

/// One delivery: a message for a subscriber (through a pattern, for pmessage).
#[derive(Debug)]
pub struct Delivery {
    pub to: Subscriber,
    pub pattern: Option<Vec<u8>>,
    pub message: Arc<Message>,
}

/// Messages a thread could not push into another thread's full mailbox, in order, per target.
#[derive(Default)]
pub struct Overflow {
    pending: HashMap<usize, VecDeque<Msg>>,
}

impl Overflow {
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Writes a message frame for a subscriber speaking RESP2 or RESP3.
pub fn encode(out: &mut Vec<u8>, resp3: bool, pattern: Option<&[u8]>, m: &Message) {
    let mut r = Reply::new(out, resp3);
    match (m.kind, pattern) {
        (_, Some(p)) => {
            r.push(4);
            r.bulk(b"pmessage");
            r.bulk(p);
        }
        (Kind::Shard, None) => {
            r.push(3);
            r.bulk(b"smessage");
        }
        _ => {
            r.push(3);
            r.bulk(b"message");
        }
    }
    r.bulk(&m.channel);
    r.bulk(&m.payload);
}

impl Worker {
    /// Hands deliveries produced by a command to their threads (own ones directly).
    pub(super) fn deliver_all(&mut self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            if d.to.worker == self.id {
                self.deliver(d.to.token, d.pattern.as_deref(), &d.message);
            } else {
                self.post(
                    d.to.worker,
                    Msg::Publish {
                        token: d.to.token,
                        pattern: d.pattern,
                        message: d.message,
                    },
                );
            }
        }
    }

    /// Sends to another thread without ever blocking: behind earlier overflow for that thread,
    /// or into the overflow when its mailbox is full (retried every loop turn).
    pub(super) fn post(&mut self, to: usize, msg: Msg) {
        if let Some(q) = self.overflow.pending.get_mut(&to) {
            q.push_back(msg);
            return;
        }
        if let Err(msg) = self.shared.mailboxes[to].push(msg) {
            self.overflow.pending.entry(to).or_default().push_back(msg);
        }
    }

    /// Retries the overflow, in order, until a mailbox is full again.
    pub(super) fn flush_overflow(&mut self) {
        let shared = self.shared.clone();
        self.overflow.pending.retain(|&to, q| {
            while let Some(msg) = q.pop_front() {
                if let Err(msg) = shared.mailboxes[to].push(msg) {
                    q.push_front(msg);
                    return true;
                }
            }
            false
        });
    }

    /// Queues a message on subscriber `token` of this thread, closing it past the pubsub
    /// output-buffer limit.
    pub(super) fn deliver(&mut self, token: u64, pattern: Option<&[u8]>, m: &Message) {
        let Some(slot) = self.conn_by_token(token) else {
            return; // unsubscribed or closed meanwhile
        };
        let conn: &mut Conn = &mut self.conns[slot];
        // A message published before the client unsubscribed may arrive after: it is dropped,
        // as Redis never sends one after the unsubscribe reply (a RESP2 client would read it
        // as the reply to its next command).
        let still = conn
            .client
            .subs
            .as_deref()
            .is_some_and(|subs| match pattern {
                Some(p) => subs.patterns.contains(p),
                None => match m.kind {
                    Kind::Shard => subs.shard.contains(&m.channel),
                    _ => subs.channels.contains(&m.channel),
                },
            });
        if !still {
            return;
        }
        let resp3 = conn.client.resp3;
        encode(&mut conn.out, resp3, pattern, m);
        let limit = self.limits.obuf_pubsub;
        let pending = (conn.out.len() + conn.sending.len().saturating_sub(conn.sent)) as u64;
        if limit.hard_bytes != 0 && pending > limit.hard_bytes {
            log::warning(&format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                conn.client.id, conn.client.shared.addr
            ));
            self.close(slot);
            return;
        }
        self.flush(slot);
    }
}

/// A client's own subscriptions (kept on its connection).
#[derive(Default, Debug)]
pub struct Subscriptions {
    pub channels: HashSet<Vec<u8>>,
    pub patterns: HashSet<Vec<u8>>,
    pub shard: HashSet<Vec<u8>>,
}

impl Subscriptions {
    pub fn set(&mut self, kind: Kind) -> &mut HashSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count Redis replies after (un)subscribing: channels plus patterns, or shard channels.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    pub fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Channels, patterns and shard channels, each counted alone (CLIENT LIST).
    pub fn sizes(&self) -> [usize; 3] {
        [self.channels.len(), self.patterns.len(), self.shard.len()]
    }
}

/// Removes every subscription of `client` (a connection of thread `worker`) from the registry.
pub fn unsubscribe_all(
    shared: &super::Shared,
    worker: usize,
    client: &super::client::ClientState,
    subs: &Subscriptions,
) {
    let me = Subscriber {
        worker,
        token: client.token,
    };
    let mut reg = shared.pubsub.write().unwrap_or_else(|e| e.into_inner());
    for (kind, set) in [
        (Kind::Channel, &subs.channels),
        (Kind::Pattern, &subs.patterns),
        (Kind::Shard, &subs.shard),
    ] {
        for name in set {
            reg.remove(kind, name, me);
        }
    }
}

/// A keyspace event raised by a command (or by expiry).
#[derive(Debug, Clone)]
pub struct KeyEvent {
    pub db: usize,
    pub event: &'static str,
    pub key: Vec<u8>,
}

/// The deliveries of keyspace events: `__keyspace@<db>__:<key>` carrying the event name (class
/// K) and `__keyevent@<db>__:<event>` carrying the key (class E), as Redis publishes them.
pub fn key_event_deliveries(
    shared: &super::Shared,
    flags: u32,
    events: &[KeyEvent],
    out: &mut Vec<Delivery>,
) {
    use crate::config::notify::{KEYEVENT, KEYSPACE};
    let reg = shared.pubsub.read().unwrap_or_else(|e| e.into_inner());
    if reg.channels.is_empty() && reg.patterns.is_empty() {
        return;
    }
    for e in events {
        let mut publish = |channel: Vec<u8>, payload: &[u8]| {
            let targets = reg.targets(Kind::Channel, &channel);
            if targets.is_empty() {
                return;
            }
            let message = Arc::new(Message {
                kind: Kind::Channel,
                channel: channel.clone(),
                payload: payload.to_vec(),
            });
            out.extend(targets.into_iter().map(|(to, pattern)| Delivery {
                to,
                pattern: pattern.map(<[u8]>::to_vec),
                message: message.clone(),
            }));
        };
        if flags & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", e.db).into_bytes();
            ch.extend_from_slice(&e.key);
            publish(ch, e.event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", e.db, e.event).into_bytes();
            publish(ch, &e.key);
        }
    }
}
