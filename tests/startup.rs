//! Start-up as a redis-server user sees it: log lines, arguments, config files, daemonize,
//! pid file, config errors, and the limits enforced per connection (maxclients, timeout).

mod common;

use common::{free_port, have_tool, temp_dir, wait_until, Server};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn ringkv() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringkv"))
}

/// `<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <mark> <text>`
fn is_redis_log_line(line: &str) -> bool {
    let mut parts = line.splitn(2, ' ');
    let head = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let Some((pid, role)) = head.split_once(':') else {
        return false;
    };
    let date: Vec<&str> = rest.splitn(5, ' ').collect();
    pid.parse::<u32>().is_ok()
        && ["M", "S", "C", "X"].contains(&role)
        && date.len() == 5
        && date[0].len() == 2
        && date[1].len() == 3
        && date[2].len() == 4
        && date[3].len() == 12
        && [".", "-", "*", "#"].contains(&date[4].get(..1).unwrap_or(""))
}

#[test]
fn startup_lines_match_redis_format() {
    let srv = Server::start(&["--threads", "2"]);
    let pid = srv.pid();
    assert!(wait_until(Duration::from_secs(5), || srv
        .log_text()
        .contains("Ready to accept connections tcp")));
    let log = srv.log_text();
    assert!(log.contains(&format!("Port: {}", srv.port)), "{log}");
    assert!(log.contains(&format!("PID: {pid}")), "{log}");
    assert!(log.contains("standalone mode"), "{log}");
    assert!(log.contains("ringkv 0.1.0"), "{log}");
    for needle in [
        "Server initialized",
        "Ready to accept connections tcp",
        "just started",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {log}"));
        assert!(is_redis_log_line(line), "not in Redis's format: {line:?}");
        assert!(line.starts_with(&format!("{pid}:")), "{line}");
    }
}

#[test]
fn version_and_help() {
    let out = ringkv().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("v=0.1.0"));
    let out = ringkv().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: ringkv [/path/to/redis.conf]"));
}

#[test]
fn bad_directive_exits_1_naming_the_line() {
    let dir = temp_dir("badconf");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 7000\nno-such-directive yes\n").unwrap();
    let out = ringkv().arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(
        err.contains(">>> 'no-such-directive \"yes\"'")
            || err.contains(">>> 'no-such-directive yes'"),
        "{err}"
    );
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
    let out = ringkv().args(["--port", "notaport"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn config_file_plus_args_and_include() {
    let dir = temp_dir("conf");
    let inc = dir.join("inc.conf");
    std::fs::write(&inc, "maxclients 77\n").unwrap();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "# a comment\nport 1\ntimeout 5\ninclude {}\nhz \"20\"\n",
            inc.display()
        ),
    )
    .unwrap();
    // --port overrides the file's port.
    let srv = Server::start_with(Some(conf.to_str().unwrap()), &["--threads", "1"]);
    let mut c = srv.client();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["maxclients", "77"]);
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hz")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["hz", "20"]);
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["port".to_string(), srv.port.to_string()]);
}

#[test]
fn config_from_stdin() {
    let port = free_port();
    let dir = temp_dir("stdin");
    let mut child = ringkv()
        .args(["-", "--save", "", "--dir", dir.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("port {port}\n").as_bytes())
        .unwrap();
    let up = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "server did not listen on the port given on stdin");
}

#[test]
fn daemonize_pidfile_logfile() {
    let port = free_port();
    let dir = temp_dir("daemon");
    let pidfile = dir.join("ringkv.pid");
    let logfile = dir.join("ringkv.log");
    let status = ringkv()
        .args([
            "--port",
            &port.to_string(),
            "--daemonize",
            "yes",
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--logfile",
            logfile.to_str().unwrap(),
            "--save",
            "",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "the parent returns at once with success");
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| !s.is_empty())
    }));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&logfile)
            .is_ok_and(|l| l.contains("Ready to accept connections tcp"))
    }));
    // SAFETY-free: plain kill through the shell tool.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    assert!(
        wait_until(Duration::from_secs(10), || !pidfile.exists()),
        "pid file removed on SIGTERM"
    );
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
}

#[test]
fn maxclients_rejects_with_redis_text() {
    let srv = Server::start(&["--threads", "1", "--maxclients", "3"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = srv.raw();
        s.write_all(b"PING\r\n").unwrap();
        let mut b = [0u8; 7];
        s.read_exact(&mut b).unwrap();
        held.push(s);
    }
    let mut s = srv.raw();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert_eq!(
        String::from_utf8_lossy(&buf),
        "-ERR max number of clients reached\r\n"
    );
    drop(held);
}

#[test]
fn idle_timeout_closes_clients() {
    let srv = Server::start(&["--threads", "1", "--timeout", "1", "--hz", "50"]);
    let mut s = srv.raw();
    s.write_all(b"PING\r\n").unwrap();
    let mut b = [0u8; 7];
    s.read_exact(&mut b).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = [0u8; 1];
    let t0 = std::time::Instant::now();
    let n = s.read(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "connection closed by the server");
    assert!(t0.elapsed() < Duration::from_secs(4));
}

#[test]
fn redis_benchmark_default_tests_run_clean() {
    if !have_tool("redis-benchmark") {
        return;
    }
    let srv = Server::start(&["--threads", "2"]);
    for p in ["1", "16"] {
        let out = Command::new("redis-benchmark")
            .args([
                "-p",
                &srv.port.to_string(),
                "-c",
                "50",
                "-n",
                "20000",
                "-r",
                "1000",
                "-P",
                p,
                "-q",
                "--csv",
            ])
            .args(["-t", "ping_inline,ping_mbulk,set,get,incr,mset"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}{err}");
        assert!(!err.contains("ERR") && !text.contains("ERR"), "{text}{err}");
        for t in [
            "PING_INLINE",
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "MSET (10 keys)",
        ] {
            assert!(text.contains(&format!("\"{t}\"")), "missing {t} in {text}");
        }
    }
}

#[test]
fn redis_cli_scripting_and_inline() {
    let srv = Server::start(&["--threads", "2"]);
    let Some(out) = srv.cli(&["set", "greeting", "hello world"]) else {
        return;
    };
    assert_eq!(out.trim(), "OK");
    assert_eq!(srv.cli(&["get", "greeting"]).unwrap().trim(), "hello world");
    assert_eq!(srv.cli(&["incr", "n"]).unwrap().trim(), "1");
    assert!(srv
        .cli(&["nosuchcmd"])
        .unwrap()
        .contains("ERR unknown command 'nosuchcmd'"));
    // Piped commands, as in scripts.
    let mut child = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"set a 1\nincrby a 41\nget a\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n42\n42\n");
}
