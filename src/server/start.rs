//! Start-up and shut-down: logging, daemonizing, the pid file, listening sockets, the banner, the
//! worker threads, and signals.

use std::collections::HashMap;
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::view::ShardCell;
use super::worker::Worker;
use super::{log, Shared, WorkerStats};
use crate::config::Config;
use crate::runtime::clock::unix_ms;
use crate::runtime::Mailbox;
use crate::store::{Shard, SHARDS_MAX};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Redis version whose behaviour ringkv follows; reported as `redis_version` so clients
/// enable the features they expect.
pub const REDIS_VERSION: &str = "7.0.15";
/// Messages a worker's mailbox holds before senders wait.
const MAILBOX_MESSAGES_MAX: usize = 65_536;

/// Runs the data server until SHUTDOWN or a signal; returns the process exit code.
pub fn run(config: Config) -> i32 {
    log::set_level(config.loglevel);
    if config.daemonize {
        daemonize();
    }
    if let Err(e) = log::set_file(&config.logfile) {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    let pid = std::process::id();
    log::warning("oO0OoO0OoO0Oo ringkv is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "ringkv version={VERSION} (redis {REDIS_VERSION} compatible), bits=64, pid={pid}, just started"
    ));
    match &config.config_file {
        None => log::warning(
            "Warning: no config file specified, using the default config. In order to specify a config file use ringkv /path/to/redis.conf",
        ),
        Some(_) => log::warning("Configuration loaded"),
    }
    log::set_role(b'M');
    let pidfile = config.pidfile_path();
    if let Some(p) = &pidfile {
        if let Err(e) = std::fs::write(p, format!("{pid}\n")) {
            log::warning(&format!("Failed to write PID file: {e}"));
        }
    }
    let threads = match config.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
    .clamp(1, SHARDS_MAX);
    let listeners = match listen_all(&config) {
        Ok(l) => l,
        Err(()) => {
            log::warning(&format!(
                "Failed listening on port {} (tcp), aborting.",
                config.port
            ));
            return 1;
        }
    };
    block_signals();
    install_panic_hook();
    let shared = match build_shared(config.clone(), threads) {
        Ok(s) => s,
        Err(e) => {
            log::warning(&e);
            return 1;
        }
    };
    if log::logs_to_stdout() {
        log::write_raw(banner(threads, config.port, pid).as_bytes());
    } else {
        log::notice(&format!("Running mode=standalone, port={}.", config.port));
    }
    log::warning("Server initialized");
    // The workers start with their shards held by the loader (`load.rs`) and answer -LOADING
    // until it is done.
    shared.save.loading.store(true, Ordering::Release);
    let shared = Arc::new(shared);
    // Rings are created on their own threads (single-issuer rings belong to one thread); each
    // reports back whether it could start, so an unusable io_uring is one clear message.
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let mut handles = Vec::new();
    for id in 0..threads {
        let shared = shared.clone();
        let listeners = listeners.clone();
        let tx = tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("ringkv-w{id}"))
            .spawn(move || match Worker::new(id, shared.clone(), listeners) {
                Ok(mut w) => {
                    let _ = tx.send(Ok(()));
                    w.run();
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            });
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                log::warning(&format!("Can't start a worker thread: {e}"));
                return 1;
            }
        }
    }
    for _ in 0..threads {
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log::warning(&e);
                shared.shutdown.store(1, Ordering::Release);
                shared.wake_all();
                return 1;
            }
            Err(_) => return 1,
        }
    }
    let loader = {
        let shared = shared.clone();
        let config = config.clone();
        std::thread::Builder::new()
            .name("ringkv-load".into())
            .spawn(move || load_then_serve(&shared, &config))
    };
    let loader = match loader {
        Ok(h) => h,
        Err(e) => {
            log::warning(&format!("Can't start the loading thread: {e}"));
            shared.shutdown.store(1, Ordering::Release);
            shared.wake_all();
            return 1;
        }
    };
    wait_for_shutdown(&shared);
    for h in handles {
        let _ = h.join();
    }
    let loaded = loader.join().unwrap_or(false);
    let mut exit_code = 0;
    if shared.shutdown.load(Ordering::Acquire) == super::SHUTDOWN_LOAD_FAILED {
        exit_code = 1;
    }
    if shared.aof.is_on() {
        log::notice("Calling fsync() on the AOF file.");
        shared.aof.close(&shared.feed);
    }
    // A shutdown during the load does not save (the dataset is partial), as in Redis.
    if loaded && !final_save(&shared) {
        exit_code = 1;
    }
    if let Some(p) = &pidfile {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(p);
    }
    log::warning("ringkv is now ready to exit, bye bye...");
    exit_code
}

/// The loader thread: loads the AOF or the dump while the workers answer -LOADING, then hands
/// them their shards and connects to the master if `replicaof` says so. A failed load shuts
/// the server down with exit code 1. True when the load completed.
fn load_then_serve(shared: &Shared, config: &Config) -> bool {
    // SAFETY: `save.loading` was set before the workers started, so each holds its shard lock
    // for the loader (`Holder::Loader`) until `finish` below.
    let result = unsafe {
        if config.get_bool("appendonly") == Some(true) {
            super::load::load_aof(shared, config)
        } else {
            super::load::load_dump(shared, config)
        }
    };
    if result.is_err() {
        if shared.shutdown.load(Ordering::Acquire) == 0 {
            shared
                .shutdown
                .store(super::SHUTDOWN_LOAD_FAILED, Ordering::Release);
            shared.wake_all();
        }
        return false;
    }
    super::load::finish(shared);
    if shared.shutdown.load(Ordering::Acquire) != 0 {
        return true;
    }
    log::notice("Ready to accept connections tcp");
    if let Some(target) = config.replicaof.clone() {
        if let Err(e) = super::replicas::set_master(shared, Some(target), "config file") {
            log::warning(&e);
        }
    }
    true
}

/// After the workers stopped: drops an unfinished background save and writes the final
/// snapshot when SHUTDOWN SAVE asked for it, or when save points are configured and neither
/// SHUTDOWN NOSAVE nor an empty `save` says otherwise (Redis's rule). False when the save
/// failed. (Redis then refuses to exit; here the threads are already gone, so it exits 1.)
fn final_save(shared: &Shared) -> bool {
    let status = &shared.save;
    if status.in_progress.load(Ordering::Acquire) {
        log::warning("There is a background save in progress: dropping it.");
        let _ = std::fs::remove_file(format!("temp-{}.rdb", std::process::id()));
    }
    if shared
        .aof
        .status
        .rewrite_in_progress
        .load(Ordering::Acquire)
    {
        log::warning("There is a background AOF rewrite in progress: dropping it.");
        let _ = std::fs::remove_file(crate::persist::aof::rewrite_temp_name());
    }
    let config = shared.config().clone();
    let save_points = !config
        .get_matching(b"save")
        .first()
        .is_none_or(|(_, v)| v.is_empty());
    let reason = shared.shutdown.load(Ordering::Acquire);
    let wanted =
        reason == super::SHUTDOWN_SAVE || (reason != super::SHUTDOWN_NOSAVE && save_points);
    if !wanted {
        return true;
    }
    log::notice("Saving the final RDB snapshot before exiting.");
    let header = crate::commands::persistence::dump_aux(shared);
    let bytes =
        crate::commands::persistence::write_rdb(&config, &header, shared.shards.len(), |i, f| {
            // SAFETY: every worker thread has been joined, so nothing else can reach a shard; this
            // is the only reference, created and dropped within this call.
            let mut view = unsafe { super::view::ShardView::new(&shared.shards, 1u64 << i) };
            f(view.shard(i))
        });
    match crate::persist::write_atomic(&config.dbfilename, &bytes) {
        Ok(()) => {
            log::notice("DB saved on disk");
            true
        }
        Err(e) => {
            log::warning(&format!("Error trying to save the DB, can't exit: {e}"));
            false
        }
    }
}

fn build_shared(config: Config, threads: usize) -> Result<Shared, String> {
    let mut mailboxes = Vec::new();
    for _ in 0..threads {
        mailboxes.push(
            Mailbox::new(MAILBOX_MESSAGES_MAX)
                .map_err(|e| format!("Can't create an eventfd: {e}"))?,
        );
    }
    let databases = config.databases;
    let port = config.port;
    Ok(Shared {
        config: Mutex::new(config),
        config_epoch: AtomicU64::new(1),
        shards: (0..threads)
            .map(|i| ShardCell::new(Shard::new(i, databases)))
            .collect(),
        mailboxes,
        stats: (0..threads).map(|_| WorkerStats::new()).collect(),
        clients: (0..threads).map(|_| Mutex::new(HashMap::new())).collect(),
        next_client_id: AtomicU64::new(1),
        run_id: random_hex(40),
        start_ms: unix_ms(),
        port,
        shutdown: AtomicU8::new(0),
        slowlog: Mutex::new(Default::default()),
        latency: Mutex::new(Default::default()),
        errors: Mutex::new(HashMap::new()),
        monitors: Mutex::new(Vec::new()),
        pubsub: Default::default(),
        monitor_count: AtomicUsize::new(0),
        accepted: AtomicUsize::new(0),
        save: Default::default(),
        stat_numcommands_reset_ms: AtomicU64::new(unix_ms()),
        active_expire: AtomicBool::new(true),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        feed: Arc::new(Default::default()),
        aof: Default::default(),
        repl: Default::default(),
        link: Mutex::new(None),
    })
}

/// `n` random lower-case hex digits (run_id).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr() as *mut libc::c_void, bytes.len(), 0) };
    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()[..n].to_string()
}

fn banner(threads: usize, port: u16, pid: u32) -> String {
    format!(
        "\n\
         \x20     .-~~~~~~-.      ringkv {VERSION} (Redis {REDIS_VERSION} compatible) 64 bit\n\
         \x20    /  ringkv  \\\n\
         \x20   |  ( o  o )  |    Running in standalone mode, {threads} thread{}\n\
         \x20    \\   '--'   /     Port: {port}\n\
         \x20     '-.____.-'      PID: {pid}\n\
         \n",
        if threads == 1 { "" } else { "s" }
    )
}

/// Opens every `bind` address. A `-` prefix marks an address that may be unavailable.
pub(crate) fn listen_all(config: &Config) -> Result<Vec<RawFd>, ()> {
    let mut fds = Vec::new();
    for raw in &config.bind {
        let (optional, addr) = match raw.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, raw.as_str()),
        };
        let host = match addr {
            "*" => "0.0.0.0",
            "::*" => "::",
            a => a,
        };
        let sock: std::net::SocketAddr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => std::net::SocketAddr::new(ip, config.port),
            Err(_) => {
                log::warning(&format!("Invalid bind address '{addr}'"));
                return Err(());
            }
        };
        match std::net::TcpListener::bind(sock) {
            Ok(l) => {
                let fd = l.into_raw_fd();
                // SAFETY: plain syscall on the socket we just created; re-listening only changes
                // the backlog (Rust's default is 128; Redis uses tcp-backlog).
                unsafe { libc::listen(fd, config.tcp_backlog) };
                fds.push(fd);
            }
            // `-::*` after `*`: a dual-stack IPv4 wildcard already listens on IPv6 too.
            Err(e)
                if optional
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::AddrNotAvailable | std::io::ErrorKind::AddrInUse
                    ) =>
            {
                log::verbose(&format!("Skipping optional bind address {addr}: {e}"));
            }
            Err(e) => {
                log::warning(&format!(
                    "Warning: Could not create server TCP listening socket {addr}:{}: bind: {e}",
                    config.port
                ));
                if !optional {
                    return Err(());
                }
            }
        }
    }
    if fds.is_empty() && !config.bind.is_empty() {
        return Err(());
    }
    Ok(fds)
}

pub(crate) fn daemonize() {
    // SAFETY: called before any thread is started, so fork duplicates only this thread.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("fork failed: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
            libc::dup2(devnull, 1);
            libc::dup2(devnull, 2);
            if devnull > 2 {
                libc::close(devnull);
            }
        }
    }
}

/// A panic is a bug, never an input error (input gets error replies). A worker that died would
/// leave its shard's locks and mailbox unanswered and the rest of the server stuck behind them,
/// so log it in Redis's format and stop the whole process, as Redis does on a failed assertion.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        log::warning("=== RINGKV BUG REPORT START: Cut & paste starting from here ===");
        log::warning(&format!("Thread {thread} panicked: {info}"));
        log::warning("=== RINGKV BUG REPORT END. Make sure to include from START to END. ===");
        default(info);
        std::process::abort();
    }));
}

pub(crate) fn block_signals() {
    // SAFETY: builds a signal set on the stack and applies it to this thread (inherited by the
    // workers spawned after this call). SIGPIPE is ignored: sends use MSG_NOSIGNAL anyway.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Waits for SIGTERM/SIGINT or a SHUTDOWN command.
fn wait_for_shutdown(shared: &Shared) {
    loop {
        match shared.shutdown.load(Ordering::Acquire) {
            0 => {}
            super::SHUTDOWN_LOAD_FAILED => return,
            _ => {
                log::warning("User requested shutdown...");
                return;
            }
        }
        if take_shutdown_signal(100_000_000) {
            shared.shutdown.store(1, Ordering::Release);
            shared.wake_all();
            return;
        }
    }
}

/// Waits up to `timeout_ns` for SIGTERM or SIGINT (blocked by `block_signals`, so they queue);
/// logs and returns true when one arrived.
pub(crate) fn take_shutdown_signal(timeout_ns: i64) -> bool {
    // SAFETY: sigtimedwait on a set of blocked signals; all pointers are to live locals.
    let sig = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: timeout_ns as _,
        };
        libc::sigtimedwait(&set, std::ptr::null_mut(), &ts)
    };
    if sig == libc::SIGTERM || sig == libc::SIGINT {
        let name = if sig == libc::SIGTERM {
            "SIGTERM"
        } else {
            "SIGINT"
        };
        log::warning(&format!("Received {name} scheduling shutdown..."));
        return true;
    }
    false
}
