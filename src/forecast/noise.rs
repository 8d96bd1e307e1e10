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
pub(crate) const NEIGHBOURS: usize = 6;

/// The provisioning target the evaluation is judged by: median efficiency at least this…
pub(crate) const TARGET_EFFICIENCY: f64 = 0.9;
/// …with at most this share of the steps under-provisioned.
pub(crate) const TARGET_UNDER: f64 = 0.10;

/// The share of steps that must be allocated within [actual, actual / TARGET_EFFICIENCY] for
/// the target to be reachable at all.
pub(crate) fn needed_share() -> f64 {
    0.5 - TARGET_UNDER
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct NoiseCheck {
    /// Steps measured: observed steps with neighbours on both sides.
    pub steps: usize,
    /// Of those, steps whose value is 0 (their allocation is exact only when it is 0 too).
    pub zero_steps: usize,
    /// 10th and 90th percentiles of value ÷ median of its neighbours (steps with a positive
    /// value and neighbour median; 0 when there are none).
    pub neighbour_ratio_q10: f64,
    pub neighbour_ratio_q90: f64,
    /// Largest share of steps that one fixed multiple of the neighbours' median allocates
    /// within [actual, actual / efficiency] (a zero step counts when the allocation is 0), among
    /// the multiples whose unavoidable starving (load where the neighbours are idle; with a
    /// multiple of 0, all load) stays within `TARGET_UNDER` of the steps.
    pub best_window_share: f64,
    /// Whether that share is at least `needed_share()`: the efficiency target is not ruled out.
    pub reachable: bool,
}

/// The check over every step of `series` (see `check_observed`).
#[cfg(test)]
pub(crate) fn check(series: &[f64], efficiency: f64) -> Option<NoiseCheck> {
    check_observed(series, &vec![true; series.len()], efficiency, TARGET_UNDER)
}

/// The check over the steps `observed` marks, for the target "median efficiency ≥ `efficiency`
/// with at most `under` of the steps under-provisioned" (0 < efficiency ≤ 1), or None when no
/// step has neighbours on both sides. Efficiency is scored as `metrics::score` does: a step
/// allocated 0 with demand 0 is exact (1), any other allocation of demand 0 is 0, and a starved
/// step counts as efficient but under-provisioned.
pub(crate) fn check_observed(
    series: &[f64],
    observed: &[bool],
    efficiency: f64,
    under: f64,
) -> Option<NoiseCheck> {
    let n = series.len();
    if n < 2 * NEIGHBOURS + 1 || !(efficiency > 0.0 && efficiency <= 1.0) || observed.len() != n {
        return None;
    }
    let mut ratios = Vec::with_capacity(n - 2 * NEIGHBOURS);
    // Zero demand amid load (any positive allocation wastes all of it); zero demand with
    // zero neighbours (an allocation of 0 is exact); demand with zero neighbours (starved).
    let (mut zero_amid_load, mut zero_in_quiet, mut load_in_quiet) = (0usize, 0usize, 0usize);
    let mut around = Vec::with_capacity(2 * NEIGHBOURS);
    for i in NEIGHBOURS..n - NEIGHBOURS {
        let x = series[i];
        if !observed[i] || !x.is_finite() || x < 0.0 {
            continue;
        }
        around.clear();
        around.extend_from_slice(&series[i - NEIGHBOURS..i]);
        around.extend_from_slice(&series[i + 1..=i + NEIGHBOURS]);
        around.sort_by(f64::total_cmp);
        let median = quantile_sorted(&around, 0.5);
        match (median > 0.0, x > 0.0) {
            (true, true) => ratios.push(x / median),
            (true, false) => zero_amid_load += 1,
            (false, false) => zero_in_quiet += 1,
            (false, true) => load_in_quiet += 1,
        }
    }
    let steps = ratios.len() + zero_amid_load + zero_in_quiet + load_in_quiet;
    if steps == 0 {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let max_under = under * steps as f64 + 1e-9;
    // Each candidate multiple c gives the steps it allocates within [x, x/E]; it counts only if
    // the starving it cannot avoid stays within the target.
    let mut best = 0;
    // c = 0 allocates nothing: exact on every zero step, starves every other.
    if (ratios.len() + load_in_quiet) as f64 <= max_under {
        best = zero_amid_load + zero_in_quiet;
    }
    // c > 0 starves the load that comes where its neighbours are idle (their median is 0),
    // and wastes its whole allocation on zeros amid load. c·m lands in [x, x/E] exactly when
    // x/m lies in [E·c, c]; the best c is one of the ratios themselves (moving c up to the next
    // ratio never loses a step). How many positive steps a c leaves short is not held against
    // it: a forecaster's interval can widen and narrow with the load, which one fixed multiple
    // cannot.
    if load_in_quiet as f64 <= max_under {
        let mut lo = 0;
        for (hi, &c) in ratios.iter().enumerate() {
            while ratios[lo] < efficiency * c {
                lo += 1;
            }
            best = best.max(hi + 1 - lo + zero_in_quiet);
        }
        best = best.max(zero_in_quiet);
    }
    let share = best as f64 / steps as f64;
    let q = |p: f64| if ratios.is_empty() { 0.0 } else { quantile_sorted(&ratios, p) };
    Some(NoiseCheck {
        steps,
        zero_steps: zero_amid_load + zero_in_quiet,
        neighbour_ratio_q10: q(0.1),
        neighbour_ratio_q90: q(0.9),
        best_window_share: share,
        // Median efficiency ≥ E with ≤ U of the steps short needs (0.5 − U) of them within
        // the window: the other efficient steps can only be starved ones.
        reachable: share >= 0.5 - under,
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
    fn too_short_series_have_no_check_and_all_zero_ones_are_exact() {
        assert!(check(&[1.0; 12], 0.9).is_none());
        assert!(check(&[1.0; 40], 0.0).is_none());
        // Allocating 0 to demand 0 is exact: an idle series is all signal.
        let c = check(&[0.0; 40], 0.9).unwrap();
        assert_eq!((c.steps, c.zero_steps, c.best_window_share, c.reachable), (28, 28, 1.0, true));
    }

    /// The case: half the steps are zeros scattered amid load. Each zero's neighbours
    /// have a positive median, so any multiple of it wastes the whole allocation there, and
    /// allocating 0 starves the other half: no reference reaches the target, as no method does.
    #[test]
    fn zeros_amid_load_rule_the_target_out() {
        let s: Vec<f64> =
            (0..200).map(|i| if (i * 7919) % 13 < 6 { 0.0 } else { 10.0 + (i % 3) as f64 }).collect();
        let c = check(&s, 0.9).unwrap();
        assert!(c.zero_steps * 3 > c.steps, "{c:?}");
        assert!(!c.reachable, "{c:?}");
        assert!(c.best_window_share < needed_share(), "{c:?}");
    }

    /// Load that comes where the neighbours are idle cannot be allocated by any multiple of
    /// their median: isolated bursts amid zeros rule the target out; long blocks of load
    /// amid long idle stretches (a batch job) do not.
    #[test]
    fn bursts_amid_idle_steps_are_starved_blocks_are_not() {
        let bursts: Vec<f64> = (0..300).map(|i| if (i * 7919) % 5 == 0 { 40.0 } else { 0.0 }).collect();
        let c = check(&bursts, 0.9).unwrap();
        assert!(!c.reachable, "{c:?}");
        let blocks: Vec<f64> = (0..300).map(|i| if (i / 30) % 3 == 0 { 40.0 } else { 0.0 }).collect();
        let c = check(&blocks, 0.9).unwrap();
        assert!(c.reachable && c.best_window_share > 0.9, "{c:?}");
    }
}
