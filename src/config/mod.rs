//! Configuration: what the server was told to be, with Redis 7.0's rules.
//!
//! This module owns the `redis.conf` language (tokenizing, `include`,
//! `--directive value` arguments, stdin), the table of directives with their
//! types, bounds, defaults and mutability, CONFIG GET / CONFIG SET semantics
//! and error texts, and CONFIG REWRITE. It holds values only: it never opens
//! sockets, starts threads or touches the keyspace. Its only side effects are
//! the ones Redis has while loading or setting configuration: `dir` changes
//! the working directory, `logfile` is test-opened for append, and CONFIG
//! REWRITE replaces the config file (temp file, fsync, rename).
//!
//! Files: `parse.rs` (line tokenizer), `glob.rs` (glob matching),
//! `values.rs` (number, memory, flag parsing and formatting),
//! `directives.rs` (the table), `special.rs` (multi-argument directives),
//! `load.rs` (files, includes, arguments), `rewrite.rs` (CONFIG REWRITE).

mod directives;
mod glob;
mod load;
mod parse;
mod rewrite;
mod special;
mod values;

#[cfg(test)]
mod tests;

use directives::{index_of, lookup, Kind, NumFmt, Special, DIRECTIVES};
use values::{parse_ll, parse_memory, parse_strtoll, parse_yes_no};

pub use glob::glob_match;
pub use parse::{repr, split_args};
pub use values::notify;

/// The Redis version whose behaviour this configuration layer follows; it
/// appears in fatal config error banners.
pub const REDIS_VERSION: &str = "7.0.15";

/// Whether the process is a data server or a sentinel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Server,
    Sentinel,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}

/// `enable-debug-command` (and the other "protected action" settings).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DebugCmd {
    No,
    Yes,
    Local,
}

/// One class of `client-output-buffer-limit`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// A load error, already formatted as Redis prints it (to stderr, then exit 1).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The "FATAL CONFIG FILE ERROR" frame; `line` is (line number, line text).
    /// Public so that sentinel can report its own `sentinel ...` lines alike.
    pub fn framed(line: Option<(usize, &str)>, msg: &str) -> ConfigError {
        let mut m = format!("\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n");
        if let Some((n, text)) = line {
            m.push_str(&format!("Reading the configuration file, at line {n}\n>>> '{text}'\n"));
        }
        m.push_str(msg);
        m.push('\n');
        ConfigError { message: m }
    }
}

/// Where a stored raw line came from (for error messages about it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub line: usize,
    pub text: String,
}

/// A directive's current value, in the store or read from a pub field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i128),
    Str(Option<String>),
    Bytes(Option<Vec<u8>>),
    Enum(u32),
    Save(Vec<(u64, u64)>),
    Bind(Vec<String>),
    Obuf([OutputLimit; 3]),
    Oom([i32; 3]),
    Notify(u32),
    ReplicaOf(Option<(String, u16)>),
    Percentiles(Vec<f64>),
    /// `dir` is the process working directory itself.
    Dir,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub tcp_backlog: i32,
    pub timeout_s: u64,
    pub tcp_keepalive_s: u64,
    pub daemonize: bool,
    pub pidfile: String,
    pub loglevel: LogLevel,
    pub logfile: String,
    pub databases: usize,
    pub always_show_logo: bool,
    /// "" until a `dir` directive ran; then the absolute directory chdir'ed to.
    pub dir: String,
    pub dbfilename: String,
    pub save_points: Vec<(u64, u64)>,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: u64,
    pub hz: u32,
    pub threads: usize,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit_normal: OutputLimit,
    pub client_output_buffer_limit_replica: OutputLimit,
    pub client_output_buffer_limit_pubsub: OutputLimit,
    pub enable_debug_command: DebugCmd,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold_ms: u64,
    pub maxmemory_bytes: u64,
    pub replicaof: Option<(String, u16)>,
    pub mode: Mode,
    pub config_file: Option<std::path::PathBuf>,
    /// `sentinel ...` lines (arguments after `sentinel`), in sentinel mode.
    pub sentinel_lines: Vec<Vec<String>>,
    /// Where each of `sentinel_lines` came from.
    pub sentinel_sources: Vec<SourceLine>,
    /// `user ...` lines (arguments after `user`), for the ACL layer.
    pub user_lines: Vec<Vec<String>>,
    /// `rename-command <from> <to>` pairs, in order (`to` "" removes).
    pub rename_commands: Vec<(String, String)>,
    /// Every directive's value, indexed like `DIRECTIVES`; for the ones with
    /// a pub field above, the pub field is the truth (see `read`/`write`).
    values: Vec<Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

const DEFAULT_SAVE: [(u64, u64); 3] = [(3600, 1), (300, 100), (60, 10000)];
const DEFAULT_BIND: [&str; 2] = ["*", "-::*"];
const DEFAULT_OBUF: [OutputLimit; 3] = [
    OutputLimit { hard_bytes: 0, soft_bytes: 0, soft_seconds: 0 },
    OutputLimit { hard_bytes: 256 << 20, soft_bytes: 64 << 20, soft_seconds: 60 },
    OutputLimit { hard_bytes: 32 << 20, soft_bytes: 8 << 20, soft_seconds: 60 },
];
const DEFAULT_OOM: [i32; 3] = [0, 200, 800];
const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];
/// Where a daemonized server writes its pid when `pidfile` is unset.
pub const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";
/// Hz is clamped into this range, as Redis does.
const HZ_RANGE: (i128, i128) = (1, 500);

pub(crate) fn default_value(i: usize) -> Value {
    match DIRECTIVES[i].kind {
        Kind::Bool(b) => Value::Bool(b),
        Kind::Int { default, .. } => Value::Int(default),
        Kind::Str { default, .. } => Value::Str(default.map(str::to_string)),
        Kind::Secret => Value::Bytes(None),
        Kind::Enum { default, .. } | Kind::EnumFlags { default, .. } => Value::Enum(default),
        Kind::Special(sp) => match sp {
            Special::Dir => Value::Dir,
            Special::Save => Value::Save(DEFAULT_SAVE.to_vec()),
            Special::Bind => Value::Bind(DEFAULT_BIND.iter().map(|s| s.to_string()).collect()),
            Special::ClientOutputBufferLimit => Value::Obuf(DEFAULT_OBUF),
            Special::OomScoreAdjValues => Value::Oom(DEFAULT_OOM),
            Special::NotifyKeyspaceEvents => Value::Notify(0),
            Special::ReplicaOf => Value::ReplicaOf(None),
            Special::LatencyPercentiles => Value::Percentiles(DEFAULT_PERCENTILES.to_vec()),
        },
    }
}

fn int_of(v: &Value) -> i128 {
    match v {
        Value::Int(n) => *n,
        _ => 0,
    }
}

fn clamp_u64(n: i128) -> u64 {
    n.clamp(0, i128::from(u64::MAX)) as u64
}

impl Config {
    /// The built-in defaults (no config file), as `redis-server` with no
    /// arguments has them.
    pub fn new() -> Config {
        let mut c = Config {
            port: 0,
            bind: Vec::new(),
            protected_mode: false,
            tcp_backlog: 0,
            timeout_s: 0,
            tcp_keepalive_s: 0,
            daemonize: false,
            pidfile: String::new(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            databases: 0,
            always_show_logo: false,
            dir: String::new(),
            dbfilename: String::new(),
            save_points: Vec::new(),
            requirepass: None,
            maxclients: 0,
            hz: 0,
            threads: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            client_output_buffer_limit_normal: DEFAULT_OBUF[0],
            client_output_buffer_limit_replica: DEFAULT_OBUF[1],
            client_output_buffer_limit_pubsub: DEFAULT_OBUF[2],
            enable_debug_command: DebugCmd::No,
            slowlog_log_slower_than_us: 0,
            slowlog_max_len: 0,
            latency_monitor_threshold_ms: 0,
            maxmemory_bytes: 0,
            replicaof: None,
            mode: Mode::Server,
            config_file: None,
            sentinel_lines: Vec::new(),
            sentinel_sources: Vec::new(),
            user_lines: Vec::new(),
            rename_commands: Vec::new(),
            values: (0..DIRECTIVES.len()).map(default_value).collect(),
        };
        for i in 0..DIRECTIVES.len() {
            c.write(i, default_value(i));
        }
        c
    }

    /// Every directive name CONFIG GET/SET knows, aliases included.
    pub fn names() -> Vec<&'static str> {
        DIRECTIVES.iter().flat_map(|d| std::iter::once(d.name).chain(d.alias)).collect()
    }

    /// Whether CONFIG SET of `name` must answer -LOADING while loading data.
    pub fn is_deny_loading(name: &str) -> bool {
        lookup(name.as_bytes()).is_some_and(|(i, _)| DIRECTIVES[i].has(directives::DENY_LOADING))
    }

    /// Whether the value of `name` must be redacted from slowlog / MONITOR.
    pub fn is_sensitive(name: &str) -> bool {
        lookup(name.as_bytes()).is_some_and(|(i, _)| DIRECTIVES[i].has(directives::SENSITIVE))
    }

    /// The current value of a directive (by primary index), reading the pub
    /// field for the directives that have one.
    pub(crate) fn read(&self, i: usize) -> Value {
        let obuf = || {
            [self.client_output_buffer_limit_normal, self.client_output_buffer_limit_replica, self.client_output_buffer_limit_pubsub]
        };
        match DIRECTIVES[i].name {
            "port" => Value::Int(self.port.into()),
            "bind" => Value::Bind(self.bind.clone()),
            "protected-mode" => Value::Bool(self.protected_mode),
            "tcp-backlog" => Value::Int(self.tcp_backlog.into()),
            "timeout" => Value::Int(self.timeout_s.into()),
            "tcp-keepalive" => Value::Int(self.tcp_keepalive_s.into()),
            "daemonize" => Value::Bool(self.daemonize),
            "pidfile" => Value::Str(Some(self.pidfile.clone()).filter(|p| !p.is_empty())),
            "loglevel" => Value::Enum(self.loglevel as u32),
            "logfile" => Value::Str(Some(self.logfile.clone())),
            "databases" => Value::Int(self.databases as i128),
            "always-show-logo" => Value::Bool(self.always_show_logo),
            "dbfilename" => Value::Str(Some(self.dbfilename.clone())),
            "save" => Value::Save(self.save_points.clone()),
            "requirepass" => Value::Bytes(self.requirepass.clone()),
            "maxclients" => Value::Int(self.maxclients.into()),
            "hz" => Value::Int(self.hz.into()),
            "threads" => Value::Int(self.threads as i128),
            "proto-max-bulk-len" => Value::Int(self.proto_max_bulk_len.into()),
            "client-query-buffer-limit" => Value::Int(self.client_query_buffer_limit.into()),
            "client-output-buffer-limit" => Value::Obuf(obuf()),
            "enable-debug-command" => Value::Enum(self.enable_debug_command as u32),
            "slowlog-log-slower-than" => Value::Int(self.slowlog_log_slower_than_us.into()),
            "slowlog-max-len" => Value::Int(self.slowlog_max_len.into()),
            "latency-monitor-threshold" => Value::Int(self.latency_monitor_threshold_ms.into()),
            "maxmemory" => Value::Int(self.maxmemory_bytes.into()),
            "replicaof" => Value::ReplicaOf(self.replicaof.clone()),
            _ => self.values[i].clone(),
        }
    }

    /// Stores a (validated) value, updating the pub field if there is one.
    pub(crate) fn write(&mut self, i: usize, v: Value) {
        let n = int_of(&v);
        let flag = matches!(v, Value::Bool(true));
        match (DIRECTIVES[i].name, &v) {
            ("port", _) => self.port = n as u16,
            ("bind", Value::Bind(b)) => self.bind = b.clone(),
            ("protected-mode", _) => self.protected_mode = flag,
            ("tcp-backlog", _) => self.tcp_backlog = n as i32,
            ("timeout", _) => self.timeout_s = clamp_u64(n),
            ("tcp-keepalive", _) => self.tcp_keepalive_s = clamp_u64(n),
            ("daemonize", _) => self.daemonize = flag,
            ("pidfile", Value::Str(s)) => self.pidfile = s.clone().unwrap_or_default(),
            ("loglevel", Value::Enum(e)) => {
                self.loglevel = [LogLevel::Debug, LogLevel::Verbose, LogLevel::Notice, LogLevel::Warning, LogLevel::Nothing]
                    [(*e as usize).min(4)]
            }
            ("logfile", Value::Str(s)) => self.logfile = s.clone().unwrap_or_default(),
            ("databases", _) => self.databases = n as usize,
            ("always-show-logo", _) => self.always_show_logo = flag,
            ("dbfilename", Value::Str(s)) => self.dbfilename = s.clone().unwrap_or_default(),
            ("save", Value::Save(s)) => self.save_points = s.clone(),
            ("requirepass", Value::Bytes(b)) => self.requirepass = b.clone(),
            ("maxclients", _) => self.maxclients = clamp_u64(n),
            ("hz", _) => self.hz = n.clamp(HZ_RANGE.0, HZ_RANGE.1) as u32,
            ("threads", _) => self.threads = n as usize,
            ("proto-max-bulk-len", _) => self.proto_max_bulk_len = clamp_u64(n),
            ("client-query-buffer-limit", _) => self.client_query_buffer_limit = clamp_u64(n),
            ("client-output-buffer-limit", Value::Obuf(o)) => {
                self.client_output_buffer_limit_normal = o[0];
                self.client_output_buffer_limit_replica = o[1];
                self.client_output_buffer_limit_pubsub = o[2];
            }
            ("enable-debug-command", Value::Enum(e)) => {
                self.enable_debug_command = [DebugCmd::No, DebugCmd::Yes, DebugCmd::Local][(*e as usize).min(2)]
            }
            ("slowlog-log-slower-than", _) => self.slowlog_log_slower_than_us = n as i64,
            ("slowlog-max-len", _) => self.slowlog_max_len = clamp_u64(n),
            ("latency-monitor-threshold", _) => self.latency_monitor_threshold_ms = clamp_u64(n),
            ("maxmemory", _) => self.maxmemory_bytes = clamp_u64(n),
            ("replicaof", Value::ReplicaOf(r)) => self.replicaof = r.clone(),
            _ => {}
        }
        self.values[i] = v;
    }

    /// Validates `args` for directive `i` and stores the result; `Err` holds
    /// Redis's reason text. `load` is `Some` while reading config text.
    pub(crate) fn apply(&mut self, i: usize, args: &[Vec<u8>], load: Option<&mut load::LoadState>) -> Result<(), String> {
        let one = || args.first().cloned().unwrap_or_default();
        let v = match DIRECTIVES[i].kind {
            Kind::Bool(_) => Value::Bool(parse_yes_no(&one()).ok_or("argument must be 'yes' or 'no'")?),
            Kind::Int { min, max, fmt, .. } => Value::Int(parse_number(&one(), min, max, fmt)?),
            Kind::Str { empty_null, check, .. } => {
                let a = one();
                if let Some(check) = check {
                    check(&a)?;
                }
                Value::Str(if empty_null && a.is_empty() { None } else { Some(String::from_utf8_lossy(&a).into_owned()) })
            }
            Kind::Secret => Value::Bytes(Some(one()).filter(|a| !a.is_empty())),
            Kind::Enum { names, .. } => Value::Enum(special::parse_enum(names, &one())?),
            Kind::EnumFlags { names, .. } => Value::Enum(special::parse_enum_flags(names, args)?),
            Kind::Special(sp) => match sp {
                Special::Dir => {
                    use std::os::unix::ffi::OsStrExt;
                    std::env::set_current_dir(std::ffi::OsStr::from_bytes(&one())).map_err(|e| values::io_error_text(&e))?;
                    self.dir = std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    Value::Dir
                }
                Special::Save => {
                    let points = special::parse_save(args)?;
                    match load {
                        // While loading, the first `save` line replaces the
                        // defaults and later ones add to it; `save ""` clears.
                        Some(st) if !points.is_empty() && st.save_loaded => {
                            let mut all = self.save_points.clone();
                            all.extend(points);
                            st.save_loaded = true;
                            Value::Save(all)
                        }
                        Some(st) => {
                            st.save_loaded = true;
                            Value::Save(points)
                        }
                        None => Value::Save(points),
                    }
                }
                Special::Bind => Value::Bind(special::parse_bind(args)?),
                Special::ClientOutputBufferLimit => {
                    let cur = match self.read(i) {
                        Value::Obuf(o) => o,
                        _ => DEFAULT_OBUF,
                    };
                    Value::Obuf(special::parse_obuf(args, cur)?)
                }
                Special::OomScoreAdjValues => Value::Oom(special::parse_oom(args)?),
                Special::NotifyKeyspaceEvents => Value::Notify(
                    values::parse_notify(&one()).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
                ),
                Special::ReplicaOf => Value::ReplicaOf(special::parse_replicaof(args)?),
                Special::LatencyPercentiles => Value::Percentiles(special::parse_percentiles(args)?),
            },
        };
        self.write(i, v);
        if DIRECTIVES[i].name == "hz" {
            let hz = int_of(&self.values[i]).clamp(HZ_RANGE.0, HZ_RANGE.1);
            self.values[i] = Value::Int(hz);
        }
        Ok(())
    }

    /// A directive's value formatted as CONFIG GET shows it.
    pub(crate) fn format_value(&self, i: usize) -> String {
        let d = &DIRECTIVES[i];
        match (self.read(i), d.kind) {
            (Value::Bool(b), _) => if b { "yes" } else { "no" }.to_string(),
            (Value::Int(n), Kind::Int { fmt, .. }) => match fmt {
                NumFmt::MemoryPercent if n < 0 => format!("{}%", -n),
                NumFmt::Octal => format!("{:o}", n),
                _ => n.to_string(),
            },
            (Value::Int(n), _) => n.to_string(),
            (Value::Str(s), _) => s.unwrap_or_default(),
            (Value::Bytes(b), _) => b.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default(),
            (Value::Enum(e), Kind::EnumFlags { names, .. }) => special::format_enum_flags(names, e),
            (Value::Enum(e), Kind::Enum { names, .. }) => special::enum_name(names, e).to_string(),
            (Value::Enum(e), _) => e.to_string(),
            (Value::Save(s), _) => special::format_save(&s),
            (Value::Bind(b), _) => b.join(" "),
            (Value::Obuf(o), _) => special::format_obuf(&o),
            (Value::Oom(o), _) => special::format_oom(&o),
            (Value::Notify(f), _) => values::format_notify(f),
            (Value::ReplicaOf(r), _) => special::format_replicaof(&r),
            (Value::Percentiles(p), _) => special::format_percentiles(&p),
            (Value::Dir, _) => current_dir_string(),
        }
    }

    /// CONFIG GET for one pattern: `(name, value)` pairs. A pattern without
    /// `*`, `?` or `[` is an exact (case-insensitive) name and is answered
    /// under the name as given, hidden directives included, like Redis.
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            return match lookup(pattern) {
                Some((i, _)) => vec![(String::from_utf8_lossy(pattern).into_owned(), self.format_value(i))],
                None => Vec::new(),
            };
        }
        let mut out = Vec::new();
        for (i, d) in DIRECTIVES.iter().enumerate() {
            if d.has(directives::HIDDEN) {
                continue;
            }
            let mut value = None;
            for name in std::iter::once(d.name).chain(d.alias) {
                if glob_match(pattern, name.as_bytes(), true) {
                    let v = value.get_or_insert_with(|| self.format_value(i)).clone();
                    out.push((name.to_string(), v));
                }
            }
        }
        out
    }

    /// CONFIG GET of one exact name (or alias), formatted like Redis.
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name.as_bytes()).map(|(i, _)| self.format_value(i))
    }

    /// CONFIG SET of one pair, as a non-local client (see [`Config::set_ext`]).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        self.set_ext(name, value.as_bytes(), false)
    }

    /// CONFIG SET of one pair. `local_client` says whether the client came
    /// over loopback or a unix socket (for `enable-protected-configs local`).
    /// `Err` is the error text after "ERR ". Setting `dir` changes the working
    /// directory at once, as in Redis.
    pub fn set_ext(&mut self, name: &str, value: &[u8], local_client: bool) -> Result<(), String> {
        let Some((i, alias)) = lookup(name.as_bytes()) else {
            return Err(format!("Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        let d = &DIRECTIVES[i];
        let fail = |who: &str, why: &str| format!("CONFIG SET failed (possibly related to argument '{who}') - {why}");
        if d.has(directives::IMMUTABLE) {
            return Err(fail(name, "can't set immutable config"));
        }
        if d.has(directives::PROTECTED) {
            let allowed = match self.read(index_of("enable-protected-configs")) {
                Value::Enum(1) => true,
                Value::Enum(2) => local_client,
                _ => false,
            };
            if !allowed {
                return Err(fail(name, "can't set protected config"));
            }
        }
        let args: Vec<Vec<u8>> = if d.has(directives::MULTI_ARG) {
            value.split(|&b| b == b' ').map(<[u8]>::to_vec).collect()
        } else {
            vec![value.to_vec()]
        };
        let shown = if alias { d.alias.unwrap_or(d.name) } else { d.name };
        self.apply(i, &args, None).map_err(|e| fail(shown, &e))
    }

    fn value_of(&self, name: &str) -> Option<Value> {
        lookup(name.as_bytes()).map(|(i, _)| self.read(i))
    }

    /// A yes/no directive's value (`None` if `name` is not a bool directive).
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.value_of(name)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A numeric directive's value, saturated to `i64` (memory directives in
    /// bytes; `maxmemory-clients` as a percentage is negative: -N means N%).
    pub fn get_int(&self, name: &str) -> Option<i64> {
        match self.value_of(name)? {
            Value::Int(n) => Some(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64),
            _ => None,
        }
    }

    /// A string directive's value; `None` when unset (NULL) or not a string.
    pub fn get_str(&self, name: &str) -> Option<String> {
        match self.value_of(name)? {
            Value::Str(s) => s,
            Value::Bytes(b) => b.map(|b| String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        }
    }

    /// A secret's raw bytes (`masterauth`, `requirepass`); `None` when unset.
    pub fn get_bytes(&self, name: &str) -> Option<Vec<u8>> {
        match self.value_of(name)? {
            Value::Bytes(b) => b,
            Value::Str(s) => s.map(String::into_bytes),
            _ => None,
        }
    }

    /// An enum directive's canonical value name (e.g. "noeviction").
    pub fn get_enum(&self, name: &str) -> Option<&'static str> {
        let (i, _) = lookup(name.as_bytes())?;
        match (DIRECTIVES[i].kind, self.read(i)) {
            (Kind::Enum { names, .. }, Value::Enum(e)) => Some(special::enum_name(names, e)),
            _ => None,
        }
    }

    /// `notify-keyspace-events` as [`notify`] bits.
    pub fn notify_keyspace_events(&self) -> u32 {
        match self.value_of("notify-keyspace-events") {
            Some(Value::Notify(f)) => f,
            _ => 0,
        }
    }

    /// `latency-tracking-info-percentiles`.
    pub fn latency_tracking_info_percentiles(&self) -> Vec<f64> {
        match self.value_of("latency-tracking-info-percentiles") {
            Some(Value::Percentiles(p)) => p,
            _ => Vec::new(),
        }
    }

    /// `oom-score-adj-values` (master, replica, background child).
    pub fn oom_score_adj_values(&self) -> [i32; 3] {
        match self.value_of("oom-score-adj-values") {
            Some(Value::Oom(v)) => v,
            _ => DEFAULT_OOM,
        }
    }

    /// Whether `supervised` says an init system supervises us (then
    /// `daemonize` is ignored, as Redis does).
    pub fn is_supervised(&self) -> bool {
        let env = |k: &str| std::env::var_os(k).is_some();
        match self.get_enum("supervised") {
            Some("upstart") => env("UPSTART_JOB"),
            Some("systemd") => env("NOTIFY_SOCKET"),
            Some("auto") => env("UPSTART_JOB") || env("NOTIFY_SOCKET"),
            _ => false,
        }
    }

    /// The pid file to write, if any: the `pidfile` directive, or Redis's
    /// default `/var/run/redis.pid` when running in the background with none.
    pub fn pidfile_path(&self) -> Option<String> {
        if !self.pidfile.is_empty() {
            Some(self.pidfile.clone())
        } else if self.daemonize && !self.is_supervised() {
            Some(DEFAULT_PIDFILE.to_string())
        } else {
            None
        }
    }
}

fn current_dir_string() -> String {
    std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Parses a numeric directive value with Redis's rules and error texts.
fn parse_number(arg: &[u8], min: i128, max: i128, fmt: NumFmt) -> Result<i128, String> {
    let v: i128 = match fmt {
        NumFmt::Plain => parse_ll(arg).ok_or("argument couldn't be parsed into an integer")?.into(),
        NumFmt::Memory => parse_memory(arg).ok_or("argument must be a memory value")?.into(),
        NumFmt::Octal => parse_strtoll(arg, 8).ok_or("argument couldn't be parsed as an octal number")?.into(),
        NumFmt::MemoryPercent => match parse_memory(arg) {
            Some(m) => m.into(),
            None => match arg.split_last() {
                Some((b'%', num)) if !num.is_empty() => match parse_ll(num) {
                    Some(p) if p >= 0 => -i128::from(p),
                    _ => return Err("argument must be a memory or percent value".into()),
                },
                _ => return Err("argument must be a memory or percent value".into()),
            },
        },
    };
    if fmt == NumFmt::MemoryPercent && v < 0 {
        if v < min {
            return Err(format!("percentage argument must be less or equal to {}", -min));
        }
    } else if v < min || v > max {
        return Err(if fmt == NumFmt::Octal {
            format!("argument must be between {:o} and {:o} inclusive", min, max)
        } else {
            format!("argument must be between {min} and {max} inclusive")
        });
    }
    Ok(v)
}
