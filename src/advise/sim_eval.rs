//! The simulator as the advisors' evaluator: the twin becomes a request-level scenario
//! (`sim::from_snapshot`), the change is applied to a copy, and both run on the same seeds.
//! An eviction starts the pod on the server the twin expects instead; load no pod explains (a
//! runaway process on a hot server) is not in the scenario, so the simulator sees only the
//! pod's own share of a hot server's relief.

use super::evaluate::{Evaluator, MATERIAL};
use super::proposal::{BeforeAfter, Prediction, Spread};
use crate::change::Change;
use crate::sim::{self, FromSnapshotOptions, Outputs, Scenario};
use crate::twin::Snapshot;
use rayon::prelude::*;

/// Runs the baseline and the changed twin in the request-level simulator.
#[derive(Debug, Clone)]
pub struct SimEvaluator {
    /// Simulated seconds per run.
    pub horizon_s: u32,
}

impl Default for SimEvaluator {
    fn default() -> Self {
        SimEvaluator { horizon_s: 60 }
    }
}

/// The change applied to a scenario built from the same snapshot. False when the scenario has
/// nothing the change names (the prediction is then "no effect").
pub(crate) fn apply_to_scenario(sc: &mut Scenario, snap: &Snapshot, change: &Change) -> bool {
    let key = |w: &str| snap.workload_index(w).map(|i| snap.workloads[i].key());
    match change {
        Change::Scale { workload, replicas } => {
            let Some(k) = key(workload) else { return false };
            let Some(s) = sc.services.iter_mut().find(|s| s.name == k) else { return false };
            s.replicas = (*replicas).max(1);
            if let Some(a) = s.autoscaler.as_mut() {
                a.min = a.min.min(s.replicas);
                a.max = a.max.max(s.replicas);
            }
            true
        }
        Change::HpaBounds { workload, min, max } => {
            let Some(k) = key(workload) else { return false };
            let Some(s) = sc.services.iter_mut().find(|s| s.name == k) else { return false };
            let Some(a) = s.autoscaler.as_mut() else { return false };
            a.min = (*min).max(1);
            a.max = (*max).max(a.min);
            s.replicas = s.replicas.clamp(a.min, a.max);
            true
        }
        Change::Cordon { server, cordon } => {
            let Some(g) = sc.servers.iter_mut().find(|g| &g.name == server) else { return false };
            g.schedulable = !cordon;
            true
        }
        // The pod starts where the twin expects its replacement (or, with no expectation, is
        // left to the simulator's scheduler) instead of on the server it is evicted from.
        Change::Evict { pod, server, to } => {
            let Some(k) = snap.workload_of_pod(pod).map(|w| snap.workloads[w].key()) else { return false };
            let Some(s) = sc.services.iter_mut().find(|s| s.name == k) else { return false };
            let Some(at) = s.initial_servers.iter().position(|n| n == server) else { return false };
            match to {
                Some(t) => s.initial_servers[at] = t.clone(),
                None => {
                    s.initial_servers.remove(at);
                }
            }
            true
        }
    }
}

/// Workload keys whose figures the change is judged by.
fn targets(snap: &Snapshot, change: &Change) -> Vec<String> {
    match change {
        Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => {
            snap.workload_index(workload).map(|i| snap.workloads[i].key()).into_iter().collect()
        }
        Change::Cordon { server, .. } => {
            let Some(s) = snap.server_index(server) else { return vec![] };
            let mut v: Vec<String> =
                snap.pods_on_server(s).filter_map(|p| p.workload).map(|w| snap.workloads[w].key()).collect();
            v.sort();
            v.dedup();
            v
        }
        Change::Evict { pod, .. } => {
            snap.workload_of_pod(pod).map(|w| snap.workloads[w].key()).into_iter().collect()
        }
    }
}

/// (worst p99 among the targets, workloads over their SLO, cost per hour, mean RUB).
type Figures = (f64, f64, f64, f64);

fn figures(snap: &Snapshot, out: &Outputs, targets: &[String], horizon_s: f64) -> Figures {
    let p99 = |k: &str| out.services.get(k).map(|s| s.rt_ms.p99).filter(|v| v.is_finite()).unwrap_or(0.0);
    let worst = targets.iter().map(|k| p99(k)).fold(0.0, f64::max);
    let violations =
        snap.workloads.iter().filter(|w| w.slo_p99_ms.is_some_and(|slo| p99(&w.key()) > slo)).count() as f64;
    // What the pods request of the servers, as the analytic evaluator prices it: server-hours
    // barely move when one workload scales on a shared cluster.
    let cost = out.cost.requested / (horizon_s / 3600.0).max(1e-9);
    let rub = if out.series.rub.is_empty() {
        0.0
    } else {
        out.series.rub.iter().sum::<f64>() / out.series.rub.len() as f64
    };
    (worst, violations, cost, rub)
}

impl Evaluator for SimEvaluator {
    fn evaluate(&self, snap: &Snapshot, change: &Change, seeds: &[u64]) -> Prediction {
        self.run(snap, change, seeds, 1.0)
    }

    fn evaluate_at_load(
        &self,
        snap: &Snapshot,
        change: &Change,
        seeds: &[u64],
        load: f64,
    ) -> Option<Prediction> {
        (load.is_finite() && load > 0.0).then(|| self.run(snap, change, seeds, load))
    }
}

impl SimEvaluator {
    fn run(&self, snap: &Snapshot, change: &Change, seeds: &[u64], load: f64) -> Prediction {
        let horizon = self.horizon_s.max(1) as f64;
        let opt = FromSnapshotOptions { duration_s: horizon, ..FromSnapshotOptions::default() };
        let mut base = sim::from_snapshot::scenario_from_snapshot(snap, &opt);
        if load != 1.0 {
            // Users' traffic (not the requests in the system now, which start the run).
            for g in base.load.iter_mut().filter(|g| g.requests.is_none()) {
                g.rate *= load;
                g.scale *= load; // replayed rates
            }
        }
        let mut changed = base.clone();
        let applies = apply_to_scenario(&mut changed, snap, change);
        let tg = targets(snap, change);
        // One run per (seed, variant), on all cores; a failed run counts as no data.
        let runs: Vec<Option<(Figures, Figures)>> = seeds
            .par_iter()
            .map(|&seed| {
                let b = sim::run(&base, seed).ok()?;
                let a = if applies { sim::run(&changed, seed).ok()? } else { b.clone() };
                Some((figures(snap, &b, &tg, horizon), figures(snap, &a, &tg, horizon)))
            })
            .collect();
        let ok: Vec<_> = runs.into_iter().flatten().collect();
        let col = |f: fn(&Figures) -> f64, after: bool| -> Spread {
            Spread::of(&ok.iter().map(|(b, a)| f(if after { a } else { b })).collect::<Vec<_>>())
        };
        let pair =
            |f: fn(&(f64, f64, f64, f64)) -> f64| BeforeAfter { before: col(f, false), after: col(f, true) };
        let improved = ok
            .iter()
            .filter(|(b, a)| a.1 < b.1 || (a.1 == b.1 && a.0 <= b.0 * MATERIAL && b.0 > 0.0))
            .count();
        Prediction {
            model: "sim".into(),
            seeds: ok.len(),
            horizon_s: self.horizon_s,
            p99_ms: pair(|f| f.0),
            measured_p99_ms: None,
            slo_violations: pair(|f| f.1),
            cost_per_hour: pair(|f| f.2),
            rub: pair(|f| f.3),
            server_cpu: None,
            improved_seeds: improved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoPreset, DemoTwin, SURGE};
    use chrono::{DateTime, Utc};

    fn surge_snapshot() -> std::sync::Arc<Snapshot> {
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        DemoTwin::starting_at(DemoPreset::Dc, 3, start).warm_snapshot(SURGE.start as u32 + 40)
    }

    /// A change made for a forecast peak is predicted under the peak's traffic: more load, a
    /// slower baseline, and more for the change to win back.
    #[test]
    fn a_forecast_peak_is_simulated_at_its_load() {
        let snap = surge_snapshot();
        let e = SimEvaluator { horizon_s: 30 };
        let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 3 };
        let now = e.evaluate(&snap, &change, &[1, 2]);
        let peak = e.evaluate_at_load(&snap, &change, &[1, 2], 1.15).expect("the simulator scales load");
        assert!(peak.p99_ms.before.mean > now.p99_ms.before.mean * 1.1, "{now:?}\n{peak:?}");
        assert!(peak.p99_ms.after.mean < peak.p99_ms.before.mean, "{peak:?}");
        assert!(e.evaluate_at_load(&snap, &change, &[1], f64::NAN).is_none());
    }

    #[test]
    fn scaling_the_surging_service_is_predicted_to_help() {
        let snap = surge_snapshot();
        let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 };
        let p = SimEvaluator { horizon_s: 30 }.evaluate(&snap, &change, &[1, 2, 3]);
        assert_eq!(p.model, "sim");
        assert_eq!(p.seeds, 3);
        assert!(p.p99_ms.after.mean < p.p99_ms.before.mean, "{p:?}");
        assert!(p.cost_per_hour.after.mean >= p.cost_per_hour.before.mean - 1e-9, "{p:?}");
    }

    #[test]
    fn a_change_to_nothing_predicts_no_effect() {
        let snap = surge_snapshot();
        let change = Change::Scale { workload: "boutique/nope".into(), replicas: 6 };
        let p = SimEvaluator { horizon_s: 10 }.evaluate(&snap, &change, &[1]);
        assert_eq!(p.p99_ms.before, p.p99_ms.after);
        assert_eq!(p.improved_seeds, 0);
    }
}
