//! Acting on a cluster, safely: the cluster interface sources implement, the approval flow that
//! is the only path to a cluster, the audit log every decision is written to first, the calendar,
//! the post-change watch, and the operator service that owns them all — the console shows what
//! it decides, the headless commands and `twintop operator` drive the same service.

pub mod audit;
pub mod audit_seal;
pub mod audit_verify;
pub mod cluster;
pub mod flow;
pub(crate) mod kube_apply;
pub mod ledger;
pub mod operator;
mod operator_calendar;
pub mod operator_requests;
pub(crate) mod remote;
pub mod schedule;
pub mod watch;
