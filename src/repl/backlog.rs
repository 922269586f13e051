//! The replication backlog: a ring holding the last `repl-backlog-size` bytes of the stream, so
//! a replica that reconnects can continue from its offset (PSYNC) instead of a full sync.
//!
//! Offsets are stream positions: the byte at position `p` is the `p`-th byte ever appended
//! (Redis's `master_repl_offset` is the position after the last byte). The ring holds
//! positions `[end - held, end)`.

/// The smallest ring; Redis's minimum `repl-backlog-size` is 16 KiB.
pub const BACKLOG_BYTES_MIN: usize = 16 * 1024;

pub struct Backlog {
    ring: Box<[u8]>,
    /// Position after the last byte appended.
    end: u64,
    /// Bytes held, at most `ring.len()`.
    held: u64,
}

impl Backlog {
    /// An empty backlog of `size_bytes` whose next byte will be at position `end`.
    pub fn new(size_bytes: usize, end: u64) -> Backlog {
        Backlog {
            ring: vec![0; size_bytes.max(BACKLOG_BYTES_MIN)].into_boxed_slice(),
            end,
            held: 0,
        }
    }

    pub fn size_bytes(&self) -> usize {
        self.ring.len()
    }

    /// Position after the last byte.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Position of the oldest byte held.
    pub fn start(&self) -> u64 {
        self.end - self.held
    }

    pub fn held_bytes(&self) -> u64 {
        self.held
    }

    /// Appends `bytes`, overwriting the oldest when full.
    pub fn append(&mut self, bytes: &[u8]) {
        let size = self.ring.len();
        // Only the last `size` bytes can stay.
        let skip = bytes.len().saturating_sub(size);
        let mut at = ((self.end + skip as u64) % size as u64) as usize;
        let mut rest = &bytes[skip..];
        while !rest.is_empty() {
            let n = rest.len().min(size - at);
            self.ring[at..at + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            at = (at + n) % size;
        }
        self.end += bytes.len() as u64;
        self.held = (self.held + bytes.len() as u64).min(size as u64);
    }

    /// Appends the bytes from position `from` to the end to `out`; false (and nothing copied)
    /// when `from` is not in `[start, end]`.
    pub fn copy_from(&self, from: u64, out: &mut Vec<u8>) -> bool {
        self.copy_range(from, usize::MAX, out)
    }

    /// `copy_from`, at most `max_bytes`.
    pub fn copy_range(&self, from: u64, max_bytes: usize, out: &mut Vec<u8>) -> bool {
        if from < self.start() || from > self.end {
            return false;
        }
        let size = self.ring.len() as u64;
        let stop = self.end.min(from.saturating_add(max_bytes as u64));
        let mut pos = from;
        while pos < stop {
            let at = (pos % size) as usize;
            let n = ((stop - pos) as usize).min(self.ring.len() - at);
            out.extend_from_slice(&self.ring[at..at + n]);
            pos += n as u64;
        }
        true
    }

    /// Changes the ring size, keeping as many of the newest bytes as fit.
    pub fn resize(&mut self, size_bytes: usize) {
        let mut kept = Vec::new();
        let size_bytes = size_bytes.max(BACKLOG_BYTES_MIN);
        let from = self.end - self.held.min(size_bytes as u64);
        self.copy_from(from, &mut kept);
        let end = self.end;
        *self = Backlog::new(size_bytes, end - kept.len() as u64);
        self.append(&kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(b: &Backlog, from: u64) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        b.copy_from(from, &mut v).then_some(v)
    }

    #[test]
    fn keeps_the_last_size_bytes_across_wraps() {
        let mut b = Backlog::new(BACKLOG_BYTES_MIN, 100);
        let mut all = Vec::new();
        for i in 0..5000u32 {
            let chunk = format!("<{i}>").into_bytes();
            b.append(&chunk);
            all.extend_from_slice(&chunk);
        }
        assert_eq!(b.end(), 100 + all.len() as u64);
        assert_eq!(b.held_bytes(), BACKLOG_BYTES_MIN as u64);
        let start = b.start();
        let got = tail(&b, start).unwrap();
        assert_eq!(got, all[all.len() - BACKLOG_BYTES_MIN..]);
        assert_eq!(tail(&b, b.end()).unwrap(), b"");
        assert!(tail(&b, start - 1).is_none());
        assert!(tail(&b, b.end() + 1).is_none());
        let mid = tail(&b, start + 10).unwrap();
        assert_eq!(mid, got[10..]);
    }

    #[test]
    fn one_append_larger_than_the_ring_keeps_its_tail() {
        let mut b = Backlog::new(BACKLOG_BYTES_MIN, 0);
        let big: Vec<u8> = (0..BACKLOG_BYTES_MIN * 3 + 7).map(|i| i as u8).collect();
        b.append(b"xyz");
        b.append(&big);
        assert_eq!(b.end(), 3 + big.len() as u64);
        assert_eq!(
            tail(&b, b.start()).unwrap(),
            big[big.len() - BACKLOG_BYTES_MIN..]
        );
    }

    #[test]
    fn resize_keeps_the_newest_bytes() {
        let mut b = Backlog::new(BACKLOG_BYTES_MIN * 2, 0);
        let data: Vec<u8> = (0..BACKLOG_BYTES_MIN + 500)
            .map(|i| (i % 251) as u8)
            .collect();
        b.append(&data);
        b.resize(BACKLOG_BYTES_MIN);
        assert_eq!(b.end(), data.len() as u64);
        assert_eq!(
            tail(&b, b.start()).unwrap(),
            data[data.len() - BACKLOG_BYTES_MIN..]
        );
        b.resize(BACKLOG_BYTES_MIN * 4);
        assert_eq!(b.held_bytes(), BACKLOG_BYTES_MIN as u64);
        b.append(b"more");
        assert_eq!(&tail(&b, b.end() - 4).unwrap(), b"more");
    }
}
