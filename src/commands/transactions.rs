//! Transactions (Redis's multi.c, command side): MULTI DISCARD WATCH UNWATCH, and EXEC outside
//! a transaction. Queueing and EXEC itself belong to the server (`server/multi.rs`): EXEC runs
//! the queued commands with the locks of every shard they touch held for the whole block.

use super::{
    spec, Ctx, Spec, ALLOW_BUSY, CLIENT_STATE, FAST, LOADING, NOSCRIPT, SKIP_SLOWLOG, STALE,
};
use crate::resp::Args;
use crate::server::client::Multi;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), multi, "transactions", "Mark the start of a transaction block", "1.2.0"),
    spec("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, (0, 0, 0), exec, "transactions", "Execute all commands issued after MULTI", "1.2.0"),
    spec("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), discard, "transactions", "Discard all commands issued after MULTI", "2.0.0"),
    // WATCH registers the connection's own flag: it must run on the connection's thread.
    spec("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | CLIENT_STATE, (1, -1, 1), watch, "transactions", "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0"),
    spec("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (0, 0, 0), unwatch, "transactions", "Forget about all watched keys", "2.2.0"),
];

/// MULTI: OK; commands are queued until EXEC or DISCARD.
fn multi(ctx: &mut Ctx, _args: Args) {
    if ctx.client.multi.is_some() {
        return ctx.out.err("MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Box::new(Multi::default()));
    ctx.out.ok();
}

/// EXEC reaches this handler only outside MULTI (the server runs real transactions).
fn exec(ctx: &mut Ctx, _args: Args) {
    ctx.out.err("EXEC without MULTI");
}

/// DISCARD: OK; drops the queued commands and every WATCH.
fn discard(ctx: &mut Ctx, _args: Args) {
    if ctx.client.multi.take().is_none() {
        return ctx.out.err("DISCARD without MULTI");
    }
    ctx.client.unwatch();
    ctx.out.ok();
}

/// WATCH key [key ...]: OK; a change to any of the keys before EXEC makes EXEC fail (nil).
fn watch(ctx: &mut Ctx, args: Args) {
    if ctx.client.multi.is_some() {
        return ctx.out.err("WATCH inside MULTI is not allowed");
    }
    let flag = ctx.client.watch_flag();
    for key in args.iter().skip(1) {
        let mut db = ctx.shards.db(key);
        // (A key already expired is deleted here, before the flag is registered: its
        // deletion is no change to what the client saw, as in Redis.)
        let expire_at_ms = db.lookup_write(key).map_or(0, |e| e.expire_at_ms);
        db.watch(key, flag.clone());
        ctx.client.watch_expiry(expire_at_ms);
    }
    ctx.out.ok();
}

/// UNWATCH: OK; forgets every watched key.
fn unwatch(ctx: &mut Ctx, _args: Args) {
    ctx.client.unwatch();
    ctx.out.ok();
}
