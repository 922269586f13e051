//! DEBUG: the introspection and test hooks of Redis 7.0 that tools and test suites use —
//! SLEEP, SET-ACTIVE-EXPIRE, OBJECT, POPULATE, DIGEST, DIGEST-VALUE, LOG, ERROR.
//!
//! DEBUG is flagged ALL_SHARDS: it may read or write any key, and SLEEP stalls the whole
//! keyspace the way it stalls Redis. DIGEST computes exactly Redis's dataset digest, so a
//! ringkv and a redis-server holding the same data answer the same 40 hex digits.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{spec, Ctx, Spec, ADMIN, ALL_SHARDS, LOADING, NOSCRIPT, NO_KEYS, NO_SUCH_KEY, STALE};
use crate::config::DebugCmd;
use crate::resp::Args;
use crate::server::log;
use crate::store::db::lru_clock;
use crate::store::keyspace::Entry;
use crate::store::Value;

pub const COMMANDS: &[Spec] = &[spec(
    "debug",
    -2,
    ADMIN | NOSCRIPT | LOADING | STALE | ALL_SHARDS,
    NO_KEYS,
    debug,
    "server",
    "A container for debugging commands",
    "1.0.0",
)];

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is \
    set to \"local\", you can run it from a local connection, otherwise you need to set this \
    option in the configuration file, and then restart the server.";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// Redis's refcount of its shared small integers (OBJ_SHARED_REFCOUNT).
const SHARED_REFCOUNT: i32 = i32::MAX;
/// Integers below this are shared objects in Redis (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;
/// Redis's LRU clock wraps at 24 bits.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// DEBUG <subcommand> [args]: runs one debugging subcommand; its reply is described at each.
/// Refused unless `enable-debug-command` allows this connection.
fn debug(ctx: &mut Ctx, args: Args) {
    let allowed = match ctx.srv.config().enable_debug_command {
        DebugCmd::Yes => true,
        DebugCmd::No => false,
        DebugCmd::Local => is_local(&ctx.client.shared.addr),
    };
    if !allowed {
        return ctx.out.error(NOT_ALLOWED);
    }
    let sub = args.get(1).to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_slice(), argc) {
        (b"sleep", 3) => sleep(ctx, &args),
        (b"set-active-expire", 3) => {
            let on = atoi(args.get(2)) != 0;
            ctx.srv.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok()
        }
        (b"object", 3) => object(ctx, &args),
        (b"populate", 3..=5) => populate(ctx, &args),
        (b"digest", 2) => {
            let d = dataset_digest(ctx);
            ctx.out.simple(hex(&d).as_bytes())
        }
        (b"digest-value", _) => digest_value(ctx, &args),
        (b"reload", _) => reload(ctx, &args),
        (b"loadaof", 2) => loadaof(ctx),
        (b"log", 3) => {
            log::warning(&format!(
                "DEBUG LOG: {}",
                String::from_utf8_lossy(args.get(2))
            ));
            ctx.out.ok()
        }
        (b"error", 3) => {
            // The argument verbatim as the error text (no "ERR " added).
            ctx.out.error(&one_line(args.get(2), usize::MAX))
        }
        _ => {
            let text = format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                one_line(args.get(1), 128)
            );
            ctx.out.err(&text)
        }
    }
}

/// DEBUG RELOAD [NOSAVE]: saves the dataset (unless NOSAVE), empties every database and loads
/// the file back; OK, or the error that stopped it (the dataset is kept when the save fails).
fn reload(ctx: &mut Ctx, args: &Args) {
    let mut nosave = false;
    for a in args.iter().skip(2) {
        if a.eq_ignore_ascii_case(b"nosave") {
            nosave = true;
        } else {
            return ctx.out.err("DEBUG RELOAD only supports the NOSAVE option.");
        }
    }
    if !nosave && super::persistence::save_to_disk(ctx).is_err() {
        return ctx.out.err("Error trying to save the DB");
    }
    let name = ctx.srv.config().dbfilename.clone();
    let bytes = match std::fs::read(&name) {
        Ok(b) => b,
        Err(e) => {
            return ctx
                .out
                .err(&format!("Error trying to load the RDB dump: {e}"))
        }
    };
    match super::persistence::load_snapshot(ctx, &bytes) {
        Ok(_) => {
            log::notice("DB reloaded by DEBUG RELOAD");
            ctx.out.ok()
        }
        Err(e) => {
            log::warning(&format!("Internal error in RDB reading file {name}: {e}"));
            ctx.out
                .err("Error trying to load the RDB dump, check server logs.")
        }
    }
}

/// DEBUG LOADAOF: flushes the AOF, empties the dataset and loads it back from the AOF files;
/// OK. (Redis exits when the files cannot be loaded; this replies the error instead.)
fn loadaof(ctx: &mut Ctx) {
    let srv = ctx.srv;
    if srv.aof.is_on() {
        srv.aof.flush(&srv.feed);
    }
    let (dir, prefix, _) = super::aof::aof_config(&srv.config());
    let truncated_ok = srv.config().get_bool("aof-load-truncated").unwrap_or(true);
    let manifest = match crate::persist::aof::read_manifest(&dir, &prefix) {
        Ok(Some(m)) => m,
        Ok(None) => return ctx.out.err("Error loading the AOF: no AOF manifest found"),
        Err(e) => return ctx.out.err(&e),
    };
    super::persistence::empty_held(ctx);
    match super::aof::replay(ctx, &dir, &manifest, truncated_ok) {
        Ok(_) => {
            let held: Vec<usize> = ctx.shards.held().collect();
            for i in held {
                ctx.shards.shard(i).dirty = 0;
            }
            log::warning("Append Only File loaded by DEBUG LOADAOF");
            ctx.out.ok()
        }
        Err(e) => {
            log::warning(&e);
            ctx.out.err("Error loading the AOF, check server logs.")
        }
    }
}

/// Whether a peer address ("ip:port") is a loopback connection as Redis's islocalClient sees it.
fn is_local(addr: &str) -> bool {
    addr.starts_with("127.0.0.1:") || addr.starts_with("[::1]:")
}

/// Up to `max` bytes of an argument as text for a reply, with CR and LF turned into spaces
/// (what Redis does to formatted error texts).
fn one_line(b: &[u8], max: usize) -> String {
    let cut = &b[..b.len().min(max)];
    String::from_utf8_lossy(cut).replace(['\r', '\n'], " ")
}

/// C's atoi: optional blanks and sign, then digits; anything else ends the number.
fn atoi(b: &[u8]) -> i64 {
    let s = std::str::from_utf8(b).unwrap_or("").trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for c in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.wrapping_mul(10).wrapping_add((c - b'0') as i64);
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// C's strtod without error checking: the longest numeric prefix, 0 when there is none.
fn strtod(b: &[u8]) -> f64 {
    let s = std::str::from_utf8(b).unwrap_or("").trim_start();
    let bytes = s.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits = |from: usize| {
        from + bytes[from.min(bytes.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let int_end = digits(end);
    let mut mant_end = int_end;
    if bytes.get(int_end) == Some(&b'.') {
        mant_end = digits(int_end + 1);
    }
    if mant_end == end || (mant_end == end + 1 && int_end == end) {
        // No digits: maybe "inf"/"infinity"; anything else reads as 0.
        let rest = s[end..].to_ascii_lowercase();
        let neg = bytes.first() == Some(&b'-');
        return if rest.starts_with("inf") {
            if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else {
            0.0
        };
    }
    end = mant_end;
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let e_end = digits(e);
        if e_end > e {
            end = e_end;
        }
    }
    s[..end].parse().unwrap_or(0.0)
}

/// DEBUG SLEEP seconds: blocks this thread (and, holding every shard, the keyspace) for that
/// long; a negative or unreadable time does not sleep. OK.
fn sleep(ctx: &mut Ctx, args: &Args) {
    let secs = strtod(args.get(2));
    // Like Redis: the time is truncated to whole microseconds.
    let micros = (secs * 1e6) as i64;
    if micros > 0 {
        std::thread::sleep(Duration::from_micros(micros as u64));
    }
    ctx.out.ok()
}

/// DEBUG OBJECT key: Redis's one-line description of the value (address, refcount, encoding,
/// RDB-serialized length, LRU clock, idle seconds) as a status reply; "no such key" when absent.
/// Like Redis, a logically expired key that is still stored is described too.
fn object(ctx: &mut Ctx, args: &Args) {
    let key = args.get(2);
    let now_s = lru_clock(ctx.now_ms);
    let start_s = lru_clock(ctx.srv.start_ms);
    let shared_ok = shared_integers_allowed(ctx);
    let db = ctx.shards.db(key);
    let Some(e) = db.db.table.get_mut(key) else {
        return ctx.out.error(NO_SUCH_KEY);
    };
    let (refcount, access_s) = match e.value {
        // Redis stores small non-negative integers as shared objects created at start-up.
        Value::Int(i) if shared_ok && (0..SHARED_INTEGERS).contains(&i) => {
            (SHARED_REFCOUNT, start_s)
        }
        _ => (1, e.access_s),
    };
    let lru = access_s & LRU_CLOCK_MAX;
    let idle = (now_s & LRU_CLOCK_MAX).wrapping_sub(lru) & LRU_CLOCK_MAX;
    let line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        &e.value as *const Value,
        refcount,
        e.value.encoding(),
        serialized_len(&e.value),
        lru,
        idle
    );
    ctx.out.simple(line.as_bytes())
}

/// Whether Redis would share small integers: not under an LRU/LFU maxmemory policy.
fn shared_integers_allowed(ctx: &Ctx) -> bool {
    let c = ctx.srv.config();
    if c.maxmemory_bytes == 0 {
        return true;
    }
    let policy = c
        .get_matching(b"maxmemory-policy")
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default();
    !(policy.contains("lru") || policy.contains("lfu"))
}

/// Bytes of an RDB length prefix.
fn rdb_len_size(len: u64) -> u64 {
    match len {
        0..=63 => 1,
        64..=16383 => 2,
        16384..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// The size of a value in an RDB file, as DEBUG OBJECT reports it. Strings longer than 20 bytes
/// are counted uncompressed (LZF is not implemented yet; Redis counts them compressed when that
/// saves space).
fn serialized_len(v: &Value) -> u64 {
    match v {
        Value::Int(i) => match *i {
            -128..=127 => 2,
            -32768..=32767 => 3,
            -2147483648..=2147483647 => 5,
            _ => {
                let n = i.to_string().len() as u64;
                rdb_len_size(n) + n
            }
        },
        Value::Str(s) => rdb_len_size(s.len() as u64) + s.len() as u64,
        // A packed hash is saved as one listpack blob; a table as length-prefixed strings.
        Value::Hash(h) => {
            let body: u64 = h
                .iter()
                .map(|(f, v)| 2 + f.len() as u64 + v.len() as u64)
                .sum();
            rdb_len_size(body) + body
        }
        Value::List(l) => {
            let body: u64 = l.iter().map(|e| 1 + e.len() as u64).sum();
            rdb_len_size(body) + body
        }
        Value::ZSet(z) => {
            let body: u64 = z
                .range(0, z.len())
                .iter()
                .map(|(_, m)| 10 + m.len() as u64)
                .sum();
            rdb_len_size(body) + body
        }
        Value::Set(s) => {
            let mut body = 0u64;
            s.for_each(|m| body += 1 + m.len() as u64);
            rdb_len_size(body) + body
        }
    }
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` (default `key:N`) holding `value:N`
/// (padded with zero bytes or cut to `size` when given) for N below count, skipping keys that
/// exist, in the selected database. OK.
fn populate(ctx: &mut Ctx, args: &Args) {
    let Some(count) = positive(args.get(2)) else {
        return ctx.out.error(NOT_POSITIVE);
    };
    let size = if args.len() == 5 {
        match positive(args.get(4)) {
            Some(s) => s,
            None => return ctx.out.error(NOT_POSITIVE),
        }
    } else {
        0
    };
    // A value can be no bigger than a bulk string a client could send.
    if size > ctx.srv.config().proto_max_bulk_len {
        return ctx.out.error(NOT_POSITIVE);
    }
    // Redis formats the key with %s into a 128-byte buffer: the prefix ends at a NUL byte and
    // the key is cut to 127 bytes.
    let prefix: &[u8] = if args.len() >= 4 {
        let p = args.get(3);
        &p[..p.iter().position(|&c| c == 0).unwrap_or(p.len())]
    } else {
        b"key"
    };
    let access_s = lru_clock(ctx.now_ms);
    let mut key = Vec::with_capacity(128);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{j}").as_bytes());
        key.truncate(127);
        let mut db = ctx.shards.db(&key);
        if db.exists(&key) {
            continue;
        }
        let mut value = format!("value:{j}").into_bytes();
        if size > 0 {
            value.resize(size as usize, 0);
        }
        // Like Redis, POPULATE does not count as changes since the last save.
        db.db.table.insert(Entry {
            key: key.as_slice().into(),
            value: Value::from_bytes(&value),
            expire_at_ms: 0,
            access_s,
        });
    }
    ctx.out.ok()
}

/// A non-negative integer argument (Redis's getPositiveLongFromObjectOrReply).
fn positive(b: &[u8]) -> Option<u64> {
    super::arg_i64(b).and_then(|n| u64::try_from(n).ok())
}

/// DEBUG DIGEST-VALUE [key ...]: an array with, for each key of the selected database, the
/// digest of its value (40 zeros when absent), as status replies.
fn digest_value(ctx: &mut Ctx, args: &Args) {
    ctx.out.array(args.len() - 2);
    for key in args.iter().skip(2) {
        let mut d = [0u8; 20];
        // Like Redis, no lazy expiry here: a stored but expired key still has a digest.
        if let Some(r) = ctx.shards.db(key).db.table.records().get(key) {
            digest::entry(&mut d, &r.value(), r.expire_at_ms());
        }
        ctx.out.simple(hex(&d).as_bytes());
    }
}

/// Redis's computeDatasetDigest over every shard: for each database holding keys, mix in its
/// index (big-endian u32), then xor in the digest of every key with its value.
fn dataset_digest(ctx: &mut Ctx) -> digest::Digest {
    let mut total = [0u8; 20];
    let held: Vec<usize> = ctx.shards.held().collect();
    let databases = ctx.srv.config().databases;
    for d in 0..databases {
        let nonempty = held.iter().any(|&i| {
            let sh = ctx.shards.shard(i);
            sh.dbs.get(d).is_some_and(|db| !db.table.is_empty())
        });
        if !nonempty {
            continue;
        }
        digest::mix(&mut total, &(d as u32).to_be_bytes());
        for &i in &held {
            let Some(db) = ctx.shards.shard(i).dbs.get_mut(d) else {
                continue;
            };
            for r in db.table.records().iter() {
                let mut kd = [0u8; 20];
                digest::mix(&mut kd, r.key());
                digest::entry(&mut kd, &r.value(), r.expire_at_ms());
                digest::xor(&mut total, &kd);
            }
        }
    }
    total
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest arithmetic of Redis's DEBUG DIGEST. `xor` folds in a SHA1 so order does not
/// matter (keys, set members); `mix` also re-hashes the result so order matters (list items).
mod digest {
    use crate::store::Value;
    use sha1::{Digest as _, Sha1};

    pub type Digest = [u8; 20];

    /// digest ^= SHA1(data).
    pub fn xor(d: &mut Digest, data: &[u8]) {
        let h = Sha1::digest(data);
        for (a, b) in d.iter_mut().zip(h.iter()) {
            *a ^= b;
        }
    }

    /// digest = SHA1(digest ^ SHA1(data)).
    pub fn mix(d: &mut Digest, data: &[u8]) {
        xor(d, data);
        let h = Sha1::digest(&d[..]);
        d.copy_from_slice(&h);
    }

    /// Redis's type number (OBJ_STRING = 0, OBJ_LIST = 1, OBJ_SET = 2, OBJ_ZSET = 3,
    /// OBJ_HASH = 4, OBJ_STREAM = 6).
    fn type_code(v: &Value) -> u32 {
        match v {
            Value::Int(_) | Value::Str(_) => 0,
            Value::List(_) => 1,
            Value::Set(_) => 2,
            Value::ZSet(_) => 3,
            Value::Hash(_) => 4,
        }
    }

    /// Redis's xorObjectDigest: mixes in the type and the value's contents, then marks an expiry.
    pub fn entry(d: &mut Digest, value: &Value, expire_at_ms: u64) {
        mix(d, &type_code(value).to_be_bytes());
        match value {
            Value::Int(_) | Value::Str(_) => {
                let mut tmp = [0u8; 24];
                if let Some(b) = value.string_bytes(&mut tmp) {
                    mix(d, b);
                }
            }
            Value::List(l) => {
                // Order matters: each element is mixed into the key's digest in turn.
                for e in l.iter() {
                    mix(d, e);
                }
            }
            Value::ZSet(z) => {
                // Order-independent: member and score ("%.17g") mixed per element, xored in.
                for (score, m) in z.range(0, z.len()) {
                    let mut ele: Digest = [0; 20];
                    mix(&mut ele, m);
                    mix(&mut ele, crate::resp::reply::fmt_g17(score).as_bytes());
                    xor(d, &ele);
                }
            }
            Value::Set(s) => {
                // Order-independent: each member's SHA1 is xored in.
                s.for_each(|m| xor(d, m));
            }
            Value::Hash(h) => {
                // Order-independent: each field's digest is xored in.
                for (f, v) in h.iter() {
                    let mut ele: Digest = [0; 20];
                    mix(&mut ele, f);
                    mix(&mut ele, v);
                    xor(d, &ele);
                }
            }
        }
        if expire_at_ms != 0 {
            xor(d, b"!!expire!!");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{atoi, strtod};

    #[test]
    fn c_number_prefixes() {
        assert_eq!(strtod(b"0.1x"), 0.1);
        assert_eq!(strtod(b"abc"), 0.0);
        assert_eq!(strtod(b" 2e-1"), 0.2);
        assert_eq!(strtod(b"-1"), -1.0);
        assert_eq!(strtod(b"."), 0.0);
        assert_eq!(strtod(b"1e"), 1.0);
        assert_eq!(strtod(b"inf"), f64::INFINITY);
        assert_eq!(atoi(b"12ab"), 12);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(atoi(b" -3"), -3);
    }
}
