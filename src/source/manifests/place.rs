//! Placing a manifest twin's pods as a cluster would: DaemonSets first (one pod on every
//! server their rules admit, cordoned ones included), then every other workload's replicas in
//! file order, each on the best server (`spread`) among those the scheduling rules admit
//! (`twin::scheduling`: taints, node affinity, anti-affinity, topology spread) with room for
//! its requests. A pod that fits nowhere stays Pending with kube-scheduler's reason.

use super::spread::Spread;
use crate::twin::scheduling::{self, GroupSpec, Node, Placement, Scheduling, Unfit};
use crate::twin::{Server, Workload, WorkloadKind};

/// Where one replica went: a server index, or Pending with the reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Placed {
    On(usize),
    Pending(String),
}

/// Places every replica of `workloads` on `servers`; DaemonSets get their `replicas` set to
/// the number of servers they run on. Returns, per workload, one entry per replica.
pub(crate) fn place_all(servers: &[Server], workloads: &mut [Workload]) -> Vec<Vec<Placed>> {
    let nodes: Vec<Node> = servers
        .iter()
        .map(|s| Node { name: &s.name, labels: &s.labels, taints: &s.taints, schedulable: s.schedulable })
        .collect();
    let groups: Vec<GroupSpec> = workloads
        .iter()
        .map(|w| GroupSpec {
            namespace: w.namespace.clone(),
            labels: w.pod_labels.clone(),
            scheduling: w.scheduling.clone(),
        })
        .collect();
    let mut rules = Placement::new(&nodes, &groups);
    let mut sched = Spread::new(servers);
    // Most workloads share a few rule sets (most have none): one eligibility mask per set.
    let mut masks: Vec<(Scheduling, Vec<bool>)> = Vec::new();
    fn mask_of(masks: &mut Vec<(Scheduling, Vec<bool>)>, nodes: &[Node], s: &Scheduling) -> usize {
        if let Some(i) = masks.iter().position(|(k, _)| k == s) {
            return i;
        }
        masks.push((s.clone(), nodes.iter().map(|n| scheduling::node_filter(s, n).is_ok()).collect()));
        masks.len() - 1
    }
    let mut out: Vec<Vec<Placed>> = vec![Vec::new(); workloads.len()];
    let order: Vec<usize> = (0..workloads.len())
        .filter(|&w| workloads[w].kind == WorkloadKind::DaemonSet)
        .chain((0..workloads.len()).filter(|&w| workloads[w].kind != WorkloadKind::DaemonSet))
        .collect();
    for w in order {
        let m = mask_of(&mut masks, &nodes, &workloads[w].scheduling);
        let eligible = &masks[m].1;
        let req = workloads[w].requests;
        if workloads[w].kind == WorkloadKind::DaemonSet {
            for (i, _) in eligible.iter().enumerate().filter(|(_, ok)| **ok) {
                let fits = rules.for_pod(w).check(i).is_ok() && sched.bind(i, &req);
                if fits {
                    rules.add(w, i);
                    out[w].push(Placed::On(i));
                } else {
                    // The DaemonSet controller pins each pod to its node by node affinity: every
                    // other node fails that, this one what it lacks.
                    let mut per_node: Vec<Vec<Unfit>> = vec![vec![Unfit::NodeAffinity]; servers.len() - 1];
                    per_node.push(unfit_here(&sched, &rules, w, i, &workloads[w]));
                    out[w].push(Placed::Pending(scheduling::fit_error(servers.len(), &per_node)));
                }
            }
            workloads[w].replicas = out[w].len() as u32;
            continue;
        }
        for r in 0..workloads[w].replicas {
            let placed = if rules.constrained(w) {
                let pod = rules.for_pod(w);
                sched.place_where(&req, |i| eligible[i] && pod.check(i).is_ok())
            } else {
                sched.place_where(&req, |i| eligible[i])
            };
            match placed {
                Some(i) => {
                    rules.add(w, i);
                    out[w].push(Placed::On(i));
                }
                None => {
                    // Nothing changed, so the replicas left fail the same way.
                    let why = explain(servers, &nodes, &sched, &rules, w, &workloads[w]);
                    for _ in r..workloads[w].replicas {
                        out[w].push(Placed::Pending(why.clone()));
                    }
                    break;
                }
            }
        }
    }
    out
}

/// Why server `i` cannot take the next pod of workload `w`, past its static rules: what its
/// resources lack, else the rule that depends on other pods.
fn unfit_here(sched: &Spread, rules: &Placement, w: usize, i: usize, wl: &Workload) -> Vec<Unfit> {
    let free = sched.free(i);
    let short = scheduling::insufficient(free.cpu_m, free.mem_mib, wl.requests.cpu_m, wl.requests.mem_mib);
    if !short.is_empty() {
        return short;
    }
    rules.for_pod(w).check(i).err().into_iter().collect()
}

/// The FailedScheduling message for the next pod of workload `w`: each server's first failing
/// filter, in kube-scheduler's order.
fn explain(
    servers: &[Server],
    nodes: &[Node],
    sched: &Spread,
    rules: &Placement,
    w: usize,
    wl: &Workload,
) -> String {
    let pod = rules.for_pod(w);
    let per_node: Vec<Vec<Unfit>> = (0..servers.len())
        .map(|i| {
            if let Err(e) = scheduling::node_filter(&wl.scheduling, &nodes[i]) {
                return vec![e];
            }
            let free = sched.free(i);
            let short =
                scheduling::insufficient(free.cpu_m, free.mem_mib, wl.requests.cpu_m, wl.requests.mem_mib);
            if !short.is_empty() {
                return short;
            }
            pod.check(i).err().into_iter().collect()
        })
        .collect();
    scheduling::fit_error(servers.len(), &per_node)
}
