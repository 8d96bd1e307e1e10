//! The request-level what-if simulator (KubeTwin's model, made fast): pods as G/G/n/FIFO
//! queues on servers with speeds, services balancing over ready pods, workflows of
//! synchronous calls over a latency model, load generators, a scheduler, Kubernetes' HPA,
//! and failures and changes at given times. Pure: no I/O, no clock; seeded and reproducible.
//!
//! `run(&scenario, seed)` gives `Outputs`; `sweep` runs variants in parallel;
//! `Scenario::from_yaml` parses a file's text and `from_snapshot::scenario_from_snapshot`
//! builds a scenario from the twin.

mod build;
pub(crate) mod calibrate;
mod calibrate_mc;
mod cluster;
mod direct;
mod engine;
pub mod entries;
pub mod fidelity;
mod flow;
pub mod from_snapshot;
pub(crate) mod hpa;
#[cfg(test)]
mod memory_tests;
pub(crate) mod output;
mod queue;
mod rules;
pub(crate) mod rv;
pub mod scenario;
mod series;
pub(crate) mod stats;
pub mod sweep;
pub mod validate;

pub(crate) use engine::{Control, SimError};
pub(crate) use from_snapshot::FromSnapshotOptions;
pub use output::Outputs;
pub use scenario::{Scenario, ScenarioError};
pub use stats::Summary;
pub use sweep::{SweepParam, SweepPoint, SweepResult, sweep};

/// Runs a scenario with a seed (validating it first: a scenario built in code gets the same
/// checks as a file). `wall_s` is left at 0 (the caller times it).
pub fn run(sc: &Scenario, seed: u64) -> Result<Outputs, SimError> {
    sc.validate().map_err(|(field, msg, _)| SimError::Scenario(format!("{field}: {msg}")))?;
    let mut w = engine::World::new(sc, seed)?;
    w.run_loop()?;
    Ok(w.outputs())
}

/// `run` with a cancel flag and progress reports (simulated seconds done).
pub(crate) fn run_with(sc: &Scenario, seed: u64, ctl: &Control<'_>) -> Result<Outputs, SimError> {
    sc.validate().map_err(|(field, msg, _)| SimError::Scenario(format!("{field}: {msg}")))?;
    let mut w = engine::World::new(sc, seed)?;
    w.run_loop_with(ctl)?;
    Ok(w.outputs())
}
