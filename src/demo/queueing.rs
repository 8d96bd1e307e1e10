//! Closed-form queueing the demo uses each tick (a fluid simulation, not per request: the
//! request-level engine is `sim`).

use crate::queueing::erlang_c;

/// The waiting time of M/M/c as (probability of waiting, mean wait in ms when waiting): the
/// wait is exponential with rate cμ − λ (Erlang C). Saturated: the fluid backlog accounts for it.
pub(crate) fn mmc_wait(lambda: f64, mu: f64, c: f64) -> (f64, f64) {
    let c_int = c.max(1.0).round() as u32;
    let a = lambda / mu;
    if lambda <= 0.0 || a / c_int as f64 >= 0.999 {
        return (0.0, 0.0);
    }
    (erlang_c(c_int, a), 1000.0 / (c_int as f64 * mu - lambda))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_with_load() {
        let (p_light, light) = mmc_wait(10.0, 100.0, 1.0);
        let (p_heavy, heavy) = mmc_wait(90.0, 100.0, 1.0);
        assert!(p_heavy > p_light * 5.0 && heavy > light * 5.0);
        // M/M/1 at ρ = 0.9: waits with probability 0.9, then 1/(μ − λ) = 100 ms on average.
        assert!((p_heavy - 0.9).abs() < 1e-12 && (heavy - 100.0).abs() < 1e-9);
        assert_eq!(mmc_wait(100.0, 100.0, 1.0), (0.0, 0.0), "saturated: the backlog accounts for it");
    }
}
