//! Tests of the configuration layer as a whole: loading, CONFIG GET/SET,
//! CONFIG REWRITE. Expected texts were checked against redis-server 7.0.15.

use super::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

// No test here changes the working directory: tests of other modules run in
// parallel threads of the same process.

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "ringkv-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn load(a: &[&str]) -> Result<Config, ConfigError> {
    Config::load_with_program("ringkv", &args(a), &mut std::io::empty())
}

fn load_text(text: &str, extra: &[&str]) -> Result<Config, ConfigError> {
    let mut a = vec!["-"];
    a.extend_from_slice(extra);
    Config::load_with_program("ringkv", &args(&a), &mut text.as_bytes())
}

fn frame(line: usize, text: &str, msg: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{msg}\n")
}

fn get1(c: &Config, name: &str) -> String {
    let v = c.get_matching(name.as_bytes());
    assert_eq!(v.len(), 1, "{name}: {v:?}");
    v[0].1.clone()
}

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
fn bad_directive_error_text() {
    let e = load_text("port 1\nfoo bar\n", &[]).unwrap_err();
    assert_eq!(
        e.message,
        frame(2, "foo bar", "Bad directive or wrong number of arguments")
    );
    let e = load_text("# c\n\n  daemonize maybe  \n", &[]).unwrap_err();
    assert_eq!(
        e.message,
        frame(3, "daemonize maybe", "argument must be 'yes' or 'no'")
    );
    let e = load_text("bind \"a\"b\n", &[]).unwrap_err();
    assert_eq!(
        e.message,
        frame(1, "bind \"a\"b", "Unbalanced quotes in configuration line")
    );
    let cases = [
        (
            "port 70000",
            "argument must be between 0 and 65535 inclusive",
        ),
        ("port abc", "argument couldn't be parsed into an integer"),
        ("hz 1 2", "wrong number of arguments"),
        ("save 10", "Invalid save parameters"),
        ("maxmemory 10zz", "argument must be a memory value"),
        (
            "loglevel foo",
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        ("replicaof a b", "Invalid master port"),
        (
            "client-output-buffer-limit foo 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        ("include", "Bad directive or wrong number of arguments"),
        (
            "list-max-ziplist-entries 5 6",
            "Bad directive or wrong number of arguments",
        ),
        (
            "sentinel monitor a b c d",
            "sentinel directive while not in sentinel mode",
        ),
        ("a.b", "Module config specified without value"),
        (
            "shutdown-on-sigint",
            "argument(s) must be one of the following: default, save, nosave, now, force",
        ),
        ("dir /nonexistent-ringkv-dir", "No such file or directory"),
        (
            "unixsocketperm 1000",
            "argument must be between 0 and 777 inclusive",
        ),
    ];
    for (line, msg) in cases {
        assert_eq!(
            load_text(line, &[]).unwrap_err().message,
            frame(1, line, msg)
        );
    }
    let e = load_text("logfile /nonexistent-ringkv-dir/x.log\n", &[]).unwrap_err();
    assert_eq!(e.message, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nCan't open the log file: No such file or directory\n");
    let e = load_text("cluster-enabled yes\nreplicaof a 1\n", &[]).unwrap_err();
    assert!(e
        .message
        .ends_with("\nreplicaof directive not allowed in cluster mode\n"));
    // Deprecated directives with one argument are accepted and ignored.
    load_text(
        "list-max-ziplist-entries 5\nlua-replicate-commands yes\n",
        &[],
    )
    .unwrap();
}

#[test]
fn errors_in_arguments_use_the_synthesized_line() {
    let e = load(&["--port", "1", "--foo", "bar"]).unwrap_err();
    assert_eq!(
        e.message,
        frame(
            3,
            "foo \"bar\"",
            "Bad directive or wrong number of arguments"
        )
    );
    let e = load(&["--port", "abc"]).unwrap_err();
    assert_eq!(
        e.message,
        frame(
            2,
            "port \"abc\"",
            "argument couldn't be parsed into an integer"
        )
    );
    let e = load(&["--save", "", "--foo", "a b", "c'd", "e\"f"]).unwrap_err();
    assert_eq!(
        e.message,
        frame(
            3,
            r#"foo "a b" "c'd" "e\"f""#,
            "Bad directive or wrong number of arguments"
        )
    );
    let e = load(&["--port", "1", "--maxmemory"]).unwrap_err();
    assert_eq!(
        e.message,
        frame(3, "maxmemory", "wrong number of arguments")
    );
}

#[test]
fn args_override_file_and_stdin() {
    let d = temp_dir();
    let f = d.join("r.conf");
    std::fs::write(&f, "port 7000\nmaxmemory 1mb\nloglevel debug\n").unwrap();
    let c = load(&[
        f.to_str().unwrap(),
        "--port",
        "7001",
        "--loglevel",
        "WARNING",
    ])
    .unwrap();
    assert_eq!(c.port, 7001);
    assert_eq!(c.maxmemory_bytes, 1 << 20);
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.config_file.as_deref(), Some(f.as_path()));
    // File, then stdin, then arguments.
    let c = Config::load_with_program(
        "ringkv",
        &args(&[f.to_str().unwrap(), "-"]),
        &mut &b"\nport 7002\nloglevel nothing\n"[..],
    )
    .unwrap();
    assert_eq!((c.port, c.loglevel), (7002, LogLevel::Nothing));
    let c = load_text("port 7003\n", &["--port", "7004"]).unwrap();
    assert_eq!(c.port, 7004);
    assert_eq!(c.config_file, None);
    // Name and value in one argument, and "--" options whose value starts with "--".
    let c = load(&["--port 7005", "--requirepass", "--secret"]).unwrap();
    assert_eq!(c.port, 7005);
    assert_eq!(c.requirepass.as_deref(), Some(&b"--secret"[..]));
    let e = load(&["/nonexistent-ringkv-dir/x.conf"]).unwrap_err();
    assert!(e.message.contains(":C "), "{}", e.message);
    assert!(e.message.ends_with(
        " # Fatal error, can't open config file '/nonexistent-ringkv-dir/x.conf': No such file or directory\n"
    ));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn save_arguments() {
    assert_eq!(load(&["--save", ""]).unwrap().save_points, vec![]);
    assert_eq!(load(&["--save"]).unwrap().save_points, vec![]);
    let c = load(&["--save", "--port", "7000"]).unwrap();
    assert_eq!((c.save_points.clone(), c.port), (vec![], 7000));
    assert_eq!(get1(&c, "save"), "");
    assert_eq!(
        load(&["--save", "10", "1", "20", "2"]).unwrap().save_points,
        vec![(10, 1), (20, 2)]
    );
    assert_eq!(
        load(&["--save", "10 1 20 2"]).unwrap().save_points,
        vec![(10, 1), (20, 2)]
    );
    assert_eq!(
        load(&["--bind", "127.0.0.1 ::1"]).unwrap().bind,
        vec!["127.0.0.1", "::1"]
    );
    // In a file the first save line replaces the defaults, later ones add.
    let c = load_text("save 900 1\nsave 300 10\n", &["--save", "30 5"]).unwrap();
    assert_eq!(c.save_points, vec![(900, 1), (300, 10), (30, 5)]);
    let c = load_text("save 900 1\n", &["--save", ""]).unwrap();
    assert_eq!(c.save_points, vec![]);
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

#[test]
fn include_files() {
    let d = temp_dir();
    let dp = d.to_str().unwrap();
    std::fs::write(
        d.join("a.conf"),
        format!("port 7100\ninclude {dp}/b.conf\nmaxmemory 5mb\n"),
    )
    .unwrap();
    std::fs::write(d.join("b.conf"), "port 7200\ntimeout 9\n").unwrap();
    std::fs::create_dir(d.join("conf.d")).unwrap();
    std::fs::write(d.join("conf.d/1.conf"), "tcp-keepalive 1\n").unwrap();
    std::fs::write(d.join("conf.d/2.conf"), "tcp-keepalive 2\n").unwrap();
    std::fs::write(d.join("conf.d/.hidden.conf"), "tcp-keepalive 99\n").unwrap();
    let c = load_text(
        &format!("include {dp}/a.conf\ninclude {dp}/conf.d/*.conf\ninclude {dp}/none/*.conf\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        (c.port, c.timeout_s, c.maxmemory_bytes, c.tcp_keepalive_s),
        (7200, 9, 5 << 20, 2)
    );
    // Errors inside an included file point at its own line.
    std::fs::write(d.join("bad.conf"), "port 1\nfoo\n").unwrap();
    let e = load_text(&format!("\n\n\ninclude {dp}/bad.conf\n"), &[]).unwrap_err();
    assert_eq!(
        e.message,
        frame(2, "foo", "Bad directive or wrong number of arguments")
    );
    let e = load_text(&format!("include {dp}/missing.conf\n"), &[]).unwrap_err();
    assert!(
        e.message.contains("Fatal error, can't open config file"),
        "{}",
        e.message
    );
    // A file including itself stops at the depth limit.
    std::fs::write(d.join("loop.conf"), format!("include {dp}/loop.conf\n")).unwrap();
    let e = load_text(&format!("include {dp}/loop.conf\n"), &[]).unwrap_err();
    assert!(
        e.message
            .contains("include nesting is deeper than 16 levels"),
        "{}",
        e.message
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn dir_directive() {
    // Only "changes" to the current directory, so that other tests running
    // in parallel are not affected.
    let cwd = std::env::current_dir().unwrap();
    let c = load_text("dir .\n", &[]).unwrap();
    assert_eq!(PathBuf::from(&c.dir), cwd);
    let c = load_text(&format!("dir {}\n", cwd.display()), &[]).unwrap();
    assert_eq!(PathBuf::from(&c.dir), cwd);
    assert_eq!(get1(&c, "dir"), cwd.to_string_lossy());
    assert_eq!(Config::new().dir, "");
    assert_eq!(std::env::current_dir().unwrap(), cwd);
}

#[test]
fn sentinel_mode() {
    let c = Config::load_with_program(
        "/usr/bin/ringkv-sentinel",
        &args(&["-"]),
        &mut &b"sentinel monitor m 127.0.0.1 6379 2\nSENTINEL resolve-hostnames no\n"[..],
    )
    .unwrap();
    assert_eq!(
        (c.mode, c.port, c.protected_mode),
        (Mode::Sentinel, 26379, false)
    );
    assert_eq!(
        c.sentinel_lines,
        vec![
            args(&["monitor", "m", "127.0.0.1", "6379", "2"]),
            args(&["resolve-hostnames", "no"])
        ]
    );
    assert_eq!(
        c.sentinel_sources[1],
        SourceLine {
            line: 2,
            text: "SENTINEL resolve-hostnames no".into()
        }
    );
    let c = load(&["--sentinel", "--port", "5000"]).unwrap();
    assert_eq!((c.mode, c.port), (Mode::Sentinel, 5000));
    let c = load(&["--port", "5000", "--sentinel"]).unwrap();
    assert_eq!((c.mode, c.port), (Mode::Sentinel, 5000));
}

#[test]
fn other_stored_lines_and_pidfile() {
    let c = load_text(
        "rename-command FLUSHALL \"\"\nuser alice on >p ~* +@all\ndaemonize yes\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        c.rename_commands,
        vec![("FLUSHALL".to_string(), String::new())]
    );
    assert_eq!(
        c.user_lines,
        vec![args(&["alice", "on", ">p", "~*", "+@all"])]
    );
    if !c.is_supervised() {
        assert_eq!(c.pidfile_path().as_deref(), Some(DEFAULT_PIDFILE));
    }
    let c = load_text("pidfile /tmp/x.pid\n", &[]).unwrap();
    assert_eq!(c.pidfile_path().as_deref(), Some("/tmp/x.pid"));
    assert!(load_text("loadmodule /x.so\n", &[]).is_err());
}

#[test]
fn rewrite_preserves_comments_and_unknown_lines() {
    let d = temp_dir();
    let f = d.join("r.conf");
    std::fs::write(d.join("empty.conf"), "").unwrap();
    let original = "# top comment   \nport 7000\n\n\n\n# maxmemory <bytes>\nmaxmemory 100mb\nsave 900 1\nsave 300 10\n\
                    include INC\nrename-command FLUSHALL \"\"\nslave-priority 50\nbind 127.0.0.1 -::1\n\
                    requirepass old\nnotify-keyspace-events \"\"\nstream-node-max-bytes 4096\n";
    let inc = d.join("empty.conf");
    let original = original.replace("INC", inc.to_str().unwrap());
    std::fs::write(&f, original).unwrap();
    let mut c = load(&[f.to_str().unwrap()]).unwrap();
    // Lines edited in after the server started.
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("bogus-directive 1 2\nbad \"quote\n");
    std::fs::write(&f, text).unwrap();
    c.set("maxmemory", "2gb").unwrap();
    c.set("hz", "20").unwrap();
    c.set("notify-keyspace-events", "KEA").unwrap();
    c.set("client-output-buffer-limit", "pubsub 64mb 16mb 90")
        .unwrap();
    c.set("slave-priority", "60").unwrap();
    c.set("requirepass", "").unwrap();
    c.set("masterauth", "se cret").unwrap();
    c.rewrite().unwrap();
    let out = std::fs::read_to_string(&f).unwrap();
    let cwd = std::env::current_dir().unwrap();
    let expected = format!(
        "# top comment\nport 7000\n\n# maxmemory <bytes>\nmaxmemory 2gb\nsave 900 1\nsave 300 10\n\
         include {}\nrename-command FLUSHALL \"\"\nreplica-priority 60\nbind 127.0.0.1 -::1\n\n\
         notify-keyspace-events \"AKE\"\nstream-node-max-bytes 4kb\n# ??? bogus-directive 1 2\n# ??? bad \"quote\n\n\
         # Generated by CONFIG REWRITE\ndir \"{}\"\nmasterauth \"se cret\"\nlatency-tracking-info-percentiles 50 99 99.9\n\
         client-output-buffer-limit pubsub 64mb 16mb 90\nhz 20\n",
        inc.display(),
        cwd.display()
    );
    assert_eq!(out, expected);
    // The rewritten file loads back to the same values.
    let c2 = load(&[f.to_str().unwrap()]).unwrap();
    for (name, value) in c.get_matching(b"*") {
        assert_eq!(get1(&c2, &name), value, "{name}");
    }
    // Like Redis (checked against 7.0.15), the next rewrite reuses the one
    // client-output-buffer-limit line for the first class and appends the
    // non-default class again. The values survive every round.
    c2.rewrite().unwrap();
    let second = std::fs::read_to_string(&f).unwrap();
    assert!(
        second.ends_with("hz 20\n\nclient-output-buffer-limit pubsub 64mb 16mb 90\n"),
        "{second}"
    );
    c2.rewrite().unwrap();
    let c3 = load(&[f.to_str().unwrap()]).unwrap();
    assert_eq!(c3.get_matching(b"*"), c.get_matching(b"*"));
    assert_eq!(
        Config::new().rewrite().unwrap_err(),
        "The server is running without a config file"
    );
    // Users and sentinel state can be supplied by their owners.
    let mut s = Config::new();
    s.mode = Mode::Sentinel;
    s.port = 26379;
    s.config_file = Some(d.join("s.conf"));
    std::fs::write(d.join("s.conf"), "port 26379\nsentinel monitor m 1.2.3.4 6379 2\nsentinel known-replica m 1.1.1.1 1\nuser x on\n").unwrap();
    s.rewrite_with(
        Some(&["user default on nopass ~* &* +@all".to_string()]),
        Some(&["sentinel monitor m 5.6.7.8 6379 2".to_string()]),
    )
    .unwrap();
    let out = std::fs::read_to_string(d.join("s.conf")).unwrap();
    assert!(
        out.starts_with(
            "port 26379\nsentinel monitor m 5.6.7.8 6379 2\n\nuser default on nopass ~* &* +@all\n"
        ),
        "{out}"
    );
    assert!(!out.contains("save"), "{out}");
    std::fs::remove_dir_all(d).unwrap();
}

/// Runs `f` on the text of a Debian config file, if this machine has it.
fn with_debian_conf(path: &str, f: impl FnOnce(String)) {
    match std::fs::read_to_string(path) {
        Ok(text) => f(text),
        Err(e) => eprintln!("skipping: {path}: {e}"),
    }
}

#[test]
fn debian_redis_conf_loads() {
    with_debian_conf("/etc/redis/redis.conf", |text| {
        let text = text.replace("\ndir /var/lib/redis", "\ndir .");
        let c = load_text(&text, &["--logfile", ""]).unwrap();
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        assert_eq!(c.port, 6379);
        assert!(c.daemonize);
        assert_eq!(c.pidfile, "/run/redis/redis-server.pid");
        assert_eq!(
            get1(&c, "client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
    });
    with_debian_conf("/etc/redis/sentinel.conf", |text| {
        let text = text.replace("\ndir /var/lib/redis", "\ndir .");
        let c = Config::load_with_program(
            "redis-sentinel",
            &args(&["-", "--logfile", ""]),
            &mut text.as_bytes(),
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Sentinel);
        assert!(c.sentinel_lines.iter().any(|l| l[0] == "monitor"));
    });
}
