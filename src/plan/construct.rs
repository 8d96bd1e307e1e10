//! The optimizer's starting placement, built from dependency groups. Dependent workloads are
//! merged along their heaviest dependencies into groups no larger than a server's share of the
//! total load (a group that size can share a server at no cost in balance); then groups and
//! lone workloads go, largest first, each onto the server where the objective of the finished
//! placement grows least — balance measured against the final mean load, latency to the
//! dependencies already placed. A component's groups are placed one after another, in the
//! rack of the first where there is room.

use super::problem::fits;
use super::state::State;
use crate::twin::Resources;

pub(crate) fn construct(st: &mut State) {
    let p = st.p;
    let (m, n) = (p.workloads.len(), p.servers.len());
    let open: Vec<usize> = (0..n).filter(|&s| !p.servers[s].cordoned).collect();
    if m == 0 || open.is_empty() {
        return;
    }
    // Each workload's share of an average open server, and the load per server when balanced.
    let avg = open
        .iter()
        .fold(Resources::ZERO, |a, &s| a.add(&p.servers[s].capacity))
        .scale(1.0 / open.len() as f64);
    let share = |d: &Resources| {
        let r = |x: f64, c: f64| if c > 0.0 { x / c } else { 0.0 };
        (r(d.cpu_m, avg.cpu_m) + r(d.mem_mib, avg.mem_mib) + r(d.bw_mbps, avg.bw_mbps)) / 3.0
    };
    let size: Vec<f64> = p.workloads.iter().map(|w| share(&w.demand)).collect();
    let total: f64 = size.iter().sum();
    let mean = total / open.len() as f64;
    let biggest = open.iter().map(|&s| p.servers[s].capacity).fold(Resources::ZERO, |a, c| {
        Resources::new(a.cpu_m.max(c.cpu_m), a.mem_mib.max(c.mem_mib), a.bw_mbps.max(c.bw_mbps))
    });

    // Groups: heaviest dependencies first, merged while the group stays within the mean load.
    let mut parent: Vec<usize> = (0..m).collect();
    let mut gsize = size.clone();
    let mut gdemand: Vec<Resources> = p.workloads.iter().map(|w| w.demand).collect();
    let mut spread: Vec<Vec<u32>> = p.workloads.iter().map(|w| w.group.into_iter().collect()).collect();
    let mut edges: Vec<(usize, usize, f64)> =
        p.deps.iter().filter(|d| d.a != d.b).map(|d| (d.a, d.b, d.weight)).collect();
    edges.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
    for (a, b, _) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra == rb || gsize[ra] + gsize[rb] > mean * 1.05 {
            continue;
        }
        let demand = gdemand[ra].add(&gdemand[rb]);
        if !fits(&demand, &biggest) || spread[ra].iter().any(|g| spread[rb].contains(g)) {
            continue;
        }
        parent[rb] = ra;
        gsize[ra] += gsize[rb];
        gdemand[ra] = demand;
        let moved = std::mem::take(&mut spread[rb]);
        spread[ra].extend(moved);
    }
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); m];
    for j in 0..m {
        let r = find(&mut parent, j);
        groups[r].push(j);
    }
    // Components of groups, placed together; the largest group first.
    let (comp_of, _) = super::search::components(st.adj);
    let mut order: Vec<usize> = (0..m).filter(|&r| !groups[r].is_empty()).collect();
    let mut comp_key = vec![0.0f64; m];
    for &r in &order {
        let c = comp_of[r];
        comp_key[c] = comp_key[c].max(gsize[r]);
    }
    order.sort_by(|&x, &y| {
        let (cx, cy) = (comp_of[x], comp_of[y]);
        comp_key[cy]
            .total_cmp(&comp_key[cx])
            .then(cx.cmp(&cy))
            .then(gsize[y].total_cmp(&gsize[x]))
            .then(x.cmp(&y))
    });

    let beta = st.w.balance * n as f64 / (total * total).max(1e-12);
    let w_total: f64 = p.deps.iter().filter(|d| d.a != d.b).map(|d| d.weight).sum();
    let lat_scale = if w_total > 0.0 { st.w.latency / w_total / st.topo.max_ms } else { 0.0 };
    let mut near: Vec<usize> = Vec::new();
    // Where each component's groups went so far.
    let mut home: Vec<Vec<usize>> = vec![Vec::new(); m];
    for r in order {
        let group = &groups[r];
        // Near the dependencies already placed when there is room there: a hop out of their
        // rack costs more than any imbalance the rest of the workloads cannot even out.
        near.clear();
        for &l in &home[comp_of[r]] {
            near.extend(st.topo.members[l].iter().filter(|&&s| !p.servers[s].cordoned));
        }
        near.sort_unstable();
        near.dedup();
        let fits_group = |st: &State, s: usize| {
            fits(&st.used[s].add(&gdemand[r]), &p.servers[s].capacity)
                && group.iter().all(|&j| st.group_free(j, s, None))
        };
        let cands: &[usize] = if near.iter().any(|&s| fits_group(st, s)) { &near } else { &open };
        let mut best: Option<(f64, usize)> = None;
        for &s in cands {
            if !fits_group(st, s) {
                continue;
            }
            let x: f64 = group.iter().map(|&j| p.util_of(&p.workloads[j].demand, s)).sum();
            let u = st.util(s);
            let mut cost = beta * ((u + x) * (u + x) - u * u);
            for &j in group {
                for &(k, w) in &st.adj[j] {
                    if let Some(sk) = st.assign[k] {
                        cost += lat_scale * w * st.topo.latency(s, sk);
                    }
                }
            }
            if best.is_none_or(|(b, _)| cost < b) {
                best = Some((cost, s));
            }
        }
        if let Some((_, s)) = best {
            let l = st.topo.location_of(s);
            if !home[comp_of[r]].contains(&l) {
                home[comp_of[r]].push(l);
            }
        }
        match best {
            Some((_, s)) => group.iter().for_each(|&j| st.apply(j, Some(s))),
            // No server takes the whole group: its workloads one by one, wherever they fit best.
            None => {
                for &j in group {
                    let s = open
                        .iter()
                        .copied()
                        .filter(|&s| st.can_host(j, s))
                        .map(|s| (st.delta_move(j, s), s))
                        .min_by(|a, b| a.0.total_cmp(&b.0));
                    if let Some((_, s)) = s {
                        st.apply(j, Some(s));
                    }
                }
            }
        }
    }
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}
