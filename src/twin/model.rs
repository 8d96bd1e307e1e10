//! The twin's domain types: servers, workloads, pods and the call graph between workloads.
//! Plain data; the store (`store.rs`) owns instances and the snapshot shares them.

use super::scheduling::{Scheduling, Taint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A measured usage in which a source may lack some resources (metrics-server has no
/// network figures): `None` leaves what another source measured in place.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    pub cpu_m: Option<f64>,
    pub mem_mib: Option<f64>,
    pub bw_mbps: Option<f64>,
}

impl Measured {
    /// CPU and memory only.
    pub(crate) fn cpu_mem(cpu_m: f64, mem_mib: f64) -> Measured {
        Measured { cpu_m: Some(cpu_m), mem_mib: Some(mem_mib), bw_mbps: None }
    }

    /// This measurement laid over the previous one, field by field (0 where neither has one).
    pub(crate) fn over(&self, before: Option<Resources>) -> Resources {
        let b = before.unwrap_or_default();
        Resources::new(
            self.cpu_m.unwrap_or(b.cpu_m),
            self.mem_mib.unwrap_or(b.mem_mib),
            self.bw_mbps.unwrap_or(b.bw_mbps),
        )
    }
}

impl From<Resources> for Measured {
    fn from(r: Resources) -> Measured {
        Measured { cpu_m: Some(r.cpu_m), mem_mib: Some(r.mem_mib), bw_mbps: Some(r.bw_mbps) }
    }
}

/// An amount of the three resources the twin balances. CPU in millicores, memory in MiB,
/// bandwidth in Mbit/s; f64 because every KPI divides them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpu_m: f64,
    pub mem_mib: f64,
    pub bw_mbps: f64,
}

impl Resources {
    pub(crate) const ZERO: Resources = Resources { cpu_m: 0.0, mem_mib: 0.0, bw_mbps: 0.0 };

    pub fn new(cpu_m: f64, mem_mib: f64, bw_mbps: f64) -> Self {
        Resources { cpu_m, mem_mib, bw_mbps }
    }

    pub(crate) fn add(&self, o: &Resources) -> Resources {
        Resources::new(self.cpu_m + o.cpu_m, self.mem_mib + o.mem_mib, self.bw_mbps + o.bw_mbps)
    }

    pub(crate) fn sub(&self, o: &Resources) -> Resources {
        Resources::new(self.cpu_m - o.cpu_m, self.mem_mib - o.mem_mib, self.bw_mbps - o.bw_mbps)
    }

    pub(crate) fn scale(&self, k: f64) -> Resources {
        Resources::new(self.cpu_m * k, self.mem_mib * k, self.bw_mbps * k)
    }

    /// True when every component of `self` fits in `cap`. Bandwidth of 0 capacity means
    /// "not modelled" and never blocks a fit.
    pub(crate) fn fits_in(&self, cap: &Resources) -> bool {
        const EPS: f64 = 1e-9;
        self.cpu_m <= cap.cpu_m + EPS
            && self.mem_mib <= cap.mem_mib + EPS
            && (cap.bw_mbps <= 0.0 || self.bw_mbps <= cap.bw_mbps + EPS)
    }
}

/// Where a server stands in the topology people think in: region → zone → rack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub region: String,
    pub zone: String,
    pub rack: String,
}

impl Location {
    pub fn new(region: &str, zone: &str, rack: &str) -> Self {
        Location { region: region.into(), zone: zone.into(), rack: rack.into() }
    }

    /// The label a heatmap group shows: `region/zone/rack` without the parts that are empty
    /// (empty when the server has no topology labels at all).
    pub(crate) fn group_label(&self) -> String {
        let parts: Vec<&str> = [&self.region, &self.zone, &self.rack]
            .into_iter()
            .map(String::as_str)
            .filter(|p| !p.is_empty())
            .collect();
        parts.join("/")
    }
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub name: String,
    pub location: Location,
    pub capacity: Resources,
    pub allocatable: Resources,
    /// Instance type or hardware generation, as the node's labels give it.
    pub hardware: String,
    /// Relative CPU speed; 1.0 is the reference server (KubeTwin's "twice as powerful" is 2.0).
    pub speed: f64,
    /// Price per node-hour, for cost figures.
    pub price_per_hour: f64,
    pub schedulable: bool,
    pub labels: BTreeMap<String, String>,
    /// Taints that keep pods without a matching toleration off the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

impl Server {
    pub fn new(name: &str, location: Location, capacity: Resources) -> Self {
        Server {
            name: name.into(),
            location,
            capacity,
            allocatable: capacity,
            hardware: String::new(),
            speed: 1.0,
            price_per_hour: 0.0,
            schedulable: true,
            labels: BTreeMap::new(),
            taints: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    /// One pod on every server its rules admit; `replicas` is that count, not a knob.
    DaemonSet,
}

impl WorkloadKind {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

/// What an HPA scales on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HpaMetric {
    /// Average CPU utilisation of requests, in percent.
    CpuUtilization { target_pct: f64 },
    /// Average memory utilisation of requests, in percent.
    MemoryUtilization { target_pct: f64 },
    /// Anything else (custom/external metrics) kept by name with its target value.
    Other { name: String, target: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hpa {
    pub name: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub metrics: Vec<HpaMetric>,
}

/// A Deployment or StatefulSet: a set of identical pods behind (usually) one Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub kind: WorkloadKind,
    /// Desired replicas (spec).
    pub replicas: u32,
    /// Requests of one pod.
    pub requests: Resources,
    /// Limits of one pod, when set.
    pub limits: Option<Resources>,
    pub hpa: Option<Hpa>,
    /// SLO on the p99 latency of this workload's requests, in ms.
    pub slo_p99_ms: Option<f64>,
    /// Critical workloads have a floor on replicas in the guardrails.
    pub critical: bool,
    pub labels: BTreeMap<String, String>,
    /// Labels of its pods (the pod template's), which selectors and scheduling rules match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// Where its pods may run (see `twin::scheduling`).
    #[serde(default, skip_serializing_if = "Scheduling::is_empty")]
    pub scheduling: Scheduling,
}

impl Workload {
    pub fn new(name: &str, namespace: &str, replicas: u32, requests: Resources) -> Self {
        Workload {
            name: name.into(),
            namespace: namespace.into(),
            kind: WorkloadKind::Deployment,
            replicas,
            requests,
            limits: None,
            hpa: None,
            slo_p99_ms: None,
            critical: false,
            labels: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            scheduling: Scheduling::default(),
        }
    }

    /// `namespace/name`, the key workloads are known by everywhere in twintop.
    pub(crate) fn key(&self) -> String {
        workload_key(&self.namespace, &self.name)
    }
}

pub(crate) fn workload_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Unknown => "Unknown",
        }
    }

    pub(crate) fn parse(s: &str) -> PodPhase {
        match s {
            "Pending" => PodPhase::Pending,
            "Running" => PodPhase::Running,
            "Succeeded" => PodPhase::Succeeded,
            "Failed" => PodPhase::Failed,
            _ => PodPhase::Unknown,
        }
    }

    /// Whether the pod holds its requests on its server.
    pub(crate) fn holds_resources(&self) -> bool {
        matches!(self, PodPhase::Pending | PodPhase::Running | PodPhase::Unknown)
    }
}

/// A pod as the store receives it: references by name, resolved to indices in the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    /// Owning workload's name (same namespace), after following ReplicaSet → Deployment.
    pub workload: Option<String>,
    /// Server (node) name, if scheduled.
    pub server: Option<String>,
    pub requests: Resources,
    pub limits: Option<Resources>,
    pub phase: PodPhase,
    /// Why a Pending pod is not running, as `kubectl describe pod` says it
    /// ("0/3 nodes are available: …"), when the source knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A pod in a snapshot, with its references resolved to indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pod {
    pub name: String,
    pub namespace: String,
    /// Index into `Snapshot::workloads`.
    pub workload: Option<usize>,
    /// Index into `Snapshot::servers`.
    pub server: Option<usize>,
    pub requests: Resources,
    pub limits: Option<Resources>,
    pub phase: PodPhase,
    /// See `PodSpec::reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A call edge of the service graph, between workload keys (`namespace/name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// Requests per second along the edge (0 when unknown).
    pub rps: f64,
    /// Where the edge was learnt: "mesh", "env", "annotation", "demo", "scenario"...
    pub origin: String,
}
