//! The operator service: everything that decides about a cluster, whoever asks. It drives the
//! approval flow (approve → confirm → audited dry run and apply; reject), keeps the audit log
//! open in the data dir, reads past actions back from it for the guardrails' cooldowns and
//! rate limits, fires the calendar (`operator_calendar.rs`), watches the SLO of each target
//! after a change (a sustained breach becomes a rollback: proposed, or applied where the
//! operator enabled automatic rollback), records each watch's outcome in the advisors' track
//! record, and answers headless requests (`operator_requests.rs`). It observes snapshots and
//! emits `Event`s; the console only shows them and forwards keys, and `twintop operator` prints
//! them.

use super::audit::{self, AuditLog};
use super::cluster::ClusterControl;
use super::flow::{Flow, Outcome, Pending, Stage, current_state};
use super::schedule::Calendar;
use super::watch::{Verdict, Watch};
use crate::advise::outcome::{self, Expectation};
use crate::advise::{Candidate, Context, EvaluatorKind, Proposal, TrackRecord, record};
use crate::change::Change;
use crate::guardrails::{Guardrails, PastAction};
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// How long the SLO of a changed target is watched.
pub const WATCH_WINDOW_SECS: i64 = 300;

/// Simulated seconds and seeds of a re-assessment (a rollback, a scheduled action at its time,
/// an edit, a headless approval). It may run on the console's thread, so it is kept to ≈25 ms
/// in release (3 × 30 s of the demo twin, both variants) where the background advisors run
/// 8 × 60 s.
const RESIMULATE_HORIZON_S: u32 = 30;
const RESIMULATE_SEEDS: u64 = 3;

/// The cluster the service drives, as the source handle gives it.
#[derive(Clone)]
pub struct Cluster(pub Arc<dyn ClusterControl>);

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cluster")
    }
}

/// What the service starts with.
#[derive(Debug, Clone, Default)]
pub struct OperatorOptions {
    /// None: a still picture with no cluster; nothing can be applied.
    pub cluster: Option<Cluster>,
    pub guardrails: Guardrails,
    /// Where the audit log, the calendar and the track record live (`paths::data_dir()`).
    pub data_dir: Option<PathBuf>,
    /// Workload keys (or names) whose rollback is applied without asking.
    pub auto_rollback: Vec<String>,
    /// Another process owns the data dir (its description, e.g. `twintop operator, pid 812`):
    /// it fires the calendar and writes the audit log, so this one decides nothing. None: this
    /// process is the owner.
    pub owned_by: Option<String>,
}

/// What the service reports as it observes snapshots and answers requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// Something happened the operator should read (raw text: the view escapes it).
    Note(String),
    /// A proposal that needs the operator: a rollback, a missed scheduled action.
    Propose(Box<Proposal>),
    /// A proposal was decided without the view's keys (the calendar, an automatic rollback, a
    /// headless command): the view stops offering it.
    Decided(String),
}

pub struct Operator {
    /// The console's approval: at most one confirmation open.
    pub flow: Flow,
    pub(super) cluster: Option<Cluster>,
    pub(super) data_dir: Option<PathBuf>,
    audit: Option<AuditLog>,
    pub(super) past: Vec<PastAction>,
    watches: Vec<Watched>,
    auto_rollback: Vec<String>,
    pub calendar: Calendar,
    /// Why the calendar could not be read or saved, for the view.
    pub calendar_error: Option<String>,
    /// Missed calendar entries already proposed to the operator.
    pub(super) missed_proposed: HashSet<String>,
    /// The advisors' track record as last read or written (for re-assessed proposals).
    pub record: TrackRecord,
    pub owned_by: Option<String>,
    pub(super) events: Vec<Event>,
    pub(super) tickets: Vec<super::operator_requests::Ticket>,
    /// Ids written to the proposals ledger, and when (each is written again after a while so
    /// it stays findable as long as it is shown).
    offered: std::collections::HashMap<String, DateTime<Utc>>,
    /// Who shows proposals through this service (`console`, `operator`), for the ledger.
    pub shown_by: &'static str,
}

/// A watch, with what the applied proposal predicted when it has a prediction to judge.
struct Watched {
    watch: Watch,
    expect: Option<Expectation>,
}

impl Pending {
    /// What the flow needs of a proposal; None when it has no action.
    pub fn of(p: &Proposal) -> Option<Pending> {
        Some(Pending {
            id: p.id.clone(),
            change: p.action.clone()?,
            confidence: Some(p.confidence.score as f64),
            source: p.source.clone(),
            llm_exchange_sha256: p.exchange.clone(),
            reason: p.reason.clone(),
            predicted_p99_ms: p.predicted.as_ref().map(|x| x.p99_ms.after.mean),
        })
    }

    /// The advisor's candidate again, to be validated and predicted on a newer twin.
    pub(crate) fn candidate(&self) -> Candidate {
        let mut c = Candidate::new(&self.source, self.change.clone(), self.reason.clone());
        c.exchange = self.llm_exchange_sha256.clone();
        c.stated_confidence = None;
        c
    }
}

impl Operator {
    pub fn new(opts: OperatorOptions, context: &str) -> Operator {
        let mut op = Operator {
            flow: Flow::new(opts.guardrails, context),
            cluster: opts.cluster,
            data_dir: opts.data_dir,
            audit: None,
            past: Vec::new(),
            watches: Vec::new(),
            auto_rollback: opts.auto_rollback,
            calendar: Calendar::default(),
            calendar_error: None,
            missed_proposed: HashSet::new(),
            record: TrackRecord::default(),
            owned_by: opts.owned_by,
            events: Vec::new(),
            tickets: Vec::new(),
            offered: std::collections::HashMap::new(),
            shown_by: "console",
        };
        // An unreadable record reads as none here; appending to it reports the error.
        if let Some(r) = op.record_path().and_then(|p| TrackRecord::load(&p).ok()) {
            op.record = r;
        }
        op.reload_past();
        op.reload_calendar();
        op
    }

    pub(crate) fn record_path(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(record::record_path)
    }

    pub(crate) fn audit_path(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(audit::FILE_NAME))
    }

    pub(crate) fn guardrails(&self) -> &Guardrails {
        &self.flow.guardrails
    }

    /// The context decisions are made in (the source names it once connected).
    pub(crate) fn set_context(&mut self, context: &str) {
        // An open confirmation keeps the context it showed.
        if self.confirming().is_none() {
            self.flow.context = context.to_string();
        }
    }

    /// Refuses when another process owns the data dir: it alone writes the audit log.
    pub(super) fn check_owner(&self) -> Result<(), String> {
        match &self.owned_by {
            Some(owner) => Err(format!(
                "{owner} owns the data dir and its audit log: decide there, or with `twintop approve ID` / `twintop reject ID`"
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn confirming(&self) -> Option<(&Pending, &str)> {
        match &self.flow.stage {
            Stage::Confirming { pending, diff, .. } => Some((pending, diff.as_str())),
            Stage::Idle => None,
        }
    }

    /// Validation, prediction (re-simulated) and scoring of one candidate on `snap`, as the
    /// advisors' proposals get, with this service's guardrails and track record.
    pub(crate) fn reassess(&self, snap: &Snapshot, c: Candidate) -> Proposal {
        let evaluator = EvaluatorKind::default().build(RESIMULATE_HORIZON_S);
        let ctx = Context {
            guardrails: self.flow.guardrails.clone(),
            evaluator: evaluator.as_ref(),
            seeds: (1..=RESIMULATE_SEEDS).collect(),
            record: &self.record,
            pending: &[],
        };
        crate::advise::reassess(snap, vec![c], &ctx).remove(0)
    }

    /// `a`: the guardrails, then the target's resourceVersion read from the cluster, which the
    /// dry run and apply will carry (a change in between is then a conflict, not overwritten).
    pub(crate) fn approve(&mut self, p: Pending, snap: &Snapshot, now: DateTime<Utc>) -> Outcome {
        if let Err(e) = self.check_owner() {
            return Outcome::Failed(e);
        }
        self.reload_past();
        approve_in(&mut self.flow, self.cluster.as_ref(), p, snap, &self.past, now)
    }

    pub(crate) fn cancel(&mut self) -> Outcome {
        self.flow.cancel()
    }

    /// `y`: the audited dry run and apply. On success the target's SLO is watched.
    pub(crate) fn confirm(&mut self, snap: &Snapshot, now: DateTime<Utc>) -> Result<Outcome, String> {
        if self.confirming().is_none() {
            return Ok(Outcome::None);
        }
        let mut flow = std::mem::replace(&mut self.flow, Flow::new(Guardrails::default(), ""));
        let out = self.confirm_flow(&mut flow, snap, now);
        self.flow = flow;
        out
    }

    /// Confirms whatever `flow` has open (the console's, a headless ticket's, the calendar's):
    /// audited, applied, watched; a missed calendar entry it settles is marked so.
    pub(super) fn confirm_flow(
        &mut self,
        flow: &mut Flow,
        snap: &Snapshot,
        now: DateTime<Utc>,
    ) -> Result<Outcome, String> {
        let Stage::Confirming { pending, .. } = &flow.stage else { return Ok(Outcome::None) };
        let pending = pending.clone();
        let change = pending.change.clone();
        let before = current_state(&change, snap);
        let Some(cluster) = self.cluster.clone() else {
            flow.cancel();
            return Err("this source has no cluster to change".into());
        };
        self.reload_past();
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        let out = flow.confirm(snap, &self.past, now, cluster.0.as_ref(), log).map_err(|e| e.to_string());
        self.reload_past();
        if let Ok(Outcome::Applied(msg)) = &out {
            self.settle_missed(&pending.id, super::schedule::Status::Applied, msg);
            let auto = self.auto_for(&change);
            if let Some(watch) =
                Watch::after(&change, &before, now, chrono::Duration::seconds(WATCH_WINDOW_SECS), auto)
            {
                // A newer change on the same target ends the older watch unjudged: its window
                // would mix the two changes' effects.
                self.watches.retain(|x| x.watch.workload != watch.workload);
                let expect = expectation(&pending, &watch.workload, snap);
                self.watches.push(Watched { watch, expect });
            }
        }
        out
    }

    /// `r`: recorded, never applied.
    pub(crate) fn reject(
        &mut self,
        p: &Pending,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, String> {
        self.check_owner()?;
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        let out = self.flow.reject(p, reason, log, now).map_err(|e| e.to_string());
        self.reload_past();
        if out.is_ok() {
            self.settle_missed(&p.id, super::schedule::Status::Rejected, reason);
        }
        out
    }

    /// One audit line about `p` outside the flow's approve/confirm (a calendar entry's fate).
    pub(super) fn audit_note(
        &mut self,
        flow: &Flow,
        p: &Pending,
        outcome: &str,
        reason: String,
        after: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let record = flow.record(p, outcome, Some(reason), serde_json::Value::Null, after, now);
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        log.append(record).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Feeds a new snapshot to the service: the SLO watches (rollbacks, outcomes for the
    /// track record) and, in the process that owns the data dir, the calendar. Returns what
    /// happened, and whatever headless requests decided since the last call.
    pub(crate) fn observe(&mut self, snap: &Snapshot) -> Vec<Event> {
        let mut ended = Vec::new();
        let mut rollbacks = Vec::new();
        self.watches.retain_mut(|w| {
            let rolled_back = match w.watch.observe(snap) {
                Verdict::Watching => return true,
                Verdict::Healthy => false,
                Verdict::RollBack { change, auto, why } => {
                    rollbacks.push((change, auto, why));
                    true
                }
            };
            if let Some(e) = w.expect.take() {
                ended.extend(outcome::judge(&e, w.watch.samples(), rolled_back, snap.time).map(|o| (e, o)));
            }
            false
        });
        let recorded: Vec<String> =
            ended.into_iter().map(|(e, o)| self.record_outcome(&e.source, o)).collect();
        if !recorded.is_empty() {
            self.events.push(Event::Note(recorded.join("; ")));
        }
        for (change, auto, why) in rollbacks {
            self.rollback(change, auto, why, snap);
        }
        self.expire_tickets(snap.time);
        self.run_calendar(snap);
        self.take_events()
    }

    /// Proposals being shown to the operator: written to the proposals ledger in the data dir,
    /// so `twintop approve ID` and the others find them by the id on the card.
    pub(crate) fn offer(&mut self, proposals: &[Proposal]) {
        let Some(dir) = self.data_dir.clone() else { return };
        let now = Utc::now();
        let refresh = chrono::Duration::seconds(super::ledger::KEEP_SECS / 4);
        let new: Vec<Proposal> = proposals
            .iter()
            .filter(|p| p.action.is_some() && self.offered.get(&p.id).is_none_or(|t| now - *t > refresh))
            .cloned()
            .collect();
        if new.is_empty() {
            return;
        }
        match super::ledger::record(&dir, &new, self.shown_by, now) {
            Ok(()) => self.offered.extend(new.into_iter().map(|p| (p.id, now))),
            Err(e) => tracing::warn!("proposals not recorded for headless decisions: {e}"),
        }
        // Forget what is long gone, so the map stays as small as what is shown.
        self.offered.retain(|_, t| now - *t <= chrono::Duration::seconds(super::ledger::KEEP_SECS));
    }

    /// Events from decisions made since the last `observe` (headless requests).
    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// A rollback the SLO watch asks for: applied through its own flow when the operator
    /// enabled automatic rollback for the workload (the console's open confirmation, if any,
    /// stays as it is), else proposed.
    fn rollback(&mut self, change: Change, auto: bool, why: String, snap: &Snapshot) {
        let mut c = Candidate::new(super::flow::ROLLBACK_SOURCE, change, format!("rollback: {why}"));
        c.stated_confidence = None;
        let p = self.reassess(snap, c);
        if auto
            && self.owned_by.is_none()
            && let Some(pending) = Pending::of(&p)
        {
            let mut flow = Flow::new(self.flow.guardrails.clone(), &self.flow.context);
            flow.user = "twintop (automatic rollback)".into();
            if approve_in(&mut flow, self.cluster.as_ref(), pending, snap, &self.past, snap.time)
                == Outcome::AwaitingConfirmation
            {
                let out = self.confirm_flow(&mut flow, snap, snap.time);
                self.events.push(Event::Note(format!("automatic rollback: {}", describe(&out))));
                if matches!(out, Ok(Outcome::Applied(_))) {
                    self.events.push(Event::Decided(p.id.clone()));
                    return;
                }
            }
        }
        self.offer(std::slice::from_ref(&p));
        self.events.push(Event::Propose(Box::new(p)));
    }

    /// Appends an outcome to the record file; returns the line the view shows.
    fn record_outcome(&mut self, source: &str, o: record::Outcome) -> String {
        let line = format!(
            "track record of {}: {} — p99 observed {:.0} ms, predicted {:.0}, was {:.0}",
            source,
            if o.success { "as predicted" } else { "not as predicted" },
            o.observed_p99_ms,
            o.predicted_p99_ms,
            o.baseline_p99_ms
        );
        let Some(path) = self.record_path() else {
            self.record.push(source, o);
            return format!("{line} (not saved: no data dir)");
        };
        match record::append(&path, source, o) {
            Ok(r) => {
                self.record = r;
                line
            }
            Err(e) => format!("{line} (not saved: {e:#})"),
        }
    }

    pub(crate) fn watching(&self) -> impl Iterator<Item = &Watch> {
        self.watches.iter().map(|w| &w.watch)
    }

    fn auto_for(&self, change: &Change) -> bool {
        let target = change.target();
        let name = target.rsplit('/').next().unwrap_or(target);
        self.auto_rollback.iter().any(|a| a == target || a == name)
    }

    /// Applied actions from the audit log, for cooldowns and per-hour limits.
    pub(super) fn reload_past(&mut self) {
        let Some(path) = self.audit_path() else { return };
        let Ok(v) = audit::verify_file(&path) else { return };
        self.past = v
            .entries
            .iter()
            .filter(|e| e.record.outcome == "applied")
            .filter_map(|e| {
                let time = DateTime::parse_from_rfc3339(&e.record.time).ok()?.with_timezone(&Utc);
                let before = e.record.before.get("replicas").and_then(|v| v.as_i64());
                let after = e.record.after.get("replicas").and_then(|v| v.as_i64());
                let replica_delta = match (before, after) {
                    (Some(b), Some(a)) => a - b,
                    _ => 0,
                };
                // An eviction counts on the workload its pod belonged to (recorded in `before`).
                let target = match e.record.before.get("workload").and_then(|v| v.as_str()) {
                    Some(w) => w.to_string(),
                    None => e.record.target.clone(),
                };
                Some(PastAction { time, target, replica_delta })
            })
            .collect();
    }
}

/// `approve` on any flow: the guardrails, then the version pinned from the cluster.
pub(super) fn approve_in(
    flow: &mut Flow,
    cluster: Option<&Cluster>,
    p: Pending,
    snap: &Snapshot,
    past: &[PastAction],
    now: DateTime<Utc>,
) -> Outcome {
    let change = p.change.clone();
    let out = flow.approve(p, snap, past, now);
    if out != Outcome::AwaitingConfirmation {
        return out;
    }
    if let Some(cluster) = cluster {
        match cluster.0.version(&change) {
            Ok(v) => flow.pin_version(v),
            Err(e) => {
                flow.cancel();
                return Outcome::Failed(format!("could not read it from the cluster, nothing approved: {e}"));
            }
        }
    }
    out
}

/// An outcome in words, unescaped: `applied: …`, `blocked by rule cooldown: …`.
pub(crate) fn describe(out: &Result<Outcome, String>) -> String {
    match out {
        Ok(Outcome::Applied(msg)) => format!("applied: {msg}"),
        Ok(Outcome::Blocked(v)) => format!("blocked by {}", rules(v)),
        Ok(Outcome::DryRunFailed(e)) => format!("dry run failed, nothing applied: {e}"),
        Ok(Outcome::Conflict(e)) => format!("changed since you approved: re-check; nothing applied: {e}"),
        Ok(Outcome::Failed(e)) => format!("apply failed: {e}"),
        Ok(Outcome::Rejected) => "rejected".into(),
        Ok(Outcome::Cancelled) => "cancelled: nothing applied".into(),
        Ok(Outcome::AwaitingConfirmation) => "awaiting confirmation".into(),
        Ok(Outcome::None) => "nothing to do".into(),
        Err(e) => format!("nothing applied: {e}"),
    }
}

/// `rule cooldown: …; rule stale-feed: …`, unescaped.
pub(crate) fn rules(v: &[crate::guardrails::Violation]) -> String {
    v.iter().map(|x| format!("rule {}: {}", x.rule, x.message)).collect::<Vec<_>>().join("; ")
}

/// What an applied proposal is judged by: its predicted p99 against the target's p99 at
/// approval. None without a prediction or an observed p99 to compare with.
fn expectation(p: &Pending, workload: &str, snap: &Snapshot) -> Option<Expectation> {
    let w = snap.workload_index(workload)?;
    Some(Expectation {
        proposal: p.id.clone(),
        source: p.source.clone(),
        predicted_p99_ms: p.predicted_p99_ms?,
        baseline_p99_ms: snap.workload_status[w].p99_ms?,
        slo_p99_ms: snap.workloads[w].slo_p99_ms,
    })
}

/// Opens the audit log on first use: it holds a lock, so two processes cannot interleave.
fn open_log<'a>(
    slot: &'a mut Option<AuditLog>,
    dir: Option<&std::path::Path>,
) -> Result<&'a mut AuditLog, String> {
    if slot.is_none() {
        let dir = dir.ok_or("no data dir for the audit log")?;
        *slot = Some(AuditLog::open_in(dir).map_err(|e| e.to_string())?);
    }
    Ok(slot.as_mut().expect("opened above"))
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
