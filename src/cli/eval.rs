//! `twintop eval …`: headless evaluations that print twintop's figures beside the ones the
//! papers report (PAPERS.md), measured the same way. `placement` runs DIRA-LDT's scenario (or
//! the twin); `forecast` runs the AI-enabled-DT protocol on a `timestamp,value` CSV.

use crate::plan::{self, Method, Metrics, Problem, ScenarioSpec};
use crate::source::SourceArgs;
use crate::text::escape;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: Eval,
}

#[derive(Debug, Subcommand)]
pub enum Eval {
    /// Placement methods (HBA, SM, twintop) on DIRA-LDT's scenario, or on the twin with
    /// --demo/--manifests.
    Placement(PlacementArgs),
    /// Forecasting methods against the mean+2sd and p95 baselines on a timestamp,value CSV,
    /// and a noise check: how often even an allocation that knew the neighbouring steps lands
    /// within 11 % above the actual (median efficiency ≥ 0.9 with ≤ 10 % under needs 40 %).
    Forecast(ForecastArgs),
    /// The advisors' calibration: their proposals applied to simulated demo incidents, as
    /// confidence bucket → observed success rate (needs --demo).
    Advisor(super::eval_advisor::AdvisorEvalArgs),
}

#[derive(Debug, Args)]
pub struct PlacementArgs {
    #[arg(long, default_value_t = 50, value_parser = crate::bounds::int(1usize, 100_000))]
    pub servers: usize,
    #[arg(long, default_value_t = 100, value_parser = crate::bounds::int(1usize, 1_000_000))]
    pub workloads: usize,
    /// Scenarios (seeds 1..=K) to average over.
    #[arg(long, default_value_t = 30, value_parser = crate::bounds::int(1u64, 10_000))]
    pub seeds: u64,
    /// Moves the incremental re-placement may propose (twin only).
    #[arg(long, default_value_t = 10, value_parser = crate::bounds::int(0usize, 100_000))]
    pub max_moves: usize,
    #[arg(long)]
    pub json: bool,
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

pub fn run(src: &SourceArgs, a: &EvalArgs) -> anyhow::Result<i32> {
    match &a.what {
        Eval::Placement(p) => placement(src, p),
        Eval::Forecast(f) => super::eval_forecast::run(f),
        Eval::Advisor(a) => super::eval_advisor::run(src, a),
    }
}

/// One method's averaged figures (the JSON row).
#[derive(Debug, Clone, Serialize)]
pub struct PlacementRow {
    pub name: String,
    pub accuracy: f64,
    pub mean_latency_ms: f64,
    pub bandwidth_util: f64,
    pub rub: f64,
    pub completion: Option<f64>,
    pub decision_us_per_workload: f64,
    #[serde(skip)]
    pub colocated_share: f64,
}

/// Averages of `Metrics` over runs, plus decision time.
#[derive(Default)]
struct Acc {
    n: f64,
    m: Vec<Metrics>,
    us: f64,
}

impl Acc {
    fn row(&self, name: &str) -> PlacementRow {
        let mean = |f: &dyn Fn(&Metrics) -> f64| self.m.iter().map(f).sum::<f64>() / self.n.max(1.0);
        let comp: Vec<f64> = self.m.iter().filter_map(|m| m.completion).collect();
        PlacementRow {
            name: name.into(),
            accuracy: mean(&|m| m.accuracy),
            mean_latency_ms: mean(&|m| m.mean_latency_ms),
            bandwidth_util: mean(&|m| m.bandwidth_util),
            rub: mean(&|m| m.rub),
            completion: (!comp.is_empty()).then(|| comp.iter().sum::<f64>() / comp.len() as f64),
            decision_us_per_workload: self.us / self.n.max(1.0),
            colocated_share: mean(&|m| m.colocated_share),
        }
    }
}

/// Places with `method` and times it; µs per workload.
pub fn timed(method: Method, p: &Problem, seed: u64) -> (plan::Assignment, f64) {
    let t = Instant::now();
    let a = method.place(p, seed);
    let us = t.elapsed().as_secs_f64() * 1e6 / p.workloads.len().max(1) as f64;
    (a, us)
}

fn placement(src: &SourceArgs, a: &PlacementArgs) -> anyhow::Result<i32> {
    let twin_mode = src.demo.is_some() || !src.manifests.is_empty();
    let mut rows = Vec::new();
    let what;
    if twin_mode {
        let snap = crate::source::load_snapshot(src)?;
        let tp = plan::from_snapshot(&snap);
        what = format!(
            "twin {} ({} servers, {} pods, {} pod dependencies)",
            escape(&snap.source.name),
            tp.problem.servers.len(),
            tp.problem.workloads.len(),
            tp.problem.deps.len()
        );
        let cur = Acc { n: 1.0, m: vec![plan::evaluate(&tp.problem, &tp.current)], us: 0.0 };
        rows.push(cur.row("current"));
        for m in Method::ALL {
            let (asg, us) = timed(m, &tp.problem, src.seed);
            rows.push(Acc { n: 1.0, m: vec![plan::evaluate(&tp.problem, &asg)], us }.row(m.name()));
        }
        let t = Instant::now();
        let imp = plan::improve(&tp.problem, &tp.current, a.max_moves, src.seed);
        let us = t.elapsed().as_secs_f64() * 1e6 / tp.problem.workloads.len().max(1) as f64;
        rows.push(Acc { n: 1.0, m: vec![imp.after], us }.row(&format!("improve-{}", a.max_moves)));
        if !a.json {
            println!("incremental re-placement: {} move(s)", imp.moves.len());
            for mv in &imp.moves {
                println!(
                    "  {}: {} → {}",
                    escape(&mv.name),
                    escape(mv.from_server.as_deref().unwrap_or("(unplaced)")),
                    escape(&mv.to_server)
                );
            }
        }
    } else {
        anyhow::ensure!(
            a.servers > 0 && a.workloads > 0 && a.seeds > 0,
            "--servers, --workloads and --seeds must be > 0"
        );
        what = format!(
            "DIRA-LDT scenario: {} servers, {} workloads, {} seed(s)",
            a.servers, a.workloads, a.seeds
        );
        let mut accs: Vec<Acc> = Method::ALL.iter().map(|_| Acc::default()).collect();
        for seed in 1..=a.seeds {
            let p = plan::generate(&ScenarioSpec::sized(a.servers, a.workloads, seed));
            for (i, m) in Method::ALL.iter().enumerate() {
                let (asg, us) = timed(*m, &p, seed);
                accs[i].n += 1.0;
                accs[i].us += us;
                accs[i].m.push(plan::evaluate(&p, &asg));
            }
        }
        rows = Method::ALL.iter().zip(&accs).map(|(m, acc)| acc.row(m.name())).collect();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "methods": rows }))?);
        return Ok(0);
    }
    println!("{what}");
    println!(
        "{:<12} {:>9} {:>11} {:>10} {:>9} {:>6} {:>11} {:>12}",
        "method", "accuracy", "latency ms", "co-located", "bw util", "RUB", "completion", "µs/workload"
    );
    for r in &rows {
        println!(
            "{:<12} {:>8.1}% {:>11.2} {:>9.1}% {:>8.1}% {:>6.3} {:>11} {:>12.1}",
            r.name,
            r.accuracy * 100.0,
            r.mean_latency_ms,
            r.colocated_share * 100.0,
            r.bandwidth_util * 100.0,
            r.rub,
            r.completion.map(|c| format!("{:.1}%", c * 100.0)).unwrap_or_else(|| "-".into()),
            r.decision_us_per_workload
        );
    }
    println!("paper (DIRA-LDT, PAPERS.md; decision time per allocation):");
    for (name, acc, lat, bw, rub, comp, us) in PAPER_PLACEMENT {
        println!(
            "{:<12} {:>8.1}% {:>11.1} {:>10} {:>8.1}% {:>6.2} {:>11} {:>12.0}",
            name,
            acc,
            lat,
            "-",
            bw,
            rub,
            comp.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into()),
            us
        );
    }
    println!(
        "latency: dependency-weighted mean over pairs on different servers; co-located: share of the dependency weight on one server"
    );
    println!("completion: {}", plan::COMPLETION_MODEL);
    Ok(0)
}

/// The DIRA-LDT paper's figures: name, accuracy %, latency ms, bandwidth %, RUB, completion %,
/// decision µs per allocation.
type PaperRow = (&'static str, f64, f64, f64, f64, Option<f64>, f64);
const PAPER_PLACEMENT: [PaperRow; 3] = [
    ("dira-ldt", 98.5, 5.3, 82.4, 0.92, Some(96.3), 7800.0),
    ("hba", 85.0, 12.7, 70.5, 0.78, None, 3200.0),
    ("sm", 88.3, 10.2, 75.8, 0.84, None, 5400.0),
];
