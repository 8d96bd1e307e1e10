//! The audit log: append-only JSON lines, one per decision (approval, rejection, application,
//! rollback), each fsync'd before the action it records proceeds, and chained by SHA-256 so
//! an edit anywhere breaks verification. A line torn by a crash is kept and reported, never
//! dropped or glued to the next entry.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "audit.jsonl";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an operator (or twintop on their behalf) did. Fields are the audit interface:
/// add, never rename.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub time: String,
    pub user: String,
    pub context: String,
    pub target: String,
    /// The change, in words ("scale boutique/checkoutservice to 6 replicas").
    pub action: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub proposal_id: Option<String>,
    pub confidence: Option<f64>,
    pub source: Option<String>,
    /// SHA-256 of the raw LLM exchange behind the proposal, when an LLM proposed it.
    pub llm_exchange_sha256: Option<String>,
    /// approved, rejected, applied, failed, dry-run-failed, scheduled, cancelled, rolled-back…
    pub outcome: String,
    pub reason: Option<String>,
}

/// A record as stored: its place in the chain and the hashes that bind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: Record,
    pub prev: String,
    pub hash: String,
}

fn entry_hash(seq: u64, record: &Record, prev: &str) -> String {
    // The hash covers the entry as serialised without its own hash.
    let body = serde_json::json!({"seq": seq, "record": record, "prev": prev});
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("audit log {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// The writer. Holds an exclusive lock on the file while open, so two twintops cannot
/// interleave entries.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    next_seq: u64,
    last_hash: String,
}

impl AuditLog {
    pub fn open_in(dir: &Path) -> Result<AuditLog, AuditError> {
        Self::open(&dir.join(FILE_NAME))
    }

    /// Opens (creating) the log and finds the end of the chain. A torn last line gets a
    /// newline so it stays a line of its own, reported by `verify`.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io)?;
        file.try_lock().map_err(|e| AuditError::Corrupt {
            path: path.to_path_buf(),
            message: format!("locked by another twintop ({e})"),
        })?;
        let mut text = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut text).map_err(io)?;
        if !text.is_empty() && !text.ends_with(b"\n") {
            file.write_all(b"\n").map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let report = verify_bytes(&text);
        if let Some(bad) = report.problems.iter().find(|p| !p.torn) {
            return Err(AuditError::Corrupt {
                path: path.to_path_buf(),
                message: format!("line {}: {} — refusing to append to a broken chain", bad.line, bad.message),
            });
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            next_seq: report.last_seq.map_or(1, |s| s + 1),
            last_hash: report.last_hash.unwrap_or_else(|| GENESIS.to_string()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and returns only after it is on disk.
    pub fn append(&mut self, record: Record) -> Result<Entry, AuditError> {
        let seq = self.next_seq;
        let hash = entry_hash(seq, &record, &self.last_hash);
        let entry = Entry { seq, record, prev: self.last_hash.clone(), hash };
        let mut line = serde_json::to_string(&entry).expect("audit entries serialise");
        line.push('\n');
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        // One write call for the whole line keeps a crash to at most one torn line.
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next_seq += 1;
        self.last_hash = entry.hash.clone();
        Ok(entry)
    }
}

/// One thing wrong with a line of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub line: usize,
    /// An interrupted write (unparsable, not part of the chain) rather than tampering.
    pub torn: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    last_seq: Option<u64>,
    #[serde(skip)]
    last_hash: Option<String>,
}

impl Verification {
    /// The chain is intact (torn lines from crashes are reported but do not break it).
    pub fn ok(&self) -> bool {
        self.problems.iter().all(|p| p.torn)
    }
}

/// Reads and verifies a log file.
pub fn verify_file(path: &Path) -> Result<Verification, AuditError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(verify_bytes(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(verify_bytes(b"")),
        Err(source) => Err(AuditError::Io { path: path.to_path_buf(), source }),
    }
}

pub fn verify_bytes(bytes: &[u8]) -> Verification {
    let mut v = Verification { entries: Vec::new(), problems: Vec::new(), last_seq: None, last_hash: None };
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let n = lines.len();
    for (i, raw) in lines.into_iter().enumerate() {
        let line = i + 1;
        let last_unterminated = i + 1 == n;
        if raw.is_empty() {
            continue;
        }
        let parsed = std::str::from_utf8(raw).ok().and_then(|s| serde_json::from_str::<Entry>(s).ok());
        let Some(e) = parsed else {
            let message = if last_unterminated {
                "torn last line (a write interrupted by a crash); its record did not complete".to_string()
            } else {
                "torn line (a write interrupted by a crash, later entries continue the chain)".to_string()
            };
            v.problems.push(Problem { line, torn: true, message });
            continue;
        };
        if e.prev != prev {
            v.problems.push(Problem {
                line,
                torn: false,
                message: format!("seq {}: chain broken (prev hash differs)", e.seq),
            });
        } else if e.hash != entry_hash(e.seq, &e.record, &e.prev) {
            v.problems.push(Problem {
                line,
                torn: false,
                message: format!("seq {}: content does not match its hash", e.seq),
            });
        } else if e.seq != expected_seq {
            v.problems.push(Problem {
                line,
                torn: false,
                message: format!("seq {} where {} was expected", e.seq, expected_seq),
            });
        }
        prev = e.hash.clone();
        expected_seq = e.seq + 1;
        v.last_seq = Some(e.seq);
        v.last_hash = Some(e.hash.clone());
        v.entries.push(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn record(n: u32) -> Record {
        Record {
            time: format!("2026-11-23T10:00:{n:02}Z"),
            user: "sre".into(),
            context: "demo".into(),
            target: "boutique/checkoutservice".into(),
            action: format!("scale boutique/checkoutservice to {n} replicas"),
            before: serde_json::json!({"replicas": 2}),
            after: serde_json::json!({"replicas": n}),
            proposal_id: Some(format!("p{n}")),
            confidence: Some(81.0),
            source: Some("builtin:reactive".into()),
            llm_exchange_sha256: None,
            outcome: "approved".into(),
            reason: None,
        }
    }

    #[test]
    fn appends_chain_and_reopen_continues() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = AuditLog::open_in(dir.path()).unwrap();
            log.append(record(3)).unwrap();
            log.append(record(4)).unwrap();
        }
        let mut log = AuditLog::open_in(dir.path()).unwrap();
        let e = log.append(record(5)).unwrap();
        assert_eq!(e.seq, 3);
        drop(log);
        let v = verify_file(&dir.path().join(FILE_NAME)).unwrap();
        assert!(v.ok() && v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn tampering_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut log = AuditLog::open(&path).unwrap();
        for n in 1..=3 {
            log.append(record(n)).unwrap();
        }
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap().replace("to 2 replicas", "to 9 replicas");
        std::fs::write(&path, text).unwrap();
        let v = verify_file(&path).unwrap();
        assert!(!v.ok());
        assert_eq!(v.problems[0].line, 2);
        assert!(AuditLog::open(&path).is_err(), "never append to a tampered chain");
    }

    #[test]
    fn torn_last_line_is_reported_and_kept_when_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(1)).unwrap();
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":2,"time":"2026-11-23T10:0"#).unwrap();
        drop(f);
        let v = verify_file(&path).unwrap();
        assert!(v.ok());
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].torn && v.problems[0].line == 2);

        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.append(record(2)).unwrap().seq, 2);
        drop(log);
        let v = verify_file(&path).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.entries.len(), 2);
        assert_eq!(v.problems[0].line, 2, "the torn bytes stay on their own line");
        assert!(std::fs::read_to_string(&path).unwrap().contains(r#""time":"2026-11-23T10:0"#));
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = AuditLog::open_in(dir.path()).unwrap();
        assert!(AuditLog::open_in(dir.path()).unwrap_err().to_string().contains("locked"));
    }
}
