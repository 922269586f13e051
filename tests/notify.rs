//! Keyspace notifications compared with a real redis-server: the same commands on both, with
//! `notify-keyspace-events KEA`, must publish the same messages in the same order (also a
//! PUBLISH inside MULTI among them).

mod common;

use common::q;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn read_for(s: &mut TcpStream, timeout: Duration) -> String {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn events(port: u16) -> String {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    q::<String>(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]).unwrap();
    let mut sub = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sub.write_all(b"PSUBSCRIBE __key*__:* chan*\r\n").unwrap();
    let confirm = read_for(&mut sub, Duration::from_millis(200));
    assert!(confirm.contains("psubscribe"), "{confirm}");
    // Two blocked clients, served by the script's LPUSH and ZADD below.
    let mut blocked = Vec::new();
    for (i, cmd) in [&b"BLPOP bl 0\r\n"[..], b"BZPOPMIN bz 0\r\n"]
        .iter()
        .enumerate()
    {
        let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
        b.write_all(cmd).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = q(&mut c, &["INFO", "clients"]).unwrap();
            if info.contains(&format!("blocked_clients:{}", i + 1)) {
                break;
            }
            assert!(Instant::now() < deadline, "client {i} never blocked");
            std::thread::sleep(Duration::from_millis(5));
        }
        blocked.push(b);
    }
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["SET", "t", "x", "EX", "100"],
        &["INCR", "s"],
        &["INCRBY", "s", "5"],
        &["EXPIRE", "s", "100"],
        &["PERSIST", "s"],
        &["PERSIST", "s"],
        &["RENAME", "s", "s2"],
        &["DEL", "s2", "nokey"],
        &["MSET", "a", "1", "b", "2"],
        &["LPUSH", "l", "x", "y"],
        &["RPOP", "l"],
        &["LPOP", "nokey"],
        &["HSET", "h", "f", "v"],
        &["HDEL", "h", "nope"],
        &["HINCRBY", "h", "n", "2"],
        &["SADD", "st", "m"],
        &["SADD", "st", "m"],
        &["SREM", "st", "zz"],
        &["ZADD", "z", "1", "m"],
        &["ZADD", "z", "1", "m"],
        &["ZINCRBY", "z", "2", "m"],
        &["ZREM", "z", "m"],
        &["APPEND", "ap", "x"],
        &["SETRANGE", "ap", "3", "yz"],
        &["INCRBYFLOAT", "fl", "1.5"],
        &["GETDEL", "fl"],
        &["SETBIT", "bits", "3", "1"],
        &["BITOP", "OR", "bo", "bits", "bits"],
        &["BITOP", "AND", "bo", "nokey"],
        &["GETEX", "ap", "EX", "50"],
        &["GETEX", "ap", "PERSIST"],
        &["RPUSH", "ll", "a", "b", "c", "d"],
        &["LSET", "ll", "0", "A"],
        &["LINSERT", "ll", "AFTER", "A", "a2"],
        &["LREM", "ll", "1", "b"],
        &["LTRIM", "ll", "0", "2"],
        &["LMOVE", "ll", "ll2", "LEFT", "RIGHT"],
        &["LMPOP", "1", "ll", "RIGHT", "COUNT", "5"],
        &["SADD", "s1", "a", "b"],
        &["SADD", "s2", "b"],
        &["SMOVE", "s2", "s1", "b"],
        &["SMOVE", "s1", "s3", "a"],
        &["SPOP", "s3"],
        &["SUNIONSTORE", "su", "s1", "nokey"],
        &["SINTERSTORE", "su", "s1", "nokey"],
        &["ZADD", "zz", "1", "a", "2", "b", "3", "c"],
        &["ZPOPMIN", "zz"],
        &["ZREMRANGEBYSCORE", "zz", "3", "3"],
        &["ZUNIONSTORE", "zu", "1", "zz"],
        &["ZRANGESTORE", "zr", "zz", "0", "-1"],
        &["ZPOPMAX", "zz", "5"],
        &["RPUSH", "sl", "3", "1", "2"],
        &["SORT", "sl", "STORE", "sorted"],
        &["COPY", "sorted", "sorted2"],
        &["MOVE", "sorted2", "3"],
        &["LPUSH", "bl", "x"],
        &["ZADD", "bz", "1", "a", "2", "b"],
        &["SET", "gone", "1", "PX", "30"],
        // A message published inside a transaction comes between the events of the commands
        // around it.
        &["MULTI"],
        &["SET", "m1", "v"],
        &["PUBLISH", "chan1", "hello"],
        &["DEL", "m1"],
        &["EXEC"],
    ];
    for cmd in script {
        let _: redis::Value = q(&mut c, cmd).unwrap();
    }
    // Let "gone" expire, then touch it so both servers have deleted it (lazily or actively).
    std::thread::sleep(Duration::from_millis(120));
    let _: redis::Value = q(&mut c, &["GET", "gone"]).unwrap();
    read_for(&mut sub, Duration::from_millis(300))
}

#[test]
fn keyspace_events_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--threads", "2"]) else {
        return;
    };
    let want = events(real.port);
    let got = events(srv.port);
    assert!(
        want.contains("expired"),
        "redis sent no expired event: {want}"
    );
    assert_eq!(got, want, "(right: redis)");
}
