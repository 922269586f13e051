//! Loading configuration the way `redis-server` does: the optional config
//! file (first argument, or `-` for stdin), then `--name value...` arguments
//! turned into extra config lines, all read as one text; `include` files
//! (with `*?[` wildcards) are read where they appear. Errors come back as
//! the exact text Redis prints before exiting.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::directives::{lookup, DEPRECATED, DIRECTIVES, MULTI_ARG};
use super::glob::glob_match;
use super::parse::{is_comment_or_blank, repr, split_args, split_lines, trim_line};
use super::values::io_error_text;
use super::{Config, ConfigError, Mode, SourceLine};

/// How deep `include` may nest (Redis has no limit and recurses forever).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// State carried through one load (across includes).
#[derive(Default)]
pub(crate) struct LoadState {
    /// A `save` line was seen: later ones add save points instead of
    /// replacing the defaults.
    pub save_loaded: bool,
    depth: usize,
}

/// Why one directive failed: a reason to frame with its line, or an error
/// already complete (from an included file).
enum LineErr {
    Msg(String),
    Done(ConfigError),
}

impl From<String> for LineErr {
    fn from(m: String) -> Self {
        LineErr::Msg(m)
    }
}

impl Config {
    /// Loads configuration from `args` (argv without the program name) and,
    /// when asked by a `-` argument, from `stdin`. Sentinel mode is chosen by
    /// a `--sentinel` argument or a program name containing "sentinel" (the
    /// program name is taken from `std::env::args`).
    pub fn load(args: &[String], stdin: &mut dyn Read) -> Result<Config, ConfigError> {
        let program = std::env::args().next().unwrap_or_default();
        Self::load_with_program(&program, args, stdin)
    }

    /// [`Config::load`] with an explicit program name (argv[0]).
    pub fn load_with_program(
        program: &str,
        args: &[String],
        stdin: &mut dyn Read,
    ) -> Result<Config, ConfigError> {
        let base = Path::new(program)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sentinel = base.contains("sentinel") || args.iter().any(|a| a == "--sentinel");
        let mut cfg = Config::new();
        if sentinel {
            // Sentinel's own defaults, set before anything is read.
            cfg.mode = Mode::Sentinel;
            cfg.port = 26379;
            cfg.protected_mode = false;
        }
        if args.is_empty() {
            return Ok(cfg);
        }
        // `ringkv --sentinel /path/sentinel.conf ...` names the file after the mode switch.
        let reordered: Vec<String>;
        let args = if args.len() > 1
            && args[0].eq_ignore_ascii_case("--sentinel")
            && !args[1].starts_with('-')
        {
            reordered = std::iter::once(args[1].clone())
                .chain(args[2..].iter().cloned())
                .collect();
            &reordered[..]
        } else {
            args
        };
        let mut start = 0;
        if !args[0].starts_with('-') {
            cfg.config_file = Some(absolute_path(&args[0]));
            start = 1;
        }
        let (options, from_stdin) = synthesize_options(args, start);
        let mut text = Vec::new();
        if let Some(path) = cfg.config_file.clone() {
            read_config_source(path.as_os_str().as_bytes(), cfg.mode, &mut text)?;
        }
        if from_stdin {
            stdin.read_to_end(&mut text).map_err(|e| {
                fatal_log(
                    cfg.mode,
                    &format!(
                        "Fatal error, can't read config from stdin: {}",
                        io_error_text(&e)
                    ),
                )
            })?;
        }
        text.push(b'\n');
        text.extend_from_slice(options.as_bytes());
        let mut st = LoadState::default();
        cfg.load_text(&text, &mut st)?;
        Ok(cfg)
    }

    /// Applies config text (lines numbered from 1 within `text`).
    pub(crate) fn load_text(&mut self, text: &[u8], st: &mut LoadState) -> Result<(), ConfigError> {
        for (n, raw) in split_lines(text).into_iter().enumerate() {
            let line = trim_line(raw);
            if is_comment_or_blank(line) {
                continue;
            }
            let shown = String::from_utf8_lossy(line);
            let at = |msg: &str| ConfigError::framed(Some((n + 1, &shown)), msg);
            let Ok(argv) = split_args(line) else {
                return Err(at("Unbalanced quotes in configuration line"));
            };
            if argv.is_empty() {
                continue;
            }
            match self.load_directive(&argv, n + 1, &shown, st) {
                Ok(()) => {}
                Err(LineErr::Msg(m)) => return Err(at(&m)),
                Err(LineErr::Done(e)) => return Err(e),
            }
        }
        if !self.logfile.is_empty() {
            // Redis makes sure the log file can be opened before going on.
            if let Err(e) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.logfile)
            {
                return Err(ConfigError::framed(
                    None,
                    &format!("Can't open the log file: {}", io_error_text(&e)),
                ));
            }
        }
        if self.get_bool("cluster-enabled") == Some(true) && self.replicaof.is_some() {
            return Err(ConfigError::framed(
                None,
                "replicaof directive not allowed in cluster mode",
            ));
        }
        Ok(())
    }

    fn load_directive(
        &mut self,
        argv: &[Vec<u8>],
        linenum: usize,
        line: &str,
        st: &mut LoadState,
    ) -> Result<(), LineErr> {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        let text = |a: &[u8]| String::from_utf8_lossy(a).into_owned();
        if let Some((i, _)) = lookup(&name) {
            let multi = DIRECTIVES[i].has(MULTI_ARG);
            if !multi && argc != 2 {
                return Err("wrong number of arguments".to_string().into());
            }
            if multi && argc == 2 && !argv[1].is_empty() {
                // One non-empty value of a multi-argument directive is split
                // again, so that `--save "60 1"` works (an unbalanced value
                // gives no arguments, as in Redis).
                let split = split_args(&argv[1]).unwrap_or_default();
                return Ok(self.apply(i, &split, Some(st))?);
            }
            return Ok(self.apply(i, &argv[1..], Some(st))?);
        }
        if argc == 2 && DEPRECATED.iter().any(|d| d.as_bytes() == name.as_slice()) {
            return Ok(());
        }
        match name.as_slice() {
            b"include" if argc == 2 => self.include(&argv[1], st),
            b"rename-command" if argc == 3 => {
                self.rename_commands.push((text(&argv[1]), text(&argv[2])));
                Ok(())
            }
            b"user" if argc >= 2 => {
                self.user_lines
                    .push(argv[1..].iter().map(|a| text(a)).collect());
                Ok(())
            }
            b"loadmodule" if argc >= 2 => {
                // Redis fails at startup when a module can't load; ringkv has
                // no module support, so every module fails the same way.
                let path = text(&argv[1]);
                let first = fatal_log(
                    self.mode,
                    &format!("Module {path} failed to load: modules are not supported by ringkv"),
                );
                let second = fatal_log(
                    self.mode,
                    &format!("Can't load module from {path}: server aborting"),
                );
                Err(LineErr::Done(ConfigError {
                    message: first.message + &second.message,
                }))
            }
            b"sentinel" => {
                // A bare `sentinel` (from `--sentinel`) only selects the mode.
                if argc != 1 {
                    if self.mode != Mode::Sentinel {
                        return Err("sentinel directive while not in sentinel mode"
                            .to_string()
                            .into());
                    }
                    self.sentinel_lines
                        .push(argv[1..].iter().map(|a| text(a)).collect());
                    self.sentinel_sources.push(SourceLine {
                        line: linenum,
                        text: line.to_string(),
                    });
                }
                Ok(())
            }
            n if n.contains(&b'.') => Err(if argc < 2 {
                "Module config specified without value".to_string().into()
            } else {
                // Redis queues module configs and aborts after loading modules.
                let msg = "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting";
                LineErr::Done(fatal_log(self.mode, msg))
            }),
            _ => Err("Bad directive or wrong number of arguments"
                .to_string()
                .into()),
        }
    }

    fn include(&mut self, path: &[u8], st: &mut LoadState) -> Result<(), LineErr> {
        if st.depth >= MAX_INCLUDE_DEPTH {
            return Err(
                format!("include nesting is deeper than {MAX_INCLUDE_DEPTH} levels").into(),
            );
        }
        let mut text = Vec::new();
        read_config_source(path, self.mode, &mut text).map_err(LineErr::Done)?;
        st.depth += 1;
        let r = self.load_text(&text, st);
        st.depth -= 1;
        r.map_err(LineErr::Done)
    }
}

/// Turns the arguments after the config file into config text, exactly like
/// redis-server's main(): each `--name` starts a line, values are quoted, a
/// value-less `--save` becomes `save ""`. Returns the text and whether a `-`
/// asked for stdin.
pub(crate) fn synthesize_options(args: &[String], start: usize) -> (String, bool) {
    let mut options = String::new();
    let mut from_stdin = false;
    let mut handled_last = true;
    let n = args.len();
    for j in start..n {
        let a = &args[j];
        if a == "-" && (j == 0 || j == n - 1) {
            from_stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&a[2..]);
            options.push(' ');
            match split_args(a.as_bytes()) {
                Ok(v) if v.len() == 1 => {
                    handled_last = false;
                    let next_is_option = j + 1 < n && args[j + 1].starts_with("--");
                    let last = j == n - 1;
                    if a.eq_ignore_ascii_case("--save") && (next_is_option || last) {
                        options.push_str("\"\"");
                        handled_last = next_is_option || handled_last;
                    } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                        handled_last = true;
                    }
                }
                // Name and value(s) in one argument ("--port 6380").
                _ => handled_last = true,
            }
        } else {
            options.push_str(&repr(a.as_bytes()));
            options.push(' ');
            handled_last = true;
        }
    }
    (options, from_stdin)
}

/// Reads a config file, or all files matching a wildcard pattern (in sorted
/// order; no match is not an error), appending to `out`.
fn read_config_source(path: &[u8], mode: Mode, out: &mut Vec<u8>) -> Result<(), ConfigError> {
    let os = std::ffi::OsStr::from_bytes(path);
    let files: Vec<PathBuf> = if path.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
        expand_wildcards(Path::new(os))
    } else {
        vec![PathBuf::from(os)]
    };
    for f in files {
        match std::fs::read(&f) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => {
                let msg = format!(
                    "Fatal error, can't open config file '{}': {}",
                    f.display(),
                    io_error_text(&e)
                );
                return Err(fatal_log(mode, &msg));
            }
        }
    }
    Ok(())
}

/// Expands `*`, `?` and `[...]` in each path component, like glob(3):
/// sorted, hidden names only matched by a pattern starting with '.'.
fn expand_wildcards(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![if pattern.is_absolute() {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.iter() {
        let c = comp.as_bytes();
        if c == b"/" {
            continue;
        }
        if !c.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            found = found
                .into_iter()
                .map(|p| p.join(comp))
                .filter(|p| p.exists())
                .collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            let list = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(rd) = std::fs::read_dir(list) else {
                continue;
            };
            let mut names: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .filter(|n| {
                    let n = n.as_bytes();
                    (c.first() == Some(&b'.') || n.first() != Some(&b'.'))
                        && glob_match(c, n, false)
                })
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        found = next;
    }
    found.retain(|p| p.is_file());
    found
}

/// Makes a path absolute against the working directory, folding leading
/// `./` and `../` the way Redis's getAbsolutePath does.
pub(crate) fn absolute_path(name: &str) -> PathBuf {
    let name = name.trim_matches(|c| matches!(c, ' ' | '\r' | '\n' | '\t'));
    if name.starts_with('/') {
        return PathBuf::from(name);
    }
    let mut abs = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !abs.ends_with('/') {
        abs.push('/');
    }
    let mut rel = name;
    loop {
        if let Some(r) = rel.strip_prefix("./") {
            rel = r;
        } else if let Some(r) = rel.strip_prefix("../") {
            rel = r;
            if abs.len() > 1 {
                let trimmed = &abs[..abs.len() - 1];
                abs.truncate(trimmed.rfind('/').map_or(1, |p| p + 1));
            }
        } else {
            break;
        }
    }
    PathBuf::from(abs + rel)
}

/// A fatal error Redis reports as a log line (`pid:C date # message`).
fn fatal_log(mode: Mode, msg: &str) -> ConfigError {
    let role = if mode == Mode::Sentinel { 'X' } else { 'C' };
    ConfigError {
        message: format!(
            "{}:{} {} # {}\n",
            std::process::id(),
            role,
            log_timestamp(),
            msg
        ),
    }
}

/// "22 Nov 2026 03:52:28.722" in local time, as Redis log lines show it.
fn log_timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the tm we pass; an all-zero tm is valid.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("{}", now.as_secs());
        }
        tm
    };
    format!(
        "{} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}
