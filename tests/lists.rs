//! List commands through the binary: replies and errors, random operations compared reply by
//! reply with a real redis-server, digests equal to redis-server's, and an LMOVE storm across
//! shards that must never lose or duplicate an element.

mod common;

use common::{err, q, Server};
use redis::Value as V;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[test]
fn basic_commands_and_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "l", "a", "b", "c"]).unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, &["LPUSH", "l", "x", "y"]).unwrap(), 5);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "0", "-1"]).unwrap(),
        vec!["y", "x", "a", "b", "c"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "-2", "100"]).unwrap(),
        vec!["b", "c"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "l", "3", "1"])
            .unwrap()
            .len(),
        0
    );
    assert_eq!(q::<i64>(&mut c, &["LPUSHX", "nokey", "a"]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "nokey"]).unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["LINDEX", "l", "-1"]).unwrap(), "c");
    assert_eq!(
        q::<Option<String>>(&mut c, &["LINDEX", "l", "5"]).unwrap(),
        None
    );
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "0", "Y"]).unwrap(), "OK");
    assert_eq!(
        err(q(&mut c, &["LSET", "l", "9", "z"])),
        "ERR index out of range"
    );
    assert_eq!(
        err(q(&mut c, &["LSET", "nokey", "0", "z"])),
        "ERR no such key"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LPOP", "l", "2"]).unwrap(),
        vec!["Y", "x"]
    );
    assert_eq!(q::<String>(&mut c, &["RPOP", "l"]).unwrap(), "c");
    assert_eq!(
        err(q(&mut c, &["LPOP", "l", "-1"])),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(q::<V>(&mut c, &["LPOP", "nokey", "2"]).unwrap(), V::Nil);
    assert_eq!(
        q::<Option<String>>(&mut c, &["LPOP", "nokey"]).unwrap(),
        None
    );
    assert_eq!(
        q::<i64>(&mut c, &["LINSERT", "l", "AFTER", "a", "a2"]).unwrap(),
        3
    );
    assert_eq!(
        q::<i64>(&mut c, &["LINSERT", "l", "BEFORE", "zz", "q"]).unwrap(),
        -1
    );
    assert_eq!(
        q::<i64>(&mut c, &["LINSERT", "nokey", "BEFORE", "a", "q"]).unwrap(),
        0
    );
    assert_eq!(
        err(q(&mut c, &["LINSERT", "l", "ASIDE", "a", "q"])),
        "ERR syntax error"
    );
    q::<i64>(&mut c, &["RPUSH", "r", "a", "b", "a", "c", "a"]).unwrap();
    assert_eq!(
        q::<i64>(&mut c, &["LPOS", "r", "a", "RANK", "-1"]).unwrap(),
        4
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, &["LPOS", "r", "a", "COUNT", "0"]).unwrap(),
        vec![0, 2, 4]
    );
    assert!(err(q(&mut c, &["LPOS", "r", "a", "RANK", "0"])).starts_with("ERR RANK can't be zero"));
    assert_eq!(q::<i64>(&mut c, &["LREM", "r", "-2", "a"]).unwrap(), 2);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "r", "0", "-1"]).unwrap(),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        q::<String>(&mut c, &["LTRIM", "r", "5", "10"]).unwrap(),
        "OK"
    );
    assert_eq!(
        q::<i64>(&mut c, &["EXISTS", "r"]).unwrap(),
        0,
        "an empty range deletes"
    );
    assert_eq!(
        q::<String>(&mut c, &["LMOVE", "l", "dst", "LEFT", "RIGHT"]).unwrap(),
        "a"
    );
    assert_eq!(
        q::<String>(&mut c, &["RPOPLPUSH", "l", "dst"]).unwrap(),
        "b"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "dst", "0", "-1"]).unwrap(),
        vec!["b", "a"]
    );
    assert_eq!(
        q::<(String, Vec<String>)>(
            &mut c,
            &["LMPOP", "2", "nokey", "dst", "RIGHT", "COUNT", "5"]
        )
        .unwrap(),
        ("dst".to_string(), vec!["a".to_string(), "b".to_string()])
    );
    assert_eq!(
        q::<V>(&mut c, &["LMPOP", "1", "dst", "LEFT"]).unwrap(),
        V::Nil
    );
    assert_eq!(
        err(q(&mut c, &["LMPOP", "0", "dst", "LEFT"])),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "l"]).unwrap(),
        "quicklist"
    );
    assert_eq!(q::<String>(&mut c, &["TYPE", "l"]).unwrap(), "list");
    q::<String>(&mut c, &["SET", "s", "x"]).unwrap();
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        &["LPUSH", "s", "a"][..],
        &["LRANGE", "s", "0", "1"],
        &["LLEN", "s"],
        &["LPOP", "s"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
    ] {
        assert_eq!(err(q(&mut c, cmd)), wrong, "{cmd:?}");
    }
    assert_eq!(err(q(&mut c, &["GET", "l"])), wrong);
    assert_eq!(err(q(&mut c, &["HGET", "l", "f"])), wrong);
}

/// The same random list commands against redis-server and ringkv (small nodes, two shards):
/// every reply must be identical, byte for byte in RESP terms.
#[test]
fn random_commands_reply_like_redis() {
    let Some((real, srv)) =
        common::real_and_ringkv(&["--threads", "2", "--list-max-listpack-size", "4"])
    else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for step in 0..4000 {
        let key = format!("l{}", next(3));
        let other = format!("l{}", next(3));
        let v = ["a", "b", "c", "dd", "007", "42"][next(6) as usize].to_string();
        let i = (next(12) as i64 - 6).to_string();
        let j = (next(12) as i64 - 6).to_string();
        let end = ["LEFT", "RIGHT"][next(2) as usize];
        let end2 = ["LEFT", "RIGHT"][next(2) as usize];
        let cmd: Vec<String> = match next(14) {
            0 => vec!["LPUSH".into(), key, v.clone(), v],
            1 => vec!["RPUSH".into(), key, v],
            2 => vec!["LPOP".into(), key],
            3 => vec!["RPOP".into(), key, next(4).to_string()],
            4 => vec!["LRANGE".into(), key, i, j],
            5 => vec!["LINDEX".into(), key, i],
            6 => vec!["LSET".into(), key, i, v],
            7 => vec!["LREM".into(), key, i, v],
            8 => vec!["LTRIM".into(), key, i, j],
            9 => vec!["LINSERT".into(), key, "BEFORE".into(), v.clone(), v],
            10 => vec![
                "LPOS".into(),
                key,
                v,
                "RANK".into(),
                if i == "0" { "1".into() } else { i },
            ],
            11 => vec!["LMOVE".into(), key, other, end.into(), end2.into()],
            12 => vec![
                "LMPOP".into(),
                "2".into(),
                key,
                other,
                end.into(),
                "COUNT".into(),
                "2".into(),
            ],
            _ => vec!["LLEN".into(), key],
        };
        let mut a = redis::cmd(&cmd[0]);
        let mut b = redis::cmd(&cmd[0]);
        for arg in &cmd[1..] {
            a.arg(arg);
            b.arg(arg);
        }
        let ra: redis::RedisResult<V> = a.query(&mut r);
        let rb: redis::RedisResult<V> = b.query(&mut k);
        assert_eq!(
            format!("{ra:?}"),
            format!("{rb:?}"),
            "step {step}: {cmd:?} differs (left redis, right ringkv)"
        );
    }
    for key in ["l0", "l1", "l2"] {
        let a: Vec<String> = q(&mut r, &["LRANGE", key, "0", "-1"]).unwrap();
        let b: Vec<String> = q(&mut k, &["LRANGE", key, "0", "-1"]).unwrap();
        assert_eq!(a, b, "{key}");
    }
}

/// DEBUG DIGEST-VALUE of lists equals redis-server's (order matters in a list's digest).
#[test]
fn list_digests_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    for c in [&mut r, &mut k] {
        q::<i64>(c, &["RPUSH", "small", "a", "1", "-2", "007", ""]).unwrap();
        for i in 0..2000 {
            q::<i64>(c, &["RPUSH", "large", &format!("element:{i}")]).unwrap();
        }
        q::<i64>(c, &["LPUSH", "rev", "x", "y"]).unwrap();
    }
    common::assert_same_digests(&mut r, &mut k, &["small", "large", "rev"]);
}

/// Concurrent LMOVEs between lists on different shards (and LRANGE readers) never lose or
/// duplicate an element: at the end the lists hold exactly the elements pushed at the start.
#[test]
fn lmove_storm_keeps_every_element_once() {
    let srv = Server::start(&["--threads", "2"]);
    let keys: Vec<String> = (0..6).map(|i| format!("list:{i}")).collect();
    let n = 200;
    {
        let mut c = srv.client();
        for (i, key) in keys.iter().enumerate() {
            let mut cmd = redis::cmd("RPUSH");
            cmd.arg(key);
            for e in 0..n {
                cmd.arg(format!("{i}:{e}"));
            }
            let _: i64 = cmd.query(&mut c).unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut workers = Vec::new();
    for w in 0..4usize {
        let url = srv.url();
        let keys = keys.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut moves = 0u64;
            let mut s = w;
            while Instant::now() < deadline {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let a = &keys[(s >> 33) % keys.len()];
                let b = &keys[(s >> 40) % keys.len()];
                let _: Option<String> = redis::cmd("LMOVE")
                    .arg(a)
                    .arg(b)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .query(&mut c)
                    .unwrap();
                moves += 1;
            }
            moves
        }));
    }
    let moves: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(moves > 100, "too few moves ran: {moves}");
    let mut c = srv.client();
    let mut count: HashMap<String, usize> = HashMap::new();
    for key in &keys {
        let items: Vec<String> = q(&mut c, &["LRANGE", key, "0", "-1"]).unwrap();
        for e in items {
            *count.entry(e).or_default() += 1;
        }
    }
    assert_eq!(count.len(), keys.len() * n, "elements lost");
    assert!(count.values().all(|&v| v == 1), "elements duplicated");
}
