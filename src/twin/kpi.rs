//! Figures computed from a snapshot: utilisation per server, RUB, dependency-weighted latency,
//! bandwidth utilisation and SLO state. Definitions are PAPERS.md's, so every figure twintop
//! prints is comparable with the papers' and with the placement evaluation.

use super::latency::LatencyModel;
use super::model::{Location, PodPhase, Resources, Server};
use super::snapshot::Snapshot;
use serde::Serialize;
use std::collections::HashMap;

/// Utilisation of one server as fractions of allocatable (may exceed 1 when overcommitted).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ServerUtil {
    pub cpu: f64,
    pub mem: f64,
    pub bw: f64,
}

impl ServerUtil {
    /// The server's utilisation for RUB: the mean of CPU, memory and bandwidth.
    pub(crate) fn mean(&self) -> f64 {
        (self.cpu + self.mem + self.bw) / 3.0
    }

    /// `usage` as shares of the server's allocatable.
    pub(crate) fn of(server: &Server, usage: &Resources) -> ServerUtil {
        ServerUtil {
            cpu: ratio(usage.cpu_m, server.allocatable.cpu_m),
            mem: ratio(usage.mem_mib, server.allocatable.mem_mib),
            bw: ratio(usage.bw_mbps, server.allocatable.bw_mbps),
        }
    }
}

pub(crate) fn server_utilization(snap: &Snapshot) -> Vec<ServerUtil> {
    snap.servers
        .iter()
        .zip(&snap.server_status)
        .map(|(s, st)| ServerUtil::of(s, &st.effective_usage()))
        .collect()
}

/// Resource-utilisation balance: 1 − (population std / mean), clamped to [0, 1].
/// 1 is perfectly even; an empty or all-idle set counts as even.
pub(crate) fn rub(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 1.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if mean <= 0.0 {
        return 1.0;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (1.0 - var.sqrt() / mean).clamp(0.0, 1.0)
}

/// RUB over the servers' mean utilisations.
pub(crate) fn rub_of(utils: &[ServerUtil]) -> f64 {
    rub(&utils.iter().map(ServerUtil::mean).collect::<Vec<_>>())
}

/// Each server's deviation from the cluster's mean utilisation (the per-server form of RUB):
/// negative is under-used, positive is hot.
pub(crate) fn rub_deviation(utils: &[ServerUtil]) -> Vec<f64> {
    if utils.is_empty() {
        return Vec::new();
    }
    let mean = utils.iter().map(ServerUtil::mean).sum::<f64>() / utils.len() as f64;
    utils.iter().map(|u| u.mean() - mean).collect()
}

/// Dependency-weighted latency between communicating workloads.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct DependencyLatency {
    /// Weighted mean of the expected one-way latency over dependent pod pairs on different
    /// servers, in ms.
    pub mean_ms: f64,
    /// Share of the dependency weight between pods on the same server (not hidden in the mean).
    pub colocated_share: f64,
    /// Edges that had pods on both ends.
    pub edges: usize,
}

/// The latency of a set of weighted dependencies between placed items: `pairs` yields
/// (server of one end, server of the other, weight). Used by the twin's KPIs and by `plan`.
pub(crate) fn weighted_latency(
    pairs: impl IntoIterator<Item = (usize, usize, f64)>,
    locations: &[&Location],
    model: &LatencyModel,
) -> DependencyLatency {
    let (mut lat_w, mut lat_sum, mut co_w, mut total_w, mut edges) = (0.0, 0.0, 0.0, 0.0, 0);
    for (a, b, w) in pairs {
        edges += 1;
        total_w += w;
        if a == b {
            co_w += w;
        } else {
            lat_sum += w * model.mean_between(locations[a], locations[b], false);
            lat_w += w;
        }
    }
    DependencyLatency {
        mean_ms: if lat_w > 0.0 { lat_sum / lat_w } else { 0.0 },
        colocated_share: if total_w > 0.0 { co_w / total_w } else { 0.0 },
        edges,
    }
}

/// Dependency-weighted latency of the twin: every edge weighs its request rate (1 when
/// unknown), spread evenly over the pairs of running pods of its two ends, as a random
/// load balancer would. The same figure as `weighted_latency` over every pod pair, computed
/// per pair of locations: two workloads of 500 pods each spread over thousands of servers
/// would otherwise make a quarter of a million pairs per edge, on every snapshot.
pub(crate) fn dependency_latency(snap: &Snapshot) -> DependencyLatency {
    // Locations interned once: the latency model depends on the location, not the server.
    let mut loc_ids: HashMap<&Location, usize> = HashMap::new();
    let mut locs: Vec<&Location> = Vec::new();
    let server_loc: Vec<usize> = snap
        .servers
        .iter()
        .map(|s| {
            *loc_ids.entry(&s.location).or_insert_with(|| {
                locs.push(&s.location);
                locs.len() - 1
            })
        })
        .collect();
    // Running pods of each workload: per server, and per location.
    #[derive(Default)]
    struct Placed {
        servers: HashMap<usize, usize>,
        locations: HashMap<usize, usize>,
        n: usize,
    }
    let mut by_workload: HashMap<usize, Placed> = HashMap::new();
    for p in &snap.pods {
        if let (Some(w), Some(s), PodPhase::Running) = (p.workload, p.server, p.phase) {
            let e = by_workload.entry(w).or_default();
            *e.servers.entry(s).or_default() += 1;
            *e.locations.entry(server_loc[s]).or_default() += 1;
            e.n += 1;
        }
    }
    let mut latency: HashMap<(usize, usize), f64> = HashMap::new();
    let (mut lat_w, mut lat_sum, mut co_w, mut total_w, mut edges) = (0.0, 0.0, 0.0, 0.0, 0);
    let mut co_at: HashMap<usize, usize> = HashMap::new();
    for e in &snap.edges {
        let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else { continue };
        let (Some(pa), Some(pb)) = (by_workload.get(&a), by_workload.get(&b)) else { continue };
        edges += 1;
        let weight = if e.rps > 0.0 { e.rps } else { 1.0 };
        let per_pair = weight / (pa.n * pb.n) as f64;
        total_w += weight;
        // Pairs on the same server are co-located: counted apart, not averaged in.
        co_at.clear();
        for (&s, &ca) in &pa.servers {
            if let Some(&cb) = pb.servers.get(&s) {
                *co_at.entry(server_loc[s]).or_default() += ca * cb;
            }
        }
        co_w += per_pair * co_at.values().sum::<usize>() as f64;
        for (&la, &ca) in &pa.locations {
            for (&lb, &cb) in &pb.locations {
                let apart = ca * cb - if la == lb { co_at.get(&la).copied().unwrap_or(0) } else { 0 };
                if apart == 0 {
                    continue;
                }
                let ms = *latency
                    .entry((la, lb))
                    .or_insert_with(|| snap.latency.mean_between(locs[la], locs[lb], false));
                let w = per_pair * apart as f64;
                lat_sum += w * ms;
                lat_w += w;
            }
        }
    }
    DependencyLatency {
        mean_ms: if lat_w > 0.0 { lat_sum / lat_w } else { 0.0 },
        colocated_share: if total_w > 0.0 { co_w / total_w } else { 0.0 },
        edges,
    }
}

/// Σ bandwidth used / Σ bandwidth capacity of the servers that host at least one pod.
pub(crate) fn bandwidth_utilization(snap: &Snapshot) -> f64 {
    let (mut used, mut cap) = (0.0, 0.0);
    for (s, st) in snap.servers.iter().zip(&snap.server_status) {
        if st.pods > 0 {
            used += st.effective_usage().bw_mbps;
            cap += s.allocatable.bw_mbps;
        }
    }
    ratio(used, cap)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SloState {
    Ok,
    Breach,
    /// No SLO, or no latency measured.
    Unknown,
}

impl SloState {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            SloState::Ok => "ok",
            SloState::Breach => "breach",
            SloState::Unknown => "-",
        }
    }
}

pub(crate) fn slo_state(snap: &Snapshot, w: usize) -> SloState {
    match (snap.workloads[w].slo_p99_ms, snap.workload_status[w].p99_ms) {
        (Some(target), Some(p99)) if p99 > target => SloState::Breach,
        (Some(_), Some(_)) => SloState::Ok,
        _ => SloState::Unknown,
    }
}

/// CPU used by workload `w`'s pods as a share of what its ready pods request (the unit of an
/// HPA's CPU target); None without usage, requests or ready pods.
pub(crate) fn cpu_of_requests(snap: &Snapshot, w: usize) -> Option<f64> {
    let (wl, st) = (snap.workloads.get(w)?, snap.workload_status.get(w)?);
    let requested = wl.requests.cpu_m * st.ready as f64;
    st.usage.filter(|_| requested > 0.0).map(|u| u.cpu_m / requested)
}

/// The cluster-wide figures shown in the header and the overview.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Kpis {
    pub servers: usize,
    pub workloads: usize,
    pub pods: usize,
    pub pending_pods: usize,
    pub rub: f64,
    pub cpu_util: f64,
    pub mem_util: f64,
    pub bw_util: f64,
    pub bandwidth_utilization: f64,
    pub dependency_latency_ms: f64,
    pub colocated_share: f64,
    pub slo_breaches: usize,
}

pub(crate) fn kpis(snap: &Snapshot) -> Kpis {
    let utils = server_utilization(snap);
    let n = utils.len().max(1) as f64;
    let dep = dependency_latency(snap);
    Kpis {
        servers: snap.servers.len(),
        workloads: snap.workloads.len(),
        pods: snap.pods.len(),
        pending_pods: snap.pods.iter().filter(|p| p.phase == PodPhase::Pending).count(),
        rub: rub_of(&utils),
        cpu_util: utils.iter().map(|u| u.cpu).sum::<f64>() / n,
        mem_util: utils.iter().map(|u| u.mem).sum::<f64>() / n,
        bw_util: utils.iter().map(|u| u.bw).sum::<f64>() / n,
        bandwidth_utilization: bandwidth_utilization(snap),
        dependency_latency_ms: dep.mean_ms,
        colocated_share: dep.colocated_share,
        slo_breaches: (0..snap.workloads.len()).filter(|&w| slo_state(snap, w) == SloState::Breach).count(),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::model::{Edge, PodSpec, Resources, Server, Workload};
    use crate::twin::store::{TwinEvent, TwinStore};

    #[test]
    fn rub_by_hand() {
        assert_eq!(rub(&[0.5, 0.5, 0.5]), 1.0);
        // mean 0.5, population std 0.25 → 1 − 0.5
        assert!((rub(&[0.25, 0.75]) - 0.5).abs() < 1e-12);
        // mean 0.25, std 0.25·√3 ≈ 0.433 → clamped at 0
        assert_eq!(rub(&[1.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(rub(&[]), 1.0);
        assert_eq!(rub(&[0.0, 0.0]), 1.0);
    }

    fn two_rack_twin() -> TwinStore {
        let mut st = TwinStore::default();
        let cap = Resources::new(1000.0, 1000.0, 1000.0);
        st.apply_all([
            TwinEvent::Server(Server::new("s1", Location::new("dc", "z", "r1"), cap)),
            TwinEvent::Server(Server::new("s2", Location::new("dc", "z", "r1"), cap)),
            TwinEvent::Server(Server::new("s3", Location::new("dc", "z", "r2"), cap)),
            TwinEvent::Workload(Workload::new("a", "ns", 1, Resources::new(100.0, 100.0, 100.0))),
            TwinEvent::Workload(Workload::new("b", "ns", 2, Resources::new(100.0, 100.0, 100.0))),
        ]);
        for (name, wl, server) in [("a-1", "a", "s1"), ("b-1", "b", "s2"), ("b-2", "b", "s3")] {
            st.apply(TwinEvent::Pod(PodSpec {
                name: name.into(),
                namespace: "ns".into(),
                workload: Some(wl.into()),
                server: Some(server.into()),
                requests: Resources::new(100.0, 100.0, 100.0),
                limits: None,
                phase: PodPhase::Running,
                reason: None,
            }));
        }
        st
    }

    #[test]
    fn dependency_latency_by_hand() {
        let mut st = two_rack_twin();
        st.apply(TwinEvent::Edges {
            origin: "t".into(),
            edges: vec![Edge { from: "ns/a".into(), to: "ns/b".into(), rps: 10.0, origin: String::new() }],
        });
        let snap = st.snapshot();
        let d = dependency_latency(&snap);
        // a-1 on s1 talks half to s2 (same rack, 1 ms) and half to s3 (other rack, 20 ms).
        assert!((d.mean_ms - 10.5).abs() < 1e-9, "{d:?}");
        assert_eq!(d.colocated_share, 0.0);
        assert_eq!(d.edges, 1);
    }

    /// The pod-pair definition, enumerated: what `dependency_latency` must equal.
    fn pairwise(snap: &Snapshot) -> DependencyLatency {
        let mut by_workload: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
        for p in &snap.pods {
            if let (Some(w), Some(s), PodPhase::Running) = (p.workload, p.server, p.phase) {
                *by_workload.entry(w).or_default().entry(s).or_default() += 1;
            }
        }
        let mut pairs = Vec::new();
        for e in &snap.edges {
            let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else {
                continue;
            };
            let (Some(pa), Some(pb)) = (by_workload.get(&a), by_workload.get(&b)) else { continue };
            let weight = if e.rps > 0.0 { e.rps } else { 1.0 };
            let (na, nb): (usize, usize) = (pa.values().sum(), pb.values().sum());
            for (&sa, &ca) in pa {
                for (&sb, &cb) in pb {
                    pairs.push((sa, sb, weight * (ca * cb) as f64 / (na * nb) as f64));
                }
            }
        }
        let locations: Vec<&Location> = snap.servers.iter().map(|s| &s.location).collect();
        weighted_latency(pairs, &locations, &snap.latency)
    }

    #[test]
    fn dependency_latency_by_location_equals_the_pod_pair_definition() {
        use crate::demo::{DemoTwin, presets::DemoPreset};
        for preset in [DemoPreset::Dc, DemoPreset::Mec] {
            for ticks in [5, 200] {
                let snap = DemoTwin::new(preset, 3).warm_snapshot(ticks);
                let (fast, slow) = (dependency_latency(&snap), pairwise(&snap));
                assert!(fast.edges > 0, "{preset:?}: edges with pods on both ends");
                assert!(
                    (fast.mean_ms - slow.mean_ms).abs() < 1e-9 * slow.mean_ms.max(1.0),
                    "{fast:?} {slow:?}"
                );
                assert!((fast.colocated_share - slow.colocated_share).abs() < 1e-12, "{fast:?} {slow:?}");
            }
        }
        // Co-located pods on a shared server are split from the same-location pairs.
        // b-3 shares s1 with a-1; b-1 is on s2 in the same rack.
        let mut st = two_rack_twin();
        st.apply_all([
            TwinEvent::Pod(PodSpec {
                name: "b-3".into(),
                namespace: "ns".into(),
                workload: Some("b".into()),
                server: Some("s1".into()),
                requests: Resources::new(100.0, 100.0, 100.0),
                limits: None,
                phase: PodPhase::Running,
                reason: None,
            }),
            TwinEvent::Edges {
                origin: "t".into(),
                edges: vec![Edge {
                    from: "ns/a".into(),
                    to: "ns/b".into(),
                    rps: 10.0,
                    origin: String::new(),
                }],
            },
        ]);
        let snap = st.snapshot();
        let d = dependency_latency(&snap);
        assert_eq!(d, DependencyLatency { edges: 1, ..pairwise(&snap) });
        // a-1 → b-3 co-located (a third); b-1 1 ms and b-2 20 ms share the rest.
        assert!((d.colocated_share - 1.0 / 3.0).abs() < 1e-12 && (d.mean_ms - 10.5).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn colocated_pairs_are_reported_not_averaged() {
        let locs = [Location::new("dc", "z", "r1"), Location::new("dc", "z", "r2")];
        let refs: Vec<&Location> = locs.iter().collect();
        let d = weighted_latency([(0, 0, 3.0), (0, 1, 1.0)], &refs, &LatencyModel::racks(1.0, 20.0));
        assert_eq!(d.mean_ms, 20.0);
        assert_eq!(d.colocated_share, 0.75);
    }

    #[test]
    fn bandwidth_utilization_counts_only_hosting_servers() {
        let mut st = two_rack_twin();
        st.apply(TwinEvent::Server(Server::new(
            "idle",
            Location::new("dc", "z", "r3"),
            Resources::new(1.0, 1.0, 5000.0),
        )));
        let snap = st.snapshot();
        // three pods × 100 Mbps requested over three hosting servers × 1000 Mbps
        assert!((bandwidth_utilization(&snap) - 0.1).abs() < 1e-12);
        let k = kpis(&snap);
        assert_eq!(k.servers, 4);
        assert_eq!(k.pods, 3);
    }

    #[test]
    fn slo_breach_when_p99_over_target() {
        let mut st = two_rack_twin();
        let mut w = Workload::new("a", "ns", 1, Resources::new(100.0, 100.0, 100.0));
        w.slo_p99_ms = Some(50.0);
        st.apply(TwinEvent::Workload(w));
        st.apply(TwinEvent::WorkloadMetrics {
            key: "ns/a".into(),
            rps: None,
            p50_ms: None,
            p99_ms: Some(80.0),
            usage: None,
        });
        let snap = st.snapshot();
        assert_eq!(slo_state(&snap, 0), SloState::Breach);
        assert_eq!(slo_state(&snap, 1), SloState::Unknown);
        assert_eq!(kpis(&snap).slo_breaches, 1);
    }
}
