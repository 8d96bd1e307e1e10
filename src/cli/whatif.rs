//! `twintop whatif`: a what-if script (the console's language) run headless on the twin —
//! baseline vs scenario as a table, or JSON with `--json`.

use crate::source::{self, SourceArgs};
use crate::text::{escape, shown};
use crate::whatif::run::{self, Progress, RunOptions, Summary, WhatIfReport};
use clap::Args;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct WhatifArgs {
    /// The script, one change per line (e.g. 'scale checkoutservice to 8').
    #[arg(long, value_name = "SCRIPT")]
    pub text: Option<String>,
    /// Read the script from a file (after --text when both are given).
    #[arg(long, value_name = "FILE")]
    pub file: Option<std::path::PathBuf>,
    /// Number of seeds (from --seed on); the figures are their means.
    #[arg(long, default_value_t = 3, value_name = "K", value_parser = crate::bounds::int(1u32, 64))]
    pub seeds: u32,
    /// Print JSON: {"baseline", "scenario", "delta"} (and "sweep" for a sweep).
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(src: &SourceArgs, a: &WhatifArgs) -> anyhow::Result<i32> {
    let mut text = a.text.clone().unwrap_or_default();
    if let Some(f) = &a.file {
        let body = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&body);
    }
    if text.trim().is_empty() {
        eprintln!("whatif: give a script with --text '...' or --file F");
        return Ok(2);
    }
    let snap = source::load_snapshot(src)?;
    let lines = match crate::whatif::parse_checked(&text, &snap) {
        Ok(l) => l,
        Err(errors) => {
            for e in errors {
                eprintln!("{}", escape(&e.to_string()));
            }
            return Ok(2);
        }
    };
    let opt = RunOptions { seed: src.seed, seeds: a.seeds.max(1), horizon_override_s: None };
    let cancel = AtomicBool::new(false);
    let report = match run::run(&snap, &lines, &opt, &Progress { cancel: &cancel, on_progress: &|_| {} }) {
        Ok(r) => r,
        Err(run::RunError::Script(m)) => {
            eprintln!("{}", escape(&m));
            return Ok(2);
        }
        Err(e) => anyhow::bail!("{e}"),
    };
    if a.json {
        let mut doc = serde_json::json!({
            "baseline": report.baseline,
            "scenario": report.scenario,
            "delta": report.delta,
        });
        if let Some(s) = &report.sweep {
            doc["sweep"] = serde_json::to_value(s)?;
        }
        if let Some(m) = &report.measured {
            doc["measured"] = serde_json::to_value(m)?;
        }
        if let Some(f) = &report.fit {
            doc["fit"] = serde_json::to_value(f)?;
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    print_table(&report);
    Ok(0)
}

fn row(name: &str, b: f64, s: f64, decimals: usize) {
    // The delta is that of the figures shown, and a figure that rounds to zero prints as 0,
    // not -0.0.
    let (b, s) = (shown(b, decimals), shown(s, decimals));
    let d = shown(s - b, decimals);
    let sign = if d > 0.0 {
        "▲"
    } else if d < 0.0 {
        "▼"
    } else {
        " "
    };
    println!("{name:<16} {b:>12.decimals$} {s:>12.decimals$} {sign}{:>11.decimals$}", d.abs());
}

fn print_table(r: &WhatIfReport) {
    println!(
        "horizon {:.0} s, seeds {:?}{}",
        r.horizon_s,
        r.seeds,
        r.slo.map(|s| format!(", SLO p{:.0} < {} ms", s.percentile, s.target_ms)).unwrap_or_default()
    );
    println!("{:<16} {:>12} {:>12} {:>12}", "", "baseline", "scenario", "delta");
    let (b, s): (&Summary, &Summary) = (&r.baseline, &r.scenario);
    row("p50 ms", b.ttr_ms.p50, s.ttr_ms.p50, 1);
    row("p95 ms", b.ttr_ms.p95, s.ttr_ms.p95, 1);
    row("p99 ms", b.ttr_ms.p99, s.ttr_ms.p99, 1);
    row("mean ms", b.ttr_ms.mean, s.ttr_ms.mean, 1);
    row("SLO violations", b.slo_violations, s.slo_violations, 0);
    row("drops", b.drops, s.drops, 0);
    row("RUB", b.rub, s.rub, 3);
    row("bandwidth Mbps", b.bandwidth, s.bandwidth, 1);
    row("cost/hour", b.cost_per_hour, s.cost_per_hour, 2);
    row("requested/hour", b.requested_cost_per_hour, s.requested_cost_per_hour, 2);
    for (k, v) in &s.replicas {
        let bv = b.replicas.get(k).copied().unwrap_or(0.0);
        if (v - bv).abs() > 1e-9 {
            row(&format!("replicas {}", escape(k)), bv, *v, 1);
        }
    }
    println!(
        "p99 spread over seeds: baseline ±{:.1} ms, scenario ±{:.1} ms; SLO met: baseline {}, scenario {}",
        b.spread.p99_ms, s.spread.p99_ms, b.slo_met, s.slo_met
    );
    if let Some(m) = &r.measured {
        println!(
            "measured now: p99 {:.1} ms at {} (beside the baseline's p99: how well the twin reproduces now)",
            m.p99_ms,
            escape(&m.workload)
        );
    }
    if let Some(f) = &r.fit {
        println!("{}", f.line());
    }
    if let Some(sw) = &r.sweep {
        println!("sweep of {} replicas:", escape(&sw.workload));
        for p in &sw.points {
            println!(
                "  {:>4}  p99 {:>9.1} ms  violations {:>8.0}  requested/hour {:>8.2}  {}",
                p.replicas,
                p.summary.ttr_ms.p99,
                p.summary.slo_violations,
                p.summary.requested_cost_per_hour,
                if p.meets_slo { "meets SLO" } else { "misses SLO" }
            );
        }
        match sw.cheapest {
            Some(v) => println!("cheapest setting meeting the SLO: {v} replicas"),
            None => println!("no setting in the range meets the SLO"),
        }
    }
    for n in &r.notes {
        println!("note: {}", escape(n));
    }
}
