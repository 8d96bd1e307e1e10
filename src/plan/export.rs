//! A placement instance as a self-contained document, so that anyone can check a placement
//! with an external solver: the servers and workloads, the dependencies, the latency matrix
//! and the weights exactly as the objective uses them, and each method's assignment with its
//! objective and figures. Pure: the caller writes it.

use super::metrics::Metrics;
use super::problem::{Assignment, Problem, Topology};
use super::state::{Objective, Weights};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Instance {
    pub name: String,
    pub spec: Spec,
    pub servers: Vec<Server>,
    pub workloads: Vec<Workload>,
    pub deps: Vec<Dep>,
    /// Server × server, in ms, as the objective uses it (the diagonal: the same-server latency).
    pub latency_ms: Vec<Vec<f64>>,
    /// The largest latency: the latency term is the weighted mean over this.
    pub max_ms: f64,
    pub weights: ExportWeights,
    /// By method name (`twintop`, `sm`, `hba`).
    pub methods: BTreeMap<String, MethodResult>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Spec {
    pub seed: u64,
    pub servers: usize,
    pub workloads: usize,
    pub cordoned: usize,
    pub spread_groups: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Server {
    pub name: String,
    pub cpu_m: f64,
    pub mem_mib: f64,
    pub bw_mbps: f64,
    pub region: String,
    pub zone: String,
    pub rack: String,
    pub cordoned: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Workload {
    pub name: String,
    pub cpu_m: f64,
    pub mem_mib: f64,
    pub bw_mbps: f64,
    pub work_ms: f64,
    pub deadline_ms: Option<f64>,
    pub group: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Dep {
    pub a: usize,
    pub b: usize,
    pub weight: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct ExportWeights {
    pub latency: f64,
    pub balance: f64,
    pub unplaced: f64,
    pub overflow: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MethodResult {
    /// Server index per workload (`null`: not placed).
    pub assignment: Assignment,
    pub objective: Objective,
    pub metrics: Metrics,
    pub wall_s: f64,
}

impl Instance {
    pub(crate) fn new(name: &str, seed: u64, p: &Problem, w: Weights) -> Instance {
        let topo = Topology::new(p);
        let n = p.servers.len();
        let mut groups: Vec<u32> = p.workloads.iter().filter_map(|w| w.group).collect();
        groups.sort_unstable();
        groups.dedup();
        Instance {
            name: name.to_string(),
            spec: Spec {
                seed,
                servers: n,
                workloads: p.workloads.len(),
                cordoned: p.servers.iter().filter(|s| s.cordoned).count(),
                spread_groups: groups.len(),
            },
            servers: p
                .servers
                .iter()
                .map(|s| Server {
                    name: s.name.clone(),
                    cpu_m: s.capacity.cpu_m,
                    mem_mib: s.capacity.mem_mib,
                    bw_mbps: s.capacity.bw_mbps,
                    region: s.location.region.clone(),
                    zone: s.location.zone.clone(),
                    rack: s.location.rack.clone(),
                    cordoned: s.cordoned,
                })
                .collect(),
            workloads: p
                .workloads
                .iter()
                .map(|w| Workload {
                    name: w.name.clone(),
                    cpu_m: w.demand.cpu_m,
                    mem_mib: w.demand.mem_mib,
                    bw_mbps: w.demand.bw_mbps,
                    work_ms: w.work_ms,
                    deadline_ms: w.deadline_ms,
                    group: w.group,
                })
                .collect(),
            deps: p.deps.iter().map(|d| Dep { a: d.a, b: d.b, weight: d.weight }).collect(),
            latency_ms: (0..n).map(|a| (0..n).map(|b| topo.latency(a, b)).collect()).collect(),
            max_ms: topo.max_ms,
            weights: ExportWeights {
                latency: w.latency,
                balance: w.balance,
                unplaced: w.unplaced,
                overflow: w.overflow,
            },
            methods: BTreeMap::new(),
        }
    }
}
