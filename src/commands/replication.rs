//! Replication commands, the master's side (Redis's replication.c): PSYNC and SYNC start a
//! replica, REPLCONF carries its settings and acknowledgements, ROLE and INFO replication
//! report. A handler only decides and replies; the connection becomes a replica through
//! `ClientAction::BecomeReplica` and its thread streams to it (`server/replicas.rs`).

use std::sync::atomic::Ordering;

use super::{
    arg_i64, eq_ic, spec, Ctx, Spec, ADMIN, ALLOW_BUSY, FAST, LOADING, NOSCRIPT, NO_KEYS, NO_MULTI,
    STALE,
};
use crate::repl::master::{ReplState, ReplicaInfo, Waiting};
use crate::resp::Args;
use crate::server::client::{ClientAction, ReplicaStart};

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, NO_KEYS, psync, "server", "An internal command used in replication.", "2.8.0"),
    spec("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, NO_KEYS, sync, "server", "An internal command used in replication.", "1.0.0"),
    spec("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, NO_KEYS, replconf, "server", "An internal command for configuring the replication stream.", "3.0.0").with_route(replconf_route),
    spec("role", 1, NOSCRIPT | LOADING | STALE | FAST, NO_KEYS, role, "server", "Returns the replication role.", "2.8.12"),
    spec("wait", 3, NOSCRIPT, NO_KEYS, wait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0"),
    spec("replicaof", 3, ADMIN | NOSCRIPT | STALE, NO_KEYS, replicaof, "server", "Configures a server as replica of another, or promotes it to a master.", "5.0.0"),
    spec("slaveof", 3, ADMIN | NOSCRIPT | STALE, NO_KEYS, replicaof, "server", "Sets a Redis server as a replica of another, or promotes it to being a master.", "1.0.0"),
];

/// REPLICAOF host port: follow that master (+OK, or "+OK Already connected to specified
/// master"); REPLICAOF NO ONE: become a master (+OK).
fn replicaof(ctx: &mut Ctx, args: Args) {
    let who = format!(
        "user request from 'id={} addr={} laddr={} fd={} name={}'",
        ctx.client.id,
        ctx.client.shared.addr,
        ctx.client.shared.laddr,
        ctx.client.shared.fd,
        String::from_utf8_lossy(&ctx.client.shared.name().unwrap_or_default())
    );
    let target = if eq_ic(args.get(1), "no") && eq_ic(args.get(2), "one") {
        None
    } else {
        let Some(port) = arg_i64(args.get(2))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
        else {
            return ctx.out.err("Invalid master port");
        };
        Some((String::from_utf8_lossy(args.get(1)).into_owned(), port))
    };
    let current = ctx.srv.config().replicaof.clone();
    if target.is_some() && target == current {
        return ctx.out.simple(b"OK Already connected to specified master");
    }
    if target.is_none() && current.is_none() {
        return ctx.out.ok();
    }
    match crate::server::replicas::set_master(ctx.srv, target.clone(), &who) {
        Ok(()) => {
            // At once, not at the next cron tick: a new link is down until it syncs
            // (replica-serve-stale-data), and a promoted server serves everyone.
            ctx.srv
                .repl
                .stale
                .store(target.is_some(), Ordering::Relaxed);
            if target.is_some() {
                unblock_all(ctx);
            }
            ctx.srv.config().replicaof = target;
            ctx.srv.config_epoch.fetch_add(1, Ordering::Release);
            ctx.out.ok()
        }
        Err(e) => ctx.out.err(&e),
    }
}

/// A server turned replica (or switched masters) ends every blocked client with Redis's
/// UNBLOCKED error and closes it: a pop it went on waiting for would take an element its new
/// master's stream pushes and make this replica diverge.
fn unblock_all(ctx: &mut Ctx) {
    for c in ctx.srv.all_clients() {
        let flag = c.blocked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let won = flag.is_some_and(|f| {
            f.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        if won {
            c.unblock_reason.store(
                crate::server::client::UNBLOCK_ROLE_CHANGE,
                Ordering::Release,
            );
            let token = c.token.load(Ordering::Acquire);
            ctx.srv
                .send(c.worker, crate::server::Msg::ClientUnblock { token });
        }
    }
}

/// What REPLCONF told us about the replica on this connection.
#[derive(Default, Clone, Debug)]
pub struct ReplConf {
    pub listening_port: u16,
    pub ip: Option<String>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
    /// `REPLCONF rdb-only 1` (redis-cli --rdb): the snapshot only, then the connection closes.
    pub rdb_only: bool,
    /// It asked with SYNC, not PSYNC: the snapshot comes without a `+FULLRESYNC` line first.
    pub pre_psync: bool,
}

/// REPLCONF's routing: `ringkv-load-rdb` (our replication link loading a full sync) replaces
/// the whole dataset, so it holds every shard; the other options touch none.
fn replconf_route(args: &Args, shards: usize) -> u64 {
    if args.len() >= 2 && eq_ic(args.get(1), "ringkv-load-rdb") {
        if shards >= 64 {
            u64::MAX
        } else {
            (1u64 << shards) - 1
        }
    } else {
        0
    }
}

/// REPLCONF ringkv-load-rdb, only from our own replication link: empties the dataset and loads
/// the full sync's snapshot the link checked and handed over, while holding every shard, so
/// clients see the old dataset until the new one is complete.
fn load_full_sync(ctx: &mut Ctx) {
    let rdb = ctx.srv.link_status().and_then(|status| {
        status
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    });
    let Some(rdb) = rdb else {
        return load_done(ctx, false);
    };
    // Clients of the other threads get -LOADING meanwhile, as from a Redis replica loading a
    // full sync (this command holds every shard, so nothing else could run on them anyway).
    let save = ctx.srv.save.clone();
    save.loading_total_bytes
        .store(rdb.len() as u64, Ordering::Relaxed);
    save.loading_loaded_bytes.store(0, Ordering::Relaxed);
    save.loading_start_s
        .store(ctx.now_ms / 1000, Ordering::Relaxed);
    save.loading_started_us
        .store(crate::runtime::clock::mono_us(), Ordering::Relaxed);
    save.loading.store(true, Ordering::Release);
    let loaded = super::persistence::load_snapshot(ctx, &rdb);
    save.loading.store(false, Ordering::Release);
    let ok = loaded.is_ok();
    match loaded {
        Ok(keys) => {
            crate::server::log::notice(&format!(
                "Done loading RDB, keys loaded: {keys}, keys expired: {}.",
                ctx.srv.save.last_load_keys_expired.load(Ordering::Relaxed)
            ));
            disconnect_replicas(ctx);
        }
        Err(e) => {
            // Never half a dataset: what was loaded goes too.
            super::persistence::empty_held(ctx);
            crate::server::log::warning(&format!(
                "Failed trying to load the MASTER synchronization DB: {e}"
            ))
        }
    }
    load_done(ctx, ok);
}

/// Our own replicas followed the dataset and history this full sync replaced: they are
/// dropped and resync with the new ones, as Redis's sub-replicas are.
fn disconnect_replicas(ctx: &Ctx) {
    use crate::server::client::KIND_REPLICA;
    ctx.srv.kill_kind(KIND_REPLICA);
}

/// Tells the replication link that the load it handed over has ended, and how.
fn load_done(ctx: &Ctx, ok: bool) {
    if let Some(status) = ctx.srv.link_status() {
        status.load_failed.store(!ok, Ordering::Release);
        status.loads_done.fetch_add(1, Ordering::AcqRel);
        if status.paused() {
            ctx.srv.wake_all();
        }
    }
}

/// Whether `args` is one of the commands our replica link sends its own connection (see
/// `repl::replica`): the marker after a batch of the master's stream (`REPLCONF ringkv-applied
/// <offset> <link>`), the request to load a full sync (`REPLCONF ringkv-load-rdb`) or the
/// news that the master's history has a new ID (`REPLCONF ringkv-new-history`).
pub fn is_link_bookkeeping(args: &Args) -> bool {
    is_applied_marker(args)
        || (args.len() == 2
            && eq_ic(args.get(0), "replconf")
            && (eq_ic(args.get(1), "ringkv-load-rdb") || eq_ic(args.get(1), "ringkv-new-history")))
}

pub fn is_applied_marker(args: &Args) -> bool {
    args.len() == 4 && eq_ic(args.get(0), "replconf") && eq_ic(args.get(1), "ringkv-applied")
}

/// REPLCONF <option> <value> ...: listening-port, ip-address, capa (eof, psync2) from a replica
/// before PSYNC: +OK. REPLCONF ACK <offset> from an attached replica: no reply. GETACK is a
/// replica's command (a master ignores it).
fn replconf(ctx: &mut Ctx, args: Args) {
    if ctx.client.is_master && args.len() == 2 && eq_ic(args.get(1), "ringkv-load-rdb") {
        // A transaction of the old stream the link dropped in the middle of is gone with the
        // dataset it was meant for.
        ctx.client.multi = None;
        return load_full_sync(ctx);
    }
    if ctx.client.is_master && args.len() == 2 && eq_ic(args.get(1), "ringkv-new-history") {
        // Our master continues under a new ID (+CONTINUE <id>): our replicas must ask again
        // to learn it, as Redis's sub-replicas are made to (the old ID is now our replid2).
        // The link waits for this before it takes in any of the new stream.
        disconnect_replicas(ctx);
        if let Some(status) = ctx.srv.link_status() {
            status.history_marks.fetch_add(1, Ordering::Release);
        }
        return;
    }
    if ctx.client.is_master && is_applied_marker(&args) {
        // Our link's marker after a batch of the master's stream: all of it has run.
        let (offset, link) = (arg_i64(args.get(2)), arg_i64(args.get(3)));
        if let (Some(offset), Some(link), Some(status)) = (offset, link, ctx.srv.link_status()) {
            if status.link_id == link as u64 {
                status.applied.fetch_max(offset as u64, Ordering::AcqRel);
                if status.paused() {
                    // A REPLICAOF NO ONE may be waiting for this, on any thread.
                    ctx.srv.wake_all();
                }
            }
        }
        return;
    }
    if args.len().is_multiple_of(2) {
        return ctx.out.error(super::SYNTAX);
    }
    let mut i = 1;
    while i < args.len() {
        let (opt, val) = (args.get(i), args.get(i + 1));
        let conf = ctx.client.replconf.get_or_insert_with(Default::default);
        if eq_ic(opt, "listening-port") {
            match arg_i64(val).and_then(|p| u16::try_from(p).ok()) {
                Some(p) => conf.listening_port = p,
                None => return ctx.out.error(super::NOT_INTEGER),
            }
        } else if eq_ic(opt, "ip-address") {
            conf.ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "capa") {
            conf.capa_eof |= eq_ic(val, "eof");
            conf.capa_psync2 |= eq_ic(val, "psync2");
        } else if eq_ic(opt, "ack") || eq_ic(opt, "fack") {
            ctx.client.repl_acked = true;
            if let Some(off) = arg_i64(val) {
                let now = ctx.now_ms;
                let id = ctx.client.id;
                ctx.srv.repl.update(id, |r| {
                    r.ack_offset = r.ack_offset.max(off.max(0) as u64);
                    r.ack_ms = now;
                });
            }
            return; // never answered
        } else if eq_ic(opt, "rdb-only") {
            match arg_i64(val) {
                Some(v @ (0 | 1)) => conf.rdb_only = v == 1,
                _ => {
                    return ctx
                        .out
                        .err("value is out of range, value must between 0 and 1")
                }
            }
        } else if eq_ic(opt, "getack") {
            // A replica's request; a master takes it without a reply, as Redis does.
            return;
        } else if eq_ic(opt, "rdb-filter-only") {
            // Accepted and ignored, as a master does.
        } else {
            return ctx.out.err(&format!(
                "Unrecognized REPLCONF option: {}",
                super::printable(opt, 128)
            ));
        }
        i += 2;
    }
    ctx.out.ok()
}

/// What a replica whose own master link is not up answers SYNC and PSYNC (Redis's text): what
/// it has is not yet the history its replicas would follow.
const NO_MASTER_LINK: &str = "NOMASTERLINK Can't SYNC while not connected with my master";

/// We are a replica whose link to its master is not up (connecting, or loading a full sync).
fn master_link_down(ctx: &Ctx) -> bool {
    ctx.srv
        .link_status()
        .is_some_and(|l| !l.up.load(Ordering::Acquire))
}

/// PSYNC <replid> <offset>: +CONTINUE <replid> and the stream from the offset when our backlog
/// has it (same history, or the one we continued up to where we forked: PSYNC2), else
/// +FULLRESYNC <replid> <offset> and a snapshot (sent when the next cut is taken).
fn psync(ctx: &mut Ctx, args: Args) {
    if ctx.client.subscribed() || ctx.client.is_replica {
        return ctx.out.err("Replica can't interact with the keyspace");
    }
    if master_link_down(ctx) {
        return ctx.out.error(NO_MASTER_LINK);
    }
    let replid = String::from_utf8_lossy(args.get(1)).into_owned();
    let Some(offset) = arg_i64(args.get(2)) else {
        return ctx.out.error(super::NOT_INTEGER);
    };
    let conf = ctx.client.replconf.clone().unwrap_or_default();
    let repl = &ctx.srv.repl;
    let feed = &ctx.srv.feed;
    ensure_backlog(ctx);
    let history = ctx.srv.repl_ids();
    // Redis offsets count from 1: the replica asks for the byte after the last it has.
    let pos = (offset - 1).max(0) as u64;
    let partial = replid != "?"
        && offset > 0
        && feed.backlog_range().is_some_and(|(_, start, end)| {
            ReplState::can_continue(&history, &replid, pos, start, end)
        });
    let addr = &ctx.client.shared.addr;
    let ip = conf.ip.clone().unwrap_or_else(|| host_of(addr));
    if partial {
        repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
        let ids = history;
        crate::server::log::notice(&format!(
            "Partial resynchronization request from {ip}:{} accepted. Sending {} bytes of backlog starting from offset {offset}.",
            conf.listening_port,
            feed.end().saturating_sub(pos)
        ));
        let reply = if conf.capa_psync2 {
            format!("CONTINUE {}", ids.replid)
        } else {
            "CONTINUE".to_string()
        };
        ctx.out.simple(reply.as_bytes());
        register(ctx, &conf, "online");
        ctx.client.action = Some(ClientAction::BecomeReplica(ReplicaStart::Continue { pos }));
        return;
    }
    if replid != "?" {
        repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        crate::server::log::notice(&format!(
            "Partial resynchronization not accepted: Replication ID mismatch or offset out of range (Replica asked for '{replid}', offset {offset})"
        ));
    }
    crate::server::log::notice(&format!(
        "Replica {ip}:{} asks for synchronization",
        conf.listening_port
    ));
    start_full(ctx, &conf);
}

/// SYNC: the pre-PSYNC full synchronization (the snapshot framed with its length).
fn sync(ctx: &mut Ctx, _args: Args) {
    if ctx.client.is_replica {
        return;
    }
    if master_link_down(ctx) {
        return ctx.out.error(NO_MASTER_LINK);
    }
    ensure_backlog(ctx);
    let conf = ctx.client.replconf.get_or_insert_with(Default::default);
    conf.pre_psync = true;
    let conf = conf.clone();
    let ip = conf
        .ip
        .clone()
        .unwrap_or_else(|| host_of(&ctx.client.shared.addr));
    crate::server::log::notice(&format!(
        "Replica {ip}:{} asks for synchronization",
        conf.listening_port
    ));
    start_full(ctx, &conf);
}

/// Queues the replica for the next full-sync cut (worker 0 takes it, see `server/replicas.rs`).
/// The snapshot goes in the `$EOF:` framing to a replica that announced `capa eof`, unless
/// `repl-diskless-sync no` asks for the length framing a disk-based sync uses.
fn start_full(ctx: &mut Ctx, conf: &ReplConf) {
    let diskless = ctx
        .srv
        .config()
        .get_bool("repl-diskless-sync")
        .unwrap_or(true);
    let eof_capable = conf.capa_eof && diskless;
    ctx.srv.repl.sync_full.fetch_add(1, Ordering::Relaxed);
    register(ctx, conf, "wait_bgsave");
    ctx.srv
        .repl
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Waiting {
            worker: ctx.worker,
            token: ctx.client.token,
            eof_capable,
            since_ms: ctx.now_ms,
        });
    ctx.srv.repl.cut_wanted.store(true, Ordering::Release);
    ctx.srv.wake(0);
    ctx.client.action = Some(ClientAction::BecomeReplica(ReplicaStart::AwaitCut));
}

/// The backlog exists from the first replica on (Redis creates it then, too).
fn ensure_backlog(ctx: &mut Ctx) {
    if ctx.srv.feed.backlog_range().is_none() {
        let (size, limit) = {
            let c = ctx.srv.config();
            let size = c.get_int("repl-backlog-size").unwrap_or(1 << 20).max(1) as usize;
            (
                size,
                c.client_output_buffer_limit_replica.hard_bytes as usize,
            )
        };
        ctx.srv.feed.set_pinned_bytes_max(limit);
        ctx.srv.feed.set_backlog(size);
    }
}

fn register(ctx: &mut Ctx, conf: &ReplConf, state: &'static str) {
    let ip = conf
        .ip
        .clone()
        .unwrap_or_else(|| host_of(&ctx.client.shared.addr));
    ctx.client.is_replica = true;
    ctx.srv.repl.register(ReplicaInfo {
        client_id: ctx.client.id,
        ip,
        listening_port: conf.listening_port,
        state,
        ack_offset: 0,
        ack_ms: ctx.now_ms,
    });
}

/// "127.0.0.1:5000" → "127.0.0.1" (and "[::1]:5000" → "::1").
fn host_of(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// ROLE: ["master", offset, [[ip, port, acked offset], ...]], or on a replica
/// ["slave", master host, master port, link state, offset].
fn role(ctx: &mut Ctx, _args: Args) {
    if let Some((host, port, state, offset)) = replica_view(ctx) {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(host.as_bytes());
        ctx.out.int(port as i64);
        ctx.out.bulk(state.as_bytes());
        // Redis reports -1 while there is no master connection streaming to us.
        ctx.out.int(if state == "connected" {
            offset as i64
        } else {
            -1
        });
        return;
    }
    let offset = ctx.srv.feed.end();
    let replicas = ctx
        .srv
        .repl
        .replicas
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|r| r.state == "online") // as Redis lists them: syncing ones are not yet
        .cloned()
        .collect::<Vec<_>>();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(offset as i64);
    ctx.out.array(replicas.len());
    for r in &replicas {
        ctx.out.array(3);
        ctx.out.bulk(r.ip.as_bytes());
        ctx.out.bulk(r.listening_port.to_string().as_bytes());
        ctx.out.bulk(r.ack_offset.to_string().as_bytes());
    }
}

/// On a replica: (master host, port, link state as ROLE names it, offset applied).
pub fn replica_view(ctx: &Ctx) -> Option<(String, u16, &'static str, u64)> {
    let link = ctx.srv.link.lock().unwrap_or_else(|e| e.into_inner());
    let l = link.as_ref()?;
    let st = &l.status;
    let state = if st.up.load(Ordering::Acquire) {
        "connected"
    } else if st.syncing.load(Ordering::Acquire) {
        "sync"
    } else {
        "connect"
    };
    Some((
        l.config.host.clone(),
        l.config.port,
        state,
        // What ROLE and INFO's slave_repl_offset report: the stream applied, as in Redis.
        st.applied.load(Ordering::Acquire),
    ))
}

/// WAIT numreplicas timeout: the number of replicas that acknowledged every write of this client,
/// once `numreplicas` did or `timeout` ms passed (0: no timeout).
fn wait(ctx: &mut Ctx, args: Args) {
    if crate::store::db::REPLICA_MODE.load(Ordering::Relaxed) {
        return ctx.out.err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let (Some(n), Some(timeout)) = (arg_i64(args.get(1)), arg_i64(args.get(2))) else {
        return ctx.out.error(super::NOT_INTEGER);
    };
    if timeout < 0 {
        return ctx.out.err("timeout is negative");
    }
    // The client's own last write, as in Redis (not the stream's end: writes of other
    // clients that a stalled replica has not acknowledged do not hold this client up).
    let offset = ctx.client.woff;
    let acked = ctx.srv.repl.acked(offset) as i64;
    if acked >= n || ctx.client.in_exec {
        return ctx.out.int(acked);
    }
    let deadline_ms = if timeout == 0 {
        0
    } else {
        ctx.now_ms + timeout as u64
    };
    ctx.client.action = Some(ClientAction::Wait {
        offset,
        replicas: n.max(0) as u64,
        deadline_ms,
    });
}
