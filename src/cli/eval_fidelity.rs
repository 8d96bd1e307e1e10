//! `twintop eval fidelity --demo`: the twin's fidelity across the demo's incident script — for
//! each demo seed and moment (calm, the checkout surge, the hot server), the twin built at that
//! moment simulates the present and is compared with what the demo measures (`twintop
//! fidelity` at each moment), summarised per moment and over all.

use crate::demo::{DemoPreset, DemoTwin};
use crate::sim::fidelity::{FidelityOptions, fidelity};
use crate::source::SourceArgs;
use crate::text::escape;
use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

/// Moments of the demo's 300-tick incident script: (tick, what is going on).
pub const MOMENTS: [(u32, &str); 7] = [
    (50, "calm"),
    (90, "checkout surge"),
    (120, "checkout surge"),
    (145, "checkout surge"),
    (200, "hot server"),
    (250, "hot server"),
    (290, "calm"),
];

#[derive(Debug, Args)]
pub struct FidelityEvalArgs {
    /// Demo seeds to run (1..=N), each at every moment.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub seeds: u64,
    /// Simulated seconds of the present per run.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub horizon: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One moment of one seed.
#[derive(Debug, Clone, Serialize)]
pub struct MomentRow {
    pub seed: u64,
    pub tick: u32,
    pub moment: &'static str,
    pub median_abs_error: Option<f64>,
    pub worst: Option<crate::sim::fidelity::Worst>,
}

pub fn run(src: &SourceArgs, a: &FidelityEvalArgs) -> anyhow::Result<i32> {
    let Some(preset) = src.demo else {
        anyhow::bail!("eval fidelity runs on the demo's incident script: add --demo (or --demo=mec)");
    };
    let rows = moments(preset, a.seeds.max(1), a.horizon);
    let all: Vec<f64> = rows.iter().filter_map(|r| r.median_abs_error).collect();
    let worst = rows.iter().filter_map(|r| r.worst.as_ref()).map(|w| w.error.abs()).fold(0.0, f64::max);
    if a.json {
        let doc = serde_json::json!({
            "preset": preset.name(),
            "moments": rows,
            "median_of_medians": median(all.clone()),
            "worst_abs_error": worst,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!(
        "demo {} — twin vs measured p99 per workload with traffic ({} s simulated × 3 seeds)",
        preset.name(),
        a.horizon
    );
    println!(
        "{:>5} {:>5} {:<16} {:>14} {:>8}  WORST WORKLOAD",
        "SEED", "TICK", "MOMENT", "MEDIAN |ERR|", "WORST"
    );
    for r in &rows {
        let (wn, we) =
            r.worst.as_ref().map_or(("-".to_string(), 0.0), |w| (escape(&w.name).into_owned(), w.error));
        println!(
            "{:>5} {:>5} {:<16} {:>13.1}% {:>+7.1}%  {}",
            r.seed,
            r.tick,
            r.moment,
            r.median_abs_error.unwrap_or(f64::NAN) * 100.0,
            we * 100.0,
            wn
        );
    }
    println!(
        "median over moments of the median |error| {:.1} % (target ≤ 10 %), worst |error| {:.1} % (target ≤ 25 %)",
        median(all).unwrap_or(f64::NAN) * 100.0,
        worst * 100.0
    );
    Ok(0)
}

/// Every (seed, moment) of the script, fidelity computed on the demo twin at that tick.
pub fn moments(preset: DemoPreset, seeds: u64, horizon_s: f64) -> Vec<MomentRow> {
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut rows = Vec::new();
    for seed in 1..=seeds {
        for &(tick, moment) in &MOMENTS {
            let snap = DemoTwin::starting_at(preset, seed, start).warm_snapshot(tick);
            let f = fidelity(&snap, &FidelityOptions { horizon_s, seeds: 3 });
            rows.push(MomentRow { seed, tick, moment, median_abs_error: f.median_abs_error, worst: f.worst });
        }
    }
    rows
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}
