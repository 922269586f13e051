//! Sentinel scenarios: sentinels watching a replica set fail its master over.
//!
//! The same story (kill -9 the master; a replica is promoted, the other follows with a partial
//! resync, the old master comes back as a replica, no acknowledged write lost) runs with ringkv
//! sentinels over ringkv servers and over real redis-server processes, with a mixed quorum of
//! ringkv and redis-sentinel, and with redis-sentinels over ringkv servers (plus a control of
//! redis-sentinels over redis-server that validates the harness). Further scenarios: manual
//! SENTINEL FAILOVER, REMOVE/MONITOR at runtime, restart from the rewritten config, a SIGSTOP
//! shorter than down-after, and redis-py following the master. Each test holds `serial()`: with
//! down-after-milliseconds 1000, two failovers sharing 2 cores would disturb each other.

mod common;

use common::sentinel::*;
use common::*;
use std::time::Duration;

use SentinelKind::{Redis as RedisSentinel, Ringkv as RingkvSentinel};

/// Whether the external programs the scenario needs are installed (outside CI a missing one
/// skips the test with a message; under CI it fails).
fn have_tools(data: DataKind, sentinels: &[SentinelKind]) -> bool {
    (!sentinels.contains(&RedisSentinel) || have_tool("redis-sentinel"))
        && (data != DataKind::Redis || have_tool("redis-server"))
}

/// INFO replication of every live node, for failure messages.
fn describe_set(set: &ReplicaSet) -> String {
    let mut out = String::new();
    for n in &set.nodes {
        out.push_str(&format!(
            "--- {:?} data server on {}{}:\n{}\n",
            n.kind,
            n.port(),
            if n.is_dead() { " (killed)" } else { "" },
            if n.is_dead() {
                String::new()
            } else {
                n.info("replication")
            }
        ));
    }
    out
}

/// Master + 2 replicas of `data`, one sentinel per entry of `kinds` (quorum 2, down-after
/// 1000 ms). Writes acknowledged by both replicas (WAIT 2) survive a kill -9 of the master; the
/// sentinels agree on a replica as the new master, reconfigure the other replica to follow it,
/// and demote the old master when it comes back on its port as a plain master.
fn sentinels_fail_over(data: DataKind, kinds: &[SentinelKind]) {
    if !have_tools(data, kinds) {
        return;
    }
    let _serial = serial();
    let mut set = ReplicaSet::start(data, 2);
    let old = set.master().addr();
    let sentinels = start_sentinels(kinds, old.1, &SentinelOpts::default());
    wait_discovered(&sentinels, 2, Duration::from_secs(30));
    for s in &sentinels {
        assert_eq!(master_addr(s), Some(old.clone()));
    }

    // Acknowledged writes.
    let mut mc = set.master().client();
    let keys: Vec<String> = (0..200).map(|i| format!("key:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        let _: () = q(&mut mc, &["SET", k, &format!("value-{i}")]).unwrap();
    }
    let _: i64 = q(&mut mc, &["INCRBY", "counter", "200"]).unwrap();
    let acked: i64 = q(&mut mc, &["WAIT", "2", "5000"]).unwrap();
    assert_eq!(acked, 2, "WAIT 2 5000\n{}", describe_set(&set));
    drop(mc);

    set.nodes[0].kill9();
    let new = wait_new_master(&sentinels, &old, Duration::from_secs(30));
    let replica_ports: Vec<u16> = set.nodes[1..].iter().map(|n| n.port()).collect();
    assert!(
        new.0 == "127.0.0.1" && replica_ports.contains(&new.1),
        "new master {new:?} is not one of the replicas {replica_ports:?}"
    );
    let promoted = set.by_port(new.1).unwrap();
    assert!(
        poll(Duration::from_secs(10), || promoted.role().as_deref()
            == Some("master")),
        "ROLE of the promoted replica\n{}",
        describe_set(&set)
    );
    let other = set
        .nodes
        .iter()
        .find(|n| n.port() != new.1 && !n.is_dead())
        .unwrap();
    assert!(
        poll(Duration::from_secs(30), || other.is_linked_to(new.1)),
        "the other replica did not follow the new master {new:?}\n{}\n{}",
        describe_set(&set),
        describe(&sentinels)
    );
    // The other replica continued from the promoted one's history: a partial resync.
    assert!(
        poll(Duration::from_secs(10), || promoted
            .info_field("stats", "sync_partial_ok")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n >= 1)),
        "the other replica did not resync partially\n{}",
        describe_set(&set)
    );
    let mut nc = promoted.client();
    for (i, k) in keys.iter().enumerate() {
        let v: Option<String> = q(&mut nc, &["GET", k]).unwrap();
        assert_eq!(v, Some(format!("value-{i}")), "acknowledged {k} lost");
    }
    let c: i64 = q(&mut nc, &["GET", "counter"]).unwrap();
    assert_eq!(c, 200);
    // The new master takes writes (sentinels set no min-replicas, so this must just work).
    let _: () = q(&mut nc, &["SET", "after", "failover"]).unwrap();

    // The old master comes back as a plain master on its old port: the sentinels, which now
    // list it as a replica of the new master, turn it into one (redis-sentinel waits about
    // 8 s before it does so).
    set.nodes[0].restart(&[]);
    let back = &set.nodes[0];
    // redis-sentinel may fail over a second time right after the switch, whatever the data
    // servers: after `+switch-master` it resets the master's link (act_ping_time = now) but
    // rate-limits the reconnection by the time of its last attempt at the dead old master, so
    // the first PING to the new master can go out close to down-after (1 s) later and the new
    // master is marked down (seen in the all-Redis control run in CI, and twice on 2026-12-08
    // with ringkv data servers that answered at once). With redis-sentinel, the test follows
    // whatever master the sentinels agree on; with ringkv's own sentinels it stays strict.
    let tolerant = kinds.iter().all(|k| *k == RedisSentinel);
    let mut current = new.clone();
    if tolerant {
        assert!(
            poll(Duration::from_secs(60), || {
                let agreed = master_addr(&sentinels[0]);
                let ok = agreed.as_ref().is_some_and(|(_, port)| {
                    sentinels.iter().all(|s| master_addr(s) == agreed)
                        && back.role().as_deref() == Some("slave")
                        && back.is_linked_to(*port)
                });
                if let (true, Some(a)) = (ok, agreed) {
                    current = a;
                }
                ok
            }),
            "the restarted old master did not become a replica of the sentinels' master\n{}\n{}",
            describe_set(&set),
            describe(&sentinels)
        );
        if data == DataKind::Redis {
            return; // the control run stops here
        }
        if current != new {
            // A second failover: the acknowledged writes are on the master the sentinels
            // agree on (they reached both replicas before the kill), and the test ends there.
            let mut cc = set.by_port(current.1).unwrap().client();
            for (i, k) in keys.iter().enumerate() {
                let v: Option<String> = q(&mut cc, &["GET", k]).unwrap();
                assert_eq!(v, Some(format!("value-{i}")), "acknowledged {k} lost");
            }
            return;
        }
    } else {
        assert!(
            poll(Duration::from_secs(40), || back.role().as_deref()
                == Some("slave")
                && back.is_linked_to(new.1)),
            "the restarted old master did not become a replica of {new:?}\n{}\n{}",
            describe_set(&set),
            describe(&sentinels)
        );
    }
    set.wait_linked(new.1, Duration::from_secs(20));
    let mut bc = back.client();
    assert!(
        poll(Duration::from_secs(10), || {
            q::<Option<String>>(&mut bc, &["GET", "after"])
                .ok()
                .flatten()
                .as_deref()
                == Some("failover")
        }),
        "the demoted old master did not get writes made after the failover"
    );
    for s in &sentinels {
        assert_eq!(master_addr(s), Some(new.clone()));
    }
    wait_discovered(&sentinels, 2, Duration::from_secs(20));
}

#[test]
fn three_redis_sentinels_fail_over_ringkv_servers() {
    sentinels_fail_over(DataKind::Ringkv, &[RedisSentinel; 3]);
}

/// The same scenario on real redis-server processes: a control for the harness itself.
#[test]
fn three_redis_sentinels_fail_over_redis_servers_control() {
    sentinels_fail_over(DataKind::Redis, &[RedisSentinel; 3]);
}

#[test]
fn three_ringkv_sentinels_fail_over_ringkv_servers() {
    sentinels_fail_over(DataKind::Ringkv, &[RingkvSentinel; 3]);
}

/// One quorum of both implementations: they must exchange hellos, vote for each other and
/// follow whichever of them leads the failover.
#[test]
fn ringkv_and_redis_sentinels_fail_over_together() {
    sentinels_fail_over(
        DataKind::Ringkv,
        &[RingkvSentinel, RedisSentinel, RingkvSentinel],
    );
}

#[test]
fn three_ringkv_sentinels_fail_over_redis_servers() {
    sentinels_fail_over(DataKind::Redis, &[RingkvSentinel; 3]);
}

/// Three ringkv sentinels over ringkv servers, discovered and agreeing on the master.
fn ringkv_watch() -> Option<(ReplicaSet, Vec<Sentinel>)> {
    if !have_tools(DataKind::Ringkv, &[]) {
        return None;
    }
    let set = ReplicaSet::start(DataKind::Ringkv, 2);
    let sentinels = start_sentinels(
        &[RingkvSentinel; 3],
        set.master().port(),
        &SentinelOpts::default(),
    );
    wait_discovered(&sentinels, 2, Duration::from_secs(30));
    Some((set, sentinels))
}

fn sentinel_cmd<T: redis::FromRedisValue>(s: &Sentinel, args: &[&str]) -> redis::RedisResult<T> {
    let mut c = s.client();
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut c)
}

/// SENTINEL FAILOVER without a down master; SENTINEL REMOVE and MONITOR at runtime; a sentinel
/// restarted from the config file it rewrote keeps its ID, epoch and known instances.
#[test]
fn manual_failover_runtime_monitor_and_restart() {
    let _serial = serial();
    let Some((set, mut sentinels)) = ringkv_watch() else {
        return;
    };
    let old = set.master().addr();
    // Events are published on channels named after them.
    let mut events = sentinels[1].client();
    events
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut pubsub = events.as_pubsub();
    pubsub.subscribe("+switch-master").unwrap();
    let ok: String = sentinel_cmd(&sentinels[0], &["SENTINEL", "FAILOVER", "mymaster"]).unwrap();
    assert_eq!(ok, "OK");
    let again: redis::RedisResult<String> =
        sentinel_cmd(&sentinels[0], &["SENTINEL", "FAILOVER", "mymaster"]);
    if let Err(e) = again {
        assert!(e.to_string().contains("INPROG"), "{e}");
    }
    let new = wait_new_master(&sentinels, &old, Duration::from_secs(30));
    let msg = pubsub.get_message().expect("a +switch-master message");
    let payload: String = msg.get_payload().unwrap();
    assert_eq!(
        payload,
        format!("mymaster {} {} {} {}", old.0, old.1, new.0, new.1)
    );
    drop(pubsub);
    let promoted = set.by_port(new.1).expect("a replica was promoted");
    assert!(poll(Duration::from_secs(10), || promoted.role().as_deref()
        == Some("master")));
    // Forced failovers reconfigure the old master too: it is a live replica of the new one.
    assert!(
        poll(Duration::from_secs(40), || set.master().is_linked_to(new.1)),
        "the old master did not follow\n{}",
        describe(&sentinels)
    );
    let log = sentinels[0].log_text();
    for event in [
        "+new-epoch",
        "+try-failover",
        "+elected-leader",
        "+selected-slave",
        "+promoted-slave",
        "+failover-end",
        "+switch-master",
    ] {
        assert!(
            log.contains(event),
            "no {event} in the leader's log:\n{log}"
        );
    }

    // REMOVE and MONITOR at runtime.
    let s2 = &sentinels[2];
    let ok: String = sentinel_cmd(s2, &["SENTINEL", "REMOVE", "mymaster"]).unwrap();
    assert_eq!(ok, "OK");
    let masters: Vec<redis::Value> = sentinel_cmd(s2, &["SENTINEL", "MASTERS"]).unwrap();
    assert!(masters.is_empty());
    assert!(
        !s2.conf_text().contains("sentinel monitor"),
        "{}",
        s2.conf_text()
    );
    let err = sentinel_cmd::<String>(s2, &["SENTINEL", "MASTER", "mymaster"]).unwrap_err();
    assert!(
        err.to_string().contains("No such master with that name"),
        "{err}"
    );
    let port = new.1.to_string();
    let ok: String = sentinel_cmd(
        s2,
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", &port, "2"],
    )
    .unwrap();
    assert_eq!(ok, "OK");
    let ok: String = sentinel_cmd(
        s2,
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "down-after-milliseconds",
            "1000",
            "failover-timeout",
            "10000",
        ],
    )
    .unwrap();
    assert_eq!(ok, "OK");
    let denied = sentinel_cmd::<String>(
        s2,
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            "/bin/true",
        ],
    )
    .unwrap_err();
    assert!(
        denied.to_string().contains("denied for security reasons"),
        "{denied}"
    );
    let dup = sentinel_cmd::<String>(
        s2,
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", &port, "2"],
    )
    .unwrap_err();
    assert!(dup.to_string().contains("Duplicated master name"), "{dup}");
    assert!(s2
        .conf_text()
        .contains(&format!("sentinel monitor mymaster 127.0.0.1 {port} 2")));
    wait_discovered(&sentinels, 2, Duration::from_secs(30));

    // Restart from the rewritten config.
    let s1 = &mut sentinels[1];
    let myid: String = sentinel_cmd(s1, &["SENTINEL", "MYID"]).unwrap();
    let conf = s1.conf_text();
    assert!(conf.contains(&format!("sentinel myid {myid}")), "{conf}");
    assert!(conf.contains("sentinel known-sentinel mymaster"), "{conf}");
    s1.restart();
    let again: String = sentinel_cmd(s1, &["SENTINEL", "MYID"]).unwrap();
    assert_eq!(again, myid);
    assert_eq!(master_addr(s1), Some(new.clone()));
    let info: Vec<String> = sentinel_cmd(s1, &["SENTINEL", "MASTER", "mymaster"]).unwrap();
    let epoch = info
        .iter()
        .position(|f| f == "config-epoch")
        .map(|i| info[i + 1].clone());
    assert!(epoch.as_deref().is_some_and(|e| e != "0"), "{info:?}");
    let sentinels_known: Vec<redis::Value> =
        sentinel_cmd(s1, &["SENTINEL", "SENTINELS", "mymaster"]).unwrap();
    assert_eq!(
        sentinels_known.len(),
        2,
        "known sentinels come back from the config file"
    );
}

/// A master stopped for less than down-after-milliseconds is not failed over.
#[test]
fn a_short_pause_causes_no_failover() {
    let _serial = serial();
    let Some((mut set, sentinels)) = ringkv_watch() else {
        return;
    };
    let old = set.master().addr();
    let pid = set.nodes[0].pid();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    // The pause itself: half of down-after-milliseconds.
    std::thread::sleep(Duration::from_millis(500));
    signal("-CONT");
    // Watch for three down-after periods: nothing may happen.
    let changed = poll(Duration::from_secs(3), || {
        sentinels.iter().any(|s| {
            master_addr(s).as_ref() != Some(&old) || s.log_text().contains("+sdown master")
        })
    });
    assert!(
        !changed,
        "a 500 ms pause made sentinels act\n{}",
        describe(&sentinels)
    );
    assert_eq!(set.master().role().as_deref(), Some("master"));
}

/// redis-py's Sentinel client keeps writing across a failover, with a bounded pause.
#[test]
fn redis_py_follows_the_master_across_a_failover() {
    if !have_python_redis() {
        return;
    }
    let _serial = serial();
    let Some((mut set, sentinels)) = ringkv_watch() else {
        return;
    };
    let old = set.master().addr();
    let ports: Vec<String> = sentinels.iter().map(|s| s.port.to_string()).collect();
    let script = r#"
import sys, time, redis
from redis.sentinel import Sentinel
ports = [int(p) for p in sys.argv[1:]]
s = Sentinel([('127.0.0.1', p) for p in ports], socket_timeout=0.5)
m = s.master_for('mymaster', socket_timeout=0.5)
first = s.discover_master('mymaster')
acked, after, pause, last_ok, told = 0, 0, 0.0, time.time(), False
deadline = time.time() + 60
while time.time() < deadline and after < 200:
    try:
        m.incr('counter')
        now = time.time()
        pause, last_ok = max(pause, now - last_ok), now
        acked += 1
        if acked == 100 and not told:
            print('kill', flush=True)
            told = True
        if told and acked % 20 == 0 and s.discover_master('mymaster') != first:
            after += 20
    except redis.RedisError:
        time.sleep(0.01)
print('done %d %.3f %s:%d' % (acked, pause, *s.discover_master('mymaster')), flush=True)
"#;
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&ports)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "kill");
    set.nodes[0].kill9();
    let done = lines.next().unwrap().unwrap();
    let _ = child.wait();
    let parts: Vec<&str> = done.split(' ').collect();
    assert_eq!(parts[0], "done", "{done}");
    let pause_s: f64 = parts[2].parse().unwrap();
    assert_ne!(
        parts[3],
        format!("{}:{}", old.0, old.1),
        "{done}\n{}",
        describe(&sentinels)
    );
    assert!(
        pause_s < 15.0,
        "writes paused {pause_s} s\n{}",
        describe(&sentinels)
    );
}

/// Whether python3 with redis-py is there (under CI it must be).
fn have_python_redis() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import redis.sentinel"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("python3 with redis-py is missing under CI: pip install redis");
        }
        eprintln!("SKIP: python3 with redis-py not found; install it with: pip install redis");
    }
    ok
}

/// A sentinel with `requirepass` refuses clients until AUTH; its peers get in with
/// `sentinel sentinel-pass` (their PINGs are answered, so they are not down to each other).
#[test]
fn sentinels_protected_by_a_password_still_talk_to_each_other() {
    let _serial = serial();
    if !have_tools(DataKind::Ringkv, &[]) {
        return;
    }
    let set = ReplicaSet::start(DataKind::Ringkv, 1);
    let opts = SentinelOpts {
        extra: vec![
            "requirepass s3cret".into(),
            "sentinel sentinel-pass s3cret".into(),
        ],
        ..SentinelOpts::default()
    };
    let sentinels = start_sentinels(&[RingkvSentinel; 2], set.master().port(), &opts);
    let err = sentinel_cmd::<String>(&sentinels[0], &["SENTINEL", "MYID"]).unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    let authed = |s: &Sentinel, args: &[&str]| -> redis::RedisResult<redis::Value> {
        let mut c = s.client();
        redis::cmd("AUTH").arg("s3cret").query::<()>(&mut c)?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c)
    };
    let wrong = {
        let mut c = sentinels[0].client();
        redis::cmd("AUTH")
            .arg("nope")
            .query::<()>(&mut c)
            .unwrap_err()
    };
    assert!(wrong.to_string().contains("WRONGPASS"), "{wrong}");
    // Each knows the other, and the other answers its PINGs (an unauthenticated PING would get
    // -NOAUTH, which does not count as a reply).
    let ok = poll(Duration::from_secs(20), || {
        sentinels.iter().all(|s| {
            let Ok(redis::Value::Array(peers)) = authed(s, &["SENTINEL", "SENTINELS", "mymaster"])
            else {
                return false;
            };
            let Some(redis::Value::Array(fields)) = peers.first() else {
                return false;
            };
            let text: Vec<String> = fields
                .iter()
                .map(|v| redis::from_redis_value::<String>(v).unwrap_or_default())
                .collect();
            let field = |name: &str| {
                text.iter()
                    .position(|f| f == name)
                    .map(|i| text[i + 1].clone())
                    .unwrap_or_default()
            };
            peers.len() == 1
                && field("flags") == "sentinel"
                && field("last-ok-ping-reply")
                    .parse::<u64>()
                    .is_ok_and(|ms| ms < 2000)
        })
    });
    assert!(
        ok,
        "the sentinels did not reach each other\n{}",
        describe(&sentinels)
    );
}

/// `sentinel rename-command`: instances hardened by renaming CONFIG still get the failover
/// transaction (with the plain name, redis-server would abort it with EXECABORT).
#[test]
fn ringkv_sentinels_use_renamed_commands() {
    if !have_tools(DataKind::Redis, &[]) {
        return;
    }
    let _serial = serial();
    let rename = ["--rename-command", "CONFIG", "GUESSME"];
    let set = ReplicaSet::start_mixed(DataKind::Redis, &[DataKind::Redis; 2], &rename);
    let old = set.master().addr();
    let opts = SentinelOpts {
        extra: vec!["sentinel rename-command mymaster CONFIG GUESSME".into()],
        ..SentinelOpts::default()
    };
    let sentinels = start_sentinels(&[RingkvSentinel; 3], old.1, &opts);
    wait_discovered(&sentinels, 2, Duration::from_secs(30));
    let ok: String = sentinel_cmd(&sentinels[0], &["SENTINEL", "FAILOVER", "mymaster"]).unwrap();
    assert_eq!(ok, "OK");
    let new = wait_new_master(&sentinels, &old, Duration::from_secs(30));
    let promoted = set.by_port(new.1).expect("a replica was promoted");
    assert!(poll(Duration::from_secs(10), || promoted.role().as_deref()
        == Some("master")));
    assert!(sentinels[0]
        .conf_text()
        .contains("sentinel rename-command mymaster CONFIG GUESSME"));
}

/// The three ways to start sentinel mode: `ringkv conf --sentinel`, `ringkv --sentinel conf`,
/// and a link named ringkv-sentinel; each serves INFO with redis_mode:sentinel, and without a
/// config file it refuses to start, as redis-sentinel does.
#[test]
fn sentinel_mode_starts_in_every_documented_form() {
    let dir = temp_dir("sentinel-forms");
    let link = dir.join("ringkv-sentinel");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ringkv"), &link).unwrap();
    let forms: [(&std::path::Path, bool); 3] = [
        (std::path::Path::new(env!("CARGO_BIN_EXE_ringkv")), false),
        (std::path::Path::new(env!("CARGO_BIN_EXE_ringkv")), true),
        (&link, false),
    ];
    for (n, (program, switch_first)) in forms.into_iter().enumerate() {
        let port = free_port();
        let conf = dir.join(format!("s{n}.conf"));
        std::fs::write(
            &conf,
            format!("port {port}\nsentinel monitor m 127.0.0.1 1 1\n"),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(program);
        if switch_first {
            cmd.arg("--sentinel").arg(&conf);
        } else if program == link {
            cmd.arg(&conf);
        } else {
            cmd.arg(&conf).arg("--sentinel");
        }
        let mut child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
        let pid = child.id();
        let up = wait_until(Duration::from_secs(10), || serves_pid(port, pid));
        let info: Option<String> = ask(port, &["INFO", "server"]);
        let _ = child.kill();
        let _ = child.wait();
        assert!(up, "form {n} did not start");
        assert!(
            info.unwrap_or_default().contains("redis_mode:sentinel"),
            "form {n}"
        );
        assert!(std::fs::read_to_string(&conf)
            .unwrap()
            .contains("sentinel myid "));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringkv"))
        .args(["--sentinel", "--port", &free_port().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Sentinel needs config file on disk"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The strings of a reply, depth first (maps and arrays flattened).
fn strings(v: &redis::Value) -> Vec<String> {
    match v {
        redis::Value::BulkString(b) => vec![String::from_utf8_lossy(b).into_owned()],
        redis::Value::SimpleString(s) => vec![s.clone()],
        redis::Value::Int(n) => vec![n.to_string()],
        redis::Value::Array(a) | redis::Value::Set(a) => a.iter().flat_map(strings).collect(),
        redis::Value::Map(m) => m
            .iter()
            .flat_map(|(k, v)| strings(k).into_iter().chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes an executable shell script that appends its arguments (one line per run) to `log`
/// and exits with `code`.
fn script(dir: &std::path::Path, name: &str, log: &std::path::Path, code: i32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let body = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nexit {code}\n",
        log.display()
    );
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Scripts as Redis runs them: the notification script gets each warning-level event of its
/// master (type, description); the failover leader runs the client-reconfig script with
/// `<master> leader start <from-ip> <from-port> <to-ip> <to-port>`; a script that exits with
/// 1 is retried (PENDING-SCRIPTS shows it scheduled with its retry count); SENTINEL SET of a
/// script path is refused under `deny-scripts-reconfig yes` and checked for an executable
/// file otherwise; both paths survive the config rewrite.
#[test]
fn sentinel_runs_notification_and_client_reconfig_scripts() {
    let _serial = serial();
    if !have_tools(DataKind::Ringkv, &[]) {
        return;
    }
    let set = ReplicaSet::start(DataKind::Ringkv, 1);
    let dir = temp_dir("scripts");
    let (notify_log, reconf_log) = (dir.join("notify.log"), dir.join("reconf.log"));
    let notify = script(&dir, "notify.sh", &notify_log, 0);
    let reconf = script(&dir, "reconf.sh", &reconf_log, 0);
    let o = SentinelOpts {
        quorum: 1,
        extra: vec![
            format!("sentinel notification-script mymaster {notify}"),
            format!("sentinel client-reconfig-script mymaster {reconf}"),
        ],
        ..SentinelOpts::default()
    };
    let s = vec![Sentinel::start(RingkvSentinel, set.master().port(), &o)];
    wait_discovered(&s, 1, Duration::from_secs(30));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        poll(Duration::from_secs(10), || read(&notify_log)
            .contains("+monitor master mymaster 127.0.0.1")),
        "{}",
        read(&notify_log)
    );
    let old = set.master().addr();
    // Until the sentinel has a fresh INFO from the replica it answers NOGOODSLAVE.
    let mut reply = Err(String::new());
    let started = poll(Duration::from_secs(20), || {
        reply = sentinel_cmd::<String>(&s[0], &["SENTINEL", "FAILOVER", "mymaster"])
            .map_err(|e| e.to_string());
        reply.is_ok()
    });
    assert!(started, "{reply:?}");
    let new = wait_new_master(&s, &old, Duration::from_secs(30));
    let want = format!(
        "mymaster leader start {} {} {} {}",
        old.0, old.1, new.0, new.1
    );
    assert!(
        poll(Duration::from_secs(10), || read(&reconf_log)
            .contains(&want)),
        "{}",
        read(&reconf_log)
    );
    let switch = format!(
        "+switch-master mymaster {} {} {} {}",
        old.0, old.1, new.0, new.1
    );
    assert!(
        poll(Duration::from_secs(10), || read(&notify_log)
            .contains(&switch)),
        "{}",
        read(&notify_log)
    );
    let e = sentinel_cmd::<String>(
        &s[0],
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            &notify,
        ],
    )
    .unwrap_err();
    assert!(e.to_string().contains("denied for security reasons"), "{e}");
    let conf = s[0].conf_text();
    assert!(
        conf.contains(&format!("sentinel notification-script mymaster {notify}")),
        "{conf}"
    );
    assert!(
        conf.contains(&format!(
            "sentinel client-reconfig-script mymaster {reconf}"
        )),
        "{conf}"
    );
    drop(s);

    // With deny-scripts-reconfig no: a failing script is retried later.
    let o = SentinelOpts {
        quorum: 1,
        extra: vec!["sentinel deny-scripts-reconfig no".into()],
        ..SentinelOpts::default()
    };
    let s = Sentinel::start(RingkvSentinel, new.1, &o);
    let missing = dir.join("missing.sh");
    let e = sentinel_cmd::<String>(
        &s,
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            missing.to_str().unwrap(),
        ],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("non existing or non executable"),
        "{e}"
    );
    let fails_log = dir.join("fails.log");
    let fails = script(&dir, "fails.sh", &fails_log, 1);
    let ok: String = sentinel_cmd(
        &s,
        &["SENTINEL", "SET", "mymaster", "notification-script", &fails],
    )
    .unwrap();
    assert_eq!(ok, "OK");
    // The +set event of the next SET runs it; it exits 1 and waits for its retry (30 s).
    let ok: String = sentinel_cmd(&s, &["SENTINEL", "SET", "mymaster", "quorum", "1"]).unwrap();
    assert_eq!(ok, "OK");
    let mut pending = Vec::new();
    let retried = poll(Duration::from_secs(10), || {
        let v: redis::Value = sentinel_cmd(&s, &["SENTINEL", "PENDING-SCRIPTS"]).unwrap();
        pending = strings(&v);
        let at = |k: &str| {
            let i = pending.iter().position(|x| x == k)?;
            pending.get(i + 1).map(String::as_str)
        };
        at("flags") == Some("scheduled")
            && at("retry-num") == Some("1")
            && pending.contains(&fails)
            && read(&fails_log).contains("+set master mymaster")
    });
    assert!(retried, "{pending:?}\n{}", read(&fails_log));
    let _ = std::fs::remove_dir_all(dir);
}
