//! AOF commands (Redis's aof.c): BGREWRITEAOF, turning the AOF on from a running server, and
//! replaying an AOF into the keyspace (start-up and DEBUG LOADAOF).
//!
//! The files and their fsyncs are `persist::aof`; the snapshot a rewrite writes is the same
//! fork-free one BGSAVE uses (`persist::snapshot`), with the `aof-base` AUX flag set.

use std::sync::atomic::Ordering;

use super::{spec, Ctx, Spec, ADMIN, ALL_SHARDS, NOSCRIPT, NO_KEYS};
use crate::persist::aof::manifest::{Kind, Manifest};
use crate::persist::aof::read::{Commands, ReadError};
use crate::persist::aof::{self, Fsync};
use crate::persist::snapshot::{FileSink, Format};
use crate::resp::{Args, Reply};
use crate::server::client::{ClientShared, ClientState};
use crate::server::log;
use crate::server::view::ShardView;
use crate::server::Shared;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    spec("bgrewriteaof", 1, ADMIN | NOSCRIPT | ALL_SHARDS, NO_KEYS, bgrewriteaof, "server", "Asynchronously rewrites the append-only file to disk.", "1.0.0"),
];

const REWRITE_FAILED: &str =
    "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.";

/// BGREWRITEAOF: starts a background rewrite of the AOF (a new base from a fork-free snapshot)
/// and replies "Background append only file rewriting started"; "... scheduled" when a
/// background save runs (it starts when that ends); an error while a rewrite runs.
fn bgrewriteaof(ctx: &mut Ctx, _args: Args) {
    let srv = ctx.srv;
    if srv.aof.status.rewrite_in_progress.load(Ordering::Acquire) {
        return ctx
            .out
            .err("Background append only file rewriting already in progress");
    }
    if srv.save.in_progress.load(Ordering::Acquire) || crate::store::db::snapshot_running() {
        srv.aof
            .status
            .rewrite_scheduled
            .store(true, Ordering::Release);
        return ctx
            .out
            .simple(b"Background append only file rewriting scheduled");
    }
    match start_rewrite(srv, &mut ctx.shards) {
        Ok(()) => ctx
            .out
            .simple(b"Background append only file rewriting started"),
        Err(_) => ctx.out.error(REWRITE_FAILED),
    }
}

/// The AOF's place and policy from the configuration: (appenddirname, appendfilename, fsync).
pub fn aof_config(c: &crate::config::Config) -> (String, String, Fsync) {
    (
        c.get_str("appenddirname")
            .unwrap_or_else(|| "appendonlydir".into()),
        c.get_str("appendfilename")
            .unwrap_or_else(|| "appendonly.aof".into()),
        Fsync::parse(c.get_enum("appendfsync").unwrap_or("everysec")),
    )
}

/// With every shard held: starts a rewrite (or, when the AOF is off but configured on,
/// switches it on: the rewrite writes its first base). The snapshot then runs on every
/// thread's loop; `Aof::end_rewrite` installs the result. The error is logged.
pub fn start_rewrite(srv: &Shared, shards: &mut ShardView) -> Result<(), String> {
    let (compress, checksum, preamble) = {
        let c = srv.config();
        let b = |n| c.get_bool(n).unwrap_or(true);
        (
            b("rdbcompression"),
            b("rdbchecksum"),
            b("aof-use-rdb-preamble"),
        )
    };
    srv.aof.rdb_preamble.store(preamble, Ordering::Relaxed);
    let format = if preamble {
        Format::Rdb
    } else {
        Format::Commands
    };
    let started = if srv.aof.is_on() {
        srv.aof.begin_rewrite(&srv.feed)
    } else {
        let (dir, prefix, policy) = aof_config(&srv.config());
        srv.aof.enable_for_rewrite(&dir, &prefix, policy, &srv.feed)
    };
    let target = started.inspect_err(|e| log::warning(e))?;
    let held: Vec<usize> = shards.held().collect();
    let header = super::persistence::aux(&srv.run_id, true);
    let sizes = super::persistence::db_sizes(shards);
    let a = srv.aof.clone();
    let done = Box::new(move |result, peak| a.end_rewrite(result, peak));
    let sink = FileSink::start(
        aof::rewrite_temp_name(),
        target,
        (&header, &sizes),
        (format, compress, checksum),
        held.len(),
        done,
    );
    let sink = match sink {
        Ok(s) => s,
        Err(e) => {
            let e = format!(
                "Can't open the append-only file {}: {e}",
                aof::rewrite_temp_name()
            );
            srv.aof.end_rewrite(Err(e.clone()), 0);
            return Err(e);
        }
    };
    for i in held {
        shards.shard(i).start_snapshot(sink.clone());
    }
    Ok(())
}

/// What a replay loaded.
#[derive(Default, Debug)]
pub struct Replayed {
    pub keys_from_base: usize,
    pub commands: usize,
}

/// Loads the AOF the manifest describes into the held shards (which the caller has emptied):
/// the base (RDB or commands), then each incremental file. A torn last command of the last
/// file is cut off when `truncated_ok` (aof-load-truncated); any other damage is an error
/// naming the file and offset, and nothing is half-loaded silently.
pub fn replay(
    ctx: &mut Ctx,
    dir: &str,
    m: &Manifest,
    truncated_ok: bool,
) -> Result<Replayed, String> {
    let mut done = Replayed::default();
    let files: Vec<_> = m.base.iter().chain(m.incrs.iter()).collect();
    let last = files.len().saturating_sub(1);
    // For INFO's loading_* fields while the start-up load runs.
    let status = &ctx.srv.save;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(aof::path(dir, &f.name)).ok())
        .map(|md| md.len())
        .sum();
    status
        .loading_total_bytes
        .store(total_bytes, Ordering::Relaxed);
    let mut before_bytes = 0u64;
    for (i, f) in files.iter().enumerate() {
        let p = aof::path(dir, &f.name);
        let bytes = std::fs::read(&p)
            .map_err(|e| format!("Can't open the append-only file {}: {e}", f.name))?;
        let progress = Progress {
            status: ctx.srv.save.clone(),
            before_bytes,
        };
        before_bytes += bytes.len() as u64;
        let started = crate::runtime::clock::mono_us();
        let mut commands_from = 0;
        if f.kind == Kind::Base && bytes.starts_with(b"REDIS") {
            log::notice("Reading RDB base file on AOF loading...");
            let summary = super::persistence::load_rdb_into(ctx, &bytes)
                .map_err(|e| format!("Internal error in RDB reading file {}: {e}", f.name))?;
            done.keys_from_base += summary.keys;
            log::notice(&format!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                summary.keys, summary.expired_skipped
            ));
            // An old-style AOF: commands may follow its RDB preamble.
            commands_from = summary.end;
        }
        if commands_from < bytes.len() {
            let tail = &bytes[commands_from..];
            let ok = truncated_ok && i == last;
            done.commands += replay_commands(ctx, &f.name, &p, tail, commands_from, ok, &progress)?;
        }
        let kind = if f.kind == Kind::Base { "base" } else { "incr" };
        log::notice(&format!(
            "DB loaded from {kind} file {}: {:.3} seconds",
            f.name,
            (crate::runtime::clock::mono_us() - started) as f64 / 1e6
        ));
    }
    Ok(done)
}

/// Where a replay is, for INFO: the bytes of the files before this one.
struct Progress {
    status: std::sync::Arc<crate::persist::snapshot::SaveStatus>,
    before_bytes: u64,
}

/// Runs the commands of one file; returns how many ran. Stops early (an error) when a
/// shutdown is asked for meanwhile.
fn replay_commands(
    ctx: &mut Ctx,
    name: &str,
    path: &str,
    bytes: &[u8],
    file_offset: usize,
    truncated_ok: bool,
    progress: &Progress,
) -> Result<usize, String> {
    let mut loader = ClientState::new(
        std::sync::Arc::new(ClientShared::new(0, 0, -1, "AOF".into(), String::new(), 0)),
        true,
    );
    let mut cmds = Commands::new(bytes);
    let mut count = 0;
    // Commands of an open MULTI, run at its EXEC; a file ending inside one is torn there.
    let mut multi: Option<(usize, Vec<Vec<Vec<u8>>>)> = None;
    let mut reply = Vec::new();
    let delay_us = ctx.srv.config().get_int("key-load-delay").unwrap_or(0);
    loop {
        crate::persist::key_load_delay(delay_us);
        let at = cmds.offset();
        progress.status.loading_loaded_bytes.store(
            progress.before_bytes + (file_offset + at) as u64,
            Ordering::Relaxed,
        );
        if ctx.srv.shutdown.load(Ordering::Relaxed) != 0 {
            return Err("Loading stopped: the server is shutting down.".into());
        }
        let args = match cmds.next_command() {
            None => break,
            Some(Ok(a)) => a,
            Some(Err(ReadError::Bad { offset, reason })) => {
                let offset = offset + file_offset;
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {offset} ({reason}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                ));
            }
            Some(Err(ReadError::Truncated { offset })) => {
                let offset = multi.as_ref().map_or(offset, |(m, _)| *m) + file_offset;
                return truncated(name, path, offset, truncated_ok).map(|()| count);
            }
        };
        let name_lc = args[0].to_ascii_lowercase();
        match (name_lc.as_slice(), multi.as_mut()) {
            (b"multi", None) => multi = Some((at, Vec::new())),
            (b"exec", Some(_)) => {
                let (_, queued) = multi.take().unwrap_or_default();
                for q in &queued {
                    let q: Vec<&[u8]> = q.iter().map(|a| a.as_slice()).collect();
                    run_one(ctx, &mut loader, &mut reply, &q, name)?;
                    count += 1;
                }
            }
            (_, Some((_, queued))) => queued.push(args.iter().map(|a| a.to_vec()).collect()),
            _ => {
                run_one(ctx, &mut loader, &mut reply, &args, name)?;
                count += 1;
            }
        }
    }
    match multi {
        Some((at, _)) => {
            log::warning("Revert incomplete MULTI/EXEC transaction in AOF file");
            truncated(name, path, at + file_offset, truncated_ok).map(|()| count)
        }
        None => Ok(count),
    }
}

/// The last file ends in a torn command at `offset`: cut it off (aof-load-truncated yes) or
/// refuse to start.
fn truncated(name: &str, path: &str, offset: usize, truncated_ok: bool) -> Result<(), String> {
    log::warning(&format!(
        "!!! Warning: short read while loading the AOF file {name}!!!"
    ));
    if !truncated_ok {
        return Err(format!(
            "Unexpected end of file reading the append only file {name} at offset {offset}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
        ));
    }
    log::warning(&format!(
        "!!! Truncating the AOF incr file {name} at offset {offset} !!!"
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(offset as u64))
        .map_err(|e| format!("Error truncating the AOF file {name}: {e}"))?;
    log::warning("AOF loaded anyway because aof-load-truncated is enabled");
    Ok(())
}

/// Runs one AOF command with the held shards, as the loader client (its SELECT sticks).
fn run_one(
    ctx: &mut Ctx,
    loader: &mut ClientState,
    reply: &mut Vec<u8>,
    args: &[&[u8]],
    file: &str,
) -> Result<(), String> {
    let Some((_, spec)) = super::table().lookup(args[0]) else {
        return Err(format!(
            "Unknown command '{}' reading the append only file {file}",
            super::printable(args[0], 128)
        ));
    };
    if !spec.arity_ok(args.len()) || spec.has(ALL_SHARDS) && !is_replayable(spec.name) {
        return Err(format!(
            "Bad command '{}' reading the append only file {file}",
            spec.name
        ));
    }
    let mut base = Vec::with_capacity(args.iter().map(|a| a.len()).sum());
    let mut ranges = Vec::with_capacity(args.len());
    for a in args {
        ranges.push((base.len() as u32, a.len() as u32));
        base.extend_from_slice(a);
    }
    let mut shards = ctx.shards.reborrow();
    shards.dbi = loader.db;
    reply.clear();
    let mut sub = Ctx {
        shards,
        out: Reply::new(reply, false),
        client: loader,
        srv: ctx.srv,
        worker: ctx.worker,
        now_ms: ctx.now_ms,
        limits: ctx.limits,
    };
    (spec.handler)(&mut sub, Args::new(&base, &ranges));
    Ok(())
}

/// Keyspace-wide commands an AOF may hold (the others, like DEBUG or SAVE, never propagate).
fn is_replayable(name: &str) -> bool {
    matches!(name, "flushall" | "flushdb" | "swapdb")
}
