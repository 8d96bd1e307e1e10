//! The advisors' track record: predicted vs observed effect of past approved proposals, kept
//! as a small JSON file in the data dir. It feeds the confidence's `track_record` part; an
//! empty record gives the neutral prior.

use anyhow::Context;
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
    /// The SLO held (or improved) as predicted.
    pub success: bool,
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

    pub fn push(&mut self, source: &str, o: Outcome) {
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

    /// Writes atomically (temp file, then rename).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    }
}

/// twintop's data dir: `$TWINTOP_DATA_DIR` if set, else the platform's (e.g.
/// ~/.local/share/twintop).
pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("TWINTOP_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "twintop")
        .map(|p| p.data_dir().to_path_buf())
        .context("no home directory to keep twintop's data in (set TWINTOP_DATA_DIR)")
}

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
}
