//! Recommendations: advisors (built-in and LLM) propose changes as `Candidate`s; `assess`
//! validates each against the twin and the guardrails, predicts its effect with an
//! `Evaluator`, scores a confidence from named parts and resolves conflicts, keeping rejected
//! proposals with their reason. The LLM client and the data-dir files are the only I/O here.

pub mod builtin;
pub(crate) mod calibrate;
pub(crate) mod confidence;
pub(crate) mod effect;
pub(crate) mod evaluate;
pub mod llm;
pub(crate) mod outcome;
pub(crate) mod proposal;
pub(crate) mod rebalance;
pub mod record;
pub(crate) mod sim_eval;
#[cfg(test)]
pub(crate) mod testkit;
pub mod validate;
pub(crate) mod validate_set;

pub use crate::guardrails::Guardrails;
pub use evaluate::{AnalyticEvaluator, Evaluator};
pub use proposal::{Candidate, Confidence, Endorsement, Motive, Prediction, Proposal, ProposalsDoc, Status};
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
pub(crate) enum EvaluatorKind {
    Analytic,
    #[default]
    Sim,
}

impl EvaluatorKind {
    pub(crate) const NAMES: [&'static str; 2] = ["sim", "analytic"];

    pub(crate) fn parse(s: &str) -> Option<EvaluatorKind> {
        match s {
            "sim" => Some(EvaluatorKind::Sim),
            "analytic" => Some(EvaluatorKind::Analytic),
            _ => None,
        }
    }

    /// The evaluator, simulating `horizon_s` seconds per run where it simulates.
    pub(crate) fn build(self, horizon_s: u32) -> Box<dyn Evaluator + Send + Sync> {
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
/// rejected ones with their reasons. Nothing is dropped: the same change proposed by another
/// advisor is folded into the kept proposal as an endorsement with its reason.
pub fn assess(snap: &Snapshot, candidates: Vec<Candidate>, ctx: &Context) -> Vec<Proposal> {
    assess_reusing(snap, candidates, ctx, &[])
}

/// `assess`, taking the prediction of a change from `known` proposals when one of them already
/// has it (the built-in proposals offered to an LLM are not simulated twice).
pub(crate) fn assess_reusing(
    snap: &Snapshot,
    candidates: Vec<Candidate>,
    ctx: &Context,
    known: &[Proposal],
) -> Vec<Proposal> {
    assess_inner(snap, candidates, ctx, known, true)
}

/// A decision's change validated and predicted again on a newer twin (an approval, a fired
/// schedule, a rollback): the guardrails and validation hold as ever, but the operator already
/// chose it, so the twin's judgement of whether it is worth showing (`effect::judge`: harmful
/// without a motive, or no material effect) is not applied — a rollback is a scale-down on
/// purpose. The prediction and confidence are still given.
pub(crate) fn reassess(snap: &Snapshot, candidates: Vec<Candidate>, ctx: &Context) -> Vec<Proposal> {
    assess_inner(snap, candidates, ctx, &[], false)
}

fn assess_inner(
    snap: &Snapshot,
    candidates: Vec<Candidate>,
    ctx: &Context,
    known: &[Proposal],
    judge: bool,
) -> Vec<Proposal> {
    // Validation first, each advisor's candidates as one set: it also normalises targets
    // (bare name → namespace/name). Then the twin judges each valid change; one it rejects
    // (harmful, or changing nothing) is taken out of its set, and the set validated again, so
    // it does not hold a place a later change of the same answer needs.
    let n = candidates.len();
    let mut judged: Vec<Option<(Prediction, Result<(), String>)>> = vec![None; n];
    let mut out_of_set = vec![false; n];
    let mut verdicts = validate_by_source(snap, &candidates, &ctx.guardrails, &out_of_set);
    for _ in 0..=n {
        let together = evictions_together(snap, &candidates, &verdicts, &out_of_set);
        let mut changed = false;
        for i in 0..n {
            let (Ok(a), None) = (&verdicts[i], &judged[i]) else { continue };
            let c = &candidates[i];
            // A change made for a forecast peak is judged under the peak's load where the
            // evaluator can simulate it; otherwise on the present, and its effect taken on trust.
            // (Its "before" is the peak's, not the present's: no measurement to set it beside.)
            let at_peak =
                c.forecast_load.and_then(|k| ctx.evaluator.evaluate_at_load(snap, a, &ctx.seeds, k));
            let judged_at_peak = at_peak.is_some();
            let p = at_peak.unwrap_or_else(|| predict(snap, a, ctx, known));
            let claim = effect::Claim {
                motive: c.motive,
                forecast: !judged_at_peak && (c.forecast_uncertainty.is_some() || c.when.is_some()),
                together: match a {
                    Change::Evict { server, .. } => {
                        together.get(&(c.source.as_str(), server.as_str())).copied()
                    }
                    _ => None,
                },
            };
            let verdict = if judge { effect::judge(snap, a, &p, &claim) } else { Ok(()) };
            if verdict.is_err() {
                out_of_set[i] = true;
                changed = true;
            }
            judged[i] = Some((p, verdict));
        }
        if !changed {
            break;
        }
        let again = validate_by_source(snap, &candidates, &ctx.guardrails, &out_of_set);
        for i in 0..n {
            if !out_of_set[i] && again[i] != verdicts[i] {
                judged[i] = None;
                verdicts[i] = again[i].clone();
            }
        }
    }
    let checked: Vec<(Candidate, Result<Change, String>)> = candidates.into_iter().zip(verdicts).collect();
    let mut proposals: Vec<Proposal> = checked
        .iter()
        .enumerate()
        .map(|(i, (c, verdict))| {
            let (target, action) = match verdict {
                Ok(a) => (a.target().to_string(), Some(a.clone())),
                Err(_) => (c.target.clone(), c.action.clone()),
            };
            let id = proposal_id(&c.source, &target, action.as_ref(), c.when);
            let (status, rejection, predicted, confidence) = match (verdict, judged[i].take()) {
                (Err(why), _) => (Status::Rejected, Some(why.clone()), None, no_confidence()),
                (Ok(_), None) => (Status::Rejected, Some("not judged".into()), None, no_confidence()),
                (Ok(_), Some((p, Err(why)))) => (Status::Rejected, Some(why), Some(p), no_confidence()),
                (Ok(a), Some((p, Ok(())))) => {
                    let runs = ctx.record.sources.get(&c.source).map_or(0, Vec::len);
                    let conf = confidence::score(&Inputs {
                        prediction: Some(&p),
                        forecast_uncertainty: c.forecast_uncertainty,
                        track_record: (runs > 0).then(|| ctx.record.success_rate(&c.source)),
                        agreement: agreement(i, a, &checked),
                        explained: effect::explained_share(snap, a),
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
                motive: c.motive,
                endorsements: Vec::new(),
            }
        })
        .collect();

    let informed: Vec<bool> = checked.iter().map(|(c, _)| c.informed).collect();
    fold_endorsements(&mut proposals, &informed);
    resolve_conflicts(&mut proposals, ctx.pending);
    proposals.sort_by(|a, b| {
        (a.status == Status::Rejected)
            .cmp(&(b.status == Status::Rejected))
            .then(b.confidence.score.cmp(&a.confidence.score))
            .then(a.id.cmp(&b.id))
    });
    proposals
}

/// For each (advisor, server): the server's CPU share after all the valid evictions that
/// advisor proposes off it (those still in its set), each pod going where the twin expects it.
fn evictions_together<'a>(
    snap: &Snapshot,
    candidates: &'a [Candidate],
    verdicts: &'a [Result<Change, String>],
    out_of_set: &[bool],
) -> BTreeMap<(&'a str, &'a str), f64> {
    let mut moves: BTreeMap<(&str, &str), Vec<rebalance::PodMove>> = BTreeMap::new();
    for (i, (c, v)) in candidates.iter().zip(verdicts).enumerate() {
        let Ok(Change::Evict { pod, server, to }) = v else { continue };
        if out_of_set[i] {
            continue;
        }
        let Some(p) = snap.pod_index(pod) else { continue };
        let (Some(from), Some(to)) =
            (snap.pods[p].server, rebalance::expected_server(snap, p, to.as_deref()))
        else {
            continue;
        };
        moves.entry((c.source.as_str(), server.as_str())).or_default().push(rebalance::PodMove {
            pod: p,
            from,
            to,
        });
    }
    moves
        .into_iter()
        .filter_map(|(k, m)| {
            let from = m.first()?.from;
            let (b, a) = rebalance::figures_after(snap, &m);
            Some((k, effect::cpu_after_moves(snap, from, b.cpu[from], a.cpu[from])))
        })
        .collect()
}

/// Each advisor's candidates validated as one set (`validate_set`), in the order given.
/// Candidates marked in `absent` are left out of their set (their result is a placeholder).
fn validate_by_source(
    snap: &Snapshot,
    candidates: &[Candidate],
    g: &Guardrails,
    absent: &[bool],
) -> Vec<Result<Change, String>> {
    let mut out: Vec<Option<Result<Change, String>>> = candidates
        .iter()
        .zip(absent)
        .map(|(c, &gone)| match (&c.problem, &c.action) {
            _ if gone => Some(Err("left out of its set".into())),
            (Some(p), _) => Some(Err(p.clone())),
            (None, None) => Some(Err("the advisor gave no action".to_string())),
            (None, Some(_)) => None,
        })
        .collect();
    let mut sources: Vec<&str> = candidates.iter().map(|c| c.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    for source in sources {
        let idx: Vec<usize> =
            (0..candidates.len()).filter(|&i| candidates[i].source == source && out[i].is_none()).collect();
        let changes: Vec<&Change> = idx.iter().filter_map(|&i| candidates[i].action.as_ref()).collect();
        for (i, verdict) in idx.into_iter().zip(validate_set::validate_set(snap, &changes, g)) {
            out[i] = Some(verdict);
        }
    }
    out.into_iter().map(|v| v.unwrap_or_else(|| Err("not validated".into()))).collect()
}

/// The twin's prediction of a valid change (from `known` when a proposal there has it), with
/// the target's measured p99 and, for an eviction, its server's CPU.
fn predict(snap: &Snapshot, a: &Change, ctx: &Context, known: &[Proposal]) -> Prediction {
    let reused = known.iter().find(|k| k.action.as_ref() == Some(a)).and_then(|k| k.predicted.clone());
    let mut p = reused.unwrap_or_else(|| ctx.evaluator.evaluate(snap, a, &ctx.seeds));
    p.measured_p99_ms = snap.workload_index(a.target()).and_then(|w| snap.workload_status[w].p99_ms);
    if p.server_cpu.is_none() {
        p.server_cpu = effect::eviction_cpu(snap, a).or_else(|| effect::cordon_cpu(snap, a));
    }
    p
}

/// Whether another advisor proposed the same change on this target, a different one, or none.
/// An advisor that was shown the others' proposals (`informed`) does not count as agreeing with
/// them: choosing what it was offered is no independent evidence.
fn agreement(me: usize, mine: &Change, all: &[(Candidate, Result<Change, String>)]) -> Agreement {
    let mut result = Agreement::Alone;
    let my = &all[me].0;
    for (j, (c, verdict)) in all.iter().enumerate() {
        let Ok(other) = verdict else { continue };
        if j == me || c.source == my.source || other.target() != mine.target() {
            continue;
        }
        if other == mine {
            if my.informed || c.informed {
                continue;
            }
            return Agreement::Agreed;
        }
        result = Agreement::Contradicted;
    }
    result
}

/// The same valid change proposed by several advisors becomes one proposal: the one an
/// uninformed advisor made (what was offered), else the higher confidence, keeps the others'
/// reasons as endorsements.
fn fold_endorsements(proposals: &mut Vec<Proposal>, informed: &[bool]) {
    let mut keep = vec![true; proposals.len()];
    for i in 0..proposals.len() {
        if !keep[i] || proposals[i].status != Status::Valid {
            continue;
        }
        for j in i + 1..proposals.len() {
            let same = keep[j]
                && proposals[j].status == Status::Valid
                && proposals[j].source != proposals[i].source
                && proposals[j].action == proposals[i].action
                && proposals[j].when == proposals[i].when;
            if !same {
                continue;
            }
            // Keep the uninformed one; between equals, the higher confidence (then the first).
            let j_wins = (!informed[j] && informed[i])
                || (informed[j] == informed[i]
                    && proposals[j].confidence.score > proposals[i].confidence.score);
            let (kept, folded) = if j_wins { (j, i) } else { (i, j) };
            let e = Endorsement {
                source: proposals[folded].source.clone(),
                reason: proposals[folded].reason.clone(),
                exchange: proposals[folded].exchange.clone(),
            };
            let moved = std::mem::take(&mut proposals[folded].endorsements);
            proposals[kept].endorsements.push(e);
            proposals[kept].endorsements.extend(moved);
            keep[folded] = false;
            if folded == i {
                break;
            }
        }
    }
    let mut k = keep.into_iter();
    proposals.retain(|_| k.next().unwrap_or(true));
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
    let parts = confidence::PARTS.into_iter().map(|n| (n.to_string(), 0.0)).collect();
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
        assert_eq!(out[1].confidence.parts.len(), confidence::PARTS.len());
    }

    #[test]
    fn independent_agreement_raises_confidence_and_duplicates_are_folded_as_endorsements() {
        // api 2 → 3: a partial fix, so agreement has room to count.
        let alone = run(vec![scale("builtin:reactive", "shop/api", 3)], &[]);
        let both = run(vec![scale("builtin:reactive", "shop/api", 3), scale("llm:m", "shop/api", 3)], &[]);
        assert_eq!(both.len(), 1, "the duplicate is folded: {both:#?}");
        let kept = &both[0];
        assert_eq!((kept.status, kept.source.as_str()), (Status::Valid, "builtin:reactive"));
        assert!(
            kept.confidence.score > alone[0].confidence.score,
            "{} vs {}",
            kept.confidence.score,
            alone[0].confidence.score
        );
        assert_eq!(kept.endorsements.len(), 1);
        assert_eq!(kept.endorsements[0].source, "llm:m");
        // An LLM that was offered the built-in proposal and chose it endorses it, but is no
        // independent evidence: the score stays.
        let mut chosen = scale("llm:m", "shop/api", 3);
        chosen.informed = true;
        let informed = run(vec![scale("builtin:reactive", "shop/api", 3), chosen], &[]);
        assert_eq!(informed.len(), 1);
        assert_eq!(informed[0].confidence.score, alone[0].confidence.score);
        assert_eq!(informed[0].endorsements[0].source, "llm:m");
    }

    #[test]
    fn a_change_the_twin_predicts_harmful_or_idle_is_rejected_with_figures() {
        // Scaling the overloaded api down: p99 rises.
        let out = run(vec![scale("llm:m", "shop/api", 1)], &[]);
        assert_eq!(out[0].status, Status::Rejected);
        let why = out[0].rejection.as_deref().unwrap();
        assert!(why.contains("makes things worse") && why.contains("p99 of shop/api"), "{why}");
        assert!(out[0].predicted.is_some(), "the figures stay with the proposal");
        assert_eq!(out[0].confidence.score, 0);
        // Raising web's HPA ceiling alone changes nothing now.
        let hpa = Change::HpaBounds { workload: "shop/web".into(), min: 2, max: 8 };
        let out = run(vec![Candidate::new("builtin:reactive", hpa, "x".into())], &[]);
        assert!(out[0].rejection.as_deref().unwrap().contains("no material effect"), "{out:#?}");
    }

    #[test]
    fn a_decided_change_is_validated_again_but_not_judged_worth_showing() {
        // A rollback of api 1 → 2 to 2 → 1 is a scale-down on purpose: valid, with its figures.
        let record = TrackRecord::default();
        let ctx = Context {
            guardrails: Guardrails::default(),
            evaluator: &AnalyticEvaluator::default(),
            seeds: default_seeds(),
            record: &record,
            pending: &[],
        };
        let down = scale("twintop:rollback", "shop/api", 1);
        let out = reassess(&small_twin(), vec![down], &ctx);
        assert_eq!(out[0].status, Status::Valid, "{out:#?}");
        assert!(out[0].predicted.is_some());
        // Validation and the guardrails still hold: to 0 is never valid.
        let out = reassess(&small_twin(), vec![scale("twintop:rollback", "shop/api", 0)], &ctx);
        assert_eq!(out[0].status, Status::Rejected);
    }

    #[test]
    fn an_answers_set_is_validated_together() {
        let c = |s: &str| Candidate {
            motive: Some(Motive::FreeServer),
            ..Candidate::new("llm:m", Change::Cordon { server: s.into(), cordon: true }, "x".into())
        };
        let g = Guardrails { max_cordoned_share: 0.5, ..Guardrails::default() };
        let record = TrackRecord::default();
        let ctx = Context {
            guardrails: g,
            evaluator: &AnalyticEvaluator::default(),
            seeds: default_seeds(),
            record: &record,
            pending: &[],
        };
        let out = assess(&small_twin(), vec![c("s1"), c("s2"), c("s4")], &ctx);
        let over: Vec<&Proposal> = out
            .iter()
            .filter(|p| p.rejection.as_deref().is_some_and(|r| r.contains("with the cordons before it")))
            .collect();
        assert_eq!(over.len(), 1, "two of four servers is the 50 % guardrail: {out:#?}");
        // A change the twin rejects gives its place back: api 2 → 1 (harmful) does not stop
        // api 2 → 4 later in the same answer.
        let scale = |n: u32| {
            Candidate::new("llm:m", Change::Scale { workload: "shop/api".into(), replicas: n }, "x".into())
        };
        let out = assess(&small_twin(), vec![scale(1), scale(4)], &ctx);
        let four =
            out.iter().find(|p| p.action == Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }));
        assert_eq!(four.map(|p| p.status), Some(Status::Valid), "{out:#?}");
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
