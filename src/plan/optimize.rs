//! twintop's own placement, in three stages.
//!
//! 1. A start built from dependency groups (`pairing` on alike servers, else `construct`).
//! 2. Local search (`search`): every pair of servers split again best, moves across three
//!    servers for dependent workloads, and missed deadlines repaired first.
//! 3. Each dependency tried the other way round (a co-located pair split, a split pair joined)
//!    with the rest re-balanced around it, kept when better; then, while budget is left, kicks
//!    (the workloads of three servers, or a dependency component, taken off and put back best
//!    first) each followed by the local search, kept when no worse than the best so far.
//!
//! Capacities, cordons and spread groups hold throughout; meeting deadlines comes before the
//! objective (`State::score`). The budget is counted in evaluated moves, not in time, so the
//! result is the same for the same seed on any machine.

use super::problem::{Assignment, Problem, Topology};
use super::search::{Search, shuffle};
use super::state::{State, Weights};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OptimizeOptions {
    pub seed: u64,
    /// Moves the search may evaluate per workload at DIRA-LDT's density (two workloads per
    /// open server); scaled by the density above that (`budget`).
    pub moves_per_workload: usize,
    /// Upper bound on the moves evaluated in total.
    pub max_moves: usize,
    pub weights: Weights,
}

/// The default effort: on DIRA-LDT's scenario (100 workloads on 50 servers) the placement is
/// within 2 % of the proven optimum with this (350,000 moves, about 5 ms), on 50 × 200 within
/// 2 % of the best known (the `MAX_MOVES` cap).
pub(crate) const MOVES_PER_WORKLOAD: usize = 3_500;
pub(crate) const MAX_MOVES: usize = 1_000_000;

impl OptimizeOptions {
    pub(crate) fn seeded(seed: u64) -> Self {
        OptimizeOptions {
            seed,
            moves_per_workload: MOVES_PER_WORKLOAD,
            max_moves: MAX_MOVES,
            weights: Weights::default(),
        }
    }

    /// The moves this search evaluates on a problem of `workloads` workloads on `servers` open
    /// servers. The effort per workload grows with the workloads per server above two: the
    /// search's main move splits two servers' contents again best, which costs 2^k evaluations
    /// for k workloads on the pair, and a denser problem needs more of them to converge (50 ×
    /// 200 needs its 1,000,000 moves; 50 × 100 is at its optimum with 350,000).
    pub(crate) fn budget(&self, workloads: usize, servers: usize) -> usize {
        let density = (workloads as f64 / (2 * servers.max(1)) as f64).max(1.0);
        let scaled = (self.moves_per_workload as f64 * workloads as f64 * density).min(self.max_moves as f64);
        scaled as usize
    }
}

/// Above this many servers a workload put back after a kick looks at a sample of servers (plus
/// those near its dependencies) instead of all of them.
const FULL_SCAN_SERVERS: usize = 256;
const SAMPLE_SERVERS: usize = 48;
/// Servers emptied and refilled by one kick.
const KICK_SERVERS: usize = 3;

pub(crate) fn optimize(p: &Problem, o: &OptimizeOptions) -> Assignment {
    optimize_counted(p, o).0
}

/// `optimize`, and the moves its search evaluated (the effort, the same on any machine).
pub(crate) fn optimize_counted(p: &Problem, o: &OptimizeOptions) -> (Assignment, usize) {
    let m = p.workloads.len();
    let topo = Topology::new(p);
    let adj = p.adjacency();
    let mut st = State::new(p, &topo, &adj, o.weights, &vec![None; m]);
    match super::pairing::structured_start(&st) {
        Some(start) => {
            for (j, s) in start.into_iter().enumerate() {
                st.apply(j, s);
            }
        }
        None => super::construct::construct(&mut st),
    }
    let open = p.servers.iter().filter(|s| !s.cordoned).count();
    let evals = search_from(&mut st, o.seed, o.budget(m, open), vec![true; m]);
    (st.assign, evals)
}

/// Stages 2 and 3 from the placement in `st`, moving only `movable` workloads; the moves
/// evaluated.
pub(crate) fn search_from(st: &mut State, seed: u64, budget: usize, movable: Vec<bool>) -> usize {
    let mut search = Search::new(st, SmallRng::seed_from_u64(seed), budget, movable);
    search.descend();
    while !search.exhausted() && toggle_edges(&mut search) {}
    iterate(&mut search);
    search.evals
}

/// Kick, search, keep if no worse than the best; until the budget is spent.
fn iterate(search: &mut Search) {
    let (m, n) = (search.st.p.workloads.len(), search.st.p.servers.len());
    if m < 2 || n < 2 {
        return;
    }
    let mut best = search.st.assign.clone();
    let mut best_score = search.st.score();
    let mut stamps = search.st.stamp.clone();
    while !search.exhausted() {
        kick(search);
        search.local();
        let s = search.st.score();
        if s <= best_score {
            best_score = s;
            best.clone_from(&search.st.assign);
            stamps.clone_from(&search.st.stamp);
        } else {
            restore(search, &best, &stamps);
        }
    }
    if search.st.score() > best_score {
        restore(search, &best, &stamps);
    }
}

/// Each dependency tried the other way round — a co-located pair split, a split pair joined —
/// held so while the rest is re-balanced around it, then released; kept when the placement
/// improves. True when some change was kept.
fn toggle_edges(search: &mut Search) -> bool {
    let p = search.st.p;
    let mut edges: Vec<(usize, usize, f64)> =
        p.deps.iter().filter(|d| d.a != d.b).map(|d| (d.a, d.b, d.weight)).collect();
    edges.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
    let mut improved = false;
    for (a, b, _) in edges {
        if search.exhausted() {
            break;
        }
        if !search.movable[a] || !search.movable[b] {
            continue;
        }
        let (Some(sa), Some(sb)) = (search.st.assign[a], search.st.assign[b]) else { continue };
        let before = search.st.score();
        let snapshot = search.st.assign.clone();
        let stamps = search.st.stamp.clone();
        let joined = sa == sb;
        let Some(moves) = (if joined { split(search, a, b) } else { join(search, a, b) }) else { continue };
        for &(j, t) in &moves {
            search.st.apply(j, Some(t));
        }
        search.evals += moves.len();
        if joined {
            search.pair_scratch.apart.push((a, b));
        } else {
            search.pair_scratch.tied.push((a, b));
        }
        search.pair_sweep();
        search.pair_scratch.apart.clear();
        search.pair_scratch.tied.clear();
        let here: Vec<usize> = [a, b].iter().filter_map(|&j| search.st.assign[j]).collect();
        search.forget_pairs(&here);
        search.local();
        if search.st.score() < before - 1e-12 {
            improved = true;
        } else {
            restore(search, &snapshot, &stamps);
        }
    }
    improved
}

/// The cheapest way to put `a` and `b` (on one server) apart: either one moved, or swapped
/// with a workload elsewhere.
fn split(search: &mut Search, a: usize, b: usize) -> Option<Vec<(usize, usize)>> {
    let st = &*search.st;
    let (m, n) = (st.p.workloads.len(), st.p.servers.len());
    let mut best: Option<(f64, Vec<(usize, usize)>)> = None;
    let mut offer = |d: f64, mv: Vec<(usize, usize)>| {
        if best.as_ref().is_none_or(|b| d < b.0) {
            best = Some((d, mv));
        }
    };
    for j in [a, b] {
        for s in 0..n {
            if st.can_host(j, s) {
                offer(st.delta_move(j, s), vec![(j, s)]);
            }
        }
        for k in 0..m {
            if k != a && k != b && search.movable[k] && st.can_swap(j, k) {
                offer(st.delta_swap(j, k), vec![(j, st.assign[k]?), (k, st.assign[j]?)]);
            }
        }
    }
    search.evals += 2 * (n + m);
    best.map(|b| b.1)
}

/// The cheapest way to put `a` and `b` (on two servers) together: one moved to the other's
/// server, or swapped with a workload there.
fn join(search: &mut Search, a: usize, b: usize) -> Option<Vec<(usize, usize)>> {
    let st = &*search.st;
    let mut best: Option<(f64, Vec<(usize, usize)>)> = None;
    let mut offer = |d: f64, mv: Vec<(usize, usize)>| {
        if best.as_ref().is_none_or(|b| d < b.0) {
            best = Some((d, mv));
        }
    };
    for (j, k) in [(a, b), (b, a)] {
        let (sj, sk) = (st.assign[j]?, st.assign[k]?);
        if st.can_host(j, sk) {
            offer(st.delta_move(j, sk), vec![(j, sk)]);
        }
        for &x in &st.members[sk] {
            if x != k && search.movable[x] && st.can_swap(j, x) {
                offer(st.delta_swap(j, x), vec![(j, sk), (x, sj)]);
            }
        }
    }
    search.evals += 2 + search.st.members.get(a).map_or(0, |v| v.len());
    best.map(|b| b.1)
}

/// Back to an earlier placement, with the servers' stamps of then (what the search had already
/// looked at then holds again).
fn restore(search: &mut Search, to: &Assignment, stamps: &[u64]) {
    for (j, &s) in to.iter().enumerate() {
        if search.st.assign[j] != s {
            search.st.apply(j, s);
        }
    }
    search.st.stamp.copy_from_slice(stamps);
}

/// A kick out of the local optimum: either the workloads of a few random servers, or a random
/// dependency component, taken off and put back best first in a random order.
fn kick(search: &mut Search) {
    let n = search.st.p.servers.len();
    let multi: Vec<usize> = (0..search.comps.len()).filter(|&c| search.comps[c].len() > 1).collect();
    let out: Vec<usize> = if search.rng.random::<f64>() < 0.5 || multi.is_empty() {
        let mut servers: Vec<usize> = Vec::new();
        while servers.len() < KICK_SERVERS.min(n) {
            let s = search.rng.random_range(0..n);
            if !servers.contains(&s) {
                servers.push(s);
            }
        }
        servers.iter().flat_map(|&s| search.st.members[s].iter().copied()).collect()
    } else {
        search.comps[multi[search.rng.random_range(0..multi.len())]].clone()
    };
    let mut out: Vec<usize> = out.into_iter().filter(|&j| search.movable[j]).collect();
    let mut touched: Vec<usize> = out.iter().filter_map(|&j| search.st.assign[j]).collect();
    for &j in &out {
        search.st.apply(j, None);
    }
    shuffle(&mut out, &mut search.rng);
    // At least a scan's worth even when nothing here may move (a re-plan with pinned pods):
    // the budget must run out.
    search.evals += (out.len() * n.min(FULL_SCAN_SERVERS + SAMPLE_SERVERS)).max(n);
    for &j in &out {
        if let Some(s) = place_best(search.st, &mut search.rng, j) {
            touched.push(s);
        }
    }
    touched.sort_unstable();
    touched.dedup();
    search.touch_servers(&touched);
}

/// Puts unplaced `j` where the cost grows least (it stays unplaced where nothing fits).
fn place_best(st: &mut State, rng: &mut SmallRng, j: usize) -> Option<usize> {
    let n = st.p.servers.len();
    let consider = |st: &State, best: &mut Option<(f64, usize)>, s: usize| {
        if st.can_host(j, s) {
            let d = st.delta_move(j, s);
            if best.is_none_or(|(b, _)| d < b) {
                *best = Some((d, s));
            }
        }
    };
    let mut best = None;
    if n <= FULL_SCAN_SERVERS {
        (0..n).for_each(|s| consider(st, &mut best, s));
    } else {
        for _ in 0..SAMPLE_SERVERS {
            consider(st, &mut best, rng.random_range(0..n));
        }
        for &(k, _) in &st.adj[j] {
            if let Some(sk) = st.assign[k] {
                for &s in &st.topo.members[st.topo.location_of(sk)] {
                    consider(st, &mut best, s);
                }
            }
        }
        if best.is_none() {
            // The sample had no room: look everywhere before giving up on the workload.
            (0..n).for_each(|s| consider(st, &mut best, s));
        }
    }
    let (_, s) = best?;
    st.apply(j, Some(s));
    Some(s)
}
