//! The list type: a quicklist, a deque of `Pack` nodes, each bounded by `list-max-listpack-size`
//! (Redis 7.0's only list encoding, reported as `quicklist` however short the list is).
//!
//! Pushes and pops at either end touch only the end node; positional reads walk node counts
//! first, then one node. Edits in the middle (LSET, LINSERT, LREM, LTRIM) rebuild the nodes they
//! touch, which keeps every node within its bound.

use std::collections::VecDeque;

use super::pack::Pack;

/// `list-max-listpack-size`: negative values bound a node's bytes (-1 → 4 KiB ... -5 → 64 KiB),
/// positive ones its element count.
#[derive(Clone, Copy, Debug)]
pub struct ListLimits {
    pub node_size: i64,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits { node_size: -2 }
    }
}

impl ListLimits {
    /// Whether a node holding `pack` may take one more element of `len` bytes.
    fn fits(&self, pack: &Pack, len: usize) -> bool {
        if pack.is_empty() {
            return true;
        }
        match self.node_size {
            n if n > 0 => (pack.len() as i64) < n,
            n => {
                let bytes_max = 4096usize << ((-n).clamp(1, 5) - 1);
                pack.bytes() + len + 2 <= bytes_max
            }
        }
    }
}

/// A push at the head inserts before every byte of the head node, which moves them all (as
/// in Redis's listpack). Past this size the head push starts a new node instead, so LPUSH
/// moves at most ~1 KiB, not up to the 8 KiB of a full node; the nodes stay within
/// `list-max-listpack-size` and cost one allocation per KiB.
const HEAD_PUSH_BYTES_MAX: usize = 1024;

#[derive(Clone, Default, PartialEq)]
pub struct List {
    nodes: VecDeque<Pack>,
    len: usize,
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Builds a list from elements in order.
    pub fn from_iter<'a>(items: impl IntoIterator<Item = &'a [u8]>, limits: &ListLimits) -> List {
        let mut l = List::default();
        for v in items {
            l.push(End::Right, v, limits);
        }
        l
    }

    pub fn push(&mut self, end: End, v: &[u8], limits: &ListLimits) {
        self.len += 1;
        match end {
            End::Left => {
                let fits = |n: &&mut Pack| {
                    limits.fits(n, v.len()) && n.bytes() + v.len() <= HEAD_PUSH_BYTES_MAX
                };
                if let Some(node) = self.nodes.front_mut().filter(fits) {
                    let at = node.first_pos();
                    node.insert_at(at, v);
                    return;
                }
                let mut node = Pack::new();
                node.push_back(&[v]);
                self.nodes.push_front(node);
            }
            End::Right => {
                if let Some(node) = self.nodes.back_mut().filter(|n| limits.fits(n, v.len())) {
                    node.push_back(&[v]);
                    return;
                }
                let mut node = Pack::new();
                node.push_back(&[v]);
                self.nodes.push_back(node);
            }
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let node = match end {
            End::Left => self.nodes.front_mut()?,
            End::Right => self.nodes.back_mut()?,
        };
        let (pos, v) = match end {
            End::Left => node.iter_pos().next()?,
            End::Right => node.iter_pos().last()?,
        };
        let v = v.to_vec();
        node.remove_range(pos.start, pos.end, 1);
        if node.is_empty() {
            match end {
                End::Left => self.nodes.pop_front(),
                End::Right => self.nodes.pop_back(),
            };
        }
        self.len -= 1;
        Some(v)
    }

    /// Elements from left to right.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|n| n.iter())
    }

    /// Elements of `[start, stop]` (absolute, inclusive, already clamped by the caller).
    pub fn range(&self, start: usize, stop: usize) -> Vec<&[u8]> {
        let mut out = Vec::with_capacity(stop.saturating_sub(start) + 1);
        let mut base = 0;
        for node in &self.nodes {
            let n = node.len();
            if base + n <= start {
                base += n;
                continue;
            }
            if base > stop {
                break;
            }
            let skip = start.saturating_sub(base);
            let take = (stop + 1 - base).min(n) - skip;
            out.extend(node.iter().skip(skip).take(take));
            base += n;
        }
        out
    }

    /// The element at absolute index `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let mut base = 0;
        for node in &self.nodes {
            if i < base + node.len() {
                return node.get(i - base);
            }
            base += node.len();
        }
        None
    }

    /// Replaces the element at absolute index `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8], limits: &ListLimits) -> bool {
        if i >= self.len {
            return false;
        }
        self.rebuild(limits, |items| items[i] = v.to_vec());
        true
    }

    /// Inserts `v` before (or after) the first element equal to `pivot`. Returns whether the
    /// pivot was found.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], after: bool, limits: &ListLimits) -> bool {
        let Some(i) = self.iter().position(|e| e == pivot) else {
            return false;
        };
        let at = if after { i + 1 } else { i };
        self.rebuild(limits, |items| items.insert(at, v.to_vec()));
        true
    }

    /// Removes up to `count` elements equal to `v` (0: all; negative: from the right). Returns how
    /// many were removed.
    pub fn remove(&mut self, v: &[u8], count: i64, limits: &ListLimits) -> usize {
        let mut removed = 0;
        let max = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        if !self.iter().any(|e| e == v) {
            return 0;
        }
        self.rebuild(limits, |items| {
            if count >= 0 {
                items.retain(|e| {
                    if removed < max && e == v {
                        removed += 1;
                        false
                    } else {
                        true
                    }
                });
            } else {
                let mut i = items.len();
                while i > 0 && removed < max {
                    i -= 1;
                    if items[i] == v {
                        items.remove(i);
                        removed += 1;
                    }
                }
            }
        });
        removed
    }

    /// Keeps only `[start, stop]` (absolute, inclusive); an empty range empties the list.
    pub fn trim(&mut self, start: usize, stop: usize) {
        if start > stop || start >= self.len {
            *self = List::default();
            return;
        }
        for _ in 0..start {
            self.pop(End::Left);
        }
        let keep = stop - start + 1;
        while self.len > keep {
            self.pop(End::Right);
        }
    }

    /// Rewrites the list through a plain vector (middle edits).
    fn rebuild(&mut self, limits: &ListLimits, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
        let mut items: Vec<Vec<u8>> = self.iter().map(|e| e.to_vec()).collect();
        f(&mut items);
        *self = List::from_iter(items.iter().map(|v| &v[..]), limits);
    }

    /// Heap bytes held (approximate).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.iter().map(|n| n.bytes()).sum::<usize>() + self.nodes.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Random pushes, pops, sets, inserts, removes and trims agree with a VecDeque model,
        /// with small nodes so that every operation crosses node boundaries.
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec((0u8..8, 0usize..30, 0u8..4), 1..300)) {
            let limits = ListLimits { node_size: 3 };
            let mut l = List::default();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for (op, i, b) in ops {
                let v = vec![b'a' + b; (i % 3) + 1];
                match op {
                    0 => { l.push(End::Left, &v, &limits); model.push_front(v); }
                    1 => { l.push(End::Right, &v, &limits); model.push_back(v); }
                    2 => proptest::prop_assert_eq!(l.pop(End::Left), model.pop_front()),
                    3 => proptest::prop_assert_eq!(l.pop(End::Right), model.pop_back()),
                    4 if !model.is_empty() => {
                        let i = i % model.len();
                        l.set(i, &v, &limits);
                        model[i] = v;
                    }
                    5 => {
                        let count = i as i64 - 15;
                        let got = l.remove(&v, count, &limits);
                        let mut want = 0;
                        let max = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                        let mut items: Vec<Vec<u8>> = model.iter().cloned().collect();
                        if count >= 0 {
                            items.retain(|e| if want < max && *e == v { want += 1; false } else { true });
                        } else {
                            let mut k = items.len();
                            while k > 0 && want < max { k -= 1; if items[k] == v { items.remove(k); want += 1; } }
                        }
                        model = items.into_iter().collect();
                        proptest::prop_assert_eq!(got, want);
                    }
                    6 if !model.is_empty() => {
                        let (s, e) = (i % model.len(), (i * 7) % model.len());
                        l.trim(s, e);
                        if s > e { model.clear(); } else { model = model.iter().skip(s).take(e - s + 1).cloned().collect(); }
                    }
                    7 => {
                        let pivot = vec![b'a' + b; 1];
                        let found = l.insert(&pivot, &v, i % 2 == 0, &limits);
                        let pos = model.iter().position(|e| *e == pivot);
                        proptest::prop_assert_eq!(found, pos.is_some());
                        if let Some(p) = pos { model.insert(if i % 2 == 0 { p + 1 } else { p }, v); }
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(l.len(), model.len());
                let got: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
                let want: Vec<Vec<u8>> = model.iter().cloned().collect();
                proptest::prop_assert_eq!(&got, &want);
                if !model.is_empty() {
                    let (s, e) = (i % model.len(), model.len() - 1);
                    let r: Vec<Vec<u8>> = l.range(s, e).into_iter().map(|x| x.to_vec()).collect();
                    proptest::prop_assert_eq!(r, want[s..=e].to_vec());
                    proptest::prop_assert_eq!(l.get(s).map(|x| x.to_vec()), Some(want[s].clone()));
                }
            }
        }
    }
}
