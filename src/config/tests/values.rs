//! Defaults, value parsing, CONFIG SET and CONFIG GET.

use super::*;

#[test]
fn defaults() {
    let c = Config::new();
    assert_eq!(c.port, 6379);
    assert_eq!(c.bind, vec!["*", "-::*"]);
    assert!(c.protected_mode);
    assert_eq!(
        (c.tcp_backlog, c.timeout_s, c.tcp_keepalive_s),
        (511, 0, 300)
    );
    assert!(!c.daemonize && !c.always_show_logo);
    assert_eq!(c.pidfile, "");
    assert_eq!(c.pidfile_path(), None);
    assert_eq!(c.loglevel, LogLevel::Notice);
    assert_eq!(
        (c.logfile.as_str(), c.databases, c.dbfilename.as_str()),
        ("", 16, "dump.rdb")
    );
    assert_eq!(c.save_points, vec![(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(c.requirepass, None);
    assert_eq!((c.maxclients, c.hz, c.threads), (10000, 10, 0));
    assert_eq!(
        (c.proto_max_bulk_len, c.client_query_buffer_limit),
        (512 << 20, 1 << 30)
    );
    assert_eq!(
        c.client_output_buffer_limit_normal,
        OutputLimit {
            hard_bytes: 0,
            soft_bytes: 0,
            soft_seconds: 0
        }
    );
    assert_eq!(
        c.client_output_buffer_limit_replica,
        OutputLimit {
            hard_bytes: 256 << 20,
            soft_bytes: 64 << 20,
            soft_seconds: 60
        }
    );
    assert_eq!(
        c.client_output_buffer_limit_pubsub,
        OutputLimit {
            hard_bytes: 32 << 20,
            soft_bytes: 8 << 20,
            soft_seconds: 60
        }
    );
    assert_eq!(c.enable_debug_command, DebugCmd::No);
    assert_eq!(
        (
            c.slowlog_log_slower_than_us,
            c.slowlog_max_len,
            c.latency_monitor_threshold_ms
        ),
        (10000, 128, 0)
    );
    assert_eq!(
        (c.maxmemory_bytes, c.mode, c.replicaof.clone()),
        (0, Mode::Server, None)
    );
    assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "bind"), "* -::*");
    assert_eq!(get1(&c, "proto-max-bulk-len"), "536870912");
    assert_eq!(get1(&c, "protected-mode"), "yes");
    assert_eq!(get1(&c, "replicaof"), "");
    assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "50 99 99.9");
    assert_eq!(get1(&c, "oom-score-adj-values"), "0 200 800");
    assert_eq!(get1(&c, "shutdown-on-sigterm"), "default");
    assert_eq!(get1(&c, "unixsocketperm"), "0");
    assert_eq!(get1(&c, "maxmemory-policy"), "noeviction");
    assert_eq!(get1(&c, "list-max-listpack-size"), "-2");
    assert_eq!(c.get_enum("appendfsync"), Some("everysec"));
    assert_eq!(c.get_int("repl-backlog-size"), Some(1 << 20));
    assert_eq!(c.get_bool("appendonly"), Some(false));
    assert_eq!(c.get_str("masterauth"), None);
    // Loading with no arguments at all gives the same thing.
    assert_eq!(
        load(&[]).unwrap().get_matching(b"*").len(),
        c.get_matching(b"*").len()
    );
}

#[test]
fn memory_units_and_numbers() {
    let c = load_text(
        "maxmemory 2GB\nproto-max-bulk-len 2m\nclient-query-buffer-limit 1024kb\nhash-max-listpack-value 1k\n\
         client-output-buffer-limit replica 1gb 512mb 30 pubsub 1 2 3\nmaxmemory-clients 10%\nhz 1000\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.maxmemory_bytes, 2 << 30);
    assert_eq!(c.proto_max_bulk_len, 2_000_000);
    assert_eq!(c.client_query_buffer_limit, 1 << 20);
    assert_eq!(get1(&c, "hash-max-listpack-value"), "1000");
    assert_eq!(
        c.client_output_buffer_limit_replica,
        OutputLimit {
            hard_bytes: 1 << 30,
            soft_bytes: 512 << 20,
            soft_seconds: 30
        }
    );
    assert_eq!(
        c.client_output_buffer_limit_pubsub,
        OutputLimit {
            hard_bytes: 1,
            soft_bytes: 2,
            soft_seconds: 3
        }
    );
    assert_eq!(get1(&c, "maxmemory-clients"), "10%");
    assert_eq!(c.hz, 500);
    assert_eq!(get1(&c, "hz"), "500");
    let e = load_text("proto-max-bulk-len 1k\n", &[]).unwrap_err();
    assert!(e
        .message
        .ends_with("argument must be between 1048576 and 9223372036854775807 inclusive\n"));
}

#[test]
fn config_set_errors() {
    let mut c = Config::new();
    let fail = |name: &str, why: &str| {
        format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    assert_eq!(
        c.set("foo", "1").unwrap_err(),
        "Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        c.set("DAEMONIZE", "yes").unwrap_err(),
        fail("DAEMONIZE", "can't set immutable config")
    );
    assert_eq!(
        c.set("slaveof", "no one").unwrap_err(),
        fail("slaveof", "can't set immutable config")
    );
    assert_eq!(
        c.set("dir", "/tmp").unwrap_err(),
        fail("dir", "can't set protected config")
    );
    assert_eq!(
        c.set("dbfilename", "x.rdb").unwrap_err(),
        fail("dbfilename", "can't set protected config")
    );
    assert_eq!(
        c.set("PORT", "abc").unwrap_err(),
        fail("port", "argument couldn't be parsed into an integer")
    );
    assert_eq!(
        c.set("port", "01").unwrap_err(),
        fail("port", "argument couldn't be parsed into an integer")
    );
    assert_eq!(
        c.set("slave-priority", "x").unwrap_err(),
        fail(
            "slave-priority",
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        c.set("protected-mode", "maybe").unwrap_err(),
        fail("protected-mode", "argument must be 'yes' or 'no'")
    );
    assert_eq!(
        c.set("timeout", "-1").unwrap_err(),
        fail(
            "timeout",
            "argument must be between 0 and 2147483647 inclusive"
        )
    );
    assert_eq!(
        c.set("maxclients", "-1").unwrap_err(),
        fail(
            "maxclients",
            "argument must be between 1 and 4294967295 inclusive"
        )
    );
    assert_eq!(
        c.set("maxmemory", "1.5gb").unwrap_err(),
        fail("maxmemory", "argument must be a memory value")
    );
    assert_eq!(
        c.set("maxmemory-clients", "200%").unwrap_err(),
        fail(
            "maxmemory-clients",
            "percentage argument must be less or equal to 100"
        )
    );
    assert_eq!(
        c.set("maxmemory-clients", "-5").unwrap_err(),
        fail(
            "maxmemory-clients",
            "argument must be a memory or percent value"
        )
    );
    assert_eq!(
        c.set("maxmemory-policy", "x").unwrap_err(),
        fail(
            "maxmemory-policy",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        )
    );
    assert_eq!(
        c.set("save", "3600 1  60 5").unwrap_err(),
        fail("save", "Invalid save parameters")
    );
    assert_eq!(
        c.set("notify-keyspace-events", "a").unwrap_err(),
        fail(
            "notify-keyspace-events",
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        )
    );
    assert_eq!(
        c.set("proc-title-template", "{title}").unwrap_err(),
        fail(
            "proc-title-template",
            "template format is invalid or contains unknown variables"
        )
    );
    assert_eq!(
        c.set("cluster-announce-hostname", "a_b").unwrap_err(),
        fail(
            "cluster-announce-hostname",
            "Hostnames may only contain alphanumeric characters, hyphens or dots"
        )
    );
    assert_eq!(
        c.set("client-output-buffer-limit", "normal 1 2")
            .unwrap_err(),
        fail(
            "client-output-buffer-limit",
            "Wrong number of arguments in buffer limit configuration."
        )
    );
    // Nothing changed by the failures.
    assert_eq!(c.port, 6379);
    assert_eq!(c.save_points.len(), 3);
    // Successes.
    c.set("port", "7000").unwrap();
    c.set("maxmemory", "1GB").unwrap();
    c.set("save", "").unwrap();
    c.set("loglevel", "WARNING").unwrap();
    c.set("requirepass", "a b").unwrap();
    c.set("hz", "0").unwrap();
    c.set(
        "client-output-buffer-limit",
        "normal 1mb 2mb 3 replica 1 2 3",
    )
    .unwrap();
    c.set("notify-keyspace-events", "KEA").unwrap();
    c.set("slave-read-only", "no").unwrap();
    c.set("shutdown-on-sigint", "now save").unwrap();
    c.set("oom-score-adj", "relative").unwrap();
    assert_eq!((c.port, c.maxmemory_bytes, c.hz), (7000, 1 << 30, 1));
    assert_eq!(c.save_points, vec![]);
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.requirepass.as_deref(), Some(&b"a b"[..]));
    assert_eq!(
        get1(&c, "client-output-buffer-limit"),
        "normal 1048576 2097152 3 slave 1 2 3 pubsub 33554432 8388608 60"
    );
    assert_eq!(get1(&c, "notify-keyspace-events"), "AKE");
    assert_eq!(
        c.notify_keyspace_events() & notify::KEYSPACE,
        notify::KEYSPACE
    );
    assert_eq!(get1(&c, "replica-read-only"), "no");
    assert_eq!(get1(&c, "shutdown-on-sigint"), "save now");
    assert_eq!(get1(&c, "oom-score-adj"), "yes");
    c.set("requirepass", "").unwrap();
    assert_eq!(c.requirepass, None);
    // Protected configs become settable when enable-protected-configs allows.
    let mut c = load_text("enable-protected-configs local\n", &[]).unwrap();
    assert!(c.set("dbfilename", "x.rdb").is_err());
    c.set_ext("dbfilename", b"x.rdb", true).unwrap();
    assert_eq!(
        c.set_ext("dbfilename", b"a/b", true).unwrap_err(),
        fail("dbfilename", "dbfilename can't be a path, just a filename")
    );
    assert_eq!(c.dbfilename, "x.rdb");
}

#[test]
fn config_set_many() {
    let mut c = Config::new();
    let fail = |name: &str, why: &str| {
        format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    let p = |a: &'static str, b: &'static str| (a.as_bytes(), b.as_bytes());
    c.set_many(&[p("timeout", "5"), p("maxmemory", "1mb")], false)
        .unwrap();
    assert_eq!((c.timeout_s, c.maxmemory_bytes), (5, 1 << 20));
    // A bad value later on leaves everything as it was.
    let e = c
        .set_many(&[p("timeout", "6"), p("hz", "x")], false)
        .unwrap_err();
    assert_eq!(e, fail("hz", "argument couldn't be parsed into an integer"));
    assert_eq!(c.timeout_s, 5);
    // Names are all checked before any value; the first problem wins.
    let e = c
        .set_many(&[p("timeout", "x"), p("nope", "1")], false)
        .unwrap_err();
    assert_eq!(
        e,
        "Unknown option or number of arguments for CONFIG SET - 'nope'"
    );
    let e = c
        .set_many(&[p("port", "1"), p("PORT", "2")], false)
        .unwrap_err();
    assert_eq!(e, fail("PORT", "duplicate parameter"));
    let e = c
        .set_many(&[p("daemonize", "no"), p("nope", "1")], false)
        .unwrap_err();
    assert_eq!(e, fail("daemonize", "can't set immutable config"));
    // An alias is a distinct entry for Redis's duplicate check.
    c.set_many(
        &[p("replica-priority", "1"), p("slave-priority", "2")],
        false,
    )
    .unwrap();
    assert_eq!(get1(&c, "replica-priority"), "2");
}

#[test]
fn get_matching_globs() {
    let c = Config::new();
    let names = |p: &str| {
        let mut v: Vec<String> = c
            .get_matching(p.as_bytes())
            .into_iter()
            .map(|x| x.0)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        c.get_matching(b"PORT"),
        vec![("PORT".to_string(), "6379".to_string())]
    );
    assert_eq!(names("Port*"), vec!["port"]);
    assert_eq!(
        names("*-port"),
        vec![
            "cluster-announce-bus-port",
            "cluster-announce-port",
            "cluster-announce-tls-port",
            "cluster-port",
            "replica-announce-port",
            "slave-announce-port",
            "tls-port"
        ]
    );
    assert_eq!(names("slaveof"), vec!["slaveof"]);
    assert!(names("slave*").contains(&"slave-priority".to_string()));
    assert_eq!(names("maxmemory-?olicy"), vec!["maxmemory-policy"]);
    assert_eq!(names("[pq]ort"), vec!["port"]);
    assert!(names("[").is_empty());
    assert!(names("nosuch").is_empty());
    // Hidden directives need their exact name.
    assert!(names("*delay*").iter().all(|n| n != "rdb-key-save-delay"));
    assert_eq!(names("rdb-key-save-delay"), vec!["rdb-key-save-delay"]);
    let all = c.get_matching(b"*");
    assert!(all.len() > 190, "{}", all.len());
    assert!(all.iter().any(|(n, _)| n == "threads"));
    assert!(Config::names().contains(&"slaveof"));
}
