//! Network latency between servers: a random variable per region pair and, inside a region,
//! one per topology level (KubeTwin models intra-cluster latency as a Gaussian mixture).

use super::dist::{Dist, Weighted};
use super::model::Location;
use serde::{Deserialize, Serialize};

/// One-way latency in milliseconds between two servers, by how much topology they share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyModel {
    /// Two pods on one server.
    pub same_server: Dist,
    pub same_rack: Dist,
    pub same_zone: Dist,
    pub same_region: Dist,
    /// Between regions not listed in `region_pairs`.
    pub inter_region: Dist,
    /// Symmetric region-to-region latencies.
    #[serde(default)]
    pub region_pairs: Vec<RegionPair>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPair {
    pub a: String,
    pub b: String,
    pub dist: Dist,
}

impl LatencyModel {
    /// DIRA-LDT's model: constant `intra_rack_ms` within a rack, `inter_rack_ms` elsewhere.
    pub(crate) fn racks(intra_rack_ms: f64, inter_rack_ms: f64) -> LatencyModel {
        LatencyModel {
            same_server: Dist::constant(0.0),
            same_rack: Dist::constant(intra_rack_ms),
            same_zone: Dist::constant(inter_rack_ms),
            same_region: Dist::constant(inter_rack_ms),
            inter_region: Dist::constant(inter_rack_ms),
            region_pairs: Vec::new(),
        }
    }

    /// KubeTwin's intra-cluster model: equal-weight mixture of three Gaussians from container
    /// ping-pong in bridge mode (payloads 32/128/1024 B; medians 47.52/47.62/47.97 µs).
    pub(crate) fn kubetwin_intra_cluster() -> Dist {
        let g = |mean_us: f64, std_us: f64| Weighted {
            weight: 1.0,
            dist: Dist::Normal { mean: mean_us / 1000.0, std: std_us / 1000.0 },
        };
        Dist::Mixture { components: vec![g(47.52, 5.86), g(47.62, 5.59), g(47.97, 4.92)] }
    }

    /// KubeTwin's Table I: truncated Gaussians (μ, σ in ms) from cloud ping data between the
    /// seven AWS regions of its MEC use case, with the intra-cluster mixture inside a region.
    pub(crate) fn kubetwin_table1() -> LatencyModel {
        const T: &[(&str, &str, f64, f64)] = &[
            ("eu-south-1", "eu-central-1", 12.60, 5.82),
            ("eu-south-1", "eu-west-3", 19.80, 1.95),
            ("eu-south-1", "eu-west-2", 26.58, 2.05),
            ("eu-south-1", "eu-north-1", 32.28, 6.43),
            ("eu-south-1", "ca-central-1", 104.55, 6.73),
            ("eu-south-1", "us-east-1", 100.13, 1.89),
            ("eu-central-1", "eu-west-3", 10.53, 2.13),
            ("eu-central-1", "eu-west-2", 16.34, 1.82),
            ("eu-central-1", "eu-north-1", 23.16, 3.18),
            ("eu-central-1", "ca-central-1", 94.61, 6.46),
            ("eu-central-1", "us-east-1", 91.08, 2.05),
            ("eu-west-3", "eu-west-2", 10.27, 1.93),
            ("eu-west-3", "eu-north-1", 30.58, 3.92),
            ("eu-west-3", "ca-central-1", 87.64, 6.19),
            ("eu-west-3", "us-east-1", 83.41, 1.75),
            ("eu-west-2", "eu-north-1", 32.81, 2.19),
            ("eu-west-2", "ca-central-1", 80.73, 6.13),
            ("eu-west-2", "us-east-1", 78.12, 6.40),
            ("eu-north-1", "ca-central-1", 110.59, 7.08),
            ("eu-north-1", "us-east-1", 108.56, 2.69),
            ("ca-central-1", "us-east-1", 17.66, 6.55),
        ];
        let intra = Self::kubetwin_intra_cluster();
        LatencyModel {
            same_server: intra.clone(),
            same_rack: intra.clone(),
            same_zone: intra.clone(),
            same_region: intra,
            inter_region: Dist::constant(100.0),
            region_pairs: T
                .iter()
                .map(|&(a, b, mu, sigma)| RegionPair {
                    a: a.into(),
                    b: b.into(),
                    dist: Dist::TruncatedNormal {
                        mean: mu,
                        std: sigma,
                        min: (mu - 3.0 * sigma).max(0.0),
                        max: mu + 3.0 * sigma,
                    },
                })
                .collect(),
        }
    }

    /// The distribution of one hop between two servers (`same` when both are one server).
    pub(crate) fn between(&self, a: &Location, b: &Location, same_server: bool) -> &Dist {
        if same_server {
            return &self.same_server;
        }
        if a.region != b.region {
            return self
                .region_pairs
                .iter()
                .find(|p| (p.a == a.region && p.b == b.region) || (p.a == b.region && p.b == a.region))
                .map(|p| &p.dist)
                .unwrap_or(&self.inter_region);
        }
        if a.zone != b.zone {
            return &self.same_region;
        }
        if a.rack != b.rack {
            return &self.same_zone;
        }
        &self.same_rack
    }

    /// Expected one-way latency in ms between two servers.
    pub(crate) fn mean_between(&self, a: &Location, b: &Location, same_server: bool) -> f64 {
        self.between(a, b, same_server).mean()
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, d) in [
            ("same_server", &self.same_server),
            ("same_rack", &self.same_rack),
            ("same_zone", &self.same_zone),
            ("same_region", &self.same_region),
            ("inter_region", &self.inter_region),
        ] {
            d.validate().map_err(|e| format!("latency.{name}: {e}"))?;
        }
        for p in &self.region_pairs {
            p.dist.validate().map_err(|e| format!("latency {}..{}: {e}", p.a, p.b))?;
        }
        Ok(())
    }
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel::racks(1.0, 20.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racks_model_distinguishes_levels() {
        let m = LatencyModel::racks(1.0, 20.0);
        let r1 = Location::new("dc", "z", "rack-1");
        let r2 = Location::new("dc", "z", "rack-2");
        assert_eq!(m.mean_between(&r1, &r1, true), 0.0);
        assert_eq!(m.mean_between(&r1, &r1, false), 1.0);
        assert_eq!(m.mean_between(&r1, &r2, false), 20.0);
    }

    #[test]
    fn table1_is_symmetric_and_intra_is_microseconds() {
        let m = LatencyModel::kubetwin_table1();
        let milan = Location::new("eu-south-1", "", "");
        let virginia = Location::new("us-east-1", "", "");
        assert!((m.mean_between(&milan, &virginia, false) - 100.13).abs() < 1e-9);
        assert!((m.mean_between(&virginia, &milan, false) - 100.13).abs() < 1e-9);
        let intra = m.mean_between(&milan, &milan, false);
        assert!((intra - 0.04770).abs() < 0.001, "{intra}");
        m.validate().unwrap();
    }
}
