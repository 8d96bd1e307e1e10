//! How much of a series is step-to-step noise that a forecaster cannot follow — so that a poor
//! median efficiency can be told apart from a poor forecaster.
//!
//! Median efficiency ≥ E with at most U of the steps under-provisioned needs at least
//! (0.5 − U) of the steps allocated within [actual, actual / E]: the other efficient steps can
//! only be starved ones. This check measures how often even an allocation that *knows the
//! future* lands there: each step's allocation is a multiple of the median of its neighbours
//! on both sides (the step itself excluded), with the one multiple that does best on the
//! series. On a smooth series that share is high (the neighbours tell the value); on a series
//! whose values jump by several times from one step to the next it is small, and a forecast
//! made from the past alone is not expected to beat an allocation that has seen the neighbours.
//! A reference, not a proof over every forecaster: it tells an unforecastable series from a
//! poor forecaster.

use super::fit::quantile_sorted;
use serde::Serialize;

/// Neighbours on each side of a step.
pub const NEIGHBOURS: usize = 6;

/// The provisioning target the evaluation is judged by: median efficiency at least this…
pub const TARGET_EFFICIENCY: f64 = 0.9;
/// …with at most this share of the steps under-provisioned.
pub const TARGET_UNDER: f64 = 0.10;

/// The share of steps that must be allocated within [actual, actual / TARGET_EFFICIENCY] for
/// the target to be reachable at all.
pub fn needed_share() -> f64 {
    0.5 - TARGET_UNDER
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseCheck {
    /// Steps measured (those with neighbours on both sides and a positive neighbour median).
    pub steps: usize,
    /// 10th and 90th percentiles of value ÷ median of its neighbours.
    pub neighbour_ratio_q10: f64,
    pub neighbour_ratio_q90: f64,
    /// Largest share of steps that one fixed multiple of the neighbours' median allocates
    /// within [actual, actual / efficiency].
    pub best_window_share: f64,
}

/// The check over `series` for the efficiency level `efficiency` (0 < efficiency ≤ 1), or
/// None when the series is too short to have neighbours on both sides.
pub fn check(series: &[f64], efficiency: f64) -> Option<NoiseCheck> {
    let n = series.len();
    if n < 2 * NEIGHBOURS + 1 || !(efficiency > 0.0 && efficiency <= 1.0) {
        return None;
    }
    let mut ratios = Vec::with_capacity(n - 2 * NEIGHBOURS);
    let mut around = Vec::with_capacity(2 * NEIGHBOURS);
    for i in NEIGHBOURS..n - NEIGHBOURS {
        around.clear();
        around.extend_from_slice(&series[i - NEIGHBOURS..i]);
        around.extend_from_slice(&series[i + 1..=i + NEIGHBOURS]);
        around.sort_by(f64::total_cmp);
        let median = quantile_sorted(&around, 0.5);
        if median > 0.0 && series[i].is_finite() && series[i] >= 0.0 {
            ratios.push(series[i] / median);
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    // An allocation c·m lands in [x, x/E] exactly when x/m lies in [E·c, c]; the best c is
    // one of the ratios themselves (moving c up to the next ratio never loses a step).
    let mut best = 0;
    let mut lo = 0;
    for (hi, &c) in ratios.iter().enumerate() {
        while ratios[lo] < efficiency * c {
            lo += 1;
        }
        best = best.max(hi + 1 - lo);
    }
    Some(NoiseCheck {
        steps: ratios.len(),
        neighbour_ratio_q10: quantile_sorted(&ratios, 0.1),
        neighbour_ratio_q90: quantile_sorted(&ratios, 0.9),
        best_window_share: best as f64 / ratios.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_series_is_all_signal() {
        let c = check(&[5.0; 40], 0.9).unwrap();
        assert_eq!(c.steps, 40 - 2 * NEIGHBOURS);
        assert_eq!((c.neighbour_ratio_q10, c.neighbour_ratio_q90), (1.0, 1.0));
        assert_eq!(c.best_window_share, 1.0);
    }

    #[test]
    fn alternating_values_leave_half_the_steps_reachable() {
        // Each step's 12 neighbours are six 1s and six 10s (median 5.5): the value is either
        // 1/5.5 or 10/5.5 of it, and no 11 % window holds both.
        let s: Vec<f64> = (0..60).map(|i| if i % 2 == 0 { 1.0 } else { 10.0 }).collect();
        let c = check(&s, 0.9).unwrap();
        assert!((c.best_window_share - 0.5).abs() < 0.03, "{c:?}");
        assert!((c.neighbour_ratio_q10 - 1.0 / 5.5).abs() < 1e-9);
        assert!((c.neighbour_ratio_q90 - 10.0 / 5.5).abs() < 1e-9);
    }

    #[test]
    fn a_window_counts_ratios_within_the_efficiency_band_only() {
        // Ratios 1.0 and 0.95 fit one 0.9-window, 0.5 does not.
        let mut s = vec![10.0; 13];
        s[6] = 9.5;
        let c = check(&s, 0.9).unwrap();
        assert_eq!((c.steps, c.best_window_share), (1, 1.0));
        let mut s = vec![10.0; 14];
        s[6] = 5.0;
        // Step 6 has ratio 0.5; step 7 has ratio 1.0: one window holds only one of them.
        let c = check(&s, 0.9).unwrap();
        assert_eq!((c.steps, c.best_window_share), (2, 0.5));
    }

    #[test]
    fn too_short_or_all_zero_series_have_no_check() {
        assert!(check(&[1.0; 12], 0.9).is_none());
        assert!(check(&[0.0; 40], 0.9).is_none());
        assert!(check(&[1.0; 40], 0.0).is_none());
    }
}
