//! Saving each raw LLM exchange in the data dir, one file per exchange, named by time and
//! content hash; the hash goes into the proposals so the approval view can show the exchange.

use super::client::Exchange;
use anyhow::Context;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub fn exchanges_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("llm-exchanges")
}

/// Writes the exchange; returns its sha256 (hex) and the file.
pub fn save(dir: &Path, ex: &Exchange, now: DateTime<Utc>) -> anyhow::Result<(String, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = serde_json::to_vec_pretty(ex)?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let path = dir.join(format!("{}-{}.json", now.format("%Y%m%dT%H%M%S%.3fZ"), &sha[..12]));
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok((sha, path))
}

/// Finds a saved exchange by its sha256.
pub fn find(dir: &Path, sha: &str) -> Option<PathBuf> {
    let short = sha.get(..12)?;
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(&format!("{short}.json")))
    })
}
