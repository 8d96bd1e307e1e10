//! The evaluation protocol of the AI-enabled-DT paper: chronological 80/20 split; for each
//! test step, allocate the upper prediction bound of an h-step forecast made from all data
//! before it (rolling origin: the model's state takes every observation, its parameters are
//! refitted every `refit_every` steps); the baselines allocate a constant from the training part.
//! Only observed test steps are scored: a step the CSV reader filled by interpolation is a
//! guess, and scoring forecasts against it would flatter every method.

use super::fit::{
    ADAPT_STEP, Backtest, Family, UNDER_TARGET, backtest, calibrate, fit, periods_of, quantile_sorted,
};
use super::metrics::{ForecastMetrics, mean_plus_2sd, p95, score};
use super::models::Model;
use super::noise::{self, NoiseCheck};
use serde::Serialize;

pub(crate) const TRAIN_SHARE: f64 = 0.8;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MethodResult {
    pub name: String,
    /// The model and parameters (at the first test step), or the baseline's rule.
    pub detail: String,
    /// Upper-quantile level of the interval (None for baselines).
    pub level: Option<f64>,
    pub metrics: ForecastMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Evaluation {
    pub train: usize,
    pub test: usize,
    /// Test steps filled by interpolation, not scored.
    pub test_filled: usize,
    pub horizon: usize,
    pub periods: Vec<usize>,
    pub methods: Vec<MethodResult>,
    /// How much of the test part is step-to-step noise (see `noise`; None when too short).
    pub noise: Option<NoiseCheck>,
}

/// Runs every family, twintop's backtest choice among them, and both baselines, on a series
/// whose every step was observed.
#[cfg(test)]
pub(crate) fn evaluate(series: &[f64], horizon: usize) -> Result<Evaluation, String> {
    evaluate_observed(series, None, horizon)
}

/// `evaluate`, scoring only the test steps `observed` marks (all when None); the models still
/// run over the filled series, which keeps them on a regular grid.
pub(crate) fn evaluate_observed(
    series: &[f64],
    observed: Option<&[bool]>,
    horizon: usize,
) -> Result<Evaluation, String> {
    let h = horizon.max(1);
    let n_train = (TRAIN_SHARE * series.len() as f64) as usize;
    if n_train < 20 || series.len() - n_train < 5 {
        return Err(format!("{} values are too few for an 80/20 evaluation (need ≥ 25)", series.len()));
    }
    if h > series.len() - n_train {
        return Err(format!(
            "horizon {h} is longer than the test part ({} steps): nothing would be scored",
            series.len() - n_train
        ));
    }
    let (train, test) = series.split_at(n_train);
    let test_mask: Vec<bool> = match observed {
        Some(o) if o.len() == series.len() => o[n_train..].to_vec(),
        _ => vec![true; test.len()],
    };
    let test_filled = test_mask.iter().filter(|o| !**o).count();
    if test_filled == test.len() {
        return Err("every test step was filled by interpolation: nothing observed to score".into());
    }
    let periods = periods_of(train);
    let backtests: Vec<Backtest> =
        Family::ALL.iter().filter_map(|&f| backtest(f, train, &periods, h)).collect();
    let mut methods = Vec::new();
    for b in &backtests {
        methods.push(rolling(series, n_train, b, &periods, h, b.family.name(), &test_mask));
    }
    if let Some(best) = backtests.iter().min_by(|a, b| a.mae.total_cmp(&b.mae)) {
        methods.push(rolling(series, n_train, best, &periods, h, "twintop", &test_mask));
    }
    for (name, alloc) in [("mean+2sd", mean_plus_2sd(train)), ("p95", p95(train))] {
        let flat = vec![alloc; test.len()];
        methods.push(MethodResult {
            name: name.into(),
            detail: format!("constant {alloc:.3} from the training part"),
            level: None,
            metrics: score_observed(test, &flat, &flat, &test_mask),
        });
    }
    let noise = noise::check_observed(test, &test_mask, noise::TARGET_EFFICIENCY, noise::TARGET_UNDER);
    Ok(Evaluation { train: n_train, test: test.len(), test_filled, horizon: h, periods, methods, noise })
}

/// `score` over the steps `mask` keeps.
fn score_observed(actual: &[f64], point: &[f64], allocated: &[f64], mask: &[bool]) -> ForecastMetrics {
    let keep = |v: &[f64]| -> Vec<f64> { v.iter().zip(mask).filter(|(_, m)| **m).map(|(x, _)| *x).collect() };
    score(&keep(actual), &keep(point), &keep(allocated))
}

/// Rolling-origin run of one backtested family over the test part.
fn rolling(
    series: &[f64],
    n_train: usize,
    b: &Backtest,
    periods: &[usize],
    h: usize,
    name: &str,
    test_mask: &[bool],
) -> MethodResult {
    let interval = calibrate(&b.points, &b.actuals);
    let mut level = interval.level;
    let mut residuals: Vec<f64> =
        b.points.iter().zip(&b.actuals).map(|(f, y)| interval.residual(*f, *y)).collect();
    let test_len = series.len() - n_train;
    let refit_every = (test_len / 4).max(1);
    let (mut point, mut upper) = (vec![0.0; test_len], vec![0.0; test_len]);
    let start = n_train + 1 - h.min(n_train);
    let mut spec = fit(b.family, &series[..start], periods, h).unwrap_or(b.spec);
    let detail = spec.describe();
    let mut model = Model::run(spec, &series[..start]);
    let mut sorted = Vec::with_capacity(interval.window);
    // At origin o the model has seen series[..o]; its forecast is for o + h − 1.
    for o in start..series.len() {
        if o > n_train && (o - n_train).is_multiple_of(refit_every) {
            spec = fit(b.family, &series[..o], periods, h).unwrap_or(spec);
            model = Model::run(spec, &series[..o]);
        }
        let Some(m) = model.as_mut() else { break };
        let target = o + h - 1;
        if target >= n_train && target < series.len() {
            sorted.clear();
            sorted.extend_from_slice(&residuals[residuals.len().saturating_sub(interval.window)..]);
            sorted.sort_by(f64::total_cmp);
            let f = m.predict(h);
            point[target - n_train] = f;
            upper[target - n_train] = interval.shift(f, quantile_sorted(&sorted, level)).max(0.0);
        }
        // A test step that was not observed is not known then either: the model takes its own
        // forecast there (an interpolated value would carry the next observation back in time).
        let observed = o < n_train || test_mask[o - n_train];
        m.update(if observed { series[o] } else { m.predict(1) });
        // The error of the forecast whose target is o is known from now on.
        if o >= n_train && observed {
            residuals.push(interval.residual(point[o - n_train], series[o]));
            let short = if series[o] > upper[o - n_train] { 1.0 } else { 0.0 };
            level = (level + ADAPT_STEP * (short - UNDER_TARGET)).clamp(0.5, 1.0);
        }
    }
    MethodResult {
        name: name.into(),
        detail: format!(
            "{detail}; upper bound from the {}, adapted online to {:.0} % short steps (ended at {level:.3})",
            interval.describe(),
            UNDER_TARGET * 100.0
        ),
        level: Some(interval.level),
        metrics: score_observed(&series[n_train..], &point, &upper, test_mask),
    }
}

/// The spec twintop would choose for `series` (backtest on all of it).
pub(crate) fn choose(series: &[f64], h: usize) -> Option<(Backtest, Vec<usize>)> {
    let periods = periods_of(series);
    let best = Family::ALL
        .iter()
        .filter_map(|&f| backtest(f, series, &periods, h))
        .min_by(|a, b| a.mae.total_cmp(&b.mae))?;
    Some((best, periods))
}
