//! The write stream's single point of order: every propagated command is appended here while
//! its command still holds the shards it touched, so two writes that conflict (share a shard)
//! appear in the order they ran, and a write acknowledged before another began is earlier.
//!
//! The append is one short critical section under a mutex (SELECT bookkeeping, a copy into the
//! backlog ring and into the AOF buffer). DESIGN.md describes a lock-free reservation; the mutex
//! is what runs today (see the note there). Nothing is appended while nobody consumes the
//! stream: `active` is false unless the AOF is on or a backlog exists, and commands then skip
//! propagation entirely.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::backlog::Backlog;
use super::propagate::{encode, select};

#[derive(Default)]
pub struct Feed {
    active: AtomicBool,
    /// `FeedState::offset`, readable without the lock (replica threads poll it).
    end: AtomicU64,
    /// The AOF buffer holds bytes the writer has not taken yet.
    aof_waiting: AtomicBool,
    state: Mutex<FeedState>,
}

#[derive(Default)]
pub struct FeedState {
    /// The database the stream's last SELECT chose; None makes the next command select.
    db: Option<usize>,
    pub backlog: Option<Backlog>,
    /// Bytes not yet taken by the AOF writer; None while the AOF is off.
    pub aof: Option<Vec<u8>>,
    /// `master_repl_offset`: the stream position after the last byte (advances while a backlog
    /// exists, as in Redis).
    pub offset: u64,
    /// Positions replicas still have to send, by replica: the ring grows rather than overwrite
    /// them, up to `pinned_bytes_max` (`client-output-buffer-limit replica`); a replica left
    /// further behind finds its position gone and is dropped.
    pins: Vec<(u64, u64)>,
    pub pinned_bytes_max: usize,
    /// On a replica, the AOF's own SELECT state (its stream is not the backlog's).
    aof_db: Option<usize>,
}

impl Feed {
    /// Whether commands must propagate (someone reads the stream).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether the AOF buffer has bytes for the writer.
    #[inline]
    pub fn aof_waiting(&self) -> bool {
        self.aof_waiting.load(Ordering::Acquire)
    }

    pub fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends the commands of one client command, or of one EXEC (`transaction`: more than one
    /// command is wrapped in MULTI/EXEC so a replica applies them atomically, as Redis does).
    pub fn append(&self, cmds: &[(usize, Vec<u8>)], transaction: bool) {
        if cmds.is_empty() {
            return;
        }
        let wrap = transaction && cmds.len() > 1;
        let mut st = self.lock();
        if wrap {
            st.emit(cmds[0].0, &encode(&[b"MULTI"]));
        }
        for (db, bytes) in cmds {
            st.emit(*db, bytes);
        }
        if wrap {
            st.emit(cmds[0].0, &encode(&[b"EXEC"]));
        }
        if st.aof.is_some() {
            self.aof_waiting.store(true, Ordering::Release);
        }
        self.end.store(st.offset, Ordering::Release);
    }

    /// Appends the commands a replica applied from its master to the AOF only (the backlog
    /// gets the master's stream as it was, through `append_raw`).
    pub fn append_aof_only(&self, cmds: &[(usize, Vec<u8>)]) {
        let mut st = self.lock();
        if st.aof.is_none() {
            return;
        }
        let backlog = st.backlog.take();
        let (db, offset) = (st.db, st.offset);
        st.db = st.aof_db;
        for (d, bytes) in cmds {
            st.emit(*d, bytes);
        }
        st.aof_db = st.db;
        st.db = db;
        st.offset = offset;
        st.backlog = backlog;
        self.aof_waiting.store(true, Ordering::Release);
    }

    /// A replica's full sync: the stream continues from the master's `offset`, with a new
    /// backlog holding nothing before it.
    pub fn restart_at(&self, offset: u64, size_bytes: usize) {
        let mut st = self.lock();
        st.backlog = Some(Backlog::new(size_bytes, offset));
        st.offset = offset;
        st.db = None;
        self.end.store(offset, Ordering::Release);
        self.refresh(&st);
    }

    /// Appends bytes as they are, without SELECT bookkeeping, to the backlog only (the master's
    /// PING to its replicas; a replica proxying its master's stream).
    pub fn append_raw(&self, bytes: &[u8]) {
        let mut st = self.lock();
        st.grow_for_pins(bytes.len());
        if let Some(b) = st.backlog.as_mut() {
            b.append(bytes);
            st.offset = b.end();
        }
        self.end.store(st.offset, Ordering::Release);
    }

    /// The stream position after the last byte (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Copies stream bytes from `from` (at most `max_bytes`) to `out` and returns the position
    /// after them; None when `from` is no longer (or not yet) in the backlog.
    pub fn read(&self, from: u64, max_bytes: usize, out: &mut Vec<u8>) -> Option<u64> {
        let st = self.lock();
        let b = st.backlog.as_ref()?;
        let before = out.len();
        b.copy_range(from, max_bytes, out)
            .then(|| from + (out.len() - before) as u64)
    }

    /// Keeps position `pos` (and later) for reader `id`; see `FeedState::pins`.
    pub fn pin(&self, id: u64, pos: u64) {
        let mut st = self.lock();
        match st.pins.iter_mut().find(|(i, _)| *i == id) {
            Some(p) => p.1 = pos,
            None => st.pins.push((id, pos)),
        }
    }

    pub fn unpin(&self, id: u64) {
        self.lock().pins.retain(|(i, _)| *i != id);
    }

    /// The next command selects its database explicitly, and the stream's position.
    pub fn select_next(&self) -> u64 {
        let mut st = self.lock();
        st.db = None;
        st.offset
    }

    /// Bytes waiting in the AOF buffer (INFO aof_buffer_length).
    pub fn aof_buffered_bytes(&self) -> usize {
        self.lock().aof.as_ref().map_or(0, |a| a.len())
    }

    /// Moves the AOF buffer's bytes into `into`; false when there were none.
    pub fn take_aof(&self, into: &mut Vec<u8>) -> bool {
        let mut st = self.lock();
        self.aof_waiting.store(false, Ordering::Release);
        match st.aof.as_mut() {
            Some(buf) if !buf.is_empty() => {
                std::mem::swap(buf, into);
                buf.clear();
                true
            }
            _ => false,
        }
    }

    /// Starts (true) or stops buffering for the AOF. Starting makes the next command SELECT,
    /// since it begins a new file.
    pub fn set_aof(&self, on: bool) {
        let mut st = self.lock();
        st.aof = on.then(Vec::new);
        st.db = None;
        self.refresh(&st);
    }

    /// Creates the backlog (the first replica arrived) or resizes it.
    pub fn set_backlog(&self, size_bytes: usize) {
        let mut st = self.lock();
        let end = st.offset;
        match st.backlog.as_mut() {
            Some(b) => b.resize(size_bytes),
            None => {
                st.backlog = Some(Backlog::new(size_bytes, end));
                st.db = None;
            }
        }
        self.refresh(&st);
    }

    /// Frees the backlog (no replica for `repl-backlog-ttl`); false when there was none.
    pub fn drop_backlog(&self) -> bool {
        let mut st = self.lock();
        let had = st.backlog.take().is_some();
        self.refresh(&st);
        had
    }

    /// The next command selects its database explicitly (a new consumer starts reading).
    pub fn force_select(&self) {
        self.lock().db = None;
    }

    fn refresh(&self, st: &FeedState) {
        let on = st.aof.is_some() || st.backlog.is_some();
        self.active.store(on, Ordering::Relaxed);
        crate::store::db::PROPAGATE_EXPIRED.store(on, Ordering::Relaxed);
    }
}

impl FeedState {
    /// Grows the ring (to twice what is needed, up to `pinned_bytes_max`) so that appending
    /// `extra` bytes keeps the oldest pinned position held.
    fn grow_for_pins(&mut self, extra: usize) {
        let Some(oldest) = self.pins.iter().map(|p| p.1).min() else {
            return;
        };
        let Some(b) = self.backlog.as_mut() else {
            return;
        };
        let need = (b.end().saturating_sub(oldest)) as usize + extra;
        if need > b.size_bytes() && b.size_bytes() < self.pinned_bytes_max {
            let size = (need * 2).min(self.pinned_bytes_max.max(b.size_bytes()));
            b.resize(size);
        }
    }

    fn emit(&mut self, db: usize, bytes: &[u8]) {
        if self.db != Some(db) {
            self.db = Some(db);
            let sel = select(db);
            self.write(&sel);
        }
        self.write(bytes);
    }

    fn write(&mut self, bytes: &[u8]) {
        self.grow_for_pins(bytes.len());
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
            self.offset = b.end();
        }
        if let Some(a) = self.aof.as_mut() {
            a.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(db: usize, args: &[&[u8]]) -> (usize, Vec<u8>) {
        (db, encode(args))
    }

    #[test]
    fn selects_when_the_database_changes_and_wraps_transactions() {
        let f = Feed::default();
        assert!(!f.active());
        f.append(&[cmd(0, &[b"SET", b"a", b"1"])], false);
        f.set_aof(true);
        assert!(f.active());
        f.append(&[cmd(0, &[b"SET", b"a", b"1"])], false);
        f.append(&[cmd(0, &[b"DEL", b"a"])], false);
        f.append(&[cmd(3, &[b"INCR", b"x"]), cmd(3, &[b"INCR", b"y"])], true);
        f.append(&[cmd(3, &[b"INCR", b"z"])], true);
        let mut got = Vec::new();
        assert!(f.aof_waiting());
        assert!(f.take_aof(&mut got));
        assert!(!f.aof_waiting());
        let mut want = Vec::new();
        for part in [
            select(0),
            encode(&[b"SET", b"a", b"1"]),
            encode(&[b"DEL", b"a"]),
            select(3),
            encode(&[b"MULTI"]),
            encode(&[b"INCR", b"x"]),
            encode(&[b"INCR", b"y"]),
            encode(&[b"EXEC"]),
            encode(&[b"INCR", b"z"]),
        ] {
            want.extend_from_slice(&part);
        }
        assert_eq!(got, want);
        assert!(!f.take_aof(&mut got));
    }

    #[test]
    fn the_offset_advances_with_the_backlog() {
        let f = Feed::default();
        f.set_backlog(1 << 20);
        f.append(&[cmd(0, &[b"PING"])], false);
        let st = f.lock();
        let want = (select(0).len() + encode(&[b"PING"]).len()) as u64;
        assert_eq!(st.offset, want);
        assert_eq!(st.backlog.as_ref().unwrap().end(), want);
    }
}
