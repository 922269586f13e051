//! The wire protocol through the binary: framing, pipelining, inline commands, protocol errors
//! and the limits that keep a client from making the server allocate what it declares.

mod common;

use common::{raw_exchange, Server};
use std::io::{Read, Write};
use std::time::Duration;

fn expect_error_and_close(srv: &Server, input: &[u8], text: &str) {
    let mut s = srv.raw();
    let out = raw_exchange(&mut s, input, Duration::from_secs(3));
    let want = format!("-ERR {text}\r\n");
    assert!(
        String::from_utf8_lossy(&out).ends_with(&want),
        "input {:?}: got {:?}, want {want:?}",
        String::from_utf8_lossy(input),
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn protocol_errors_reply_and_close() {
    let srv = Server::start(&["--threads", "2"]);
    expect_error_and_close(
        &srv,
        b"*abc\r\n",
        "Protocol error: invalid multibulk length",
    );
    expect_error_and_close(
        &srv,
        b"*1\r\n$-3\r\n",
        "Protocol error: invalid bulk length",
    );
    expect_error_and_close(
        &srv,
        b"*1\r\n$abc\r\n",
        "Protocol error: invalid bulk length",
    );
    expect_error_and_close(
        &srv,
        b"*1\r\n:5\r\n",
        "Protocol error: expected '$', got ':'",
    );
    expect_error_and_close(
        &srv,
        b"*2000000\r\n",
        "Protocol error: invalid multibulk length",
    );
    expect_error_and_close(
        &srv,
        b"set \"unbalanced\r\n",
        "Protocol error: unbalanced quotes in request",
    );
    // A bulk longer than proto-max-bulk-len (512 MB by default).
    expect_error_and_close(
        &srv,
        b"*1\r\n$600000000\r\n",
        "Protocol error: invalid bulk length",
    );
    // An inline request longer than 64 KiB without a newline.
    expect_error_and_close(
        &srv,
        &vec![b'a'; 70 * 1024],
        "Protocol error: too big inline request",
    );
    // The server is still fine.
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn inline_commands_and_split_frames() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let out = raw_exchange(
        &mut s,
        b"ping\r\nset k \"a b\"\r\nget k\r\nQUIT\r\n",
        Duration::from_secs(3),
    );
    assert_eq!(out, b"+PONG\r\n+OK\r\n$3\r\na b\r\n+OK\r\n");
    // A frame delivered one byte at a time.
    let mut s = srv.raw();
    s.set_nodelay(true).unwrap();
    for b in b"*3\r\n$3\r\nSET\r\n$2\r\nk2\r\n$5\r\nhello\r\n" {
        s.write_all(&[*b]).unwrap();
    }
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+OK\r\n");
}

#[test]
fn deep_pipeline_keeps_order() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let n = 20_000;
    let mut req = Vec::new();
    for i in 0..n {
        let k = format!("key:{i}");
        let v = format!("{i}");
        req.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
        req.extend_from_slice(format!("*2\r\n$3\r\nGET\r\n${}\r\n{k}\r\n", k.len()).as_bytes());
    }
    let writer = {
        let mut s2 = s.try_clone().unwrap();
        std::thread::spawn(move || s2.write_all(&req).unwrap())
    };
    let mut expected = Vec::new();
    for i in 0..n {
        let v = format!("{i}");
        expected.extend_from_slice(format!("+OK\r\n${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    let mut got = vec![0u8; expected.len()];
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == expected, "pipelined replies out of order");
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn declared_lengths_are_not_allocated_up_front() {
    let srv = Server::start(&["--threads", "1"]);
    let before = rss_kb(srv.pid());
    // Many connections each declaring a 500 MB argument and sending only a few bytes of it.
    let mut conns = Vec::new();
    for _ in 0..50 {
        let mut s = srv.raw();
        s.write_all(b"*2\r\n$3\r\nSET\r\n$500000000\r\nabc")
            .unwrap();
        conns.push(s);
    }
    let mut c = srv.client();
    let _: String = redis::cmd("PING").query(&mut c).unwrap();
    let after = rss_kb(srv.pid());
    assert!(
        after < before + 64 * 1024,
        "RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let srv = Server::start(&["--threads", "1", "--client-query-buffer-limit", "1mb"]);
    let mut s = srv.raw();
    let mut req = b"*2\r\n$3\r\nGET\r\n$3000000\r\n".to_vec();
    req.extend(std::iter::repeat_n(b'x', 2_000_000));
    let _ = s.write_all(&req);
    let mut buf = [0u8; 16];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server closes the connection: read returns 0 or a reset.
    let closed = matches!(s.read(&mut buf), Ok(0) | Err(_));
    assert!(closed);
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn unknown_command_and_arity_texts() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let out = raw_exchange(
        &mut s,
        b"FOO bar baz\r\nGET\r\nQUIT\r\n",
        Duration::from_secs(3),
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n-ERR wrong number of arguments for 'get' command\r\n+OK\r\n"
    );
}
