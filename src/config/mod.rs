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
//! `directives.rs` (the table), `choices.rs` (enum names, string checks),
//! `special.rs` (multi-argument directives),
//! `store.rs` (current values, pub-field mirror, validation, GET format),
//! `load.rs` (files, includes, arguments), `rewrite.rs` (CONFIG REWRITE).

mod choices;
mod directives;
mod glob;
mod load;
mod parse;
mod rewrite;
mod special;
mod store;
mod values;

#[cfg(test)]
mod tests;

use directives::{index_of, lookup, Kind, DIRECTIVES};
pub(crate) use store::{default_value, Value};
use store::{DEFAULT_OBUF, DEFAULT_OOM};

pub use glob::glob_match;
pub use parse::{repr, split_args};
pub use special::format_percentiles;
pub use values::{io_error_text, notify};

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
            m.push_str(&format!(
                "Reading the configuration file, at line {n}\n>>> '{text}'\n"
            ));
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

/// Where a daemonized server writes its pid when `pidfile` is unset.
pub const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

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
        DIRECTIVES
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.alias))
            .collect()
    }

    /// Whether CONFIG SET of `name` must answer -LOADING while loading data.
    pub fn is_deny_loading(name: &str) -> bool {
        lookup(name.as_bytes()).is_some_and(|(i, _)| DIRECTIVES[i].has(directives::DENY_LOADING))
    }

    /// Whether the value of `name` must be redacted from slowlog / MONITOR.
    pub fn is_sensitive(name: &str) -> bool {
        lookup(name.as_bytes()).is_some_and(|(i, _)| DIRECTIVES[i].has(directives::SENSITIVE))
    }

    /// CONFIG GET for one pattern: `(name, value)` pairs. A pattern without
    /// `*`, `?` or `[` is an exact (case-insensitive) name and is answered
    /// under the name as given, hidden directives included, like Redis.
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        if !pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            return match lookup(pattern) {
                Some((i, _)) => vec![(
                    String::from_utf8_lossy(pattern).into_owned(),
                    self.format_value(i),
                )],
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
        let (i, alias) = self.check_settable(name, local_client)?;
        let d = &DIRECTIVES[i];
        let args: Vec<Vec<u8>> = if d.has(directives::MULTI_ARG) {
            // Split on single spaces like sdssplitlen: "" gives no arguments.
            if value.is_empty() {
                Vec::new()
            } else {
                value.split(|&b| b == b' ').map(<[u8]>::to_vec).collect()
            }
        } else {
            vec![value.to_vec()]
        };
        let shown = if alias {
            d.alias.unwrap_or(d.name)
        } else {
            d.name
        };
        self.apply(i, &args, None)
            .map_err(|e| set_failed(shown, &e))
    }

    /// The checks CONFIG SET makes on a name before looking at any value:
    /// known, not immutable, not protected (unless allowed). Returns the
    /// directive index and whether `name` was its alias.
    fn check_settable(&self, name: &str, local_client: bool) -> Result<(usize, bool), String> {
        let Some((i, alias)) = lookup(name.as_bytes()) else {
            return Err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        let d = &DIRECTIVES[i];
        if d.has(directives::IMMUTABLE) {
            return Err(set_failed(name, "can't set immutable config"));
        }
        if d.has(directives::PROTECTED) {
            let allowed = match self.read(index_of("enable-protected-configs")) {
                Value::Enum(1) => true,
                Value::Enum(2) => local_client,
                _ => false,
            };
            if !allowed {
                return Err(set_failed(name, "can't set protected config"));
            }
        }
        Ok((i, alias))
    }

    /// CONFIG SET with several pairs, all or nothing, in Redis's order: every
    /// name is checked first (unknown, immutable, protected, given twice),
    /// then the values are set in order; on a failure nothing changes (the
    /// working directory is restored if a `dir` pair had changed it).
    pub fn set_many(&mut self, pairs: &[(&[u8], &[u8])], local_client: bool) -> Result<(), String> {
        let mut seen = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let name = String::from_utf8_lossy(name);
            let key = self.check_settable(&name, local_client)?;
            if seen.contains(&key) {
                return Err(set_failed(&name, "duplicate parameter"));
            }
            seen.push(key);
        }
        let cwd = std::env::current_dir().ok();
        let mut next = self.clone();
        for (name, value) in pairs {
            if let Err(e) = next.set_ext(&String::from_utf8_lossy(name), value, local_client) {
                if let Some(cwd) = cwd.filter(|c| std::env::current_dir().ok().as_ref() != Some(c))
                {
                    let _ = std::env::set_current_dir(cwd);
                }
                return Err(e);
            }
        }
        *self = next;
        Ok(())
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

fn set_failed(who: &str, why: &str) -> String {
    format!("CONFIG SET failed (possibly related to argument '{who}') - {why}")
}
