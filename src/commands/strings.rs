//! String commands: GET, SET and friends, counters, ranges, LCS.
//!
//! Values are stored as `Value::Int` when they are canonical integers (so INCR needs no parse)
//! and as bytes otherwise; commands that edit a string in place (APPEND, SETRANGE) keep that
//! rule by re-checking short results. INCRBYFLOAT computes in x87 80-bit extended precision, as
//! Redis does with `long double` on x86_64 (see `ld` below), so its replies match byte for byte.

use super::{
    arg_i64, eq_ic, longdouble, note, spec, Ctx, Spec, DENYOOM, FAST, NOT_FLOAT, NOT_INTEGER,
    OVERFLOW, READONLY, SYNTAX, WRITE, WRONGTYPE,
};
use crate::config::notify::{GENERIC, STRING};
use crate::resp::{Args, Reply};
use crate::store::db::DbRef;
use crate::store::Value;

/// The longest string a command may build (Redis's default proto-max-bulk-len, 512MB).
pub const STRING_MAX: usize = 512 * 1024 * 1024;
pub const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("get", 2, READONLY | FAST, (1, 1, 1), get, "string", "Get the value of a key", "1.0.0"),
    spec("set", -3, WRITE | DENYOOM, (1, 1, 1), set, "string", "Set the string value of a key", "1.0.0"),
    spec("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx, "string", "Set the value of a key, only if the key does not exist", "1.0.0"),
    spec("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex, "string", "Set the value and expiration of a key", "2.0.0"),
    spec("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex, "string", "Set the value and expiration in milliseconds of a key", "2.6.0"),
    spec("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset, "string", "Set the string value of a key and return its old value", "1.0.0"),
    spec("getdel", 2, WRITE | FAST, (1, 1, 1), getdel, "string", "Get the value of a key and delete the key", "6.2.0"),
    spec("getex", -2, WRITE | FAST, (1, 1, 1), getex, "string", "Get the value of a key and optionally set its expiration", "6.2.0"),
    spec("mget", -2, READONLY | FAST, (1, -1, 1), mget, "string", "Get the values of all the given keys", "1.0.0"),
    spec("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset, "string", "Set multiple keys to multiple values", "1.0.1"),
    spec("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx, "string", "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1"),
    spec("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr, "string", "Increment the integer value of a key by one", "1.0.0"),
    spec("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr, "string", "Decrement the integer value of a key by one", "1.0.0"),
    spec("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby, "string", "Increment the integer value of a key by the given amount", "1.0.0"),
    spec("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby, "string", "Decrement the integer value of a key by the given number", "1.0.0"),
    spec("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrbyfloat, "string", "Increment the float value of a key by the given amount", "2.6.0"),
    spec("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append, "string", "Append a value to a key", "2.0.0"),
    spec("strlen", 2, READONLY | FAST, (1, 1, 1), strlen, "string", "Get the length of the value stored in a key", "2.2.0"),
    spec("getrange", 4, READONLY, (1, 1, 1), getrange, "string", "Get a substring of the string stored at a key", "2.4.0"),
    spec("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange, "string", "Overwrite part of a string at key starting at the specified offset", "2.2.0"),
    spec("substr", 4, READONLY, (1, 1, 1), getrange, "string", "Get a substring of the string stored at a key", "1.0.0"),
    spec("lcs", -3, READONLY, (1, 2, 1), lcs, "string", "Find longest common substring", "7.0.0"),
];

// ---- shared helpers (bits.rs uses them too) ----

/// Replies a string value as a bulk string.
pub fn reply_string(out: &mut Reply, v: &Value) {
    let mut tmp = [0u8; 24];
    match v.string_bytes(&mut tmp) {
        Some(b) => out.bulk(b),
        None => out.error(WRONGTYPE),
    }
}

/// Length in bytes of a string value.
pub fn string_len(v: &Value) -> usize {
    let mut tmp = [0u8; 24];
    v.string_bytes(&mut tmp).map_or(0, |b| b.len())
}

/// The bytes of a string value for in-place editing (an integer becomes its digits). Callers
/// check `is_string` first (and answer WRONGTYPE otherwise).
pub fn string_mut(v: &mut Value) -> &mut Vec<u8> {
    if let Value::Int(i) = *v {
        let mut tmp = [0u8; 24];
        *v = Value::Str(crate::resp::reply::fmt_i64(&mut tmp, i).into());
    }
    match v {
        Value::Str(s) => s.make_mut(),
        Value::Int(_) => unreachable!("converted above"),
        Value::Hash(_) | Value::List(_) | Value::Set(_) | Value::ZSet(_) => {
            unreachable!("callers check is_string")
        }
    }
}

/// Restores the integer encoding after an in-place edit when the bytes are a canonical integer.
pub fn normalize(v: &mut Value) {
    if let Value::Str(s) = v {
        if s.len() <= 20 {
            if let Some(i) = arg_i64(s) {
                *v = Value::Int(i);
            }
        }
    }
}

/// A key holds a value that is not a string.
#[derive(Debug)]
pub struct WrongType;

/// Looks `key` up for reading and copies its bytes: Ok(None) when absent.
pub fn read_bytes(db: &mut DbRef, key: &[u8]) -> Result<Option<Vec<u8>>, WrongType> {
    match db.lookup_read(key) {
        None => Ok(None),
        Some(e) if !e.value.is_string() => Err(WrongType),
        Some(e) => Ok(e.value.to_bytes()),
    }
}

// ---- GET / SET family ----

/// GET key: the value as a bulk string, nil when absent, WRONGTYPE for other types.
fn get(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    match db.lookup_read(key) {
        None => ctx.out.null(),
        Some(e) => reply_string(&mut ctx.out, &e.value),
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts-ms|KEEPTTL]: OK, or nil when NX/XX
/// prevented the write; with GET, the old value (or nil) instead.
fn set(ctx: &mut Ctx, args: Args) {
    let opts = match parse_set_options(&args, 3, true) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let expire_at_ms = match opts.expire {
        Some((unit, arg)) => match expire_at(unit, arg, ctx.now_ms, "set") {
            Ok(at) => at,
            Err(e) => return ctx.out.error(&e),
        },
        None => 0,
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let existing = db.lookup_write(key);
    let exists = existing.is_some();
    let keep_expire = existing.as_ref().map_or(0, |e| e.expire_at_ms);
    let mut old: Option<Option<Vec<u8>>> = None;
    if opts.get {
        match existing {
            Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
            Some(e) => old = Some(e.value.to_bytes()),
            None => old = Some(None),
        }
    }
    let blocked = (opts.nx && exists) || (opts.xx && !exists);
    if !blocked {
        let expire = if opts.keep_ttl {
            keep_expire
        } else {
            expire_at_ms
        };
        db.set_bytes(key, args.get(2), expire);
        let db_index = ctx.client.db;
        note(ctx.client, ctx.limits, STRING, "set", key, db_index);
        if expire_at_ms != 0 {
            note(ctx.client, ctx.limits, GENERIC, "expire", key, db_index);
            // A relative or second-resolution expiry propagates as an absolute one in ms.
            if opts.expire.is_some_and(|(u, _)| u != ExpireUnit::PxAt) {
                propagate_set_pxat(ctx, key, args.get(2), expire_at_ms);
            }
        }
    }
    match old {
        Some(Some(v)) => ctx.out.bulk(&v),
        Some(None) => ctx.out.null(),
        None if blocked => ctx.out.null(),
        None => ctx.out.ok(),
    }
}

/// How an expiry argument is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Parsed SET/GETEX-style options. The expiry number is kept unparsed: Redis checks the option
/// syntax first and the number later (GETEX even looks the key up in between).
#[derive(Default)]
pub struct SetOptions<'a> {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keep_ttl: bool,
    pub persist: bool,
    pub expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses SET options from `args[from..]`. `is_set` enables NX/XX/GET/KEEPTTL (SET) versus
/// PERSIST (GETEX). A repeated option is accepted (the last value wins); conflicting ones are a
/// syntax error, as in Redis.
pub fn parse_set_options<'a>(
    args: &Args<'a>,
    from: usize,
    is_set: bool,
) -> Result<SetOptions<'a>, &'static str> {
    let mut o = SetOptions::default();
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let unit = if eq_ic(a, "ex") {
            Some(ExpireUnit::Ex)
        } else if eq_ic(a, "px") {
            Some(ExpireUnit::Px)
        } else if eq_ic(a, "exat") {
            Some(ExpireUnit::ExAt)
        } else if eq_ic(a, "pxat") {
            Some(ExpireUnit::PxAt)
        } else {
            None
        };
        let other_unit = |u: ExpireUnit| o.expire.is_some_and(|(x, _)| x != u);
        if is_set && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(a, "get") {
            o.get = true;
        } else if is_set && eq_ic(a, "keepttl") && !o.persist && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !is_set && eq_ic(a, "persist") && !o.keep_ttl && o.expire.is_none() {
            o.persist = true;
        } else if let Some(u) =
            unit.filter(|&u| !o.keep_ttl && !o.persist && !other_unit(u) && i + 1 < args.len())
        {
            o.expire = Some((u, args.get(i + 1)));
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Converts an expiry argument to an absolute Unix time in ms; errors are Redis's texts for
/// command `cmd`.
pub fn expire_at(unit: ExpireUnit, arg: &[u8], now_ms: u64, cmd: &str) -> Result<u64, String> {
    let Some(n) = arg_i64(arg) else {
        return Err(NOT_INTEGER.to_string());
    };
    let invalid = || format!("ERR invalid expire time in '{cmd}' command");
    if n <= 0 {
        return Err(invalid());
    }
    let n = n as u64;
    let at = match unit {
        ExpireUnit::Ex => n.checked_mul(1000).and_then(|ms| ms.checked_add(now_ms)),
        ExpireUnit::Px => n.checked_add(now_ms),
        ExpireUnit::ExAt => n.checked_mul(1000),
        ExpireUnit::PxAt => Some(n),
    };
    match at {
        Some(at) if at <= i64::MAX as u64 => Ok(at),
        _ => Err(invalid()),
    }
}

/// SETNX key value: 1 when the key was set, 0 when it already existed.
fn setnx(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    if db.exists(key) {
        return ctx.out.int(0);
    }
    db.set(key, Value::from_bytes(args.get(2)), 0);
    ctx.notify(STRING, "set", key);
    ctx.out.int(1);
}

/// SETEX key seconds value: sets the value with a TTL in seconds; OK.
fn setex(ctx: &mut Ctx, args: Args) {
    set_with_expire(ctx, args, ExpireUnit::Ex, "setex");
}

/// PSETEX key milliseconds value: sets the value with a TTL in milliseconds; OK.
fn psetex(ctx: &mut Ctx, args: Args) {
    set_with_expire(ctx, args, ExpireUnit::Px, "psetex");
}

fn set_with_expire(ctx: &mut Ctx, args: Args, unit: ExpireUnit, cmd: &str) {
    let at = match expire_at(unit, args.get(2), ctx.now_ms, cmd) {
        Ok(at) => at,
        Err(e) => return ctx.out.error(&e),
    };
    let key = args.get(1);
    ctx.shards
        .db(key)
        .set(key, Value::from_bytes(args.get(3)), at);
    propagate_set_pxat(ctx, key, args.get(3), at);
    ctx.notify(STRING, "set", key);
    ctx.notify(GENERIC, "expire", key);
    ctx.out.ok();
}

/// GETSET key value: sets the value (clearing any TTL) and replies the old value or nil.
fn getset(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    match db.lookup_read(key) {
        None => ctx.out.null(),
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => reply_string(&mut ctx.out, &e.value),
    }
    db.set(key, Value::from_bytes(args.get(2)), 0);
    ctx.notify(STRING, "set", key);
}

/// GETDEL key: replies the value (or nil) and deletes the key.
fn getdel(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    match db.lookup_read(key) {
        None => return ctx.out.null(),
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => reply_string(&mut ctx.out, &e.value),
    }
    db.remove(key);
    ctx.propagate(&[b"DEL", key]);
    ctx.notify(GENERIC, "del", key);
}

/// `SET key value PXAT ms`: how SET with EX/PX/EXAT, SETEX and PSETEX propagate.
fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], value: &[u8], at_ms: u64) {
    ctx.propagate(&[b"SET", key, value, b"PXAT", at_ms.to_string().as_bytes()]);
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ts-ms|PERSIST]: the value (or nil), changing its TTL; an
/// expiry already in the past deletes the key.
fn getex(ctx: &mut Ctx, args: Args) {
    let opts = match parse_set_options(&args, 2, false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let now = ctx.now_ms;
    let at = opts
        .expire
        .map(|(unit, arg)| expire_at(unit, arg, now, "getex"))
        .transpose();
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let (at, had_ttl) = match db.lookup_read(key) {
        None => return ctx.out.null(),
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => match at {
            Err(msg) => return ctx.out.error(&msg),
            Ok(at) => {
                reply_string(&mut ctx.out, &e.value);
                (at, e.expire_at_ms != 0)
            }
        },
    };
    // Never propagated as received: as DEL, PEXPIREAT or PERSIST.
    match at {
        Some(at) if at <= now => {
            db.remove(key);
            ctx.propagate(&[b"DEL", key]);
            ctx.notify(GENERIC, "del", key);
        }
        Some(at) => {
            db.set_expire(key, at);
            ctx.propagate(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
            ctx.notify(GENERIC, "expire", key);
        }
        None if opts.persist && had_ttl => {
            db.set_expire(key, 0);
            ctx.propagate(&[b"PERSIST", key]);
            ctx.notify(GENERIC, "persist", key);
        }
        None => ctx.propagate_none(),
    }
}

/// MGET key [key ...]: an array of values, nil for absent keys and keys of other types.
fn mget(ctx: &mut Ctx, args: Args) {
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        match ctx.shards.db(key).lookup_read(key) {
            Some(e) if e.value.is_string() => reply_string(&mut ctx.out, &e.value),
            _ => ctx.out.null(),
        }
    }
}

/// MSET key value [key value ...]: sets every pair (clearing TTLs); OK.
fn mset(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.wrong_args("mset");
    }
    set_pairs(ctx, &args);
    ctx.out.ok();
}

/// MSETNX key value [key value ...]: sets every pair and replies 1 only when none of the keys
/// exists; otherwise sets nothing and replies 0.
fn msetnx(ctx: &mut Ctx, args: Args) {
    if args.len().is_multiple_of(2) {
        return ctx.wrong_args("msetnx");
    }
    for i in (1..args.len()).step_by(2) {
        let key = args.get(i);
        if ctx.shards.db(key).exists(key) {
            return ctx.out.int(0);
        }
    }
    set_pairs(ctx, &args);
    ctx.out.int(1);
}

fn set_pairs(ctx: &mut Ctx, args: &Args) {
    for i in (1..args.len()).step_by(2) {
        let key = args.get(i);
        ctx.shards
            .db(key)
            .set(key, Value::from_bytes(args.get(i + 1)), 0);
        ctx.notify(STRING, "set", key);
    }
}

// ---- counters ----

/// INCR key: adds 1 to the integer value (absent = 0) and replies the new value.
fn incr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), 1);
}

/// DECR key: subtracts 1 from the integer value and replies the new value.
fn decr(ctx: &mut Ctx, args: Args) {
    incr_by(ctx, args.get(1), -1);
}

/// INCRBY key increment: adds `increment` and replies the new value.
fn incrby(ctx: &mut Ctx, args: Args) {
    match arg_i64(args.get(2)) {
        Some(n) => incr_by(ctx, args.get(1), n),
        None => ctx.out.error(NOT_INTEGER),
    }
}

/// DECRBY key decrement: subtracts `decrement` and replies the new value.
fn decrby(ctx: &mut Ctx, args: Args) {
    match arg_i64(args.get(2)) {
        Some(i64::MIN) => ctx.out.err("decrement would overflow"),
        Some(n) => incr_by(ctx, args.get(1), -n),
        None => ctx.out.error(NOT_INTEGER),
    }
}

fn incr_by(ctx: &mut Ctx, key: &[u8], delta: i64) {
    let mut db = ctx.shards.db(key);
    let result = match db.lookup_write(key) {
        None => None,
        Some(e) => {
            let mut tmp = [0u8; 24];
            let current = match &e.value {
                Value::Int(i) => Some(*i),
                v if v.is_string() => v.string_bytes(&mut tmp).and_then(arg_i64),
                _ => return ctx.out.error(WRONGTYPE),
            };
            let Some(current) = current else {
                return ctx.out.error(NOT_INTEGER);
            };
            let Some(new) = current.checked_add(delta) else {
                return ctx.out.error(OVERFLOW);
            };
            e.value = Value::Int(new);
            Some(new)
        }
    };
    let reply = match result {
        Some(new) => {
            db.touched(key);
            new
        }
        None => {
            db.set(key, Value::Int(delta), 0);
            delta
        }
    };
    ctx.notify(STRING, "incrby", key);
    ctx.out.int(reply)
}

/// INCRBYFLOAT key increment: adds a float (in 80-bit precision, like Redis) and replies the new
/// value as a bulk string; the TTL is kept.
fn incrbyfloat(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let (current, exists) = match db.lookup_write(key) {
        None => (Some(longdouble::Ld::ZERO), false),
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => match &e.value {
            Value::Int(i) => (Some(longdouble::Ld::from_i64(*i)), true),
            Value::Str(s) => (longdouble::parse(s), true),
            Value::Hash(_) | Value::List(_) | Value::Set(_) | Value::ZSet(_) => {
                return ctx.out.error(WRONGTYPE)
            }
        },
    };
    let (Some(current), Some(incr)) = (current, longdouble::parse(args.get(2))) else {
        return ctx.out.error(NOT_FLOAT);
    };
    let Some(sum) = current.checked_add(incr) else {
        return ctx.out.err("increment would produce NaN or Infinity");
    };
    let text = longdouble::format(sum);
    let value = Value::from_bytes(text.as_bytes());
    match db.lookup_write(key) {
        Some(e) if exists => {
            e.value = value;
            db.touched(key);
        }
        _ => db.set(key, value, 0),
    }
    // The result, not the increment: float formatting must not differ between machines.
    ctx.propagate(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.notify(STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
}

// ---- editing and ranges ----

/// APPEND key value: appends to the string (creating it) and replies the new length.
fn append(ctx: &mut Ctx, args: Args) {
    let (key, add) = (args.get(1), args.get(2));
    let mut db = ctx.shards.db(key);
    let new_len = match db.lookup_write(key) {
        None => None,
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) => {
            if string_len(&e.value).saturating_add(add.len()) > STRING_MAX {
                return ctx.out.error(TOO_BIG);
            }
            let s = string_mut(&mut e.value);
            s.extend_from_slice(add);
            let len = s.len();
            normalize(&mut e.value);
            Some(len)
        }
    };
    let len = match new_len {
        Some(len) => {
            db.touched(key);
            len
        }
        None => {
            db.set(key, Value::from_bytes(add), 0);
            add.len()
        }
    };
    ctx.notify(STRING, "append", key);
    ctx.out.int(len as i64)
}

/// STRLEN key: the length of the string, 0 when absent.
fn strlen(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    match ctx.shards.db(key).lookup_read(key) {
        None => ctx.out.int(0),
        Some(e) if !e.value.is_string() => ctx.out.error(WRONGTYPE),
        Some(e) => ctx.out.int(string_len(&e.value) as i64),
    }
}

/// GETRANGE key start end (and SUBSTR): the substring between two inclusive offsets (negative
/// ones count from the end), an empty string when the range is empty or the key absent.
fn getrange(ctx: &mut Ctx, args: Args) {
    let (Some(start), Some(end)) = (arg_i64(args.get(2)), arg_i64(args.get(3))) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let Some(e) = db.lookup_read(key) else {
        return ctx.out.bulk(b"");
    };
    let mut tmp = [0u8; 24];
    let Some(s) = e.value.string_bytes(&mut tmp) else {
        return ctx.out.error(WRONGTYPE);
    };
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    let len = s.len() as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        return ctx.out.bulk(b"");
    }
    ctx.out
        .bulk(s.get(start as usize..=end as usize).unwrap_or(b""));
}

/// SETRANGE key offset value: overwrites bytes from `offset` (zero-padding as needed) and
/// replies the new length.
fn setrange(ctx: &mut Ctx, args: Args) {
    let Some(offset) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.out.err("offset is out of range");
    }
    let (key, value) = (args.get(1), args.get(3));
    let too_big = (offset as u64).saturating_add(value.len() as u64) > STRING_MAX as u64;
    let mut db = ctx.shards.db(key);
    let new_len = match db.lookup_write(key) {
        None if value.is_empty() => return ctx.out.int(0),
        None if too_big => return ctx.out.error(TOO_BIG),
        None => None,
        Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
        Some(e) if value.is_empty() => return ctx.out.int(string_len(&e.value) as i64),
        Some(_) if too_big => return ctx.out.error(TOO_BIG),
        Some(e) => {
            let s = string_mut(&mut e.value);
            write_at(s, offset as usize, value);
            let len = s.len();
            normalize(&mut e.value);
            Some(len)
        }
    };
    let len = match new_len {
        Some(len) => {
            db.touched(key);
            len
        }
        None => {
            let mut s = Vec::new();
            write_at(&mut s, offset as usize, value);
            let len = s.len();
            let mut v = Value::Str(s.into());
            normalize(&mut v);
            db.set(key, v, 0);
            len
        }
    };
    ctx.notify(STRING, "setrange", key);
    ctx.out.int(len as i64)
}

/// Writes `data` at `offset` of `s`, zero-padding (callers have checked the size limit).
fn write_at(s: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if s.len() < end {
        s.resize(end, 0);
    }
    s[offset..end].copy_from_slice(data);
}

// ---- LCS ----

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest common subsequence of
/// two strings (absent keys are empty); with LEN its length; with IDX a map of the matching
/// ranges (last first) and the length.
fn lcs(ctx: &mut Ctx, args: Args) {
    let (ka, kb) = (args.get(1), args.get(2));
    let a = read_bytes(&mut ctx.shards.db(ka), ka);
    let b = read_bytes(&mut ctx.shards.db(kb), kb);
    let (Ok(a), Ok(b)) = (a, b) else {
        return ctx.out.err("The specified keys must contain string values");
    };
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let (mut get_len, mut get_idx, mut with_len, mut min_len) = (false, false, false, 0u64);
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if eq_ic(opt, "idx") {
            get_idx = true;
        } else if eq_ic(opt, "len") {
            get_len = true;
        } else if eq_ic(opt, "withmatchlen") {
            with_len = true;
        } else if eq_ic(opt, "minmatchlen") && i + 1 < args.len() {
            let Some(n) = arg_i64(args.get(i + 1)) else {
                return ctx.out.error(NOT_INTEGER);
            };
            min_len = n.max(0) as u64;
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
        i += 1;
    }
    if get_len && get_idx {
        return ctx
            .out
            .err("If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells.saturating_mul(4) > STRING_MAX as u64 {
        return ctx
            .out
            .err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let mut dp: Vec<u32> = Vec::new();
    if dp.try_reserve_exact(cells as usize).is_err() {
        return ctx
            .out
            .err("Insufficient memory, failed allocating transient memory for LCS");
    }
    // dp[i * w + j] = LCS length of a[..i] and b[..j].
    let w = blen + 1;
    dp.resize(cells as usize, 0);
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen];
    if get_len {
        return ctx.out.int(total as i64);
    }
    // Walk back from the end, collecting the subsequence and its runs of adjacent matches.
    let mut seq = Vec::with_capacity(total as usize);
    let mut ranges: Vec<[usize; 4]> = Vec::new(); // a_start, a_end, b_start, b_end
    let mut run: Option<[usize; 4]> = None;
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            seq.push(a[i - 1]);
            run = Some(match run {
                Some([s, e, bs, be]) if s == i && bs == j => [i - 1, e, j - 1, be],
                _ => [i - 1, i - 1, j - 1, j - 1],
            });
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            ranges.extend(run.take());
        }
    }
    ranges.extend(run.take());
    if !get_idx {
        seq.reverse();
        return ctx.out.bulk(&seq);
    }
    ranges.retain(|r| (r[1] - r[0] + 1) as u64 >= min_len);
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for [s, e, bs, be] in ranges {
        ctx.out.array(2 + with_len as usize);
        ctx.out.array(2);
        ctx.out.int(s as i64);
        ctx.out.int(e as i64);
        ctx.out.array(2);
        ctx.out.int(bs as i64);
        ctx.out.int(be as i64);
        if with_len {
            ctx.out.int((e - s + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}
