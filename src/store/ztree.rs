//! `ZTree`: the order of a large sorted set, a B+tree with subtree counts in an arena.
//!
//! Entries are ordered by (score, member). Leaves hold up to `LEAF_CAP` entries (scores and
//! members in two parallel arrays, so a search reads a few cache lines of scores) and are linked
//! in order; inner nodes hold up to `INNER_CAP` children with the entry count of each child and a
//! lower-bound separator key per child (the first child has none). So finding an entry, its rank
//! (how many sort before it) and the entry at a rank take O(log n) steps over a handful of wide
//! nodes instead of ~2 log n pointer hops of a binary tree: this is what ZADD's update (remove and
//! insert), ZRANK, ZRANGE by index and the by-score/by-lex bounds pay per call.
//!
//! Separators are lower bounds, not copies that must stay exact: every key of child `i` is at
//! least `sep[i]` and below `sep[i + 1]`. Inserting keeps that (a key goes to the last child whose
//! separator is not above it), removing cannot break it, and a split sets the new right node's
//! separator to its first key. Nodes are not merged when they shrink; an emptied leaf (and then
//! an emptied inner node) is unlinked and freed, and a root with one child is replaced by it.
//! Nodes live in a `Vec` addressed by `u32` index with a free list; no `unsafe`, no recursion.

use std::cmp::Ordering;

use super::smallstr::SmallStr;

const NIL: u32 = u32::MAX;
/// Entries per leaf at most (small in unit tests, so they exercise splits and shrinking).
const LEAF_CAP: usize = if cfg!(test) { 4 } else { 64 };
/// Children per inner node at most.
const INNER_CAP: usize = if cfg!(test) { 4 } else { 64 };

#[derive(Clone)]
enum Node {
    Leaf {
        scores: Vec<f64>,
        members: Vec<SmallStr>,
        prev: u32,
        next: u32,
    },
    Inner {
        children: Vec<u32>,
        counts: Vec<u32>,
        /// Lower bound of each child's keys; entry 0 is unused.
        sep_scores: Vec<f64>,
        sep_members: Vec<SmallStr>,
    },
    Free,
}

/// The (score, member) order. Scores are never NaN.
pub fn cmp_entry(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

#[derive(Clone)]
pub struct ZTree {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    len: usize,
}

impl Default for ZTree {
    fn default() -> Self {
        ZTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
        }
    }
}

/// The first index in `lo..hi` where `pred` turns false (`pred` is true on a prefix).
fn partition(mut lo: usize, mut hi: usize, pred: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Index of the child of an inner node whose range holds `(score, member)`: separators 1.. are
/// ascending; the key goes after every one not above it.
fn child_for(sep_scores: &[f64], sep_members: &[SmallStr], score: f64, member: &[u8]) -> usize {
    partition(1, sep_scores.len(), |i| {
        cmp_entry(sep_scores[i], &sep_members[i], score, member) != Ordering::Greater
    }) - 1
}

/// Position of `(score, member)` among a leaf's entries: Ok(exact) or Err(insertion point).
fn leaf_pos(
    scores: &[f64],
    members: &[SmallStr],
    score: f64,
    member: &[u8],
) -> Result<usize, usize> {
    let at = partition(0, scores.len(), |i| {
        cmp_entry(scores[i], &members[i], score, member) == Ordering::Less
    });
    match scores.get(at) {
        Some(&s) if cmp_entry(s, &members[at], score, member) == Ordering::Equal => Ok(at),
        _ => Err(at),
    }
}

impl ZTree {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn alloc(&mut self, node: Node) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.nodes[i as usize] = Node::Free;
        self.free.push(i);
    }

    fn new_leaf(&mut self) -> u32 {
        self.alloc(Node::Leaf {
            scores: Vec::with_capacity(LEAF_CAP + 1),
            members: Vec::with_capacity(LEAF_CAP + 1),
            prev: NIL,
            next: NIL,
        })
    }

    /// The path from the root to the leaf whose range holds the key: (inner node, child index).
    fn descend(&self, score: f64, member: &[u8], path: &mut Vec<(u32, usize)>) -> u32 {
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Inner {
                    children,
                    sep_scores,
                    sep_members,
                    ..
                } => {
                    let c = child_for(sep_scores, sep_members, score, member);
                    path.push((n, c));
                    n = children[c];
                }
                _ => return n,
            }
        }
    }

    fn add_counts(&mut self, path: &[(u32, usize)], delta: i64) {
        for &(n, c) in path {
            if let Node::Inner { counts, .. } = &mut self.nodes[n as usize] {
                counts[c] = (counts[c] as i64 + delta) as u32;
            }
        }
    }

    /// Adds an entry (the caller guarantees the member is not present).
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        if self.root == NIL {
            self.root = self.new_leaf();
        }
        let mut path = Vec::new();
        let leaf = self.descend(score, member, &mut path);
        let Node::Leaf {
            scores, members, ..
        } = &mut self.nodes[leaf as usize]
        else {
            unreachable!("descend ends at a leaf")
        };
        let at = leaf_pos(scores, members, score, member).unwrap_or_else(|e| e);
        scores.insert(at, score);
        members.insert(at, SmallStr::new(member));
        let full = scores.len() > LEAF_CAP;
        self.len += 1;
        self.add_counts(&path, 1);
        if full {
            self.split_leaf(leaf, &mut path);
        }
    }

    /// Splits an over-full leaf in two and inserts the right half into its parent.
    fn split_leaf(&mut self, leaf: u32, path: &mut Vec<(u32, usize)>) {
        let right = self.new_leaf();
        let (rs, rm, old_next) = {
            let Node::Leaf {
                scores,
                members,
                next,
                ..
            } = &mut self.nodes[leaf as usize]
            else {
                unreachable!("a leaf")
            };
            let half = scores.len() / 2;
            let rs = scores.split_off(half);
            let rm = members.split_off(half);
            let old_next = *next;
            *next = right;
            (rs, rm, old_next)
        };
        if old_next != NIL {
            if let Node::Leaf { prev, .. } = &mut self.nodes[old_next as usize] {
                *prev = right;
            }
        }
        let (sep_s, sep_m, right_len) = (rs[0], rm[0].clone(), rs.len() as u32);
        if let Node::Leaf {
            scores,
            members,
            prev,
            next,
        } = &mut self.nodes[right as usize]
        {
            scores.extend(rs);
            members.extend(rm);
            *prev = leaf;
            *next = old_next;
        }
        self.attach(leaf, right, right_len, sep_s, sep_m, path);
    }

    /// Puts new node `right` (holding `right_len` entries, keys from `(sep_s, sep_m)` on) just
    /// after `left` in the parent at the end of `path`, splitting parents that overflow.
    fn attach(
        &mut self,
        mut left: u32,
        mut right: u32,
        mut right_len: u32,
        mut sep_s: f64,
        mut sep_m: SmallStr,
        path: &mut Vec<(u32, usize)>,
    ) {
        loop {
            let Some((parent, c)) = path.pop() else {
                // `left` was the root: grow a level.
                let total = self.len as u32;
                let root = self.alloc(Node::Inner {
                    children: vec![left, right],
                    counts: vec![total - right_len, right_len],
                    sep_scores: vec![0.0, sep_s],
                    sep_members: vec![SmallStr::new(b""), sep_m],
                });
                self.root = root;
                return;
            };
            let Node::Inner {
                children,
                counts,
                sep_scores,
                sep_members,
            } = &mut self.nodes[parent as usize]
            else {
                unreachable!("paths hold inner nodes")
            };
            debug_assert_eq!(children[c], left);
            counts[c] -= right_len;
            children.insert(c + 1, right);
            counts.insert(c + 1, right_len);
            sep_scores.insert(c + 1, sep_s);
            sep_members.insert(c + 1, sep_m);
            if children.len() <= INNER_CAP {
                return;
            }
            let half = children.len() / 2;
            let rc = children.split_off(half);
            let rn = counts.split_off(half);
            let rss = sep_scores.split_off(half);
            let rsm = sep_members.split_off(half);
            let moved: u32 = rn.iter().sum();
            sep_s = rss[0];
            sep_m = rsm[0].clone();
            let new_inner = self.alloc(Node::Inner {
                children: rc,
                counts: rn,
                sep_scores: rss,
                sep_members: rsm,
            });
            left = parent;
            right = new_inner;
            right_len = moved;
        }
    }

    /// Removes the entry (score, member); returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        if self.root == NIL {
            return false;
        }
        let mut path = Vec::new();
        let leaf = self.descend(score, member, &mut path);
        let Node::Leaf {
            scores, members, ..
        } = &mut self.nodes[leaf as usize]
        else {
            unreachable!("descend ends at a leaf")
        };
        let Ok(at) = leaf_pos(scores, members, score, member) else {
            return false;
        };
        scores.remove(at);
        members.remove(at);
        let emptied = scores.is_empty();
        self.len -= 1;
        self.add_counts(&path, -1);
        if emptied {
            self.drop_empty(leaf, &mut path);
        }
        true
    }

    /// Unlinks an emptied node from its parent (and emptied parents from theirs), then
    /// shortens the tree while the root has a single child.
    fn drop_empty(&mut self, node: u32, path: &mut Vec<(u32, usize)>) {
        if let Node::Leaf { prev, next, .. } = self.nodes[node as usize] {
            if path.is_empty() {
                return; // the root leaf stays, empty
            }
            if prev != NIL {
                if let Node::Leaf { next: n, .. } = &mut self.nodes[prev as usize] {
                    *n = next;
                }
            }
            if next != NIL {
                if let Node::Leaf { prev: p, .. } = &mut self.nodes[next as usize] {
                    *p = prev;
                }
            }
        }
        let mut gone = node;
        while let Some((parent, c)) = path.pop() {
            self.release(gone);
            let Node::Inner {
                children,
                counts,
                sep_scores,
                sep_members,
            } = &mut self.nodes[parent as usize]
            else {
                unreachable!("paths hold inner nodes")
            };
            children.remove(c);
            counts.remove(c);
            sep_scores.remove(c);
            sep_members.remove(c);
            if !children.is_empty() {
                break;
            }
            gone = parent;
            if path.is_empty() {
                // The root itself emptied: start over with an empty tree.
                self.release(parent);
                self.root = NIL;
                return;
            }
        }
        while let Node::Inner { children, .. } = &self.nodes[self.root as usize] {
            if children.len() != 1 {
                break;
            }
            let only = children[0];
            let old = self.root;
            self.root = only;
            self.release(old);
        }
    }

    /// How many entries sort before the bound (`before(score, member)` true for them; it must
    /// be true on a prefix of the order).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        if self.root == NIL {
            return 0;
        }
        let mut n = self.root;
        let mut count = 0usize;
        loop {
            match &self.nodes[n as usize] {
                Node::Inner {
                    children,
                    counts,
                    sep_scores,
                    sep_members,
                } => {
                    // Children before the first separator that is not "before" are entirely so.
                    let c = partition(1, children.len(), |i| {
                        before(sep_scores[i], &sep_members[i])
                    }) - 1;
                    count += counts[..c].iter().map(|&x| x as usize).sum::<usize>();
                    n = children[c];
                }
                Node::Leaf {
                    scores, members, ..
                } => {
                    return count + partition(0, scores.len(), |i| before(scores[i], &members[i]));
                }
                Node::Free => unreachable!("reachable nodes are live"),
            }
        }
    }

    /// The leaf holding rank `k` and the index in it.
    fn locate(&self, mut k: usize) -> Option<(u32, usize)> {
        if k >= self.len {
            return None;
        }
        let mut n = self.root;
        loop {
            match &self.nodes[n as usize] {
                Node::Inner {
                    children, counts, ..
                } => {
                    let mut c = 0;
                    while k >= counts[c] as usize {
                        k -= counts[c] as usize;
                        c += 1;
                    }
                    n = children[c];
                }
                Node::Leaf { .. } => return Some((n, k)),
                Node::Free => unreachable!("reachable nodes are live"),
            }
        }
    }

    /// The entry at rank `k` (0 = lowest).
    pub fn select(&self, k: usize) -> Option<(f64, &[u8])> {
        let (leaf, i) = self.locate(k)?;
        match &self.nodes[leaf as usize] {
            Node::Leaf {
                scores, members, ..
            } => Some((scores[i], &members[i])),
            _ => None,
        }
    }

    /// Entries of ranks `[from, to)` in ascending order.
    pub fn range(&self, from: usize, to: usize) -> Vec<(f64, &[u8])> {
        let to = to.min(self.len);
        let mut out = Vec::with_capacity(to.saturating_sub(from));
        let Some((mut leaf, mut i)) = self.locate(from) else {
            return out;
        };
        while out.len() < to.saturating_sub(from) && leaf != NIL {
            let Node::Leaf {
                scores,
                members,
                next,
                ..
            } = &self.nodes[leaf as usize]
            else {
                break;
            };
            while i < scores.len() && out.len() < to - from {
                out.push((scores[i], &members[i][..]));
                i += 1;
            }
            leaf = *next;
            i = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn key(s: f64, m: &[u8]) -> (i64, Vec<u8>) {
        ((s * 4.0) as i64, m.to_vec())
    }

    proptest::proptest! {
        /// Inserts and removes agree with a BTreeSet on order, ranks and selection.
        #[test]
        fn agrees_with_an_ordered_set(ops in proptest::collection::vec((proptest::bool::ANY, 0u8..20, -8i32..8), 1..400)) {
            let mut t = ZTree::default();
            let mut model: BTreeSet<(i64, Vec<u8>)> = BTreeSet::new();
            for (ins, m, s) in ops {
                let member = vec![b'a' + m];
                let score = s as f64 / 4.0;
                let present = model.iter().find(|(_, mm)| *mm == member).cloned();
                if ins {
                    if present.is_none() {
                        t.insert(score, &member);
                        model.insert(key(score, &member));
                    }
                } else if let Some((ps, pm)) = present {
                    proptest::prop_assert!(t.remove(ps as f64 / 4.0, &pm));
                    model.remove(&(ps, pm));
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            let all: Vec<(i64, Vec<u8>)> = t.range(0, t.len()).into_iter().map(|(s, m)| key(s, m)).collect();
            let want: Vec<(i64, Vec<u8>)> = model.iter().cloned().collect();
            proptest::prop_assert_eq!(&all, &want);
            for (k, (s, m)) in want.iter().enumerate() {
                let (ss, mm) = t.select(k).unwrap();
                proptest::prop_assert_eq!(key(ss, mm), (*s, m.clone()));
                let before = t.count_before(|xs, xm| cmp_entry(xs, xm, *s as f64 / 4.0, m) == Ordering::Less);
                proptest::prop_assert_eq!(before, k);
            }
        }
    }

    proptest::proptest! {
        /// Many members (so leaves and inner nodes split, empty and collapse), checked as above
        /// after every step's size and at the end for order, ranks, selection and ranges.
        #[test]
        fn agrees_at_scale(ops in proptest::collection::vec((0u8..3, 0u16..600, -50i32..50), 1..3000)) {
            let mut t = ZTree::default();
            let mut model: std::collections::BTreeMap<Vec<u8>, i32> = Default::default();
            for (op, m, s) in ops {
                let member = format!("m{m}").into_bytes();
                match (op, model.get(&member).copied()) {
                    (0 | 1, None) => { t.insert(s as f64, &member); model.insert(member, s); }
                    (0, Some(old)) => {
                        // An update: remove and insert at the new score, as ZADD does.
                        proptest::prop_assert!(t.remove(old as f64, &member));
                        t.insert(s as f64, &member);
                        model.insert(member, s);
                    }
                    (_, Some(old)) => { proptest::prop_assert!(t.remove(old as f64, &member)); model.remove(&member); }
                    (_, None) => proptest::prop_assert!(!t.remove(s as f64, &member)),
                }
                proptest::prop_assert_eq!(t.len(), model.len());
            }
            let mut want: Vec<(i32, Vec<u8>)> = model.iter().map(|(m, s)| (*s, m.clone())).collect();
            want.sort();
            let all: Vec<(i32, Vec<u8>)> = t.range(0, t.len()).into_iter().map(|(s, m)| (s as i32, m.to_vec())).collect();
            proptest::prop_assert_eq!(&all, &want);
            for (k, (s, m)) in want.iter().enumerate().step_by(7) {
                let (ss, mm) = t.select(k).unwrap();
                proptest::prop_assert_eq!((ss as i32, mm.to_vec()), (*s, m.clone()));
                let before = t.count_before(|xs, xm| cmp_entry(xs, xm, *s as f64, m) == Ordering::Less);
                proptest::prop_assert_eq!(before, k);
                let part: Vec<(i32, Vec<u8>)> = t.range(k, k + 5).into_iter().map(|(s, m)| (s as i32, m.to_vec())).collect();
                proptest::prop_assert_eq!(&part[..], &want[k..(k + 5).min(want.len())]);
            }
        }
    }
}
