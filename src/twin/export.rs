//! The twin as a document: what `twintop twin --json` prints and what scripts depend on.
//! Field names are part of twintop's interface; add fields, never rename them.

use super::kpi::{self, Kpis, SloState};
use super::model::{Hpa, PodPhase};
use super::snapshot::{Feed, Snapshot, SourceInfo};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct TwinDoc {
    pub time: String,
    pub source: SourceInfo,
    pub feeds: Vec<Feed>,
    pub kpis: Kpis,
    pub servers: Vec<ServerDoc>,
    pub workloads: Vec<WorkloadDoc>,
    pub edges: Vec<EdgeDoc>,
    pub notices: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ServerDoc {
    pub name: String,
    pub region: String,
    pub zone: String,
    pub rack: String,
    pub hardware: String,
    pub schedulable: bool,
    pub cpu_allocatable_m: f64,
    pub mem_allocatable_mib: f64,
    pub bw_allocatable_mbps: f64,
    pub cpu_util: f64,
    pub mem_util: f64,
    pub bw_util: f64,
    /// Network throughput in bits per second.
    pub net_bps: f64,
    /// Deviation of this server's mean utilisation from the cluster mean (per-server RUB).
    pub rub_deviation: f64,
    pub pods: u32,
    pub measured: bool,
    /// `key=value:Effect`, as `kubectl describe node` lists them.
    pub taints: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct WorkloadDoc {
    pub name: String,
    pub namespace: String,
    pub kind: &'static str,
    pub replicas: u32,
    pub ready: u32,
    pub cpu_request_m: f64,
    pub mem_request_mib: f64,
    pub bw_request_mbps: f64,
    pub rps: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub slo_p99_ms: Option<f64>,
    pub slo: SloState,
    pub hpa: Option<Hpa>,
    /// Its Pending pods and why each is not running (as `kubectl describe pod` says it).
    pub pending: Vec<PendingDoc>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PendingDoc {
    pub pod: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct EdgeDoc {
    pub from: String,
    pub to: String,
    pub rps: f64,
    pub origin: String,
    /// The target is not a workload of the twin (e.g. a Service that is not deployed).
    pub dangling: bool,
}

pub(crate) fn twin_doc(snap: &Snapshot) -> TwinDoc {
    let utils = kpi::server_utilization(snap);
    let dev = kpi::rub_deviation(&utils);
    TwinDoc {
        time: snap.time.to_rfc3339(),
        source: snap.source.clone(),
        feeds: snap.feeds.clone(),
        kpis: kpi::kpis(snap),
        servers: snap
            .servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let st = &snap.server_status[i];
                ServerDoc {
                    name: s.name.clone(),
                    region: s.location.region.clone(),
                    zone: s.location.zone.clone(),
                    rack: s.location.rack.clone(),
                    hardware: s.hardware.clone(),
                    schedulable: s.schedulable,
                    cpu_allocatable_m: s.allocatable.cpu_m,
                    mem_allocatable_mib: s.allocatable.mem_mib,
                    bw_allocatable_mbps: s.allocatable.bw_mbps,
                    cpu_util: utils[i].cpu,
                    mem_util: utils[i].mem,
                    bw_util: utils[i].bw,
                    net_bps: st.effective_usage().bw_mbps * 1e6,
                    rub_deviation: dev[i],
                    pods: st.pods,
                    measured: st.usage.is_some(),
                    taints: s
                        .taints
                        .iter()
                        .map(|t| {
                            let value =
                                if t.value.is_empty() { String::new() } else { format!("={}", t.value) };
                            format!("{}{value}:{:?}", t.key, t.effect)
                        })
                        .collect(),
                }
            })
            .collect(),
        workloads: snap
            .workloads
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let st = &snap.workload_status[i];
                WorkloadDoc {
                    name: w.name.clone(),
                    namespace: w.namespace.clone(),
                    kind: w.kind.as_str(),
                    replicas: w.replicas,
                    ready: st.ready,
                    cpu_request_m: w.requests.cpu_m,
                    mem_request_mib: w.requests.mem_mib,
                    bw_request_mbps: w.requests.bw_mbps,
                    rps: st.rps,
                    p50_ms: st.p50_ms,
                    p99_ms: st.p99_ms,
                    slo_p99_ms: w.slo_p99_ms,
                    slo: kpi::slo_state(snap, i),
                    hpa: w.hpa.clone(),
                    pending: snap
                        .pods_of_workload(i)
                        .filter(|p| p.phase == PodPhase::Pending)
                        .map(|p| PendingDoc { pod: p.name.clone(), reason: p.reason.clone() })
                        .collect(),
                }
            })
            .collect(),
        edges: snap
            .edges
            .iter()
            .map(|e| EdgeDoc {
                from: e.from.clone(),
                to: e.to.clone(),
                rps: e.rps,
                origin: e.origin.clone(),
                dangling: snap.workload_index(&e.to).is_none(),
            })
            .collect(),
        notices: snap.notices.clone(),
    }
}
