//! Closed-form queueing the demo uses each tick (a fluid simulation, not per request: the
//! request-level engine is `sim`).

/// The waiting time of M/M/c as (probability of waiting, mean wait in ms when waiting): the
/// wait is exponential with rate cμ − λ (Erlang C). Saturated: the fluid backlog accounts for it.
pub fn mmc_wait(lambda: f64, mu: f64, c: f64) -> (f64, f64) {
    let c_int = c.max(1.0).round() as u32;
    let a = lambda / mu;
    if lambda <= 0.0 || a / c_int as f64 >= 0.999 {
        return (0.0, 0.0);
    }
    (erlang_c(c_int, a), 1000.0 / (c_int as f64 * mu - lambda))
}

/// Probability of waiting in M/M/c with offered load `a` = λ/μ.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0; // Erlang B by recursion
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    b / (1.0 - rho + rho * b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_mm1() {
        // M/M/1: P(wait) = ρ
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // c = 2, a = 1: C = 1/3
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }

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
