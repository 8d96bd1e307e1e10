//! The one output type of every advisor: a `Proposal`, its predicted effect on the twin and its
//! confidence. Advisors produce `Candidate`s; `assess` turns them into proposals.

use crate::change::Change;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What an advisor suggests, before validation, evaluation and scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// "builtin:reactive", "builtin:placement", "llm:<model>".
    pub source: String,
    /// The workload key or server name as the advisor gave it (may not exist).
    pub target: String,
    /// `None` when the advisor's answer could not be turned into a change at all.
    pub action: Option<Change>,
    pub when: Option<DateTime<Utc>>,
    /// One sentence, from the advisor.
    pub reason: String,
    /// What is wrong with the answer itself (unparseable, wrong types, out of range), found
    /// before the twin is consulted; the proposal is rejected with it.
    pub problem: Option<String>,
    /// The advisor's own confidence 0–100, as stated (LLM only; may be out of range).
    pub stated_confidence: Option<f64>,
    /// Forecast interval width relative to the point forecast, when a forecast motivated it.
    pub forecast_uncertainty: Option<f64>,
    /// The target's request rate at the forecast peak over its rate now, when a forecast
    /// motivated it: the change is judged on the twin under that load.
    pub forecast_load: Option<f64>,
    /// sha256 of the saved raw LLM exchange this came from.
    pub exchange: Option<String>,
    /// Why the advisor wants it when not to fix an SLO breach: a change the twin predicts makes
    /// something worse is valid only with a motive it actually serves, and a cordon (which
    /// moves no pod) only with one (`hot_server`, `free_server`).
    pub motive: Option<Motive>,
    /// The advisor was shown the other advisors' proposals (an LLM offered the twin's
    /// candidates): proposing the same change is then an endorsement, not independent agreement.
    pub informed: bool,
}

/// Why a change is proposed when it is not to fix an SLO breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motive {
    /// Cheaper: fewer replicas or a smaller HPA floor.
    Cost,
    /// A server emptied (cordoned, its pods moved) to take it out of service.
    FreeServer,
    /// A server running hot cordoned so nothing new lands on it while its load is dealt with
    /// (a runaway process no pod move relieves): served only by a cordon of a hot server the
    /// scheduler would still place pods on.
    HotServer,
}

impl Motive {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Motive::Cost => "cost",
            Motive::FreeServer => "free_server",
            Motive::HotServer => "hot_server",
        }
    }
}

/// Another advisor that proposed the very same change: its reason is kept with the proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endorsement {
    pub source: String,
    pub reason: String,
    /// sha256 of the raw LLM exchange it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
}

impl Candidate {
    pub fn new(source: &str, action: Change, reason: String) -> Candidate {
        Candidate {
            source: source.into(),
            target: action.target().to_string(),
            action: Some(action),
            when: None,
            reason,
            problem: None,
            stated_confidence: None,
            forecast_uncertainty: None,
            forecast_load: None,
            exchange: None,
            motive: None,
            informed: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Rejected,
}

/// A figure over several seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub(crate) fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread { mean: 0.0, min: 0.0, max: 0.0 };
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        Spread { mean, min, max }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    pub before: Spread,
    pub after: Spread,
}

/// The twin's prediction of a change against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// "analytic" (M/M/c over the call graph) or "sim" (request-level simulator).
    pub model: String,
    pub seeds: usize,
    pub horizon_s: u32,
    /// p99 of the target workload (for a server: the worst p99 among workloads on it), ms.
    pub p99_ms: BeforeAfter,
    /// The target workload's p99 as the twin measures it now, ms (none for a server target or
    /// without measurements): beside `p99_ms.before` it shows how well the twin reproduces now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_p99_ms: Option<f64>,
    /// Workloads over their p99 SLO.
    pub slo_violations: BeforeAfter,
    /// Cost of the pods' requests per hour, in the servers' price unit.
    pub cost_per_hour: BeforeAfter,
    pub rub: BeforeAfter,
    /// CPU share of allocatable of the server a placement change relieves (evictions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu: Option<BeforeAfter>,
    /// Seeds in which the change cut SLO violations, or cut the target's p99 by at least 20 %
    /// without adding violations.
    pub improved_seeds: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    /// 0–100; the sum of the parts.
    pub score: u32,
    /// Points each part contributes (all parts are always present).
    pub parts: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub source: String,
    pub target: String,
    pub action: Option<Change>,
    pub when: Option<DateTime<Utc>>,
    pub status: Status,
    /// Why validation rejected it (only when rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
    pub reason: String,
    pub predicted: Option<Prediction>,
    pub confidence: Confidence,
    /// sha256 of the raw LLM exchange saved in the data dir (LLM proposals only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// The advisor's motive when it is not to fix an SLO breach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motive: Option<Motive>,
    /// Other advisors that proposed the same change (an LLM choosing a candidate it was
    /// offered), with their reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<Endorsement>,
}

/// The document `twintop advise --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalsDoc {
    pub proposals: Vec<Proposal>,
}

/// A stable id: the same advisor proposing the same change at the same time gets the same id.
pub(crate) fn proposal_id(
    source: &str,
    target: &str,
    action: Option<&Change>,
    when: Option<DateTime<Utc>>,
) -> String {
    let content = serde_json::json!({ "source": source, "target": target, "action": action, "when": when });
    let digest = Sha256::digest(content.to_string().as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_is_stable_and_content_addressed() {
        let c = Change::Scale { workload: "shop/a".into(), replicas: 3 };
        let a = proposal_id("builtin:reactive", "shop/a", Some(&c), None);
        assert_eq!(a, proposal_id("builtin:reactive", "shop/a", Some(&c), None));
        assert_eq!(a.len(), 16);
        let d = Change::Scale { workload: "shop/a".into(), replicas: 4 };
        assert_ne!(a, proposal_id("builtin:reactive", "shop/a", Some(&d), None));
        assert_ne!(a, proposal_id("llm:x", "shop/a", Some(&c), None));
    }

    #[test]
    fn spread_of_values() {
        let s = Spread::of(&[1.0, 3.0, 2.0]);
        assert_eq!((s.mean, s.min, s.max), (2.0, 1.0, 3.0));
    }
}
