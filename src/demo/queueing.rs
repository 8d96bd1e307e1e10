//! Closed-form queueing the demo uses each tick (a fluid simulation, not per request: the
//! request-level engine is `sim`).

/// Waiting-time quantiles (ms) of an M/M/c queue with arrival rate `lambda` (1/s), per-server
/// service rate `mu` (1/s) and `c` servers: P(W > t) = C(c, ρ)·e^{−(cμ−λ)t} (Erlang C).
pub(crate) fn mmc_quantiles_ms(lambda: f64, mu: f64, c: f64) -> (f64, f64) {
    let c_int = c.max(1.0).round() as u32;
    let a = lambda / mu;
    let rho = a / c_int as f64;
    if rho >= 0.999 {
        // Saturated: the fluid backlog accounts for the wait.
        return (0.0, 0.0);
    }
    let pw = erlang_c(c_int, a);
    let rate = c_int as f64 * mu - lambda;
    let q = |p: f64| if pw <= p { 0.0 } else { (pw / p).ln() / rate * 1000.0 };
    (q(0.5), q(0.01))
}

use crate::queueing::erlang_c;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_grow_with_load() {
        let (_, light) = mmc_quantiles_ms(10.0, 100.0, 1.0);
        let (_, heavy) = mmc_quantiles_ms(90.0, 100.0, 1.0);
        assert!(heavy > light * 5.0);
        // M/M/1 at ρ = 0.9: P(W > t) = 0.9 e^{−10 t}: p99 = ln(90)/10 s
        assert!((heavy - (90f64).ln() / 10.0 * 1000.0).abs() < 1e-6);
    }
}
