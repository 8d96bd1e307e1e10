//! `twintop bench map`: mapping a Kubernetes list of N nodes and M pods (typed k8s-openapi
//! objects, as reflectors hold them) into the twin and building its snapshot.

use crate::source::k8s_map::{self, ReplicaSetOwners};
use crate::twin::{TwinEvent, TwinStore};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::time::Instant;

/// (ms to map nodes, ms to map pods, ms to apply + snapshot).
pub(crate) fn run(nodes: usize, pods: usize) -> anyhow::Result<(f64, f64, f64)> {
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n", "labels": {"topology.kubernetes.io/zone": "eu-west-1a",
            "topology.kubernetes.io/region": "eu-west-1", "node.kubernetes.io/instance-type": "m5.4xlarge"}},
        "status": {"capacity": {"cpu": "16", "memory": "65536Mi", "pods": "110"},
                   "allocatable": {"cpu": "15890m", "memory": "64000Mi", "pods": "110"}}
    }))?;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "bench", "labels": {"pod-template-hash": "7d4b578979"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-7d4b578979",
                                 "uid": "u", "controller": true}]},
        "spec": {"nodeName": "n", "containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}},
            {"name": "sidecar", "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}]},
        "status": {"phase": "Running"}
    }))?;
    let node_list: Vec<Node> = (0..nodes)
        .map(|i| {
            let mut n = node.clone();
            n.metadata.name = Some(format!("node-{i:05}"));
            n
        })
        .collect();
    let pod_list: Vec<Pod> = (0..pods)
        .map(|i| {
            let mut p = pod.clone();
            p.metadata.name = Some(format!("app-7d4b578979-{i:06}"));
            p.spec.as_mut().expect("spec").node_name = Some(format!("node-{:05}", i % nodes.max(1)));
            p
        })
        .collect();
    let owners = ReplicaSetOwners::new();
    let t = Instant::now();
    let servers = node_list.iter().map(k8s_map::node_to_server).collect::<Result<Vec<_>, _>>()?;
    let t_nodes = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let specs =
        pod_list.iter().map(|p| k8s_map::pod_to_podspec(p, &owners)).collect::<Result<Vec<_>, _>>()?;
    let t_pods = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let mut st = TwinStore::default();
    st.apply_all(servers.into_iter().map(TwinEvent::Server));
    st.apply_all(specs.into_iter().map(TwinEvent::Pod));
    std::hint::black_box(st.snapshot());
    Ok((t_nodes, t_pods, t.elapsed().as_secs_f64() * 1000.0))
}
