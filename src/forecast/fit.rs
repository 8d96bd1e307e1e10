//! Fitting and choosing: parameters by grid search on one-step squared error, the model
//! family by rolling-origin backtest, and the prediction interval's quantile by calibration
//! on the backtest's out-of-sample residuals.

use super::models::{Model, Spec};
use super::period::candidate_periods;

/// Families twintop chooses from; periods are filled in from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    SeasonalNaive,
    Ewma,
    HoltWinters,
}

impl Family {
    pub(crate) const ALL: [Family; 3] = [Family::SeasonalNaive, Family::Ewma, Family::HoltWinters];

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Family::SeasonalNaive => "seasonal-naive",
            Family::Ewma => "ewma",
            Family::HoltWinters => "holt-winters",
        }
    }
}

/// Longest season looked for: a week of 5-minute steps.
pub(crate) const MAX_PERIOD: usize = 2016;

/// The candidate specs of a family for a series whose seasons are `periods`.
fn grid(family: Family, periods: &[usize]) -> Vec<Spec> {
    match family {
        Family::SeasonalNaive => periods.iter().map(|&p| Spec::SeasonalNaive { period: p }).collect(),
        Family::Ewma => {
            [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0].iter().map(|&alpha| Spec::Ewma { alpha }).collect()
        }
        Family::HoltWinters => {
            let mut out = Vec::new();
            let seasons: Vec<usize> = std::iter::once(0).chain(periods.iter().copied()).collect();
            for &period in &seasons {
                for alpha in [0.05, 0.1, 0.2, 0.4, 0.7, 0.9] {
                    for (beta, phi) in [(0.0, 1.0), (0.02, 0.98), (0.1, 0.9)] {
                        let gammas: &[f64] = if period > 1 { &[0.05, 0.1, 0.2, 0.4] } else { &[0.0] };
                        for &gamma in gammas {
                            out.push(Spec::HoltWinters { alpha, beta, gamma, phi, period });
                        }
                    }
                }
            }
            out
        }
    }
}

/// Sum of squared h-step errors of `spec` over `data[from..]` (the model runs over all of it).
fn sse(spec: Spec, data: &[f64], from: usize, h: usize) -> Option<f64> {
    let w = spec.warmup();
    if data.len() < w + h + 1 {
        return None;
    }
    let mut m = Model::run(spec, &data[..w])?;
    let mut total = 0.0;
    for t in w..data.len() {
        if t + h - 1 < data.len() && t + h > from {
            let e = data[t + h - 1] - m.predict(h);
            total += e * e;
        }
        m.update(data[t]);
    }
    total.is_finite().then_some(total)
}

/// The best spec of a family on `data` (by h-step squared error after the warm-up).
pub(crate) fn fit(family: Family, data: &[f64], periods: &[usize], h: usize) -> Option<Spec> {
    // Seasons need two periods to start and as much again to be judged on.
    let periods: Vec<usize> = periods.iter().copied().filter(|&p| 4 * p <= data.len()).collect();
    let from = periods.iter().copied().max().unwrap_or(1).saturating_mul(2);
    grid(family, &periods)
        .into_iter()
        .filter_map(|s| Some((sse(s, data, from, h)?, s)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, s)| s)
}

/// The seasons worth trying on `data`.
pub(crate) fn periods_of(data: &[f64]) -> Vec<usize> {
    candidate_periods(data, MAX_PERIOD, 3)
}

/// What the backtest of one family found on a training series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backtest {
    pub family: Family,
    /// Parameters fitted on the first part of the training data.
    pub spec: Spec,
    /// Mean absolute h-step error on the held-out last part.
    pub mae: f64,
    /// Out-of-sample h-step forecasts on the held-out part and what happened, in time order.
    pub points: Vec<f64>,
    pub actuals: Vec<f64>,
}

/// Share of the training series held out for the backtest.
pub(crate) const HOLDOUT: f64 = 0.25;

pub(crate) fn backtest(family: Family, train: &[f64], periods: &[usize], h: usize) -> Option<Backtest> {
    let cut = ((1.0 - HOLDOUT) * train.len() as f64) as usize;
    let spec = fit(family, &train[..cut], periods, h)?;
    let w = spec.warmup();
    if cut < w {
        return None;
    }
    let mut m = Model::run(spec, &train[..w])?;
    let (mut points, mut actuals) = (Vec::new(), Vec::new());
    for t in w..train.len() {
        let target = t + h - 1;
        if target >= cut && target < train.len() {
            points.push(m.predict(h));
            actuals.push(train[target]);
        }
        m.update(train[t]);
    }
    if points.is_empty() {
        return None;
    }
    let mae = points.iter().zip(&actuals).map(|(f, y)| (y - f).abs()).sum::<f64>() / points.len() as f64;
    Some(Backtest { family, spec, mae, points, actuals })
}

/// Upper-quantile levels the interval calibration tries, narrowest first.
pub(crate) const LEVELS: [f64; 12] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 0.975, 0.99];
/// Under-provisioned share the calibration aims below (the target is 10 %; the margin absorbs
/// the drift between backtest and test).
pub(crate) const UNDER_TARGET: f64 = 0.07;
/// Step of the online level adaptation (adaptive conformal inference, Gibbs & Candès 2021):
/// after each step the level rises by this × (1 − target) when the allocation fell short and
/// falls by this × target otherwise, so the long-run under-provisioned share tracks the target
/// even when the test period is more (or less) volatile than the backtest.
pub(crate) const ADAPT_STEP: f64 = 0.02;

/// Residual windows the calibration tries: short ones follow changing volatility, long ones
/// are steadier.
pub(crate) const WINDOWS: [usize; 3] = [100, 250, 500];
/// The longest of `WINDOWS`.
pub(crate) const RESIDUAL_WINDOW: usize = 500;

/// How a prediction interval is drawn from past residuals: in the series' unit, or relative
/// to the forecast (for series whose errors grow with their level, like daily demand).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub relative: bool,
    /// Most recent residuals the quantile is taken over.
    pub window: usize,
    /// Upper-quantile level of the residual distribution.
    pub level: f64,
}

impl Interval {
    /// The residual of `actual` against `point` in this interval's unit.
    pub(crate) fn residual(&self, point: f64, actual: f64) -> f64 {
        if self.relative { (actual - point) / point.abs().max(1e-9) } else { actual - point }
    }

    /// `point` shifted by residual quantile `q` (in this interval's unit).
    pub(crate) fn shift(&self, point: f64, q: f64) -> f64 {
        if self.relative { point + point.abs() * q } else { point + q }
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} residual quantile {:.3} over the last {} residuals",
            if self.relative { "relative" } else { "absolute" },
            self.level,
            self.window
        )
    }
}

/// Per series: for absolute and relative residuals and each window, the narrowest level whose
/// rolling-window bound would have kept the backtest's under-provisioned share at or below
/// `UNDER_TARGET`; of those, the one with the highest median efficiency.
pub(crate) fn calibrate(points: &[f64], actuals: &[f64]) -> Interval {
    let n = points.len().min(actuals.len());
    let start = (n / 4).clamp(1, RESIDUAL_WINDOW);
    if n <= start + 10 {
        return Interval { relative: false, window: RESIDUAL_WINDOW, level: 0.95 };
    }
    let mut best: Option<(f64, Interval)> = None;
    for (relative, window) in [false, true].into_iter().flat_map(|r| WINDOWS.map(|w| (r, w))) {
        let probe = Interval { relative, window, level: 0.0 };
        let res: Vec<f64> = (0..n).map(|i| probe.residual(points[i], actuals[i])).collect();
        let mut under = [0usize; LEVELS.len()];
        let mut eff: Vec<Vec<f64>> = vec![Vec::with_capacity(n - start); LEVELS.len()];
        let mut sorted: Vec<f64> = Vec::with_capacity(RESIDUAL_WINDOW);
        for t in start..n {
            sorted.clear();
            sorted.extend_from_slice(&res[t.saturating_sub(window)..t]);
            sorted.sort_by(f64::total_cmp);
            for (i, &q) in LEVELS.iter().enumerate() {
                let alloc = probe.shift(points[t], quantile_sorted(&sorted, q)).max(0.0);
                under[i] += usize::from(actuals[t] > alloc);
                eff[i].push(if alloc > 0.0 { (actuals[t] / alloc).min(1.0) } else { 1.0 });
            }
        }
        let m = (n - start) as f64;
        let i = (0..LEVELS.len()).find(|&i| under[i] as f64 / m <= UNDER_TARGET).unwrap_or(LEVELS.len() - 1);
        eff[i].sort_by(f64::total_cmp);
        let e = quantile_sorted(&eff[i], 0.5);
        if best.is_none_or(|(b, _)| e > b + 1e-9) {
            best = Some((e, Interval { relative, window, level: LEVELS[i] }));
        }
    }
    best.map(|(_, iv)| iv).unwrap_or(Interval { relative: false, window: RESIDUAL_WINDOW, level: 0.95 })
}

/// Linear-interpolation quantile of sorted values.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}
