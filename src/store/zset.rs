//! The sorted-set type: a `Pack` of (member, score) pairs in order while small (Redis's
//! `listpack`), a member → score table plus an order-statistics tree (`ZTree`) past
//! `zset-max-listpack-entries` / `zset-max-listpack-value` (Redis's `skiplist`).
//!
//! Everything the commands need is expressed as three primitives over the (score, member)
//! order: `count_before` (a rank bound), `range` (entries by rank) and point lookups, so the
//! commands are written once for both encodings.

use super::pack::Pack;
use super::segtable::{Item, SegTable};
use super::smallstr::SmallStr;
use super::ztree::{cmp_entry, ZTree};

/// `zset-max-listpack-entries` / `zset-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
pub struct ZSetLimits {
    pub entries_max: usize,
    pub value_bytes_max: usize,
}

impl Default for ZSetLimits {
    fn default() -> Self {
        ZSetLimits {
            entries_max: 128,
            value_bytes_max: 64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct MemberScore {
    pub member: SmallStr,
    pub score: f64,
}

impl Item for MemberScore {
    #[inline]
    fn key(&self) -> &[u8] {
        &self.member
    }
}

#[derive(Clone, Default)]
pub struct Big {
    scores: SegTable<MemberScore>,
    order: ZTree,
}

#[derive(Clone)]
pub enum ZSet {
    /// member, score (`encode_score`) ... in (score, member) order.
    Pack(Pack),
    Big(Box<Big>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::new())
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.range(0, self.len())
                    .into_iter()
                    .map(|(s, m)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.range(0, self.len()) == other.range(0, other.len())
    }
}

fn decode_score(b: &[u8]) -> f64 {
    if b.len() == 8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        return f64::from_le_bytes(a);
    }
    // Shorter: a small integer score in decimal (see `encode_score`).
    std::str::from_utf8(b)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .map_or(0.0, |v| v as f64)
}

/// A score as stored in a pack: small integers (the common case: ranks, counters, timestamps
/// in seconds) as at most 7 decimal characters, anything else as the 8 bytes of the double.
/// The length tells which (Redis's listpack does the same for its integer scores).
fn encode_score(score: f64, buf: &mut [u8; 24]) -> &[u8] {
    // |score| < 1e6 has at most 7 characters with its sign; -0.0 must keep its sign bit.
    if score.fract() == 0.0 && score.abs() < 1e6 && !(score == 0.0 && score.is_sign_negative()) {
        return crate::resp::reply::fmt_i64(buf, score as i64);
    }
    buf[..8].copy_from_slice(&score.to_le_bytes());
    &buf[..8]
}

/// The pairs of a packed sorted set, in order.
fn packed(p: &Pack) -> Vec<(f64, &[u8])> {
    let mut out = Vec::with_capacity(p.len() / 2);
    let mut it = p.iter();
    while let (Some(m), Some(s)) = (it.next(), it.next()) {
        out.push((decode_score(s), m));
    }
    out
}

impl ZSet {
    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len() / 2,
            ZSet::Big(b) => b.scores.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Big(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => packed(p)
                .into_iter()
                .find(|(_, m)| *m == member)
                .map(|(s, _)| s),
            ZSet::Big(b) => b.scores.get(member).map(|ms| ms.score),
        }
    }

    /// Sets the score of `member`, adding it when absent; returns whether it was added.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &ZSetLimits) -> bool {
        if let ZSet::Pack(p) = self {
            let existed = remove_packed(p, member);
            let fits = member.len() <= limits.value_bytes_max
                && (existed || p.len() / 2 < limits.entries_max);
            if fits {
                let at = p
                    .iter_pos()
                    .collect::<Vec<_>>()
                    .chunks(2)
                    .find(|pair| {
                        cmp_entry(decode_score(pair[1].1), pair[0].1, score, member).is_gt()
                    })
                    .map_or(p.bytes(), |pair| pair[0].0.start);
                let mut tmp = [0u8; 24];
                p.insert_at(at, encode_score(score, &mut tmp));
                p.insert_at(at, member);
                return !existed;
            }
            if existed {
                // Put it back so that the conversion sees the whole set, then update below.
                self.convert();
                let ZSet::Big(b) = self else {
                    unreachable!("converted")
                };
                b.scores.insert(MemberScore {
                    member: SmallStr::new(member),
                    score,
                });
                b.order.insert(score, member);
                return false;
            }
            self.convert();
        }
        let ZSet::Big(b) = self else {
            unreachable!("converted above")
        };
        match b.scores.get_mut(member) {
            Some(ms) => {
                let old = ms.score;
                ms.score = score;
                b.order.remove(old, member);
                b.order.insert(score, member);
                false
            }
            None => {
                b.scores.insert(MemberScore {
                    member: SmallStr::new(member),
                    score,
                });
                b.order.insert(score, member);
                true
            }
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => remove_packed(p, member),
            ZSet::Big(b) => match b.scores.remove(member) {
                Some(ms) => {
                    b.order.remove(ms.score, member);
                    true
                }
                None => false,
            },
        }
    }

    /// How many entries sort before the bound; `before` must be monotone over the order.
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => packed(p)
                .into_iter()
                .take_while(|(s, m)| before(*s, m))
                .count(),
            ZSet::Big(b) => b.order.count_before(before),
        }
    }

    /// Entries of ranks `[from, to)`, ascending.
    pub fn range(&self, from: usize, to: usize) -> Vec<(f64, &[u8])> {
        let to = to.min(self.len());
        if from >= to {
            return Vec::new();
        }
        match self {
            ZSet::Pack(p) => packed(p)[from..to].to_vec(),
            ZSet::Big(b) => b.order.range(from, to),
        }
    }

    /// The rank of `member` (ascending), if present.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_before(|s, m| cmp_entry(s, m, score, member).is_lt()))
    }

    /// One ZSCAN step: packed sets return everything with cursor 0; large ones walk the
    /// member table one segment per step with SCAN's guarantee.
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match self {
            ZSet::Pack(p) => {
                for (s, m) in packed(p) {
                    f(m, s);
                }
                0
            }
            ZSet::Big(b) => b.scores.scan(cursor, |ms| f(&ms.member, ms.score)),
        }
    }

    /// A random entry from the random number `r`.
    pub fn random(&self, r: u64) -> Option<(f64, &[u8])> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match self {
            ZSet::Pack(_) => self.range(0, n).get((r % n as u64) as usize).copied(),
            ZSet::Big(b) => b.scores.random(r).map(|ms| (ms.score, &*ms.member)),
        }
    }

    fn convert(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut big = Big::default();
            for (s, m) in packed(p) {
                big.scores.insert(MemberScore {
                    member: SmallStr::new(m),
                    score: s,
                });
                big.order.insert(s, m);
            }
            *self = ZSet::Big(Box::new(big));
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.bytes(),
            ZSet::Big(b) => b.scores.len() * 100,
        }
    }
}

/// Removes `member` and its score from a packed set; returns whether it was there.
fn remove_packed(p: &mut Pack, member: &[u8]) -> bool {
    let pos: Vec<_> = p.iter_pos().collect();
    for pair in pos.chunks(2) {
        if pair.len() == 2 && pair[0].1 == member {
            let (start, end) = (pair[0].0.start, pair[1].0.end);
            p.remove_range(start, end, 2);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    proptest::proptest! {
        /// Random inserts, updates and removes agree with a model across both encodings.
        #[test]
        fn behaves_like_a_model(ops in proptest::collection::vec((0u8..3, 0u8..30, -20i32..20), 1..300)) {
            let limits = ZSetLimits { entries_max: 8, value_bytes_max: 64 };
            let mut z = ZSet::default();
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            for (op, m, s) in ops {
                let member = format!("m{m}").into_bytes();
                let score = s as f64 / 2.0;
                match op {
                    0 => proptest::prop_assert_eq!(z.insert(&member, score, &limits), model.insert(member, score).is_none()),
                    1 => proptest::prop_assert_eq!(z.remove(&member), model.remove(&member).is_some()),
                    _ => proptest::prop_assert_eq!(z.score(&member), model.get(&member).copied()),
                }
                let mut want: Vec<(f64, Vec<u8>)> = model.iter().map(|(m, s)| (*s, m.clone())).collect();
                want.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
                let got: Vec<(f64, Vec<u8>)> = z.range(0, z.len()).into_iter().map(|(s, m)| (s, m.to_vec())).collect();
                proptest::prop_assert_eq!(&got, &want);
                for (i, (_, m)) in want.iter().enumerate() {
                    proptest::prop_assert_eq!(z.rank(m), Some(i));
                }
            }
        }
    }
}
