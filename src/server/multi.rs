//! Transactions, server side (Redis's multi.c): queueing between MULTI and EXEC, and EXEC.
//!
//! While a client is in MULTI, every command except the transaction protocol itself (EXEC,
//! DISCARD, MULTI, WATCH, QUIT, RESET) is checked, then copied into the client's queue and
//! answered `+QUEUED`; a command that fails its checks answers its error and dooms the
//! transaction (EXECABORT). The queue remembers the shards its commands touch, and EXEC is
//! routed to all of them: it runs only once this connection holds every one of those shard
//! locks (`locks.rs`), and runs the whole queue under them. No other client can see or interleave
//! with part of a transaction, across any number of shards.
//!
//! WATCH registers a per-client flag with each watched key's database; any change to the key
//! (a write, a delete, an expiry, a flush) sets it, and EXEC then answers nil without running
//! anything.

use std::sync::OnceLock;

use super::client::{ClientState, MULTI_COMMANDS_MAX};
use super::exec::{execute, route, Env};
use crate::commands::{self, Spec};
use crate::resp::{parse_command, Args, Limits, ParseOutcome, Reply};
use crate::runtime::clock::mono_ns;

/// Whether command-table entry `index` is EXEC.
pub fn is_exec(index: u32) -> bool {
    static EXEC: OnceLock<u32> = OnceLock::new();
    *EXEC.get_or_init(|| {
        commands::table()
            .lookup(b"exec")
            .map_or(u32::MAX, |(i, _)| i)
    }) == index
}

/// Whether command-table entry `index` is REPLICAOF or SLAVEOF (whose NO ONE form waits for the
/// replication link to drain before it runs).
pub fn is_replicaof(index: u32) -> bool {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    let (a, b) = *IDS.get_or_init(|| {
        let id = |n: &[u8]| commands::table().lookup(n).map_or(u32::MAX, |(i, _)| i);
        (id(b"replicaof"), id(b"slaveof"))
    });
    index == a || index == b
}

/// `REPLICAOF NO ONE` / `SLAVEOF NO ONE`.
pub fn is_promotion(args: &Args) -> bool {
    let is = |i: usize, s: &[u8]| args.get(i).eq_ignore_ascii_case(s);
    args.len() == 3 && (is(0, b"replicaof") || is(0, b"slaveof")) && is(1, b"no") && is(2, b"one")
}

/// The commands that act on the transaction itself instead of being queued.
fn runs_in_multi(spec: &Spec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// For a client in MULTI: queues the command (`raw` is its request as received) and answers
/// QUEUED, returning None; or, for the transaction protocol, returns its routing (EXEC's is the
/// union of the queued commands' shards).
pub fn queue_or_route(
    out: &mut Vec<u8>,
    client: &mut ClientState,
    spec: &Spec,
    args: &Args,
    raw: &[u8],
    shards: usize,
) -> Option<u64> {
    let resp3 = client.resp3;
    let dirty = client.watch_dirty();
    // Our replication link's full-sync load and new-history marker run at once, also inside a
    // transaction of the master's stream the link dropped in the middle of (queued, they
    // waited for an EXEC that never came, and the link with them). Its "applied" marker stays
    // queued: what a transaction queued is applied only at EXEC.
    let link_bookkeeping = client.is_master
        && crate::commands::replication::is_link_bookkeeping(args)
        && !crate::commands::replication::is_applied_marker(args);
    let m = client.multi.as_mut()?;
    if runs_in_multi(spec) || link_bookkeeping {
        if spec.name == "exec" {
            // A doomed transaction touches nothing: EXEC answers at once.
            return Some(if m.errored || dirty { 0 } else { m.need });
        }
        return Some(route(spec, args, shards));
    }
    let mut reply = Reply::new(out, resp3);
    if spec.has(commands::NO_MULTI) {
        m.errored = true;
        reply.err("Command not allowed inside a transaction");
        return None;
    }
    if m.count >= MULTI_COMMANDS_MAX {
        m.errored = true;
        reply.err("too many commands in the transaction");
        return None;
    }
    m.queued.extend_from_slice(raw);
    m.count += 1;
    m.writes |= spec.has(commands::WRITE);
    m.denies_stale |= !spec.has(commands::STALE);
    m.promotes |= is_promotion(args);
    m.need |= route(spec, args, shards);
    reply.simple(b"QUEUED");
    None
}

/// EXEC for a client in MULTI, with the locks of `held` (every shard the queue touches) held:
/// EXECABORT for a doomed transaction, nil when a watched key changed, else the array of the
/// queued commands' replies. Returns when it finished and the MONITOR lines to feed.
pub(super) fn exec(
    env: &Env,
    started_ns: u64,
    held: u64,
    client: &mut ClientState,
    out: &mut Vec<u8>,
) -> (u64, Vec<Vec<u8>>) {
    let Some(m) = client.multi.take() else {
        return (mono_ns(), Vec::new());
    };
    let dirty = client.watch_failed(env.now_ms);
    client.unwatch();
    if m.errored {
        Reply::new(out, client.resp3)
            .error("EXECABORT Transaction discarded because of previous errors.");
        return (mono_ns(), Vec::new());
    }
    if dirty {
        Reply::new(out, client.resp3).null_array();
        return (mono_ns(), Vec::new());
    }
    Reply::new(out, client.resp3).array(m.count);
    // The bytes were checked when queued; parse them again without limits.
    let limits = Limits {
        bulk_bytes_max: u64::MAX,
        authenticated: true,
    };
    let (mut ranges, mut scratch) = (Vec::new(), Vec::new());
    let mut clock_ns = started_ns;
    let mut lines = Vec::new();
    let mut pos = 0;
    // Blocking commands inside EXEC answer at once instead of blocking.
    client.in_exec = true;
    for _ in 0..m.count {
        let ParseOutcome::Complete { consumed, inline } =
            parse_command(&m.queued[pos..], &mut ranges, &mut scratch, &limits)
        else {
            // Unreachable for queued bytes; still one reply per queued command.
            Reply::new(out, client.resp3).err("internal error: unparsable queued command");
            continue;
        };
        let base: &[u8] = if inline { &scratch } else { &m.queued[pos..] };
        let args = Args::new(base, &ranges);
        match commands::table().lookup(args.get(0)) {
            Some((index, _)) => {
                let (finished, line) = execute(env, clock_ns, held, client, out, &args, index);
                clock_ns = finished;
                lines.extend(line);
            }
            None => Reply::new(out, client.resp3).error(&commands::unknown_command_text(&args)),
        }
        pos += consumed;
    }
    client.in_exec = false;
    // The transaction's writes reach replicas and the AOF as one MULTI/EXEC, appended while
    // EXEC still holds every shard they touched.
    super::exec::append_propagated(env.shared, client, true);
    super::exec::serve_blocked_after_exec(env, client, held);
    (clock_ns, lines)
}
