//! INFO and DEBUG: sections and fields, keyspace counts across shards, DEBUG SLEEP / POPULATE /
//! OBJECT / DIGEST, the enable-debug-command gate, and digests equal to a real redis-server's.

mod common;

use common::{have_tool, wait_until, RealRedis, Server};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const DEBUG_ON: &[&str] = &["--threads", "2", "--enable-debug-command", "yes"];

fn info(c: &mut redis::Connection, sections: &[&str]) -> String {
    redis::cmd("INFO").arg(sections).query(c).unwrap()
}

/// The `name:value` fields of an INFO text.
fn fields(text: &str) -> HashMap<String, String> {
    text.split("\r\n")
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn headers(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

fn cmd_str(c: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<String> {
    redis::cmd(args[0]).arg(&args[1..]).query(c)
}

fn err_text(r: redis::RedisResult<String>) -> String {
    let e = r.expect_err("expected an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

#[test]
fn info_sections_and_format() {
    let srv = Server::start(DEBUG_ON);
    let mut c = srv.client();
    let all = info(&mut c, &[]);
    assert_eq!(
        headers(&all),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(all.ends_with("\r\n"));
    assert!(!all.replace("\r\n", "").contains('\n'), "bare LF in INFO");
    assert!(
        all.contains("\r\n\r\n# Clients\r\n"),
        "sections are separated by a blank line"
    );
    assert_eq!(headers(&info(&mut c, &["default"])), headers(&all));
    // `everything` adds what the default leaves out: the command statistics.
    let mut everything = headers(&all);
    everything.insert(8, "# Commandstats");
    everything.insert(9, "# Errorstats");
    everything.insert(10, "# Latencystats");
    assert_eq!(headers(&info(&mut c, &["everything"])), everything);

    // Selection: case-insensitive, several at once, always in Redis's order.
    let two = info(&mut c, &["KEYSPACE", "server"]);
    assert_eq!(headers(&two), ["# Server", "# Keyspace"]);
    assert!(two.starts_with("# Server\r\nredis_version:7.0.15\r\n"));
    assert_eq!(
        info(&mut c, &["cluster"]),
        "# Cluster\r\ncluster_enabled:0\r\n"
    );
    assert_eq!(info(&mut c, &["modules"]), "# Modules\r\n");
    assert_eq!(info(&mut c, &["nosuchsection"]), "");
    assert_eq!(headers(&info(&mut c, &["nosuch", "cpu"])), ["# CPU"]);

    let f = fields(&all);
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["arch_bits"], "64");
    assert_eq!(f["multiplexing_api"], "io_uring");
    assert_eq!(f["process_id"], srv.pid().to_string());
    assert_eq!(f["tcp_port"], srv.port.to_string());
    assert_eq!(f["threads"], "2");
    assert_eq!(f["run_id"].len(), 40);
    assert!(f["os"].starts_with("Linux "));
    assert_eq!(f["role"], "master");
    assert_eq!(f["master_replid"].len(), 40);
    assert!(f["master_replid"].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(f["master_replid2"], "0".repeat(40));
    assert_eq!(f["second_repl_offset"], "-1");
    assert_eq!(f["mem_allocator"], "mimalloc");
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert_eq!(f["maxclients"], "10000");
    assert_eq!(f["connected_clients"], "1");
    assert_eq!(f["aof_enabled"], "0");
    assert_eq!(f["loading"], "0");
    assert_eq!(f["rdb_last_bgsave_status"], "ok");
    assert!(f["used_memory"].parse::<u64>().unwrap() > 0);
    assert!(f["used_cpu_user"].contains('.'));
    for name in [
        "uptime_in_seconds",
        "server_time_usec",
        "lru_clock",
        "total_net_input_bytes",
    ] {
        assert!(f[name].parse::<u64>().is_ok(), "{name}={}", f[name]);
    }
    // The replication id is fixed for the life of the process.
    assert_eq!(
        fields(&info(&mut c, &["replication"]))["master_replid"],
        f["master_replid"]
    );
}

#[test]
fn info_is_verbatim_in_resp3() {
    let srv = Server::start(DEBUG_ON);
    let mut s = srv.raw();
    s.write_all(b"HELLO 3\r\n").unwrap();
    // Skip the HELLO map, then read the INFO reply.
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        let n = s.read(&mut buf).unwrap_or(0);
        got.extend_from_slice(&buf[..n]);
        got.windows(6).any(|w| w == b"master")
    }));
    s.write_all(b"INFO cluster\r\nINFO nosuch\r\n").unwrap();
    let want = b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n=4\r\ntxt:\r\n";
    let mut reply = Vec::new();
    assert!(wait_until(Duration::from_secs(5), || {
        let n = s.read(&mut buf).unwrap_or(0);
        reply.extend_from_slice(&buf[..n]);
        reply.len() >= want.len()
    }));
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(want)
    );
}

#[test]
fn info_counts_keys_and_stats_across_shards() {
    let srv = Server::start(DEBUG_ON);
    let mut c = srv.client();
    let before = fields(&info(&mut c, &["stats"]));
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..10 {
        let _: () = redis::cmd("SET")
            .arg(format!("v{i}"))
            .arg("x")
            .arg("EX")
            .arg(1000)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    for i in 0..7 {
        let _: () = redis::cmd("SET")
            .arg(format!("d3:{i}"))
            .arg("y")
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    assert_eq!(
        info(&mut c, &["keyspace"]),
        "# Keyspace\r\ndb0:keys=110,expires=10,avg_ttl=0\r\ndb3:keys=7,expires=0,avg_ttl=0\r\n"
    );
    // Hits and misses on both shards.
    for i in 0..20 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("k{i}"))
            .query(&mut c)
            .unwrap();
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("missing{i}"))
            .query(&mut c)
            .unwrap();
    }
    let _ = cmd_str(&mut c, &["INCR", "v0"]);
    let after = fields(&info(&mut c, &[]));
    let n = |m: &HashMap<String, String>, k: &str| m[k].parse::<i64>().unwrap();
    assert!(n(&after, "total_commands_processed") >= n(&before, "total_commands_processed") + 160);
    assert_eq!(n(&after, "keyspace_hits") - n(&before, "keyspace_hits"), 20);
    assert_eq!(
        n(&after, "keyspace_misses") - n(&before, "keyspace_misses"),
        20
    );
    assert!(n(&after, "rdb_changes_since_last_save") >= 117);
    assert!(n(&after, "total_error_replies") >= 1);
    assert!(n(&after, "total_net_input_bytes") > n(&before, "total_net_input_bytes"));
    // Each INFO counts the commands before it.
    let a = n(
        &fields(&info(&mut c, &["stats"])),
        "total_commands_processed",
    );
    let b = n(
        &fields(&info(&mut c, &["stats"])),
        "total_commands_processed",
    );
    assert_eq!(b, a + 1);

    // An expired key is counted in expired_keys once it is deleted.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg(1)
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        let _: Option<String> = redis::cmd("GET").arg("short").query(&mut c).unwrap();
        n(&fields(&info(&mut c, &["stats"])), "expired_keys") >= 1
    }));
}

#[test]
fn debug_sleep_populate_object() {
    let srv = Server::start(DEBUG_ON);
    let mut c = srv.client();
    assert_eq!(cmd_str(&mut c, &["DEBUG", "SLEEP", "0"]).unwrap(), "OK");
    let t = Instant::now();
    assert_eq!(cmd_str(&mut c, &["DEBUG", "SLEEP", "0.2"]).unwrap(), "OK");
    assert!(t.elapsed() >= Duration::from_millis(190));
    // Like strtod without checks: junk reads as 0, a numeric prefix counts.
    assert_eq!(cmd_str(&mut c, &["DEBUG", "SLEEP", "abc"]).unwrap(), "OK");
    assert_eq!(cmd_str(&mut c, &["DEBUG", "SLEEP", "-1"]).unwrap(), "OK");
    assert_eq!(
        cmd_str(&mut c, &["debug", "set-active-expire", "1"]).unwrap(),
        "OK"
    );

    let _: () = redis::cmd("SET")
        .arg("key:5")
        .arg("mine")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        cmd_str(&mut c, &["DEBUG", "POPULATE", "1000"]).unwrap(),
        "OK"
    );
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1000);
    let v: String = redis::cmd("GET").arg("key:5").query(&mut c).unwrap();
    assert_eq!(v, "mine", "existing keys are skipped");
    let v: String = redis::cmd("GET").arg("key:999").query(&mut c).unwrap();
    assert_eq!(v, "value:999");
    assert_eq!(
        cmd_str(&mut c, &["DEBUG", "POPULATE", "3", "p", "10"]).unwrap(),
        "OK"
    );
    let v: Vec<u8> = redis::cmd("GET").arg("p:2").query(&mut c).unwrap();
    assert_eq!(v, b"value:2\0\0\0");
    assert_eq!(
        cmd_str(&mut c, &["DEBUG", "POPULATE", "2", "q", "3"]).unwrap(),
        "OK"
    );
    let v: String = redis::cmd("GET").arg("q:1").query(&mut c).unwrap();
    assert_eq!(v, "val");
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1005);
    // Keys spread over both shards: the keyspace section sums them.
    assert!(info(&mut c, &["keyspace"]).contains("db0:keys=1005,expires=0,"));
    for bad in [&["-1"][..], &["abc"], &["1", "p", "-5"], &["1", "p", "x"]] {
        let mut args = vec!["DEBUG", "POPULATE"];
        args.extend_from_slice(bad);
        assert_eq!(
            err_text(cmd_str(&mut c, &args)),
            "ERR value is out of range, must be positive"
        );
    }

    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("hello")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("i")
        .arg(123456)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("small").arg(5).query(&mut c).unwrap();
    let line = cmd_str(&mut c, &["DEBUG", "OBJECT", "s"]).unwrap();
    assert!(line.starts_with("Value at:0x"), "{line}");
    assert!(
        line.contains(" refcount:1 encoding:embstr serializedlength:6 lru:"),
        "{line}"
    );
    assert!(line.contains(" lru_seconds_idle:"), "{line}");
    let line = cmd_str(&mut c, &["DEBUG", "OBJECT", "i"]).unwrap();
    assert!(
        line.contains(" refcount:1 encoding:int serializedlength:5 "),
        "{line}"
    );
    let line = cmd_str(&mut c, &["DEBUG", "OBJECT", "small"]).unwrap();
    assert!(
        line.contains(" refcount:2147483647 encoding:int serializedlength:2 "),
        "{line}"
    );
    assert_eq!(
        err_text(cmd_str(&mut c, &["DEBUG", "OBJECT", "nokey"])),
        "ERR no such key"
    );

    for (args, name) in [
        (&["DEBUG", "nosuch"][..], "nosuch"),
        (&["DEBUG", "OBJECT"], "OBJECT"),
        (&["DEBUG", "SLEEP"], "SLEEP"),
        (&["DEBUG", "digest", "x"], "digest"),
        (&["DEBUG", "POPULATE", "1", "a", "1", "x"], "POPULATE"),
    ] {
        assert_eq!(
            err_text(cmd_str(&mut c, args)),
            format!(
                "ERR unknown subcommand or wrong number of arguments for '{name}'. Try DEBUG HELP."
            )
        );
    }
    assert_eq!(
        err_text(cmd_str(&mut c, &["DEBUG"])),
        "ERR wrong number of arguments for 'debug' command"
    );
}

#[test]
fn debug_digest_basics() {
    let srv = Server::start(DEBUG_ON);
    let mut c = srv.client();
    let zeros = "0".repeat(40);
    assert_eq!(cmd_str(&mut c, &["DEBUG", "DIGEST"]).unwrap(), zeros);
    let v: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg("nokey")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, std::slice::from_ref(&zeros));
    let v: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .query(&mut c)
        .unwrap();
    assert!(v.is_empty());
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let d1 = cmd_str(&mut c, &["DEBUG", "DIGEST"]).unwrap();
    assert_ne!(d1, zeros);
    // The same value in another database gives another digest; moving it back restores it.
    let _: () = redis::cmd("DEL").arg("a").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let d2 = cmd_str(&mut c, &["DEBUG", "DIGEST"]).unwrap();
    assert_ne!(d2, d1);
    let _: () = redis::cmd("DEL").arg("a").query(&mut c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    assert_eq!(cmd_str(&mut c, &["DEBUG", "DIGEST"]).unwrap(), d1);
}

#[test]
fn debug_gate_follows_enable_debug_command() {
    let srv = Server::start(&["--threads", "2", "--enable-debug-command", "no"]);
    let mut c = srv.client();
    assert_eq!(
        err_text(cmd_str(&mut c, &["DEBUG", "DIGEST"])),
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
         you can run it from a local connection, otherwise you need to set this option in the \
         configuration file, and then restart the server."
    );
    drop(srv);
    let srv = Server::start(&["--threads", "2", "--enable-debug-command", "local"]);
    let mut c = srv.client();
    assert_eq!(
        cmd_str(&mut c, &["DEBUG", "DIGEST"]).unwrap(),
        "0".repeat(40)
    );
}

/// The same dataset on both servers: integers (shared and not), short, long, binary and empty
/// strings, values that look numeric but are not canonical, keys with and without expiry, in
/// several databases.
fn write_dataset(c: &mut redis::Connection) {
    let binary: Vec<u8> = (0..=255u8).collect();
    let long = "L".repeat(5000);
    let values: Vec<(String, Vec<u8>)> = vec![
        ("int0".into(), b"0".to_vec()),
        ("int5".into(), b"5".to_vec()),
        ("neg".into(), b"-7".to_vec()),
        ("int9999".into(), b"9999".to_vec()),
        ("int10000".into(), b"10000".to_vec()),
        ("max".into(), i64::MAX.to_string().into_bytes()),
        ("min".into(), i64::MIN.to_string().into_bytes()),
        ("lead0".into(), b"007".to_vec()),
        ("plus".into(), b"+1".to_vec()),
        ("short".into(), b"hello".to_vec()),
        ("emb44".into(), "e".repeat(44).into_bytes()),
        ("raw45".into(), "r".repeat(45).into_bytes()),
        ("long".into(), long.into_bytes()),
        ("bin".into(), binary.clone()),
        ("empty".into(), Vec::new()),
        ("float".into(), b"3.14".to_vec()),
    ];
    for db in [0, 1, 5, 15] {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        for (k, v) in &values {
            let _: () = redis::cmd("SET")
                .arg(format!("{k}:{db}"))
                .arg(v)
                .query(c)
                .unwrap();
        }
        for i in 0..50 {
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("ttl:{i}")).arg(i * 3);
            if i % 2 == 0 {
                cmd.arg("EX").arg(10_000);
            }
            let _: () = cmd.query(c).unwrap();
        }
        let _: () = redis::cmd("SET")
            .arg(&binary[..])
            .arg("binary key")
            .query(c)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

fn digests(c: &mut redis::Connection) -> (String, Vec<String>) {
    let all = cmd_str(c, &["DEBUG", "DIGEST"]).unwrap();
    let per: Vec<String> = redis::cmd("DEBUG")
        .arg("DIGEST-VALUE")
        .arg(&[
            "int5:0", "max:0", "lead0:0", "long:0", "bin:0", "empty:0", "ttl:0", "ttl:1", "nokey",
        ])
        .query(c)
        .unwrap();
    (all, per)
}

#[test]
fn digest_matches_real_redis() {
    if !have_tool("redis-server") {
        return;
    }
    let real = RealRedis::start();
    let srv = Server::start(DEBUG_ON);
    let mut r = real.client();
    let mut k = srv.client();
    write_dataset(&mut r);
    write_dataset(&mut k);
    let (rd, rv) = digests(&mut r);
    let (kd, kv) = digests(&mut k);
    assert_ne!(rd, "0".repeat(40));
    assert_eq!(kd, rd, "DEBUG DIGEST differs from redis-server");
    assert_eq!(kv, rv, "DEBUG DIGEST-VALUE differs from redis-server");

    // A changed value, a removed expiry and a populated batch: still equal, and different from
    // before.
    for c in [&mut r, &mut k] {
        let _: () = redis::cmd("SET")
            .arg("short:0")
            .arg("hellO")
            .query(c)
            .unwrap();
        let _: () = redis::cmd("PERSIST").arg("ttl:0").query(c).unwrap();
        let _: () = redis::cmd("SELECT").arg(7).query(c).unwrap();
        let _: String = redis::cmd("DEBUG")
            .arg("POPULATE")
            .arg(300)
            .arg("pop")
            .arg(20)
            .query(c)
            .unwrap();
        let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    }
    let (rd2, rv2) = digests(&mut r);
    let (kd2, kv2) = digests(&mut k);
    assert_ne!(rd2, rd);
    assert_ne!(rv2, rv, "ttl:0 lost its expiry");
    assert_eq!(kd2, rd2);
    assert_eq!(kv2, rv2);
    // Emptied, both are 40 zeros again.
    for c in [&mut r, &mut k] {
        let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
        assert_eq!(cmd_str(c, &["DEBUG", "DIGEST"]).unwrap(), "0".repeat(40));
    }
}

/// INFO commandstats, as Redis counts: calls and time of commands that ran (on any thread),
/// `failed_calls` for those that replied an error, `rejected_calls` for those refused before
/// running (here a wrong arity); INFO errorstats counts the error replies by their first word;
/// INFO latencystats gives the percentiles of `latency-tracking-info-percentiles`; CONFIG
/// RESETSTAT zeroes them. None is in the default sections.
#[test]
fn commandstats_count_calls_failures_and_rejections() {
    let k = Server::start(DEBUG_ON);
    let mut c = k.client();
    for key in ["a", "b", "c", "d"] {
        cmd_str(&mut c, &["SET", key, "1"]).unwrap();
    }
    cmd_str(&mut c, &["GET", "a"]).unwrap();
    assert!(err_text(cmd_str(&mut c, &["LPUSH", "a", "x"])).contains("WRONGTYPE"));
    assert!(err_text(cmd_str(&mut c, &["GET"])).contains("wrong number of arguments"));
    let f = fields(&info(&mut c, &["commandstats"]));
    let set = &f["cmdstat_set"];
    assert!(set.starts_with("calls=4,usec="), "{set}");
    assert!(set.ends_with(",rejected_calls=0,failed_calls=0"), "{set}");
    assert!(f["cmdstat_get"].starts_with("calls=1,"), "{f:?}");
    assert!(
        f["cmdstat_get"].ends_with(",rejected_calls=1,failed_calls=0"),
        "{f:?}"
    );
    assert!(
        f["cmdstat_lpush"].ends_with(",rejected_calls=0,failed_calls=1"),
        "{f:?}"
    );
    assert!(!f.contains_key("cmdstat_hset"));
    assert!(!headers(&info(&mut c, &[])).contains(&"# Commandstats"));
    assert!(headers(&info(&mut c, &["all"])).contains(&"# Commandstats"));
    // Latencystats: the configured percentiles of each command's run time, in µs.
    let l = fields(&info(&mut c, &["latencystats"]));
    let set = &l["latency_percentiles_usec_set"];
    let keys: Vec<&str> = set
        .split(',')
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(keys, ["p50", "p99", "p99.9"], "{set}");
    cmd_str(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 90",
        ],
    )
    .unwrap();
    let l = fields(&info(&mut c, &["latencystats"]));
    assert!(
        l["latency_percentiles_usec_get"].starts_with("p50="),
        "{l:?}"
    );
    assert!(l["latency_percentiles_usec_get"].contains(",p90="), "{l:?}");
    cmd_str(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]).unwrap();
    assert!(fields(&info(&mut c, &["latencystats"])).is_empty());
    cmd_str(&mut c, &["CONFIG", "SET", "latency-tracking", "yes"]).unwrap();
    // Errorstats: by the first word of each error reply, refused or failed.
    let e = fields(&info(&mut c, &["errorstats"]));
    assert_eq!(e["errorstat_WRONGTYPE"], "count=1", "{e:?}");
    assert_eq!(e["errorstat_ERR"], "count=1", "{e:?}");
    assert_eq!(cmd_str(&mut c, &["CONFIG", "RESETSTAT"]).unwrap(), "OK");
    let f = fields(&info(
        &mut c,
        &["commandstats", "errorstats", "latencystats"],
    ));
    assert!(!f.contains_key("cmdstat_set"), "{f:?}");
    assert!(!f.contains_key("latency_percentiles_usec_set"), "{f:?}");
    // Subcommands are counted apart, as Redis 7 names them.
    redis::cmd("CONFIG")
        .arg(&["GET", "port"])
        .query::<redis::Value>(&mut c)
        .unwrap();
    let f = fields(&info(&mut c, &["commandstats"]));
    assert!(f["cmdstat_config|get"].starts_with("calls=1,"), "{f:?}");
    assert!(f.contains_key("cmdstat_config|resetstat"), "{f:?}");
    assert!(!f.contains_key("cmdstat_config"), "{f:?}");
    assert!(!f.contains_key("errorstat_ERR"), "{f:?}");
}

/// LATENCY HISTOGRAM: per command named (unknown names ignored), its calls and the cumulative
/// count of runs at or under each power-of-two step of µs, growing to the number of calls.
#[test]
fn latency_histogram_is_cumulative_per_command() {
    let k = Server::start(DEBUG_ON);
    let mut c = k.client();
    for i in 0..50 {
        cmd_str(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
    }
    let v: redis::Value = redis::cmd("LATENCY")
        .arg(&["HISTOGRAM", "set", "nosuch"])
        .query(&mut c)
        .unwrap();
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::Int(n) => n.to_string(),
        other => format!("{other:?}"),
    };
    let redis::Value::Array(top) = v else {
        panic!("{v:?}");
    };
    assert_eq!(top.len(), 2, "{top:?}");
    assert_eq!(text(&top[0]), "set");
    let redis::Value::Array(fields) = &top[1] else {
        panic!("{top:?}");
    };
    assert_eq!(text(&fields[0]), "calls");
    assert_eq!(text(&fields[1]), "50");
    assert_eq!(text(&fields[2]), "histogram_usec");
    let redis::Value::Array(steps) = &fields[3] else {
        panic!("{fields:?}");
    };
    let pairs: Vec<(i64, i64)> = steps
        .chunks(2)
        .map(|p| (text(&p[0]).parse().unwrap(), text(&p[1]).parse().unwrap()))
        .collect();
    assert!(!pairs.is_empty());
    assert!(
        pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
        "{pairs:?}"
    );
    assert_eq!(pairs.last().unwrap().1, 50, "{pairs:?}");
}
