//! The append-only file: every propagated write appended to the current incremental file of
//! Redis 7's multi-part layout (`manifest.rs`), fsynced by `appendfsync`, and compacted by a
//! rewrite that writes a new base from a fork-free snapshot.
//!
//! Writing: the feed (`repl::feed`) buffers the stream; each event-loop thread, before it
//! submits its replies, calls `flush`, which moves the buffer into the file with `write(2)`.
//! So a reply never leaves before its write reached the kernel: a killed process loses no
//! acknowledged write. `always` also fsyncs there (group commit: one fsync covers every
//! thread's writes so far); `everysec` hands an fsync to a background thread at most once a
//! second; `no` leaves it to the kernel.
//!
//! Rewriting: with every shard held, `begin_rewrite` opens a new incremental file (the
//! manifest then names both), and the caller starts a snapshot into a temp file. When the
//! snapshot is complete, `end_rewrite` renames it into the new base and drops the old base
//! and the incremental files that the snapshot covers (history), in one manifest update.

pub mod manifest;
pub mod read;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::repl::feed::Feed;
use crate::runtime::clock::{mono_us, unix_ms};
use crate::server::log;
use manifest::{FileEntry, Kind, Manifest};

/// After a failed rewrite, automatic ones wait this long times the failures in a row.
const REWRITE_RETRY_US: u64 = 5_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Everysec,
    No,
}

impl Fsync {
    /// From the `appendfsync` value.
    pub fn parse(v: &str) -> Fsync {
        match v {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// What INFO persistence shows about the AOF.
pub struct AofStatus {
    pub enabled: AtomicBool,
    pub rewrite_in_progress: AtomicBool,
    /// A rewrite waits for the running background save (or was asked for by CONFIG SET).
    pub rewrite_scheduled: AtomicBool,
    pub rewrite_started_us: AtomicU64,
    pub last_rewrite_time_s: AtomicI64,
    pub last_bgrewrite_ok: AtomicBool,
    pub rewrites: AtomicU64,
    pub rewrites_failed_in_a_row: AtomicU64,
    pub last_write_ok: AtomicBool,
    pub last_cow_bytes: AtomicU64,
    /// Bytes of the base plus every incremental file, and of the base alone.
    pub current_bytes: AtomicU64,
    pub base_bytes: AtomicU64,
    pub delayed_fsyncs: AtomicU64,
    pub fsync_in_flight: Arc<AtomicBool>,
    /// The reason of the last failed write (for the MISCONF reply).
    last_write_error: Mutex<String>,
}

impl AofStatus {
    pub fn last_write_error(&self) -> String {
        self.last_write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Default for AofStatus {
    fn default() -> AofStatus {
        AofStatus {
            enabled: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            rewrite_started_us: AtomicU64::new(0),
            last_rewrite_time_s: AtomicI64::new(-1),
            last_bgrewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            rewrites_failed_in_a_row: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            last_cow_bytes: AtomicU64::new(0),
            current_bytes: AtomicU64::new(0),
            base_bytes: AtomicU64::new(0),
            delayed_fsyncs: AtomicU64::new(0),
            fsync_in_flight: Arc::new(AtomicBool::new(false)),
            last_write_error: Mutex::new(String::new()),
        }
    }
}

#[derive(Default)]
pub struct Aof {
    pub status: AofStatus,
    files: Mutex<Option<Files>>,
    /// `aof-use-rdb-preamble`, as of the rewrite being prepared (its base's file suffix).
    pub rdb_preamble: AtomicBool,
}

/// The open AOF: where it lives, what the manifest says, the incremental file being appended.
struct Files {
    /// `appenddirname`, relative to `dir` (the working directory).
    dir: String,
    /// `appendfilename`, the prefix of every file name.
    prefix: String,
    manifest: Manifest,
    incr: File,
    policy: Fsync,
    /// Bytes taken from the feed that a failed write left unwritten (retried first).
    unwritten: Vec<u8>,
    /// Scratch buffer the feed's bytes are swapped into.
    scratch: Vec<u8>,
    last_fsync_ms: u64,
    /// While a rewrite runs: how many incremental files it covers (those before the one
    /// `begin_rewrite` opened), and the base it writes.
    rewrite_covers: Option<usize>,
    rewrite_base: Option<FileEntry>,
    /// The manifest on disk is not this one yet: the AOF was switched on at run time and
    /// has no base until its first rewrite completes.
    awaiting_first_base: bool,
    fsyncer: mpsc::Sender<File>,
}

/// The temp file a rewrite's snapshot is written to (in the working directory, as Redis does).
pub fn rewrite_temp_name() -> String {
    format!("temp-rewriteaof-bg-{}.aof", std::process::id())
}

impl Aof {
    pub fn is_on(&self) -> bool {
        self.status.enabled.load(Ordering::Acquire)
    }

    /// Opens an existing AOF (after it was loaded) for appending to its last incremental file,
    /// creating one if the manifest has none. Starts the feed's AOF buffer.
    pub fn open(
        &self,
        dir: &str,
        prefix: &str,
        mut manifest: Manifest,
        policy: Fsync,
        feed: &Feed,
    ) -> Result<(), String> {
        let incr = match manifest.incrs.last() {
            Some(last) => {
                log::notice(&format!(
                    "Opening AOF incr file {} on server start",
                    last.name
                ));
                open_append(&path(dir, &last.name))?
            }
            None => {
                let (_, seq) = manifest.seqs();
                let (entry, file) = create_incr(dir, prefix, seq + 1)?;
                log::notice(&format!(
                    "Creating AOF incr file {} on server start",
                    entry.name
                ));
                manifest.incrs.push(entry);
                write_manifest(dir, prefix, &manifest)?;
                file
            }
        };
        self.install(dir, prefix, manifest, incr, policy, feed);
        Ok(())
    }

    /// Creates a new AOF from `base` (an RDB of the current dataset with the aof-base flag, or
    /// the commands that recreate it):
    /// the base file, an empty incremental file, the manifest. Used when the AOF is switched on
    /// and no AOF exists yet.
    pub fn create(
        &self,
        dir: &str,
        prefix: &str,
        base: &[u8],
        policy: Fsync,
        feed: &Feed,
        when: &str,
    ) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("Can't open or create append-only dir {dir}: {e}"))?;
        let suffix = if base.starts_with(b"REDIS") {
            "rdb"
        } else {
            "aof"
        };
        let base_entry = FileEntry {
            name: format!("{prefix}.1.base.{suffix}"),
            seq: 1,
            kind: Kind::Base,
        };
        write_durably(&path(dir, &base_entry.name), base)?;
        log::notice(&format!(
            "Creating AOF base file {} {when}",
            base_entry.name
        ));
        let (incr_entry, incr) = create_incr(dir, prefix, 1)?;
        log::notice(&format!(
            "Creating AOF incr file {} {when}",
            incr_entry.name
        ));
        let manifest = Manifest {
            base: Some(base_entry),
            incrs: vec![incr_entry],
            history: vec![],
        };
        write_manifest(dir, prefix, &manifest)?;
        self.install(dir, prefix, manifest, incr, policy, feed);
        Ok(())
    }

    fn install(
        &self,
        dir: &str,
        prefix: &str,
        manifest: Manifest,
        incr: File,
        policy: Fsync,
        feed: &Feed,
    ) {
        let (base_bytes, total) = sizes(dir, &manifest);
        self.status.base_bytes.store(base_bytes, Ordering::Relaxed);
        self.status.current_bytes.store(total, Ordering::Relaxed);
        let fsyncer = spawn_fsyncer(self.status.fsync_in_flight.clone());
        *self.lock() = Some(Files {
            dir: dir.to_string(),
            prefix: prefix.to_string(),
            manifest,
            incr,
            policy,
            unwritten: Vec::new(),
            scratch: Vec::new(),
            last_fsync_ms: unix_ms(),
            rewrite_covers: None,
            rewrite_base: None,
            awaiting_first_base: false,
            fsyncer,
        });
        self.status.enabled.store(true, Ordering::Release);
        feed.set_aof(true);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Files>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes what the feed buffered to the incremental file, fsyncing by the policy. Called by
    /// every event-loop thread before it sends replies, and by cron.
    pub fn flush(&self, feed: &Feed) {
        let mut guard = self.lock();
        let Some(f) = guard.as_mut() else {
            return;
        };
        let mut took = std::mem::take(&mut f.scratch);
        took.clear();
        feed.take_aof(&mut took);
        if !f.unwritten.is_empty() {
            f.unwritten.extend_from_slice(&took);
            std::mem::swap(&mut f.unwritten, &mut took);
            f.unwritten.clear();
        }
        if !took.is_empty() {
            match f.incr.write_all(&took) {
                Ok(()) => {
                    self.status
                        .current_bytes
                        .fetch_add(took.len() as u64, Ordering::Relaxed);
                    if !self.status.last_write_ok.swap(true, Ordering::Relaxed) {
                        log::warning("AOF write error looks solved. Redis can write again.");
                    }
                }
                Err(e) => {
                    // Kept and retried; writes are refused meanwhile (MISCONF), as in Redis.
                    if self.status.last_write_ok.swap(false, Ordering::Relaxed) {
                        log::warning(&format!("Error writing to the AOF file: {e}"));
                    }
                    *self
                        .status
                        .last_write_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = crate::config::io_error_text(&e);
                    f.unwritten = took;
                    return;
                }
            }
        }
        took.clear();
        f.scratch = took;
        self.fsync_by_policy(f);
    }

    fn fsync_by_policy(&self, f: &mut Files) {
        let now_ms = unix_ms();
        match f.policy {
            Fsync::No => {}
            Fsync::Always => {
                if let Err(e) = f.incr.sync_data() {
                    log::warning(&format!(
                        "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
                    ));
                    std::process::exit(1);
                }
                f.last_fsync_ms = now_ms;
            }
            Fsync::Everysec if now_ms.saturating_sub(f.last_fsync_ms) >= 1000 => {
                if self.status.fsync_in_flight.load(Ordering::Acquire) {
                    self.status.delayed_fsyncs.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if let Ok(dup) = f.incr.try_clone() {
                    self.status.fsync_in_flight.store(true, Ordering::Release);
                    if f.fsyncer.send(dup).is_err() {
                        self.status.fsync_in_flight.store(false, Ordering::Release);
                    }
                }
                f.last_fsync_ms = now_ms;
            }
            Fsync::Everysec => {}
        }
    }

    /// Changes the fsync policy (CONFIG SET appendfsync).
    pub fn set_policy(&self, policy: Fsync) {
        if let Some(f) = self.lock().as_mut() {
            f.policy = policy;
        }
    }

    /// Flushes, fsyncs and closes the AOF (CONFIG SET appendonly no, shutdown).
    pub fn close(&self, feed: &Feed) {
        self.flush(feed);
        feed.set_aof(false);
        if let Some(f) = self.lock().take() {
            let _ = f.incr.sync_all();
        }
        self.status.enabled.store(false, Ordering::Release);
    }

    /// Whether auto-rewrite thresholds are crossed: the AOF grew by `percent` over its base
    /// and is at least `min_bytes`.
    pub fn wants_rewrite(&self, percent: u64, min_bytes: u64) -> bool {
        if percent == 0 || !self.is_on() || self.status.rewrite_in_progress.load(Ordering::Acquire)
        {
            return false;
        }
        let failures = self.status.rewrites_failed_in_a_row.load(Ordering::Relaxed);
        let since_us = mono_us() - self.status.rewrite_started_us.load(Ordering::Relaxed);
        if failures > 0 && since_us < REWRITE_RETRY_US * failures.min(60) {
            return false; // back off after failures instead of retrying every tick
        }
        let cur = self.status.current_bytes.load(Ordering::Relaxed);
        let base = self.status.base_bytes.load(Ordering::Relaxed).max(1);
        cur >= min_bytes && cur.saturating_sub(base) * 100 / base >= percent
    }

    /// With every shard held, the AOF off but configured on (CONFIG SET appendonly yes):
    /// opens a new incremental file that receives writes from now on, while the rewrite about
    /// to start writes the first base. The manifest on disk changes only when that base is
    /// complete, so a crash before leaves no AOF that lacks the data before the switch.
    /// Returns the path the base is written to.
    pub fn enable_for_rewrite(
        &self,
        dir: &str,
        prefix: &str,
        policy: Fsync,
        feed: &Feed,
    ) -> Result<String, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("Can't open or create append-only dir {dir}: {e}"))?;
        let old = read_manifest(dir, prefix)
            .ok()
            .flatten()
            .unwrap_or_default();
        let (_, seq) = old.seqs();
        let (entry, incr) = create_incr(dir, prefix, seq + 1)?;
        let mut manifest = old;
        manifest.incrs.push(entry);
        self.install(dir, prefix, manifest, incr, policy, feed);
        if let Some(f) = self.lock().as_mut() {
            f.awaiting_first_base = true;
        }
        self.prepare_rewrite(feed)
    }

    /// With every shard held: flushes, opens the next incremental file and records it in the
    /// manifest, so the snapshot about to start covers everything before it. Returns the path
    /// the new base is written to.
    pub fn begin_rewrite(&self, feed: &Feed) -> Result<String, String> {
        self.flush(feed);
        {
            let mut guard = self.lock();
            let f = guard.as_mut().ok_or("the AOF is off")?;
            let (_, seq) = f.manifest.seqs();
            let (entry, file) = create_incr(&f.dir, &f.prefix, seq + 1)?;
            let mut next = f.manifest.clone();
            next.incrs.push(entry.clone());
            if !f.awaiting_first_base {
                write_manifest(&f.dir, &f.prefix, &next)?;
            }
            let _ = f.incr.sync_data();
            f.incr = file;
            f.manifest = next;
            log::notice(&format!(
                "Creating AOF incr file {} on background rewrite",
                entry.name
            ));
        }
        self.prepare_rewrite(feed)
    }

    /// The rewrite covers every incremental file but the last (just opened); its base gets the
    /// next base sequence number.
    fn prepare_rewrite(&self, feed: &Feed) -> Result<String, String> {
        let mut guard = self.lock();
        let f = guard.as_mut().ok_or("the AOF is off")?;
        let (base_seq, _) = f.manifest.seqs();
        let suffix = if self.rdb_preamble.load(Ordering::Relaxed) {
            "rdb"
        } else {
            "aof"
        };
        let base = FileEntry {
            name: format!("{}.{}.base.{suffix}", f.prefix, base_seq + 1),
            seq: base_seq + 1,
            kind: Kind::Base,
        };
        let target = path(&f.dir, &base.name);
        f.rewrite_covers = Some(f.manifest.incrs.len() - 1);
        f.rewrite_base = Some(base);
        drop(guard);
        // The new file starts with its own SELECT.
        feed.force_select();
        let s = &self.status;
        s.rewrite_in_progress.store(true, Ordering::Release);
        s.rewrite_started_us.store(mono_us(), Ordering::Relaxed);
        log::notice("Background append only file rewriting started");
        Ok(target)
    }

    /// The rewrite's snapshot (`rewrite_temp_name()`) is complete, or failed.
    pub fn end_rewrite(&self, result: Result<(), String>, peak_bytes: usize) {
        let s = &self.status;
        let took_s = (mono_us() - s.rewrite_started_us.load(Ordering::Relaxed)) / 1_000_000;
        s.last_rewrite_time_s
            .store(took_s as i64, Ordering::Relaxed);
        s.last_cow_bytes.store(peak_bytes as u64, Ordering::Relaxed);
        let outcome = result.and_then(|()| self.install_new_base());
        match outcome {
            Ok(()) => {
                log::notice("Background AOF rewrite terminated with success");
                log::notice("Background AOF rewrite finished successfully");
                s.last_bgrewrite_ok.store(true, Ordering::Relaxed);
                s.rewrites.fetch_add(1, Ordering::Relaxed);
                s.rewrites_failed_in_a_row.store(0, Ordering::Relaxed);
            }
            Err(e) => {
                let _ = std::fs::remove_file(rewrite_temp_name());
                log::warning(&e);
                log::warning("Background AOF rewrite failed");
                s.last_bgrewrite_ok.store(false, Ordering::Relaxed);
                s.rewrites_failed_in_a_row.fetch_add(1, Ordering::Relaxed);
                let mut guard = self.lock();
                if let Some(f) = guard.as_mut() {
                    f.rewrite_covers = None;
                    f.rewrite_base = None;
                    if f.awaiting_first_base {
                        // Switched on at run time without a base: retry from cron.
                        s.rewrite_scheduled.store(true, Ordering::Release);
                    }
                }
            }
        }
        s.rewrite_in_progress.store(false, Ordering::Release);
    }

    /// The snapshot is the new base (already renamed into place); the old base and the covered
    /// incremental files become history in the same manifest update, then are deleted.
    fn install_new_base(&self) -> Result<(), String> {
        let mut guard = self.lock();
        let f = guard
            .as_mut()
            .ok_or("the AOF was switched off during the rewrite")?;
        let covers = f.rewrite_covers.take().unwrap_or(0);
        let base = f.rewrite_base.take().ok_or("no rewrite was running")?;
        log::notice(&format!(
            "Successfully renamed the temporary AOF base file {} into {}",
            rewrite_temp_name(),
            base.name
        ));
        f.awaiting_first_base = false;
        let mut next = f.manifest.clone();
        let old_base = next.base.replace(base);
        let covered: Vec<FileEntry> = next.incrs.drain(..covers.min(next.incrs.len())).collect();
        for mut h in old_base.into_iter().chain(covered) {
            h.kind = Kind::History;
            next.history.push(h);
        }
        write_manifest(&f.dir, &f.prefix, &next)?;
        for h in std::mem::take(&mut next.history) {
            log::notice(&format!(
                "Removing the history file {} in the background",
                h.name
            ));
            let _ = std::fs::remove_file(path(&f.dir, &h.name));
        }
        write_manifest(&f.dir, &f.prefix, &next)?;
        f.manifest = next;
        let (base_bytes, total) = sizes(&f.dir, &f.manifest);
        self.status.base_bytes.store(base_bytes, Ordering::Relaxed);
        self.status.current_bytes.store(total, Ordering::Relaxed);
        Ok(())
    }
}

pub fn path(dir: &str, name: &str) -> String {
    format!("{dir}/{name}")
}

/// The manifest's file name for `appendfilename`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// Reads the manifest in `dir`; Ok(None) when there is none.
pub fn read_manifest(dir: &str, prefix: &str) -> Result<Option<Manifest>, String> {
    match std::fs::read(path(dir, &manifest_name(prefix))) {
        Ok(bytes) => Manifest::parse(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("Can't open the AOF manifest file: {e}")),
    }
}

/// Moves a Redis 6 style single AOF (`appendfilename` in the working directory) into the
/// directory as the base of a new manifest, as Redis 7 does on upgrade. Ok(None) when there is
/// nothing to upgrade.
pub fn upgrade_single_file(dir: &str, prefix: &str) -> Result<Option<Manifest>, String> {
    if !std::path::Path::new(prefix).is_file() {
        return Ok(None);
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("Can't open or create append-only dir {dir}: {e}"))?;
    let m = Manifest {
        base: Some(FileEntry {
            name: prefix.to_string(),
            seq: 1,
            kind: Kind::Base,
        }),
        incrs: vec![],
        history: vec![],
    };
    std::fs::rename(prefix, path(dir, prefix))
        .map_err(|e| format!("Error moving the old AOF file {prefix} into {dir}: {e}"))?;
    write_manifest(dir, prefix, &m)?;
    log::notice("Successfully migrated an old-style AOF into the AOF directory");
    Ok(Some(m))
}

/// Writes the manifest crash-safely: temp file, fsync, rename, directory fsync.
fn write_manifest(dir: &str, prefix: &str, m: &Manifest) -> Result<(), String> {
    let temp = path(dir, &format!("temp-{}", manifest_name(prefix)));
    let target = path(dir, &manifest_name(prefix));
    (|| {
        write_durably(&temp, m.format().as_bytes())?;
        std::fs::rename(&temp, &target).map_err(|e| e.to_string())?;
        super::sync_parent_dir(&target).map_err(|e| e.to_string())
    })()
    .map_err(|e| format!("Can't persist the AOF manifest file: {e}"))
}

fn write_durably(p: &str, bytes: &[u8]) -> Result<(), String> {
    (|| {
        let mut f = File::create(p)?;
        f.write_all(bytes)?;
        f.sync_all()
    })()
    .map_err(|e| format!("Can't write {p}: {e}"))
}

fn open_append(p: &str) -> Result<File, String> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| format!("Can't open the append-only file {p}: {e}"))
}

fn create_incr(dir: &str, prefix: &str, seq: u64) -> Result<(FileEntry, File), String> {
    let entry = FileEntry {
        name: format!("{prefix}.{seq}.incr.aof"),
        seq,
        kind: Kind::Incr,
    };
    let file = open_append(&path(dir, &entry.name))?;
    Ok((entry, file))
}

/// (base bytes, base + incremental bytes) of the files the manifest names.
fn sizes(dir: &str, m: &Manifest) -> (u64, u64) {
    let size = |e: &FileEntry| {
        std::fs::metadata(path(dir, &e.name))
            .map(|md| md.len())
            .unwrap_or(0)
    };
    let base = m.base.as_ref().map_or(0, size);
    (base, base + m.incrs.iter().map(size).sum::<u64>())
}

/// The background thread that runs `everysec` fsyncs, so the event loops never wait on disk.
fn spawn_fsyncer(in_flight: Arc<AtomicBool>) -> mpsc::Sender<File> {
    let (tx, rx) = mpsc::channel::<File>();
    let spawned = std::thread::Builder::new()
        .name("ringkv-aof-fsync".into())
        .spawn(move || {
            while let Ok(f) = rx.recv() {
                if let Err(e) = f.sync_data() {
                    log::warning(&format!("Error syncing the AOF file: {e}"));
                }
                in_flight.store(false, Ordering::Release);
            }
        });
    if let Err(e) = spawned {
        log::warning(&format!("Can't start the AOF fsync thread: {e}"));
    }
    tx
}
