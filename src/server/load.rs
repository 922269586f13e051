//! Loading the dump file at start-up, before any worker thread runs: each key goes straight
//! into the shard that owns it. Logs Redis's lines; a damaged file stops the server (exit 1)
//! with the byte offset and reason, as Redis does, rather than starting with part of the data.

use super::log;
use super::view::ShardCell;
use crate::config::Config;
use crate::persist::rdb::read::{LoadSink, Loaded, Reader};
use crate::persist::rdb::Encodings;
use crate::runtime::clock::{mono_us, unix_ms};
use crate::store::db::lru_clock;
use crate::store::shard_of;

/// Sends each loaded key to the shard that owns it; sizes the tables from RESIZEDB first.
struct IntoShards<'s> {
    shards: &'s mut [ShardCell],
    access_s: u32,
    /// `key-load-delay` in µs.
    delay_us: i64,
}

impl<'a> LoadSink<'a> for IntoShards<'_> {
    fn key(&mut self, l: Loaded<'a>) {
        crate::persist::key_load_delay(self.delay_us);
        let n = self.shards.len();
        let shard = self.shards[shard_of(&l.key, n)].get_mut();
        shard.dbs[l.db].table.insert(l.into_entry(self.access_s));
    }

    fn resize(&mut self, db: usize, keys: u64) {
        let n = self.shards.len();
        let per_shard = usize::try_from(keys).unwrap_or(usize::MAX) / n;
        for cell in self.shards.iter_mut() {
            cell.get_mut().dbs[db].table.reserve(per_shard);
        }
    }
}

/// The server must not start (the reason is logged).
#[derive(Debug)]
pub struct LoadFailed;

/// Loads `dbfilename` (in `dir`, the working directory) into `shards` if it exists.
pub fn load_dump(
    shards: &mut [ShardCell],
    config: &Config,
    status: &crate::persist::snapshot::SaveStatus,
) -> Result<(), LoadFailed> {
    let name = &config.dbfilename;
    let bytes = match std::fs::read(name) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            log::warning(&format!("Fatal error loading the DB: {e}. Exiting."));
            return Err(LoadFailed);
        }
    };
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
        shards,
        access_s,
        delay_us: config.get_int("key-load-delay").unwrap_or(0),
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
            status
                .last_load_keys_loaded
                .store(summary.keys as u64, std::sync::atomic::Ordering::Relaxed);
            status.last_load_keys_expired.store(
                summary.expired_skipped as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
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

/// Loads the AOF (`appendonly yes`: it wins over the dump file) into the shards, before any
/// worker runs, and opens it for appending; with no AOF yet, creates one from the (empty)
/// dataset, as Redis 7 does on its first start with the AOF on.
pub fn load_aof(shared: &super::Shared, config: &Config) -> Result<(), LoadFailed> {
    use crate::commands::aof::{aof_config, replay};
    use crate::persist::aof;
    let (dir, prefix, policy) = aof_config(config);
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
    let all = if shared.shards.len() >= 64 {
        u64::MAX
    } else {
        (1u64 << shared.shards.len()) - 1
    };
    // SAFETY: no worker thread has started, so nothing else can reach a shard while this
    // view lives (it is dropped before this function returns).
    let mut view = unsafe { super::view::ShardView::new(&shared.shards, all) };
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
