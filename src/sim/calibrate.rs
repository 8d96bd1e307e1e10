//! A request model for each workload, fitted to what the twin measures. A workload's measured
//! latency is its own time (a wait for a worker, then service) plus the calls it makes (the
//! round trip to a callee's pod and the callee's own answer), so the fit goes callees first and
//! works on samples: the calls' time is a sample of requests drawn through the callees' fitted
//! models, and the own time is what, added to it, reproduces the measured p50 and p99.
//! - The service time (log-normal: median and shape) comes from the workload's quietest recent
//!   moment, where the wait is least.
//! - Pods' concurrency comes from the queueing measured now: Erlang C, with the Allen–Cunneen
//!   correction for non-exponential service, whichever concurrency reproduces the p99; with no
//!   queueing visible, the least concurrency that keeps it invisible.
//! - A workload answering fewer requests than its callers send it is saturated: its pods serve
//!   what they answer, and the extra delay is a backlog.
//! - What is in the system now (requests in service, queued, backlogged) is kept, so a
//!   simulation of the present can start from it instead of from empty queues.

use super::calibrate_mc::{Draws, fit_service, quantiles};
use crate::twin::{Dist, Location, PodPhase, Snapshot};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// How a workload's request model was fitted, so a report can say how much to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// No latency measured: defaults.
    Unmeasured,
    /// Latency measured but no queueing visible: the least concurrency that keeps it so.
    Unloaded,
    /// Parallelism fitted to the measured queueing delay.
    Queueing,
    /// Answers fewer requests than it is sent: capacity at the measured rate, plus a backlog.
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
    /// Requests at its pods now (in service, waiting, backlogged), all pods together.
    pub in_system: f64,
    /// Why the model does not reproduce what is measured, when it does not.
    pub note: Option<String>,
}

impl WorkloadModel {
    pub(crate) fn service_time(&self) -> Dist {
        Dist::LogNormal { mu: self.service_median_ms.max(1e-3).ln(), sigma: self.sigma }
    }

    /// Mean own processing time on an idle pod, s.
    pub(crate) fn mean_s(&self) -> f64 {
        self.service_median_ms * (self.sigma * self.sigma / 2.0).exp() / 1000.0
    }
}

/// z of the 99th percentile of a standard normal.
pub(super) const Z99: f64 = 2.326;
/// Samples of history looked at for the quietest moment.
const HISTORY: usize = 300;
const MAX_PARALLELISM: u32 = 512;
/// How far the queueing fit may scale the quiet moment's service time.
const SCALE_MIN: f64 = 0.7;
const SCALE_MAX: f64 = 1.3;
/// A model whose p99 misses the measured one by more than this fraction gets a note.
const FIT_TOLERANCE: f64 = 0.25;

/// A measured workload's figures.
#[derive(Debug, Clone, Copy)]
struct Measured {
    p50: f64,
    p99: f64,
}

/// Fits every workload of the snapshot (same order as `snap.workloads`).
/// `default_service_ms` is used where no latency is measured.
pub(crate) fn calibrate(snap: &Snapshot, default_service_ms: f64) -> Vec<WorkloadModel> {
    let n = snap.workloads.len();
    let rps: Vec<Option<f64>> =
        (0..n).map(|w| snap.workload_status.get(w).and_then(|s| s.rps).filter(|r| *r > 0.0)).collect();
    let mut pods: Vec<Vec<(Location, usize)>> = vec![Vec::new(); n];
    for p in snap.pods.iter().filter(|p| p.phase == PodPhase::Running) {
        if let (Some(w), Some(s)) = (p.workload, p.server)
            && w < n
        {
            pods[w].push((snap.servers[s].location.clone(), s));
        }
    }
    // Callees with calls per answered request, and the rate each workload is sent.
    let mut callees: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut sent = vec![0.0; n];
    for e in &snap.edges {
        let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else { continue };
        if a == b {
            continue;
        }
        sent[b] += e.rps.max(0.0);
        let per_req = match rps[a] {
            Some(r) if e.rps > 0.0 => (e.rps / r).clamp(0.0, 20.0),
            _ => 1.0,
        };
        callees[a].push((b, per_req));
    }
    let history: Vec<(Vec<f64>, Vec<f64>)> = (0..n).map(|w| series(snap, w)).collect();
    let order = callees_first(&callees);
    let mut models: Vec<Option<WorkloadModel>> = vec![None; n];
    // Each fitted workload's time as its callers see it: a sample of requests now.
    let mut answers: Vec<Vec<f64>> = vec![Vec::new(); n];
    for w in order {
        let st = snap.workload_status.get(w).copied().unwrap_or_default();
        let mut rng = SmallRng::seed_from_u64(0x7477_696e ^ (w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let draws = Draws::new(&mut rng);
        let calls = call_sample(snap, w, &pods, &callees[w], &answers, &mut rng);
        let now = match (st.p50_ms, st.p99_ms) {
            (Some(p50), Some(p99)) if p50 > 0.0 && p50.is_finite() => {
                Some(Measured { p50, p99: if p99.is_finite() && p99 >= p50 { p99 } else { p50 * 3.0 } })
            }
            _ => None,
        };
        let Some(now) = now else {
            let m = unmeasured(snap, w, rps[w], default_service_ms);
            answers[w] = draws.own(&m, 0.0, 0.0, 0.0).iter().zip(&calls).map(|(a, b)| a + b).collect();
            models[w] = Some(m);
            continue;
        };
        let quiet = quietest(&history, &callees, w, &pods, snap).unwrap_or(now);
        let (median, sigma) = fit_service(&draws, &calls, quiet.p50, quiet.p99);
        let ready = (pods[w].len() as u32).max(st.ready).max(1);
        let lambda = rps[w].unwrap_or(0.0);
        let saturated = rps[w].is_some() && sent[w] > lambda * 1.1 + 0.5;
        let cpu_sized = cpu_sized_parallelism(snap, w, rps[w], median, sigma);
        let mut m = WorkloadModel {
            service_median_ms: median,
            sigma,
            parallelism: cpu_sized,
            fit: Fit::Unloaded,
            in_system: 0.0,
            note: None,
        };
        let (wait_p, wait_mean_ms, backlog_ms) = if lambda <= 0.0 {
            (0.0, 0.0, 0.0)
        } else if saturated {
            fit_saturated(&mut m, &draws, &calls, lambda / ready as f64, now)
        } else {
            fit_queueing(&mut m, &draws, &calls, lambda / ready as f64, now)
        };
        let own = draws.own(&m, wait_p, wait_mean_ms, backlog_ms);
        let total: Vec<f64> = own.iter().zip(&calls).map(|(a, b)| a + b).collect();
        // In service and waiting (Little's law on the own time), plus the backlog.
        let own_mean = own.iter().sum::<f64>() / own.len().max(1) as f64;
        m.in_system = lambda * own_mean / 1000.0;
        let (p50, p99) = quantiles(&mut total.clone());
        if (p99 / now.p99).ln().abs() > (1.0 + FIT_TOLERANCE).ln() && m.note.is_none() {
            m.note = Some(format!(
                "its model gives p99 {p99:.0} ms against {:.0} ms measured (p50 {p50:.0} vs {:.0} ms)",
                now.p99, now.p50
            ));
        }
        // Callers are fitted to what they meet, which is what is measured here: the sample is
        // stretched to the measured p50 and p99 (a callee's misfit stays its own).
        answers[w] = stretch(total, (p50, p99), (now.p50, now.p99));
        models[w] = Some(m);
    }
    models
        .into_iter()
        .enumerate()
        .map(|(w, m)| m.unwrap_or_else(|| unmeasured(snap, w, rps[w], default_service_ms)))
        .collect()
}

fn unmeasured(snap: &Snapshot, w: usize, rps: Option<f64>, default_service_ms: f64) -> WorkloadModel {
    WorkloadModel {
        service_median_ms: default_service_ms,
        sigma: 0.5,
        parallelism: cpu_sized_parallelism(snap, w, rps, default_service_ms, 0.5),
        fit: Fit::Unmeasured,
        in_system: 0.0,
        note: None,
    }
}

/// Chooses the parallelism whose Erlang C wait (Allen–Cunneen corrected) makes the own time
/// plus calls reproduce the measured p99 now; returns the wait (probability, mean ms when
/// waiting, backlog ms).
fn fit_queueing(
    m: &mut WorkloadModel,
    draws: &Draws,
    calls: &[f64],
    lambda_pod: f64,
    now: Measured,
) -> (f64, f64, f64) {
    let mean_s = m.mean_s();
    let a = lambda_pod * mean_s;
    let cv2 = (m.sigma * m.sigma).exp() - 1.0;
    let p99_of = |m: &WorkloadModel, p: f64, mean: f64, backlog: f64| {
        let mut v: Vec<f64> = draws.own(m, p, mean, backlog).iter().zip(calls).map(|(x, y)| x + y).collect();
        quantiles(&mut v)
    };
    let first = (a.floor() as u32 + 1).max(1);
    // The scaled service time may make fewer workers stable.
    let least = ((a * SCALE_MIN).floor() as u32 + 1).max(1);
    let unloaded = p99_of(m, 0.0, 0.0, 0.0);
    // Queueing is visible when the tail is clearly longer than service and calls explain.
    if now.p99 <= unloaded.1 * 1.15 {
        // The least concurrency that keeps queueing as invisible as it is: what the
        // measurements allow, and no more.
        m.fit = Fit::Unloaded;
        for c in first..=MAX_PARALLELISM.max(first) {
            let (p, mean) = wait(c, a, mean_s, cv2);
            if c == MAX_PARALLELISM || p99_of(m, p, mean, 0.0).1 <= unloaded.1 * 1.02 {
                m.parallelism = c;
                return (p, mean, 0.0);
            }
        }
    }
    // A loaded queue's wait pins its load down far more tightly than the quiet moment pins the
    // service time: for each concurrency, the service time is scaled (within ±30 %) until the
    // p99 matches, and the concurrency needing the least scaling wins.
    let scaled = |f: f64| WorkloadModel { service_median_ms: m.service_median_ms * f, ..m.clone() };
    let at = |c: u32, f: f64| {
        let (p, mean) = wait(c, a * f, mean_s * f, cv2);
        let (p50, p99) = p99_of(&scaled(f), p, mean, 0.0);
        (p50, p99, p, mean)
    };
    let mut best: Option<(u32, f64, f64)> = None;
    for c in least..=MAX_PARALLELISM.max(first) {
        let (lo, hi) = (SCALE_MIN, SCALE_MAX.min(c as f64 / a * 0.999));
        let f = if hi <= lo {
            hi
        } else if at(c, lo).1 >= now.p99 {
            lo
        } else if at(c, hi).1 <= now.p99 {
            hi
        } else {
            let (mut l, mut h) = (lo.ln(), hi.ln());
            for _ in 0..20 {
                let mid = (l + h) / 2.0;
                if at(c, mid.exp()).1 > now.p99 { h = mid } else { l = mid }
            }
            ((l + h) / 2.0).exp()
        };
        let (p50, p99, p, _) = at(c, f);
        let err = f.ln().abs() + (p99 / now.p99).ln().abs() + 0.25 * (p50 / now.p50).ln().abs();
        if best.is_none_or(|b| err < b.1) {
            best = Some((c, err, f));
        }
        if p < 1e-3 && wait(c, a, mean_s, cv2).0 < 1e-3 {
            break;
        }
    }
    let (c, _, f) = best.expect("at least one candidate");
    *m = scaled(f);
    let (p, mean) = wait(c, a * f, mean_s * f, cv2);
    m.parallelism = c;
    m.fit = Fit::Queueing;
    let (p50, p99) = p99_of(m, p, mean, 0.0);
    if c == least && p99 < now.p99 / (1.0 + FIT_TOLERANCE) {
        // More delay than any stable queue at this rate explains: requests waiting behind a
        // backlog that is draining (or about to grow).
        let backlog_ms = (now.p50 - p50).max(0.0);
        m.note = Some(format!(
            "more delay than a stable queue explains at {:.1} requests/s per pod: {backlog_ms:.0} ms taken as a backlog",
            lambda_pod
        ));
        return (p, mean, backlog_ms);
    }
    (p, mean, 0.0)
}

/// Saturated: the pods answer at capacity, so their concurrency is what the measured rate
/// keeps busy; what the measured time has beyond service and calls is a backlog.
fn fit_saturated(
    m: &mut WorkloadModel,
    draws: &Draws,
    calls: &[f64],
    lambda_pod: f64,
    now: Measured,
) -> (f64, f64, f64) {
    let a = lambda_pod * m.mean_s();
    m.parallelism = (a.round() as u32).clamp(1, MAX_PARALLELISM);
    m.fit = Fit::Saturated;
    let mut v: Vec<f64> = draws.own(m, 0.0, 0.0, 0.0).iter().zip(calls).map(|(x, y)| x + y).collect();
    let (p50, _) = quantiles(&mut v);
    (0.0, 0.0, (now.p50 - p50).max(0.0))
}

/// Maps a sample monotonically so its p50 and p99 become the measured ones: scaled below the
/// median, the tail stretched linearly above it.
fn stretch(v: Vec<f64>, model: (f64, f64), measured: (f64, f64)) -> Vec<f64> {
    let (m50, m99) = model;
    let (t50, t99) = measured;
    if !(m50 > 0.0 && m99 > m50 && t50 > 0.0 && t99 >= t50) {
        return v;
    }
    let tail = (t99 - t50) / (m99 - m50);
    v.into_iter().map(|x| if x <= m50 { x * t50 / m50 } else { t50 + (x - m50) * tail }).collect()
}

/// Erlang C: probability of waiting and the mean wait when waiting (ms) for `c` workers with
/// `a` erlangs offered, scaled by (1 + cv²)/2 for non-exponential service (Allen–Cunneen).
pub(super) fn wait(c: u32, a: f64, mean_s: f64, cv2: f64) -> (f64, f64) {
    if a <= 0.0 || mean_s <= 0.0 {
        return (0.0, 0.0);
    }
    if a >= c as f64 {
        return (1.0, f64::INFINITY);
    }
    let pw = crate::queueing::erlang_c(c, a);
    (pw, mean_s / (c as f64 - a) * 1000.0 * (1.0 + cv2) / 2.0)
}

/// A sample of the time one request of `w` spends in calls: for each callee, its calls per
/// request (a fraction is a probability), each a round trip between a random pod of `w` and a
/// random pod of the callee plus one of the callee's answers.
fn call_sample(
    snap: &Snapshot,
    w: usize,
    pods: &[Vec<(Location, usize)>],
    callees: &[(usize, f64)],
    answers: &[Vec<f64>],
    rng: &mut SmallRng,
) -> Vec<f64> {
    let n = super::calibrate_mc::SAMPLES;
    if callees.is_empty() {
        return vec![0.0; n];
    }
    let from_pods = &pods[w];
    (0..n)
        .map(|_| {
            let mut t = 0.0;
            let from = (!from_pods.is_empty()).then(|| &from_pods[rng.random_range(0..from_pods.len())]);
            for &(b, k) in callees {
                let whole = k.floor();
                let calls = whole as u32 + u32::from(rng.random::<f64>() < k - whole);
                for _ in 0..calls {
                    if let (Some((fl, fs)), false) = (from, pods[b].is_empty()) {
                        let (tl, ts) = &pods[b][rng.random_range(0..pods[b].len())];
                        let hop = snap.latency.between(fl, tl, fs == ts);
                        t += hop.sample(rng) + hop.sample(rng);
                    }
                    if !answers[b].is_empty() {
                        t += answers[b][rng.random_range(0..answers[b].len())];
                    }
                }
            }
            t
        })
        .collect()
}

/// Workloads in an order where every callee comes before its callers (a call cycle is broken
/// where it is met).
fn callees_first(callees: &[Vec<(usize, f64)>]) -> Vec<usize> {
    let n = callees.len();
    let mut state = vec![0u8; n];
    let mut out = Vec::with_capacity(n);
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        // Iterative depth-first post-order: (node, next callee index).
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (w, ref mut i)) = stack.last_mut() {
            if let Some(&(c, _)) = callees[w].get(*i) {
                *i += 1;
                if state[c] == 0 {
                    state[c] = 1;
                    stack.push((c, 0));
                }
            } else {
                state[w] = 2;
                out.push(w);
                stack.pop();
            }
        }
    }
    out
}

/// A workload's p50 and p99 history, newest last (the current value alone without history).
fn series(snap: &Snapshot, w: usize) -> (Vec<f64>, Vec<f64>) {
    let st = snap.workload_status.get(w).copied().unwrap_or_default();
    let (mut p50, mut p99) = match snap.workload_history.get(w) {
        Some(h) => (h.p50_ms.tail(HISTORY), h.p99_ms.tail(HISTORY)),
        None => (Vec::new(), Vec::new()),
    };
    if p50.is_empty() {
        p50 = vec![st.p50_ms.unwrap_or(f64::NAN)];
        p99 = vec![st.p99_ms.unwrap_or(f64::NAN)];
    }
    (p50, p99)
}

/// The measured p50 and p99 of `w` at its quietest recent moments: where its own time (p50
/// less its callees' p50 and the network, at the same moment) was within a tenth of its
/// typical p50 of the least, their medians (one noisy sample is not a moment).
fn quietest(
    history: &[(Vec<f64>, Vec<f64>)],
    callees: &[Vec<(usize, f64)>],
    w: usize,
    pods: &[Vec<(Location, usize)>],
    snap: &Snapshot,
) -> Option<Measured> {
    let (p50s, p99s) = &history[w];
    let hops: Vec<f64> =
        callees[w].iter().map(|&(b, _)| 2.0 * mean_hop_ms(snap, &pods[w], &pods[b])).collect();
    let mut moments: Vec<(f64, Measured)> = Vec::new();
    for back in 1..=p50s.len() {
        let at = |v: &Vec<f64>| v.len().checked_sub(back).map(|i| v[i]);
        let (Some(p50), Some(p99)) = (at(p50s), at(p99s)) else { continue };
        if !(p50.is_finite() && p50 > 0.0) {
            continue;
        }
        let calls: f64 = callees[w]
            .iter()
            .zip(&hops)
            .map(|(&(b, k), hop)| k * (at(&history[b].0).filter(|v| v.is_finite()).unwrap_or(0.0) + hop))
            .sum();
        let p99 = if p99.is_finite() && p99 >= p50 { p99 } else { p50 * 3.0 };
        moments.push((p50 - calls, Measured { p50, p99 }));
    }
    if moments.is_empty() {
        return None;
    }
    let least = moments.iter().map(|m| m.0).fold(f64::INFINITY, f64::min);
    let typical = median(moments.iter().map(|m| m.1.p50).collect());
    moments.retain(|m| m.0 <= least + 0.1 * typical);
    Some(Measured {
        p50: median(moments.iter().map(|m| m.1.p50).collect()),
        p99: median(moments.iter().map(|m| m.1.p99).collect()),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
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
fn mean_hop_ms(snap: &Snapshot, pa: &[(Location, usize)], pb: &[(Location, usize)]) -> f64 {
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    // Every pair up to ~10,000; beyond that an even sample of each side, so two workloads of
    // thousands of pods cost milliseconds, not seconds.
    let stride = |n: usize| n.div_ceil(100).max(1);
    let (sa, sb) = (stride(pa.len()), stride(pb.len()));
    let (mut sum, mut n) = (0.0, 0usize);
    for (lx, x) in pa.iter().step_by(sa) {
        for (ly, y) in pb.iter().step_by(sb) {
            sum += snap.latency.mean_between(lx, ly, x == y);
            n += 1;
        }
    }
    sum / n as f64
}

#[cfg(test)]
#[path = "calibrate_tests.rs"]
mod tests;
