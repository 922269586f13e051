//! `REPLICAOF NO ONE` while the old master is still writing: the promoted replica applies
//! nothing of the old master's stream after its `+OK`, and its own replica (a chain) continues
//! partially and ends with the same data.

mod common;

use common::{q, wait_until, Server};
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn info(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = q(c, &["INFO", section]).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

fn replica_of(port: u16) -> Server {
    Server::start(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--replicaof",
        "127.0.0.1",
        &port.to_string(),
    ])
}

/// Pipelines of `INCR n` and `SET k m` to the master until `stop`.
fn write_load(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let batch =
            "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nm\r\n".repeat(200);
        let mut line = String::new();
        while !stop.load(Ordering::Relaxed) {
            w.write_all(batch.as_bytes()).unwrap();
            for _ in 0..400 {
                line.clear();
                r.read_line(&mut line).unwrap();
            }
        }
    })
}

/// Sends a promotion followed by `SET k r` and `GET n` in one write (so they run right after
/// the promotion's reply) and returns the replies' lines.
fn promote_and_write(port: u16, request: &str, lines: usize) -> Vec<String> {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    w.write_all(request.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    (0..lines)
        .map(|_| {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            line.trim_end().to_string()
        })
        .collect()
}

/// The promotion as a user types it, as Sentinel sends it (inside MULTI), and by its old name;
/// each with the replies expected before `GET n`'s.
const PROMOTIONS: [(&str, &[&str]); 3] = [
    ("REPLICAOF NO ONE\r\nSET k r\r\nGET n\r\n", &["+OK", "+OK"]),
    (
        "MULTI\r\nSLAVEOF NO ONE\r\nEXEC\r\nSET k r\r\nGET n\r\n",
        &["+OK", "+QUEUED", "*1", "+OK", "+OK"],
    ),
    ("SLAVEOF NO ONE\r\nSET k r\r\nGET n\r\n", &["+OK", "+OK"]),
];

#[test]
fn a_promoted_replica_applies_nothing_of_the_old_stream_after_its_reply() {
    let m = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let r = replica_of(m.port);
    let s = replica_of(r.port);
    let (mut rc, mut sc) = (r.client(), s.client());
    let s_up = wait_until(Duration::from_secs(20), || {
        info(&mut sc, "replication", "master_link_status").as_deref() == Some("up")
    });
    assert!(s_up, "the chained replica did not sync");
    let mut n_before = 0;
    for (round, (request, expected)) in PROMOTIONS.into_iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        // Several writers: the master runs them side by side, the replica applies them one
        // after the other through its one link, so the stream queues up inside the replica.
        let loads: Vec<_> = (0..4).map(|_| write_load(m.port, stop.clone())).collect();
        // The stream is flowing into the replica.
        let moving = wait_until(Duration::from_secs(20), || {
            let n = q::<Option<i64>>(&mut rc, &["GET", "n"]).ok().flatten();
            info(&mut rc, "replication", "master_link_status").as_deref() == Some("up")
                && n.unwrap_or(0) > n_before + 2000
        });
        assert!(
            moving,
            "round {round}: the replica does not follow its master"
        );
        let lines = promote_and_write(r.port, request, expected.len() + 2);
        assert_eq!(
            lines[..expected.len()],
            *expected,
            "round {round}: {lines:?}"
        );
        let n_after_ok: i64 = lines[expected.len() + 1].parse().unwrap();
        n_before = n_after_ok;
        // Whatever the old master still sends (and whatever was on its way inside the
        // replica) must not land: for half a second, nothing moves.
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            let n: i64 = q(&mut rc, &["GET", "n"]).unwrap();
            let k: String = q(&mut rc, &["GET", "k"]).unwrap();
            assert_eq!(
                (n, k.as_str()),
                (n_after_ok, "r"),
                "round {round}: the old stream was applied after +OK"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        for load in loads {
            load.join().unwrap();
        }
        // The chained replica continues from the promoted one and ends with its data.
        let same = wait_until(Duration::from_secs(20), || {
            let ro = info(&mut rc, "replication", "master_repl_offset");
            info(&mut sc, "replication", "master_link_status").as_deref() == Some("up")
                && ro.is_some()
                && info(&mut sc, "replication", "slave_repl_offset") == ro
        });
        assert!(same, "round {round}: the chained replica did not catch up");
        let d: String = q(&mut rc, &["DEBUG", "DIGEST"]).unwrap();
        assert_eq!(
            q::<String>(&mut sc, &["DEBUG", "DIGEST"]).unwrap(),
            d,
            "round {round}"
        );
        if round == 0 {
            // It was dropped, came back and continued partially, learning the new ID (as
            // Redis's sub-replicas do), instead of going on under the old one past its end.
            let learned = wait_until(Duration::from_secs(20), || {
                let id = info(&mut rc, "replication", "master_replid");
                id.is_some() && info(&mut sc, "replication", "master_replid") == id
            });
            assert!(
                learned,
                "the chained replica did not learn the new replication ID"
            );
            assert_eq!(
                info(&mut rc, "stats", "sync_partial_ok").as_deref(),
                Some("1")
            );
            assert_eq!(info(&mut rc, "stats", "sync_full").as_deref(), Some("1"));
        }
        // Back under the master for the next round.
        q::<String>(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]).unwrap();
    }
}

/// A promotion that does not happen after all (WATCH aborts its EXEC) leaves the replica
/// following its master: the link it paused to drain picks up again.
#[test]
fn an_aborted_promotion_leaves_the_link_running() {
    let m = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let r = replica_of(m.port);
    let (mut mc, mut rc) = (m.client(), r.client());
    let linked = wait_until(Duration::from_secs(20), || {
        info(&mut rc, "replication", "master_link_status").as_deref() == Some("up")
    });
    assert!(linked);
    q::<String>(&mut rc, &["WATCH", "k"]).unwrap();
    q::<String>(&mut mc, &["SET", "k", "1"]).unwrap();
    let arrived = wait_until(Duration::from_secs(10), || {
        q::<Option<String>>(&mut rc, &["GET", "k"])
            .unwrap()
            .is_some()
    });
    assert!(arrived);
    q::<String>(&mut rc, &["MULTI"]).unwrap();
    q::<String>(&mut rc, &["REPLICAOF", "NO", "ONE"]).unwrap();
    assert_eq!(
        q::<redis::Value>(&mut rc, &["EXEC"]).unwrap(),
        redis::Value::Nil
    );
    // Still a replica, and the master's writes still arrive.
    q::<String>(&mut mc, &["SET", "after", "2"]).unwrap();
    let followed = wait_until(Duration::from_secs(10), || {
        q::<Option<String>>(&mut rc, &["GET", "after"])
            .unwrap()
            .as_deref()
            == Some("2")
    });
    assert!(followed, "the replica stopped following its master");
    assert_eq!(
        info(&mut rc, "replication", "role").as_deref(),
        Some("slave")
    );
}
