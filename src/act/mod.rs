//! Acting on a cluster, safely: guardrails every change must pass, the approval flow that is
//! the only path to a cluster, and the audit log every decision is written to first.

pub mod audit;
pub mod audit_seal;
pub mod audit_verify;
pub mod flow;
pub mod guardrails;
pub mod kube_apply;
pub mod schedule;
pub mod watch;
