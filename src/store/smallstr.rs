//! `SmallStr`: the byte strings of the keyspace (keys and string values) in 24 bytes.
//!
//! Most keys and many values are short, so up to `INLINE_BYTES_MAX` bytes live inside the
//! struct itself: no allocation, and a lookup that reaches the entry has the key in the same
//! cache line. Longer strings take one exact-size allocation. A string that is grown in place
//! (APPEND, SETRANGE, SETBIT) switches to a growable buffer with spare capacity, so repeated
//! appends stay amortised O(1), as Redis's raw encoding does.

use std::ops::Deref;

/// Bytes stored inline (the struct is 24 bytes: 22 of data, a length, the variant tag).
pub const INLINE_BYTES_MAX: usize = 22;

#[derive(Clone)]
pub enum SmallStr {
    Inline {
        len: u8,
        buf: [u8; INLINE_BYTES_MAX],
    },
    /// Exactly sized.
    Boxed(Box<[u8]>),
    /// Grown in place; keeps spare capacity.
    Growable(Box<Vec<u8>>),
}

impl SmallStr {
    pub fn new(b: &[u8]) -> SmallStr {
        if b.len() <= INLINE_BYTES_MAX {
            let mut buf = [0u8; INLINE_BYTES_MAX];
            buf[..b.len()].copy_from_slice(b);
            SmallStr::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            SmallStr::Boxed(b.into())
        }
    }

    /// Takes a buffer's bytes: inline when short, else the buffer trimmed to its length.
    pub fn from_vec(v: Vec<u8>) -> SmallStr {
        if v.len() <= INLINE_BYTES_MAX {
            SmallStr::new(&v)
        } else {
            SmallStr::Boxed(v.into_boxed_slice())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SmallStr::Inline { len, buf } => &buf[..*len as usize],
            SmallStr::Boxed(b) => b,
            SmallStr::Growable(v) => v,
        }
    }

    /// The bytes as a growable buffer, converting first if needed.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if !matches!(self, SmallStr::Growable(_)) {
            *self = SmallStr::Growable(Box::new(self.as_bytes().to_vec()));
        }
        match self {
            SmallStr::Growable(v) => v,
            _ => unreachable!("converted just above"),
        }
    }

    /// Replaces a long string's bytes with `b` in its own buffer, when both are long (what
    /// `new(b)` would box): same length, a copy; else the allocator resizes it, in place
    /// when the size class allows. Saves an allocation and the free of a block that is cold by
    /// now (SET over an existing value). False, and nothing done, otherwise.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        let SmallStr::Boxed(old) = self else {
            return false;
        };
        if b.len() <= INLINE_BYTES_MAX {
            return false;
        }
        if old.len() == b.len() {
            old.copy_from_slice(b);
        } else {
            let mut v = std::mem::take(old).into_vec();
            v.clear();
            v.reserve_exact(b.len());
            v.extend_from_slice(b);
            *old = v.into_boxed_slice();
        }
        true
    }

    /// Whether the string was grown in place (Redis's `raw` encoding).
    pub fn is_growable(&self) -> bool {
        matches!(self, SmallStr::Growable(_))
    }

    /// Heap bytes held besides the struct itself.
    pub fn heap_bytes(&self) -> usize {
        match self {
            SmallStr::Inline { .. } => 0,
            SmallStr::Boxed(b) => b.len(),
            SmallStr::Growable(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

impl Deref for SmallStr {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and Eq agree with those of the bytes, so `[u8]` can look up `SmallStr` keys.
impl std::borrow::Borrow<[u8]> for SmallStr {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for SmallStr {
    fn eq(&self, other: &SmallStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallStr {}

impl std::hash::Hash for SmallStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl std::fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for SmallStr {
    fn from(b: &[u8]) -> SmallStr {
        SmallStr::new(b)
    }
}

impl From<Vec<u8>> for SmallStr {
    fn from(v: Vec<u8>) -> SmallStr {
        SmallStr::from_vec(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrite_only_replaces_long_with_long() {
        let long = |n: usize| (0..n).map(|i| i as u8).collect::<Vec<u8>>();
        let mut s = SmallStr::new(&long(100));
        for n in [100, 200, INLINE_BYTES_MAX + 1, 64] {
            assert!(s.overwrite(&long(n).iter().rev().copied().collect::<Vec<_>>()));
            assert_eq!(s.as_bytes().len(), n);
            assert_eq!(s.as_bytes()[0], (n - 1) as u8);
            assert!(matches!(s, SmallStr::Boxed(_)));
        }
        assert!(!s.overwrite(b"short"));
        assert_eq!(s.as_bytes().len(), 64);
        assert!(!SmallStr::new(b"short").overwrite(&long(100)));
        let mut grown = SmallStr::new(&long(100));
        grown.make_mut();
        assert!(!grown.overwrite(&long(100)));
    }

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<SmallStr>(), 24);
    }

    #[test]
    fn inline_boxed_and_growable_hold_the_same_bytes() {
        for len in [0, 1, INLINE_BYTES_MAX, INLINE_BYTES_MAX + 1, 1000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let s = SmallStr::new(&data);
            assert_eq!(&*s, &data[..]);
            assert_eq!(
                matches!(s, SmallStr::Inline { .. }),
                len <= INLINE_BYTES_MAX
            );
            assert_eq!(SmallStr::from_vec(data.clone()), s);
            let mut g = s.clone();
            g.make_mut().extend_from_slice(b"xyz");
            assert!(g.is_growable());
            assert_eq!(&g[..len], &data[..]);
            assert_eq!(&g[len..], b"xyz");
        }
    }
}
