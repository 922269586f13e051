//! Sorted-set commands through the binary: errors and encodings, thousands of random commands
//! compared reply by reply with a real redis-server (both encodings, two shards), and digests
//! equal to redis-server's.

mod common;

use common::{err, q, Server};
use redis::Value as V;

#[test]
fn basics_errors_and_encodings() {
    let srv = Server::start(&["--zset-max-listpack-entries", "4"]);
    let mut c = srv.client();
    assert_eq!(
        q::<i64>(&mut c, &["ZADD", "z", "1", "a", "2", "b", "1.5", "c"]).unwrap(),
        3
    );
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]).unwrap(),
        "listpack"
    );
    // Scores print like Redis 7.0 (%.17g).
    assert_eq!(
        q::<String>(&mut c, &["ZINCRBY", "z", "0.1", "a"]).unwrap(),
        "1.1000000000000001"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).unwrap(),
        vec!["a", "1.1000000000000001", "c", "1.5", "b", "2"]
    );
    q::<i64>(&mut c, &["ZADD", "z", "3", "d", "4", "e"]).unwrap();
    assert_eq!(
        q::<String>(&mut c, &["OBJECT", "ENCODING", "z"]).unwrap(),
        "skiplist"
    );
    assert_eq!(q::<i64>(&mut c, &["ZRANK", "z", "e"]).unwrap(), 4);
    assert_eq!(q::<i64>(&mut c, &["ZREVRANK", "z", "e"]).unwrap(), 0);
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "x", "m"])),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "nan", "m"])),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "NX", "XX", "1", "m"])),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "GT", "LT", "1", "m"])),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "INCR", "1", "m", "2", "n"])),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(
        err(q(&mut c, &["ZADD", "z", "1", "a", "2"])),
        "ERR syntax error"
    );
    q::<i64>(&mut c, &["ZADD", "inf", "inf", "x"]).unwrap();
    assert_eq!(
        err(q(&mut c, &["ZINCRBY", "inf", "-inf", "x"])),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(
        err(q(&mut c, &["ZCOUNT", "z", "(x", "2"])),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(q(&mut c, &["ZRANGEBYLEX", "z", "a", "+"])),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        err(q(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"])),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(q(&mut c, &["ZUNIONSTORE", "d", "0", "z"])),
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    q::<String>(&mut c, &["SET", "s", "x"]).unwrap();
    assert_eq!(
        err(q(&mut c, &["ZADD", "s", "1", "a"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(q::<String>(&mut c, &["TYPE", "z"]).unwrap(), "zset");
    // Plain sets are inputs with score 1.
    q::<i64>(&mut c, &["SADD", "plain", "a", "q"]).unwrap();
    let u: Vec<String> = q(
        &mut c,
        &[
            "ZUNION",
            "2",
            "z",
            "plain",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
    )
    .unwrap();
    let q_at = u.iter().position(|m| m == "q").expect("q in the union");
    assert_eq!(u[q_at + 1], "1");
}

/// Normalises a reply to a comparable string (replies here are deterministic, so no sorting).
fn show(v: redis::RedisResult<V>) -> String {
    format!("{v:?}")
}

/// Random sorted-set commands against redis-server and ringkv, reply by reply. Scores include
/// fractions and infinities; the lex commands run on a separate family of keys whose members
/// all share one score (Redis leaves lex ranges over mixed scores unspecified).
#[test]
fn random_commands_reply_like_redis() {
    let Some((real, srv)) =
        common::real_and_ringkv(&["--threads", "2", "--zset-max-listpack-entries", "6"])
    else {
        return;
    };
    q::<String>(
        &mut real.client(),
        &["CONFIG", "SET", "zset-max-listpack-entries", "6"],
    )
    .unwrap();
    let mut r = real.client();
    let mut k = srv.client();
    let mut x: u64 = 0x5851_f42d_4c95_7f2d;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let scores = ["1", "2", "1.1", "-3", "0.5", "inf", "-inf", "10", "2.25"];
    let bounds = [
        "-inf", "+inf", "1", "(1", "2", "(2.25", "0", "(-3", "10", "(0.5",
    ];
    let lex = ["-", "+", "[a", "(a", "[c", "(dd", "[e", "(b"];
    let members = ["a", "b", "c", "dd", "e", "ff", "g", "h"];
    for step in 0..5000 {
        let key = format!("z{}", next(3));
        let other = format!("z{}", next(3));
        let lkey = format!("lex{}", next(2));
        let m = members[next(8) as usize].to_string();
        let s = scores[next(9) as usize].to_string();
        let b1 = bounds[next(10) as usize].to_string();
        let b2 = bounds[next(10) as usize].to_string();
        let l1 = lex[next(8) as usize].to_string();
        let l2 = lex[next(8) as usize].to_string();
        let i = (next(10) as i64 - 5).to_string();
        let j = (next(10) as i64 - 5).to_string();
        let cmd: Vec<String> = match next(26) {
            0 | 1 => vec!["ZADD".into(), key, s, m],
            2 => {
                let opt = ["NX", "XX", "GT", "LT", "CH"][next(5) as usize];
                vec!["ZADD".into(), key, opt.into(), s, m, "7".into(), "g".into()]
            }
            3 => vec!["ZADD".into(), key, "INCR".into(), s, m],
            4 => vec!["ZINCRBY".into(), key, s, m],
            5 => vec!["ZREM".into(), key, m, "a".into()],
            6 => vec!["ZSCORE".into(), key, m],
            7 => vec!["ZMSCORE".into(), key, m, "b".into()],
            8 => vec!["ZCOUNT".into(), key, b1, b2],
            9 => vec!["ZRANK".into(), key, m],
            10 => vec!["ZREVRANK".into(), key, m],
            11 => vec!["ZRANGE".into(), key, i, j, "WITHSCORES".into()],
            12 => vec!["ZRANGE".into(), key, i, j, "REV".into()],
            13 => vec![
                "ZRANGE".into(),
                key,
                b1,
                b2,
                "BYSCORE".into(),
                "LIMIT".into(),
                next(3).to_string(),
                (next(4) as i64 - 1).to_string(),
                "WITHSCORES".into(),
            ],
            14 => vec!["ZREVRANGEBYSCORE".into(), key, b1, b2, "WITHSCORES".into()],
            15 => vec!["ZPOPMIN".into(), key, next(3).to_string()],
            16 => vec!["ZPOPMAX".into(), key],
            17 => vec!["ZREMRANGEBYSCORE".into(), key, b1, b2],
            18 => vec!["ZREMRANGEBYRANK".into(), key, i, j],
            19 => vec![
                "ZUNIONSTORE".into(),
                key,
                "2".into(),
                other,
                "z0".into(),
                "WEIGHTS".into(),
                "2".into(),
                "0.5".into(),
            ],
            20 => vec!["ZINTER".into(), "2".into(), key, other, "WITHSCORES".into()],
            21 => vec!["ZDIFF".into(), "2".into(), key, other, "WITHSCORES".into()],
            22 => vec!["ZADD".into(), lkey, "0".into(), m],
            23 => vec!["ZRANGEBYLEX".into(), lkey, l1, l2],
            24 => vec!["ZLEXCOUNT".into(), lkey, l1, l2],
            _ => vec![
                "ZMPOP".into(),
                "2".into(),
                key,
                other,
                "MAX".into(),
                "COUNT".into(),
                "2".into(),
            ],
        };
        let mut a = redis::cmd(&cmd[0]);
        let mut b = redis::cmd(&cmd[0]);
        for arg in &cmd[1..] {
            a.arg(arg);
            b.arg(arg);
        }
        let ra = show(a.query(&mut r));
        let rb = show(b.query(&mut k));
        assert_eq!(
            ra, rb,
            "step {step}: {cmd:?} differs (left redis, right ringkv)"
        );
        if step % 250 == 0 {
            for key in ["z0", "z1", "z2", "lex0", "lex1"] {
                let ea: redis::RedisResult<String> = q(&mut r, &["OBJECT", "ENCODING", key]);
                let eb: redis::RedisResult<String> = q(&mut k, &["OBJECT", "ENCODING", key]);
                assert_eq!(
                    format!("{ea:?}"),
                    format!("{eb:?}"),
                    "step {step}: encoding of {key}"
                );
            }
        }
    }
}

/// DEBUG DIGEST-VALUE of sorted sets in both encodings equals redis-server's.
#[test]
fn zset_digests_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    for c in [&mut r, &mut k] {
        q::<i64>(
            c,
            &[
                "ZADD", "small", "1", "a", "1.1", "b", "-inf", "c", "3e20", "d",
            ],
        )
        .unwrap();
        for i in 0..300 {
            q::<i64>(
                c,
                &["ZADD", "large", &format!("{}.25", i % 17), &format!("m{i}")],
            )
            .unwrap();
        }
    }
    common::assert_same_digests(&mut r, &mut k, &["small", "large"]);
}
