//! Placement (DIRA-LDT's problem): assign workloads to servers within CPU, memory and
//! bandwidth capacities, minimise dependency-weighted latency, balance utilisation, meet
//! deadlines, respect spread groups and cordoned servers. Pure: the paper's scenario generator
//! and reference optima, its baselines (HBA, SM), twintop's optimizer (a structured start,
//! `pairing`/`construct`; a search, `search`/`pairs`/`moves`, over the incremental `state`),
//! incremental re-placement of a running twin, the metrics, and instances as documents
//! (`export`).

pub mod baselines;
mod construct;
mod deadlines;
pub mod export;
pub mod improve;
pub mod metrics;
mod moves;
pub mod optimize;
mod pairing;
mod pairs;
pub mod problem;
pub mod scenario;
mod search;
mod state;
#[cfg(test)]
mod tests;
pub mod twin;

pub use improve::{ImproveOptions, Improvement, Move, REPLAN_BUDGET, improve, improve_only, improve_with};
pub use metrics::{COMPLETION_MODEL, Metrics, evaluate};
pub use optimize::{OptimizeOptions, optimize};
pub use problem::{Assignment, Dependency, PlanServer, PlanWorkload, Problem, Topology};
pub use scenario::{DIRA_OPTIMUM, LARGE_BEST_KNOWN, ScenarioSpec, generate, reference_cost};
pub use state::{Objective, Weights, objective};
pub use twin::{TwinProblem, from_snapshot};

/// The placement methods `eval placement` compares, by their JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Hba,
    Sm,
    Twintop,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Hba, Method::Sm, Method::Twintop];

    pub fn name(&self) -> &'static str {
        match self {
            Method::Hba => "hba",
            Method::Sm => "sm",
            Method::Twintop => "twintop",
        }
    }

    pub fn place(&self, p: &Problem, seed: u64) -> Assignment {
        match self {
            Method::Hba => baselines::hba(p),
            Method::Sm => baselines::sm(p),
            Method::Twintop => optimize(p, &OptimizeOptions::seeded(seed)),
        }
    }
}
