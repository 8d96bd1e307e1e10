//! The incremental bookkeeping shared by the optimizer and incremental re-placement: loads,
//! per-server utilisation sums for balance, dependency latency, overflow and missed deadlines,
//! updated in O(degree + workloads on the two servers) per move, so that the search can try
//! hundreds of thousands of moves per second. The objective itself (`cost`) is DIRA-LDT's as
//! twintop states it; missed deadlines are a separate penalty the search adds (`score`).

use super::deadlines::Deadlines;
use super::problem::{Assignment, Problem, Topology, fits};
use crate::twin::Resources;
use serde::Serialize;

/// How much each part of the objective weighs. Latency is the dependency-weighted mean
/// (co-located pairs at the same-server latency) over the largest latency in the topology;
/// balance is the squared coefficient of variation of utilisation over the open (not cordoned)
/// servers (RUB = 1 − CV).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Weights {
    pub latency: f64,
    pub balance: f64,
    /// Per unplaced workload: larger than any gain elsewhere, so everything that fits is placed.
    pub unplaced: f64,
    /// Per unit of overflow (sum over servers and resources of excess / capacity).
    pub overflow: f64,
    /// Per workload that misses its deadline: not part of the objective (`cost`), but of what
    /// the search minimises (`score`), larger than any latency or balance gain, so meeting
    /// every deadline that can be met comes first.
    #[serde(skip)]
    pub deadline: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { latency: 1.0, balance: 4.0, unplaced: 10.0, overflow: 10.0, deadline: 1.0 }
    }
}

/// The objective of one placement, part by part:
/// `cost = latency_term + balance_term + weights.unplaced × unplaced + weights.overflow × overflow`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct Objective {
    pub cost: f64,
    /// Weighted: `weights.latency` × dependency-weighted mean latency / `max_ms`.
    pub latency_term: f64,
    /// Weighted: `weights.balance` × CV² of utilisation over the open servers.
    pub balance_term: f64,
    pub unplaced: usize,
    /// Sum over servers and resources of the excess over capacity, as a share of capacity.
    pub overflow: f64,
}

/// The objective of `a` for `p` (what `optimize` minimises, deadlines aside).
pub(crate) fn objective(p: &Problem, a: &Assignment, w: Weights) -> Objective {
    let topo = Topology::new(p);
    let adj = p.adjacency();
    State::new(p, &topo, &adj, w, a).objective()
}

pub(crate) struct State<'a> {
    pub p: &'a Problem,
    pub topo: &'a Topology,
    pub adj: &'a [Vec<(usize, f64)>],
    pub w: Weights,
    pub assign: Assignment,
    pub used: Vec<Resources>,
    util: Vec<f64>,
    /// Σ utilisation and Σ utilisation² over the open servers: a cordoned server takes no new
    /// workloads, so it is no server to balance over (its pods are on their way off).
    s1: f64,
    s2: f64,
    lat: f64,
    w_total: f64,
    over: Vec<f64>,
    over_sum: f64,
    pub unplaced: usize,
    /// Servers the balance is over (those not cordoned).
    n_open: usize,
    /// Workloads on each server, and each workload's position in its server's list.
    pub members: Vec<Vec<usize>>,
    pos: Vec<usize>,
    pub dl: Deadlines,
    /// Per server: a fresh value of `clock` whenever what is on it changes, or a dependency of
    /// something on it moves (the search re-examines only what changed). Never reused, so a
    /// search may put back old stamps with an old placement.
    pub stamp: Vec<u64>,
    clock: u64,
}

impl<'a> State<'a> {
    pub(crate) fn new(
        p: &'a Problem,
        topo: &'a Topology,
        adj: &'a [Vec<(usize, f64)>],
        w: Weights,
        assign: &Assignment,
    ) -> State<'a> {
        let n = p.servers.len();
        let mut st = State {
            p,
            topo,
            adj,
            w,
            assign: vec![None; p.workloads.len()],
            used: vec![Resources::ZERO; n],
            util: vec![0.0; n],
            s1: 0.0,
            s2: 0.0,
            lat: 0.0,
            w_total: p.deps.iter().filter(|d| d.a != d.b).map(|d| d.weight).sum(),
            over: vec![0.0; n],
            over_sum: 0.0,
            unplaced: p.workloads.len(),
            n_open: p.servers.iter().filter(|s| !s.cordoned).count(),
            members: vec![Vec::new(); n],
            pos: vec![0; p.workloads.len()],
            dl: Deadlines::new(p, adj),
            stamp: vec![0; n],
            clock: 0,
        };
        for (j, s) in assign.iter().enumerate() {
            if let Some(s) = *s {
                st.apply(j, Some(s));
            }
        }
        st
    }

    pub(crate) fn latency_term(&self, lat: f64) -> f64 {
        if self.w_total > 0.0 { self.w.latency * lat / self.w_total / self.topo.max_ms } else { 0.0 }
    }

    pub(crate) fn balance_term(&self, s1: f64, s2: f64) -> f64 {
        let n = self.n_open as f64;
        if s1 > 0.0 && n > 0.0 { self.w.balance * (n * s2 / (s1 * s1) - 1.0).max(0.0) } else { 0.0 }
    }

    pub(crate) fn cost(&self) -> f64 {
        self.latency_term(self.lat)
            + self.balance_term(self.s1, self.s2)
            + self.w.unplaced * self.unplaced as f64
            + self.w.overflow * self.over_sum.max(0.0)
    }

    /// The cost plus the deadline penalty: what the search minimises.
    pub(crate) fn score(&self) -> f64 {
        self.cost() + self.w.deadline * self.dl.misses as f64
    }

    pub(crate) fn objective(&self) -> Objective {
        Objective {
            cost: self.cost(),
            latency_term: self.latency_term(self.lat),
            balance_term: self.balance_term(self.s1, self.s2),
            unplaced: self.unplaced,
            overflow: self.over_sum.max(0.0),
        }
    }

    fn overflow_of(&self, used: &Resources, s: usize) -> f64 {
        let c = &self.p.servers[s].capacity;
        let ex = |u: f64, c: f64| if c > 0.0 && u > c { (u - c) / c } else { 0.0 };
        ex(used.cpu_m, c.cpu_m) + ex(used.mem_mib, c.mem_mib) + ex(used.bw_mbps, c.bw_mbps)
    }

    /// Whether `j` may go to `to` (alone, leaving its current server): not cordoned, fits,
    /// and no other member of its spread group there.
    pub(crate) fn can_host(&self, j: usize, to: usize) -> bool {
        let srv = &self.p.servers[to];
        if srv.cordoned || self.assign[j] == Some(to) {
            return false;
        }
        if !fits(&self.used[to].add(&self.p.workloads[j].demand), &srv.capacity) {
            return false;
        }
        self.group_free(j, to, None)
    }

    /// No member of `j`'s group on `s` (ignoring workload `except`).
    pub(crate) fn group_free(&self, j: usize, s: usize, except: Option<usize>) -> bool {
        match self.p.workloads[j].group {
            None => true,
            Some(g) => self.members[s]
                .iter()
                .all(|&k| k == j || Some(k) == except || self.p.workloads[k].group != Some(g)),
        }
    }

    /// Whether `j` and `k` (on different servers, neither cordoned) may trade places.
    pub(crate) fn can_swap(&self, j: usize, k: usize) -> bool {
        let (Some(a), Some(b)) = (self.assign[j], self.assign[k]) else { return false };
        let (sa, sb) = (&self.p.servers[a], &self.p.servers[b]);
        if a == b || sa.cordoned || sb.cordoned {
            return false;
        }
        let (dj, dk) = (&self.p.workloads[j].demand, &self.p.workloads[k].demand);
        fits(&self.used[a].sub(dj).add(dk), &sa.capacity)
            && fits(&self.used[b].sub(dk).add(dj), &sb.capacity)
            && self.group_free(j, b, Some(k))
            && self.group_free(k, a, Some(j))
    }

    /// Cost change (deadlines aside) if `j` moved to `to` (feasibility is the caller's business).
    pub(crate) fn delta_move(&self, j: usize, to: usize) -> f64 {
        let d = &self.p.workloads[j].demand;
        let from = self.assign[j];
        let (mut s1, mut s2, mut over) = (self.s1, self.s2, self.over_sum);
        let mut unplaced = self.unplaced;
        if let Some(a) = from {
            let ua = self.util[a];
            let ua2 = ua - self.p.util_of(d, a);
            if self.balanced(a) {
                s1 += ua2 - ua;
                s2 += ua2 * ua2 - ua * ua;
            }
            over += self.overflow_of(&self.used[a].sub(d), a) - self.over[a];
        } else {
            unplaced -= 1;
        }
        let ub = self.util[to];
        let ub2 = ub + self.p.util_of(d, to);
        if self.balanced(to) {
            s1 += ub2 - ub;
            s2 += ub2 * ub2 - ub * ub;
        }
        over += self.overflow_of(&self.used[to].add(d), to) - self.over[to];
        let mut lat = 0.0;
        for &(k, wt) in &self.adj[j] {
            if let Some(sk) = self.assign[k] {
                if let Some(a) = from {
                    lat -= wt * self.topo.latency(a, sk);
                }
                lat += wt * self.topo.latency(to, sk);
            }
        }
        self.latency_term(self.lat + lat) - self.latency_term(self.lat) + self.balance_term(s1, s2)
            - self.balance_term(self.s1, self.s2)
            + self.w.unplaced * (unplaced as f64 - self.unplaced as f64)
            + self.w.overflow * (over.max(0.0) - self.over_sum.max(0.0))
    }

    /// Cost change (deadlines aside) if placed `j` and `k` traded servers (`can_swap` is the
    /// caller's business).
    pub(crate) fn delta_swap(&self, j: usize, k: usize) -> f64 {
        let (Some(a), Some(b)) = (self.assign[j], self.assign[k]) else { return f64::INFINITY };
        let (dj, dk) = (&self.p.workloads[j].demand, &self.p.workloads[k].demand);
        let (ua, ub) = (self.util[a], self.util[b]);
        let ua2 = ua - self.p.util_of(dj, a) + self.p.util_of(dk, a);
        let ub2 = ub - self.p.util_of(dk, b) + self.p.util_of(dj, b);
        // `can_swap` keeps swaps to open servers, which the balance is over.
        let s1 = self.s1 + (ua2 - ua) + (ub2 - ub);
        let s2 = self.s2 + (ua2 * ua2 - ua * ua) + (ub2 * ub2 - ub * ub);
        let over = self.over_sum + self.overflow_of(&self.used[a].sub(dj).add(dk), a) - self.over[a]
            + self.overflow_of(&self.used[b].sub(dk).add(dj), b)
            - self.over[b];
        let mut lat = 0.0;
        for &(x, wt) in &self.adj[j] {
            if x == k {
                lat += wt * (self.topo.latency(b, a) - self.topo.latency(a, b));
            } else if let Some(sx) = self.assign[x] {
                lat += wt * (self.topo.latency(b, sx) - self.topo.latency(a, sx));
            }
        }
        for &(x, wt) in &self.adj[k] {
            if x != j
                && let Some(sx) = self.assign[x]
            {
                lat += wt * (self.topo.latency(a, sx) - self.topo.latency(b, sx));
            }
        }
        self.latency_term(self.lat + lat) - self.latency_term(self.lat) + self.balance_term(s1, s2)
            - self.balance_term(self.s1, self.s2)
            + self.w.overflow * (over.max(0.0) - self.over_sum.max(0.0))
    }

    /// Cost change (deadlines aside) of several moves at once — a group, a component, two
    /// servers' contents — each workload at most once. `None` when a server that receives
    /// workloads would be cordoned or over capacity, or a spread group would share a server.
    pub(crate) fn delta_moves(&self, moves: &[(usize, usize)]) -> Option<f64> {
        let mut touched: Vec<(usize, Resources)> = Vec::with_capacity(moves.len() + 2);
        let at = |s: usize, touched: &mut Vec<(usize, Resources)>| match touched.iter().position(|t| t.0 == s)
        {
            Some(i) => i,
            None => {
                touched.push((s, self.used[s]));
                touched.len() - 1
            }
        };
        let mut unplaced = self.unplaced;
        for &(j, to) in moves {
            let d = &self.p.workloads[j].demand;
            match self.assign[j] {
                Some(a) => {
                    let i = at(a, &mut touched);
                    touched[i].1 = touched[i].1.sub(d);
                }
                None => unplaced -= 1,
            }
            let i = at(to, &mut touched);
            touched[i].1 = touched[i].1.add(d);
        }
        let moving = |x: usize| moves.iter().position(|m| m.0 == x);
        for &(j, to) in moves {
            if self.p.servers[to].cordoned && self.assign[j] != Some(to) {
                return None;
            }
            if let Some(g) = self.p.workloads[j].group {
                let clash = |x: usize| x != j && self.p.workloads[x].group == Some(g);
                if self.members[to].iter().any(|&x| clash(x) && moving(x).is_none())
                    || moves.iter().any(|&(x, t)| t == to && clash(x))
                {
                    return None;
                }
            }
        }
        let (mut s1, mut s2, mut over) = (self.s1, self.s2, self.over_sum);
        for &(s, used) in &touched {
            // A server that gains load must still fit (one already over may only lose load).
            let grows = used.cpu_m > self.used[s].cpu_m + 1e-9
                || used.mem_mib > self.used[s].mem_mib + 1e-9
                || used.bw_mbps > self.used[s].bw_mbps + 1e-9;
            if grows && !fits(&used, &self.p.servers[s].capacity) {
                return None;
            }
            let (u, u2) = (self.util[s], self.p.util_of(&used, s));
            if self.balanced(s) {
                s1 += u2 - u;
                s2 += u2 * u2 - u * u;
            }
            over += self.overflow_of(&used, s) - self.over[s];
        }
        let mut lat = 0.0;
        for (i, &(j, to)) in moves.iter().enumerate() {
            let from = self.assign[j];
            for &(x, wt) in &self.adj[j] {
                match moving(x) {
                    // An edge between two moving workloads, counted from its first end.
                    Some(ix) if ix < i => {}
                    Some(ix) => {
                        lat += wt * self.topo.latency(to, moves[ix].1);
                        if let (Some(a), Some(b)) = (from, self.assign[x]) {
                            lat -= wt * self.topo.latency(a, b);
                        }
                    }
                    None => {
                        if let Some(sx) = self.assign[x] {
                            lat += wt * self.topo.latency(to, sx);
                            if let Some(a) = from {
                                lat -= wt * self.topo.latency(a, sx);
                            }
                        }
                    }
                }
            }
        }
        Some(
            self.latency_term(self.lat + lat) - self.latency_term(self.lat) + self.balance_term(s1, s2)
                - self.balance_term(self.s1, self.s2)
                + self.w.unplaced * (unplaced as f64 - self.unplaced as f64)
                + self.w.overflow * (over.max(0.0) - self.over_sum.max(0.0)),
        )
    }

    /// Moves `j` to `to` (or unplaces it), keeping every sum current.
    pub(crate) fn apply(&mut self, j: usize, to: Option<usize>) {
        let from = self.assign[j];
        if from == to {
            return;
        }
        let d = self.p.workloads[j].demand;
        // Within one location the latency from anywhere else to `j` stays the same, so what
        // its dependencies' servers can gain by a move changes only if `j` changes location.
        let relocated = match (from, to) {
            (Some(a), Some(b)) => self.topo.location_of(a) != self.topo.location_of(b),
            _ => true,
        };
        for &(k, wt) in &self.adj[j] {
            if let Some(sk) = self.assign[k] {
                if relocated {
                    self.clock += 1;
                    self.stamp[sk] = self.clock;
                }
                if let Some(a) = from {
                    self.lat -= wt * self.topo.latency(a, sk);
                }
                if let Some(b) = to {
                    self.lat += wt * self.topo.latency(b, sk);
                }
            }
        }
        match from {
            Some(a) => {
                let i = self.pos[j];
                self.members[a].swap_remove(i);
                if let Some(&moved) = self.members[a].get(i) {
                    self.pos[moved] = i;
                }
                let used = self.used[a].sub(&d);
                self.set_used(a, used);
                self.clock += 1;
                self.stamp[a] = self.clock;
            }
            None => self.unplaced -= 1,
        }
        match to {
            Some(b) => {
                self.pos[j] = self.members[b].len();
                self.members[b].push(j);
                let used = self.used[b].add(&d);
                self.set_used(b, used);
                self.clock += 1;
                self.stamp[b] = self.clock;
            }
            None => self.unplaced += 1,
        }
        self.assign[j] = to;
        if self.dl.active {
            let mut dl = std::mem::take(&mut self.dl);
            dl.moved(self, j, from, to);
            self.dl = dl;
        }
    }

    fn set_used(&mut self, s: usize, used: Resources) {
        let u = self.p.util_of(&used, s);
        if self.balanced(s) {
            self.s1 += u - self.util[s];
            self.s2 += u * u - self.util[s] * self.util[s];
        }
        self.util[s] = u;
        let o = self.overflow_of(&used, s);
        self.over_sum += o - self.over[s];
        self.over[s] = o;
        self.used[s] = used;
    }

    /// Whether server `s` counts in the balance (it is not cordoned).
    #[inline]
    fn balanced(&self, s: usize) -> bool {
        !self.p.servers[s].cordoned
    }

    /// Utilisation of server `s` (mean of its CPU, memory and bandwidth shares).
    pub(crate) fn util(&self, s: usize) -> f64 {
        self.util[s]
    }

    /// Cost per unit of dependency weight × ms.
    pub(crate) fn latency_scale(&self) -> f64 {
        if self.w_total > 0.0 { self.w.latency / self.w_total / self.topo.max_ms } else { 0.0 }
    }

    /// The raw sums behind the cost: Σ utilisation, Σ utilisation², Σ weight × latency.
    pub(crate) fn sums(&self) -> (f64, f64, f64) {
        (self.s1, self.s2, self.lat)
    }
}
