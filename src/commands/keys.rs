//! Generic key commands: existence, deletion, renaming, copying between keys and databases,
//! expiry, introspection (OBJECT, TYPE) and keyspace-wide walks (KEYS, SCAN, RANDOMKEY, DBSIZE,
//! FLUSHDB, FLUSHALL, SWAPDB).
//!
//! Keyspace-wide commands are flagged ALL_SHARDS and visit every shard in index order. A SCAN
//! cursor is `(table_cursor << 8) | shard`: the shard being walked in its low byte and that
//! shard's `Table::scan` cursor above it, so a scan finishes one shard before starting the next
//! and inherits the table's guarantee (every key present for the whole scan is returned).
//! This module never touches values' contents beyond copying them whole.

use super::{
    arg_i64, eq_ic, printable, rand_u64, spec, Ctx, ScanArgs, Spec, ALL_SHARDS, DB_INDEX, DENYOOM,
    FAST, NOT_INTEGER, NO_KEYS, NO_SUCH_KEY, READONLY, SYNTAX, WRITE,
};
use crate::config::glob_match;
use crate::config::notify::GENERIC;
use crate::resp::Args;
use crate::server::view::ShardView;
use crate::store::db::{lru_clock, DbRef};
use crate::store::SmallStr;
use crate::store::{Entry, Value};

const G: &str = "generic";
const S: &str = "server";

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("del", -2, WRITE, (1, -1, 1), del, G, "Delete a key", "1.0.0"),
    spec("unlink", -2, WRITE | FAST, (1, -1, 1), del, G, "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "4.0.0"),
    spec("exists", -2, READONLY | FAST, (1, -1, 1), exists, G, "Determine if a key exists", "1.0.0"),
    spec("type", 2, READONLY | FAST, (1, 1, 1), type_cmd, G, "Determine the type stored at key", "1.0.0"),
    spec("rename", 3, WRITE, (1, 2, 1), rename, G, "Rename a key", "1.0.0"),
    spec("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx, G, "Rename a key, only if the new key does not exist", "1.0.0"),
    spec("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy, G, "Copy a key", "6.2.0"),
    spec("move", 3, WRITE | FAST, (1, 1, 1), move_cmd, G, "Move a key to another database", "1.0.0"),
    spec("touch", -2, READONLY | FAST, (1, -1, 1), touch, G, "Alters the last access time of a key(s). Returns the number of existing keys specified.", "3.2.1"),
    spec("keys", 2, READONLY | ALL_SHARDS, NO_KEYS, keys, G, "Find all keys matching the given pattern", "1.0.0"),
    spec("scan", -2, READONLY | ALL_SHARDS, NO_KEYS, scan, G, "Incrementally iterate the keys space", "2.8.0"),
    spec("randomkey", 1, READONLY | ALL_SHARDS, NO_KEYS, randomkey, G, "Return a random key from the keyspace", "1.0.0"),
    spec("dbsize", 1, READONLY | FAST | ALL_SHARDS, NO_KEYS, dbsize, S, "Return the number of keys in the selected database", "1.0.0"),
    spec("flushdb", -1, WRITE | ALL_SHARDS, NO_KEYS, flushdb, S, "Remove all keys from the current database", "1.0.0"),
    spec("flushall", -1, WRITE | ALL_SHARDS, NO_KEYS, flushall, S, "Remove all keys from all databases", "1.0.0"),
    spec("swapdb", 3, WRITE | FAST | ALL_SHARDS, NO_KEYS, swapdb, S, "Swaps two Redis databases", "4.0.0"),
    spec("expire", -3, WRITE | FAST, (1, 1, 1), expire, G, "Set a key's time to live in seconds", "1.0.0"),
    spec("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire, G, "Set a key's time to live in milliseconds", "2.6.0"),
    spec("expireat", -3, WRITE | FAST, (1, 1, 1), expireat, G, "Set the expiration for a key as a UNIX timestamp", "1.2.0"),
    spec("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat, G, "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0"),
    spec("ttl", 2, READONLY | FAST, (1, 1, 1), ttl, G, "Get the time to live for a key in seconds", "1.0.0"),
    spec("pttl", 2, READONLY | FAST, (1, 1, 1), pttl, G, "Get the time to live for a key in milliseconds", "2.6.0"),
    spec("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime, G, "Get the expiration Unix timestamp for a key", "7.0.0"),
    spec("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime, G, "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0"),
    spec("persist", 2, WRITE | FAST, (1, 1, 1), persist, G, "Remove the expiration from a key", "2.2.0"),
    Spec {
        subcommands: &["encoding", "freq", "help", "idletime", "refcount"],
        ..spec("object", -2, READONLY, (2, 2, 1), object, G, "A container for object introspection commands", "2.2.3")
    },
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// Cursor bits that hold the shard index (at most 64 shards).
const SHARD_BITS: u32 = 8;
/// Random probes RANDOMKEY makes before falling back to a walk.
const RANDOM_TRIES: usize = 100;

/// Database `dbi` of shard `i` with the command's clock (for keyspace-wide commands).
fn shard_db<'a>(view: &'a mut ShardView, i: usize, dbi: usize) -> DbRef<'a> {
    let now = view.now_ms;
    let shard = view.shard(i);
    shard.now_ms = now;
    shard.db(dbi)
}

/// Looks a key up without touching its access time, counting a keyspace hit or miss (Redis's
/// NOTOUCH reads), and returns what `f` extracts from the live entry.
fn peek<T>(db: &mut DbRef, key: &[u8], f: impl FnOnce(&Entry) -> T) -> Option<T> {
    let r = db.lookup_write(key).map(|e| f(e));
    if r.is_some() {
        db.stats.keyspace_hits += 1;
    } else {
        db.stats.keyspace_misses += 1;
    }
    r
}

/// A database index argument: NOT_INTEGER when not an int, DB_INDEX when outside 0..dbs.
fn arg_db(b: &[u8], dbs: usize) -> Result<usize, &'static str> {
    match arg_i64(b) {
        Some(n) if i32::try_from(n).is_ok() => {
            usize::try_from(n).ok().filter(|&n| n < dbs).ok_or(DB_INDEX)
        }
        _ => Err(NOT_INTEGER),
    }
}

/// DEL / UNLINK key [key ...]: the number of keys removed.
fn del(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for key in args.iter().skip(1) {
        if ctx.shards.db(key).remove(key).is_some() {
            n += 1;
            ctx.notify(GENERIC, "del", key);
        }
    }
    ctx.out.int(n)
}

/// EXISTS key [key ...]: how many of the named keys exist (a repeated key counts each time).
fn exists(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for key in args.iter().skip(1) {
        n += peek(&mut ctx.shards.db(key), key, |_| ()).is_some() as i64;
    }
    ctx.out.int(n)
}

/// TYPE key: the type name as a simple string, "none" when absent.
fn type_cmd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let name = peek(&mut ctx.shards.db(key), key, |e| e.value.type_name()).unwrap_or("none");
    ctx.out.simple(name.as_bytes())
}

/// TOUCH key [key ...]: refreshes the access time of each key; the number that exist.
fn touch(ctx: &mut Ctx, args: Args) {
    let mut n = 0;
    for key in args.iter().skip(1) {
        n += ctx.shards.db(key).lookup_read(key).is_some() as i64;
    }
    ctx.out.int(n)
}

/// RENAME key newkey: OK; the value and its TTL move to `newkey`, replacing it.
fn rename(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, false)
}

/// RENAMENX key newkey: 1 when renamed, 0 when `newkey` already exists.
fn renamenx(ctx: &mut Ctx, args: Args) {
    rename_generic(ctx, args, true)
}

fn rename_generic(ctx: &mut Ctx, args: Args, nx: bool) {
    let (src, dst) = (args.get(1), args.get(2));
    if ctx.shards.db(src).lookup_write(src).is_none() {
        return ctx.out.error(NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && ctx.shards.db(dst).lookup_write(dst).is_some() {
        return ctx.out.int(0);
    }
    if let Some(mut entry) = ctx.shards.db(src).remove(src) {
        entry.key = dst.into();
        ctx.shards.db(dst).insert_entry(entry);
        ctx.notify(GENERIC, "rename_from", src);
        ctx.notify(GENERIC, "rename_to", dst);
    }
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

/// COPY source destination [DB index] [REPLACE]: 1 when copied (value and TTL), 0 when the
/// source is missing or the destination exists without REPLACE.
fn copy(ctx: &mut Ctx, args: Args) {
    let (src, dst) = (args.get(1), args.get(2));
    let dbs = ctx.shards.shard_for(src).dbs.len();
    let (mut dbid, mut replace) = (ctx.client.db, false);
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "db") && i + 1 < args.len() {
            match arg_db(args.get(i + 1), dbs) {
                Ok(d) => dbid = d,
                Err(e) => return ctx.out.error(e),
            }
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    if dbid == ctx.client.db && src == dst {
        return ctx.out.error(SAME_OBJECT);
    }
    let Some((value, expire_at_ms)) = ctx
        .shards
        .db(src)
        .lookup_read(src)
        .map(|e| (e.value.clone(), e.expire_at_ms))
    else {
        return ctx.out.int(0);
    };
    let mut target = ctx.shards.db_at(dbid, dst);
    if !replace && target.lookup_write(dst).is_some() {
        return ctx.out.int(0);
    }
    let access_s = lru_clock(target.now_ms);
    target.insert_entry(Entry {
        key: dst.into(),
        value,
        expire_at_ms,
        access_s,
    });
    ctx.notify_db(GENERIC, "copy_to", dst, dbid);
    ctx.out.int(1)
}

/// MOVE key db: 1 when the key moved to database `db` (same shard), 0 when it is missing here
/// or already exists there.
fn move_cmd(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let dbs = ctx.shards.shard_for(key).dbs.len();
    let dbid = match arg_db(args.get(2), dbs) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    if dbid == ctx.client.db {
        return ctx.out.error(SAME_OBJECT);
    }
    if ctx.shards.db(key).lookup_write(key).is_none()
        || ctx.shards.db_at(dbid, key).lookup_write(key).is_some()
    {
        return ctx.out.int(0);
    }
    if let Some(entry) = ctx.shards.db(key).remove(key) {
        ctx.shards.db_at(dbid, key).insert_entry(entry);
        ctx.notify(GENERIC, "move_from", key);
        ctx.notify_db(GENERIC, "move_to", key, dbid);
    }
    ctx.out.int(1)
}

/// KEYS pattern: every live key of the selected database matching the glob pattern.
fn keys(ctx: &mut Ctx, args: Args) {
    let pattern = args.get(1);
    let all = pattern == b"*";
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let mut found: Vec<SmallStr> = Vec::new();
    let shards: Vec<usize> = ctx.shards.held().collect();
    for i in shards {
        let db = shard_db(&mut ctx.shards, i, dbi);
        found.extend(
            db.db
                .table
                .records()
                .iter()
                .filter(|r| r.expire_at_ms() == 0 || r.expire_at_ms() > now)
                .filter(|r| all || glob_match(pattern, r.key(), false))
                .map(|r| SmallStr::new(r.key())),
        );
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]: the next cursor ("0" when done) and a
/// batch of keys; every key present for the whole scan is returned at least once.
fn scan(ctx: &mut Ctx, args: Args) {
    let ScanArgs {
        cursor,
        count,
        pattern,
        type_name,
    } = match ScanArgs::parse(&args, 1, true) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let shards = ctx.shards.count();
    let mut shard = (cursor & ((1 << SHARD_BITS) - 1)) as usize;
    let mut tc = cursor >> SHARD_BITS;
    let mut found: Vec<SmallStr> = Vec::new();
    let (mut visited, mut steps) = (0usize, 0usize);
    let max_steps = count.saturating_mul(10);
    while shard < shards && visited < count && steps < max_steps {
        let db = shard_db(&mut ctx.shards, shard, dbi);
        tc = db.db.table.records().scan(tc, |r| {
            visited += 1;
            let live = r.expire_at_ms() == 0 || r.expire_at_ms() > now;
            if live
                && pattern.is_none_or(|p| glob_match(p, r.key(), false))
                && type_name.is_none_or(|t| eq_ic(t, r.type_name()))
            {
                found.push(SmallStr::new(r.key()));
            }
        });
        steps += 1;
        if tc == 0 {
            shard += 1;
        }
    }
    let next = if shard >= shards {
        0
    } else {
        (tc << SHARD_BITS) | shard as u64
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
}

/// RANDOMKEY: a random live key of the selected database, nil when it is empty.
fn randomkey(ctx: &mut Ctx, _args: Args) {
    let (dbi, now) = (ctx.client.db, ctx.now_ms);
    let shards: Vec<usize> = ctx.shards.held().collect();
    for _ in 0..RANDOM_TRIES {
        let lens: Vec<usize> = shards
            .iter()
            .map(|&i| shard_db(&mut ctx.shards, i, dbi).db.table.len())
            .collect();
        let total: usize = lens.iter().sum();
        if total == 0 {
            return ctx.out.null();
        }
        let mut r = (rand_u64() % total as u64) as usize;
        let mut pick = shards.len() - 1;
        for (j, &len) in lens.iter().enumerate() {
            if r < len {
                pick = j;
                break;
            }
            r -= len;
        }
        let mut db = shard_db(&mut ctx.shards, shards[pick], dbi);
        let Some((key, live)) = db.db.table.records().random(rand_u64()).map(|r| {
            let live = r.expire_at_ms() == 0 || r.expire_at_ms() > now;
            (SmallStr::new(r.key()), live)
        }) else {
            continue;
        };
        if live {
            return ctx.out.bulk(&key);
        }
        db.exists(&key); // deletes the expired key
    }
    // Mostly expired keys: walk for a live one.
    for &i in &shards {
        let db = shard_db(&mut ctx.shards, i, dbi);
        let live = db
            .db
            .table
            .records()
            .iter()
            .find(|r| r.expire_at_ms() == 0 || r.expire_at_ms() > now)
            .map(|r| SmallStr::new(r.key()));
        if let Some(k) = live {
            return ctx.out.bulk(&k);
        }
    }
    ctx.out.null()
}

/// DBSIZE: the number of keys in the selected database.
fn dbsize(ctx: &mut Ctx, _args: Args) {
    let dbi = ctx.client.db;
    let shards: Vec<usize> = ctx.shards.held().collect();
    let n: usize = shards
        .into_iter()
        .map(|i| ctx.shards.shard(i).dbs[dbi].table.len())
        .sum();
    ctx.out.int(n as i64)
}

/// Checks FLUSHDB/FLUSHALL's optional ASYNC|SYNC argument.
fn flush_args_ok(args: &Args) -> bool {
    match args.len() {
        1 => true,
        2 => eq_ic(args.get(1), "async") || eq_ic(args.get(1), "sync"),
        _ => false,
    }
}

/// Empties database `dbi` (or every database) on every held shard.
fn flush(ctx: &mut Ctx, dbi: Option<usize>) {
    let shards: Vec<usize> = ctx.shards.held().collect();
    for i in shards {
        let shard = ctx.shards.shard(i);
        let mut removed = 0;
        for (d, db) in shard.dbs.iter_mut().enumerate() {
            if dbi.is_none_or(|x| x == d) {
                removed += db.table.len() as u64;
                let records = db.table.records();
                db.watched.signal_where(|k| records.get(k).is_some());
                db.table.clear();
            }
        }
        shard.dirty += removed;
    }
    ctx.out.ok()
}

/// FLUSHDB [ASYNC|SYNC]: removes every key of the selected database; OK.
fn flushdb(ctx: &mut Ctx, args: Args) {
    if !flush_args_ok(&args) {
        return ctx.out.error(SYNTAX);
    }
    let dbi = ctx.client.db;
    ctx.propagate_as_received(&args);
    flush(ctx, Some(dbi))
}

/// FLUSHALL [ASYNC|SYNC]: removes every key of every database; OK.
fn flushall(ctx: &mut Ctx, args: Args) {
    if !flush_args_ok(&args) {
        return ctx.out.error(SYNTAX);
    }
    ctx.propagate_as_received(&args);
    flush(ctx, None)
}

/// SWAPDB index1 index2: exchanges two databases on every shard; OK.
fn swapdb(ctx: &mut Ctx, args: Args) {
    let parse = |b: &[u8]| arg_i64(b).filter(|n| i32::try_from(*n).is_ok());
    let Some(a) = parse(args.get(1)) else {
        return ctx.out.err("invalid first DB index");
    };
    let Some(b) = parse(args.get(2)) else {
        return ctx.out.err("invalid second DB index");
    };
    let shards: Vec<usize> = ctx.shards.held().collect();
    let dbs = shards
        .first()
        .map(|&i| ctx.shards.shard(i).dbs.len())
        .unwrap_or(0);
    let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
        return ctx.out.error(DB_INDEX);
    };
    if a >= dbs || b >= dbs {
        return ctx.out.error(DB_INDEX);
    }
    for i in shards {
        let shard = ctx.shards.shard(i);
        // Watchers of a key present in either database see it change.
        for (x, y) in [(a, b), (b, a)] {
            let (dx, dy) = if x < y {
                let (lo, hi) = shard.dbs.split_at_mut(y);
                (&mut lo[x], &mut hi[0])
            } else if x > y {
                let (lo, hi) = shard.dbs.split_at_mut(x);
                (&mut hi[0], &mut lo[y])
            } else {
                break;
            };
            let (tx, ty) = (dx.table.records(), dy.table.records());
            dx.watched
                .signal_where(|k| tx.get(k).is_some() || ty.get(k).is_some());
        }
        // Only the data moves, as in Redis: watchers and blocked clients stay with their
        // database index, and the clients blocked on either side may now find their keys.
        if a != b {
            let (lo, hi) = shard.dbs.split_at_mut(a.max(b));
            std::mem::swap(&mut lo[a.min(b)].table, &mut hi[0].table);
        }
        for db in [a, b] {
            if shard.dbs[db].blocked.touch_all() {
                shard.blocked_ready = true;
            }
        }
        shard.dirty += 1;
    }
    ctx.out.ok()
}

/// EXPIRE key seconds [NX|XX|GT|LT]: 1 when the timeout was set (or the key deleted because the
/// time is past), 0 when the key is missing or a condition failed.
fn expire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, "expire", true, 1000)
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]: like EXPIRE, in milliseconds.
fn pexpire(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, "pexpire", true, 1)
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT]: like EXPIRE, with an absolute time.
fn expireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, "expireat", false, 1000)
}

/// PEXPIREAT key unix-ms [NX|XX|GT|LT]: like EXPIRE, with an absolute time in milliseconds.
fn pexpireat(ctx: &mut Ctx, args: Args) {
    expire_generic(ctx, args, "pexpireat", false, 1)
}

fn expire_generic(ctx: &mut Ctx, args: Args, name: &str, relative: bool, unit: i64) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in args.iter().skip(3) {
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "gt") {
            gt = true;
        } else if eq_ic(a, "lt") {
            lt = true;
        } else {
            let opt = String::from_utf8_lossy(a);
            return ctx.out.error(&format!("ERR Unsupported option {opt}"));
        }
    }
    if nx && (xx || gt || lt) {
        return ctx
            .out
            .err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx
            .out
            .err("GT and LT options at the same time are not compatible");
    }
    let Some(n) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    let Some(when) = n.checked_mul(unit).and_then(|ms| ms.checked_add(base)) else {
        return ctx
            .out
            .err(&format!("invalid expire time in '{name}' command"));
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Some(current) = db.lookup_write(key).map(|e| e.expire_at_ms) else {
        return ctx.out.int(0);
    };
    // A persistent key counts as an infinite TTL for GT and LT.
    let current = (current != 0).then_some(current as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return ctx.out.int(0);
    }
    let event = if when <= db.now_ms as i64 {
        db.remove(key);
        ctx.propagate(&[b"DEL", key]);
        "del"
    } else {
        db.set_expire(key, when as u64);
        // Propagated as PEXPIREAT with the absolute time (the options kept), as Redis does.
        let at = when.to_string();
        let mut cmd: Vec<&[u8]> = vec![b"PEXPIREAT", key, at.as_bytes()];
        cmd.extend(args.iter().skip(3));
        ctx.propagate(&cmd);
        "expire"
    };
    ctx.notify(GENERIC, event, key);
    ctx.out.int(1)
}

#[derive(Clone, Copy)]
enum TtlOut {
    Seconds,
    Millis,
    AbsSeconds,
    AbsMillis,
}

/// The remaining TTL or expiry time of a key; -2 when absent, -1 without expiry.
fn ttl_generic(ctx: &mut Ctx, args: Args, out: TtlOut) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let now = db.now_ms as i64;
    let v = match peek(&mut db, key, |e| e.expire_at_ms) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let at = i64::try_from(at).unwrap_or(i64::MAX);
            let ms = match out {
                TtlOut::Seconds | TtlOut::Millis => at.saturating_sub(now).max(0),
                TtlOut::AbsSeconds | TtlOut::AbsMillis => at,
            };
            match out {
                TtlOut::Millis | TtlOut::AbsMillis => ms,
                TtlOut::Seconds | TtlOut::AbsSeconds => ms.saturating_add(500) / 1000,
            }
        }
    };
    ctx.out.int(v)
}

/// TTL key: seconds to live (rounded), -2 when absent, -1 without expiry.
fn ttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, TtlOut::Seconds)
}

/// PTTL key: milliseconds to live, -2 when absent, -1 without expiry.
fn pttl(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, TtlOut::Millis)
}

/// EXPIRETIME key: the absolute expiry as Unix seconds, -2 when absent, -1 without expiry.
fn expiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, TtlOut::AbsSeconds)
}

/// PEXPIRETIME key: the absolute expiry as Unix milliseconds, -2 / -1 as for EXPIRETIME.
fn pexpiretime(ctx: &mut Ctx, args: Args) {
    ttl_generic(ctx, args, TtlOut::AbsMillis)
}

/// PERSIST key: 1 when an expiry was removed, 0 when the key is missing or has none.
fn persist(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let volatile = db.lookup_write(key).is_some_and(|e| e.expire_at_ms != 0);
    if volatile {
        db.set_expire(key, 0);
        ctx.notify(GENERIC, "persist", key);
    }
    ctx.out.int(volatile as i64)
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_SELECTED: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP: facts about a key's value (nil when
/// the key is absent), or the help lines.
fn object(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1);
    let Some(name) = ["encoding", "freq", "help", "idletime", "refcount"]
        .into_iter()
        .find(|n| eq_ic(sub, n))
    else {
        let text = format!(
            "unknown subcommand '{}'. Try OBJECT HELP.",
            printable(sub, 128)
        );
        return ctx.out.err(&text);
    };
    let arity = if name == "help" { 2 } else { 3 };
    if args.len() != arity {
        return ctx.wrong_args(&format!("object|{name}"));
    }
    if name == "help" {
        ctx.out.array(OBJECT_HELP.len());
        for line in OBJECT_HELP {
            ctx.out.simple(line.as_bytes());
        }
        return;
    }
    let key = args.get(2);
    let now_clock = lru_clock(ctx.now_ms);
    let Some((encoding, refcount, idle)) = peek(&mut ctx.shards.db(key), key, |e| {
        let refcount = match e.value {
            // Small non-negative integers are shared objects in Redis.
            Value::Int(i) if (0..10_000).contains(&i) => i32::MAX as i64,
            _ => 1,
        };
        let idle = now_clock.wrapping_sub(e.access_s) as i64;
        (e.value.encoding(), refcount, idle)
    }) else {
        return ctx.out.null();
    };
    match name {
        "encoding" => ctx.out.bulk(encoding.as_bytes()),
        "refcount" => ctx.out.int(refcount),
        _ => {
            let lfu = ctx
                .srv
                .config()
                .get_matching(b"maxmemory-policy")
                .iter()
                .any(|(_, v)| v.contains("lfu"));
            match (name, lfu) {
                ("freq", false) => ctx.out.error(LFU_NOT_SELECTED),
                // Access frequency is not tracked: report the floor of the counter.
                ("freq", true) => ctx.out.int(0),
                (_, true) => ctx.out.error(LFU_SELECTED),
                (_, false) => ctx.out.int(idle),
            }
        }
    }
}
