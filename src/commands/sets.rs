//! Set commands (Redis's t_set.c): SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN.
//!
//! A set is `store::set::Set`: an intset while all members are integers (up to
//! `set-max-intset-entries`), a segmented table otherwise. An emptied set is deleted. Commands
//! over several keys read each key on the shard that owns it; the server holds every one of
//! those shards for the whole command, so the result is one consistent cut.

use std::collections::HashSet;

use super::{
    arg_i64, eq_ic, flush_emptied, rand_args, rand_u64, random_picks, spec, write_collection, Ctx,
    ScanArgs, Spec, WrongType, DENYOOM, FAST, NOT_INTEGER, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::config::notify::SET;
use crate::resp::{Args, Reply};
use crate::server::view::ShardView;
use crate::store::set::Set;
use crate::store::Value;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd, "set", "Add one or more members to a set", "1.0.0"),
    spec("srem", -3, WRITE | FAST, (1, 1, 1), srem, "set", "Remove one or more members from a set", "1.0.0"),
    spec("smembers", 2, READONLY, (1, 1, 1), smembers, "set", "Get all the members in a set", "1.0.0"),
    spec("sismember", 3, READONLY | FAST, (1, 1, 1), sismember, "set", "Determine if a given value is a member of a set", "1.0.0"),
    spec("smismember", -3, READONLY | FAST, (1, 1, 1), smismember, "set", "Returns the membership associated with the given elements for a set", "6.2.0"),
    spec("scard", 2, READONLY | FAST, (1, 1, 1), scard, "set", "Get the number of members in a set", "1.0.0"),
    spec("spop", -2, WRITE | FAST, (1, 1, 1), spop, "set", "Remove and return one or multiple random members from a set", "1.0.0"),
    spec("srandmember", -2, READONLY, (1, 1, 1), srandmember, "set", "Get one or multiple random members from a set", "1.0.0"),
    spec("smove", 4, WRITE | FAST, (1, 2, 1), smove, "set", "Move a member from one set to another", "1.0.0"),
    spec("sinter", -2, READONLY, (1, -1, 1), sinter, "set", "Intersect multiple sets", "1.0.0"),
    // Keys are `numkeys` arguments from 2; routing over-approximates with every later argument.
    spec("sintercard", -3, READONLY, (2, -1, 1), sintercard, "set", "Intersect multiple sets and return the cardinality of the result", "7.0.0"),
    spec("sunion", -2, READONLY, (1, -1, 1), sunion, "set", "Add multiple sets", "1.0.0"),
    spec("sdiff", -2, READONLY, (1, -1, 1), sdiff, "set", "Subtract multiple sets", "1.0.0"),
    spec("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore, "set", "Intersect multiple sets and store the resulting set in a key", "1.0.0"),
    spec("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore, "set", "Add multiple sets and store the resulting set in a key", "1.0.0"),
    spec("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore, "set", "Subtract multiple sets and store the resulting set in a key", "1.0.0"),
    spec("sscan", -3, READONLY, (1, 1, 1), sscan, "set", "Incrementally iterate Set elements", "2.0.0"),
];

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The set at `key`: `Ok(None)` when absent, `Err` (WRONGTYPE queued) for another type.
fn read<'a>(out: &mut Reply, shards: &'a mut ShardView, key: &[u8]) -> Result<Option<&'a Set>, ()> {
    match shards.db(key).into_read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => {
            out.error(WRONGTYPE);
            Err(())
        }
    }
}

/// `write_collection` for the set at `key`.
fn write<R>(
    out: &mut Reply,
    shards: &mut ShardView,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut Set) -> R,
) -> Result<Option<R>, WrongType> {
    write_collection(out, &mut shards.db(key), key, create, f)
}

/// SADD key member [member ...]: the number of members added.
fn sadd(ctx: &mut Ctx, args: Args) {
    let limits = ctx.limits.set;
    let r = write(&mut ctx.out, &mut ctx.shards, args.get(1), true, |s| {
        args.iter().skip(2).filter(|m| s.insert(m, &limits)).count()
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(SET, "sadd", args.get(1));
        }
        ctx.out.int(n as i64);
    }
}

/// SREM key member [member ...]: the number of members removed.
fn srem(ctx: &mut Ctx, args: Args) {
    let r = write(&mut ctx.out, &mut ctx.shards, args.get(1), false, |s| {
        args.iter().skip(2).filter(|m| s.remove(m)).count()
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(SET, "srem", args.get(1));
        }
        ctx.out.int(n as i64);
    }
}

fn reply_members(out: &mut Reply, members: &[Vec<u8>]) {
    out.set(members.len());
    for m in members {
        out.bulk(m);
    }
}

/// SMEMBERS key: every member (a set reply in RESP3).
fn smembers(ctx: &mut Ctx, args: Args) {
    if let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let members = s.map(|s| s.members()).unwrap_or_default();
        reply_members(&mut ctx.out, &members);
    }
}

/// SISMEMBER key member: 1 or 0.
fn sismember(ctx: &mut Ctx, args: Args) {
    if let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let found = s.is_some_and(|s| s.contains(args.get(2)));
        ctx.out.int(found as i64);
    }
}

/// SMISMEMBER key member [member ...]: 1 or 0 for each member.
fn smismember(ctx: &mut Ctx, args: Args) {
    if let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let found: Vec<bool> = args
            .iter()
            .skip(2)
            .map(|m| s.is_some_and(|s| s.contains(m)))
            .collect();
        ctx.out.array(found.len());
        for f in found {
            ctx.out.int(f as i64);
        }
    }
}

/// SCARD key: the number of members.
fn scard(ctx: &mut Ctx, args: Args) {
    if let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        ctx.out.int(s.map_or(0, |s| s.len()) as i64);
    }
}

/// SPOP key [count]: a random member removed (nil when absent); with a count, up to count.
fn spop(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            Some(_) => return ctx.out.error(MUST_BE_POSITIVE),
            None => return ctx.out.error(NOT_INTEGER),
        },
        _ => None,
    };
    let r = write(&mut ctx.out, &mut ctx.shards, args.get(1), false, |s| {
        let n = count.unwrap_or(1).min(s.len());
        let mut popped = Vec::with_capacity(n);
        for _ in 0..n {
            let Some(m) = s.random(rand_u64()) else { break };
            s.remove(&m);
            popped.push(m);
        }
        popped
    });
    if let Ok(Some(v)) = &r {
        if !v.is_empty() {
            ctx.notify(SET, "spop", args.get(1));
        }
        // The random choice propagates as SREM of what was chosen, in batches like Redis's.
        for batch in v.chunks(1024) {
            let mut cmd: Vec<&[u8]> = vec![b"SREM", args.get(1)];
            cmd.extend(batch.iter().map(|m| m.as_slice()));
            ctx.propagate(&cmd);
        }
    }
    match (r, count) {
        (Err(_), _) => {}
        (Ok(None), None) => ctx.out.null(),
        (Ok(Some(v)), None) => match v.first() {
            Some(m) => ctx.out.bulk(m),
            None => ctx.out.null(),
        },
        (Ok(v), Some(_)) => reply_members(&mut ctx.out, &v.unwrap_or_default()),
    }
}

/// SRANDMEMBER key [count]: a random member (nil when absent); with a positive count up to count
/// distinct members, with a negative one |count| members that may repeat.
fn srandmember(ctx: &mut Ctx, args: Args) {
    let count = match rand_args(&args, None) {
        Ok((c, _)) => c,
        Err(e) => return ctx.out.error(e),
    };
    let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) else {
        return;
    };
    let Some(count) = count else {
        return match s.and_then(|s| s.random(rand_u64())) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        };
    };
    let Some(s) = s else {
        return ctx.out.array(0);
    };
    let picks: Vec<Vec<u8>> = random_picks(|| s.members(), count, || s.random(rand_u64()));
    ctx.out.array(picks.len());
    for m in &picks {
        ctx.out.bulk(m);
    }
}

/// SMOVE source destination member: 1 when moved, 0 when the member was not in source.
fn smove(ctx: &mut Ctx, args: Args) {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let limits = ctx.limits.set;
    let Ok(s) = read(&mut ctx.out, &mut ctx.shards, src) else {
        return;
    };
    let in_src = s.is_some_and(|s| s.contains(member));
    if read(&mut ctx.out, &mut ctx.shards, dst).is_err() {
        return;
    }
    if !in_src {
        return ctx.out.int(0);
    }
    if src == dst {
        return ctx.out.int(1);
    }
    let _ = write(&mut ctx.out, &mut ctx.shards, src, false, |s| {
        s.remove(member)
    });
    ctx.notify(SET, "srem", src);
    flush_emptied(ctx, src);
    let added = write(&mut ctx.out, &mut ctx.shards, dst, true, |s| {
        s.insert(member, &limits)
    });
    if let Ok(Some(true)) = added {
        ctx.notify(SET, "sadd", dst);
    }
    ctx.out.int(1);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of `op` over `keys` (absent keys are empty sets); `Err` when one holds another
/// type (WRONGTYPE queued).
fn combine(ctx: &mut Ctx, keys: &[&[u8]], op: Op) -> Result<Vec<Vec<u8>>, ()> {
    let mut sets: Vec<Option<Vec<Vec<u8>>>> = Vec::with_capacity(keys.len());
    for key in keys {
        let s = read(&mut ctx.out, &mut ctx.shards, key)?;
        sets.push(s.map(|s| s.members()));
    }
    let mut result: Vec<Vec<u8>> = Vec::new();
    match op {
        Op::Union => {
            let mut seen = HashSet::new();
            for m in sets.into_iter().flatten().flatten() {
                if seen.insert(m.clone()) {
                    result.push(m);
                }
            }
        }
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return Ok(Vec::new());
            }
            let all: Vec<HashSet<Vec<u8>>> = sets
                .into_iter()
                .map(|s| s.unwrap_or_default().into_iter().collect())
                .collect();
            let Some((first, rest)) = all.split_first() else {
                return Ok(Vec::new());
            };
            result = first
                .iter()
                .filter(|m| rest.iter().all(|s| s.contains(*m)))
                .cloned()
                .collect();
        }
        Op::Diff => {
            let mut it = sets.into_iter();
            let first = it.next().flatten().unwrap_or_default();
            let others: Vec<HashSet<Vec<u8>>> = it
                .map(|s| s.unwrap_or_default().into_iter().collect())
                .collect();
            result = first
                .into_iter()
                .filter(|m| !others.iter().any(|s| s.contains(m)))
                .collect();
        }
    }
    Ok(result)
}

fn set_op(ctx: &mut Ctx, args: Args, op: Op) {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    if let Ok(members) = combine(ctx, &keys, op) {
        reply_members(&mut ctx.out, &members);
    }
}

/// SINTER key [key ...]: the members present in every set.
fn sinter(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Inter);
}

/// SUNION key [key ...]: the members of any of the sets.
fn sunion(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Union);
}

/// SDIFF key [key ...]: the members of the first set that are in none of the others.
fn sdiff(ctx: &mut Ctx, args: Args) {
    set_op(ctx, args, Op::Diff);
}

fn store_op(ctx: &mut Ctx, args: Args, op: Op) {
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    let keys: Vec<&[u8]> = args.iter().skip(2).collect();
    let Ok(members) = combine(ctx, &keys, op) else {
        return;
    };
    let dst = args.get(1);
    let limits = ctx.limits.set;
    let mut db = ctx.shards.db(dst);
    let existed = db.remove(dst).is_some();
    if !members.is_empty() {
        let s = Set::from_members(members.iter().map(|m| &m[..]), &limits);
        db.set(dst, Value::Set(s), 0);
        ctx.notify(SET, event, dst);
    } else {
        db.touched(dst);
        if existed {
            ctx.notify(crate::config::notify::GENERIC, "del", dst);
        }
    }
    ctx.out.int(members.len() as i64);
}

/// SINTERSTORE destination key [key ...]: stores the intersection; its size.
fn sinterstore(ctx: &mut Ctx, args: Args) {
    store_op(ctx, args, Op::Inter);
}

/// SUNIONSTORE destination key [key ...]: stores the union; its size.
fn sunionstore(ctx: &mut Ctx, args: Args) {
    store_op(ctx, args, Op::Union);
}

/// SDIFFSTORE destination key [key ...]: stores the difference; its size.
fn sdiffstore(ctx: &mut Ctx, args: Args) {
    store_op(ctx, args, Op::Diff);
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the intersection (stopping at
/// limit when it is not 0).
fn sintercard(ctx: &mut Ctx, args: Args) {
    let numkeys = match arg_i64(args.get(1)) {
        Some(n) if n > 0 => n as usize,
        Some(_) => return ctx.out.error("ERR numkeys should be greater than 0"),
        None => return ctx.out.error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return ctx
            .out
            .error("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let rest = 2 + numkeys;
    if args.len() > rest {
        if args.len() != rest + 2 || !eq_ic(args.get(rest), "limit") {
            return ctx.out.error(SYNTAX);
        }
        match arg_i64(args.get(rest + 1)) {
            Some(n) if n >= 0 => limit = n as usize,
            Some(_) => return ctx.out.error("ERR LIMIT can't be negative"),
            None => return ctx.out.error(NOT_INTEGER),
        }
    }
    let keys: Vec<&[u8]> = (0..numkeys).map(|i| args.get(2 + i)).collect();
    if let Ok(members) = combine(ctx, &keys, Op::Inter) {
        let n = if limit == 0 {
            members.len()
        } else {
            members.len().min(limit)
        };
        ctx.out.int(n as i64);
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a batch of members.
fn sscan(ctx: &mut Ctx, args: Args) {
    let scan = match ScanArgs::parse(&args, 2, false) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let Ok(s) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) else {
        return;
    };
    let (next, found): (u64, Vec<Vec<u8>>) = match s {
        Some(s) => scan.collect(|c, found| {
            s.scan(c, |m| {
                if scan.matches(m) {
                    found.push(m.to_vec());
                }
            })
        }),
        None => (0, Vec::new()),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
}
