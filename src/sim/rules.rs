//! The scenario's scheduling rules, compiled for the scheduler's filter (`cluster.rs`) from
//! the one implementation in `twin::scheduling`: per service, the servers its static rules
//! (taints, nodeSelector, node affinity, and `node_affinity` names) admit; and, when any
//! service has anti-affinity or spread constraints, the placement those read.

use super::scenario::{Scenario, server_names};
use crate::twin::scheduling::{self, GroupSpec, Node, Placement};

/// Per service: the servers its pods may use (empty: every server); the placement-dependent
/// rules, when any service has some.
pub(super) fn compile(sc: &Scenario) -> (Vec<Vec<bool>>, Option<Placement>) {
    let names: Vec<Vec<String>> = sc.servers.iter().map(server_names).collect();
    let nodes: Vec<Node> = sc
        .servers
        .iter()
        .zip(&names)
        .flat_map(|(g, names)| {
            // Cordons are the scheduler's own state (they change during a run).
            names.iter().map(move |n| Node {
                name: n,
                labels: &g.labels,
                taints: &g.taints,
                schedulable: true,
            })
        })
        .collect();
    let allowed = sc
        .services
        .iter()
        .map(|s| {
            let mask: Vec<bool> = nodes
                .iter()
                .map(|n| {
                    (s.node_affinity.is_empty() || s.node_affinity.iter().any(|a| a == n.name))
                        && scheduling::node_filter(&s.scheduling, n).is_ok()
                })
                .collect();
            if mask.iter().all(|ok| *ok) { Vec::new() } else { mask }
        })
        .collect();
    let groups: Vec<GroupSpec> = sc
        .services
        .iter()
        .map(|s| GroupSpec {
            namespace: s.name.split_once('/').map(|(ns, _)| ns.to_string()).unwrap_or_default(),
            labels: s.labels.clone(),
            scheduling: s.scheduling.clone(),
        })
        .collect();
    let rules = Placement::new(&nodes, &groups);
    let any = (0..groups.len()).any(|g| rules.constrained(g));
    (allowed, any.then_some(rules))
}
