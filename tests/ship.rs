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

/// A write behind a read in one shipped run meets the same refusals as a write sent alone: on a
/// read-only replica every SET is refused, whichever shard its tag lives on. (Until 2026-12-08
/// only a run's first command was checked, so `GET {t}a; SET {t}b v` wrote to a replica when
/// `{t}` lived on the other thread.)
#[test]
fn refusals_apply_to_every_command_of_a_shipped_run() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    // A master nobody listens on: the server becomes a read-only replica serving stale data.
    let dead = common::free_port().to_string();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(&dead)
        .query(&mut c)
        .unwrap();
    let mut req = Vec::new();
    let mut want = String::new();
    for t in 0..16 {
        req.extend_from_slice(format!("GET {{t{t}}}a\r\nSET {{t{t}}}b v\r\n").as_bytes());
        want.push_str("$-1\r\n-READONLY You can't write against a read only replica.\r\n");
    }
    let mut s = srv.raw();
    let got = raw_exchange_n(&mut s, &req, want.len(), Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&got), want);
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 0, "a refused write changed the dataset");
}

/// Nothing a client sends after QUIT runs, also when QUIT follows a command that took the locks
/// of both shards (the commands behind such a command join its locked run).
#[test]
fn nothing_runs_after_quit_behind_a_cross_shard_command() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    // Sixteen keys span both shards but for a 2^-15 chance.
    let mset: String = (0..16).map(|i| format!(" q{i} 1")).collect();
    for round in 0..5 {
        let mut s = srv.raw();
        let req = format!("MSET{mset}\r\nQUIT\r\nSET after-quit-{round} ran\r\n");
        let got = common::raw_exchange(&mut s, req.as_bytes(), Duration::from_secs(10));
        assert_eq!(String::from_utf8_lossy(&got), "+OK\r\n+OK\r\n");
        let after: Option<String> = redis::cmd("GET")
            .arg(format!("after-quit-{round}"))
            .query(&mut c)
            .unwrap();
        assert_eq!(after, None, "round {round}: a command after QUIT ran");
    }
}

/// Reads one reply line (through CRLF), a byte at a time so nothing after it is consumed.
fn one_line(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match s.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break, // closed or timed out: the caller's assertion shows what came
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Sends a request whose reply is one line and returns that line.
fn ask(s: &mut std::net::TcpStream, request: &str) -> String {
    s.write_all(request.as_bytes()).unwrap();
    one_line(s)
}

/// Sends `SORT {busy}list` (a long sort that keeps the thread owning `{busy}` busy) on
/// `sorter` without waiting, sends `probe` (a request with a one-line reply) on `prober`, and
/// returns whether the probe was held up by the sort. Reads the sort's reply before returning.
fn held_up_by_sort(
    sorter: &mut std::net::TcpStream,
    prober: &mut std::net::TcpStream,
    probe: &str,
) -> bool {
    sorter.write_all(b"SORT {busy}list LIMIT 0 1\r\n").unwrap();
    // Give the sort time to start. A probe sent before it would not be held up, so a slow
    // start can only make a search below fail loudly, never pass wrongly.
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let reply = ask(prober, probe);
    let held = started.elapsed() > Duration::from_millis(50);
    assert!(reply.ends_with("\r\n"), "no reply to {probe:?}: {reply:?}");
    assert_eq!(one_line(sorter), "*1\r\n");
    let _ = (one_line(sorter), one_line(sorter)); // the element: $len and its bytes
    held
}

/// A connection killed while its shipped run waits runs nothing more once CLIENT KILL has
/// answered `:1`: neither the shipped `SET` still queued on the busy thread nor the `SET`
/// pipelined behind it. (Until 2026-12-08 both ran: the run when its thread got to it, and the
/// next command when the run's replies came back.)
#[test]
fn a_connection_killed_during_a_shipped_run_runs_nothing_more() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    // A list whose SORT keeps its owner thread busy for a good part of a second.
    let mut pipe = redis::pipe();
    for chunk in 0..200 {
        let items: Vec<u64> = (0..10_000u64)
            .map(|i| (i * 7919 + chunk * 104_729) % 1_000_003)
            .collect();
        pipe.cmd("RPUSH").arg("{busy}list").arg(items).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let mut sorter = srv.raw();
    let conns: Vec<std::net::TcpStream> = (0..8).map(|_| srv.raw()).collect();
    // v and adm: two connections of the thread that does not own {busy}.
    let free: Vec<usize> = (0..conns.len())
        .filter(|&i| {
            let mut probe = conns[i].try_clone().unwrap();
            !held_up_by_sort(&mut sorter, &mut probe, "PING\r\n")
        })
        .collect();
    assert!(free.len() >= 2, "connections are dealt round the threads");
    let mut v = conns[free[0]].try_clone().unwrap();
    let mut adm = conns[free[1]].try_clone().unwrap();
    // A tag on v's own shard.
    let local = (0..32)
        .find(|t| !held_up_by_sort(&mut sorter, &mut v, &format!("GET {{l{t}}}y\r\n")))
        .expect("a tag on v's shard");
    let id = ask(&mut v, "CLIENT ID\r\n");
    let id = id.trim().trim_start_matches(':').to_string();
    // The owner of {busy} sorts; v ships SET {busy}x there and waits; the kill lands meanwhile.
    sorter.write_all(b"SORT {busy}list LIMIT 0 1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    v.write_all(format!("SET {{busy}}x 1\r\nSET {{l{local}}}y ran\r\n").as_bytes())
        .unwrap();
    assert_eq!(ask(&mut adm, &format!("CLIENT KILL ID {id}\r\n")), ":1\r\n");
    // The connection closes once the sort ends and the run's replies are back.
    let rest = common::raw_exchange(&mut v, b"", Duration::from_secs(10));
    assert!(rest.len() <= 5, "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(one_line(&mut sorter), "*1\r\n");
    assert_eq!(
        ask(&mut adm, &format!("GET {{l{local}}}y\r\n")),
        "$-1\r\n",
        "a killed client ran a command"
    );
    // Nor the shipped SET: it was still queued behind the sort when the kill answered.
    assert_eq!(
        ask(&mut adm, "GET {busy}x\r\n"),
        "$-1\r\n",
        "a killed client's shipped command ran after CLIENT KILL answered"
    );
}
