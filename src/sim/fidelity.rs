//! How well the twin reproduces what it measures: the scenario built from a snapshot is run
//! as "the present" and each workload's simulated response time and throughput are set beside
//! the measured ones. Error is twin / measured − 1 on p99. Pure: no I/O, no clock.

use super::FromSnapshotOptions;
use super::calibrate::{Fit, WorkloadModel};
use super::from_snapshot::scenario_from_snapshot_with_models;
use crate::twin::Snapshot;
use rayon::prelude::*;
use serde::Serialize;

/// How the present is simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityOptions {
    /// Simulated seconds per run (after the warm-up).
    pub horizon_s: f64,
    /// Seeds `1..=seeds`; the figures are their means.
    pub seeds: u32,
}

impl Default for FidelityOptions {
    fn default() -> Self {
        FidelityOptions { horizon_s: 60.0, seeds: 3 }
    }
}

/// One workload's measured and simulated figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadFidelity {
    pub name: String,
    pub measured_p99_ms: f64,
    pub twin_p99_ms: f64,
    pub measured_rps: f64,
    pub twin_rps: f64,
    /// twin p99 / measured p99 − 1.
    pub error: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_p50_ms: Option<f64>,
    pub twin_p50_ms: f64,
    /// How the workload's request model was fitted (`queueing`, `unloaded`, `saturated`,
    /// `unmeasured`).
    pub fit: &'static str,
    /// The fitted request model the simulation ran.
    pub model: ModelFigures,
}

/// A workload's fitted request model, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFigures {
    pub service_median_ms: f64,
    pub sigma: f64,
    pub parallelism: u32,
    /// Requests at its pods when the simulation starts.
    pub in_system: f64,
}

/// The worst workload by |error|.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worst {
    pub name: String,
    pub error: f64,
}

/// The twin's fit to the present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fidelity {
    /// Workloads with traffic and a measured p99, by name.
    pub workloads: Vec<WorkloadFidelity>,
    /// Median of |error| over `workloads`; None when nothing is measured.
    pub median_abs_error: Option<f64>,
    pub worst: Option<Worst>,
    pub horizon_s: f64,
    pub seeds: u32,
    /// Why a measured workload is left out, or why the fit is doubtful (one line each).
    pub notes: Vec<String>,
}

pub(crate) fn fit_name(f: Fit) -> &'static str {
    match f {
        Fit::Unmeasured => "unmeasured",
        Fit::Unloaded => "unloaded",
        Fit::Queueing => "queueing",
        Fit::Saturated => "saturated",
    }
}

/// Simulates the present and compares it with what the snapshot measures.
pub fn fidelity(snap: &Snapshot, opt: &FidelityOptions) -> Fidelity {
    let fo = FromSnapshotOptions { duration_s: opt.horizon_s, ..Default::default() };
    let (sc, models) = scenario_from_snapshot_with_models(snap, &fo);
    let seeds: Vec<u64> = (1..=opt.seeds.max(1) as u64).collect();
    let mut notes = Vec::new();
    let outs: Vec<_> = seeds
        .par_iter()
        .filter_map(|&s| match super::run(&sc, s) {
            Ok(o) => Some(o),
            Err(e) => {
                let _ = e;
                None
            }
        })
        .collect();
    if outs.is_empty() {
        notes.push("the simulation of the present failed on every seed".into());
    }
    let mut workloads = Vec::new();
    for (w, wl) in snap.workloads.iter().enumerate() {
        let st = snap.workload_status.get(w).copied().unwrap_or_default();
        let (Some(p99), Some(rps)) = (st.p99_ms, st.rps) else { continue };
        if !(rps > 0.0 && p99 > 0.0) || outs.is_empty() {
            continue;
        }
        let key = wl.key();
        let figs: Vec<_> = outs.iter().filter_map(|o| o.services.get(&key).map(|f| (o, f))).collect();
        if figs.is_empty() {
            notes.push(format!("{key}: measured but not in the simulated scenario"));
            continue;
        }
        let n = figs.len() as f64;
        let twin_p99 = figs.iter().map(|(_, f)| f.rt_ms.p99).sum::<f64>() / n;
        let twin_p50 = figs.iter().map(|(_, f)| f.rt_ms.p50).sum::<f64>() / n;
        let twin_rps = figs.iter().map(|(o, f)| f.served as f64 / o.sim_time_s.max(1e-9)).sum::<f64>() / n;
        workloads.push(WorkloadFidelity {
            name: key,
            measured_p99_ms: p99,
            twin_p99_ms: twin_p99,
            measured_rps: rps,
            twin_rps,
            error: twin_p99 / p99 - 1.0,
            measured_p50_ms: st.p50_ms,
            twin_p50_ms: twin_p50,
            fit: fit_name(models[w].fit),
            model: ModelFigures {
                service_median_ms: models[w].service_median_ms,
                sigma: models[w].sigma,
                parallelism: models[w].parallelism,
                in_system: models[w].in_system,
            },
        });
        if let Some(n) = &models[w].note {
            notes.push(format!("{}: {n}", wl.key()));
        } else if let Some(n) =
            near_saturation(&models[w], rps, st.ready, opt.horizon_s, twin_p99 / p99 - 1.0)
        {
            notes.push(format!("{}: {n}", wl.key()));
        }
    }
    let mut abs: Vec<f64> = workloads.iter().map(|w| w.error.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let median_abs_error = (!abs.is_empty()).then(|| {
        let n = abs.len();
        if n % 2 == 1 { abs[n / 2] } else { (abs[n / 2 - 1] + abs[n / 2]) / 2.0 }
    });
    let worst = workloads
        .iter()
        .max_by(|a, b| a.error.abs().total_cmp(&b.error.abs()))
        .map(|w| Worst { name: w.name.clone(), error: w.error });
    Fidelity { workloads, median_abs_error, worst, horizon_s: opt.horizon_s, seeds: opt.seeds.max(1), notes }
}

/// A misfit beyond this |error| on a loaded queue is explained in a note.
const NOTE_ERROR: f64 = 0.25;

/// Why a queue near its capacity misses its measured p99, when it does: there a change in load
/// of 1 % moves the wait ρ/(1−ρ) % (Erlang C's wait goes as 1/(cμ − λ)), and a queue takes
/// ≈ 1/(cμ(1−√ρ)²) to build the tail a steady one shows, from the mean queue the simulation of
/// the present starts with. A source that reports a steady queue's tail each second at that
/// second's rate (the demo does) shows more of the tail than any window of one queue can.
fn near_saturation(m: &WorkloadModel, rps: f64, pods: u32, horizon_s: f64, error: f64) -> Option<String> {
    if m.fit != Fit::Queueing || error.abs() <= NOTE_ERROR {
        return None;
    }
    let c = m.parallelism.max(1) as f64;
    let mean_s = m.mean_s();
    let rho = rps / pods.max(1) as f64 * mean_s / c;
    if !(0.85..1.0).contains(&rho) {
        return None;
    }
    let settle_s = mean_s / (c * (1.0 - rho.sqrt()).powi(2));
    Some(format!(
        "its pods run at {:.0} % of their capacity: there 1 % more load lengthens the wait ≈{:.0} %, and a \
         queue needs ≈{settle_s:.0} s (its 99th percentile several times that) to build the tail a steady one \
         has; {horizon_s:.0} s simulated from the mean queue now show {:+.0} % of the measured p99",
        rho * 100.0,
        rho / (1.0 - rho),
        error * 100.0
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_near_capacity_that_misses_says_why() {
        // Two workers of 60 ms on average (log-normal median 42 ms, σ 0.84) at 32 requests/s
        // per pod: ρ = 0.96, as checkoutservice at the end of the demo's surge.
        let m = WorkloadModel {
            service_median_ms: 42.3,
            sigma: 0.837,
            parallelism: 2,
            fit: Fit::Queueing,
            in_system: 50.0,
            note: None,
        };
        let note = near_saturation(&m, 64.0, 2, 60.0, -0.5).expect("a loaded queue that misses is explained");
        assert!(note.contains("96 % of their capacity") && note.contains("-50 %"), "{note}");
        assert!(near_saturation(&m, 64.0, 2, 60.0, -0.1).is_none(), "a fit within 25 % needs no note");
        assert!(near_saturation(&m, 30.0, 2, 60.0, -0.5).is_none(), "at ρ 0.45 the load does not explain it");
        let unloaded = WorkloadModel { fit: Fit::Unloaded, ..m };
        assert!(near_saturation(&unloaded, 64.0, 2, 60.0, -0.5).is_none());
    }
}
