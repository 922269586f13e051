//! A key as the commands that recreate it: the body of an AOF base written without the RDB
//! preamble (`aof-use-rdb-preamble no`). Collections are written in batches of
//! `ITEMS_PER_COMMAND` so no command grows with the collection, as Redis's rewrite does.

use crate::repl::propagate::encode_into;
use crate::store::record::Record;
use crate::store::Value;

/// Elements per RPUSH / SADD / ZADD / HSET (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_COMMAND: usize = 64;

/// Appends the commands that recreate `r` (and its expiry) to `out`.
pub fn record_commands(r: &Record, out: &mut Vec<u8>) {
    let key = r.key();
    match r.str_bytes() {
        Some(s) => encode_into(out, 3, [&b"SET"[..], key, s].into_iter()),
        None => value_commands(key, &r.value(), out),
    }
    let at = r.expire_at_ms();
    if at != 0 {
        let at = at.to_string();
        encode_into(out, 3, [&b"PEXPIREAT"[..], key, at.as_bytes()].into_iter());
    }
}

/// Appends the commands that recreate value `v` under `key` to `out` (no expiry).
fn value_commands(key: &[u8], v: &Value, out: &mut Vec<u8>) {
    let mut items: Vec<Vec<u8>> = Vec::new();
    let (name, per_item): (&[u8], usize) = match v {
        Value::Int(i) => {
            let s = i.to_string();
            encode_into(out, 3, [&b"SET"[..], key, s.as_bytes()].into_iter());
            return;
        }
        Value::Str(s) => {
            encode_into(out, 3, [&b"SET"[..], key, &s[..]].into_iter());
            return;
        }
        Value::List(l) => {
            items.extend(l.iter().map(|e| e.to_vec()));
            (b"RPUSH", 1)
        }
        Value::Set(s) => {
            s.for_each(|m| items.push(m.to_vec()));
            (b"SADD", 1)
        }
        Value::ZSet(z) => {
            for (score, m) in z.range(0, z.len()) {
                items.push(format_score(score).into_bytes());
                items.push(m.to_vec());
            }
            (b"ZADD", 2)
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                items.push(f.to_vec());
                items.push(v.to_vec());
            }
            (b"HSET", 2)
        }
    };
    for batch in items.chunks(ITEMS_PER_COMMAND * per_item) {
        let args = [name, key]
            .into_iter()
            .chain(batch.iter().map(|a| a.as_slice()));
        encode_into(out, 2 + batch.len(), args);
    }
}

/// A score that reads back as the same double ("inf", "-inf", shortest round-trip digits).
fn format_score(s: f64) -> String {
    if s.is_infinite() {
        return if s > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{s}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::aof::read::Commands;

    #[test]
    fn collections_are_batched_and_expiries_follow() {
        let mut set = crate::store::set::Set::default();
        for i in 0..150 {
            set.insert(format!("m{i}").as_bytes(), &Default::default());
        }
        let r = Record::new(b"k", Value::Set(set), 1_900_000_000_000, 0);
        let mut out = Vec::new();
        record_commands(&r, &mut out);
        let mut cmds = Commands::new(&out);
        let mut members = 0;
        let mut names = Vec::new();
        while let Some(c) = cmds.next_command() {
            let c = c.unwrap();
            names.push(String::from_utf8_lossy(c[0]).to_string());
            if c[0] == b"SADD" {
                assert!(c.len() - 2 <= ITEMS_PER_COMMAND);
                members += c.len() - 2;
            }
        }
        assert_eq!(members, 150);
        assert_eq!(names, ["SADD", "SADD", "SADD", "PEXPIREAT"]);
        assert_eq!(format_score(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_score(0.1).parse::<f64>().unwrap(), 0.1);
    }
}
