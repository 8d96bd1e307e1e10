//! A placement problem from a twin snapshot: every pod that holds resources is a workload
//! (its requests are its demand; pods of one Deployment form a spread group when there are
//! enough schedulable servers to keep them apart, as the scheduler's default spreading
//! would), the servers are
//! the twin's (unschedulable ones cordoned), and call edges become dependencies between pods,
//! each edge's rate spread evenly over the pod pairs as a random load balancer would.

use super::problem::{Assignment, Dependency, PlanServer, PlanWorkload, Problem};
use super::scenario::CALLS_PER_DEPENDENCY;
use crate::twin::Snapshot;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TwinProblem {
    pub problem: Problem,
    /// Where the pods are now.
    pub current: Assignment,
    /// Problem workload → index into `Snapshot::pods`.
    pub pods: Vec<usize>,
}

pub(crate) fn from_snapshot(snap: &Snapshot) -> TwinProblem {
    let servers = snap
        .servers
        .iter()
        .map(|s| PlanServer {
            name: s.name.clone(),
            capacity: s.allocatable,
            location: s.location.clone(),
            cordoned: !s.schedulable,
        })
        .collect();
    let mut pods = Vec::new();
    let mut workloads = Vec::new();
    let mut current = Vec::new();
    let mut by_workload: Vec<Vec<usize>> = vec![Vec::new(); snap.workloads.len()];
    for (i, pod) in snap.pods.iter().enumerate() {
        let Some(w) = pod.workload else { continue };
        if !pod.phase.holds_resources() {
            continue;
        }
        by_workload[w].push(workloads.len());
        pods.push(i);
        current.push(pod.server);
        workloads.push(PlanWorkload {
            name: format!("{}/{}", pod.namespace, pod.name),
            demand: pod.requests,
            forecast: pod.requests,
            work_ms: 0.0,
            deadline_ms: None,
            group: Some(w as u32),
        });
    }
    let schedulable = snap.servers.iter().filter(|s| s.schedulable).count();
    for members in &by_workload {
        if members.len() > schedulable {
            for &j in members {
                workloads[j].group = None;
            }
        }
    }
    let mut deps = Vec::new();
    for e in &snap.edges {
        let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else { continue };
        let (pa, pb) = (&by_workload[a], &by_workload[b]);
        if a == b || pa.is_empty() || pb.is_empty() {
            continue;
        }
        let weight = if e.rps > 0.0 { e.rps } else { 1.0 } / (pa.len() * pb.len()) as f64;
        for &x in pa {
            for &y in pb {
                deps.push(Dependency { a: x, b: y, weight });
            }
        }
    }
    TwinProblem {
        problem: Problem {
            servers,
            workloads,
            deps,
            latency: snap.latency.clone(),
            calls_per_dependency: CALLS_PER_DEPENDENCY,
        },
        current,
        pods,
    }
}
