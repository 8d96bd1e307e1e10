//! Acting on a cluster, safely: guardrails every change must pass, the approval flow that is
//! the only path to a cluster, and the audit log every decision is written to first.

pub mod audit;
pub mod cluster;
pub mod flow;
pub mod kube_apply;
pub mod schedule;
pub mod watch;
