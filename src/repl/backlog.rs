//! The replication backlog: one ring holding the last `repl-backlog-size` bytes of the write
//! stream, appended to by every thread without a lock (DESIGN.md): reserve a range, copy,
//! publish. A replica that reconnects continues from its offset (PSYNC) out of this ring.
//!
//! Positions are stream offsets: the byte at position `p` is the `p`-th byte of the history
//! (Redis's `master_repl_offset` is the position after the last byte).
//!
//! - **Reserve.** One compare-and-swap on `word`, which holds the position after the last
//!   reserved byte (its low 48 bits), the database the stream's last SELECT chose (so a writer
//!   knows whether its record must select first), and a closed bit. The order of reservations
//!   is the replication order: a write that returned before another began reserved first.
//! - **Copy.** The writer stores its bytes into its own range with relaxed atomic byte stores.
//! - **Publish.** `committed` counts the bytes copied. The writer whose commit makes it equal
//!   the reserved end publishes that end: every byte before it is in place. No writer waits
//!   for another; when copies overlap, the last one to finish publishes for all.
//!
//! Readers copy bytes below `published` and then check that no reservation reached their slots
//! while they copied (the seqlock pattern: relaxed loads, an acquire fence, the reservation
//! re-read). A reader that lost the race learns its position is gone, as a reader left behind.
//!
//! Reconfiguration (create, resize, grow for a loading replica, drop, a replica's restart at
//! its master's offset) is rare and exclusive: under the mutex, set the closed bit, wait until
//! the copies in flight commit, change the storage, reopen. Writers that find the ring closed
//! wait for that mutex; readers hold it while they read, so storage never changes under them.

use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The smallest ring; Redis's minimum `repl-backlog-size` is 16 KiB.
pub const BACKLOG_BYTES_MIN: usize = 16 * 1024;

const OFFSET_MASK: u64 = (1 << 48) - 1;
const TAG_SHIFT: u32 = 48;
/// The database tag meaning "unknown": the next record selects. Databases from this number on
/// are never remembered (each of their records selects).
const TAG_NONE: u64 = 0x7FFF;
const CLOSED: u64 = 1 << 63;

fn tag_of(db: Option<usize>) -> u64 {
    match db {
        Some(d) if (d as u64) < TAG_NONE => d as u64,
        _ => TAG_NONE,
    }
}

fn db_of(word: u64) -> Option<usize> {
    let tag = (word >> TAG_SHIFT) & TAG_NONE;
    (tag != TAG_NONE).then_some(tag as usize)
}

fn pack(offset: u64, db: Option<usize>) -> u64 {
    (offset & OFFSET_MASK) | (tag_of(db) << TAG_SHIFT)
}

/// The full position whose low 48 bits `word` holds, given a position `near` at most that
/// position and less than 2^48 bytes before it (the committed end qualifies: copies in flight
/// are a few records).
fn full(word: u64, near: u64) -> u64 {
    near + ((word & OFFSET_MASK).wrapping_sub(near) & OFFSET_MASK)
}

/// A ring's bytes in an anonymous mapping of their own: pages cost memory only once written
/// (a ring grown for a lagging replica is mostly virtual; MAP_NORESERVE, so a large
/// `repl-backlog-size` reserves address space, not commit charge), and dropping the ring gives
/// them back to the kernel at once (an allocator may keep a large freed block).
struct Mapping {
    ptr: std::ptr::NonNull<AtomicU8>,
    len: usize,
}

// SAFETY: a Mapping owns its pages exclusively (like a Box<[AtomicU8]>), and the only access
// it gives is a shared slice of atomics, which is Sync.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn zeroed(len: usize) -> Mapping {
        // SAFETY: an anonymous private mapping (no file, no fixed address) touches no existing
        // memory; the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        match std::ptr::NonNull::new(p as *mut AtomicU8) {
            Some(ptr) if p != libc::MAP_FAILED => Mapping { ptr, len },
            // Out of address space: the same end as any failed allocation.
            _ => std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<u8>(len).expect("a ring size fits a layout"),
            ),
        }
    }

    fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: the mapping is `len` readable and writable bytes, zero-filled by the kernel
        // (a valid AtomicU8 each, same size and alignment as u8), alive until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `zeroed` created; no slice of it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
    }
}

/// The bytes of one ring and the first position of the history it holds.
pub struct Storage {
    map: Mapping,
    base: u64,
}

impl Storage {
    /// An empty ring of `size_bytes` (at least `BACKLOG_BYTES_MIN`) whose history starts at
    /// position `base`.
    pub fn new(size_bytes: usize, base: u64) -> Box<Storage> {
        let map = Mapping::zeroed(size_bytes.max(BACKLOG_BYTES_MIN));
        Box::new(Storage { map, base })
    }

    pub fn size_bytes(&self) -> usize {
        self.map.len
    }

    /// Copies positions `[from, to)` into `out` (the caller checked they are held).
    fn copy_out(&self, from: u64, to: u64, out: &mut Vec<u8>) {
        let size = self.map.len as u64;
        let mut pos = from;
        out.reserve((to - from) as usize);
        while pos < to {
            let at = (pos % size) as usize;
            let n = ((to - pos) as usize).min(self.map.len - at);
            out.extend(
                self.map.bytes()[at..at + n]
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed)),
            );
            pos += n as u64;
        }
    }

    /// Stores `src` at position `pos` onward (the caller reserved them).
    fn copy_in(&self, pos: u64, src: &[u8]) {
        let mut at = (pos % self.map.len as u64) as usize;
        let mut rest = src;
        while !rest.is_empty() {
            let n = rest.len().min(self.map.len - at);
            for (slot, b) in self.map.bytes()[at..at + n].iter().zip(&rest[..n]) {
                slot.store(*b, Ordering::Relaxed);
            }
            rest = &rest[n..];
            at = 0;
        }
    }
}

/// The ring's shared words; `storage` changes only while the ring is closed and quiet.
#[repr(align(64))]
struct Ring {
    word: AtomicU64,
    committed: AtomicU64,
    published: AtomicU64,
    /// The storage's size (0: none), for writers' room checks before they reserve.
    size: AtomicU64,
    storage: AtomicPtr<Storage>,
}

/// Why a reservation was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The ring is being reconfigured or does not exist: take the lock and look.
    Closed,
    /// The record would overwrite the position `floor` a reader still needs.
    NoRoom,
}

/// The backlog ring plus the state its owner keeps under the ring's mutex (`S`).
pub struct Backlog<S> {
    ring: Ring,
    slow: Mutex<S>,
}

impl<S> Backlog<S> {
    /// No storage yet (closed); the stream stands at position 0.
    pub fn new(state: S) -> Backlog<S> {
        Backlog {
            ring: Ring {
                word: AtomicU64::new(CLOSED | pack(0, None)),
                committed: AtomicU64::new(0),
                published: AtomicU64::new(0),
                size: AtomicU64::new(0),
                storage: AtomicPtr::new(std::ptr::null_mut()),
            },
            slow: Mutex::new(state),
        }
    }

    /// The position after the last reserved byte (`master_repl_offset`). A writer that has
    /// appended sees at least its own end here.
    pub fn reserved_end(&self) -> u64 {
        // Acquire: every reservation whose commit we see is visible in `word` (see `full`).
        let near = self.ring.committed.load(Ordering::Acquire);
        full(self.ring.word.load(Ordering::Acquire), near)
    }

    /// The position below which every byte is in place: readers read up to here.
    pub fn published_end(&self) -> u64 {
        self.ring.published.load(Ordering::Acquire)
    }

    /// Reserves the bytes of one record. `plan` gets the database the stream last selected and
    /// returns the record's length and the database selected after it; it may run more than
    /// once. `floor` is the oldest position a reader still needs (u64::MAX: none).
    pub fn reserve(
        &self,
        floor: u64,
        plan: impl Fn(Option<usize>) -> (u64, Option<usize>),
    ) -> Result<Reserved<'_>, Refused> {
        let ring = &self.ring;
        loop {
            let near = ring.committed.load(Ordering::Acquire);
            // Acquire, and the size read after it: a word from a reopened ring comes with that
            // ring's size (stored before the word; see `reconfigure`). Reading the size first
            // let a writer paused between the two loads check a pin against a ring that had
            // since shrunk while others wrote on (the stress test below caught it once).
            let word = ring.word.load(Ordering::Acquire);
            let size = ring.size.load(Ordering::Relaxed);
            if ring.committed.load(Ordering::Relaxed) < near {
                // Reconfigured to an earlier offset since `near` was read (a replica's full
                // sync): `near` no longer rebuilds this word's offset.
                continue;
            }
            if word & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            let prev_db = db_of(word);
            let (len, last_db) = plan(prev_db);
            let start = full(word, near);
            if floor != u64::MAX && (start + len).saturating_sub(size) > floor {
                return Err(Refused::NoRoom);
            }
            // Acquire: a reopened ring's new storage pointer is visible once we see its word.
            // The CAS can still land in a ring reopened with this same word (nobody wrote in
            // between) but a smaller size than we checked: the end is then exactly where the
            // shrink found it, with every pin within half the new size of it (the feed's rule),
            // so only a record longer than that half could reach a pin (its replica then finds
            // its position gone and resyncs; never a wrong byte).
            match ring.word.compare_exchange_weak(
                word,
                pack(start + len, last_db),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // Release: a reader that sees any byte we store below also sees this
                    // reservation when it re-reads `word` after its acquire fence.
                    fence(Ordering::Release);
                    let ptr = ring.storage.load(Ordering::Acquire);
                    // SAFETY: an open ring always has storage (reopen installs it before it
                    // clears the closed bit), and storage is replaced only after `close` saw
                    // every reservation committed, which ours is not until `Reserved` drops.
                    let storage = unsafe { ptr.as_ref() };
                    debug_assert!(storage.is_some(), "an open ring has storage");
                    return Ok(Reserved {
                        ring,
                        storage,
                        prev_db,
                        start,
                        at: start,
                        end: start + len,
                    });
                }
                Err(_) => continue,
            }
        }
    }

    /// Takes the mutex: the owner's state, reads, and reconfiguration.
    pub fn lock(&self) -> Locked<'_, S> {
        Locked {
            ring: &self.ring,
            state: self.slow.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

impl<S> Drop for Backlog<S> {
    fn drop(&mut self) {
        let ptr = *self.ring.storage.get_mut();
        if !ptr.is_null() {
            // SAFETY: we own the ring exclusively (`&mut self`) and the pointer came from
            // Box::into_raw in `reconfigure`.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

/// A reserved range being filled; dropping it commits (and maybe publishes) the record.
pub struct Reserved<'a> {
    ring: &'a Ring,
    storage: Option<&'a Storage>,
    prev_db: Option<usize>,
    start: u64,
    at: u64,
    end: u64,
}

impl Reserved<'_> {
    /// The database the stream had selected before this record (what `plan` was given).
    pub fn prev_db(&self) -> Option<usize> {
        self.prev_db
    }

    /// Copies the next bytes of the record.
    pub fn put(&mut self, bytes: &[u8]) {
        let Some(storage) = self.storage else {
            self.at += bytes.len() as u64;
            return;
        };
        debug_assert!(self.at + bytes.len() as u64 <= self.end, "within the plan");
        // A record larger than the ring keeps only its tail.
        let keep_from = self.end.saturating_sub(storage.size_bytes() as u64);
        let skip = (keep_from.saturating_sub(self.at) as usize).min(bytes.len());
        storage.copy_in(self.at + skip as u64, &bytes[skip..]);
        self.at += bytes.len() as u64;
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        debug_assert_eq!(self.at, self.end, "a record fills its reservation");
        let reserved_len = self.end - self.start;
        // AcqRel: our bytes happen-before whoever publishes past them, and the reservations
        // of commits before ours are visible to the `word` load below.
        let committed = self
            .ring
            .committed
            .fetch_add(reserved_len, Ordering::AcqRel)
            + reserved_len;
        let reserved = full(self.ring.word.load(Ordering::Acquire), committed);
        if committed == reserved {
            self.ring.published.fetch_max(committed, Ordering::Release);
        }
    }
}

/// The ring under its mutex.
pub struct Locked<'a, S> {
    ring: &'a Ring,
    pub state: MutexGuard<'a, S>,
}

/// What a reconfiguration may change.
pub struct Shape {
    pub storage: Option<Box<Storage>>,
    /// The stream position after the last byte.
    pub offset: u64,
    /// The database the stream last selected (None: the next record selects).
    pub db: Option<usize>,
}

impl<S> Locked<'_, S> {
    fn storage(&self) -> Option<&Storage> {
        // SAFETY: storage is replaced only by `reconfigure`, which needs `&mut self` of the one
        // Locked that the mutex lets exist; this borrow of `self` ends before that.
        unsafe { self.ring.storage.load(Ordering::Acquire).as_ref() }
    }

    /// The ring's size, the position of the oldest byte held, and the end; None without one.
    pub fn range(&self) -> Option<(usize, u64, u64)> {
        let s = self.storage()?;
        let near = self.ring.committed.load(Ordering::Acquire);
        let end = full(self.ring.word.load(Ordering::Acquire), near);
        let start = s.base.max(end.saturating_sub(s.size_bytes() as u64));
        Some((s.size_bytes(), start, end))
    }

    /// Copies published bytes from position `from` (at most `max_bytes`) to `out` and returns
    /// the position after them; None (nothing copied) when `from` is not or no longer held.
    pub fn read(&self, from: u64, max_bytes: usize, out: &mut Vec<u8>) -> Option<u64> {
        let s = self.storage()?;
        let size = s.size_bytes() as u64;
        let published = self.ring.published.load(Ordering::Acquire);
        let held_from = |ring: &Ring| {
            let near = ring.committed.load(Ordering::Acquire);
            let reserved = full(ring.word.load(Ordering::Relaxed), near);
            s.base.max(reserved.saturating_sub(size))
        };
        if from > published || from < held_from(self.ring) {
            return None;
        }
        let to = published.min(from.saturating_add(max_bytes as u64));
        let before = out.len();
        s.copy_out(from, to, out);
        // Acquire fence: had a writer's store reached one of the bytes just loaded, its
        // reservation is visible now (it fenced with release after reserving).
        fence(Ordering::Acquire);
        if from < held_from(self.ring) {
            out.truncate(before);
            return None;
        }
        Some(to)
    }

    /// Closes the ring, waits for the copies in flight, lets `f` change it, reopens it.
    pub fn reconfigure<R>(&mut self, f: impl FnOnce(&mut Shape) -> R) -> R {
        let ring = self.ring;
        let word = ring.word.fetch_or(CLOSED, Ordering::AcqRel);
        // Bounded: only reservations made before the closed bit can be in flight, each a
        // copy of one record by a running thread.
        let offset = loop {
            let committed = ring.committed.load(Ordering::Acquire);
            if committed == full(word, committed) {
                break committed;
            }
            std::thread::yield_now();
        };
        let ptr = ring.storage.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: the pointer came from Box::into_raw below; the ring is closed with nothing in
        // flight and readers hold the mutex we hold, so nobody else uses it.
        let storage = (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) });
        let mut shape = Shape {
            storage,
            offset,
            db: db_of(word),
        };
        let r = f(&mut shape);
        let open = shape.storage.is_some();
        ring.size.store(
            shape.storage.as_ref().map_or(0, |s| s.size_bytes() as u64),
            Ordering::Relaxed,
        );
        let ptr = shape.storage.map_or(std::ptr::null_mut(), Box::into_raw);
        ring.storage.store(ptr, Ordering::Release);
        ring.committed.store(shape.offset, Ordering::Release);
        ring.published.store(shape.offset, Ordering::Release);
        let closed = if open { 0 } else { CLOSED };
        ring.word
            .store(pack(shape.offset, shape.db) | closed, Ordering::Release);
        r
    }
}

impl Shape {
    /// A new ring of `size_bytes` keeping as many of the newest bytes as fit, or an empty one
    /// starting here when there was none.
    pub fn resize(&mut self, size_bytes: usize) {
        let fresh = Storage::new(size_bytes, self.offset);
        if let Some(old) = self.storage.take() {
            let keep = (fresh.size_bytes() as u64)
                .min(old.size_bytes() as u64)
                .min(self.offset - old.base);
            let from = self.offset - keep;
            let mut kept = Vec::with_capacity(keep as usize);
            old.copy_out(from, self.offset, &mut kept);
            let mut fresh = fresh;
            fresh.base = from;
            fresh.copy_in(from, &kept);
            self.storage = Some(fresh);
        } else {
            self.storage = Some(fresh);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(size: usize, base: u64) -> Backlog<()> {
        let b = Backlog::new(());
        b.lock().reconfigure(|shape| {
            shape.offset = base;
            shape.resize(size);
        });
        b
    }

    fn append(b: &Backlog<()>, bytes: &[u8]) {
        let mut r = b.reserve(u64::MAX, |db| (bytes.len() as u64, db)).unwrap();
        r.put(bytes);
    }

    fn tail(b: &Backlog<()>, from: u64) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        b.lock().read(from, usize::MAX, &mut v).map(|_| v)
    }

    #[test]
    fn keeps_the_last_size_bytes_across_wraps() {
        let b = open(BACKLOG_BYTES_MIN, 100);
        let mut all = Vec::new();
        for i in 0..5000u32 {
            let chunk = format!("<{i}>").into_bytes();
            append(&b, &chunk);
            all.extend_from_slice(&chunk);
        }
        let end = 100 + all.len() as u64;
        assert_eq!(b.reserved_end(), end);
        assert_eq!(b.published_end(), end);
        let (size, start, got_end) = b.lock().range().unwrap();
        assert_eq!(
            (size, start, got_end),
            (BACKLOG_BYTES_MIN, end - size as u64, end)
        );
        let got = tail(&b, start).unwrap();
        assert_eq!(got, all[all.len() - BACKLOG_BYTES_MIN..]);
        assert_eq!(tail(&b, end).unwrap(), b"");
        assert!(tail(&b, start - 1).is_none());
        assert!(tail(&b, end + 1).is_none());
        assert_eq!(tail(&b, start + 10).unwrap(), got[10..]);
    }

    #[test]
    fn one_record_larger_than_the_ring_keeps_its_tail() {
        let b = open(BACKLOG_BYTES_MIN, 0);
        let big: Vec<u8> = (0..BACKLOG_BYTES_MIN * 3 + 7).map(|i| i as u8).collect();
        append(&b, b"xyz");
        append(&b, &big);
        assert_eq!(b.reserved_end(), 3 + big.len() as u64);
        let start = b.lock().range().unwrap().1;
        assert_eq!(
            tail(&b, start).unwrap(),
            big[big.len() - BACKLOG_BYTES_MIN..]
        );
    }

    #[test]
    fn resize_keeps_the_newest_bytes() {
        let b = open(BACKLOG_BYTES_MIN * 2, 0);
        let data: Vec<u8> = (0..BACKLOG_BYTES_MIN + 500)
            .map(|i| (i % 251) as u8)
            .collect();
        append(&b, &data);
        b.lock().reconfigure(|s| s.resize(BACKLOG_BYTES_MIN));
        let (_, start, end) = b.lock().range().unwrap();
        assert_eq!(end, data.len() as u64);
        assert_eq!(
            tail(&b, start).unwrap(),
            data[data.len() - BACKLOG_BYTES_MIN..]
        );
        b.lock().reconfigure(|s| s.resize(BACKLOG_BYTES_MIN * 4));
        let (_, start2, _) = b.lock().range().unwrap();
        assert_eq!(start2, start, "growing keeps what was held, no more");
        append(&b, b"more");
        assert_eq!(&tail(&b, b.reserved_end() - 4).unwrap(), b"more");
    }

    #[test]
    fn the_reservation_carries_the_selected_database() {
        let b = open(BACKLOG_BYTES_MIN, 0);
        let mut r = b.reserve(u64::MAX, |_| (1, Some(7))).unwrap();
        assert_eq!(r.prev_db(), None);
        r.put(b"w");
        drop(r);
        let mut r = b.reserve(u64::MAX, |db| (1, db)).unwrap();
        assert_eq!(r.prev_db(), Some(7));
        r.put(b"x");
        drop(r);
        // A database past the tag's range is never remembered.
        let mut r = b.reserve(u64::MAX, |_| (1, Some(40_000))).unwrap();
        r.put(b"y");
        drop(r);
        assert_eq!(b.reserve(u64::MAX, |db| (0, db)).unwrap().prev_db(), None);
        assert_eq!(tail(&b, 0).unwrap(), b"wxy");
    }

    #[test]
    fn a_closed_or_full_ring_refuses() {
        let b = Backlog::new(());
        assert_eq!(
            b.reserve(u64::MAX, |db| (1, db)).err(),
            Some(Refused::Closed)
        );
        let b = open(BACKLOG_BYTES_MIN, 0);
        append(&b, &[0; 100]);
        let n = BACKLOG_BYTES_MIN as u64;
        // Position 50 must stay: a record that reaches past 50 + size is refused.
        assert!(b.reserve(50, |db| (n - 50, db)).is_ok_and(|mut r| {
            r.put(&vec![1; (n - 50) as usize]);
            true
        }));
        assert_eq!(b.reserve(50, |db| (1, db)).err(), Some(Refused::NoRoom));
    }

    #[test]
    fn offsets_cross_the_48_bit_boundary() {
        let base = (1u64 << 48) - 10;
        let b = open(BACKLOG_BYTES_MIN, base);
        append(&b, b"0123456789abcdefghij");
        assert_eq!(b.reserved_end(), base + 20);
        assert_eq!(tail(&b, base + 5).unwrap(), b"56789abcdefghij");
    }
}
