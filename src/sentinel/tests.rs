//! Unit tests of the sentinel's pieces that need no network: config lines, votes, replica
//! choice, hello and INFO handling. The whole failover story is in tests/sentinel.rs.

use super::discovery::{parse_info, process_hello};
use super::election::{leader, vote};
use super::failover::best_replica;
use super::instance::*;
use super::link::Link;
use super::*;

const ME: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PEER1: &str = "1111111111111111111111111111111111111111";
const PEER2: &str = "2222222222222222222222222222222222222222";

fn state(lines: &[&str]) -> State {
    let mut st = State::new(Config::new());
    st.s.myid = ME.into();
    for l in lines {
        let argv: Vec<String> = l.split(' ').map(String::from).collect();
        conf::apply(&mut st, &argv).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    st
}

#[test]
fn config_lines_round_trip() {
    let st = state(&[
        "monitor mymaster 127.0.0.1 6379 2",
        "down-after-milliseconds mymaster 1000",
        "failover-timeout mymaster 10000",
        "parallel-syncs mymaster 2",
        "config-epoch mymaster 3",
        "leader-epoch mymaster 4",
        "known-replica mymaster 127.0.0.1 6380",
        &format!("known-sentinel mymaster 127.0.0.1 26380 {PEER1}"),
        "current-epoch 5",
    ]);
    let lines = conf::lines(&st);
    for want in [
        format!("sentinel myid {ME}"),
        "sentinel monitor mymaster 127.0.0.1 6379 2".into(),
        "sentinel down-after-milliseconds mymaster 1000".into(),
        "sentinel failover-timeout mymaster 10000".into(),
        "sentinel parallel-syncs mymaster 2".into(),
        "sentinel config-epoch mymaster 3".into(),
        "sentinel leader-epoch mymaster 4".into(),
        "sentinel known-replica mymaster 127.0.0.1 6380".into(),
        format!("sentinel known-sentinel mymaster 127.0.0.1 26380 {PEER1}"),
        "sentinel current-epoch 5".into(),
    ] {
        assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
    }
    // Loading the written lines gives the same lines again.
    let again: Vec<&str> = lines.iter().map(|l| &l["sentinel ".len()..]).collect();
    assert_eq!(conf::lines(&state(&again)), lines);
}

#[test]
fn bad_config_lines_are_refused_with_redis_texts() {
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    let mut apply = |l: &str| {
        let argv: Vec<String> = l.split(' ').map(String::from).collect();
        conf::apply(&mut st, &argv).unwrap_err()
    };
    assert_eq!(
        apply("monitor m 127.0.0.1 6380 2"),
        "Duplicated master name."
    );
    assert_eq!(
        apply("monitor n 127.0.0.1 6380 0"),
        "Quorum must be 1 or greater."
    );
    assert_eq!(
        apply("down-after-milliseconds x 10"),
        "No such master with specified name."
    );
    assert_eq!(
        apply("myid nothex"),
        "Malformed Sentinel id in myid option."
    );
    assert_eq!(
        apply("no-such-option 1"),
        "Unrecognized sentinel configuration statement."
    );
    assert_eq!(
        apply("monitor n 127.0.0.1 notaport 2"),
        "Invalid argument 'notaport'"
    );
}

#[test]
fn one_vote_per_epoch() {
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    let (s, m) = (&mut st.s, &mut st.masters[0]);
    assert_eq!(vote(s, m, 1, PEER1, 0), (Some(PEER1.into()), 1));
    assert_eq!(s.current_epoch, 1);
    // A second candidate in the same epoch gets our earlier answer.
    assert_eq!(vote(s, m, 1, PEER2, 0), (Some(PEER1.into()), 1));
    // An older epoch cannot take the vote back.
    assert_eq!(vote(s, m, 0, PEER2, 0), (Some(PEER1.into()), 1));
    assert_eq!(vote(s, m, 2, PEER2, 0), (Some(PEER2.into()), 2));
    assert_eq!(s.current_epoch, 2);
}

fn add_sentinel(st: &mut State, runid: &str, port: u16) -> usize {
    let id = st.s.next_id();
    let m = &mut st.masters[0];
    let addr = Addr::new("127.0.0.1", port);
    let mut k = Instance::new(id, F_SENTINEL, runid.into(), addr, 0);
    k.runid = Some(runid.into());
    m.sentinels.push(k);
    m.sentinels.len() - 1
}

#[test]
fn a_leader_needs_a_majority_and_the_quorum() {
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    let a = add_sentinel(&mut st, PEER1, 26380);
    let b = add_sentinel(&mut st, PEER2, 26381);
    st.s.current_epoch = 1;
    // Nobody else voted: our own vote alone is 1 of 3.
    let (s, m) = (&mut st.s, &mut st.masters[0]);
    assert_eq!(leader(s, m, 1, 0), None);
    // Both peers voted for PEER1 in this epoch; we voted for ourselves already (above).
    for k in [a, b] {
        m.sentinels[k].leader = Some(PEER1.into());
        m.sentinels[k].leader_epoch = 1;
    }
    assert_eq!(leader(s, m, 1, 0), Some(PEER1.into()));
    // Votes from an older epoch do not count.
    s.current_epoch = 2;
    assert_eq!(leader(s, m, 2, 0), None);
}

#[test]
fn replica_choice_follows_priority_then_offset_then_runid() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    let now = 1_000_000;
    let specs = [
        ("b", 100, 50, true),
        ("a", 100, 50, true),
        ("c", 10, 1, true),
        ("d", 0, 999, true),
        ("e", 1, 999, false),
    ];
    for (i, (runid, prio, offset, up)) in specs.iter().enumerate() {
        let id = st.s.next_id();
        let a = Addr::new("127.0.0.1", 7000 + i as u16);
        let mut r = Instance::new(id, F_SLAVE, a.to_string(), a, now);
        r.runid = Some(runid.repeat(40));
        r.slave_priority = *prio;
        r.slave_repl_offset = *offset;
        r.info_refresh_ms = now;
        if *up {
            r.cmd = Some(Link::open(addr, 1).unwrap());
            r.pubsub = Some(Link::open(addr, 2).unwrap());
        }
        st.masters[0].replicas.push(r);
    }
    let pick = |st: &State| best_replica(&st.s, &st.masters[0], now);
    // "e" has the best priority but no link; "d" has priority 0: the best usable is "c".
    assert_eq!(pick(&st), Some(2));
    st.masters[0].replicas[2].flags |= F_S_DOWN;
    // Same priority and offset: the smaller run ID wins.
    assert_eq!(pick(&st), Some(1));
    st.masters[0].replicas[0].slave_repl_offset = 51;
    assert_eq!(pick(&st), Some(0));
    // Stale INFO excludes a replica.
    st.masters[0].replicas[0].info_refresh_ms = 1;
    assert_eq!(pick(&st), Some(1));
}

#[test]
fn hello_messages_teach_sentinels_epochs_and_new_masters() {
    let mut st = state(&[
        "monitor m 127.0.0.1 6379 2",
        "known-replica m 127.0.0.1 6380",
    ]);
    for bad in [
        "",
        "a,b,c",
        &format!("127.0.0.1,x,{PEER1},1,m,127.0.0.1,6379,0"),
        &format!("127.0.0.1,26380,{PEER1},1,other,127.0.0.1,6379,0"),
        &format!("127.0.0.1,26380,{ME},1,m,127.0.0.1,6379,0"),
        "127.0.0.1,26380,short,1,m,127.0.0.1,6379,0",
        &format!("127.0.0.1,26380,{PEER1},-1,m,127.0.0.1,6379,0"),
        &format!("127.0.0.1,26380,{PEER1},1,m,127.0.0.1,99999,0"),
    ] {
        process_hello(&mut st, bad);
        assert!(st.masters[0].sentinels.is_empty(), "accepted {bad:?}");
    }
    process_hello(
        &mut st,
        &format!("127.0.0.1,26380,{PEER1},4,m,127.0.0.1,6379,0"),
    );
    assert_eq!(st.masters[0].sentinels.len(), 1);
    assert_eq!(st.s.current_epoch, 4);
    // The same sentinel at a new address replaces the old entry.
    process_hello(
        &mut st,
        &format!("127.0.0.2,26380,{PEER1},4,m,127.0.0.1,6379,0"),
    );
    assert_eq!(st.masters[0].sentinels.len(), 1);
    assert_eq!(st.masters[0].sentinels[0].addr.host, "127.0.0.2");
    // A newer configuration epoch with another master address: follow it.
    process_hello(
        &mut st,
        &format!("127.0.0.2,26380,{PEER1},5,m,127.0.0.1,6380,5"),
    );
    let m = &st.masters[0];
    assert_eq!((m.addr.port, m.config_epoch), (6380, 5));
    let mut replicas: Vec<u16> = m.replicas.iter().map(|r| r.addr.port).collect();
    replicas.sort();
    assert_eq!(replicas, vec![6379]);
    assert_eq!(m.sentinels.len(), 1, "sentinels survive the address change");
    // An older configuration does not move it back.
    process_hello(
        &mut st,
        &format!("127.0.0.2,26380,{PEER1},5,m,127.0.0.1,6379,4"),
    );
    assert_eq!(st.masters[0].addr.port, 6380);
    assert!(st
        .s
        .events
        .iter()
        .any(|(k, v)| k == "+switch-master" && v == "m 127.0.0.1 6379 127.0.0.1 6380"));
}

#[test]
fn info_parsing_reads_roles_and_replicas() {
    let info = parse_info(
        "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
         slave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\n\
         slave1:10.0.0.2,6381,online\r\nslave_bogus:x\r\nmaster_repl_offset:10\r\n\
         run_id:0123456789012345678901234567890123456789\r\n",
    );
    assert_eq!(info.role_master, Some(true));
    assert_eq!(
        info.replicas,
        vec![("127.0.0.1".into(), 6380), ("10.0.0.2".into(), 6381)]
    );
    assert!(info.run_id.is_some());
    let info = parse_info(
        "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\n\
         slave_priority:7\r\nslave_repl_offset:99\r\nreplica_announced:0\r\n\
         master_link_down_since_seconds:-1\r\n",
    );
    assert_eq!(info.role_master, Some(false));
    assert_eq!(info.master_port, Some(6379));
    assert_eq!(info.master_link_up, Some(true));
    assert_eq!(info.slave_priority, Some(7));
    assert_eq!(info.slave_repl_offset, Some(99));
    assert_eq!(info.replica_announced, Some(false));
    assert_eq!(info.master_link_down_since_s, Some(0));
}

#[test]
fn a_clock_jump_enters_tilt_and_stops_acting() {
    let mut st = state(&["monitor m 127.0.0.1 1 2"]);
    st.masters[0].flags |= F_S_DOWN | F_O_DOWN;
    st.s.previous_tick_ms = crate::runtime::clock::unix_ms() - 5000;
    monitor::timer(&mut st);
    assert!(st.s.tilt);
    assert!(st.s.events.iter().any(|(k, _)| k == "+tilt"));
    // In TILT no failover starts, even for an objectively down master.
    assert_eq!(st.masters[0].failover_state, FailoverState::None);
    monitor::timer(&mut st);
    assert!(st.s.tilt, "TILT lasts tilt-period");
    st.s.tilt_start_ms = 1;
    monitor::timer(&mut st);
    assert!(!st.s.tilt);
    assert!(st.s.events.iter().any(|(k, _)| k == "-tilt"));
}

#[test]
fn hostile_epochs_do_not_overflow() {
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    process_hello(
        &mut st,
        &format!("127.0.0.1,26380,{PEER1},18446744073709551615,m,127.0.0.1,6379,0"),
    );
    assert_eq!(st.s.current_epoch, u64::MAX);
    let (s, m) = (&mut st.s, &mut st.masters[0]);
    super::failover::start(s, m, 0);
    assert_eq!(s.current_epoch, u64::MAX);
}

#[test]
fn script_rename_and_reboot_lines_are_kept() {
    let st = state(&[
        "monitor m 127.0.0.1 6379 2",
        "notification-script m /bin/true",
        "rename-command m CONFIG GUESSME",
        "master-reboot-down-after-period m 5000",
    ]);
    let lines = conf::lines(&st);
    for want in [
        "sentinel notification-script m /bin/true",
        "sentinel rename-command m CONFIG GUESSME",
        "sentinel master-reboot-down-after-period m 5000",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "missing {want:?} in {lines:?}"
        );
    }
}

#[test]
fn hellos_with_unusable_addresses_are_ignored() {
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    for bad in [
        format!("127.0.0.1 x,26380,{PEER1},1,m,127.0.0.1,6379,0"),
        format!("some.host,26380,{PEER1},1,m,127.0.0.1,6379,0"),
        format!("127.0.0.1,0,{PEER1},1,m,127.0.0.1,6379,0"),
        format!("127.0.0.1,26380,{PEER1},1,m,bad\nhost,6380,9"),
    ] {
        process_hello(&mut st, &bad);
    }
    assert!(st.masters[0].sentinels.is_empty());
    assert_eq!(st.masters[0].addr.port, 6379);
    assert_eq!(st.masters[0].config_epoch, 0);
}

#[test]
fn renamed_commands_go_out_under_their_new_names() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut link = Link::open(listener.local_addr().unwrap(), 1).unwrap();
    link.renames = vec![("CONFIG".into(), "GUESSME".into())];
    let (mut peer, _) = listener.accept().unwrap();
    link.command(&[b"config", b"REWRITE"], link::Expect::Discard)
        .unwrap();
    link.command(&[b"PING"], link::Expect::Ping).unwrap();
    let want = b"*2\r\n$7\r\nGUESSME\r\n$7\r\nREWRITE\r\n*1\r\n$4\r\nPING\r\n";
    let mut got = vec![0u8; want.len()];
    peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got[..], &want[..]);
    // The config line round-trips.
    let st = state(&[
        "monitor m 127.0.0.1 6379 2",
        "rename-command m CONFIG GUESSME",
    ]);
    assert_eq!(
        st.masters[0].renames,
        vec![("CONFIG".to_string(), "GUESSME".to_string())]
    );
}

#[test]
fn addresses_compare_resolved_and_show_the_ip_unless_hostnames_are_announced() {
    use std::sync::atomic::Ordering;
    // Only this test turns the flags on; every other test uses IP literals, for which the
    // flags change nothing.
    RESOLVE_HOSTNAMES.store(true, Ordering::Relaxed);
    let a = Addr::new("localhost", 6379);
    let resolved = a.ip.clone();
    assert!(resolved == "127.0.0.1" || resolved == "::1", "{resolved}");
    assert!(a.same(&resolved, 6379));
    assert!(a.same("LOCALHOST", 6379));
    assert!(!a.same(&resolved, 6380));
    assert_eq!(a.shown(), resolved);
    ANNOUNCE_HOSTNAMES.store(true, Ordering::Relaxed);
    assert_eq!(a.shown(), "localhost");
    ANNOUNCE_HOSTNAMES.store(false, Ordering::Relaxed);
    RESOLVE_HOSTNAMES.store(false, Ordering::Relaxed);
    let b = Addr::new("127.0.0.1", 1);
    assert_eq!((b.shown(), b.ip.as_str()), ("127.0.0.1", "127.0.0.1"));
}

#[test]
fn odd_vote_replies_are_ignored() {
    use crate::resp::value::Value;
    let mut st = state(&["monitor m 127.0.0.1 6379 2"]);
    let k = add_sentinel(&mut st, PEER1, 26380);
    let peer = &mut st.masters[0].sentinels[k];
    for bad in [
        Value::Int(1),
        Value::Array(vec![Value::Int(1)]),
        Value::Array(vec![
            Value::Bulk(b"1".to_vec()),
            Value::Bulk(b"*".to_vec()),
            Value::Int(0),
        ]),
        Value::Array(vec![
            Value::Int(1),
            Value::Bulk(vec![b'x'; 1000]),
            Value::Int(3),
        ]),
        Value::Array(vec![
            Value::Int(1),
            Value::Bulk(PEER2.into()),
            Value::Int(-1),
        ]),
    ] {
        super::election::on_master_down_reply(peer, &bad, 5);
        assert_eq!(
            (peer.flags & F_MASTER_DOWN, peer.leader.is_none()),
            (0, true),
            "{bad:?}"
        );
    }
    let good = Value::Array(vec![
        Value::Int(1),
        Value::Bulk(PEER2.into()),
        Value::Int(3),
    ]);
    super::election::on_master_down_reply(peer, &good, 5);
    assert_ne!(peer.flags & F_MASTER_DOWN, 0);
    assert_eq!(
        (peer.leader.as_deref(), peer.leader_epoch),
        (Some(PEER2), 3)
    );
}
