//! Hash commands (Redis's t_hash.c): HSET HSETNX HMSET HGET HMGET HGETALL HDEL HEXISTS HLEN
//! HKEYS HVALS HINCRBY HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.
//!
//! A hash is `store::hash::Hash`, packed while small (`listpack`), a segmented table past
//! `hash-max-listpack-entries`/`-value` (`hashtable`). A hash left with no fields is deleted.

use super::longdouble;
use super::{
    arg_i64, rand_args, rand_u64, random_picks, spec, write_collection, Ctx, ScanArgs, Spec,
    WrongType, DENYOOM, FAST, NOT_FLOAT, NOT_INTEGER, OVERFLOW, READONLY, WRITE, WRONGTYPE,
};
use crate::config::notify::HASH;
use crate::resp::{Args, Reply};
use crate::store::db::DbRef;
use crate::store::hash::{Hash, HashLimits};
use crate::store::Value;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hset, "hash", "Set the string value of a hash field", "2.0.0"),
    spec("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), hmset, "hash", "Set multiple hash fields to multiple values", "2.0.0"),
    spec("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hsetnx, "hash", "Set the value of a hash field, only if the field does not exist", "2.0.0"),
    spec("hget", 3, READONLY | FAST, (1, 1, 1), hget, "hash", "Get the value of a hash field", "2.0.0"),
    spec("hmget", -3, READONLY | FAST, (1, 1, 1), hmget, "hash", "Get the values of all the given hash fields", "2.0.0"),
    spec("hgetall", 2, READONLY, (1, 1, 1), hgetall, "hash", "Get all the fields and values in a hash", "2.0.0"),
    spec("hkeys", 2, READONLY, (1, 1, 1), hkeys, "hash", "Get all the fields in a hash", "2.0.0"),
    spec("hvals", 2, READONLY, (1, 1, 1), hvals, "hash", "Get all the values in a hash", "2.0.0"),
    spec("hdel", -3, WRITE | FAST, (1, 1, 1), hdel, "hash", "Delete one or more hash fields", "2.0.0"),
    spec("hexists", 3, READONLY | FAST, (1, 1, 1), hexists, "hash", "Determine if a hash field exists", "2.0.0"),
    spec("hlen", 2, READONLY | FAST, (1, 1, 1), hlen, "hash", "Get the number of fields in a hash", "2.0.0"),
    spec("hstrlen", 3, READONLY | FAST, (1, 1, 1), hstrlen, "hash", "Get the length of the value of a hash field", "3.2.0"),
    spec("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrby, "hash", "Increment the integer value of a hash field by the given number", "2.0.0"),
    spec("hincrbyfloat", 4, WRITE | DENYOOM | FAST, (1, 1, 1), hincrbyfloat, "hash", "Increment the float value of a hash field by the given amount", "2.6.0"),
    spec("hrandfield", -2, READONLY, (1, 1, 1), hrandfield, "hash", "Get one or multiple random fields from a hash", "6.2.0"),
    spec("hscan", -3, READONLY, (1, 1, 1), hscan, "hash", "Incrementally iterate hash fields and associated values", "2.8.0"),
];

/// The hash at `key` for reading: `Ok(None)` when absent, `Err` (WRONGTYPE queued) when the key
/// holds another type.
fn read<'a>(out: &mut Reply, db: &'a mut DbRef, key: &[u8]) -> Result<Option<&'a Hash>, ()> {
    match db.lookup_read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => {
                out.error(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// `write_collection` for the hash at `key`, with the hash thresholds at hand.
fn write<R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Hash, &HashLimits) -> R,
) -> Result<Option<R>, WrongType> {
    let limits = ctx.limits.hash;
    write_collection(&mut ctx.out, &mut ctx.shards.db(key), key, create, |h| {
        f(h, &limits)
    })
}

/// HSET key field value [field value ...]: the number of fields that were new.
fn hset(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.wrong_args("hset");
    }
    if let Ok(Some(added)) = write(ctx, args.get(1), true, |h, l| set_pairs(h, &args, l)) {
        ctx.notify(HASH, "hset", args.get(1));
        ctx.out.int(added as i64);
    }
}

/// HMSET key field value [field value ...]: OK (the old form of HSET).
fn hmset(ctx: &mut Ctx, args: Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.wrong_args("hmset");
    }
    if let Ok(Some(_)) = write(ctx, args.get(1), true, |h, l| set_pairs(h, &args, l)) {
        ctx.notify(HASH, "hset", args.get(1));
        ctx.out.ok();
    }
}

fn set_pairs(h: &mut Hash, args: &Args, limits: &HashLimits) -> usize {
    let mut added = 0;
    let mut i = 2;
    while i + 1 < args.len() {
        added += h.set(args.get(i), args.get(i + 1), limits) as usize;
        i += 2;
    }
    added
}

/// HSETNX key field value: 1 when the field was set, 0 when it already existed.
fn hsetnx(ctx: &mut Ctx, args: Args) {
    let (field, value) = (args.get(2), args.get(3));
    let r = write(ctx, args.get(1), true, |h, l| {
        if h.contains(field) {
            false
        } else {
            h.set(field, value, l)
        }
    });
    if let Ok(Some(set)) = r {
        if set {
            ctx.notify(HASH, "hset", args.get(1));
        }
        ctx.out.int(set as i64);
    }
}

/// HGET key field: the value, or nil.
fn hget(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    match db.lookup_read(key) {
        None => ctx.out.null(),
        Some(e) => match &e.value {
            Value::Hash(h) => match h.get(args.get(2)) {
                Some(v) => ctx.out.bulk(v),
                None => ctx.out.null(),
            },
            _ => ctx.out.error(WRONGTYPE),
        },
    }
}

/// HMGET key field [field ...]: an array of values, nil for missing fields.
fn hmget(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(h) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    ctx.out.array(args.len() - 2);
    for f in args.iter().skip(2) {
        match h.and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

/// HGETALL key: fields and values (a map in RESP3, a flat array in RESP2).
fn hgetall(ctx: &mut Ctx, args: Args) {
    reply_all(ctx, args, true, true);
}

/// HKEYS key: every field.
fn hkeys(ctx: &mut Ctx, args: Args) {
    reply_all(ctx, args, true, false);
}

/// HVALS key: every value.
fn hvals(ctx: &mut Ctx, args: Args) {
    reply_all(ctx, args, false, true);
}

fn reply_all(ctx: &mut Ctx, args: Args, fields: bool, values: bool) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(h) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    let n = h.map_or(0, |h| h.len());
    if fields && values {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if fields {
                ctx.out.bulk(f);
            }
            if values {
                ctx.out.bulk(v);
            }
        }
    }
}

/// HDEL key field [field ...]: the number of fields removed.
fn hdel(ctx: &mut Ctx, args: Args) {
    let removed = write(ctx, args.get(1), false, |h, _| {
        args.iter().skip(2).filter(|f| h.remove(f)).count()
    });
    if let Ok(n) = removed {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(HASH, "hdel", args.get(1));
        }
        ctx.out.int(n as i64);
    }
}

/// HEXISTS key field: 1 or 0.
fn hexists(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    if let Ok(h) = read(&mut ctx.out, &mut db, key) {
        let found = h.is_some_and(|h| h.contains(args.get(2)));
        ctx.out.int(found as i64);
    }
}

/// HLEN key: the number of fields.
fn hlen(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    if let Ok(h) = read(&mut ctx.out, &mut db, key) {
        let n = h.map_or(0, |h| h.len());
        ctx.out.int(n as i64);
    }
}

/// HSTRLEN key field: the length of the field's value, 0 when absent.
fn hstrlen(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    if let Ok(h) = read(&mut ctx.out, &mut db, key) {
        let n = h.and_then(|h| h.get(args.get(2))).map_or(0, |v| v.len());
        ctx.out.int(n as i64);
    }
}

/// HINCRBY key field increment: the new value.
fn hincrby(ctx: &mut Ctx, args: Args) {
    let Some(incr) = arg_i64(args.get(3)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let field = args.get(2);
    let r = write(ctx, args.get(1), true, |h, l| {
        let current = match h.get(field) {
            None => 0,
            Some(v) => match arg_i64(v) {
                Some(i) => i,
                None => return Err("ERR hash value is not an integer"),
            },
        };
        let next = current.checked_add(incr).ok_or(OVERFLOW)?;
        let mut tmp = [0u8; 24];
        h.set(field, crate::resp::reply::fmt_i64(&mut tmp, next), l);
        Ok(next)
    });
    match r {
        Ok(Some(Ok(v))) => {
            ctx.notify(HASH, "hincrby", args.get(1));
            ctx.out.int(v)
        }
        Ok(Some(Err(e))) => ctx.out.error(e),
        _ => {}
    }
}

/// HINCRBYFLOAT key field increment: the new value as a bulk string.
fn hincrbyfloat(ctx: &mut Ctx, args: Args) {
    let Some(incr) = longdouble::parse(args.get(3)) else {
        return ctx.out.error(NOT_FLOAT);
    };
    let field = args.get(2);
    let r = write(ctx, args.get(1), true, |h, l| {
        let current = match h.get(field) {
            None => longdouble::Ld::ZERO,
            Some(v) => longdouble::parse(v).ok_or("ERR hash value is not a float")?,
        };
        let sum = current
            .checked_add(incr)
            .ok_or("ERR increment would produce NaN or Infinity")?;
        let text = longdouble::format(sum);
        h.set(field, text.as_bytes(), l);
        Ok(text)
    });
    match r {
        Ok(Some(Ok(text))) => {
            ctx.notify(HASH, "hincrbyfloat", args.get(1));
            // The result, not the increment, as Redis propagates it.
            ctx.propagate(&[b"HSET", args.get(1), args.get(2), text.as_bytes()]);
            ctx.out.bulk(text.as_bytes())
        }
        Ok(Some(Err(e))) => ctx.out.error(e),
        _ => {}
    }
}

/// HRANDFIELD key [count [WITHVALUES]]: one random field (nil when absent); with a count, up to
/// count distinct fields, or, when negative, |count| fields that may repeat.
fn hrandfield(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let (count, with_values) = match rand_args(&args, Some("withvalues")) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    let resp3 = ctx.client.resp3;
    let mut db = ctx.shards.db(key);
    let Ok(h) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    let Some(count) = count else {
        return match h.and_then(|h| h.random(rand_u64())) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        };
    };
    let Some(h) = h else {
        return ctx.out.array(0);
    };
    let picks: Vec<(&[u8], &[u8])> =
        random_picks(|| h.iter().collect(), count, || h.random(rand_u64()));
    if with_values && resp3 {
        ctx.out.array(picks.len());
        for (f, v) in picks {
            ctx.out.array(2);
            ctx.out.bulk(f);
            ctx.out.bulk(v);
        }
    } else {
        ctx.out.array(picks.len() * if with_values { 2 } else { 1 });
        for (f, v) in picks {
            ctx.out.bulk(f);
            if with_values {
                ctx.out.bulk(v);
            }
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a flat array of fields
/// and values.
fn hscan(ctx: &mut Ctx, args: Args) {
    let scan = match ScanArgs::parse(&args, 2, false) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(h) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    let (next, found) = match h {
        Some(h) => scan.collect(|c, found| {
            h.scan(c, |f, v| {
                if scan.matches(f) {
                    found.push((f, v));
                }
            })
        }),
        None => (0, Vec::new()),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len() * 2);
    for (f, v) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
}
