//! BGSAVE without fork: a snapshot file fed by every shard while the server keeps serving.
//!
//! The cut is taken while one command holds every shard (`Shard::start_snapshot`); after it,
//! each table copies a segment into this sink before the segment's first change, and each
//! shard's loop copies the remaining segments a few thousand keys per cron tick. Chunks are
//! appended to `temp-<pid>.rdb` in whatever order they come, each starting with SELECTDB for
//! its database (the RDB format allows any number of them), and the CRC-64 is computed as they
//! are appended. When the last shard reports done, the sink writes EOF and the checksum,
//! fsyncs, renames over `dbfilename` and fsyncs the directory.
//!
//! Memory: one segment's serialized chunk at a time per shard (reported as
//! `rdb_last_cow_size`, the largest chunk), never a copy of the dataset.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::crc64::crc64;
pub use super::rdb::write::DbSize;
use super::rdb::write::Writer;
use super::rdb::OP_EOF;
use crate::runtime::clock::{mono_us, unix_ms};
use crate::server::log;
use crate::store::record::Record;
use crate::store::SegmentSink;

/// What INFO persistence and LASTSAVE report; shared by all threads.
pub struct SaveStatus {
    pub in_progress: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub lastsave_s: AtomicU64,
    pub saves: AtomicU64,
    /// Seconds the last background save took (-1 before the first).
    pub last_bgsave_time_s: AtomicI64,
    /// Monotonic µs when the running background save started.
    pub started_us: AtomicU64,
    /// The largest chunk the last background save held in memory at once.
    pub last_cow_bytes: AtomicU64,
    /// Unix seconds of the last save-point attempt (a failed one is retried after a delay).
    pub last_try_s: AtomicU64,
    /// BGSAVE SCHEDULE arrived while a save was running: start one when it ends.
    pub scheduled: AtomicBool,
    /// Keys the last load (start-up or DEBUG RELOAD) stored, and skipped as expired.
    pub last_load_keys_loaded: AtomicU64,
    pub last_load_keys_expired: AtomicU64,
    /// The start-up load is running: INFO says `loading:1` and commands without the `loading`
    /// flag get `-LOADING`.
    pub loading: AtomicBool,
    /// Unix seconds and monotonic µs when that load started; the bytes it reads and has read.
    pub loading_start_s: AtomicU64,
    pub loading_started_us: AtomicU64,
    pub loading_total_bytes: AtomicU64,
    pub loading_loaded_bytes: AtomicU64,
}

impl Default for SaveStatus {
    fn default() -> SaveStatus {
        SaveStatus {
            in_progress: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            lastsave_s: AtomicU64::new(unix_ms() / 1000),
            saves: AtomicU64::new(0),
            last_bgsave_time_s: AtomicI64::new(-1),
            started_us: AtomicU64::new(0),
            last_cow_bytes: AtomicU64::new(0),
            last_try_s: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            last_load_keys_loaded: AtomicU64::new(0),
            last_load_keys_expired: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            loading_start_s: AtomicU64::new(0),
            loading_started_us: AtomicU64::new(0),
            loading_total_bytes: AtomicU64::new(0),
            loading_loaded_bytes: AtomicU64::new(0),
        }
    }
}

struct Out {
    file: Option<BufWriter<File>>,
    crc: u64,
    error: Option<String>,
    peak_chunk_bytes: usize,
}

/// Called once when a snapshot file is complete (renamed into place) or failed, with the
/// largest chunk it held in memory at once.
pub type Done = Box<dyn FnOnce(Result<(), String>, usize) + Send>;

/// What a snapshot file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An RDB file (dump.rdb, an AOF base with the RDB preamble).
    Rdb,
    /// The commands that recreate each key (an AOF base with `aof-use-rdb-preamble no`).
    Commands,
}

pub struct FileSink {
    out: Mutex<Out>,
    format: Format,
    compress: bool,
    checksum: bool,
    shards_pending: AtomicUsize,
    /// Bytes of records the tables hold aside for this snapshot now, and the most ever.
    aside_bytes: AtomicUsize,
    aside_peak_bytes: AtomicUsize,
    temp: String,
    target: String,
    done: Mutex<Option<Done>>,
}

impl FileSink {
    /// Creates `temp` with the header (and the size of each database at the cut, `sizes`,
    /// as RESIZEDB hints); the caller then starts every shard. When the last shard is done the
    /// file is completed, fsynced and renamed to `target`, then `done` runs.
    pub fn start(
        temp: String,
        target: String,
        (header, sizes): (&[(&str, String)], &[DbSize]),
        (format, compress, checksum): (Format, bool, bool),
        shards: usize,
        done: Done,
    ) -> std::io::Result<Arc<FileSink>> {
        let mut file = BufWriter::new(File::create(&temp)?);
        let mut w = Writer::new(compress);
        if format == Format::Rdb {
            w.header(header);
            w.size_hints(sizes);
        }
        file.write_all(&w.buf)?;
        Ok(Arc::new(FileSink {
            out: Mutex::new(Out {
                file: Some(file),
                crc: crc64(0, &w.buf),
                error: None,
                peak_chunk_bytes: 0,
            }),
            format,
            compress,
            checksum,
            shards_pending: AtomicUsize::new(shards),
            aside_bytes: AtomicUsize::new(0),
            aside_peak_bytes: AtomicUsize::new(0),
            temp,
            target,
            done: Mutex::new(Some(done)),
        }))
    }

    fn append(&self, bytes: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.peak_chunk_bytes = out.peak_chunk_bytes.max(bytes.len());
        if out.error.is_some() {
            return;
        }
        let result = out.file.as_mut().map(|f| f.write_all(bytes));
        match result {
            Some(Ok(())) => out.crc = crc64(out.crc, bytes),
            Some(Err(e)) => out.error = Some(format!("Write error saving DB on disk: {e}")),
            None => {}
        }
    }

    /// EOF, checksum, fsync, rename, directory fsync; then `done`.
    fn finish(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let crc = crc64(out.crc, &[OP_EOF]);
        let trailer = if self.checksum { crc } else { 0 };
        let mut tail = vec![OP_EOF];
        tail.extend_from_slice(&trailer.to_le_bytes());
        if self.format == Format::Commands {
            tail.clear();
        }
        let result = match (out.error.take(), out.file.take()) {
            (Some(e), _) => Err(e),
            (None, None) => Err("no file".to_string()),
            (None, Some(mut f)) => (|| {
                f.write_all(&tail)?;
                let f = f.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                drop(f);
                std::fs::rename(&self.temp, &self.target)?;
                super::sync_parent_dir(&self.target)
            })()
            .map_err(|e| format!("Error saving DB on disk: {e}")),
        };
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        // The save's own memory at most: records held aside plus the largest chunk.
        let peak = out.peak_chunk_bytes + self.aside_peak_bytes.load(Ordering::Relaxed);
        drop(out);
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(done) = done {
            done(result, peak);
        }
    }
}

/// One segment's records as an RDB chunk opening with SELECTDB; None for an empty segment.
fn rdb_chunk(
    compress: bool,
    db: usize,
    records: &mut dyn Iterator<Item = &Record>,
) -> Option<Vec<u8>> {
    let mut w = Writer::new(compress);
    let mut any = false;
    for r in records {
        if !any {
            w.select(db);
            any = true;
        }
        w.record(r);
    }
    any.then_some(w.buf)
}

/// What a background save (BGSAVE, save points) does when its file is complete: the status
/// INFO and LASTSAVE show, and Redis's log lines.
pub fn bgsave_done(status: Arc<SaveStatus>) -> Done {
    status.in_progress.store(true, Ordering::Release);
    status.started_us.store(mono_us(), Ordering::Relaxed);
    Box::new(move |result, peak_bytes| {
        let s = &status;
        let took_s = (mono_us() - s.started_us.load(Ordering::Relaxed)) / 1_000_000;
        s.last_bgsave_time_s.store(took_s as i64, Ordering::Relaxed);
        s.last_cow_bytes.store(peak_bytes as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                log::notice("DB saved on disk");
                log::notice("Background saving terminated with success");
                s.lastsave_s.store(unix_ms() / 1000, Ordering::Relaxed);
                s.saves.fetch_add(1, Ordering::Relaxed);
                s.last_bgsave_ok.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                log::warning(&e);
                log::warning("Background saving error");
                s.last_bgsave_ok.store(false, Ordering::Relaxed);
            }
        }
        s.in_progress.store(false, Ordering::Release);
    })
}

impl SegmentSink for FileSink {
    fn segment(&self, db: usize, records: &mut dyn Iterator<Item = &Record>) {
        if self.format == Format::Commands {
            let mut buf = Vec::new();
            for r in records {
                if buf.is_empty() {
                    buf = crate::repl::propagate::select(db);
                }
                super::aof::rewrite::record_commands(r, &mut buf);
            }
            return self.append(&buf);
        }
        if let Some(chunk) = rdb_chunk(self.compress, db, records) {
            self.append(&chunk);
        }
    }

    fn shard_done(&self) {
        if self.shards_pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish();
        }
    }

    fn aside(&self, delta_bytes: isize) {
        let now = if delta_bytes >= 0 {
            self.aside_bytes
                .fetch_add(delta_bytes as usize, Ordering::Relaxed)
                .saturating_add(delta_bytes as usize)
        } else {
            let d = delta_bytes.unsigned_abs();
            self.aside_bytes
                .fetch_sub(d, Ordering::Relaxed)
                .saturating_sub(d)
        };
        self.aside_peak_bytes.fetch_max(now, Ordering::Relaxed);
    }
}

/// Bytes a stream sink may hold for its slowest reader before the background copy pauses
/// (writes still copy the segments they touch, which the cut requires).
const STREAM_BACKLOG_BYTES_MAX: usize = 8 << 20;

/// A snapshot streamed to readers instead of a file (replicas in a full sync, in Redis's
/// diskless `$EOF:` format or, for replicas without `capa eof`, whole with a length). Chunks
/// arrive from every shard's thread in the order they are made; each reader consumes them at
/// its own pace and a chunk is freed once every reader has it, so memory is bounded by the
/// slowest reader's lag, not by the dataset (unless a reader needs the whole file first).
pub struct StreamSink {
    state: Mutex<StreamState>,
    compress: bool,
    shards_pending: AtomicUsize,
    /// Called (on whichever thread) when new bytes or the end arrive: wakes the readers.
    notify: Box<dyn Fn() + Send + Sync>,
}

struct StreamState {
    chunks: std::collections::VecDeque<Arc<Vec<u8>>>,
    /// Index of `chunks[0]` since the start.
    first: usize,
    /// Next chunk index of each reader; None once it left.
    readers: Vec<Option<usize>>,
    crc: u64,
    done: bool,
    /// Bytes held now and the most ever held (the snapshot's own memory).
    held_bytes: usize,
    peak_bytes: usize,
    total_bytes: u64,
}

impl StreamSink {
    pub fn start(
        (header, sizes): (&[(&str, String)], &[DbSize]),
        compress: bool,
        shards: usize,
        readers: usize,
        notify: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<StreamSink> {
        let mut w = Writer::new(compress);
        w.header(header);
        w.size_hints(sizes);
        let sink = StreamSink {
            state: Mutex::new(StreamState {
                chunks: Default::default(),
                first: 0,
                readers: vec![Some(0); readers],
                crc: 0,
                done: false,
                held_bytes: 0,
                peak_bytes: 0,
                total_bytes: 0,
            }),
            compress,
            shards_pending: AtomicUsize::new(shards),
            notify,
        };
        sink.push(w.buf);
        Arc::new(sink)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let mut st = self.lock();
        st.crc = crc64(st.crc, &bytes);
        st.held_bytes += bytes.len();
        st.total_bytes += bytes.len() as u64;
        st.peak_bytes = st.peak_bytes.max(st.held_bytes);
        st.chunks.push_back(Arc::new(bytes));
    }

    /// Appends reader `r`'s next bytes to `out` (at least one chunk, then until `max_bytes`);
    /// returns true when the snapshot is complete and `r` has all of it.
    pub fn read(&self, r: usize, out: &mut Vec<u8>, max_bytes: usize) -> bool {
        let mut st = self.lock();
        let Some(mut next) = st.readers.get(r).copied().flatten() else {
            return true;
        };
        let end = st.first + st.chunks.len();
        let start_len = out.len();
        while next < end && out.len() - start_len < max_bytes {
            out.extend_from_slice(&st.chunks[next - st.first]);
            next += 1;
        }
        st.readers[r] = Some(next);
        st.release_consumed();
        st.done && next == end
    }

    /// Reader `r` is gone: its chunks need not be kept for it.
    pub fn leave(&self, r: usize) {
        let mut st = self.lock();
        if let Some(slot) = st.readers.get_mut(r) {
            *slot = None;
        }
        st.release_consumed();
    }

    /// The whole snapshot's size once complete (for the `$<len>` framing).
    pub fn total_bytes(&self) -> Option<u64> {
        let st = self.lock();
        st.done.then_some(st.total_bytes)
    }

    pub fn peak_bytes(&self) -> usize {
        self.lock().peak_bytes
    }
}

impl StreamState {
    fn release_consumed(&mut self) {
        let min = self.readers.iter().flatten().min().copied();
        let keep_from = min.unwrap_or(self.first + self.chunks.len());
        while self.first < keep_from {
            if let Some(c) = self.chunks.pop_front() {
                self.held_bytes -= c.len();
            }
            self.first += 1;
        }
    }
}

impl SegmentSink for StreamSink {
    fn segment(&self, db: usize, records: &mut dyn Iterator<Item = &Record>) {
        if let Some(chunk) = rdb_chunk(self.compress, db, records) {
            self.push(chunk);
            (self.notify)();
        }
    }

    fn shard_done(&self) {
        if self.shards_pending.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        {
            let mut st = self.lock();
            let crc = crc64(st.crc, &[OP_EOF]);
            let mut tail = vec![OP_EOF];
            tail.extend_from_slice(&crc.to_le_bytes());
            st.held_bytes += tail.len();
            st.total_bytes += tail.len() as u64;
            st.chunks.push_back(Arc::new(tail));
            st.done = true;
        }
        (self.notify)();
    }

    fn backlogged(&self) -> bool {
        self.lock().held_bytes > STREAM_BACKLOG_BYTES_MAX
    }

    fn abandoned(&self) -> bool {
        let st = self.lock();
        !st.done && st.readers.iter().all(Option::is_none)
    }
}
