//! The demo's datacenters: DIRA-LDT's 50-server racks and KubeTwin's MEC federation.

use crate::twin::{LatencyModel, Location, Resources, Server};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DemoPreset {
    /// DIRA-LDT: 50 servers (64 cores, 256 GB, 1 Gbps) in 5 racks; 1 ms intra-rack, 20 ms inter-rack.
    Dc,
    /// KubeTwin: Local DC, Tier-1, Tier-2 and Remote tiers over seven regions (Table I latencies).
    Mec,
}

impl DemoPreset {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            DemoPreset::Dc => "dc",
            DemoPreset::Mec => "mec",
        }
    }
}

const GIB: f64 = 1024.0;

pub(crate) fn servers(preset: DemoPreset) -> Vec<Server> {
    match preset {
        DemoPreset::Dc => dc_servers(),
        DemoPreset::Mec => mec_servers(),
    }
}

pub(crate) fn latency(preset: DemoPreset) -> LatencyModel {
    match preset {
        DemoPreset::Dc => LatencyModel::racks(1.0, 20.0),
        DemoPreset::Mec => LatencyModel::kubetwin_table1(),
    }
}

fn dc_servers() -> Vec<Server> {
    let cap = Resources::new(64_000.0, 256.0 * GIB, 1000.0);
    let mut v = Vec::new();
    for rack in 1..=5 {
        for n in 1..=10 {
            let mut s = Server::new(
                &format!("r{rack}-{n:02}"),
                Location::new("dc", "dc-a", &format!("rack-{rack}")),
                cap,
            );
            s.hardware = "64c-256g-1g".into();
            s.price_per_hour = 2.30;
            s.labels.insert("topology.kubernetes.io/zone".into(), "dc-a".into());
            v.push(s);
        }
    }
    v
}

/// The tiers of KubeTwin's use case: (tier, regions, nodes per region, cores, GiB, speed, price).
type TierRow = (&'static str, &'static [&'static str], usize, f64, f64, f64, f64);
const MEC_TIERS: &[TierRow] = &[
    ("local-dc", &["eu-south-1"], 25, 16.0, 64.0, 1.0, 1.20),
    ("tier-1", &["eu-central-1", "eu-west-3"], 50, 16.0, 64.0, 1.0, 0.80),
    ("tier-2", &["eu-west-2", "eu-north-1"], 75, 16.0, 64.0, 1.0, 0.60),
    ("remote", &["ca-central-1", "us-east-1"], 100, 32.0, 128.0, 2.0, 0.70),
];

fn mec_servers() -> Vec<Server> {
    let mut v = Vec::new();
    for &(tier, regions, per_region, cores, gib, speed, price) in MEC_TIERS {
        for region in regions {
            for n in 0..per_region {
                let rack = format!("rack-{}", n / 25 + 1);
                let mut s = Server::new(
                    &format!("{region}-{:03}", n + 1),
                    Location::new(region, tier, &rack),
                    Resources::new(cores * 1000.0, gib * GIB, 10_000.0),
                );
                s.hardware =
                    format!("{}c-{}g{}", cores as u32, gib as u32, if speed > 1.0 { "-2x" } else { "" });
                s.speed = speed;
                s.price_per_hour = price;
                s.labels.insert("twintop.io/tier".into(), tier.into());
                v.push(s);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_papers() {
        let dc = servers(DemoPreset::Dc);
        assert_eq!(dc.len(), 50);
        assert!(dc.iter().all(|s| s.capacity.cpu_m == 64_000.0 && s.capacity.bw_mbps == 1000.0));
        let mec = servers(DemoPreset::Mec);
        assert_eq!(mec.len(), 25 + 100 + 150 + 200);
        assert_eq!(mec.iter().filter(|s| s.location.zone == "remote").map(|s| s.speed).sum::<f64>(), 400.0);
    }
}
