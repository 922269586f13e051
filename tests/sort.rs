//! SORT and SORT_RO compared with a real redis-server on the same data: numeric and ALPHA,
//! DESC, LIMIT, BY keys and hash fields, BY nosort, GET patterns, STORE, and the errors.

mod common;

use common::q;
use redis::Value as V;

fn load(c: &mut redis::Connection) {
    q::<i64>(c, &["RPUSH", "nums", "3", "10", "1", "2.5", "-4", "10"]).unwrap();
    q::<i64>(c, &["SADD", "words", "pear", "apple", "fig", "banana"]).unwrap();
    q::<i64>(c, &["ZADD", "z", "3", "c", "1", "a", "2", "b"]).unwrap();
    q::<i64>(c, &["RPUSH", "ids", "1", "2", "3", "4"]).unwrap();
    for (id, w, name) in [("1", "40", "one"), ("2", "10", "two"), ("3", "30", "three")] {
        q::<String>(c, &["SET", &format!("w_{id}"), w]).unwrap();
        q::<i64>(c, &["HSET", &format!("h_{id}"), "name", name, "rank", w]).unwrap();
    }
    q::<String>(c, &["SET", "str", "x"]).unwrap();
}

#[test]
fn sort_replies_like_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--threads", "2"]) else {
        return;
    };
    let mut r = real.client();
    let mut k = srv.client();
    load(&mut r);
    load(&mut k);
    let cases: &[&[&str]] = &[
        &["SORT", "nums"],
        &["SORT", "nums", "DESC"],
        &["SORT", "nums", "LIMIT", "1", "3"],
        &["SORT", "nums", "LIMIT", "-1", "2"],
        &["SORT", "nums", "LIMIT", "4", "100"],
        &["SORT", "nums", "LIMIT", "1", "9223372036854775807"],
        &["SORT", "nums", "LIMIT", "9223372036854775807", "2"],
        &["SORT", "words", "ALPHA"],
        &["SORT", "words", "ALPHA", "DESC", "LIMIT", "0", "2"],
        &["SORT", "words"],
        &["SORT", "z"],
        &["SORT", "z", "BY", "nosort"],
        &["SORT", "z", "BY", "nosort", "DESC"],
        &["SORT", "ids", "BY", "w_*"],
        &[
            "SORT",
            "ids",
            "BY",
            "w_*",
            "DESC",
            "GET",
            "#",
            "GET",
            "h_*->name",
        ],
        &[
            "SORT",
            "ids",
            "BY",
            "h_*->rank",
            "GET",
            "h_*->name",
            "GET",
            "w_*",
        ],
        &["SORT", "ids", "BY", "nosort", "GET", "h_*->name"],
        &["SORT_RO", "nums", "DESC"],
        &["SORT_RO", "nums", "STORE", "x"],
        &["SORT", "str"],
        &["SORT", "missing"],
        &["SORT", "nums", "LIMIT", "a", "1"],
        &["SORT", "nums", "STORE", "dst"],
        &["LRANGE", "dst", "0", "-1"],
        &["SORT", "words", "BY", "nosort", "STORE", "dst2"],
        &["LRANGE", "dst2", "0", "-1"],
        &["SORT", "missing", "STORE", "dst"],
        &["EXISTS", "dst"],
    ];
    for case in cases {
        let a: redis::RedisResult<V> = q(&mut r, case);
        let b: redis::RedisResult<V> = q(&mut k, case);
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{case:?} (left redis, right ringkv)"
        );
    }
}
