//! Streaming statistics with memory independent of the number of requests: exact count, mean
//! and max, and percentiles from a log-bucket histogram (128 buckets per power of two, so a
//! percentile is within 0.4 % of the true value).

use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two (2^SUB_BITS).
const SUB_BITS: u32 = 7;
/// Smallest and largest exponents kept (values in ms: 2^-20 ≈ 1 ns .. 2^30 ≈ 12 days).
const MIN_EXP: i32 = -20;
const MAX_EXP: i32 = 30;
const BUCKETS: usize = ((MAX_EXP - MIN_EXP) as usize) << SUB_BITS;

#[derive(Debug, Clone)]
pub struct LogHist {
    counts: Vec<u64>,
    /// Values too small for the first bucket (including zero).
    zeros: u64,
    n: u64,
    sum: f64,
    max: f64,
}

impl Default for LogHist {
    fn default() -> Self {
        LogHist { counts: vec![0; BUCKETS], zeros: 0, n: 0, sum: 0.0, max: 0.0 }
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
    pub fn record(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        if x > self.max {
            self.max = x;
        }
        match Self::index(x) {
            Some(i) => self.counts[i] += 1,
            None => self.zeros += 1,
        }
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum / self.n as f64 }
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    pub fn clear(&mut self) {
        if self.n > 0 {
            self.counts.iter_mut().for_each(|c| *c = 0);
        }
        self.zeros = 0;
        self.n = 0;
        self.sum = 0.0;
        self.max = 0.0;
    }

    /// Nearest-rank quantile, q in [0, 1]; 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut acc = self.zeros;
        if acc >= rank {
            return 0.0;
        }
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= rank {
                return Self::value_of(i).min(self.max);
            }
        }
        self.max
    }

    pub fn summary(&self) -> Summary {
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
}
