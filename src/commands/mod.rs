//! Commands: the table (name, arity, flags, key positions) and one file per command family.
//!
//! A command handler gets a `Ctx` (the shards it may touch, its client's state, the reply buffer)
//! and its arguments, and writes exactly one reply. Handlers never touch sockets, threads or
//! locks: by the time one runs, the server has acquired every shard its keys live on.

pub mod admin;
pub mod aof;
pub mod bits;
pub mod command;
pub mod connection;
pub mod debug;
pub mod hashes;
pub mod info;
pub mod keys;
pub mod lists;
pub mod longdouble;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::sync::OnceLock;

use crate::resp::{Args, Reply};
use crate::server::client::ClientState;
use crate::server::view::ShardView;
use crate::server::Shared;
use crate::store::db::DbRef;
use crate::store::hash::Hash;
use crate::store::list::List;
use crate::store::set::Set;
use crate::store::Value;

pub type Handler = fn(&mut Ctx, Args);

// Command flags (the names COMMAND INFO prints are in `FLAG_NAMES`).
pub const WRITE: u32 = 1 << 0;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const ADMIN: u32 = 1 << 3;
pub const PUBSUB: u32 = 1 << 4;
pub const NOSCRIPT: u32 = 1 << 5;
pub const BLOCKING: u32 = 1 << 6;
pub const LOADING: u32 = 1 << 7;
pub const STALE: u32 = 1 << 8;
pub const SKIP_MONITOR: u32 = 1 << 9;
pub const SKIP_SLOWLOG: u32 = 1 << 10;
pub const FAST: u32 = 1 << 11;
pub const NO_AUTH: u32 = 1 << 12;
pub const MAY_REPLICATE: u32 = 1 << 13;
pub const NO_MULTI: u32 = 1 << 14;
pub const ALLOW_BUSY: u32 = 1 << 15;
/// ringkv routing: the command reads or writes the whole keyspace (every shard is locked).
pub const ALL_SHARDS: u32 = 1 << 16;
/// ringkv routing: the command changes its connection's state besides keys (WATCH), so it runs
/// on the connection's thread and is never shipped to the owner of its keys.
pub const CLIENT_STATE: u32 = 1 << 17;

pub const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (MAY_REPLICATE, "may_replicate"),
    (NO_MULTI, "no_multi"),
    (ALLOW_BUSY, "allow_busy"),
];

// Reply texts clients match on.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";

/// One command's static description.
#[derive(Clone, Copy)]
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included), -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Key positions like Redis's legacy (first, last, step); last < 0 counts from the end.
    /// first = 0 means no keys.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub handler: Handler,
    /// COMMAND DOCS group: "string", "generic", "connection", "server", "bitmap".
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    /// Subcommand names (lower case) for container commands, e.g. CLIENT's "list".
    pub subcommands: &'static [&'static str],
    /// Routing for commands whose keys the (first, last, step) positions cannot describe
    /// (SORT's STORE destination and BY/GET patterns): the shards needed, given the shard count.
    pub route: Option<fn(&Args, usize) -> u64>,
}

impl Spec {
    /// The same spec with its own routing.
    pub const fn with_route(mut self, route: fn(&Args, usize) -> u64) -> Spec {
        self.route = Some(route);
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Calls `f` with the position of every key argument.
    pub fn for_each_key_pos(&self, argc: usize, mut f: impl FnMut(usize)) {
        if self.first_key <= 0 {
            return;
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key.min(argc as i32 - 1)
        };
        let step = self.key_step.max(1);
        let mut i = self.first_key;
        while i <= last {
            f(i as usize);
            i += step;
        }
    }
}

pub struct Table {
    pub specs: Vec<Spec>,
    by_name: hashbrown::HashMap<&'static str, u32, foldhash::fast::RandomState>,
}

impl Table {
    /// Looks a command up by name, case-insensitively, without allocating.
    pub fn lookup(&self, name: &[u8]) -> Option<(u32, &Spec)> {
        let mut lower = [0u8; 32];
        if name.len() > lower.len() {
            return None;
        }
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let key = std::str::from_utf8(&lower[..name.len()]).ok()?;
        let i = *self.by_name.get(key)?;
        Some((i, &self.specs[i as usize]))
    }
}

/// The command table, built once.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut specs = Vec::new();
        for family in [
            connection::COMMANDS,
            strings::COMMANDS,
            bits::COMMANDS,
            keys::COMMANDS,
            hashes::COMMANDS,
            lists::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            transactions::COMMANDS,
            pubsub::COMMANDS,
            sort::COMMANDS,
            persistence::COMMANDS,
            aof::COMMANDS,
            replication::COMMANDS,
            admin::COMMANDS,
            info::COMMANDS,
            debug::COMMANDS,
            command::COMMANDS,
        ] {
            specs.extend_from_slice(family);
        }
        let by_name = specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name, i as u32))
            .collect();
        Table { specs, by_name }
    })
}

/// What a handler sees.
pub struct Ctx<'a> {
    /// The shards this command may touch (locked for it). `ctx.shards.db(key)` is the client's
    /// selected database on the shard that owns `key`; it borrows only this field, so a handler
    /// can hold it while writing to `ctx.out`.
    pub shards: ShardView<'a>,
    pub client: &'a mut ClientState,
    pub out: Reply<'a>,
    pub srv: &'a Shared,
    /// The worker (thread) running the command.
    pub worker: usize,
    /// Unix time in ms when the command started.
    pub now_ms: u64,
    /// Config values cached by the running thread (encoding thresholds, limits).
    pub limits: &'a crate::server::worker::Limits,
}

impl<'a> Ctx<'a> {
    /// Raises keyspace event `event` of class `class` (a `config::notify` bit) on `key` of the
    /// client's database, when `notify-keyspace-events` asks for it.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        self.notify_db(class, event, key, db);
    }

    /// `notify` for a key of database `db` (MOVE, COPY ... DB).
    pub fn notify_db(&mut self, class: u32, event: &'static str, key: &[u8], db: usize) {
        note(self.client, self.limits, class, event, key, db);
    }

    /// Propagates `args` (a command in the client's database) in place of the command as
    /// received, for the AOF and replicas; each call adds one command. Redis's
    /// rewriteClientCommandVector / alsoPropagate. A no-op while nobody reads the stream.
    #[inline]
    pub fn propagate(&mut self, args: &[&[u8]]) {
        if self.client.prop.on {
            let db = self.client.db;
            self.client.prop.rewritten = true;
            self.client.prop.push(db, args);
        }
    }

    /// Propagates the command as received even when it changed nothing (FLUSHALL).
    pub fn propagate_as_received(&mut self, args: &Args) {
        if self.client.prop.on {
            let cmd = crate::repl::propagate::encode_args(args);
            let db = self.client.db;
            self.client.prop.rewritten = true;
            self.client.prop.cmds.push((db, cmd));
        }
    }

    /// This command's change is not propagated (it propagated another way, or not at all).
    pub fn propagate_none(&mut self) {
        self.client.prop.rewritten = true;
    }

    /// `-ERR wrong number of arguments for '<name>' command`.
    pub fn wrong_args(&mut self, name: &str) {
        self.out.err(&format!(
            "wrong number of arguments for '{}' command",
            name.to_ascii_lowercase()
        ));
    }
}

/// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `, as Redis words it.
pub fn unknown_command_text(args: &Args) -> String {
    unknown_command_text_of(args.iter())
}

/// [`unknown_command_text`] for arguments held elsewhere (the sentinel's), name first.
pub fn unknown_command_text_of<'a>(mut args: impl Iterator<Item = &'a [u8]>) -> String {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        printable(args.next().unwrap_or_default(), 128)
    );
    for a in args {
        if s.len() >= 256 {
            break;
        }
        s.push_str(&format!("'{}' ", printable(a, 128)));
    }
    s
}

/// Bytes as text for error messages, cut to `max` bytes, with non-printables replaced.
pub fn printable(b: &[u8], max: usize) -> String {
    b.iter()
        .take(max)
        .map(|&c| {
            if (32..127).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Strict integer argument (like Redis's getLongLongFromObject).
pub fn arg_i64(b: &[u8]) -> Option<i64> {
    crate::resp::parse::parse_i64(b)
}

/// Float argument as Redis reads it (strtold: accepts "inf", "-inf", exponents; rejects spaces,
/// empty strings and NaN).
pub fn arg_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn eq_ic(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

/// Shorthand for building `Spec`s in the family files.
#[allow(clippy::too_many_arguments)]
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: Handler,
    group: &'static str,
    summary: &'static str,
    since: &'static str,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        key_step: keys.2,
        handler,
        group,
        summary,
        since,
        subcommands: &[],
        route: None,
    }
}

/// No key arguments.
pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);

/// A cheap per-thread random number (xorshift64*, seeded from std's random hasher keys).
pub fn rand_u64() -> u64 {
    thread_local!(static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0x5eed_u64) | 1
    ));
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A SCAN cursor as Redis reads it (strtoul with an optional sign, "-1" wrapping to the top; no
/// leading space; the empty string is 0).
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return Some(0);
    }
    let mut s = b;
    let neg = s.first() == Some(&b'-');
    if matches!(s.first(), Some(b'-' | b'+')) {
        s = &s[1..];
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The arguments of SCAN and of HSCAN/SSCAN/ZSCAN: `cursor [MATCH pattern] [COUNT n]`, and
/// `[TYPE type]` for SCAN.
pub struct ScanArgs<'a> {
    pub cursor: u64,
    pub count: usize,
    /// None for no pattern or `*`.
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

impl<'a> ScanArgs<'a> {
    /// Whether `item` passes MATCH.
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::config::glob_match(p, item, false))
    }

    /// Runs `step` (one segment of the collection from a cursor, pushing what it keeps) until
    /// COUNT items were kept, the scan ends, or 10 × COUNT steps ran (Redis's bound for one
    /// call). Returns the next cursor and the items.
    pub fn collect<T>(&self, mut step: impl FnMut(u64, &mut Vec<T>) -> u64) -> (u64, Vec<T>) {
        let mut found = Vec::new();
        let mut c = self.cursor;
        for _ in 0..self.count.saturating_mul(10) {
            c = step(c, &mut found);
            if c == 0 || found.len() >= self.count {
                break;
            }
        }
        (c, found)
    }

    /// Parses from the cursor at `at`. `Err` is the error reply (full text).
    pub fn parse(
        args: &Args<'a>,
        at: usize,
        allow_type: bool,
    ) -> Result<ScanArgs<'a>, &'static str> {
        let cursor = parse_cursor(args.get(at)).ok_or("ERR invalid cursor")?;
        let mut s = ScanArgs {
            cursor,
            count: 10,
            pattern: None,
            type_name: None,
        };
        let mut i = at + 1;
        while i < args.len() {
            let a = args.get(i);
            if i + 1 >= args.len() {
                return Err(SYNTAX);
            }
            let v = args.get(i + 1);
            if eq_ic(a, "count") {
                match arg_i64(v) {
                    None => return Err(NOT_INTEGER),
                    Some(n) if n < 1 => return Err(SYNTAX),
                    Some(n) => s.count = usize::try_from(n).unwrap_or(usize::MAX),
                }
            } else if eq_ic(a, "match") {
                s.pattern = (v != b"*").then_some(v);
            } else if allow_type && eq_ic(a, "type") {
                s.type_name = Some(v);
            } else {
                return Err(SYNTAX);
            }
            i += 2;
        }
        Ok(s)
    }
}

/// A collection type kept in one `Value` variant: what `write_collection` needs to find,
/// create and drop it.
pub trait Collection {
    /// An empty value of this type.
    fn new_value() -> Value;
    /// The collection inside `v`, if `v` is of this type.
    fn of(v: &mut Value) -> Option<&mut Self>;
    fn is_empty(&self) -> bool;
}

impl Collection for Hash {
    fn new_value() -> Value {
        Value::Hash(Hash::default())
    }
    fn of(v: &mut Value) -> Option<&mut Hash> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

impl Collection for List {
    fn new_value() -> Value {
        Value::List(Box::default())
    }
    fn of(v: &mut Value) -> Option<&mut List> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn is_empty(&self) -> bool {
        List::is_empty(self)
    }
}

impl Collection for Set {
    fn new_value() -> Value {
        Value::Set(Set::default())
    }
    fn of(v: &mut Value) -> Option<&mut Set> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

/// The key holds another type; the WRONGTYPE error is already queued.
#[derive(Debug)]
pub struct WrongType;

/// Runs `f` on the collection at `key`, creating an empty one when absent and `create`, and
/// deletes the key when `f` leaves it empty (Redis never keeps empty collections).
/// `Ok(None)`: absent and not created. `Err`: the key holds another type (WRONGTYPE queued).
pub fn write_collection<C: Collection, R>(
    out: &mut Reply,
    db: &mut DbRef,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut C) -> R,
) -> Result<Option<R>, WrongType> {
    let present = match db.lookup_write(key) {
        None => false,
        Some(e) => {
            if C::of(&mut e.value).is_none() {
                out.error(WRONGTYPE);
                return Err(WrongType);
            }
            true
        }
    };
    if !present {
        if !create {
            return Ok(None);
        }
        db.set(key, C::new_value(), 0);
    }
    let Some(c) = db.lookup_write(key).and_then(|e| C::of(&mut e.value)) else {
        return Ok(None); // just created: not reached
    };
    let r = f(c);
    if c.is_empty() {
        db.remove_emptied(key);
    } else {
        db.touched(key);
    }
    Ok(Some(r))
}

/// The arguments of LMPOP and ZMPOP: `numkeys key [key ...] <which> [COUNT count]`, where
/// `which` is one of two words (LEFT/RIGHT, MIN/MAX).
pub struct MpopArgs {
    pub numkeys: usize,
    /// The first of the two words was given.
    pub first: bool,
    pub count: usize,
}

impl MpopArgs {
    /// Parses with `numkeys` at argument `at` (1 for LMPOP, 2 for BLMPOP after its timeout).
    pub fn parse(args: &Args, at: usize, words: (&str, &str)) -> Result<MpopArgs, &'static str> {
        let numkeys = match arg_i64(args.get(at)) {
            Some(n) if n > 0 => n as usize,
            _ => return Err("ERR numkeys should be greater than 0"),
        };
        if numkeys > args.len().saturating_sub(at + 2) {
            return Err(SYNTAX);
        }
        let which = args.get(at + 1 + numkeys);
        let first = if eq_ic(which, words.0) {
            true
        } else if eq_ic(which, words.1) {
            false
        } else {
            return Err(SYNTAX);
        };
        let mut count = 1usize;
        let rest = at + 2 + numkeys;
        if args.len() > rest {
            if args.len() != rest + 2 || !eq_ic(args.get(rest), "count") {
                return Err(SYNTAX);
            }
            match arg_i64(args.get(rest + 1)) {
                Some(n) if n > 0 => count = n as usize,
                _ => return Err("ERR count should be greater than 0"),
            }
        }
        Ok(MpopArgs {
            numkeys,
            first,
            count,
        })
    }
}

/// A blocking command's timeout (seconds, fractions allowed) as a deadline in Unix ms; 0 means
/// wait forever.
pub fn parse_timeout(b: &[u8], now_ms: u64) -> Result<u64, &'static str> {
    const BAD: &str = "ERR timeout is not a float or out of range";
    let s = std::str::from_utf8(b).map_err(|_| BAD)?;
    let secs: f64 = s.parse().map_err(|_| BAD)?;
    if !secs.is_finite() {
        return Err(BAD);
    }
    if secs < 0.0 {
        return Err("ERR timeout is negative");
    }
    let ms = (secs * 1000.0).ceil();
    if ms >= (u64::MAX / 2) as f64 {
        return Err(BAD);
    }
    Ok(if ms == 0.0 { 0 } else { now_ms + ms as u64 })
}

/// Blocks the client on `keys` until one can serve `op` (or the deadline): registers it on
/// each key's database and asks the server to park the connection. Inside EXEC nothing blocks:
/// the timeout reply goes out at once. `null_array` picks that reply (nil array, or nil).
pub fn block_on(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    op: crate::store::blocking::BlockOp,
    deadline_ms: u64,
    null_array: bool,
) {
    if ctx.client.in_exec {
        return if null_array {
            ctx.out.null_array()
        } else {
            ctx.out.null()
        };
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiter = crate::store::blocking::Waiter {
        worker: ctx.worker,
        token: ctx.client.token,
        resp3: ctx.client.resp3,
        op,
        done: done.clone(),
    };
    for key in keys {
        ctx.shards.db(key).block(key, waiter.clone());
    }
    ctx.client.action = Some(crate::server::client::ClientAction::Block {
        deadline_ms,
        done,
        null_array,
    });
}

/// `Ctx::notify` on the client and limits fields alone, for handlers that still hold a database
/// of `ctx.shards`.
#[inline]
pub fn note(
    client: &mut ClientState,
    limits: &crate::server::worker::Limits,
    class: u32,
    event: &'static str,
    key: &[u8],
    db: usize,
) {
    use crate::config::notify::{KEYEVENT, KEYSPACE};
    let flags = limits.notify;
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    client.events.push(crate::server::pubsub::KeyEvent {
        db,
        event,
        key: key.to_vec(),
    });
}

/// Emits now the `del` event of `key` if a command just emptied (and so deleted) it, instead of
/// after the command: for commands whose later events Redis orders after that `del` (SMOVE).
pub fn flush_emptied(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.shards.db(key);
    let log = &mut db.db.emptied_log;
    if log.last().is_some_and(|k| &k[..] == key) {
        log.pop();
        ctx.notify(crate::config::notify::GENERIC, "del", key);
    }
}

/// The `[count [WITH...]]` tail of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: the count (None when
/// absent) and whether `with` (WITHVALUES, WITHSCORES; None for SRANDMEMBER) was given.
pub fn rand_args(args: &Args, with: Option<&str>) -> Result<(Option<i64>, bool), &'static str> {
    let max_args = if with.is_some() { 4 } else { 3 };
    if args.len() > max_args {
        return Err(SYNTAX);
    }
    if args.len() == 2 {
        return Ok((None, false));
    }
    let c = arg_i64(args.get(2)).ok_or(NOT_INTEGER)?;
    let with_given = args.len() == 4;
    if with_given && !with.is_some_and(|w| eq_ic(args.get(3), w)) {
        return Err(SYNTAX);
    }
    // Redis bounds the count so that the reply size cannot overflow.
    if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
        return Err("ERR value is out of range");
    }
    Ok((Some(c), with_given))
}

/// Random picks as Redis makes them: a count >= 0 gives up to `count` distinct items of `all`
/// (a partial Fisher-Yates shuffle), a negative one |count| items drawn with repetition.
pub fn random_picks<T>(
    all: impl FnOnce() -> Vec<T>,
    count: i64,
    mut draw: impl FnMut() -> Option<T>,
) -> Vec<T> {
    if count < 0 {
        return (0..count.unsigned_abs()).filter_map(|_| draw()).collect();
    }
    let mut all = all();
    let want = (count as usize).min(all.len());
    for i in 0..want {
        let j = i + (rand_u64() % (all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(want);
    all
}
