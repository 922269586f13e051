//! Loading: files, includes, arguments, stdin, and the exact error texts.

use super::*;

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
            "argument(s) must be one of the following: debug, verbose, notice, warning",
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
        &mut &b"\nport 7002\nloglevel warning\n"[..],
    )
    .unwrap();
    assert_eq!((c.port, c.loglevel), (7002, LogLevel::Warning));
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
