//! The advisors' track record: predicted vs observed effect of past approved proposals, kept
//! as a small JSON file in the data dir. The console appends an `Outcome` (judged by
//! `advise::outcome`) when an applied proposal's watch window ends; `twintop advise` and the
//! console's advisors read it into the confidence's `track_record` part. An empty record gives
//! the neutral prior.

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many outcomes per advisor are kept.
const KEEP: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub proposal: String,
    pub predicted_p99_ms: f64,
    pub observed_p99_ms: f64,
    pub baseline_p99_ms: f64,
    /// The SLO held and p99 improved as predicted (`advise::outcome::judge` says exactly how).
    pub success: bool,
    /// p99 samples the observation is the median of.
    #[serde(default)]
    pub samples: usize,
    /// The watch ended in a rollback (a sustained SLO breach).
    #[serde(default)]
    pub rolled_back: bool,
    /// When the watch window ended.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    /// By advisor source ("builtin:reactive", "llm:<model>"...).
    pub sources: BTreeMap<String, Vec<Outcome>>,
}

impl TrackRecord {
    /// Posterior mean success rate under a uniform prior: (s+1)/(n+2); 0.5 with no record.
    pub fn success_rate(&self, source: &str) -> f64 {
        let v = self.sources.get(source).map(Vec::as_slice).unwrap_or(&[]);
        let s = v.iter().filter(|o| o.success).count() as f64;
        (s + 1.0) / (v.len() as f64 + 2.0)
    }

    pub(crate) fn push(&mut self, source: &str, o: Outcome) {
        let v = self.sources.entry(source.to_string()).or_default();
        v.push(o);
        if v.len() > KEEP {
            v.drain(..v.len() - KEEP);
        }
    }

    /// Reads the record; a missing file is an empty record, a corrupt one an error naming it.
    pub fn load(path: &Path) -> anyhow::Result<TrackRecord> {
        match std::fs::read_to_string(path) {
            Ok(s) => serde_json::from_str(&s)
                .with_context(|| format!("{}: not a twintop advisor record", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TrackRecord::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes atomically (temp file, then rename), 0600 (`paths::write_private`).
    pub(crate) fn save(&self, path: &Path) -> anyhow::Result<()> {
        crate::paths::write_private(path, &serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Adds one outcome to the record file (read, add, written atomically) and returns the record
/// as now saved. A corrupt file is an error and is left as it is, never overwritten.
pub(crate) fn append(path: &Path, source: &str, o: Outcome) -> anyhow::Result<TrackRecord> {
    let mut r = TrackRecord::load(path)?;
    r.push(source, o);
    r.save(path)?;
    Ok(r)
}

/// The record file in twintop's data dir (`paths::data_dir()`, the same dir as the audit log,
/// so the console and `twintop advise` read and write the same file).
pub fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join("advisor-record.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(success: bool) -> Outcome {
        Outcome {
            proposal: "x".into(),
            predicted_p99_ms: 100.0,
            observed_p99_ms: 120.0,
            baseline_p99_ms: 300.0,
            success,
            samples: 10,
            rolled_back: false,
            at: None,
        }
    }

    #[test]
    fn empty_record_is_neutral_and_outcomes_move_it() {
        let mut r = TrackRecord::default();
        assert_eq!(r.success_rate("builtin:reactive"), 0.5);
        for _ in 0..8 {
            r.push("builtin:reactive", outcome(true));
        }
        assert_eq!(r.success_rate("builtin:reactive"), 0.9);
        assert_eq!(r.success_rate("llm:x"), 0.5);
    }

    #[test]
    fn round_trips_through_the_data_dir_and_names_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        assert_eq!(TrackRecord::load(&path).unwrap(), TrackRecord::default());
        let mut r = TrackRecord::default();
        r.push("llm:m", outcome(false));
        r.save(&path).unwrap();
        assert_eq!(TrackRecord::load(&path).unwrap(), r);
        std::fs::write(&path, "{not json").unwrap();
        let err = format!("{:#}", TrackRecord::load(&path).unwrap_err());
        assert!(err.contains("advisor-record.json"), "{err}");
    }

    #[test]
    fn append_adds_to_what_is_on_disk_and_never_overwrites_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        append(&path, "builtin:reactive", outcome(true)).unwrap();
        let r = append(&path, "builtin:reactive", outcome(false)).unwrap();
        assert_eq!(TrackRecord::load(&path).unwrap(), r);
        assert_eq!(r.sources["builtin:reactive"].len(), 2);
        assert!(!path.with_extension("json.tmp").exists(), "no temp file left behind");
        std::fs::write(&path, "{not json").unwrap();
        assert!(append(&path, "builtin:reactive", outcome(true)).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[test]
    fn a_record_written_before_the_extra_fields_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = record_path(dir.path());
        let old = r#"{"sources":{"llm:m":[{"proposal":"x","predicted_p99_ms":1.0,"observed_p99_ms":2.0,"baseline_p99_ms":3.0,"success":true}]}}"#;
        std::fs::write(&path, old).unwrap();
        assert_eq!(TrackRecord::load(&path).unwrap().success_rate("llm:m"), 2.0 / 3.0);
    }
}
