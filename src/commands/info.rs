//! INFO: the server's state as `field:value` lines grouped in `# Section`s, with Redis 7.0's
//! section names, field names and field order, so monitoring tools parse it unchanged.
//!
//! INFO reads every shard (it is flagged ALL_SHARDS) for key counts and keyspace statistics,
//! and reads `Shared` (worker counters, configuration, clients) for the rest. It changes nothing
//! except the sample it keeps for `instantaneous_*` rates.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use super::{spec, Ctx, Spec, ALL_SHARDS, LOADING, NO_KEYS, STALE};
use crate::resp::Args;
use crate::runtime::clock::{mono_us, unix_us};
use crate::server::start::{REDIS_VERSION, VERSION};

pub const COMMANDS: &[Spec] = &[spec(
    "info",
    -1,
    LOADING | STALE | ALL_SHARDS,
    NO_KEYS,
    info,
    "server",
    "Get information and statistics about the server",
    "1.0.0",
)];

/// Sections in the order Redis prints them, and whether `INFO` / `INFO default` includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", false),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// INFO [section ...]: the selected sections as a verbatim string (a bulk string in RESP2);
/// an empty string when no known section was asked for.
fn info(ctx: &mut Ctx, args: Args) {
    let mut all = false;
    let mut wanted = [false; SECTIONS.len()];
    if args.len() == 1 {
        for (w, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
            *w = *default;
        }
    }
    for a in args.iter().skip(1) {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"all" | b"everything" => all = true,
            b"default" => {
                for (w, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
                    *w |= *default;
                }
            }
            name => {
                // Redis accepts the internal name of the modules list too.
                let name: &[u8] = if name == b"module_list" {
                    b"modules"
                } else {
                    name
                };
                if let Some(i) = SECTIONS.iter().position(|(s, _)| s.as_bytes() == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let mut text = String::new();
    let mut count = 0;
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !(all || wanted[i]) {
            continue;
        }
        if count > 0 {
            text.push_str("\r\n");
        }
        count += 1;
        match *name {
            "server" => server(ctx, &mut text),
            "clients" => clients(ctx, &mut text),
            "memory" => memory(ctx, &mut text),
            "persistence" => persistence(ctx, &mut text),
            "stats" => stats(ctx, &mut text),
            "replication" => replication(ctx, &mut text),
            "cpu" => cpu(&mut text),
            "modules" => text.push_str("# Modules\r\n"),
            "commandstats" => commandstats(ctx, &mut text),
            "errorstats" => errorstats(ctx, &mut text),
            "latencystats" => latencystats(ctx, &mut text),
            "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            _ => keyspace(ctx, &mut text),
        }
    }
    ctx.out.verbatim(text.as_bytes());
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..` for
/// every command used since start (or CONFIG RESETSTAT), summed over the threads; subcommands
/// apart (`cmdstat_config|get`), as in Redis 7.
fn commandstats(ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    for i in 0..super::command::stat_slots() {
        let mut sum = [0u64; 4];
        for w in &ctx.srv.stats {
            let c = &w.commands[i];
            let each = [&c.calls, &c.time_ns, &c.rejected_calls, &c.failed_calls];
            for (s, v) in sum.iter_mut().zip(each) {
                *s += load(v);
            }
        }
        let [calls, time_ns, rejected, failed] = sum;
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let usec = time_ns / 1000;
        let per_call = if calls == 0 {
            0.0
        } else {
            time_ns as f64 / 1000.0 / calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
            super::command::stat_name(i)
        );
    }
}

/// `errorstat_<PREFIX>:count=N` per first word of the error replies sent (ERR, WRONGTYPE,
/// NOAUTH ...), in name order as Redis lists them.
fn errorstats(ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut kinds: Vec<(String, u64)> = ctx
        .srv
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    kinds.sort();
    for (kind, n) in kinds {
        let _ = write!(out, "errorstat_{kind}:count={n}\r\n");
    }
}

/// `latency_percentiles_usec_<cmd>:p50=..,p99=..,p99.9=..` (the percentiles of
/// `latency-tracking-info-percentiles`, in µs with three decimals) for every command run since
/// start or CONFIG RESETSTAT; nothing while `latency-tracking no`.
fn latencystats(ctx: &mut Ctx, out: &mut String) {
    use crate::server::histogram::{percentile, BUCKETS};
    out.push_str("# Latencystats\r\n");
    let (on, percentiles) = {
        let c = ctx.srv.config();
        (
            c.get_bool("latency-tracking").unwrap_or(true),
            c.latency_tracking_info_percentiles(),
        )
    };
    if !on {
        return;
    }
    let mut sum = vec![0u64; BUCKETS];
    for i in 0..super::command::stat_slots() {
        sum.iter_mut().for_each(|n| *n = 0);
        for w in &ctx.srv.stats {
            if let Some(h) = w.commands[i].latency.get() {
                h.add_to(&mut sum);
            }
        }
        if sum.iter().all(|&n| n == 0) {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| {
                let name = crate::config::format_percentiles(&[p]);
                format!("p{name}={:.3}", percentile(&sum, p) as f64 / 1000.0)
            })
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{}:{}\r\n",
            super::command::stat_name(i),
            values.join(",")
        );
    }
}

/// Appends `name:value\r\n`.
fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

/// Appends fields that ringkv does not have (yet) with the values Redis shows when idle.
fn fixed(out: &mut String, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        field(out, name, value);
    }
}

fn server(ctx: &mut Ctx, out: &mut String) {
    let (port, hz, config_file, threads) = {
        let c = ctx.srv.config();
        let file = c
            .config_file
            .as_ref()
            .map(|p| {
                std::fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .unwrap_or_default();
        (c.port, c.hz.max(1), file, ctx.srv.workers())
    };
    let port = if port == 0 { ctx.srv.port } else { port };
    let now_us = unix_us();
    let uptime_s = (now_us / 1000).saturating_sub(ctx.srv.start_ms) / 1000;
    out.push_str("# Server\r\n");
    field(out, "redis_version", REDIS_VERSION);
    field(out, "ringkv_version", VERSION);
    field(out, "redis_git_sha1", "00000000");
    field(out, "redis_git_dirty", 0);
    field(out, "redis_build_id", build_id());
    field(out, "redis_mode", "standalone");
    field(out, "os", os_name());
    field(out, "arch_bits", 64);
    field(out, "monotonic_clock", "POSIX clock_gettime");
    field(out, "multiplexing_api", "io_uring");
    field(out, "atomicvar_api", "c11-builtin");
    field(out, "gcc_version", "0.0.0");
    field(out, "process_id", std::process::id());
    field(out, "process_supervised", "no");
    field(out, "run_id", &ctx.srv.run_id);
    field(out, "tcp_port", port);
    field(out, "server_time_usec", now_us);
    field(out, "uptime_in_seconds", uptime_s);
    field(out, "uptime_in_days", uptime_s / 86400);
    field(out, "hz", hz);
    field(out, "configured_hz", hz);
    field(out, "lru_clock", (now_us / 1_000_000) & 0xFF_FFFF);
    field(out, "executable", &ctx.srv.executable);
    field(out, "config_file", config_file);
    field(out, "io_threads_active", 0);
    field(out, "threads", threads);
}

/// A stable id of this build (Redis prints a hash of its build parameters).
fn build_id() -> String {
    use sha1::{Digest, Sha1};
    let h = Sha1::digest(format!("ringkv-{VERSION}-{REDIS_VERSION}").as_bytes());
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `uname -s -r -m`, as Redis prints it.
fn os_name() -> String {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {} {}", s(&u.sysname), s(&u.release), s(&u.machine))
}

fn clients(ctx: &mut Ctx, out: &mut String) {
    let maxclients = ctx.srv.config().maxclients;
    let (mut qbuf, mut omem) = (0, 0);
    for c in ctx.srv.all_clients() {
        qbuf = qbuf.max(c.qbuf.load(Ordering::Relaxed));
        omem = omem.max(c.omem.load(Ordering::Relaxed));
    }
    out.push_str("# Clients\r\n");
    field(
        out,
        "connected_clients",
        ctx.srv.total(|s| &s.connected_clients),
    );
    field(out, "cluster_connections", 0);
    field(out, "maxclients", maxclients);
    field(out, "client_recent_max_input_buffer", qbuf);
    field(out, "client_recent_max_output_buffer", omem);
    let blocked = ctx.srv.total(|s| &s.blocked_clients);
    field(out, "blocked_clients", blocked);
    field(out, "tracking_clients", 0);
    field(out, "clients_in_timeout_table", blocked);
}

/// Redis's bytesToHuman: B below 1K, then two decimals with K, M, G, T, P.
fn human(n: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (1 << 10, "K"),
        (1 << 20, "M"),
        (1 << 30, "G"),
        (1 << 40, "T"),
        (1 << 50, "P"),
    ];
    if n < 1024 {
        return format!("{n}B");
    }
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        if i + 1 == UNITS.len() || n < UNITS[i + 1].0 {
            return format!("{:.2}{unit}", n as f64 / *div as f64);
        }
    }
    format!("{n}B")
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    pages * page
}

fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    pages.max(0) as u64 * page.max(0) as u64
}

/// The highest `used_memory` INFO has seen.
static PEAK_MEMORY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn memory(ctx: &mut Ctx, out: &mut String) {
    // used_memory is an approximation: the allocator's own byte count is not exposed to this
    // crate, so the process's resident set size stands in for it (and the ratios read 1.00).
    let used = rss_bytes();
    let peak = PEAK_MEMORY.fetch_max(used, Ordering::Relaxed).max(used);
    let (maxmemory, policy) = {
        let c = ctx.srv.config();
        let policy = c
            .get_matching(b"maxmemory-policy")
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or_else(|| "noeviction".into());
        (c.maxmemory_bytes, policy)
    };
    let system = total_system_memory();
    out.push_str("# Memory\r\n");
    field(out, "used_memory", used);
    field(out, "used_memory_human", human(used));
    field(out, "used_memory_rss", used);
    field(out, "used_memory_rss_human", human(used));
    field(out, "used_memory_peak", peak);
    field(out, "used_memory_peak_human", human(peak));
    let perc = if peak > 0 {
        used as f64 * 100.0 / peak as f64
    } else {
        100.0
    };
    field(out, "used_memory_peak_perc", format!("{perc:.2}%"));
    field(out, "used_memory_overhead", 0);
    field(out, "used_memory_startup", 0);
    field(out, "used_memory_dataset", used);
    field(out, "used_memory_dataset_perc", "100.00%");
    field(out, "allocator_allocated", used);
    field(out, "allocator_active", used);
    field(out, "allocator_resident", used);
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", human(system));
    fixed(
        out,
        &[
            ("used_memory_lua", "0"),
            ("used_memory_vm_eval", "0"),
            ("used_memory_lua_human", "0B"),
            ("used_memory_scripts_eval", "0"),
            ("number_of_cached_scripts", "0"),
            ("number_of_functions", "0"),
            ("number_of_libraries", "0"),
            ("used_memory_vm_functions", "0"),
            ("used_memory_vm_total", "0"),
            ("used_memory_vm_total_human", "0B"),
            ("used_memory_functions", "0"),
            ("used_memory_scripts", "0"),
            ("used_memory_scripts_human", "0B"),
        ],
    );
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", human(maxmemory));
    field(out, "maxmemory_policy", policy);
    fixed(
        out,
        &[
            ("allocator_frag_ratio", "1.00"),
            ("allocator_frag_bytes", "0"),
            ("allocator_rss_ratio", "1.00"),
            ("allocator_rss_bytes", "0"),
            ("rss_overhead_ratio", "1.00"),
            ("rss_overhead_bytes", "0"),
            ("mem_fragmentation_ratio", "1.00"),
            ("mem_fragmentation_bytes", "0"),
            ("mem_not_counted_for_evict", "0"),
            ("mem_replication_backlog", "0"),
            ("mem_total_replication_buffers", "0"),
            ("mem_clients_slaves", "0"),
            ("mem_clients_normal", "0"),
            ("mem_cluster_links", "0"),
            ("mem_aof_buffer", "0"),
            ("mem_allocator", "mimalloc"),
            ("active_defrag_running", "0"),
            ("lazyfree_pending_objects", "0"),
            ("lazyfreed_objects", "0"),
        ],
    );
}

/// Per-shard keyspace counters summed over every shard, and writes since the last save.
fn shard_totals(ctx: &mut Ctx) -> (crate::store::db::ShardStats, u64) {
    let mut total = crate::store::db::ShardStats::default();
    let mut dirty = 0;
    let held: Vec<usize> = ctx.shards.held().collect();
    for i in held {
        let sh = ctx.shards.shard(i);
        total.expired_keys += sh.stats.expired_keys;
        total.keyspace_hits += sh.stats.keyspace_hits;
        total.keyspace_misses += sh.stats.keyspace_misses;
        dirty += sh.dirty;
    }
    (total, dirty)
}

fn persistence(ctx: &mut Ctx, out: &mut String) {
    let (_, dirty) = shard_totals(ctx);
    out.push_str("# Persistence\r\n");
    let loading = ctx.srv.save.loading.load(Ordering::Acquire);
    field(out, "loading", loading as u8);
    fixed(
        out,
        &[
            ("async_loading", "0"),
            ("current_cow_peak", "0"),
            ("current_cow_size", "0"),
            ("current_cow_size_age", "0"),
            ("current_fork_perc", "0.00"),
            ("current_save_keys_processed", "0"),
            ("current_save_keys_total", "0"),
        ],
    );
    field(out, "rdb_changes_since_last_save", dirty);
    let save = &ctx.srv.save;
    let in_progress = save.in_progress.load(Ordering::Acquire);
    field(out, "rdb_bgsave_in_progress", in_progress as u8);
    field(
        out,
        "rdb_last_save_time",
        save.lastsave_s.load(Ordering::Relaxed),
    );
    let ok = save.last_bgsave_ok.load(Ordering::Relaxed);
    field(out, "rdb_last_bgsave_status", if ok { "ok" } else { "err" });
    field(
        out,
        "rdb_last_bgsave_time_sec",
        save.last_bgsave_time_s.load(Ordering::Relaxed),
    );
    let current = if in_progress {
        let started = save.started_us.load(Ordering::Relaxed);
        ((crate::runtime::clock::mono_us() - started) / 1_000_000) as i64
    } else {
        -1
    };
    field(out, "rdb_current_bgsave_time_sec", current);
    field(out, "rdb_saves", save.saves.load(Ordering::Relaxed));
    field(
        out,
        "rdb_last_cow_size",
        save.last_cow_bytes.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_load_keys_expired",
        save.last_load_keys_expired.load(Ordering::Relaxed),
    );
    field(
        out,
        "rdb_last_load_keys_loaded",
        save.last_load_keys_loaded.load(Ordering::Relaxed),
    );
    aof_fields(ctx, out);
}

/// The AOF part of INFO persistence, in Redis 7's order.
fn aof_fields(ctx: &mut Ctx, out: &mut String) {
    let aof = &ctx.srv.aof;
    let st = &aof.status;
    let enabled = ctx.srv.config().get_bool("appendonly").unwrap_or(false);
    let rewriting = st.rewrite_in_progress.load(Ordering::Acquire);
    let ok = |b: &std::sync::atomic::AtomicBool| {
        if b.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        }
    };
    field(out, "aof_enabled", enabled as u8);
    field(out, "aof_rewrite_in_progress", rewriting as u8);
    let scheduled = st.rewrite_scheduled.load(Ordering::Relaxed);
    field(out, "aof_rewrite_scheduled", scheduled as u8);
    field(
        out,
        "aof_last_rewrite_time_sec",
        st.last_rewrite_time_s.load(Ordering::Relaxed),
    );
    let current = if rewriting {
        let started = st.rewrite_started_us.load(Ordering::Relaxed);
        ((crate::runtime::clock::mono_us() - started) / 1_000_000) as i64
    } else {
        -1
    };
    field(out, "aof_current_rewrite_time_sec", current);
    field(out, "aof_last_bgrewrite_status", ok(&st.last_bgrewrite_ok));
    field(out, "aof_rewrites", st.rewrites.load(Ordering::Relaxed));
    field(
        out,
        "aof_rewrites_consecutive_failures",
        st.rewrites_failed_in_a_row.load(Ordering::Relaxed),
    );
    field(out, "aof_last_write_status", ok(&st.last_write_ok));
    field(
        out,
        "aof_last_cow_size",
        st.last_cow_bytes.load(Ordering::Relaxed),
    );
    fixed(
        out,
        &[
            ("module_fork_in_progress", "0"),
            ("module_fork_last_cow_size", "0"),
        ],
    );
    loading_fields(&ctx.srv.save, out);
    if aof.is_on() {
        field(
            out,
            "aof_current_size",
            st.current_bytes.load(Ordering::Relaxed),
        );
        field(out, "aof_base_size", st.base_bytes.load(Ordering::Relaxed));
        field(out, "aof_pending_rewrite", scheduled as u8);
        field(out, "aof_buffer_length", ctx.srv.feed.aof_buffered_bytes());
        let pending = st.fsync_in_flight.load(Ordering::Relaxed);
        field(out, "aof_pending_bio_fsync", pending as u8);
        field(
            out,
            "aof_delayed_fsync",
            st.delayed_fsyncs.load(Ordering::Relaxed),
        );
    }
}

/// The start-up load's progress, shown while it runs (Redis's `loading_*` fields; the ETA
/// extrapolates the bytes read so far).
fn loading_fields(save: &crate::persist::snapshot::SaveStatus, out: &mut String) {
    if !save.loading.load(Ordering::Acquire) {
        return;
    }
    let total = save.loading_total_bytes.load(Ordering::Relaxed);
    let loaded = save.loading_loaded_bytes.load(Ordering::Relaxed).min(total);
    let elapsed_us = mono_us().saturating_sub(save.loading_started_us.load(Ordering::Relaxed));
    let perc = if total == 0 {
        0.0
    } else {
        loaded as f64 * 100.0 / total as f64
    };
    let eta_s = if loaded == 0 {
        1
    } else {
        ((total - loaded) as f64 * elapsed_us as f64 / loaded as f64 / 1e6) as u64
    };
    field(
        out,
        "loading_start_time",
        save.loading_start_s.load(Ordering::Relaxed),
    );
    field(out, "loading_total_bytes", total);
    field(out, "loading_rdb_used_mem", 0);
    field(out, "loading_loaded_bytes", loaded);
    let _ = write!(out, "loading_loaded_perc:{perc:.2}\r\n");
    field(out, "loading_eta_seconds", eta_s);
}

/// The last sample of (monotonic µs, commands, input bytes, output bytes) and the rates
/// computed from the one before it: ops/s, input KB/s, output KB/s.
struct RateSample {
    at_us: u64,
    counts: [u64; 3],
    rates: [f64; 3],
}

static RATES: Mutex<Option<RateSample>> = Mutex::new(None);
/// Samples closer together than this reuse the previous rates (Redis samples every 100 ms).
const RATE_SAMPLE_MIN_US: u64 = 100_000;

/// Instantaneous rates of the three counters, measured between successive INFO calls (the first
/// call measures from start-up).
fn rates(start_ms: u64, counts: [u64; 3]) -> [f64; 3] {
    let now = mono_us();
    let mut guard = RATES.lock().unwrap_or_else(|e| e.into_inner());
    let prev = guard.get_or_insert_with(|| {
        let since_start_us = (unix_us() / 1000).saturating_sub(start_ms) * 1000;
        RateSample {
            at_us: now.saturating_sub(since_start_us),
            counts: [0; 3],
            rates: [0.0; 3],
        }
    });
    let elapsed = now.saturating_sub(prev.at_us);
    if elapsed >= RATE_SAMPLE_MIN_US {
        let secs = elapsed as f64 / 1e6;
        for ((rate, now), before) in prev.rates.iter_mut().zip(counts).zip(prev.counts) {
            *rate = now.saturating_sub(before) as f64 / secs;
        }
        prev.at_us = now;
        prev.counts = counts;
    }
    prev.rates
}

fn stats(ctx: &mut Ctx, out: &mut String) {
    let srv = ctx.srv;
    let commands = srv.total(|s| &s.commands_processed);
    let input = srv.total(|s| &s.net_input_bytes);
    let output = srv.total(|s| &s.net_output_bytes);
    let [ops, in_bps, out_bps] = rates(srv.start_ms, [commands, input, output]);
    let (shard, _) = shard_totals(ctx);
    out.push_str("# Stats\r\n");
    field(
        out,
        "total_connections_received",
        srv.total(|s| &s.connections_received),
    );
    field(out, "total_commands_processed", commands);
    field(out, "instantaneous_ops_per_sec", ops.round() as u64);
    field(out, "total_net_input_bytes", input);
    field(out, "total_net_output_bytes", output);
    field(out, "total_net_repl_input_bytes", 0);
    field(out, "total_net_repl_output_bytes", 0);
    field(
        out,
        "instantaneous_input_kbps",
        format!("{:.2}", in_bps / 1024.0),
    );
    field(
        out,
        "instantaneous_output_kbps",
        format!("{:.2}", out_bps / 1024.0),
    );
    field(out, "instantaneous_input_repl_kbps", "0.00");
    field(out, "instantaneous_output_repl_kbps", "0.00");
    field(
        out,
        "rejected_connections",
        srv.total(|s| &s.rejected_connections),
    );
    let repl = &srv.repl;
    field(out, "sync_full", repl.sync_full.load(Ordering::Relaxed));
    field(
        out,
        "sync_partial_ok",
        repl.sync_partial_ok.load(Ordering::Relaxed),
    );
    field(
        out,
        "sync_partial_err",
        repl.sync_partial_err.load(Ordering::Relaxed),
    );
    field(out, "expired_keys", shard.expired_keys);
    fixed(
        out,
        &[
            ("expired_stale_perc", "0.00"),
            ("expired_time_cap_reached_count", "0"),
            ("expire_cycle_cpu_milliseconds", "0"),
            ("evicted_keys", "0"),
            ("evicted_clients", "0"),
            ("total_eviction_exceeded_time", "0"),
            ("current_eviction_exceeded_time", "0"),
        ],
    );
    field(out, "keyspace_hits", shard.keyspace_hits);
    field(out, "keyspace_misses", shard.keyspace_misses);
    fixed(
        out,
        &[
            ("pubsub_channels", "0"),
            ("pubsub_patterns", "0"),
            ("pubsubshard_channels", "0"),
            ("latest_fork_usec", "0"),
            ("total_forks", "0"),
            ("migrate_cached_sockets", "0"),
            ("slave_expires_tracked_keys", "0"),
            ("active_defrag_hits", "0"),
            ("active_defrag_misses", "0"),
            ("active_defrag_key_hits", "0"),
            ("active_defrag_key_misses", "0"),
            ("total_active_defrag_time", "0"),
            ("current_active_defrag_time", "0"),
            ("tracking_total_keys", "0"),
            ("tracking_total_items", "0"),
            ("tracking_total_prefixes", "0"),
        ],
    );
    field(
        out,
        "unexpected_error_replies",
        srv.total(|s| &s.unexpected_error_replies),
    );
    field(
        out,
        "total_error_replies",
        srv.total(|s| &s.total_error_replies),
    );
    fixed(
        out,
        &[
            ("dump_payload_sanitizations", "0"),
            ("total_reads_processed", "0"),
            ("total_writes_processed", "0"),
            ("io_threaded_reads_processed", "0"),
            ("io_threaded_writes_processed", "0"),
            ("reply_buffer_shrinks", "0"),
            ("reply_buffer_expands", "0"),
        ],
    );
}

fn replication(ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Replication\r\n");
    let repl = &ctx.srv.repl;
    let replicas = repl
        .replicas
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match super::replication::replica_view(ctx) {
        None => field(out, "role", "master"),
        Some((host, port, state, offset)) => {
            let link = ctx.srv.link.lock().unwrap_or_else(|e| e.into_inner());
            let st = link.as_ref().map(|l| l.status.clone());
            drop(link);
            field(out, "role", "slave");
            field(out, "master_host", host);
            field(out, "master_port", port);
            let up = state == "connected";
            field(out, "master_link_status", if up { "up" } else { "down" });
            let last_io = st
                .as_ref()
                .map_or(0, |s| s.last_io_ms.load(Ordering::Relaxed));
            let ago = if up {
                ctx.now_ms.saturating_sub(last_io) / 1000
            } else {
                0
            };
            field(
                out,
                "master_last_io_seconds_ago",
                if up { ago as i64 } else { -1 },
            );
            field(out, "master_sync_in_progress", (state == "sync") as u8);
            // Received from the master, and applied (what ACKs report).
            let read = st
                .as_ref()
                .map_or(offset, |s| s.offset.load(Ordering::Acquire));
            field(out, "slave_read_repl_offset", read);
            field(out, "slave_repl_offset", offset);
            if !up {
                let since = st
                    .as_ref()
                    .map_or(0, |s| s.down_since_ms.load(Ordering::Relaxed));
                field(
                    out,
                    "master_link_down_since_seconds",
                    ctx.now_ms.saturating_sub(since) / 1000,
                );
            }
            let c = ctx.srv.config();
            field(
                out,
                "slave_priority",
                c.get_int("replica-priority").unwrap_or(100),
            );
            field(
                out,
                "slave_read_only",
                c.get_bool("replica-read-only").unwrap_or(true) as u8,
            );
            field(
                out,
                "replica_announced",
                c.get_bool("replica-announced").unwrap_or(true) as u8,
            );
        }
    }
    field(out, "connected_slaves", replicas.len());
    if ctx.limits.min_replicas_to_write > 0 && ctx.limits.min_replicas_max_lag_s > 0 {
        // Only while min-replicas-to-write is on, as Redis shows it.
        let good = ctx.srv.repl.good_replicas.load(Ordering::Relaxed);
        field(out, "min_slaves_good_slaves", good);
    }
    let now_s = ctx.now_ms / 1000;
    for (i, r) in replicas.iter().enumerate() {
        field(
            out,
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={}",
                r.ip,
                r.listening_port,
                r.state,
                r.ack_offset,
                now_s.saturating_sub(r.ack_ms / 1000)
            ),
        );
    }
    field(out, "master_failover_state", "no-failover");
    let ids = ctx.srv.repl_ids();
    field(out, "master_replid", &ids.replid);
    field(out, "master_replid2", &ids.replid2);
    let (offset, backlog) = match ctx.srv.feed.backlog_range() {
        Some((size, start, end)) => (end, Some((size, start, end - start))),
        None => (ctx.srv.feed.end(), None),
    };
    field(out, "master_repl_offset", offset);
    field(out, "second_repl_offset", ids.second_offset);
    let size = ctx
        .srv
        .config()
        .get_int("repl-backlog-size")
        .unwrap_or(1 << 20);
    match backlog {
        Some((_, start, held)) => {
            field(out, "repl_backlog_active", 1);
            field(out, "repl_backlog_size", size);
            // Redis counts offsets from 1: the first byte held is at start + 1.
            field(out, "repl_backlog_first_byte_offset", start + 1);
            field(out, "repl_backlog_histlen", held);
        }
        None => {
            field(out, "repl_backlog_active", 0);
            field(out, "repl_backlog_size", size);
            field(out, "repl_backlog_first_byte_offset", 0);
            field(out, "repl_backlog_histlen", 0);
        }
    }
}

/// getrusage(who) as (system, user) seconds, formatted like Redis ("%ld.%06ld").
fn rusage(who: libc::c_int) -> (String, String) {
    // SAFETY: rusage is plain old data, and getrusage fills the valid, writable struct.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(who, &mut r) };
    let f = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (f(r.ru_stime), f(r.ru_utime))
}

/// The `# CPU` section (shared with the sentinel's INFO).
pub fn cpu(out: &mut String) {
    let (sys, user) = rusage(libc::RUSAGE_SELF);
    let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
    // ringkv has no single main thread: the thread running INFO stands in for it.
    let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
    out.push_str("# CPU\r\n");
    field(out, "used_cpu_sys", sys);
    field(out, "used_cpu_user", user);
    field(out, "used_cpu_sys_children", csys);
    field(out, "used_cpu_user_children", cuser);
    field(out, "used_cpu_sys_main_thread", tsys);
    field(out, "used_cpu_user_main_thread", tuser);
}

fn keyspace(ctx: &mut Ctx, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let held: Vec<usize> = ctx.shards.held().collect();
    let mut per_db: Vec<(usize, usize)> = Vec::new();
    for i in held {
        let sh = ctx.shards.shard(i);
        if per_db.len() < sh.dbs.len() {
            per_db.resize(sh.dbs.len(), (0, 0));
        }
        for (d, db) in sh.dbs.iter_mut().enumerate() {
            per_db[d].0 += db.table.len();
            per_db[d].1 += db.table.volatile_len();
        }
    }
    for (d, (keys, expires)) in per_db.into_iter().enumerate() {
        if keys > 0 {
            let _ = write!(out, "db{d}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes_like_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1_091_336), "1.04M");
        assert_eq!(human(25_276_510_208), "23.54G");
    }
}
