//! Short-term forecasting of a load series (request rate, CPU) with prediction intervals, for
//! predictive scaling. Pure: seasonal-naive, EWMA and additive Holt-Winters with automatic
//! season detection, chosen per series by rolling backtest; intervals from the backtest's
//! out-of-sample residual quantiles, calibrated per series; the AI-enabled-DT paper's
//! baselines and metrics; a check of how much of a series is unforecastable noise; parsing of
//! `timestamp,value` CSV text.

pub mod csv;
pub(crate) mod eval;
pub(crate) mod fit;
pub(crate) mod metrics;
pub(crate) mod models;
pub(crate) mod noise;
pub(crate) mod period;
#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use eval::evaluate;
pub(crate) use eval::{Evaluation, evaluate_observed};
pub(crate) use models::Model;
#[cfg(test)]
pub(crate) use models::Spec;
#[cfg(test)]
pub(crate) use period::detect_period;

use fit::{calibrate, fit as fit_family, quantile_sorted};
use serde::Serialize;

/// Forecasts for the `horizon` steps after the series, with an interval around each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Forecast {
    pub point: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// The chosen model and its parameters.
    pub method: String,
    /// Upper-quantile level of the interval (the lower bound is at 1 − level).
    pub level: f64,
}

/// Chooses a model for `series` by backtest and forecasts `horizon` steps. The interval comes
/// from the backtest's most recent one-step residual quantiles at the calibrated level,
/// widened by √h for h steps ahead. A series too short to backtest gets its last value with
/// the series' range as the interval.
pub(crate) fn forecast(series: &[f64], horizon: usize) -> Forecast {
    let h = horizon.max(1);
    let chosen = eval::choose(series, 1).and_then(|(b, periods)| {
        let spec = fit_family(b.family, series, &periods, 1).unwrap_or(b.spec);
        Some((b, Model::run(spec, series)?))
    });
    let Some((b, model)) = chosen else {
        let last = series.last().copied().unwrap_or(0.0);
        let lo = series.iter().copied().fold(last, f64::min);
        let hi = series.iter().copied().fold(last, f64::max);
        return Forecast {
            point: vec![last; h],
            lower: vec![lo; h],
            upper: vec![hi; h],
            method: "last value (series too short to backtest)".into(),
            level: 1.0,
        };
    };
    let iv = calibrate(&b.points, &b.actuals);
    let from = b.points.len().saturating_sub(iv.window);
    let mut recent: Vec<f64> =
        b.points[from..].iter().zip(&b.actuals[from..]).map(|(f, y)| iv.residual(*f, *y)).collect();
    recent.sort_by(f64::total_cmp);
    let (q_lo, q_hi) = (quantile_sorted(&recent, 1.0 - iv.level), quantile_sorted(&recent, iv.level));
    let point: Vec<f64> = (1..=h).map(|k| model.predict(k)).collect();
    let widen = |k: usize| (k as f64).sqrt();
    Forecast {
        lower: point.iter().enumerate().map(|(i, p)| iv.shift(*p, q_lo.min(0.0) * widen(i + 1))).collect(),
        upper: point.iter().enumerate().map(|(i, p)| iv.shift(*p, q_hi.max(0.0) * widen(i + 1))).collect(),
        point,
        method: format!("{}; interval from the {}", model.spec().describe(), iv.describe()),
        level: iv.level,
    }
}
