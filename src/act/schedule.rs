//! The calendar of scheduled actions (InfraLLM's "act before the predicted peak"). Approved
//! actions wait here for their time; the file in the data dir is replaced atomically on every
//! change so a crash leaves either the old or the new calendar. An action whose time passed
//! while twintop was not running is marked missed and waits for the operator — it never
//! fires silently.

use super::flow::Pending;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FILE_NAME: &str = "schedule.json";
/// How late an action may still fire on its own; later than this it is "missed".
pub const GRACE_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Waiting,
    /// Handed to the flow at its time.
    Fired,
    Cancelled,
    /// Its time passed while nobody was there: needs the operator's confirmation.
    Missed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduled {
    pub pending: Pending,
    pub at: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub status: Status,
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
        self.actions.push(Scheduled { pending, at, created: now, status: Status::Waiting });
    }

    pub fn cancel(&mut self, id: &str) -> bool {
        let mut any = false;
        for a in self.actions.iter_mut().filter(|a| a.pending.id == id && a.status == Status::Waiting) {
            a.status = Status::Cancelled;
            any = true;
        }
        any
    }

    /// Waiting actions whose time has come: returned to be re-validated, re-simulated and
    /// handed to the flow (marked fired). Those more than `GRACE_SECS` late become missed.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<Scheduled> {
        let mut due = Vec::new();
        for a in self.actions.iter_mut().filter(|a| a.status == Status::Waiting && a.at <= now) {
            if (now - a.at).num_seconds() > GRACE_SECS {
                a.status = Status::Missed;
            } else {
                a.status = Status::Fired;
                due.push(a.clone());
            }
        }
        due
    }

    pub fn missed(&self) -> impl Iterator<Item = &Scheduled> {
        self.actions.iter().filter(|a| a.status == Status::Missed)
    }

    /// "in 4m 05s" / "3 s late", for the view.
    pub fn countdown(a: &Scheduled, now: DateTime<Utc>) -> String {
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
        assert!(c.take_due(now + Duration::minutes(4)).is_empty());
        let due = c.take_due(now + Duration::minutes(5) + Duration::seconds(10));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].pending.id, "a");
        assert!(c.take_due(now + Duration::minutes(6)).is_empty(), "fires once");
        assert!(c.cancel("b"));
        assert!(c.take_due(now + Duration::minutes(11)).is_empty(), "cancelled never fires");
    }

    #[test]
    fn a_time_missed_while_away_waits_for_the_operator() {
        let now = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut c = Calendar::default();
        c.add(p("a"), now, now);
        let due = c.take_due(now + Duration::hours(2));
        assert!(due.is_empty());
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
}
