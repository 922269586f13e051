//! The failover state machine, one master at a time, as Redis runs it:
//!
//! ```text
//! wait_start ─(elected or forced)─► select_slave ─► send_slaveof_noone ─► wait_promotion
//!     │                                  │                                   │ (INFO: role master)
//!     └─ not elected in time: abort      └─ no good replica: abort           ▼
//!                                                   update_config ◄─ reconf_slaves
//!                                                        │ (all replicas follow, or timeout)
//!                                                        ▼
//!                                       +switch-master: the promoted replica is the master
//! ```
//!
//! Instances are reconfigured with one transaction, as redis-sentinel sends it:
//! `MULTI; SLAVEOF host port (or NO ONE); CONFIG REWRITE; CLIENT KILL TYPE normal;
//! CLIENT KILL TYPE pubsub; EXEC`.

use super::discovery::add_replica;
use super::election;
use super::events::{describe, Level};
use super::instance::*;
use super::link::Expect;
use super::monitor::{desc, send, Who};
use super::{Sentinel, MAX_DESYNC_MS};

/// Starts a failover of an objectively down master when none ran recently (Redis's
/// sentinelStartFailoverIfNeeded). True when one started.
pub fn start_if_needed(s: &mut Sentinel, master: &mut Instance, now: u64) -> bool {
    if master.flags & F_O_DOWN == 0 || master.flags & F_FAILOVER_IN_PROGRESS != 0 {
        return false;
    }
    if now.saturating_sub(master.failover_start_ms) < master.failover_timeout_ms.saturating_mul(2) {
        if master.failover_delay_logged != master.failover_start_ms {
            master.failover_delay_logged = master.failover_start_ms;
            crate::server::log::warning(&format!(
                "Next failover delay: I will not start a failover before {}",
                ctime(
                    (master
                        .failover_start_ms
                        .saturating_add(master.failover_timeout_ms.saturating_mul(2)))
                        / 1000
                )
            ));
        }
        return false;
    }
    start(s, master, now);
    true
}

/// Enters wait_start in a new epoch.
pub fn start(s: &mut Sentinel, master: &mut Instance, now: u64) {
    master.failover_state = FailoverState::WaitStart;
    master.flags |= F_FAILOVER_IN_PROGRESS;
    s.current_epoch = s.current_epoch.saturating_add(1);
    master.failover_epoch = s.current_epoch;
    s.dirty = true;
    s.warn(master, "+new-epoch", &s.current_epoch.to_string());
    s.warn(master, "+try-failover", &describe(master, None));
    master.failover_start_ms = now + s.rand() % MAX_DESYNC_MS;
    master.failover_state_change_ms = now;
}

pub fn state_machine(s: &mut Sentinel, master: &mut Instance, now: u64) {
    if master.flags & F_FAILOVER_IN_PROGRESS == 0 {
        return;
    }
    match master.failover_state {
        FailoverState::WaitStart => wait_start(s, master, now),
        FailoverState::SelectSlave => select_slave(s, master, now),
        FailoverState::SendSlaveofNoone => send_slaveof_noone(s, master, now),
        FailoverState::WaitPromotion => {
            if now.saturating_sub(master.failover_state_change_ms) > master.failover_timeout_ms {
                abort_with(s, master, "-failover-abort-slave-timeout", now);
            }
        }
        FailoverState::ReconfSlaves => reconf_next_replicas(s, master, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

fn wait_start(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let epoch = master.failover_epoch;
    let leader = election::leader(s, master, epoch, now);
    let elected = leader.as_deref() == Some(s.myid.as_str());
    if !elected && master.flags & F_FORCE_FAILOVER == 0 {
        let election_timeout = s.timing.election_timeout_ms.min(master.failover_timeout_ms);
        if now.saturating_sub(master.failover_start_ms) > election_timeout {
            abort_with(s, master, "-failover-abort-not-elected", now);
        }
        return;
    }
    s.warn(master, "+elected-leader", &describe(master, None));
    if s.simfailure_flags & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
        crate::server::log::warning("Simulated failure: crash after election");
        std::process::exit(99);
    }
    master.failover_state = FailoverState::SelectSlave;
    master.failover_state_change_ms = now;
    s.warn(
        master,
        "+failover-state-select-slave",
        &describe(master, None),
    );
}

pub const SIMFAILURE_CRASH_AFTER_ELECTION: u32 = 1;
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u32 = 2;

/// The best replica to promote (Redis's sentinelSelectSlave): up, linked, recently heard from,
/// priority not 0, not cut from the master for too long; then lowest priority, highest
/// replication offset, smallest run ID.
pub fn best_replica(s: &Sentinel, master: &Instance, now: u64) -> Option<usize> {
    let mut max_master_down_ms = master.down_after_ms.saturating_mul(10);
    if master.flags & F_S_DOWN != 0 {
        max_master_down_ms =
            max_master_down_ms.saturating_add(now.saturating_sub(master.s_down_since_ms));
    }
    let info_validity_ms = if master.flags & F_S_DOWN != 0 {
        s.timing.ping_period_ms.saturating_mul(5)
    } else {
        s.timing.info_period_ms.saturating_mul(3)
    };
    let mut best: Option<usize> = None;
    for (i, r) in master.replicas.iter().enumerate() {
        if r.flags & (F_S_DOWN | F_O_DOWN) != 0
            || r.disconnected()
            || now.saturating_sub(r.last_avail_ms) > s.timing.ping_period_ms.saturating_mul(5)
            || r.slave_priority == 0
            || now.saturating_sub(r.info_refresh_ms) > info_validity_ms
            || r.master_link_down_ms > max_master_down_ms
        {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => {
                let o = &master.replicas[b];
                (r.slave_priority, std::cmp::Reverse(r.slave_repl_offset))
                    .cmp(&(o.slave_priority, std::cmp::Reverse(o.slave_repl_offset)))
                    .then_with(|| match (&r.runid, &o.runid) {
                        (Some(a), Some(b)) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    })
                    == std::cmp::Ordering::Less
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

fn select_slave(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let Some(ri) = best_replica(s, master, now) else {
        abort_with(s, master, "-failover-abort-no-good-slave", now);
        return;
    };
    let d = desc(master, Who::Replica(ri));
    s.warn(master, "+selected-slave", &d);
    master.replicas[ri].flags |= F_PROMOTED;
    master.promoted = Some(master.replicas[ri].id);
    master.failover_state = FailoverState::SendSlaveofNoone;
    master.failover_state_change_ms = now;
    s.event(Level::Notice, "+failover-state-send-slaveof-noone", &d);
}

fn promoted_index(master: &Instance) -> Option<usize> {
    let id = master.promoted?;
    master.replicas.iter().position(|r| r.id == id)
}

fn send_slaveof_noone(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let Some(ri) = promoted_index(master) else {
        abort(master, now);
        return;
    };
    if master.replicas[ri].disconnected() {
        if now.saturating_sub(master.failover_state_change_ms) > master.failover_timeout_ms {
            abort_with(s, master, "-failover-abort-slave-timeout", now);
        }
        return;
    }
    if !send_slaveof(&mut master.replicas[ri], None) {
        return;
    }
    let d = desc(master, Who::Replica(ri));
    s.event(Level::Notice, "+failover-state-wait-promotion", &d);
    master.failover_state = FailoverState::WaitPromotion;
    master.failover_state_change_ms = now;
}

/// The promoted replica reports role:master: the new configuration takes the failover epoch.
pub fn promotion_seen(s: &mut Sentinel, master: &mut Instance, ri: usize, now: u64) {
    master.config_epoch = master.failover_epoch;
    master.failover_state = FailoverState::ReconfSlaves;
    master.failover_state_change_ms = now;
    s.dirty = true;
    let d = desc(master, Who::Replica(ri));
    s.warn(master, "+promoted-slave", &d);
    if s.simfailure_flags & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
        crate::server::log::warning("Simulated failure: crash after promotion");
        std::process::exit(99);
    }
    s.warn(
        master,
        "+failover-state-reconf-slaves",
        &describe(master, None),
    );
    let from = (master.addr.shown().to_string(), master.addr.port);
    let to = &master.replicas[ri].addr;
    let to = (to.shown().to_string(), to.port);
    s.client_reconfig(master, true, (&from.0, from.1), (&to.0, to.1));
    // Tell everyone the new configuration now rather than at the next hello period.
    master.last_pub_ms = 0;
    for i in master
        .replicas
        .iter_mut()
        .chain(master.sentinels.iter_mut())
    {
        i.last_pub_ms = 0;
    }
}

/// A replica being reconfigured reports progress through INFO: sent → in progress (it points
/// at the promoted replica) → done (its link is up).
pub fn reconf_progress(s: &mut Sentinel, master: &mut Instance, ri: usize, d: &str) {
    let promoted = promoted_index(master).map(|p| master.replicas[p].addr.clone());
    let r = &mut master.replicas[ri];
    if r.flags & (F_RECONF_SENT | F_RECONF_INPROG) == 0 {
        return;
    }
    if r.flags & F_RECONF_SENT != 0 {
        if let (Some(p), Some(h)) = (&promoted, &r.slave_master_host) {
            if p.same(h, r.slave_master_port) {
                r.flags &= !F_RECONF_SENT;
                r.flags |= F_RECONF_INPROG;
                s.event(Level::Notice, "+slave-reconf-inprog", d);
            }
        }
    }
    if r.flags & F_RECONF_INPROG != 0 && r.slave_master_link_up {
        r.flags &= !F_RECONF_INPROG;
        r.flags |= F_RECONF_DONE;
        s.event(Level::Notice, "+slave-reconf-done", d);
    }
}

/// Points up to parallel-syncs replicas at a time at the promoted one, then checks for the end.
fn reconf_next_replicas(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let Some(pi) = promoted_index(master) else {
        abort(master, now);
        return;
    };
    let target = master.replicas[pi].addr.clone();
    let mut in_progress = master
        .replicas
        .iter()
        .filter(|r| r.flags & (F_RECONF_SENT | F_RECONF_INPROG) != 0)
        .count() as u32;
    for ri in 0..master.replicas.len() {
        if in_progress >= master.parallel_syncs {
            break;
        }
        let d = desc(master, Who::Replica(ri));
        let r = &mut master.replicas[ri];
        if r.flags & (F_PROMOTED | F_RECONF_DONE) != 0 {
            continue;
        }
        if r.flags & F_RECONF_SENT != 0
            && now.saturating_sub(r.slave_reconf_sent_ms) > s.timing.slave_reconf_timeout_ms
        {
            // As Redis: counted as done, yet told once more below.
            s.event(Level::Notice, "-slave-reconf-sent-timeout", &d);
            r.flags &= !F_RECONF_SENT;
            r.flags |= F_RECONF_DONE;
        }
        if r.flags & (F_RECONF_SENT | F_RECONF_INPROG) != 0 || r.disconnected() {
            continue;
        }
        if send_slaveof(r, Some(&target)) {
            r.flags |= F_RECONF_SENT;
            r.slave_reconf_sent_ms = now;
            s.event(Level::Notice, "+slave-reconf-sent", &d);
            in_progress += 1;
        }
    }
    detect_end(s, master, now);
}

fn detect_end(s: &mut Sentinel, master: &mut Instance, now: u64) {
    let Some(pi) = promoted_index(master) else {
        return;
    };
    if master.replicas[pi].flags & F_S_DOWN != 0 {
        return;
    }
    let mut not_reconfigured = master
        .replicas
        .iter()
        .filter(|r| r.flags & (F_PROMOTED | F_RECONF_DONE | F_S_DOWN) == 0)
        .count();
    let mut timeout = false;
    if now.saturating_sub(master.failover_state_change_ms) > master.failover_timeout_ms {
        not_reconfigured = 0;
        timeout = true;
        s.warn(master, "+failover-end-for-timeout", &describe(master, None));
    }
    if not_reconfigured == 0 {
        s.warn(master, "+failover-end", &describe(master, None));
        master.failover_state = FailoverState::UpdateConfig;
        master.failover_state_change_ms = now;
    }
    if timeout {
        // Best effort for the replicas still not following.
        let target = master.replicas[pi].addr.clone();
        for ri in 0..master.replicas.len() {
            let d = desc(master, Who::Replica(ri));
            let r = &mut master.replicas[ri];
            if r.flags & (F_PROMOTED | F_RECONF_DONE | F_RECONF_SENT) != 0 || r.disconnected() {
                continue;
            }
            if send_slaveof(r, Some(&target)) {
                r.flags |= F_RECONF_SENT;
                s.event(Level::Notice, "+slave-reconf-sent-be", &d);
            }
        }
    }
}

/// The failover is over: the promoted replica becomes the monitored master.
pub fn switch_to_promoted(s: &mut Sentinel, master: &mut Instance) {
    let to = match promoted_index(master) {
        Some(pi) => master.replicas[pi].addr.clone(),
        None => master.addr.clone(),
    };
    let text = format!(
        "{} {} {} {} {}",
        master.name,
        master.addr.shown(),
        master.addr.port,
        to.shown(),
        to.port
    );
    s.warn(master, "+switch-master", &text);
    reset_and_change_address(s, master, &to.host, to.port);
}

/// Moves the master to a new address: every known replica except the new master stays a
/// replica, and the old address becomes one (so a returning old master is reconfigured).
/// Sentinels are kept (Redis's sentinelResetMasterAndChangeAddress).
pub fn reset_and_change_address(s: &mut Sentinel, master: &mut Instance, host: &str, port: u16) {
    let now = crate::runtime::clock::unix_ms();
    let mut addrs: Vec<Addr> = master
        .replicas
        .iter()
        .filter(|r| !r.addr.same(host, port))
        .map(|r| r.addr.clone())
        .collect();
    if !master.addr.same(host, port) {
        addrs.push(master.addr.clone());
    }
    reset(master, now);
    master.addr = Addr::new(host, port);
    master.s_down_since_ms = 0;
    master.o_down_since_ms = 0;
    for a in addrs {
        add_replica(s, master, &a.host, a.port, now, true);
    }
    s.dirty = true;
}

/// Forgets replicas, links and failover state (SENTINEL RESET and address changes); the
/// sentinels and the configuration epoch stay.
pub fn reset(master: &mut Instance, now: u64) {
    master.replicas.clear();
    master.close_links();
    master.flags &= F_MASTER;
    master.leader = None;
    master.failover_state = FailoverState::None;
    master.failover_state_change_ms = 0;
    master.failover_start_ms = 0;
    master.promoted = None;
    master.runid = None;
    master.info.clear();
    master.info_refresh_ms = 0;
    master.slave_master_host = None;
    master.act_ping_ms = now;
    master.last_ping_ms = now;
    master.last_avail_ms = now;
    master.last_pong_ms = now;
    master.last_reconn_ms = 0;
    master.role_reported_master = true;
    master.role_reported_ms = now;
}

/// Logs the `-failover-abort-*` event `why`, then aborts.
fn abort_with(s: &mut Sentinel, master: &mut Instance, why: &str, now: u64) {
    s.warn(master, why, &describe(master, None));
    abort(master, now);
}

pub fn abort(master: &mut Instance, now: u64) {
    master.flags &= !(F_FAILOVER_IN_PROGRESS | F_FORCE_FAILOVER);
    master.failover_state = FailoverState::None;
    master.failover_state_change_ms = now;
    if let Some(pi) = promoted_index(master) {
        master.replicas[pi].flags &= !F_PROMOTED;
    }
    master.promoted = None;
}

/// Sends the reconfiguration transaction: SLAVEOF `target` (NO ONE when None). False when the
/// command link is down.
pub fn send_slaveof(i: &mut Instance, target: Option<&Addr>) -> bool {
    if i.cmd.is_none() {
        return false;
    }
    let port;
    let (host, port): (&[u8], &[u8]) = match target {
        Some(a) => {
            port = a.port.to_string();
            (a.shown().as_bytes(), port.as_bytes())
        }
        None => (b"NO", b"ONE"),
    };
    send(i, &[b"MULTI"], Expect::Discard)
        && send(i, &[b"SLAVEOF", host, port], Expect::Discard)
        && send(i, &[b"CONFIG", b"REWRITE"], Expect::Discard)
        && send(
            i,
            &[b"CLIENT", b"KILL", b"TYPE", b"normal"],
            Expect::Discard,
        )
        && send(
            i,
            &[b"CLIENT", b"KILL", b"TYPE", b"pubsub"],
            Expect::Discard,
        )
        && send(i, &[b"EXEC"], Expect::Discard)
}

/// `Thu Dec  3 17:09:35 2026`, local time, as C's ctime prints it.
fn ctime(unix_s: u64) -> String {
    let t = unix_s as libc::time_t;
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: ctime_r writes at most 26 bytes into the 64-byte buffer and NUL-terminates it.
    let p = unsafe { libc::ctime_r(&t, buf.as_mut_ptr()) };
    if p.is_null() {
        return unix_s.to_string();
    }
    // SAFETY: on success buf holds a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    text.to_string_lossy().trim_end().to_string()
}
