//! SORT and SORT_RO (Redis's sort.c): sort a list, set or sorted set numerically or ALPHA, by
//! its elements or by external keys (BY pattern, with `->field` for hash fields), take a LIMIT,
//! fetch GET patterns, and STORE the result as a list.
//!
//! BY and GET patterns name keys anywhere in the keyspace, so a SORT that uses them is routed to
//! every shard (`sort_route`); a plain SORT needs only its key and its STORE destination.

use super::{
    arg_i64, eq_ic, spec, Ctx, Spec, DENYOOM, NOT_INTEGER, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::resp::Args;
use crate::store::list::{End, List};
use crate::store::{shard_of, Value};

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("sort", -2, WRITE | DENYOOM, (1, 1, 1), sort, "generic", "Sort the elements in a list, set or sorted set", "1.0.0").with_route(sort_route),
    spec("sort_ro", -2, READONLY, (1, 1, 1), sort_ro, "generic", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0").with_route(sort_route),
];

/// Every shard when a BY or GET pattern may name other keys; else the key's and STORE's shards.
fn sort_route(args: &Args, shards: usize) -> u64 {
    let all = if shards >= 64 {
        u64::MAX
    } else {
        (1u64 << shards) - 1
    };
    let mut need = 1u64 << shard_of(args.get(1), shards);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if i + 1 < args.len() {
            let v = args.get(i + 1);
            if eq_ic(a, "by") && v.contains(&b'*') {
                return all;
            }
            if eq_ic(a, "get") && v != b"#" {
                return all;
            }
            if eq_ic(a, "store") {
                need |= 1u64 << shard_of(v, shards);
            }
        }
        i += 1;
    }
    need
}

struct Opts<'a> {
    by: Option<&'a [u8]>,
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

fn parse<'a>(args: &Args<'a>, read_only: bool) -> Result<Opts<'a>, &'static str> {
    let mut o = Opts {
        by: None,
        dont_sort: false,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let left = args.len() - i - 1;
        if eq_ic(a, "asc") {
            o.desc = false;
        } else if eq_ic(a, "desc") {
            o.desc = true;
        } else if eq_ic(a, "alpha") {
            o.alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let (Some(off), Some(cnt)) = (arg_i64(args.get(i + 1)), arg_i64(args.get(i + 2)))
            else {
                return Err(NOT_INTEGER);
            };
            o.limit = Some((off, cnt));
            i += 2;
        } else if eq_ic(a, "store") && left >= 1 && !read_only {
            o.store = Some(args.get(i + 1));
            i += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            let p = args.get(i + 1);
            // A pattern without '*' means "do not sort" (Redis's BY nosort idiom).
            if !p.contains(&b'*') {
                o.dont_sort = true;
            }
            o.by = Some(p);
            i += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            o.gets.push(args.get(i + 1));
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// The value a BY/GET pattern names for `elem`: `#` is the element itself; the first `*` is
/// replaced by it; `key->field` reads a hash field. None when missing or of the wrong type.
fn lookup(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&p| p + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let e = ctx.shards.db(&key).into_read(&key)?;
    match (arrow, &e.value) {
        (Some(p), Value::Hash(h)) => h.get(&pattern[p + 2..]).map(<[u8]>::to_vec),
        (None, v) => v.to_bytes(),
        _ => None,
    }
}

/// strtod as SORT uses it: leading spaces allowed, the whole rest must be the number; "" is 0.
fn sort_number(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?.trim_start();
    if s.is_empty() {
        return Some(0.0);
    }
    s.parse::<f64>().ok().filter(|v| !v.is_nan())
}

fn sort(ctx: &mut Ctx, args: Args) {
    run(ctx, args, false);
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]: SORT
/// without STORE.
fn sort_ro(ctx: &mut Ctx, args: Args) {
    run(ctx, args, true);
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]: the sorted elements (or GET values), or with STORE their count.
fn run(ctx: &mut Ctx, args: Args, read_only: bool) {
    let o = match parse(&args, read_only) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let key = args.get(1);
    // The elements, in the source's natural order.
    let (mut elems, is_zset, is_set): (Vec<Vec<u8>>, bool, bool) =
        match ctx.shards.db(key).into_read(key).map(|e| &e.value) {
            None => (Vec::new(), false, false),
            Some(Value::List(l)) => (l.iter().map(<[u8]>::to_vec).collect(), false, false),
            Some(Value::Set(s)) => (s.members(), false, true),
            Some(Value::ZSet(z)) => (
                z.range(0, z.len())
                    .into_iter()
                    .map(|(_, m)| m.to_vec())
                    .collect(),
                true,
                false,
            ),
            Some(_) => return ctx.out.error(WRONGTYPE),
        };
    // A set has no order to keep: stored unsorted it would be arbitrary, so Redis sorts it
    // alphabetically by its elements instead.
    let (mut dont_sort, mut alpha, mut by) = (o.dont_sort, o.alpha, o.by);
    if dont_sort && is_set && o.store.is_some() {
        (dont_sort, alpha, by) = (false, true, None);
    }
    if !dont_sort {
        let mut keyed: Vec<(Option<Vec<u8>>, Vec<u8>)> = Vec::with_capacity(elems.len());
        for e in elems.drain(..) {
            let k = match by {
                Some(p) => lookup(ctx, p, &e),
                None => Some(e.clone()),
            };
            keyed.push((k, e));
        }
        if alpha {
            keyed.sort_by(|a, b| {
                let c = match (&a.0, &b.0) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(_), None) => std::cmp::Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                };
                if o.desc {
                    c.reverse()
                } else {
                    c
                }
            });
        } else {
            let mut scored = Vec::with_capacity(keyed.len());
            for (k, e) in keyed {
                let score = match k {
                    None => 0.0,
                    Some(v) => match sort_number(&v) {
                        Some(s) => s,
                        None => {
                            return ctx
                                .out
                                .err("One or more scores can't be converted into double")
                        }
                    },
                };
                scored.push((score, e));
            }
            scored.sort_by(|a, b| {
                let c =
                    a.0.partial_cmp(&b.0)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.1.cmp(&b.1));
                if o.desc {
                    c.reverse()
                } else {
                    c
                }
            });
            keyed = scored.into_iter().map(|(_, e)| (None, e)).collect();
        }
        elems = keyed.into_iter().map(|(_, e)| e).collect();
    } else if o.desc && is_zset {
        elems.reverse();
    }
    // LIMIT, as Redis clamps it.
    // Both numbers come from the client: clamp them before any arithmetic.
    let n = elems.len();
    let (start, count) = o.limit.unwrap_or((0, -1));
    let start = usize::try_from(start.max(0)).unwrap_or(usize::MAX).min(n);
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(n - start);
    let picked = &elems[start..start + count];
    // The output: the elements, or one value per GET pattern per element.
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    for e in picked {
        if o.gets.is_empty() {
            out.push(Some(e.clone()));
        } else {
            for p in &o.gets {
                let v = lookup(ctx, p, e);
                out.push(v);
            }
        }
    }
    match o.store {
        Some(dst) => {
            let limits = ctx.limits.list;
            let mut db = ctx.shards.db(dst);
            let existed = db.remove(dst).is_some();
            let stored = out.len();
            if out.is_empty() {
                db.touched(dst);
                if existed {
                    ctx.notify(crate::config::notify::GENERIC, "del", dst);
                }
            } else {
                let mut l = List::default();
                for v in &out {
                    l.push(End::Right, v.as_deref().unwrap_or(b""), &limits);
                }
                db.set(dst, Value::List(Box::new(l)), 0);
                ctx.notify(crate::config::notify::LIST, "sortstore", dst);
            }
            ctx.out.int(stored as i64);
        }
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(b) => ctx.out.bulk(b),
                    None => ctx.out.null(),
                }
            }
        }
    }
}
