//! The value store behind [`Config`]: each directive's current value
//! (`Value`), its default, the mirror between the store and the typed pub
//! fields, validation of new values (with Redis's error texts) and the
//! formatting CONFIG GET shows.

use super::directives::{Kind, NumFmt, Special, DIRECTIVES};
use super::values::{self, parse_ll, parse_memory, parse_strtoll, parse_yes_no};
use super::{load, special, Config, DebugCmd, LogLevel, OutputLimit};

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

const DEFAULT_SAVE: [(u64, u64); 3] = [(3600, 1), (300, 100), (60, 10000)];
const DEFAULT_BIND: [&str; 2] = ["*", "-::*"];
pub(crate) const DEFAULT_OBUF: [OutputLimit; 3] = [
    OutputLimit {
        hard_bytes: 0,
        soft_bytes: 0,
        soft_seconds: 0,
    },
    OutputLimit {
        hard_bytes: 256 << 20,
        soft_bytes: 64 << 20,
        soft_seconds: 60,
    },
    OutputLimit {
        hard_bytes: 32 << 20,
        soft_bytes: 8 << 20,
        soft_seconds: 60,
    },
];
pub(crate) const DEFAULT_OOM: [i32; 3] = [0, 200, 800];
const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];
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
    /// The current value of a directive (by primary index), reading the pub
    /// field for the directives that have one.
    pub(crate) fn read(&self, i: usize) -> Value {
        let obuf = || {
            [
                self.client_output_buffer_limit_normal,
                self.client_output_buffer_limit_replica,
                self.client_output_buffer_limit_pubsub,
            ]
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
                self.loglevel = [
                    LogLevel::Debug,
                    LogLevel::Verbose,
                    LogLevel::Notice,
                    LogLevel::Warning,
                    LogLevel::Nothing,
                ][(*e as usize).min(4)]
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
                self.enable_debug_command =
                    [DebugCmd::No, DebugCmd::Yes, DebugCmd::Local][(*e as usize).min(2)]
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
    pub(crate) fn apply(
        &mut self,
        i: usize,
        args: &[Vec<u8>],
        load: Option<&mut load::LoadState>,
    ) -> Result<(), String> {
        let one = || args.first().cloned().unwrap_or_default();
        let v = match DIRECTIVES[i].kind {
            Kind::Bool(_) => {
                Value::Bool(parse_yes_no(&one()).ok_or("argument must be 'yes' or 'no'")?)
            }
            Kind::Int { min, max, fmt, .. } => Value::Int(parse_number(&one(), min, max, fmt)?),
            Kind::Str {
                empty_null, check, ..
            } => {
                let a = one();
                if let Some(check) = check {
                    check(&a)?;
                }
                Value::Str(if empty_null && a.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(&a).into_owned())
                })
            }
            Kind::Secret => Value::Bytes(Some(one()).filter(|a| !a.is_empty())),
            Kind::Enum { names, .. } => Value::Enum(special::parse_enum(names, &one())?),
            Kind::EnumFlags { names, .. } => Value::Enum(special::parse_enum_flags(names, args)?),
            Kind::Special(sp) => match sp {
                Special::Dir => {
                    use std::os::unix::ffi::OsStrExt;
                    std::env::set_current_dir(std::ffi::OsStr::from_bytes(&one()))
                        .map_err(|e| values::io_error_text(&e))?;
                    self.dir = std::env::current_dir()
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
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
                    values::parse_notify(&one())
                        .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
                ),
                Special::ReplicaOf => Value::ReplicaOf(special::parse_replicaof(args)?),
                Special::LatencyPercentiles => {
                    Value::Percentiles(special::parse_percentiles(args)?)
                }
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
            (Value::Bytes(b), _) => b
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
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
}

fn current_dir_string() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parses a numeric directive value with Redis's rules and error texts.
fn parse_number(arg: &[u8], min: i128, max: i128, fmt: NumFmt) -> Result<i128, String> {
    let v: i128 = match fmt {
        NumFmt::Plain => parse_ll(arg)
            .ok_or("argument couldn't be parsed into an integer")?
            .into(),
        NumFmt::Memory => parse_memory(arg)
            .ok_or("argument must be a memory value")?
            .into(),
        NumFmt::Octal => parse_strtoll(arg, 8)
            .ok_or("argument couldn't be parsed as an octal number")?
            .into(),
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
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -min
            ));
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
