//! Generic key commands against ringkv with two shards: DEL/EXISTS/TYPE/TOUCH, RENAME/COPY/MOVE
//! (also across shards), expiry (lazy and active), OBJECT, KEYS, SCAN (its guarantee under
//! concurrent writes), RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL and SWAPDB, with Redis's error texts.

mod common;

use common::{wait_until, Server};
use redis::Connection;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn start() -> Server {
    Server::start(&["--threads", "2"])
}

/// A raw RESP connection: sends a command, returns the first line of the reply without CRLF
/// (exact error texts, integers, simple strings).
struct Raw(BufReader<TcpStream>);

impl Raw {
    fn new(srv: &Server) -> Raw {
        Raw(BufReader::new(srv.raw()))
    }

    fn call(&mut self, args: &[&str]) -> String {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.0.get_mut().write_all(req.as_bytes()).unwrap();
        let first = self.line();
        self.skip_rest(&first);
        first
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        line.trim_end_matches("\r\n").to_string()
    }

    /// Consumes the body of a reply whose header line is `head`.
    fn skip_rest(&mut self, head: &str) {
        let n: i64 = head.get(1..).and_then(|s| s.parse().ok()).unwrap_or(-1);
        match head.as_bytes().first() {
            Some(b'$') if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                std::io::Read::read_exact(&mut self.0, &mut body).unwrap();
            }
            Some(b'*') => {
                for _ in 0..n.max(0) {
                    let h = self.line();
                    self.skip_rest(&h);
                }
            }
            _ => {}
        }
    }

    /// Sends a command given as one space-separated string.
    fn c(&mut self, cmd: &str) -> String {
        let args: Vec<&str> = cmd.split(' ').collect();
        self.call(&args)
    }
}

fn q<T: redis::FromRedisValue>(c: &mut Connection, cmd: &str) -> T {
    let mut parts = cmd.split(' ');
    let mut r = redis::cmd(parts.next().unwrap());
    for p in parts {
        r.arg(p);
    }
    r.query(c).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn del_exists_type_touch() {
    let srv = start();
    let mut r = Raw::new(&srv);
    for i in 0..10 {
        assert_eq!(r.call(&["SET", &format!("k{i}"), "v"]), "+OK");
    }
    assert_eq!(r.c("EXISTS k0 k1 k1 nokey k9"), ":4");
    assert_eq!(r.c("EXISTS nokey"), ":0");
    assert_eq!(r.c("TYPE k0"), "+string");
    assert_eq!(r.c("TYPE nokey"), "+none");
    assert_eq!(r.c("TOUCH k0 k1 k0 nokey"), ":3");
    assert_eq!(r.c("DEL k0 k1 k2 k2 nokey"), ":3");
    assert_eq!(r.c("EXISTS k0 k1 k2"), ":0");
    assert_eq!(r.c("UNLINK k3 k4 nokey"), ":2");
    assert_eq!(r.c("DBSIZE"), ":5");
    assert_eq!(
        r.c("DEL"),
        "-ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        r.c("TYPE"),
        "-ERR wrong number of arguments for 'type' command"
    );
}

#[test]
fn rename_and_renamenx() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    assert_eq!(r.c("RENAME nokey x"), "-ERR no such key");
    assert_eq!(r.c("RENAMENX nokey x"), "-ERR no such key");
    assert_eq!(r.c("RENAME nokey nokey"), "-ERR no such key");
    r.c("SET a 1");
    assert_eq!(r.c("RENAME a a"), "+OK");
    assert_eq!(r.c("RENAMENX a a"), ":0");
    assert_eq!(r.c("GET a"), "$1");
    // Many pairs, so that some land on different shards (the shard hash is seeded per process).
    for i in 0..24 {
        let (src, dst) = (format!("src:{i}"), format!("dst:{i}"));
        r.call(&["SET", &src, &format!("v{i}")]);
        r.call(&["PEXPIRE", &src, "100000"]);
        assert_eq!(r.call(&["RENAME", &src, &dst]), "+OK");
        assert_eq!(r.call(&["EXISTS", &src]), ":0");
        let v: String = q(&mut c, &format!("GET {dst}"));
        assert_eq!(v, format!("v{i}"));
        let pttl: i64 = q(&mut c, &format!("PTTL {dst}"));
        assert!(
            pttl > 90_000 && pttl <= 100_000,
            "ttl moved with the key: {pttl}"
        );
        // RENAME replaces an existing destination, including its TTL.
        r.call(&["SET", &src, "new"]);
        assert_eq!(r.call(&["RENAME", &src, &dst]), "+OK");
        assert_eq!(r.call(&["TTL", &dst]), ":-1");
        // RENAMENX refuses an existing destination and leaves both keys alone.
        r.call(&["SET", &src, "other"]);
        assert_eq!(r.call(&["RENAMENX", &src, &dst]), ":0");
        assert_eq!(r.call(&["EXISTS", &src, &dst]), ":2");
        assert_eq!(r.call(&["DEL", &dst]), ":1");
        assert_eq!(r.call(&["RENAMENX", &src, &dst]), ":1");
        let v: String = q(&mut c, &format!("GET {dst}"));
        assert_eq!(v, "other");
    }
    assert_eq!(r.c("DBSIZE"), ":25");
}

#[test]
fn copy_between_keys_and_databases() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    r.c("SET a 1");
    assert_eq!(
        r.c("COPY a a"),
        "-ERR source and destination objects are the same"
    );
    assert_eq!(r.c("COPY a b DB 99"), "-ERR DB index is out of range");
    assert_eq!(r.c("COPY a b DB -1"), "-ERR DB index is out of range");
    assert_eq!(
        r.c("COPY a b DB x"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.c("COPY a b DB 99999999999"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(r.c("COPY a b DB"), "-ERR syntax error");
    assert_eq!(r.c("COPY a b foo"), "-ERR syntax error");
    assert_eq!(r.c("COPY nokey b"), ":0");
    for i in 0..24 {
        let (src, dst) = (format!("csrc:{i}"), format!("cdst:{i}"));
        r.call(&["SET", &src, &format!("value-{i}"), "PX", "100000"]);
        assert_eq!(r.call(&["COPY", &src, &dst]), ":1");
        for k in [&src, &dst] {
            let v: String = q(&mut c, &format!("GET {k}"));
            assert_eq!(v, format!("value-{i}"));
        }
        let pttl: i64 = q(&mut c, &format!("PTTL {dst}"));
        assert!(pttl > 90_000, "ttl copied: {pttl}");
        r.call(&["SET", &src, "changed"]);
        assert_eq!(r.call(&["COPY", &src, &dst]), ":0");
        assert_eq!(r.call(&["COPY", &src, &dst, "REPLACE"]), ":1");
        let v: String = q(&mut c, &format!("GET {dst}"));
        assert_eq!(v, "changed");
        assert_eq!(r.call(&["TTL", &dst]), ":-1");
    }
    // COPY into another database; the same name is allowed there.
    r.c("SET x hello");
    assert_eq!(r.c("COPY x x DB 1"), ":1");
    assert_eq!(r.c("COPY x x DB 1"), ":0");
    assert_eq!(r.c("COPY x x db 1 replace"), ":1");
    r.c("DEL x");
    assert_eq!(r.c("SWAPDB 0 1"), "+OK");
    let v: String = q(&mut c, "GET x");
    assert_eq!(v, "hello");
    assert_eq!(r.c("DBSIZE"), ":1");
}

#[test]
fn move_between_databases() {
    let srv = start();
    let mut r = Raw::new(&srv);
    r.c("SET k v");
    assert_eq!(
        r.c("MOVE k 0"),
        "-ERR source and destination objects are the same"
    );
    assert_eq!(r.c("MOVE k 16"), "-ERR DB index is out of range");
    assert_eq!(r.c("MOVE k -1"), "-ERR DB index is out of range");
    assert_eq!(
        r.c("MOVE k x"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(r.c("MOVE nokey 1"), ":0");
    r.c("PEXPIRE k 100000");
    assert_eq!(r.c("MOVE k 1"), ":1");
    assert_eq!(r.c("EXISTS k"), ":0");
    r.c("SET k v2");
    assert_eq!(r.c("MOVE k 1"), ":0", "the key already exists in db 1");
    assert_eq!(r.c("GET k"), "$2");
    assert_eq!(r.c("SWAPDB 0 1"), "+OK");
    let mut c = srv.client();
    let v: String = q(&mut c, "GET k");
    assert_eq!(v, "v");
    let pttl: i64 = q(&mut c, "PTTL k");
    assert!(pttl > 90_000, "the TTL moved with the key: {pttl}");
}

#[test]
fn keys_with_patterns() {
    let srv = start();
    let mut c = srv.client();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "user:1", "user:2", "user:10",
    ] {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut c).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let sorted = |c: &mut Connection, p: &str| {
        let mut v: Vec<String> = redis::cmd("KEYS").arg(p).query(c).unwrap();
        v.sort();
        v
    };
    assert!(wait_until(Duration::from_secs(5), || !sorted(&mut c, "*")
        .contains(&"gone".to_string())));
    assert_eq!(sorted(&mut c, "*").len(), 9);
    assert_eq!(
        sorted(&mut c, "h?llo"),
        ["hallo", "hbllo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted(&mut c, "h*llo"),
        ["hallo", "hbllo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(sorted(&mut c, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(sorted(&mut c, "h[^e]llo"), ["hallo", "hbllo", "hxllo"]);
    assert_eq!(sorted(&mut c, "h[a-b]llo"), ["hallo", "hbllo"]);
    assert_eq!(sorted(&mut c, "user:?"), ["user:1", "user:2"]);
    assert_eq!(sorted(&mut c, "user:*"), ["user:1", "user:10", "user:2"]);
    assert_eq!(sorted(&mut c, "nomatch*"), Vec::<String>::new());
    assert_eq!(sorted(&mut c, "hello"), ["hello"]);
}

fn scan_all(c: &mut Connection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    loop {
        let (next, keys): (String, Vec<String>) =
            redis::cmd("SCAN").arg(&cursor).arg(extra).query(c).unwrap();
        out.extend(keys);
        if next == "0" {
            return out;
        }
        cursor = next;
    }
}

#[test]
fn scan_options_and_errors() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    assert_eq!(r.c("SCAN abc"), "-ERR invalid cursor");
    assert_eq!(r.call(&["SCAN", " 0"]), "-ERR invalid cursor");
    assert_eq!(r.c("SCAN 1x"), "-ERR invalid cursor");
    assert_eq!(r.c("SCAN 18446744073709551616"), "-ERR invalid cursor");
    assert_eq!(r.c("SCAN 0 COUNT 0"), "-ERR syntax error");
    assert_eq!(r.c("SCAN 0 COUNT -1"), "-ERR syntax error");
    assert_eq!(
        r.c("SCAN 0 COUNT x"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(r.c("SCAN 0 foo"), "-ERR syntax error");
    assert_eq!(r.c("SCAN 0 MATCH"), "-ERR syntax error");
    assert_eq!(r.c("SCAN 0 TYPE"), "-ERR syntax error");
    // An empty keyspace: one call, cursor 0.
    let (next, keys): (String, Vec<String>) = redis::cmd("SCAN").arg(0).query(&mut c).unwrap();
    assert_eq!((next.as_str(), keys.len()), ("0", 0));
    // A cursor past the last shard ends the scan.
    let (next, _): (String, Vec<String>) = redis::cmd("SCAN").arg(-1).query(&mut c).unwrap();
    assert_eq!(next, "0");
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("s:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..20 {
        let _: () = redis::cmd("SET")
            .arg(format!("other:{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let all: HashSet<String> = scan_all(&mut c, &[]).into_iter().collect();
    assert_eq!(all.len(), 320);
    let matched: HashSet<String> = scan_all(&mut c, &["MATCH", "other:*", "COUNT", "7"])
        .into_iter()
        .collect();
    assert_eq!(matched.len(), 20);
    assert!(matched.iter().all(|k| k.starts_with("other:")));
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]).len(), 320);
    assert_eq!(scan_all(&mut c, &["TYPE", "list"]).len(), 0);
    // COUNT is a hint, but a large one returns everything at once.
    let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(100_000)
        .query(&mut c)
        .unwrap();
    assert_eq!((next.as_str(), keys.len()), ("0", 320));
}

#[test]
fn scan_returns_every_stable_key_under_concurrent_writes() {
    let srv = start();
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("SET").arg(format!("orig:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let url = srv.url();
        std::thread::spawn(move || {
            let mut w = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut pipe = redis::pipe();
                for j in 0..50 {
                    pipe.cmd("SET")
                        .arg(format!("churn:{}", n + j))
                        .arg("x")
                        .ignore();
                    if n + j >= 400 {
                        pipe.cmd("DEL")
                            .arg(format!("churn:{}", n + j - 400))
                            .ignore();
                    }
                }
                let _: () = pipe.query(&mut w).unwrap();
                n += 50;
            }
            n
        })
    };
    let mut g = srv.client();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(10)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        calls += 1;
        // Grow the keyspace under the cursor too, so segments split mid-scan.
        let mut pipe = redis::pipe();
        for j in 0..300 {
            pipe.cmd("SET")
                .arg(format!("grow:{calls}:{j}"))
                .arg("x")
                .ignore();
        }
        let _: () = pipe.query(&mut g).unwrap();
        if next == "0" {
            break;
        }
        cursor = next;
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    assert!(calls > 2, "COUNT 10 takes several calls: {calls}");
    for i in 0..5000 {
        assert!(seen.contains(&format!("orig:{i}")), "SCAN missed orig:{i}");
    }
}

#[test]
fn randomkey_dbsize_and_flushes() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    assert_eq!(r.c("RANDOMKEY"), "$-1");
    assert_eq!(r.c("DBSIZE"), ":0");
    // Expired keys are never returned.
    for i in 0..100 {
        r.call(&["SET", &format!("vol:{i}"), "x", "PX", "1"]);
    }
    r.c("SET live 1");
    assert!(wait_until(Duration::from_secs(5), || r.c("PTTL vol:99") == ":-2"));
    for _ in 0..50 {
        let k: String = q(&mut c, "RANDOMKEY");
        assert_eq!(k, "live");
    }
    let mut names = HashSet::new();
    for i in 0..20 {
        r.call(&["SET", &format!("k{i}"), "v"]);
    }
    for _ in 0..400 {
        let k: String = q(&mut c, "RANDOMKEY");
        names.insert(k);
    }
    assert!(names.len() > 10, "RANDOMKEY spreads over keys: {names:?}");
    assert!(!names.iter().any(|k| k.starts_with("vol:")));
    assert_eq!(r.c("FLUSHDB foo"), "-ERR syntax error");
    assert_eq!(r.c("FLUSHDB ASYNC SYNC"), "-ERR syntax error");
    assert_eq!(r.c("FLUSHALL foo"), "-ERR syntax error");
    r.c("MOVE live 1");
    assert_eq!(r.c("FLUSHDB SYNC"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":0");
    assert_eq!(r.c("RANDOMKEY"), "$-1");
    r.c("SET a 1");
    assert_eq!(r.c("FLUSHDB ASYNC"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":0");
    assert_eq!(r.c("SWAPDB 0 1"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":1", "FLUSHDB left db 1 alone");
    assert_eq!(r.c("FLUSHALL"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":0");
    r.c("SWAPDB 0 1");
    assert_eq!(r.c("DBSIZE"), ":0", "FLUSHALL emptied db 1 too");
    r.c("SET a 1");
    assert_eq!(r.c("FLUSHALL ASYNC"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":0");
}

#[test]
fn swapdb_errors_and_data() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    assert_eq!(r.c("SWAPDB 0 x"), "-ERR invalid second DB index");
    assert_eq!(r.c("SWAPDB x 0"), "-ERR invalid first DB index");
    assert_eq!(r.c("SWAPDB 99 x"), "-ERR invalid second DB index");
    assert_eq!(r.c("SWAPDB 0 99"), "-ERR DB index is out of range");
    assert_eq!(r.c("SWAPDB -1 0"), "-ERR DB index is out of range");
    assert_eq!(r.c("SWAPDB 0 0"), "+OK");
    for i in 0..50 {
        r.call(&["SET", &format!("d0:{i}"), "zero"]);
    }
    assert_eq!(r.c("SWAPDB 0 5"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":0");
    r.c("SET only1 one");
    assert_eq!(r.c("SWAPDB 5 0"), "+OK");
    assert_eq!(r.c("DBSIZE"), ":50");
    let v: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    assert!(v.iter().all(|k| k.starts_with("d0:")));
    assert_eq!(r.c("MOVE d0:1 5"), ":1");
    assert_eq!(r.c("SWAPDB 0 5"), "+OK");
    let mut v: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    v.sort();
    assert_eq!(v, ["d0:1", "only1"]);
}

#[test]
fn expire_options_and_errors() {
    let srv = start();
    let mut r = Raw::new(&srv);
    r.c("SET a 1");
    assert_eq!(
        r.c("EXPIRE a 10 NX XX"),
        "-ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        r.c("EXPIRE a 10 nx gt"),
        "-ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        r.c("EXPIRE a 10 GT LT"),
        "-ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(r.c("EXPIRE a 10 foo"), "-ERR Unsupported option foo");
    assert_eq!(r.c("EXPIRE a abc foo"), "-ERR Unsupported option foo");
    assert_eq!(
        r.c("EXPIRE a abc"),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.c("EXPIRE a 99999999999999999"),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        r.c("EXPIRE a 9223372036854775"),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        r.c("EXPIRE a -9223372036854775808"),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        r.c("PEXPIRE a 9223372036854775807"),
        "-ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        r.c("EXPIREAT a 9223372036854775807"),
        "-ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(
        r.c("EXPIRE"),
        "-ERR wrong number of arguments for 'expire' command"
    );
    assert_eq!(r.c("TTL a"), ":-1");
    assert_eq!(r.c("EXPIRE nokey 10"), ":0");
    // GT treats "no expiry" as infinite; LT sets one.
    assert_eq!(r.c("EXPIRE a 10 GT"), ":0");
    assert_eq!(r.c("EXPIRE a 10 XX"), ":0");
    assert_eq!(r.c("EXPIRE a 10 LT"), ":1");
    assert_eq!(r.c("TTL a"), ":10");
    assert_eq!(r.c("EXPIRE a 20 LT"), ":0");
    assert_eq!(r.c("EXPIRE a 30 GT"), ":1");
    assert_eq!(r.c("EXPIRE a 30 NX"), ":0");
    assert_eq!(r.c("EXPIRE a 40 XX"), ":1");
    assert_eq!(r.c("EXPIRE a 50 xx gt"), ":1");
    assert_eq!(r.c("TTL a"), ":50");
    let pttl: i64 = r.c("PTTL a")[1..].parse().unwrap();
    assert!(pttl > 49_000 && pttl <= 50_000, "{pttl}");
    let at = now_ms() + 50_000;
    let pexp: u64 = r.c("PEXPIRETIME a")[1..].parse().unwrap();
    assert!(pexp.abs_diff(at) < 2_000, "{pexp} vs {at}");
    let exp: u64 = r.c("EXPIRETIME a")[1..].parse().unwrap();
    assert!(exp.abs_diff(at / 1000) <= 2, "{exp}");
    assert_eq!(r.c("PERSIST a"), ":1");
    assert_eq!(r.c("PERSIST a"), ":0");
    assert_eq!(r.c("PERSIST nokey"), ":0");
    assert_eq!(r.c("TTL a"), ":-1");
    assert_eq!(r.c("PTTL a"), ":-1");
    assert_eq!(r.c("EXPIRETIME a"), ":-1");
    assert_eq!(r.c("PEXPIRETIME a"), ":-1");
    assert_eq!(r.c("TTL nokey"), ":-2");
    assert_eq!(r.c("PTTL nokey"), ":-2");
    assert_eq!(r.c("EXPIRETIME nokey"), ":-2");
    assert_eq!(r.c("PEXPIRETIME nokey"), ":-2");
    // Absolute times.
    let at_s = now_ms() / 1000 + 100;
    assert_eq!(r.call(&["EXPIREAT", "a", &at_s.to_string()]), ":1");
    assert_eq!(r.c("EXPIRETIME a"), format!(":{at_s}"));
    let at_ms = now_ms() + 100_000;
    assert_eq!(r.call(&["PEXPIREAT", "a", &at_ms.to_string()]), ":1");
    assert_eq!(r.c("PEXPIRETIME a"), format!(":{at_ms}"));
    assert_eq!(r.c("PEXPIREAT a 9223372036854775807"), ":1");
    assert_eq!(r.c("PEXPIRETIME a"), ":9223372036854775807");
    // A time in the past deletes the key and still replies 1.
    assert_eq!(r.c("EXPIRE a -1"), ":1");
    assert_eq!(r.c("EXISTS a"), ":0");
    r.c("SET a 1");
    assert_eq!(r.c("EXPIREAT a 100"), ":1");
    assert_eq!(r.c("EXISTS a"), ":0");
    r.c("SET a 1");
    assert_eq!(r.c("PEXPIRE a 0"), ":1");
    assert_eq!(r.c("GET a"), "$-1");
    // SET without KEEPTTL clears the expiry.
    r.c("SET b 1 EX 100");
    r.c("SET b 2");
    assert_eq!(r.c("TTL b"), ":-1");
}

#[test]
fn lazy_and_active_expiry() {
    let srv = start();
    let mut r = Raw::new(&srv);
    // Lazy: a read after the deadline finds nothing.
    r.c("SET lazy v PX 50");
    r.c("SET lazy2 v");
    r.c("PEXPIRE lazy2 50");
    assert_eq!(r.c("EXISTS lazy lazy2"), ":2");
    assert!(wait_until(Duration::from_secs(5), || r.c("GET lazy") == "$-1"));
    assert!(wait_until(Duration::from_secs(5), || r.c("EXISTS lazy2") == ":0"));
    assert_eq!(r.c("TTL lazy"), ":-2");
    assert_eq!(r.c("TYPE lazy2"), "+none");
    assert_eq!(r.c("PERSIST lazy"), ":0");
    assert_eq!(r.c("EXPIRE lazy 10"), ":0");
    // Active: nobody reads these 200 keys, yet they go away.
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET")
            .arg(format!("act:{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    assert_eq!(r.c("DBSIZE"), ":200");
    assert!(
        wait_until(Duration::from_secs(5), || r.c("DBSIZE") == ":0"),
        "active expiry left {}",
        r.c("DBSIZE")
    );
}

#[test]
fn object_subcommands() {
    let srv = start();
    let mut r = Raw::new(&srv);
    let mut c = srv.client();
    r.c("SET int 12");
    r.c("SET bigint 123456");
    r.call(&["SET", "emb", "hello"]);
    r.call(&["SET", "raw", &"x".repeat(45)]);
    assert_eq!(r.c("OBJECT ENCODING int"), "$3");
    let enc = |c: &mut Connection, k: &str| -> String { q(c, &format!("OBJECT ENCODING {k}")) };
    assert_eq!(enc(&mut c, "int"), "int");
    assert_eq!(enc(&mut c, "emb"), "embstr");
    assert_eq!(enc(&mut c, "raw"), "raw");
    assert_eq!(r.c("OBJECT ENCODING nokey"), "$-1");
    assert_eq!(r.c("OBJECT REFCOUNT int"), ":2147483647");
    assert_eq!(r.c("OBJECT REFCOUNT bigint"), ":1");
    assert_eq!(r.c("OBJECT REFCOUNT emb"), ":1");
    assert_eq!(r.c("OBJECT IDLETIME emb"), ":0");
    assert_eq!(r.c("OBJECT IDLETIME nokey"), "$-1");
    assert_eq!(r.c("OBJECT FREQ nokey"), "$-1");
    assert_eq!(
        r.c("OBJECT FREQ emb"),
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
    assert_eq!(
        r.c("OBJECT foo emb"),
        "-ERR unknown subcommand 'foo'. Try OBJECT HELP."
    );
    assert_eq!(
        r.c("OBJECT REFCOUNT"),
        "-ERR wrong number of arguments for 'object|refcount' command"
    );
    assert_eq!(
        r.c("OBJECT encoding a b"),
        "-ERR wrong number of arguments for 'object|encoding' command"
    );
    assert_eq!(
        r.c("OBJECT HELP x"),
        "-ERR wrong number of arguments for 'object|help' command"
    );
    assert_eq!(
        r.c("OBJECT"),
        "-ERR wrong number of arguments for 'object' command"
    );
    let help: Vec<String> = q(&mut c, "OBJECT HELP");
    assert_eq!(help.len(), 15);
    assert_eq!(
        help[0],
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(help[14], "    Prints this help.");
}

#[test]
fn idletime_grows_and_touch_resets_it() {
    let srv = start();
    let mut r = Raw::new(&srv);
    r.c("SET idle v");
    r.c("SET touched v");
    let idle =
        |r: &mut Raw, k: &str| -> i64 { r.call(&["OBJECT", "IDLETIME", k])[1..].parse().unwrap() };
    // Poll the server's own clock until both keys have been idle for two seconds.
    assert!(wait_until(Duration::from_secs(6), || idle(
        &mut r, "touched"
    ) >= 2));
    assert!(idle(&mut r, "idle") >= 2);
    assert_eq!(r.c("TOUCH touched nokey"), ":1");
    assert!(idle(&mut r, "touched") <= 1);
    // OBJECT, TTL, TYPE and EXISTS do not count as an access; GET does.
    r.c("TTL idle");
    r.c("TYPE idle");
    r.c("EXISTS idle");
    assert!(idle(&mut r, "idle") >= 2);
    r.c("GET idle");
    assert!(idle(&mut r, "idle") <= 1);
}

#[test]
fn object_freq_and_idletime_under_lfu() {
    let srv = Server::start(&["--threads", "2", "--maxmemory-policy", "allkeys-lfu"]);
    let mut r = Raw::new(&srv);
    r.c("SET k v");
    assert_eq!(r.c("OBJECT FREQ nokey"), "$-1");
    assert!(r.c("OBJECT FREQ k").starts_with(':'));
    assert_eq!(
        r.c("OBJECT IDLETIME k"),
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
}
