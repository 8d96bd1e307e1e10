//! `twintop eval forecast FILE.csv`: the AI-enabled-DT evaluation on one series, printed beside
//! the paper's reported medians.

use super::eval::ForecastArgs;
use crate::forecast::noise::{self, NoiseCheck};
use crate::forecast::{self, csv};
use crate::text::escape;
use serde::Serialize;

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    mae: f64,
    rmse: f64,
    efficiency_median: f64,
    wastage: f64,
    utilization: f64,
    over_provisioning: f64,
    under_provisioned_share: f64,
}

/// The paper's reported median efficiencies (PAPERS.md, AI-enabled DT).
const PAPER_EFFICIENCY: [(&str, f64); 3] = [("B1 mean+2σ", 0.474), ("B2 p95", 0.543), ("LSTM twin", 0.987)];

/// Which methods meet the issue-5 target, and whether the noise check allows it at all.
#[derive(Serialize)]
struct Target {
    efficiency: f64,
    under: f64,
    /// The noise check's verdict (None when the test part is too short to check).
    reachable: Option<bool>,
    met_by: Vec<String>,
}

fn target(ev: &forecast::Evaluation) -> Target {
    Target {
        efficiency: noise::TARGET_EFFICIENCY,
        under: noise::TARGET_UNDER,
        reachable: ev.noise.map(|n| n.reachable),
        met_by: ev
            .methods
            .iter()
            .filter(|m| {
                m.metrics.efficiency_median >= noise::TARGET_EFFICIENCY
                    && m.metrics.under_provisioned_share <= noise::TARGET_UNDER
            })
            .map(|m| m.name.clone())
            .collect(),
    }
}

pub(crate) fn run(a: &ForecastArgs) -> anyhow::Result<i32> {
    let name = a.file.display().to_string();
    let file = std::fs::File::open(&a.file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let limits = csv::Limits { max_steps: a.max_steps };
    let series = csv::parse_with(std::io::BufReader::new(file), &name, a.column.as_deref(), limits)?;
    let ev = forecast::evaluate_observed(&series.values, Some(&series.observed), a.horizon)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let target = target(&ev);
    if a.json {
        let rows: Vec<Row> = ev
            .methods
            .iter()
            .map(|m| Row {
                name: &m.name,
                mae: m.metrics.mae,
                rmse: m.metrics.rmse,
                efficiency_median: m.metrics.efficiency_median,
                wastage: m.metrics.wastage,
                utilization: m.metrics.utilization,
                over_provisioning: m.metrics.over_provisioning,
                under_provisioned_share: m.metrics.under_provisioned_share,
            })
            .collect();
        let out = serde_json::json!({
            "methods": rows,
            "noise": ev.noise,
            "test": ev.test,
            "test_filled": ev.test_filled,
            "scored": ev.test - ev.test_filled,
            "target": target,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    println!(
        "{}: {} values every {} s ({} duplicate rows averaged, {} missing steps interpolated, {} long gap(s))",
        escape(&name),
        series.values.len(),
        series.step_s,
        series.duplicates,
        series.filled,
        series.long_gaps
    );
    println!(
        "train {} / test {} ({} filled by interpolation and not scored: {} scored), horizon {} step(s), seasons found: {}",
        ev.train,
        ev.test,
        ev.test_filled,
        ev.test - ev.test_filled,
        ev.horizon,
        if ev.periods.is_empty() { "none".into() } else { format!("{:?}", ev.periods) }
    );
    println!(
        "{:<15} {:>12} {:>12} {:>10} {:>8} {:>8} {:>12} {:>7} {:>6}",
        "method", "MAE", "RMSE", "eff. med", "waste", "util", "over-prov", "under", "level"
    );
    for m in &ev.methods {
        let x = &m.metrics;
        println!(
            "{:<15} {:>12.3} {:>12.3} {:>10.3} {:>8.3} {:>8.3} {:>12.3} {:>6.1}% {:>6}",
            m.name,
            x.mae,
            x.rmse,
            x.efficiency_median,
            x.wastage,
            x.utilization,
            x.over_provisioning,
            x.under_provisioned_share * 100.0,
            m.level.map(|l| format!("{l:.3}")).unwrap_or_else(|| "-".into())
        );
    }
    for m in &ev.methods {
        println!("  {}: {}", m.name, m.detail);
    }
    let paper: Vec<String> = PAPER_EFFICIENCY.iter().map(|(n, e)| format!("{n} {e}")).collect();
    println!("paper (AI-enabled DT, median efficiency): {}", paper.join(", "));
    println!(
        "MAE/RMSE: of the point forecast (baselines: of their constant allocation); allocation: upper bound at the calibrated level"
    );
    if let Some(n) = &ev.noise {
        println!("{}", noise_line(n));
    }
    println!("{}", target_line(&target));
    Ok(0)
}

/// The issue-5 target's verdict on this series.
fn target_line(t: &Target) -> String {
    let goal = format!(
        "target (median efficiency ≥ {} with ≤ {:.0} % under-provisioned)",
        t.efficiency,
        t.under * 100.0
    );
    match (t.reachable, t.met_by.is_empty()) {
        (Some(false), true) => {
            format!("{goal}: ruled out by the noise check on this series; no method meets it")
        }
        (Some(false), false) => {
            format!("{goal}: met by {} although the noise check rules it out", t.met_by.join(", "))
        }
        (_, false) => format!("{goal}: met by {}", t.met_by.join(", ")),
        (_, true) => format!("{goal}: not met"),
    }
}

/// What the noise check means for the efficiency target.
fn noise_line(n: &NoiseCheck) -> String {
    let need = noise::needed_share();
    format!(
        "noise check (observed test steps, {zeros} of {steps} zero): value ÷ median of its {k} neighbours on each \
         side spans {q10:.2}–{q90:.2}× (q10–q90)\n  an allocation that knew those neighbours (the best fixed \
         multiple of their median, ≤ {u:.0} % of steps under-provisioned) lands within {within:.0} % above the \
         actual on {share:.1} % of steps; median efficiency ≥ {e} with ≤ {u:.0} % under-provisioned needs ≥ \
         {need_pct:.0} % there: {verdict}",
        zeros = n.zero_steps,
        steps = n.steps,
        k = noise::NEIGHBOURS,
        q10 = n.neighbour_ratio_q10,
        q90 = n.neighbour_ratio_q90,
        within = (1.0 / noise::TARGET_EFFICIENCY - 1.0) * 100.0,
        share = n.best_window_share * 100.0,
        e = noise::TARGET_EFFICIENCY,
        u = noise::TARGET_UNDER * 100.0,
        need_pct = need * 100.0,
        verdict = if n.reachable {
            "within reach on this series"
        } else {
            "out of reach on this series (its steps are mostly noise)"
        },
    )
}
