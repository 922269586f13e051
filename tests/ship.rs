//! Single-shard commands shipped to the thread that owns their keys: pipelined replies come back
//! in request order, with the client's database, reply mode and MONITOR all honoured.

mod common;

use common::{raw_exchange_n, Server};
use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

/// A pipeline that mixes keys of both shards with keyless commands (PING, SELECT, ECHO) gets
/// every reply, in order, and the SELECTs in the middle apply to the commands after them.
#[test]
fn pipelined_mixed_shards_reply_in_order() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let n = 600;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("k:{i}")).arg(i);
        if i % 97 == 0 {
            pipe.cmd("PING");
        }
    }
    pipe.cmd("SELECT").arg(1);
    for i in 0..n {
        pipe.cmd("INCRBY").arg(format!("k:{i}")).arg(1000 + i);
    }
    pipe.cmd("SELECT").arg(0);
    for i in 0..n {
        pipe.cmd("GET").arg(format!("k:{i}"));
        if i % 101 == 0 {
            pipe.cmd("ECHO").arg(format!("e{i}"));
        }
    }
    let replies: Vec<redis::Value> = pipe.query(&mut c).unwrap();
    let mut it = replies.into_iter();
    for i in 0..n {
        assert_eq!(it.next(), Some(redis::Value::Okay), "SET #{i}");
        if i % 97 == 0 {
            assert_eq!(
                it.next(),
                Some(redis::Value::SimpleString("PONG".into())),
                "PING after SET #{i}"
            );
        }
    }
    assert_eq!(it.next(), Some(redis::Value::Okay), "SELECT 1");
    for i in 0..n {
        // Database 1 starts empty, so INCRBY yields exactly its increment.
        assert_eq!(it.next(), Some(redis::Value::Int(1000 + i)), "INCRBY #{i}");
    }
    assert_eq!(it.next(), Some(redis::Value::Okay), "SELECT 0");
    for i in 0..n {
        assert_eq!(
            it.next(),
            Some(redis::Value::BulkString(i.to_string().into_bytes())),
            "GET #{i}"
        );
        if i % 101 == 0 {
            assert_eq!(
                it.next(),
                Some(redis::Value::BulkString(format!("e{i}").into_bytes())),
                "ECHO after GET #{i}"
            );
        }
    }
    assert_eq!(it.next(), None);
    // Both databases hold every key: the SELECT reached the shipped commands.
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, n);
}

/// Errors of shipped commands (wrong type, not an integer) keep their place in the pipeline.
#[test]
fn shipped_errors_keep_their_place() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let mut req = Vec::new();
    let mut expect = Vec::new();
    for i in 0..64 {
        let key = format!("e:{i}");
        req.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nabc\r\n",
                key.len()
            )
            .as_bytes(),
        );
        expect.extend_from_slice(b"+OK\r\n");
        req.extend_from_slice(
            format!("*2\r\n$4\r\nINCR\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        expect.extend_from_slice(b"-ERR value is not an integer or out of range\r\n");
        req.extend_from_slice(
            format!("*2\r\n$6\r\nSTRLEN\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        expect.extend_from_slice(b":3\r\n");
    }
    let got = raw_exchange_n(&mut s, &req, expect.len(), Duration::from_secs(10));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expect)
    );
}

/// CLIENT REPLY OFF and SKIP suppress the replies of shipped commands like any other.
#[test]
fn reply_modes_apply_to_shipped_commands() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let mut req = b"CLIENT REPLY OFF\r\n".to_vec();
    for i in 0..50 {
        req.extend_from_slice(format!("SET r:{i} {i}\r\n").as_bytes());
    }
    req.extend_from_slice(b"CLIENT REPLY ON\r\n");
    req.extend_from_slice(b"CLIENT REPLY SKIP\r\nGET r:1\r\nGET r:2\r\nGET r:3\r\n");
    let want = "+OK\r\n$1\r\n2\r\n$1\r\n3\r\n";
    let got = raw_exchange_n(&mut s, &req, want.len(), Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// MONITOR sees commands that ran on another thread than the sender's.
#[test]
fn monitor_sees_shipped_commands() {
    let srv = Server::start(&["--threads", "2"]);
    let mut mon = srv.raw();
    mon.write_all(b"MONITOR\r\n").unwrap();
    mon.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut mon = BufReader::new(mon);
    let mut line = String::new();
    mon.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..40 {
        pipe.cmd("SET").arg(format!("m:{i}")).arg("v").ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 40 && Instant::now() < deadline {
        line.clear();
        if mon.read_line(&mut line).is_err() {
            continue; // read timeout: poll again until the deadline
        }
        if let Some(pos) = line.find("\"SET\" \"m:") {
            let rest = &line[pos + 9..];
            let key = rest.split('"').next().unwrap_or_default().to_string();
            seen.insert(key);
        }
    }
    assert_eq!(seen.len(), 40, "MONITOR lines seen: {seen:?}");
}
