//! Pub/sub through the binary: the exact bytes of a subscribe/publish/unsubscribe session
//! compared with a real redis-server (RESP2 and RESP3), delivery across threads with receiver
//! counts, per-publisher order, and PUBSUB introspection.

mod common;

use common::{q, raw_exchange_n, wait_until, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Reads from `s` until `want` bytes arrived or `timeout` passed.
fn read_n(s: &mut TcpStream, want: usize, timeout: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() < want && Instant::now() < deadline {
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
    out
}

/// The bytes a subscriber and a publisher see for one scripted session on the server at `port`.
fn session(port: u16, resp3: bool) -> (String, String) {
    let mut sub = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut publ = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut sub_bytes = Vec::new();
    if resp3 {
        sub.write_all(b"HELLO 3\r\n").unwrap();
        // Skip HELLO's map (its fields differ between servers by design: version, id...).
        let hello = read_n(&mut sub, 1, Duration::from_secs(5));
        assert!(
            hello.starts_with(b"%"),
            "{}",
            String::from_utf8_lossy(&hello)
        );
        std::thread::sleep(Duration::from_millis(100));
        let _ = read_n(&mut sub, usize::MAX, Duration::from_millis(100));
    }
    sub.write_all(b"SUBSCRIBE news sport\r\nPSUBSCRIBE n*\r\n")
        .unwrap();
    sub_bytes.extend(read_n(&mut sub, 1, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(100));
    sub_bytes.extend(read_n(&mut sub, usize::MAX, Duration::from_millis(100)));
    publ.write_all(b"PUBLISH news hello\r\nPUBLISH sport goal\r\nPUBLISH none x\r\n")
        .unwrap();
    let pub_bytes = read_n(&mut publ, 12, Duration::from_secs(5));
    // Named first: with several channels left, Redis's no-argument UNSUBSCRIBE goes in hash
    // order, which no other server reproduces.
    sub.write_all(
        b"PING\r\nGET k\r\nUNSUBSCRIBE news\r\nPUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\n",
    )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sub_bytes.extend(read_n(&mut sub, usize::MAX, Duration::from_millis(300)));
    (
        String::from_utf8_lossy(&sub_bytes).into_owned(),
        String::from_utf8_lossy(&pub_bytes).into_owned(),
    )
}

#[test]
fn session_bytes_match_real_redis() {
    let Some((real, srv)) = common::real_and_ringkv(&["--threads", "2"]) else {
        return;
    };
    for resp3 in [false, true] {
        let (rs, rp) = session(real.port, resp3);
        let (ks, kp) = session(srv.port, resp3);
        assert_eq!(rp, kp, "publisher replies (resp3={resp3})");
        assert_eq!(rs, ks, "subscriber bytes (resp3={resp3})");
    }
}

/// Subscribers on both threads receive every message of one publisher, in order, and PUBLISH
/// counts them.
#[test]
fn delivery_across_threads_in_order() {
    let srv = Server::start(&["--threads", "2"]);
    let mut subs: Vec<TcpStream> = (0..4).map(|_| srv.raw()).collect();
    for s in &mut subs {
        s.write_all(b"SUBSCRIBE feed\r\n").unwrap();
        let confirm = read_n(s, 33, Duration::from_secs(5));
        assert!(
            confirm.ends_with(b":1\r\n"),
            "{}",
            String::from_utf8_lossy(&confirm)
        );
    }
    let mut c = srv.client();
    let n = 500;
    for i in 0..n {
        let receivers: i64 = q(&mut c, &["PUBLISH", "feed", &format!("m{i}")]).unwrap();
        assert_eq!(receivers, 4);
    }
    let expected: String = (0..n)
        .map(|i| {
            let p = format!("m{i}");
            format!(
                "*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n${}\r\n{p}\r\n",
                p.len()
            )
        })
        .collect();
    for s in &mut subs {
        let got = read_n(s, expected.len(), Duration::from_secs(10));
        assert_eq!(String::from_utf8_lossy(&got), expected);
    }
    // Introspection, then a closed subscriber stops counting.
    assert_eq!(
        q::<Vec<String>>(&mut c, &["PUBSUB", "CHANNELS"]).unwrap(),
        vec!["feed"]
    );
    assert_eq!(
        q::<Vec<(String, i64)>>(&mut c, &["PUBSUB", "NUMSUB", "feed", "other"]).unwrap(),
        vec![("feed".to_string(), 4), ("other".to_string(), 0)]
    );
    drop(subs.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while q::<i64>(&mut c, &["PUBLISH", "feed", "x"]).unwrap() != 3 {
        assert!(Instant::now() < deadline, "closed subscriber still counted");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// RESP2 subscribed mode refuses other commands with Redis's text; RESET leaves it.
#[test]
fn subscribed_mode_restrictions() {
    let srv = Server::start(&[]);
    let mut s = srv.raw();
    let req = b"SUBSCRIBE c\r\nSET a 1\r\nRESET\r\nSET a 1\r\n";
    let want = "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n-ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n+RESET\r\n+OK\r\n";
    let got = raw_exchange_n(&mut s, req, want.len(), Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), want);
    let mut c = srv.client();
    assert_eq!(
        q::<i64>(&mut c, &["PUBLISH", "c", "x"]).unwrap(),
        0,
        "RESET unsubscribed"
    );
}

/// A client with subscriptions is a pubsub client, as in Redis: CLIENT LIST shows its counts
/// and flag P and lists it under TYPE pubsub, not normal; CLIENT KILL TYPE pubsub closes it
/// (Sentinel's failover transaction relies on that) and TYPE normal spares it.
#[test]
fn subscribers_are_pubsub_clients() {
    let k = Server::start(&["--threads", "2"]);
    let mut sub = k.raw();
    let want: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n\
        *3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n\
        *3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n";
    let got = raw_exchange_n(
        &mut sub,
        b"SUBSCRIBE a b\r\nPSUBSCRIBE p*\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&got));
    let mut c = k.client();
    let pubsub: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "pubsub"]).unwrap();
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(pubsub.contains(" flags=P ") && pubsub.contains(" sub=2 psub=1 ssub=0 "));
    let normal: String = q(&mut c, &["CLIENT", "LIST", "TYPE", "normal"]).unwrap();
    assert_eq!(normal.lines().count(), 1, "only this client: {normal}");
    assert_eq!(
        q::<i64>(
            &mut c,
            &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]
        )
        .unwrap(),
        0
    );
    assert_eq!(
        q::<i64>(&mut c, &["CLIENT", "KILL", "TYPE", "pubsub"]).unwrap(),
        1
    );
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    let _ = sub.read_to_end(&mut rest);
    // The socket closes as the connection is torn down on its thread: poll for its
    // unregistering rather than assume it is done when the peer sees EOF.
    let mut list = String::new();
    let gone = wait_until(Duration::from_secs(5), || {
        list = q(&mut c, &["CLIENT", "LIST"]).unwrap();
        list.lines().count() == 1
    });
    assert!(gone, "{list}");
}

/// No message follows the unsubscribe reply, however fast another thread publishes: a RESP2
/// client that unsubscribed reads the reply to its next command next (until 2026-12-08
/// messages already on their way from the publisher's thread were still written after it).
#[test]
fn no_message_arrives_after_unsubscribing() {
    let srv = Server::start(&["--threads", "2"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishers: Vec<_> = (0..2)
        .map(|_| {
            let mut c = srv.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let mut pipe = redis::pipe();
                    for _ in 0..64 {
                        pipe.cmd("PUBLISH").arg("ch").arg("p").ignore();
                    }
                    let _: () = pipe.query(&mut c).unwrap();
                }
            })
        })
        .collect();
    let confirm = "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n";
    for round in 0..12 {
        let mut s = srv.raw();
        s.write_all(b"SUBSCRIBE ch\r\n").unwrap();
        // Wait for messages to flow, then leave and ask for something.
        let got = read_n(&mut s, 4096, Duration::from_secs(5));
        assert!(got.len() >= 4096, "round {round}: messages do not flow");
        s.write_all(b"UNSUBSCRIBE ch\r\nGET nokey\r\n").unwrap();
        let mut all = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut buf = [0u8; 65536];
        while Instant::now() < deadline {
            if let Ok(n) = s.read(&mut buf) {
                all.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&all);
            if text.contains(confirm) && text.ends_with("$-1\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&all).into_owned();
        let at = text
            .find(confirm)
            .unwrap_or_else(|| panic!("round {round}: no confirmation"));
        assert_eq!(
            &text[at + confirm.len()..],
            "$-1\r\n",
            "round {round}: something came between the unsubscribe reply and GET's"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in publishers {
        p.join().unwrap();
    }
}
