//! M/M/c queueing in closed form (Erlang C), the one copy the demo's fluid simulation, the
//! analytic evaluator and the simulator's calibration all use. Pure math; depends on nothing.

/// Probability of waiting in M/M/c with `c` servers and offered load `a` = λ/μ (erlangs),
/// by Erlang B's recursion. Meaningful for `a < c`.
pub(crate) fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    b / (1.0 - rho + rho * b)
}

/// The `1 − p` quantile of the waiting time (s) in M/M/c with offered load `a` and mean service
/// time `mean_s`: P(W > t) = C(c, a)·e^{−(c − a)t/mean_s}. Infinite when `a ≥ c` (no steady
/// state); 0 when fewer than `p` of the requests wait at all.
pub(crate) fn wait_quantile_s(c: u32, a: f64, mean_s: f64, p: f64) -> f64 {
    if a >= c as f64 {
        return f64::INFINITY;
    }
    let pw = erlang_c(c, a);
    if pw <= p { 0.0 } else { (pw / p).ln() * mean_s / (c as f64 - a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_mm1_and_a_hand_computed_mm2() {
        // M/M/1: P(wait) = ρ
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // c = 2, a = 1: C = 1/3
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_p99_wait_of_mm1_is_the_textbook_one() {
        // M/M/1 at ρ = 0.9, μ = 100/s: P(W > t) = 0.9 e^{−10 t}, so p99 = ln(90)/10 s.
        assert!((wait_quantile_s(1, 0.9, 0.01, 0.01) - 90f64.ln() / 10.0).abs() < 1e-12);
        assert_eq!(wait_quantile_s(1, 0.005, 0.01, 0.01), 0.0, "almost nobody waits");
        assert_eq!(wait_quantile_s(2, 2.0, 0.01, 0.01), f64::INFINITY, "saturated");
    }
}
