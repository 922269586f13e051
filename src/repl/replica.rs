//! The replica's side: one thread per master link, a state machine read top to bottom:
//!
//! ```text
//! connect ─► PING ─► [AUTH] ─► REPLCONF listening-port ─► REPLCONF capa eof capa psync2
//!    ▲        ─► PSYNC <cached replid> <offset+1> | PSYNC ? -1
//!    │              ├─ +CONTINUE [replid] ─────────────────────────────┐
//!    │              └─ +FULLRESYNC replid offset ─► snapshot ($len or   │
//!    │                 $EOF:mark) ─► FLUSHALL + the keys as commands ──┤
//!    │                                                                 ▼
//!    └──── link lost: cache (replid, offset), retry after 1 s ◄── stream: each complete command
//!                                                                  is applied; REPLCONF GETACK
//!                                                                  is answered; ACK every second
//! ```
//!
//! The link applies what it receives through a connection of the server's own (one end of a
//! socketpair adopted by worker 0 and flagged as the master), so the master's commands run
//! with the same routing, locks and atomicity as any client's, and may write on a read-only
//! replica. Nothing received is trusted: lengths are checked before they are used, a
//! malformed stream or snapshot drops the link (logged) and the next attempt starts over.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::persist::aof::read::{Commands, ReadError};
use crate::repl::feed::Feed;
use crate::repl::propagate::encode;
use crate::runtime::clock::unix_ms;
use crate::server::log;

/// A snapshot larger than this is refused (it is read into memory before it is applied).
const SNAPSHOT_BYTES_MAX: u64 = 16 << 30;
/// Memory reserved for a length-framed snapshot before its bytes arrive (it grows past this
/// as they do).
const SNAPSHOT_RESERVE_BYTES_MAX: u64 = 64 << 20;
/// One command of the stream may not be larger than this (Redis's proto-max-bulk-len default
/// is 512 MiB per argument).
const STREAM_COMMAND_BYTES_MAX: usize = 1 << 30;
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How often the link looks whether its snapshot has finished loading.
const LOAD_POLL: Duration = Duration::from_millis(5);

/// Where to connect and how to present ourselves.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    pub host: String,
    pub port: u16,
    pub auth: Option<(Option<String>, Vec<u8>)>,
    pub listening_port: u16,
    pub backlog_bytes: usize,
    /// `repl-diskless-load disabled` (the default): a full sync's snapshot is written to this
    /// file (`dbfilename`, crash-safe) before it is loaded, as Redis does; None for the
    /// diskless forms (`on-empty-db`, `swapdb`), which load it from memory.
    pub disk_load: Option<String>,
    /// `repl-timeout`: a quiet master (no data, no PING) for this long is a lost link.
    pub timeout: Duration,
}

/// What INFO replication and ROLE show on a replica; shared with the link thread.
#[derive(Default)]
pub struct LinkStatus {
    pub up: AtomicBool,
    pub syncing: AtomicBool,
    /// Bytes of the master's stream taken from the link (handed to our own connection), and
    /// the master's replid: where a later PSYNC continues.
    pub offset: AtomicU64,
    /// The stream offset our own connection has applied (`REPLCONF ringkv-applied`, which
    /// follows every batch the link hands over): what ACKs report, so a WAIT on the master
    /// returns only once a read here sees the write.
    pub applied: AtomicU64,
    /// Which link this is (markers from an earlier link's connection are ignored).
    pub link_id: u64,
    pub replid: Mutex<String>,
    /// The history the master's current one continues (replid2, second_repl_offset), when
    /// this link has learned it: a +CONTINUE naming a new ID moves the old one here, a full
    /// sync clears it, as Redis's replica does. None: our own ids still stand.
    pub past: Mutex<Option<(String, i64)>>,
    pub last_io_ms: AtomicU64,
    pub down_since_ms: AtomicU64,
    stop: AtomicBool,
    /// Full-sync loads our own connection finished (`REPLCONF ringkv-load-rdb`, loaded or
    /// failed): the link waits for the count to move before it calls the sync finished.
    pub loads_done: AtomicU64,
    /// `REPLCONF ringkv-new-history` markers our connection handled: its replicas are marked
    /// killed (and send nothing more) once this moves.
    pub history_marks: AtomicU64,
    /// The last of those loads failed (the link drops and syncs again).
    pub load_failed: AtomicBool,
    /// Drop the connection to the master and reconnect (CLIENT KILL TYPE master).
    pub drop_link: AtomicBool,
    /// A checked full-sync snapshot handed to our own connection (`REPLCONF ringkv-load-rdb`
    /// takes it).
    pub snapshot: Mutex<Option<Vec<u8>>>,
    /// The connection to the master while there is one, so that `stop` can shut it and wake
    /// a read blocked in the handshake or the transfer at once.
    socket: Mutex<Option<TcpStream>>,
    /// Held by the link while it hands a batch (or a snapshot) to our connection and puts it in
    /// our backlog; it looks at `stop` and the pause first, under the lock. So once the link is
    /// paused and the lock was seen free, nothing more reaches our connection until the pause
    /// ends (see `Link::drained`).
    handover: Mutex<()>,
    /// Unix ms until which the link hands nothing over (it keeps reading from the master):
    /// a REPLICAOF NO ONE draining it. The pause ends by itself, so a promotion that never
    /// happens (its client left, its EXEC was aborted by WATCH) leaves the link running.
    pause_until_ms: AtomicU64,
    /// Snapshots handed to our connection (`loads_done` catches up once it loaded them).
    loads_sent: AtomicU64,
    /// A snapshot was handed over since the last `+FULLRESYNC`: the dataset is (or is about to
    /// be) the new master's, whatever the offsets still say.
    pub replaced: AtomicBool,
    /// Unix ms until which a promotion that waited for this link to drain (or gave up
    /// waiting) may go on without waiting again.
    pub promotion_ready_until_ms: AtomicU64,
}

impl LinkStatus {
    /// The link hands nothing over (stopped, or paused by a promotion waiting for it to
    /// drain).
    pub fn paused(&self) -> bool {
        self.stop.load(Ordering::Acquire) || self.pause_until_ms.load(Ordering::Acquire) > unix_ms()
    }
}

/// A running link; dropping the handle does not stop it, `stop` does.
pub struct Link {
    pub config: LinkConfig,
    pub status: Arc<LinkStatus>,
}

impl Link {
    /// Starts the link thread. `apply` is our end of the socketpair the server adopted.
    pub fn start(
        config: LinkConfig,
        apply: RawFd,
        cached: Option<(String, u64)>,
        past: Option<(String, i64)>,
        feed: Arc<Feed>,
    ) -> Link {
        static LINKS: AtomicU64 = AtomicU64::new(1);
        let status = Arc::new(LinkStatus {
            link_id: LINKS.fetch_add(1, Ordering::Relaxed),
            ..LinkStatus::default()
        });
        status.down_since_ms.store(unix_ms(), Ordering::Relaxed);
        if let Some((id, off)) = &cached {
            *status.replid.lock().unwrap_or_else(|e| e.into_inner()) = id.clone();
            status.offset.store(*off, Ordering::Relaxed);
            status.applied.store(*off, Ordering::Relaxed);
        }
        *status.past.lock().unwrap_or_else(|e| e.into_inner()) = past;
        // SAFETY: `apply` is a fresh socketpair end that nothing else owns or closes.
        let apply = unsafe { std::os::unix::net::UnixStream::from_raw_fd(apply) };
        let (c, s) = (config.clone(), status.clone());
        let spawned = std::thread::Builder::new()
            .name("ringkv-repl".into())
            .spawn(move || run(c, s, apply, cached.is_some(), &feed));
        if let Err(e) = spawned {
            log::warning(&format!("Can't start the replication thread: {e}"));
        }
        Link { config, status }
    }

    pub fn stop(&self) {
        self.status.stop.store(true, Ordering::Release);
        let socket = self
            .status
            .socket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(s) = socket {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// (replid, offset) to continue from later (the cached master).
    pub fn cached(&self) -> (String, u64) {
        let s = &self.status;
        (
            s.replid.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            s.offset.load(Ordering::Acquire),
        )
    }

    /// (master replid, offset) when the dataset is exactly the master's stream up to that
    /// offset: the link is up, not in the middle of a hand-over (it holds the hand-over lock
    /// from writing a batch until it is in our backlog), and our connection has applied all it
    /// was handed. The caller holds every shard (or the workers are stopped), so nothing is
    /// applied meanwhile.
    pub fn consistent_point(&self) -> Option<(String, u64)> {
        let s = &self.status;
        let _handover = s.handover.try_lock().ok()?;
        if !s.up.load(Ordering::Acquire) {
            return None;
        }
        let offset = s.offset.load(Ordering::Acquire);
        let id = s.replid.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (s.applied.load(Ordering::Acquire) == offset && id.len() == 40).then_some((id, offset))
    }

    /// Hands nothing more to our connection until `until_ms` (Unix ms), reading on meanwhile.
    pub fn pause(&self, until_ms: u64) {
        self.status
            .pause_until_ms
            .store(until_ms, Ordering::Release);
    }

    /// A paused link whose every handed-over byte our connection has applied: nothing of the
    /// old master's stream can run any more (what REPLICAOF NO ONE waits for before it
    /// answers).
    pub fn drained(&self) -> bool {
        let s = &self.status;
        // Not in the middle of a hand-over, and (paused) none until the pause ends.
        let idle = s.paused() && s.handover.try_lock().is_ok();
        idle && s.applied.load(Ordering::Acquire) >= s.offset.load(Ordering::Acquire)
            && s.loads_done.load(Ordering::Acquire) >= s.loads_sent.load(Ordering::Acquire)
    }

    /// The master's past history this link learned (see `LinkStatus::past`).
    pub fn past(&self) -> Option<(String, i64)> {
        self.status
            .past
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn run(
    config: LinkConfig,
    status: Arc<LinkStatus>,
    mut apply: std::os::unix::net::UnixStream,
    mut have_cache: bool,
    feed: &Feed,
) {
    log::notice(&format!(
        "Connecting to MASTER {}:{}",
        config.host, config.port
    ));
    while !status.stop.load(Ordering::Acquire) {
        log::notice("MASTER <-> REPLICA sync started");
        let ended = session(&config, &status, &mut apply, have_cache, feed);
        *status.socket.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match ended {
            Ok(()) => {}
            // A stopped link's connection was shut on purpose: nothing to report.
            Err(_) if status.stop.load(Ordering::Acquire) => {}
            Err(e) => log::warning(&e),
        }
        if status.up.swap(false, Ordering::AcqRel) {
            log::notice("Connection with master lost.");
            log::notice("Caching the disconnected master state.");
            status.down_since_ms.store(unix_ms(), Ordering::Relaxed);
        }
        status.syncing.store(false, Ordering::Release);
        have_cache = !status
            .replid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        if status.stop.load(Ordering::Acquire) {
            break;
        }
        std::thread::sleep(RETRY_DELAY);
        log::notice(&format!(
            "Reconnecting to MASTER {}:{}",
            config.host, config.port
        ));
    }
}

/// One connection to the master, until it fails or the link is stopped.
fn session(
    config: &LinkConfig,
    status: &LinkStatus,
    apply: &mut std::os::unix::net::UnixStream,
    have_cache: bool,
    feed: &Feed,
) -> Result<(), String> {
    let stream = TcpStream::connect((config.host.as_str(), config.port))
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    log::notice("Non blocking connect for SYNC fired the event.");
    {
        let mut socket = status.socket.lock().unwrap_or_else(|e| e.into_inner());
        if status.stop.load(Ordering::Acquire) {
            return Err("The link was stopped".into());
        }
        *socket = stream.try_clone().ok();
    }
    // `repl-timeout` bounds every wait for the master: handshake replies and the snapshot's
    // bytes (a stopped master mid-transfer is given up on, as Redis does).
    stream.set_read_timeout(Some(config.timeout)).ok();
    stream.set_nodelay(true).ok();
    let mut out = stream.try_clone().map_err(|e| e.to_string())?;
    let mut rd = BufReader::with_capacity(64 * 1024, stream);
    let mut ask = |rd: &mut BufReader<TcpStream>, args: &[&[u8]]| -> Result<String, String> {
        out.write_all(&encode(args)).map_err(|e| e.to_string())?;
        read_line(rd)
    };
    let pong = ask(&mut rd, &[b"PING"])?;
    if !(pong.starts_with("+") || pong.starts_with("-NOAUTH") || pong.starts_with("-NOPERM")) {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    log::notice("Master replied to PING, replication can continue...");
    if let Some((user, pass)) = &config.auth {
        let reply = match user {
            Some(u) => ask(&mut rd, &[b"AUTH", u.as_bytes(), pass])?,
            None => ask(&mut rd, &[b"AUTH", pass])?,
        };
        if !reply.starts_with('+') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    let port = config.listening_port.to_string();
    let r = ask(&mut rd, &[b"REPLCONF", b"listening-port", port.as_bytes()])?;
    if !r.starts_with('+') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF listening-port: {r}"
        ));
    }
    let r = ask(&mut rd, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    if !r.starts_with('+') {
        log::notice(&format!(
            "(Non critical) Master does not understand REPLCONF capa: {r}"
        ));
    }
    let (replid, offset) = {
        let id = status
            .replid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (id, status.offset.load(Ordering::Acquire))
    };
    let reply = if have_cache && !replid.is_empty() {
        log::notice(&format!(
            "Trying a partial resynchronization (request {replid}:{}).",
            offset + 1
        ));
        let off = (offset + 1).to_string();
        ask(&mut rd, &[b"PSYNC", replid.as_bytes(), off.as_bytes()])?
    } else {
        log::notice("Partial resynchronization not possible (no cached master)");
        ask(&mut rd, &[b"PSYNC", b"?", b"-1"])?
    };
    status.syncing.store(true, Ordering::Release);
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let (Some(id), Some(off)) = (
            parts.next(),
            parts.next().and_then(|o| o.parse::<u64>().ok()),
        ) else {
            return Err(format!("Bad FULLRESYNC reply from master: '{reply}'"));
        };
        log::notice(&format!("Full resync from master: {id}:{off}"));
        // The cached master is gone from here on, as in Redis: should this transfer or its
        // load fail (a failed load empties the dataset), the next attempt must not continue
        // partially from the old offset.
        *status.replid.lock().unwrap_or_else(|e| e.into_inner()) = String::new();
        *status.past.lock().unwrap_or_else(|e| e.into_inner()) = None;
        status.replaced.store(false, Ordering::Release);
        let to = if config.disk_load.is_some() {
            "to disk"
        } else {
            "to parser"
        };
        let rdb = match &config.disk_load {
            None => {
                let (rdb, crc) = receive_snapshot(&mut rd, to, None)?;
                check_envelope(&rdb, crc).map_err(|e| {
                    format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
                })?;
                rdb
            }
            Some(file) => receive_to_disk(&mut rd, to, file)?,
        };
        let loads_before = status.loads_done.load(Ordering::Acquire);
        load_snapshot(rdb, status, apply)?;
        // The load runs on the thread of our own connection; until it ends the replica is
        // loading (its clients get -LOADING) and the link is not up, as in Redis.
        let mut newline_at = Instant::now() + Duration::from_secs(1);
        while status.loads_done.load(Ordering::Acquire) == loads_before {
            if status.stop.load(Ordering::Acquire) || apply_broken(apply) {
                return Err("The link stopped while the snapshot was loading".into());
            }
            // A newline a second tells the master we are alive, as a loading Redis replica
            // does, so a long load does not look like a dead replica.
            if Instant::now() >= newline_at {
                newline_at += Duration::from_secs(1);
                out.write_all(b"\n").map_err(transfer_error)?;
            }
            std::thread::sleep(LOAD_POLL);
        }
        if status.load_failed.load(Ordering::Acquire) {
            return Err("Failed trying to load the MASTER synchronization DB".into());
        }
        // Under the hand-over lock: a promotion deciding meanwhile must not find our backlog
        // restarted under it (it promotes the loaded dataset as a new history instead).
        let _handover = handover_when_running(status)?;
        *status.replid.lock().unwrap_or_else(|e| e.into_inner()) = id.to_string();
        // A new dataset has no past history to offer (Redis clears replid2 here too).
        *status.past.lock().unwrap_or_else(|e| e.into_inner()) = Some(("0".repeat(40), -1));
        status.offset.store(off, Ordering::Release);
        status.applied.store(off, Ordering::Release);
        // Our own replicas continue from the master's history: same offsets, same bytes.
        feed.restart_at(off, config.backlog_bytes);
        log::notice("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        // An ID is 40 characters; anything else is ignored, as Redis does.
        let new_id = rest.trim();
        if new_id.len() == 40 && new_id != replid {
            log::notice(&format!("Master replication ID changed to {new_id}"));
            // The old ID stays valid up to here, so our own replicas (still on it) continue.
            let second_offset = status.offset.load(Ordering::Acquire) as i64 + 1;
            *status.past.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((replid.to_string(), second_offset));
            *status.replid.lock().unwrap_or_else(|e| e.into_inner()) = new_id.to_string();
            // Before any of the new stream reaches our backlog, our connection drops our own
            // replicas (and they stop reading it), so none is sent a byte of the new history
            // under the old ID: they come back, continue on the old ID up to its end, and
            // learn the new one.
            let marks_before = status.history_marks.load(Ordering::Acquire);
            apply
                .write_all(&encode(&[b"REPLCONF", b"ringkv-new-history"]))
                .map_err(|e| format!("Can't apply the master's stream: {e}"))?;
            while status.history_marks.load(Ordering::Acquire) == marks_before {
                if status.stop.load(Ordering::Acquire) || apply_broken(apply) {
                    return Err("The link stopped while its replicas were dropped".into());
                }
                std::thread::sleep(LOAD_POLL);
            }
        }
        log::notice("Successful partial resynchronization with master.");
        log::notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    status.syncing.store(false, Ordering::Release);
    status.up.store(true, Ordering::Release);
    status.last_io_ms.store(unix_ms(), Ordering::Relaxed);
    stream_loop(&mut rd, &mut out, status, apply, feed, config.timeout)
}

/// The command stream: apply each complete command, answer GETACK, ACK every second.
fn stream_loop(
    rd: &mut BufReader<TcpStream>,
    out: &mut TcpStream,
    status: &LinkStatus,
    apply: &mut std::os::unix::net::UnixStream,
    feed: &Feed,
    timeout: Duration,
) -> Result<(), String> {
    let ack = |out: &mut TcpStream, off: u64| {
        let o = off.to_string();
        out.write_all(&encode(&[b"REPLCONF", b"ACK", o.as_bytes()]))
            .map_err(|e| e.to_string())
    };
    ack(out, status.applied.load(Ordering::Acquire))?;
    // A GETACK waiting for our connection to apply what preceded it (the offset it needs).
    let mut owed: Option<u64> = None;
    let set_timeout = |rd: &BufReader<TcpStream>, owed: bool| {
        let wait = Duration::from_millis(if owed { 1 } else { 200 });
        rd.get_ref().set_read_timeout(Some(wait)).ok();
    };
    set_timeout(rd, false);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_ack = Instant::now();
    let mut last_data = Instant::now();
    while !status.stop.load(Ordering::Acquire) {
        if status.drop_link.swap(false, Ordering::AcqRel) {
            return Err("Connection with master killed by CLIENT KILL".into());
        }
        match rd.read(&mut buf) {
            Ok(0) => return Err("Connection with master lost (closed)".into()),
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                last_data = Instant::now();
                status.last_io_ms.store(unix_ms(), Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("Connection with master lost: {e}")),
        }
        let was_owed = owed.is_some();
        let handover = status.handover.lock().unwrap_or_else(|e| e.into_inner());
        if status.stop.load(Ordering::Acquire) {
            break;
        }
        // Paused by a promotion: keep what arrives for later (or for nobody, if it happens).
        let (used, bad) = if status.paused() {
            (0, None)
        } else {
            apply_commands(&pending, status, apply, &mut owed).inspect_err(|_| {
                if apply_broken(apply) {
                    // Our side of the link is gone: what was counted may not have been applied.
                    status.stop.store(true, Ordering::Release);
                    log::warning("The replication link's connection inside this server was closed: stopping the link (run REPLICAOF again)");
                }
            })?
        };
        // Our backlog holds the master's stream verbatim (for cascading replicas and PSYNC2).
        feed.append_raw(&pending[..used]);
        drop(handover);
        pending.drain(..used);
        if let Some(e) = bad {
            // The good commands before the bad one were applied and are in our backlog; the
            // link drops here and the next PSYNC asks for what follows them.
            return Err(e);
        }
        if pending.len() > STREAM_COMMAND_BYTES_MAX {
            return Err("Protocol error from master: a command larger than the limit".into());
        }
        let applied = status.applied.load(Ordering::Acquire);
        if owed.is_some_and(|need| applied >= need) || last_ack.elapsed() >= Duration::from_secs(1)
        {
            ack(out, applied)?;
            last_ack = Instant::now();
            if owed.is_some_and(|need| applied >= need) {
                owed = None;
            }
        }
        if was_owed != owed.is_some() {
            set_timeout(rd, owed.is_some());
        }
        if last_data.elapsed() > timeout {
            return Err("MASTER timeout: no data nor PING received...".into());
        }
    }
    Ok(())
}

/// Hands the complete commands at the start of `bytes` to our connection, followed by the
/// marker that tells it the stream offset once they ran; returns how many bytes they used and,
/// if a malformed command stopped the walk, the protocol error (the good commands before it
/// are applied all the same, as Redis applies them). A GETACK among them becomes `owed`:
/// answered once that marker's predecessors are applied.
fn apply_commands(
    bytes: &[u8],
    status: &LinkStatus,
    apply: &mut std::os::unix::net::UnixStream,
    owed: &mut Option<u64>,
) -> Result<(usize, Option<String>), String> {
    let mut cmds = Commands::new(bytes);
    let mut batch = Vec::new();
    let mut used = 0;
    let mut bad = None;
    loop {
        let start = cmds.offset();
        match cmds.next_command() {
            None => break,
            Some(Err(ReadError::Truncated { .. })) => break,
            Some(Err(ReadError::Bad { offset, reason })) => {
                bad = Some(format!(
                    "Protocol error from master at stream offset {}: {reason}",
                    status.offset.load(Ordering::Acquire) + (offset - start) as u64
                ));
                break;
            }
            Some(Ok(args)) => {
                let len = cmds.offset() - start;
                let is = |name: &str| args[0].eq_ignore_ascii_case(name.as_bytes());
                if is("replconf") && args.len() >= 2 && args[1].eq_ignore_ascii_case(b"getack") {
                    // Answered with what was applied before it, once it is.
                    owed.get_or_insert(status.offset.load(Ordering::Acquire));
                } else if is("replconf")
                    && args.len() >= 2
                    && args[1].len() >= 7
                    && args[1][..7].eq_ignore_ascii_case(b"ringkv-")
                {
                    // Our link's own bookkeeping is ours to send: a master cannot inject it.
                } else if !is("ping") {
                    batch.extend_from_slice(&bytes[start..start + len]);
                }
                status.offset.fetch_add(len as u64, Ordering::AcqRel);
                used = cmds.offset();
            }
        }
    }
    if used > 0 {
        let offset = status.offset.load(Ordering::Acquire).to_string();
        let link = status.link_id.to_string();
        batch.extend_from_slice(&encode(&[
            b"REPLCONF",
            b"ringkv-applied",
            offset.as_bytes(),
            link.as_bytes(),
        ]));
    }
    apply
        .write_all(&batch)
        .map_err(|e| format!("Can't apply the master's stream: {e}"))?;
    Ok((used, bad))
}

/// Reads one CRLF-terminated line (newlines a master sends to keep the link alive are skipped).
fn read_line(rd: &mut BufReader<TcpStream>) -> Result<String, String> {
    for _ in 0..1_000_000 {
        let mut line = Vec::new();
        let n = rd
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("Error reading from MASTER: {e}"))?;
        if n == 0 {
            return Err("Master closed the connection".into());
        }
        if line == b"\n" {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    Err("Master sent only newlines".into())
}

/// The snapshot after +FULLRESYNC: `$<len>\r\n<bytes>` or `$EOF:<40 bytes>\r\n<bytes><mark>`.
/// A failed read of the snapshot: Redis's timeout text when `repl-timeout` passed without a
/// byte, else the I/O error.
fn transfer_error(e: std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "Timeout receiving bulk data from MASTER... If the problem persists try to set the \
             'repl-timeout' parameter in redis.conf to a larger value."
                .into()
        }
        _ => format!("I/O error trying to sync with MASTER: {e}"),
    }
}

/// `repl-diskless-load disabled`: the snapshot lands in `file` (through a temp file written as
/// the bytes arrive, fsynced and renamed once its envelope checks out) and in memory.
fn receive_to_disk(rd: &mut BufReader<TcpStream>, to: &str, file: &str) -> Result<Vec<u8>, String> {
    let temp = format!("temp-{}.{}.rdb", unix_ms() / 1000, std::process::id());
    let f = std::fs::File::create(&temp).map_err(|e| {
        format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
    })?;
    let result = (|| {
        let (rdb, crc) = receive_snapshot(rd, to, Some(f))?;
        check_envelope(&rdb, crc).map_err(|e| {
            format!("Failed trying to load the MASTER synchronization DB from disk: {e}")
        })?;
        std::fs::rename(&temp, file)
            .and_then(|_| crate::persist::sync_parent_dir(file))
            .map_err(|e| {
                format!("Failed trying to rename the temp DB into {file} in MASTER <-> REPLICA synchronization: {e}")
            })?;
        Ok(rdb)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A snapshot as it arrives: kept in memory, its CRC-64 computed on the way over every byte
/// but the last `held_back` (the trailer, and the EOF mark), and written to `file` when given.
struct Incoming {
    data: Vec<u8>,
    held_back: usize,
    crc: u64,
    crc_at: usize,
    written: usize,
    file: Option<std::fs::File>,
}

impl Incoming {
    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.data.extend_from_slice(bytes);
        if self.data.len() as u64 > SNAPSHOT_BYTES_MAX {
            return Err("The master's snapshot is larger than this replica accepts".into());
        }
        let upto = self.data.len().saturating_sub(self.held_back);
        if upto > self.crc_at {
            self.crc = crate::persist::crc64::crc64(self.crc, &self.data[self.crc_at..upto]);
            self.crc_at = upto;
        }
        self.write_upto(
            self.data
                .len()
                .saturating_sub(self.held_back.saturating_sub(8)),
        )
    }

    fn write_upto(&mut self, upto: usize) -> Result<(), String> {
        if let Some(f) = self.file.as_mut() {
            if upto > self.written {
                f.write_all(&self.data[self.written..upto])
                    .map_err(|e| format!("Write error writing to the DB on disk: {e}"))?;
                self.written = upto;
            }
        }
        Ok(())
    }

    /// The snapshot (without the EOF mark) and the CRC-64 of all but its last 8 bytes.
    fn finish(mut self, mark_bytes: usize) -> Result<(Vec<u8>, u64), String> {
        let len = self.data.len() - mark_bytes;
        self.data.truncate(len);
        self.write_upto(len)?;
        if let Some(f) = self.file.take() {
            f.sync_all()
                .map_err(|e| format!("Failed trying to sync the temp DB to disk: {e}"))?;
        }
        let body = len.saturating_sub(8);
        if body > self.crc_at {
            self.crc = crate::persist::crc64::crc64(self.crc, &self.data[self.crc_at..body]);
        }
        // When the snapshot is shorter than its trailer the CRC covers less; the envelope
        // check refuses it for its length first.
        Ok((self.data, self.crc))
    }
}

/// `to` ends the log lines: "to disk" or "to parser" (`repl-diskless-load`), as in Redis.
/// Returns the snapshot and the CRC-64 of all but its last 8 bytes.
fn receive_snapshot(
    rd: &mut BufReader<TcpStream>,
    to: &str,
    file: Option<std::fs::File>,
) -> Result<(Vec<u8>, u64), String> {
    let incoming = |held_back| Incoming {
        data: Vec::new(),
        held_back,
        crc: 0,
        crc_at: 0,
        written: 0,
        file,
    };
    let head = read_line(rd)?;
    let Some(spec) = head.strip_prefix('$') else {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{head}'), are you sure the host and port are right?"));
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes();
        if mark.len() != 40 {
            return Err("Bad EOF mark from MASTER".into());
        }
        log::notice(&format!(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {to}"
        ));
        let mut got = incoming(8 + mark.len());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rd.read(&mut buf).map_err(transfer_error)?;
            if n == 0 {
                return Err("I/O error trying to sync with MASTER: connection lost".into());
            }
            got.push(&buf[..n])?;
            if got.data.ends_with(mark) {
                return got.finish(mark.len());
            }
        }
    }
    let len: u64 = spec
        .parse()
        .map_err(|_| format!("Bad snapshot length from MASTER: '{spec}'"))?;
    if len > SNAPSHOT_BYTES_MAX {
        return Err("The master's snapshot is larger than this replica accepts".into());
    }
    log::notice(&format!(
        "MASTER <-> REPLICA sync: receiving {len} bytes from master {to}"
    ));
    let mut got = incoming(8);
    // The length is the master's word: reserve at most this much before the bytes arrive.
    got.data
        .reserve(len.min(SNAPSHOT_RESERVE_BYTES_MAX) as usize);
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = rd.read(&mut buf[..want]).map_err(transfer_error)?;
        if n == 0 {
            return Err("I/O error trying to sync with MASTER: connection lost".into());
        }
        got.push(&buf[..n])?;
        left -= n as u64;
    }
    got.finish(0)
}

/// Replaces the dataset with the snapshot, whose envelope the caller checked (signature, EOF
/// and the CRC-64 of every byte), so a truncated or damaged transfer changes nothing: it is
/// handed to our own connection, which loads it while holding every shard (`REPLCONF
/// ringkv-load-rdb`, accepted only from this link). A snapshot that passes the checksum but
/// still fails to load leaves an empty dataset, never half of one.
fn load_snapshot(
    rdb: Vec<u8>,
    status: &LinkStatus,
    apply: &mut std::os::unix::net::UnixStream,
) -> Result<(), String> {
    let _handover = handover_when_running(status)?;
    log::notice("MASTER <-> REPLICA sync: Flushing old data");
    log::notice("MASTER <-> REPLICA sync: Loading DB in memory");
    *status.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some(rdb);
    status.loads_sent.fetch_add(1, Ordering::AcqRel);
    status.replaced.store(true, Ordering::Release);
    apply
        .write_all(&encode(&[b"REPLCONF", b"ringkv-load-rdb"]))
        .map_err(|e| format!("Can't apply the master's snapshot: {e}"))
}

/// The hand-over lock, once the link is not paused; an error once it is stopped. A promotion
/// pausing the link decides meanwhile: it happens (and stops the link) or not.
fn handover_when_running(status: &LinkStatus) -> Result<std::sync::MutexGuard<'_, ()>, String> {
    loop {
        let handover = status.handover.lock().unwrap_or_else(|e| e.into_inner());
        if status.stop.load(Ordering::Acquire) {
            return Err("The link was stopped".into());
        }
        if !status.paused() {
            return Ok(handover);
        }
        drop(handover);
        std::thread::sleep(LOAD_POLL);
    }
}

/// Whether our own end of the link was closed by the server.
fn apply_broken(apply: &std::os::unix::net::UnixStream) -> bool {
    apply.take_error().ok().flatten().is_some() || apply.peer_addr().is_err()
}

/// Signature, version, the EOF opcode and (when the master computed one) the CRC-64 trailer;
/// `body_crc` is the CRC-64 of all but the last 8 bytes (computed as they arrived).
fn check_envelope(rdb: &[u8], body_crc: u64) -> Result<(), String> {
    if rdb.len() < 10 || !rdb.starts_with(b"REDIS") {
        return Err("wrong signature trying to load DB from file".into());
    }
    let version: u32 = std::str::from_utf8(&rdb[5..9])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or("bad RDB version")?;
    if !(1..=11).contains(&version) {
        return Err(format!("Can't handle RDB format version {version}"));
    }
    if version < 5 {
        return if rdb.last() == Some(&0xff) {
            Ok(())
        } else {
            Err("no EOF opcode".into())
        };
    }
    if rdb.len() < 18 {
        return Err("short read".into());
    }
    let (body, trailer) = rdb.split_at(rdb.len() - 8);
    if body.last() != Some(&0xff) {
        return Err("no EOF opcode before the checksum (truncated?)".into());
    }
    let expected = u64::from_le_bytes(trailer.try_into().map_err(|_| "short read")?);
    if expected != 0 && body_crc != expected {
        return Err("wrong RDB checksum".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The check as the link makes it, the body's CRC computed as the bytes arrive.
    fn check_envelope(rdb: &[u8]) -> Result<(), String> {
        let body = rdb.len().saturating_sub(8);
        super::check_envelope(rdb, crate::persist::crc64::crc64(0, &rdb[..body]))
    }

    #[test]
    fn the_envelope_catches_truncation_and_damage() {
        let mut w = crate::persist::rdb::write::Writer::new(false);
        w.header(&[("redis-ver", "7.0.15".into())]);
        w.select_db(0, 1, 0);
        w.key_value(b"k", &crate::store::Value::from_bytes(b"v"), 0);
        let good = w.finish(true);
        assert!(check_envelope(&good).is_ok());
        for cut in [1, 8, 9, good.len() / 2] {
            assert!(
                check_envelope(&good[..good.len() - cut]).is_err(),
                "cut {cut}"
            );
        }
        let mut flipped = good.clone();
        flipped[12] ^= 1;
        assert!(check_envelope(&flipped).is_err());
        assert!(check_envelope(b"RADIS0010\xff00000000").is_err());
    }

    /// The CRC computed on the way, over reads of any size and with the EOF mark or the
    /// length framing, equals the CRC of the body; the file gets the snapshot, not the mark.
    #[test]
    fn incoming_computes_the_crc_as_bytes_arrive() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let path = std::env::temp_dir().join(format!("ringkv-incoming-{}", std::process::id()));
        for (mark, step) in [(0usize, 1usize), (0, 977), (40, 3), (40, 4096)] {
            let file = std::fs::File::create(&path).unwrap();
            let mut got = super::Incoming {
                data: Vec::new(),
                held_back: 8 + mark,
                crc: 0,
                crc_at: 0,
                written: 0,
                file: Some(file),
            };
            let mut sent = data.clone();
            sent.extend(std::iter::repeat_n(b'M', mark));
            for chunk in sent.chunks(step) {
                got.push(chunk).unwrap();
            }
            let (rdb, crc) = got.finish(mark).unwrap();
            assert_eq!(rdb, data);
            assert_eq!(
                crc,
                crate::persist::crc64::crc64(0, &data[..data.len() - 8])
            );
            assert_eq!(
                std::fs::read(&path).unwrap(),
                data,
                "mark {mark} step {step}"
            );
        }
        let _ = std::fs::remove_file(&path);
    }
}
