//! Persistence commands (Redis's rdb.c and cluster.c's DUMP/RESTORE): SAVE, DUMP, RESTORE, and
//! the whole-keyspace snapshot and reload DEBUG RELOAD uses.
//!
//! SAVE serializes every shard's keyspace while holding all shard locks (keyspace-wide, like
//! FLUSHALL), so the file is one consistent cut; it blocks the server for the duration, as
//! Redis's SAVE does. The encoding lives in `persist::rdb`; this file only walks the shards.

use std::sync::atomic::Ordering;

use super::{
    arg_i64, eq_ic, spec, Ctx, Spec, ADMIN, ALL_SHARDS, DENYOOM, NOSCRIPT, NOT_INTEGER, NO_KEYS,
    NO_MULTI, READONLY, SYNTAX, WRITE,
};
use crate::config::notify::GENERIC;
use crate::persist::rdb::read::{restore_payload, LoadSink, Loaded, Reader};
use crate::persist::rdb::write::{dump_payload, Writer};
use crate::persist::rdb::Encodings;
use crate::persist::snapshot::FileSink;
use crate::resp::Args;
use crate::runtime::clock::unix_ms;
use crate::server::log;
use crate::server::view::ShardView;
use crate::store::db::lru_clock;
use crate::store::{Entry, Shard};

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("save", 1, ADMIN | NOSCRIPT | NO_MULTI | ALL_SHARDS, NO_KEYS, save, "server", "Synchronously saves the database(s) to disk.", "1.0.0"),
    spec("bgsave", -1, ADMIN | NOSCRIPT | ALL_SHARDS, NO_KEYS, bgsave, "server", "Asynchronously saves the database(s) to disk.", "1.0.0"),
    spec("dump", 2, READONLY, (1, 1, 1), dump, "generic", "Returns a serialized representation of the value stored at a key.", "2.6.0"),
    spec("restore", -4, WRITE | DENYOOM, (1, 1, 1), restore, "generic", "Creates a key from the serialized representation of a value.", "2.6.0"),
];

const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const IN_PROGRESS: &str = "Background save already in progress";

/// BGSAVE [SCHEDULE]: starts a background save and replies "Background saving started". No
/// fork: this command holds every shard for an instant to take the cut, then each thread
/// copies its shard while it keeps serving (see `persist::snapshot`). An error while one runs.
fn bgsave(ctx: &mut Ctx, args: Args) {
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args.get(1), "schedule")) {
        return ctx.out.error(SYNTAX);
    }
    // A full sync's snapshot counts as a save in progress, as Redis's diskless sync child does.
    if ctx.srv.save.in_progress.load(Ordering::Acquire)
        || (crate::store::db::snapshot_running()
            && !ctx
                .srv
                .aof
                .status
                .rewrite_in_progress
                .load(Ordering::Acquire))
    {
        if args.len() == 2 {
            // Worker 0's cron starts it once the running save ends (`server/savepoint.rs`).
            ctx.srv.save.scheduled.store(true, Ordering::Release);
            return ctx.out.simple(b"Background saving scheduled");
        }
        return ctx.out.err(IN_PROGRESS);
    }
    if ctx
        .srv
        .aof
        .status
        .rewrite_in_progress
        .load(Ordering::Acquire)
    {
        // One snapshot at a time: the AOF rewrite's is running.
        if args.len() == 2 {
            ctx.srv.save.scheduled.store(true, Ordering::Release);
            return ctx.out.simple(b"Background saving scheduled");
        }
        return ctx.out.err("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    }
    start_background_save(ctx.srv, &mut ctx.shards);
    ctx.out.simple(b"Background saving started")
}

/// Takes the cut over the held shards (the caller holds all of them) and starts the save
/// (BGSAVE, and save points from cron). A file that cannot be created fails the save the way
/// Redis's child does: logged, and `rdb_last_bgsave_status:err`.
pub fn start_background_save(srv: &crate::server::Shared, shards: &mut ShardView) {
    let (compress, checksum, name) = {
        let c = srv.config();
        let b = |n| c.get_bool(n).unwrap_or(true);
        (b("rdbcompression"), b("rdbchecksum"), c.dbfilename.clone())
    };
    let held: Vec<usize> = shards.held().collect();
    let header = dump_aux(srv);
    let sizes = db_sizes(shards);
    log::notice("Background saving started");
    let temp = format!("temp-{}.rdb", std::process::id());
    let done = crate::persist::snapshot::bgsave_done(srv.save.clone());
    let sink = match FileSink::start(
        temp,
        name,
        (&header, &sizes),
        (crate::persist::snapshot::Format::Rdb, compress, checksum),
        held.len(),
        done,
    ) {
        Ok(s) => s,
        Err(e) => {
            log::warning(&temp_file_error(&e));
            log::warning("Background saving error");
            srv.save.last_bgsave_ok.store(false, Ordering::Relaxed);
            srv.save.in_progress.store(false, Ordering::Release);
            return;
        }
    };
    for i in held {
        let shard = shards.shard(i);
        // Changes from here on are the next save's (a failed save does not give them back).
        shard.dirty = 0;
        shard.start_snapshot(sink.clone());
    }
}

/// The encoding thresholds of the running thread, for rebuilding loaded values.
pub fn encodings(ctx: &Ctx) -> Encodings {
    Encodings {
        hash: ctx.limits.hash,
        list: ctx.limits.list,
        set: ctx.limits.set,
        zset: ctx.limits.zset,
    }
}

/// The AUX fields of a dump file taken now (every shard held, or the workers stopped): on a
/// replica whose dataset is exactly its master's stream up to some offset, that history and
/// offset, so a restart from this file continues partially, as Redis's replicas do.
pub fn dump_aux(srv: &crate::server::Shared) -> Vec<(&'static str, String)> {
    let mut header = aux(&srv.run_id, false);
    if let Some((replid, offset)) = crate::server::replicas::dump_repl_info(srv) {
        for (k, v) in header.iter_mut() {
            match *k {
                "repl-id" => *v = replid.clone(),
                "repl-offset" => *v = offset.to_string(),
                _ => {}
            }
        }
    }
    header
}

/// Redis 7's AUX fields for a file written now; `aof_base` marks an AOF rewrite's base.
pub fn aux(run_id: &str, aof_base: bool) -> Vec<(&'static str, String)> {
    vec![
        ("redis-ver", crate::server::start::REDIS_VERSION.to_string()),
        ("redis-bits", "64".into()),
        ("ctime", (unix_ms() / 1000).to_string()),
        ("used-mem", super::info::rss_bytes().to_string()),
        ("repl-id", run_id.to_string()),
        ("repl-offset", "0".into()),
        ("aof-base", if aof_base { "1" } else { "0" }.into()),
    ]
}

/// The whole keyspace (every held shard, which for keyspace-wide commands is all of them) as
/// an RDB file.
pub fn snapshot(ctx: &mut Ctx) -> Vec<u8> {
    let header = dump_aux(ctx.srv);
    snapshot_with(ctx, &header)
}

/// `snapshot` with the given AUX fields (an AOF base sets `aof-base`).
pub fn snapshot_with(ctx: &mut Ctx, header: &[(&'static str, String)]) -> Vec<u8> {
    let config = ctx.srv.config().clone();
    let held: Vec<usize> = ctx.shards.held().collect();
    let shards = &mut ctx.shards;
    write_rdb(&config, header, held.len(), |j, f| f(shards.shard(held[j])))
}

/// An RDB file of `shards` shards, each reached through `with(index, f)` (so callers that hold
/// shards differently, commands or the shut-down path, share the walk).
pub fn write_rdb(
    config: &crate::config::Config,
    header: &[(&str, String)],
    shards: usize,
    mut with: impl FnMut(usize, &mut dyn FnMut(&mut Shard)),
) -> Vec<u8> {
    let b = |n| config.get_bool(n).unwrap_or(true);
    let mut w = Writer::new(b("rdbcompression"));
    w.header(header);
    for d in 0..config.databases {
        let (mut keys, mut volatile) = (0, 0);
        for i in 0..shards {
            with(i, &mut |sh| {
                keys += sh.dbs[d].table.len();
                volatile += sh.dbs[d].table.volatile_len();
            });
        }
        if keys == 0 {
            continue;
        }
        w.select_db(d, keys, volatile);
        for i in 0..shards {
            with(i, &mut |sh| {
                for r in sh.dbs[d].table.records().iter() {
                    w.record(r);
                }
            });
        }
    }
    w.finish(b("rdbchecksum"))
}

/// Writes the snapshot to `dbfilename` in `dir`; on success resets the change counters and
/// LASTSAVE. The error is the log line (already logged).
pub fn save_to_disk(ctx: &mut Ctx) -> Result<(), String> {
    let bytes = snapshot(ctx);
    let name = ctx.srv.config().dbfilename.clone();
    if let Err(e) = crate::persist::write_atomic(&name, &bytes) {
        let line = temp_file_error(&e);
        log::warning(&line);
        return Err(line);
    }
    log::notice("DB saved on disk");
    let held: Vec<usize> = ctx.shards.held().collect();
    for i in held {
        ctx.shards.shard(i).dirty = 0;
    }
    ctx.srv
        .save
        .lastsave_s
        .store(unix_ms() / 1000, Ordering::Relaxed);
    ctx.srv.save.saves.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Redis's log line for a temp file that could not be written.
fn temp_file_error(e: &std::io::Error) -> String {
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!(
        "Failed opening the temp RDB file temp-{}.rdb (in server root dir {cwd}) for saving: {}",
        std::process::id(),
        crate::config::io_error_text(e)
    )
}

/// Each non-empty database's size over the held shards (a snapshot's RESIZEDB hints).
pub fn db_sizes(shards: &mut ShardView) -> Vec<crate::persist::snapshot::DbSize> {
    let held: Vec<usize> = shards.held().collect();
    let dbs = held.first().map_or(0, |&i| shards.shard(i).dbs.len());
    (0..dbs)
        .map(|db| {
            let (mut keys, mut volatile) = (0, 0);
            for &i in &held {
                let t = &mut shards.shard(i).dbs[db].table;
                keys += t.len();
                volatile += t.volatile_len();
            }
            crate::persist::snapshot::DbSize { db, keys, volatile }
        })
        .filter(|s| s.keys > 0)
        .collect()
}

/// Empties every database and loads `bytes` (an RDB file) into the held shards, each key to
/// the shard that owns it.
pub fn load_snapshot(ctx: &mut Ctx, bytes: &[u8]) -> Result<usize, String> {
    empty_held(ctx);
    load_rdb_into(ctx, bytes).map(|s| s.keys)
}

/// Empties every database of the held shards (before a load replaces the dataset).
pub fn empty_held(ctx: &mut Ctx) {
    let held: Vec<usize> = ctx.shards.held().collect();
    for &i in &held {
        for db in ctx.shards.shard(i).dbs.iter_mut() {
            db.table.clear();
        }
    }
}

/// A load into the shards a command holds (DEBUG RELOAD, a replica's full sync, an AOF's
/// base); reports its offset for INFO's `loading_loaded_bytes`.
struct IntoHeld<'v, 's> {
    shards: &'v mut ShardView<'s>,
    access_s: u32,
    /// `key-load-delay` in µs.
    delay_us: i64,
    status: &'v crate::persist::snapshot::SaveStatus,
}

impl<'a> LoadSink<'a> for IntoHeld<'_, '_> {
    fn key(&mut self, l: Loaded<'a>) {
        crate::persist::key_load_delay(self.delay_us);
        let db = self.shards.db_at(l.db, &l.key);
        db.db.table.insert(l.into_entry(self.access_s));
    }

    fn resize(&mut self, db: usize, keys: u64) {
        let held: Vec<usize> = self.shards.held().collect();
        let per_shard = usize::try_from(keys).unwrap_or(usize::MAX) / held.len().max(1);
        for i in held {
            if let Some(d) = self.shards.shard(i).dbs.get_mut(db) {
                d.table.reserve(per_shard);
            }
        }
    }

    fn progress(&mut self, offset: usize) -> bool {
        self.status
            .loading_loaded_bytes
            .store(offset as u64, Ordering::Relaxed);
        true
    }
}

/// Loads `bytes` (an RDB file) into the held shards without emptying them first (an AOF's
/// base, before its incremental files); records the counts INFO shows.
pub fn load_rdb_into(
    ctx: &mut Ctx,
    bytes: &[u8],
) -> Result<crate::persist::rdb::read::Summary, String> {
    let enc = encodings(ctx);
    let (databases, delay_us) = {
        let c = ctx.srv.config();
        (c.databases, c.get_int("key-load-delay").unwrap_or(0))
    };
    let now = ctx.now_ms;
    let sink = IntoHeld {
        shards: &mut ctx.shards,
        access_s: lru_clock(now),
        delay_us,
        status: ctx.srv.save.as_ref(),
    };
    let summary = Reader::new(bytes, enc)
        .file(now, databases, true, sink)
        .map_err(|e| e.to_string())?;
    let s = &ctx.srv.save;
    s.last_load_keys_loaded
        .store(summary.keys as u64, Ordering::Relaxed);
    s.last_load_keys_expired
        .store(summary.expired_skipped as u64, Ordering::Relaxed);
    Ok(summary)
}

/// SAVE: writes the dataset to disk, blocking; OK, or an error when the file could not be
/// written (logged with the reason) or a background save is running.
fn save(ctx: &mut Ctx, _args: Args) {
    if ctx.srv.save.in_progress.load(Ordering::Acquire) {
        return ctx.out.err(IN_PROGRESS);
    }
    match save_to_disk(ctx) {
        Ok(()) => ctx.out.ok(),
        Err(_) => ctx.out.error("ERR"),
    }
}

/// DUMP key: the value in Redis's serialized form (RDB encoding, RDB version, CRC-64), or nil.
fn dump(ctx: &mut Ctx, args: Args) {
    let compress = ctx.srv.config().get_bool("rdbcompression").unwrap_or(true);
    let mut db = ctx.shards.db(args.get(1));
    match db.lookup_read(args.get(1)) {
        None => ctx.out.null(),
        Some(e) => {
            let p = dump_payload(&e.value, compress);
            ctx.out.bulk(&p)
        }
    }
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]: creates
/// `key` from a DUMP payload; OK. BUSYKEY when it exists (without REPLACE); a TTL already in
/// the past deletes instead.
fn restore(ctx: &mut Ctx, args: Args) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle_s, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let has_value = j + 1 < args.len();
        if eq_ic(a, "replace") {
            replace = true;
        } else if eq_ic(a, "absttl") {
            absttl = true;
        } else if eq_ic(a, "idletime") && has_value && freq.is_none() {
            j += 1;
            let Some(v) = arg_i64(args.get(j)) else {
                return ctx.out.error(NOT_INTEGER);
            };
            if v < 0 {
                return ctx.out.err("Invalid IDLETIME value, must be >= 0");
            }
            idle_s = Some(v);
        } else if eq_ic(a, "freq") && has_value && idle_s.is_none() {
            j += 1;
            let Some(v) = arg_i64(args.get(j)) else {
                return ctx.out.error(NOT_INTEGER);
            };
            if !(0..=255).contains(&v) {
                return ctx.out.err("Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
        } else {
            return ctx.out.error(SYNTAX);
        }
        j += 1;
    }
    let key = args.get(1);
    let enc = encodings(ctx);
    let now = ctx.now_ms;
    let mut db = ctx.shards.db(key);
    if !replace && db.exists(key) {
        return ctx.out.error(BUSYKEY);
    }
    let Some(ttl) = arg_i64(args.get(2)) else {
        return ctx.out.error(NOT_INTEGER);
    };
    if ttl < 0 {
        return ctx.out.err("Invalid TTL value, must be >= 0");
    }
    let value = match restore_payload(args.get(3), enc) {
        Ok(v) => v,
        Err(e) => return ctx.out.error(e),
    };
    let deleted = replace && db.remove(key).is_some();
    let expire_at_ms = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    if expire_at_ms != 0 && expire_at_ms <= now {
        // Already expired: nothing is created (an old value was deleted with REPLACE, which
        // is what replicas are told).
        if deleted {
            ctx.notify(GENERIC, "del", key);
            ctx.propagate(&[b"DEL", key]);
        } else {
            ctx.propagate_none();
        }
        return ctx.out.ok();
    }
    let access_s = lru_clock(now).wrapping_sub(idle_s.unwrap_or(0).min(u32::MAX as i64) as u32);
    db.insert_entry(Entry {
        key: key.into(),
        value,
        expire_at_ms,
        access_s,
    });
    if ttl != 0 && !absttl {
        // A relative TTL reaches replicas and the AOF as the absolute time it meant, as in
        // Redis 7 (a late replica would otherwise keep the key longer).
        let at = expire_at_ms.to_string();
        let mut rewritten: Vec<&[u8]> = args.iter().collect();
        rewritten[2] = at.as_bytes();
        rewritten.push(b"ABSTTL");
        ctx.propagate(&rewritten);
    }
    ctx.notify(GENERIC, "restore", key);
    ctx.out.ok()
}
