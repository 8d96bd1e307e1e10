//! Saving each raw LLM exchange in the data dir, one file per exchange (0600, in a 0700
//! directory), named by time and content hash; the hash goes into the proposals so the
//! approval view can show the exchange. Old exchanges are pruned after each save, by age and
//! by total size, except those an audited decision names (their hash is in `audit.jsonl`).

use super::client::Exchange;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long and how much of the exchanges is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Retention {
    pub max_age: Duration,
    pub max_total_bytes: u64,
}

/// 30 days, 256 MiB.
pub(crate) const RETENTION: Retention =
    Retention { max_age: Duration::from_secs(30 * 86_400), max_total_bytes: 256 * 1024 * 1024 };

pub(crate) fn exchanges_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("llm-exchanges")
}

/// Writes the exchange and prunes older ones; returns its sha256 (hex) and the file.
pub(crate) fn save(dir: &Path, ex: &Exchange, now: DateTime<Utc>) -> anyhow::Result<(String, PathBuf)> {
    let bytes = serde_json::to_vec_pretty(ex)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let path = dir.join(format!("{}-{}.json", now.format("%Y%m%dT%H%M%S%.3fZ"), &sha[..12]));
    crate::paths::write_private(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    let pruned = prune(dir, &RETENTION, &path, SystemTime::now());
    if pruned.files > 0 {
        tracing::info!(files = pruned.files, bytes = pruned.bytes, "pruned old LLM exchanges");
    }
    Ok((sha, path))
}

/// What `prune` removed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Pruned {
    pub files: usize,
    pub bytes: u64,
}

/// Removes exchanges older than `r.max_age`, then the oldest until the rest fit in
/// `r.max_total_bytes`. Never removes `keep` (the one just written) nor an exchange whose hash
/// the audit log beside the directory names.
pub(crate) fn prune(dir: &Path, r: &Retention, keep: &Path, now: SystemTime) -> Pruned {
    let audited = dir
        .parent()
        // `act::audit::FILE_NAME` (advise does not depend on act).
        .and_then(|d| std::fs::read_to_string(d.join("audit.jsonl")).ok())
        .unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(dir) else { return Pruned::default() };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let short = short_hash(&path)?;
            let meta = e.metadata().ok()?;
            let protected = path == keep || audited.contains(&format!("\"llm_exchange_sha256\":\"{short}"));
            (!protected && meta.is_file()).then(|| (meta.modified().unwrap_or(now), meta.len(), path))
        })
        .collect();
    files.sort();
    let kept_elsewhere: u64 = std::fs::metadata(keep).map_or(0, |m| m.len());
    let mut total: u64 = files.iter().map(|f| f.1).sum::<u64>() + kept_elsewhere;
    let mut out = Pruned::default();
    for (modified, size, path) in files {
        let too_old = now.duration_since(modified).is_ok_and(|age| age > r.max_age);
        if (too_old || total > r.max_total_bytes) && std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(size);
            out.files += 1;
            out.bytes += size;
        }
    }
    out
}

/// The 12 hex digits of an exchange file's name (`TIME-HASH12.json`), None for other files.
fn short_hash(path: &Path) -> Option<&str> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    let short = stem.rsplit('-').next()?;
    (short.len() == 12 && short.bytes().all(|b| b.is_ascii_hexdigit())).then_some(short)
}

/// Finds a saved exchange by its sha256.
pub(crate) fn find(dir: &Path, sha: &str) -> Option<PathBuf> {
    let short = sha.get(..12)?;
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(&format!("{short}.json")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, bytes: usize, age_days: u64, now: SystemTime) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, vec![b'x'; bytes]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(now - Duration::from_secs(age_days * 86_400)).unwrap();
        p
    }

    #[test]
    fn prunes_by_age_then_size_keeping_the_new_and_the_audited() {
        let root = tempfile::tempdir().unwrap();
        let dir = exchanges_dir(root.path());
        std::fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        let old = file(&dir, "20260101T000000.000Z-aaaaaaaaaaaa.json", 10, 40, now);
        let audited = file(&dir, "20260101T000000.000Z-bbbbbbbbbbbb.json", 10, 40, now);
        let a = file(&dir, "20260201T000000.000Z-cccccccccccc.json", 600, 3, now);
        let b = file(&dir, "20260202T000000.000Z-dddddddddddd.json", 600, 2, now);
        let new = file(&dir, "20260203T000000.000Z-eeeeeeeeeeee.json", 600, 0, now);
        let other = file(&dir, "notes.txt", 10, 99, now);
        std::fs::write(root.path().join("audit.jsonl"), "{\"llm_exchange_sha256\":\"bbbbbbbbbbbb0123\"}\n")
            .unwrap();
        let r = Retention { max_age: Duration::from_secs(30 * 86_400), max_total_bytes: 1300 };
        let out = prune(&dir, &r, &new, now);
        assert_eq!(out, Pruned { files: 2, bytes: 610 });
        assert!(!old.exists() && !a.exists(), "too old, then the oldest over the size cap");
        assert!(audited.exists() && b.exists() && new.exists() && other.exists());
    }

    #[test]
    fn saved_exchanges_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = exchanges_dir(root.path());
        let ex = Exchange {
            url: "http://127.0.0.1:1/v1".into(),
            request: serde_json::json!({}),
            attempts: 1,
            status: None,
            response: None,
            error: Some("refused".into()),
            streamed: false,
            content: None,
            finish_reason: None,
        };
        let (_, path) = save(&dir, &ex, Utc::now()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
    }
}
