//! The commands a sentinel answers: SENTINEL and its subcommands, INFO, ROLE, PING, AUTH,
//! HELLO, CLIENT, (P)SUBSCRIBE, PUBLISH (hello messages only), SHUTDOWN, COMMAND. Anything else
//! gets Redis's unknown-command error. Replies and error texts are redis-sentinel's. SENTINEL
//! itself is in `subcommands.rs`.

use super::clients::{push_header, Client};
use super::discovery::process_hello;
use super::instance::*;
use super::{State, HELLO_CHANNEL};
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
        "sentinel" if arity_ok(2) => super::subcommands::sentinel(st, argv, &mut r),
        "info" => {
            if argv.len() > 2 {
                r.err("syntax error");
            } else {
                let text = info(st, argv.get(1).map(|s| s.as_slice()));
                r.bulk(text.as_bytes());
            }
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
        _ => r.error(&crate::commands::unknown_command_text_of(
            argv.iter().map(|a| a.as_slice()),
        )),
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
                Reply::new(out, false)
                    .error("NOPROTO sorry, this protocol version is not supported.");
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
    let proto = if c.resp3 { 3 } else { 2 };
    crate::commands::connection::hello_reply(
        &mut Reply::new(out, c.resp3),
        proto,
        c.id,
        b"sentinel",
    );
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
                kill(st, key, &victims);
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
            kill(st, key, &victims);
            r.int(n as i64);
        }
        _ => r.err(&format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

/// Closes `victims` now, except the current client `me`, which closes after its reply.
fn kill(st: &mut State, me: usize, victims: &[usize]) {
    for &k in victims {
        if k == me {
            if let Some(c) = st.clients.slab.get_mut(k) {
                c.closing = true;
            }
        } else if st.clients.slab.contains(k) {
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
    if all || section == "cpu" {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        crate::commands::info::cpu(&mut out);
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
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
            st.masters.len(),
            st.s.tilt as u8,
            if st.s.tilt { (now.saturating_sub(st.s.tilt_start_ms) / 1000) as i64 } else { -1 },
            st.s.scripts.running(),
            st.s.scripts.jobs.len(),
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
            let a = &m.addr;
            out.push_str(&format!(
                "master{n}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.name,
                a.shown(),
                a.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    out
}
