//! The write stream's single point of order: every propagated command is appended here while
//! its command still holds the shards it touched, so two writes that conflict (share a shard)
//! appear in the order they ran, and a write acknowledged before another began is earlier.
//!
//! The replication backlog takes the stream without a lock (`backlog.rs`: reserve, copy,
//! publish); the reservation also carries the database the stream last selected, so a record
//! that changes database starts with its SELECT. The AOF buffer, when on, is a second consumer
//! with its own SELECT state under the mutex (its order matches the backlog's for writes that
//! conflict, which is what replay needs). Nothing is appended while nobody consumes the
//! stream: `active` is false unless the AOF is on or a backlog exists, and commands then skip
//! propagation entirely.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::backlog::{Backlog, Locked, Refused, Shape};
use super::propagate::{encode, select};

/// How many times a writer tries to make room for a lagging reader before it writes anyway
/// (the reader then finds its position gone and is dropped).
const ROOM_TRIES_MAX: usize = 3;

/// What `pin_pressure_permille` measures against when replicas have no output limit.
const PRESSURE_BYTES_NO_LIMIT: u64 = 256 << 20;

pub struct Feed {
    active: AtomicBool,
    aof_on: AtomicBool,
    /// The AOF buffer holds bytes the writer has not taken yet.
    aof_waiting: AtomicBool,
    /// The oldest position a replica still has to send (u64::MAX: none); see `Slow::pins`.
    pin_floor: AtomicU64,
    backlog: Backlog<Slow>,
}

/// What the feed keeps under the backlog's mutex.
#[derive(Default)]
struct Slow {
    /// Positions replicas still have to send, by replica: the ring grows rather than overwrite
    /// them, up to `pinned_bytes_max` (`client-output-buffer-limit replica`); a replica left
    /// further behind is given up (`lost`), finds its position gone and is dropped.
    pins: Vec<Pin>,
    pinned_bytes_max: usize,
    /// The size asked for (`repl-backlog-size`): a ring grown for pins returns to it.
    backlog_bytes: usize,
    /// Bytes not yet taken by the AOF writer; None while the AOF is off.
    aof: Option<Vec<u8>>,
    /// The database the AOF's last SELECT chose.
    aof_db: Option<usize>,
}

struct Pin {
    id: u64,
    pos: u64,
    lost: bool,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            active: AtomicBool::new(false),
            aof_on: AtomicBool::new(false),
            aof_waiting: AtomicBool::new(false),
            pin_floor: AtomicU64::new(u64::MAX),
            backlog: Backlog::new(Slow {
                pinned_bytes_max: usize::MAX,
                ..Slow::default()
            }),
        }
    }
}

/// Calls `put` with each piece of a record in order (SELECTs where the database changes,
/// MULTI/EXEC around a transaction) starting after database `db`; returns the database
/// selected at its end.
fn walk<B: AsRef<[u8]>>(
    mut db: Option<usize>,
    cmds: &[(usize, B)],
    wrap: bool,
    mut put: impl FnMut(&[u8]),
) -> Option<usize> {
    let mut emit = |d: usize, bytes: &[u8], db: &mut Option<usize>| {
        if *db != Some(d) {
            *db = Some(d);
            put(&select(d));
        }
        put(bytes);
    };
    if wrap {
        emit(cmds[0].0, &encode(&[b"MULTI"]), &mut db);
    }
    for (d, bytes) in cmds {
        emit(*d, bytes.as_ref(), &mut db);
    }
    if wrap {
        emit(cmds[0].0, &encode(&[b"EXEC"]), &mut db);
    }
    db
}

impl Feed {
    /// Whether commands must propagate (someone reads the stream).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether the AOF takes the stream (a replica's applied commands go only there).
    #[inline]
    pub fn aof_on(&self) -> bool {
        self.aof_on.load(Ordering::Relaxed)
    }

    /// Whether the AOF buffer has bytes for the writer.
    #[inline]
    pub fn aof_waiting(&self) -> bool {
        self.aof_waiting.load(Ordering::Acquire)
    }

    fn lock(&self) -> Locked<'_, Slow> {
        self.backlog.lock()
    }

    /// Appends the commands of one client command, or of one EXEC (`transaction`: more than one
    /// command is wrapped in MULTI/EXEC so a replica applies them atomically, as Redis does).
    /// (Each command's bytes are anything that reads as bytes: owned, or a request borrowed
    /// from a receive buffer.)
    pub fn append<B: AsRef<[u8]>>(&self, cmds: &[(usize, B)], transaction: bool) {
        if cmds.is_empty() {
            return;
        }
        let wrap = transaction && cmds.len() > 1;
        if self.aof_on.load(Ordering::Relaxed) {
            self.append_aof(cmds, wrap);
        }
        self.to_backlog(
            |db| {
                let mut len = 0u64;
                let last = walk(db, cmds, wrap, |b| len += b.len() as u64);
                (len, last)
            },
            |db, put| {
                walk(db, cmds, wrap, put);
            },
        );
    }

    /// Appends the commands a replica applied from its master to the AOF only (the backlog
    /// gets the master's stream as it was, through `append_raw`).
    pub fn append_aof_only<B: AsRef<[u8]>>(&self, cmds: &[(usize, B)], transaction: bool) {
        if !cmds.is_empty() && self.aof_on.load(Ordering::Relaxed) {
            self.append_aof(cmds, transaction && cmds.len() > 1);
        }
    }

    fn append_aof<B: AsRef<[u8]>>(&self, cmds: &[(usize, B)], wrap: bool) {
        let mut g = self.lock();
        let st = &mut *g.state;
        if let Some(buf) = st.aof.as_mut() {
            st.aof_db = walk(st.aof_db, cmds, wrap, |b| buf.extend_from_slice(b));
            self.aof_waiting.store(true, Ordering::Release);
        }
    }

    /// Appends bytes as they are, without SELECT bookkeeping, to the backlog only (the master's
    /// PING to its replicas; a replica proxying its master's stream).
    pub fn append_raw(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.to_backlog(|db| (bytes.len() as u64, db), |_, put| put(bytes));
    }

    /// One record into the backlog: `plan` sizes it after a database, `write` puts its pieces.
    fn to_backlog(
        &self,
        plan: impl Fn(Option<usize>) -> (u64, Option<usize>),
        write: impl Fn(Option<usize>, &mut dyn FnMut(&[u8])),
    ) {
        for tries in 0.. {
            let floor = if tries < ROOM_TRIES_MAX {
                self.pin_floor.load(Ordering::Relaxed)
            } else {
                u64::MAX
            };
            match self.backlog.reserve(floor, &plan) {
                Ok(mut r) => {
                    write(r.prev_db(), &mut |b| r.put(b));
                    return;
                }
                Err(Refused::Closed) => {
                    // Reconfigured meanwhile (retry) or no backlog (nothing to do).
                    if self.lock().range().is_none() {
                        return;
                    }
                }
                Err(Refused::NoRoom) => {
                    let (len, _) = plan(None);
                    self.make_room(len);
                }
            }
        }
    }

    /// Grows the ring so that `extra` more bytes keep the oldest pinned position held: at once
    /// to `pinned_bytes_max` (its pages cost memory only as the stream writes them, and one
    /// grow copies the held bytes once), or to twice the need when there is no limit; past the
    /// limit, gives up the pins in the way.
    fn make_room(&self, extra: u64) {
        let mut g = self.lock();
        let Some((size, _, end)) = g.range() else {
            return;
        };
        let floor = self.pin_floor.load(Ordering::Relaxed);
        let need = end.saturating_sub(floor).saturating_add(extra);
        if need <= size as u64 {
            return; // someone made room meanwhile
        }
        let max = g.state.pinned_bytes_max.max(size);
        if size < max {
            let grown = if max == usize::MAX {
                need.saturating_mul(2).min(usize::MAX as u64) as usize
            } else {
                max
            };
            g.reconfigure(|shape| shape.resize(grown));
        }
        if need > g.range().map_or(0, |r| r.0) as u64 {
            let keep_from = end.saturating_add(extra).saturating_sub(max as u64);
            for p in g.state.pins.iter_mut().filter(|p| p.pos < keep_from) {
                p.lost = true;
            }
        }
        self.refresh_floor(&g);
    }

    /// A replica's full sync: the stream continues from the master's `offset`, with a new
    /// backlog holding nothing before it.
    pub fn restart_at(&self, offset: u64, size_bytes: usize) {
        let mut g = self.lock();
        g.state.backlog_bytes = size_bytes;
        g.reconfigure(|shape| {
            *shape = Shape {
                storage: Some(super::backlog::Storage::new(size_bytes, offset)),
                offset,
                db: None,
            };
        });
        self.refresh(&g);
    }

    /// The stream position after the last reserved byte (`master_repl_offset`); a writer sees
    /// at least its own write's end here.
    pub fn end(&self) -> u64 {
        self.backlog.reserved_end()
    }

    /// The position below which every byte of the stream is in place for readers.
    pub fn published(&self) -> u64 {
        self.backlog.published_end()
    }

    /// Copies stream bytes from `from` (at most `max_bytes`) to `out` and returns the position
    /// after them; None when `from` is no longer (or not yet) in the backlog.
    pub fn read(&self, from: u64, max_bytes: usize, out: &mut Vec<u8>) -> Option<u64> {
        self.lock().read(from, max_bytes, out)
    }

    /// The backlog's size, oldest position held and end; None without a backlog.
    pub fn backlog_range(&self) -> Option<(usize, u64, u64)> {
        self.lock().range()
    }

    /// Keeps position `pos` (and later) for reader `id`; see `Slow::pins`.
    pub fn pin(&self, id: u64, pos: u64) {
        let mut g = self.lock();
        match g.state.pins.iter_mut().find(|p| p.id == id) {
            Some(p) => p.pos = pos,
            None => g.state.pins.push(Pin {
                id,
                pos,
                lost: false,
            }),
        }
        self.refresh_floor(&g);
        self.shrink_when_caught_up(&mut g);
    }

    pub fn unpin(&self, id: u64) {
        let mut g = self.lock();
        g.state.pins.retain(|p| p.id != id);
        self.refresh_floor(&g);
        self.shrink_when_caught_up(&mut g);
    }

    /// A ring grown for a lagging replica returns to `repl-backlog-size` once every pinned
    /// replica is within half of that from the end (so it does not free and regrow at once).
    /// Half, because a writer checks a pin against the size it read before it reserved: a
    /// record would need to be longer than that half to reach a pin through a stale size, and
    /// then the replica finds its position gone and resyncs (never a wrong byte).
    fn shrink_when_caught_up(&self, g: &mut Locked<'_, Slow>) {
        let want = g.state.backlog_bytes.max(super::backlog::BACKLOG_BYTES_MIN);
        let Some((size, _, end)) = g.range() else {
            return;
        };
        let close = (want / 2) as u64;
        let floor = g.state.pins.iter().filter(|p| !p.lost).map(|p| p.pos).min();
        let caught_up = |end: u64| floor.is_none_or(|f| end - f.min(end) <= close);
        if size <= want || !caught_up(end) {
            return;
        }
        // Checked again once the ring is closed: writers do not take the mutex, so the end
        // may have moved on since `range` (by more than half the new size, if this thread was
        // paused), and a shrink then would drop a pinned position.
        g.reconfigure(|shape| {
            if caught_up(shape.offset) {
                shape.resize(want);
            }
        });
    }

    fn refresh_floor(&self, g: &Locked<'_, Slow>) {
        let floor = g.state.pins.iter().filter(|p| !p.lost).map(|p| p.pos).min();
        self.pin_floor
            .store(floor.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The configuration changed: a new `repl-backlog-size` resizes an existing backlog (a
    /// missing one is created with it when a replica arrives), and the replica class's hard
    /// limit bounds how far the ring grows for pinned replicas.
    pub fn apply_config(&self, size_bytes: usize, pinned_limit: usize) {
        self.set_pinned_bytes_max(pinned_limit);
        let current = self.lock().state.backlog_bytes;
        if current != size_bytes && self.backlog_range().is_some() {
            self.set_backlog(size_bytes);
        }
    }

    /// How close the most lagging pinned replica (one still loading a snapshot, usually) is to
    /// being dropped: the bytes kept for it per mille of `client-output-buffer-limit
    /// replica`'s hard limit (or of `PRESSURE_BYTES_NO_LIMIT` without one); 0 with no pin.
    pub fn pin_pressure_permille(&self) -> u64 {
        let floor = self.pin_floor.load(Ordering::Acquire);
        if floor == u64::MAX {
            return 0;
        }
        let kept = self.end().saturating_sub(floor);
        let limit = match self.lock().state.pinned_bytes_max {
            usize::MAX => PRESSURE_BYTES_NO_LIMIT,
            n => n.max(1) as u64,
        };
        (kept.saturating_mul(1000) / limit).min(1000)
    }

    /// Sets `client-output-buffer-limit replica`'s hard limit (0: none) for pinned bytes.
    pub fn set_pinned_bytes_max(&self, limit: usize) {
        self.lock().state.pinned_bytes_max = if limit == 0 { usize::MAX } else { limit };
    }

    /// The next command selects its database explicitly, and the stream's position.
    pub fn select_next(&self) -> u64 {
        let mut g = self.lock();
        g.reconfigure(|shape| {
            shape.db = None;
            shape.offset
        })
    }

    /// Bytes waiting in the AOF buffer (INFO aof_buffer_length).
    pub fn aof_buffered_bytes(&self) -> usize {
        self.lock().state.aof.as_ref().map_or(0, |a| a.len())
    }

    /// Moves the AOF buffer's bytes into `into`; false when there were none.
    pub fn take_aof(&self, into: &mut Vec<u8>) -> bool {
        let mut g = self.lock();
        self.aof_waiting.store(false, Ordering::Release);
        match g.state.aof.as_mut() {
            Some(buf) if !buf.is_empty() => {
                std::mem::swap(buf, into);
                buf.clear();
                true
            }
            _ => false,
        }
    }

    /// Starts (true) or stops buffering for the AOF. Starting makes the AOF's next command
    /// SELECT, since it begins a new file.
    pub fn set_aof(&self, on: bool) {
        let mut g = self.lock();
        g.state.aof = on.then(Vec::new);
        g.state.aof_db = None;
        self.aof_on.store(on, Ordering::Relaxed);
        self.refresh(&g);
    }

    /// Creates the backlog (the first replica arrived) or resizes it. While a replica is
    /// pinned the ring does not shrink here (`shrink_when_caught_up` does it later).
    pub fn set_backlog(&self, size_bytes: usize) {
        let mut g = self.lock();
        g.state.backlog_bytes = size_bytes;
        let pinned = g.state.pins.iter().any(|p| !p.lost);
        g.reconfigure(|shape| {
            let size = match &shape.storage {
                None => {
                    shape.db = None;
                    size_bytes
                }
                Some(s) if pinned => size_bytes.max(s.size_bytes()),
                Some(_) => size_bytes,
            };
            shape.resize(size);
        });
        self.refresh(&g);
    }

    /// Frees the backlog (no replica for `repl-backlog-ttl`); false when there was none.
    pub fn drop_backlog(&self) -> bool {
        let mut g = self.lock();
        let had = g.reconfigure(|shape| shape.storage.take().is_some());
        self.refresh(&g);
        had
    }

    /// The next command selects its database explicitly in the backlog and the AOF (a new
    /// consumer starts reading).
    pub fn force_select(&self) {
        let mut g = self.lock();
        g.state.aof_db = None;
        g.reconfigure(|shape| shape.db = None);
    }

    fn refresh(&self, g: &Locked<'_, Slow>) {
        let on = g.state.aof.is_some() || g.range().is_some();
        self.active.store(on, Ordering::Relaxed);
        crate::store::db::PROPAGATE_EXPIRED.store(on, Ordering::Relaxed);
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
        let want = (select(0).len() + encode(&[b"PING"]).len()) as u64;
        assert_eq!(f.end(), want);
        assert_eq!(f.published(), want);
        assert_eq!(f.backlog_range(), Some((1 << 20, 0, want)));
    }

    /// The stream's RESP commands with the database selected when each ran.
    fn parse_stream(mut s: &[u8]) -> Vec<(Option<usize>, Vec<Vec<u8>>)> {
        fn line<'a>(s: &mut &'a [u8]) -> &'a [u8] {
            let i = s.windows(2).position(|w| w == b"\r\n").expect("CRLF");
            let l = &s[..i];
            *s = &s[i + 2..];
            l
        }
        let num = |l: &[u8]| {
            std::str::from_utf8(&l[1..])
                .unwrap()
                .parse::<usize>()
                .unwrap()
        };
        let mut db = None;
        let mut out = Vec::new();
        while !s.is_empty() {
            let head = line(&mut s);
            assert_eq!(head[0], b'*', "a command starts with an array");
            let mut args = Vec::new();
            for _ in 0..num(head) {
                let n = num(line(&mut s));
                args.push(s[..n].to_vec());
                assert_eq!(&s[n..n + 2], b"\r\n");
                s = &s[n + 2..];
            }
            if args[0] == b"SELECT" {
                db = Some(std::str::from_utf8(&args[1]).unwrap().parse().unwrap());
            } else {
                out.push((db, args));
            }
        }
        out
    }

    /// Threads append in their own databases (some as transactions spanning two) while a
    /// pinned reader follows the stream and the ring is resized under them: every command
    /// arrives whole, once, in each thread's order, under the right SELECT, and a transaction's
    /// commands sit together between MULTI and EXEC.
    #[test]
    fn concurrent_appends_keep_order_selects_and_transactions() {
        use std::sync::Arc;
        const THREADS: usize = 3;
        const PER_THREAD: u64 = 20_000;
        let f = Arc::new(Feed::default());
        f.set_backlog(super::super::backlog::BACKLOG_BYTES_MIN);
        f.set_pinned_bytes_max(64 << 20);
        f.pin(1, 0);
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let f = f.clone();
                std::thread::spawn(move || {
                    for seq in 0..PER_THREAD {
                        let key = format!("t{t}");
                        let val = seq.to_string();
                        let set = (t, encode(&[b"SET", key.as_bytes(), val.as_bytes()]));
                        if seq % 7 == 0 {
                            let other = (t + 10, encode(&[b"INCR", key.as_bytes()]));
                            f.append(&[set, other], true);
                        } else {
                            f.append(&[set], false);
                        }
                    }
                })
            })
            .collect();
        let resizer = {
            let f = f.clone();
            std::thread::spawn(move || {
                for i in 0..200usize {
                    f.set_backlog(super::super::backlog::BACKLOG_BYTES_MIN * (1 + i % 3));
                    std::thread::yield_now();
                }
            })
        };
        let mut stream = Vec::new();
        let mut pos = 0u64;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut done = false;
        loop {
            let finished = writers.iter().all(|w| w.is_finished());
            let next = f
                .read(pos, 4096, &mut stream)
                .expect("a pinned position is kept");
            f.pin(1, next);
            if done && next == pos {
                break;
            }
            pos = next;
            done = finished && pos == f.end();
            assert!(std::time::Instant::now() < deadline, "the reader keeps up");
        }
        for w in writers {
            w.join().unwrap();
        }
        resizer.join().unwrap();
        let cmds = parse_stream(&stream);
        let mut next_seq = [0u64; THREADS];
        let mut i = 0;
        while i < cmds.len() {
            let (db, args) = &cmds[i];
            let in_tx = args[0] == b"MULTI";
            let (db, args) = if in_tx {
                (&cmds[i + 1].0, &cmds[i + 1].1)
            } else {
                (db, args)
            };
            assert_eq!(args[0], b"SET");
            let t: usize = std::str::from_utf8(&args[1][1..]).unwrap().parse().unwrap();
            let seq: u64 = std::str::from_utf8(&args[2]).unwrap().parse().unwrap();
            assert_eq!(*db, Some(t), "SET of t{t} runs in database {t}");
            assert_eq!(
                seq, next_seq[t],
                "thread {t}'s commands in order, once each"
            );
            next_seq[t] += 1;
            if in_tx {
                assert_eq!(seq % 7, 0);
                assert_eq!(cmds[i + 2].0, Some(t + 10));
                assert_eq!(cmds[i + 2].1[0], b"INCR");
                assert_eq!(cmds[i + 3].1, vec![b"EXEC".to_vec()]);
                i += 4;
            } else {
                assert_ne!(seq % 7, 0);
                i += 1;
            }
        }
        assert_eq!(next_seq, [PER_THREAD; THREADS]);
    }

    /// A replica left behind grows the ring instead of losing its place; once it has caught
    /// up the ring returns to its configured size.
    #[test]
    fn the_ring_grows_for_a_pinned_replica_and_shrinks_back() {
        use super::super::backlog::BACKLOG_BYTES_MIN;
        let f = Feed::default();
        f.set_backlog(BACKLOG_BYTES_MIN);
        f.set_pinned_bytes_max(1 << 20);
        f.pin(7, f.end());
        let cmd = [(0usize, encode(&[b"SET", b"k", &[b'v'; 100]]))];
        for _ in 0..1000 {
            f.append(&cmd, false);
        }
        let (size, start, end) = f.backlog_range().unwrap();
        assert!(
            size > BACKLOG_BYTES_MIN && start == 0,
            "grown to keep position 0: {size}"
        );
        // The bytes kept for the pin, per mille of the limit (what paces a snapshot).
        assert_eq!(f.pin_pressure_permille(), end * 1000 / (1 << 20));
        assert!(f.pin_pressure_permille() > 0);
        let mut out = Vec::new();
        let pos = f.read(0, usize::MAX, &mut out).unwrap();
        assert_eq!((pos, out.len() as u64), (end, end));
        f.pin(7, pos);
        assert_eq!(
            f.backlog_range().unwrap().0,
            BACKLOG_BYTES_MIN,
            "caught up: back to size"
        );
        // Past `pinned_bytes_max` the replica is given up and finds its position gone.
        f.pin(7, f.end());
        let behind = f.end();
        for _ in 0..20_000 {
            f.append(&cmd, false);
        }
        assert_eq!(f.backlog_range().unwrap().0, 1 << 20);
        assert!(f.read(behind, 10, &mut out).is_none());
        f.unpin(7);
        assert_eq!(f.backlog_range().unwrap().0, BACKLOG_BYTES_MIN);
        assert_eq!(f.pin_pressure_permille(), 0, "no pin, no pressure");
    }
}
