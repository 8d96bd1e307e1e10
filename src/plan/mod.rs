//! Placement (DIRA-LDT's problem): assign workloads to servers within CPU, memory and
//! bandwidth capacities, minimise dependency-weighted latency, balance utilisation, meet
//! deadlines, respect spread groups and cordoned servers. Pure: the paper's scenario generator
//! and reference optima, its baselines (HBA, SM), twintop's optimizer (a structured start,
//! `pairing`/`construct`; a search, `search`/`pairs`/`moves`, over the incremental `state`),
//! incremental re-placement of a running twin, the metrics, a lower bound on the objective
//! (`bound`: each placement's proven gap), and instances as documents (`export`).

pub(crate) mod baselines;
mod bound;
mod construct;
mod deadlines;
pub(crate) mod export;
pub(crate) mod improve;
pub(crate) mod metrics;
mod moves;
pub(crate) mod optimize;
mod pairing;
mod pairs;
pub(crate) mod problem;
pub(crate) mod scenario;
mod search;
mod state;
#[cfg(test)]
mod tests;
pub(crate) mod twin;

pub(crate) use bound::lower_bound;
pub(crate) use improve::{ImproveOptions, REPLAN_BUDGET, improve, improve_with};
pub(crate) use metrics::{COMPLETION_MODEL, Metrics, evaluate};
pub(crate) use optimize::{OptimizeOptions, optimize};
pub(crate) use problem::{Assignment, Problem};
#[cfg(test)]
pub(crate) use problem::{Dependency, PlanServer, PlanWorkload, Topology};
#[cfg(test)]
pub(crate) use scenario::LARGE_BEST_KNOWN;
pub(crate) use scenario::{ScenarioSpec, generate, reference_cost};
pub(crate) use state::{Weights, objective};
pub(crate) use twin::from_snapshot;

/// The placement methods `eval placement` compares, by their JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Hba,
    Sm,
    Twintop,
}

impl Method {
    pub(crate) const ALL: [Method; 3] = [Method::Hba, Method::Sm, Method::Twintop];

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Method::Hba => "hba",
            Method::Sm => "sm",
            Method::Twintop => "twintop",
        }
    }

    pub(crate) fn place(&self, p: &Problem, seed: u64) -> Assignment {
        match self {
            Method::Hba => baselines::hba(p),
            Method::Sm => baselines::sm(p),
            Method::Twintop => optimize(p, &OptimizeOptions::seeded(seed)),
        }
    }
}
