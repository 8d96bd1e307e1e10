//! Headless decisions: what `twintop approve`, `reject` and `schedule` ask the operator service,
//! and its answers. An approval is two steps, as in the console: `Prepare` re-validates the
//! proposal on the twin as it is now, checks the guardrails and reads the target's version from
//! the cluster, and answers with the diff and the context; `Confirm` then runs the audited dry
//! run and apply. Each prepared approval has its own flow (a ticket), so a headless approval
//! never touches the console's open confirmation. The same guardrails, confirmation and audit
//! as the console; the requester's name goes into the audit log.

use super::flow::{Flow, Outcome, Pending};
use super::operator::{Event, Operator, approve_in, describe};
use crate::advise::{Proposal, Status as ProposalStatus};
use crate::guardrails::Violation;
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How long a prepared approval waits for its confirmation (on the twin's clock).
pub(crate) const TICKET_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Who owns the data dir, on which source.
    Hello,
    /// Re-validate `pending` now and open its confirmation.
    Prepare {
        pending: Pending,
        user: String,
        readonly: bool,
    },
    /// Apply what `ticket` prepared.
    Confirm {
        ticket: String,
    },
    /// Drop what `ticket` prepared; nothing is applied.
    Cancel {
        ticket: String,
    },
    Reject {
        pending: Pending,
        user: String,
        reason: String,
    },
    Schedule {
        pending: Pending,
        user: String,
        at: DateTime<Utc>,
        readonly: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Hello {
        /// `twintop operator` or `the console`, with its pid.
        owner: String,
        /// `demo`, `kubernetes`, `manifests`.
        source: String,
        context: String,
        /// The twin's time.
        time: DateTime<Utc>,
    },
    /// The confirmation to show: the context and the exact diff, and the proposal as
    /// re-assessed on the owner's twin.
    Prepared {
        ticket: String,
        context: String,
        diff: String,
        proposal: Box<Proposal>,
    },
    /// Not allowed: the rules broken (by name), or why the proposal is not valid now.
    Refused {
        rules: Vec<Violation>,
        message: String,
    },
    /// The decision was made: `applied`, `rejected`, `scheduled`, `cancelled`, or what stopped
    /// the apply (`dry-run-failed`, `conflict`, `failed`).
    Done {
        outcome: String,
        message: String,
    },
    Error {
        message: String,
    },
}

/// An approval prepared for a headless requester.
pub(crate) struct Ticket {
    id: String,
    flow: Flow,
    expires: DateTime<Utc>,
}

impl Operator {
    /// Answers one headless request on the twin as `snap` shows it.
    pub(crate) fn handle(&mut self, req: Request, snap: &Snapshot, owner: &str) -> Reply {
        let now = snap.time;
        if matches!(req, Request::Prepare { .. } | Request::Schedule { .. }) && snap.servers.is_empty() {
            return Reply::Error {
                message: format!(
                    "{owner} has no twin yet (its source is still loading): try again in a moment"
                ),
            };
        }
        match req {
            Request::Hello => Reply::Hello {
                owner: owner.to_string(),
                source: snap.source.kind.as_str().to_string(),
                context: self.flow.context.clone(),
                time: now,
            },
            Request::Prepare { pending, user, readonly } => self.prepare(pending, &user, readonly, snap),
            Request::Confirm { ticket } => {
                let Some(i) = self.tickets.iter().position(|t| t.id == ticket) else {
                    return Reply::Error { message: format!("no approval {ticket} is waiting (expired?)") };
                };
                let Ticket { mut flow, .. } = self.tickets.remove(i);
                let id = flow_pending_id(&flow);
                let user = flow.user.clone();
                let out = self.confirm_flow(&mut flow, snap, now);
                self.events.push(Event::Note(format!("{user} (headless): {}", describe(&out))));
                match out {
                    Ok(Outcome::Applied(msg)) => {
                        self.events.extend(id.map(Event::Decided));
                        Reply::Done { outcome: "applied".into(), message: msg }
                    }
                    Ok(Outcome::Blocked(v)) => {
                        Reply::Refused { message: super::operator::rules(&v), rules: v }
                    }
                    Ok(Outcome::DryRunFailed(e)) => {
                        Reply::Done { outcome: "dry-run-failed".into(), message: e }
                    }
                    Ok(Outcome::Conflict(e)) => Reply::Done { outcome: "conflict".into(), message: e },
                    Ok(Outcome::Failed(e)) => Reply::Done { outcome: "failed".into(), message: e },
                    other => Reply::Error { message: describe(&other) },
                }
            }
            Request::Cancel { ticket } => {
                self.tickets.retain(|t| t.id != ticket);
                Reply::Done { outcome: "cancelled".into(), message: "nothing applied".into() }
            }
            Request::Reject { pending, user, reason } => {
                if let Err(e) = self.check_owner() {
                    return Reply::Error { message: e };
                }
                let saved = std::mem::replace(&mut self.flow.user, user.clone());
                let out = self.reject(&pending, &reason, now);
                self.flow.user = saved;
                match out {
                    Ok(_) => {
                        self.events.push(Event::Note(format!(
                            "{user} (headless) rejected {}: {reason}",
                            pending.change
                        )));
                        self.events.push(Event::Decided(pending.id));
                        Reply::Done { outcome: "rejected".into(), message: reason }
                    }
                    Err(e) => Reply::Error { message: format!("rejection not recorded: {e}") },
                }
            }
            Request::Schedule { pending, user, at, readonly } => {
                let mut g = self.flow.guardrails.clone();
                g.readonly |= readonly;
                let ro = g.readonly_in(&self.flow.context);
                if !ro.is_empty() {
                    return Reply::Refused { message: super::operator::rules(&ro), rules: ro };
                }
                let (pending, _) = match self.revalidate(pending, snap) {
                    Ok(p) => p,
                    Err(reply) => return reply,
                };
                let saved = std::mem::replace(&mut self.flow.user, user.clone());
                let out = self.schedule(pending.clone(), at, now);
                self.flow.user = saved;
                match out {
                    Ok(()) => {
                        let msg = format!("{} at {}", pending.change, at.to_rfc3339());
                        self.events.push(Event::Note(format!("{user} (headless) scheduled {msg}")));
                        self.events.push(Event::Decided(pending.id));
                        Reply::Done { outcome: "scheduled".into(), message: msg }
                    }
                    Err(e) => Reply::Error { message: format!("not scheduled: {e}") },
                }
            }
        }
    }

    /// The proposal re-validated and re-predicted on `snap`, keeping the requested id (the
    /// audit log ties the decision to what the requester saw). Refused when it is not valid
    /// now, naming the guardrail when one is why.
    fn revalidate(&self, pending: Pending, snap: &Snapshot) -> Result<(Pending, Proposal), Reply> {
        let p = self.reassess(snap, pending.candidate());
        if p.status == ProposalStatus::Rejected {
            let rules = p.action.as_ref().map(|c| self.flow.guardrails.standing(c, snap)).unwrap_or_default();
            let why = p.rejection.clone().unwrap_or_default();
            return Err(Reply::Refused { rules, message: format!("not valid on the twin now: {why}") });
        }
        let fresh =
            Pending::of(&p).ok_or_else(|| Reply::Error { message: "the proposal has no action".into() })?;
        let mut proposal = p;
        proposal.id = pending.id.clone();
        Ok((Pending { id: pending.id, llm_exchange_sha256: pending.llm_exchange_sha256, ..fresh }, proposal))
    }

    fn prepare(&mut self, pending: Pending, user: &str, readonly: bool, snap: &Snapshot) -> Reply {
        if let Err(e) = self.check_owner() {
            return Reply::Error { message: e };
        }
        if self.cluster.is_none() {
            return Reply::Error { message: "this source has no cluster to change".into() };
        }
        let mut flow = self.flow_copy();
        flow.guardrails.readonly |= readonly;
        flow.user = user.to_string();
        // Read-only refuses before anything else, with the rule's name.
        let ro = flow.guardrails.readonly_in(&flow.context);
        if !ro.is_empty() {
            return Reply::Refused { message: super::operator::rules(&ro), rules: ro };
        }
        let (pending, proposal) = match self.revalidate(pending, snap) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        self.reload_past();
        match approve_in(&mut flow, self.cluster.as_ref(), pending, snap, &self.past, snap.time) {
            Outcome::AwaitingConfirmation => {
                let diff = match &flow.stage {
                    super::flow::Stage::Confirming { diff, .. } => diff.clone(),
                    super::flow::Stage::Idle => String::new(),
                };
                let id = ticket_id(&proposal.id, snap.time, self.tickets.len());
                let context = flow.context.clone();
                self.tickets.push(Ticket {
                    id: id.clone(),
                    flow,
                    expires: snap.time + chrono::Duration::seconds(TICKET_SECS),
                });
                Reply::Prepared { ticket: id, context, diff, proposal: Box::new(proposal) }
            }
            Outcome::Blocked(v) => Reply::Refused { message: super::operator::rules(&v), rules: v },
            Outcome::Failed(e) => Reply::Error { message: e },
            other => Reply::Error { message: describe(&Ok(other)) },
        }
    }

    /// Prepared approvals nobody confirmed in time are dropped (nothing was applied).
    pub(super) fn expire_tickets(&mut self, now: DateTime<Utc>) {
        self.tickets.retain(|t| t.expires > now);
    }
}

fn flow_pending_id(flow: &Flow) -> Option<String> {
    match &flow.stage {
        super::flow::Stage::Confirming { pending, .. } => Some(pending.id.clone()),
        super::flow::Stage::Idle => None,
    }
}

/// A ticket nobody can guess from the proposal alone.
fn ticket_id(proposal: &str, now: DateTime<Utc>, n: usize) -> String {
    use sha2::{Digest, Sha256};
    let nonce: u64 = rand::random();
    let d = Sha256::digest(format!("{proposal}/{now}/{n}/{nonce}/{}", std::process::id()).as_bytes());
    hex::encode(&d[..8])
}
