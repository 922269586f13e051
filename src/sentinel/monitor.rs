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
use super::{election, failover, Sentinel, State, HELLO_CHANNEL};
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
    run_scripts(&mut st.s, now);
}

/// Starts, reaps and times out the notification and client-reconfig scripts (`scripts.rs`),
/// with Redis's events for what went wrong.
fn run_scripts(s: &mut Sentinel, now: u64) {
    use super::scripts::Outcome;
    let (max_ms, delay_ms) = (
        s.timing.script_max_runtime_ms,
        s.timing.script_retry_delay_ms,
    );
    for outcome in s.scripts.step(now, max_ms, delay_ms) {
        match outcome {
            Outcome::Started(pid) => s.event(Level::Debug, "+script-child", &pid.to_string()),
            Outcome::Error { path, signal, exit } => s.event(
                Level::Warning,
                "-script-error",
                &format!("{path} {signal} {exit}"),
            ),
            Outcome::Timeout { path, pid } => {
                s.event(Level::Warning, "-script-timeout", &format!("{path} {pid}"))
            }
        }
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
        // Without sentinel-pass, a sentinel uses its own requirepass for its peers (the usual
        // setup: one password on every sentinel).
        match &s.sentinel_pass {
            Some(p) => (s.sentinel_user.clone(), Some(p.clone())),
            None => (
                None,
                s.config
                    .requirepass
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
            ),
        }
    } else {
        (master.auth_user.clone(), master.auth_pass.clone())
    };
    let resolve_hostnames = s.resolve_hostnames;
    let ping_period = s.timing.ping_period_ms;
    let prefix = format!("sentinel-{}", &s.myid[..8.min(s.myid.len())]);
    // Renamed commands apply to the master and its replicas, never to other sentinels.
    let renames = if who_is_sentinel(who) {
        Vec::new()
    } else {
        master.renames.clone()
    };
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
    // Each new socket gets the next generation, so a completion for an old one never matches.
    i.link_generation = i.link_generation.wrapping_add(2);
    let generation = i.link_generation;
    if i.cmd.is_none() {
        match Link::open(addr, generation) {
            Ok(mut l) => {
                l.renames = renames.clone();
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
                l.renames = renames;
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
    // Replicas of a master in trouble are watched every second; the replica being promoted
    // and those being pointed at it, every tick: each INFO that shows their new role moves the
    // failover one step (Redis waits for the 1 s INFO; polling faster changes nothing on the
    // wire but the number of INFOs).
    let info_period =
        if i.flags & (F_PROMOTED | F_RECONF_SENT | F_RECONF_INPROG) != 0 && master_busy {
            0
        } else if i.flags & F_SLAVE != 0 && (master_busy || i.master_link_down_ms != 0) {
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
        master.name,
        a.shown(),
        a.port,
        master.config_epoch
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
    let script = master.notification_script.clone();
    let script = script.as_deref();
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
        && now.saturating_sub(i.pc_last_activity_ms) > timing.publish_period_ms.saturating_mul(3)
    {
        i.pubsub = None;
    }
    let wrong_role = i.is_master()
        && !i.role_reported_master
        && now.saturating_sub(i.role_reported_ms)
            > i.down_after_ms
                .saturating_add(timing.info_period_ms.saturating_mul(2));
    // A master that rebooted must answer PONG (not LOADING) within its reboot period.
    let reboot_stuck = i.is_master()
        && i.reboot_since_ms != 0
        && now.saturating_sub(i.reboot_since_ms) > i.reboot_down_after_ms;
    if elapsed > i.down_after_ms || wrong_role || reboot_stuck {
        if i.flags & F_S_DOWN == 0 {
            i.s_down_since_ms = now;
            i.flags |= F_S_DOWN;
            s.warn_with(script, "+sdown", &d);
        }
    } else if i.flags & F_S_DOWN != 0 {
        i.flags &= !(F_S_DOWN | F_SCRIPT_KILL_SENT);
        s.warn_with(script, "-sdown", &d);
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
            s.warn(
                master,
                "+odown",
                &format!("{d} #quorum {quorum}/{}", master.quorum),
            );
        }
    } else if master.flags & F_O_DOWN != 0 {
        master.flags &= !F_O_DOWN;
        s.warn(master, "-odown", &d);
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
            let heard = l.heard;
            *slot = None;
            if !pubsub {
                cmd_link_lost(i, heard);
            }
        }
        return;
    }
    // A read error counts as a close.
    let open = l.conn.fill(super::link::OUTPUT_BYTES_MAX).unwrap_or(false);
    l.heard |= !l.conn.input.is_empty();
    let heard = l.heard;
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
            cmd_link_lost(i, heard);
        }
    }
}

/// The command link closed. When it closed before the peer ever answered, the connection was
/// refused or reset: the instance is unreachable since its last valid reply, so that is when its
/// down-after period started (a killed process is then seen down within down-after of its last
/// PONG, not one ping period later). A link that had worked (CLIENT KILL, a restart of the
/// peer) just reconnects and its next PING decides.
fn cmd_link_lost(i: &mut Instance, heard: bool) {
    if !heard && (i.act_ping_ms == 0 || i.last_avail_ms < i.act_ping_ms) {
        i.act_ping_ms = i.last_avail_ms;
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
                    if i.reboot_since_ms != 0 && text.starts_with(b"PONG") {
                        i.reboot_since_ms = 0;
                    }
                } else if text.starts_with(b"BUSY")
                    && i.flags & F_S_DOWN != 0
                    && i.flags & F_SCRIPT_KILL_SENT == 0
                {
                    // A master stuck in a script: try to get it back before failing it over.
                    if send(i, &[b"SCRIPT", b"KILL"], Expect::Discard) {
                        i.flags |= F_SCRIPT_KILL_SENT;
                    }
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
                super::discovery::refresh_info(&mut st.s, &mut st.masters[mi], who, text, now);
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
    super::discovery::process_hello(st, &payload);
}
