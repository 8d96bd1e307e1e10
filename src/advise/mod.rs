//! Recommendations: advisors (built-in and LLM) propose changes as `Candidate`s; `assess`
//! validates each against the twin and the guardrails, predicts its effect with an
//! `Evaluator`, scores a confidence from named parts and resolves conflicts, keeping rejected
//! proposals with their reason. The LLM client and the data-dir files are the only I/O here.

pub mod builtin;
pub mod calibrate;
pub mod confidence;
pub mod evaluate;
pub mod llm;
pub mod outcome;
pub mod proposal;
pub mod rebalance;
pub mod record;
pub mod sim_eval;
#[cfg(test)]
pub(crate) mod testkit;
pub mod validate;

pub use crate::guardrails::Guardrails;
pub use evaluate::{AnalyticEvaluator, Evaluator};
pub use proposal::{Candidate, Confidence, Prediction, Proposal, ProposalsDoc, Status};
pub use record::TrackRecord;
pub use sim_eval::SimEvaluator;

use crate::change::Change;
use crate::twin::Snapshot;
use confidence::{Agreement, Inputs};
use proposal::proposal_id;
use std::collections::BTreeMap;

/// Everything `assess` weighs besides the candidates.
pub struct Context<'a> {
    pub guardrails: Guardrails,
    pub evaluator: &'a dyn Evaluator,
    pub seeds: Vec<u64>,
    pub record: &'a TrackRecord,
    /// Proposals already waiting for an operator: new ones must not conflict with them.
    pub pending: &'a [Proposal],
}

/// The model proposals are checked with. The simulator is the default: it runs the twin's
/// calibrated request model (`sim::calibrate`) with and without the change; the analytic M/M/c
/// model is the fast fallback for machines where seconds per proposal are too much.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvaluatorKind {
    Analytic,
    #[default]
    Sim,
}

impl EvaluatorKind {
    pub const NAMES: [&'static str; 2] = ["sim", "analytic"];

    pub fn parse(s: &str) -> Option<EvaluatorKind> {
        match s {
            "sim" => Some(EvaluatorKind::Sim),
            "analytic" => Some(EvaluatorKind::Analytic),
            _ => None,
        }
    }

    /// The evaluator, simulating `horizon_s` seconds per run where it simulates.
    pub fn build(self, horizon_s: u32) -> Box<dyn Evaluator + Send + Sync> {
        match self {
            EvaluatorKind::Analytic => Box::new(AnalyticEvaluator::default()),
            EvaluatorKind::Sim => Box::new(SimEvaluator { horizon_s: horizon_s.max(1) }),
        }
    }
}

/// The default seeds a prediction is spread over.
pub fn default_seeds() -> Vec<u64> {
    (1..=8).collect()
}

/// Validates, evaluates, scores and orders candidates: valid proposals by confidence, then the
/// rejected ones with their reasons. Nothing is dropped.
pub fn assess(snap: &Snapshot, candidates: Vec<Candidate>, ctx: &Context) -> Vec<Proposal> {
    // Validation first: it also normalises targets (bare name → namespace/name).
    let checked: Vec<(Candidate, Result<Change, String>)> = candidates
        .into_iter()
        .map(|c| {
            let verdict = match (&c.problem, &c.action) {
                (Some(p), _) => Err(p.clone()),
                (None, None) => Err("the advisor gave no action".to_string()),
                (None, Some(a)) => validate::validate(snap, a, &ctx.guardrails),
            };
            (c, verdict)
        })
        .collect();

    let mut proposals: Vec<Proposal> = checked
        .iter()
        .enumerate()
        .map(|(i, (c, verdict))| {
            let (target, action) = match verdict {
                Ok(a) => (a.target().to_string(), Some(a.clone())),
                Err(_) => (c.target.clone(), c.action.clone()),
            };
            let id = proposal_id(&c.source, &target, action.as_ref(), c.when);
            let (status, rejection, predicted, confidence) = match verdict {
                Err(why) => (Status::Rejected, Some(why.clone()), None, no_confidence()),
                Ok(a) => {
                    let mut p = ctx.evaluator.evaluate(snap, a, &ctx.seeds);
                    p.measured_p99_ms =
                        snap.workload_index(&target).and_then(|w| snap.workload_status[w].p99_ms);
                    let conf = confidence::score(&Inputs {
                        prediction: Some(&p),
                        forecast_uncertainty: c.forecast_uncertainty,
                        track_record: ctx.record.success_rate(&c.source),
                        agreement: agreement(i, a, &checked),
                        stated: c.stated_confidence,
                    });
                    (Status::Valid, None, Some(p), conf)
                }
            };
            Proposal {
                id,
                source: c.source.clone(),
                target,
                action,
                when: c.when,
                status,
                rejection,
                reason: c.reason.clone(),
                predicted,
                confidence,
                exchange: c.exchange.clone(),
            }
        })
        .collect();

    resolve_conflicts(&mut proposals, ctx.pending);
    proposals.sort_by(|a, b| {
        (a.status == Status::Rejected)
            .cmp(&(b.status == Status::Rejected))
            .then(b.confidence.score.cmp(&a.confidence.score))
            .then(a.id.cmp(&b.id))
    });
    proposals
}

/// Whether another advisor proposed the same change on this target, a different one, or none.
fn agreement(me: usize, mine: &Change, all: &[(Candidate, Result<Change, String>)]) -> Agreement {
    let mut result = Agreement::Alone;
    for (j, (c, verdict)) in all.iter().enumerate() {
        let Ok(other) = verdict else { continue };
        if j == me || c.source == all[me].0.source || other.target() != mine.target() {
            continue;
        }
        if other == mine {
            return Agreement::Agreed;
        }
        result = Agreement::Contradicted;
    }
    result
}

/// One valid proposal per target: the pending queue wins, then the higher confidence; the
/// others are rejected naming the proposal they conflict with.
fn resolve_conflicts(proposals: &mut [Proposal], pending: &[Proposal]) {
    let mut order: Vec<usize> =
        (0..proposals.len()).filter(|&i| proposals[i].status == Status::Valid).collect();
    order.sort_by(|&a, &b| proposals[b].confidence.score.cmp(&proposals[a].confidence.score).then(a.cmp(&b)));
    let mut taken: BTreeMap<String, (String, Option<Change>)> = pending
        .iter()
        .filter(|p| p.status == Status::Valid)
        .map(|p| (p.target.clone(), (p.id.clone(), p.action.clone())))
        .collect();
    for i in order {
        let p = &mut proposals[i];
        match taken.get(&p.target) {
            Some((id, action)) => {
                let why = if *action == p.action {
                    format!("duplicate of proposal {id}")
                } else {
                    format!("conflicts with proposal {id} on the same target")
                };
                p.status = Status::Rejected;
                p.rejection = Some(why);
                p.confidence = no_confidence();
            }
            None => {
                taken.insert(p.target.clone(), (p.id.clone(), p.action.clone()));
            }
        }
    }
}

/// A rejected proposal carries no confidence; every part is still listed, at 0.
fn no_confidence() -> Confidence {
    let parts = ["agreement", "consistency", "forecast", "improvement", "llm_stated", "track_record"]
        .into_iter()
        .map(|n| (n.to_string(), 0.0))
        .collect();
    Confidence { score: 0, parts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::small_twin;

    fn run(candidates: Vec<Candidate>, pending: &[Proposal]) -> Vec<Proposal> {
        let record = TrackRecord::default();
        let ctx = Context {
            guardrails: Guardrails::default(),
            evaluator: &AnalyticEvaluator::default(),
            seeds: default_seeds(),
            record: &record,
            pending,
        };
        assess(&small_twin(), candidates, &ctx)
    }

    fn scale(source: &str, w: &str, n: u32) -> Candidate {
        Candidate::new(source, Change::Scale { workload: w.into(), replicas: n }, "test".into())
    }

    #[test]
    fn invalid_proposals_are_kept_with_their_reason() {
        let out = run(vec![scale("llm:m", "shop/ghost", 3), scale("builtin:reactive", "api", 4)], &[]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].status, Status::Valid);
        assert_eq!(out[0].target, "shop/api", "bare names are normalised");
        assert!(out[0].predicted.is_some() && out[0].confidence.score > 0);
        assert_eq!(out[1].status, Status::Rejected);
        assert!(out[1].rejection.as_deref().unwrap().contains("no workload `shop/ghost`"));
        assert_eq!(out[1].confidence.score, 0);
        assert_eq!(out[1].confidence.parts.len(), 6);
    }

    #[test]
    fn agreement_raises_confidence_and_duplicates_are_folded() {
        let alone = run(vec![scale("builtin:reactive", "shop/api", 4)], &[]);
        let both = run(vec![scale("builtin:reactive", "shop/api", 4), scale("llm:m", "shop/api", 4)], &[]);
        assert_eq!(both.iter().filter(|p| p.status == Status::Valid).count(), 1);
        let kept = both.iter().find(|p| p.status == Status::Valid).unwrap();
        assert!(kept.confidence.score > alone[0].confidence.score);
        let dup = both.iter().find(|p| p.status == Status::Rejected).unwrap();
        assert!(dup.rejection.as_deref().unwrap().starts_with("duplicate of proposal"));
    }

    #[test]
    fn a_pending_proposal_on_the_same_target_wins() {
        let pending = run(vec![scale("builtin:reactive", "shop/api", 4)], &[]);
        let out = run(vec![scale("llm:m", "shop/api", 3)], &pending);
        assert_eq!(out[0].status, Status::Rejected);
        let why = out[0].rejection.as_deref().unwrap();
        assert!(why.contains(&pending[0].id) && why.contains("conflicts"), "{why}");
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let out = run(vec![scale("builtin:reactive", "shop/api", 4), scale("llm:m", "shop/nope", 2)], &[]);
        let v = serde_json::to_value(ProposalsDoc { proposals: out }).unwrap();
        let p = &v["proposals"][0];
        for k in ["id", "source", "target", "action", "when", "status", "reason", "predicted", "confidence"] {
            assert!(p.get(k).is_some(), "missing {k}: {p}");
        }
        assert_eq!(p["status"], "valid");
        assert_eq!(p["predicted"]["model"], "analytic");
        assert!(p["confidence"]["score"].as_u64().unwrap() <= 100);
        assert_eq!(p["action"]["kind"], "scale");
        assert_eq!(v["proposals"][1]["status"], "rejected");
        assert!(v["proposals"][1]["rejection"].is_string());
    }
}
