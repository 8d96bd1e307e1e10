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

pub fn run(a: &ForecastArgs) -> anyhow::Result<i32> {
    let name = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let series = csv::parse(&text, &name, a.column.as_deref())?;
    let ev = forecast::evaluate(&series.values, a.horizon).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
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
        let out = serde_json::json!({ "methods": rows, "noise": ev.noise });
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
        "train {} / test {}, horizon {} step(s), seasons found: {}",
        ev.train,
        ev.test,
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
    Ok(0)
}

/// What the noise check means for the efficiency target.
fn noise_line(n: &NoiseCheck) -> String {
    let need = noise::needed_share();
    format!(
        "noise check (test part): value ÷ median of its {k} neighbours on each side spans {q10:.2}–{q90:.2}× \
         (q10–q90)\n  an allocation that knew those neighbours (the best fixed multiple of their median) lands \
         within {within:.0} % above the actual on {share:.1} % of steps; median efficiency ≥ {e} with ≤ {u:.0} % \
         under-provisioned needs ≥ {need_pct:.0} % there: {verdict}",
        k = noise::NEIGHBOURS,
        q10 = n.neighbour_ratio_q10,
        q90 = n.neighbour_ratio_q90,
        within = (1.0 / noise::TARGET_EFFICIENCY - 1.0) * 100.0,
        share = n.best_window_share * 100.0,
        e = noise::TARGET_EFFICIENCY,
        u = noise::TARGET_UNDER * 100.0,
        need_pct = need * 100.0,
        verdict = if n.best_window_share < need {
            "out of reach on this series (its steps are mostly noise)"
        } else {
            "within reach on this series"
        },
    )
}
