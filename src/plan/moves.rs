//! The moves of one workload, for servers that hold too many workloads for the two-server
//! split, and across three servers: relocation; a swap with a workload elsewhere (keeps both
//! servers' capacity); a pull — onto a dependency's server, one workload of that server pushed
//! elsewhere to make room; its co-located dependency group moved as one; its whole dependency
//! component onto one server; its server's contents traded with a server in a dependency's
//! rack; and the repair of a missed deadline.

use super::search::{EPS, FULL_SCAN_SERVERS, Moves, SAMPLE_SERVERS, Search};
use rand::RngExt;

/// Above this many workloads a swap looks at the workloads of a sample of servers.
const FULL_SCAN_SWAPS: usize = 600;
/// Components larger than this are not moved as one (a twin's Deployments can be large).
const MAX_COMPONENT: usize = 12;

impl Search<'_, '_> {
    /// Servers worth trying for `j`: all of them, or on a large problem a sample plus the
    /// racks of its dependencies.
    pub(super) fn candidates(&mut self, j: usize) {
        let n = self.st.p.servers.len();
        self.cands.clear();
        if n <= FULL_SCAN_SERVERS {
            self.cands.extend(0..n);
            return;
        }
        for _ in 0..SAMPLE_SERVERS {
            self.cands.push(self.rng.random_range(0..n));
        }
        for &(k, _) in &self.st.adj[j] {
            if let Some(sk) = self.st.assign[k] {
                let rack = &self.st.topo.members[self.st.topo.location_of(sk)];
                if rack.len() <= SAMPLE_SERVERS {
                    self.cands.extend_from_slice(rack);
                } else {
                    self.cands.push(sk);
                }
            }
        }
    }

    /// The best relocation of `j`, committed if it improves.
    pub(crate) fn try_relocate(&mut self, j: usize) -> bool {
        self.candidates(j);
        self.evals += self.cands.len();
        let mut best: Vec<(f64, Moves)> = Vec::new();
        for &s in &self.cands {
            if self.st.can_host(j, s) {
                let d = self.st.delta_move(j, s);
                if d < -EPS {
                    best.push((d, vec![(j, Some(s))]));
                }
            }
        }
        self.commit_best(best)
    }

    /// The best swap of `j` with a workload on another server, committed if it improves.
    pub(crate) fn try_swap(&mut self, j: usize) -> bool {
        let Some(a) = self.st.assign[j] else { return false };
        let m = self.st.p.workloads.len();
        let mut best: Vec<(f64, Moves)> = Vec::new();
        if m <= FULL_SCAN_SWAPS {
            self.evals += m;
            for k in 0..m {
                if self.movable[k] && self.st.assign[k] != Some(a) && self.st.can_swap(j, k) {
                    let d = self.st.delta_swap(j, k);
                    if d < -EPS {
                        best.push((d, vec![(j, self.st.assign[k]), (k, Some(a))]));
                    }
                }
            }
        } else {
            self.candidates(j);
            for i in 0..self.cands.len() {
                let s = self.cands[i];
                self.evals += self.st.members[s].len();
                for &k in &self.st.members[s] {
                    if self.movable[k] && s != a && self.st.can_swap(j, k) {
                        let d = self.st.delta_swap(j, k);
                        if d < -EPS {
                            best.push((d, vec![(j, Some(s)), (k, Some(a))]));
                        }
                    }
                }
            }
        }
        self.commit_best(best)
    }

    /// Onto a dependency's server, pushing one of its workloads elsewhere to make room (or
    /// for balance).
    pub(crate) fn try_pull(&mut self, j: usize) -> bool {
        let Some(a) = self.st.assign[j] else { return false };
        let mut targets: Vec<usize> =
            self.st.adj[j].iter().filter_map(|&(k, _)| self.st.assign[k]).filter(|&b| b != a).collect();
        targets.sort_unstable();
        targets.dedup();
        let mut best: Vec<(f64, Moves)> = Vec::new();
        for b in targets {
            if self.st.p.servers[b].cordoned {
                continue;
            }
            for i in 0..self.st.members[b].len() {
                let x = self.st.members[b][i];
                if !self.movable[x] || self.st.adj[j].iter().any(|&(k, _)| k == x) {
                    continue;
                }
                self.candidates(x);
                self.evals += self.cands.len();
                for ci in 0..self.cands.len() {
                    let t = self.cands[ci];
                    if t == b {
                        continue;
                    }
                    if let Some(d) = self.st.delta_moves(&[(j, b), (x, t)])
                        && d < -EPS
                    {
                        best.push((d, vec![(j, Some(b)), (x, Some(t))]));
                    }
                }
            }
        }
        self.commit_best(best)
    }

    /// The dependency group co-located with `j` (it and every workload connected to it through
    /// dependencies on the same server), moved as one to the best other server.
    pub(crate) fn try_group(&mut self, j: usize) -> bool {
        let Some(a) = self.st.assign[j] else { return false };
        if self.st.adj[j].is_empty() {
            return false;
        }
        let mut group = vec![j];
        let mut i = 0;
        while i < group.len() && group.len() <= MAX_COMPONENT {
            for &(k, _) in &self.st.adj[group[i]] {
                if self.st.assign[k] == Some(a) && !group.contains(&k) {
                    group.push(k);
                }
            }
            i += 1;
        }
        if group.len() < 2 || group.len() > MAX_COMPONENT || group.iter().any(|&k| !self.movable[k]) {
            return false;
        }
        self.move_together(&group)
    }

    /// `j`'s whole dependency component onto one server.
    pub(crate) fn try_component(&mut self, j: usize) -> bool {
        let c = self.comp_of[j];
        let members = &self.comps[c];
        if members.len() < 2 || members.len() > MAX_COMPONENT || members.iter().any(|&k| !self.movable[k]) {
            return false;
        }
        let first = self.st.assign[members[0]];
        if first.is_some() && members.iter().all(|&k| self.st.assign[k] == first) {
            return false; // already together: `try_group` moves it
        }
        let group = members.clone();
        self.move_together(&group)
    }

    /// The best server for all of `group` at once, committed if it improves.
    fn move_together(&mut self, group: &[usize]) -> bool {
        self.candidates(group[0]);
        self.evals += self.cands.len();
        let mut best: Vec<(f64, Moves)> = Vec::new();
        let mut moves: Vec<(usize, usize)> = Vec::with_capacity(group.len());
        for ci in 0..self.cands.len() {
            let s = self.cands[ci];
            moves.clear();
            moves.extend(group.iter().filter(|&&k| self.st.assign[k] != Some(s)).map(|&k| (k, s)));
            if moves.is_empty() {
                continue;
            }
            if let Some(d) = self.st.delta_moves(&moves)
                && d < -EPS
            {
                best.push((d, moves.iter().map(|&(k, s)| (k, Some(s))).collect()));
            }
        }
        self.commit_best(best)
    }

    /// Everything on `j`'s server traded with everything on a server in the rack of one of its
    /// dependencies: on alike servers balance stays as it is and only latency changes.
    pub(crate) fn try_server_swap(&mut self, j: usize) -> bool {
        let Some(a) = self.st.assign[j] else { return false };
        let topo = self.st.topo;
        let mut racks: Vec<usize> = self.st.adj[j]
            .iter()
            .filter_map(|&(k, _)| self.st.assign[k])
            .map(|s| topo.location_of(s))
            .filter(|&l| l != topo.location_of(a))
            .collect();
        racks.sort_unstable();
        racks.dedup();
        if racks.is_empty() || self.st.members[a].iter().any(|&k| !self.movable[k]) {
            return false;
        }
        let mut best: Vec<(f64, Moves)> = Vec::new();
        let mut moves: Vec<(usize, usize)> = Vec::new();
        for l in racks {
            let rack = &topo.members[l];
            if rack.len() > SAMPLE_SERVERS {
                continue;
            }
            self.evals += rack.len();
            for &b in rack {
                if self.st.members[b].iter().any(|&k| !self.movable[k]) {
                    continue;
                }
                moves.clear();
                moves.extend(self.st.members[a].iter().map(|&k| (k, b)));
                moves.extend(self.st.members[b].iter().map(|&k| (k, a)));
                if let Some(d) = self.st.delta_moves(&moves)
                    && d < -EPS
                {
                    best.push((d, moves.iter().map(|&(k, s)| (k, Some(s))).collect()));
                }
            }
        }
        self.commit_best(best)
    }

    /// Tries the improving candidates best first (at most three: a candidate that improves
    /// the cost fails the score only by missing a deadline).
    fn commit_best(&mut self, mut best: Vec<(f64, Moves)>) -> bool {
        best.sort_by(|p, q| p.0.total_cmp(&q.0));
        for (_, moves) in best.iter().take(3) {
            if self.commit(moves) {
                return true;
            }
        }
        false
    }

    /// A workload that misses its deadline: the move of it, of a workload sharing its server
    /// (CPU contention) or of a dependency (distance) that improves the score most.
    pub(crate) fn repair(&mut self, j: usize) {
        let Some(a) = self.st.assign[j] else { return };
        let mut who: Vec<usize> = vec![j];
        who.extend(self.st.members[a].iter().copied().filter(|&k| k != j));
        who.extend(self.st.adj[j].iter().map(|&(k, _)| k));
        who.retain(|&k| self.movable[k]);
        who.dedup();
        let before = self.st.score();
        let mut best: Option<(f64, usize, usize)> = None;
        for k in who {
            let Some(home) = self.st.assign[k] else { continue };
            self.candidates(k);
            let cands = std::mem::take(&mut self.cands);
            for &s in &cands {
                if !self.st.can_host(k, s) {
                    continue;
                }
                self.st.apply(k, Some(s));
                let d = self.st.score() - before;
                self.st.apply(k, Some(home));
                self.evals += 2;
                if d < -EPS && best.is_none_or(|b| d < b.0) {
                    best = Some((d, k, s));
                }
            }
            self.cands = cands;
        }
        if let Some((_, k, s)) = best {
            self.commit(&[(k, Some(s))]);
        }
    }
}
