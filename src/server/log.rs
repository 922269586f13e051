//! Log lines in Redis's format: `<pid>:<role> <dd Mon yyyy HH:MM:SS.mmm> <level> <message>`.
//!
//! Level marks: `.` debug, `-` verbose, `*` notice, `#` warning. Role: `M` master, `S` replica,
//! `X` sentinel, `C` before the role is known. The target (stdout or `logfile`) and the level are
//! process-wide, set once at start and changeable by CONFIG SET.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::config::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(2);
static ROLE: AtomicU8 = AtomicU8::new(b'C');
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

fn level_rank(l: LogLevel) -> u8 {
    match l {
        LogLevel::Debug => 0,
        LogLevel::Verbose => 1,
        LogLevel::Notice => 2,
        LogLevel::Warning => 3,
        LogLevel::Nothing => 4,
    }
}

pub fn set_level(l: LogLevel) {
    LEVEL.store(level_rank(l), Ordering::Relaxed);
}

/// `M`, `S`, `X` or `C`.
pub fn set_role(role: u8) {
    ROLE.store(role, Ordering::Relaxed);
}

/// Log to `path` (appending), or to stdout when `path` is empty.
pub fn set_file(path: &str) -> std::io::Result<()> {
    let f = if path.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )
    };
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = f;
    Ok(())
}

pub fn logs_to_stdout() -> bool {
    FILE.lock().map(|f| f.is_none()).unwrap_or(true)
}

pub fn enabled(l: LogLevel) -> bool {
    level_rank(l) >= LEVEL.load(Ordering::Relaxed)
}

pub fn log(l: LogLevel, msg: &str) {
    if !enabled(l) || l == LogLevel::Nothing {
        return;
    }
    let mark = match l {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        _ => '#',
    };
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        mark,
        msg
    );
    write_raw(line.as_bytes());
}

/// Writes text as is (the start-up logo).
pub fn write_raw(bytes: &[u8]) {
    let mut guard = FILE.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_mut() {
        Some(f) => {
            let _ = f.write_all(bytes);
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(bytes);
            let _ = out.flush();
        }
    }
}

pub fn debug(msg: &str) {
    log(LogLevel::Debug, msg)
}
pub fn verbose(msg: &str) {
    log(LogLevel::Verbose, msg)
}
pub fn notice(msg: &str) {
    log(LogLevel::Notice, msg)
}
pub fn warning(msg: &str) {
    log(LogLevel::Warning, msg)
}

/// `22 Nov 2026 03:30:00.123` in local time.
pub fn timestamp() -> String {
    let now_us = crate::runtime::clock::unix_us();
    let secs = (now_us / 1_000_000) as libc::time_t;
    let ms = (now_us / 1000) % 1000;
    // SAFETY: `tm` is plain data; localtime_r writes into it and reads `secs` only.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[(tm.tm_mon.clamp(0, 11)) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ms
    )
}
