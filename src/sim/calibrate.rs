//! A request model for each workload, fitted to what the twin measures: its own processing time
//! (end-to-end latency minus the calls it waits on), the tail of that time, and how many requests
//! one pod serves at once. The twin never sees a pod's concurrency, so it is fitted to the
//! queueing the twin observes now: the smallest set of assumptions that makes the simulator
//! reproduce the measured latency at the measured load.

use crate::twin::{Dist, PodPhase, Snapshot};

/// How a workload's parallelism was chosen, so a report can say how much to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// No latency measured: defaults.
    Unmeasured,
    /// Latency measured but no queueing visible: sized from CPU usage (or 60 % busy).
    Unloaded,
    /// Parallelism fitted to the measured queueing delay.
    Queueing,
    /// More delay than any stable queue explains: capacity set just under the offered rate.
    Saturated,
}

/// The request model of one workload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkloadModel {
    /// Median own processing time on an idle pod, ms.
    pub service_median_ms: f64,
    /// Log-normal shape of the processing time.
    pub sigma: f64,
    /// Requests one pod serves at once.
    pub parallelism: u32,
    pub fit: Fit,
}

impl WorkloadModel {
    pub(crate) fn service_time(&self) -> Dist {
        Dist::LogNormal { mu: self.service_median_ms.max(1e-3).ln(), sigma: self.sigma }
    }
}

/// z of the 99th percentile of a standard normal.
const Z99: f64 = 2.326;
/// Samples of history looked at for the quietest moment.
const HISTORY: usize = 300;
const MAX_PARALLELISM: u32 = 512;

/// Fits every workload of the snapshot (same order as `snap.workloads`).
/// `default_service_ms` is used where no latency is measured.
pub(crate) fn calibrate(snap: &Snapshot, default_service_ms: f64) -> Vec<WorkloadModel> {
    let n = snap.workloads.len();
    let rps: Vec<Option<f64>> =
        (0..n).map(|w| snap.workload_status.get(w).and_then(|s| s.rps).filter(|r| *r > 0.0)).collect();
    // Servers of each workload's running pods, gathered once.
    let mut placed: Vec<Vec<usize>> = vec![Vec::new(); n];
    for p in snap.pods.iter().filter(|p| p.phase == PodPhase::Running) {
        if let (Some(w), Some(s)) = (p.workload, p.server)
            && w < n
        {
            placed[w].push(s);
        }
    }
    // Callees with calls per request and the round-trip network time to them.
    let mut callees: Vec<Vec<(usize, f64, f64)>> = vec![Vec::new(); n];
    for e in &snap.edges {
        let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else { continue };
        if a == b {
            continue;
        }
        let per_req = match rps[a] {
            Some(r) if e.rps > 0.0 => (e.rps / r).clamp(0.0, 20.0),
            _ => 1.0,
        };
        callees[a].push((b, per_req, 2.0 * mean_hop_ms(snap, &placed[a], &placed[b])));
    }
    let series = |w: usize| -> (Vec<f64>, Vec<f64>) {
        let st = snap.workload_status.get(w).copied().unwrap_or_default();
        let (mut p50, mut p99) = match snap.workload_history.get(w) {
            Some(h) => (h.p50_ms.tail(HISTORY), h.p99_ms.tail(HISTORY)),
            None => (Vec::new(), Vec::new()),
        };
        // The current value is the newest sample; a twin without history has only that.
        if p50.is_empty() {
            p50 = vec![st.p50_ms.unwrap_or(f64::NAN)];
            p99 = vec![st.p99_ms.unwrap_or(f64::NAN)];
        }
        (p50, p99)
    };
    let all: Vec<(Vec<f64>, Vec<f64>)> = (0..n).map(series).collect();

    (0..n)
        .map(|w| {
            let st = snap.workload_status.get(w).copied().unwrap_or_default();
            let (p50s, p99s) = &all[w];
            // Own time per sample, aligned from the newest sample backwards.
            let own: Vec<(f64, f64)> = (1..=p50s.len())
                .filter_map(|back| {
                    let at = |v: &Vec<f64>| v.len().checked_sub(back).map(|i| v[i]);
                    let (p50, p99) = (at(p50s)?, at(p99s)?);
                    if !(p50.is_finite() && p50 > 0.0) {
                        return None;
                    }
                    let mut wait50 = 0.0;
                    let mut tail: f64 = 0.0;
                    for &(c, k, hop) in &callees[w] {
                        let (c50, c99) =
                            (at(&all[c].0).unwrap_or(f64::NAN), at(&all[c].1).unwrap_or(f64::NAN));
                        let c50 = if c50.is_finite() { c50 } else { 0.0 };
                        wait50 += k * (c50 + hop);
                        if c99.is_finite() {
                            tail = tail.max(c99 - c50);
                        }
                    }
                    let own50 = (p50 - wait50).max(0.05 * p50).max(0.01);
                    let p99 = if p99.is_finite() && p99 >= p50 { p99 } else { p50 * 3.0 };
                    let own99 = (p99 - wait50 - tail).max(own50 * 1.05);
                    Some((own50, own99))
                })
                .collect();
            let Some(&(now50, now99)) = own.first() else {
                return WorkloadModel {
                    service_median_ms: default_service_ms,
                    sigma: 0.5,
                    parallelism: cpu_sized_parallelism(snap, w, rps[w], default_service_ms, 0.5),
                    fit: Fit::Unmeasured,
                };
            };
            // The quietest moment shows the processing time with the least queueing in it.
            let (q50, q99) = own.iter().copied().fold((now50, now99), |m, s| if s.0 < m.0 { s } else { m });
            let sigma = ((q99 / q50).ln() / Z99).clamp(0.1, 1.5);
            let median = q50;
            let pods = st.ready.max(1) as f64;
            let lambda = rps[w].unwrap_or(0.0) / pods;
            let mean_s = median * (sigma * sigma / 2.0).exp() / 1000.0;
            let cv2 = (sigma * sigma).exp() - 1.0;
            let service_p99 = median * (Z99 * sigma).exp();
            let cpu_sized = cpu_sized_parallelism(snap, w, rps[w], median, sigma);
            let (parallelism, fit) = fit_parallelism(lambda, mean_s, cv2, service_p99, now99, cpu_sized);
            WorkloadModel { service_median_ms: median, sigma, parallelism, fit }
        })
        .collect()
}

/// The parallelism whose predicted own p99 (service p99 plus the Erlang-C waiting time with the
/// Allen–Cunneen correction for non-exponential service) best matches the observed one.
fn fit_parallelism(
    lambda: f64,
    mean_s: f64,
    cv2: f64,
    service_p99_ms: f64,
    observed_p99_ms: f64,
    cpu_sized: u32,
) -> (u32, Fit) {
    let a = lambda * mean_s;
    if lambda <= 0.0 || mean_s <= 0.0 {
        return (cpu_sized, Fit::Unloaded);
    }
    // Queueing is visible when the tail is clearly longer than service alone explains.
    if observed_p99_ms <= service_p99_ms * 1.15 {
        let stable = a.floor() as u32 + 1;
        return (cpu_sized.max(stable), Fit::Unloaded);
    }
    let first = a.floor() as u32 + 1;
    let mut best = None::<(u32, f64)>;
    for c in first..=MAX_PARALLELISM.max(first) {
        let wait_p99 = erlang_c_wait_quantile_ms(c, a, mean_s, 0.01) * (1.0 + cv2) / 2.0;
        let err = ((service_p99_ms + wait_p99) / observed_p99_ms).ln().abs();
        if best.is_none_or(|(_, e)| err < e) {
            best = Some((c, err));
        }
        if wait_p99 < 0.01 * service_p99_ms {
            break;
        }
    }
    match best {
        // Even the smallest stable parallelism waits far less than observed: the pods are
        // over capacity (a growing backlog).
        Some((c, err)) if c == first && err > 0.4 && first > 1 => (first - 1, Fit::Saturated),
        Some((c, err)) if c == first && err > 0.4 => (1, Fit::Saturated),
        Some((c, _)) => (c, Fit::Queueing),
        None => (cpu_sized, Fit::Unloaded),
    }
}

/// The `1 - p` quantile of the waiting time in M/M/c with offered load `a` (erlangs) and mean
/// service time `mean_s`: P(W > t) = C(c, a)·e^{−(c − a)t/mean}.
fn erlang_c_wait_quantile_ms(c: u32, a: f64, mean_s: f64, p: f64) -> f64 {
    crate::queueing::wait_quantile_s(c, a, mean_s, p) * 1000.0
}

/// Pods sized so the measured rate keeps them as busy as their CPU usage says (60 % when the
/// twin has no usage): the fallback when latency shows no queueing.
fn cpu_sized_parallelism(snap: &Snapshot, w: usize, rps: Option<f64>, median_ms: f64, sigma: f64) -> u32 {
    let wl = &snap.workloads[w];
    let st = snap.workload_status.get(w).copied().unwrap_or_default();
    let pods = st.ready.max(wl.replicas).max(1) as f64;
    let busy = match st.usage {
        Some(u) if wl.requests.cpu_m > 0.0 && u.cpu_m > 0.0 => {
            (u.cpu_m / (pods * wl.requests.cpu_m)).clamp(0.05, 0.95)
        }
        _ => 0.6,
    };
    let mean_ms = median_ms * (sigma * sigma / 2.0).exp();
    let erlangs = rps.unwrap_or(0.0) * mean_ms / 1000.0 / pods;
    ((erlangs / busy).ceil() as u32).clamp(1, MAX_PARALLELISM)
}

/// Mean one-way network time between the servers of two workloads' running pods.
fn mean_hop_ms(snap: &Snapshot, pa: &[usize], pb: &[usize]) -> f64 {
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    // Every pair up to ~10,000; beyond that an even sample of each side, so two workloads of
    // thousands of pods cost milliseconds, not seconds.
    let stride = |n: usize| n.div_ceil(100).max(1);
    let (sa, sb) = (stride(pa.len()), stride(pb.len()));
    let (mut sum, mut n) = (0.0, 0usize);
    for &x in pa.iter().step_by(sa) {
        for &y in pb.iter().step_by(sb) {
            let (lx, ly) = (&snap.servers[x].location, &snap.servers[y].location);
            sum += snap.latency.mean_between(lx, ly, x == y);
            n += 1;
        }
    }
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoPreset, DemoTwin, SURGE};
    use chrono::{TimeZone, Utc};

    fn demo_at(tick: u64) -> std::sync::Arc<Snapshot> {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 1, start);
        demo.warm_snapshot(tick as u32)
    }

    fn model(snap: &Snapshot, name: &str) -> WorkloadModel {
        let w = snap.workload_index(name).unwrap();
        calibrate(snap, 10.0)[w].clone()
    }

    #[test]
    fn own_time_excludes_the_calls_a_service_waits_on() {
        // checkoutservice takes 60 ms per request on an idle pod in the demo's catalog and
        // waits on six callees; its measured p50 includes them and the network.
        let snap = demo_at(SURGE.start + 30);
        let m = model(&snap, "checkoutservice");
        assert!((40.0..90.0).contains(&m.service_median_ms), "{m:?}");
        let m = model(&snap, "productcatalogservice");
        assert!(m.service_median_ms < 5.0, "{m:?}");
    }

    #[test]
    fn the_surging_service_is_fitted_to_its_queueing() {
        // In the surge checkoutservice's two pods (two requests at a time each) run near or
        // over capacity; the fit must not give it room it does not have.
        let snap = demo_at(SURGE.start + 30);
        let m = model(&snap, "checkoutservice");
        assert!(matches!(m.fit, Fit::Queueing | Fit::Saturated), "{m:?}");
        assert!((1..=3).contains(&m.parallelism), "{m:?}");
        // A quiet service has visible headroom.
        let m = model(&snap, "currencyservice");
        let w = snap.workload_index("currencyservice").unwrap();
        let st = snap.workload_status[w];
        let rho = st.rps.unwrap() / st.ready as f64 * m.service_median_ms / 1000.0 / m.parallelism as f64;
        assert!(rho < 0.9, "{m:?} rho {rho}");
    }

    #[test]
    fn erlang_c_quantile_matches_mm1() {
        // M/M/1 at ρ = 0.9, mean 10 ms: P(W > t) = 0.9 e^{−t/100ms}: p99 = 100 ms · ln 90.
        let q = erlang_c_wait_quantile_ms(1, 0.9, 0.010, 0.01);
        assert!((q - 100.0 * 90f64.ln()).abs() < 1e-6, "{q}");
    }

    #[test]
    fn a_twin_without_latency_gets_defaults() {
        let snap = crate::twin::Snapshot::empty();
        assert!(calibrate(&snap, 10.0).is_empty());
    }
}
