//! Sorted-set commands (Redis's t_zset.c): ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT
//! ZLEXCOUNT ZRANK ZREVRANK ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES) ZRANGESTORE ZREVRANGE
//! ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZPOPMIN ZPOPMAX ZMPOP
//! ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE
//! ZDIFFSTORE ZRANDMEMBER ZSCAN, and the blocking BZPOPMIN BZPOPMAX BZMPOP.
//!
//! Every range command turns its arguments into a span of ranks in the (score, member) order
//! (`Span`), using the two primitives of `ZSet`: `count_before` for bounds and `range` for
//! entries. Scores are replied as Redis 7.0 prints them (`%.17g`).

use std::collections::HashMap;

use super::{
    arg_i64, block_on, eq_ic, parse_timeout, rand_args, rand_u64, random_picks, spec,
    write_collection, Collection, Ctx, MpopArgs, ScanArgs, Spec, WrongType, BLOCKING, DENYOOM,
    FAST, NOSCRIPT, NOT_FLOAT, NOT_INTEGER, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::config::notify::ZSET;
use crate::resp::{Args, Reply};
use crate::server::view::ShardView;
use crate::store::blocking::BlockOp;
use crate::store::zset::{ZSet, ZSetLimits};
use crate::store::Value;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd, "sorted-set", "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0"),
    spec("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby, "sorted-set", "Increment the score of a member in a sorted set", "1.2.0"),
    spec("zrem", -3, WRITE | FAST, (1, 1, 1), zrem, "sorted-set", "Remove one or more members from a sorted set", "1.2.0"),
    spec("zscore", 3, READONLY | FAST, (1, 1, 1), zscore, "sorted-set", "Get the score associated with the given member in a sorted set", "1.2.0"),
    spec("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore, "sorted-set", "Get the score associated with the given members in a sorted set", "6.2.0"),
    spec("zcard", 2, READONLY | FAST, (1, 1, 1), zcard, "sorted-set", "Get the number of members in a sorted set", "1.2.0"),
    spec("zcount", 4, READONLY | FAST, (1, 1, 1), zcount, "sorted-set", "Count the members in a sorted set with scores within the given values", "2.0.0"),
    spec("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount, "sorted-set", "Count the number of members in a sorted set between a given lexicographical range", "2.8.9"),
    spec("zrank", 3, READONLY | FAST, (1, 1, 1), zrank, "sorted-set", "Determine the index of a member in a sorted set", "2.0.0"),
    spec("zrevrank", 3, READONLY | FAST, (1, 1, 1), zrevrank, "sorted-set", "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0"),
    spec("zrange", -4, READONLY, (1, 1, 1), zrange, "sorted-set", "Return a range of members in a sorted set", "1.2.0"),
    spec("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore, "sorted-set", "Store a range of members from sorted set into another key", "6.2.0"),
    spec("zrevrange", -4, READONLY, (1, 1, 1), zrevrange, "sorted-set", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0"),
    spec("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore, "sorted-set", "Return a range of members in a sorted set, by score", "1.0.5"),
    spec("zrevrangebyscore", -4, READONLY, (1, 1, 1), zrevrangebyscore, "sorted-set", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0"),
    spec("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex, "sorted-set", "Return a range of members in a sorted set, by lexicographical range", "2.8.9"),
    spec("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex, "sorted-set", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings", "2.8.9"),
    spec("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin, "sorted-set", "Remove and return members with the lowest scores in a sorted set", "5.0.0"),
    spec("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax, "sorted-set", "Remove and return members with the highest scores in a sorted set", "5.0.0"),
    // Keys are `numkeys` arguments from 2; routing over-approximates with every later argument.
    spec("zmpop", -4, WRITE, (2, -1, 1), zmpop, "sorted-set", "Remove and return members with scores in a sorted set", "7.0.0"),
    spec("bzpopmin", -3, WRITE | FAST | BLOCKING | NOSCRIPT, (1, -2, 1), bzpopmin, "sorted-set", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0"),
    spec("bzpopmax", -3, WRITE | FAST | BLOCKING | NOSCRIPT, (1, -2, 1), bzpopmax, "sorted-set", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0"),
    spec("bzmpop", -5, WRITE | BLOCKING, (3, -1, 1), bzmpop, "sorted-set", "Remove and return members with scores in a sorted set or block until one is available", "7.0.0"),
    spec("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank, "sorted-set", "Remove all members in a sorted set within the given indexes", "2.0.0"),
    spec("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore, "sorted-set", "Remove all members in a sorted set within the given scores", "1.2.0"),
    spec("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex, "sorted-set", "Remove all members in a sorted set between the given lexicographical range", "2.8.9"),
    spec("zunion", -3, READONLY, (2, -1, 1), zunion, "sorted-set", "Add multiple sorted sets", "6.2.0"),
    spec("zinter", -3, READONLY, (2, -1, 1), zinter, "sorted-set", "Intersect multiple sorted sets", "6.2.0"),
    spec("zdiff", -3, READONLY, (2, -1, 1), zdiff, "sorted-set", "Subtract multiple sorted sets", "6.2.0"),
    spec("zunionstore", -4, WRITE | DENYOOM, (1, -1, 1), zunionstore, "sorted-set", "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"),
    spec("zinterstore", -4, WRITE | DENYOOM, (1, -1, 1), zinterstore, "sorted-set", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"),
    spec("zdiffstore", -4, WRITE | DENYOOM, (1, -1, 1), zdiffstore, "sorted-set", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0"),
    spec("zrandmember", -2, READONLY, (1, 1, 1), zrandmember, "sorted-set", "Get one or multiple random elements from a sorted set", "6.2.0"),
    spec("zscan", -3, READONLY, (1, 1, 1), zscan, "sorted-set", "Incrementally iterate sorted sets elements and associated scores", "2.2.0"),
];

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

impl Collection for ZSet {
    fn new_value() -> Value {
        Value::ZSet(ZSet::default())
    }
    fn of(v: &mut Value) -> Option<&mut ZSet> {
        match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn is_empty(&self) -> bool {
        ZSet::is_empty(self)
    }
}

/// A score as Redis reads it (strtod without spaces; NaN refused).
fn parse_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// The sorted set at `key`: `Ok(None)` when absent, `Err` (WRONGTYPE queued) for another type.
fn read<'a>(
    out: &mut Reply,
    shards: &'a mut ShardView,
    key: &[u8],
) -> Result<Option<&'a ZSet>, WrongType> {
    match shards.db(key).into_read(key).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => {
            out.error(WRONGTYPE);
            Err(WrongType)
        }
    }
}

fn write<R>(
    ctx: &mut Ctx,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut ZSet, &ZSetLimits) -> R,
) -> Result<Option<R>, WrongType> {
    let limits = ctx.limits.zset;
    write_collection(&mut ctx.out, &mut ctx.shards.db(key), key, create, |z| {
        f(z, &limits)
    })
}

// ---- ranges ----

#[derive(Clone, Copy)]
struct ScoreRange {
    min: f64,
    min_excl: bool,
    max: f64,
    max_excl: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    match b.first() {
        Some(b'(') => parse_score(&b[1..]).map(|v| (v, true)),
        _ => parse_score(b).map(|v| (v, false)),
    }
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, &'static str> {
        let (min, min_excl) = parse_score_bound(min).ok_or(NOT_FLOAT_RANGE)?;
        let (max, max_excl) = parse_score_bound(max).ok_or(NOT_FLOAT_RANGE)?;
        Ok(ScoreRange {
            min,
            min_excl,
            max,
            max_excl,
        })
    }

    /// The ranks `[from, to)` whose scores are in range.
    fn span(&self, z: &ZSet) -> (usize, usize) {
        let from = z.count_before(|s, _| {
            if self.min_excl {
                s <= self.min
            } else {
                s < self.min
            }
        });
        let to = z.count_before(|s, _| {
            if self.max_excl {
                s < self.max
            } else {
                s <= self.max
            }
        });
        (from, to.max(from))
    }
}

#[derive(Clone, Copy)]
enum Lex<'a> {
    Min,
    Max,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

fn parse_lex(b: &[u8]) -> Option<Lex<'_>> {
    match b {
        b"-" => Some(Lex::Min),
        b"+" => Some(Lex::Max),
        [b'[', rest @ ..] => Some(Lex::Incl(rest)),
        [b'(', rest @ ..] => Some(Lex::Excl(rest)),
        _ => None,
    }
}

/// The ranks `[from, to)` whose members are within the lex range.
fn lex_span(z: &ZSet, min: Lex, max: Lex) -> (usize, usize) {
    let from = z.count_before(|_, m| match min {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(x) => m < x,
        Lex::Excl(x) => m <= x,
    });
    let to = z.count_before(|_, m| match max {
        Lex::Min => false,
        Lex::Max => true,
        Lex::Incl(x) => m <= x,
        Lex::Excl(x) => m < x,
    });
    (from, to.max(from))
}

/// Redis's index normalisation for rank ranges; `None` when empty.
fn rank_span(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
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
    Some((start as usize, stop as usize + 1))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE-family request.
struct RangeReq<'a> {
    key: &'a [u8],
    by: By,
    rev: bool,
    min: &'a [u8],
    max: &'a [u8],
    /// LIMIT offset count (count < 0: all).
    limit: Option<(i64, i64)>,
    with_scores: bool,
}

impl<'a> RangeReq<'a> {
    /// Parses `start stop [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES]` from `at` (ZRANGE and
    /// ZRANGESTORE, which refuses WITHSCORES).
    fn parse(args: &Args<'a>, at: usize, store: bool) -> Result<RangeReq<'a>, &'static str> {
        let mut r = RangeReq {
            key: args.get(at - 1),
            by: By::Rank,
            rev: false,
            min: args.get(at),
            max: args.get(at + 1),
            limit: None,
            with_scores: false,
        };
        let mut i = at + 2;
        while i < args.len() {
            let a = args.get(i);
            if eq_ic(a, "byscore") {
                r.by = By::Score;
            } else if eq_ic(a, "bylex") {
                r.by = By::Lex;
            } else if eq_ic(a, "rev") {
                r.rev = true;
            } else if eq_ic(a, "withscores") && !store {
                r.with_scores = true;
            } else if eq_ic(a, "limit") && i + 2 < args.len() {
                let (Some(o), Some(c)) = (arg_i64(args.get(i + 1)), arg_i64(args.get(i + 2)))
                else {
                    return Err(NOT_INTEGER);
                };
                r.limit = Some((o, c));
                i += 2;
            } else {
                return Err(SYNTAX);
            }
            i += 1;
        }
        if r.limit.is_some() && r.by == By::Rank {
            return Err(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            );
        }
        if r.with_scores && r.by == By::Lex {
            return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        }
        if r.rev && r.by != By::Rank {
            // ZRANGE ... BYSCORE REV takes max first.
            std::mem::swap(&mut r.min, &mut r.max);
        }
        Ok(r)
    }

    /// The selected entries, in reply order.
    fn select<'z>(&self, z: Option<&'z ZSet>) -> Result<Vec<(f64, &'z [u8])>, &'static str> {
        // Bounds are validated even when the key is absent, as Redis does.
        let bounds = match self.by {
            By::Rank => {
                let (Some(s), Some(e)) = (arg_i64(self.min), arg_i64(self.max)) else {
                    return Err(NOT_INTEGER);
                };
                Bounds::Rank(s, e)
            }
            By::Score => Bounds::Score(ScoreRange::parse(self.min, self.max)?),
            By::Lex => {
                let (Some(a), Some(b)) = (parse_lex(self.min), parse_lex(self.max)) else {
                    return Err(NOT_LEX_RANGE);
                };
                Bounds::Lex(a, b)
            }
        };
        let Some(z) = z else {
            return Ok(Vec::new());
        };
        let len = z.len();
        let (from, to) = match bounds {
            Bounds::Rank(s, e) => match rank_span(s, e, len) {
                // REV by rank counts ranks from the top.
                Some((a, b)) if self.rev => (len - b, len - a),
                Some(span) => span,
                None => return Ok(Vec::new()),
            },
            Bounds::Score(r) => r.span(z),
            Bounds::Lex(a, b) => lex_span(z, a, b),
        };
        let (offset, count) = self.limit.unwrap_or((0, -1));
        if offset < 0 {
            return Ok(Vec::new());
        }
        let n = to - from;
        let skip = (offset as usize).min(n);
        let take = if count < 0 {
            n - skip
        } else {
            (count as usize).min(n - skip)
        };
        Ok(if self.rev {
            let mut v = z.range(to - skip - take, to - skip);
            v.reverse();
            v
        } else {
            z.range(from + skip, from + skip + take)
        })
    }
}

enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(Lex<'a>, Lex<'a>),
}

/// Members, with their scores when asked (pairs in RESP3, flat in RESP2).
fn reply_entries(out: &mut Reply, entries: &[(f64, &[u8])], with_scores: bool, resp3: bool) {
    if with_scores && resp3 {
        out.array(entries.len());
        for (s, m) in entries {
            out.array(2);
            out.bulk(m);
            out.score(*s);
        }
    } else {
        out.array(entries.len() * if with_scores { 2 } else { 1 });
        for (s, m) in entries {
            out.bulk(m);
            if with_scores {
                out.score(*s);
            }
        }
    }
}

fn range_command(ctx: &mut Ctx, req: Result<RangeReq, &'static str>) {
    let req = match req {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    let resp3 = ctx.client.resp3;
    let Ok(z) = read(&mut ctx.out, &mut ctx.shards, req.key) else {
        return;
    };
    match req.select(z) {
        Ok(entries) => reply_entries(&mut ctx.out, &entries, req.with_scores, resp3),
        Err(e) => ctx.out.error(e),
    }
}

// ---- commands ----

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]: the number of members
/// added (or changed, with CH); with INCR, the new score or nil.
fn zadd(ctx: &mut Ctx, args: Args) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "gt") {
            gt = true;
        } else if eq_ic(a, "lt") {
            lt = true;
        } else if eq_ic(a, "ch") {
            ch = true;
        } else if eq_ic(a, "incr") {
            incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = args.len() - i;
    if pairs == 0 || !pairs.is_multiple_of(2) {
        return ctx.out.error(SYNTAX);
    }
    if nx && xx {
        return ctx
            .out
            .error("ERR XX and NX options at the same time are not compatible");
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return ctx
            .out
            .error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && pairs > 2 {
        return ctx
            .out
            .error("ERR INCR option supports a single increment-element pair");
    }
    let mut items = Vec::with_capacity(pairs / 2);
    for k in (i..args.len()).step_by(2) {
        let Some(score) = parse_score(args.get(k)) else {
            return ctx.out.error(NOT_FLOAT);
        };
        items.push((score, args.get(k + 1)));
    }
    let r = write(ctx, args.get(1), !xx, |z, limits| {
        let (mut added, mut changed) = (0i64, 0i64);
        let mut last: Option<f64> = None;
        for (score, member) in &items {
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        last = None;
                        continue;
                    }
                    let new = if incr { cur + score } else { *score };
                    if new.is_nan() {
                        return Err(NAN_SCORE);
                    }
                    if (gt && new <= cur) || (lt && new >= cur) {
                        last = None;
                        continue;
                    }
                    if new != cur {
                        z.insert(member, new, limits);
                        changed += 1;
                    }
                    last = Some(new);
                }
                None => {
                    if xx {
                        last = None;
                        continue;
                    }
                    z.insert(member, *score, limits);
                    added += 1;
                    last = Some(*score);
                }
            }
        }
        Ok((added, changed, last))
    });
    match r {
        Err(WrongType) => {}
        Ok(Some(Err(e))) => ctx.out.error(e),
        Ok(None) if incr => ctx.out.null(),
        Ok(None) => ctx.out.int(0),
        Ok(Some(Ok((added, changed, last)))) => {
            if added + changed > 0 {
                ctx.notify(ZSET, if incr { "zincr" } else { "zadd" }, args.get(1));
            }
            if incr {
                match last {
                    Some(s) => ctx.out.score(s),
                    None => ctx.out.null(),
                }
            } else {
                ctx.out.int(if ch { added + changed } else { added });
            }
        }
    }
}

/// ZINCRBY key increment member: the new score.
fn zincrby(ctx: &mut Ctx, args: Args) {
    let Some(by) = parse_score(args.get(2)) else {
        return ctx.out.error(NOT_FLOAT);
    };
    let member = args.get(3);
    let r = write(ctx, args.get(1), true, |z, limits| {
        let new = z.score(member).unwrap_or(0.0) + by;
        if new.is_nan() {
            return Err(NAN_SCORE);
        }
        z.insert(member, new, limits);
        Ok(new)
    });
    match r {
        Ok(Some(Ok(s))) => {
            ctx.notify(ZSET, "zincr", args.get(1));
            ctx.out.score(s)
        }
        Ok(Some(Err(e))) => ctx.out.error(e),
        _ => {}
    }
}

/// ZREM key member [member ...]: the number removed.
fn zrem(ctx: &mut Ctx, args: Args) {
    let r = write(ctx, args.get(1), false, |z, _| {
        args.iter().skip(2).filter(|m| z.remove(m)).count()
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(ZSET, "zrem", args.get(1));
        }
        ctx.out.int(n as i64);
    }
}

/// ZSCORE key member: the score, or nil.
fn zscore(ctx: &mut Ctx, args: Args) {
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        match z.and_then(|z| z.score(args.get(2))) {
            Some(s) => ctx.out.score(s),
            None => ctx.out.null(),
        }
    }
}

/// ZMSCORE key member [member ...]: the score of each, or nil.
fn zmscore(ctx: &mut Ctx, args: Args) {
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let scores: Vec<Option<f64>> = args
            .iter()
            .skip(2)
            .map(|m| z.and_then(|z| z.score(m)))
            .collect();
        ctx.out.array(scores.len());
        for s in scores {
            match s {
                Some(s) => ctx.out.score(s),
                None => ctx.out.null(),
            }
        }
    }
}

/// ZCARD key: the number of members.
fn zcard(ctx: &mut Ctx, args: Args) {
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        ctx.out.int(z.map_or(0, |z| z.len()) as i64);
    }
}

/// ZCOUNT key min max: the number of members with scores in range.
fn zcount(ctx: &mut Ctx, args: Args) {
    let range = match ScoreRange::parse(args.get(2), args.get(3)) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let n = z.map_or(0, |z| {
            let (a, b) = range.span(z);
            b - a
        });
        ctx.out.int(n as i64);
    }
}

/// ZLEXCOUNT key min max: the number of members in the lex range.
fn zlexcount(ctx: &mut Ctx, args: Args) {
    let (Some(min), Some(max)) = (parse_lex(args.get(2)), parse_lex(args.get(3))) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        let n = z.map_or(0, |z| {
            let (a, b) = lex_span(z, min, max);
            b - a
        });
        ctx.out.int(n as i64);
    }
}

fn rank(ctx: &mut Ctx, args: Args, rev: bool) {
    if let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) {
        match z.and_then(|z| z.rank(args.get(2)).map(|r| (r, z.len()))) {
            Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
            None => ctx.out.null(),
        }
    }
}

/// ZRANK key member: the rank (ascending), or nil.
fn zrank(ctx: &mut Ctx, args: Args) {
    rank(ctx, args, false);
}

/// ZREVRANK key member: the rank (descending), or nil.
fn zrevrank(ctx: &mut Ctx, args: Args) {
    rank(ctx, args, true);
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
fn zrange(ctx: &mut Ctx, args: Args) {
    range_command(ctx, RangeReq::parse(&args, 2, false));
}

/// The old range commands as ZRANGE requests.
fn legacy<'a>(args: &Args<'a>, by: By, rev: bool) -> Result<RangeReq<'a>, &'static str> {
    let mut r = RangeReq {
        key: args.get(1),
        by,
        rev,
        min: args.get(2),
        max: args.get(3),
        limit: None,
        with_scores: false,
    };
    if rev && by != By::Rank {
        std::mem::swap(&mut r.min, &mut r.max);
    }
    let mut i = 4;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "withscores") && by != By::Lex {
            r.with_scores = true;
        } else if eq_ic(a, "limit") && by != By::Rank && i + 2 < args.len() {
            let (Some(o), Some(c)) = (arg_i64(args.get(i + 1)), arg_i64(args.get(i + 2))) else {
                return Err(NOT_INTEGER);
            };
            r.limit = Some((o, c));
            i += 2;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(r)
}

/// ZREVRANGE key start stop [WITHSCORES].
fn zrevrange(ctx: &mut Ctx, args: Args) {
    range_command(ctx, legacy(&args, By::Rank, true));
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count].
fn zrangebyscore(ctx: &mut Ctx, args: Args) {
    range_command(ctx, legacy(&args, By::Score, false));
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count].
fn zrevrangebyscore(ctx: &mut Ctx, args: Args) {
    range_command(ctx, legacy(&args, By::Score, true));
}

/// ZRANGEBYLEX key min max [LIMIT offset count].
fn zrangebylex(ctx: &mut Ctx, args: Args) {
    range_command(ctx, legacy(&args, By::Lex, false));
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count].
fn zrevrangebylex(ctx: &mut Ctx, args: Args) {
    range_command(ctx, legacy(&args, By::Lex, true));
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]: the size stored.
fn zrangestore(ctx: &mut Ctx, args: Args) {
    let req = match RangeReq::parse(&args, 3, true) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(2)) else {
        return;
    };
    let entries: Vec<(f64, Vec<u8>)> = match req.select(z) {
        Ok(e) => e.into_iter().map(|(s, m)| (s, m.to_vec())).collect(),
        Err(e) => return ctx.out.error(e),
    };
    store(ctx, args.get(1), &entries, "zrangestore");
}

/// Replaces `dst` with a sorted set of `entries` (deleting it when empty); replies the size.
fn store(ctx: &mut Ctx, dst: &[u8], entries: &[(f64, Vec<u8>)], event: &'static str) {
    let limits = ctx.limits.zset;
    let mut db = ctx.shards.db(dst);
    let existed = db.remove(dst).is_some();
    if entries.is_empty() {
        db.touched(dst);
        if existed {
            ctx.notify(crate::config::notify::GENERIC, "del", dst);
        }
    } else {
        let mut z = ZSet::default();
        for (s, m) in entries {
            z.insert(m, *s, &limits);
        }
        db.set(dst, Value::ZSet(z), 0);
        ctx.notify(ZSET, event, dst);
    }
    ctx.out.int(entries.len() as i64);
}

/// Pops up to `count` entries from the low (`max` false) or high end.
fn pop_entries(z: &mut ZSet, max: bool, count: usize) -> Vec<(f64, Vec<u8>)> {
    let n = count.min(z.len());
    let len = z.len();
    let picked: Vec<(f64, Vec<u8>)> = if max {
        let mut v: Vec<(f64, Vec<u8>)> = z
            .range(len - n, len)
            .into_iter()
            .map(|(s, m)| (s, m.to_vec()))
            .collect();
        v.reverse();
        v
    } else {
        z.range(0, n)
            .into_iter()
            .map(|(s, m)| (s, m.to_vec()))
            .collect()
    };
    for (_, m) in &picked {
        z.remove(m);
    }
    picked
}

fn zpop(ctx: &mut Ctx, args: Args, max: bool) {
    if args.len() > 3 {
        return ctx.out.error(SYNTAX);
    }
    let count = match args.len() {
        3 => match arg_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            Some(_) => return ctx.out.error("ERR value is out of range, must be positive"),
            None => return ctx.out.error(NOT_INTEGER),
        },
        _ => None,
    };
    let resp3 = ctx.client.resp3;
    let r = write(ctx, args.get(1), false, |z, _| {
        pop_entries(z, max, count.unwrap_or(1))
    });
    let Ok(popped) = r else {
        return;
    };
    let popped = popped.unwrap_or_default();
    if !popped.is_empty() {
        ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, args.get(1));
    }
    let entries: Vec<(f64, &[u8])> = popped.iter().map(|(s, m)| (*s, &m[..])).collect();
    // RESP3 nests pairs only when a count was given, as Redis 7.0 does.
    reply_entries(&mut ctx.out, &entries, true, resp3 && count.is_some());
}

/// ZPOPMIN key [count]: the lowest entries removed, member and score.
fn zpopmin(ctx: &mut Ctx, args: Args) {
    zpop(ctx, args, false);
}

/// ZPOPMAX key [count]: the highest entries removed, member and score.
fn zpopmax(ctx: &mut Ctx, args: Args) {
    zpop(ctx, args, true);
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: `[key, [[member, score] ...]]` from the
/// first non-empty set, nil when all are empty.
fn zmpop(ctx: &mut Ctx, args: Args) {
    mpop(ctx, args, 1, None);
}

/// ZMPOP from `at` (numkeys), blocking until `deadline_ms` when `block` is given.
fn mpop(ctx: &mut Ctx, args: Args, at: usize, block: Option<u64>) {
    let MpopArgs {
        numkeys,
        first,
        count,
    } = match MpopArgs::parse(&args, at, ("min", "max")) {
        Ok(m) => m,
        Err(e) => return ctx.out.error(e),
    };
    let max = !first;
    for k in 0..numkeys {
        let key = args.get(at + 1 + k);
        match write(ctx, key, false, |z, _| pop_entries(z, max, count)) {
            Err(WrongType) => return,
            Ok(None) => continue,
            Ok(Some(popped)) => {
                ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
                // ZMPOP and BZMPOP propagate as the pop with the count they served.
                let n = popped.len().to_string();
                ctx.propagate(&[zpop_name(max), key, n.as_bytes()]);
                ctx.out.array(2);
                ctx.out.bulk(key);
                let entries: Vec<(f64, &[u8])> = popped.iter().map(|(s, m)| (*s, &m[..])).collect();
                ctx.out.array(entries.len());
                for (s, m) in entries {
                    ctx.out.array(2);
                    ctx.out.bulk(m);
                    ctx.out.score(s);
                }
                return;
            }
        }
    }
    match block {
        Some(deadline_ms) => {
            let keys: Vec<&[u8]> = (0..numkeys).map(|k| args.get(at + 1 + k)).collect();
            let op = BlockOp::ZPop {
                max,
                count: Some(count),
            };
            block_on(ctx, &keys, op, deadline_ms, true);
        }
        None => ctx.out.null_array(),
    }
}

/// ZPOPMIN or ZPOPMAX, the plain form blocking pops propagate as.
fn zpop_name(max: bool) -> &'static [u8] {
    if max {
        b"ZPOPMAX"
    } else {
        b"ZPOPMIN"
    }
}

fn bzpop(ctx: &mut Ctx, args: Args, max: bool) {
    let deadline_ms = match parse_timeout(args.get(args.len() - 1), ctx.now_ms) {
        Ok(d) => d,
        Err(e) => return ctx.out.error(e),
    };
    let keys: Vec<&[u8]> = (1..args.len() - 1).map(|i| args.get(i)).collect();
    for key in &keys {
        match write(ctx, key, false, |z, _| pop_entries(z, max, 1)) {
            Err(WrongType) => return,
            Ok(Some(popped)) if !popped.is_empty() => {
                ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
                ctx.propagate(&[zpop_name(max), key]);
                ctx.out.array(3);
                ctx.out.bulk(key);
                ctx.out.bulk(&popped[0].1);
                return ctx.out.score(popped[0].0);
            }
            _ => {}
        }
    }
    block_on(
        ctx,
        &keys,
        BlockOp::ZPop { max, count: None },
        deadline_ms,
        true,
    );
}

/// BZPOPMIN key [key ...] timeout: `[key, member, score]` of the lowest entry of the first
/// non-empty set, blocking until one has data (nil array on timeout).
fn bzpopmin(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, false);
}

/// BZPOPMAX key [key ...] timeout: like BZPOPMIN for the highest entry.
fn bzpopmax(ctx: &mut Ctx, args: Args) {
    bzpop(ctx, args, true);
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP that blocks.
fn bzmpop(ctx: &mut Ctx, args: Args) {
    match parse_timeout(args.get(1), ctx.now_ms) {
        Ok(d) => mpop(ctx, args, 2, Some(d)),
        Err(e) => ctx.out.error(e),
    }
}

fn remove_span(
    ctx: &mut Ctx,
    key: &[u8],
    event: &'static str,
    span: impl FnOnce(&ZSet) -> (usize, usize),
) {
    let r = write(ctx, key, false, |z, _| {
        let (a, b) = span(z);
        let doomed: Vec<Vec<u8>> = z.range(a, b).into_iter().map(|(_, m)| m.to_vec()).collect();
        for m in &doomed {
            z.remove(m);
        }
        doomed.len()
    });
    if let Ok(n) = r {
        let n = n.unwrap_or(0);
        if n > 0 {
            ctx.notify(ZSET, event, key);
        }
        ctx.out.int(n as i64);
    }
}

/// ZREMRANGEBYRANK key start stop: the number removed.
fn zremrangebyrank(ctx: &mut Ctx, args: Args) {
    let (Some(s), Some(e)) = (arg_i64(args.get(2)), arg_i64(args.get(3))) else {
        return ctx.out.error(NOT_INTEGER);
    };
    remove_span(ctx, args.get(1), "zremrangebyrank", |z| {
        rank_span(s, e, z.len()).unwrap_or((0, 0))
    });
}

/// ZREMRANGEBYSCORE key min max: the number removed.
fn zremrangebyscore(ctx: &mut Ctx, args: Args) {
    let range = match ScoreRange::parse(args.get(2), args.get(3)) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    remove_span(ctx, args.get(1), "zremrangebyscore", |z| range.span(z));
}

/// ZREMRANGEBYLEX key min max: the number removed.
fn zremrangebylex(ctx: &mut Ctx, args: Args) {
    let (Some(min), Some(max)) = (parse_lex(args.get(2)), parse_lex(args.get(3))) else {
        return ctx.out.error(NOT_LEX_RANGE);
    };
    remove_span(ctx, args.get(1), "zremrangebylex", |z| {
        lex_span(z, min, max)
    });
}

// ---- union, intersection, difference ----

/// Entries owned outside the set they came from, (score, member), in order.
type Owned = Vec<(f64, Vec<u8>)>;
/// One input of a set operation: (member, score) pairs.
type Input = Vec<(Vec<u8>, f64)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Parses `numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` from
/// `at` and computes the result, sorted. `Err(None)`: the error is already queued.
fn set_op(
    ctx: &mut Ctx,
    args: &Args,
    at: usize,
    op: SetOp,
    name: &str,
    allow_withscores: bool,
) -> Result<(Owned, bool), Option<&'static str>> {
    let numkeys = match arg_i64(args.get(at)) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            ctx.out.err(&format!(
                "at least 1 input key is needed for '{name}' command"
            ));
            return Err(None);
        }
        None => return Err(Some(NOT_INTEGER)),
    };
    if numkeys > args.len() - at - 1 {
        return Err(Some(SYNTAX));
    }
    let keys: Vec<&[u8]> = (0..numkeys).map(|i| args.get(at + 1 + i)).collect();
    let mut weights = vec![1.0f64; numkeys];
    let mut aggregate = Aggregate::Sum;
    let mut with_scores = false;
    let mut i = at + 1 + numkeys;
    while i < args.len() {
        let a = args.get(i);
        if op != SetOp::Diff && eq_ic(a, "weights") && i + numkeys < args.len() {
            for (k, w) in weights.iter_mut().enumerate() {
                *w = parse_score(args.get(i + 1 + k))
                    .ok_or(Some("ERR weight value is not a float"))?;
            }
            i += numkeys;
        } else if op != SetOp::Diff && eq_ic(a, "aggregate") && i + 1 < args.len() {
            let v = args.get(i + 1);
            aggregate = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return Err(Some(SYNTAX));
            };
            i += 1;
        } else if allow_withscores && eq_ic(a, "withscores") {
            with_scores = true;
        } else {
            return Err(Some(SYNTAX));
        }
        i += 1;
    }
    // Each input as (member, score); plain sets count with score 1.
    let mut inputs: Vec<Option<Input>> = Vec::with_capacity(numkeys);
    for key in &keys {
        let v = match ctx.shards.db(key).into_read(key).map(|e| &e.value) {
            None => None,
            Some(Value::ZSet(z)) => Some(
                z.range(0, z.len())
                    .into_iter()
                    .map(|(s, m)| (m.to_vec(), s))
                    .collect(),
            ),
            Some(Value::Set(s)) => Some(s.members().into_iter().map(|m| (m, 1.0)).collect()),
            Some(_) => {
                ctx.out.error(WRONGTYPE);
                return Err(None);
            }
        };
        inputs.push(v);
    }
    let combine = |acc: f64, v: f64| -> f64 {
        match aggregate {
            Aggregate::Sum => {
                let s = acc + v;
                // inf + -inf is NaN; Redis counts it as 0.
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Aggregate::Min => acc.min(v),
            Aggregate::Max => acc.max(v),
        }
    };
    let weighted = |s: f64, w: f64| -> f64 {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: HashMap<Vec<u8>, f64> = HashMap::new();
    let mut order: Vec<Vec<u8>> = Vec::new();
    match op {
        SetOp::Union => {
            for (k, input) in inputs.iter().enumerate() {
                for (m, s) in input.iter().flatten() {
                    let v = weighted(*s, weights[k]);
                    match result.get_mut(m) {
                        Some(acc) => *acc = combine(*acc, v),
                        None => {
                            result.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().all(|i| i.is_some()) {
                let maps: Vec<HashMap<&[u8], f64>> = inputs
                    .iter()
                    .map(|i| i.iter().flatten().map(|(m, s)| (&m[..], *s)).collect())
                    .collect();
                for (m, s) in inputs[0].iter().flatten() {
                    let mut acc = weighted(*s, weights[0]);
                    let mut all = true;
                    for (k, map) in maps.iter().enumerate().skip(1) {
                        match map.get(&m[..]) {
                            Some(v) => acc = combine(acc, weighted(*v, weights[k])),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        result.insert(m.clone(), acc);
                        order.push(m.clone());
                    }
                }
            }
        }
        SetOp::Diff => {
            let others: Vec<HashMap<&[u8], f64>> = inputs
                .iter()
                .skip(1)
                .map(|i| i.iter().flatten().map(|(m, s)| (&m[..], *s)).collect())
                .collect();
            for (m, s) in inputs[0].iter().flatten() {
                if !others.iter().any(|o| o.contains_key(&m[..])) {
                    result.insert(m.clone(), *s);
                    order.push(m.clone());
                }
            }
        }
    }
    let mut entries: Vec<(f64, Vec<u8>)> = order.into_iter().map(|m| (result[&m], m)).collect();
    entries.sort_by(|a, b| crate::store::ztree::cmp_entry(a.0, &a.1, b.0, &b.1));
    Ok((entries, with_scores))
}

fn op_reply(ctx: &mut Ctx, args: Args, op: SetOp, name: &str) {
    let resp3 = ctx.client.resp3;
    match set_op(ctx, &args, 1, op, name, true) {
        Ok((entries, with_scores)) => {
            let e: Vec<(f64, &[u8])> = entries.iter().map(|(s, m)| (*s, &m[..])).collect();
            reply_entries(&mut ctx.out, &e, with_scores, resp3);
        }
        Err(Some(e)) => ctx.out.error(e),
        Err(None) => {}
    }
}

fn op_store(ctx: &mut Ctx, args: Args, op: SetOp, name: &'static str) {
    match set_op(ctx, &args, 2, op, name, false) {
        Ok((entries, _)) => store(ctx, args.get(1), &entries, name),
        Err(Some(e)) => ctx.out.error(e),
        Err(None) => {}
    }
}

/// ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES].
fn zunion(ctx: &mut Ctx, args: Args) {
    op_reply(ctx, args, SetOp::Union, "zunion");
}

/// ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES].
fn zinter(ctx: &mut Ctx, args: Args) {
    op_reply(ctx, args, SetOp::Inter, "zinter");
}

/// ZDIFF numkeys key [key ...] [WITHSCORES].
fn zdiff(ctx: &mut Ctx, args: Args) {
    op_reply(ctx, args, SetOp::Diff, "zdiff");
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]: the size.
fn zunionstore(ctx: &mut Ctx, args: Args) {
    op_store(ctx, args, SetOp::Union, "zunionstore");
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]: the size.
fn zinterstore(ctx: &mut Ctx, args: Args) {
    op_store(ctx, args, SetOp::Inter, "zinterstore");
}

/// ZDIFFSTORE destination numkeys key [key ...]: the size.
fn zdiffstore(ctx: &mut Ctx, args: Args) {
    op_store(ctx, args, SetOp::Diff, "zdiffstore");
}

/// ZRANDMEMBER key [count [WITHSCORES]]: like HRANDFIELD, for members.
fn zrandmember(ctx: &mut Ctx, args: Args) {
    let (count, with_scores) = match rand_args(&args, Some("withscores")) {
        Ok(r) => r,
        Err(e) => return ctx.out.error(e),
    };
    let resp3 = ctx.client.resp3;
    let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) else {
        return;
    };
    let Some(count) = count else {
        return match z.and_then(|z| z.random(rand_u64())) {
            Some((_, m)) => ctx.out.bulk(m),
            None => ctx.out.null(),
        };
    };
    let Some(z) = z else {
        return ctx.out.array(0);
    };
    let picks: Vec<(f64, &[u8])> =
        random_picks(|| z.range(0, z.len()), count, || z.random(rand_u64()));
    reply_entries(&mut ctx.out, &picks, with_scores, resp3);
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and members with scores.
fn zscan(ctx: &mut Ctx, args: Args) {
    let scan = match ScanArgs::parse(&args, 2, false) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let Ok(z) = read(&mut ctx.out, &mut ctx.shards, args.get(1)) else {
        return;
    };
    let (next, found) = match z {
        Some(z) => scan.collect(|c, found| {
            z.scan(c, |m, s| {
                if scan.matches(m) {
                    found.push((m, s));
                }
            })
        }),
        None => (0, Vec::new()),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len() * 2);
    for (m, s) in found {
        ctx.out.bulk(m);
        ctx.out.bulk(crate::resp::reply::fmt_g17(s).as_bytes());
    }
}
