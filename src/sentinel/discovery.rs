//! What instances tell the sentinel: INFO replies (replicas, roles, replication state) and
//! hello messages (other sentinels, their epochs, newer configurations of a master), and how it
//! reacts: a promotion seen, an old master turned into a replica, a replica pointed back.

use super::events::{describe, Level};
use super::failover;
use super::instance::*;
use super::monitor::{desc, inst_mut, Who};
use super::{Sentinel, State, PEERS_MAX};
use crate::runtime::clock::unix_ms;
use crate::server::log;

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
    if runid == st.s.myid || runid.len() != 40 {
        return;
    }
    // Addresses go into sentinel.conf and links: only ones we could connect to.
    if !usable_addr(ip, port, st.s.resolve_hostnames)
        || !usable_addr(master_ip, master_port, st.s.resolve_hostnames)
    {
        log::verbose(&format!(
            "Ignoring a hello with an unusable address: {payload}"
        ));
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
            // Another run ID claims this address: the old entry is gone (Redis invalidates
            // it, then drops it from every master), so it no longer counts as a voter.
            let d = desc(master, Who::Sentinel(k));
            s.event(Level::Notice, "+sentinel-invalid-addr", &d);
            master.sentinels.remove(k);
        }
        if master.sentinels.len() >= PEERS_MAX {
            return;
        }
        let id = s.next_id();
        let mut k = Instance::new(id, F_SENTINEL, runid.to_string(), Addr::new(ip, port), now);
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
        s.warn(master, "+new-epoch", &epoch.to_string());
    }
    let Some(k) = known else {
        return;
    };
    if master.config_epoch < master_epoch {
        master.config_epoch = master_epoch;
        s.dirty = true;
        if !master.addr.same(master_ip, master_port) {
            let d = desc(master, Who::Sentinel(k));
            s.warn(master, "+config-update-from", &d);
            let text = format!(
                "{} {} {} {} {}",
                master.name,
                master.addr.shown(),
                master.addr.port,
                master_ip,
                master_port
            );
            s.warn(master, "+switch-master", &text);
            let from = (master.addr.shown().to_string(), master.addr.port);
            failover::reset_and_change_address(s, master, master_ip, master_port);
            let to = (master.addr.shown().to_string(), master.addr.port);
            s.client_reconfig(master, false, (&from.0, from.1), (&to.0, to.1));
        }
    }
    master.sentinels[k].last_hello_ms = now;
}

/// A host we could connect to (an IP, or a name with resolve-hostnames yes), with a port, and
/// nothing that would break a config line.
pub fn usable_addr(host: &str, port: u16, resolve_hostnames: bool) -> bool {
    port != 0
        && !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
        && super::link::resolve(host, port, resolve_hostnames).is_some()
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
pub fn refresh_info(s: &mut Sentinel, master: &mut Instance, who: Who, text: String, now: u64) {
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
                    if i.is_master() && i.reboot_down_after_ms != 0 {
                        i.reboot_since_ms = now;
                    }
                }
                i.runid = Some(id.clone());
            }
        }
        if is_replica {
            i.master_link_down_ms = info
                .master_link_down_since_s
                .unwrap_or(0)
                .saturating_mul(1000);
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
    if who == Who::Master {
        for (host, port) in &info.replicas {
            if !usable_addr(host, *port, s.resolve_hostnames) {
                continue;
            }
            if master.replicas.iter().any(|r| r.addr.same(host, *port)) {
                continue;
            }
            if master.replicas.len() >= PEERS_MAX {
                break;
            }
            add_replica(s, master, host, *port, now, true);
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
            let wait_ms = s.timing.publish_period_ms.saturating_mul(4);
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
    let points_elsewhere = !r
        .slave_master_host
        .as_deref()
        .is_some_and(|h| master.addr.same(h, r.slave_master_port));
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

/// A new replica of `master`, announced with `+slave` unless it comes from the config file.
pub fn add_replica(
    s: &mut Sentinel,
    master: &mut Instance,
    host: &str,
    port: u16,
    now: u64,
    announce: bool,
) {
    let id = s.next_id();
    let addr = Addr::new(host, port);
    let mut r = Instance::new(id, F_SLAVE, addr.to_string(), addr, now);
    r.down_after_ms = master.down_after_ms;
    master.replicas.push(r);
    if announce {
        let d = desc(master, Who::Replica(master.replicas.len() - 1));
        s.event(Level::Notice, "+slave", &d);
    }
}

/// The master is up, says it is a master, and its INFO is fresh (Redis's
/// sentinelMasterLooksSane).
fn master_looks_sane(s: &Sentinel, master: &Instance, now: u64) -> bool {
    master.flags & (F_S_DOWN | F_O_DOWN) == 0
        && master.role_reported_master
        && master.info_refresh_ms != 0
        && now.saturating_sub(master.info_refresh_ms) < s.timing.info_period_ms.saturating_mul(2)
}

/// Not subjectively down, and not down at any time in the last `ms`.
fn no_down_for(i: &Instance, ms: u64, now: u64) -> bool {
    if i.flags & F_S_DOWN != 0 {
        return false;
    }
    i.s_down_since_ms == 0 || now.saturating_sub(i.s_down_since_ms) > ms
}
