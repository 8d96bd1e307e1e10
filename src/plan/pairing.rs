//! A starting placement for alike servers, built from the co-location structure. A unit is a
//! set of workloads joined by co-located dependencies. With at most two units per server,
//! balance is best when units are paired largest with smallest (Σ(a+b)² over a perfect
//! matching is least when ascending is matched with descending; a server with one unit is a
//! unit paired with nothing), and each dependency left between units costs one hop within a
//! rack; so the structure — which dependencies are co-located — is searched first, each
//! candidate scored in O(m log m), and only the best is laid out, servers sharing a dependency
//! component kept in one rack. With more units per server, dependencies are merged heaviest
//! first while a unit stays within a server's share, each component goes whole into one rack,
//! and each rack's units are partitioned over its servers by largest differencing.

use super::problem::{Assignment, fits};
use super::state::State;
use crate::twin::Resources;

/// Above this many (dependency × workload) the structure is not searched but merged greedily
/// (heaviest dependencies first, while a unit stays within a server's share of the load).
const SEARCH_LIMIT: usize = 400_000;

pub(crate) fn structured_start(st: &State) -> Option<Assignment> {
    let p = st.p;
    let (m, n) = (p.workloads.len(), p.servers.len());
    let open: Vec<usize> = (0..n).filter(|&s| !p.servers[s].cordoned).collect();
    let first = *open.first()?;
    let cap = p.servers[first].capacity;
    if m == 0
        || open.iter().any(|&s| p.servers[s].capacity != cap)
        || p.workloads.iter().any(|w| w.group.is_some())
    {
        return None;
    }
    let x: Vec<f64> = p.workloads.iter().map(|w| p.util_of(&w.demand, first)).collect();
    let total: f64 = x.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let edges: Vec<(usize, usize, f64)> =
        p.deps.iter().filter(|d| d.a != d.b).map(|d| (d.a, d.b, d.weight)).collect();
    let mut incident: Vec<Vec<usize>> = vec![Vec::new(); m];
    for (e, &(a, b, _)) in edges.iter().enumerate() {
        incident[a].push(e);
        incident[b].push(e);
    }
    // The cheapest latency between two different servers (a hop within a rack).
    let same_ms = st.topo.latency(first, first);
    let hop_ms = open
        .iter()
        .take(4)
        .flat_map(|&a| open.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
        .map(|(a, b)| st.topo.latency(a, b))
        .fold(f64::INFINITY, f64::min);
    let hop_ms = if hop_ms.is_finite() { hop_ms } else { same_ms };
    let kl = st.latency_scale() * (hop_ms - same_ms);
    let kb = st.w.balance * n as f64 / (total * total);
    let demand: Vec<Resources> = p.workloads.iter().map(|w| w.demand).collect();
    let mean = total / open.len() as f64;

    if m > 2 * open.len() {
        // More than two units per server: the structure by merging, the layout rack by rack.
        let co = merged(&edges, &x, &demand, &cap, mean);
        return layout_racks(st, &open, &units_of(m, &edges, &co), &x);
    }
    // Deadlines under the completion model, each dependency on the same server or one hop
    // away: a unit whose own CPU share already makes one of its workloads miss is no candidate.
    let calls2 = 2.0 * p.calls_per_dependency;
    let misses_alone = |co: &[bool], unit: &[usize], cpu: f64| -> bool {
        let rho = if cap.cpu_m > 0.0 { cpu / cap.cpu_m } else { 0.0 };
        unit.iter().any(|&j| {
            let Some(deadline) = p.workloads[j].deadline_ms else { return false };
            let ms: f64 = incident[j].iter().map(|&e| if co[e] { same_ms } else { hop_ms }).sum();
            rho >= 1.0 || p.workloads[j].work_ms / (1.0 - rho) + calls2 * ms > deadline
        })
    };
    let score = |co: &[bool]| -> Option<f64> {
        let units = units_of(m, &edges, co);
        let mut sizes = Vec::with_capacity(units.len());
        let mut demands = Vec::with_capacity(units.len());
        for u in &units {
            let d = u.iter().fold(Resources::ZERO, |a, &j| a.add(&demand[j]));
            if !fits(&d, &cap) || (u.len() > 1 && misses_alone(co, u, d.cpu_m)) {
                return None;
            }
            sizes.push(u.iter().map(|&j| x[j]).sum::<f64>());
            demands.push(d);
        }
        let mut sq = 0.0;
        for b in partition(&sizes, open.len())? {
            if !fits(&b.iter().fold(Resources::ZERO, |a, &u| a.add(&demands[u])), &cap) {
                return None;
            }
            let sum: f64 = b.iter().map(|&u| sizes[u]).sum();
            sq += sum * sum;
        }
        let cut: f64 = edges.iter().zip(co).filter(|(_, c)| !**c).map(|(e, _)| e.2).sum();
        Some(kb * sq + kl * cut)
    };

    let co = if edges.len() * m > SEARCH_LIMIT {
        merged(&edges, &x, &demand, &cap, mean)
    } else {
        // Greedy over the structure: toggle the dependency that improves the score most.
        let mut co = vec![false; edges.len()];
        let mut best = score(&co)?;
        loop {
            let mut pick: Option<(f64, usize)> = None;
            for e in 0..edges.len() {
                co[e] = !co[e];
                if let Some(s) = score(&co)
                    && s < best - 1e-15
                    && pick.is_none_or(|(b, _)| s < b)
                {
                    pick = Some((s, e));
                }
                co[e] = !co[e];
            }
            let Some((s, e)) = pick else { break };
            co[e] = !co[e];
            best = s;
        }
        co
    };
    layout(st, &open, &edges, &co, &x)
}

/// Dependencies co-located heaviest first, as long as the unit they make stays within
/// `limit` (a server's share of the load, 5 % over) and fits a server.
fn merged(
    edges: &[(usize, usize, f64)],
    x: &[f64],
    demand: &[Resources],
    cap: &Resources,
    limit: f64,
) -> Vec<bool> {
    let m = x.len();
    let mut parent: Vec<usize> = (0..m).collect();
    let mut size = x.to_vec();
    let mut used = demand.to_vec();
    let mut order: Vec<usize> = (0..edges.len()).collect();
    order.sort_by(|&a, &b| edges[b].2.total_cmp(&edges[a].2).then(a.cmp(&b)));
    let mut co = vec![false; edges.len()];
    for e in order {
        let (ra, rb) = (find(&mut parent, edges[e].0), find(&mut parent, edges[e].1));
        if ra == rb {
            co[e] = true;
            continue;
        }
        let d = used[ra].add(&used[rb]);
        if size[ra] + size[rb] <= limit * 1.05 && fits(&d, cap) {
            parent[rb] = ra;
            size[ra] += size[rb];
            used[ra] = d;
            co[e] = true;
        }
    }
    co
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Units into `bins` bins, each bin a list of unit indices. At most two units per bin: sorted
/// pairing, largest with smallest (optimal for Σ bin²). More: Karmarkar–Karp's largest
/// differencing, generalised to many bins (each unit a partial partition; the two partials
/// with the largest spread are combined, largest bin with smallest, until one is left).
fn partition(sizes: &[f64], bins: usize) -> Option<Vec<Vec<usize>>> {
    if bins == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[a].total_cmp(&sizes[b]).then(a.cmp(&b)));
    if sizes.len() <= 2 * bins {
        let pad = 2 * bins - sizes.len();
        let mut out = Vec::with_capacity(bins);
        for i in 0..bins {
            let Some(big) = order.len().checked_sub(1 + i) else { break };
            let mut bin = vec![order[big]];
            if i >= pad {
                let s = i - pad;
                if s >= big {
                    break;
                }
                bin.push(order[s]);
            }
            out.push(bin);
        }
        return Some(out);
    }
    // Each partial: `bins` (sum, units), sorted by sum descending.
    type Partial = Vec<(f64, Vec<usize>)>;
    let spread = |p: &Partial| p[0].0 - p[p.len() - 1].0;
    let mut parts: Vec<Partial> = order
        .iter()
        .map(|&u| {
            let mut p: Partial = vec![(0.0, Vec::new()); bins];
            p[0] = (sizes[u], vec![u]);
            p
        })
        .collect();
    while parts.len() > 1 {
        // The two largest spreads (a linear scan: partials are few enough).
        let (mut i1, mut i2) = (0, 1);
        if spread(&parts[i2]) > spread(&parts[i1]) {
            std::mem::swap(&mut i1, &mut i2);
        }
        for i in 2..parts.len() {
            let s = spread(&parts[i]);
            if s > spread(&parts[i1]) {
                i2 = i1;
                i1 = i;
            } else if s > spread(&parts[i2]) {
                i2 = i;
            }
        }
        let (hi, lo) = (i1.max(i2), i1.min(i2));
        let b = parts.swap_remove(hi);
        let a = parts.swap_remove(lo);
        let mut c: Partial = a
            .into_iter()
            .zip(b.into_iter().rev())
            .map(|((sa, mut ua), (sb, ub))| {
                ua.extend(ub);
                (sa + sb, ua)
            })
            .collect();
        c.sort_by(|x, y| y.0.total_cmp(&x.0));
        parts.push(c);
    }
    Some(parts.pop()?.into_iter().map(|(_, u)| u).collect())
}

/// More units than two per server: each dependency component whole into one location (largest
/// first, into the location with the most of its share of the load still free), then each
/// location's units partitioned over its servers.
fn layout_racks(st: &State, open: &[usize], units: &[Vec<usize>], x: &[f64]) -> Option<Assignment> {
    let p = st.p;
    let topo = st.topo;
    let size: Vec<f64> = units.iter().map(|u| u.iter().map(|&j| x[j]).sum()).collect();
    let mean = size.iter().sum::<f64>() / open.len() as f64;
    let servers: Vec<Vec<usize>> = topo
        .members
        .iter()
        .map(|ms| ms.iter().copied().filter(|s| !p.servers[*s].cordoned).collect())
        .collect();
    let mut room: Vec<f64> = servers.iter().map(|s| s.len() as f64 * mean).collect();
    let (comp_of, _) = super::search::components(st.adj);
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (u, members) in units.iter().enumerate() {
        let c = comp_of[members[0]];
        let i = *slot.entry(c).or_insert_with(|| {
            comps.push(Vec::new());
            comps.len() - 1
        });
        comps[i].push(u);
    }
    let csize = |c: &Vec<usize>| c.iter().map(|&u| size[u]).sum::<f64>();
    comps.sort_by(|a, b| csize(b).total_cmp(&csize(a)).then(a[0].cmp(&b[0])));
    let mut at: Vec<Vec<usize>> = vec![Vec::new(); servers.len()];
    for c in &comps {
        let l = (0..servers.len())
            .filter(|&l| !servers[l].is_empty())
            .max_by(|&a, &b| room[a].total_cmp(&room[b]).then(b.cmp(&a)))?;
        room[l] -= csize(c);
        at[l].extend_from_slice(c);
    }
    let mut assign: Assignment = vec![None; x.len()];
    for (l, us) in at.iter().enumerate() {
        if us.is_empty() {
            continue;
        }
        let sizes: Vec<f64> = us.iter().map(|&u| size[u]).collect();
        let bins = partition(&sizes, servers[l].len())?;
        for (b, bin) in bins.iter().enumerate() {
            let s = servers[l][b];
            let mut used = Resources::ZERO;
            for &i in bin {
                for &j in &units[us[i]] {
                    assign[j] = Some(s);
                    used = used.add(&p.workloads[j].demand);
                }
            }
            if !fits(&used, &p.servers[s].capacity) {
                return None;
            }
        }
    }
    Some(assign)
}

/// Workloads joined by co-located dependencies.
fn units_of(m: usize, edges: &[(usize, usize, f64)], co: &[bool]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..m).collect();
    for (e, &(a, b, _)) in edges.iter().enumerate() {
        if co[e] {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[rb] = ra;
            }
        }
    }
    let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); m];
    for j in 0..m {
        let r = find(&mut parent, j);
        by_root[r].push(j);
    }
    by_root.into_iter().filter(|u| !u.is_empty()).collect()
}

/// Units paired largest with smallest; pairs holding one dependency component kept in one
/// location, locations filled largest cluster first.
fn layout(
    st: &State,
    open: &[usize],
    edges: &[(usize, usize, f64)],
    co: &[bool],
    x: &[f64],
) -> Option<Assignment> {
    let m = x.len();
    let units = units_of(m, edges, co);
    let sizes: Vec<f64> = units.iter().map(|u| u.iter().map(|&j| x[j]).sum()).collect();
    let bins: Vec<Vec<usize>> = partition(&sizes, open.len())?
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().flat_map(|&u| units[u].iter().copied()).collect())
        .collect();
    // Bins that share a dependency component go together: clusters of bins.
    let (comp_of, _) = super::search::components(st.adj);
    let nb = bins.len();
    let mut cluster: Vec<usize> = (0..nb).collect();
    let mut owner: Vec<Option<usize>> = vec![None; m];
    for (b, bin) in bins.iter().enumerate() {
        for &j in bin {
            let c = comp_of[j];
            match owner[c] {
                None => owner[c] = Some(b),
                Some(o) => {
                    let (ra, rb) = (find(&mut cluster, o), find(&mut cluster, b));
                    if ra != rb {
                        cluster[rb] = ra;
                    }
                }
            }
        }
    }
    let mut clusters: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for b in 0..nb {
        let r = find(&mut cluster, b);
        clusters[r].push(b);
    }
    clusters.retain(|c| !c.is_empty());
    clusters.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    // Free open servers per location.
    let topo = st.topo;
    let mut free: Vec<Vec<usize>> =
        topo.members.iter().map(|ms| ms.iter().copied().filter(|s| open.contains(s)).collect()).collect();
    let mut assign: Assignment = vec![None; m];
    for c in clusters {
        // The location with room for the whole cluster and the least room left (best fit),
        // else the one with the most room (the cluster is split).
        let fit = (0..free.len()).filter(|&l| free[l].len() >= c.len()).min_by_key(|&l| (free[l].len(), l));
        for &b in &c {
            let l = match fit {
                Some(l) => l,
                None => (0..free.len()).max_by_key(|&l| (free[l].len(), usize::MAX - l))?,
            };
            let s = free[l].pop()?;
            for &j in &bins[b] {
                assign[j] = Some(s);
            }
        }
    }
    Some(assign)
}
