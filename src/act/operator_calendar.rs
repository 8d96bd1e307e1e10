//! The operator service's calendar: putting an approved action on it (never in read-only mode),
//! cancelling one, and — in the process that owns the data dir — firing each at its time:
//! re-validated and re-predicted on the twin as it is then, through the flow, audited. An entry
//! stays `waiting` until its outcome is in the audit log, so a process killed while firing
//! loses nothing: the next owner reads the audit log and settles the entry with what happened
//! (or, cut short between approval and apply, hands it to the operator as missed). Missed
//! entries come back as proposals that need the operator.

use super::flow::{Flow, Outcome, Pending};
use super::operator::{Event, Operator, approve_in, describe, rules};
use super::schedule::{self, Calendar, Scheduled, Status};
use crate::advise::{Candidate, Status as ProposalStatus};
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::PathBuf;

/// What the audit log says became of a scheduled action since it was scheduled.
enum Fate {
    /// Settled: the status and why.
    Done(Status, String),
    /// Approved, then nothing: the process stopped between the approval and the apply.
    Interrupted,
}

impl Operator {
    fn calendar_path(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(schedule::FILE_NAME))
    }

    /// Reads the calendar file again (another process may own it); an unreadable one is kept
    /// as an error and never overwritten.
    pub(super) fn reload_calendar(&mut self) {
        let Some(path) = self.calendar_path() else { return };
        match Calendar::load(&path) {
            Ok(c) => {
                self.calendar = c;
                self.calendar_error = None;
            }
            Err(e) => self.calendar_error = Some(e.to_string()),
        }
    }

    fn save_calendar(&mut self) -> Result<(), String> {
        let Some(path) = self.calendar_path() else { return Err("no data dir for the calendar".into()) };
        self.calendar.save(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn check_calendar(&self) -> Result<(), String> {
        self.check_owner()?;
        match &self.calendar_error {
            Some(_) => Err("the calendar file is unreadable; not overwriting it".into()),
            None => Ok(()),
        }
    }

    /// Puts an action on the calendar (audited `scheduled`, then saved atomically). Refused in
    /// read-only mode, which applies nothing now and so schedules nothing for later.
    pub fn schedule(&mut self, p: Pending, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), String> {
        self.check_calendar()?;
        let readonly = self.flow.guardrails.readonly_in(&self.flow.context);
        if !readonly.is_empty() {
            return Err(rules(&readonly));
        }
        // Audited first, as every decision: a crash between the two leaves a record of an
        // intent, never an action nobody recorded.
        let after = serde_json::to_value(&p.change).unwrap_or_default();
        let flow = self.flow_copy();
        self.audit_note(&flow, &p, "scheduled", format!("at {}", at.to_rfc3339()), after, now)?;
        let user = flow.user.clone();
        self.calendar.add(p, at, now);
        if let Some(a) = self.calendar.actions.last_mut() {
            a.user = Some(user);
        }
        self.save_calendar()
    }

    /// A copy of the console's flow settings (guardrails, context, user) with nothing open.
    pub(super) fn flow_copy(&self) -> Flow {
        let mut f = Flow::new(self.flow.guardrails.clone(), &self.flow.context);
        f.user = self.flow.user.clone();
        f
    }

    /// Cancels the earliest waiting calendar entry (audited `cancelled`, then saved); returns
    /// what was cancelled, or None when nothing waits.
    pub(crate) fn cancel_next_scheduled(&mut self, now: DateTime<Utc>) -> Result<Option<String>, String> {
        self.check_calendar()?;
        let Some(next) = self
            .calendar
            .actions
            .iter()
            .filter(|a| a.status == Status::Waiting)
            .min_by_key(|a| a.at)
            .cloned()
        else {
            return Ok(None);
        };
        let p = &next.pending;
        let reason = format!("scheduled for {} and cancelled by the operator", next.at.to_rfc3339());
        let flow = self.flow_copy();
        self.audit_note(&flow, p, "cancelled", reason.clone(), serde_json::Value::Null, now)?;
        self.calendar.settle(&p.id, &[Status::Waiting], Status::Cancelled, Some(reason), Some(now));
        self.save_calendar()?;
        Ok(Some(format!("{} (was due {})", p.change, next.at.format("%H:%M:%S UTC"))))
    }

    /// A missed entry the operator dealt with (approved and applied, or rejected).
    pub(super) fn settle_missed(&mut self, id: &str, to: Status, note: &str) {
        if self.calendar.settle(id, &[Status::Missed], to, Some(note.to_string()), None)
            && let Err(e) = self.save_calendar()
        {
            self.events.push(Event::Note(format!("calendar not saved: {e}")));
        }
    }

    /// The calendar's turn on a new snapshot: late entries become missed, due ones fire (in the
    /// owner only), missed ones are proposed to the operator once.
    pub(super) fn run_calendar(&mut self, snap: &Snapshot) {
        self.reload_calendar();
        if self.owned_by.is_some() || self.calendar_error.is_some() {
            return;
        }
        let now = snap.time;
        if self.calendar.mark_missed(now)
            && let Err(e) = self.save_calendar()
        {
            self.events.push(Event::Note(format!("calendar not saved: {e}")));
        }
        let due = self.calendar.due(now);
        let fates = if due.is_empty() { HashMap::new() } else { self.fates() };
        for a in due {
            let (status, note) = match fates.get(&a.pending.id) {
                Some(Fate::Done(status, note)) => (*status, format!("{note} (found in the audit log)")),
                Some(Fate::Interrupted) => (
                    Status::Missed,
                    "cut short between its approval and the apply when twintop stopped: check the cluster, then approve or reject it".into(),
                ),
                None => self.fire(&a, snap),
            };
            self.calendar.settle(&a.pending.id, &[Status::Waiting], status, Some(note.clone()), Some(now));
            if let Err(e) = self.save_calendar() {
                self.events.push(Event::Note(format!("calendar not saved: {e}")));
            }
            let what = a.pending.change.to_string();
            self.events.push(Event::Note(match status {
                Status::Applied => format!("scheduled {what}: {note}"),
                Status::Missed => format!("scheduled {what}: {note}"),
                _ => format!("scheduled {what} not applied: {note}"),
            }));
            if status != Status::Missed {
                self.events.push(Event::Decided(a.pending.id.clone()));
            }
        }
        let missed: Vec<Scheduled> = self
            .calendar
            .missed()
            .filter(|a| !self.missed_proposed.contains(&a.pending.id))
            .cloned()
            .collect();
        for a in missed {
            let mut c = Candidate::new(
                &a.pending.source,
                a.pending.change.clone(),
                format!("missed: was scheduled for {}Z; {}", a.at.format("%H:%M"), a.pending.reason),
            );
            c.exchange = a.pending.llm_exchange_sha256.clone();
            let mut p = self.reassess(snap, c);
            // Keep the calendar's id so approving or rejecting it settles the entry.
            p.id = a.pending.id.clone();
            self.missed_proposed.insert(p.id.clone());
            self.offer(std::slice::from_ref(&p));
            self.events.push(Event::Propose(Box::new(p)));
        }
    }

    /// Fires one due entry: re-assessed on `snap`, then approved and confirmed in a flow of its
    /// own (the console's open confirmation, if any, stays as it is). Returns its new status and
    /// why; every outcome is audited before it returns.
    fn fire(&mut self, a: &Scheduled, snap: &Snapshot) -> (Status, String) {
        let now = snap.time;
        let mut flow = self.flow_copy();
        if let Some(user) = &a.user {
            flow.user = user.clone();
        }
        let p = self.reassess(snap, a.pending.candidate());
        let why = if p.status == ProposalStatus::Rejected {
            format!("invalid now: {}", p.rejection.clone().unwrap_or_default())
        } else {
            // The calendar's id, so the audit log ties the outcome to the entry.
            let pending =
                Pending { id: a.pending.id.clone(), ..Pending::of(&p).unwrap_or_else(|| a.pending.clone()) };
            match approve_in(&mut flow, self.cluster.as_ref(), pending, snap, &self.past, now) {
                Outcome::AwaitingConfirmation => {
                    // The flow audits every outcome from here on.
                    let out = self.confirm_flow(&mut flow, snap, now);
                    return match out {
                        Ok(Outcome::Applied(msg)) => (Status::Applied, format!("applied: {msg}")),
                        other => (Status::NotFired, describe(&other)),
                    };
                }
                Outcome::Blocked(v) => format!("blocked by {}", rules(&v)),
                Outcome::Failed(e) => e,
                other => describe(&Ok(other)),
            }
        };
        let audited =
            self.audit_note(&flow, &a.pending, "not_fired", why.clone(), serde_json::Value::Null, now);
        match audited {
            Ok(()) => (Status::NotFired, why),
            Err(e) => (Status::NotFired, format!("{why} (and the audit log failed: {e})")),
        }
    }

    /// For each proposal id scheduled in the audit log, what became of it after its latest
    /// `scheduled` entry.
    fn fates(&self) -> HashMap<String, Fate> {
        let mut out = HashMap::new();
        let Some(path) = self.audit_path() else { return out };
        let Ok(v) = super::audit::verify_file(&path) else { return out };
        let mut open: HashMap<String, bool> = HashMap::new();
        for e in &v.entries {
            let Some(id) = &e.record.proposal_id else { continue };
            let reason = e.record.reason.clone().unwrap_or_default();
            match e.record.outcome.as_str() {
                "scheduled" => {
                    out.remove(id);
                    open.insert(id.clone(), false);
                }
                "approved" if open.contains_key(id) => {
                    open.insert(id.clone(), true);
                    out.insert(id.clone(), Fate::Interrupted);
                }
                outcome if open.contains_key(id) => {
                    let status = match outcome {
                        "applied" => Status::Applied,
                        "cancelled" => Status::Cancelled,
                        "rejected" => Status::Rejected,
                        _ => Status::NotFired,
                    };
                    out.insert(id.clone(), Fate::Done(status, format!("{outcome}: {reason}")));
                    open.remove(id);
                }
                _ => {}
            }
        }
        out
    }
}
