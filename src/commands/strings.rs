//! String commands: GET, SET and friends, counters, ranges, LCS.
//!
//! Values are stored as `Value::Int` when they are canonical integers (so INCR needs no parse)
//! and as bytes otherwise.

use super::{arg_i64, eq_ic, spec, Ctx, Spec, DENYOOM, FAST, READONLY, SYNTAX, WRITE, WRONGTYPE};
use crate::resp::Args;
use crate::store::Value;

pub const COMMANDS: &[Spec] = &[
    spec("get", 2, READONLY | FAST, (1, 1, 1), get, "string", "Returns the string value of a key.", "1.0.0"),
    spec("set", -3, WRITE | DENYOOM, (1, 1, 1), set, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0"),
];

/// GET key: the value as a bulk string, nil when absent, WRONGTYPE for other types.
fn get(ctx: &mut Ctx, args: Args) {
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    match db.lookup_read(key) {
        None => ctx.out.null(),
        Some(e) => match &e.value {
            Value::Int(i) => {
                let i = *i;
                ctx.out.bulk_i64(i)
            }
            Value::Str(s) => ctx.out.bulk(s),
        },
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts-ms|KEEPTTL]: OK, or nil when NX/XX
/// prevented the write; with GET, the old value (or nil) instead.
fn set(ctx: &mut Ctx, args: Args) {
    let opts = match parse_set_options(&args, 3, ctx.now_ms, true) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let key = args.get(1);
    let mut db = ctx.shards.db(key);
    let existing = db.lookup_write(key);
    let exists = existing.is_some();
    let mut old: Option<Option<Vec<u8>>> = None;
    if opts.get {
        match existing {
            Some(e) if !e.value.is_string() => return ctx.out.error(WRONGTYPE),
            Some(e) => old = Some(e.value.to_bytes()),
            None => old = Some(None),
        }
    }
    let keep_expire = if opts.keep_ttl {
        db.lookup_write(key).map(|e| e.expire_at_ms).unwrap_or(0)
    } else {
        0
    };
    let blocked = (opts.nx && exists) || (opts.xx && !exists);
    if !blocked {
        let expire = if opts.keep_ttl {
            keep_expire
        } else {
            opts.expire_at_ms
        };
        db.set(key, Value::from_bytes(args.get(2)), expire);
    }
    match old {
        Some(Some(v)) => ctx.out.bulk(&v),
        Some(None) => ctx.out.null(),
        None if blocked => ctx.out.null(),
        None => ctx.out.ok(),
    }
}

/// Parsed SET/GETEX-style options.
#[derive(Default)]
pub struct SetOptions {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keep_ttl: bool,
    pub persist: bool,
    /// Absolute expiry (ms), 0 when none was given.
    pub expire_at_ms: u64,
    pub has_expire: bool,
}

/// Parses SET options from `args[from..]`. `allow_cond` enables NX/XX/GET/KEEPTTL (SET) versus
/// PERSIST (GETEX). Error texts are Redis's.
pub fn parse_set_options(
    args: &Args,
    from: usize,
    now_ms: u64,
    allow_cond: bool,
) -> Result<SetOptions, &'static str> {
    let mut o = SetOptions::default();
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let next = if i + 1 < args.len() {
            Some(args.get(i + 1))
        } else {
            None
        };
        if allow_cond && eq_ic(a, "nx") && !o.xx {
            o.nx = true;
        } else if allow_cond && eq_ic(a, "xx") && !o.nx {
            o.xx = true;
        } else if allow_cond && eq_ic(a, "get") {
            o.get = true;
        } else if allow_cond && eq_ic(a, "keepttl") && !o.has_expire {
            o.keep_ttl = true;
        } else if !allow_cond && eq_ic(a, "persist") && !o.has_expire {
            o.persist = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && !o.keep_ttl
            && !o.persist
            && !o.has_expire
            && next.is_some()
        {
            let Some(n) = next.and_then(arg_i64) else {
                return Err(super::NOT_INTEGER);
            };
            let name = if allow_cond { "set" } else { "getex" };
            if n <= 0 {
                return Err(invalid_expire(name));
            }
            let n = n as u64;
            let at = if eq_ic(a, "ex") {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(now_ms))
            } else if eq_ic(a, "px") {
                n.checked_add(now_ms)
            } else if eq_ic(a, "exat") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            match at {
                Some(at) if at <= i64::MAX as u64 => o.expire_at_ms = at,
                _ => return Err(invalid_expire(name)),
            }
            o.has_expire = true;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

fn invalid_expire(cmd: &str) -> &'static str {
    if cmd == "set" {
        "ERR invalid expire time in 'set' command"
    } else {
        "ERR invalid expire time in 'getex' command"
    }
}
