//! `twintop eval …`: headless evaluations that print twintop's figures beside the ones the
//! papers report (PAPERS.md), measured the same way. `placement` (`eval_placement`) runs
//! DIRA-LDT's scenario (or the twin); `forecast` runs the AI-enabled-DT protocol on a
//! `timestamp,value` CSV.

use crate::source::SourceArgs;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: Eval,
}

#[derive(Debug, Subcommand)]
pub enum Eval {
    /// Placement methods (HBA, SM, twintop) on DIRA-LDT's scenario, or on the twin with
    /// --demo/--manifests.
    Placement(super::eval_placement::PlacementArgs),
    /// Forecasting methods against the mean+2sd and p95 baselines on a timestamp,value CSV,
    /// and a noise check: how often even an allocation that knew the neighbouring steps lands
    /// within 11 % above the actual (median efficiency ≥ 0.9 with ≤ 10 % under needs 40 %).
    Forecast(ForecastArgs),
    /// The advisors' calibration: their proposals applied to simulated demo incidents, as
    /// confidence bucket → observed success rate (needs --demo).
    Advisor(super::eval_advisor::AdvisorEvalArgs),
    /// The twin's fidelity over the demo's incident script: simulated vs measured p99 per
    /// workload at calm moments, in the checkout surge and with a hot server (needs --demo).
    Fidelity(super::eval_fidelity::FidelityEvalArgs),
}

#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// CSV file with a timestamp column and a value column.
    pub file: PathBuf,
    /// The value column (default: `value`, else the second column).
    #[arg(long)]
    pub column: Option<String>,
    /// Steps ahead each allocation is forecast.
    #[arg(long, default_value_t = 1, value_parser = crate::bounds::int(1usize, 100_000))]
    pub horizon: usize,
    /// Most rows, and most steps on the regular grid, the series may have; the evaluation's
    /// time grows with its length (a timestamp that jumps far ahead is an error, not 80 GB).
    #[arg(long, value_name = "N", default_value_t = crate::forecast::csv::DEFAULT_MAX_STEPS)]
    pub max_steps: usize,
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(src: &SourceArgs, a: &EvalArgs) -> anyhow::Result<i32> {
    match &a.what {
        Eval::Placement(p) => super::eval_placement::run(src, p),
        Eval::Forecast(f) => super::eval_forecast::run(f),
        Eval::Advisor(a) => super::eval_advisor::run(src, a),
        Eval::Fidelity(f) => super::eval_fidelity::run(src, f),
    }
}
