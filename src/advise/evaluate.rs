//! Predicting a change's effect on the twin. `Evaluator` is the seam: the request-level
//! simulator can implement it; until then `AnalyticEvaluator` does, with an M/M/c (Erlang C)
//! queue per workload over the call graph, calibrated on the twin's own figures. An eviction
//! keeps the workload's pod count, so its p99 is predicted unchanged (the model has no CPU
//! contention between pods of one server); what it predicts is the servers' RUB and the CPU of
//! the server it relieves, the pod's share of use moving to where the twin expects it.

use super::proposal::{BeforeAfter, Prediction, Spread};
use super::rebalance;
use super::validate::{free_capacity, place_pods};
use crate::change::Change;
use crate::twin::kpi::{ServerUtil, rub};
use crate::twin::{Resources, Snapshot};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, StandardNormal};

/// A seed counts as improved when the target's p99 drops to this share of the baseline or
/// below (or SLO violations drop): smaller changes are within what the model cannot resolve.
pub(crate) const MATERIAL: f64 = 0.8;

pub trait Evaluator {
    /// The change's predicted effect against the unchanged baseline, over `seeds`.
    fn evaluate(&self, snap: &Snapshot, change: &Change, seeds: &[u64]) -> Prediction;

    /// `evaluate` with every entry's traffic times `load` (a forecast peak), baseline and
    /// change alike. None where the evaluator cannot change the load it predicts under.
    fn evaluate_at_load(
        &self,
        _snap: &Snapshot,
        _change: &Change,
        _seeds: &[u64],
        _load: f64,
    ) -> Option<Prediction> {
        None
    }
}

/// M/M/c per workload: arrival rate λ from the twin, c = its ready pods, and a pod's service
/// rate μ calibrated on the twin's own figures: at least the rate at which a pod would use
/// exactly its CPU request (the utilisation an HPA scales on), raised when that would queue more
/// than the observed p99 allows — the p99 the workload adds over its slowest callee is taken
/// as its own service and queueing time. The rest of the observed p99 is kept as a constant, so
/// the baseline reproduces the twin. Seeds vary the arrival rate with the workload's own recent
/// traffic noise.
#[derive(Debug, Clone)]
pub struct AnalyticEvaluator {
    /// Over how long an overload builds its backlog, seconds.
    pub horizon_s: u32,
}

impl Default for AnalyticEvaluator {
    fn default() -> Self {
        AnalyticEvaluator { horizon_s: 60 }
    }
}

/// One workload's queue, as calibrated from the twin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Queue {
    pub lambda: f64,
    /// Coefficient of variation of the recent arrival rate.
    pub cv: f64,
    pub mu_pod: f64,
    pub pods: u32,
    /// Observed p99 minus the modelled queueing: what scaling does not change.
    pub base_ms: f64,
}

impl AnalyticEvaluator {
    /// Queueing p99 wait in ms; beyond saturation, the mean wait of a backlog growing over
    /// half the horizon (the fluid limit), added to the wait just below saturation.
    pub(crate) fn wait_p99_ms(&self, lambda: f64, mu: f64, c: u32) -> f64 {
        let c = c.max(1);
        let cap = c as f64 * mu;
        if lambda <= 0.0 || mu <= 0.0 {
            return 0.0;
        }
        let rho_max = 0.999;
        if lambda < cap * rho_max {
            return erlang_p99_ms(lambda, mu, c);
        }
        let backlog = (lambda - cap * rho_max) * self.horizon_s as f64 / 2.0;
        erlang_p99_ms(cap * rho_max, mu, c) + backlog / cap * 1000.0
    }

    /// The per-pod service rate at which the mean over `lambdas` of the p99 of service
    /// (exponential) plus queueing equals `own_p99_ms` on `c` pods (bisection; the fastest rate
    /// tried when even that is too slow).
    fn fit_mu(&self, lambdas: &[f64], c: u32, own_p99_ms: f64) -> f64 {
        let sojourn = |mu: f64| {
            let wait =
                lambdas.iter().map(|&l| self.wait_p99_ms(l, mu, c)).sum::<f64>() / lambdas.len() as f64;
            wait + 100f64.ln() / mu * 1000.0
        };
        let top = lambdas.iter().cloned().fold(0.0, f64::max) / c as f64;
        let (mut lo, mut hi) = (top * 1e-3, top.max(1.0) * 1e4);
        if own_p99_ms <= 0.0 || sojourn(hi) > own_p99_ms {
            return hi;
        }
        for _ in 0..100 {
            let mid = (lo * hi).sqrt();
            if sojourn(mid) > own_p99_ms { lo = mid } else { hi = mid }
        }
        hi
    }

    /// The mean queueing p99 over the arrival rates of the seeds.
    fn mean_wait(&self, lambdas: &[f64], mu: f64, c: u32) -> f64 {
        lambdas.iter().map(|&l| self.wait_p99_ms(l, mu, c)).sum::<f64>() / lambdas.len().max(1) as f64
    }

    /// Calibrates a queue for every workload with traffic, CPU usage, a CPU request and a p99,
    /// so that the mean over the seeds' traffic (`z`: standard normal draws, one per seed)
    /// reproduces the observed p99.
    pub(crate) fn queues(&self, snap: &Snapshot, z: &[f64]) -> Vec<Option<Queue>> {
        (0..snap.workloads.len())
            .map(|w| {
                let wl = &snap.workloads[w];
                let st = &snap.workload_status[w];
                let lambda = st.rps.filter(|r| *r > 0.0)?;
                let cpu = st.usage.map(|u| u.cpu_m).filter(|c| *c > 0.0)?;
                let p99 = st.p99_ms?;
                if wl.requests.cpu_m <= 0.0 {
                    return None;
                }
                let pods = st.ready.max(1);
                let mu_cpu = wl.requests.cpu_m / (cpu / lambda);
                let key = wl.key();
                let callee_tail = snap
                    .edges
                    .iter()
                    .filter(|e| e.from == key)
                    .filter_map(|e| snap.workload_index(&e.to).and_then(|b| snap.workload_status[b].p99_ms))
                    .fold(0.0, f64::max);
                let cv = snap
                    .workload_history
                    .get(w)
                    .map(|h| coefficient_of_variation(&h.rps.tail(60)))
                    .unwrap_or(0.05);
                let lambdas: Vec<f64> = if z.is_empty() {
                    vec![lambda]
                } else {
                    z.iter().map(|z| seeded_rate(lambda, cv, *z)).collect()
                };
                let mu_pod = mu_cpu.max(self.fit_mu(&lambdas, pods, p99 - callee_tail));
                let base_ms = (p99 - self.mean_wait(&lambdas, mu_pod, pods)).max(0.0);
                Some(Queue { lambda, cv, mu_pod, pods, base_ms })
            })
            .collect()
    }
}

impl Evaluator for AnalyticEvaluator {
    fn evaluate(&self, snap: &Snapshot, change: &Change, seeds: &[u64]) -> Prediction {
        let zs: Vec<f64> =
            seeds.iter().map(|&s| StandardNormal.sample(&mut SmallRng::seed_from_u64(s))).collect();
        let queues = self.queues(snap, &zs);
        let n = snap.workloads.len();
        let pods_after = pods_after(snap, change);
        let target_ws: Vec<usize> = match change {
            Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => {
                snap.workload_index(workload).into_iter().collect()
            }
            Change::Cordon { server, .. } => workloads_on_server(snap, server),
            Change::Evict { pod, .. } => snap.workload_of_pod(pod).into_iter().collect(),
        };
        let callees: Vec<Vec<usize>> = (0..n)
            .map(|a| {
                snap.edges
                    .iter()
                    .filter(|e| snap.workload_index(&e.from) == Some(a))
                    .filter_map(|e| snap.workload_index(&e.to))
                    .collect()
            })
            .collect();

        let (mut p99_b, mut p99_a, mut slo_b, mut slo_a, mut improved) = (vec![], vec![], vec![], vec![], 0);
        for &z in &zs {
            // Each workload's deviation from its observed p99 in this seed, before and after.
            let observed: Vec<Option<f64>> = snap.workload_status.iter().map(|st| st.p99_ms).collect();
            let mut dev_b = vec![0.0; n];
            let mut dev_a = vec![0.0; n];
            for w in 0..n {
                let (Some(q), Some(obs)) = (queues[w], observed[w]) else { continue };
                let lambda = seeded_rate(q.lambda, q.cv, z);
                let after_pods = pods_after[w].unwrap_or(q.pods);
                dev_b[w] = q.base_ms + self.wait_p99_ms(lambda, q.mu_pod, q.pods) - obs;
                dev_a[w] = q.base_ms + self.wait_p99_ms(lambda, q.mu_pod, after_pods) - obs;
            }
            // A caller waits for its callees: a callee's deviation reaches every caller above it
            // (the largest among its callees, as the slowest call bounds the tail).
            let (dev_b, dev_a) = (propagate(&dev_b, &callees), propagate(&dev_a, &callees));
            let at = |dev: &[f64]| -> Vec<Option<f64>> {
                (0..n).map(|w| observed[w].map(|o| (o + dev[w]).max(0.0))).collect()
            };
            let (before, after) = (at(&dev_b), at(&dev_a));
            let worst = |v: &[Option<f64>]| target_ws.iter().filter_map(|&w| v[w]).fold(0.0, f64::max);
            let (tb, ta) = (worst(&before), worst(&after));
            let (vb, va) = (violations(snap, &before), violations(snap, &after));
            // Nothing measured (no p99 on the targets) is no improvement.
            if va < vb || (va == vb && tb > 0.0 && ta <= tb * MATERIAL) {
                improved += 1;
            }
            p99_b.push(tb);
            p99_a.push(ta);
            slo_b.push(vb as f64);
            slo_a.push(va as f64);
        }
        let (cost_b, cost_a) = cost_per_hour(snap, &pods_after);
        let fixed = |b: f64, a: f64| BeforeAfter { before: Spread::of(&[b]), after: Spread::of(&[a]) };
        let (rub_b, rub_a, server_cpu) = match evict_effect(snap, change) {
            Some((rub_b, rub_a, cpu_b, cpu_a)) => (rub_b, rub_a, Some(fixed(cpu_b, cpu_a))),
            None => {
                let (b, a) = rub_before_after(snap, &pods_after);
                (b, a, None)
            }
        };
        Prediction {
            model: "analytic".into(),
            seeds: seeds.len(),
            horizon_s: self.horizon_s,
            p99_ms: BeforeAfter { before: Spread::of(&p99_b), after: Spread::of(&p99_a) },
            measured_p99_ms: None,
            slo_violations: BeforeAfter { before: Spread::of(&slo_b), after: Spread::of(&slo_a) },
            cost_per_hour: fixed(cost_b, cost_a),
            rub: fixed(rub_b, rub_a),
            server_cpu,
            improved_seeds: improved,
        }
    }
}

/// Adds to each workload's own deviation the largest (by magnitude) deviation among its
/// callees, transitively (a fixed point over the call graph; cycles stop after `n` rounds).
fn propagate(own: &[f64], callees: &[Vec<usize>]) -> Vec<f64> {
    let n = own.len();
    let mut dev = own.to_vec();
    for _ in 0..n {
        let mut changed = false;
        for a in 0..n {
            let inherited = callees[a]
                .iter()
                .map(|&b| dev[b])
                .fold(0.0, |m: f64, d| if d.abs() > m.abs() { d } else { m });
            let d = own[a] + inherited;
            if (d - dev[a]).abs() > 1e-9 {
                dev[a] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    dev
}

/// The arrival rate of one seed: the observed rate varied by the workload's own noise.
fn seeded_rate(lambda: f64, cv: f64, z: f64) -> f64 {
    lambda * (1.0 + cv * z).max(0.1)
}

/// P99 of the M/M/c waiting time: P(W > t) = C(c, a)·e^{−(cμ−λ)t}.
fn erlang_p99_ms(lambda: f64, mu: f64, c: u32) -> f64 {
    crate::queueing::wait_quantile_s(c, lambda / mu, 1.0 / mu, 0.01) * 1000.0
}

/// Relative noise of a rate series: the robust spread (MAD) of its successive differences,
/// over √2 and the mean — a trend or a step (a surge starting) is not noise.
fn coefficient_of_variation(v: &[f64]) -> f64 {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 5 {
        return 0.05;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    if mean <= 0.0 {
        return 0.05;
    }
    let median = |mut x: Vec<f64>| {
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let d: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(d.clone());
    let mad = median(d.iter().map(|x| (x - m).abs()).collect());
    (1.4826 * mad / std::f64::consts::SQRT_2 / mean).clamp(0.01, 1.0)
}

fn violations(snap: &Snapshot, p99: &[Option<f64>]) -> usize {
    snap.workloads
        .iter()
        .zip(p99)
        .filter(|(w, p)| matches!((w.slo_p99_ms, p), (Some(s), Some(p)) if *p > s))
        .count()
}

fn workloads_on_server(snap: &Snapshot, server: &str) -> Vec<usize> {
    let Some(s) = snap.server_index(server) else { return vec![] };
    let mut ws: Vec<usize> = snap.pods_on_server(s).filter_map(|p| p.workload).collect();
    ws.sort_unstable();
    ws.dedup();
    ws
}

/// Pods each workload serves with after the change settles (`None`: unchanged).
fn pods_after(snap: &Snapshot, change: &Change) -> Vec<Option<u32>> {
    let mut out = vec![None; snap.workloads.len()];
    match change {
        Change::Scale { workload, replicas } => {
            if let Some(w) = snap.workload_index(workload) {
                out[w] = Some(*replicas);
            }
        }
        Change::HpaBounds { workload, min, max } => {
            if let Some(w) = snap.workload_index(workload) {
                let now = snap.workloads[w].replicas;
                if now < *min || now > *max {
                    out[w] = Some(now.clamp(*min, *max));
                }
            }
        }
        // Cordoning keeps every pod where it is; only future scheduling changes. An evicted pod
        // is replaced (one pod fewer only while the replacement starts).
        Change::Cordon { .. } | Change::Evict { .. } => {}
    }
    out
}

/// An eviction's effect on the servers, the pod taking its share of use to where the twin
/// expects it: (RUB before, after, CPU share of its server before, after). `None` for other
/// changes, or when the pod or a server for it is not in the twin.
fn evict_effect(snap: &Snapshot, change: &Change) -> Option<(f64, f64, f64, f64)> {
    let Change::Evict { pod, to, .. } = change else { return None };
    let i = snap.pod_index(pod)?;
    let from = snap.pods[i].server?;
    let to = rebalance::expected_server(snap, i, to.as_deref())?;
    let (b, a) = rebalance::figures_after(snap, &[rebalance::PodMove { pod: i, from, to }]);
    Some((b.rub, a.rub, b.cpu[from], a.cpu[from]))
}

/// Hourly cost of the pods' requests: a pod costs its larger share (CPU or memory) of the
/// mean server's allocatable times the mean server price.
fn cost_per_hour(snap: &Snapshot, pods_after: &[Option<u32>]) -> (f64, f64) {
    let n = snap.servers.len().max(1) as f64;
    let price = snap.servers.iter().map(|s| s.price_per_hour).sum::<f64>() / n;
    let cpu = snap.servers.iter().map(|s| s.allocatable.cpu_m).sum::<f64>() / n;
    let mem = snap.servers.iter().map(|s| s.allocatable.mem_mib).sum::<f64>() / n;
    let pod_cost = |r: &Resources| price * (ratio(r.cpu_m, cpu).max(ratio(r.mem_mib, mem)));
    let (mut b, mut a) = (0.0, 0.0);
    for (w, wl) in snap.workloads.iter().enumerate() {
        let c = pod_cost(&wl.requests);
        b += c * wl.replicas as f64;
        a += c * pods_after[w].unwrap_or(wl.replicas) as f64;
    }
    (b, a)
}

/// RUB now and after the change: a scaled workload's load spreads evenly over its new pod
/// count; new pods go where a spreading scheduler would put them.
fn rub_before_after(snap: &Snapshot, pods_after: &[Option<u32>]) -> (f64, f64) {
    let mut usage: Vec<Resources> = snap.server_status.iter().map(|s| s.effective_usage()).collect();
    let mean_util = |usage: &[Resources]| -> Vec<f64> {
        snap.servers
            .iter()
            .zip(usage)
            .map(|(s, u)| {
                ServerUtil {
                    cpu: ratio(u.cpu_m, s.allocatable.cpu_m),
                    mem: ratio(u.mem_mib, s.allocatable.mem_mib),
                    bw: ratio(u.bw_mbps, s.allocatable.bw_mbps),
                }
                .mean()
            })
            .collect()
    };
    let before = rub(&mean_util(&usage));
    let mut free = free_capacity(snap);
    for (w, after) in pods_after.iter().enumerate() {
        let Some(after) = *after else { continue };
        let hosts: Vec<usize> = snap.pods_of_workload(w).filter_map(|p| p.server).collect();
        if hosts.is_empty() || after == 0 {
            continue;
        }
        let wl = &snap.workloads[w];
        let total = snap.workload_status[w].usage.unwrap_or(wl.requests.scale(hosts.len() as f64));
        let old_share = total.scale(1.0 / hosts.len() as f64);
        let new_share = total.scale(1.0 / after as f64);
        for &s in &hosts {
            usage[s] = usage[s].sub(&old_share);
        }
        let kept = hosts.iter().take(after as usize);
        let added = place_pods(&mut free, &wl.requests, after.saturating_sub(hosts.len() as u32));
        for &s in kept.chain(added.iter()) {
            usage[s] = usage[s].add(&new_share);
        }
    }
    (before, rub(&mean_util(&usage)))
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::testkit::small_twin;

    const SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    #[test]
    fn erlang_p99_matches_mm1_by_hand() {
        // M/M/1, ρ = 0.9, μ = 100/s: P(W > t) = 0.9·e^{−10t} → p99 = ln(90)/10 s.
        assert!((erlang_p99_ms(90.0, 100.0, 1) - 90f64.ln() / 10.0 * 1000.0).abs() < 1e-6);
        assert_eq!(erlang_p99_ms(0.5, 100.0, 1), 0.0);
    }

    #[test]
    fn baseline_reproduces_the_twin() {
        let snap = small_twin();
        let ev = AnalyticEvaluator::default();
        let q = ev.queues(&snap, &[]);
        // db: 19 rps at 285 m of 2 × 500 m → at least μ = 33.3/s per pod (ρ ≤ 0.285).
        let db = snap.workload_index("shop/db").unwrap();
        let qd = q[db].expect("db has traffic, CPU and p99");
        assert!(qd.lambda / (qd.mu_pod * 2.0) <= 0.285 + 1e-9, "{qd:?}");
        assert!(qd.base_ms > 0.0);
        let p99 = qd.base_ms + ev.wait_p99_ms(qd.lambda, qd.mu_pod, qd.pods);
        assert!((p99 - snap.workload_status[db].p99_ms.unwrap()).abs() < 1e-6);
    }

    #[test]
    fn scaling_an_overloaded_workload_helps_it_and_its_caller() {
        let snap = small_twin();
        let ev = AnalyticEvaluator::default();
        let p = ev.evaluate(&snap, &Change::Scale { workload: "shop/api".into(), replicas: 4 }, &SEEDS);
        assert_eq!(p.model, "analytic");
        assert_eq!(p.seeds, 8);
        assert!(p.p99_ms.after.mean < p.p99_ms.before.mean * 0.7, "{p:?}");
        assert!(p.slo_violations.after.mean <= p.slo_violations.before.mean);
        assert!(p.cost_per_hour.after.mean > p.cost_per_hour.before.mean);
        assert!(p.p99_ms.before.max >= p.p99_ms.before.min);
        assert_eq!(p.improved_seeds, 8);
        // The web caller inherits the improvement.
        let hpa =
            ev.evaluate(&snap, &Change::HpaBounds { workload: "shop/web".into(), min: 2, max: 8 }, &SEEDS);
        assert_eq!(hpa.p99_ms.before.mean, hpa.p99_ms.after.mean, "raising max alone changes nothing now");
    }

    #[test]
    fn scaling_down_an_overloaded_workload_is_predicted_worse() {
        let snap = small_twin();
        let p = AnalyticEvaluator::default().evaluate(
            &snap,
            &Change::Scale { workload: "shop/api".into(), replicas: 1 },
            &SEEDS,
        );
        assert!(p.p99_ms.after.mean > p.p99_ms.before.mean);
        assert_eq!(p.improved_seeds, 0);
        assert!(p.cost_per_hour.after.mean < p.cost_per_hour.before.mean);
    }
}
