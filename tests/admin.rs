//! Server administration through the binary: CONFIG GET/SET (round trips, atomicity, error
//! texts), SLOWLOG, MONITOR, TIME, LASTSAVE, ROLE, COMMAND introspection and SHUTDOWN.

mod common;

use common::{read_line, wait_until, Server};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn config_get(c: &mut redis::Connection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(c).unwrap();
    assert_eq!(v.len(), 2, "{name}: {v:?}");
    assert_eq!(v[0], name);
    v[1].clone()
}

fn err_text(r: redis::RedisResult<redis::Value>) -> String {
    let e = r.expect_err("an error reply");
    // The redis crate splits "ERR text" into a kind and a detail; rebuild the wire text.
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

#[test]
fn config_get_set_round_trip() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    for (name, value) in [
        ("maxclients", "500"),
        ("timeout", "30"),
        ("hz", "20"),
        ("loglevel", "warning"),
    ] {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query::<()>(&mut c)
            .unwrap();
        assert_eq!(config_get(&mut c, name), value);
    }
    // Several pairs at once, several patterns at once.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("15")
        .arg("timeout")
        .arg("0")
        .query::<()>(&mut c)
        .unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .arg("timeout")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["hz", "15", "timeout", "0"]);
    // A pattern matching nothing, and the same parameter matched twice, listed once.
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("no-such-*")
        .query(&mut c)
        .unwrap();
    assert!(v.is_empty());
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .arg("maxcl*")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, ["maxclients", "500"]);
    // The new limits reach the workers: maxclients 2 rejects the third connection.
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("2")
        .query::<()>(&mut c)
        .unwrap();
    let _second = srv.client();
    let mut third = srv.raw();
    assert_eq!(read_line(&third), "-ERR max number of clients reached\r\n");
    let _ = third.write_all(b"PING\r\n");
}

#[test]
fn config_set_errors_and_atomicity() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let set = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("SET");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(c)
    };
    assert_eq!(
        err_text(set(&mut c, &["no-such-option", "1"])),
        "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-option'"
    );
    assert_eq!(
        err_text(set(&mut c, &["maxclients", "abc"])),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        err_text(set(&mut c, &["hz", "10", "hz", "20"])),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
    );
    assert_eq!(
        err_text(set(&mut c, &["loglevel", "loud"])),
        "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"
    );
    assert_eq!(
        err_text(set(&mut c, &["hz", "10", "timeout"])),
        "ERR syntax error"
    );
    assert_eq!(
        err_text(set(&mut c, &["hz"])),
        "ERR wrong number of arguments for 'config|set' command"
    );
    // Atomic: the valid first pair is not applied when the second fails.
    assert_eq!(config_get(&mut c, "hz"), "10");
    assert!(set(&mut c, &["hz", "33", "maxclients", "x"]).is_err());
    assert_eq!(config_get(&mut c, "hz"), "10");
    let e = err_text(
        redis::cmd("CONFIG")
            .arg("FOO")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR unknown subcommand 'FOO'. Try CONFIG HELP.");
    let e = err_text(
        redis::cmd("CONFIG")
            .arg("GET")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR wrong number of arguments for 'config|get' command");
    let e = err_text(
        redis::cmd("CONFIG")
            .arg("REWRITE")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR The server is running without a config file");
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query::<()>(&mut c)
        .unwrap();
}

#[test]
fn slowlog_records_commands() {
    let srv = Server::start(&["--threads", "2", "--slowlog-log-slower-than", "0"]);
    let mut c = srv.client();
    redis::cmd("SLOWLOG")
        .arg("RESET")
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("slowpoke")
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("SET")
        .arg("key")
        .arg("value")
        .query::<()>(&mut c)
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(len, 3, "RESET, SETNAME and SET");
    // Newest first: the LEN, then the SET.
    let entries: Vec<(i64, i64, i64, Vec<String>, String, String)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].3, ["SLOWLOG", "LEN"]);
    let (id, ts, us, args, addr, name) = &entries[1];
    assert!(*id >= 2);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((ts - now).abs() < 60, "{ts}");
    assert!(*us >= 0);
    assert_eq!(args, &["SET", "key", "value"]);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(name, "slowpoke");
    let all: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(all.len(), 5, "the GET and the LEN were logged too");
    let ids: Vec<i64> = all
        .iter()
        .map(|e| match e {
            redis::Value::Array(f) => match f[0] {
                redis::Value::Int(i) => i,
                _ => panic!("{e:?}"),
            },
            _ => panic!("{e:?}"),
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first: {ids:?}"
    );
    let e = err_text(
        redis::cmd("SLOWLOG")
            .arg("GET")
            .arg(-2)
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR count should be greater than or equal to -1");
    // A long argument is cut, a long argument list summarized.
    let big = "x".repeat(200);
    let mut cmd = redis::cmd("ECHO");
    cmd.arg(&big);
    cmd.query::<String>(&mut c).unwrap();
    let entries: Vec<(i64, i64, i64, Vec<String>, String, String)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert_eq!(
        entries[0].3[1],
        format!("{}... (72 more bytes)", "x".repeat(128))
    );
    redis::cmd("SLOWLOG")
        .arg("RESET")
        .query::<()>(&mut c)
        .unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert_eq!(len, 1, "only the RESET itself");
}

#[test]
fn monitor_streams_other_clients_commands() {
    let srv = Server::start(&["--threads", "2"]);
    // Not from inside a transaction (Redis's reply, checked against redis-server 7.0).
    let mut t = srv.raw();
    let want =
        "+OK\r\n+QUEUED\r\n*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n+PONG\r\n";
    let got = common::raw_exchange_n(
        &mut t,
        b"MULTI\r\nMONITOR\r\nEXEC\r\nPING\r\n",
        want.len(),
        std::time::Duration::from_secs(10),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    let mut m = srv.raw();
    m.write_all(b"MONITOR\r\n").unwrap();
    let mut r = std::io::BufReader::new(m.try_clone().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut r, &mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    let mut c = srv.client();
    redis::cmd("SELECT").arg(2).query::<()>(&mut c).unwrap();
    redis::cmd("SET")
        .arg("mk")
        .arg("a \"quoted\" value")
        .query::<()>(&mut c)
        .unwrap();
    // Admin commands are not shown.
    let _: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .query(&mut c)
        .unwrap();
    redis::cmd("GET")
        .arg("mk")
        .query::<Option<String>>(&mut c)
        .unwrap();
    // Read until the GET shows up (the client library may send its own setup commands first).
    let mut lines: Vec<String> = Vec::new();
    while !lines.last().is_some_and(|l| l.contains("\"GET\"")) {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut r, &mut l).unwrap();
        assert!(!l.is_empty(), "monitor closed: {lines:?}");
        lines.push(l);
    }
    assert!(lines.iter().all(|l| !l.contains("\"CONFIG\"")), "{lines:?}");
    let n = lines.len();
    assert!(n >= 3, "{lines:?}");
    assert!(lines[n - 3].ends_with("\"SELECT\" \"2\"\r\n"), "{lines:?}");
    let set = &lines[n - 2];
    assert!(
        set.starts_with('+') && set.contains(" [2 127.0.0.1:"),
        "{set}"
    );
    assert!(
        set.ends_with("] \"SET\" \"mk\" \"a \\\"quoted\\\" value\"\r\n"),
        "{set}"
    );
    assert!(lines[n - 1].ends_with("\"GET\" \"mk\"\r\n"), "{lines:?}");
}

#[test]
fn time_lastsave_role_and_command() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let (secs, micros): (String, String) = redis::cmd("TIME").query(&mut c).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((secs.parse::<i64>().unwrap() - now).abs() < 5);
    assert!(micros.parse::<u32>().unwrap() < 1_000_000);
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!((lastsave - now).abs() < 60);
    let role: (String, i64, Vec<String>) = redis::cmd("ROLE").query(&mut c).unwrap();
    assert_eq!(role, ("master".to_string(), 0, vec![]));
    // COMMAND introspection.
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let all: Vec<redis::Value> = redis::cmd("COMMAND").query(&mut c).unwrap();
    assert_eq!(all.len() as i64, count);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("SET")
        .arg("k1")
        .arg("v")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, ["k1"]);
    let e = err_text(
        redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg("PING")
            .arg("x")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR The command has no key arguments");
    let e = err_text(
        redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg("NOPE")
            .arg("x")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR Invalid command specified");
    let e = err_text(
        redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg("GET")
            .arg("a")
            .arg("b")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR Invalid number of arguments specified for command");
    let names: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    assert!(names.iter().any(|n| n == "client|list") && names.iter().any(|n| n == "get"));
    let info: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .arg("nope")
        .query(&mut c)
        .unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], redis::Value::Nil);
    if let redis::Value::Array(fields) = &info[0] {
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[1], redis::Value::Int(2));
    } else {
        panic!("{:?}", info[0]);
    }
    if let Some(out) = srv.cli(&["COMMAND", "DOCS", "ping", "client"]) {
        assert!(
            out.contains("summary") && out.contains("client|list"),
            "{out}"
        );
    }
}

#[test]
fn shutdown_exits_cleanly() {
    let mut srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let e = err_text(
        redis::cmd("SHUTDOWN")
            .arg("ABORT")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR No shutdown in progress.");
    let e = err_text(
        redis::cmd("SHUTDOWN")
            .arg("SAVE")
            .arg("NOSAVE")
            .query::<redis::Value>(&mut c),
    );
    assert_eq!(e, "ERR syntax error");
    let _ = redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query::<redis::Value>(&mut c);
    let mut status = None;
    let exited = wait_until(Duration::from_secs(5), || {
        status = srv.child.try_wait().unwrap();
        status.is_some()
    });
    assert!(exited, "the server did not exit");
    assert_eq!(status.unwrap().code(), Some(0));
}

/// A MONITOR client that never reads is closed once its output passes the replica class's hard
/// limit (as Redis does), so it cannot grow the server's memory without bound.
#[test]
fn monitor_that_never_reads_is_closed_at_the_limit() {
    use std::io::{Read, Write};
    let srv = common::Server::start(&[
        "--threads",
        "1",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut m = srv.raw();
    m.write_all(b"MONITOR\r\n").unwrap();
    let mut ok = [0u8; 5];
    m.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let mut c = srv.client();
    let value = "x".repeat(100 * 1024);
    let monitors = |c: &mut redis::Connection| -> usize {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(c).unwrap();
        list.lines().filter(|l| l.contains(" flags=O ")).count()
    };
    assert_eq!(monitors(&mut c), 1);
    for i in 0..400 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
        if monitors(&mut c) == 0 {
            break;
        }
    }
    assert!(
        common::wait_until(std::time::Duration::from_secs(10), || monitors(&mut c) == 0),
        "the monitor was not closed"
    );
}

/// (arity, sorted flags, first key, last key, key step) of every command in COMMAND's reply.
fn command_table(c: &mut redis::Connection) -> std::collections::HashMap<String, String> {
    let reply: redis::Value = redis::cmd("COMMAND").query(c).unwrap();
    let redis::Value::Array(entries) = reply else {
        panic!("COMMAND: {reply:?}");
    };
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    };
    let mut out = std::collections::HashMap::new();
    for e in entries {
        let redis::Value::Array(f) = e else {
            panic!("entry {e:?}");
        };
        let mut flags: Vec<String> = match &f[2] {
            redis::Value::Array(v) | redis::Value::Set(v) => v.iter().map(text).collect(),
            other => panic!("flags {other:?}"),
        };
        flags.sort();
        let shape = format!(
            "arity {} flags {:?} keys {} {} {}",
            text(&f[1]),
            flags,
            text(&f[3]),
            text(&f[4]),
            text(&f[5])
        );
        out.insert(text(&f[0]), shape);
    }
    out
}

/// COMMAND describes every command ringkv has as redis-server 7.0 does (arity, flags, key
/// positions), since cluster-aware clients compute keys from it.
#[test]
fn command_metadata_matches_redis() {
    if !common::have_tool("redis-server") {
        return;
    }
    let r = common::RealRedis::start();
    let k = Server::start(&[]);
    let theirs = command_table(&mut r.client());
    let ours = command_table(&mut k.client());
    let mut differ = Vec::new();
    for (name, shape) in &ours {
        match theirs.get(name) {
            Some(t) if t == shape => {}
            Some(t) => differ.push(format!("{name}: ringkv {shape} / redis {t}")),
            None => differ.push(format!("{name}: not in redis-server's COMMAND")),
        }
    }
    differ.sort();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    assert!(ours.len() > 150, "{}", ours.len());
}
