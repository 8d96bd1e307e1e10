//! A lower bound on the objective (`State::cost`, deadlines aside), so that a placement can say
//! how far from the best possible it is at most (its proven gap).
//!
//! The bound holds when every open (not cordoned) server has the same capacity, as in
//! DIRA-LDT's scenario; elsewhere there is none (`None`). With every workload placed on open
//! servers, the total utilisation `S` is then fixed, and the balance term is separable:
//! `balance · (n·Σu² / S² − 1) = α · Σ_s (u_s − μ)²` with `μ = S / n`, `α = balance · n / S²`.
//! Each server's `(u_s − μ)²` is at least its excess `(u_s − μ)₊²`, and excess is
//! superadditive (two parts on one server have at least the sum of their excesses). A
//! dependency costs at least the same-server latency, and at least the smallest latency between
//! two open servers when its ends are apart. So the cost is at least, summed over dependency
//! components, the cheapest way to split the component into parts: the cut dependencies'
//! extra latency plus each part's excess — computed exactly over every split of a component of
//! up to `EXACT_COMPONENT` workloads (and from its workloads' own excess alone above that).
//! Capacities and spread groups are relaxed, so overflowing placements are covered too; a
//! placement that leaves a workload unplaced costs at least the unplaced weight.

use super::problem::{Problem, Topology};
use super::search::components;
use super::state::Weights;

/// Components up to this size are split every possible way (Bell(8) = 4,140 splits).
const EXACT_COMPONENT: usize = 8;

/// A cost no placement of `p` on its open servers goes below (one that keeps a workload on a
/// cordoned server leaves it out of the balance, and is not covered), or `None` where the bound
/// does not apply (open servers of different capacities, or none).
pub(crate) fn lower_bound(p: &Problem, w: Weights) -> Option<f64> {
    let open: Vec<usize> = (0..p.servers.len()).filter(|&s| !p.servers[s].cordoned).collect();
    let &first = open.first()?;
    if open.iter().any(|&s| p.servers[s].capacity != p.servers[first].capacity) {
        return None;
    }
    let topo = Topology::new(p);
    let adj = p.adjacency();
    let u: Vec<f64> = p.workloads.iter().map(|wl| p.util_of(&wl.demand, first)).collect();
    let total: f64 = u.iter().sum();
    let n = open.len() as f64;
    let (mu, alpha) = if total > 0.0 { (total / n, w.balance * n / (total * total)) } else { (0.0, 0.0) };
    let excess = |x: f64| alpha * (x - mu).max(0.0).powi(2);

    // Latency: per unit of dependency weight, what any placement pays at least (`base`), and
    // what a dependency split across two servers adds at least (`split`).
    let w_total: f64 = p.deps.iter().filter(|d| d.a != d.b).map(|d| d.weight).sum();
    let scale = if w_total > 0.0 { w.latency / w_total / topo.max_ms } else { 0.0 };
    let same = topo.latency(first, first);
    let apart = min_latency_apart(&topo, &open).unwrap_or(same);
    let (base, split) = (scale * same.min(apart), scale * (apart - same).max(0.0));
    let latency_floor = base * w_total;

    let (_, comps) = components(&adj);
    let mut rest = 0.0;
    for comp in &comps {
        rest += if comp.len() <= EXACT_COMPONENT {
            best_split(comp, &adj, &u, split, &excess)
        } else {
            comp.iter().map(|&j| excess(u[j])).sum()
        };
    }
    Some((latency_floor + rest).min(w.unplaced))
}

/// The smallest latency between two distinct open servers (`None` with a single one).
fn min_latency_apart(topo: &Topology, open: &[usize]) -> Option<f64> {
    // One open representative per location (two where the location has two).
    let mut reps: Vec<Vec<usize>> = vec![Vec::new(); topo.members.len()];
    for &s in open {
        let r = &mut reps[topo.location_of(s)];
        if r.len() < 2 {
            r.push(s);
        }
    }
    let reps: Vec<&Vec<usize>> = reps.iter().filter(|r| !r.is_empty()).collect();
    let mut best: Option<f64> = None;
    let mut see = |l: f64| best = Some(best.map_or(l, |b: f64| b.min(l)));
    for (i, a) in reps.iter().enumerate() {
        if a.len() == 2 {
            see(topo.latency(a[0], a[1]));
        }
        for b in &reps[i + 1..] {
            see(topo.latency(a[0], b[0]));
        }
    }
    best
}

/// The cheapest split of one dependency component: over every partition of its workloads,
/// `split` × the weight of the dependencies cut plus each part's excess.
fn best_split(
    comp: &[usize],
    adj: &[Vec<(usize, f64)>],
    u: &[f64],
    split: f64,
    excess: &dyn Fn(f64) -> f64,
) -> f64 {
    let k = comp.len();
    let local = |j: usize| comp.iter().position(|&x| x == j);
    // Edges inside the component, each once, between local indices.
    let mut edges: Vec<(usize, usize, f64)> = Vec::new();
    for (a, &j) in comp.iter().enumerate() {
        for &(x, wt) in &adj[j] {
            if let Some(b) = local(x)
                && a < b
            {
                edges.push((a, b, wt));
            }
        }
    }
    // Restricted growth strings enumerate every partition once: part[i] ≤ 1 + max(part[..i]).
    let mut part = vec![0usize; k];
    let mut best = f64::INFINITY;
    let mut sums = vec![0.0; k];
    loop {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (i, &c) in part.iter().enumerate() {
            sums[c] += u[comp[i]];
        }
        let cut: f64 = edges.iter().filter(|e| part[e.0] != part[e.1]).map(|e| e.2).sum();
        let cost = split * cut + sums.iter().map(|&s| excess(s)).sum::<f64>();
        best = best.min(cost);
        // Next restricted growth string.
        let mut i = k;
        loop {
            if i <= 1 {
                return best;
            }
            i -= 1;
            let max_before = part[..i].iter().copied().max().unwrap_or(0);
            if part[i] <= max_before {
                part[i] += 1;
                part[i + 1..].iter_mut().for_each(|x| *x = 0);
                break;
            }
        }
    }
}
