//! Loading the dump file or the AOF at start-up. The workers already serve while it runs:
//! each one's shard lock starts held by the loader (`Holder::Loader`), so no worker touches a
//! shard, and commands without the `loading` flag get `-LOADING` (`exec.rs`). When the load
//! ends, `finish` clears the flag and releases every lock. Each key goes straight into the
//! shard that owns it. Logs Redis's lines; a damaged file stops the server (exit 1) with the
//! byte offset and reason, as Redis does, rather than starting with part of the data.

use std::sync::atomic::Ordering;

use super::log;
use super::view::ShardView;
use crate::config::Config;
use crate::persist::rdb::read::{LoadSink, Loaded, Reader};
use crate::persist::rdb::Encodings;
use crate::persist::snapshot::SaveStatus;
use crate::runtime::clock::{mono_us, unix_ms};
use crate::store::db::lru_clock;

/// Sends each loaded key to the shard that owns it; sizes the tables from RESIZEDB first.
struct IntoShards<'s> {
    view: ShardView<'s>,
    access_s: u32,
    /// `key-load-delay` in µs.
    delay_us: i64,
    status: &'s SaveStatus,
    shutdown: &'s std::sync::atomic::AtomicU8,
}

impl<'a> LoadSink<'a> for IntoShards<'_> {
    fn key(&mut self, l: Loaded<'a>) {
        crate::persist::key_load_delay(self.delay_us);
        let shard = self.view.shard_for(&l.key);
        shard.dbs[l.db].table.insert(l.into_entry(self.access_s));
    }

    fn resize(&mut self, db: usize, keys: u64) {
        let n = self.view.count();
        let per_shard = usize::try_from(keys).unwrap_or(usize::MAX) / n;
        for i in 0..n {
            self.view.shard(i).dbs[db].table.reserve(per_shard);
        }
    }

    fn progress(&mut self, offset: usize) -> bool {
        self.status
            .loading_loaded_bytes
            .store(offset as u64, Ordering::Relaxed);
        self.shutdown.load(Ordering::Relaxed) == 0
    }
}

/// Every shard, for the loader thread.
///
/// # Safety
/// Only while the loader holds every worker's shard lock: `save.loading` was set before the
/// workers started (so each began with its lock held by `Holder::Loader`) and `finish` has
/// not run yet. The view must be dropped before `finish`.
unsafe fn all_shards(shared: &super::Shared) -> ShardView<'_> {
    let n = shared.shards.len();
    let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    // SAFETY: the caller's contract above: every shard's lock is held by the loader.
    unsafe { ShardView::new(&shared.shards, all) }
}

/// Marks the start of a load of `total_bytes` (INFO's `loading_*` fields).
fn begin(status: &SaveStatus, total_bytes: u64) {
    status
        .loading_start_s
        .store(unix_ms() / 1000, Ordering::Relaxed);
    status
        .loading_started_us
        .store(mono_us(), Ordering::Relaxed);
    status
        .loading_total_bytes
        .store(total_bytes, Ordering::Relaxed);
    status.loading_loaded_bytes.store(0, Ordering::Relaxed);
}

/// Ends the start-up load: commands run again and every worker gets its shard lock back
/// (the `Unlock` travels through its mailbox, which orders the loader's writes before the
/// worker's next access).
pub fn finish(shared: &super::Shared) {
    shared.save.loading.store(false, Ordering::Release);
    for w in 0..shared.workers() {
        shared.send(w, super::Msg::Unlock);
    }
}

/// The server must not start (the reason is logged).
#[derive(Debug)]
pub struct LoadFailed;

/// Loads `dbfilename` (in `dir`, the working directory) into the shards if it exists.
///
/// # Safety
/// As `all_shards`: called on the loader thread, before `finish`.
pub unsafe fn load_dump(shared: &super::Shared, config: &Config) -> Result<(), LoadFailed> {
    let status = &*shared.save;
    let name = &config.dbfilename;
    let bytes = match std::fs::read(name) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            log::warning(&format!("Fatal error loading the DB: {e}. Exiting."));
            return Err(LoadFailed);
        }
    };
    begin(status, bytes.len() as u64);
    let limits = super::worker::Limits::from_config(config, 0);
    let enc = Encodings {
        hash: limits.hash,
        list: limits.list,
        set: limits.set,
        zset: limits.zset,
    };
    let started_us = mono_us();
    let now = unix_ms();
    let access_s = lru_clock(now);
    let verify = config.get_bool("rdbchecksum").unwrap_or(true);
    let sink = IntoShards {
        // SAFETY: this function's contract (the loader holds every shard lock).
        view: unsafe { all_shards(shared) },
        access_s,
        delay_us: config.get_int("key-load-delay").unwrap_or(0),
        status,
        shutdown: &shared.shutdown,
    };
    let result = Reader::new(&bytes, enc).file(now, config.databases, verify, sink);
    match result {
        Ok(summary) => {
            let aux = |k: &str| {
                summary
                    .aux
                    .iter()
                    .find(|(a, _)| a == k)
                    .map(|(_, v)| v.clone())
            };
            if let Some(v) = aux("redis-ver") {
                log::notice(&format!("Loading RDB produced by version {v}"));
            }
            if let Some(ctime) = aux("ctime").and_then(|c| c.parse::<u64>().ok()) {
                let age = (now / 1000).saturating_sub(ctime);
                log::notice(&format!("RDB age {age} seconds"));
            }
            if let Some(mem) = aux("used-mem").and_then(|m| m.parse::<u64>().ok()) {
                log::notice(&format!(
                    "RDB memory usage when created {:.2} Mb",
                    mem as f64 / (1024.0 * 1024.0)
                ));
            }
            for s in &summary.skipped {
                log::warning(&format!("Skipped {s} while loading the RDB"));
            }
            // A replica's dump that recorded its master's history at the dataset's offset: the
            // first PSYNC after this start continues it.
            let repl = (
                aux("repl-id"),
                aux("repl-offset").and_then(|o| o.parse::<u64>().ok()),
            );
            if let (Some(id), Some(offset), true) = (repl.0, repl.1, config.replicaof.is_some()) {
                if id.len() == 40 && offset > 0 {
                    shared.repl.adopt(&id);
                    let backlog = config
                        .get_int("repl-backlog-size")
                        .unwrap_or(1 << 20)
                        .max(1);
                    shared.feed.restart_at(offset, backlog as usize);
                    log::notice(&format!(
                        "Using the replication ID and offset of the RDB file to continue: {id}:{offset}"
                    ));
                }
            }
            status
                .last_load_keys_loaded
                .store(summary.keys as u64, Ordering::Relaxed);
            status
                .last_load_keys_expired
                .store(summary.expired_skipped as u64, Ordering::Relaxed);
            log::notice(&format!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                summary.keys, summary.expired_skipped
            ));
            log::notice(&format!(
                "DB loaded from disk: {:.3} seconds",
                (mono_us() - started_us) as f64 / 1e6
            ));
            Ok(())
        }
        Err(_) if shared.shutdown.load(Ordering::Acquire) != 0 => {
            log::warning("Loading stopped: the server is shutting down.");
            Err(LoadFailed)
        }
        Err(e) => {
            log::warning(&format!(
                "Internal error in RDB reading offset {}, file {name}: {}",
                e.offset, e.reason
            ));
            log::warning("Terminating server after rdb file reading failure.");
            Err(LoadFailed)
        }
    }
}

/// Loads the AOF (`appendonly yes`: it wins over the dump file) into the shards and opens it
/// for appending; with no AOF yet, creates one from the (empty) dataset, as Redis 7 does on
/// its first start with the AOF on.
///
/// # Safety
/// As `all_shards`: called on the loader thread, before `finish`.
pub unsafe fn load_aof(shared: &super::Shared, config: &Config) -> Result<(), LoadFailed> {
    use crate::commands::aof::{aof_config, replay};
    use crate::persist::aof;
    let (dir, prefix, policy) = aof_config(config);
    begin(&shared.save, 0);
    let manifest = aof::read_manifest(&dir, &prefix)
        .and_then(|m| match m {
            Some(m) => Ok(Some(m)),
            None => aof::upgrade_single_file(&dir, &prefix),
        })
        .map_err(|e| {
            log::warning(&e);
            LoadFailed
        })?;
    let limits = super::worker::Limits::from_config(config, 0);
    let now = unix_ms();
    // SAFETY: this function's contract (the loader holds every shard lock); the view is
    // dropped before it returns.
    let mut view = unsafe { all_shards(shared) };
    view.now_ms = now;
    let mut client = super::client::ClientState::new(
        std::sync::Arc::new(super::client::ClientShared::new(
            0,
            0,
            -1,
            "AOF".into(),
            String::new(),
            now,
        )),
        true,
    );
    let mut out = Vec::new();
    let mut ctx = crate::commands::Ctx {
        shards: view,
        client: &mut client,
        out: crate::resp::Reply::new(&mut out, false),
        srv: shared,
        worker: 0,
        now_ms: now,
        limits: &limits,
    };
    let result = match manifest {
        Some(m) => {
            let started_us = mono_us();
            let truncated_ok = config.get_bool("aof-load-truncated").unwrap_or(true);
            replay(&mut ctx, &dir, &m, truncated_ok).and_then(|_| {
                log::notice(&format!(
                    "DB loaded from append only file: {:.3} seconds",
                    (mono_us() - started_us) as f64 / 1e6
                ));
                shared.aof.open(&dir, &prefix, m, policy, &shared.feed)
            })
        }
        None => {
            // Nothing was loaded: the base is an empty dataset in the configured form.
            let base = if config.get_bool("aof-use-rdb-preamble").unwrap_or(true) {
                let header = crate::commands::persistence::aux(&shared.run_id, true);
                crate::commands::persistence::snapshot_with(&mut ctx, &header)
            } else {
                Vec::new()
            };
            shared.aof.create(
                &dir,
                &prefix,
                &base,
                policy,
                &shared.feed,
                "on server start",
            )
        }
    };
    result.map_err(|e| {
        log::warning(&e);
        LoadFailed
    })
}
