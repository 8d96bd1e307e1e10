//! What a run reports (serde): time to resolution, time to process per service, drops, SLO,
//! replicas over time, utilisation (per server or per location group) and RUB over time,
//! bandwidth per link, pending pods, cost, and Little's-law figures that check the run's own
//! bookkeeping. Series have at most `series.max_points` points (`series.rs`).

use super::engine::World;
use super::scenario::SeriesDetail;
use super::stats::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    pub scenario: String,
    pub seed: u64,
    /// Requests generated.
    pub requests: u64,
    pub completed: u64,
    /// Wall-clock seconds of the run (filled in by the caller: the engine has no clock).
    pub wall_s: f64,
    /// Simulated seconds.
    pub sim_time_s: f64,
    pub events: u64,
    /// Time to resolution of completed requests after the warm-up, ms.
    pub ttr_ms: Summary,
    pub drops: Drops,
    pub slo: Slo,
    pub replicas: BTreeMap<String, ReplicaFigures>,
    pub services: BTreeMap<String, ServiceFigures>,
    pub pending_pods: PendingFigures,
    pub in_flight: InFlight,
    /// L (time-average requests in the system) and λ·W (throughput × mean time in the
    /// system), which Little's law says are equal.
    pub little: Little,
    pub series: Series,
    /// Servers that hosted a pod at some time.
    pub servers: Vec<ServerFigures>,
    /// Utilisation over time per location group (with `series.detail: groups`, the default
    /// above 100 servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupFigures>,
    /// Traffic between location groups (region/zone), busiest first.
    pub links: Vec<LinkFigures>,
    pub cost: Cost,
    /// Where the pods were when the most were running.
    pub peak_placement: PeakPlacement,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Drops {
    /// Arrivals at a full queue.
    pub queue_full: u64,
    /// No ready pod to send the request to.
    pub no_endpoint: u64,
    /// Lost with a crashed pod or a lost node.
    pub failed: u64,
}

impl Drops {
    pub fn total(&self) -> u64 {
        self.queue_full + self.no_endpoint + self.failed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub target_ms: f64,
    pub percentile: f64,
    /// Counted requests slower than the target, plus counted requests that never completed.
    pub violations: u64,
    /// The percentile of time to resolution (drops counting as too slow) is within target.
    pub met: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReplicaFigures {
    pub max: u32,
    #[serde(rename = "final")]
    pub last: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceFigures {
    /// Time to process (queue + service) at this service's pods, ms.
    pub ttp_ms: Summary,
    /// Response time as the service's callers see it (its pods' time to process plus the
    /// calls it makes), ms: what a mesh sidecar at the destination measures.
    #[serde(default)]
    pub rt_ms: Summary,
    /// Counted responses slower than the scenario's SLO target (its time to process plus
    /// calls, as `rt_ms`).
    #[serde(default)]
    pub slo_violations: u64,
    /// Mean time queued before service, ms.
    pub wait_ms: f64,
    pub served: u64,
    pub drops: Drops,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PendingFigures {
    pub max: u32,
    #[serde(rename = "final")]
    pub last: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    pub mean: f64,
    pub max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Little {
    pub l: f64,
    pub lambda_w: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub t_s: Vec<f64>,
    pub replicas: BTreeMap<String, Vec<u32>>,
    pub pending: Vec<u32>,
    pub in_flight: Vec<u32>,
    /// RUB over live servers (kpi::rub of each server's mean of CPU, memory, bandwidth).
    pub rub: Vec<f64>,
    /// p99 time to resolution of the requests completed in each interval (0 when none), ms.
    #[serde(default)]
    pub ttr_p99_ms: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFigures {
    pub name: String,
    pub location: String,
    pub tier: String,
    pub max_pods: u32,
    /// Utilisation at the end of the run.
    #[serde(default)]
    pub last: Util,
    /// Over time, with `series.detail: servers` (the default up to 100 servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mem: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bw: Vec<f64>,
}

/// CPU, memory and bandwidth utilisation, 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Util {
    pub cpu: f64,
    pub mem: f64,
    pub bw: f64,
}

/// A location group's utilisation over time: Σ used / Σ allocatable over its live servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub name: String,
    pub servers: u32,
    pub cpu: Vec<f64>,
    pub mem: Vec<f64>,
    pub bw: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkFigures {
    pub a: String,
    pub b: String,
    pub mb: f64,
    pub mean_mbps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Σ price × hours over servers while they host at least one pod.
    pub total: f64,
    /// Σ over pods of price × hours × the larger of the CPU and memory share of its server the
    /// pod requests: what the workloads cost when servers are shared, so replicas move it.
    #[serde(default)]
    pub requested: f64,
    pub by_location: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakPlacement {
    pub t_s: f64,
    pub pods_by_tier: BTreeMap<String, u32>,
}

impl World<'_> {
    pub(crate) fn outputs(&mut self) -> Outputs {
        let end = self.now;
        // Direct pods commit what they served by the end; what they hold past it is unfinished.
        for p in 0..self.pods.len() as u32 {
            self.settle(p, end);
        }
        if self.series.t.last() != Some(&(end / 1000.0)) {
            self.sample();
        }
        self.in_area += self.in_flight as f64 * (end - self.in_last);
        self.in_last = end;
        let mut drops = Drops::default();
        let mut services = BTreeMap::new();
        let mut replicas = BTreeMap::new();
        let mut rep_series = BTreeMap::new();
        let mut rep_store = std::mem::take(&mut self.series.replicas);
        for (s, reps) in self.services.iter().zip(&mut rep_store) {
            let d = Drops { queue_full: s.queue_full, no_endpoint: s.no_endpoint, failed: s.failed };
            drops.queue_full += d.queue_full;
            drops.no_endpoint += d.no_endpoint;
            drops.failed += d.failed;
            services.insert(
                s.name.clone(),
                ServiceFigures {
                    ttp_ms: s.ttp.summary(),
                    rt_ms: s.rt.summary(),
                    slo_violations: s.rt_over,
                    wait_ms: if s.ttp.count() > 0 { s.wait_sum / s.ttp.count() as f64 } else { 0.0 },
                    served: s.served,
                    drops: d,
                },
            );
            replicas.insert(s.name.clone(), ReplicaFigures { max: s.replicas_max, last: s.live });
            rep_series.insert(s.name.clone(), std::mem::take(reps));
        }
        let (target, pct) = self.sc.slo.map_or((f64::INFINITY, 99.0), |s| (s.target_ms, s.percentile));
        let violations = self.slo_over + self.counted_drops;
        let counted = self.ttr.count() + self.counted_drops;
        let met = (violations as f64) <= (1.0 - pct / 100.0) * counted as f64;
        let mut cost = Cost { total: 0.0, requested: 0.0, by_location: BTreeMap::new() };
        for s in &self.servers {
            cost.requested +=
                s.requested_cost + (end - s.requested_since) / 3_600_000.0 * s.price * s.requested_share;
            let mut c = s.cost;
            if s.pods > 0 {
                c += (end - s.on_since) / 3_600_000.0 * s.price;
            }
            if c > 0.0 {
                cost.total += c;
                *cost.by_location.entry(s.group_label.clone()).or_default() += c;
            }
        }
        let g = self.groups.len();
        let mut links = Vec::new();
        for a in 0..g {
            for b in a..g {
                let bytes = self.link_bytes[a * g + b];
                if bytes > 0.0 {
                    links.push(LinkFigures {
                        a: self.groups[a].clone(),
                        b: self.groups[b].clone(),
                        mb: bytes / 1e6,
                        mean_mbps: if end > 0.0 { bytes * 8.0 / 1e6 / (end / 1000.0) } else { 0.0 },
                    });
                }
            }
        }
        links.sort_by(|x, y| y.mb.total_cmp(&x.mb));
        let util = std::mem::take(&mut self.series.util);
        let (per_server, groups) = match self.series.detail {
            SeriesDetail::Servers => (util, Vec::new()),
            SeriesDetail::Groups => {
                let mut n = vec![0u32; self.groups.len()];
                for i in 0..self.servers.len() {
                    n[self.ep_group[i] as usize] += 1;
                }
                let groups = util
                    .into_iter()
                    .enumerate()
                    .filter(|(g, _)| n[*g] > 0)
                    .map(|(g, u)| GroupFigures {
                        name: self.groups[g].clone(),
                        servers: n[g],
                        cpu: u.cpu,
                        mem: u.mem,
                        bw: u.bw,
                    })
                    .collect();
                (Vec::new(), groups)
            }
            _ => (Vec::new(), Vec::new()),
        };
        let finished = self.completed + self.aborted;
        Outputs {
            scenario: self.sc.name.clone(),
            seed: self.seed,
            requests: self.requests,
            completed: self.completed,
            wall_s: 0.0,
            sim_time_s: end / 1000.0,
            events: self.events,
            ttr_ms: self.ttr.summary(),
            drops,
            slo: Slo { target_ms: target, percentile: pct, violations, met },
            replicas,
            services,
            pending_pods: PendingFigures { max: self.pending_max, last: self.pending.len() as u32 },
            in_flight: InFlight {
                mean: if end > 0.0 { self.in_area / end } else { 0.0 },
                max: self.max_in_flight,
            },
            little: Little {
                l: if end > 0.0 { self.in_area / end } else { 0.0 },
                lambda_w: if end > 0.0 && finished > 0 {
                    (finished as f64 / end) * (self.sojourn_sum / finished as f64)
                } else {
                    0.0
                },
            },
            series: Series {
                t_s: self.series.t.clone(),
                replicas: rep_series,
                pending: self.series.pending.clone(),
                in_flight: self.series.in_flight.clone(),
                rub: self.series.rub.clone(),
                ttr_p99_ms: self.series.p99.clone(),
            },
            servers: self
                .servers
                .iter()
                .enumerate()
                .filter(|(_, s)| s.max_pods > 0)
                .map(|(i, s)| {
                    let u = per_server.get(i).cloned().unwrap_or_default();
                    ServerFigures {
                        name: s.name.clone(),
                        location: s.group_label.clone(),
                        tier: s.tier.clone(),
                        max_pods: s.max_pods,
                        last: Util { cpu: s.last[0], mem: s.last[1], bw: s.last[2] },
                        cpu: u.cpu,
                        mem: u.mem,
                        bw: u.bw,
                    }
                })
                .collect(),
            groups,
            links,
            cost,
            peak_placement: PeakPlacement {
                t_s: self.peak_t,
                pods_by_tier: self.peak_tiers.iter().cloned().collect(),
            },
        }
    }
}
