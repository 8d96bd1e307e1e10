//! Provisioning figures from the AI-enabled-DT paper (PAPERS.md) plus twintop's
//! under-provisioned share, and the paper's two baselines.

use super::fit::quantile_sorted;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct ForecastMetrics {
    /// Mean absolute error of the forecast (for a baseline: of its allocation).
    pub mae: f64,
    pub rmse: f64,
    /// Median over steps of min(actual / allocated, 1).
    pub efficiency_median: f64,
    /// Mean of max((allocated − actual) / allocated, 0).
    pub wastage: f64,
    /// Mean of actual / allocated.
    pub utilization: f64,
    /// Mean of max(allocated − actual, 0), in the series' unit.
    pub over_provisioning: f64,
    /// Share of steps where allocated < actual.
    pub under_provisioned_share: f64,
}

/// Figures for `actual` against `point` forecasts and `allocated` amounts (same length).
pub(crate) fn score(actual: &[f64], point: &[f64], allocated: &[f64]) -> ForecastMetrics {
    let n = actual.len().min(point.len()).min(allocated.len());
    if n == 0 {
        return ForecastMetrics::default();
    }
    let nf = n as f64;
    let (mut ae, mut se, mut waste, mut util, mut over, mut under) = (0.0, 0.0, 0.0, 0.0, 0.0, 0);
    let mut eff = Vec::with_capacity(n);
    for i in 0..n {
        let (y, f, a) = (actual[i], point[i], allocated[i]);
        ae += (y - f).abs();
        se += (y - f) * (y - f);
        // A zero allocation of zero demand is exact; of positive demand, starved.
        let ratio = if a > 0.0 {
            y / a
        } else if y <= 0.0 {
            1.0
        } else {
            f64::INFINITY
        };
        eff.push(ratio.min(1.0));
        util += if ratio.is_finite() { ratio } else { 0.0 };
        waste += if a > 0.0 { ((a - y) / a).max(0.0) } else { 0.0 };
        over += (a - y).max(0.0);
        under += usize::from(a < y);
    }
    eff.sort_by(f64::total_cmp);
    ForecastMetrics {
        mae: ae / nf,
        rmse: (se / nf).sqrt(),
        efficiency_median: quantile_sorted(&eff, 0.5),
        wastage: waste / nf,
        utilization: util / nf,
        over_provisioning: over / nf,
        under_provisioned_share: under as f64 / nf,
    }
}

/// B1: mean + 2σ (population) of the training data.
pub(crate) fn mean_plus_2sd(train: &[f64]) -> f64 {
    let n = train.len().max(1) as f64;
    let mean = train.iter().sum::<f64>() / n;
    let var = train.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    mean + 2.0 * var.sqrt()
}

/// B2: the 95th percentile of the training data (linear interpolation).
pub(crate) fn p95(train: &[f64]) -> f64 {
    let mut s = train.to_vec();
    s.sort_by(f64::total_cmp);
    quantile_sorted(&s, 0.95)
}
