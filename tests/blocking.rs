//! Blocking commands through the binary: woken across threads in FIFO order, reply bytes equal
//! to redis-server's, millisecond timeouts, CLIENT UNBLOCK, CLIENT KILL of a blocked client,
//! BLMOVE between shards, and no blocking inside MULTI.

mod common;

use common::{q, wait_until, Server};
use redis::Value as V;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = q(c, &["INFO", "clients"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

fn wait_blocked(c: &mut redis::Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(c) != n {
        assert!(
            Instant::now() < deadline,
            "never reached {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_reply(s: &mut TcpStream, want: usize) -> String {
    read_for(s, want, Duration::from_secs(10))
}

/// Reads until `want` bytes arrived or `timeout` passed.
fn read_for(s: &mut TcpStream, want: usize, timeout: Duration) -> String {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < want && Instant::now() < deadline {
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Blocked clients are served first come first served, whichever thread they and the pusher
/// are on.
#[test]
fn fifo_wakeups_across_threads() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let mut waiters = Vec::new();
    for i in 0..4 {
        let mut s = srv.raw();
        s.write_all(b"BLPOP jobs 0\r\n").unwrap();
        wait_blocked(&mut c, i + 1);
        waiters.push(s);
    }
    // One push of four elements: the first waiter gets the head, and so on.
    q::<i64>(&mut c, &["RPUSH", "jobs", "a", "b", "c", "d"]).unwrap();
    for (s, want) in waiters.iter_mut().zip(["a", "b", "c", "d"]) {
        let expect = format!("*2\r\n$4\r\njobs\r\n$1\r\n{want}\r\n");
        assert_eq!(read_reply(s, expect.len()), expect);
    }
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "jobs"]).unwrap(), 0);
    assert_eq!(blocked_clients(&mut c), 0);
}

/// The bytes a blocked client receives for each blocking command, against redis-server.
#[test]
fn reply_bytes_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--threads", "2"]) else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        ("BLPOP l1 l2 0", "RPUSH l2 x y"),
        ("BRPOP l1 0", "RPUSH l1 a b"),
        ("BLMPOP 0 2 m1 m2 RIGHT COUNT 2", "RPUSH m2 p q r"),
        ("BZPOPMIN z1 z2 0", "ZADD z2 1.5 a 2 b"),
        ("BZMPOP 0 1 z3 MAX COUNT 5", "ZADD z3 1 a 2 b"),
        ("BLMOVE s1 d1 LEFT RIGHT 0", "RPUSH s1 e1 e2"),
        ("BRPOPLPUSH s2 d2 0", "RPUSH s2 f1"),
    ];
    for (block, fill) in cases {
        let mut got = Vec::new();
        for port in [real.port, srv.port] {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(format!("{block}\r\n").as_bytes()).unwrap();
            wait_blocked(&mut c, 1);
            let parts: Vec<&str> = fill.split(' ').collect();
            let mut cmd = redis::cmd(parts[0]);
            for p in &parts[1..] {
                cmd.arg(*p);
            }
            let _: V = cmd.query(&mut c).unwrap();
            // The first bytes, then whatever else arrives within 100 ms.
            let first = read_reply(&mut s, 1);
            let rest = read_for(&mut s, usize::MAX, Duration::from_millis(100));
            got.push(first + &rest);
            let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        }
        assert_eq!(
            got[0], got[1],
            "{block} then {fill} (left redis, right ringkv)"
        );
    }
}

#[test]
fn timeouts_unblock_kill_and_multi() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    // Sub-second timeout: nil array after about 200 ms.
    let started = Instant::now();
    let r: V = q(&mut c, &["BLPOP", "none", "0.2"]).unwrap();
    let took = started.elapsed();
    assert_eq!(r, V::Nil);
    assert!(
        took >= Duration::from_millis(190),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(3), "returned after {took:?}");
    assert_eq!(
        common::err(q(&mut c, &["BLPOP", "k", "-1"])),
        "ERR timeout is negative"
    );
    assert_eq!(
        common::err(q(&mut c, &["BLPOP", "k", "abc"])),
        "ERR timeout is not a float or out of range"
    );
    // CLIENT UNBLOCK, as a timeout and as an error.
    let mut s = srv.raw();
    s.write_all(b"CLIENT ID\r\n").unwrap();
    let id_line = read_reply(&mut s, 3);
    let id = id_line.trim().trim_start_matches(':').to_string();
    s.write_all(b"BLPOP u 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id]).unwrap(), 1);
    assert_eq!(read_reply(&mut s, 5), "*-1\r\n");
    s.write_all(b"BLPOP u 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    assert_eq!(
        q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR"]).unwrap(),
        1
    );
    let want = "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";
    assert_eq!(read_reply(&mut s, want.len()), want);
    assert_eq!(
        q::<i64>(&mut c, &["CLIENT", "UNBLOCK", &id]).unwrap(),
        0,
        "not blocked"
    );
    // A killed blocked client does not swallow the next element.
    s.write_all(b"BLPOP kept 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["CLIENT", "KILL", "ID", &id]).unwrap();
    wait_blocked(&mut c, 0);
    q::<i64>(&mut c, &["RPUSH", "kept", "v"]).unwrap();
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "kept", "0", "-1"]).unwrap(),
        vec!["v"]
    );
    // A blocked client that hangs up is freed at once (not when its key gets data).
    let mut gone = srv.raw();
    gone.write_all(b"BLPOP never 0\r\n").unwrap();
    wait_blocked(&mut c, 1);
    drop(gone);
    wait_blocked(&mut c, 0);
    // Inside MULTI nothing blocks.
    q::<String>(&mut c, &["MULTI"]).unwrap();
    q::<String>(&mut c, &["BLPOP", "empty", "0"]).unwrap();
    let r: V = q(&mut c, &["EXEC"]).unwrap();
    assert_eq!(r, V::Array(vec![V::Nil]));
}

/// BLMOVE between lists on different shards: every pushed element ends up moved exactly once.
#[test]
fn blmove_across_shards() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let mut movers = Vec::new();
    for i in 0..3 {
        let mut s = srv.raw();
        s.write_all(format!("BLMOVE src{{a}} dst:{i} LEFT RIGHT 0\r\n").as_bytes())
            .unwrap();
        wait_blocked(&mut c, i + 1);
        movers.push(s);
    }
    q::<i64>(&mut c, &["RPUSH", "src{a}", "x", "y", "z"]).unwrap();
    let mut got = Vec::new();
    for (i, s) in movers.iter_mut().enumerate() {
        let r = read_reply(s, 7);
        assert!(r.starts_with("$1\r\n"), "mover {i}: {r}");
        got.push(r[4..5].to_string());
        let dst: Vec<String> = q(&mut c, &["LRANGE", &format!("dst:{i}"), "0", "-1"]).unwrap();
        assert_eq!(dst, vec![got[i].clone()]);
    }
    got.sort();
    assert_eq!(got, vec!["x", "y", "z"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "src{a}"]).unwrap(), 0);
}

/// Waits until INFO reports `n` blocked clients.
fn blocked_clients_reach(c: &mut redis::Connection, n: usize) -> bool {
    wait_until(Duration::from_secs(5), || {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        info.contains(&format!("blocked_clients:{n}\r\n"))
    })
}

/// REPLICAOF ends every blocked client with Redis's UNBLOCKED error and closes it: were it left
/// waiting, its pop would take an element pushed by the new master's stream, and the replica
/// would diverge from its master.
#[test]
fn becoming_a_replica_unblocks_and_closes_blocked_clients() {
    let srv = Server::start(&["--threads", "2"]);
    let mut admin = srv.client();
    let mut waiters: Vec<std::net::TcpStream> = (0..3).map(|_| srv.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.write_all(format!("BLPOP list{i} 0\r\n").as_bytes())
            .unwrap();
    }
    assert!(blocked_clients_reach(&mut admin, 3));
    let dead = common::free_port();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(dead)
        .query(&mut admin)
        .unwrap();
    let want = "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)\r\n";
    for w in &mut waiters {
        // The reply, then the connection closes (raw_exchange reads until it does).
        let got = common::raw_exchange(w, b"", Duration::from_secs(5));
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
}

/// Writes that put a whole value under a key (RENAME, COPY, MOVE, RESTORE) serve the clients
/// blocked on it, as any push does; so does SWAPDB bringing a list into the waiter's
/// database. WATCH stays with its database index across SWAPDB (only the data moves, as in
/// Redis).
#[test]
fn whole_value_writes_and_swapdb_serve_blocked_clients() {
    let srv = Server::start(&["--threads", "2"]);
    let mut admin = srv.client();
    // RENAME into the key a BLPOP waits on.
    let mut w = srv.raw();
    w.write_all(b"BLPOP target 0\r\n").unwrap();
    assert!(blocked_clients_reach(&mut admin, 1));
    let _: () = redis::cmd("RPUSH")
        .arg("src")
        .arg("v")
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("RENAME")
        .arg("src")
        .arg("target")
        .query(&mut admin)
        .unwrap();
    let want = "*2\r\n$6\r\ntarget\r\n$1\r\nv\r\n";
    let got = common::raw_exchange_n(&mut w, b"", want.len(), Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), want);
    // SWAPDB brings a list into database 0, where a client waits for it.
    let mut w = srv.raw();
    w.write_all(b"BLPOP swapped 0\r\n").unwrap();
    assert!(blocked_clients_reach(&mut admin, 1));
    let _: () = redis::cmd("SELECT").arg(1).query(&mut admin).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("swapped")
        .arg("x")
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut admin).unwrap();
    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(1)
        .query(&mut admin)
        .unwrap();
    let want = "*2\r\n$7\r\nswapped\r\n$1\r\nx\r\n";
    let got = common::raw_exchange_n(&mut w, b"", want.len(), Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), want);
    // A WATCH on database 0 is invalidated by a write to database 0 after a SWAPDB.
    let mut watcher = srv.client();
    let _: () = redis::cmd("WATCH")
        .arg("watched")
        .query(&mut watcher)
        .unwrap();
    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(1)
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("watched")
        .arg("1")
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut watcher).unwrap();
    let _: () = redis::cmd("PING").query(&mut watcher).unwrap();
    let r: V = redis::cmd("EXEC").query(&mut watcher).unwrap();
    assert_eq!(
        r,
        V::Nil,
        "a write after SWAPDB did not invalidate the WATCH"
    );
}

/// A transaction that pushes and pops the key a client waits on runs whole before the waiter is
/// served: `MULTI; LPUSH k x; LPOP k; EXEC` answers `[1, x]` and the waiter keeps waiting, as
/// in Redis (until 2026-12-08 the waiter was served between the two and took `x`).
#[test]
fn blocked_clients_are_served_after_the_whole_transaction() {
    let srv = Server::start(&["--threads", "2"]);
    let mut admin = srv.client();
    let mut w = srv.raw();
    w.write_all(b"BLPOP k 0\r\n").unwrap();
    assert!(blocked_clients_reach(&mut admin, 1));
    let mut t = srv.raw();
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$1\r\nx\r\n";
    let got = common::raw_exchange_n(
        &mut t,
        b"MULTI\r\nLPUSH k x\r\nLPOP k\r\nEXEC\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    // Still waiting: a later push serves it.
    let _: () = redis::cmd("RPUSH")
        .arg("k")
        .arg("y")
        .query(&mut admin)
        .unwrap();
    let want = "*2\r\n$1\r\nk\r\n$1\r\ny\r\n";
    let got = common::raw_exchange_n(&mut w, b"", want.len(), Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), want);
    // A transaction that leaves data serves the waiter after it.
    let mut w = srv.raw();
    w.write_all(b"BLPOP k2 0\r\n").unwrap();
    assert!(blocked_clients_reach(&mut admin, 1));
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n";
    let got = common::raw_exchange_n(
        &mut t,
        b"MULTI\r\nLPUSH k2 a\r\nLPUSH k2 b\r\nEXEC\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    let want = "*2\r\n$2\r\nk2\r\n$1\r\nb\r\n";
    let got = common::raw_exchange_n(&mut w, b"", want.len(), Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// A BLMOVE waiter woken to run its command again that does not take the element (here its
/// destination holds a string: it gets WRONGTYPE, as from Redis) does not leave the waiter
/// behind it blocked with the element in the list: that one is served (Redis serves it at
/// once; ringkv at the latest on the next cron tick).
#[test]
fn an_element_a_woken_waiter_left_behind_reaches_the_next_waiter() {
    for threads in ["1", "2"] {
        let srv = Server::start(&["--threads", threads]);
        let mut c = srv.client();
        q::<String>(&mut c, &["SET", "{t}dst", "string"]).unwrap();
        let mut mover = srv.raw();
        mover
            .write_all(b"BLMOVE {t}src {t}dst LEFT RIGHT 0\r\n")
            .unwrap();
        wait_blocked(&mut c, 1);
        let mut popper = srv.raw();
        popper.write_all(b"BLPOP {t}src 0\r\n").unwrap();
        wait_blocked(&mut c, 2);
        q::<i64>(&mut c, &["LPUSH", "{t}src", "x"]).unwrap();
        let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
        assert_eq!(
            read_reply(&mut mover, wrong.len()),
            wrong,
            "threads {threads}"
        );
        let want = "*2\r\n$6\r\n{t}src\r\n$1\r\nx\r\n";
        assert_eq!(
            read_for(&mut popper, want.len(), Duration::from_secs(5)),
            want,
            "threads {threads}: the element stayed in the list"
        );
        assert_eq!(q::<i64>(&mut c, &["EXISTS", "{t}src"]).unwrap(), 0);
    }
}
