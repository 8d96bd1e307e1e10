//! The incremental bookkeeping shared by the optimizer and incremental re-placement: loads,
//! per-server utilisation sums for balance, dependency latency and overflow, updated in O(degree)
//! per move so that local search can try hundreds of thousands of moves per second.

use super::problem::{Assignment, Problem, Topology, fits};
use crate::twin::Resources;

/// How much each part of the objective weighs. Latency is the dependency-weighted mean
/// (co-located pairs at the same-server latency) over the largest latency in the topology;
/// balance is the squared coefficient of variation of per-server utilisation (RUB = 1 − CV).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub latency: f64,
    pub balance: f64,
    /// Per unplaced workload: larger than any gain elsewhere, so everything that fits is placed.
    pub unplaced: f64,
    /// Per unit of overflow (sum over servers and resources of excess / capacity).
    pub overflow: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { latency: 1.0, balance: 4.0, unplaced: 10.0, overflow: 10.0 }
    }
}

pub(crate) struct State<'a> {
    pub p: &'a Problem,
    pub topo: &'a Topology,
    pub adj: &'a [Vec<(usize, f64)>],
    pub w: Weights,
    pub assign: Assignment,
    pub used: Vec<Resources>,
    util: Vec<f64>,
    s1: f64,
    s2: f64,
    lat: f64,
    w_total: f64,
    over: Vec<f64>,
    over_sum: f64,
    pub unplaced: usize,
    /// Workloads on each server, and each workload's position in its server's list.
    pub members: Vec<Vec<usize>>,
    pos: Vec<usize>,
}

impl<'a> State<'a> {
    pub fn new(
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
            members: vec![Vec::new(); n],
            pos: vec![0; p.workloads.len()],
        };
        for (j, s) in assign.iter().enumerate() {
            if let Some(s) = *s {
                st.apply(j, Some(s));
            }
        }
        st
    }

    pub fn cost(&self) -> f64 {
        let n = self.p.servers.len() as f64;
        let lat = if self.w_total > 0.0 { self.lat / self.w_total / self.topo.max_ms } else { 0.0 };
        let bal = if self.s1 > 0.0 { (n * self.s2 / (self.s1 * self.s1) - 1.0).max(0.0) } else { 0.0 };
        self.w.latency * lat
            + self.w.balance * bal
            + self.w.unplaced * self.unplaced as f64
            + self.w.overflow * self.over_sum
    }

    fn overflow_of(&self, used: &Resources, s: usize) -> f64 {
        let c = &self.p.servers[s].capacity;
        let ex = |u: f64, c: f64| if c > 0.0 && u > c { (u - c) / c } else { 0.0 };
        ex(used.cpu_m, c.cpu_m) + ex(used.mem_mib, c.mem_mib) + ex(used.bw_mbps, c.bw_mbps)
    }

    /// Whether `j` may go to `to` (alone, leaving its current server): not cordoned, fits,
    /// and no other member of its spread group there.
    pub fn can_host(&self, j: usize, to: usize) -> bool {
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
    pub fn group_free(&self, j: usize, s: usize, except: Option<usize>) -> bool {
        match self.p.workloads[j].group {
            None => true,
            Some(g) => self.members[s]
                .iter()
                .all(|&k| k == j || Some(k) == except || self.p.workloads[k].group != Some(g)),
        }
    }

    /// Cost change if `j` moved to `to` (feasibility is the caller's business).
    pub fn delta_move(&self, j: usize, to: usize) -> f64 {
        let n = self.p.servers.len() as f64;
        let d = &self.p.workloads[j].demand;
        let from = self.assign[j];
        let (mut s1, mut s2, mut over) = (self.s1, self.s2, self.over_sum);
        let mut lat = self.lat;
        let mut unplaced = self.unplaced;
        if let Some(a) = from {
            let ua = self.util[a];
            let ua2 = ua - self.p.util_of(d, a);
            s1 += ua2 - ua;
            s2 += ua2 * ua2 - ua * ua;
            over += self.overflow_of(&self.used[a].sub(d), a) - self.over[a];
        } else {
            unplaced -= 1;
        }
        let ub = self.util[to];
        let ub2 = ub + self.p.util_of(d, to);
        s1 += ub2 - ub;
        s2 += ub2 * ub2 - ub * ub;
        over += self.overflow_of(&self.used[to].add(d), to) - self.over[to];
        for &(k, wt) in &self.adj[j] {
            if let Some(sk) = self.assign[k] {
                if let Some(a) = from {
                    lat -= wt * self.topo.latency(a, sk);
                }
                lat += wt * self.topo.latency(to, sk);
            }
        }
        let latc = if self.w_total > 0.0 { lat / self.w_total / self.topo.max_ms } else { 0.0 };
        let bal = if s1 > 0.0 { (n * s2 / (s1 * s1) - 1.0).max(0.0) } else { 0.0 };
        let new = self.w.latency * latc
            + self.w.balance * bal
            + self.w.unplaced * unplaced as f64
            + self.w.overflow * over.max(0.0);
        new - self.cost()
    }

    /// Moves `j` to `to` (or unplaces it), keeping every sum current.
    pub fn apply(&mut self, j: usize, to: Option<usize>) {
        let from = self.assign[j];
        if from == to {
            return;
        }
        let d = self.p.workloads[j].demand;
        for &(k, wt) in &self.adj[j] {
            if let Some(sk) = self.assign[k] {
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
            }
            None => self.unplaced -= 1,
        }
        match to {
            Some(b) => {
                self.pos[j] = self.members[b].len();
                self.members[b].push(j);
                let used = self.used[b].add(&d);
                self.set_used(b, used);
            }
            None => self.unplaced += 1,
        }
        self.assign[j] = to;
    }

    fn set_used(&mut self, s: usize, used: Resources) {
        let u = self.p.util_of(&used, s);
        self.s1 += u - self.util[s];
        self.s2 += u * u - self.util[s] * self.util[s];
        self.util[s] = u;
        let o = self.overflow_of(&used, s);
        self.over_sum += o - self.over[s];
        self.over[s] = o;
        self.used[s] = used;
    }
}
