//! Replication with ringkv as the master and Debian's redis-server 7 as the replica: diskless
//! and length-framed full syncs from the fork-free snapshot, the stream after it, partial
//! resync after the link is cut, backlog overflow forcing a full resync, and a consistency
//! check with counters incremented at full speed (also in cross-shard transactions) while the
//! full sync runs. Every scenario ends with DEBUG DIGEST equal on both sides.

mod common;

use common::{have_tool, q, wait_until, RealRedis, Server};
use redis::Value as V;
use std::io::{Read, Write};
use std::time::Duration;

fn cmd(c: &mut redis::Connection, args: &[&str]) {
    q::<V>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

fn info(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = q(c, &["INFO", section]).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Waits (up to `secs` seconds) until INFO `section` shows `field` with `value`.
fn info_becomes(
    c: &mut redis::Connection,
    section: &str,
    field: &str,
    value: &str,
    secs: u64,
) -> bool {
    wait_until(Duration::from_secs(secs), || {
        info(c, section, field).as_deref() == Some(value)
    })
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"]).unwrap()
}

fn master(extra: &[&str]) -> Server {
    let mut args = vec![
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn replica_of(m: &Server) -> RealRedis {
    RealRedis::start_with(&["--replicaof", "127.0.0.1", &m.port.to_string()])
}

fn is_up(r: &mut redis::Connection) -> bool {
    info(r, "replication", "master_link_status").as_deref() == Some("up")
}

/// Waits until the replica's link to its master is up.
fn link_up(r: &mut redis::Connection) -> bool {
    wait_until(Duration::from_secs(20), || is_up(r))
}

/// Waits until the replica's link is up and it has processed everything the master sent.
fn caught_up(m: &mut redis::Connection, r: &mut redis::Connection) -> bool {
    wait_until(Duration::from_secs(20), || {
        let mo = info(m, "replication", "master_repl_offset");
        is_up(r) && mo.is_some() && info(r, "replication", "slave_repl_offset") == mo
    })
}

fn fill(c: &mut redis::Connection, tag: &str) {
    cmd(c, &["SET", &format!("s{tag}"), "v"]);
    cmd(c, &["SET", &format!("e{tag}"), "v", "EX", "1000"]);
    cmd(c, &["HSET", &format!("h{tag}"), "a", "1"]);
    cmd(c, &["RPUSH", &format!("l{tag}"), "a", "b"]);
    cmd(c, &["SADD", &format!("t{tag}"), "1", "2"]);
    cmd(c, &["ZADD", &format!("z{tag}"), "1", "a"]);
    cmd(c, &["INCRBYFLOAT", &format!("f{tag}"), "0.5"]);
    cmd(c, &["SELECT", "3"]);
    cmd(c, &["SET", &format!("db3{tag}"), "x"]);
    cmd(c, &["SELECT", "0"]);
}

#[test]
fn redis_replicates_from_ringkv_diskless_and_partially_after_a_cut() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&[]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "3000"]);
    fill(&mut mc, "1");
    let r = replica_of(&m);
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    fill(&mut mc, "2");
    cmd(&mut mc, &["SPOP", "t1"]);
    cmd(&mut mc, &["EXPIRE", "s1", "500"]);
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(
        info(&mut mc, "replication", "connected_slaves").unwrap(),
        "1"
    );
    let slave0 = info(&mut mc, "replication", "slave0").unwrap();
    assert!(slave0.contains("state=online"), "{slave0}");
    assert!(m
        .log_text()
        .contains("Synchronization with replica 127.0.0.1:"));

    // Cut the link from the replica's side: it continues with PSYNC, no second full sync.
    cmd(&mut rc, &["CLIENT", "KILL", "TYPE", "master"]);
    fill(&mut mc, "3");
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(info(&mut mc, "stats", "sync_full").unwrap(), "1");
    assert_eq!(info(&mut mc, "stats", "sync_partial_ok").unwrap(), "1");
    let role: Vec<V> = q(&mut mc, &["ROLE"]).unwrap();
    assert_eq!(role[0], V::BulkString(b"master".to_vec()));
}

#[test]
fn length_framed_sync_and_backlog_overflow_force_full_resyncs() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&[
        "--repl-diskless-sync",
        "no",
        "--repl-backlog-size",
        "16kb",
        "--client-output-buffer-limit",
        "replica 256kb 0 0",
    ]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let r = replica_of(&m);
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert!(m
        .log_text()
        .contains("Starting BGSAVE for SYNC with target: disk"));
    // A stopped replica falls further behind than the output limit: it is dropped, and when
    // it comes back its offset is gone from the backlog, so it gets a full sync again.
    let pid = info(&mut rc, "server", "process_id").unwrap();
    let signal = |sig: &str| send_signal(&pid, sig);
    signal("-STOP");
    let value = "x".repeat(10_000);
    for i in 0..2000 {
        cmd(&mut mc, &["SET", &format!("big{}", i % 300), &value]);
    }
    signal("-CONT");
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    let full: u64 = info(&mut mc, "stats", "sync_full")
        .unwrap()
        .parse()
        .unwrap();
    assert!(full >= 2, "the overflow forced a second full sync");
    assert!(m
        .log_text()
        .contains("scheduled to be closed ASAP for overcoming of output buffer limits"));
}

/// Counters incremented at full speed by several clients, some in cross-shard MULTI/EXEC,
/// while a slowed full sync runs: afterwards the replica equals the master exactly.
#[test]
fn writes_racing_a_full_sync_all_arrive() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&["--rdb-key-save-delay", "100"]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "4000"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut c = m.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if w % 2 == 0 {
                        cmd(&mut c, &["INCR", &format!("counter:{w}")]);
                        cmd(&mut c, &["SET", &format!("key:{}", n % 4000), "changed"]);
                    } else {
                        let mut p = redis::pipe();
                        p.atomic()
                            .cmd("INCR")
                            .arg(format!("a{{{w}}}"))
                            .cmd("INCR")
                            .arg(format!("b{}", n % 7))
                            .cmd("SADD")
                            .arg(format!("set{}", w))
                            .arg(n);
                        let _: V = p.query(&mut c).unwrap();
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let r = replica_of(&m);
    let mut rc = r.client();
    // The slowed snapshot keeps the sync open for a while under the writers.
    assert!(link_up(&mut rc));
    // Let the writers go on for a while on the live stream.
    let at_link_up: i64 = q::<Option<i64>>(&mut mc, &["GET", "counter:0"])
        .unwrap()
        .unwrap_or(0);
    assert!(wait_until(Duration::from_secs(20), || q::<Option<i64>>(
        &mut mc,
        &["GET", "counter:0"]
    )
    .unwrap()
    .unwrap_or(0)
        > at_link_up + 300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = writers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(total > 100, "{total}");
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
}

/// PSYNC by hand: an unknown replication ID or a future offset gets a full sync; the answer
/// starts with +FULLRESYNC <replid> <offset> and a $EOF: transfer when the replica said
/// `capa eof`.
#[test]
fn psync_answers_like_redis() {
    let m = master(&[]);
    let mut mc = m.client();
    cmd(&mut mc, &["SET", "k", "v"]);
    let mut s = m.raw();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"REPLCONF listening-port 1234\r\nREPLCONF capa eof capa psync2\r\nPSYNC 0123456789012345678901234567890123456789 99999\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ok = wait_until(Duration::from_secs(10), || {
        if let Ok(n) = s.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got);
        text.matches("$EOF:").count() == 1 && got.len() > 200
    });
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(ok, "{text:?}");
    assert!(text.starts_with("+OK\r\n+OK\r\n+FULLRESYNC "), "{text:?}");
    // A master takes GETACK without a reply; rdb-only is 0 or 1 (texts of redis-server 7.0).
    let mut other = m.raw();
    let want = "-ERR value is out of range, value must between 0 and 1\r\n+PONG\r\n";
    let got = common::raw_exchange_n(
        &mut other,
        b"REPLCONF GETACK *\r\nREPLCONF rdb-only 2\r\nPING\r\n",
        want.len(),
        Duration::from_secs(10),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    let mark = &text[text.find("$EOF:").unwrap() + 5..][..40];
    assert!(mark.bytes().all(|c| c.is_ascii_hexdigit()), "{mark}");
    assert!(text.contains("REDIS0010"));
    assert_eq!(info(&mut mc, "stats", "sync_partial_err").unwrap(), "1");
}

/// A replica restarted from a dump it saved while in step with its master (the file records
/// the master's replication ID and the offset its dataset is at, as Redis's replicas write
/// it) continues partially instead of syncing everything again, and ends equal.
#[test]
fn a_restarted_replica_continues_partially_from_its_dump() {
    let m = master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let port = m.port.to_string();
    let replica_args = |dir: &str| {
        vec![
            "--replicaof".to_string(),
            "127.0.0.1".into(),
            port.clone(),
            "--enable-debug-command".into(),
            "yes".into(),
            "--dir".into(),
            dir.to_string(),
        ]
    };
    let dir = common::temp_dir("restarted-replica");
    let args = replica_args(dir.to_str().unwrap());
    let r = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    cmd(&mut rc, &["SAVE"]);
    drop(rc);
    drop(r);
    fill(&mut mc, "2");
    let r = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    assert_eq!(info(&mut mc, "stats", "sync_full").as_deref(), Some("1"));
    assert_eq!(
        info(&mut mc, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    drop(r);
    let _ = std::fs::remove_dir_all(dir);
}

/// ROLE lists the replicas that are online, as Redis does: one still waiting for its full
/// sync shows in INFO (state=wait_bgsave) but not in ROLE.
#[test]
fn role_lists_only_online_replicas() {
    let m = master(&["--repl-diskless-sync-delay", "60"]);
    let mut mc = m.client();
    let mut s = m.raw();
    s.write_all(b"PSYNC ? -1\r\n").unwrap();
    assert!(info_becomes(
        &mut mc,
        "replication",
        "connected_slaves",
        "1",
        10
    ));
    let text: String = q(&mut mc, &["INFO", "replication"]).unwrap();
    assert!(text.contains("state=wait_bgsave"), "{text}");
    let role: Vec<V> = q(&mut mc, &["ROLE"]).unwrap();
    assert_eq!(role[0], V::BulkString(b"master".to_vec()));
    assert_eq!(role[2], V::Array(vec![]), "{role:?}");
}

/// `kill <sig> <pid>` (SIGSTOP / SIGCONT a redis-server to pause it like a stuck process).
fn send_signal(pid: &str, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn redis_master(extra: &[&str]) -> RealRedis {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    RealRedis::start_with(&args)
}

fn ringkv_replica_of(port: u16) -> Server {
    master(&["--replicaof", "127.0.0.1", &port.to_string()])
}

#[test]
fn ringkv_replicates_from_redis_and_continues_after_a_cut() {
    if !have_tool("redis-server") {
        return;
    }
    for diskless in ["yes", "no"] {
        let m = redis_master(&["--repl-diskless-sync", diskless]);
        let mut mc = m.client();
        cmd(&mut mc, &["DEBUG", "POPULATE", "2000"]);
        fill(&mut mc, "1");
        let k = ringkv_replica_of(m.port);
        let mut kc = k.client();
        assert!(caught_up(&mut mc, &mut kc), "diskless {diskless}");
        fill(&mut mc, "2");
        cmd(&mut mc, &["SPOP", "t1"]);
        assert!(caught_up(&mut mc, &mut kc));
        assert_eq!(digest(&mut mc), digest(&mut kc), "diskless {diskless}");
        let e = common::err(q::<V>(&mut kc, &["SET", "x", "1"]));
        assert_eq!(e, "READONLY You can't write against a read only replica.");
        let role: Vec<V> = q(&mut kc, &["ROLE"]).unwrap();
        assert_eq!(role[0], V::BulkString(b"slave".to_vec()));
        // The master cuts the link: the replica continues partially.
        cmd(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
        fill(&mut mc, "3");
        assert!(caught_up(&mut mc, &mut kc));
        assert_eq!(digest(&mut mc), digest(&mut kc));
        assert_eq!(info(&mut mc, "stats", "sync_full").unwrap(), "1");
        assert_eq!(info(&mut mc, "stats", "sync_partial_ok").unwrap(), "1");
        let log = k.log_text();
        for line in [
            "Connecting to MASTER 127.0.0.1:",
            "Full resync from master: ",
            "MASTER <-> REPLICA sync: Finished with success",
            "Trying a partial resynchronization",
            "Successful partial resynchronization with master.",
        ] {
            assert!(log.contains(line), "{line}: {log}");
        }
    }
}

/// The seed documents' failover by hand: a master with two replicas (ringkv and redis); the
/// ringkv replica is promoted with REPLICAOF NO ONE and the others follow it, continuing
/// partially (PSYNC2) without a full sync.
#[test]
fn failover_by_hand_continues_partially() {
    if !have_tool("redis-server") {
        return;
    }
    let m = redis_master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let a = ringkv_replica_of(m.port);
    let mut ac = a.client();
    let b = RealRedis::start_with(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut bc = b.client();
    fill(&mut mc, "2");
    assert!(caught_up(&mut mc, &mut ac));
    assert!(caught_up(&mut mc, &mut bc));
    cmd(&mut ac, &["REPLICAOF", "NO", "ONE"]);
    let port = a.port.to_string();
    cmd(&mut bc, &["REPLICAOF", "127.0.0.1", &port]);
    cmd(&mut mc, &["REPLICAOF", "127.0.0.1", &port]);
    fill(&mut ac, "3");
    assert!(caught_up(&mut ac, &mut bc));
    assert!(caught_up(&mut ac, &mut mc));
    let want = digest(&mut ac);
    assert_eq!(digest(&mut bc), want);
    assert_eq!(digest(&mut mc), want);
    assert_eq!(info(&mut ac, "stats", "sync_full").unwrap(), "0");
    assert_eq!(info(&mut ac, "stats", "sync_partial_ok").unwrap(), "2");
    assert!(info(&mut ac, "replication", "master_replid2").unwrap() != "0".repeat(40));
}

/// A ringkv replica whose new master continues the old one under a new ID (+CONTINUE <id>)
/// keeps the old ID as replid2, as Redis does: its INFO matches the promoted redis peer's, and
/// its own replica, still on the old ID, continues partially after its link is cut.
#[test]
fn a_replica_told_of_a_new_master_id_keeps_the_old_one_as_replid2() {
    if !have_tool("redis-server") {
        return;
    }
    let m = redis_master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let r = ringkv_replica_of(m.port);
    let mut rc = r.client();
    let p = RealRedis::start_with(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut pc = p.client();
    assert!(caught_up(&mut mc, &mut rc));
    let s = RealRedis::start_with(&["--replicaof", "127.0.0.1", &r.port.to_string()]);
    let mut sc = s.client();
    fill(&mut mc, "2");
    assert!(caught_up(&mut mc, &mut pc));
    assert!(caught_up(&mut mc, &mut sc));
    let old_id = info(&mut mc, "replication", "master_replid").unwrap();
    assert_eq!(
        info(&mut sc, "replication", "master_replid"),
        Some(old_id.clone())
    );

    cmd(&mut pc, &["REPLICAOF", "NO", "ONE"]);
    cmd(&mut rc, &["REPLICAOF", "127.0.0.1", &p.port.to_string()]);
    fill(&mut pc, "3");
    assert!(caught_up(&mut pc, &mut rc));
    for field in ["master_replid", "master_replid2", "second_repl_offset"] {
        assert_eq!(
            info(&mut rc, "replication", field),
            info(&mut pc, "replication", field),
            "{field}"
        );
    }
    assert_eq!(info(&mut rc, "replication", "master_replid2"), Some(old_id));
    assert_eq!(info(&mut pc, "stats", "sync_full").unwrap(), "0");

    // The switch dropped the sub-replica (it follows the old ID, as Redis makes it ask again);
    // it came back for the old ID at its end and continued. A later cut continues as well.
    assert!(caught_up(&mut rc, &mut sc));
    let stat = |c: &mut redis::Connection, f: &str| info(c, "stats", f).unwrap();
    assert_eq!(stat(&mut rc, "sync_full"), "1", "{}", r.log_text());
    assert_eq!(stat(&mut rc, "sync_partial_ok"), "1", "{}", r.log_text());
    assert_eq!(
        info(&mut sc, "replication", "master_replid"),
        info(&mut pc, "replication", "master_replid")
    );
    cmd(&mut rc, &["CLIENT", "KILL", "TYPE", "replica"]);
    fill(&mut pc, "4");
    assert!(caught_up(&mut pc, &mut rc));
    assert!(caught_up(&mut rc, &mut sc));
    assert_eq!(stat(&mut rc, "sync_full"), "1", "{}", r.log_text());
    assert_eq!(stat(&mut rc, "sync_partial_ok"), "2", "{}", r.log_text());
    assert_eq!(digest(&mut sc), digest(&mut pc));
}

/// Chains: redis → ringkv → redis and ringkv → redis → ringkv; the end of each chain equals
/// its head.
#[test]
fn chains_through_ringkv_and_redis() {
    if !have_tool("redis-server") {
        return;
    }
    let m = redis_master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let mid = ringkv_replica_of(m.port);
    let mut midc = mid.client();
    let tail = RealRedis::start_with(&["--replicaof", "127.0.0.1", &mid.port.to_string()]);
    let mut tc = tail.client();
    fill(&mut mc, "2");
    assert!(caught_up(&mut mc, &mut midc));
    assert!(caught_up(&mut midc, &mut tc));
    assert_eq!(digest(&mut tc), digest(&mut mc));
    // The middle proxies the head's stream: the same replication ID and offsets, and hands
    // the tail the head's ID (so the tail could continue from the head or a sibling).
    assert_eq!(
        info(&mut midc, "replication", "master_repl_offset"),
        info(&mut mc, "replication", "master_repl_offset")
    );
    let head_id = info(&mut mc, "replication", "master_replid");
    assert_eq!(info(&mut midc, "replication", "master_replid"), head_id);
    assert_eq!(info(&mut tc, "replication", "master_replid"), head_id);

    let head = master(&[]);
    let mut hc = head.client();
    fill(&mut hc, "1");
    let mid = RealRedis::start_with(&["--replicaof", "127.0.0.1", &head.port.to_string()]);
    let mut midc = mid.client();
    let tail = ringkv_replica_of(mid.port);
    let mut tc = tail.client();
    fill(&mut hc, "2");
    assert!(caught_up(&mut hc, &mut midc));
    assert!(caught_up(&mut midc, &mut tc));
    assert_eq!(digest(&mut tc), digest(&mut hc));
}

#[test]
fn wait_and_min_replicas_to_write() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&[]);
    let mut mc = m.client();
    let r = replica_of(&m);
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    cmd(&mut mc, &["SET", "k", "v"]);
    assert_eq!(q::<i64>(&mut mc, &["WAIT", "1", "5000"]).unwrap(), 1);
    // Two are wanted, one exists: the timeout answers with the one.
    assert_eq!(q::<i64>(&mut mc, &["WAIT", "2", "200"]).unwrap(), 1);
    cmd(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert!(wait_until(Duration::from_secs(5), || {
        q::<V>(&mut mc, &["SET", "k", "v"]).is_err()
    }));
    let e = common::err(q::<V>(&mut mc, &["SET", "k", "v"]));
    assert_eq!(e, "NOREPLICAS Not enough good replicas to write.");
    // INFO shows the good ones while the setting is on (as Redis does), and not otherwise.
    assert_eq!(
        info(&mut mc, "replication", "min_slaves_good_slaves").as_deref(),
        Some("1")
    );
    assert_eq!(info(&mut rc, "replication", "min_slaves_good_slaves"), None);
    cmd(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert!(wait_until(Duration::from_secs(5), || {
        q::<V>(&mut mc, &["SET", "k", "v2"]).is_ok()
    }));
    let list: String = q(&mut mc, &["CLIENT", "LIST", "TYPE", "replica"]).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("flags=S"), "{list}");
}

#[test]
fn a_ringkv_replica_reconnects_and_refuses_stale_reads_when_asked() {
    if !have_tool("redis-server") {
        return;
    }
    let m = redis_master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let k = master(&[
        "--replicaof",
        "127.0.0.1",
        &m.port.to_string(),
        "--replica-serve-stale-data",
        "no",
    ]);
    let mut kc = k.client();
    assert!(caught_up(&mut mc, &mut kc));
    let list: String = q(&mut kc, &["CLIENT", "LIST", "TYPE", "master"]).unwrap();
    assert!(list.contains("flags=M"), "{list}");
    // Killing our master's connection drops the link; it comes back with a partial resync.
    assert_eq!(
        q::<i64>(&mut kc, &["CLIENT", "KILL", "TYPE", "master"]).unwrap(),
        1
    );
    fill(&mut mc, "2");
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(digest(&mut mc), digest(&mut kc));
    assert_eq!(info(&mut mc, "stats", "sync_partial_ok").unwrap(), "1");
    // The master goes away: with replica-serve-stale-data no, reads get MASTERDOWN.
    drop(mc);
    drop(m);
    assert!(wait_until(Duration::from_secs(10), || {
        q::<V>(&mut kc, &["GET", "s1"]).is_err()
    }));
    let e = common::err(q::<V>(&mut kc, &["GET", "s1"]));
    assert!(e.starts_with("MASTERDOWN Link with MASTER is down"), "{e}");
    assert_eq!(
        info(&mut kc, "replication", "master_link_status").unwrap(),
        "down"
    );
    // ROLE: no offset without a master streaming to us (-1, as Redis answers).
    let role: Vec<V> = q(&mut kc, &["ROLE"]).unwrap();
    assert_eq!(role[0], V::BulkString(b"slave".to_vec()));
    assert_ne!(role[3], V::BulkString(b"connected".to_vec()), "{role:?}");
    assert_eq!(role[4], V::Int(-1), "{role:?}");
}

/// A master that lies: after a normal handshake it sends a snapshot that is not an RDB, then
/// (next attempt) a stream of garbage. The ringkv replica logs each failure, drops the link,
/// retries, keeps its data and never crashes.
#[test]
fn a_lying_master_never_takes_the_replica_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let k = master(&[]);
    let mut kc = k.client();
    cmd(&mut kc, &["SET", "mine", "1"]);
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    let payloads: [&[u8]; 4] = [
        // A good full sync first (an RDB holding mine=1, checksum disabled), so that the link
        // has a master to cache when this connection ends.
        b"+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n$28\r\nREDIS0011\xfe\x00\x00\x04mine\x011\xff\x00\x00\x00\x00\x00\x00\x00\x00",
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$12\r\nnot-an-rdb!!",
        b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$EOF:0123456789012345678901234567890123456789\r\nREDIS0010\xfe\x99garbage0123456789012345678901234567890123456789",
        b"+CONTINUE\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n!!!garbage\r\n",
    ];
    // A master cannot inject our link's own bookkeeping (here: a claim that the stream up
    // to 999999 was applied, for this process's first link); the SET after it runs.
    let injection: &[u8] = b"+CONTINUE\r\n*4\r\n$8\r\nREPLCONF\r\n$14\r\nringkv-applied\r\n$6\r\n999999\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$8\r\ninjected\r\n$1\r\n1\r\n";
    for (i, payload) in payloads.into_iter().chain([injection]).enumerate() {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        // PING, REPLCONF, REPLCONF, PSYNC: answer each, then lie.
        for reply in [&b"+PONG\r\n"[..], b"+OK\r\n", b"+OK\r\n"] {
            let n = s.read(&mut buf).unwrap();
            seen.extend_from_slice(&buf[..n]);
            s.write_all(reply).unwrap();
        }
        let n = s.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
        let seen = String::from_utf8_lossy(&seen);
        assert!(seen.contains("PSYNC"), "{seen:?}");
        // After the good sync the link continues from the master it cached; after a
        // FULLRESYNC whose transfer failed, that cache is gone: the next attempt asks for a
        // full sync instead of continuing from the old offset.
        let continues = "0123456789012345678901234567890123456789\r\n$3\r\n101";
        match i {
            0 => {}
            1 => assert!(seen.contains(continues), "{seen:?} {}", k.log_text()),
            _ => assert!(
                seen.contains("PSYNC\r\n$1\r\n?\r\n$2\r\n-1"),
                "{i}: {seen:?}"
            ),
        }
        s.write_all(payload).unwrap();
        if i == payloads.len() {
            let ran = || q::<Option<String>>(&mut k.client(), &["GET", "injected"]).unwrap();
            assert!(wait_until(Duration::from_secs(10), || ran().is_some()));
            let offset = info(&mut kc, "replication", "slave_repl_offset").unwrap();
            assert!(offset.parse::<u64>().unwrap() < 999_999, "{offset}");
            break;
        }
        // The replica drops the link (or keeps reading until it does).
        let _ = s.read(&mut buf);
    }
    assert!(q::<String>(&mut kc, &["PING"]).unwrap() == "PONG");
    assert_eq!(q::<String>(&mut kc, &["GET", "mine"]).unwrap(), "1");
    // The replica may still be reading the last lie when the fake master moves on.
    for line in [
        // The default `repl-diskless-load disabled` reads the transfer "to disk".
        "Failed trying to load the MASTER synchronization DB from disk",
        "Protocol error from master",
    ] {
        assert!(
            wait_until(Duration::from_secs(10), || k.log_text().contains(line)),
            "{line}: {}",
            k.log_text()
        );
    }
    cmd(&mut kc, &["REPLICAOF", "NO", "ONE"]);
}

/// `repl-timeout`: a replica that stops acknowledging is disconnected, and comes back with a
/// partial resync; `repl-backlog-ttl`: with no replica left, the backlog is freed and a new
/// history starts.
#[test]
fn repl_timeout_and_backlog_ttl() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&["--repl-timeout", "1", "--repl-backlog-ttl", "1"]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let r = replica_of(&m);
    let mut rc = r.client();
    assert!(caught_up(&mut mc, &mut rc));
    let pid = info(&mut rc, "server", "process_id").unwrap();
    let signal = |sig: &str| send_signal(&pid, sig);
    signal("-STOP");
    assert!(wait_until(Duration::from_secs(10), || m
        .log_text()
        .contains(
            "Disconnecting timedout replica (streaming sync): 127.0.0.1:"
        )));
    signal("-CONT");
    fill(&mut mc, "2");
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    let replid = info(&mut mc, "replication", "master_replid").unwrap();
    cmd(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    assert!(info_becomes(
        &mut mc,
        "replication",
        "repl_backlog_active",
        "0",
        10
    ));
    assert_ne!(
        info(&mut mc, "replication", "master_replid").unwrap(),
        replid
    );
    assert!(m
        .log_text()
        .contains("Replication backlog freed after 1 seconds"));
}

/// The link cut in the middle of a (slowed) full sync, from either side: the replica starts
/// over and ends equal to the master; a paused master (DEBUG SLEEP) only delays it.
#[test]
fn links_cut_mid_snapshot_recover() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&["--rdb-key-save-delay", "300"]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "3000"]);
    let r = replica_of(&m);
    let mut rc = r.client();
    assert!(wait_until(Duration::from_secs(10), || info(
        &mut mc,
        "replication",
        "slave0"
    )
    .is_some_and(
        |s| s.contains("state=wait_bgsave") || s.contains("state=send_bulk")
    )));
    // Master side cuts the transfer.
    assert_eq!(
        q::<i64>(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap(),
        1
    );
    cmd(&mut mc, &["SET", "during", "1"]);
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
    let full: u64 = info(&mut mc, "stats", "sync_full")
        .unwrap()
        .parse()
        .unwrap();
    assert!(full >= 2, "{full}");
    // A paused master: the replica waits, then carries on.
    cmd(&mut mc, &["DEBUG", "SLEEP", "0.5"]);
    cmd(&mut mc, &["SET", "after-sleep", "1"]);
    assert!(caught_up(&mut mc, &mut rc));
    assert_eq!(digest(&mut mc), digest(&mut rc));
}

/// One snapshot at a time: a replica arriving while a (slowed) full sync runs waits for the
/// next cut instead of replacing the running one (which once left the first replica waiting
/// for a snapshot that never ended), and BGSAVE meanwhile answers as Redis does while its
/// diskless sync child runs. Both replicas end equal to the master.
#[test]
fn a_replica_arriving_mid_sync_waits_for_the_next_cut() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&["--rdb-key-save-delay", "200"]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "3000"]);
    let first = ringkv_replica_of(m.port);
    let mut fc = first.client();
    assert!(wait_until(Duration::from_secs(10), || info(
        &mut mc,
        "replication",
        "slave0"
    )
    .is_some_and(|s| s.contains("state=send_bulk"))));
    let err = q::<String>(&mut mc, &["BGSAVE"]).unwrap_err();
    assert!(
        err.to_string()
            .contains("Background save already in progress"),
        "{err}"
    );
    cmd(&mut mc, &["INCR", "during-first"]);
    let second = replica_of(&m);
    let mut sc = second.client();
    cmd(&mut mc, &["INCR", "during-first"]);
    assert!(caught_up(&mut mc, &mut fc));
    assert!(caught_up(&mut mc, &mut sc));
    assert_eq!(digest(&mut mc), digest(&mut fc));
    assert_eq!(digest(&mut mc), digest(&mut sc));
    let full: u64 = info(&mut mc, "stats", "sync_full")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(full, 2);
}

/// A ringkv replica's own bookkeeping (the applied-offset marker its link hands its connection)
/// shows nowhere a user looks: INFO commandstats counts the master's commands only, and the
/// master's client in CLIENT LIST shows the master's last command, as on redis-server.
#[test]
fn a_replica_counts_only_its_masters_commands() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&[]);
    let mut mc = m.client();
    let k = ringkv_replica_of(m.port);
    let mut kc = k.client();
    // The full sync is over, so the SETs arrive as commands, not in the snapshot.
    assert!(link_up(&mut kc));
    for i in 0..5 {
        cmd(&mut mc, &["SET", &format!("k{i}"), "v"]);
    }
    assert!(caught_up(&mut mc, &mut kc));
    let stats: String = q(&mut kc, &["INFO", "commandstats"]).unwrap();
    assert!(stats.contains("cmdstat_set:calls=5,"), "{stats}");
    assert!(!stats.contains("cmdstat_replconf"), "{stats}");
    let clients: String = q(&mut kc, &["CLIENT", "LIST"]).unwrap();
    let master_line = clients
        .lines()
        .find(|l| l.contains("flags=M"))
        .unwrap_or_else(|| panic!("no master client in {clients}"));
    assert!(master_line.contains(" cmd=set "), "{master_line}");
}

/// A replica not connected to its master refuses its own replicas, as Redis does
/// (-NOMASTERLINK): what it holds is not the history they would follow. (A sub-replica once
/// took a snapshot of the empty dataset before the middle's own full sync and never got the
/// keys that sync brought.)
#[test]
fn a_replica_without_its_master_refuses_sync() {
    let nobody = common::free_port();
    let k = ringkv_replica_of(nobody);
    let mut kc = k.client();
    let err = q::<String>(&mut kc, &["PSYNC", "?", "-1"]).unwrap_err();
    assert_eq!(err.code(), Some("NOMASTERLINK"), "{err}");
    assert_eq!(
        err.detail(),
        Some("Can't SYNC while not connected with my master")
    );
    let err = q::<String>(&mut kc, &["SYNC"]).unwrap_err();
    assert!(err.to_string().contains("NOMASTERLINK"), "{err}");
}

/// `timeout` closes idle clients, never a replica nor our master's connection: after a quiet
/// spell longer than the timeout, the stream still flows both ways.
#[test]
fn idle_timeout_spares_replication_links() {
    if !have_tool("redis-server") {
        return;
    }
    let m = master(&["--timeout", "1"]);
    let mut mc = m.client();
    let k = ringkv_replica_of(m.port);
    let mut kc = k.client();
    cmd(&mut kc, &["CONFIG", "SET", "timeout", "1"]);
    cmd(&mut mc, &["SET", "before", "1"]);
    assert!(caught_up(&mut mc, &mut kc));
    // Quiet for longer than the timeout: wait until an idle client of the master is closed.
    let mut idle = m.client();
    cmd(&mut idle, &["CLIENT", "SETNAME", "idle"]);
    assert!(wait_until(Duration::from_secs(10), || {
        let list: String = q(&mut mc, &["CLIENT", "LIST"]).unwrap();
        !list.contains("name=idle ")
    }));
    cmd(&mut mc, &["SET", "after", "1"]);
    let mut kc = k.client(); // the old one was idle too, and closed
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(q::<String>(&mut kc, &["GET", "after"]).unwrap(), "1");
    assert_eq!(info(&mut mc, "stats", "sync_full").unwrap(), "1");
}

/// While a ringkv replica loads a full sync (held open by `key-load-delay`), clients of its
/// other thread get `-LOADING`, as from a Redis replica; afterwards every key is there.
#[test]
fn a_replica_loading_a_full_sync_answers_loading() {
    let m = master(&[]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "2000"]);
    // 2000 keys at 1 ms each: the replica's load takes at least 2 s.
    let k = master(&["--threads", "2", "--key-load-delay", "1000"]);
    let mut kc = k.client();
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    let mut replies = Vec::new();
    let saw_loading = wait_until(Duration::from_secs(30), || {
        // A fresh connection each time: one that lands on the loading thread waits.
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", k.port)) else {
            return false;
        };
        let reply = common::raw_exchange(&mut s, b"PING\r\n", Duration::from_millis(200));
        replies.push(String::from_utf8_lossy(&reply).into_owned());
        reply.starts_with(b"-LOADING Redis is loading the dataset in memory\r\n")
    });
    assert!(saw_loading, "{replies:?}");
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(q::<i64>(&mut kc, &["DBSIZE"]).unwrap(), 2000);
    assert_eq!(q::<String>(&mut kc, &["PING"]).unwrap(), "PONG");
}

/// `repl-diskless-load disabled` (the default) keeps the master's snapshot as the replica's
/// dump file before loading it, as Redis does; `swapdb` loads it from memory and writes no
/// file. The log says which ("to disk" / "to parser").
#[test]
fn diskless_load_decides_whether_the_snapshot_lands_on_disk() {
    let m = master(&[]);
    let mut mc = m.client();
    fill(&mut mc, "1");
    let port = m.port.to_string();
    for (mode, on_disk) in [("disabled", true), ("swapdb", false)] {
        let dir = common::temp_dir("disk-load");
        let d = dir.to_str().unwrap();
        let k = master(&[
            "--dir",
            d,
            "--repl-diskless-load",
            mode,
            "--replicaof",
            "127.0.0.1",
            &port,
        ]);
        let mut kc = k.client();
        assert!(caught_up(&mut mc, &mut kc));
        assert_eq!(digest(&mut mc), digest(&mut kc));
        assert_eq!(dir.join("dump.rdb").exists(), on_disk, "{mode}");
        let word = if on_disk { "to disk" } else { "to parser" };
        let line = format!("receiving streamed RDB from master with EOF {word}");
        assert!(k.log_text().contains(&line), "{mode}: {}", k.log_text());
        drop(kc);
        drop(k);
        if on_disk {
            // The file is the master's dataset: a server started on it has the same digest.
            let c = master(&["--dir", d]);
            assert_eq!(digest(&mut c.client()), digest(&mut mc));
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A master SIGSTOPped in the middle of a full sync for longer than the replica's
/// `repl-timeout`: the replica gives up on the transfer with Redis's timeout line, keeps
/// serving its old data, reconnects once the master runs again, and ends with the master's
/// dataset. A stop shorter than the timeout, once the stream flows, changes nothing.
#[test]
fn a_master_stopped_mid_snapshot_is_given_up_then_resynced() {
    // 3000 keys at 1 ms each: the snapshot takes at least 3 s.
    let m = master(&["--rdb-key-save-delay", "1000"]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "POPULATE", "3000"]);
    let k = master(&["--repl-timeout", "2"]);
    let mut kc = k.client();
    cmd(&mut kc, &["SET", "mine", "1"]);
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    assert!(wait_until(Duration::from_secs(10), || info(
        &mut mc,
        "replication",
        "slave0"
    )
    .is_some_and(|s| s.contains("state=send_bulk"))));
    let pid = m.pid().to_string();
    send_signal(&pid, "-STOP");
    let gave_up = wait_until(Duration::from_secs(20), || {
        k.log_text()
            .contains("Timeout receiving bulk data from MASTER")
    });
    // Stale reads are served meanwhile (replica-serve-stale-data yes).
    let stale = q::<String>(&mut kc, &["GET", "mine"]);
    send_signal(&pid, "-CONT");
    assert!(gave_up, "{}", k.log_text());
    assert_eq!(stale.unwrap(), "1");
    cmd(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    cmd(&mut mc, &["SET", "after", "1"]);
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(digest(&mut mc), digest(&mut kc));
    // A short stop while the stream flows: the link survives and nothing is lost.
    send_signal(&pid, "-STOP");
    std::thread::sleep(Duration::from_millis(500));
    send_signal(&pid, "-CONT");
    cmd(&mut mc, &["SET", "after-stop", "1"]);
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(digest(&mut mc), digest(&mut kc));
    assert_eq!(info(&mut mc, "stats", "sync_partial_ok").unwrap(), "0");
}

/// REPLICAOF NO ONE ends the link at once, even while the master keeps the handshake waiting
/// (here a 30 s diskless sync delay): our master's connection leaves CLIENT LIST and the
/// master sees its replica go. While linked, that entry shows the master's address and flag
/// M, as in Redis.
#[test]
fn replicaof_no_one_ends_a_waiting_link_at_once() {
    let m = Server::start(&["--repl-diskless-sync-delay", "30"]);
    let mut mc = m.client();
    let k = Server::start(&[]);
    let mut kc = k.client();
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    let listed = format!("addr=127.0.0.1:{} ", m.port);
    let mut list = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            list = q(&mut kc, &["CLIENT", "LIST", "TYPE", "master"]).unwrap();
            list.contains(&listed) && list.contains(" flags=M ")
        }),
        "{list}"
    );
    assert!(info_becomes(
        &mut mc,
        "replication",
        "connected_slaves",
        "1",
        10
    ));
    cmd(&mut kc, &["REPLICAOF", "NO", "ONE"]);
    assert!(
        wait_until(Duration::from_secs(5), || {
            list = q(&mut kc, &["CLIENT", "LIST", "TYPE", "master"]).unwrap();
            list.is_empty()
        }),
        "{list}"
    );
    assert!(info_becomes(
        &mut mc,
        "replication",
        "connected_slaves",
        "0",
        5
    ));
    let log = k.log_text();
    assert!(!log.contains("Master closed the connection"), "{log}");
    assert!(
        !log.contains("Setting secondary replication ID to ,"),
        "{log}"
    );
}

/// A replica acknowledges what it applied, not what it received: with its one thread asleep
/// (DEBUG SLEEP) it cannot apply a write, so WAIT on the master does not count it; once it
/// wakes, WAIT counts it and a read on the replica sees the write.
#[test]
fn a_replica_acknowledges_only_what_it_applied() {
    let m = master(&[]);
    let mut mc = m.client();
    let r = master(&[
        "--threads",
        "1",
        "--replicaof",
        "127.0.0.1",
        &m.port.to_string(),
    ]);
    let mut rc = r.client();
    assert!(link_up(&mut rc));
    cmd(&mut mc, &["SET", "k", "v1"]);
    assert_eq!(q::<i64>(&mut mc, &["WAIT", "1", "5000"]).unwrap(), 1);
    let mut sleeper = std::net::TcpStream::connect(("127.0.0.1", r.port)).unwrap();
    sleeper
        .write_all(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$1\r\n3\r\n")
        .unwrap();
    // The replica's only thread is asleep once a PING goes unanswered.
    assert!(wait_until(Duration::from_secs(10), || {
        let mut probe = std::net::TcpStream::connect(("127.0.0.1", r.port)).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        probe.write_all(b"PING\r\n").unwrap();
        probe.read(&mut [0u8; 16]).is_err()
    }));
    cmd(&mut mc, &["SET", "k", "v2"]);
    assert_eq!(
        q::<i64>(&mut mc, &["WAIT", "1", "300"]).unwrap(),
        0,
        "a replica that cannot apply does not acknowledge"
    );
    assert_eq!(q::<i64>(&mut mc, &["WAIT", "1", "10000"]).unwrap(), 1);
    let got: String = q(&mut rc, &["GET", "k"]).unwrap();
    assert_eq!(got, "v2", "acknowledged means visible");
    let mut ok = [0u8; 5];
    sleeper.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
}

/// CONFIG SET repl-backlog-size resizes a backlog that exists, as in Redis: after growing it,
/// the backlog holds more history than the old size.
#[test]
fn config_set_resizes_the_backlog() {
    // The replica class's limit at 1 MB: a replica lagging for a moment cannot grow the ring.
    let m = master(&[
        "--repl-backlog-size",
        "1mb",
        "--client-output-buffer-limit",
        "replica 1mb 0 0",
    ]);
    let mut mc = m.client();
    let r = master(&["--replicaof", "127.0.0.1", &m.port.to_string()]);
    let mut rc = r.client();
    assert!(link_up(&mut rc));
    let histlen = |c: &mut redis::Connection| -> u64 {
        info(c, "replication", "repl_backlog_histlen")
            .unwrap()
            .parse()
            .unwrap()
    };
    let value = "x".repeat(10_000);
    for i in 0..150 {
        cmd(&mut mc, &["SET", &format!("k{i}"), &value]);
    }
    assert_eq!(
        histlen(&mut mc),
        1 << 20,
        "1.5 MB written into a 1 MB backlog"
    );
    cmd(&mut mc, &["CONFIG", "SET", "repl-backlog-size", "4mb"]);
    assert!(wait_until(Duration::from_secs(5), || {
        cmd(&mut mc, &["SET", "probe", &value]);
        histlen(&mut mc) > 1 << 20
    }));
    for i in 0..150 {
        cmd(&mut mc, &["SET", &format!("k{i}"), &value]);
    }
    let held = histlen(&mut mc);
    assert!(held > 2 << 20 && held <= 4 << 20, "{held}");
    // Shrinking waits for the replica to be near the end: its next read after a write.
    cmd(&mut mc, &["CONFIG", "SET", "repl-backlog-size", "1mb"]);
    assert!(wait_until(Duration::from_secs(5), || {
        cmd(&mut mc, &["SET", "probe", "v"]);
        histlen(&mut mc) <= 1 << 20
    }));
}

/// A replica with `appendonly yes` logs what its master sends: after a restart without its
/// master it still has the writes made after the link came up.
#[test]
fn a_replica_logs_its_masters_writes_to_its_aof() {
    let m = master(&[]);
    let mut mc = m.client();
    let dir = common::temp_dir("replica-aof");
    let dir_arg = dir.to_str().unwrap();
    let port = m.port.to_string();
    let r = master(&[
        "--dir",
        dir_arg,
        "--appendonly",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &port,
    ]);
    let mut rc = r.client();
    assert!(link_up(&mut rc));
    cmd(&mut mc, &["SET", "after", "sync"]);
    cmd(&mut mc, &["SELECT", "2"]);
    cmd(&mut mc, &["RPUSH", "list", "a", "b"]);
    assert_eq!(q::<i64>(&mut mc, &["WAIT", "1", "5000"]).unwrap(), 1);
    let _ = q::<V>(&mut rc, &["SHUTDOWN"]);
    drop(r);
    let again = master(&["--dir", dir_arg, "--appendonly", "yes"]);
    let mut c = again.client();
    assert_eq!(q::<String>(&mut c, &["GET", "after"]).unwrap(), "sync");
    cmd(&mut c, &["SELECT", "2"]);
    let list: Vec<String> = q(&mut c, &["LRANGE", "list", "0", "-1"]).unwrap();
    assert_eq!(list, ["a", "b"]);
}

/// A replica never treats a key as expired for its master's commands (Redis's rule): the
/// master's writes that arrive after the key's time has passed on the replica's clock still
/// find it, and the master's DEL of an expired key removes it. The replica is held up with
/// DEBUG SLEEP so the stream arrives late. (Until 2026-12-08 `INCR` on such a key started from
/// 0 and the DEL did nothing: the replica diverged and kept the expired key forever.)
#[test]
fn a_replica_applies_its_masters_writes_to_keys_expired_on_its_clock() {
    let m = master(&[]);
    let mut mc = m.client();
    cmd(&mut mc, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    let k = ringkv_replica_of(m.port);
    let mut kc = k.client();
    assert!(caught_up(&mut mc, &mut kc));
    let mut sleeper = k.raw();
    sleeper.write_all(b"DEBUG SLEEP 1\r\n").unwrap();
    // The writes below reach the replica only after the sleep, when their keys have expired
    // on its clock (a write sent before the sleep started would just make the test weaker).
    std::thread::sleep(Duration::from_millis(100));
    cmd(&mut mc, &["SET", "c", "5", "PX", "200"]);
    cmd(&mut mc, &["INCR", "c"]);
    cmd(&mut mc, &["PERSIST", "c"]);
    cmd(&mut mc, &["SET", "e", "v", "PX", "100"]);
    std::thread::sleep(Duration::from_millis(200));
    // e has expired on the master too: DEL finds it expired, deletes it and propagates a DEL.
    cmd(&mut mc, &["DEL", "e"]);
    let mut ok = [0u8; 5];
    sleeper.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(q::<String>(&mut kc, &["GET", "c"]).unwrap(), "6");
    assert_eq!(
        q::<i64>(&mut kc, &["DBSIZE"]).unwrap(),
        q::<i64>(&mut mc, &["DBSIZE"]).unwrap()
    );
    assert_eq!(digest(&mut kc), digest(&mut mc));
}

/// Writes on a writable replica (`replica-read-only no`) stay local, as in Redis: they are not
/// added to the stream the replica serves, so its offset keeps matching its master's and its
/// own replicas get exactly the master's history. (Until 2026-12-08 they went into its
/// backlog, with a SELECT that then sent the master's next writes to the wrong database.)
#[test]
fn a_writable_replicas_own_writes_stay_local() {
    let m = master(&[]);
    let mut mc = m.client();
    let k = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &m.port.to_string(),
        "--replica-read-only",
        "no",
    ]);
    let mut kc = k.client();
    let sub = Server::start(&["--replicaof", "127.0.0.1", &k.port.to_string()]);
    let mut sc = sub.client();
    assert!(caught_up(&mut mc, &mut kc));
    assert!(caught_up(&mut kc, &mut sc));
    cmd(&mut kc, &["SELECT", "2"]);
    cmd(&mut kc, &["SET", "local", "v"]);
    cmd(&mut mc, &["SET", "m2", "v"]);
    assert!(caught_up(&mut mc, &mut kc));
    assert_eq!(
        info(&mut kc, "replication", "master_repl_offset"),
        info(&mut mc, "replication", "master_repl_offset")
    );
    assert!(caught_up(&mut kc, &mut sc));
    assert_eq!(q::<String>(&mut sc, &["GET", "m2"]).unwrap(), "v");
    cmd(&mut sc, &["SELECT", "2"]);
    assert_eq!(q::<i64>(&mut sc, &["DBSIZE"]).unwrap(), 0);
    cmd(&mut kc, &["SELECT", "0"]);
    assert_eq!(q::<String>(&mut kc, &["GET", "m2"]).unwrap(), "v");
}

/// WAIT waits for the client's own writes only (Redis's `woff`): while a replica is stalled on
/// another client's later write, a client whose writes it acknowledged gets its answer at
/// once, and so does a client that never wrote. (Also with two threads, where a client's
/// writes may run on the other thread.)
#[test]
fn wait_counts_acknowledgements_of_the_clients_own_writes() {
    let m = master(&["--threads", "2"]);
    let mut a = m.client();
    let mut b = m.client();
    let k = ringkv_replica_of(m.port);
    let mut kc = k.client();
    assert!(caught_up(&mut a, &mut kc));
    for i in 0..8 {
        cmd(&mut a, &["SET", &format!("a{i}"), "v"]);
    }
    assert_eq!(q::<i64>(&mut a, &["WAIT", "1", "5000"]).unwrap(), 1);
    // Stall the replica, then write from b: the stream moves past what the replica applied.
    let mut sleeper = k.raw();
    sleeper.write_all(b"DEBUG SLEEP 2\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    cmd(&mut b, &["SET", "b", "v"]);
    // (The replica sleeps past these timeouts: waiting for b's write would answer 0.)
    assert_eq!(q::<i64>(&mut a, &["WAIT", "1", "600"]).unwrap(), 1);
    let mut fresh = m.client();
    assert_eq!(q::<i64>(&mut fresh, &["WAIT", "1", "600"]).unwrap(), 1);
    // b's own write is not acknowledged until the replica wakes.
    assert_eq!(q::<i64>(&mut b, &["WAIT", "1", "200"]).unwrap(), 0);
    let mut ok = [0u8; 5];
    sleeper.read_exact(&mut ok).unwrap();
    assert_eq!(q::<i64>(&mut b, &["WAIT", "1", "5000"]).unwrap(), 1);
}

/// With `replica-serve-stale-data no`, the refusal starts with REPLICAOF and ends with
/// REPLICAOF NO ONE, not at the next cron tick (Redis decides per command).
#[test]
fn stale_reads_are_refused_from_the_replicaof_on() {
    let k = Server::start(&["--replica-serve-stale-data", "no"]);
    let mut kc = k.client();
    cmd(&mut kc, &["SET", "k", "v"]);
    let dead = common::free_port().to_string();
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &dead]);
    let e = common::err(q::<V>(&mut kc, &["GET", "k"]));
    assert!(e.starts_with("MASTERDOWN Link with MASTER is down"), "{e}");
    cmd(&mut kc, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(q::<String>(&mut kc, &["GET", "k"]).unwrap(), "v");
}

/// A ringkv server told to replicate from a fake master listening on a fresh port.
fn replica_of_a_fake_master() -> (std::net::TcpListener, Server, redis::Connection) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let k = master(&[]);
    let mut kc = k.client();
    cmd(&mut kc, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    (listener, k, kc)
}

/// Accepts the replica's next connection as its master: answers PING and both REPLCONFs, and
/// returns the connection and the PSYNC request that followed.
fn fake_master_handshake(listener: &std::net::TcpListener) -> (std::net::TcpStream, String) {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    for reply in [&b"+PONG\r\n"[..], b"+OK\r\n", b"+OK\r\n"] {
        let _ = s.read(&mut buf).unwrap();
        s.write_all(reply).unwrap();
    }
    let n = s.read(&mut buf).unwrap();
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// `+FULLRESYNC <id> 100` with an RDB holding mine=1 (checksum disabled).
fn full_sync_of_mine(id: &str) -> Vec<u8> {
    let mut full = format!("+FULLRESYNC {id} 100\r\n$28\r\n").into_bytes();
    full.extend_from_slice(
        b"REDIS0011\xfe\x00\x00\x04mine\x011\xff\x00\x00\x00\x00\x00\x00\x00\x00",
    );
    full
}

/// A malformed command in the master's stream drops the link, but the good commands before it
/// in the same read are applied and counted (Redis applies them too), so the next PSYNC asks
/// for what follows them. (Until 2026-12-08 they were counted in the offset but never applied:
/// the next PSYNC skipped them and the replica diverged.)
#[test]
fn commands_before_a_malformed_one_are_applied() {
    let (listener, _k, mut kc) = replica_of_a_fake_master();
    let id = "0123456789012345678901234567890123456789";
    let full = full_sync_of_mine(id);
    let good =
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    let mut stream = format!("+CONTINUE {id}\r\n").into_bytes();
    stream.extend_from_slice(good);
    stream.extend_from_slice(b"*2\r\n$abc\r\n");
    let mut asked = Vec::new();
    for payload in [full, stream, Vec::new()] {
        let (mut s, psync) = fake_master_handshake(&listener);
        let mut buf = [0u8; 1024];
        asked.push(psync);
        if payload.is_empty() {
            break;
        }
        s.write_all(&payload).unwrap();
        // The replica reads on until it drops the link (after the bad command) or, after the
        // good full sync, until this connection ends.
        if asked.len() == 2 {
            let _ = s.read(&mut buf);
        } else {
            assert!(wait_until(Duration::from_secs(10), || {
                q::<Option<String>>(&mut kc, &["GET", "mine"])
                    .unwrap()
                    .is_some()
            }));
        }
    }
    // 100 + the two SETs (27 bytes each): the next PSYNC asks for byte 155.
    assert!(
        asked[2].contains(&format!("{id}\r\n$3\r\n155")),
        "{:?}",
        asked
    );
    assert_eq!(q::<String>(&mut kc, &["GET", "a"]).unwrap(), "1");
    assert_eq!(q::<String>(&mut kc, &["GET", "b"]).unwrap(), "2");
    cmd(&mut kc, &["REPLICAOF", "NO", "ONE"]);
}

/// The link drops in the middle of a transaction of the master's stream and the next sync is a
/// full one: the replica drops the half transaction and loads the snapshot. (Until 2026-12-08
/// the load was queued inside the open MULTI and the replica stayed "loading" for good.)
#[test]
fn a_full_sync_after_a_link_cut_inside_a_transaction_loads() {
    let (listener, k, mut kc) = replica_of_a_fake_master();
    let id = "0123456789012345678901234567890123456789";
    let other = "9876543210987654321098765432109876543210";
    let first = full_sync_of_mine(id);
    let mut half = format!("+CONTINUE {id}\r\n").into_bytes();
    half.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n");
    let mut second = format!("+FULLRESYNC {other} 500\r\n$29\r\n").into_bytes();
    second.extend_from_slice(
        b"REDIS0011\xfe\x00\x00\x05fresh\x011\xff\x00\x00\x00\x00\x00\x00\x00\x00",
    );
    for (i, payload) in [first, half, second].into_iter().enumerate() {
        let (mut s, psync) = fake_master_handshake(&listener);
        assert!(psync.contains("PSYNC"), "{psync:?}");
        s.write_all(&payload).unwrap();
        match i {
            0 => assert!(wait_until(Duration::from_secs(10), || {
                q::<Option<String>>(&mut kc, &["GET", "mine"])
                    .unwrap()
                    .is_some()
            })),
            // Cut the link once the replica read the half transaction (100 + 15 + 27 bytes).
            1 => assert!(wait_until(Duration::from_secs(10), || {
                info(&mut kc, "replication", "slave_read_repl_offset").as_deref() == Some("142")
            })),
            _ => {
                assert!(
                    wait_until(Duration::from_secs(10), || {
                        q::<Option<String>>(&mut kc, &["GET", "fresh"])
                            .unwrap()
                            .is_some()
                    }),
                    "the full sync after the cut never loaded\n{}",
                    k.log_text()
                );
                assert_eq!(q::<Option<String>>(&mut kc, &["GET", "a"]).unwrap(), None);
                assert_eq!(
                    info(&mut kc, "replication", "master_sync_in_progress").as_deref(),
                    Some("0")
                );
            }
        }
    }
    cmd(&mut kc, &["REPLICAOF", "NO", "ONE"]);
}
