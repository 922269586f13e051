//! The commands a sentinel answers: SENTINEL and its subcommands, INFO, ROLE, PING, AUTH,
//! HELLO, CLIENT, (P)SUBSCRIBE, PUBLISH (hello messages only), SHUTDOWN, COMMAND. Anything else
//! gets Redis's unknown-command error. Replies and error texts are redis-sentinel's.

use super::clients::{push_header, Client};
use super::events::{describe, Level};
use super::instance::*;
use super::monitor::process_hello;
use super::{conf, election, failover, State, HELLO_CHANNEL};
use crate::resp::Reply;
use crate::runtime::clock::unix_ms;
use crate::server::log;

/// Runs one command for client `key`; returns the reply bytes.
pub fn execute(st: &mut State, key: usize, argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let (resp3, authed, subscribed) = match st.clients.slab.get_mut(key) {
        Some(c) => {
            c.last_cmd = name.clone();
            (c.resp3, c.authed, c.subscriptions() > 0)
        }
        None => return out,
    };
    let mut r = Reply::new(&mut out, resp3);
    if !authed && !matches!(name.as_str(), "auth" | "hello" | "quit") {
        r.error("NOAUTH Authentication required.");
        return out;
    }
    if subscribed
        && !resp3
        && !matches!(
            name.as_str(),
            "subscribe" | "psubscribe" | "unsubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
        )
    {
        r.err(&format!(
            "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ));
        return out;
    }
    let arity_ok = |min: usize| argv.len() >= min;
    match name.as_str() {
        "ping" if argv.len() <= 2 => {
            if subscribed && !resp3 {
                r.array(2);
                r.bulk(b"pong");
                r.bulk(argv.get(1).map(|v| v.as_slice()).unwrap_or(b""));
            } else if let Some(msg) = argv.get(1) {
                r.bulk(msg);
            } else {
                r.simple(b"PONG");
            }
        }
        "quit" => {
            r.ok();
            if let Some(c) = st.clients.slab.get_mut(key) {
                c.closing = true;
            }
        }
        "auth" if (2..=3).contains(&argv.len()) => auth(st, key, argv, &mut r),
        "hello" => hello(st, key, argv, &mut out),
        "sentinel" if arity_ok(2) => sentinel(st, argv, &mut r),
        "info" => {
            let text = info(st, argv.get(1).map(|s| s.as_slice()));
            r.verbatim(text.as_bytes());
        }
        "role" if argv.len() == 1 => {
            r.array(2);
            r.bulk(b"sentinel");
            r.array(st.masters.len());
            for m in &st.masters {
                r.bulk(m.name.as_bytes());
            }
        }
        "client" if arity_ok(2) => client(st, key, argv, &mut r),
        "subscribe" | "psubscribe" if arity_ok(2) => subscribe(st, key, argv, &mut out, true),
        "unsubscribe" | "punsubscribe" => subscribe(st, key, argv, &mut out, false),
        "publish" if argv.len() == 3 => {
            if argv[1] != HELLO_CHANNEL.as_bytes() {
                r.err("Only HELLO messages are accepted by Sentinel instances.");
            } else {
                let payload = String::from_utf8_lossy(&argv[2]).into_owned();
                process_hello(st, &payload);
                r.int(1);
            }
        }
        "shutdown" => {
            log::warning("User requested shutdown...");
            st.shutdown = true;
        }
        "command" => {
            // Enough for redis-cli's start-up probes: no command docs to offer.
            match argv.get(1).map(|a| a.to_ascii_lowercase()) {
                Some(a) if a == b"count" => r.int(SENTINEL_COMMANDS.len() as i64),
                _ => r.array(0),
            }
        }
        "ping" | "auth" | "sentinel" | "role" | "client" | "subscribe" | "psubscribe"
        | "publish" => r.err(&format!("wrong number of arguments for '{name}' command")),
        _ => {
            let args = argv
                .iter()
                .skip(1)
                .take(8)
                .map(|a| format!("'{}' ", String::from_utf8_lossy(a)))
                .collect::<String>();
            r.err(&format!(
                "unknown command '{}', with args beginning with: {args}",
                String::from_utf8_lossy(&argv[0])
            ));
        }
    }
    out
}

const SENTINEL_COMMANDS: [&str; 13] = [
    "ping",
    "sentinel",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "publish",
    "info",
    "role",
    "client",
    "shutdown",
    "auth",
    "hello",
];

fn auth(st: &mut State, key: usize, argv: &[Vec<u8>], r: &mut Reply) {
    let Some(pass) = st.s.config.requirepass.clone() else {
        r.err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        return;
    };
    let user_ok = argv.len() == 2 || argv[1] == b"default";
    if user_ok && *argv.last().unwrap() == pass {
        if let Some(c) = st.clients.slab.get_mut(key) {
            c.authed = true;
        }
        r.ok();
    } else {
        r.error("WRONGPASS invalid username-password pair or user is disabled.");
    }
}

fn hello(st: &mut State, key: usize, argv: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut proto = None;
    let mut i = 1;
    if let Some(v) = argv.get(1) {
        match std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(p @ 2..=3) => proto = Some(p),
            Some(_) => {
                Reply::new(out, false).error("NOPROTO unsupported protocol version");
                return;
            }
            None => {
                Reply::new(out, false).err("Protocol version is not an integer or out of range");
                return;
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < argv.len() {
        let opt = argv[i].to_ascii_lowercase();
        if opt == b"auth" && i + 2 < argv.len() {
            let pass = st.s.config.requirepass.clone();
            let ok = argv[i + 1] == b"default" && pass.as_deref() == Some(&argv[i + 2][..]);
            if !ok {
                Reply::new(out, false)
                    .error("WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            if let Some(c) = st.clients.slab.get_mut(key) {
                c.authed = true;
            }
            i += 3;
        } else if opt == b"setname" && i + 1 < argv.len() {
            setname = Some(String::from_utf8_lossy(&argv[i + 1]).into_owned());
            i += 2;
        } else {
            Reply::new(out, false).err(&format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            ));
            return;
        }
    }
    let Some(c) = st.clients.slab.get_mut(key) else {
        return;
    };
    if !c.authed {
        Reply::new(out, false).error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
    }
    if let Some(p) = proto {
        c.resp3 = p == 3;
    }
    if setname.is_some() {
        c.name = setname;
    }
    let mut r = Reply::new(out, c.resp3);
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::server::start::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if c.resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(c.id as i64);
    r.bulk(b"mode");
    r.bulk(b"sentinel");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
}

fn subscribe(st: &mut State, key: usize, argv: &[Vec<u8>], out: &mut Vec<u8>, on: bool) {
    let Some(c) = st.clients.slab.get_mut(key) else {
        return;
    };
    let pattern = argv[0].to_ascii_lowercase().starts_with(b"p");
    let kind: &[u8] = match (on, pattern) {
        (true, false) => b"subscribe",
        (true, true) => b"psubscribe",
        (false, false) => b"unsubscribe",
        (false, true) => b"punsubscribe",
    };
    let mut targets: Vec<Vec<u8>> = argv[1..].to_vec();
    if !on && targets.is_empty() {
        targets = if pattern {
            c.patterns.clone()
        } else {
            c.channels.clone()
        };
        if targets.is_empty() {
            let mut r = Reply::new(out, c.resp3);
            push_header(&mut r, c.resp3, 3);
            r.bulk(kind);
            r.null();
            r.int(c.subscriptions() as i64);
            return;
        }
    }
    for t in targets {
        let list = if pattern {
            &mut c.patterns
        } else {
            &mut c.channels
        };
        let at = list.iter().position(|x| *x == t);
        match (on, at) {
            (true, None) if list.len() < super::clients::SUBSCRIPTIONS_MAX => list.push(t.clone()),
            (false, Some(i)) => {
                list.remove(i);
            }
            _ => {}
        }
        let n = c.subscriptions() as i64;
        let mut r = Reply::new(out, c.resp3);
        push_header(&mut r, c.resp3, 3);
        r.bulk(kind);
        r.bulk(&t);
        r.int(n);
    }
}

fn client(st: &mut State, key: usize, argv: &[Vec<u8>], r: &mut Reply) {
    let sub = argv[1].to_ascii_lowercase();
    match (sub.as_slice(), argv.len()) {
        (b"setname", 3) => {
            let name = &argv[2];
            if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                r.err("Client names cannot contain spaces, newlines or special characters.");
                return;
            }
            if let Some(c) = st.clients.slab.get_mut(key) {
                c.name = (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned());
            }
            r.ok();
        }
        (b"getname", 2) => match st.clients.slab.get(key).and_then(|c| c.name.clone()) {
            Some(n) => r.bulk(n.as_bytes()),
            None => r.null(),
        },
        (b"id", 2) => r.int(st.clients.slab.get(key).map(|c| c.id as i64).unwrap_or(0)),
        (b"setinfo", 4) => r.ok(),
        (b"list", 2) | (b"info", 2) => {
            let now = unix_ms();
            let text: String = st
                .clients
                .slab
                .iter()
                .filter(|(k, _)| sub == b"list" || *k == key)
                .map(|(_, c)| client_line(c, now))
                .collect();
            r.verbatim(text.as_bytes());
        }
        (b"kill", n) if n >= 3 => {
            let mut victims = Vec::new();
            if n == 3 {
                let addr = String::from_utf8_lossy(&argv[2]).into_owned();
                victims.extend(
                    st.clients
                        .slab
                        .iter()
                        .filter(|(_, c)| c.addr == addr)
                        .map(|(k, _)| k),
                );
                if victims.is_empty() {
                    r.err("No such client");
                    return;
                }
                kill(st, &victims);
                r.ok();
                return;
            }
            if n % 2 != 0 {
                r.err("syntax error");
                return;
            }
            let mut skipme = true;
            let mut filters = Vec::new();
            for pair in argv[2..].chunks(2) {
                let f = pair[0].to_ascii_lowercase();
                let v = String::from_utf8_lossy(&pair[1]).into_owned();
                match f.as_slice() {
                    b"skipme" => skipme = v.eq_ignore_ascii_case("yes"),
                    b"id" | b"addr" | b"type" => filters.push((f, v)),
                    _ => {
                        r.err("syntax error");
                        return;
                    }
                }
            }
            for (k, c) in st.clients.slab.iter() {
                if skipme && k == key {
                    continue;
                }
                let all = filters.iter().all(|(f, v)| match f.as_slice() {
                    b"id" => v.parse::<u64>().ok() == Some(c.id),
                    b"addr" => c.addr == *v,
                    _ => match v.to_ascii_lowercase().as_str() {
                        "pubsub" => c.subscriptions() > 0,
                        "normal" => c.subscriptions() == 0,
                        _ => false,
                    },
                });
                if all {
                    victims.push(k);
                }
            }
            let n = victims.len();
            kill(st, &victims);
            r.int(n as i64);
        }
        _ => r.err(&format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

fn kill(st: &mut State, victims: &[usize]) {
    for &k in victims {
        if let Some(c) = st.clients.slab.get_mut(k) {
            c.closing = true;
        }
    }
    // The current client closes after its reply; the others now.
    for &k in victims {
        if st.clients.slab.get(k).is_some_and(|c| c.closing) {
            st.clients.slab.remove(k);
        }
    }
}

fn client_line(c: &Client, now: u64) -> String {
    format!(
        "id={} addr={} laddr= fd={} name={} age={} idle=0 flags=N db=0 sub={} psub={} ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}\n",
        c.id,
        c.addr,
        c.conn.fd(),
        c.name.as_deref().unwrap_or(""),
        now.saturating_sub(c.created_ms) / 1000,
        c.channels.len(),
        c.patterns.len(),
        c.last_cmd,
        if c.resp3 { 3 } else { 2 }
    )
}

/// INFO in sentinel mode: server, clients, stats and sentinel sections.
pub fn info(st: &State, section: Option<&[u8]>) -> String {
    let section = section
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .unwrap_or_else(|| "default".into());
    let all = matches!(section.as_str(), "default" | "all" | "everything");
    let now = unix_ms();
    let mut out = String::new();
    if all || section == "server" {
        let uptime_s = now.saturating_sub(st.s.started_ms) / 1000;
        out.push_str(&format!(
            "# Server\r\nredis_version:{}\r\nringkv_version:{}\r\nredis_mode:sentinel\r\nos:Linux\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n",
            crate::server::start::REDIS_VERSION,
            crate::server::start::VERSION,
            std::process::id(),
            st.s.run_id,
            st.s.port,
            uptime_s,
            uptime_s / 86_400,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            st.s.config.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        ));
    }
    if all || section == "clients" {
        let pubsub = st
            .clients
            .slab
            .iter()
            .filter(|(_, c)| c.subscriptions() > 0)
            .count();
        out.push_str(&format!(
            "{}# Clients\r\nconnected_clients:{}\r\npubsub_clients:{pubsub}\r\nblocked_clients:0\r\n",
            if out.is_empty() { "" } else { "\r\n" },
            st.clients.slab.len()
        ));
    }
    if all || section == "stats" {
        out.push_str(&format!(
            "{}# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n",
            if out.is_empty() { "" } else { "\r\n" },
            st.clients.total_connections,
            st.clients.total_commands
        ));
    }
    if all || section == "sentinel" {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str(&format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:{}\r\n",
            st.masters.len(),
            st.s.tilt as u8,
            if st.s.tilt { (now.saturating_sub(st.s.tilt_start_ms) / 1000) as i64 } else { -1 },
            st.s.simfailure_flags
        ));
        for (n, m) in st.masters.iter().enumerate() {
            let status = if m.flags & F_O_DOWN != 0 {
                "odown"
            } else if m.flags & F_S_DOWN != 0 {
                "sdown"
            } else {
                "ok"
            };
            let a = m.current_addr();
            out.push_str(&format!(
                "master{n}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.name,
                a.host,
                a.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    out
}

fn no_such_master(r: &mut Reply) {
    r.err("No such master with that name");
}

fn sentinel(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
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
                let list = if sub == "sentinels" {
                    &m.sentinels
                } else {
                    &m.replicas
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
                r.bulk(a.host.as_bytes());
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
            let quorum = match arg(5).parse::<i64>() {
                Ok(q) if q > 0 => q as u32,
                Ok(_) => return r.err("Quorum must be 1 or greater."),
                Err(_) => return r.err("value is not an integer or out of range"),
            };
            let port = match arg(4).parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return r.err("Invalid port number"),
            };
            let name = arg(2);
            match conf::create_master(st, &name, &arg(3), port, quorum) {
                Ok(()) => {
                    let m = st.masters.last().expect("just added");
                    let text = format!("{} quorum {}", describe(m, None), m.quorum);
                    st.s.event(Level::Warning, "+monitor", &text);
                    st.s.dirty = true;
                    r.ok();
                }
                Err(e) => r.err(e.trim_end_matches('.')),
            }
        }
        ("remove", 3) => match st.master_index(&arg(2)) {
            Some(mi) => {
                let m = st.masters.remove(mi);
                st.s.event(Level::Warning, "-monitor", &describe(&m, None));
                st.s.dirty = true;
                r.ok();
            }
            None => no_such_master(r),
        },
        ("set", n) if n >= 5 && n % 2 == 1 => set(st, argv, r),
        ("reset", 3) => {
            let pattern = argv[2].clone();
            let mut count = 0;
            for mi in 0..st.masters.len() {
                let m = &mut st.masters[mi];
                if crate::config::glob_match(&pattern, m.name.as_bytes(), false) {
                    failover::reset(m, now);
                    m.sentinels.clear();
                    let d = describe(m, None);
                    st.s.event(Level::Warning, "+reset-master", &d);
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
                problems.push_str(&format!("{usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"));
            }
            if usable < voters / 2 + 1 {
                if !problems.is_empty() {
                    problems.push(' ');
                }
                problems.push_str(&format!("{usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover"));
            }
            if problems.is_empty() {
                r.simple(format!("OK {usable} usable Sentinels. Quorum and failover authorization can be reached").as_bytes());
            } else {
                r.error(&format!("NOQUORUM {problems}"));
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
                    r.int(now.saturating_sub(i.info_refresh_ms) as i64);
                    if i.info.is_empty() {
                        r.null();
                    } else {
                        r.bulk(i.info.as_bytes());
                    }
                }
            }
        }
        ("pending-scripts", 2) => r.array(0),
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
        ("ip", i.addr.host.clone()),
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
        ("last-ping-sent", since(i.act_ping_ms).to_string()),
        ("last-ok-ping-reply", since(i.last_avail_ms).to_string()),
        ("last-ping-reply", since(i.last_pong_ms).to_string()),
    ];
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
        if i.flags & F_FAILOVER_IN_PROGRESS != 0 {
            f.push(("failover-state", i.failover_state.name().into()));
        }
    } else if i.is_sentinel() {
        f.push(("last-hello-message", since(i.last_hello_ms).to_string()));
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
    for pair in argv[3..].chunks(2) {
        let opt = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let val = String::from_utf8_lossy(&pair[1]).into_owned();
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
                    return r.err("Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your config file.");
                }
                return r.err("Scripts are not supported by ringkv");
            }
            "master-reboot-down-after-period" => {
                if val.parse::<u64>().is_err() {
                    return r.err(&bad());
                }
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
        st.s.event(Level::Notice, "+set", &format!("{d} {c}"));
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
            (
                "loglevel",
                format!("{:?}", s.config.loglevel).to_ascii_lowercase(),
            ),
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
    if sub != b"set" || argv.len() % 2 != 1 {
        return r.err(
            "Only SENTINEL CONFIG GET <param> or SENTINEL CONFIG SET <param> <value> are supported",
        );
    }
    for pair in argv[3..].chunks(2) {
        let opt = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let val = String::from_utf8_lossy(&pair[1]).into_owned();
        let line = vec![opt.clone(), val.clone()];
        let result = match opt.as_str() {
            "loglevel" => st.s.config.set("loglevel", &val).map(|_| {
                crate::server::log::set_level(st.s.config.loglevel);
            }),
            "resolve-hostnames" | "announce-hostnames" | "announce-ip" | "announce-port"
            | "sentinel-user" | "sentinel-pass" => conf::apply(st, &line),
            _ => Err(format!("Invalid argument '{opt}' to SENTINEL CONFIG SET")),
        };
        if let Err(e) = result {
            return r.err(&format!(
                "Invalid value for SENTINEL CONFIG SET '{opt}': {e}"
            ));
        }
    }
    st.s.dirty = true;
    r.ok();
}

/// SENTINEL DEBUG [<param> <value> ...]: shows or changes the timing constants.
fn debug(st: &mut State, argv: &[Vec<u8>], r: &mut Reply) {
    let t = &mut st.s.timing;
    if argv.len() == 2 {
        let params = [
            ("info-period", t.info_period_ms),
            ("ping-period", t.ping_period_ms),
            ("ask-period", t.ask_period_ms),
            ("publish-period", t.publish_period_ms),
            ("default-down-after", t.default_down_after_ms),
            ("tilt-trigger", t.tilt_trigger_ms),
            ("tilt-period", t.tilt_period_ms),
            ("slave-reconf-timeout", t.slave_reconf_timeout_ms),
            ("min-link-reconnect-period", t.min_link_reconnect_period_ms),
            ("election-timeout", t.election_timeout_ms),
        ];
        r.map(params.len());
        for (k, v) in params {
            r.bulk(k.as_bytes());
            r.bulk(v.to_string().as_bytes());
        }
        return;
    }
    if !argv.len().is_multiple_of(2) {
        return r.err("wrong number of arguments for 'sentinel debug' command");
    }
    for pair in argv[2..].chunks(2) {
        let opt = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let Some(v) = String::from_utf8_lossy(&pair[1])
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0)
        else {
            return r.err(&format!(
                "Invalid argument '{}' for SENTINEL DEBUG '{opt}'",
                String::from_utf8_lossy(&pair[1])
            ));
        };
        let slot = match opt.as_str() {
            "info-period" => &mut t.info_period_ms,
            "ping-period" => &mut t.ping_period_ms,
            "ask-period" => &mut t.ask_period_ms,
            "publish-period" => &mut t.publish_period_ms,
            "default-down-after" => &mut t.default_down_after_ms,
            "tilt-trigger" => &mut t.tilt_trigger_ms,
            "tilt-period" => &mut t.tilt_period_ms,
            "slave-reconf-timeout" => &mut t.slave_reconf_timeout_ms,
            "min-link-reconnect-period" => &mut t.min_link_reconnect_period_ms,
            "election-timeout" => &mut t.election_timeout_ms,
            _ => {
                return r.err(&format!(
                    "Unknown option or number of arguments for SENTINEL DEBUG '{opt}'"
                ))
            }
        };
        *slot = v;
    }
    r.ok();
}
