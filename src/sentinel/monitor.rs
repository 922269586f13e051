//! Monitoring: links to every instance, the periodic PING / INFO / hello, the replies to them,
//! and the subjective and objective down checks.
//!
//! Read top to bottom, one timer tick is: [`timer`] → for every master, [`handle_instance`] on
//! the master, its replicas and its sentinels → reconnect, send what is due, check down states,
//! and for a master run the election and failover steps (`election.rs`, `failover.rs`).
//! Replies arrive through [`link_ready`] and are handled by what they answer.

use super::events::{describe, Level};
use super::instance::*;
use super::link::{resolve, Expect, Link, PENDING_MAX};
use super::{election, failover, Sentinel, State, HELLO_CHANNEL, PEERS_MAX};
use crate::resp::value::Value;
use crate::runtime::clock::unix_ms;
use crate::server::log;

/// Which instance of a master: the master itself, or an index into its replicas or sentinels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Master,
    Replica(usize),
    Sentinel(usize),
}

pub fn inst(master: &Instance, who: Who) -> &Instance {
    match who {
        Who::Master => master,
        Who::Replica(i) => &master.replicas[i],
        Who::Sentinel(i) => &master.sentinels[i],
    }
}

pub fn inst_mut(master: &mut Instance, who: Who) -> &mut Instance {
    match who {
        Who::Master => master,
        Who::Replica(i) => &mut master.replicas[i],
        Who::Sentinel(i) => &mut master.sentinels[i],
    }
}

/// The event description of `who` ("slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster ...").
pub fn desc(master: &Instance, who: Who) -> String {
    match who {
        Who::Master => describe(master, None),
        _ => describe(inst(master, who), Some(master)),
    }
}

/// Finds the instance with `id`: (master index, which one).
pub fn locate(masters: &[Instance], id: u64) -> Option<(usize, Who)> {
    for (mi, m) in masters.iter().enumerate() {
        if m.id == id {
            return Some((mi, Who::Master));
        }
        if let Some(i) = m.replicas.iter().position(|r| r.id == id) {
            return Some((mi, Who::Replica(i)));
        }
        if let Some(i) = m.sentinels.iter().position(|r| r.id == id) {
            return Some((mi, Who::Sentinel(i)));
        }
    }
    None
}

/// One timer tick.
pub fn timer(st: &mut State) {
    let now = unix_ms();
    check_tilt(&mut st.s, now);
    let mut switch = Vec::new();
    for mi in 0..st.masters.len() {
        let master = &mut st.masters[mi];
        handle_instance(&mut st.s, master, Who::Master, now);
        for r in 0..master.replicas.len() {
            handle_instance(&mut st.s, master, Who::Replica(r), now);
        }
        for k in 0..master.sentinels.len() {
            handle_instance(&mut st.s, master, Who::Sentinel(k), now);
        }
        if master.failover_state == FailoverState::UpdateConfig {
            switch.push(mi);
        }
    }
    for mi in switch {
        failover::switch_to_promoted(&mut st.s, &mut st.masters[mi]);
    }
}

/// TILT: when the clock jumps (or the process was stopped) the timing of every observation is
/// unreliable, so the sentinel only watches for a while (Redis's sentinelCheckTiltCondition).
fn check_tilt(s: &mut Sentinel, now: u64) {
    let delta = now as i64 - s.previous_tick_ms as i64;
    if delta < 0 || delta as u64 > s.timing.tilt_trigger_ms {
        s.tilt = true;
        s.tilt_start_ms = now;
        s.event(Level::Warning, "+tilt", "#tilt mode entered");
    }
    s.previous_tick_ms = now;
}

fn handle_instance(s: &mut Sentinel, master: &mut Instance, who: Who, now: u64) {
    reconnect(s, master, who, now);
    send_periodic(s, master, who, now);
    if s.tilt {
        if now.saturating_sub(s.tilt_start_ms) < s.timing.tilt_period_ms {
            return;
        }
        s.tilt = false;
        s.event(Level::Warning, "-tilt", "#tilt mode exited");
    }
    check_sdown(s, master, who, now);
    if who == Who::Master {
        check_odown(s, master, now);
        if failover::start_if_needed(s, master, now) {
            election::ask_master_state(s, master, now, true);
        }
        failover::state_machine(s, master, now);
        election::ask_master_state(s, master, now, false);
    }
}

/// Opens the links that are down, at most once per ping period.
fn reconnect(s: &mut Sentinel, master: &mut Instance, who: Who, now: u64) {
    let (user, pass) = if who_is_sentinel(who) {
        (s.sentinel_user.clone(), s.sentinel_pass.clone())
    } else {
        (master.auth_user.clone(), master.auth_pass.clone())
    };
    let resolve_hostnames = s.resolve_hostnames;
    let ping_period = s.timing.ping_period_ms;
    let prefix = format!("sentinel-{}", &s.myid[..8.min(s.myid.len())]);
    let i = inst_mut(master, who);
    if !i.disconnected() || i.addr.port == 0 {
        return;
    }
    if now.saturating_sub(i.last_reconn_ms) < ping_period {
        return;
    }
    i.last_reconn_ms = now;
    let Some(addr) = resolve(&i.addr.host, i.addr.port, resolve_hostnames) else {
        log::verbose(&format!("Can't resolve instance address {}", i.addr));
        return;
    };
    let generation = (s.rand() & 0xffff) as u16;
    if i.cmd.is_none() {
        match Link::open(addr, generation) {
            Ok(mut l) => {
                i.cc_conn_ms = now;
                let ok = login(&mut l, user.as_deref(), pass.as_deref(), &prefix, "cmd").is_ok();
                i.cmd = ok.then_some(l);
                if i.cmd.is_some() {
                    send_ping(i, now);
                }
            }
            Err(e) => log::debug(&format!("-cmd-link-reconnection {} #{e}", i.addr)),
        }
    }
    if !i.is_sentinel() && i.pubsub.is_none() {
        match Link::open(addr, generation.wrapping_add(1)) {
            Ok(mut l) => {
                i.pc_conn_ms = now;
                i.pc_last_activity_ms = now;
                let ok = login(&mut l, user.as_deref(), pass.as_deref(), &prefix, "pubsub")
                    .and_then(|_| {
                        l.command(&[b"SUBSCRIBE", HELLO_CHANNEL.as_bytes()], Expect::Discard)
                    })
                    .is_ok();
                i.pubsub = ok.then_some(l);
            }
            Err(e) => log::debug(&format!("-pubsub-link-reconnection {} #{e}", i.addr)),
        }
    }
}

fn who_is_sentinel(who: Who) -> bool {
    matches!(who, Who::Sentinel(_))
}

/// AUTH when a password is set, then CLIENT SETNAME sentinel-<id8>-<cmd|pubsub>.
fn login(
    l: &mut Link,
    user: Option<&str>,
    pass: Option<&str>,
    prefix: &str,
    kind: &str,
) -> std::io::Result<()> {
    if let Some(p) = pass {
        match user {
            Some(u) => l.command(&[b"AUTH", u.as_bytes(), p.as_bytes()], Expect::Discard)?,
            None => l.command(&[b"AUTH", p.as_bytes()], Expect::Discard)?,
        }
    }
    let name = format!("{prefix}-{kind}");
    l.command(&[b"CLIENT", b"SETNAME", name.as_bytes()], Expect::Discard)
}

fn send_ping(i: &mut Instance, now: u64) -> bool {
    let Some(l) = i.cmd.as_mut() else {
        return false;
    };
    if l.command(&[b"PING"], Expect::Ping).is_err() {
        i.cmd = None;
        return false;
    }
    i.last_ping_ms = now;
    if i.act_ping_ms == 0 {
        i.act_ping_ms = now;
    }
    true
}

/// INFO, PING and hello, each when due (Redis's sentinelSendPeriodicCommands).
fn send_periodic(s: &mut Sentinel, master: &mut Instance, who: Who, now: u64) {
    let master_busy = master.flags & (F_O_DOWN | F_FAILOVER_IN_PROGRESS) != 0;
    let hello = hello_payload_tail(s, master);
    let i = inst_mut(master, who);
    if i.disconnected() {
        return;
    }
    if i.cmd
        .as_ref()
        .is_some_and(|l| l.pending.len() >= PENDING_MAX)
    {
        return;
    }
    // Replicas of a master in trouble are watched every second: promotions must be seen fast.
    let info_period = if i.flags & F_SLAVE != 0 && (master_busy || i.master_link_down_ms != 0) {
        1000
    } else {
        s.timing.info_period_ms
    };
    let ping_period = i.down_after_ms.min(s.timing.ping_period_ms);
    if !i.is_sentinel()
        && (i.info_refresh_ms == 0 || now.saturating_sub(i.info_refresh_ms) > info_period)
        && !i
            .cmd
            .as_ref()
            .is_some_and(|l| l.pending.contains(&Expect::Info))
    {
        send(i, &[b"INFO"], Expect::Info);
    }
    if now.saturating_sub(i.last_pong_ms) > ping_period
        && now.saturating_sub(i.last_ping_ms) > ping_period / 2
    {
        send_ping(i, now);
    }
    if now.saturating_sub(i.last_pub_ms) > s.timing.publish_period_ms {
        send_hello(s, i, &hello);
    }
}

/// Sends a command on the command link; a broken link is dropped.
pub fn send(i: &mut Instance, args: &[&[u8]], expect: Expect) -> bool {
    let Some(l) = i.cmd.as_mut() else {
        return false;
    };
    if l.command(args, expect).is_err() {
        i.cmd = None;
        return false;
    }
    true
}

/// `<master name>,<master ip>,<master port>,<master config epoch>`: the part of a hello that
/// is about the master.
fn hello_payload_tail(_s: &Sentinel, master: &Instance) -> String {
    let a = master.current_addr();
    format!(
        "{},{},{},{}",
        master.name, a.host, a.port, master.config_epoch
    )
}

/// PUBLISH __sentinel__:hello `<ip>,<port>,<runid>,<current_epoch>,<master...>`.
fn send_hello(s: &Sentinel, i: &mut Instance, tail: &str) {
    let Some(l) = i.cmd.as_ref() else {
        return;
    };
    let ip = match &s.announce_ip {
        Some(ip) => ip.clone(),
        None => match l.conn.local_ip() {
            Some(ip) => ip,
            None => return,
        },
    };
    let port = if s.announce_port != 0 {
        s.announce_port
    } else {
        s.port
    };
    let payload = format!("{ip},{port},{},{},{tail}", s.myid, s.current_epoch);
    send(
        i,
        &[b"PUBLISH", HELLO_CHANNEL.as_bytes(), payload.as_bytes()],
        Expect::Publish,
    );
}

/// Subjectively down after down-after-milliseconds without a valid PING reply, or when a
/// master keeps reporting itself as a replica. Also drops links that look stuck.
fn check_sdown(s: &mut Sentinel, master: &mut Instance, who: Who, now: u64) {
    let d = desc(master, who);
    let timing = s.timing.clone();
    let i = inst_mut(master, who);
    let mut elapsed = 0;
    if i.act_ping_ms != 0 {
        elapsed = now.saturating_sub(i.act_ping_ms);
    } else if i.disconnected() {
        elapsed = now.saturating_sub(i.last_avail_ms);
    }
    if i.cmd.is_some()
        && now.saturating_sub(i.cc_conn_ms) > timing.min_link_reconnect_period_ms
        && i.act_ping_ms != 0
        && now.saturating_sub(i.act_ping_ms) > i.down_after_ms / 2
        && now.saturating_sub(i.last_pong_ms) > i.down_after_ms / 2
    {
        i.cmd = None;
    }
    if i.pubsub.is_some()
        && now.saturating_sub(i.pc_conn_ms) > timing.min_link_reconnect_period_ms
        && now.saturating_sub(i.pc_last_activity_ms) > timing.publish_period_ms * 3
    {
        i.pubsub = None;
    }
    let wrong_role = i.is_master()
        && !i.role_reported_master
        && now.saturating_sub(i.role_reported_ms) > i.down_after_ms + timing.info_period_ms * 2;
    if elapsed > i.down_after_ms || wrong_role {
        if i.flags & F_S_DOWN == 0 {
            i.s_down_since_ms = now;
            i.flags |= F_S_DOWN;
            s.event(Level::Warning, "+sdown", &d);
        }
    } else if i.flags & F_S_DOWN != 0 {
        i.flags &= !F_S_DOWN;
        s.event(Level::Warning, "-sdown", &d);
    }
}

/// Objectively down: this sentinel and enough others (their IS-MASTER-DOWN-BY-ADDR answers)
/// see the master down to reach its quorum.
fn check_odown(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let mut quorum = 0;
    let mut odown = false;
    if master.flags & F_S_DOWN != 0 {
        quorum = 1 + master
            .sentinels
            .iter()
            .filter(|k| k.flags & F_MASTER_DOWN != 0)
            .count() as u32;
        odown = quorum >= master.quorum;
    }
    let d = describe(master, None);
    if odown {
        if master.flags & F_O_DOWN == 0 {
            master.flags |= F_O_DOWN;
            master.o_down_since_ms = now;
            s.event(
                Level::Warning,
                "+odown",
                &format!("{d} #quorum {quorum}/{}", master.quorum),
            );
        }
    } else if master.flags & F_O_DOWN != 0 {
        master.flags &= !F_O_DOWN;
        s.event(Level::Warning, "-odown", &d);
    }
}

/// A link's socket is ready: read and handle its replies, or write what is queued.
pub fn link_ready(st: &mut State, id: u64, generation: u16, pubsub: bool, write: bool) {
    let Some((mi, who)) = locate(&st.masters, id) else {
        return;
    };
    let i = inst_mut(&mut st.masters[mi], who);
    let slot = if pubsub { &mut i.pubsub } else { &mut i.cmd };
    let Some(l) = slot.as_mut() else {
        return;
    };
    if l.conn.generation != generation {
        return;
    }
    l.conn.polled(write);
    if write {
        if l.conn.flush().is_err() {
            *slot = None;
        }
        return;
    }
    // A read error counts as a close.
    let open = l.conn.fill(super::link::OUTPUT_BYTES_MAX).unwrap_or(false);
    // Handle every complete reply, even when the peer closed right after sending them.
    loop {
        let i = inst_mut(&mut st.masters[mi], who);
        let slot = if pubsub { &mut i.pubsub } else { &mut i.cmd };
        let Some(l) = slot.as_mut() else {
            return;
        };
        match l.next_reply() {
            Ok(Some((expect, v))) => {
                if pubsub {
                    i.pc_last_activity_ms = unix_ms();
                    on_pubsub_message(st, v);
                } else {
                    on_reply(st, mi, who, expect.unwrap_or(Expect::Discard), v);
                }
                // The handler may have reset the master: find the instance again.
                if locate(&st.masters, id) != Some((mi, who)) {
                    return;
                }
            }
            Ok(None) => break,
            Err(e) => {
                log::verbose(&format!("Protocol error from {}: {e}", i.addr));
                *slot = None;
                return;
            }
        }
    }
    if !open {
        let i = inst_mut(&mut st.masters[mi], who);
        if pubsub {
            i.pubsub = None;
        } else {
            i.cmd = None;
        }
    }
}

fn on_reply(st: &mut State, mi: usize, who: Who, expect: Expect, v: Value) {
    let now = unix_ms();
    match expect {
        Expect::Discard => {}
        Expect::Ping => {
            let i = inst_mut(&mut st.masters[mi], who);
            if let Some(text) = v.bytes() {
                if text.starts_with(b"PONG")
                    || text.starts_with(b"LOADING")
                    || text.starts_with(b"MASTERDOWN")
                {
                    i.last_avail_ms = now;
                    i.act_ping_ms = 0;
                }
            }
            i.last_pong_ms = now;
        }
        Expect::Publish => {
            if !v.is_error() {
                inst_mut(&mut st.masters[mi], who).last_pub_ms = now;
            }
        }
        Expect::Info => {
            if let Value::Bulk(text) = v {
                let text = String::from_utf8_lossy(&text).into_owned();
                refresh_info(&mut st.s, &mut st.masters[mi], who, text, now);
            }
        }
        Expect::MasterDown => {
            let m = &mut st.masters[mi];
            let i = inst_mut(m, who);
            election::on_master_down_reply(i, &v, now);
        }
    }
}

fn on_pubsub_message(st: &mut State, v: Value) {
    let Value::Array(items) = v else {
        return;
    };
    if items.len() != 3 || items[0].bytes() != Some(b"message") {
        return;
    }
    let Some(payload) = items[2].bytes() else {
        return;
    };
    let payload = String::from_utf8_lossy(payload).into_owned();
    if payload.contains(&st.s.myid) {
        return;
    }
    process_hello(st, &payload);
}

/// A hello from another sentinel (through a pub/sub link, or a PUBLISH to us): learn the
/// sentinel, its epoch, and a newer configuration of the master (Redis's
/// sentinelProcessHelloMessage).
pub fn process_hello(st: &mut State, payload: &str) {
    let t: Vec<&str> = payload.split(',').collect();
    if t.len() != 8 {
        return;
    }
    let (Ok(port), Ok(epoch), Ok(master_port), Ok(master_epoch)) = (
        t[1].parse::<u16>(),
        t[3].parse::<u64>(),
        t[6].parse::<u16>(),
        t[7].parse::<u64>(),
    ) else {
        log::verbose(&format!("Ignoring a malformed hello: {payload}"));
        return;
    };
    let (ip, runid, name, master_ip) = (t[0], t[2], t[4], t[5]);
    if runid == st.s.myid || runid.len() != 40 || ip.is_empty() || master_ip.is_empty() {
        return;
    }
    let Some(mi) = st.master_index(name) else {
        return;
    };
    let now = unix_ms();
    let s = &mut st.s;
    let master = &mut st.masters[mi];
    let mut known = master
        .sentinels
        .iter()
        .position(|k| k.addr.same(ip, port) && k.runid.as_deref() == Some(runid));
    if known.is_none() {
        // Same run ID at a new address: the sentinel moved.
        let before = master.sentinels.len();
        master
            .sentinels
            .retain(|k| k.runid.as_deref() != Some(runid));
        let moved = master.sentinels.len() != before;
        if moved {
            s.event(
                Level::Notice,
                "+sentinel-address-switch",
                &format!("{} ip {ip} port {port} for {runid}", describe(master, None)),
            );
        } else if let Some(k) = master.sentinels.iter().position(|k| k.addr.same(ip, port)) {
            // Another run ID claims this address: the old entry's address is no longer valid.
            let d = desc(master, Who::Sentinel(k));
            s.event(Level::Notice, "+sentinel-invalid-addr", &d);
            master.sentinels[k].addr.port = 0;
            master.sentinels[k].close_links();
        }
        if master.sentinels.len() >= PEERS_MAX {
            return;
        }
        let id = s.next_id();
        let mut k = Instance::new(
            id,
            F_SENTINEL,
            runid.to_string(),
            Addr {
                host: ip.to_string(),
                port,
            },
            now,
        );
        k.runid = Some(runid.to_string());
        k.down_after_ms = master.down_after_ms;
        k.quorum = master.quorum;
        master.sentinels.push(k);
        let at = master.sentinels.len() - 1;
        if !moved {
            let d = desc(master, Who::Sentinel(at));
            s.event(Level::Notice, "+sentinel", &d);
        }
        s.dirty = true;
        known = Some(at);
    }
    if epoch > s.current_epoch {
        s.current_epoch = epoch;
        s.dirty = true;
        s.event(Level::Warning, "+new-epoch", &epoch.to_string());
    }
    let Some(k) = known else {
        return;
    };
    if master.config_epoch < master_epoch {
        master.config_epoch = master_epoch;
        s.dirty = true;
        if !master.addr.same(master_ip, master_port) {
            let d = desc(master, Who::Sentinel(k));
            s.event(Level::Warning, "+config-update-from", &d);
            let text = format!(
                "{} {} {} {} {}",
                master.name, master.addr.host, master.addr.port, master_ip, master_port
            );
            s.event(Level::Warning, "+switch-master", &text);
            failover::reset_and_change_address(s, master, master_ip, master_port);
            return;
        }
    }
    master.sentinels[k].last_hello_ms = now;
}

/// What one INFO reply says.
#[derive(Default, Debug)]
pub struct Info {
    pub run_id: Option<String>,
    pub role_master: Option<bool>,
    pub replicas: Vec<(String, u16)>,
    pub master_link_down_since_s: Option<u64>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: Option<bool>,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
}

pub fn parse_info(text: &str) -> Info {
    let mut info = Info::default();
    for line in text.lines().take(10_000) {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_end();
        match key {
            "run_id" if value.len() == 40 => info.run_id = Some(value.to_string()),
            "role" => info.role_master = Some(value == "master"),
            "master_host" => info.master_host = Some(value.to_string()),
            "master_port" => info.master_port = value.parse().ok(),
            "master_link_status" => info.master_link_up = Some(value == "up"),
            "master_link_down_since_seconds" => {
                info.master_link_down_since_s = value.parse::<i64>().ok().map(|v| v.max(0) as u64)
            }
            "slave_priority" | "replica_priority" => info.slave_priority = value.parse().ok(),
            "slave_repl_offset" => info.slave_repl_offset = value.parse().ok(),
            "replica_announced" => info.replica_announced = Some(value == "1"),
            k if k.starts_with("slave") && k[5..].bytes().all(|c| c.is_ascii_digit()) => {
                if let Some(addr) = replica_line(value) {
                    info.replicas.push(addr);
                }
            }
            _ => {}
        }
    }
    info
}

/// `ip=127.0.0.1,port=6380,state=online,offset=...,lag=0` (or the old `ip,port,state`).
fn replica_line(value: &str) -> Option<(String, u16)> {
    if value.contains('=') {
        let mut ip = None;
        let mut port = None;
        for kv in value.split(',') {
            match kv.split_once('=') {
                Some(("ip", v)) => ip = Some(v.to_string()),
                Some(("port", v)) => port = v.parse().ok(),
                _ => {}
            }
        }
        Some((ip?, port?))
    } else {
        let mut it = value.split(',');
        Some((it.next()?.to_string(), it.next()?.parse().ok()?))
    }
}

/// Applies an INFO reply: discovered replicas, role changes, and the reactions to them
/// (promotion seen, a returning old master turned into a replica, replicas reconfigured).
fn refresh_info(s: &mut Sentinel, master: &mut Instance, who: Who, text: String, now: u64) {
    let info = parse_info(&text);
    let d = desc(master, who);
    let is_replica = matches!(who, Who::Replica(_));
    {
        let i = inst_mut(master, who);
        i.info = text;
        i.info_refresh_ms = now;
        if let Some(id) = &info.run_id {
            if i.runid.as_deref() != Some(id) {
                if i.runid.is_some() {
                    s.event(Level::Notice, "+reboot", &d);
                }
                i.runid = Some(id.clone());
            }
        }
        if is_replica {
            i.master_link_down_ms = info.master_link_down_since_s.unwrap_or(0) * 1000;
            if let Some(p) = info.slave_priority {
                i.slave_priority = p;
            }
            if let Some(o) = info.slave_repl_offset {
                i.slave_repl_offset = o;
            }
            if let Some(a) = info.replica_announced {
                i.replica_announced = a;
            }
            if let Some(up) = info.master_link_up {
                i.slave_master_link_up = up;
            }
            if info.master_host.is_some()
                && (i.slave_master_host != info.master_host
                    || Some(i.slave_master_port) != info.master_port)
            {
                i.slave_master_host = info.master_host.clone();
                i.slave_master_port = info.master_port.unwrap_or(0);
                i.slave_conf_change_ms = now;
            }
        }
        if let Some(role_master) = info.role_master {
            if role_master != i.role_reported_master {
                i.role_reported_master = role_master;
                i.role_reported_ms = now;
                if !role_master {
                    i.slave_conf_change_ms = now;
                }
                let kind = if i.is_master() == role_master {
                    "+role-change"
                } else {
                    "-role-change"
                };
                let role = if role_master { "master" } else { "slave" };
                s.event(
                    Level::Verbose,
                    kind,
                    &format!("{d} new reported role is {role}"),
                );
            }
        }
    }
    // A master tells us its replicas.
    if who == Who::Master && info.role_master == Some(true) {
        for (host, port) in &info.replicas {
            if master.replicas.iter().any(|r| r.addr.same(host, *port)) {
                continue;
            }
            if master.replicas.len() >= PEERS_MAX {
                break;
            }
            add_replica(s, master, host, *port, now);
            s.dirty = true;
        }
    }
    if s.tilt {
        return;
    }
    let Who::Replica(ri) = who else {
        return;
    };
    let Some(role_master) = info.role_master else {
        return;
    };
    if role_master {
        let promoted = master.replicas[ri].flags & F_PROMOTED != 0;
        if promoted
            && master.flags & F_FAILOVER_IN_PROGRESS != 0
            && master.failover_state == FailoverState::WaitPromotion
        {
            failover::promotion_seen(s, master, ri, now);
        } else {
            // A replica that says it is a master (often the old master, back after a failover):
            // give the other sentinels time to tell us of a newer config, then make it a replica.
            let wait_ms = s.timing.publish_period_ms * 4;
            let r = &master.replicas[ri];
            if !promoted
                && master_looks_sane(s, master, now)
                && no_down_for(r, wait_ms, now)
                && now.saturating_sub(r.role_reported_ms) > wait_ms
            {
                let target = master.addr.clone();
                if failover::send_slaveof(&mut master.replicas[ri], Some(&target)) {
                    s.event(Level::Notice, "+convert-to-slave", &d);
                }
            }
        }
        return;
    }
    // A replica of another master: point it back at ours.
    let r = &master.replicas[ri];
    let points_elsewhere = r.slave_master_port != master.addr.port
        || !r
            .slave_master_host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&master.addr.host));
    if points_elsewhere && r.slave_master_host.is_some() {
        let wait_ms = master.failover_timeout_ms;
        if master_looks_sane(s, master, now)
            && no_down_for(r, wait_ms, now)
            && now.saturating_sub(r.slave_conf_change_ms) > wait_ms
        {
            let target = master.addr.clone();
            if failover::send_slaveof(&mut master.replicas[ri], Some(&target)) {
                s.event(Level::Notice, "+fix-slave-config", &d);
            }
        }
    }
    failover::reconf_progress(s, master, ri, &d);
}

pub fn add_replica(s: &mut Sentinel, master: &mut Instance, host: &str, port: u16, now: u64) {
    let id = s.next_id();
    let addr = Addr {
        host: host.to_string(),
        port,
    };
    let mut r = Instance::new(id, F_SLAVE, addr.to_string(), addr, now);
    r.down_after_ms = master.down_after_ms;
    master.replicas.push(r);
    let d = desc(master, Who::Replica(master.replicas.len() - 1));
    s.event(Level::Notice, "+slave", &d);
}

/// The master is up, says it is a master, and its INFO is fresh (Redis's
/// sentinelMasterLooksSane).
fn master_looks_sane(s: &Sentinel, master: &Instance, now: u64) -> bool {
    master.flags & (F_S_DOWN | F_O_DOWN | F_FAILOVER_IN_PROGRESS) == 0
        && master.role_reported_master
        && master.info_refresh_ms != 0
        && now.saturating_sub(master.info_refresh_ms) < s.timing.info_period_ms * 2
}

/// Not subjectively down, and not down at any time in the last `ms`.
fn no_down_for(i: &Instance, ms: u64, now: u64) -> bool {
    if i.flags & F_S_DOWN != 0 {
        return false;
    }
    i.s_down_since_ms == 0 || now.saturating_sub(i.s_down_since_ms) > ms
}
