//! `twintop eval advisor --demo`: the advisors' calibration on simulated demo incidents — the
//! reliability table (confidence bucket → observed success rate) and every trial with `--json`.

use crate::advise::EvaluatorKind;
use crate::advise::calibrate::{INCIDENT_TICKS, reliability, trials};
use crate::source::SourceArgs;
use clap::Args;

#[derive(Debug, Args)]
pub struct AdvisorEvalArgs {
    /// Demo seeds to run (1..=N), each at 8 moments of the incident script.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = crate::bounds::int(1u64, 1000))]
    pub incidents: u64,
    /// Seconds observed after each change.
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = crate::bounds::int(1u32, 3600))]
    pub window: u32,
    /// How proposals are predicted and scored, as in `twintop advise`: `sim` or `analytic`.
    #[arg(long, value_name = "MODEL", default_value = "sim", value_parser = EvaluatorKind::NAMES)]
    pub evaluator: String,
    /// Simulated seconds per evaluation run (with `--evaluator sim`).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = crate::bounds::int(1u32, 3600))]
    pub horizon: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(src: &SourceArgs, a: &AdvisorEvalArgs) -> anyhow::Result<i32> {
    let Some(preset) = src.demo else {
        anyhow::bail!("eval advisor runs on simulated incidents of the demo: add --demo");
    };
    let seeds: Vec<u64> = (1..=a.incidents.max(1)).collect();
    let evaluator = EvaluatorKind::parse(&a.evaluator).unwrap_or_default().build(a.horizon);
    let t = trials(preset, &seeds, &INCIDENT_TICKS, a.window, evaluator.as_ref());
    let table = reliability(&t);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"buckets": table, "trials": t}))?);
        return Ok(0);
    }
    println!(
        "{} incidents ({} demo seeds × {} moments), {} proposals applied, {} s observed after each, predicted by {}",
        seeds.len() * INCIDENT_TICKS.len(),
        seeds.len(),
        INCIDENT_TICKS.len(),
        t.len(),
        a.window,
        a.evaluator
    );
    println!("{:<12} {:>9} {:>9} {:>8}", "CONFIDENCE", "PROPOSALS", "SUCCESSES", "RATE");
    for b in &table {
        let rate = b.success_rate.map(|r| format!("{:.0} %", r * 100.0)).unwrap_or_else(|| "-".into());
        println!("{:<12} {:>9} {:>9} {:>8}", format!("{}–{}", b.from, b.to), b.proposals, b.successes, rate);
    }
    let high: Vec<_> = t.iter().filter(|t| t.confidence >= 80).collect();
    if !high.is_empty() {
        let ok = high.iter().filter(|t| t.success).count();
        println!(
            "confidence ≥ 80: {ok} of {} improved the simulated SLO ({:.0} %; the target is ≥ 80 %)",
            high.len(),
            ok as f64 / high.len() as f64 * 100.0
        );
    }
    Ok(0)
}
