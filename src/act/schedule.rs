//! The calendar of scheduled actions (InfraLLM's "act before the predicted peak"). Approved
//! actions wait here for their time; the file in the data dir is replaced atomically on every
//! change so a crash leaves either the old or the new calendar, and each entry ends saying what
//! really happened: applied, not fired (and why), cancelled, rejected, or missed. An action whose
//! time passed while no twintop owned the data dir is marked missed and waits for the operator —
//! it never fires silently. The process that fires it is the operator service
//! (`operator_calendar.rs`).

use super::flow::Pending;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FILE_NAME: &str = "schedule.json";
/// How late an action may still fire on its own; later than this it is "missed".
pub(crate) const GRACE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    /// Applied at its time (the apply's message in `note`).
    Applied,
    /// Its time came and it was not applied: invalid then, blocked by a rule, refused by the
    /// cluster (why in `note`, and audited `not_fired` or with the flow's outcome).
    NotFired,
    Cancelled,
    /// Its time passed while nobody was there (or it was cut short by a crash): needs the
    /// operator's confirmation.
    Missed,
    /// Missed, then rejected by the operator.
    Rejected,
    /// Written by versions before `applied` and `not_fired`: handed to the flow at its time,
    /// its outcome in the audit log.
    Fired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduled {
    pub pending: Pending,
    pub at: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub status: Status,
    /// Who scheduled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// What became of it, in words (the apply's message, why it was not applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it left `waiting` (or `missed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    pub actions: Vec<Scheduled>,
}

impl Calendar {
    /// Loads the calendar; a missing file is an empty calendar, a malformed one an error
    /// naming the file (never silently replaced).
    pub fn load(path: &Path) -> anyhow::Result<Calendar> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!("{}: line {}, column {}: {e}", path.display(), e.line(), e.column())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Calendar::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// Writes to a temporary file (0600), fsyncs it, renames it over the calendar and fsyncs
    /// the dir (`paths::write_private`).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::paths::write_private(path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    pub fn add(&mut self, pending: Pending, at: DateTime<Utc>, now: DateTime<Utc>) {
        self.actions.push(Scheduled {
            pending,
            at,
            created: now,
            status: Status::Waiting,
            user: None,
            note: None,
            settled: None,
        });
    }

    #[cfg(test)]
    pub(crate) fn cancel(&mut self, id: &str) -> bool {
        self.settle(id, &[Status::Waiting], Status::Cancelled, None, None)
    }

    /// Moves the entries of `id` that are in one of `from` to `to`, with what happened; true
    /// when any moved.
    pub(crate) fn settle(
        &mut self,
        id: &str,
        from: &[Status],
        to: Status,
        note: Option<String>,
        at: Option<DateTime<Utc>>,
    ) -> bool {
        let mut any = false;
        for a in self.actions.iter_mut().filter(|a| a.pending.id == id && from.contains(&a.status)) {
            a.status = to;
            a.note = note.clone().or(a.note.take());
            a.settled = at;
            any = true;
        }
        any
    }

    /// Waiting actions more than `GRACE_SECS` late become missed; true when any did.
    pub(crate) fn mark_missed(&mut self, now: DateTime<Utc>) -> bool {
        let mut any = false;
        for a in self.actions.iter_mut().filter(|a| a.status == Status::Waiting && a.at <= now) {
            if (now - a.at).num_seconds() > GRACE_SECS {
                a.status = Status::Missed;
                a.note = Some(format!(
                    "its time passed by {} s while no twintop owned the data dir",
                    (now - a.at).num_seconds()
                ));
                any = true;
            }
        }
        any
    }

    /// Waiting actions whose time has come (call `mark_missed` first): to be re-validated,
    /// re-simulated and handed to the flow. They stay `waiting` until their outcome is audited
    /// and `settle`d, so a crash in between loses nothing (the audit log says what happened).
    pub(crate) fn due(&self, now: DateTime<Utc>) -> Vec<Scheduled> {
        self.actions.iter().filter(|a| a.status == Status::Waiting && a.at <= now).cloned().collect()
    }

    pub(crate) fn missed(&self) -> impl Iterator<Item = &Scheduled> {
        self.actions.iter().filter(|a| a.status == Status::Missed)
    }

    /// "in 4m 05s" / "3 s late", for the view.
    pub(crate) fn countdown(a: &Scheduled, now: DateTime<Utc>) -> String {
        let d = (a.at - now).num_seconds();
        if d < 0 {
            return format!("{} s late", -d);
        }
        match d {
            0..=59 => format!("in {d} s"),
            60..=3599 => format!("in {}m {:02}s", d / 60, d % 60),
            _ => format!("in {}h {:02}m", d / 3600, d % 3600 / 60),
        }
    }
}

/// The furthest ahead an action may be scheduled.
pub(crate) const MAX_AHEAD_DAYS: i64 = 30;

/// `+10m`, `+90s`, `+1h` from now, `HH:MM` (UTC; tomorrow when already past today), or an
/// RFC 3339 time (`2026-01-01T08:45:00Z`). None for anything else, a time in the past, or one
/// more than `MAX_AHEAD_DAYS` ahead.
pub fn parse_when(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let t = text.trim();
    let at = if let Some(rel) = t.strip_prefix('+') {
        let (num, unit) = rel.split_at(rel.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = num.parse().ok()?;
        let secs = match unit {
            "s" => n,
            "m" => n.checked_mul(60)?,
            "h" => n.checked_mul(3600)?,
            _ => return None,
        };
        now.checked_add_signed(chrono::Duration::try_seconds(secs)?)?
    } else if let Ok(time) = chrono::NaiveTime::parse_from_str(t, "%H:%M") {
        let today = now.date_naive().and_time(time).and_utc();
        if today > now { today } else { today + chrono::Duration::days(1) }
    } else {
        let at = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
        if at < now {
            return None;
        }
        at
    };
    (at - now <= chrono::Duration::days(MAX_AHEAD_DAYS)).then_some(at)
}

/// Temp files of saves cut short by a crash (`.schedule.json.<pid>.tmp` whose process is
/// gone): never read, only clutter. One whose process still runs may be another console's
/// save in progress and is left alone.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;
    use chrono::Duration;

    fn p(id: &str) -> Pending {
        Pending {
            id: id.into(),
            change: Change::Scale { workload: "boutique/frontend".into(), replicas: 12 },
            confidence: Some(87.0),
            source: "builtin:predictive".into(),
            llm_exchange_sha256: None,
            reason: "forecast peak at 08:45".into(),
            predicted_p99_ms: None,
        }
    }

    #[test]
    fn survives_restart_and_fires_on_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = Calendar::default();
        c.add(p("a"), now + Duration::minutes(5), now);
        c.add(p("b"), now + Duration::minutes(10), now);
        c.save(&path).unwrap();

        let mut c = Calendar::load(&path).unwrap();
        assert_eq!(Calendar::countdown(&c.actions[0], now), "in 5m 00s");
        assert!(c.due(now + Duration::minutes(4)).is_empty());
        let due = c.due(now + Duration::minutes(5) + Duration::seconds(10));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].pending.id, "a");
        assert!(c.settle("a", &[Status::Waiting], Status::Applied, Some("scaled".into()), Some(now)));
        assert!(c.due(now + Duration::minutes(6)).is_empty(), "fires once");
        assert!(c.cancel("b"));
        assert!(c.due(now + Duration::minutes(11)).is_empty(), "cancelled never fires");
        c.save(&path).unwrap();
        let saved = std::fs::read_to_string(&path).unwrap();
        assert!(saved.contains("\"applied\"") && saved.contains("\"note\": \"scaled\""), "{saved}");
    }

    #[test]
    fn a_time_missed_while_away_waits_for_the_operator() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = Calendar::default();
        c.add(p("a"), now, now);
        assert!(c.mark_missed(now + Duration::hours(2)));
        assert!(c.due(now + Duration::hours(2)).is_empty());
        assert_eq!(c.missed().count(), 1);
    }

    #[test]
    fn malformed_calendar_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{\"actions\": [oops").unwrap();
        let e = Calendar::load(&path).unwrap_err().to_string();
        assert!(e.contains("schedule.json") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_save_sweeps_temp_files_of_crashed_saves_only() {
        let dir = tempfile::tempdir().unwrap();
        let orphan = dir.path().join(format!(".{FILE_NAME}.999999999.tmp"));
        let live = dir.path().join(format!(".{FILE_NAME}.1.tmp")); // pid 1 always runs
        std::fs::write(&orphan, "{").unwrap();
        std::fs::write(&live, "{").unwrap();
        Calendar::default().save(&dir.path().join(FILE_NAME)).unwrap();
        assert!(!orphan.exists(), "a crashed save's temp file is removed");
        assert!(live.exists(), "a running process's save in progress is left alone");
        assert!(Calendar::load(&dir.path().join(FILE_NAME)).unwrap().actions.is_empty());
    }

    #[test]
    fn times_are_bounded_and_never_overflow() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(parse_when("+99999999999999999h", now), None);
        assert_eq!(parse_when("+31d", now), None);
        assert_eq!(parse_when(&format!("+{}h", 24 * 31), now), None, "beyond {MAX_AHEAD_DAYS} days");
        assert_eq!(parse_when("2023-11-14T23:00:00Z", now).unwrap().timestamp(), 1_700_002_800);
        assert_eq!(parse_when("2020-01-01T00:00:00Z", now), None, "in the past");
    }

    #[test]
    fn a_calendar_written_before_applied_and_not_fired_still_reads() {
        let old = r#"{"actions":[{"pending":{"id":"a","change":{"kind":"scale","workload":"shop/api","replicas":3},"confidence":null,"source":"whatif","llm_exchange_sha256":null,"reason":"r"},"at":"2026-01-01T00:00:00Z","created":"2026-01-01T00:00:00Z","status":"fired"}]}"#;
        let c: Calendar = serde_json::from_str(old).unwrap();
        assert_eq!(c.actions[0].status, Status::Fired);
    }
}
