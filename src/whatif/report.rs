//! What a what-if run reports: the two sides' figures (means over seeds, with their spread),
//! the delta, series over the horizon, end-state utilisation, and a sweep's curve; and how
//! they are computed from the simulator's outputs.

use crate::sim::Outputs;
use crate::sim::scenario::SloSpec;
use serde::Serialize;
use std::collections::BTreeMap;

/// Time to resolution, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ttr {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
}

/// One side of the comparison: means over the seeds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub ttr_ms: Ttr,
    /// Requests slower than the SLO target, or never answered.
    pub slo_violations: f64,
    pub drops: f64,
    /// Mean RUB over the run.
    pub rub: f64,
    /// Mean traffic over every link, Mbps.
    pub bandwidth: f64,
    /// Replicas at the end, per service.
    pub replicas: BTreeMap<String, f64>,
    /// Servers' price while they host pods (KubeTwin's measure).
    pub cost_per_hour: f64,
    /// The share of the servers' price the pods request (the larger of CPU and memory): what
    /// the workloads cost on shared servers, so it moves with replicas.
    pub requested_cost_per_hour: f64,
    /// Whether every seed met the SLO.
    pub slo_met: bool,
    /// Standard deviation over the seeds of p99 (ms) and of SLO violations.
    pub spread: Spread,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub p99_ms: f64,
    pub slo_violations: f64,
}

/// Scenario minus baseline, field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    pub ttr_ms: Ttr,
    pub slo_violations: f64,
    pub drops: f64,
    pub rub: f64,
    pub bandwidth: f64,
    pub replicas: BTreeMap<String, f64>,
    pub cost_per_hour: f64,
    pub requested_cost_per_hour: f64,
}

/// Over the horizon, seed 0's run (the series of one run; means would blur the steps).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    pub t_s: Vec<f64>,
    pub p99_ms: Vec<f64>,
    /// Replicas of every service together.
    pub replicas: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPointReport {
    pub replicas: u32,
    pub summary: Summary,
    pub meets_slo: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub workload: String,
    pub points: Vec<SweepPointReport>,
    /// The cheapest setting meeting the SLO, if any does.
    pub cheapest: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIfReport {
    pub horizon_s: f64,
    pub seeds: Vec<u64>,
    pub slo: Option<SloSpec>,
    pub baseline: Summary,
    pub scenario: Summary,
    pub delta: Delta,
    pub baseline_series: Series,
    pub scenario_series: Series,
    /// End-state CPU utilisation (0..1) per server, seed 0.
    pub baseline_util: BTreeMap<String, f64>,
    pub scenario_util: BTreeMap<String, f64>,
    pub sweep: Option<SweepReport>,
    /// What the runner had to interpret (approximations the operator should know about).
    pub notes: Vec<String>,
    /// The p99 the twin measures now where the users' requests enter, beside which the
    /// baseline's p99 shows how well the twin reproduces the present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// A workload's p99 as the twin measures it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub workload: String,
    pub p99_ms: f64,
}

pub(super) fn mean(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = v.clone().count();
    if n == 0 { 0.0 } else { v.sum::<f64>() / n as f64 }
}

pub(super) fn std_dev(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Whether one run met the SLO: end to end, or on one workload's time to process.
pub(super) fn met(o: &Outputs, slo: Option<&SloSpec>, workload: Option<&str>) -> bool {
    match (slo, workload) {
        (None, _) => true,
        (Some(s), Some(w)) => o.services.get(w).is_some_and(|f| {
            let q = match s.percentile as u32 {
                50 => f.ttp_ms.p50,
                95 => f.ttp_ms.p95,
                _ => f.ttp_ms.p99,
            };
            q <= s.target_ms
        }),
        (Some(_), None) => o.slo.met,
    }
}

pub(super) fn summarise(runs: &[&Outputs], slo: Option<&SloSpec>, workload: Option<&str>) -> Summary {
    let it = || runs.iter();
    let ttr = Ttr {
        p50: mean(it().map(|o| o.ttr_ms.p50)),
        p95: mean(it().map(|o| o.ttr_ms.p95)),
        p99: mean(it().map(|o| o.ttr_ms.p99)),
        mean: mean(it().map(|o| o.ttr_ms.mean)),
    };
    let mut replicas = BTreeMap::new();
    for o in runs {
        for (k, r) in &o.replicas {
            *replicas.entry(k.clone()).or_insert(0.0) += r.last as f64 / runs.len() as f64;
        }
    }
    let p99s: Vec<f64> = it().map(|o| o.ttr_ms.p99).collect();
    let viol: Vec<f64> = it().map(|o| o.slo.violations as f64).collect();
    Summary {
        ttr_ms: ttr,
        slo_violations: mean(viol.iter().copied()),
        drops: mean(it().map(|o| o.drops.total() as f64)),
        rub: mean(it().map(|o| mean(o.series.rub.iter().copied()))),
        bandwidth: mean(it().map(|o| o.links.iter().map(|l| l.mean_mbps).sum::<f64>())),
        replicas,
        cost_per_hour: mean(
            it().map(|o| if o.sim_time_s > 0.0 { o.cost.total / (o.sim_time_s / 3600.0) } else { 0.0 }),
        ),
        requested_cost_per_hour: mean(
            it().map(|o| if o.sim_time_s > 0.0 { o.cost.requested / (o.sim_time_s / 3600.0) } else { 0.0 }),
        ),
        slo_met: runs.iter().all(|o| met(o, slo, workload)),
        spread: Spread { p99_ms: std_dev(&p99s), slo_violations: std_dev(&viol) },
    }
}

pub(super) fn delta(b: &Summary, s: &Summary) -> Delta {
    let mut replicas = BTreeMap::new();
    for (k, v) in &s.replicas {
        let d = v - b.replicas.get(k).copied().unwrap_or(0.0);
        if d.abs() > 1e-9 {
            replicas.insert(k.clone(), d);
        }
    }
    Delta {
        ttr_ms: Ttr {
            p50: s.ttr_ms.p50 - b.ttr_ms.p50,
            p95: s.ttr_ms.p95 - b.ttr_ms.p95,
            p99: s.ttr_ms.p99 - b.ttr_ms.p99,
            mean: s.ttr_ms.mean - b.ttr_ms.mean,
        },
        slo_violations: s.slo_violations - b.slo_violations,
        drops: s.drops - b.drops,
        rub: s.rub - b.rub,
        bandwidth: s.bandwidth - b.bandwidth,
        replicas,
        cost_per_hour: s.cost_per_hour - b.cost_per_hour,
        requested_cost_per_hour: s.requested_cost_per_hour - b.requested_cost_per_hour,
    }
}

pub(super) fn series(o: &Outputs) -> Series {
    let n = o.series.t_s.len();
    let replicas =
        (0..n).map(|i| o.series.replicas.values().map(|v| v.get(i).copied().unwrap_or(0)).sum()).collect();
    Series { t_s: o.series.t_s.clone(), p99_ms: o.series.ttr_p99_ms.clone(), replicas }
}

pub(super) fn end_util(o: &Outputs) -> BTreeMap<String, f64> {
    o.servers.iter().map(|s| (s.name.clone(), s.last.cpu)).collect()
}
