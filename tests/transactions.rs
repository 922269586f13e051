//! MULTI/EXEC/DISCARD/WATCH through the binary: replies and errors as Redis gives them, WATCH
//! invalidated by writes, expiry and flushes (also from another thread), and transfers between
//! counters on different shards that never change their sum.

mod common;

use common::{err, q, raw_exchange_n, Server};
use redis::Value as V;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn queue_exec_discard_and_errors() {
    let srv = Server::start(&["--threads", "2"]);
    let mut s = srv.raw();
    let req = b"MULTI\r\nSET a 1\r\nINCR a\r\nSET s x\r\nINCR s\r\nGET a\r\nEXEC\r\n";
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*5\r\n+OK\r\n:2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n$1\r\n2\r\n";
    let got = raw_exchange_n(&mut s, req, want.len(), Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&got), want);

    // A command that cannot be queued dooms the transaction.
    let req = b"MULTI\r\nSET b 1\r\nNOSUCHCMD\r\nGET\r\nEXEC\r\nEXISTS b\r\n";
    let want = "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n-ERR wrong number of arguments for 'get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n";
    let got = raw_exchange_n(&mut s, req, want.len(), Duration::from_secs(10));
    assert_eq!(String::from_utf8_lossy(&got), want);

    let mut c = srv.client();
    assert_eq!(err(q(&mut c, &["EXEC"])), "ERR EXEC without MULTI");
    assert_eq!(err(q(&mut c, &["DISCARD"])), "ERR DISCARD without MULTI");
    q::<String>(&mut c, &["MULTI"]).unwrap();
    assert_eq!(
        err(q(&mut c, &["MULTI"])),
        "ERR MULTI calls can not be nested"
    );
    assert_eq!(
        err(q(&mut c, &["WATCH", "x"])),
        "ERR WATCH inside MULTI is not allowed"
    );
    assert_eq!(q::<String>(&mut c, &["SET", "d", "1"]).unwrap(), "QUEUED");
    assert_eq!(q::<String>(&mut c, &["DISCARD"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "d"]).unwrap(), 0);
    // An empty transaction.
    q::<String>(&mut c, &["MULTI"]).unwrap();
    assert_eq!(q::<V>(&mut c, &["EXEC"]).unwrap(), V::Array(vec![]));
}

#[test]
fn watch_is_invalidated_by_changes() {
    let srv = Server::start(&["--threads", "2", "--enable-debug-command", "yes"]);
    let mut c = srv.client();
    let mut other = srv.client();
    let exec_with = |c: &mut redis::Connection| -> V {
        q::<String>(c, &["MULTI"]).unwrap();
        q::<String>(c, &["SET", "out", "done"]).unwrap();
        q::<V>(c, &["EXEC"]).unwrap()
    };
    // Untouched: runs.
    q::<String>(&mut c, &["SET", "w", "1"]).unwrap();
    q::<String>(&mut c, &["WATCH", "w"]).unwrap();
    assert_eq!(exec_with(&mut c), V::Array(vec![V::Okay]));
    // Written by another client (keys spread over both threads): EXEC is nil.
    for key in ["w", "w2", "w3", "w4"] {
        q::<String>(&mut c, &["WATCH", key]).unwrap();
        q::<String>(&mut other, &["SET", key, "2"]).unwrap();
        assert_eq!(exec_with(&mut c), V::Nil, "{key}");
    }
    // Deleted, flushed, expired.
    q::<String>(&mut c, &["WATCH", "w"]).unwrap();
    q::<i64>(&mut other, &["DEL", "w"]).unwrap();
    assert_eq!(exec_with(&mut c), V::Nil);
    q::<String>(&mut c, &["SET", "w", "1"]).unwrap();
    q::<String>(&mut c, &["WATCH", "w"]).unwrap();
    q::<String>(&mut other, &["FLUSHALL"]).unwrap();
    assert_eq!(exec_with(&mut c), V::Nil);
    q::<String>(&mut c, &["SET", "e", "1", "PX", "30"]).unwrap();
    q::<String>(&mut c, &["WATCH", "e"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while q::<i64>(&mut other, &["EXISTS", "e"]).unwrap() == 1 {
        assert!(Instant::now() < deadline, "the key never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(exec_with(&mut c), V::Nil);
    // Expired and never looked at (active expiry off, nobody reads it): EXEC still sees it,
    // as Redis 7 checks watched keys for expiry at EXEC. A key long-lived, or already expired
    // when watched, does not fail it.
    q::<V>(&mut other, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).unwrap();
    let now_ms = |c: &mut redis::Connection| -> u64 {
        let t: Vec<String> = q(c, &["TIME"]).unwrap();
        t[0].parse::<u64>().unwrap() * 1000 + t[1].parse::<u64>().unwrap() / 1000
    };
    for key in ["x1", "x2", "x3", "x4"] {
        q::<String>(&mut c, &["SET", key, "1", "PX", "100"]).unwrap();
        q::<String>(&mut c, &["SET", &format!("long-{key}"), "1", "EX", "1000"]).unwrap();
        let start = now_ms(&mut c);
        q::<String>(&mut c, &["WATCH", key, &format!("long-{key}")]).unwrap();
        let passed =
            common::wait_until(Duration::from_secs(5), || now_ms(&mut other) > start + 150);
        assert!(passed);
        assert_eq!(exec_with(&mut c), V::Nil, "{key}");
        q::<String>(&mut c, &["WATCH", &format!("long-{key}")]).unwrap();
        assert_eq!(exec_with(&mut c), V::Array(vec![V::Okay]), "{key}");
        q::<String>(&mut c, &["WATCH", key]).unwrap();
        assert_eq!(exec_with(&mut c), V::Array(vec![V::Okay]), "{key}");
    }
    q::<V>(&mut other, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]).unwrap();
    // UNWATCH forgets: a later change does not matter.
    q::<String>(&mut c, &["WATCH", "w"]).unwrap();
    q::<String>(&mut c, &["UNWATCH"]).unwrap();
    q::<String>(&mut other, &["SET", "w", "3"]).unwrap();
    assert_eq!(exec_with(&mut c), V::Array(vec![V::Okay]));
    // A write inside the client's own transaction does not abort it; a nonexistent watched key
    // that stays absent does not either.
    q::<String>(&mut c, &["WATCH", "never"]).unwrap();
    assert_eq!(exec_with(&mut c), V::Array(vec![V::Okay]));
}

/// Transfers between counters on different shards inside MULTI/EXEC, from several clients,
/// while readers sum all counters with MGET: the sum never changes.
#[test]
fn cross_shard_transfers_keep_the_sum() {
    let srv = Server::start(&["--threads", "2"]);
    let keys: Vec<String> = (0..8).map(|i| format!("acct:{i}")).collect();
    let total = 1000 * keys.len() as i64;
    {
        let mut c = srv.client();
        for k in &keys {
            q::<String>(&mut c, &["SET", k, "1000"]).unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3u64 {
        let url = srv.url();
        let keys = keys.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            let mut s = w + 7;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let a = &keys[((s >> 33) % keys.len() as u64) as usize];
                let b = &keys[((s >> 43) % keys.len() as u64) as usize];
                let amount = (s >> 55) as i64 % 10;
                let r: Vec<i64> = redis::pipe()
                    .atomic()
                    .cmd("DECRBY")
                    .arg(a)
                    .arg(amount)
                    .cmd("INCRBY")
                    .arg(b)
                    .arg(amount)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(r.len(), 2);
                n += 1;
            }
            n
        }));
    }
    let mut c = srv.client();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut checks = 0;
    while Instant::now() < deadline {
        let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
        assert_eq!(
            vals.iter().sum::<i64>(),
            total,
            "torn transfer observed: {vals:?}"
        );
        checks += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let transfers: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(
        checks > 50 && transfers > 50,
        "checks {checks}, transfers {transfers}"
    );
}

/// EXEC of a transaction that writes meets the refusals a write meets, checked when EXEC
/// arrives (the server may have started refusing writes since the commands were queued), and
/// is answered EXECABORT naming the refusal, the transaction discarded, as in Redis 7. A
/// read-only transaction still runs. EXEC with arguments aborts the transaction too.
#[test]
fn exec_meets_the_refusals_of_its_queued_writes() {
    let srv = Server::start(&["--threads", "2"]);
    let mut a = srv.raw();
    let mut admin = srv.client();
    let got = raw_exchange_n(&mut a, b"MULTI\r\nSET k v\r\n", 14, Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), "+OK\r\n+QUEUED\r\n");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg(1)
        .query(&mut admin)
        .unwrap();
    let want = "-EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write.\r\n-ERR EXEC without MULTI\r\n";
    let got = raw_exchange_n(
        &mut a,
        b"EXEC\r\nEXEC\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    let k: Option<String> = redis::cmd("GET").arg("k").query(&mut admin).unwrap();
    assert_eq!(k, None, "a refused transaction wrote");
    let want = "+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n";
    let got = raw_exchange_n(
        &mut a,
        b"MULTI\r\nGET k\r\nEXEC\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(String::from_utf8_lossy(&got), want, "a read-only EXEC runs");
    let want = "+OK\r\n+QUEUED\r\n-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n-ERR EXEC without MULTI\r\n";
    let got = raw_exchange_n(
        &mut a,
        b"MULTI\r\nGET k\r\nEXEC x\r\nEXEC\r\n",
        want.len(),
        Duration::from_secs(5),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
}
