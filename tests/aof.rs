//! The append-only file: what commands propagate as (read back from the incremental file), the
//! Redis 7 multi-part directory moving between redis-server and ringkv in both directions, torn
//! and corrupt files at start, rewrites (commanded, automatic, CONFIG SET appendonly yes) while
//! writes race them, and kill -9 under write load losing no acknowledged write.

mod common;

use common::{have_tool, q, start_fails, temp_dir, wait_until, RealRedis, Server};
use redis::Value as V;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn cmd(c: &mut redis::Connection, args: &[&str]) {
    q::<V>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = q(c, &["INFO", "persistence"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from {info}"))
        .trim()
        .to_string()
}

/// Starts ringkv with the AOF on in `dir` (kept after the server stops).
fn start_aof(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The commands of an AOF command file, each as its arguments.
fn parse_commands(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        let Some(n) = l.strip_prefix('*') else {
            assert!(l.is_empty(), "unexpected line {l:?}");
            continue;
        };
        let n: usize = n.parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            lines.next().unwrap(); // $len
            args.push(lines.next().unwrap().to_string());
        }
        out.push(args);
    }
    out
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

/// The current incremental file (the last `type i` line of the manifest).
fn last_incr(dir: &Path) -> PathBuf {
    let m = manifest(dir);
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .to_string();
    dir.join("appendonlydir").join(name)
}

fn incr_commands(dir: &Path) -> Vec<Vec<String>> {
    parse_commands(&std::fs::read(last_incr(dir)).unwrap())
}

fn names(cmds: &[Vec<String>]) -> Vec<String> {
    cmds.iter().map(|c| c[0].to_ascii_uppercase()).collect()
}

/// Polls until the AOF's incremental file has at least `n` commands (writes reach the file
/// before the reply, so this is immediate; the poll only absorbs scheduling).
fn wait_commands(dir: &Path, n: usize) -> Vec<Vec<String>> {
    let mut got = Vec::new();
    wait_until(Duration::from_secs(5), || {
        got = incr_commands(dir);
        got.len() >= n
    });
    got
}

#[test]
fn commands_propagate_in_deterministic_forms() {
    let dir = temp_dir("aof-forms");
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    cmd(&mut c, &["SET", "a", "1", "EX", "100"]);
    cmd(&mut c, &["SETEX", "b", "100", "v"]);
    cmd(&mut c, &["EXPIRE", "a", "200", "GT"]);
    cmd(&mut c, &["INCRBYFLOAT", "f", "1.5"]);
    cmd(&mut c, &["HINCRBYFLOAT", "h", "x", "0.25"]);
    cmd(&mut c, &["SADD", "s", "m1"]);
    cmd(&mut c, &["SPOP", "s"]);
    cmd(&mut c, &["GETEX", "b", "PERSIST"]);
    cmd(&mut c, &["GETDEL", "b"]);
    cmd(&mut c, &["DEL", "nothing-here"]); // changes nothing: not propagated
    cmd(&mut c, &["SET", "short", "v", "PX", "30"]);
    assert!(wait_until(Duration::from_secs(5), || q::<Option<String>>(
        &mut c,
        &["GET", "short"]
    )
    .unwrap()
    .is_none()));
    // A write to a key past its expiry: its DEL first, then the write (which propagates as
    // received, after the DEL).
    cmd(&mut c, &["SET", "gone", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(5)); // the expiry is the condition waited for
    cmd(&mut c, &["APPEND", "gone", "w"]);
    cmd(&mut c, &["RPUSH", "l", "x", "y"]);
    cmd(&mut c, &["BLPOP", "l", "0"]);
    cmd(&mut c, &["BLMOVE", "l", "l2", "RIGHT", "LEFT", "0"]);
    cmd(&mut c, &["MULTI"]);
    cmd(&mut c, &["INCR", "t1"]);
    cmd(&mut c, &["INCR", "t2"]);
    cmd(&mut c, &["EXEC"]);
    // A blocked pop served by another client's push propagates as the push, then the pop.
    let mut waiter = k.client();
    let t = std::thread::spawn(move || q::<V>(&mut waiter, &["BRPOP", "q", "5"]).unwrap());
    assert!(wait_until(Duration::from_secs(5), || {
        let info: String = q(&mut c, &["INFO", "clients"]).unwrap();
        info.contains("blocked_clients:1")
    }));
    cmd(&mut c, &["LPUSH", "q", "job"]);
    t.join().unwrap();
    cmd(&mut c, &["SELECT", "2"]);
    cmd(&mut c, &["SET", "in2", "v"]);

    let got = wait_commands(&dir, 26);
    let want_names = [
        "SELECT",
        "SET",
        "SET",
        "PEXPIREAT",
        "SET",
        "HSET",
        "SADD",
        "SREM",
        "PERSIST",
        "DEL",
        "SET",
        "DEL",
        "SET",
        "DEL",
        "APPEND",
        "RPUSH",
        "LPOP",
        "LMOVE",
        "MULTI",
        "INCR",
        "INCR",
        "EXEC",
        "LPUSH",
        "RPOP",
        "SELECT",
        "SET",
    ];
    assert_eq!(names(&got), want_names, "{got:?}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // SET a 1 EX 100 -> SET a 1 PXAT <abs>
    assert_eq!(got[1][..4], ["SET", "a", "1", "PXAT"]);
    let at: i64 = got[1][4].parse().unwrap();
    assert!((at - now_ms - 100_000).abs() < 10_000, "{at} vs {now_ms}");
    assert_eq!(got[2][..4], ["SET", "b", "v", "PXAT"]);
    // EXPIRE a 200 GT -> PEXPIREAT a <abs> GT
    assert_eq!(got[3][1], "a");
    assert_eq!(got[3][3], "GT");
    assert_eq!(got[4], ["SET", "f", "1.5", "KEEPTTL"]);
    assert_eq!(got[5], ["HSET", "h", "x", "0.25"]);
    assert_eq!(got[7], ["SREM", "s", "m1"]);
    assert_eq!(got[8], ["PERSIST", "b"]);
    assert_eq!(got[9], ["DEL", "b"]);
    assert_eq!(got[11], ["DEL", "short"]); // the lazy expiry GET noticed
    assert_eq!(got[12][1], "gone");
    assert_eq!(got[13], ["DEL", "gone"]);
    assert_eq!(got[14], ["APPEND", "gone", "w"]);
    assert_eq!(got[16], ["LPOP", "l"]);
    assert_eq!(got[17], ["LMOVE", "l", "l2", "RIGHT", "LEFT"]);
    assert_eq!(got[22], ["LPUSH", "q", "job"]);
    assert_eq!(got[23], ["RPOP", "q"]);
    assert_eq!(got[24], ["SELECT", "2"]);
    drop(k);
    let _ = std::fs::remove_dir_all(dir);
}

/// A request whose separators are not CRLF (the parser skips those bytes, as Redis's does)
/// runs, and is written to the AOF in canonical form, so the file still loads.
#[test]
fn loosely_framed_requests_are_logged_canonically() {
    use std::io::{Read, Write};
    // One thread runs the commands where they arrive, two ship some to the other thread.
    for threads in ["1", "2"] {
        let dir = temp_dir("aof-loose");
        let k = start_aof(&dir, &["--threads", threads]);
        let mut s = k.raw();
        s.write_all(
            b"*3\r\n$3\r\nSET\r\n$1\r\nkXY$1\r\nv\r\n*3\r\n$3\r\nSET\r\n$2\rXk2\r\n$2\r\nv2\r\n",
        )
        .unwrap();
        let mut got = [0u8; 10];
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"+OK\r\n+OK\r\n");
        let cmds = wait_commands(&dir, 3);
        let sets: Vec<&Vec<String>> = cmds.iter().filter(|c| c[0] == "SET").collect();
        assert_eq!(
            sets,
            [
                &vec!["SET".to_string(), "k".into(), "v".into()],
                &vec!["SET".to_string(), "k2".into(), "v2".into()]
            ],
            "{cmds:?}"
        );
        let file = std::fs::read(last_incr(&dir)).unwrap();
        assert!(
            !file.windows(2).any(|w| w == b"XY" || w == b"\rX"),
            "{file:?}"
        );
        drop(k);
        let k = start_aof(&dir, &["--threads", threads]);
        let mut c = k.client();
        assert_eq!(q::<String>(&mut c, &["GET", "k"]).unwrap(), "v");
        assert_eq!(q::<String>(&mut c, &["GET", "k2"]).unwrap(), "v2");
        drop(k);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A pipeline's writes take effect in the order they were sent, whichever threads own their
/// keys: the AOF (the execution order every replica sees too) lists them in request order.
/// Before 2026-12-08 a pipeline's commands for different shards ran side by side, and the
/// writes for the connection's own shard overtook earlier ones shipped to the other thread.
#[test]
fn a_pipeline_is_logged_in_the_order_it_was_sent() {
    let dir = temp_dir("aof-order");
    let k = start_aof(&dir, &["--threads", "2"]);
    let mut c = k.client();
    let n = 300;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("order:{i}")).arg(i);
        if i % 50 == 49 {
            // A keyless command in the middle ends a batch; the order holds across it too.
            pipe.cmd("PING");
        }
    }
    let _: Vec<redis::Value> = pipe.query(&mut c).unwrap();
    let cmds = wait_commands(&dir, n + 1);
    let keys: Vec<&str> = cmds
        .iter()
        .filter(|c| c[0] == "SET")
        .map(|c| c[1].as_str())
        .collect();
    let want: Vec<String> = (0..n).map(|i| format!("order:{i}")).collect();
    assert_eq!(keys, want, "AOF order differs from the pipeline's");
    drop(k);
    let _ = std::fs::remove_dir_all(dir);
}

/// Every type, expiries, two databases; written through commands so the AOF has them.
fn fill(c: &mut redis::Connection, tag: &str) {
    cmd(c, &["SET", &format!("s{tag}"), "hello"]);
    cmd(c, &["SET", &format!("n{tag}"), "12345"]);
    cmd(c, &["SET", &format!("e{tag}"), "v", "EX", "1000"]);
    cmd(c, &["HSET", &format!("h{tag}"), "a", "1", "b", "two"]);
    cmd(c, &["RPUSH", &format!("l{tag}"), "a", "b", "c", "1"]);
    cmd(c, &["SADD", &format!("si{tag}"), "1", "2", "3"]);
    cmd(c, &["SADD", &format!("ss{tag}"), "a", "b"]);
    cmd(c, &["ZADD", &format!("z{tag}"), "1", "a", "2.5", "b"]);
    cmd(c, &["INCRBYFLOAT", &format!("fl{tag}"), "3.25"]);
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut big = vec!["SADD".to_string(), format!("big{tag}")];
    big.extend(members);
    let refs: Vec<&str> = big.iter().map(String::as_str).collect();
    cmd(c, &refs);
    cmd(c, &["SELECT", "5"]);
    cmd(c, &["SET", &format!("db5{tag}"), "x"]);
    cmd(c, &["SELECT", "0"]);
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"]).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn redis_check_aof(dir: &Path) {
    let out = Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
}

#[test]
fn the_aof_directory_moves_between_redis_and_ringkv() {
    if !have_tool("redis-server") || !have_tool("redis-check-aof") {
        return;
    }
    // redis-server writes: a base from a rewrite, then incremental commands.
    let rdir = temp_dir("aof-redis");
    let r = RealRedis::start_with(&["--appendonly", "yes", "--dir", rdir.to_str().unwrap()]);
    let mut rc = r.client();
    fill(&mut rc, "1");
    cmd(&mut rc, &["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut rc, "aof_rewrite_in_progress") == "0"
            && info_field(&mut rc, "aof_rewrites") == "1"
    }));
    fill(&mut rc, "2");
    let want = digest(&mut rc);
    let _ = q::<V>(&mut rc, &["SHUTDOWN", "NOSAVE"]);
    drop(r);
    let kdir = temp_dir("aof-into-ringkv");
    copy_dir(&rdir.join("appendonlydir"), &kdir.join("appendonlydir"));
    let k = start_aof(&kdir, &[]);
    let mut kc = k.client();
    assert_eq!(digest(&mut kc), want, "{}", k.log_text());
    assert!(k.log_text().contains("DB loaded from append only file"));

    // ringkv appends, rewrites, appends; redis-check-aof accepts it and redis loads it.
    fill(&mut kc, "3");
    cmd(&mut kc, &["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut kc, "aof_rewrite_in_progress") == "0"
            && info_field(&mut kc, "aof_rewrites") == "1"
    }));
    fill(&mut kc, "4");
    cmd(&mut kc, &["EXPIRE", "s4", "5000"]);
    let want = digest(&mut kc);
    let per_key = key_digests(&mut kc);
    let m = manifest(&kdir);
    assert!(m.contains(" type b\n") && !m.contains(" type h"), "{m}");
    redis_check_aof(&kdir);
    let back = temp_dir("aof-back-to-redis");
    copy_dir(&kdir.join("appendonlydir"), &back.join("appendonlydir"));
    drop(k);
    let r = RealRedis::start_with(&["--appendonly", "yes", "--dir", back.to_str().unwrap()]);
    let mut rc = r.client();
    assert_same_dataset(&mut rc, &want, &per_key);
    let ttl: i64 = q(&mut rc, &["TTL", "s4"]).unwrap();
    assert!(ttl > 4000, "{ttl}");
    drop(r);
    for d in [rdir, kdir, back] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn torn_tails_are_cut_and_corrupt_middles_refused() {
    let dir = temp_dir("aof-damage");
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    for i in 0..10 {
        cmd(&mut c, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    drop(c);
    drop(k); // killed: the writes are in the file already
    let incr = last_incr(&dir);
    let good = std::fs::read(&incr).unwrap();

    // A torn last command: refused with aof-load-truncated no, cut off with yes (the default).
    let mut torn = good.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$2\r\nk1");
    std::fs::write(&incr, &torn).unwrap();
    let out = start_fails(&dir, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert!(
        out.contains("Unexpected end of file reading the append only file"),
        "{out}"
    );
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 10);
    let log = k.log_text();
    assert!(
        log.contains(&format!(
            "Truncating the AOF incr file appendonly.aof.1.incr.aof at offset {}",
            good.len()
        )),
        "{log}"
    );
    assert!(log.contains("AOF loaded anyway because aof-load-truncated is enabled"));
    drop(c);
    drop(k);
    assert_eq!(std::fs::read(&incr).unwrap(), good);

    // Garbage in the middle: refused, naming the file and the offset.
    let mut bad = good.clone();
    let at = good.len() / 2;
    let start = good[..at].windows(3).rposition(|w| w == b"*3\r").unwrap();
    bad.splice(start..start, b"GARBAGE\r\n".iter().copied());
    std::fs::write(&incr, &bad).unwrap();
    let out = start_fails(&dir, &["--appendonly", "yes"]);
    assert!(
        out.contains(&format!(
            "Bad file format reading the append only file appendonly.aof.1.incr.aof at offset {start}"
        )),
        "{out}"
    );
    // A manifest naming a file outside the directory is refused too.
    std::fs::write(
        dir.join("appendonlydir/appendonly.aof.manifest"),
        "file ../../etc/passwd seq 1 type i\n",
    )
    .unwrap();
    let out = start_fails(&dir, &["--appendonly", "yes"]);
    assert!(
        out.contains("Invalid AOF file name in the manifest"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rewrites_keep_every_write_that_races_them() {
    let dir = temp_dir("aof-rewrite");
    // A slowed snapshot keeps the rewrite open while writes race it.
    let k = start_aof(&dir, &["--rdb-key-save-delay", "200"]);
    let mut c = k.client();
    cmd(&mut c, &["DEBUG", "POPULATE", "2000"]);
    fill(&mut c, "a");
    cmd(&mut c, &["BGREWRITEAOF"]);
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "1");
    let e = common::err(q::<V>(&mut c, &["BGREWRITEAOF"]));
    assert!(e.contains("already in progress"), "{e}");
    let e = common::err(q::<V>(&mut c, &["BGSAVE"]));
    assert!(e.contains("can't BGSAVE right now"), "{e}");
    for i in 0..500 {
        cmd(&mut c, &["SET", &format!("key:{}", i * 3), "changed"]);
        cmd(&mut c, &["DEL", &format!("key:{}", i * 3 + 1)]);
    }
    fill(&mut c, "b");
    assert!(wait_until(Duration::from_secs(60), || info_field(
        &mut c,
        "aof_rewrite_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let m = manifest(&dir);
    assert!(
        m.contains("appendonly.aof.2.base.rdb seq 2 type b") && !m.contains("type h"),
        "{m}"
    );
    assert!(!dir.join("appendonlydir/appendonly.aof.1.incr.aof").exists());
    let want = digest(&mut c);
    cmd(&mut c, &["DEBUG", "LOADAOF"]);
    assert_eq!(digest(&mut c), want);
    drop(c);
    drop(k);
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    assert_eq!(digest(&mut c), want);

    // Automatic rewrite once the AOF doubled past the minimum size.
    cmd(&mut c, &["CONFIG", "SET", "auto-aof-rewrite-min-size", "1"]);
    cmd(
        &mut c,
        &["CONFIG", "SET", "auto-aof-rewrite-percentage", "100"],
    );
    let base: u64 = info_field(&mut c, "aof_base_size").parse().unwrap();
    let value = "x".repeat(1000);
    for i in 0..(base / 900 + 10) {
        cmd(&mut c, &["SET", &format!("grow{i}"), &value]);
    }
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    assert!(k
        .log_text()
        .contains("Starting automatic rewriting of AOF on"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn config_set_appendonly_yes_writes_the_first_base() {
    let dir = temp_dir("aof-enable");
    let k = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let mut c = k.client();
    fill(&mut c, "1");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    fill(&mut c, "2");
    let want = digest(&mut c);
    drop(c);
    drop(k);
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    assert_eq!(digest(&mut c), want);
    // And off again: writes stop reaching the file.
    cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    let before = std::fs::read(last_incr(&dir)).unwrap().len();
    cmd(&mut c, &["SET", "after-off", "1"]);
    assert_eq!(std::fs::read(last_incr(&dir)).unwrap().len(), before);
    let _ = std::fs::remove_dir_all(dir);
}

/// kill -9 while clients write: every INCR that was acknowledged is in the AOF, with both
/// `always` and `everysec` (writes reach the file before their reply; fsync only matters for
/// an operating-system crash, which this cannot simulate).
#[test]
fn kill_9_under_write_load_loses_no_acknowledged_write() {
    for policy in ["always", "everysec"] {
        let dir = temp_dir("aof-kill");
        let mut k = start_aof(&dir, &["--appendfsync", policy]);
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let mut c = k.client();
                std::thread::spawn(move || {
                    let key = format!("counter{w}");
                    let mut acked = 0i64;
                    while let Ok(v) = q::<i64>(&mut c, &["INCR", &key]) {
                        acked = v;
                    }
                    acked
                })
            })
            .collect();
        let mut c = k.client();
        assert!(wait_until(Duration::from_secs(60), || {
            q::<Option<i64>>(&mut c, &["GET", "counter0"])
                .unwrap()
                .unwrap_or(0)
                > 2000
        }));
        k.child.kill().unwrap();
        let _ = k.child.wait();
        let acked: Vec<i64> = writers.into_iter().map(|t| t.join().unwrap()).collect();
        drop(k);
        let k = start_aof(&dir, &[]);
        let mut c = k.client();
        for (w, a) in acked.iter().enumerate() {
            let got: i64 = q::<Option<i64>>(&mut c, &["GET", &format!("counter{w}")])
                .unwrap()
                .unwrap_or(0);
            assert!(
                got >= *a,
                "{policy}: counter{w} is {got}, {a} were acknowledged"
            );
            assert!(
                got <= a + 1,
                "{policy}: counter{w} is {got}, only {a} acknowledged"
            );
        }
        drop(k);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn rewrite_without_the_rdb_preamble_writes_commands() {
    let dir = temp_dir("aof-nopreamble");
    let k = start_aof(&dir, &["--aof-use-rdb-preamble", "no"]);
    let mut c = k.client();
    assert!(manifest(&dir).contains("appendonly.aof.1.base.aof seq 1 type b"));
    fill(&mut c, "1");
    let list: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let mut push = vec!["RPUSH", "biglist"];
    push.extend(list.iter().map(String::as_str));
    cmd(&mut c, &push);
    cmd(
        &mut c,
        &["ZADD", "zinf", "-inf", "lo", "inf", "hi", "0.1", "tenth"],
    );
    cmd(&mut c, &["BGREWRITEAOF"]);
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&mut c, "aof_rewrites") == "1"
            && info_field(&mut c, "aof_rewrite_in_progress") == "0"
    }));
    let base = std::fs::read(dir.join("appendonlydir/appendonly.aof.2.base.aof")).unwrap();
    let cmds = parse_commands(&base);
    assert!(cmds
        .iter()
        .any(|c| c[0] == "RPUSH" && c[1] == "biglist" && c.len() == 66));
    assert!(cmds.iter().any(|c| c[0] == "PEXPIREAT" && c[1] == "e1"));
    fill(&mut c, "2");
    let want = digest(&mut c);
    if have_tool("redis-check-aof") {
        redis_check_aof(&dir);
    }
    drop(c);
    drop(k);
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    assert_eq!(digest(&mut c), want);
    let per_key = key_digests(&mut c);
    drop(k);
    if have_tool("redis-server") {
        let r = RealRedis::start_with(&["--appendonly", "yes", "--dir", dir.to_str().unwrap()]);
        let mut rc = r.client();
        assert_same_dataset(&mut rc, &want, &per_key);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The dataset on `c` has DEBUG DIGEST `want`; if not, the keys that differ from `per_key`
/// (taken where `want` was) are named.
fn assert_same_dataset(c: &mut redis::Connection, want: &str, per_key: &[(String, String)]) {
    if digest(c) != want {
        let theirs = key_digests(c);
        let differ: Vec<_> = per_key
            .iter()
            .filter(|p| !theirs.contains(p))
            .chain(theirs.iter().filter(|t| !per_key.contains(t)))
            .collect();
        panic!("a different dataset was loaded: {differ:?}");
    }
}

/// (db:key, DIGEST-VALUE and expiry) of every key of every database.
fn key_digests(c: &mut redis::Connection) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for db in 0..16 {
        let db = db.to_string();
        cmd(c, &["SELECT", &db]);
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]).unwrap();
        keys.sort();
        for k in keys {
            let d: Vec<String> = q(c, &["DEBUG", "DIGEST-VALUE", &k]).unwrap();
            let at: i64 = q(c, &["PEXPIRETIME", &k]).unwrap();
            out.push((format!("{db}:{k}"), format!("{} @{at}", d.concat())));
        }
    }
    cmd(c, &["SELECT", "0"]);
    out
}

/// RESTORE with a relative TTL is logged (and replicated) with the absolute time it meant and
/// ABSTTL, as Redis 7 does; a REPLACE whose TTL has already passed logs the DEL it amounts to.
#[test]
fn restore_propagates_absolute_ttls() {
    let dir = temp_dir("aof-restore");
    let k = start_aof(&dir, &[]);
    let mut c = k.client();
    cmd(&mut c, &["SET", "src", "payload"]);
    let dump: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut c).unwrap();
    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let _: () = redis::cmd("RESTORE")
        .arg("r")
        .arg(100_000)
        .arg(&dump)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("RESTORE")
        .arg("src")
        .arg(1)
        .arg(&dump)
        .arg("REPLACE")
        .arg("ABSTTL")
        .query(&mut c)
        .unwrap();
    let cmds = wait_commands(&dir, 4);
    let restore = cmds
        .iter()
        .find(|c| c[0] == "RESTORE")
        .unwrap_or_else(|| panic!("{cmds:?}"));
    assert_eq!(restore[1], "r");
    assert_eq!(
        restore.last().map(String::as_str),
        Some("ABSTTL"),
        "{restore:?}"
    );
    let at: u64 = restore[2].parse().unwrap();
    assert!(
        at >= before_ms + 100_000 && at < before_ms + 200_000,
        "{at} vs {before_ms}"
    );
    assert!(
        cmds.contains(&vec!["DEL".to_string(), "src".to_string()]),
        "{cmds:?}"
    );
    drop(k);
    let _ = std::fs::remove_dir_all(dir);
}
