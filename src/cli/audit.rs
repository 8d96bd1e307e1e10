//! `twintop audit`: prints the audit log and verifies its hash chain.

use crate::act::audit::{self, Verification};
use crate::source::SourceArgs;
use crate::text::escape;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Verify the hash chain; exit 1 if any entry was altered, removed or reordered
    /// (lines torn by a crash are reported but do not fail verification).
    #[arg(long)]
    pub verify: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The audit log to read (default: audit.jsonl in twintop's data dir).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub fn run(_src: &SourceArgs, a: &AuditArgs) -> anyhow::Result<i32> {
    let path = a.file.clone().unwrap_or_else(|| crate::paths::data_dir().join(audit::FILE_NAME));
    let v = audit::verify_file(&path)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "file": path, "ok": v.ok(), "entries": v.entries, "problems": v.problems,
            }))?
        );
    } else {
        print_table(&path, &v, a.verify);
    }
    Ok(if a.verify && !v.ok() { 1 } else { 0 })
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
    for p in &v.problems {
        println!("{} line {}: {}", if p.torn { "warning:" } else { "ERROR:" }, p.line, p.message);
    }
    if verify {
        if v.ok() {
            println!("verify: ok — the hash chain of {} entries is intact", v.entries.len());
        } else {
            println!("verify: FAILED — the log was altered");
        }
    }
}
