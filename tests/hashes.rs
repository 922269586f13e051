//! Hash commands through the binary: replies and errors, both encodings and the conversion
//! between them, RESP3 maps, HRANDFIELD and HSCAN guarantees, random operations against a model,
//! and digests equal to a real redis-server's for the same hashes.

mod common;

use common::{err, q, Server};
use std::collections::{BTreeMap, HashSet};

#[test]
fn basic_commands_and_errors() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(
        q::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2"]).unwrap(),
        2
    );
    assert_eq!(
        q::<i64>(&mut c, &["HSET", "h", "a", "10", "c", "3"]).unwrap(),
        1
    );
    assert_eq!(
        q::<String>(&mut c, &["HMSET", "h", "d", "4"]).unwrap(),
        "OK"
    );
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "a"]).unwrap(), "10");
    assert_eq!(
        q::<Option<String>>(&mut c, &["HGET", "h", "zz"]).unwrap(),
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["HGET", "nokey", "a"]).unwrap(),
        None
    );
    assert_eq!(
        q::<Vec<Option<String>>>(&mut c, &["HMGET", "h", "a", "zz", "d"]).unwrap(),
        vec![Some("10".into()), None, Some("4".into())]
    );
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]).unwrap(), 4);
    assert_eq!(q::<i64>(&mut c, &["HEXISTS", "h", "b"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["HEXISTS", "h", "zz"]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["HSTRLEN", "h", "a"]).unwrap(), 2);
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "h", "a", "x"]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["HSETNX", "h", "e", "5"]).unwrap(), 1);
    // Packed hashes keep insertion order, as Redis's listpack does.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HKEYS", "h"]).unwrap(),
        vec!["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HVALS", "h"]).unwrap(),
        vec!["10", "2", "3", "4", "5"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HGETALL", "h"]).unwrap(),
        vec!["a", "10", "b", "2", "c", "3", "d", "4", "e", "5"]
    );
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "h", "a", "-15"]).unwrap(), -5);
    assert_eq!(q::<i64>(&mut c, &["HINCRBY", "h", "new", "7"]).unwrap(), 7);
    assert_eq!(
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "a", "0.5"]).unwrap(),
        "-4.5"
    );
    assert_eq!(
        q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]).unwrap(),
        "10.5"
    );
    assert_eq!(
        err(q(&mut c, &["HINCRBY", "h", "a", "1"])),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(q(&mut c, &["HINCRBY", "h", "b", "x"])),
        "ERR value is not an integer or out of range"
    );
    q::<i64>(&mut c, &["HSET", "h", "big", &i64::MAX.to_string()]).unwrap();
    assert_eq!(
        err(q(&mut c, &["HINCRBY", "h", "big", "1"])),
        "ERR increment or decrement would overflow"
    );
    q::<i64>(&mut c, &["HSET", "h", "word", "abc"]).unwrap();
    assert_eq!(
        err(q(&mut c, &["HINCRBYFLOAT", "h", "word", "1"])),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(q(&mut c, &["HINCRBYFLOAT", "h", "b", "x"])),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(q(&mut c, &["HSET", "h", "a"])),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(q(&mut c, &["HSET", "h", "a", "1", "b"])),
        "ERR wrong number of arguments for 'hset' command"
    );
    // Deleting the last field deletes the key.
    assert_eq!(q::<i64>(&mut c, &["HSET", "one", "f", "v"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["HDEL", "one", "f", "g"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "one"]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["HDEL", "one", "f"]).unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]).unwrap(), "hash");
    // Wrong types both ways.
    q::<String>(&mut c, &["SET", "s", "x"]).unwrap();
    let wrong = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        &["HGET", "s", "a"][..],
        &["HSET", "s", "a", "1"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s"],
    ] {
        assert_eq!(err(q(&mut c, cmd)), wrong, "{cmd:?}");
    }
    assert_eq!(err(q(&mut c, &["GET", "h"])), wrong);
    assert_eq!(err(q(&mut c, &["APPEND", "h", "x"])), wrong);
}

#[test]
fn encodings_convert_at_the_thresholds() {
    let srv = Server::start(&[
        "--hash-max-listpack-entries",
        "4",
        "--hash-max-listpack-value",
        "8",
    ]);
    let mut c = srv.client();
    for i in 0..4 {
        q::<i64>(&mut c, &["HSET", "h", &format!("f{i}"), "v"]).unwrap();
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]).unwrap(),
        "listpack"
    );
    q::<i64>(&mut c, &["HSET", "h", "f4", "v"]).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h"]).unwrap(),
        "hashtable"
    );
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]).unwrap(), 5);
    q::<i64>(&mut c, &["HSET", "v", "f", "12345678"]).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "v"]).unwrap(),
        "listpack"
    );
    q::<i64>(&mut c, &["HSET", "v", "f", "123456789"]).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "v"]).unwrap(),
        "hashtable"
    );
    q::<i64>(&mut c, &["HSET", "k", "a-long-field", "1"]).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "k"]).unwrap(),
        "hashtable"
    );
    // CONFIG SET moves the thresholds for hashes created afterwards.
    q::<String>(
        &mut c,
        &["CONFIG", "SET", "hash-max-listpack-entries", "100"],
    )
    .unwrap();
    for i in 0..50 {
        q::<i64>(&mut c, &["HSET", "h2", &format!("f{i}"), "v"]).unwrap();
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "h2"]).unwrap(),
        "listpack"
    );
    // The old ziplist name is an alias of the same setting.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["CONFIG", "GET", "hash-max-ziplist-entries"]).unwrap(),
        vec!["hash-max-ziplist-entries", "100"]
    );
}

#[test]
fn hgetall_is_a_map_in_resp3_and_hrandfield_counts() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<i64>(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]).unwrap();
    let mut s = srv.raw();
    let out = common::raw_exchange_n(
        &mut s,
        b"HELLO 3\r\nHGETALL h\r\n",
        usize::MAX,
        std::time::Duration::from_millis(500),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.ends_with("%3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        "{text}"
    );
    // A positive count gives distinct fields, at most the hash's size.
    let f: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "10"]).unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f.iter().collect::<HashSet<_>>().len(), 3);
    let f: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "2"]).unwrap();
    assert_eq!(f.len(), 2);
    assert_ne!(f[0], f[1]);
    // A negative count may repeat and gives exactly |count|.
    let f: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "-20", "WITHVALUES"]).unwrap();
    assert_eq!(f.len(), 40);
    for pair in f.chunks(2) {
        let want = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            other => panic!("unknown field {other}"),
        };
        assert_eq!(pair[1], want);
    }
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HRANDFIELD", "nokey", "5"])
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &["HRANDFIELD", "nokey"]).unwrap(),
        None
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["HRANDFIELD", "h", "0"])
            .unwrap()
            .len(),
        0
    );
}

/// HSCAN over a large hash returns every field present for the whole scan, even while the hash
/// grows between calls.
#[test]
fn hscan_returns_every_stable_field_while_growing() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let n = 3000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut cmd = redis::cmd("HSET");
        cmd.arg("big");
        for i in chunk {
            cmd.arg(format!("old:{i}")).arg(i);
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "big"]).unwrap(),
        "hashtable"
    );
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut added = 0;
    for _ in 0..100_000 {
        let (next, items): (String, Vec<String>) =
            q(&mut c, &["HSCAN", "big", &cursor, "COUNT", "100"]).unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        for _ in 0..50 {
            q::<i64>(&mut c, &["HSET", "big", &format!("new:{added}"), "x"]).unwrap();
            added += 1;
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the scan did not finish");
    for i in 0..n {
        assert!(seen.contains(&format!("old:{i}")), "missed old:{i}");
    }
    // MATCH filters.
    let (_, items): (String, Vec<String>) = q(
        &mut c,
        &["HSCAN", "big", "0", "MATCH", "old:1?", "COUNT", "100000"],
    )
    .unwrap();
    let fields: HashSet<String> = items.chunks(2).map(|p| p[0].clone()).collect();
    let want: HashSet<String> = (10..20).map(|i| format!("old:{i}")).collect();
    assert_eq!(fields, want);
}

/// Random HSET/HDEL/HINCRBY against a map model, across both encodings (small thresholds) and
/// both shards; every reply and the final contents must agree.
#[test]
fn random_operations_match_a_model() {
    let srv = Server::start(&["--threads", "2", "--hash-max-listpack-entries", "8"]);
    let mut c = srv.client();
    let mut model: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let key = format!("h{}", next() % 4);
        let field = format!("f{}", next() % 16);
        let m = model.entry(key.clone()).or_default();
        match next() % 4 {
            0 | 1 => {
                let v = (next() % 100) as i64;
                let added: i64 = q(&mut c, &["HSET", &key, &field, &v.to_string()]).unwrap();
                assert_eq!(added == 1, m.insert(field, v).is_none());
            }
            2 => {
                let removed: i64 = q(&mut c, &["HDEL", &key, &field]).unwrap();
                assert_eq!(removed == 1, m.remove(&field).is_some());
            }
            _ => {
                let got: i64 = q(&mut c, &["HINCRBY", &key, &field, "3"]).unwrap();
                let e = m.entry(field).or_insert(0);
                *e += 3;
                assert_eq!(got, *e);
            }
        }
    }
    for (key, m) in &model {
        let got: BTreeMap<String, i64> = q(&mut c, &["HGETALL", key]).unwrap();
        assert_eq!(&got, m, "{key}");
        assert_eq!(
            q::<i64>(&mut c, &["EXISTS", key]).unwrap(),
            !m.is_empty() as i64
        );
    }
}

/// DEBUG DIGEST-VALUE and DEBUG DIGEST of hashes in both encodings equal a real redis-server's.
#[test]
fn hash_digests_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    for c in [&mut r, &mut k] {
        q::<i64>(c, &["HSET", "small", "a", "1", "b", "two", "c", "-3"]).unwrap();
        for i in 0..600 {
            q::<i64>(
                c,
                &["HSET", "large", &format!("field:{i}"), &format!("v{i}")],
            )
            .unwrap();
        }
        q::<i64>(c, &["HSET", "longval", "f", &"x".repeat(100)]).unwrap();
        q::<i64>(c, &["HSET", "mid", "f1", "1", "f2", "2"]).unwrap();
        q::<i64>(c, &["EXPIRE", "small", "1000"]).unwrap();
    }
    common::assert_same_digests(&mut r, &mut k, &["small", "mid", "large", "longval"]);
    for key in ["small", "mid", "large", "longval"] {
        let ea: String = q(&mut r, &["OBJECT", "ENCODING", key]).unwrap();
        let eb: String = q(&mut k, &["OBJECT", "ENCODING", key]).unwrap();
        assert_eq!(ea, eb, "encoding of {key}");
    }
    let a: String = q(&mut r, &["DEBUG", "DIGEST"]).unwrap();
    let b: String = q(&mut k, &["DEBUG", "DIGEST"]).unwrap();
    assert_eq!(a, b);
}
