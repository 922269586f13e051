//! List commands (Redis's t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET
//! LREM LTRIM LINSERT LPOS LMOVE RPOPLPUSH LMPOP, and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH
//! BLMPOP (see `store/blocking.rs` and `server/blocked.rs` for how blocked clients are served).
//!
//! A list is `store::list::List`, a quicklist of packed nodes. A list left empty is deleted.

use super::{
    arg_i64, block_on, eq_ic, parse_timeout, spec, write_collection, Ctx, MpopArgs, Spec,
    WrongType, BLOCKING, DENYOOM, FAST, NOSCRIPT, NOT_INTEGER, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::config::notify::LIST;
use crate::resp::{Args, Reply};
use crate::store::blocking::BlockOp;
use crate::store::db::DbRef;
use crate::store::list::{End, List};
use crate::store::Value;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush, "list", "Prepend one or multiple elements to a list", "1.0.0"),
    spec("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush, "list", "Append one or multiple elements to a list", "1.0.0"),
    spec("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx, "list", "Prepend an element to a list, only if the list exists", "2.2.0"),
    spec("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx, "list", "Append an element to a list, only if the list exists", "2.2.0"),
    spec("lpop", -2, WRITE | FAST, (1, 1, 1), lpop, "list", "Remove and get the first elements in a list", "1.0.0"),
    spec("rpop", -2, WRITE | FAST, (1, 1, 1), rpop, "list", "Remove and get the last elements in a list", "1.0.0"),
    spec("llen", 2, READONLY | FAST, (1, 1, 1), llen, "list", "Get the length of a list", "1.0.0"),
    spec("lrange", 4, READONLY, (1, 1, 1), lrange, "list", "Get a range of elements from a list", "1.0.0"),
    spec("lindex", 3, READONLY, (1, 1, 1), lindex, "list", "Get an element from a list by its index", "1.0.0"),
    spec("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset, "list", "Set the value of an element in a list by its index", "1.0.0"),
    spec("lrem", 4, WRITE, (1, 1, 1), lrem, "list", "Remove elements from a list", "1.0.0"),
    spec("ltrim", 4, WRITE, (1, 1, 1), ltrim, "list", "Trim a list to the specified range", "1.0.0"),
    spec("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert, "list", "Insert an element before or after another element in a list", "2.2.0"),
    spec("lpos", -3, READONLY, (1, 1, 1), lpos, "list", "Return the index of matching elements on a list", "6.0.6"),
    spec("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove, "list", "Pop an element from a list, push it to another list and return it", "6.2.0"),
    spec("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush, "list", "Remove the last element in a list, prepend it to another list and return it", "1.2.0"),
    // Keys are `numkeys` arguments from 2; routing over-approximates with every later argument.
    spec("lmpop", -4, WRITE, (2, -1, 1), lmpop, "list", "Pop elements from a list", "7.0.0"),
    spec("blpop", -3, WRITE | BLOCKING | NOSCRIPT, (1, -2, 1), blpop, "list", "Remove and get the first element in a list, or block until one is available", "2.0.0"),
    spec("brpop", -3, WRITE | BLOCKING | NOSCRIPT, (1, -2, 1), brpop, "list", "Remove and get the last element in a list, or block until one is available", "2.0.0"),
    spec("blmove", 6, WRITE | DENYOOM | BLOCKING | NOSCRIPT, (1, 2, 1), blmove, "list", "Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0"),
    spec("brpoplpush", 4, WRITE | DENYOOM | BLOCKING | NOSCRIPT, (1, 2, 1), brpoplpush, "list", "Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0"),
    spec("blmpop", -5, WRITE | BLOCKING, (3, -1, 1), blmpop, "list", "Pop elements from a list, or block until one is available", "7.0.0"),
];

const NO_SUCH_KEY: &str = "ERR no such key";
const OUT_OF_RANGE: &str = "ERR index out of range";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The list at `key`: `Ok(None)` when absent, `Err` (WRONGTYPE queued) for another type.
fn read<'a>(out: &mut Reply, db: &'a mut DbRef, key: &[u8]) -> Result<Option<&'a List>, ()> {
    match db.lookup_read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => {
                out.error(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// Whether `key` is absent or a list (for the destination of LMOVE, checked before popping).
fn is_list_or_absent(db: &mut DbRef, key: &[u8]) -> bool {
    db.lookup_write(key)
        .is_none_or(|e| matches!(e.value, Value::List(_)))
}

/// `write_collection` for the list at `key`.
fn write<R>(
    out: &mut Reply,
    db: &mut DbRef,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut List) -> R,
) -> Result<Option<R>, WrongType> {
    write_collection(out, db, key, create, f)
}

fn push(ctx: &mut Ctx, args: Args, end: End, create: bool) {
    let limits = ctx.limits.list;
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let r = write(&mut ctx.out, &mut db, key, create, |l| {
        for v in args.iter().skip(2) {
            l.push(end, v, &limits);
        }
        l.len()
    });
    if let Ok(n) = r {
        if n.is_some() {
            let event = if end == End::Left { "lpush" } else { "rpush" };
            ctx.notify(LIST, event, key);
        }
        ctx.out.int(n.unwrap_or(0) as i64);
    }
}

/// LPUSH key element [element ...]: the length after pushing each element to the head.
fn lpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Left, true);
}

/// RPUSH key element [element ...]: the length after appending.
fn rpush(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Right, true);
}

/// LPUSHX key element [element ...]: like LPUSH, only when the list exists (else 0).
fn lpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Left, false);
}

/// RPUSHX key element [element ...]: like RPUSH, only when the list exists (else 0).
fn rpushx(ctx: &mut Ctx, args: Args) {
    push(ctx, args, End::Right, false);
}

fn pop(ctx: &mut Ctx, args: Args, end: End) {
    if args.len() > 3 {
        return ctx.wrong_args(if end == End::Left { "lpop" } else { "rpop" });
    }
    let count = if args.len() == 3 {
        match arg_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            Some(_) => return ctx.out.error(MUST_BE_POSITIVE),
            None => return ctx.out.error(NOT_INTEGER),
        }
    } else {
        None
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let popped = write(&mut ctx.out, &mut db, key, false, |l| {
        let n = count.unwrap_or(1).min(l.len());
        (0..n).filter_map(|_| l.pop(end)).collect::<Vec<_>>()
    });
    if let Ok(Some(v)) = &popped {
        if !v.is_empty() {
            let event = if end == End::Left { "lpop" } else { "rpop" };
            ctx.notify(LIST, event, key);
        }
    }
    match (popped, count) {
        (Err(_), _) => {}
        (Ok(None), None) => ctx.out.null(),
        (Ok(None), Some(_)) => ctx.out.null_array(),
        (Ok(Some(v)), None) => match v.first() {
            Some(e) => ctx.out.bulk(e),
            None => ctx.out.null(),
        },
        (Ok(Some(v)), Some(_)) => {
            ctx.out.array(v.len());
            for e in &v {
                ctx.out.bulk(e);
            }
        }
    }
}

/// LPOP key [count]: the first element (nil when absent); with a count, up to count elements.
fn lpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, End::Left);
}

/// RPOP key [count]: the last element; with a count, up to count from the tail.
fn rpop(ctx: &mut Ctx, args: Args) {
    pop(ctx, args, End::Right);
}

/// LLEN key: the length, 0 when absent.
fn llen(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    if let Ok(l) = read(&mut ctx.out, &mut db, key) {
        ctx.out.int(l.map_or(0, |l| l.len()) as i64);
    }
}

/// Redis's range normalisation: negative indexes count from the end; `None` when empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut stop = if stop < 0 { stop + len } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// LRANGE key start stop: the elements in the inclusive range.
fn lrange(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(stop)) = (arg_i64(args.get(2)), arg_i64(args.get(3))) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(l) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    let Some((s, e)) = l.and_then(|l| clamp_range(start, stop, l.len())) else {
        return ctx.out.array(0);
    };
    let items = l.map(|l| l.range(s, e)).unwrap_or_default();
    ctx.out.array(items.len());
    for v in items {
        ctx.out.bulk(v);
    }
}

/// An index as Redis reads it (negative from the end) made absolute, if in range.
fn absolute(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LINDEX key index: the element, nil when out of range or absent.
fn lindex(ctx: &mut Ctx, args: Args) {
    let Some(i) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(l) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    match l.and_then(|l| absolute(i, l.len()).and_then(|i| l.get(i))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
}

/// LSET key index element: OK; errors when the key is absent or the index out of range.
fn lset(ctx: &mut Ctx, args: Args) {
    let Some(i) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let limits = ctx.limits.list;
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let r = write(&mut ctx.out, &mut db, key, false, |l| {
        absolute(i, l.len()).is_some_and(|i| l.set(i, args.get(3), &limits))
    });
    match r {
        Ok(None) => ctx.out.error(NO_SUCH_KEY),
        Ok(Some(false)) => ctx.out.error(OUT_OF_RANGE),
        Ok(Some(true)) => {
            ctx.notify(LIST, "lset", args.get(1));
            ctx.out.ok()
        }
        Err(_) => {}
    }
}

/// LREM key count element: the number removed (count > 0 from the head, < 0 from the tail,
/// 0 all).
fn lrem(ctx: &mut Ctx, args: Args) {
    let Some(count) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let limits = ctx.limits.list;
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let r = write(&mut ctx.out, &mut db, key, false, |l| {
        l.remove(args.get(3), count, &limits)
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(LIST, "lrem", key);
        }
        ctx.out.int(n as i64);
    }
}

/// LTRIM key start stop: OK; keeps only the range (an empty range deletes the key).
fn ltrim(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(stop)) = (arg_i64(args.get(2)), arg_i64(args.get(3))) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let r = write(&mut ctx.out, &mut db, key, false, |l| {
        match clamp_range(start, stop, l.len()) {
            Some((s, e)) => l.trim(s, e),
            None => l.trim(1, 0),
        }
    });
    if let Ok(done) = r {
        if done.is_some() {
            ctx.notify(LIST, "ltrim", key);
        }
        ctx.out.ok();
    }
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 when the pivot is missing, 0 when
/// the key is absent.
fn linsert(ctx: &mut Ctx, args: Args) {
    let after = if eq_ic(args.get(2), "after") {
        true
    } else if eq_ic(args.get(2), "before") {
        false
    } else {
        return ctx.out.error(SYNTAX);
    };
    let limits = ctx.limits.list;
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let r = write(&mut ctx.out, &mut db, key, false, |l| {
        if l.insert(args.get(3), args.get(4), after, &limits) {
            l.len() as i64
        } else {
            -1
        }
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(LIST, "linsert", key);
        }
        ctx.out.int(n);
    }
}

/// LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: the index of the rank-th match (nil
/// when none); with COUNT, an array of up to num indexes (0: all).
fn lpos(ctx: &mut Ctx, args: Args) {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return ctx.out.error(SYNTAX);
        }
        let Some(v) = arg_i64(args.get(i + 1)) else {
            return ctx.out.error(NOT_INTEGER);
        };
        let a = args.get(i);
        if eq_ic(a, "rank") {
            if v == 0 {
                return ctx.out.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            if v == i64::MIN {
                return ctx.out.error("ERR value is out of range");
            }
            rank = v;
        } else if eq_ic(a, "count") {
            if v < 0 {
                return ctx.out.error("ERR COUNT can't be negative");
            }
            count = Some(v as usize);
        } else if eq_ic(a, "maxlen") {
            if v < 0 {
                return ctx.out.error("ERR MAXLEN can't be negative");
            }
            maxlen = v as usize;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 2;
    }
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Ok(l) = read(&mut ctx.out, &mut db, key) else {
        return;
    };
    let elem = args.get(2);
    let want = count.map_or(1, |c| if c == 0 { usize::MAX } else { c });
    let mut found = Vec::new();
    if let Some(l) = l {
        let n = l.len();
        let scan = if maxlen == 0 { n } else { maxlen.min(n) };
        let mut skip = rank.unsigned_abs() as usize - 1;
        let mut check = |idx: usize, e: &[u8], found: &mut Vec<usize>| {
            if e == elem {
                if skip > 0 {
                    skip -= 1;
                } else {
                    found.push(idx);
                }
            }
            found.len() < want
        };
        if rank > 0 {
            for (idx, e) in l.iter().enumerate().take(scan) {
                if !check(idx, e, &mut found) {
                    break;
                }
            }
        } else {
            let all: Vec<&[u8]> = l.iter().collect();
            for idx in (n - scan..n).rev() {
                if !check(idx, all[idx], &mut found) {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&idx) => ctx.out.int(idx as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for idx in found {
                ctx.out.int(idx as i64);
            }
        }
    }
}

fn parse_end(b: &[u8]) -> Option<End> {
    if eq_ic(b, "left") {
        Some(End::Left)
    } else if eq_ic(b, "right") {
        Some(End::Right)
    } else {
        None
    }
}

/// Pops from `src` at `from` and pushes to `dst` at `to`: the element, nil when `src` is absent.
/// Returns false, with nothing replied, when the source is empty.
fn move_one(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> bool {
    let limits = ctx.limits.list;
    {
        let mut db = ctx.shards.db(src);
        match read(&mut ctx.out, &mut db, src) {
            Err(_) => return true,
            Ok(None) => return false,
            Ok(Some(_)) => {}
        }
    }
    if !is_list_or_absent(&mut ctx.shards.db(dst), dst) {
        ctx.out.error(WRONGTYPE);
        return true;
    }
    let mut db = ctx.shards.db(src);
    let Ok(Some(Some(v))) = write(&mut ctx.out, &mut db, src, false, |l| l.pop(from)) else {
        return false;
    };
    let mut db = ctx.shards.db(dst);
    let _ = write(&mut ctx.out, &mut db, dst, true, |l| {
        l.push(to, &v, &limits)
    });
    // BLMOVE and BRPOPLPUSH propagate as the move they made.
    let side = |e: End| -> &'static [u8] {
        if e == End::Left {
            b"LEFT"
        } else {
            b"RIGHT"
        }
    };
    ctx.propagate(&[b"LMOVE", src, dst, side(from), side(to)]);
    // Redis's order: the push on the destination, then the pop on the source.
    ctx.notify(LIST, if to == End::Left { "lpush" } else { "rpush" }, dst);
    ctx.notify(LIST, if from == End::Left { "lpop" } else { "rpop" }, src);
    ctx.out.bulk(&v);
    true
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT: the moved element, nil when source is empty.
fn lmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.out.error(SYNTAX);
    };
    if !move_one(ctx, args.get(1), args.get(2), from, to) {
        ctx.out.null();
    }
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
fn rpoplpush(ctx: &mut Ctx, args: Args) {
    if !move_one(ctx, args.get(1), args.get(2), End::Right, End::Left) {
        ctx.out.null();
    }
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: `[key, [elements]]` from the first
/// non-empty list, nil when all are empty.
fn lmpop(ctx: &mut Ctx, args: Args) {
    mpop(ctx, args, 1, None);
}

/// LMPOP from `at` (numkeys), blocking until `deadline_ms` when `block` is given.
fn mpop(ctx: &mut Ctx, args: Args, at: usize, block: Option<u64>) {
    let MpopArgs {
        numkeys,
        first,
        count,
    } = match MpopArgs::parse(&args, at, ("left", "right")) {
        Ok(m) => m,
        Err(e) => return ctx.out.error(e),
    };
    let end = if first { End::Left } else { End::Right };
    for k in 0..numkeys {
        let key = args.get(at + 1 + k);
        let mut db = ctx.shards.db(key);
        match write(&mut ctx.out, &mut db, key, false, |l| {
            let n = count.min(l.len());
            (0..n).filter_map(|_| l.pop(end)).collect::<Vec<_>>()
        }) {
            Err(_) => return,
            Ok(None) => continue,
            Ok(Some(v)) => {
                ctx.notify(LIST, if end == End::Left { "lpop" } else { "rpop" }, key);
                // LMPOP and BLMPOP propagate as the pop with the count they served.
                let n = v.len().to_string();
                ctx.propagate(&[pop_name(end), key, n.as_bytes()]);
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.array(v.len());
                for e in &v {
                    ctx.out.bulk(e);
                }
                return;
            }
        }
    }
    match block {
        Some(deadline_ms) => {
            let keys: Vec<&[u8]> = (0..numkeys).map(|k| args.get(at + 1 + k)).collect();
            let op = BlockOp::ListPop {
                end,
                count: Some(count),
            };
            block_on(ctx, &keys, op, deadline_ms, true);
        }
        None => ctx.out.null_array(),
    }
}

/// LPOP or RPOP, the plain form blocking pops propagate as.
fn pop_name(end: End) -> &'static [u8] {
    if end == End::Left {
        b"LPOP"
    } else {
        b"RPOP"
    }
}

fn bpop(ctx: &mut Ctx, args: Args, end: End) {
    let deadline_ms = match parse_timeout(args.get(args.len() - 1), ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    for key in &keys {
        let mut db = ctx.shards.db(key);
        match write(&mut ctx.out, &mut db, key, false, |l| l.pop(end)) {
            Err(_) => return,
            Ok(Some(Some(v))) => {
                ctx.notify(LIST, if end == End::Left { "lpop" } else { "rpop" }, key);
                ctx.propagate(&[pop_name(end), key]);
                ctx.out.array(2);
                ctx.out.bulk(key);
                return ctx.out.bulk(&v);
            }
            _ => {}
        }
    }
    block_on(
        ctx,
        &keys,
        BlockOp::ListPop { end, count: None },
        deadline_ms,
        true,
    );
}

/// BLPOP key [key ...] timeout: `[key, element]` from the first non-empty list, blocking until
/// one has data (nil array on timeout).
fn blpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Left);
}

/// BRPOP key [key ...] timeout: like BLPOP from the tail.
fn brpop(ctx: &mut Ctx, args: Args) {
    bpop(ctx, args, End::Right);
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: LMPOP that blocks.
fn blmpop(ctx: &mut Ctx, args: Args) {
    match parse_timeout(args.get(1), ctx.now_ms) {
        Ok(d) => mpop(ctx, args, 2, Some(d)),
        Err(e) => ctx.out.error(e),
    }
}

fn bmove(ctx: &mut Ctx, args: Args, from: End, to: End, timeout: &[u8]) {
    let deadline_ms = match parse_timeout(timeout, ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    let (src, dst) = (args.get(1), args.get(2));
    if !move_one(ctx, src, dst, from, to) {
        // Woken when the source has data, the client runs its BLMOVE again.
        block_on(ctx, &[src], BlockOp::Retry, deadline_ms, false);
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout: LMOVE that blocks (nil on timeout).
fn blmove(ctx: &mut Ctx, args: Args) {
    let (Some(from), Some(to)) = (parse_end(args.get(3)), parse_end(args.get(4))) else {
        return ctx.out.error(SYNTAX);
    };
    bmove(ctx, args, from, to, args.get(5));
}

/// BRPOPLPUSH source destination timeout: BLMOVE source destination RIGHT LEFT timeout.
fn brpoplpush(ctx: &mut Ctx, args: Args) {
    bmove(ctx, args, End::Right, End::Left, args.get(3));
}
