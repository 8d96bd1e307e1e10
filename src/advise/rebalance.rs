//! Rebalancing hot servers by measured use. The placement optimizer (`plan`) balances what
//! pods request, but a server runs hot on what is used — busy pods, or load no pod explains
//! (system daemons, a runaway process). So the twin becomes a placement problem in which each
//! pod weighs what it uses (at least its requests, so every move it proposes also fits by
//! requests, as the scheduler checks) and each server offers its allocatable minus the load no
//! pod explains; a hot server then shows as overloaded, and `plan::improve_with` picks pod
//! moves off it (greedy, or toward a re-plan of the optimizer's search, whichever is better).
//! Also the server figures an eviction leaves, for predictions.

use super::validate::{free_capacity, place_pods};
use crate::guardrails::evictable;
use crate::plan;
use crate::twin::kpi::{ServerUtil, rub};
use crate::twin::{PodPhase, Resources, Snapshot};

/// One pod moved from one server to another (indices into the snapshot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PodMove {
    pub pod: usize,
    pub from: usize,
    pub to: usize,
}

/// Figures of the servers before or after moves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerFigures {
    pub rub: f64,
    /// CPU share of allocatable, per server.
    pub cpu: Vec<f64>,
}

/// A pod's share of its workload's measured use; its requests when nothing is measured; zero
/// for a pod that is not running (it serves nothing yet).
pub(crate) fn pod_usage(snap: &Snapshot, i: usize) -> Resources {
    let pod = &snap.pods[i];
    let Some(w) = pod.workload else { return pod.requests };
    let Some(total) = snap.workload_status[w].usage else { return pod.requests };
    if pod.phase != PodPhase::Running {
        return Resources::ZERO;
    }
    let running = snap.pods_of_workload(w).filter(|p| p.phase == PodPhase::Running).count().max(1);
    total.scale(1.0 / running as f64)
}

/// RUB and per-server CPU for a usage per server.
fn figures(snap: &Snapshot, usage: &[Resources]) -> ServerFigures {
    let utils: Vec<ServerUtil> = snap.servers.iter().zip(usage).map(|(s, u)| ServerUtil::of(s, u)).collect();
    ServerFigures {
        rub: rub(&utils.iter().map(ServerUtil::mean).collect::<Vec<_>>()),
        cpu: utils.iter().map(|u| u.cpu).collect(),
    }
}

/// The servers' figures now and after `moves`: each moved pod takes its share of use along.
pub(crate) fn figures_after(snap: &Snapshot, moves: &[PodMove]) -> (ServerFigures, ServerFigures) {
    let mut usage: Vec<Resources> = snap.server_status.iter().map(|s| s.effective_usage()).collect();
    let before = figures(snap, &usage);
    for m in moves {
        let u = pod_usage(snap, m.pod);
        usage[m.from] = max0(usage[m.from].sub(&u));
        usage[m.to] = usage[m.to].add(&u);
    }
    (before, figures(snap, &usage))
}

/// Where the replacement of pod `i` is expected: `to` when given and known, else where a
/// spreading scheduler would put it once the pod's requests are freed on its server.
pub(crate) fn expected_server(snap: &Snapshot, i: usize, to: Option<&str>) -> Option<usize> {
    if let Some(t) = to {
        return snap.server_index(t);
    }
    let pod = &snap.pods[i];
    let mut free = free_capacity(snap);
    if let Some(s) = pod.server
        && snap.servers[s].schedulable
    {
        free[s] = free[s].add(&pod.requests);
    }
    place_pods(&mut free, &pod.requests, 1).first().copied()
}

/// `moves_off` with a re-plan that may evaluate `budget` moves (`plan::improve_with`): the
/// optimizer's search from the current placement, the pod moves toward what it finds kept
/// when they beat the greedy ones.
pub(crate) fn moves_off_with(
    snap: &Snapshot,
    hot: &[usize],
    max_moves: usize,
    seed: u64,
    budget: usize,
) -> Vec<PodMove> {
    let mut tp = plan::from_snapshot(snap);
    let usage: Vec<Resources> = (0..snap.pods.len()).map(|i| pod_usage(snap, i)).collect();
    // Load on each server that no pod explains.
    let mut unexplained: Vec<Resources> = snap.server_status.iter().map(|s| s.effective_usage()).collect();
    for (i, pod) in snap.pods.iter().enumerate() {
        if let Some(s) = pod.server {
            unexplained[s] = unexplained[s].sub(&usage[i]);
        }
    }
    for (s, srv) in tp.problem.servers.iter_mut().enumerate() {
        srv.capacity = max0(snap.servers[s].allocatable.sub(&max0(unexplained[s])));
    }
    for (j, w) in tp.problem.workloads.iter_mut().enumerate() {
        let i = tp.pods[j];
        let (r, u) = (snap.pods[i].requests, usage[i]);
        w.demand = Resources::new(r.cpu_m.max(u.cpu_m), r.mem_mib.max(u.mem_mib), r.bw_mbps.max(u.bw_mbps));
        w.forecast = w.demand;
    }
    let movable: Vec<bool> = tp
        .pods
        .iter()
        .map(|&i| snap.pods[i].server.is_some_and(|s| hot.contains(&s)) && evictable(snap, i).is_ok())
        .collect();
    // Pods keyed by their workload: one eviction per workload.
    let owner: Vec<usize> =
        tp.pods.iter().map(|&i| snap.pods[i].workload.unwrap_or(usize::MAX - i)).collect();
    let o = plan::ImproveOptions { max_moves, seed, budget, once_per: Some(owner) };
    let imp = plan::improve_with(&tp.problem, &tp.current, &o, &movable);
    imp.moves
        .iter()
        .filter_map(|m| Some(PodMove { pod: tp.pods[m.workload], from: m.from?, to: m.to }))
        .collect()
}

fn max0(r: Resources) -> Resources {
    Resources::new(r.cpu_m.max(0.0), r.mem_mib.max(0.0), r.bw_mbps.max(0.0))
}
