//! Incremental re-placement of a running deployment: at most K pod moves, because nobody
//! approves moving everything. Two ways to find them, the better kept:
//!
//! - greedy: step by step the move set with the best gain per pod moved — a relocation, a swap
//!   of two pods (keeps both servers' capacity), or a pull onto a dependency's server with one
//!   of its pods pushed elsewhere — overloaded servers first, since overflow weighs most;
//! - re-plan (with a budget): the optimizer's search run from the current placement, then the
//!   moves toward what it found, best first, as many as K allows.
//!
//! This is what the advisor proposes.

use super::metrics::{Metrics, evaluate};
use super::problem::{Assignment, Problem, Topology};
use super::state::{State, Weights};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Move {
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
pub(crate) struct Improvement {
    pub moves: Vec<Move>,
    pub before: Metrics,
    pub after: Metrics,
    pub assignment: Assignment,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImproveOptions {
    /// Pods that may move (each at most once).
    pub max_moves: usize,
    pub seed: u64,
    /// Moves the re-plan may evaluate (0: greedy only).
    pub budget: usize,
    /// A key per workload: at most one workload of each key moves (an advisor keys pods by
    /// their Deployment: one eviction per workload at a time).
    pub once_per: Option<Vec<usize>>,
}

/// The re-plan's default effort: a few milliseconds on a cluster of a few hundred pods.
pub(crate) const REPLAN_BUDGET: usize = 200_000;

impl ImproveOptions {
    pub(crate) fn new(max_moves: usize, seed: u64) -> Self {
        ImproveOptions { max_moves, seed, budget: REPLAN_BUDGET, once_per: None }
    }
}

/// Above this many (pod, server) pairs a greedy step looks at a seeded sample of servers.
const FULL_SCAN_PAIRS: usize = 400_000;
const SAMPLE_SERVERS: usize = 128;
/// Above this many pods a greedy step tries no swaps (m² pairs).
const MAX_SWAP_PODS: usize = 600;
const EPS: f64 = 1e-9;

pub(crate) fn improve(p: &Problem, current: &Assignment, max_moves: usize, seed: u64) -> Improvement {
    improve_with(p, current, &ImproveOptions::new(max_moves, seed), &vec![true; p.workloads.len()])
}

pub(crate) fn improve_with(
    p: &Problem,
    current: &Assignment,
    o: &ImproveOptions,
    movable: &[bool],
) -> Improvement {
    let topo = Topology::new(p);
    let adj = p.adjacency();
    let movable: Vec<bool> =
        (0..p.workloads.len()).map(|j| movable.get(j).copied().unwrap_or(false)).collect();
    // (placement, the pods moved in the order they moved)
    let mut best = greedy(p, &topo, &adj, current, o, &movable);
    if o.budget > 0 && o.max_moves > 0 {
        let replanned = replan(p, &topo, &adj, current, o, &movable);
        let score = |a: &Assignment| State::new(p, &topo, &adj, Weights::default(), a).score();
        if score(&replanned.0) < score(&best.0) - EPS {
            best = replanned;
        }
    }
    let (best, order) = best;
    let moves = order
        .into_iter()
        .filter(|&j| best[j] != current[j])
        .filter_map(|j| {
            let to = best[j]?;
            Some(Move {
                workload: j,
                name: p.workloads[j].name.clone(),
                from: current[j],
                to,
                from_server: current[j].map(|f| p.servers[f].name.clone()),
                to_server: p.servers[to].name.clone(),
            })
        })
        .collect();
    Improvement { moves, before: evaluate(p, current), after: evaluate(p, &best), assignment: best }
}

/// Who may still move: not pinned, not moved yet, and no workload of its key moved yet.
struct Budget<'o> {
    free: Vec<bool>,
    left: usize,
    once_per: Option<&'o [usize]>,
    /// The pods moved, in order.
    order: Vec<usize>,
}

impl<'o> Budget<'o> {
    fn new(movable: &[bool], o: &'o ImproveOptions) -> Self {
        Budget {
            free: movable.to_vec(),
            left: o.max_moves,
            once_per: o.once_per.as_deref(),
            order: Vec::new(),
        }
    }

    fn take(&mut self, moved: &[usize]) {
        for &j in moved {
            self.free[j] = false;
            if let Some(keys) = self.once_per {
                for (k, key) in keys.iter().enumerate() {
                    if keys.get(j) == Some(key) {
                        self.free[k] = false;
                    }
                }
            }
        }
        self.order.extend_from_slice(moved);
        self.left -= moved.len();
    }

    /// The move set is allowed: each moved pod free, no two of one key.
    fn allows(&self, moves: &[(usize, usize)]) -> bool {
        moves.len() <= self.left
            && moves.iter().all(|&(j, _)| self.free[j])
            && self.once_per.is_none_or(|keys| {
                moves
                    .iter()
                    .enumerate()
                    .all(|(i, &(j, _))| moves[..i].iter().all(|&(k, _)| keys.get(k) != keys.get(j)))
            })
    }
}

fn greedy(
    p: &Problem,
    topo: &Topology,
    adj: &[Vec<(usize, f64)>],
    current: &Assignment,
    o: &ImproveOptions,
    movable: &[bool],
) -> (Assignment, Vec<usize>) {
    let mut rng = SmallRng::seed_from_u64(o.seed);
    let mut st = State::new(p, topo, adj, Weights::default(), current);
    let (m, n) = (p.workloads.len(), p.servers.len());
    let mut budget = Budget::new(movable, o);
    let mut servers: Vec<usize> = Vec::new();
    while budget.left > 0 {
        servers.clear();
        if m * n <= FULL_SCAN_PAIRS {
            servers.extend(0..n);
        } else {
            servers.extend((0..SAMPLE_SERVERS).map(|_| rng.random_range(0..n)));
        }
        // (gain per pod moved, moves)
        let mut cands: Vec<(f64, Vec<(usize, usize)>)> = Vec::new();
        let mut offer = |d: f64, mv: Vec<(usize, usize)>| {
            if d < -EPS {
                cands.push((d / mv.len() as f64, mv));
            }
        };
        for j in (0..m).filter(|&j| budget.free[j]) {
            for &s in &servers {
                if st.can_host(j, s) {
                    offer(st.delta_move(j, s), vec![(j, s)]);
                }
            }
            if budget.left >= 2 && m <= MAX_SWAP_PODS {
                for k in (j + 1..m).filter(|&k| budget.free[k]) {
                    if st.can_swap(j, k) {
                        offer(
                            st.delta_swap(j, k),
                            vec![(j, st.assign[k].unwrap_or(0)), (k, st.assign[j].unwrap_or(0))],
                        );
                    }
                }
            }
            if budget.left >= 2 && st.assign[j].is_some() {
                for &(k, _) in &adj[j] {
                    let Some(b) = st.assign[k] else { continue };
                    if Some(b) == st.assign[j] {
                        continue;
                    }
                    for &x in st.members[b].iter().filter(|&&x| x != k && budget.free[x]) {
                        for &t in servers.iter().filter(|&&t| t != b) {
                            if let Some(d) = st.delta_moves(&[(j, b), (x, t)]) {
                                offer(d, vec![(j, b), (x, t)]);
                            }
                        }
                    }
                }
            }
        }
        cands.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut done = false;
        for (_, mv) in cands.iter().take(8) {
            if !budget.allows(mv) {
                continue;
            }
            // Deadlines: the score must improve, not only the cost.
            let before = st.score();
            let undo: Vec<(usize, Option<usize>)> = mv.iter().map(|&(j, _)| (j, st.assign[j])).collect();
            for &(j, s) in mv {
                st.apply(j, Some(s));
            }
            if st.score() < before - EPS {
                budget.take(&mv.iter().map(|m| m.0).collect::<Vec<_>>());
                done = true;
                break;
            }
            for &(j, s) in undo.iter().rev() {
                st.apply(j, s);
            }
        }
        if !done {
            break;
        }
    }
    (st.assign, budget.order)
}

/// The optimizer's search from the current placement, then the moves toward its result.
fn replan(
    p: &Problem,
    topo: &Topology,
    adj: &[Vec<(usize, f64)>],
    current: &Assignment,
    o: &ImproveOptions,
    movable: &[bool],
) -> (Assignment, Vec<usize>) {
    let mut target = State::new(p, topo, adj, Weights::default(), current);
    super::optimize::search_from(&mut target, o.seed, o.budget, movable.to_vec());
    let target = target.assign;
    let mut st = State::new(p, topo, adj, Weights::default(), current);
    let mut budget = Budget::new(movable, o);
    // Toward the target one pod at a time, the best feasible step first (a step may cost,
    // the half of a swap); then the best prefix.
    let mut steps: Vec<(usize, Option<usize>)> = Vec::new();
    let mut best = (st.score(), 0usize);
    while budget.left > 0 {
        let mut pick: Option<(f64, usize, usize)> = None;
        for j in (0..p.workloads.len()).filter(|&j| budget.free[j] && target[j] != st.assign[j]) {
            let Some(t) = target[j] else { continue };
            if !st.can_host(j, t) || !budget.allows(&[(j, t)]) {
                continue;
            }
            let d = st.delta_move(j, t);
            if pick.is_none_or(|(b, _, _)| d < b) {
                pick = Some((d, j, t));
            }
        }
        let Some((_, j, t)) = pick else { break };
        steps.push((j, st.assign[j]));
        st.apply(j, Some(t));
        budget.take(&[j]);
        let s = st.score();
        if s < best.0 - EPS {
            best = (s, steps.len());
        }
    }
    for &(j, from) in steps[best.1..].iter().rev() {
        st.apply(j, from);
    }
    budget.order.truncate(best.1);
    (st.assign, budget.order)
}
