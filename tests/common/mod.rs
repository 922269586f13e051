//! Test harness: starts the built `ringkv` binary on a free loopback port and gives clients.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod sentinel;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// `--requirepass` as the test passed it (the start-up probe authenticates with it).
    pub password: Option<String>,
}

/// Whether the server answering on `port` is process `pid`. Ports come from `free_port`, so
/// two tests starting servers at once can race for one; a server that lost the race exits, but
/// until it does, a PING on the port would be answered by the winner (another test's server).
pub fn serves_pid(port: u16, pid: u32) -> bool {
    match info_reply(port, "server", None) {
        Some(Info::Text(t)) => t.contains(&format!("process_id:{pid}\r\n")),
        Some(Info::NoAuth) => true,
        None => false,
    }
}

/// Whether the server on `port` is process `pid` and, unless `loading_ok`, has finished
/// loading its data (INFO persistence says `loading:0`).
pub fn answers_info(port: u16, pid: u32, loading_ok: bool, password: Option<&str>) -> bool {
    match info_reply(port, "server persistence", password) {
        Some(Info::Text(t)) => {
            t.contains(&format!("process_id:{pid}\r\n"))
                && (loading_ok || !t.contains("\r\nloading:1\r\n"))
        }
        Some(Info::NoAuth) => true,
        None => false,
    }
}

enum Info {
    Text(String),
    /// A password-protected server whose password we were not given cannot be asked; it is
    /// taken on trust.
    NoAuth,
}

/// The reply to `INFO <sections>` from the server on `port` (after AUTH with `password`).
fn info_reply(port: u16, sections: &str, password: Option<&str>) -> Option<Info> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let auth = password.map_or(String::new(), |p| format!("AUTH {p}\r\n"));
    s.write_all(format!("{auth}INFO {sections}\r\n").as_bytes())
        .ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Reads one reply: an error line, or a `$<len>` bulk string to its end.
    while got.len() < 65_536 {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
        if password.is_some() && got.starts_with(b"+OK\r\n") {
            got.drain(..5); // AUTH's reply
        }
        if got.starts_with(b"-NOAUTH") {
            return Some(Info::NoAuth);
        }
        let Some(eol) = got.windows(2).position(|w| w == b"\r\n") else {
            continue;
        };
        if got[0] != b'$' {
            return None;
        }
        let len: usize = String::from_utf8_lossy(&got[1..eol]).parse().ok()?;
        if got.len() >= eol + 2 + len + 2 {
            return Some(Info::Text(String::from_utf8_lossy(&got).into_owned()));
        }
    }
    None
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ringkv-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

impl Server {
    /// Starts ringkv with `--port <free> --save ''` plus `extra` arguments, and waits until it
    /// answers PING.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_with(None, extra)
    }

    pub fn start_with(config_file: Option<&str>, extra: &[&str]) -> Server {
        Self::spawn(config_file, extra, false)
    }

    /// Starts ringkv like `start`, returning as soon as it answers, possibly while it still
    /// loads its data (to see `-LOADING`).
    pub fn start_loading(extra: &[&str]) -> Server {
        Self::spawn(None, extra, true)
    }

    fn spawn(config_file: Option<&str>, extra: &[&str], loading_ok: bool) -> Server {
        for _attempt in 0..3 {
            let port = free_port();
            let dir = temp_dir("srv");
            let log = dir.join("stdout.log");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringkv"));
            if let Some(f) = config_file {
                cmd.arg(f);
            }
            cmd.args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--dir",
                dir.to_str().unwrap(),
            ]);
            cmd.args(extra);
            cmd.stdout(Stdio::from(std::fs::File::create(&log).unwrap()));
            cmd.stderr(Stdio::inherit());
            let child = cmd.spawn().expect("start ringkv");
            let password = extra
                .windows(2)
                .find(|w| w[0] == "--requirepass")
                .map(|w| w[1].to_string());
            let mut s = Server {
                child,
                port,
                dir,
                log,
                password,
            };
            if wait_until(Duration::from_secs(10), || s.ping(loading_ok)) {
                return s;
            }
            let _ = s.child.kill();
        }
        panic!("ringkv did not start");
    }

    fn ping(&mut self, loading_ok: bool) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return false;
        }
        answers_info(
            self.port,
            self.child.id(),
            loading_ok,
            self.password.as_deref(),
        )
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(self.url()).unwrap();
        let con = c.get_connection().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        con
    }

    /// A raw socket for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// Runs redis-cli against the server; None when redis-cli is not installed (outside CI).
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        if !have_tool("redis-cli") {
            return None;
        }
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        Some(String::from_utf8_lossy(&out.stdout).to_string())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether an external tool is on PATH. Outside CI a missing tool skips the test with a message
/// naming the package; under CI=true it fails the test.
pub fn have_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        let pkg = match name {
            "redis-server" => "redis-server",
            "redis-sentinel" => "redis-sentinel",
            _ => "redis-tools",
        };
        if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
            panic!("{name} is missing under CI: apt-get install -y {pkg}");
        }
        eprintln!("SKIP: {name} not found; install it with: apt-get install -y {pkg}");
    }
    found
}

/// Sends raw bytes and reads until the peer closes or `timeout` passes.
pub fn raw_exchange(stream: &mut TcpStream, data: &[u8], timeout: Duration) -> Vec<u8> {
    raw_exchange_n(stream, data, usize::MAX, timeout)
}

/// Reads one line (through CRLF) from a raw stream.
pub fn read_line(stream: &TcpStream) -> String {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line
}

/// Sends raw bytes and reads until `want` bytes arrived, the peer closes or `timeout` passes.
pub fn raw_exchange_n(
    stream: &mut TcpStream,
    data: &[u8],
    want: usize,
    timeout: Duration,
) -> Vec<u8> {
    stream.write_all(data).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while out.len() < want && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    out
}

/// Starts ringkv on `dir` with `extra` arguments expecting it to refuse to start (exit code 1,
/// as on a damaged dump or AOF); returns its output.
pub fn start_fails(dir: &std::path::Path, extra: &[&str]) -> String {
    let log = dir.join("out.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringkv"))
        .args(["--port", &free_port().to_string(), "--save", ""])
        .args(["--dir", dir.to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "ringkv started on damaged files"
    );
    assert_eq!(status.unwrap().code(), Some(1));
    std::fs::read_to_string(log).unwrap()
}

/// A real redis-server on a free port, killed on drop.
pub struct RealRedis {
    pub child: std::process::Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl RealRedis {
    pub fn start() -> RealRedis {
        Self::start_with(&[])
    }

    /// `start` with extra arguments last (so `--dir` there wins over the default one).
    pub fn start_with(extra: &[&str]) -> RealRedis {
        for _ in 0..3 {
            let port = free_port();
            let dir = temp_dir("real-redis");
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--enable-debug-command", "yes", "--daemonize", "no"])
                .args(["--dir", dir.to_str().unwrap()])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut r = RealRedis { child, port, dir };
            if wait_until(Duration::from_secs(10), || r.ping()) {
                // redis-server answers INFO while it still loads its files: wait for the end.
                let loaded = wait_until(Duration::from_secs(30), || {
                    let info: String =
                        q(&mut r.client(), &["INFO", "persistence"]).unwrap_or_default();
                    info.contains("\r\nloading:0\r\n")
                });
                assert!(loaded, "redis-server did not finish loading");
                return r;
            }
        }
        panic!("redis-server did not start");
    }

    fn ping(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return false;
        }
        serves_pid(self.port, self.child.id())
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        let con = c.get_connection().unwrap();
        con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        con
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command given as strings and converts the reply.
pub fn q<T: redis::FromRedisValue>(
    c: &mut redis::Connection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

/// The full text of an error reply ("CODE detail"); panics on a non-error.
pub fn err(r: redis::RedisResult<redis::Value>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// A real redis-server and a ringkv started with `extra`, or None (after have_tool's message)
/// when redis-server is not installed outside CI.
pub fn real_and_ringkv(extra: &[&str]) -> Option<(RealRedis, Server)> {
    if !have_tool("redis-server") {
        return None;
    }
    Some((RealRedis::start(), Server::start(extra)))
}

/// DEBUG DIGEST-VALUE of each key is the same on both connections.
pub fn assert_same_digests(r: &mut redis::Connection, k: &mut redis::Connection, keys: &[&str]) {
    for key in keys {
        let a: Vec<String> = q(r, &["DEBUG", "DIGEST-VALUE", key]).unwrap();
        let b: Vec<String> = q(k, &["DEBUG", "DIGEST-VALUE", key]).unwrap();
        assert_eq!(a, b, "DIGEST-VALUE of {key}");
    }
}
