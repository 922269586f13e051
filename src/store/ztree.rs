//! `ZTree`: the order of a large sorted set, an order-statistics treap in an arena.
//!
//! Entries are ordered by (score, member). Every node knows the size of its subtree, so rank
//! (how many entries sort before a given one) and select (the entry at a rank) take O(log n)
//! expected steps, which is what ZRANK, ZRANGE by index and the by-score/by-lex bounds need.
//! Nodes live in a `Vec` addressed by `u32` index, with a free list; there are no pointers and no
//! `unsafe`. Recursion depth is the treap's height, O(log n) expected (random priorities).

use std::cmp::Ordering;

use super::smallstr::SmallStr;

const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct Node {
    score: f64,
    member: SmallStr,
    left: u32,
    right: u32,
    priority: u32,
    size: u32,
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
    seed: u64,
}

impl Default for ZTree {
    fn default() -> Self {
        ZTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x853c_49e6_748f_ea9b,
        }
    }
}

impl ZTree {
    pub fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.root == NIL
    }

    fn size(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].size
        }
    }

    fn fix(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        self.nodes[n as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift64*: priorities only need to look random.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// Splits `t` into (entries before the bound, entries at or after it). `before(node)` says
    /// whether a node sorts before the bound.
    fn split(&mut self, t: u32, before: &dyn Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if before(&self.nodes[t as usize]) {
            let r = self.nodes[t as usize].right;
            let (a, b) = self.split(r, before);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        } else {
            let l = self.nodes[t as usize].left;
            let (a, b) = self.split(l, before);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        }
    }

    /// Joins two treaps where every entry of `a` sorts before every entry of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let r = self.nodes[a as usize].right;
            let m = self.merge(r, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let l = self.nodes[b as usize].left;
            let m = self.merge(a, l);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }

    /// Adds an entry (the caller guarantees the member is not present).
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let node = Node {
            score,
            member: SmallStr::new(member),
            left: NIL,
            right: NIL,
            priority: self.next_priority(),
            size: 1,
        };
        let n = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let root = self.root;
        let (a, b) = self.split(root, &|x: &Node| {
            cmp_entry(x.score, &x.member, score, member) == Ordering::Less
        });
        let left = self.merge(a, n);
        self.root = self.merge(left, b);
    }

    /// Removes the entry (score, member); returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let root = self.root;
        let (a, rest) = self.split(root, &|x: &Node| {
            cmp_entry(x.score, &x.member, score, member) == Ordering::Less
        });
        let (mid, b) = self.split(rest, &|x: &Node| {
            cmp_entry(x.score, &x.member, score, member) != Ordering::Greater
        });
        let found = mid != NIL;
        if found {
            debug_assert_eq!(self.size(mid), 1);
            self.nodes[mid as usize].member = SmallStr::new(b"");
            self.free.push(mid);
        }
        self.root = self.merge(a, b);
        found
    }

    /// How many entries sort before the bound (`before(score, member)` true for them).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut n = self.root;
        let mut count = 0usize;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if before(node.score, &node.member) {
                count += self.size(node.left) as usize + 1;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        count
    }

    /// The entry at rank `k` (0 = lowest).
    pub fn select(&self, mut k: usize) -> Option<(f64, &[u8])> {
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            let left = self.size(node.left) as usize;
            match k.cmp(&left) {
                Ordering::Less => n = node.left,
                Ordering::Equal => return Some((node.score, &node.member)),
                Ordering::Greater => {
                    k -= left + 1;
                    n = node.right;
                }
            }
        }
        None
    }

    /// Entries of ranks `[from, to)` in ascending order.
    pub fn range(&self, from: usize, to: usize) -> Vec<(f64, &[u8])> {
        let mut out = Vec::with_capacity(to.saturating_sub(from));
        self.collect(self.root, 0, from, to, &mut out);
        out
    }

    fn collect<'a>(
        &'a self,
        n: u32,
        base: usize,
        from: usize,
        to: usize,
        out: &mut Vec<(f64, &'a [u8])>,
    ) {
        if n == NIL || from >= to {
            return;
        }
        let node = &self.nodes[n as usize];
        let left = self.size(node.left) as usize;
        let here = base + left;
        if from < here {
            self.collect(node.left, base, from, to, out);
        }
        if (from..to).contains(&here) {
            out.push((node.score, &node.member));
        }
        if to > here + 1 {
            self.collect(node.right, here + 1, from, to, out);
        }
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
}
