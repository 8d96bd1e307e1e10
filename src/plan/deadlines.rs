//! Which workloads miss their deadline, kept current move by move under the completion model
//! of `metrics` (finish = work / (1 − CPU utilisation of the server) + calls × 2 × latency to
//! each dependency; unplaced, on an over-capacity server, or with a dependency unplaced:
//! missed). A move changes the finish time of the workloads on the two servers it touches
//! and of the moved workload's dependencies, so only those are looked at again.

use super::problem::{Problem, fits, ratio};
use super::state::State;

#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    /// Some workload has a deadline (otherwise nothing is tracked).
    pub active: bool,
    calls2: f64,
    /// Per placed workload: sum over its placed dependencies of the latency to them, in ms.
    dep_lat: Vec<f64>,
    /// Per workload: dependencies not placed.
    dep_missing: Vec<u32>,
    missed: Vec<bool>,
    pub misses: usize,
}

impl Deadlines {
    pub(crate) fn new(p: &Problem, adj: &[Vec<(usize, f64)>]) -> Deadlines {
        let active = p.workloads.iter().any(|w| w.deadline_ms.is_some());
        if !active {
            return Deadlines::default();
        }
        let missed: Vec<bool> = p.workloads.iter().map(|w| w.deadline_ms.is_some()).collect();
        Deadlines {
            active,
            calls2: 2.0 * p.calls_per_dependency,
            dep_lat: vec![0.0; p.workloads.len()],
            dep_missing: adj.iter().map(|a| a.len() as u32).collect(),
            misses: missed.iter().filter(|m| **m).count(),
            missed,
        }
    }

    pub(crate) fn is_missed(&self, j: usize) -> bool {
        self.active && self.missed[j]
    }

    /// Called by `State::apply` after `j` went from `from` to `to` (the state is current).
    pub(crate) fn moved(&mut self, st: &State, j: usize, from: Option<usize>, to: Option<usize>) {
        let topo = st.topo;
        for &(k, _) in &st.adj[j] {
            if let Some(sk) = st.assign[k]
                && k != j
            {
                if let Some(a) = from {
                    self.dep_lat[k] -= topo.latency(sk, a);
                }
                if let Some(b) = to {
                    self.dep_lat[k] += topo.latency(sk, b);
                }
            }
            match (from, to) {
                (None, Some(_)) => self.dep_missing[k] -= 1,
                (Some(_), None) => self.dep_missing[k] += 1,
                _ => {}
            }
        }
        if let Some(b) = to {
            self.dep_lat[j] =
                st.adj[j].iter().filter_map(|&(x, _)| Some(topo.latency(b, st.assign[x]?))).sum();
        }
        if let Some(a) = from {
            for &k in &st.members[a] {
                self.refresh(st, k);
            }
        }
        match to {
            Some(b) => {
                for &k in &st.members[b] {
                    self.refresh(st, k);
                }
            }
            None => self.refresh(st, j),
        }
        for &(k, _) in &st.adj[j] {
            self.refresh(st, k);
        }
    }

    fn refresh(&mut self, st: &State, k: usize) {
        let now = self.misses_deadline(st, k);
        if now != self.missed[k] {
            self.missed[k] = now;
            if now {
                self.misses += 1;
            } else {
                self.misses -= 1;
            }
        }
    }

    fn misses_deadline(&self, st: &State, k: usize) -> bool {
        let w = &st.p.workloads[k];
        let Some(deadline) = w.deadline_ms else { return false };
        let Some(s) = st.assign[k] else { return true };
        let cap = &st.p.servers[s].capacity;
        if self.dep_missing[k] > 0 || !fits(&st.used[s], cap) {
            return true;
        }
        let rho = ratio(st.used[s].cpu_m, cap.cpu_m);
        if rho >= 1.0 {
            return true;
        }
        w.work_ms / (1.0 - rho) + self.calls2 * self.dep_lat[k] > deadline
    }
}
