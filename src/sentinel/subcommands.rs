//! SENTINEL <subcommand>: the sentinel's own API (state of masters, replicas and sentinels,
//! votes, runtime reconfiguration), with redis-sentinel's replies and error texts.

use super::events::{describe, Level};
use super::instance::*;
use super::{conf, election, failover, State};
use crate::resp::Reply;
use crate::runtime::clock::unix_ms;
use crate::server::log;

fn no_such_master(r: &mut Reply) {
    r.err("No such master with that name");
}

pub fn sentinel(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let arg = |i: usize| String::from_utf8_lossy(&argv[i]).into_owned();
    let n = argv.len();
    let now = unix_ms();
    match (sub.as_str(), n) {
        ("masters", 2) => {
            r.array(st.masters.len());
            for m in &st.masters {
                instance_reply(r, m, None, now);
            }
        }
        ("master", 3) => match st.master_index(&arg(2)) {
            Some(mi) => instance_reply(r, &st.masters[mi], None, now),
            None => no_such_master(r),
        },
        ("replicas" | "slaves", 3) | ("sentinels", 3) => match st.master_index(&arg(2)) {
            Some(mi) => {
                let m = &st.masters[mi];
                // Replicas that asked not to be announced (replica-announced no) are not listed.
                let list: Vec<&Instance> = if sub == "sentinels" {
                    m.sentinels.iter().collect()
                } else {
                    m.replicas.iter().filter(|r| r.replica_announced).collect()
                };
                r.array(list.len());
                for i in list {
                    instance_reply(r, i, Some(m), now);
                }
            }
            None => no_such_master(r),
        },
        ("myid", 2) => r.bulk(st.s.myid.as_bytes()),
        ("get-master-addr-by-name", 3) => match st.master_index(&arg(2)) {
            Some(mi) => {
                let a = st.masters[mi].current_addr();
                r.array(2);
                r.bulk(a.shown().as_bytes());
                r.bulk(a.port.to_string().as_bytes());
            }
            None => r.null_array(),
        },
        ("is-master-down-by-addr", 6) => {
            let (Ok(port), Ok(epoch)) = (arg(3).parse::<u16>(), arg(4).parse::<u64>()) else {
                r.err("value is not an integer or out of range");
                return;
            };
            let (down, leader, leader_epoch) = election::answer_master_down(
                &mut st.s,
                &mut st.masters,
                &arg(2),
                port,
                epoch,
                &arg(5),
                now,
            );
            r.array(3);
            r.int(down as i64);
            r.bulk(leader.as_deref().unwrap_or("*").as_bytes());
            r.int(leader_epoch as i64);
        }
        ("failover", 3) => {
            let Some(mi) = st.master_index(&arg(2)) else {
                return no_such_master(r);
            };
            let m = &mut st.masters[mi];
            if m.flags & F_FAILOVER_IN_PROGRESS != 0 {
                r.error("INPROG Failover already in progress");
                return;
            }
            if failover::best_replica(&st.s, m, now).is_none() {
                r.error("NOGOODSLAVE No suitable replica to promote");
                return;
            }
            log::warning(&format!(
                "Executing user requested FAILOVER of '{}'",
                m.name
            ));
            failover::start(&mut st.s, m, now);
            m.flags |= F_FORCE_FAILOVER;
            r.ok();
        }
        ("flushconfig", 2) => {
            conf::flush(st);
            r.ok();
        }
        ("monitor", 6) => {
            let Ok(quorum) = arg(5).parse::<i64>() else {
                return r.err("Invalid quorum");
            };
            let Ok(port) = arg(4).parse::<u16>() else {
                return r.err("Invalid port");
            };
            if quorum <= 0 {
                return r.err("Quorum must be 1 or greater.");
            }
            let quorum = quorum.min(u32::MAX as i64) as u32;
            if !super::discovery::usable_addr(&arg(3), port.max(1), st.s.resolve_hostnames) {
                return r.err("Invalid IP address or hostname specified");
            }
            let name = arg(2);
            match conf::create_master(st, &name, &arg(3), port, quorum) {
                Ok(()) => {
                    let m = st.masters.last().expect("just added");
                    let text = format!("{} quorum {}", describe(m, None), m.quorum);
                    st.s.event(Level::Warning, "+monitor", &text);
                    st.s.dirty = true;
                    r.ok();
                }
                Err(e) => r.err(&e),
            }
        }
        ("remove", 3) => match st.master_index(&arg(2)) {
            Some(mi) => {
                let m = st.masters.remove(mi);
                st.s.warn(&m, "-monitor", &describe(&m, None));
                st.s.dirty = true;
                r.ok();
            }
            None => no_such_master(r),
        },
        ("set", n) if n >= 5 => set(st, argv, r),
        ("reset", 3) => {
            let pattern = argv[2].clone();
            let mut count = 0;
            for mi in 0..st.masters.len() {
                let m = &mut st.masters[mi];
                if crate::config::glob_match(&pattern, m.name.as_bytes(), false) {
                    failover::reset(m, now);
                    m.sentinels.clear();
                    let d = describe(m, None);
                    st.s.warn(m, "+reset-master", &d);
                    count += 1;
                }
            }
            st.s.dirty = true;
            r.int(count);
        }
        ("ckquorum", 3) => {
            let Some(mi) = st.master_index(&arg(2)) else {
                return no_such_master(r);
            };
            let m = &st.masters[mi];
            let usable = 1 + m
                .sentinels
                .iter()
                .filter(|k| k.flags & (F_S_DOWN | F_O_DOWN) == 0)
                .count() as u32;
            let voters = m.sentinels.len() as u32 + 1;
            let mut problems = String::new();
            if usable < m.quorum {
                problems.push_str(" Not enough available Sentinels to reach the specified quorum for this master.");
            }
            if usable < voters / 2 + 1 {
                problems.push_str(" Not enough available Sentinels to reach the majority and authorize a failover.");
            }
            if problems.is_empty() {
                r.simple(format!("OK {usable} usable Sentinels. Quorum and failover authorization can be reached").as_bytes());
            } else {
                r.error(&format!("NOQUORUM {usable} usable Sentinels.{problems}"));
            }
        }
        ("config", n) if n >= 4 => config(st, argv, r),
        ("info-cache", _) => {
            let names: Vec<String> = if n > 2 {
                (2..n).map(arg).collect()
            } else {
                st.masters.iter().map(|m| m.name.clone()).collect()
            };
            let found: Vec<&Instance> = names
                .iter()
                .filter_map(|nm| st.master_index(nm).map(|i| &st.masters[i]))
                .collect();
            r.array(found.len() * 2);
            for m in found {
                r.bulk(m.name.as_bytes());
                r.array(1 + m.replicas.len());
                for i in std::iter::once(m).chain(m.replicas.iter()) {
                    r.array(2);
                    let age_ms = if i.info_refresh_ms == 0 {
                        0
                    } else {
                        now.saturating_sub(i.info_refresh_ms)
                    };
                    r.int(age_ms as i64);
                    if i.info.is_empty() {
                        r.null();
                    } else {
                        r.bulk(i.info.as_bytes());
                    }
                }
            }
        }
        ("pending-scripts", 2) => pending_scripts(st, r),
        ("simulate-failure", _) => {
            let mut flags = 0;
            for a in argv.iter().skip(2) {
                match a.to_ascii_lowercase().as_slice() {
                    b"crash-after-election" => flags |= failover::SIMFAILURE_CRASH_AFTER_ELECTION,
                    b"crash-after-promotion" => flags |= failover::SIMFAILURE_CRASH_AFTER_PROMOTION,
                    b"help" => {
                        r.array(2);
                        r.bulk(b"crash-after-election");
                        r.bulk(b"crash-after-promotion");
                        return;
                    }
                    _ => return r.err("Unknown failure simulation specified"),
                }
            }
            st.s.simfailure_flags = flags;
            r.ok();
        }
        ("debug", _) => debug(st, argv, r),
        ("help", 2) => {
            let lines = [
                "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CKQUORUM <master-name>",
                "CONFIG GET <param> | CONFIG SET <param> <value>",
                "DEBUG [<param> <value> ...]",
                "GET-MASTER-ADDR-BY-NAME <master-name>",
                "FAILOVER <master-name>",
                "FLUSHCONFIG",
                "INFO-CACHE <master-name>",
                "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
                "MASTERS",
                "MASTER <master-name>",
                "MONITOR <name> <ip> <port> <quorum>",
                "MYID",
                "PENDING-SCRIPTS",
                "REMOVE <master-name>",
                "REPLICAS <master-name>",
                "RESET <pattern>",
                "SENTINELS <master-name>",
                "SET <master-name> <option> <value> [<option> <value> ...]",
                "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
            ];
            r.array(lines.len());
            for l in lines {
                r.simple(l.as_bytes());
            }
        }
        _ => r.err(&format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try SENTINEL HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

/// One instance as SENTINEL MASTERS / REPLICAS / SENTINELS show it: field, value pairs.
fn instance_reply(r: &mut Reply, i: &Instance, master: Option<&Instance>, now: u64) {
    let since = |t: u64| if t == 0 { 0 } else { now.saturating_sub(t) };
    let mut f: Vec<(&str, String)> = vec![
        ("name", i.name.clone()),
        ("ip", i.addr.shown().to_string()),
        ("port", i.addr.port.to_string()),
        ("runid", i.runid.clone().unwrap_or_default()),
        ("flags", i.flags_text()),
        (
            "link-pending-commands",
            i.cmd
                .as_ref()
                .map(|l| l.pending.len())
                .unwrap_or(0)
                .to_string(),
        ),
        ("link-refcount", "1".into()),
    ];
    if i.flags & F_FAILOVER_IN_PROGRESS != 0 {
        f.push(("failover-state", i.failover_state.name().into()));
    }
    let ago = |t: u64| now.saturating_sub(t).to_string();
    f.push(("last-ping-sent", since(i.act_ping_ms).to_string()));
    f.push(("last-ok-ping-reply", ago(i.last_avail_ms)));
    f.push(("last-ping-reply", ago(i.last_pong_ms)));
    if i.flags & F_S_DOWN != 0 {
        f.push(("s-down-time", since(i.s_down_since_ms).to_string()));
    }
    if i.flags & F_O_DOWN != 0 {
        f.push(("o-down-time", since(i.o_down_since_ms).to_string()));
    }
    f.push(("down-after-milliseconds", i.down_after_ms.to_string()));
    if !i.is_sentinel() {
        f.push(("info-refresh", since(i.info_refresh_ms).to_string()));
        let role = if i.role_reported_master {
            "master"
        } else {
            "slave"
        };
        f.push(("role-reported", role.into()));
        f.push(("role-reported-time", since(i.role_reported_ms).to_string()));
    }
    if i.is_master() {
        f.push(("config-epoch", i.config_epoch.to_string()));
        f.push(("num-slaves", i.replicas.len().to_string()));
        f.push(("num-other-sentinels", i.sentinels.len().to_string()));
        f.push(("quorum", i.quorum.to_string()));
        f.push(("failover-timeout", i.failover_timeout_ms.to_string()));
        f.push(("parallel-syncs", i.parallel_syncs.to_string()));
    } else if i.is_sentinel() {
        f.push(("last-hello-message", ago(i.last_hello_ms)));
        f.push((
            "voted-leader",
            i.leader.clone().unwrap_or_else(|| "?".into()),
        ));
        f.push(("voted-leader-epoch", i.leader_epoch.to_string()));
    } else {
        f.push(("master-link-down-time", i.master_link_down_ms.to_string()));
        let up = if i.slave_master_link_up { "ok" } else { "err" };
        f.push(("master-link-status", up.into()));
        f.push((
            "master-host",
            i.slave_master_host.clone().unwrap_or_else(|| "?".into()),
        ));
        f.push(("master-port", i.slave_master_port.to_string()));
        f.push(("slave-priority", i.slave_priority.to_string()));
        f.push(("slave-repl-offset", i.slave_repl_offset.to_string()));
        f.push(("replica-announced", (i.replica_announced as u8).to_string()));
    }
    let _ = master;
    r.map(f.len());
    for (k, v) in f {
        r.bulk(k.as_bytes());
        r.bulk(v.as_bytes());
    }
}

/// SENTINEL SET <master> <option> <value> [...].
fn set(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
    let name = String::from_utf8_lossy(&argv[2]).into_owned();
    let Some(mi) = st.master_index(&name) else {
        return no_such_master(r);
    };
    let mut changes = Vec::new();
    let mut j = 3;
    while j < argv.len() {
        let opt = String::from_utf8_lossy(&argv[j]).to_ascii_lowercase();
        let unknown = || format!("Unknown option or number of arguments for SENTINEL SET '{opt}'");
        // rename-command takes two values, every other option one.
        let values = if opt == "rename-command" { 2 } else { 1 };
        if j + values >= argv.len() {
            st.s.dirty |= !changes.is_empty();
            return r.err(&unknown());
        }
        let val = String::from_utf8_lossy(&argv[j + 1]).into_owned();
        j += 1 + values;
        if opt == "rename-command" {
            let to = String::from_utf8_lossy(&argv[j - 1]).into_owned();
            let line = vec![opt.clone(), name.clone(), val.clone(), to.clone()];
            if let Err(e) = conf::apply(st, &line) {
                return r.err(&e);
            }
            changes.push(format!("{opt} {val} {to}"));
            continue;
        }
        let bad = || format!("Invalid argument '{val}' for SENTINEL SET '{opt}'");
        let m = &mut st.masters[mi];
        let positive = || val.parse::<i64>().ok().filter(|v| *v > 0);
        match opt.as_str() {
            "down-after-milliseconds" => match positive() {
                Some(v) => conf::set_down_after(m, v as u64),
                None => return r.err(&bad()),
            },
            "failover-timeout" => match positive() {
                Some(v) => m.failover_timeout_ms = v as u64,
                None => return r.err(&bad()),
            },
            "parallel-syncs" => match positive() {
                Some(v) => m.parallel_syncs = v as u32,
                None => return r.err(&bad()),
            },
            "quorum" => match positive() {
                Some(v) => m.quorum = v as u32,
                None => return r.err(&bad()),
            },
            "auth-pass" => {
                m.auth_pass = (!val.is_empty()).then(|| val.clone());
                m.close_links();
            }
            "auth-user" => {
                m.auth_user = (!val.is_empty()).then(|| val.clone());
                m.close_links();
            }
            "notification-script" | "client-reconfig-script" => {
                if st.s.deny_scripts_reconfig {
                    return r.err("Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration");
                }
                let notification = opt == "notification-script";
                if !val.is_empty() && !super::scripts::executable(&val) {
                    return r.err(if notification {
                        "Notification script seems non existing or non executable"
                    } else {
                        "Client reconfiguration script seems non existing or non executable"
                    });
                }
                let slot = if notification {
                    &mut m.notification_script
                } else {
                    &mut m.client_reconfig_script
                };
                *slot = (!val.is_empty()).then(|| val.clone());
            }
            "master-reboot-down-after-period" => {
                if val.parse::<u64>().is_err() {
                    return r.err(&bad());
                }
                m.reboot_down_after_ms = val.parse::<u64>().unwrap_or(0);
            }
            _ => {
                return r.err(&format!(
                    "Unknown option or number of arguments for SENTINEL SET '{opt}'"
                ))
            }
        }
        let shown = if opt == "auth-pass" {
            "******".into()
        } else {
            val.clone()
        };
        changes.push(format!("{opt} {shown}"));
    }
    for c in changes {
        let d = describe(&st.masters[mi], None);
        st.s.warn(&st.masters[mi], "+set", &format!("{d} {c}"));
    }
    st.s.dirty = true;
    r.ok();
}

/// SENTINEL CONFIG GET <pattern> / SET <param> <value> [...].
fn config(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
    let sub = argv[2].to_ascii_lowercase();
    if sub == b"get" && argv.len() == 4 {
        let s = &st.s;
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        let params: Vec<(&str, String)> = vec![
            ("resolve-hostnames", yn(s.resolve_hostnames)),
            ("announce-hostnames", yn(s.announce_hostnames)),
            ("announce-ip", s.announce_ip.clone().unwrap_or_default()),
            ("announce-port", s.announce_port.to_string()),
            ("sentinel-user", s.sentinel_user.clone().unwrap_or_default()),
            ("sentinel-pass", s.sentinel_pass.clone().unwrap_or_default()),
        ];
        let hits: Vec<_> = params
            .into_iter()
            .filter(|(k, _)| crate::config::glob_match(&argv[3], k.as_bytes(), true))
            .collect();
        r.map(hits.len());
        for (k, v) in hits {
            r.bulk(k.as_bytes());
            r.bulk(v.as_bytes());
        }
        return;
    }
    if sub != b"set" || argv.len() != 5 {
        return r.err("Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.");
    }
    let opt = String::from_utf8_lossy(&argv[3]).to_ascii_lowercase();
    let val = String::from_utf8_lossy(&argv[4]).into_owned();
    if !matches!(
        opt.as_str(),
        "resolve-hostnames"
            | "announce-hostnames"
            | "announce-ip"
            | "announce-port"
            | "sentinel-user"
            | "sentinel-pass"
    ) {
        return r.err(&format!("Invalid argument '{opt}' to SENTINEL CONFIG SET"));
    }
    if conf::apply(st, &[opt.clone(), val.clone()]).is_err() {
        return r.err(&format!(
            "Invalid value '{val}' to SENTINEL CONFIG SET '{opt}'"
        ));
    }
    if opt == "sentinel-user" || opt == "sentinel-pass" {
        // New credentials for the other sentinels: reconnect with them.
        for m in st.masters.iter_mut() {
            for k in m.sentinels.iter_mut() {
                k.close_links();
            }
        }
    }
    st.s.dirty = true;
    r.ok();
}

/// SENTINEL DEBUG [<param> <value> ...]: shows or changes the timing constants.
fn debug(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
    let t = &mut st.s.timing;
    if argv.len() == 2 {
        let fields = t.fields();
        r.map(fields.len());
        for (k, v) in fields {
            r.bulk(k.as_bytes());
            r.bulk(v.to_string().as_bytes());
        }
        return;
    }
    for pair in argv[2..].chunks(2) {
        let opt = String::from_utf8_lossy(&pair[0]).to_ascii_uppercase();
        let Some(value) = pair.get(1) else {
            return r.err(&format!(
                "Unknown option or number of arguments for SENTINEL DEBUG '{opt}'"
            ));
        };
        let Some(v) = String::from_utf8_lossy(value)
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0)
        else {
            return r.err(&format!(
                "Invalid argument '{}' for SENTINEL DEBUG '{opt}'",
                String::from_utf8_lossy(value)
            ));
        };
        if !t.set(&opt, v) {
            return r.err(&format!(
                "Unknown option or number of arguments for SENTINEL DEBUG '{opt}'"
            ));
        }
    }
    r.ok();
}

/// SENTINEL PENDING-SCRIPTS: per queued or running script its argv, flags (`running` or
/// `scheduled`), pid, run time or delay before it starts (ms) and retries so far.
fn pending_scripts(st: &State, r: &mut Reply) {
    let now = unix_ms();
    let jobs = &st.s.scripts.jobs;
    r.array(jobs.len());
    for j in jobs {
        r.map(5);
        r.bulk(b"argv");
        r.array(j.argv.len());
        for a in &j.argv {
            r.bulk(a.as_bytes());
        }
        let running = j.child.is_some();
        r.bulk(b"flags");
        r.bulk(if running { b"running" } else { b"scheduled" });
        r.bulk(b"pid");
        let pid = j.child.as_ref().map_or(0, |c| c.id());
        r.bulk(pid.to_string().as_bytes());
        if running {
            r.bulk(b"run-time");
            r.bulk(now.saturating_sub(j.start_ms).to_string().as_bytes());
        } else {
            r.bulk(b"run-delay");
            r.bulk(j.start_ms.saturating_sub(now).to_string().as_bytes());
        }
        r.bulk(b"retry-num");
        r.bulk(j.retry.to_string().as_bytes());
    }
}
