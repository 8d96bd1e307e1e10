//! The console's hands on the cluster: it drives `act::flow::Flow` (approve → confirm →
//! audited dry run and apply; reject), keeps the audit log open in the data dir, reads past
//! actions back from it for the guardrails' cooldowns and rate limits, and watches the SLO of
//! each target after a change so a rollback comes back as a proposal. When a watch ends,
//! healthy or breached, the proposal's outcome (predicted vs observed p99) is appended to the
//! advisors' track record in the data dir.

use crate::act::audit::{self, AuditLog};
use crate::act::cluster::ClusterControl;
use crate::act::flow::{Flow, Outcome, Pending, Stage, current_state};
use crate::act::schedule::{self, Calendar, Scheduled};
use crate::act::watch::{Verdict, Watch};
use crate::advise::TrackRecord;
use crate::advise::outcome::{self, Expectation};
use crate::advise::record;
use crate::change::Change;
use crate::guardrails::{Guardrails, PastAction};
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;

/// How long the SLO of a changed target is watched.
pub const WATCH_WINDOW_SECS: i64 = 300;

/// The cluster a console drives, as the source handle gives it.
#[derive(Clone)]
pub struct Cluster(pub Arc<dyn ClusterControl>);

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cluster")
    }
}

/// What the operator side of the console starts with.
#[derive(Debug, Clone, Default)]
pub struct OperatorOptions {
    /// None: a still picture with no cluster; nothing can be applied.
    pub cluster: Option<Cluster>,
    pub guardrails: Guardrails,
    /// Where the audit log lives (`paths::data_dir()` in the console).
    pub data_dir: Option<PathBuf>,
    /// Workload keys (or names) whose rollback is applied without asking.
    pub auto_rollback: Vec<String>,
}

pub struct Operator {
    pub flow: Flow,
    cluster: Option<Cluster>,
    data_dir: Option<PathBuf>,
    audit: Option<AuditLog>,
    past: Vec<PastAction>,
    watches: Vec<Watched>,
    auto_rollback: Vec<String>,
    pub calendar: Calendar,
    /// Why the calendar could not be read or saved, for the view.
    pub calendar_error: Option<String>,
    /// The advisors' track record as last read or written (for re-assessed proposals).
    pub record: TrackRecord,
}

/// A watch, with what the applied proposal predicted when it has a prediction to judge.
struct Watched {
    watch: Watch,
    expect: Option<Expectation>,
}

/// What feeding a snapshot to the watches produced.
#[derive(Debug, Default, PartialEq)]
pub struct Observed {
    /// Rollbacks the watches ask for: (change, apply automatically, why).
    pub rollbacks: Vec<(Change, bool, String)>,
    /// One line per outcome recorded (or not saved), for the view's message line.
    pub recorded: Vec<String>,
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
            record: TrackRecord::default(),
        };
        // An unreadable record reads as none here; appending to it reports the error.
        if let Some(r) = op.record_path().and_then(|p| TrackRecord::load(&p).ok()) {
            op.record = r;
        }
        op.reload_past();
        if let Some(path) = op.calendar_path() {
            match Calendar::load(&path) {
                Ok(c) => op.calendar = c,
                Err(e) => op.calendar_error = Some(e.to_string()),
            }
        }
        op
    }

    pub fn record_path(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().map(record::record_path)
    }

    fn calendar_path(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(schedule::FILE_NAME))
    }

    fn save_calendar(&mut self) -> Result<(), String> {
        let Some(path) = self.calendar_path() else { return Err("no data dir for the calendar".into()) };
        self.calendar.save(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Puts an action on the calendar (audited `scheduled`, then saved atomically).
    pub fn schedule(&mut self, p: Pending, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
        if self.calendar_error.is_some() {
            return Err("the calendar file is unreadable; not overwriting it".into());
        }
        // Audited first, as every decision: a crash between the two leaves a record of an
        // intent, never an action nobody recorded.
        let after = serde_json::to_value(&p.change).unwrap_or_default();
        self.audit_calendar(&p, "scheduled", format!("at {}", at.to_rfc3339()), after, now)?;
        self.calendar.add(p, at, now);
        self.save_calendar()
    }

    /// Cancels the earliest waiting calendar entry (audited `cancelled`, then saved); returns
    /// what was cancelled, or None when nothing waits.
    pub fn cancel_next_scheduled(&mut self, now: DateTime<Utc>) -> Result<Option<String>, String> {
        if self.calendar_error.is_some() {
            return Err("the calendar file is unreadable; not overwriting it".into());
        }
        let Some(next) = self
            .calendar
            .actions
            .iter()
            .filter(|a| a.status == schedule::Status::Waiting)
            .min_by_key(|a| a.at)
            .cloned()
        else {
            return Ok(None);
        };
        let p = &next.pending;
        let reason = format!("scheduled for {} and cancelled by the operator", next.at.to_rfc3339());
        self.audit_calendar(p, "cancelled", reason, serde_json::Value::Null, now)?;
        self.calendar.cancel(&p.id);
        self.save_calendar()?;
        Ok(Some(format!("{} (was due {})", p.change, next.at.format("%H:%M:%S UTC"))))
    }

    /// A scheduled action that came due but was not applied (invalid now, blocked by a rule, or
    /// refused by the cluster): audited `not_fired` with why, so the calendar's promise has an
    /// ending in the log.
    pub fn record_not_fired(&mut self, p: &Pending, why: &str, now: DateTime<Utc>) -> Result<(), String> {
        self.audit_calendar(p, "not_fired", why.to_string(), serde_json::Value::Null, now)
    }

    /// One audit line about a calendar entry (no prior state to record).
    fn audit_calendar(
        &mut self,
        p: &Pending,
        outcome: &str,
        reason: String,
        after: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let record = self.flow.record(p, outcome, Some(reason), serde_json::Value::Null, after, now);
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        log.append(record).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Actions whose time has come (marked fired and saved); missed ones stay for the operator.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> (Vec<Scheduled>, Option<String>) {
        if self.calendar_error.is_some() {
            return (Vec::new(), None);
        }
        let before = self.calendar.clone();
        let due = self.calendar.take_due(now);
        let err = if self.calendar != before { self.save_calendar().err() } else { None };
        (due, err)
    }

    /// A missed action the operator dealt with (approved into the flow or rejected).
    pub fn settle_missed(&mut self, id: &str) {
        let mut changed = false;
        for a in self
            .calendar
            .actions
            .iter_mut()
            .filter(|a| a.pending.id == id && a.status == schedule::Status::Missed)
        {
            a.status = schedule::Status::Fired;
            changed = true;
        }
        if changed {
            let _ = self.save_calendar();
        }
    }

    pub fn audit_path(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(audit::FILE_NAME))
    }

    pub fn confirming(&self) -> Option<(&Pending, &str)> {
        match &self.flow.stage {
            Stage::Confirming { pending, diff, .. } => Some((pending, diff.as_str())),
            Stage::Idle => None,
        }
    }

    /// `a`: the guardrails, then the target's resourceVersion read from the cluster, which the
    /// dry run and apply will carry (a change in between is then a conflict, not overwritten).
    pub fn approve(&mut self, p: Pending, snap: &Snapshot, now: DateTime<Utc>) -> Outcome {
        let change = p.change.clone();
        let out = self.flow.approve(p, snap, &self.past, now);
        if out != Outcome::AwaitingConfirmation {
            return out;
        }
        if let Some(cluster) = &self.cluster {
            match cluster.0.version(&change) {
                Ok(v) => self.flow.pin_version(v),
                Err(e) => {
                    self.flow.cancel();
                    return Outcome::Failed(format!(
                        "could not read it from the cluster, nothing approved: {e}"
                    ));
                }
            }
        }
        out
    }

    pub fn cancel(&mut self) -> Outcome {
        self.flow.cancel()
    }

    /// `y`: the audited dry run and apply. On success the target's SLO is watched.
    pub fn confirm(&mut self, snap: &Snapshot, now: DateTime<Utc>) -> Result<Outcome, String> {
        let Some((pending, _)) = self.confirming() else { return Ok(Outcome::None) };
        let pending = pending.clone();
        let change = pending.change.clone();
        let before = current_state(&change, snap);
        let Some(cluster) = self.cluster.clone() else {
            self.flow.cancel();
            return Err("this source has no cluster to change".into());
        };
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        let out =
            self.flow.confirm(snap, &self.past, now, cluster.0.as_ref(), log).map_err(|e| e.to_string());
        self.reload_past();
        if let Ok(Outcome::Applied(_)) = &out {
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

    pub fn reject(&mut self, p: &Pending, reason: &str, now: DateTime<Utc>) -> Result<Outcome, String> {
        let log = open_log(&mut self.audit, self.data_dir.as_deref())?;
        let out = self.flow.reject(p, reason, log, now).map_err(|e| e.to_string());
        self.reload_past();
        out
    }

    /// Feeds a new snapshot to the SLO watches: returns the rollbacks they ask for, and
    /// records the outcome of each watch that ended.
    pub fn observe(&mut self, snap: &Snapshot) -> Observed {
        let mut out = Observed::default();
        let mut ended = Vec::new();
        self.watches.retain_mut(|w| {
            let rolled_back = match w.watch.observe(snap) {
                Verdict::Watching => return true,
                Verdict::Healthy => false,
                Verdict::RollBack { change, auto, why } => {
                    out.rollbacks.push((change, auto, why));
                    true
                }
            };
            if let Some(e) = w.expect.take() {
                ended.extend(outcome::judge(&e, w.watch.samples(), rolled_back, snap.time).map(|o| (e, o)));
            }
            false
        });
        for (e, o) in ended {
            out.recorded.push(self.record_outcome(&e.source, o));
        }
        out
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

    pub fn watching(&self) -> impl Iterator<Item = &Watch> {
        self.watches.iter().map(|w| &w.watch)
    }

    fn auto_for(&self, change: &Change) -> bool {
        let target = change.target();
        let name = target.rsplit('/').next().unwrap_or(target);
        self.auto_rollback.iter().any(|a| a == target || a == name)
    }

    /// Applied actions from the audit log, for cooldowns and per-hour limits.
    fn reload_past(&mut self) {
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

/// Opens the audit log on first use: it holds a lock, so two consoles cannot interleave.
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
