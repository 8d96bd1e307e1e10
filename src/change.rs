//! A change to a cluster: what an approved proposal does. The demo cluster and the
//! Kubernetes client both accept exactly these.
//!
//! Kubernetes has no "move a pod": a placement move is an eviction (policy/v1, which honours
//! PodDisruptionBudgets); the pod's controller recreates it and the scheduler places the
//! replacement, which is why `Evict::to` is only what the twin expects, never a promise.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Set a workload's replicas (by key `namespace/name`).
    Scale { workload: String, replicas: u32 },
    /// Set the bounds of the HPA that owns a workload.
    HpaBounds { workload: String, min: u32, max: u32 },
    /// Mark a server unschedulable (true) or schedulable again (false).
    Cordon { server: String, cordon: bool },
    /// Evict one pod (`namespace/name`) from the server it runs on, so its controller
    /// recreates it elsewhere. `to` is the server the twin expects the replacement on.
    Evict { pod: String, server: String, to: Option<String> },
}

impl Change {
    /// What the change acts on: the workload key, the server, or the pod (`namespace/name`).
    pub(crate) fn target(&self) -> &str {
        match self {
            Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => workload,
            Change::Cordon { server, .. } => server,
            Change::Evict { pod, .. } => pod,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Scale { workload, replicas } => write!(f, "scale {workload} to {replicas} replicas"),
            Change::HpaBounds { workload, min, max } => {
                write!(f, "set HPA of {workload} to min {min} max {max}")
            }
            Change::Cordon { server, cordon: true } => write!(f, "cordon server {server}"),
            Change::Cordon { server, cordon: false } => write!(f, "uncordon server {server}"),
            Change::Evict { pod, server, to: Some(to) } => {
                write!(f, "evict pod {pod} from server {server} (twin expects it on {to})")
            }
            Change::Evict { pod, server, to: None } => {
                write!(f, "evict pod {pod} from server {server} (the scheduler places its replacement)")
            }
        }
    }
}
