//! Latency histograms of commands (INFO latencystats, LATENCY HISTOGRAM).
//!
//! Log-linear buckets over nanoseconds: values below `SUB_BUCKETS` have a bucket each; above,
//! every power of two is split into `SUB_BUCKETS` equal buckets, so a value is known to within
//! 1/64 (1.6 %), the precision of Redis's HDR histograms (2 significant digits) or better.
//! One thread records into its own histogram (plain loads and stores of atomics); INFO sums
//! the threads' histograms.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 6;
const SUB_BUCKETS: usize = 1 << SUB_BITS;
/// Values up to 2^40 ns (18 minutes) are told apart; longer ones share the last bucket.
const POWER_MAX: u32 = 40;
pub const BUCKETS: usize = (POWER_MAX - SUB_BITS + 2) as usize * SUB_BUCKETS;

pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The bucket of a value.
fn index(ns: u64) -> usize {
    if ns < SUB_BUCKETS as u64 {
        return ns as usize;
    }
    let power = (63 - ns.leading_zeros()).min(POWER_MAX);
    let shift = power - SUB_BITS;
    let sub = ((ns >> shift) as usize).min(2 * SUB_BUCKETS - 1) - SUB_BUCKETS;
    (shift as usize + 1) * SUB_BUCKETS + sub
}

/// The largest value that falls in bucket `i` (what a percentile reports, as HDR does).
pub fn bucket_high(i: usize) -> u64 {
    if i < SUB_BUCKETS {
        return i as u64;
    }
    let shift = (i / SUB_BUCKETS - 1) as u32;
    let sub = (i % SUB_BUCKETS) as u64;
    ((SUB_BUCKETS as u64 + sub + 1) << shift) - 1
}

impl Histogram {
    /// Records one value. Only the owning thread calls this.
    #[inline]
    pub fn record(&self, ns: u64) {
        let c = &self.counts[index(ns)];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Adds this histogram's counts into `into` (which has `BUCKETS` entries).
    pub fn add_to(&self, into: &mut [u64]) {
        for (sum, c) in into.iter_mut().zip(self.counts.iter()) {
            *sum += c.load(Ordering::Relaxed);
        }
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// The value at percentile `p` (0–100) of summed counts, in ns; 0 when there are none.
pub fn percentile(counts: &[u64], p: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0;
    }
    let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &n) in counts.iter().enumerate() {
        seen += n;
        if seen >= want {
            return bucket_high(i);
        }
    }
    bucket_high(counts.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order_within_their_precision() {
        let mut last = 0;
        for ns in (0..200_000u64).chain([1 << 30, 1 << 39, u64::MAX]) {
            let i = index(ns);
            assert!(i < BUCKETS, "{ns} -> {i}");
            assert!(i >= last, "not monotonic at {ns}");
            last = i;
            if ns < 1 << POWER_MAX {
                let high = bucket_high(i);
                assert!(high >= ns, "{ns} above its bucket's high {high}");
                assert!(
                    high - ns <= ns / SUB_BUCKETS as u64,
                    "{ns}: {high} too coarse"
                );
            }
        }
    }

    #[test]
    fn percentiles_of_known_values() {
        let h = Histogram::default();
        for ns in 1..=100u64 {
            h.record(ns * 1000);
        }
        let mut sum = vec![0; BUCKETS];
        h.add_to(&mut sum);
        let p50 = percentile(&sum, 50.0);
        assert!((50_000..=50_000 + 50_000 / 64).contains(&p50), "{p50}");
        let p99 = percentile(&sum, 99.0);
        assert!((99_000..=99_000 + 99_000 / 64).contains(&p99), "{p99}");
        assert_eq!(percentile(&vec![0; BUCKETS], 50.0), 0);
    }
}
