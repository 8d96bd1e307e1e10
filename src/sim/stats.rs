//! Streaming statistics with memory independent of the number of requests: exact count, mean
//! and max, and percentiles from a log-bucket histogram (128 buckets per power of two, so a
//! percentile is within 0.4 % of the true value). The buckets of a power of two are allocated
//! when a value first lands there: a service's times span a few powers of two, so a histogram
//! holds a few KB instead of 50 (a twin of 1,000 services has one per service).

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two (2^SUB_BITS).
const SUB_BITS: u32 = 7;
/// Smallest and largest exponents kept (values in ms: 2^-20 ≈ 1 ns .. 2^30 ≈ 12 days).
const MIN_EXP: i32 = -20;
const MAX_EXP: i32 = 30;
const BUCKETS: usize = ((MAX_EXP - MIN_EXP) as usize) << SUB_BITS;
const SUB: usize = 1 << SUB_BITS;
const OCTAVES: usize = (MAX_EXP - MIN_EXP) as usize;

#[derive(Debug, Clone)]
pub(crate) struct LogHist {
    /// Per power of two: 0 when no value fell in it yet, else 1 + its block in `counts`.
    octave: [u8; OCTAVES],
    /// Blocks of `SUB` buckets, in the order their powers of two were first used. u32: half
    /// the cache lines per service (a twin of 1,000 services touches megabytes of them); a
    /// bucket stops at u32::MAX, which takes more events than `limits.max_events` allows by
    /// default (500 M).
    counts: Vec<u32>,
    /// Values too small for the first bucket (including zero).
    zeros: u64,
    n: u64,
    sum: f64,
    max: f64,
}

impl Default for LogHist {
    fn default() -> Self {
        LogHist { octave: [0; OCTAVES], counts: Vec::new(), zeros: 0, n: 0, sum: 0.0, max: 0.0 }
    }
}

impl LogHist {
    #[inline]
    fn index(x: f64) -> Option<usize> {
        // The f64 bits are exponent then mantissa: their top bits are a log-scale index.
        let bits = x.to_bits() >> (52 - SUB_BITS);
        let base = ((MIN_EXP + 1023) as u64) << SUB_BITS;
        if bits < base {
            return None;
        }
        Some(((bits - base) as usize).min(BUCKETS - 1))
    }

    /// The geometric middle of bucket `i`.
    fn value_of(i: usize) -> f64 {
        let base = ((MIN_EXP + 1023) as u64) << SUB_BITS;
        let lo = f64::from_bits((base + i as u64) << (52 - SUB_BITS));
        let hi = f64::from_bits((base + i as u64 + 1) << (52 - SUB_BITS));
        (lo * hi).sqrt()
    }

    #[inline]
    pub(crate) fn record(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        if x > self.max {
            self.max = x;
        }
        match Self::index(x) {
            Some(i) => {
                let o = i >> SUB_BITS;
                if self.octave[o] == 0 {
                    self.counts.resize(self.counts.len() + SUB, 0);
                    self.octave[o] = (self.counts.len() / SUB) as u8;
                }
                let c = &mut self.counts[(self.octave[o] as usize - 1) * SUB + (i & (SUB - 1))];
                *c = c.saturating_add(1);
            }
            None => self.zeros += 1,
        }
    }

    /// Buckets allocated (each a u32): what the histogram holds beyond its fixed part.
    #[cfg(test)]
    pub(crate) fn buckets_held(&self) -> usize {
        self.counts.len()
    }

    pub(crate) fn count(&self) -> u64 {
        self.n
    }

    pub(crate) fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum / self.n as f64 }
    }

    pub(crate) fn clear(&mut self) {
        if self.n > 0 {
            self.counts.iter_mut().for_each(|c| *c = 0);
        }
        self.zeros = 0;
        self.n = 0;
        self.sum = 0.0;
        self.max = 0.0;
    }

    /// Nearest-rank quantile, q in [0, 1]; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut acc = self.zeros;
        if acc >= rank {
            return 0.0;
        }
        for (o, &block) in self.octave.iter().enumerate() {
            if block == 0 {
                continue;
            }
            let b = (block as usize - 1) * SUB;
            for (k, &c) in self.counts[b..b + SUB].iter().enumerate() {
                acc += c as u64;
                if acc >= rank {
                    return Self::value_of(o * SUB + k).min(self.max);
                }
            }
        }
        self.max
    }

    pub(crate) fn summary(&self) -> Summary {
        Summary {
            mean: self.mean(),
            p50: self.quantile(0.5),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: self.max,
        }
    }
}

/// Mean, percentiles and maximum of a set of times, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_bucket_precision() {
        let mut h = LogHist::default();
        for i in 1..=10_000 {
            h.record(i as f64 / 100.0);
        }
        let s = h.summary();
        assert!((s.mean - 50.005).abs() < 1e-9);
        assert!((s.p50 - 50.0).abs() / 50.0 < 0.004, "{s:?}");
        assert!((s.p99 - 99.0).abs() / 99.0 < 0.004, "{s:?}");
        assert_eq!(s.max, 100.0);
    }

    #[test]
    fn zero_and_empty() {
        let mut h = LogHist::default();
        assert_eq!(h.quantile(0.99), 0.0);
        h.record(0.0);
        h.record(0.0);
        h.record(5.0);
        assert_eq!(h.quantile(0.5), 0.0);
        assert!((h.quantile(1.0) - 5.0).abs() < 0.03);
    }

    #[test]
    fn only_the_powers_of_two_used_hold_buckets() {
        let mut h = LogHist::default();
        assert_eq!(h.buckets_held(), 0);
        // 1..4 ms spans two powers of two; values out of order still land in order.
        for x in [3.5, 1.0, 2.5, 1.5, 3.9] {
            h.record(x);
        }
        assert_eq!(h.buckets_held(), 2 * SUB);
        assert!(
            (h.quantile(0.2) - 1.0).abs() < 0.01 && (h.quantile(1.0) - 3.9).abs() < 0.02,
            "{:?}",
            h.summary()
        );
        assert!((h.quantile(0.6) - 2.5).abs() < 0.01, "{}", h.quantile(0.6));
        h.clear();
        assert_eq!((h.count(), h.quantile(0.5)), (0, 0.0));
        // Extremes clamp into the first and last power of two.
        h.record(1e-300);
        h.record(1e300);
        assert_eq!(h.count(), 2);
        assert!(h.buckets_held() <= 3 * SUB);
    }
}
