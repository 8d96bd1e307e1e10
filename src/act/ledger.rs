//! The proposals twintop has shown, by id, so a decision can be made on one later and
//! elsewhere: `twintop advise` prints an id, `twintop approve ID` finds the change it named
//! here. `proposals.jsonl` in the data dir: one line per proposal shown (by `advise`, the
//! console, the operator service's rollbacks and missed actions), appended under a file lock
//! by any process, kept an hour. It holds what was proposed, never a decision: the audit log
//! does that, and an approval re-validates the change on the twin as it is then.

use super::flow::Pending;
use crate::advise::{Proposal, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub(crate) const FILE_NAME: &str = "proposals.jsonl";
/// How long a shown proposal can be decided on by its id.
pub(crate) const KEEP_SECS: i64 = 3600;
/// Past this size the file is rewritten without the entries older than `KEEP_SECS`.
const PRUNE_BYTES: u64 = 1 << 20;

/// One proposal as it was shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Shown {
    /// Wall-clock time it was shown.
    pub seen: DateTime<Utc>,
    /// Who showed it: `advise`, `console`, `operator`.
    pub by: String,
    pub pending: Pending,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
}

pub(crate) fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Appends the proposals that have an action. Errors name the file.
pub fn record(data_dir: &Path, proposals: &[Proposal], by: &str, now: DateTime<Utc>) -> Result<(), String> {
    let lines: Vec<String> = proposals
        .iter()
        .filter_map(|p| {
            let shown = Shown {
                seen: now,
                by: by.to_string(),
                pending: Pending::of(p)?,
                status: p.status,
                rejection: p.rejection.clone(),
            };
            serde_json::to_string(&shown).ok()
        })
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let path = path(data_dir);
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    // 0600 in a 0700 directory, as every file twintop keeps (`paths`).
    let mut f = crate::paths::open_private_append(&path).map_err(err)?;
    f.lock().map_err(err)?;
    if f.metadata().map(|m| m.len()).unwrap_or(0) > PRUNE_BYTES {
        prune(&path, now).map_err(err)?;
        f = crate::paths::open_private_append(&path).map_err(err)?;
        f.lock().map_err(err)?;
    }
    // One write per batch: a crash tears at most the last line, which `find` skips; a torn
    // line left by a crash gets its newline, so this batch starts a line of its own.
    let mut text = lines.join("\n");
    text.push('\n');
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut last = [b'\n'];
    if len > 0 {
        use std::os::unix::fs::FileExt;
        f.read_at(&mut last, len - 1).map_err(err)?;
    }
    if last[0] != b'\n' {
        text.insert(0, '\n');
    }
    f.write_all(text.as_bytes()).map_err(err)?;
    Ok(())
}

/// Rewrites the file with only the entries still kept (the caller holds its lock).
fn prune(path: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    let kept: Vec<String> = read(path)?
        .into_iter()
        .filter(|s| (now - s.seen).num_seconds() <= KEEP_SECS)
        .filter_map(|s| serde_json::to_string(&s).ok())
        .collect();
    let tmp = path.with_extension(format!("jsonl.{}.tmp", std::process::id()));
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    crate::paths::private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?
        .write_all(text.as_bytes())?;
    std::fs::rename(&tmp, path)
}

fn read(path: &Path) -> std::io::Result<Vec<Shown>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    // A torn or foreign line is skipped: the file only ever names what was proposed.
    Ok(std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Shown>(&l).ok())
        .collect())
}

/// The latest showing of proposal `id` within the last `KEEP_SECS`, or why there is none.
pub(crate) fn find(data_dir: &Path, id: &str, now: DateTime<Utc>) -> Result<Shown, String> {
    let path = path(data_dir);
    let all = read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(latest) = all.into_iter().filter(|s| s.pending.id == id).max_by_key(|s| s.seen) else {
        return Err(format!(
            "no proposal {id} in {}: run `twintop advise` (or open the console) to see the proposals and their ids",
            path.display()
        ));
    };
    let age = (now - latest.seen).num_seconds();
    if age > KEEP_SECS {
        return Err(format!(
            "proposal {id} was last shown {} min ago (ids are kept {} min): run `twintop advise` again",
            age / 60,
            KEEP_SECS / 60
        ));
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::{Confidence, Proposal};
    use crate::change::Change;

    fn proposal(id: &str, status: Status) -> Proposal {
        Proposal {
            id: id.into(),
            source: "builtin:reactive".into(),
            target: "shop/api".into(),
            action: Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }),
            when: None,
            status,
            rejection: (status == Status::Rejected).then(|| "already has 4 replicas".into()),
            reason: "p99 over SLO".into(),
            predicted: None,
            confidence: Confidence { score: 40, parts: Default::default() },
            exchange: None,
            motive: None,
            endorsements: Vec::new(),
        }
    }

    #[test]
    fn the_file_is_owner_only_in_an_owner_only_dir() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        record(&dir, &[proposal("a", Status::Valid)], "advise", t0).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&path(&dir))), (0o700, 0o600));
    }

    #[test]
    fn an_id_is_found_for_an_hour_then_expires() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        record(dir.path(), &[proposal("a", Status::Valid), proposal("b", Status::Rejected)], "advise", t0)
            .unwrap();
        let a = find(dir.path(), "a", t0).unwrap();
        assert_eq!(a.pending.change, Change::Scale { workload: "shop/api".into(), replicas: 4 });
        assert_eq!(find(dir.path(), "b", t0).unwrap().rejection.as_deref(), Some("already has 4 replicas"));
        let e = find(dir.path(), "zz", t0).unwrap_err();
        assert!(e.contains("no proposal zz") && e.contains("twintop advise"), "{e}");
        let e = find(dir.path(), "a", t0 + chrono::Duration::seconds(KEEP_SECS + 60)).unwrap_err();
        assert!(e.contains("61 min ago"), "{e}");
    }

    #[test]
    fn a_torn_line_is_skipped_and_a_large_file_is_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        std::fs::write(path(dir.path()), "{\"seen\": \"2023-11-14T22:13:20Z\", \"by").unwrap();
        record(dir.path(), &[proposal("a", Status::Valid)], "console", t0).unwrap();
        assert!(find(dir.path(), "a", t0).is_ok());
        let many: Vec<Proposal> = (0..6000).map(|i| proposal(&format!("old{i}"), Status::Valid)).collect();
        record(dir.path(), &many, "console", t0).unwrap();
        let later = t0 + chrono::Duration::seconds(KEEP_SECS + 1);
        record(dir.path(), &[proposal("new", Status::Valid)], "console", later).unwrap();
        let size = std::fs::metadata(path(dir.path())).unwrap().len();
        assert!(size < 10_000, "pruned to what is kept: {size} bytes");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(dir.path())).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the pruned file is owner-only too");
        assert!(find(dir.path(), "new", later).is_ok());
    }
}
