//! `twintop sim FILE`: runs a scenario (or a sweep of it) and prints a summary, or JSON.

use crate::sim::scenario::Arrivals;
use crate::sim::validate::parse_rate_csv;
use crate::sim::{Outputs, Scenario, SweepParam};
use crate::source::SourceArgs;
use crate::text::escape;
use anyhow::Context;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Scenario file (YAML; see docs/scenarios.md).
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run variants in parallel: `replicas=1..20` (every service) or `replicas.SERVICE=1..20`.
    #[arg(long, value_name = "PARAM=FROM..TO")]
    pub sweep: Option<String>,
}

/// Reads, parses and validates a scenario file; replay generators' CSV files are read
/// relative to it.
pub(crate) fn load_scenario(path: &Path) -> anyhow::Result<Scenario> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading scenario {origin}"))?;
    let sc = parse_with_csv(&text, &origin, path.parent().unwrap_or(Path::new(".")))?;
    sc.validate().map_err(|(field, msg, _)| anyhow::anyhow!("{origin}: {field}: {msg}"))?;
    Ok(sc)
}

fn parse_with_csv(text: &str, origin: &str, dir: &Path) -> anyhow::Result<Scenario> {
    // Replay rates may come from a CSV: fill them in before validation needs them.
    let raw: Result<Scenario, _> = serde_saphyr::from_str(text);
    if let Ok(mut sc) = raw
        && sc.load.iter().any(|g| g.csv.is_some())
    {
        for (i, g) in sc.load.iter_mut().enumerate() {
            if let (Arrivals::Replay, Some(csv)) = (g.arrivals, &g.csv) {
                let p = dir.join(csv);
                let data = std::fs::read_to_string(&p)
                    .with_context(|| format!("{origin}: load[{i}].csv: reading {}", p.display()))?;
                g.rates = parse_rate_csv(&data, g.column.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e} (load[{i}].csv of {origin})", p.display()))?;
            }
        }
        return Ok(sc);
    }
    Ok(Scenario::from_yaml(text, origin)?)
}

pub(crate) fn run(src: &SourceArgs, a: &SimArgs) -> anyhow::Result<i32> {
    let sc = load_scenario(&a.file)?;
    let seed = src.seed;
    if let Some(spec) = &a.sweep {
        return run_sweep(&sc, spec, seed, a.json);
    }
    let t = Instant::now();
    let mut out = crate::sim::run(&sc, seed)?;
    out.wall_s = t.elapsed().as_secs_f64();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&out);
    }
    Ok(0)
}

fn run_sweep(sc: &Scenario, spec: &str, seed: u64, json: bool) -> anyhow::Result<i32> {
    let p = SweepParam::parse(spec).map_err(|e| anyhow::anyhow!("--sweep {e}"))?;
    let tty = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if tty {
            let width = 30;
            let filled = done * width / total.max(1);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r[{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(width - filled));
            let _ = err.flush();
        }
    };
    let t = Instant::now();
    let res = crate::sim::sweep(sc, &p, seed, &progress)?;
    if tty {
        eprintln!();
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "points": res.points.iter().map(|q| serde_json::json!({
                    "value": q.value, "ttr_ms": q.ttr_ms, "drops": q.drops, "slo_met": q.slo_met})).collect::<Vec<_>>(),
                "best": res.best,
                "wall_s": t.elapsed().as_secs_f64(),
            }))?
        );
        return Ok(0);
    }
    let what =
        p.service.as_deref().map_or("replicas (every service)".to_string(), |s| format!("replicas of {s}"));
    println!(
        "sweep of {} over {} points ({:.2} s)",
        escape(&what),
        res.points.len(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>8} {:>5}",
        "VALUE", "MEAN ms", "P50 ms", "P95 ms", "P99 ms", "DROPS", "SLO"
    );
    for q in &res.points {
        println!(
            "{:>6} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>8} {:>5}",
            q.value,
            q.ttr_ms.mean,
            q.ttr_ms.p50,
            q.ttr_ms.p95,
            q.ttr_ms.p99,
            q.drops,
            if q.slo_met { "ok" } else { "miss" }
        );
    }
    match (res.best, sc.slo) {
        (Some(b), Some(s)) => println!("smallest value meeting p{} ≤ {} ms: {b}", s.percentile, s.target_ms),
        (None, Some(s)) => println!("no value meets p{} ≤ {} ms", s.percentile, s.target_ms),
        (_, None) => println!("the scenario has no `slo`: nothing to meet"),
    }
    Ok(0)
}

fn print_summary(o: &Outputs) {
    println!(
        "{}: {} requests, {} completed, {:.1} s simulated in {:.3} s ({} events, seed {})",
        escape(&o.scenario),
        o.requests,
        o.completed,
        o.sim_time_s,
        o.wall_s,
        o.events,
        o.seed
    );
    let t = &o.ttr_ms;
    println!(
        "time to resolution ms: mean {:.2}  p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        t.mean, t.p50, t.p95, t.p99, t.max
    );
    if o.slo.target_ms.is_finite() {
        println!(
            "SLO p{} ≤ {} ms: {} ({} violations)",
            o.slo.percentile,
            o.slo.target_ms,
            if o.slo.met { "met" } else { "MISSED" },
            o.slo.violations
        );
    }
    println!(
        "drops: {} queue full, {} no endpoint, {} failed   in flight: mean {:.1}, max {}   pending pods: max {}, final {}",
        o.drops.queue_full,
        o.drops.no_endpoint,
        o.drops.failed,
        o.in_flight.mean,
        o.in_flight.max,
        o.pending_pods.max,
        o.pending_pods.last
    );
    println!();
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "SERVICE", "SERVED", "TTP mean", "TTP p99", "DROPS", "FAILED", "R.MAX", "R.END"
    );
    for (name, s) in &o.services {
        let r = o.replicas[name];
        println!(
            "{:<28} {:>9} {:>9.2} {:>9.2} {:>9} {:>9} {:>6} {:>6}",
            escape(name),
            s.served,
            s.ttp_ms.mean,
            s.ttp_ms.p99,
            s.drops.queue_full + s.drops.no_endpoint,
            s.drops.failed,
            r.max,
            r.last
        );
    }
    if !o.peak_placement.pods_by_tier.is_empty() {
        let tiers: Vec<String> =
            o.peak_placement.pods_by_tier.iter().map(|(k, v)| format!("{} {v}", escape(k))).collect();
        println!();
        println!("pods at the peak (t = {:.0} s): {}", o.peak_placement.t_s, tiers.join(", "));
    }
    let rub = o.series.rub.iter().sum::<f64>() / o.series.rub.len().max(1) as f64;
    println!(
        "mean RUB over live servers {:.3}   cost {:.2} (price × node-hours of servers hosting pods)",
        rub, o.cost.total
    );
    if !o.links.is_empty() {
        println!();
        println!("{:<32} {:<32} {:>10} {:>10}", "LINK", "", "MB", "MEAN Mbps");
        for l in o.links.iter().take(8) {
            println!("{:<32} {:<32} {:>10.1} {:>10.2}", escape(&l.a), escape(&l.b), l.mb, l.mean_mbps);
        }
    }
}
