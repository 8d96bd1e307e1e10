//! `twintop fidelity`: how well the twin reproduces what it measures — each workload's
//! simulated present beside its measured p99 and throughput, the median and worst error.

use crate::sim::fidelity::{Fidelity, FidelityOptions, fidelity};
use crate::source::{self, SourceArgs};
use crate::text::escape;
use clap::Args;

#[derive(Debug, Args)]
pub struct FidelityArgs {
    /// Simulated seconds of the present per seed.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub horizon: f64,
    /// Seeds (from 1); the twin's figures are their means.
    #[arg(long, value_name = "K", default_value_t = 3)]
    pub seeds: u32,
    /// Print JSON: {"workloads": [{"name", "measured_p99_ms", "twin_p99_ms", "measured_rps",
    /// "twin_rps", "error"}], "median_abs_error", "worst": {"name", "error"}}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(src: &SourceArgs, a: &FidelityArgs) -> anyhow::Result<i32> {
    if !(a.horizon.is_finite() && a.horizon > 0.0 && a.horizon <= 86_400.0) {
        anyhow::bail!("--horizon must be between 0 and 86400 seconds");
    }
    let snap = source::load_snapshot(src)?;
    let f = fidelity(&snap, &FidelityOptions { horizon_s: a.horizon, seeds: a.seeds.clamp(1, 64) });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(0);
    }
    print_table(&f);
    Ok(0)
}

fn print_table(f: &Fidelity) {
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}  FIT",
        "WORKLOAD", "P50 MEAS", "P50 TWIN", "P99 MEAS", "P99 TWIN", "RPS MEAS", "RPS TWIN", "ERROR"
    );
    for w in &f.workloads {
        println!(
            "{:<36} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>+6.0}%  {}",
            escape(&w.name),
            w.measured_p50_ms.map_or("-".into(), |v| format!("{v:.1}")),
            w.twin_p50_ms,
            w.measured_p99_ms,
            w.twin_p99_ms,
            w.measured_rps,
            w.twin_rps,
            w.error * 100.0,
            w.fit
        );
    }
    match (&f.median_abs_error, &f.worst) {
        (Some(m), Some(w)) => println!(
            "median |error| of p99 {:.1} %, worst {} {:+.1} % ({} s simulated × {} seeds)",
            m * 100.0,
            escape(&w.name),
            w.error * 100.0,
            f.horizon_s,
            f.seeds
        ),
        _ => println!("nothing measured: no workload has traffic and a measured p99 to compare with"),
    }
    for n in &f.notes {
        println!("note: {}", escape(n));
    }
}
