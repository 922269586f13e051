//! Set commands through the binary: replies and errors, encodings, random commands compared with
//! a real redis-server (unordered replies sorted first), digests, and an SMOVE storm across
//! shards that never loses or duplicates a member.

mod common;

use common::{err, q, Server};
use redis::Value as V;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn basic_commands_and_errors() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    assert_eq!(
        q::<i64>(&mut c, &["SADD", "s", "3", "1", "2", "2"]).unwrap(),
        3
    );
    // An intset replies in ascending order, as Redis's does.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SMEMBERS", "s"]).unwrap(),
        vec!["1", "2", "3"]
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(),
        "intset"
    );
    assert_eq!(q::<i64>(&mut c, &["SADD", "s", "x"]).unwrap(), 1);
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(),
        "hashtable"
    );
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "s", "x"]).unwrap(), 1);
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "1", "9", "x"]).unwrap(),
        vec![1, 0, 1]
    );
    assert_eq!(q::<i64>(&mut c, &["SCARD", "s"]).unwrap(), 4);
    assert_eq!(q::<i64>(&mut c, &["SREM", "s", "x", "y"]).unwrap(), 1);
    q::<i64>(&mut c, &["SADD", "t", "2", "3", "4"]).unwrap();
    assert_eq!(
        sorted(q(&mut c, &["SINTER", "s", "t"]).unwrap()),
        vec!["2", "3"]
    );
    assert_eq!(
        sorted(q(&mut c, &["SUNION", "s", "t"]).unwrap()),
        vec!["1", "2", "3", "4"]
    );
    assert_eq!(sorted(q(&mut c, &["SDIFF", "s", "t"]).unwrap()), vec!["1"]);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["SINTER", "s", "nokey"])
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["SINTERSTORE", "d", "s", "t"]).unwrap(),
        2
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "d"]).unwrap(),
        "intset"
    );
    assert_eq!(q::<i64>(&mut c, &["SDIFFSTORE", "d", "s", "s"]).unwrap(), 0);
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "d"]).unwrap(),
        0,
        "an empty result deletes"
    );
    assert_eq!(
        q::<i64>(&mut c, &["SINTERCARD", "2", "s", "t", "LIMIT", "1"]).unwrap(),
        1
    );
    assert_eq!(
        err(q(&mut c, &["SINTERCARD", "0", "s"])),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "s", "t", "1"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["SMOVE", "s", "t", "1"]).unwrap(), 0);
    let popped: Vec<String> = q(&mut c, &["SPOP", "t", "10"]).unwrap();
    assert_eq!(sorted(popped), vec!["1", "2", "3", "4"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "t"]).unwrap(), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["SPOP", "t"]).unwrap(), None);
    assert_eq!(
        err(q(&mut c, &["SPOP", "s", "-1"])),
        "ERR value is out of range, must be positive"
    );
    q::<i64>(&mut c, &["SADD", "r", "a", "b", "c"]).unwrap();
    let distinct: Vec<String> = q(&mut c, &["SRANDMEMBER", "r", "10"]).unwrap();
    assert_eq!(sorted(distinct), vec!["a", "b", "c"]);
    let repeated: Vec<String> = q(&mut c, &["SRANDMEMBER", "r", "-7"]).unwrap();
    assert_eq!(repeated.len(), 7);
    assert!(repeated
        .iter()
        .all(|m| ["a", "b", "c"].contains(&m.as_str())));
    q::<String>(&mut c, &["SET", "str", "x"]).unwrap();
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        &["SADD", "str", "a"][..],
        &["SMEMBERS", "str"],
        &["SINTER", "r", "str"],
        &["SMOVE", "r", "str", "a"],
        &["SUNIONSTORE", "d", "r", "str"],
    ] {
        assert_eq!(err(q(&mut c, cmd)), wrong, "{cmd:?}");
    }
    assert_eq!(err(q(&mut c, &["LPUSH", "r", "x"])), wrong);
}

/// Normalises replies whose order Redis does not define (set members).
fn normal(cmd: &str, v: redis::RedisResult<V>) -> String {
    match v {
        Ok(V::Array(items)) | Ok(V::Set(items)) if cmd != "SMISMEMBER" => {
            let mut s: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            s.sort();
            format!("{s:?}")
        }
        other => format!("{other:?}"),
    }
}

/// The same random set commands against redis-server and ringkv (a small intset limit, two
/// shards): replies agree once unordered ones are sorted.
#[test]
fn random_commands_reply_like_redis() {
    let Some((real, srv)) =
        common::real_and_ringkv(&["--threads", "2", "--set-max-intset-entries", "8"])
    else {
        return;
    };
    q::<String>(
        &mut real.client(),
        &["CONFIG", "SET", "set-max-intset-entries", "8"],
    )
    .unwrap();
    let mut r = real.client();
    let mut k = srv.client();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let members = ["1", "2", "3", "10", "-5", "a", "b", "007", "99999999999"];
    for step in 0..4000 {
        let key = format!("s{}", next(3));
        let other = format!("s{}", next(3));
        let m = members[next(members.len() as u64) as usize].to_string();
        let cmd: Vec<String> = match next(12) {
            0 | 1 => vec!["SADD".into(), key, m.clone(), m],
            2 => vec!["SREM".into(), key, m],
            3 => vec!["SMEMBERS".into(), key],
            4 => vec!["SISMEMBER".into(), key, m],
            5 => vec!["SCARD".into(), key],
            6 => vec!["SMOVE".into(), key, other, m],
            7 => vec!["SINTER".into(), key, other],
            8 => vec!["SUNIONSTORE".into(), key, other, "s0".into()],
            9 => vec!["SDIFF".into(), key, other],
            10 => vec!["SMISMEMBER".into(), key, m, "a".into()],
            _ => vec!["SINTERCARD".into(), "2".into(), key, other],
        };
        let mut a = redis::cmd(&cmd[0]);
        let mut b = redis::cmd(&cmd[0]);
        for arg in &cmd[1..] {
            a.arg(arg);
            b.arg(arg);
        }
        let ra = normal(&cmd[0], a.query(&mut r));
        let rb = normal(&cmd[0], b.query(&mut k));
        assert_eq!(
            ra, rb,
            "step {step}: {cmd:?} differs (left redis, right ringkv)"
        );
        if step % 500 == 0 {
            for key in ["s0", "s1", "s2"] {
                let ea: redis::RedisResult<String> = q(&mut r, &["OBJECT", "ENCODING", key]);
                let eb: redis::RedisResult<String> = q(&mut k, &["OBJECT", "ENCODING", key]);
                assert_eq!(format!("{ea:?}"), format!("{eb:?}"), "encoding of {key}");
            }
        }
    }
}

/// DEBUG DIGEST-VALUE of sets (intset and table) equals redis-server's.
#[test]
fn set_digests_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    for c in [&mut r, &mut k] {
        q::<i64>(
            c,
            &["SADD", "ints", "1", "-2", "300000", "9223372036854775807"],
        )
        .unwrap();
        q::<i64>(c, &["SADD", "mixed", "a", "1", "007", ""]).unwrap();
        for i in 0..1000 {
            q::<i64>(c, &["SADD", "large", &i.to_string()]).unwrap();
        }
    }
    common::assert_same_digests(&mut r, &mut k, &["ints", "mixed", "large"]);
    for key in ["ints", "mixed", "large"] {
        let a: String = q(&mut r, &["OBJECT", "ENCODING", key]).unwrap();
        let b: String = q(&mut k, &["OBJECT", "ENCODING", key]).unwrap();
        assert_eq!(a, b, "encoding of {key}");
    }
}

/// Concurrent SMOVEs between sets on different shards never lose or duplicate a member.
#[test]
fn smove_storm_keeps_every_member_once() {
    let srv = Server::start(&["--threads", "2"]);
    let keys: Vec<String> = (0..6).map(|i| format!("set:{i}")).collect();
    let n = 100;
    {
        let mut c = srv.client();
        for (i, key) in keys.iter().enumerate() {
            let mut cmd = redis::cmd("SADD");
            cmd.arg(key);
            for e in 0..n {
                cmd.arg(format!("{i}:{e}"));
            }
            let _: i64 = cmd.query(&mut c).unwrap();
        }
    }
    let all: Vec<String> = (0..keys.len())
        .flat_map(|i| (0..n).map(move |e| format!("{i}:{e}")))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let url = srv.url();
        let keys = keys.clone();
        let all = all.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut s = w + 1;
            let mut moved = 0u64;
            while Instant::now() < deadline {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let a = &keys[((s >> 33) % keys.len() as u64) as usize];
                let b = &keys[((s >> 40) % keys.len() as u64) as usize];
                let m = &all[((s >> 20) % all.len() as u64) as usize];
                moved += redis::cmd("SMOVE")
                    .arg(a)
                    .arg(b)
                    .arg(m)
                    .query::<i64>(&mut c)
                    .unwrap() as u64;
            }
            moved
        }));
    }
    let moved: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(moved > 10, "too few moves: {moved}");
    let mut c = srv.client();
    let mut count: HashMap<String, usize> = HashMap::new();
    for key in &keys {
        let members: Vec<String> = q(&mut c, &["SMEMBERS", key]).unwrap();
        for m in members {
            *count.entry(m).or_default() += 1;
        }
    }
    let seen: BTreeSet<&String> = count.keys().collect();
    assert_eq!(seen.len(), all.len(), "members lost");
    assert!(count.values().all(|&v| v == 1), "members duplicated");
}
