//! The approval flow: the only path by which a change reaches a cluster. A proposal must be
//! approved, its exact change confirmed with `y` naming the context, and pass the guardrails;
//! then it is audited (fsync'd) before a server-side dry run, the apply, and the audit of the
//! outcome. Key handling in the console drives this state machine and nothing else applies.
//! The object's version read at approval travels with the change, so a concurrent edit makes
//! the cluster refuse it (a conflict, audited and shown) rather than be silently overwritten.

use super::audit::{AuditError, AuditLog, Record};
use super::cluster::{ApplyError, ClusterControl};
use crate::change::Change;
use crate::guardrails::{Guardrails, PastAction, Rule, Violation};
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};

/// The source of proposals that undo a change after its SLO watch saw a sustained breach.
pub(crate) const ROLLBACK_SOURCE: &str = "twintop:rollback";

/// What the flow needs to know of a proposal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub id: String,
    pub change: Change,
    pub confidence: Option<f64>,
    pub source: String,
    pub llm_exchange_sha256: Option<String>,
    pub reason: String,
    /// The twin-predicted p99 of the target after the change, ms: what the advisor's track
    /// record judges the change by once its watch window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_p99_ms: Option<f64>,
}

/// Where the flow stands.
// One Stage per flow, never in a collection: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Idle,
    /// Approved; waiting for `y` on the confirmation that shows `diff`.
    Confirming {
        pending: Pending,
        diff: String,
        /// The target's resourceVersion when it was approved (see `pin_version`).
        version: Option<String>,
    },
}

/// The outcome of one step, for the view to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing happened (e.g. `y` with nothing to confirm).
    None,
    /// The confirmation dialog is open.
    AwaitingConfirmation,
    /// Guardrails refused; nothing was applied.
    Blocked(Vec<Violation>),
    Rejected,
    Cancelled,
    /// The dry run failed; nothing was applied.
    DryRunFailed(String),
    /// The target changed since it was approved (409): nothing was applied; re-check.
    Conflict(String),
    Applied(String),
    Failed(String),
}

pub struct Flow {
    pub stage: Stage,
    pub guardrails: Guardrails,
    pub context: String,
    pub user: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl Flow {
    pub fn new(guardrails: Guardrails, context: &str) -> Flow {
        let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Flow { stage: Stage::Idle, guardrails, context: context.into(), user }
    }

    /// `a` on a proposal: checks the guardrails now, and opens the confirmation.
    pub fn approve(
        &mut self,
        p: Pending,
        snap: &Snapshot,
        past: &[PastAction],
        now: DateTime<Utc>,
    ) -> Outcome {
        let violations = self.violations(&p, snap, past, now);
        if !violations.is_empty() {
            self.stage = Stage::Idle;
            return Outcome::Blocked(violations);
        }
        let diff = diff(&p.change, snap, &self.context);
        self.stage = Stage::Confirming { pending: p, diff, version: None };
        Outcome::AwaitingConfirmation
    }

    /// Records the target's version read from the cluster right after `approve`: the dry run
    /// and the apply carry it, so anything that changed the object in between is a conflict.
    pub(crate) fn pin_version(&mut self, v: Option<String>) {
        if let Stage::Confirming { version, .. } = &mut self.stage {
            *version = v;
        }
    }

    /// `Esc` in the confirmation.
    pub(crate) fn cancel(&mut self) -> Outcome {
        match std::mem::replace(&mut self.stage, Stage::Idle) {
            Stage::Confirming { .. } => Outcome::Cancelled,
            Stage::Idle => Outcome::None,
        }
    }

    /// `r` on a proposal: recorded, never applied.
    pub(crate) fn reject(
        &mut self,
        p: &Pending,
        reason: &str,
        audit: &mut AuditLog,
        now: DateTime<Utc>,
    ) -> Result<Outcome, FlowError> {
        audit.append(self.record(
            p,
            "rejected",
            Some(reason.to_string()),
            serde_json::Value::Null,
            serde_json::Value::Null,
            now,
        ))?;
        if matches!(&self.stage, Stage::Confirming { pending, .. } if pending.id == p.id) {
            self.stage = Stage::Idle;
        }
        Ok(Outcome::Rejected)
    }

    /// `y` in the confirmation: re-checks the guardrails on the newest twin, audits the
    /// approval, dry-runs, applies and audits the outcome.
    pub fn confirm(
        &mut self,
        snap: &Snapshot,
        past: &[PastAction],
        now: DateTime<Utc>,
        cluster: &dyn ClusterControl,
        audit: &mut AuditLog,
    ) -> Result<Outcome, FlowError> {
        let Stage::Confirming { pending, version, .. } = std::mem::replace(&mut self.stage, Stage::Idle)
        else {
            return Ok(Outcome::None);
        };
        let violations = self.violations(&pending, snap, past, now);
        if !violations.is_empty() {
            let why = violations.iter().map(|v| v.message.as_str()).collect::<Vec<_>>().join("; ");
            audit.append(self.record(
                &pending,
                "blocked",
                Some(why),
                serde_json::Value::Null,
                serde_json::Value::Null,
                now,
            ))?;
            return Ok(Outcome::Blocked(violations));
        }
        let before = current_state(&pending.change, snap);
        let after = serde_json::to_value(&pending.change).unwrap_or_default();
        audit.append(self.record(&pending, "approved", None, before.clone(), after.clone(), now))?;
        let version = version.as_deref();
        match cluster.apply_versioned(&pending.change, true, version) {
            Ok(_) => {}
            Err(ApplyError::Conflict(e)) => {
                audit.append(self.record(&pending, "conflict", Some(e.clone()), before, after, now))?;
                return Ok(Outcome::Conflict(e));
            }
            Err(ApplyError::Failed(e)) => {
                audit.append(self.record(&pending, "dry-run-failed", Some(e.clone()), before, after, now))?;
                return Ok(Outcome::DryRunFailed(e));
            }
        }
        // One attempt: a conflict goes back to the operator, never retried on a fresh version.
        match cluster.apply_versioned(&pending.change, false, version) {
            Ok(mut msg) => {
                if let Some(why) = super::watch::no_rollback(&pending.change) {
                    msg = format!("{msg}; {why}");
                }
                audit.append(self.record(&pending, "applied", Some(msg.clone()), before, after, now))?;
                Ok(Outcome::Applied(msg))
            }
            Err(ApplyError::Conflict(e)) => {
                audit.append(self.record(&pending, "conflict", Some(e.clone()), before, after, now))?;
                Ok(Outcome::Conflict(e))
            }
            Err(ApplyError::Failed(e)) => {
                audit.append(self.record(&pending, "failed", Some(e.clone()), before, after, now))?;
                Ok(Outcome::Failed(e))
            }
        }
    }

    /// The guardrails' verdict on a pending change. A rollback to the recorded prior state is
    /// exempt from the cooldown and the hourly limit: they exist to stop thrashing, and holding
    /// a rollback behind the change it undoes would keep an SLO-breaching change in place.
    fn violations(
        &self,
        p: &Pending,
        snap: &Snapshot,
        past: &[PastAction],
        now: DateTime<Utc>,
    ) -> Vec<Violation> {
        let mut v = self.guardrails.check(&p.change, snap, &self.context, past, now);
        if p.source == ROLLBACK_SOURCE {
            v.retain(|x| !matches!(x.rule, Rule::Cooldown | Rule::MaxChangePerHour));
        }
        v
    }

    /// The audit record of a decision on `p` by this operator in this context.
    pub fn record(
        &self,
        p: &Pending,
        outcome: &str,
        reason: Option<String>,
        before: serde_json::Value,
        after: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Record {
        Record {
            time: now.to_rfc3339(),
            user: self.user.clone(),
            context: self.context.clone(),
            target: p.change.target().to_string(),
            action: p.change.to_string(),
            before,
            after,
            proposal_id: Some(p.id.clone()),
            confidence: p.confidence,
            source: Some(p.source.clone()),
            llm_exchange_sha256: p.llm_exchange_sha256.clone(),
            outcome: outcome.into(),
            reason: reason.or_else(|| Some(p.reason.clone())),
        }
    }
}

/// The recorded prior state, so a rollback knows what to restore.
pub(crate) fn current_state(change: &Change, snap: &Snapshot) -> serde_json::Value {
    match change {
        Change::Scale { workload, .. } => snap
            .workload_index(workload)
            .map(|w| serde_json::json!({"replicas": snap.workloads[w].replicas}))
            .unwrap_or_default(),
        Change::HpaBounds { workload, .. } => snap
            .workload_index(workload)
            .and_then(|w| snap.workloads[w].hpa.as_ref())
            .map(|h| serde_json::json!({"min": h.min_replicas, "max": h.max_replicas}))
            .unwrap_or_default(),
        Change::Cordon { server, .. } => snap
            .server_index(server)
            .map(|s| serde_json::json!({"unschedulable": !snap.servers[s].schedulable}))
            .unwrap_or_default(),
        // Where the pod ran and whose it is: the audit log then counts the eviction as an
        // action on the workload (cooldowns), though the pod itself is gone.
        Change::Evict { pod, .. } => snap
            .pod_index(pod)
            .map(|i| {
                let p = &snap.pods[i];
                serde_json::json!({
                    "server": p.server.map(|s| snap.servers[s].name.clone()),
                    "workload": p.workload.map(|w| snap.workloads[w].key()),
                })
            })
            .unwrap_or_default(),
    }
}

/// The change as a kubectl-style diff, headed by the context it will be applied to.
pub(crate) fn diff(change: &Change, snap: &Snapshot, context: &str) -> String {
    let esc = |s: &str| crate::text::escape(s).into_owned();
    match change {
        Change::Scale { workload, replicas } => {
            let (kind, ns, name, cur) = snap
                .workload_index(workload)
                .map(|w| {
                    let wl = &snap.workloads[w];
                    (
                        wl.kind.as_str().to_lowercase(),
                        wl.namespace.clone(),
                        wl.name.clone(),
                        wl.replicas.to_string(),
                    )
                })
                .unwrap_or(("deployment".into(), "?".into(), workload.clone(), "?".into()));
            format!(
                "context: {}\n--- {kind}/{} (namespace {})\n+++ {kind}/{} (proposed)\n spec:\n-  replicas: {cur}\n+  replicas: {replicas}\n",
                esc(context),
                esc(&name),
                esc(&ns),
                esc(&name)
            )
        }
        Change::HpaBounds { workload, min, max } => {
            let cur = snap
                .workload_index(workload)
                .and_then(|w| snap.workloads[w].hpa.clone())
                .map(|h| (h.name, h.min_replicas.to_string(), h.max_replicas.to_string()))
                .unwrap_or((esc(workload), "?".into(), "?".into()));
            format!(
                "context: {}\n--- horizontalpodautoscaler/{}\n+++ horizontalpodautoscaler/{} (proposed)\n spec:\n-  minReplicas: {}\n-  maxReplicas: {}\n+  minReplicas: {min}\n+  maxReplicas: {max}\n",
                esc(context),
                esc(&cur.0),
                esc(&cur.0),
                cur.1,
                cur.2
            )
        }
        Change::Cordon { server, cordon } => {
            let cur = snap.server_index(server).map(|s| !snap.servers[s].schedulable).unwrap_or(false);
            format!(
                "context: {}\n--- node/{}\n+++ node/{} (proposed)\n spec:\n-  unschedulable: {cur}\n+  unschedulable: {cordon}\n",
                esc(context),
                esc(server),
                esc(server)
            )
        }
        Change::Evict { pod, server, to } => {
            let (ns, name) = pod.split_once('/').unwrap_or(("default", pod));
            let owner =
                snap.workload_of_pod(pod).map(|w| snap.workloads[w].key()).unwrap_or_else(|| "?".into());
            let lands = match to {
                Some(t) => format!("the scheduler places it; the twin expects node/{}", esc(t)),
                None => "the scheduler places it".into(),
            };
            format!(
                "context: {}\n--- pod/{} (namespace {}) on node/{}\n+++ eviction policy/v1 of pod/{} (proposed; PodDisruptionBudgets apply)\n  {} recreates the pod; {lands}\n  no rollback: an eviction cannot be undone\n",
                esc(context),
                esc(name),
                esc(ns),
                esc(server),
                esc(name),
                esc(&owner)
            )
        }
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
