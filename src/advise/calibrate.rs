//! Calibration of the advisors' confidence on the demo: over many simulated incidents (demo
//! seeds × moments of its incident script), every proposal shown — built-in, and the LLM's when
//! one is asked — is applied to a copy of the demo cluster and judged against the untouched
//! baseline over a window. A proposal **succeeds** when the SLO is restored (its target no
//! longer breaches, or a server is no longer hot; for a target that was fine, it is measurably
//! better than if left alone) and the after-state measured then is within ±20 % of what the
//! twin predicted (the target's p99, or its server's CPU). Both are judged over the window's
//! second half, while the incident script stays in the phase the proposal was made in. The
//! reliability table says, per confidence bucket (merged until each holds enough proposals), how
//! often shown proposals succeeded.

use super::builtin::HOT_SERVER_CPU;
use super::{
    Candidate, Context, Evaluator, Guardrails, Proposal, Status, TrackRecord, assess, assess_reusing,
    builtin, default_seeds,
};
use crate::change::Change;
use crate::demo::{DemoPreset, DemoTwin};
use crate::twin::kpi::{SloState, server_utilization, slo_state};
use crate::twin::{Snapshot, TwinStore};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// Moments of the demo's 300-tick incident script: during the checkout surge (60–150), while a
/// server runs hot (170–260), and quiet.
pub(crate) const INCIDENT_TICKS: [u32; 8] = [20, 70, 90, 110, 130, 190, 230, 280];

/// How far the measured after-state may be from the prediction for a success.
pub(crate) const AFTER_STATE_TOLERANCE: f64 = 0.2;

/// A bucket of the reliability table holds at least this many proposals when there are enough.
pub(crate) const MIN_PER_BUCKET: usize = 20;

/// One applied proposal and what the demo cluster did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Trial {
    pub seed: u64,
    pub tick: u32,
    pub source: String,
    pub target: String,
    pub action: String,
    pub confidence: u32,
    /// Other advisors that proposed the same change (an LLM choosing this candidate).
    pub endorsed_by: Vec<String>,
    /// Workload-seconds over their SLO during the window, without and with the change.
    pub baseline_breach_s: u32,
    pub treated_breach_s: u32,
    /// Mean p99 of the target over the window (0 for a server), without and with the change.
    pub baseline_p99_ms: f64,
    pub treated_p99_ms: f64,
    /// What the twin predicted after the change — the target's p99 (ms), or for a server
    /// change that server's CPU share — and the same figure measured over the second half of
    /// the window with the change applied.
    pub predicted_after: f64,
    pub measured_after: f64,
    /// |measured − predicted| / predicted (−1 when there is nothing to compare).
    pub after_error: f64,
    /// What was wrong at the moment is no longer wrong in the judged seconds: the target no
    /// longer over its SLO (a server no longer hot); for a target that was fine, a measurable
    /// improvement over leaving the cluster alone (p99 10 % lower, or 5 points less CPU).
    pub slo_restored: bool,
    /// The change made things measurably worse than leaving the cluster alone: more
    /// workload-seconds over SLO, or the target's p99 10 % higher.
    pub harmful: bool,
    pub success: bool,
    /// The twin's predicted p99 of the target with the change (mean over its seeds), beside
    /// `treated_p99_ms`, what the demo then measured; None for a server target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_p99_ms: Option<f64>,
    /// predicted / measured after − 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_error: Option<f64>,
}

/// How the twin's predicted after-state compares with what the demo measured after the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectFit {
    /// Trials with a workload target and a measured after-state.
    pub trials: usize,
    pub median_abs_error: f64,
    pub worst_abs_error: f64,
    /// Share of trials predicted within ±20 % of the measured after-state.
    pub within_20pct: f64,
}

/// The predicted-vs-measured summary over the trials (None when no trial has a workload target).
pub fn effect_fit(trials: &[Trial]) -> Option<EffectFit> {
    let mut abs: Vec<f64> = trials.iter().filter_map(|t| t.predicted_error).map(f64::abs).collect();
    if abs.is_empty() {
        return None;
    }
    abs.sort_by(f64::total_cmp);
    let n = abs.len();
    let median = if n % 2 == 1 { abs[n / 2] } else { (abs[n / 2 - 1] + abs[n / 2]) / 2.0 };
    Some(EffectFit {
        trials: n,
        median_abs_error: median,
        worst_abs_error: abs[n - 1],
        within_20pct: abs.iter().filter(|e| **e <= 0.2).count() as f64 / n as f64,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Bucket {
    pub from: u32,
    pub to: u32,
    pub proposals: usize,
    pub successes: usize,
    pub success_rate: Option<f64>,
}

/// How one LLM answer fared: its actions, and how many of them were shown (valid on their own or
/// folded into an equal proposal as an endorsement).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AnswerStat {
    pub seed: u64,
    pub tick: u32,
    pub actions: usize,
    pub valid: usize,
}

/// The trials of an evaluation and, when an LLM was asked, how each of its answers fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Evaluation {
    pub trials: Vec<Trial>,
    pub answers: Vec<AnswerStat>,
}

/// What an LLM answered at one incident, read into candidates.
pub(crate) type LlmAsk<'a> = dyn FnMut(&Incident, &Arc<Snapshot>, &[Proposal]) -> Vec<Candidate> + 'a;

/// One moment of the incident script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Incident {
    pub preset: DemoPreset,
    pub seed: u64,
    pub tick: u32,
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

/// The twin at an incident, as the advisors see it.
pub(crate) fn snapshot_at(i: &Incident) -> Arc<Snapshot> {
    warmed(i.preset, i.seed, i.tick).1.snapshot()
}

/// What the demo showed each second of a window after a moment.
struct Observed {
    /// Workloads over their SLO, per second.
    breaches: Vec<u32>,
    /// The target workload's p99 (ms), per second it has one.
    p99: Vec<Option<f64>>,
    /// The target workload is over its SLO, per second.
    target_breach: Vec<bool>,
    /// CPU share of the server the change is about (cordon, eviction), per second.
    server_cpu: Vec<Option<f64>>,
}

impl Observed {
    fn breach_s(&self) -> u32 {
        self.breaches.iter().sum()
    }
    fn mean_p99(&self, secs: &[usize]) -> Option<f64> {
        mean(secs.iter().filter_map(|&t| self.p99.get(t).copied().flatten()))
    }
    fn mean_cpu(&self, secs: &[usize]) -> Option<f64> {
        mean(secs.iter().filter_map(|&t| self.server_cpu.get(t).copied().flatten()))
    }
    fn target_breached(&self, secs: &[usize]) -> bool {
        secs.iter().any(|&t| self.target_breach.get(t).copied().unwrap_or(false))
    }
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// The server a cordon or an eviction is about.
fn server_of(c: &Change) -> Option<&str> {
    match c {
        Change::Cordon { server, .. } | Change::Evict { server, .. } => Some(server),
        _ => None,
    }
}

fn observe(demo: &mut DemoTwin, store: &mut TwinStore, window: u32, change: &Change) -> Observed {
    let workload = match change {
        Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => Some(workload.clone()),
        _ => None,
    };
    let server = server_of(change).map(String::from);
    let mut o = Observed { breaches: vec![], p99: vec![], target_breach: vec![], server_cpu: vec![] };
    for _ in 0..window {
        store.apply_all(demo.step());
        let snap = store.snapshot();
        o.breaches.push(breaches(&snap));
        let w = workload.as_deref().and_then(|k| snap.workload_index(k));
        o.p99.push(w.and_then(|w| snap.workload_status[w].p99_ms));
        o.target_breach.push(w.is_some_and(|w| slo_state(&snap, w) == SloState::Breach));
        let s = server.as_deref().and_then(|s| snap.server_index(s));
        o.server_cpu.push(s.map(|s| server_utilization(&snap)[s].cpu));
    }
    o
}

/// The demo's incident phase at a tick: the checkout surge, the hot server, or quiet.
fn phase(tick: u64) -> u8 {
    let t = tick % crate::demo::INCIDENT_PERIOD;
    if crate::demo::SURGE.contains(&t) {
        1
    } else if crate::demo::HOT_SERVER.contains(&t) {
        2
    } else {
        0
    }
}

/// Seconds of the window in which the after-state is judged: the second half, once new pods
/// have started and backlogs drained, but only while the incident script is still in the
/// phase it was in when the proposal was made (the prediction assumed the load of that
/// moment); when the phase ends sooner, the seconds from `SETTLE_S` until it ends.
fn judged_seconds(tick: u32, window: u32) -> Vec<usize> {
    let same = |t: u32| phase(tick as u64 + t as u64 + 1) == phase(tick as u64);
    let late: Vec<usize> = (window / 2..window).filter(|&t| same(t)).map(|t| t as usize).collect();
    if !late.is_empty() {
        return late;
    }
    (SETTLE_S.min(window.saturating_sub(1))..window).take_while(|&t| same(t)).map(|t| t as usize).collect()
}

/// Seconds after a change before its after-state is judged (the demo's pods start in 5 s).
const SETTLE_S: u32 = 10;

fn breaches(snap: &Snapshot) -> u32 {
    (0..snap.workloads.len()).filter(|&w| slo_state(snap, w) == SloState::Breach).count() as u32
}

/// Runs every incident: the built-in advisors (and the LLM, through `llm`, offered their
/// proposals) propose, and each valid proposal is applied in its own copy of the demo.
/// Proposals are predicted and scored with `evaluator`, as `twintop advise` would.
pub(crate) fn trials(
    incidents: &[Incident],
    window: u32,
    evaluator: &dyn Evaluator,
    mut llm: Option<&mut LlmAsk<'_>>,
) -> Evaluation {
    let record = TrackRecord::default();
    let mut out = Vec::new();
    let mut answers = Vec::new();
    for inc in incidents {
        let (preset, seed, tick) = (inc.preset, inc.seed, inc.tick);
        let snap = snapshot_at(inc);
        let g = Guardrails::default();
        let mut candidates = builtin::roster(&snap, &g);
        let ctx = Context { guardrails: g, evaluator, seeds: default_seeds(), record: &record, pending: &[] };
        let offered = assess(&snap, candidates.clone(), &ctx);
        let assessed = match llm.as_mut() {
            Some(ask) => {
                let answer = ask(inc, &snap, &offered);
                let source = answer.first().map(|c| c.source.clone()).unwrap_or_default();
                let actions = answer.iter().filter(|c| c.action.is_some()).count();
                candidates.extend(answer);
                let assessed = assess_reusing(&snap, candidates, &ctx, &offered);
                let valid = assessed
                    .iter()
                    .filter(|p| p.status == Status::Valid)
                    .map(|p| {
                        usize::from(p.source == source)
                            + p.endorsements.iter().filter(|e| e.source == source).count()
                    })
                    .sum();
                answers.push(AnswerStat { seed, tick, actions, valid });
                assessed
            }
            None => offered,
        };
        let secs = judged_seconds(tick, window);
        for p in assessed.into_iter().filter(|p| p.status == Status::Valid) {
            let (Some(change), Some(pred)) = (&p.action, &p.predicted) else { continue };
            let (mut base, mut base_store) = warmed(preset, seed, tick);
            let baseline = observe(&mut base, &mut base_store, window, change);
            let (mut treated, mut treated_store) = warmed(preset, seed, tick);
            if treated.apply_change(change, false).is_err() {
                continue;
            }
            let after = observe(&mut treated, &mut treated_store, window, change);
            let server_change = matches!(change, Change::Cordon { .. } | Change::Evict { .. });
            // Restored: what was wrong at the moment is no longer wrong in the judged seconds;
            // for a target that was fine, a measurable improvement over leaving it alone.
            let (predicted_after, measured_after, restored) = if server_change {
                let predicted = pred.server_cpu.map(|c| c.after.mean).unwrap_or(0.0);
                let now = server_of(change)
                    .and_then(|n| snap.server_index(n))
                    .map(|s| server_utilization(&snap)[s].cpu);
                let measured = after.mean_cpu(&secs).unwrap_or(f64::NAN);
                let base_cpu = baseline.mean_cpu(&secs).unwrap_or(f64::NAN);
                let restored = if now.is_some_and(|c| c >= HOT_SERVER_CPU) {
                    measured < HOT_SERVER_CPU
                } else {
                    measured <= base_cpu - 0.05
                };
                (predicted, measured, restored)
            } else {
                let w = snap.workload_index(change.target());
                let breaching = w.is_some_and(|w| slo_state(&snap, w) == SloState::Breach);
                let measured = after.mean_p99(&secs).unwrap_or(f64::NAN);
                let base_p99 = baseline.mean_p99(&secs).unwrap_or(f64::NAN);
                let restored = if breaching {
                    !after.target_breached(&secs)
                } else {
                    measured <= base_p99 * 0.9
                        || (baseline.target_breached(&secs) && !after.target_breached(&secs))
                };
                (pred.p99_ms.after.mean, measured, restored)
            };
            let after_error = if predicted_after > 0.0 && measured_after.is_finite() {
                (measured_after - predicted_after).abs() / predicted_after
            } else {
                f64::INFINITY
            };
            // A server target's p99 is the worst of its workloads': not one the demo reports, so
            // only workload targets are set beside what was measured.
            let predicted_workload_p99 = (!server_change
                && predicted_after.is_finite()
                && predicted_after > 0.0
                && measured_after.is_finite()
                && measured_after > 0.0)
                .then_some(predicted_after);
            let all: Vec<usize> = (0..window as usize).collect();
            let (bp, tp) = (baseline.mean_p99(&all).unwrap_or(0.0), after.mean_p99(&all).unwrap_or(0.0));
            let harmful = after.breach_s() > baseline.breach_s() || (bp > 0.0 && tp > bp * 1.1);
            out.push(Trial {
                seed,
                tick,
                source: p.source.clone(),
                target: p.target.clone(),
                action: change.to_string(),
                confidence: p.confidence.score,
                endorsed_by: p.endorsements.iter().map(|e| e.source.clone()).collect(),
                baseline_breach_s: baseline.breach_s(),
                treated_breach_s: after.breach_s(),
                baseline_p99_ms: bp,
                treated_p99_ms: tp,
                predicted_after,
                measured_after: if measured_after.is_finite() { measured_after } else { 0.0 },
                after_error: if after_error.is_finite() { after_error } else { -1.0 },
                slo_restored: restored,
                harmful,
                success: restored && after_error <= AFTER_STATE_TOLERANCE,
                predicted_p99_ms: predicted_workload_p99,
                predicted_error: predicted_workload_p99.map(|v| v / measured_after - 1.0),
            });
        }
    }
    Evaluation { trials: out, answers }
}

/// The incidents of `seeds` × `ticks` on `preset`.
pub(crate) fn incidents(preset: DemoPreset, seeds: &[u64], ticks: &[u32]) -> Vec<Incident> {
    seeds.iter().flat_map(|&seed| ticks.iter().map(move |&tick| Incident { preset, seed, tick })).collect()
}

/// Confidence buckets → observed success rate. Buckets of 20 points, each merged into its
/// neighbour until it holds at least `min` proposals (or everything is one bucket), so no
/// rate rests on a handful of proposals.
pub(crate) fn reliability(trials: &[Trial], min: usize) -> Vec<Bucket> {
    let make = |from: u32, to: u32| {
        let inb: Vec<&Trial> = trials.iter().filter(|t| t.confidence >= from && t.confidence <= to).collect();
        let successes = inb.iter().filter(|t| t.success).count();
        Bucket {
            from,
            to,
            proposals: inb.len(),
            successes,
            success_rate: (!inb.is_empty()).then(|| successes as f64 / inb.len() as f64),
        }
    };
    let mut edges: Vec<(u32, u32)> =
        (0..5).map(|b| (b * 20, if b == 4 { 100 } else { b * 20 + 19 })).collect();
    loop {
        let buckets: Vec<Bucket> = edges.iter().map(|&(a, b)| make(a, b)).collect();
        let Some(small) = buckets.iter().position(|b| b.proposals < min) else { return buckets };
        if edges.len() == 1 {
            return buckets;
        }
        // Merge with the smaller neighbour.
        let with = if small == 0 {
            1
        } else if small + 1 == edges.len() || buckets[small - 1].proposals <= buckets[small + 1].proposals {
            small - 1
        } else {
            small + 1
        };
        let (lo, hi) = (small.min(with), small.max(with));
        edges[lo] = (edges[lo].0, edges[hi].1);
        edges.remove(hi);
    }
}

/// Whether the success rate rises (never falls) from each bucket to the next.
pub(crate) fn rising(buckets: &[Bucket]) -> bool {
    let rates: Vec<f64> = buckets.iter().filter_map(|b| b.success_rate).collect();
    rates.windows(2).all(|w| w[1] >= w[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surge_proposals_are_applied_and_judged_against_the_baseline_and_the_prediction() {
        let sim = crate::advise::SimEvaluator { horizon_s: 30 };
        let t = trials(&incidents(DemoPreset::Dc, &[1], &[90]), 30, &sim, None).trials;
        let checkout =
            t.iter().find(|t| t.target == "boutique/checkoutservice").expect("the surge draws a proposal");
        assert!(checkout.baseline_breach_s > 0, "{checkout:?}");
        assert!(checkout.treated_breach_s < checkout.baseline_breach_s, "{checkout:?}");
        assert!(checkout.predicted_after > 0.0 && checkout.measured_after > 0.0, "{checkout:?}");
        let err = (checkout.measured_after - checkout.predicted_after).abs() / checkout.predicted_after;
        assert!((checkout.after_error - err).abs() < 1e-9);
        assert_eq!(checkout.success, checkout.slo_restored && err <= AFTER_STATE_TOLERANCE);
        assert!(!checkout.harmful);
        let table = reliability(&t, 1);
        assert_eq!(table.iter().map(|b| b.proposals).sum::<usize>(), t.len());
        // The prediction made before is set beside what the demo measured after.
        let pe = checkout.predicted_error.expect("a workload target is compared");
        assert!((pe - (checkout.predicted_p99_ms.unwrap() / checkout.measured_after - 1.0)).abs() < 1e-12);
        let fit = effect_fit(&t).unwrap();
        assert!(fit.trials >= 1 && fit.median_abs_error <= fit.worst_abs_error, "{fit:?}");
    }

    #[test]
    fn an_llms_answers_are_applied_with_the_built_in_ones_and_its_harmful_change_is_never_shown() {
        let sim = crate::advise::SimEvaluator { horizon_s: 30 };
        let mut asked = Vec::new();
        // A scripted model: it chooses the twin's best candidate, and scales the surging
        // checkout service down (the harm the twin must reject with its figures).
        let mut ask = |inc: &Incident, _: &Arc<Snapshot>, offered: &[Proposal]| -> Vec<Candidate> {
            asked.push((inc.tick, offered.iter().filter(|p| p.status == Status::Valid).count()));
            let mut out = Vec::new();
            if let Some(best) = offered.iter().find(|p| p.status == Status::Valid && p.action.is_some()) {
                let mut c = Candidate::new("llm:scripted", best.action.clone().unwrap(), "chosen".into());
                c.informed = true;
                out.push(c);
            }
            let down = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 1 };
            out.push(Candidate {
                informed: true,
                ..Candidate::new("llm:scripted", down, "fewer pods".into())
            });
            out
        };
        let e = trials(&incidents(DemoPreset::Dc, &[1], &[90]), 30, &sim, Some(&mut ask));
        assert_eq!(asked.len(), 1);
        assert!(asked[0].1 > 0, "the model is offered the twin's valid candidates: {asked:?}");
        assert_eq!(e.answers.len(), 1);
        assert_eq!((e.answers[0].actions, e.answers[0].valid), (2, 1), "{:?}", e.answers);
        // The chosen candidate is applied once, as the built-in proposal it endorses; the
        // scale-down is never applied.
        let checkout: Vec<&Trial> =
            e.trials.iter().filter(|t| t.target == "boutique/checkoutservice").collect();
        assert_eq!(checkout.len(), 1, "{:?}", e.trials);
        assert!(checkout[0].endorsed_by.iter().any(|s| s == "llm:scripted"), "{:?}", checkout[0]);
        assert!(e.trials.iter().all(|t| !t.action.contains("to 1 replica")), "{:?}", e.trials);
    }

    fn trial(confidence: u32, success: bool) -> Trial {
        Trial {
            seed: 1,
            tick: 1,
            source: "s".into(),
            target: "t".into(),
            action: "a".into(),
            confidence,
            endorsed_by: vec![],
            baseline_breach_s: 0,
            treated_breach_s: 0,
            baseline_p99_ms: 0.0,
            treated_p99_ms: 0.0,
            predicted_after: 1.0,
            measured_after: 1.0,
            after_error: 0.0,
            slo_restored: success,
            harmful: false,
            success,
            predicted_p99_ms: None,
            predicted_error: None,
        }
    }

    #[test]
    fn sparse_buckets_are_merged_until_each_holds_enough() {
        let mut t: Vec<Trial> = (0..30).map(|i| trial(90, i % 10 != 0)).collect();
        t.extend((0..5).map(|_| trial(50, false)));
        t.extend((0..25).map(|i| trial(10, i % 2 == 0)));
        let b = reliability(&t, 20);
        assert!(b.iter().all(|b| b.proposals >= 20), "{b:?}");
        assert_eq!(b.iter().map(|b| b.proposals).sum::<usize>(), 60);
        assert_eq!((b[0].from, b.last().unwrap().to), (0, 100));
        assert!(rising(&b), "{b:?}");
        let falling = [trial(10, true), trial(90, false)];
        assert!(!rising(&reliability(&falling, 1)));
    }
}
