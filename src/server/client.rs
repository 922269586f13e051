//! Per-connection client state: what commands may read and change (`ClientState`), and the part
//! other threads can see for CLIENT LIST / CLIENT KILL (`ClientShared`, atomics only on the
//! request path).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// What a command asks the connection to do after its reply is queued.
#[derive(Clone, Debug)]
pub enum ClientAction {
    /// Close once the reply is written (QUIT, CLIENT KILL of oneself).
    CloseAfterReply,
    /// Become a MONITOR client.
    Monitor,
    /// RESET: leave MONITOR mode (the rest of RESET is client state the handler resets).
    Reset,
    /// SHUTDOWN: stop the server; `save` as asked (None = default).
    Shutdown { save: Option<bool> },
    /// A blocking command found nothing and registered on its keys: park the connection until
    /// `done` is won by a serving shard, the deadline (Unix ms, 0 = none), CLIENT UNBLOCK or a
    /// close. `null_array` picks the timeout reply (nil array, or nil for BLMOVE).
    Block {
        deadline_ms: u64,
        done: Arc<AtomicBool>,
        null_array: bool,
    },
    /// PSYNC / SYNC: the connection is a replica from now on.
    BecomeReplica(ReplicaStart),
    /// WAIT: reply once `replicas` acknowledged stream position `offset`, or at the deadline
    /// (Unix ms, 0 = none), with the number that did.
    Wait {
        offset: u64,
        replicas: u64,
        deadline_ms: u64,
    },
}

/// How a replica connection starts.
#[derive(Clone, Copy, Debug)]
pub enum ReplicaStart {
    /// Partial resync: stream from this position.
    Continue { pos: u64 },
    /// Full sync: wait for the next cut (queued in `ReplState::waiting`).
    AwaitCut,
}

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by SKIP: skip this command's reply.
    SkipThis,
}

/// Client kinds (`ClientShared::kind`).
pub const KIND_NORMAL: u8 = 0;
pub const KIND_REPLICA: u8 = 1;
pub const KIND_MASTER: u8 = 2;
/// Not stored in `kind`: a normal client with subscriptions (see `ClientShared::list_kind`).
pub const KIND_PUBSUB: u8 = 3;

/// The visible side of a client, shared with other threads through the registry.
pub struct ClientShared {
    pub id: u64,
    pub worker: usize,
    pub fd: i32,
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicU32,
    /// Index into the command table of the last command (u32::MAX = none yet).
    pub last_cmd: AtomicU32,
    pub resp: AtomicU8,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub monitor: AtomicBool,
    pub no_evict: AtomicBool,
    /// Set by CLIENT KILL from any thread; the owner closes the connection.
    pub kill: AtomicBool,
    /// CLIENT LIST / KILL type: `KIND_NORMAL`, `KIND_REPLICA` or `KIND_MASTER`.
    pub kind: AtomicU8,
    /// Subscriptions to channels, patterns and shard channels (CLIENT LIST's sub, psub, ssub).
    pub subs: [AtomicU32; 3],
    /// While blocked: the flag deciding who ends the block (CLIENT UNBLOCK races for it).
    pub blocked: Mutex<Option<Arc<AtomicBool>>>,
    /// Why the block is ended by another client (`UNBLOCK_*`): CLIENT UNBLOCK's timeout reply
    /// or error, or the role change that turned this master into a replica.
    pub unblock_reason: AtomicU8,
    /// The connection's token on its thread (for messages about this client).
    pub token: AtomicU64,
    pub qbuf: AtomicU64,
    pub omem: AtomicU64,
}

impl ClientShared {
    pub fn new(id: u64, worker: usize, fd: i32, addr: String, laddr: String, now_ms: u64) -> Self {
        ClientShared {
            id,
            worker,
            fd,
            addr,
            laddr,
            created_ms: now_ms,
            last_interaction_ms: AtomicU64::new(now_ms),
            db: AtomicU32::new(0),
            last_cmd: AtomicU32::new(u32::MAX),
            resp: AtomicU8::new(2),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            monitor: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            kind: AtomicU8::new(KIND_NORMAL),
            subs: Default::default(),
            blocked: Mutex::new(None),
            unblock_reason: AtomicU8::new(UNBLOCK_TIMEOUT),
            token: AtomicU64::new(0),
            qbuf: AtomicU64::new(0),
            omem: AtomicU64::new(0),
        }
    }

    /// The type CLIENT LIST and CLIENT KILL match on: a normal client with subscriptions is
    /// a pubsub client, as in Redis.
    pub fn list_kind(&self) -> u8 {
        let kind = self.kind.load(Ordering::Relaxed);
        if kind == KIND_NORMAL && self.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0) {
            KIND_PUBSUB
        } else {
            kind
        }
    }

    pub fn name(&self) -> Option<Vec<u8>> {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Commands queued between MULTI and EXEC.
#[derive(Default)]
pub struct Multi {
    /// The requests as received, back to back.
    pub queued: Vec<u8>,
    pub count: usize,
    /// Shards the queued commands touch: EXEC takes all their locks.
    pub need: u64,
    /// A command failed to queue (unknown, wrong arity...): EXEC answers EXECABORT.
    pub errored: bool,
    /// A queued command writes: EXEC meets the refusals a write meets (READONLY, NOREPLICAS,
    /// MISCONF), as Redis checks EXEC.
    pub writes: bool,
    /// A queued command may not run on a stale replica (MASTERDOWN applies to EXEC).
    pub denies_stale: bool,
    /// REPLICAOF NO ONE is queued: EXEC first waits for the link to drain, as the command
    /// alone does (`Worker::promotion_first`).
    pub promotes: bool,
}

/// `ClientShared::unblock_reason`: answer as if the timeout passed (CLIENT UNBLOCK).
pub const UNBLOCK_TIMEOUT: u8 = 0;
/// `ClientShared::unblock_reason`: answer an UNBLOCKED error (CLIENT UNBLOCK ... ERROR).
pub const UNBLOCK_ERROR: u8 = 1;
/// `ClientShared::unblock_reason`: the server became a replica (REPLICAOF): answer Redis's
/// UNBLOCKED error and close the connection, as Redis does.
pub const UNBLOCK_ROLE_CHANGE: u8 = 2;

/// Commands one transaction may queue.
pub const MULTI_COMMANDS_MAX: usize = 1 << 20;

/// Connection-level state commands can read and change.
pub struct ClientState {
    pub id: u64,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub action: Option<ClientAction>,
    pub shared: Arc<ClientShared>,
    /// Inside MULTI: what EXEC will run.
    pub multi: Option<Box<Multi>>,
    /// This connection's token on its thread (pub/sub deliveries find it by this).
    pub token: u64,
    /// Pub/sub subscriptions (None when there are none).
    pub subs: Option<Box<super::pubsub::Subscriptions>>,
    /// Deliveries a PUBLISH made, handed to their threads after the command.
    pub outbox: Vec<super::pubsub::Delivery>,
    /// Blocked clients the command served (on any thread), told after it.
    pub woken: Vec<crate::store::blocking::Served>,
    /// Running inside EXEC: blocking commands do not block.
    pub in_exec: bool,
    /// The stream's end offset just after this client's last write went into it (Redis's
    /// `woff`): what WAIT waits for replicas to acknowledge.
    pub woff: u64,
    /// Keyspace events the command raised (published after it when notifications are on).
    pub events: Vec<crate::server::pubsub::KeyEvent>,
    /// While WATCHing: set by any change to a watched key (registered in each key's database).
    pub watch_flag: Option<Arc<AtomicBool>>,
    /// The earliest expiry (Unix ms, 0 = none) among the watched keys that were live when
    /// watched: once it passes, EXEC fails as if the key had changed (Redis 7 checks watched
    /// keys for expiry at EXEC). A change to the key's TTL or the key itself dirties the flag
    /// anyway, so the recorded time stays right for as long as it matters.
    pub watch_expire_at_ms: u64,
    /// What the running command (or EXEC) propagates to the AOF and replicas.
    pub prop: crate::repl::propagate::Pending,
    /// What REPLCONF said (a replica connecting to us).
    pub replconf: Option<crate::commands::replication::ReplConf>,
    /// This connection is a replica (after PSYNC / SYNC).
    pub is_replica: bool,
    /// A replica of ours sent REPLCONF ACK since the flag was last cleared.
    pub repl_acked: bool,
    /// This is our master's connection (the replication link): it may write on a read-only
    /// replica, and what it runs reaches our AOF but not our backlog (which gets the master's
    /// stream verbatim).
    pub is_master: bool,
}

impl ClientState {
    pub fn new(shared: Arc<ClientShared>, authenticated: bool) -> ClientState {
        ClientState {
            id: shared.id,
            db: 0,
            resp3: false,
            authenticated,
            reply_mode: ReplyMode::On,
            action: None,
            shared,
            multi: None,
            token: 0,
            subs: None,
            outbox: Vec::new(),
            woken: Vec::new(),
            in_exec: false,
            woff: 0,
            events: Vec::new(),
            watch_flag: None,
            watch_expire_at_ms: 0,
            prop: Default::default(),
            replconf: None,
            is_replica: false,
            repl_acked: false,
            is_master: false,
        }
    }

    /// Whether the client has any subscription (RESP2 then restricts its commands).
    pub fn subscribed(&self) -> bool {
        self.subs.as_ref().is_some_and(|s| s.total() > 0)
    }

    /// Forgets every WATCH (registrations of the dropped flag die with it).
    pub fn unwatch(&mut self) {
        self.watch_flag = None;
        self.watch_expire_at_ms = 0;
    }

    /// WATCH found `key` live with this expiry (0 = none).
    pub fn watch_expiry(&mut self, expire_at_ms: u64) {
        if expire_at_ms != 0
            && (self.watch_expire_at_ms == 0 || expire_at_ms < self.watch_expire_at_ms)
        {
            self.watch_expire_at_ms = expire_at_ms;
        }
    }

    /// A watched key changed, or one that was live when watched has expired by `now_ms`.
    pub fn watch_failed(&self, now_ms: u64) -> bool {
        self.watch_dirty() || (self.watch_expire_at_ms != 0 && self.watch_expire_at_ms <= now_ms)
    }

    /// The flag WATCH registers, created on first use.
    pub fn watch_flag(&mut self) -> Arc<AtomicBool> {
        self.watch_flag
            .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone()
    }

    /// Whether a watched key changed since WATCH.
    pub fn watch_dirty(&self) -> bool {
        self.watch_flag
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Acquire))
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.shared.db.store(db as u32, Ordering::Relaxed);
    }

    pub fn set_resp(&mut self, version: u8) {
        self.resp3 = version == 3;
        self.shared.resp.store(version, Ordering::Relaxed);
    }
}
