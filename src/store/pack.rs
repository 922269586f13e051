//! `Pack`: a small collection's elements in one exact-size buffer (the role of Redis's listpack).
//!
//! Layout: a 4-byte little-endian element count, then the elements back to back, each a LEB128
//! length followed by its bytes. One allocation, one or two bytes of overhead per element.
//! Every operation is a linear scan, which is what keeps it compact; the collection types
//! convert to a real table past the `*-max-listpack-*` thresholds, so the scans stay short.
//! The buffer is reallocated on every change, as Redis's listpack is.

/// Elements a pack may hold at most (the thresholds are far below; this bounds the count field).
pub const PACK_ELEMENTS_MAX: usize = u32::MAX as usize;

#[derive(Clone, PartialEq, Eq)]
pub struct Pack {
    buf: Box<[u8]>,
}

impl Default for Pack {
    fn default() -> Self {
        Pack::new()
    }
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Where an element sits in the buffer: `[start, end)` including its length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub start: usize,
    pub end: usize,
}

/// Bytes a LEB128 length prefix takes at most (a `usize`).
const PREFIX_BYTES_MAX: usize = 10;

/// The LEB128 length prefix of an element of `n` bytes, in a buffer and its used length.
fn len_prefix(mut n: usize) -> ([u8; PREFIX_BYTES_MAX], usize) {
    let mut out = [0u8; PREFIX_BYTES_MAX];
    let mut i = 0;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out[i] = byte;
            return (out, i + 1);
        }
        out[i] = byte | 0x80;
        i += 1;
    }
}

impl Pack {
    pub fn new() -> Pack {
        Pack {
            buf: vec![0u8; 4].into_boxed_slice(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the buffer takes.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The encoded buffer (for the keyspace's records, which keep small packs inline).
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }

    /// A pack from bytes `raw()` returned. The bytes are trusted: they never left the process.
    pub fn from_raw(buf: Box<[u8]>) -> Pack {
        debug_assert!(buf.len() >= 4);
        Pack { buf }
    }

    fn set_len(buf: &mut [u8], n: usize) {
        buf[..4].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// The element starting at byte `at`, and where the next one starts.
    fn read(&self, at: usize) -> (&[u8], usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut i = at;
        loop {
            let b = self.buf[i];
            i += 1;
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (&self.buf[i..i + n], i + n)
    }

    /// Elements in order.
    pub fn iter(&self) -> PackIter<'_> {
        PackIter {
            pack: self,
            at: 4,
            left: self.len(),
        }
    }

    /// Elements with their positions, in order.
    pub fn iter_pos(&self) -> impl Iterator<Item = (Pos, &[u8])> {
        let mut at = 4;
        (0..self.len()).map(move |_| {
            let (v, next) = self.read(at);
            let pos = Pos {
                start: at,
                end: next,
            };
            at = next;
            (pos, v)
        })
    }

    /// The element at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.iter().nth(index)
    }

    /// Replaces the bytes in `[start, end)` with the concatenation of `parts`, adjusting the
    /// count by `delta`.
    fn splice(&mut self, start: usize, end: usize, parts: &[&[u8]], delta: isize) {
        // In place: the buffer is resized by realloc (usually without moving, the allocator's
        // size classes leave room) and the tail moved once, like Redis's listpack insert. No
        // temporary buffer: the parts are copied straight into the gap.
        let n = (self.len() as isize + delta) as usize;
        let add: usize = parts.iter().map(|p| p.len()).sum();
        let removed = end - start;
        let mut v = std::mem::take(&mut self.buf).into_vec();
        let old_len = v.len();
        if add > removed {
            // Exact growth: a doubled capacity would be kept by the allocator after the shrink
            // back to a boxed slice, wasting up to half of every pack.
            v.reserve_exact(add - removed);
            v.resize(old_len + add - removed, 0);
            v.copy_within(end..old_len, start + add);
        } else if add < removed {
            v.copy_within(end..old_len, start + add);
            v.truncate(old_len - (removed - add));
        }
        let mut at = start;
        for p in parts {
            v[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        debug_assert!(n <= PACK_ELEMENTS_MAX);
        Pack::set_len(&mut v, n);
        self.buf = v.into_boxed_slice();
    }

    /// Replaces `[start, end)` with one element `v` (its prefix and bytes).
    fn splice_one(&mut self, start: usize, end: usize, v: &[u8], delta: isize) {
        let (prefix, k) = len_prefix(v.len());
        self.splice(start, end, &[&prefix[..k], v], delta);
    }

    /// Appends elements at the end.
    pub fn push_back(&mut self, vals: &[&[u8]]) {
        let end = self.buf.len();
        if let [v] = vals {
            return self.splice_one(end, end, v, 1);
        }
        let mut add = Vec::new();
        for v in vals {
            let (prefix, k) = len_prefix(v.len());
            add.extend_from_slice(&prefix[..k]);
            add.extend_from_slice(v);
        }
        self.splice(end, end, &[&add], vals.len() as isize);
    }

    /// Inserts an element before byte position `at` (an element start, or the end).
    pub fn insert_at(&mut self, at: usize, v: &[u8]) {
        self.splice_one(at, at, v, 1);
    }

    /// The byte position where elements start (the insert position of a new first element).
    pub fn first_pos(&self) -> usize {
        4
    }

    /// Removes the elements spanning `[start, end)`, `count` of them.
    pub fn remove_range(&mut self, start: usize, end: usize, count: usize) {
        self.splice(start, end, &[], -(count as isize));
    }

    /// Replaces the element at `pos` with `v`.
    pub fn replace(&mut self, pos: Pos, v: &[u8]) {
        self.splice_one(pos.start, pos.end, v, 0);
    }
}

pub struct PackIter<'a> {
    pack: &'a Pack,
    at: usize,
    left: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (v, next) = self.pack.read(self.at);
        self.at = next;
        self.left -= 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Random pushes, inserts, replaces and removes agree with a Vec model.
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec((0u8..4, 0usize..40, 0usize..300), 1..200)) {
            let mut p = Pack::new();
            let mut model: Vec<Vec<u8>> = Vec::new();
            for (op, i, len) in ops {
                let v: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
                match op {
                    0 => { p.push_back(&[&v]); model.push(v); }
                    1 => {
                        let i = i.min(model.len());
                        let at = p.iter_pos().nth(i).map_or(p.bytes(), |(pos, _)| pos.start);
                        p.insert_at(at, &v);
                        model.insert(i, v);
                    }
                    2 if !model.is_empty() => {
                        let i = i % model.len();
                        let (pos, _) = p.iter_pos().nth(i).unwrap();
                        p.replace(pos, &v);
                        model[i] = v;
                    }
                    _ if !model.is_empty() => {
                        let i = i % model.len();
                        let (pos, _) = p.iter_pos().nth(i).unwrap();
                        p.remove_range(pos.start, pos.end, 1);
                        model.remove(i);
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(p.len(), model.len());
                let got: Vec<Vec<u8>> = p.iter().map(|s| s.to_vec()).collect();
                proptest::prop_assert_eq!(&got, &model);
            }
        }
    }
}
