//! The scenario: what a simulation runs (servers, latency, services, workflows, load,
//! autoscalers, scheduled changes, SLO). Written by people in YAML (docs/scenarios.md), or
//! built from a twin snapshot (`from_snapshot.rs`). Parsing and validation are pure: the caller
//! reads files and passes their text.

use super::hpa::{Behavior, ScalerMode};
use crate::twin::latency::RegionPair;
use crate::twin::scheduling::{Scheduling, Taint};
use crate::twin::{Dist, LatencyModel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Stop at this simulated time; by default the run ends when every generator is done and
    /// every request has left the system.
    #[serde(default)]
    pub duration_s: Option<f64>,
    /// Requests that arrive before this time are not counted in the statistics.
    #[serde(default)]
    pub warmup_s: f64,
    /// Interval of the time series (replicas, utilisation, RUB).
    #[serde(default = "default_sample_s")]
    pub sample_s: f64,
    /// How many points the series keep and how much per-server detail (memory is bounded by
    /// this, not by the horizon).
    #[serde(default)]
    pub series: SeriesSpec,
    #[serde(default)]
    pub latency: LatencySpec,
    pub servers: Vec<ServerGroup>,
    #[serde(default)]
    pub scheduler: SchedulerSpec,
    pub services: Vec<ServiceSpec>,
    pub workflows: Vec<WorkflowSpec>,
    pub load: Vec<GeneratorSpec>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
    #[serde(default)]
    pub slo: Option<SloSpec>,
    #[serde(default)]
    pub limits: Limits,
}

fn default_sample_s() -> f64 {
    15.0
}

/// The resolution a caller wants the series at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// At most this many points per series: a run that outgrows it merges neighbouring points
    /// and doubles `sample_s` (≥ 2).
    #[serde(default = "default_max_points")]
    pub max_points: u32,
    /// Utilisation over time per server, per location group, or neither (every server's last
    /// values are reported either way).
    #[serde(default)]
    pub detail: SeriesDetail,
}

fn default_max_points() -> u32 {
    1000
}

impl Default for SeriesSpec {
    fn default() -> Self {
        SeriesSpec { max_points: default_max_points(), detail: SeriesDetail::Auto }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesDetail {
    /// Per server up to 100 servers, else per group.
    #[default]
    Auto,
    Servers,
    /// Per location group (region/zone): capacity-weighted over its live servers.
    Groups,
    None,
}

/// The network: a preset, optionally overridden level by level, plus region pairs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    #[serde(default)]
    pub preset: LatencyPreset,
    /// For the `racks` preset.
    #[serde(default)]
    pub intra_rack_ms: Option<f64>,
    #[serde(default)]
    pub inter_rack_ms: Option<f64>,
    #[serde(default)]
    pub same_server: Option<Dist>,
    #[serde(default)]
    pub same_rack: Option<Dist>,
    #[serde(default)]
    pub same_zone: Option<Dist>,
    #[serde(default)]
    pub same_region: Option<Dist>,
    #[serde(default)]
    pub inter_region: Option<Dist>,
    /// Added to (or replacing) the preset's pairs.
    #[serde(default)]
    pub region_pairs: Vec<RegionPair>,
    /// The whole model, as the twin holds it (from a snapshot); wins over everything above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<LatencyModel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyPreset {
    /// DIRA-LDT's racks: 1 ms within a rack, 20 ms elsewhere (override with intra/inter_rack_ms).
    #[default]
    Racks,
    /// KubeTwin's Table I and intra-cluster mixture.
    Kubetwin,
}

impl LatencySpec {
    pub(crate) fn build(&self) -> LatencyModel {
        if let Some(m) = &self.model {
            return m.clone();
        }
        let mut m = match self.preset {
            LatencyPreset::Racks => {
                LatencyModel::racks(self.intra_rack_ms.unwrap_or(1.0), self.inter_rack_ms.unwrap_or(20.0))
            }
            LatencyPreset::Kubetwin => LatencyModel::kubetwin_table1(),
        };
        let set = |slot: &mut Dist, v: &Option<Dist>| {
            if let Some(d) = v {
                *slot = d.clone();
            }
        };
        set(&mut m.same_server, &self.same_server);
        set(&mut m.same_rack, &self.same_rack);
        set(&mut m.same_zone, &self.same_zone);
        set(&mut m.same_region, &self.same_region);
        set(&mut m.inter_region, &self.inter_region);
        for p in &self.region_pairs {
            m.region_pairs.retain(|q| !((q.a == p.a && q.b == p.b) || (q.a == p.b && q.b == p.a)));
            m.region_pairs.push(p.clone());
        }
        m
    }
}

/// `count` identical servers named `name-001`…, or one server named `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerGroup {
    pub name: String,
    #[serde(default = "one")]
    pub count: u32,
    pub region: String,
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub rack: String,
    /// For the `mec_first` scheduler; defaults to the zone.
    #[serde(default)]
    pub tier: Option<String>,
    pub cpu_m: f64,
    pub mem_mib: f64,
    #[serde(default)]
    pub bw_mbps: f64,
    #[serde(default = "unit_speed")]
    pub speed: f64,
    #[serde(default)]
    pub price_per_hour: f64,
    #[serde(default = "yes")]
    pub schedulable: bool,
    /// Node labels, which nodeSelector, node affinity and topology keys read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Taints; pods without a matching toleration stay off (see `twin::scheduling`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

fn one() -> u32 {
    1
}
fn unit_speed() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerPolicy {
    /// Most residual capacity first (kube-scheduler's LeastAllocated).
    #[default]
    Spread,
    /// Least residual capacity first (MostAllocated).
    BinPack,
    /// Lowest price per node-hour first.
    Cheapest,
    /// Lowest tier in `tiers` order first (KubeTwin's MEC-first), spreading within a tier.
    MecFirst,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSpec {
    #[serde(default)]
    pub policy: SchedulerPolicy,
    /// Tier names, closest to users first (for `mec_first`).
    #[serde(default)]
    pub tiers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// Uniformly random over ready pods (kube-proxy's iptables mode).
    #[default]
    Random,
    RoundRobin,
    LeastOutstanding,
    /// The ready pods closest to the caller (by mean latency), least outstanding among them.
    Locality,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSpec {
    #[serde(default)]
    pub cpu_m: f64,
    #[serde(default)]
    pub mem_mib: f64,
    /// Requests served at once (the n of G/G/n).
    #[serde(default = "one")]
    pub parallelism: u32,
    /// Requests waiting beyond which arrivals are dropped.
    #[serde(default = "default_max_queue")]
    pub max_queue: u32,
    /// Service time in ms on a server of speed 1 (divided by the server's speed).
    pub service_time: Dist,
    /// Seconds from scheduling to ready.
    #[serde(default)]
    pub startup_s: f64,
}

fn default_max_queue() -> u32 {
    10_000
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default = "one")]
    pub replicas: u32,
    pub pod: PodSpec,
    #[serde(default)]
    pub balancer: Balancer,
    #[serde(default)]
    pub autoscaler: Option<AutoscalerSpec>,
    /// Servers of the first pods, in order (a snapshot's placement); the rest are scheduled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_servers: Vec<String>,
    /// Node affinity: when not empty, pods go only to these servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_affinity: Vec<String>,
    /// Labels of the pods, which anti-affinity and spread selectors match. The namespace is
    /// the part of `name` before `/` (a twin's `namespace/name`), else none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes scheduling rules: tolerations, nodeSelector, required node affinity,
    /// required pod anti-affinity, DoNotSchedule topology spread (see `twin::scheduling`).
    #[serde(default, skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Scheduling,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerSpec {
    #[serde(default)]
    pub mode: ScalerMode,
    pub metric: MetricSpec,
    pub min: u32,
    pub max: u32,
    #[serde(default = "default_period")]
    pub period_s: f64,
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    #[serde(default)]
    pub behavior: Behavior,
}

fn default_period() -> f64 {
    15.0
}
fn default_tolerance() -> f64 {
    0.1
}

/// What the autoscaler compares with its target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MetricSpec {
    /// Mean time to process (queue + service) over the last period, in ms (KubeTwin).
    ProcessingTimeMs(f64),
    /// Mean busy share of the pods' workers over the last period, in percent.
    UtilizationPct(f64),
}

/// A request's path: a chain of services (`steps`) or a call tree (`root`). Calls are
/// synchronous: a caller waits for its callee's answer before answering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<CallSpec>,
    /// Whether a caller keeps its worker busy while it waits (thread-per-request servers).
    #[serde(default)]
    pub hold_caller: bool,
    #[serde(default)]
    pub request_kb: f64,
    #[serde(default)]
    pub response_kb: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    pub service: String,
    /// Probability that the caller makes this call.
    #[serde(default = "certain")]
    pub probability: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallSpec>,
}

fn certain() -> f64 {
    1.0
}

impl WorkflowSpec {
    /// The call tree, whichever way it was written.
    pub(crate) fn tree(&self) -> Option<CallSpec> {
        if let Some(r) = &self.root {
            return Some(r.clone());
        }
        let mut it = self.steps.iter().rev();
        let mut node = CallSpec { service: it.next()?.clone(), probability: 1.0, calls: vec![] };
        for s in it {
            node = CallSpec { service: s.clone(), probability: 1.0, calls: vec![node] };
        }
        Some(node)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Exponential inter-arrival times.
    #[default]
    Poisson,
    /// Evenly spaced arrivals.
    Constant,
    /// A Poisson process whose rate follows `rates` (one value per `step_s`).
    Replay,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    pub region: String,
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub rack: String,
}

/// A flow of requests into one workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    pub name: String,
    pub workflow: String,
    /// Where the users are (for the latency of the first and last hop).
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default)]
    pub arrivals: Arrivals,
    /// Requests per second (poisson, constant).
    #[serde(default)]
    pub rate: f64,
    #[serde(default)]
    pub start_s: f64,
    #[serde(default)]
    pub stop_s: Option<f64>,
    /// Stop after this many requests.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Replay: requests per second for successive intervals of `step_s`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<f64>,
    /// Replay: a CSV file (relative to the scenario) whose `column` gives the rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(default = "default_step")]
    pub step_s: f64,
    /// Multiplies every replayed value (e.g. a CPU series into requests per second).
    #[serde(default = "unit_speed")]
    pub scale: f64,
}

fn default_step() -> f64 {
    1.0
}

/// A change at a time: exactly one of the actions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub at_s: f64,
    /// The server goes down: its pods are lost with their requests and replaced elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_loss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_crash: Option<PodCrash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cordon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncordon: Option<String>,
    /// Cordon, then evict every pod (they finish their requests; replacements go elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_latency: Option<LinkLatency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<ReplicaChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodCrash {
    pub service: String,
    #[serde(default = "one")]
    pub count: u32,
}

/// Adds `add_ms` to every hop between a server of region `a` and one of region `b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLatency {
    pub a: String,
    pub b: String,
    pub add_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityChange {
    pub server: String,
    #[serde(default)]
    pub cpu_m: Option<f64>,
    #[serde(default)]
    pub mem_mib: Option<f64>,
    #[serde(default)]
    pub speed: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaChange {
    pub service: String,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Target on the time to resolution, in ms.
    pub target_ms: f64,
    /// The percentile that must stay under the target.
    #[serde(default = "default_percentile")]
    pub percentile: f64,
}

fn default_percentile() -> f64 {
    99.0
}

/// Safety caps a user can read and raise (`limits:` in the scenario). Those a scenario's text
/// decides (servers, pods, times, series of a fixed duration) are checked before anything is
/// allocated; a run that would exceed one anyway (a queue that never drains, a service time
/// that jumps past the horizon) stops with an error naming it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Requests in the system at once (memory is proportional to it).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// Servers over all groups.
    #[serde(default = "default_max_servers")]
    pub max_servers: u32,
    /// Pods at once over all services (replicas, autoscaler maxima, replica changes).
    #[serde(default = "default_max_pods")]
    pub max_pods: u32,
    /// Simulated time: every time in the scenario, and how long a run may go on.
    #[serde(default = "default_max_sim_s")]
    pub max_sim_s: f64,
    /// Values kept in the time series over a run (per sample: 3 per server, 1 per service, 5).
    #[serde(default = "default_max_series_points")]
    pub max_series_points: u64,
}

fn default_max_events() -> u64 {
    500_000_000
}
fn default_max_in_flight() -> u32 {
    2_000_000
}
fn default_max_servers() -> u32 {
    100_000
}
fn default_max_pods() -> u32 {
    200_000
}
fn default_max_sim_s() -> f64 {
    30.0 * 86_400.0
}
fn default_max_series_points() -> u64 {
    20_000_000
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: default_max_events(),
            max_in_flight: default_max_in_flight(),
            max_servers: default_max_servers(),
            max_pods: default_max_pods(),
            max_sim_s: default_max_sim_s(),
            max_series_points: default_max_series_points(),
        }
    }
}

impl Limits {
    /// Values kept per sample of the time series (see `cluster::sample`).
    pub(crate) fn points_per_sample(servers: u64, services: u64) -> u64 {
        3 * servers + services + 5
    }
}

/// A problem in a scenario: where (a field path like `workflows[0].steps[1]`) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// `origin:line:column` when the position is known, else `origin`.
    pub at: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.at, self.message)
        } else {
            write!(f, "{}: {}: {}", self.at, self.field, self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// The names of a group's servers.
pub(crate) fn server_names(g: &ServerGroup) -> Vec<String> {
    if g.count == 1 {
        vec![g.name.clone()]
    } else {
        (1..=g.count).map(|i| format!("{}-{i:03}", g.name)).collect()
    }
}
