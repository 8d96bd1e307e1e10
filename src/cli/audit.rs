//! `twintop audit`: prints the audit log and verifies it strictly: format, hash chain, seals
//! and sealed head (see `act::audit_verify`).

use crate::act::audit::{self, Verification};
use crate::source::SourceArgs;
use crate::text::escape;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Verify the log; exit 1 on any problem: an entry altered, removed, reordered, added or
    /// not as twintop wrote it, a torn line not yet accounted for, a log that does not end at
    /// its sealed head (audit.seal), a seal that does not verify, or no verification key.
    #[arg(long)]
    pub verify: bool,
    /// The verification key (default: audit.verify-key beside the log). Keep it off the
    /// machine and pass it here: then even someone who owns the account cannot rewrite what was
    /// sealed before.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A head noted earlier (as `verify` prints it): fail unless the log still holds that entry
    /// with that hash — detects a rollback of the log and its seal to an older copy.
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The audit log to read (default: audit.jsonl in twintop's data dir).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub(crate) fn run(_src: &SourceArgs, a: &AuditArgs) -> anyhow::Result<i32> {
    let path = a.file.clone().unwrap_or_else(|| crate::paths::data_dir().join(audit::FILE_NAME));
    let mut v = audit::verify_file_with(&path, a.key.as_deref())?;
    if let Some(h) = &a.expect_head {
        check_expected_head(&mut v, h)?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "file": path, "ok": v.ok(), "entries": v.entries, "problems": v.problems,
                "notes": v.notes, "head": v.head, "seals_checked": v.seals_checked,
                "key_file": v.key_file,
            }))?
        );
    } else {
        print_table(&path, &v, a.verify);
    }
    Ok(if (a.verify || a.expect_head.is_some()) && !v.ok() { 1 } else { 0 })
}

/// `SEQ:HASH` (the hash may be a prefix of at least 12 hex digits).
fn check_expected_head(v: &mut Verification, spec: &str) -> anyhow::Result<()> {
    let (seq, hash) = spec
        .split_once(':')
        .and_then(|(s, h)| Some((s.trim().parse::<u64>().ok()?, h.trim().to_ascii_lowercase())))
        .filter(|(_, h)| h.len() >= 12 && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            anyhow::anyhow!("--expect-head {spec:?}: expected SEQ:HASH (at least 12 hex digits)")
        })?;
    let message = match v.entries.iter().find(|e| e.seq == seq) {
        Some(e) if e.hash.starts_with(&hash) => return Ok(()),
        Some(e) => format!(
            "expected head seq {seq} hash {hash}…, the log has {}… (rewritten)",
            e.hash.get(..12).unwrap_or(&e.hash)
        ),
        None => format!(
            "expected head seq {seq}, the log ends at seq {} (rolled back to an older copy, or truncated)",
            v.entries.last().map_or(0, |e| e.seq)
        ),
    };
    v.problems.push(audit::Problem { line: 0, torn: false, kind: "head", message });
    Ok(())
}

fn print_table(path: &std::path::Path, v: &Verification, verify: bool) {
    println!("audit log {} — {} entries", path.display(), v.entries.len());
    if !v.entries.is_empty() {
        println!(
            "{:>5} {:<25} {:<10} {:<14} {:<36} {:>5} ACTION",
            "SEQ", "TIME", "USER", "OUTCOME", "TARGET", "CONF"
        );
    }
    for e in &v.entries {
        let r = &e.record;
        println!(
            "{:>5} {:<25} {:<10} {:<14} {:<36} {:>5} {}",
            e.seq,
            escape(&r.time),
            escape(&r.user),
            escape(&r.outcome),
            escape(&format!("{}:{}", r.context, r.target)),
            r.confidence.map_or("-".into(), |c| format!("{c:.0}")),
            escape(&r.action)
        );
    }
    for p in &v.notes {
        println!("note: line {}: {}", p.line, escape(&p.message));
    }
    for p in &v.problems {
        match p.line {
            0 => println!("ERROR: {}", escape(&p.message)),
            l => println!("ERROR: line {l}: {}", escape(&p.message)),
        }
    }
    if verify {
        if let Some(h) = &v.head {
            println!(
                "sealed head: {}:{} (note it elsewhere; --expect-head checks it later)",
                h.seq,
                escape(&h.hash)
            );
        }
        if v.ok() && v.head.is_none() && v.entries.is_empty() {
            println!("verify: ok — no audit log here yet (nothing audited; with --key, a missing log fails)");
        } else if v.ok() {
            let key = v
                .key_file
                .as_ref()
                .map(|k| escape(&k.display().to_string()).into_owned())
                .unwrap_or_default();
            println!(
                "verify: ok — {} entries, chain intact, every seal valid (key {key}), the log ends at its sealed head",
                v.entries.len()
            );
        } else {
            println!("verify: FAILED — {} problem(s)", v.problems.len());
        }
    }
}
