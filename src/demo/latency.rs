//! The latency the demo reports, as a mesh would from real requests: each second a sample of
//! requests is followed through the shop's call tree — the wait at a pod, the service time,
//! and for each call the network round trip between the two pods and the callee's own answer —
//! and the demo reports the sample's percentiles. Percentiles of sums are not sums of
//! percentiles: a frontend that calls checkoutservice on one request in five has a p99 set by
//! those requests, not by an average. A pod is an M/M/c queue: exponential service times, so
//! the Erlang C wait is exactly the wait of the service times the sample draws.

use crate::twin::{Dist, LatencyModel, Location};
use rand::RngExt;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp1};

/// Requests sampled per workload and second.
pub const SAMPLES: usize = 2000;

/// A ready pod: where it runs and how fast its server is.
#[derive(Debug, Clone, PartialEq)]
pub struct PodAt {
    pub location: Location,
    pub server: usize,
    pub speed: f64,
}

/// One workload's own time this second: queueing at its pod, then service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Own {
    /// Mean service time on a server of speed 1, ms (exponential).
    pub service_ms: f64,
    /// Probability that a request waits for a worker (Erlang C).
    pub p_wait: f64,
    /// Mean of that wait when it happens (exponential), ms.
    pub wait_mean_ms: f64,
    /// Time to work off the backlog ahead of a request, ms (the same for all this second).
    pub backlog_ms: f64,
    /// This second's multiplicative noise on the service time.
    pub factor: f64,
}

impl Own {
    /// No pod is ready: requests wait for 30 s (and time out).
    pub fn unavailable() -> Own {
        Own { service_ms: 0.0, p_wait: 0.0, wait_mean_ms: 0.0, backlog_ms: 30_000.0, factor: 1.0 }
    }

    fn sample(&self, speed: f64, rng: &mut SmallRng) -> f64 {
        let e: f64 = Exp1.sample(rng);
        let service = self.service_ms / speed.max(1e-3) * e * self.factor;
        let wait = if self.p_wait > 0.0 && rng.random::<f64>() < self.p_wait {
            let e: f64 = Exp1.sample(rng);
            e * self.wait_mean_ms
        } else {
            0.0
        };
        service + wait + self.backlog_ms
    }
}

/// Calls from one workload to another: how many per request (a fraction is a probability),
/// and the locations of the callee's ready pods.
pub struct Calls<'a> {
    pub per_request: f64,
    pub callee: usize,
    pub callee_pods: &'a [PodAt],
}

/// End-to-end samples of one workload (its callees' samples already drawn), as the time from
/// a request's arrival at one of `pods` until its answer leaves: own time plus, for each call,
/// the round trip to a random ready pod of the callee and one of the callee's own samples.
pub fn sample_workload(
    own: &Own,
    pods: &[PodAt],
    calls: &[Calls<'_>],
    samples: &[Vec<f64>],
    latency: &LatencyModel,
    rng: &mut SmallRng,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        if pods.is_empty() {
            out.push(own.sample(1.0, rng));
            continue;
        }
        let from = &pods[rng.random_range(0..pods.len())];
        let mut t = own.sample(from.speed, rng);
        {
            for c in calls {
                let theirs = &samples[c.callee];
                if theirs.is_empty() || c.callee_pods.is_empty() {
                    continue;
                }
                let whole = c.per_request.floor();
                let n = whole as u32 + u32::from(rng.random::<f64>() < c.per_request - whole);
                for _ in 0..n {
                    let to = &c.callee_pods[rng.random_range(0..c.callee_pods.len())];
                    let hop: &Dist = latency.between(&from.location, &to.location, from.server == to.server);
                    t += hop.sample(rng) + hop.sample(rng);
                    t += theirs[rng.random_range(0..theirs.len())];
                }
            }
        }
        out.push(t);
    }
    out
}

/// The p50 and p99 of a sample (sorted in place).
pub fn p50_p99(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_unstable_by(f64::total_cmp);
    let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (q(0.5), q(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_idle_service_reports_its_service_quantiles() {
        let own = Own { service_ms: 10.0, p_wait: 0.0, wait_mean_ms: 0.0, backlog_ms: 0.0, factor: 1.0 };
        let mut rng = SmallRng::seed_from_u64(1);
        let mut v: Vec<f64> = (0..20)
            .flat_map(|_| sample_workload(&own, &[], &[], &[], &LatencyModel::default(), &mut rng))
            .collect();
        let (p50, p99) = p50_p99(&mut v);
        // Exponential with a 10 ms mean: p50 = 10 ln 2, p99 = 10 ln 100.
        assert!((p50 / (10.0 * 2f64.ln()) - 1.0).abs() < 0.03, "{p50}");
        assert!((p99 / (10.0 * 100f64.ln()) - 1.0).abs() < 0.05, "{p99}");
    }

    #[test]
    fn a_rare_slow_call_sets_the_callers_p99_not_its_p50() {
        // A caller that calls a 300 ms service on one request in five: its p50 is its own
        // time, its p99 the slow callee's plus its own.
        // Constant times: no service time, only the backlog ahead of each request.
        let fast = Own { service_ms: 0.0, p_wait: 0.0, wait_mean_ms: 0.0, backlog_ms: 1.0, factor: 1.0 };
        let slow = Own { backlog_ms: 300.0, ..fast };
        let pods = vec![PodAt { location: Location::new("dc", "z", "r"), server: 0, speed: 1.0 }];
        let mut rng = SmallRng::seed_from_u64(2);
        let latency = LatencyModel::racks(1.0, 20.0);
        let callee = sample_workload(&slow, &pods, &[], &[], &latency, &mut rng);
        let samples = vec![Vec::new(), callee];
        let calls = [Calls { per_request: 0.2, callee: 1, callee_pods: &pods }];
        let mut v = sample_workload(&fast, &pods, &calls, &samples, &latency, &mut rng);
        let (p50, p99) = p50_p99(&mut v);
        assert_eq!(p50, 1.0, "four requests in five never call it");
        assert_eq!(p99, 301.0, "same server: no network time");
    }
}
