//! The placement problem in compact form (DIRA-LDT's model): servers with capacities and a
//! place in the topology, workloads with demands, weighted dependencies, deadlines and spread
//! groups. Every method in `plan` reads this and returns an `Assignment`.

use crate::twin::{LatencyModel, Location, Resources};

/// Workload index → server index (`None`: not placed).
pub(crate) type Assignment = Vec<Option<usize>>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlanServer {
    pub name: String,
    pub capacity: Resources,
    pub location: Location,
    /// Cordoned (unschedulable) servers take no new workloads.
    pub cordoned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlanWorkload {
    pub name: String,
    /// What the workload declares and uses: capacities are checked against this.
    pub demand: Resources,
    /// What a statistical model predicts it will use (SM ranks and checks by this).
    pub forecast: Resources,
    /// Processing time on an idle reference server, in ms (the queueing model's service time).
    pub work_ms: f64,
    pub deadline_ms: Option<f64>,
    /// Anti-affinity / spread group: no two members on one server.
    pub group: Option<u32>,
}

/// `a` and `b` exchange traffic; `weight` is d_jk (requests per second, or any relative weight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dependency {
    pub a: usize,
    pub b: usize,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub servers: Vec<PlanServer>,
    pub workloads: Vec<PlanWorkload>,
    pub deps: Vec<Dependency>,
    pub latency: LatencyModel,
    /// Sequential round trips a workload makes to each dependency during its run (the queueing
    /// model's communication time).
    pub calls_per_dependency: f64,
}

impl Problem {
    /// The mean utilisation a workload adds to a server (mean of its CPU, memory and bandwidth
    /// shares; a dimension of zero capacity is not modelled and counts 0, as in `twin::kpi`).
    pub(crate) fn util_of(&self, demand: &Resources, server: usize) -> f64 {
        let c = &self.servers[server].capacity;
        (ratio(demand.cpu_m, c.cpu_m) + ratio(demand.mem_mib, c.mem_mib) + ratio(demand.bw_mbps, c.bw_mbps))
            / 3.0
    }

    /// Per-server sum of the demands placed on it.
    pub(crate) fn loads(&self, assign: &Assignment) -> Vec<Resources> {
        self.loads_by(assign, |w| w.demand)
    }

    pub(crate) fn loads_by(
        &self,
        assign: &Assignment,
        f: impl Fn(&PlanWorkload) -> Resources,
    ) -> Vec<Resources> {
        let mut used = vec![Resources::ZERO; self.servers.len()];
        for (w, s) in assign.iter().enumerate() {
            if let Some(s) = *s {
                used[s] = used[s].add(&f(&self.workloads[w]));
            }
        }
        used
    }

    /// Dependencies as an adjacency list: per workload, (other end, weight).
    pub(crate) fn adjacency(&self) -> Vec<Vec<(usize, f64)>> {
        let mut adj = vec![Vec::new(); self.workloads.len()];
        for d in &self.deps {
            if d.a != d.b {
                adj[d.a].push((d.b, d.weight));
                adj[d.b].push((d.a, d.weight));
            }
        }
        adj
    }
}

/// Expected latency between servers, precomputed per distinct location so that the
/// optimizers look it up in O(1).
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    loc_of: Vec<u32>,
    n_locs: usize,
    between: Vec<f64>,
    same_server: f64,
    /// Servers per distinct location (for "a server in the same rack" moves).
    pub members: Vec<Vec<usize>>,
    /// The largest latency in the table (normalises latency against balance).
    pub max_ms: f64,
}

impl Topology {
    pub(crate) fn new(p: &Problem) -> Topology {
        let mut locs: Vec<&Location> = Vec::new();
        let mut loc_of = Vec::with_capacity(p.servers.len());
        let mut index = std::collections::HashMap::new();
        for s in &p.servers {
            let id = *index.entry(&s.location).or_insert_with(|| {
                locs.push(&s.location);
                locs.len() - 1
            });
            loc_of.push(id as u32);
        }
        let n = locs.len();
        let mut between = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..n {
                between[a * n + b] = p.latency.mean_between(locs[a], locs[b], false);
            }
        }
        let mut members = vec![Vec::new(); n];
        for (s, &l) in loc_of.iter().enumerate() {
            members[l as usize].push(s);
        }
        let same_server = p.latency.same_server.mean();
        let max_ms = between.iter().copied().fold(same_server, f64::max).max(1e-9);
        Topology { loc_of, n_locs: n, between, same_server, members, max_ms }
    }

    #[inline]
    pub(crate) fn latency(&self, a: usize, b: usize) -> f64 {
        if a == b {
            return self.same_server;
        }
        self.between[self.loc_of[a] as usize * self.n_locs + self.loc_of[b] as usize]
    }

    pub(crate) fn location_of(&self, s: usize) -> usize {
        self.loc_of[s] as usize
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Whether `used` stays within `cap` (zero bandwidth capacity: not modelled).
pub(crate) fn fits(used: &Resources, cap: &Resources) -> bool {
    used.fits_in(cap)
}
