//! twintop's own placement: a greedy construction by utility (each workload, largest first,
//! goes where the objective — dependency latency plus utilisation balance — grows least),
//! then simulated annealing over moves and swaps. Capacities, cordons and spread groups are
//! hard constraints throughout. The budget is counted in tried moves, not in time, so the
//! result is the same for the same seed on any machine.

use super::problem::{Assignment, Problem, Topology, fits};
use super::state::{State, Weights};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizeOptions {
    pub seed: u64,
    /// Moves tried per workload in the annealing phase.
    pub moves_per_workload: usize,
    /// Upper bound on the moves tried in total.
    pub max_moves: usize,
    pub weights: Weights,
}

impl OptimizeOptions {
    pub fn seeded(seed: u64) -> Self {
        OptimizeOptions { seed, moves_per_workload: 120, max_moves: 800_000, weights: Weights::default() }
    }
}

/// Above this many servers the greedy step looks at a sample of servers (plus those near a
/// workload's dependencies) instead of all of them.
const FULL_SCAN_SERVERS: usize = 256;
const SAMPLE_SERVERS: usize = 48;

pub fn optimize(p: &Problem, o: &OptimizeOptions) -> Assignment {
    let topo = Topology::new(p);
    let adj = p.adjacency();
    let mut rng = SmallRng::seed_from_u64(o.seed);
    let mut st = State::new(p, &topo, &adj, o.weights, &vec![None; p.workloads.len()]);
    greedy(&mut st, &mut rng);
    anneal(&mut st, &mut rng, (o.moves_per_workload * p.workloads.len()).min(o.max_moves));
    st.assign
}

/// The share of an average server each workload takes (its largest resource), for the
/// largest-first order.
fn sizes(p: &Problem) -> Vec<f64> {
    let n = p.servers.len().max(1) as f64;
    let (c, m, b) = p.servers.iter().fold((0.0, 0.0, 0.0), |acc, s| {
        (acc.0 + s.capacity.cpu_m / n, acc.1 + s.capacity.mem_mib / n, acc.2 + s.capacity.bw_mbps / n)
    });
    let r = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
    p.workloads
        .iter()
        .map(|w| r(w.demand.cpu_m, c).max(r(w.demand.mem_mib, m)).max(r(w.demand.bw_mbps, b)))
        .collect()
}

fn greedy(st: &mut State, rng: &mut SmallRng) {
    let p = st.p;
    let n = p.servers.len();
    let sizes = sizes(p);
    let mut order: Vec<usize> = (0..p.workloads.len()).collect();
    order.sort_by(|&a, &b| sizes[b].total_cmp(&sizes[a]).then(a.cmp(&b)));
    let mut cands: Vec<usize> = Vec::new();
    for j in order {
        cands.clear();
        if n <= FULL_SCAN_SERVERS {
            cands.extend(0..n);
        } else {
            for _ in 0..SAMPLE_SERVERS {
                cands.push(rng.random_range(0..n));
            }
            for &(k, _) in &st.adj[j] {
                if let Some(sk) = st.assign[k] {
                    cands.extend_from_slice(&st.topo.members[st.topo.location_of(sk)]);
                }
            }
        }
        let mut best: Option<(f64, usize)> = None;
        for &s in &cands {
            if !st.can_host(j, s) {
                continue;
            }
            let d = st.delta_move(j, s);
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, s));
            }
        }
        if best.is_none() && n > FULL_SCAN_SERVERS {
            // The sample had no room: look everywhere before giving up on the workload.
            best = (0..n)
                .filter(|&s| st.can_host(j, s))
                .map(|s| (st.delta_move(j, s), s))
                .min_by(|a, b| a.0.total_cmp(&b.0));
        }
        if let Some((_, s)) = best {
            st.apply(j, Some(s));
        }
    }
}

fn anneal(st: &mut State, rng: &mut SmallRng, budget: usize) {
    let p = st.p;
    let (m, n) = (p.workloads.len(), p.servers.len());
    if m == 0 || n < 2 || budget == 0 {
        return;
    }
    let (t0, t1): (f64, f64) = (5e-2, 1e-6);
    let cool = (t1 / t0).powf(1.0 / budget as f64);
    let mut t = t0;
    let mut best_cost = st.cost();
    let mut best = st.assign.clone();
    for it in 0..budget {
        t *= cool;
        let j = rng.random_range(0..m);
        if rng.random::<f64>() < 0.6 || st.assign[j].is_none() {
            let to = pick_target(st, rng, j);
            if !st.can_host(j, to) {
                continue;
            }
            let d = st.delta_move(j, to);
            if d < 0.0 || rng.random::<f64>() < (-d / t).exp() {
                st.apply(j, Some(to));
            }
        } else {
            if let Some(k) = pick_partner(st, rng, j) {
                try_swap(st, rng, j, k, t);
            }
        }
        if it % 512 == 0 {
            let c = st.cost();
            if c < best_cost - 1e-12 {
                best_cost = c;
                best.clone_from(&st.assign);
            }
        }
    }
    if st.cost() > best_cost {
        // Back to the best assignment seen; intermediate states may overfill, the end does not.
        for (j, s) in best.into_iter().enumerate() {
            st.apply(j, s);
        }
    }
}

/// A dependency's server or a server in its rack (pulls dependent workloads together), or any.
fn pick_target(st: &State, rng: &mut SmallRng, j: usize) -> usize {
    let n = st.p.servers.len();
    let adj = &st.adj[j];
    if !adj.is_empty() && rng.random::<f64>() < 0.5 {
        let (k, _) = adj[rng.random_range(0..adj.len())];
        if let Some(sk) = st.assign[k] {
            if rng.random::<f64>() < 0.5 {
                return sk;
            }
            let rack = &st.topo.members[st.topo.location_of(sk)];
            return rack[rng.random_range(0..rack.len())];
        }
    }
    rng.random_range(0..n)
}

/// A workload to swap with: often one near a dependency of `j` (so `j` can join that rack
/// even when it is full), else any.
fn pick_partner(st: &State, rng: &mut SmallRng, j: usize) -> Option<usize> {
    let adj = &st.adj[j];
    if !adj.is_empty() && rng.random::<f64>() < 0.5 {
        let (k, _) = adj[rng.random_range(0..adj.len())];
        let rack = &st.topo.members[st.topo.location_of(st.assign[k]?)];
        let on = &st.members[rack[rng.random_range(0..rack.len())]];
        return (!on.is_empty()).then(|| on[rng.random_range(0..on.len())]);
    }
    Some(rng.random_range(0..st.p.workloads.len()))
}

fn try_swap(st: &mut State, rng: &mut SmallRng, j: usize, k: usize, t: f64) {
    let (Some(a), Some(b)) = (st.assign[j], st.assign[k]) else { return };
    if a == b || st.p.servers[a].cordoned || st.p.servers[b].cordoned {
        return;
    }
    let (dj, dk) = (st.p.workloads[j].demand, st.p.workloads[k].demand);
    if !fits(&st.used[a].sub(&dj).add(&dk), &st.p.servers[a].capacity)
        || !fits(&st.used[b].sub(&dk).add(&dj), &st.p.servers[b].capacity)
        || !st.group_free(j, b, Some(k))
        || !st.group_free(k, a, Some(j))
    {
        return;
    }
    let before = st.cost();
    st.apply(j, Some(b));
    st.apply(k, Some(a));
    let d = st.cost() - before;
    if !(d < 0.0 || rng.random::<f64>() < (-d / t).exp()) {
        st.apply(k, Some(b));
        st.apply(j, Some(a));
    }
}
