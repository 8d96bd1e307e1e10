//! The two-server neighbourhood: everything on two servers, split between them again in the
//! best way. Enumerating every split (in Gray-code order, so each step moves one workload and
//! costs O(its dependencies)) covers at once every relocation between the two, every swap, two
//! for one, groups moved together, and the exchange of the two servers' contents. With a few
//! workloads per server that is a few dozen splits per pair — cheap enough to look at every
//! pair of servers in a descent.

use super::problem::fits;
use super::state::State;
use crate::twin::Resources;

/// Splits of more workloads than this are not enumerated.
pub(crate) const MAX_ITEMS: usize = 14;

#[derive(Default)]
pub(crate) struct PairScratch {
    items: Vec<usize>,
    xa: Vec<f64>,
    xb: Vec<f64>,
    da: Vec<Resources>,
    ext_a: Vec<f64>,
    ext_b: Vec<f64>,
    internal: Vec<Vec<(usize, f64)>>,
    conflicts: Vec<(usize, usize)>,
    /// Items that must end on the same server (true) or on different servers (false).
    rules: Vec<(usize, usize, bool)>,
    /// Items that must stay where they are.
    fixed: u32,
    /// Workloads that must share a server, and workloads that must not (an edge the search
    /// is trying the other way round).
    pub tied: Vec<(usize, usize)>,
    pub apart: Vec<(usize, usize)>,
    /// Per item, for deadlines: ms to its dependencies off the pair from a and from b, and
    /// whether one of them is unplaced.
    ms_a: Vec<f64>,
    ms_b: Vec<f64>,
    lost: Vec<bool>,
}

/// The best split of the workloads of servers `a` and `b` (both open), as the cost change and
/// the moves that make it; `None` when no split improves by more than `eps`.
pub(crate) fn best_split(
    st: &State,
    a: usize,
    b: usize,
    eps: f64,
    sc: &mut PairScratch,
) -> Option<(f64, Vec<(usize, usize)>)> {
    let p = st.p;
    sc.items.clear();
    sc.items.extend(st.members[a].iter().chain(st.members[b].iter()).copied());
    let k = sc.items.len();
    if k == 0 || k > MAX_ITEMS {
        return None;
    }
    let topo = st.topo;
    let (l_same, l_ab) = (topo.latency(a, a), topo.latency(a, b));
    sc.xa.clear();
    sc.xb.clear();
    sc.da.clear();
    sc.ext_a.clear();
    sc.ext_b.clear();
    sc.conflicts.clear();
    sc.ms_a.clear();
    sc.ms_b.clear();
    sc.lost.clear();
    sc.internal.resize(k.max(sc.internal.len()), Vec::new());
    for i in 0..k {
        let j = sc.items[i];
        let d = p.workloads[j].demand;
        sc.xa.push(p.util_of(&d, a));
        sc.xb.push(p.util_of(&d, b));
        sc.da.push(d);
        sc.internal[i].clear();
        let (mut ea, mut eb, mut ma, mut mb, mut lost) = (0.0, 0.0, 0.0, 0.0, false);
        for &(y, w) in &st.adj[j] {
            match sc.items.iter().position(|&x| x == y) {
                Some(iy) => sc.internal[i].push((iy, w)),
                None => match st.assign[y] {
                    Some(sy) => {
                        let (la, lb) = (topo.latency(a, sy), topo.latency(b, sy));
                        ea += w * la;
                        eb += w * lb;
                        ma += la;
                        mb += lb;
                    }
                    None => lost = true,
                },
            }
        }
        sc.ext_a.push(ea);
        sc.ext_b.push(eb);
        sc.ms_a.push(ma);
        sc.ms_b.push(mb);
        sc.lost.push(lost);
        if let Some(g) = p.workloads[j].group {
            for i2 in 0..i {
                if p.workloads[sc.items[i2]].group == Some(g) {
                    sc.conflicts.push((i2, i));
                }
            }
        }
    }
    sc.rules.clear();
    sc.fixed = 0;
    for (list, same) in [(&sc.tied, true), (&sc.apart, false)] {
        for &(x, y) in list.iter() {
            match (sc.items.iter().position(|&i| i == x), sc.items.iter().position(|&i| i == y)) {
                (Some(ix), Some(iy)) => sc.rules.push((ix, iy, same)),
                (Some(i), None) | (None, Some(i)) if same => sc.fixed |= 1 << i,
                _ => {}
            }
        }
    }
    let on_a = st.members[a].len();
    // bit i set: item i on a.
    let start: u32 = (1u32 << on_a) - 1;
    let mut mask = start;
    let (ua0, ub0) = (st.util(a), st.util(b));
    let (mut ua, mut ub) = (ua0, ub0);
    let (mut used_a, mut used_b) = (st.used[a], st.used[b]);
    let (cap_a, cap_b) = (&p.servers[a].capacity, &p.servers[b].capacity);
    // When everything on both fits on either, every split fits: no capacity checks.
    let all = used_a.add(&used_b);
    let check_fit = !(fits(&all, cap_a) && fits(&all, cap_b));
    let check_rules = !sc.conflicts.is_empty() || !sc.rules.is_empty() || sc.fixed != 0;
    let (s1, s2, lat0) = st.sums();
    // Alike servers: the total utilisation stays, and balance is linear in Σ utilisation².
    let alike = sc.xa.iter().zip(&sc.xb).all(|(x, y)| x == y) && s1 > 0.0;
    let kb = if alike { st.w.balance * p.servers.len() as f64 / (s1 * s1) } else { 0.0 };
    let kl = st.latency_scale();
    let base = st.balance_term(s1, s2) + st.latency_term(lat0);
    let sq0 = ua0 * ua0 + ub0 * ub0;
    // Deadlines of the pair's workloads under the completion model (their dependencies off the
    // pair staying where they are); the commit checks the exact score.
    let dl = st.dl.active && sc.items.iter().any(|&j| p.workloads[j].deadline_ms.is_some());
    let calls2 = 2.0 * p.calls_per_dependency;
    let misses = |mask: u32, cpu_a: f64, cpu_b: f64, sc: &PairScratch| -> usize {
        let rho_a = if cap_a.cpu_m > 0.0 { cpu_a / cap_a.cpu_m } else { 0.0 };
        let rho_b = if cap_b.cpu_m > 0.0 { cpu_b / cap_b.cpu_m } else { 0.0 };
        (0..k)
            .filter(|&i| {
                let w = &p.workloads[sc.items[i]];
                let Some(deadline) = w.deadline_ms else { return false };
                let on_a = mask >> i & 1 == 1;
                let rho = if on_a { rho_a } else { rho_b };
                if sc.lost[i] || rho >= 1.0 {
                    return true;
                }
                let mut ms = if on_a { sc.ms_a[i] } else { sc.ms_b[i] };
                for &(iy, _) in &sc.internal[i] {
                    ms += if (mask >> iy & 1 == 1) == on_a { l_same } else { l_ab };
                }
                w.work_ms / (1.0 - rho) + calls2 * ms > deadline
            })
            .count()
    };
    let (mut cpu_a, mut cpu_b) = (used_a.cpu_m, used_b.cpu_m);
    // Now: as the state has it (the same model, exact).
    let missed0 = if dl { sc.items.iter().filter(|&&j| st.dl.is_missed(j)).count() as f64 } else { 0.0 };
    let wdl = st.w.deadline;
    let mut lat = 0.0;
    let side_lat = |m: u32, i: usize, iy: usize| if (m >> i & 1) == (m >> iy & 1) { l_same } else { l_ab };
    let mut best: Option<(f64, u32)> = None;
    for g in 1u32..(1u32 << k) {
        let i = g.trailing_zeros() as usize;
        let before = mask;
        mask ^= 1 << i;
        for &(iy, w) in &sc.internal[i] {
            lat += w * (side_lat(mask, i, iy) - side_lat(before, i, iy));
        }
        if mask >> i & 1 == 1 {
            // b → a
            ub -= sc.xb[i];
            ua += sc.xa[i];
            lat += sc.ext_a[i] - sc.ext_b[i];
            cpu_a += sc.da[i].cpu_m;
            cpu_b -= sc.da[i].cpu_m;
            if check_fit {
                used_b = used_b.sub(&sc.da[i]);
                used_a = used_a.add(&sc.da[i]);
            }
        } else {
            ua -= sc.xa[i];
            ub += sc.xb[i];
            lat += sc.ext_b[i] - sc.ext_a[i];
            cpu_a -= sc.da[i].cpu_m;
            cpu_b += sc.da[i].cpu_m;
            if check_fit {
                used_a = used_a.sub(&sc.da[i]);
                used_b = used_b.add(&sc.da[i]);
            }
        }
        let d = if alike {
            kb * (ua * ua + ub * ub - sq0) + kl * lat
        } else {
            let s1n = s1 + ua - ua0 + ub - ub0;
            let s2n = s2 + ua * ua - ua0 * ua0 + ub * ub - ub0 * ub0;
            st.balance_term(s1n, s2n) + st.latency_term(lat0 + lat) - base
        };
        // The best this split can be: its cost change, with every deadline missed now met.
        let bound = d - wdl * missed0;
        if bound >= -eps || best.is_some_and(|(bd, _)| bound >= bd) {
            continue;
        }
        if check_fit && (!fits(&used_a, cap_a) || !fits(&used_b, cap_b)) {
            continue;
        }
        if check_rules
            && (sc.conflicts.iter().any(|&(x, y)| (mask >> x & 1) == (mask >> y & 1))
                || (mask ^ start) & sc.fixed != 0
                || sc.rules.iter().any(|&(x, y, same)| ((mask >> x & 1) == (mask >> y & 1)) != same))
        {
            continue;
        }
        let total = if dl { d + wdl * (misses(mask, cpu_a, cpu_b, sc) as f64 - missed0) } else { d };
        if total >= -eps || best.is_some_and(|(bd, _)| total >= bd) {
            continue;
        }
        best = Some((total, mask));
    }
    let (d, m) = best?;
    let moves = (0..k)
        .filter(|&i| (m >> i & 1) != (start >> i & 1))
        .map(|i| (sc.items[i], if m >> i & 1 == 1 { a } else { b }))
        .collect();
    Some((d, moves))
}
