//! Hostile input over the network: random bytes, malformed and truncated RESP, huge declared
//! counts and lengths, quoted inline lines, abrupt disconnects, a client that pipelines without
//! ever reading, and every command of COMMAND LIST with random arguments. After each phase the
//! server process must still be running and answer PING; at the end every hostile connection
//! must be gone and the server must not have allocated what clients declared.
//!
//! Everything is bounded: a fixed-seed PRNG, a fixed number of connections per phase, and a
//! deadline on every read and on every phase.

mod common;

use common::{wait_until, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Client threads per raw phase.
const THREADS: usize = 4;

/// xorshift64*: deterministic, so a failure replays.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The process is running and a fresh client gets PONG (over a raw socket with deadlines, so a
/// hung server fails the test instead of hanging it).
fn assert_alive(srv: &mut Server, phase: &str) {
    match srv.child.try_wait() {
        Ok(None) => {}
        other => panic!(
            "server died during phase {phase}: {other:?}\n{}",
            srv.log_text()
        ),
    }
    let out = ask(srv.port, b"PING\r\n", b"\r\n");
    assert_eq!(out, b"+PONG\r\n", "no PONG after phase {phase}");
}

/// Sends `request` on a fresh connection and reads until the reply ends with `end` (or 5 s).
fn ask(port: u16, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut s = connect(port);
    let deadline = Instant::now() + Duration::from_secs(15);
    if s.write_all(request).is_err() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) && Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    out
}

/// Resident memory of the server in KiB (Linux /proc).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn connected_clients(srv: &Server) -> Option<u64> {
    let info = ask(srv.port, b"INFO clients\r\n", b"\r\n\r\n");
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse().ok())
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Reads until the server closes or `limit` passes; returns what came.
fn read_for(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    out
}

/// Sends `data`, then ends the connection in one of three ways: half-close and read until the
/// server closes, plain close, or reset (SO_LINGER 0).
fn send_and_leave(port: u16, data: &[u8], how: usize) -> Vec<u8> {
    let mut s = connect(port);
    // The server may close first (protocol error): a failed write is fine.
    let _ = s.write_all(data);
    match how % 3 {
        0 => {
            let _ = s.shutdown(Shutdown::Write);
            read_for(&mut s, Duration::from_secs(2))
        }
        1 => Vec::new(),
        _ => {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt reads a live `linger` of the size given, on a socket we own.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            Vec::new()
        }
    }
}

/// Runs `f(thread, rng)` on `THREADS` threads with distinct fixed seeds.
fn on_threads(seed: u64, f: impl Fn(usize, &mut Rng) + Sync) {
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let f = &f;
            scope.spawn(move || {
                let mut rng = Rng::new(seed * 1000 + t as u64);
                f(t, &mut rng)
            });
        }
    });
}

/// A RESP-looking frame: type bytes, lengths (some wrong, negative, huge or not numbers) and
/// payloads of random size; sometimes well formed.
fn resp_like(rng: &mut Rng) -> Vec<u8> {
    const NUMBERS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "-1",
        "-2",
        "10",
        "11",
        "1024",
        "65536",
        "1048576",
        "1048577",
        "536870912",
        "536870913",
        "2147483647",
        "2147483648",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "99999999999999999999",
        "",
        "x",
        "+1",
        " 1",
        "01",
    ];
    const TYPES: &[u8] = b"*$:+-#,%~>_!=(|";
    let mut out = Vec::new();
    let frames = 1 + rng.below(4);
    for _ in 0..frames {
        let argc = rng.below(6);
        if rng.below(4) == 0 {
            out.push(*rng.pick(TYPES));
            out.extend_from_slice(rng.pick(NUMBERS).as_bytes());
        } else {
            out.extend_from_slice(format!("*{argc}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        for _ in 0..argc {
            let len = rng.below(40);
            if rng.below(5) == 0 {
                out.push(*rng.pick(TYPES));
                out.extend_from_slice(rng.pick(NUMBERS).as_bytes());
            } else {
                out.extend_from_slice(format!("${len}").as_bytes());
            }
            out.extend_from_slice(if rng.below(10) == 0 { b"\n" } else { b"\r\n" });
            // Mostly a real command name first, so some frames run.
            let payload = if rng.below(2) == 0 {
                rng.pick(&["PING", "GET", "SET", "ECHO", "MSET", "DEL", "INCR"])
                    .as_bytes()
                    .to_vec()
            } else {
                rng.bytes(len)
            };
            out.extend_from_slice(&payload);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// An inline line built from words with quotes, escapes and odd whitespace.
fn inline_like(rng: &mut Rng) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[
        b"PING",
        b"ECHO",
        b"SET",
        b"GET",
        b"k",
        b"\"a b\"",
        b"'c d'",
        b"\"\\x41\\x4a\\n\"",
        b"\"\\xZZ\"",
        b"\"unterminated",
        b"'unterminated",
        b"\"a\"b",
        b"'a'b",
        b"'it\\'s'",
        b"\"\\\"\"",
        b"\"\"",
        b"''",
        b"\"\\",
        b"\\",
        b"\x0b",
        b"\x0c",
        b"\t",
        b"\x00",
        b"\xff\xfe",
        b"{tag}",
        b"*",
        b"$",
    ];
    let mut line = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let word: &[u8] = rng.pick::<&[u8]>(WORDS);
        line.extend_from_slice(word);
        line.push(if rng.below(6) == 0 { b'\t' } else { b' ' });
    }
    if rng.below(20) == 0 {
        line.resize(line.len() + 70_000, b'a');
    }
    line.extend_from_slice(if rng.below(3) == 0 { b"\n" } else { b"\r\n" });
    line
}

#[test]
fn hostile_clients_do_not_hurt_the_server() {
    let started = Instant::now();
    let mut srv = Server::start(&["--threads", "2"]);
    let port = srv.port;
    let pid = srv.pid();

    // 1. Every command with random arguments, from two connections (keys spread over shards).
    let names: Vec<String> = {
        let mut c = srv.client();
        redis::cmd("COMMAND")
            .arg("LIST")
            .query(&mut c)
            .expect("COMMAND LIST")
    };
    assert!(names.len() > 20, "COMMAND LIST gave {names:?}");
    // Commands that would stop the server, turn the connection into something else, or make it
    // talk to other hosts.
    const SKIP: &[&str] = &[
        "shutdown",
        "monitor",
        "replicaof",
        "slaveof",
        "sync",
        "psync",
        "failover",
        "subscribe",
        "psubscribe",
        "ssubscribe",
    ];
    const POOL: &[&str] = &[
        "",
        "0",
        "-1",
        "9223372036854775807",
        "x",
        "*",
        "EX",
        "NX",
        "10",
    ];
    let names: Vec<String> = names
        .into_iter()
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| !SKIP.contains(&n.as_str()))
        .collect();
    std::thread::scope(|scope| {
        for t in 0..2u64 {
            let (names, srv) = (&names, &srv);
            scope.spawn(move || {
                let mut rng = Rng::new(100 + t);
                let mut con = srv.client();
                con.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                let deadline = Instant::now() + Duration::from_secs(8);
                let mut reconnects = 0;
                'rounds: for _round in 0..4 {
                    for name in names {
                        if Instant::now() > deadline {
                            break 'rounds;
                        }
                        let mut cmd = redis::cmd(name);
                        for _ in 0..rng.below(7) {
                            cmd.arg(*rng.pick(POOL));
                        }
                        match cmd.query::<redis::Value>(&mut con) {
                            Ok(_) => {}
                            Err(e) if e.is_io_error() || e.is_connection_dropped() => {
                                // QUIT, CLIENT KILL and friends end the connection.
                                reconnects += 1;
                                assert!(reconnects < 50, "too many dropped connections: {e}");
                                con = srv.client();
                                con.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                            }
                            Err(_) => {} // an error reply is fine
                        }
                    }
                }
            });
        }
    });
    assert_alive(&mut srv, "commands with random arguments");

    // 2. Random bytes.
    on_threads(2, |t, rng| {
        for i in 0..25 {
            let n = 1 + rng.below(4096);
            let mut data = rng.bytes(n);
            if i % 2 == 0 {
                // Starting with '*' reaches the multibulk parser.
                data[0] = b'*';
            }
            send_and_leave(port, &data, t + i);
        }
    });
    assert_alive(&mut srv, "random bytes");

    // 3. RESP-looking frames with random types and lengths.
    on_threads(3, |t, rng| {
        for i in 0..40 {
            let data = resp_like(rng);
            send_and_leave(port, &data, t + i);
        }
    });
    assert_alive(&mut srv, "random RESP frames");

    // 4. Valid frames cut at every kind of point, then disconnect.
    on_threads(4, |t, rng| {
        let frame = b"*3\r\n$3\r\nSET\r\n$5\r\n{k}ey\r\n$10\r\n0123456789\r\n*2\r\n$3\r\nGET\r\n$5\r\n{k}ey\r\n";
        for i in 0..40 {
            let cut = rng.below(frame.len());
            send_and_leave(port, &frame[..cut], t + i);
        }
    });
    assert_alive(&mut srv, "truncated frames");

    // 5. Huge declared counts and lengths: an error where Redis gives one, never an allocation of
    // the declared size.
    let rss_before = rss_kib(pid);
    let must_fail: &[(&[u8], &str)] = &[
        (b"*2147483648\r\n", "invalid multibulk length"),
        (b"*99999999999999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n$536870913\r\n", "invalid bulk length"),
        (b"*1\r\n$9223372036854775807\r\n", "invalid bulk length"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$99999999999999999999\r\n", "invalid bulk length"),
    ];
    for (input, text) in must_fail {
        // No half-close here: see `half_closed_client_gets_its_replies`.
        let mut s = connect(port);
        s.write_all(input).unwrap();
        let out = read_for(&mut s, Duration::from_secs(3));
        let want = format!("-ERR Protocol error: {text}\r\n");
        assert_eq!(
            String::from_utf8_lossy(&out),
            want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // Accepted declarations, then the client stops sending: the server must wait, not allocate.
    let mut waiting = Vec::new();
    for input in [
        &b"*1\r\n$536870912\r\nabc"[..],
        b"*1048576\r\n$1\r\na\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870000\r\n",
        b"*2147483647\r\n",
    ] {
        for _ in 0..5 {
            let mut s = connect(port);
            s.write_all(input).unwrap();
            waiting.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_alive(&mut srv, "huge declared sizes");
    let rss_waiting = rss_kib(pid);
    assert!(
        rss_waiting < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_waiting} KiB for declared sizes"
    );
    drop(waiting);

    // 6. Inline lines with quotes, escapes, NULs and odd whitespace.
    on_threads(6, |t, rng| {
        for i in 0..30 {
            let mut data = Vec::new();
            for _ in 0..1 + rng.below(4) {
                data.extend_from_slice(&inline_like(rng));
            }
            send_and_leave(port, &data, t + i);
        }
    });
    assert_alive(&mut srv, "inline lines");

    // 7. A client pipelines without ever reading its replies; others must still be served.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        let flood = scope.spawn(move || {
            let mut s = connect(port);
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let chunk: Vec<u8> = b"SET {p}k 0123456789\r\nGET {p}k\r\nMGET a b c d\r\n"
                .iter()
                .copied()
                .cycle()
                .take(64 * 1024)
                .collect();
            let deadline = Instant::now() + Duration::from_secs(4);
            let mut written = 0usize;
            while Instant::now() < deadline
                && !stop.load(std::sync::atomic::Ordering::Relaxed)
                && written < 64 * 1024 * 1024
            {
                match s.write(&chunk) {
                    Ok(n) => written += n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) => panic!("flooding client lost its connection: {e}"),
                }
            }
            written
        });
        let mut c = srv.client();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut slowest = Duration::ZERO;
        for i in 0..100 {
            let t0 = Instant::now();
            let v: String = redis::cmd("SET")
                .arg(format!("other{i}"))
                .arg(i)
                .query(&mut c)
                .expect("SET while another client floods");
            assert_eq!(v, "OK");
            let got: i64 = redis::cmd("GET")
                .arg(format!("other{i}"))
                .query(&mut c)
                .expect("GET while another client floods");
            assert_eq!(got, i);
            slowest = slowest.max(t0.elapsed());
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = flood.join().unwrap();
        assert!(
            written > 1024 * 1024,
            "the flood wrote only {written} bytes"
        );
        assert!(
            slowest < Duration::from_secs(1),
            "a request took {slowest:?} while another client flooded"
        );
    });
    assert_alive(&mut srv, "non-reading pipeliner");

    // Every hostile connection is gone (the checker itself is the one left).
    assert!(
        wait_until(Duration::from_secs(10), || connected_clients(&srv)
            == Some(1)),
        "connections left open: {:?}",
        connected_clients(&srv)
    );
    assert_alive(&mut srv, "end");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// A client that sends its requests and half-closes at once (`printf 'PING\r\n' | nc -N ...`)
/// must still get every reply before the server closes, as with Redis. (The worker
/// used to close on EOF while replies were still queued or in flight.)
#[test]
fn half_closed_client_gets_its_replies() {
    let srv = Server::start(&["--threads", "2"]);
    let mut lost = 0;
    for _ in 0..50 {
        let mut s = connect(srv.port);
        s.write_all(b"PING\r\nPING\r\n").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let out = read_for(&mut s, Duration::from_secs(2));
        if out != b"+PONG\r\n+PONG\r\n" {
            lost += 1;
        }
    }
    assert_eq!(
        lost, 0,
        "replies lost on {lost} of 50 half-closed connections"
    );
}

/// MONITOR clients plus many pipelining clients must not stop the server. (A worker
/// once fed its own MONITOR clients through its own mailbox, filled it, and spun forever.)
#[test]
fn monitor_with_pipelining_clients_keeps_serving() {
    let srv = Server::start(&["--threads", "2"]);
    let mut monitors = Vec::new();
    for _ in 0..4 {
        let mut m = connect(srv.port);
        m.write_all(b"MONITOR\r\n").unwrap();
        monitors.push(m);
    }
    std::thread::sleep(Duration::from_millis(200));
    let payload = b"PING\r\n".repeat(10_000);
    std::thread::scope(|scope| {
        for _ in 0..48 {
            let payload = &payload;
            scope.spawn(move || {
                let mut s = connect(srv.port);
                let _ = s.write_all(payload);
                std::thread::sleep(Duration::from_millis(500));
            });
        }
    });
    assert_eq!(
        ask(srv.port, b"PING\r\n", b"\r\n"),
        b"+PONG\r\n",
        "server stopped answering"
    );
}

/// A cross-shard command parked for its locks while CONFIG SET lowers proto-max-bulk-len must
/// not kill its worker thread. (The re-parse of a parked command under the new limit
/// used to hit an `unreachable!`; now it gets the protocol error the new limit implies.)
#[test]
fn config_set_while_commands_are_parked() {
    let srv = Server::start(&["--threads", "2"]);
    let port = srv.port;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for v in ["1mb", "536870912"] {
                    let _: redis::RedisResult<()> = redis::cmd("CONFIG")
                        .arg("SET")
                        .arg("proto-max-bulk-len")
                        .arg(v)
                        .query(&mut c);
                }
            }
        });
        let value = vec![b'x'; 1100 * 1024];
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = srv.client();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        while Instant::now() < deadline {
            let mut pipe = redis::pipe();
            for i in 0..8 {
                pipe.cmd("MSET")
                    .arg(format!("a{i}"))
                    .arg(&value[..])
                    .arg(format!("b{i}"))
                    .arg("x")
                    .ignore();
            }
            let r: redis::RedisResult<()> = pipe.query(&mut c);
            if let Err(e) = r {
                if e.is_timeout() {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    panic!("a worker stopped answering: {e}");
                }
                // An error reply (the limit was low when the command was first parsed) is fine.
                c = srv.client();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
