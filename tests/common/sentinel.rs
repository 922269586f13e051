//! Sentinel scenarios: a replica set of data servers (ringkv or redis-server), sentinels (ringkv
//! `--sentinel` or `redis-sentinel`) watching it as `mymaster`, and polls with deadlines for what
//! the sentinels report. Failover tests hold `serial()` so that two of them never share 2 cores.
#![allow(dead_code)]

use super::{free_port, q, serves_pid, temp_dir, wait_until, RealRedis, Server};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The name every scenario monitors.
pub const MASTER_NAME: &str = "mymaster";

static SERIAL: Mutex<()> = Mutex::new(());

/// Held for the whole of a failover test: sentinels time out at 1 s, so two scenarios fighting
/// for 2 cores would fail each other over. A panicking test poisons the lock; the next one goes on.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which program serves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    Ringkv,
    Redis,
}

enum Proc {
    Ringkv(Server),
    Redis(RealRedis),
}

/// One data server of a replica set, which can be killed with SIGKILL and started again on the
/// same port and directory.
pub struct DataNode {
    pub kind: DataKind,
    proc_: Proc,
    /// Set by `kill9`, cleared by `restart`.
    dead: bool,
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes. Sentinel scenarios poll
/// over fresh connections; a slower beat than `wait_until`'s keeps the sentinels' verbose logs
/// readable and leaves the 2 cores to the processes under test.
pub fn poll(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of `field` in an INFO text.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn connect(port: u16) -> Option<redis::Connection> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let con = c.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
    con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    con.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(con)
}

/// One command on a fresh connection to `port`; None when the server cannot be reached or
/// answers an error (a poll just tries again).
pub fn ask<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> Option<T> {
    q(&mut connect(port)?, args).ok()
}

impl DataNode {
    /// A ringkv server with `extra` arguments (after `--port --save '' --dir`).
    pub fn ringkv(extra: &[&str]) -> DataNode {
        DataNode {
            kind: DataKind::Ringkv,
            proc_: Proc::Ringkv(Server::start(extra)),
            dead: false,
        }
    }

    /// A redis-server with `extra` arguments.
    pub fn redis(extra: &[&str]) -> DataNode {
        DataNode {
            kind: DataKind::Redis,
            proc_: Proc::Redis(RealRedis::start_with(extra)),
            dead: false,
        }
    }

    pub fn start(kind: DataKind, extra: &[&str]) -> DataNode {
        match kind {
            DataKind::Ringkv => Self::ringkv(extra),
            DataKind::Redis => Self::redis(extra),
        }
    }

    pub fn port(&self) -> u16 {
        match &self.proc_ {
            Proc::Ringkv(s) => s.port,
            Proc::Redis(r) => r.port,
        }
    }

    pub fn addr(&self) -> (String, u16) {
        ("127.0.0.1".to_string(), self.port())
    }

    pub fn dir(&self) -> PathBuf {
        match &self.proc_ {
            Proc::Ringkv(s) => s.dir.clone(),
            Proc::Redis(r) => r.dir.clone(),
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.proc_ {
            Proc::Ringkv(s) => &mut s.child,
            Proc::Redis(r) => &mut r.child,
        }
    }

    pub fn pid(&mut self) -> u32 {
        self.child().id()
    }

    /// A connection with a 10 s read timeout (longer than the WAITs the scenarios send).
    pub fn client(&self) -> redis::Connection {
        let c = connect(self.port()).expect("connect to data server");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// The INFO `section` text, or "" when the server does not answer.
    pub fn info(&self, section: &str) -> String {
        ask(self.port(), &["INFO", section]).unwrap_or_default()
    }

    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        info_field(&self.info(section), field)
    }

    /// The ringkv stdout log ("" for redis-server, which logs nowhere here).
    pub fn log_text(&self) -> String {
        match &self.proc_ {
            Proc::Ringkv(s) => s.log_text(),
            Proc::Redis(_) => String::new(),
        }
    }

    /// SIGKILL, and reaps the process: no shutdown, no save, connections cut.
    pub fn kill9(&mut self) {
        let c = self.child();
        let _ = c.kill();
        let _ = c.wait();
        self.dead = true;
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Starts the server again (after `kill9`) on the same port and directory with `extra`
    /// arguments (for example none: a plain master, which sentinels are expected to demote), and
    /// waits until this process answers on the port.
    pub fn restart(&mut self, extra: &[&str]) {
        assert!(self.dead, "restart of a running server");
        let port = self.port().to_string();
        let dir = self.dir();
        let dir_s = dir.to_str().unwrap().to_string();
        let child = match &self.proc_ {
            Proc::Ringkv(s) => {
                let log = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&s.log)
                    .unwrap();
                Command::new(env!("CARGO_BIN_EXE_ringkv"))
                    .args(["--port", &port, "--save", "", "--dir", &dir_s])
                    .args(extra)
                    .stdout(Stdio::from(log))
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("restart ringkv")
            }
            Proc::Redis(_) => Command::new("redis-server")
                .args(["--port", &port, "--save", "", "--appendonly", "no"])
                .args(["--enable-debug-command", "yes", "--daemonize", "no"])
                .args(["--dir", &dir_s])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("restart redis-server"),
        };
        *self.child() = child;
        self.dead = false;
        let pid = self.pid();
        let p = self.port();
        let up = wait_until(Duration::from_secs(10), || {
            matches!(self.child().try_wait(), Ok(None)) && serves_pid(p, pid)
        });
        assert!(up, "restarted server on port {p} did not answer");
    }

    /// ROLE's first element ("master", "slave"), or None when unreachable.
    pub fn role(&self) -> Option<String> {
        let v: redis::Value = ask(self.port(), &["ROLE"])?;
        match v {
            redis::Value::Array(items) => match items.first()? {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                redis::Value::SimpleString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether INFO replication says: replica of `master_port` with the link up.
    pub fn is_linked_to(&self, master_port: u16) -> bool {
        let info = self.info("replication");
        info_field(&info, "role").as_deref() == Some("slave")
            && info_field(&info, "master_port") == Some(master_port.to_string())
            && info_field(&info, "master_link_status").as_deref() == Some("up")
    }
}

/// A master and its replicas, each started with `--replicaof 127.0.0.1 <master port>`.
pub struct ReplicaSet {
    pub nodes: Vec<DataNode>,
}

impl ReplicaSet {
    /// Node 0 is the master; `replicas` more of `kind`; returns once every link is up.
    pub fn start(kind: DataKind, replicas: usize) -> ReplicaSet {
        let kinds = vec![kind; replicas];
        Self::start_mixed(kind, &kinds, &[])
    }

    /// A master of `master` kind with one replica per entry of `replicas`; `extra` goes to every
    /// server. Returns once the master counts them all and each says its link is up.
    pub fn start_mixed(master: DataKind, replicas: &[DataKind], extra: &[&str]) -> ReplicaSet {
        let m = DataNode::start(master, extra);
        let port = m.port().to_string();
        let mut nodes = vec![m];
        for &k in replicas {
            let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
            args.extend_from_slice(extra);
            nodes.push(DataNode::start(k, &args));
        }
        let set = ReplicaSet { nodes };
        set.wait_linked(set.nodes[0].port(), Duration::from_secs(20));
        set
    }

    pub fn master(&self) -> &DataNode {
        &self.nodes[0]
    }

    /// The node listening on `port`.
    pub fn by_port(&self, port: u16) -> Option<&DataNode> {
        self.nodes.iter().find(|n| n.port() == port)
    }

    pub fn by_port_mut(&mut self, port: u16) -> Option<&mut DataNode> {
        self.nodes.iter_mut().find(|n| n.port() == port)
    }

    /// Polls until the node on `master_port` reports `connected_slaves:N` with every other live
    /// node online, and each of those says `master_link_status:up` towards it; panics with the
    /// INFO texts after `timeout`.
    pub fn wait_linked(&self, master_port: u16, timeout: Duration) {
        let others: Vec<&DataNode> = self
            .nodes
            .iter()
            .filter(|n| n.port() != master_port && !n.is_dead())
            .collect();
        let master = self.by_port(master_port).expect("master in the set");
        let want = format!("connected_slaves:{}", others.len());
        let ok = poll(timeout, || {
            let info = master.info("replication");
            info.contains(&want)
                && others.iter().all(|r| {
                    info.contains(&format!("port={},state=online", r.port()))
                        && r.is_linked_to(master_port)
                })
        });
        if !ok {
            let mut msg = format!(
                "replica set did not link up to {master_port} in {timeout:?}\nmaster:\n{}",
                master.info("replication")
            );
            for r in others {
                msg.push_str(&format!(
                    "\nreplica {}:\n{}",
                    r.port(),
                    r.info("replication")
                ));
            }
            panic!("{msg}");
        }
    }
}

/// Which program runs as a sentinel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentinelKind {
    /// `ringkv <dir>/sentinel.conf --sentinel --port P`
    Ringkv,
    /// `redis-sentinel <dir>/sentinel.conf`
    Redis,
}

/// Timing knobs written into sentinel.conf.
#[derive(Clone, Debug)]
pub struct SentinelOpts {
    pub quorum: u32,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
    pub parallel_syncs: u32,
    pub loglevel: &'static str,
    /// More lines appended to the config file as they are.
    pub extra: Vec<String>,
}

impl Default for SentinelOpts {
    fn default() -> Self {
        SentinelOpts {
            quorum: 2,
            down_after_ms: 1000,
            failover_timeout_ms: 10_000,
            parallel_syncs: 1,
            loglevel: "verbose",
            extra: Vec::new(),
        }
    }
}

/// A sentinel process monitoring `mymaster`, killed on drop. Its log (stdout) is `dir/sentinel.log`.
pub struct Sentinel {
    pub kind: SentinelKind,
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
}

/// The sentinel.conf text for `port` watching the master at `master_port`.
pub fn sentinel_conf(
    port: u16,
    dir: &std::path::Path,
    master_port: u16,
    o: &SentinelOpts,
) -> String {
    let mut s = format!(
        "port {port}\n\
         bind 127.0.0.1\n\
         daemonize no\n\
         logfile \"\"\n\
         loglevel {}\n\
         dir {}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {}\n\
         sentinel down-after-milliseconds {MASTER_NAME} {}\n\
         sentinel failover-timeout {MASTER_NAME} {}\n\
         sentinel parallel-syncs {MASTER_NAME} {}\n",
        o.loglevel,
        dir.display(),
        o.quorum,
        o.down_after_ms,
        o.failover_timeout_ms,
        o.parallel_syncs,
    );
    for l in &o.extra {
        s.push_str(l);
        s.push('\n');
    }
    s
}

impl Sentinel {
    /// Starts a sentinel of `kind` watching the master on `master_port` and waits until it
    /// answers PING; panics (with the log) when it does not start.
    pub fn start(kind: SentinelKind, master_port: u16, o: &SentinelOpts) -> Sentinel {
        match Self::try_start(kind, master_port, o) {
            Ok(s) => s,
            Err(log) => panic!("{kind:?} sentinel did not start; its log:\n{log}"),
        }
    }

    /// `start`, or the log of the last attempt when the sentinel would not answer.
    pub fn try_start(
        kind: SentinelKind,
        master_port: u16,
        o: &SentinelOpts,
    ) -> Result<Sentinel, String> {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let dir = temp_dir("sentinel");
            let conf = dir.join("sentinel.conf");
            let log = dir.join("sentinel.log");
            std::fs::write(&conf, sentinel_conf(port, &dir, master_port, o)).unwrap();
            let mut cmd = match kind {
                SentinelKind::Ringkv => {
                    let mut c = Command::new(env!("CARGO_BIN_EXE_ringkv"));
                    c.arg(&conf)
                        .arg("--sentinel")
                        .args(["--port", &port.to_string()]);
                    c
                }
                SentinelKind::Redis => {
                    let mut c = Command::new("redis-sentinel");
                    c.arg(&conf);
                    c
                }
            };
            let out = std::fs::File::create(&log).unwrap();
            cmd.stdout(Stdio::from(out.try_clone().unwrap()))
                .stderr(Stdio::from(out));
            let child = cmd.spawn().expect("start sentinel");
            let mut s = Sentinel {
                kind,
                child,
                port,
                dir,
                conf,
                log,
            };
            let pid = s.child.id();
            let mut exited = false;
            wait_until(Duration::from_secs(10), || {
                exited = !matches!(s.child.try_wait(), Ok(None));
                exited || serves_pid(port, pid)
            });
            if !exited && serves_pid(port, pid) {
                return Ok(s);
            }
            // It exited (another process may have taken the port) or never answered: retry.
            last_log = s.log_text();
            // Drop kills it and removes its directory.
        }
        Err(last_log)
    }

    pub fn client(&self) -> redis::Connection {
        connect(self.port).expect("connect to sentinel")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The current config file (redis-sentinel rewrites it with what it learnt).
    pub fn conf_text(&self) -> String {
        std::fs::read_to_string(&self.conf).unwrap_or_default()
    }

    /// The `master0:` line of INFO sentinel, e.g.
    /// `name=mymaster,status=ok,address=127.0.0.1:6379,slaves=2,sentinels=3`.
    pub fn master0(&self) -> Option<String> {
        let info: String = ask(self.port, &["INFO", "sentinel"])?;
        info_field(&info, "master0")
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the sentinel again on its port from its (rewritten) config file and waits until
    /// it answers.
    pub fn restart(&mut self) {
        self.kill9();
        let mut cmd = match self.kind {
            SentinelKind::Ringkv => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_ringkv"));
                c.arg(&self.conf).arg("--sentinel");
                c
            }
            SentinelKind::Redis => {
                let mut c = Command::new("redis-sentinel");
                c.arg(&self.conf);
                c
            }
        };
        // The killed process's listening socket can outlive it for a moment (the kernel tears
        // its io_uring down asynchronously): a start that finds the port taken is retried.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let out = std::fs::OpenOptions::new()
                .append(true)
                .open(&self.log)
                .unwrap();
            cmd.stdout(Stdio::from(out.try_clone().unwrap()))
                .stderr(Stdio::from(out));
            self.child = cmd.spawn().expect("restart sentinel");
            let (port, pid) = (self.port, self.child.id());
            let mut exited = false;
            let up = wait_until(Duration::from_secs(10), || {
                exited = !matches!(self.child.try_wait(), Ok(None));
                exited || serves_pid(port, pid)
            });
            if up && !exited {
                return;
            }
            assert!(
                exited && std::time::Instant::now() < deadline,
                "the sentinel did not restart; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("RINGKV_KEEP_SENTINEL_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts one sentinel per entry of `kinds`, all watching `master_port`.
pub fn start_sentinels(
    kinds: &[SentinelKind],
    master_port: u16,
    o: &SentinelOpts,
) -> Vec<Sentinel> {
    kinds
        .iter()
        .map(|&k| Sentinel::start(k, master_port, o))
        .collect()
}

/// What `s` answers to `SENTINEL GET-MASTER-ADDR-BY-NAME mymaster`.
pub fn master_addr(s: &Sentinel) -> Option<(String, u16)> {
    let v: Option<Vec<String>> = ask(
        s.port,
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME],
    )?;
    let v = v?;
    Some((v.first()?.clone(), v.get(1)?.parse().ok()?))
}

/// `key=value` pairs of a `master0:` line.
fn master0_get(line: &str, key: &str) -> Option<String> {
    line.split(',')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Polls until every sentinel's INFO sentinel says `status=ok`, `slaves=<replicas>` and
/// `sentinels=<count of sentinels>` (itself included), and `SENTINEL SENTINELS mymaster` lists
/// the others. Panics with each sentinel's view and log tail after `timeout`.
pub fn wait_discovered(sentinels: &[Sentinel], replicas: usize, timeout: Duration) {
    let n = sentinels.len();
    let ok = poll(timeout, || {
        sentinels.iter().all(|s| {
            let Some(line) = s.master0() else {
                return false;
            };
            let known: Option<Vec<redis::Value>> =
                ask(s.port, &["SENTINEL", "SENTINELS", MASTER_NAME]);
            master0_get(&line, "status").as_deref() == Some("ok")
                && master0_get(&line, "slaves") == Some(replicas.to_string())
                && master0_get(&line, "sentinels") == Some(n.to_string())
                && known.map(|k| k.len()) == Some(n - 1)
        })
    });
    if !ok {
        panic!(
            "sentinels did not discover {replicas} replicas and each other in {timeout:?}\n{}",
            describe(sentinels)
        );
    }
}

/// Polls until every sentinel reports the same master address, different from `old`; returns it.
/// Panics with each sentinel's view and log tail after `timeout`.
pub fn wait_new_master(
    sentinels: &[Sentinel],
    old: &(String, u16),
    timeout: Duration,
) -> (String, u16) {
    let mut found = None;
    let ok = poll(timeout, || {
        let addrs: Vec<Option<(String, u16)>> = sentinels.iter().map(master_addr).collect();
        match &addrs[0] {
            Some(a) if a != old && addrs.iter().all(|x| x.as_ref() == Some(a)) => {
                found = Some(a.clone());
                true
            }
            _ => false,
        }
    });
    match found {
        Some(a) if ok => a,
        _ => panic!(
            "sentinels did not agree on a new master (old {old:?}) in {timeout:?}\n{}",
            describe(sentinels)
        ),
    }
}

/// Each sentinel's address answer, master0 line and the last lines of its log.
pub fn describe(sentinels: &[Sentinel]) -> String {
    let mut out = String::new();
    for s in sentinels {
        let log = s.log_text();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        out.push_str(&format!(
            "--- {:?} sentinel on {}: addr {:?}, {:?}\n{tail}\n",
            s.kind,
            s.port,
            master_addr(s),
            s.master0()
        ));
    }
    out
}
