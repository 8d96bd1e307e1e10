//! A change to a cluster: what an approved proposal does. The demo cluster and the
//! Kubernetes client both accept exactly these.

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
        }
    }
}
