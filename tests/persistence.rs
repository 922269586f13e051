//! Persistence checked against the real thing: dump files written by ringkv pass
//! redis-check-rdb and load into redis-server 7 to the same DEBUG DIGEST; files written by
//! redis-server load into ringkv to the same digest; DUMP payloads RESTORE in both directions
//! with the same replies; a damaged file stops ringkv at start with the offset in the log.

mod common;

use common::{err, have_tool, q, temp_dir, wait_until, RealRedis, Server};
use redis::Value as V;
use std::process::Command;
use std::time::Duration;

fn cmd(c: &mut redis::Connection, args: &[&str]) {
    q::<V>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

fn cmd_owned(c: &mut redis::Connection, args: Vec<String>) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    cmd(c, &refs);
}

/// Every type in its small and large encodings, integers, long and compressible strings,
/// expiries, and keys in two databases.
fn fill(c: &mut redis::Connection) {
    cmd(c, &["SET", "s", "hello"]);
    cmd(c, &["SET", "n", "12345"]);
    cmd(c, &["SET", "neg", "-70000"]);
    cmd(c, &["SET", "i64", "-9223372036854775808"]);
    cmd(c, &["SET", "compressible", &"abc".repeat(200)]);
    let noise: String = (0..120u32)
        .map(|i| (b'!' + ((i.wrapping_mul(2_654_435_761) >> 7) % 90) as u8) as char)
        .collect();
    cmd(c, &["SET", "noise", &noise]);
    cmd(c, &["SET", "e", "v", "EX", "1000"]);
    cmd(c, &["HSET", "h", "a", "1", "b", "two"]);
    let mut big_h = vec!["HSET".to_string(), "bigh".into()];
    let mut big_z = vec!["ZADD".to_string(), "bigz".into()];
    let mut big_s = vec!["SADD".to_string(), "bigs".into()];
    let mut big_i = vec!["SADD".to_string(), "bigi".into()];
    let mut big_l = vec!["RPUSH".to_string(), "bigl".into()];
    for i in 0..600 {
        big_h.extend([format!("f{i}"), format!("{}x", "v".repeat(i % 70))]);
        big_z.extend([format!("{}", i as f64 / 7.0), format!("m{i}")]);
        big_s.push(format!("mem{i}"));
        big_i.push(format!("{}", i as i64 * 1_000_003 - 300_000_000));
    }
    for i in 0..3000 {
        big_l.push(format!("e{i}"));
    }
    for a in [big_h, big_z, big_s, big_i, big_l] {
        cmd_owned(c, a);
    }
    cmd(c, &["RPUSH", "l", "a", "b", "c", "1", "-2"]);
    cmd(c, &["RPUSH", "plainl", &"z".repeat(10_000), "x"]);
    cmd(c, &["SADD", "si", "1", "2", "3", "-5"]);
    cmd(c, &["SADD", "ss", "a", "b", "c"]);
    cmd(
        c,
        &["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "+inf", "d"],
    );
    cmd(c, &["HSET", "hv", "f", "v"]);
    cmd(c, &["PEXPIRE", "hv", "5000000"]);
    cmd(c, &["SELECT", "2"]);
    cmd(c, &["SET", "other", "x"]);
    cmd(c, &["SADD", "other-set", "q"]);
    cmd(c, &["SELECT", "0"]);
    cmd(c, &["DEBUG", "POPULATE", "1000"]);
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"]).unwrap()
}

fn copy_dump(from: &std::path::Path, tag: &str) -> std::path::PathBuf {
    let dir = temp_dir(tag);
    std::fs::copy(from.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    dir
}

#[test]
fn ringkv_dumps_pass_redis_check_rdb_and_load_into_redis() {
    if !have_tool("redis-server") || !have_tool("redis-check-rdb") {
        return;
    }
    let k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    fill(&mut kc);
    let want = digest(&mut kc);
    for compression in ["yes", "no"] {
        cmd(&mut kc, &["CONFIG", "SET", "rdbcompression", compression]);
        let before: i64 = q(&mut kc, &["LASTSAVE"]).unwrap();
        cmd(&mut kc, &["SET", "dirty", "1"]);
        cmd(&mut kc, &["DEL", "dirty"]);
        assert_eq!(q::<String>(&mut kc, &["SAVE"]).unwrap(), "OK");
        let info: String = q(&mut kc, &["INFO", "persistence"]).unwrap();
        assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
        assert!(q::<i64>(&mut kc, &["LASTSAVE"]).unwrap() >= before);
        let check = Command::new("redis-check-rdb")
            .arg(k.dir.join("dump.rdb"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&check.stdout).to_string();
        assert!(
            check.status.success() && text.contains("RDB looks OK"),
            "{text}"
        );

        let dir = copy_dump(&k.dir, "to-redis");
        let r = RealRedis::start_with(&["--dir", dir.to_str().unwrap()]);
        let mut rc = r.client();
        assert_eq!(digest(&mut rc), want, "rdbcompression {compression}");
        assert!(q::<i64>(&mut rc, &["TTL", "e"]).unwrap() > 900);
        drop(r);
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(k.log_text().contains("DB saved on disk"));
}

/// `redis-cli --rdb` (REPLCONF capa eof, REPLCONF rdb-only 1, then the old SYNC) backs up a
/// running server: the payload comes without a `+FULLRESYNC` line, in the `$EOF:` framing or
/// (with `repl-diskless-sync no`) with its length, and the connection closes after it. The
/// file passes redis-check-rdb and loads back to the same digest.
#[test]
fn redis_cli_rdb_backs_up_a_running_server() {
    if !have_tool("redis-cli") || !have_tool("redis-check-rdb") {
        return;
    }
    let k = Server::start(&[
        "--enable-debug-command",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let mut kc = k.client();
    fill(&mut kc);
    let want = digest(&mut kc);
    for diskless in ["yes", "no"] {
        cmd(&mut kc, &["CONFIG", "SET", "repl-diskless-sync", diskless]);
        let dir = temp_dir("cli-rdb");
        let file = dir.join("dump.rdb");
        let mut cli = Command::new("redis-cli")
            .args(["-p", &k.port.to_string(), "--rdb", file.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut status = None;
        let done = wait_until(Duration::from_secs(20), || {
            status = cli.try_wait().unwrap();
            status.is_some()
        });
        if !done {
            let _ = cli.kill();
        }
        let out = cli.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            done && status.unwrap().success(),
            "diskless {diskless}: {said}"
        );
        let check = Command::new("redis-check-rdb").arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&check.stdout).to_string();
        assert!(
            check.status.success() && text.contains("RDB looks OK"),
            "{text}"
        );
        let back = Server::start(&[
            "--dir",
            dir.to_str().unwrap(),
            "--enable-debug-command",
            "yes",
        ]);
        assert_eq!(digest(&mut back.client()), want, "diskless {diskless}");
        drop(back);
        let _ = std::fs::remove_dir_all(dir);
    }
    // The rdb-only connections are gone: they are no replicas.
    let ok = wait_until(Duration::from_secs(10), || {
        let info: String = q(&mut kc, &["INFO", "replication"]).unwrap();
        info.contains("connected_slaves:0\r\n")
    });
    assert!(ok, "an rdb-only replica stayed attached");
    assert!(k.log_text().contains("rdb only replica"));
}

#[test]
fn redis_dumps_load_into_ringkv() {
    if !have_tool("redis-server") {
        return;
    }
    let r = RealRedis::start();
    let mut rc = r.client();
    fill(&mut rc);
    let want = digest(&mut rc);
    assert_eq!(q::<String>(&mut rc, &["SAVE"]).unwrap(), "OK");
    let dir = copy_dump(&r.dir, "from-redis");
    let k = Server::start(&[
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    let mut kc = k.client();
    assert_eq!(digest(&mut kc), want);
    let log = k.log_text();
    assert!(log.contains("Loading RDB produced by version 7."), "{log}");
    assert!(
        log.contains("Done loading RDB, keys loaded: 1021, keys expired: 0."),
        "{log}"
    );
    assert_eq!(info_field(&mut kc, "rdb_last_load_keys_loaded"), "1021");
    for (key, enc) in [
        ("h", "listpack"),
        ("bigh", "hashtable"),
        ("si", "intset"),
        ("bigi", "hashtable"),
        ("z", "listpack"),
        ("bigz", "skiplist"),
    ] {
        assert_eq!(
            q::<String>(&mut kc, &["OBJECT", "ENCODING", key]).unwrap(),
            enc,
            "{key}"
        );
    }
    let pttl: i64 = q(&mut kc, &["PTTL", "hv"]).unwrap();
    assert!(pttl > 4_000_000 && pttl <= 5_000_000, "{pttl}");
    drop(k);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    fill(&mut kc);
    let want = digest(&mut kc);
    assert_eq!(q::<String>(&mut kc, &["DEBUG", "RELOAD"]).unwrap(), "OK");
    assert_eq!(digest(&mut kc), want);
    assert_eq!(q::<i64>(&mut kc, &["DBSIZE"]).unwrap(), 1019);
}

#[test]
fn dump_and_restore_agree_with_redis_both_ways() {
    let Some((r, k)) = common::real_and_ringkv(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let (mut rc, mut kc) = (r.client(), k.client());
    fill(&mut rc);
    fill(&mut kc);
    let keys = [
        "s",
        "n",
        "neg",
        "i64",
        "compressible",
        "noise",
        "h",
        "bigh",
        "bigz",
        "bigs",
        "bigi",
        "bigl",
        "l",
        "plainl",
        "si",
        "ss",
        "z",
    ];
    for key in keys {
        let from_redis: Vec<u8> = q(&mut rc, &["DUMP", key]).unwrap();
        let from_ringkv: Vec<u8> = q(&mut kc, &["DUMP", key]).unwrap();
        let copy = format!("{key}:copy");
        for (c, payload) in [(&mut kc, &from_redis), (&mut rc, &from_ringkv)] {
            let reply: String = redis::cmd("RESTORE")
                .arg(&copy)
                .arg(0)
                .arg(payload)
                .query(c)
                .unwrap();
            assert_eq!(reply, "OK");
        }
        let a: Vec<String> = q(&mut rc, &["DEBUG", "DIGEST-VALUE", key, &copy]).unwrap();
        let b: Vec<String> = q(&mut kc, &["DEBUG", "DIGEST-VALUE", key, &copy]).unwrap();
        assert_eq!(a[0], a[1], "{key} restored into redis from ringkv's DUMP");
        assert_eq!(b[0], b[1], "{key} restored into ringkv from redis's DUMP");
        assert_eq!(a, b, "{key}");
    }
    // Same replies for the options and the errors.
    let payload: Vec<u8> = q(&mut rc, &["DUMP", "s"]).unwrap();
    let mut bad = payload.clone();
    bad[1] ^= 0x40;
    let runs: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("busy", vec![b"s".to_vec(), b"0".to_vec(), payload.clone()]),
        (
            "replace",
            vec![
                b"s".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"REPLACE".to_vec(),
            ],
        ),
        (
            "negative ttl",
            vec![b"t1".to_vec(), b"-1".to_vec(), payload.clone()],
        ),
        (
            "bad ttl",
            vec![b"t1".to_vec(), b"x".to_vec(), payload.clone()],
        ),
        (
            "bad payload",
            vec![b"t1".to_vec(), b"0".to_vec(), bad.clone()],
        ),
        (
            "short payload",
            vec![b"t1".to_vec(), b"0".to_vec(), b"abc".to_vec()],
        ),
        (
            "idletime",
            vec![
                b"t2".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"IDLETIME".to_vec(),
                b"-1".to_vec(),
            ],
        ),
        (
            "freq",
            vec![
                b"t2".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"FREQ".to_vec(),
                b"256".to_vec(),
            ],
        ),
        (
            "both",
            vec![
                b"t2".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"FREQ".to_vec(),
                b"2".to_vec(),
                b"IDLETIME".to_vec(),
                b"2".to_vec(),
            ],
        ),
        (
            "syntax",
            vec![
                b"t2".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"NOPE".to_vec(),
            ],
        ),
        (
            "past absttl",
            vec![
                b"s".to_vec(),
                b"1000".to_vec(),
                payload.clone(),
                b"REPLACE".to_vec(),
                b"ABSTTL".to_vec(),
            ],
        ),
        (
            "ttl",
            vec![b"t3".to_vec(), b"5000".to_vec(), payload.clone()],
        ),
        (
            "idle",
            vec![
                b"t4".to_vec(),
                b"0".to_vec(),
                payload.clone(),
                b"IDLETIME".to_vec(),
                b"1000".to_vec(),
            ],
        ),
    ];
    for (name, args) in runs {
        let mut replies = Vec::new();
        for c in [&mut rc, &mut kc] {
            let mut command = redis::cmd("RESTORE");
            for a in &args {
                command.arg(a.as_slice());
            }
            replies.push(match command.query::<V>(c) {
                Ok(v) => format!("{v:?}"),
                Err(_) => err(command.query::<V>(c)),
            });
        }
        assert_eq!(replies[0], replies[1], "{name}");
    }
    for c in [&mut rc, &mut kc] {
        assert_eq!(
            q::<i64>(c, &["EXISTS", "s"]).unwrap(),
            0,
            "past ABSTTL deletes"
        );
        let pttl: i64 = q(c, &["PTTL", "t3"]).unwrap();
        assert!(pttl > 0 && pttl <= 5000, "{pttl}");
        assert!(q::<i64>(c, &["OBJECT", "IDLETIME", "t4"]).unwrap() >= 1000);
    }
}

#[test]
fn damaged_dumps_stop_the_start_with_the_offset() {
    let k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    fill(&mut kc);
    assert_eq!(q::<String>(&mut kc, &["SAVE"]).unwrap(), "OK");
    let good = std::fs::read(k.dir.join("dump.rdb")).unwrap();
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x01;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "truncated",
            good[..good.len() - 100].to_vec(),
            "Internal error in RDB reading offset",
        ),
        ("flipped", flipped, "Internal error in RDB reading offset"),
        ("signature", b"RADIS0010\xff".to_vec(), "wrong signature"),
        (
            "version",
            b"REDIS0099\xff".to_vec(),
            "can't handle RDB format version",
        ),
    ];
    for (name, bytes, expect) in cases {
        let dir = temp_dir(name);
        std::fs::write(dir.join("dump.rdb"), bytes).unwrap();
        let out = common::start_fails(&dir, &[]);
        assert!(out.contains(expect), "{name}: {out}");
        assert!(
            out.contains("Terminating server after rdb file reading failure."),
            "{name}: {out}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = q(c, &["INFO", "persistence"]).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} missing from {info}"))
        .trim()
        .to_string()
}

/// BGSAVE is a point-in-time cut across both threads' shards: writes, deletes, new keys and a
/// FLUSHALL racing the (slowed) save do not reach the file, and do reach the live data.
#[test]
fn bgsave_writes_the_cut_while_writes_race_it() {
    let k = Server::start(&["--enable-debug-command", "yes", "--threads", "2"]);
    let mut kc = k.client();
    let mut writer = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "20000"]);
    cmd(&mut kc, &["HSET", "h", "f", "v"]);
    cmd(&mut kc, &["SELECT", "1"]);
    cmd(&mut kc, &["SET", "in-db1", "x"]);
    cmd(&mut kc, &["SELECT", "0"]);
    let at_cut = digest(&mut kc);
    // 20000 keys at 50 µs each: about a second of saving, while the writes below race it.
    cmd(&mut kc, &["CONFIG", "SET", "rdb-key-save-delay", "50"]);
    assert_eq!(
        q::<String>(&mut kc, &["BGSAVE"]).unwrap(),
        "Background saving started"
    );
    assert_eq!(info_field(&mut kc, "rdb_bgsave_in_progress"), "1");
    assert_eq!(
        err(q(&mut kc, &["BGSAVE"])),
        "ERR Background save already in progress"
    );
    assert_eq!(
        err(q(&mut kc, &["SAVE"])),
        "ERR Background save already in progress"
    );
    let mut i = 0u32;
    let done = wait_until(Duration::from_secs(60), || {
        for _ in 0..50 {
            let key = format!("key:{}", (i * 7919) % 20000);
            cmd(&mut writer, &["SET", &key, "changed"]);
            cmd(
                &mut writer,
                &["DEL", &format!("key:{}", (i * 104_729) % 20000)],
            );
            cmd(&mut writer, &["SET", &format!("new:{i}"), "n"]);
            cmd(&mut writer, &["HSET", "h", &format!("f{i}"), "v"]);
            i += 1;
        }
        if i == 100 {
            cmd(&mut writer, &["FLUSHALL"]);
        }
        info_field(&mut kc, "rdb_bgsave_in_progress") == "0"
    });
    assert!(done, "the background save did not finish");
    assert!(i >= 50, "no write raced the save");
    assert_eq!(info_field(&mut kc, "rdb_last_bgsave_status"), "ok");
    assert_ne!(
        digest(&mut kc),
        at_cut,
        "the racing writes reached the live data"
    );
    assert!(k
        .log_text()
        .contains("Background saving terminated with success"));

    // The file holds the dataset as it was at the cut.
    let dir = copy_dump(&k.dir, "bgsave");
    let loaded = Server::start(&[
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(digest(&mut loaded.client()), at_cut);
    if have_tool("redis-check-rdb") {
        let check = Command::new("redis-check-rdb")
            .arg(dir.join("dump.rdb"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    drop(loaded);
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits for `k` to exit after `stop` and returns whether a dump was left in its directory.
/// A BGSAVE racing writes copies the records they change aside (no fork, no segment
/// serialized on the write path), and `rdb_last_cow_size` counts those copies: overwriting
/// 300 keys of 10 KB right after the cut shows megabytes, where the largest serialized chunk
/// (these values are zero-padded and compress to little) is tens of kilobytes.
#[test]
fn bgsave_reports_the_records_copied_aside_as_its_cow_size() {
    let k = Server::start(&["--enable-debug-command", "yes", "--threads", "1"]);
    let mut kc = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "2000", "key", "10000"]);
    cmd(&mut kc, &["CONFIG", "SET", "rdb-key-save-delay", "500"]);
    assert_eq!(
        q::<String>(&mut kc, &["BGSAVE"]).unwrap(),
        "Background saving started"
    );
    for i in 0..300 {
        cmd(&mut kc, &["SET", &format!("key:{i}"), "x"]);
    }
    assert!(wait_until(Duration::from_secs(30), || info_field(
        &mut kc,
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut kc, "rdb_last_bgsave_status"), "ok");
    let cow: u64 = info_field(&mut kc, "rdb_last_cow_size").parse().unwrap();
    assert!(cow > 1_000_000, "rdb_last_cow_size {cow}");
}

fn dump_after_exit(k: &mut Server, stop: impl FnOnce(&mut Server)) -> bool {
    stop(k);
    let mut exited = false;
    assert!(wait_until(Duration::from_secs(10), || {
        exited = exited || k.child.try_wait().unwrap().is_some();
        exited
    }));
    k.dir.join("dump.rdb").exists()
}

/// Redis's rule for the final save: SHUTDOWN SAVE always, SHUTDOWN NOSAVE never, otherwise
/// (SIGTERM, plain SHUTDOWN) when save points are configured. The saved data loads back.
#[test]
fn shutdown_saves_when_redis_would() {
    let sigterm = |k: &mut Server| {
        let _ = Command::new("kill").arg(k.pid().to_string()).status();
    };
    let shutdown = |how: &'static str| {
        move |k: &mut Server| {
            let mut c = k.client();
            let _ = q::<V>(&mut c, &["SHUTDOWN", how]);
        }
    };
    let mut k = Server::start(&["--save", "3600 1"]);
    cmd(&mut k.client(), &["SET", "kept", "yes"]);
    assert!(
        dump_after_exit(&mut k, sigterm),
        "SIGTERM with save points saves"
    );
    assert!(k
        .log_text()
        .contains("Saving the final RDB snapshot before exiting."));
    let dir = copy_dump(&k.dir, "final");
    let loaded = Server::start(&["--dir", dir.to_str().unwrap()]);
    assert_eq!(
        q::<String>(&mut loaded.client(), &["GET", "kept"]).unwrap(),
        "yes"
    );
    drop(loaded);
    let _ = std::fs::remove_dir_all(dir);

    let mut k = Server::start(&["--save", "3600 1"]);
    cmd(&mut k.client(), &["SET", "a", "1"]);
    assert!(
        !dump_after_exit(&mut k, shutdown("NOSAVE")),
        "SHUTDOWN NOSAVE"
    );
    let mut k = Server::start(&[]);
    cmd(&mut k.client(), &["SET", "a", "1"]);
    assert!(
        !dump_after_exit(&mut k, sigterm),
        "no save points: no final save"
    );
    let mut k = Server::start(&[]);
    cmd(&mut k.client(), &["SET", "a", "1"]);
    assert!(dump_after_exit(&mut k, shutdown("SAVE")), "SHUTDOWN SAVE");
}

/// A failed background save stops writes (and PING) with Redis's MISCONF text while save
/// points are configured, as redis-server does; reads still work; `save ""` lifts it.
#[test]
fn failed_bgsave_stops_writes_like_redis() {
    let Some((r, k)) = common::real_and_ringkv(&["--save", "3600 1"]) else {
        return;
    };
    let mut replies: Vec<Vec<String>> = Vec::new();
    for (mut c, dir) in [(r.client(), r.dir.clone()), (k.client(), k.dir.clone())] {
        if dir == r.dir {
            cmd(&mut c, &["CONFIG", "SET", "save", "3600 1"]);
        }
        cmd(&mut c, &["SET", "a", "1"]);
        // The working directory disappears: the save cannot create its file.
        std::fs::remove_dir_all(&dir).unwrap();
        let mut got = vec![q::<String>(&mut c, &["BGSAVE"]).unwrap()];
        assert!(wait_until(Duration::from_secs(10), || {
            info_field(&mut c, "rdb_last_bgsave_status") == "err"
                && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
        }));
        got.push(err(q(&mut c, &["SET", "a", "2"])));
        got.push(err(q(&mut c, &["PING"])));
        got.push(q::<String>(&mut c, &["GET", "a"]).unwrap());
        got.push(err(q(&mut c, &["SAVE"])));
        cmd(&mut c, &["CONFIG", "SET", "save", ""]);
        got.push(q::<String>(&mut c, &["SET", "a", "3"]).unwrap());
        std::fs::create_dir_all(&dir).unwrap();
        replies.push(got);
    }
    assert!(replies[0][1].starts_with("MISCONF "), "{:?}", replies[0]);
    assert_eq!(replies[0], replies[1]);
}

/// kill -9 in the middle of a background save leaves the previous dump as it was.
#[test]
fn kill_during_bgsave_keeps_the_previous_dump() {
    let mut k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "5000"]);
    assert_eq!(q::<String>(&mut kc, &["SAVE"]).unwrap(), "OK");
    let before = std::fs::read(k.dir.join("dump.rdb")).unwrap();
    let at_save = digest(&mut kc);
    cmd(&mut kc, &["DEBUG", "POPULATE", "20000", "other"]);
    // 25000 keys at 1 ms each: the save is still running when the process dies.
    cmd(&mut kc, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    assert_eq!(
        q::<String>(&mut kc, &["BGSAVE"]).unwrap(),
        "Background saving started"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_dir(&k.dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-")
        })
    }));
    assert_eq!(info_field(&mut kc, "rdb_bgsave_in_progress"), "1");
    k.child.kill().unwrap();
    k.child.wait().unwrap();
    assert_eq!(std::fs::read(k.dir.join("dump.rdb")).unwrap(), before);
    let dir = copy_dump(&k.dir, "after-kill");
    let loaded = Server::start(&[
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(digest(&mut loaded.client()), at_save);
    drop(loaded);
    let _ = std::fs::remove_dir_all(dir);
}

/// `save <seconds> <changes>` points start a background save from cron on two threads, like
/// Redis's serverCron, and the file holds the changes.
#[test]
fn save_points_trigger_background_saves() {
    let k = Server::start(&[
        "--save",
        "1 2",
        "--threads",
        "2",
        "--enable-debug-command",
        "yes",
    ]);
    let mut kc = k.client();
    cmd(&mut kc, &["SET", "first", "1"]);
    cmd(&mut kc, &["SET", "{x}second", "2"]);
    let want = digest(&mut kc);
    assert!(
        wait_until(Duration::from_secs(15), || {
            k.log_text()
                .contains("Background saving terminated with success")
        }),
        "no save point fired: {}",
        k.log_text()
    );
    assert!(k.log_text().contains("changes in 1 seconds. Saving..."));
    assert_eq!(info_field(&mut kc, "rdb_changes_since_last_save"), "0");
    assert!(info_field(&mut kc, "rdb_saves").parse::<u64>().unwrap() >= 1);
    let dir = copy_dump(&k.dir, "savepoint");
    let loaded = Server::start(&[
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(digest(&mut loaded.client()), want);
    drop(loaded);
    let _ = std::fs::remove_dir_all(dir);
}

/// BGSAVE SCHEDULE during a save runs another one after it; loads report their key counts.
#[test]
fn bgsave_schedule_and_load_counts() {
    let k = Server::start(&["--enable-debug-command", "yes", "--threads", "2"]);
    let mut kc = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "2000"]);
    cmd(&mut kc, &["CONFIG", "SET", "rdb-key-save-delay", "200"]);
    assert_eq!(
        q::<String>(&mut kc, &["BGSAVE"]).unwrap(),
        "Background saving started"
    );
    assert_eq!(
        q::<String>(&mut kc, &["BGSAVE", "SCHEDULE"]).unwrap(),
        "Background saving scheduled"
    );
    assert!(wait_until(Duration::from_secs(30), || {
        info_field(&mut kc, "rdb_saves") == "2"
            && info_field(&mut kc, "rdb_bgsave_in_progress") == "0"
    }));
    cmd(&mut kc, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    assert_eq!(q::<String>(&mut kc, &["DEBUG", "RELOAD"]).unwrap(), "OK");
    assert_eq!(info_field(&mut kc, "rdb_last_load_keys_loaded"), "2000");
    assert_eq!(info_field(&mut kc, "rdb_last_load_keys_expired"), "0");
}

/// `key-load-delay` holds a load open: DEBUG RELOAD of 300 keys at 2 ms per key cannot finish
/// in less than 0.6 s (a lower bound: sleeping never takes less than asked), and still loads
/// every key.
#[test]
fn key_load_delay_holds_the_load_open() {
    let k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "300"]);
    cmd(&mut kc, &["CONFIG", "SET", "key-load-delay", "2000"]);
    let started = std::time::Instant::now();
    cmd(&mut kc, &["DEBUG", "RELOAD"]);
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(q::<i64>(&mut kc, &["DBSIZE"]).unwrap(), 300);
}

/// While the start-up load runs (held open by `key-load-delay`), the server answers: INFO
/// reports `loading:1` with its progress, commands without Redis's `loading` flag (PING, GET,
/// SET, DBSIZE) get `-LOADING`, CONFIG GET works. When the load ends every key is there and
/// the same commands run.
#[test]
fn clients_get_loading_until_the_start_up_load_ends() {
    let k = Server::start(&["--enable-debug-command", "yes"]);
    let mut kc = k.client();
    cmd(&mut kc, &["DEBUG", "POPULATE", "3000"]);
    cmd(&mut kc, &["SAVE"]);
    let dir = copy_dump(&k.dir, "loading");
    drop(kc);
    drop(k);
    let l = Server::start_loading(&["--dir", dir.to_str().unwrap(), "--key-load-delay", "500"]);
    let mut lc = l.client();
    let info: String = q(&mut lc, &["INFO", "persistence"]).unwrap();
    assert!(info.contains("\r\nloading:1\r\n"), "{info}");
    for f in [
        "loading_start_time:",
        "loading_total_bytes:",
        "loading_loaded_perc:",
    ] {
        assert!(info.contains(f), "{f} missing: {info}");
    }
    for c in [
        &["PING"][..],
        &["GET", "key:1"],
        &["SET", "a", "1"],
        &["DBSIZE"],
    ] {
        let e = err(q::<redis::Value>(&mut lc, c));
        assert!(
            e.contains("LOADING") && e.contains("Redis is loading the dataset in memory"),
            "{c:?}: {e}"
        );
    }
    let port: Vec<String> = q(&mut lc, &["CONFIG", "GET", "port"]).unwrap();
    assert_eq!(port[1], l.port.to_string());
    assert!(wait_until(Duration::from_secs(30), || {
        q::<String>(&mut lc, &["INFO", "persistence"])
            .is_ok_and(|i| i.contains("\r\nloading:0\r\n"))
    }));
    assert_eq!(q::<i64>(&mut lc, &["DBSIZE"]).unwrap(), 3000);
    assert_eq!(q::<String>(&mut lc, &["GET", "key:1"]).unwrap(), "value:1");
    assert_eq!(q::<String>(&mut lc, &["PING"]).unwrap(), "PONG");
    let log = l.log_text();
    let done = log.find("DB loaded from disk").expect("load logged");
    let ready = log
        .find("Ready to accept connections")
        .expect("ready logged");
    assert!(done < ready, "{log}");
    let _ = std::fs::remove_dir_all(dir);
}

/// SHUTDOWN during the start-up load (here of the AOF) stops the load and exits at once,
/// without the final save its save points would otherwise ask for (the dataset is partial);
/// the AOF is left intact and loads completely on the next start.
#[test]
fn shutdown_during_the_start_up_load_stops_it_without_saving() {
    let dir = temp_dir("aof-loading");
    let d = dir.to_str().unwrap();
    let mut k = Server::start(&["--dir", d, "--appendonly", "yes"]);
    let mut kc = k.client();
    for i in 0..2000 {
        cmd(&mut kc, &["SET", &format!("k{i}"), "v"]);
    }
    let _ = q::<V>(&mut kc, &["SHUTDOWN", "NOSAVE"]);
    assert!(wait_until(Duration::from_secs(10), || k
        .child
        .try_wait()
        .unwrap()
        .is_some()));
    // 2000 keys at 5 ms each: the load cannot end in less than 10 s.
    let args = ["--dir", d, "--appendonly", "yes", "--save", "60 1"];
    let mut slow = args.to_vec();
    slow.extend(["--key-load-delay", "5000"]);
    let mut l = Server::start_loading(&slow);
    let mut lc = l.client();
    let info: String = q(&mut lc, &["INFO", "persistence"]).unwrap();
    assert!(info.contains("\r\nloading:1\r\n"), "{info}");
    assert!(err(q::<V>(&mut lc, &["GET", "k1"])).contains("LOADING"));
    let _ = q::<V>(&mut lc, &["SHUTDOWN"]);
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(5), || {
            status = l.child.try_wait().unwrap();
            status.is_some()
        }),
        "SHUTDOWN did not stop the load"
    );
    assert!(status.unwrap().success());
    assert!(l.log_text().contains("Loading stopped"), "{}", l.log_text());
    assert!(!dir.join("dump.rdb").exists(), "saved a partial dataset");
    let r = Server::start(&args);
    assert_eq!(q::<i64>(&mut r.client(), &["DBSIZE"]).unwrap(), 2000);
    drop(r);
    let _ = std::fs::remove_dir_all(dir);
}
