//! The set type: an `IntSet` while every member is an integer and there are at most
//! `set-max-intset-entries` of them, a segmented table otherwise (Redis 7.0's `intset` and
//! `hashtable` encodings). A set never converts back while it lives.

use super::segtable::{Item, SegTable};
use super::smallstr::SmallStr;

/// `set-max-intset-entries`.
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    pub intset_entries_max: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits {
            intset_entries_max: 512,
        }
    }
}

impl Item for SmallStr {
    #[inline]
    fn key(&self) -> &[u8] {
        self
    }
}

/// Sorted distinct integers, each stored in the smallest width (2, 4 or 8 bytes) that holds all
/// of them, like Redis's intset. Layout: one width byte, then the values, little-endian.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet {
    buf: Box<[u8]>,
}

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl Default for IntSet {
    fn default() -> Self {
        IntSet {
            buf: vec![2u8].into_boxed_slice(),
        }
    }
}

impl IntSet {
    fn width(&self) -> usize {
        self.buf[0] as usize
    }

    pub fn len(&self) -> usize {
        (self.buf.len() - 1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The encoded buffer (for the keyspace's records, which keep small intsets inline).
    pub fn raw(&self) -> &[u8] {
        &self.buf
    }

    /// An intset from bytes `raw()` returned. The bytes are trusted: they never left the process.
    pub fn from_raw(buf: Box<[u8]>) -> IntSet {
        debug_assert!(!buf.is_empty() && matches!(buf[0], 2 | 4 | 8));
        IntSet { buf }
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let b = &self.buf[1 + i * w..1 + (i + 1) * w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    fn rebuild(width: usize, values: impl Iterator<Item = i64>, n: usize) -> IntSet {
        let mut buf = Vec::with_capacity(1 + n * width);
        buf.push(width as u8);
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        IntSet {
            buf: buf.into_boxed_slice(),
        }
    }

    /// Adds `v`; returns whether it was new.
    pub fn insert(&mut self, v: i64) -> bool {
        let Err(at) = self.search(v) else {
            return false;
        };
        let width = self.width().max(width_for(v));
        if width != self.width() {
            // Widening rewrites every value (rare: at most twice in a set's life).
            let n = self.len() + 1;
            let values = self.iter().take(at).chain([v]).chain(self.iter().skip(at));
            *self = IntSet::rebuild(width, values, n);
            return true;
        }
        // Same width: one exact realloc and one move of the tail, like Redis's intset.
        let pos = 1 + at * width;
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.reserve_exact(width);
        buf.splice(pos..pos, v.to_le_bytes()[..width].iter().copied());
        self.buf = buf.into_boxed_slice();
        true
    }

    /// Removes `v`; returns whether it was there.
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(at) = self.search(v) else {
            return false;
        };
        let w = self.width();
        let pos = 1 + at * w;
        let mut buf = std::mem::take(&mut self.buf).into_vec();
        buf.drain(pos..pos + w);
        self.buf = buf.into_boxed_slice();
        true
    }
}

/// A member as the integer an intset stores, when it is one (canonical decimal form only).
pub fn as_int(member: &[u8]) -> Option<i64> {
    if member.len() > 20 {
        return None;
    }
    crate::resp::parse::parse_i64(member)
}

#[derive(Clone)]
pub enum Set {
    Ints(IntSet),
    Table(Box<SegTable<SmallStr>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::default())
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m: Vec<Vec<u8>> = self.members();
        m.sort();
        f.debug_set()
            .entries(m.iter().map(|v| String::from_utf8_lossy(v).into_owned()))
            .finish()
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.members().iter().all(|m| other.contains(m))
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.contains(v)),
            Set::Table(t) => t.get(m).is_some(),
        }
    }

    /// Adds a member; returns whether it was new.
    pub fn insert(&mut self, m: &[u8], limits: &SetLimits) -> bool {
        if let Set::Ints(s) = self {
            match as_int(m) {
                Some(v) if s.contains(v) => return false,
                Some(v) if s.len() < limits.intset_entries_max => return s.insert(v),
                _ => self.convert(),
            }
        }
        let Set::Table(t) = self else {
            unreachable!("converted above")
        };
        t.upsert(m, |m| *m, SmallStr::new, |_, _| {})
    }

    /// Removes a member; returns whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(m).is_some_and(|v| s.remove(v)),
            Set::Table(t) => t.remove(m).is_some(),
        }
    }

    /// Every member as bytes (integers in ascending order while an intset).
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            Set::Ints(s) => s.iter().map(|v| v.to_string().into_bytes()).collect(),
            Set::Table(t) => t.iter().map(|m| m.to_vec()).collect(),
        }
    }

    /// Calls `f` with every member.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(s) => {
                let mut tmp = [0u8; 24];
                for v in s.iter() {
                    f(crate::resp::reply::fmt_i64(&mut tmp, v));
                }
            }
            Set::Table(t) => t.iter().for_each(|m| f(m)),
        }
    }

    /// A random member, from the random number `r`.
    pub fn random(&self, r: u64) -> Option<Vec<u8>> {
        match self {
            Set::Ints(s) if s.is_empty() => None,
            Set::Ints(s) => Some(
                s.get((r % s.len() as u64) as usize)
                    .to_string()
                    .into_bytes(),
            ),
            Set::Table(t) => t.random(r).map(|m| m.to_vec()),
        }
    }

    /// One SSCAN step: an intset returns everything with cursor 0 (as Redis does); a table
    /// walks one segment per step with SCAN's guarantee.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Ints(_) => {
                self.for_each(f);
                0
            }
            Set::Table(t) => t.scan(cursor, |m| f(m)),
        }
    }

    /// Builds a set from members, choosing the encoding as SADD would.
    pub fn from_members<'a>(
        members: impl IntoIterator<Item = &'a [u8]>,
        limits: &SetLimits,
    ) -> Set {
        let mut s = Set::default();
        for m in members {
            s.insert(m, limits);
        }
        s
    }

    fn convert(&mut self) {
        if let Set::Ints(s) = self {
            let mut t = SegTable::new();
            for v in s.iter() {
                t.insert(SmallStr::new(v.to_string().as_bytes()));
            }
            *self = Set::Table(Box::new(t));
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Ints(s) => s.bytes(),
            Set::Table(t) => t.len() * 40,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn intset_widens_and_converts() {
        let limits = SetLimits {
            intset_entries_max: 4,
        };
        let mut s = Set::default();
        assert!(s.insert(b"5", &limits));
        assert!(!s.insert(b"5", &limits));
        assert!(s.insert(b"-70000", &limits));
        assert!(s.insert(b"9223372036854775807", &limits));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.members(),
            vec![
                b"-70000".to_vec(),
                b"5".to_vec(),
                b"9223372036854775807".to_vec()
            ]
        );
        assert!(s.insert(b"007", &limits), "not canonical: a string member");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"5") && s.contains(b"007") && !s.contains(b"7"));
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u8..3, -40i64..40, proptest::bool::ANY), 1..300)) {
            let limits = SetLimits { intset_entries_max: 16 };
            let mut s = Set::default();
            let mut model = BTreeSet::new();
            for (op, v, text) in ops {
                // Some values need 4 or 8 bytes, so the intset widens under the model too.
                let wide = match v.rem_euclid(5) { 0 => v * 100_000, 1 => v * 10_000_000_000, _ => v };
                let m = if text { format!("m{v}") } else { wide.to_string() }.into_bytes();
                match op {
                    0 => proptest::prop_assert_eq!(s.insert(&m, &limits), model.insert(m)),
                    1 => proptest::prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    _ => proptest::prop_assert_eq!(s.contains(&m), model.contains(&m)),
                }
                proptest::prop_assert_eq!(s.len(), model.len());
            }
            let got: BTreeSet<Vec<u8>> = s.members().into_iter().collect();
            proptest::prop_assert_eq!(got, model);
        }
    }
}
