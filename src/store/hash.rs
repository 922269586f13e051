//! The hash type: field → value, as a `Pack` while small and a segmented table past the
//! thresholds (Redis's `listpack` and `hashtable` encodings).
//!
//! A hash converts to the table when it gets more than `hash-max-listpack-entries` fields or a
//! field or value longer than `hash-max-listpack-value` bytes, and never converts back while it
//! lives (as in Redis; a reload makes a small one compact again).

use super::pack::{Pack, Pos};
use super::segtable::{Item, SegTable};
use super::smallstr::SmallStr;

/// The thresholds of the compact encoding (`hash-max-listpack-entries`/`-value`).
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub entries_max: usize,
    pub value_bytes_max: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            entries_max: 512,
            value_bytes_max: 64,
        }
    }
}

/// One field of a large hash.
#[derive(Clone, Debug)]
pub struct FieldValue {
    pub field: SmallStr,
    pub value: SmallStr,
}

impl Item for FieldValue {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.field
    }
}

#[derive(Clone)]
pub enum Hash {
    /// field, value, field, value ... in insertion order.
    Pack(Pack),
    Table(Box<SegTable<FieldValue>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::new())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

/// Where a field sits in a packed hash: its position and its value's.
fn find_packed(p: &Pack, field: &[u8]) -> Option<(Pos, Pos)> {
    let mut it = p.iter_pos();
    while let Some((fpos, f)) = it.next() {
        let (vpos, _) = it.next()?;
        if f == field {
            return Some((fpos, vpos));
        }
    }
    None
}

impl Hash {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's name of the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => {
                let mut it = p.iter();
                while let Some(f) = it.next() {
                    let v = it.next()?;
                    if f == field {
                        return Some(v);
                    }
                }
                None
            }
            Hash::Table(t) => t.get(field).map(|fv| &*fv.value),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets a field; returns true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if let Hash::Pack(p) = self {
            let fits =
                field.len() <= limits.value_bytes_max && value.len() <= limits.value_bytes_max;
            match find_packed(p, field) {
                Some((_, vpos)) if fits => {
                    p.replace(vpos, value);
                    return false;
                }
                None if fits && p.len() / 2 < limits.entries_max => {
                    p.push_back(&[field, value]);
                    return true;
                }
                _ => self.convert(),
            }
        }
        let Hash::Table(t) = self else {
            unreachable!("converted above")
        };
        t.upsert(
            (field, value),
            |(f, _)| f,
            |(f, v)| FieldValue {
                field: f.into(),
                value: v.into(),
            },
            |fv, (_, v)| fv.value = v.into(),
        )
    }

    /// Removes a field; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => match find_packed(p, field) {
                Some((fpos, vpos)) => {
                    p.remove_range(fpos.start, vpos.end, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Fields and values; in insertion order while packed, else in table order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Pack(p) => {
                let mut it = p.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?, it.next()?))))
            }
            Hash::Table(t) => Box::new(t.iter().map(|fv| (&*fv.field, &*fv.value))),
        }
    }

    /// The field at position `i` of `iter()` order (for random picks on packed hashes), or, for
    /// tables, a random field chosen from the random number `r`.
    pub fn random(&self, r: u64) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(_) => {
                let n = self.len();
                if n == 0 {
                    return None;
                }
                self.iter().nth((r % n as u64) as usize)
            }
            Hash::Table(t) => t.random(r).map(|fv| (&*fv.field, &*fv.value)),
        }
    }

    /// One HSCAN step: packed hashes return everything with cursor 0 (as Redis does for its
    /// listpack encoding); tables walk one segment per step with SCAN's guarantee.
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a [u8], &'a [u8])) -> u64 {
        match self {
            Hash::Pack(_) => {
                for (k, v) in self.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(t) => t.scan(cursor, |fv| f(&fv.field, &fv.value)),
        }
    }

    /// Switches a packed hash to the table encoding.
    pub fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut t = SegTable::new();
            let mut it = p.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                t.insert(FieldValue {
                    field: f.into(),
                    value: v.into(),
                });
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Heap bytes held (approximate, for MEMORY USAGE and INFO).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Pack(p) => p.bytes(),
            Hash::Table(t) => t.len() * (std::mem::size_of::<FieldValue>() + 16),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn converts_past_the_entry_and_value_limits() {
        let limits = HashLimits {
            entries_max: 4,
            value_bytes_max: 8,
        };
        let mut h = Hash::default();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &limits));
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f4", b"v", &limits);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);

        let mut h = Hash::default();
        h.set(b"f", b"short", &limits);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"longer than eight", &limits);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"longer than eight"[..]));
    }

    proptest::proptest! {
        /// Random sets and removes agree with a map model in both encodings.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..3, 0u16..40, 0usize..12), 1..300)) {
            let limits = HashLimits { entries_max: 16, value_bytes_max: 10 };
            let mut h = Hash::default();
            let mut model = BTreeMap::new();
            for (op, f, len) in ops {
                let field = format!("f{f}").into_bytes();
                let value = vec![b'x'; len];
                match op {
                    0 => proptest::prop_assert_eq!(
                        h.set(&field, &value, &limits),
                        model.insert(field, value).is_none()
                    ),
                    1 => proptest::prop_assert_eq!(h.remove(&field), model.remove(&field).is_some()),
                    _ => proptest::prop_assert_eq!(h.get(&field), model.get(&field).map(|v| &v[..])),
                }
                proptest::prop_assert_eq!(h.len(), model.len());
            }
            let mut got: Vec<(Vec<u8>, Vec<u8>)> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            got.sort();
            let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
