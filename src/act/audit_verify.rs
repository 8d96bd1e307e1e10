//! Strict verification of the audit log. Every line must be an entry exactly as twintop wrote
//! it (no unknown or missing field, no edit in place), the hash chain unbroken, every entry's
//! seal valid under the verification key, and the log must end where its sealed head
//! (`audit.seal`) says. Anything else is a failure — a torn line included, unless a later
//! sealed entry acknowledges it (the writer does so when it reopens the log after a crash).

use super::audit::{AuditError, Entry, GENESIS, entry_hash};
use super::audit_seal::{self, Head, Key, SealFile};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One thing wrong with the log (or, in `notes`, a torn write its chain accounts for).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// 1-based line of the log; 0 when the problem is not on a line (the head, the key).
    pub line: usize,
    /// A line that is not an entry (a torn write, or garbage).
    pub torn: bool,
    /// `torn`, `format`, `chain`, `seal`, `head` or `key`.
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub entries: Vec<Entry>,
    /// Failures: any of them means the log cannot be trusted as it is.
    pub problems: Vec<Problem>,
    /// Torn writes acknowledged by a sealed entry (kept, accounted for, not failures).
    pub notes: Vec<Problem>,
    /// The sealed head as `audit.seal` gives it; note it elsewhere to detect a rollback.
    pub head: Option<Head>,
    /// Whether the entries' and the head's seals were checked (a verification key was found).
    pub seals_checked: bool,
    /// Where the verification key was read from.
    pub key_file: Option<PathBuf>,
}

impl Verification {
    /// Nothing wrong was found. With `seals_checked` false (no key) this is not proof: a
    /// missing key is itself a problem in `verify_file`.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A line that is not an entry.
#[derive(Debug, Clone)]
pub(crate) struct Bad {
    pub line: usize,
    pub raw: Vec<u8>,
    pub message: String,
    /// Why the line is not an entry (the parser's words).
    pub reason: String,
}

impl Bad {
    fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.raw))
    }
}

pub(crate) enum Item {
    Entry(usize, Box<Entry>),
    Bad(Bad),
}

/// What the writer needs to know to continue a log.
pub(crate) struct Checked {
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
    pub notes: Vec<Problem>,
    /// Lines after the last entry that are not entries (a torn write), unacknowledged.
    pub trailing: Vec<Bad>,
    /// (seq, k_seq) of the last entry the seals were checked to (from the verification key).
    pub last_key: Option<(u64, Key)>,
}

/// The torn lines' description an acknowledging entry carries in `before.torn_lines`.
pub(crate) fn torn_lines_json(bad: &[Bad]) -> serde_json::Value {
    serde_json::Value::Array(
        bad.iter()
            .map(|b| serde_json::json!({"line": b.line, "bytes": b.raw.len(), "sha256": b.sha256()}))
            .collect(),
    )
}

/// Outcome of the entry the writer appends to account for torn lines.
pub const TORN_WRITE: &str = "torn-write";

/// Splits the log into entries and lines that are not.
pub(crate) fn scan(bytes: &[u8]) -> Vec<Item> {
    let mut out = Vec::new();
    let segments: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let n = segments.len();
    for (i, raw) in segments.into_iter().enumerate() {
        let line = i + 1;
        let last = i + 1 == n;
        if last && raw.is_empty() {
            break;
        }
        match parse_line(raw) {
            Ok(e) => out.push(Item::Entry(line, Box::new(e))),
            Err(reason) => {
                let message = if last {
                    format!(
                        "torn last line (a write interrupted by a crash, or garbage; twintop accounts for it \
                         in the chain when it next opens the log): {reason}"
                    )
                } else {
                    format!("not an audit entry: {reason}")
                };
                out.push(Item::Bad(Bad { line, raw: raw.to_vec(), message, reason }));
            }
        }
    }
    out
}

/// An entry exactly as twintop writes it, or why not.
fn parse_line(raw: &[u8]) -> Result<Entry, String> {
    if raw.is_empty() {
        return Err("an empty line".into());
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8 text".to_string())?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let entry: Entry = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&entry).expect("an entry serialises");
    if let (Some(got), Some(known)) = (value.as_object(), again.as_object()) {
        if let Some(k) = got.keys().find(|k| !known.contains_key(*k)) {
            return Err(format!("unknown field `{}`", crate::text::escape(k)));
        }
        if let Some(k) = known.keys().find(|k| !got.contains_key(*k)) {
            return Err(format!("missing field `{k}`"));
        }
    }
    if serde_json::to_string(&entry).expect("an entry serialises").as_bytes() != raw {
        return Err("not as twintop wrote it (a value, the key order or the spacing was changed)".into());
    }
    Ok(entry)
}

/// The format, chain and (with `k0`) seal checks over the lines. Lines that are not entries
/// are acknowledged when the entry right after them says so; those after the last entry are
/// returned in `trailing`.
pub(crate) fn check(items: Vec<Item>, k0: Option<&Key>) -> Checked {
    let mut c = Checked {
        entries: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
        trailing: Vec::new(),
        last_key: k0.map(|k| (0, k.clone())),
    };
    let mut prev = GENESIS.to_string();
    let mut expected = 1u64;
    let mut pending: Vec<Bad> = Vec::new();
    let problem = |line, kind, message| Problem { line, torn: false, kind, message };
    for item in items {
        let (line, e) = match item {
            Item::Bad(b) => {
                pending.push(b);
                continue;
            }
            Item::Entry(line, e) => (line, *e),
        };
        if !pending.is_empty() {
            let acknowledged = e.record.outcome == TORN_WRITE
                && e.record.before.get("torn_lines") == Some(&torn_lines_json(&pending));
            for b in pending.drain(..) {
                let p = Problem { line: b.line, torn: true, kind: "torn", message: b.message.clone() };
                if acknowledged {
                    // Named the same whether or not a reopen ended it with a newline before
                    // a later one acknowledged it.
                    let message = format!(
                        "torn line ({} bytes left by a write interrupted by a crash), acknowledged by seq {}: {}",
                        b.raw.len(),
                        e.seq,
                        b.reason
                    );
                    c.notes.push(Problem { message, ..p });
                } else {
                    c.problems.push(p);
                }
            }
        }
        if e.prev != prev {
            c.problems.push(problem(
                line,
                "chain",
                format!("seq {}: chain broken (prev hash differs)", e.seq),
            ));
        } else if e.hash != entry_hash(e.seq, &e.record, &e.prev) {
            c.problems.push(problem(
                line,
                "chain",
                format!("seq {}: content does not match its hash", e.seq),
            ));
        } else if e.seq != expected {
            c.problems.push(problem(line, "chain", format!("seq {} where {expected} was expected", e.seq)));
        } else if let Some((key_seq, k)) = c.last_key.as_mut()
            && e.seq == *key_seq + 1
            && !c.problems.iter().any(|p| p.kind == "chain")
        {
            // One evolution per entry, along an unbroken chain only (after a break the log
            // has failed anyway, and a forged seq must not make this loop long).
            *k = k.evolve();
            *key_seq = e.seq;
            if !k.check_entry(e.seq, &e.hash, &e.seal) {
                c.problems.push(problem(
                    line,
                    "seal",
                    format!(
                        "seq {}: its seal does not verify (forged, or rewritten with its hashes recomputed)",
                        e.seq
                    ),
                ));
            }
        }
        prev = e.hash.clone();
        expected = e.seq.saturating_add(1);
        c.entries.push(e);
    }
    c.trailing = pending;
    c
}

/// Format and chain checks of a log's bytes alone (no head, no seals): what can be said
/// without the files beside it.
pub fn verify_bytes(bytes: &[u8]) -> Verification {
    let c = check(scan(bytes), None);
    let mut problems = c.problems;
    problems.extend(c.trailing.into_iter().map(|b| Problem {
        line: b.line,
        torn: true,
        kind: "torn",
        message: b.message,
    }));
    Verification {
        entries: c.entries,
        problems,
        notes: c.notes,
        head: None,
        seals_checked: false,
        key_file: None,
    }
}

/// Verifies a log with its sealed head (`audit.seal` beside it) and the verification key
/// (`audit.verify-key` beside it).
pub fn verify_file(path: &Path) -> Result<Verification, AuditError> {
    verify_file_with(path, None)
}

/// `verify_file` with the verification key read from `key_file` (one moved off the machine).
pub fn verify_file_with(path: &Path, key_file: Option<&Path>) -> Result<Verification, AuditError> {
    let corrupt = |message: String| AuditError::Corrupt { path: path.to_path_buf(), message };
    let (bytes, log_exists) = match std::fs::read(path) {
        Ok(b) => (b, true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), false),
        Err(source) => return Err(AuditError::Io { path: path.to_path_buf(), source }),
    };
    let default_key = audit_seal::verify_key_path(path);
    let (k0, key_file) = match key_file {
        Some(f) => (Some(audit_seal::read_key(f).map_err(corrupt)?), Some(f.to_path_buf())),
        None if default_key.exists() => {
            (Some(audit_seal::read_key(&default_key).map_err(corrupt)?), Some(default_key.clone()))
        }
        None => (None, None),
    };
    let seal = audit_seal::read_seal(&audit_seal::seal_path(path));
    Ok(verify_parts(&bytes, log_exists, seal, k0.as_ref(), key_file))
}

/// `verify_file` over texts already read: the log, its seal file (None: absent) and the
/// verification key (for tests and the fuzzer).
pub fn verify_texts(log: &[u8], seal: Option<&[u8]>, k0: Option<&Key>) -> Verification {
    let seal = match seal {
        Some(b) => serde_json::from_slice::<SealFile>(b).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    };
    verify_parts(log, !log.is_empty(), seal, k0, None)
}

fn verify_parts(
    bytes: &[u8],
    log_exists: bool,
    seal: Result<Option<SealFile>, String>,
    k0: Option<&Key>,
    key_file: Option<PathBuf>,
) -> Verification {
    let c = check(scan(bytes), k0);
    let mut problems = c.problems;
    let head_problem = |message: String| Problem { line: 0, torn: false, kind: "head", message };
    problems.extend(c.trailing.iter().map(|b| Problem {
        line: b.line,
        torn: true,
        kind: "torn",
        message: b.message.clone(),
    }));
    let (last_seq, last_hash) = c.entries.last().map_or((0, GENESIS), |e| (e.seq, e.hash.as_str()));
    let mut head = None;
    match seal {
        Err(e) => problems.push(head_problem(format!("the sealed head is unreadable: {e}"))),
        Ok(None) if log_exists || k0.is_some() => problems.push(head_problem(
            "no sealed head (audit.seal is missing): the log's end cannot be checked (the seal was removed, \
             or the log predates sealing)"
                .into(),
        )),
        Ok(None) => {}
        Ok(Some(s)) => {
            if s.seq > last_seq {
                problems.push(head_problem(format!(
                    "missing tail: the sealed head is at seq {}, the log ends at seq {last_seq} \
                     (entries were removed or the file truncated)",
                    s.seq
                )));
            } else if s.seq < last_seq {
                problems.push(head_problem(format!(
                    "seq {}..{last_seq} come after the sealed head at seq {} (appended outside twintop, \
                     or a crash between writing and sealing: twintop completes the seal when it next opens the log)",
                    s.seq + 1,
                    s.seq
                )));
            } else if s.hash != last_hash {
                problems.push(head_problem(format!(
                    "the sealed head's hash at seq {} differs from the log's (the log was rewritten)",
                    s.seq
                )));
            } else if let Some((seq, k)) = &c.last_key
                && *seq == s.seq
                && !k.check_head(s.seq, &s.hash, &s.seal)
            {
                problems
                    .push(head_problem(format!("the head's seal at seq {} does not verify (forged)", s.seq)));
            }
            head = Some(Head { seq: s.seq, hash: s.hash });
        }
    }
    if k0.is_none() && (log_exists || head.is_some()) {
        problems.push(Problem {
            line: 0,
            torn: false,
            kind: "key",
            message:
                "seals not checked: no verification key (audit.verify-key beside the log, or --key FILE)"
                    .into(),
        });
    }
    Verification { entries: c.entries, problems, notes: c.notes, head, seals_checked: k0.is_some(), key_file }
}
