//! Runs a checked what-if script: the scenario built from the snapshot is the baseline; the
//! script's lines change a copy of it (replicas, failures and drains as timed events, traffic
//! as extra or reshaped load, node affinity for moves); both run on the same seeds and the
//! report compares their means. Pure: no I/O, no clock; cancellable, with progress.

use super::lang::Line;
pub use super::plan::{Plan, plan};
pub use super::report::{Delta, Series, Spread, Summary, SweepPointReport, SweepReport, Ttr, WhatIfReport};
use super::report::{Measured, delta, end_util, series, summarise};
use crate::sim::scenario::{Scenario, SeriesDetail, SeriesSpec};
use crate::sim::{Control, Outputs, SimError};
use crate::twin::Snapshot;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The horizon when the script does not say.
pub(crate) const DEFAULT_HORIZON_S: f64 = 900.0;

/// Points kept per series: more than a terminal's chart can show. The report needs no
/// per-server history (only each server's last utilisation), so none is kept.
pub(crate) const SERIES: SeriesSpec = SeriesSpec { max_points: 240, detail: SeriesDetail::None };

/// How to run a script.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// First seed; the runs use `seed..seed + seeds`.
    pub seed: u64,
    pub seeds: u32,
    /// Overrides the script's `horizon` (the partial pass of the console and benchmark).
    pub horizon_override_s: Option<f64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { seed: 1, seeds: 3, horizon_override_s: None }
    }
}

/// Why a script could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// A line the twin cannot apply (`line N: …`).
    Script(String),
    Sim(SimError),
    Cancelled,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Script(m) => write!(f, "{m}"),
            RunError::Sim(e) => write!(f, "simulator: {e}"),
            RunError::Cancelled => write!(f, "cancelled"),
        }
    }
}

impl std::error::Error for RunError {}

/// Cancel flag and progress for a run (fraction 0..1 of the simulated work done).
pub struct Progress<'a> {
    pub cancel: &'a AtomicBool,
    pub on_progress: &'a (dyn Fn(f64) + Sync),
}

/// Runs every (scenario, seed) pair in parallel; progress is simulated time over all runs.
fn run_all(jobs: &[(&Scenario, u64)], p: &Progress<'_>) -> Result<Vec<Outputs>, RunError> {
    let done: Vec<AtomicU64> = jobs.iter().map(|_| AtomicU64::new(0)).collect();
    let total: f64 = jobs.iter().map(|(s, _)| s.duration_s.unwrap_or(1.0).max(1e-9)).sum();
    let report = |i: usize, t: f64| {
        done[i].store(t.to_bits(), Ordering::Relaxed);
        let sum: f64 = done.iter().map(|d| f64::from_bits(d.load(Ordering::Relaxed))).sum();
        (p.on_progress)((sum / total).clamp(0.0, 1.0));
    };
    let out: Result<Vec<Outputs>, SimError> = jobs
        .par_iter()
        .enumerate()
        .map(|(i, (sc, seed))| {
            let cb = |t: f64| report(i, t);
            let ctl = Control { cancel: Some(p.cancel), progress: Some(&cb) };
            let o = crate::sim::run_with(sc, *seed, &ctl);
            if o.is_ok() {
                report(i, sc.duration_s.unwrap_or(1.0));
            }
            o
        })
        .collect();
    match out {
        Ok(v) => Ok(v),
        Err(SimError::Cancelled { .. }) => Err(RunError::Cancelled),
        Err(e) => Err(RunError::Sim(e)),
    }
}

/// Runs a parsed, checked script on the snapshot: baseline and scenario over the same seeds,
/// and the sweep when the script has one.
pub fn run(
    snap: &Snapshot,
    lines: &[Line],
    opt: &RunOptions,
    p: &Progress<'_>,
) -> Result<WhatIfReport, RunError> {
    let mut plan = plan(snap, lines, opt)?;
    plan.baseline.series = SERIES;
    plan.scenario.series = SERIES;
    let seeds: Vec<u64> = (0..opt.seeds.max(1) as u64).map(|k| opt.seed.wrapping_add(k)).collect();
    let variants: Vec<(u32, Scenario)> = match &plan.sweep {
        Some((w, a, b)) => (*a..=*b)
            .map(|v| {
                let mut s = plan.scenario.clone();
                let svc = s.services.iter_mut().find(|x| &x.name == w).expect("planned");
                svc.replicas = v;
                svc.autoscaler = None;
                (v, s)
            })
            .collect(),
        None => Vec::new(),
    };
    let mut jobs: Vec<(&Scenario, u64)> = Vec::new();
    for sc in [&plan.baseline, &plan.scenario].into_iter().chain(variants.iter().map(|v| &v.1)) {
        jobs.extend(seeds.iter().map(|s| (sc, *s)));
    }
    let outs = run_all(&jobs, p)?;
    let k = seeds.len();
    let group = |i: usize| outs[i * k..(i + 1) * k].iter().collect::<Vec<_>>();
    let slo = plan.scenario.slo.as_ref();
    let w = plan.slo_workload.as_deref();
    let baseline = summarise(&group(0), plan.baseline.slo.as_ref(), w);
    let scenario = summarise(&group(1), slo, w);
    let sweep = plan.sweep.as_ref().map(|(wl, _, _)| {
        let points: Vec<SweepPointReport> = variants
            .iter()
            .enumerate()
            .map(|(i, (v, _))| {
                let summary = summarise(&group(2 + i), slo, w);
                SweepPointReport { replicas: *v, meets_slo: summary.slo_met, summary }
            })
            .collect();
        let cheapest = points
            .iter()
            .filter(|p| p.meets_slo)
            .min_by(|a, b| {
                a.summary
                    .requested_cost_per_hour
                    .total_cmp(&b.summary.requested_cost_per_hour)
                    .then(a.replicas.cmp(&b.replicas))
            })
            .map(|p| p.replicas);
        SweepReport { workload: wl.clone(), points, cheapest }
    });
    let fit = super::report::twin_fit(snap, &baseline);
    Ok(WhatIfReport {
        horizon_s: plan.scenario.duration_s.unwrap_or(0.0),
        seeds,
        slo: plan.scenario.slo,
        delta: delta(&baseline, &scenario),
        baseline,
        scenario,
        baseline_series: series(&outs[0]),
        scenario_series: series(&outs[k]),
        baseline_util: end_util(&outs[0]),
        scenario_util: end_util(&outs[k]),
        sweep,
        notes: plan.notes,
        measured: measured_at_entry(snap),
        fit,
    })
}

/// The measured p99 nearest the users: from each entry workload (called by none, calling
/// others) down the call graph to the first workload with a measured p99 (a load generator or
/// an ingress without metrics is passed through). None when no entry, or several, measure one.
fn measured_at_entry(snap: &Snapshot) -> Option<Measured> {
    let n = snap.workloads.len();
    let (mut called, mut callees) = (vec![false; n], vec![Vec::new(); n]);
    for e in &snap.edges {
        if let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to))
            && a != b
        {
            called[b] = true;
            callees[a].push(b);
        }
    }
    let mut found: Vec<usize> = Vec::new();
    for entry in (0..n).filter(|&w| !called[w] && !callees[w].is_empty()) {
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([entry]);
        seen[entry] = true;
        while let Some(w) = queue.pop_front() {
            if snap.workload_status[w].p99_ms.is_some() {
                found.push(w);
                break;
            }
            for &c in &callees[w] {
                if !std::mem::replace(&mut seen[c], true) {
                    queue.push_back(c);
                }
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    match found.as_slice() {
        [w] => {
            Some(Measured { workload: snap.workloads[*w].key(), p99_ms: snap.workload_status[*w].p99_ms? })
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
