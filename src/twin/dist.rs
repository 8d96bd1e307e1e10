//! Random variables for service times, latencies and inter-arrival times (KubeTwin's set),
//! seeded by the caller so every run is reproducible.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal, Pareto};
use serde::{Deserialize, Serialize};

/// A non-negative random variable. Units are the caller's (ms for times and latencies).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    Constant {
        value: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Gaussian, clamped at 0 (a time cannot be negative).
    Normal {
        mean: f64,
        std: f64,
    },
    /// Gaussian restricted to [min, max] by rejection (falls back to clamping after 64 tries).
    TruncatedNormal {
        mean: f64,
        std: f64,
        min: f64,
        max: f64,
    },
    /// exp(N(mu, sigma)): median e^mu.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// Pareto with minimum `scale` and tail index `shape`.
    Pareto {
        scale: f64,
        shape: f64,
    },
    /// Draws uniformly from recorded samples.
    Empirical {
        samples: Vec<f64>,
    },
    /// Picks a component with probability proportional to its weight.
    Mixture {
        components: Vec<Weighted>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighted {
    pub weight: f64,
    pub dist: Dist,
}

impl Dist {
    pub fn constant(value: f64) -> Dist {
        Dist::Constant { value }
    }

    /// Log-normal with the given mean and standard deviation (of the variable itself).
    #[cfg(test)]
    pub(crate) fn lognormal_mean_std(mean: f64, std: f64) -> Dist {
        let sigma2 = (1.0 + (std * std) / (mean * mean)).ln();
        Dist::LogNormal { mu: mean.ln() - sigma2 / 2.0, sigma: sigma2.sqrt() }
    }

    /// Checks the parameters; the message names the offending one.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() { Ok(()) } else { Err(format!("{name} must be a finite number, got {v}")) }
        };
        let nonneg = |name: &str, v: f64| {
            finite(name, v)?;
            if v >= 0.0 { Ok(()) } else { Err(format!("{name} must be ≥ 0, got {v}")) }
        };
        let pos = |name: &str, v: f64| {
            finite(name, v)?;
            if v > 0.0 { Ok(()) } else { Err(format!("{name} must be > 0, got {v}")) }
        };
        match self {
            Dist::Constant { value } => nonneg("value", *value),
            Dist::Uniform { min, max } => {
                nonneg("min", *min)?;
                nonneg("max", *max)?;
                if min <= max { Ok(()) } else { Err(format!("uniform min {min} > max {max}")) }
            }
            Dist::Exponential { mean } => pos("mean", *mean),
            Dist::Normal { mean, std } => {
                finite("mean", *mean)?;
                nonneg("std", *std)
            }
            Dist::TruncatedNormal { mean, std, min, max } => {
                finite("mean", *mean)?;
                nonneg("std", *std)?;
                nonneg("min", *min)?;
                finite("max", *max)?;
                if min <= max { Ok(()) } else { Err(format!("truncated_normal min {min} > max {max}")) }
            }
            Dist::LogNormal { mu, sigma } => {
                finite("mu", *mu)?;
                nonneg("sigma", *sigma)
            }
            Dist::Pareto { scale, shape } => {
                pos("scale", *scale)?;
                pos("shape", *shape)
            }
            Dist::Empirical { samples } => {
                if samples.is_empty() {
                    return Err("empirical needs at least one sample".into());
                }
                samples.iter().try_for_each(|s| nonneg("sample", *s))
            }
            Dist::Mixture { components } => {
                if components.is_empty() {
                    return Err("mixture needs at least one component".into());
                }
                let mut total = 0.0;
                for c in components {
                    nonneg("weight", c.weight)?;
                    total += c.weight;
                    c.dist.validate()?;
                }
                if total > 0.0 { Ok(()) } else { Err("mixture weights sum to 0".into()) }
            }
        }
    }

    /// The expected value (infinite for a Pareto with shape ≤ 1).
    pub(crate) fn mean(&self) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Exponential { mean } => *mean,
            Dist::Normal { mean, .. } => mean.max(0.0),
            Dist::TruncatedNormal { mean, min, max, .. } => mean.clamp(*min, *max),
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale / (shape - 1.0)
                }
            }
            Dist::Empirical { samples } => samples.iter().sum::<f64>() / samples.len().max(1) as f64,
            Dist::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                components.iter().map(|c| c.weight * c.dist.mean()).sum::<f64>() / total
            }
        }
    }

    /// One draw. Call only on a validated distribution.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            Dist::Constant { value } => *value,
            Dist::Uniform { min, max } => {
                if max > min {
                    min + (max - min) * unit(rng)
                } else {
                    *min
                }
            }
            Dist::Exponential { mean } => Exp::new(1.0 / mean).map(|d| d.sample(rng)).unwrap_or(*mean),
            Dist::Normal { mean, std } => {
                Normal::new(*mean, *std).map(|d| d.sample(rng)).unwrap_or(*mean).max(0.0)
            }
            Dist::TruncatedNormal { mean, std, min, max } => {
                let Ok(n) = Normal::new(*mean, *std) else { return mean.clamp(*min, *max) };
                for _ in 0..64 {
                    let x = n.sample(rng);
                    if x >= *min && x <= *max {
                        return x;
                    }
                }
                mean.clamp(*min, *max)
            }
            Dist::LogNormal { mu, sigma } => {
                LogNormal::new(*mu, *sigma).map(|d| d.sample(rng)).unwrap_or_else(|_| mu.exp())
            }
            Dist::Pareto { scale, shape } => {
                Pareto::new(*scale, *shape).map(|d| d.sample(rng)).unwrap_or(*scale)
            }
            Dist::Empirical { samples } => {
                let i = ((unit(rng) * samples.len() as f64) as usize).min(samples.len() - 1);
                samples[i]
            }
            Dist::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let mut u = unit(rng) * total;
                for c in components {
                    if u < c.weight {
                        return c.dist.sample(rng);
                    }
                    u -= c.weight;
                }
                components.last().map(|c| c.dist.sample(rng)).unwrap_or(0.0)
            }
        }
    }
}

/// A uniform draw in [0, 1) from the top 53 bits.
fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = SmallRng::seed_from_u64(7);
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_analytic_means() {
        let cases = [
            Dist::constant(3.0),
            Dist::Uniform { min: 1.0, max: 5.0 },
            Dist::Exponential { mean: 2.0 },
            Dist::lognormal_mean_std(10.0, 3.0),
            Dist::Pareto { scale: 1.0, shape: 3.0 },
            Dist::Empirical { samples: vec![1.0, 2.0, 6.0] },
            Dist::Mixture {
                components: vec![
                    Weighted { weight: 1.0, dist: Dist::constant(1.0) },
                    Weighted { weight: 3.0, dist: Dist::constant(5.0) },
                ],
            },
        ];
        for d in cases {
            let m = sample_mean(&d, 200_000);
            assert!((m - d.mean()).abs() / d.mean() < 0.02, "{d:?}: sample {m} vs {}", d.mean());
        }
    }

    #[test]
    fn truncated_normal_stays_in_bounds() {
        let d = Dist::TruncatedNormal { mean: 12.6, std: 5.82, min: 5.0, max: 20.0 };
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..10_000 {
            let x = d.sample(&mut rng);
            assert!((5.0..=20.0).contains(&x));
        }
    }

    #[test]
    fn validate_rejects_impossible_parameters() {
        assert!(Dist::Exponential { mean: -1.0 }.validate().unwrap_err().contains("mean"));
        assert!(Dist::Uniform { min: 3.0, max: 1.0 }.validate().is_err());
        assert!(Dist::Empirical { samples: vec![] }.validate().is_err());
        assert!(Dist::Pareto { scale: 1.0, shape: f64::NAN }.validate().is_err());
        assert!(Dist::Mixture { components: vec![] }.validate().is_err());
    }
}
