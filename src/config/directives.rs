//! The table of configuration directives: every name Redis 7.0 accepts in
//! `redis.conf` / CONFIG SET (plus ringkv's own `threads`), with its alias,
//! type, bounds, default and flags. Values are validated and stored by
//! `store.rs`/`special.rs`; this file only describes them.

/// Refused by CONFIG SET ("can't set immutable config").
pub const IMMUTABLE: u8 = 1 << 0;
/// Refused by CONFIG SET unless `enable-protected-configs` allows it.
pub const PROTECTED: u8 = 1 << 1;
/// Left out of CONFIG GET pattern matches (exact names still work).
pub const HIDDEN: u8 = 1 << 2;
/// Takes any number of arguments (CONFIG SET splits its value on spaces).
pub const MULTI_ARG: u8 = 1 << 3;
/// Value must be redacted from slowlog / MONITOR.
pub const SENSITIVE: u8 = 1 << 4;
/// CONFIG SET answers -LOADING while a dataset is loading.
pub const DENY_LOADING: u8 = 1 << 5;

use super::choices::*;

const M: u8 = 0;
const I: u8 = IMMUTABLE;

/// How a numeric value is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumFmt {
    Plain,
    /// Memory units accepted; GET prints bytes, REWRITE uses kb/mb/gb.
    Memory,
    /// Memory units or `N%` (stored as `-N`).
    MemoryPercent,
    /// Octal in and out.
    Octal,
}

/// Directives with hand-written parsing and formatting (see `special.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Dir,
    Save,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    Bind,
    ReplicaOf,
    LatencyPercentiles,
}

/// A string validator: `Err` holds Redis's error text.
pub type StrCheck = fn(&[u8]) -> Result<(), &'static str>;

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool(bool),
    Int {
        min: i128,
        max: i128,
        default: i128,
        fmt: NumFmt,
    },
    /// `default: None` is the NULL string; `empty_null` stores "" as NULL.
    Str {
        default: Option<&'static str>,
        empty_null: bool,
        check: Option<StrCheck>,
    },
    /// Binary-safe secret (requirepass, masterauth): default NULL, "" is NULL.
    Secret,
    /// `names` maps names to values; the first name of a value is canonical.
    Enum {
        names: &'static [(&'static str, u32)],
        default: u32,
    },
    /// Several enum flags OR-ed together (shutdown-on-sigint/sigterm).
    EnumFlags {
        names: &'static [(&'static str, u32)],
        default: u32,
    },
    Special(Special),
}

#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub flags: u8,
    pub kind: Kind,
}

impl Directive {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;
const MB: i128 = 1024 * 1024;

const fn b(name: &'static str, alias: Option<&'static str>, flags: u8, default: bool) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind: Kind::Bool(default),
    }
}
const fn n(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    min: i128,
    max: i128,
    default: i128,
) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind: Kind::Int {
            min,
            max,
            default,
            fmt: NumFmt::Plain,
        },
    }
}
const fn mem(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    min: i128,
    max: i128,
    default: i128,
) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind: Kind::Int {
            min,
            max,
            default,
            fmt: NumFmt::Memory,
        },
    }
}
const fn s(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    default: Option<&'static str>,
) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind: Kind::Str {
            default,
            empty_null: default.is_none(),
            check: None,
        },
    }
}
const fn sc(
    name: &'static str,
    flags: u8,
    default: Option<&'static str>,
    check: StrCheck,
) -> Directive {
    Directive {
        name,
        alias: None,
        flags,
        kind: Kind::Str {
            default,
            empty_null: default.is_none(),
            check: Some(check),
        },
    }
}
const fn e(
    name: &'static str,
    flags: u8,
    names: &'static [(&'static str, u32)],
    default: u32,
) -> Directive {
    Directive {
        name,
        alias: None,
        flags,
        kind: Kind::Enum { names, default },
    }
}
const fn sp(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    which: Special,
) -> Directive {
    Directive {
        name,
        alias,
        flags,
        kind: Kind::Special(which),
    }
}

/// Every directive, in the order CONFIG REWRITE considers them.
#[rustfmt::skip]
pub static DIRECTIVES: &[Directive] = &[
    // Network and process.
    sp("bind", None, M | MULTI_ARG, Special::Bind),
    b("protected-mode", None, M, true),
    n("port", None, M, 0, 65535, 6379),
    n("tcp-backlog", None, I, 0, INT_MAX, 511),
    s("unixsocket", None, I, None),
    Directive { name: "unixsocketperm", alias: None, flags: I, kind: Kind::Int { min: 0, max: 0o777, default: 0, fmt: NumFmt::Octal } },
    n("timeout", None, M, 0, INT_MAX, 0),
    n("tcp-keepalive", None, M, 0, INT_MAX, 300),
    n("socket-mark-id", None, I, 0, UINT_MAX, 0),
    s("bind-source-addr", None, M, None),
    b("daemonize", None, I, false),
    e("supervised", I, SUPERVISED, 0),
    s("pidfile", None, I, None),
    e("loglevel", M, LOGLEVELS, 2),
    s("logfile", None, I, Some("")),
    b("syslog-enabled", None, I, false),
    s("syslog-ident", None, I, Some("redis")),
    e("syslog-facility", I, FACILITY, 128),
    b("crash-log-enabled", None, M, true),
    b("crash-memcheck-enabled", None, M, true),
    n("databases", None, I, 1, INT_MAX, 16),
    b("always-show-logo", None, I, false),
    b("set-proc-title", None, I, true),
    sc("proc-title-template", M, Some("{title} {listen-addr} {server-mode}"), check_proc_title),
    // Snapshotting.
    sp("save", None, M | MULTI_ARG, Special::Save),
    b("stop-writes-on-bgsave-error", None, M, true),
    b("rdbcompression", None, M, true),
    b("rdbchecksum", None, I, true),
    e("sanitize-dump-payload", M, SANITIZE, 0),
    sc("dbfilename", M | PROTECTED, Some("dump.rdb"), check_dbfilename),
    b("rdb-del-sync-files", None, M, false),
    sp("dir", None, M | PROTECTED | DENY_LOADING, Special::Dir),
    // Replication.
    sp("replicaof", Some("slaveof"), I | MULTI_ARG, Special::ReplicaOf),
    Directive { name: "masterauth", alias: None, flags: M | SENSITIVE, kind: Kind::Secret },
    s("masteruser", None, M | SENSITIVE, None),
    b("replica-serve-stale-data", Some("slave-serve-stale-data"), M, true),
    b("replica-read-only", Some("slave-read-only"), M, true),
    b("repl-diskless-sync", None, M, true),
    n("repl-diskless-sync-delay", None, M, 0, INT_MAX, 5),
    n("repl-diskless-sync-max-replicas", None, M, 0, INT_MAX, 0),
    e("repl-diskless-load", M | DENY_LOADING, DISKLESS_LOAD, 0),
    n("repl-ping-replica-period", Some("repl-ping-slave-period"), M, 1, INT_MAX, 10),
    n("repl-timeout", None, M, 1, INT_MAX, 60),
    b("repl-disable-tcp-nodelay", None, M, false),
    mem("repl-backlog-size", None, M, 1, LONG_MAX, MB),
    n("repl-backlog-ttl", None, M, 0, LONG_MAX, 3600),
    n("replica-priority", Some("slave-priority"), M, 0, INT_MAX, 100),
    e("propagation-error-behavior", M, PROPAGATION_ERR, 0),
    b("replica-ignore-disk-write-errors", None, M, false),
    b("replica-announced", None, M, true),
    n("min-replicas-to-write", Some("min-slaves-to-write"), M, 0, INT_MAX, 0),
    n("min-replicas-max-lag", Some("min-slaves-max-lag"), M, 0, INT_MAX, 10),
    s("replica-announce-ip", Some("slave-announce-ip"), M, None),
    n("replica-announce-port", Some("slave-announce-port"), M, 0, 65535, 0),
    b("replica-lazy-flush", Some("slave-lazy-flush"), M, false),
    b("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), M, true),
    // Keys tracking, security, clients.
    n("tracking-table-max-keys", None, M, 0, LONG_MAX, 1_000_000),
    n("acllog-max-len", None, M, 0, LONG_MAX, 128),
    s("aclfile", None, I, Some("")),
    Directive { name: "requirepass", alias: None, flags: M | SENSITIVE, kind: Kind::Secret },
    e("acl-pubsub-default", M, ACL_PUBSUB, 0),
    n("maxclients", None, M, 1, UINT_MAX, 10000),
    // Memory management.
    mem("maxmemory", None, M, 0, ULLONG_MAX, 0),
    e("maxmemory-policy", M, MAXMEMORY_POLICY, 7),
    n("maxmemory-samples", None, M, 1, INT_MAX, 5),
    n("maxmemory-eviction-tenacity", None, M, 0, 100, 10),
    Directive { name: "maxmemory-clients", alias: None, flags: M, kind: Kind::Int { min: -100, max: LONG_MAX, default: 0, fmt: NumFmt::MemoryPercent } },
    b("lazyfree-lazy-eviction", None, M, false),
    b("lazyfree-lazy-expire", None, M, false),
    b("lazyfree-lazy-server-del", None, M, false),
    b("lazyfree-lazy-user-del", None, M, false),
    b("lazyfree-lazy-user-flush", None, M, false),
    // Threads.
    n("io-threads", None, I, 1, 128, 1),
    b("io-threads-do-reads", None, I, false),
    n("threads", None, I, 0, 1024, 0),
    // Kernel tuning.
    e("oom-score-adj", M, OOM_SCORE_ADJ, 0),
    sp("oom-score-adj-values", None, M | MULTI_ARG, Special::OomScoreAdjValues),
    b("disable-thp", None, I, true),
    // Append only file.
    b("appendonly", None, M | DENY_LOADING, false),
    sc("appendfilename", I, Some("appendonly.aof"), check_appendfilename),
    sc("appenddirname", I, Some("appendonlydir"), check_appenddirname),
    e("appendfsync", M, APPENDFSYNC, 0),
    b("no-appendfsync-on-rewrite", None, M, false),
    n("auto-aof-rewrite-percentage", None, M, 0, INT_MAX, 100),
    mem("auto-aof-rewrite-min-size", None, M, 0, LONG_MAX, 64 * MB),
    b("aof-load-truncated", None, M, true),
    b("aof-use-rdb-preamble", None, M, true),
    b("aof-timestamp-enabled", None, M, false),
    b("aof-disable-auto-gc", None, M, false),
    // Shutdown, scripting, cluster.
    Directive { name: "shutdown-on-sigint", alias: None, flags: M | MULTI_ARG, kind: Kind::EnumFlags { names: SHUTDOWN_FLAGS, default: 0 } },
    Directive { name: "shutdown-on-sigterm", alias: None, flags: M | MULTI_ARG, kind: Kind::EnumFlags { names: SHUTDOWN_FLAGS, default: 0 } },
    n("shutdown-timeout", None, M, 0, INT_MAX, 10),
    n("busy-reply-threshold", Some("lua-time-limit"), M, 0, LONG_MAX, 5000),
    b("cluster-enabled", None, I, false),
    s("cluster-config-file", None, I, Some("nodes.conf")),
    n("cluster-node-timeout", None, M, 0, LONG_MAX, 15000),
    n("cluster-port", None, I, 0, 65535, 0),
    n("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), M, 0, INT_MAX, 10),
    n("cluster-migration-barrier", None, M, 0, INT_MAX, 1),
    b("cluster-allow-replica-migration", None, M, true),
    b("cluster-require-full-coverage", None, M, true),
    b("cluster-replica-no-failover", Some("cluster-slave-no-failover"), M, false),
    b("cluster-allow-reads-when-down", None, M, false),
    b("cluster-allow-pubsubshard-when-down", None, M, true),
    mem("cluster-link-sendbuf-limit", None, M, 0, ULLONG_MAX, 0),
    s("cluster-announce-ip", None, M, None),
    sc("cluster-announce-hostname", M, None, check_hostname),
    e("cluster-preferred-endpoint-type", M, ENDPOINT, 0),
    n("cluster-announce-port", None, M, 0, 65535, 0),
    n("cluster-announce-bus-port", None, M, 0, 65535, 0),
    n("cluster-announce-tls-port", None, M, 0, 65535, 0),
    // Monitoring.
    n("slowlog-log-slower-than", None, M, -1, LONG_MAX, 10000),
    n("slowlog-max-len", None, M, 0, LONG_MAX, 128),
    n("latency-monitor-threshold", None, M, 0, LONG_MAX, 0),
    b("latency-tracking", None, M, true),
    sp("latency-tracking-info-percentiles", None, M | MULTI_ARG, Special::LatencyPercentiles),
    sp("notify-keyspace-events", None, M, Special::NotifyKeyspaceEvents),
    // Encodings.
    n("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), M, 0, LONG_MAX, 512),
    mem("hash-max-listpack-value", Some("hash-max-ziplist-value"), M, 0, LONG_MAX, 64),
    n("list-max-listpack-size", Some("list-max-ziplist-size"), M, INT_MIN, INT_MAX, -2),
    n("list-compress-depth", None, M, 0, INT_MAX, 0),
    n("set-max-intset-entries", None, M, 0, LONG_MAX, 512),
    n("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), M, 0, LONG_MAX, 128),
    mem("zset-max-listpack-value", Some("zset-max-ziplist-value"), M, 0, LONG_MAX, 64),
    mem("hll-sparse-max-bytes", None, M, 0, LONG_MAX, 3000),
    mem("stream-node-max-bytes", None, M, 0, LONG_MAX, 4096),
    n("stream-node-max-entries", None, M, 0, LONG_MAX, 100),
    b("activerehashing", None, M, true),
    // Clients and limits.
    sp("client-output-buffer-limit", None, M | MULTI_ARG, Special::ClientOutputBufferLimit),
    mem("client-query-buffer-limit", None, M, MB, LONG_MAX, 1024 * MB),
    mem("proto-max-bulk-len", None, M, MB, LONG_MAX, 512 * MB),
    n("hz", None, M, 0, INT_MAX, 10),
    b("dynamic-hz", None, M, true),
    b("aof-rewrite-incremental-fsync", None, M, true),
    b("rdb-save-incremental-fsync", None, M, true),
    n("lfu-log-factor", None, M, 0, INT_MAX, 10),
    n("lfu-decay-time", None, M, 0, INT_MAX, 1),
    // Active defragmentation and expiry.
    b("activedefrag", None, M, false),
    mem("active-defrag-ignore-bytes", None, M, 1, LONG_MAX, 100 * MB),
    n("active-defrag-threshold-lower", None, M, 0, 1000, 10),
    n("active-defrag-threshold-upper", None, M, 0, 1000, 100),
    n("active-defrag-cycle-min", None, M, 1, 99, 1),
    n("active-defrag-cycle-max", None, M, 1, 99, 25),
    n("active-defrag-max-scan-fields", None, M, 1, LONG_MAX, 1000),
    n("active-expire-effort", None, M, 1, 10, 1),
    b("jemalloc-bg-thread", None, M, true),
    s("server_cpulist", None, I, None),
    s("bio_cpulist", None, I, None),
    s("aof_rewrite_cpulist", None, I, None),
    s("bgsave_cpulist", None, I, None),
    s("ignore-warnings", None, M, Some("")),
    e("enable-protected-configs", I, PROTECTED_ACTION, 0),
    e("enable-debug-command", I, PROTECTED_ACTION, 0),
    e("enable-module-command", I, PROTECTED_ACTION, 0),
    // TLS (stored; ringkv does not speak TLS yet).
    n("tls-port", None, M, 0, 65535, 0),
    s("tls-cert-file", None, M, None),
    s("tls-key-file", None, M, None),
    s("tls-key-file-pass", None, M, None),
    s("tls-client-cert-file", None, M, None),
    s("tls-client-key-file", None, M, None),
    s("tls-client-key-file-pass", None, M, None),
    s("tls-dh-params-file", None, M, None),
    s("tls-ca-cert-file", None, M, None),
    s("tls-ca-cert-dir", None, M, None),
    Directive { name: "tls-auth-clients", alias: None, flags: M, kind: Kind::Enum { names: TLS_AUTH, default: 1 } },
    b("tls-replication", None, M, false),
    b("tls-cluster", None, M, false),
    s("tls-protocols", None, M, None),
    s("tls-ciphers", None, M, None),
    s("tls-ciphersuites", None, M, None),
    b("tls-prefer-server-ciphers", None, M, false),
    b("tls-session-caching", None, M, true),
    n("tls-session-cache-size", None, M, 0, INT_MAX, 20480),
    n("tls-session-cache-timeout", None, M, 0, INT_MAX, 300),
    // Test and debug knobs Redis hides from CONFIG GET patterns.
    n("rdb-key-save-delay", None, M | HIDDEN, INT_MIN, INT_MAX, 0),
    n("key-load-delay", None, M | HIDDEN, INT_MIN, INT_MAX, 0),
    b("use-exit-on-panic", None, M | HIDDEN, false),
    n("watchdog-period", None, M | HIDDEN, 0, INT_MAX, 0),
    n("loading-process-events-interval-bytes", None, M | HIDDEN, 1024, INT_MAX, 2 * MB),
];

/// Directives Redis 7.0 still accepts (with exactly one argument) and ignores.
pub const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];

/// Finds a directive by name or alias, ignoring ASCII case. The `bool` says
/// whether `name` was the alias.
pub fn lookup(name: &[u8]) -> Option<(usize, bool)> {
    DIRECTIVES.iter().enumerate().find_map(|(i, d)| {
        if d.name.as_bytes().eq_ignore_ascii_case(name) {
            Some((i, false))
        } else if d
            .alias
            .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name))
        {
            Some((i, true))
        } else {
            None
        }
    })
}

/// Index of a directive by its primary name (exact).
pub fn index_of(name: &str) -> usize {
    DIRECTIVES
        .iter()
        .position(|d| d.name == name)
        .unwrap_or_else(|| panic!("no directive {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut all: Vec<&str> = DIRECTIVES
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.alias))
            .collect();
        for n in &all {
            assert_eq!(*n, n.to_ascii_lowercase());
        }
        let len = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), len, "duplicate directive name");
    }

    #[test]
    fn defaults_are_within_bounds() {
        for d in DIRECTIVES {
            if let Kind::Int {
                min, max, default, ..
            } = d.kind
            {
                assert!(min <= default && default <= max, "{}", d.name);
            }
        }
    }

    #[test]
    fn lookup_by_alias_and_case() {
        assert_eq!(lookup(b"PORT").map(|x| DIRECTIVES[x.0].name), Some("port"));
        assert_eq!(lookup(b"slaveof"), Some((index_of("replicaof"), true)));
        assert!(lookup(b"nope").is_none());
    }
}
