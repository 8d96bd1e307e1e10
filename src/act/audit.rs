//! The audit log: append-only JSON lines, one per decision (approval, rejection, application,
//! rollback), each fsync'd before the action it records proceeds, chained by SHA-256 so an
//! edit anywhere breaks verification, and sealed (`audit_seal`): each entry carries an HMAC
//! under a forward-secure key, and the chain's head is sealed in `audit.seal` beside the log,
//! so truncation, a rewrite with recomputed hashes or a forged entry cannot verify. A line torn
//! by a crash is kept, never dropped or glued to the next entry; the writer acknowledges it in
//! a sealed entry when it next opens the log. Files are 0600 in a 0700 directory.

use super::audit_seal::{self, Key};
use super::audit_verify::{self, Bad, TORN_WRITE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use super::audit_verify::{Problem, Verification, verify_bytes, verify_file, verify_file_with};

pub const FILE_NAME: &str = "audit.jsonl";
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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
    /// approved, rejected, applied, failed, dry-run-failed, scheduled, cancelled, rolled-back,
    /// torn-write (twintop accounting for a line a crash tore)…
    pub outcome: String,
    pub reason: Option<String>,
}

/// A record as stored: its place in the chain, the hashes that bind it and its seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    #[serde(flatten)]
    pub record: Record,
    pub prev: String,
    pub hash: String,
    /// HMAC of (seq, hash) under this entry's key (`audit_seal`).
    pub seal: String,
}

pub(crate) fn entry_hash(seq: u64, record: &Record, prev: &str) -> String {
    // The hash covers the entry as serialised without its own hash and seal.
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
    /// k_{next_seq}: the only key the writer holds.
    key: Key,
}

impl AuditLog {
    pub fn open_in(dir: &Path) -> Result<AuditLog, AuditError> {
        Self::open(&dir.join(FILE_NAME))
    }

    /// Opens (creating, with a new verification key) the log, checks it against its sealed
    /// head and finds the end of the chain. Refuses a log that does not verify as far as the
    /// writer can tell; completes a seal a crash interrupted; acknowledges torn last lines.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io { path: path.to_path_buf(), source };
        let corrupt = |message: String| AuditError::Corrupt { path: path.to_path_buf(), message };
        let mut file = crate::paths::open_private_append(path).map_err(io)?;
        file.try_lock().map_err(|e| corrupt(format!("locked by another twintop ({e})")))?;
        let mut text = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut text).map_err(io)?;
        let c = audit_verify::check(audit_verify::scan(&text), None);
        if let Some(bad) = c.problems.first() {
            return Err(corrupt(format!(
                "line {}: {} — refusing to append to a broken chain",
                bad.line, bad.message
            )));
        }
        let (last_seq, last_hash) =
            c.entries.last().map_or((0, GENESIS.to_string()), |e| (e.seq, e.hash.clone()));
        let seal_path = audit_seal::seal_path(path);
        let key_path = audit_seal::verify_key_path(path);
        let key = match audit_seal::read_seal(&seal_path).map_err(&corrupt)? {
            None => {
                if !c.entries.is_empty() {
                    return Err(corrupt(format!(
                        "{} is missing: the log's sealed head was removed, or the log predates sealing \
                         (move the log aside to start a new one)",
                        seal_path.display()
                    )));
                }
                // A key without a head over an empty log: a crash between writing the key and
                // sealing the empty head. Nothing was sealed with it yet, so it is still k₀.
                let k0 = if key_path.exists() {
                    audit_seal::read_key(&key_path).map_err(|e| {
                        corrupt(format!(
                            "{} is missing and {e} (move both aside to start a new log)",
                            seal_path.display()
                        ))
                    })?
                } else {
                    let k0 = Key::generate();
                    audit_seal::write_new_key(&key_path, path, &k0).map_err(io)?;
                    k0
                };
                audit_seal::write_seal(&seal_path, 0, GENESIS, &k0).map_err(io)?
            }
            Some(s) => {
                let next =
                    Key::parse(&s.next_key).map_err(|e| corrupt(format!("{}: {e}", seal_path.display())))?;
                let last = c.entries.last();
                if !next.check_link(s.seq, &s.hash, &s.link) {
                    return Err(corrupt(format!(
                        "{}: the head was edited outside twintop; refusing to append",
                        seal_path.display()
                    )));
                }
                if s.seq == last_seq && s.hash == last_hash {
                    next
                } else if let Some(e) = last.filter(|e| {
                    s.seq + 1 == e.seq && e.prev == s.hash && next.check_entry(e.seq, &e.hash, &e.seal)
                }) {
                    // A crash between writing the entry and sealing the head: the entry is
                    // sealed with the key the head file still holds, so it is ours.
                    tracing::warn!(seq = e.seq, "audit: completing the seal a crash interrupted");
                    audit_seal::write_seal(&seal_path, e.seq, &e.hash, &next).map_err(io)?
                } else {
                    return Err(corrupt(format!(
                        "the log ends at seq {last_seq} but its sealed head is at seq {} — entries were \
                         removed, rewritten or added outside twintop; refusing to append",
                        s.seq
                    )));
                }
            }
        };
        let mut log = AuditLog { path: path.to_path_buf(), file, next_seq: last_seq + 1, last_hash, key };
        if !text.is_empty() && !text.ends_with(b"\n") {
            // The last line stays a line of their own: torn bytes, or a whole entry whose
            // newline a crash cut off (a short write can stop right before it). Without this
            // the next entry would be glued to it and both would become one line that is not
            // an entry.
            log.file.write_all(b"\n").map_err(io)?;
            log.file.sync_data().map_err(io)?;
        }
        if !c.trailing.is_empty() {
            log.append(torn_write(&c.trailing))?;
        }
        Ok(log)
    }

    /// Appends one record and returns only after it is on disk and the head is sealed.
    pub fn append(&mut self, record: Record) -> Result<Entry, AuditError> {
        let seq = self.next_seq;
        let hash = entry_hash(seq, &record, &self.last_hash);
        let seal = self.key.seal_entry(seq, &hash);
        let entry = Entry { seq, record, prev: self.last_hash.clone(), hash, seal };
        let mut line = serde_json::to_string(&entry).expect("audit entries serialise");
        line.push('\n');
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        // One write call for the whole line keeps a crash to at most one torn line.
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        // The entry is on disk: whatever happens to the head, the next one follows it.
        let key = self.key.clone();
        self.key = key.evolve();
        self.next_seq += 1;
        self.last_hash = entry.hash.clone();
        audit_seal::write_seal(&audit_seal::seal_path(&self.path), seq, &entry.hash, &key).map_err(io)?;
        Ok(entry)
    }
}

/// The entry that accounts for lines a crash tore (their line numbers, lengths and hashes).
fn torn_write(bad: &[Bad]) -> Record {
    Record {
        time: chrono::Utc::now().to_rfc3339(),
        user: std::env::var("USER").unwrap_or_else(|_| "twintop".into()),
        context: String::new(),
        target: FILE_NAME.into(),
        action: format!("{} torn line(s) left by an interrupted write, kept as they are", bad.len()),
        before: serde_json::json!({"torn_lines": audit_verify::torn_lines_json(bad)}),
        after: serde_json::Value::Null,
        proposal_id: None,
        confidence: None,
        source: Some("twintop".into()),
        llm_exchange_sha256: None,
        outcome: TORN_WRITE.into(),
        reason: Some("found when the log was opened".into()),
    }
}

#[cfg(test)]
#[path = "audit_fixtures.rs"]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) use super::fixtures::audit_record as record;

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
        assert!(v.ok() && v.seals_checked && v.notes.is_empty(), "{:?}", v.problems);
        assert_eq!(v.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn tampering_is_detected_and_never_appended_to() {
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
        assert_eq!((v.problems[0].line, v.problems[0].kind), (2, "chain"));
        assert!(AuditLog::open(&path).is_err(), "never append to a tampered chain");
    }

    #[test]
    fn torn_last_line_fails_until_the_writer_acknowledges_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(1)).unwrap();
        drop(log);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":2,"time":"2026-11-23T10:0"#).unwrap();
        drop(f);
        let v = verify_file(&path).unwrap();
        assert!(!v.ok(), "a torn line is a failure until accounted for");
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].torn && v.problems[0].line == 2);

        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.append(record(2)).unwrap().seq, 3, "seq 2 acknowledges the torn line");
        drop(log);
        let v = verify_file(&path).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.entries.len(), 3);
        assert_eq!(v.entries[1].record.outcome, TORN_WRITE);
        assert_eq!(v.notes[0].line, 2, "the torn bytes stay on their own line, noted");
        assert!(std::fs::read_to_string(&path).unwrap().contains(r#""time":"2026-11-23T10:0"#));
    }

    #[test]
    fn a_torn_line_a_killed_reopen_ended_is_still_named_torn_once_acknowledged() {
        // The first reopen after the tear ended the torn bytes with a newline and was killed
        // before its acknowledging entry; the next reopen acknowledges them.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        AuditLog::open(&path).unwrap().append(record(1)).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,\"time\":\"2026-11-23T10:0\n").unwrap();
        drop(f);
        let v = verify_file(&path).unwrap();
        assert!(!v.ok() && v.problems[0].torn && v.problems[0].line == 2, "{:?}", v.problems);
        drop(AuditLog::open(&path).unwrap());
        let v = verify_file(&path).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.notes.len(), 1);
        let m = &v.notes[0].message;
        assert!(m.starts_with("torn line (32 bytes") && m.contains("acknowledged by seq 2: not JSON"), "{m}");
    }

    #[test]
    fn an_entry_whose_newline_a_crash_cut_off_is_not_glued_to_the_next() {
        // A short write killed right before the final byte leaves a whole entry without its
        // newline, and the head one entry behind.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let seal = audit_seal::seal_path(&path);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(1)).unwrap();
        let before = std::fs::read(&seal).unwrap();
        log.append(record(2)).unwrap();
        drop(log);
        std::fs::write(&seal, before).unwrap();
        let mut text = std::fs::read(&path).unwrap();
        assert_eq!(text.pop(), Some(b'\n'));
        std::fs::write(&path, &text).unwrap();

        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(log.append(record(3)).unwrap().seq, 3);
        drop(log);
        let v = verify_file(&path).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert!(v.notes.is_empty(), "nothing was torn: {:?}", v.notes);
        assert_eq!(v.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn a_crash_between_the_entry_and_its_seal_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let seal = audit_seal::seal_path(&path);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(1)).unwrap();
        let before = std::fs::read(&seal).unwrap();
        log.append(record(2)).unwrap();
        drop(log);
        std::fs::write(&seal, before).unwrap();
        assert!(!verify_file(&path).unwrap().ok(), "the head lags the log");
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(3)).unwrap();
        drop(log);
        let v = verify_file(&path).unwrap();
        assert!(v.ok(), "{:?}", v.problems);
        assert_eq!(v.head.unwrap().seq, 3);
    }

    #[test]
    fn a_crash_between_the_key_and_the_first_head_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        drop(AuditLog::open(&path).unwrap());
        let key = std::fs::read(audit_seal::verify_key_path(&path)).unwrap();
        std::fs::remove_file(audit_seal::seal_path(&path)).unwrap();
        AuditLog::open(&path).unwrap().append(record(1)).unwrap();
        assert_eq!(std::fs::read(audit_seal::verify_key_path(&path)).unwrap(), key, "k₀ kept");
        let v = verify_file(&path).unwrap();
        assert!(v.ok() && v.seals_checked, "{:?}", v.problems);
        let temps = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(temps, 0);

        // A key that is not one (torn by an older writer, edited) is named, never replaced.
        let other = tempfile::tempdir().unwrap();
        let path = other.path().join(FILE_NAME);
        std::fs::write(audit_seal::verify_key_path(&path), "# twintop audit verification key\n12ab").unwrap();
        let err = AuditLog::open(&path).unwrap_err().to_string();
        assert!(err.contains("audit.verify-key") && err.contains("32 bytes"), "{err}");
    }

    #[test]
    fn files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        AuditLog::open_in(&dir).unwrap().append(record(1)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for f in ["audit.jsonl", "audit.seal", "audit.verify-key"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = AuditLog::open_in(dir.path()).unwrap();
        assert!(AuditLog::open_in(dir.path()).unwrap_err().to_string().contains("locked"));
    }
}
