//! Connection commands through the binary: PING, ECHO, SELECT, AUTH (with and without
//! `requirepass`), HELLO and RESP3, the CLIENT family, QUIT and RESET.

mod common;

use common::{wait_until, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The end of one complete RESP2/RESP3 value starting at `at`, if the buffer holds it all.
fn frame_end(b: &[u8], at: usize) -> Option<usize> {
    let line_end = at + b.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(b.get(at + 1..line_end)?).ok()?;
    let next = line_end + 2;
    match b.get(at)? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(next),
        b'$' | b'=' | b'!' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(next);
            }
            let end = next + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let items = if matches!(b[at], b'%' | b'|') {
                n * 2
            } else {
                n
            };
            let mut pos = next;
            for _ in 0..items.max(0) {
                pos = frame_end(b, pos)?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Sends `req` and reads until `replies` complete replies arrived (5 s deadline).
fn call(s: &mut TcpStream, req: &[u8], replies: usize) -> Vec<u8> {
    s.write_all(req).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    loop {
        let mut pos = 0;
        let mut n = 0;
        while n < replies {
            match frame_end(&out, pos) {
                Some(e) => {
                    pos = e;
                    n += 1;
                }
                None => break,
            }
        }
        if n == replies {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; got {:?}",
            String::from_utf8_lossy(&out)
        );
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(_) => {}
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the peer closed `s` (EOF or reset) within 5 s.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 256];
    wait_until(Duration::from_secs(5), || match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    })
}

#[test]
fn ping_echo_select() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    assert_eq!(call(&mut s, b"PING\r\n", 1), b"+PONG\r\n");
    assert_eq!(call(&mut s, b"PING hello\r\n", 1), b"$5\r\nhello\r\n");
    assert_eq!(
        call(&mut s, b"PING a b\r\n", 1),
        b"-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(call(&mut s, b"ECHO \"a b\"\r\n", 1), b"$3\r\na b\r\n");
    assert_eq!(
        call(&mut s, b"ECHO\r\n", 1),
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(
        call(&mut s, b"SELECT 16\r\n", 1),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        call(&mut s, b"SELECT -1\r\n", 1),
        b"-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        call(&mut s, b"SELECT x\r\n", 1),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        call(&mut s, b"SELECT 99999999999\r\n", 1),
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    // Keys on both shards live in the selected database only.
    let mut c = srv.client();
    redis::cmd("SELECT").arg(3).query::<()>(&mut c).unwrap();
    for k in ["a", "b", "c", "d"] {
        redis::cmd("SET").arg(k).arg(k).query::<()>(&mut c).unwrap();
    }
    let v: Option<String> = redis::cmd("GET").arg("c").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("c"));
    redis::cmd("SELECT").arg(0).query::<()>(&mut c).unwrap();
    for k in ["a", "b", "c", "d"] {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert_eq!(v, None);
    }
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(info.contains(" db=0 "), "{info}");
}

#[test]
fn auth_without_password() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    assert_eq!(
        text(&call(&mut s, b"AUTH x\r\n", 1)),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(call(&mut s, b"AUTH default anything\r\n", 1), b"+OK\r\n");
    assert_eq!(
        call(&mut s, b"AUTH bob x\r\n", 1),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(call(&mut s, b"AUTH a b c\r\n", 1), b"-ERR syntax error\r\n");
}

#[test]
fn auth_with_requirepass() {
    let srv = Server::start(&["--threads", "2", "--requirepass", "s3cret"]);
    let mut s = srv.raw();
    assert_eq!(
        call(&mut s, b"PING\r\n", 1),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        call(&mut s, b"GET k\r\n", 1),
        b"-NOAUTH Authentication required.\r\n"
    );
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(call(&mut s, b"AUTH nope\r\n", 1), wrongpass);
    assert_eq!(call(&mut s, b"AUTH s3cre\r\n", 1), wrongpass);
    assert_eq!(call(&mut s, b"AUTH bob s3cret\r\n", 1), wrongpass);
    assert_eq!(
        text(&call(&mut s, b"HELLO 3\r\n", 1)),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(call(&mut s, b"HELLO 3 AUTH default bad\r\n", 1), wrongpass);
    assert_eq!(call(&mut s, b"AUTH s3cret\r\n", 1), b"+OK\r\n");
    assert_eq!(call(&mut s, b"PING\r\n", 1), b"+PONG\r\n");
    // The two-argument form, and HELLO AUTH on a fresh connection.
    let mut s2 = srv.raw();
    assert_eq!(
        call(&mut s2, b"AUTH default s3cret\r\nPING\r\n", 2),
        b"+OK\r\n+PONG\r\n"
    );
    let mut s3 = srv.raw();
    let out = call(
        &mut s3,
        b"HELLO 3 AUTH default s3cret SETNAME app\r\nCLIENT GETNAME\r\n",
        2,
    );
    assert!(out.starts_with(b"%7\r\n"), "{}", text(&out));
    assert!(out.ends_with(b"$3\r\napp\r\n"), "{}", text(&out));
    // RESET logs the connection out again.
    assert_eq!(
        call(&mut s, b"RESET\r\nPING\r\n", 2),
        b"+RESET\r\n-NOAUTH Authentication required.\r\n"
    );
    // The redis crate authenticates from the URL.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", srv.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn hello_switches_protocol() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let out = call(&mut s, b"HELLO 3\r\n", 1);
    let want_head = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:";
    assert!(out.starts_with(want_head), "{}", text(&out));
    assert!(
        out.ends_with(b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
        "{}",
        text(&out)
    );
    // Now RESP3: nulls are `_`, CLIENT INFO is a verbatim string.
    assert_eq!(call(&mut s, b"CLIENT GETNAME\r\n", 1), b"_\r\n");
    let info = call(&mut s, b"CLIENT INFO\r\n", 1);
    assert!(info.starts_with(b"="), "{}", text(&info));
    assert!(text(&info).contains(" resp=3\n"), "{}", text(&info));
    // Errors leave the protocol alone.
    assert_eq!(
        call(&mut s, b"HELLO 4\r\n", 1),
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        call(&mut s, b"HELLO x\r\n", 1),
        b"-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        call(&mut s, b"HELLO 3 FOO\r\n", 1),
        b"-ERR Syntax error in HELLO option 'FOO'\r\n"
    );
    assert_eq!(
        call(&mut s, b"HELLO 3 AUTH default\r\n", 1),
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    assert_eq!(
        call(&mut s, b"HELLO 2 SETNAME \"a b\"\r\n", 1),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    // HELLO without arguments answers in the current protocol; HELLO 2 goes back.
    assert!(call(&mut s, b"HELLO\r\n", 1).starts_with(b"%7\r\n"));
    let out = call(&mut s, b"HELLO 2\r\n", 1);
    assert!(out.starts_with(b"*14\r\n"), "{}", text(&out));
    assert_eq!(call(&mut s, b"CLIENT GETNAME\r\n", 1), b"$-1\r\n");
}

#[test]
fn client_name_id_list() {
    let srv = Server::start(&["--threads", "2"]);
    let mut c = srv.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    assert!(id > 0);
    let none: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
    assert_eq!(none, None);
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query::<()>(&mut c)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
    assert_eq!(name, "worker-1");
    let err = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("a b")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Client names cannot contain spaces"),
        "{err}"
    );
    // Several connections (on both threads) are listed, one line each, in Redis's field order.
    let _others: Vec<_> = (0..3).map(|_| srv.client()).collect();
    let mut list = String::new();
    let four = wait_until(Duration::from_secs(5), || {
        list = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        list.lines().count() == 4
    });
    assert!(four, "{list}");
    let lines: Vec<&str> = list.lines().collect();
    let mine = lines
        .iter()
        .find(|l| l.contains("name=worker-1"))
        .expect("own line");
    assert!(
        mine.starts_with(&format!("id={id} addr=127.0.0.1:")),
        "{mine}"
    );
    let keys: Vec<&str> = mine
        .split(' ')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        keys.join(" "),
        "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem \
         multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
    );
    assert!(
        mine.contains(" flags=N ")
            && mine.contains(" cmd=client|list ")
            && mine.ends_with(" resp=2"),
        "{mine}"
    );
    // Filters.
    let one: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(one.lines().count(), 1);
    let none: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut c)
        .unwrap();
    assert_eq!(none, "");
    let err = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("foo")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("Unknown client type 'foo'"),
        "{err}"
    );
    let err = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg("x")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("Invalid client ID"), "{err}");
    let err = redis::cmd("CLIENT")
        .arg("FOO")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown subcommand 'FOO'. Try CLIENT HELP."),
        "{err}"
    );
    let err = redis::cmd("CLIENT")
        .arg("ID")
        .arg("x")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'client|id' command"),
        "{err}"
    );
    redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("mylib")
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("CLIENT")
        .arg("NO-EVICT")
        .arg("on")
        .query::<()>(&mut c)
        .unwrap();
    redis::cmd("CLIENT")
        .arg("NO-TOUCH")
        .arg("off")
        .query::<()>(&mut c)
        .unwrap();
}

#[test]
fn client_kill_forms() {
    let srv = Server::start(&["--threads", "2"]);
    let mut admin = srv.raw();
    // Victims on both threads.
    let mut victims: Vec<TcpStream> = (0..4).map(|_| srv.raw()).collect();
    let mut ids = Vec::new();
    for v in &mut victims {
        let out = text(&call(v, b"CLIENT ID\r\n", 1));
        ids.push(out.trim_start_matches(':').trim().parse::<u64>().unwrap());
    }
    // New form by ID: the number killed.
    let out = call(
        &mut admin,
        format!("CLIENT KILL ID {}\r\n", ids[0]).as_bytes(),
        1,
    );
    assert_eq!(out, b":1\r\n");
    assert!(closed(&mut victims[0]));
    assert_eq!(call(&mut admin, b"CLIENT KILL ID 999999\r\n", 1), b":0\r\n");
    assert_eq!(
        call(&mut admin, b"CLIENT KILL ID 0\r\n", 1),
        b"-ERR client-id should be greater than 0\r\n"
    );
    assert_eq!(
        call(&mut admin, b"CLIENT KILL FOO bar\r\n", 1),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut admin, b"CLIENT KILL USER nobody\r\n", 1),
        b"-ERR No such user 'nobody'\r\n"
    );
    // Old form by address: OK, or an error when nobody matches.
    let list = text(&call(
        &mut admin,
        format!("CLIENT LIST ID {}\r\n", ids[1]).as_bytes(),
        1,
    ));
    let addr = list
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(
        call(&mut admin, format!("CLIENT KILL {addr}\r\n").as_bytes(), 1),
        b"+OK\r\n"
    );
    assert!(closed(&mut victims[1]));
    assert_eq!(
        call(&mut admin, b"CLIENT KILL 1.2.3.4:5\r\n", 1),
        b"-ERR No such client\r\n"
    );
    // TYPE normal kills everyone else but skips the caller by default.
    let three = wait_until(Duration::from_secs(5), || {
        text(&call(&mut admin, b"CLIENT LIST\r\n", 1))
            .matches("id=")
            .count()
            == 3
    });
    assert!(three);
    let out = text(&call(&mut admin, b"CLIENT KILL TYPE normal\r\n", 1));
    assert_eq!(out, ":2\r\n");
    assert!(closed(&mut victims[2]) && closed(&mut victims[3]));
    assert_eq!(call(&mut admin, b"PING\r\n", 1), b"+PONG\r\n");
    // SKIPME no: the caller gets its reply, then is closed.
    assert_eq!(call(&mut admin, b"CLIENT KILL SKIPME no\r\n", 1), b":1\r\n");
    assert!(closed(&mut admin));
}

#[test]
fn client_reply_modes() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let out = call(
        &mut s,
        b"CLIENT REPLY OFF\r\nPING\r\nSET a 1\r\nCLIENT REPLY ON\r\nGET a\r\n",
        2,
    );
    assert_eq!(out, b"+OK\r\n$1\r\n1\r\n");
    let out = call(
        &mut s,
        b"CLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\n",
        1,
    );
    assert_eq!(out, b"$5\r\nshown\r\n");
    assert_eq!(
        call(&mut s, b"CLIENT REPLY maybe\r\n", 1),
        b"-ERR syntax error\r\n"
    );
}

#[test]
fn quit_closes_and_reset_restores_defaults() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    assert_eq!(call(&mut s, b"QUIT\r\n", 1), b"+OK\r\n");
    assert!(closed(&mut s));
    let mut s = srv.raw();
    let out = call(
        &mut s,
        b"SELECT 2\r\nCLIENT SETNAME x\r\nCLIENT REPLY SKIP\r\nHELLO 3\r\n",
        2,
    );
    assert_eq!(out, b"+OK\r\n+OK\r\n");
    assert_eq!(call(&mut s, b"HELLO 3\r\n", 1)[..4], *b"%7\r\n");
    assert_eq!(call(&mut s, b"RESET\r\n", 1), b"+RESET\r\n");
    // Back to RESP2 (null bulk), no name, db 0.
    assert_eq!(call(&mut s, b"CLIENT GETNAME\r\n", 1), b"$-1\r\n");
    let info = text(&call(&mut s, b"CLIENT INFO\r\n", 1));
    assert!(
        info.contains(" db=0 ") && info.contains(" resp=2\n"),
        "{info}"
    );
    assert!(info.starts_with('$'), "{info}");
}
