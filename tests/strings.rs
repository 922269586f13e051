//! String and bitmap commands through the binary, against a two-shard server: replies, Redis
//! 7.0 error texts, edge cases, and multi-key commands whose keys span both shards.

mod common;

use common::{wait_until, Server};
use redis::{Connection, Value};
use std::time::Duration;

fn start() -> (Server, Connection) {
    let srv = Server::start(&["--threads", "2"]);
    let con = srv.client();
    (srv, con)
}

fn cmd(args: &[&[u8]]) -> redis::Cmd {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// Runs a command given as space-separated words.
fn q<T: redis::FromRedisValue>(con: &mut Connection, line: &str) -> T {
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    cmd(&words)
        .query(con)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// The full error text (e.g. "ERR syntax error") a command gets.
fn err_of(con: &mut Connection, args: &[&[u8]]) -> String {
    match cmd(args).query::<Value>(con) {
        Ok(v) => panic!("{:?}: expected an error, got {v:?}", args),
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
    }
}

fn err(con: &mut Connection, line: &str) -> String {
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    err_of(con, &words)
}

fn bytes(con: &mut Connection, args: &[&[u8]]) -> Option<Vec<u8>> {
    cmd(args).query(con).unwrap()
}

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

#[test]
fn set_variants_and_get_family() {
    let (_srv, mut c) = start();
    assert_eq!(q::<i64>(&mut c, "SETNX k v1"), 1);
    assert_eq!(q::<i64>(&mut c, "SETNX k v2"), 0);
    assert_eq!(q::<String>(&mut c, "GET k"), "v1");

    assert_eq!(q::<String>(&mut c, "SETEX k 100 v"), "OK");
    assert!((99..=100).contains(&q::<i64>(&mut c, "TTL k")));
    assert_eq!(q::<String>(&mut c, "PSETEX k 100000 v"), "OK");
    assert!(q::<i64>(&mut c, "PTTL k") > 99_000);
    assert_eq!(
        err(&mut c, "SETEX k 0 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(&mut c, "SETEX k -1 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(&mut c, "SETEX k 9223372036854775 v"),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(&mut c, "PSETEX k 0 v"),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(err(&mut c, "SETEX k x v"), NOT_INT);

    // GETSET returns the old value and clears the TTL.
    assert_eq!(q::<String>(&mut c, "GETSET k new"), "v");
    assert_eq!(q::<i64>(&mut c, "TTL k"), -1);
    assert_eq!(q::<Option<String>>(&mut c, "GETSET fresh x"), None);
    assert_eq!(q::<String>(&mut c, "GET fresh"), "x");

    assert_eq!(q::<String>(&mut c, "GETDEL k"), "new");
    assert_eq!(q::<i64>(&mut c, "EXISTS k"), 0);
    assert_eq!(q::<Option<String>>(&mut c, "GETDEL k"), None);

    // SET option syntax: conflicting options are syntax errors, repeated ones are fine, and the
    // syntax is checked before the number.
    assert_eq!(err(&mut c, "SET k v NX XX"), SYNTAX);
    assert_eq!(err(&mut c, "SET k v PX 10 EX 1"), SYNTAX);
    assert_eq!(err(&mut c, "SET k v EX 10 KEEPTTL"), SYNTAX);
    assert_eq!(err(&mut c, "SET k v EX x FOO"), SYNTAX);
    assert_eq!(err(&mut c, "SET k v EX x"), NOT_INT);
    assert_eq!(
        err(&mut c, "SET k v EX 0"),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(q::<String>(&mut c, "SET k v EX 10 EX 20"), "OK");
    assert!(q::<i64>(&mut c, "TTL k") > 10);
    assert_eq!(q::<String>(&mut c, "SET k v2 GET GET"), "v");
}

/// SET over a long string reuses its buffer (same length, longer, shorter, short): each
/// overwrite reads back exactly, expiry follows SET's rules, and the encoding is SET's.
#[test]
fn set_over_long_strings_in_place() {
    let (_srv, mut c) = start();
    let long = |n: usize, b: u8| vec![b; n];
    let set = |c: &mut Connection, v: &[u8], opt: &[&[u8]]| {
        let mut args: Vec<&[u8]> = vec![b"SET", b"lk", v];
        args.extend_from_slice(opt);
        cmd(&args).query::<String>(c).unwrap()
    };
    set(&mut c, &long(100, b'a'), &[b"EX", b"100"]);
    for (n, b) in [
        (100, b'b'),
        (300, b'c'),
        (40, b'd'),
        (23, b'e'),
        (5, b'f'),
        (60, b'g'),
    ] {
        set(&mut c, &long(n, b), &[]);
        assert_eq!(bytes(&mut c, &[b"GET", b"lk"]), Some(long(n, b)), "{n}");
        assert_eq!(q::<i64>(&mut c, "TTL lk"), -1);
        assert_eq!(q::<i64>(&mut c, "STRLEN lk"), n as i64);
    }
    set(&mut c, &long(60, b'h'), &[b"PX", b"100000"]);
    set(&mut c, &long(61, b'i'), &[b"KEEPTTL"]);
    assert!(q::<i64>(&mut c, "PTTL lk") > 90_000);
    assert_eq!(bytes(&mut c, &[b"GET", b"lk"]), Some(long(61, b'i')));
    let got = cmd(&[b"SET", b"lk", &long(70, b'j'), b"GET"])
        .query::<Vec<u8>>(&mut c)
        .unwrap();
    assert_eq!(got, long(61, b'i'));
    assert_eq!(q::<i64>(&mut c, "TTL lk"), -1);
    assert_eq!(q::<String>(&mut c, "OBJECT ENCODING lk"), "raw");
    set(&mut c, b"12345", &[]);
    assert_eq!(q::<String>(&mut c, "OBJECT ENCODING lk"), "int");
}

#[test]
fn getex_options() {
    let (_srv, mut c) = start();
    q::<()>(&mut c, "SET k v");
    assert_eq!(q::<String>(&mut c, "GETEX k EX 100"), "v");
    assert!((99..=100).contains(&q::<i64>(&mut c, "TTL k")));
    assert_eq!(q::<String>(&mut c, "GETEX k PX 5000"), "v");
    assert!((4000..=5000).contains(&q::<i64>(&mut c, "PTTL k")));
    assert_eq!(q::<String>(&mut c, "GETEX k PERSIST"), "v");
    assert_eq!(q::<i64>(&mut c, "TTL k"), -1);
    assert_eq!(q::<String>(&mut c, "GETEX k"), "v");
    assert_eq!(q::<i64>(&mut c, "TTL k"), -1);
    let future = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1000;
    assert_eq!(q::<String>(&mut c, &format!("GETEX k EXAT {future}")), "v");
    assert!(q::<i64>(&mut c, "TTL k") > 990);
    assert_eq!(
        q::<String>(&mut c, &format!("GETEX k PXAT {}", future * 1000)),
        "v"
    );
    assert!(q::<i64>(&mut c, "TTL k") > 990);
    // An expiry in the past deletes the key (after replying its value).
    assert_eq!(q::<String>(&mut c, "GETEX k EXAT 1"), "v");
    assert_eq!(q::<i64>(&mut c, "EXISTS k"), 0);

    q::<()>(&mut c, "SET k v");
    assert_eq!(err(&mut c, "GETEX k PERSIST EX 10"), SYNTAX);
    assert_eq!(err(&mut c, "GETEX k EX 10 PX 10"), SYNTAX);
    assert_eq!(err(&mut c, "GETEX k FOO"), SYNTAX);
    assert_eq!(err(&mut c, "GETEX k KEEPTTL"), SYNTAX);
    assert_eq!(
        err(&mut c, "GETEX k EX 0"),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(err(&mut c, "GETEX k EX x"), NOT_INT);
    // Redis looks the key up before it reads the number: a missing key is just nil.
    assert_eq!(q::<Option<String>>(&mut c, "GETEX nokey EX 0"), None);
    assert_eq!(err(&mut c, "GETEX nokey FOO"), SYNTAX);
}

#[test]
fn set_with_ttl_expires() {
    let (_srv, mut c) = start();
    q::<()>(&mut c, "SET k v PX 300");
    let pttl: i64 = q(&mut c, "PTTL k");
    assert!(pttl > 0 && pttl <= 300, "pttl {pttl}");
    assert!(wait_until(Duration::from_secs(5), || q::<i64>(
        &mut c, "EXISTS k"
    ) == 0));
    assert_eq!(q::<Option<String>>(&mut c, "GET k"), None);
    assert_eq!(q::<i64>(&mut c, "PTTL k"), -2);

    q::<()>(&mut c, "SETEX k2 1 v");
    q::<()>(&mut c, "PSETEX k3 200 v");
    assert!(wait_until(Duration::from_secs(5), || q::<i64>(
        &mut c,
        "EXISTS k2 k3"
    ) == 0));

    // KEEPTTL keeps it; a plain SET clears it.
    q::<()>(&mut c, "SET k v EX 100");
    q::<()>(&mut c, "SET k v2 KEEPTTL");
    assert!(q::<i64>(&mut c, "TTL k") > 0);
    q::<()>(&mut c, "SET k v3");
    assert_eq!(q::<i64>(&mut c, "TTL k"), -1);
}

#[test]
fn integer_counters() {
    let (_srv, mut c) = start();
    assert_eq!(q::<i64>(&mut c, "INCR n"), 1);
    assert_eq!(q::<i64>(&mut c, "INCRBY n 10"), 11);
    assert_eq!(q::<i64>(&mut c, "DECR n"), 10);
    assert_eq!(q::<i64>(&mut c, "DECRBY n 15"), -5);
    assert_eq!(q::<i64>(&mut c, "DECR fresh"), -1);
    assert_eq!(q::<i64>(&mut c, "INCRBY fresh2 -7"), -7);
    assert_eq!(q::<String>(&mut c, "GET n"), "-5");
    assert_eq!(q::<String>(&mut c, "OBJECT ENCODING n"), "int");

    // The TTL survives an increment.
    q::<()>(&mut c, "EXPIRE n 100");
    q::<i64>(&mut c, "INCR n");
    assert!(q::<i64>(&mut c, "TTL n") > 0);

    q::<()>(&mut c, "SET m 9223372036854775807");
    assert_eq!(
        err(&mut c, "INCR m"),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(q::<i64>(&mut c, "DECRBY m 9223372036854775807"), 0);
    q::<()>(&mut c, "SET m -9223372036854775808");
    assert_eq!(
        err(&mut c, "DECR m"),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(&mut c, "DECRBY m -9223372036854775808"),
        "ERR decrement would overflow"
    );
    assert_eq!(err(&mut c, "INCRBY m x"), NOT_INT);
    assert_eq!(err(&mut c, "INCRBY m 99999999999999999999"), NOT_INT);

    for bad in ["1.5", "", " 1", "+5", "007", "abc", "99999999999999999999"] {
        cmd(&[b"SET", b"s", bad.as_bytes()])
            .query::<()>(&mut c)
            .unwrap();
        assert_eq!(err(&mut c, "INCR s"), NOT_INT, "value {bad:?}");
    }
    // A value that became an integer by APPEND counts as one.
    q::<()>(&mut c, "SET a 1");
    q::<i64>(&mut c, "APPEND a 2");
    assert_eq!(q::<i64>(&mut c, "INCR a"), 13);
}

#[test]
fn incrbyfloat_matches_redis_long_double() {
    let (_srv, mut c) = start();
    let mut step = |set: &str, by: &str| -> String {
        cmd(&[b"SET", b"f", set.as_bytes()])
            .query::<()>(&mut c)
            .unwrap();
        cmd(&[b"INCRBYFLOAT", b"f", by.as_bytes()])
            .query(&mut c)
            .unwrap()
    };
    assert_eq!(step("0.1", "0.2"), "0.3");
    assert_eq!(step("10.50", "0.1"), "10.6");
    assert_eq!(step("10.6", "-5"), "5.6");
    assert_eq!(step("5.0e3", "2.0e2"), "5200");
    assert_eq!(step("1000000", "0.1"), "1000000.10000000000002274");
    assert_eq!(step("5200", "1e20"), "100000000000000005200");
    assert_eq!(step("3", "0.0001"), "3.0001");
    assert_eq!(step("0x10", "0"), "16");
    assert_eq!(step("-5", "5"), "0");
    assert_eq!(step("1", "1e-20"), "1");
    assert_eq!(step("1.123456789012345678", "0"), "1.12345678901234568");
    let big = step("1e308", "1e308");
    assert_eq!(big.len(), 309);
    assert!(big.starts_with("1999999999999999999933717593116912913211201996948"));

    assert_eq!(q::<String>(&mut c, "INCRBYFLOAT fresh 1.5"), "1.5");
    assert_eq!(q::<String>(&mut c, "INCRBYFLOAT fresh 1.5"), "3");
    assert_eq!(q::<i64>(&mut c, "INCR fresh"), 4);
    q::<()>(&mut c, "EXPIRE fresh 100");
    q::<String>(&mut c, "INCRBYFLOAT fresh 0.5");
    assert!(q::<i64>(&mut c, "TTL fresh") > 0);

    let nan = "ERR increment would produce NaN or Infinity";
    let not_float = "ERR value is not a valid float";
    assert_eq!(err(&mut c, "INCRBYFLOAT fresh inf"), nan);
    q::<()>(&mut c, "SET f 1e4932");
    assert_eq!(err(&mut c, "INCRBYFLOAT f 1e4932"), nan);
    assert_eq!(err(&mut c, "INCRBYFLOAT f 1e5000"), not_float);
    assert_eq!(err(&mut c, "INCRBYFLOAT f nan"), not_float);
    assert_eq!(err(&mut c, "INCRBYFLOAT f 1x"), not_float);
    assert_eq!(err(&mut c, "INCRBYFLOAT f 1e"), not_float);
    for bad in [" 1", "1 ", "", "abc"] {
        cmd(&[b"SET", b"s", bad.as_bytes()])
            .query::<()>(&mut c)
            .unwrap();
        assert_eq!(err(&mut c, "INCRBYFLOAT s 1"), not_float, "value {bad:?}");
    }
    let long = "1".repeat(6000);
    assert_eq!(
        err_of(&mut c, &[b"INCRBYFLOAT", b"g", long.as_bytes()]),
        not_float
    );
}

#[test]
fn append_strlen_ranges() {
    let (_srv, mut c) = start();
    assert_eq!(q::<i64>(&mut c, "APPEND s Hello"), 5);
    assert_eq!(q::<i64>(&mut c, "APPEND s World"), 10);
    assert_eq!(q::<String>(&mut c, "GET s"), "HelloWorld");
    assert_eq!(q::<i64>(&mut c, "STRLEN s"), 10);
    assert_eq!(q::<i64>(&mut c, "STRLEN nokey"), 0);
    q::<()>(&mut c, "SET n 12345");
    assert_eq!(q::<i64>(&mut c, "STRLEN n"), 5);
    q::<()>(&mut c, "EXPIRE s 100");
    q::<i64>(&mut c, "APPEND s !");
    assert!(q::<i64>(&mut c, "TTL s") > 0);

    for (args, want) in [
        ("0 4", "Hello"),
        ("-6 -1", "World!"),
        ("-100 2", "Hel"),
        ("5 1000", "World!"),
        ("-1 -5", ""),
        ("5 1", ""),
        ("11 20", ""),
        ("0 -1", "HelloWorld!"),
    ] {
        assert_eq!(
            q::<String>(&mut c, &format!("GETRANGE s {args}")),
            want,
            "{args}"
        );
    }
    assert_eq!(q::<String>(&mut c, "SUBSTR s 1 3"), "ell");
    assert_eq!(q::<String>(&mut c, "GETRANGE nokey 0 -1"), "");
    assert_eq!(q::<String>(&mut c, "GETRANGE n 1 2"), "23");
    assert_eq!(err(&mut c, "GETRANGE s x 1"), NOT_INT);

    assert_eq!(q::<i64>(&mut c, "SETRANGE r 3 abc"), 6);
    assert_eq!(bytes(&mut c, &[b"GET", b"r"]).unwrap(), b"\0\0\0abc");
    assert_eq!(q::<i64>(&mut c, "SETRANGE r 1 X"), 6);
    assert_eq!(bytes(&mut c, &[b"GET", b"r"]).unwrap(), b"\0X\0abc");
    assert_eq!(q::<i64>(&mut c, "SETRANGE n 5 6"), 6);
    assert_eq!(q::<i64>(&mut c, "INCR n"), 123457);
    // An empty value creates nothing and changes nothing.
    assert_eq!(
        cmd(&[b"SETRANGE", b"e", b"5", b""])
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS e"), 0);
    assert_eq!(
        cmd(&[b"SETRANGE", b"r", b"100", b""])
            .query::<i64>(&mut c)
            .unwrap(),
        6
    );
    assert_eq!(err(&mut c, "SETRANGE r -1 x"), "ERR offset is out of range");
    assert_eq!(err(&mut c, "SETRANGE r x x"), NOT_INT);

    // The 512MB limit is checked before anything is allocated.
    let too_big = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(&mut c, "SETRANGE r 536870912 x"), too_big);
    assert_eq!(err(&mut c, "SETRANGE new 536870912 x"), too_big);
    assert_eq!(err(&mut c, "SETRANGE r 9223372036854775807 x"), too_big);
    assert_eq!(q::<i64>(&mut c, "EXISTS new"), 0);
}

#[test]
fn binary_values_round_trip() {
    let (_srv, mut c) = start();
    let v: Vec<u8> = (0..=255u8).collect();
    cmd(&[b"SET", b"bin", &v]).query::<()>(&mut c).unwrap();
    cmd(&[b"APPEND", b"bin", b"\r\n\0"])
        .query::<i64>(&mut c)
        .unwrap();
    let mut want = v.clone();
    want.extend_from_slice(b"\r\n\0");
    assert_eq!(bytes(&mut c, &[b"GET", b"bin"]).unwrap(), want);
    assert_eq!(
        bytes(&mut c, &[b"GETRANGE", b"bin", b"-3", b"-1"]).unwrap(),
        b"\r\n\0"
    );
}

#[test]
fn multi_key_across_shards() {
    let (_srv, mut c) = start();
    let n = 200;
    let keys: Vec<String> = (0..n).map(|i| format!("key:{i}")).collect();
    let mut mset = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        mset.arg(k).arg(format!("val:{i}"));
    }
    let _: () = mset.query(&mut c).unwrap();
    let mut mget = redis::cmd("MGET");
    mget.arg(&keys).arg("missing");
    let vals: Vec<Option<String>> = mget.query(&mut c).unwrap();
    assert_eq!(vals.len(), n + 1);
    for (i, v) in vals[..n].iter().enumerate() {
        assert_eq!(v.as_deref(), Some(format!("val:{i}").as_str()));
    }
    assert_eq!(vals[n], None);
    assert_eq!(q::<i64>(&mut c, "DBSIZE"), n as i64);

    // MSETNX: one existing key (on whichever shard) blocks every write.
    let fresh: Vec<String> = (0..n).map(|i| format!("fresh:{i}")).collect();
    let mut msetnx = redis::cmd("MSETNX");
    for k in &fresh {
        msetnx.arg(k).arg("x");
    }
    msetnx.arg(&keys[n / 2]).arg("x");
    assert_eq!(msetnx.query::<i64>(&mut c).unwrap(), 0);
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&fresh).query(&mut c).unwrap();
    assert!(got.iter().all(Option::is_none), "MSETNX wrote partially");
    assert_eq!(
        q::<String>(&mut c, &format!("GET {}", keys[n / 2])),
        format!("val:{}", n / 2)
    );

    let mut msetnx = redis::cmd("MSETNX");
    for k in &fresh {
        msetnx.arg(k).arg("y");
    }
    assert_eq!(msetnx.query::<i64>(&mut c).unwrap(), 1);
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&fresh).query(&mut c).unwrap();
    assert!(got.iter().all(|v| v.as_deref() == Some("y")));

    // MSET clears TTLs; a repeated key takes the last value.
    q::<()>(&mut c, "EXPIRE key:0 100");
    q::<()>(&mut c, "MSET key:0 a key:1 b key:0 c");
    assert_eq!(q::<i64>(&mut c, "TTL key:0"), -1);
    assert_eq!(q::<String>(&mut c, "GET key:0"), "c");

    assert_eq!(
        err(&mut c, "MSET a"),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        err(&mut c, "MSET a b c"),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        err(&mut c, "MSETNX a b c"),
        "ERR wrong number of arguments for 'msetnx' command"
    );
}

#[test]
fn lcs_forms() {
    let (_srv, mut c) = start();
    q::<()>(&mut c, "MSET a ohmytext b mynewtext");
    assert_eq!(q::<String>(&mut c, "LCS a b"), "mytext");
    assert_eq!(q::<i64>(&mut c, "LCS a b LEN"), 6);
    assert_eq!(q::<String>(&mut c, "LCS nokey b"), "");
    let idx: Value = q(&mut c, "LCS a b IDX MINMATCHLEN -5 WITHMATCHLEN");
    let int = Value::Int;
    let pair = |x, y| Value::Array(vec![int(x), int(y)]);
    let want = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![
            Value::Array(vec![pair(4, 7), pair(5, 8), int(4)]),
            Value::Array(vec![pair(2, 3), pair(0, 1), int(2)]),
        ]),
        Value::BulkString(b"len".to_vec()),
        int(6),
    ]);
    assert_eq!(idx, want);
    let idx: Value = q(&mut c, "LCS a b IDX MINMATCHLEN 4");
    let want = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![Value::Array(vec![pair(4, 7), pair(5, 8)])]),
        Value::BulkString(b"len".to_vec()),
        int(6),
    ]);
    assert_eq!(idx, want);
    assert_eq!(
        err(&mut c, "LCS a b LEN IDX"),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err(&mut c, "LCS a b MINMATCHLEN x"), NOT_INT);
    assert_eq!(err(&mut c, "LCS a b MINMATCHLEN"), SYNTAX);
    assert_eq!(err(&mut c, "LCS a b FOO"), SYNTAX);
    // The DP table may not exceed 512MB.
    q::<i64>(&mut c, "SETRANGE big1 12000 x");
    q::<i64>(&mut c, "SETRANGE big2 12000 y");
    assert_eq!(
        err(&mut c, "LCS big1 big2"),
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
}

#[test]
fn setbit_getbit() {
    let (_srv, mut c) = start();
    assert_eq!(q::<i64>(&mut c, "SETBIT b 7 1"), 0);
    assert_eq!(q::<i64>(&mut c, "SETBIT b 7 1"), 1);
    assert_eq!(bytes(&mut c, &[b"GET", b"b"]).unwrap(), b"\x01");
    assert_eq!(q::<i64>(&mut c, "SETBIT b 0 1"), 0);
    assert_eq!(bytes(&mut c, &[b"GET", b"b"]).unwrap(), b"\x81");
    assert_eq!(q::<i64>(&mut c, "SETBIT b 7 0"), 1);
    assert_eq!(q::<i64>(&mut c, "SETBIT b 100 1"), 0);
    assert_eq!(q::<i64>(&mut c, "STRLEN b"), 13);
    assert_eq!(q::<i64>(&mut c, "GETBIT b 100"), 1);
    assert_eq!(q::<i64>(&mut c, "GETBIT b 101"), 0);
    assert_eq!(q::<i64>(&mut c, "GETBIT b 4294967295"), 0);
    assert_eq!(q::<i64>(&mut c, "GETBIT nokey 5"), 0);
    // Clearing a bit still creates the key.
    assert_eq!(q::<i64>(&mut c, "SETBIT z 15 0"), 0);
    assert_eq!(bytes(&mut c, &[b"GET", b"z"]).unwrap(), b"\0\0");
    // Bits of an integer value are the bits of its digits.
    q::<()>(&mut c, "SET n 1");
    assert_eq!(q::<i64>(&mut c, "GETBIT n 7"), 1);
    assert_eq!(q::<i64>(&mut c, "SETBIT n 6 1"), 0);
    assert_eq!(q::<String>(&mut c, "GET n"), "3");
    assert_eq!(q::<i64>(&mut c, "INCR n"), 4);

    let off = "ERR bit offset is not an integer or out of range";
    let bit = "ERR bit is not an integer or out of range";
    assert_eq!(err(&mut c, "SETBIT b -1 1"), off);
    assert_eq!(err(&mut c, "SETBIT b 4294967296 1"), off);
    assert_eq!(err(&mut c, "SETBIT b x 1"), off);
    assert_eq!(err(&mut c, "SETBIT b 1 2"), bit);
    assert_eq!(err(&mut c, "SETBIT b 1 -1"), bit);
    assert_eq!(err(&mut c, "SETBIT b 1 x"), bit);
    assert_eq!(err(&mut c, "GETBIT b 4294967296"), off);
    assert_eq!(err(&mut c, "GETBIT b x"), off);
}

#[test]
fn bitcount_and_bitpos() {
    let (_srv, mut c) = start();
    q::<()>(&mut c, "SET s foobar");
    for (args, want) in [
        ("", 26),
        (" 0 0", 4),
        (" 1 1", 6),
        (" 1 1 BYTE", 6),
        (" 5 30 BIT", 17),
        (" 5 100 bit", 24),
        (" -100 -200", 0),
        (" -200 -100", 4),
        (" 3 2", 0),
    ] {
        assert_eq!(
            q::<i64>(&mut c, &format!("BITCOUNT s{args}")),
            want,
            "{args}"
        );
    }
    assert_eq!(q::<i64>(&mut c, "BITCOUNT nokey"), 0);
    // Redis 7.0 looks the key up first: a missing key is 0 even with bad arguments.
    assert_eq!(q::<i64>(&mut c, "BITCOUNT nokey a b"), 0);
    assert_eq!(err(&mut c, "BITCOUNT s 1"), SYNTAX);
    assert_eq!(err(&mut c, "BITCOUNT s a b"), NOT_INT);
    assert_eq!(err(&mut c, "BITCOUNT s 1 1 xx"), SYNTAX);
    assert_eq!(err(&mut c, "BITCOUNT s 0 -1 bit extra"), SYNTAX);

    cmd(&[b"SET", b"x", b"\xff\xf0\x00"])
        .query::<()>(&mut c)
        .unwrap();
    for (args, want) in [
        ("1", 0),
        ("0", 12),
        ("1 2", -1),
        ("0 2", 16),
        ("0 0 0", -1),
        ("0 0 -1 BIT", 12),
        ("1 12 23 BIT", -1),
        ("1 5 23 bit", 5),
        ("0 3 11 BIT", -1),
        ("1 -1", -1),
        ("1 3 2", -1),
        ("1 -100 -200", 0),
    ] {
        assert_eq!(
            q::<i64>(&mut c, &format!("BITPOS x {args}")),
            want,
            "{args}"
        );
    }
    // All ones: without an end the string counts as followed by zeros; with one it does not.
    cmd(&[b"SET", b"ff", b"\xff\xff\xff"])
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(q::<i64>(&mut c, "BITPOS ff 0"), 24);
    assert_eq!(q::<i64>(&mut c, "BITPOS ff 0 1"), 24);
    assert_eq!(q::<i64>(&mut c, "BITPOS ff 0 1 -1"), -1);
    assert_eq!(q::<i64>(&mut c, "BITPOS nokey 0"), 0);
    assert_eq!(q::<i64>(&mut c, "BITPOS nokey 1"), -1);
    cmd(&[b"SET", b"e", b""]).query::<()>(&mut c).unwrap();
    assert_eq!(q::<i64>(&mut c, "BITPOS e 0"), -1);

    assert_eq!(
        err(&mut c, "BITPOS s 2"),
        "ERR The bit argument must be 1 or 0."
    );
    assert_eq!(err(&mut c, "BITPOS s x"), NOT_INT);
    assert_eq!(err(&mut c, "BITPOS s 1 a"), NOT_INT);
    assert_eq!(err(&mut c, "BITPOS s 1 0 b xx"), SYNTAX);
    assert_eq!(err(&mut c, "BITPOS s 1 0 1 bit 3"), SYNTAX);
    assert_eq!(q::<i64>(&mut c, "BITPOS nokey 1 x"), -1);
}

#[test]
fn bitop_across_shards() {
    let (_srv, mut c) = start();
    cmd(&[b"SET", b"src:a", b"\xf0\x0f\xaa"])
        .query::<()>(&mut c)
        .unwrap();
    cmd(&[b"SET", b"src:b", b"\xff\x01"])
        .query::<()>(&mut c)
        .unwrap();
    for (op, want) in [
        ("AND", &b"\xf0\x01\x00"[..]),
        ("OR", b"\xff\x0f\xaa"),
        ("XOR", b"\x0f\x0e\xaa"),
    ] {
        for dest in ["dest:1", "dest:2", "dest:3", "dest:4"] {
            let n: i64 = q(&mut c, &format!("BITOP {op} {dest} src:a src:b"));
            assert_eq!(n, 3);
            assert_eq!(
                bytes(&mut c, &[b"GET", dest.as_bytes()]).unwrap(),
                want,
                "{op}"
            );
        }
    }
    assert_eq!(q::<i64>(&mut c, "BITOP NOT dest:1 src:b"), 2);
    assert_eq!(bytes(&mut c, &[b"GET", b"dest:1"]).unwrap(), b"\x00\xfe");
    assert_eq!(q::<i64>(&mut c, "BITOP AND dest:1 src:a nokey"), 3);
    assert_eq!(bytes(&mut c, &[b"GET", b"dest:1"]).unwrap(), b"\0\0\0");
    // An empty result deletes the destination (and its TTL goes with any overwrite).
    q::<()>(&mut c, "EXPIRE dest:2 100");
    assert_eq!(q::<i64>(&mut c, "BITOP OR dest:2 src:a"), 3);
    assert_eq!(q::<i64>(&mut c, "TTL dest:2"), -1);
    assert_eq!(q::<i64>(&mut c, "BITOP OR dest:2 nokey nokey2"), 0);
    assert_eq!(q::<i64>(&mut c, "EXISTS dest:2"), 0);

    assert_eq!(err(&mut c, "BITOP FOO d src:a"), SYNTAX);
    assert_eq!(
        err(&mut c, "BITOP NOT d src:a src:b"),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(
        err(&mut c, "BITOP AND d"),
        "ERR wrong number of arguments for 'bitop' command"
    );
}
