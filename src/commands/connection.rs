//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and the CLIENT family.
//!
//! They change only the calling connection's state (`ctx.client`) or, for CLIENT KILL, set the
//! kill flag of another client and wake its thread. They never touch the keyspace.

use std::sync::atomic::Ordering;

use super::command::{help, sub_arity_ok, unknown_sub};
use super::{
    arg_i64, eq_ic, spec, table, Ctx, Spec, ALLOW_BUSY, DB_INDEX, FAST, LOADING, NOSCRIPT,
    NOT_INTEGER, NO_AUTH, NO_KEYS, SKIP_MONITOR, SKIP_SLOWLOG, STALE, SYNTAX,
};
use crate::resp::{Args, Reply};
use crate::server::client::{ClientAction, ClientShared, ReplyMode};

/// Flags of the session commands (AUTH and HELLO are also kept out of MONITOR and SLOWLOG,
/// since their arguments hold passwords).
const SESSION: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("ping", -1, FAST, NO_KEYS, ping, "connection", "Returns the server's liveliness response.", "1.0.0"),
    spec("echo", 2, LOADING | STALE | FAST, NO_KEYS, echo, "connection", "Returns the given string.", "1.0.0"),
    spec("quit", -1, SESSION, NO_KEYS, quit, "connection", "Closes the connection.", "1.0.0"),
    spec("reset", 1, SESSION, NO_KEYS, reset, "connection", "Resets the connection.", "6.2.0"),
    spec("select", 2, LOADING | STALE | FAST, NO_KEYS, select, "connection", "Changes the selected database.", "1.0.0"),
    spec("auth", -2, SESSION | SKIP_MONITOR | SKIP_SLOWLOG, NO_KEYS, auth, "connection", "Authenticates the connection.", "1.0.0"),
    spec("hello", -1, SESSION | SKIP_MONITOR | SKIP_SLOWLOG, NO_KEYS, hello, "connection", "Handshakes with the Redis server.", "6.0.0"),
    Spec {
        subcommands: CLIENT_SUBS,
        ..spec("client", -2, NOSCRIPT | LOADING | STALE, NO_KEYS, client, "connection", "A container for client connection commands.", "2.4.0")
    },
];

#[rustfmt::skip]
const CLIENT_SUBS: &[&str] = &[
    "getname", "help", "id", "info", "kill", "list", "no-evict", "no-touch", "reply", "setinfo",
    "setname", "unblock",
];

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const BAD_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// PING [message]: PONG, or the message as a bulk string.
fn ping(ctx: &mut Ctx, args: Args) {
    if ctx.client.subscribed() && !ctx.client.resp3 && args.len() <= 2 {
        // In RESP2 subscribed mode PING answers like a message: ["pong", arg or ""].
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        return ctx
            .out
            .bulk(if args.len() == 2 { args.get(1) } else { b"" });
    }
    match args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx.wrong_args("ping"),
    }
}

/// ECHO message: the message as a bulk string.
fn echo(ctx: &mut Ctx, args: Args) {
    ctx.out.bulk(args.get(1));
}

/// QUIT: OK, then the connection closes.
fn quit(ctx: &mut Ctx, _args: Args) {
    ctx.out.ok();
    ctx.client.action = Some(ClientAction::CloseAfterReply);
}

/// RESET: back to db 0, RESP2, replies on, no name, and logged out when a password is set;
/// replies RESET.
fn reset(ctx: &mut Ctx, _args: Args) {
    ctx.client.select(0);
    ctx.client.set_resp(2);
    ctx.out.resp3 = false;
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.multi = None;
    ctx.client.unwatch();
    if let Some(subs) = ctx.client.subs.take() {
        crate::server::pubsub::unsubscribe_all(ctx.srv, ctx.worker, ctx.client, &subs);
        super::pubsub::show_counts(ctx.client);
    }
    *ctx.client
        .shared
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    if ctx.srv.config().requirepass.is_some() {
        ctx.client.authenticated = false;
    }
    ctx.client.action = Some(ClientAction::Reset);
    ctx.out.simple(b"RESET");
}

/// SELECT index: OK; DB index errors as Redis words them.
fn select(ctx: &mut Ctx, args: Args) {
    let Some(id) = arg_i64(args.get(1)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if i32::try_from(id).is_err() {
        return ctx
            .out
            .err("value is out of range, value must between -2147483648 and 2147483647");
    }
    let databases = ctx.srv.config().databases;
    if id < 0 || id as usize >= databases {
        return ctx.out.error(DB_INDEX);
    }
    ctx.client.select(id as usize);
    ctx.out.ok();
}

/// Checks `user`/`pass` against the default user (the only one): Ok when they match.
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.srv.config().requirepass {
        None => true,
        Some(p) => {
            // Compare without an early exit, so the time taken does not reveal the prefix.
            let mut diff = p.len() ^ pass.len();
            for (i, b) in p.iter().enumerate() {
                diff |= usize::from(b ^ pass.get(i).copied().unwrap_or(0));
            }
            diff == 0
        }
    }
}

/// AUTH [username] password: OK, WRONGPASS, or an error when no password is configured.
fn auth(ctx: &mut Ctx, args: Args) {
    let (user, pass): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", args.get(1)),
        3 => (args.get(1), args.get(2)),
        _ => return ctx.out.error(SYNTAX),
    };
    if args.len() == 2 && ctx.srv.config().requirepass.is_none() {
        return ctx.out.err(
            "AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    if check_password(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.out.ok();
    } else {
        ctx.out.error(WRONGPASS);
    }
}

/// Whether a client name or attribute holds only printable, non-space ASCII.
fn valid_attr(v: &[u8]) -> bool {
    v.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// Sets or (with an empty name) clears the client name; false (error queued) when invalid.
fn set_name(ctx: &mut Ctx, name: &[u8]) -> bool {
    if !valid_attr(name) {
        ctx.out.error(BAD_NAME);
        return false;
    }
    let v = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    *ctx.client
        .shared
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = v;
    true
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]: switches protocol, optionally logs in and
/// names the connection; replies with the server's handshake map.
fn hello(ctx: &mut Ctx, args: Args) {
    let mut ver = None;
    let mut i = 1;
    if args.len() >= 2 {
        match arg_i64(args.get(1)) {
            None => {
                return ctx
                    .out
                    .err("Protocol version is not an integer or out of range")
            }
            Some(v) if !(2..=3).contains(&v) => {
                return ctx.out.error("NOPROTO unsupported protocol version")
            }
            Some(v) => ver = Some(v as u8),
        }
        i = 2;
    }
    let mut creds = None;
    let mut name = None;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if eq_ic(opt, "auth") && more >= 2 {
            creds = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if eq_ic(opt, "setname") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(opt);
            return ctx
                .out
                .err(&format!("Syntax error in HELLO option '{opt}'"));
        }
    }
    if let Some((user, pass)) = creds {
        if !check_password(ctx, user, pass) {
            return ctx.out.error(WRONGPASS);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return ctx.out.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    if let Some(n) = name {
        if !set_name(ctx, n) {
            return;
        }
    }
    if let Some(v) = ver {
        ctx.client.set_resp(v);
        ctx.out.resp3 = v == 3;
    }
    let proto = if ctx.client.resp3 { 3 } else { 2 };
    hello_reply(&mut ctx.out, proto, ctx.client.id, b"standalone");
}

/// HELLO's reply map: server, version, proto, id, mode (`standalone` or `sentinel`), role,
/// modules. Shared with sentinel mode.
pub fn hello_reply(out: &mut Reply, proto: i64, id: u64, mode: &[u8]) {
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::server::start::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(id as i64);
    out.bulk(b"mode");
    out.bulk(mode);
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

/// One CLIENT LIST line (without the newline), in Redis 7.0's field order. `running` names
/// the command the client is running now (the caller's own line).
fn client_line(c: &ClientShared, now_ms: u64, running: Option<&str>) -> String {
    let name = c.name().map(|n| String::from_utf8_lossy(&n).into_owned());
    let last = c.last_cmd.load(Ordering::Relaxed);
    let cmd =
        running.unwrap_or_else(|| table().specs.get(last as usize).map_or("NULL", |s| s.name));
    // The caller is interacting right now.
    let last_ms = match running {
        Some(_) => now_ms,
        None => c.last_interaction_ms.load(Ordering::Relaxed),
    };
    let omem = c.omem.load(Ordering::Relaxed);
    let qbuf = c.qbuf.load(Ordering::Relaxed);
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
         multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} \
         tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        name.unwrap_or_default(),
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(last_ms) / 1000,
        if c.monitor.load(Ordering::Relaxed) {
            "O"
        } else {
            match c.list_kind() {
                crate::server::client::KIND_REPLICA => "S",
                crate::server::client::KIND_MASTER => "M",
                crate::server::client::KIND_PUBSUB => "P",
                _ => "N",
            }
        },
        c.db.load(Ordering::Relaxed),
        c.subs[0].load(Ordering::Relaxed),
        c.subs[1].load(Ordering::Relaxed),
        c.subs[2].load(Ordering::Relaxed),
        qbuf,
        omem,
        qbuf + omem,
        cmd,
        c.resp.load(Ordering::Relaxed),
    )
}

/// The client kind a CLIENT LIST/KILL TYPE names (`ClientShared::list_kind`); None after
/// replying the error.
fn client_type(ctx: &mut Ctx, t: &[u8]) -> Option<u8> {
    use crate::server::client::{KIND_MASTER, KIND_NORMAL, KIND_PUBSUB, KIND_REPLICA};
    if eq_ic(t, "normal") {
        Some(KIND_NORMAL)
    } else if eq_ic(t, "slave") || eq_ic(t, "replica") {
        Some(KIND_REPLICA)
    } else if eq_ic(t, "master") {
        Some(KIND_MASTER)
    } else if eq_ic(t, "pubsub") {
        Some(KIND_PUBSUB)
    } else {
        let t = String::from_utf8_lossy(t);
        ctx.out.err(&format!("Unknown client type '{t}'"));
        None
    }
}

/// CLIENT subcommand ...: dispatches to the CLIENT subcommands.
fn client(ctx: &mut Ctx, args: Args) {
    let Some(sub) = CLIENT_SUBS.iter().find(|s| eq_ic(args.get(1), s)) else {
        return unknown_sub(ctx, &args, "CLIENT");
    };
    if !sub_arity_ok(ctx, &format!("client|{sub}"), args.len()) {
        return;
    }
    match *sub {
        "id" => ctx.out.int(ctx.client.id as i64),
        "getname" => match ctx.client.shared.name() {
            Some(n) => ctx.out.bulk(&n),
            None => ctx.out.null(),
        },
        "setname" => {
            if set_name(ctx, args.get(2)) {
                ctx.out.ok();
            }
        }
        "info" => {
            let mut line = client_line(&ctx.client.shared, ctx.now_ms, Some("client|info"));
            line.push('\n');
            ctx.out.verbatim(line.as_bytes());
        }
        "list" => client_list(ctx, &args),
        "kill" => client_kill(ctx, &args),
        "reply" => client_reply(ctx, &args),
        "unblock" => client_unblock(ctx, &args),
        "no-evict" | "no-touch" => {
            let on = if eq_ic(args.get(2), "on") {
                true
            } else if eq_ic(args.get(2), "off") {
                false
            } else {
                return ctx.out.error(SYNTAX);
            };
            if *sub == "no-evict" {
                ctx.client.shared.no_evict.store(on, Ordering::Relaxed);
            }
            ctx.out.ok();
        }
        "setinfo" => client_setinfo(ctx, &args),
        _ => help(
            ctx,
            "CLIENT",
            &[
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Set client meta attr. Options are:",
                "    * LIB-NAME: the client lib name.",
                "    * LIB-VER: the client lib version.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "NO-TOUCH (ON|OFF)",
                "    Will not touch LRU/LFU stats when this mode is on.",
            ],
        ),
    }
}

/// CLIENT LIST [TYPE type | ID id ...]: one line per client, as a bulk (verbatim) string.
fn client_list(ctx: &mut Ctx, args: &Args) {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind = None;
    if args.len() == 4 && eq_ic(args.get(2), "type") {
        match client_type(ctx, args.get(3)) {
            Some(k) => kind = Some(k),
            None => return,
        }
    } else if args.len() >= 4 && eq_ic(args.get(2), "id") {
        let mut v = Vec::new();
        for a in args.iter().skip(3) {
            match arg_i64(a) {
                Some(id) if id > 0 => v.push(id as u64),
                _ => return ctx.out.err("Invalid client ID"),
            }
        }
        ids = Some(v);
    } else if args.len() != 2 {
        return ctx.out.error(SYNTAX);
    }
    let mut text = String::new();
    {
        for c in ctx.srv.all_clients() {
            if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id))
                || kind.is_some_and(|k| c.list_kind() != k)
            {
                continue;
            }
            let running = (c.id == ctx.client.id).then_some("client|list");
            text.push_str(&client_line(&c, ctx.now_ms, running));
            text.push('\n');
        }
    }
    ctx.out.verbatim(text.as_bytes());
}

/// CLIENT KILL addr (OK or "No such client") or CLIENT KILL filter value ... (the number of
/// clients killed). Killing oneself closes after the reply.
fn client_kill(ctx: &mut Ctx, args: &Args) {
    let old_form = args.len() == 3;
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut skipme = true;
    if old_form {
        addr = Some(args.get(2));
        skipme = false;
    } else {
        let mut i = 2;
        while i < args.len() {
            let (opt, Some(val)) = (args.get(i), (i + 1 < args.len()).then(|| args.get(i + 1)))
            else {
                return ctx.out.error(SYNTAX);
            };
            if eq_ic(opt, "id") {
                match arg_i64(val) {
                    Some(v) if v > 0 => id = Some(v as u64),
                    _ => return ctx.out.err("client-id should be greater than 0"),
                }
            } else if eq_ic(opt, "type") {
                match client_type(ctx, val) {
                    Some(k) => kind = Some(k),
                    None => return,
                }
            } else if eq_ic(opt, "addr") {
                addr = Some(val);
            } else if eq_ic(opt, "laddr") {
                laddr = Some(val);
            } else if eq_ic(opt, "user") {
                if val != b"default" {
                    let u = String::from_utf8_lossy(val);
                    return ctx.out.err(&format!("No such user '{u}'"));
                }
            } else if eq_ic(opt, "skipme") {
                if eq_ic(val, "yes") {
                    skipme = true;
                } else if eq_ic(val, "no") {
                    skipme = false;
                } else {
                    return ctx.out.error(SYNTAX);
                }
            } else {
                return ctx.out.error(SYNTAX);
            }
            i += 2;
        }
    }
    let mut killed = 0i64;
    let mut me = false;
    {
        for c in ctx.srv.all_clients() {
            let matches = id.is_none_or(|id| c.id == id)
                && kind.is_none_or(|k| c.list_kind() == k)
                && addr.is_none_or(|a| a == c.addr.as_bytes())
                && laddr.is_none_or(|a| a == c.laddr.as_bytes());
            if !matches {
                continue;
            }
            if c.id == ctx.client.id {
                if skipme {
                    continue;
                }
                me = true;
            } else if c.kind.load(Ordering::Relaxed) == crate::server::client::KIND_MASTER {
                // Our master's connection: drop the link to the master (it reconnects and
                // continues), keeping what it already sent us.
                if let Some(status) = ctx.srv.link_status() {
                    status.drop_link.store(true, Ordering::Release);
                }
            } else {
                ctx.srv.kill_client(&c);
            }
            killed += 1;
        }
    }
    if me {
        ctx.client.action = Some(ClientAction::CloseAfterReply);
    }
    if !old_form {
        ctx.out.int(killed);
    } else if killed == 0 {
        ctx.out.err("No such client");
    } else {
        ctx.out.ok();
    }
}

/// CLIENT REPLY ON|OFF|SKIP: OK for ON; OFF and SKIP reply nothing.
fn client_reply(ctx: &mut Ctx, args: &Args) {
    let mode = args.get(2);
    if eq_ic(mode, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(mode, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if eq_ic(mode, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        ctx.out.error(SYNTAX);
    }
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value: OK; the value must be printable without spaces.
fn client_setinfo(ctx: &mut Ctx, args: &Args) {
    let (attr, val) = (args.get(2), args.get(3));
    let slot = if eq_ic(attr, "lib-name") {
        &ctx.client.shared.lib_name
    } else if eq_ic(attr, "lib-ver") {
        &ctx.client.shared.lib_ver
    } else {
        let a = String::from_utf8_lossy(attr);
        return ctx.out.err(&format!("Unrecognized option '{a}'"));
    };
    if !valid_attr(val) {
        let a = String::from_utf8_lossy(attr);
        return ctx.out.err(&format!(
            "{a} cannot contain spaces, newlines or special characters."
        ));
    }
    let v = if val.is_empty() {
        None
    } else {
        Some(val.to_vec())
    };
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = v;
    ctx.out.ok();
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 when the client was blocked and is now released
/// (with its timeout reply, or an UNBLOCKED error), else 0.
fn client_unblock(ctx: &mut Ctx, args: &Args) {
    if !(3..=4).contains(&args.len()) {
        return ctx.out.err("syntax error");
    }
    let Some(id) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    let error = match args.len() {
        4 if eq_ic(args.get(3), "error") => true,
        4 if eq_ic(args.get(3), "timeout") => false,
        4 => {
            return ctx
                .out
                .err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
        _ => false,
    };
    let target = ctx
        .srv
        .all_clients()
        .into_iter()
        .find(|c| c.id as i64 == id);
    let Some(c) = target else {
        return ctx.out.int(0);
    };
    let flag = c.blocked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let won = flag.is_some_and(|f| {
        f.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    });
    if !won {
        return ctx.out.int(0);
    }
    let reason = if error {
        crate::server::client::UNBLOCK_ERROR
    } else {
        crate::server::client::UNBLOCK_TIMEOUT
    };
    c.unblock_reason.store(reason, Ordering::Release);
    let token = c.token.load(Ordering::Acquire);
    ctx.srv
        .send(c.worker, crate::server::Msg::ClientUnblock { token });
    ctx.out.int(1);
}
