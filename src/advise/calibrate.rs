//! Calibration of the advisors' confidence on the demo: over many simulated incidents (demo
//! seeds × moments of its incident script), every valid built-in proposal is applied to a copy
//! of the demo cluster and the observed SLO is compared with the untouched baseline over a
//! window. The reliability table says, per confidence bucket, how often proposals helped.

use super::{Context, Evaluator, Guardrails, Proposal, Status, TrackRecord, assess, builtin, default_seeds};
use crate::demo::{DemoPreset, DemoTwin};
use crate::twin::{Snapshot, TwinStore};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Moments of the demo's 300-tick incident script: during the checkout surge (60–150), while a
/// server runs hot (170–260), and quiet.
pub const INCIDENT_TICKS: [u32; 8] = [20, 70, 90, 110, 130, 190, 230, 280];

/// One applied proposal and what the demo cluster did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trial {
    pub seed: u64,
    pub tick: u32,
    pub source: String,
    pub target: String,
    pub action: String,
    pub confidence: u32,
    /// Workload-seconds over their SLO during the window, without and with the change.
    pub baseline_breach_s: u32,
    pub treated_breach_s: u32,
    /// Mean p99 of the target over the window (0 for a server), without and with the change.
    pub baseline_p99_ms: f64,
    pub treated_p99_ms: f64,
    pub success: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub from: u32,
    pub to: u32,
    pub proposals: usize,
    pub successes: usize,
    pub success_rate: Option<f64>,
}

/// What the demo observed over a window after a moment.
struct Observed {
    breach_s: u32,
    target_p99_ms: f64,
}

fn start() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// A demo advanced `ticks` seconds, with its store.
fn warmed(preset: DemoPreset, seed: u64, ticks: u32) -> (DemoTwin, TwinStore) {
    let mut demo = DemoTwin::starting_at(preset, seed, start());
    let mut store = TwinStore::default();
    for _ in 0..ticks {
        store.apply_all(demo.step());
    }
    (demo, store)
}

fn observe(demo: &mut DemoTwin, store: &mut TwinStore, window: u32, target: &str) -> Observed {
    let (mut breach_s, mut p99_sum, mut p99_n) = (0, 0.0, 0);
    for _ in 0..window {
        store.apply_all(demo.step());
        let snap = store.snapshot();
        breach_s += breaches(&snap);
        if let Some(w) = snap.workload_index(target)
            && let Some(p) = snap.workload_status[w].p99_ms
        {
            p99_sum += p;
            p99_n += 1;
        }
    }
    Observed { breach_s, target_p99_ms: if p99_n > 0 { p99_sum / p99_n as f64 } else { 0.0 } }
}

fn breaches(snap: &Snapshot) -> u32 {
    (0..snap.workloads.len())
        .filter(|&w| crate::twin::kpi::slo_state(snap, w) == crate::twin::kpi::SloState::Breach)
        .count() as u32
}

/// Runs every incident and applies each valid built-in proposal in its own copy of the demo.
/// Proposals are predicted and scored with `evaluator`, as `twintop advise` would.
pub fn trials(
    preset: DemoPreset,
    seeds: &[u64],
    ticks: &[u32],
    window: u32,
    evaluator: &dyn Evaluator,
) -> Vec<Trial> {
    let record = TrackRecord::default();
    let mut out = Vec::new();
    for &seed in seeds {
        for &tick in ticks {
            let (_, mut store) = warmed(preset, seed, tick);
            let snap: Arc<Snapshot> = store.snapshot();
            let g = Guardrails::default();
            let candidates = builtin::roster(&snap, &g);
            let ctx =
                Context { guardrails: g, evaluator, seeds: default_seeds(), record: &record, pending: &[] };
            let proposals: Vec<Proposal> =
                assess(&snap, candidates, &ctx).into_iter().filter(|p| p.status == Status::Valid).collect();
            if proposals.is_empty() {
                continue;
            }
            for p in proposals {
                let Some(change) = &p.action else { continue };
                let (mut base, mut base_store) = warmed(preset, seed, tick);
                let baseline = observe(&mut base, &mut base_store, window, &p.target);
                let (mut treated, mut treated_store) = warmed(preset, seed, tick);
                if treated.apply_change(change, false).is_err() {
                    continue;
                }
                let after = observe(&mut treated, &mut treated_store, window, &p.target);
                let success = after.breach_s < baseline.breach_s
                    || (after.breach_s == baseline.breach_s
                        && after.target_p99_ms > 0.0
                        && after.target_p99_ms <= baseline.target_p99_ms * 0.95);
                out.push(Trial {
                    seed,
                    tick,
                    source: p.source.clone(),
                    target: p.target.clone(),
                    action: change.to_string(),
                    confidence: p.confidence.score,
                    baseline_breach_s: baseline.breach_s,
                    treated_breach_s: after.breach_s,
                    baseline_p99_ms: baseline.target_p99_ms,
                    treated_p99_ms: after.target_p99_ms,
                    success,
                });
            }
        }
    }
    out
}

/// Confidence buckets of 20 points → observed success rate.
pub fn reliability(trials: &[Trial]) -> Vec<Bucket> {
    (0..5)
        .map(|b| {
            let (from, to) = (b * 20, if b == 4 { 100 } else { b * 20 + 19 });
            let inb: Vec<&Trial> =
                trials.iter().filter(|t| t.confidence >= from && t.confidence <= to).collect();
            let successes = inb.iter().filter(|t| t.success).count();
            Bucket {
                from,
                to,
                proposals: inb.len(),
                successes,
                success_rate: (!inb.is_empty()).then(|| successes as f64 / inb.len() as f64),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_proposals_are_applied_and_judged_against_the_baseline() {
        let sim = crate::advise::SimEvaluator { horizon_s: 30 };
        let t = trials(DemoPreset::Dc, &[1], &[90], 30, &sim);
        let checkout =
            t.iter().find(|t| t.target == "boutique/checkoutservice").expect("the surge draws a proposal");
        assert!(checkout.baseline_breach_s > 0, "{checkout:?}");
        assert!(checkout.success, "scaling checkout during its surge helps: {checkout:?}");
        let table = reliability(&t);
        assert_eq!(table.len(), 5);
        assert_eq!(table.iter().map(|b| b.proposals).sum::<usize>(), t.len());
    }
}
