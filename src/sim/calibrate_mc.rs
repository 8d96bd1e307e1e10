//! Samples for the calibration: a fixed set of random draws (the same for every candidate
//! model, so comparing candidates is not blurred by sampling noise), a workload's own time
//! drawn from a candidate model, and the service time that makes own time plus calls match a
//! measured p50 and p99.

use super::calibrate::{WorkloadModel, Z99};
use rand::RngExt;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp1, StandardNormal};

/// Requests sampled per workload.
pub const SAMPLES: usize = 1000;

/// Standard normal, uniform and unit exponential draws, one of each per sampled request.
pub struct Draws {
    z: Vec<f64>,
    u: Vec<f64>,
    e: Vec<f64>,
}

impl Draws {
    pub fn new(rng: &mut SmallRng) -> Draws {
        let z = (0..SAMPLES).map(|_| StandardNormal.sample(rng)).collect();
        let u = (0..SAMPLES).map(|_| rng.random::<f64>()).collect();
        let e = (0..SAMPLES).map(|_| Exp1.sample(rng)).collect();
        Draws { z, u, e }
    }

    /// Own time per request (ms): the service time of `m`, plus with probability `wait_p` an
    /// exponential wait of mean `wait_mean_ms`, plus `backlog_ms`.
    pub fn own(&self, m: &WorkloadModel, wait_p: f64, wait_mean_ms: f64, backlog_ms: f64) -> Vec<f64> {
        (0..SAMPLES)
            .map(|i| {
                let service = m.service_median_ms * (m.sigma * self.z[i]).exp();
                let wait = if self.u[i] < wait_p && wait_mean_ms.is_finite() {
                    self.e[i] * wait_mean_ms
                } else {
                    0.0
                };
                service + wait + backlog_ms
            })
            .collect()
    }

    fn service_plus(&self, median: f64, sigma: f64, calls: &[f64], out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.z.iter().zip(calls).map(|(z, c)| median * (sigma * z).exp() + c));
    }
}

/// The p50 and p99 of a sample (reordered in place).
pub fn quantiles(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len();
    let at = |v: &mut [f64], p: f64| {
        let k = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        *v.select_nth_unstable_by(k, f64::total_cmp).1
    };
    let p99 = at(v, 0.99);
    let p50 = at(v, 0.5);
    (p50, p99)
}

/// Quantiles (p50, p99) of a service time (median, shape) plus the calls, into a buffer.
type QuantilesOf<'a> = dyn FnMut(f64, f64, &mut Vec<f64>) -> (f64, f64) + 'a;

const SIGMA_MIN: f64 = 0.05;
const SIGMA_MAX: f64 = 1.5;

/// The log-normal service time (median ms, shape) whose sum with `calls` has p50 `q50` and
/// p99 `q99`. When the calls alone already take longer than `q50`, the own time is taken as
/// 2 % of it with a middling shape: what is left for it cannot be told from noise.
pub fn fit_service(draws: &Draws, calls: &[f64], q50: f64, q99: f64) -> (f64, f64) {
    let q99 = q99.max(q50 * 1.0001);
    if calls.iter().all(|c| *c == 0.0) {
        return (q50, ((q99 / q50).ln() / Z99).clamp(SIGMA_MIN, SIGMA_MAX));
    }
    let mut buf = Vec::with_capacity(SAMPLES);
    let mut p50_of = |median: f64, sigma: f64, buf: &mut Vec<f64>| {
        draws.service_plus(median, sigma, calls, buf);
        quantiles(buf)
    };
    let floor = (0.02 * q50).max(1e-3);
    if p50_of(floor, 0.5, &mut buf).0 >= q50 {
        return (floor, 0.5);
    }
    // For a shape, the median that puts the p50 on q50 (bisection on its logarithm).
    let median_for = |sigma: f64, buf: &mut Vec<f64>, p50_of: &mut QuantilesOf<'_>| {
        let (mut lo, mut hi) = (floor.ln(), q50.max(floor * 1.001).ln());
        for _ in 0..30 {
            let mid = (lo + hi) / 2.0;
            if p50_of(mid.exp(), sigma, buf).0 > q50 {
                hi = mid
            } else {
                lo = mid
            }
            if hi - lo < 0.005 {
                break;
            }
        }
        ((lo + hi) / 2.0).exp()
    };
    let p99_at = |sigma: f64, buf: &mut Vec<f64>, p50_of: &mut QuantilesOf<'_>| {
        let m = median_for(sigma, buf, p50_of);
        (m, p50_of(m, sigma, buf).1)
    };
    let (m_lo, p99_lo) = p99_at(SIGMA_MIN, &mut buf, &mut p50_of);
    if p99_lo >= q99 {
        return (m_lo, SIGMA_MIN);
    }
    let (m_hi, p99_hi) = p99_at(SIGMA_MAX, &mut buf, &mut p50_of);
    if p99_hi <= q99 {
        return (m_hi, SIGMA_MAX);
    }
    let (mut lo, mut hi) = (SIGMA_MIN, SIGMA_MAX);
    let mut best = (m_lo, SIGMA_MIN);
    for _ in 0..20 {
        let mid = (lo + hi) / 2.0;
        let (m, p99) = p99_at(mid, &mut buf, &mut p50_of);
        best = (m, mid);
        if p99 > q99 {
            hi = mid
        } else {
            lo = mid
        }
        if hi - lo < 0.01 {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_leaf_is_fitted_to_its_quantiles_directly() {
        let d = Draws::new(&mut SmallRng::seed_from_u64(1));
        let (m, s) = fit_service(&d, &[0.0; SAMPLES], 10.0, 10.0 * (0.5 * Z99).exp());
        assert!((m - 10.0).abs() < 1e-9 && (s - 0.5).abs() < 1e-9, "{m} {s}");
    }

    #[test]
    fn the_own_time_is_what_the_calls_leave() {
        // Calls take a constant 50 ms; the measured p50 and p99 are a log-normal (median 20,
        // shape 0.4) on top of them.
        let d = Draws::new(&mut SmallRng::seed_from_u64(2));
        let calls = vec![50.0; SAMPLES];
        let (m, s) = fit_service(&d, &calls, 70.0, 50.0 + 20.0 * (0.4 * Z99).exp());
        assert!((m / 20.0 - 1.0).abs() < 0.05, "{m}");
        assert!((s - 0.4).abs() < 0.05, "{s}");
    }

    #[test]
    fn calls_longer_than_the_p50_leave_a_small_own_time() {
        let d = Draws::new(&mut SmallRng::seed_from_u64(3));
        let (m, _) = fit_service(&d, &vec![100.0; SAMPLES], 80.0, 200.0);
        assert!(m <= 0.02 * 80.0 + 1e-9, "{m}");
    }
}
