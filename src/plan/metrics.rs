//! The placement figures, exactly as PAPERS.md defines them: allocation accuracy, mean
//! dependency latency (co-located pairs reported apart), bandwidth utilisation, RUB, and the
//! completion rate against deadlines from an analytic queueing model; and beside DIRA-LDT's
//! latency, the mean over every dependency (co-located ones at the same-server latency), which
//! tells two placements apart when both co-locate differently.

use super::problem::{Assignment, Problem, Topology, fits, ratio};
use crate::twin::Location;
use crate::twin::kpi::{rub, weighted_latency};
use serde::Serialize;

/// What the completion rate is computed with, for every table that prints it.
pub(crate) const COMPLETION_MODEL: &str = "analytic M/M/1 processor-sharing model: finish = work / (1 − CPU utilisation of the server) + calls × round trips to each dependency";

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct Metrics {
    pub workloads: usize,
    pub placed: usize,
    /// Share of all workloads placed on a server where every capacity holds (unplaced
    /// workloads and every workload of an over-capacity server count as inaccurate).
    pub accuracy: f64,
    /// Dependency-weighted mean latency over dependent pairs on different servers, in ms
    /// (DIRA-LDT's figure: co-located pairs left out).
    pub mean_latency_ms: f64,
    /// Dependency-weighted mean latency over every dependency whose two ends are placed,
    /// co-located pairs at the same-server latency, in ms: what the objective minimises.
    pub mean_dependency_latency_ms: f64,
    /// Share of the dependency weight between workloads on one server.
    pub colocated_share: f64,
    pub bandwidth_util: f64,
    pub rub: f64,
    /// Share of the workloads with a deadline that meet it; `None` when none has one.
    pub completion: Option<f64>,
    pub overloaded_servers: usize,
    /// Pairs of one spread group sharing a server.
    pub spread_violations: usize,
}

pub(crate) fn evaluate(p: &Problem, a: &Assignment) -> Metrics {
    let n = p.workloads.len();
    let used = p.loads(a);
    let ok: Vec<bool> = p.servers.iter().zip(&used).map(|(s, u)| fits(u, &s.capacity)).collect();
    let placed = a.iter().filter(|s| s.is_some()).count();
    let accurate = a.iter().filter(|s| matches!(s, Some(s) if ok[*s])).count();

    let locations: Vec<&Location> = p.servers.iter().map(|s| &s.location).collect();
    let pairs = p.deps.iter().filter_map(|d| Some((a[d.a]?, a[d.b]?, d.weight)));
    let lat = weighted_latency(pairs, &locations, &p.latency);
    let (mut dep_w, mut dep_sum) = (0.0, 0.0);
    for d in p.deps.iter().filter(|d| d.a != d.b) {
        if let (Some(x), Some(y)) = (a[d.a], a[d.b]) {
            dep_w += d.weight;
            dep_sum += d.weight * p.latency.mean_between(locations[x], locations[y], x == y);
        }
    }

    let (mut bw_used, mut bw_cap) = (0.0, 0.0);
    let mut hosting = vec![false; p.servers.len()];
    for s in a.iter().flatten() {
        hosting[*s] = true;
    }
    for (s, srv) in p.servers.iter().enumerate() {
        if hosting[s] {
            bw_used += used[s].bw_mbps;
            bw_cap += srv.capacity.bw_mbps;
        }
    }
    let utils: Vec<f64> = (0..p.servers.len()).map(|s| p.util_of(&used[s], s)).collect();

    let mut groups = std::collections::HashMap::new();
    for (w, s) in a.iter().enumerate() {
        if let (Some(s), Some(g)) = (s, p.workloads[w].group) {
            *groups.entry((*s, g)).or_insert(0usize) += 1;
        }
    }
    let spread_violations = groups.values().map(|&c| c * (c - 1) / 2).sum();

    Metrics {
        workloads: n,
        placed,
        accuracy: if n > 0 { accurate as f64 / n as f64 } else { 1.0 },
        mean_latency_ms: lat.mean_ms,
        mean_dependency_latency_ms: ratio(dep_sum, dep_w),
        colocated_share: lat.colocated_share,
        bandwidth_util: ratio(bw_used, bw_cap),
        rub: rub(&utils),
        completion: completion(p, a, &used, &ok),
        overloaded_servers: ok.iter().filter(|o| !**o).count(),
        spread_violations,
    }
}

/// Expected finish time of each workload under `COMPLETION_MODEL`; `None` when it cannot
/// finish (unplaced, on an over-capacity server, or a dependency unplaced).
#[cfg(test)]
pub(crate) fn finish_times_ms(p: &Problem, a: &Assignment) -> Vec<Option<f64>> {
    let used = p.loads(a);
    let ok: Vec<bool> = p.servers.iter().zip(&used).map(|(s, u)| fits(u, &s.capacity)).collect();
    finish_times(p, a, &used, &ok)
}

fn finish_times(
    p: &Problem,
    a: &Assignment,
    used: &[crate::twin::Resources],
    ok: &[bool],
) -> Vec<Option<f64>> {
    let topo = Topology::new(p);
    let adj = p.adjacency();
    (0..p.workloads.len())
        .map(|j| {
            let s = a[j]?;
            if !ok[s] {
                return None;
            }
            let rho = ratio(used[s].cpu_m, p.servers[s].capacity.cpu_m);
            if rho >= 1.0 {
                return None;
            }
            let mut t = p.workloads[j].work_ms / (1.0 - rho);
            for &(k, _) in &adj[j] {
                t += p.calls_per_dependency * 2.0 * topo.latency(s, a[k]?);
            }
            Some(t)
        })
        .collect()
}

fn completion(p: &Problem, a: &Assignment, used: &[crate::twin::Resources], ok: &[bool]) -> Option<f64> {
    let with_deadline = p.workloads.iter().filter(|w| w.deadline_ms.is_some()).count();
    if with_deadline == 0 {
        return None;
    }
    let finish = finish_times(p, a, used, ok);
    let met = p
        .workloads
        .iter()
        .zip(&finish)
        .filter(|(w, f)| matches!((w.deadline_ms, f), (Some(d), Some(f)) if *f <= d))
        .count();
    Some(met as f64 / with_deadline as f64)
}
