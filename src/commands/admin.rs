//! Server administration: CONFIG, TIME, LASTSAVE, ROLE, SHUTDOWN, MONITOR, SLOWLOG, LATENCY.
//!
//! These read and change control-plane state in `Shared` (configuration, statistics, slowlog,
//! latency samples) and ask the connection for actions (shutdown, monitor). They never touch
//! the keyspace, so none of them locks a shard.

use std::sync::atomic::Ordering;

use super::command::{help, sub_arity_ok, unknown_sub};
use super::{
    arg_i64, eq_ic, spec, Ctx, Spec, ADMIN, ALLOW_BUSY, FAST, LOADING, NOSCRIPT, NO_KEYS, NO_MULTI,
    STALE, SYNTAX,
};
use crate::resp::Args;
use crate::runtime::clock::unix_us;
use crate::server::client::ClientAction;
use crate::server::log;

const ANLS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
pub const COMMANDS: &[Spec] = &[
    Spec {
        subcommands: CONFIG_SUBS,
        ..spec("config", -2, ANLS, NO_KEYS, config, "server", "A container for server configuration commands.", "2.0.0")
    },
    spec("time", 1, LOADING | STALE | FAST, NO_KEYS, time, "server", "Returns the server time.", "2.6.0"),
    spec("lastsave", 1, LOADING | STALE | FAST, NO_KEYS, lastsave, "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0"),
    spec("shutdown", -1, ANLS | NO_MULTI | ALLOW_BUSY, NO_KEYS, shutdown, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0"),
    spec("monitor", 1, ANLS, NO_KEYS, monitor, "server", "Listens for all requests received by the server in real-time.", "1.0.0"),
    Spec {
        subcommands: SLOWLOG_SUBS,
        ..spec("slowlog", -2, ANLS, NO_KEYS, slowlog, "server", "A container for slow log commands.", "2.2.12")
    },
    Spec {
        subcommands: LATENCY_SUBS,
        ..spec("latency", -2, ANLS, NO_KEYS, latency, "server", "A container for latency diagnostics commands.", "2.8.13")
    },
];

const CONFIG_SUBS: &[&str] = &["get", "help", "resetstat", "rewrite", "set"];
const SLOWLOG_SUBS: &[&str] = &["get", "help", "len", "reset"];
const LATENCY_SUBS: &[&str] = &["help", "histogram", "history", "latest", "reset"];

/// Finds `args[1]` among `subs` (case-insensitively) and checks its arity; None when an error
/// was queued.
fn subcommand(
    ctx: &mut Ctx,
    args: &Args,
    cmd: &str,
    subs: &[&'static str],
) -> Option<&'static str> {
    let Some(sub) = subs.iter().find(|s| eq_ic(args.get(1), s)) else {
        unknown_sub(ctx, args, cmd);
        return None;
    };
    let full = format!("{}|{}", cmd.to_ascii_lowercase(), sub);
    sub_arity_ok(ctx, &full, args.len()).then_some(*sub)
}

/// CONFIG GET|SET|RESETSTAT|REWRITE|HELP: dispatches to the subcommand.
fn config(ctx: &mut Ctx, args: Args) {
    let Some(sub) = subcommand(ctx, &args, "CONFIG", CONFIG_SUBS) else {
        return;
    };
    match sub {
        "get" => config_get(ctx, &args),
        "set" => config_set(ctx, &args),
        "resetstat" => config_resetstat(ctx),
        "rewrite" => match ctx.srv.config().rewrite() {
            Ok(()) => ctx.out.ok(),
            Err(e) => ctx.out.err(&e),
        },
        _ => help(
            ctx,
            "CONFIG",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        ),
    }
}

/// CONFIG GET pattern [pattern ...]: a map of every matching parameter to its value.
fn config_get(ctx: &mut Ctx, args: &Args) {
    let mut pairs: Vec<(String, String)> = Vec::new();
    {
        let cfg = ctx.srv.config();
        for pattern in args.iter().skip(2) {
            for (k, v) in cfg.get_matching(pattern) {
                if !pairs.iter().any(|(n, _)| *n == k) {
                    pairs.push((k, v));
                }
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
}

/// CONFIG SET name value [name value ...]: OK when every pair applies; otherwise nothing is
/// changed and the first error is returned.
fn config_set(ctx: &mut Ctx, args: &Args) {
    if !args.len().is_multiple_of(2) {
        return ctx.out.error(SYNTAX);
    }
    let pairs: Vec<(String, String)> = (2..args.len())
        .step_by(2)
        .map(|i| {
            (
                String::from_utf8_lossy(args.get(i)).into_owned(),
                String::from_utf8_lossy(args.get(i + 1)).into_owned(),
            )
        })
        .collect();
    let mut guard = ctx.srv.config();
    let mut new = guard.clone();
    for (i, (name, _)) in pairs.iter().enumerate() {
        let globby = name.bytes().any(|b| matches!(b, b'*' | b'?' | b'['));
        if globby || new.get_matching(name.as_bytes()).is_empty() {
            return ctx.out.err(&format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        }
        if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return ctx.out.err(&format!(
                "CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
    }
    for (name, value) in &pairs {
        if let Err(e) = new.set(name, value) {
            return ctx.out.err(&e);
        }
    }
    let level_changed = new.loglevel != guard.loglevel;
    let file_changed = new.logfile != guard.logfile;
    if file_changed {
        if let Err(e) = log::set_file(&new.logfile) {
            return ctx.out.err(&format!(
                "CONFIG SET failed (possibly related to argument 'logfile') - {e}"
            ));
        }
    }
    if level_changed {
        log::set_level(new.loglevel);
    }
    let aof_was = guard.get_bool("appendonly") == Some(true);
    let aof_now = new.get_bool("appendonly") == Some(true);
    let fsync =
        crate::persist::aof::Fsync::parse(new.get_enum("appendfsync").unwrap_or("everysec"));
    *guard = new;
    drop(guard);
    apply_aof_change(ctx.srv, aof_was, aof_now, fsync);
    ctx.srv.config_epoch.fetch_add(1, Ordering::Release);
    ctx.srv.wake_all();
    ctx.out.ok();
}

/// CONFIG SET appendonly / appendfsync: switching the AOF on schedules the rewrite that
/// writes its first base (worker 0's cron starts it with every shard held); switching it off
/// flushes, fsyncs and closes it at once.
fn apply_aof_change(
    srv: &crate::server::Shared,
    was: bool,
    now: bool,
    fsync: crate::persist::aof::Fsync,
) {
    let aof = &srv.aof;
    aof.set_policy(fsync);
    if now && !was && !aof.is_on() {
        aof.status.rewrite_scheduled.store(true, Ordering::Release);
    } else if !now && was {
        aof.status.rewrite_scheduled.store(false, Ordering::Release);
        aof.close(&srv.feed);
    }
}

/// CONFIG RESETSTAT: zeroes the counters INFO reports (not the gauges); OK.
fn config_resetstat(ctx: &mut Ctx) {
    for s in &ctx.srv.stats {
        for c in [
            &s.commands_processed,
            &s.connections_received,
            &s.rejected_connections,
            &s.net_input_bytes,
            &s.net_output_bytes,
            &s.unexpected_error_replies,
            &s.total_error_replies,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        for c in s.commands.iter() {
            for v in [&c.calls, &c.time_ns, &c.rejected_calls, &c.failed_calls] {
                v.store(0, Ordering::Relaxed);
            }
            if let Some(h) = c.latency.get() {
                h.reset();
            }
        }
    }
    ctx.srv
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    ctx.srv
        .stat_numcommands_reset_ms
        .store(ctx.now_ms, Ordering::Relaxed);
    ctx.out.ok();
}

/// TIME: [unix seconds, microseconds] as two bulk strings.
fn time(ctx: &mut Ctx, _args: Args) {
    let us = unix_us();
    ctx.out.array(2);
    ctx.out.bulk_i64((us / 1_000_000) as i64);
    ctx.out.bulk_i64((us % 1_000_000) as i64);
}

/// LASTSAVE: the Unix time of the last successful save, as an integer.
fn lastsave(ctx: &mut Ctx, _args: Args) {
    ctx.out
        .int(ctx.srv.save.lastsave_s.load(Ordering::Relaxed) as i64);
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: stops the server (no reply on success).
fn shutdown(ctx: &mut Ctx, args: Args) {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for a in args.iter().skip(1) {
        if eq_ic(a, "nosave") {
            nosave = true;
        } else if eq_ic(a, "save") {
            save = true;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
            other = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return ctx.out.error(SYNTAX);
    }
    if abort {
        return ctx.out.err("No shutdown in progress.");
    }
    let save = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    ctx.client.action = Some(ClientAction::Shutdown { save });
}

/// MONITOR: OK, then every command the server runs is streamed to this connection.
fn monitor(ctx: &mut Ctx, _args: Args) {
    if ctx.client.in_exec {
        // A transaction's client expects one reply per command, as Redis reasons.
        return ctx
            .out
            .err("MONITOR isn't allowed for DENY BLOCKING client");
    }
    ctx.client.action = Some(ClientAction::Monitor);
    ctx.out.ok();
}

/// SLOWLOG GET [count] | LEN | RESET | HELP.
fn slowlog(ctx: &mut Ctx, args: Args) {
    let Some(sub) = subcommand(ctx, &args, "SLOWLOG", SLOWLOG_SUBS) else {
        return;
    };
    match sub {
        "get" => slowlog_get(ctx, &args),
        "len" => {
            let n = ctx
                .srv
                .slowlog
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .len();
            ctx.out.int(n as i64);
        }
        "reset" => {
            ctx.srv
                .slowlog
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entries
                .clear();
            ctx.out.ok();
        }
        _ => help(
            ctx,
            "SLOWLOG",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        ),
    }
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all), each
/// [id, unix time, duration µs, [args...], client address, client name].
fn slowlog_get(ctx: &mut Ctx, args: &Args) {
    let count = match args.len() {
        2 => 10,
        3 => match arg_i64(args.get(2)) {
            Some(n) if n >= -1 => n,
            _ => return ctx.out.err("count should be greater than or equal to -1"),
        },
        _ => {
            let sub = super::printable(args.get(1), 128);
            return ctx.out.err(&format!(
                "unknown subcommand or wrong number of arguments for '{sub}'. Try SLOWLOG HELP."
            ));
        }
    };
    let log = ctx.srv.slowlog.lock().unwrap_or_else(|e| e.into_inner());
    let n = if count < 0 {
        log.entries.len()
    } else {
        (count as u64).min(log.entries.len() as u64) as usize
    };
    ctx.out.array(n);
    for e in log.entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time_s as i64);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
}

/// LATENCY LATEST | HISTORY event | RESET [event ...] | HELP.
fn latency(ctx: &mut Ctx, args: Args) {
    let Some(sub) = subcommand(ctx, &args, "LATENCY", LATENCY_SUBS) else {
        return;
    };
    if sub == "histogram" {
        return latency_histogram(ctx, &args);
    }
    let srv = ctx.srv;
    let mut lat = srv.latency.lock().unwrap_or_else(|e| e.into_inner());
    match sub {
        "latest" => {
            // [event, time of the latest sample, its latency ms, the worst ms], by event name.
            let mut events: Vec<_> = lat.events.iter().collect();
            events.sort_by(|a, b| a.0.cmp(b.0));
            ctx.out.array(events.len());
            for (name, e) in events {
                ctx.out.array(4);
                ctx.out.bulk(name.as_bytes());
                ctx.out.int(e.latest_time_s as i64);
                ctx.out.int(e.latest_ms as i64);
                ctx.out.int(e.max_ms as i64);
            }
        }
        "history" => {
            // [[time, latency ms]] for the samples kept (ringkv keeps the latest one).
            let name = String::from_utf8_lossy(args.get(2));
            match lat.events.get(name.as_ref()) {
                None => ctx.out.array(0),
                Some(e) => {
                    ctx.out.array(1);
                    ctx.out.array(2);
                    ctx.out.int(e.latest_time_s as i64);
                    ctx.out.int(e.latest_ms as i64);
                }
            }
        }
        "reset" => {
            // The number of event series reset.
            let n = if args.len() == 2 {
                let n = lat.events.len();
                lat.events.clear();
                n
            } else {
                args.iter()
                    .skip(2)
                    .filter(|a| {
                        lat.events
                            .remove(String::from_utf8_lossy(a).as_ref())
                            .is_some()
                    })
                    .count()
            };
            ctx.out.int(n as i64);
        }
        _ => {
            drop(lat);
            help(
                ctx,
                "LATENCY",
                &[
                    "HISTOGRAM [<command> ...]",
                    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                    "    If no commands are specified then all histograms are replied.",
                    "HISTORY <event>",
                    "    Return time-latency samples for the <event> class.",
                    "LATEST",
                    "    Return the latest latency samples for all events.",
                    "RESET [<event> ...]",
                    "    Reset latency data of one or more <event> classes.",
                    "    (default: reset all data for all event classes)",
                ],
            )
        }
    }
}

/// LATENCY HISTOGRAM [command ...]: per command run since start (all, or those named), a map
/// of `calls` and `histogram_usec`, the cumulative count of runs at or under each power of two
/// of µs (1, 2, 4 ...), listing only the steps where the count grows, as Redis does.
fn latency_histogram(ctx: &mut Ctx, args: &Args) {
    use super::command::{stat_name, stat_slots, stat_slots_named};
    use crate::server::histogram::{bucket_high, BUCKETS};
    let named: Vec<usize> = if args.len() > 2 {
        let mut v: Vec<usize> = args.iter().skip(2).flat_map(stat_slots_named).collect();
        v.sort_unstable();
        v.dedup();
        v
    } else {
        (0..stat_slots()).collect()
    };
    let mut hists = Vec::new();
    for i in named {
        let mut counts = vec![0u64; BUCKETS];
        let mut calls = 0;
        for w in &ctx.srv.stats {
            calls += w.commands[i].calls.load(Ordering::Relaxed);
            if let Some(h) = w.commands[i].latency.get() {
                h.add_to(&mut counts);
            }
        }
        if counts.iter().any(|&n| n > 0) {
            hists.push((stat_name(i), calls, counts));
        }
    }
    ctx.out.map(hists.len());
    for (name, calls, counts) in hists {
        let total: u64 = counts.iter().sum();
        // Steps of 1024 ns doubling (1 µs, 2 µs, 4 µs ...), as Redis's log iteration.
        let mut steps = Vec::new();
        let (mut bucket, mut below, mut previous) = (0usize, 0u64, 0u64);
        let mut upper_ns = 1024u64;
        while previous < total && upper_ns != 0 {
            while bucket < BUCKETS && bucket_high(bucket) < upper_ns {
                below += counts[bucket];
                bucket += 1;
            }
            let cumulative = if bucket == BUCKETS { total } else { below };
            if cumulative > previous {
                steps.push((upper_ns / 1000, cumulative));
                previous = cumulative;
            }
            upper_ns = upper_ns.checked_mul(2).unwrap_or(0);
        }
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(steps.len());
        for (usec, n) in steps {
            ctx.out.int(usec as i64);
            ctx.out.int(n as i64);
        }
    }
}
