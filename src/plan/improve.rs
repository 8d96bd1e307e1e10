//! Incremental re-placement of a running deployment: at most K single-pod moves, each the
//! best improvement of the objective at that point (overloaded servers first, since overflow
//! weighs most). This is what the advisor proposes: nobody approves moving everything.

use super::metrics::{Metrics, evaluate};
use super::problem::{Assignment, Problem, Topology};
use super::state::{State, Weights};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    /// Index of the workload (pod) in the problem.
    pub workload: usize,
    /// Its name (for a twin problem: `namespace/pod`).
    pub name: String,
    pub from: Option<usize>,
    pub to: usize,
    pub from_server: Option<String>,
    pub to_server: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Improvement {
    pub moves: Vec<Move>,
    pub before: Metrics,
    pub after: Metrics,
    pub assignment: Assignment,
}

/// Above this many (pod, server) pairs a round looks at a seeded sample of servers.
const FULL_SCAN_PAIRS: usize = 400_000;
const SAMPLE_SERVERS: usize = 128;

pub fn improve(p: &Problem, current: &Assignment, max_moves: usize, seed: u64) -> Improvement {
    improve_only(p, current, max_moves, seed, &vec![true; p.workloads.len()])
}

/// `improve`, moving only the workloads marked in `movable` (the others stay where they are and
/// still count for capacity and balance): an advisor pins what it may not disrupt.
pub fn improve_only(
    p: &Problem,
    current: &Assignment,
    max_moves: usize,
    seed: u64,
    movable: &[bool],
) -> Improvement {
    let topo = Topology::new(p);
    let adj = p.adjacency();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut st = State::new(p, &topo, &adj, Weights::default(), current);
    let (m, n) = (p.workloads.len(), p.servers.len());
    // A workload not movable counts as already moved.
    let mut moved: Vec<bool> = (0..m).map(|j| !movable.get(j).copied().unwrap_or(false)).collect();
    let mut moves = Vec::new();
    let mut servers: Vec<usize> = Vec::new();
    while moves.len() < max_moves {
        servers.clear();
        if m * n <= FULL_SCAN_PAIRS {
            servers.extend(0..n);
        } else {
            servers.extend((0..SAMPLE_SERVERS).map(|_| rng.random_range(0..n)));
        }
        let mut best: Option<(f64, usize, usize)> = None;
        for j in (0..m).filter(|&j| !moved[j]) {
            for &s in &servers {
                if !st.can_host(j, s) {
                    continue;
                }
                let d = st.delta_move(j, s);
                if best.is_none_or(|(b, _, _)| d < b) {
                    best = Some((d, j, s));
                }
            }
        }
        let Some((d, j, s)) = best else { break };
        if d >= -1e-9 {
            break;
        }
        let from = st.assign[j];
        st.apply(j, Some(s));
        moved[j] = true;
        moves.push(Move {
            workload: j,
            name: p.workloads[j].name.clone(),
            from,
            to: s,
            from_server: from.map(|f| p.servers[f].name.clone()),
            to_server: p.servers[s].name.clone(),
        });
    }
    let before = evaluate(p, current);
    let after = evaluate(p, &st.assign);
    Improvement { moves, before, after, assignment: st.assign }
}
