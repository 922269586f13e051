//! The sentinel's state in sentinel.conf: read at start from the `sentinel ...` lines, and
//! written back (temp file, fsync, rename; the user's other lines kept) whenever it changes, so
//! a restarted sentinel has the same ID, epochs and known instances.

use super::discovery::add_replica;
use std::sync::atomic::Ordering;

use super::instance::*;
use super::scripts;
use super::{State, MASTERS_MAX, PEERS_MAX};
use crate::config::{Config, ConfigError};
use crate::runtime::clock::unix_ms;
use crate::server::log;

/// Applies every `sentinel ...` line of the configuration. Err: the whole fatal message.
pub fn load(st: &mut State, config: &Config) -> Result<(), String> {
    for (n, argv) in config.sentinel_lines.iter().enumerate() {
        if let Err(msg) = apply(st, argv) {
            let src = config.sentinel_sources.get(n);
            let line = src.map(|s| (s.line, s.text.as_str()));
            return Err(ConfigError::framed(line, &msg).message);
        }
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("Invalid argument '{s}'"))
}

/// One `sentinel <option> ...` line (Redis's sentinelHandleConfiguration).
pub fn apply(st: &mut State, argv: &[String]) -> Result<(), String> {
    let Some(first) = argv.first() else {
        return Err("Unrecognized sentinel configuration statement.".into());
    };
    let opt = first.to_ascii_lowercase();
    let n = argv.len();
    let now = unix_ms();
    let master_arg = |st: &mut State, name: &str| -> Result<usize, String> {
        st.master_index(name)
            .ok_or_else(|| "No such master with specified name.".to_string())
    };
    match (opt.as_str(), n) {
        ("monitor", 5) => {
            let quorum: i64 = parse(&argv[4])?;
            if quorum <= 0 {
                return Err("Quorum must be 1 or greater.".into());
            }
            let port: u16 = parse(&argv[3])?;
            create_master(st, &argv[1], &argv[2], port, quorum as u32)?;
        }
        ("down-after-milliseconds", 3) => {
            let ms: i64 = parse(&argv[2])?;
            if ms <= 0 {
                return Err("negative or zero time parameter.".into());
            }
            let mi = master_arg(st, &argv[1])?;
            set_down_after(&mut st.masters[mi], ms as u64);
        }
        ("failover-timeout", 3) => {
            let ms: i64 = parse(&argv[2])?;
            if ms <= 0 {
                return Err("negative or zero time parameter.".into());
            }
            let mi = master_arg(st, &argv[1])?;
            st.masters[mi].failover_timeout_ms = ms as u64;
        }
        ("parallel-syncs", 3) => {
            let mi = master_arg(st, &argv[1])?;
            st.masters[mi].parallel_syncs = parse::<u32>(&argv[2])?.max(1);
        }
        ("notification-script" | "client-reconfig-script", 3) => {
            let mi = master_arg(st, &argv[1])?;
            if !scripts::executable(&argv[2]) {
                return Err(if opt == "notification-script" {
                    "Notification script seems non existing or non executable".into()
                } else {
                    "Client reconfiguration script seems non existing or non executable".into()
                });
            }
            let m = &mut st.masters[mi];
            let slot = if opt == "notification-script" {
                &mut m.notification_script
            } else {
                &mut m.client_reconfig_script
            };
            *slot = Some(argv[2].clone());
        }
        ("auth-pass", 3) => {
            let mi = master_arg(st, &argv[1])?;
            st.masters[mi].auth_pass = Some(argv[2].clone());
        }
        ("auth-user", 3) => {
            let mi = master_arg(st, &argv[1])?;
            st.masters[mi].auth_user = Some(argv[2].clone());
        }
        ("current-epoch", 2) => {
            let e: u64 = parse(&argv[1])?;
            st.s.current_epoch = st.s.current_epoch.max(e);
        }
        ("myid", 2) => {
            if argv[1].len() != 40 || !argv[1].bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err("Malformed Sentinel id in myid option.".into());
            }
            st.s.myid = argv[1].to_ascii_lowercase();
        }
        ("config-epoch", 3) => {
            let mi = master_arg(st, &argv[1])?;
            let e: u64 = parse(&argv[2])?;
            st.masters[mi].config_epoch = e;
            st.s.current_epoch = st.s.current_epoch.max(e);
        }
        ("leader-epoch", 3) => {
            let mi = master_arg(st, &argv[1])?;
            let e: u64 = parse(&argv[2])?;
            st.masters[mi].leader_epoch = e;
            st.s.current_epoch = st.s.current_epoch.max(e);
        }
        ("known-slave" | "known-replica", 4) => {
            let mi = master_arg(st, &argv[1])?;
            let port: u16 = parse(&argv[3])?;
            let m = &mut st.masters[mi];
            if !m.replicas.iter().any(|r| r.addr.same(&argv[2], port))
                && m.replicas.len() < PEERS_MAX
            {
                add_replica(&mut st.s, m, &argv[2], port, now, false);
            }
        }
        ("known-sentinel", 4 | 5) => {
            let mi = master_arg(st, &argv[1])?;
            let port: u16 = parse(&argv[3])?;
            let runid = argv.get(4).cloned();
            if runid.as_deref() == Some(st.s.myid.as_str()) {
                return Ok(());
            }
            let id = st.s.next_id();
            let m = &mut st.masters[mi];
            if m.sentinels.len() >= PEERS_MAX {
                return Ok(());
            }
            let addr = Addr::new(&argv[2], port);
            let name = runid.clone().unwrap_or_else(|| addr.to_string());
            let mut k = Instance::new(id, F_SENTINEL, name, addr, now);
            k.runid = runid;
            k.down_after_ms = m.down_after_ms;
            k.quorum = m.quorum;
            m.sentinels.push(k);
        }
        ("rename-command", 4) => {
            let mi = master_arg(st, &argv[1])?;
            let m = &mut st.masters[mi];
            m.renames
                .retain(|(from, _)| !from.eq_ignore_ascii_case(&argv[2]));
            if !argv[2].eq_ignore_ascii_case(&argv[3]) {
                m.renames.push((argv[2].clone(), argv[3].clone()));
            }
            m.close_links();
        }
        ("announce-ip", 2) => {
            st.s.announce_ip = (!argv[1].is_empty()).then(|| argv[1].clone());
        }
        ("announce-port", 2) => st.s.announce_port = parse(&argv[1])?,
        ("deny-scripts-reconfig", 2) => st.s.deny_scripts_reconfig = yes_no(&argv[1])?,
        ("resolve-hostnames", 2) => {
            st.s.resolve_hostnames = yes_no(&argv[1])?;
            RESOLVE_HOSTNAMES.store(st.s.resolve_hostnames, Ordering::Relaxed);
        }
        ("announce-hostnames", 2) => {
            st.s.announce_hostnames = yes_no(&argv[1])?;
            ANNOUNCE_HOSTNAMES.store(st.s.announce_hostnames, Ordering::Relaxed);
        }
        ("sentinel-user", 2) => st.s.sentinel_user = (!argv[1].is_empty()).then(|| argv[1].clone()),
        ("sentinel-pass", 2) => st.s.sentinel_pass = (!argv[1].is_empty()).then(|| argv[1].clone()),
        ("master-reboot-down-after-period", 3) => {
            let mi = master_arg(st, &argv[1])?;
            st.masters[mi].reboot_down_after_ms = parse::<u64>(&argv[2])?;
        }
        _ => return Err("Unrecognized sentinel configuration statement.".into()),
    }
    Ok(())
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("Please specify yes or no.".into()),
    }
}

/// A new monitored master (SENTINEL MONITOR and `sentinel monitor`).
pub fn create_master(
    st: &mut State,
    name: &str,
    host: &str,
    port: u16,
    quorum: u32,
) -> Result<(), String> {
    if st.master_index(name).is_some() {
        return Err("Duplicated master name.".into());
    }
    if st.masters.len() >= MASTERS_MAX {
        return Err("Too many monitored masters.".into());
    }
    if port == 0 {
        return Err("Invalid port number".into());
    }
    if host.parse::<std::net::IpAddr>().is_err() && !st.s.resolve_hostnames {
        return Err("Can't resolve instance hostname.".into());
    }
    let id = st.s.next_id();
    let mut m = Instance::new(
        id,
        F_MASTER,
        name.to_string(),
        Addr::new(host, port),
        unix_ms(),
    );
    m.quorum = quorum;
    m.down_after_ms = st.s.timing.default_down_after_ms;
    m.failover_timeout_ms = st.s.timing.default_failover_timeout_ms;
    st.masters.push(m);
    Ok(())
}

/// down-after-milliseconds applies to the master and everything hanging off it.
pub fn set_down_after(m: &mut Instance, ms: u64) {
    m.down_after_ms = ms;
    for i in m.replicas.iter_mut().chain(m.sentinels.iter_mut()) {
        i.down_after_ms = ms;
    }
}

/// The `sentinel ...` lines that describe the current state.
pub fn lines(st: &State) -> Vec<String> {
    let s = &st.s;
    let mut out = vec![format!("sentinel myid {}", s.myid)];
    if !s.deny_scripts_reconfig {
        out.push("sentinel deny-scripts-reconfig no".into());
    }
    if s.resolve_hostnames {
        out.push("sentinel resolve-hostnames yes".into());
    }
    if s.announce_hostnames {
        out.push("sentinel announce-hostnames yes".into());
    }
    for m in &st.masters {
        // Mid-failover, the promoted replica is already the master in the saved view.
        let current = m.current_addr();
        out.push(format!(
            "sentinel monitor {} {} {} {}",
            m.name,
            current.shown(),
            current.port,
            m.quorum
        ));
        if m.down_after_ms != super::DEFAULT_DOWN_AFTER_MS {
            out.push(format!(
                "sentinel down-after-milliseconds {} {}",
                m.name, m.down_after_ms
            ));
        }
        if m.failover_timeout_ms != super::DEFAULT_FAILOVER_TIMEOUT_MS {
            out.push(format!(
                "sentinel failover-timeout {} {}",
                m.name, m.failover_timeout_ms
            ));
        }
        if m.parallel_syncs != 1 {
            out.push(format!(
                "sentinel parallel-syncs {} {}",
                m.name, m.parallel_syncs
            ));
        }
        if let Some(u) = &m.auth_user {
            out.push(format!("sentinel auth-user {} {}", m.name, u));
        }
        if let Some(p) = &m.auth_pass {
            out.push(format!("sentinel auth-pass {} {}", m.name, p));
        }
        if let Some(p) = &m.notification_script {
            out.push(format!("sentinel notification-script {} {}", m.name, p));
        }
        if let Some(p) = &m.client_reconfig_script {
            out.push(format!("sentinel client-reconfig-script {} {}", m.name, p));
        }
        if m.reboot_down_after_ms != 0 {
            out.push(format!(
                "sentinel master-reboot-down-after-period {} {}",
                m.name, m.reboot_down_after_ms
            ));
        }
        for (from, to) in &m.renames {
            out.push(format!("sentinel rename-command {} {from} {to}", m.name));
        }
        out.push(format!(
            "sentinel config-epoch {} {}",
            m.name, m.config_epoch
        ));
        out.push(format!(
            "sentinel leader-epoch {} {}",
            m.name, m.leader_epoch
        ));
        for r in &m.replicas {
            let a = if r.addr == *current { &m.addr } else { &r.addr };
            out.push(format!(
                "sentinel known-replica {} {} {}",
                m.name,
                a.shown(),
                a.port
            ));
        }
        for k in &m.sentinels {
            let Some(runid) = &k.runid else { continue };
            if k.addr.port == 0 {
                continue;
            }
            out.push(format!(
                "sentinel known-sentinel {} {} {} {}",
                m.name,
                k.addr.shown(),
                k.addr.port,
                runid
            ));
        }
    }
    out.push(format!("sentinel current-epoch {}", s.current_epoch));
    if let Some(ip) = &s.announce_ip {
        out.push(format!("sentinel announce-ip {ip}"));
    }
    if s.announce_port != 0 {
        out.push(format!("sentinel announce-port {}", s.announce_port));
    }
    if let Some(u) = &s.sentinel_user {
        out.push(format!("sentinel sentinel-user {u}"));
    }
    if let Some(p) = &s.sentinel_pass {
        out.push(format!("sentinel sentinel-pass {p}"));
    }
    out
}

/// Rewrites sentinel.conf now (Redis's sentinelFlushConfig). A failure is logged; the state
/// stays marked dirty only until the next change, as in Redis.
pub fn flush(st: &mut State) {
    st.s.dirty = false;
    let lines = lines(st);
    if let Err(e) = st.s.config.rewrite_with(None, Some(&lines)) {
        log::warning(&format!(
            "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
        ));
    }
}
